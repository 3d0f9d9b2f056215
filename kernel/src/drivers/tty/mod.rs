//! TTY drivers (mirrors drivers/tty/).
pub mod n_tty;
pub mod serial;
