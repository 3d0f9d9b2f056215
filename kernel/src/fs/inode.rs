//! In-memory inodes: the ramfs that is Linux's rootfs (mirrors fs/ramfs/inode.c
//! and the libfs.c helpers it uses: simple_lookup, simple_unlink,
//! simple_rmdir, dcache_readdir; plus the stat bits of include/uapi/linux/stat.h).
//!
//! An `Inode` holds its contents directly: file data in 4 KiB pages (the
//! page cache is ramfs's only storage; holes read as zeros), a directory's
//! entries (name -> inode, in name order; Linux lists newest first), a
//! symlink's target, or a device number. With no dentry cache, a
//! directory remembers its parent for `..`.
//!
//! File pages are physical pages from the page allocator (`PageRef`, one
//! page reference held by the file), so that a MAP_SHARED mapping maps the
//! very same pages (`find_or_create_page`): a store through the mapping is
//! seen by read(2) and a write(2) by the mapping, as with Linux's page
//! cache. A shared anonymous mapping is an unlinked file of this kind
//! (`new_shmem`, Linux's shmem_zero_setup). Truncation drops the file's
//! references but does not unmap pages still mapped (Linux's
//! truncate_pagecache does): such a mapping keeps the orphaned page.
//!
//! Left out: permission checks (everything runs as root), xattrs,
//! the dentry/inode caches and mounts. Times are the wall clock
//! (`current_time`: CLOCK_REALTIME), or what an initramfs sets.
//!
//! Locking: each inode's `i` lock (a leaf, except that a directory's lock
//! may be held while taking a child's: parent before child). A rename
//! holds RENAME_LOCK (Linux: s_vfs_rename_mutex), then both directories'
//! locks, an ancestor before its descendants (lock_rename), then the
//! moved and the replaced inode's.

use crate::kernel::errno::*;
use crate::kernel::time::ktime_get_real_ns as current_time;
use crate::mm::page_alloc::PageRef;
use crate::sync::SpinLock;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

pub const S_IFMT: u32 = 0o170000;
pub const S_IFSOCK: u32 = 0o140000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFIFO: u32 = 0o010000;
/// Permission bits with setuid, setgid and sticky (S_IALLUGO).
pub const S_IALLUGO: u32 = 0o7777;

pub const DT_UNKNOWN: u8 = 0;
pub const DT_FIFO: u8 = 1;
pub const DT_CHR: u8 = 2;
pub const DT_DIR: u8 = 4;
pub const DT_BLK: u8 = 6;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;
pub const DT_SOCK: u8 = 12;

pub const NAME_MAX: usize = 255;
/// MAX_LFS_FILESIZE on 64-bit.
pub const MAX_LFS_FILESIZE: u64 = i64::MAX as u64;
const PAGE: usize = 4096;

/// Linux's `get_next_ino`; the root is inode 1.
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

enum Contents {
    Reg { pages: BTreeMap<u64, PageRef>, size: u64 },
    Dir { entries: BTreeMap<String, Arc<Inode>>, parent: Weak<Inode> },
    Symlink(String),
    /// Character and block devices, FIFOs and sockets.
    Special { major: u32, minor: u32 },
}

struct InodeInner {
    atime: u64,
    mtime: u64,
    ctime: u64,
    contents: Contents,
}

pub struct Inode {
    ino: u64,
    /// Type and permission bits; the type never changes.
    mode: AtomicU32,
    nlink: AtomicU32,
    uid: AtomicU32,
    gid: AtomicU32,
    this: Weak<Inode>,
    i: SpinLock<InodeInner>,
}

/// `struct kstat`, as vfs_getattr fills it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kstat {
    pub ino: u64,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    pub size: u64,
    pub blocks: u64,
    pub atime_ns: u64,
    pub mtime_ns: u64,
    pub ctime_ns: u64,
}

pub fn s_isdir(mode: u32) -> bool {
    mode & S_IFMT == S_IFDIR
}

/// `fs_umode_to_dtype`.
pub fn dtype_of(mode: u32) -> u8 {
    ((mode & S_IFMT) >> 12) as u8
}

fn check_name(name: &str) -> KResult<()> {
    if name.is_empty() {
        return Err(ENOENT);
    }
    if name.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    if name.contains('/') || name.contains('\0') {
        return Err(EINVAL);
    }
    Ok(())
}

/// A zeroed page for file data, or ENOMEM.
fn alloc_page() -> KResult<PageRef> {
    PageRef::alloc_zeroed().ok_or(ENOMEM)
}

impl Inode {
    /// `ramfs_get_inode`: a new inode of `mode`'s type, not yet linked anywhere.
    fn new(mode: u32, contents: Contents) -> Arc<Inode> {
        let now = current_time();
        let nlink = if s_isdir(mode) { 2 } else { 1 };
        Arc::new_cyclic(|this| Inode {
            ino: NEXT_INO.fetch_add(1, Relaxed),
            mode: AtomicU32::new(mode),
            nlink: AtomicU32::new(nlink),
            uid: AtomicU32::new(0),
            gid: AtomicU32::new(0),
            this: this.clone(),
            i: SpinLock::new("inode", InodeInner { atime: now, mtime: now, ctime: now, contents }),
        })
    }

    /// `shmem_zero_setup`'s file: an unlinked regular file of `size` zero
    /// bytes, the backing of a MAP_SHARED|MAP_ANONYMOUS mapping.
    pub fn new_shmem(size: u64) -> Arc<Inode> {
        Inode::new(S_IFREG | 0o600, Contents::Reg { pages: BTreeMap::new(), size })
    }

    /// `find_or_create_page` for a shared mapping's fault: the physical
    /// page holding file page `index`, with one more reference taken for
    /// the caller's PTE; a hole gets a zeroed page. A page wholly past the
    /// end of the file is EFAULT (Linux: SIGBUS; Tine's fault path sends
    /// SIGSEGV).
    pub fn find_or_create_page(&self, index: u64) -> KResult<u64> {
        let mut i = self.i.lock();
        let Contents::Reg { pages, size } = &mut i.contents else {
            return Err(ENODEV);
        };
        if index >= size.div_ceil(PAGE as u64) {
            return Err(EFAULT);
        }
        let pa = match pages.get(&index) {
            Some(p) => p.phys(),
            None => pages.entry(index).or_insert(alloc_page()?).phys(),
        };
        crate::mm::page_alloc::get_page(pa);
        Ok(pa)
    }

    /// The root directory of a new ramfs (its `..` is itself).
    pub fn new_root(mode: u32) -> Arc<Inode> {
        Inode::new(S_IFDIR | (mode & S_IALLUGO), Contents::Dir { entries: BTreeMap::new(), parent: Weak::new() })
    }

    /// An inode on no directory, for a pseudo file system (pipefs's
    /// `get_pipe_inode`): `mode` is S_IFIFO or S_IFSOCK with permissions.
    pub fn new_anon(mode: u32) -> Arc<Inode> {
        Inode::new(mode, Contents::Special { major: 0, minor: 0 })
    }

    fn arc(&self) -> Arc<Inode> {
        self.this.upgrade().expect("inode used while being freed")
    }

    pub fn ino(&self) -> u64 {
        self.ino
    }
    pub fn mode(&self) -> u32 {
        self.mode.load(Relaxed)
    }
    pub fn nlink(&self) -> u32 {
        self.nlink.load(Relaxed)
    }
    pub fn is_dir(&self) -> bool {
        s_isdir(self.mode())
    }
    pub fn is_reg(&self) -> bool {
        self.mode() & S_IFMT == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode() & S_IFMT == S_IFLNK
    }
    pub fn is_chr(&self) -> bool {
        self.mode() & S_IFMT == S_IFCHR
    }

    pub fn size(&self) -> u64 {
        match &self.i.lock().contents {
            Contents::Reg { size, .. } => *size,
            Contents::Symlink(t) => t.len() as u64,
            _ => 0,
        }
    }

    /// chmod: new permission bits, the type kept.
    pub fn set_perm(&self, perm: u32) {
        let mode = (self.mode() & !S_IALLUGO) | (perm & S_IALLUGO);
        self.mode.store(mode, Relaxed);
        self.i.lock().ctime = current_time();
    }

    pub fn set_owner(&self, uid: u32, gid: u32) {
        self.uid.store(uid, Relaxed);
        self.gid.store(gid, Relaxed);
    }

    pub fn set_mtime(&self, ns: u64) {
        let mut i = self.i.lock();
        i.mtime = ns;
        i.atime = ns;
    }

    /// utimensat: new access and/or modification times; ctime becomes now.
    pub fn set_times(&self, atime: Option<u64>, mtime: Option<u64>) {
        let mut i = self.i.lock();
        if let Some(a) = atime {
            i.atime = a;
        }
        if let Some(m) = mtime {
            i.mtime = m;
        }
        i.ctime = current_time();
    }

    /// chown(2)'s notify_change: new owner (None keeps one), and for
    /// anything but a directory the setuid bit dropped, and the setgid bit
    /// when group-execute is set (ATTR_KILL_SUID, ATTR_KILL_SGID).
    pub fn chown(&self, uid: Option<u32>, gid: Option<u32>) {
        if let Some(u) = uid {
            self.uid.store(u, Relaxed);
        }
        if let Some(g) = gid {
            self.gid.store(g, Relaxed);
        }
        if !self.is_dir() {
            let mut mode = self.mode() & !0o4000;
            if mode & 0o2010 == 0o2010 {
                mode &= !0o2000;
            }
            self.mode.store(mode, Relaxed);
        }
        self.i.lock().ctime = current_time();
    }

    /// The name this inode has in directory `dir` (for getcwd's d_path).
    pub fn name_in(&self, dir: &Inode) -> Option<String> {
        let i = dir.i.lock();
        let Contents::Dir { entries, .. } = &i.contents else { return None };
        entries.iter().find(|(_, c)| core::ptr::eq(Arc::as_ptr(c), self)).map(|(n, _)| n.clone())
    }

    /// An empty directory (`simple_empty`).
    fn is_empty_dir(&self) -> bool {
        matches!(&self.i.lock().contents, Contents::Dir { entries, .. } if entries.is_empty())
    }

    /// Device number of a device node.
    pub fn rdev(&self) -> Option<(u32, u32)> {
        match &self.i.lock().contents {
            Contents::Special { major, minor } => Some((*major, *minor)),
            _ => None,
        }
    }

    /// `vfs_getattr` / `generic_fillattr`.
    pub fn getattr(&self) -> Kstat {
        let i = self.i.lock();
        let (size, rdev, pages) = match &i.contents {
            Contents::Reg { size, pages } => (*size, (0, 0), pages.len() as u64),
            Contents::Symlink(t) => (t.len() as u64, (0, 0), 0),
            Contents::Dir { .. } => (0, (0, 0), 0),
            Contents::Special { major, minor } => (0, (*major, *minor), 0),
        };
        Kstat {
            ino: self.ino,
            mode: self.mode(),
            nlink: self.nlink(),
            uid: self.uid.load(Relaxed),
            gid: self.gid.load(Relaxed),
            rdev_major: rdev.0,
            rdev_minor: rdev.1,
            size,
            blocks: pages * (PAGE as u64 / 512),
            atime_ns: i.atime,
            mtime_ns: i.mtime,
            ctime_ns: i.ctime,
        }
    }

    /// Read file data at `off` (short at end of file). EISDIR for a
    /// directory, EINVAL for anything else that is not a regular file.
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> KResult<usize> {
        let mut i = self.i.lock();
        let Contents::Reg { pages, size } = &i.contents else {
            return Err(if self.is_dir() { EISDIR } else { EINVAL });
        };
        if off >= *size {
            return Ok(0);
        }
        let n = buf.len().min((*size - off) as usize);
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let (idx, in_page) = (pos / PAGE as u64, (pos % PAGE as u64) as usize);
            let chunk = (PAGE - in_page).min(n - done);
            match pages.get(&idx) {
                Some(p) => p.read(in_page, &mut buf[done..done + chunk]),
                None => buf[done..done + chunk].fill(0),
            }
            done += chunk;
        }
        i.atime = current_time();
        Ok(n)
    }

    /// Write file data at `off`, growing the file (`generic_perform_write`).
    pub fn write_at(&self, off: u64, buf: &[u8]) -> KResult<usize> {
        self.write(Some(off), buf).map(|(n, _)| n)
    }

    /// Write at `off`, or at the end of file when `off` is None (O_APPEND,
    /// atomically). Returns the bytes written and the offset after them.
    pub fn write(&self, off: Option<u64>, buf: &[u8]) -> KResult<(usize, u64)> {
        let mut i = self.i.lock();
        let Contents::Reg { pages, size } = &mut i.contents else {
            return Err(if self.is_dir() { EISDIR } else { EINVAL });
        };
        let off = off.unwrap_or(*size);
        if buf.is_empty() {
            return Ok((0, off));
        }
        if off >= MAX_LFS_FILESIZE {
            return Err(EFBIG);
        }
        let n = buf.len().min((MAX_LFS_FILESIZE - off) as usize);
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let (idx, in_page) = (pos / PAGE as u64, (pos % PAGE as u64) as usize);
            let chunk = (PAGE - in_page).min(n - done);
            let page = match pages.get(&idx) {
                Some(p) => p,
                None => match alloc_page() {
                    Ok(p) => pages.entry(idx).or_insert(p),
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                },
            };
            page.write(in_page, &buf[done..done + chunk]);
            done += chunk;
        }
        let end = off + done as u64;
        *size = (*size).max(end);
        let now = current_time();
        (i.mtime, i.ctime) = (now, now);
        Ok((done, end))
    }

    /// Set a regular file's size, dropping pages past it and zeroing the
    /// tail of the last one (so growing again reads zeros).
    pub fn truncate(&self, len: u64) {
        let mut i = self.i.lock();
        if let Contents::Reg { pages, size } = &mut i.contents {
            let first_gone = len.div_ceil(PAGE as u64);
            pages.split_off(&first_gone);
            if len % PAGE as u64 != 0 {
                if let Some(p) = pages.get(&(len / PAGE as u64)) {
                    p.zero_from((len % PAGE as u64) as usize);
                }
            }
            *size = len;
            let now = current_time();
            (i.mtime, i.ctime) = (now, now);
        }
    }

    /// A symlink's target (EINVAL for anything else, as readlink(2)).
    pub fn readlink(&self) -> KResult<String> {
        match &self.i.lock().contents {
            Contents::Symlink(t) => Ok(t.clone()),
            _ => Err(EINVAL),
        }
    }

    /// The directory this one is linked in (itself for a root).
    pub fn parent(&self) -> KResult<Arc<Inode>> {
        match &self.i.lock().contents {
            Contents::Dir { parent, .. } => Ok(parent.upgrade().unwrap_or_else(|| self.arc())),
            _ => Err(ENOTDIR),
        }
    }

    /// `simple_lookup`, with `.` and `..` answered too.
    pub fn lookup(&self, name: &str) -> KResult<Arc<Inode>> {
        if name == "." {
            return if self.is_dir() { Ok(self.arc()) } else { Err(ENOTDIR) };
        }
        if name == ".." {
            return self.parent();
        }
        check_name(name)?;
        match &self.i.lock().contents {
            Contents::Dir { entries, .. } => entries.get(name).cloned().ok_or(ENOENT),
            _ => Err(ENOTDIR),
        }
    }

    /// Link `child` into this directory under `name` (d_instantiate).
    fn add_entry(&self, name: &str, child: Arc<Inode>) -> KResult<Arc<Inode>> {
        check_name(name)?;
        let mut i = self.i.lock();
        let Contents::Dir { entries, .. } = &mut i.contents else { return Err(ENOTDIR) };
        if name == "." || name == ".." || entries.contains_key(name) {
            return Err(EEXIST);
        }
        // A removed directory takes no new entries.
        if self.nlink() == 0 {
            return Err(ENOENT);
        }
        if child.is_dir() {
            self.nlink.fetch_add(1, Relaxed);
            if let Contents::Dir { parent, .. } = &mut child.i.lock().contents {
                *parent = self.this.clone();
            }
        }
        entries.insert(name.into(), child.clone());
        let now = current_time();
        (i.mtime, i.ctime) = (now, now);
        Ok(child)
    }

    /// `ramfs_create`: a new empty regular file.
    pub fn create(&self, name: &str, mode: u32) -> KResult<Arc<Inode>> {
        let contents = Contents::Reg { pages: BTreeMap::new(), size: 0 };
        self.add_entry(name, Inode::new(S_IFREG | (mode & S_IALLUGO), contents))
    }

    /// `ramfs_mkdir`.
    pub fn mkdir(&self, name: &str, mode: u32) -> KResult<Arc<Inode>> {
        let contents = Contents::Dir { entries: BTreeMap::new(), parent: Weak::new() };
        self.add_entry(name, Inode::new(S_IFDIR | (mode & S_IALLUGO), contents))
    }

    /// `ramfs_symlink` (mode 0777 as Linux).
    pub fn symlink(&self, name: &str, target: &str) -> KResult<Arc<Inode>> {
        if target.is_empty() {
            return Err(ENOENT);
        }
        if target.len() >= super::namei::PATH_MAX {
            return Err(ENAMETOOLONG);
        }
        self.add_entry(name, Inode::new(S_IFLNK | 0o777, Contents::Symlink(target.into())))
    }

    /// `ramfs_mknod`: a device node, FIFO or socket; a regular file when
    /// `mode` has no type or S_IFREG, as mknod(2).
    pub fn mknod(&self, name: &str, mode: u32, major: u32, minor: u32) -> KResult<Arc<Inode>> {
        match mode & S_IFMT {
            0 | S_IFREG => self.create(name, mode),
            S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {
                self.add_entry(name, Inode::new(mode, Contents::Special { major, minor }))
            }
            S_IFDIR => Err(EPERM),
            _ => Err(EINVAL),
        }
    }

    /// `simple_link`: a hard link to `target` (EPERM for directories).
    pub fn link(&self, name: &str, target: &Arc<Inode>) -> KResult<()> {
        if target.is_dir() {
            return Err(EPERM);
        }
        if target.nlink() == 0 {
            return Err(ENOENT);
        }
        self.add_entry(name, target.clone())?;
        target.nlink.fetch_add(1, Relaxed);
        target.i.lock().ctime = current_time();
        Ok(())
    }

    /// Remove the entry `name`, which must (`want_dir`) or must not be a directory.
    fn remove_entry(&self, name: &str, want_dir: bool) -> KResult<Arc<Inode>> {
        match name {
            "." if want_dir => return Err(EINVAL),
            ".." if want_dir => return Err(ENOTEMPTY),
            "." | ".." => return Err(EISDIR),
            _ => check_name(name)?,
        }
        let mut i = self.i.lock();
        let Contents::Dir { entries, .. } = &mut i.contents else { return Err(ENOTDIR) };
        let child = entries.get(name).ok_or(ENOENT)?;
        match (want_dir, child.is_dir()) {
            (false, true) => return Err(EISDIR),
            (true, false) => return Err(ENOTDIR),
            (true, true) => {
                let ci = child.i.lock();
                if matches!(&ci.contents, Contents::Dir { entries, .. } if !entries.is_empty()) {
                    return Err(ENOTEMPTY);
                }
            }
            _ => {}
        }
        let child = entries.remove(name).expect("entry vanished under the lock");
        if want_dir {
            child.nlink.store(0, Relaxed);
            self.nlink.fetch_sub(1, Relaxed);
        } else {
            child.nlink.fetch_sub(1, Relaxed);
        }
        let now = current_time();
        (i.mtime, i.ctime) = (now, now);
        Ok(child)
    }

    /// `simple_unlink`. Open files keep the inode until their last close.
    pub fn unlink(&self, name: &str) -> KResult<()> {
        self.remove_entry(name, false).map(drop)
    }

    /// `simple_rmdir`: ENOTEMPTY unless the directory is empty.
    pub fn rmdir(&self, name: &str) -> KResult<()> {
        self.remove_entry(name, true).map(drop)
    }

    /// `dcache_readdir`: `.`, `..`, then the entries, as (name, ino, d_type).
    /// (rename is `simple_rename` below.)
    pub fn readdir(&self) -> Vec<(String, u64, u8)> {
        let parent_ino = self.parent().map(|p| p.ino).unwrap_or(self.ino);
        let i = self.i.lock();
        let Contents::Dir { entries, .. } = &i.contents else { return Vec::new() };
        let mut v = Vec::with_capacity(entries.len() + 2);
        v.push((String::from("."), self.ino, DT_DIR));
        v.push((String::from(".."), parent_ino, DT_DIR));
        v.extend(entries.iter().map(|(n, c)| (n.clone(), c.ino, dtype_of(c.mode()))));
        v
    }
}

/// Serializes renames (Linux: the superblock's s_vfs_rename_mutex), so
/// that directory ancestry, which only rename changes, holds still.
static RENAME_LOCK: SpinLock<()> = SpinLock::new("s_vfs_rename_mutex", ());

/// Is `a` the directory `b` or one of its ancestors?
fn is_ancestor(a: &Arc<Inode>, b: &Arc<Inode>) -> bool {
    let mut cur = b.clone();
    loop {
        if Arc::ptr_eq(a, &cur) {
            return true;
        }
        match cur.parent() {
            Ok(p) if !Arc::ptr_eq(&p, &cur) => cur = p,
            _ => return false,
        }
    }
}

fn dir_entries(i: &mut InodeInner) -> KResult<&mut BTreeMap<String, Arc<Inode>>> {
    match &mut i.contents {
        Contents::Dir { entries, .. } => Ok(entries),
        _ => Err(ENOTDIR),
    }
}

fn set_parent(dir: &Inode, parent: &Arc<Inode>) {
    if let Contents::Dir { parent: p, .. } = &mut dir.i.lock().contents {
        *p = Arc::downgrade(parent);
    }
}

const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;

/// `simple_rename` with vfs_rename's and lock_rename's checks: move
/// `old_dir/old_name` to `new_dir/new_name`, replacing what is there
/// (or swapping the two with RENAME_EXCHANGE). In order: ENOENT for a
/// missing source (or target, to exchange), EEXIST with RENAME_NOREPLACE,
/// EINVAL for moving a directory under itself, ENOTEMPTY (EINVAL to
/// exchange) for replacing an ancestor of the source, success without
/// change when both names are one inode, then ENOTDIR / EISDIR for a
/// directory over a non-directory and the reverse, and ENOTEMPTY for a
/// directory over a non-empty one.
pub fn simple_rename(old_dir: &Arc<Inode>, old_name: &str, new_dir: &Arc<Inode>, new_name: &str, flags: u32) -> KResult<()> {
    check_name(old_name)?;
    check_name(new_name)?;
    let exchange = flags & RENAME_EXCHANGE != 0;
    let same_dir = Arc::ptr_eq(old_dir, new_dir);
    let _rename = RENAME_LOCK.lock();
    loop {
        let source = old_dir.lookup(old_name)?;
        let target = match new_dir.lookup(new_name) {
            Ok(t) => Some(t),
            Err(ENOENT) => None,
            Err(e) => return Err(e),
        };
        if flags & RENAME_NOREPLACE != 0 && target.is_some() {
            return Err(EEXIST);
        }
        if exchange && target.is_none() {
            return Err(ENOENT);
        }
        if !same_dir {
            if is_ancestor(&source, new_dir) {
                return Err(EINVAL);
            }
            if target.as_ref().is_some_and(|t| is_ancestor(t, old_dir)) {
                return Err(if exchange { EINVAL } else { ENOTEMPTY });
            }
        }
        if let Some(t) = &target {
            if Arc::ptr_eq(t, &source) {
                return Ok(());
            }
            if !exchange {
                match (source.is_dir(), t.is_dir()) {
                    (true, false) => return Err(ENOTDIR),
                    (false, true) => return Err(EISDIR),
                    _ => {}
                }
            }
        }

        // lock_rename: the ancestor first (unrelated directories in any
        // order: nothing else holds two of them).
        let old_first = same_dir || !is_ancestor(new_dir, old_dir);
        let (first, second) = if old_first { (old_dir, new_dir) } else { (new_dir, old_dir) };
        let mut g1 = first.i.lock();
        let mut g2 = if same_dir { None } else { Some(second.i.lock()) };
        // The guard of the old (`true`) or the new directory.
        macro_rules! dir {
            ($old:expr) => {
                match (&mut g2, $old == old_first) {
                    (Some(g), false) => &mut **g,
                    _ => &mut *g1,
                }
            };
        }
        // An unlink or create may have won the race since the lookups: retry.
        let still_source = dir_entries(dir!(true))?.get(old_name).is_some_and(|s| Arc::ptr_eq(s, &source));
        let still_target = match (dir_entries(dir!(false))?.get(new_name), &target) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if !still_source || !still_target {
            continue;
        }
        if new_dir.nlink() == 0 {
            return Err(ENOENT); // a removed directory takes no new entries
        }
        if let Some(t) = &target {
            if !exchange && t.is_dir() && !t.is_empty_dir() {
                return Err(ENOTEMPTY);
            }
        }

        let src = dir_entries(dir!(true))?.remove(old_name).expect("entry checked under the lock");
        let displaced = dir_entries(dir!(false))?.insert(new_name.into(), src);
        if exchange {
            let t = displaced.expect("target checked under the lock");
            dir_entries(dir!(true))?.insert(old_name.into(), t.clone());
            if !same_dir {
                if t.is_dir() {
                    set_parent(&t, old_dir);
                }
                if source.is_dir() != t.is_dir() {
                    let (from, to) = if source.is_dir() { (old_dir, new_dir) } else { (new_dir, old_dir) };
                    from.nlink.fetch_sub(1, Relaxed);
                    to.nlink.fetch_add(1, Relaxed);
                }
            }
            t.i.lock().ctime = current_time();
        } else {
            if let Some(t) = displaced {
                if t.is_dir() {
                    t.nlink.store(0, Relaxed);
                    new_dir.nlink.fetch_sub(1, Relaxed);
                } else {
                    t.nlink.fetch_sub(1, Relaxed);
                }
                t.i.lock().ctime = current_time();
            }
            if source.is_dir() && !same_dir {
                old_dir.nlink.fetch_sub(1, Relaxed);
                new_dir.nlink.fetch_add(1, Relaxed);
            }
        }
        if source.is_dir() && !same_dir {
            set_parent(&source, new_dir);
        }
        let now = current_time();
        for g in [Some(&mut *g1), g2.as_deref_mut()].into_iter().flatten() {
            (g.mtime, g.ctime) = (now, now);
        }
        source.i.lock().ctime = now;
        return Ok(());
    }
}
