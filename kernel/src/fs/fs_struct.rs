//! `struct fs_struct`: a process's root, working directory and umask
//! (mirrors fs/fs_struct.c: set_fs_pwd, get_fs_pwd, copy_fs_struct, and
//! kernel/fork.c's copy_fs).
//!
//! Threads made with CLONE_FS share one `FsStruct` (an `Arc`); fork gives
//! the child a copy, so a chdir in the child leaves the parent where it
//! was. Tasks without one (the idle tasks) walk from the rootfs root with
//! Linux's init_fs umask, 0022. The fs_struct is released with the
//! task_struct, not in do_exit (Linux's exit_fs), which no one can observe
//! while the fs is not shared.
//!
//! Left out: chroot (the root never changes) and mounts (a path is an inode).

use super::inode::Inode;
use crate::kernel::task::{current, TaskStruct};
use crate::sync::SpinLock;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// `init_fs.umask`.
pub const INIT_UMASK: u32 = 0o022;

struct FsPaths {
    root: Arc<Inode>,
    pwd: Arc<Inode>,
}

/// `struct fs_struct`.
pub struct FsStruct {
    /// `fs->lock`: a leaf lock.
    paths: SpinLock<FsPaths>,
    pub umask: AtomicU32,
}

impl FsStruct {
    /// `init_fs`: root and cwd at the rootfs root.
    pub fn new_init() -> FsStruct {
        let root = super::namei::root();
        FsStruct { paths: SpinLock::new("fs_struct.lock", FsPaths { pwd: root.clone(), root }), umask: AtomicU32::new(INIT_UMASK) }
    }

    /// `copy_fs_struct`.
    pub fn copy_fs_struct(&self) -> FsStruct {
        let p = self.paths.lock();
        FsStruct {
            paths: SpinLock::new("fs_struct.lock", FsPaths { root: p.root.clone(), pwd: p.pwd.clone() }),
            umask: AtomicU32::new(self.umask.load(Relaxed)),
        }
    }

    /// `get_fs_root` and `get_fs_pwd` at once (one lock round).
    pub fn root_and_pwd(&self) -> (Arc<Inode>, Arc<Inode>) {
        let p = self.paths.lock();
        (p.root.clone(), p.pwd.clone())
    }

    /// `set_fs_pwd`: the caller has checked that `dir` is a directory.
    /// The old cwd is dropped after the lock is released.
    pub fn set_fs_pwd(&self, dir: Arc<Inode>) {
        let old = core::mem::replace(&mut self.paths.lock().pwd, dir);
        drop(old);
    }
}

/// The current task's root and working directory (the rootfs root for a
/// task without an fs_struct).
pub fn current_root_pwd() -> (Arc<Inode>, Arc<Inode>) {
    match current().fs.lock_irqsave().clone() {
        Some(fs) => fs.root_and_pwd(),
        None => {
            let r = super::namei::root();
            (r.clone(), r)
        }
    }
}

/// `current_umask`.
pub fn current_umask() -> u32 {
    current().fs.lock_irqsave().as_ref().map_or(INIT_UMASK, |fs| fs.umask.load(Relaxed))
}

/// The current task's fs_struct, made (as init_fs) if it has none.
pub fn current_fs() -> Arc<FsStruct> {
    let cur = current();
    let mut fs = cur.fs.lock_irqsave();
    fs.get_or_insert_with(|| Arc::new(FsStruct::new_init())).clone()
}

/// `copy_fs` (kernel/fork.c): share the parent's fs_struct (CLONE_FS) or
/// copy it; children of a task without one start from init_fs.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn copy_fs(clone_flags: u64, cur: &TaskStruct, p: &TaskStruct) {
    let fs = match cur.fs.lock_irqsave().clone() {
        Some(fs) if clone_flags & crate::kernel::fork::CLONE_FS != 0 => fs,
        Some(fs) => Arc::new(fs.copy_fs_struct()),
        None => Arc::new(FsStruct::new_init()),
    };
    *p.fs.lock_irqsave() = Some(fs);
}
