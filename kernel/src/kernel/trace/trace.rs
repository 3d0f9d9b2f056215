//! The core of the tracer (mirrors kernel/trace/trace.c): filling the
//! common fields of an entry (`tracing_generic_entry_update`), the
//! saved-cmdlines cache behind the TASK column, `trace_printk`, the text of
//! the `trace` file, and `ftrace_dump`, which prints the buffers to the
//! console on an oops or panic (`ftrace_dump_on_oops`).

use super::ring_buffer::{self, lock_bounded, lock_cpu_buffer, ring_buffer_write, tracing_is_on, tracing_off};
use crate::arch::percpu::{this_cpu, HARDIRQ_MASK, NMI_MASK, NR_CPUS, SOFTIRQ_OFFSET};
use crate::arch::processor::{irqs_disabled, local_irq_restore, local_irq_save};
use crate::kernel::panic::BufWriter;
use crate::sync::SpinLock;
use alloc::string::String;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering::*};
use klib::trace::{comm_from_str, comm_str, format_entry, format_entry_lat, merge_by_time, write_header, Comm, Event, SavedCmdlines, TraceEntry};

/// `savedcmd`. Recording never spins on it (a missed update is harmless,
/// as in Linux); readers take it with a bounded wait during an oops.
static SAVED_CMDLINES: SpinLock<Option<SavedCmdlines>> = SpinLock::new("trace_cmdline_lock", None);

/// Record comms at sched_switch (Linux: sched_cmdline_ref, taken while any
/// event is enabled, and by trace_printk users).
static RECORD_CMD: AtomicBool = AtomicBool::new(false);

pub(super) fn set_record_cmd(on: bool) {
    RECORD_CMD.store(on, Relaxed);
}

pub(super) fn record_cmd() -> bool {
    RECORD_CMD.load(Relaxed)
}

pub(super) fn trace_cmdlines_init() {
    let mut s = SAVED_CMDLINES.lock_irqsave();
    if s.is_none() {
        *s = Some(SavedCmdlines::new());
    }
}

/// `trace_save_cmdline`: remember `comm` as the name of `pid` for the TASK
/// column. Skipped if the cache is busy.
pub fn tracing_record_cmdline(pid: i32, comm: &Comm) {
    if let Some(mut s) = SAVED_CMDLINES.try_lock_irqsave() {
        if let Some(s) = s.as_mut() {
            s.record(pid, comm);
        }
    }
}

/// `trace_find_cmdline`: the TASK column for `pid` (`<idle>` for 0, `<...>`
/// if not cached).
pub fn trace_find_cmdline(pid: i32) -> Comm {
    match lock_bounded(&SAVED_CMDLINES).as_ref() {
        Some(s) => s.find_cmdline(pid),
        None if pid == 0 => comm_from_str("<idle>"),
        None => comm_from_str("<...>"),
    }
}

/// Record `event` on this CPU with the common fields of the running context
/// (`tracing_generic_entry_update` + `__buffer_unlock_commit`).
///
/// The context is sampled before anything here changes it: irqs-off from
/// the caller's flags, the preempt count at the tracepoint (Linux subtracts
/// the tracepoint's own preempt_disable; here none has been added yet),
/// `pc & SOFTIRQ_OFFSET` for softirq as Linux (bottom halves merely
/// disabled do not count), and need_resched from this CPU's flag. Tine has
/// no folded PREEMPT_NEED_RESCHED bit, so a pending reschedule shows as `n`
/// (as on the 4.19 ARM seeds), never `N` or `p`.
pub(super) fn trace_record(event: Event) {
    if !tracing_is_on() {
        return;
    }
    let irqs_off = irqs_disabled();
    let pc = crate::arch::percpu::preempt_count();
    let pid = crate::kernel::sched::current_pid();
    let flags = local_irq_save();
    let pcpu = this_cpu();
    let cpu = pcpu.cpu.load(Relaxed) as usize;
    let entry = TraceEntry {
        ts_ns: 0,
        cpu: cpu as u32,
        pid,
        irqs_off,
        need_resched: pcpu.need_resched.load(Relaxed),
        preempt_need_resched: false,
        hardirq: pc & HARDIRQ_MASK != 0,
        softirq: pc & SOFTIRQ_OFFSET != 0,
        nmi: pc & NMI_MASK != 0,
        preempt_count: (pc & 0xff) as u8,
        event,
    };
    if cpu < NR_CPUS {
        ring_buffer_write(cpu, entry.nmi, crate::kernel::time::local_clock, entry);
    }
    local_irq_restore(flags);
}

/// `trace_printk()` / a `trace_marker` write: record `args` as a print
/// entry (`tracing_mark_write: <text>`). Always enabled, like Linux's.
pub fn trace_printk(args: fmt::Arguments) {
    if !tracing_is_on() {
        return;
    }
    RECORD_CMD.store(true, Relaxed);
    let mut text = String::new();
    let _ = text.write_fmt(args);
    trace_record(Event::Print { text });
}

/// `trace_printk!("fmt", args...)`.
#[macro_export]
macro_rules! trace_printk {
    ($($arg:tt)*) => { $crate::kernel::trace::trace_printk(format_args!($($arg)*)) };
}

/// One line of the `trace` file for `e`, TASK column from the cmdline cache.
pub fn trace_format_entry(out: &mut impl Write, e: &TraceEntry) -> fmt::Result {
    let comm = trace_find_cmdline(e.pid);
    format_entry(out, e, comm_str(&comm))
}

/// The whole `trace` file (header, then every CPU's entries merged by
/// time), without consuming anything. Allocates.
pub fn trace_show(out: &mut impl Write) -> fmt::Result {
    let cpus = ring_buffer::trace_snapshot();
    let (entries, total) = ring_buffer::get_total_entries();
    write_header(out, "nop", entries, total, crate::arch::percpu::num_online_cpus() as u32)?;
    let slices: alloc::vec::Vec<&[TraceEntry]> = cpus.iter().map(|v| v.as_slice()).collect();
    for e in merge_by_time(&slices) {
        trace_format_entry(out, e)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ftrace_dump

/// Set by `ftrace_dump_on_oops` on the command line (read in trace_init).
static DUMP_ON_OOPS: AtomicBool = AtomicBool::new(false);
/// Only one dump at a time (`dump_running`).
static DUMP_RUNNING: AtomicBool = AtomicBool::new(false);

pub(super) fn set_ftrace_dump_on_oops(on: bool) {
    DUMP_ON_OOPS.store(on, Relaxed);
}

/// Whether `panic()`/an oops should call [`ftrace_dump`].
pub fn ftrace_dump_on_oops() -> bool {
    DUMP_ON_OOPS.load(Relaxed)
}

/// Which buffers `ftrace_dump` prints (`enum ftrace_dump_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FtraceDumpMode {
    /// Every CPU's (DUMP_ALL, `ftrace_dump_on_oops`).
    All,
    /// Only the calling CPU's (DUMP_ORIG, `ftrace_dump_on_oops=orig_cpu`).
    Orig,
}

/// `ftrace_dump(DUMP_ALL)`.
pub fn ftrace_dump() {
    ftrace_dump_mode(FtraceDumpMode::All)
}

/// The die-notifier half of `ftrace_dump_on_oops` (Linux's
/// trace_die_handler on DIE_OOPS): call from the oops path right after the
/// `Oops:` line, as Linux dumps there before the registers.
pub fn trace_die_handler() {
    if ftrace_dump_on_oops() {
        ftrace_dump();
    }
}

/// Linux's `ftrace_dump()`: print the buffers to the console at KERN_EMERG
/// (KERN_TRACE) and **consume** them, so a second dump (oops, then panic)
/// prints `(ftrace buffer empty)`. Tracing is turned off first and stays
/// off (Linux: "re-enable with echo 1 > tracing_on"; here
/// [`super::tracing_on`]).
///
/// Output, as 4.19 (`TRACE_FILE_LAT_FMT` is set on the dump's iterator, so
/// lines use the latency prefix; there is no header):
///
/// ```text
/// Dumping ftrace buffer:
/// ---------------------------------
///   <idle>-0       1d... 6246926827us : sched_switch: prev_comm=swapper/1 ...
/// ---------------------------------
/// ```
///
/// or `   (ftrace buffer empty)` instead of the dashes and lines. A CPU whose
/// buffer overflowed since its last consuming read gets a
/// `CPU:%d [LOST %lu EVENTS]` line before its first entry.
///
/// Safe in panic: nothing is allocated or freed (consumed entries stay in
/// their slots until overwritten), interrupts are off, and during an oops
/// every lock is taken with a bounded wait.
pub fn ftrace_dump_mode(mode: FtraceDumpMode) {
    if DUMP_RUNNING.swap(true, Acquire) {
        return;
    }
    tracing_off();
    let flags = local_irq_save();
    let this = this_cpu().cpu.load(Relaxed) as usize;
    let (first, last) = match mode {
        FtraceDumpMode::All => (0, NR_CPUS - 1),
        FtraceDumpMode::Orig => (this, this),
    };
    let time_start = ring_buffer::time_start();
    pr_emerg!("Dumping ftrace buffer:");
    let mut cnt = 0u64;
    loop {
        // __find_next_entry: the oldest head among the CPUs, lowest CPU on ties.
        let mut next: Option<(usize, u64)> = None;
        for cpu in first..=last {
            let b = lock_cpu_buffer(cpu);
            if let Some(e) = b.as_ref().and_then(|rb| rb.peek()) {
                if next.is_none_or(|(_, ts)| e.ts_ns < ts) {
                    next = Some((cpu, e.ts_ns));
                }
            }
        }
        let Some((cpu, _)) = next else { break };
        let mut line = BufWriter::<1024>::new();
        let lost;
        {
            let mut b = lock_cpu_buffer(cpu);
            let Some(rb) = b.as_mut() else { break };
            let Some(e) = rb.peek() else { continue };
            let comm = trace_find_cmdline(e.pid);
            let _ = format_entry_lat(&mut line, e, comm_str(&comm), time_start, e.ts_ns);
            lost = rb.take_lost_events();
            rb.consume();
        }
        if cnt == 0 {
            pr_emerg!("---------------------------------");
        }
        cnt += 1;
        if lost > 0 {
            pr_emerg!("CPU:{} [LOST {} EVENTS]", cpu, lost);
        }
        trace_printk_seq(line.as_str());
    }
    if cnt == 0 {
        pr_emerg!("   (ftrace buffer empty)");
    } else {
        pr_emerg!("---------------------------------");
    }
    DUMP_RUNNING.store(false, Release);
    local_irq_restore(flags);
}

/// `trace_printk_seq`: print one formatted entry, cut at TRACE_MAX_PRINT
/// (1000) bytes. Linux's printk gives every line of a multi-line record its
/// own timestamp prefix, so each line is a printk here.
fn trace_printk_seq(s: &str) {
    const TRACE_MAX_PRINT: usize = 1000;
    let mut end = s.len().min(TRACE_MAX_PRINT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let s = &s[..end];
    let s = s.strip_suffix('\n').unwrap_or(s);
    for l in s.split('\n') {
        pr_emerg!("{}", l);
    }
}
