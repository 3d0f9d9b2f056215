//! kmalloc (mirrors mm/slab_common.c's kmalloc caches, with the simplest
//! slab layout: SLOB-like free lists per size class).
//!
//! Sizes up to 2 KiB come from power-of-two caches (16 B .. 2 KiB). A cache
//! grows one page at a time from the buddy allocator and keeps a free list
//! threaded through its free objects; every object of size 2^k sits at a
//! multiple of 2^k, which gives the alignment. Larger requests go straight
//! to the buddy allocator (kmalloc_large). Slab pages are not returned to
//! the buddy allocator when they empty (Linux's shrinkers do that; noted as
//! future work in docs/architecture.md).
//!
//! This is the Rust global allocator, so `Box`, `Vec` and friends use it.

use super::{page_alloc, phys_to_virt, virt_to_phys, PAGE_SIZE};
use crate::sync::SpinLock;
use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

const KMALLOC_MIN_SHIFT: u32 = 4;
const KMALLOC_MAX_SHIFT: u32 = 11;
const NR_CACHES: usize = (KMALLOC_MAX_SHIFT - KMALLOC_MIN_SHIFT + 1) as usize;
pub const KMALLOC_MAX_CACHE_SIZE: usize = 1 << KMALLOC_MAX_SHIFT;

struct Cache {
    /// Head of the free list (virtual address of a free object, 0 = empty).
    free: usize,
}

/// One lock per size class. Lock order: a cache lock, then zone->lock.
static CACHES: [SpinLock<Cache>; NR_CACHES] = [const { SpinLock::new("kmalloc cache", Cache { free: 0 }) }; NR_CACHES];

pub struct SlabStats {
    pub active_objects: [AtomicUsize; NR_CACHES],
    pub slab_pages: [AtomicUsize; NR_CACHES],
    pub large_pages: AtomicUsize,
}
pub static STATS: SlabStats = SlabStats {
    active_objects: [const { AtomicUsize::new(0) }; NR_CACHES],
    slab_pages: [const { AtomicUsize::new(0) }; NR_CACHES],
    large_pages: AtomicUsize::new(0),
};

/// Size of the kmalloc cache index `i`.
pub fn cache_size(i: usize) -> usize {
    1 << (i as u32 + KMALLOC_MIN_SHIFT)
}

fn kmalloc_index(size: usize) -> usize {
    let s = size.max(1 << KMALLOC_MIN_SHIFT).next_power_of_two();
    (s.trailing_zeros() - KMALLOC_MIN_SHIFT) as usize
}

fn cache_alloc(idx: usize) -> *mut u8 {
    let mut c = CACHES[idx].lock_irqsave();
    if c.free == 0 {
        let Some(page) = page_alloc::alloc_pages(0) else { return core::ptr::null_mut() };
        let base = phys_to_virt(page) as usize;
        let size = cache_size(idx);
        // Thread the new objects onto the free list, lowest address first.
        let mut obj = base + PAGE_SIZE as usize - size;
        loop {
            // SAFETY: obj lies inside the page we just allocated and owns.
            unsafe { (obj as *mut usize).write(c.free) };
            c.free = obj;
            if obj == base {
                break;
            }
            obj -= size;
        }
        STATS.slab_pages[idx].fetch_add(1, Relaxed);
    }
    let obj = c.free;
    // SAFETY: every free-list entry is a free object whose first word is the next link.
    c.free = unsafe { (obj as *const usize).read() };
    STATS.active_objects[idx].fetch_add(1, Relaxed);
    obj as *mut u8
}

fn cache_free(idx: usize, obj: *mut u8) {
    let mut c = CACHES[idx].lock_irqsave();
    // SAFETY: obj came from cache_alloc of this size class and is no longer used.
    unsafe { (obj as *mut usize).write(c.free) };
    c.free = obj as usize;
    STATS.active_objects[idx].fetch_sub(1, Relaxed);
}

pub fn kmalloc(layout: Layout) -> *mut u8 {
    let size = layout.size().max(layout.align());
    if size <= KMALLOC_MAX_CACHE_SIZE {
        return cache_alloc(kmalloc_index(size));
    }
    // Buddy blocks of order n are aligned to 2^n pages, which covers any alignment we get.
    let order = page_alloc::get_order(size);
    match page_alloc::alloc_pages(order) {
        Some(p) => {
            STATS.large_pages.fetch_add(1 << order, Relaxed);
            phys_to_virt(p) as *mut u8
        }
        None => core::ptr::null_mut(),
    }
}

pub fn kfree(ptr: *mut u8, layout: Layout) {
    let size = layout.size().max(layout.align());
    if size <= KMALLOC_MAX_CACHE_SIZE {
        cache_free(kmalloc_index(size), ptr);
    } else {
        let order = page_alloc::get_order(size);
        STATS.large_pages.fetch_sub(1 << order, Relaxed);
        page_alloc::free_pages(virt_to_phys(ptr as u64), order);
    }
}

struct KmallocAllocator;

// SAFETY: kmalloc returns blocks of at least layout.size() bytes aligned to
// layout.align() (see the module doc), never hands out a block twice, and
// kfree gets back the same layout it was allocated with.
unsafe impl GlobalAlloc for KmallocAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        kmalloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        kfree(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: KmallocAllocator = KmallocAllocator;
