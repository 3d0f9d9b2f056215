//! `struct task_struct` (mirrors include/linux/sched.h).
//!
//! One `TaskStruct` per thread, shared as `Arc<TaskStruct>`: the pid table,
//! the parent's `children` list, the runqueue and the per-CPU `current`
//! pointer each hold a reference, and the task (with its kernel stack) is
//! freed when the last one goes, after it has been reaped and switched away
//! from for the last time (Linux: put_task_struct from finish_task_switch
//! and delayed_put_task_struct).
//!
//! Locking, as the comments on each field say: `pi_lock` serializes wake-ups
//! (try_to_wake_up) against each other and against migration; the
//! scheduling fields belong to the runqueue lock of the CPU the task is on;
//! the tree fields to `TASKLIST_LOCK`. Fields are atomics or sit in their own
//! small locks so that all of this is safe Rust; the lock that *protects*
//! them in the Linux sense is named in each comment.
//!
//! x86_64 Linux 4.19 keeps `thread_info` inside task_struct
//! (CONFIG_THREAD_INFO_IN_TASK), and so does Tine; the notes' ARM kernel
//! keeps it at the bottom of the kernel stack instead. Either way it holds
//! the TIF_* flags (here: `thread_info.flags`).

use crate::mm::page_alloc;
use crate::sync::SpinLock;
use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use intrusive_collections::RBTreeAtomicLink;

pub const TASK_COMM_LEN: usize = 16;

// Task states (task_struct::state), Linux's values.
pub const TASK_RUNNING: u32 = 0x0000;
pub const TASK_INTERRUPTIBLE: u32 = 0x0001;
pub const TASK_UNINTERRUPTIBLE: u32 = 0x0002;
pub const __TASK_STOPPED: u32 = 0x0004;
pub const __TASK_TRACED: u32 = 0x0008;
pub const TASK_PARKED: u32 = 0x0040;
pub const TASK_DEAD: u32 = 0x0080;
pub const TASK_WAKEKILL: u32 = 0x0100;
pub const TASK_WAKING: u32 = 0x0200;
pub const TASK_NOLOAD: u32 = 0x0400;
pub const TASK_NEW: u32 = 0x0800;
pub const TASK_KILLABLE: u32 = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE;
pub const TASK_IDLE: u32 = TASK_UNINTERRUPTIBLE | TASK_NOLOAD;
pub const TASK_NORMAL: u32 = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;

// exit_state.
pub const EXIT_DEAD: u32 = 0x0010;
pub const EXIT_ZOMBIE: u32 = 0x0020;

// Per-task flags (task_struct::flags), Linux's values.
pub const PF_IDLE: u32 = 0x0000_0002;
pub const PF_EXITING: u32 = 0x0000_0004;
pub const PF_EXITPIDONE: u32 = 0x0000_0008;
pub const PF_VCPU: u32 = 0x0000_0010;
pub const PF_WQ_WORKER: u32 = 0x0000_0020;
pub const PF_FORKNOEXEC: u32 = 0x0000_0040;
pub const PF_SUPERPRIV: u32 = 0x0000_0100;
pub const PF_DUMPCORE: u32 = 0x0000_0200;
pub const PF_SIGNALED: u32 = 0x0000_0400;
pub const PF_NOFREEZE: u32 = 0x0000_8000;
pub const PF_KTHREAD: u32 = 0x0020_0000;
pub const PF_NO_SETAFFINITY: u32 = 0x0400_0000;

// Scheduling policies.
pub const SCHED_NORMAL: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
pub const SCHED_IDLE: u32 = 5;
pub const SCHED_DEADLINE: u32 = 6;

// thread_info flags.
pub const TIF_NEED_RESCHED: u64 = 1 << 3;

/// task_struct::on_rq values.
pub const TASK_ON_RQ_QUEUED: u32 = 1;
pub const TASK_ON_RQ_MIGRATING: u32 = 2;

/// Which scheduling class a task belongs to (sched_class pointer in Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum SchedClassId {
    Stop = 0,
    Deadline = 1,
    Rt = 2,
    Fair = 3,
    Idle = 4,
}

/// x86_64 kernel stacks are 16 KiB (THREAD_SIZE).
pub const THREAD_SIZE_ORDER: usize = 2;
pub const THREAD_SIZE: u64 = 4096 << THREAD_SIZE_ORDER;

/// A task's kernel stack. The boot CPU's idle task runs on the static boot
/// stack and secondary CPUs' idle tasks on the stacks smpboot allocated, so
/// only forked tasks own (and free) theirs.
pub struct KernelStack {
    /// Lowest address (direct map) and whether the pages are ours to free.
    pub base: u64,
    pub owned: bool,
}

/// Written at the lowest word of every forked task's stack (Linux's
/// STACK_END_MAGIC): a stack that grew into it has overflowed.
pub const STACK_END_MAGIC: u64 = 0x57AC_6E9D;

impl KernelStack {
    pub fn alloc() -> Option<KernelStack> {
        let phys = page_alloc::alloc_pages(THREAD_SIZE_ORDER)?;
        crate::mm::copy_to_phys(phys, &STACK_END_MAGIC.to_le_bytes());
        Some(KernelStack { base: crate::mm::phys_to_virt(phys), owned: true })
    }
    pub fn top(&self) -> u64 {
        self.base + THREAD_SIZE
    }
    /// `task_stack_end_corrupted` (only stacks we allocated carry the magic).
    pub fn end_corrupted(&self) -> bool {
        let mut w = [0u8; 8];
        crate::mm::copy_from_phys(crate::mm::virt_to_phys(self.base), &mut w);
        self.owned && u64::from_le_bytes(w) != STACK_END_MAGIC
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        if self.owned {
            page_alloc::free_pages(crate::mm::virt_to_phys(self.base), THREAD_SIZE_ORDER);
        }
    }
}

/// `struct thread_info` (x86_64: inside task_struct).
pub struct ThreadInfo {
    pub flags: AtomicU64,
}

/// `struct thread_struct`: what switch_to saves. Callee-saved registers and
/// the return address live on the kernel stack; rsp and the user TLS base
/// (FS, set by arch_prctl) are kept here.
pub struct ThreadStruct {
    pub sp: AtomicU64,
    pub fsbase: AtomicU64,
    /// The task's x87/MMX (and, incidentally, SSE) registers while it is
    /// switched out (Linux: thread.fpu); see arch::process::switch_fpu.
    pub fpu: crate::arch::process::FpuState,
}

/// `struct sched_entity` (CFS), protected by the rq lock.
pub struct SchedEntity {
    pub load_weight: AtomicU64,
    pub vruntime: AtomicU64,
    pub exec_start: AtomicU64,
    pub sum_exec_runtime: AtomicU64,
    pub prev_sum_exec_runtime: AtomicU64,
    pub nr_migrations: AtomicU64,
}

/// `struct sched_rt_entity`, protected by the rq lock.
pub struct SchedRtEntity {
    /// Remaining round-robin slice in ticks (SCHED_RR).
    pub time_slice: AtomicU32,
}

pub struct TaskStruct {
    pub thread_info: ThreadInfo,
    /// Linux's `state`: TASK_* (written by the task itself or by wake-ups under pi_lock).
    pub state: AtomicU32,
    pub flags: AtomicU32,
    pub exit_state: AtomicU32,
    pub exit_code: AtomicI32,
    /// Signal sent to the parent at exit (SIGCHLD for kernel_thread
    /// children, -1 for threads). Changes only when a thread that execs
    /// takes over as the group leader (de_thread).
    exit_signal: AtomicI32,

    /// The thread id. Fixed for life, except that a thread calling execve
    /// takes over its leader's (de_thread, as Linux's exchange_tids).
    pid: AtomicI32,
    pub tgid: i32,
    /// Shared by the threads of a process (CLONE_THREAD).
    pub signal: Arc<crate::kernel::signal_struct::SignalStruct>,
    /// Protected by its own lock (task_lock in Linux).
    pub comm: SpinLock<[u8; TASK_COMM_LEN]>,

    // Scheduling (rq lock of task_cpu).
    pub prio: AtomicI32,
    pub static_prio: AtomicI32,
    pub normal_prio: AtomicI32,
    pub rt_priority: AtomicU32,
    pub policy: AtomicU32,
    pub sched_class: AtomicU32,
    pub se: SchedEntity,
    pub rt: SchedRtEntity,
    /// Node in the CFS timeline (the red-black tree), linked while queued and not running.
    pub run_node: RBTreeAtomicLink,
    pub cpus_allowed: AtomicU64,
    pub nr_cpus_allowed: AtomicU32,
    /// task_cpu(p).
    pub cpu: AtomicU32,
    pub on_cpu: AtomicBool,
    pub on_rq: AtomicU32,
    /// Serializes wake-ups and migration (p->pi_lock). Lock order: pi_lock, then rq locks.
    pub pi_lock: SpinLock<()>,

    // Process tree (TASKLIST_LOCK).
    pub real_parent: SpinLock<Weak<TaskStruct>>,
    pub parent: SpinLock<Weak<TaskStruct>>,
    /// Our children, oldest first; `sibling` in Linux is our place in the
    /// parent's list. A deque, so reaping the oldest is O(1).
    pub children: SpinLock<alloc::collections::VecDeque<Arc<TaskStruct>>>,
    pub group_leader: SpinLock<Weak<TaskStruct>>,

    pub start_time: AtomicU64,
    /// Time accounting in ns (Linux keeps cputime in ns too).
    pub utime: AtomicU64,
    pub stime: AtomicU64,
    pub nvcsw: AtomicU64,
    pub nivcsw: AtomicU64,

    pub thread: ThreadStruct,
    pub stack: KernelStack,

    /// `set_child_tid` doubles as the kthread pointer in Linux; here a field.
    pub kthread: SpinLock<Option<Arc<crate::kernel::kthread::Kthread>>>,
    /// Thread-directed pending signals (tkill, faults, SIGKILL from
    /// zap_other_threads; process-directed ones are in signal.shared_pending)
    /// and the blocked mask, one bit per signal.
    pub pending: AtomicU64,
    pub blocked: AtomicU64,
    /// The siginfo of each pending signal (one instance per signal, as
    /// Linux keeps for the classic signals).
    pub sig_info: SpinLock<[crate::kernel::signal::KSigInfo; 64]>,
    /// sigsuspend's caller mask, put back once a handler's frame holds it
    /// (Linux: saved_sigmask with TIF_RESTORE_SIGMASK).
    pub saved_sigmask: AtomicU64,
    pub restore_sigmask: AtomicBool,
    /// sigaltstack(2): sas_ss_sp, sas_ss_size, sas_ss_flags.
    pub sas_ss_sp: AtomicU64,
    pub sas_ss_size: AtomicU64,
    pub sas_ss_flags: AtomicU32,
    /// Signal actions (sighand_struct), shared with CLONE_SIGHAND.
    pub sighand: SpinLock<Option<Arc<crate::kernel::signal::SighandStruct>>>,
    /// The user address space (None for kernel threads).
    pub mm: SpinLock<Option<Arc<crate::mm::mmap::MmStruct>>>,
    /// Open files (files_struct), shared with CLONE_FILES.
    pub files: SpinLock<Option<Arc<crate::fs::fdtable::FilesStruct>>>,
    /// set_tid_address / CLONE_CHILD_CLEARTID: cleared (and woken) at exit.
    pub clear_child_tid: AtomicU64,
    /// A vfork parent waits on this until the child execs or exits.
    pub vfork_done: SpinLock<Option<Arc<crate::kernel::sched::wait::Completion>>>,
    /// Root, cwd and umask (fs_struct), shared with CLONE_FS.
    pub fs: SpinLock<Option<Arc<crate::fs::fs_struct::FsStruct>>>,
}

/// Tasks created and not yet released (Linux: nr_threads).
pub static NR_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Number of task_structs alive (Linux: nr_threads counts live ones; this
/// counts allocated ones, which the leak tests need).
pub static NR_TASK_STRUCTS: AtomicUsize = AtomicUsize::new(0);

impl Drop for TaskStruct {
    fn drop(&mut self) {
        NR_TASK_STRUCTS.fetch_sub(1, Relaxed);
    }
}

pub fn comm_from_str(s: &str) -> [u8; TASK_COMM_LEN] {
    let mut c = [0u8; TASK_COMM_LEN];
    let n = s.len().min(TASK_COMM_LEN - 1);
    c[..n].copy_from_slice(&s.as_bytes()[..n]);
    c
}

pub fn comm_str(c: &[u8; TASK_COMM_LEN]) -> &str {
    let n = c.iter().position(|&b| b == 0).unwrap_or(TASK_COMM_LEN);
    core::str::from_utf8(&c[..n]).unwrap_or("?")
}

/// The fields a new task starts from (dup_task_struct copies them from the parent).
pub struct TaskInit {
    pub pid: i32,
    pub comm: [u8; TASK_COMM_LEN],
    pub flags: u32,
    pub state: u32,
    pub static_prio: i32,
    pub prio: i32,
    pub normal_prio: i32,
    pub rt_priority: u32,
    pub policy: u32,
    pub class: SchedClassId,
    pub cpus_allowed: u64,
    pub cpu: u32,
    pub exit_signal: i32,
    pub stack: KernelStack,
    /// The thread group id: the pid for a new process, the creator's tgid
    /// for a thread (CLONE_THREAD).
    pub tgid: i32,
    pub signal: Arc<crate::kernel::signal_struct::SignalStruct>,
}

impl TaskStruct {
    pub fn new(init: TaskInit) -> TaskStruct {
        NR_TASK_STRUCTS.fetch_add(1, Relaxed);
        TaskStruct {
            thread_info: ThreadInfo { flags: AtomicU64::new(0) },
            state: AtomicU32::new(init.state),
            flags: AtomicU32::new(init.flags),
            exit_state: AtomicU32::new(0),
            exit_code: AtomicI32::new(0),
            exit_signal: AtomicI32::new(init.exit_signal),
            pid: AtomicI32::new(init.pid),
            tgid: init.tgid,
            signal: init.signal,
            comm: SpinLock::new("task_lock", init.comm),
            prio: AtomicI32::new(init.prio),
            static_prio: AtomicI32::new(init.static_prio),
            normal_prio: AtomicI32::new(init.normal_prio),
            rt_priority: AtomicU32::new(init.rt_priority),
            policy: AtomicU32::new(init.policy),
            sched_class: AtomicU32::new(init.class as u32),
            se: SchedEntity {
                load_weight: AtomicU64::new(klib::sched::nice_to_weight(klib::sched::prio_to_nice(init.static_prio))),
                vruntime: AtomicU64::new(0),
                exec_start: AtomicU64::new(0),
                sum_exec_runtime: AtomicU64::new(0),
                prev_sum_exec_runtime: AtomicU64::new(0),
                nr_migrations: AtomicU64::new(0),
            },
            rt: SchedRtEntity { time_slice: AtomicU32::new(0) },
            run_node: RBTreeAtomicLink::new(),
            cpus_allowed: AtomicU64::new(init.cpus_allowed),
            nr_cpus_allowed: AtomicU32::new(init.cpus_allowed.count_ones()),
            cpu: AtomicU32::new(init.cpu),
            on_cpu: AtomicBool::new(false),
            on_rq: AtomicU32::new(0),
            pi_lock: SpinLock::new("pi_lock", ()),
            real_parent: SpinLock::new("tasklist", Weak::new()),
            parent: SpinLock::new("tasklist", Weak::new()),
            children: SpinLock::new("tasklist", alloc::collections::VecDeque::new()),
            group_leader: SpinLock::new("tasklist", Weak::new()),
            start_time: AtomicU64::new(crate::kernel::time::ktime_get_ns()),
            utime: AtomicU64::new(0),
            stime: AtomicU64::new(0),
            nvcsw: AtomicU64::new(0),
            nivcsw: AtomicU64::new(0),
            thread: ThreadStruct { sp: AtomicU64::new(0), fsbase: AtomicU64::new(0), fpu: crate::arch::process::FpuState::new() },
            stack: init.stack,
            kthread: SpinLock::new("kthread", None),
            pending: AtomicU64::new(0),
            blocked: AtomicU64::new(0),
            sig_info: SpinLock::new("siglock", [crate::kernel::signal::KSigInfo::default(); 64]),
            saved_sigmask: AtomicU64::new(0),
            restore_sigmask: AtomicBool::new(false),
            sas_ss_sp: AtomicU64::new(0),
            sas_ss_size: AtomicU64::new(0),
            sas_ss_flags: AtomicU32::new(0),
            sighand: SpinLock::new("sighand", None),
            mm: SpinLock::new("mm", None),
            files: SpinLock::new("files", None),
            clear_child_tid: AtomicU64::new(0),
            vfork_done: SpinLock::new("vfork_done", None),
            fs: SpinLock::new("fs", None),
        }
    }

    pub fn comm(&self) -> [u8; TASK_COMM_LEN] {
        *self.comm.lock_irqsave()
    }

    /// `set_task_comm` (fires task_rename as Linux's __set_task_comm does).
    pub fn set_comm(&self, name: &str) {
        let new = comm_from_str(name);
        let old = core::mem::replace(&mut *self.comm.lock_irqsave(), new);
        crate::kernel::sched::tp::trace_task_rename(self.pid(), &old, &new, 0);
    }

    pub fn state(&self) -> u32 {
        self.state.load(Acquire)
    }
    pub fn flags(&self) -> u32 {
        self.flags.load(Relaxed)
    }
    pub fn prio(&self) -> i32 {
        self.prio.load(Relaxed)
    }
    pub fn task_cpu(&self) -> usize {
        self.cpu.load(Acquire) as usize
    }
    pub fn class(&self) -> SchedClassId {
        match self.sched_class.load(Relaxed) {
            0 => SchedClassId::Stop,
            1 => SchedClassId::Deadline,
            2 => SchedClassId::Rt,
            3 => SchedClassId::Fair,
            _ => SchedClassId::Idle,
        }
    }
    /// `thread_group_leader`.
    pub fn pid(&self) -> i32 {
        self.pid.load(Relaxed)
    }
    pub fn exit_signal(&self) -> i32 {
        self.exit_signal.load(Relaxed)
    }
    /// de_thread's takeover: this thread gets the leader's pid, its start
    /// time and its place as the one the parent waits for (exit_signal).
    pub fn take_over_leader(&self, leader: &TaskStruct) {
        let (mine, theirs) = (self.pid(), leader.pid());
        self.pid.store(theirs, Relaxed);
        leader.pid.store(mine, Relaxed);
        self.exit_signal.store(leader.exit_signal(), Relaxed);
        self.start_time.store(leader.start_time.load(Relaxed), Relaxed);
        leader.exit_signal.store(-1, Relaxed);
    }
    pub fn thread_group_leader(&self) -> bool {
        self.pid() == self.tgid
    }
    /// The thread group's leader (itself for a single-threaded process).
    pub fn group_leader(&self) -> Option<Arc<TaskStruct>> {
        self.group_leader.lock_irqsave().upgrade()
    }
    pub fn is_kthread(&self) -> bool {
        self.flags() & PF_KTHREAD != 0
    }
    pub fn need_resched(&self) -> bool {
        self.thread_info.flags.load(Relaxed) & TIF_NEED_RESCHED != 0
    }
    pub fn set_need_resched(&self) {
        self.thread_info.flags.fetch_or(TIF_NEED_RESCHED, Relaxed);
    }
    pub fn clear_need_resched(&self) {
        self.thread_info.flags.fetch_and(!TIF_NEED_RESCHED, Relaxed);
    }
}

impl TaskStruct {
    /// `task_pt_regs`: where the user registers live, at the top of the
    /// kernel stack (entry_64.S builds them there).
    pub fn pt_regs_addr(&self) -> u64 {
        self.stack.top() - core::mem::size_of::<crate::arch::ptregs::PtRegs>() as u64
    }
}

/// `current`: the task running on this CPU.
pub fn current() -> Arc<TaskStruct> {
    crate::arch::current::get_current()
}
