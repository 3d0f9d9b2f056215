//! printk (mirrors kernel/printk/printk.c): leveled messages with dmesg
//! timestamps `[    0.001234] `, filtered by the console log level
//! (`loglevel=`, `quiet`, `debug`, `ignore_loglevel`), written to the console.
//!
//! Left out: the record ring buffer behind /dev/kmsg and syslog(2), and
//! pr_cont continuation records. Messages longer than a line are written as
//! they are, with one timestamp.

use crate::sync::SpinLock;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

pub const KERN_EMERG: u8 = 0;
pub const KERN_ALERT: u8 = 1;
pub const KERN_CRIT: u8 = 2;
pub const KERN_ERR: u8 = 3;
pub const KERN_WARNING: u8 = 4;
pub const KERN_NOTICE: u8 = 5;
pub const KERN_INFO: u8 = 6;
pub const KERN_DEBUG: u8 = 7;

/// Messages with a level below this reach the console (CONSOLE_LOGLEVEL_DEFAULT).
static CONSOLE_LOGLEVEL: AtomicU8 = AtomicU8::new(7);
static IGNORE_LOGLEVEL: AtomicBool = AtomicBool::new(false);
/// Set by the oops/panic paths: the console lock may be held by a CPU that
/// will never release it (Linux: oops_in_progress + bust_spinlocks).
static OOPS_IN_PROGRESS: AtomicBool = AtomicBool::new(false);

/// Serializes whole lines on the console. Lock order: innermost; nothing
/// else is taken while it is held.
static CONSOLE_LOCK: SpinLock<()> = SpinLock::new("console_lock", ());

/// Apply `loglevel=`, `quiet`, `debug` and `ignore_loglevel` (init/main.c).
pub fn setup_loglevel(loglevel: Option<u8>, quiet: bool, debug: bool, ignore: bool) {
    let mut level = 7;
    if debug {
        level = 10; // CONSOLE_LOGLEVEL_DEBUG
    }
    if quiet {
        level = 4; // CONSOLE_LOGLEVEL_QUIET
    }
    if let Some(l) = loglevel {
        level = l;
    }
    CONSOLE_LOGLEVEL.store(level, Relaxed);
    IGNORE_LOGLEVEL.store(ignore, Relaxed);
}

pub fn console_loglevel() -> u8 {
    CONSOLE_LOGLEVEL.load(Relaxed)
}

pub fn bust_spinlocks() {
    OOPS_IN_PROGRESS.store(true, Relaxed);
}

pub fn oops_in_progress() -> bool {
    OOPS_IN_PROGRESS.load(Relaxed)
}

struct Console;
impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::drivers::tty::serial::serial8250::console_write(s.as_bytes());
        Ok(())
    }
}

fn emit(args: fmt::Arguments) {
    let ns = crate::kernel::time::local_clock();
    let _ = write!(Console, "[{:5}.{:06}] {}\n", ns / 1_000_000_000, (ns % 1_000_000_000) / 1000, args);
}

pub fn vprintk(level: u8, args: fmt::Arguments) {
    if level >= CONSOLE_LOGLEVEL.load(Relaxed) && !IGNORE_LOGLEVEL.load(Relaxed) {
        return;
    }
    if OOPS_IN_PROGRESS.load(Relaxed) {
        // Another CPU may hold the lock forever: wait briefly, then write anyway.
        for _ in 0..1_000_000 {
            if let Some(_g) = CONSOLE_LOCK.try_lock_irqsave() {
                emit(args);
                return;
            }
            core::hint::spin_loop();
        }
        CONSOLE_LOCK.force_unlock();
        emit(args);
        return;
    }
    let _g = CONSOLE_LOCK.lock_irqsave();
    emit(args);
}

#[macro_export]
macro_rules! printk {
    ($lvl:expr, $($arg:tt)*) => { $crate::kernel::printk::vprintk($lvl, format_args!($($arg)*)) };
}
#[macro_export]
macro_rules! pr_emerg { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_EMERG, $($arg)*) }; }
#[macro_export]
macro_rules! pr_alert { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_ALERT, $($arg)*) }; }
#[macro_export]
macro_rules! pr_crit { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_CRIT, $($arg)*) }; }
#[macro_export]
macro_rules! pr_err { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_ERR, $($arg)*) }; }
#[macro_export]
macro_rules! pr_warn { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_WARNING, $($arg)*) }; }
#[macro_export]
macro_rules! pr_notice { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_NOTICE, $($arg)*) }; }
#[macro_export]
macro_rules! pr_info { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_INFO, $($arg)*) }; }
#[macro_export]
macro_rules! pr_debug { ($($arg:tt)*) => { $crate::printk!($crate::kernel::printk::KERN_DEBUG, $($arg)*) }; }
