//! Event enabling (mirrors kernel/trace/trace_events.c: `set_event`, the
//! `trace_event=` boot parameter) and the tracepoints themselves (the
//! `trace_<name>()` functions generated from include/trace/events/
//! {sched,task,signal}.h).
//!
//! Each tracepoint takes plain values, so callers need not lend it their
//! task structs. A disabled event costs one relaxed atomic load. An enabled
//! one fills the event's fields, and `trace_record` adds the common ones
//! (time, CPU, pid, irq/preempt context) and writes the entry into this
//! CPU's buffer.

use super::trace::{record_cmd, set_record_cmd, trace_record, tracing_record_cmdline};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};
use klib::trace::event_id::*;
use klib::trace::{match_event_spec, prev_state::TASK_REPORT_MAX, Comm, Event, AVAILABLE_EVENTS};

/// One enable flag per event of `AVAILABLE_EVENTS` (Linux:
/// EVENT_FILE_FL_ENABLED of each trace_event_file).
static ENABLED: [AtomicBool; NR_EVENTS] = [const { AtomicBool::new(false) }; NR_EVENTS];

#[inline(always)]
fn enabled(id: usize) -> bool {
    ENABLED[id].load(Relaxed)
}

/// Enable or disable the events one `set_event` token names (`sched:*`,
/// `sched:`, `sched`, `sched:sched_switch`, `sched_switch`, `*:*`, ...);
/// several tokens may be separated by commas. A leading `!` disables, as in
/// the `set_event` file. `Err` if some token names no event (the others
/// still take effect).
pub fn trace_set_event(spec: &str, on: bool) -> Result<(), ()> {
    let mut result = Ok(());
    for token in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (token, on) = match token.strip_prefix('!') {
            Some(t) => (t, false),
            None => (token, on),
        };
        match match_event_spec(AVAILABLE_EVENTS, token) {
            Some(mask) => set_events_mask_bits(mask, on),
            None => result = Err(()),
        }
    }
    result
}

fn set_events_mask_bits(mask: u64, on: bool) {
    for (id, flag) in ENABLED.iter().enumerate() {
        if mask & (1 << id) != 0 {
            flag.store(on, Relaxed);
        }
    }
    update_record_cmd();
}

fn update_record_cmd() {
    if trace_events_mask() != 0 {
        set_record_cmd(true);
    }
}

/// The enabled events as a bitmask over `klib::trace::AVAILABLE_EVENTS`.
pub fn trace_events_mask() -> u64 {
    ENABLED.iter().enumerate().filter(|(_, f)| f.load(Relaxed)).fold(0, |m, (id, _)| m | (1 << id))
}

/// Enable exactly the events of `mask` (see [`trace_events_mask`]).
pub fn trace_set_events_mask(mask: u64) {
    for (id, flag) in ENABLED.iter().enumerate() {
        flag.store(mask & (1 << id) != 0, Relaxed);
    }
    update_record_cmd();
}

/// Whether `system:name` is enabled (the `events/<sys>/<name>/enable` file).
pub fn trace_event_enabled(system: &str, name: &str) -> bool {
    AVAILABLE_EVENTS.iter().position(|&(s, n)| s == system && n == name).is_some_and(enabled)
}

/// `early_enable_events`: apply `trace_event=` (comma-separated tokens).
/// Returns the number of events enabled.
pub(super) fn early_enable_events(spec: &str) -> u32 {
    for token in spec.split(',').filter(|t| !t.is_empty()) {
        if trace_set_event(token, true).is_err() {
            pr_warn!("Failed to enable trace event: {}", token);
        }
    }
    trace_events_mask().count_ones()
}

// ---------------------------------------------------------------------------
// The tracepoints (include/trace/events/sched.h)

/// sched_switch, from `__schedule` before the switch. `prev_state` is the
/// value `__trace_sched_switch_state` computes (0 = R, one TASK_REPORT bit
/// for a blocked task, see `klib::trace::prev_state`); `preempt` forces it
/// to TASK_REPORT_MAX (`R+`), as in Linux. Also saves the comms of both
/// tasks for the TASK column (`tracing_record_taskinfo_sched_switch`).
#[allow(clippy::too_many_arguments)]
pub fn trace_sched_switch(
    preempt: bool,
    prev_comm: &Comm,
    prev_pid: i32,
    prev_prio: i32,
    prev_state: u64,
    next_comm: &Comm,
    next_pid: i32,
    next_prio: i32,
) {
    let on = enabled(SCHED_SWITCH);
    if !on && !record_cmd() {
        return;
    }
    tracing_record_cmdline(prev_pid, prev_comm);
    tracing_record_cmdline(next_pid, next_comm);
    if !on {
        return;
    }
    let prev_state = if preempt { TASK_REPORT_MAX } else { prev_state };
    trace_record(Event::SchedSwitch { prev_comm: *prev_comm, prev_pid, prev_prio, prev_state, next_comm: *next_comm, next_pid, next_prio });
}

/// sched_wakeup: `comm`/`pid`/`prio` of the task woken, the CPU it will run on.
pub fn trace_sched_wakeup(comm: &Comm, pid: i32, prio: i32, target_cpu: u32) {
    if !enabled(SCHED_WAKEUP) {
        return;
    }
    trace_record(Event::SchedWakeup { comm: *comm, pid, prio, target_cpu });
}

/// sched_wakeup_new: from `wake_up_new_task`.
pub fn trace_sched_wakeup_new(comm: &Comm, pid: i32, prio: i32, target_cpu: u32) {
    if !enabled(SCHED_WAKEUP_NEW) {
        return;
    }
    trace_record(Event::SchedWakeupNew { comm: *comm, pid, prio, target_cpu });
}

/// sched_migrate_task: `set_task_cpu` moving a task between CPUs.
pub fn trace_sched_migrate_task(comm: &Comm, pid: i32, prio: i32, orig_cpu: u32, dest_cpu: u32) {
    if !enabled(SCHED_MIGRATE_TASK) {
        return;
    }
    trace_record(Event::SchedMigrateTask { comm: *comm, pid, prio, orig_cpu, dest_cpu });
}

/// sched_process_fork: in the parent (current), after `wake_up_new_task`.
pub fn trace_sched_process_fork(parent_comm: &Comm, parent_pid: i32, child_comm: &Comm, child_pid: i32) {
    if !enabled(SCHED_PROCESS_FORK) {
        return;
    }
    tracing_record_cmdline(parent_pid, parent_comm);
    trace_record(Event::SchedProcessFork { parent_comm: *parent_comm, parent_pid, child_comm: *child_comm, child_pid });
}

/// sched_process_exit: in `do_exit`, for current.
pub fn trace_sched_process_exit(comm: &Comm, pid: i32, prio: i32) {
    if !enabled(SCHED_PROCESS_EXIT) {
        return;
    }
    tracing_record_cmdline(pid, comm);
    trace_record(Event::SchedProcessExit { comm: *comm, pid, prio });
}

/// sched_process_free: when the task struct is released (an RCU callback
/// in Linux, so often from another task or softirq context).
pub fn trace_sched_process_free(comm: &Comm, pid: i32, prio: i32) {
    if !enabled(SCHED_PROCESS_FREE) {
        return;
    }
    trace_record(Event::SchedProcessFree { comm: *comm, pid, prio });
}

/// sched_process_wait: at the start of `do_wait`; the waiter's comm and
/// prio, the pid waited for (0 = any child).
pub fn trace_sched_process_wait(comm: &Comm, pid: i32, prio: i32) {
    if !enabled(SCHED_PROCESS_WAIT) {
        return;
    }
    trace_record(Event::SchedProcessWait { comm: *comm, pid, prio });
}

/// sched_process_exec: after the new image is loaded; `filename` as passed
/// to execve.
pub fn trace_sched_process_exec(filename: &str, pid: i32, old_pid: i32) {
    if !enabled(SCHED_PROCESS_EXEC) {
        return;
    }
    trace_record(Event::SchedProcessExec { filename: alloc::string::String::from(filename), pid, old_pid });
}

// include/trace/events/task.h

/// task_newtask: in `copy_process`, for the child (clone flags without the
/// exit signal).
pub fn trace_task_newtask(pid: i32, comm: &Comm, clone_flags: u64, oom_score_adj: i16) {
    if !enabled(TASK_NEWTASK) {
        return;
    }
    trace_record(Event::TaskNewtask { pid, comm: *comm, clone_flags, oom_score_adj });
}

/// task_rename: `__set_task_comm`. The new name is saved for the TASK column.
pub fn trace_task_rename(pid: i32, oldcomm: &Comm, newcomm: &Comm, oom_score_adj: i16) {
    if !enabled(TASK_RENAME) {
        return;
    }
    tracing_record_cmdline(pid, newcomm);
    trace_record(Event::TaskRename { pid, oldcomm: *oldcomm, newcomm: *newcomm, oom_score_adj });
}

// include/trace/events/signal.h

/// signal_generate: at the end of `__send_signal`; `comm`/`pid` are the
/// target's, `group` a process-wide signal, `result` TRACE_SIGNAL_*
/// (0 delivered, 1 ignored, 2 already pending, 3 overflow, 4 lose info).
pub fn trace_signal_generate(sig: i32, errno: i32, code: i32, comm: &Comm, pid: i32, group: bool, result: i32) {
    if !enabled(SIGNAL_GENERATE) {
        return;
    }
    trace_record(Event::SignalGenerate { sig, errno, code, comm: *comm, pid, group, result });
}

/// signal_deliver: in `get_signal`, in the receiving task.
pub fn trace_signal_deliver(sig: i32, errno: i32, code: i32, sa_handler: u64, sa_flags: u64) {
    if !enabled(SIGNAL_DELIVER) {
        return;
    }
    trace_record(Event::SignalDeliver { sig, errno, code, sa_handler, sa_flags });
}
