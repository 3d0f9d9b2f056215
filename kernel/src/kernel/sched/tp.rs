//! The scheduler's and fork/exit's tracepoints (Linux:
//! include/trace/events/sched.h and task.h). They are the tracing
//! subsystem's (kernel/trace), which records only enabled events; the
//! re-export keeps the call sites reading `tp::trace_sched_switch(...)`.

pub use crate::kernel::trace::{
    trace_sched_migrate_task, trace_sched_process_exit, trace_sched_process_fork, trace_sched_process_free,
    trace_sched_process_wait,
    trace_sched_switch, trace_sched_wakeup, trace_sched_wakeup_new, trace_task_newtask, trace_task_rename,
};
