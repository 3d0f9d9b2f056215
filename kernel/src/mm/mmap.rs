//! User address spaces (mirrors mm/mmap.c, mm/memory.c's handle_mm_fault
//! and kernel/fork.c's mm_struct lifetime).
//!
//! An `MmStruct` owns a page table whose upper (kernel) half is shared with
//! every other address space, and a set of VMAs describing what may be
//! mapped below TASK_SIZE. Pages are allocated on first touch
//! (demand-zero); the stack VMA grows down on faults just below it, as
//! Linux's expand_stack. Freeing the mm frees every page it mapped.
//!
//! Left out for now: file-backed and shared mappings, copy-on-write fork
//! (dup_mmap), mprotect, mremap: the rest of issue 4.

use super::pgtable::{PageTable, PteFlags};
use super::{page_alloc, PAGE_SIZE};
use crate::kernel::errno::{KResult, EFAULT, ENOMEM};
use crate::sync::SpinLock;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;

pub const VM_READ: u32 = 0x1;
pub const VM_WRITE: u32 = 0x2;
pub const VM_EXEC: u32 = 0x4;
pub const VM_GROWSDOWN: u32 = 0x100;

/// Linux's x86_64 STACK_TOP without randomization (TASK_SIZE).
pub const STACK_TOP: u64 = 0x7fff_ffff_f000;
/// RLIMIT_STACK default: 8 MiB.
pub const STACK_LIMIT: u64 = 8 << 20;

#[derive(Clone, Copy, Debug)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub flags: u32,
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

/// `struct mm_struct`. Lock order: after the task locks; the page table is
/// only changed with `inner` held.
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

fn pte_flags(vm: u32) -> PteFlags {
    let mut f = PteFlags::PRESENT | PteFlags::USER;
    if vm & VM_WRITE != 0 {
        f |= PteFlags::RW;
    }
    if vm & VM_EXEC == 0 {
        f |= PteFlags::NX;
    }
    f
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

    /// Add a VMA (no overlap allowed).
    pub fn insert_vma(&self, start: u64, end: u64, flags: u32) -> KResult<()> {
        let mut mm = self.inner.lock_irqsave();
        if mm.vmas.range(..end).next_back().is_some_and(|(_, v)| v.end > start) {
            return Err(EFAULT);
        }
        mm.vmas.insert(start, Vma { start, end, flags });
        Ok(())
    }

    pub fn find_vma(&self, addr: u64) -> Option<Vma> {
        let mm = self.inner.lock_irqsave();
        mm.vmas.range(..=addr).next_back().map(|(_, v)| *v).filter(|v| addr < v.end)
    }

    /// Allocate and map a zeroed page at `va` (page aligned) with the VMA's
    /// flags; returns its physical address (so exec can fill it).
    pub fn populate_page(&self, va: u64, vm_flags: u32) -> KResult<u64> {
        if let Some(pa) = self.pgd.translate(va) {
            return Ok(page_down(pa));
        }
        let pa = page_alloc::get_zeroed_page().ok_or(ENOMEM)?;
        let mut pt = PageTable::from_phys(self.pgd.pgd_phys());
        if pt.map_page(va, pa, pte_flags(vm_flags)).is_err() {
            page_alloc::free_pages(pa, 0);
            return Err(ENOMEM);
        }
        Ok(pa)
    }

    /// Copy `data` into this address space at `va` (pages must be mapped
    /// already, e.g. by populate_page), through the direct map.
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

    /// `handle_mm_fault`: make `addr` accessible for this fault, or fail
    /// (the caller turns that into SIGSEGV or a fixup).
    pub fn handle_mm_fault(&self, addr: u64, write: bool, exec: bool, user_rsp: u64) -> KResult<()> {
        let vma = match self.find_vma(addr) {
            Some(v) => v,
            None => self.expand_stack(addr, user_rsp)?,
        };
        if (write && vma.flags & VM_WRITE == 0) || (exec && vma.flags & VM_EXEC == 0) || vma.flags & (VM_READ | VM_WRITE | VM_EXEC) == 0 {
            return Err(EFAULT);
        }
        if self.pgd.translate(addr).is_some() {
            // Present and permitted: a protection fault we cannot resolve
            // (copy-on-write comes with fork).
            return Err(EFAULT);
        }
        self.populate_page(page_down(addr), vma.flags).map(|_| ())
    }

    /// `expand_stack`: a fault just below the stack VMA grows it, within
    /// RLIMIT_STACK and not far below the user's rsp (Linux's 64 KiB + 32
    /// words check for `push`-like accesses, as in 4.19).
    fn expand_stack(&self, addr: u64, user_rsp: u64) -> KResult<Vma> {
        let mut mm = self.inner.lock_irqsave();
        let (&start, stack) = mm.vmas.range(addr..).next().ok_or(EFAULT)?;
        if stack.flags & VM_GROWSDOWN == 0 {
            return Err(EFAULT);
        }
        if addr.saturating_add(65536 + 32 * 8) < user_rsp || stack.end - page_down(addr) > STACK_LIMIT {
            return Err(EFAULT);
        }
        let mut v = *stack;
        mm.vmas.remove(&start);
        v.start = page_down(addr);
        mm.vmas.insert(v.start, v);
        Ok(v)
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

    /// `dup_mmap` for fork: the child gets the same VMAs and its own copy
    /// of every page present in the parent. (Linux shares the pages
    /// copy-on-write; Tine copies them at fork for now: same semantics,
    /// more copying.)
    pub fn dup_mmap(&self) -> KResult<Arc<MmStruct>> {
        let child = MmStruct::new()?;
        let vmas: alloc::vec::Vec<Vma> = {
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
            p.vmas.values().copied().collect()
        };
        let mut buf = alloc::vec![0u8; PAGE_SIZE as usize];
        for v in vmas {
            let mut va = v.start;
            while va < v.end {
                if let Some(pa) = self.pgd.translate(va) {
                    super::copy_from_phys(page_down(pa), &mut buf);
                    let cpa = child.populate_page(va, v.flags)?;
                    super::copy_to_phys(cpa, &buf);
                }
                va += PAGE_SIZE;
            }
        }
        Ok(child)
    }

    /// Unmap and free the pages in [start, end).
    pub fn unmap_range(&self, start: u64, end: u64) {
        let mut pt = PageTable::from_phys(self.pgd.pgd_phys());
        let mut va = start;
        while va < end {
            if let Some(pa) = pt.unmap_page(va) {
                page_alloc::free_pages(pa, 0);
            }
            va += PAGE_SIZE;
        }
    }
}

impl Drop for MmStruct {
    /// `exit_mmap` + `free_pgd_range`: every user page and table goes back.
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
pub const MAP_FIXED: u64 = 0x10;
pub const MAP_ANONYMOUS: u64 = 0x20;
/// Top of the mmap area (Linux's mmap_base without randomization:
/// below the stack's rlimit and a guard gap).
pub const MMAP_BASE: u64 = STACK_TOP - STACK_LIMIT - (128 << 20);

fn prot_to_vm(prot: u64) -> u32 {
    (if prot & PROT_READ != 0 { VM_READ } else { 0 }) | (if prot & PROT_WRITE != 0 { VM_WRITE } else { 0 }) | (if prot & PROT_EXEC != 0 { VM_EXEC } else { 0 })
}

impl MmStruct {
    /// `get_unmapped_area`, top-down below MMAP_BASE.
    fn get_unmapped_area(&self, len: u64) -> KResult<u64> {
        let mm = self.inner.lock_irqsave();
        let mut top = MMAP_BASE;
        for (_, v) in mm.vmas.range(..MMAP_BASE).rev() {
            if v.end <= top && top - v.end >= len {
                return Ok(top - len);
            }
            top = top.min(v.start);
        }
        if top >= len + 0x1_0000 {
            Ok(top - len)
        } else {
            Err(ENOMEM)
        }
    }

    /// `do_munmap`: remove [start, end) from every VMA (splitting) and free its pages.
    pub fn do_munmap(&self, start: u64, end: u64) {
        {
            let mut mm = self.inner.lock_irqsave();
            let hit: alloc::vec::Vec<Vma> = mm.vmas.values().filter(|v| v.start < end && v.end > start).copied().collect();
            for v in hit {
                mm.vmas.remove(&v.start);
                if v.start < start {
                    mm.vmas.insert(v.start, Vma { end: start, ..v });
                }
                if v.end > end {
                    mm.vmas.insert(end, Vma { start: end, ..v });
                }
            }
        }
        self.unmap_range(start, end);
    }
}

/// `sys_mmap` (ksys_mmap_pgoff): anonymous private memory, and private
/// file mappings (the file's bytes are copied in at mmap time). Shared
/// mappings come with the rest of issue 4.
pub fn sys_mmap(addr: u64, len: u64, prot: u64, flags: u64, fd: i64, off: u64) -> KResult<u64> {
    use crate::kernel::errno::{EINVAL, ENODEV};
    if len == 0 || off % PAGE_SIZE != 0 || flags & (MAP_SHARED | MAP_PRIVATE) == 0 {
        return Err(EINVAL);
    }
    if flags & MAP_SHARED != 0 {
        return Err(ENODEV);
    }
    let len = page_up(len);
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(ENOMEM)?;
    let file = if flags & MAP_ANONYMOUS == 0 { Some(crate::fs::syscalls::file_for_mmap(fd as i32)?) } else { None };
    let start = if flags & MAP_FIXED != 0 {
        if addr % PAGE_SIZE != 0 || !crate::arch::uaccess::access_ok(addr, len as usize) {
            return Err(EINVAL);
        }
        mm.do_munmap(addr, addr + len);
        addr
    } else {
        mm.get_unmapped_area(len)?
    };
    let vm = prot_to_vm(prot);
    mm.insert_vma(start, start + len, vm)?;
    if let Some(file) = file {
        // Copy the file's bytes in; the rest of the last page stays zero.
        let mut buf = alloc::vec![0u8; PAGE_SIZE as usize];
        let mut va = start;
        while va < start + len {
            let n = file.inode().read_at(off + (va - start), &mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            let pa = mm.populate_page(va, vm | VM_WRITE)?;
            super::copy_to_phys(pa, &buf[..n]);
            va += PAGE_SIZE;
        }
    }
    Ok(start)
}

/// `sys_munmap`.
pub fn sys_munmap(addr: u64, len: u64) -> KResult<u64> {
    use crate::kernel::errno::EINVAL;
    if addr % PAGE_SIZE != 0 || len == 0 || !crate::arch::uaccess::access_ok(addr, len as usize) {
        return Err(EINVAL);
    }
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(EINVAL)?;
    mm.do_munmap(addr, addr + page_up(len));
    Ok(0)
}
