//! System call entry and dispatch (mirrors arch/x86/kernel/cpu/common.c
//! `syscall_init`, arch/x86/entry/common.c `do_syscall_64` and
//! syscall_64.c's sys_call_table). Linux's x86_64 numbers and calling
//! convention: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9,
//! result (or -errno) in rax.
//!
//! An unknown system call returns -ENOSYS and is logged once per number,
//! by name (`sys_foo: not implemented (syscall 123), returning -ENOSYS`).

use super::processor::{wrmsr, MSR_EFER};
use super::ptregs::PtRegs;
use super::syscall_names::syscall_name;
use crate::kernel::errno::{KResult, ENOSYS};
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_SYSCALL_MASK: u32 = 0xc000_0084;

extern "C" {
    fn entry_SYSCALL_64();
}

/// `syscall_init`: per CPU. SYSCALL loads CS=0x10/SS=0x18; SYSRET loads
/// CS=0x23+16=0x33, SS=0x23+8=0x2b (Linux's __USER32_CS base).
pub fn syscall_init() {
    let star = (0x23u64 << 48) | (0x10u64 << 32);
    // SAFETY: architectural MSRs set to Linux's values; the entry point is
    // entry_SYSCALL_64, which expects exactly this GDT layout.
    unsafe {
        wrmsr(MSR_STAR, star);
        wrmsr(MSR_LSTAR, entry_SYSCALL_64 as *const () as u64);
        // TF, DF, IF, IOPL, AC, NT cleared on entry (X86_EFLAGS_* in Linux).
        wrmsr(MSR_SYSCALL_MASK, 0x100 | 0x400 | 0x200 | 0x3000 | 0x40000 | 0x4000);
        wrmsr(MSR_EFER, super::processor::rdmsr(MSR_EFER) | 1);
    }
}

/// One bit per syscall number already reported as ENOSYS.
static ENOSYS_REPORTED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

fn sys_ni_syscall(nr: u64) -> KResult<u64> {
    let (w, b) = ((nr / 64) as usize, nr % 64);
    let first = match ENOSYS_REPORTED.get(w) {
        Some(word) => word.fetch_or(1 << b, Relaxed) & (1 << b) == 0,
        None => true,
    };
    if first {
        let (pid, comm) = crate::kernel::panic::current_pid_comm();
        match syscall_name(nr) {
            Some(name) => pr_warn!("{}[{}]: sys_{}: not implemented (syscall {}), returning -ENOSYS", comm.as_str(), pid, name, nr),
            None => pr_warn!("{}[{}]: unknown syscall {}, returning -ENOSYS", comm.as_str(), pid, nr),
        }
    }
    Err(ENOSYS)
}

/// Called by entry_SYSCALL_64 with interrupts on.
#[no_mangle]
extern "C" fn do_syscall_64(regs: &mut PtRegs) {
    let nr = regs.vector;
    let a = [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9];
    let ret = crate::kernel::syscalls::dispatch(nr, a, regs).unwrap_or_else(|| sys_ni_syscall(nr));
    regs.rax = match ret {
        Ok(v) => v,
        Err(e) => (-(e.0 as i64)) as u64,
    };
    check_preempt_count_on_return(nr);
    crate::kernel::sched::exit_to_usermode_loop(regs, super::signal::syscall_may_restart(nr));
}

/// A system call must give back every preempt_disable() and lock it took.
/// Catch a leak where it happens (Linux reports the same at do_exit:
/// "exited with preempt_count"), then repair the count so one bug does not
/// cascade into "scheduling while atomic" reports on every later sleep.
#[inline]
fn check_preempt_count_on_return(nr: u64) {
    let pc = super::percpu::preempt_count();
    if pc != 0 {
        let (pid, comm) = crate::kernel::panic::current_pid_comm();
        pr_err!("BUG: {}[{}]: sys_{} returned with preempt_count {:#x} on CPU {}",
                comm.as_str(), pid, syscall_name(nr).unwrap_or("?"), pc, super::percpu::smp_processor_id());
        super::percpu::preempt_count_sub(pc);
    }
}
