//! In-VM test scenarios: the `tests/*.toml` format (documented in
//! tests/README.md), loading and validation, and checking a run's serial
//! output against a scenario.

use crate::qemu::{Ending, PANIC_MARKER};
use crate::{bail, Context, Result};
use regex::Regex;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the VM must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// QEMU exit status 0: reset (e.g. `panic=-1`) or ACPI power-off.
    Reset,
    /// isa-debug-exit value 0 (QEMU exit status 1).
    ExitOk,
    /// isa-debug-exit value 1 (QEMU exit status 3).
    ExitFail,
    /// Still running at the deadline.
    Timeout,
    /// Any of the above (but never a QEMU failure).
    #[default]
    Any,
}

impl End {
    pub fn name(self) -> &'static str {
        match self {
            End::Reset => "reset",
            End::ExitOk => "exit-ok",
            End::ExitFail => "exit-fail",
            End::Timeout => "timeout",
            End::Any => "any",
        }
    }

    pub fn accepts(self, ending: &Ending) -> bool {
        match (self, ending) {
            (_, Ending::QemuError { .. } | Ending::Signal(_)) => false,
            (End::Any, _) => true,
            (End::Reset, Ending::Reset) => true,
            (End::ExitOk, Ending::DebugExit(0)) => true,
            (End::ExitFail, Ending::DebugExit(1)) => true,
            (End::Timeout, Ending::Timeout(_)) => true,
            _ => false,
        }
    }
}

fn default_smp() -> u32 {
    1
}
fn default_mem() -> String {
    "128M".into()
}
fn default_timeout() -> u64 {
    60
}

/// One `[[test]]` table exactly as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default = "default_smp")]
    smp: u32,
    #[serde(default = "default_mem")]
    mem: String,
    #[serde(default)]
    append: String,
    #[serde(default = "default_timeout")]
    timeout: u64,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    expect_regex: Vec<String>,
    #[serde(default)]
    reject: Vec<String>,
    #[serde(default)]
    reject_regex: Vec<String>,
    #[serde(default)]
    end: End,
    #[serde(default)]
    ktest: bool,
    #[serde(default)]
    capture_serial: u32,
    #[serde(default)]
    other_serial_empty: bool,
    #[serde(default)]
    initrd: String,
    #[serde(default)]
    qemu_args: Vec<String>,
    #[serde(default)]
    linux: bool,
    #[serde(default)]
    busybox: bool,
    #[serde(default)]
    send: Vec<RawSend>,
}

/// One `[[test.send]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSend {
    after: String,
    line: String,
}

/// Console input: once `after` has appeared in the output (after where the
/// previous step's `after` matched), `line` and a newline are written to the
/// guest's serial port.
#[derive(Debug, Clone, PartialEq)]
pub struct SendStep {
    pub after: String,
    pub line: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    test: Vec<RawScenario>,
}

/// The `initrd` of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioInitrd {
    /// `"default"`: target/tine/initramfs.cpio, built from user/ by xtask.
    Default,
    /// A file, relative to the workspace root.
    File(PathBuf),
}

/// What `initrd = "default"` stands for.
pub const DEFAULT_INITRD: &str = "default";

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    pub smp: u32,
    pub mem: String,
    pub append: String,
    pub timeout: Duration,
    pub expect: Vec<String>,
    pub expect_regex: Vec<Regex>,
    pub reject: Vec<String>,
    pub reject_regex: Vec<Regex>,
    pub end: End,
    pub ktest: bool,
    pub capture_serial: u32,
    pub other_serial_empty: bool,
    pub initrd: Option<ScenarioInitrd>,
    /// Extra QEMU arguments (e.g. `-icount shift=0` for load-independent timing).
    pub qemu_args: Vec<String>,
    /// Also boot Linux with the same initramfs and command line and compare
    /// the program's result lines (the `linux:<name>` check, oracle.rs).
    pub linux: bool,
    /// Needs busybox in the default initramfs: skipped if the host has none.
    pub busybox: bool,
    /// Console input, step by step.
    pub send: Vec<SendStep>,
}

/// The pc machine has four ISA serial ports.
pub const MAX_SERIAL: u32 = 4;

/// Parses and validates one scenario file; errors name the file (`shown`).
pub fn parse_file(shown: &str, text: &str) -> Result<Vec<Scenario>> {
    let raw: RawFile =
        toml::from_str(text).map_err(|e| format!("{shown}: {}", e.to_string().trim_end()))?;
    if raw.test.is_empty() {
        bail!("{shown}: no [[test]] tables in this file");
    }
    let mut out = Vec::new();
    for r in raw.test {
        let ctx = format!("{shown}: test {:?}", r.name);
        if r.name.is_empty()
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            bail!(
                "{ctx}: names may only use letters, digits, '_', '-' and '.' (they name log files)"
            );
        }
        if out.iter().any(|s: &Scenario| s.name == r.name) {
            bail!("{ctx}: defined twice in this file");
        }
        if r.smp == 0 || r.smp > 255 {
            bail!("{ctx}: smp = {} is out of range (1..=255)", r.smp);
        }
        crate::check_mem(&r.mem).map_err(|e| format!("{ctx}: {e}"))?;
        if r.timeout == 0 {
            bail!("{ctx}: timeout must be at least 1 second");
        }
        if r.capture_serial >= MAX_SERIAL {
            bail!(
                "{ctx}: capture_serial = {} but the machine has only ports 0..={}",
                r.capture_serial,
                MAX_SERIAL - 1
            );
        }
        if r.linux && r.initrd.is_empty() {
            bail!("{ctx}: linux = true compares a user program's results on Tine and Linux, so it needs an initrd (e.g. initrd = \"default\" with append = \"panic=-1 rdinit=/bin/<program>\")");
        }
        if r.busybox && r.initrd != DEFAULT_INITRD {
            bail!("{ctx}: busybox = true is about the default initramfs, so it needs initrd = \"default\"");
        }
        for (i, step) in r.send.iter().enumerate() {
            if step.after.is_empty() {
                bail!("{ctx}: send step {}: `after` is empty (the text to wait for before sending the line)", i + 1);
            }
            if step.line.contains(['\n', '\r']) {
                bail!("{ctx}: send step {}: `line` contains a line break (each step sends one line; xtask adds the newline)", i + 1);
            }
        }
        let compile = |res: &[String], key: &str| -> Result<Vec<Regex>> {
            res.iter()
                .map(|re| {
                    Regex::new(re).map_err(|e| format!("{ctx}: bad regex in {key} {re:?}: {e}"))
                })
                .collect()
        };
        out.push(Scenario {
            expect_regex: compile(&r.expect_regex, "expect_regex")?,
            reject_regex: compile(&r.reject_regex, "reject_regex")?,
            name: r.name,
            file: PathBuf::from(shown),
            smp: r.smp,
            mem: r.mem,
            append: r.append,
            timeout: Duration::from_secs(r.timeout),
            expect: r.expect,
            reject: r.reject,
            end: r.end,
            ktest: r.ktest,
            capture_serial: r.capture_serial,
            other_serial_empty: r.other_serial_empty,
            initrd: match r.initrd.as_str() {
                "" => None,
                DEFAULT_INITRD => Some(ScenarioInitrd::Default),
                file => Some(ScenarioInitrd::File(PathBuf::from(file))),
            },
            qemu_args: r.qemu_args,
            linux: r.linux,
            busybox: r.busybox,
            send: r
                .send
                .into_iter()
                .map(|s| SendStep {
                    after: s.after,
                    line: s.line,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// Loads every `*.toml` in `dir` (sorted by file name). A missing directory
/// holds no scenarios. Names must be unique across files.
pub fn load_dir(dir: &Path, root: &Path) -> Result<Vec<Scenario>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("reading {}: {e}", dir.display()),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    let mut all: Vec<Scenario> = Vec::new();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    for f in files {
        let shown = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        let text = std::fs::read_to_string(&f).with_context(|| format!("reading {shown}"))?;
        for s in parse_file(&shown, &text)? {
            if let Some(other) = seen.insert(s.name.clone(), s.file.clone()) {
                bail!(
                    "test name {:?} is used in both {} and {}",
                    s.name,
                    other.display(),
                    s.file.display()
                );
            }
            all.push(s);
        }
    }
    Ok(all)
}

/// What a scenario run produced, as far as checking is concerned.
pub struct Observed<'a> {
    /// The captured serial port's output, lines joined with '\n'.
    pub text: &'a str,
    pub ending: &'a Ending,
    /// The other serial ports: (name like "ttyS0", contents).
    pub other_serial: &'a [(String, Vec<u8>)],
    /// How many of the scenario's `send` lines were sent.
    pub sent: usize,
}

/// A ktest reported by the kernel.
#[derive(Debug, Clone, PartialEq)]
pub struct Subtest {
    pub name: String,
    /// None if it passed.
    pub failure: Option<String>,
}

#[derive(Debug, Default)]
pub struct Verdict {
    /// Why the scenario failed; empty if it passed.
    pub failures: Vec<String>,
    pub subtests: Vec<Subtest>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// 1-based line number of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

fn line_at(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    &text[start..end]
}

/// Checks a run against a scenario.
pub fn check(sc: &Scenario, run: &Observed) -> Verdict {
    let text = run.text;
    let mut v = Verdict::default();

    if !sc.end.accepts(run.ending) {
        let mut why = run.ending.describe();
        if *run.ending == Ending::Reset && text.is_empty() {
            why += " with no serial output (a triple fault?)";
        }
        if !matches!(run.ending, Ending::QemuError { .. } | Ending::Signal(_)) || sc.end != End::Any
        {
            why += &format!(", expected {}", sc.end.name());
        }
        if let Some(at) = text.find(PANIC_MARKER) {
            if !sc.expect.iter().any(|e| e.contains(PANIC_MARKER)) {
                why += &format!(
                    " (line {}: {})",
                    line_of(text, at),
                    line_at(text, at).trim()
                );
            }
        }
        v.failures.push(why);
    }

    if let Some(step) = sc.send.get(run.sent) {
        let n = run.sent + 1;
        v.failures.push(match run.sent {
            0 => format!("input step 1 never ran: {:?} never appeared, so {:?} was not sent", step.after, step.line),
            _ => format!(
                "input step {n} never ran: after step {} ({:?}) was sent, {:?} never appeared, so {:?} was not sent",
                n - 1,
                sc.send[n - 2].line,
                step.after,
                step.line
            ),
        });
    }

    // Substrings, in order.
    let mut pos = 0;
    let mut prev: Option<&str> = None;
    for e in &sc.expect {
        match text[pos..].find(e.as_str()) {
            Some(i) => {
                pos += i + e.len();
                prev = Some(e);
            }
            None => {
                let mut why = match prev {
                    Some(p) => format!("expected {e:?} after {p:?} but it never appeared"),
                    None => format!("expected {e:?} but it never appeared"),
                };
                if let Some(at) = text.find(e.as_str()) {
                    why = format!(
                        "expected {e:?} after {:?}, but it appeared only before that (line {})",
                        prev.unwrap_or(""),
                        line_of(text, at)
                    );
                }
                v.failures.push(why);
                break;
            }
        }
    }
    for re in &sc.expect_regex {
        if !re.is_match(text) {
            v.failures.push(format!(
                "expected a match for regex /{re}/ but there was none"
            ));
        }
    }
    for r in &sc.reject {
        if let Some(at) = text.find(r.as_str()) {
            v.failures.push(format!(
                "rejected text {r:?} at line {}: {}",
                line_of(text, at),
                line_at(text, at).trim()
            ));
        }
    }
    for re in &sc.reject_regex {
        if let Some(m) = re.find(text) {
            let at = m.start();
            v.failures.push(format!(
                "rejected regex /{re}/ matched at line {}: {}",
                line_of(text, at),
                line_at(text, at).trim()
            ));
        }
    }
    if sc.other_serial_empty {
        for (port, data) in run.other_serial {
            if !data.is_empty() {
                let first = String::from_utf8_lossy(data);
                let first = first.lines().next().unwrap_or("").trim();
                v.failures.push(format!("{port} (not the captured port) received {} bytes, expected none; first line: {first}", data.len()));
            }
        }
    }
    if sc.ktest {
        let (subtests, failures) = check_ktests(text);
        v.subtests = subtests;
        v.failures.extend(failures);
    }
    v
}

/// A parsed `ktest:` line.
#[derive(Debug, Clone, PartialEq)]
pub enum KtestLine {
    Pass(String),
    Fail(String, String),
    Done { passed: u64, failed: u64 },
    Malformed(String),
}

/// Parses lines containing `ktest: PASS <name>`, `ktest: FAIL <name>: <reason>`
/// or `ktest: done passed=N failed=M` (anything may precede `ktest:`, e.g. a
/// `[    1.234567] ` timestamp). Other lines, including other `ktest:`
/// messages, give None.
pub fn parse_ktest_line(line: &str) -> Option<KtestLine> {
    const TAG: &str = "ktest: ";
    let rest = &line[line.find(TAG)? + TAG.len()..];
    let malformed = || Some(KtestLine::Malformed(line.trim().to_string()));
    if let Some(name) = rest.strip_prefix("PASS ") {
        let name = name.trim();
        return if name.is_empty() {
            malformed()
        } else {
            Some(KtestLine::Pass(name.to_string()))
        };
    }
    if let Some(r) = rest.strip_prefix("FAIL ") {
        let (name, reason) = r.split_once(": ").unwrap_or((r, ""));
        let name = name.trim();
        return if name.is_empty() {
            malformed()
        } else {
            Some(KtestLine::Fail(name.to_string(), reason.trim().to_string()))
        };
    }
    if let Some(r) = rest.strip_prefix("done") {
        let (mut passed, mut failed) = (None, None);
        for word in r.split_whitespace() {
            match word.split_once('=') {
                Some(("passed", n)) => passed = n.parse().ok(),
                Some(("failed", n)) => failed = n.parse().ok(),
                _ => {}
            }
        }
        return match (passed, failed) {
            (Some(passed), Some(failed)) => Some(KtestLine::Done { passed, failed }),
            _ => malformed(),
        };
    }
    None
}

/// Subtests and scenario-level failures from the ktest lines of `text`.
pub fn check_ktests(text: &str) -> (Vec<Subtest>, Vec<String>) {
    let mut subtests = Vec::new();
    let mut failures = Vec::new();
    let mut done = None;
    let mut last: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let Some(k) = parse_ktest_line(line) else {
            continue;
        };
        match k {
            KtestLine::Pass(name) => subtests.push(Subtest {
                name,
                failure: None,
            }),
            KtestLine::Fail(name, reason) => {
                let reason = if reason.is_empty() {
                    "failed (no reason given)".to_string()
                } else {
                    reason
                };
                subtests.push(Subtest {
                    name,
                    failure: Some(reason),
                })
            }
            KtestLine::Done { passed, failed } => {
                if done.is_some() {
                    failures.push(format!(
                        "more than one \"ktest: done\" line (again at line {})",
                        i + 1
                    ));
                }
                done = Some((passed, failed));
            }
            KtestLine::Malformed(l) => {
                failures.push(format!("malformed ktest line {}: {l}", i + 1))
            }
        }
        last = Some(line);
    }
    let passed = subtests.iter().filter(|s| s.failure.is_none()).count() as u64;
    let failed = subtests.len() as u64 - passed;
    if failed > 0 {
        let names: Vec<&str> = subtests
            .iter()
            .filter(|s| s.failure.is_some())
            .map(|s| s.name.as_str())
            .collect();
        failures.push(format!(
            "{failed} of {} ktests failed: {}",
            subtests.len(),
            names.join(", ")
        ));
    }
    match done {
        None => failures.push(match last {
            Some(l) => format!("no \"ktest: done\" line; the last ktest line was: {} (did the next test hang or crash?)", l.trim()),
            None => "no ktest lines at all (no \"ktest: done\" line)".to_string(),
        }),
        Some((p, f)) if (p, f) != (passed, failed) => failures.push(format!(
            "\"ktest: done\" reports passed={p} failed={f}, but the log has {passed} PASS and {failed} FAIL lines"
        )),
        Some(_) if subtests.is_empty() => failures.push("zero ktests ran".to_string()),
        Some(_) => {}
    }
    (subtests, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
[[test]]
name = "panic_requested_init"
smp = 4
mem = "128M"
append = "init=/nonexistent panic=-1"
timeout = 30
expect = ["Tine version", "smp: Brought up 1 node, 4 CPUs", "Kernel panic - not syncing: Requested init /nonexistent failed (error -2)."]
expect_regex = ['RIP: 0010:\w+\+0x[0-9a-f]+/0x[0-9a-f]+']
reject = ["BUG:"]
reject_regex = []
end = "reset"
ktest = false
capture_serial = 0
other_serial_empty = false
initrd = ""
qemu_args = []
linux = false

[[test]]
name = "minimal"
"#;

    fn one(toml: &str) -> Scenario {
        parse_file("tests/x.toml", toml).unwrap().remove(0)
    }

    fn observe(sc: &Scenario, text: &str, ending: Ending) -> Verdict {
        check(
            sc,
            &Observed {
                text,
                ending: &ending,
                other_serial: &[],
                sent: sc.send.len(),
            },
        )
    }

    #[test]
    fn parses_full_example_and_defaults() {
        let v = parse_file("tests/x.toml", FULL).unwrap();
        assert_eq!(v.len(), 2);
        let s = &v[0];
        assert_eq!(
            (s.smp, s.mem.as_str(), s.timeout),
            (4, "128M", Duration::from_secs(30))
        );
        assert_eq!(s.end, End::Reset);
        assert_eq!(s.expect.len(), 3);
        assert_eq!(s.expect_regex.len(), 1);
        assert_eq!(s.initrd, None);
        let m = &v[1];
        assert_eq!(
            (m.smp, m.mem.as_str(), m.timeout),
            (1, "128M", Duration::from_secs(60))
        );
        assert_eq!((m.end, m.ktest, m.capture_serial), (End::Any, false, 0));
        assert_eq!(m.append, "");
        assert_eq!(m.initrd, None);
        assert!(!m.linux);
    }

    #[test]
    fn initrd_values() {
        let s = one("[[test]]\nname='a'\ninitrd='default'\n");
        assert_eq!(s.initrd, Some(ScenarioInitrd::Default));
        let s = one("[[test]]\nname='a'\ninitrd='tests/x.cpio'\n");
        assert_eq!(
            s.initrd,
            Some(ScenarioInitrd::File(PathBuf::from("tests/x.cpio")))
        );
    }

    #[test]
    fn linux_flag() {
        let s = one(
            "[[test]]\nname='u'\ninitrd='default'\nappend='panic=-1 rdinit=/bin/x'\nlinux=true\n",
        );
        assert!(s.linux);
    }

    #[test]
    fn bad_files_give_errors_naming_the_file() {
        let cases = [
            ("[[test]]\nname = \"a\"\nexpct = []\n", "expct"),
            ("[[test]]\nname = \"a\"\nend = \"crash\"\n", "crash"),
            ("[[test]]\nname = \"a\"\nsmp = \"two\"\n", "smp"),
            ("[[test]\nname = \"a\"\n", "TOML"),
            ("[[test]]\nsmp = 2\n", "name"),
            ("[[test]]\nname = \"a b\"\n", "names may only"),
            (
                "[[test]]\nname = \"a\"\n[[test]]\nname = \"a\"\n",
                "defined twice",
            ),
            (
                "[[test]]\nname = \"a\"\nexpect_regex = ['(']\n",
                "bad regex",
            ),
            (
                "[[test]]\nname = \"a\"\ncapture_serial = 4\n",
                "capture_serial",
            ),
            ("[[test]]\nname = \"a\"\nmem = \"lots\"\n", "memory size"),
            ("[[test]]\nname = \"a\"\nsmp = 0\n", "smp"),
            ("[[test]]\nname = \"a\"\ntimeout = 0\n", "timeout"),
            ("", "no [[test]]"),
            ("[[tests]]\nname = \"a\"\n", "tests"),
            ("[[test]]\nname = \"a\"\nlinux = true\n", "needs an initrd"),
            ("[[test]]\nname = \"a\"\nlinux = 1\n", "linux"),
            ("[[test]]\nname = \"a\"\nbusybox = true\n", "needs initrd = \"default\""),
            (
                "[[test]]\nname = \"a\"\n[[test.send]]\nafter = \"\"\nline = \"x\"\n",
                "send step 1: `after` is empty",
            ),
            (
                "[[test]]\nname = \"a\"\n[[test.send]]\nafter = \"# \"\nline = \"a\\nb\"\n",
                "line break",
            ),
            (
                "[[test]]\nname = \"a\"\n[[test.send]]\nafter = \"# \"\n",
                "line",
            ),
            (
                "[[test]]\nname = \"a\"\n[[test.send]]\nafter = \"# \"\nline = \"x\"\ndelay = 1\n",
                "delay",
            ),
        ];
        for (text, needle) in cases {
            let err = parse_file("tests/bad.toml", text).unwrap_err();
            assert!(err.starts_with("tests/bad.toml: "), "{err}");
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
    }

    #[test]
    fn send_steps_and_busybox() {
        let sc = one(
            "[[test]]\nname='sh'\ninitrd='default'\nbusybox=true\n\
             [[test.send]]\nafter='# '\nline='echo $$'\n\
             [[test.send]]\nafter='# '\nline=\"sh -c 'exit 3'; echo $?\"\n",
        );
        assert!(sc.busybox);
        assert_eq!(
            sc.send,
            [
                SendStep {
                    after: "# ".into(),
                    line: "echo $$".into()
                },
                SendStep {
                    after: "# ".into(),
                    line: "sh -c 'exit 3'; echo $?".into()
                },
            ]
        );
        let check_sent = |sent: usize| {
            let ending = Ending::Reset;
            check(
                &sc,
                &Observed {
                    text: "x",
                    ending: &ending,
                    other_serial: &[],
                    sent,
                },
            )
            .failures
        };
        assert!(check_sent(2).is_empty());
        assert_eq!(
            check_sent(0),
            [r##"input step 1 never ran: "# " never appeared, so "echo $$" was not sent"##]
        );
        assert_eq!(
            check_sent(1),
            [r##"input step 2 never ran: after step 1 ("echo $$") was sent, "# " never appeared, so "sh -c 'exit 3'; echo $?" was not sent"##]
        );
        let m = one("[[test]]\nname='m'\n");
        assert!(!m.busybox && m.send.is_empty());
    }

    #[test]
    fn load_dir_sorts_and_rejects_duplicate_names() {
        let dir = std::env::temp_dir().join(format!("xtask-scn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.toml"), "[[test]]\nname = \"b1\"\n").unwrap();
        std::fs::write(
            dir.join("a.toml"),
            "[[test]]\nname = \"a1\"\n[[test]]\nname = \"a2\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
        let names: Vec<String> = load_dir(&dir, &dir)
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["a1", "a2", "b1"]);
        std::fs::write(dir.join("c.toml"), "[[test]]\nname = \"a2\"\n").unwrap();
        let err = load_dir(&dir, &dir).unwrap_err();
        assert!(err.contains("a.toml") && err.contains("c.toml"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(load_dir(&dir, &dir).unwrap().is_empty());
    }

    const BOOT: &str = "[    0.000000] Tine version 0.1\n\
                        [    0.010000] smp: Brought up 1 node, 4 CPUs\n\
                        [    0.020000] Kernel panic - not syncing: Requested init /nonexistent failed (error -2).\n\
                        [    0.020001] RIP: 0010:panic+0x1f/0x80";

    #[test]
    fn full_example_passes_on_matching_output() {
        let sc = one(FULL);
        let v = observe(&sc, BOOT, Ending::Reset);
        assert!(v.passed(), "{:?}", v.failures);
    }

    #[test]
    fn expect_order_matters() {
        let sc = one("[[test]]\nname='a'\nexpect=['two', 'one']\n");
        let v = observe(&sc, "one\ntwo\n", Ending::Reset);
        assert_eq!(
            v.failures,
            [r#"expected "one" after "two", but it appeared only before that (line 1)"#]
        );
        let sc =
            one("[[test]]\nname='a'\nexpect=['Tine version', 'smp: Brought up 1 node, 4 CPUs']\n");
        let v = observe(
            &sc,
            "Tine version\nsmp: Brought up 1 node, 2 CPUs",
            Ending::Reset,
        );
        assert_eq!(
            v.failures,
            [
                r#"expected "smp: Brought up 1 node, 4 CPUs" after "Tine version" but it never appeared"#
            ]
        );
        let sc = one("[[test]]\nname='a'\nexpect=['x', 'x']\n");
        assert!(!observe(&sc, "x\n", Ending::Reset).passed());
        assert!(observe(&sc, "x x\n", Ending::Reset).passed());
        let sc = one("[[test]]\nname='a'\nexpect=['zzz']\n");
        assert_eq!(
            observe(&sc, "", Ending::Reset).failures,
            [r#"expected "zzz" but it never appeared"#]
        );
    }

    #[test]
    fn endings() {
        let sc = one("[[test]]\nname='a'\nend='exit-ok'\n");
        assert!(observe(&sc, "hi", Ending::DebugExit(0)).passed());
        assert_eq!(
            observe(&sc, "hi", Ending::Reset).failures,
            ["ended by reset (rc 0), expected exit-ok"]
        );
        assert_eq!(
            observe(&sc, "", Ending::Reset).failures,
            ["ended by reset (rc 0) with no serial output (a triple fault?), expected exit-ok"]
        );
        let sc = one("[[test]]\nname='a'\nend='reset'\ntimeout=30\n");
        assert_eq!(
            observe(&sc, "x", Ending::Timeout(Duration::from_secs(30))).failures,
            ["timed out after 30s, expected reset"]
        );
        let v = observe(
            &sc,
            "a\n[ 1.0] Kernel panic - not syncing: oops",
            Ending::DebugExit(1),
        );
        assert_eq!(
            v.failures,
            ["exited via isa-debug-exit 1 (rc 3), expected reset (line 2: [ 1.0] Kernel panic - not syncing: oops)"]
        );
        let sc = one("[[test]]\nname='a'\nend='timeout'\n");
        assert!(observe(&sc, "x", Ending::Timeout(Duration::from_secs(60))).passed());
        let sc = one("[[test]]\nname='a'\nend='exit-fail'\n");
        assert!(observe(&sc, "x", Ending::DebugExit(1)).passed());
        let any = one("[[test]]\nname='a'\n");
        for e in [
            Ending::Reset,
            Ending::DebugExit(0),
            Ending::DebugExit(1),
            Ending::Timeout(Duration::from_secs(1)),
        ] {
            assert!(observe(&any, "x", e).passed());
        }
        let qemu_failed = Ending::QemuError {
            rc: 1,
            message: "could not load kernel".into(),
        };
        assert_eq!(
            observe(&any, "", qemu_failed).failures,
            ["QEMU failed (rc 1): could not load kernel"]
        );
    }

    #[test]
    fn rejects_and_regexes() {
        let sc = one("[[test]]\nname='a'\nreject=['BUG:']\nreject_regex=['WARN.*cpu\\d']\nexpect_regex=['^never$']\n");
        let v = observe(
            &sc,
            "ok\nok\n[ 2.0] BUG: bad\nWARNING at cpu3",
            Ending::Reset,
        );
        assert_eq!(
            v.failures,
            [
                "expected a match for regex /^never$/ but there was none",
                "rejected text \"BUG:\" at line 3: [ 2.0] BUG: bad",
                "rejected regex /WARN.*cpu\\d/ matched at line 4: WARNING at cpu3",
            ]
        );
        let sc = one("[[test]]\nname='a'\nexpect_regex=['(?m)^never$']\n");
        assert!(observe(&sc, "a\nnever\nb", Ending::Reset).passed());
    }

    #[test]
    fn other_serial_ports() {
        let sc = one("[[test]]\nname='a'\ncapture_serial=1\nother_serial_empty=true\n");
        let quiet = [("ttyS0".to_string(), Vec::new())];
        let noisy = [("ttyS0".to_string(), b"[ 0.0] Tine version\nmore\n".to_vec())];
        let ending = Ending::Reset;
        assert!(check(
            &sc,
            &Observed {
                text: "x",
                ending: &ending,
                other_serial: &quiet,
                sent: 0,
            }
        )
        .passed());
        let v = check(
            &sc,
            &Observed {
                text: "x",
                ending: &ending,
                other_serial: &noisy,
                sent: 0,
            },
        );
        assert_eq!(v.failures, ["ttyS0 (not the captured port) received 25 bytes, expected none; first line: [ 0.0] Tine version"]);
    }

    #[test]
    fn ktest_line_parsing() {
        use KtestLine::*;
        assert_eq!(
            parse_ktest_line("ktest: PASS mm::frame_alloc"),
            Some(Pass("mm::frame_alloc".into()))
        );
        assert_eq!(
            parse_ktest_line("[    1.234567] ktest: PASS list"),
            Some(Pass("list".into()))
        );
        assert_eq!(
            parse_ktest_line("[    1.234567] ktest: FAIL sched::wake: expected 3, got 4: bad"),
            Some(Fail("sched::wake".into(), "expected 3, got 4: bad".into()))
        );
        assert_eq!(
            parse_ktest_line("ktest: FAIL lonely"),
            Some(Fail("lonely".into(), "".into()))
        );
        assert_eq!(
            parse_ktest_line("[    2.000000] ktest: done passed=12 failed=1"),
            Some(Done {
                passed: 12,
                failed: 1
            })
        );
        assert!(matches!(
            parse_ktest_line("ktest: done passed=x"),
            Some(Malformed(_))
        ));
        assert!(matches!(
            parse_ktest_line("ktest: PASS "),
            Some(Malformed(_))
        ));
        assert_eq!(parse_ktest_line("ktest: running 12 tests"), None);
        assert_eq!(parse_ktest_line("[    0.1] smp: Brought up"), None);
    }

    #[test]
    fn ktest_checks() {
        let ok =
            "[ 1.0] ktest: PASS a\n[ 1.1] ktest: PASS b::c\n[ 1.2] ktest: done passed=2 failed=0\n";
        let (subs, fails) = check_ktests(ok);
        assert_eq!(subs.len(), 2);
        assert!(fails.is_empty(), "{fails:?}");

        let bad = "ktest: PASS a\nktest: FAIL b: 1 != 2\nktest: done passed=1 failed=1\n";
        let (subs, fails) = check_ktests(bad);
        assert_eq!(
            subs[1],
            Subtest {
                name: "b".into(),
                failure: Some("1 != 2".into())
            }
        );
        assert_eq!(fails, ["1 of 2 ktests failed: b"]);

        let (_, fails) = check_ktests("ktest: PASS a\n[ 2.0] ktest: PASS b\nKernel panic");
        assert_eq!(fails, ["no \"ktest: done\" line; the last ktest line was: [ 2.0] ktest: PASS b (did the next test hang or crash?)"]);

        let (_, fails) = check_ktests("ktest: PASS a\nktest: done passed=2 failed=0\n");
        assert_eq!(fails, ["\"ktest: done\" reports passed=2 failed=0, but the log has 1 PASS and 0 FAIL lines"]);

        let (_, fails) = check_ktests("ktest: done passed=0 failed=0\n");
        assert_eq!(fails, ["zero ktests ran"]);

        let (_, fails) = check_ktests("nothing here\n");
        assert_eq!(fails, ["no ktest lines at all (no \"ktest: done\" line)"]);
    }

    #[test]
    fn ktest_scenario_reports_subtests() {
        let sc = one("[[test]]\nname='k'\nktest=true\nend='exit-ok'\n");
        let v = observe(
            &sc,
            "ktest: PASS a\nktest: FAIL b: nope\nktest: done passed=1 failed=1",
            Ending::DebugExit(1),
        );
        assert_eq!(v.subtests.len(), 2);
        assert_eq!(
            v.failures,
            [
                "exited via isa-debug-exit 1 (rc 3), expected exit-ok",
                "1 of 2 ktests failed: b"
            ]
        );
    }
}
