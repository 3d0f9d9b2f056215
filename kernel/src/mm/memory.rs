//! Page faults and page-table copies of user memory (mirrors mm/memory.c
//! and the mmu_gather of mm/mmu_gather.c).
//!
//! `handle_mm_fault` runs with the mm's lock held for the whole fault and
//! picks one of:
//! - `do_anonymous_page`: no page yet in a private VMA: a zeroed page;
//! - `do_shared_fault`: no page yet in a shared VMA: the file's own page
//!   (fs/inode.rs find_or_create_page), writable if the VMA is;
//! - `do_read_fault` / `do_cow_fault`: no page yet in a private file VMA:
//!   the file's page read-only, or for a write a private copy of it;
//! - `do_wp_page`: a write to a present read-only page of a writable VMA,
//!   i.e. copy-on-write after fork. If the faulting PTE holds the only
//!   reference (`page_count == 1`: the other sharers exited, unmapped or
//!   copied already) the page is reused by making the PTE writable; else
//!   the data is copied to a new page, the PTE pointed at it, and the old
//!   page's reference dropped after the TLB flush;
//! - a fault on a PTE that already allows the access is spurious (another
//!   CPU fixed it, or this CPU held a stale entry): flush the entry and
//!   retry.
//!
//! `MmuGather` is Linux's mmu_gather: page-table changes note the range to
//! flush and the pages to release; when it is dropped (after the mm's lock
//! has been released, since it is declared before the guard) the range is
//! flushed from every CPU with the mm loaded and only then are the pages
//! freed, so no CPU can reach a freed page through a stale TLB entry.

use super::mmap::{Vma, VM_ACCESS, VM_EXEC, VM_SHARED, VM_WRITE};
use super::page_alloc::{self, get_page, page_count, put_page};
use super::pgtable::{PageTable, PteFlags, PTE_ADDR_MASK, PTE_PROTNONE};
use super::PAGE_SIZE;
use crate::kernel::errno::{KResult, EFAULT, ENOMEM};
use alloc::vec::Vec;

/// `mk_pte` with the VMA's protection (`vm_get_page_prot`): a PROT_NONE
/// VMA gets a not-present PTE that still holds the page; `writable` is
/// whether this PTE may have RW now (private pages shared copy-on-write
/// may not).
pub fn mk_pte(pa: u64, vm_flags: u32, writable: bool) -> u64 {
    if vm_flags & VM_ACCESS == 0 {
        return pa | PTE_PROTNONE;
    }
    let mut f = PteFlags::PRESENT | PteFlags::USER;
    if writable && vm_flags & VM_WRITE != 0 {
        f |= PteFlags::RW;
    }
    if vm_flags & VM_EXEC == 0 {
        f |= PteFlags::NX;
    }
    pa | f.bits()
}

/// `struct mmu_gather`: a TLB range to flush and pages to free after it.
pub struct MmuGather {
    pgd: u64,
    start: u64,
    end: u64,
    pages: Vec<u64>,
}

impl MmuGather {
    /// `tlb_gather_mmu` for the address space rooted at `pgd`.
    pub fn new(pgd: u64) -> MmuGather {
        MmuGather { pgd, start: u64::MAX, end: 0, pages: Vec::new() }
    }

    /// `tlb_flush_pte_range`: [start, end) must leave every TLB.
    pub fn flush_range(&mut self, start: u64, end: u64) {
        self.start = self.start.min(start);
        self.end = self.end.max(end);
    }

    /// `tlb_remove_page`: drop this page reference after the flush.
    pub fn remove_page(&mut self, pa: u64) {
        self.pages.push(pa);
    }
}

impl Drop for MmuGather {
    /// `tlb_finish_mmu`.
    fn drop(&mut self) {
        if self.start < self.end {
            crate::kernel::smp::flush_tlb_mm_range(self.pgd, self.start, self.end);
        }
        for &pa in &self.pages {
            put_page(pa);
        }
    }
}

/// `copy_page_range` for one VMA at fork: the child's PTEs point at the
/// parent's pages (one more reference each); private writable ones lose RW
/// in both. Returns whether a parent PTE was write-protected (its TLB needs
/// a flush) and whether the child's tables could all be allocated.
pub fn copy_page_range(dst: &mut PageTable, src: &mut PageTable, vma: &Vma) -> (bool, KResult<()>) {
    let cow = vma.flags & VM_SHARED == 0;
    let (mut wrprotected, mut failed) = (false, false);
    src.for_each_pte(vma.start, vma.end, |va, pte| {
        if failed {
            return;
        }
        if cow && *pte & PteFlags::RW.bits() != 0 {
            *pte &= !PteFlags::RW.bits(); // ptep_set_wrprotect
            wrprotected = true;
        }
        if dst.set_pte(va, *pte).is_err() {
            failed = true;
            return;
        }
        get_page(*pte & PTE_ADDR_MASK);
    });
    (wrprotected, if failed { Err(ENOMEM) } else { Ok(()) })
}

/// `zap_page_range`: clear every PTE in [start, end), the pages released
/// through `tlb` after the flush.
pub fn zap_page_range(pt: &mut PageTable, start: u64, end: u64, tlb: &mut MmuGather) {
    let mut any = false;
    pt.for_each_pte(start, end, |_, pte| {
        tlb.remove_page(*pte & PTE_ADDR_MASK);
        *pte = 0;
        any = true;
    });
    if any {
        tlb.flush_range(start, end);
    }
}

impl super::mmap::MmStruct {
    /// `handle_mm_fault`: make `addr` accessible for this fault, or fail
    /// (the caller turns that into SIGSEGV or a fixup). With `user_rsp`,
    /// a fault just below the stack may grow it.
    pub fn handle_mm_fault(&self, addr: u64, write: bool, exec: bool, user_rsp: u64) -> KResult<()> {
        let mut tlb = MmuGather::new(self.pgd_phys());
        let mut mm = self.inner.lock_irqsave();
        let vma = match mm.find_vma(addr) {
            Some(v) => v.clone(),
            None => mm.expand_stack(addr, user_rsp)?,
        };
        // access_error(): the VMA must allow this kind of access.
        if (write && vma.flags & VM_WRITE == 0) || (exec && vma.flags & VM_EXEC == 0) || vma.flags & VM_ACCESS == 0 {
            return Err(EFAULT);
        }
        let va = addr & !(PAGE_SIZE - 1);
        let mut pt = self.pt();
        match pt.get_pte(va) {
            None if vma.file.is_some() && vma.flags & VM_SHARED != 0 => do_shared_fault(&mut pt, &vma, va),
            None if vma.file.is_some() && write => do_cow_fault(&mut pt, &vma, va),
            None if vma.file.is_some() => do_read_fault(&mut pt, &vma, va),
            None => do_anonymous_page(&mut pt, &vma, va),
            Some(pte) if pte & PteFlags::PRESENT.bits() == 0 => {
                // A PROT_NONE PTE in a VMA that allows access again (only
                // if mprotect left one behind): rebuild it read-only; a
                // write faults once more into do_wp_page.
                let _ = pt.set_pte(va, mk_pte(pte & PTE_ADDR_MASK, vma.flags, false));
                Ok(())
            }
            Some(pte) if write && pte & PteFlags::RW.bits() == 0 => do_wp_page(&mut pt, &vma, va, pte, &mut tlb),
            Some(_) => {
                crate::arch::processor::invlpg(va); // flush_tlb_fix_spurious_fault
                Ok(())
            }
        }
    }
}

/// `finish_fault`: point the PTE at `pa`, whose reference it takes over
/// (dropped if the page table cannot be extended).
fn finish_fault(pt: &mut PageTable, vma: &Vma, va: u64, pa: u64, writable: bool) -> KResult<()> {
    if pt.set_pte(va, mk_pte(pa, vma.flags, writable)).is_err() {
        put_page(pa);
        return Err(ENOMEM);
    }
    Ok(())
}

/// The VMA's file page at `va`, with a reference for the caller.
fn file_page(vma: &Vma, va: u64) -> KResult<u64> {
    let file = vma.file.as_ref().ok_or(EFAULT)?;
    file.find_or_create_page(vma.pgoff + (va - vma.start) / PAGE_SIZE)
}

/// `do_anonymous_page`: a zeroed page, writable if the VMA is.
fn do_anonymous_page(pt: &mut PageTable, vma: &Vma, va: u64) -> KResult<()> {
    let pa = page_alloc::get_zeroed_page().ok_or(ENOMEM)?;
    finish_fault(pt, vma, va, pa, true)
}

/// `do_shared_fault`: map the file's page at this offset.
fn do_shared_fault(pt: &mut PageTable, vma: &Vma, va: u64) -> KResult<()> {
    finish_fault(pt, vma, va, file_page(vma, va)?, true)
}

/// `do_read_fault`: a read of a private file mapping maps the file's own
/// page read-only; a later write copies it (do_wp_page: the file holds a
/// reference too).
fn do_read_fault(pt: &mut PageTable, vma: &Vma, va: u64) -> KResult<()> {
    finish_fault(pt, vma, va, file_page(vma, va)?, false)
}

/// `do_cow_fault`: a first write to a private file mapping gets its own
/// copy of the file's page at once.
fn do_cow_fault(pt: &mut PageTable, vma: &Vma, va: u64) -> KResult<()> {
    let src = file_page(vma, va)?;
    let new = page_alloc::alloc_pages(0);
    if let Some(new) = new {
        super::copy_page(new, src);
    }
    put_page(src);
    finish_fault(pt, vma, va, new.ok_or(ENOMEM)?, true)
}

/// `do_wp_page`: a write to a present, read-only PTE in a writable VMA.
fn do_wp_page(pt: &mut PageTable, vma: &Vma, va: u64, pte: u64, tlb: &mut MmuGather) -> KResult<()> {
    let old = pte & PTE_ADDR_MASK;
    if vma.flags & VM_SHARED != 0 || page_count(old) == 1 {
        // wp_page_reuse: nobody else maps it (or it is meant to be shared).
        let _ = pt.set_pte(va, pte | PteFlags::RW.bits() | PteFlags::DIRTY.bits());
        crate::arch::processor::invlpg(va);
        return Ok(());
    }
    // wp_page_copy.
    let new = page_alloc::alloc_pages(0).ok_or(ENOMEM)?;
    super::copy_page(new, old);
    if pt.set_pte(va, mk_pte(new, vma.flags, true)).is_err() {
        put_page(new);
        return Err(ENOMEM);
    }
    tlb.flush_range(va, va + PAGE_SIZE);
    tlb.remove_page(old);
    Ok(())
}
