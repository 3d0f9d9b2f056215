//! mprotect(2) (mirrors mm/mprotect.c).
//!
//! `mprotect_fixup` splits the VMAs at the ends of the range, gives the
//! pieces inside the new protection, rewrites their PTEs
//! (`change_protection`), merges alike neighbours back and flushes the
//! range from every TLB that may hold it. A private page gets RW back only
//! if its PTE had it (it is this mm's alone); one still shared
//! copy-on-write stays read-only and the next write copies or reuses it in
//! do_wp_page, as in Linux. PROT_NONE PTEs are not present (see
//! pgtable.rs PTE_PROTNONE), so any user access faults and, finding a VMA
//! without access rights, ends in SIGSEGV.
//!
//! Left out: PROT_GROWSDOWN/PROT_GROWSUP (EINVAL), pkeys.

use super::memory::{mk_pte, MmuGather};
use super::mmap::{prot_to_vm, MmStruct, PROT_EXEC, PROT_READ, PROT_WRITE, VM_ACCESS, VM_MAYWRITE, VM_SHARED, VM_WRITE};
use super::pgtable::{PteFlags, PTE_ADDR_MASK};
use super::PAGE_SIZE;
use crate::kernel::errno::{KResult, EACCES, EINVAL, ENOMEM};

/// `sys_mprotect`.
pub fn sys_mprotect(start: u64, len: u64, prot: u64) -> KResult<u64> {
    // EINVAL: addr not page aligned, or unknown prot bits.
    if start % PAGE_SIZE != 0 || prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(EINVAL);
    }
    let len = len.checked_add(PAGE_SIZE - 1).ok_or(ENOMEM)? & !(PAGE_SIZE - 1);
    if len == 0 {
        return Ok(0);
    }
    let end = start.checked_add(len).ok_or(ENOMEM)?;
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(ENOMEM)?;
    mprotect_fixup(&mm, start, end, prot_to_vm(prot))?;
    Ok(0)
}

/// Give [start, end) (page aligned) the access bits `vm` (VM_READ |
/// VM_WRITE | VM_EXEC). ENOMEM if part of the range is unmapped, EACCES
/// for PROT_WRITE on a shared mapping of a file not open for writing.
pub fn mprotect_fixup(mm: &MmStruct, start: u64, end: u64, vm: u32) -> KResult<()> {
    let mut tlb = MmuGather::new(mm.pgd_phys());
    let mut inner = mm.inner.lock_irqsave();
    if !inner.covered(start, end) {
        return Err(ENOMEM);
    }
    let inside = || inner.vmas.range(start..end).map(|(_, v)| v);
    if vm & VM_WRITE != 0 && inside().chain(inner.find_vma(start)).any(|v| v.flags & VM_SHARED != 0 && v.flags & VM_MAYWRITE == 0) {
        return Err(EACCES);
    }
    inner.split_vma(start);
    inner.split_vma(end);
    let mut pt = mm.pt();
    let starts: alloc::vec::Vec<u64> = inner.vmas.range(start..end).map(|(&s, _)| s).collect();
    for s in starts {
        let Some(v) = inner.vmas.get_mut(&s) else { continue };
        v.flags = (v.flags & !VM_ACCESS) | vm;
        let (flags, shared) = (v.flags, v.flags & VM_SHARED != 0);
        // change_protection.
        pt.for_each_pte(v.start, v.end, |_, pte| {
            let exclusive = shared || *pte & PteFlags::RW.bits() != 0;
            *pte = mk_pte(*pte & PTE_ADDR_MASK, flags, exclusive);
        });
    }
    inner.merge_at(end);
    for s in inner.vmas.range(start..end).map(|(&s, _)| s).collect::<alloc::vec::Vec<_>>().into_iter().rev() {
        inner.merge_at(s);
    }
    tlb.flush_range(start, end);
    Ok(())
}
