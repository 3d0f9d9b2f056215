//! `cargo xtask test`: host unit tests, then the in-VM scenarios of tests/*.toml.

use crate::qemu::{self, Vm};
use crate::scenario::{self, Observed, Scenario, ScenarioInitrd, Subtest, Verdict};
use crate::{build, tools, user, Context, Result};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of the serial log shown for a failed scenario.
const TAIL_LINES: usize = 40;

/// The initramfs built from user/ for `initrd = "default"` scenarios, or
/// why there is none (the reason those scenarios fail).
pub type DefaultInitrd = std::result::Result<PathBuf, String>;

/// What running one scenario produced.
struct Outcome {
    duration: Duration,
    verdict: Verdict,
    log: PathBuf,
    /// The last lines of serial output and the total line count.
    tail: Vec<String>,
    total_lines: usize,
    stderr: String,
    command: String,
}

pub fn test(filter: Option<&str>, jobs: usize, host: bool) -> Result<i32> {
    tools::ensure(&[tools::QEMU])?;
    let root = build::workspace_root();
    // Load scenarios first: a typo in a .toml should not wait for the unit tests.
    let all = scenario::load_dir(&root.join("tests"), &root)?;
    let total = all.len();
    let selected: Vec<Scenario> = all
        .into_iter()
        .filter(|s| filter.is_none_or(|f| s.name.contains(f)))
        .collect();

    let mut host_failure = None;
    if host {
        println!("xtask: running host unit tests (cargo test --workspace --exclude kernel)");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["test", "--workspace", "--exclude", "kernel"])
            .status()
            .context("running cargo test")?;
        if !status.success() {
            host_failure = Some(format!("host unit tests FAILED (cargo test {status})"));
        }
    }

    let mut summary = Summary {
        host_failure,
        ..Summary::default()
    };
    if selected.is_empty() {
        match filter {
            Some(f) => {
                println!("\nno VM scenario name contains {f:?} ({total} scenarios in tests/*.toml)")
            }
            None => println!("\nno VM scenarios (tests/*.toml)"),
        }
        return Ok(summary.print());
    }

    // The user programs and the initramfs, before the kernel: a scenario
    // with initrd = "default" cannot run without them, and a program that
    // does not compile fails the run even if no scenario boots it.
    let needing = selected
        .iter()
        .filter(|s| s.initrd == Some(ScenarioInitrd::Default))
        .count();
    let default_initrd: DefaultInitrd = match user::musl_missing() {
        Some(why) => {
            if needing > 0 {
                println!(
                    "\nxtask: {why}: the {needing} scenarios with initrd = \"default\" will fail"
                );
            } else {
                println!("\nnote: {why}; the user programs and the initramfs were not built");
            }
            Err(format!(
                "initrd = \"default\" needs the initramfs xtask builds from user/, but {why}"
            ))
        }
        None => match user::build_initramfs() {
            Ok(path) => Ok(path),
            Err(e) => {
                eprintln!("error: {e}");
                summary.user_failure = Some("user programs FAILED to build (see above)".into());
                Err("initrd = \"default\" needs the initramfs, but the user programs did not build (see above)".into())
            }
        },
    };

    let image = match build::build(false) {
        Ok(image) => image,
        Err(e) => {
            eprintln!("error: {e}");
            summary.failed = selected.len();
            summary.note = Some(format!(
                "the kernel did not build, so {} VM scenarios did not run",
                selected.len()
            ));
            return Ok(summary.print());
        }
    };

    let log_dir = build::tine_dir().join("test-logs");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let workers = jobs.min(selected.len()).max(1);
    let filtered = total - selected.len();
    println!(
        "\nrunning {} VM scenarios ({workers} at a time{}; serial logs in {})",
        selected.len(),
        if filtered > 0 {
            format!(", {filtered} filtered out")
        } else {
            String::new()
        },
        build::display_path(&log_dir)
    );

    let queue = Arc::new(Mutex::new(selected.into_iter().collect::<VecDeque<_>>()));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (queue, tx) = (queue.clone(), tx.clone());
        let (kernel, root, log_dir) = (image.path.clone(), root.clone(), log_dir.clone());
        let default_initrd = default_initrd.clone();
        handles.push(std::thread::spawn(move || loop {
            let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
            let Some(sc) = next else { break };
            let outcome = run_one(&sc, &kernel, &root, &log_dir, &default_initrd);
            if tx.send((sc, outcome)).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    for (sc, outcome) in rx {
        report(&sc, &outcome, &mut summary);
    }
    for h in handles {
        let _ = h.join();
    }
    Ok(summary.print())
}

#[derive(Default)]
struct Summary {
    passed: usize,
    failed: usize,
    ktests_passed: usize,
    ktests_failed: usize,
    host_failure: Option<String>,
    user_failure: Option<String>,
    note: Option<String>,
}

impl Summary {
    /// Prints the closing lines; returns the exit status.
    fn print(&self) -> i32 {
        println!();
        if self.ktests_passed + self.ktests_failed > 0 {
            println!(
                "ktests: {} passed; {} failed",
                self.ktests_passed, self.ktests_failed
            );
        }
        for line in self
            .host_failure
            .iter()
            .chain(&self.user_failure)
            .chain(&self.note)
        {
            println!("{line}");
        }
        let ok = self.failed == 0 && self.host_failure.is_none() && self.user_failure.is_none();
        println!(
            "test result: {}. {} passed; {} failed",
            if ok { "ok" } else { "FAILED" },
            self.passed,
            self.failed
        );
        if ok {
            0
        } else {
            1
        }
    }
}

fn report(sc: &Scenario, o: &Outcome, summary: &mut Summary) {
    for Subtest { name, failure } in &o.verdict.subtests {
        match failure {
            None => {
                summary.ktests_passed += 1;
                println!("test {}::{name} ... ok", sc.name);
            }
            Some(why) => {
                summary.ktests_failed += 1;
                println!("test {}::{name} ... FAILED ({why})", sc.name);
            }
        }
    }
    let secs = o.duration.as_secs_f64();
    if o.verdict.passed() {
        summary.passed += 1;
        println!("test {} ... ok ({secs:.2}s)", sc.name);
        return;
    }
    summary.failed += 1;
    println!(
        "test {} ... FAILED ({}) ({secs:.2}s)",
        sc.name,
        o.verdict.failures.join("; ")
    );
    let log = build::display_path(&o.log);
    if o.tail.is_empty() {
        println!("---- {}: no serial output ({log} is empty) ----", sc.name);
    } else {
        println!(
            "---- {}: last {} of {} lines of {log} ----",
            sc.name,
            o.tail.len(),
            o.total_lines
        );
        for l in &o.tail {
            println!("{l}");
        }
    }
    if !o.stderr.trim().is_empty() {
        println!(
            "---- {}: QEMU stderr ----\n{}",
            sc.name,
            o.stderr.trim_end()
        );
    }
    println!(
        "---- {}: defined in {}; QEMU command: ----\n{}\n----",
        sc.name,
        sc.file.display(),
        o.command
    );
}

/// Boots one scenario and checks it. Never fails: problems become failures.
fn run_one(
    sc: &Scenario,
    kernel: &Path,
    root: &Path,
    log_dir: &Path,
    default_initrd: &DefaultInitrd,
) -> Outcome {
    let log = log_dir.join(format!("{}.log", sc.name));
    let mut vm = Vm::new(kernel, sc.smp, &sc.mem, &sc.append);
    vm.extra.extend(sc.qemu_args.iter().cloned());
    let mut outcome = Outcome {
        duration: Duration::ZERO,
        verdict: Verdict::default(),
        log: log.clone(),
        tail: Vec::new(),
        total_lines: 0,
        stderr: String::new(),
        command: String::new(),
    };
    match &sc.initrd {
        None => {}
        Some(ScenarioInitrd::File(initrd)) => {
            let path = root.join(initrd);
            if !path.is_file() {
                outcome
                    .verdict
                    .failures
                    .push(format!("initrd {} does not exist", initrd.display()));
                return outcome;
            }
            vm.initrd = Some(path);
        }
        Some(ScenarioInitrd::Default) => match default_initrd {
            Ok(path) => vm.initrd = Some(path.clone()),
            Err(why) => {
                outcome.verdict.failures.push(why.clone());
                return outcome;
            }
        },
    }
    // Ports before the captured one go to files; the captured one is piped.
    let others: Vec<(String, PathBuf)> = (0..sc.capture_serial)
        .map(|i| {
            (
                format!("ttyS{i}"),
                log_dir.join(format!("{}.log.ttyS{i}", sc.name)),
            )
        })
        .collect();
    vm.serial.clear();
    for (_, path) in &others {
        let _ = std::fs::remove_file(path);
        vm.serial.push(format!("file:{}", path.display()));
    }
    vm.serial.push("stdio".into());
    outcome.command = vm.command_line();

    let start = Instant::now();
    let captured = match qemu::run_captured(&vm, sc.timeout, Some(&log)) {
        Ok(c) => c,
        Err(e) => {
            outcome.verdict.failures.push(e);
            return outcome;
        }
    };
    outcome.duration = start.elapsed();
    let other_serial: Vec<(String, Vec<u8>)> = others
        .into_iter()
        .map(|(port, path)| (port, std::fs::read(path).unwrap_or_default()))
        .collect();
    let text = captured.text();
    outcome.verdict = scenario::check(
        sc,
        &Observed {
            text: &text,
            ending: &captured.ending,
            other_serial: &other_serial,
        },
    );
    outcome.total_lines = captured.lines.len();
    let skip = captured.lines.len().saturating_sub(TAIL_LINES);
    outcome.tail = captured.lines[skip..]
        .iter()
        .map(|l| l.text.clone())
        .collect();
    outcome.stderr = captured.stderr;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake_kernel, have_qemu};

    /// Runs one scenario (TOML text) against the fake kernel.
    fn boot(toml: &str) -> Option<Outcome> {
        boot_with(toml, false)
    }

    /// Same, with a (dummy) default initramfs if `initramfs`.
    fn boot_with(toml: &str, initramfs: bool) -> Option<Outcome> {
        if !have_qemu() {
            return None;
        }
        let kernel = fake_kernel(0)?;
        let sc = scenario::parse_file("t.toml", toml).unwrap().remove(0);
        let dir = crate::testutil::scratch_dir();
        let default_initrd = if initramfs {
            let path = dir.join("fake-initramfs.cpio");
            std::fs::write(&path, crate::cpio::Cpio::new().finish()).unwrap();
            Ok(path)
        } else {
            Err("no initramfs".into())
        };
        Some(run_one(&sc, &kernel, &dir, &dir, &default_initrd))
    }

    #[test]
    fn panicking_boot_passes_the_example_scenario() {
        let Some(o) = boot(
            r#"[[test]]
name = "panic_requested_init"
smp = 2
append = "init=/nonexistent panic=-1"
timeout = 30
expect = ["Tine version", "smp: Brought up 1 node, 2 CPUs", "Kernel panic - not syncing: Requested init /nonexistent failed (error -2)."]
reject = ["BUG:"]
end = "reset"
"#,
        ) else {
            return;
        };
        assert!(o.verdict.passed(), "{:?}", o.verdict.failures);
        assert_eq!(o.total_lines, 3);
        let log = std::fs::read_to_string(&o.log).unwrap();
        assert!(log.starts_with("[    0.000000] Tine version"), "{log}");
    }

    #[test]
    fn ktest_boot_reports_subtests() {
        let Some(o) =
            boot("[[test]]\nname = \"kt\"\nappend = \"k\"\nktest = true\nend = \"exit-ok\"\n")
        else {
            return;
        };
        assert!(o.verdict.passed(), "{:?}", o.verdict.failures);
        let names: Vec<&str> = o.verdict.subtests.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["list::push", "mm::buddy"]);
    }

    #[test]
    fn hang_times_out() {
        let Some(o) =
            boot("[[test]]\nname = \"hang\"\nappend = \"h\"\ntimeout = 1\nend = \"timeout\"\n")
        else {
            return;
        };
        assert!(o.verdict.passed(), "{:?}", o.verdict.failures);
        let Some(o) =
            boot("[[test]]\nname = \"hang2\"\nappend = \"h\"\ntimeout = 1\nend = \"reset\"\n")
        else {
            return;
        };
        assert_eq!(o.verdict.failures, ["timed out after 1s, expected reset"]);
    }

    #[test]
    fn wrong_ending_and_exit_fail() {
        let Some(o) = boot("[[test]]\nname = \"ef\"\nappend = \"f\"\nend = \"exit-ok\"\n") else {
            return;
        };
        assert_eq!(
            o.verdict.failures,
            ["exited via isa-debug-exit 1 (rc 3), expected exit-ok"]
        );
        assert_eq!(o.tail.len(), 2);
    }

    #[test]
    fn captured_port_and_other_ports() {
        let Some(o) = boot(
            "[[test]]\nname = \"com2\"\nappend = \"2\"\ncapture_serial = 1\nother_serial_empty = true\n\
             expect = [\"noise on com2\"]\nend = \"reset\"\n",
        ) else {
            return;
        };
        assert_eq!(o.verdict.failures.len(), 1, "{:?}", o.verdict.failures);
        assert!(
            o.verdict.failures[0].starts_with("ttyS0 (not the captured port) received"),
            "{:?}",
            o.verdict.failures
        );
        assert!(
            o.command.contains("-serial file:") && o.command.ends_with("-serial stdio"),
            "{}",
            o.command
        );
    }

    #[test]
    fn missing_initrd_fails_without_booting() {
        let Some(o) = boot("[[test]]\nname = \"ird\"\ninitrd = \"no/such/file.cpio\"\n") else {
            return;
        };
        assert_eq!(
            o.verdict.failures,
            ["initrd no/such/file.cpio does not exist"]
        );
    }

    #[test]
    fn default_initrd_without_musl_fails_with_the_reason() {
        // Fails before QEMU would start, so no QEMU is needed.
        let sc = scenario::parse_file(
            "t.toml",
            "[[test]]\nname = \"user\"\ninitrd = \"default\"\n",
        )
        .unwrap()
        .remove(0);
        let dir = crate::testutil::scratch_dir();
        let why = "initrd = \"default\" needs the initramfs xtask builds from user/, but musl-gcc is not installed";
        let o = run_one(
            &sc,
            Path::new("/nonexistent/kernel.elf"),
            &dir,
            &dir,
            &Err(why.into()),
        );
        assert_eq!(o.verdict.failures, [why]);
    }

    #[test]
    fn default_initrd_is_passed_to_qemu() {
        let Some(o) = boot_with(
            "[[test]]\nname = \"dflt\"\nappend = \"init=/nonexistent panic=-1\"\ninitrd = \"default\"\nend = \"reset\"\n",
            true,
        ) else {
            return;
        };
        assert!(o.verdict.passed(), "{:?}", o.verdict.failures);
        assert!(o.command.contains(" -initrd "), "{}", o.command);
        assert!(o.command.contains("fake-initramfs.cpio"), "{}", o.command);
    }

    #[test]
    fn qemu_failure_is_reported() {
        if !have_qemu() {
            return;
        }
        let sc = scenario::parse_file(
            "t.toml",
            "[[test]]\nname = \"nokernel\"\nend = \"exit-ok\"\n",
        )
        .unwrap()
        .remove(0);
        let dir = crate::testutil::scratch_dir();
        let o = run_one(
            &sc,
            Path::new("/nonexistent/kernel.elf"),
            &dir,
            &dir,
            &Err("unused".into()),
        );
        assert_eq!(o.verdict.failures.len(), 1);
        assert!(
            o.verdict.failures[0].starts_with("QEMU failed (rc 1): "),
            "{:?}",
            o.verdict.failures
        );
    }
}
