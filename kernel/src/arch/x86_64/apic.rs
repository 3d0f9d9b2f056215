//! The local APIC in xAPIC (MMIO) mode (mirrors arch/x86/kernel/apic/apic.c
//! and ipi.c). QEMU 7.2's TCG has no x2APIC, so registers are 32-bit MMIO
//! words at 0xFEE00000, reached through the direct map.
//!
//! Used for: the per-CPU periodic timer (calibrated against the TSC), IPIs
//! (reschedule, call-function, NMI for stopping CPUs), and INIT/SIPI to start
//! secondary CPUs. The 8259 PIC is masked; there is no IOAPIC routing yet.

use super::irq::{ERROR_APIC_VECTOR, LOCAL_TIMER_VECTOR, SPURIOUS_APIC_VECTOR};
use super::percpu::{cpu_online, num_online_cpus, per_cpu, set_cpu_online, smp_processor_id};
use super::processor::{halt, local_irq_disable, local_irq_restore, local_irq_save, outb, rdmsr};
use core::sync::atomic::{AtomicU32, Ordering::*};

const APIC_DEFAULT_PHYS_BASE: u64 = 0xfee0_0000;
const MSR_IA32_APICBASE: u32 = 0x1b;
const APIC_BASE_ENABLE: u64 = 1 << 11;

const APIC_ID: u32 = 0x20;
const APIC_TASKPRI: u32 = 0x80;
const APIC_EOI: u32 = 0xb0;
const APIC_SPIV: u32 = 0xf0;
const APIC_ESR: u32 = 0x280;
const APIC_ICR: u32 = 0x300;
const APIC_ICR2: u32 = 0x310;
const APIC_LVTT: u32 = 0x320;
const APIC_LVT0: u32 = 0x350;
const APIC_LVT1: u32 = 0x360;
const APIC_LVTERR: u32 = 0x370;
const APIC_TMICT: u32 = 0x380;
const APIC_TMCCT: u32 = 0x390;
const APIC_TDCR: u32 = 0x3e0;

const APIC_SPIV_APIC_ENABLED: u32 = 1 << 8;
const APIC_LVT_MASKED: u32 = 1 << 16;
const APIC_LVT_TIMER_PERIODIC: u32 = 1 << 17;
const APIC_DM_NMI: u32 = 0x400;
const APIC_DM_INIT: u32 = 0x500;
const APIC_DM_STARTUP: u32 = 0x600;
const APIC_INT_LEVELTRIG: u32 = 0x8000;
const APIC_INT_ASSERT: u32 = 0x4000;
const APIC_ICR_BUSY: u32 = 0x1000;
const APIC_DEST_ALLBUT: u32 = 0xc0000;
const APIC_TDR_DIV_16: u32 = 0x3;

/// LAPIC timer counts per second at divide-by-16, measured on the boot CPU.
static LAPIC_TIMER_FREQ: AtomicU32 = AtomicU32::new(0);

fn apic_base() -> *mut u32 {
    crate::mm::phys_to_virt(APIC_DEFAULT_PHYS_BASE) as *mut u32
}

fn apic_read(reg: u32) -> u32 {
    // SAFETY: the LAPIC register page is mapped by the direct map (which
    // covers the low 4 GiB) and `reg` is an architectural register offset.
    unsafe { apic_base().byte_add(reg as usize).read_volatile() }
}

fn apic_write(reg: u32, v: u32) {
    // SAFETY: as apic_read.
    unsafe { apic_base().byte_add(reg as usize).write_volatile(v) }
}

pub fn read_apic_id() -> u32 {
    apic_read(APIC_ID) >> 24
}

/// Mask the legacy 8259 PICs: every interrupt comes through the LAPIC.
pub fn disable_8259() {
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

/// `setup_local_APIC` for the calling CPU.
pub fn setup_local_apic() {
    let base = rdmsr(MSR_IA32_APICBASE);
    // SAFETY: setting the global-enable bit of the APIC base MSR, keeping the default base.
    unsafe { super::processor::wrmsr(MSR_IA32_APICBASE, base | APIC_BASE_ENABLE) };
    apic_write(APIC_TASKPRI, 0);
    apic_write(APIC_SPIV, APIC_SPIV_APIC_ENABLED | SPURIOUS_APIC_VECTOR as u32);
    apic_write(APIC_LVT0, APIC_LVT_MASKED);
    // LINT1 is wired to NMI on PCs; only the boot CPU takes it (Linux does the same).
    apic_write(APIC_LVT1, if smp_processor_id() == 0 { APIC_DM_NMI } else { APIC_DM_NMI | APIC_LVT_MASKED });
    apic_write(APIC_LVTERR, ERROR_APIC_VECTOR as u32);
    apic_write(APIC_ESR, 0);
    apic_write(APIC_LVTT, APIC_LVT_MASKED | LOCAL_TIMER_VECTOR as u32);
    ack_APIC_irq();
}

#[allow(non_snake_case)]
pub fn ack_APIC_irq() {
    apic_write(APIC_EOI, 0);
}

pub fn smp_error_interrupt() {
    apic_write(APIC_ESR, 0);
    let v = apic_read(APIC_ESR);
    pr_err!("APIC error on CPU{}: {:02x}", smp_processor_id(), v);
}

/// Measure the LAPIC timer against the TSC over 10 ms (Linux's
/// calibrate_APIC_clock uses the same idea with a different reference).
pub fn calibrate_apic_clock() -> u32 {
    apic_write(APIC_TDCR, APIC_TDR_DIV_16);
    apic_write(APIC_LVTT, APIC_LVT_MASKED | LOCAL_TIMER_VECTOR as u32);
    apic_write(APIC_TMICT, u32::MAX);
    crate::kernel::time::mdelay(10);
    let elapsed = u32::MAX - apic_read(APIC_TMCCT);
    apic_write(APIC_TMICT, 0);
    let freq = elapsed.saturating_mul(100);
    LAPIC_TIMER_FREQ.store(freq, Relaxed);
    pr_info!("APIC timer: {} Hz bus clock / 16 ({} kHz), HZ={}", freq, freq / 1000, crate::kernel::time::hz());
    freq
}

/// Start this CPU's periodic tick at HZ.
pub fn setup_apic_timer() {
    let freq = LAPIC_TIMER_FREQ.load(Relaxed);
    let count = (freq / crate::kernel::time::hz()).max(1);
    apic_write(APIC_TDCR, APIC_TDR_DIV_16);
    apic_write(APIC_LVTT, APIC_LVT_TIMER_PERIODIC | LOCAL_TIMER_VECTOR as u32);
    apic_write(APIC_TMICT, count);
}

fn wait_icr_idle() {
    for _ in 0..1_000_000 {
        if apic_read(APIC_ICR) & APIC_ICR_BUSY == 0 {
            return;
        }
        core::hint::spin_loop();
    }
}

fn send_icr(dest_apic: u32, low: u32) {
    // The ICR is one register pair per CPU: keep an interrupt on this CPU
    // from sending its own IPI between the two writes.
    let flags = local_irq_save();
    wait_icr_idle();
    apic_write(APIC_ICR2, dest_apic << 24);
    apic_write(APIC_ICR, low);
    wait_icr_idle();
    local_irq_restore(flags);
}

/// Send a fixed-vector IPI to one CPU.
#[allow(non_snake_case)]
pub fn send_IPI(cpu: usize, vector: u64) {
    send_icr(per_cpu(cpu).apic_id.load(Relaxed), vector as u32);
}

#[allow(non_snake_case)]
pub fn send_IPI_allbutself(vector: u64) {
    let flags = local_irq_save();
    wait_icr_idle();
    apic_write(APIC_ICR, APIC_DEST_ALLBUT | vector as u32);
    wait_icr_idle();
    local_irq_restore(flags);
}

/// INIT, INIT deassert, then two STARTUP IPIs (Intel's universal start-up
/// algorithm; Linux's wakeup_secondary_cpu_via_init).
pub fn wakeup_secondary_cpu_via_init(apic_id: u32, start_eip: u64) {
    send_icr(apic_id, APIC_INT_LEVELTRIG | APIC_INT_ASSERT | APIC_DM_INIT);
    send_icr(apic_id, APIC_INT_LEVELTRIG | APIC_DM_INIT);
    crate::kernel::time::mdelay(10);
    for _ in 0..2 {
        send_icr(apic_id, APIC_DM_STARTUP | (start_eip >> 12) as u32);
        crate::kernel::time::udelay(300);
    }
}

/// Put a CPU back into wait-for-SIPI (INIT assert + deassert).
pub fn send_init(apic_id: u32) {
    send_icr(apic_id, APIC_INT_LEVELTRIG | APIC_INT_ASSERT | APIC_DM_INIT);
    send_icr(apic_id, APIC_INT_LEVELTRIG | APIC_DM_INIT);
}

/// Park every other CPU (Linux's native_stop_other_cpus via NMI), so a
/// panicking CPU owns the machine. Waits up to a second.
pub fn smp_send_stop() {
    if num_online_cpus() <= 1 {
        return;
    }
    super::traps::STOPPING_CPUS.store(true, SeqCst);
    let me = smp_processor_id();
    let flags = local_irq_save();
    wait_icr_idle();
    apic_write(APIC_ICR, APIC_DEST_ALLBUT | APIC_DM_NMI);
    wait_icr_idle();
    local_irq_restore(flags);
    for _ in 0..1000 {
        if super::percpu::for_each_online_cpu().all(|c| c == me) {
            return;
        }
        crate::kernel::time::mdelay(1);
    }
    pr_emerg!("smp: failed to stop secondary CPUs {:x}", super::percpu::cpu_online_mask() & !(1 << me));
}

/// The NMI handler's end when a panic stops us.
pub fn stop_this_cpu() -> ! {
    local_irq_disable();
    let cpu = smp_processor_id();
    if cpu_online(cpu) {
        set_cpu_online(cpu, false);
    }
    apic_write(APIC_LVTT, APIC_LVT_MASKED);
    loop {
        halt();
    }
}
