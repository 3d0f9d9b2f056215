//! The idle class and the idle loop (mirrors kernel/sched/idle.c).
//! Each CPU's idle task (pid 0, swapper/N) is never queued; it runs when
//! every other class is empty, halting the CPU until an interrupt brings
//! work.

use super::core::{need_resched, schedule_idle, Rq};
use crate::arch::processor::{local_irq_disable, local_irq_enable, safe_halt};
use crate::kernel::task::TaskStruct;
use alloc::sync::Arc;

pub fn pick_next_task_idle(rq: &mut Rq) -> Arc<TaskStruct> {
    rq.idle.clone().expect("runqueue without an idle task")
}

/// `do_idle`: halt until there is something to run, then schedule. The
/// idle task runs with preemption disabled, as in Linux, so an interrupt
/// that sets need_resched only ends the `hlt`, and the switch happens here
/// (a voluntary one: traces show `prev_state=R`, not `R+`).
fn do_idle() {
    loop {
        local_irq_disable();
        if need_resched() {
            local_irq_enable();
            break;
        }
        // sti;hlt: an interrupt that sets need_resched cannot slip in between.
        safe_halt();
    }
    schedule_idle();
}

/// `cpu_startup_entry`: where every CPU's idle task spends its life.
/// Called with preemption disabled (rest_init, start_secondary).
pub fn cpu_startup_entry() -> ! {
    local_irq_enable();
    loop {
        do_idle();
    }
}
