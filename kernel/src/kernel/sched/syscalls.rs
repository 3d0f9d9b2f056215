//! The scheduler's system calls (mirrors kernel/sched/core.c's
//! SYSCALL_DEFINEs, kernel/sched/syscalls.c since 6.11): sched_setaffinity,
//! sched_getaffinity, sched_setscheduler, sched_setparam,
//! sched_getscheduler, sched_getparam, sched_get_priority_max/min.
//!
//! Arguments are checked in Linux's order (EINVAL for a bad pid or param
//! pointer, EFAULT, ESRCH, then the policy rules), and the work is
//! core.rs's `set_cpus_allowed_ptr` and `sched_setscheduler`. Every process
//! is root, so the CAP_SYS_NICE checks pass.
//!
//! Left out: SCHED_DEADLINE (sched_setattr), SCHED_RESET_ON_FORK (EINVAL),
//! cpusets (every online CPU is allowed).

use super::core::{sched_setscheduler, set_cpus_allowed_ptr};
use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::kernel::errno::*;
use crate::kernel::resource::find_process;
use crate::kernel::task::*;
use core::sync::atomic::Ordering::Relaxed;

/// `cpumask_size()`: one long holds every possible CPU.
const CPUMASK_SIZE: u64 = 8;

fn possible_mask() -> u64 {
    let n = crate::arch::percpu::nr_cpu_ids();
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// `sys_sched_setaffinity`: a shorter mask is zero-extended, a longer one
/// cut to cpumask_size; EINVAL if no allowed CPU is online. A task running
/// on a CPU it may no longer use is moved off it before this returns.
pub fn sys_sched_setaffinity(pid: i32, len: u64, user_mask_ptr: u64) -> KResult<u64> {
    let mut b = [0u8; 8];
    let n = len.min(CPUMASK_SIZE) as usize;
    copy_from_user(&mut b[..n], user_mask_ptr)?;
    let mask = u64::from_le_bytes(b) & possible_mask();
    let p = find_process(pid)?;
    if p.flags() & PF_NO_SETAFFINITY != 0 {
        return Err(EINVAL);
    }
    set_cpus_allowed_ptr(&p, mask).map_err(|_| EINVAL)?;
    Ok(0)
}

/// `sys_sched_getaffinity`: the allowed online CPUs; `len` must hold
/// nr_cpu_ids bits and be a multiple of a long. Returns the bytes written.
pub fn sys_sched_getaffinity(pid: i32, len: u64, user_mask_ptr: u64) -> KResult<u64> {
    if len.saturating_mul(8) < crate::arch::percpu::nr_cpu_ids() as u64 || len % 8 != 0 {
        return Err(EINVAL);
    }
    let p = find_process(pid)?;
    let mask = p.cpus_allowed.load(Relaxed) & crate::arch::percpu::cpu_online_mask();
    let n = len.min(CPUMASK_SIZE) as usize;
    copy_to_user(user_mask_ptr, &mask.to_le_bytes()[..n])?;
    Ok(n as u64)
}

/// `sched_param.sched_priority`.
fn get_param(param: u64) -> KResult<i32> {
    let mut b = [0u8; 4];
    copy_from_user(&mut b, param)?;
    Ok(i32::from_le_bytes(b))
}

/// `SETPARAM_POLICY`: sched_setparam keeps the policy.
const SETPARAM_POLICY: i32 = -1;
pub const SCHED_RESET_ON_FORK: i32 = 0x4000_0000;

/// `do_sched_setscheduler`.
fn do_sched_setscheduler(pid: i32, policy: i32, param: u64) -> KResult<u64> {
    if param == 0 || pid < 0 {
        return Err(EINVAL);
    }
    let prio = get_param(param)?;
    let p = find_process(pid)?;
    let policy = if policy == SETPARAM_POLICY { p.policy.load(Relaxed) as i32 } else { policy };
    // __sched_setscheduler's validity rules: a known policy; 1..99 for the
    // real-time ones and 0 for the others.
    let valid = match policy as u32 {
        SCHED_FIFO | SCHED_RR => (1..=99).contains(&prio),
        SCHED_NORMAL | SCHED_BATCH | SCHED_IDLE => prio == 0,
        _ => false,
    };
    // The stopper threads (migration/N) stay in their class.
    if !valid || p.class() == SchedClassId::Stop {
        return Err(EINVAL);
    }
    sched_setscheduler(&p, policy as u32, prio as u32).map_err(|_| EINVAL)?;
    Ok(0)
}

/// `sys_sched_setscheduler`.
pub fn sys_sched_setscheduler(pid: i32, policy: i32, param: u64) -> KResult<u64> {
    if policy < 0 {
        return Err(EINVAL);
    }
    do_sched_setscheduler(pid, policy, param)
}

/// `sys_sched_setparam`.
pub fn sys_sched_setparam(pid: i32, param: u64) -> KResult<u64> {
    do_sched_setscheduler(pid, SETPARAM_POLICY, param)
}

/// `sys_sched_getscheduler`.
pub fn sys_sched_getscheduler(pid: i32) -> KResult<u64> {
    if pid < 0 {
        return Err(EINVAL);
    }
    Ok(find_process(pid)?.policy.load(Relaxed) as u64)
}

/// `sys_sched_getparam`: the real-time priority (0 for the other policies).
pub fn sys_sched_getparam(pid: i32, param: u64) -> KResult<u64> {
    if param == 0 || pid < 0 {
        return Err(EINVAL);
    }
    let p = find_process(pid)?;
    let prio = match p.policy.load(Relaxed) {
        SCHED_FIFO | SCHED_RR => p.rt_priority.load(Relaxed),
        _ => 0,
    };
    copy_to_user(param, &prio.to_le_bytes())?;
    Ok(0)
}

/// `sys_sched_get_priority_max`.
pub fn sys_sched_get_priority_max(policy: i32) -> KResult<u64> {
    match policy as u32 {
        SCHED_FIFO | SCHED_RR => Ok(99),
        SCHED_NORMAL | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        _ => Err(EINVAL),
    }
}

/// `sys_sched_get_priority_min`.
pub fn sys_sched_get_priority_min(policy: i32) -> KResult<u64> {
    match policy as u32 {
        SCHED_FIFO | SCHED_RR => Ok(1),
        SCHED_NORMAL | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        _ => Err(EINVAL),
    }
}
