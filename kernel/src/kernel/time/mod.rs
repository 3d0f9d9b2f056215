//! Kernel time (mirrors kernel/time/{timekeeping.c,jiffies.c,tick-common.c}
//! and kernel/sched/clock.c): a monotonic nanosecond clock read from the TSC,
//! `jiffies` advanced by the boot CPU's tick, and the per-CPU periodic tick.
//!
//! Left out: wall-clock time (CMOS/RTC), NTP adjustment, clockevents and
//! tickless idle; every CPU takes every tick (CONFIG_HZ_PERIODIC).

use crate::arch::percpu::{smp_processor_id, this_cpu};
use crate::arch::processor::rdtsc;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::*};

/// Linux's CONFIG_HZ default on Debian; `tine.hz=` overrides it at boot.
pub const HZ_DEFAULT: u32 = 250;
static HZ: AtomicU32 = AtomicU32::new(HZ_DEFAULT);

/// jiffies start 5 minutes before wrapping the low 32 bits, as in Linux
/// (INITIAL_JIFFIES), so wrap bugs show up early.
pub fn initial_jiffies(hz: u32) -> u64 {
    (-(300i64 * hz as i64)) as u32 as u64
}
static JIFFIES: AtomicU64 = AtomicU64::new(0);

/// TSC frequency and the TSC value at which the clock reads 0.
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
static TSC_BASE: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC cycle as a 32.32 fixed-point number.
static NS_MULT: AtomicU64 = AtomicU64::new(0);
static CLOCK_READY: AtomicBool = AtomicBool::new(false);

pub fn set_hz(hz: u32) {
    HZ.store(hz, Relaxed);
}
pub fn hz() -> u32 {
    HZ.load(Relaxed)
}

/// Start the nanosecond clock once the TSC frequency is known. `boot_tsc`,
/// read on kernel entry, is time 0, so timestamps count from kernel start.
pub fn tsc_clocksource_init(tsc_khz: u64, boot_tsc: u64) {
    TSC_KHZ.store(tsc_khz, Relaxed);
    TSC_BASE.store(boot_tsc, Relaxed);
    NS_MULT.store(((1_000_000u128 << 32) / tsc_khz.max(1) as u128) as u64, Relaxed);
    CLOCK_READY.store(true, Release);
}

pub fn tsc_khz() -> u64 {
    TSC_KHZ.load(Relaxed)
}

/// `local_clock()` / `ktime_get_ns()`: nanoseconds since boot; 0 until the
/// TSC has been calibrated (Linux's early printk timestamps are 0 too).
pub fn local_clock() -> u64 {
    if !CLOCK_READY.load(Acquire) {
        return 0;
    }
    let cycles = rdtsc().wrapping_sub(TSC_BASE.load(Relaxed));
    ((cycles as u128 * NS_MULT.load(Relaxed) as u128) >> 32) as u64
}

pub fn ktime_get_ns() -> u64 {
    local_clock()
}

/// The wall clock at boot minus the monotonic clock then, in ns since the
/// epoch (Linux: the offset between tk->xtime and the monotonic base).
static WALL_TO_MONO: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// `timekeeping_init`'s read of the persistent clock (the CMOS RTC).
pub fn timekeeping_init() {
    match crate::arch::rtc::read_persistent_clock() {
        Some(secs) => {
            let ns = secs.saturating_mul(1_000_000_000).saturating_sub(ktime_get_ns());
            WALL_TO_MONO.store(ns, Relaxed);
        }
        None => pr_warn!("Persistent clock returned invalid value"),
    }
}

/// `ktime_get_real_ns`: CLOCK_REALTIME, ns since the epoch.
pub fn ktime_get_real_ns() -> u64 {
    WALL_TO_MONO.load(Relaxed) + ktime_get_ns()
}

/// CLOCK_REALTIME minus CLOCK_MONOTONIC (`tk->offs_real`): turns a
/// wall-clock deadline into a monotonic one.
pub fn ktime_real_offset() -> u64 {
    WALL_TO_MONO.load(Relaxed)
}

pub fn jiffies() -> u64 {
    JIFFIES.load(Relaxed)
}

pub fn jiffies_to_msecs(j: u64) -> u64 {
    j * 1000 / hz() as u64
}

/// Busy-wait (Linux `udelay`/`mdelay`, which also spin).
pub fn udelay(us: u64) {
    let khz = TSC_KHZ.load(Relaxed).max(1);
    let end = rdtsc() + us * khz / 1000;
    while rdtsc() < end {
        core::hint::spin_loop();
    }
}
pub fn mdelay(ms: u64) {
    udelay(ms * 1000);
}

/// Start jiffies once HZ is final (after boot parameters), before the first tick.
pub fn tick_init() {
    JIFFIES.store(initial_jiffies(hz()), Relaxed);
}

/// The boot CPU keeps `jiffies` (Linux: tick_do_timer_cpu).
const TICK_DO_TIMER_CPU: usize = 0;

/// Called from the local APIC timer interrupt on every CPU, once per tick
/// (Linux: tick_handle_periodic -> tick_periodic). `user_tick`: the tick
/// interrupted user mode.
pub fn tick_periodic(user_tick: bool) {
    if smp_processor_id() == TICK_DO_TIMER_CPU {
        JIFFIES.fetch_add(1, Relaxed); // do_timer(1)
    }
    update_process_times(user_tick);
}

/// Per-CPU work on each tick (kernel/time/timer.c update_process_times):
/// charge the tick to the current task, expire timers, then let the
/// scheduler account and maybe preempt.
fn update_process_times(user_tick: bool) {
    if let Some(cur) = crate::arch::current::try_current() {
        crate::kernel::resource::account_process_tick(&cur, user_tick);
    }
    this_cpu().timer_ticks.fetch_add(1, Relaxed);
    timer::run_local_timers();
    crate::kernel::sched::scheduler_tick();
}

pub mod posix_timers;
pub mod timer;

/// `msecs_to_jiffies` (rounding up, as Linux).
pub fn msecs_to_jiffies(ms: u64) -> u64 {
    (ms * hz() as u64).div_ceil(1000)
}
