//! `cargo xtask`: the host-side build / run / test / bench / debug tool of Tine.
//!
//! Every command is implemented in its own module; this file only parses the
//! command line, prints `--help` and maps results to exit statuses.

mod bench;
mod build;
mod cpio;
mod kallsyms;
mod monitor;
mod oracle;
mod qemu;
mod scenario;
mod testrun;
#[cfg(test)]
mod testutil;
mod tools;
mod user;

use std::collections::VecDeque;
use std::fmt::Display;
use std::path::PathBuf;

/// Errors are plain, already-formatted messages: every one of them ends up in
/// front of a person, so they carry their context (file names, commands) with them.
pub type Result<T = ()> = std::result::Result<T, String>;

/// `?`-friendly context for any error that can be displayed.
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
    fn with_context<C: Display>(self, what: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| format!("{what}: {e}"))
    }
    fn with_context<C: Display>(self, what: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| format!("{}: {e}", what()))
    }
}

/// `bail!("...", args)`: return an error message from the current function.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err(format!($($arg)*)) };
}

const HELP: &str = "\
cargo xtask — build, run, test, benchmark and debug the Tine kernel

USAGE:
    cargo xtask <COMMAND> [OPTIONS]

COMMANDS:
    build [--release]
        Build the kernel, copy it to target/tine/kernel.elf (kernel-release.elf
        with --release), check that its PT_LOAD segments can be loaded flat by
        QEMU's multiboot loader, and patch the symbol table into its .kallsyms
        section. If musl-gcc is installed, also build the user programs
        (user/**/*.c -> target/tine/user/<name>, musl-gcc -static -O2) and
        target/tine/initramfs.cpio: /dev/console, /bin/<name> for every
        program, /tmp, /etc, /tests/*.sh (user/sh), Debian's static busybox
        with its applets in /bin if the host has it (busybox-static), and
        /init = user/init.sh (a busybox shell), or without busybox a copy of
        /bin/hello.

    run [--smp N] [--mem SIZE] [--append CMDLINE] [--initrd FILE | --no-initrd] [--release] [-- QEMU-ARGS...]
        Build, then boot in QEMU with the serial console on this terminal
        (Ctrl-C goes to the guest; Ctrl-A X quits QEMU, Ctrl-A C toggles the
        QEMU monitor). Everything after `--` is passed to QEMU.
        Boots with target/tine/initramfs.cpio (built first, needs musl-gcc)
        unless --initrd FILE names another one or --no-initrd is given: an
        interactive busybox shell on the console (poweroff -f ends QEMU).
        Defaults: --smp 2 --mem 256M --append \"console=ttyS0\".
        Exit status: 0 if the guest powered off, reset or wrote 0 to the
        isa-debug-exit port without a kernel panic; 1 if the kernel panicked,
        wrote a non-zero value to isa-debug-exit, reset without printing
        anything (a triple fault), or QEMU failed.

    test [FILTER] [-j N] [--no-host] [--against-linux | --no-linux]
        1. check the tools (installs missing ones when run as root),
        2. run the host unit tests (cargo test --workspace --exclude kernel;
           skipped with --no-host),
        3. build the user programs and target/tine/initramfs.cpio (if
           musl-gcc is installed; scenarios with initrd = \"default\" fail
           without it; those with busybox = true are skipped without a
           static busybox) and the kernel (debug),
        4. boot every scenario from tests/*.toml whose name contains FILTER,
           up to N QEMUs at a time (default 2). Serial output goes to
           target/tine/test-logs/<name>.log. See tests/README.md for the
           scenario format.
        5. Linux as the oracle: every scenario with linux = true (a user test
           program run as init) is also booted on the newest /boot/vmlinuz-*
           with the same initramfs and command line, and the check
           linux:<name> compares the program's PASS/FAIL/done lines on both
           kernels (log: target/tine/test-logs/<name>.linux.log). Without a
           Linux kernel (apt package linux-image-amd64) these checks are
           skipped. FILTER applies to the check names too (`test linux:`).
           --against-linux runs only the scenarios with linux = true, on Tine
           and on Linux, and fails if there is no Linux kernel; --no-linux
           skips the Linux checks.
        Exits non-zero if anything failed.

    bench
        Boot-time benchmark (release build, 5 boots, -smp 2 -m 256M): time to
        the first serial line, to \"smp: Brought up\" and to the init-panic
        line of Tine, compared with the newest /boot/vmlinuz-* booting a tiny
        static initramfs (needs musl-gcc). Prints a plain table and a Markdown
        table for docs/benchmarks.md.

    debug [--smp N] [--mem SIZE] [--append CMDLINE] [--initrd FILE | --no-initrd] [--release] [-- QEMU-ARGS...]
        Build, start QEMU halted with a gdb stub on :1234 (serial output to
        target/tine/serial.log), and run gdb attached to it. QEMU is killed
        when gdb exits.

    help, --help, -h
        Show this text.

TOOLS:
    run, test, bench and debug need qemu-system-x86_64 (apt package
    qemu-system-x86); debug also needs gdb (gdb); the user programs (the
    initramfs of run and debug, initrd = \"default\" scenarios) and bench's
    Linux row need musl-gcc (musl-tools); bench's Linux row also needs a
    /boot/vmlinuz-* (linux-image-amd64), as do test's linux:<name> checks
    (never installed by xtask). When run as root, missing tools are
    installed with apt-get; otherwise the sudo apt-get command to run is
    printed.

EXAMPLES:
    cargo xtask run --append \"init=/nonexistent panic=-1\"
    cargo xtask test smp -j 1
    cargo xtask debug --smp 1
";

/// Which initramfs `run` and `debug` boot with.
#[derive(Debug, Clone, PartialEq)]
pub enum Initrd {
    /// target/tine/initramfs.cpio, built from user/ first.
    Default,
    /// `--initrd FILE`.
    File(PathBuf),
    /// `--no-initrd`.
    None,
}

/// Options shared by `run` and `debug`.
#[derive(Debug, Clone, PartialEq)]
pub struct VmOptions {
    pub smp: u32,
    pub mem: String,
    pub append: String,
    pub initrd: Initrd,
    pub release: bool,
    /// Everything after `--`, passed to QEMU verbatim.
    pub qemu_args: Vec<String>,
}

impl Default for VmOptions {
    fn default() -> Self {
        VmOptions {
            smp: 2,
            mem: "256M".into(),
            append: "console=ttyS0".into(),
            initrd: Initrd::Default,
            release: false,
            qemu_args: Vec::new(),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Build {
        release: bool,
    },
    Run(VmOptions),
    Debug(VmOptions),
    Test {
        filter: Option<String>,
        jobs: usize,
        host: bool,
        linux: testrun::LinuxMode,
    },
    Bench,
}

/// A tiny command-line scanner: flags with a value accept both `--flag value`
/// and `--flag=value`.
struct Args {
    args: VecDeque<String>,
    cmd: &'static str,
}

enum Arg {
    /// `--name` or `-n`, with the value given after `=` if any.
    Flag(String, Option<String>),
    Positional(String),
    /// Everything after a lone `--`.
    Rest(Vec<String>),
}

impl Args {
    fn next(&mut self) -> Option<Arg> {
        let a = self.args.pop_front()?;
        if a == "--" {
            return Some(Arg::Rest(self.args.drain(..).collect()));
        }
        if a.starts_with("--") {
            return Some(match a.split_once('=') {
                Some((f, v)) => Arg::Flag(f.to_string(), Some(v.to_string())),
                None => Arg::Flag(a, None),
            });
        }
        // Short flags: `-j 4` and `-j4`.
        if let Some(c) = a
            .strip_prefix('-')
            .and_then(|r| r.chars().next())
            .filter(|c| !c.is_ascii_digit())
        {
            let (f, v) = a.split_at(1 + c.len_utf8());
            let v = v.strip_prefix('=').unwrap_or(v);
            return Some(Arg::Flag(
                f.to_string(),
                (!v.is_empty()).then(|| v.to_string()),
            ));
        }
        Some(Arg::Positional(a))
    }

    fn value(&mut self, flag: &str, inline: Option<String>) -> Result<String> {
        if let Some(v) = inline {
            return Ok(v);
        }
        match self.args.pop_front() {
            Some(v) if v != "--" => Ok(v),
            _ => bail!(
                "`{} {flag}` needs a value (see `cargo xtask --help`)",
                self.cmd
            ),
        }
    }

    fn no_value(&self, flag: &str, inline: &Option<String>) -> Result {
        if inline.is_some() {
            bail!("`{} {flag}` takes no value", self.cmd);
        }
        Ok(())
    }

    fn unknown(&self, what: &str) -> String {
        format!(
            "unknown argument `{what}` for `cargo xtask {}` (see `cargo xtask --help`)",
            self.cmd
        )
    }
}

fn parse_number<T>(flag: &str, v: &str, min: T) -> Result<T>
where
    T: std::str::FromStr + PartialOrd + Display + Copy,
{
    match v.parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        _ => bail!("{flag} expects a number >= {min}, got `{v}`"),
    }
}

/// Memory sizes as QEMU's `-m` takes them: a number with an optional K/M/G/T suffix.
pub fn check_mem(v: &str) -> Result<()> {
    let digits = v.trim_end_matches(|c: char| "kKmMgGtT".contains(c));
    let suffix_len = v.len() - digits.len();
    if digits.is_empty() || suffix_len > 1 || !digits.chars().all(|c| c.is_ascii_digit()) {
        bail!("memory size `{v}` is not a number with an optional K/M/G/T suffix (e.g. 256M)");
    }
    Ok(())
}

fn parse_vm_options(args: &mut Args) -> Result<VmOptions> {
    let mut o = VmOptions::default();
    while let Some(arg) = args.next() {
        match arg {
            Arg::Flag(f, v) => match f.as_str() {
                "--smp" => o.smp = parse_number("--smp", &args.value(&f, v)?, 1u32)?,
                "--mem" | "-m" => {
                    o.mem = args.value(&f, v)?;
                    check_mem(&o.mem)?;
                }
                "--append" => o.append = args.value(&f, v)?,
                "--initrd" => {
                    if o.initrd == Initrd::None {
                        bail!("--initrd and --no-initrd contradict each other");
                    }
                    o.initrd = Initrd::File(PathBuf::from(args.value(&f, v)?))
                }
                "--no-initrd" => {
                    args.no_value(&f, &v)?;
                    if matches!(o.initrd, Initrd::File(_)) {
                        bail!("--initrd and --no-initrd contradict each other");
                    }
                    o.initrd = Initrd::None
                }
                "--release" => {
                    args.no_value(&f, &v)?;
                    o.release = true
                }
                _ => return Err(args.unknown(&f)),
            },
            Arg::Rest(rest) => o.qemu_args = rest,
            Arg::Positional(p) => return Err(args.unknown(&p)),
        }
    }
    Ok(o)
}

fn parse_command(argv: Vec<String>) -> Result<Command> {
    let mut argv: VecDeque<String> = argv.into();
    let Some(cmd) = argv.pop_front() else {
        return Ok(Command::Help);
    };
    let name: &'static str = match cmd.as_str() {
        "build" => "build",
        "run" => "run",
        "debug" => "debug",
        "test" => "test",
        "bench" => "bench",
        "help" | "--help" | "-h" => return Ok(Command::Help),
        other => bail!("unknown command `{other}` (try `cargo xtask --help`)"),
    };
    if argv
        .iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--help" || a == "-h")
    {
        return Ok(Command::Help);
    }
    let mut args = Args {
        args: argv,
        cmd: name,
    };
    match name {
        "build" => {
            let mut release = false;
            while let Some(arg) = args.next() {
                match arg {
                    Arg::Flag(f, v) if f == "--release" => {
                        args.no_value(&f, &v)?;
                        release = true
                    }
                    Arg::Flag(f, _) => return Err(args.unknown(&f)),
                    Arg::Positional(p) => return Err(args.unknown(&p)),
                    Arg::Rest(r) => return Err(args.unknown(&format!("-- {}", r.join(" ")))),
                }
            }
            Ok(Command::Build { release })
        }
        "run" => Ok(Command::Run(parse_vm_options(&mut args)?)),
        "debug" => Ok(Command::Debug(parse_vm_options(&mut args)?)),
        "test" => {
            let (mut filter, mut jobs, mut host) = (None, 2usize, true);
            let mut linux = testrun::LinuxMode::Auto;
            let mut set_linux = |mode| -> Result {
                if linux != testrun::LinuxMode::Auto && linux != mode {
                    bail!("--against-linux and --no-linux contradict each other");
                }
                linux = mode;
                Ok(())
            };
            while let Some(arg) = args.next() {
                match arg {
                    Arg::Flag(f, v) => match f.as_str() {
                        "-j" | "--jobs" => jobs = parse_number("-j", &args.value(&f, v)?, 1usize)?,
                        "--no-host" => {
                            args.no_value(&f, &v)?;
                            host = false
                        }
                        "--against-linux" => {
                            args.no_value(&f, &v)?;
                            set_linux(testrun::LinuxMode::Only)?
                        }
                        "--no-linux" => {
                            args.no_value(&f, &v)?;
                            set_linux(testrun::LinuxMode::Off)?
                        }
                        _ => return Err(args.unknown(&f)),
                    },
                    Arg::Positional(p) if filter.is_none() => filter = Some(p),
                    Arg::Positional(p) => return Err(args.unknown(&p)),
                    Arg::Rest(r) => return Err(args.unknown(&format!("-- {}", r.join(" ")))),
                }
            }
            Ok(Command::Test {
                filter,
                jobs,
                host,
                linux,
            })
        }
        "bench" => match args.next() {
            None => Ok(Command::Bench),
            Some(Arg::Flag(f, _)) | Some(Arg::Positional(f)) => Err(args.unknown(&f)),
            Some(Arg::Rest(_)) => Err(args.unknown("--")),
        },
        _ => unreachable!("command names are matched above"),
    }
}

/// Runs a command and returns the process exit status.
fn dispatch(cmd: Command) -> Result<i32> {
    match cmd {
        Command::Help => {
            print!("{HELP}");
            Ok(0)
        }
        Command::Build { release } => {
            build::build(release)?;
            if tools::find(tools::MUSL_GCC.bin).is_some() {
                user::build_initramfs()?;
            } else {
                println!(
                    "note: musl-gcc is not installed, so the user programs and the initramfs were not built (install with: {})",
                    tools::install_hint(&[tools::MUSL_GCC.package])
                );
            }
            Ok(0)
        }
        Command::Run(o) => qemu::run(&o),
        Command::Debug(o) => qemu::debug(&o),
        Command::Test {
            filter,
            jobs,
            host,
            linux,
        } => testrun::test(filter.as_deref(), jobs, host, linux),
        Command::Bench => bench::bench(),
    }
}

fn main() {
    // Die quietly when stdout is closed (`cargo xtask test | head`) instead
    // of panicking on a failed print, like any other command-line tool.
    // SAFETY: restoring the default disposition of SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match parse_command(argv).and_then(dispatch) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: {msg}");
            1
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Command> {
        parse_command(s.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn no_args_is_help() {
        assert_eq!(parse("").unwrap(), Command::Help);
        assert_eq!(parse("run --help").unwrap(), Command::Help);
    }

    #[test]
    fn run_defaults_and_flags() {
        assert_eq!(parse("run").unwrap(), Command::Run(VmOptions::default()));
        let Command::Run(o) =
            parse("run --smp 4 --mem=1G --release --initrd x.cpio -- -d int").unwrap()
        else {
            panic!()
        };
        assert_eq!(o.smp, 4);
        assert_eq!(o.mem, "1G");
        assert!(o.release);
        assert_eq!(o.initrd, Initrd::File(PathBuf::from("x.cpio")));
        assert_eq!(o.qemu_args, vec!["-d", "int"]);
        assert_eq!(o.append, "console=ttyS0");
    }

    #[test]
    fn initrd_choices() {
        let initrd = |s: &str| match parse(s).unwrap() {
            Command::Run(o) | Command::Debug(o) => o.initrd,
            other => panic!("{other:?}"),
        };
        assert_eq!(initrd("run"), Initrd::Default);
        assert_eq!(initrd("debug"), Initrd::Default);
        assert_eq!(initrd("run --no-initrd"), Initrd::None);
        assert_eq!(
            initrd("debug --initrd=a.cpio"),
            Initrd::File("a.cpio".into())
        );
        for bad in [
            "run --no-initrd --initrd a.cpio",
            "run --initrd a.cpio --no-initrd",
            "run --no-initrd=yes",
            "run --initrd",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn append_with_spaces() {
        let argv = vec![
            "run".into(),
            "--append".into(),
            "init=/nonexistent panic=-1".into(),
        ];
        let Command::Run(o) = parse_command(argv).unwrap() else {
            panic!()
        };
        assert_eq!(o.append, "init=/nonexistent panic=-1");
        // A value starting with '-' is still taken as the value.
        let argv = vec!["run".into(), "--append".into(), "-x".into()];
        let Command::Run(o) = parse_command(argv).unwrap() else {
            panic!()
        };
        assert_eq!(o.append, "-x");
    }

    #[test]
    fn test_command() {
        assert_eq!(
            parse("test").unwrap(),
            Command::Test {
                filter: None,
                jobs: 2,
                host: true,
                linux: testrun::LinuxMode::Auto,
            }
        );
        assert_eq!(
            parse("test smp -j 4").unwrap(),
            Command::Test {
                filter: Some("smp".into()),
                jobs: 4,
                host: true,
                linux: testrun::LinuxMode::Auto,
            }
        );
        assert_eq!(
            parse("test -j3 --no-host").unwrap(),
            Command::Test {
                filter: None,
                jobs: 3,
                host: false,
                linux: testrun::LinuxMode::Auto,
            }
        );
        assert_eq!(
            parse("test vfork --against-linux").unwrap(),
            Command::Test {
                filter: Some("vfork".into()),
                jobs: 2,
                host: true,
                linux: testrun::LinuxMode::Only,
            }
        );
        let Command::Test { linux, .. } = parse("test --no-linux --no-linux").unwrap() else {
            panic!()
        };
        assert_eq!(linux, testrun::LinuxMode::Off);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            "frobnicate",
            "run --smp",
            "run --smp zero",
            "run --smp 0",
            "run --mem lots",
            "run --mem 12MB",
            "run extra",
            "build --release=yes",
            "build --fast",
            "test a b",
            "test -j 0",
            "test -j",
            "bench now",
            "run -é",
            "run -",
            "test -j -1",
            "test --against-linux --no-linux",
            "test --no-linux --against-linux",
            "test --against-linux=yes",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn mem_sizes() {
        for ok in ["256M", "1G", "512", "128m", "65536K"] {
            assert!(check_mem(ok).is_ok(), "{ok}");
        }
        for bad in ["", "M", "1.5G", "256MB", "-1M"] {
            assert!(check_mem(bad).is_err(), "{bad}");
        }
    }
}
