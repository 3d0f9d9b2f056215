//! Open files (mirrors fs/open.c's do_dentry_open and filp_open, namei.c's
//! do_last/do_filp_open for the open flags, fs/file_table.c's struct file,
//! and include/uapi/asm-generic/fcntl.h for the flag values).
//!
//! A `File` is an open inode with its own position and flags, shared by
//! every fd dup'ed or inherited from it. Device nodes get their driver
//! (char_dev.rs) at open.
//!
//! A pipe's two ends are `File`s too (pipe.rs), made by pipe(2), never by
//! open.
//!
//! Left out: permission checks, O_PATH, O_TMPFILE, named FIFOs (opening
//! one, a socket or a block device is ENXIO), file locks, fsnotify, and the
//! O_LARGEFILE that open(2) adds on 64-bit (the syscall layer's job, as
//! force_o_largefile is in do_sys_open).

use super::char_dev::{chrdev_open, CharDev};
use super::inode::*;
use super::pipe::{PipeEnd, PipeInodeInfo};
use super::namei::{path_init, Nameidata};
use crate::kernel::errno::*;
use crate::sync::SpinLock;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Open flags, fcntl commands and seek origins with x86_64 Linux's values.
pub mod fcntl {
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DSYNC: u32 = 0o10000;
    pub const FASYNC: u32 = 0o20000;
    pub const O_DIRECT: u32 = 0o40000;
    pub const O_LARGEFILE: u32 = 0o100000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_NOFOLLOW: u32 = 0o400000;
    pub const O_NOATIME: u32 = 0o1000000;
    pub const O_CLOEXEC: u32 = 0o2000000;
    pub const O_SYNC: u32 = 0o4010000;
    pub const O_PATH: u32 = 0o10000000;
    /// Flags F_SETFL may change (SETFL_MASK).
    pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | FASYNC | O_DIRECT | O_NOATIME;

    pub const F_DUPFD: u32 = 0;
    pub const F_GETFD: u32 = 1;
    pub const F_SETFD: u32 = 2;
    pub const F_GETFL: u32 = 3;
    pub const F_SETFL: u32 = 4;
    pub const F_DUPFD_CLOEXEC: u32 = 1030;
    pub const FD_CLOEXEC: u32 = 1;

    pub const SEEK_SET: u32 = 0;
    pub const SEEK_CUR: u32 = 1;
    pub const SEEK_END: u32 = 2;
    pub const SEEK_DATA: u32 = 3;
    pub const SEEK_HOLE: u32 = 4;

    pub const AT_FDCWD: i32 = -100;
}
use fcntl::*;

/// What reads and writes go to (`struct file_operations`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileOps {
    Reg,
    Dir,
    Chr(CharDev),
    Pipe,
}

/// `struct file`.
pub struct File {
    inode: Arc<Inode>,
    pub(super) ops: FileOps,
    flags: AtomicU32,
    /// `f_pos`, under Linux's f_pos_lock (here a spinlock, held across the
    /// copy: buffers passed to read/write must not fault).
    pub(super) pos: SpinLock<u64>,
    /// The pipe and which end, for FileOps::Pipe (Linux: inode->i_pipe
    /// and the file's mode).
    pub(super) pipe: Option<(Arc<PipeInodeInfo>, PipeEnd)>,
}

impl Drop for File {
    /// The last reference to an open file is gone (`__fput` -> the
    /// file's release): a pipe end counts one reader or writer less.
    fn drop(&mut self) {
        if let Some((pipe, end)) = &self.pipe {
            pipe.release(*end);
        }
    }
}

impl File {
    /// `do_dentry_open`: wrap an inode in a new open file. The creation
    /// flags (O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC) are not kept, as Linux.
    pub fn open_inode(inode: Arc<Inode>, flags: u32) -> KResult<Arc<File>> {
        let ops = match inode.mode() & S_IFMT {
            S_IFREG => FileOps::Reg,
            S_IFDIR => FileOps::Dir,
            S_IFCHR => {
                let (major, minor) = inode.rdev().unwrap_or((0, 0));
                let dev = chrdev_open(major, minor)?;
                if dev == CharDev::Console {
                    crate::drivers::tty::n_tty::CONSOLE_TTY.open(flags & O_NOCTTY != 0);
                }
                FileOps::Chr(dev)
            }
            S_IFLNK => return Err(ELOOP),
            _ => return Err(ENXIO),
        };
        let flags = flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
        Ok(Arc::new(File { inode, ops, flags: AtomicU32::new(flags), pos: SpinLock::new("f_pos_lock", 0), pipe: None }))
    }

    /// One end of a new pipe (`alloc_file_pseudo` in create_pipe_files).
    pub(super) fn open_pipe(inode: Arc<Inode>, pipe: Arc<PipeInodeInfo>, end: PipeEnd, flags: u32) -> Arc<File> {
        Arc::new(File {
            inode,
            ops: FileOps::Pipe,
            flags: AtomicU32::new(flags),
            pos: SpinLock::new("f_pos_lock", 0),
            pipe: Some((pipe, end)),
        })
    }

    /// `vfs_poll`: the events ready now (fs/select.rs's POLL* bits).
    pub fn poll(&self) -> u16 {
        use super::select::*;
        let rw = |r: bool, w: bool| (if r { POLLIN | POLLRDNORM } else { 0 }) | (if w { POLLOUT | POLLWRNORM } else { 0 });
        match (&self.pipe, self.ops) {
            (Some((pipe, end)), _) => pipe.poll(*end),
            (None, FileOps::Chr(CharDev::Console)) => rw(crate::drivers::tty::n_tty::CONSOLE_TTY.input_available(), true),
            // Regular files, directories and memory devices never block.
            _ => rw(true, true),
        }
    }

    /// Is this the console terminal (terminal ioctls apply)?
    pub fn is_tty(&self) -> bool {
        self.ops == FileOps::Chr(CharDev::Console)
    }

    /// The pipe behind this file, if it is a pipe end.
    pub fn pipe(&self) -> Option<&Arc<PipeInodeInfo>> {
        self.pipe.as_ref().map(|(p, _)| p)
    }

    /// FMODE_STREAM: a pipe or a character device has no position and
    /// reads may return less than asked without meaning end of file.
    pub fn is_stream(&self) -> bool {
        matches!(self.ops, FileOps::Pipe | FileOps::Chr(_))
    }

    pub fn inode(&self) -> &Arc<Inode> {
        &self.inode
    }

    /// `f_flags` (F_GETFL).
    pub fn flags(&self) -> u32 {
        self.flags.load(Relaxed)
    }

    /// F_SETFL: only the SETFL_MASK bits change.
    pub fn set_flags(&self, flags: u32) {
        let old = self.flags();
        self.flags.store((old & !SETFL_MASK) | (flags & SETFL_MASK), Relaxed);
    }

    /// FMODE_READ.
    pub fn readable(&self) -> bool {
        let acc = self.flags() & O_ACCMODE;
        acc == O_RDONLY || acc == O_RDWR
    }

    /// FMODE_WRITE.
    pub fn writable(&self) -> bool {
        let acc = self.flags() & O_ACCMODE;
        acc == O_WRONLY || acc == O_RDWR
    }

    pub fn pos(&self) -> u64 {
        *self.pos.lock()
    }
}

/// `filp_open`: open `path` (from the working directory) with open(2)'s
/// `flags`; `mode` is the new file's permission bits with O_CREAT (no
/// umask here).
pub fn filp_open(path: &str, flags: u32, mode: u32) -> KResult<Arc<File>> {
    file_open_at(AT_FDCWD, path, flags, mode)
}

/// `do_filp_open` from `dfd` (openat's directory fd, or AT_FDCWD).
pub fn file_open_at(dfd: i32, path: &str, flags: u32, mode: u32) -> KResult<Arc<File>> {
    let (mut nd, start) = path_init(dfd, path)?;
    do_filp_open(&mut nd, &start, path, flags, mode)
}

/// `do_filp_open` / `do_last`: the open flags' rules on top of the walk.
pub fn do_filp_open(nd: &mut Nameidata, start: &Arc<Inode>, path: &str, flags: u32, mode: u32) -> KResult<Arc<File>> {
    let follow = flags & O_NOFOLLOW == 0;
    let inode = if flags & O_CREAT != 0 {
        let (mut dir, mut name, slash) = nd.path_parentat(start, path)?;
        if slash || name == "." || name == ".." {
            return Err(EISDIR);
        }
        if follow && flags & O_EXCL == 0 {
            let (d, n, slash) = nd.follow_for_create(dir, name)?;
            if slash {
                return Err(EISDIR);
            }
            (dir, name) = (d, n);
        }
        match dir.lookup(&name) {
            Ok(_) if flags & O_EXCL != 0 => return Err(EEXIST),
            Ok(i) => i,
            Err(ENOENT) => match dir.create(&name, mode) {
                // Lost a race with another creator: open theirs.
                Err(EEXIST) if flags & O_EXCL == 0 => dir.lookup(&name)?,
                r => r?,
            },
            Err(e) => return Err(e),
        }
    } else {
        nd.path_lookupat(start, path, follow)?
    };
    if inode.is_symlink() {
        return Err(ELOOP);
    }
    if flags & O_DIRECTORY != 0 && !inode.is_dir() {
        return Err(ENOTDIR);
    }
    let acc = flags & O_ACCMODE;
    if inode.is_dir() && (flags & O_CREAT != 0 || acc == O_WRONLY || acc == O_RDWR) {
        return Err(EISDIR);
    }
    let file = File::open_inode(inode.clone(), flags)?;
    if flags & O_TRUNC != 0 && inode.is_reg() {
        inode.truncate(0);
    }
    Ok(file)
}
