//! Kernel initialization (mirrors init/).
pub mod main;
