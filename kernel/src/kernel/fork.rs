//! Creating tasks (mirrors kernel/fork.c): `kernel_thread -> _do_fork ->
//! copy_process -> wake_up_new_task`, the path the notes trace.
//!
//! copy_process: a new task_struct and kernel stack (dup_task_struct), a
//! pid, the per-process structures that the CLONE_* flags share or copy
//! (copy_files, copy_fs, copy_sighand, copy_signal, copy_mm), scheduler
//! state (sched_fork), the first stack frame (copy_thread) and the
//! process-tree links. A CLONE_THREAD child joins its creator's thread
//! group: same tgid and signal_struct, no exit signal, and it is not a
//! child of anyone (its real_parent is the process's parent, as Linux).
//!
//! Left out: namespaces (CLONE_NEW* are EINVAL), CLONE_PTRACE, pidfds,
//! cgroups, clone3's set_tid.

use crate::arch::process::{copy_thread, ThreadFn};
use crate::kernel::pid::{alloc_pid, attach_pid, free_pid};
use crate::kernel::sched::{sched_fork, tp, wake_up_new_task};
use crate::kernel::task::*;
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::Ordering::*;

pub const CSIGNAL: u64 = 0x0000_00ff;
pub const CLONE_VM: u64 = 0x0000_0100;
pub const CLONE_FS: u64 = 0x0000_0200;
pub const CLONE_FILES: u64 = 0x0000_0400;
pub const CLONE_SIGHAND: u64 = 0x0000_0800;
pub const CLONE_PTRACE: u64 = 0x0000_2000;
pub const CLONE_VFORK: u64 = 0x0000_4000;
pub const CLONE_PARENT: u64 = 0x0000_8000;
pub const CLONE_THREAD: u64 = 0x0001_0000;
pub const CLONE_UNTRACED: u64 = 0x0080_0000;
pub const SIGCHLD: u64 = 17;

pub const ENOMEM: i32 = 12;
pub const EAGAIN: i32 = 11;

/// `kernel_thread`: a kernel thread running `f`, child of the caller.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn kernel_thread(f: impl FnOnce() -> i32 + Send + 'static, flags: u64) -> Result<i32, i32> {
    _do_fork(flags | CLONE_VM | CLONE_UNTRACED, ForkStart::Kernel(Box::new(f)), None)
}

/// `kernel_thread` with a fixed pid (rest_init: kernel_init is 1, kthreadd 2).
pub fn kernel_thread_pid(f: impl FnOnce() -> i32 + Send + 'static, flags: u64, pid: i32) -> Result<i32, i32> {
    _do_fork(flags | CLONE_VM | CLONE_UNTRACED, ForkStart::Kernel(Box::new(f)), Some(pid))
}

pub const CLONE_SETTLS: u64 = 0x0008_0000;
pub const CLONE_PARENT_SETTID: u64 = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: u64 = 0x0020_0000;
pub const CLONE_CHILD_SETTID: u64 = 0x0100_0000;

/// What a new task runs: a kernel thread function, or the parent's user
/// registers (fork/clone from user space).
pub enum ForkStart<'a> {
    Kernel(ThreadFn),
    User { regs: &'a crate::arch::ptregs::PtRegs, newsp: u64, tls: u64, parent_tidptr: u64, child_tidptr: u64 },
}

/// `sys_fork`.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_fork(regs: &crate::arch::ptregs::PtRegs) -> crate::kernel::errno::KResult<u64> {
    user_fork(SIGCHLD, regs, 0, 0, 0, 0)
}

/// `sys_vfork`: the child shares the address space and the parent sleeps
/// until the child execs or exits.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_vfork(regs: &crate::arch::ptregs::PtRegs) -> crate::kernel::errno::KResult<u64> {
    user_fork(CLONE_VFORK | CLONE_VM | SIGCHLD, regs, 0, 0, 0, 0)
}

/// `sys_clone` (x86_64 argument order: flags, newsp, parent_tid, child_tid, tls).
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_clone(
    regs: &crate::arch::ptregs::PtRegs,
    flags: u64,
    newsp: u64,
    parent_tidptr: u64,
    child_tidptr: u64,
    tls: u64,
) -> crate::kernel::errno::KResult<u64> {
    user_fork(flags, regs, newsp, parent_tidptr, child_tidptr, tls)
}

/// Namespace and other flags Tine does not implement (CLONE_NEWNS,
/// CLONE_NEWCGROUP..CLONE_NEWNET, CLONE_PIDFD, CLONE_IO); CLONE_PTRACE,
/// CLONE_UNTRACED, CLONE_SYSVSEM and CLONE_DETACHED are accepted and ignored.
const CLONE_UNSUPPORTED: u64 = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x8000_0000 | 0x1000;

/// copy_process's flag checks (Linux's, in its order): EINVAL for the
/// combinations that make no sense.
fn check_clone_flags(flags: u64, cur: &TaskStruct) -> crate::kernel::errno::KResult<()> {
    use crate::kernel::errno::EINVAL;
    if flags & CLONE_UNSUPPORTED != 0 {
        return Err(EINVAL);
    }
    // Threads share signal handlers, which need a shared address space.
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0 {
        return Err(EINVAL);
    }
    if flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0 {
        return Err(EINVAL);
    }
    // Siblings of init would be children of the idle task.
    if flags & CLONE_PARENT != 0 && cur.tgid == 1 {
        return Err(EINVAL);
    }
    Ok(())
}

/// `sys_clone3`: `struct clone_args` {flags, pidfd, child_tid, parent_tid,
/// exit_signal, stack, stack_size, tls, ...} of at least 64 bytes; larger
/// structs must have zeros beyond what is known.
#[inline(never)]
pub fn sys_clone3(regs: &crate::arch::ptregs::PtRegs, uargs: u64, size: u64) -> crate::kernel::errno::KResult<u64> {
    use crate::kernel::errno::{E2BIG, EINVAL};
    if size < 64 {
        return Err(EINVAL);
    }
    if size > 4096 {
        return Err(E2BIG);
    }
    let mut b = alloc::vec![0u8; size as usize];
    crate::arch::uaccess::copy_from_user(&mut b, uargs)?;
    let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
    // set_tid (8), set_tid_size (9), cgroup (10) and anything newer: must be unused.
    if b[64..].iter().any(|&x| x != 0) {
        return Err(E2BIG);
    }
    let (flags, _pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls) = (w(0), w(1), w(2), w(3), w(4), w(5), w(6), w(7));
    if flags & CSIGNAL != 0 || exit_signal > 64 || (stack == 0) != (stack_size == 0) {
        return Err(EINVAL);
    }
    let newsp = if stack != 0 { stack + stack_size } else { 0 };
    user_fork(flags | exit_signal, regs, newsp, parent_tid, child_tid, tls)
}

fn user_fork(flags: u64, regs: &crate::arch::ptregs::PtRegs, newsp: u64, parent_tidptr: u64, child_tidptr: u64, tls: u64) -> crate::kernel::errno::KResult<u64> {
    check_clone_flags(flags, &current())?;
    let start = ForkStart::User { regs, newsp, tls, parent_tidptr, child_tidptr };
    let pid = _do_fork(flags, start, None).map_err(|e| crate::kernel::errno::Errno(-e))?;
    Ok(pid as u64)
}

/// `_do_fork`: kernel threads and user forks alike (Linux 4.19 passes a
/// kernel thread's function where a user fork passes its new stack).
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn _do_fork(clone_flags: u64, start: ForkStart, pid: Option<i32>) -> Result<i32, i32> {
    let parent_tidptr = match &start {
        ForkStart::User { parent_tidptr, .. } => Some(*parent_tidptr),
        ForkStart::Kernel(_) => None,
    };
    let p = copy_process(clone_flags, start, pid)?;
    let cur = current();
    tp::trace_sched_process_fork(&cur.comm(), cur.pid(), &p.comm(), p.pid());
    let nr = p.pid();
    // Before the child can run, as Linux: a thread library reads its tid
    // from there (musl's pthread_self()->tid, taken as its lock owner id),
    // so a late write let a new thread see tid 0. A failed write is
    // ignored, as Linux does.
    if let Some(ptid) = parent_tidptr.filter(|_| clone_flags & CLONE_PARENT_SETTID != 0) {
        let _ = crate::arch::uaccess::put_user_u32(ptid, nr as u32);
    }
    let vfork = if clone_flags & CLONE_VFORK != 0 {
        let done = Arc::new(crate::kernel::sched::wait::Completion::new());
        *p.vfork_done.lock_irqsave() = Some(done.clone());
        Some(done)
    } else {
        None
    };
    wake_up_new_task(&p);
    drop(p);
    if let Some(done) = vfork {
        // wait_for_vfork_done: the child runs on our memory until it execs or exits.
        done.wait_for_completion();
    }
    Ok(nr)
}

/// `dup_task_struct`: a copy of the parent's task_struct with its own stack.
#[inline(never)] // on the path the notes trace: keep the symbol
fn dup_task_struct(orig: &TaskStruct, pid: i32, clone_flags: u64) -> Option<TaskStruct> {
    let stack = KernelStack::alloc()?;
    let thread = clone_flags & CLONE_THREAD != 0;
    Some(TaskStruct::new(TaskInit {
        pid,
        comm: orig.comm(),
        flags: orig.flags() & !(PF_IDLE | PF_EXITING | PF_SIGNALED) | PF_FORKNOEXEC,
        state: TASK_NEW,
        static_prio: orig.static_prio.load(Relaxed),
        prio: orig.normal_prio.load(Relaxed),
        normal_prio: orig.normal_prio.load(Relaxed),
        rt_priority: orig.rt_priority.load(Relaxed),
        policy: orig.policy.load(Relaxed),
        // The idle task's children are ordinary fair tasks (init_task is SCHED_NORMAL).
        class: match orig.class() {
            SchedClassId::Idle | SchedClassId::Stop => SchedClassId::Fair,
            c => c,
        },
        // init_task's mask is CPU_MASK_ALL; the idle tasks themselves are bound.
        cpus_allowed: if orig.flags() & PF_IDLE != 0 { u64::MAX } else { orig.cpus_allowed.load(Relaxed) },
        cpu: orig.task_cpu() as u32,
        // A thread tells no one when it exits (exit_signal -1).
        exit_signal: if thread { -1 } else { (clone_flags & CSIGNAL) as i32 },
        stack,
        tgid: if thread { orig.tgid } else { pid },
        signal: copy_signal(clone_flags, orig),
    }))
}

/// `copy_signal`: a thread shares the process's signal_struct; a new
/// process gets its own, in its parent's process group and session.
#[inline(never)] // on the path the notes trace: keep the symbol
fn copy_signal(clone_flags: u64, cur: &TaskStruct) -> Arc<crate::kernel::signal_struct::SignalStruct> {
    if clone_flags & CLONE_THREAD != 0 {
        cur.signal.live.fetch_add(1, SeqCst);
        cur.signal.clone()
    } else {
        crate::kernel::signal_struct::SignalStruct::copy_signal(&cur.signal, cur.flags() & PF_IDLE != 0)
    }
}

/// `copy_files`: share the descriptor table (CLONE_FILES) or copy it.
#[inline(never)] // on the path the notes trace: keep the symbol
fn copy_files(clone_flags: u64, cur: &TaskStruct, p: &TaskStruct) {
    let Some(files) = cur.files.lock_irqsave().clone() else { return };
    let files = if clone_flags & CLONE_FILES != 0 { files } else { Arc::new(files.dup_fd()) };
    *p.files.lock_irqsave() = Some(files);
}

/// `copy_sighand`: share the actions (CLONE_SIGHAND) or copy them.
#[inline(never)] // on the path the notes trace: keep the symbol
fn copy_sighand(clone_flags: u64, cur: &TaskStruct, p: &TaskStruct) {
    let Some(sh) = cur.sighand.lock_irqsave().clone() else { return };
    let sh = if clone_flags & CLONE_SIGHAND != 0 { sh } else { sh.copy() };
    *p.sighand.lock_irqsave() = Some(sh);
}

/// `copy_mm`: share the address space (CLONE_VM) or copy it.
#[inline(never)] // on the path the notes trace: keep the symbol
fn copy_mm(clone_flags: u64, cur: &TaskStruct, p: &TaskStruct) -> Result<(), i32> {
    let Some(mm) = cur.mm.lock_irqsave().clone() else { return Ok(()) };
    let mm = if clone_flags & CLONE_VM != 0 { mm } else { mm.dup_mmap().map_err(|e| -e.0)? };
    *p.mm.lock_irqsave() = Some(mm);
    Ok(())
}

/// `copy_process`.
#[inline(never)] // on the path the notes trace: keep the symbol
fn copy_process(clone_flags: u64, start: ForkStart, want_pid: Option<i32>) -> Result<Arc<TaskStruct>, i32> {
    let cur = current();
    let pid = alloc_pid(want_pid).ok_or(-EAGAIN)?;
    if clone_flags & CLONE_THREAD != 0 && cur.signal.group_exiting() {
        free_pid(pid);
        return Err(-EAGAIN); // the group is dying: no new threads (Linux: EINTR-ish)
    }
    let Some(p) = dup_task_struct(&cur, pid, clone_flags) else {
        free_pid(pid);
        return Err(-ENOMEM);
    };
    let p = Arc::new(p);
    if cur.flags() & PF_IDLE != 0 {
        // Children of the idle task (kernel_init, kthreadd) are nice 0 SCHED_NORMAL.
        p.static_prio.store(klib::sched::DEFAULT_PRIO, Relaxed);
        p.normal_prio.store(klib::sched::DEFAULT_PRIO, Relaxed);
        p.policy.store(SCHED_NORMAL, Relaxed);
    }
    copy_files(clone_flags, &cur, &p);
    crate::fs::fs_struct::copy_fs(clone_flags, &cur, &p);
    copy_sighand(clone_flags, &cur, &p);
    p.blocked.store(cur.blocked.load(Relaxed), Relaxed);
    if let Err(e) = copy_mm(clone_flags, &cur, &p) {
        if clone_flags & CLONE_THREAD != 0 {
            cur.signal.live.fetch_sub(1, SeqCst);
        }
        free_pid(pid);
        return Err(e);
    }
    sched_fork(&p);
    let sp = match start {
        ForkStart::Kernel(f) => copy_thread(p.pt_regs_addr(), f),
        ForkStart::User { regs, newsp, tls, child_tidptr, .. } => {
            p.thread.fsbase.store(if clone_flags & CLONE_SETTLS != 0 { tls } else { cur.thread.fsbase.load(Relaxed) }, Relaxed);
            if clone_flags & CLONE_CHILD_CLEARTID != 0 {
                p.clear_child_tid.store(child_tidptr, Relaxed);
            }
            if clone_flags & CLONE_CHILD_SETTID != 0 {
                // Linux writes it from the child (schedule_tail); writing into
                // the child's address space now is the same to the child.
                if let Some(mm) = p.mm.lock_irqsave().clone() {
                    let _ = mm.handle_mm_fault(child_tidptr, true, false, 0);
                    let _ = mm.write_bytes(child_tidptr, &(p.pid() as u32).to_le_bytes());
                }
            }
            crate::arch::process::copy_thread_user(&p, regs, newsp)
        }
    };
    p.thread.sp.store(sp, Release);

    // Process tree: the parent is the caller, or the caller's parent
    // (CLONE_PARENT, and threads, whose parent is the process's).
    let parent = if clone_flags & (CLONE_PARENT | CLONE_THREAD) != 0 {
        cur.real_parent.lock_irqsave().upgrade().unwrap_or_else(|| cur.clone())
    } else {
        cur.clone()
    };
    *p.real_parent.lock_irqsave() = Arc::downgrade(&parent);
    *p.parent.lock_irqsave() = Arc::downgrade(&parent);
    if clone_flags & CLONE_THREAD != 0 {
        *p.group_leader.lock_irqsave() = cur.group_leader.lock_irqsave().clone();
    } else {
        *p.group_leader.lock_irqsave() = Arc::downgrade(&p);
        parent.children.lock_irqsave().push_back(p.clone());
    }
    p.signal.threads.lock_irqsave().push(Arc::downgrade(&p));
    attach_pid(&p);
    crate::kernel::task::NR_THREADS.fetch_add(1, Relaxed);
    tp::trace_task_newtask(p.pid(), &p.comm(), clone_flags & !CSIGNAL, 0);
    Ok(p)
}
