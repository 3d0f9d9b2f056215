//! Serial drivers (mirrors drivers/tty/serial/).
pub mod serial8250;
