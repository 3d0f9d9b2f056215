//! The buddy page allocator.
//!
//! Mirrors the buddy system of Linux `mm/page_alloc.c`: free memory is kept
//! as blocks of 2^order pages, naturally aligned, on one free list per order
//! (`free_area[MAX_ORDER]`).  Allocating pops a block of the smallest
//! sufficient order and splits off the unused halves (`expand`); freeing
//! merges the block with its buddy, the other half of the next larger block,
//! for as long as that buddy is free too (`__free_one_page`).  Because a
//! block's buddy is found by flipping one bit of its page frame number, both
//! are O(MAX_ORDER) with no searching.
//!
//! Left out: zones and NUMA nodes (one [`BuddyAllocator`] manages one range
//! of pages), migrate types, per-CPU page lists, watermarks and reclaim,
//! compound pages, and locking (the caller wraps the allocator in its lock).
//!
//! Unlike Linux, freeing checks its argument thoroughly: a double free, a
//! wrong order or a page that was never handed out is reported as
//! [`BadPage`] and leaves the allocator untouched, where Linux would at best
//! print "Bad page state" after the damage is done.

/// Number of block orders: blocks have 2^0 to 2^10 pages, so the largest is
/// 4 MiB with 4 KiB pages, as in Linux.
pub const MAX_ORDER: usize = 11;

/// Marks the end of a free list.
const NIL: u32 = u32::MAX;

/// Head page of a free block, on `free_area[order]` (Linux `PG_buddy`).
const PG_BUDDY: u8 = 1 << 0;
/// Not managed by the allocator: never given to it, like the kernel image
/// or firmware tables (Linux `PG_reserved`).
const PG_RESERVED: u8 = 1 << 1;
/// Head page of an allocated block; `order` says how big it is.  Linux keeps
/// the order of an allocation implicitly (the caller passes it back); here
/// it is recorded so that `free` can check it.
const PG_HEAD: u8 = 1 << 2;

/// Metadata for one physical page (Linux `struct page`).
///
/// Only head pages mean anything: the first page of a free block has
/// `PG_BUDDY` and the block's order, the first page of an allocated block
/// has `PG_HEAD` and the order, and all other pages of a block have no flags.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Free-list links, as page indices from the start of the allocator's
    /// range rather than pointers: half the size, and no `unsafe`.
    next: u32,
    prev: u32,
    order: u8,
    flags: u8,
    _pad: u16,
}

impl Page {
    /// A page the allocator does not manage yet.
    pub const fn new() -> Page {
        Page {
            next: NIL,
            prev: NIL,
            order: 0,
            flags: PG_RESERVED,
            _pad: 0,
        }
    }

    /// Is this the head page of a free block?  Pages inside a free block
    /// other than the first say no, as with Linux `PageBuddy`.
    pub fn is_free(&self) -> bool {
        self.flags & PG_BUDDY != 0
    }

    /// Is this page outside the allocator's care?
    pub fn is_reserved(&self) -> bool {
        self.flags & PG_RESERVED != 0
    }

    /// Is this the head page of an allocated block?
    pub fn is_allocated_head(&self) -> bool {
        self.flags & PG_HEAD != 0
    }

    /// The order of the block this page heads (free or allocated); 0 for
    /// pages that head nothing.
    pub fn order(&self) -> usize {
        if self.flags & (PG_BUDDY | PG_HEAD) != 0 {
            usize::from(self.order)
        } else {
            0
        }
    }
}

impl Default for Page {
    fn default() -> Page {
        Page::new()
    }
}

/// A rejected [`BuddyAllocator::free`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadPage {
    pub pfn: usize,
    pub reason: &'static str,
}

impl core::fmt::Display for BadPage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "BUG: Bad page state: pfn {:#x}: {}",
            self.pfn, self.reason
        )
    }
}

/// One free list and its length (Linux `struct free_area`).
#[derive(Clone, Copy, Debug)]
struct FreeArea {
    head: u32,
    nr_free: usize,
}

/// The buddy allocator for the pages `base_pfn .. base_pfn + pages.len()`.
///
/// Page frame numbers (pfns) are absolute, and blocks are aligned in
/// absolute pfns, so a range that does not start on a 4 MiB boundary simply
/// has smaller blocks at its edges.
pub struct BuddyAllocator<'a> {
    pages: &'a mut [Page],
    base_pfn: usize,
    free_area: [FreeArea; MAX_ORDER],
    nr_free_pages: usize,
    managed_pages: usize,
}

impl<'a> BuddyAllocator<'a> {
    /// Take charge of `pages`, the metadata of the pfns starting at
    /// `base_pfn` (Linux's `mem_map`).  Every page starts reserved, as
    /// before `memblock_free_all`; hand the free ones over with
    /// [`free_range`](Self::free_range).
    ///
    /// Pages beyond what a u32 index or a usize pfn can reach are ignored.
    pub fn new(pages: &'a mut [Page], base_pfn: usize) -> Self {
        let max_len = (NIL as usize).min(usize::MAX - base_pfn);
        let len = pages.len().min(max_len);
        let pages = &mut pages[..len];
        pages.fill(Page::new());
        BuddyAllocator {
            pages,
            base_pfn,
            free_area: [FreeArea {
                head: NIL,
                nr_free: 0,
            }; MAX_ORDER],
            nr_free_pages: 0,
            managed_pages: 0,
        }
    }

    /// First pfn of the range.
    pub fn base_pfn(&self) -> usize {
        self.base_pfn
    }

    /// Number of pages in the range, managed or not.
    pub fn nr_pages(&self) -> usize {
        self.pages.len()
    }

    /// Pages ever handed over with `free_range`.
    pub fn managed_pages(&self) -> usize {
        self.managed_pages
    }

    /// Pages on the free lists.
    pub fn nr_free_pages(&self) -> usize {
        self.nr_free_pages
    }

    /// Free blocks of `order` (0 for orders out of range).
    pub fn nr_free(&self, order: usize) -> usize {
        self.free_area.get(order).map_or(0, |a| a.nr_free)
    }

    /// The metadata of `pfn`, if it is in the range.
    pub fn page(&self, pfn: usize) -> Option<&Page> {
        self.pages.get(pfn.checked_sub(self.base_pfn)?)
    }

    /// Linux `__free_pages_memory`: hand the reserved pages among
    /// `start_pfn..end_pfn` to the allocator, in the largest aligned blocks
    /// that fit, merging them with free neighbours.
    ///
    /// Parts outside the range and pages already handed over are skipped,
    /// so calling this twice on the same pages is harmless.
    pub fn free_range(&mut self, start_pfn: usize, end_pfn: usize) {
        let start = start_pfn.max(self.base_pfn) - self.base_pfn;
        let end = end_pfn.saturating_sub(self.base_pfn).min(self.pages.len());
        let mut idx = start;
        while idx < end {
            if !self.pages[idx].is_reserved() {
                idx += 1;
                continue;
            }
            let run_start = idx;
            while idx < end && self.pages[idx].is_reserved() {
                self.pages[idx].flags = 0;
                idx += 1;
            }
            self.managed_pages += idx - run_start;
            self.free_run(run_start, idx);
        }
    }

    /// Free the (now unflagged) pages `start..end` as aligned blocks.
    fn free_run(&mut self, start: usize, end: usize) {
        let mut idx = start;
        while idx < end {
            let pfn = self.base_pfn + idx;
            // The alignment of the pfn bounds the order, then so does what
            // is left of the run.
            let mut order = (pfn.trailing_zeros() as usize).min(MAX_ORDER - 1);
            while (1 << order) > end - idx {
                order -= 1;
            }
            self.free_one_page(idx, order);
            idx += 1 << order;
        }
    }

    /// Allocate 2^order contiguous pages and return the first pfn, or
    /// `None` if no block is large enough (or `order >= MAX_ORDER`).
    pub fn alloc(&mut self, order: usize) -> Option<usize> {
        // Linux __rmqueue_smallest: the first non-empty list at or above
        // the order asked for.
        let current = (order..MAX_ORDER).find(|&o| self.free_area[o].head != NIL)?;
        let idx = self.free_area[current].head as usize;
        self.del_from_free_list(idx, current);
        self.expand(idx, order, current);

        let page = &mut self.pages[idx];
        page.flags = PG_HEAD;
        page.order = order as u8;
        self.nr_free_pages -= 1 << order;
        Some(self.base_pfn + idx)
    }

    /// Linux `expand`: a block of order `high` at `idx` is being cut down
    /// to order `low`; put the upper halves back on the free lists.
    fn expand(&mut self, idx: usize, low: usize, high: usize) {
        let mut order = high;
        while order > low {
            order -= 1;
            let half = idx + (1 << order);
            self.pages[half].flags = PG_BUDDY;
            self.pages[half].order = order as u8;
            self.add_to_free_list(half, order);
        }
    }

    /// Give back 2^order pages starting at `pfn`, as returned by
    /// `alloc(order)`.  Anything else is refused with the reason, leaving
    /// the allocator as it was.
    pub fn free(&mut self, pfn: usize, order: usize) -> Result<(), BadPage> {
        let bad = |reason| Err(BadPage { pfn, reason });
        if order >= MAX_ORDER {
            return bad("order too large");
        }
        let Some(idx) = pfn
            .checked_sub(self.base_pfn)
            .filter(|&i| i < self.pages.len())
        else {
            return bad("pfn outside the allocator's range");
        };
        if pfn & ((1 << order) - 1) != 0 {
            return bad("pfn not aligned to the order");
        }
        let page = self.pages[idx];
        if page.flags & PG_RESERVED != 0 {
            return bad("page is reserved");
        }
        if page.flags & PG_BUDDY != 0 {
            return bad("double free");
        }
        if page.flags & PG_HEAD == 0 {
            return bad("not the first page of an allocated block");
        }
        if usize::from(page.order) != order {
            return bad("freed with a different order than allocated");
        }

        self.pages[idx].flags = 0;
        self.free_one_page(idx, order);
        Ok(())
    }

    /// Linux `__free_one_page`: put the block of `order` at `idx` on the
    /// free lists, first merging it with its buddy as long as the buddy is
    /// a free block of the same order.
    fn free_one_page(&mut self, mut idx: usize, mut order: usize) {
        self.nr_free_pages += 1 << order;
        while order < MAX_ORDER - 1 {
            let pfn = self.base_pfn + idx;
            let buddy_pfn = pfn ^ (1 << order);
            // The buddy may lie outside the range, at its unaligned edges.
            let Some(buddy) = buddy_pfn
                .checked_sub(self.base_pfn)
                .filter(|&b| b < self.pages.len())
            else {
                break;
            };
            let b = self.pages[buddy];
            if b.flags != PG_BUDDY || usize::from(b.order) != order {
                break;
            }
            self.del_from_free_list(buddy, order);
            // Whichever of the two is higher becomes an interior page.
            self.pages[buddy].flags = 0;
            idx = idx.min(buddy);
            order += 1;
        }
        self.pages[idx].flags = PG_BUDDY;
        self.pages[idx].order = order as u8;
        self.add_to_free_list(idx, order);
    }

    // The free lists.  Every index stored in them is below
    // `pages.len()`, which `new` keeps below NIL, so the indexing here
    // cannot go out of range.

    fn add_to_free_list(&mut self, idx: usize, order: usize) {
        let area = &mut self.free_area[order];
        let old = area.head;
        area.head = idx as u32;
        area.nr_free += 1;
        self.pages[idx].prev = NIL;
        self.pages[idx].next = old;
        if old != NIL {
            self.pages[old as usize].prev = idx as u32;
        }
    }

    fn del_from_free_list(&mut self, idx: usize, order: usize) {
        let Page { next, prev, .. } = self.pages[idx];
        if prev == NIL {
            self.free_area[order].head = next;
        } else {
            self.pages[prev as usize].next = next;
        }
        if next != NIL {
            self.pages[next as usize].prev = prev;
        }
        self.pages[idx].next = NIL;
        self.pages[idx].prev = NIL;
        self.free_area[order].nr_free -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::vec;
    use std::vec::Vec;

    impl BuddyAllocator<'_> {
        /// Walk every free list and check it against the page flags and
        /// the counters.
        fn check(&self) {
            let mut seen = vec![false; self.pages.len()];
            let mut total = 0;
            for order in 0..MAX_ORDER {
                let mut n = 0;
                let mut prev = NIL;
                let mut cur = self.free_area[order].head;
                while cur != NIL {
                    let idx = cur as usize;
                    let p = &self.pages[idx];
                    assert_eq!(p.prev, prev, "broken back link at {idx}");
                    assert!(p.is_free() && p.order() == order, "bad head {idx}: {p:?}");
                    assert_eq!((self.base_pfn + idx) % (1 << order), 0, "misaligned {idx}");
                    let block = idx..idx + (1 << order);
                    assert!(!seen[block.clone()].contains(&true), "{block:?} free twice");
                    seen[block.clone()].fill(true);
                    for interior in &self.pages[block][1..] {
                        assert_eq!(interior.flags, 0, "interior page of {idx}");
                    }
                    // Fully merged: the buddy of a free block is never a free
                    // block of the same order.
                    if order < MAX_ORDER - 1 {
                        let buddy = (self.base_pfn + idx) ^ (1 << order);
                        if let Some(b) = self.page(buddy) {
                            assert!(
                                !(b.is_free() && b.order() == order),
                                "unmerged buddies {idx}"
                            );
                        }
                    }
                    n += 1;
                    prev = cur;
                    cur = p.next;
                }
                assert_eq!(n, self.free_area[order].nr_free);
                total += n << order;
            }
            assert_eq!(total, self.nr_free_pages);
            let reserved = self.pages.iter().filter(|p| p.is_reserved()).count();
            assert_eq!(reserved + self.managed_pages, self.pages.len());
        }

        fn counts(&self) -> [usize; MAX_ORDER] {
            core::array::from_fn(|o| self.nr_free(o))
        }
    }

    fn pages(n: usize) -> Vec<Page> {
        vec![Page::new(); n]
    }

    #[test]
    fn page_is_small() {
        assert!(core::mem::size_of::<Page>() <= 16);
        let p = Page::new();
        assert!(p.is_reserved() && !p.is_free() && !p.is_allocated_head());
        assert_eq!(p.order(), 0);
        assert_eq!(Page::default(), p);
    }

    #[test]
    fn starts_reserved() {
        let mut mem = pages(64);
        let b = BuddyAllocator::new(&mut mem, 0);
        assert_eq!(b.nr_free_pages(), 0);
        assert_eq!(b.managed_pages(), 0);
        assert_eq!(b.nr_pages(), 64);
        b.check();
        let mut b = b;
        assert_eq!(b.alloc(0), None);
        assert_eq!(b.free(3, 0).unwrap_err().reason, "page is reserved");
    }

    #[test]
    fn free_range_uses_largest_aligned_blocks() {
        let mut mem = pages(4096);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        b.free_range(0, 4096);
        b.check();
        assert_eq!(b.nr_free(10), 4);
        assert_eq!(b.nr_free_pages(), 4096);
        assert_eq!(b.managed_pages(), 4096);

        let mut mem = pages(4096);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        // 3..13: blocks 3, 4-7, 8-11, 12.
        b.free_range(3, 13);
        b.check();
        let mut want = [0; MAX_ORDER];
        want[0] = 2;
        want[2] = 2;
        assert_eq!(b.counts(), want);
        // Filling the gaps merges everything below 16 into one block.
        b.free_range(0, 3);
        b.free_range(13, 16);
        b.check();
        let mut want = [0; MAX_ORDER];
        want[4] = 1;
        assert_eq!(b.counts(), want);
    }

    #[test]
    fn free_range_twice_and_out_of_range_is_harmless() {
        let mut mem = pages(100);
        let mut b = BuddyAllocator::new(&mut mem, 1000);
        b.free_range(0, 1050);
        b.free_range(1020, 5000);
        b.free_range(0, usize::MAX);
        b.free_range(2000, 10);
        b.check();
        assert_eq!(b.managed_pages(), 100);
        assert_eq!(b.nr_free_pages(), 100);
    }

    #[test]
    fn split_and_merge_back() {
        let mut mem = pages(1024);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        b.free_range(0, 1024);
        let before = b.counts();

        let p = b.alloc(0).unwrap();
        b.check();
        // One order-10 block became one free block of each order 0..=9.
        for o in 0..10 {
            assert_eq!(b.nr_free(o), 1, "order {o}");
        }
        assert_eq!(b.nr_free(10), 0);
        assert_eq!(b.nr_free_pages(), 1023);
        assert!(b.page(p).unwrap().is_allocated_head());

        let q = b.alloc(3).unwrap();
        assert_eq!(q % 8, 0);
        b.check();
        b.free(p, 0).unwrap();
        b.check();
        b.free(q, 3).unwrap();
        b.check();
        assert_eq!(b.counts(), before);
        assert_eq!(b.nr_free_pages(), 1024);
    }

    #[test]
    fn alloc_every_order() {
        let mut mem = pages(2048);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        b.free_range(0, 2048);
        let mut got = Vec::new();
        for o in 0..MAX_ORDER {
            let pfn = b.alloc(o).unwrap();
            assert_eq!(pfn % (1 << o), 0);
            assert_eq!(b.page(pfn).unwrap().order(), o);
            got.push((pfn, o));
            b.check();
        }
        assert_eq!(b.alloc(MAX_ORDER), None);
        assert_eq!(b.alloc(usize::MAX), None);
        for (pfn, o) in got {
            b.free(pfn, o).unwrap();
            b.check();
        }
        assert_eq!(b.nr_free(10), 2);
    }

    #[test]
    fn exhaustion() {
        let mut mem = pages(16);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        b.free_range(0, 16);
        assert_eq!(b.alloc(5), None);
        let mut all = Vec::new();
        while let Some(p) = b.alloc(0) {
            all.push(p);
        }
        all.sort();
        assert_eq!(all, (0..16).collect::<Vec<_>>());
        assert_eq!(b.nr_free_pages(), 0);
        b.check();
        for p in all {
            b.free(p, 0).unwrap();
        }
        assert_eq!(b.nr_free(4), 1);
        b.check();
    }

    #[test]
    fn double_free_detected() {
        let mut mem = pages(64);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        b.free_range(0, 64);
        let a = b.alloc(2).unwrap();
        let c = b.alloc(2).unwrap();
        assert_eq!(a ^ 4, c, "the two halves of one order-3 block");

        // The buddy is still allocated, so `c` stays a free block's head.
        b.free(c, 2).unwrap();
        let counts = b.counts();
        let e = b.free(c, 2).unwrap_err();
        assert_eq!(
            e,
            BadPage {
                pfn: c,
                reason: "double free"
            }
        );
        assert_eq!(b.counts(), counts);
        b.check();

        // Freeing `a` merges everything back, so the block at the higher of
        // the two addresses is now inside a larger free block.
        b.free(a, 2).unwrap();
        assert_eq!(b.nr_free_pages(), 64);
        let high = a.max(c);
        assert_eq!(
            b.free(high, 2).unwrap_err().reason,
            "not the first page of an allocated block"
        );
        let low = a.min(c);
        assert_eq!(b.free(low, 2).unwrap_err().reason, "double free");
        b.check();
        assert_eq!(b.nr_free(6), 1);
    }

    #[test]
    fn wrong_order_detected() {
        let mut mem = pages(64);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        b.free_range(0, 64);
        let p = b.alloc(2).unwrap();
        let counts = b.counts();
        assert_eq!(
            b.free(p, 1).unwrap_err().reason,
            "freed with a different order than allocated"
        );
        assert_eq!(
            b.free(p, 3).unwrap_err().reason,
            "freed with a different order than allocated"
        );
        // An interior page of a live block.
        assert_eq!(
            b.free(p + 1, 0).unwrap_err().reason,
            "not the first page of an allocated block"
        );
        assert_eq!(b.free(p, MAX_ORDER).unwrap_err().reason, "order too large");
        assert_eq!(b.counts(), counts);
        b.check();
        b.free(p, 2).unwrap();
        assert_eq!(b.nr_free_pages(), 64);
    }

    #[test]
    fn bad_pfns_detected() {
        let mut mem = pages(64);
        let mut b = BuddyAllocator::new(&mut mem, 128);
        b.free_range(128, 192);
        let p = b.alloc(1).unwrap();
        assert_eq!(
            b.free(127, 0).unwrap_err().reason,
            "pfn outside the allocator's range"
        );
        assert_eq!(
            b.free(192, 0).unwrap_err().reason,
            "pfn outside the allocator's range"
        );
        assert_eq!(
            b.free(0, 0).unwrap_err().reason,
            "pfn outside the allocator's range"
        );
        assert_eq!(
            b.free(usize::MAX, 0).unwrap_err().reason,
            "pfn outside the allocator's range"
        );
        assert_eq!(
            b.free(p + 1, 1).unwrap_err().reason,
            "pfn not aligned to the order"
        );
        b.check();
        b.free(p, 1).unwrap();
        b.check();
    }

    #[test]
    fn unaligned_base() {
        // Starts at pfn 1000, not a multiple of 1024, and runs for 3000
        // pages: blocks have to be aligned in absolute pfns.
        let mut mem = pages(3000);
        let mut b = BuddyAllocator::new(&mut mem, 1000);
        b.free_range(1000, 4000);
        b.check();
        assert_eq!(b.nr_free_pages(), 3000);
        // 1000..1024 is 8+16, 1024..3072 is two order-10 blocks, 3072..4000
        // is 512+256+128+32.
        assert_eq!(b.nr_free(10), 2);
        assert_eq!(b.nr_free(3), 1);
        assert_eq!(b.nr_free(4), 1);
        assert_eq!(b.nr_free(5), 1);
        let mut got = Vec::new();
        while let Some(p) = b.alloc(3) {
            assert!((1000..4000).contains(&p) && p % 8 == 0);
            got.push(p);
        }
        assert_eq!(got.len(), 3000 / 8);
        b.check();
        for p in got {
            b.free(p, 3).unwrap();
        }
        b.check();
        assert_eq!(b.nr_free_pages(), 3000);
        assert_eq!(b.nr_free(10), 2);
    }

    #[test]
    fn single_page_zone() {
        let mut mem = pages(1);
        let mut b = BuddyAllocator::new(&mut mem, 4097);
        b.free_range(0, usize::MAX);
        assert_eq!(b.nr_free(0), 1);
        assert_eq!(b.alloc(1), None);
        assert_eq!(b.alloc(0), Some(4097));
        assert_eq!(b.alloc(0), None);
        b.free(4097, 0).unwrap();
        b.check();
        assert_eq!(b.nr_free_pages(), 1);
    }

    #[test]
    fn empty_zone() {
        let mut mem = pages(0);
        let mut b = BuddyAllocator::new(&mut mem, 0);
        b.free_range(0, 100);
        assert_eq!(b.alloc(0), None);
        assert!(b.free(0, 0).is_err());
        b.check();
    }

    #[test]
    fn zone_at_the_top_of_the_pfn_space() {
        let mut mem = pages(10);
        let mut b = BuddyAllocator::new(&mut mem, usize::MAX - 3);
        // Only the pages whose pfn fits are used.
        assert_eq!(b.nr_pages(), 3);
        b.free_range(0, usize::MAX);
        b.check();
        assert_eq!(b.nr_free_pages(), 3);
        let p = b.alloc(0).unwrap();
        b.free(p, 0).unwrap();
        b.check();
    }

    #[test]
    fn odd_sizes_and_holes() {
        for n in [1, 2, 3, 5, 7, 100, 1023, 1025, 1537] {
            for base in [0, 1, 3, 1023] {
                let mut mem = pages(n);
                let mut b = BuddyAllocator::new(&mut mem, base);
                // Leave a reserved hole in the middle, like the kernel image.
                let hole = base + n / 3..base + n / 2;
                b.free_range(base, hole.start);
                b.free_range(hole.end, base + n);
                b.check();
                let expect = n - hole.len();
                assert_eq!(b.nr_free_pages(), expect);
                let mut got = Vec::new();
                while let Some(p) = b.alloc(0) {
                    assert!(!hole.contains(&p));
                    got.push(p);
                }
                assert_eq!(got.len(), expect);
                for p in got.into_iter().rev() {
                    b.free(p, 0).unwrap();
                }
                b.check();
                assert_eq!(b.nr_free_pages(), expect);
            }
        }
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_stress_against_a_model() {
        for (seed, n, base) in [
            (1u64, 3000usize, 1000usize),
            (7, 4096, 0),
            (42, 777, 5),
            (99, 64, 64),
        ] {
            let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut mem = pages(n);
            let mut b = BuddyAllocator::new(&mut mem, base);
            b.free_range(base, base + n);
            let initial = b.counts();
            // Model: live blocks by pfn, and who owns each page.
            let mut live: BTreeMap<usize, usize> = BTreeMap::new();
            let mut owner = vec![false; n];
            let mut live_pages = 0;
            for step in 0..20_000 {
                if rng.below(100) < 55 {
                    let order = rng.below(6).min(rng.below(MAX_ORDER));
                    if let Some(pfn) = b.alloc(order) {
                        assert_eq!(pfn % (1 << order), 0);
                        let block = pfn - base..pfn - base + (1 << order);
                        assert!(
                            !owner[block.clone()].contains(&true),
                            "step {step}: {pfn} handed out while in use"
                        );
                        owner[block].fill(true);
                        live.insert(pfn, order);
                        live_pages += 1 << order;
                    }
                } else if !live.is_empty() {
                    let k = rng.below(live.len());
                    let (&pfn, &order) = live.iter().nth(k).unwrap();
                    // Now and then try a bad free first; it must change
                    // nothing.
                    if rng.below(10) == 0 {
                        let before = b.counts();
                        assert!(b.free(pfn, order + 1).is_err());
                        if order > 0 {
                            assert!(b.free(pfn + 1, order - 1).is_err());
                        }
                        assert_eq!(b.counts(), before);
                    }
                    b.free(pfn, order).unwrap();
                    assert!(
                        b.free(pfn, order).is_err(),
                        "step {step}: double free accepted"
                    );
                    live.remove(&pfn);
                    owner[pfn - base..pfn - base + (1 << order)].fill(false);
                    live_pages -= 1 << order;
                }
                assert_eq!(b.nr_free_pages() + live_pages, n, "step {step}");
                if step % 500 == 0 {
                    b.check();
                }
            }
            for (pfn, order) in core::mem::take(&mut live) {
                b.free(pfn, order).unwrap();
            }
            b.check();
            assert_eq!(b.counts(), initial, "seed {seed}: did not merge back");
        }
    }
}
