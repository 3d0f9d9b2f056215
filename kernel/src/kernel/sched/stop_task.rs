//! The stop class and the per-CPU stopper threads (mirrors
//! kernel/sched/stop_task.c and kernel/stop_machine.c).
//!
//! `migration/N` is the highest-priority task on its CPU: when work is
//! queued for it, it preempts anything, runs the work and sleeps again.
//! Tine uses it, as Linux does, to move a task off a CPU it may no longer
//! run on while it is running there (set_cpus_allowed_ptr): once the
//! stopper runs, that task is merely queued and can be moved.

use super::core::*;
use super::wait::Completion;
use crate::arch::percpu::{smp_processor_id, NR_CPUS};
use crate::kernel::task::*;
use crate::sync::SpinLock;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::Ordering::*;

pub enum StopWork {
    /// migration_cpu_stop: push this task to a CPU it is allowed on.
    Migrate(Arc<TaskStruct>),
}

static WORK: [SpinLock<VecDeque<(StopWork, Arc<Completion>)>>; NR_CPUS] =
    [const { SpinLock::new("cpu_stopper.lock", VecDeque::new()) }; NR_CPUS];
static STOPPER: [SpinLock<Option<Arc<TaskStruct>>>; NR_CPUS] = [const { SpinLock::new("cpu_stopper.thread", None) }; NR_CPUS];

pub fn enqueue_task_stop(rq: &mut Rq, _p: &Arc<TaskStruct>) {
    rq.stop_queued = true;
}

pub fn dequeue_task_stop(rq: &mut Rq, _p: &Arc<TaskStruct>) {
    rq.stop_queued = false;
}

pub fn pick_next_task_stop(rq: &mut Rq) -> Option<Arc<TaskStruct>> {
    if rq.stop_queued {
        rq.stop.clone()
    } else {
        None
    }
}

/// Queue work on `cpu`'s stopper and wait for it (stop_one_cpu).
pub fn stop_one_cpu(cpu: usize, work: StopWork) -> bool {
    let Some(stopper) = STOPPER[cpu].lock_irqsave().clone() else { return false };
    let done = Arc::new(Completion::new());
    WORK[cpu].lock_irqsave().push_back((work, done.clone()));
    wake_up_process(&stopper);
    done.wait_for_completion();
    true
}

fn migration_cpu_stop(p: &Arc<TaskStruct>) {
    let _pi = p.pi_lock.lock_irqsave();
    let cpu = smp_processor_id();
    let allowed = p.cpus_allowed.load(Relaxed) & crate::arch::percpu::cpu_online_mask();
    if p.task_cpu() != cpu || allowed & (1 << cpu) != 0 || allowed == 0 {
        return;
    }
    if p.on_rq.load(Relaxed) != TASK_ON_RQ_QUEUED {
        return; // asleep: it goes to an allowed CPU when it wakes
    }
    let dest = allowed.trailing_zeros() as usize;
    let (mut src, mut dst) = double_rq_lock(cpu, dest);
    // The balancer may have moved it while we took the locks (it holds
    // rq locks only, not pi_lock): move it only from where it still is.
    if p.task_cpu() != cpu || p.on_rq.load(Relaxed) != TASK_ON_RQ_QUEUED {
        return;
    }
    update_rq_clock(&mut src);
    update_rq_clock(&mut dst);
    move_queued_task_locked(&mut src, &mut dst, p);
}

/// `cpu_stopper_thread`.
fn cpu_stopper_thread(cpu: usize) -> i32 {
    let me = current();
    *STOPPER[cpu].lock_irqsave() = Some(me.clone());
    loop {
        me.state.store(TASK_INTERRUPTIBLE, SeqCst);
        let next = WORK[cpu].lock_irqsave().pop_front();
        match next {
            None => schedule(),
            Some((work, done)) => {
                me.state.store(TASK_RUNNING, SeqCst);
                match work {
                    StopWork::Migrate(p) => migration_cpu_stop(&p),
                }
                done.complete();
            }
        }
    }
}

/// Create `migration/N` for every online CPU (cpu_stop_init + smpboot threads).
pub fn cpu_stop_init() {
    for cpu in crate::arch::percpu::for_each_online_cpu() {
        let t = crate::kernel::kthread::kthread_create_on_cpu(cpu_stopper_thread, cpu, cpu, "migration/%u");
        let Ok(t) = t else {
            pr_err!("stop_machine: failed to create migration/{}", cpu);
            continue;
        };
        {
            let mut rq = cpu_rq(cpu).lock_irqsave();
            sched_set_stop_task(&t);
            rq.stop = Some(t.clone());
        }
        wake_up_process(&t);
    }
}
