//! execve (mirrors fs/exec.c: do_execve -> search_binary_handler, the
//! point of no return in flush_old_exec/setup_new_exec, and binfmt_script's
//! `#!` handling).
//!
//! The new program is loaded completely into a fresh address space first;
//! only then does the task drop its old one (a failed exec leaves the
//! caller untouched, as in Linux). Then: the new mm is loaded, comm becomes
//! the file's base name, close-on-exec descriptors close, the registers are
//! set to the entry point and stack (start_thread) and sched_process_exec
//! fires.

use super::binfmt_elf::load_elf_binary;
use super::inode::Inode;
use crate::kernel::errno::{KResult, EACCES, ELOOP, ENOEXEC};
use crate::kernel::task::{current, PF_FORKNOEXEC, PF_KTHREAD};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::*;

/// Interpreter nesting for `#!` (BINPRM_MAX_RECURSION).
const MAX_RECURSION: usize = 4;

fn read_whole(path: &str) -> KResult<(Arc<Inode>, Vec<u8>)> {
    let inode = super::namei::kern_path(path, true)?;
    if !inode.is_reg() || inode.mode() & 0o111 == 0 {
        return Err(EACCES);
    }
    let mut buf = alloc::vec![0u8; inode.size() as usize];
    let mut done = 0;
    while done < buf.len() {
        let n = inode.read_at(done as u64, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buf.truncate(done);
    Ok((inode, buf))
}

/// `do_execve`. On success the current task runs the new program when it
/// next returns to user mode.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn do_execve(path: &str, argv: Vec<Vec<u8>>, envp: Vec<Vec<u8>>) -> KResult<()> {
    let mut path = String::from(path);
    let mut argv = argv;
    for _ in 0..MAX_RECURSION {
        let (inode, image) = read_whole(&path)?;
        if image.starts_with(b"#!") {
            // binfmt_script: "#!interp [one arg]" replaces argv[0] with
            // interp [arg] path.
            let line_end = image.iter().position(|&c| c == b'\n').unwrap_or(image.len()).min(256);
            let line = core::str::from_utf8(&image[2..line_end]).map_err(|_| ENOEXEC)?.trim();
            let (interp, arg) = match line.split_once(|c: char| c == ' ' || c == '\t') {
                Some((i, a)) => (i, Some(a.trim())),
                None => (line, None),
            };
            if interp.is_empty() {
                return Err(ENOEXEC);
            }
            let mut new_argv = alloc::vec![Vec::from(interp.as_bytes())];
            if let Some(a) = arg.filter(|a| !a.is_empty()) {
                new_argv.push(Vec::from(a.as_bytes()));
            }
            new_argv.push(Vec::from(path.as_bytes()));
            new_argv.extend(argv.into_iter().skip(1));
            argv = new_argv;
            path = String::from(interp);
            continue;
        }
        let av: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        let ev: Vec<&[u8]> = envp.iter().map(|e| e.as_slice()).collect();
        let loaded = load_elf_binary(&image, &inode, path.as_bytes(), &av, &ev)?;
        drop(image);
        let old_pid = current().pid(); // before de_thread may change it
        de_thread()?;
        setup_new_exec(&path, loaded, old_pid);
        return Ok(());
    }
    Err(ELOOP)
}

/// `de_thread`: the new program runs alone. Every other thread of the
/// process is killed and released first; a leader that is not us is left
/// a zombie, whose place we then take (below). Fails only if the group is
/// already exiting or we are killed while waiting, as Linux.
fn de_thread() -> KResult<()> {
    use crate::kernel::sched::wait::wait_event;
    let cur = current();
    let sig = cur.signal.clone();
    if sig.nr_threads() <= 1 {
        return Ok(());
    }
    if sig.group_exiting() {
        return Err(crate::kernel::errno::EAGAIN);
    }
    sig.group_exec.store(true, SeqCst);
    crate::kernel::exit::zap_other_threads(&cur);
    let others_gone = || {
        sig.thread_list().iter().all(|t| Arc::ptr_eq(t, &cur) || (t.thread_group_leader() && t.exit_state.load(Acquire) != 0))
    };
    wait_event(&sig.thread_exit_wait, crate::kernel::task::TASK_KILLABLE, || {
        others_gone() || crate::kernel::signal::fatal_signal_pending(&cur)
    });
    sig.group_exec.store(false, SeqCst);
    if !others_gone() {
        return Err(crate::kernel::errno::EINTR);
    }
    if !cur.thread_group_leader() {
        take_leader_place(&cur);
    }
    Ok(())
}

/// de_thread's second half, for a thread that is not the leader: it takes
/// the (zombie) leader's pid (exchange_tids), becomes the leader, takes
/// its place in the parent's children list with its exit signal, and the
/// old leader, now holding our old tid, is released. The process keeps
/// its pid: the parent waits for it, kill() and tgkill() find this thread.
fn take_leader_place(cur: &Arc<crate::kernel::task::TaskStruct>) {
    use crate::kernel::task::{EXIT_DEAD, EXIT_ZOMBIE};
    let Some(leader) = cur.group_leader() else { return };
    // Under the parent's children lock (Linux: tasklist_lock), so a
    // concurrent wait sees the zombie leader under its pid or us in its
    // place, never the leader already renamed but still in the list.
    let parent = cur.real_parent.lock_irqsave().upgrade();
    match parent {
        Some(parent) => {
            let mut children = parent.children.lock_irqsave();
            crate::kernel::pid::exchange_tids(cur, &leader);
            if let Some(slot) = children.iter_mut().find(|c| Arc::ptr_eq(c, &leader)) {
                *slot = cur.clone();
            }
        }
        None => crate::kernel::pid::exchange_tids(cur, &leader),
    }
    *cur.group_leader.lock_irqsave() = Arc::downgrade(cur);
    *leader.group_leader.lock_irqsave() = Arc::downgrade(cur);
    if leader.exit_state.compare_exchange(EXIT_ZOMBIE, EXIT_DEAD, AcqRel, Relaxed).is_ok() {
        crate::kernel::exit::release_task(&leader);
    }
}

/// The point of no return.
fn setup_new_exec(path: &str, loaded: super::binfmt_elf::LoadedElf, old_pid: i32) {
    let cur = current();
    if let Some(old_mm) = cur.mm.lock_irqsave().clone() {
        crate::kernel::exit::mm_release(&cur, &old_mm);
    }
    crate::arch::process::activate_mm(loaded.mm.clone());
    let old = cur.mm.lock_irqsave().replace(loaded.mm);
    drop(old);
    // The vfork parent may run again: we no longer use its memory
    // (mm_release did it if we had an mm; a kernel thread has no parent
    // waiting).
    crate::kernel::exit::complete_vfork_done(&cur);
    cur.flags.fetch_and(!(PF_KTHREAD | PF_FORKNOEXEC), SeqCst);
    crate::kernel::signal::flush_signal_handlers(&cur);
    // unshare_files: a table shared with another process (CLONE_FILES)
    // is copied first, so closing on exec does not touch theirs.
    let files = cur.files.lock_irqsave().clone();
    if let Some(files) = files {
        let files = if Arc::strong_count(&files) > 1 { Arc::new(files.dup_fd()) } else { files };
        files.close_on_exec();
        *cur.files.lock_irqsave() = Some(files);
    }
    let base = path.rsplit('/').next().unwrap_or(path);
    cur.set_comm(base);
    crate::arch::process::start_thread(loaded.entry, loaded.sp);
    crate::kernel::trace::trace_sched_process_exec(path, cur.pid(), old_pid);
}
