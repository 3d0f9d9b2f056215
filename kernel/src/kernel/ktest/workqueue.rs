//! Work queue tests: items run once, on the CPU they were queued on, in a
//! kworker/N:M thread; pending items are not queued twice; flush waits; a
//! sleeping item does not block the pool; dead tasks are freed by kworkers.

use super::{ensure, KTest, TestResult};
use crate::arch::percpu::smp_processor_id;
use crate::kernel::smp::smp_call_function_single;
use crate::kernel::task::*;
use crate::kernel::time::timer::msleep;
use crate::kernel::workqueue::*;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};

pub const TESTS: &[KTest] = &[
    KTest { name: "workqueue_basic", func: workqueue_basic, min_cpus: 1 },
    KTest { name: "workqueue_many", func: workqueue_many, min_cpus: 1 },
    KTest { name: "workqueue_sleeper", func: workqueue_sleeper, min_cpus: 1 },
    KTest { name: "workqueue_frees_tasks", func: workqueue_frees_tasks, min_cpus: 1 },
];

fn workqueue_basic() -> TestResult {
    for cpu in crate::arch::percpu::for_each_online_cpu() {
        static RAN_ON: AtomicUsize = AtomicUsize::new(usize::MAX);
        static RUNS: AtomicU64 = AtomicU64::new(0);
        static IS_WORKER: AtomicU64 = AtomicU64::new(0);
        static NAME_OK: AtomicU64 = AtomicU64::new(0);
        RUNS.store(0, SeqCst);
        let work = WorkStruct::new(|| {
            let me = current();
            RAN_ON.store(smp_processor_id(), SeqCst);
            IS_WORKER.store((me.flags() & PF_WQ_WORKER != 0) as u64, SeqCst);
            let want = alloc::format!("kworker/{}:", smp_processor_id());
            NAME_OK.store(comm_str(&me.comm()).starts_with(&want) as u64, SeqCst);
            msleep(5);
            RUNS.fetch_add(1, SeqCst);
        });
        let w = work.clone();
        let queued = Arc::new(AtomicU64::new(0));
        let q = queued.clone();
        // Queue from the target CPU itself, twice in a row: the second is refused.
        smp_call_function_single(cpu, move || {
            q.fetch_add(schedule_work(&w) as u64, SeqCst);
            q.fetch_add(schedule_work(&w) as u64, SeqCst);
        }, true).map_err(|e| alloc::format!("{:?}", e))?;
        ensure!(queued.load(SeqCst) == 1, "a pending item was queued twice");
        flush_work(&work);
        ensure!(RUNS.load(SeqCst) == 1, "item ran {} times after flush_work", RUNS.load(SeqCst));
        ensure!(RAN_ON.load(SeqCst) == cpu, "item queued on CPU {} ran on CPU {}", cpu, RAN_ON.load(SeqCst));
        ensure!(IS_WORKER.load(SeqCst) == 1, "item did not run in a PF_WQ_WORKER thread");
        ensure!(NAME_OK.load(SeqCst) == 1, "worker is not named kworker/{}:M", cpu);
    }
    Ok(())
}

fn workqueue_many() -> TestResult {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    COUNT.store(0, SeqCst);
    let items: alloc::vec::Vec<_> = (0..500).map(|_| WorkStruct::new(|| { COUNT.fetch_add(1, SeqCst); })).collect();
    let ncpu = crate::arch::percpu::num_online_cpus();
    let cpus: alloc::vec::Vec<usize> = crate::arch::percpu::for_each_online_cpu().collect();
    for (i, w) in items.iter().enumerate() {
        ensure!(queue_work_on(cpus[i % ncpu], w), "fresh item {} refused", i);
    }
    for w in &items {
        flush_work(w);
    }
    ensure!(COUNT.load(SeqCst) == 500, "{} of 500 items ran", COUNT.load(SeqCst));
    Ok(())
}

/// An item that sleeps must not hold up the next one on the same CPU.
fn workqueue_sleeper() -> TestResult {
    super::timing_retry("workqueue_sleeper", 3, workqueue_sleeper_once)
}

fn workqueue_sleeper_once() -> TestResult {
    static SLEEPER_DONE: AtomicU64 = AtomicU64::new(0);
    static QUICK_AT: AtomicU64 = AtomicU64::new(0);
    SLEEPER_DONE.store(0, SeqCst);
    QUICK_AT.store(0, SeqCst);
    let sleeper = WorkStruct::new(|| { msleep(300); SLEEPER_DONE.store(crate::kernel::time::ktime_get_ns(), SeqCst); });
    let quick = WorkStruct::new(|| { QUICK_AT.store(crate::kernel::time::ktime_get_ns(), SeqCst); });
    queue_work_on(0, &sleeper);
    msleep(20);
    queue_work_on(0, &quick);
    flush_work(&quick);
    flush_work(&sleeper);
    ensure!(QUICK_AT.load(SeqCst) != 0 && QUICK_AT.load(SeqCst) < SLEEPER_DONE.load(SeqCst), "the quick item waited for the sleeping one");
    Ok(())
}

fn workqueue_frees_tasks() -> TestResult {
    let before = DEFERRED_FREES.load(SeqCst);
    for _ in 0..5 {
        let t = crate::kernel::kthread::kthread_run(|| 0, "ktest_short").map_err(|e| alloc::format!("{}", e))?;
        drop(t);
    }
    ensure!(super::wait_for(2000, || DEFERRED_FREES.load(SeqCst) >= before + 5), "dead tasks were not freed by a kworker ({} freed)", DEFERRED_FREES.load(SeqCst) - before);
    Ok(())
}
