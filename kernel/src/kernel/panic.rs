//! panic() and friends (mirrors kernel/panic.c and lib/dump_stack.c).
//!
//! `panic()` is Linux's: it prints `Kernel panic - not syncing: <msg>`, a
//! stack dump, stops the other CPUs, then honours `panic=`: N > 0 reboots
//! after N seconds, N < 0 at once, 0 (the default) waits forever. A Rust
//! panic (a broken invariant: `unwrap` on None, an index out of range) is
//! reported like Linux's BUG(): `kernel BUG at <file>:<line>!`, then panics.

use crate::arch::percpu::smp_processor_id;
use crate::arch::processor::{local_irq_disable, local_irq_enable, halt};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering::*};

/// `panic=` (Linux: panic_timeout), in seconds.
static PANIC_TIMEOUT: AtomicI64 = AtomicI64::new(0);
/// An oops (registers and trace) was printed, so panic() need not dump the stack again.
static OOPS_PRINTED: AtomicBool = AtomicBool::new(false);
/// The CPU that owns the panic; others that panic at the same time stop.
static PANIC_CPU: AtomicI32 = AtomicI32::new(-1);

pub const TINE_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn set_panic_timeout(secs: i64) {
    PANIC_TIMEOUT.store(secs, Relaxed);
}

/// Fixed-size formatting buffer for panic paths, which must not allocate.
pub struct BufWriter<const N: usize> {
    buf: [u8; N],
    len: usize,
}
impl<const N: usize> BufWriter<N> {
    pub const fn new() -> Self {
        BufWriter { buf: [0; N], len: 0 }
    }
    pub fn as_str(&self) -> &str {
        // Truncation may split a UTF-8 sequence: fall back to the valid prefix.
        match core::str::from_utf8(&self.buf[..self.len]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&self.buf[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}
impl<const N: usize> Write for BufWriter<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let n = s.len().min(N - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The `CPU: 0 PID: 0 Comm: swapper/0 Not tainted ...` line of oopses and dumps.
pub fn print_cpu_line() {
    let cpu = smp_processor_id();
    let (pid, comm) = current_pid_comm();
    pr_emerg!("CPU: {} PID: {} Comm: {} Not tainted {} #1", cpu, pid, comm.as_str(), TINE_VERSION);
}

/// The current task's pid and comm, usable from any context (oops, panic).
pub fn current_pid_comm() -> (i32, BufWriter<16>) {
    let mut name = BufWriter::<16>::new();
    match crate::arch::current::try_current() {
        Some(t) => {
            let _ = name.write_str(crate::kernel::task::comm_str(&t.comm()));
            (t.pid(), name)
        }
        None => {
            let _ = write!(name, "swapper/{}", smp_processor_id());
            (0, name)
        }
    }
}

/// `dump_stack()`: who called us, symbolized.
#[inline(never)]
pub fn dump_stack() {
    print_cpu_line();
    crate::arch::dumpstack::show_stack_here();
}

pub fn note_oops() {
    OOPS_PRINTED.store(true, Relaxed);
}

/// Print a `BUG:` line before a panic or a warning (bust console locks first:
/// the reporter may hold them).
pub fn bug_report(args: fmt::Arguments) {
    crate::kernel::printk::bust_spinlocks();
    pr_emerg!("{}", args);
}

/// Linux's `panic()`.
pub fn panic(args: fmt::Arguments) -> ! {
    local_irq_disable();
    let cpu = smp_processor_id() as i32;
    if let Err(owner) = PANIC_CPU.compare_exchange(-1, cpu, SeqCst, SeqCst) {
        if owner != cpu {
            // Another CPU is already panicking (panic_smp_self_stop).
            loop {
                halt();
            }
        }
    }
    let oopsed = OOPS_PRINTED.load(Relaxed);
    crate::kernel::printk::bust_spinlocks();
    let mut msg = BufWriter::<256>::new();
    let _ = msg.write_fmt(args);
    pr_emerg!("Kernel panic - not syncing: {}", msg.as_str());
    if !oopsed {
        dump_stack();
    }
    crate::arch::apic::smp_send_stop();
    if crate::kernel::trace::ftrace_dump_on_oops() {
        crate::kernel::trace::ftrace_dump();
    }
    let timeout = PANIC_TIMEOUT.load(Relaxed);
    if timeout > 0 {
        pr_emerg!("Rebooting in {} seconds..", timeout);
        crate::kernel::time::mdelay(timeout as u64 * 1000);
    }
    if timeout != 0 {
        crate::arch::reboot::emergency_restart();
    }
    pr_emerg!("---[ end Kernel panic - not syncing: {} ]---", msg.as_str());
    local_irq_enable();
    loop {
        halt();
    }
}

#[panic_handler]
fn rust_panic(info: &core::panic::PanicInfo) -> ! {
    crate::kernel::printk::bust_spinlocks();
    let mut msg = BufWriter::<256>::new();
    let _ = write!(msg, "{}", info.message());
    // A failed infallible allocation arrives here through handle_alloc_error.
    if msg.as_str().starts_with("memory allocation of") {
        panic(format_args!("Out of memory: {}", msg.as_str()));
    }
    pr_emerg!("------------[ cut here ]------------");
    if let Some(loc) = info.location() {
        pr_emerg!("kernel BUG at {}:{}!", loc.file(), loc.line());
    }
    panic(format_args!("{}", msg.as_str()));
}
