//! poll(2), ppoll(2), select(2) and pselect6(2) (mirrors fs/select.c:
//! do_sys_poll -> do_poll and core_sys_select -> do_select, both asking
//! vfs_poll of each descriptor).
//!
//! Each file reports its readiness (`File::poll`, Linux's f_op->poll):
//! regular files and memory devices are always ready; a pipe is readable
//! with data or no writer left (POLLHUP), writable with room and a reader
//! (POLLERR without one); the console is readable when a read would not
//! block. A bad descriptor is POLLNVAL.
//!
//! Waiting: Linux queues the poller on every file's wait queue through a
//! poll_table. Tine keeps one wait queue that every pipe and tty event
//! wakes (`poll_wake`): a poller may wake for another file's event and
//! simply checks again, which costs time but never loses a wake-up.
//!
//! select is poll over bitmaps, as Linux's do_select: readable is POLLIN
//! or POLLHUP or POLLERR, writable POLLOUT or POLLERR, exceptional POLLPRI
//! (never reported here); a bad descriptor in a set is EBADF.
//!
//! Left out: epoll, POLLPRI/POLLRDBAND sources, restart_block for an
//! interrupted timed wait (EINTR, as with a handler), and select's update
//! of the timeval with the time left.

use super::File;
use crate::arch::uaccess::{copy_from_user, copy_to_user, get_user_u64};
use crate::kernel::errno::*;
use crate::kernel::sched::wait::WaitQueueHead;
use crate::kernel::task::{current, TASK_INTERRUPTIBLE};

pub const POLLIN: u16 = 0x001;
pub const POLLPRI: u16 = 0x002;
pub const POLLOUT: u16 = 0x004;
pub const POLLERR: u16 = 0x008;
pub const POLLHUP: u16 = 0x010;
pub const POLLNVAL: u16 = 0x020;
pub const POLLRDNORM: u16 = 0x040;
pub const POLLWRNORM: u16 = 0x100;

static POLL_WAIT: WaitQueueHead = WaitQueueHead::new();

/// A file's readiness changed (data, room, a closed end).
pub fn poll_wake() {
    if POLL_WAIT.waiters() > 0 {
        POLL_WAIT.wake_up_all();
    }
}

/// RLIMIT_NOFILE's hard default bounds nfds, as Linux checks nfds against
/// the rlimit.
const MAX_NFDS: u64 = 4096;

/// One poll pass over the descriptors: how many have events.
fn do_pollfd(fds: &mut [(i32, u16, u16)]) -> usize {
    let files = current().files.lock_irqsave().clone();
    let mut count = 0;
    for (fd, events, revents) in fds.iter_mut() {
        *revents = 0;
        if *fd < 0 {
            continue;
        }
        let file: Option<alloc::sync::Arc<File>> = files.as_ref().and_then(|f| f.fget(*fd).ok());
        *revents = match file {
            None => POLLNVAL,
            // POLLERR and POLLHUP are reported whether asked or not.
            Some(f) => f.poll() & (*events | POLLERR | POLLHUP),
        };
        if *revents != 0 {
            count += 1;
        }
    }
    count
}

/// `do_poll`'s loop: run `scan` (which returns how many descriptors are
/// ready) until it finds some, the timeout passes or a signal comes.
fn poll_loop(timeout_ns: Option<u64>, mut scan: impl FnMut() -> KResult<usize>) -> KResult<usize> {
    let hz = crate::kernel::time::hz() as u64;
    let deadline = timeout_ns.map(|ns| crate::kernel::time::jiffies() + (ns as u128 * hz as u128).div_ceil(1_000_000_000) as u64);
    let cur = current();
    loop {
        POLL_WAIT.prepare_to_wait(TASK_INTERRUPTIBLE);
        let n = match scan() {
            Ok(n) => n,
            Err(e) => {
                POLL_WAIT.finish_wait();
                return Err(e);
            }
        };
        if n > 0 || timeout_ns == Some(0) {
            POLL_WAIT.finish_wait();
            return Ok(n);
        }
        if crate::kernel::signal::signal_pending(&cur) {
            POLL_WAIT.finish_wait();
            return Err(ERESTARTNOHAND);
        }
        match deadline {
            None => crate::kernel::sched::core::schedule(),
            Some(d) => {
                let now = crate::kernel::time::jiffies();
                if now >= d {
                    POLL_WAIT.finish_wait();
                    return Ok(0);
                }
                crate::kernel::time::timer::schedule_timeout(d - now);
            }
        }
        POLL_WAIT.finish_wait();
    }
}

/// `do_sys_poll`: `timeout_ns` None waits forever.
fn do_sys_poll(ufds: u64, nfds: u64, timeout_ns: Option<u64>) -> KResult<u64> {
    if nfds > MAX_NFDS {
        return Err(EINVAL);
    }
    let mut raw = alloc::vec![0u8; nfds as usize * 8];
    copy_from_user(&mut raw, ufds)?;
    let mut fds: alloc::vec::Vec<(i32, u16, u16)> = raw
        .chunks_exact(8)
        .map(|c| (i32::from_le_bytes([c[0], c[1], c[2], c[3]]), u16::from_le_bytes([c[4], c[5]]), 0))
        .collect();
    let n = poll_loop(timeout_ns, || Ok(do_pollfd(&mut fds)))?;
    for (i, (_, _, rev)) in fds.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&rev.to_le_bytes());
    }
    copy_to_user(ufds, &raw)?;
    Ok(n as u64)
}

/// Read a user fd_set of `nfds` bits (None for a NULL pointer).
fn get_fd_set(ptr: u64, nfds: usize) -> KResult<Option<alloc::vec::Vec<u64>>> {
    if ptr == 0 {
        return Ok(None);
    }
    let words = nfds.div_ceil(64);
    let mut raw = alloc::vec![0u8; words * 8];
    copy_from_user(&mut raw, ptr)?;
    let mut v: alloc::vec::Vec<u64> = raw.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
    if nfds % 64 != 0 {
        if let Some(last) = v.last_mut() {
            *last &= (1u64 << (nfds % 64)) - 1;
        }
    }
    Ok(Some(v))
}

fn put_fd_set(ptr: u64, set: &Option<alloc::vec::Vec<u64>>) -> KResult<()> {
    if let Some(v) = set {
        let raw: alloc::vec::Vec<u8> = v.iter().flat_map(|w| w.to_le_bytes()).collect();
        copy_to_user(ptr, &raw)?;
    }
    Ok(())
}

/// `core_sys_select` / `do_select`.
fn core_sys_select(nfds: i32, inp: u64, outp: u64, exp: u64, timeout_ns: Option<u64>) -> KResult<u64> {
    if nfds < 0 {
        return Err(EINVAL);
    }
    let n = (nfds as usize).min(MAX_NFDS as usize);
    let (r_in, w_in, e_in) = (get_fd_set(inp, n)?, get_fd_set(outp, n)?, get_fd_set(exp, n)?);
    let words = n.div_ceil(64);
    let mut res: [alloc::vec::Vec<u64>; 3] = [alloc::vec![0; words], alloc::vec![0; words], alloc::vec![0; words]];
    let bit = |s: &Option<alloc::vec::Vec<u64>>, fd: usize| s.as_ref().is_some_and(|v| v[fd / 64] >> (fd % 64) & 1 != 0);
    let count = poll_loop(timeout_ns, || {
        let files = current().files.lock_irqsave().clone();
        let mut count = 0;
        for r in res.iter_mut() {
            r.iter_mut().for_each(|w| *w = 0);
        }
        for fd in 0..n {
            let (want_r, want_w, want_e) = (bit(&r_in, fd), bit(&w_in, fd), bit(&e_in, fd));
            if !(want_r || want_w || want_e) {
                continue;
            }
            let f = files.as_ref().and_then(|t| t.fget(fd as i32).ok()).ok_or(EBADF)?;
            let m = f.poll();
            let hits = [
                want_r && m & (POLLIN | POLLRDNORM | POLLHUP | POLLERR) != 0,
                want_w && m & (POLLOUT | POLLWRNORM | POLLERR) != 0,
                want_e && m & POLLPRI != 0,
            ];
            for (k, h) in hits.iter().enumerate() {
                if *h {
                    res[k][fd / 64] |= 1 << (fd % 64);
                    count += 1;
                }
            }
        }
        Ok(count)
    })?;
    for (ptr, (set, r)) in [inp, outp, exp].iter().zip([&r_in, &w_in, &e_in].iter().zip(res.iter())) {
        if set.is_some() {
            put_fd_set(*ptr, &Some(r.clone()))?;
        }
    }
    Ok(count as u64)
}

/// `sys_select`: a timeval timeout (NULL = forever).
pub fn sys_select(nfds: i32, inp: u64, outp: u64, exp: u64, tvp: u64) -> KResult<u64> {
    let t = if tvp == 0 {
        None
    } else {
        let sec = get_user_u64(tvp)? as i64;
        let usec = get_user_u64(tvp + 8)? as i64;
        if sec < 0 || usec < 0 {
            return Err(EINVAL);
        }
        Some((sec as u64).saturating_mul(1_000_000_000).saturating_add((usec as u64).saturating_mul(1000)))
    };
    core_sys_select(nfds, inp, outp, exp, t)
}

/// `sys_pselect6`: a timespec timeout and {sigmask pointer, size} in the
/// sixth argument, in force while waiting.
pub fn sys_pselect6(nfds: i32, inp: u64, outp: u64, exp: u64, tsp: u64, sig: u64) -> KResult<u64> {
    let t = get_timespec_ns(tsp)?;
    let (mask, size) = if sig != 0 { (get_user_u64(sig)?, get_user_u64(sig + 8)?) } else { (0, 0) };
    with_sigmask(mask, size, || core_sys_select(nfds, inp, outp, exp, t))
}

/// A timespec timeout, None for NULL.
fn get_timespec_ns(tsp: u64) -> KResult<Option<u64>> {
    if tsp == 0 {
        return Ok(None);
    }
    let sec = get_user_u64(tsp)? as i64;
    let nsec = get_user_u64(tsp + 8)? as i64;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(EINVAL);
    }
    Ok(Some((sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64)))
}

/// Run `f` with the user's signal mask at `sigmask` (0: unchanged) in
/// force, as ppoll and pselect do; an interrupted call keeps it until the
/// handler's frame has saved the old one (sigsuspend's rule).
fn with_sigmask(sigmask: u64, sigsetsize: u64, f: impl FnOnce() -> KResult<u64>) -> KResult<u64> {
    let cur = current();
    if sigmask != 0 {
        if sigsetsize != 8 {
            return Err(EINVAL);
        }
        let m = get_user_u64(sigmask)?;
        cur.saved_sigmask.store(cur.blocked.load(core::sync::atomic::Ordering::SeqCst), core::sync::atomic::Ordering::SeqCst);
        cur.restore_sigmask.store(true, core::sync::atomic::Ordering::SeqCst);
        crate::kernel::signal::set_current_blocked(m);
    }
    let r = f();
    if sigmask != 0 && r != Err(ERESTARTNOHAND) {
        crate::kernel::signal::restore_saved_sigmask();
    }
    r
}

/// `sys_poll`: timeout in ms, negative = forever.
pub fn sys_poll(ufds: u64, nfds: u64, timeout_ms: i32) -> KResult<u64> {
    let t = if timeout_ms < 0 { None } else { Some(timeout_ms as u64 * 1_000_000) };
    do_sys_poll(ufds, nfds, t)
}

/// `sys_ppoll`: a timespec timeout (NULL = forever) and a signal mask in
/// force while waiting, as sigsuspend.
pub fn sys_ppoll(ufds: u64, nfds: u64, tsp: u64, sigmask: u64, sigsetsize: u64) -> KResult<u64> {
    let t = get_timespec_ns(tsp)?;
    with_sigmask(sigmask, sigsetsize, || do_sys_poll(ufds, nfds, t))
}
