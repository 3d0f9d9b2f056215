//! Work queues (mirrors kernel/workqueue.c, much simplified).
//!
//! A work item is a function to run later in process context, where it may
//! sleep. Each online CPU has a worker pool with a shared list of pending
//! work and NR_WORKERS kernel threads, `kworker/N:M`, bound to that CPU
//! (PF_WQ_WORKER). `queue_work_on` puts an item on a CPU's list unless it is
//! already pending and wakes the pool; a worker takes items one at a time.
//! With two workers per CPU, one item that sleeps does not hold up the
//! others.
//!
//! Left out: Linux's concurrency management (workers created and destroyed
//! on demand by the pool manager), unbound and ordered workqueues, delayed
//! work, rescuers. There is one queue, `system_wq`.
//!
//! Used by the scheduler: dead tasks are freed from a work item
//! (free_task_work), the way Linux defers put_task_struct past RCU.

use crate::arch::percpu::{cpu_online, smp_processor_id, NR_CPUS};
use crate::kernel::sched::wait::WaitQueueHead;
use crate::kernel::task::*;
use crate::sync::SpinLock;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

pub const NR_WORKERS: usize = 2;

/// `struct work_struct`.
pub struct WorkStruct {
    func: Box<dyn Fn() + Send + Sync>,
    pending: AtomicBool,
    running: AtomicU64,
    done: WaitQueueHead,
}

impl WorkStruct {
    /// `INIT_WORK`.
    pub fn new(func: impl Fn() + Send + Sync + 'static) -> Arc<WorkStruct> {
        Arc::new(WorkStruct { func: Box::new(func), pending: AtomicBool::new(false), running: AtomicU64::new(0), done: WaitQueueHead::new() })
    }
    pub fn is_pending(&self) -> bool {
        self.pending.load(SeqCst)
    }
}

/// `struct worker_pool`: one per CPU.
struct WorkerPool {
    worklist: SpinLock<VecDeque<Arc<WorkStruct>>>,
    wait: WaitQueueHead,
    ready: AtomicBool,
}

static POOLS: [WorkerPool; NR_CPUS] = [const {
    WorkerPool { worklist: SpinLock::new("pool->lock", VecDeque::new()), wait: WaitQueueHead::new(), ready: AtomicBool::new(false) }
}; NR_CPUS];

/// Items run so far (all CPUs), for tests.
pub static WORK_DONE: AtomicU64 = AtomicU64::new(0);

/// `queue_work_on`: false if the item was already pending.
pub fn queue_work_on(cpu: usize, work: &Arc<WorkStruct>) -> bool {
    if work.pending.swap(true, SeqCst) {
        return false;
    }
    let cpu = if cpu_online(cpu) && POOLS[cpu].ready.load(Acquire) { cpu } else { 0 };
    POOLS[cpu].worklist.lock_irqsave().push_back(work.clone());
    POOLS[cpu].wait.wake_up();
    true
}

/// `schedule_work`: queue on the current CPU's pool (system_wq).
pub fn schedule_work(work: &Arc<WorkStruct>) -> bool {
    queue_work_on(smp_processor_id(), work)
}

/// `flush_work`: wait until the item is neither pending nor running.
pub fn flush_work(work: &Arc<WorkStruct>) {
    crate::kernel::sched::wait::wait_event(&work.done, TASK_UNINTERRUPTIBLE, || {
        !work.pending.load(SeqCst) && work.running.load(SeqCst) == 0
    });
}

/// `worker_thread`.
fn worker_thread(cpu: usize) -> i32 {
    current().flags.fetch_or(PF_WQ_WORKER, Relaxed);
    let pool = &POOLS[cpu];
    loop {
        crate::kernel::sched::wait::wait_event(&pool.wait, TASK_IDLE, || !pool.worklist.lock_irqsave().is_empty());
        let next = pool.worklist.lock_irqsave().pop_front();
        if let Some(work) = next {
            // process_one_work: clear pending first, so the item may be queued again while it runs.
            work.running.fetch_add(1, SeqCst);
            work.pending.store(false, SeqCst);
            (work.func)();
            work.running.fetch_sub(1, SeqCst);
            WORK_DONE.fetch_add(1, Relaxed);
            work.done.wake_up_all();
        }
    }
}

/// `workqueue_init`: start the per-CPU workers (after SMP bring-up).
pub fn workqueue_init() {
    for cpu in crate::arch::percpu::for_each_online_cpu() {
        for m in 0..NR_WORKERS {
            let name = alloc::format!("kworker/{}:{}", cpu, m);
            match crate::kernel::kthread::kthread_create_on_node(move || worker_thread(cpu), -1, &name) {
                Ok(t) => {
                    crate::kernel::kthread::kthread_bind(&t, cpu);
                    crate::kernel::sched::wake_up_process(&t);
                }
                Err(e) => pr_err!("workqueue: cannot create {} ({})", name, e),
            }
        }
        POOLS[cpu].ready.store(true, Release);
    }
    // Anything queued before the pools were ready went to CPU 0's list.
    POOLS[0].wait.wake_up_all();
    pr_info!("workqueue: {} workers per CPU (kworker/N:M)", NR_WORKERS);
}

pub fn workqueues_ready() -> bool {
    POOLS[0].ready.load(Acquire)
}

// ---- deferred freeing of dead tasks --------------------------------------

static DEAD_TASKS: SpinLock<alloc::vec::Vec<Arc<TaskStruct>>> = SpinLock::new("dead_tasks", alloc::vec::Vec::new());
static FREE_WORK: SpinLock<Option<Arc<WorkStruct>>> = SpinLock::new("free_task_work", None);
/// Tasks freed through the work queue (tests).
pub static DEFERRED_FREES: AtomicU64 = AtomicU64::new(0);

/// Hand a dead task's last scheduler reference to a worker, which drops it
/// (freeing the stack and task_struct) and fires sched_process_free.
pub fn put_task_struct_deferred(p: Arc<TaskStruct>) -> Result<(), Arc<TaskStruct>> {
    if !workqueues_ready() {
        return Err(p);
    }
    DEAD_TASKS.lock_irqsave().push(p);
    let work = FREE_WORK
        .lock_irqsave()
        .get_or_insert_with(|| WorkStruct::new(free_task_work))
        .clone();
    schedule_work(&work);
    Ok(())
}

fn free_task_work() {
    loop {
        let batch = core::mem::take(&mut *DEAD_TASKS.lock_irqsave());
        if batch.is_empty() {
            break;
        }
        for p in batch {
            crate::kernel::sched::tp::trace_sched_process_free(&p.comm(), p.pid(), p.prio());
            DEFERRED_FREES.fetch_add(1, Relaxed);
            drop(p);
        }
    }
}
