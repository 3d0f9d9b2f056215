//! TTY drivers (mirrors drivers/tty/).
pub mod serial;
