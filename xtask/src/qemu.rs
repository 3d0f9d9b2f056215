//! Starting QEMU: the command line, how a run ended, capturing serial output,
//! and the interactive `run` and `debug` commands.

use crate::scenario::SendStep;
use crate::{bail, build, tools, user, Context, Initrd, Result, VmOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Printed by the kernel when it panics.
pub const PANIC_MARKER: &str = "Kernel panic - not syncing";

/// One QEMU invocation.
#[derive(Debug, Clone)]
pub struct Vm {
    pub kernel: PathBuf,
    pub smp: u32,
    pub mem: String,
    pub append: String,
    pub initrd: Option<PathBuf>,
    /// One `-serial` argument per port, COM1 first.
    pub serial: Vec<String>,
    /// Extra arguments appended verbatim.
    pub extra: Vec<String>,
    /// A unix socket for QEMU's human monitor (`-monitor none` without).
    pub monitor: Option<PathBuf>,
}

impl Vm {
    pub fn new(kernel: &Path, smp: u32, mem: &str, append: &str) -> Vm {
        Vm {
            kernel: kernel.to_path_buf(),
            smp,
            mem: mem.to_string(),
            append: append.to_string(),
            initrd: None,
            serial: vec!["stdio".into()],
            extra: Vec::new(),
            monitor: None,
        }
    }

    pub fn args(&self) -> Vec<String> {
        let monitor = match &self.monitor {
            Some(p) => format!("unix:{},server=on,wait=off", p.display()),
            None => "none".into(),
        };
        let mut a: Vec<String> = [
            "-machine",
            "pc",
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-m",
            &self.mem,
            "-smp",
            &self.smp.to_string(),
            "-display",
            "none",
            "-no-reboot",
            "-monitor",
            &monitor,
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel",
            &self.kernel.to_string_lossy(),
            "-append",
            &self.append,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(initrd) = &self.initrd {
            a.push("-initrd".into());
            a.push(initrd.to_string_lossy().into_owned());
        }
        for s in &self.serial {
            a.push("-serial".into());
            a.push(s.clone());
        }
        a.extend(self.extra.iter().cloned());
        a
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(tools::QEMU.bin);
        c.args(self.args());
        c
    }

    /// The command as one could paste it into a shell.
    pub fn command_line(&self) -> String {
        std::iter::once(tools::QEMU.bin.to_string())
            .chain(self.args().iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// How a QEMU run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// QEMU exited with status 0: a guest reset (under -no-reboot) or an ACPI power-off.
    Reset,
    /// The guest wrote `value` to isa-debug-exit; QEMU exited with `(value << 1) | 1`.
    DebugExit(u32),
    /// QEMU itself failed (bad arguments, missing file, ...).
    QemuError { rc: i32, message: String },
    /// QEMU was killed by a signal we did not send.
    Signal(i32),
    /// Still running at the deadline; we killed it.
    Timeout(Duration),
}

impl Ending {
    /// Classifies QEMU's exit status. QEMU's own errors also exit with 1, the
    /// same status as isa-debug-exit value 0; they are told apart by QEMU
    /// having printed an error and the guest nothing.
    pub fn classify(status: ExitStatus, serial_empty: bool, stderr: &str) -> Ending {
        use std::os::unix::process::ExitStatusExt;
        match status.code() {
            Some(0) => Ending::Reset,
            Some(rc) => {
                let error = stderr
                    .lines()
                    .find(|l| !l.trim().is_empty() && !l.contains("warning"));
                match error {
                    Some(msg) if rc == 1 && serial_empty => Ending::QemuError {
                        rc,
                        message: msg.trim().to_string(),
                    },
                    _ if rc & 1 == 1 => Ending::DebugExit((rc as u32) >> 1),
                    _ => Ending::QemuError {
                        rc,
                        message: error.unwrap_or("").trim().to_string(),
                    },
                }
            }
            None => Ending::Signal(status.signal().unwrap_or(0)),
        }
    }

    /// E.g. "ended by reset (rc 0)", "timed out after 30s".
    pub fn describe(&self) -> String {
        match self {
            Ending::Reset => "ended by reset (rc 0)".into(),
            Ending::DebugExit(v) => format!("exited via isa-debug-exit {v} (rc {})", (v << 1) | 1),
            Ending::QemuError { rc, message } if message.is_empty() => {
                format!("QEMU failed (rc {rc})")
            }
            Ending::QemuError { rc, message } => format!("QEMU failed (rc {rc}): {message}"),
            Ending::Signal(s) => format!("QEMU was killed by signal {s}"),
            Ending::Timeout(d) => format!("timed out after {}", fmt_secs(*d)),
        }
    }
}

/// "30s", "2.5s".
pub fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s}s")
    } else {
        format!("{s:.1}s")
    }
}

/// A line of serial output and when it arrived (since QEMU was spawned).
#[derive(Debug, Clone)]
pub struct Line {
    pub at: Duration,
    pub text: String,
}

/// The result of a non-interactive QEMU run.
#[derive(Debug)]
pub struct Captured {
    pub lines: Vec<Line>,
    pub ending: Ending,
    pub stderr: String,
    /// How many of the input lines were sent.
    pub sent: usize,
}

impl Captured {
    /// All serial output as text, lines joined with '\n' (no '\r').
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Splits a byte stream into lines, stripping "\r".
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    pub fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(String)) {
        for &b in bytes {
            if b == b'\n' {
                emit(Self::finish_line(&mut self.partial));
            } else {
                self.partial.push(b);
            }
        }
    }

    /// The last, unterminated line, if any.
    pub fn flush(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| Self::finish_line(&mut self.partial))
    }

    fn finish_line(buf: &mut Vec<u8>) -> String {
        let line = String::from_utf8_lossy(buf).replace('\r', "");
        buf.clear();
        line
    }
}

/// Decides when to send console input: step i's line goes out once its
/// marker has appeared in the output after the end of step i-1's marker
/// (so a prompt printed before the previous line was sent does not count).
/// The output is searched as text with '\r' removed, unterminated lines
/// included (a prompt has no newline).
pub struct InputFeeder {
    steps: Vec<SendStep>,
    seen: String,
    /// Where the next marker is searched from.
    from: usize,
    pub sent: usize,
}

impl InputFeeder {
    pub fn new(steps: &[SendStep]) -> InputFeeder {
        InputFeeder {
            steps: steps.to_vec(),
            seen: String::new(),
            from: 0,
            sent: 0,
        }
    }

    /// Takes more output; returns the bytes to write to the guest now.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.sent == self.steps.len() {
            return Vec::new();
        }
        self.seen
            .push_str(&String::from_utf8_lossy(bytes).replace('\r', ""));
        let mut out = Vec::new();
        while let Some(step) = self.steps.get(self.sent) {
            let Some(i) = self.seen[self.from..].find(step.after.as_str()) else {
                break;
            };
            self.from += i + step.after.len();
            out.extend_from_slice(step.line.as_bytes());
            out.push(b'\n');
            self.sent += 1;
        }
        out
    }
}

/// Runs QEMU with its (single, piped) `stdio` serial port captured, stdin
/// closed, and a deadline. Serial bytes are also written to `log` as they
/// arrive, so the log of a hanging VM can be watched.
pub fn run_captured(vm: &Vm, timeout: Duration, log: Option<&Path>) -> Result<Captured> {
    run_with_input(vm, timeout, log, &[])
}

/// `run_captured`, writing `input`'s lines to the serial port (QEMU's
/// stdin) as their markers appear (see [`InputFeeder`]). With no input,
/// stdin is closed.
pub fn run_with_input(
    vm: &Vm,
    timeout: Duration,
    log: Option<&Path>,
    input: &[SendStep],
) -> Result<Captured> {
    let mut log_file = match log {
        Some(p) => {
            Some(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    let start = Instant::now();
    // A monitor socket, to read the vCPUs' registers if the guest hangs.
    let monitor = crate::monitor::socket_path();
    let vm = &Vm { monitor: Some(monitor.clone()), ..vm.clone() };
    let mut child = vm
        .command()
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    // Kept open until QEMU exits: EOF is not part of the input.
    let mut stdin = child.stdin.take();
    let mut feeder = InputFeeder::new(input);

    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut splitter = LineSplitter::default();
        let mut buf = [0u8; 8192];
        let mut bytes = 0;
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let at = start.elapsed();
            bytes += n;
            if let Some(f) = log_file.as_mut() {
                let _ = f.write_all(&buf[..n]);
            }
            splitter.push(&buf[..n], |text| lines.push(Line { at, text }));
            let send = feeder.push(&buf[..n]);
            if let (false, Some(w)) = (send.is_empty(), stdin.as_mut()) {
                let _ = w.write_all(&send).and_then(|_| w.flush());
            }
        }
        if let Some(text) = splitter.flush() {
            lines.push(Line {
                at: start.elapsed(),
                text,
            });
        }
        drop(stdin);
        (lines, bytes, feeder.sent)
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });

    let mut vcpus = None;
    let status = wait_deadline(&mut child, start + timeout, || vcpus = Some(crate::monitor::dump_vcpus(&monitor, &vm.kernel)))?;
    let _ = std::fs::remove_file(&monitor);
    let (lines, bytes, sent) = reader
        .join()
        .map_err(|_| "serial reader thread panicked".to_string())?;
    let stderr = err_reader
        .join()
        .map_err(|_| "stderr reader thread panicked".to_string())?;
    let ending = match status {
        Some(status) => Ending::classify(status, bytes == 0, &stderr),
        None => Ending::Timeout(timeout),
    };
    if let (Some(dump), Some(p)) = (&vcpus, log) {
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(p) {
            let _ = write!(f, "\n---- xtask: timed out; the vCPUs then (QEMU monitor `info registers -a`) ----\n{dump}");
        }
    }
    Ok(Captured {
        lines,
        ending,
        stderr,
        sent,
    })
}

/// Waits for `child` until `deadline`; then runs `at_timeout` (QEMU still
/// alive), kills it and returns None.
fn wait_deadline(child: &mut Child, deadline: Instant, at_timeout: impl FnOnce()) -> Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait().context("waiting for QEMU")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            at_timeout();
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// While alive, SIGINT (Ctrl-C, meant for the foreground child) is ignored by
/// xtask, so that it survives to clean up.
struct IgnoreSigint;

impl IgnoreSigint {
    fn new() -> IgnoreSigint {
        // SAFETY: changing a signal disposition to SIG_IGN.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
        IgnoreSigint
    }
}

impl Drop for IgnoreSigint {
    fn drop(&mut self) {
        // SAFETY: restoring the default disposition.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    }
}

/// The initrd file of `run`/`debug`: an existing `--initrd FILE`, the
/// initramfs built from user/ (the default), or none.
fn check_initrd(o: &VmOptions) -> Result<Option<PathBuf>> {
    match &o.initrd {
        Initrd::None => Ok(None),
        Initrd::File(initrd) => {
            if !initrd.is_file() {
                bail!("initrd file {} does not exist", initrd.display());
            }
            Ok(Some(initrd.clone()))
        }
        Initrd::Default => user::build_initramfs().map(|i| Some(i.path)).map_err(|e| {
            format!(
                "{e}\n(or boot without an initramfs: --no-initrd, or with another: --initrd FILE)"
            )
        }),
    }
}

/// `cargo xtask run`: boot with the serial console on this terminal.
pub fn run(o: &VmOptions) -> Result<i32> {
    tools::ensure(&[tools::QEMU])?;
    let initrd = check_initrd(o)?;
    let image = build::build(o.release)?;
    let mut vm = Vm::new(&image.path, o.smp, &o.mem, &o.append);
    vm.initrd = initrd;
    vm.serial = vec!["mon:stdio".into()];
    vm.extra = o.qemu_args.clone();
    eprintln!("xtask: {}", vm.command_line());
    eprintln!("xtask: Ctrl-A X quits QEMU");

    let mut child = vm
        .command()
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    // No SIGINT handling needed: QEMU puts the terminal in raw mode and
    // passes Ctrl-C to the guest's serial console.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");

    // Copy the console to our stdout as it arrives, watching for a panic.
    let console = std::thread::spawn(move || {
        let mut out = std::io::stdout();
        let mut splitter = LineSplitter::default();
        let (mut panicked, mut bytes, mut last) = (false, 0usize, b'\n');
        let mut buf = [0u8; 4096];
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            bytes += n;
            last = buf[n - 1];
            let mut lock = out.lock();
            let _ = lock.write_all(&buf[..n]);
            let _ = lock.flush();
            splitter.push(&buf[..n], |line| panicked |= line.contains(PANIC_MARKER));
        }
        panicked |= splitter.flush().is_some_and(|l| l.contains(PANIC_MARKER));
        let _ = out.flush();
        (panicked, bytes, last)
    });
    let errors = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stderr.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let _ = std::io::stderr().write_all(&buf[..n]);
                    all.extend_from_slice(&buf[..n]);
                }
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    });

    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("waiting for QEMU: {e}"),
        }
    };
    let (panicked, bytes, last) = console.join().unwrap_or((false, 0, b'\n'));
    let stderr_text = errors.join().unwrap_or_default();

    let ending = Ending::classify(status, bytes == 0, &stderr_text);
    if last != b'\n' {
        // Do not leave the shell prompt after an unfinished console line.
        println!();
    }
    Ok(match ending {
        _ if panicked => {
            eprintln!("xtask: kernel panicked");
            1
        }
        Ending::Reset if bytes == 0 => {
            eprintln!(
                "xtask: QEMU exited (reset) without any serial output: most likely a triple fault"
            );
            1
        }
        Ending::Reset | Ending::DebugExit(0) => 0,
        other => {
            eprintln!("xtask: {}", other.describe());
            1
        }
    })
}

/// `cargo xtask debug`: QEMU halted with a gdb stub, gdb in the foreground.
pub fn debug(o: &VmOptions) -> Result<i32> {
    tools::ensure(&[tools::QEMU, tools::GDB])?;
    let initrd = check_initrd(o)?;
    let image = build::build(o.release)?;
    let dir = build::tine_dir();
    let serial_log = dir.join("serial.log");
    let qemu_log = dir.join("qemu-debug.log");
    let mut vm = Vm::new(&image.path, o.smp, &o.mem, &o.append);
    vm.initrd = initrd;
    vm.serial = vec![format!("file:{}", serial_log.display())];
    vm.extra = vec!["-s".into(), "-S".into()];
    vm.extra.extend(o.qemu_args.iter().cloned());
    let qemu_err = std::fs::File::create(&qemu_log)
        .with_context(|| format!("creating {}", qemu_log.display()))?;

    eprintln!("xtask: {}", vm.command_line());
    let mut cmd = vm.command();
    // Own process group: Ctrl-C in gdb must interrupt the guest, not kill QEMU.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut qemu = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(qemu_err)
        .spawn()
        .context("starting qemu-system-x86_64")?;
    std::thread::sleep(Duration::from_millis(300));
    if let Some(status) = qemu.try_wait().context("waiting for QEMU")? {
        let msg = std::fs::read_to_string(&qemu_log).unwrap_or_default();
        bail!("QEMU exited right away ({status}):\n{}", msg.trim_end());
    }
    let shown = build::display_path(&serial_log);
    println!("Serial output goes to {shown}; watch it with:  tail -f {shown}");
    println!(
        "QEMU's own messages go to {}",
        build::display_path(&qemu_log)
    );

    let gdb = Command::new(tools::GDB.bin)
        .arg("-q")
        .arg("-ex")
        .arg(format!("file {}", image.path.display()))
        .arg("-ex")
        .arg("target remote :1234")
        .spawn();
    // gdb handles Ctrl-C itself; xtask must survive it to clean up QEMU.
    let sigint = IgnoreSigint::new();
    let result = gdb
        .context("starting gdb")
        .and_then(|mut g| g.wait().context("waiting for gdb"));
    let _ = qemu.kill();
    let _ = qemu.wait();
    drop(sigint);
    let status = result?;
    Ok(status.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(rc: i32) -> ExitStatus {
        ExitStatus::from_raw(rc << 8)
    }

    #[test]
    fn base_command_line() {
        let mut vm = Vm::new(
            Path::new("target/tine/kernel.elf"),
            4,
            "128M",
            "init=/x panic=-1",
        );
        vm.initrd = Some("r.cpio".into());
        assert_eq!(
            vm.command_line(),
            "qemu-system-x86_64 -machine pc -accel tcg -cpu max -m 128M -smp 4 -display none -no-reboot \
             -monitor none -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel target/tine/kernel.elf \
             -append 'init=/x panic=-1' -initrd r.cpio -serial stdio"
        );
        assert!(!vm.args().iter().any(|a| a.contains("kvm")));
    }

    #[test]
    fn classify_exit_statuses() {
        assert_eq!(Ending::classify(exit(0), true, ""), Ending::Reset);
        assert_eq!(Ending::classify(exit(1), false, ""), Ending::DebugExit(0));
        assert_eq!(Ending::classify(exit(3), false, ""), Ending::DebugExit(1));
        assert_eq!(Ending::classify(exit(5), false, ""), Ending::DebugExit(2));
        // rc 1 with an error from QEMU and no guest output: QEMU failed.
        let e = Ending::classify(
            exit(1),
            true,
            "qemu-system-x86_64: could not load kernel 'x'\n",
        );
        assert_eq!(
            e.describe(),
            "QEMU failed (rc 1): qemu-system-x86_64: could not load kernel 'x'"
        );
        // A mere warning does not make it a QEMU failure.
        assert_eq!(
            Ending::classify(exit(1), true, "qemu-system-x86_64: warning: foo\n"),
            Ending::DebugExit(0)
        );
        assert!(matches!(
            Ending::classify(exit(2), false, ""),
            Ending::QemuError { rc: 2, .. }
        ));
        assert_eq!(
            Ending::classify(ExitStatus::from_raw(9), false, ""),
            Ending::Signal(9)
        );
    }

    #[test]
    fn describe_endings() {
        assert_eq!(Ending::Reset.describe(), "ended by reset (rc 0)");
        assert_eq!(
            Ending::DebugExit(0).describe(),
            "exited via isa-debug-exit 0 (rc 1)"
        );
        assert_eq!(
            Ending::DebugExit(1).describe(),
            "exited via isa-debug-exit 1 (rc 3)"
        );
        assert_eq!(
            Ending::Timeout(Duration::from_secs(30)).describe(),
            "timed out after 30s"
        );
    }

    #[test]
    fn line_splitter_joins_chunks_and_strips_cr() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.push(b"[    0.0] he", |l| out.push(l));
        s.push(b"llo\r\nwor", |l| out.push(l));
        s.push(b"ld\n\xffx", |l| out.push(l));
        assert_eq!(out, vec!["[    0.0] hello", "world"]);
        assert_eq!(s.flush().as_deref(), Some("\u{fffd}x"));
        assert_eq!(s.flush(), None);
    }

    #[test]
    fn input_waits_for_each_marker_in_turn() {
        let step = |after: &str, line: &str| SendStep {
            after: after.into(),
            line: line.into(),
        };
        let mut f = InputFeeder::new(&[step("/ # ", "echo $$"), step("/ # ", "ls")]);
        assert_eq!(f.push(b"Tine version\r\nwelcome\r\n/ "), b"");
        // The marker split across reads, with no newline after it.
        assert_eq!(f.push(b"# "), b"echo $$\n");
        assert_eq!(f.sent, 1);
        // The same prompt does not count twice; the next one does.
        assert_eq!(f.push(b"echo $$\r\n1\r\n"), b"");
        assert_eq!(f.push(b"/ # "), b"ls\n");
        assert_eq!(f.sent, 2);
        assert_eq!(f.push(b"/ # "), b"");
        // Two markers in one read send two lines.
        let mut f = InputFeeder::new(&[step("a", "1"), step("b", "2"), step("c", "3")]);
        assert_eq!(f.push(b"xaxb"), b"1\n2\n");
        assert_eq!(f.push(b"a"), b"");
        assert_eq!(f.push(b"\xffc"), b"3\n");
        assert_eq!(f.sent, 3);
        // Markers must come in order.
        let mut f = InputFeeder::new(&[step("first", "1"), step("second", "2")]);
        assert_eq!(f.push(b"second first"), b"1\n");
        assert_eq!(f.sent, 1);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
