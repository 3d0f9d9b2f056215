//! In-kernel tests (Tine's counterpart of Linux's KUnit), run with
//! `tine.ktest=all` or `tine.ktest=name1,name2` once the CPUs are up.
//!
//! Each test prints `ktest: PASS <name>` or `ktest: FAIL <name>: <reason>`,
//! then `ktest: done passed=N failed=M`, and the kernel leaves QEMU through
//! isa-debug-exit (0 = all passed, 1 = some failed). `cargo xtask test`
//! reads these lines. Tests that need more CPUs than are online are
//! reported as skipped and not counted.
//!
//! Crash tests (`crash_*`) deliberately oops or panic; they run only when
//! named, and the harness checks the console output instead.

mod cpu;
mod crash;
mod fs;
mod mm;
mod sched;
mod smp;
mod time;
mod user;
mod trace;
mod workqueue;

use alloc::string::String;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

pub type TestResult = Result<(), String>;

pub struct KTest {
    pub name: &'static str,
    pub func: fn() -> TestResult,
    pub min_cpus: usize,
}

/// Fail the test with a formatted reason unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            return Err(alloc::format!($($arg)*));
        }
    };
}
pub(crate) use ensure;

const TESTS: &[&[KTest]] = &[mm::TESTS, smp::TESTS, time::TESTS, cpu::TESTS, sched::TESTS, workqueue::TESTS, user::TESTS, trace::TESTS, fs::TESTS];

/// Set by the FPU test: the timer interrupt clobbers every SSE register.
pub static FPU_CLOBBER: AtomicBool = AtomicBool::new(false);
pub static FPU_CLOBBERS_DONE: AtomicU64 = AtomicU64::new(0);
/// Set by crash_irq: the boot CPU's next timer interrupt faults.
pub static CRASH_IN_IRQ: AtomicBool = AtomicBool::new(false);

/// Called from every local timer interrupt.
pub fn timer_hook() {
    if FPU_CLOBBER.load(Relaxed) {
        crate::arch::selftest::clobber_fpu();
        FPU_CLOBBERS_DONE.fetch_add(1, Relaxed);
    }
    if CRASH_IN_IRQ.load(Relaxed) && crate::arch::percpu::smp_processor_id() == 0 {
        crate::arch::selftest::ktest_crash_null();
    }
}

pub fn ktest_run_tests(selector: &str) -> ! {
    if let Some(name) = selector.strip_prefix("crash_") {
        pr_info!("ktest: crash test {}", selector);
        crash::ktest_run_crash(name);
        pr_err!("ktest: FAIL {}: the crash test returned", selector);
        crate::arch::reboot::qemu_exit(1);
    }
    let cpus = crate::arch::percpu::num_online_cpus();
    let all = selector == "all";
    let wanted: alloc::vec::Vec<&str> = selector.split(',').collect();
    let (mut passed, mut failed) = (0, 0);
    for t in TESTS.iter().flat_map(|g| g.iter()) {
        if !all && !wanted.contains(&t.name) {
            continue;
        }
        if cpus < t.min_cpus {
            pr_info!("ktest: skip {} (needs {} CPUs, {} online)", t.name, t.min_cpus, cpus);
            continue;
        }
        match (t.func)() {
            Ok(()) => {
                pr_info!("ktest: PASS {}", t.name);
                passed += 1;
            }
            Err(why) => {
                pr_err!("ktest: FAIL {}: {}", t.name, why);
                failed += 1;
            }
        }
    }
    for w in wanted.iter().filter(|w| !all && !TESTS.iter().flat_map(|g| g.iter()).any(|t| t.name == **w)) {
        pr_err!("ktest: FAIL {}: no such test", w);
        failed += 1;
    }
    pr_info!("ktest: done passed={} failed={}", passed, failed);
    crate::arch::reboot::qemu_exit(if failed == 0 { 0 } else { 1 })
}

/// Run a timing-sensitive check up to `tries` times. Under TCG a starved
/// host CPU delays or drops the guest's timer ticks, so one bad window is
/// not a failure; a real defect (wrong HZ, no preemption) fails every try.
pub fn timing_retry(name: &str, tries: usize, f: impl Fn() -> TestResult) -> TestResult {
    let mut last = Ok(());
    for attempt in 1..=tries {
        match f() {
            Ok(()) => return Ok(()),
            Err(why) => {
                if attempt < tries {
                    pr_info!("ktest: {}: timing check failed ({}), retrying", name, why);
                }
                last = Err(why);
            }
        }
    }
    last
}

/// Spin until `cond` holds or `ms` milliseconds pass.
pub fn wait_for(ms: u64, cond: impl Fn() -> bool) -> bool {
    let end = crate::kernel::time::ktime_get_ns() + ms * 1_000_000;
    while crate::kernel::time::ktime_get_ns() < end {
        if cond() {
            return true;
        }
        core::hint::spin_loop();
    }
    cond()
}
