//! Ticket spinlocks with Linux's calling conventions.
//!
//! `lock()` is `spin_lock`: it disables preemption for as long as the guard
//! lives. `lock_irqsave()` is `spin_lock_irqsave`: it also disables local
//! interrupts and restores the previous state on drop. A ticket lock (Linux
//! used them on x86 until 4.2) is FIFO, so no CPU starves under contention.
//!
//! Debug builds (CONFIG_DEBUG_SPINLOCK + CONFIG_DEBUG_ATOMIC_SLEEP in Linux)
//! record the owner CPU and catch two bugs at once instead of hanging:
//! taking a lock this CPU already holds (`BUG: spinlock recursion`), and
//! calling a sleeping function with a spinlock held or interrupts off
//! (`might_sleep`).
//!
//! Lock ordering rules are written next to each lock's declaration.

use crate::arch::percpu::{preempt_count, preempt_count_add, preempt_count_sub, smp_processor_id};
use crate::arch::processor::{cpu_relax, irqs_disabled, local_irq_restore, local_irq_save};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

const NO_OWNER: u32 = u32::MAX;

pub struct SpinLock<T: ?Sized> {
    next_ticket: AtomicU32,
    now_serving: AtomicU32,
    /// CPU holding the lock (debug builds), for recursion detection.
    owner_cpu: AtomicU32,
    /// A guard was handed off across a context switch (see `handoff`).
    handed_off: core::sync::atomic::AtomicBool,
    name: &'static str,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serializes all access to `data`, so sharing the lock
// between CPUs is safe whenever the data itself may be sent between them.
unsafe impl<T: ?Sized + Send> Sync for SpinLock<T> {}
// SAFETY: as above; moving the lock moves the data.
unsafe impl<T: ?Sized + Send> Send for SpinLock<T> {}

pub fn preempt_disable() {
    preempt_count_add(1);
}

/// Drop a preempt_disable without acting on need_resched (the caller is
/// about to schedule anyway).
pub fn preempt_enable_no_resched() {
    preempt_count_sub(1);
}

pub fn preempt_enable() {
    preempt_count_sub(1);
    // The scheduler (next issue) reschedules here when need_resched is set.
}

impl<T> SpinLock<T> {
    pub const fn new(name: &'static str, data: T) -> Self {
        SpinLock {
            next_ticket: AtomicU32::new(0),
            now_serving: AtomicU32::new(0),
            owner_cpu: AtomicU32::new(NO_OWNER),
            handed_off: core::sync::atomic::AtomicBool::new(false),
            name,
            data: UnsafeCell::new(data),
        }
    }
}

impl<T: ?Sized> SpinLock<T> {
    fn check_recursion(&self) {
        if cfg!(debug_assertions) && self.owner_cpu.load(Relaxed) == smp_processor_id() as u32 {
            spin_bug(self.name, "recursion");
        }
    }

    fn acquire(&self) {
        preempt_disable();
        self.check_recursion();
        let ticket = self.next_ticket.fetch_add(1, Relaxed);
        while self.now_serving.load(Acquire) != ticket {
            cpu_relax();
        }
        if cfg!(debug_assertions) {
            self.owner_cpu.store(smp_processor_id() as u32, Relaxed);
        }
    }

    fn release(&self) {
        if cfg!(debug_assertions) {
            self.owner_cpu.store(NO_OWNER, Relaxed);
        }
        self.now_serving.fetch_add(1, Release);
        preempt_enable();
    }

    /// `spin_lock`.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        self.acquire();
        SpinLockGuard { lock: self, irq_was_enabled: None }
    }

    /// `spin_lock_irqsave`: also masks local interrupts, so the lock may be
    /// shared with interrupt handlers.
    pub fn lock_irqsave(&self) -> SpinLockGuard<'_, T> {
        let was = local_irq_save();
        self.acquire();
        SpinLockGuard { lock: self, irq_was_enabled: Some(was) }
    }

    /// `spin_trylock_irqsave`.
    pub fn try_lock_irqsave(&self) -> Option<SpinLockGuard<'_, T>> {
        let was = local_irq_save();
        preempt_disable();
        let cur = self.now_serving.load(Relaxed);
        if self.next_ticket.compare_exchange(cur, cur.wrapping_add(1), Acquire, Relaxed).is_ok() {
            if cfg!(debug_assertions) {
                self.owner_cpu.store(smp_processor_id() as u32, Relaxed);
            }
            return Some(SpinLockGuard { lock: self, irq_was_enabled: Some(was) });
        }
        preempt_enable();
        local_irq_restore(was);
        None
    }

    /// Take over a lock that the task we just switched away from handed
    /// off (Linux: the rq lock taken in __schedule is released by the next
    /// task in finish_task_switch). Exactly one adoption per handoff, so
    /// there is never more than one guard. Dropping the returned guard
    /// unlocks and enables interrupts (`spin_unlock_irq`).
    pub fn adopt_handoff(&self) -> SpinLockGuard<'_, T> {
        assert!(
            self.handed_off.swap(false, Acquire) && self.is_locked(),
            "adopt_handoff on {} without a handoff",
            self.name
        );
        SpinLockGuard { lock: self, irq_was_enabled: Some(true) }
    }

    pub fn is_locked(&self) -> bool {
        self.next_ticket.load(Relaxed) != self.now_serving.load(Relaxed)
    }

    /// Break the lock for the panic path (Linux: `bust_spinlocks` /
    /// `zap_locks`): the holder was stopped and will never release it.
    pub fn force_unlock(&self) {
        self.owner_cpu.store(NO_OWNER, Relaxed);
        self.now_serving.store(self.next_ticket.load(Relaxed), Release);
    }
}

pub struct SpinLockGuard<'a, T: ?Sized> {
    lock: &'a SpinLock<T>,
    irq_was_enabled: Option<bool>,
}

impl<T: ?Sized> SpinLockGuard<'_, T> {
    /// Leave the lock held (and interrupts and preemption off) for the next
    /// task on this CPU to `adopt_handoff` after a context switch.
    pub fn handoff(self) {
        self.lock.handed_off.store(true, Release);
        core::mem::forget(self);
    }
}

impl<T: ?Sized> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: holding the guard means holding the lock.
        unsafe { &*self.lock.data.get() }
    }
}
impl<T: ?Sized> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: holding the guard means holding the lock exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}
impl<T: ?Sized> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release();
        if let Some(was) = self.irq_was_enabled {
            local_irq_restore(was);
        }
    }
}

fn spin_bug(name: &str, msg: &str) -> ! {
    // Linux: spin_dump() prints "BUG: spinlock %s on CPU#%d, %s/%d" and the stack.
    let cpu = smp_processor_id();
    let (pid, comm) = crate::kernel::panic::current_pid_comm();
    crate::kernel::panic::bug_report(format_args!(
        "BUG: spinlock {} on CPU#{}, {}/{} (lock: {})",
        msg, cpu, comm.as_str(), pid, name
    ));
    crate::kernel::panic::panic(format_args!("spinlock {}: {}", msg, name));
}

/// How many times `might_sleep` caught a sleeping call in atomic context.
pub static MIGHT_SLEEP_BUGS: AtomicU64 = AtomicU64::new(0);

/// `might_sleep()`: functions that can sleep call this first. In debug builds
/// it reports (once per call site would be Linux's ratelimit; we report every
/// time and count) a call with preemption disabled or interrupts off.
#[track_caller]
pub fn might_sleep() {
    if !cfg!(debug_assertions) {
        return;
    }
    let pc = preempt_count();
    let irqs_off = irqs_disabled();
    if pc == 0 && !irqs_off {
        return;
    }
    MIGHT_SLEEP_BUGS.fetch_add(1, Relaxed);
    let loc = core::panic::Location::caller();
    pr_err!("BUG: sleeping function called from invalid context at {}:{}", loc.file(), loc.line());
    let (pid, comm) = crate::kernel::panic::current_pid_comm();
    pr_err!(
        "in_atomic(): {}, irqs_disabled(): {}, non_block: 0, pid: {}, name: {}",
        (pc != 0) as u32,
        irqs_off as u32,
        pid,
        comm.as_str()
    );
    crate::kernel::panic::dump_stack();
}
