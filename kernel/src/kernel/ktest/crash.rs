//! Deliberate crashes, checked from the console by `cargo xtask test`
//! (tests/crash.toml): each must produce Linux's report and panic.

use crate::arch::selftest;
use crate::sync::SpinLock;
use core::sync::atomic::Ordering::Relaxed;

static RECURSIVE: SpinLock<u32> = SpinLock::new("ktest_recursive_lock", 0);

pub fn ktest_run_crash(name: &str) {
    match name {
        "null" => selftest::ktest_crash_null(),
        "pagefault" => selftest::ktest_crash_pagefault(),
        "ud2" => selftest::ktest_crash_ud2(),
        "divide" => selftest::ktest_crash_divide(),
        "gp" => selftest::ktest_crash_gp(),
        "bug" => ktest_crash_bug(),
        "oom" => ktest_crash_oom(),
        "spin_recursion" => ktest_crash_spin_recursion(),
        "irq" => {
            super::CRASH_IN_IRQ.store(true, Relaxed);
            super::wait_for(2000, || false);
        }
        _ => pr_err!("ktest: no crash test named crash_{}", name),
    }
}

#[inline(never)]
fn ktest_crash_bug() {
    let v: Option<u32> = core::hint::black_box(None);
    let _ = core::hint::black_box(v.unwrap());
}

#[inline(never)]
fn ktest_crash_oom() {
    loop {
        let v = alloc::vec![0u8; 1 << 20];
        core::mem::forget(core::hint::black_box(v));
    }
}

#[inline(never)]
fn ktest_crash_spin_recursion() {
    let _a = RECURSIVE.lock();
    let _b = RECURSIVE.lock();
}
