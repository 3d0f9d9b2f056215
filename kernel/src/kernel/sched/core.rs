//! Core scheduler (mirrors kernel/sched/core.c).
//!
//! Each CPU has a runqueue (`struct rq`) behind its own spinlock, holding one
//! sub-queue per class. `schedule()` -> `__schedule()` takes the local rq
//! lock, takes `prev` off the queue if it is going to sleep, asks the
//! classes in order (stop, deadline, rt, fair, idle) for the next task and
//! switches to it. The rq lock is held across the switch and released by
//! the next task in `finish_task_switch` (for a new task: `schedule_tail`).
//!
//! The kernel is preemptible (CONFIG_PREEMPT): when an interrupt returns to
//! code running with interrupts on and preempt_count 0, and the current task
//! has TIF_NEED_RESCHED, it calls `preempt_schedule_irq`. Spinlocks disable
//! preemption, as in Linux.
//!
//! Lock order: p->pi_lock, then rq locks (two rq locks: lower CPU first).

use super::{fair, idle, rt, stop_task};
use crate::arch::current::set_current;
use crate::arch::percpu::{cpu_online, for_each_online_cpu, preempt_count, smp_processor_id, this_cpu, NR_CPUS};
use crate::arch::processor::{local_irq_disable, local_irq_enable};
use crate::kernel::task::*;
use crate::kernel::time::ktime_get_ns;
use super::tp as trace;
use crate::sync::{SpinLock, SpinLockGuard};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering::*};

// enqueue/dequeue flags (Linux's ENQUEUE_*/DEQUEUE_*).
pub const ENQUEUE_WAKEUP: u32 = 0x01;
pub const ENQUEUE_HEAD: u32 = 0x02;
pub const ENQUEUE_MIGRATED: u32 = 0x04;
pub const ENQUEUE_INITIAL: u32 = 0x08;
pub const DEQUEUE_SLEEP: u32 = 0x01;
pub const DEQUEUE_MIGRATE: u32 = 0x02;

/// `struct rq`.
pub struct Rq {
    pub cpu: usize,
    /// Runnable tasks in all classes but idle.
    pub nr_running: u32,
    pub nr_switches: u64,
    /// Calls of __schedule (schedstat's rq->sched_count).
    pub sched_count: u64,
    /// `rq->clock`, ns.
    pub clock: u64,
    pub curr: Option<Arc<TaskStruct>>,
    pub idle: Option<Arc<TaskStruct>>,
    pub stop: Option<Arc<TaskStruct>>,
    pub cfs: fair::CfsRq,
    pub rt: rt::RtRq,
    pub ticks_since_balance: u32,
    /// The stopper task is queued (the stop class holds at most one task).
    pub stop_queued: bool,
}

impl Rq {
    const fn new(cpu: usize) -> Rq {
        Rq {
            cpu,
            nr_running: 0,
            nr_switches: 0,
            sched_count: 0,
            clock: 0,
            curr: None,
            idle: None,
            stop: None,
            cfs: fair::CfsRq::new(),
            rt: rt::RtRq::new(),
            ticks_since_balance: 0,
            stop_queued: false,
        }
    }

    pub fn curr(&self) -> &Arc<TaskStruct> {
        self.curr.as_ref().expect("rq without a current task")
    }
}

/// Runqueues; `rq.cpu` is filled in by init_idle when the CPU comes up.
static RUNQUEUES: [SpinLock<Rq>; NR_CPUS] = [const { SpinLock::new("rq->lock", Rq::new(0)) }; NR_CPUS];

/// Lock-free copies of each rq's load, for select_task_rq and the balancer.
pub static RQ_NR_RUNNING: [AtomicU64; NR_CPUS] = [const { AtomicU64::new(0) }; NR_CPUS];

/// Lock-free copies of rq->sched_count (tests).
pub static RQ_SCHED_COUNT: [AtomicU64; NR_CPUS] = [const { AtomicU64::new(0) }; NR_CPUS];

pub fn cpu_rq(cpu: usize) -> &'static SpinLock<Rq> {
    &RUNQUEUES[cpu]
}

fn update_nr_running(rq: &Rq) {
    RQ_NR_RUNNING[rq.cpu].store(rq.nr_running as u64, Relaxed);
}

pub fn update_rq_clock(rq: &mut Rq) {
    let now = ktime_get_ns();
    if now > rq.clock {
        rq.clock = now;
    }
}

/// Scheduler tunables for the number of CPUs (Linux scales them by log2).
pub fn tunables() -> klib::sched::SchedTunables {
    klib::sched::SchedTunables::for_cpus(crate::arch::percpu::num_online_cpus().max(1) as u32)
}

// ---- class dispatch --------------------------------------------------------

pub fn enqueue_task(rq: &mut Rq, p: &Arc<TaskStruct>, flags: u32) {
    update_rq_clock(rq);
    match p.class() {
        SchedClassId::Fair => fair::enqueue_task_fair(rq, p, flags),
        SchedClassId::Rt => rt::enqueue_task_rt(rq, p, flags),
        SchedClassId::Stop => stop_task::enqueue_task_stop(rq, p),
        SchedClassId::Deadline => super::deadline::enqueue_task_dl(rq, p),
        SchedClassId::Idle => return,
    }
    rq.nr_running += 1;
    update_nr_running(rq);
}

pub fn dequeue_task(rq: &mut Rq, p: &Arc<TaskStruct>, flags: u32) {
    update_rq_clock(rq);
    match p.class() {
        SchedClassId::Fair => fair::dequeue_task_fair(rq, p, flags),
        SchedClassId::Rt => rt::dequeue_task_rt(rq, p),
        SchedClassId::Stop => stop_task::dequeue_task_stop(rq, p),
        SchedClassId::Deadline => super::deadline::dequeue_task_dl(rq, p),
        SchedClassId::Idle => return,
    }
    rq.nr_running -= 1;
    update_nr_running(rq);
}

#[inline(never)] // on the path the notes trace: keep the symbol
pub fn activate_task(rq: &mut Rq, p: &Arc<TaskStruct>, flags: u32) {
    enqueue_task(rq, p, flags);
    p.on_rq.store(TASK_ON_RQ_QUEUED, Release);
}

pub fn deactivate_task(rq: &mut Rq, p: &Arc<TaskStruct>, flags: u32) {
    p.on_rq.store(0, Release);
    dequeue_task(rq, p, flags);
}

/// Put the running task back among the queued ones before picking another.
fn put_prev_task(rq: &mut Rq, prev: &Arc<TaskStruct>) {
    match prev.class() {
        SchedClassId::Fair => fair::put_prev_task_fair(rq, prev),
        SchedClassId::Rt => rt::put_prev_task_rt(rq, prev),
        _ => {}
    }
}

/// `pick_next_task`: the first class with a runnable task wins.
#[inline(never)] // on the path the notes trace: keep the symbol
fn pick_next_task(rq: &mut Rq) -> Arc<TaskStruct> {
    if let Some(p) = stop_task::pick_next_task_stop(rq) {
        return p;
    }
    if let Some(p) = super::deadline::pick_next_task_dl(rq) {
        return p;
    }
    if let Some(p) = rt::pick_next_task_rt(rq) {
        return p;
    }
    if let Some(p) = fair::pick_next_task_fair(rq) {
        return p;
    }
    idle::pick_next_task_idle(rq)
}

fn class_rank(c: SchedClassId) -> u32 {
    c as u32
}

/// `check_preempt_curr`: a woken task of a higher class always preempts;
/// within a class, the class decides.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn check_preempt_curr(rq: &mut Rq, p: &Arc<TaskStruct>, _flags: u32) {
    let curr = rq.curr().clone();
    if class_rank(p.class()) < class_rank(curr.class()) {
        resched_curr(rq);
    } else if p.class() == curr.class() {
        match p.class() {
            SchedClassId::Fair => fair::check_preempt_wakeup(rq, p),
            SchedClassId::Rt => rt::check_preempt_curr_rt(rq, p),
            _ => {}
        }
    }
}

/// `resched_curr`: mark the running task and kick its CPU if remote.
pub fn resched_curr(rq: &mut Rq) {
    let curr = rq.curr();
    if curr.need_resched() {
        return;
    }
    curr.set_need_resched();
    if rq.cpu != smp_processor_id() {
        crate::kernel::smp::smp_send_reschedule(rq.cpu);
    }
}

// ---- boot ------------------------------------------------------------------

fn idle_task_init(cpu: usize, stack: KernelStack) -> Arc<TaskStruct> {
    let mut name = crate::kernel::panic::BufWriter::<16>::new();
    let _ = core::fmt::Write::write_fmt(&mut name, format_args!("swapper/{}", cpu));
    Arc::new(TaskStruct::new(TaskInit {
        pid: 0,
        comm: comm_from_str(name.as_str()),
        flags: PF_IDLE | PF_KTHREAD,
        state: TASK_RUNNING,
        static_prio: klib::sched::DEFAULT_PRIO,
        prio: klib::sched::DEFAULT_PRIO,
        normal_prio: klib::sched::DEFAULT_PRIO,
        rt_priority: 0,
        policy: SCHED_NORMAL,
        class: SchedClassId::Idle,
        cpus_allowed: 1 << cpu,
        cpu: cpu as u32,
        exit_signal: 0,
        stack,
        tgid: 0,
        signal: crate::kernel::signal_struct::SignalStruct::new(0, 0, false),
    }))
}

/// `init_idle`: make the code running on `cpu` its idle task (pid 0,
/// swapper/N) and its current task. `stack_base` is the stack it runs on.
pub fn init_idle(cpu: usize, stack_base: u64) {
    let idle = idle_task_init(cpu, KernelStack { base: stack_base, owned: false });
    idle.on_cpu.store(true, Relaxed);
    set_current(&idle);
    let mut rq = cpu_rq(cpu).lock_irqsave();
    rq.cpu = cpu;
    rq.clock = ktime_get_ns();
    rq.idle = Some(idle.clone());
    rq.curr = Some(idle);
}

/// `sched_init` on the boot CPU: the boot context becomes init_task (swapper/0).
pub fn sched_init(boot_stack_base: u64) {
    init_idle(0, boot_stack_base);
    pr_info!("sched: classes stop -> dl -> rt -> fair -> idle, HZ={}", crate::kernel::time::hz());
}

// ---- schedule --------------------------------------------------------------

/// `__schedule`: called with interrupts enabled and preemption disabled
/// once (preempt_count 1), as in Linux; the rq lock adds one more, so every
/// context switch happens at the same count.
#[inline(never)] // on the path the notes trace: keep the symbol
fn __schedule(preempt: bool) {
    let cpu = smp_processor_id();
    local_irq_disable();
    let mut rq = cpu_rq(cpu).lock();
    let prev = rq.curr().clone();
    rq.sched_count += 1;
    RQ_SCHED_COUNT[cpu].store(rq.sched_count, Relaxed);
    update_rq_clock(&mut rq);

    let state = prev.state();
    if !preempt && state != TASK_RUNNING {
        deactivate_task(&mut rq, &prev, DEQUEUE_SLEEP);
        prev.nvcsw.fetch_add(1, Relaxed);
    } else if prev.pid() != 0 {
        prev.nivcsw.fetch_add(1, Relaxed);
    }
    if prev.on_rq.load(Relaxed) == TASK_ON_RQ_QUEUED {
        put_prev_task(&mut rq, &prev);
    }
    if rq.nr_running == 0 {
        // About to go idle: try to pull work from a busy CPU first.
        drop(rq);
        super::fair::idle_balance(cpu);
        rq = cpu_rq(cpu).lock();
        update_rq_clock(&mut rq);
    }
    let next = pick_next_task(&mut rq);
    prev.clear_need_resched();
    this_cpu().need_resched.store(false, Relaxed);

    if Arc::ptr_eq(&prev, &next) {
        drop(rq);
        local_irq_enable();
        return;
    }
    rq.nr_switches += 1;
    trace::trace_sched_switch(
        preempt,
        &prev.comm(),
        prev.pid(),
        prev.prio(),
        task_state_index(&prev, preempt),
        &next.comm(),
        next.pid(),
        next.prio(),
    );
    context_switch(rq, prev, next);
}

/// The `prev_state` the sched_switch event reports (4.19's
/// __trace_sched_switch_state): the TASK_REPORT bit index, with preemption
/// reported as TASK_REPORT_MAX ("R+").
pub fn task_state_index(p: &TaskStruct, preempt: bool) -> u64 {
    const TASK_REPORT_MAX: u64 = 0x100;
    if preempt {
        return TASK_REPORT_MAX;
    }
    let state = p.state() | p.exit_state.load(Relaxed);
    // TASK_REPORT order: R S D T t X Z P I
    let bits = [TASK_INTERRUPTIBLE, TASK_UNINTERRUPTIBLE, __TASK_STOPPED, __TASK_TRACED, EXIT_DEAD, EXIT_ZOMBIE, TASK_PARKED];
    if state == TASK_IDLE {
        return 1 << 7; // TASK_REPORT_IDLE: the I in ps and traces
    }
    for (i, b) in bits.iter().enumerate() {
        if state & b != 0 {
            return 1 << i;
        }
    }
    0
}

#[inline(never)] // on the path the notes trace: keep the symbol
fn context_switch(mut rq: SpinLockGuard<'static, Rq>, prev: Arc<TaskStruct>, next: Arc<TaskStruct>) {
    next.on_cpu.store(true, Release);
    rq.curr = Some(next.clone());
    set_current(&next);
    crate::arch::process::switch_mm_and_tls(&prev, &next);
    crate::arch::process::switch_fpu(&prev, &next);
    let next_sp = next.thread.sp.load(Acquire);
    drop(next);
    rq.handoff();
    crate::arch::process::switch_to(prev, next_sp);
    finish_task_switch();
}

/// `finish_task_switch`: runs in the task we switched to; releases the rq
/// lock taken by __schedule in the previous task and frees a dead one.
#[inline(never)] // on the path the notes trace: keep the symbol
fn finish_task_switch() {
    let cpu = smp_processor_id();
    let prev = crate::arch::process::take_last();
    // finish_task before the unlock: once interrupts are on we may be
    // preempted, and a waker spinning on prev.on_cpu must not wait for us.
    if let Some(prev) = &prev {
        prev.on_cpu.store(false, Release);
    }
    drop(cpu_rq(cpu).adopt_handoff()); // unlocks and enables interrupts
    if let Some(prev) = prev {
        if prev.state() == TASK_DEAD {
            // Its last switch is done: drop the scheduler's reference; the
            // stack and task_struct go with the last reference.
            crate::kernel::exit::put_task_struct_dead(prev);
        }
    }
}

/// First thing a new task runs (from ret_from_fork).
#[no_mangle]
extern "C" fn schedule_tail() {
    finish_task_switch();
    // The schedule() that switched to us disabled preemption once.
    crate::sync::preempt_enable_no_resched();
}

/// `schedule()`.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn schedule() {
    schedule_debug();
    loop {
        crate::sync::preempt_disable();
        __schedule(false);
        crate::sync::preempt_enable_no_resched();
        if !need_resched() {
            break;
        }
    }
}

/// `schedule_debug`: a task that overran its kernel stack has corrupted
/// whatever lies below it, so stop here; sleeping with a lock held or
/// preemption disabled is reported.
fn schedule_debug() {
    if crate::kernel::task::current().stack.end_corrupted() {
        crate::kernel::panic::panic(format_args!("corrupted stack end detected inside scheduler"));
    }
    if preempt_count() != 0 {
        let p = crate::kernel::task::current();
        crate::kernel::panic::bug_report(format_args!(
            "BUG: scheduling while atomic: {}/{}/0x{:08x}",
            comm_str(&p.comm()),
            p.pid(),
            preempt_count()
        ));
        crate::kernel::panic::dump_stack();
    }
}

/// Preemption from the interrupt return path (interrupts are off on entry
/// and exit, as in Linux).
pub fn preempt_schedule_irq() {
    loop {
        crate::sync::preempt_disable();
        local_irq_enable();
        __schedule(true);
        local_irq_disable();
        crate::sync::preempt_enable_no_resched();
        if !need_resched() {
            break;
        }
    }
}

/// Called on the way out of every interrupt (arch/x86_64/irq.rs).
pub fn irqentry_exit_cond_resched(interrupted_irqs_on: bool) {
    if interrupted_irqs_on && preempt_count() == 0 && need_resched() {
        preempt_schedule_irq();
    }
}

pub fn need_resched() -> bool {
    match crate::arch::current::try_current() {
        Some(c) => c.need_resched() || this_cpu().need_resched.load(Relaxed),
        None => false,
    }
}

/// `schedule_idle`: the idle task's way into the scheduler (it already
/// runs with preemption disabled).
pub fn schedule_idle() {
    loop {
        __schedule(false);
        if !need_resched() {
            break;
        }
    }
}

/// `exit_to_usermode_loop`: the work due before returning to user mode
/// with `regs`: rescheduling, then signals (do_signal), which also settles
/// an interrupted system call's restart (`syscall`: regs are a system
/// call's, with its result in rax).
pub fn exit_to_usermode_loop(regs: &mut crate::arch::ptregs::PtRegs, syscall: bool) {
    loop {
        if need_resched() {
            schedule();
            continue;
        }
        let cur = crate::kernel::task::current();
        let restart = syscall && (-(regs.rax as i64)) as u64 >= 512 && (-(regs.rax as i64)) as u64 <= 516;
        if crate::kernel::signal::signal_pending(&cur) || restart || cur.restore_sigmask.load(Relaxed) {
            drop(cur);
            crate::arch::signal::do_signal(regs, syscall);
            // A handler's frame may block what is pending; what is left
            // unblocked (a second signal) gets its own frame now.
            if crate::kernel::signal::signal_pending(&crate::kernel::task::current()) {
                continue;
            }
        }
        return;
    }
}

/// `kick_process`: make a task running on another CPU enter the kernel
/// (a reschedule IPI), so it sees a new signal soon.
pub fn kick_process(p: &TaskStruct) {
    let cpu = p.task_cpu();
    if cpu != smp_processor_id() && p.on_cpu.load(Acquire) {
        crate::kernel::smp::smp_send_reschedule(cpu);
    }
}

/// `cond_resched`: a voluntary preemption point for long kernel loops.
pub fn cond_resched() {
    if need_resched() && preempt_count() == 0 {
        crate::sync::preempt_disable();
        __schedule(true);
        crate::sync::preempt_enable_no_resched();
    }
}

/// `sched_yield` for kernel code: go to the back of the queue.
pub fn yield_now() {
    let cpu = smp_processor_id();
    {
        let mut rq = cpu_rq(cpu).lock_irqsave();
        let curr = rq.curr().clone();
        match curr.class() {
            SchedClassId::Fair => fair::yield_task_fair(&mut rq),
            SchedClassId::Rt => rt::yield_task_rt(&mut rq, &curr),
            _ => {}
        }
    }
    crate::sync::preempt_disable();
    __schedule(true);
    crate::sync::preempt_enable_no_resched();
}

// ---- wake-ups --------------------------------------------------------------

/// `__task_rq_lock`: lock the runqueue `p` is on. A queued task can be
/// moved by the load balancer, which holds only rq locks, between reading
/// its CPU and taking that CPU's lock; read it again under the lock.
fn task_rq_lock(p: &TaskStruct) -> SpinLockGuard<'static, Rq> {
    loop {
        let cpu = p.task_cpu();
        let rq = cpu_rq(cpu).lock();
        if p.task_cpu() == cpu {
            return rq;
        }
    }
}

/// `set_task_cpu` for a task that is not queued anywhere.
fn set_task_cpu(p: &Arc<TaskStruct>, new_cpu: usize) {
    let old = p.task_cpu();
    if old != new_cpu {
        fair::migrate_task_rq_fair(p, old, new_cpu);
        p.se.nr_migrations.fetch_add(1, Relaxed);
        trace::trace_sched_migrate_task(&p.comm(), p.pid(), p.prio(), old as u32, new_cpu as u32);
    }
    p.cpu.store(new_cpu as u32, Release);
}

/// `select_task_rq`: where a waking or new task should run.
#[inline(never)] // on the path the notes trace: keep the symbol
fn select_task_rq(p: &TaskStruct, prev_cpu: usize) -> usize {
    let allowed = p.cpus_allowed.load(Relaxed);
    let cpu = match p.class() {
        SchedClassId::Rt => rt::select_task_rq_rt(p, prev_cpu),
        _ => fair::select_task_rq_fair(p, prev_cpu),
    };
    if cpu_online(cpu) && allowed & (1 << cpu) != 0 {
        return cpu;
    }
    // select_fallback_rq: any online allowed CPU.
    for_each_online_cpu().find(|c| allowed & (1 << c) != 0).unwrap_or(prev_cpu)
}

/// `try_to_wake_up`: wake `p` if its state matches `state`.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn try_to_wake_up(p: &Arc<TaskStruct>, state: u32, wake_flags: u32) -> bool {
    let _pi = p.pi_lock.lock_irqsave();
    if p.state() & state == 0 {
        return false;
    }
    // Still queued (it set its state but has not scheduled away yet, or it is
    // being woken twice): just make it runnable again (ttwu_remote).
    {
        let mut rq = task_rq_lock(p);
        if p.on_rq.load(Acquire) != 0 {
            p.state.store(TASK_RUNNING, Release);
            trace::trace_sched_wakeup(&p.comm(), p.pid(), p.prio(), rq.cpu as u32);
            check_preempt_curr(&mut rq, p, wake_flags);
            return true;
        }
    }
    // Off the queue: wait until it is off its CPU too (its switch-out may
    // still be running on another CPU), then pick a CPU and queue it there.
    while p.on_cpu.load(Acquire) {
        core::hint::spin_loop();
    }
    p.state.store(TASK_WAKING, Release);
    let cpu = select_task_rq(p, p.task_cpu());
    set_task_cpu(p, cpu);
    let mut rq = cpu_rq(cpu).lock();
    activate_task(&mut rq, p, ENQUEUE_WAKEUP);
    p.state.store(TASK_RUNNING, Release);
    trace::trace_sched_wakeup(&p.comm(), p.pid(), p.prio(), cpu as u32);
    check_preempt_curr(&mut rq, p, wake_flags);
    true
}

pub fn wake_up_process(p: &Arc<TaskStruct>) -> bool {
    try_to_wake_up(p, TASK_NORMAL, 0)
}

pub fn wake_up_state(p: &Arc<TaskStruct>, state: u32) -> bool {
    try_to_wake_up(p, state, 0)
}

/// `sched_fork`: scheduler state of a new task (copy_process calls it).
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sched_fork(p: &Arc<TaskStruct>) {
    p.state.store(TASK_NEW, Release);
    // Priority inheritance is not boosting anything yet: normal_prio.
    p.prio.store(p.normal_prio.load(Relaxed), Relaxed);
    let cpu = smp_processor_id();
    p.cpu.store(cpu as u32, Relaxed);
    if p.class() == SchedClassId::Fair {
        let mut rq = cpu_rq(cpu).lock_irqsave();
        update_rq_clock(&mut rq);
        fair::task_fork_fair(&mut rq, p);
    }
    if p.class() == SchedClassId::Rt {
        p.rt.time_slice.store(rt::rr_timeslice(), Relaxed);
    }
}

/// `wake_up_new_task`: first enqueue of a forked task.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn wake_up_new_task(p: &Arc<TaskStruct>) {
    let _pi = p.pi_lock.lock_irqsave();
    p.state.store(TASK_RUNNING, Release);
    let cpu = select_task_rq(p, p.task_cpu());
    // A forked task's vruntime is relative (task_fork_fair); no migration fix-up.
    p.cpu.store(cpu as u32, Release);
    let mut rq = cpu_rq(cpu).lock();
    activate_task(&mut rq, p, ENQUEUE_INITIAL);
    trace::trace_sched_wakeup_new(&p.comm(), p.pid(), p.prio(), cpu as u32);
    check_preempt_curr(&mut rq, p, 0);
}

// ---- the tick --------------------------------------------------------------

/// `scheduler_tick`: called from every CPU's timer interrupt.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn scheduler_tick() {
    let cpu = smp_processor_id();
    let mut rq = cpu_rq(cpu).lock_irqsave();
    if rq.curr.is_none() {
        return;
    }
    update_rq_clock(&mut rq);
    let curr = rq.curr().clone();
    match curr.class() {
        SchedClassId::Fair => fair::task_tick_fair(&mut rq, &curr),
        SchedClassId::Rt => rt::task_tick_rt(&mut rq, &curr),
        _ => {}
    }
    rq.ticks_since_balance += 1;
    let balance = rq.ticks_since_balance >= fair::BALANCE_INTERVAL_TICKS;
    if balance {
        rq.ticks_since_balance = 0;
    }
    drop(rq);
    if balance {
        fair::trigger_load_balance(cpu);
    }
}

// ---- priorities and affinity -------------------------------------------------

/// `set_user_nice`.
pub fn set_user_nice(p: &Arc<TaskStruct>, nice: i32) {
    let nice = nice.clamp(klib::sched::MIN_NICE, klib::sched::MAX_NICE);
    let _pi = p.pi_lock.lock_irqsave();
    let mut rq = cpu_rq(p.task_cpu()).lock();
    let queued = p.on_rq.load(Relaxed) == TASK_ON_RQ_QUEUED;
    let running = rq.curr.as_ref().is_some_and(|c| Arc::ptr_eq(c, p));
    if queued {
        dequeue_task(&mut rq, p, 0);
    }
    let prio = klib::sched::nice_to_prio(nice);
    p.static_prio.store(prio, Relaxed);
    if p.class() == SchedClassId::Fair {
        p.normal_prio.store(prio, Relaxed);
        p.prio.store(prio, Relaxed);
    }
    p.se.load_weight.store(klib::sched::nice_to_weight(nice), Relaxed);
    if queued {
        enqueue_task(&mut rq, p, 0);
        if running {
            fair::set_curr_task_fair(&mut rq, p);
        }
        resched_curr(&mut rq);
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum SchedError {
    Invalid,
}

/// `sched_setscheduler` (kernel form: no permission checks). `prio` is the
/// rt_priority (1..99) for FIFO/RR and ignored for NORMAL/BATCH/IDLE.
pub fn sched_setscheduler(p: &Arc<TaskStruct>, policy: u32, rt_priority: u32) -> Result<(), SchedError> {
    let (class, prio) = match policy {
        SCHED_FIFO | SCHED_RR if (1..=99).contains(&rt_priority) => {
            (SchedClassId::Rt, klib::sched::MAX_RT_PRIO - 1 - rt_priority as i32)
        }
        SCHED_NORMAL | SCHED_BATCH | SCHED_IDLE if rt_priority == 0 => {
            (SchedClassId::Fair, p.static_prio.load(Relaxed))
        }
        // SCHED_DEADLINE needs sched_setattr's runtime/deadline/period (not yet).
        _ => return Err(SchedError::Invalid),
    };
    let _pi = p.pi_lock.lock_irqsave();
    let mut rq = cpu_rq(p.task_cpu()).lock();
    let queued = p.on_rq.load(Relaxed) == TASK_ON_RQ_QUEUED;
    let running = rq.curr.as_ref().is_some_and(|c| Arc::ptr_eq(c, p));
    if running {
        put_prev_task(&mut rq, p);
    }
    if queued {
        dequeue_task(&mut rq, p, 0);
    }
    p.policy.store(policy, Relaxed);
    p.rt_priority.store(rt_priority, Relaxed);
    p.normal_prio.store(prio, Relaxed);
    p.prio.store(prio, Relaxed);
    p.sched_class.store(class as u32, Relaxed);
    if class == SchedClassId::Rt {
        p.rt.time_slice.store(rt::rr_timeslice(), Relaxed);
    }
    if queued {
        enqueue_task(&mut rq, p, 0);
        if running {
            if class == SchedClassId::Fair {
                fair::set_curr_task_fair(&mut rq, p);
            }
        }
    }
    // A class change may let someone else run first, or let p preempt.
    if running {
        resched_curr(&mut rq);
    } else if queued {
        check_preempt_curr(&mut rq, p, 0);
    }
    Ok(())
}

/// `set_cpus_allowed_ptr`: change affinity; a task queued or running on a
/// CPU it may no longer use is moved (a running one by the CPU's stopper
/// thread, migration/N, as Linux does).
pub fn set_cpus_allowed_ptr(p: &Arc<TaskStruct>, mask: u64) -> Result<(), SchedError> {
    let online = crate::arch::percpu::cpu_online_mask();
    if mask & online == 0 {
        return Err(SchedError::Invalid);
    }
    {
        let _pi = p.pi_lock.lock_irqsave();
        p.cpus_allowed.store(mask, Relaxed);
        p.nr_cpus_allowed.store(mask.count_ones(), Relaxed);
    }
    // The load balancer moves queued tasks holding only the rq locks, so
    // the CPU read before locking is checked again under them (Linux's
    // task_rq_lock loop), and again after the stopper ran, in case the
    // balancer had carried the task to another CPU it may not use.
    loop {
        let _pi = p.pi_lock.lock_irqsave();
        let cpu = p.task_cpu();
        if mask & (1 << cpu) != 0 {
            return Ok(());
        }
        let dest = (mask & online).trailing_zeros() as usize;
        let (mut src, mut dst) = double_rq_lock(cpu, dest);
        if p.task_cpu() != cpu {
            continue;
        }
        let running = src.curr.as_ref().is_some_and(|c| Arc::ptr_eq(c, p));
        if !running {
            if p.on_rq.load(Relaxed) == TASK_ON_RQ_QUEUED {
                update_rq_clock(&mut src);
                update_rq_clock(&mut dst);
                move_queued_task_locked(&mut src, &mut dst, p);
            }
            // A sleeping task is placed on an allowed CPU when it wakes.
            return Ok(());
        }
        drop((src, dst, _pi));
        // Running there: the stopper on its CPU pushes it away.
        stop_task::stop_one_cpu(cpu, stop_task::StopWork::Migrate(p.clone()));
    }
}

/// Lock two runqueues, lower CPU first (the lock order); returns them as
/// (rq of `a`, rq of `b`). `a != b`.
pub fn double_rq_lock(a: usize, b: usize) -> (SpinLockGuard<'static, Rq>, SpinLockGuard<'static, Rq>) {
    assert!(a != b);
    if a < b {
        let ga = cpu_rq(a).lock_irqsave();
        let gb = cpu_rq(b).lock_irqsave();
        (ga, gb)
    } else {
        let gb = cpu_rq(b).lock_irqsave();
        let ga = cpu_rq(a).lock_irqsave();
        (ga, gb)
    }
}

/// Move a queued, not running task between two locked runqueues
/// (detach_task + attach_task).
pub fn move_queued_task_locked(src: &mut Rq, dst: &mut Rq, p: &Arc<TaskStruct>) {
    p.on_rq.store(TASK_ON_RQ_MIGRATING, Release);
    dequeue_task(src, p, DEQUEUE_MIGRATE);
    set_task_cpu(p, dst.cpu);
    enqueue_task(dst, p, ENQUEUE_MIGRATED);
    p.on_rq.store(TASK_ON_RQ_QUEUED, Release);
    check_preempt_curr(dst, p, 0);
}

/// Set the priority class and prio of a task that is not yet running
/// (kthread creation, the stopper threads).
pub fn sched_set_stop_task(p: &Arc<TaskStruct>) {
    p.sched_class.store(SchedClassId::Stop as u32, Relaxed);
    p.prio.store(0, Relaxed);
    p.normal_prio.store(0, Relaxed);
    p.policy.store(SCHED_FIFO, Relaxed);
    p.rt_priority.store(klib::sched::MAX_RT_PRIO as u32 - 1, Relaxed);
}

/// Number of runnable tasks on a CPU (for tests and /proc later).
pub fn nr_running(cpu: usize) -> u64 {
    RQ_NR_RUNNING[cpu].load(Relaxed)
}
