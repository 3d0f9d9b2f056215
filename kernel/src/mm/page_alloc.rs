//! The zoned page allocator's front end (mirrors mm/page_alloc.c). Tine has
//! one zone covering all of RAM; the buddy algorithm itself is
//! `klib::buddy` (host-tested). `mem_map` (one `struct page` per frame) is
//! allocated from memblock, then every free memblock range is handed over
//! (Linux's memblock_free_all).
//!
//! Page reference counts (`struct page`'s `_refcount`) live in a parallel
//! array, `PAGE_REFS`, one atomic per frame: mem_map's buddy fields belong to
//! the allocator under zone->lock, while references are taken and dropped
//! locklessly by page faults, fork and the page cache. `alloc_pages` sets the
//! head page's count to 1 (set_page_refcounted); `get_page` / `put_page`
//! move it, and the `put_page` that drops the last reference frees an
//! order-0 page. Kernel-internal allocations may ignore the count and call
//! `free_pages` directly, as in Linux. There is no separate `_mapcount`:
//! every PTE mapping a user page holds one reference, and the page cache
//! (a ramfs file's pages) one more, so `page_count == 1` for an anonymous
//! page means "mapped once, by the faulting PTE", which is what do_wp_page
//! asks (Linux 4.19's reuse_swap_page asks the same of the mapcount).
//!
//! Allocation failure is not fatal here: callers get `None`, and a warning
//! like Linux's `page allocation failure: order:N` is printed unless the
//! caller asked for silence (__GFP_NOWARN).

use super::{phys_to_virt, PAGE_SIZE};
use crate::sync::SpinLock;
use core::sync::atomic::{AtomicU32, Ordering::*};
use klib::buddy::{BuddyAllocator, Page, MAX_ORDER};

/// Lock order: innermost except for the console; taken with IRQs off
/// because kmalloc (and so this) may run in interrupt context.
static ZONE: SpinLock<Option<BuddyAllocator<'static>>> = SpinLock::new("zone->lock", None);
/// `_refcount` of every frame below max_pfn (see the module doc).
static PAGE_REFS: crate::sync::Once<&'static [AtomicU32]> = crate::sync::Once::new();
static TOTALRAM_PAGES: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

extern "C" {
    static __text_start: u8;
    static __text_end: u8;
}

pub fn mem_init() {
    let max_pfn = (super::memblock::max_phys_addr() / PAGE_SIZE) as usize;
    let bytes = (max_pfn * core::mem::size_of::<Page>()) as u64;
    let mem_map_phys = super::memblock::memblock_alloc(bytes.next_multiple_of(PAGE_SIZE), PAGE_SIZE)
        .unwrap_or_else(|| crate::kernel::panic::panic(format_args!("Out of memory: cannot allocate mem_map")));
    let ptr = phys_to_virt(mem_map_phys) as *mut Page;
    // SAFETY: memblock just reserved `bytes` bytes at mem_map_phys for us
    // alone, mapped by the direct map; every element is initialized here
    // before the slice is formed, and it lives for the rest of the boot.
    let mem_map: &'static mut [Page] = unsafe {
        for i in 0..max_pfn {
            ptr.add(i).write(Page::new());
        }
        core::slice::from_raw_parts_mut(ptr, max_pfn)
    };
    let refs_bytes = (max_pfn * core::mem::size_of::<AtomicU32>()) as u64;
    let refs_phys = super::memblock::memblock_alloc(refs_bytes.next_multiple_of(PAGE_SIZE), PAGE_SIZE)
        .unwrap_or_else(|| crate::kernel::panic::panic(format_args!("Out of memory: cannot allocate page refcounts")));
    let rptr = phys_to_virt(refs_phys) as *mut AtomicU32;
    // SAFETY: as mem_map: memblock reserved this range for us alone; every
    // element is written before the slice exists, and it is never freed.
    let refs: &'static [AtomicU32] = unsafe {
        for i in 0..max_pfn {
            rptr.add(i).write(AtomicU32::new(0));
        }
        core::slice::from_raw_parts(rptr, max_pfn)
    };
    PAGE_REFS.call_once(|| refs);
    let mut buddy = BuddyAllocator::new(mem_map, 0);
    super::memblock::for_each_free_range(|start, end| {
        buddy.free_range((start / PAGE_SIZE) as usize, (end / PAGE_SIZE) as usize);
    });
    let free = buddy.nr_free_pages();
    TOTALRAM_PAGES.store(buddy.managed_pages(), core::sync::atomic::Ordering::Relaxed);
    *ZONE.lock_irqsave() = Some(buddy);
    let total_k = super::memblock::total_memory() / 1024;
    let (ks, ke) = super::kernel_image_range();
    let code_k = (core::ptr::addr_of!(__text_end) as u64 - core::ptr::addr_of!(__text_start) as u64) / 1024;
    pr_info!(
        "Memory: {}K/{}K available ({}K kernel code, {}K kernel image, {}K reserved)",
        free as u64 * 4,
        total_k,
        code_k,
        (ke - ks) / 1024,
        total_k.saturating_sub(free as u64 * 4)
    );
}

/// Physical address of a 2^order block, or None (with a warning).
pub fn alloc_pages(order: usize) -> Option<u64> {
    let r = alloc_pages_nowarn(order);
    if r.is_none() {
        pr_warn!(
            "swapper/{}: page allocation failure: order:{}, free pages: {}",
            crate::arch::percpu::smp_processor_id(),
            order,
            nr_free_pages()
        );
    }
    r
}

/// `alloc_pages(__GFP_NOWARN)`.
pub fn alloc_pages_nowarn(order: usize) -> Option<u64> {
    if order >= MAX_ORDER {
        return None;
    }
    let pfn = ZONE.lock_irqsave().as_mut()?.alloc(order)?;
    if let Some(r) = page_ref(pfn as u64 * PAGE_SIZE) {
        r.store(1, Release); // set_page_refcounted
    }
    Some(pfn as u64 * PAGE_SIZE)
}

pub fn get_zeroed_page() -> Option<u64> {
    let p = alloc_pages(0)?;
    // SAFETY: the page was just allocated for us and is mapped by the direct map.
    unsafe { core::ptr::write_bytes(phys_to_virt(p) as *mut u8, 0, PAGE_SIZE as usize) };
    Some(p)
}

/// `__free_pages`. Freeing a block that is not allocated (double free, wrong
/// order) is a kernel bug: Linux reports `BUG: Bad page state` and carries on
/// without touching the allocator, and so do we.
pub fn free_pages(phys: u64, order: usize) {
    let r = match ZONE.lock_irqsave().as_mut() {
        Some(z) => z.free((phys / PAGE_SIZE) as usize, order),
        None => return,
    };
    if let Err(bad) = r {
        pr_emerg!("BUG: Bad page state: pfn:{:x} order:{} ({})", bad.pfn, order, bad.reason);
        crate::kernel::panic::dump_stack();
    }
}

fn page_ref(phys: u64) -> Option<&'static AtomicU32> {
    PAGE_REFS.get()?.get((phys / PAGE_SIZE) as usize)
}

/// `page_count`: references held on the page at `phys`.
pub fn page_count(phys: u64) -> u32 {
    page_ref(phys).map_or(0, |r| r.load(Acquire))
}

/// `get_page`: one more reference to a page someone already holds.
pub fn get_page(phys: u64) {
    if let Some(r) = page_ref(phys) {
        r.fetch_add(1, Relaxed);
    }
}

/// `put_page`: drop a reference; the last one frees the (order-0) page.
/// Dropping a reference nobody holds is reported like Linux's
/// `VM_BUG_ON_PAGE(page_ref_count(page) == 0)`, and the page is left alone.
pub fn put_page(phys: u64) {
    let Some(r) = page_ref(phys) else { return };
    match r.fetch_update(AcqRel, Acquire, |c| c.checked_sub(1)) {
        Ok(1) => free_pages(phys & !(PAGE_SIZE - 1), 0),
        Ok(_) => {}
        Err(_) => {
            pr_emerg!("BUG: Bad page state: pfn:{:x} put_page with a zero refcount", phys / PAGE_SIZE);
            crate::kernel::panic::dump_stack();
        }
    }
}

/// An owned reference to one zeroed page (what a ramfs file keeps per
/// page, Linux's page-cache reference); dropping it is `put_page`.
pub struct PageRef(u64);

impl PageRef {
    pub fn alloc_zeroed() -> Option<PageRef> {
        get_zeroed_page().map(PageRef)
    }

    pub fn phys(&self) -> u64 {
        self.0
    }

    /// Copy out of the page at `off` (off + out.len() <= PAGE_SIZE).
    pub fn read(&self, off: usize, out: &mut [u8]) {
        assert!(off + out.len() <= PAGE_SIZE as usize);
        super::copy_from_phys(self.0 + off as u64, out);
    }

    /// Copy into the page at `off` (off + data.len() <= PAGE_SIZE).
    pub fn write(&self, off: usize, data: &[u8]) {
        assert!(off + data.len() <= PAGE_SIZE as usize);
        super::copy_to_phys(self.0 + off as u64, data);
    }

    /// Zero the page from `off` to its end.
    pub fn zero_from(&self, off: usize) {
        assert!(off <= PAGE_SIZE as usize);
        // SAFETY: our page (we hold a reference), in the direct map, and the
        // range stays inside it. User mappings of it may write concurrently,
        // as with Linux's zero_user; bytes, not Rust objects.
        unsafe { core::ptr::write_bytes((phys_to_virt(self.0) + off as u64) as *mut u8, 0, PAGE_SIZE as usize - off) }
    }
}

impl Drop for PageRef {
    fn drop(&mut self) {
        put_page(self.0);
    }
}

pub fn nr_free_pages() -> usize {
    ZONE.lock_irqsave().as_ref().map_or(0, |z| z.nr_free_pages())
}

pub fn totalram_pages() -> usize {
    TOTALRAM_PAGES.load(core::sync::atomic::Ordering::Relaxed)
}

/// The order whose block holds `bytes`.
pub fn get_order(bytes: usize) -> usize {
    let pages = bytes.div_ceil(PAGE_SIZE as usize).max(1);
    pages.next_power_of_two().trailing_zeros() as usize
}
