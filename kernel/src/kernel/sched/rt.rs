//! Real-time scheduling: SCHED_FIFO and SCHED_RR (mirrors kernel/sched/rt.c).
//!
//! An RT task has a fixed priority 1..99 (`rt_priority`; kernel prio =
//! 99 - rt_priority, so 0 is the highest). The runqueue keeps one FIFO list
//! per priority and a bitmap of non-empty lists (`rt_prio_array`); the next
//! task is the head of the first non-empty list. A FIFO task runs until it
//! blocks, yields or a higher priority task arrives; an RR task also goes to
//! the back of its list when its time slice (100 ms, RR_TIMESLICE) runs out.
//! Any RT task preempts every fair task at once (class order in pick_next_task).
//!
//! The running RT task stays at the head of its list, as in Linux.
//! Left out: RT throttling (sched_rt_runtime_us), push/pull balancing
//! between CPUs (RT tasks are placed on an idle allowed CPU at wake-up),
//! priority inheritance.

use super::core::*;
use crate::kernel::task::*;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering::*;
use klib::rt_prio::RtPrioBitmap;

const MAX_RT_PRIO: usize = 100;

/// `struct rt_rq`.
pub struct RtRq {
    queue: [VecDeque<Arc<TaskStruct>>; MAX_RT_PRIO],
    bitmap: RtPrioBitmap,
    pub rt_nr_running: u32,
}

impl RtRq {
    pub const fn new() -> RtRq {
        RtRq { queue: [const { VecDeque::new() }; MAX_RT_PRIO], bitmap: RtPrioBitmap::new(), rt_nr_running: 0 }
    }
}

/// SCHED_RR slice in ticks (RR_TIMESLICE = 100 ms).
pub fn rr_timeslice() -> u32 {
    (crate::kernel::time::hz() / 10).max(1)
}

fn prio_index(p: &TaskStruct) -> usize {
    (p.prio().clamp(0, MAX_RT_PRIO as i32 - 1)) as usize
}

pub fn enqueue_task_rt(rq: &mut Rq, p: &Arc<TaskStruct>, flags: u32) {
    let i = prio_index(p);
    if flags & ENQUEUE_HEAD != 0 {
        rq.rt.queue[i].push_front(p.clone());
    } else {
        rq.rt.queue[i].push_back(p.clone());
    }
    rq.rt.bitmap.set(i);
    rq.rt.rt_nr_running += 1;
}

pub fn dequeue_task_rt(rq: &mut Rq, p: &Arc<TaskStruct>) {
    let i = prio_index(p);
    if let Some(pos) = rq.rt.queue[i].iter().position(|t| Arc::ptr_eq(t, p)) {
        rq.rt.queue[i].remove(pos);
        rq.rt.rt_nr_running -= 1;
    }
    if rq.rt.queue[i].is_empty() {
        rq.rt.bitmap.clear(i);
    }
}

pub fn pick_next_task_rt(rq: &mut Rq) -> Option<Arc<TaskStruct>> {
    let i = rq.rt.bitmap.first()?;
    let p = rq.rt.queue[i].front().cloned()?;
    p.se.exec_start.store(rq.clock, Relaxed);
    Some(p)
}

/// The RT task stays queued while it runs; charge its runtime.
pub fn put_prev_task_rt(rq: &mut Rq, prev: &Arc<TaskStruct>) {
    update_curr_rt(rq, prev);
}

fn update_curr_rt(rq: &Rq, curr: &TaskStruct) {
    let start = curr.se.exec_start.load(Relaxed);
    if rq.clock > start {
        curr.se.sum_exec_runtime.fetch_add(rq.clock - start, Relaxed);
        curr.se.exec_start.store(rq.clock, Relaxed);
    }
}

fn requeue_task_rt(rq: &mut Rq, p: &Arc<TaskStruct>) {
    let i = prio_index(p);
    if let Some(pos) = rq.rt.queue[i].iter().position(|t| Arc::ptr_eq(t, p)) {
        if let Some(t) = rq.rt.queue[i].remove(pos) {
            rq.rt.queue[i].push_back(t);
        }
    }
}

/// `task_tick_rt`: round-robin slices.
pub fn task_tick_rt(rq: &mut Rq, curr: &Arc<TaskStruct>) {
    update_curr_rt(rq, curr);
    if curr.policy.load(Relaxed) != SCHED_RR {
        return;
    }
    let left = curr.rt.time_slice.load(Relaxed).saturating_sub(1);
    if left > 0 {
        curr.rt.time_slice.store(left, Relaxed);
        return;
    }
    curr.rt.time_slice.store(rr_timeslice(), Relaxed);
    if rq.rt.queue[prio_index(curr)].len() > 1 {
        requeue_task_rt(rq, curr);
        resched_curr(rq);
    }
}

pub fn check_preempt_curr_rt(rq: &mut Rq, p: &Arc<TaskStruct>) {
    if p.prio() < rq.curr().prio() {
        resched_curr(rq);
    }
}

pub fn yield_task_rt(rq: &mut Rq, curr: &Arc<TaskStruct>) {
    requeue_task_rt(rq, curr);
}

/// `select_task_rq_rt`, simplified: stay unless the previous CPU is busy
/// and an allowed CPU is idle.
pub fn select_task_rq_rt(p: &TaskStruct, prev_cpu: usize) -> usize {
    let allowed = p.cpus_allowed.load(Relaxed) & crate::arch::percpu::cpu_online_mask();
    if allowed & (1 << prev_cpu) != 0 && nr_running(prev_cpu) == 0 {
        return prev_cpu;
    }
    crate::arch::percpu::for_each_online_cpu()
        .find(|&c| allowed & (1 << c) != 0 && nr_running(c) == 0)
        .unwrap_or(prev_cpu)
}
