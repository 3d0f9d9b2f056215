//! Architecture code. Only x86_64 exists; the rest of the kernel uses it
//! through `crate::arch::*`.
pub mod x86_64;
pub use self::x86_64::*;
