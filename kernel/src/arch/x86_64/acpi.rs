//! ACPI table discovery (mirrors arch/x86/kernel/acpi/boot.c, the MADT part).
//! The `acpi` crate finds the RSDP in the BIOS areas and walks RSDT/XSDT; we
//! read the MADT's Local APIC (and x2APIC) entries to learn which CPUs exist.
//! Left out: AML, power management, IOAPIC routing.

use ::acpi::madt::{Madt, MadtEntry};
use ::acpi::{AcpiHandler, AcpiTables, PhysicalMapping};
use core::ptr::NonNull;

#[derive(Clone)]
struct DirectMapHandler;

impl AcpiHandler for DirectMapHandler {
    unsafe fn map_physical_region<T>(&self, phys: usize, size: usize) -> PhysicalMapping<Self, T> {
        let virt = crate::mm::phys_to_virt(phys as u64) as *mut T;
        // SAFETY: every physical address below the top of the direct map is
        // permanently mapped, so the region needs no extra mapping; the crate
        // only reads ACPI tables through it.
        unsafe { PhysicalMapping::new(phys, NonNull::new(virt).expect("direct map"), size, size, self.clone()) }
    }
    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// What the MADT says about the CPUs.
pub struct CpuTopology {
    pub apic_ids: [u32; super::percpu::NR_CPUS],
    pub count: usize,
    /// Enabled CPUs beyond NR_CPUS that we had to ignore.
    pub ignored: usize,
}

/// Find the CPUs (acpi_parse_madt + acpi_parse_lapic). `None` when there is
/// no usable ACPI: the caller then runs on the boot CPU alone.
pub fn acpi_parse_madt() -> Option<CpuTopology> {
    // SAFETY: the BIOS areas the crate scans (EBDA, 0xE0000..0xFFFFF) are
    // RAM or ROM below 1 MiB and covered by the direct map.
    let tables = match unsafe { AcpiTables::search_for_rsdp_bios(DirectMapHandler) } {
        Ok(t) => t,
        Err(e) => {
            pr_warn!("ACPI: no RSDP found ({:?}), assuming a single CPU", e);
            return None;
        }
    };
    let madt = match tables.find_table::<Madt>() {
        Ok(m) => m,
        Err(e) => {
            pr_warn!("ACPI: no MADT ({:?}), assuming a single CPU", e);
            return None;
        }
    };
    let mut topo = CpuTopology { apic_ids: [0; super::percpu::NR_CPUS], count: 0, ignored: 0 };
    let mut add = |apic_id: u32, flags: u32| {
        // Bit 0: enabled; bit 1: online capable (hot-pluggable, not present now).
        if flags & 1 == 0 {
            return;
        }
        if topo.count < topo.apic_ids.len() {
            topo.apic_ids[topo.count] = apic_id;
            topo.count += 1;
        } else {
            topo.ignored += 1;
        }
    };
    for entry in madt.get().entries() {
        match entry {
            MadtEntry::LocalApic(e) => add(e.apic_id as u32, e.flags),
            MadtEntry::LocalX2Apic(e) => add(e.x2apic_id, e.flags),
            _ => {}
        }
    }
    pr_info!("ACPI: MADT lists {} enabled CPU{}", topo.count, if topo.count == 1 { "" } else { "s" });
    Some(topo)
}
