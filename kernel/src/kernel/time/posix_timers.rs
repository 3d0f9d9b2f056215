//! The clock and sleep system calls (mirrors kernel/time/posix-timers.c:
//! clock_gettime, clock_getres, clock_nanosleep; kernel/time/hrtimer.c:
//! nanosleep, hrtimer_nanosleep, do_nanosleep; kernel/time/time.c:
//! gettimeofday).
//!
//! CLOCK_REALTIME is the CMOS clock read at boot (arch/x86_64/rtc.rs) plus
//! the monotonic clock since; all of them read the TSC with nanosecond
//! resolution (what clock_getres reports, as Linux with high-resolution
//! timers). Sleeps wait in jiffies (there are no hrtimers), rechecking the
//! clock after each wake-up, so they last at least the time asked and at
//! most a tick or so more.
//!
//! Left out: the COARSE, TAI and ALARM clocks (EINVAL), sleeping on a CPU
//! clock (clock_nanosleep on CLOCK_PROCESS_CPUTIME_ID is EOPNOTSUPP: Linux
//! supports it; on the thread clock and MONOTONIC_RAW Linux says
//! EOPNOTSUPP too), restart_block (an interrupted sleep is EINTR with the
//! time left).

use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::kernel::errno::*;
use crate::kernel::task::current;
use core::sync::atomic::Ordering::Relaxed;

pub const CLOCK_REALTIME: u64 = 0;
pub const CLOCK_MONOTONIC: u64 = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
pub const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
pub const CLOCK_MONOTONIC_RAW: u64 = 4;
pub const CLOCK_BOOTTIME: u64 = 7;
pub const TIMER_ABSTIME: u64 = 1;
const NSEC_PER_SEC: u64 = 1_000_000_000;
pub const EOPNOTSUPP: Errno = Errno(95);

/// The time of `clk` in ns, EINVAL for a clock Tine does not have.
fn clock_now(clk: u64) -> KResult<u64> {
    match clk {
        CLOCK_REALTIME => Ok(super::ktime_get_real_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_BOOTTIME => Ok(super::ktime_get_ns()),
        CLOCK_THREAD_CPUTIME_ID => Ok(current().se.sum_exec_runtime.load(Relaxed)),
        // thread_group_cputime: all threads, living and gone.
        CLOCK_PROCESS_CPUTIME_ID => {
            let r = crate::kernel::resource::thread_group_rusage(&current());
            Ok(r.utime + r.stime)
        }
        _ => Err(EINVAL),
    }
}

pub fn put_timespec(addr: u64, ns: u64) -> KResult<()> {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / NSEC_PER_SEC).to_le_bytes());
    b[8..].copy_from_slice(&(ns % NSEC_PER_SEC).to_le_bytes());
    copy_to_user(addr, &b)
}

/// `get_timespec64` + `timespec64_valid`: ns, EINVAL for a negative time
/// or tv_nsec outside 0..1e9.
fn get_timespec(addr: u64) -> KResult<u64> {
    let mut b = [0u8; 16];
    copy_from_user(&mut b, addr)?;
    let sec = i64::from_le_bytes(b[..8].try_into().unwrap());
    let nsec = i64::from_le_bytes(b[8..].try_into().unwrap());
    if sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&nsec) {
        return Err(EINVAL);
    }
    Ok((sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(nsec as u64))
}

/// `sys_clock_gettime`.
pub fn sys_clock_gettime(clk: u64, tp: u64) -> KResult<u64> {
    put_timespec(tp, clock_now(clk)?)?;
    Ok(0)
}

/// `sys_clock_getres`: 1 ns for every clock Tine has (a NULL `tp` only
/// checks the clock).
pub fn sys_clock_getres(clk: u64, tp: u64) -> KResult<u64> {
    clock_now(clk)?;
    if tp != 0 {
        put_timespec(tp, 1)?;
    }
    Ok(0)
}

/// `sys_gettimeofday`: either pointer may be NULL; the timezone is UTC
/// without daylight saving (what Linux keeps unless settimeofday set it).
pub fn sys_gettimeofday(tv: u64, tz: u64) -> KResult<u64> {
    if tv != 0 {
        let ns = super::ktime_get_real_ns();
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(ns / NSEC_PER_SEC).to_le_bytes());
        b[8..].copy_from_slice(&(ns % NSEC_PER_SEC / 1000).to_le_bytes());
        copy_to_user(tv, &b)?;
    }
    if tz != 0 {
        copy_to_user(tz, &[0u8; 8])?;
    }
    Ok(0)
}

/// `do_nanosleep`: sleep until the boot-based clock reads `deadline`;
/// EINTR if a signal arrives first, with the time left in `rmtp` (if not 0).
fn do_nanosleep(deadline: u64, rmtp: u64) -> KResult<u64> {
    let hz = super::hz() as u64;
    loop {
        let now = super::ktime_get_ns();
        if now >= deadline {
            return Ok(0);
        }
        let jiffies = ((deadline - now) as u128 * hz as u128).div_ceil(NSEC_PER_SEC as u128).min(1 << 62) as u64;
        super::timer::schedule_timeout_interruptible(jiffies + 1);
        if crate::kernel::signal::signal_pending(&current()) {
            if rmtp != 0 {
                put_timespec(rmtp, deadline.saturating_sub(super::ktime_get_ns()))?;
            }
            return Err(EINTR);
        }
    }
}

/// `sys_nanosleep`: at least the requested time (`hrtimer_nanosleep`, relative).
pub fn sys_nanosleep(rqtp: u64, rmtp: u64) -> KResult<u64> {
    let t = get_timespec(rqtp)?;
    do_nanosleep(super::ktime_get_ns().saturating_add(t), rmtp)
}

/// `sys_clock_nanosleep`: relative, or until the clock reads the time
/// given with TIMER_ABSTIME (then the time left is not written). Other
/// flag bits are ignored, as Linux.
pub fn sys_clock_nanosleep(clk: u64, flags: u64, rqtp: u64, rmtp: u64) -> KResult<u64> {
    match clk {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => {}
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID | CLOCK_MONOTONIC_RAW => return Err(EOPNOTSUPP),
        _ => return Err(EINVAL),
    }
    let t = get_timespec(rqtp)?;
    if flags & TIMER_ABSTIME != 0 {
        // Sleeps wait on the monotonic clock: a realtime deadline is moved
        // onto it (the wall clock is never set, so the two stay in step).
        let mono = if clk == CLOCK_REALTIME { t.saturating_sub(super::ktime_real_offset()) } else { t };
        do_nanosleep(mono, 0)
    } else {
        do_nanosleep(super::ktime_get_ns().saturating_add(t), rmtp)
    }
}

/// `sys_time`: seconds since the epoch, also stored at `tloc` if given.
pub fn sys_time(tloc: u64) -> KResult<u64> {
    let secs = super::ktime_get_real_ns() / NSEC_PER_SEC;
    if tloc != 0 {
        crate::arch::uaccess::put_user_u64(tloc, secs)?;
    }
    Ok(secs)
}
