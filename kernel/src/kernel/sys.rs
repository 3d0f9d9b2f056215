//! Small process-information system calls (mirrors kernel/sys.c and the
//! pid getters in kernel/timer.c / kernel/fork.c).

use crate::arch::uaccess::copy_to_user;
use crate::kernel::errno::KResult;
use crate::kernel::task::current;
use core::sync::atomic::Ordering::Relaxed;

/// `sys_getpid`: the thread group id.
pub fn sys_getpid() -> KResult<u64> {
    Ok(current().tgid as u64)
}

/// `sys_gettid`.
pub fn sys_gettid() -> KResult<u64> {
    Ok(current().pid as u64)
}

/// `sys_getppid`: the real parent's tgid (0 for children of the idle task).
pub fn sys_getppid() -> KResult<u64> {
    Ok(current().real_parent.lock_irqsave().upgrade().map_or(0, |p| p.tgid as u64))
}

/// `sys_set_tid_address`: remember where to clear the tid at exit.
pub fn sys_set_tid_address(tidptr: u64) -> KResult<u64> {
    let cur = current();
    cur.clear_child_tid.store(tidptr, Relaxed);
    Ok(cur.pid as u64)
}

/// What `uname` reports. Programs check the release, so it looks like
/// Linux 6.1 (the kernel Tine's behaviour is checked against).
pub const UTS_SYSNAME: &str = "Linux";
pub const UTS_NODENAME: &str = "tine";
pub const UTS_RELEASE: &str = "6.1.0-tine";
pub const UTS_MACHINE: &str = "x86_64";

/// `sys_newuname`: struct new_utsname, six 65-byte fields.
pub fn sys_newuname(buf: u64) -> KResult<u64> {
    let version = alloc::format!("#1 SMP Tine {}", crate::kernel::panic::TINE_VERSION);
    let mut u = [0u8; 6 * 65];
    for (i, f) in [UTS_SYSNAME, UTS_NODENAME, UTS_RELEASE, version.as_str(), UTS_MACHINE, "(none)"].iter().enumerate() {
        let n = f.len().min(64);
        u[i * 65..i * 65 + n].copy_from_slice(&f.as_bytes()[..n]);
    }
    copy_to_user(buf, &u)?;
    Ok(0)
}

pub const CLOCK_REALTIME: u64 = 0;
pub const CLOCK_MONOTONIC: u64 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
pub const CLOCK_MONOTONIC_RAW: u64 = 4;
pub const CLOCK_BOOTTIME: u64 = 7;

fn put_timespec(addr: u64, ns: u64) -> KResult<()> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    copy_to_user(addr, &b)
}

/// `sys_clock_gettime`. Tine reads no real-time clock yet, so
/// CLOCK_REALTIME counts from boot, like the monotonic clocks.
pub fn sys_clock_gettime(clk: u64, tp: u64) -> KResult<u64> {
    let ns = match clk {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_BOOTTIME => crate::kernel::time::ktime_get_ns(),
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => current().se.sum_exec_runtime.load(Relaxed),
        _ => return Err(crate::kernel::errno::EINVAL),
    };
    put_timespec(tp, ns)?;
    Ok(0)
}

/// `sys_nanosleep`: at least the requested time, in jiffies.
pub fn sys_nanosleep(req: u64, rem: u64) -> KResult<u64> {
    let sec = crate::arch::uaccess::get_user_u64(req)?;
    let nsec = crate::arch::uaccess::get_user_u64(req + 8)?;
    if nsec >= 1_000_000_000 || (sec as i64) < 0 {
        return Err(crate::kernel::errno::EINVAL);
    }
    let ns = sec.saturating_mul(1_000_000_000).saturating_add(nsec);
    let hz = crate::kernel::time::hz() as u64;
    let mut left = (ns as u128 * hz as u128).div_ceil(1_000_000_000) as u64 + 1;
    while left > 0 {
        left = crate::kernel::time::timer::schedule_timeout_interruptible(left);
        if left > 0 && crate::kernel::signal::signal_pending(&current()) {
            if rem != 0 {
                put_timespec(rem, left * 1_000_000_000 / hz)?;
            }
            return Err(crate::kernel::errno::EINTR);
        }
    }
    if rem != 0 {
        put_timespec(rem, 0)?;
    }
    Ok(0)
}

/// `sys_sched_yield`.
pub fn sys_sched_yield() -> KResult<u64> {
    crate::kernel::sched::yield_now();
    Ok(0)
}

/// `sys_getrandom`: xorshift over the TSC. Tine has no entropy pool yet;
/// good enough for hash seeds and canaries in a teaching kernel, not for
/// keys (said here so nobody relies on it).
pub fn sys_getrandom(buf: u64, len: u64, _flags: u64) -> KResult<u64> {
    let len = len.min(256 * 1024) as usize;
    let mut x = crate::arch::processor::rdtsc() | 1;
    let mut out = alloc::vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = chunk.len();
        chunk.copy_from_slice(&x.to_le_bytes()[..n]);
    }
    copy_to_user(buf, &out)?;
    Ok(len as u64)
}

pub const LINUX_REBOOT_MAGIC1: u64 = 0xfee1_dead;
pub const LINUX_REBOOT_MAGIC2: u64 = 672_274_793;
pub const LINUX_REBOOT_MAGIC2A: u64 = 85_072_278;
pub const LINUX_REBOOT_MAGIC2B: u64 = 369_367_448;
pub const LINUX_REBOOT_MAGIC2C: u64 = 537_993_216;
pub const LINUX_REBOOT_CMD_RESTART: u64 = 0x0123_4567;
pub const LINUX_REBOOT_CMD_HALT: u64 = 0xcdef_0123;
pub const LINUX_REBOOT_CMD_POWER_OFF: u64 = 0x4321_fedc;
pub const LINUX_REBOOT_CMD_CAD_ON: u64 = 0x89ab_cdef;
pub const LINUX_REBOOT_CMD_CAD_OFF: u64 = 0;

/// `sys_reboot` (kernel/reboot.c): with Linux's magic numbers, restart,
/// halt or power off the machine (`poweroff -f` ends QEMU).
pub fn sys_reboot(magic1: u64, magic2: u64, cmd: u64, _arg: u64) -> KResult<u64> {
    use crate::kernel::errno::EINVAL;
    let magic2_ok = matches!(magic2 as u32 as u64, LINUX_REBOOT_MAGIC2 | LINUX_REBOOT_MAGIC2A | LINUX_REBOOT_MAGIC2B | LINUX_REBOOT_MAGIC2C);
    if magic1 as u32 as u64 != LINUX_REBOOT_MAGIC1 || !magic2_ok {
        return Err(EINVAL);
    }
    match cmd as u32 as u64 {
        LINUX_REBOOT_CMD_RESTART => {
            pr_emerg!("reboot: Restarting system");
            crate::arch::reboot::emergency_restart()
        }
        LINUX_REBOOT_CMD_HALT => {
            pr_emerg!("reboot: System halted");
            crate::arch::processor::local_irq_disable();
            loop {
                crate::arch::processor::halt();
            }
        }
        LINUX_REBOOT_CMD_POWER_OFF => {
            pr_emerg!("reboot: Power down");
            crate::arch::reboot::machine_power_off()
        }
        LINUX_REBOOT_CMD_CAD_ON | LINUX_REBOOT_CMD_CAD_OFF => Ok(0),
        _ => Err(EINVAL),
    }
}
