//! Tracing tests: event enabling, the common fields and the text of a
//! recorded entry, per-CPU order and completeness across CPUs, overwrite
//! accounting, the saved-cmdlines TASK column, and `ftrace_dump` (whose
//! console output tests/trace.toml checks).
//!
//! Each test runs with only the events it needs enabled and empty buffers,
//! and puts the event set back afterwards. The synthetic events carry
//! made-up comms (`ktrace*`) and pids (>= 30000 or seq numbers), and are
//! told apart from anything else in the buffers by them.

use super::{ensure, KTest, TestResult};
use crate::arch::percpu::{for_each_online_cpu, num_online_cpus, smp_processor_id};
use crate::arch::processor::{local_irq_restore, local_irq_save};
use crate::kernel::smp::{on_each_cpu, smp_call_function_single};
use crate::kernel::trace as tr;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use klib::trace::{comm_from_str, comm_str, event_id, merge_by_time, prev_state, Comm, Event, TraceEntry};

pub const TESTS: &[KTest] = &[
    KTest { name: "trace_events_enable", func: trace_events_enable, min_cpus: 1 },
    KTest { name: "trace_format_line", func: trace_format_line, min_cpus: 1 },
    KTest { name: "trace_irq_flags", func: trace_irq_flags, min_cpus: 2 },
    KTest { name: "trace_percpu_order", func: trace_percpu_order, min_cpus: 1 },
    KTest { name: "trace_ring_overwrite", func: trace_ring_overwrite, min_cpus: 1 },
    KTest { name: "trace_cmdline_task_column", func: trace_cmdline_task_column, min_cpus: 1 },
    KTest { name: "trace_show_text", func: trace_show_text, min_cpus: 1 },
    KTest { name: "trace_dump_selftest", func: trace_dump_selftest, min_cpus: 1 },
];

const KCOMM: &str = "ktrace";

fn bit(id: usize) -> u64 {
    1 << id
}

/// Run `f` with exactly the events of `mask` enabled, tracing on and empty
/// buffers; restore the event set and tracing_on afterwards.
fn isolated(mask: u64, f: impl FnOnce() -> TestResult) -> TestResult {
    let saved = tr::trace_events_mask();
    let was_on = tr::tracing_is_on();
    tr::trace_set_events_mask(mask);
    tr::tracing_on();
    tr::tracing_reset_online_cpus();
    let r = f();
    tr::trace_set_events_mask(saved);
    if was_on {
        tr::tracing_on();
    } else {
        tr::tracing_off();
    }
    r
}

/// A signal_generate whose target is the marker comm: `seq` in pid, `tag`
/// in sig.
fn emit(tag: i32, seq: i32) {
    tr::trace_signal_generate(tag, 0, 0, &comm_from_str(KCOMM), seq, false, 0);
}

fn is_marker(e: &TraceEntry) -> Option<(i32, i32)> {
    match &e.event {
        Event::SignalGenerate { sig, pid, comm, .. } if comm_str(comm) == KCOMM => Some((*sig, *pid)),
        _ => None,
    }
}

fn line(e: &TraceEntry) -> String {
    let mut s = String::new();
    let _ = tr::trace_format_entry(&mut s, e);
    s
}

fn total_entries(snap: &[Vec<TraceEntry>]) -> usize {
    snap.iter().map(|v| v.len()).sum()
}

fn trace_events_enable() -> TestResult {
    isolated(0, || {
        ensure!(tr::trace_set_event("sched:*", true).is_ok(), "sched:* refused");
        ensure!(tr::trace_events_mask().count_ones() == 9, "sched:* enabled {:#x}", tr::trace_events_mask());
        ensure!(tr::trace_event_enabled("sched", "sched_switch"), "sched_switch not enabled");
        ensure!(!tr::trace_event_enabled("signal", "signal_deliver"), "signal_deliver enabled by sched:*");
        ensure!(tr::trace_set_event("signal_deliver,task:", true).is_ok(), "signal_deliver,task: refused");
        ensure!(tr::trace_events_mask().count_ones() == 12, "mask {:#x}", tr::trace_events_mask());
        ensure!(tr::trace_set_event("bogus:thing", true).is_err(), "bogus:thing accepted");
        ensure!(tr::trace_set_event("!sched:", true).is_ok(), "!sched: refused");
        ensure!(!tr::trace_event_enabled("sched", "sched_wakeup"), "!sched: left sched_wakeup on");
        ensure!(tr::trace_set_event("*:*", false).is_ok() && tr::trace_events_mask() == 0, "*:* off left {:#x}", tr::trace_events_mask());
        // A disabled event records nothing; enabled, it records once. (Real
        // scheduler events were recorded while sched:* was on: clear them.)
        tr::tracing_reset_online_cpus();
        emit(1, 1);
        ensure!(total_entries(&tr::trace_snapshot()) == 0, "a disabled event was recorded");
        tr::trace_set_event("signal:signal_generate", true).map_err(|_| "signal:signal_generate refused")?;
        emit(1, 2);
        let n = tr::trace_snapshot().iter().flatten().filter(|e| is_marker(e).is_some()).count();
        ensure!(n == 1, "enabled event recorded {} times", n);
        // tracing_off stops recording.
        tr::tracing_off();
        emit(1, 3);
        tr::tracing_on();
        let n = tr::trace_snapshot().iter().flatten().filter(|e| is_marker(e).is_some()).count();
        ensure!(n == 1, "recorded with tracing off ({} entries)", n);
        Ok(())
    })
}

/// The common fields of an entry recorded with interrupts off on this CPU,
/// and its text, character for character.
fn trace_format_line() -> TestResult {
    isolated(bit(event_id::SIGNAL_GENERATE), || {
        let flags = local_irq_save();
        let cpu = smp_processor_id();
        let pid = crate::kernel::sched::current_pid();
        tr::trace_signal_generate(9, 0, 0, &comm_from_str(KCOMM), 4242, true, 0);
        local_irq_restore(flags);
        let snap = tr::trace_snapshot();
        let e = snap.get(cpu).and_then(|v| v.iter().find(|e| is_marker(e) == Some((9, 4242))));
        let Some(e) = e else { return Err(format!("entry not in CPU {}'s buffer", cpu)) };
        ensure!(e.cpu as usize == cpu && e.pid == pid, "cpu {} pid {}, expected {} {}", e.cpu, e.pid, cpu, pid);
        ensure!(e.irqs_off && !e.hardirq && !e.softirq && !e.nmi, "context flags wrong: {:?}", e);
        let us = klib::trace::ns2usecs(e.ts_ns);
        let expected = |task: &[u8; 16]| {
            format!(
                "{:>16}-{:<5} [{:03}] d{}.{} {:5}.{:06}: signal_generate: sig=9 errno=0 code=0 comm={} pid=4242 grp=1 res=0\n",
                comm_str(task),
                pid,
                cpu,
                if e.need_resched { 'n' } else { '.' },
                if e.preempt_count == 0 { String::from(".") } else { format!("{:x}", e.preempt_count) },
                us / 1_000_000,
                us % 1_000_000,
                KCOMM
            )
        };
        // The TASK column is looked up when the line is printed (as Linux's
        // saved_cmdlines); a sched event on another CPU may fill the cache
        // between two lookups, so accept the name from either side.
        let before = expected(&tr::trace_find_cmdline(pid));
        let got = line(e);
        let after = expected(&tr::trace_find_cmdline(pid));
        ensure!(got == before || got == after, "line is {:?}, expected {:?}", got, after);
        let now = crate::kernel::time::local_clock();
        ensure!(e.ts_ns > 0 && e.ts_ns <= now, "timestamp {} not in (0, {}]", e.ts_ns, now);
        Ok(())
    })
}

/// An event from an IPI handler on another CPU is in hardirq context with
/// interrupts off: flags `d.h` (or `dnh`).
fn trace_irq_flags() -> TestResult {
    isolated(bit(event_id::SIGNAL_GENERATE), || {
        let me = smp_processor_id();
        let Some(other) = for_each_online_cpu().find(|&c| c != me) else { return Ok(()) };
        smp_call_function_single(other, || emit(7, 7), true).map_err(|e| format!("{:?}", e))?;
        let snap = tr::trace_snapshot();
        let e = snap.get(other).and_then(|v| v.iter().find(|e| is_marker(e) == Some((7, 7))));
        let Some(e) = e else { return Err(format!("IPI event not in CPU {}'s buffer", other)) };
        ensure!(e.hardirq && e.irqs_off && e.cpu as usize == other, "IPI event context: {:?}", e);
        let l = line(e);
        let flags = l.get(29..32).unwrap_or("");
        ensure!(flags == "d.h" || flags == "dnh", "flags {:?} in {:?}", flags, l);
        Ok(())
    })
}

/// Every online CPU records N numbered events from a cross-call: each
/// buffer holds all of them, in order, on the right CPU, with
/// non-decreasing timestamps, and the merge keeps each CPU's order.
fn trace_percpu_order() -> TestResult {
    const N: i32 = 300;
    isolated(bit(event_id::SIGNAL_GENERATE), || {
        on_each_cpu(
            || {
                let cpu = smp_processor_id() as i32;
                for i in 0..N {
                    emit(cpu, i);
                }
            },
            true,
        );
        let snap = tr::trace_snapshot();
        for cpu in for_each_online_cpu() {
            let mine: Vec<&TraceEntry> = snap.get(cpu).map(|v| v.iter().filter(|e| is_marker(e).is_some()).collect()).unwrap_or_default();
            ensure!(mine.len() == N as usize, "CPU {} holds {} of {} events", cpu, mine.len(), N);
            for (i, e) in mine.iter().enumerate() {
                let (tag, seq) = is_marker(e).unwrap_or((-1, -1));
                ensure!(tag == cpu as i32 && e.cpu as usize == cpu, "CPU {}'s buffer has an event from CPU {} (entry cpu {})", cpu, tag, e.cpu);
                ensure!(seq == i as i32, "CPU {}: entry {} is event {} (lost or reordered)", cpu, i, seq);
            }
            ensure!(mine.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns), "CPU {}: timestamps go backwards", cpu);
            let st = tr::ring_buffer_stats(cpu);
            ensure!(st.overrun == 0 && st.entries as usize == snap[cpu].len(), "CPU {} stats {:?}", cpu, st);
        }
        let slices: Vec<&[TraceEntry]> = snap.iter().map(|v| v.as_slice()).collect();
        let merged = merge_by_time(&slices);
        ensure!(merged.len() == total_entries(&snap), "merge has {} of {} entries", merged.len(), total_entries(&snap));
        ensure!(merged.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns), "merged trace not in time order");
        let mut next = [0i32; crate::arch::percpu::NR_CPUS];
        for e in merged.iter().filter_map(|e| is_marker(e)) {
            let c = e.0 as usize;
            ensure!(e.1 == next[c], "merge reordered CPU {}: event {} before {}", c, e.1, next[c]);
            next[c] += 1;
        }
        ensure!(next.iter().map(|&n| n as usize).sum::<usize>() == N as usize * num_online_cpus(), "merge lost events");
        Ok(())
    })
}

/// Overfilling this CPU's buffer keeps the newest `capacity` events in
/// order and counts the rest as overruns.
fn trace_ring_overwrite() -> TestResult {
    const EXTRA: usize = 100;
    isolated(bit(event_id::SIGNAL_GENERATE), || {
        let cap = tr::TRACE_BUF_ENTRIES;
        let flags = local_irq_save();
        let cpu = smp_processor_id();
        for i in 0..cap + EXTRA {
            emit(cpu as i32, i as i32);
        }
        local_irq_restore(flags);
        let st = tr::ring_buffer_stats(cpu);
        ensure!(st.capacity as usize == cap, "capacity {} (expected {})", st.capacity, cap);
        ensure!(
            st.entries as usize == cap && st.overrun as usize == EXTRA && st.written as usize == cap + EXTRA,
            "stats after {} writes: {:?}",
            cap + EXTRA,
            st
        );
        let snap = tr::trace_snapshot();
        let seqs: Vec<i32> = snap[cpu].iter().filter_map(is_marker).map(|m| m.1).collect();
        ensure!(seqs.len() == cap, "{} entries kept", seqs.len());
        ensure!(seqs.iter().enumerate().all(|(i, &s)| s == (i + EXTRA) as i32), "kept entries are not the newest in order: starts {:?}", &seqs[..4.min(seqs.len())]);
        let (entries, written) = tr::get_total_entries();
        ensure!(entries == cap as u64 && written == (cap + EXTRA) as u64, "header totals {}/{}", entries, written);
        tr::tracing_reset_online_cpus();
        let st: tr::RingBufferStats = tr::ring_buffer_stats(cpu);
        ensure!(st.entries == 0 && st.overrun == 0 && st.written == 0, "reset left {:?}", st);
        Ok(())
    })
}

/// sched_switch saves both comms; the TASK column of later lines uses them.
fn trace_cmdline_task_column() -> TestResult {
    isolated(bit(event_id::SCHED_SWITCH), || {
        let a: Comm = comm_from_str("ktrace_prev");
        let b: Comm = comm_from_str("ktrace_next");
        let flags = local_irq_save();
        let cpu = smp_processor_id();
        tr::trace_sched_switch(false, &a, 30001, 120, prev_state::S, &b, 30002, 120);
        tr::trace_sched_switch(true, &b, 30002, 120, prev_state::D, &a, 30001, 120);
        local_irq_restore(flags);
        ensure!(comm_str(&tr::trace_find_cmdline(30001)) == "ktrace_prev", "pid 30001 is {:?}", comm_str(&tr::trace_find_cmdline(30001)));
        ensure!(comm_str(&tr::trace_find_cmdline(30002)) == "ktrace_next", "pid 30002 is {:?}", comm_str(&tr::trace_find_cmdline(30002)));
        ensure!(comm_str(&tr::trace_find_cmdline(0)) == "<idle>", "pid 0 not <idle>");
        ensure!(comm_str(&tr::trace_find_cmdline(30999)) == "<...>", "unknown pid not <...>");
        tr::tracing_record_cmdline(30003, &comm_from_str("ktrace_other"));
        ensure!(comm_str(&tr::trace_find_cmdline(30003)) == "ktrace_other", "tracing_record_cmdline did not save");
        let snap = tr::trace_snapshot();
        let lines: Vec<String> = snap[cpu]
            .iter()
            .filter(|e| matches!(e.event, Event::SchedSwitch { prev_pid: 30001 | 30002, .. }))
            .map(|e| {
                let mut e = e.clone();
                e.pid = match e.event {
                    Event::SchedSwitch { prev_pid, .. } => prev_pid,
                    _ => e.pid,
                };
                line(&e)
            })
            .collect();
        ensure!(lines.len() == 2, "{} sched_switch entries", lines.len());
        ensure!(lines[0].starts_with("     ktrace_prev-30001 ["), "TASK column: {:?}", lines[0]);
        ensure!(
            lines[0].ends_with(": sched_switch: prev_comm=ktrace_prev prev_pid=30001 prev_prio=120 prev_state=S ==> next_comm=ktrace_next next_pid=30002 next_prio=120\n"),
            "line {:?}",
            lines[0]
        );
        ensure!(lines[1].starts_with("     ktrace_next-30002 ["), "TASK column: {:?}", lines[1]);
        ensure!(lines[1].contains(" prev_state=R+ ==> "), "a preempted switch is not R+: {:?}", lines[1]);
        Ok(())
    })
}

/// Record a few events (on two CPUs if there are) and dump them to the
/// console; the dump consumes the buffers and leaves tracing off.
/// tests/trace.toml checks the printed lines.
fn trace_dump_selftest() -> TestResult {
    let mask = bit(event_id::SCHED_SWITCH) | bit(event_id::SCHED_PROCESS_FORK) | bit(event_id::SIGNAL_GENERATE);
    isolated(mask, || {
        let a: Comm = comm_from_str("ktrace_a");
        let b: Comm = comm_from_str("ktrace_b");
        crate::trace_printk!("ktest: trace_dump_selftest start");
        let flags = local_irq_save();
        tr::trace_sched_process_fork(&a, 31001, &a, 31002);
        tr::trace_sched_switch(false, &a, 31001, 120, prev_state::S, &b, 31002, 120);
        local_irq_restore(flags);
        let me = smp_processor_id();
        if let Some(other) = for_each_online_cpu().find(|&c| c != me) {
            smp_call_function_single(other, move || tr::trace_signal_generate(17, 0, 1, &a, 31001, true, 0), true)
                .map_err(|e| format!("{:?}", e))?;
        }
        crate::trace_printk!("ktest: trace_dump_selftest end");
        let before = total_entries(&tr::trace_snapshot());
        ensure!(before >= 4, "only {} entries recorded", before);
        tr::ftrace_dump();
        ensure!(!tr::tracing_is_on(), "tracing still on after the dump");
        let after = total_entries(&tr::trace_snapshot());
        ensure!(after == 0, "the dump left {} entries", after);
        // An empty buffer dumps as "(ftrace buffer empty)".
        tr::ftrace_dump_mode(tr::FtraceDumpMode::Orig);
        Ok(())
    })
}

/// The `trace` file text: the 4.19 header with the buffer's counts, then
/// the lines oldest first.
fn trace_show_text() -> TestResult {
    isolated(bit(event_id::SIGNAL_GENERATE), || {
        let flags = local_irq_save();
        for i in 0..3 {
            emit(5, i);
        }
        local_irq_restore(flags);
        let mut text = String::new();
        tr::trace_show(&mut text).map_err(|_| "trace_show failed")?;
        let lines: Vec<&str> = text.lines().collect();
        ensure!(lines.len() == 14, "{} lines:\n{}", lines.len(), text);
        ensure!(lines[0] == "# tracer: nop" && lines[1] == "#", "header starts {:?}", &lines[..2]);
        let counts = format!("# entries-in-buffer/entries-written: 3/3   #P:{}", num_online_cpus());
        ensure!(lines[2] == counts, "{:?} (expected {:?})", lines[2], counts);
        ensure!(lines[9] == "#           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION", "legend {:?}", lines[9]);
        for (i, l) in lines[11..].iter().enumerate() {
            let tail = format!(": signal_generate: sig=5 errno=0 code=0 comm={} pid={} grp=0 res=0", KCOMM, i);
            ensure!(l.ends_with(&tail), "line {:?} (expected ...{:?})", l, tail);
        }
        Ok(())
    })
}
