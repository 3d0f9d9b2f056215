//! `cargo xtask test`: host unit tests, then the in-VM scenarios of tests/*.toml.

use crate::oracle::{self, Results};
use crate::qemu::{self, Ending, Vm};
use crate::scenario::{self, Observed, Scenario, ScenarioInitrd, Subtest, Verdict};
use crate::{bail, build, tools, user, Context, Result};
use std::collections::{HashMap, VecDeque};
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
    /// The program's result lines, for scenarios with `linux = true`.
    results: Option<Results>,
}

impl Outcome {
    /// Keep what a failure report shows of a run: its line count, its last
    /// TAIL_LINES lines and QEMU's stderr.
    fn keep_tail(&mut self, captured: qemu::Captured) {
        self.total_lines = captured.lines.len();
        let skip = captured.lines.len().saturating_sub(TAIL_LINES);
        self.tail = captured.lines[skip..].iter().map(|l| l.text.clone()).collect();
        self.stderr = captured.stderr;
    }
}

impl Outcome {
    fn new(log: PathBuf) -> Outcome {
        Outcome {
            duration: Duration::ZERO,
            verdict: Verdict::default(),
            log,
            tail: Vec::new(),
            total_lines: 0,
            stderr: String::new(),
            command: String::new(),
            results: None,
        }
    }
}

/// Whether the Linux checks (scenarios with `linux = true`) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinuxMode {
    /// Along with everything else when a Linux kernel is installed; reported
    /// as skipped when none is.
    Auto,
    /// `--against-linux`: only the scenarios with `linux = true`, on Tine and
    /// on Linux; no Linux kernel is an error.
    Only,
    /// `--no-linux`: never.
    Off,
}

/// Where `cargo xtask test` looks for Linux.
const BOOT_DIR: &str = "/boot";

/// A Linux boot gets at least this long: it takes 5-20 s under TCG.
const LINUX_MIN_TIMEOUT: Duration = Duration::from_secs(120);

/// One QEMU run of the test queue.
enum Job {
    Tine(Scenario),
    /// The Linux half of `linux:<name>`.
    Linux(Scenario),
}

pub fn test(filter: Option<&str>, jobs: usize, host: bool, linux_mode: LinuxMode) -> Result<i32> {
    tools::ensure(&[tools::QEMU])?;
    let root = build::workspace_root();
    // Load scenarios first: a typo in a .toml should not wait for the unit tests.
    let all = scenario::load_dir(&root.join("tests"), &root)?;
    let total = all.len();
    let matches = |name: &str| filter.is_none_or(|f| name.contains(f));

    // The Linux checks asked for, and the kernel to run them with.
    let linux_wanted: Vec<&Scenario> = all
        .iter()
        .filter(|s| s.linux && linux_mode != LinuxMode::Off)
        .filter(|s| matches(&oracle::check_name(&s.name)))
        .collect();
    let (linux, skipped_why) = if linux_wanted.is_empty() {
        if linux_mode == LinuxMode::Only {
            bail!(
                "--against-linux: no scenario with linux = true{} (tests/*.toml)",
                filter.map_or(String::new(), |f| format!(" has {f:?} in its name"))
            );
        }
        (None, None)
    } else {
        match oracle::find_linux(Path::new(BOOT_DIR)) {
            Ok(k) => (Some(k), None),
            Err(why) if linux_mode == LinuxMode::Only => bail!("--against-linux: {why}"),
            Err(why) => (None, Some(why)),
        }
    };
    let skipped: Vec<String> = match skipped_why {
        Some(_) => linux_wanted
            .iter()
            .map(|s| oracle::check_name(&s.name))
            .collect(),
        None => Vec::new(),
    };
    let linux_checks: Vec<Scenario> = match linux {
        Some(_) => linux_wanted.into_iter().cloned().collect(),
        None => Vec::new(),
    };
    // A Linux check needs the Tine run it is compared with.
    let selected: Vec<Scenario> = all
        .into_iter()
        .filter(|s| {
            (linux_mode != LinuxMode::Only && matches(&s.name))
                || linux_checks.iter().any(|l| l.name == s.name)
        })
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
        skipped: skipped.len(),
        ..Summary::default()
    };
    if let Some(why) = &skipped_why {
        println!();
        for name in &skipped {
            println!("test {name} ... skipped ({why})");
        }
    }
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
    let mut no_busybox = None;
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
            Ok(built) => {
                no_busybox = built.no_busybox;
                Ok(built.path)
            }
            Err(e) => {
                eprintln!("error: {e}");
                summary.user_failure = Some("user programs FAILED to build (see above)".into());
                Err("initrd = \"default\" needs the initramfs, but the user programs did not build (see above)".into())
            }
        },
    };

    // Scenarios that need busybox are skipped when the initramfs has none
    // (with the reason and the apt hint), the Linux checks with them.
    let (selected, linux_checks) = match &no_busybox {
        None => (selected, linux_checks),
        Some(why) => {
            let skip = |s: &Scenario| s.busybox && s.initrd == Some(ScenarioInitrd::Default);
            for s in selected.iter().filter(|s| skip(s)) {
                println!("test {} ... skipped (the initramfs has no busybox: {why})", s.name);
                summary.skipped += 1;
            }
            for s in linux_checks.iter().filter(|s| skip(s)) {
                println!(
                    "test {} ... skipped (the initramfs has no busybox: {why})",
                    oracle::check_name(&s.name)
                );
                summary.skipped += 1;
            }
            (
                selected.into_iter().filter(|s| !skip(s)).collect::<Vec<_>>(),
                linux_checks.into_iter().filter(|s| !skip(s)).collect::<Vec<_>>(),
            )
        }
    };
    if selected.is_empty() {
        println!("\nevery selected VM scenario was skipped");
        return Ok(summary.print());
    }

    let image = match build::build(false) {
        Ok(image) => image,
        Err(e) => {
            eprintln!("error: {e}");
            summary.failed = selected.len() + linux_checks.len();
            summary.note = Some(format!(
                "the kernel did not build, so {} VM scenarios and {} Linux checks did not run",
                selected.len(),
                linux_checks.len()
            ));
            return Ok(summary.print());
        }
    };

    let log_dir = build::tine_dir().join("test-logs");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let runs = selected.len() + linux_checks.len();
    let workers = jobs.min(runs).max(1);
    let filtered = total - selected.len();
    println!(
        "\nrunning {} VM scenarios{} ({workers} at a time{}; serial logs in {})",
        selected.len(),
        match &linux {
            Some(k) if !linux_checks.is_empty() => format!(
                " and {} Linux checks (Linux {}: {})",
                linux_checks.len(),
                k.version,
                k.path.display()
            ),
            _ => String::new(),
        },
        if filtered > 0 {
            format!(", {filtered} filtered out")
        } else {
            String::new()
        },
        build::display_path(&log_dir)
    );

    // Linux boots are the slowest runs: start them first.
    let mut queue: VecDeque<Job> = linux_checks.iter().cloned().map(Job::Linux).collect();
    queue.extend(selected.into_iter().map(Job::Tine));
    let queue = Arc::new(Mutex::new(queue));
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (queue, tx) = (queue.clone(), tx.clone());
        let (kernel, root, log_dir) = (image.path.clone(), root.clone(), log_dir.clone());
        let linux = linux.as_ref().map(|k| k.path.clone());
        let default_initrd = default_initrd.clone();
        handles.push(std::thread::spawn(move || loop {
            let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
            let Some(job) = next else { break };
            let outcome = match (&job, &linux) {
                (Job::Tine(sc), _) => run_one(sc, &kernel, &root, &log_dir, &default_initrd),
                (Job::Linux(sc), Some(linux)) => {
                    let timeout = sc.timeout.max(LINUX_MIN_TIMEOUT);
                    run_linux(sc, linux, &root, &log_dir, &default_initrd, timeout)
                }
                (Job::Linux(_), None) => unreachable!("Linux jobs are queued only with a kernel"),
            };
            if tx.send((job, outcome)).is_err() {
                break;
            }
        }));
    }
    drop(tx);
    // The halves of each Linux check, until both are in.
    let mut halves: HashMap<String, (Option<Outcome>, Option<Outcome>)> = HashMap::new();
    for (job, outcome) in rx {
        let (sc, tine_half) = match job {
            Job::Tine(sc) => {
                report(&sc, &outcome, &mut summary);
                (sc, true)
            }
            Job::Linux(sc) => (sc, false),
        };
        if !linux_checks.iter().any(|l| l.name == sc.name) {
            continue;
        }
        let entry = halves.entry(sc.name.clone()).or_default();
        if tine_half {
            entry.0 = Some(outcome);
        } else {
            entry.1 = Some(outcome);
        }
        if let (Some(tine), Some(linux)) = entry {
            report_linux(&sc, tine, linux, &mut summary);
            halves.remove(&sc.name);
        }
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
    /// Linux checks not run (no Linux kernel).
    skipped: usize,
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
            "test result: {}. {} passed; {} failed{}",
            if ok { "ok" } else { "FAILED" },
            self.passed,
            self.failed,
            if self.skipped > 0 {
                format!("; {} skipped", self.skipped)
            } else {
                String::new()
            }
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

/// Reports `linux:<name>`: the Linux run by itself, then compared with Tine's.
fn report_linux(sc: &Scenario, tine: &Outcome, linux: &Outcome, summary: &mut Summary) {
    let name = oracle::check_name(&sc.name);
    let empty = Results::default();
    let linux_results = linux.results.as_ref().unwrap_or(&empty);
    let mut failures = linux.verdict.failures.clone();
    failures.extend(oracle::compare(
        tine.results.as_ref().unwrap_or(&empty),
        linux_results,
    ));
    let secs = linux.duration.as_secs_f64();
    if failures.is_empty() {
        summary.passed += 1;
        println!("test {name} ... ok ({secs:.2}s)");
        return;
    }
    summary.failed += 1;
    println!(
        "test {name} ... FAILED ({}) ({secs:.2}s)",
        failures.join("; ")
    );
    let log = build::display_path(&linux.log);
    // Linux's own log matters when Linux misbehaved; otherwise Tine's does.
    if !linux.verdict.failures.is_empty() || !linux_results.problems("Linux").is_empty() {
        if linux.tail.is_empty() {
            println!("---- {name}: no serial output from Linux ({log} is empty) ----");
        } else {
            println!(
                "---- {name}: last {} of {} lines of {log} ----",
                linux.tail.len(),
                linux.total_lines
            );
            for l in &linux.tail {
                println!("{l}");
            }
        }
        if !linux.stderr.trim().is_empty() {
            println!("---- {name}: QEMU stderr ----\n{}", linux.stderr.trim_end());
        }
    }
    println!(
        "---- {name}: Tine's log {}, Linux's log {log}; defined in {}; Linux's QEMU command: ----\n{}\n----",
        build::display_path(&tine.log),
        sc.file.display(),
        linux.command
    );
}

/// The initrd a scenario boots with, or why it cannot boot.
fn scenario_initrd(
    sc: &Scenario,
    root: &Path,
    default_initrd: &DefaultInitrd,
) -> std::result::Result<Option<PathBuf>, String> {
    match &sc.initrd {
        None => Ok(None),
        Some(ScenarioInitrd::File(initrd)) => {
            let path = root.join(initrd);
            if !path.is_file() {
                return Err(format!("initrd {} does not exist", initrd.display()));
            }
            Ok(Some(path))
        }
        Some(ScenarioInitrd::Default) => default_initrd.clone().map(Some),
    }
}

/// Boots Linux (`linux`) the way `sc` boots Tine: the same QEMU machine,
/// CPUs, memory, initramfs and command line (after LINUX_APPEND), and
/// collects the program's result lines. Never fails: problems become
/// failures.
fn run_linux(
    sc: &Scenario,
    linux: &Path,
    root: &Path,
    log_dir: &Path,
    default_initrd: &DefaultInitrd,
    timeout: Duration,
) -> Outcome {
    let mut outcome = Outcome::new(log_dir.join(format!("{}.linux.log", sc.name)));
    let append = format!("{} {}", oracle::LINUX_APPEND, sc.append);
    let mut vm = Vm::new(linux, sc.smp, &sc.mem, append.trim_end());
    vm.extra.extend(sc.qemu_args.iter().cloned());
    match scenario_initrd(sc, root, default_initrd) {
        Ok(initrd) => vm.initrd = initrd,
        Err(why) => {
            outcome
                .verdict
                .failures
                .push(format!("Linux not booted: {why}"));
            return outcome;
        }
    }
    outcome.command = vm.command_line();
    let start = Instant::now();
    let captured = match qemu::run_with_input(&vm, timeout, Some(&outcome.log), &sc.send) {
        Ok(c) => c,
        Err(e) => {
            outcome.verdict.failures.push(format!("Linux: {e}"));
            return outcome;
        }
    };
    outcome.duration = start.elapsed();
    // With panic=-1, Linux resets when init exits (or powers off).
    if captured.ending != Ending::Reset {
        outcome.verdict.failures.push(format!(
            "Linux {}, expected a reset",
            captured.ending.describe()
        ));
    }
    outcome.results = Some(Results::collect(
        captured.lines.iter().map(|l| l.text.as_str()),
    ));
    outcome.keep_tail(captured);
    outcome
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
    let mut outcome = Outcome::new(log.clone());
    match scenario_initrd(sc, root, default_initrd) {
        Ok(initrd) => vm.initrd = initrd,
        Err(why) => {
            outcome.verdict.failures.push(why);
            return outcome;
        }
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
    let captured = match qemu::run_with_input(&vm, sc.timeout, Some(&log), &sc.send) {
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
            sent: captured.sent,
        },
    );
    if sc.linux {
        outcome.results = Some(Results::collect(
            captured.lines.iter().map(|l| l.text.as_str()),
        ));
    }
    outcome.keep_tail(captured);
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

    /// A scenario with `linux = true` booted on the fake kernel as Tine, and
    /// `linux_append`'s scenario on the fake kernel as Linux.
    fn linux_pair(
        tine_append: &str,
        linux_append: &str,
        timeout: u64,
    ) -> Option<(Outcome, Outcome)> {
        if !have_qemu() {
            return None;
        }
        let kernel = fake_kernel(0)?;
        let dir = crate::testutil::scratch_dir();
        let initrd = dir.join("fake-initramfs.cpio");
        std::fs::write(&initrd, crate::cpio::Cpio::new().finish()).unwrap();
        let sc = |append: &str| {
            scenario::parse_file(
                "t.toml",
                &format!("[[test]]\nname = \"pair{}\"\ninitrd = \"default\"\nappend = \"rdinit=/bin/x {append}\"\nlinux = true\nend = \"reset\"\n", append.len()),
            )
            .unwrap()
            .remove(0)
        };
        let tine = run_one(&sc(tine_append), &kernel, &dir, &dir, &Ok(initrd.clone()));
        let linux = run_linux(
            &sc(linux_append),
            &kernel,
            &dir,
            &dir,
            &Ok(initrd),
            Duration::from_secs(timeout),
        );
        Some((tine, linux))
    }

    #[test]
    fn linux_check_compares_result_lines() {
        let Some((tine, linux)) = linux_pair("u", "u", 30) else {
            return;
        };
        assert!(tine.verdict.passed(), "{:?}", tine.verdict.failures);
        assert!(linux.verdict.passed(), "{:?}", linux.verdict.failures);
        let (t, l) = (tine.results.unwrap(), linux.results.unwrap());
        assert_eq!(l.passed, ["a", "b"]);
        assert_eq!(oracle::compare(&t, &l), Vec::<String>::new());
        assert!(
            linux
                .command
                .contains("-append 'console=ttyS0 quiet panic=-1 rdinit=/bin/x u' -initrd "),
            "{}",
            linux.command
        );
        assert!(
            linux.log.ends_with("pair1.linux.log"),
            "{}",
            linux.log.display()
        );
        let log = std::fs::read_to_string(&linux.log).unwrap();
        assert!(log.contains("\nPASS b\n"), "{log}");
    }

    #[test]
    fn linux_check_reports_differences() {
        let Some((tine, linux)) = linux_pair("u", "v", 30) else {
            return;
        };
        assert_eq!(
            oracle::compare(&tine.results.unwrap(), &linux.results.unwrap()),
            ["1 PASS only on Linux: c", "1 PASS only on Tine: b"]
        );
    }

    #[test]
    fn linux_hang_is_a_failure() {
        let Some((_, linux)) = linux_pair("u", "h", 1) else {
            return;
        };
        assert_eq!(
            linux.verdict.failures,
            ["Linux timed out after 1s, expected a reset"]
        );
        assert_eq!(
            linux.results.unwrap().problems("Linux"),
            ["Linux: no result lines at all"]
        );
    }

    #[test]
    fn linux_reports_count_in_the_summary() {
        let sc = scenario::parse_file(
            "t.toml",
            "[[test]]\nname = \"s\"\ninitrd = \"default\"\nlinux = true\n",
        )
        .unwrap()
        .remove(0);
        let outcome = |text: &str| {
            let mut o = Outcome::new(PathBuf::from("x.log"));
            o.results = Some(Results::collect(text.lines()));
            o
        };
        let mut summary = Summary::default();
        let good = "PASS a\ndone passed=1 failed=0\n";
        report_linux(&sc, &outcome(good), &outcome(good), &mut summary);
        assert_eq!((summary.passed, summary.failed), (1, 0));
        report_linux(&sc, &outcome("PASS a\n"), &outcome(good), &mut summary);
        assert_eq!((summary.passed, summary.failed), (1, 1));
        // A Tine run that never booted (no results) fails the check too.
        report_linux(
            &sc,
            &Outcome::new(PathBuf::from("y.log")),
            &outcome(good),
            &mut summary,
        );
        assert_eq!((summary.passed, summary.failed), (1, 2));
        let mut bad_boot = outcome(good);
        bad_boot
            .verdict
            .failures
            .push("Linux timed out after 1s, expected a reset".into());
        report_linux(&sc, &outcome(good), &bad_boot, &mut summary);
        assert_eq!((summary.passed, summary.failed), (1, 3));
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
