//! TSC calibration (mirrors arch/x86/kernel/tsc.c `pit_calibrate_tsc`).
//! PIT channel 2 counts down 10 ms with its gate raised while we read the
//! TSC; the shortest of a few tries wins (the least disturbed one).
//! Left out: CPUID leaf 0x15 frequency, HPET fallback, TSC sync checks
//! (QEMU's TCG TSC is one host-based clock shared by all vCPUs).

use super::processor::{inb, outb, rdtsc};

const PIT_TICK_RATE: u64 = 1_193_182;

fn pit_calibrate_tsc(ms: u64) -> Option<u64> {
    let latch = PIT_TICK_RATE * ms / 1000;
    // Gate high, speaker off.
    outb(0x61, (inb(0x61) & !0x02) | 0x01);
    // Channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary.
    outb(0x43, 0xb0);
    outb(0x42, (latch & 0xff) as u8);
    outb(0x42, (latch >> 8) as u8);
    let t0 = rdtsc();
    let mut loops = 0u64;
    while inb(0x61) & 0x20 == 0 {
        loops += 1;
        if loops > 100_000_000 {
            return None; // no PIT
        }
    }
    let t1 = rdtsc();
    Some((t1 - t0) / ms)
}

/// TSC frequency in kHz.
pub fn tsc_calibrate() -> u64 {
    let mut best = u64::MAX;
    for _ in 0..3 {
        if let Some(khz) = pit_calibrate_tsc(10) {
            best = best.min(khz);
        }
    }
    if best == u64::MAX || best == 0 {
        // Without a PIT, assume 1 GHz rather than refusing to boot.
        pr_warn!("tsc: Fast TSC calibration failed, assuming 1000.000 MHz");
        return 1_000_000;
    }
    best
}
