//! The priority bitmap of the real-time run queue.
//!
//! Mirrors `struct rt_prio_array` of Linux 4.19 `kernel/sched/sched.h` and
//! `kernel/sched/rt.c` (`init_rt_rq`, `__enqueue_rt_entity`,
//! `__delist_rt_entity`, `pick_next_rt_entity`), with
//! `sched_find_first_bit` from `include/asm-generic/bitops/sched.h`.
//!
//! # The model
//!
//! Real-time tasks (`SCHED_FIFO`, `SCHED_RR`) have a priority from 0 to 99,
//! lower numbers being more important (user space's `sched_priority` 99 is
//! kernel priority 0).  Picking one must take constant time whatever the
//! number of tasks, so the RT run queue keeps one FIFO list per priority
//! (`queue[MAX_RT_PRIO]`) and a bitmap with one bit per list, set while the
//! list is not empty.  The next task to run is the head of the list of the
//! first set bit: a handful of word tests, the classic O(1) scheduler
//! trick that Linux kept for its RT class.
//!
//! The bitmap has 101 bits: bit 100 (`MAX_RT_PRIO`) is a *delimiter*, set
//! once in `init_rt_rq` and never cleared, so that a search always finds
//! some bit and "the first bit is 100" means "no RT task".  [`RtPrioBitmap`]
//! keeps it too, in two 64-bit words, and translates it into `None`.
//!
//! # Left out
//!
//! The lists themselves (the kernel keeps them next to the bitmap), the
//! `highest_prio` caches, RT bandwidth throttling and RT push/pull
//! balancing between CPUs.  Where Linux would write out of bounds for a
//! priority of 100 or more, [`RtPrioBitmap`] ignores the request.

/// Number of real-time priorities, 0..=99.
pub const MAX_RT_PRIO: usize = 100;

const WORDS: usize = 2;
/// Word and bit of the delimiter, bit MAX_RT_PRIO.
const DELIM_WORD: usize = MAX_RT_PRIO / 64;
const DELIM_BIT: u64 = 1 << (MAX_RT_PRIO % 64);

/// Which RT priority levels have runnable tasks (the `bitmap` of Linux's
/// `struct rt_prio_array`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtPrioBitmap {
    /// Bits 0..=99 for the priorities, bit 100 the delimiter.
    bits: [u64; WORDS],
}

impl RtPrioBitmap {
    /// An empty bitmap (only the delimiter set), as `init_rt_rq` leaves it.
    pub const fn new() -> Self {
        let mut bits = [0; WORDS];
        bits[DELIM_WORD] = DELIM_BIT;
        RtPrioBitmap { bits }
    }

    /// Word index and mask of `prio`, if it is a real-time priority.
    fn pos(prio: usize) -> Option<(usize, u64)> {
        (prio < MAX_RT_PRIO).then(|| (prio / 64, 1u64 << (prio % 64)))
    }

    /// Mark priority `prio` as having tasks (its list became non-empty).
    /// Ignored for `prio >= 100`.
    pub fn set(&mut self, prio: usize) {
        if let Some((w, m)) = Self::pos(prio) {
            self.bits[w] |= m;
        }
    }

    /// Mark priority `prio` as empty.  Ignored for `prio >= 100` (so the
    /// delimiter cannot be cleared).
    pub fn clear(&mut self, prio: usize) {
        if let Some((w, m)) = Self::pos(prio) {
            self.bits[w] &= !m;
        }
    }

    /// Does priority `prio` have tasks?  False for `prio >= 100`.
    pub fn test(&self, prio: usize) -> bool {
        match Self::pos(prio) {
            Some((w, m)) => self.bits[w] & m != 0,
            None => false,
        }
    }

    /// `sched_find_first_bit`: the most important priority with tasks (the
    /// lowest number), or `None` if there are none.
    pub fn first(&self) -> Option<usize> {
        let mut base = 0;
        for &word in self.bits.iter() {
            if word != 0 {
                let bit = base + word.trailing_zeros() as usize;
                return (bit < MAX_RT_PRIO).then_some(bit);
            }
            base += 64;
        }
        None
    }

    /// Are all priority levels empty?
    pub fn is_empty(&self) -> bool {
        self.first().is_none()
    }
}

impl Default for RtPrioBitmap {
    fn default() -> Self {
        RtPrioBitmap::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_empty() {
        let b = RtPrioBitmap::new();
        assert!(b.is_empty());
        assert_eq!(b.first(), None);
        assert!((0..MAX_RT_PRIO).all(|p| !b.test(p)));
        assert_eq!(RtPrioBitmap::default(), b);
        // Usable in a static.
        static S: RtPrioBitmap = RtPrioBitmap::new();
        assert!(S.is_empty());
    }

    #[test]
    fn first_is_lowest_number() {
        let mut b = RtPrioBitmap::new();
        b.set(50);
        assert_eq!(b.first(), Some(50));
        b.set(70);
        assert_eq!(b.first(), Some(50));
        b.set(3);
        assert_eq!(b.first(), Some(3));
        b.clear(3);
        assert_eq!(b.first(), Some(50));
        b.clear(50);
        assert_eq!(b.first(), Some(70));
        b.clear(70);
        assert!(b.is_empty());
    }

    #[test]
    fn every_priority_and_word_edges() {
        for p in 0..MAX_RT_PRIO {
            let mut b = RtPrioBitmap::new();
            b.set(p);
            assert!(b.test(p));
            assert_eq!(b.first(), Some(p));
            assert!(!b.is_empty());
            b.set(p); // idempotent
            b.clear(p);
            assert!(!b.test(p));
            assert!(b.is_empty());
        }
        let mut b = RtPrioBitmap::new();
        b.set(99);
        b.set(64);
        b.set(63);
        assert_eq!(b.first(), Some(63));
        b.clear(63);
        assert_eq!(b.first(), Some(64));
        b.clear(64);
        assert_eq!(b.first(), Some(99));
        b.clear(0); // clearing an empty level is harmless
        assert_eq!(b.first(), Some(99));
    }

    #[test]
    fn out_of_range_is_ignored() {
        let mut b = RtPrioBitmap::new();
        for p in [100usize, 101, 127, 128, 1000, usize::MAX] {
            b.set(p);
            assert!(!b.test(p));
            assert!(b.is_empty());
            b.clear(p);
        }
        // The delimiter survives a clear(100): still reports empty, and
        // set levels are still found.
        b.clear(MAX_RT_PRIO);
        b.set(10);
        assert_eq!(b.first(), Some(10));
        b.clear(10);
        assert_eq!(b.first(), None);
        assert_eq!(b, RtPrioBitmap::new());
    }
}
