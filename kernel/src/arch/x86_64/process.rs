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
use core::sync::atomic::AtomicU64;

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
    movq %rbx, %rdi
    movq %r12, %rsi
    call ret_from_fork_kthread
    ud2
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
pub fn copy_thread(stack_top: u64, f: ThreadFn) -> u64 {
    // A thin pointer fits one register: box the (fat) closure box.
    let raw = alloc::boxed::Box::into_raw(alloc::boxed::Box::new(f)) as u64;
    // Frame popped by __switch_to_asm: r15 r14 r13 r12 rbx rbp, then the
    // return address; placed so rsp is 16-byte aligned after the ret.
    let sp = stack_top - 16 - 7 * 8;
    let frame: [u64; 7] = [0, 0, 0, 0, raw, 0, ret_from_fork as *const () as u64];
    // SAFETY: [sp, sp + 56) lies inside the new task's freshly allocated
    // kernel stack, which no one else uses yet.
    unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut u64, 7) };
    sp
}

/// First Rust code of a new kernel thread, after schedule_tail.
#[no_mangle]
extern "C" fn ret_from_fork_kthread(f: usize, _unused: usize) -> ! {
    // The box must be gone before do_exit: nothing on this frame is ever
    // dropped once do_exit has been called (it does not return).
    let ret = {
        // SAFETY: copy_thread put exactly one Box<ThreadFn> into rbx with
        // Box::into_raw, and a task starts only once, so it is reclaimed once.
        let f: alloc::boxed::Box<ThreadFn> = unsafe { alloc::boxed::Box::from_raw(f as *mut ThreadFn) };
        (*f)()
    };
    crate::kernel::exit::do_exit(ret)
}
