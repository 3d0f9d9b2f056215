//! GDT, TSS and IDT (mirrors arch/x86/kernel/cpu/common.c `cpu_init` and
//! arch/x86/kernel/idt.c).
//!
//! The GDT has Linux's x86_64 layout (arch/x86/include/asm/segment.h), so
//! oopses and debuggers show the same selectors as on Linux: __KERNEL32_CS
//! 0x08, __KERNEL_CS 0x10, __KERNEL_DS 0x18, __USER32_CS 0x23, __USER_DS
//! 0x2b, __USER_CS 0x33, the TSS at 0x40. SYSCALL/SYSRET depend on the
//! order (STAR holds 0x10 and 0x23; SYSRET adds 8 for SS and 16 for CS).
//! Each CPU has its own GDT and TSS (the TSS holds its IST stack pointers);
//! all share one IDT. All 256 gates point into `irq_entries_start`, 16 bytes
//! apart, and every gate uses an IST stack (see entry_64.S for why).

use super::percpu::NR_CPUS;
use ::x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use ::x86_64::instructions::tables::{lidt, load_tss};
use ::x86_64::structures::gdt::{Descriptor, DescriptorFlags, GlobalDescriptorTable};
use ::x86_64::structures::tss::TaskStateSegment;
use ::x86_64::structures::DescriptorTablePointer;
use ::x86_64::VirtAddr;
use core::cell::UnsafeCell;

pub const KERNEL32_CS: u16 = 0x08;
pub const KERNEL_CS: u16 = 0x10;
pub const KERNEL_DS: u16 = 0x18;
pub const USER32_CS: u16 = 0x23;
pub const USER_DS: u16 = 0x2b;
pub const USER_CS: u16 = 0x33;

/// IST slots (1-based in the gate, 0-based in the TSS array).
pub const IST_INTERRUPT: usize = 0; // every ordinary gate
pub const IST_DOUBLE_FAULT: usize = 1;
pub const IST_NMI: usize = 2;
pub const IST_MCE: usize = 3;
pub const N_IST: usize = 4;
pub const IST_STACK_SIZE: usize = 16 * 1024;

pub const X86_TRAP_DE: u8 = 0;
pub const X86_TRAP_NMI: u8 = 2;
pub const X86_TRAP_BP: u8 = 3;
pub const X86_TRAP_OF: u8 = 4;
pub const X86_TRAP_DF: u8 = 8;
pub const X86_TRAP_MC: u8 = 18;

/// GDT_ENTRIES in Linux is 16.
type Gdt = GlobalDescriptorTable<16>;

struct CpuTables {
    gdt: Gdt,
    tss: TaskStateSegment,
}

struct TablesCell(UnsafeCell<CpuTables>);
// SAFETY: each CPU writes only its own slot, once, in cpu_init before
// loading it; afterwards the CPU hardware is the only reader.
unsafe impl Sync for TablesCell {}

static CPU_TABLES: [TablesCell; NR_CPUS] = [const {
    TablesCell(UnsafeCell::new(CpuTables { gdt: Gdt::empty(), tss: TaskStateSegment::new() }))
}; NR_CPUS];

/// Load this CPU's GDT, TSS (with the given IST stack tops) and the IDT.
pub fn cpu_init(cpu: usize, ist_tops: [u64; N_IST]) {
    // SAFETY: only this CPU touches CPU_TABLES[cpu], and only here (see TablesCell).
    let t: &'static mut CpuTables = unsafe { &mut *CPU_TABLES[cpu].0.get() };
    t.tss = TaskStateSegment::new();
    for (i, top) in ist_tops.iter().enumerate() {
        t.tss.interrupt_stack_table[i] = VirtAddr::new(*top);
    }
    // SAFETY: the TSS lives in a static and is not modified again.
    let tss: &'static TaskStateSegment = unsafe { &*core::ptr::addr_of!(t.tss) };
    let mut gdt = Gdt::empty();
    gdt.append(Descriptor::UserSegment(DescriptorFlags::KERNEL_CODE32.bits())); // 0x08
    gdt.append(Descriptor::kernel_code_segment()); // 0x10
    gdt.append(Descriptor::kernel_data_segment()); // 0x18
    gdt.append(Descriptor::UserSegment(DescriptorFlags::USER_CODE32.bits())); // 0x23
    gdt.append(Descriptor::user_data_segment()); // 0x2b
    gdt.append(Descriptor::user_code_segment()); // 0x33
    gdt.append(Descriptor::UserSegment(0)); // 7: unused, as in Linux (TLS slots are 12-14)
    let tss_sel = gdt.append(Descriptor::tss_segment(tss)); // 0x40
    debug_assert_eq!(tss_sel.0, 0x40);
    t.gdt = gdt;
    // SAFETY: the GDT is 'static; the selectors below index the entries just
    // appended in the documented order, so the running code and data stay valid.
    unsafe {
        let gdt: &'static Gdt = &*core::ptr::addr_of!(t.gdt);
        gdt.load();
        CS::set_reg(::x86_64::structures::gdt::SegmentSelector(KERNEL_CS));
        SS::set_reg(::x86_64::structures::gdt::SegmentSelector(KERNEL_DS));
        DS::set_reg(::x86_64::structures::gdt::SegmentSelector(0));
        ES::set_reg(::x86_64::structures::gdt::SegmentSelector(0));
        load_tss(tss_sel);
    }
    load_idt();
    super::syscall::syscall_init();
}

#[repr(C)]
#[derive(Clone, Copy)]
struct GateDesc {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

#[repr(C, align(16))]
struct Idt(UnsafeCell<[GateDesc; 256]>);
// SAFETY: written once by the boot CPU in idt_setup() before any CPU loads
// it; read-only afterwards.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new(
    [GateDesc { offset_low: 0, selector: 0, ist: 0, type_attr: 0, offset_mid: 0, offset_high: 0, reserved: 0 }; 256],
));

extern "C" {
    static irq_entries_start: u8;
}

/// Fill the IDT (idt_setup_traps + idt_setup_apic_and_irq_gates in Linux).
pub fn idt_setup() {
    let base = core::ptr::addr_of!(irq_entries_start) as u64;
    // SAFETY: runs once on the boot CPU before any CPU has loaded the IDT.
    let idt = unsafe { &mut *IDT.0.get() };
    for (v, gate) in idt.iter_mut().enumerate() {
        let addr = base + 16 * v as u64;
        let ist = match v as u8 {
            X86_TRAP_DF => IST_DOUBLE_FAULT,
            X86_TRAP_NMI => IST_NMI,
            X86_TRAP_MC => IST_MCE,
            _ => IST_INTERRUPT,
        };
        // 0x8E: present interrupt gate, DPL 0. int3 and into are DPL 3 as in
        // Linux so user space may execute them.
        let dpl3 = v as u8 == X86_TRAP_BP || v as u8 == X86_TRAP_OF;
        *gate = GateDesc {
            offset_low: addr as u16,
            selector: KERNEL_CS,
            ist: ist as u8 + 1,
            type_attr: if dpl3 { 0xEE } else { 0x8E },
            offset_mid: (addr >> 16) as u16,
            offset_high: (addr >> 32) as u32,
            reserved: 0,
        };
    }
}

fn load_idt() {
    let ptr = DescriptorTablePointer { limit: (256 * 16 - 1) as u16, base: VirtAddr::new(IDT.0.get() as u64) };
    // SAFETY: the IDT is static and filled by idt_setup before the first load.
    unsafe { lidt(&ptr) };
}
