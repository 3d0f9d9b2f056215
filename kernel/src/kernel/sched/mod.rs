//! The scheduler (mirrors kernel/sched/): per-CPU runqueues, the classes
//! walked in Linux's order stop -> deadline -> rt -> fair -> idle, wake-ups,
//! the tick, load balancing, wait queues and completions. See
//! docs/scheduler.md for the design in prose.
pub mod core;
pub mod deadline;
pub mod fair;
pub mod idle;
pub mod rt;
pub mod stop_task;
pub mod syscalls;
pub mod tp;
pub mod wait;

pub use self::core::*;

/// The running task's pid (0 before tasks exist and for the idle tasks).
pub fn current_pid() -> i32 {
    crate::arch::current::current_pid()
}
