//! The file system calls (the SYSCALL_DEFINEs of fs/read_write.c and
//! fs/open.c, and execve from fs/exec.c): arguments come from user space,
//! so buffers are copied through uaccess in bounded chunks and paths with
//! strncpy_from_user; the work is the VFS's.

use crate::arch::uaccess::{copy_from_user_partial, copy_to_user, copy_to_user_partial, get_user_u64, strncpy_from_user};
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

pub(super) fn files() -> KResult<Arc<super::FilesStruct>> {
    current().files.lock_irqsave().clone().ok_or(EBADF)
}

pub(super) fn fdget(fd: i32) -> KResult<Arc<super::File>> {
    files()?.fget(fd)
}

/// The copy loop of read(2) and pread64(2) (`vfs_read` with its
/// `copy_to_user`): `read(file, kbuf, done)` fills a kernel buffer, which
/// goes to user memory CHUNK bytes at a time. A short read ends it, so does
/// any read from a stream (its next read could block with data already
/// read), and an error after some bytes returns those bytes (EINTR, EAGAIN).
/// A buffer that runs into a hole gets the bytes before it, as Linux's
/// filemap_read: read(2)'s position then moves back over the rest
/// (`positional` is pread's, which has none). A stream's bytes that did
/// not fit are lost, where Linux's pipe_read would keep them.
fn read_to_user(fd: i32, buf: u64, count: u64, positional: bool, read: impl Fn(&super::File, &mut [u8], u64) -> KResult<usize>) -> KResult<u64> {
    let file = fdget(fd)?;
    if !crate::arch::uaccess::access_ok(buf, count as usize) {
        return Err(EFAULT);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    let mut kbuf = alloc::vec![0u8; count.min(CHUNK)];
    let mut done = 0;
    while done < count {
        let want = (count - done).min(CHUNK);
        let n = match read(&file, &mut kbuf[..want], done as u64) {
            Ok(n) => n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        let copied = copy_to_user_partial(buf + done as u64, &kbuf[..n]);
        done += copied;
        if copied < n {
            if !positional && !file.is_stream() {
                *file.pos.lock() -= (n - copied) as u64;
            }
            if done == 0 {
                return Err(EFAULT);
            }
            break;
        }
        if n < want || file.is_stream() {
            break;
        }
    }
    Ok(done as u64)
}

/// The copy loop of write(2) and pwrite64(2): CHUNK bytes at a time from
/// user memory; a short write ends it, and an error after some bytes
/// returns those (a signal, EPIPE). A buffer that runs into a hole writes
/// the bytes before it to a file (Linux's generic_perform_write), none to
/// a stream (pipe_write).
fn write_from_user(fd: i32, buf: u64, count: u64, write: impl Fn(&super::File, &[u8], u64) -> KResult<usize>) -> KResult<u64> {
    let file = fdget(fd)?;
    if !crate::arch::uaccess::access_ok(buf, count as usize) {
        return Err(EFAULT);
    }
    let count = count.min(MAX_RW_COUNT) as usize;
    let mut kbuf = alloc::vec![0u8; count.min(CHUNK)];
    let mut done = 0;
    while done < count {
        let want = (count - done).min(CHUNK);
        let mut have = copy_from_user_partial(&mut kbuf[..want], buf + done as u64);
        if have < want && file.is_stream() {
            have = 0;
        }
        if have == 0 {
            return if done > 0 { Ok(done as u64) } else { Err(EFAULT) };
        }
        let n = match write(&file, &kbuf[..have], done as u64) {
            Ok(n) => n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        done += n;
        if n < want {
            break;
        }
    }
    Ok(done as u64)
}

/// `sys_read`.
pub fn sys_read(fd: i32, buf: u64, count: u64) -> KResult<u64> {
    read_to_user(fd, buf, count, false, |f, b, _| f.read(b))
}

/// `sys_write`.
pub fn sys_write(fd: i32, buf: u64, count: u64) -> KResult<u64> {
    write_from_user(fd, buf, count, |f, b, _| f.write(b))
}

/// `sys_writev`: struct iovec { base, len } array, written in order.
pub fn sys_writev(fd: i32, iov: u64, iovcnt: u64) -> KResult<u64> {
    do_readv_writev(fd, iov, iovcnt, sys_write)
}

/// `sys_readv`.
pub fn sys_readv(fd: i32, iov: u64, iovcnt: u64) -> KResult<u64> {
    do_readv_writev(fd, iov, iovcnt, sys_read)
}

/// `do_readv_writev` (fs/read_write.c): one transfer per segment, stopping
/// at the first short one; empty segments are skipped.
fn do_readv_writev(fd: i32, iov: u64, iovcnt: u64, op: fn(i32, u64, u64) -> KResult<u64>) -> KResult<u64> {
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
        let n = op(fd, base, len)?;
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

pub(super) fn user_path(ptr: u64) -> KResult<alloc::string::String> {
    let bytes = strncpy_from_user(ptr, PATH_MAX - 1)?;
    alloc::string::String::from_utf8(bytes).map_err(|_| crate::kernel::errno::ENOENT)
}

/// `sys_openat`: relative paths from `dfd`; a created file's mode loses
/// the umask's bits.
pub fn sys_openat(dfd: i32, path: u64, flags: u32, mode: u32) -> KResult<u64> {
    let path = user_path(path)?;
    let mode = mode & super::inode::S_IALLUGO & !super::fs_struct::current_umask();
    let file = super::file::file_open_at(dfd, &path, flags, mode)?;
    let cloexec = flags & super::fcntl::O_CLOEXEC != 0;
    Ok(files()?.fd_install(file, cloexec)? as u64)
}

pub fn sys_open(path: u64, flags: u32, mode: u32) -> KResult<u64> {
    sys_openat(AT_FDCWD, path, flags, mode)
}

/// `sys_creat`: open(path, O_CREAT | O_WRONLY | O_TRUNC, mode).
pub fn sys_creat(path: u64, mode: u32) -> KResult<u64> {
    use super::fcntl::*;
    sys_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode)
}

/// `sys_pread64`: at `pos`, the file position untouched. EINVAL for a
/// negative position (before the fd is looked at), ESPIPE for what cannot
/// seek (even for 0 bytes, as Linux checks FMODE_PREAD first).
pub fn sys_pread64(fd: i32, buf: u64, count: u64, pos: i64) -> KResult<u64> {
    if pos < 0 {
        return Err(EINVAL);
    }
    if count == 0 {
        fdget(fd)?.pread(&mut [], pos as u64)?;
    }
    read_to_user(fd, buf, count, true, |f, b, done| f.pread(b, pos as u64 + done))
}

/// `sys_pwrite64`. With O_APPEND the data still goes to the end, as Linux.
pub fn sys_pwrite64(fd: i32, buf: u64, count: u64, pos: i64) -> KResult<u64> {
    if pos < 0 {
        return Err(EINVAL);
    }
    if count == 0 {
        fdget(fd)?.pwrite(&[], pos as u64)?;
    }
    write_from_user(fd, buf, count, |f, b, done| f.pwrite(b, pos as u64 + done))
}

/// `sys_close`.
pub fn sys_close(fd: i32) -> KResult<u64> {
    files()?.close_fd(fd).map(|_| 0)
}

/// `sys_ioctl`: the terminal requests on the console (tty_ioctl),
/// FIONREAD on a pipe; anything else is ENOTTY (what isatty() expects for
/// a non-terminal).
pub fn sys_ioctl(fd: i32, cmd: u32, arg: u64) -> KResult<u64> {
    const FIONREAD: u32 = 0x541b;
    let file = fdget(fd)?;
    if file.is_tty() {
        return crate::drivers::tty::n_tty::tty_ioctl(cmd, arg);
    }
    match (file.pipe(), cmd) {
        (Some(pipe), FIONREAD) => {
            let n = pipe.nr_readable() as i32;
            copy_to_user(arg, &n.to_ne_bytes())?;
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
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

/// x86_64 `struct stat` (144 bytes), from a Kstat.
fn stat_bytes(k: &super::inode::Kstat) -> [u8; 144] {
    let mut b = [0u8; 144];
    let mut put = |off: usize, v: u64, len: usize| b[off..off + len].copy_from_slice(&v.to_le_bytes()[..len]);
    put(0, 1, 8); // st_dev: the one ramfs
    put(8, k.ino, 8);
    put(16, k.nlink as u64, 8);
    put(24, k.mode as u64, 4);
    put(28, k.uid as u64, 4);
    put(32, k.gid as u64, 4);
    put(40, ((k.rdev_major as u64) << 8) | (k.rdev_minor as u64 & 0xff) | (((k.rdev_minor as u64) & !0xff) << 12), 8);
    put(48, k.size, 8);
    put(56, 4096, 8);
    put(64, k.blocks, 8);
    for (i, t) in [k.atime_ns, k.mtime_ns, k.ctime_ns].iter().enumerate() {
        put(72 + i * 16, t / 1_000_000_000, 8);
        put(80 + i * 16, t % 1_000_000_000, 8);
    }
    b
}

/// `sys_newfstat`.
pub fn sys_fstat(fd: i32, statbuf: u64) -> KResult<u64> {
    let k = fdget(fd)?.inode().getattr();
    copy_to_user(statbuf, &stat_bytes(&k))?;
    Ok(0)
}

pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_EMPTY_PATH: u32 = 0x1000;

pub const AT_NO_AUTOMOUNT: u32 = 0x800;

/// The inode an *at call names: with AT_EMPTY_PATH and an empty path, the
/// file open as `dfd` (the working directory for AT_FDCWD), else the path
/// from `dfd`.
pub(super) fn inode_at(dfd: i32, path: &str, flags: u32) -> KResult<Arc<super::Inode>> {
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dfd == AT_FDCWD {
            return Ok(super::fs_struct::current_root_pwd().1);
        }
        return Ok(fdget(dfd)?.inode().clone());
    }
    super::namei::user_path_at(dfd, path, flags & AT_SYMLINK_NOFOLLOW == 0)
}

/// `sys_newfstatat` (and stat/lstat through it).
pub fn sys_newfstatat(dfd: i32, path: u64, statbuf: u64, flags: u32) -> KResult<u64> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(EINVAL);
    }
    let inode = inode_at(dfd, &user_path(path)?, flags)?;
    copy_to_user(statbuf, &stat_bytes(&inode.getattr()))?;
    Ok(0)
}

/// `sys_dup`, `sys_dup2`, `sys_dup3`.
pub fn sys_dup(fd: i32) -> KResult<u64> {
    Ok(files()?.dupfd(fd, 0, false)? as u64)
}
pub fn sys_dup2(old: i32, new: i32) -> KResult<u64> {
    Ok(files()?.dup2(old, new)? as u64)
}
pub fn sys_dup3(old: i32, new: i32, flags: u32) -> KResult<u64> {
    if flags & !super::fcntl::O_CLOEXEC != 0 || old == new {
        return Err(EINVAL);
    }
    Ok(files()?.dup3(old, new, flags & super::fcntl::O_CLOEXEC != 0)? as u64)
}

/// `sys_fcntl`: descriptor duplication, FD_CLOEXEC and the status flags.
pub fn sys_fcntl(fd: i32, cmd: u32, arg: u64) -> KResult<u64> {
    use super::fcntl::*;
    let files = files()?;
    match cmd {
        F_DUPFD => Ok(files.dupfd(fd, arg as usize, false)? as u64),
        F_DUPFD_CLOEXEC => Ok(files.dupfd(fd, arg as usize, true)? as u64),
        F_GETFD => Ok(files.get_close_on_exec(fd)? as u64),
        F_SETFD => files.set_close_on_exec(fd, arg & 1 != 0).map(|_| 0),
        F_GETFL => Ok(files.fget(fd)?.flags() as u64),
        F_SETFL => {
            // Only O_APPEND and O_NONBLOCK may change (setfl).
            let f = files.fget(fd)?;
            let keep = f.flags() & !(O_APPEND | O_NONBLOCK);
            f.set_flags(keep | (arg as u32 & (O_APPEND | O_NONBLOCK)));
            Ok(0)
        }
        _ => Err(EINVAL),
    }
}

/// The open file behind an mmap (regular files only).
pub fn file_for_mmap(fd: i32) -> KResult<Arc<super::File>> {
    let f = fdget(fd)?;
    if !f.inode().is_reg() {
        return Err(crate::kernel::errno::ENODEV);
    }
    Ok(f)
}

/// `sys_mkdirat` / `sys_mkdir`: the mode loses the umask's bits.
pub fn sys_mkdirat(dfd: i32, path: u64, mode: u32) -> KResult<u64> {
    let mode = mode & 0o7777 & !super::fs_struct::current_umask();
    super::namei::do_mkdirat(dfd, &user_path(path)?, mode).map(|_| 0)
}

pub const AT_REMOVEDIR: u32 = 0x200;

/// `sys_unlinkat` / `sys_unlink` / `sys_rmdir`.
pub fn sys_unlinkat(dfd: i32, path: u64, flags: u32) -> KResult<u64> {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(EINVAL);
    }
    let p = user_path(path)?;
    if flags & AT_REMOVEDIR != 0 {
        super::namei::do_rmdir(dfd, &p).map(|_| 0)
    } else {
        super::namei::do_unlinkat(dfd, &p).map(|_| 0)
    }
}

/// `sys_symlinkat` / `sys_symlink`.
pub fn sys_symlinkat(target: u64, dfd: i32, path: u64) -> KResult<u64> {
    let t = user_path(target)?;
    super::namei::do_symlinkat(&t, dfd, &user_path(path)?).map(|_| 0)
}

pub const AT_SYMLINK_FOLLOW: u32 = 0x400;

/// `sys_linkat` / `sys_link`: the old name's symlink is followed only with
/// AT_SYMLINK_FOLLOW; AT_EMPTY_PATH links the file open as `olddfd`.
pub fn sys_linkat(olddfd: i32, old: u64, newdfd: i32, new: u64, flags: u32) -> KResult<u64> {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let old = user_path(old)?;
    let new = user_path(new)?;
    let nofollow = if flags & AT_SYMLINK_FOLLOW != 0 { 0 } else { AT_SYMLINK_NOFOLLOW };
    let target = inode_at(olddfd, &old, nofollow | (flags & AT_EMPTY_PATH))?;
    super::namei::do_link_inode(&target, newdfd, &new).map(|_| 0)
}

/// `sys_renameat2` (and rename, renameat with no flags).
pub fn sys_renameat2(olddfd: i32, old: u64, newdfd: i32, new: u64, flags: u32) -> KResult<u64> {
    let old = user_path(old)?;
    let new = user_path(new)?;
    super::namei::do_renameat2(olddfd, &old, newdfd, &new, flags).map(|_| 0)
}

/// `sys_readlinkat` / `sys_readlink`: the target, not NUL-terminated,
/// truncated to `size`.
pub fn sys_readlinkat(dfd: i32, path: u64, buf: u64, size: u64) -> KResult<u64> {
    if (size as i64) <= 0 {
        return Err(EINVAL);
    }
    let inode = super::namei::user_path_at(dfd, &user_path(path)?, false)?;
    let target = inode.readlink()?;
    let n = target.len().min(size as usize);
    copy_to_user(buf, &target.as_bytes()[..n])?;
    Ok(n as u64)
}

/// `sys_faccessat` / `sys_access`. Every process runs as root (no
/// credentials yet): R and W are always granted, X needs an x bit on a
/// file (any directory is searchable), as Linux grants root.
pub fn sys_faccessat(dfd: i32, path: u64, mode: u32) -> KResult<u64> {
    if mode & !7 != 0 {
        return Err(EINVAL);
    }
    let inode = super::namei::user_path_at(dfd, &user_path(path)?, true)?;
    if mode & 1 != 0 && !inode.is_dir() && inode.mode() & 0o111 == 0 {
        return Err(crate::kernel::errno::EACCES);
    }
    Ok(0)
}

/// `sys_getdents64`: struct linux_dirent64 records (8-byte aligned).
pub fn sys_getdents64(fd: i32, dirp: u64, count: u64) -> KResult<u64> {
    let file = fdget(fd)?;
    let count = count.min(MAX_RW_COUNT) as usize;
    let mut out: Vec<u8> = Vec::new();
    let mut too_small = false;
    file.iterate_dir(|name, ino, dtype| {
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > count {
            too_small = out.is_empty();
            return false;
        }
        let start = out.len();
        out.extend_from_slice(&ino.to_le_bytes());
        out.extend_from_slice(&((start + reclen) as i64).to_le_bytes()); // d_off: next position
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(dtype);
        out.extend_from_slice(name.as_bytes());
        out.resize(start + reclen, 0);
        true
    })?;
    if too_small {
        return Err(EINVAL);
    }
    copy_to_user(dirp, &out)?;
    Ok(out.len() as u64)
}

/// `sys_sendfile64` (do_sendfile): copy `count` bytes from `in_fd` (from
/// `*offset`, left updated, if given; else from its file position) to
/// `out_fd`, through a kernel buffer rather than splice's pipe.
pub fn sys_sendfile64(out_fd: i32, in_fd: i32, offset: u64, count: u64) -> KResult<u64> {
    let (inf, outf) = (fdget(in_fd)?, fdget(out_fd)?);
    if !inf.readable() || !outf.writable() {
        return Err(EBADF);
    }
    let mut pos = if offset != 0 {
        let p = get_user_u64(offset)? as i64;
        if p < 0 {
            return Err(EINVAL);
        }
        Some(p as u64)
    } else {
        None
    };
    let count = count.min(MAX_RW_COUNT) as usize;
    let mut kbuf = alloc::vec![0u8; count.min(CHUNK)];
    let mut done = 0usize;
    let mut err = None;
    while done < count {
        let want = (count - done).min(CHUNK);
        let r = match pos {
            Some(p) => inf.pread(&mut kbuf[..want], p),
            None => inf.read(&mut kbuf[..want]),
        };
        let n = match r {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                err = Some(e);
                break;
            }
        };
        let w = match outf.write(&kbuf[..n]) {
            Ok(w) => w,
            Err(e) => {
                err = Some(e);
                break;
            }
        };
        done += w;
        if let Some(p) = pos.as_mut() {
            *p += w as u64;
        } else if w < n {
            // Unread what the output did not take, so the position counts
            // only what was sent (a pipe or tty in_fd cannot seek: lost).
            let _ = inf.lseek(-((n - w) as i64), super::fcntl::SEEK_CUR);
        }
        if w < n || n < want {
            break;
        }
    }
    if let Some(p) = pos {
        crate::arch::uaccess::put_user_u64(offset, p)?;
    }
    match err {
        Some(e) if done == 0 => Err(e),
        _ => Ok(done as u64),
    }
}
