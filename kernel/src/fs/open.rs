//! Attribute and working-directory system calls (mirrors the SYSCALL_DEFINEs
//! of fs/open.c: chdir, fchdir, truncate, ftruncate, chmod, fchmod,
//! fchmodat, chown, lchown, fchown, fchownat; fs/d_path.c's getcwd;
//! fs/sync.c's fsync and fdatasync; fs/utimes.c's utimensat; fs/stat.c's
//! statx; kernel/sys.c's umask).
//!
//! Every process is root, so the permission checks these calls make in
//! Linux (owner or CAP_FOWNER, CAP_CHOWN, search permission) all pass.
//! Times are nanoseconds since boot like the rest of Tine's clocks (there
//! is no wall clock yet).

use super::inode::{Inode, Kstat, MAX_LFS_FILESIZE, S_IALLUGO};
use super::syscalls::{fdget, inode_at, user_path, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_SYMLINK_NOFOLLOW};
use crate::arch::uaccess::{copy_from_user, copy_to_user};
use crate::kernel::errno::*;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::Relaxed;

/// `sys_chdir`: the directory `path` names (symlinks followed) becomes the
/// working directory of the process (and of CLONE_FS sharers).
pub fn sys_chdir(path: u64) -> KResult<u64> {
    let dir = super::namei::user_path_at(AT_FDCWD, &user_path(path)?, true)?;
    set_pwd(dir)
}

/// `sys_fchdir`: the directory open as `fd`.
pub fn sys_fchdir(fd: i32) -> KResult<u64> {
    set_pwd(fdget(fd)?.inode().clone())
}

fn set_pwd(dir: Arc<Inode>) -> KResult<u64> {
    if !dir.is_dir() {
        return Err(ENOTDIR);
    }
    super::fs_struct::current_fs().set_fs_pwd(dir);
    Ok(0)
}

/// The working directory's path from the root (`d_path` of the pwd):
/// ENOENT once it has been removed.
pub fn current_cwd_path() -> KResult<String> {
    let (root, pwd) = super::fs_struct::current_root_pwd();
    if pwd.nlink() == 0 {
        return Err(ENOENT);
    }
    let mut names: Vec<String> = Vec::new();
    let mut cur = pwd;
    while !Arc::ptr_eq(&cur, &root) {
        let parent = cur.parent()?;
        if Arc::ptr_eq(&parent, &cur) {
            break; // the top of another tree: cannot happen without mounts
        }
        names.push(cur.name_in(&parent).ok_or(ENOENT)?);
        cur = parent;
    }
    if names.is_empty() {
        return Ok(String::from("/"));
    }
    let mut path = String::new();
    for n in names.iter().rev() {
        path.push('/');
        path.push_str(n);
    }
    Ok(path)
}

/// `sys_getcwd`: the path and its NUL; returns the length with the NUL,
/// ERANGE if `size` is too small for it.
pub fn sys_getcwd(buf: u64, size: u64) -> KResult<u64> {
    let mut path = current_cwd_path()?.into_bytes();
    path.push(0);
    if path.len() as u64 > size {
        return Err(ERANGE);
    }
    copy_to_user(buf, &path)?;
    Ok(path.len() as u64)
}

/// `sys_umask`: set the mask new files and directories lose, return the old one.
pub fn sys_umask(mask: u32) -> KResult<u64> {
    let fs = super::fs_struct::current_fs();
    Ok(fs.umask.swap(mask & 0o777, Relaxed) as u64)
}

/// `vfs_truncate`'s checks for a new size.
fn do_truncate(inode: &Inode, length: i64) -> KResult<u64> {
    if inode.is_dir() {
        return Err(EISDIR);
    }
    if !inode.is_reg() {
        return Err(EINVAL);
    }
    if length as u64 > MAX_LFS_FILESIZE {
        return Err(EFBIG);
    }
    inode.truncate(length as u64);
    Ok(0)
}

/// `sys_truncate`: EINVAL for a negative length, EISDIR for a directory.
pub fn sys_truncate(path: u64, length: i64) -> KResult<u64> {
    if length < 0 {
        return Err(EINVAL);
    }
    let inode = super::namei::user_path_at(AT_FDCWD, &user_path(path)?, true)?;
    do_truncate(&inode, length)
}

/// `sys_ftruncate` (do_sys_ftruncate): EINVAL for a negative length, and
/// for anything but a regular file open for writing.
pub fn sys_ftruncate(fd: i32, length: i64) -> KResult<u64> {
    if length < 0 {
        return Err(EINVAL);
    }
    let file = fdget(fd)?;
    if !file.inode().is_reg() || !file.writable() {
        return Err(EINVAL);
    }
    do_truncate(file.inode(), length)
}

/// `sys_fsync` / `sys_fdatasync`: the ramfs has nothing to write back
/// (noop_fsync, for files and directories); a device without an fsync
/// method (and a pipe) is EINVAL, as Linux.
pub fn sys_fsync(fd: i32) -> KResult<u64> {
    match fdget(fd)?.ops {
        super::file::FileOps::Reg | super::file::FileOps::Dir => Ok(0),
        super::file::FileOps::Chr(_) | super::file::FileOps::Pipe => Err(EINVAL),
    }
}

/// `sys_fchmodat` (and chmod): symlinks are followed; the type bits stay.
pub fn sys_fchmodat(dfd: i32, path: u64, mode: u32) -> KResult<u64> {
    let inode = super::namei::user_path_at(dfd, &user_path(path)?, true)?;
    inode.set_perm(mode & S_IALLUGO);
    Ok(0)
}

/// `sys_fchmod`.
pub fn sys_fchmod(fd: i32, mode: u32) -> KResult<u64> {
    fdget(fd)?.inode().set_perm(mode & S_IALLUGO);
    Ok(0)
}

/// -1 (as a 32-bit id) leaves the id unchanged.
fn id_arg(id: u64) -> Option<u32> {
    match id as u32 {
        u32::MAX => None,
        v => Some(v),
    }
}

/// `sys_fchownat` (and chown, lchown): flags AT_SYMLINK_NOFOLLOW and
/// AT_EMPTY_PATH only.
pub fn sys_fchownat(dfd: i32, path: u64, uid: u64, gid: u64, flags: u32) -> KResult<u64> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let inode = inode_at(dfd, &user_path(path)?, flags)?;
    inode.chown(id_arg(uid), id_arg(gid));
    Ok(0)
}

/// `sys_fchown`.
pub fn sys_fchown(fd: i32, uid: u64, gid: u64) -> KResult<u64> {
    fdget(fd)?.inode().chown(id_arg(uid), id_arg(gid));
    Ok(0)
}

pub const UTIME_NOW: u64 = (1 << 30) - 1;
pub const UTIME_OMIT: u64 = (1 << 30) - 2;

/// One utimensat time: None to leave it, else the new value in ns
/// (UTIME_NOW is now; times before 0 are stored as 0: Tine's inode times
/// count from boot).
fn utime_arg(sec: u64, nsec: u64, now: u64) -> KResult<Option<u64>> {
    match nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(now)),
        n if n < 1_000_000_000 => {
            let sec = (sec as i64).max(0) as u64;
            Ok(Some(sec.saturating_mul(1_000_000_000).saturating_add(n)))
        }
        _ => Err(EINVAL),
    }
}

/// `sys_utimensat` (do_utimes): `times` NULL sets both to now; a NULL path
/// with a real `dfd` changes the open file (flags must then be 0).
pub fn sys_utimensat(dfd: i32, path: u64, times: u64, flags: u32) -> KResult<u64> {
    let now = crate::kernel::time::ktime_get_real_ns(); // current_time
    let (atime, mtime) = if times == 0 {
        (Some(now), Some(now))
    } else {
        let mut b = [0u8; 32];
        copy_from_user(&mut b, times)?;
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
        (utime_arg(w(0), w(1), now)?, utime_arg(w(2), w(3), now)?)
    };
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let inode = if path == 0 && dfd != AT_FDCWD {
        if flags != 0 {
            return Err(EINVAL);
        }
        fdget(dfd)?.inode().clone()
    } else {
        inode_at(dfd, &user_path(path)?, flags)?
    };
    if atime.is_some() || mtime.is_some() {
        inode.set_times(atime, mtime);
    }
    Ok(0)
}

pub const STATX_BASIC_STATS: u32 = 0x7ff;
pub const STATX_RESERVED: u32 = 0x8000_0000;
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// `struct statx` (256 bytes) from a Kstat: the basic stats, no birth time.
fn statx_bytes(k: &Kstat) -> [u8; 256] {
    let mut b = [0u8; 256];
    let mut put = |off: usize, v: u64, len: usize| b[off..off + len].copy_from_slice(&v.to_le_bytes()[..len]);
    put(0, STATX_BASIC_STATS as u64, 4); // stx_mask
    put(4, 4096, 4); // stx_blksize
    put(16, k.nlink as u64, 4);
    put(20, k.uid as u64, 4);
    put(24, k.gid as u64, 4);
    put(28, k.mode as u64, 2);
    put(32, k.ino, 8);
    put(40, k.size, 8);
    put(48, k.blocks, 8);
    for (off, t) in [(64, k.atime_ns), (96, k.ctime_ns), (112, k.mtime_ns)] {
        put(off, t / 1_000_000_000, 8);
        put(off + 8, t % 1_000_000_000, 4);
    }
    put(128, k.rdev_major as u64, 4);
    put(132, k.rdev_minor as u64, 4);
    put(136, 0, 4); // stx_dev_major: the one ramfs is 0:1, as in stat
    put(140, 1, 4);
    b
}

/// `sys_statx`: the flags stat takes plus AT_NO_AUTOMOUNT and the sync
/// type (which a ramfs need not act on); everything is always in sync, so
/// every basic field is returned whatever `mask` asks.
pub fn sys_statx(dfd: i32, path: u64, flags: u32, mask: u32, buf: u64) -> KResult<u64> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
        return Err(EINVAL);
    }
    if mask & STATX_RESERVED != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(EINVAL);
    }
    let inode = inode_at(dfd, &user_path(path)?, flags)?;
    copy_to_user(buf, &statx_bytes(&inode.getattr()))?;
    Ok(0)
}
