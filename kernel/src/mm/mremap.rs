//! mremap(2) (mirrors mm/mremap.c).
//!
//! Shrinking unmaps the tail. Growing extends the VMA in place when the
//! pages after it are free; otherwise, with MREMAP_MAYMOVE (or to
//! MREMAP_FIXED's address), `move_vma` gives the range a new VMA elsewhere
//! and moves its PTEs there (`move_page_tables`: the pages themselves stay,
//! with their references and copy-on-write state), then flushes the old
//! range. musl's realloc uses this for large blocks.
//!
//! Left out: MREMAP_DONTUNMAP and old_len == 0 (duplicating a shared
//! mapping) are EINVAL.

use super::memory::{zap_page_range, MmuGather};
use super::mmap::{MmStruct, Vma, MMAP_MIN_ADDR, STACK_TOP, VM_GROWSDOWN};
use super::PAGE_SIZE;
use crate::kernel::errno::{KResult, EFAULT, EINVAL, ENOMEM};

pub const MREMAP_MAYMOVE: u64 = 1;
pub const MREMAP_FIXED: u64 = 2;

/// `sys_mremap`.
pub fn sys_mremap(old: u64, old_len: u64, new_len: u64, flags: u64, new_addr: u64) -> KResult<u64> {
    if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED) != 0 || (flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0) || old % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let round = |l: u64| l.checked_add(PAGE_SIZE - 1).map(|l| l & !(PAGE_SIZE - 1)).ok_or(EINVAL);
    let (old_len, new_len) = (round(old_len)?, round(new_len)?);
    if old_len == 0 || new_len == 0 {
        return Err(EINVAL);
    }
    let fixed = (flags & MREMAP_FIXED != 0).then_some(new_addr);
    if let Some(a) = fixed {
        let overlap = a < old.saturating_add(old_len) && old < a.saturating_add(new_len);
        if a % PAGE_SIZE != 0 || overlap || a < MMAP_MIN_ADDR || !crate::arch::uaccess::access_ok(a, new_len as usize) {
            return Err(EINVAL);
        }
    }
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(EFAULT)?;
    mremap(&mm, old, old_len, new_len, flags & MREMAP_MAYMOVE != 0, fixed)
}

fn mremap(mm: &MmStruct, old: u64, old_len: u64, new_len: u64, may_move: bool, fixed: Option<u64>) -> KResult<u64> {
    let mut tlb = MmuGather::new(mm.pgd_phys());
    let mut inner = mm.inner.lock_irqsave();
    let mut pt = mm.pt();
    let old_end = old.checked_add(old_len).ok_or(EFAULT)?;
    // "EFAULT: some address in the range old_address to old_address+old_size
    // is an invalid virtual memory address", or the range spans VMAs.
    let vma = inner.find_vma(old).cloned().ok_or(EFAULT)?;
    if old_end > vma.end || vma.flags & VM_GROWSDOWN != 0 {
        return Err(EFAULT);
    }
    if fixed.is_none() {
        if new_len <= old_len {
            inner.remove_vmas(old + new_len, old_end);
            zap_page_range(&mut pt, old + new_len, old_end, &mut tlb);
            return Ok(old);
        }
        // vma_expandable: grow in place into free space.
        let new_end = old.checked_add(new_len).ok_or(ENOMEM)?;
        if old_end == vma.end && new_end <= STACK_TOP && !inner.overlaps(old_end, new_end) {
            let mut v = inner.vmas.remove(&vma.start).ok_or(EFAULT)?;
            v.end = new_end;
            inner.vmas.insert(v.start, v);
            inner.merge_at(new_end);
            return Ok(old);
        }
        if !may_move {
            return Err(ENOMEM);
        }
    }
    // move_vma.
    let dest = match fixed {
        Some(a) => {
            inner.remove_vmas(a, a + new_len);
            zap_page_range(&mut pt, a, a + new_len, &mut tlb);
            a
        }
        None => inner.get_unmapped_area(0, new_len)?,
    };
    let moved = old_len.min(new_len);
    // move_page_tables: copy the PTEs first, so running out of memory for
    // page tables leaves the old mapping whole.
    let mut entries = alloc::vec::Vec::new();
    pt.for_each_pte(old, old + moved, |va, pte| entries.push((va, *pte)));
    for (i, &(va, pte)) in entries.iter().enumerate() {
        if pt.set_pte(dest + (va - old), pte).is_err() {
            for &(va, _) in &entries[..i] {
                let _ = pt.set_pte(dest + (va - old), 0);
            }
            return Err(ENOMEM);
        }
    }
    // The references move with the PTEs: clear the old ones without
    // releasing the pages, then drop the rest of the old range.
    pt.for_each_pte(old, old + moved, |_, pte| *pte = 0);
    tlb.flush_range(old, old + moved);
    let piece = Vma { start: dest, end: dest + new_len, pgoff: vma.pgoff + (old - vma.start) / PAGE_SIZE, ..vma.clone() };
    inner.remove_vmas(old, old_end);
    zap_page_range(&mut pt, old + moved, old_end, &mut tlb);
    inner.insert_vma(piece)?;
    Ok(dest)
}
