//! The file system calls (the SYSCALL_DEFINEs of fs/read_write.c and
//! fs/open.c, and execve from fs/exec.c): arguments come from user space,
//! so buffers are copied through uaccess in bounded chunks and paths with
//! strncpy_from_user; the work is the VFS's.

use crate::arch::uaccess::{copy_from_user, copy_to_user, get_user_u64, strncpy_from_user};
use crate::kernel::errno::{KResult, EBADF, EFAULT, EINVAL, ENOTTY};
use crate::kernel::task::current;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Bytes moved per uaccess chunk (the kernel buffer lives on the heap).
const CHUNK: usize = 64 * 1024;
pub const AT_FDCWD: i32 = -100;
pub const PATH_MAX: usize = 4096;
/// Linux caps a single read/write at MAX_RW_COUNT (INT_MAX rounded down to a page).
const MAX_RW_COUNT: u64 = 0x7fff_f000;

fn files() -> KResult<Arc<super::FilesStruct>> {
    current().files.lock_irqsave().clone().ok_or(EBADF)
}

fn fdget(fd: i32) -> KResult<Arc<super::File>> {
    files()?.fget(fd)
}

/// `sys_read`.
pub fn sys_read(fd: i32, buf: u64, count: u64) -> KResult<u64> {
    let file = fdget(fd)?;
    if !crate::arch::uaccess::access_ok(buf, count as usize) {
        return Err(EFAULT);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    let mut kbuf = alloc::vec![0u8; count.min(CHUNK)];
    let mut done = 0;
    while done < count {
        let want = (count - done).min(CHUNK);
        let n = file.read(&mut kbuf[..want])?;
        if n == 0 {
            break;
        }
        copy_to_user(buf + done as u64, &kbuf[..n])?;
        done += n;
        if n < want {
            break; // short read: return what we have
        }
    }
    Ok(done as u64)
}

/// `sys_write`.
pub fn sys_write(fd: i32, buf: u64, count: u64) -> KResult<u64> {
    let file = fdget(fd)?;
    if !crate::arch::uaccess::access_ok(buf, count as usize) {
        return Err(EFAULT);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    let mut kbuf = alloc::vec![0u8; count.min(CHUNK)];
    let mut done = 0;
    while done < count {
        let want = (count - done).min(CHUNK);
        copy_from_user(&mut kbuf[..want], buf + done as u64)?;
        let n = file.write(&kbuf[..want])?;
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done as u64)
}

/// `sys_writev`: struct iovec { base, len } array, written in order.
pub fn sys_writev(fd: i32, iov: u64, iovcnt: u64) -> KResult<u64> {
    if iovcnt > 1024 {
        return Err(EINVAL); // UIO_MAXIOV
    }
    let mut total = 0u64;
    for i in 0..iovcnt {
        let base = get_user_u64(iov + i * 16)?;
        let len = get_user_u64(iov + i * 16 + 8)?;
        if len == 0 {
            continue;
        }
        let n = sys_write(fd, base, len)?;
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total)
}

/// `sys_readv`.
pub fn sys_readv(fd: i32, iov: u64, iovcnt: u64) -> KResult<u64> {
    if iovcnt > 1024 {
        return Err(EINVAL);
    }
    let mut total = 0u64;
    for i in 0..iovcnt {
        let base = get_user_u64(iov + i * 16)?;
        let len = get_user_u64(iov + i * 16 + 8)?;
        let n = sys_read(fd, base, len)?;
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total)
}

/// `sys_lseek`.
pub fn sys_lseek(fd: i32, off: i64, whence: u32) -> KResult<u64> {
    fdget(fd)?.lseek(off, whence)
}

fn user_path(ptr: u64) -> KResult<alloc::string::String> {
    let bytes = strncpy_from_user(ptr, PATH_MAX - 1)?;
    alloc::string::String::from_utf8(bytes).map_err(|_| crate::kernel::errno::ENOENT)
}

/// `sys_openat` (relative paths resolve from the root until cwd exists).
pub fn sys_openat(dfd: i32, path: u64, flags: u32, mode: u32) -> KResult<u64> {
    let path = user_path(path)?;
    if dfd != AT_FDCWD && !path.starts_with('/') {
        return Err(EBADF); // directory fds come with the rest of issue 4
    }
    let file = super::filp_open(&path, flags, mode)?;
    let cloexec = flags & super::fcntl::O_CLOEXEC != 0;
    Ok(files()?.fd_install(file, cloexec)? as u64)
}

pub fn sys_open(path: u64, flags: u32, mode: u32) -> KResult<u64> {
    sys_openat(AT_FDCWD, path, flags, mode)
}

/// `sys_close`.
pub fn sys_close(fd: i32) -> KResult<u64> {
    files()?.close_fd(fd).map(|_| 0)
}

/// `sys_ioctl`: no terminal control yet, so every request is ENOTTY (what
/// isatty() expects for a non-terminal).
pub fn sys_ioctl(fd: i32, _cmd: u32, _arg: u64) -> KResult<u64> {
    fdget(fd)?;
    Err(ENOTTY)
}

/// Copy a NULL-terminated array of user string pointers (argv, envp).
fn copy_strings(mut ptr: u64) -> KResult<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if ptr == 0 {
        return Ok(out);
    }
    let mut total = 0usize;
    loop {
        let p = get_user_u64(ptr)?;
        if p == 0 {
            return Ok(out);
        }
        let s = strncpy_from_user(p, 128 * 1024)?; // MAX_ARG_STRLEN
        total += s.len() + 1 + 8;
        if total > 2 * 1024 * 1024 {
            return Err(crate::kernel::errno::E2BIG);
        }
        out.push(s);
        ptr += 8;
    }
}

/// `sys_execve`.
pub fn sys_execve(path: u64, argv: u64, envp: u64) -> KResult<u64> {
    let path = user_path(path)?;
    let argv = copy_strings(argv)?;
    let envp = copy_strings(envp)?;
    super::exec::do_execve(&path, argv, envp)?;
    // The old program's SSE state must not leak into the new one.
    crate::arch::process::reset_user_fpu_on_exec();
    Ok(0)
}
