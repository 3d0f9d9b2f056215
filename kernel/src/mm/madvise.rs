//! madvise(2) (mirrors mm/madvise.c).
//!
//! MADV_DONTNEED (and MADV_FREE, which Linux may implement lazily and Tine
//! implements the same way) drops the pages of the range: private
//! anonymous memory reads as zeros on the next touch, a shared mapping
//! finds the file's data again. The access-pattern hints (NORMAL, RANDOM,
//! SEQUENTIAL, WILLNEED) are accepted and change nothing. Anything else is
//! EINVAL.

use super::memory::{zap_page_range, MmuGather};
use super::mmap::VM_SHARED;
use super::PAGE_SIZE;
use crate::kernel::errno::{KResult, EINVAL, ENOMEM};

pub const MADV_NORMAL: i32 = 0;
pub const MADV_RANDOM: i32 = 1;
pub const MADV_SEQUENTIAL: i32 = 2;
pub const MADV_WILLNEED: i32 = 3;
pub const MADV_DONTNEED: i32 = 4;
pub const MADV_FREE: i32 = 8;

/// `sys_madvise`.
pub fn sys_madvise(start: u64, len: u64, advice: i32) -> KResult<u64> {
    if !matches!(advice, MADV_NORMAL | MADV_RANDOM | MADV_SEQUENTIAL | MADV_WILLNEED | MADV_DONTNEED | MADV_FREE) {
        return Err(EINVAL);
    }
    if start % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let len = len.checked_add(PAGE_SIZE - 1).ok_or(EINVAL)? & !(PAGE_SIZE - 1);
    let end = start.checked_add(len).ok_or(EINVAL)?;
    if len == 0 {
        return Ok(0);
    }
    let cur = crate::kernel::task::current();
    let mm = cur.mm.lock_irqsave().clone().ok_or(ENOMEM)?;
    let mut tlb = MmuGather::new(mm.pgd_phys());
    let inner = mm.inner.lock_irqsave();
    // MADV_FREE is for private anonymous memory only.
    if advice == MADV_FREE && inner.vmas.range(..end).any(|(_, v)| v.end > start && v.flags & VM_SHARED != 0) {
        return Err(EINVAL);
    }
    if matches!(advice, MADV_DONTNEED | MADV_FREE) {
        // Holes have no PTEs: the mapped parts are dropped, then ENOMEM.
        zap_page_range(&mut mm.pt(), start, end, &mut tlb);
    }
    // "ENOMEM: addresses in the specified range are not currently mapped".
    if !inner.covered(start, end) {
        return Err(ENOMEM);
    }
    Ok(0)
}
