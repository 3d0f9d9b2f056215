//! The 8250/16550 UART as a polled console (mirrors
//! drivers/tty/serial/8250/8250_core.c's `serial8250_console_write` path).
//! Output polls the line-status register, which is what Linux's console
//! does too (it must work from panic with interrupts off); input is polled
//! on the timer tick and goes to the tty (n_tty.rs). Leaves out interrupts
//! and modem control.

use crate::arch::processor::{inb, outb};
use core::sync::atomic::{AtomicU16, Ordering::Relaxed};

/// Legacy PC COM port bases: ttyS0..ttyS3.
pub const PORTS: [u16; 4] = [0x3f8, 0x2f8, 0x3e8, 0x2e8];

const UART_TX: u16 = 0;
const UART_IER: u16 = 1;
const UART_FCR: u16 = 2;
const UART_LCR: u16 = 3;
const UART_MCR: u16 = 4;
const UART_LSR: u16 = 5;
const UART_LSR_THRE: u8 = 0x20;
const UART_LSR_DR: u8 = 0x01;
const UART_RX: u16 = 0;
const UART_LCR_DLAB: u8 = 0x80;

/// I/O base of the console port (0 = none).
static CONSOLE_PORT: AtomicU16 = AtomicU16::new(0);

/// Program a UART for `baud` 8N1 with FIFOs on, interrupts off.
pub fn serial8250_init(base: u16, baud: u32) {
    let divisor = (115200 / baud.clamp(50, 115200)) as u16;
    outb(base + UART_IER, 0x00);
    outb(base + UART_LCR, UART_LCR_DLAB);
    outb(base, (divisor & 0xff) as u8);
    outb(base + 1, (divisor >> 8) as u8);
    outb(base + UART_LCR, 0x03); // 8 bits, no parity, one stop bit
    outb(base + UART_FCR, 0xc7); // enable and clear FIFOs, 14-byte threshold
    outb(base + UART_MCR, 0x03); // DTR, RTS
}

/// Make `port` (an index into PORTS) the console.
pub fn set_console(index: usize, baud: u32) {
    let base = PORTS[index];
    serial8250_init(base, baud);
    CONSOLE_PORT.store(base, Relaxed);
}

fn putc(base: u16, c: u8) {
    // A missing UART reads 0xff and would spin forever on a real machine;
    // bound the wait so the kernel never hangs on its console.
    for _ in 0..100_000 {
        if inb(base + UART_LSR) & UART_LSR_THRE != 0 {
            break;
        }
        core::hint::spin_loop();
    }
    outb(base + UART_TX, c);
}

/// `serial8250_rx_chars`, polled: hand every byte the UART holds to the
/// console tty. Called on CPU 0's timer tick (no device interrupts yet);
/// QEMU holds input back while the receive FIFO is full, so none is lost.
pub fn serial8250_poll() {
    let base = CONSOLE_PORT.load(Relaxed);
    if base == 0 {
        return;
    }
    for _ in 0..256 {
        let lsr = inb(base + UART_LSR);
        if lsr == 0xff || lsr & UART_LSR_DR == 0 {
            break;
        }
        let c = inb(base + UART_RX);
        crate::drivers::tty::n_tty::CONSOLE_TTY.receive_char(c);
    }
}

/// `serial8250_console_write`: a newline becomes CR LF, as `uart_console_write` does.
pub fn console_write(s: &[u8]) {
    let base = CONSOLE_PORT.load(Relaxed);
    if base == 0 {
        return;
    }
    for &c in s {
        if c == b'\n' {
            putc(base, b'\r');
        }
        putc(base, c);
    }
}
