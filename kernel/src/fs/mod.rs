//! The virtual file system (mirrors fs/: a ramfs rootfs with Linux's path
//! walk, open files and fd tables, unpacked from an initramfs).
//!
//! - inode.rs: in-memory inodes (fs/ramfs/inode.c, fs/libfs.c)
//! - namei.rs: path lookup and the create/remove paths (fs/namei.c)
//! - file.rs: `struct file`, filp_open, open flags (fs/open.c, fs/file_table.c)
//! - read_write.rs: read, write, lseek, getdents' iterate_dir (fs/read_write.c, fs/readdir.c)
//! - fdtable.rs: `files_struct` (fs/file.c)
//! - select.rs: poll(2), ppoll(2) (fs/select.c)
//! - pipe.rs: pipe(2) and pipe2(2) (fs/pipe.c)
//! - fs_struct.rs: `fs_struct`: root, cwd, umask (fs/fs_struct.c)
//! - open.rs: chdir, getcwd, truncate, chmod, chown, utimensat, statx (fs/open.c and others)
//! - char_dev.rs: /dev/null, /dev/zero, /dev/console (fs/char_dev.c, drivers/char/mem.c)
//! - initramfs.rs: unpacking the initrd (init/initramfs.c)
//!
//! There is one file system, rootfs, and no mounts: /proc and /sys are
//! empty directories for now. Left out, for later issues: mounts, the
//! dentry and inode caches, permission checks, named FIFOs, page-cache sharing
//! with mmap.

pub mod binfmt_elf;
pub mod char_dev;
pub mod exec;
pub mod fdtable;
pub mod file;
pub mod fs_struct;
pub mod initramfs;
pub mod inode;
pub mod namei;
pub mod open;
pub mod pipe;
pub mod read_write;
pub mod select;
pub mod syscalls;

// The API the syscall and exec code uses.
#[allow(unused_imports)]
pub use self::{
    fdtable::FilesStruct,
    file::{fcntl, filp_open, File},
    initramfs::populate_rootfs,
    inode::Inode,
    namei::{kern_path, kern_path_parent, root},
    read_write::{vfs_read, vfs_write},
};

use inode::S_IFCHR;

/// Make rootfs's root with /dev/console (which Linux's built-in initramfs,
/// usr/default_cpio_list, provides), /dev/null and /dev/zero, /tmp, and
/// empty /proc and /sys for the mounts to come. Called from start_kernel;
/// calling it again changes nothing.
pub fn vfs_caches_init() {
    let root = root();
    let dev = root.mkdir("dev", 0o755).or_else(|_| root.lookup("dev"));
    if let Ok(dev) = dev {
        let _ = dev.mknod("console", S_IFCHR | 0o600, char_dev::TTYAUX_MAJOR, 1);
        let _ = dev.mknod("null", S_IFCHR | 0o666, char_dev::MEM_MAJOR, 3);
        let _ = dev.mknod("zero", S_IFCHR | 0o666, char_dev::MEM_MAJOR, 5);
    }
    let _ = root.mkdir("proc", 0o555);
    let _ = root.mkdir("sys", 0o555);
    let _ = root.mkdir("tmp", 0o1777);
}
