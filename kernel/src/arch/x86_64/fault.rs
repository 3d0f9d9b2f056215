//! Page faults (mirrors arch/x86/mm/fault.c). A kernel-mode fault has no
//! fixup yet (the exception table for user copies comes with user space), so
//! it is reported as Linux does, `BUG: kernel NULL pointer dereference` or
//! `BUG: unable to handle page fault`, then the oops.
//!
//! As Linux, the handler re-enables interrupts when the faulting context had
//! them on: resolving a fault may wait for a TLB shootdown on other CPUs.

use super::processor::read_cr2;
use super::ptregs::PtRegs;

const X86_PF_PROT: u64 = 1 << 0;
const X86_PF_WRITE: u64 = 1 << 1;
const X86_PF_USER: u64 = 1 << 2;
const X86_PF_RSVD: u64 = 1 << 3;
const X86_PF_INSTR: u64 = 1 << 4;
const X86_PF_PK: u64 = 1 << 5;

pub fn do_page_fault(regs: &mut PtRegs) {
    let address = read_cr2();
    let err = regs.error_code;
    // As Linux: with CR2 read, run the fault with interrupts on if the
    // faulting context had them, so a TLB shootdown from here (do_wp_page)
    // can wait for other CPUs, and they for us.
    let irqs = regs.rflags & super::processor::X86_EFLAGS_IF != 0;
    if irqs {
        super::processor::local_irq_enable();
    }
    let handled = user_address_fault(regs, err, address);
    if irqs {
        super::processor::local_irq_disable();
    }
    if !handled {
        no_context(regs, err, address);
    }
}

/// The fault at a user address: resolved (true), turned into SIGSEGV for
/// user mode or fixed up for a user copy (true), or not (false: oops).
fn user_address_fault(regs: &mut PtRegs, err: u64, address: u64) -> bool {
    if address < super::uaccess::TASK_SIZE_MAX {
        // A futex word accessor runs under a spinlock (pagefault_disable):
        // never resolve its fault here, just fail it.
        if !regs.user_mode() && super::uaccess::fault_in_nofault_access(regs.rip) {
            return super::uaccess::fixup_exception(regs);
        }
        // A user address, touched by user code or by a user copy.
        if let Some(cur) = super::current::try_current() {
            let mm = cur.mm.lock_irqsave().clone();
            if let Some(mm) = mm {
                let user_rsp = if regs.user_mode() { regs.rsp } else { 0 };
                if mm.handle_mm_fault(address, err & X86_PF_WRITE != 0, err & X86_PF_INSTR != 0, user_rsp).is_ok() {
                    return true;
                }
            }
            if regs.user_mode() {
                drop(cur);
                bad_area(regs, err, address);
                return true;
            }
        }
        if super::uaccess::fixup_exception(regs) {
            return true;
        }
    }
    false
}

/// `__bad_area_nosemaphore` for user mode: Linux logs the fault
/// (show_signal_msg) and delivers SIGSEGV, which a handler may catch; by
/// default the process dies of it.
fn bad_area(regs: &PtRegs, err: u64, address: u64) {
    let (pid, comm) = crate::kernel::panic::current_pid_comm();
    pr_info!(
        "{}[{}]: segfault at {:x} ip {:016x} sp {:016x} error {:x}",
        comm.as_str(),
        pid,
        address,
        regs.rip,
        regs.rsp,
        err
    );
    // force_sig_fault: SEGV_MAPERR (1) for a missing page, SEGV_ACCERR (2)
    // for a protection fault; delivered on the way back to user mode.
    let code = if err & X86_PF_PROT != 0 { 2 } else { 1 };
    crate::kernel::signal::force_sig_fault(crate::kernel::signal::SIGSEGV, code, address);
}

fn no_context(regs: &PtRegs, err: u64, address: u64) -> ! {
    super::traps::oops_begin();
    show_fault_oops(regs, err, address);
    super::traps::die("Oops", regs, err)
}

fn show_fault_oops(regs: &PtRegs, err: u64, address: u64) {
    if address < 4096 && !regs.user_mode() {
        pr_emerg!("BUG: kernel NULL pointer dereference, address: {:016x}", address);
    } else {
        pr_emerg!("BUG: unable to handle page fault for address: {:016x}", address);
    }
    pr_emerg!(
        "#PF: {} {} in {} mode",
        if err & X86_PF_USER != 0 { "user" } else { "supervisor" },
        if err & X86_PF_INSTR != 0 {
            "instruction fetch"
        } else if err & X86_PF_WRITE != 0 {
            "write access"
        } else {
            "read access"
        },
        if regs.user_mode() { "user" } else { "kernel" }
    );
    pr_emerg!(
        "#PF: error_code(0x{:04x}) - {}",
        err,
        if err & X86_PF_PROT == 0 {
            "not-present page"
        } else if err & X86_PF_RSVD != 0 {
            "reserved bit violation"
        } else if err & X86_PF_PK != 0 {
            "protection keys violation"
        } else {
            "permissions violation"
        }
    );
    crate::mm::pgtable::dump_pagetable(address);
}
