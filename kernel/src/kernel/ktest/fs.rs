//! File system tests: path walk edge cases, symlinks and ELOOP, file
//! read/write/seek/append/truncate and the open flags, directories and
//! readdir, the memory devices and the console, fd tables, and initramfs
//! unpacking from archives built here.
//!
//! Each test works in its own directory under /tmp, so they can run in any
//! order in one boot.

use super::{ensure, KTest, TestResult};
use crate::fs::fcntl::*;
use crate::fs::initramfs::{populate_rootfs, unpack_to_rootfs};
use crate::fs::inode::*;
use crate::fs::namei::*;
use crate::fs::{filp_open, vfs_caches_init, File, FilesStruct};
use crate::kernel::errno::*;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use klib::cpio::{write_entry, write_trailer, CpioEntry};

pub const TESTS: &[KTest] = &[
    KTest { name: "fs_path_walk", func: fs_path_walk, min_cpus: 1 },
    KTest { name: "fs_symlinks", func: fs_symlinks, min_cpus: 1 },
    KTest { name: "fs_file_rw", func: fs_file_rw, min_cpus: 1 },
    KTest { name: "fs_open_flags", func: fs_open_flags, min_cpus: 1 },
    KTest { name: "fs_dirs", func: fs_dirs, min_cpus: 1 },
    KTest { name: "fs_devices", func: fs_devices, min_cpus: 1 },
    KTest { name: "fs_fdtable", func: fs_fdtable, min_cpus: 1 },
    KTest { name: "fs_initramfs", func: fs_initramfs, min_cpus: 1 },
    KTest { name: "fs_initramfs_corrupt", func: fs_initramfs_corrupt, min_cpus: 1 },
];

/// `r` must fail with `want`.
fn want_err<T>(what: &str, r: KResult<T>, want: Errno) -> TestResult {
    match r {
        Ok(_) => Err(format!("{}: succeeded, want {:?}", what, want)),
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!("{}: got {:?}, want {:?}", what, e, want)),
    }
}

/// `r` must succeed.
fn ok<T>(what: &str, r: KResult<T>) -> Result<T, String> {
    r.map_err(|e| format!("{}: {:?}", what, e))
}

/// A fresh directory /tmp/<name>.
fn scratch(name: &str) -> Result<Arc<Inode>, String> {
    vfs_caches_init();
    let tmp = ok("/tmp", kern_path("/tmp", true))?;
    ok("mkdir scratch", tmp.mkdir(name, 0o755))
}

fn same(a: &Arc<Inode>, b: &Arc<Inode>) -> bool {
    Arc::ptr_eq(a, b)
}

fn read_all(f: &File) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1000];
    loop {
        let n = ok("read", f.read(&mut buf))?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn fs_path_walk() -> TestResult {
    vfs_caches_init();
    let root = root();
    for p in ["/", "//", "/.", "/..", "/../..", "/dev/..", "///dev//..//"] {
        ensure!(same(&ok(p, kern_path(p, true))?, &root), "{} is not the root", p);
    }
    let null = ok("/dev/null", kern_path("/dev/null", true))?;
    ensure!(null.mode() == S_IFCHR | 0o666, "/dev/null mode {:o}", null.mode());
    for p in ["/dev/./null", "/dev/../dev/null", "//dev///null", "dev/null", "/tmp/../dev/null"] {
        ensure!(same(&ok(p, kern_path(p, true))?, &null), "{} is not /dev/null", p);
    }
    ensure!(kern_path("/tmp/", true).map(|t| t.is_dir()) == Ok(true), "/tmp/ is not a directory");
    want_err("empty path", kern_path("", true), ENOENT)?;
    want_err("/nonexistent", kern_path("/nonexistent", true), ENOENT)?;
    want_err("/nonexistent/x", kern_path("/nonexistent/x", true), ENOENT)?;
    want_err("/dev/null/x", kern_path("/dev/null/x", true), ENOTDIR)?;
    want_err("/dev/null/", kern_path("/dev/null/", true), ENOTDIR)?;
    want_err("/dev/null/.", kern_path("/dev/null/.", true), ENOTDIR)?;
    want_err("/dev/null/..", kern_path("/dev/null/..", true), ENOTDIR)?;
    let long = "x".repeat(256);
    want_err("256-byte component", kern_path(&format!("/tmp/{}", long), true), ENAMETOOLONG)?;
    want_err("255-byte component", kern_path(&format!("/tmp/{}", &long[..255]), true), ENOENT)?;
    // PATH_MAX counts the NUL: 4095 bytes walk, 4096 do not.
    ensure!(same(&ok("4095 slashes", kern_path(&"/".repeat(4095), true))?, &root), "4095 slashes");
    want_err("4096-byte path", kern_path(&"/".repeat(4096), true), ENAMETOOLONG)?;

    let tmp = kern_path("/tmp", true).unwrap();
    // From another starting directory (a future cwd): relative paths start
    // there, absolute ones at the root.
    let at = |p: &str| Nameidata::new(root.clone()).path_lookupat(&tmp, p, true);
    ensure!(same(&ok("at /dev/null", at("/dev/null"))?, &null), "absolute path from /tmp");
    ensure!(same(&ok("at ../dev/null", at("../dev/null"))?, &null), "relative path from /tmp");
    want_err("at dev/null", at("dev/null"), ENOENT)?;
    ensure!(same(&ok("at .", at("."))?, &tmp), ". from /tmp");
    let (d, n) = ok("parent of /tmp/a", kern_path_parent("/tmp/a"))?;
    ensure!(same(&d, &tmp) && n == "a", "parent of /tmp/a is ({}, {})", d.ino(), n);
    let (d, n) = ok("parent of /tmp/a//", kern_path_parent("/tmp/a//"))?;
    ensure!(same(&d, &tmp) && n == "a", "parent of /tmp/a// is ({}, {})", d.ino(), n);
    let (d, n) = ok("parent of tmp", kern_path_parent("tmp"))?;
    ensure!(same(&d, &root) && n == "tmp", "parent of tmp is ({}, {})", d.ino(), n);
    want_err("parent of /nonexistent/a", kern_path_parent("/nonexistent/a"), ENOENT)?;
    want_err("parent of /dev/null/a", kern_path_parent("/dev/null/a"), ENOTDIR)?;
    want_err("parent of long name", kern_path_parent(&format!("/tmp/{}", long)), ENAMETOOLONG)?;
    Ok(())
}

fn fs_symlinks() -> TestResult {
    let dir = scratch("ktest_sym")?;
    let f = ok("create f", dir.create("f", 0o644))?;
    ok("write f", f.write_at(0, b"target"))?;
    ok("abs", dir.symlink("abs", "/tmp/ktest_sym/f"))?;
    ok("rel", dir.symlink("rel", "f"))?;
    ok("up", dir.symlink("up", "../ktest_sym/rel"))?;
    ok("devlink", dir.symlink("devlink", "/dev"))?;
    ok("dirlink", dir.symlink("dirlink", "."))?;
    ok("dangling", dir.symlink("dangling", "nowhere"))?;
    ok("self", dir.symlink("self", "self"))?;
    for p in ["abs", "rel", "up", "dirlink/f", "dirlink/dirlink/up", "devlink/../tmp/ktest_sym/f"] {
        let path = format!("/tmp/ktest_sym/{}", p);
        ensure!(same(&ok(&path, kern_path(&path, true))?, &f), "{} does not lead to f", path);
    }
    // `..` after a symlink is the parent of the link's target, not of the link.
    ensure!(same(&ok("devlink/..", kern_path("/tmp/ktest_sym/devlink/..", true))?, &root()), "devlink/.. is not /");
    let l = ok("nofollow", kern_path("/tmp/ktest_sym/abs", false))?;
    ensure!(l.is_symlink() && l.mode() == S_IFLNK | 0o777, "abs not followed: mode {:o}", l.mode());
    ensure!(l.readlink().as_deref() == Ok("/tmp/ktest_sym/f") && l.size() == 16, "readlink/size of abs");
    want_err("readlink of a file", f.readlink(), EINVAL)?;
    // A link in the middle is followed even without follow.
    ensure!(same(&ok("mid", kern_path("/tmp/ktest_sym/dirlink/f", false))?, &f), "link in the middle not followed");
    // A trailing slash follows the last link, which must lead to a directory.
    ensure!(kern_path("/tmp/ktest_sym/devlink/", false).map(|d| d.is_dir()) == Ok(true), "devlink/ not followed");
    want_err("rel/", kern_path("/tmp/ktest_sym/rel/", true), ENOTDIR)?;
    want_err("dangling", kern_path("/tmp/ktest_sym/dangling", true), ENOENT)?;
    ensure!(kern_path("/tmp/ktest_sym/dangling", false).is_ok(), "dangling link itself not found");
    want_err("self loop", kern_path("/tmp/ktest_sym/self", true), ELOOP)?;
    want_err("self loop in the middle", kern_path("/tmp/ktest_sym/self/x", false), ELOOP)?;
    want_err("empty target", dir.symlink("empty", ""), ENOENT)?;

    // A chain of 40 links resolves; one more is ELOOP (MAXSYMLINKS).
    ok("l0", dir.symlink("l0", "f"))?;
    for i in 1..=40 {
        ok("chain", dir.symlink(&format!("l{}", i), &format!("l{}", i - 1)))?;
    }
    ensure!(same(&ok("l39", kern_path("/tmp/ktest_sym/l39", true))?, &f), "40 links do not resolve");
    want_err("l40", kern_path("/tmp/ktest_sym/l40", true), ELOOP)?;
    // The count is per walk, across components: 20 + 20 links resolve, 21 + 20 do not.
    ok("m0", dir.symlink("m0", "."))?;
    for i in 1..=20 {
        ok("chain", dir.symlink(&format!("m{}", i), &format!("m{}", i - 1)))?;
    }
    ensure!(kern_path("/tmp/ktest_sym/m19/l19", true).is_ok(), "20 + 20 links do not resolve");
    want_err("m20/l19", kern_path("/tmp/ktest_sym/m20/l19", true), ELOOP)?;
    Ok(())
}

fn fs_file_rw() -> TestResult {
    scratch("ktest_rw")?;
    let f = ok("open", filp_open("/tmp/ktest_rw/a", O_RDWR | O_CREAT, 0o640))?;
    ensure!(f.inode().mode() == S_IFREG | 0o640, "mode {:o}", f.inode().mode());
    ensure!(f.flags() == O_RDWR, "flags {:o} keep O_CREAT", f.flags());
    ensure!(f.write(b"hello") == Ok(5) && f.pos() == 5, "write moved to {}", f.pos());
    ensure!(f.lseek(0, SEEK_SET) == Ok(0), "lseek SET");
    let mut buf = [0u8; 16];
    ensure!(f.read(&mut buf) == Ok(5) && &buf[..5] == b"hello", "read back {:?}", &buf[..5]);
    ensure!(f.read(&mut buf) == Ok(0), "read at end of file is not 0");
    ensure!(f.lseek(1, SEEK_SET) == Ok(1) && f.lseek(-2, SEEK_END) == Ok(3), "lseek END");
    ensure!(f.lseek(1, SEEK_CUR) == Ok(4), "lseek CUR");
    want_err("lseek before 0", f.lseek(-5, SEEK_CUR), EINVAL)?;
    want_err("bad whence", f.lseek(0, 7), EINVAL)?;
    ensure!(f.pos() == 4, "failed lseek moved the position");
    ensure!(f.lseek(2, SEEK_DATA) == Ok(2) && f.lseek(2, SEEK_HOLE) == Ok(5), "SEEK_DATA/SEEK_HOLE");
    want_err("SEEK_DATA past end", f.lseek(5, SEEK_DATA), ENXIO)?;

    // A write past the end leaves a hole that reads as zeros.
    ensure!(f.lseek(10_000, SEEK_SET) == Ok(10_000) && f.write(b"end") == Ok(3), "write past end");
    ensure!(f.inode().size() == 10_003, "size {}", f.inode().size());
    f.lseek(0, SEEK_SET).unwrap();
    let all = read_all(&f)?;
    ensure!(all.len() == 10_003 && &all[..5] == b"hello" && &all[10_000..] == b"end", "contents after the hole");
    ensure!(all[5..10_000].iter().all(|&b| b == 0), "the hole is not zeros");

    // Big writes across pages, read back at odd offsets.
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    ensure!(f.pwrite(&data, 3) == Ok(50_000), "pwrite");
    let mut back = vec![0u8; 50_000];
    ensure!(f.pread(&mut back, 3) == Ok(50_000) && back == data, "pread of what pwrite wrote");
    ensure!(f.pos() == 10_003, "pread/pwrite moved the position to {}", f.pos());

    // Truncate down, then grow: the cut part reads back as zeros.
    f.inode().truncate(4097);
    ensure!(f.inode().size() == 4097, "truncate size");
    f.inode().truncate(9000);
    let mut b = vec![0xffu8; 9000];
    ensure!(f.pread(&mut b, 0) == Ok(9000), "read after truncate");
    ensure!(&b[..3] == b"hel" && b[3..4097] == data[..4094], "truncate changed the data it kept");
    ensure!(b[4097..].iter().all(|&x| x == 0), "truncated-then-grown bytes are not zero");

    // O_APPEND: every write goes to the end, whatever the position.
    let ap = ok("append", filp_open("/tmp/ktest_rw/a", O_WRONLY | O_APPEND, 0))?;
    ap.lseek(0, SEEK_SET).unwrap();
    ensure!(ap.write(b"XY") == Ok(2) && ap.pos() == 9002, "append at {}", ap.pos());
    ensure!(ap.pwrite(b"Z", 0) == Ok(1) && f.inode().size() == 9003, "pwrite with O_APPEND did not append");
    let mut t = [0u8; 3];
    f.pread(&mut t, 9000).unwrap();
    ensure!(&t == b"XYZ", "appended {:?}", t);
    // O_TRUNC empties it; the open File sees the same inode.
    ok("trunc", filp_open("/tmp/ktest_rw/a", O_RDONLY | O_TRUNC, 0))?;
    ensure!(f.inode().size() == 0, "O_TRUNC left {} bytes", f.inode().size());
    // Access modes.
    want_err("write O_RDONLY", ok("ro", filp_open("/tmp/ktest_rw/a", O_RDONLY, 0))?.write(b"x"), EBADF)?;
    want_err("read O_WRONLY", ap.read(&mut t), EBADF)?;
    Ok(())
}

fn fs_open_flags() -> TestResult {
    scratch("ktest_open")?;
    let p = "/tmp/ktest_open/f";
    want_err("open missing", filp_open(p, O_RDONLY, 0), ENOENT)?;
    let f = ok("creat", filp_open(p, O_WRONLY | O_CREAT | O_EXCL, 0o600))?;
    want_err("O_EXCL on existing", filp_open(p, O_WRONLY | O_CREAT | O_EXCL, 0o600), EEXIST)?;
    let again = ok("O_CREAT on existing", filp_open(p, O_RDWR | O_CREAT, 0o777))?;
    ensure!(Arc::ptr_eq(again.inode(), f.inode()) && f.inode().mode() == S_IFREG | 0o600, "O_CREAT re-created the file");
    want_err("O_DIRECTORY on file", filp_open(p, O_RDONLY | O_DIRECTORY, 0), ENOTDIR)?;
    want_err("creat with trailing slash", filp_open("/tmp/ktest_open/g/", O_RDWR | O_CREAT, 0o600), EISDIR)?;
    want_err("creat /tmp/.", filp_open("/tmp/.", O_RDWR | O_CREAT, 0o600), EISDIR)?;
    want_err("O_WRONLY dir", filp_open("/tmp", O_WRONLY, 0), EISDIR)?;
    want_err("O_RDWR dir", filp_open("/tmp", O_RDWR, 0), EISDIR)?;
    want_err("O_CREAT dir", filp_open("/tmp", O_RDONLY | O_CREAT, 0), EISDIR)?;
    want_err("O_CREAT|O_EXCL dir", filp_open("/tmp", O_RDONLY | O_CREAT | O_EXCL, 0), EEXIST)?;
    want_err("O_CREAT in missing dir", filp_open("/tmp/ktest_open/no/f", O_RDWR | O_CREAT, 0), ENOENT)?;
    let d = ok("O_DIRECTORY", filp_open("/tmp/", O_RDONLY | O_DIRECTORY, 0))?;
    want_err("read a directory", d.read(&mut [0u8; 4]), EISDIR)?;
    want_err("iterate a file", f.iterate_dir(|_, _, _| true), ENOTDIR)?;

    let dir = kern_path("/tmp/ktest_open", true).unwrap();
    ok("link", dir.symlink("link", "f"))?;
    ok("dangling", dir.symlink("dangling", "made"))?;
    want_err("O_NOFOLLOW on link", filp_open("/tmp/ktest_open/link", O_RDONLY | O_NOFOLLOW, 0), ELOOP)?;
    want_err("O_CREAT|O_NOFOLLOW on link", filp_open("/tmp/ktest_open/link", O_RDWR | O_CREAT | O_NOFOLLOW, 0), ELOOP)?;
    want_err("O_CREAT|O_EXCL on link", filp_open("/tmp/ktest_open/dangling", O_RDWR | O_CREAT | O_EXCL, 0), EEXIST)?;
    ensure!(Arc::ptr_eq(ok("via link", filp_open("/tmp/ktest_open/link", O_RDONLY, 0))?.inode(), f.inode()), "link not followed");
    // O_CREAT through a dangling link creates its target.
    let m = ok("create via dangling link", filp_open("/tmp/ktest_open/dangling", O_RDWR | O_CREAT, 0o644))?;
    ensure!(Arc::ptr_eq(m.inode(), &ok("made", kern_path("/tmp/ktest_open/made", true))?), "target not created");
    ensure!(m.flags() & (O_CREAT | O_EXCL | O_TRUNC) == 0 && m.flags() & O_ACCMODE == O_RDWR, "flags {:o}", m.flags());
    let c = ok("O_CLOEXEC kept", filp_open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0))?;
    c.set_flags(O_APPEND | O_RDWR);
    ensure!(c.flags() == O_RDONLY | O_CLOEXEC | O_APPEND, "F_SETFL changed more than SETFL_MASK: {:o}", c.flags());
    Ok(())
}

fn fs_dirs() -> TestResult {
    let dir = scratch("ktest_dirs")?;
    let tmp = kern_path("/tmp", true).unwrap();
    ensure!(dir.nlink() == 2 && dir.mode() == S_IFDIR | 0o755, "new dir nlink {} mode {:o}", dir.nlink(), dir.mode());
    let sub = ok("mkdir via path", do_mkdirat(AT_FDCWD, "/tmp/ktest_dirs/sub/", 0o700))?;
    ensure!(dir.nlink() == 3 && sub.nlink() == 2, "nlink after mkdir: {} {}", dir.nlink(), sub.nlink());
    ensure!(same(&ok("..", sub.lookup(".."))?, &dir) && same(&ok(".", sub.lookup("."))?, &sub), ". and ..");
    let f = ok("create", dir.create("file", 0o644))?;
    ok("mknod", dir.mknod("fifo", S_IFIFO | 0o600, 0, 0))?;
    ok("symlink", do_symlinkat("file", AT_FDCWD, "/tmp/ktest_dirs/link"))?;
    want_err("mkdir existing", dir.mkdir("file", 0o755), EEXIST)?;
    want_err("create existing", dir.create("sub", 0o644), EEXIST)?;
    want_err("mkdir .", do_mkdirat(AT_FDCWD, "/tmp/ktest_dirs/.", 0o755), EEXIST)?;
    want_err("create in a file", f.create("x", 0o644), ENOTDIR)?;
    want_err("symlink with trailing slash", do_symlinkat("x", AT_FDCWD, "/tmp/ktest_dirs/new/"), ENOENT)?;

    let want: Vec<(String, u64, u8)> = vec![
        (".".into(), dir.ino(), DT_DIR),
        ("..".into(), tmp.ino(), DT_DIR),
        ("fifo".into(), kern_path("/tmp/ktest_dirs/fifo", true).unwrap().ino(), DT_FIFO),
        ("file".into(), f.ino(), DT_REG),
        ("link".into(), kern_path("/tmp/ktest_dirs/link", false).unwrap().ino(), DT_LNK),
        ("sub".into(), sub.ino(), DT_DIR),
    ];
    ensure!(dir.readdir() == want, "readdir {:?}", dir.readdir());
    // getdents-style iteration in two calls: the position counts entries.
    let d = ok("open dir", filp_open("/tmp/ktest_dirs", O_RDONLY | O_DIRECTORY, 0))?;
    let mut seen = Vec::new();
    ok("iterate 1", d.iterate_dir(|n, _, _| { seen.push(String::from(n)); seen.len() < 4 }))?;
    ensure!(seen.len() == 4 && d.pos() == 3, "first batch {:?} pos {}", seen, d.pos());
    seen.pop();
    ok("iterate 2", d.iterate_dir(|n, _, _| { seen.push(String::from(n)); true }))?;
    let names: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
    ensure!(seen == names, "iterated {:?}", seen);
    ensure!(d.lseek(0, SEEK_SET) == Ok(0), "rewinddir");
    want_err("SEEK_END on a dir", d.lseek(0, SEEK_END), EINVAL)?;

    // Removal rules.
    ok("file in sub", sub.create("x", 0o644))?;
    want_err("rmdir non-empty", dir.rmdir("sub"), ENOTEMPTY)?;
    want_err("rmdir file", dir.rmdir("file"), ENOTDIR)?;
    want_err("unlink dir", dir.unlink("sub"), EISDIR)?;
    want_err("unlink file/", do_unlinkat(AT_FDCWD, "/tmp/ktest_dirs/file/"), ENOTDIR)?;
    want_err("unlink dir/", do_unlinkat(AT_FDCWD, "/tmp/ktest_dirs/sub/"), EISDIR)?;
    want_err("unlink missing", dir.unlink("missing"), ENOENT)?;
    want_err("rmdir .", do_rmdir(AT_FDCWD, "/tmp/ktest_dirs/."), EINVAL)?;
    want_err("rmdir ..", do_rmdir(AT_FDCWD, "/tmp/ktest_dirs/.."), ENOTEMPTY)?;
    want_err("rmdir /", do_rmdir(AT_FDCWD, "/"), EBUSY)?;
    ok("unlink x", do_unlinkat(AT_FDCWD, "/tmp/ktest_dirs/sub/x"))?;
    ok("rmdir sub/", do_rmdir(AT_FDCWD, "/tmp/ktest_dirs/sub/"))?;
    ensure!(dir.nlink() == 2 && sub.nlink() == 0, "nlink after rmdir: {} {}", dir.nlink(), sub.nlink());
    want_err("create in removed dir", sub.create("y", 0o644), ENOENT)?;
    want_err("lookup removed", kern_path("/tmp/ktest_dirs/sub", true), ENOENT)?;

    // Hard links, and an unlinked file stays readable through an open File.
    ok("link", do_linkat(AT_FDCWD, "/tmp/ktest_dirs/file", AT_FDCWD, "/tmp/ktest_dirs/hard", false))?;
    ensure!(f.nlink() == 2, "nlink after link {}", f.nlink());
    want_err("link a dir", do_linkat(AT_FDCWD, "/tmp/ktest_dirs", AT_FDCWD, "/tmp/ktest_dirs/d2", false), EPERM)?;
    f.write_at(0, b"still here").unwrap();
    let open = ok("open", filp_open("/tmp/ktest_dirs/file", O_RDONLY, 0))?;
    ok("unlink", do_unlinkat(AT_FDCWD, "/tmp/ktest_dirs/file"))?;
    ok("unlink hard", dir.unlink("hard"))?;
    ensure!(f.nlink() == 0, "nlink after unlinks {}", f.nlink());
    ensure!(read_all(&open)? == b"still here", "unlinked file lost its data");
    want_err("lookup unlinked", kern_path("/tmp/ktest_dirs/file", true), ENOENT)?;
    let st = open.inode().getattr();
    ensure!(st.size == 10 && st.ino == f.ino() && st.mode == S_IFREG | 0o644, "getattr {:?}", st);
    Ok(())
}

fn fs_devices() -> TestResult {
    vfs_caches_init();
    let console = ok("/dev/console", kern_path("/dev/console", true))?;
    ensure!(console.mode() == S_IFCHR | 0o600 && console.rdev() == Some((5, 1)), "console {:o} {:?}", console.mode(), console.rdev());
    let zero = ok("/dev/zero", kern_path("/dev/zero", true))?;
    ensure!(zero.mode() == S_IFCHR | 0o666 && zero.rdev() == Some((1, 5)), "zero {:o} {:?}", zero.mode(), zero.rdev());
    ensure!(kern_path("/tmp", true).map(|t| t.mode()) == Ok(S_IFDIR | 0o1777), "/tmp mode");
    for d in ["/proc", "/sys"] {
        ensure!(kern_path(d, true).map(|t| t.is_dir()) == Ok(true), "{} missing", d);
    }

    let null = ok("open null", filp_open("/dev/null", O_RDWR, 0))?;
    let mut buf = [0x55u8; 64];
    ensure!(null.read(&mut buf) == Ok(0) && buf[0] == 0x55, "/dev/null read something");
    ensure!(null.write(&[1; 100]) == Ok(100), "/dev/null refused a write");
    ensure!(null.lseek(123, SEEK_SET) == Ok(0), "/dev/null lseek is not 0");
    ensure!(null.pwrite(b"x", 5) == Ok(1) && null.pread(&mut buf, 5) == Ok(0), "/dev/null pread/pwrite");

    let z = ok("open zero", filp_open("/dev/zero", O_RDWR, 0))?;
    ensure!(z.read(&mut buf) == Ok(64) && buf.iter().all(|&b| b == 0), "/dev/zero read {:?}", &buf[..8]);
    ensure!(z.write(b"ignored") == Ok(7), "/dev/zero write");
    buf.fill(3);
    ensure!(z.pread(&mut buf, 100) == Ok(64) && buf[0] == 0, "/dev/zero pread");
    let mut big = vec![1u8; 10_000];
    ensure!(z.read(&mut big) == Ok(10_000) && big.iter().all(|&b| b == 0), "/dev/zero big read");

    let c = ok("open console", filp_open("/dev/console", O_WRONLY | O_NOCTTY, 0))?;
    let msg = b"fs_devices: this line was written to /dev/console\n";
    ensure!(c.write(msg) == Ok(msg.len()), "console write");
    want_err("console lseek", c.lseek(0, SEEK_SET), ESPIPE)?;
    want_err("console pwrite", c.pwrite(b"x", 0), ESPIPE)?;
    // No input is pending: a non-blocking read of the terminal says so.
    let cr = ok("open console for reading", filp_open("/dev/console", O_RDONLY | O_NONBLOCK | O_NOCTTY, 0))?;
    ensure!(cr.read(&mut buf) == Err(EAGAIN), "console read without input is not EAGAIN");

    let dir = scratch("ktest_dev")?;
    ok("mknod", dir.mknod("nodev", S_IFCHR | 0o600, 1, 99))?;
    want_err("no driver", filp_open("/tmp/ktest_dev/nodev", O_RDONLY, 0), ENXIO)?;
    ok("mknod blk", dir.mknod("blk", S_IFBLK | 0o600, 8, 0))?;
    want_err("block device", filp_open("/tmp/ktest_dev/blk", O_RDONLY, 0), ENXIO)?;
    ok("mknod zero", dir.mknod("myzero", S_IFCHR | 0o600, 1, 5))?;
    let mz = ok("open own zero", filp_open("/tmp/ktest_dev/myzero", O_RDONLY, 0))?;
    buf.fill(9);
    ensure!(mz.read(&mut buf) == Ok(64) && buf[63] == 0, "a second zero node does not read zeros");
    Ok(())
}

fn fs_fdtable() -> TestResult {
    vfs_caches_init();
    let files = FilesStruct::new();
    let null = ok("null", filp_open("/dev/null", O_RDWR, 0))?;
    for want in 0..3 {
        ensure!(files.fd_install(null.clone(), false) == Ok(want), "fd {} not lowest", want);
    }
    want_err("fget -1", files.fget(-1), EBADF)?;
    want_err("fget 3", files.fget(3), EBADF)?;
    want_err("fget 1024", files.fget(1024), EBADF)?;
    ensure!(Arc::ptr_eq(&ok("fget 2", files.fget(2))?, &null), "fget 2 is another file");
    ok("close 1", files.close_fd(1))?;
    want_err("close 1 twice", files.close_fd(1), EBADF)?;
    want_err("close -5", files.close_fd(-5), EBADF)?;
    want_err("fget closed", files.fget(1), EBADF)?;
    ensure!(files.fd_install(null.clone(), false) == Ok(1), "closed fd 1 not reused");

    // dup2/dup3 and F_DUPFD.
    let zero = ok("zero", filp_open("/dev/zero", O_RDONLY, 0))?;
    let z = files.fd_install(zero.clone(), true).unwrap();
    ensure!(z == 3 && files.get_close_on_exec(3) == Ok(true), "O_CLOEXEC fd");
    ensure!(files.dup2(3, 10) == Ok(10), "dup2 to 10");
    ensure!(Arc::ptr_eq(&files.fget(10).unwrap(), &zero) && files.get_close_on_exec(10) == Ok(false), "dup2 copy");
    ensure!(files.dup2(0, 10) == Ok(10) && Arc::ptr_eq(&files.fget(10).unwrap(), &null), "dup2 over an open fd");
    ensure!(files.dup2(3, 3) == Ok(3), "dup2(fd, fd)");
    want_err("dup2 of closed", files.dup2(7, 8), EBADF)?;
    want_err("dup2(closed, closed)", files.dup2(7, 7), EBADF)?;
    want_err("dup2 to 1024", files.dup2(0, 1024), EBADF)?;
    want_err("dup3 same", files.dup3(3, 3, false), EINVAL)?;
    ensure!(files.dupfd(3, 5, false) == Ok(5) && files.dupfd(3, 0, true) == Ok(4), "F_DUPFD lowest from start");
    want_err("F_DUPFD past the limit", files.dupfd(3, 1024, false), EINVAL)?;
    ensure!(files.open_fds() == [0, 1, 2, 3, 4, 5, 10], "open fds {:?}", files.open_fds());

    // fork copies the table (not the files), exec closes the O_CLOEXEC ones.
    let child = files.dup_fd();
    ok("set cloexec", files.set_close_on_exec(0, true))?;
    files.close_on_exec();
    ensure!(files.open_fds() == [1, 2, 5, 10], "after close_on_exec {:?}", files.open_fds());
    ensure!(child.open_fds() == [0, 1, 2, 3, 4, 5, 10], "the copy changed: {:?}", child.open_fds());
    ensure!(Arc::ptr_eq(&child.fget(3).unwrap(), &zero), "the copy holds another file");

    // The position is the File's: shared through dup, and through the fork copy.
    scratch("ktest_fd")?;
    let f = ok("file", filp_open("/tmp/ktest_fd/f", O_RDWR | O_CREAT, 0o644))?;
    let a = files.fd_install(f, false).unwrap();
    let b = files.dupfd(a, 0, false).unwrap();
    let c = files.dup_fd();
    files.fget(a).unwrap().write(b"abc").unwrap();
    ensure!(files.fget(b).unwrap().pos() == 3 && c.fget(a).unwrap().pos() == 3, "the offset is not shared");

    // EMFILE once 1024 fds are open; closing one makes room at exactly that fd.
    let full = FilesStruct::new();
    for i in 0..1024 {
        ensure!(full.fd_install(null.clone(), false) == Ok(i), "fd {} not lowest", i);
    }
    want_err("1025th fd", full.fd_install(null.clone(), false), EMFILE)?;
    ok("close 500", full.close_fd(500))?;
    ensure!(full.fd_install(null.clone(), false) == Ok(500), "freed fd not reused");
    want_err("full again", full.dupfd(0, 0, false), EMFILE)?;
    Ok(())
}

/// One archive entry for the writer.
fn ent<'a>(name: &'a str, mode: u32, data: &'a [u8]) -> CpioEntry<'a> {
    CpioEntry {
        name, ino: 0, mode, uid: 0, gid: 0, nlink: 1, mtime: 1_600_000_000, devmajor: 0, devminor: 0,
        rdevmajor: 0, rdevminor: 0, data,
    }
}

fn archive(entries: &[CpioEntry<'_>]) -> Vec<u8> {
    let mut v = Vec::new();
    for e in entries {
        write_entry(&mut v, e);
    }
    write_trailer(&mut v);
    v
}

fn fs_initramfs() -> TestResult {
    let dir = scratch("ktest_initramfs")?;
    let big: Vec<u8> = (0..70_000u32).map(|i| (i % 253) as u8).collect();
    let mut img = archive(&[
        ent(".", S_IFDIR | 0o700, b""),
        ent("bin", S_IFDIR | 0o755, b""),
        CpioEntry { uid: 1000, gid: 100, ..ent("bin/busybox", S_IFREG | 0o4755, &big) },
        ent("bin/sh", S_IFLNK | 0o777, b"busybox"),
        ent("init", S_IFLNK | 0o777, b"/bin/sh"),
        ent("etc", S_IFDIR | 0o755, b""),
        ent("etc/motd", S_IFREG | 0o644, b"the first, longer version"),
        ent("etc/old", S_IFLNK | 0o777, b"motd"),
        CpioEntry { rdevmajor: 5, rdevminor: 1, ..ent("dev/console", S_IFCHR | 0o600, b"") },
        ent("dev", S_IFDIR | 0o755, b""),
        CpioEntry { rdevmajor: 5, rdevminor: 1, ..ent("dev/console", S_IFCHR | 0o600, b"") },
        CpioEntry { ino: 77, nlink: 2, ..ent("etc/a", S_IFREG | 0o600, b"") },
        CpioEntry { ino: 77, nlink: 2, ..ent("etc/b", S_IFREG | 0o600, b"shared") },
        ent("bin/../etc/./dots", S_IFREG | 0o644, b"d"),
        ent("no/such/dir/file", S_IFREG | 0o644, b"lost"),
        CpioEntry { mode: 0o777, ..ent("typeless", 0, b"") },
    ]);
    // A second archive after padding: replaces, merges and changes types.
    img.resize(img.len().next_multiple_of(512), 0);
    img.extend(archive(&[
        ent("etc/motd", S_IFREG | 0o600, b"second"),
        ent("etc", S_IFDIR | 0o750, b""),
        ent("etc/old", S_IFREG | 0o644, b"was a link"),
        ent("bin/sh", S_IFLNK | 0o777, b"/bin/busybox"),
        ent("bin/busybox/x", S_IFREG | 0o644, b"not a dir"),
        ent("init", S_IFDIR | 0o755, b""),
        CpioEntry { ino: 77, nlink: 2, ..ent("etc/c", S_IFREG | 0o600, b"new") },
    ]));
    let n = unpack_to_rootfs(&dir, &img).map_err(|e| format!("unpack: {}", e))?;
    ensure!(n == 23, "{} entries unpacked, want 23", n);

    let get = |p: &str, follow: bool| {
        crate::fs::namei::Nameidata::new(dir.clone()).path_lookupat(&dir, p, follow)
    };
    ensure!(dir.mode() == S_IFDIR | 0o700, "'.' entry did not set the mode: {:o}", dir.mode());
    let bb = ok("bin/busybox", get("bin/busybox", true))?;
    let st = bb.getattr();
    ensure!(st.mode == S_IFREG | 0o4755 && st.uid == 1000 && st.gid == 100 && st.size == 70_000, "busybox {:?}", st);
    ensure!(st.mtime_ns == 1_600_000_000 * 1_000_000_000, "mtime {}", st.mtime_ns);
    let mut back = vec![0u8; 70_000];
    ensure!(bb.read_at(0, &mut back) == Ok(70_000) && back == big, "busybox contents");
    // Absolute symlink targets resolve inside the unpack directory.
    ensure!(same(&ok("init", get("init", true))?, &ok("init dir", get("init", false))?), "init replaced by a dir");
    ensure!(get("init", false).map(|i| i.is_dir()) == Ok(true), "init is not the later directory");
    ensure!(same(&ok("bin/sh", get("bin/sh", true))?, &bb), "bin/sh does not lead to busybox");
    ensure!(get("bin/sh", false).and_then(|l| l.readlink()).as_deref() == Ok("/bin/busybox"), "symlink not replaced");
    let read = |p: &str| -> Result<Vec<u8>, String> {
        let i = ok(p, get(p, true))?;
        let mut v = vec![0u8; i.size() as usize];
        ok(p, i.read_at(0, &mut v))?;
        Ok(v)
    };
    ensure!(read("etc/motd")? == b"second", "a later file did not replace an earlier one");
    ensure!(get("etc/motd", true).map(|m| m.mode()) == Ok(S_IFREG | 0o600), "replaced file's mode");
    ensure!(get("etc", true).map(|m| m.mode()) == Ok(S_IFDIR | 0o750), "merged dir's mode");
    ensure!(read("etc/old")? == b"was a link", "a file did not replace a symlink");
    ensure!(read("etc/dots")? == b"d", "dots in names");
    // Hard links: a, b and c are one inode (c from the next archive is not:
    // links never span archives).
    let (a, b) = (ok("etc/a", get("etc/a", true))?, ok("etc/b", get("etc/b", true))?);
    ensure!(same(&a, &b) && a.nlink() == 2 && read("etc/a")? == b"shared", "hard link a/b");
    ensure!(!same(&a, &ok("etc/c", get("etc/c", true))?) && read("etc/c")? == b"new", "hard link across archives");
    let con = ok("dev/console", get("dev/console", true))?;
    ensure!(con.rdev() == Some((5, 1)) && con.mode() == S_IFCHR | 0o600, "dev/console");
    ensure!(get("no", true).is_err() && get("typeless", true).is_err(), "entries that cannot be made were made");
    want_err("file under a file", get("bin/busybox/x", true), ENOTDIR)?;
    ensure!(same(&ok("..", get("..", true))?, &dir), ".. left the unpack directory");

    // populate_rootfs unpacks into / itself.
    let img = archive(&[ent("tmp/ktest_populate", S_IFDIR | 0o755, b""), ent("tmp/ktest_populate/f", S_IFREG | 0o644, b"root")]);
    ensure!(populate_rootfs(&img) == Ok(2), "populate_rootfs count");
    ensure!(kern_path("/tmp/ktest_populate/f", true).map(|f| f.size()) == Ok(4), "populate_rootfs did not reach /");
    Ok(())
}

fn fs_initramfs_corrupt() -> TestResult {
    let dir = scratch("ktest_initramfs_bad")?;
    let good = archive(&[ent("d", S_IFDIR | 0o755, b""), ent("d/f", S_IFREG | 0o644, b"0123456789")]);
    // Cut inside the second entry: the first stays, the error is reported.
    let r = unpack_to_rootfs(&dir, &good[..good.len() - 140]);
    ensure!(r.map_err(|e| format!("{}", e)) == Err(String::from("truncated archive")), "truncated archive accepted");
    ensure!(dir.lookup("d").is_ok(), "the entry before the damage was not unpacked");
    let gz = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0];
    let r = unpack_to_rootfs(&dir, &gz).map_err(|e| format!("{}", e));
    ensure!(r == Err(String::from("compression method gzip not configured")), "gzip: {:?}", r);
    let mut odc = good.clone();
    odc[5] = b'7';
    let r = unpack_to_rootfs(&dir, &odc).map_err(|e| format!("{}", e));
    ensure!(r == Err(String::from("incorrect cpio method used: use -H newc option")), "odc: {:?}", r);
    ensure!(populate_rootfs(b"not an archive") == Err(EINVAL), "populate_rootfs accepted junk");
    // Random damage never panics, whatever gets created.
    let mut seed = 0x9e3779b9u32;
    for _ in 0..300 {
        let mut img = good.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let i = seed as usize % img.len();
            img[i] = if seed & 0x100 != 0 { b"0123456789abcdef/."[(seed >> 9) as usize % 18] } else { (seed >> 24) as u8 };
        }
        let _ = unpack_to_rootfs(&dir, &img);
    }
    Ok(())
}
