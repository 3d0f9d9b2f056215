//! x86_64 4-level page tables (mirrors arch/x86/mm/init_64.c, pgtable.c and
//! mm/memory.c's walkers; Linux's names pgd/pud/pmd/pte, with p4d folded).
//!
//! `paging_init` builds init_mm's tables: the direct map of physical memory
//! at PAGE_OFFSET (2 MiB pages, at least 4 GiB so the LAPIC and other MMIO
//! are reachable) and the kernel image at __START_KERNEL_map. The low
//! identity map of the boot tables is dropped, so NULL dereferences fault.
//!
//! `PageTable` is the API later address spaces use: map/unmap/translate of
//! 4 KiB pages with intermediate tables from the page allocator, and the raw
//! PTE access mm/memory.c's walkers need (`get_pte`, `set_pte`,
//! `for_each_pte`, which skips absent tables as copy_page_range and
//! zap_page_range do). A user leaf page holds one page reference per PTE
//! (page_alloc's `_refcount`): freeing the user half drops them with
//! `put_page`, so a page shared copy-on-write or with a file goes back to
//! the allocator only with its last mapping.

use super::{phys_to_virt, PAGE_OFFSET, PAGE_SIZE, START_KERNEL_MAP};
use crate::arch::processor::{invlpg, read_cr3, write_cr3};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};

bitflags::bitflags! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct PteFlags: u64 {
        const PRESENT = 1 << 0;
        const RW = 1 << 1;
        const USER = 1 << 2;
        const PWT = 1 << 3;
        const PCD = 1 << 4;
        const ACCESSED = 1 << 5;
        const DIRTY = 1 << 6;
        const PSE = 1 << 7;
        const GLOBAL = 1 << 8;
        const NX = 1 << 63;
    }
}

/// A user PTE of a PROT_NONE mapping: not present (every access faults)
/// but still holding its page, marked with the bit Linux uses,
/// `_PAGE_PROTNONE` = `_PAGE_GLOBAL` (never set in user PTEs otherwise).
pub const PTE_PROTNONE: u64 = PteFlags::GLOBAL.bits();

/// Does a last-level (PTE) entry hold a page: present, or PROT_NONE?
pub fn pte_mapped(e: u64) -> bool {
    e & (PteFlags::PRESENT.bits() | PTE_PROTNONE) != 0
}

pub const PAGE_KERNEL: PteFlags = PteFlags::PRESENT.union(PteFlags::RW).union(PteFlags::NX);
pub const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const ENTRIES: usize = 512;

/// Physical address of init_mm's PGD (`init_mm.pgd`).
static INIT_MM_PGD: AtomicU64 = AtomicU64::new(0);
/// Before the switch to init_mm, table pages are reached by their physical
/// address through the boot identity map; afterwards through the direct map.
static DIRECT_MAP_LIVE: AtomicBool = AtomicBool::new(false);

fn table_virt(phys: u64) -> *mut u64 {
    if DIRECT_MAP_LIVE.load(Relaxed) {
        phys_to_virt(phys) as *mut u64
    } else {
        phys as *mut u64
    }
}

fn read_entry(table: u64, idx: usize) -> u64 {
    // SAFETY: `table` is the physical address of a page-table page we own
    // (from memblock or the page allocator) and idx < 512.
    unsafe { table_virt(table).add(idx).read_volatile() }
}

fn write_entry(table: u64, idx: usize, v: u64) {
    // SAFETY: as read_entry.
    unsafe { table_virt(table).add(idx).write_volatile(v) }
}

fn zero_table(table: u64) {
    // SAFETY: a freshly allocated, exclusively owned page-table page.
    unsafe { core::ptr::write_bytes(table_virt(table), 0, ENTRIES) }
}

fn boot_alloc_table() -> u64 {
    let p = super::memblock::memblock_alloc(PAGE_SIZE, PAGE_SIZE)
        .unwrap_or_else(|| crate::kernel::panic::panic(format_args!("Out of memory: no memory for the kernel page tables")));
    zero_table(p);
    p
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & 0x1ff) as usize
}

/// Build init_mm's tables and switch to them. Returns the direct map size.
pub fn paging_init(max_phys: u64) -> u64 {
    let map_size = max_phys.max(4 << 30).next_multiple_of(1 << 30);
    let pgd = boot_alloc_table();
    // Direct map, 2 MiB pages.
    let mut pa = 0;
    while pa < map_size {
        let va = PAGE_OFFSET + pa;
        let pud = ensure_table(pgd, index(va, 3), true);
        let pmd = ensure_table(pud, index(va, 2), true);
        let flags = PAGE_KERNEL | PteFlags::PSE | PteFlags::GLOBAL;
        write_entry(pmd, index(va, 1), pa | flags.bits());
        pa += 2 << 20;
    }
    // Kernel image: -2 GiB -> phys 0..1 GiB, executable.
    let mut pa = 0;
    while pa < 1 << 30 {
        let va = START_KERNEL_MAP + pa;
        let pud = ensure_table(pgd, index(va, 3), true);
        let pmd = ensure_table(pud, index(va, 2), true);
        let flags = PteFlags::PRESENT | PteFlags::RW | PteFlags::PSE | PteFlags::GLOBAL;
        write_entry(pmd, index(va, 1), pa | flags.bits());
        pa += 2 << 20;
    }
    // Give every kernel-half PGD slot a PUD table now, so kernel mappings
    // made later never add PGD entries: user address spaces copy the
    // kernel half once, at creation (Linux's sync_global_pgds avoided).
    for i in 256..ENTRIES {
        ensure_table(pgd, i, true);
    }
    INIT_MM_PGD.store(pgd, Relaxed);
    // SAFETY: the new tables map the kernel image at the same virtual
    // addresses as the boot tables (text, data, the boot stack), so execution
    // continues; only the low identity map disappears, and nothing uses it
    // from here on (table_virt switches to the direct map below).
    unsafe { write_cr3(pgd) };
    DIRECT_MAP_LIVE.store(true, Relaxed);
    super::memblock::memblock_lift_limit();
    pr_info!("x86/mm: direct map of {} MiB at 0x{:x}, kernel at 0x{:x}", map_size >> 20, PAGE_OFFSET, START_KERNEL_MAP);
    map_size
}

/// Physical address of init_mm's PGD (what secondary CPUs load into CR3).
pub fn init_mm_pgd() -> u64 {
    INIT_MM_PGD.load(Relaxed)
}

/// The entry at `idx` of `table` as a table pointer, allocating one if
/// `alloc` (boot: memblock; later: the page allocator).
fn ensure_table(table: u64, idx: usize, boot: bool) -> u64 {
    let e = read_entry(table, idx);
    if e & PteFlags::PRESENT.bits() != 0 {
        return e & PTE_ADDR_MASK;
    }
    let new = if boot {
        boot_alloc_table()
    } else {
        match super::page_alloc::get_zeroed_page() {
            Some(p) => p,
            None => return 0,
        }
    };
    // Intermediate entries are permissive; the leaf decides (as Linux's _PAGE_TABLE).
    write_entry(table, idx, new | (PteFlags::PRESENT | PteFlags::RW | PteFlags::USER).bits());
    new
}

#[derive(Debug, PartialEq, Eq)]
pub enum MapError {
    NoMemory,
    AlreadyMapped,
    HugePage,
    NotAligned,
}

/// A 4-level page table rooted at a PGD page (an address space).
pub struct PageTable {
    pgd: u64,
}

impl PageTable {
    /// The kernel's own table (init_mm).
    pub fn kernel() -> PageTable {
        PageTable { pgd: init_mm_pgd() }
    }

    /// A handle on an existing table (the owner frees it).
    pub fn from_phys(pgd: u64) -> PageTable {
        PageTable { pgd }
    }

    /// `pgd_alloc`: a new PGD with an empty user half and init_mm's kernel half.
    pub fn new_user() -> Option<PageTable> {
        let pgd = super::page_alloc::get_zeroed_page()?;
        let kernel = init_mm_pgd();
        for i in 256..ENTRIES {
            write_entry(pgd, i, read_entry(kernel, i));
        }
        Some(PageTable { pgd })
    }

    /// Free every page and table of the user half, then the PGD itself
    /// (exit_mmap + free_pgtables + pgd_free). The table must not be live
    /// in any CPU's CR3.
    pub fn free_user_half(&mut self) {
        fn free_level(table: u64, level: u32) {
            for i in 0..ENTRIES {
                let e = read_entry(table, i);
                if !(if level > 1 { e & PteFlags::PRESENT.bits() != 0 } else { pte_mapped(e) }) {
                    continue;
                }
                let next = e & PTE_ADDR_MASK;
                if level > 1 {
                    free_level(next, level - 1);
                    super::page_alloc::free_pages(next, 0); // a page table
                } else {
                    super::page_alloc::put_page(next); // a mapped user page
                }
            }
        }
        for i in 0..256 {
            let e = read_entry(self.pgd, i);
            if e & PteFlags::PRESENT.bits() != 0 {
                let pud = e & PTE_ADDR_MASK;
                free_level(pud, 3);
                super::page_alloc::free_pages(pud, 0);
            }
        }
        super::page_alloc::free_pages(self.pgd, 0);
        self.pgd = 0;
    }

    pub fn pgd_phys(&self) -> u64 {
        self.pgd
    }

    /// The PTE slot for `va` (table phys, index), allocating tables if asked.
    fn walk(&self, va: u64, alloc: bool) -> Result<Option<(u64, usize)>, MapError> {
        let mut table = self.pgd;
        for level in (1..=3).rev() {
            let idx = index(va, level);
            let e = read_entry(table, idx);
            if e & PteFlags::PRESENT.bits() == 0 {
                if !alloc {
                    return Ok(None);
                }
                table = ensure_table(table, idx, false);
                if table == 0 {
                    return Err(MapError::NoMemory);
                }
                continue;
            }
            if e & PteFlags::PSE.bits() != 0 {
                return Err(MapError::HugePage);
            }
            table = e & PTE_ADDR_MASK;
        }
        Ok(Some((table, index(va, 0))))
    }

    /// Map one 4 KiB page. The caller flushes other CPUs' TLBs if the
    /// address was mapped there before (see kernel::smp::flush_tlb_kernel_range).
    pub fn map_page(&mut self, va: u64, pa: u64, flags: PteFlags) -> Result<(), MapError> {
        if va % PAGE_SIZE != 0 || pa % PAGE_SIZE != 0 {
            return Err(MapError::NotAligned);
        }
        let (table, idx) = self.walk(va, true)?.ok_or(MapError::NoMemory)?;
        if pte_mapped(read_entry(table, idx)) {
            return Err(MapError::AlreadyMapped);
        }
        write_entry(table, idx, pa | (flags | PteFlags::PRESENT).bits());
        Ok(())
    }

    /// Unmap one page; returns the physical page it mapped. Flushes this
    /// CPU's TLB entry.
    pub fn unmap_page(&mut self, va: u64) -> Option<u64> {
        let (table, idx) = self.walk(va, false).ok()??;
        let e = read_entry(table, idx);
        if !pte_mapped(e) {
            return None;
        }
        write_entry(table, idx, 0);
        invlpg(va);
        Some(e & PTE_ADDR_MASK)
    }

    /// The PTE mapping `va` (a 4 KiB user page), if it holds a page
    /// (present or PROT_NONE).
    pub fn get_pte(&self, va: u64) -> Option<u64> {
        let (table, idx) = self.walk(va, false).ok()??;
        let e = read_entry(table, idx);
        pte_mapped(e).then_some(e)
    }

    /// Write the PTE for `va` (allocating tables), whatever it held. The
    /// caller owns the page references and the TLB flush.
    pub fn set_pte(&mut self, va: u64, entry: u64) -> Result<(), MapError> {
        let (table, idx) = self.walk(va, true)?.ok_or(MapError::NoMemory)?;
        write_entry(table, idx, entry);
        Ok(())
    }

    /// Call `f(va, &mut pte)` for every mapped PTE (pte_mapped) in [start, end) of the
    /// user half, skipping absent tables; a changed entry is written back.
    /// No TLB flush: the caller batches it.
    pub fn for_each_pte(&mut self, start: u64, end: u64, mut f: impl FnMut(u64, &mut u64)) {
        fn level_walk(table: u64, level: u32, base: u64, start: u64, end: u64, f: &mut dyn FnMut(u64, &mut u64)) {
            let span = 1u64 << (12 + 9 * level);
            // Only the entries that overlap [start, end): a walk costs what
            // is mapped, not 512 probes per level.
            let first = if start > base { ((start - base) / span) as usize } else { 0 };
            let last = (((end - 1).saturating_sub(base)) / span).min(ENTRIES as u64 - 1) as usize;
            for i in first..=last {
                let lo = base + i as u64 * span;
                let e = read_entry(table, i);
                if !(if level == 0 { pte_mapped(e) } else { e & PteFlags::PRESENT.bits() != 0 }) {
                    continue;
                }
                if level == 0 {
                    let mut n = e;
                    f(lo, &mut n);
                    if n != e {
                        write_entry(table, i, n);
                    }
                } else if e & PteFlags::PSE.bits() == 0 {
                    level_walk(e & PTE_ADDR_MASK, level - 1, lo, start, end, f);
                }
            }
        }
        let end = end.min(1 << 47);
        if start < end {
            level_walk(self.pgd, 3, 0, start, end, &mut f);
        }
    }

    /// Virtual to physical, following huge pages too.
    pub fn translate(&self, va: u64) -> Option<u64> {
        let mut table = self.pgd;
        for level in (0..=3).rev() {
            let e = read_entry(table, index(va, level));
            if e & PteFlags::PRESENT.bits() == 0 {
                return None;
            }
            if level == 0 || (level <= 2 && e & PteFlags::PSE.bits() != 0) {
                let page_mask = (1u64 << (12 + 9 * level)) - 1;
                return Some((e & PTE_ADDR_MASK & !page_mask) | (va & page_mask));
            }
            table = e & PTE_ADDR_MASK;
        }
        None
    }
}

/// Print the walk for a faulting address (arch/x86/mm/fault.c dump_pagetable),
/// through whatever CR3 is live.
pub fn dump_pagetable(address: u64) {
    if !DIRECT_MAP_LIVE.load(Relaxed) {
        return;
    }
    let mut table = read_cr3() & PTE_ADDR_MASK;
    let names = ["PTE", "PMD", "PUD", "PGD"];
    let mut line = crate::kernel::panic::BufWriter::<160>::new();
    use core::fmt::Write;
    for level in (0..=3).rev() {
        let e = read_entry(table, index(address, level));
        let _ = write!(line, "{} {:x} ", names[level as usize], e);
        if level == 3 {
            let _ = write!(line, "P4D {:x} ", e);
        }
        if e & PteFlags::PRESENT.bits() == 0 || (level <= 2 && e & PteFlags::PSE.bits() != 0) {
            break;
        }
        table = e & PTE_ADDR_MASK;
    }
    pr_emerg!("{}", line.as_str());
}
