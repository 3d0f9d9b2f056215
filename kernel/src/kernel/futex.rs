//! Fast user-space mutexes (mirrors kernel/futex.c of Linux 4.19, the
//! non-PI half, and the robust-list system calls).
//!
//! A futex is a 32-bit word in user memory. User space does the fast path
//! with atomic instructions on the word; the kernel only keeps the queues of
//! tasks sleeping on a word (`futex_wait`) until another task wakes them
//! (`futex_wake`, `futex_requeue`, `futex_wake_op`).
//!
//! **Keys** (`get_futex_key`). The queues are found by a key naming the
//! word, not by its virtual address:
//! - a private futex (FUTEX_PRIVATE_FLAG) is (mm, address): only threads of
//!   one address space can meet on it;
//! - a shared futex in a MAP_SHARED mapping (a ramfs file, or the unlinked
//!   file behind MAP_SHARED|MAP_ANONYMOUS, mm/mmap.rs) is (inode, file page
//!   index, offset in the page), so processes that map the same file page
//!   meet on it whatever their virtual addresses (Linux keys a page-cache
//!   page the same way);
//! - a shared futex in private anonymous memory is (mm, address) marked
//!   FUT_OFF_MMSHARED, as Linux: after fork such a page is copy-on-write,
//!   so only the threads of one mm can really share it.
//! The key holds a reference on the mm or inode (`Arc`), as Linux's
//! get_futex_key_refs, so what a sleeper's key names lives while it sleeps.
//!
//! **Hash buckets** (`hash_futex`): 256 queues, each under a spinlock. No
//! wake-up is lost because the waiter reads the user word *under its
//! bucket lock* and queues itself before dropping it (`futex_wait_setup`);
//! a waker changes the word first and then takes the same lock, so it
//! either finds the waiter queued or the waiter read the new value and
//! returned EAGAIN. The user word is read with a single load that fails
//! instead of faulting the page in (`get_user_u32_nofault`: Linux's
//! pagefault_disable); on a fault the lock is dropped, the page faulted in
//! with an ordinary `get_user`, and the whole step retried.
//!
//! **Waking** (`mark_wake_futex`): the waker takes the entry off its queue,
//! clears its `lock_ptr` (here the bucket index), wakes the task and then
//! sets `wake_done`, all with the bucket locked. A waiter that wakes up for
//! another reason (timeout, signal) takes itself off its queue
//! (`unqueue_me`), re-reading `lock_ptr` under the lock since a requeue may
//! have moved it to another bucket meanwhile; if `lock_ptr` is clear it was
//! woken, and waits for `wake_done` so that the waker's try_to_wake_up
//! cannot land on a later, unrelated sleep.
//!
//! **Timeouts**: FUTEX_WAIT takes a relative timespec (CLOCK_MONOTONIC),
//! FUTEX_WAIT_BITSET an absolute one on CLOCK_MONOTONIC, or CLOCK_REALTIME
//! with FUTEX_CLOCK_REALTIME (converted to the monotonic clock, which the
//! wait runs on: Tine's wall clock is never set, so the two move together).
//! Sleeps are in jiffies, rechecking
//! the clock on every wake-up, so a wait lasts at least its timeout.
//!
//! **Signals**: an untimed wait interrupted by a signal returns ERESTARTSYS
//! (restarted under SA_RESTART, else EINTR), as Linux. A timed wait returns
//! EINTR where Linux returns ERESTART_RESTARTBLOCK with `futex_wait_restart`:
//! the same EINTR when a handler runs, but Tine does not transparently
//! restart a timed wait interrupted by a signal without a handler (a
//! stop/continue), since it has no restart blocks.
//!
//! Left out: the priority-inheritance operations (FUTEX_LOCK_PI,
//! FUTEX_UNLOCK_PI, FUTEX_TRYLOCK_PI, FUTEX_WAIT_REQUEUE_PI,
//! FUTEX_CMP_REQUEUE_PI) are ENOSYS, which Linux also answers when it has no
//! futex cmpxchg; the wait queues are FIFO, not ordered by priority
//! (Linux's plist); get_robust_list allows any pid (Linux checks ptrace
//! access); the robust list head lives in a side table until task_struct
//! gets its `robust_list` field.

use crate::arch::uaccess::{access_ok, copy_from_user, futex_atomic_cmpxchg_inatomic, get_user_u32, get_user_u32_nofault, get_user_u64, put_user_u64};
use crate::fs::inode::Inode;
use crate::kernel::errno::*;
use crate::kernel::sched::{schedule, try_to_wake_up};
use crate::kernel::signal::signal_pending;
use crate::kernel::task::{current, TaskStruct, TASK_INTERRUPTIBLE, TASK_NORMAL, TASK_RUNNING};
use crate::kernel::time::{hz, ktime_get_ns};
use crate::mm::mmap::{MmStruct, VM_ACCESS, VM_SHARED};
use crate::mm::PAGE_SIZE;
use crate::sync::SpinLock;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

pub const FUTEX_WAIT: u32 = 0;
pub const FUTEX_WAKE: u32 = 1;
pub const FUTEX_FD: u32 = 2;
pub const FUTEX_REQUEUE: u32 = 3;
pub const FUTEX_CMP_REQUEUE: u32 = 4;
pub const FUTEX_WAKE_OP: u32 = 5;
pub const FUTEX_LOCK_PI: u32 = 6;
pub const FUTEX_UNLOCK_PI: u32 = 7;
pub const FUTEX_TRYLOCK_PI: u32 = 8;
pub const FUTEX_WAIT_BITSET: u32 = 9;
pub const FUTEX_WAKE_BITSET: u32 = 10;
pub const FUTEX_WAIT_REQUEUE_PI: u32 = 11;
pub const FUTEX_CMP_REQUEUE_PI: u32 = 12;
pub const FUTEX_PRIVATE_FLAG: u32 = 128;
pub const FUTEX_CLOCK_REALTIME: u32 = 256;
pub const FUTEX_CMD_MASK: u32 = !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
pub const FUTEX_BITSET_MATCH_ANY: u32 = 0xffff_ffff;

/// Robust futex word bits (include/uapi/linux/futex.h).
pub const FUTEX_WAITERS: u32 = 0x8000_0000;
pub const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
pub const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// How many robust list entries exit_robust_list follows at most.
const ROBUST_LIST_LIMIT: u32 = 2048;
/// sizeof(struct robust_list_head): next, futex_offset, list_op_pending.
const ROBUST_LIST_HEAD_SIZE: u64 = 24;

/// do_futex's flags.
const FLAGS_SHARED: u32 = 0x01;

/// Bits in the key's offset saying what `ptr` is (Linux's FUT_OFF_*).
const FUT_OFF_INODE: u32 = 1;
const FUT_OFF_MMSHARED: u32 = 2;

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// What a key holds alive while a waiter sleeps on it.
#[derive(Clone)]
enum KeyRef {
    Mm(#[allow(dead_code)] Arc<MmStruct>),
    Inode(#[allow(dead_code)] Arc<Inode>),
}

/// `union futex_key`, compared as Linux's `both` view: (word, ptr, offset).
/// Private and MMSHARED: ptr = the mm, word = the page address; inode:
/// ptr = the inode, word = the file page index. `offset` is the offset in
/// the page plus the FUT_OFF_* bits.
#[derive(Clone)]
pub struct FutexKey {
    word: u64,
    ptr: usize,
    offset: u32,
    _ref: KeyRef,
}

/// `match_futex`.
fn match_futex(a: &FutexKey, b: &FutexKey) -> bool {
    a.word == b.word && a.ptr == b.ptr && a.offset == b.offset
}

/// The part of a `struct futex_q` the sleeping task keeps: where it is
/// queued (Linux's `lock_ptr`: a bucket index, NOT_QUEUED once woken) and
/// whether the waker has finished waking it.
struct FutexWaiter {
    lock_ptr: AtomicUsize,
    wake_done: AtomicBool,
}

const NOT_QUEUED: usize = usize::MAX;

/// `struct futex_q`: one sleeper on one bucket's chain.
struct FutexQ {
    key: FutexKey,
    bitset: u32,
    task: Arc<TaskStruct>,
    waiter: Arc<FutexWaiter>,
}

const FUTEX_HASHSIZE: usize = 256;

/// `futex_queues`: the hash buckets. Lock order: a bucket lock comes after
/// nothing the futex code holds; two buckets are taken lowest index first
/// (`double_lock_hb`); with a bucket held the code takes only a task's
/// pi_lock and rq lock (try_to_wake_up), never an mm lock, and faults are
/// never resolved (the nofault accessors).
static FUTEX_QUEUES: [SpinLock<Vec<FutexQ>>; FUTEX_HASHSIZE] = [const { SpinLock::new("futex_hash_bucket", Vec::new()) }; FUTEX_HASHSIZE];

/// `hash_futex`: the bucket of a key (Linux uses jhash2 over the key; a
/// multiplicative hash of the three words spreads as well here).
fn hash_futex(key: &FutexKey) -> usize {
    let mut h = key.word.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^= (key.ptr as u64).rotate_left(29).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    h ^= key.offset as u64;
    h = (h ^ (h >> 31)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((h ^ (h >> 29)) as usize) % FUTEX_HASHSIZE
}

/// The current task's address space (a kernel thread has none: EFAULT).
fn current_mm() -> KResult<Arc<MmStruct>> {
    current().mm.lock_irqsave().clone().ok_or(EFAULT)
}

/// `get_futex_key`: the key of the futex word at `uaddr` in `mm`. EINVAL if
/// it is not 4-byte aligned, EFAULT if it is not a user address (or, for a
/// shared futex, not mapped: the mapping decides the key).
fn get_futex_key(mm: &Arc<MmStruct>, uaddr: u64, fshared: bool) -> KResult<FutexKey> {
    if uaddr % 4 != 0 {
        return Err(EINVAL);
    }
    if !access_ok(uaddr, 4) {
        return Err(EFAULT);
    }
    let page = uaddr & !(PAGE_SIZE - 1);
    let offset = (uaddr % PAGE_SIZE) as u32;
    let mm_ptr = Arc::as_ptr(mm) as usize;
    if !fshared {
        return Ok(FutexKey { word: page, ptr: mm_ptr, offset, _ref: KeyRef::Mm(mm.clone()) });
    }
    let vma = mm.find_vma(uaddr).ok_or(EFAULT)?;
    if vma.flags & VM_ACCESS == 0 {
        return Err(EFAULT);
    }
    // A shared mapping's word is the file's (every process mapping it
    // agrees on the key); a private mapping's, even of a file, is this
    // mm's, as Linux once the page is the mapping's own copy.
    match vma.file.filter(|_| vma.flags & VM_SHARED != 0) {
        Some(inode) => Ok(FutexKey {
            word: vma.pgoff + (page - vma.start) / PAGE_SIZE,
            ptr: Arc::as_ptr(&inode) as usize,
            offset: offset | FUT_OFF_INODE,
            _ref: KeyRef::Inode(inode),
        }),
        None => Ok(FutexKey { word: page, ptr: mm_ptr, offset: offset | FUT_OFF_MMSHARED, _ref: KeyRef::Mm(mm.clone()) }),
    }
}

/// `mark_wake_futex`: take `q` (already off its chain) out of the wait and
/// wake its task. Called with the bucket lock held, so that `unqueue_me`
/// and a requeue agree on where the waiter is. `q` goes to `woken`, which
/// callers declare before taking the lock: its key may hold the last
/// reference to an inode, dropped only once the lock is released.
fn mark_wake_futex(q: FutexQ, woken: &mut Vec<FutexQ>) {
    q.waiter.lock_ptr.store(NOT_QUEUED, SeqCst);
    try_to_wake_up(&q.task, TASK_NORMAL, 0);
    q.waiter.wake_done.store(true, Release);
    woken.push(q);
}

/// `futex_wake`: wake up to `nr_wake` waiters on `uaddr` whose bitset
/// shares a bit with `bitset` (at least one, as Linux, even for 0).
fn futex_wake(mm: &Arc<MmStruct>, uaddr: u64, flags: u32, nr_wake: i32, bitset: u32) -> KResult<u64> {
    if bitset == 0 {
        return Err(EINVAL);
    }
    let key = get_futex_key(mm, uaddr, flags & FLAGS_SHARED != 0)?;
    let hb = &FUTEX_QUEUES[hash_futex(&key)];
    let mut woken = Vec::new();
    let mut chain = hb.lock();
    let mut ret = 0i32;
    let mut i = 0;
    while i < chain.len() {
        if match_futex(&chain[i].key, &key) && chain[i].bitset & bitset != 0 {
            mark_wake_futex(chain.remove(i), &mut woken);
            ret += 1;
            if ret >= nr_wake {
                break;
            }
        } else {
            i += 1;
        }
    }
    Ok(ret as u64)
}

/// `double_lock_hb`: two buckets, lowest index first; one guard if they
/// are the same bucket.
fn double_lock_hb(
    h1: usize,
    h2: usize,
) -> (crate::sync::SpinLockGuard<'static, Vec<FutexQ>>, Option<crate::sync::SpinLockGuard<'static, Vec<FutexQ>>>) {
    if h1 == h2 {
        (FUTEX_QUEUES[h1].lock(), None)
    } else if h1 < h2 {
        let a = FUTEX_QUEUES[h1].lock();
        (a, Some(FUTEX_QUEUES[h2].lock()))
    } else {
        let b = FUTEX_QUEUES[h2].lock();
        (FUTEX_QUEUES[h1].lock(), Some(b))
    }
}

/// The keys of the two futexes of a requeue or wake-op, and their hash
/// buckets.
fn futex_key_pair(mm: &Arc<MmStruct>, uaddr1: u64, uaddr2: u64, flags: u32) -> KResult<(FutexKey, FutexKey, usize, usize)> {
    let fshared = flags & FLAGS_SHARED != 0;
    let key1 = get_futex_key(mm, uaddr1, fshared)?;
    let key2 = get_futex_key(mm, uaddr2, fshared)?;
    let (h1, h2) = (hash_futex(&key1), hash_futex(&key2));
    Ok((key1, key2, h1, h2))
}

/// `futex_requeue` (FUTEX_REQUEUE, and FUTEX_CMP_REQUEUE with `cmpval`):
/// wake up to `nr_wake` waiters on `uaddr1`, move up to `nr_requeue` more
/// to `uaddr2`; returns how many were woken or moved. With `cmpval`, EAGAIN
/// unless `*uaddr1` still holds it (read under both bucket locks).
fn futex_requeue(mm: &Arc<MmStruct>, uaddr1: u64, flags: u32, uaddr2: u64, nr_wake: i32, nr_requeue: i32, cmpval: Option<u32>) -> KResult<u64> {
    if nr_wake < 0 || nr_requeue < 0 {
        return Err(EINVAL);
    }
    let (key1, key2, h1, h2) = futex_key_pair(mm, uaddr1, uaddr2, flags)?;
    let mut woken = Vec::new();
    loop {
        let (mut g1, mut g2) = double_lock_hb(h1, h2);
        if let Some(cmpval) = cmpval {
            match get_user_u32_nofault(uaddr1) {
                Ok(v) if v != cmpval => return Err(EAGAIN),
                Ok(_) => {}
                Err(_) => {
                    drop((g1, g2));
                    get_user_u32(uaddr1)?; // fault it in, then retry
                    continue;
                }
            }
        }
        let mut task_count = 0i32;
        let mut i = 0;
        while i < g1.len() {
            if task_count - nr_wake >= nr_requeue {
                break;
            }
            if !match_futex(&g1[i].key, &key1) {
                i += 1;
                continue;
            }
            task_count += 1;
            if task_count <= nr_wake {
                mark_wake_futex(g1.remove(i), &mut woken);
                continue;
            }
            // requeue_futex: on to key2's chain, lock_ptr follows.
            match g2.as_mut() {
                Some(chain2) => {
                    let mut q = g1.remove(i);
                    q.key = key2.clone();
                    q.waiter.lock_ptr.store(h2, SeqCst);
                    chain2.push(q);
                }
                None => {
                    g1[i].key = key2.clone();
                    i += 1;
                }
            }
        }
        return Ok(task_count as u64);
    }
}

/// `futex_atomic_op_inuser` (FUTEX_WAKE_OP's encoded operation on
/// `*uaddr`): apply the operation atomically and compare the old value.
/// Ok(true/false) is the comparison, ENOSYS an unknown op or comparison,
/// EFAULT a fault (not resolved: the caller holds bucket locks).
fn futex_atomic_op_inuser(encoded_op: u32, uaddr: u64) -> KResult<bool> {
    let op = (encoded_op & 0x7000_0000) >> 28;
    let cmp = (encoded_op & 0x0f00_0000) >> 24;
    let sign_extend12 = |v: u32| ((v << 20) as i32) >> 20;
    let mut oparg = sign_extend12((encoded_op & 0x00ff_f000) >> 12);
    let cmparg = sign_extend12(encoded_op & 0xfff);
    if encoded_op & (8 << 28) != 0 {
        // FUTEX_OP_OPARG_SHIFT: Linux masks a bad shift to 0..31 too.
        oparg = 1i32.wrapping_shl((oparg & 31) as u32);
    }
    if op > 4 {
        return Err(ENOSYS);
    }
    // arch_futex_atomic_op_inuser: a cmpxchg loop for every operation.
    let mut oldval = get_user_u32_nofault(uaddr)?;
    loop {
        let o = oparg as u32;
        let newval = match op {
            0 => o,                       // FUTEX_OP_SET
            1 => oldval.wrapping_add(o),  // FUTEX_OP_ADD
            2 => oldval | o,              // FUTEX_OP_OR
            3 => oldval & !o,             // FUTEX_OP_ANDN
            _ => oldval ^ o,              // FUTEX_OP_XOR
        };
        let cur = futex_atomic_cmpxchg_inatomic(uaddr, oldval, newval)?;
        if cur == oldval {
            break;
        }
        oldval = cur;
    }
    let oldval = oldval as i32;
    match cmp {
        0 => Ok(oldval == cmparg), // FUTEX_OP_CMP_EQ
        1 => Ok(oldval != cmparg), // FUTEX_OP_CMP_NE
        2 => Ok(oldval < cmparg),  // FUTEX_OP_CMP_LT
        3 => Ok(oldval <= cmparg), // FUTEX_OP_CMP_LE
        4 => Ok(oldval > cmparg),  // FUTEX_OP_CMP_GT
        5 => Ok(oldval >= cmparg), // FUTEX_OP_CMP_GE
        _ => Err(ENOSYS),
    }
}

/// `fault_in_user_writeable`: resolve a write fault on `uaddr` in `mm`
/// (a copy-on-write break or a missing page), with no lock held.
fn fault_in_user_writeable(mm: &Arc<MmStruct>, uaddr: u64) -> KResult<()> {
    mm.handle_mm_fault(uaddr, true, false, 0)
}

/// `futex_wake_op`: atomically apply `op` to `*uaddr2`, wake up to
/// `nr_wake` waiters on `uaddr1` and, if the comparison of the old value
/// held, up to `nr_wake2` on `uaddr2`. Returns the number woken.
fn futex_wake_op(mm: &Arc<MmStruct>, uaddr1: u64, flags: u32, uaddr2: u64, nr_wake: i32, nr_wake2: i32, op: u32) -> KResult<u64> {
    let (key1, key2, h1, h2) = futex_key_pair(mm, uaddr1, uaddr2, flags)?;
    let mut woken = Vec::new();
    loop {
        let (mut g1, mut g2) = double_lock_hb(h1, h2);
        let op_ret = match futex_atomic_op_inuser(op, uaddr2) {
            Ok(r) => r,
            Err(EFAULT) => {
                drop((g1, g2));
                fault_in_user_writeable(mm, uaddr2)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut ret = 0i32;
        wake_matching(&mut g1, &key1, nr_wake, &mut ret, &mut woken);
        if op_ret {
            let chain2 = match g2.as_mut() {
                Some(c) => c,
                None => &mut g1,
            };
            let mut op_woken = 0i32;
            wake_matching(chain2, &key2, nr_wake2, &mut op_woken, &mut woken);
            ret += op_woken;
        }
        return Ok(ret as u64);
    }
}

/// futex_wake_op's loops: wake up to `nr` (at least one) on `key`.
fn wake_matching(chain: &mut Vec<FutexQ>, key: &FutexKey, nr: i32, count: &mut i32, woken: &mut Vec<FutexQ>) {
    let mut i = 0;
    while i < chain.len() {
        if match_futex(&chain[i].key, key) {
            mark_wake_futex(chain.remove(i), woken);
            *count += 1;
            if *count >= nr {
                break;
            }
        } else {
            i += 1;
        }
    }
}

/// `futex_wait_setup`: read `*uaddr` under its bucket lock and, if it
/// still holds `val`, queue the current task on the bucket (`queue_me`)
/// before the lock is dropped. EAGAIN if the value differs, EFAULT if it
/// cannot be read.
fn futex_wait_setup(mm: &Arc<MmStruct>, uaddr: u64, val: u32, flags: u32, bitset: u32) -> KResult<Arc<FutexWaiter>> {
    loop {
        let key = get_futex_key(mm, uaddr, flags & FLAGS_SHARED != 0)?;
        let h = hash_futex(&key);
        let mut chain = FUTEX_QUEUES[h].lock();
        let uval = match get_user_u32_nofault(uaddr) {
            Ok(v) => v,
            Err(_) => {
                drop(chain);
                get_user_u32(uaddr)?; // fault the page in; retry
                continue;
            }
        };
        if uval != val {
            return Err(EAGAIN);
        }
        let waiter = Arc::new(FutexWaiter { lock_ptr: AtomicUsize::new(h), wake_done: AtomicBool::new(false) });
        chain.push(FutexQ { key, bitset, task: current(), waiter: waiter.clone() });
        return Ok(waiter);
    }
}

/// `futex_wait_queue_me`: sleep until woken, the deadline (ktime ns)
/// passes or a signal is pending.
fn futex_wait_queue_me(q: &FutexWaiter, deadline: Option<u64>) {
    let cur = current();
    loop {
        cur.state.store(TASK_INTERRUPTIBLE, SeqCst);
        if q.lock_ptr.load(SeqCst) == NOT_QUEUED || signal_pending(&cur) {
            break;
        }
        match deadline {
            None => schedule(),
            Some(d) => {
                let now = ktime_get_ns();
                if now >= d {
                    break;
                }
                let j = ((d - now) as u128 * hz() as u128).div_ceil(NSEC_PER_SEC as u128).min(1 << 62) as u64;
                crate::kernel::time::timer::schedule_timeout(j + 1);
            }
        }
    }
    cur.state.store(TASK_RUNNING, SeqCst);
}

/// `unqueue_me`: take the waiter off whatever chain it is on now. false if
/// it was already taken off, i.e. woken (then wait until its waker is done
/// with it).
fn unqueue_me(q: &Arc<FutexWaiter>) -> bool {
    loop {
        let h = q.lock_ptr.load(SeqCst);
        if h == NOT_QUEUED {
            while !q.wake_done.load(Acquire) {
                core::hint::spin_loop();
            }
            return false;
        }
        let removed = {
            let mut chain = FUTEX_QUEUES[h].lock();
            if q.lock_ptr.load(SeqCst) != h {
                continue; // requeued or woken meanwhile
            }
            let i = chain.iter().position(|e| Arc::ptr_eq(&e.waiter, q)).expect("futex_q on its lock_ptr's chain");
            q.lock_ptr.store(NOT_QUEUED, SeqCst);
            q.wake_done.store(true, Release);
            chain.remove(i)
        };
        drop(removed); // its key reference, outside the lock
        return true;
    }
}

/// `futex_wait`: sleep on `uaddr` while it holds `val`, until woken by a
/// waker whose bitset meets `bitset`, the absolute `deadline` (ktime ns)
/// or a signal.
fn futex_wait(mm: &Arc<MmStruct>, uaddr: u64, flags: u32, val: u32, deadline: Option<u64>, bitset: u32) -> KResult<u64> {
    if bitset == 0 {
        return Err(EINVAL);
    }
    crate::sync::might_sleep();
    let q = futex_wait_setup(mm, uaddr, val, flags, bitset)?;
    futex_wait_queue_me(&q, deadline);
    if !unqueue_me(&q) {
        return Ok(0);
    }
    if deadline.is_some_and(|d| ktime_get_ns() >= d) {
        return Err(ETIMEDOUT);
    }
    // Only a signal ends futex_wait_queue_me otherwise.
    if deadline.is_some() {
        Err(EINTR) // Linux: -ERESTART_RESTARTBLOCK (see the module doc)
    } else {
        Err(ERESTARTSYS)
    }
}

/// `do_futex`: the operation in `op`'s command bits, with its flags.
/// `deadline` is the already converted absolute timeout (ktime ns).
pub fn do_futex(uaddr: u64, op: u32, val: u32, deadline: Option<u64>, uaddr2: u64, val2: u32, val3: u32) -> KResult<u64> {
    let cmd = op & FUTEX_CMD_MASK;
    let mut flags = 0;
    if op & FUTEX_PRIVATE_FLAG == 0 {
        flags |= FLAGS_SHARED;
    }
    // FLAGS_CLOCKRT picks the clock of an absolute timeout (converted in
    // sys_futex); only waits may ask for it.
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI {
        return Err(ENOSYS);
    }
    let mm = current_mm()?;
    match cmd {
        FUTEX_WAIT => futex_wait(&mm, uaddr, flags, val, deadline, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAIT_BITSET => futex_wait(&mm, uaddr, flags, val, deadline, val3),
        FUTEX_WAKE => futex_wake(&mm, uaddr, flags, val as i32, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAKE_BITSET => futex_wake(&mm, uaddr, flags, val as i32, val3),
        FUTEX_REQUEUE => futex_requeue(&mm, uaddr, flags, uaddr2, val as i32, val2 as i32, None),
        FUTEX_CMP_REQUEUE => futex_requeue(&mm, uaddr, flags, uaddr2, val as i32, val2 as i32, Some(val3)),
        FUTEX_WAKE_OP => futex_wake_op(&mm, uaddr, flags, uaddr2, val as i32, val2 as i32, val3),
        // The PI operations and the long-gone FUTEX_FD: see the module doc.
        _ => Err(ENOSYS),
    }
}

/// `sys_futex`: the timeout argument is a `struct timespec *` for the wait
/// operations (relative for FUTEX_WAIT, absolute for FUTEX_WAIT_BITSET;
/// EFAULT if unreadable, EINVAL if negative or tv_nsec out of range) and
/// the count `val2` for the requeue and wake-op ones.
pub fn sys_futex(uaddr: u64, op: u32, val: u32, utime: u64, uaddr2: u64, val3: u32) -> KResult<u64> {
    let cmd = op & FUTEX_CMD_MASK;
    let mut deadline = None;
    if utime != 0 && matches!(cmd, FUTEX_WAIT | FUTEX_LOCK_PI | FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI) {
        let mut b = [0u8; 16];
        copy_from_user(&mut b, utime)?;
        let sec = i64::from_le_bytes(b[..8].try_into().unwrap());
        let nsec = i64::from_le_bytes(b[8..].try_into().unwrap());
        if sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&nsec) {
            return Err(EINVAL); // !timespec64_valid
        }
        let t = (sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(nsec as u64);
        deadline = Some(if cmd == FUTEX_WAIT {
            ktime_get_ns().saturating_add(t)
        } else if op & FUTEX_CLOCK_REALTIME != 0 {
            // Waits run on the monotonic clock: move a wall-clock deadline
            // onto it (the wall clock is never set, so they stay in step).
            t.saturating_sub(crate::kernel::time::ktime_real_offset())
        } else {
            t
        });
    }
    let val2 = if matches!(cmd, FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_CMP_REQUEUE_PI | FUTEX_WAKE_OP) { utime as u32 } else { 0 };
    do_futex(uaddr, op, val, deadline, uaddr2, val2, val3)
}

/// The clear_child_tid wake-up of `mm_release` (CLONE_CHILD_CLEARTID,
/// set_tid_address): `do_futex(tid, FUTEX_WAKE, nr)` in `mm`, the exiting
/// task's address space, which must still be the loaded one. Linux uses
/// the shared (non-private) wake here, as waiters (pthread_join in glibc,
/// musl's thread-list lock) wait with a non-private FUTEX_WAIT. Returns
/// how many were woken; errors are for the caller to ignore, as Linux.
pub fn futex_wake_addr(mm: &Arc<MmStruct>, uaddr: u64, nr: u32) -> KResult<u64> {
    futex_wake(mm, uaddr, FLAGS_SHARED, nr as i32, FUTEX_BITSET_MATCH_ANY)
}

/// Registered robust list heads (`task_struct.robust_list`), keyed by the
/// task's address. The `Weak` keeps that address from being reused for
/// another task while the entry exists, so a stale entry can never be
/// taken for a new task's.
static ROBUST_LISTS: SpinLock<BTreeMap<usize, (Weak<TaskStruct>, u64)>> = SpinLock::new("robust_lists", BTreeMap::new());

fn robust_list_of(tsk: &Arc<TaskStruct>) -> u64 {
    ROBUST_LISTS.lock_irqsave().get(&(Arc::as_ptr(tsk) as usize)).map_or(0, |e| e.1)
}

/// `sys_set_robust_list`: remember the head of the calling thread's list
/// of held robust futexes; EINVAL unless `len` is sizeof(struct
/// robust_list_head). The pointer is not checked (Linux neither).
pub fn sys_set_robust_list(head: u64, len: u64) -> KResult<u64> {
    if len != ROBUST_LIST_HEAD_SIZE {
        return Err(EINVAL);
    }
    let cur = current();
    let mut map = ROBUST_LISTS.lock_irqsave();
    if head == 0 {
        map.remove(&(Arc::as_ptr(&cur) as usize));
    } else {
        map.insert(Arc::as_ptr(&cur) as usize, (Arc::downgrade(&cur), head));
    }
    Ok(0)
}

/// `sys_get_robust_list`: the head registered by thread `pid` (0: the
/// caller) into `*head_ptr`, its size into `*len_ptr`. ESRCH for no such
/// thread.
pub fn sys_get_robust_list(pid: i32, head_ptr: u64, len_ptr: u64) -> KResult<u64> {
    let tsk = if pid == 0 { current() } else { crate::kernel::pid::find_task_by_vpid(pid).ok_or(ESRCH)? };
    let head = robust_list_of(&tsk);
    put_user_u64(len_ptr, ROBUST_LIST_HEAD_SIZE)?;
    put_user_u64(head_ptr, head)?;
    Ok(0)
}

/// `handle_futex_death`: if the futex at `uaddr` is held by the dying
/// `tid`, mark it FUTEX_OWNER_DIED (keeping FUTEX_WAITERS) and wake one
/// waiter if there are any (not for a PI futex, whose waiters the kernel
/// would own). EFAULT if the word cannot be read or written.
fn handle_futex_death(mm: &Arc<MmStruct>, uaddr: u64, tid: u32, pi: bool) -> KResult<()> {
    if uaddr % 4 != 0 {
        return Err(EINVAL);
    }
    loop {
        let uval = get_user_u32(uaddr)?;
        if uval & FUTEX_TID_MASK != tid {
            return Ok(());
        }
        let nval = (uval & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
        match futex_atomic_cmpxchg_inatomic(uaddr, uval, nval) {
            Err(_) => fault_in_user_writeable(mm, uaddr)?,
            Ok(cur) if cur != uval => continue,
            Ok(_) => {
                if !pi && nval & FUTEX_WAITERS != 0 {
                    futex_wake(mm, uaddr, FLAGS_SHARED, 1, FUTEX_BITSET_MATCH_ANY)?;
                }
                return Ok(());
            }
        }
    }
}

/// `fetch_robust_entry`: a list pointer whose bit 0 flags a PI futex.
fn fetch_robust_entry(head: u64) -> KResult<(u64, bool)> {
    let v = get_user_u64(head)?;
    Ok((v & !1, v & 1 != 0))
}

/// `exit_robust_list`: walk the dying task's robust list (at most
/// ROBUST_LIST_LIMIT entries, as Linux, so a looping list cannot hang the
/// exit) and release every futex it still held, then forget the head.
/// Called from mm_release with `mm` still loaded; user faults end the walk
/// quietly.
pub fn exit_robust_list(tsk: &Arc<TaskStruct>, mm: &Arc<MmStruct>) {
    let head = match ROBUST_LISTS.lock_irqsave().remove(&(Arc::as_ptr(tsk) as usize)) {
        Some((_, h)) => h,
        None => return,
    };
    let _ = walk_robust_list(head, tsk.pid() as u32, mm);
}

fn walk_robust_list(head: u64, tid: u32, mm: &Arc<MmStruct>) -> KResult<()> {
    let (mut entry, mut pi) = fetch_robust_entry(head)?;
    let futex_offset = get_user_u64(head + 8)? as i64;
    let (pending, pip) = fetch_robust_entry(head + 16)?;
    let mut limit = ROBUST_LIST_LIMIT;
    while entry != head {
        // Fetch the next entry before waking anyone: the owner of the
        // current one may free it once woken.
        let next = fetch_robust_entry(entry);
        if entry != pending {
            let _ = handle_futex_death(mm, entry.wrapping_add(futex_offset as u64), tid, pi);
        }
        (entry, pi) = next?;
        limit -= 1;
        if limit == 0 {
            break;
        }
    }
    if pending != 0 {
        let _ = handle_futex_death(mm, pending.wrapping_add(futex_offset as u64), tid, pip);
    }
    Ok(())
}
