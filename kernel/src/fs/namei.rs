//! Path name lookup (mirrors fs/namei.c: path_init, link_path_walk,
//! walk_component, follow_dotdot, trailing_symlink, filename_parentat,
//! user_path_at, kern_path, and the do_mkdirat/do_rmdir/do_unlinkat/
//! do_symlinkat/do_mknodat/do_linkat/do_renameat2 paths).
//!
//! A walk starts at the task's root for an absolute path, else at the
//! directory of the `dfd` argument of the *at calls, which is the task's
//! working directory for AT_FDCWD (path_init); it takes one component at a
//! time, and follows
//! symlinks by pushing their target's components onto a stack, so the
//! depth costs heap, not kernel stack. At most 40 links are followed in one
//! walk (MAXSYMLINKS): ELOOP. A trailing slash makes the last component
//! behave as if followed by `.`: it must be a directory, and a symlink
//! there is followed.
//!
//! Left out: mounts, permission checks (MAY_EXEC on directories), RCU walk,
//! the dentry cache; AT_EMPTY_PATH is the callers' (they use the fd).

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

pub use super::file::fcntl::AT_FDCWD;

/// `path_init`: the walk's bounds (the task's root) and where a relative
/// `path` starts: the working directory for AT_FDCWD, else the directory
/// open as `dfd` (EBADF if none, ENOTDIR if it is not a directory). An
/// absolute path ignores `dfd`; an empty one is ENOENT first.
pub fn path_init(dfd: i32, path: &str) -> KResult<(Nameidata, Arc<Inode>)> {
    getname(path)?;
    let (root, pwd) = super::fs_struct::current_root_pwd();
    let start = if path.starts_with('/') {
        root.clone()
    } else if dfd == AT_FDCWD {
        pwd
    } else {
        let files = crate::kernel::task::current().files.lock_irqsave().clone().ok_or(EBADF)?;
        let dir = files.fget(dfd)?.inode().clone();
        if !dir.is_dir() {
            return Err(ENOTDIR);
        }
        dir
    };
    Ok((Nameidata::new(root), start))
}

/// `user_path_at` / `filename_lookup`: look `path` up from `dfd`.
pub fn user_path_at(dfd: i32, path: &str, follow: bool) -> KResult<Arc<Inode>> {
    let (mut nd, start) = path_init(dfd, path)?;
    nd.path_lookupat(&start, path, follow)
}

/// `kern_path`: look `path` up from the working directory (or the root).
pub fn kern_path(path: &str, follow: bool) -> KResult<Arc<Inode>> {
    user_path_at(AT_FDCWD, path, follow)
}

/// `kern_path_parent` (Linux's kern_path_locked without the lock): the
/// parent directory and the last component. A trailing slash is dropped;
/// the do_* functions below honour it.
pub fn kern_path_parent(path: &str) -> KResult<(Arc<Inode>, String)> {
    path_parent(AT_FDCWD, path).map(|(d, n, _)| (d, n))
}

/// `filename_parentat` from `dfd`.
fn path_parent(dfd: i32, path: &str) -> KResult<(Arc<Inode>, String, bool)> {
    let (mut nd, start) = path_init(dfd, path)?;
    nd.path_parentat(&start, path)
}

/// `filename_create`'s trailing-slash rule: only mkdir may name a new
/// entry `foo/` (EEXIST if it exists, else ENOENT).
fn create_target(dfd: i32, path: &str, is_dir: bool) -> KResult<(Arc<Inode>, String)> {
    let (dir, name, slash) = path_parent(dfd, path)?;
    if slash && !is_dir {
        return Err(if dir.lookup(&name).is_ok() { EEXIST } else { ENOENT });
    }
    Ok((dir, name))
}

/// mkdir(2) without the umask (the caller applies it).
pub fn do_mkdirat(dfd: i32, path: &str, mode: u32) -> KResult<Arc<Inode>> {
    let (dir, name) = create_target(dfd, path, true)?;
    dir.mkdir(&name, mode)
}

pub fn do_rmdir(dfd: i32, path: &str) -> KResult<()> {
    let (dir, name, _) = path_parent(dfd, path)?;
    if path.trim_end_matches('/').is_empty() {
        return Err(EBUSY);
    }
    dir.rmdir(&name)
}

/// unlink(2): `foo/` names a directory, so a file there is ENOTDIR.
pub fn do_unlinkat(dfd: i32, path: &str) -> KResult<()> {
    let (dir, name, slash) = path_parent(dfd, path)?;
    if slash {
        let victim = dir.lookup(&name)?;
        return Err(if victim.is_dir() { EISDIR } else { ENOTDIR });
    }
    dir.unlink(&name)
}

pub fn do_symlinkat(target: &str, dfd: i32, path: &str) -> KResult<Arc<Inode>> {
    getname(target)?;
    let (dir, name) = create_target(dfd, path, false)?;
    dir.symlink(&name, target)
}

pub fn do_mknodat(dfd: i32, path: &str, mode: u32, major: u32, minor: u32) -> KResult<Arc<Inode>> {
    let (dir, name) = create_target(dfd, path, false)?;
    dir.mknod(&name, mode, major, minor)
}

/// link(2)/linkat(2): the old path's last symlink is followed only with
/// `follow` (AT_SYMLINK_FOLLOW). A directory is EPERM, an existing new
/// name EEXIST.
pub fn do_linkat(olddfd: i32, old: &str, newdfd: i32, new: &str, follow: bool) -> KResult<()> {
    let target = user_path_at(olddfd, old, follow)?;
    do_link_inode(&target, newdfd, new)
}

/// linkat(2)'s second half: link an inode already found (AT_EMPTY_PATH
/// gives it by fd).
pub fn do_link_inode(target: &Arc<Inode>, newdfd: i32, new: &str) -> KResult<()> {
    let (dir, name) = create_target(newdfd, new, false)?;
    if name == "." || name == ".." {
        return Err(EEXIST);
    }
    dir.link(&name, target)
}

pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;
pub const RENAME_WHITEOUT: u32 = 4;

/// `do_renameat2`: the path half of rename(2). Flags first (EINVAL), then
/// both parents; a last component of `.` or `..` is EBUSY (EEXIST for the
/// new one with RENAME_NOREPLACE), a missing source ENOENT, and a trailing
/// slash on either name needs the source to be a directory (ENOTDIR).
/// The rest (same inode, types, emptiness, loops) is `simple_rename`'s.
/// Whiteouts are for overlay file systems: EINVAL on the ramfs, as Linux.
pub fn do_renameat2(olddfd: i32, old: &str, newdfd: i32, new: &str, flags: u32) -> KResult<()> {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 {
        return Err(EINVAL);
    }
    if flags & RENAME_EXCHANGE != 0 && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0 {
        return Err(EINVAL);
    }
    let (old_dir, old_name, old_slash) = path_parent(olddfd, old)?;
    let (new_dir, new_name, new_slash) = path_parent(newdfd, new)?;
    if old_name == "." || old_name == ".." {
        return Err(EBUSY);
    }
    if new_name == "." || new_name == ".." {
        return Err(if flags & RENAME_NOREPLACE != 0 { EEXIST } else { EBUSY });
    }
    if flags & RENAME_WHITEOUT != 0 {
        return Err(EINVAL);
    }
    let source = old_dir.lookup(&old_name)?;
    if flags & RENAME_EXCHANGE != 0 {
        let target = new_dir.lookup(&new_name)?;
        if (old_slash && !source.is_dir()) || (new_slash && !target.is_dir()) {
            return Err(ENOTDIR);
        }
    } else if (old_slash || new_slash) && !source.is_dir() {
        return Err(ENOTDIR);
    }
    simple_rename(&old_dir, &old_name, &new_dir, &new_name, flags)
}
