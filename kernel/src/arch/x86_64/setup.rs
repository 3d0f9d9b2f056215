//! The first Rust code and architecture setup (mirrors arch/x86/kernel/
//! head64.c `x86_64_start_kernel` and setup.c `setup_arch`).

use super::desc::{cpu_init, idt_setup, IST_STACK_SIZE, N_IST};
use super::multiboot::{self, BootInfo};
use super::percpu::setup_per_cpu;
use super::processor::rdtsc;
use crate::drivers::tty::serial::serial8250;
use crate::sync::Once;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

static BOOT_INFO: Once<BootInfo> = Once::new();
/// `console=` named something Tine cannot drive; reported once printk works.
static BAD_CONSOLE: AtomicBool = AtomicBool::new(false);

#[repr(C, align(16))]
struct IstStack(UnsafeCell<[u8; IST_STACK_SIZE]>);
// SAFETY: only the CPU hardware writes these stacks (as IST stacks of the boot CPU).
unsafe impl Sync for IstStack {}
static BSP_IST_STACKS: [IstStack; N_IST] = [const { IstStack(UnsafeCell::new([0; IST_STACK_SIZE])) }; N_IST];

/// Called by boot.S on the boot CPU, in 64-bit mode on the boot stack.
#[no_mangle]
extern "C" fn x86_64_start_kernel(magic: u32, info: u32) -> ! {
    let boot_tsc = rdtsc();
    setup_per_cpu(0, 0);
    idt_setup();
    let tops = core::array::from_fn(|i| BSP_IST_STACKS[i].0.get() as u64 + IST_STACK_SIZE as u64);
    cpu_init(0, tops);

    let mut bi = BootInfo::empty();
    let parsed = multiboot::parse(magic, info as u64, &mut bi);
    let bi = BOOT_INFO.call_once(move || bi);
    let (console, loglevel, quiet, ignore) = klib::cmdline::early_console_loglevel(bi.cmdline());
    setup_console(console);
    crate::kernel::printk::setup_loglevel(loglevel, quiet, false, ignore);
    if let Err(e) = parsed {
        crate::kernel::panic::panic(format_args!("{}", e));
    }
    crate::init::main::start_kernel(bi, boot_tsc)
}

/// `console=ttyS<n>[,<baud>[<parity><bits>]]`; anything else keeps ttyS0.
fn setup_console(spec: Option<&str>) {
    let mut index = 0;
    let mut baud = 115200;
    if let Some(spec) = spec {
        let (name, opts) = spec.split_once(',').unwrap_or((spec, ""));
        match name.strip_prefix("ttyS").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if n < serial8250::PORTS.len() => index = n,
            _ => BAD_CONSOLE.store(true, Relaxed),
        }
        let digits: &str = &opts[..opts.find(|c: char| !c.is_ascii_digit()).unwrap_or(opts.len())];
        if let Ok(b) = digits.parse::<u32>() {
            baud = b;
        }
    }
    serial8250::set_console(index, baud);
}

pub fn report_console_problems(spec: Option<&str>) {
    if BAD_CONSOLE.load(Relaxed) {
        pr_warn!("console [{}] not supported (serial ttyS0-ttyS3 only), using ttyS0", spec.unwrap_or(""));
    }
}

/// `setup_arch`: time source, then memory.
pub fn setup_arch(bi: &BootInfo, boot_tsc: u64) {
    let mut buf = [0u8; 48];
    pr_info!("CPU: {}", super::processor::cpu_model_name(&mut buf));
    let khz = super::tsc::tsc_calibrate();
    crate::kernel::time::tsc_clocksource_init(khz, boot_tsc);
    pr_info!("tsc: Detected {}.{:03} MHz processor", khz / 1000, khz % 1000);
    crate::mm::mm_init(bi);
}

extern "C" {
    static boot_stack: u8;
}

/// The initrd the boot loader loaded (the first multiboot module), if any.
/// Its pages stay reserved in memblock, so the slice lives forever.
pub fn initrd() -> Option<&'static [u8]> {
    let bi = BOOT_INFO.get()?;
    let m = bi.modules[..bi.nr_modules].first()?;
    if m.end <= m.start {
        return None;
    }
    Some(crate::mm::phys_slice(m.start, (m.end - m.start) as usize))
}

/// Lowest address of the boot CPU's stack (boot.S), which becomes swapper/0's.
pub fn boot_stack_base() -> u64 {
    core::ptr::addr_of!(boot_stack) as u64
}

/// `init_bsp_APIC` + `setup_local_APIC` + `setup_boot_APIC_clock` on the boot CPU.
pub fn apic_bsp_setup() {
    super::apic::disable_8259();
    super::apic::setup_local_apic();
    let id = super::apic::read_apic_id();
    super::percpu::this_cpu().apic_id.store(id, Relaxed);
    super::percpu::set_cpu_online(0, true);
    super::apic::calibrate_apic_clock();
    crate::kernel::time::tick_init();
    super::apic::setup_apic_timer();
}
