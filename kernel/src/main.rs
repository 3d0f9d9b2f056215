//! Tine: a kernel that re-implements Linux's process management.
//!
//! The source tree mirrors Linux's: `arch/x86_64` (boot, entry, CPU tables,
//! APIC, SMP), `init/` (start_kernel), `kernel/` (printk, panic, time, smp,
//! kallsyms), `mm/` (memblock, buddy allocator, slab, page tables),
//! `drivers/tty/serial` (the 8250 UART console) and `sync/` (spinlocks).
//! `unsafe` lives in arch/, mm/, sync/ and lib/ only.
#![no_std]
#![no_main]
// Much of the low-level API (time, printk levels, page tables) is used by the
// process-management issues that build on this one.
#![allow(dead_code)]

extern crate alloc;

#[macro_use]
mod kernel;
mod arch;
mod drivers;
mod fs;
mod init;
// lib/ (as Linux's lib/) is runtime support; not named `lib` to keep it
// apart from Cargo's library-target convention.
#[path = "lib/mod.rs"]
mod klib_rt;
mod mm;
mod sync;
