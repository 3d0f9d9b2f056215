//! Unpacking the initramfs into rootfs (mirrors init/initramfs.c:
//! populate_rootfs, unpack_to_rootfs, do_name, do_symlink, clean_path,
//! maybe_link, dir_utime). The cpio parsing is klib::cpio.
//!
//! Each entry is created as Linux's do_name does: a regular file is
//! created or truncated and written, a directory is made if missing (an
//! existing one keeps its contents), a device node is made if missing, a
//! symlink always replaces what was there; an entry whose type differs
//! from the existing one's replaces it (clean_path). Owner, mode and mtime
//! come from the archive (directories' mtimes are set at the end, as
//! dir_utime). Hard links (nlink >= 2 with the same ino and device) become
//! links to the first entry. Failures of single entries (say, a missing
//! parent directory) are ignored, as in Linux.
//!
//! Differences: compressed archives are not supported (reported as Linux
//! does when a method is not configured), and a truncated or malformed
//! archive is reported (Linux stops silently). The entries before the
//! damage stay unpacked in both.

use super::inode::*;
use super::namei::{root, Nameidata};
use crate::kernel::errno::*;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use klib::cpio::{self, CpioEntry, CpioError};

/// `populate_rootfs`: unpack an initrd image into `/`. Returns the number
/// of entries unpacked; a damaged archive logs `Initramfs unpacking
/// failed: <why>` and is EINVAL.
pub fn populate_rootfs(image: &[u8]) -> KResult<usize> {
    pr_info!("Trying to unpack rootfs image as initramfs...");
    unpack_to_rootfs(&root(), image).map_err(|e| {
        pr_emerg!("Initramfs unpacking failed: {}", e);
        EINVAL
    })
}

/// `unpack_to_rootfs`, into `dir` (names resolve inside it, as if it were `/`).
pub fn unpack_to_rootfs(dir: &Arc<Inode>, image: &[u8]) -> Result<usize, CpioError> {
    let mut u = Unpacker { root: dir.clone(), links: BTreeMap::new(), dir_mtimes: Vec::new() };
    let mut count = 0;
    let mut result = Ok(());
    for e in cpio::entries_with_trailers(image) {
        match e {
            // free_hash: links never span archives.
            Ok(e) if e.name == cpio::TRAILER => u.links.clear(),
            Ok(e) => {
                u.do_name(&e);
                count += 1;
            }
            Err(err) => {
                result = Err(err);
                break;
            }
        }
    }
    // dir_utime
    for (d, mtime) in u.dir_mtimes.drain(..) {
        d.set_mtime(mtime);
    }
    result.map(|()| count)
}

struct Unpacker {
    /// Where names resolve from, and their `/`.
    root: Arc<Inode>,
    /// maybe_link's hash: (ino, dev major, dev minor, mode) -> first name.
    links: BTreeMap<(u32, u32, u32, u32), String>,
    dir_mtimes: Vec<(Arc<Inode>, u64)>,
}

impl Unpacker {
    fn parent(&self, name: &str) -> KResult<(Arc<Inode>, String)> {
        let (dir, last, _) = Nameidata::new(self.root.clone()).path_parentat(&self.root, name)?;
        Ok((dir, last))
    }

    /// `clean_path`: remove an existing entry whose type differs from `mode`'s.
    fn clean_path(&self, name: &str, mode: u32) {
        let Ok((dir, last)) = self.parent(name) else { return };
        if let Ok(old) = dir.lookup(&last) {
            if (old.mode() ^ mode) & S_IFMT != 0 {
                let _ = if old.is_dir() { dir.rmdir(&last) } else { dir.unlink(&last) };
            }
        }
    }

    /// `maybe_link`: Ok(true) if `e` became a hard link to an earlier entry.
    fn maybe_link(&mut self, e: &CpioEntry<'_>) -> KResult<bool> {
        if e.nlink < 2 {
            return Ok(false);
        }
        let key = (e.ino, e.devmajor, e.devminor, e.mode & S_IFMT);
        let Some(old) = self.links.get(&key).cloned() else {
            self.links.insert(key, e.name.into());
            return Ok(false);
        };
        let target = Nameidata::new(self.root.clone()).path_lookupat(&self.root, &old, false)?;
        self.clean_path(e.name, 0);
        let (dir, last) = self.parent(e.name)?;
        dir.link(&last, &target)?;
        Ok(true)
    }

    fn lookup(&self, name: &str) -> KResult<Arc<Inode>> {
        let (dir, last) = self.parent(name)?;
        dir.lookup(&last)
    }

    /// Owner, mode and times, as do_name's init_chown/init_chmod/do_utime.
    fn set_attrs(inode: &Inode, e: &CpioEntry<'_>) {
        inode.set_owner(e.uid, e.gid);
        inode.set_perm(e.mode);
        inode.set_mtime(e.mtime as u64 * 1_000_000_000);
    }

    fn do_name(&mut self, e: &CpioEntry<'_>) {
        if e.name.len() >= cpio::PATH_MAX {
            return;
        }
        match e.mode & S_IFMT {
            S_IFLNK => {
                // do_symlink: clean_path(collected, 0) removes anything there.
                if e.data.len() >= cpio::PATH_MAX {
                    return;
                }
                let Ok(target) = core::str::from_utf8(e.data) else { return };
                self.clean_path(e.name, 0);
                if let Ok((dir, last)) = self.parent(e.name) {
                    if let Ok(l) = dir.symlink(&last, target) {
                        l.set_owner(e.uid, e.gid);
                        l.set_mtime(e.mtime as u64 * 1_000_000_000);
                    }
                }
            }
            S_IFREG => {
                self.clean_path(e.name, e.mode);
                let linked = match self.maybe_link(e) {
                    Ok(l) => l,
                    Err(_) => return,
                };
                let file = match self.parent(e.name) {
                    Ok((dir, last)) => match dir.lookup(&last) {
                        Ok(f) if f.is_reg() => f,
                        Ok(_) => return,
                        Err(_) => match dir.create(&last, e.mode) {
                            Ok(f) => f,
                            Err(_) => return,
                        },
                    },
                    Err(_) => return,
                };
                if !linked {
                    file.truncate(0);
                }
                let _ = file.write_at(0, e.data);
                Self::set_attrs(&file, e);
            }
            S_IFDIR => {
                self.clean_path(e.name, e.mode);
                if let Ok((dir, last)) = self.parent(e.name) {
                    let _ = dir.mkdir(&last, e.mode);
                }
                if let Ok(d) = self.lookup(e.name) {
                    if d.is_dir() {
                        Self::set_attrs(&d, e);
                        self.dir_mtimes.push((d, e.mtime as u64 * 1_000_000_000));
                    }
                }
            }
            S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK => {
                self.clean_path(e.name, e.mode);
                if let Ok(false) = self.maybe_link(e) {
                    if let Ok((dir, last)) = self.parent(e.name) {
                        let _ = dir.mknod(&last, e.mode, e.rdevmajor, e.rdevminor);
                    }
                    if let Ok(n) = self.lookup(e.name) {
                        Self::set_attrs(&n, e);
                    }
                }
            }
            _ => {}
        }
    }
}
