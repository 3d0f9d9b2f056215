//! `struct signal_struct` (mirrors include/linux/sched/signal.h): what the
//! threads of one process (a thread group, CLONE_THREAD) share beyond the
//! address space and the files: the process-wide pending signals, the
//! group exit state, the thread list, the process group and session, and
//! the subreaper flags. Every task has one; a thread shares its creator's
//! (copy_signal), a new process gets its own with the parent's process
//! group and session.
//!
//! It also holds the resource limits (`rlim`), the reaped children's
//! usage (cutime, cstime, ...) and the time of the group's threads that
//! are gone, as Linux's does.
//!
//! Left out: posix timers and itimers, the controlling tty (drivers/tty
//! keeps the session that owns the console), and the per-namespace pid
//! structs: ids here are plain numbers.

use crate::kernel::sched::wait::WaitQueueHead;
use crate::kernel::signal::KSigInfo;
use crate::kernel::task::TaskStruct;
use crate::sync::SpinLock;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::*};

/// signal->flags: the whole group is exiting (exit_group or a fatal signal).
pub const SIGNAL_GROUP_EXIT: u32 = 0x4;

pub struct SignalStruct {
    /// Threads that have not yet passed exit_notify (`live`).
    pub live: AtomicI32,
    /// Process-directed pending signals (`shared_pending`) and their siginfo.
    pub shared_pending: AtomicU64,
    pub shared_info: SpinLock<[KSigInfo; 64]>,
    pub flags: AtomicU32,
    /// A thread is in de_thread (exec), killing the others: their exits
    /// must not turn into a group exit (Linux: group_exit_task).
    pub group_exec: AtomicBool,
    /// The exit code every thread takes once SIGNAL_GROUP_EXIT is set.
    pub group_exit_code: AtomicI32,
    /// The group's threads, leader first (`thread_head`); a thread leaves
    /// in release_task.
    pub threads: SpinLock<Vec<Weak<TaskStruct>>>,
    /// Parents sleep here in wait (any thread's children).
    pub wait_chldexit: WaitQueueHead,
    /// Woken when a thread is released (de_thread waits here).
    pub thread_exit_wait: WaitQueueHead,
    /// Process group and session ids (`pids[PIDTYPE_PGID]`, `[PIDTYPE_SID]`).
    pub pgrp: AtomicI32,
    pub session: AtomicI32,
    /// prctl(PR_SET_CHILD_SUBREAPER), and whether an ancestor set it.
    pub is_child_subreaper: AtomicBool,
    pub has_child_subreaper: AtomicBool,
    /// Resource limits (`rlim`), shared by the threads.
    pub rlim: SpinLock<[crate::kernel::resource::Rlimit; crate::kernel::resource::RLIM_NLIMITS]>,
    /// What reaped children used (cutime, cstime, cnvcsw, cnivcsw), in ns
    /// and counts, added in wait_task_zombie.
    pub cutime: AtomicU64,
    pub cstime: AtomicU64,
    pub cnvcsw: AtomicU64,
    pub cnivcsw: AtomicU64,
    /// CPU time and switches of the group's released threads (__exit_signal).
    pub utime: AtomicU64,
    pub stime: AtomicU64,
    pub nvcsw: AtomicU64,
    pub nivcsw: AtomicU64,
}

impl SignalStruct {
    /// A process's signal_struct, in process group `pgrp` of `session`.
    pub fn new(pgrp: i32, session: i32, has_child_subreaper: bool) -> Arc<SignalStruct> {
        Self::with_rlimits(pgrp, session, has_child_subreaper, crate::kernel::resource::init_rlimits())
    }

    fn with_rlimits(
        pgrp: i32,
        session: i32,
        has_child_subreaper: bool,
        rlim: [crate::kernel::resource::Rlimit; crate::kernel::resource::RLIM_NLIMITS],
    ) -> Arc<SignalStruct> {
        Arc::new(SignalStruct {
            live: AtomicI32::new(1),
            shared_pending: AtomicU64::new(0),
            shared_info: SpinLock::new("siglock", [KSigInfo::default(); 64]),
            flags: AtomicU32::new(0),
            group_exec: AtomicBool::new(false),
            group_exit_code: AtomicI32::new(0),
            threads: SpinLock::new("thread_group", Vec::new()),
            wait_chldexit: WaitQueueHead::new(),
            thread_exit_wait: WaitQueueHead::new(),
            pgrp: AtomicI32::new(pgrp),
            session: AtomicI32::new(session),
            is_child_subreaper: AtomicBool::new(false),
            has_child_subreaper: AtomicBool::new(has_child_subreaper),
            rlim: SpinLock::new("rlim", rlim),
            cutime: AtomicU64::new(0),
            cstime: AtomicU64::new(0),
            cnvcsw: AtomicU64::new(0),
            cnivcsw: AtomicU64::new(0),
            utime: AtomicU64::new(0),
            stime: AtomicU64::new(0),
            nvcsw: AtomicU64::new(0),
            nivcsw: AtomicU64::new(0),
        })
    }

    /// `copy_signal`: a new process's, inheriting the group, the session
    /// and the limits (`fresh_limits`: init_task's, for the idle task's
    /// children, computed now that memory is known).
    pub fn copy_signal(parent: &SignalStruct, fresh_limits: bool) -> Arc<SignalStruct> {
        let rlim = if fresh_limits { crate::kernel::resource::init_rlimits() } else { *parent.rlim.lock_irqsave() };
        SignalStruct::with_rlimits(
            parent.pgrp.load(Relaxed),
            parent.session.load(Relaxed),
            parent.has_child_subreaper.load(Relaxed) || parent.is_child_subreaper.load(Relaxed),
            rlim,
        )
    }

    /// The live threads (those not yet released), leader first.
    pub fn thread_list(&self) -> Vec<Arc<TaskStruct>> {
        self.threads.lock_irqsave().iter().filter_map(|w| w.upgrade()).collect()
    }

    /// `for_each_thread` under the list's lock, for work that neither
    /// sleeps nor takes other locks (no list to allocate).
    pub fn for_each_thread(&self, mut f: impl FnMut(&TaskStruct)) {
        for t in self.threads.lock_irqsave().iter().filter_map(|w| w.upgrade()) {
            f(&t);
        }
    }

    /// Number of threads not yet released (the leader counts while it is
    /// a zombie: `thread_group_empty` is this being 1).
    pub fn nr_threads(&self) -> usize {
        self.threads.lock_irqsave().len()
    }

    pub fn group_exiting(&self) -> bool {
        self.flags.load(SeqCst) & SIGNAL_GROUP_EXIT != 0
    }
}
