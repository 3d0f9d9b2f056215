//! Kernel threads (mirrors kernel/kthread.c), the path the notes trace:
//!
//! `kthread_create -> kthread_create_on_node -> __kthread_create_on_node`
//! queues a `kthread_create_info` on `kthread_create_list` and wakes
//! `kthreadd` (pid 2); kthreadd takes it off the list and calls
//! `create_kthread -> kernel_thread -> _do_fork`. The new thread starts in
//! `kthread()`, which reports itself to the creator and sleeps until woken
//! (`kthread_run` = create + wake_up_process); then it runs the thread
//! function and exits with its result. Every kernel thread is therefore a
//! child of kthreadd, which ignores SIGCHLD, so exited threads are reaped
//! at once.
//!
//! `kthread_stop` sets KTHREAD_SHOULD_STOP, wakes the thread and waits for
//! its exit; `kthread_park`/`kthread_unpark` put it in TASK_PARKED at a point
//! it chooses (`kthread_parkme`); `kthread_bind` pins a not-yet-running
//! thread to a CPU (per-CPU threads: migration/N, kworker/N:M).

use crate::arch::process::ThreadFn;
use crate::kernel::fork::{kernel_thread_pid, kernel_thread, CLONE_FILES, CLONE_FS, SIGCHLD};
use crate::kernel::sched::wait::Completion;
use crate::kernel::sched::{schedule, wake_up_process, wake_up_state};
use crate::kernel::task::*;
use crate::sync::SpinLock;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering::*};

const KTHREAD_IS_PER_CPU: u32 = 1 << 0;
const KTHREAD_SHOULD_STOP: u32 = 1 << 1;
const KTHREAD_SHOULD_PARK: u32 = 1 << 2;
const KTHREAD_IS_PARKED: u32 = 1 << 3;

pub const EINTR: i32 = 4;
pub const ENOMEM: i32 = 12;

/// `struct kthread`: per-thread control block.
pub struct Kthread {
    flags: AtomicU32,
    cpu: AtomicU32,
    result: AtomicI32,
    parked: Completion,
    exited: Completion,
}

/// `struct kthread_create_info`.
struct KthreadCreateInfo {
    threadfn: SpinLock<Option<ThreadFn>>,
    node: i32,
    result: SpinLock<Option<Arc<TaskStruct>>>,
    done: Completion,
}

/// Requests for kthreadd. Lock order: leaf.
static KTHREAD_CREATE_LIST: SpinLock<VecDeque<Arc<KthreadCreateInfo>>> = SpinLock::new("kthread_create_lock", VecDeque::new());
static KTHREADD_TASK: SpinLock<Option<Arc<TaskStruct>>> = SpinLock::new("kthreadd_task", None);

fn to_kthread(p: &TaskStruct) -> Option<Arc<Kthread>> {
    p.kthread.lock_irqsave().clone()
}

/// `kthreadd`: pid 2, the parent of every kernel thread.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn kthreadd() -> i32 {
    let tsk = current();
    tsk.set_comm("kthreadd");
    crate::kernel::signal::ignore_signals(&tsk);
    tsk.flags.fetch_or(PF_NOFREEZE, Relaxed);
    *KTHREADD_TASK.lock_irqsave() = Some(tsk.clone());
    loop {
        tsk.state.store(TASK_INTERRUPTIBLE, SeqCst);
        if KTHREAD_CREATE_LIST.lock_irqsave().is_empty() {
            schedule();
        }
        tsk.state.store(TASK_RUNNING, SeqCst);
        loop {
            let create = KTHREAD_CREATE_LIST.lock_irqsave().pop_front();
            let Some(create) = create else { break };
            create_kthread(create);
        }
    }
}

pub fn kthreadd_task() -> Option<Arc<TaskStruct>> {
    KTHREADD_TASK.lock_irqsave().clone()
}

/// Start kthreadd as pid 2 (rest_init) and publish it at once, before
/// anyone may ask it for a thread (Linux's rest_init sets kthreadd_task
/// right after forking it, not when kthreadd first runs).
pub fn spawn_kthreadd() -> Result<i32, i32> {
    let pid = kernel_thread_pid(kthreadd, CLONE_FS | CLONE_FILES, 2)?;
    *KTHREADD_TASK.lock_irqsave() = crate::kernel::pid::find_task_by_vpid(pid);
    Ok(pid)
}

#[inline(never)] // on the path the notes trace: keep the symbol
fn create_kthread(create: Arc<KthreadCreateInfo>) {
    let c = create.clone();
    if let Err(_e) = kernel_thread(move || kthread(c), CLONE_FS | CLONE_FILES | SIGCHLD) {
        *create.result.lock_irqsave() = None;
        create.done.complete();
    }
}

/// `kthread()`: the first function of every kernel thread.
#[inline(never)] // on the path the notes trace: keep the symbol
fn kthread(create: Arc<KthreadCreateInfo>) -> i32 {
    let me = current();
    let threadfn = create.threadfn.lock_irqsave().take();
    let kt = Arc::new(Kthread {
        flags: AtomicU32::new(0),
        cpu: AtomicU32::new(0),
        result: AtomicI32::new(0),
        parked: Completion::new(),
        exited: Completion::new(),
    });
    *me.kthread.lock_irqsave() = Some(kt.clone());
    // Sleep until the creator wakes us (kthread_run / wake_up_process). The
    // state is set before `done` so that wake-up cannot be lost.
    me.state.store(TASK_UNINTERRUPTIBLE, SeqCst);
    *create.result.lock_irqsave() = Some(me.clone());
    create.done.complete();
    drop(create);
    schedule();
    let Some(threadfn) = threadfn else { return -ENOMEM };
    if kt.flags.load(SeqCst) & KTHREAD_SHOULD_STOP != 0 {
        return -EINTR;
    }
    if kt.flags.load(SeqCst) & KTHREAD_SHOULD_PARK != 0 {
        kthread_parkme();
    }
    drop(me);
    drop(kt);
    threadfn()
}

/// `__kthread_create_on_node`.
#[inline(never)] // on the path the notes trace: keep the symbol
fn __kthread_create_on_node(threadfn: ThreadFn, node: i32, name: &str) -> Result<Arc<TaskStruct>, i32> {
    let create = Arc::new(KthreadCreateInfo {
        threadfn: SpinLock::new("kthread_create_info", Some(threadfn)),
        node,
        result: SpinLock::new("kthread_create_info", None),
        done: Completion::new(),
    });
    KTHREAD_CREATE_LIST.lock_irqsave().push_back(create.clone());
    let kthreadd = kthreadd_task().ok_or(-ENOMEM)?;
    wake_up_process(&kthreadd);
    create.done.wait_for_completion();
    let task = create.result.lock_irqsave().take().ok_or(-ENOMEM)?;
    let _ = create.node; // one memory node
    // The creator names the thread (task_rename fires here, as on Linux).
    task.set_comm(name);
    Ok(task)
}

/// `kthread_create_on_node` / `kthread_create`: a sleeping new kernel thread.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn kthread_create_on_node(threadfn: impl FnOnce() -> i32 + Send + 'static, node: i32, name: &str) -> Result<Arc<TaskStruct>, i32> {
    __kthread_create_on_node(Box::new(threadfn), node, name)
}

pub fn kthread_create(threadfn: impl FnOnce() -> i32 + Send + 'static, name: &str) -> Result<Arc<TaskStruct>, i32> {
    kthread_create_on_node(threadfn, -1, name)
}

/// `kthread_run`: create and wake.
pub fn kthread_run(threadfn: impl FnOnce() -> i32 + Send + 'static, name: &str) -> Result<Arc<TaskStruct>, i32> {
    let t = kthread_create(threadfn, name)?;
    wake_up_process(&t);
    Ok(t)
}

/// `kthread_create_on_cpu`: a per-CPU thread bound to `cpu`; `%u` in the
/// name becomes the CPU number.
pub fn kthread_create_on_cpu(threadfn: fn(usize) -> i32, data: usize, cpu: usize, namefmt: &str) -> Result<Arc<TaskStruct>, i32> {
    let mut name = String::new();
    for (i, part) in namefmt.split("%u").enumerate() {
        if i > 0 {
            name.push_str(&alloc::format!("{}", cpu));
        }
        name.push_str(part);
    }
    let p = kthread_create_on_node(move || threadfn(data), -1, &name)?;
    kthread_bind(&p, cpu);
    if let Some(kt) = to_kthread(&p) {
        kt.flags.fetch_or(KTHREAD_IS_PER_CPU, SeqCst);
        kt.cpu.store(cpu as u32, Relaxed);
    }
    Ok(p)
}

/// `kthread_bind`: pin a thread that has not started running its function.
pub fn kthread_bind(p: &Arc<TaskStruct>, cpu: usize) {
    // wait_task_inactive: it must be asleep (just created, or parked).
    while p.on_rq.load(Acquire) != 0 || p.on_cpu.load(Acquire) {
        core::hint::spin_loop();
    }
    let _pi = p.pi_lock.lock_irqsave();
    p.cpus_allowed.store(1 << cpu, Relaxed);
    p.nr_cpus_allowed.store(1, Relaxed);
    p.cpu.store(cpu as u32, Release);
    p.flags.fetch_or(PF_NO_SETAFFINITY, Relaxed);
}

/// `kthread_should_stop`: a thread's loop condition.
pub fn kthread_should_stop() -> bool {
    to_kthread(&current()).is_some_and(|k| k.flags.load(SeqCst) & KTHREAD_SHOULD_STOP != 0)
}

pub fn kthread_should_park() -> bool {
    to_kthread(&current()).is_some_and(|k| k.flags.load(SeqCst) & KTHREAD_SHOULD_PARK != 0)
}

/// `kthread_parkme`: park here until unparked.
pub fn kthread_parkme() {
    let me = current();
    let Some(kt) = to_kthread(&me) else { return };
    loop {
        me.state.store(TASK_PARKED, SeqCst);
        if kt.flags.load(SeqCst) & KTHREAD_SHOULD_PARK == 0 {
            break;
        }
        if kt.flags.fetch_or(KTHREAD_IS_PARKED, SeqCst) & KTHREAD_IS_PARKED == 0 {
            kt.parked.complete();
        }
        schedule();
    }
    kt.flags.fetch_and(!KTHREAD_IS_PARKED, SeqCst);
    me.state.store(TASK_RUNNING, SeqCst);
}

/// `kthread_park`: ask `k` to park and wait until it has.
pub fn kthread_park(k: &Arc<TaskStruct>) -> Result<(), i32> {
    let kt = to_kthread(k).ok_or(-EINTR)?;
    if k.flags() & PF_EXITING != 0 {
        return Err(-38); // -ENOSYS, as Linux
    }
    if kt.flags.fetch_or(KTHREAD_SHOULD_PARK, SeqCst) & KTHREAD_IS_PARKED == 0 {
        if !Arc::ptr_eq(k, &current()) {
            wake_up_process(k);
            kt.parked.wait_for_completion();
        }
    }
    Ok(())
}

/// `kthread_unpark`.
pub fn kthread_unpark(k: &Arc<TaskStruct>) {
    let Some(kt) = to_kthread(k) else { return };
    kt.flags.fetch_and(!KTHREAD_SHOULD_PARK, SeqCst);
    if kt.flags.load(SeqCst) & KTHREAD_IS_PARKED != 0 {
        if kt.flags.load(SeqCst) & KTHREAD_IS_PER_CPU != 0 {
            kthread_bind(k, kt.cpu.load(Relaxed) as usize);
        }
        wake_up_state(k, TASK_PARKED);
    }
}

pub fn kthread_is_parked(k: &TaskStruct) -> bool {
    to_kthread(k).is_some_and(|kt| kt.flags.load(SeqCst) & KTHREAD_IS_PARKED != 0)
}

/// `kthread_stop`: stop `k` and return its exit code.
pub fn kthread_stop(k: &Arc<TaskStruct>) -> i32 {
    let Some(kt) = to_kthread(k) else { return -EINTR };
    kt.flags.fetch_or(KTHREAD_SHOULD_STOP, SeqCst);
    kthread_unpark(k);
    wake_up_process(k);
    kt.exited.wait_for_completion();
    kt.result.load(SeqCst)
}

/// Called by do_exit: wake kthread_stop (Linux signals it from mm_release).
pub fn kthread_exit_notify(tsk: &TaskStruct, code: i32) {
    if let Some(kt) = to_kthread(tsk) {
        kt.result.store(code, SeqCst);
        kt.exited.complete_all();
    }
}
