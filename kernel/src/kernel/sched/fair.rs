//! The Completely Fair Scheduler (mirrors kernel/sched/fair.c, 4.19).
//!
//! Every SCHED_NORMAL task has a *virtual runtime*: the CPU time it has
//! used, scaled by its weight. A nice-0 task (weight 1024) accrues vruntime
//! at wall-clock speed; a nice-5 task (weight 335) about three times faster,
//! so it gets about a third of the CPU when both are runnable. The runqueue
//! keeps its runnable tasks in a red-black tree ordered by vruntime and
//! always runs the leftmost one, the one that has had the least.
//!
//! `min_vruntime` follows the smallest vruntime on the queue and never goes
//! back; new and waking tasks are placed relative to it (`place_entity`), so
//! a task that slept for an hour cannot then monopolize the CPU, and a newly
//! forked task starts a slice behind (START_DEBIT). The running task leaves
//! the tree while it runs (`cfs_rq->curr`), which keeps every key stable.
//!
//! The tick (`task_tick_fair`) preempts the running task once it has had
//! its `sched_slice` of the period (`sched_latency` = 6 ms scaled by CPUs,
//! or nr_running * min_granularity when crowded); a waking task preempts
//! when it is behind by more than `wakeup_granularity` (`check_preempt_wakeup`).
//! The arithmetic is `klib::sched`, tested on the host.
//!
//! Left out: group scheduling (cgroups), PELT load tracking, NUMA, buddies
//! (next/last/skip), bandwidth control. Vruntime starts at 0 and is
//! compared as a plain u64 (2^64 ns is 584 years), where Linux starts near
//! the wrap and compares with signed differences to catch wrap bugs.
//!
//! Load balancing is a simplified version of Linux's idea: every
//! BALANCE_INTERVAL_TICKS each CPU compares its load with the busiest CPU
//! and, when the difference is at least two tasks, pulls queued (not
//! running) tasks that may run here; a CPU about to go idle pulls one task
//! at once (idle_balance). Linux weighs load by PELT and sched domains;
//! Tine counts runnable tasks in one flat domain.

use super::core::*;
use crate::arch::percpu::{cpu_online_mask, for_each_online_cpu, NR_CPUS};
use crate::kernel::task::*;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering::*};
use intrusive_collections::{intrusive_adapter, KeyAdapter, RBTree, RBTreeAtomicLink};

intrusive_adapter!(pub TimelineAdapter = Arc<TaskStruct>: TaskStruct { run_node => RBTreeAtomicLink });

impl<'a> KeyAdapter<'a> for TimelineAdapter {
    type Key = (u64, i32);
    fn get_key(&self, t: &'a TaskStruct) -> (u64, i32) {
        (t.se.vruntime.load(Relaxed), t.pid())
    }
}

pub const BALANCE_INTERVAL_TICKS: u32 = 4;

/// `struct cfs_rq`.
pub struct CfsRq {
    pub tasks_timeline: RBTree<TimelineAdapter>,
    pub min_vruntime: u64,
    pub nr_running: u32,
    /// Sum of the weights of the queued tasks (running one included).
    pub load: u64,
    pub curr: Option<Arc<TaskStruct>>,
}

impl CfsRq {
    pub const fn new() -> CfsRq {
        CfsRq { tasks_timeline: RBTree::new(TimelineAdapter::NEW), min_vruntime: 0, nr_running: 0, load: 0, curr: None }
    }
    fn leftmost_vruntime(&self) -> Option<u64> {
        self.tasks_timeline.front().get().map(|t| t.se.vruntime.load(Relaxed))
    }
}

/// min_vruntime of each CPU, readable without its rq lock (migration fix-ups).
static MIN_VRUNTIME: [AtomicU64; NR_CPUS] = [const { AtomicU64::new(0) }; NR_CPUS];

fn weight(p: &TaskStruct) -> u64 {
    p.se.load_weight.load(Relaxed)
}

fn update_min_vruntime(rq: &mut Rq) {
    let curr = rq.cfs.curr.as_ref().map(|c| c.se.vruntime.load(Relaxed));
    let m = klib::sched::update_min_vruntime(rq.cfs.min_vruntime, curr, rq.cfs.leftmost_vruntime());
    rq.cfs.min_vruntime = m;
    MIN_VRUNTIME[rq.cpu].store(m, Relaxed);
}

/// `update_curr`: charge the running task for the time since exec_start.
pub fn update_curr(rq: &mut Rq) {
    let Some(curr) = rq.cfs.curr.clone() else { return };
    let now = rq.clock;
    let start = curr.se.exec_start.load(Relaxed);
    if now <= start {
        return;
    }
    let delta = now - start;
    curr.se.exec_start.store(now, Relaxed);
    curr.se.sum_exec_runtime.fetch_add(delta, Relaxed);
    curr.se.vruntime.fetch_add(klib::sched::calc_delta_fair(delta, weight(&curr)), Relaxed);
    update_min_vruntime(rq);
}

fn insert(rq: &mut Rq, p: &Arc<TaskStruct>) {
    rq.cfs.tasks_timeline.insert(p.clone());
}

fn remove(rq: &mut Rq, p: &Arc<TaskStruct>) {
    let key = (p.se.vruntime.load(Relaxed), p.pid());
    let removed = rq.cfs.tasks_timeline.find_mut(&key).remove();
    debug_assert!(removed.is_some_and(|r| Arc::ptr_eq(&r, p)), "CFS timeline lost pid {}", p.pid());
}

fn sched_vslice(rq: &Rq, p: &TaskStruct) -> u64 {
    let t = tunables();
    let slice = klib::sched::sched_slice(&t, rq.cfs.nr_running as u64 + 1, weight(p), rq.cfs.load + weight(p));
    klib::sched::calc_delta_fair(slice, weight(p))
}

pub fn enqueue_task_fair(rq: &mut Rq, p: &Arc<TaskStruct>, flags: u32) {
    update_curr(rq);
    if flags & (ENQUEUE_INITIAL | ENQUEUE_MIGRATED) != 0 {
        // The vruntime was kept relative to the old queue's min_vruntime.
        p.se.vruntime.fetch_add(rq.cfs.min_vruntime, Relaxed);
    }
    if flags & ENQUEUE_WAKEUP != 0 {
        let t = tunables();
        let v = klib::sched::place_entity(&t, rq.cfs.min_vruntime, p.se.vruntime.load(Relaxed), false, 0);
        p.se.vruntime.store(v, Relaxed);
    }
    insert(rq, p);
    rq.cfs.nr_running += 1;
    rq.cfs.load += weight(p);
    update_min_vruntime(rq);
}

pub fn dequeue_task_fair(rq: &mut Rq, p: &Arc<TaskStruct>, flags: u32) {
    update_curr(rq);
    if rq.cfs.curr.as_ref().is_some_and(|c| Arc::ptr_eq(c, p)) {
        rq.cfs.curr = None;
    } else {
        remove(rq, p);
    }
    rq.cfs.nr_running -= 1;
    rq.cfs.load -= weight(p);
    update_min_vruntime(rq);
    if flags & DEQUEUE_MIGRATE != 0 {
        p.se.vruntime.fetch_sub(rq.cfs.min_vruntime.min(p.se.vruntime.load(Relaxed)), Relaxed);
    }
}

pub fn put_prev_task_fair(rq: &mut Rq, prev: &Arc<TaskStruct>) {
    if rq.cfs.curr.as_ref().is_some_and(|c| Arc::ptr_eq(c, prev)) {
        update_curr(rq);
        rq.cfs.curr = None;
        insert(rq, prev);
    }
}

/// `set_next_entity`: the leftmost task leaves the tree and runs.
pub fn pick_next_task_fair(rq: &mut Rq) -> Option<Arc<TaskStruct>> {
    let p = rq.cfs.tasks_timeline.front_mut().remove()?;
    p.se.exec_start.store(rq.clock, Relaxed);
    p.se.prev_sum_exec_runtime.store(p.se.sum_exec_runtime.load(Relaxed), Relaxed);
    rq.cfs.curr = Some(p.clone());
    Some(p)
}

/// The running task was re-queued (priority change): make it curr again.
pub fn set_curr_task_fair(rq: &mut Rq, p: &Arc<TaskStruct>) {
    remove(rq, p);
    p.se.exec_start.store(rq.clock, Relaxed);
    rq.cfs.curr = Some(p.clone());
}

/// `check_preempt_tick`.
pub fn task_tick_fair(rq: &mut Rq, curr: &Arc<TaskStruct>) {
    update_curr(rq);
    let t = tunables();
    let ideal = klib::sched::sched_slice(&t, rq.cfs.nr_running as u64, weight(curr), rq.cfs.load);
    let ran = curr.se.sum_exec_runtime.load(Relaxed) - curr.se.prev_sum_exec_runtime.load(Relaxed);
    if ran > ideal {
        resched_curr(rq);
        return;
    }
    if ran < t.sched_min_granularity_ns {
        return;
    }
    if let Some(left) = rq.cfs.leftmost_vruntime() {
        let cv = curr.se.vruntime.load(Relaxed);
        if cv > left && cv - left > ideal {
            resched_curr(rq);
        }
    }
}

/// `check_preempt_wakeup`: does the woken fair task preempt the running one?
pub fn check_preempt_wakeup(rq: &mut Rq, p: &Arc<TaskStruct>) {
    update_curr(rq);
    let curr = rq.curr().clone();
    let t = tunables();
    let r = klib::sched::wakeup_preempt_entity(&t, curr.se.vruntime.load(Relaxed), p.se.vruntime.load(Relaxed), weight(p));
    if r == 1 {
        resched_curr(rq);
    }
}

/// `task_fork_fair`: a child starts one vslice behind its parent (START_DEBIT);
/// its vruntime is kept relative until wake_up_new_task enqueues it.
pub fn task_fork_fair(rq: &mut Rq, p: &Arc<TaskStruct>) {
    update_curr(rq);
    let base = rq.cfs.curr.as_ref().map_or(rq.cfs.min_vruntime, |c| c.se.vruntime.load(Relaxed));
    let t = tunables();
    let v = klib::sched::place_entity(&t, rq.cfs.min_vruntime, base, true, sched_vslice(rq, p));
    p.se.vruntime.store(v.saturating_sub(rq.cfs.min_vruntime), Relaxed);
    p.se.sum_exec_runtime.store(0, Relaxed);
}

/// `yield_task_fair`: go behind every other queued task.
pub fn yield_task_fair(rq: &mut Rq) {
    update_curr(rq);
    let Some(curr) = rq.cfs.curr.clone() else { return };
    if let Some(last) = rq.cfs.tasks_timeline.back().get() {
        let lv = last.se.vruntime.load(Relaxed);
        if lv >= curr.se.vruntime.load(Relaxed) {
            curr.se.vruntime.store(lv + 1, Relaxed);
        }
    }
}

/// `select_task_rq_fair`, flattened: the previous CPU if it is idle, else
/// the allowed CPU with the fewest runnable tasks.
pub fn select_task_rq_fair(p: &TaskStruct, prev_cpu: usize) -> usize {
    let allowed = p.cpus_allowed.load(Relaxed) & cpu_online_mask();
    if allowed & (1 << prev_cpu) != 0 && nr_running(prev_cpu) == 0 {
        return prev_cpu;
    }
    let mut best = prev_cpu;
    let mut best_load = u64::MAX;
    for cpu in for_each_online_cpu().filter(|c| allowed & (1 << c) != 0) {
        let load = nr_running(cpu);
        if load < best_load || (load == best_load && cpu == prev_cpu) {
            best = cpu;
            best_load = load;
        }
    }
    best
}

/// `migrate_task_rq_fair` for a sleeping task changing CPU: keep its lag
/// relative to min_vruntime.
pub fn migrate_task_rq_fair(p: &TaskStruct, old: usize, new: usize) {
    if p.class() != SchedClassId::Fair || p.on_rq.load(Relaxed) != 0 {
        return;
    }
    let v = p.se.vruntime.load(Relaxed);
    let v = v.saturating_sub(MIN_VRUNTIME[old].load(Relaxed)) + MIN_VRUNTIME[new].load(Relaxed);
    p.se.vruntime.store(v, Relaxed);
}

/// Queued fair tasks of `src` (not running) that may run on `dst_cpu`.
fn movable_task(src: &Rq, dst_cpu: usize) -> Option<Arc<TaskStruct>> {
    // Take from the right: the task that has waited least loses least.
    let mut c = src.tasks_timeline_back();
    while let Some(t) = c.get() {
        if t.cpus_allowed.load(Relaxed) & (1 << dst_cpu) != 0 {
            return c.clone_pointer();
        }
        c.move_prev();
    }
    None
}

impl Rq {
    fn tasks_timeline_back(&self) -> intrusive_collections::rbtree::Cursor<'_, TimelineAdapter> {
        self.cfs.tasks_timeline.back()
    }
}

/// Pull up to `max` tasks from `busiest` to `this` (both locked).
fn pull_tasks(busiest: &mut Rq, this: &mut Rq, max: u32) -> u32 {
    let mut moved = 0;
    while moved < max {
        let Some(p) = movable_task(busiest, this.cpu) else { break };
        move_queued_task_locked(busiest, this, &p);
        moved += 1;
    }
    moved
}

fn find_busiest(this_cpu: usize) -> Option<(usize, u64)> {
    let mut busiest = None;
    let mut max = 0;
    for cpu in for_each_online_cpu().filter(|&c| c != this_cpu) {
        let n = nr_running(cpu);
        if n > max {
            max = n;
            busiest = Some(cpu);
        }
    }
    busiest.map(|b| (b, max))
}

/// Periodic balancing (Linux: trigger_load_balance -> run_rebalance_domains
/// -> load_balance), run from the tick with this CPU's rq unlocked.
pub fn trigger_load_balance(this_cpu: usize) {
    let Some((busiest, load)) = find_busiest(this_cpu) else { return };
    let mine = nr_running(this_cpu);
    if load < mine + 2 {
        return;
    }
    let (mut b, mut t) = double_rq_lock(busiest, this_cpu);
    let imbalance = (b.nr_running.saturating_sub(t.nr_running)) / 2;
    if imbalance > 0 {
        update_rq_clock(&mut b);
        update_rq_clock(&mut t);
        pull_tasks(&mut b, &mut t, imbalance);
    }
}

/// `idle_balance`: about to idle, pull one waiting task.
pub fn idle_balance(this_cpu: usize) {
    let Some((busiest, load)) = find_busiest(this_cpu) else { return };
    if load < 2 {
        return;
    }
    let (mut b, mut t) = double_rq_lock(busiest, this_cpu);
    if b.nr_running >= 2 {
        update_rq_clock(&mut b);
        update_rq_clock(&mut t);
        pull_tasks(&mut b, &mut t, 1);
    }
}
