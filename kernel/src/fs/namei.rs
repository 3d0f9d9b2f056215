//! Path name lookup (mirrors fs/namei.c: link_path_walk, walk_component,
//! follow_dotdot, trailing_symlink, filename_parentat, kern_path, and the
//! do_mkdirat/do_rmdir/do_unlinkat/do_symlinkat/do_mknodat/do_linkat paths).
//!
//! A walk starts at the root (relative paths too, until tasks have a
//! working directory), takes one component at a time, and follows
//! symlinks by pushing their target's components onto a stack, so the
//! depth costs heap, not kernel stack. At most 40 links are followed in one
//! walk (MAXSYMLINKS): ELOOP. A trailing slash makes the last component
//! behave as if followed by `.`: it must be a directory, and a symlink
//! there is followed.
//!
//! Left out: mounts, permission checks (MAY_EXEC on directories), RCU walk,
//! the dentry cache, AT_EMPTY_PATH and dirfd-relative lookups.

use super::inode::*;
use crate::kernel::errno::*;
use crate::sync::Once;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Including the terminating NUL, as Linux: a 4096-byte path is too long.
pub const PATH_MAX: usize = 4096;
pub const MAXSYMLINKS: u32 = 40;

static ROOT: Once<Arc<Inode>> = Once::new();

/// The root directory (rootfs). Made on first use; vfs_caches_init fills it.
pub fn root() -> Arc<Inode> {
    ROOT.call_once(|| Inode::new_root(0o755)).clone()
}

/// `struct nameidata`: where a walk is, and what bounds it.
pub struct Nameidata {
    /// `/` and the limit of `..` (a chroot, or an initramfs target directory).
    pub root: Arc<Inode>,
    total_link_count: u32,
}

/// Components of `path` in reverse (so `pop` yields the next), with `.`
/// appended after a trailing slash.
fn components(path: &str) -> Vec<String> {
    let mut v: Vec<String> = path.split('/').filter(|c| !c.is_empty()).map(String::from).collect();
    if path.ends_with('/') && !v.is_empty() {
        v.push(String::from("."));
    }
    v.reverse();
    v
}

fn getname(path: &str) -> KResult<()> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    Ok(())
}

impl Nameidata {
    pub fn new(root: Arc<Inode>) -> Self {
        Nameidata { root, total_link_count: 0 }
    }

    /// `follow_dotdot`: never above `root`.
    fn dotdot(&self, dir: &Arc<Inode>) -> KResult<Arc<Inode>> {
        if Arc::ptr_eq(dir, &self.root) {
            return Ok(dir.clone());
        }
        dir.parent()
    }

    /// Walk `path` from `start` (or from `root` if it is absolute). The last
    /// component's symlink is followed only if `follow`.
    pub fn path_lookupat(&mut self, start: &Arc<Inode>, path: &str, follow: bool) -> KResult<Arc<Inode>> {
        getname(path)?;
        let mut cur = if path.starts_with('/') { self.root.clone() } else { start.clone() };
        let mut stack: Vec<Vec<String>> = alloc::vec![components(path)];
        while let Some(frame) = stack.last_mut() {
            let Some(name) = frame.pop() else {
                stack.pop();
                continue;
            };
            if !cur.is_dir() {
                return Err(ENOTDIR);
            }
            let next = match name.as_str() {
                "." => continue,
                ".." => self.dotdot(&cur)?,
                _ => cur.lookup(&name)?,
            };
            let last = stack.iter().all(|f| f.is_empty());
            if next.is_symlink() && (follow || !last) {
                let target = self.trailing_symlink(&next)?;
                if target.starts_with('/') {
                    cur = self.root.clone();
                }
                stack.push(components(&target));
                continue;
            }
            cur = next;
        }
        Ok(cur)
    }

    /// Count a link and return its target (ELOOP past MAXSYMLINKS).
    fn trailing_symlink(&mut self, link: &Inode) -> KResult<String> {
        self.total_link_count += 1;
        if self.total_link_count > MAXSYMLINKS {
            return Err(ELOOP);
        }
        let target = link.readlink()?;
        if target.is_empty() {
            return Err(ENOENT);
        }
        Ok(target)
    }

    /// `filename_parentat`: the directory that holds the last component,
    /// the component, and whether the path ended in a slash. The last
    /// component may be `.` or `..` (the callers then fail as Linux does),
    /// and is `.` for `/`.
    pub fn path_parentat(&mut self, start: &Arc<Inode>, path: &str) -> KResult<(Arc<Inode>, String, bool)> {
        getname(path)?;
        let trimmed = path.trim_end_matches('/');
        let slash = trimmed.len() != path.len();
        let (dir_part, last) = match trimmed.rfind('/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => ("", trimmed),
        };
        if last.len() > NAME_MAX {
            return Err(ENAMETOOLONG);
        }
        let dir = match dir_part {
            "" if path.starts_with('/') => self.root.clone(),
            "" => start.clone(),
            d => self.path_lookupat(start, d, true)?,
        };
        if !dir.is_dir() {
            return Err(ENOTDIR);
        }
        Ok((dir, String::from(if last.is_empty() { "." } else { last }), slash))
    }

    /// Follow `name` in `dir` if it is a symlink, for open(O_CREAT) on a
    /// dangling link: returns where the file should be created.
    pub fn follow_for_create(&mut self, dir: Arc<Inode>, name: String) -> KResult<(Arc<Inode>, String, bool)> {
        let (mut dir, mut name, mut slash) = (dir, name, false);
        loop {
            match dir.lookup(&name) {
                Ok(i) if i.is_symlink() => {
                    let target = self.trailing_symlink(&i)?;
                    (dir, name, slash) = self.path_parentat(&dir, &target)?;
                }
                _ => return Ok((dir, name, slash)),
            }
        }
    }
}

/// `kern_path`: look `path` up from the root.
pub fn kern_path(path: &str, follow: bool) -> KResult<Arc<Inode>> {
    let root = root();
    Nameidata::new(root.clone()).path_lookupat(&root, path, follow)
}

/// `kern_path_parent` (Linux's kern_path_locked without the lock): the
/// parent directory and the last component. A trailing slash is dropped;
/// the do_* functions below honour it.
pub fn kern_path_parent(path: &str) -> KResult<(Arc<Inode>, String)> {
    path_parent(path).map(|(d, n, _)| (d, n))
}

fn path_parent(path: &str) -> KResult<(Arc<Inode>, String, bool)> {
    let root = root();
    Nameidata::new(root.clone()).path_parentat(&root, path)
}

/// `filename_create`'s trailing-slash rule: only mkdir may name a new
/// entry `foo/` (EEXIST if it exists, else ENOENT).
fn create_target(path: &str, is_dir: bool) -> KResult<(Arc<Inode>, String)> {
    let (dir, name, slash) = path_parent(path)?;
    if slash && !is_dir {
        return Err(if dir.lookup(&name).is_ok() { EEXIST } else { ENOENT });
    }
    Ok((dir, name))
}

/// mkdir(2) without the umask (the caller applies it).
pub fn do_mkdirat(path: &str, mode: u32) -> KResult<Arc<Inode>> {
    let (dir, name) = create_target(path, true)?;
    dir.mkdir(&name, mode)
}

pub fn do_rmdir(path: &str) -> KResult<()> {
    let (dir, name, _) = path_parent(path)?;
    if path.trim_end_matches('/').is_empty() {
        return Err(EBUSY);
    }
    dir.rmdir(&name)
}

/// unlink(2): `foo/` names a directory, so a file there is ENOTDIR.
pub fn do_unlinkat(path: &str) -> KResult<()> {
    let (dir, name, slash) = path_parent(path)?;
    if slash {
        let victim = dir.lookup(&name)?;
        return Err(if victim.is_dir() { EISDIR } else { ENOTDIR });
    }
    dir.unlink(&name)
}

pub fn do_symlinkat(target: &str, path: &str) -> KResult<Arc<Inode>> {
    getname(target)?;
    let (dir, name) = create_target(path, false)?;
    dir.symlink(&name, target)
}

pub fn do_mknodat(path: &str, mode: u32, major: u32, minor: u32) -> KResult<Arc<Inode>> {
    let (dir, name) = create_target(path, false)?;
    dir.mknod(&name, mode, major, minor)
}

/// link(2): the old path's last symlink is not followed (as Linux without AT_SYMLINK_FOLLOW).
pub fn do_linkat(old: &str, new: &str) -> KResult<()> {
    let target = kern_path(old, false)?;
    let (dir, name) = create_target(new, false)?;
    dir.link(&name, &target)
}
