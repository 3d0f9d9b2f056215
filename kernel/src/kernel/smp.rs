//! Cross-CPU calls (mirrors kernel/smp.c and arch/x86/kernel/smp.c):
//! `smp_call_function_single`, `on_each_cpu`, `on_each_cpu_mask`, the
//! reschedule IPI, and TLB shootdown built on them (arch/x86/mm/tlb.c's
//! flush_tlb_kernel_range with on_each_cpu, flush_tlb_mm_range with
//! on_each_cpu_mask over the CPUs that have the mm loaded).
//!
//! Each CPU has a queue of pending calls; the sender queues a closure and
//! sends CALL_FUNCTION_VECTOR, the target drains its queue in the interrupt.
//! A caller that waits must have interrupts enabled, or two CPUs calling
//! each other would deadlock (Linux WARNs about the same thing).

use crate::arch::apic::send_IPI;
use crate::arch::irq::{CALL_FUNCTION_VECTOR, RESCHEDULE_VECTOR};
use crate::arch::percpu::{cpu_online, for_each_online_cpu, smp_processor_id, this_cpu, NR_CPUS};
use crate::arch::processor::{irqs_disabled, local_irq_restore, local_irq_save};
use crate::sync::SpinLock;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

type CallFn = Box<dyn FnOnce() + Send>;

/// Pending calls per CPU. Lock order: leaf (only the closure runs after it is dropped).
static CALL_QUEUE: [SpinLock<VecDeque<CallFn>>; NR_CPUS] = [const { SpinLock::new("call_single_queue", VecDeque::new()) }; NR_CPUS];

#[derive(Debug, PartialEq, Eq)]
pub enum SmpError {
    /// The target CPU is not online (Linux: -ENXIO).
    Offline,
}

fn warn_if_waiting_with_irqs_off() {
    if irqs_disabled() {
        pr_warn!("WARNING: smp_call_function with wait and IRQs disabled on CPU {} may deadlock", smp_processor_id());
        crate::kernel::panic::dump_stack();
    }
}

/// Run `f` on `cpu`; with `wait`, return only after it ran.
pub fn smp_call_function_single(cpu: usize, f: impl FnOnce() + Send + 'static, wait: bool) -> Result<(), SmpError> {
    // get_cpu(): stay on this CPU between asking which one it is and
    // running `f` here, or the call could run on the wrong CPU.
    crate::sync::preempt_disable();
    let r = call_function_single_on(cpu, f, wait);
    crate::sync::preempt_enable();
    r
}

fn call_function_single_on(cpu: usize, f: impl FnOnce() + Send + 'static, wait: bool) -> Result<(), SmpError> {
    if cpu == smp_processor_id() {
        let flags = local_irq_save();
        f();
        local_irq_restore(flags);
        return Ok(());
    }
    if !cpu_online(cpu) {
        return Err(SmpError::Offline);
    }
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    CALL_QUEUE[cpu].lock_irqsave().push_back(Box::new(move || {
        f();
        d.store(true, Release);
    }));
    send_IPI(cpu, CALL_FUNCTION_VECTOR);
    if wait {
        warn_if_waiting_with_irqs_off();
        while !done.load(Acquire) {
            core::hint::spin_loop();
        }
    }
    Ok(())
}

/// Run `f` on every online CPU, this one included.
pub fn on_each_cpu(f: impl Fn() + Send + Sync + 'static, wait: bool) {
    on_each_cpu_mask(u64::MAX, f, wait)
}

/// Run `f` on the online CPUs in `mask` (bit n = CPU n), this one included
/// if its bit is set.
pub fn on_each_cpu_mask(mask: u64, f: impl Fn() + Send + Sync + 'static, wait: bool) {
    let f = Arc::new(f);
    let pending = Arc::new(AtomicUsize::new(0));
    // get_cpu(): `me` must stay this CPU until `f` ran here.
    crate::sync::preempt_disable();
    let me = smp_processor_id();
    for cpu in for_each_online_cpu().filter(|&c| c != me && mask & (1 << c) != 0) {
        let (f, p) = (f.clone(), pending.clone());
        p.fetch_add(1, SeqCst);
        let queued = smp_call_function_single(
            cpu,
            move || {
                f();
                p.fetch_sub(1, Release);
            },
            false,
        );
        if queued.is_err() {
            pending.fetch_sub(1, SeqCst); // went offline meanwhile
        }
    }
    if mask & (1 << me) != 0 {
        let flags = local_irq_save();
        f();
        local_irq_restore(flags);
    }
    if wait && pending.load(Acquire) != 0 {
        warn_if_waiting_with_irqs_off();
        while pending.load(Acquire) != 0 {
            core::hint::spin_loop();
        }
    }
    crate::sync::preempt_enable();
}

/// CALL_FUNCTION_VECTOR handler (generic_smp_call_function_single_interrupt).
pub fn smp_call_function_interrupt() {
    this_cpu().call_function_ipis.fetch_add(1, Relaxed);
    let cpu = smp_processor_id();
    loop {
        let next = CALL_QUEUE[cpu].lock_irqsave().pop_front();
        match next {
            Some(f) => f(),
            None => break,
        }
    }
}

/// Ask `cpu` to reschedule (native_smp_send_reschedule).
pub fn smp_send_reschedule(cpu: usize) {
    if cpu_online(cpu) {
        send_IPI(cpu, RESCHEDULE_VECTOR);
    }
}

/// RESCHEDULE_VECTOR handler: the scheduler (next issue) acts on need_resched
/// when the interrupt returns.
pub fn smp_reschedule_interrupt() {
    let pc = this_cpu();
    pc.resched_ipis.fetch_add(1, Relaxed);
    pc.need_resched.store(true, Relaxed);
}

/// Drop [start, end) from every CPU's TLB after a kernel mapping changed.
pub fn flush_tlb_kernel_range(start: u64, end: u64) {
    on_each_cpu(
        move || {
            let mut va = start & !0xfff;
            while va < end {
                crate::arch::processor::invlpg(va);
                va += 4096;
            }
        },
        true,
    );
}

/// Linux's `tlb_single_page_flush_ceiling`: above this many pages one full
/// flush is cheaper than invlpg per page.
const TLB_SINGLE_PAGE_FLUSH_CEILING: u64 = 33;

fn flush_tlb_local_range(start: u64, end: u64) {
    if (end - start) / 4096 > TLB_SINGLE_PAGE_FLUSH_CEILING {
        crate::arch::processor::flush_tlb_local();
        return;
    }
    let mut va = start & !0xfff;
    while va < end {
        crate::arch::processor::invlpg(va);
        va += 4096;
    }
}

/// `flush_tlb_mm_range`: drop [start, end) of the user address space rooted
/// at `pgd` from every TLB that may hold it: this CPU's if it has the mm
/// loaded, and by IPI each other CPU's that does (a thread of the mm, or a
/// kernel thread keeping it lazily). Waits for them, so the caller may free
/// the pages that were mapped there afterwards. Call it with interrupts
/// enabled whenever another CPU may have the mm (never under the mm's lock,
/// which a CPU spins on with interrupts off); with only this CPU involved
/// no IPI is sent and interrupts may be off.
pub fn flush_tlb_mm_range(pgd: u64, start: u64, end: u64) {
    if start >= end {
        return;
    }
    crate::sync::preempt_disable(); // stay on the CPU whose bit we test
    let mask = crate::arch::process::mm_cpumask(pgd);
    if mask == 1 << smp_processor_id() {
        flush_tlb_local_range(start, end);
    } else if mask != 0 {
        on_each_cpu_mask(mask, move || flush_tlb_local_range(start, end), true);
    }
    crate::sync::preempt_enable();
}
