//! `current` (mirrors arch/x86/include/asm/current.h): a per-CPU pointer to
//! the running task, read through GS.
//!
//! The pointer is `Arc::as_ptr` of a task whose `Arc` the runqueue holds as
//! `rq.curr` for as long as it is current (and `__schedule` holds `prev`
//! until finish_task_switch), so it is always live while published here.

use super::percpu::this_cpu;
use crate::kernel::task::TaskStruct;
use alloc::sync::Arc;
use core::sync::atomic::Ordering::*;

/// Publish `task` as this CPU's current task. The caller keeps an `Arc` of
/// it alive (rq.curr) until it publishes another one.
pub fn set_current(task: &Arc<TaskStruct>) {
    this_cpu().current_task.store(Arc::as_ptr(task) as usize, Release);
}

pub fn try_current() -> Option<Arc<TaskStruct>> {
    let p = this_cpu().current_task.load(Acquire) as *const TaskStruct;
    if p.is_null() {
        return None;
    }
    // SAFETY: p came from Arc::as_ptr of a task kept alive while it is
    // published (see the module comment); taking one more strong reference
    // and wrapping it gives an Arc we own.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

pub fn get_current() -> Arc<TaskStruct> {
    try_current().expect("current used before sched_init")
}

/// The running task's pid without touching reference counts (0 before tasks exist).
pub fn current_pid() -> i32 {
    let p = this_cpu().current_task.load(Acquire) as *const TaskStruct;
    if p.is_null() {
        return 0;
    }
    // SAFETY: as in try_current: the task is alive while it is current; we
    // only read an immutable field.
    unsafe { (*p).pid() }
}
