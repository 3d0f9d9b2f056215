//! The pure half of the tracing subsystem: trace entries, their text form,
//! the per-CPU ring buffer, the saved-cmdlines cache and the merge of the
//! per-CPU buffers by time.
//!
//! Mirrors Linux 4.19:
//! * `kernel/trace/trace_output.c`: `trace_print_context` (the `trace`
//!   file's line prefix), `trace_print_lat_fmt` (the flags field),
//!   `lat_print_generic`/`lat_print_timestamp`/`trace_find_mark` (the
//!   latency prefix that `ftrace_dump` uses), `trace_print_print` (the
//!   `tracing_mark_write: ` lines);
//! * `kernel/trace/trace.c`: `print_func_help_header_irq` and
//!   `print_event_info` (the header), `trace_save_cmdline` and
//!   `__trace_find_cmdline` (the TASK column), `__find_next_entry` (which
//!   CPU's entry comes next), `ns2usecs`;
//! * the `TP_printk` strings of `include/trace/events/sched.h`, `task.h`
//!   and `signal.h`, including `__trace_sched_switch_state` and the
//!   `__print_flags` rendering of `prev_state`.
//!
//! The kernel (`kernel/src/kernel/trace/`) fills [`TraceEntry`]s at the
//! tracepoints and keeps one [`RingBuffer`] per CPU; everything that decides
//! what a line of text looks like is here, so it can be compared byte for
//! byte with real 4.19 output on the host.
//!
//! # Two line formats
//!
//! The `trace` file (and `trace_pipe`) prints [`format_entry`]:
//!
//! ```text
//!           <idle>-0     [001] d...  6246.926827: sched_switch: prev_comm=swapper/1 ...
//! ```
//!
//! `ftrace_dump()` (the dump on oops/panic, sysrq-z) sets
//! `TRACE_FILE_LAT_FMT` on its iterator, so it prints the *latency* prefix
//! instead, [`format_entry_lat`]:
//!
//! ```text
//!   <idle>-0       1d... 6246926827us : sched_switch: prev_comm=swapper/1 ...
//! ```
//!
//! (comm cut to 8 bytes, the CPU as `%3d`, the time in microseconds since
//! the buffer was last reset, and a delay mark that is always a space in a
//! dump because the next entry Linux peeks at is the one being printed).
//!
//! # Left out
//!
//! The binary ring-buffer page layout (`trace_pipe_raw`), `record-tgid`,
//! `verbose`, `raw`/`hex`/`bin` output, the function tracer's own entry
//! types, and non-nanosecond trace clocks.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::{self, Write};

/// `TASK_COMM_LEN`: comm arrays are 16 bytes, NUL padded, so a name has at
/// most 15 bytes.
pub const TASK_COMM_LEN: usize = 16;

/// A task name as the tracepoints record it: NUL padded, at most 15 bytes.
pub type Comm = [u8; TASK_COMM_LEN];

/// `s` as a comm: the first 15 bytes (Linux's `strlcpy` into
/// `char comm[TASK_COMM_LEN]`), NUL padded.
pub fn comm_from_str(s: &str) -> Comm {
    let mut c = [0u8; TASK_COMM_LEN];
    let n = s.len().min(TASK_COMM_LEN - 1);
    c[..n].copy_from_slice(&s.as_bytes()[..n]);
    c
}

/// The text of a comm: the bytes before the first NUL. If they are not
/// UTF-8 (a comm is any bytes in Linux), the valid prefix.
pub fn comm_str(c: &Comm) -> &str {
    let n = c.iter().position(|&b| b == 0).unwrap_or(TASK_COMM_LEN);
    match core::str::from_utf8(&c[..n]) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&c[..e.valid_up_to()]).unwrap_or(""),
    }
}

// ---------------------------------------------------------------------------
// prev_state of sched_switch

/// `prev_state` values as the sched_switch tracepoint stores them (4.19
/// `__trace_sched_switch_state`): 0 for a task that was running (`R`),
/// `1 << (task_state_index(p) - 1)` for a task that blocked, i.e. one bit of
/// the `TASK_REPORT` set in the order of `ps`' state letters, and
/// [`TASK_REPORT_MAX`] alone for a preempted task (`R+`).
pub mod prev_state {
    /// TASK_INTERRUPTIBLE: `S`.
    pub const S: u64 = 0x01;
    /// TASK_UNINTERRUPTIBLE: `D`.
    pub const D: u64 = 0x02;
    /// __TASK_STOPPED: `T`.
    pub const T: u64 = 0x04;
    /// __TASK_TRACED: `t`.
    pub const TRACED: u64 = 0x08;
    /// EXIT_DEAD: `X`.
    pub const X: u64 = 0x10;
    /// EXIT_ZOMBIE: `Z`.
    pub const Z: u64 = 0x20;
    /// TASK_PARKED: `P`.
    pub const P: u64 = 0x40;
    /// TASK_REPORT_IDLE (TASK_IDLE kthreads): `I`.
    pub const I: u64 = 0x80;
    /// TASK_REPORT_MAX: the switch was a preemption; printed as `R+`.
    pub const TASK_REPORT_MAX: u64 = 0x100;
}

/// The `__print_flags` table of sched_switch, in TP_printk order.
const PREV_STATE_FLAGS: [(u64, &str); 8] = [
    (prev_state::S, "S"),
    (prev_state::D, "D"),
    (prev_state::T, "T"),
    (prev_state::TRACED, "t"),
    (prev_state::X, "X"),
    (prev_state::Z, "Z"),
    (prev_state::P, "P"),
    (prev_state::I, "I"),
];

/// Linux's `__print_flags(flags, delim, table)` (`trace_print_flags_seq`):
/// each table entry whose bits are all set, in table order, joined by
/// `delim`; bits no entry names are printed as `0x%lx` at the end.
fn print_flags(
    out: &mut impl Write,
    mut flags: u64,
    delim: &str,
    table: &[(u64, &str)],
) -> fmt::Result {
    let mut first = true;
    for &(mask, name) in table {
        if flags == 0 {
            break;
        }
        if flags & mask != mask {
            continue;
        }
        flags &= !mask;
        if !first {
            out.write_str(delim)?;
        }
        out.write_str(name)?;
        first = false;
    }
    if flags != 0 {
        if !first {
            out.write_str(delim)?;
        }
        write!(out, "0x{:x}", flags)?;
    }
    Ok(())
}

/// The `prev_state=%s%s` text of sched_switch: the letters of the low
/// bits (or `R` if none), then `+` if [`prev_state::TASK_REPORT_MAX`] is set.
pub fn write_prev_state(out: &mut impl Write, state: u64) -> fmt::Result {
    let low = state & (prev_state::TASK_REPORT_MAX - 1);
    if low != 0 {
        print_flags(out, low, "|", &PREV_STATE_FLAGS)?;
    } else {
        out.write_str("R")?;
    }
    if state & prev_state::TASK_REPORT_MAX != 0 {
        out.write_str("+")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Entries

/// One recorded event, with the common fields Linux keeps in every entry
/// (`struct trace_entry`: pid, flags, preempt_count) plus the CPU and the
/// timestamp the ring buffer keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Trace clock (ns since boot for the `local` clock).
    pub ts_ns: u64,
    /// The CPU whose buffer holds the entry.
    pub cpu: u32,
    /// `common_pid`: the task running when the event fired (0 = idle).
    pub pid: i32,
    /// TRACE_FLAG_IRQS_OFF: `d`.
    pub irqs_off: bool,
    /// TRACE_FLAG_NEED_RESCHED (TIF_NEED_RESCHED): `n`, or `N` together
    /// with `preempt_need_resched`.
    pub need_resched: bool,
    /// TRACE_FLAG_HARDIRQ (`preempt_count & HARDIRQ_MASK`): `h`.
    pub hardirq: bool,
    /// TRACE_FLAG_SOFTIRQ (`preempt_count & SOFTIRQ_OFFSET`, i.e. serving a
    /// softirq, not merely bottom halves disabled): `s`; `H` with hardirq.
    pub softirq: bool,
    /// TRACE_FLAG_NMI: `z`; `Z` with hardirq.
    pub nmi: bool,
    /// `common_preempt_count`: `preempt_count & 0xff`, printed with `%x`
    /// (`.` for 0).
    pub preempt_count: u8,
    /// TRACE_FLAG_PREEMPT_RESCHED (x86's folded PREEMPT_NEED_RESCHED bit is
    /// clear): alone `p`, with `need_resched` `N`. Architectures without
    /// the fold (the ARM of the 4.19 seeds, and Tine) never set it, so a
    /// pending reschedule shows as `n`.
    pub preempt_need_resched: bool,
    pub event: Event,
}

/// The events Tine records, with exactly the fields of their Linux
/// `TP_STRUCT__entry` that their `TP_printk` prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// sched:sched_switch. `prev_state`: see [`prev_state`].
    SchedSwitch {
        prev_comm: Comm,
        prev_pid: i32,
        prev_prio: i32,
        prev_state: u64,
        next_comm: Comm,
        next_pid: i32,
        next_prio: i32,
    },
    /// sched:sched_wakeup (4.19 also stores `success`, always 1, unprinted).
    SchedWakeup {
        comm: Comm,
        pid: i32,
        prio: i32,
        target_cpu: u32,
    },
    /// sched:sched_wakeup_new.
    SchedWakeupNew {
        comm: Comm,
        pid: i32,
        prio: i32,
        target_cpu: u32,
    },
    /// sched:sched_process_fork: the parent's comm and pid first.
    SchedProcessFork {
        parent_comm: Comm,
        parent_pid: i32,
        child_comm: Comm,
        child_pid: i32,
    },
    /// sched:sched_process_exit.
    SchedProcessExit { comm: Comm, pid: i32, prio: i32 },
    /// sched:sched_process_free.
    SchedProcessFree { comm: Comm, pid: i32, prio: i32 },
    /// sched:sched_process_wait: the waiter's comm and prio, the pid waited
    /// for (0 = any child).
    SchedProcessWait { comm: Comm, pid: i32, prio: i32 },
    /// sched:sched_process_exec: `bprm->filename` as passed to execve.
    SchedProcessExec {
        filename: String,
        pid: i32,
        old_pid: i32,
    },
    /// sched:sched_migrate_task.
    SchedMigrateTask {
        comm: Comm,
        pid: i32,
        prio: i32,
        orig_cpu: u32,
        dest_cpu: u32,
    },
    /// task:task_newtask.
    TaskNewtask {
        pid: i32,
        comm: Comm,
        clone_flags: u64,
        oom_score_adj: i16,
    },
    /// task:task_rename.
    TaskRename {
        pid: i32,
        oldcomm: Comm,
        newcomm: Comm,
        oom_score_adj: i16,
    },
    /// signal:signal_generate: `comm`/`pid` are the target's.
    SignalGenerate {
        sig: i32,
        errno: i32,
        code: i32,
        comm: Comm,
        pid: i32,
        group: bool,
        result: i32,
    },
    /// signal:signal_deliver.
    SignalDeliver {
        sig: i32,
        errno: i32,
        code: i32,
        sa_handler: u64,
        sa_flags: u64,
    },
    /// ftrace:print: a `trace_marker` write or a `trace_printk()`, shown as
    /// `tracing_mark_write: <text>`.
    Print { text: String },
}

impl Event {
    /// The event's name (`trace_event_name`), as shown before `: `.
    pub fn name(&self) -> &'static str {
        match self {
            Event::SchedSwitch { .. } => "sched_switch",
            Event::SchedWakeup { .. } => "sched_wakeup",
            Event::SchedWakeupNew { .. } => "sched_wakeup_new",
            Event::SchedProcessFork { .. } => "sched_process_fork",
            Event::SchedProcessExit { .. } => "sched_process_exit",
            Event::SchedProcessFree { .. } => "sched_process_free",
            Event::SchedProcessWait { .. } => "sched_process_wait",
            Event::SchedProcessExec { .. } => "sched_process_exec",
            Event::SchedMigrateTask { .. } => "sched_migrate_task",
            Event::TaskNewtask { .. } => "task_newtask",
            Event::TaskRename { .. } => "task_rename",
            Event::SignalGenerate { .. } => "signal_generate",
            Event::SignalDeliver { .. } => "signal_deliver",
            Event::Print { .. } => "print",
        }
    }

    /// The event's system (`TRACE_SYSTEM`), the directory under `events/`.
    pub fn system(&self) -> &'static str {
        match self {
            Event::TaskNewtask { .. } | Event::TaskRename { .. } => "task",
            Event::SignalGenerate { .. } | Event::SignalDeliver { .. } => "signal",
            Event::Print { .. } => "ftrace",
            _ => "sched",
        }
    }

    /// The event's `TP_printk` output, without the name and newline.
    pub fn write_fields(&self, out: &mut impl Write) -> fmt::Result {
        match self {
            Event::SchedSwitch {
                prev_comm,
                prev_pid,
                prev_prio,
                prev_state,
                next_comm,
                next_pid,
                next_prio,
            } => {
                write!(
                    out,
                    "prev_comm={} prev_pid={} prev_prio={} prev_state=",
                    comm_str(prev_comm),
                    prev_pid,
                    prev_prio
                )?;
                write_prev_state(out, *prev_state)?;
                write!(
                    out,
                    " ==> next_comm={} next_pid={} next_prio={}",
                    comm_str(next_comm),
                    next_pid,
                    next_prio
                )
            }
            Event::SchedWakeup {
                comm,
                pid,
                prio,
                target_cpu,
            }
            | Event::SchedWakeupNew {
                comm,
                pid,
                prio,
                target_cpu,
            } => {
                write!(
                    out,
                    "comm={} pid={} prio={} target_cpu={:03}",
                    comm_str(comm),
                    pid,
                    prio,
                    target_cpu
                )
            }
            Event::SchedProcessFork {
                parent_comm,
                parent_pid,
                child_comm,
                child_pid,
            } => write!(
                out,
                "comm={} pid={} child_comm={} child_pid={}",
                comm_str(parent_comm),
                parent_pid,
                comm_str(child_comm),
                child_pid
            ),
            Event::SchedProcessExit { comm, pid, prio }
            | Event::SchedProcessFree { comm, pid, prio }
            | Event::SchedProcessWait { comm, pid, prio } => {
                write!(out, "comm={} pid={} prio={}", comm_str(comm), pid, prio)
            }
            Event::SchedProcessExec {
                filename,
                pid,
                old_pid,
            } => write!(out, "filename={} pid={} old_pid={}", filename, pid, old_pid),
            Event::SchedMigrateTask {
                comm,
                pid,
                prio,
                orig_cpu,
                dest_cpu,
            } => {
                write!(
                    out,
                    "comm={} pid={} prio={} orig_cpu={} dest_cpu={}",
                    comm_str(comm),
                    pid,
                    prio,
                    orig_cpu,
                    dest_cpu
                )
            }
            Event::TaskNewtask {
                pid,
                comm,
                clone_flags,
                oom_score_adj,
            } => {
                write!(
                    out,
                    "pid={} comm={} clone_flags={:x} oom_score_adj={}",
                    pid,
                    comm_str(comm),
                    clone_flags,
                    oom_score_adj
                )
            }
            Event::TaskRename {
                pid,
                oldcomm,
                newcomm,
                oom_score_adj,
            } => write!(
                out,
                "pid={} oldcomm={} newcomm={} oom_score_adj={}",
                pid,
                comm_str(oldcomm),
                comm_str(newcomm),
                oom_score_adj
            ),
            Event::SignalGenerate {
                sig,
                errno,
                code,
                comm,
                pid,
                group,
                result,
            } => write!(
                out,
                "sig={} errno={} code={} comm={} pid={} grp={} res={}",
                sig,
                errno,
                code,
                comm_str(comm),
                pid,
                *group as i32,
                result
            ),
            Event::SignalDeliver {
                sig,
                errno,
                code,
                sa_handler,
                sa_flags,
            } => {
                write!(
                    out,
                    "sig={} errno={} code={} sa_handler={:x} sa_flags={:x}",
                    sig, errno, code, sa_handler, sa_flags
                )
            }
            Event::Print { text } => out.write_str(text),
        }
    }

    /// Everything after the context prefix, newline included: `name: fields\n`
    /// (`trace_raw_output_*`), or for `print` the caller's symbol and the
    /// text (`trace_print_print`), with the newline `trace_marker` adds when
    /// the text has none.
    pub fn write_body(&self, out: &mut impl Write) -> fmt::Result {
        match self {
            Event::Print { text } => {
                write!(out, "tracing_mark_write: {}", text)?;
                if !text.ends_with('\n') {
                    out.write_str("\n")?;
                }
                Ok(())
            }
            _ => {
                write!(out, "{}: ", self.name())?;
                self.write_fields(out)?;
                out.write_str("\n")
            }
        }
    }
}

/// The events that can be enabled (`available_events`), as (system, name),
/// in the order Tine registers them. `ftrace:print` is not among them: like
/// Linux's ftrace-internal events it is always on.
pub const AVAILABLE_EVENTS: &[(&str, &str)] = &[
    ("sched", "sched_switch"),
    ("sched", "sched_wakeup"),
    ("sched", "sched_wakeup_new"),
    ("sched", "sched_process_fork"),
    ("sched", "sched_process_exit"),
    ("sched", "sched_process_free"),
    ("sched", "sched_process_wait"),
    ("sched", "sched_process_exec"),
    ("sched", "sched_migrate_task"),
    ("task", "task_newtask"),
    ("task", "task_rename"),
    ("signal", "signal_generate"),
    ("signal", "signal_deliver"),
];

/// Indices of the events in [`AVAILABLE_EVENTS`] (the kernel keeps one
/// enable flag per index).
pub mod event_id {
    pub const SCHED_SWITCH: usize = 0;
    pub const SCHED_WAKEUP: usize = 1;
    pub const SCHED_WAKEUP_NEW: usize = 2;
    pub const SCHED_PROCESS_FORK: usize = 3;
    pub const SCHED_PROCESS_EXIT: usize = 4;
    pub const SCHED_PROCESS_FREE: usize = 5;
    pub const SCHED_PROCESS_WAIT: usize = 6;
    pub const SCHED_PROCESS_EXEC: usize = 7;
    pub const SCHED_MIGRATE_TASK: usize = 8;
    pub const TASK_NEWTASK: usize = 9;
    pub const TASK_RENAME: usize = 10;
    pub const SIGNAL_GENERATE: usize = 11;
    pub const SIGNAL_DELIVER: usize = 12;
    /// Number of enable-able events.
    pub const NR_EVENTS: usize = 13;
}

/// Which of `events` (a list of (system, name)) one `set_event` /
/// `trace_event=` token names, as a bitmask over the list's indices
/// (Linux's `ftrace_set_clr_event` + `__ftrace_set_clr_event_nolock`):
///
/// * `sys:event`: that event; `sys:*` or `sys:` every event of `sys`;
///   `*:event` or `:event` that event in any system; `*:*` everything;
/// * a token without `:` is an event name *or* a system name.
///
/// `None` when nothing matches (Linux: `-EINVAL`, reported at boot as
/// `Failed to enable trace event: <token>`).
pub fn match_event_spec(events: &[(&str, &str)], token: &str) -> Option<u64> {
    let (matcher, sub, event) = match token.split_once(':') {
        Some((s, e)) => {
            let s = if s.is_empty() || s == "*" {
                None
            } else {
                Some(s)
            };
            let e = if e.is_empty() || e == "*" {
                None
            } else {
                Some(e)
            };
            (None, s, e)
        }
        None => (Some(token), None, None),
    };
    let mut mask = 0u64;
    for (i, &(system, name)) in events.iter().enumerate().take(64) {
        if let Some(m) = matcher {
            if m != name && m != system {
                continue;
            }
        }
        if sub.is_some_and(|s| s != system) {
            continue;
        }
        if event.is_some_and(|e| e != name) {
            continue;
        }
        mask |= 1 << i;
    }
    (mask != 0).then_some(mask)
}

// ---------------------------------------------------------------------------
// Text output

/// Linux's `ns2usecs`: nanoseconds to microseconds, rounded to nearest.
pub fn ns2usecs(ns: u64) -> u64 {
    ns.saturating_add(500) / 1000
}

/// `%*s` / `%-*s` with the width counted in bytes, as C does.
fn write_padded(out: &mut impl Write, s: &str, width: usize, left: bool) -> fmt::Result {
    let pad = width.saturating_sub(s.len());
    if left {
        out.write_str(s)?;
    }
    for _ in 0..pad {
        out.write_char(' ')?;
    }
    if !left {
        out.write_str(s)?;
    }
    Ok(())
}

/// `s` cut to at most `n` bytes, at a character boundary.
fn truncate_bytes(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The flags field (4.19 `trace_print_lat_fmt`): irqs-off, need-resched,
/// hardirq/softirq, preempt depth.
pub fn write_lat_fmt(out: &mut impl Write, e: &TraceEntry) -> fmt::Result {
    let irqs_off = if e.irqs_off { 'd' } else { '.' };
    let need_resched = match (e.need_resched, e.preempt_need_resched) {
        (true, true) => 'N',
        (true, false) => 'n',
        (false, true) => 'p',
        (false, false) => '.',
    };
    let hardsoft = match (e.nmi, e.hardirq, e.softirq) {
        (true, true, _) => 'Z',
        (true, false, _) => 'z',
        (false, true, true) => 'H',
        (false, true, false) => 'h',
        (false, false, true) => 's',
        (false, false, false) => '.',
    };
    write!(out, "{}{}{}", irqs_off, need_resched, hardsoft)?;
    if e.preempt_count != 0 {
        write!(out, "{:x}", e.preempt_count)
    } else {
        out.write_char('.')
    }
}

/// One line of the `trace` file (4.19 `trace_print_context` with irq-info
/// on and record-tgid off, then the event body):
/// `"%16s-%-5d [%03d] %c%c%c%c %5lu.%06lu: "` + body. `task_comm` is the
/// TASK column, looked up by the caller in the saved cmdlines
/// ([`SavedCmdlines::find_cmdline`]).
pub fn format_entry(out: &mut impl Write, e: &TraceEntry, task_comm: &str) -> fmt::Result {
    write_padded(out, task_comm, 16, false)?;
    out.write_char('-')?;
    write_padded(out, itoa(e.pid).as_str(), 5, true)?;
    write!(out, " [{:03}] ", e.cpu)?;
    write_lat_fmt(out, e)?;
    let t = ns2usecs(e.ts_ns);
    write!(out, " {:5}.{:06}: ", t / 1_000_000, t % 1_000_000)?;
    e.event.write_body(out)
}

/// The delay mark of the latency format (4.19 `trace_find_mark`), for the
/// gap to the next entry in ns: `$` > 1 s, `@` > 100 ms, `*` > 10 ms,
/// `#` > 1 ms, `!` > 100 us, `+` > 10 us, else a space.
pub fn trace_find_mark(delta_ns: u64) -> char {
    const MARKS: [(u64, char); 6] = [
        (1_000_000_000, '$'),
        (100_000_000, '@'),
        (10_000_000, '*'),
        (1_000_000, '#'),
        (100_000, '!'),
        (10_000, '+'),
    ];
    MARKS
        .iter()
        .find(|&&(v, _)| delta_ns > v)
        .map_or(' ', |&(_, c)| c)
}

/// One line in the latency format that `ftrace_dump` uses (4.19
/// `lat_print_generic` + `lat_print_timestamp`, not verbose, ns clock):
/// `"%8.8s-%-5d %3d" + flags + " %4lldus%c: "` + body. The time is
/// microseconds since `time_start_ns` (the buffer's last reset), the mark
/// comes from the gap to `next_ts_ns` (pass the entry's own time for none,
/// as every line of a dump does).
pub fn format_entry_lat(
    out: &mut impl Write,
    e: &TraceEntry,
    task_comm: &str,
    time_start_ns: u64,
    next_ts_ns: u64,
) -> fmt::Result {
    write_padded(out, truncate_bytes(task_comm, 8), 8, false)?;
    out.write_char('-')?;
    write_padded(out, itoa(e.pid).as_str(), 5, true)?;
    write!(out, " {:3}", e.cpu)?;
    write_lat_fmt(out, e)?;
    let abs_us = ns2usecs(e.ts_ns.wrapping_sub(time_start_ns));
    let rel_us = ns2usecs(next_ts_ns.wrapping_sub(e.ts_ns));
    write!(
        out,
        " {:4}us{}: ",
        abs_us as i64,
        trace_find_mark(rel_us.wrapping_mul(1000))
    )?;
    e.event.write_body(out)
}

/// A decimal number in a small stack buffer, so it can be padded by bytes.
struct Itoa {
    buf: [u8; 12],
    len: usize,
}
impl Itoa {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}
impl Write for Itoa {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
fn itoa(v: i32) -> Itoa {
    let mut b = Itoa {
        buf: [0; 12],
        len: 0,
    };
    let _ = write!(b, "{}", v);
    b
}

/// The header of the `trace` file (4.19 `s_show` for the first line:
/// `# tracer:`, `print_event_info`, `print_func_help_header_irq` with
/// irq-info on and record-tgid off). `entries_written` is what Linux calls
/// the total: entries in the buffer plus those lost to overwrite.
pub fn write_header(
    out: &mut impl Write,
    tracer: &str,
    entries_in_buffer: u64,
    entries_written: u64,
    ncpus: u32,
) -> fmt::Result {
    write!(out, "# tracer: {}\n#\n", tracer)?;
    write!(
        out,
        "# entries-in-buffer/entries-written: {}/{}   #P:{}\n#\n",
        entries_in_buffer, entries_written, ncpus
    )?;
    let space = "  ";
    writeln!(
        out,
        "#                          {}  _-----=> irqs-off",
        space
    )?;
    writeln!(
        out,
        "#                          {} / _----=> need-resched",
        space
    )?;
    writeln!(
        out,
        "#                          {}| / _---=> hardirq/softirq",
        space
    )?;
    writeln!(
        out,
        "#                          {}|| / _--=> preempt-depth",
        space
    )?;
    writeln!(out, "#                          {}||| /     delay", space)?;
    writeln!(
        out,
        "#           TASK-PID {}CPU#  ||||    TIMESTAMP  FUNCTION",
        space
    )?;
    writeln!(
        out,
        "#              | |   {}  |   ||||       |         |",
        space
    )
}

// ---------------------------------------------------------------------------
// Ring buffer

/// A fixed-capacity per-CPU event buffer in overwrite mode (Linux's
/// ring_buffer with RB_FL_OVERWRITE, one entry per slot instead of pages of
/// variable-size events).
///
/// A push into a full buffer replaces the oldest entry and counts an
/// *overrun*. Readers either look (`iter`, non-consuming, like the `trace`
/// file) or consume (`pop`, `drain`, `consume`, like `trace_pipe` and
/// `ftrace_dump`). `consume` advances past the oldest entry *without
/// dropping it*: its slot keeps the value until a later push or `clear`
/// replaces it, so a consumer that must not free memory (the panic-time
/// dump, where the allocator's lock may belong to a stopped CPU) can read.
///
/// Counters follow Linux's `ring_buffer_entries_cpu`,
/// `ring_buffer_overrun_cpu` and `ring_buffer_read_events_cpu`:
/// `written = entries + overrun + read`.
pub struct RingBuffer<T> {
    slots: Vec<Option<T>>,
    /// Index of the oldest live entry.
    head: usize,
    /// Live entries.
    len: usize,
    written: u64,
    overrun: u64,
    read: u64,
    /// `overrun` when a consumer last asked for lost events.
    last_overrun: u64,
}

impl<T> RingBuffer<T> {
    /// A buffer of `capacity` entries. With 0, every push is an overrun.
    pub fn new(capacity: usize) -> Self {
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, || None);
        RingBuffer {
            slots,
            head: 0,
            len: 0,
            written: 0,
            overrun: 0,
            read: 0,
            last_overrun: 0,
        }
    }

    /// As [`RingBuffer::new`], but `None` instead of aborting when the
    /// memory cannot be had.
    pub fn try_new(capacity: usize) -> Option<Self> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(capacity).ok()?;
        slots.resize_with(capacity, || None);
        Some(RingBuffer {
            slots,
            head: 0,
            len: 0,
            written: 0,
            overrun: 0,
            read: 0,
            last_overrun: 0,
        })
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Entries held now.
    pub fn entries(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries lost because the buffer was full.
    pub fn overrun(&self) -> u64 {
        self.overrun
    }

    /// Entries pushed since creation or the last `clear`.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Entries consumed by readers.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// Add `v` as the newest entry, replacing the oldest if full.
    pub fn push(&mut self, v: T) {
        self.written += 1;
        let cap = self.slots.len();
        if cap == 0 {
            self.overrun += 1;
            return;
        }
        if self.len == cap {
            self.slots[self.head] = Some(v);
            self.head = (self.head + 1) % cap;
            self.overrun += 1;
        } else {
            self.slots[(self.head + self.len) % cap] = Some(v);
            self.len += 1;
        }
    }

    /// The oldest entry.
    pub fn peek(&self) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        self.slots[self.head].as_ref()
    }

    /// Consume the oldest entry without dropping it (see the type's doc).
    pub fn consume(&mut self) -> bool {
        if self.len == 0 {
            return false;
        }
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        self.read += 1;
        true
    }

    /// Remove and return the oldest entry.
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let v = self.slots[self.head].take();
        self.consume();
        v
    }

    /// Entries lost to overwrite since the last call (what Linux's reader
    /// reports as `CPU:%d [LOST %lu EVENTS]`).
    pub fn take_lost_events(&mut self) -> u64 {
        let lost = self.overrun - self.last_overrun;
        self.last_overrun = self.overrun;
        lost
    }

    /// Oldest to newest, without consuming.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let cap = self.slots.len();
        (0..self.len).filter_map(move |i| self.slots[(self.head + i) % cap].as_ref())
    }

    /// Consume everything, oldest first.
    pub fn drain(&mut self) -> Drain<'_, T> {
        Drain { rb: self }
    }

    /// Drop every entry and reset the counters (`ring_buffer_reset_cpu`).
    pub fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            *s = None;
        }
        self.head = 0;
        self.len = 0;
        self.written = 0;
        self.overrun = 0;
        self.read = 0;
        self.last_overrun = 0;
    }
}

/// Iterator of [`RingBuffer::drain`].
pub struct Drain<'a, T> {
    rb: &'a mut RingBuffer<T>,
}
impl<T> Iterator for Drain<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rb.pop()
    }
}

// ---------------------------------------------------------------------------
// Saved cmdlines

/// Linux's default number of saved comms (`SAVED_CMDLINES_DEFAULT`).
pub const SAVED_CMDLINES_DEFAULT: usize = 128;
/// `PID_MAX_DEFAULT`: pids are hashed into this many map slots.
pub const PID_MAX_DEFAULT: i32 = 0x8000;
const NO_CMDLINE_MAP: u16 = u16::MAX;

/// The pid -> comm cache behind the TASK column and `saved_cmdlines`
/// (4.19 `struct saved_cmdlines_buffer`, `trace_save_cmdline`,
/// `__trace_find_cmdline`).
///
/// `cmdline_num` slots are handed out round-robin (the first is slot 1):
/// a pid not yet mapped takes the slot after the last one handed out,
/// evicting whoever had it. The map from pid to slot is indexed by
/// `pid & (PID_MAX_DEFAULT - 1)` and is never cleared on eviction, so a
/// lookup checks that the slot still belongs to the pid (else `<...>`), and
/// an evicted pid that records again reuses its old slot. Pid 0 is never
/// stored: it is always `<idle>`.
pub struct SavedCmdlines {
    map_pid_to_cmdline: Vec<u16>,
    map_cmdline_to_pid: Vec<i32>,
    saved_cmdlines: Vec<Comm>,
    cmdline_idx: usize,
}

impl Default for SavedCmdlines {
    fn default() -> Self {
        Self::new()
    }
}

impl SavedCmdlines {
    /// A cache with Linux's default 128 slots.
    pub fn new() -> Self {
        Self::with_size(SAVED_CMDLINES_DEFAULT)
    }

    /// A cache with `num` slots (`saved_cmdlines_size`), 1..=65534.
    pub fn with_size(num: usize) -> Self {
        let num = num.clamp(1, NO_CMDLINE_MAP as usize - 1);
        SavedCmdlines {
            map_pid_to_cmdline: vec![NO_CMDLINE_MAP; PID_MAX_DEFAULT as usize],
            map_cmdline_to_pid: vec![-1; num],
            saved_cmdlines: vec![[0; TASK_COMM_LEN]; num],
            cmdline_idx: 0,
        }
    }

    pub fn size(&self) -> usize {
        self.saved_cmdlines.len()
    }

    /// Remember `comm` for `pid` (`trace_save_cmdline`). Pid 0 counts as
    /// recorded; negative pids are refused.
    pub fn record(&mut self, pid: i32, comm: &Comm) -> bool {
        if pid == 0 {
            return true;
        }
        if pid < 0 {
            return false;
        }
        let tpid = (pid & (PID_MAX_DEFAULT - 1)) as usize;
        let mut idx = self.map_pid_to_cmdline[tpid];
        if idx == NO_CMDLINE_MAP {
            idx = ((self.cmdline_idx + 1) % self.size()) as u16;
            self.map_pid_to_cmdline[tpid] = idx;
            self.cmdline_idx = idx as usize;
        }
        self.map_cmdline_to_pid[idx as usize] = pid;
        // set_cmdline: the comm as a C string, NUL-terminated within 16 bytes.
        let mut c = *comm;
        c[TASK_COMM_LEN - 1] = 0;
        self.saved_cmdlines[idx as usize] = c;
        true
    }

    /// The comm saved for `pid`: `<idle>` for 0, `None` if not cached.
    pub fn lookup(&self, pid: i32) -> Option<Comm> {
        if pid == 0 {
            return Some(comm_from_str("<idle>"));
        }
        if pid < 0 {
            return None;
        }
        let tpid = (pid & (PID_MAX_DEFAULT - 1)) as usize;
        let map = self.map_pid_to_cmdline[tpid];
        if map != NO_CMDLINE_MAP && self.map_cmdline_to_pid[map as usize] == pid {
            return Some(self.saved_cmdlines[map as usize]);
        }
        None
    }

    /// The TASK column for `pid` (`trace_find_cmdline`): the cached comm,
    /// `<idle>` for 0, `<XXX>` for a negative pid, `<...>` if unknown.
    pub fn find_cmdline(&self, pid: i32) -> Comm {
        if pid < 0 {
            return comm_from_str("<XXX>");
        }
        self.lookup(pid).unwrap_or_else(|| comm_from_str("<...>"))
    }

    /// The valid (pid, comm) pairs in slot order (the `saved_cmdlines` file
    /// prints them as `"%d %s\n"`).
    pub fn iter(&self) -> impl Iterator<Item = (i32, &Comm)> + '_ {
        self.map_cmdline_to_pid
            .iter()
            .zip(self.saved_cmdlines.iter())
            .filter(|(&pid, _)| pid > 0)
            .filter(move |(&pid, _)| self.lookup(pid).is_some())
            .map(|(&pid, c)| (pid, c))
    }
}

// ---------------------------------------------------------------------------
// Merging the per-CPU buffers

/// Index (into `heads`) of the entry to print next: the smallest timestamp,
/// the lowest CPU among equal ones (Linux's `__find_next_entry` takes the
/// first CPU whose entry is strictly older). `None` if all are empty.
pub fn find_next<'a>(heads: impl IntoIterator<Item = Option<&'a TraceEntry>>) -> Option<usize> {
    let mut best: Option<(usize, u64)> = None;
    for (i, e) in heads.into_iter().enumerate() {
        if let Some(e) = e {
            if best.is_none_or(|(_, ts)| e.ts_ns < ts) {
                best = Some((i, e.ts_ns));
            }
        }
    }
    best.map(|(i, _)| i)
}

/// All entries of the per-CPU lists (each oldest first) in the order a
/// reader of `trace` sees them: by time, ties broken by lower list index.
pub fn merge_by_time<'a>(cpus: &[&'a [TraceEntry]]) -> Vec<&'a TraceEntry> {
    let mut pos = vec![0usize; cpus.len()];
    let total = cpus.iter().map(|c| c.len()).sum();
    let mut out = Vec::with_capacity(total);
    while let Some(i) = find_next(cpus.iter().zip(pos.iter()).map(|(c, &p)| c.get(p))) {
        out.push(&cpus[i][pos[i]]);
        pos[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    fn c(s: &str) -> Comm {
        comm_from_str(s)
    }

    /// A timestamp as the trace prints it: seconds and microseconds.
    fn t(secs: u64, usecs: u64) -> u64 {
        secs * 1_000_000_000 + usecs * 1000
    }

    /// An entry with the context of a seed line: `flags` as printed (4 chars).
    fn entry(ts_ns: u64, cpu: u32, pid: i32, flags: &str, event: Event) -> TraceEntry {
        let f = flags.as_bytes();
        let pc = if f[3] == b'.' {
            0
        } else {
            u8::from_str_radix(&flags[3..], 16).unwrap()
        };
        TraceEntry {
            ts_ns,
            cpu,
            pid,
            irqs_off: f[0] == b'd',
            need_resched: f[1] == b'n' || f[1] == b'N',
            preempt_need_resched: f[1] == b'N' || f[1] == b'p',
            hardirq: matches!(f[2], b'h' | b'H' | b'Z'),
            softirq: matches!(f[2], b's' | b'H'),
            nmi: matches!(f[2], b'z' | b'Z'),
            preempt_count: pc,
            event,
        }
    }

    fn line(e: &TraceEntry, task: &str) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        format_entry(&mut s, e, task).unwrap();
        s
    }

    fn switch(prev: &str, prev_pid: i32, state: u64, next: &str, next_pid: i32) -> Event {
        Event::SchedSwitch {
            prev_comm: c(prev),
            prev_pid,
            prev_prio: 120,
            prev_state: state,
            next_comm: c(next),
            next_pid,
            next_prio: 120,
        }
    }

    // Lines copied from the 4.19 seed trace (/work/shared/seeds/000_*.txt).

    #[test]
    fn seed_sched_switch() {
        let e = entry(
            t(6246, 926827),
            1,
            0,
            "d...",
            switch("swapper/1", 0, 0, "bash", 1617),
        );
        assert_eq!(
            line(&e, "<idle>"),
            "          <idle>-0     [001] d...  6246.926827: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=bash next_pid=1617 next_prio=120\n"
        );
        let e = entry(
            t(6246, 927539),
            3,
            1437,
            "d...",
            switch("bash", 1437, prev_state::S, "swapper/3", 0),
        );
        assert_eq!(
            line(&e, "bash"),
            "            bash-1437  [003] d...  6246.927539: sched_switch: prev_comm=bash prev_pid=1437 prev_prio=120 prev_state=S ==> next_comm=swapper/3 next_pid=0 next_prio=120\n"
        );
        let e = entry(
            t(6246, 931851),
            1,
            1617,
            "d...",
            switch(
                "raspbian_proc",
                1617,
                prev_state::TASK_REPORT_MAX,
                "kworker/u8:2",
                124,
            ),
        );
        assert_eq!(
            line(&e, "raspbian_proc"),
            "   raspbian_proc-1617  [001] d...  6246.931851: sched_switch: prev_comm=raspbian_proc prev_pid=1617 prev_prio=120 prev_state=R+ ==> next_comm=kworker/u8:2 next_pid=124 next_prio=120\n"
        );
        let e = entry(
            t(6246, 928141),
            1,
            143,
            "d...",
            switch("kworker/1:2", 143, prev_state::I, "bash", 1617),
        );
        assert_eq!(
            line(&e, "kworker/1:2"),
            "     kworker/1:2-143   [001] d...  6246.928141: sched_switch: prev_comm=kworker/1:2 prev_pid=143 prev_prio=120 prev_state=I ==> next_comm=bash next_pid=1617 next_prio=120\n"
        );
        let e = entry(
            t(6264, 583384),
            1,
            1617,
            "d...",
            switch("raspbian_proc", 1617, prev_state::Z, "bash", 1465),
        );
        assert!(line(&e, "raspbian_proc").contains(" prev_state=Z ==> "));
        let e = entry(
            t(6215, 67273),
            2,
            1168,
            "d...",
            switch("rpi_proc_exit", 1168, prev_state::X, "swapper/2", 0),
        );
        assert_eq!(
            line(&e, "rpi_proc_exit"),
            "   rpi_proc_exit-1168  [002] d...  6215.067273: sched_switch: prev_comm=rpi_proc_exit prev_pid=1168 prev_prio=120 prev_state=X ==> next_comm=swapper/2 next_pid=0 next_prio=120\n"
        );
    }

    #[test]
    fn prev_state_letters() {
        let s = |v| {
            let mut o = alloc::string::String::new();
            write_prev_state(&mut o, v).unwrap();
            o
        };
        assert_eq!(s(0), "R");
        assert_eq!(s(0x100), "R+");
        assert_eq!(s(0x1), "S");
        assert_eq!(s(0x2), "D");
        assert_eq!(s(0x4), "T");
        assert_eq!(s(0x8), "t");
        assert_eq!(s(0x10), "X");
        assert_eq!(s(0x20), "Z");
        assert_eq!(s(0x40), "P");
        assert_eq!(s(0x80), "I");
        assert_eq!(s(0x3), "S|D");
        assert_eq!(s(0x101), "S+");
        // Bits above TASK_REPORT_MAX are masked off, as in the TP_printk.
        assert_eq!(s(0x200), "R");
    }

    #[test]
    fn seed_sched_wakeup() {
        let ev = |comm: &str, pid, cpu| Event::SchedWakeup {
            comm: c(comm),
            pid,
            prio: 120,
            target_cpu: cpu,
        };
        let e = entry(t(6246, 928044), 1, 1617, "dns.", ev("kworker/1:2", 143, 1));
        assert_eq!(
            line(&e, "raspbian_proc"),
            "   raspbian_proc-1617  [001] dns.  6246.928044: sched_wakeup: comm=kworker/1:2 pid=143 prio=120 target_cpu=001\n"
        );
        let e = entry(t(6246, 928100), 2, 0, "dnh.", ev("rcu_sched", 10, 2));
        assert_eq!(
            line(&e, "<idle>"),
            "          <idle>-0     [002] dnh.  6246.928100: sched_wakeup: comm=rcu_sched pid=10 prio=120 target_cpu=002\n"
        );
        let e = entry(t(6246, 931836), 1, 1617, "dn..", ev("kworker/u8:2", 124, 1));
        assert_eq!(
            line(&e, "raspbian_proc"),
            "   raspbian_proc-1617  [001] dn..  6246.931836: sched_wakeup: comm=kworker/u8:2 pid=124 prio=120 target_cpu=001\n"
        );
        let e = entry(
            t(6264, 582233),
            1,
            1465,
            "d...",
            ev("raspbian_proc", 1617, 1),
        );
        assert_eq!(
            line(&e, "bash"),
            "            bash-1465  [001] d...  6264.582233: sched_wakeup: comm=raspbian_proc pid=1617 prio=120 target_cpu=001\n"
        );
        let e = entry(
            0,
            0,
            1,
            "d..2",
            Event::SchedWakeupNew {
                comm: c("sh"),
                pid: 254,
                prio: 120,
                target_cpu: 1,
            },
        );
        assert!(
            line(&e, "sh").ends_with("sched_wakeup_new: comm=sh pid=254 prio=120 target_cpu=001\n")
        );
    }

    #[test]
    fn seed_fork_exit() {
        let e = entry(
            t(6246, 926795),
            3,
            1437,
            "....",
            Event::SchedProcessFork {
                parent_comm: c("bash"),
                parent_pid: 1437,
                child_comm: c("bash"),
                child_pid: 1617,
            },
        );
        assert_eq!(
            line(&e, "bash"),
            "            bash-1437  [003] ....  6246.926795: sched_process_fork: comm=bash pid=1437 child_comm=bash child_pid=1617\n"
        );
        let e = entry(
            t(6264, 583304),
            1,
            1617,
            "....",
            Event::SchedProcessExit {
                comm: c("raspbian_proc"),
                pid: 1617,
                prio: 120,
            },
        );
        assert_eq!(
            line(&e, "raspbian_proc"),
            "   raspbian_proc-1617  [001] ....  6264.583304: sched_process_exit: comm=raspbian_proc pid=1617 prio=120\n"
        );
        let e = entry(
            t(6215, 67159),
            2,
            1168,
            "....",
            Event::SchedProcessExit {
                comm: c("rpi_proc_exit"),
                pid: 1168,
                prio: 120,
            },
        );
        assert_eq!(
            line(&e, "rpi_proc_exit"),
            "   rpi_proc_exit-1168  [002] ....  6215.067159: sched_process_exit: comm=rpi_proc_exit pid=1168 prio=120\n"
        );
    }

    #[test]
    fn seed_signals() {
        let gen = |sig, code, comm: &str, pid| Event::SignalGenerate {
            sig,
            errno: 0,
            code,
            comm: c(comm),
            pid,
            group: true,
            result: 0,
        };
        let e = entry(
            t(6264, 582237),
            1,
            1465,
            "d...",
            gen(9, 0, "raspbian_proc", 1617),
        );
        assert_eq!(
            line(&e, "bash"),
            "            bash-1465  [001] d...  6264.582237: signal_generate: sig=9 errno=0 code=0 comm=raspbian_proc pid=1617 grp=1 res=0\n"
        );
        let e = entry(t(6264, 583368), 1, 1617, "d...", gen(17, 2, "bash", 1437));
        assert_eq!(
            line(&e, "raspbian_proc"),
            "   raspbian_proc-1617  [001] d...  6264.583368: signal_generate: sig=17 errno=0 code=2 comm=bash pid=1437 grp=1 res=0\n"
        );
        let e = entry(t(6215, 67224), 2, 1168, "d...", gen(17, 1, "bash", 911));
        assert_eq!(
            line(&e, "rpi_proc_exit"),
            "   rpi_proc_exit-1168  [002] d...  6215.067224: signal_generate: sig=17 errno=0 code=1 comm=bash pid=911 grp=1 res=0\n"
        );
        let del = |sig, code, h, f| Event::SignalDeliver {
            sig,
            errno: 0,
            code,
            sa_handler: h,
            sa_flags: f,
        };
        let e = entry(t(6264, 582966), 1, 1617, "d...", del(9, 0, 0, 0));
        assert_eq!(
            line(&e, "raspbian_proc"),
            "   raspbian_proc-1617  [001] d...  6264.582966: signal_deliver: sig=9 errno=0 code=0 sa_handler=0 sa_flags=0\n"
        );
        let e = entry(
            t(6264, 583750),
            3,
            1437,
            "d...",
            del(17, 2, 0x55a6c, 0x14000000),
        );
        assert_eq!(
            line(&e, "bash"),
            "            bash-1437  [003] d...  6264.583750: signal_deliver: sig=17 errno=0 code=2 sa_handler=55a6c sa_flags=14000000\n"
        );
        let e = entry(
            t(6215, 67442),
            1,
            911,
            "d...",
            del(17, 1, 0x55a6c, 0x14000000),
        );
        assert_eq!(
            line(&e, "bash"),
            "            bash-911   [001] d...  6215.067442: signal_deliver: sig=17 errno=0 code=1 sa_handler=55a6c sa_flags=14000000\n"
        );
    }

    #[test]
    fn other_events() {
        let e = entry(
            17_233_281_000,
            1,
            271,
            "...1",
            Event::TaskNewtask {
                pid: 271,
                comm: c("kthreadd"),
                clone_flags: 0x800700,
                oom_score_adj: 0,
            },
        );
        assert_eq!(
            line(&e, "kthreadd"),
            "        kthreadd-271   [001] ...1    17.233281: task_newtask: pid=271 comm=kthreadd clone_flags=800700 oom_score_adj=0\n"
        );
        let e = entry(
            0,
            0,
            2,
            "...1",
            Event::TaskRename {
                pid: 271,
                oldcomm: c("kthreadd"),
                newcomm: c("khugepaged"),
                oom_score_adj: -1000,
            },
        );
        assert!(line(&e, "kthreadd").ends_with(
            "task_rename: pid=271 oldcomm=kthreadd newcomm=khugepaged oom_score_adj=-1000\n"
        ));
        let e = entry(
            0,
            0,
            254,
            "....",
            Event::SchedProcessExec {
                filename: "/bin/raspbian_proc".to_string(),
                pid: 254,
                old_pid: 254,
            },
        );
        assert!(line(&e, "raspbian_proc")
            .ends_with("sched_process_exec: filename=/bin/raspbian_proc pid=254 old_pid=254\n"));
        let e = entry(
            0,
            0,
            92,
            "....",
            Event::SchedProcessWait {
                comm: c("sh"),
                pid: 0,
                prio: 120,
            },
        );
        assert!(line(&e, "sh").ends_with("sched_process_wait: comm=sh pid=0 prio=120\n"));
        let e = entry(
            0,
            0,
            0,
            "..s1",
            Event::SchedProcessFree {
                comm: c("sleep"),
                pid: 253,
                prio: 120,
            },
        );
        assert!(line(&e, "<idle>").ends_with(
            "[000] ..s1     0.000000: sched_process_free: comm=sleep pid=253 prio=120\n"
        ));
        let e = entry(
            0,
            2,
            14,
            "d..2",
            Event::SchedMigrateTask {
                comm: c("bash"),
                pid: 1617,
                prio: 120,
                orig_cpu: 1,
                dest_cpu: 2,
            },
        );
        assert!(line(&e, "migration/2")
            .ends_with("sched_migrate_task: comm=bash pid=1617 prio=120 orig_cpu=1 dest_cpu=2\n"));
        // trace_marker text: the newline is added if missing, kept if present.
        let e = entry(
            t(5000, 123456),
            0,
            252,
            "....",
            Event::Print {
                text: "hello".to_string(),
            },
        );
        assert_eq!(
            line(&e, "sh"),
            "              sh-252   [000] ....  5000.123456: tracing_mark_write: hello\n"
        );
        let e = entry(
            t(5000, 123456),
            0,
            252,
            "....",
            Event::Print {
                text: "hello\n".to_string(),
            },
        );
        assert_eq!(
            line(&e, "sh"),
            "              sh-252   [000] ....  5000.123456: tracing_mark_write: hello\n"
        );
    }

    #[test]
    fn names_and_systems() {
        let e = Event::SignalDeliver {
            sig: 1,
            errno: 0,
            code: 0,
            sa_handler: 0,
            sa_flags: 0,
        };
        assert_eq!((e.system(), e.name()), ("signal", "signal_deliver"));
        let e = Event::TaskRename {
            pid: 1,
            oldcomm: c("a"),
            newcomm: c("b"),
            oom_score_adj: 0,
        };
        assert_eq!((e.system(), e.name()), ("task", "task_rename"));
        let e = Event::Print {
            text: String::new(),
        };
        assert_eq!((e.system(), e.name()), ("ftrace", "print"));
        let e = Event::SchedProcessFree {
            comm: c("a"),
            pid: 1,
            prio: 1,
        };
        assert_eq!((e.system(), e.name()), ("sched", "sched_process_free"));
        // Every event but print is in the registry under its own system.
        for (sys, name) in AVAILABLE_EVENTS {
            assert!(matches!(*sys, "sched" | "task" | "signal"), "{}", name);
        }
        // The ids index the registry.
        use event_id::*;
        let ids = [
            (SCHED_SWITCH, "sched_switch"),
            (SCHED_WAKEUP, "sched_wakeup"),
            (SCHED_WAKEUP_NEW, "sched_wakeup_new"),
            (SCHED_PROCESS_FORK, "sched_process_fork"),
            (SCHED_PROCESS_EXIT, "sched_process_exit"),
            (SCHED_PROCESS_FREE, "sched_process_free"),
            (SCHED_PROCESS_WAIT, "sched_process_wait"),
            (SCHED_PROCESS_EXEC, "sched_process_exec"),
            (SCHED_MIGRATE_TASK, "sched_migrate_task"),
            (TASK_NEWTASK, "task_newtask"),
            (TASK_RENAME, "task_rename"),
            (SIGNAL_GENERATE, "signal_generate"),
            (SIGNAL_DELIVER, "signal_deliver"),
        ];
        assert_eq!(ids.len(), NR_EVENTS);
        assert_eq!(AVAILABLE_EVENTS.len(), NR_EVENTS);
        for (id, name) in ids {
            assert_eq!(AVAILABLE_EVENTS[id].1, name);
        }
    }

    #[test]
    fn flag_combinations() {
        let f = |flags: &str| {
            let e = entry(
                0,
                0,
                1,
                flags,
                Event::Print {
                    text: String::new(),
                },
            );
            let mut s = alloc::string::String::new();
            write_lat_fmt(&mut s, &e).unwrap();
            s
        };
        for flags in [
            "d...", "dn..", "dnh.", "dns.", "d..2", "....", "..s1", "dNh2", "dNs5", "d.H.", "d.z.",
            "d.Z.", ".p..", "...f",
        ] {
            assert_eq!(f(flags), flags);
        }
        // The depth is the whole low byte in %x, so it can take two columns.
        let mut e = entry(
            0,
            0,
            1,
            "....",
            Event::Print {
                text: String::new(),
            },
        );
        e.preempt_count = 0x12;
        let mut s = alloc::string::String::new();
        write_lat_fmt(&mut s, &e).unwrap();
        assert_eq!(s, "...12");
        // NMI wins over hardirq/softirq; hardirq in softirq is H.
        e.preempt_count = 0;
        e.nmi = true;
        e.softirq = true;
        s.clear();
        write_lat_fmt(&mut s, &e).unwrap();
        assert_eq!(s, "..z.");
    }

    #[test]
    fn context_widths() {
        // Long pids widen the column; the comm is right-aligned in 16.
        let e = entry(
            17_284_993_652_000,
            0,
            123456,
            "d..1",
            Event::Print {
                text: "x".to_string(),
            },
        );
        assert_eq!(
            line(&e, "bash"),
            "            bash-123456 [000] d..1 17284.993652: tracing_mark_write: x\n"
        );
        // Seconds grow past five digits; the pid is left-aligned in 5.
        let e = entry(
            120_003_681_933_000,
            12,
            7,
            "....",
            Event::Print {
                text: "x".to_string(),
            },
        );
        assert_eq!(
            line(&e, "<...>"),
            "           <...>-7     [012] .... 120003.681933: tracing_mark_write: x\n"
        );
        // 4.19 rounds ns to the nearest microsecond (ns2usecs).
        let e = entry(
            6_467_443_500,
            0,
            1,
            "....",
            Event::Print {
                text: "x".to_string(),
            },
        );
        assert!(line(&e, "init").contains("     6.467444: "));
        let e = entry(
            6_467_443_499,
            0,
            1,
            "....",
            Event::Print {
                text: "x".to_string(),
            },
        );
        assert!(line(&e, "init").contains("     6.467443: "));
    }

    #[test]
    fn lat_format() {
        // As ftrace_dump prints it (lines of a 4.x dump on the mailing lists).
        let e = entry(
            t(1562, 233517),
            2,
            0,
            "d.h.",
            Event::Print {
                text: "x".to_string(),
            },
        );
        let mut s = alloc::string::String::new();
        format_entry_lat(&mut s, &e, "<idle>", 0, e.ts_ns).unwrap();
        assert_eq!(
            s,
            "  <idle>-0       2d.h. 1562233517us : tracing_mark_write: x\n"
        );
        let e = entry(
            t(1562, 233520),
            0,
            135,
            "d...",
            switch("torture_onoff", 135, prev_state::D, "migration/0", 11),
        );
        s.clear();
        format_entry_lat(&mut s, &e, "torture_onoff", 0, e.ts_ns).unwrap();
        assert_eq!(
            s,
            "torture_-135     0d... 1562233520us : sched_switch: prev_comm=torture_onoff prev_pid=135 prev_prio=120 prev_state=D ==> next_comm=migration/0 next_pid=11 next_prio=120\n"
        );
        // Relative to the buffer's reset time, at least 4 wide, with the mark.
        let e = entry(
            5_000_000,
            13,
            1,
            "....",
            Event::Print {
                text: "x".to_string(),
            },
        );
        s.clear();
        format_entry_lat(&mut s, &e, "init", 4_990_000, 5_000_000 + 200_000).unwrap();
        assert_eq!(s, "    init-1      13....   10us!: tracing_mark_write: x\n");
        assert_eq!(trace_find_mark(0), ' ');
        assert_eq!(trace_find_mark(10_000), ' ');
        assert_eq!(trace_find_mark(10_001), '+');
        assert_eq!(trace_find_mark(1_000_001), '#');
        assert_eq!(trace_find_mark(20_000_000), '*');
        assert_eq!(trace_find_mark(200_000_000), '@');
        assert_eq!(trace_find_mark(2_000_000_000), '$');
    }

    #[test]
    fn header_419() {
        let mut s = alloc::string::String::new();
        write_header(&mut s, "nop", 3, 5, 4).unwrap();
        let expected = "\
# tracer: nop
#
# entries-in-buffer/entries-written: 3/5   #P:4
#
#                              _-----=> irqs-off
#                             / _----=> need-resched
#                            | / _---=> hardirq/softirq
#                            || / _--=> preempt-depth
#                            ||| /     delay
#           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION
#              | |       |   ||||       |         |
";
        assert_eq!(s, expected);
        // The column legend lines up with a line of the same format.
        let e = entry(
            17_284_993_652_000,
            0,
            1977,
            "d..1",
            Event::Print {
                text: "x".to_string(),
            },
        );
        let l = line(&e, "bash");
        let legend: alloc::vec::Vec<&str> = s.lines().collect();
        let cpu_col = legend[9].find("CPU#").unwrap();
        assert_eq!(&l[cpu_col..cpu_col + 5], "[000]");
        let flags_col = legend[9].find("||||").unwrap();
        assert_eq!(&l[flags_col..flags_col + 4], "d..1");
        assert_eq!(legend[6].find('|').unwrap(), flags_col);
    }

    #[test]
    fn comm_helpers() {
        assert_eq!(comm_str(&comm_from_str("bash")), "bash");
        assert_eq!(
            comm_str(&comm_from_str("a_very_long_name_indeed")),
            "a_very_long_nam"
        );
        assert_eq!(comm_from_str("a_very_long_name_indeed")[15], 0);
        assert_eq!(comm_str(&[0xff; 16]), "");
        let mut bad = comm_from_str("ab");
        bad[2] = 0xc3;
        assert_eq!(comm_str(&bad), "ab");
    }

    #[test]
    fn event_spec_matching() {
        let ev = AVAILABLE_EVENTS;
        let idx =
            |sys: &str, name: &str| ev.iter().position(|&(s, n)| s == sys && n == name).unwrap();
        let sched: u64 = ev
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| *s == "sched")
            .map(|(i, _)| 1u64 << i)
            .sum();
        let all = (1u64 << ev.len()) - 1;
        assert_eq!(match_event_spec(ev, "sched:*"), Some(sched));
        assert_eq!(match_event_spec(ev, "sched:"), Some(sched));
        assert_eq!(match_event_spec(ev, "sched"), Some(sched));
        assert_eq!(match_event_spec(ev, "*:*"), Some(all));
        assert_eq!(match_event_spec(ev, ":"), Some(all));
        assert_eq!(
            match_event_spec(ev, "sched:sched_switch"),
            Some(1 << idx("sched", "sched_switch"))
        );
        assert_eq!(
            match_event_spec(ev, "sched_switch"),
            Some(1 << idx("sched", "sched_switch"))
        );
        assert_eq!(
            match_event_spec(ev, "*:signal_deliver"),
            Some(1 << idx("signal", "signal_deliver"))
        );
        assert_eq!(
            match_event_spec(ev, ":task_rename"),
            Some(1 << idx("task", "task_rename"))
        );
        assert_eq!(
            match_event_spec(ev, "signal:*"),
            Some((1 << idx("signal", "signal_generate")) | (1 << idx("signal", "signal_deliver")))
        );
        assert_eq!(match_event_spec(ev, "task:*").map(u64::count_ones), Some(2));
        assert_eq!(match_event_spec(ev, "foo"), None);
        assert_eq!(match_event_spec(ev, "sched:signal_deliver"), None);
        assert_eq!(match_event_spec(ev, "irq:*"), None);
        assert_eq!(match_event_spec(ev, "print"), None);
    }

    #[test]
    fn ring_overwrite_and_counters() {
        let mut rb = RingBuffer::new(4);
        assert!(rb.is_empty());
        for i in 0..3 {
            rb.push(i);
        }
        assert_eq!((rb.entries(), rb.overrun(), rb.written()), (3, 0, 3));
        assert_eq!(rb.iter().copied().collect::<Vec<_>>(), [0, 1, 2]);
        for i in 3..10 {
            rb.push(i);
        }
        assert_eq!((rb.entries(), rb.overrun(), rb.written()), (4, 6, 10));
        assert_eq!(rb.iter().copied().collect::<Vec<_>>(), [6, 7, 8, 9]);
        assert_eq!(rb.take_lost_events(), 6);
        assert_eq!(rb.take_lost_events(), 0);
        assert_eq!(rb.peek(), Some(&6));
        assert_eq!(rb.pop(), Some(6));
        assert!(rb.consume());
        assert_eq!((rb.entries(), rb.read()), (2, 2));
        // written = entries + overrun + read
        assert_eq!(rb.written(), rb.entries() as u64 + rb.overrun() + rb.read());
        rb.push(10);
        rb.push(11);
        rb.push(12);
        assert_eq!(rb.iter().copied().collect::<Vec<_>>(), [9, 10, 11, 12]);
        assert_eq!(rb.drain().collect::<Vec<_>>(), [9, 10, 11, 12]);
        assert!(rb.is_empty());
        assert_eq!(rb.pop(), None);
        assert!(!rb.consume());
        rb.clear();
        assert_eq!(
            (rb.entries(), rb.overrun(), rb.written(), rb.read()),
            (0, 0, 0, 0)
        );
        rb.push(1);
        assert_eq!(rb.iter().copied().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn ring_zero_capacity() {
        assert_eq!(RingBuffer::<u8>::try_new(3).map(|r| r.capacity()), Some(3));
        let mut rb = RingBuffer::new(0);
        rb.push(1);
        assert_eq!((rb.entries(), rb.overrun(), rb.written()), (0, 1, 1));
        assert_eq!(rb.peek(), None);
    }

    #[test]
    fn ring_consume_keeps_value_until_overwritten() {
        use alloc::rc::Rc;
        let v = Rc::new(());
        let mut rb = RingBuffer::new(2);
        rb.push(v.clone());
        assert!(rb.consume());
        // Consumed but not yet dropped: the panic-time dump frees nothing.
        assert_eq!(Rc::strong_count(&v), 2);
        rb.push(Rc::new(()));
        rb.push(Rc::new(()));
        assert_eq!(Rc::strong_count(&v), 1);
    }

    #[test]
    fn cmdline_cache() {
        let mut sc = SavedCmdlines::new();
        assert_eq!(sc.size(), 128);
        assert_eq!(comm_str(&sc.find_cmdline(0)), "<idle>");
        assert_eq!(comm_str(&sc.find_cmdline(1617)), "<...>");
        assert_eq!(comm_str(&sc.find_cmdline(-3)), "<XXX>");
        assert!(sc.record(1617, &c("bash")));
        assert!(sc.record(0, &c("swapper/0")));
        assert_eq!(comm_str(&sc.find_cmdline(0)), "<idle>");
        assert_eq!(
            sc.lookup(1617).map(|x| comm_str(&x).to_string()),
            Some("bash".to_string())
        );
        // exec renames: the same slot is updated.
        sc.record(1617, &c("raspbian_proc"));
        assert_eq!(comm_str(&sc.find_cmdline(1617)), "raspbian_proc");
        assert_eq!(sc.iter().count(), 1);
        assert!(!sc.record(-1, &c("x")));
    }

    #[test]
    fn cmdline_round_robin_eviction() {
        let mut sc = SavedCmdlines::with_size(4);
        for pid in 1..=4 {
            sc.record(pid, &comm_from_str(&format!("t{}", pid)));
        }
        for pid in 1..=4 {
            assert_eq!(comm_str(&sc.find_cmdline(pid)), format!("t{}", pid));
        }
        // Slots are handed out 1, 2, 3, 0, so the fifth pid takes slot 1
        // again and evicts pid 1, the next one evicts pid 2.
        sc.record(5, &c("t5"));
        assert_eq!(comm_str(&sc.find_cmdline(1)), "<...>");
        assert_eq!(comm_str(&sc.find_cmdline(5)), "t5");
        assert_eq!(comm_str(&sc.find_cmdline(2)), "t2");
        sc.record(6, &c("t6"));
        assert_eq!(comm_str(&sc.find_cmdline(2)), "<...>");
        // Re-recording a cached pid does not evict anyone.
        sc.record(6, &c("t6b"));
        assert_eq!(comm_str(&sc.find_cmdline(3)), "t3");
        assert_eq!(comm_str(&sc.find_cmdline(6)), "t6b");
        // An evicted pid that records again takes back its old slot (the
        // map is not cleared), evicting the slot's new owner.
        sc.record(1, &c("t1"));
        assert_eq!(comm_str(&sc.find_cmdline(1)), "t1");
        assert_eq!(comm_str(&sc.find_cmdline(5)), "<...>");
        // Pids that collide modulo PID_MAX_DEFAULT share a map entry.
        let mut sc = SavedCmdlines::new();
        sc.record(7, &c("low"));
        sc.record(7 + PID_MAX_DEFAULT, &c("high"));
        assert_eq!(comm_str(&sc.find_cmdline(7)), "<...>");
        assert_eq!(comm_str(&sc.find_cmdline(7 + PID_MAX_DEFAULT)), "high");
    }

    #[test]
    fn cmdline_long_comm_is_nul_terminated() {
        let mut sc = SavedCmdlines::new();
        sc.record(9, &[b'x'; 16]);
        assert_eq!(comm_str(&sc.find_cmdline(9)).len(), 15);
    }

    #[test]
    fn merge() {
        let mk = |ts, cpu| {
            entry(
                ts,
                cpu,
                1,
                "....",
                Event::Print {
                    text: format!("{}@{}", ts, cpu),
                },
            )
        };
        let c0 = [mk(1, 0), mk(5, 0), mk(9, 0)];
        let c1 = [mk(2, 1), mk(5, 1), mk(6, 1)];
        let c2: [TraceEntry; 0] = [];
        let c3 = [mk(0, 3), mk(10, 3)];
        let m = merge_by_time(&[&c0, &c1, &c2, &c3]);
        let got: Vec<(u64, u32)> = m.iter().map(|e| (e.ts_ns, e.cpu)).collect();
        assert_eq!(
            got,
            [
                (0, 3),
                (1, 0),
                (2, 1),
                (5, 0),
                (5, 1),
                (6, 1),
                (9, 0),
                (10, 3)
            ]
        );
        assert!(merge_by_time(&[]).is_empty());
        assert!(merge_by_time(&[&c2]).is_empty());
        assert_eq!(find_next([None, Some(&c1[0]), Some(&c0[0])]), Some(2));
        assert_eq!(find_next([None, None]), None);
    }
}
