//! The boot-time memory allocator.
//!
//! Mirrors Linux `mm/memblock.c`: two sorted arrays of physical ranges,
//! `memory` (RAM reported by the firmware) and `reserved` (parts of it
//! already in use: the kernel image, the initrd, page tables, earlier
//! allocations).  Free memory is `memory` minus `reserved`, and an
//! allocation is just a new reservation.  It serves the kernel until the
//! buddy allocator is built (from [`Memblock::free_ranges`]).
//!
//! Left out: NUMA node ids and region flags (hotplug, mirror, nomap), the
//! bottom-up mode, growing the arrays with `memblock_double_array` (the
//! capacity here is fixed and running out is an error), and the debugfs
//! dump.

/// Capacity of each region array.  Linux starts with 128 and can grow; 64
/// is plenty for the e820 map of a virtual machine.
pub const MAX_REGIONS: usize = 64;

/// Linux never hands out the first page, so that a physical address of 0
/// can keep meaning "no memory" to the code that receives it.
const LOWEST_ALLOC_ADDR: u64 = 4096;

/// A range of physical memory `[base, base + size)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    pub base: u64,
    pub size: u64,
}

impl Region {
    /// One past the last byte.  Saturates, although [`Memblock`] never
    /// stores a region that would overflow.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    fn new_range(base: u64, end: u64) -> Region {
        Region {
            base,
            size: end.saturating_sub(base),
        }
    }
}

/// Why a [`Memblock`] operation failed.  The arrays are left as they were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemblockError {
    /// The operation needed more than [`MAX_REGIONS`] regions in one array.
    TooManyRegions,
}

impl core::fmt::Display for MemblockError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MemblockError::TooManyRegions => write!(f, "memblock: more than {MAX_REGIONS} regions"),
        }
    }
}

/// Linux `struct memblock_type`: sorted, non-overlapping and, since no flags
/// are kept, never touching either (touching regions are merged).
#[derive(Clone, Debug)]
struct RegionArray {
    regions: [Region; MAX_REGIONS],
    cnt: usize,
}

impl RegionArray {
    const fn new() -> Self {
        RegionArray {
            regions: [Region { base: 0, size: 0 }; MAX_REGIONS],
            cnt: 0,
        }
    }

    fn as_slice(&self) -> &[Region] {
        self.regions.get(..self.cnt).unwrap_or(&[])
    }

    /// Linux `memblock_add_range`: insert `[base, end)`, merging it with
    /// every region it overlaps or touches.
    fn add(&mut self, base: u64, end: u64) -> Result<(), MemblockError> {
        if base >= end {
            return Ok(());
        }
        let regions = self.as_slice();
        // Regions entirely before the new one (not even touching it)...
        let first = regions.partition_point(|r| r.end() < base);
        // ...and the ones from `first` up to `last` that overlap or touch it.
        let last = first + regions[first..].partition_point(|r| r.base <= end);
        let hit = regions.get(first..last).unwrap_or(&[]);
        let merged = match (hit.first(), hit.last()) {
            (Some(a), Some(b)) => Region::new_range(base.min(a.base), end.max(b.end())),
            _ => Region::new_range(base, end),
        };
        self.replace(first, last, &[merged])
    }

    /// Linux `memblock_remove_range`: cut `[base, end)` out, splitting a
    /// region that straddles it.
    fn remove(&mut self, base: u64, end: u64) -> Result<(), MemblockError> {
        if base >= end {
            return Ok(());
        }
        let regions = self.as_slice();
        let first = regions.partition_point(|r| r.end() <= base);
        let last = first + regions[first..].partition_point(|r| r.base < end);
        let Some(hit) = regions.get(first..last) else {
            return Ok(());
        };
        let (Some(a), Some(b)) = (hit.first(), hit.last()) else {
            return Ok(());
        };
        // What survives: the part of the first region below the hole and
        // the part of the last region above it.
        let below = Region::new_range(a.base, base.max(a.base));
        let above = Region::new_range(end.min(b.end()), b.end());
        let mut keep = [below; 2];
        let mut n = 0;
        for r in [below, above] {
            if r.size != 0 {
                keep[n] = r;
                n += 1;
            }
        }
        self.replace(first, last, &keep[..n])
    }

    /// Replace `regions[first..last]` by `new`, or fail without changing
    /// anything if the result would not fit.
    fn replace(&mut self, first: usize, last: usize, new: &[Region]) -> Result<(), MemblockError> {
        let removed = last.saturating_sub(first);
        let cnt = (self.cnt - removed)
            .checked_add(new.len())
            .ok_or(MemblockError::TooManyRegions)?;
        if cnt > MAX_REGIONS {
            return Err(MemblockError::TooManyRegions);
        }
        let tail = self.cnt - last;
        let new_last = first + new.len();
        self.regions.copy_within(last..self.cnt, new_last);
        self.regions[first..new_last].copy_from_slice(new);
        self.cnt = new_last + tail;
        Ok(())
    }

    fn total_size(&self) -> u64 {
        self.as_slice()
            .iter()
            .fold(0u64, |sum, r| sum.saturating_add(r.size))
    }
}

/// Linux `memblock_cap_size`: clip a range so that its end fits in a u64.
fn cap(base: u64, size: u64) -> (u64, u64) {
    (base, base.saturating_add(size))
}

/// The boot-time allocator: which physical memory exists and which of it is
/// taken.
#[derive(Clone, Debug)]
pub struct Memblock {
    memory: RegionArray,
    reserved: RegionArray,
    /// Allocations end at or below this address (`memblock.current_limit`).
    limit: u64,
}

impl Default for Memblock {
    fn default() -> Self {
        Self::new()
    }
}

impl Memblock {
    /// An empty allocator with no limit; `const` so it can be a static.
    pub const fn new() -> Self {
        Memblock {
            memory: RegionArray::new(),
            reserved: RegionArray::new(),
            limit: u64::MAX,
        }
    }

    /// Linux `memblock_add`: `[base, base + size)` is usable RAM.
    pub fn add(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let (base, end) = cap(base, size);
        self.memory.add(base, end)
    }

    /// Linux `memblock_remove`: `[base, base + size)` is not RAM after all.
    pub fn remove(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let (base, end) = cap(base, size);
        self.memory.remove(base, end)
    }

    /// Linux `memblock_reserve`: `[base, base + size)` is in use.  It need
    /// not lie inside `memory`; firmware tables often do not.
    pub fn reserve(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let (base, end) = cap(base, size);
        self.reserved.add(base, end)
    }

    /// Linux `memblock_phys_free`: give back a reservation or part of one.
    pub fn free(&mut self, base: u64, size: u64) -> Result<(), MemblockError> {
        let (base, end) = cap(base, size);
        self.reserved.remove(base, end)
    }

    /// Linux `memblock_set_current_limit`: later allocations must end at or
    /// below `limit`, e.g. while only the low memory is mapped.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// The current allocation limit (`u64::MAX` means none).
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Linux `memblock_phys_alloc`: reserve and return `size` bytes aligned
    /// to `align`, at the highest free address below the limit.
    ///
    /// Top-down, as Linux does by default, so that scarce low memory (for
    /// real-mode trampolines and old DMA) is left for those who need it.
    /// `align` must be a power of two; 0 means no alignment.  Returns `None`
    /// if `size` is 0, `align` is not a power of two, nothing fits, or the
    /// reserved array is full.
    pub fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
        let align = if align == 0 { 1 } else { align };
        if size == 0 || !align.is_power_of_two() {
            return None;
        }
        // Free ranges come lowest first, so the last fit is the highest.
        let mut found = None;
        for r in self.free_ranges() {
            let start = r.base.max(LOWEST_ALLOC_ADDR);
            let end = r.end().min(self.limit);
            let Some(top) = end.checked_sub(size) else {
                continue;
            };
            let candidate = top & !(align - 1);
            if candidate >= start {
                found = Some(candidate);
            }
        }
        let base = found?;
        self.reserve(base, size).ok()?;
        Some(base)
    }

    /// The free memory, `memory` minus `reserved`, lowest first.
    pub fn free_ranges(&self) -> impl Iterator<Item = Region> + '_ {
        FreeRanges {
            memory: self.memory.as_slice(),
            reserved: self.reserved.as_slice(),
            mi: 0,
            ri: 0,
            pos: 0,
        }
    }

    /// Bytes of RAM.
    pub fn total_memory(&self) -> u64 {
        self.memory.total_size()
    }

    /// Bytes of RAM that are reserved; reservations outside RAM do not
    /// count.
    pub fn total_reserved_in_memory(&self) -> u64 {
        let free = self
            .free_ranges()
            .fold(0u64, |sum, r| sum.saturating_add(r.size));
        self.total_memory().saturating_sub(free)
    }

    /// Bytes reserved, whether in RAM or not (Linux `memblock_reserved_size`).
    pub fn total_reserved(&self) -> u64 {
        self.reserved.total_size()
    }

    /// The RAM regions, sorted by address.
    pub fn memory(&self) -> &[Region] {
        self.memory.as_slice()
    }

    /// The reserved regions, sorted by address.
    pub fn reserved(&self) -> &[Region] {
        self.reserved.as_slice()
    }

    /// Linux `memblock_is_region_reserved`: does `[base, base + size)`
    /// overlap a reservation?
    pub fn is_reserved(&self, base: u64, size: u64) -> bool {
        let (base, end) = cap(base, size);
        self.reserved()
            .iter()
            .any(|r| r.base < end && base < r.end())
    }
}

/// Linux `for_each_free_mem_range`: walk both sorted arrays together,
/// yielding the gaps the reservations leave in each memory region.
struct FreeRanges<'a> {
    memory: &'a [Region],
    reserved: &'a [Region],
    /// Current memory region.
    mi: usize,
    /// First reservation that may still matter: earlier ones end before
    /// `pos`.
    ri: usize,
    /// Everything below this address has been dealt with.
    pos: u64,
}

impl Iterator for FreeRanges<'_> {
    type Item = Region;

    fn next(&mut self) -> Option<Region> {
        loop {
            let m = *self.memory.get(self.mi)?;
            let start = self.pos.max(m.base);
            if start >= m.end() {
                self.mi += 1;
                continue;
            }
            while self.reserved.get(self.ri).is_some_and(|r| r.end() <= start) {
                self.ri += 1;
            }
            match self.reserved.get(self.ri) {
                // `start` is inside a reservation: jump over it.
                Some(r) if r.base <= start => self.pos = r.end(),
                // A reservation begins later in this region: the gap up to
                // it is free.
                Some(r) if r.base < m.end() => {
                    self.pos = r.end();
                    return Some(Region::new_range(start, r.base));
                }
                // No reservation in the rest of this region.
                _ => {
                    self.pos = m.end();
                    self.mi += 1;
                    return Some(Region::new_range(start, m.end()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn r(base: u64, size: u64) -> Region {
        Region { base, size }
    }

    fn free(m: &Memblock) -> Vec<Region> {
        m.free_ranges().collect()
    }

    /// The array invariant: sorted, non-empty regions with gaps between.
    fn check(regions: &[Region]) {
        for x in regions {
            assert!(x.size > 0, "{regions:?}");
        }
        for w in regions.windows(2) {
            assert!(w[0].end() < w[1].base, "{regions:?}");
        }
    }

    #[test]
    fn empty() {
        let m = Memblock::new();
        assert!(m.memory().is_empty());
        assert!(m.reserved().is_empty());
        assert_eq!(free(&m), vec![]);
        assert_eq!(m.total_memory(), 0);
        assert_eq!(m.total_reserved_in_memory(), 0);
        assert_eq!(Memblock::default().limit(), u64::MAX);
    }

    #[test]
    fn region_end() {
        assert_eq!(r(0x1000, 0x2000).end(), 0x3000);
        assert_eq!(r(u64::MAX - 1, 10).end(), u64::MAX);
    }

    #[test]
    fn add_keeps_sorted_and_merges() {
        let mut m = Memblock::new();
        m.add(0x10000, 0x1000).unwrap();
        m.add(0x1000, 0x1000).unwrap();
        m.add(0x5000, 0x1000).unwrap();
        assert_eq!(
            m.memory(),
            &[r(0x1000, 0x1000), r(0x5000, 0x1000), r(0x10000, 0x1000)]
        );
        // Adjacent on the left.
        m.add(0x4000, 0x1000).unwrap();
        assert_eq!(m.memory()[1], r(0x4000, 0x2000));
        // Adjacent on the right.
        m.add(0x11000, 0x1000).unwrap();
        assert_eq!(m.memory()[2], r(0x10000, 0x2000));
        // Overlapping two at once and filling the gap.
        m.add(0x1800, 0x3000).unwrap();
        assert_eq!(m.memory(), &[r(0x1000, 0x5000), r(0x10000, 0x2000)]);
        // Contained: no change.
        m.add(0x2000, 0x100).unwrap();
        assert_eq!(m.memory(), &[r(0x1000, 0x5000), r(0x10000, 0x2000)]);
        // Covering everything.
        m.add(0, 0x100000).unwrap();
        assert_eq!(m.memory(), &[r(0, 0x100000)]);
        // Zero size is a no-op.
        m.add(0x200000, 0).unwrap();
        assert_eq!(m.memory(), &[r(0, 0x100000)]);
        assert_eq!(m.total_memory(), 0x100000);
    }

    #[test]
    fn add_near_top_of_address_space() {
        let mut m = Memblock::new();
        m.add(u64::MAX - 0x1000, 0x10000).unwrap();
        assert_eq!(m.memory(), &[r(u64::MAX - 0x1000, 0x1000)]);
        m.add(u64::MAX, u64::MAX).unwrap();
        assert_eq!(m.memory(), &[r(u64::MAX - 0x1000, 0x1000)]);
        m.reserve(u64::MAX - 0x800, u64::MAX).unwrap();
        assert_eq!(free(&m), vec![r(u64::MAX - 0x1000, 0x800)]);
        m.add(0, u64::MAX).unwrap();
        assert_eq!(m.memory(), &[r(0, u64::MAX)]);
        assert_eq!(m.total_memory(), u64::MAX);
        // Below the reservation at the top: [.., 0xffff_ffff_ffff_f7ff).
        assert_eq!(m.alloc(0x1000, 0x1000), Some(0xffff_ffff_ffff_e000));
    }

    #[test]
    fn too_many_regions_is_an_error() {
        let mut m = Memblock::new();
        for i in 0..MAX_REGIONS as u64 {
            m.add(i * 0x2000, 0x1000).unwrap();
        }
        let before: Vec<Region> = m.memory().to_vec();
        assert_eq!(
            m.add(0x1000_0000, 0x1000),
            Err(MemblockError::TooManyRegions)
        );
        assert_eq!(m.memory(), &before[..]);
        // Merging into an existing region still works when full.
        m.add(0x1000, 0x1000).unwrap();
        assert_eq!(m.memory().len(), MAX_REGIONS - 1);
        m.add(0x1000_0000, 0x1000).unwrap();
        check(m.memory());
    }

    #[test]
    fn reserve_splits_free_range() {
        let mut m = Memblock::new();
        m.add(0x1000, 0xf000).unwrap();
        m.reserve(0x4000, 0x2000).unwrap();
        assert_eq!(free(&m), vec![r(0x1000, 0x3000), r(0x6000, 0xa000)]);
        assert_eq!(m.total_reserved_in_memory(), 0x2000);
        m.reserve(0x5000, 0x2000).unwrap();
        assert_eq!(m.reserved(), &[r(0x4000, 0x3000)]);
        assert_eq!(free(&m), vec![r(0x1000, 0x3000), r(0x7000, 0x9000)]);
    }

    #[test]
    fn free_ranges_with_many_overlaps() {
        let mut m = Memblock::new();
        m.add(0x0, 0x10000).unwrap();
        m.add(0x20000, 0x10000).unwrap();
        m.add(0x40000, 0x10000).unwrap();
        // Outside memory, straddling a hole, at the very start, at the end.
        m.reserve(0x80000, 0x1000).unwrap();
        m.reserve(0xf000, 0x12000).unwrap();
        m.reserve(0x0, 0x1000).unwrap();
        m.reserve(0x4f000, 0x1000).unwrap();
        m.reserve(0x44000, 0x1000).unwrap();
        assert_eq!(
            free(&m),
            vec![
                r(0x1000, 0xe000),
                r(0x21000, 0xf000),
                r(0x40000, 0x4000),
                r(0x45000, 0xa000)
            ]
        );
        assert_eq!(m.total_memory(), 0x30000);
        // 0x1000 + 0x1000 (low part of the straddler) + 0x1000 + 0x1000 + 0x1000.
        assert_eq!(m.total_reserved_in_memory(), 0x5000);
        assert_eq!(m.total_reserved(), 0x16000);
        assert!(m.is_reserved(0x80fff, 1));
        assert!(!m.is_reserved(0x81000, 0x1000));
    }

    #[test]
    fn reservation_covering_all_memory() {
        let mut m = Memblock::new();
        m.add(0x1000, 0x1000).unwrap();
        m.add(0x3000, 0x1000).unwrap();
        m.reserve(0, 0x10000).unwrap();
        assert_eq!(free(&m), vec![]);
        assert_eq!(m.total_reserved_in_memory(), 0x2000);
        assert_eq!(m.alloc(1, 1), None);
    }

    #[test]
    fn alloc_is_top_down_and_aligned() {
        let mut m = Memblock::new();
        m.add(0x1000, 0x100000).unwrap();
        let a = m.alloc(0x1000, 0x1000).unwrap();
        assert_eq!(a, 0x100000);
        let b = m.alloc(0x10, 0x10000).unwrap();
        assert_eq!(b, 0xf0000);
        assert_eq!(b % 0x10000, 0);
        let c = m.alloc(0x123, 0).unwrap();
        assert_eq!(c, 0x100000 - 0x123);
        assert_eq!(m.reserved(), &[r(0xf0000, 0x10), r(c, 0x1000 + 0x123)]);
        assert_eq!(m.total_reserved_in_memory(), 0x10 + 0x1123);
        check(m.reserved());
    }

    #[test]
    fn alloc_skips_reserved_and_small_gaps() {
        let mut m = Memblock::new();
        m.add(0x10000, 0x10000).unwrap();
        m.reserve(0x1c000, 0x4000).unwrap();
        m.reserve(0x17000, 0x3000).unwrap();
        // The top gap [0x1a000, 0x1c000) is too small for 0x3000.
        assert_eq!(m.alloc(0x3000, 0x1000), Some(0x14000));
        assert_eq!(m.alloc(0x2000, 0x1000), Some(0x1a000));
        assert_eq!(m.alloc(0x4000, 0x1000), Some(0x10000));
        assert_eq!(m.alloc(1, 1), None);
        assert_eq!(free(&m), vec![]);
    }

    #[test]
    fn alloc_failures() {
        let mut m = Memblock::new();
        assert_eq!(m.alloc(0x1000, 0x1000), None);
        m.add(0x1000, 0x3000).unwrap();
        assert_eq!(m.alloc(0x4000, 1), None);
        assert_eq!(m.alloc(0, 0x1000), None);
        assert_eq!(m.alloc(0x10, 3), None);
        assert_eq!(m.alloc(u64::MAX, 1), None);
        assert_eq!(m.alloc(0x1000, 1 << 63), None);
        // Alignment pushes the candidate below the range.
        assert_eq!(m.alloc(0x1000, 0x4000), None);
        assert!(m.reserved().is_empty());
    }

    #[test]
    fn alloc_never_returns_the_first_page() {
        let mut m = Memblock::new();
        m.add(0, 0x2000).unwrap();
        assert_eq!(m.alloc(0x1000, 0x1000), Some(0x1000));
        assert_eq!(m.alloc(0x1000, 0x1000), None);
        assert_eq!(m.alloc(1, 1), None);
    }

    #[test]
    fn alloc_respects_limit() {
        let mut m = Memblock::new();
        m.add(0x100000, 0x1000000).unwrap();
        m.set_limit(0x200000);
        assert_eq!(m.limit(), 0x200000);
        assert_eq!(m.alloc(0x1000, 0x1000), Some(0x1ff000));
        // Free below the limit is now [0x100000, 0x1ff000).
        assert_eq!(m.alloc(0x100000, 0x1000), None);
        assert_eq!(m.alloc(0xff000, 0x1000), Some(0x100000));
        assert_eq!(m.alloc(0x1000, 0x1000), None);
        m.set_limit(0x80000);
        assert_eq!(m.alloc(1, 1), None);
        m.set_limit(u64::MAX);
        assert_eq!(m.alloc(0x1000, 0x1000), Some(0x10ff000));
    }

    #[test]
    fn alloc_fails_cleanly_when_reserved_array_is_full() {
        let mut m = Memblock::new();
        m.add(0, 0x1000_0000).unwrap();
        for i in 0..MAX_REGIONS as u64 {
            m.reserve(0x10000 + i * 0x2000, 0x1000).unwrap();
        }
        // Below 0xf000 an allocation would need a new, separate region.
        m.set_limit(0xf000);
        let before = m.reserved().to_vec();
        assert_eq!(m.alloc(0x1000, 0x1000), None);
        assert_eq!(m.reserved(), &before[..]);
        // Right above the highest reservation [0x8e000, 0x8f000) it merges.
        m.set_limit(0x90000);
        assert_eq!(m.alloc(0x1000, 0x1000), Some(0x8f000));
        // Filling the gap below it joins two regions, freeing a slot...
        assert_eq!(m.alloc(0x1000, 0x1000), Some(0x8d000));
        assert_eq!(m.reserved().len(), MAX_REGIONS - 1);
        // ...which a separate allocation can then use.
        m.set_limit(u64::MAX);
        assert_eq!(m.alloc(0x1000, 0x1000), Some(0x0fff_f000));
    }

    #[test]
    fn free_and_remove() {
        let mut m = Memblock::new();
        m.add(0x0, 0x10000).unwrap();
        m.reserve(0x2000, 0x8000).unwrap();
        m.free(0x4000, 0x1000).unwrap();
        assert_eq!(m.reserved(), &[r(0x2000, 0x2000), r(0x5000, 0x5000)]);
        m.free(0x1000, 0x2000).unwrap();
        assert_eq!(m.reserved(), &[r(0x3000, 0x1000), r(0x5000, 0x5000)]);
        m.free(0x3800, 0x3000).unwrap();
        assert_eq!(m.reserved(), &[r(0x3000, 0x800), r(0x6800, 0x3800)]);
        m.free(0, u64::MAX).unwrap();
        assert!(m.reserved().is_empty());
        m.remove(0x8000, 0x1000).unwrap();
        assert_eq!(m.memory(), &[r(0, 0x8000), r(0x9000, 0x7000)]);
        // Removing nothing that exists.
        m.remove(0x8000, 0x1000).unwrap();
        m.remove(0x100000, 0x1000).unwrap();
        m.remove(0x100000, 0).unwrap();
        assert_eq!(m.total_memory(), 0xf000);
    }

    #[test]
    fn split_fails_cleanly_when_full() {
        let mut m = Memblock::new();
        for i in 0..MAX_REGIONS as u64 {
            m.reserve(i * 0x10000, 0x8000).unwrap();
        }
        let before = m.reserved().to_vec();
        assert_eq!(m.free(0x1000, 0x1000), Err(MemblockError::TooManyRegions));
        assert_eq!(m.reserved(), &before[..]);
        // Trimming an end needs no new region.
        m.free(0, 0x1000).unwrap();
        assert_eq!(m.reserved()[0], r(0x1000, 0x7000));
    }

    #[test]
    fn random_against_a_bitmap() {
        // Model memory as a bitmap of 256 units of 0x100 bytes and check that
        // every operation leaves the arrays describing the same sets.
        const UNIT: u64 = 0x100;
        const N: usize = 256;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut m = Memblock::new();
        let mut mem = [false; N];
        let mut res = [false; N];
        let mut allocs = 0;
        for _ in 0..5000 {
            let a = rnd(N as u64) as usize;
            let len = (rnd(16) + 1) as usize;
            let b = (a + len).min(N);
            let (base, size) = (a as u64 * UNIT, (b - a) as u64 * UNIT);
            let op = rnd(5);
            let ok = match op {
                0 => m.add(base, size).is_ok(),
                1 => m.reserve(base, size).is_ok(),
                2 => m.free(base, size).is_ok(),
                3 => m.remove(base, size).is_ok(),
                _ => match m.alloc(size, UNIT << rnd(3)) {
                    Some(at) => {
                        allocs += 1;
                        assert_eq!(at % UNIT, 0);
                        let block = (at / UNIT) as usize..(at / UNIT) as usize + (b - a);
                        assert!(mem[block.clone()].iter().all(|&m| m), "{at:#x} not RAM");
                        assert!(!res[block.clone()].contains(&true), "{at:#x} taken twice");
                        res[block].fill(true);
                        false
                    }
                    None => false,
                },
            };
            if ok {
                let set = match op {
                    0 | 3 => &mut mem,
                    _ => &mut res,
                };
                set[a..b].fill(op < 2);
            }
            check(m.memory());
            check(m.reserved());
            let mut model_free = [false; N];
            for u in 0..N {
                model_free[u] = mem[u] && !res[u];
                let addr = u as u64 * UNIT;
                let in_mem = m.memory().iter().any(|x| x.base <= addr && addr < x.end());
                assert_eq!(in_mem, mem[u]);
            }
            let mut got_free = [false; N];
            for x in m.free_ranges() {
                assert!(x.size > 0);
                for u in (x.base / UNIT)..(x.end() / UNIT) {
                    got_free[u as usize] = true;
                }
            }
            assert_eq!(got_free, model_free);
            let nfree = model_free.iter().filter(|&&f| f).count() as u64;
            assert_eq!(
                m.total_memory() - m.total_reserved_in_memory(),
                nfree * UNIT
            );
        }
        assert!(allocs > 100, "only {allocs} allocations succeeded");
    }
}
