//! Character devices (mirrors fs/char_dev.c's chrdev_open, the memory
//! devices of drivers/char/mem.c, and the console of drivers/tty/tty_io.c).
//!
//! Opening a device node picks its driver by (major, minor): /dev/null
//! (1,3) swallows writes and reads end-of-file, /dev/zero (1,5) reads
//! zeros, /dev/console (5,1) writes to the serial console. Anything else is
//! ENXIO, as for a device with no driver.
//!
//! The console's reads and terminal ioctls are the tty's
//! (drivers/tty/n_tty.rs); /dev/tty (5,0) opens the caller's controlling
//! terminal, ENXIO without one. Left out: /dev/full, /dev/mem and the
//! rest of mem.c, virtual consoles.

use crate::kernel::errno::*;

/// Serializes writers of the console (Linux: tty->atomic_write_lock).
static TTY_ATOMIC_WRITE_LOCK: crate::sync::SpinLock<()> = crate::sync::SpinLock::new("atomic_write_lock", ());

pub const MEM_MAJOR: u32 = 1;
pub const TTYAUX_MAJOR: u32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharDev {
    Null,
    Zero,
    Console,
}

/// `chrdev_open`: the driver for a device number.
pub fn chrdev_open(major: u32, minor: u32) -> KResult<CharDev> {
    match (major, minor) {
        (MEM_MAJOR, 3) => Ok(CharDev::Null),
        (MEM_MAJOR, 5) => Ok(CharDev::Zero),
        (TTYAUX_MAJOR, 1) => Ok(CharDev::Console),
        // /dev/tty: the controlling terminal, which can only be the console.
        (TTYAUX_MAJOR, 0) if crate::drivers::tty::n_tty::CONSOLE_TTY.is_ctty_of(&crate::kernel::task::current()) => Ok(CharDev::Console),
        _ => Err(ENXIO),
    }
}

impl CharDev {
    /// `read_null`, `read_iter_zero`, and the console's tty_read.
    pub fn read(self, buf: &mut [u8], nonblock: bool) -> KResult<usize> {
        match self {
            CharDev::Null => Ok(0),
            CharDev::Console => crate::drivers::tty::n_tty::CONSOLE_TTY.read(buf, nonblock),
            CharDev::Zero => {
                buf.fill(0);
                Ok(buf.len())
            }
        }
    }

    /// `write_null`, `write_zero` (both discard); the console prints
    /// (a newline goes out as CR LF, as a tty's ONLCR does).
    pub fn write(self, buf: &[u8]) -> KResult<usize> {
        if self == CharDev::Console {
            // One write(2) reaches the terminal whole, never interleaved
            // with another writer's (tty_write's atomic_write_lock; kernel
            // messages do not take it, as printk does not).
            let _guard = TTY_ATOMIC_WRITE_LOCK.lock();
            crate::drivers::tty::serial::serial8250::console_write(buf);
        }
        Ok(buf.len())
    }

    /// `null_lseek` (every seek lands at 0); a tty cannot seek.
    pub fn llseek(self) -> KResult<u64> {
        match self {
            CharDev::Null | CharDev::Zero => Ok(0),
            CharDev::Console => Err(ESPIPE),
        }
    }
}
