//! `cargo xtask bench`: boot-time benchmark of Tine, and of the host's Linux
//! kernel for comparison. Times are wall-clock from QEMU's spawn to the
//! arrival of a serial line; nothing is asserted.

use crate::cpio::Cpio;
use crate::qemu::{self, Captured, Vm, PANIC_MARKER};
use crate::{build, tools, user, Context, Result};
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
    let vmlinuz = newest_vmlinuz(Path::new("/boot")).ok_or(
        "no /boot/vmlinuz-* found (install a kernel with: sudo apt-get install -y linux-image-amd64)".to_string(),
    )?;
    if let Err(e) = std::fs::File::open(&vmlinuz) {
        return Err(format!(
            "{} is not readable ({e}); run as root or make it readable",
            vmlinuz.display()
        ));
    }
    let version = vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or("?")
        .to_string();
    if tools::find(tools::MUSL_GCC.bin).is_none() {
        return Err(format!(
            "musl-gcc not found, needed to build the initramfs's /init (install with: {})",
            tools::install_hint(&[tools::MUSL_GCC.package])
        ));
    }
    let initramfs = build_initramfs(dir)?;
    Ok((vmlinuz, initramfs, version))
}

fn newest_vmlinuz(boot: &Path) -> Option<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(boot)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn newest_vmlinuz_in_empty_dir() {
        let dir = std::env::temp_dir().join(format!("xtask-boot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(newest_vmlinuz(&dir), None);
        std::fs::write(dir.join("vmlinuz-1.0"), b"").unwrap();
        std::fs::write(dir.join("config-1.0"), b"").unwrap();
        assert_eq!(newest_vmlinuz(&dir), Some(dir.join("vmlinuz-1.0")));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(newest_vmlinuz(&dir), None);
    }
}
