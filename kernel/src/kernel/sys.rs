//! Small process-information system calls (mirrors kernel/sys.c: the pid
//! getters, uname, getpriority/setpriority, times, sysinfo, reboot; the
//! rlimit and rusage parts are in resource.rs, the clocks in
//! time/posix_timers.rs).

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
    Ok(current().pid() as u64)
}

/// `sys_getppid`: the real parent's tgid (0 for children of the idle task).
pub fn sys_getppid() -> KResult<u64> {
    Ok(current().real_parent.lock_irqsave().upgrade().map_or(0, |p| p.tgid as u64))
}

/// `sys_set_tid_address`: remember where to clear the tid at exit.
pub fn sys_set_tid_address(tidptr: u64) -> KResult<u64> {
    let cur = current();
    cur.clear_child_tid.store(tidptr, Relaxed);
    Ok(cur.pid() as u64)
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

pub const PRIO_PROCESS: i32 = 0;
pub const PRIO_PGRP: i32 = 1;
pub const PRIO_USER: i32 = 2;

/// The tasks `which`/`who` name for get/setpriority: one process, or
/// (PRIO_USER) every task of a user, which with everyone root is every
/// user task for uid 0 and none for another uid. Process groups come with
/// job control: PRIO_PGRP is ENOSYS until then.
fn prio_targets(which: i32, who: i32) -> KResult<alloc::vec::Vec<alloc::sync::Arc<crate::kernel::task::TaskStruct>>> {
    match which {
        PRIO_PROCESS => Ok(alloc::vec![crate::kernel::resource::find_process(who)?]),
        PRIO_PGRP => Err(crate::kernel::errno::ENOSYS),
        PRIO_USER if who == 0 => Ok(crate::kernel::pid::for_each_process().into_iter().filter(|t| !t.is_kthread()).collect()),
        PRIO_USER => Ok(alloc::vec::Vec::new()),
        _ => Err(crate::kernel::errno::EINVAL),
    }
}

/// `sys_getpriority`: the highest priority (lowest nice) among the
/// targets, as 20 - nice (1..40: the raw system call returns no negative
/// values; libc turns it back into a nice value). ESRCH if none.
pub fn sys_getpriority(which: i32, who: i32) -> KResult<u64> {
    let tasks = prio_targets(which, who)?;
    let nice = tasks.iter().map(|t| klib::sched::prio_to_nice(t.static_prio.load(Relaxed))).min();
    nice.map(|n| (20 - n) as u64).ok_or(crate::kernel::errno::ESRCH)
}

/// `sys_setpriority`: the nice value clamped to -20..19, for each target
/// (set_user_nice: the CFS weight follows). Root may lower it too.
pub fn sys_setpriority(which: i32, who: i32, niceval: i32) -> KResult<u64> {
    let tasks = prio_targets(which, who)?;
    if tasks.is_empty() {
        return Err(crate::kernel::errno::ESRCH);
    }
    let nice = niceval.clamp(klib::sched::MIN_NICE, klib::sched::MAX_NICE);
    for t in &tasks {
        crate::kernel::sched::set_user_nice(t, nice);
    }
    Ok(0)
}

/// USER_HZ: the unit of clock_t.
pub const USER_HZ: u64 = 100;

fn nsec_to_clock_t(ns: u64) -> u64 {
    ns / (1_000_000_000 / USER_HZ)
}

/// `do_sys_times` / `sys_times`: the caller's and its reaped children's
/// CPU time in clock ticks; returns jiffies in clock ticks (from
/// INITIAL_JIFFIES, as Linux, so only differences mean anything).
pub fn sys_times(tbuf: u64) -> KResult<u64> {
    if tbuf != 0 {
        let cur = current();
        let r = crate::kernel::resource::thread_group_rusage(&cur);
        let mut b = [0u8; 32];
        for (i, v) in [r.utime, r.stime, cur.signal.cutime.load(Relaxed), cur.signal.cstime.load(Relaxed)].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&nsec_to_clock_t(*v).to_le_bytes());
        }
        copy_to_user(tbuf, &b)?;
    }
    let hz = crate::kernel::time::hz() as u64;
    Ok((crate::kernel::time::jiffies() as u128 * USER_HZ as u128 / hz as u128) as u64)
}

/// `do_sysinfo` / `sys_sysinfo`: uptime (rounded up to a second), memory
/// in bytes (mem_unit 1, as 64-bit Linux), the number of tasks. Tine
/// keeps no load average (the loads read 0), no swap, no buffers or shared memory.
pub fn sys_sysinfo(info: u64) -> KResult<u64> {
    use crate::mm::page_alloc::{nr_free_pages, totalram_pages};
    let up = crate::kernel::time::ktime_get_ns().div_ceil(1_000_000_000);
    let mut b = [0u8; 112];
    let mut put = |off: usize, v: u64, len: usize| b[off..off + len].copy_from_slice(&v.to_le_bytes()[..len]);
    put(0, up, 8);
    put(32, totalram_pages() as u64 * 4096, 8);
    put(40, nr_free_pages() as u64 * 4096, 8);
    put(80, crate::kernel::task::NR_THREADS.load(Relaxed).min(u16::MAX as usize) as u64, 2);
    put(104, 1, 4); // mem_unit
    copy_to_user(info, &b)?;
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

// ---- process groups and sessions (kernel/sys.c) ------------------------

/// The process (group leader) `pid` names, 0 meaning the caller's.
fn find_process(pid: i32) -> KResult<alloc::sync::Arc<crate::kernel::task::TaskStruct>> {
    use crate::kernel::errno::ESRCH;
    if pid == 0 {
        let cur = current();
        return Ok(cur.group_leader().unwrap_or(cur));
    }
    let p = crate::kernel::pid::find_task_by_vpid(pid).ok_or(ESRCH)?;
    if p.is_kthread() && p.pid() != 1 || p.exit_state.load(core::sync::atomic::Ordering::Acquire) != 0 {
        return Err(ESRCH);
    }
    Ok(p.group_leader().unwrap_or(p))
}

/// Does any process live in process group `pgrp` of `session`?
fn pgrp_in_session(pgrp: i32, session: i32) -> bool {
    use core::sync::atomic::Ordering::Relaxed;
    crate::kernel::pid::for_each_process().iter().any(|p| {
        p.thread_group_leader() && p.signal.pgrp.load(Relaxed) == pgrp && p.signal.session.load(Relaxed) == session
    })
}

/// `sys_setpgid`: move `pid` (0: the caller) into group `pgid` (0: its
/// own pid). Only the caller or its children that have not exec'd, within
/// the caller's session, and never a session leader.
pub fn sys_setpgid(pid: i32, pgid: i32) -> KResult<u64> {
    use crate::kernel::errno::{EACCES, EINVAL, EPERM, ESRCH};
    use core::sync::atomic::Ordering::Relaxed;
    if pgid < 0 {
        return Err(EINVAL);
    }
    let cur = current();
    let me = cur.group_leader().unwrap_or_else(|| cur.clone());
    let p = find_process(pid)?;
    let pgid = if pgid == 0 { p.pid() } else { pgid };
    let session = me.signal.session.load(Relaxed);
    if p.tgid != me.tgid {
        // Must be our child.
        let parent = p.real_parent.lock_irqsave().upgrade();
        if parent.map_or(true, |pp| pp.tgid != me.tgid) {
            return Err(ESRCH);
        }
        if p.signal.session.load(Relaxed) != session {
            return Err(EPERM);
        }
        if p.flags() & crate::kernel::task::PF_FORKNOEXEC == 0 {
            return Err(EACCES);
        }
    }
    // A session leader's group is its session.
    if p.signal.session.load(Relaxed) == p.pid() {
        return Err(EPERM);
    }
    if pgid != p.pid() && !pgrp_in_session(pgid, session) {
        return Err(EPERM);
    }
    p.signal.pgrp.store(pgid, Relaxed);
    Ok(0)
}

/// `sys_getpgid`.
pub fn sys_getpgid(pid: i32) -> KResult<u64> {
    Ok(find_process(pid)?.signal.pgrp.load(core::sync::atomic::Ordering::Relaxed) as u64)
}

/// `sys_getpgrp`.
pub fn sys_getpgrp() -> KResult<u64> {
    sys_getpgid(0)
}

/// `sys_getsid`.
pub fn sys_getsid(pid: i32) -> KResult<u64> {
    Ok(find_process(pid)?.signal.session.load(core::sync::atomic::Ordering::Relaxed) as u64)
}

/// `sys_setsid` -> `ksys_setsid`: a new session and process group, both
/// named after the caller (with no controlling terminal, once ttys have
/// them). EPERM if the
/// caller already leads a process group (its id is someone's group).
pub fn sys_setsid() -> KResult<u64> {
    use core::sync::atomic::Ordering::Relaxed;
    let cur = current();
    let me = cur.group_leader().unwrap_or_else(|| cur.clone());
    let sid = me.pid();
    let taken = crate::kernel::pid::for_each_process().iter().any(|p| p.thread_group_leader() && p.signal.pgrp.load(Relaxed) == sid);
    if taken {
        return Err(crate::kernel::errno::EPERM);
    }
    me.signal.session.store(sid, Relaxed);
    me.signal.pgrp.store(sid, Relaxed);
    Ok(sid as u64)
}

pub const PR_SET_PDEATHSIG: u64 = 1;
pub const PR_GET_PDEATHSIG: u64 = 2;
pub const PR_SET_NAME: u64 = 15;
pub const PR_GET_NAME: u64 = 16;
pub const PR_SET_CHILD_SUBREAPER: u64 = 36;
pub const PR_GET_CHILD_SUBREAPER: u64 = 37;

/// `sys_prctl`: the process-management options (names, child
/// subreaper); the rest are EINVAL as for an unknown option.
pub fn sys_prctl(option: u64, arg2: u64, _arg3: u64, _arg4: u64, _arg5: u64) -> KResult<u64> {
    use core::sync::atomic::Ordering::Relaxed;
    let cur = current();
    match option {
        PR_SET_NAME => {
            let mut b = [0u8; 16];
            let name = crate::arch::uaccess::strncpy_from_user(arg2, 15)?;
            b[..name.len()].copy_from_slice(&name);
            let s = core::str::from_utf8(&b[..name.len()]).unwrap_or("?");
            cur.set_comm(s);
            Ok(0)
        }
        PR_GET_NAME => {
            crate::arch::uaccess::copy_to_user(arg2, &cur.comm())?;
            Ok(0)
        }
        PR_SET_CHILD_SUBREAPER => {
            cur.signal.is_child_subreaper.store(arg2 != 0, Relaxed);
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            crate::arch::uaccess::put_user_u32(arg2, cur.signal.is_child_subreaper.load(Relaxed) as u32)?;
            Ok(0)
        }
        _ => Err(crate::kernel::errno::EINVAL),
    }
}
