//! `cargo xtask bench`: boot-time benchmark of Tine, and of the host's Linux
//! kernel for comparison. Times are wall-clock from QEMU's spawn to the
//! arrival of a serial line; nothing is asserted.
//!
//! Then process micro-benchmarks: both kernels boot the same initramfs with
//! `rdinit=/bin/procbench` (user/bench/procbench.c), which prints
//! `BENCH <name> <ns_per_op> <iterations>` lines timed by the guest's
//! CLOCK_MONOTONIC, once in real time and once under `-icount shift=0`.

use crate::cpio::Cpio;
use crate::qemu::{self, Captured, Ending, Vm, PANIC_MARKER};
use crate::{build, oracle, tools, user, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const RUNS: usize = 5;
const SMP: u32 = 2;
const MEM: &str = "256M";
const TINE_APPEND: &str = "init=/nonexistent panic=-1";
const LINUX_APPEND: &str = "console=ttyS0 panic=-1 rdinit=/init";
const SMP_MARKER: &str = "smp: Brought up";
const BOOTMARK: &str = "bootmark: init reached";
const TINE_TIMEOUT: Duration = Duration::from_secs(60);
const LINUX_TIMEOUT: Duration = Duration::from_secs(180);

/// Milestone times of one kernel over all runs (ms; None = not reached).
struct Row {
    kernel: String,
    first_line: Vec<Option<f64>>,
    /// None for kernels where the milestone does not apply.
    cpus_up: Option<Vec<Option<f64>>>,
    init: Vec<Option<f64>>,
}

pub fn bench() -> Result<i32> {
    tools::ensure(&[tools::QEMU])?;
    let image = build::build(true)?;
    let dir = build::tine_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    println!("\nBooting Tine {RUNS} times (-smp {SMP} -m {MEM}, append {TINE_APPEND:?})");
    let mut tine = Row {
        kernel: "Tine".into(),
        first_line: vec![],
        cpus_up: Some(vec![]),
        init: vec![],
    };
    for i in 1..=RUNS {
        let vm = Vm::new(&image.path, SMP, MEM, TINE_APPEND);
        let c = qemu::run_captured(&vm, TINE_TIMEOUT, Some(&dir.join(format!("tine-{i}.log"))))?;
        let (first, smp, init) = (
            first_line(&c),
            time_of(&c, SMP_MARKER),
            time_of(&c, PANIC_MARKER),
        );
        println!(
            "  boot {i}: first line {}, all CPUs up {}, init reached {} ({})",
            ms(first),
            ms(smp),
            ms(init),
            c.ending.describe()
        );
        tine.first_line.push(first);
        if let Some(v) = tine.cpus_up.as_mut() {
            v.push(smp);
        }
        tine.init.push(init);
    }
    let mut rows = vec![tine];

    let mut skipped = None;
    match prepare_linux(&dir) {
        Err(why) => {
            println!("\nLinux row skipped: {why}");
            skipped = Some(why);
        }
        Ok((vmlinuz, initramfs, version)) => {
            println!("\nBooting Linux {version} {RUNS} times (append {LINUX_APPEND:?}, initramfs with /init = bootmark)");
            let mut row = Row {
                kernel: format!("Linux {version}"),
                first_line: vec![],
                cpus_up: None,
                init: vec![],
            };
            for i in 1..=RUNS {
                let mut vm = Vm::new(&vmlinuz, SMP, MEM, LINUX_APPEND);
                vm.initrd = Some(initramfs.clone());
                let c = qemu::run_captured(
                    &vm,
                    LINUX_TIMEOUT,
                    Some(&dir.join(format!("linux-{i}.log"))),
                )?;
                let (first, init) = (first_line(&c), time_of(&c, BOOTMARK));
                println!(
                    "  boot {i}: first line {}, init reached {} ({})",
                    ms(first),
                    ms(init),
                    c.ending.describe()
                );
                row.first_line.push(first);
                row.init.push(init);
            }
            rows.push(row);
        }
    }

    print_tables(&rows, &qemu_version(), skipped.as_deref());
    println!(
        "(serial logs of every boot are in {})",
        build::display_path(&dir)
    );

    proc_bench(&image.path, &dir)?;
    Ok(0)
}

fn first_line(c: &Captured) -> Option<f64> {
    c.lines.first().map(|l| l.at.as_secs_f64() * 1000.0)
}

fn time_of(c: &Captured, marker: &str) -> Option<f64> {
    c.lines
        .iter()
        .find(|l| l.text.contains(marker))
        .map(|l| l.at.as_secs_f64() * 1000.0)
}

fn ms(t: Option<f64>) -> String {
    t.map_or("not reached".into(), |t| format!("{t:.0} ms"))
}

/// The newest /boot/vmlinuz-*, a bootmark initramfs, and the kernel version;
/// or why the Linux row cannot be measured.
fn prepare_linux(dir: &Path) -> std::result::Result<(PathBuf, PathBuf, String), String> {
    let linux = oracle::find_linux(Path::new("/boot"))?;
    if tools::find(tools::MUSL_GCC.bin).is_none() {
        return Err(format!(
            "musl-gcc not found, needed to build the initramfs's /init (install with: {})",
            tools::install_hint(&[tools::MUSL_GCC.package])
        ));
    }
    let initramfs = build_initramfs(dir)?;
    Ok((linux.path, initramfs, linux.version))
}

/// Compiles user/bench/bootmark.c and packs it as /init with /dev/console.
fn build_initramfs(dir: &Path) -> Result<PathBuf> {
    let source = user::source_dir().join("bench/bootmark.c");
    let binary = dir.join("bootmark");
    user::compile(&source, &user::source_dir(), &binary)?;
    let init = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
    let mut cpio = Cpio::new();
    cpio.dir("/dev", 0o755)
        .char_dev("/dev/console", 0o600, 5, 1)
        .file("/init", 0o755, &init);
    let path = dir.join("initramfs.cpio");
    std::fs::write(&path, cpio.finish()).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn qemu_version() -> String {
    Command::new(tools::QEMU.bin)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.replace("QEMU emulator version ", ""))
        })
        .unwrap_or_else(|| "?".into())
}

fn host_cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Median, min and max of the runs that reached a milestone, and how many did.
#[derive(Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub count: usize,
}

pub fn stats(samples: &[Option<f64>]) -> Option<Stats> {
    let mut v: Vec<f64> = samples.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stats {
        median,
        min: v[0],
        max: v[n - 1],
        count: n,
    })
}

/// "123 ms (110-140)", with "k/N runs" if some runs did not get there.
pub fn cell(samples: &[Option<f64>]) -> String {
    match stats(samples) {
        None => "not reached".into(),
        Some(s) => {
            let mut c = format!("{:.0} ms ({:.0}-{:.0})", s.median, s.min, s.max);
            if s.count < samples.len() {
                c += &format!(", {}/{} runs", s.count, samples.len());
            }
            c
        }
    }
}

fn cells(r: &Row) -> [String; 4] {
    [
        r.kernel.clone(),
        cell(&r.first_line),
        r.cpus_up.as_deref().map_or("n.a.".into(), cell),
        cell(&r.init),
    ]
}

const HEADER: [&str; 4] = ["kernel", "first line", "all CPUs up", "init reached"];

fn print_tables(rows: &[Row], qemu: &str, skipped: Option<&str>) {
    let body: Vec<[String; 4]> = rows.iter().map(cells).collect();
    let mut widths = HEADER.map(str::len);
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    println!("\nBoot time, median (min-max) of {RUNS} boots, ms from QEMU start:\n");
    let line = |cols: [&str; 4]| {
        let padded: Vec<String> = cols
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("  {}", padded.join("   ").trim_end());
    };
    line(HEADER);
    for r in &body {
        line([&r[0], &r[1], &r[2], &r[3]]);
    }

    println!("\nMarkdown (for docs/benchmarks.md):\n");
    println!("| {} |", HEADER.join(" | "));
    println!("|{}|", [" --- "; 4].join("|"));
    for r in &body {
        println!("| {} |", r.join(" | "));
    }
    println!(
        "\nMedian (min-max) of {RUNS} boots, wall-clock ms from QEMU start to the serial line; QEMU {qemu}, \
         TCG, `-cpu max -smp {SMP} -m {MEM}`, host CPU: {}. \
         Tine boots with `{TINE_APPEND}`: \"init reached\" is its `{PANIC_MARKER}` line. \
         Linux boots with `{LINUX_APPEND}` and a static /init that prints `{BOOTMARK}` and powers off; its first line appears only when its \
         serial console is registered (earlier messages are buffered until then).",
        host_cpu()
    );
    if let Some(why) = skipped {
        println!("(Linux row skipped: {why})");
    }
    println!();
}

// ---------------------------------------------------------------------------
// Process micro-benchmarks (user/bench/procbench.c).

const PROC_RUNS: usize = 3;
const PROC_SMP: u32 = 1;
/// Linux allows totalram_pages / 32 tasks (max_threads): 2G is enough for
/// the 10000 live processes of live_fork_10000.
const PROC_MEM: &str = "2G";
const PROC_TINE_APPEND: &str = "rdinit=/bin/procbench panic=-1";
const PROC_LINUX_APPEND: &str = "console=ttyS0 quiet rdinit=/bin/procbench panic=-1";
const PROC_TIMEOUT: Duration = Duration::from_secs(600);
const ICOUNT: [&str; 2] = ["-icount", "shift=0"];
/// The rows procbench prints, in its order (others it prints are appended).
const PROC_ROWS: [&str; 15] = [
    "getppid",
    "rt_sigaction",
    "fork_exit_wait",
    "vfork_exit_wait",
    "fork_exec_wait",
    "posix_spawn_wait",
    "pthread_create_join",
    "pipe_pingpong",
    "mmap_munmap_64k",
    "live_fork_100",
    "live_reap_100",
    "live_fork_1000",
    "live_reap_1000",
    "live_fork_10000",
    "live_reap_10000",
];

/// What one procbench boot printed.
#[derive(Debug, Default, PartialEq)]
pub struct ProcRun {
    /// (row, ns per op); None for `BENCH <row> n/a <reason>`.
    pub rows: Vec<(String, Option<f64>)>,
    /// The reasons of the n/a rows: (row, reason).
    pub na: Vec<(String, String)>,
    /// `BENCH done` was seen.
    pub done: bool,
}

/// Parses `BENCH ...` lines (anywhere in a line: kernel messages may precede
/// them on the same serial line).
pub fn parse_procbench<'a>(lines: impl IntoIterator<Item = &'a str>) -> ProcRun {
    let mut run = ProcRun::default();
    for line in lines {
        let Some(at) = line.find("BENCH ") else {
            continue;
        };
        let mut words = line[at + 6..].split_whitespace();
        let Some(name) = words.next() else {
            continue;
        };
        if name == "done" {
            run.done = true;
            continue;
        }
        let value = words.next().unwrap_or("");
        match value.parse::<f64>() {
            Ok(v) => run.rows.push((name.to_string(), Some(v))),
            Err(_) => {
                let why: Vec<&str> = words.collect();
                let why = if value == "n/a" {
                    why.join(" ")
                } else {
                    format!("unparsable {value:?}")
                };
                run.rows.push((name.to_string(), None));
                run.na.push((name.to_string(), why));
            }
        }
    }
    run
}

/// Per row, the samples of every run of one kernel.
#[derive(Debug, Default)]
struct Samples {
    rows: Vec<(String, Vec<Option<f64>>)>,
    /// Why a row was n/a (the last reason procbench printed for it).
    na: Vec<(String, String)>,
}

impl Samples {
    fn new() -> Samples {
        Samples {
            rows: PROC_ROWS.iter().map(|r| (r.to_string(), vec![])).collect(),
            na: Vec::new(),
        }
    }

    /// Adds one run; `run` None (a timeout or failed boot) is n/a for every row.
    fn add(&mut self, run: Option<&ProcRun>) {
        let n = self.rows.first().map_or(0, |r| r.1.len());
        if let Some(run) = run {
            for (name, _) in &run.rows {
                if !self.rows.iter().any(|(r, _)| r == name) {
                    self.rows.push((name.clone(), vec![None; n]));
                }
            }
            for (name, why) in &run.na {
                self.na.retain(|(r, _)| r != name);
                self.na.push((name.clone(), why.clone()));
            }
        }
        for (name, samples) in &mut self.rows {
            let v = run.and_then(|r| r.rows.iter().find(|(n, _)| n == name).and_then(|(_, v)| *v));
            samples.push(v);
        }
    }

    fn median(&self, row: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|(r, _)| r == row)
            .and_then(|(_, s)| stats(s))
            .map(|s| s.median)
    }

    /// The table cell of a row: its median, or "n/a (why)".
    fn cell(&self, row: &str) -> String {
        match (self.median(row), self.na.iter().find(|(r, _)| r == row)) {
            (Some(v), _) => format!("{v:.0}"),
            (None, Some((_, why))) if !why.is_empty() => format!("n/a ({why})"),
            (None, _) => "n/a".into(),
        }
    }
}

/// One boot of procbench; None if it timed out or QEMU could not run.
fn proc_boot(vm: &Vm, label: &str, log: &Path) -> Option<ProcRun> {
    match qemu::run_captured(vm, PROC_TIMEOUT, Some(log)) {
        Err(e) => {
            println!("  {label}: QEMU failed: {e}");
            None
        }
        Ok(c) => {
            let run = parse_procbench(c.lines.iter().map(|l| l.text.as_str()));
            let timed_out = matches!(c.ending, Ending::Timeout(_));
            let measured = run.rows.iter().filter(|r| r.1.is_some()).count();
            println!(
                "  {label}: {measured} rows{}{} ({}, {:.0} s)",
                if run.done { "" } else { ", no \"BENCH done\"" },
                if timed_out { ", all n/a" } else { "" },
                c.ending.describe(),
                c.lines.last().map_or(0.0, |l| l.at.as_secs_f64())
            );
            for (row, why) in &run.na {
                println!("    {row}: n/a ({why})");
            }
            (!timed_out).then_some(run)
        }
    }
}

fn proc_bench(tine: &Path, dir: &Path) -> Result {
    println!("\nProcess micro-benchmarks (user/bench/procbench.c)");
    // A private copy: target/tine/initramfs.cpio may be rebuilt meanwhile.
    let initramfs = dir.join("procbench-initramfs.cpio");
    match user::build_initramfs() {
        Ok(built) => {
            let built = built.path;
            std::fs::copy(&built, &initramfs).with_context(|| {
                format!("copying {} to {}", built.display(), initramfs.display())
            })?;
        }
        Err(e) => {
            println!("Process benchmarks skipped: {e}");
            return Ok(());
        }
    }
    let (linux, linux_name) = match oracle::find_linux(Path::new("/boot")) {
        Err(why) => {
            println!("Linux column skipped: {why}");
            (None, "Linux".to_string())
        }
        Ok(k) => (Some(k.path), format!("Linux {}", k.version)),
    };

    let vm = |kernel: &Path, append: &str, icount: bool| {
        let mut vm = Vm::new(kernel, PROC_SMP, PROC_MEM, append);
        vm.initrd = Some(initramfs.clone());
        if icount {
            vm.extra = ICOUNT.iter().map(|s| s.to_string()).collect();
        }
        vm
    };
    let date = today();
    let qemu = qemu_version();
    for icount in [false, true] {
        let runs = if icount { 1 } else { PROC_RUNS };
        let tag = if icount { "icount" } else { "real" };
        println!(
            "\nBooting Tine and {linux_name} alternately, {runs} time(s) each (-smp {PROC_SMP} -m {PROC_MEM}{})",
            if icount { " -icount shift=0" } else { "" }
        );
        let (mut t, mut l) = (Samples::new(), Samples::new());
        for i in 1..=runs {
            let log = dir.join(format!("proc-{tag}-tine-{i}.log"));
            t.add(
                proc_boot(
                    &vm(tine, PROC_TINE_APPEND, icount),
                    &format!("Tine run {i}"),
                    &log,
                )
                .as_ref(),
            );
            if let Some(linux) = &linux {
                let log = dir.join(format!("proc-{tag}-linux-{i}.log"));
                l.add(
                    proc_boot(
                        &vm(linux, PROC_LINUX_APPEND, icount),
                        &format!("Linux run {i}"),
                        &log,
                    )
                    .as_ref(),
                );
            }
        }
        let title = if icount {
            format!("Process operations under -icount shift=0 (guest ns = instructions), {runs} run each, ns per operation:")
        } else {
            format!("Process operations, median of {runs} runs, ns per operation:")
        };
        print_proc_table(&title, &t, linux.as_ref().map(|_| &l), &linux_name);
        println!(
            "{date}. QEMU {qemu}, TCG, `-cpu max -smp {PROC_SMP} -m {PROC_MEM}{}`, host CPU: {}. \
             Tine boots with `{PROC_TINE_APPEND}`, Linux with `{PROC_LINUX_APPEND}`, the same initramfs.\n",
            if icount { " -icount shift=0" } else { "" },
            host_cpu()
        );
    }
    println!(
        "(serial logs of every boot are in {})",
        build::display_path(dir)
    );
    Ok(())
}

fn today() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or("?".into(), |s| s.trim().to_string())
}

/// "3.20x", or "n/a" when either side is missing.
pub fn ratio(tine: Option<f64>, linux: Option<f64>) -> String {
    match (tine, linux) {
        (Some(t), Some(l)) if l > 0.0 => format!("{:.2}x", t / l),
        _ => "n/a".into(),
    }
}

fn print_proc_table(title: &str, tine: &Samples, linux: Option<&Samples>, linux_name: &str) {
    let header = ["row", "Tine ns/op", "Linux ns/op", "Tine/Linux"];
    let mut names: Vec<&str> = tine.rows.iter().map(|(r, _)| r.as_str()).collect();
    for (r, _) in linux.map_or(&[][..], |l| &l.rows[..]) {
        if !names.contains(&r.as_str()) {
            names.push(r);
        }
    }
    let body: Vec<[String; 4]> = names
        .iter()
        .map(|&r| {
            let (t, l) = (tine.median(r), linux.and_then(|l| l.median(r)));
            let linux_cell = linux.map_or("n/a".into(), |l| l.cell(r));
            [r.to_string(), tine.cell(r), linux_cell, ratio(t, l)]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    println!("\n{title} (Linux = {linux_name})\n");
    let line = |cols: [&str; 4]| {
        let padded: Vec<String> = cols
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("  {}", padded.join("   "));
    };
    line(header);
    for r in &body {
        line([&r[0], &r[1], &r[2], &r[3]]);
    }
    println!("\nMarkdown (for docs/benchmarks.md):\n");
    println!("| {} |", header.join(" | "));
    println!("| --- | ---: | ---: | ---: |");
    for r in &body {
        println!("| {} |", r.join(" | "));
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procbench_lines() {
        let run = parse_procbench([
            "procbench: start",
            "BENCH getppid 1447 100000",
            "[    1.0] some kernel line BENCH fork_exit_wait 2896 2000",
            "BENCH live_fork_1000 n/a fork_17_of_1000:EAGAIN",
            "BENCH new_row 12 5",
            "BENCH done",
        ]);
        assert!(run.done);
        assert_eq!(
            run.rows,
            vec![
                ("getppid".to_string(), Some(1447.0)),
                ("fork_exit_wait".to_string(), Some(2896.0)),
                ("live_fork_1000".to_string(), None),
                ("new_row".to_string(), Some(12.0)),
            ]
        );
        assert_eq!(
            run.na,
            vec![(
                "live_fork_1000".to_string(),
                "fork_17_of_1000:EAGAIN".to_string()
            )]
        );
        assert!(!parse_procbench(["BENCH getppid 1 1"]).done);
    }

    #[test]
    fn proc_samples_and_ratio() {
        let mut s = Samples::new();
        s.add(Some(&parse_procbench([
            "BENCH getppid 10 1",
            "BENCH extra 5 1",
        ])));
        s.add(None);
        s.add(Some(&parse_procbench([
            "BENCH getppid 30 1",
            "BENCH extra 7 1",
        ])));
        assert_eq!(s.median("getppid"), Some(20.0));
        assert_eq!(s.median("extra"), Some(6.0));
        assert_eq!(s.median("rt_sigaction"), None);
        assert_eq!(s.cell("getppid"), "20");
        assert_eq!(s.cell("rt_sigaction"), "n/a");
        s.add(Some(&parse_procbench([
            "BENCH getppid 20 1",
            "BENCH pipe_pingpong n/a pipe:ENOSYS",
        ])));
        assert_eq!(s.cell("pipe_pingpong"), "n/a (pipe:ENOSYS)");
        assert_eq!(s.cell("getppid"), "20");
        assert!(s.rows.iter().all(|(_, v)| v.len() == 4));
        assert_eq!(ratio(Some(30.0), Some(10.0)), "3.00x");
        assert_eq!(ratio(None, Some(10.0)), "n/a");
        assert_eq!(ratio(Some(1.0), None), "n/a");
    }

    #[test]
    fn median_min_max() {
        let s = stats(&[Some(5.0), Some(1.0), Some(3.0)]).unwrap();
        assert_eq!(
            s,
            Stats {
                median: 3.0,
                min: 1.0,
                max: 5.0,
                count: 3
            }
        );
        let s = stats(&[Some(4.0), None, Some(2.0)]).unwrap();
        assert_eq!((s.median, s.count), (3.0, 2));
        assert_eq!(stats(&[None, None]), None);
    }

    #[test]
    fn cells() {
        assert_eq!(cell(&[Some(10.2), Some(12.0), Some(11.0)]), "11 ms (10-12)");
        assert_eq!(cell(&[Some(10.0), None]), "10 ms (10-10), 1/2 runs");
        assert_eq!(cell(&[None]), "not reached");
    }
}
