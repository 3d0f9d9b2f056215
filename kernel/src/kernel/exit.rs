//! Task exit (mirrors kernel/exit.c): `do_exit -> exit_notify -> do_task_dead`,
//! `do_group_exit` with zap_other_threads, and the wait family
//! (`sys_wait4`/`sys_waitid -> do_wait -> wait_task_zombie -> release_task`).
//!
//! A thread's exit: mark PF_EXITING, record the exit code, drop the mm
//! (clearing clear_child_tid and waking its futex), the files, fire
//! sched_process_exit, hand our children to another thread of the group or
//! to the reaper (the nearest PR_SET_CHILD_SUBREAPER ancestor, else init),
//! then become a zombie for the parent to reap, or be released at once: a
//! non-leader thread always (it has no exit signal), a process whose parent
//! ignores SIGCHLD too (autoreap). A group leader stays an unreported
//! zombie until its last thread is released (delay_group_leader). The last
//! `__schedule()` switches away for good; the next task frees the stack and
//! task_struct in finish_task_switch once nothing refers to them.
//!
//! Left out: stopped and continued children (WSTOPPED/WCONTINUED report
//! nothing: job control is not implemented), ptrace, core dumps
//! (CLD_DUMPED is never reported: RLIMIT_CORE is 0), pidfd waits.

use crate::arch::percpu::in_interrupt;
use crate::kernel::panic::panic;
use crate::kernel::pid::{detach_pid, find_task_by_vpid};
use crate::kernel::sched::{schedule, tp};
use crate::kernel::task::*;
use crate::kernel::errno::KResult;
use alloc::sync::Arc;
use core::sync::atomic::Ordering::*;

/// `do_exit`.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn do_exit(code: i32) -> ! {
    let tsk = current();
    if in_interrupt() {
        panic(format_args!("Aiee, killing interrupt handler!"));
    }
    if tsk.pid() == 0 {
        panic(format_args!("Attempted to kill the idle task!"));
    }
    if tsk.flags() & PF_EXITING != 0 {
        pr_alert!("Fixing recursive fault but reboot is needed!");
        do_task_dead();
    }
    tsk.flags.fetch_or(PF_EXITING, SeqCst);
    let group_dead = tsk.signal.live.fetch_sub(1, SeqCst) == 1;
    if group_dead && tsk.tgid == 1 {
        let gcode = tsk.signal.group_exit_code.load(SeqCst);
        panic(format_args!("Attempted to kill init! exitcode=0x{:08x}", if gcode != 0 { gcode } else { code }));
    }
    tsk.exit_code.store(code, Relaxed);
    exit_mm(&tsk);
    drop(tsk.files.lock_irqsave().take()); // exit_files
    tp::trace_sched_process_exit(&tsk.comm(), tsk.pid(), tsk.prio());
    crate::kernel::kthread::kthread_exit_notify(&tsk, code);
    exit_notify(&tsk);
    drop(tsk);
    do_task_dead()
}

/// `mm_release`'s vfork part: wake a vfork parent (at exec and at exit).
pub fn complete_vfork_done(tsk: &TaskStruct) {
    if let Some(done) = tsk.vfork_done.lock_irqsave().take() {
        done.complete();
    }
}

/// `mm_release` (kernel/fork.c), at exit and at exec, while `mm` is still
/// loaded: the robust futexes the thread held are marked dead, the
/// CLONE_CHILD_CLEARTID word is zeroed and its futex woken (pthread_join
/// sleeps on it), and a vfork parent may run again.
pub fn mm_release(tsk: &Arc<TaskStruct>, mm: &Arc<crate::mm::mmap::MmStruct>) {
    crate::kernel::futex::exit_robust_list(tsk, mm);
    let tid_addr = tsk.clear_child_tid.swap(0, Relaxed);
    if tid_addr != 0 {
        // A failed write is ignored, as Linux does.
        if crate::arch::uaccess::put_user_u32(tid_addr, 0).is_ok() {
            let _ = crate::kernel::futex::futex_wake_addr(mm, tid_addr, 1);
        }
    }
    complete_vfork_done(tsk);
}

/// `exit_mm`: drop the address space after mm_release.
#[inline(never)] // on the path the notes trace: keep the symbol
fn exit_mm(tsk: &Arc<TaskStruct>) {
    let Some(mm) = tsk.mm.lock_irqsave().clone() else {
        complete_vfork_done(tsk);
        return;
    };
    mm_release(tsk, &mm);
    let mm = tsk.mm.lock_irqsave().take();
    // Stop using it before the last reference can free its page tables.
    crate::arch::process::activate_init_mm();
    drop(mm);
}

/// `sys_exit`: this thread exits with status `code` (low 8 bits).
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_exit(code: i32) -> KResult<u64> {
    do_exit((code & 0xff) << 8)
}

/// `sys_exit_group` -> `do_group_exit`: every thread of the process exits.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_exit_group(code: i32) -> KResult<u64> {
    do_group_exit((code & 0xff) << 8)
}

/// `do_group_exit`: the first thread to get here sets the group's exit
/// code and kills the others; later ones (and they) exit with that code.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn do_group_exit(exit_code: i32) -> ! {
    let cur = current();
    let sig = &cur.signal;
    let code = if sig.group_exiting() {
        sig.group_exit_code.load(SeqCst)
    } else if sig.group_exec.load(SeqCst) {
        exit_code // killed by de_thread: only this thread goes
    } else {
        sig.group_exit_code.store(exit_code, SeqCst);
        sig.flags.fetch_or(crate::kernel::signal_struct::SIGNAL_GROUP_EXIT, SeqCst);
        zap_other_threads(&cur);
        exit_code
    };
    drop(cur);
    do_exit(code)
}

/// `zap_other_threads`: SIGKILL to every other thread of the group.
pub fn zap_other_threads(cur: &Arc<TaskStruct>) -> usize {
    let mut n = 0;
    for t in cur.signal.thread_list() {
        if !Arc::ptr_eq(&t, cur) && t.exit_state.load(Acquire) == 0 {
            crate::kernel::signal::sigkill_thread(&t);
            n += 1;
        }
    }
    n
}

/// What wait reports for `p`: the group's exit code once the group exited
/// together, else the thread's own (wait_task_zombie's `status`).
pub fn task_exit_status(p: &TaskStruct) -> i32 {
    if p.signal.group_exiting() {
        p.signal.group_exit_code.load(SeqCst)
    } else {
        p.exit_code.load(Relaxed)
    }
}

/// `delay_group_leader`: a leader whose other threads live on is not
/// reapable yet.
fn delay_group_leader(p: &TaskStruct) -> bool {
    p.thread_group_leader() && p.signal.nr_threads() > 1
}

pub const WNOHANG: u64 = 0x1;
pub const WUNTRACED: u64 = 0x2;
pub const WSTOPPED: u64 = 0x2;
pub const WEXITED: u64 = 0x4;
pub const WCONTINUED: u64 = 0x8;
pub const WNOWAIT: u64 = 0x0100_0000;
pub const __WNOTHREAD: u64 = 0x2000_0000;
pub const __WALL: u64 = 0x4000_0000;
pub const __WCLONE: u64 = 0x8000_0000;

/// Which children a wait is for (`enum pid_type` with its id).
#[derive(Clone, Copy, PartialEq, Eq)]
enum WaitType {
    All,
    Pid(i32),
    Pgid(i32),
}

/// `struct wait_opts`.
struct WaitOpts {
    ty: WaitType,
    flags: u64,
    /// wait4's status word, waitid's siginfo and either's rusage (0: none).
    stat_addr: u64,
    infop: u64,
    rusage: u64,
}

/// `sys_wait4` -> `kernel_wait4` -> `do_wait`: reap a zombie child.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_wait4(upid: i64, stat_addr: u64, options: u64, rusage: u64) -> KResult<u64> {
    use crate::kernel::errno::{EINVAL, ESRCH};
    let options = options as u32 as u64; // an int: __WCLONE is its sign bit
    let upid = upid as i32 as i64;
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL) != 0 {
        return Err(EINVAL);
    }
    // INT_MIN has no process group to name.
    if upid == i32::MIN as i64 {
        return Err(ESRCH);
    }
    let me = current();
    let ty = match upid {
        -1 => WaitType::All,
        0 => WaitType::Pgid(me.signal.pgrp.load(Relaxed)),
        p if p < 0 => WaitType::Pgid(-p as i32),
        p => WaitType::Pid(p as i32),
    };
    tp::trace_sched_process_wait(&me.comm(), if upid > 0 { upid as i32 } else { 0 }, me.prio());
    drop(me);
    do_wait(&WaitOpts { ty, flags: options | WEXITED, stat_addr, infop: 0, rusage }).map(|pid| pid as u64)
}

pub const P_ALL: u32 = 0;
pub const P_PID: u32 = 1;
pub const P_PGID: u32 = 2;

/// `sys_waitid`: like wait4, but the report is a siginfo and WNOWAIT may
/// leave the child a zombie. 0 on success, also when WNOHANG found none
/// (then si_pid is 0).
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_waitid(which: u32, upid: i32, infop: u64, options: u64, rusage: u64) -> KResult<u64> {
    use crate::kernel::errno::EINVAL;
    let options = options as u32 as u64;
    if options & !(WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL) != 0 {
        return Err(EINVAL);
    }
    if options & (WEXITED | WSTOPPED | WCONTINUED) == 0 {
        return Err(EINVAL);
    }
    let me = current();
    let ty = match which {
        P_ALL => WaitType::All,
        P_PID if upid > 0 => WaitType::Pid(upid),
        P_PGID if upid > 0 => WaitType::Pgid(upid),
        P_PGID if upid == 0 => WaitType::Pgid(me.signal.pgrp.load(Relaxed)),
        _ => return Err(EINVAL),
    };
    tp::trace_sched_process_wait(&me.comm(), if upid > 0 { upid } else { 0 }, me.prio());
    drop(me);
    let pid = do_wait(&WaitOpts { ty, flags: options, stat_addr: 0, infop, rusage })?;
    if pid == 0 && infop != 0 {
        // WNOHANG and nothing to report: a zeroed siginfo (si_signo, si_pid 0).
        crate::arch::uaccess::copy_to_user(infop, &[0u8; 128])?;
    }
    Ok(0)
}

/// `eligible_pid` + `eligible_child`: is `c` one this wait is for?
/// __WCLONE selects children whose exit signal is not SIGCHLD, the
/// default the others; __WALL both.
fn eligible_child(wo: &WaitOpts, c: &TaskStruct) -> bool {
    let pid_ok = match wo.ty {
        WaitType::All => true,
        WaitType::Pid(p) => c.pid() == p,
        WaitType::Pgid(g) => c.signal.pgrp.load(Relaxed) == g,
    };
    if !pid_ok {
        return false;
    }
    let clone_child = c.exit_signal() != crate::kernel::signal::SIGCHLD;
    wo.flags & __WALL != 0 || clone_child == (wo.flags & __WCLONE != 0)
}

/// `do_wait`: scan the children of every thread of our group (only ours
/// with __WNOTHREAD) for a zombie to report; sleep until one may be there.
/// Returns the reaped pid, or 0 for WNOHANG with nothing ready.
#[inline(never)] // on the path the notes trace: keep the symbol
fn do_wait(wo: &WaitOpts) -> KResult<i32> {
    use crate::kernel::errno::{ECHILD, ERESTARTSYS};
    let me = current();
    let waiters = || -> alloc::vec::Vec<Arc<TaskStruct>> {
        if wo.flags & __WNOTHREAD != 0 {
            alloc::vec![me.clone()]
        } else {
            let mut v = me.signal.thread_list();
            if v.is_empty() {
                v.push(me.clone()); // kernel threads' lists are empty
            }
            v
        }
    };
    // Look under the list lock for the first reapable child (without
    // copying the list: a parent of thousands reaps in O(1) each), then
    // reap it without the lock; another waiter may win it, so look again.
    let scan = || -> KResult<Option<i32>> {
        loop {
            let mut any = false;
            let mut found = None;
            for t in waiters() {
                let children = t.children.lock_irqsave();
                for c in children.iter().filter(|c| eligible_child(wo, c)) {
                    any = true;
                    if wo.flags & WEXITED != 0 && c.exit_state.load(Acquire) == EXIT_ZOMBIE && !delay_group_leader(c) {
                        found = Some(c.clone());
                        break;
                    }
                }
                if found.is_some() {
                    break;
                }
            }
            match found {
                Some(c) => {
                    if let Some(pid) = wait_task_zombie(wo, &c)? {
                        return Ok(Some(pid));
                    }
                }
                None => return if any { Ok(None) } else { Err(ECHILD) },
            }
        }
    };
    // Eligible children, and how many of them are reapable zombies.
    let snapshot = || -> (usize, usize) {
        let mut n = 0;
        let mut z = 0;
        for t in waiters() {
            for c in t.children.lock_irqsave().iter().filter(|c| eligible_child(wo, c)) {
                n += 1;
                if c.exit_state.load(Acquire) == EXIT_ZOMBIE && !delay_group_leader(c) {
                    z += 1;
                }
            }
        }
        (n, z)
    };
    loop {
        if let Some(pid) = scan()? {
            return Ok(pid);
        }
        if wo.flags & WNOHANG != 0 {
            return Ok(0);
        }
        // Wake for a reapable zombie, a child gone (reaped elsewhere or
        // reparented: maybe ECHILD now) or a signal.
        let (before, _) = snapshot();
        crate::kernel::sched::wait::wait_event(&me.signal.wait_chldexit, TASK_INTERRUPTIBLE, || {
            let (n, zombies) = snapshot();
            crate::kernel::signal::signal_pending(&me) || zombies > 0 || n != before
        });
        if crate::kernel::signal::signal_pending(&me) {
            if let Some(pid) = scan()? {
                return Ok(pid);
            }
            return Err(ERESTARTSYS);
        }
    }
}

/// `wait_task_zombie`: report the status and release the child (with
/// WNOWAIT: report only); None if another waiter got it first.
#[inline(never)] // on the path the notes trace: keep the symbol
fn wait_task_zombie(wo: &WaitOpts, c: &Arc<TaskStruct>) -> KResult<Option<i32>> {
    use crate::kernel::signal::{CLD_EXITED, CLD_KILLED, SIGCHLD};
    let status = task_exit_status(c);
    if wo.flags & WNOWAIT == 0 {
        // Only one waiter may reap it.
        if c.exit_state.compare_exchange(EXIT_ZOMBIE, EXIT_DEAD, AcqRel, Relaxed).is_err() {
            return Ok(None);
        }
    }
    let undo = |e| {
        if wo.flags & WNOWAIT == 0 {
            c.exit_state.store(EXIT_ZOMBIE, Release); // still reapable, as Linux
        }
        Err(e)
    };
    if wo.rusage != 0 {
        let own = crate::kernel::resource::getrusage(c, crate::kernel::resource::RUSAGE_SELF)?;
        let kids = crate::kernel::resource::getrusage(c, crate::kernel::resource::RUSAGE_CHILDREN)?;
        let both = crate::kernel::resource::Rusage {
            utime: own.utime + kids.utime,
            stime: own.stime + kids.stime,
            nvcsw: own.nvcsw + kids.nvcsw,
            nivcsw: own.nivcsw + kids.nivcsw,
        };
        if let Err(e) = crate::arch::uaccess::copy_to_user(wo.rusage, &crate::kernel::resource::rusage_bytes(&both)) {
            return undo(e);
        }
    }
    if wo.stat_addr != 0 {
        if let Err(e) = crate::arch::uaccess::put_user_u32(wo.stat_addr, status as u32) {
            return undo(e);
        }
    }
    if wo.infop != 0 {
        // siginfo: si_signo, si_errno, si_code, then si_pid, si_uid, si_status.
        let (code, st) = if status & 0x7f != 0 { (CLD_KILLED, status & 0x7f) } else { (CLD_EXITED, (status >> 8) & 0xff) };
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&SIGCHLD.to_le_bytes());
        b[8..12].copy_from_slice(&code.to_le_bytes());
        b[16..20].copy_from_slice(&c.tgid.to_le_bytes());
        b[24..28].copy_from_slice(&st.to_le_bytes());
        if let Err(e) = crate::arch::uaccess::copy_to_user(wo.infop, &b) {
            return undo(e);
        }
    }
    if wo.flags & WNOWAIT != 0 {
        return Ok(Some(c.tgid));
    }
    // Its last switch may still be running on another CPU.
    while c.on_cpu.load(Acquire) {
        core::hint::spin_loop();
    }
    crate::kernel::resource::account_reaped_child(&current(), c);
    release_task(c);
    Ok(Some(c.pid()))
}

/// `find_child_reaper` / `find_new_reaper`: orphans go to another live
/// thread of the dying one's group, else to the nearest ancestor that is
/// a child subreaper (prctl PR_SET_CHILD_SUBREAPER), else to init.
fn find_new_reaper(tsk: &Arc<TaskStruct>) -> Option<Arc<TaskStruct>> {
    if let Some(t) = tsk.signal.thread_list().into_iter().find(|t| !Arc::ptr_eq(t, tsk) && t.flags() & PF_EXITING == 0) {
        return Some(t);
    }
    if tsk.signal.has_child_subreaper.load(Relaxed) {
        let mut p = tsk.real_parent.lock_irqsave().upgrade();
        while let Some(a) = p {
            if a.tgid <= 1 {
                break;
            }
            if a.signal.is_child_subreaper.load(Relaxed) {
                // Its first thread that is not exiting.
                if let Some(t) = a.signal.thread_list().into_iter().find(|t| t.flags() & PF_EXITING == 0) {
                    return Some(t);
                }
            }
            p = a.real_parent.lock_irqsave().upgrade();
        }
    }
    find_task_by_vpid(1)
}

/// `forget_original_parent`: re-parent our children.
#[inline(never)] // on the path the notes trace: keep the symbol
fn forget_original_parent(tsk: &Arc<TaskStruct>) {
    let children = core::mem::take(&mut *tsk.children.lock_irqsave());
    if children.is_empty() {
        return;
    }
    let Some(reaper) = find_new_reaper(tsk) else { return };
    let same_group = reaper.tgid == tsk.tgid;
    let mut zombies = alloc::vec::Vec::new();
    for c in children {
        *c.real_parent.lock_irqsave() = Arc::downgrade(&reaper);
        *c.parent.lock_irqsave() = Arc::downgrade(&reaper);
        // Threads of the child's group follow their leader's parent.
        for t in c.signal.thread_list() {
            *t.real_parent.lock_irqsave() = Arc::downgrade(&reaper);
            *t.parent.lock_irqsave() = Arc::downgrade(&reaper);
        }
        if !same_group && c.exit_state.load(Acquire) == EXIT_ZOMBIE && !delay_group_leader(&c) {
            zombies.push(c.clone());
        }
        reaper.children.lock_irqsave().push_back(c);
    }
    // reparent_leader: a zombie's new parent hears of it (and may autoreap).
    for z in zombies {
        if crate::kernel::signal::do_notify_parent(&z, &reaper) && z.exit_state.compare_exchange(EXIT_ZOMBIE, EXIT_DEAD, AcqRel, Relaxed).is_ok() {
            release_task(&z);
        }
    }
    reaper.signal.wait_chldexit.wake_up_all();
}

/// `exit_notify`: tell the parent, or reap ourselves if no one will.
#[inline(never)] // on the path the notes trace: keep the symbol
fn exit_notify(tsk: &Arc<TaskStruct>) {
    forget_original_parent(tsk);
    let parent = tsk.real_parent.lock_irqsave().upgrade();
    // Zombie first, so a woken parent can reap it; autoreap undoes it.
    tsk.exit_state.store(EXIT_ZOMBIE, Release);
    let autoreap = if !tsk.thread_group_leader() {
        true // a thread: no exit signal, released at once
    } else if delay_group_leader(tsk) {
        // Reported when the last thread is released. An exec in another
        // thread (de_thread) waits for the leader to be a zombie.
        tsk.signal.thread_exit_wait.wake_up_all();
        false
    } else {
        match &parent {
            None => true,
            Some(p) => crate::kernel::signal::do_notify_parent(tsk, p),
        }
    };
    if autoreap && tsk.exit_state.compare_exchange(EXIT_ZOMBIE, EXIT_DEAD, AcqRel, Relaxed).is_ok() {
        release_task(tsk);
    }
}

/// `release_task`: the pid is freed and the task leaves its parent's list
/// and its thread group. The last thread out reports a zombie leader.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn release_task(p: &Arc<TaskStruct>) {
    if p.thread_group_leader() {
        if let Some(parent) = p.real_parent.lock_irqsave().upgrade() {
            let mut children = parent.children.lock_irqsave();
            if let Some(i) = children.iter().position(|c| Arc::ptr_eq(c, p)) {
                children.remove(i);
            }
        }
    }
    if !p.thread_group_leader() {
        crate::kernel::resource::account_released_thread(p);
    }
    p.signal.threads.lock_irqsave().retain(|w| !core::ptr::eq(w.as_ptr(), Arc::as_ptr(p)));
    p.signal.thread_exit_wait.wake_up_all();
    detach_pid(p.pid());
    NR_THREADS.fetch_sub(1, Relaxed);
    if p.state() == TASK_DEAD && !p.on_cpu.load(Acquire) && p.exit_state.load(Acquire) == EXIT_DEAD {
        // A zombie reaped after its last switch: nothing else will free it.
        tp::trace_sched_process_free(&p.comm(), p.pid(), p.prio());
    }
    // The leader was waiting for us, the last other thread.
    if !p.thread_group_leader() {
        if let Some(leader) = p.group_leader() {
            if leader.exit_state.load(Acquire) == EXIT_ZOMBIE && leader.signal.nr_threads() == 1 {
                let autoreap = match leader.real_parent.lock_irqsave().upgrade() {
                    None => true,
                    Some(parent) => crate::kernel::signal::do_notify_parent(&leader, &parent),
                };
                if autoreap && leader.exit_state.compare_exchange(EXIT_ZOMBIE, EXIT_DEAD, AcqRel, Relaxed).is_ok() {
                    release_task(&leader);
                }
            }
        }
    }
}

/// From finish_task_switch, on the task that just switched away for the
/// last time: if it was already released (autoreap), it is now free.
pub fn put_task_struct_dead(prev: Arc<TaskStruct>) {
    if prev.exit_state.load(Acquire) != EXIT_DEAD {
        return; // a zombie: freed when its parent reaps it
    }
    // Free it from a kworker, as Linux frees it after an RCU grace period
    // (delayed_put_task_struct); before the workers exist, free it here.
    if let Err(prev) = crate::kernel::workqueue::put_task_struct_deferred(prev) {
        tp::trace_sched_process_free(&prev.comm(), prev.pid(), prev.prio());
        drop(prev);
    }
}

/// `do_task_dead`: the final schedule().
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn do_task_dead() -> ! {
    let tsk = current();
    tsk.state.store(TASK_DEAD, SeqCst);
    drop(tsk);
    schedule();
    panic(format_args!("do_task_dead: a dead task was scheduled again"))
}
