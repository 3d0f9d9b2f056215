//! SCHED_DEADLINE (kernel/sched/deadline.c): the class is in place between
//! stop and rt, so pick_next_task asks it first as Linux does, but Tine does
//! not implement EDF/CBS yet: `sched_setscheduler` refuses SCHED_DEADLINE
//! with EINVAL (it needs sched_setattr's runtime/deadline/period), so no
//! task ever enters this class. See docs/scheduler.md.

use super::core::Rq;
use crate::kernel::task::TaskStruct;
use alloc::sync::Arc;

pub fn pick_next_task_dl(_rq: &mut Rq) -> Option<Arc<TaskStruct>> {
    None
}

pub fn enqueue_task_dl(_rq: &mut Rq, p: &Arc<TaskStruct>) {
    panic!("enqueue of pid {} in SCHED_DEADLINE, which no task can join", p.pid());
}

pub fn dequeue_task_dl(_rq: &mut Rq, p: &Arc<TaskStruct>) {
    panic!("dequeue of pid {} from SCHED_DEADLINE, which no task can join", p.pid());
}
