//! User address spaces (mirrors mm/mmap.c and kernel/fork.c's mm_struct
//! lifetime; the fault handlers are in memory.rs, mprotect, madvise and
//! mremap in their own files as in Linux).
//!
//! An `MmStruct` owns a page table whose upper (kernel) half is shared with
//! every other address space, and a set of VMAs describing what may be
//! mapped below TASK_SIZE. Pages come on first touch (memory.rs:
//! demand-zero, or the file's page for a shared mapping); the stack VMA
//! grows down on faults just below it, as Linux's expand_stack.
//!
//! Kinds of mappings:
//! - private anonymous (heap, stack, MAP_PRIVATE|MAP_ANONYMOUS): zero-filled
//!   on first touch, copy-on-write across fork;
//! - private file (MAP_PRIVATE with a file): the VMA holds the file but
//!   not VM_SHARED; a read fault maps the file's own page read-only, a
//!   write copies it (memory.rs do_read_fault / do_cow_fault), so, as on
//!   Linux, the mapping sees write(2)s to the file until it writes that
//!   page itself. exec's segments are mapped the same way, but at exec
//!   time (`map_file_page`);
//! - shared (MAP_SHARED, VM_SHARED): the VMA holds the ramfs file, and a
//!   fault maps the file's own page (fs/inode.rs keeps file data in
//!   physical pages), so stores are seen by read(2), by other mappings and
//!   across fork. MAP_SHARED|MAP_ANONYMOUS uses a fresh unlinked file, as
//!   Linux's shmem_zero_setup.
//!
//! fork (`dup_mmap`) shares every present page with the child: private
//! pages lose their write permission in both page tables (copy-on-write,
//! broken by memory.rs's do_wp_page), shared ones stay writable. Each PTE
//! holds one page reference (page_alloc.rs), so a page goes back to the
//! allocator when its last mapping (and the file, for file pages) lets go.
//!
//! TLB: a PTE that loses permissions or its page is flushed from every CPU
//! that has the mm loaded (`MmuGather` in memory.rs, then
//! `flush_tlb_mm_range`) before the pages it mapped are freed, and after
//! the mm's lock is dropped: a CPU spinning on that lock has interrupts off
//! and could not answer the flush IPI.
//!
//! Left out: page-table pages are freed only with the mm; no
//! mmap_min_addr, no randomization, no overcommit accounting or rlimits
//! other than the stack's; mlock, MAP_GROWSDOWN, MAP_HUGETLB, MAP_LOCKED
//! are ignored or refused (see `sys_mmap`).

use super::memory::{zap_page_range, MmuGather};
use super::pgtable::PageTable;
use super::{page_alloc, PAGE_SIZE};
use crate::fs::inode::Inode;
use crate::kernel::errno::{KResult, EACCES, EEXIST, EFAULT, EINVAL, ENOMEM};
use crate::sync::SpinLock;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

pub const VM_READ: u32 = 0x1;
pub const VM_WRITE: u32 = 0x2;
pub const VM_EXEC: u32 = 0x4;
pub const VM_SHARED: u32 = 0x8;
/// May be made writable by mprotect (a shared file mapping needs the file
/// open for writing).
pub const VM_MAYWRITE: u32 = 0x20;
pub const VM_GROWSDOWN: u32 = 0x100;
pub const VM_ACCESS: u32 = VM_READ | VM_WRITE | VM_EXEC;

/// Linux's x86_64 STACK_TOP without randomization (TASK_SIZE).
pub const STACK_TOP: u64 = 0x7fff_ffff_f000;
/// RLIMIT_STACK default: 8 MiB.
pub const STACK_LIMIT: u64 = 8 << 20;
/// Lowest address mmap hands out or accepts (Linux's mmap_min_addr default).
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// `struct vm_area_struct`: [start, end) with the same flags and backing.
#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub flags: u32,
    /// `vm_pgoff`: the file page mapped at `start` (shared mappings).
    pub pgoff: u64,
    /// `vm_file`: the ramfs file behind a shared mapping, else None.
    pub file: Option<Arc<Inode>>,
}

impl Vma {
    pub fn anon(start: u64, end: u64, flags: u32) -> Vma {
        Vma { start, end, flags, pgoff: 0, file: None }
    }

    /// The part of this VMA from `at` on (pgoff moves with it).
    fn tail(&self, at: u64) -> Vma {
        Vma { start: at, pgoff: self.pgoff + (at - self.start) / PAGE_SIZE, ..self.clone() }
    }

    /// `is_mergeable_vma` + contiguous file offsets: can `next` (starting
    /// at our end) be folded into us?
    fn can_merge(&self, next: &Vma) -> bool {
        self.end == next.start
            && self.flags == next.flags
            && match (&self.file, &next.file) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) && self.pgoff + (self.end - self.start) / PAGE_SIZE == next.pgoff,
                _ => false,
            }
    }
}

pub struct MmInner {
    /// VMAs by start address, non-overlapping.
    pub vmas: BTreeMap<u64, Vma>,
    pub start_brk: u64,
    pub brk: u64,
    pub start_stack: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
}

impl MmInner {
    /// `find_vma`, restricted to a VMA containing `addr`.
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas.range(..=addr).next_back().map(|(_, v)| v).filter(|v| addr < v.end)
    }

    /// Does any VMA intersect [start, end)?
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas.range(..end).next_back().is_some_and(|(_, v)| v.end > start)
    }

    /// Is [start, end) covered by VMAs without a hole?
    pub fn covered(&self, start: u64, end: u64) -> bool {
        let mut cur = start;
        for v in self.vmas.range(..end).map(|(_, v)| v).filter(|v| v.end > start) {
            if v.start > cur {
                return false;
            }
            cur = cur.max(v.end);
        }
        cur >= end
    }

    /// `split_vma`: make `addr` a VMA boundary if a VMA straddles it.
    pub fn split_vma(&mut self, addr: u64) {
        let Some(v) = self.find_vma(addr).filter(|v| v.start < addr).cloned() else { return };
        let tail = v.tail(addr);
        self.vmas.insert(v.start, Vma { end: addr, ..v });
        self.vmas.insert(addr, tail);
    }

    /// `vma_merge` at one boundary: fold the VMA starting at `addr` into
    /// the one ending there when they are alike.
    pub fn merge_at(&mut self, addr: u64) {
        let Some(prev) = self.vmas.range(..addr).next_back().map(|(_, v)| v.clone()) else { return };
        let Some(next) = self.vmas.get(&addr).cloned() else { return };
        if prev.can_merge(&next) {
            self.vmas.remove(&addr);
            self.vmas.insert(prev.start, Vma { end: next.end, ..prev });
        }
    }

    /// Remove [start, end) from the VMA set, splitting at its ends.
    pub fn remove_vmas(&mut self, start: u64, end: u64) {
        self.split_vma(start);
        self.split_vma(end);
        let gone: Vec<u64> = self.vmas.range(start..end).map(|(&s, _)| s).collect();
        for s in gone {
            self.vmas.remove(&s);
        }
    }

    /// Add a VMA over a hole and merge it with alike neighbours.
    pub fn insert_vma(&mut self, v: Vma) -> KResult<()> {
        if v.start >= v.end || self.overlaps(v.start, v.end) {
            return Err(EFAULT);
        }
        let (start, end) = (v.start, v.end);
        self.vmas.insert(start, v);
        self.merge_at(end);
        self.merge_at(start);
        Ok(())
    }

    /// `expand_stack`: a fault just below the stack VMA grows it, within
    /// RLIMIT_STACK and not far below the user's rsp (Linux's 64 KiB + 32
    /// words check for `push`-like accesses, as in 4.19).
    pub fn expand_stack(&mut self, addr: u64, user_rsp: u64) -> KResult<Vma> {
        let (&start, stack) = self.vmas.range(addr..).next().ok_or(EFAULT)?;
        if stack.flags & VM_GROWSDOWN == 0 {
            return Err(EFAULT);
        }
        if addr.saturating_add(65536 + 32 * 8) < user_rsp || stack.end - page_down(addr) > STACK_LIMIT {
            return Err(EFAULT);
        }
        let new_start = page_down(addr);
        if self.overlaps(new_start, start) {
            return Err(EFAULT);
        }
        let mut v = self.vmas.remove(&start).ok_or(EFAULT)?;
        v.start = new_start;
        self.vmas.insert(v.start, v.clone());
        Ok(v)
    }

    /// `get_unmapped_area` (arch_get_unmapped_area_topdown): the hint if
    /// page aligned and free, else the highest hole below MMAP_BASE.
    pub fn get_unmapped_area(&self, hint: u64, len: u64) -> KResult<u64> {
        if len > MMAP_BASE - MMAP_MIN_ADDR {
            return Err(ENOMEM);
        }
        if hint != 0 && hint % PAGE_SIZE == 0 && hint >= MMAP_MIN_ADDR {
            if let Some(end) = hint.checked_add(len).filter(|&e| e <= STACK_TOP - STACK_LIMIT) {
                if !self.overlaps(hint, end) {
                    return Ok(hint);
                }
            }
        }
        let mut top = MMAP_BASE;
        for (_, v) in self.vmas.range(..MMAP_BASE).rev() {
            if v.end <= top && top - v.end >= len {
                return Ok(top - len);
            }
            top = top.min(v.start);
        }
        if top >= len + MMAP_MIN_ADDR {
            Ok(top - len)
        } else {
            Err(ENOMEM)
        }
    }
}

/// `struct mm_struct`. Lock order: after the task locks, before an
/// inode's lock (a shared fault looks up the file's page); the page table
/// is only changed with `inner` held (Linux's mmap_sem and page-table lock
/// in one).
pub struct MmStruct {
    pgd: PageTable,
    pub inner: SpinLock<MmInner>,
}

pub fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}
pub fn page_up(a: u64) -> u64 {
    (a + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

impl MmStruct {
    /// `mm_alloc`: an empty address space sharing the kernel's upper half.
    pub fn new() -> KResult<Arc<MmStruct>> {
        let pgd = PageTable::new_user().ok_or(ENOMEM)?;
        Ok(Arc::new(MmStruct {
            pgd,
            inner: SpinLock::new(
                "mm->mmap_sem",
                MmInner { vmas: BTreeMap::new(), start_brk: 0, brk: 0, start_stack: 0, arg_start: 0, arg_end: 0, env_start: 0, env_end: 0 },
            ),
        }))
    }

    pub fn pgd_phys(&self) -> u64 {
        self.pgd.pgd_phys()
    }

    /// A handle on this mm's page table; use it with `inner` held.
    pub(super) fn pt(&self) -> PageTable {
        PageTable::from_phys(self.pgd.pgd_phys())
    }

    /// Add an anonymous VMA (no overlap allowed).
    pub fn insert_vma(&self, start: u64, end: u64, flags: u32) -> KResult<()> {
        self.inner.lock_irqsave().insert_vma(Vma::anon(start, end, flags))
    }

    pub fn find_vma(&self, addr: u64) -> Option<Vma> {
        self.inner.lock_irqsave().find_vma(addr).cloned()
    }

    /// Allocate and map a zeroed page at `va` (page aligned) with the VMA's
    /// flags; returns its physical address (so exec can fill it). A page
    /// already there that is shared (a file page that `map_file_page`
    /// mapped) is replaced by a private copy first, so it can be written.
    pub fn populate_page(&self, va: u64, vm_flags: u32) -> KResult<u64> {
        let _mm = self.inner.lock_irqsave();
        let mut pt = self.pt();
        let old = pt.get_pte(va).map(|e| e & super::pgtable::PTE_ADDR_MASK);
        if let Some(pa) = old {
            if page_alloc::page_count(pa) == 1 {
                return Ok(pa);
            }
        }
        let pa = match old {
            Some(old) => {
                let pa = page_alloc::alloc_pages(0).ok_or(ENOMEM)?;
                super::copy_page(pa, old);
                pa
            }
            None => page_alloc::get_zeroed_page().ok_or(ENOMEM)?,
        };
        if pt.set_pte(va, super::memory::mk_pte(pa, vm_flags, vm_flags & VM_WRITE != 0)).is_err() {
            page_alloc::put_page(pa);
            return Err(ENOMEM);
        }
        // Only exec calls this, on an mm no CPU has loaded: no TLB to flush.
        if let Some(old) = old {
            page_alloc::put_page(old);
        }
        Ok(pa)
    }

    /// Map file page `pa` at `va` for a private mapping, read-only so that
    /// the first write copies it (do_wp_page sees the file's reference).
    /// The caller gives the PTE's reference (find_or_create_page took it);
    /// it is dropped on failure. This is how exec maps a
    /// program's segments: like Linux's page cache, the same physical
    /// pages serve every run, and QEMU keeps their code translated.
    pub fn map_file_page(&self, va: u64, pa: u64, vm_flags: u32) -> KResult<()> {
        let _mm = self.inner.lock_irqsave();
        let mut pt = self.pt();
        if pt.get_pte(va).is_some() {
            page_alloc::put_page(pa);
            return Err(EEXIST);
        }
        if pt.set_pte(va, super::memory::mk_pte(pa, vm_flags, false)).is_err() {
            page_alloc::put_page(pa);
            return Err(ENOMEM);
        }
        Ok(())
    }

    /// Copy `data` into this address space at `va` through the direct map.
    /// The pages must be mapped and this mm's own (populate_page, or after
    /// a write fault): a copy-on-write page would be written for everyone.
    pub fn write_bytes(&self, mut va: u64, mut data: &[u8]) -> KResult<()> {
        while !data.is_empty() {
            let pa = self.pgd.translate(va).ok_or(EFAULT)?;
            let n = data.len().min((PAGE_SIZE - (va % PAGE_SIZE)) as usize);
            super::copy_to_phys(pa, &data[..n]);
            data = &data[n..];
            va += n as u64;
        }
        Ok(())
    }

    /// `sys_brk` body (do_brk / do_munmap): map or unmap the whole pages
    /// between the old and the new break; refuse to run into a mapping.
    pub fn brk(&self, new: u64) -> u64 {
        let (start, old) = {
            let mm = self.inner.lock_irqsave();
            (mm.start_brk, mm.brk)
        };
        if new < start || new > STACK_TOP - STACK_LIMIT {
            return old;
        }
        let (old_end, new_end) = (page_up(old), page_up(new));
        if new_end > old_end {
            if self.insert_vma(old_end, new_end, VM_READ | VM_WRITE).is_err() {
                return old;
            }
        } else if new_end < old_end {
            self.do_munmap(new_end, old_end);
        }
        self.inner.lock_irqsave().brk = new;
        new
    }

    /// `dup_mmap` for fork: the child gets the same VMAs and shares every
    /// present page (copy_page_range): private pages become read-only in
    /// both, to be copied by the first write (do_wp_page). The parent's
    /// TLBs are flushed before the child can run, since its PTEs lost
    /// their write permission.
    pub fn dup_mmap(&self) -> KResult<Arc<MmStruct>> {
        let child = MmStruct::new()?;
        let (mut wrprotected, mut result) = (false, Ok(()));
        {
            let p = self.inner.lock_irqsave();
            let mut c = child.inner.lock_irqsave();
            c.vmas = p.vmas.clone();
            c.start_brk = p.start_brk;
            c.brk = p.brk;
            c.start_stack = p.start_stack;
            c.arg_start = p.arg_start;
            c.arg_end = p.arg_end;
            c.env_start = p.env_start;
            c.env_end = p.env_end;
            let (mut src, mut dst) = (self.pt(), child.pt());
            for v in p.vmas.values() {
                let (wp, r) = super::memory::copy_page_range(&mut dst, &mut src, v);
                wrprotected |= wp;
                if r.is_err() {
                    result = r;
                    break;
                }
            }
        }
        if wrprotected {
            crate::kernel::smp::flush_tlb_mm_range(self.pgd_phys(), 0, STACK_TOP);
        }
        result.map(|_| child)
    }

    /// `do_munmap`: remove [start, end) from every VMA (splitting) and drop
    /// its pages.
    pub fn do_munmap(&self, start: u64, end: u64) {
        let mut tlb = MmuGather::new(self.pgd_phys());
        let mut mm = self.inner.lock_irqsave();
        mm.remove_vmas(start, end);
        zap_page_range(&mut self.pt(), start, end, &mut tlb);
    }
}

impl Drop for MmStruct {
    /// `exit_mmap` + `free_pgd_range`: every user page reference and table
    /// goes back.
    fn drop(&mut self) {
        self.pgd.free_user_half();
    }
}

/// `sys_brk`.
pub fn sys_brk(addr: u64) -> KResult<u64> {
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(ENOMEM)?;
    Ok(mm.brk(addr))
}

/// Touch-free helper for tests: read bytes back from an address space.
pub fn read_bytes(mm: &MmStruct, mut va: u64, out: &mut [u8]) -> KResult<()> {
    let mut done = 0;
    while done < out.len() {
        let pa = mm.pgd.translate(va).ok_or(EFAULT)?;
        let n = (out.len() - done).min((PAGE_SIZE - (va % PAGE_SIZE)) as usize);
        super::copy_from_phys(pa, &mut out[done..done + n]);
        done += n;
        va += n as u64;
    }
    Ok(())
}

pub const PROT_READ: u64 = 0x1;
pub const PROT_WRITE: u64 = 0x2;
pub const PROT_EXEC: u64 = 0x4;
pub const MAP_SHARED: u64 = 0x01;
pub const MAP_PRIVATE: u64 = 0x02;
pub const MAP_SHARED_VALIDATE: u64 = 0x03;
pub const MAP_TYPE: u64 = 0x0f;
pub const MAP_FIXED: u64 = 0x10;
pub const MAP_ANONYMOUS: u64 = 0x20;
pub const MAP_NORESERVE: u64 = 0x4000;
pub const MAP_POPULATE: u64 = 0x8000;
pub const MAP_NONBLOCK: u64 = 0x10000;
pub const MAP_STACK: u64 = 0x20000;
pub const MAP_FIXED_NOREPLACE: u64 = 0x100000;
/// Flags mmap accepts (as hints or for real); MAP_SHARED_VALIDATE refuses
/// anything else with EOPNOTSUPP, plain MAP_SHARED/MAP_PRIVATE ignore it,
/// as Linux does with unknown flags.
const MAP_KNOWN: u64 = MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK | MAP_FIXED_NOREPLACE;
/// Top of the mmap area (Linux's mmap_base without randomization:
/// below the stack's rlimit and a guard gap).
pub const MMAP_BASE: u64 = STACK_TOP - STACK_LIMIT - (128 << 20);

pub fn prot_to_vm(prot: u64) -> u32 {
    (if prot & PROT_READ != 0 { VM_READ } else { 0 }) | (if prot & PROT_WRITE != 0 { VM_WRITE } else { 0 }) | (if prot & PROT_EXEC != 0 { VM_EXEC } else { 0 })
}

/// `sys_mmap` (ksys_mmap_pgoff -> do_mmap): the argument rules of mmap(2),
/// then the VMA. MAP_POPULATE is accepted and ignored (pages come on
/// first touch).
pub fn sys_mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: i64, off: u64) -> KResult<u64> {
    // "EINVAL: flags contained none of MAP_PRIVATE, MAP_SHARED, or
    // MAP_SHARED_VALIDATE"; len was 0; offset not page aligned.
    let map_type = flags & MAP_TYPE;
    if !matches!(map_type, MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE) || len == 0 || off % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    if map_type == MAP_SHARED_VALIDATE && flags & !MAP_KNOWN != 0 {
        return Err(crate::kernel::errno::Errno(95)); // EOPNOTSUPP
    }
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(EINVAL);
    }
    // "ENOMEM: the length rounded up overflows"; offset + length too.
    let len = len.checked_add(PAGE_SIZE - 1).ok_or(ENOMEM)? & !(PAGE_SIZE - 1);
    off.checked_add(len).ok_or(crate::kernel::errno::Errno(75))?; // EOVERFLOW
    let shared = map_type != MAP_PRIVATE;
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    if fixed && (addr % PAGE_SIZE != 0 || addr < MMAP_MIN_ADDR || !crate::arch::uaccess::access_ok(addr, len as usize)) {
        return Err(if addr % PAGE_SIZE != 0 { EINVAL } else { ENOMEM });
    }
    let mut vm = prot_to_vm(prot);
    let file = if flags & MAP_ANONYMOUS == 0 {
        let f = crate::fs::syscalls::file_for_mmap(fd as i32)?;
        // "EACCES: a file descriptor refers to a non-regular file (ENODEV
        // here, as for devices without mmap), or the file is not open for
        // reading, or MAP_SHARED with PROT_WRITE on a file not open O_RDWR".
        if !f.readable() || (shared && prot & PROT_WRITE != 0 && !f.writable()) {
            return Err(EACCES);
        }
        if shared && f.writable() {
            vm |= VM_MAYWRITE;
        }
        Some(f)
    } else {
        if shared {
            vm |= VM_MAYWRITE;
        }
        None
    };
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(ENOMEM)?;
    let backing = match (&file, shared) {
        (Some(f), _) => Some(f.inode().clone()),
        (None, true) => Some(Inode::new_shmem(len)),
        (None, false) => None,
    };
    let start = {
        let mut tlb = MmuGather::new(mm.pgd_phys());
        let mut inner = mm.inner.lock_irqsave();
        let start = if fixed {
            if inner.overlaps(addr, addr + len) {
                if flags & MAP_FIXED_NOREPLACE != 0 && flags & MAP_FIXED == 0 {
                    return Err(EEXIST);
                }
                inner.remove_vmas(addr, addr + len);
                zap_page_range(&mut mm.pt(), addr, addr + len, &mut tlb);
            }
            addr
        } else {
            inner.get_unmapped_area(page_down(addr), len)?
        };
        let pgoff = if file.is_some() { off / PAGE_SIZE } else { 0 };
        let v = match backing {
            Some(inode) => Vma { start, end: start + len, flags: vm | if shared { VM_SHARED } else { 0 }, pgoff, file: Some(inode) },
            None => Vma::anon(start, start + len, vm),
        };
        inner.insert_vma(v)?;
        start
    };
    Ok(start)
}

/// `sys_munmap`.
pub fn sys_munmap(addr: u64, len: u64) -> KResult<u64> {
    if addr % PAGE_SIZE != 0 || len == 0 || !crate::arch::uaccess::access_ok(addr, page_up(len.min(u64::MAX - PAGE_SIZE)) as usize) {
        return Err(EINVAL);
    }
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(EINVAL)?;
    mm.do_munmap(addr, addr + page_up(len));
    Ok(0)
}
