//! Core kernel (mirrors kernel/): printk, panic, time, SMP cross-calls,
//! kallsyms, boot parameters and the in-kernel test runner.
#[macro_use]
pub mod printk;
pub mod errno;
pub mod exit;
pub mod fork;
pub mod futex;
pub mod kallsyms;
pub mod kthread;
pub mod ktest;
pub mod panic;
pub mod params;
pub mod pid;
pub mod resource;
pub mod sched;
pub mod signal;
pub mod signal_struct;
pub mod smp;
pub mod sys;
pub mod syscalls;
pub mod task;
pub mod time;
pub mod trace;
pub mod workqueue;
