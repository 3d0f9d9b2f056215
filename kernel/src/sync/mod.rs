//! Locking primitives (mirrors include/linux/spinlock.h, kernel/locking/
//! spinlock_debug.c and include/linux/preempt.h).
mod once;
mod spinlock;
pub use once::Once;
pub use spinlock::*;
