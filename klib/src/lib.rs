//! klib: the pure logic of the Tine kernel.
//!
//! Everything in here is plain data manipulation with no hardware access:
//! parsing the kernel command line, the boot-time memory allocator, the buddy
//! page allocator and the kallsyms symbol table.  Keeping it apart from the
//! kernel crate means it can be unit-tested on the host with `cargo test -p
//! klib` in milliseconds, instead of booting a virtual machine to find out
//! that a free list got corrupted.
//!
//! The crate is `no_std` (the kernel has no operating system underneath it)
//! but uses `alloc` for the few results that need to grow, such as the list
//! of unknown command line parameters.  The host tool `xtask` uses it too, to
//! build the kallsyms table that the kernel later reads.
//!
//! Every function is total: malformed input yields `None`, an `Err` or a
//! warning, never a panic, because a panic this early in boot leaves nothing
//! on the screen to explain it.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod buddy;
pub mod cmdline;
pub mod cpio;
pub mod elf;
pub mod exec;
pub mod kallsyms;
pub mod memblock;
pub mod pid;
pub mod rt_prio;
pub mod sched;
pub mod trace;
