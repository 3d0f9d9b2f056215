//! Task exit (mirrors kernel/exit.c): `do_exit -> exit_notify -> do_task_dead`.
//!
//! A kernel thread's exit: mark PF_EXITING, record the exit code, fire
//! sched_process_exit, hand our children to the reaper, then either become
//! a zombie for the parent to reap, or, when the parent ignores SIGCHLD
//! (kthreadd does), be released at once (EXIT_DEAD, autoreap). The last
//! `__schedule()` switches away for good; the next task frees the stack and
//! task_struct in finish_task_switch once nothing refers to them.
//! The user-space half (exit_mm, exit_files, exit_fs, signals, wait4) is
//! issue 4.

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
    if tsk.pid == 0 {
        panic(format_args!("Attempted to kill the idle task!"));
    }
    if tsk.pid == 1 {
        panic(format_args!("Attempted to kill init! exitcode=0x{:08x}", code));
    }
    if tsk.flags() & PF_EXITING != 0 {
        pr_alert!("Fixing recursive fault but reboot is needed!");
        do_task_dead();
    }
    tsk.flags.fetch_or(PF_EXITING, SeqCst);
    tsk.exit_code.store(code, Relaxed);
    exit_mm(&tsk);
    drop(tsk.files.lock_irqsave().take()); // exit_files
    tp::trace_sched_process_exit(&tsk.comm(), tsk.pid, tsk.prio());
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

/// `exit_mm`: drop the address space (mm_release clears clear_child_tid first).
#[inline(never)] // on the path the notes trace: keep the symbol
fn exit_mm(tsk: &Arc<TaskStruct>) {
    complete_vfork_done(tsk);
    let Some(mm) = tsk.mm.lock_irqsave().take() else { return };
    let tid_addr = tsk.clear_child_tid.swap(0, Relaxed);
    if tid_addr != 0 {
        // The address space is still loaded: a failed write is ignored, as Linux does.
        let _ = crate::arch::uaccess::put_user_u32(tid_addr, 0);
    }
    // Stop using it before the last reference can free its page tables.
    crate::arch::process::activate_init_mm();
    drop(mm);
}

/// `sys_exit`: this thread exits with status `code` (low 8 bits).
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_exit(code: i32) -> KResult<u64> {
    do_exit((code & 0xff) << 8)
}

/// `sys_exit_group` -> `do_group_exit`: every thread of the process exits
/// (one thread per process until CLONE_THREAD arrives).
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_exit_group(code: i32) -> KResult<u64> {
    do_group_exit((code & 0xff) << 8)
}

/// `do_group_exit`.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn do_group_exit(exit_code: i32) -> ! {
    do_exit(exit_code)
}

pub const WNOHANG: u64 = 1;

/// `sys_wait4` -> `kernel_wait4` -> `do_wait`: reap a zombie child.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_wait4(upid: i64, stat_addr: u64, options: u64, _rusage: u64) -> KResult<u64> {
    use crate::kernel::errno::{ECHILD, EINVAL};
    if options & !(WNOHANG | 2 /* WUNTRACED */ | 8 /* WCONTINUED */ | 0x4000_0000 /* __WALL */) != 0 {
        return Err(EINVAL);
    }
    let me = current();
    tp::trace_sched_process_wait(&me.comm(), if upid > 0 { upid as i32 } else { 0 }, me.prio());
    let eligible = |c: &Arc<TaskStruct>| upid == -1 || upid == 0 || c.pid as i64 == upid || -(c.tgid as i64) == upid;
    // What a scan found: a reaped pid, or whether eligible children remain.
    let scan = || -> KResult<Option<u64>> {
        let children = me.children.lock_irqsave().clone();
        let mut any = false;
        for c in children.iter().filter(|c| eligible(c)) {
            any = true;
            if c.exit_state.load(Acquire) == EXIT_ZOMBIE {
                if let Some(pid) = wait_task_zombie(c, stat_addr)? {
                    return Ok(Some(pid));
                }
            }
        }
        if any { Ok(None) } else { Err(ECHILD) }
    };
    loop {
        if let Some(pid) = scan()? {
            return Ok(pid);
        }
        if options & WNOHANG != 0 {
            return Ok(0);
        }
        // Sleep until a child may be reapable or gone (an autoreaped one
        // leaves the list), or a signal arrives; then scan again.
        let count = |me: &TaskStruct| me.children.lock_irqsave().iter().filter(|c| eligible(c)).count();
        let before = count(&me);
        crate::kernel::sched::wait::wait_event(&me.wait_chldexit, TASK_INTERRUPTIBLE, || {
            crate::kernel::signal::signal_pending(&me)
                || count(&me) != before
                || me.children.lock_irqsave().iter().any(|c| eligible(c) && c.exit_state.load(Acquire) == EXIT_ZOMBIE)
        });
        if crate::kernel::signal::signal_pending(&me) {
            if let Some(pid) = scan()? {
                return Ok(pid);
            }
            return Err(crate::kernel::errno::ERESTARTSYS);
        }
    }
}

/// `wait_task_zombie`: report the status and release the child; None if
/// someone else (another waiter, or autoreap) got it first.
#[inline(never)] // on the path the notes trace: keep the symbol
fn wait_task_zombie(c: &Arc<TaskStruct>, stat_addr: u64) -> KResult<Option<u64>> {
    // Only one waiter may reap it.
    if c.exit_state.compare_exchange(EXIT_ZOMBIE, EXIT_DEAD, AcqRel, Relaxed).is_err() {
        return Ok(None);
    }
    if stat_addr != 0 {
        if let Err(e) = crate::arch::uaccess::put_user_u32(stat_addr, c.exit_code.load(Relaxed) as u32) {
            c.exit_state.store(EXIT_ZOMBIE, Release); // still reapable, as Linux
            return Err(e);
        }
    }
    // Its last switch may still be running on another CPU.
    while c.on_cpu.load(Acquire) {
        core::hint::spin_loop();
    }
    crate::kernel::resource::account_reaped_child(&current(), c);
    release_task(c);
    Ok(Some(c.pid as u64))
}

/// `find_new_reaper`: orphans go to init (pid 1), or kthreadd's... no:
/// Linux gives every orphan to the namespace's child_reaper, init.
fn find_new_reaper() -> Option<Arc<TaskStruct>> {
    find_task_by_vpid(1)
}

/// `forget_original_parent`: re-parent our children.
#[inline(never)] // on the path the notes trace: keep the symbol
fn forget_original_parent(tsk: &Arc<TaskStruct>) {
    let children = core::mem::take(&mut *tsk.children.lock_irqsave());
    if children.is_empty() {
        return;
    }
    let Some(reaper) = find_new_reaper() else { return };
    for c in children {
        *c.real_parent.lock_irqsave() = Arc::downgrade(&reaper);
        *c.parent.lock_irqsave() = Arc::downgrade(&reaper);
        reaper.children.lock_irqsave().push(c);
    }
    reaper.wait_chldexit.wake_up_all();
}

/// `exit_notify`: tell the parent, or reap ourselves if it does not care.
#[inline(never)] // on the path the notes trace: keep the symbol
fn exit_notify(tsk: &Arc<TaskStruct>) {
    forget_original_parent(tsk);
    let parent = tsk.real_parent.lock_irqsave().upgrade();
    // Zombie first, so a woken parent can reap it; autoreap undoes it.
    tsk.exit_state.store(EXIT_ZOMBIE, Release);
    let autoreap = match &parent {
        None => true,
        Some(p) => crate::kernel::signal::do_notify_parent(tsk, p),
    };
    if autoreap && tsk.exit_state.compare_exchange(EXIT_ZOMBIE, EXIT_DEAD, AcqRel, Relaxed).is_ok() {
        release_task(tsk);
    }
}

/// `release_task`: the pid is freed and the task leaves its parent's list.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn release_task(p: &Arc<TaskStruct>) {
    if let Some(parent) = p.real_parent.lock_irqsave().upgrade() {
        parent.children.lock_irqsave().retain(|c| !Arc::ptr_eq(c, p));
    }
    detach_pid(p.pid);
    NR_THREADS.fetch_sub(1, Relaxed);
    if p.state() == TASK_DEAD && !p.on_cpu.load(Acquire) && p.exit_state.load(Acquire) == EXIT_DEAD {
        // A zombie reaped after its last switch: nothing else will free it.
        tp::trace_sched_process_free(&p.comm(), p.pid, p.prio());
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
        tp::trace_sched_process_free(&prev.comm(), prev.pid, prev.prio());
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
