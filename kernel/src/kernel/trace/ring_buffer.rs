//! The per-CPU trace buffers (mirrors kernel/trace/ring_buffer.c in
//! overwrite mode, plus `tracing_on`/`tracing_off` and the buffer reset of
//! trace.c).
//!
//! Each CPU records into its own `klib::trace::RingBuffer` of
//! [`TRACE_BUF_ENTRIES`] entries behind a spinlock, taken with interrupts
//! off. Only the owning CPU writes; readers (the dump, the tests, later
//! tracefs) take the lock of each CPU they read. The timestamp is taken
//! with the lock held, so every buffer is in time order and readers can
//! merge them.
//!
//! Differences from Linux: entries are fixed-size slots, not variable-size
//! events in pages, so the size is a number of entries (Linux's
//! `trace_buf_size=`/`buffer_size_kb` are bytes, 1.4 MB per CPU by default;
//! Tine has no boot parameter for it yet). A CPU's buffer is allocated the
//! first time that CPU records (Linux allocates for every possible CPU at
//! boot); CPU 0's is allocated by `trace_init`.

use crate::arch::percpu::{cpu_online, NR_CPUS};
use crate::sync::{SpinLock, SpinLockGuard};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use klib::trace::{RingBuffer, TraceEntry};

/// Entries per CPU buffer.
pub const TRACE_BUF_ENTRIES: usize = 1024;

type Buffer = Option<RingBuffer<TraceEntry>>;

/// One buffer per CPU. Lock order: a CPU buffer may be held while taking
/// the saved-cmdlines lock and the console lock, never the other way round;
/// no two buffer locks are held at once.
static BUFFERS: [SpinLock<Buffer>; NR_CPUS] = [const { SpinLock::new("trace_buffer", None) }; NR_CPUS];

/// `tracing_on` (ring_buffer_record_on/off): recording is allowed.
static TRACING_ON: AtomicBool = AtomicBool::new(true);
/// The trace clock when the buffers were last reset (`time_start`), the
/// zero of the latency format's timestamps.
static TIME_START: AtomicU64 = AtomicU64::new(0);

/// `tracing_on()`: resume recording.
pub fn tracing_on() {
    TRACING_ON.store(true, Release);
}

/// `tracing_off()`: stop recording; what is in the buffers stays.
pub fn tracing_off() {
    TRACING_ON.store(false, Release);
}

/// `tracing_is_on()`.
pub fn tracing_is_on() -> bool {
    TRACING_ON.load(Relaxed)
}

pub fn time_start() -> u64 {
    TIME_START.load(Relaxed)
}

/// Allocate `cpu`'s buffer if it has none (`rb_allocate_cpu_buffer`).
/// False if memory is short.
pub(super) fn ensure_buffer(b: &mut Buffer) -> bool {
    if b.is_none() {
        *b = RingBuffer::try_new(TRACE_BUF_ENTRIES);
    }
    b.is_some()
}

pub(super) fn alloc_cpu_buffer(cpu: usize) -> bool {
    ensure_buffer(&mut BUFFERS[cpu].lock_irqsave())
}

/// Append `entry` to `cpu`'s buffer. The caller has interrupts off and is
/// running on `cpu`; `ts` is called under the lock so timestamps are in
/// buffer order. An NMI that finds the lock taken (it interrupted this CPU
/// in the middle of a write) drops its event instead of deadlocking, and
/// never allocates.
pub(super) fn ring_buffer_write(cpu: usize, in_nmi: bool, ts: impl FnOnce() -> u64, mut entry: TraceEntry) {
    let mut b = if in_nmi {
        match BUFFERS[cpu].try_lock_irqsave() {
            Some(b) if b.is_some() => b,
            _ => return,
        }
    } else {
        BUFFERS[cpu].lock()
    };
    if !ensure_buffer(&mut b) {
        return;
    }
    entry.ts_ns = ts();
    if let Some(rb) = b.as_mut() {
        rb.push(entry);
    }
}

/// Lock `cpu`'s buffer. During an oops the holder may be a CPU that was
/// stopped with the lock held: wait a bounded time, then break the lock
/// (as printk does with the console lock).
pub(super) fn lock_cpu_buffer(cpu: usize) -> SpinLockGuard<'static, Buffer> {
    lock_bounded(&BUFFERS[cpu])
}

pub(super) fn lock_bounded<T>(lock: &'static SpinLock<T>) -> SpinLockGuard<'static, T> {
    if !crate::kernel::printk::oops_in_progress() {
        return lock.lock_irqsave();
    }
    for _ in 0..1_000_000 {
        if let Some(g) = lock.try_lock_irqsave() {
            return g;
        }
        core::hint::spin_loop();
    }
    lock.force_unlock();
    lock.lock_irqsave()
}

/// Counters of one CPU buffer (the `per_cpu/cpuN/stats` numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingBufferStats {
    /// Entries in the buffer now.
    pub entries: u64,
    /// Entries lost to overwrite.
    pub overrun: u64,
    /// Entries written since the last reset (entries + overrun + read).
    pub written: u64,
    /// Entries consumed by readers.
    pub read: u64,
    /// Capacity in entries (0: not allocated yet).
    pub capacity: u64,
}

pub fn ring_buffer_stats(cpu: usize) -> RingBufferStats {
    if cpu >= NR_CPUS {
        return RingBufferStats::default();
    }
    let b = lock_cpu_buffer(cpu);
    b.as_ref().map_or(RingBufferStats::default(), |rb| RingBufferStats {
        entries: rb.entries() as u64,
        overrun: rb.overrun(),
        written: rb.written(),
        read: rb.read(),
        capacity: rb.capacity() as u64,
    })
}

/// `get_total_entries`: (entries in all buffers, entries + overruns), the
/// two numbers of the header's `entries-in-buffer/entries-written`.
pub fn get_total_entries() -> (u64, u64) {
    let (mut entries, mut total) = (0, 0);
    for cpu in 0..NR_CPUS {
        let s = ring_buffer_stats(cpu);
        entries += s.entries;
        total += s.entries + s.overrun;
    }
    (entries, total)
}

/// `tracing_reset_online_cpus`: empty every buffer, zero its counters and
/// restart the latency clock.
pub fn tracing_reset_online_cpus() {
    TIME_START.store(crate::kernel::time::local_clock(), Relaxed);
    for cpu in 0..NR_CPUS {
        if let Some(rb) = lock_cpu_buffer(cpu).as_mut() {
            rb.clear();
        }
    }
}

/// A copy of every CPU's entries, oldest first, indexed by CPU (the
/// non-consuming read the `trace` file does). Allocates.
pub fn trace_snapshot() -> alloc::vec::Vec<alloc::vec::Vec<TraceEntry>> {
    let mut out = alloc::vec::Vec::new();
    let last = (0..NR_CPUS).rev().find(|&c| cpu_online(c) || lock_cpu_buffer(c).is_some()).unwrap_or(0);
    for cpu in 0..=last {
        let b = lock_cpu_buffer(cpu);
        out.push(b.as_ref().map_or_else(alloc::vec::Vec::new, |rb| rb.iter().cloned().collect()));
    }
    out
}
