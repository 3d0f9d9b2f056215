//! Device drivers (mirrors drivers/). Only the serial console exists so far.
pub mod tty;
