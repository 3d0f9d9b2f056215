//! Time tests: the nanosecond clock is monotonic on and across CPUs, and the
//! tick runs at HZ on every CPU.

use super::{ensure, KTest, TestResult};
use crate::arch::percpu::{for_each_online_cpu, per_cpu, smp_processor_id, NR_CPUS};
use crate::kernel::smp::on_each_cpu;
use crate::kernel::time::{hz, initial_jiffies, jiffies, ktime_get_ns, mdelay};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering::*};

pub const TESTS: &[KTest] = &[
    KTest { name: "clock_monotonic", func: clock_monotonic, min_cpus: 1 },
    KTest { name: "tick_rate", func: tick_rate, min_cpus: 1 },
];

fn clock_monotonic() -> TestResult {
    static LATEST: AtomicU64 = AtomicU64::new(0);
    static BACKWARDS: AtomicU64 = AtomicU64::new(0);
    on_each_cpu(|| {
        let mut prev = 0;
        for _ in 0..20_000 {
            let seen = LATEST.load(SeqCst);
            let t = ktime_get_ns();
            if t < prev || t < seen {
                BACKWARDS.fetch_add(1, SeqCst);
            }
            LATEST.fetch_max(t, SeqCst);
            prev = t;
        }
    }, true);
    ensure!(BACKWARDS.load(SeqCst) == 0, "time went backwards {} times", BACKWARDS.load(SeqCst));
    ensure!(LATEST.load(SeqCst) > 0, "clock never advanced");
    Ok(())
}

/// Over 400 ms of clock time, jiffies and every CPU's tick count advance by
/// about HZ * 0.4 (TCG timing is noisy: accept half to double).
fn tick_rate() -> TestResult {
    super::timing_retry("tick_rate", 3, tick_rate_once)
}

fn tick_rate_once() -> TestResult {
    let ticks_before: Arc<[AtomicU64; NR_CPUS]> = Arc::new([const { AtomicU64::new(0) }; NR_CPUS]);
    for cpu in for_each_online_cpu() {
        ticks_before[cpu].store(per_cpu(cpu).timer_ticks.load(SeqCst), SeqCst);
    }
    let j0 = jiffies();
    let t0 = ktime_get_ns();
    mdelay(400);
    let dt = ktime_get_ns() - t0;
    let dj = jiffies() - j0;
    let expect = hz() as u64 * dt / 1_000_000_000;
    ensure!(dj * 2 >= expect && dj <= expect * 2, "jiffies advanced {} in {} ms, expected about {} (HZ={})", dj, dt / 1_000_000, expect, hz());
    for cpu in for_each_online_cpu() {
        let d = per_cpu(cpu).timer_ticks.load(SeqCst) - ticks_before[cpu].load(SeqCst);
        ensure!(d * 2 >= expect && d <= expect * 2, "CPU {} took {} ticks, expected about {}", cpu, d, expect);
    }
    ensure!(jiffies() >= initial_jiffies(hz()), "jiffies below INITIAL_JIFFIES");
    let _ = smp_processor_id();
    Ok(())
}
