//! SMP tests: per-CPU identity, cross calls, IPIs, TLB shootdown, spinlocks.

use super::{ensure, wait_for, KTest, TestResult};
use crate::arch::percpu::{for_each_online_cpu, in_irq, num_online_cpus, per_cpu, preempt_count, smp_processor_id, NR_CPUS};
use crate::arch::processor::irqs_disabled;
use crate::arch::selftest::{read_kernel_u64, write_kernel_u64};
use crate::kernel::smp::{flush_tlb_kernel_range, on_each_cpu, smp_call_function_single, smp_send_reschedule};
use crate::mm::{page_alloc, pgtable::{PageTable, PAGE_KERNEL}, phys_to_virt, VMALLOC_START};
use crate::sync::{might_sleep, SpinLock, MIGHT_SLEEP_BUGS};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};

pub const TESTS: &[KTest] = &[
    KTest { name: "percpu_identity", func: percpu_identity, min_cpus: 1 },
    KTest { name: "call_function_single", func: call_function_single, min_cpus: 2 },
    KTest { name: "ipi_reschedule", func: ipi_reschedule, min_cpus: 2 },
    KTest { name: "tlb_shootdown", func: tlb_shootdown, min_cpus: 2 },
    KTest { name: "spinlock_contention", func: spinlock_contention, min_cpus: 1 },
    KTest { name: "spinlock_irqsave", func: spinlock_irqsave, min_cpus: 1 },
    KTest { name: "might_sleep_check", func: might_sleep_check, min_cpus: 1 },
    KTest { name: "preempt_count_migration", func: preempt_count_migration, min_cpus: 2 },
];

/// Every online CPU runs the call once, sees its own number, and the APIC
/// ids are distinct.
fn percpu_identity() -> TestResult {
    let seen: Arc<[AtomicU64; NR_CPUS]> = Arc::new([const { AtomicU64::new(0) }; NR_CPUS]);
    let s = seen.clone();
    on_each_cpu(move || { s[smp_processor_id()].fetch_add(1, SeqCst); }, true);
    let mut apic_ids = alloc::vec::Vec::new();
    for cpu in 0..NR_CPUS {
        let n = seen[cpu].load(SeqCst);
        let online = crate::arch::percpu::cpu_online(cpu);
        ensure!(n == online as u64, "CPU {} ran the call {} times (online: {})", cpu, n, online);
        if online {
            let id = per_cpu(cpu).apic_id.load(Relaxed);
            ensure!(!apic_ids.contains(&id), "APIC id {} used twice", id);
            apic_ids.push(id);
        }
    }
    ensure!(apic_ids.len() == num_online_cpus(), "online mask disagrees with the calls");
    Ok(())
}

fn call_function_single() -> TestResult {
    for cpu in for_each_online_cpu().filter(|&c| c != smp_processor_id()) {
        let ran_on = Arc::new(AtomicUsize::new(usize::MAX));
        let in_hardirq = Arc::new(AtomicBool::new(false));
        let (r, h) = (ran_on.clone(), in_hardirq.clone());
        smp_call_function_single(cpu, move || {
            r.store(smp_processor_id(), SeqCst);
            h.store(in_irq(), SeqCst);
        }, true).map_err(|e| alloc::format!("{:?}", e))?;
        ensure!(ran_on.load(SeqCst) == cpu, "call for CPU {} ran on CPU {}", cpu, ran_on.load(SeqCst));
        ensure!(in_hardirq.load(SeqCst), "call on CPU {} did not run in interrupt context", cpu);
    }
    Ok(())
}

fn ipi_reschedule() -> TestResult {
    for cpu in for_each_online_cpu().filter(|&c| c != smp_processor_id()) {
        let before = per_cpu(cpu).resched_ipis.load(SeqCst);
        let scheds = crate::kernel::sched::RQ_SCHED_COUNT[cpu].load(SeqCst);
        smp_send_reschedule(cpu);
        ensure!(wait_for(1000, || per_cpu(cpu).resched_ipis.load(SeqCst) > before), "CPU {} never took the reschedule IPI", cpu);
        // The IPI sets need_resched, so the CPU must go through __schedule.
        ensure!(
            wait_for(1000, || crate::kernel::sched::RQ_SCHED_COUNT[cpu].load(SeqCst) > scheds),
            "CPU {} took the IPI but did not reschedule",
            cpu
        );
    }
    Ok(())
}

/// Other CPUs cache a translation, we change it, and after the shootdown
/// they must see the new page (without it they read the old one).
fn tlb_shootdown() -> TestResult {
    let a = page_alloc::get_zeroed_page().ok_or("no page")?;
    let b = page_alloc::get_zeroed_page().ok_or("no page")?;
    write_kernel_u64(phys_to_virt(a), 0xaaaa);
    write_kernel_u64(phys_to_virt(b), 0xbbbb);
    let va = VMALLOC_START + 0x20_0000;
    let mut pt = PageTable::kernel();
    pt.map_page(va, a, PAGE_KERNEL).map_err(|e| alloc::format!("{:?}", e))?;
    let wrong = Arc::new(AtomicUsize::new(0));
    let w = wrong.clone();
    on_each_cpu(move || if read_kernel_u64(va) != 0xaaaa { w.fetch_add(1, SeqCst); }, true);
    ensure!(wrong.load(SeqCst) == 0, "first read went wrong on {} CPUs", wrong.load(SeqCst));
    pt.unmap_page(va);
    pt.map_page(va, b, PAGE_KERNEL).map_err(|e| alloc::format!("{:?}", e))?;
    flush_tlb_kernel_range(va, va + 4096);
    let stale = Arc::new(AtomicUsize::new(0));
    let s = stale.clone();
    on_each_cpu(move || if read_kernel_u64(va) != 0xbbbb { s.fetch_add(1, SeqCst); }, true);
    pt.unmap_page(va);
    flush_tlb_kernel_range(va, va + 4096);
    page_alloc::free_pages(a, 0);
    page_alloc::free_pages(b, 0);
    ensure!(stale.load(SeqCst) == 0, "{} CPUs still saw the old page after the shootdown", stale.load(SeqCst));
    Ok(())
}

/// All CPUs hammer one lock; a non-atomic read-modify-write under it must
/// never lose an update, and no two CPUs may be inside at once.
fn spinlock_contention() -> TestResult {
    // Each handoff of a ticket lock waits for the next vCPU's host thread,
    // which is slow under TCG with more vCPUs than host cores.
    const ROUNDS: u64 = 1_000;
    static COUNTER: SpinLock<u64> = SpinLock::new("ktest_counter", 0);
    static INSIDE: AtomicBool = AtomicBool::new(false);
    static OVERLAPS: AtomicU64 = AtomicU64::new(0);
    *COUNTER.lock() = 0;
    on_each_cpu(|| {
        for _ in 0..ROUNDS {
            let mut g = COUNTER.lock();
            if INSIDE.swap(true, SeqCst) {
                OVERLAPS.fetch_add(1, SeqCst);
            }
            let v = core::hint::black_box(*g);
            core::hint::spin_loop();
            *g = v + 1;
            INSIDE.store(false, SeqCst);
        }
    }, true);
    let total = *COUNTER.lock();
    let want = ROUNDS * num_online_cpus() as u64;
    ensure!(OVERLAPS.load(SeqCst) == 0, "{} times two CPUs held the lock at once", OVERLAPS.load(SeqCst));
    ensure!(total == want, "counter is {}, expected {}", total, want);
    Ok(())
}

fn spinlock_irqsave() -> TestResult {
    static L: SpinLock<()> = SpinLock::new("ktest_irqsave", ());
    static M: SpinLock<()> = SpinLock::new("ktest_irqsave_inner", ());
    ensure!(!irqs_disabled(), "tests must start with interrupts on");
    let base = preempt_count();
    {
        let _g = L.lock_irqsave();
        ensure!(irqs_disabled(), "lock_irqsave left interrupts on");
        ensure!(preempt_count() == base + 1, "preempt_count {} while holding a lock", preempt_count());
        {
            let _h = M.lock_irqsave();
            ensure!(preempt_count() == base + 2, "nested lock did not count");
        }
        ensure!(irqs_disabled(), "inner unlock turned interrupts on under the outer lock");
    }
    ensure!(!irqs_disabled(), "unlock did not restore interrupts");
    ensure!(preempt_count() == base, "preempt_count {} after unlock, was {}", preempt_count(), base);
    {
        let _g = L.lock();
        ensure!(!irqs_disabled(), "plain lock disabled interrupts");
    }
    Ok(())
}

fn might_sleep_check() -> TestResult {
    static L: SpinLock<()> = SpinLock::new("ktest_might_sleep", ());
    let before = MIGHT_SLEEP_BUGS.load(SeqCst);
    might_sleep();
    ensure!(MIGHT_SLEEP_BUGS.load(SeqCst) == before, "might_sleep complained outside atomic context");
    pr_info!("ktest: might_sleep_check: the next BUG report is expected");
    {
        let _g = L.lock();
        might_sleep();
    }
    let want = if cfg!(debug_assertions) { before + 1 } else { before };
    ensure!(MIGHT_SLEEP_BUGS.load(SeqCst) == want, "might_sleep with a spinlock held was not caught");
    Ok(())
}

/// The preempt count is per CPU, so changing it must not be split by a
/// migration: a task preempted between finding its CPU's count and adding
/// to it would raise the count of the CPU it left and drop the one it runs
/// on (seen once as "scheduling while atomic" on one CPU and "Aiee, killing
/// interrupt handler" on the other). A worker disables and enables
/// preemption in a loop while the test moves it between CPUs with
/// set_cpus_allowed_ptr, whose stopper IPI preempts it at arbitrary points.
fn preempt_count_migration() -> TestResult {
    use crate::kernel::kthread::{kthread_run, kthread_should_stop, kthread_stop};
    use crate::kernel::sched::set_cpus_allowed_ptr;
    use crate::sync::{preempt_disable, preempt_enable};
    const MIGRATIONS: u64 = 200;
    let bad = Arc::new(AtomicU64::new(0));
    let moved = Arc::new(AtomicU64::new(0));
    let (b, m) = (bad.clone(), moved.clone());
    let worker = kthread_run(move || {
        let mut last = smp_processor_id();
        while !kthread_should_stop() {
            // A kernel thread that is not inside any lock runs with count 0.
            preempt_disable();
            let inside = preempt_count();
            let cpu = smp_processor_id();
            preempt_enable();
            let outside = preempt_count();
            if inside != 1 || outside != 0 {
                b.fetch_add(1, SeqCst);
            }
            if cpu != last {
                m.fetch_add(1, SeqCst);
                last = cpu;
            }
        }
        0
    }, "ktest_preempt").map_err(|e| alloc::format!("kthread_run: {}", e))?;
    let cpus: alloc::vec::Vec<usize> = for_each_online_cpu().collect();
    let mut i = 0;
    while moved.load(SeqCst) < MIGRATIONS && i < 20 * MIGRATIONS as usize {
        let _ = set_cpus_allowed_ptr(&worker, 1 << cpus[i % cpus.len()]);
        crate::kernel::time::timer::msleep(1);
        i += 1;
    }
    kthread_stop(&worker);
    ensure!(moved.load(SeqCst) >= MIGRATIONS, "the worker moved only {} times", moved.load(SeqCst));
    ensure!(bad.load(SeqCst) == 0, "{} times the count was wrong after a migration", bad.load(SeqCst));
    Ok(())
}
