//! QEMU's human monitor, for a guest that hangs: every vCPU's registers,
//! with kernel addresses named from the kernel's symbols and the frame
//! pointer chain walked through the monitor's memory reads. The test
//! harness (qemu.rs) asks for this just before it kills a VM that ran into
//! its timeout and appends it to the test log.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fresh path for a monitor socket (removed after the run).
pub fn socket_path() -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("tine-monitor-{}-{n}.sock", std::process::id()))
}

/// The registers of every vCPU of a hung guest, from QEMU's monitor, with
/// each kernel RIP named from the kernel's symbols and the frame-pointer
/// chain walked through the monitor's memory reads: where each CPU is
/// stuck, and how it got there.
pub fn dump_vcpus(socket: &Path, kernel: &Path) -> String {
    use std::os::unix::net::UnixStream;
    let Ok(mut s) = UnixStream::connect(socket) else {
        return format!("(no monitor at {})\n", socket.display());
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    hmp(&mut s, None); // the banner and first prompt
    let text = hmp(&mut s, Some("info registers -a"));
    let symbols = kernel_symbols(kernel);
    let name = |a: u64| symbolize(&symbols, a);
    let mut dump = String::new();
    let mut cpu = 0;
    for line in text.lines() {
        let keep = ["CPU#", "RAX=", "RSI=", "R8 =", "R12=", "RIP=", "CR0="].iter().any(|p| line.starts_with(p));
        if !keep {
            continue;
        }
        dump.push_str(line);
        dump.push('\n');
        if let Some(n) = line.strip_prefix("CPU#").and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok()) {
            cpu = n;
        }
        let reg = |name: &str| line.split_whitespace().find_map(|w| w.strip_prefix(name)).and_then(|v| u64::from_str_radix(v, 16).ok());
        if let Some(rip) = reg("RIP=") {
            if let Some(f) = name(rip) {
                dump.push_str(&format!("    RIP is {f}\n"));
            }
        }
        // The RBP line came earlier: walk from it once RIP is known.
        if line.starts_with("RIP=") {
            if let Some(rbp) = text_reg(&text, cpu, "RBP=") {
                hmp(&mut s, Some(&format!("cpu {cpu}")));
                let mut rbp = rbp;
                for _ in 0..16 {
                    if rbp < 0xffff_8000_0000_0000 || rbp % 8 != 0 {
                        break;
                    }
                    let out = hmp(&mut s, Some(&format!("x /2gx {rbp:#x}")));
                    let words: Vec<u64> = out
                        .split_whitespace()
                        .filter_map(|w| w.strip_prefix("0x").and_then(|v| u64::from_str_radix(v, 16).ok()))
                        .collect();
                    let [next, ret] = words[..] else { break };
                    match name(ret) {
                        Some(f) => dump.push_str(&format!("    called from {f}\n")),
                        None => break,
                    }
                    if next <= rbp {
                        break;
                    }
                    rbp = next;
                }
            }
        }
    }
    dump
}

/// Register `name` (e.g. "RBP=") of CPU `cpu` in `info registers -a` output.
fn text_reg(text: &str, cpu: u32, name: &str) -> Option<u64> {
    let section = text.split("CPU#").find(|sec| sec.split_whitespace().next() == Some(&cpu.to_string()))?;
    section.split_whitespace().find_map(|w| w.strip_prefix(name)).and_then(|v| u64::from_str_radix(v, 16).ok())
}

/// Send one monitor command (or none) and read its answer up to the next
/// `(qemu) ` prompt, or until the monitor stays quiet.
fn hmp(s: &mut std::os::unix::net::UnixStream, cmd: Option<&str>) -> String {
    if let Some(cmd) = cmd {
        let _ = s.write_all(format!("{cmd}\n").as_bytes());
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.ends_with(b"(qemu) ") {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                if !out.is_empty() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    // The monitor echoes the command with terminal escapes; keep the answer.
    let text = String::from_utf8_lossy(&out).replace('\r', "");
    text.lines().filter(|l| !l.contains('\x1b') && !l.starts_with("(qemu)") && !l.starts_with("QEMU")).collect::<Vec<_>>().join("\n")
}

fn kernel_symbols(kernel: &Path) -> Vec<klib::kallsyms::Symbol> {
    let Ok(data) = std::fs::read(kernel) else { return Vec::new() };
    let Ok(elf) = object::File::parse(&*data) else { return Vec::new() };
    crate::kallsyms::collect(&elf).unwrap_or_default()
}

/// `function+0xoff` for a kernel text address (symbols sorted by address).
fn symbolize(symbols: &[klib::kallsyms::Symbol], addr: u64) -> Option<String> {
    let i = symbols.partition_point(|s| s.addr <= addr).checked_sub(1)?;
    let s = &symbols[i];
    (s.size == 0 || addr < s.addr + s.size).then(|| format!("{}+{:#x}", s.name, addr - s.addr))
}


#[cfg(test)]
mod tests {
    use super::*;

    const REGS: &str = "CPU#0\nRAX=0000000000000001 RBX=0000000000000000\nRSI=0 RDI=0 RBP=ffff888007e57e30 RSP=ffff888007e57ce0\nRIP=ffffffff801943a1 RFL=00000286\nCPU#1 (halted)\nRSI=0 RDI=0 RBP=ffff888007e13ca0 RSP=ffff888007e13ca0\nRIP=ffffffff8010ee01 RFL=00000002\n";

    #[test]
    fn registers_of_each_cpu() {
        assert_eq!(text_reg(REGS, 0, "RBP="), Some(0xffff_8880_07e5_7e30));
        assert_eq!(text_reg(REGS, 1, "RBP="), Some(0xffff_8880_07e1_3ca0));
        assert_eq!(text_reg(REGS, 1, "RIP="), Some(0xffff_ffff_8010_ee01));
        assert_eq!(text_reg(REGS, 2, "RBP="), None);
        assert_eq!(text_reg(REGS, 0, "R15="), None);
    }

    #[test]
    fn addresses_are_named_inside_known_functions_only() {
        let sym = |addr, size, name: &str| klib::kallsyms::Symbol { addr, size, name: name.into() };
        let symbols = [sym(0x1000, 0x100, "panic"), sym(0x1100, 0, "kernel_init")];
        assert_eq!(symbolize(&symbols, 0x1000).as_deref(), Some("panic+0x0"));
        assert_eq!(symbolize(&symbols, 0x10ff).as_deref(), Some("panic+0xff"));
        assert_eq!(symbolize(&symbols, 0x1234).as_deref(), Some("kernel_init+0x134"));
        assert_eq!(symbolize(&symbols, 0xfff), None);
        let sized = [sym(0x1000, 0x10, "f")];
        assert_eq!(symbolize(&sized, 0x1010), None);
    }
}
