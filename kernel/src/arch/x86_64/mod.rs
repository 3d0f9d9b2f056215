//! x86_64 support (mirrors arch/x86): boot, entry, descriptor tables, traps,
//! the local APIC, TSC time, SMP bring-up, ACPI tables and reboot.
//! Every `unsafe` of the kernel's hardware access lives below this directory.

core::arch::global_asm!(include_str!("boot.S"), options(att_syntax));
core::arch::global_asm!(include_str!("entry_64.S"), options(att_syntax));

pub mod acpi;
pub mod apic;
pub mod current;
pub mod process;
pub mod desc;
pub mod dumpstack;
pub mod fault;
pub mod irq;
pub mod multiboot;
pub mod percpu;
pub mod processor;
pub mod ptregs;
pub mod reboot;
pub mod rtc;
pub mod selftest;
pub mod syscall;
pub mod syscall_names;
pub mod uaccess;
pub mod setup;
pub mod signal;
pub mod smpboot;
pub mod traps;
pub mod tsc;
