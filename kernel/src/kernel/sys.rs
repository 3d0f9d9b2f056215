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
