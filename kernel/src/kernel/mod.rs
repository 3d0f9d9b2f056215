//! Core kernel (mirrors kernel/): printk, panic, time, SMP cross-calls,
//! kallsyms, boot parameters and the in-kernel test runner.
#[macro_use]
pub mod printk;
pub mod kallsyms;
pub mod ktest;
pub mod panic;
pub mod params;
pub mod smp;
pub mod time;
