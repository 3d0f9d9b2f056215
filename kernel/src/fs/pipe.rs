//! Pipes (mirrors fs/pipe.c: do_pipe2 -> create_pipe_files, pipe_read,
//! pipe_write, pipe_release, and the pipefs inode of get_pipe_inode).
//!
//! A pipe is a `PipeInodeInfo` (Linux's `struct pipe_inode_info`): a byte
//! ring of at most PIPE_SIZE bytes, the count of open read and write ends,
//! and one wait queue for each side. Its two `File`s share one anonymous
//! S_IFIFO inode, as Linux's pipefs inode.
//!
//! The rules are Linux's (pipe(7)): a read blocks while the pipe is empty
//! and a writer exists, and returns 0 (end of file) once no writer is left;
//! a write of at most PIPE_BUF bytes is atomic (it waits for room for all
//! of it); a write with no reader left fails with EPIPE and sends SIGPIPE;
//! O_NONBLOCK turns the waits into EAGAIN; a signal interrupts a wait with
//! EINTR (ERESTARTSYS: restarted under SA_RESTART), or with the bytes
//! moved so far if some were.
//!
//! Left out: named FIFOs (fifo_open), F_SETPIPE_SZ/F_GETPIPE_SZ (the size is
//! fixed at Linux's default 64 KiB), splice/vmsplice, O_DIRECT packet mode,
//! and the per-user pipe page limits. Storage is a VecDeque rather than
//! Linux's ring of page buffers: the observable behaviour is the same.

use super::file::{fcntl::*, File};
use super::inode::{Inode, S_IFIFO};
use crate::kernel::errno::*;
use crate::kernel::sched::wait::WaitQueueHead;
use crate::kernel::signal::{send_signal, signal_pending, SIGPIPE, SI_USER};
use crate::kernel::task::{current, TASK_INTERRUPTIBLE};
use crate::sync::SpinLock;
use alloc::collections::VecDeque;
use alloc::sync::Arc;

/// Linux's default pipe capacity (PIPE_DEF_BUFFERS pages).
pub const PIPE_SIZE: usize = 16 * 4096;
/// Writes up to this size are atomic (include/uapi/linux/limits.h).
pub const PIPE_BUF: usize = 4096;

struct PipeBuf {
    data: VecDeque<u8>,
    readers: u32,
    writers: u32,
}

/// `struct pipe_inode_info`.
pub struct PipeInodeInfo {
    buf: SpinLock<PipeBuf>,
    /// Readers sleep here (Linux: pipe->rd_wait).
    rd_wait: WaitQueueHead,
    /// Writers sleep here (pipe->wr_wait).
    wr_wait: WaitQueueHead,
}

/// Which end of the pipe a `File` is (its FMODE_READ/FMODE_WRITE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeEnd {
    Read,
    Write,
}

impl PipeInodeInfo {
    /// `alloc_pipe_info`, with one reader and one writer already counted
    /// for the two files create_pipe_files makes.
    fn new() -> Arc<PipeInodeInfo> {
        Arc::new(PipeInodeInfo {
            buf: SpinLock::new("pipe->mutex", PipeBuf { data: VecDeque::new(), readers: 1, writers: 1 }),
            rd_wait: WaitQueueHead::new(),
            wr_wait: WaitQueueHead::new(),
        })
    }

    /// `pipe_poll` for the `end` this file is.
    pub fn poll(&self, end: PipeEnd) -> u16 {
        use super::select::*;
        let b = self.buf.lock();
        match end {
            PipeEnd::Read => {
                let mut m = 0;
                if !b.data.is_empty() {
                    m |= POLLIN | POLLRDNORM;
                }
                if b.writers == 0 {
                    m |= POLLHUP;
                }
                m
            }
            PipeEnd::Write => {
                let mut m = 0;
                if PIPE_SIZE - b.data.len() >= PIPE_BUF {
                    m |= POLLOUT | POLLWRNORM;
                }
                if b.readers == 0 {
                    m |= POLLERR;
                }
                m
            }
        }
    }

    /// Bytes ready to read (FIONREAD).
    pub fn nr_readable(&self) -> usize {
        self.buf.lock().data.len()
    }

    /// Sleep on `wq` until `ready(buf)` holds. ERESTARTSYS when a signal is
    /// pending first (the caller turns that into a short count if it has
    /// moved bytes).
    fn wait(&self, wq: &WaitQueueHead, ready: impl Fn(&PipeBuf) -> bool) -> KResult<()> {
        let cur = current();
        loop {
            wq.prepare_to_wait(TASK_INTERRUPTIBLE);
            if ready(&self.buf.lock()) {
                break;
            }
            if signal_pending(&cur) {
                wq.finish_wait();
                return Err(ERESTARTSYS);
            }
            crate::kernel::sched::core::schedule();
        }
        wq.finish_wait();
        Ok(())
    }

    /// `pipe_read`: copy out what is there (at least one byte), waiting
    /// for a writer while the pipe is empty.
    pub fn read(&self, out: &mut [u8], nonblock: bool) -> KResult<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            {
                let mut b = self.buf.lock();
                if !b.data.is_empty() {
                    let n = out.len().min(b.data.len());
                    for (dst, src) in out.iter_mut().zip(b.data.drain(..n)) {
                        *dst = src;
                    }
                    if b.data.is_empty() {
                        // Give the memory back when drained, as Linux frees
                        // spare pipe pages.
                        b.data.shrink_to(PIPE_BUF);
                    }
                    drop(b);
                    self.wr_wait.wake_up_all();
                    super::select::poll_wake();
                    return Ok(n);
                }
                if b.writers == 0 {
                    return Ok(0);
                }
            }
            if nonblock {
                return Err(EAGAIN);
            }
            self.wait(&self.rd_wait, |b| !b.data.is_empty() || b.writers == 0)?;
        }
    }

    /// `pipe_write`: all of `data` unless a signal or O_NONBLOCK cuts it
    /// short. A write of at most PIPE_BUF bytes goes in at once or not at all.
    pub fn write(&self, data: &[u8], nonblock: bool) -> KResult<usize> {
        let atomic = data.len() <= PIPE_BUF;
        let mut done = 0;
        while done < data.len() {
            {
                let mut b = self.buf.lock();
                if b.readers == 0 {
                    drop(b);
                    send_signal(SIGPIPE, &current(), SI_USER);
                    return if done > 0 { Ok(done) } else { Err(EPIPE) };
                }
                let room = PIPE_SIZE - b.data.len();
                let want = data.len() - done;
                if room > 0 && (!atomic || room >= want) {
                    let n = room.min(want);
                    b.data.try_reserve(n).map_err(|_| ENOMEM)?;
                    b.data.extend(&data[done..done + n]);
                    done += n;
                    drop(b);
                    self.rd_wait.wake_up_all();
                    super::select::poll_wake();
                    continue;
                }
            }
            if nonblock {
                return if done > 0 { Ok(done) } else { Err(EAGAIN) };
            }
            let need = if atomic { data.len() } else { 1 };
            if let Err(e) = self.wait(&self.wr_wait, |b| b.readers == 0 || PIPE_SIZE - b.data.len() >= need) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
        Ok(done)
    }

    /// `pipe_release`: one end closed; wake the other side so it sees EOF
    /// or EPIPE.
    pub fn release(&self, end: PipeEnd) {
        {
            let mut b = self.buf.lock();
            match end {
                PipeEnd::Read => b.readers -= 1,
                PipeEnd::Write => b.writers -= 1,
            }
        }
        self.rd_wait.wake_up_all();
        self.wr_wait.wake_up_all();
        super::select::poll_wake();
    }
}

/// `create_pipe_files`: a pipefs inode and its read and write files.
/// `flags` may hold O_NONBLOCK (kept in both files' f_flags).
pub fn create_pipe_files(flags: u32) -> KResult<(Arc<File>, Arc<File>)> {
    let inode = Inode::new_anon(S_IFIFO | 0o600);
    let pipe = PipeInodeInfo::new();
    let nb = flags & O_NONBLOCK;
    let r = File::open_pipe(inode.clone(), pipe.clone(), PipeEnd::Read, O_RDONLY | nb);
    let w = File::open_pipe(inode, pipe, PipeEnd::Write, O_WRONLY | nb);
    Ok((r, w))
}

/// `do_pipe2`: install both ends, the read end first; on failure nothing
/// is left installed.
pub fn do_pipe2(flags: u32) -> KResult<[i32; 2]> {
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(EINVAL);
    }
    if flags & O_DIRECT != 0 {
        return Err(EINVAL); // packet mode is not implemented
    }
    let files = current().files.lock_irqsave().clone().ok_or(EBADF)?;
    let (r, w) = create_pipe_files(flags)?;
    let cloexec = flags & O_CLOEXEC != 0;
    let rfd = files.fd_install(r, cloexec)?;
    match files.fd_install(w, cloexec) {
        Ok(wfd) => Ok([rfd, wfd]),
        Err(e) => {
            let _ = files.close_fd(rfd);
            Err(e)
        }
    }
}

/// `sys_pipe2`: the two fds go to user memory as two ints. If that copy
/// fails the fds are closed again (Linux: fput + put_unused_fd).
pub fn sys_pipe2(fildes: u64, flags: u32) -> KResult<u64> {
    let fds = do_pipe2(flags)?;
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&fds[0].to_ne_bytes());
    bytes[4..].copy_from_slice(&fds[1].to_ne_bytes());
    if let Err(e) = crate::arch::uaccess::copy_to_user(fildes, &bytes) {
        if let Some(files) = current().files.lock_irqsave().clone() {
            let _ = files.close_fd(fds[0]);
            let _ = files.close_fd(fds[1]);
        }
        return Err(e);
    }
    Ok(0)
}

/// `sys_pipe`.
pub fn sys_pipe(fildes: u64) -> KResult<u64> {
    sys_pipe2(fildes, 0)
}
