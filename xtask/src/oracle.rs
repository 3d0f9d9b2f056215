//! Linux as the oracle: the result lines of a user test program
//! (user/tine_test.h) as printed on Tine and on Linux, and their comparison.
//!
//! A scenario with `linux = true` also boots the host's Linux kernel with the
//! same initramfs and command line; the program must print the same results
//! on both: a `done passed=N failed=0` line with the same N, no FAIL line,
//! and the same set of PASS names. Everything else either kernel prints
//! (boot messages, "Attempted to kill init", the program's other output) is
//! not compared.

use crate::bail;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Prepended to a scenario's `append` when it boots Linux: its console on
/// COM1 like Tine's, only error messages (so kernel lines rarely cut into
/// the program's), and a reset when init exits (the panic).
pub const LINUX_APPEND: &str = "console=ttyS0 quiet panic=-1";

/// How to get a Linux kernel to compare with, shown when there is none.
pub const LINUX_HINT: &str = "sudo apt-get install -y linux-image-amd64";

/// The name of the Linux check of scenario `name`.
pub fn check_name(name: &str) -> String {
    format!("linux:{name}")
}

/// The host's Linux kernel: the newest /boot/vmlinuz-* and its version.
#[derive(Debug, Clone, PartialEq)]
pub struct LinuxKernel {
    pub path: PathBuf,
    pub version: String,
}

/// The newest `vmlinuz-*` in `boot` if it is readable, or why there is none
/// (with the command that installs one).
pub fn find_linux(boot: &Path) -> crate::Result<LinuxKernel> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(boot)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    let Some((_, path)) = found.pop() else {
        bail!(
            "no {}/vmlinuz-* found (install a kernel with: {LINUX_HINT})",
            boot.display()
        );
    };
    if let Err(e) = std::fs::File::open(&path) {
        bail!(
            "{} is not readable ({e}); run as root or make it readable",
            path.display()
        );
    }
    let version = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or("?")
        .to_string();
    Ok(LinuxKernel { path, version })
}

/// One line of a test program's output.
#[derive(Debug, Clone, PartialEq)]
pub enum ResultLine {
    Pass(String),
    Fail(String, String),
    Done {
        passed: u64,
        failed: u64,
    },
    /// A result line that is not well formed, e.g. cut by a kernel message
    /// printed in the middle of it.
    Garbled(String),
}

/// Where a kernel message (`[    1.234567] `) starts inside `line`, after
/// its first character: the console is shared, so a kernel line can cut
/// into a line a program was writing.
fn kernel_message_at(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (1..b.len()).find(|&i| {
        if b[i] != b'[' {
            return false;
        }
        let rest = &line[i + 1..];
        let Some(end) = rest.find("] ") else {
            return false;
        };
        let stamp = rest[..end].trim_start();
        let (secs, frac) = stamp.split_once('.').unwrap_or(("", ""));
        !secs.is_empty()
            && !frac.is_empty()
            && secs.bytes().all(|c| c.is_ascii_digit())
            && frac.bytes().all(|c| c.is_ascii_digit())
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(char::is_whitespace)
}

/// Parses a line a tine_test.h program prints: `PASS <name>`,
/// `FAIL <name>: <why>` or `done passed=<N> failed=<M>`, at the start of
/// the line. Other lines give None.
pub fn parse_result_line(line: &str) -> Option<ResultLine> {
    let line = line.trim_end_matches('\r');
    if !(line.starts_with("PASS") || line.starts_with("FAIL") || line.starts_with("done passed=")) {
        return None;
    }
    let garbled = || Some(ResultLine::Garbled(line.to_string()));
    if kernel_message_at(line).is_some() {
        return garbled();
    }
    if let Some(name) = line.strip_prefix("PASS ") {
        return if is_name(name) {
            Some(ResultLine::Pass(name.to_string()))
        } else {
            garbled()
        };
    }
    if let Some(rest) = line.strip_prefix("FAIL ") {
        let (name, why) = rest.split_once(": ").unwrap_or((rest, ""));
        return if is_name(name) {
            Some(ResultLine::Fail(name.to_string(), why.to_string()))
        } else {
            garbled()
        };
    }
    if let Some(rest) = line.strip_prefix("done ") {
        let mut words = rest.split_whitespace();
        let num = |w: Option<&str>, key: &str| {
            w.and_then(|w| w.strip_prefix(key))
                .and_then(|n| n.strip_prefix('='))
                .and_then(|n| n.parse::<u64>().ok())
        };
        let (passed, failed) = (num(words.next(), "passed"), num(words.next(), "failed"));
        return match (passed, failed, words.next()) {
            (Some(passed), Some(failed), None) => Some(ResultLine::Done { passed, failed }),
            _ => garbled(),
        };
    }
    // "PASSED", "FAILURE", ...: not a result line.
    None
}

/// All result lines of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    pub passed: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Every `done` line's counts (there should be exactly one).
    pub done: Vec<(u64, u64)>,
    pub garbled: Vec<String>,
    /// The last result line seen, for "it stopped after ...".
    pub last: Option<String>,
}

impl Results {
    pub fn collect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Results {
        let mut r = Results::default();
        for line in lines {
            let Some(parsed) = parse_result_line(line) else {
                continue;
            };
            r.last = Some(line.trim_end().to_string());
            match parsed {
                ResultLine::Pass(n) => r.passed.push(n),
                ResultLine::Fail(n, why) => r.failed.push((n, why)),
                ResultLine::Done { passed, failed } => r.done.push((passed, failed)),
                ResultLine::Garbled(l) => r.garbled.push(l),
            }
        }
        r
    }

    /// What is wrong with this run by itself, each reason prefixed with
    /// `who` ("Tine", "Linux"): no or several done lines, FAIL lines, fewer
    /// lines than the done line counts, garbled lines.
    pub fn problems(&self, who: &str) -> Vec<String> {
        let mut out = Vec::new();
        match self.done.as_slice() {
            [] => out.push(match &self.last {
                Some(l) => format!(
                    "{who}: no \"done passed=\" line; the last result line was {l:?} (did the program hang or crash?)"
                ),
                None => format!("{who}: no result lines at all"),
            }),
            // The program printed a line for every check it counted; its
            // children may print (and count) more of their own.
            [(p, f)] => {
                let (lp, lf) = (self.passed.len() as u64, self.failed.len() as u64);
                if lp < *p || lf < *f {
                    out.push(format!(
                        "{who}: \"done passed={p} failed={f}\" but there are only {lp} PASS and {lf} FAIL lines (lost output?)"
                    ));
                }
            }
            more => out.push(format!("{who}: {} \"done\" lines, expected one", more.len())),
        }
        if !self.failed.is_empty() {
            let list: Vec<String> = self
                .failed
                .iter()
                .map(|(n, why)| {
                    if why.is_empty() {
                        n.clone()
                    } else {
                        format!("{n} ({why})")
                    }
                })
                .collect();
            out.push(format!("{who}: FAIL {}", list.join(", ")));
        }
        for g in &self.garbled {
            out.push(format!("{who}: garbled result line {g:?}"));
        }
        out
    }
}

/// Up to 8 names, then "and N more".
fn some(names: &[&String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s += &format!(" and {} more", names.len() - SHOWN);
    }
    s
}

/// Why the Tine and Linux runs of a program disagree; empty if they agree:
/// each ran cleanly (one done line, no FAIL, nothing garbled), with the
/// same number of passed checks and the same set of PASS names.
pub fn compare(tine: &Results, linux: &Results) -> Vec<String> {
    let mut out = linux.problems("Linux");
    out.extend(tine.problems("Tine"));
    if let ([(tp, _)], [(lp, _)]) = (tine.done.as_slice(), linux.done.as_slice()) {
        if tp != lp {
            out.push(format!("passed={tp} on Tine but passed={lp} on Linux"));
        }
    }
    let t: BTreeSet<&String> = tine.passed.iter().collect();
    let l: BTreeSet<&String> = linux.passed.iter().collect();
    let only_linux: Vec<&String> = l.difference(&t).copied().collect();
    let only_tine: Vec<&String> = t.difference(&l).copied().collect();
    if !only_linux.is_empty() {
        out.push(format!(
            "{} PASS only on Linux: {}",
            only_linux.len(),
            some(&only_linux)
        ));
    }
    if !only_tine.is_empty() {
        out.push(format!(
            "{} PASS only on Tine: {}",
            only_tine.len(),
            some(&only_tine)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResultLine::*;

    #[test]
    fn result_lines() {
        assert_eq!(parse_result_line("PASS a.b_c"), Some(Pass("a.b_c".into())));
        assert_eq!(parse_result_line("PASS x\r"), Some(Pass("x".into())));
        assert_eq!(
            parse_result_line("FAIL files.write: write(fd): expected 10, got -1"),
            Some(Fail(
                "files.write".into(),
                "write(fd): expected 10, got -1".into()
            ))
        );
        assert_eq!(
            parse_result_line("FAIL lone"),
            Some(Fail("lone".into(), "".into()))
        );
        assert_eq!(
            parse_result_line("done passed=23 failed=0"),
            Some(Done {
                passed: 23,
                failed: 0
            })
        );
        // Not result lines: other output, kernel lines, result words elsewhere.
        for other in [
            "hello from user space",
            "argv[0] = \"/bin/exec_stack\"",
            "[    4.01] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000",
            "[    0.1] ktest: PASS list",
            " PASS indented",
            "PASSED",
            "FAILURE",
            "done",
            "",
        ] {
            assert_eq!(parse_result_line(other), None, "{other:?}");
        }
        // Malformed result lines, and lines a kernel message cut into (as
        // Linux's panic does when init exits with its output still queued).
        for bad in [
            "PASS ",
            "PASS two words",
            "FAIL : why",
            "done passed=1",
            "done passed=x failed=0",
            "done passed=1 failed=0 extra",
            "PASS [    3.003063] Kernel panic - not syncing: Attempted to kill init!",
            "PASS vfork.ok[    3.003063] Kernel panic - not syncing: Attempted to kill init!",
            "done passed=7 failed=0[ 12.5] random: crng init done",
        ] {
            assert_eq!(parse_result_line(bad), Some(Garbled(bad.into())), "{bad:?}");
        }
        // Brackets that are not a timestamp do not make a line garbled.
        assert_eq!(
            parse_result_line("FAIL a: got [1.x] and [2] "),
            Some(Fail("a".into(), "got [1.x] and [2] ".into()))
        );
    }

    fn results(text: &str) -> Results {
        Results::collect(text.lines())
    }

    const LINUX: &str = "\
argv[0] = \"/bin/x\"\n\
PASS a\n\
hello from user space\n\
PASS b\n\
PASS c\n\
done passed=3 failed=0\n\
[    4.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000\n";

    #[test]
    fn collects_results() {
        let r = results(LINUX);
        assert_eq!(r.passed, ["a", "b", "c"]);
        assert!(r.failed.is_empty() && r.garbled.is_empty());
        assert_eq!(r.done, [(3, 0)]);
        assert_eq!(r.last.as_deref(), Some("done passed=3 failed=0"));
        assert!(r.problems("Linux").is_empty());
    }

    #[test]
    fn same_results_in_another_order_agree() {
        let tine = results(
            "[    0.5] Run /bin/x as init process\nPASS c\nPASS a\nPASS b\ndone passed=3 failed=0\n\
             [    0.6] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000000\n",
        );
        assert_eq!(compare(&tine, &results(LINUX)), Vec::<String>::new());
    }

    #[test]
    fn differences_are_named() {
        let linux = results(LINUX);
        // A check that fails on Tine.
        let tine = results("PASS a\nFAIL b: expected 1, got 2\nPASS c\ndone passed=2 failed=1\n");
        assert_eq!(
            compare(&tine, &linux),
            [
                "Tine: FAIL b (expected 1, got 2)",
                "passed=2 on Tine but passed=3 on Linux",
                "1 PASS only on Linux: b",
            ]
        );
        // Different checks, same count (e.g. an `if (getpid() == 1)` branch).
        let tine = results("PASS a\nPASS b\nPASS d\ndone passed=3 failed=0\n");
        assert_eq!(
            compare(&tine, &linux),
            ["1 PASS only on Linux: c", "1 PASS only on Tine: d"]
        );
        // Tine stopped in the middle.
        let tine = results("PASS a\n[ 1.0] BUG: unable to handle page fault\n");
        assert_eq!(
            compare(&tine, &linux),
            [
                "Tine: no \"done passed=\" line; the last result line was \"PASS a\" (did the program hang or crash?)",
                "2 PASS only on Linux: b, c",
            ]
        );
        // The program fails on Linux: the program (or the setup) is wrong.
        let bad_linux = results("PASS a\nFAIL c: no /dev/null\ndone passed=1 failed=1\n");
        let tine = results("PASS a\nPASS c\ndone passed=2 failed=0\n");
        assert_eq!(
            compare(&tine, &bad_linux),
            [
                "Linux: FAIL c (no /dev/null)",
                "passed=2 on Tine but passed=1 on Linux",
                "1 PASS only on Tine: c",
            ]
        );
        // Nothing at all from Linux.
        let empty = results("[    4.0] Kernel panic - not syncing: VFS: Unable to mount root fs\n");
        let problems = compare(&results(LINUX), &empty);
        assert_eq!(problems[0], "Linux: no result lines at all");
        assert_eq!(problems[1], "3 PASS only on Tine: a, b, c");
    }

    #[test]
    fn inconsistent_runs_are_problems() {
        let r = results("PASS a\ndone passed=2 failed=0\n");
        assert_eq!(
            r.problems("Tine"),
            ["Tine: \"done passed=2 failed=0\" but there are only 1 PASS and 0 FAIL lines (lost output?)"]
        );
        let r = results("FAIL a: x\ndone passed=0 failed=2\n");
        assert_eq!(
            r.problems("Tine"),
            [
                "Tine: \"done passed=0 failed=2\" but there are only 0 PASS and 1 FAIL lines (lost output?)",
                "Tine: FAIL a (x)"
            ]
        );
        // A forked child printing (and counting) its own check is fine.
        let r = results("PASS fork.ok\nPASS fork.ok\nPASS b\ndone passed=2 failed=0\n");
        assert!(r.problems("Tine").is_empty());
        let r = results("PASS a\ndone passed=1 failed=0\ndone passed=1 failed=0\n");
        assert_eq!(
            r.problems("Linux"),
            ["Linux: 2 \"done\" lines, expected one"]
        );
        let cut = "PASS [    3.003063] Kernel panic - not syncing: Attempted to kill init!";
        let r = results(&format!("PASS a\n{cut}\ndone passed=1 failed=0\n"));
        assert_eq!(
            r.problems("Linux"),
            [format!("Linux: garbled result line {cut:?}")]
        );
    }

    #[test]
    fn long_lists_are_shortened() {
        let linux = results(
            &((0..12)
                .map(|i| format!("PASS n{i:02}\n"))
                .collect::<String>()
                + "done passed=12 failed=0\n"),
        );
        let tine = results("done passed=0 failed=0\n");
        let problems = compare(&tine, &linux);
        assert_eq!(
            problems.last().unwrap(),
            "12 PASS only on Linux: n00, n01, n02, n03, n04, n05, n06, n07 and 4 more"
        );
    }

    #[test]
    fn finding_the_linux_kernel() {
        let dir = crate::testutil::scratch_dir().join("boot");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let err = find_linux(&dir).unwrap_err();
        assert!(err.contains("no ") && err.contains(LINUX_HINT), "{err}");
        std::fs::write(dir.join("config-6.1.0-9-amd64"), b"").unwrap();
        assert!(find_linux(&dir).is_err());
        let old = dir.join("vmlinuz-6.1.0-8-amd64");
        std::fs::write(&old, b"").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
            .unwrap();
        std::fs::write(dir.join("vmlinuz-6.1.0-9-amd64"), b"").unwrap();
        assert_eq!(
            find_linux(&dir).unwrap(),
            LinuxKernel {
                path: dir.join("vmlinuz-6.1.0-9-amd64"),
                version: "6.1.0-9-amd64".into()
            }
        );
        assert!(find_linux(Path::new("/nonexistent/boot")).is_err());
        assert_eq!(check_name("vfork_as_init"), "linux:vfork_as_init");
    }
}
