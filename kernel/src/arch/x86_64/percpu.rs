//! Per-CPU data (mirrors arch/x86/include/asm/percpu.h and the x86_64
//! `irq_stack_union`/`cpu_number` per-CPU variables).
//!
//! Linux gives every CPU a copy of each `DEFINE_PER_CPU` variable and finds
//! its copy through the GS base. Tine keeps one `PerCpu` record per CPU in a
//! static array and points GS at it; word 0 is a self pointer so `this_cpu()`
//! is one `mov %gs:0`. The entry code reads `kernel_stack_top` at a fixed
//! offset (PERCPU_KSTACK_TOP in entry_64.S). Every field is atomic because
//! interrupt handlers on the same CPU and other CPUs (IPIs, statistics) may
//! touch it; cross-CPU readers only need Relaxed ordering.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

/// The most CPUs Tine supports (Linux: CONFIG_NR_CPUS).
pub const NR_CPUS: usize = 64;

/// preempt_count layout, as Linux's include/linux/preempt.h.
pub const PREEMPT_OFFSET: u32 = 1;
pub const SOFTIRQ_OFFSET: u32 = 1 << 8;
pub const HARDIRQ_OFFSET: u32 = 1 << 16;
pub const NMI_OFFSET: u32 = 1 << 20;
pub const HARDIRQ_MASK: u32 = 0xf << 16;
pub const SOFTIRQ_MASK: u32 = 0xff << 8;
pub const NMI_MASK: u32 = 0xf << 20;

#[repr(C, align(64))]
pub struct PerCpu {
    self_ptr: AtomicUsize,             // offset 0: read by this_cpu()
    pub kernel_stack_top: AtomicU64,   // offset 8: PERCPU_KSTACK_TOP in entry_64.S
    pub user_rsp_scratch: AtomicU64,   // offset 16: for the syscall entry (later)
    pub cpu: AtomicU32,
    pub apic_id: AtomicU32,
    pub preempt_count: AtomicU32,
    pub need_resched: AtomicBool,
    /// Local timer interrupts taken by this CPU.
    pub timer_ticks: AtomicU64,
    /// Reschedule IPIs received.
    pub resched_ipis: AtomicU64,
    /// Call-function IPIs received.
    pub call_function_ipis: AtomicU64,
    /// `current`: Arc::as_ptr of the running task (arch/x86_64/current.rs).
    pub current_task: AtomicUsize,
}

impl PerCpu {
    const fn new() -> Self {
        PerCpu {
            self_ptr: AtomicUsize::new(0),
            kernel_stack_top: AtomicU64::new(0),
            user_rsp_scratch: AtomicU64::new(0),
            cpu: AtomicU32::new(0),
            apic_id: AtomicU32::new(0),
            preempt_count: AtomicU32::new(0),
            need_resched: AtomicBool::new(false),
            timer_ticks: AtomicU64::new(0),
            resched_ipis: AtomicU64::new(0),
            call_function_ipis: AtomicU64::new(0),
            current_task: AtomicUsize::new(0),
        }
    }
}

static PER_CPU: [PerCpu; NR_CPUS] = [const { PerCpu::new() }; NR_CPUS];

/// Bitmap of CPUs that finished bring-up (Linux: cpu_online_mask).
static CPU_ONLINE_MASK: AtomicU64 = AtomicU64::new(0);
/// Number of CPUs found in the MADT (possible CPUs) and their APIC ids.
static NR_CPU_IDS: AtomicU32 = AtomicU32::new(1);

/// Point this CPU's GS base at its per-CPU record. Called first thing on
/// every CPU, before anything may call `this_cpu()`.
pub fn setup_per_cpu(cpu: usize, apic_id: u32) {
    let pc = &PER_CPU[cpu];
    pc.self_ptr.store(pc as *const PerCpu as usize, Relaxed);
    pc.cpu.store(cpu as u32, Relaxed);
    pc.apic_id.store(apic_id, Relaxed);
    // SAFETY: GS base only affects gs-relative accesses, which all go through
    // this module and expect exactly this record. KERNEL_GS_BASE is 0 until
    // user mode exists (swapgs then exchanges the two).
    unsafe {
        super::processor::wrmsr(super::processor::MSR_GS_BASE, pc as *const PerCpu as u64);
        super::processor::wrmsr(super::processor::MSR_KERNEL_GS_BASE, 0);
    }
}

#[inline]
pub fn this_cpu() -> &'static PerCpu {
    let p: usize;
    // SAFETY: GS points at this CPU's record (setup_per_cpu ran), whose word 0
    // is its own address; the records are 'static.
    unsafe {
        core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, preserves_flags, readonly));
        &*(p as *const PerCpu)
    }
}

pub fn per_cpu(cpu: usize) -> &'static PerCpu {
    &PER_CPU[cpu]
}

#[inline]
pub fn smp_processor_id() -> usize {
    this_cpu().cpu.load(Relaxed) as usize
}

// The preempt count is read and changed with one GS-relative instruction, as
// Linux's `raw_cpu_add_4(__preempt_count)`. Going through `this_cpu()` would
// take two steps: load this CPU's address, then add to it. With preemption
// still enabled (count 0), a timer tick between the two can migrate the task,
// which then raises the count of the CPU it left and later drops the count of
// the one it runs on. A single instruction cannot be split by an interrupt,
// and needs no LOCK prefix because only this CPU writes its own count.
const PREEMPT_COUNT_OFFSET: usize = core::mem::offset_of!(PerCpu, preempt_count);

#[inline]
pub fn preempt_count() -> u32 {
    let v: u32;
    // SAFETY: GS points at this CPU's PerCpu record (setup_per_cpu), and
    // PREEMPT_COUNT_OFFSET is the offset of an aligned u32 inside it.
    unsafe {
        core::arch::asm!("mov {v:e}, dword ptr gs:[{off}]", v = out(reg) v, off = const PREEMPT_COUNT_OFFSET,
                         options(nostack, preserves_flags, readonly));
    }
    v
}
#[inline]
pub fn preempt_count_add(v: u32) {
    // SAFETY: as in preempt_count(); a read-modify-write of this CPU's own
    // count, which cross-CPU readers only load.
    unsafe {
        core::arch::asm!("add dword ptr gs:[{off}], {v:e}", v = in(reg) v, off = const PREEMPT_COUNT_OFFSET,
                         options(nostack));
    }
}
#[inline]
pub fn preempt_count_sub(v: u32) {
    // SAFETY: as in preempt_count_add().
    unsafe {
        core::arch::asm!("sub dword ptr gs:[{off}], {v:e}", v = in(reg) v, off = const PREEMPT_COUNT_OFFSET,
                         options(nostack));
    }
}
pub fn in_irq() -> bool {
    preempt_count() & HARDIRQ_MASK != 0
}
pub fn in_nmi() -> bool {
    preempt_count() & NMI_MASK != 0
}
pub fn in_interrupt() -> bool {
    preempt_count() & (HARDIRQ_MASK | SOFTIRQ_MASK | NMI_MASK) != 0
}

pub fn set_cpu_online(cpu: usize, online: bool) {
    if online {
        CPU_ONLINE_MASK.fetch_or(1 << cpu, SeqCst);
    } else {
        CPU_ONLINE_MASK.fetch_and(!(1 << cpu), SeqCst);
    }
}
pub fn cpu_online(cpu: usize) -> bool {
    cpu < NR_CPUS && CPU_ONLINE_MASK.load(SeqCst) & (1 << cpu) != 0
}
pub fn cpu_online_mask() -> u64 {
    CPU_ONLINE_MASK.load(SeqCst)
}
pub fn num_online_cpus() -> usize {
    CPU_ONLINE_MASK.load(SeqCst).count_ones() as usize
}
pub fn for_each_online_cpu() -> impl Iterator<Item = usize> {
    let mask = cpu_online_mask();
    (0..NR_CPUS).filter(move |c| mask & (1 << c) != 0)
}
pub fn set_nr_cpu_ids(n: usize) {
    NR_CPU_IDS.store(n as u32, Relaxed);
}
pub fn nr_cpu_ids() -> usize {
    NR_CPU_IDS.load(Relaxed) as usize
}

const _: () = assert!(core::mem::offset_of!(PerCpu, kernel_stack_top) == 8);
