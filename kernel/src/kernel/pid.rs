//! Process ids (mirrors kernel/pid.c). Allocation is `klib::pid` (cyclic up
//! to pid_max = 32768, host-tested); this file adds the pid -> task table
//! (Linux's pid hash / IDR; here an ordered map, O(log n) lookup). A pid
//! stays taken until its task is released (release_task), so it is never
//! reused while anything can still name the task.

use crate::kernel::task::TaskStruct;
use crate::sync::SpinLock;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use klib::pid::{PidAllocator, PID_MAX_DEFAULT};

struct PidTable {
    map: Option<PidAllocator>,
    tasks: BTreeMap<i32, Arc<TaskStruct>>,
}

/// Lock order: after the task locks (taken alone, briefly).
static PIDS: SpinLock<PidTable> = SpinLock::new("pidmap_lock", PidTable { map: None, tasks: BTreeMap::new() });

pub fn pidmap_init() {
    PIDS.lock_irqsave().map = Some(PidAllocator::new(PID_MAX_DEFAULT));
}

/// `alloc_pid`: the next free pid, or a specific one (`Some(1)` for init).
pub fn alloc_pid(specific: Option<i32>) -> Option<i32> {
    let mut t = PIDS.lock_irqsave();
    let map = t.map.as_mut()?;
    match specific {
        Some(n) => map.alloc_specific(n as u32).ok().map(|_| n),
        None => map.alloc().map(|n| n as i32),
    }
}

/// Undo alloc_pid when fork fails before the task is attached.
pub fn free_pid(pid: i32) {
    if let Some(map) = PIDS.lock_irqsave().map.as_mut() {
        let _ = map.free(pid as u32);
    }
}

/// `attach_pid`: make the task findable by its pid.
pub fn attach_pid(task: &Arc<TaskStruct>) {
    PIDS.lock_irqsave().tasks.insert(task.pid(), task.clone());
}

/// `exchange_tids` (de_thread): `tsk` takes `leader`'s pid and the leader
/// gets `tsk`'s, with the table following; both stay findable.
pub fn exchange_tids(tsk: &Arc<TaskStruct>, leader: &Arc<TaskStruct>) {
    let mut t = PIDS.lock_irqsave();
    tsk.take_over_leader(leader);
    t.tasks.insert(tsk.pid(), tsk.clone());
    t.tasks.insert(leader.pid(), leader.clone());
}

/// `detach_pid` + `free_pid` (from release_task).
pub fn detach_pid(pid: i32) -> Option<Arc<TaskStruct>> {
    let mut t = PIDS.lock_irqsave();
    let task = t.tasks.remove(&pid);
    if let Some(map) = t.map.as_mut() {
        let _ = map.free(pid as u32);
    }
    task
}

/// `find_task_by_vpid`.
pub fn find_task_by_vpid(pid: i32) -> Option<Arc<TaskStruct>> {
    PIDS.lock_irqsave().tasks.get(&pid).cloned()
}

/// Tasks that have a pid (live and zombie), excluding the idle tasks.
pub fn nr_tasks() -> usize {
    PIDS.lock_irqsave().tasks.len()
}

/// Every task, in pid order (for tests and later /proc).
pub fn for_each_process() -> alloc::vec::Vec<Arc<TaskStruct>> {
    PIDS.lock_irqsave().tasks.values().cloned().collect()
}
