//! Wait queues and completions (mirrors kernel/sched/wait.c and
//! completion.c).
//!
//! A sleeper puts itself on the queue and sets its state *before* testing
//! its condition, then calls schedule(); a waker changes the condition
//! before calling wake_up(). Either the sleeper sees the new condition, or
//! the waker sees the sleeper on the queue and makes it runnable again (if
//! it has not switched away yet, try_to_wake_up just sets TASK_RUNNING and
//! schedule() keeps it). That ordering is why no wake-up is ever lost.

use super::core::{schedule, try_to_wake_up};
use crate::kernel::task::{current, TaskStruct, TASK_NORMAL, TASK_RUNNING, TASK_UNINTERRUPTIBLE};
use crate::sync::SpinLock;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering::*;

struct WaitEntry {
    task: Arc<TaskStruct>,
    exclusive: bool,
}

/// `wait_queue_head_t`. Lock order: after pi_lock? No: wake_up takes the
/// queue lock, then each task's pi_lock and rq lock (as Linux).
pub struct WaitQueueHead {
    q: SpinLock<VecDeque<WaitEntry>>,
}

impl WaitQueueHead {
    pub const fn new() -> Self {
        WaitQueueHead { q: SpinLock::new("wait_queue_head", VecDeque::new()) }
    }

    fn add(&self, task: &Arc<TaskStruct>, exclusive: bool) {
        let mut q = self.q.lock_irqsave();
        if !q.iter().any(|e| Arc::ptr_eq(&e.task, task)) {
            if exclusive {
                q.push_back(WaitEntry { task: task.clone(), exclusive });
            } else {
                q.push_front(WaitEntry { task: task.clone(), exclusive });
            }
        }
    }

    /// `prepare_to_wait`: queue the current task and set its state.
    pub fn prepare_to_wait(&self, state: u32) {
        let cur = current();
        self.add(&cur, false);
        cur.state.store(state, SeqCst);
    }

    /// `prepare_to_wait_exclusive`: woken one at a time.
    pub fn prepare_to_wait_exclusive(&self, state: u32) {
        let cur = current();
        self.add(&cur, true);
        cur.state.store(state, SeqCst);
    }

    /// `finish_wait`.
    pub fn finish_wait(&self) {
        let cur = current();
        cur.state.store(TASK_RUNNING, SeqCst);
        self.q.lock_irqsave().retain(|e| !Arc::ptr_eq(&e.task, &cur));
    }

    /// `__wake_up`: wake every non-exclusive waiter and up to `nr_exclusive`
    /// exclusive ones (0 = all). Woken waiters stay queued until finish_wait.
    pub fn wake_up_nr(&self, nr_exclusive: usize) -> usize {
        let q = self.q.lock_irqsave();
        let mut woken = 0;
        let mut excl = 0;
        for e in q.iter() {
            if try_to_wake_up(&e.task, TASK_NORMAL, 0) {
                woken += 1;
            }
            if e.exclusive {
                excl += 1;
                if nr_exclusive != 0 && excl >= nr_exclusive {
                    break;
                }
            }
        }
        woken
    }

    pub fn wake_up(&self) -> usize {
        self.wake_up_nr(1)
    }

    pub fn wake_up_all(&self) -> usize {
        self.wake_up_nr(0)
    }

    pub fn waiters(&self) -> usize {
        self.q.lock_irqsave().len()
    }
}

/// `wait_event(wq, condition)` with a state; returns when `cond()` holds.
pub fn wait_event(wq: &WaitQueueHead, state: u32, mut cond: impl FnMut() -> bool) {
    if cond() {
        return;
    }
    loop {
        wq.prepare_to_wait(state);
        if cond() {
            break;
        }
        schedule();
    }
    wq.finish_wait();
}

/// `wait_event_timeout`: returns the jiffies left (0 = timed out and the
/// condition still false).
pub fn wait_event_timeout(wq: &WaitQueueHead, state: u32, mut cond: impl FnMut() -> bool, timeout: u64) -> u64 {
    if cond() {
        return timeout.max(1);
    }
    let mut left = timeout;
    loop {
        wq.prepare_to_wait(state);
        if cond() {
            break;
        }
        left = crate::kernel::time::timer::schedule_timeout(left);
        if left == 0 {
            break;
        }
    }
    wq.finish_wait();
    if cond() {
        left.max(1)
    } else {
        0
    }
}

/// `struct completion`.
pub struct Completion {
    done: SpinLock<u32>,
    wait: WaitQueueHead,
}

impl Completion {
    pub const fn new() -> Self {
        Completion { done: SpinLock::new("completion", 0), wait: WaitQueueHead::new() }
    }

    pub fn complete(&self) {
        {
            let mut d = self.done.lock_irqsave();
            *d = d.saturating_add(1);
        }
        self.wait.wake_up();
    }

    pub fn complete_all(&self) {
        *self.done.lock_irqsave() = u32::MAX;
        self.wait.wake_up_all();
    }

    fn try_consume(&self) -> bool {
        let mut d = self.done.lock_irqsave();
        if *d == 0 {
            return false;
        }
        if *d != u32::MAX {
            *d -= 1;
        }
        true
    }

    pub fn wait_for_completion(&self) {
        crate::sync::might_sleep();
        let mut got = self.try_consume();
        while !got {
            self.wait.prepare_to_wait_exclusive(TASK_UNINTERRUPTIBLE);
            got = self.try_consume();
            if !got {
                schedule();
            }
        }
        self.wait.finish_wait();
    }

    pub fn completion_done(&self) -> bool {
        *self.done.lock_irqsave() != 0
    }
}
