//! CPU exceptions (mirrors arch/x86/kernel/traps.c and dumpstack.c's
//! die/oops_begin/oops_end/__show_regs).
//!
//! A kernel-mode exception is an oops: `<what>: <error> [#N] SMP`, the
//! registers, the code bytes around RIP and a symbolized call trace. Linux
//! then kills the current task; with no tasks yet every context here is the
//! boot/idle context, so (like Linux's do_exit for pid 0) that ends in
//! `Attempted to kill the idle task!`, or `Fatal exception in interrupt`
//! when the oops hit an interrupt handler. User-mode exceptions become
//! signals once user space exists (issue 4).

use super::percpu::{in_interrupt, smp_processor_id};
use super::processor::{local_irq_disable, read_cr0, read_cr2, read_cr3, read_cr4, rdmsr, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE};
use super::ptregs::PtRegs;
use crate::kernel::panic::{panic, print_cpu_line, BufWriter};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::*};

static DIE_COUNTER: AtomicU32 = AtomicU32::new(0);
/// CPU holding the die lock (-1: free). Oopses on several CPUs at once are
/// printed one after the other (Linux: die_lock in oops_begin); the owner
/// may oops again inside its own oops, so re-entry on the same CPU is allowed.
static DIE_OWNER: AtomicI32 = AtomicI32::new(-1);

pub fn oops_begin() {
    local_irq_disable();
    let me = smp_processor_id() as i32;
    loop {
        match DIE_OWNER.compare_exchange(-1, me, Acquire, Relaxed) {
            Ok(_) => break,
            Err(owner) if owner == me => break,
            Err(_) => core::hint::spin_loop(),
        }
    }
    crate::kernel::printk::bust_spinlocks();
    crate::kernel::panic::note_oops();
}
/// Set while `smp_send_stop` parks the other CPUs via NMI.
pub static STOPPING_CPUS: AtomicBool = AtomicBool::new(false);

pub fn do_trap(regs: &mut PtRegs) {
    let err = regs.error_code;
    match regs.vector {
        0 => die("divide error", regs, err),
        1 => die("debug", regs, err),
        2 => do_nmi(regs),
        3 => die("int3", regs, err),
        4 => die("overflow", regs, err),
        5 => die("bounds", regs, err),
        6 => die("invalid opcode", regs, err),
        7 => die("device not available", regs, err),
        8 => do_double_fault(regs),
        9 => die("coprocessor segment overrun", regs, err),
        10 => die("invalid TSS", regs, err),
        11 => die("segment not present", regs, err),
        12 => die("stack segment", regs, err),
        13 => die("general protection fault", regs, err),
        14 => super::fault::do_page_fault(regs),
        16 => die("coprocessor error", regs, err),
        17 => die("alignment check", regs, err),
        18 => {
            oops_begin();
            print_cpu_line();
            panic(format_args!("CPU {}: Machine Check Exception", smp_processor_id()))
        }
        19 => die("simd exception", regs, err),
        20 => die("virtualization exception", regs, err),
        21 => die("control protection fault", regs, err),
        v => die(if v == 15 { "spurious interrupt bug" } else { "reserved exception" }, regs, err),
    }
}

fn do_nmi(regs: &PtRegs) {
    if STOPPING_CPUS.load(Relaxed) {
        super::apic::stop_this_cpu();
    }
    // Linux: unknown_nmi_error()
    let _ = regs;
    pr_emerg!("Uhhuh. NMI received for unknown reason 00 on CPU {}.", smp_processor_id());
    pr_emerg!("Do you have a strange power saving mode enabled?");
    pr_emerg!("Dazed and confused, but trying to continue");
}

fn do_double_fault(regs: &PtRegs) -> ! {
    oops_begin();
    pr_emerg!("double fault: {:04x} [#{}] SMP", regs.error_code & 0xffff, DIE_COUNTER.fetch_add(1, Relaxed) + 1);
    show_regs(regs);
    panic(format_args!("Machine halted."))
}

/// `die()`: print the oops and end the current context.
pub fn die(what: &str, regs: &PtRegs, err: u64) -> ! {
    oops_begin();
    let n = DIE_COUNTER.fetch_add(1, Relaxed) + 1;
    pr_emerg!("{}: {:04x} [#{}] SMP", what, err & 0xffff, n);
    show_regs(regs);
    pr_emerg!("Modules linked in:");
    // notify_die(DIE_OOPS): ftrace_dump_on_oops dumps the trace here.
    crate::kernel::trace::trace_die_handler();
    pr_emerg!("---[ end trace 0000000000000000 ]---");
    oops_end()
}

fn oops_end() -> ! {
    if in_interrupt() {
        panic(format_args!("Fatal exception in interrupt"));
    }
    DIE_OWNER.store(-1, Release);
    // make_task_dead(SIGSEGV): the task dies; do_exit panics for pid 0
    // (the idle task) and pid 1 (init), as on Linux.
    crate::kernel::exit::do_exit(11)
}

/// `__show_regs` in Linux's layout.
pub fn show_regs(regs: &PtRegs) {
    print_cpu_line();
    let mut sym = BufWriter::<160>::new();
    super::dumpstack::format_symbol(&mut sym, regs.rip, false);
    pr_emerg!("RIP: {:04x}:{}", regs.cs, sym.as_str());
    show_code(regs.rip);
    pr_emerg!("RSP: {:04x}:{:016x} EFLAGS: {:08x}", regs.ss, regs.rsp, regs.rflags);
    pr_emerg!("RAX: {:016x} RBX: {:016x} RCX: {:016x}", regs.rax, regs.rbx, regs.rcx);
    pr_emerg!("RDX: {:016x} RSI: {:016x} RDI: {:016x}", regs.rdx, regs.rsi, regs.rdi);
    pr_emerg!("RBP: {:016x} R08: {:016x} R09: {:016x}", regs.rbp, regs.r8, regs.r9);
    pr_emerg!("R10: {:016x} R11: {:016x} R12: {:016x}", regs.r10, regs.r11, regs.r12);
    pr_emerg!("R13: {:016x} R14: {:016x} R15: {:016x}", regs.r13, regs.r14, regs.r15);
    pr_emerg!(
        "FS:  {:016x}(0000) GS:{:016x}(0000) knlGS:{:016x}",
        rdmsr(MSR_FS_BASE),
        rdmsr(MSR_GS_BASE),
        rdmsr(MSR_KERNEL_GS_BASE)
    );
    pr_emerg!("CS:  {:04x} DS: 0000 ES: 0000 CR0: {:016x}", regs.cs, read_cr0());
    pr_emerg!("CR2: {:016x} CR3: {:016x} CR4: {:016x}", read_cr2(), read_cr3(), read_cr4());
    if !regs.user_mode() {
        super::dumpstack::show_trace(regs.rbp);
    }
}

/// `Code: ...` with the faulting byte in <>, as show_opcodes() (42 bytes
/// before RIP, 22 from it), only when RIP is inside kernel text.
fn show_code(rip: u64) {
    let Some(bytes) = super::dumpstack::kernel_text_bytes(rip.wrapping_sub(42), 64) else {
        pr_emerg!("Code: Unable to access opcode bytes at 0x{:x}.", rip.wrapping_sub(42));
        return;
    };
    let mut line = BufWriter::<256>::new();
    let _ = line.write_str("Code:");
    for (i, b) in bytes.iter().enumerate() {
        let _ = if i == 42 { write!(line, " <{:02x}>", b) } else { write!(line, " {:02x}", b) };
    }
    pr_emerg!("{}", line.as_str());
}
