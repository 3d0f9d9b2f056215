//! Secondary CPU bring-up (mirrors arch/x86/kernel/smpboot.c and
//! kernel/smp.c `smp_init`).
//!
//! For each enabled CPU in the MADT (up to `maxcpus=`): allocate its idle
//! stack and IST stacks, leave the stack, CPU number and CR3 in boot.S's
//! variables, send INIT-SIPI-SIPI with the trampoline at 0x8000 and wait up
//! to a second for it to mark itself online. A CPU that does not answer is
//! logged and skipped; boot goes on without it.

use super::desc::{cpu_init, IST_STACK_SIZE, N_IST};
use super::percpu::{cpu_online, num_online_cpus, set_cpu_online, set_nr_cpu_ids, setup_per_cpu, this_cpu, NR_CPUS};
use crate::mm::{page_alloc, phys_to_virt};
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering::*};

const TRAMPOLINE_PHYS: u64 = 0x8000;
/// THREAD_SIZE on x86_64: 16 KiB kernel stacks.
pub const THREAD_SIZE_ORDER: usize = 2;

extern "C" {
    static trampoline_start: u8;
    static trampoline_end: u8;
    static ap_boot_stack: u8;
    static ap_boot_cpu: u8;
    static ap_boot_cr3: u8;
}

/// IST stack tops handed to each secondary CPU.
static AP_IST_TOPS: [[AtomicU64; N_IST]; NR_CPUS] = [const { [const { AtomicU64::new(0) }; N_IST] }; NR_CPUS];

/// Write a boot.S variable. Those live in the low, identity-linked .boot
/// section, so their link address is their physical address.
fn write_boot_var<T: Copy>(sym: *const u8, v: T) {
    // SAFETY: `sym` is one of boot.S's ap_boot_* words (sized for T), reached
    // through the direct map; no CPU reads it until the next SIPI.
    unsafe { (phys_to_virt(sym as u64) as *mut T).write_volatile(v) }
}

fn copy_trampoline() {
    let start = core::ptr::addr_of!(trampoline_start) as u64;
    let len = core::ptr::addr_of!(trampoline_end) as u64 - start;
    // SAFETY: the trampoline is code in the kernel image (read through the
    // direct map at its physical address), and 0x8000 is low memory that
    // memblock reserved for exactly this.
    unsafe {
        core::ptr::copy_nonoverlapping(
            phys_to_virt(start) as *const u8,
            phys_to_virt(TRAMPOLINE_PHYS) as *mut u8,
            len as usize,
        );
    }
}

fn alloc_stack_top(order: usize) -> Option<u64> {
    page_alloc::alloc_pages(order).map(|p| phys_to_virt(p) + (crate::mm::PAGE_SIZE << order))
}

/// Idle stack base of each secondary CPU (for its idle task).
static AP_STACK_BASE: [AtomicU64; NR_CPUS] = [const { AtomicU64::new(0) }; NR_CPUS];

fn do_boot_cpu(apic_id: u32, cpu: usize) -> Result<(), &'static str> {
    let stack = alloc_stack_top(THREAD_SIZE_ORDER).ok_or("no memory for the idle stack")?;
    AP_STACK_BASE[cpu].store(stack - (crate::mm::PAGE_SIZE << THREAD_SIZE_ORDER), Relaxed);
    for i in 0..N_IST {
        let order = page_alloc::get_order(IST_STACK_SIZE);
        let top = alloc_stack_top(order).ok_or("no memory for IST stacks")?;
        AP_IST_TOPS[cpu][i].store(top, Relaxed);
    }
    super::percpu::per_cpu(cpu).apic_id.store(apic_id, Relaxed);
    write_boot_var(core::ptr::addr_of!(ap_boot_stack), stack);
    write_boot_var(core::ptr::addr_of!(ap_boot_cpu), cpu as u32);
    write_boot_var(core::ptr::addr_of!(ap_boot_cr3), crate::mm::pgtable::init_mm_pgd());
    core::sync::atomic::fence(SeqCst);
    let injected = crate::kernel::params::boot_params().fail_cpu_boot == Some(cpu as u32);
    if !injected {
        super::apic::wakeup_secondary_cpu_via_init(apic_id, TRAMPOLINE_PHYS);
    }
    for _ in 0..1000 {
        if cpu_online(cpu) {
            return Ok(());
        }
        crate::kernel::time::mdelay(1);
    }
    // Park it with INIT, so a late riser cannot run on the boot variables
    // the next CPU is about to get (Linux also resets a CPU that timed out).
    // Its stacks stay allocated: it might still be using them.
    super::apic::send_init(apic_id);
    Err(if injected { "start-up withheld by tine.fail_cpu_boot" } else { "CPU did not come online within 1s" })
}

/// Bring up the secondary CPUs (smp_init). `max_cpus` counts the boot CPU.
pub fn smp_init(max_cpus: usize) {
    let topo = super::acpi::acpi_parse_madt();
    let Some(topo) = topo else {
        pr_info!("smp: Brought up 1 node, 1 CPU");
        return;
    };
    set_nr_cpu_ids(topo.count.max(1));
    if topo.ignored > 0 {
        pr_warn!("smpboot: {} CPUs beyond NR_CPUS={} ignored", topo.ignored, NR_CPUS);
    }
    pr_info!("smp: Bringing up secondary CPUs ...");
    let bsp_apic = this_cpu().apic_id.load(Relaxed);
    let mut line = crate::kernel::panic::BufWriter::<512>::new();
    let _ = line.write_str(".... node  #0, CPUs:    ");
    let mut next_cpu = 1;
    let mut started_any = false;
    for &apic_id in &topo.apic_ids[..topo.count] {
        if apic_id == bsp_apic {
            continue;
        }
        if next_cpu >= max_cpus {
            break;
        }
        if !started_any {
            pr_info!("x86: Booting SMP configuration:");
            copy_trampoline();
            started_any = true;
        }
        let cpu = next_cpu;
        next_cpu += 1;
        match do_boot_cpu(apic_id, cpu) {
            Ok(()) => {
                let _ = write!(line, "  #{}", cpu);
            }
            Err(e) => pr_err!("smpboot: do_boot_cpu failed(-1) to wakeup CPU#{} (apic id {}): {}", cpu, apic_id, e),
        }
    }
    if started_any {
        pr_info!("{}", line.as_str());
    }
    let n = num_online_cpus();
    pr_info!("smp: Brought up 1 node, {} CPU{}", n, if n == 1 { "" } else { "s" });
    pr_info!("smpboot: Total of {} processors activated", n);
}

/// First Rust code of a secondary CPU (start_secondary), reached from
/// boot.S on the new CPU's idle stack with init_mm's CR3 loaded.
#[no_mangle]
extern "C" fn start_secondary(cpu: u32) -> ! {
    let cpu = cpu as usize;
    setup_per_cpu(cpu, super::percpu::per_cpu(cpu).apic_id.load(Relaxed));
    let tops = core::array::from_fn(|i| AP_IST_TOPS[cpu][i].load(Relaxed));
    cpu_init(cpu, tops);
    super::apic::setup_local_apic();
    crate::sync::preempt_disable(); // the idle task runs with preemption off
    crate::kernel::sched::init_idle(cpu, AP_STACK_BASE[cpu].load(Relaxed));
    super::apic::setup_apic_timer();
    set_cpu_online(cpu, true);
    crate::kernel::sched::idle::cpu_startup_entry()
}
