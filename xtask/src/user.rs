//! User programs and the initramfs that carries them.
//!
//! Every `*.c` file under `user/` (subdirectories included) is one static
//! program, built with `musl-gcc -static -O2` into
//! `target/tine/user/<name>`, where `<name>` is the file name without `.c`.
//! A program is rebuilt when it is missing or older than its source or any
//! header under `user/`.
//!
//! `target/tine/initramfs.cpio` (newc) then holds:
//!
//! ```text
//! /dev            directory 0755
//! /dev/console    character device 5:1, 0600
//! /dev/null       character device 1:3, 0666
//! /dev/zero       character device 1:5, 0666
//! /dev/tty        character device 5:0, 0666 (the controlling terminal)
//! /bin            directory 0755
//! /sbin           directory 0755
//! /tmp            directory 1777
//! /etc            directory 0755, with passwd and group (root only)
//! /root           directory 0700 (root's HOME)
//! /proc, /sys     empty directories (mount points)
//! /tests          directory 0755: every user/sh/*.sh, 0755
//! /bin/<name>     every program, 0755
//! /bin/busybox    Debian's static busybox, if the host has it
//! /bin/<applet>   a symlink to busybox for each of its applets (`busybox
//!                 --list`); an applet named like a program goes to /sbin
//! /init           user/init.sh (a shell script) if busybox is there,
//!                 else a copy of /bin/hello, 0755
//! ```
//!
//! It is rewritten only when its contents change, so its modification time
//! says when a program last did. Linux boots the same archive for the
//! `linux = true` checks: it has no devtmpfs in an initramfs, so the device
//! nodes the programs use must be in the archive.

use crate::cpio::Cpio;
use crate::{bail, build, tools, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// The program that /init is a copy of when there is no busybox.
pub const INIT_PROGRAM: &str = "hello";

/// Where Debian's busybox-static puts busybox (bookworm: /bin is /usr/bin).
pub const BUSYBOX_PATHS: [&str; 2] = ["/bin/busybox", "/usr/bin/busybox"];

/// /etc/passwd and /etc/group: root only, so `id`, `ls -l` and the shell's
/// `~` find a name and a home.
const ETC_PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n";
const ETC_GROUP: &[u8] = b"root:x:0:\n";

/// Debian's static busybox as found on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Busybox {
    pub path: PathBuf,
    pub data: Vec<u8>,
    /// `busybox --list`, without "busybox" itself.
    pub applets: Vec<String>,
}

/// What goes into the initramfs besides the device nodes and directories.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// (name, ELF) for /bin/<name>.
    pub programs: Vec<(String, Vec<u8>)>,
    /// (file name, text) for /tests/<file name>.
    pub scripts: Vec<(String, Vec<u8>)>,
    /// busybox and the /init script that starts its shell.
    pub busybox: Option<(Busybox, Vec<u8>)>,
}

/// A built program.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub name: String,
    pub source: PathBuf,
    pub binary: PathBuf,
}

/// `user/` in the workspace.
pub fn source_dir() -> PathBuf {
    build::workspace_root().join("user")
}

/// `target/tine/user/`.
pub fn output_dir() -> PathBuf {
    build::tine_dir().join("user")
}

/// `target/tine/initramfs.cpio`: what `run` and `initrd = "default"` boot with.
pub fn initramfs_path() -> PathBuf {
    build::tine_dir().join("initramfs.cpio")
}

fn walk(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) -> Result {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for e in entries {
        let path = e
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.is_dir() {
            walk(&path, ext, out)?;
        } else if path.extension().is_some_and(|x| x == ext) {
            out.push(path);
        }
    }
    Ok(())
}

/// The programs under `dir`: (name, source), sorted by name. Two sources
/// with the same name, or a name that is not a plain file name, are errors.
pub fn find_sources(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    walk(dir, "c", &mut files)?;
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for f in files {
        let name = f
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            bail!(
                "{}: program names (the file name without .c) may only use letters, digits, '_', '-' and '.'",
                build::display_path(&f)
            );
        }
        if let Some((_, other)) = out.iter().find(|(n, _)| *n == name) {
            bail!(
                "two user programs are named {name:?}: {} and {} (each becomes /bin/{name})",
                build::display_path(other),
                build::display_path(&f)
            );
        }
        out.push((name, f));
    }
    out.sort();
    Ok(out)
}

fn mtime(p: &Path) -> Option<SystemTime> {
    p.metadata().and_then(|m| m.modified()).ok()
}

/// True if `binary` is missing or older than any of `inputs`.
pub fn stale(binary: &Path, inputs: &[&Path]) -> bool {
    let Some(built) = mtime(binary) else {
        return true;
    };
    inputs.iter().any(|i| mtime(i).is_none_or(|t| t > built))
}

/// `musl-gcc -static -O2 -Wall -I<include> -o <out> <source>`, through a
/// temporary file so a half-written binary never has the final name.
pub fn compile(source: &Path, include: &Path, out: &Path) -> Result {
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("prog"),
        std::process::id()
    ));
    let result = Command::new(tools::MUSL_GCC.bin)
        .args(["-static", "-O2", "-Wall"])
        .arg(format!("-I{}", include.display()))
        .arg("-o")
        .arg(&tmp)
        .arg(source)
        .output()
        .context("running musl-gcc")?;
    let warnings = String::from_utf8_lossy(&result.stderr);
    if !result.status.success() {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "musl-gcc failed to build {}:\n{}",
            build::display_path(source),
            warnings.trim_end()
        );
    }
    if !warnings.trim().is_empty() {
        eprintln!("{}", warnings.trim_end());
    }
    std::fs::rename(&tmp, out)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))
}

/// Builds (as needed) every program under `src` into `out`.
pub fn build_programs(src: &Path, out: &Path) -> Result<Vec<Program>> {
    let sources = find_sources(src)?;
    let mut headers = Vec::new();
    walk(src, "h", &mut headers)?;
    let mut programs = Vec::new();
    for (name, source) in sources {
        let binary = out.join(&name);
        let mut inputs: Vec<&Path> = vec![&source];
        inputs.extend(headers.iter().map(PathBuf::as_path));
        if stale(&binary, &inputs) {
            compile(&source, src, &binary)?;
        }
        programs.push(Program {
            name,
            source,
            binary,
        });
    }
    Ok(programs)
}

/// The initramfs holding `contents`; see the module doc.
pub fn initramfs_image(contents: &Contents) -> Result<Vec<u8>> {
    let programs = &contents.programs;
    let Some((_, hello)) = programs.iter().find(|(n, _)| n == INIT_PROGRAM) else {
        bail!("there is no user/{INIT_PROGRAM}.c, and the initramfs's /bin/{INIT_PROGRAM} is what scenarios run as init");
    };
    let mut c = Cpio::new();
    c.dir("/dev", 0o755)
        .char_dev("/dev/console", 0o600, 5, 1)
        .char_dev("/dev/null", 0o666, 1, 3)
        .char_dev("/dev/zero", 0o666, 1, 5)
        .char_dev("/dev/tty", 0o666, 5, 0)
        .dir("/bin", 0o755)
        .dir("/sbin", 0o755)
        .dir("/tmp", 0o1777)
        .dir("/etc", 0o755)
        .file("/etc/passwd", 0o644, ETC_PASSWD)
        .file("/etc/group", 0o644, ETC_GROUP)
        .dir("/root", 0o700)
        .dir("/proc", 0o555)
        .dir("/sys", 0o555)
        .dir("/tests", 0o755);
    for (name, data) in &contents.scripts {
        c.file(&format!("/tests/{name}"), 0o755, data);
    }
    for (name, data) in programs {
        c.file(&format!("/bin/{name}"), 0o755, data);
    }
    match &contents.busybox {
        Some((bb, init)) => {
            c.file("/bin/busybox", 0o755, &bb.data);
            for applet in &bb.applets {
                let dir = if programs.iter().any(|(n, _)| n == applet) {
                    "/sbin"
                } else {
                    "/bin"
                };
                c.symlink(&format!("{dir}/{applet}"), "/bin/busybox");
            }
            c.file("/init", 0o755, init);
        }
        None => {
            c.file("/init", 0o755, hello);
        }
    }
    Ok(c.finish())
}

/// Checks that `data` (read from `path`) is a static x86_64 ELF program
/// (no PT_INTERP, as `file` says "statically linked").
pub fn check_static(path: &Path, data: &[u8]) -> std::result::Result<(), String> {
    match klib::elf::parse(data) {
        Ok(info) if info.interp.is_none() => Ok(()),
        Ok(info) => Err(format!(
            "{} is dynamically linked (interpreter {}); Tine runs static programs only",
            path.display(),
            info.interp.unwrap_or_default()
        )),
        Err(e) => Err(format!("{} is not an x86_64 ELF program: {e}", path.display())),
    }
}

/// Parses `busybox --list`: one applet name per line; "busybox" itself is
/// left out. Names must be plain file names.
pub fn parse_applets(list: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if name.contains('/') || name == "." || name == ".." {
            return Err(format!("busybox --list printed {name:?}, which is not an applet name"));
        }
        if name != "busybox" {
            out.push(name.to_string());
        }
    }
    if out.is_empty() {
        return Err("busybox --list printed no applets".into());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Reads and checks the busybox at `path`, and lists its applets by
/// running it (it is a host program too).
pub fn load_busybox(path: &Path) -> std::result::Result<Busybox, String> {
    let data = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    check_static(path, &data)?;
    let out = Command::new(path)
        .arg("--list")
        .output()
        .map_err(|e| format!("running {} --list: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!("{} --list failed ({})", path.display(), out.status));
    }
    let applets = parse_applets(&String::from_utf8_lossy(&out.stdout))?;
    Ok(Busybox {
        path: path.to_path_buf(),
        data,
        applets,
    })
}

/// Debian's static busybox, or why there is none (with the apt hint). As
/// root, busybox-static is installed first if no static busybox is found.
pub fn find_busybox() -> std::result::Result<Busybox, String> {
    let find = || -> std::result::Result<Busybox, String> {
        let mut why = Vec::new();
        for p in BUSYBOX_PATHS {
            let path = Path::new(p);
            if !path.exists() {
                continue;
            }
            match load_busybox(path) {
                Ok(bb) => return Ok(bb),
                Err(e) => why.push(e),
            }
        }
        if why.is_empty() {
            why.push(format!("busybox is not installed ({})", BUSYBOX_PATHS.join(" or ")));
        }
        Err(why.join("; "))
    };
    let why = match find() {
        Ok(bb) => return Ok(bb),
        Err(why) => why,
    };
    if !tools::is_root() {
        return Err(format!(
            "{why} (install with: {})",
            tools::install_hint(&[tools::BUSYBOX_STATIC])
        ));
    }
    eprintln!("xtask: {why}; installing {} with apt-get", tools::BUSYBOX_STATIC);
    if let Err(e) = tools::apt_install(&[tools::BUSYBOX_STATIC]) {
        return Err(format!("{why}, and {} could not be installed: {}", tools::BUSYBOX_STATIC, e.replace('\n', " ")));
    }
    find()
}

/// `user/sh/*.sh`: (file name, contents), sorted.
pub fn find_scripts(src: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let dir = src.join("sh");
    let mut files = Vec::new();
    if dir.is_dir() {
        walk(&dir, "sh", &mut files)?;
    }
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if out.iter().any(|(n, _): &(String, Vec<u8>)| *n == name) {
            bail!("two scripts under user/sh/ are named {name:?}");
        }
        let data = std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?;
        out.push((name, data));
    }
    out.sort();
    Ok(out)
}

/// Writes `data` to `path` unless it already holds exactly that; returns
/// whether it wrote. Goes through a temporary file and a rename, so a QEMU
/// reading the old file is not disturbed.
pub fn write_if_changed(path: &Path, data: &[u8]) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == data) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("out"),
        std::process::id()
    ));
    std::fs::write(&tmp, data).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    Ok(true)
}

/// Builds the programs under `src` into `out` and the initramfs at `image`,
/// with `busybox` (and `src`/init.sh as /init) if given.
pub fn build_initramfs_at(
    src: &Path,
    out: &Path,
    image: &Path,
    busybox: Option<&Busybox>,
) -> Result<Vec<Program>> {
    let programs = build_programs(src, out)?;
    let mut contents = Contents {
        scripts: find_scripts(src)?,
        ..Contents::default()
    };
    for p in &programs {
        let data =
            std::fs::read(&p.binary).with_context(|| format!("reading {}", p.binary.display()))?;
        contents.programs.push((p.name.clone(), data));
    }
    if let Some(bb) = busybox {
        let init = src.join("init.sh");
        let text = std::fs::read(&init).with_context(|| format!("reading {}", init.display()))?;
        contents.busybox = Some((bb.clone(), text));
    }
    write_if_changed(image, &initramfs_image(&contents)?)?;
    Ok(programs)
}

/// Why the user programs cannot be built here (one line), or None if
/// musl-gcc is available. As root, a missing musl-gcc is installed first.
pub fn musl_missing() -> Option<String> {
    if tools::find(tools::MUSL_GCC.bin).is_some() {
        return None;
    }
    if !tools::is_root() {
        return Some(format!(
            "musl-gcc is not installed (install with: {})",
            tools::install_hint(&[tools::MUSL_GCC.package])
        ));
    }
    tools::ensure(&[tools::MUSL_GCC])
        .err()
        .map(|e| format!("musl-gcc could not be installed: {}", e.replace('\n', " ")))
}

/// What the default initramfs was built with.
pub struct Initramfs {
    pub path: PathBuf,
    /// Why busybox is not in it (then /init is a copy of /bin/hello).
    pub no_busybox: Option<String>,
}

/// Builds everything under `user/` and `target/tine/initramfs.cpio`, with
/// the host's static busybox if there is one.
pub fn build_initramfs() -> Result<Initramfs> {
    if let Some(why) = musl_missing() {
        bail!("cannot build the user programs: {why}");
    }
    let image = initramfs_path();
    let busybox = find_busybox();
    let programs = build_initramfs_at(&source_dir(), &output_dir(), &image, busybox.as_ref().ok())?;
    let names: Vec<&str> = programs.iter().map(|p| p.name.as_str()).collect();
    match &busybox {
        Ok(bb) => println!(
            "Initramfs: {} (/init = user/init.sh, a busybox shell; {} with {} applets; /bin: {})",
            build::display_path(&image),
            bb.path.display(),
            bb.applets.len(),
            names.join(" ")
        ),
        Err(why) => {
            println!(
                "Initramfs: {} (/init = /bin/{INIT_PROGRAM}; /bin: {})",
                build::display_path(&image),
                names.join(" ")
            );
            println!("note: the initramfs has no busybox: {why}");
        }
    }
    Ok(Initramfs {
        path: image,
        no_busybox: busybox.err(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use klib::cpio::{entries, CpioEntry};

    const S_IFMT: u32 = 0o170000;
    const S_IFDIR: u32 = 0o040000;
    const S_IFCHR: u32 = 0o020000;
    const S_IFREG: u32 = 0o100000;

    fn programs() -> Vec<(String, Vec<u8>)> {
        vec![
            ("exec_stack".into(), b"\x7fELF exec_stack".to_vec()),
            ("hello".into(), b"\x7fELF hello!".to_vec()),
            ("init_exit0".into(), b"\x7fELF init_exit0".to_vec()),
        ]
    }

    fn contents() -> Contents {
        Contents {
            programs: programs(),
            scripts: vec![("a.sh".into(), b"#!/bin/sh\necho a\n".to_vec())],
            busybox: None,
        }
    }

    fn parse(image: &[u8]) -> Vec<CpioEntry<'_>> {
        entries(image)
            .collect::<std::result::Result<Vec<_>, _>>()
            .expect("the kernel's cpio reader accepts the archive")
    }

    #[test]
    fn initramfs_layout() {
        let image = initramfs_image(&contents()).unwrap();
        let e = parse(&image);
        let names: Vec<&str> = e.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "dev",
                "dev/console",
                "dev/null",
                "dev/zero",
                "dev/tty",
                "bin",
                "sbin",
                "tmp",
                "etc",
                "etc/passwd",
                "etc/group",
                "root",
                "proc",
                "sys",
                "tests",
                "tests/a.sh",
                "bin/exec_stack",
                "bin/hello",
                "bin/init_exit0",
                "init"
            ]
        );
        let by = |n: &str| *e.iter().find(|e| e.name == n).unwrap();
        assert_eq!(by("dev").mode, S_IFDIR | 0o755);
        assert_eq!(by("bin").mode, S_IFDIR | 0o755);
        assert_eq!(by("tmp").mode, S_IFDIR | 0o1777);
        assert_eq!(by("root").mode, S_IFDIR | 0o700);
        assert_eq!(by("etc/passwd").data, b"root:x:0:0:root:/root:/bin/sh\n");
        assert_eq!(by("etc/group").data, b"root:x:0:\n");
        assert_eq!(by("tests/a.sh").mode, S_IFREG | 0o755);
        assert_eq!(by("tests/a.sh").data, b"#!/bin/sh\necho a\n");
        let console = by("dev/console");
        assert_eq!(console.mode, 0o020600);
        assert_eq!(console.mode & S_IFMT, S_IFCHR);
        assert_eq!((console.rdevmajor, console.rdevminor), (5, 1));
        assert!(console.data.is_empty());
        for (node, major, minor) in [("dev/null", 1, 3), ("dev/zero", 1, 5), ("dev/tty", 5, 0)] {
            let n = by(node);
            assert_eq!(n.mode, S_IFCHR | 0o666, "{node}");
            assert_eq!((n.rdevmajor, n.rdevminor), (major, minor), "{node}");
        }
        for (name, data) in programs() {
            let f = by(&format!("bin/{name}"));
            assert_eq!(f.mode, S_IFREG | 0o755, "{name}");
            assert_eq!(f.data, &data[..], "{name}");
            assert_eq!((f.uid, f.gid, f.mtime), (0, 0, 0));
        }
        let init = by("init");
        assert_eq!(init.mode, S_IFREG | 0o755);
        assert_eq!(init.data, b"\x7fELF hello!");
        // Parents come before their contents; inode numbers are distinct.
        let mut inos: Vec<u32> = e.iter().map(|e| e.ino).collect();
        inos.sort();
        inos.dedup();
        assert_eq!(inos.len(), e.len());
        // Same input, same bytes.
        assert_eq!(initramfs_image(&contents()).unwrap(), image);
    }

    #[test]
    fn initramfs_with_busybox() {
        let mut c = contents();
        c.programs.push(("poweroff".into(), b"\x7fELF ours".to_vec()));
        let bb = Busybox {
            path: "/bin/busybox".into(),
            data: b"\x7fELF busybox".to_vec(),
            applets: vec!["[".into(), "ls".into(), "poweroff".into(), "sh".into()],
        };
        c.busybox = Some((bb, b"#!/bin/sh\nexec sh\n".to_vec()));
        let image = initramfs_image(&c).unwrap();
        let e = parse(&image);
        let by = |n: &str| *e.iter().find(|e| e.name == n).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(by("bin/busybox").data, b"\x7fELF busybox");
        assert_eq!(by("bin/busybox").mode, S_IFREG | 0o755);
        for link in ["bin/[", "bin/ls", "bin/sh", "sbin/poweroff"] {
            assert_eq!(by(link).mode, 0o120777, "{link}");
            assert_eq!(by(link).data, b"/bin/busybox", "{link}");
        }
        // Our program keeps its name; busybox's applet of that name is in /sbin.
        assert_eq!(by("bin/poweroff").data, b"\x7fELF ours");
        assert_eq!(by("init").data, b"#!/bin/sh\nexec sh\n");
        assert_eq!(by("bin/hello").data, b"\x7fELF hello!");
        // Directories come before what is in them.
        let pos = |n: &str| e.iter().position(|e| e.name == n).unwrap();
        assert!(pos("sbin") < pos("sbin/poweroff") && pos("bin") < pos("bin/sh"));
    }

    #[test]
    fn initramfs_needs_hello() {
        let c = Contents {
            programs: vec![("other".into(), vec![1])],
            ..Contents::default()
        };
        let err = initramfs_image(&c).unwrap_err();
        assert!(err.contains("user/hello.c"), "{err}");
    }

    #[test]
    fn applet_list_parsing() {
        assert_eq!(
            parse_applets("[\n[[\nbusybox\nsh\nls\n\n").unwrap(),
            ["[", "[[", "ls", "sh"]
        );
        assert!(parse_applets("busybox\n").unwrap_err().contains("no applets"));
        assert!(parse_applets("sh\n../x\n").unwrap_err().contains("not an applet name"));
    }

    #[test]
    fn static_check() {
        let dir = crate::testutil::scratch_dir();
        // This test binary is a dynamically linked host program.
        let me = std::env::current_exe().unwrap();
        let data = std::fs::read(&me).unwrap();
        let err = check_static(&me, &data).unwrap_err();
        assert!(err.contains("dynamically linked"), "{err}");
        let err = check_static(&dir.join("x"), b"#!/bin/sh\n").unwrap_err();
        assert!(err.contains("not an x86_64 ELF program"), "{err}");
        // The host's busybox, if it is Debian's static one.
        for p in BUSYBOX_PATHS {
            if let Ok(bb) = load_busybox(Path::new(p)) {
                assert!(bb.applets.iter().any(|a| a == "sh"), "{:?}", bb.applets);
                assert!(!bb.applets.iter().any(|a| a == "busybox"));
            }
        }
    }

    #[test]
    fn sources_are_found_and_checked() {
        let dir = crate::testutil::scratch_dir().join("srcs");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bench")).unwrap();
        for f in ["b.c", "a.c", "bench/z.c", "notes.txt", "x.h"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let found = find_sources(&dir).unwrap();
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "z"]);
        assert_eq!(found[2].1, dir.join("bench/z.c"));
        std::fs::write(dir.join("bench/a.c"), "").unwrap();
        let err = find_sources(&dir).unwrap_err();
        assert!(err.contains("two user programs are named \"a\""), "{err}");
        std::fs::remove_file(dir.join("bench/a.c")).unwrap();
        std::fs::write(dir.join("bad name.c"), "").unwrap();
        assert!(find_sources(&dir).unwrap_err().contains("may only use"));
    }

    #[test]
    fn staleness_and_write_if_changed() {
        let dir = crate::testutil::scratch_dir().join("stale");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (src, bin) = (dir.join("p.c"), dir.join("p"));
        std::fs::write(&src, "").unwrap();
        assert!(stale(&bin, &[&src]));
        std::fs::write(&bin, "").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&src)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(!stale(&bin, &[&src]));
        assert!(stale(&bin, &[&src, &dir.join("missing.h")]));
        let out = dir.join("image");
        assert!(write_if_changed(&out, b"one").unwrap());
        assert!(!write_if_changed(&out, b"one").unwrap());
        assert!(write_if_changed(&out, b"two").unwrap());
        assert_eq!(std::fs::read(&out).unwrap(), b"two");
    }

    /// Builds the real user/ programs with musl-gcc (skipped without it)
    /// into a scratch directory, checks them with the kernel's ELF parser
    /// and runs them on this (Linux) host.
    #[test]
    fn real_programs_build_parse_and_run() {
        if tools::find(tools::MUSL_GCC.bin).is_none() {
            eprintln!("note: musl-gcc not installed; skipping the user program build test");
            return;
        }
        let dir = crate::testutil::scratch_dir().join("user");
        let image = dir.join("initramfs.cpio");
        let programs = build_initramfs_at(&source_dir(), &dir, &image, None).unwrap();
        let names: Vec<&str> = programs.iter().map(|p| p.name.as_str()).collect();
        for must in ["hello", "init_exit0", "bootmark", "exec_stack", "syscalls", "signals", "vfork", "mman", "sysmisc", "pipes", "sighandler", "futex", "raspbian_proc", "rpi_proc_exit", "zombie", "daemon", "segfault", "tcdrain"] {
            assert!(names.contains(&must), "{must} not in {names:?}");
        }
        for p in &programs {
            let data = std::fs::read(&p.binary).unwrap();
            let info = klib::elf::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!(info.interp, None, "{} is static", p.name);
            assert!(!info.stack_exec);
        }
        // The archive holds exactly what was built.
        let archive = std::fs::read(&image).unwrap();
        let e = parse(&archive);
        let hello = std::fs::read(dir.join("hello")).unwrap();
        assert_eq!(
            e.iter().find(|e| e.name == "init").unwrap().data,
            &hello[..]
        );
        let scripts = find_scripts(&source_dir()).unwrap();
        assert!(!scripts.is_empty());
        assert_eq!(e.len(), 15 + scripts.len() + programs.len() + 1);
        // A second build changes nothing.
        let before = mtime(&image);
        build_initramfs_at(&source_dir(), &dir, &image, None).unwrap();
        assert_eq!(mtime(&image), before);

        let run = |name: &str, args: &[&str]| {
            Command::new(dir.join(name))
                .args(args)
                .env_clear()
                .env("HOME", "/")
                .env("TERM", "linux")
                .output()
                .unwrap()
        };
        let out = run("hello", &[]);
        assert_eq!(out.stdout, b"hello from user space\n");
        assert_eq!(out.status.code(), Some(7));
        let out = run("init_exit0", &[]);
        assert_eq!(out.status.code(), Some(0));
        assert!(!out.stdout.is_empty());
        // exec_stack's checks of the Linux stack layout hold on Linux.
        let out = run("exec_stack", &["one", "", "three"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(!text.contains("FAIL"), "{text}");
        assert!(text.contains("argv[2] = \"\""), "{text}");
        assert!(text.contains("envp[1] = \"TERM=linux\""), "{text}");
        assert!(text.contains("\ndone passed="), "{text}");
        // The system call checks hold on Linux, the oracle (fork+exec runs hello).
        let hello_path = dir.join("hello");
        let out = run("syscalls", &[hello_path.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(!text.contains("FAIL"), "{text}");
        for (name, args) in [
            ("signals", vec![]),
            ("vfork", vec![hello_path.to_str().unwrap()]),
            ("pipes", vec![hello_path.to_str().unwrap()]),
            ("threads", vec![hello_path.to_str().unwrap()]),
            ("poll", vec![]),
            ("sighandler", vec![]),
            ("mman", vec![]),
            ("sysmisc", vec![]),
            ("futex", vec![]),
            ("zombie", vec!["0"]),
            ("daemon", vec!["-s"]),
        ] {
            let out = run(name, &args);
            let text = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{name}: {text}");
            assert!(!text.contains("FAIL"), "{name}: {text}");
        }
        // The shell tests' helpers.
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(run("segfault", &[]).status.signal(), Some(libc::SIGSEGV));
        assert_eq!(run("tcdrain", &["3"]).status.code(), Some(3));
        assert_eq!(run("tcdrain", &[]).status.code(), Some(0));
    }
}
