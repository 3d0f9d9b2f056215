//! File descriptor tables (mirrors fs/file.c: files_struct, alloc_fd,
//! fd_install, __fget, __close_fd, dup_fd, do_close_on_exec, do_dup2,
//! ksys_dup3, f_dupfd, set/get_close_on_exec).
//!
//! A `FilesStruct` maps fds to open files, each with its close-on-exec
//! flag. A task shares one through an Arc with CLONE_FILES, or gets a copy
//! (`dup_fd`) on fork. New fds are always the lowest free number below the
//! caller's RLIMIT_NOFILE soft limit (1024 by default): EMFILE past it, as
//! alloc_fd; dup2/dup3 to an fd at or past it are EBADF and F_DUPFD from
//! there EINVAL.
//!
//! Left out: RCU lookup, and fput's deferred work (the last Arc drop
//! closes the file).

use super::file::File;
use crate::kernel::errno::*;
use crate::sync::SpinLock;
use alloc::sync::Arc;
use alloc::vec::Vec;

pub const NR_OPEN_DEFAULT: usize = 1024;

/// `rlimit(RLIMIT_NOFILE)` of the caller (at most NR_OPEN).
fn nofile() -> usize {
    crate::kernel::resource::rlimit(crate::kernel::resource::RLIMIT_NOFILE).min(crate::kernel::resource::NR_OPEN) as usize
}

#[derive(Clone)]
struct FdEntry {
    file: Arc<File>,
    cloexec: bool,
}

/// `struct files_struct`.
pub struct FilesStruct {
    /// `file_lock`: a leaf lock. Files are dropped after it is released.
    fdt: SpinLock<Vec<Option<FdEntry>>>,
}

fn index(fd: i32) -> KResult<usize> {
    if fd < 0 || fd as u64 >= crate::kernel::resource::NR_OPEN {
        return Err(EBADF);
    }
    Ok(fd as usize)
}

impl FilesStruct {
    pub fn new() -> Self {
        FilesStruct { fdt: SpinLock::new("files_struct.file_lock", Vec::new()) }
    }

    /// `alloc_fd` + `fd_install`: the lowest free fd at or above `start`
    /// and below RLIMIT_NOFILE (EMFILE if there is none).
    pub fn fd_install_from(&self, start: usize, file: Arc<File>, cloexec: bool) -> KResult<i32> {
        let end = nofile();
        let mut t = self.fdt.lock();
        let fd = (start..end).find(|&fd| t.get(fd).is_none_or(|e| e.is_none())).ok_or(EMFILE)?;
        if t.len() <= fd {
            t.resize(fd + 1, None);
        }
        t[fd] = Some(FdEntry { file, cloexec });
        Ok(fd as i32)
    }

    /// `get_unused_fd_flags` + `fd_install`: the lowest free fd.
    pub fn fd_install(&self, file: Arc<File>, cloexec: bool) -> KResult<i32> {
        self.fd_install_from(0, file, cloexec)
    }

    /// `fget`: EBADF for a closed or impossible fd.
    pub fn fget(&self, fd: i32) -> KResult<Arc<File>> {
        let i = index(fd)?;
        self.fdt.lock().get(i).and_then(|e| e.as_ref()).map(|e| e.file.clone()).ok_or(EBADF)
    }

    /// `__close_fd`.
    pub fn close_fd(&self, fd: i32) -> KResult<()> {
        let i = index(fd)?;
        let old = self.fdt.lock().get_mut(i).and_then(|e| e.take());
        old.map(drop).ok_or(EBADF)
    }

    /// `dup_fd`: a copy of the table (fork without CLONE_FILES).
    pub fn dup_fd(&self) -> FilesStruct {
        FilesStruct { fdt: SpinLock::new("files_struct.file_lock", self.fdt.lock().clone()) }
    }

    /// `do_close_on_exec`.
    pub fn close_on_exec(&self) {
        let mut closed = Vec::new();
        for e in self.fdt.lock().iter_mut() {
            if e.as_ref().is_some_and(|e| e.cloexec) {
                closed.push(e.take());
            }
        }
        drop(closed);
    }

    /// dup(2) and fcntl F_DUPFD/F_DUPFD_CLOEXEC (`f_dupfd`): the lowest fd
    /// at or above `start` (EINVAL past the limit).
    pub fn dupfd(&self, old: i32, start: usize, cloexec: bool) -> KResult<i32> {
        let file = self.fget(old)?;
        if start >= nofile() {
            return Err(EINVAL);
        }
        self.fd_install_from(start, file, cloexec)
    }

    /// dup3(2) (`ksys_dup3`): `new` becomes a copy of `old`, closing what
    /// `new` held. EINVAL if they are equal.
    pub fn dup3(&self, old: i32, new: i32, cloexec: bool) -> KResult<i32> {
        if old == new {
            return Err(EINVAL);
        }
        let file = self.fget(old)?;
        let n = index(new)?;
        if n >= nofile() {
            return Err(EBADF);
        }
        let replaced = {
            let mut t = self.fdt.lock();
            if t.len() <= n {
                t.resize(n + 1, None);
            }
            t[n].replace(FdEntry { file, cloexec })
        };
        drop(replaced);
        Ok(new)
    }

    /// dup2(2): as dup3 without flags, except that dup2(fd, fd) checks fd
    /// and returns it.
    pub fn dup2(&self, old: i32, new: i32) -> KResult<i32> {
        if old == new {
            return self.fget(old).map(|_| new);
        }
        self.dup3(old, new, false)
    }

    /// F_GETFD.
    pub fn get_close_on_exec(&self, fd: i32) -> KResult<bool> {
        let i = index(fd)?;
        self.fdt.lock().get(i).and_then(|e| e.as_ref()).map(|e| e.cloexec).ok_or(EBADF)
    }

    /// F_SETFD.
    pub fn set_close_on_exec(&self, fd: i32, cloexec: bool) -> KResult<()> {
        let i = index(fd)?;
        let mut t = self.fdt.lock();
        let e = t.get_mut(i).and_then(|e| e.as_mut()).ok_or(EBADF)?;
        e.cloexec = cloexec;
        Ok(())
    }

    /// The open fds, lowest first (for /proc/PID/fd and tests).
    pub fn open_fds(&self) -> Vec<i32> {
        let t = self.fdt.lock();
        t.iter().enumerate().filter(|(_, e)| e.is_some()).map(|(fd, _)| fd as i32).collect()
    }
}

impl Default for FilesStruct {
    fn default() -> Self {
        Self::new()
    }
}
