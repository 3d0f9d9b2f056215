//! poll(2) and ppoll(2) (mirrors fs/select.c: do_sys_poll -> do_poll ->
//! vfs_poll for each descriptor).
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
//! Left out: select(2)/pselect6(2), epoll, POLLPRI/POLLRDBAND sources,
//! restart_block for an interrupted timed poll (EINTR, as with a handler).

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
    let hz = crate::kernel::time::hz() as u64;
    let deadline = timeout_ns.map(|ns| crate::kernel::time::jiffies() + (ns as u128 * hz as u128).div_ceil(1_000_000_000) as u64);
    let cur = current();
    let n = loop {
        POLL_WAIT.prepare_to_wait(TASK_INTERRUPTIBLE);
        let n = do_pollfd(&mut fds);
        if n > 0 || timeout_ns == Some(0) {
            POLL_WAIT.finish_wait();
            break n;
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
                    break 0;
                }
                crate::kernel::time::timer::schedule_timeout(d - now);
            }
        }
        POLL_WAIT.finish_wait();
    };
    for (i, (_, _, rev)) in fds.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&rev.to_le_bytes());
    }
    copy_to_user(ufds, &raw)?;
    Ok(n as u64)
}

/// `sys_poll`: timeout in ms, negative = forever.
pub fn sys_poll(ufds: u64, nfds: u64, timeout_ms: i32) -> KResult<u64> {
    let t = if timeout_ms < 0 { None } else { Some(timeout_ms as u64 * 1_000_000) };
    do_sys_poll(ufds, nfds, t)
}

/// `sys_ppoll`: a timespec timeout (NULL = forever) and a signal mask in
/// force while waiting, as sigsuspend.
pub fn sys_ppoll(ufds: u64, nfds: u64, tsp: u64, sigmask: u64, sigsetsize: u64) -> KResult<u64> {
    let t = if tsp == 0 {
        None
    } else {
        let sec = get_user_u64(tsp)? as i64;
        let nsec = get_user_u64(tsp + 8)? as i64;
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(EINVAL);
        }
        Some((sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64))
    };
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
    let r = do_sys_poll(ufds, nfds, t);
    // Not interrupted: the caller's mask comes back now (else after the
    // handler's frame has saved it).
    if sigmask != 0 && r != Err(ERESTARTNOHAND) {
        crate::kernel::signal::restore_saved_sigmask();
    }
    r
}
