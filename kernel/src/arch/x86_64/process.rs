//! Context switch and the first return of a new task (mirrors
//! arch/x86/entry/entry_64.S `__switch_to_asm`/`ret_from_fork` and
//! arch/x86/kernel/process_64.c `copy_thread`).
//!
//! `__switch_to_asm` pushes the callee-saved registers on the old task's
//! kernel stack, saves rsp in `prev.thread.sp`, loads `next.thread.sp` and
//! pops. A new task's stack is prepared by `copy_thread` to look as if it
//! had switched out: its saved return address is `ret_from_fork`, with the
//! thread function in rbx (Linux also puts its argument in r12; Tine's
//! thread function is a closure, so one register does). SSE state needs no saving here: switches happen only inside
//! `schedule()`, a function call, after which no xmm register is live; the
//! interrupt entry saves the state of whatever it interrupted.

use core::arch::global_asm;
use super::percpu::{smp_processor_id, NR_CPUS};
use crate::kernel::task::TaskStruct;
use alloc::sync::Arc;
use super::ptregs::PtRegs;
use core::sync::atomic::{AtomicU64, Ordering::{Relaxed, SeqCst}};

global_asm!(
    r#"
    .section .text.switch_to, "ax"
    .global __switch_to_asm
    .type __switch_to_asm, @function
__switch_to_asm:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size __switch_to_asm, . - __switch_to_asm

    .global ret_from_fork
    .type ret_from_fork, @function
ret_from_fork:
    call schedule_tail
    testq %rbx, %rbx
    jz ret_to_user_fresh            /* a user fork: straight back to user mode */
    movq %rbx, %rdi
    movq %r12, %rsi
    call ret_from_fork_kthread
    /* it returns only for a task that now has a user context */
    jmp ret_to_user_fresh
    .size ret_from_fork, . - ret_from_fork
"#,
    options(att_syntax)
);

extern "C" {
    fn __switch_to_asm(prev_sp: *const AtomicU64, next_sp: u64);
    fn ret_from_fork();
}

/// The task each CPU last switched away from (Linux's `last` argument of
/// switch_to), held until the next task's finish_task_switch takes it.
static LAST: [crate::sync::SpinLock<Option<Arc<TaskStruct>>>; NR_CPUS] =
    [const { crate::sync::SpinLock::new("switch_to last", None) }; NR_CPUS];

/// Switch stacks from `prev` (the running task) to a task whose saved stack
/// pointer is `next_sp`. Returns when something switches back to `prev`.
/// `prev` is parked in this CPU's `last` slot, so a task that never runs
/// again (a dead one) leaves no reference behind on its own stack.
pub fn switch_to(prev: Arc<TaskStruct>, next_sp: u64) {
    assert!(next_sp != 0, "switch_to a task with no saved stack");
    let sp: *const AtomicU64 = &prev.thread.sp;
    *LAST[smp_processor_id()].lock() = Some(prev);
    // SAFETY: `sp` points into the task now owned by LAST, which keeps it
    // alive until the next task takes it in finish_task_switch, after the
    // asm below has saved into it; next_sp is a stack pointer saved by
    // __switch_to_asm or prepared by copy_thread, on a kernel stack that
    // stays allocated while its task can run.
    unsafe { __switch_to_asm(sp, next_sp) }
}

/// The task we switched away from (for finish_task_switch).
pub fn take_last() -> Option<Arc<TaskStruct>> {
    LAST[smp_processor_id()].lock().take()
}

/// What a new kernel thread runs (the kernel_thread function with its argument).
pub type ThreadFn = alloc::boxed::Box<dyn FnOnce() -> i32 + Send>;

/// Prepare a new task's kernel stack so that the first switch to it enters
/// `ret_from_fork`, which runs `f` (then do_exit with its result).
/// Returns the initial thread.sp.
pub fn copy_thread(regs_addr: u64, f: ThreadFn) -> u64 {
    // A thin pointer fits one register: box the (fat) closure box.
    let raw = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(f)) as u64;
    // Frame popped by __switch_to_asm: r15 r14 r13 r12 rbx rbp, then the
    // return address; placed below the pt_regs area every kernel stack
    // reserves at its top (user registers go there: start_thread, entry),
    // so that rsp is 16-byte aligned after the ret.
    let sp = regs_addr - 16 - 7 * 8;
    let frame: [u64; 7] = [0, 0, 0, 0, raw, 0, ret_from_fork as *const () as u64];
    // SAFETY: [sp, sp + 56) lies inside the new task's freshly allocated
    // kernel stack, which no one else uses yet.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut u64, 7) };
    sp
}

/// The per-task parts of a switch that live in CPU state: the kernel stack
/// the entry code uses (Linux: TSS.sp0 / cpu_current_top_of_stack), the
/// user TLS base (FS), and the address space (switch_mm). Kernel threads
/// keep the previous address space loaded (lazy TLB, as Linux's active_mm);
/// its kernel half is the same everywhere, and ACTIVE_MM keeps it alive.
pub fn switch_mm_and_tls(prev: &TaskStruct, next: &TaskStruct) {
    let pc = super::percpu::this_cpu();
    pc.kernel_stack_top.store(next.stack.top(), Relaxed);
    let prev_fs = prev.thread.fsbase.load(Relaxed);
    let next_fs = next.thread.fsbase.load(Relaxed);
    if prev_fs != next_fs {
        // SAFETY: FS_BASE only affects fs-relative accesses, which only user
        // code (TLS) makes.
        unsafe { super::processor::wrmsr(super::processor::MSR_FS_BASE, next_fs) };
    }
    if let Some(mm) = next.mm.lock_irqsave().clone() {
        activate_mm(mm);
    }
}

/// mm loaded in each CPU's CR3 (other than init_mm), kept alive while loaded.
static ACTIVE_MM: [crate::sync::SpinLock<Option<Arc<crate::mm::mmap::MmStruct>>>; NR_CPUS] =
    [const { crate::sync::SpinLock::new("active_mm", None) }; NR_CPUS];

/// PGD of the user mm in each CPU's CR3, 0 for init_mm (Linux's
/// `cpu_tlbstate.loaded_mm`). A CPU lazily keeping an mm under a kernel
/// thread still counts: its TLB may hold the mm's entries.
static LOADED_MM: [AtomicU64; NR_CPUS] = [const { AtomicU64::new(0) }; NR_CPUS];

/// `mm_cpumask`: the CPUs whose TLB may hold entries of the address space
/// rooted at `pgd` (bit n = CPU n).
pub fn mm_cpumask(pgd: u64) -> u64 {
    let mut mask = 0;
    for (cpu, m) in LOADED_MM.iter().enumerate() {
        if m.load(SeqCst) == pgd {
            mask |= 1 << cpu;
        }
    }
    mask
}

/// `switch_mm`: load `mm` on this CPU (and keep it alive while loaded).
pub fn activate_mm(mm: Arc<crate::mm::mmap::MmStruct>) {
    let cpu = smp_processor_id();
    let mut slot = ACTIVE_MM[cpu].lock_irqsave();
    if slot.as_ref().is_some_and(|a| Arc::ptr_eq(a, &mm)) {
        return;
    }
    // Published before CR3 changes, so a TLB shootdown that misses this
    // CPU happened before our CR3 write, which flushes everything anyway.
    LOADED_MM[cpu].store(mm.pgd_phys(), SeqCst);
    // SAFETY: an mm's PGD shares the kernel half with init_mm, so the
    // running kernel stays mapped; the old mm is released only after CR3
    // no longer points at it.
    unsafe { super::processor::write_cr3(mm.pgd_phys()) };
    let old = slot.replace(mm);
    drop(slot);
    drop(old);
}

/// Load init_mm (before freeing the mm this CPU has loaded).
pub fn activate_init_mm() {
    let cpu = smp_processor_id();
    let mut slot = ACTIVE_MM[cpu].lock_irqsave();
    // SAFETY: init_mm maps the whole kernel.
    unsafe { super::processor::write_cr3(crate::mm::pgtable::init_mm_pgd()) };
    LOADED_MM[cpu].store(0, SeqCst);
    let old = slot.take();
    drop(slot);
    drop(old);
}

/// `start_thread`: make the current task enter user mode at `ip` with
/// stack `sp` when it next returns to user mode (a kernel thread returns
/// from its function; a process returns from execve).
pub fn start_thread(ip: u64, sp: u64) {
    let cur = crate::kernel::task::current();
    let regs = cur.pt_regs_addr() as *mut PtRegs;
    let fresh = PtRegs { rip: ip, cs: 0x33, rflags: 0x202, rsp: sp, ss: 0x2b, ..PtRegs::default() };
    // SAFETY: task_pt_regs is the top 176 bytes of the current task's own
    // kernel stack, reserved for the user register frame; nothing else
    // lives there while the task is in the kernel on a deeper frame.
    unsafe { regs.write(fresh) };
    cur.thread.fsbase.store(0, Relaxed);
    // SAFETY: clears the user TLS base; the kernel does not use FS.
    unsafe { super::processor::wrmsr(super::processor::MSR_FS_BASE, 0) };
}

/// A task's saved FPU image (fxsave format, 16-byte aligned).
#[repr(C, align(16))]
pub struct FpuState(core::cell::UnsafeCell<[u8; 512]>);

// SAFETY: only switch_fpu touches the image: on the CPU switching the task
// out (save) or in (restore), while no other CPU runs that task.
unsafe impl Sync for FpuState {}

impl FpuState {
    /// The clean state a new program starts with (fpu__init_state).
    pub fn new() -> FpuState {
        FpuState(core::cell::UnsafeCell::new(super::uaccess::init_fpstate.0))
    }
}

/// `switch_fpu_prepare` / `switch_fpu_finish`: entries save only what the
/// kernel's SSE code changes (entry_64.S SAVE_SSE), so the x87/MMX
/// registers still hold the last user task's values; they move with the
/// task here. Kernel threads never touch them and are skipped.
pub fn switch_fpu(prev: &TaskStruct, next: &TaskStruct) {
    if core::ptr::eq(prev, next) {
        return;
    }
    if !prev.is_kthread() {
        // SAFETY: prev is switching out on this CPU: its image is ours to
        // write; the buffer is 16-byte aligned as fxsave requires.
        unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) prev.thread.fpu.0.get(), options(nostack)) };
    }
    if !next.is_kthread() {
        // SAFETY: next is not running anywhere (it is being switched in
        // here); its image was written by fxsave or is init_fpstate, so
        // fxrstor cannot fault. The SSE registers it also loads are
        // caller-saved, so no Rust code holds values in them across this
        // call; MXCSR becomes next's, the one it ran the kernel with.
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) next.thread.fpu.0.get(), options(nostack)) };
    }
}

/// After a successful execve system call: the syscall exit path restores
/// the SSE state saved on entry, just below task_pt_regs; replace it with
/// the clean initial state (Linux: fpu__clear on exec).
pub fn reset_user_fpu_on_exec() {
    let cur = crate::kernel::task::current();
    let area = (cur.pt_regs_addr() - 512) as *mut super::uaccess::FxState;
    // SAFETY: in a system call, entry_SYSCALL_64 saved the user SSE state in
    // the 512 bytes below task_pt_regs on this task's own stack, and
    // restores it from there on the way out.
    unsafe { area.write(super::uaccess::FxState(super::uaccess::init_fpstate.0)) };
    // The x87 registers are live (not in that area): reset them too.
    // SAFETY: fninit only resets the x87 unit, which the kernel never uses.
    unsafe { core::arch::asm!("fninit", options(nostack, nomem)) };
}

pub const ARCH_SET_GS: u64 = 0x1001;
pub const ARCH_SET_FS: u64 = 0x1002;
pub const ARCH_GET_FS: u64 = 0x1003;
pub const ARCH_GET_GS: u64 = 0x1004;

/// `sys_arch_prctl` (arch/x86/kernel/process_64.c): the TLS base.
pub fn sys_arch_prctl(code: u64, addr: u64) -> crate::kernel::errno::KResult<u64> {
    use crate::kernel::errno::{EINVAL, EPERM};
    let cur = crate::kernel::task::current();
    match code {
        ARCH_SET_FS => {
            if addr >= super::uaccess::TASK_SIZE_MAX {
                return Err(EPERM);
            }
            cur.thread.fsbase.store(addr, Relaxed);
            // SAFETY: sets the user TLS base to a user address.
            unsafe { super::processor::wrmsr(super::processor::MSR_FS_BASE, addr) };
            Ok(0)
        }
        ARCH_GET_FS => {
            super::uaccess::put_user_u64(addr, cur.thread.fsbase.load(Relaxed))?;
            Ok(0)
        }
        // The user GS base would need saving and swapgs care: not yet.
        ARCH_SET_GS | ARCH_GET_GS => Err(EINVAL),
        _ => Err(EINVAL),
    }
}

/// `copy_thread` for a user fork: the child's first switch enters
/// ret_from_fork with no thread function, which returns to user mode with
/// `regs` (the parent's registers, fork's return value 0 in rax, and the
/// new stack if `newsp`).
pub fn copy_thread_user(child: &TaskStruct, regs: &PtRegs, newsp: u64) -> u64 {
    let mut r = *regs;
    r.rax = 0;
    if newsp != 0 {
        r.rsp = newsp;
    }
    let dst = child.pt_regs_addr() as *mut PtRegs;
    // SAFETY: the child's kernel stack is new and unused; its top 176 bytes
    // are the pt_regs area.
    unsafe { dst.write(r) };
    let sp = child.pt_regs_addr() - 16 - 7 * 8;
    let frame: [u64; 7] = [0, 0, 0, 0, 0, 0, ret_from_fork as *const () as u64];
    // SAFETY: [sp, sp + 56) lies in the child's new stack, below pt_regs.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut u64, 7) };
    sp
}

/// First Rust code of a new kernel thread, after schedule_tail.
#[no_mangle]
extern "C" fn ret_from_fork_kthread(f: usize, _unused: usize) {
    // The box must be gone before do_exit: nothing on this frame is ever
    // dropped once do_exit has been called (it does not return).
    let ret = {
        // SAFETY: copy_thread put exactly one Box<ThreadFn> into rbx with
        // Box::into_raw, and a task starts only once, so it is reclaimed once.
        let f: alloc::boxed::Box<ThreadFn> = unsafe { alloc::boxed::Box::from_raw(f as *mut ThreadFn) };
        (*f)()
    };
    // A kernel thread that exec'd a program returns here and goes on to
    // user mode (Linux's ret_from_fork does the same after kernel_execve).
    if crate::kernel::task::current().mm.lock_irqsave().is_some() {
        return;
    }
    crate::kernel::exit::do_exit(ret)
}
