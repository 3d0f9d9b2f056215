//! A value initialized exactly once and read freely afterwards (the role
//! `__ro_after_init` data plays in Linux).

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering::*};

const EMPTY: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

pub struct Once<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, before READY is published with Release;
// readers see it only after an Acquire load of READY, and never mutably.
unsafe impl<T: Send + Sync> Sync for Once<T> {}

impl<T> Once<T> {
    pub const fn new() -> Self {
        Once { state: AtomicU8::new(EMPTY), value: UnsafeCell::new(MaybeUninit::uninit()) }
    }

    /// Store `v` if nothing was stored yet; returns the stored value.
    pub fn call_once(&self, f: impl FnOnce() -> T) -> &T {
        if self.state.compare_exchange(EMPTY, BUSY, Acquire, Acquire).is_ok() {
            // SAFETY: BUSY gives us exclusive access until we publish READY.
            unsafe { (*self.value.get()).write(f()) };
            self.state.store(READY, Release);
        }
        while self.state.load(Acquire) != READY {
            core::hint::spin_loop();
        }
        // SAFETY: READY means the value is initialized and immutable from now on.
        unsafe { (*self.value.get()).assume_init_ref() }
    }

    pub fn get(&self) -> Option<&T> {
        if self.state.load(Acquire) == READY {
            // SAFETY: as in call_once.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }
}
