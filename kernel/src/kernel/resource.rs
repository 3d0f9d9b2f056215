//! Resource limits and usage (mirrors the rlimit and rusage parts of
//! kernel/sys.c: do_prlimit, sys_getrlimit, sys_setrlimit, sys_prlimit64,
//! getrusage, sys_getrusage; kernel/sched/cputime.c's cputime_adjust; and
//! include/asm-generic/resource.h's INIT_RLIMITS).
//!
//! Each task has Linux's 16 limits, starting from init_task's values and
//! copied at fork. Of the limits, RLIMIT_NOFILE is enforced (fd allocation
//! fails with EMFILE at the soft limit, dup2 and F_DUPFD past it with EBADF
//! and EINVAL); the others are stored and reported but not yet enforced
//! (Tine has no CPU-time signals, file size or address-space caps).
//! Every process is root, so raising a hard limit is allowed (Linux:
//! CAP_SYS_RESOURCE).
//!
//! CPU time: the tick charges each task's `utime` or `stime` according to
//! the mode it interrupted (account_process_tick), and rusage and times
//! report the precise `sum_exec_runtime` split in that ratio, as Linux's
//! task_cputime_adjusted does. Fields Tine does not count (page faults,
//! block I/O, maxrss) read 0.

use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::kernel::errno::*;
use crate::kernel::task::{current, TaskStruct};
use alloc::sync::Arc;
use core::sync::atomic::Ordering::Relaxed;

pub const RLIMIT_CPU: usize = 0;
pub const RLIMIT_FSIZE: usize = 1;
pub const RLIMIT_DATA: usize = 2;
pub const RLIMIT_STACK: usize = 3;
pub const RLIMIT_CORE: usize = 4;
pub const RLIMIT_RSS: usize = 5;
pub const RLIMIT_NPROC: usize = 6;
pub const RLIMIT_NOFILE: usize = 7;
pub const RLIMIT_MEMLOCK: usize = 8;
pub const RLIMIT_AS: usize = 9;
pub const RLIMIT_LOCKS: usize = 10;
pub const RLIMIT_SIGPENDING: usize = 11;
pub const RLIMIT_MSGQUEUE: usize = 12;
pub const RLIMIT_NICE: usize = 13;
pub const RLIMIT_RTPRIO: usize = 14;
pub const RLIMIT_RTTIME: usize = 15;
pub const RLIM_NLIMITS: usize = 16;
pub const RLIM_INFINITY: u64 = u64::MAX;

/// `_STK_LIM`, `INR_OPEN_CUR`, `INR_OPEN_MAX`, `MLOCK_LIMIT` (6.1), `MQ_BYTES_MAX`.
pub const STK_LIM: u64 = 8 * 1024 * 1024;
pub const INR_OPEN_CUR: u64 = 1024;
pub const INR_OPEN_MAX: u64 = 4096;
pub const MLOCK_LIMIT: u64 = 8 * 1024 * 1024;
pub const MQ_BYTES_MAX: u64 = 819_200;
/// `sysctl_nr_open`: no RLIMIT_NOFILE above this.
pub const NR_OPEN: u64 = 1024 * 1024;

/// `struct rlimit64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

const fn lim(cur: u64, max: u64) -> Rlimit {
    Rlimit { cur, max }
}

/// `set_max_threads` (kernel/fork.c): threads whose kernel stacks fit in
/// an eighth of memory, at least 20.
fn max_threads() -> u64 {
    let pages = crate::mm::page_alloc::totalram_pages() as u64;
    (pages * 4096 / (crate::kernel::task::THREAD_SIZE * 8)).clamp(20, 0x3fff_ffff)
}

/// INIT_RLIMITS, with fork_init's RLIMIT_NPROC and RLIMIT_SIGPENDING of
/// max_threads / 2.
pub fn init_rlimits() -> [Rlimit; RLIM_NLIMITS] {
    let inf = lim(RLIM_INFINITY, RLIM_INFINITY);
    let half = max_threads() / 2;
    [
        inf,                             // CPU
        inf,                             // FSIZE
        inf,                             // DATA
        lim(STK_LIM, RLIM_INFINITY),     // STACK
        lim(0, RLIM_INFINITY),           // CORE
        inf,                             // RSS
        lim(half, half),                 // NPROC
        lim(INR_OPEN_CUR, INR_OPEN_MAX), // NOFILE
        lim(MLOCK_LIMIT, MLOCK_LIMIT),   // MEMLOCK
        inf,                             // AS
        inf,                             // LOCKS
        lim(half, half),                 // SIGPENDING
        lim(MQ_BYTES_MAX, MQ_BYTES_MAX), // MSGQUEUE
        lim(0, 0),                       // NICE
        lim(0, 0),                       // RTPRIO
        inf,                             // RTTIME
    ]
}

/// `rlimit(resource)`: the current task's soft limit.
pub fn rlimit(resource: usize) -> u64 {
    current().signal.rlim.lock_irqsave()[resource].cur
}

/// `do_prlimit`: read and optionally replace one limit of `tsk`.
pub fn do_prlimit(tsk: &TaskStruct, resource: usize, new: Option<Rlimit>) -> KResult<Rlimit> {
    if resource >= RLIM_NLIMITS {
        return Err(EINVAL);
    }
    if let Some(n) = new {
        if n.cur > n.max {
            return Err(EINVAL);
        }
        if resource == RLIMIT_NOFILE && n.max > NR_OPEN {
            return Err(EPERM);
        }
    }
    let mut rl = tsk.signal.rlim.lock_irqsave();
    let old = rl[resource];
    if let Some(n) = new {
        rl[resource] = n;
    }
    Ok(old)
}

fn get_rlimit(addr: u64) -> KResult<Rlimit> {
    let mut b = [0u8; 16];
    copy_from_user(&mut b, addr)?;
    let word = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
    Ok(Rlimit { cur: word(0), max: word(1) })
}

fn put_rlimit(addr: u64, r: Rlimit) -> KResult<()> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&r.cur.to_le_bytes());
    b[8..].copy_from_slice(&r.max.to_le_bytes());
    copy_to_user(addr, &b)
}

/// `sys_getrlimit` (x86_64's is the 64-bit struct rlimit).
pub fn sys_getrlimit(resource: u64, rlim: u64) -> KResult<u64> {
    let r = do_prlimit(&current(), usize::try_from(resource).unwrap_or(usize::MAX), None)?;
    put_rlimit(rlim, r)?;
    Ok(0)
}

/// `sys_setrlimit`.
pub fn sys_setrlimit(resource: u64, rlim: u64) -> KResult<u64> {
    let new = get_rlimit(rlim)?;
    do_prlimit(&current(), usize::try_from(resource).unwrap_or(usize::MAX), Some(new))?;
    Ok(0)
}

/// `sys_prlimit64`: pid 0 is the caller; the old value is written only
/// after the new one is in place, as Linux.
pub fn sys_prlimit64(pid: i32, resource: u64, new_rlim: u64, old_rlim: u64) -> KResult<u64> {
    let new = if new_rlim != 0 { Some(get_rlimit(new_rlim)?) } else { None };
    let tsk = find_process(pid)?;
    let old = do_prlimit(&tsk, usize::try_from(resource).unwrap_or(usize::MAX), new)?;
    if old_rlim != 0 {
        put_rlimit(old_rlim, old)?;
    }
    Ok(0)
}

/// The caller for pid 0, else the task with that pid (ESRCH; a negative
/// pid finds nothing).
pub fn find_process(pid: i32) -> KResult<Arc<TaskStruct>> {
    if pid == 0 {
        return Ok(current());
    }
    if pid < 0 {
        return Err(ESRCH);
    }
    crate::kernel::pid::find_task_by_vpid(pid).ok_or(ESRCH)
}

/// `account_process_tick`: charge one tick to the mode it interrupted.
/// The idle tasks' time is idle time, not theirs.
pub fn account_process_tick(p: &TaskStruct, user_tick: bool) {
    if p.pid() == 0 {
        return;
    }
    let tick_ns = 1_000_000_000 / crate::kernel::time::hz() as u64;
    if user_tick {
        p.utime.fetch_add(tick_ns, Relaxed);
    } else {
        p.stime.fetch_add(tick_ns, Relaxed);
    }
}

/// `task_cputime_adjusted` / `cputime_adjust`: the precise runtime, split
/// in the ratio of the sampled user and system ticks; returns (utime, stime) in ns.
pub fn task_cputime_adjusted(p: &TaskStruct) -> (u64, u64) {
    let rtime = p.se.sum_exec_runtime.load(Relaxed);
    let (utime, stime) = (p.utime.load(Relaxed), p.stime.load(Relaxed));
    cputime_adjust(rtime, utime, stime)
}

fn cputime_adjust(rtime: u64, utime: u64, stime: u64) -> (u64, u64) {
    if stime == 0 {
        return (rtime, 0);
    }
    if utime == 0 {
        return (0, rtime);
    }
    let s = (rtime as u128 * stime as u128 / (utime as u128 + stime as u128)) as u64;
    (rtime - s, s)
}

/// wait_task_zombie's accounting: the reaped child's time, and what its
/// own reaped children used, goes to the parent's c* counters.
pub fn account_reaped_child(parent: &TaskStruct, c: &TaskStruct) {
    let own = thread_group_rusage(c);
    let (ps, cs) = (&parent.signal, &c.signal);
    ps.cutime.fetch_add(own.utime + cs.cutime.load(Relaxed), Relaxed);
    ps.cstime.fetch_add(own.stime + cs.cstime.load(Relaxed), Relaxed);
    ps.cnvcsw.fetch_add(own.nvcsw + cs.cnvcsw.load(Relaxed), Relaxed);
    ps.cnivcsw.fetch_add(own.nivcsw + cs.cnivcsw.load(Relaxed), Relaxed);
}

pub const RUSAGE_SELF: i32 = 0;
pub const RUSAGE_CHILDREN: i32 = -1;
pub const RUSAGE_THREAD: i32 = 1;

/// What `struct rusage` reports, in ns and counts.
#[derive(Default, Clone, Copy)]
pub struct Rusage {
    pub utime: u64,
    pub stime: u64,
    pub nvcsw: u64,
    pub nivcsw: u64,
}

/// One thread's usage.
fn task_rusage(p: &TaskStruct) -> Rusage {
    let (utime, stime) = task_cputime_adjusted(p);
    Rusage { utime, stime, nvcsw: p.nvcsw.load(Relaxed), nivcsw: p.nivcsw.load(Relaxed) }
}

/// `thread_group_cputime` and friends: every live thread of `p`'s process
/// plus what its released threads left in the signal_struct.
pub fn thread_group_rusage(p: &TaskStruct) -> Rusage {
    let s = &p.signal;
    let mut r = Rusage { utime: s.utime.load(Relaxed), stime: s.stime.load(Relaxed), nvcsw: s.nvcsw.load(Relaxed), nivcsw: s.nivcsw.load(Relaxed) };
    let threads = s.thread_list();
    let one = [task_rusage(p)];
    let live: alloc::vec::Vec<Rusage> = if threads.is_empty() { one.to_vec() } else { threads.iter().map(|t| task_rusage(t)).collect() };
    for t in live {
        r.utime += t.utime;
        r.stime += t.stime;
        r.nvcsw += t.nvcsw;
        r.nivcsw += t.nivcsw;
    }
    r
}

/// `__exit_signal`'s accounting: a released non-leader thread's time stays
/// with its process.
pub fn account_released_thread(t: &TaskStruct) {
    let r = task_rusage(t);
    let s = &t.signal;
    s.utime.fetch_add(r.utime, Relaxed);
    s.stime.fetch_add(r.stime, Relaxed);
    s.nvcsw.fetch_add(r.nvcsw, Relaxed);
    s.nivcsw.fetch_add(r.nivcsw, Relaxed);
}

/// `getrusage`: RUSAGE_SELF is the whole process (every thread, living or
/// gone), RUSAGE_THREAD the caller alone.
pub fn getrusage(p: &TaskStruct, who: i32) -> KResult<Rusage> {
    match who {
        RUSAGE_SELF => Ok(thread_group_rusage(p)),
        RUSAGE_THREAD => Ok(task_rusage(p)),
        RUSAGE_CHILDREN => Ok(Rusage {
            utime: p.signal.cutime.load(Relaxed),
            stime: p.signal.cstime.load(Relaxed),
            nvcsw: p.signal.cnvcsw.load(Relaxed),
            nivcsw: p.signal.cnivcsw.load(Relaxed),
        }),
        _ => Err(EINVAL),
    }
}

/// x86_64 `struct rusage` (144 bytes): two timevals, then 14 longs.
pub fn rusage_bytes(r: &Rusage) -> [u8; 144] {
    let mut b = [0u8; 144];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, r.utime / 1_000_000_000);
    put(8, r.utime % 1_000_000_000 / 1000);
    put(16, r.stime / 1_000_000_000);
    put(24, r.stime % 1_000_000_000 / 1000);
    put(32 + 12 * 8, r.nvcsw); // ru_nvcsw
    put(32 + 13 * 8, r.nivcsw); // ru_nivcsw
    b
}

/// `sys_getrusage`.
pub fn sys_getrusage(who: i32, ru: u64) -> KResult<u64> {
    let r = getrusage(&current(), who)?;
    copy_to_user(ru, &rusage_bytes(&r))?;
    Ok(0)
}
