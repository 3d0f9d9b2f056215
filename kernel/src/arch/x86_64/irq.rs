//! Interrupt dispatch (mirrors arch/x86/kernel/irq.c and
//! arch/x86/include/asm/irq_vectors.h). Vectors 0-31 are CPU exceptions;
//! the local APIC's vectors sit at the top as in Linux. There are no device
//! interrupts yet (the console is polled), so no IOAPIC routing.

use super::ptregs::PtRegs;
use super::percpu::{preempt_count_add, preempt_count_sub, HARDIRQ_OFFSET};

pub const LOCAL_TIMER_VECTOR: u64 = 0xec;
pub const CALL_FUNCTION_VECTOR: u64 = 0xfc;
pub const RESCHEDULE_VECTOR: u64 = 0xfd;
pub const ERROR_APIC_VECTOR: u64 = 0xfe;
pub const SPURIOUS_APIC_VECTOR: u64 = 0xff;

/// Called by entry_64.S for every vector with the saved registers.
#[no_mangle]
extern "C" fn do_IRQ_or_exception(regs: &mut PtRegs) {
    if regs.vector < 32 {
        super::traps::do_trap(regs);
        // NMI, #DF and #MC run on their own IST stacks: never schedule there.
        if regs.user_mode() && !matches!(regs.vector, 2 | 8 | 18) {
            prepare_exit_to_usermode(regs);
        }
        return;
    }
    irq_enter();
    match regs.vector {
        LOCAL_TIMER_VECTOR => smp_apic_timer_interrupt(regs),
        RESCHEDULE_VECTOR => crate::kernel::smp::smp_reschedule_interrupt(),
        CALL_FUNCTION_VECTOR => crate::kernel::smp::smp_call_function_interrupt(),
        ERROR_APIC_VECTOR => super::apic::smp_error_interrupt(),
        SPURIOUS_APIC_VECTOR => {} // no EOI for spurious interrupts
        v => pr_warn!("do_IRQ: {}.{} No irq handler for vector", super::percpu::smp_processor_id(), v),
    }
    if regs.vector != SPURIOUS_APIC_VECTOR {
        super::apic::ack_APIC_irq();
    }
    irq_exit();
    if regs.user_mode() {
        prepare_exit_to_usermode(regs);
        return;
    }
    // Kernel preemption on the way out (CONFIG_PREEMPT's preempt_schedule_irq).
    crate::kernel::sched::irqentry_exit_cond_resched(regs.rflags & super::processor::X86_EFLAGS_IF != 0);
}

/// Back to user mode from an interrupt or exception: reschedule and act on
/// signals first (with interrupts on, as Linux's exit_to_usermode_loop).
fn prepare_exit_to_usermode(regs: &mut PtRegs) {
    super::processor::local_irq_enable();
    crate::kernel::sched::exit_to_usermode_loop(regs, false);
    super::processor::local_irq_disable();
}

fn irq_enter() {
    preempt_count_add(HARDIRQ_OFFSET);
}

fn irq_exit() {
    preempt_count_sub(HARDIRQ_OFFSET);
}

fn smp_apic_timer_interrupt(regs: &mut PtRegs) {
    crate::kernel::time::tick_periodic(regs.user_mode());
    if super::percpu::smp_processor_id() == 0 {
        crate::drivers::tty::serial::serial8250::serial8250_poll();
    }
    crate::kernel::ktest::timer_hook();
}
