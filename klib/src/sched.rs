//! The arithmetic of the Completely Fair Scheduler.
//!
//! Mirrors the priority definitions of Linux 4.19
//! `include/linux/sched/prio.h`, the weight tables of `kernel/sched/core.c`
//! (`sched_prio_to_weight[]`, `sched_prio_to_wmult[]`) and the pure
//! arithmetic of `kernel/sched/fair.c`: `__calc_delta`, `calc_delta_fair`,
//! `__sched_period`, `sched_slice`, `place_entity`, `wakeup_gran`,
//! `wakeup_preempt_entity`, `check_preempt_tick`, `update_min_vruntime` and
//! the wrap-safe vruntime comparisons.  The run queue itself (the red-black
//! tree ordered by vruntime, `cfs_rq->curr`, the load sum) lives in the
//! kernel; it calls these functions with plain numbers.
//!
//! # Priorities and nice values
//!
//! A task's priority is a number from 0 to 139, lower meaning more
//! important.  0..=99 belong to the real-time classes (`SCHED_FIFO`,
//! `SCHED_RR`, see [`crate::rt_prio`]), 100..=139 to normal tasks, which
//! users know by their *nice* value: nice -20 is priority 100, nice 0 (the
//! default) is 120 and nice 19 is 139.
//!
//! # Weights
//!
//! CFS does not hand out fixed time slices per priority.  Instead every task
//! has a *weight*, and over any stretch of time each runnable task should
//! get CPU time in proportion to its weight.  Nice 0 weighs 1024
//! ([`NICE_0_LOAD`]); each nice level step multiplies the weight by about
//! 1.25, so that a task that moves one nice level up loses about 10% of the
//! CPU to an unchanged competitor (1024 : 820 is 55.5% : 44.5%).  The table
//! [`SCHED_PRIO_TO_WEIGHT`] holds the 40 weights, hand-tuned so that the
//! 1.25 ratio holds closely everywhere; [`SCHED_PRIO_TO_WMULT`] holds their
//! inverses 2^32 / weight, so that dividing by a weight becomes a
//! multiplication and a shift.
//!
//! # Virtual runtime
//!
//! Each task accumulates *vruntime*: the CPU time it has received, scaled by
//! NICE_0_LOAD / weight ([`calc_delta_fair`]).  A nice 0 task's vruntime
//! advances at wall-clock speed, a heavier task's more slowly, a lighter
//! task's faster.  Always running the task with the smallest vruntime (the
//! leftmost node of the run queue's tree) therefore shares the CPU in
//! proportion to the weights.  vruntime is a `u64` of nanoseconds that may
//! wrap around; it is only ever compared through the signed difference of
//! two values ([`entity_before`], [`max_vruntime`]), which stays correct as
//! long as the values being compared are within 2^63 ns (292 years) of each
//! other.
//!
//! The run queue keeps `min_vruntime`, a monotonic lower bound of the
//! vruntimes of its tasks ([`update_min_vruntime`]).  It is the yardstick for
//! tasks joining the queue: a new or long-sleeping task must not start at
//! vruntime 0 and monopolise the CPU until it has "caught up", so
//! [`place_entity`] puts it near `min_vruntime`.  A forked task starts one
//! virtual slice *after* it (`START_DEBIT`: the current period is already
//! promised to the tasks that were there), a waking task at most half a
//! latency *before* it (`GENTLE_FAIR_SLEEPERS`: a sleeper gets a small bonus
//! so that interactive tasks respond quickly, but not an unbounded one).
//!
//! # Period, slice and preemption
//!
//! The *scheduling period* ([`sched_period`]) is the time in which every
//! runnable task should run once: `sched_latency` (6 ms), stretched to
//! `nr_running * min_granularity` when there are so many tasks that slices
//! would get shorter than `min_granularity` (0.75 ms).  A task's *slice*
//! ([`sched_slice`]) is its weight's share of the period.  The tick preempts
//! the running task once it has used its slice ([`check_preempt_tick`]); a
//! waking task preempts the running one when its vruntime is smaller by more
//! than the wake-up granularity ([`wakeup_preempt_entity`]), so that tasks
//! with nearly equal vruntime do not ping-pong.  The three tunables grow
//! with the logarithm of the number of CPUs ([`SchedTunables::for_cpus`]).
//!
//! # Left out
//!
//! Group scheduling (task groups, hierarchical entities: every entity here
//! is a task on the root run queue), PELT load tracking, SMP load
//! balancing, CFS bandwidth control, the next/last/skip buddies, NUMA
//! balancing, `SCHED_DEADLINE`, and the extra 10 bits of load resolution
//! that 64-bit Linux can enable (`scale_load`): weights here are the
//! `scale_load_down`ed table values, NICE_0_LOAD is 1024.  The
//! `sched_features` that matter here are fixed at their 4.19 defaults
//! (`START_DEBIT` and `GENTLE_FAIR_SLEEPERS` on).
//!
//! Every function is total: where Linux would overflow (an absurd weight, a
//! run queue of billions of tasks) the result saturates instead.

/// Highest (weakest) nice value.
pub const MAX_NICE: i32 = 19;
/// Lowest (strongest) nice value.
pub const MIN_NICE: i32 = -20;
/// Number of nice levels.
pub const NICE_WIDTH: i32 = MAX_NICE - MIN_NICE + 1;
/// Priorities `0..MAX_RT_PRIO` are real-time.
pub const MAX_RT_PRIO: i32 = 100;
/// Priorities `MAX_RT_PRIO..MAX_PRIO` are normal (nice -20..=19).
pub const MAX_PRIO: i32 = MAX_RT_PRIO + NICE_WIDTH;
/// The priority of nice 0.
pub const DEFAULT_PRIO: i32 = MAX_RT_PRIO + NICE_WIDTH / 2;

/// The weight of a nice 0 task.
pub const NICE_0_LOAD: u64 = 1024;

/// Weight of a `SCHED_IDLE` task, lighter than nice 19.
pub const WEIGHT_IDLEPRIO: u32 = 3;
/// Inverse weight of a `SCHED_IDLE` task (2^32 / 3).
pub const WMULT_IDLEPRIO: u32 = 1_431_655_765;

/// Nice value to static priority (saturating, never overflows).
pub const fn nice_to_prio(nice: i32) -> i32 {
    nice.saturating_add(DEFAULT_PRIO)
}

/// Static priority to nice value (saturating, never overflows).
pub const fn prio_to_nice(prio: i32) -> i32 {
    prio.saturating_sub(DEFAULT_PRIO)
}

/// Weight of each nice level, index 0 being nice -20 (Linux
/// `sched_prio_to_weight[]`).  Each entry is about 1.25 times the next.
#[rustfmt::skip]
pub const SCHED_PRIO_TO_WEIGHT: [u32; 40] = [
    /* -20 */ 88761, 71755, 56483, 46273, 36291,
    /* -15 */ 29154, 23254, 18705, 14949, 11916,
    /* -10 */  9548,  7620,  6100,  4904,  3906,
    /*  -5 */  3121,  2501,  1991,  1586,  1277,
    /*   0 */  1024,   820,   655,   526,   423,
    /*   5 */   335,   272,   215,   172,   137,
    /*  10 */   110,    87,    70,    56,    45,
    /*  15 */    36,    29,    23,    18,    15,
];

/// 2^32 / weight for each nice level (Linux `sched_prio_to_wmult[]`):
/// rounded to nearest, except four entries (nice 13, 14, 16, 17) that Linux
/// truncates.
#[rustfmt::skip]
pub const SCHED_PRIO_TO_WMULT: [u32; 40] = [
    /* -20 */     48388,     59856,     76040,     92818,    118348,
    /* -15 */    147320,    184698,    229616,    287308,    360437,
    /* -10 */    449829,    563644,    704093,    875809,   1099582,
    /*  -5 */   1376151,   1717300,   2157191,   2708050,   3363326,
    /*   0 */   4194304,   5237765,   6557202,   8165337,  10153587,
    /*   5 */  12820798,  15790321,  19976592,  24970740,  31350126,
    /*  10 */  39045157,  49367440,  61356676,  76695844,  95443717,
    /*  15 */ 119304647, 148102320, 186737708, 238609294, 286331153,
];

/// Table index of a nice value, clamped into [MIN_NICE, MAX_NICE].
fn nice_index(nice: i32) -> usize {
    // After clamping the value is 0..=39, so the cast is lossless.
    (nice.clamp(MIN_NICE, MAX_NICE) - MIN_NICE) as usize
}

/// Weight of a nice level; `nice` is clamped into [-20, 19].
pub fn nice_to_weight(nice: i32) -> u64 {
    u64::from(SCHED_PRIO_TO_WEIGHT[nice_index(nice)])
}

/// Inverse weight (2^32 / weight) of a nice level; `nice` is clamped into
/// [-20, 19].  This is what Linux's `set_load_weight` stores in
/// `se->load.inv_weight`.
pub fn nice_to_wmult(nice: i32) -> u32 {
    SCHED_PRIO_TO_WMULT[nice_index(nice)]
}

/// `WMULT_CONST`: the largest 32-bit inverse, 2^32 - 1.
const WMULT_CONST: u64 = u32::MAX as u64;
/// `WMULT_SHIFT`: inverses are fixed point with 32 fractional bits.
const WMULT_SHIFT: i32 = 32;

/// The inverse Linux computes for a weight that is not a task's own
/// (`__update_inv_weight`), such as a run queue's total load:
/// `WMULT_CONST / w`, with 1 for huge and `WMULT_CONST` for zero weights.
pub fn load_inv_weight(w: u64) -> u32 {
    if w >= WMULT_CONST {
        1
    } else {
        // w < 2^32 - 1, so the quotient fits in 32 bits; w == 0 gives
        // WMULT_CONST, as in Linux.
        WMULT_CONST.checked_div(w).map_or(u32::MAX, |q| q as u32)
    }
}

/// The inverse Linux uses for a task entity of weight `w`: the table entry
/// if `w` is one of the 40 table weights (or the `SCHED_IDLE` weight), as
/// `set_load_weight` stores it, otherwise [`load_inv_weight`].
pub fn task_inv_weight(w: u64) -> u32 {
    if w == u64::from(WEIGHT_IDLEPRIO) {
        return WMULT_IDLEPRIO;
    }
    match SCHED_PRIO_TO_WEIGHT
        .iter()
        .position(|&tw| u64::from(tw) == w)
    {
        Some(i) => SCHED_PRIO_TO_WMULT[i],
        None => load_inv_weight(w),
    }
}

/// `__calc_delta`: `delta_exec * weight / lw_weight`, computed as Linux does
/// with the precomputed inverse `inv_weight` (about 2^32 / lw_weight):
///
/// ```text
/// (delta_exec * (weight * inv_weight)) >> 32
/// ```
///
/// where `weight * inv_weight` is first shifted right (and the final shift
/// reduced to match) until it fits in 32 bits, so that the last product
/// fits in 96 bits.  The result is exactly Linux's, except that where
/// Linux's 64-bit result would overflow this one saturates at `u64::MAX`
/// (and where Linux's shift would turn negative, which its callers never
/// allow, this one shifts left instead of misbehaving).
pub fn calc_delta_inv(delta_exec: u64, weight: u64, inv_weight: u32) -> u64 {
    let mut fact = weight;
    let mut shift = WMULT_SHIFT;
    while fact >> 32 != 0 {
        fact >>= 1;
        shift -= 1;
    }
    // fact < 2^32 now, so the product fits in 64 bits.
    fact *= u64::from(inv_weight);
    while fact >> 32 != 0 {
        fact >>= 1;
        shift -= 1;
    }
    // delta_exec < 2^64 and fact < 2^32: the product fits in 96 bits, and
    // shift >= -32, so even a left shift stays below 2^128.
    let prod = u128::from(delta_exec) * u128::from(fact);
    let res = if shift >= 0 {
        prod >> shift
    } else {
        prod << shift.unsigned_abs()
    };
    u64::try_from(res).unwrap_or(u64::MAX)
}

/// `__calc_delta(delta_exec, weight, lw)` for a load of weight `lw_weight`,
/// i.e. `delta_exec * weight / lw_weight` in Linux's fixed-point method
/// (see [`calc_delta_inv`]).
///
/// The inverse of `lw_weight` is the one Linux would have cached for a
/// task of that weight ([`task_inv_weight`]: the `sched_prio_to_wmult[]`
/// entry for table weights), so `calc_delta(d, NICE_0_LOAD, w)` is exactly
/// Linux's `calc_delta_fair` for a task of weight `w`.  For a run queue's
/// load use [`calc_delta_inv`] with [`load_inv_weight`], as
/// [`sched_slice`] does.
///
/// Compared with exact arithmetic the result is off by less than 1 part
/// in 10^8 of the result, plus 1 for the final floor, for table weights
/// (the table inverses are rounded): within 1 ns of `delta * 1024 / w` for
/// deltas up to a slice (6 ms), but for example 124 ns below it for one
/// second at nice 17.  These are exactly Linux's values.
pub fn calc_delta(delta_exec_ns: u64, weight: u64, lw_weight: u64) -> u64 {
    calc_delta_inv(delta_exec_ns, weight, task_inv_weight(lw_weight))
}

/// `calc_delta_fair`: wall-clock time `delta_ns` converted into the vruntime
/// of an entity of weight `weight`, `delta * NICE_0_LOAD / weight`.  For a
/// nice 0 entity this is `delta` itself, exactly.
pub fn calc_delta_fair(delta_ns: u64, weight: u64) -> u64 {
    if weight == NICE_0_LOAD {
        delta_ns
    } else {
        calc_delta(delta_ns, NICE_0_LOAD, weight)
    }
}

/// `sysctl_sched_latency` for one CPU: the period in which every runnable
/// task should run once, 6 ms.
pub const NORMALIZED_SCHED_LATENCY_NS: u64 = 6_000_000;
/// `sysctl_sched_min_granularity` for one CPU: the shortest slice, 0.75 ms.
pub const NORMALIZED_SCHED_MIN_GRANULARITY_NS: u64 = 750_000;
/// `sysctl_sched_wakeup_granularity` for one CPU: how far a waking task's
/// vruntime must be behind the running task's to preempt it, 1 ms.
pub const NORMALIZED_SCHED_WAKEUP_GRANULARITY_NS: u64 = 1_000_000;
/// `sched_nr_latency`: latency / min_granularity, the number of tasks
/// beyond which the period is stretched.  Not scaled with the CPU count.
pub const SCHED_NR_LATENCY: u64 = 8;

/// The CFS tunables (Linux's `sysctl_sched_*` variables).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedTunables {
    /// Targeted period in which every runnable task runs once.
    pub sched_latency_ns: u64,
    /// Minimum slice of a task, when there are many.
    pub sched_min_granularity_ns: u64,
    /// vruntime lead a waking task needs to preempt the running one.
    pub sched_wakeup_granularity_ns: u64,
    /// Number of tasks beyond which the period grows.
    pub sched_nr_latency: u64,
}

impl SchedTunables {
    /// Linux's defaults for `ncpus` online CPUs with
    /// `SCHED_TUNABLESCALING_LOG` (`update_sysctl`): the one-CPU values
    /// times `1 + ilog2(min(ncpus, 8))`, so 1x for one CPU, 2x for two or
    /// three, 3x for four to seven and 4x from eight on.  `ncpus == 0` is
    /// treated as one CPU.
    pub fn for_cpus(ncpus: u32) -> Self {
        let cpus = ncpus.clamp(1, 8);
        let factor = 1 + u64::from(cpus.ilog2());
        SchedTunables {
            sched_latency_ns: factor * NORMALIZED_SCHED_LATENCY_NS,
            sched_min_granularity_ns: factor * NORMALIZED_SCHED_MIN_GRANULARITY_NS,
            sched_wakeup_granularity_ns: factor * NORMALIZED_SCHED_WAKEUP_GRANULARITY_NS,
            sched_nr_latency: SCHED_NR_LATENCY,
        }
    }
}

impl Default for SchedTunables {
    /// The one-CPU defaults.
    fn default() -> Self {
        SchedTunables::for_cpus(1)
    }
}

/// `__sched_period`: the time in which each of `nr_running` tasks should
/// run once.  `sched_latency`, or `nr_running * min_granularity` when there
/// are more than `sched_nr_latency` tasks (saturating).
pub fn sched_period(t: &SchedTunables, nr_running: u64) -> u64 {
    if nr_running > t.sched_nr_latency {
        nr_running.saturating_mul(t.sched_min_granularity_ns)
    } else {
        t.sched_latency_ns
    }
}

/// `sched_slice`: the wall-clock share of the period of an entity of weight
/// `weight`, `period(nr_running) * weight / total_weight`.
///
/// `nr_running` and `total_weight` must count the entity itself.  Linux's
/// `sched_slice` takes the run queue's figures and adds the entity when it
/// is not queued (`!se->on_rq`, e.g. a task being forked); here the caller
/// does that addition, or uses [`sched_slice_entity`], which does it.
///
/// The division uses the run queue load's computed inverse
/// ([`load_inv_weight`]) as Linux does, so a lone nice 0 task gets
/// 5 999 998 ns of a 6 ms period, as in Linux.
pub fn sched_slice(t: &SchedTunables, nr_running: u64, weight: u64, total_weight: u64) -> u64 {
    calc_delta_inv(
        sched_period(t, nr_running),
        weight,
        load_inv_weight(total_weight),
    )
}

/// [`sched_slice`] from the run queue's own figures, adding the entity when
/// it is not on the queue (`on_rq == false`), exactly as Linux does.
pub fn sched_slice_entity(
    t: &SchedTunables,
    rq_nr_running: u64,
    rq_weight: u64,
    weight: u64,
    on_rq: bool,
) -> u64 {
    let (nr, total) = if on_rq {
        (rq_nr_running, rq_weight)
    } else {
        (
            rq_nr_running.saturating_add(1),
            rq_weight.saturating_add(weight),
        )
    };
    sched_slice(t, nr, weight, total)
}

/// `sched_vslice`: the slice converted into vruntime,
/// `calc_delta_fair(sched_slice(..), weight)`.  Arguments as
/// [`sched_slice`].  This is the `vslice` [`place_entity`] wants.
pub fn sched_vslice(t: &SchedTunables, nr_running: u64, weight: u64, total_weight: u64) -> u64 {
    calc_delta_fair(sched_slice(t, nr_running, weight, total_weight), weight)
}

/// `entity_before`: does vruntime `a` come before `b`?  Wrap-safe: compares
/// the signed difference, `(a - b) as i64 < 0`.
pub fn entity_before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// `max_vruntime`: the later of two vruntimes, wrap-safe.  Returns `cur`
/// unless `v` is strictly after it.
pub fn max_vruntime(cur: u64, v: u64) -> u64 {
    if (v.wrapping_sub(cur) as i64) > 0 {
        v
    } else {
        cur
    }
}

/// `min_vruntime`: the earlier of two vruntimes, wrap-safe.  Returns `cur`
/// unless `v` is strictly before it.
pub fn min_vruntime(cur: u64, v: u64) -> u64 {
    if (v.wrapping_sub(cur) as i64) < 0 {
        v
    } else {
        cur
    }
}

/// `update_min_vruntime`: the run queue's new `min_vruntime`.
///
/// `curr` is the vruntime of the running entity if it is still on the run
/// queue (Linux ignores a `curr` that is being dequeued: pass `None` then),
/// `leftmost` the smallest vruntime in the tree, if the tree is not empty.
/// The candidate is the smaller of the two (or whichever exists), and the
/// result is the later of the candidate and the old value: `min_vruntime`
/// never goes backwards.  With neither, it stays put.
pub fn update_min_vruntime(min_vruntime_now: u64, curr: Option<u64>, leftmost: Option<u64>) -> u64 {
    let candidate = match (curr, leftmost) {
        (Some(c), Some(l)) => min_vruntime(c, l),
        (Some(c), None) => c,
        (None, Some(l)) => l,
        (None, None) => min_vruntime_now,
    };
    max_vruntime(min_vruntime_now, candidate)
}

/// `place_entity`: the vruntime of an entity joining the run queue.
///
/// * `initial == true`: a new task (`task_fork_fair`, with `se_vruntime`
///   the parent's vruntime).  With `START_DEBIT` it is placed one virtual
///   slice `vslice` (see [`sched_vslice`], computed with the new task
///   counted) after `min_vruntime`: the current period is already promised
///   to the tasks that are there.
/// * `initial == false`: a task waking up (`ENQUEUE_WAKEUP`).  It is placed
///   half a `sched_latency` before `min_vruntime` (`GENTLE_FAIR_SLEEPERS`
///   halves the full latency Linux would otherwise credit), a bounded bonus
///   for having slept; `vslice` is ignored.
///
/// Either way the entity never moves backwards: the result is the later
/// of `se_vruntime` and that target, compared wrap-safe.  The arithmetic
/// wraps, as vruntimes do.
pub fn place_entity(
    t: &SchedTunables,
    min_vruntime_now: u64,
    se_vruntime: u64,
    initial: bool,
    vslice: u64,
) -> u64 {
    let target = if initial {
        min_vruntime_now.wrapping_add(vslice)
    } else {
        min_vruntime_now.wrapping_sub(t.sched_latency_ns >> 1)
    };
    max_vruntime(se_vruntime, target)
}

/// `wakeup_gran`: the wake-up granularity in the vruntime of the waking
/// entity, `calc_delta_fair(sched_wakeup_granularity, se_weight)`.  A
/// heavier waker gets a smaller virtual granularity and so preempts more
/// easily.
pub fn wakeup_gran(t: &SchedTunables, se_weight: u64) -> u64 {
    calc_delta_fair(t.sched_wakeup_granularity_ns, se_weight)
}

/// `wakeup_preempt_entity`: should the entity with vruntime `se_vruntime`
/// (weight `se_weight`) preempt the one with `curr_vruntime`?
///
/// * -1: `se` is not behind `curr` at all (`curr - se <= 0`): no.
/// * 1: `se` is behind by more than [`wakeup_gran`]: yes.
/// * 0: behind, but within the granularity: no, to avoid over-scheduling.
pub fn wakeup_preempt_entity(
    t: &SchedTunables,
    curr_vruntime: u64,
    se_vruntime: u64,
    se_weight: u64,
) -> i32 {
    let vdiff = curr_vruntime.wrapping_sub(se_vruntime) as i64;
    if vdiff <= 0 {
        return -1;
    }
    let gran = i64::try_from(wakeup_gran(t, se_weight)).unwrap_or(i64::MAX);
    if vdiff > gran {
        1
    } else {
        0
    }
}

/// `check_preempt_tick`: at a tick, should the running entity give way?
///
/// `ideal_runtime` is its [`sched_slice`], `delta_exec` the wall time it has
/// run since it was picked (`sum_exec_runtime - prev_sum_exec_runtime`),
/// `leftmost_vruntime` the smallest vruntime waiting in the tree.  Yes if
/// it has used its slice; otherwise, once it has run at least
/// `min_granularity`, yes if it is ahead of the leftmost waiting entity by
/// more than `ideal_runtime` (Linux compares this vruntime difference with
/// the wall-clock slice, and so does this).
pub fn check_preempt_tick(
    t: &SchedTunables,
    ideal_runtime: u64,
    delta_exec: u64,
    curr_vruntime: u64,
    leftmost_vruntime: Option<u64>,
) -> bool {
    if delta_exec > ideal_runtime {
        return true;
    }
    if delta_exec < t.sched_min_granularity_ns {
        return false;
    }
    let Some(left) = leftmost_vruntime else {
        return false;
    };
    let delta = curr_vruntime.wrapping_sub(left) as i64;
    if delta < 0 {
        return false;
    }
    // delta >= 0 here, so the conversion is lossless.
    delta as u64 > ideal_runtime
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact `delta * weight / lw`.
    fn exact(delta: u64, weight: u64, lw: u64) -> u128 {
        u128::from(delta) * u128::from(weight) / u128::from(lw)
    }

    #[test]
    fn prio_constants() {
        assert_eq!(MAX_PRIO, 140);
        assert_eq!(DEFAULT_PRIO, 120);
        assert_eq!(nice_to_prio(0), 120);
        assert_eq!(nice_to_prio(-20), 100);
        assert_eq!(nice_to_prio(19), 139);
        assert_eq!(prio_to_nice(139), 19);
        assert_eq!(prio_to_nice(100), -20);
        for n in MIN_NICE..=MAX_NICE {
            assert_eq!(prio_to_nice(nice_to_prio(n)), n);
        }
        assert_eq!(nice_to_prio(i32::MAX), i32::MAX);
        assert_eq!(prio_to_nice(i32::MIN), i32::MIN);
    }

    #[test]
    fn table_spot_checks() {
        assert_eq!(nice_to_weight(0), 1024);
        assert_eq!(nice_to_weight(5), 335);
        assert_eq!(nice_to_weight(-20), 88761);
        assert_eq!(nice_to_weight(19), 15);
        assert_eq!(nice_to_wmult(0), 4194304);
        assert_eq!(nice_to_wmult(-20), 48388);
        assert_eq!(nice_to_wmult(19), 286331153);
        assert_eq!(nice_to_weight(-1000), 88761);
        assert_eq!(nice_to_weight(i32::MAX), 15);
        assert_eq!(nice_to_weight(i32::MIN), 88761);
    }

    #[test]
    fn tables_are_consistent() {
        for i in 0..40 {
            let w = u64::from(SCHED_PRIO_TO_WEIGHT[i]);
            let m = u64::from(SCHED_PRIO_TO_WMULT[i]);
            // wmult is 2^32 / weight, rounded to nearest for most
            // entries and truncated for a few (nice 13, 14, 16, 17).
            let exact = (1u128 << 32) as f64 / w as f64;
            assert!((m as f64 - exact).abs() < 1.0, "index {i}");
            if i > 0 {
                // Every step is a factor of about 1.25.
                let prev = SCHED_PRIO_TO_WEIGHT[i - 1] as f64;
                let r = prev / w as f64;
                assert!((1.2..1.3).contains(&r), "index {i}: ratio {r}");
            }
        }
    }

    #[test]
    fn calc_delta_fair_matches_linux() {
        // Reference values from Linux's __calc_delta algorithm.
        assert_eq!(calc_delta_fair(1_000_000, 335), 3_056_716);
        assert_eq!(calc_delta_fair(1_000_000, 88761), 11_536);
        assert_eq!(calc_delta_fair(1_000_000, 15), 68_266_666);
        assert_eq!(calc_delta_fair(6_000_000, 820), 7_492_682);
        assert_eq!(calc_delta_fair(123_456_789, 1024), 123_456_789);
        // Linux's table inverse for 4904 is rounded up: 2 ns above exact.
        assert_eq!(calc_delta_fair(1_000_000_000, 4904), 208_809_137);
        // ... and for 23 truncated: 124 ns below exact (44 521 739 130).
        assert_eq!(calc_delta_fair(1_000_000_000, 23), 44_521_739_006);
        assert_eq!(calc_delta_fair(u64::MAX, 1024), u64::MAX);
    }

    #[test]
    fn calc_delta_all_weights_vs_exact() {
        let deltas = [
            0u64,
            1,
            999,
            1_000_000,
            4_000_000,
            6_000_000,
            10_000_000,
            100_000_000,
            1_000_000_000,
            3_600_000_000_000,
            1 << 40,
        ];
        for &w in SCHED_PRIO_TO_WEIGHT.iter() {
            let w = u64::from(w);
            for &d in deltas.iter() {
                let got = u128::from(calc_delta_fair(d, w));
                let want = exact(d, NICE_0_LOAD, w);
                // Off by at most a relative 2^-26 (the rounding of the
                // table inverse) plus one (the final floor).
                assert!(
                    got.abs_diff(want) <= (want >> 26) + 1,
                    "w {w} d {d}: {got} vs {want}"
                );
                // For deltas up to a slice within 1 ns.
                if d <= 6_000_000 {
                    assert!(got.abs_diff(want) <= 1, "w {w} d {d}: {got} vs {want}");
                }
                // The general form with another weight over w.
                let got = u128::from(calc_delta(d, 335, w));
                let want = exact(d, 335, w);
                assert!(
                    got.abs_diff(want) <= (want >> 26) + 1,
                    "w {w} d {d}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn calc_delta_extremes_do_not_panic() {
        let vals = [
            0u64,
            1,
            2,
            1023,
            1024,
            88761,
            1 << 32,
            u64::MAX / 3,
            u64::MAX,
        ];
        for &d in vals.iter() {
            for &w in vals.iter() {
                for &lw in vals.iter() {
                    let _ = calc_delta(d, w, lw);
                    let _ = calc_delta_fair(d, lw);
                    let _ = calc_delta_inv(d, w, u32::MAX);
                    let _ = calc_delta_inv(d, w, 0);
                }
            }
        }
        // A huge weight over a tiny load saturates instead of wrapping.
        assert_eq!(calc_delta(u64::MAX, u64::MAX, 1), u64::MAX);
        assert_eq!(calc_delta(0, u64::MAX, 1), 0);
        assert_eq!(calc_delta(1000, 0, 1024), 0);
        // Weight 0 load: Linux's inverse WMULT_CONST, no division by zero.
        assert_eq!(load_inv_weight(0), u32::MAX);
        assert_eq!(load_inv_weight(u64::MAX), 1);
        assert_eq!(load_inv_weight(1024), 4194303);
        assert_eq!(task_inv_weight(1024), 4194304);
        assert_eq!(task_inv_weight(3), WMULT_IDLEPRIO);
    }

    #[test]
    fn vruntime_runs_inversely_to_weight() {
        // In the same wall time, nice 5's vruntime advances 1024/335 times
        // as fast as nice 0's.
        let d = 10_000_000;
        let v0 = calc_delta_fair(d, 1024);
        let v5 = calc_delta_fair(d, 335);
        assert_eq!(v0, d);
        let ratio = v5 as f64 / v0 as f64;
        assert!((ratio - 1024.0 / 335.0).abs() < 1e-6);
    }

    #[test]
    fn tunables_scale_logarithmically() {
        let t1 = SchedTunables::for_cpus(1);
        assert_eq!(t1.sched_latency_ns, 6_000_000);
        assert_eq!(t1.sched_min_granularity_ns, 750_000);
        assert_eq!(t1.sched_wakeup_granularity_ns, 1_000_000);
        assert_eq!(t1.sched_nr_latency, 8);
        assert_eq!(SchedTunables::for_cpus(0), t1);
        assert_eq!(SchedTunables::default(), t1);
        for (n, f) in [
            (2u32, 2u64),
            (3, 2),
            (4, 3),
            (7, 3),
            (8, 4),
            (64, 4),
            (u32::MAX, 4),
        ] {
            let t = SchedTunables::for_cpus(n);
            assert_eq!(t.sched_latency_ns, f * 6_000_000, "{n} cpus");
            assert_eq!(t.sched_min_granularity_ns, f * 750_000, "{n} cpus");
            assert_eq!(t.sched_wakeup_granularity_ns, f * 1_000_000, "{n} cpus");
            assert_eq!(t.sched_nr_latency, 8);
        }
    }

    #[test]
    fn period_switches_at_nr_latency() {
        let t = SchedTunables::for_cpus(1);
        assert_eq!(sched_period(&t, 0), 6_000_000);
        assert_eq!(sched_period(&t, 1), 6_000_000);
        assert_eq!(sched_period(&t, 8), 6_000_000);
        assert_eq!(sched_period(&t, 9), 9 * 750_000);
        assert_eq!(sched_period(&t, 100), 75_000_000);
        assert_eq!(sched_period(&t, u64::MAX), u64::MAX);
        let t4 = SchedTunables::for_cpus(4);
        assert_eq!(sched_period(&t4, 8), 18_000_000);
        assert_eq!(sched_period(&t4, 9), 9 * 2_250_000);
    }

    #[test]
    fn slices_share_period_by_weight() {
        let t = SchedTunables::for_cpus(1);
        // A lone nice 0 task: Linux's computed inverse gives 5 999 998.
        assert_eq!(sched_slice(&t, 1, 1024, 1024), 5_999_998);
        // nice 0 and nice 5 on one queue: 1024 : 335.
        let total = 1024 + 335;
        let s0 = sched_slice(&t, 2, 1024, total);
        let s5 = sched_slice(&t, 2, 335, total);
        assert_eq!((s0, s5), (4_520_971, 1_479_028));
        assert!(s0 + s5 <= 6_000_000 && s0 + s5 >= 5_999_990);
        let ratio = s0 as f64 / s5 as f64;
        assert!((ratio - 1024.0 / 335.0).abs() < 1e-4, "{ratio}");
        // Equal tasks beyond nr_latency get min_granularity each.
        let s = sched_slice(&t, 10, 1024, 10 * 1024);
        assert!(s.abs_diff(750_000) <= 1, "{s}");
        // The entity-counting variant adds a task not yet queued.
        assert_eq!(sched_slice_entity(&t, 1, 1024, 335, false), s5);
        assert_eq!(sched_slice_entity(&t, 2, total, 335, true), s5);
        // Garbage in, no panic.
        let _ = sched_slice(&t, u64::MAX, u64::MAX, 0);
        let _ = sched_slice_entity(&t, u64::MAX, u64::MAX, u64::MAX, false);
        // vslice of a nice 0 task is its slice.
        assert_eq!(
            sched_vslice(&t, 2, 1024, 2048),
            sched_slice(&t, 2, 1024, 2048)
        );
    }

    #[test]
    fn entity_order_is_wrap_safe() {
        assert!(entity_before(1, 2));
        assert!(!entity_before(2, 1));
        assert!(!entity_before(5, 5));
        // u64::MAX - 10 comes before 10 once the counter has wrapped.
        assert!(entity_before(u64::MAX - 10, 10));
        assert!(!entity_before(10, u64::MAX - 10));
        assert_eq!(max_vruntime(u64::MAX - 10, 10), 10);
        assert_eq!(min_vruntime(u64::MAX - 10, 10), u64::MAX - 10);
        assert_eq!(max_vruntime(7, 7), 7);
    }

    #[test]
    fn min_vruntime_never_goes_back() {
        assert_eq!(update_min_vruntime(100, None, None), 100);
        assert_eq!(update_min_vruntime(100, Some(150), None), 150);
        assert_eq!(update_min_vruntime(100, None, Some(130)), 130);
        assert_eq!(update_min_vruntime(100, Some(150), Some(130)), 130);
        assert_eq!(update_min_vruntime(100, Some(120), Some(130)), 120);
        // Candidates behind the current minimum do not pull it back.
        assert_eq!(update_min_vruntime(100, Some(50), Some(130)), 100);
        assert_eq!(update_min_vruntime(100, None, Some(90)), 100);
        // Across the wrap.
        let m = u64::MAX - 5;
        assert_eq!(update_min_vruntime(m, Some(3), None), 3);
        assert_eq!(
            update_min_vruntime(m, Some(3), Some(u64::MAX - 1)),
            u64::MAX - 1
        );
        assert_eq!(update_min_vruntime(3, Some(m), None), 3);
    }

    #[test]
    fn placement_of_new_and_woken_tasks() {
        let t = SchedTunables::for_cpus(1);
        let min = 1_000_000_000;
        // Fork: one vslice after min_vruntime, even if the parent is behind.
        let vslice = sched_vslice(&t, 2, 1024, 2048);
        assert_eq!(place_entity(&t, min, 0, true, vslice), min + vslice);
        assert_eq!(place_entity(&t, min, min, true, vslice), min + vslice);
        // ... but a parent further ahead is kept.
        assert_eq!(
            place_entity(&t, min, min + 10 * vslice, true, vslice),
            min + 10 * vslice
        );
        // Wake-up after a long sleep: half a latency before min_vruntime.
        assert_eq!(place_entity(&t, min, 5, false, vslice), min - 3_000_000);
        // A short sleeper keeps its own, later, vruntime.
        assert_eq!(
            place_entity(&t, min, min - 1_000_000, false, 0),
            min - 1_000_000
        );
        assert_eq!(place_entity(&t, min, min + 42, false, 0), min + 42);
        // The bonus scales with the tunables.
        let t8 = SchedTunables::for_cpus(8);
        assert_eq!(place_entity(&t8, min, 0, false, 0), min - 12_000_000);
    }

    #[test]
    fn placement_wraps_around() {
        let t = SchedTunables::for_cpus(1);
        // min_vruntime just below the wrap, fork places past it.
        let min = u64::MAX - 1_000;
        let v = place_entity(&t, min, min - 5, true, 3_000_000);
        assert_eq!(v, min.wrapping_add(3_000_000));
        assert!(entity_before(min, v));
        // min_vruntime just past the wrap, a sleeper lands before it.
        let min = 1_000;
        let v = place_entity(&t, min, min.wrapping_sub(50_000_000), false, 0);
        assert_eq!(v, 1_000u64.wrapping_sub(3_000_000));
        assert!(entity_before(v, min));
        // A sleeper whose old vruntime is from just before the wrap and
        // within the bonus keeps it.
        let old = u64::MAX - 100;
        assert_eq!(place_entity(&t, min, old, false, 0), old);
    }

    #[test]
    fn wakeup_preemption_thresholds() {
        let t = SchedTunables::for_cpus(1);
        let curr = 10_000_000u64;
        // Not behind: -1.
        assert_eq!(wakeup_preempt_entity(&t, curr, curr, 1024), -1);
        assert_eq!(wakeup_preempt_entity(&t, curr, curr + 1, 1024), -1);
        // Behind within the 1 ms granularity: 0.
        assert_eq!(wakeup_preempt_entity(&t, curr, curr - 1, 1024), 0);
        assert_eq!(wakeup_preempt_entity(&t, curr, curr - 1_000_000, 1024), 0);
        // Beyond: 1.
        assert_eq!(wakeup_preempt_entity(&t, curr, curr - 1_000_001, 1024), 1);
        // A light waker's granularity is larger in vruntime.
        let g5 = wakeup_gran(&t, 335);
        assert_eq!(g5, 3_056_716);
        assert_eq!(wakeup_preempt_entity(&t, curr, curr - 2_000_000, 335), 0);
        assert_eq!(wakeup_preempt_entity(&t, curr, curr - g5, 335), 0);
        assert_eq!(wakeup_preempt_entity(&t, curr, curr - g5 - 1, 335), 1);
        // A heavy one's smaller.
        let gm = wakeup_gran(&t, 88761);
        assert_eq!(wakeup_preempt_entity(&t, curr, curr - gm - 1, 88761), 1);
        // Across the wrap.
        assert_eq!(
            wakeup_preempt_entity(&t, 500_000, u64::MAX - 1_000_000, 1024),
            1
        );
        assert_eq!(wakeup_preempt_entity(&t, 5, u64::MAX - 5, 1024), 0);
        assert_eq!(wakeup_preempt_entity(&t, u64::MAX - 5, 5, 1024), -1);
        // Weight 0 or absurd granularity: no panic.
        let big = SchedTunables {
            sched_wakeup_granularity_ns: u64::MAX,
            ..t
        };
        assert_eq!(wakeup_preempt_entity(&big, curr, 0, 1), 0);
        let _ = wakeup_preempt_entity(&t, curr, 0, 0);
    }

    #[test]
    fn tick_preemption() {
        let t = SchedTunables::for_cpus(1);
        let ideal = 3_000_000;
        // Slice used up.
        assert!(check_preempt_tick(&t, ideal, ideal + 1, 0, None));
        // Too early to look at the others.
        assert!(!check_preempt_tick(
            &t,
            ideal,
            100_000,
            100 * ideal,
            Some(0)
        ));
        // Far ahead of the leftmost waiter.
        assert!(check_preempt_tick(&t, ideal, 800_000, ideal + 1, Some(0)));
        assert!(!check_preempt_tick(&t, ideal, 800_000, ideal, Some(0)));
        // Behind the leftmost waiter, or nobody waiting.
        assert!(!check_preempt_tick(&t, ideal, 800_000, 0, Some(10)));
        assert!(!check_preempt_tick(&t, ideal, 800_000, 0, None));
    }

    #[test]
    fn fairness_simulation() {
        // Two tasks, nice 0 and nice 5, always running the smaller
        // vruntime for 1 ms: CPU time splits 1024 : 335.
        let w = [1024u64, 335];
        let mut v = [0u64; 2];
        let mut ran = [0u64; 2];
        for _ in 0..100_000 {
            let i = if entity_before(v[1], v[0]) { 1 } else { 0 };
            v[i] = v[i].wrapping_add(calc_delta_fair(1_000_000, w[i]));
            ran[i] += 1;
        }
        let share = ran[0] as f64 / (ran[0] + ran[1]) as f64;
        assert!((share - 1024.0 / 1359.0).abs() < 0.001, "{share}");
    }
}
