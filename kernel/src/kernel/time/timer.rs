//! Kernel timers (mirrors kernel/time/timer.c): `add_timer`/`del_timer`,
//! `schedule_timeout` and `msleep`.
//!
//! Each CPU keeps its pending timers ordered by expiry (jiffies); the tick
//! runs the expired ones. Linux uses a hierarchical timer wheel and runs
//! callbacks from the TIMER softirq; Tine keeps a sorted map and runs them
//! from the tick interrupt itself (there are no softirqs yet), so callbacks
//! must not sleep, as in Linux.

use crate::arch::percpu::{smp_processor_id, NR_CPUS};
use crate::kernel::sched::{schedule, wake_up_process};
use crate::kernel::task::{current, TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE};
use crate::kernel::time::{jiffies, msecs_to_jiffies};
use crate::sync::SpinLock;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicU64, Ordering::*};

type TimerFn = Box<dyn FnOnce() + Send>;

/// Pending timers per CPU, keyed by (expiry in jiffies, id). Lock order: leaf.
static TIMER_BASES: [SpinLock<BTreeMap<(u64, u64), TimerFn>>; NR_CPUS] =
    [const { SpinLock::new("timer_base", BTreeMap::new()) }; NR_CPUS];
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub const MAX_SCHEDULE_TIMEOUT: u64 = u64::MAX;

/// A queued timer, for del_timer.
#[derive(Clone, Copy, Debug)]
pub struct TimerHandle {
    cpu: usize,
    key: (u64, u64),
}

/// `add_timer` on this CPU: run `f` from the tick once jiffies >= expires.
pub fn add_timer(expires: u64, f: impl FnOnce() + Send + 'static) -> TimerHandle {
    let cpu = smp_processor_id();
    let key = (expires, NEXT_ID.fetch_add(1, Relaxed));
    TIMER_BASES[cpu].lock_irqsave().insert(key, Box::new(f));
    TimerHandle { cpu, key }
}

/// `del_timer`: true if the timer was still pending.
pub fn del_timer(t: TimerHandle) -> bool {
    TIMER_BASES[t.cpu].lock_irqsave().remove(&t.key).is_some()
}

/// From the tick: run every expired timer of this CPU.
pub fn run_local_timers() {
    let cpu = smp_processor_id();
    let now = jiffies();
    loop {
        let expired = {
            let mut base = TIMER_BASES[cpu].lock_irqsave();
            match base.first_key_value() {
                Some((&(exp, id), _)) if exp <= now => base.remove(&(exp, id)),
                _ => None,
            }
        };
        match expired {
            Some(f) => f(),
            None => break,
        }
    }
}

/// `schedule_timeout`: sleep (in the state the caller already set) until
/// woken or `timeout` jiffies pass; returns the jiffies left.
pub fn schedule_timeout(timeout: u64) -> u64 {
    if timeout == MAX_SCHEDULE_TIMEOUT {
        schedule();
        return MAX_SCHEDULE_TIMEOUT;
    }
    let expire = jiffies().saturating_add(timeout);
    let task = current();
    let t = add_timer(expire, move || {
        wake_up_process(&task); // process_timeout
    });
    schedule();
    del_timer(t);
    expire.saturating_sub(jiffies())
}

pub fn schedule_timeout_interruptible(timeout: u64) -> u64 {
    current().state.store(TASK_INTERRUPTIBLE, SeqCst);
    schedule_timeout(timeout)
}

pub fn schedule_timeout_uninterruptible(timeout: u64) -> u64 {
    current().state.store(TASK_UNINTERRUPTIBLE, SeqCst);
    schedule_timeout(timeout)
}

/// `msleep`: at least `ms` milliseconds, uninterruptibly.
pub fn msleep(ms: u64) {
    crate::sync::might_sleep();
    let mut left = msecs_to_jiffies(ms) + 1;
    while left > 0 {
        left = schedule_timeout_uninterruptible(left);
    }
}
