//! Process ID allocation.
//!
//! Mirrors the number allocation of Linux 4.19 `kernel/pid.c`
//! (`alloc_pid`, `free_pid`) together with the cyclic IDR allocation it
//! relies on (`idr_alloc_cyclic` in `lib/idr.c`).
//!
//! # The model
//!
//! A pid is a number in `1..pid_max` (`pid_max` itself is not a valid pid;
//! the default is 32768, so the largest pid is 32767).  Pid 0 belongs to
//! the idle tasks, one per CPU, which never go through the allocator.
//! Linux 4.19 keeps the pids of a namespace in an IDR, a radix tree that
//! maps numbers to `struct pid`; for the purpose of choosing numbers it
//! behaves like a bitmap of used pids plus a cursor, and that is what
//! [`PidAllocator`] is: one bit per pid, in `u64` words, and `next`, the
//! IDR's `idr_next`, one past the last pid handed out.
//!
//! Allocation is *cyclic*: the search for a free pid starts at the cursor,
//! not at the lowest free number.  A pid that was just freed is therefore
//! not handed out again until the numbers have gone all the way round,
//! which keeps stale pids (in pid files, in a `kill` typed a second too
//! late) from naming a new, unrelated process for as long as possible.
//! When the search reaches `pid_max` it wraps around to the bottom.  The
//! bottom is 1 while the cursor has not yet passed [`RESERVED_PIDS`] (so
//! that init gets pid 1 and the early kernel threads the next few), and
//! [`RESERVED_PIDS`] (300) afterwards: once the system is up, the low pids
//! stay with the daemons and kernel threads that were started at boot and
//! are never reused for ordinary processes, even after their owners exit.
//!
//! [`PidAllocator::alloc_specific`] takes one given pid, as `idr_alloc` with
//! a one-number range does (Linux 5.5's `clone3` `set_tid` works this way);
//! it leaves the cursor alone.
//!
//! # Left out
//!
//! Pid namespaces (one allocator is one namespace; a task in a nested
//! namespace would need one number from each), the `struct pid` objects
//! themselves and their reference counts, the pid hash/IDR lookup of
//! tasks, the `PIDNS_ADDING` state, and the `pid_max` sysctl (the limit is
//! fixed at construction).  Linux turns a full table into `-EAGAIN` for
//! `fork`; here [`PidAllocator::alloc`] returns `None`.  Unlike Linux,
//! freeing a pid that is not allocated is reported instead of corrupting
//! the tree.

use alloc::vec;
use alloc::vec::Vec;

/// Default `pid_max`: pids are 1..=32767.
pub const PID_MAX_DEFAULT: u32 = 32768;
/// Largest `pid_max` a 64-bit Linux accepts (`PID_MAX_LIMIT`, 4 Mi); larger
/// requests are clamped to it.
pub const PID_MAX_LIMIT: u32 = 4 * 1024 * 1024;
/// After the first wrap-around, pids below this are not reused.
pub const RESERVED_PIDS: u32 = 300;

/// Why a pid operation failed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum PidError {
    /// The pid is already allocated (`-EEXIST`).
    Exists,
    /// The pid is 0 or not below `pid_max` (`-EINVAL`).
    Invalid,
    /// The pid is valid but was not allocated.
    NotAllocated,
}

/// The pid numbers of one namespace.
#[derive(Clone, Debug)]
pub struct PidAllocator {
    /// One bit per pid, bit `p % 64` of word `p / 64`; bit 0 (pid 0) is
    /// never set.
    bitmap: Vec<u64>,
    /// Valid pids are `1..pid_max`.
    pid_max: u32,
    /// Linux's `idr_next`: where the next cyclic search starts, one past the
    /// last pid `alloc` handed out (0 before the first).
    next: u32,
    /// Number of set bits.
    nr: u32,
}

impl PidAllocator {
    /// An empty allocator for the pids `1..pid_max`.  `pid_max` is clamped
    /// to [`PID_MAX_LIMIT`]; a `pid_max` of 0 or 1 leaves no pid to give.
    pub fn new(pid_max: u32) -> Self {
        let pid_max = pid_max.min(PID_MAX_LIMIT);
        let words = (pid_max as usize).div_ceil(64);
        PidAllocator {
            bitmap: vec![0; words],
            pid_max,
            next: 0,
            nr: 0,
        }
    }

    /// Is `pid` a number this allocator hands out?
    fn valid(&self, pid: u32) -> bool {
        pid != 0 && pid < self.pid_max
    }

    /// The word index and bit mask of `pid`.  Callers check `valid` first.
    fn pos(pid: u32) -> (usize, u64) {
        ((pid / 64) as usize, 1u64 << (pid % 64))
    }

    /// The lowest clear bit in `from..to`, if any (`to <= pid_max`).
    fn find_free(&self, from: u32, to: u32) -> Option<u32> {
        let to = to.min(self.pid_max);
        if from >= to {
            return None;
        }
        let mut word = (from / 64) as usize;
        // Ignore the bits below `from` in its word by pretending they are set.
        let mut below = (1u64 << (from % 64)) - 1;
        while let Some(&bits) = self.bitmap.get(word) {
            let free = !(bits | below);
            if free != 0 {
                // word < pid_max / 64 + 1 <= 2^16, so this stays in u32.
                let pid = word as u32 * 64 + free.trailing_zeros();
                return (pid < to).then_some(pid);
            }
            if (word as u32 + 1) * 64 >= to {
                return None;
            }
            word += 1;
            below = 0;
        }
        None
    }

    fn set(&mut self, pid: u32) {
        let (w, m) = Self::pos(pid);
        if let Some(bits) = self.bitmap.get_mut(w) {
            *bits |= m;
            self.nr += 1;
        }
    }

    /// `alloc_pid`'s number: the first free pid at or after the cursor,
    /// wrapping to 1 (before the cursor has passed [`RESERVED_PIDS`]) or to
    /// [`RESERVED_PIDS`] (after).  `None` when no pid is free in that range.
    pub fn alloc(&mut self) -> Option<u32> {
        let pid_min = if self.next > RESERVED_PIDS {
            RESERVED_PIDS
        } else {
            1
        };
        let start = self.next.max(pid_min);
        let pid = match self.find_free(start, self.pid_max) {
            Some(pid) => pid,
            None if start > pid_min => self.find_free(pid_min, self.pid_max)?,
            None => return None,
        };
        self.set(pid);
        self.next = pid + 1;
        Some(pid)
    }

    /// Take the given pid, as for init (1) and kthreadd (2) at boot.
    /// [`PidError::Invalid`] for 0 or a pid not below `pid_max`,
    /// [`PidError::Exists`] if it is taken.  The cyclic cursor does not
    /// move.
    pub fn alloc_specific(&mut self, pid: u32) -> Result<(), PidError> {
        if !self.valid(pid) {
            return Err(PidError::Invalid);
        }
        if self.is_allocated(pid) {
            return Err(PidError::Exists);
        }
        self.set(pid);
        Ok(())
    }

    /// `free_pid`'s number: give `pid` back.  [`PidError::Invalid`] for 0 or
    /// a pid not below `pid_max`, [`PidError::NotAllocated`] if it is free.
    pub fn free(&mut self, pid: u32) -> Result<(), PidError> {
        if !self.valid(pid) {
            return Err(PidError::Invalid);
        }
        let (w, m) = Self::pos(pid);
        match self.bitmap.get_mut(w) {
            Some(bits) if *bits & m != 0 => {
                *bits &= !m;
                self.nr -= 1;
                Ok(())
            }
            _ => Err(PidError::NotAllocated),
        }
    }

    /// Is `pid` in use?  False for 0 and anything not below `pid_max`.
    pub fn is_allocated(&self, pid: u32) -> bool {
        if !self.valid(pid) {
            return false;
        }
        let (w, m) = Self::pos(pid);
        self.bitmap.get(w).is_some_and(|bits| bits & m != 0)
    }

    /// Number of pids in use.
    pub fn nr_allocated(&self) -> u32 {
        self.nr
    }

    /// One more than the largest pid this allocator hands out.
    pub fn pid_max(&self) -> u32 {
        self.pid_max
    }

    /// The last pid [`alloc`](Self::alloc) handed out (Linux's old
    /// `pid_ns->last_pid`, shown in `/proc/loadavg`), 0 before the first.
    pub fn last(&self) -> u32 {
        self.next.saturating_sub(1)
    }
}

impl Default for PidAllocator {
    /// An allocator for [`PID_MAX_DEFAULT`].
    fn default() -> Self {
        PidAllocator::new(PID_MAX_DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// The bitmap agrees with the counter and pid 0 is never set.
    fn check(a: &PidAllocator) {
        let ones: u32 = a.bitmap.iter().map(|w| w.count_ones()).sum();
        assert_eq!(ones, a.nr_allocated());
        assert!(!a.is_allocated(0));
        assert_eq!(a.bitmap.first().map_or(0, |w| w & 1), 0);
    }

    #[test]
    fn first_pids_count_up() {
        let mut a = PidAllocator::new(PID_MAX_DEFAULT);
        assert_eq!(a.pid_max(), 32768);
        assert_eq!(a.last(), 0);
        let got: Vec<u32> = (0..5).map(|_| a.alloc().unwrap()).collect();
        assert_eq!(got, [1, 2, 3, 4, 5]);
        assert_eq!(a.nr_allocated(), 5);
        assert_eq!(a.last(), 5);
        assert!(a.is_allocated(3));
        assert!(!a.is_allocated(6));
        check(&a);
    }

    #[test]
    fn allocation_is_cyclic() {
        let mut a = PidAllocator::new(PID_MAX_DEFAULT);
        for _ in 0..10 {
            a.alloc();
        }
        a.free(5).unwrap();
        // Not 5 again, but the one after the last.
        assert_eq!(a.alloc(), Some(11));
        a.free(11).unwrap();
        assert_eq!(a.alloc(), Some(12));
        // Taken pids ahead of the cursor are skipped.
        a.alloc_specific(13).unwrap();
        a.alloc_specific(14).unwrap();
        assert_eq!(a.alloc(), Some(15));
        check(&a);
    }

    #[test]
    fn wrap_goes_to_reserved_pids() {
        let mut a = PidAllocator::new(400);
        for want in 1..400 {
            assert_eq!(a.alloc(), Some(want));
        }
        assert_eq!(a.alloc(), None);
        // Free a low pid and two above RESERVED_PIDS.
        a.free(7).unwrap();
        a.free(350).unwrap();
        a.free(300).unwrap();
        // The search wraps to 300, not 1: pid 7 is never reused.
        assert_eq!(a.alloc(), Some(300));
        assert_eq!(a.alloc(), Some(350));
        assert_eq!(a.alloc(), None);
        assert!(!a.is_allocated(7));
        check(&a);
    }

    #[test]
    fn wrap_from_the_top() {
        let mut a = PidAllocator::new(400);
        for _ in 1..400 {
            a.alloc();
        }
        for p in 1..400 {
            if p != 1 && p != 2 {
                a.free(p).unwrap();
            }
        }
        assert_eq!(a.nr_allocated(), 2);
        // The cursor is at pid_max: wrap to RESERVED_PIDS.
        assert_eq!(a.alloc(), Some(300));
        assert_eq!(a.alloc(), Some(301));
        check(&a);
    }

    #[test]
    fn small_tables_wrap_to_one() {
        // Below RESERVED_PIDS the cursor never passes it: wrap to 1.
        let mut a = PidAllocator::new(10);
        for want in 1..10 {
            assert_eq!(a.alloc(), Some(want));
        }
        assert_eq!(a.alloc(), None);
        a.free(4).unwrap();
        a.free(2).unwrap();
        assert_eq!(a.alloc(), Some(2));
        assert_eq!(a.alloc(), Some(4));
        assert_eq!(a.alloc(), None);
        check(&a);
    }

    #[test]
    fn full_default_table() {
        let mut a = PidAllocator::default();
        let mut n = 0;
        while let Some(p) = a.alloc() {
            n += 1;
            assert_eq!(p, n);
        }
        assert_eq!(n, PID_MAX_DEFAULT - 1);
        assert_eq!(a.nr_allocated(), PID_MAX_DEFAULT - 1);
        assert!(a.is_allocated(32767));
        assert_eq!(a.alloc(), None);
        check(&a);
    }

    #[test]
    fn free_errors() {
        let mut a = PidAllocator::new(100);
        assert_eq!(a.free(0), Err(PidError::Invalid));
        assert_eq!(a.free(100), Err(PidError::Invalid));
        assert_eq!(a.free(u32::MAX), Err(PidError::Invalid));
        assert_eq!(a.free(5), Err(PidError::NotAllocated));
        let p = a.alloc().unwrap();
        assert_eq!(a.free(p), Ok(()));
        assert_eq!(a.free(p), Err(PidError::NotAllocated));
        assert_eq!(a.nr_allocated(), 0);
        check(&a);
    }

    #[test]
    fn specific_pids() {
        let mut a = PidAllocator::new(PID_MAX_DEFAULT);
        assert_eq!(a.alloc_specific(1), Ok(()));
        assert_eq!(a.alloc_specific(2), Ok(()));
        assert_eq!(a.alloc_specific(1), Err(PidError::Exists));
        assert_eq!(a.alloc_specific(0), Err(PidError::Invalid));
        assert_eq!(a.alloc_specific(32768), Err(PidError::Invalid));
        assert_eq!(a.alloc_specific(u32::MAX), Err(PidError::Invalid));
        assert_eq!(a.alloc_specific(32767), Ok(()));
        // The cursor did not move: ordinary allocation continues at 3.
        assert_eq!(a.alloc(), Some(3));
        assert_eq!(a.nr_allocated(), 4);
        check(&a);
    }

    #[test]
    fn degenerate_sizes() {
        for max in [0u32, 1] {
            let mut a = PidAllocator::new(max);
            assert_eq!(a.alloc(), None);
            assert_eq!(a.alloc_specific(1), Err(PidError::Invalid));
            assert_eq!(a.free(1), Err(PidError::Invalid));
            assert!(!a.is_allocated(1));
        }
        let mut a = PidAllocator::new(2);
        assert_eq!(a.alloc(), Some(1));
        assert_eq!(a.alloc(), None);
        // Word boundaries.
        for max in [63u32, 64, 65, 128, 129] {
            let mut a = PidAllocator::new(max);
            let n = core::iter::from_fn(|| a.alloc()).count() as u32;
            assert_eq!(n, max - 1, "pid_max {max}");
            check(&a);
        }
        assert_eq!(PidAllocator::new(u32::MAX).pid_max(), PID_MAX_LIMIT);
    }

    #[test]
    fn churn_against_model() {
        // A simple model: cyclic search over a bool array.
        let max = 700u32;
        let mut a = PidAllocator::new(max);
        let mut used = std::vec![false; max as usize];
        let mut next = 0u32;
        let mut seed = 12345u64;
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (seed >> 33) as u32;
            if !r.is_multiple_of(3) {
                let min = if next > RESERVED_PIDS {
                    RESERVED_PIDS
                } else {
                    1
                };
                let start = next.max(min);
                let want = (start..max).chain(min..start).find(|&p| !used[p as usize]);
                let got = a.alloc();
                assert_eq!(got, want);
                if let Some(p) = want {
                    used[p as usize] = true;
                    next = p + 1;
                }
            } else {
                let p = r % max;
                let res = a.free(p);
                if p == 0 {
                    assert_eq!(res, Err(PidError::Invalid));
                } else if used[p as usize] {
                    assert_eq!(res, Ok(()));
                    used[p as usize] = false;
                } else {
                    assert_eq!(res, Err(PidError::NotAllocated));
                }
            }
        }
        check(&a);
    }
}
