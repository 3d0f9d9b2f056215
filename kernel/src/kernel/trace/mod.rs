//! Tracing (mirrors kernel/trace/): per-CPU ring buffers of events, the
//! scheduler/task/signal tracepoints, `trace_printk`, and `ftrace_dump` on
//! oops and panic. The text is Linux 4.19's byte for byte; how a line looks
//! is decided in `klib::trace` (host-tested against 4.19 traces), this
//! module records and prints.
//!
//! * `ring_buffer.rs` (ring_buffer.c): one buffer per CPU, `tracing_on`.
//! * `trace.rs` (trace.c): common entry fields, saved cmdlines,
//!   `trace_printk`, the `trace` text, `ftrace_dump`.
//! * `trace_events.rs` (trace_events.c + include/trace/events/*.h): enable
//!   flags, `trace_event=`, the `trace_<event>()` tracepoints.
//!
//! Boot parameters: `trace_event=` (Linux syntax: `sched:*`, `sched:`,
//! `sched:sched_switch`, `sched_switch`, `*:*`, `signal:*`, `task:*`,
//! comma-separated) and `ftrace_dump_on_oops` (dump all CPUs' buffers from
//! `panic()`). The buffer holds [`TRACE_BUF_ENTRIES`] entries per CPU; there
//! is no `trace_buf_size=` yet.
//!
//! Left out: tracefs (the functions it needs are here: `trace_show`,
//! `trace_set_event`, `tracing_reset_online_cpus`, the stats), the function
//! tracer, event filters and triggers, pid filtering, instances, snapshots.

mod ring_buffer;
#[allow(clippy::module_inception)]
mod trace;
mod trace_events;

pub use ring_buffer::{
    get_total_entries, ring_buffer_stats, trace_snapshot, tracing_is_on, tracing_off, tracing_on, tracing_reset_online_cpus,
    RingBufferStats, TRACE_BUF_ENTRIES,
};
// trace_die_handler is for the oops path (die notifier), trace_show for tracefs.
#[allow(unused_imports)]
pub use trace::{
    ftrace_dump, ftrace_dump_mode, ftrace_dump_on_oops, trace_die_handler, trace_find_cmdline, trace_format_entry, trace_printk,
    trace_show, tracing_record_cmdline, FtraceDumpMode,
};
pub use trace_events::*;

/// Set tracing up at boot (Linux: early_trace_init + trace_init +
/// event_trace_enable): the cmdline cache and the boot CPU's buffer, then
/// `trace_event=` and `ftrace_dump_on_oops` from the command line. Call
/// once boot parameters are parsed.
pub fn trace_init() {
    trace::trace_cmdlines_init();
    if !ring_buffer::alloc_cpu_buffer(crate::arch::percpu::smp_processor_id()) {
        pr_err!("tracer: failed to allocate ring buffer!");
    }
    let p = crate::kernel::params::boot_params();
    trace::set_ftrace_dump_on_oops(p.ftrace_dump_on_oops);
    if let Some(spec) = p.trace_event {
        let n = trace_events::early_enable_events(spec);
        if n > 0 {
            pr_info!("Tracing: {} events enabled (trace_event={})", n, spec);
        }
    }
}
