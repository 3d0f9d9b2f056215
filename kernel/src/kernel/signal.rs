//! Signals, first part (mirrors kernel/signal.c): generation
//! (`kill_something_info -> do_send_sig_info -> send_signal ->
//! complete_signal`), the per-process action table (`sighand_struct`),
//! blocking, default actions on the way back to user mode (`get_signal`),
//! and the parent's SIGCHLD (`do_notify_parent`).
//!
//! What is here: SIG_DFL, SIG_IGN and user handlers. A default-fatal
//! signal (SIGKILL, SIGTERM, SIGINT, ...) ends the process when it next
//! returns to user mode (or at once if it sleeps interruptibly);
//! default-ignored ones (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) are dropped; a
//! parent that ignores SIGCHLD or sets SA_NOCLDWAIT has its children reaped
//! for it. A signal with a handler is dequeued here with its siginfo and
//! handed to the arch code (arch/x86_64/signal.rs: handle_signal ->
//! setup_rt_frame, and rt_sigreturn), with sigsuspend, sigaltstack,
//! tkill/tgkill and rt_sigpending beside it.
//! Not yet: stopping and continuing (SIGSTOP/SIGTSTP/SIGCONT job control:
//! stop signals are dropped); real-time signal queues (one pending
//! instance per signal, as for the classic signals); rt_sigqueueinfo,
//! rt_sigtimedwait, signalfd.

use crate::kernel::errno::{KResult, EFAULT, EINVAL, ENOMEM, EPERM, ERESTARTNOHAND, ESRCH};
use crate::kernel::task::*;
use crate::sync::SpinLock;
use alloc::sync::Arc;
use core::sync::atomic::Ordering::*;

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGQUIT: i32 = 3;
pub const SIGILL: i32 = 4;
pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGBUS: i32 = 7;
pub const SIGFPE: i32 = 8;
pub const SIGUSR1: i32 = 10;
pub const SIGUSR2: i32 = 12;
pub const SIGALRM: i32 = 14;
pub const SIGKILL: i32 = 9;
pub const SIGSEGV: i32 = 11;
pub const SIGPIPE: i32 = 13;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;
pub const SIGCONT: i32 = 18;
pub const SIGSTOP: i32 = 19;
pub const SIGTSTP: i32 = 20;
pub const SIGTTIN: i32 = 21;
pub const SIGTTOU: i32 = 22;
pub const SIGURG: i32 = 23;
pub const SIGWINCH: i32 = 28;
pub const NSIG: i32 = 64;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 0x2;
pub const SA_SIGINFO: u64 = 0x4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// si_code values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;

/// signal_generate's `res` (enum trace_signal_result).
const TRACE_SIGNAL_DELIVERED: i32 = 0;
const TRACE_SIGNAL_IGNORED: i32 = 1;
const TRACE_SIGNAL_ALREADY_PENDING: i32 = 2;

/// The kernel's `struct kernel_siginfo`, as far as the classic signals
/// fill it: who sent it (kill, tkill), the child's status (SIGCHLD), or
/// the faulting address (SIGSEGV).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct KSigInfo {
    pub signo: i32,
    pub code: i32,
    pub pid: i32,
    pub uid: u32,
    /// SIGCHLD: the exit status or the killing signal.
    pub status: i32,
    /// SIGSEGV and the other fault signals: si_addr.
    pub addr: u64,
}

/// A dequeued signal with its action (`struct ksignal`).
#[derive(Clone, Copy, Debug)]
pub struct KSignal {
    pub sig: i32,
    pub info: KSigInfo,
    pub ka: SigAction,
}

/// `struct k_sigaction` as x86_64 rt_sigaction passes it.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `struct sighand_struct`: the action of every signal, shared by the
/// threads of a process (CLONE_SIGHAND).
pub struct SighandStruct {
    pub action: SpinLock<[SigAction; NSIG as usize]>,
}

impl SighandStruct {
    pub fn new() -> Arc<SighandStruct> {
        Arc::new(SighandStruct { action: SpinLock::new("sighand->siglock", [SigAction::default(); NSIG as usize]) })
    }
    pub fn copy(&self) -> Arc<SighandStruct> {
        Arc::new(SighandStruct { action: SpinLock::new("sighand->siglock", *self.action.lock_irqsave()) })
    }
    pub fn get(&self, sig: i32) -> SigAction {
        self.action.lock_irqsave()[(sig - 1) as usize]
    }
}

pub fn sigmask(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

fn valid_signal(sig: i32) -> bool {
    (1..=NSIG).contains(&sig)
}

/// Signals whose default action is to do nothing (sig_kernel_ignore).
fn sig_default_ignored(sig: i32) -> bool {
    matches!(sig, SIGCHLD | SIGCONT | SIGURG | SIGWINCH)
}

/// Stop signals (sig_kernel_stop): job control is not implemented yet.
fn sig_kernel_stop(sig: i32) -> bool {
    matches!(sig, SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU)
}

fn action_of(p: &TaskStruct, sig: i32) -> SigAction {
    p.sighand.lock_irqsave().as_ref().map_or(SigAction::default(), |s| s.get(sig))
}

/// `sig_ignored`: would delivering it do nothing? (Blocked signals are
/// kept: the mask may change before they are looked at.)
fn sig_ignored(p: &TaskStruct, sig: i32) -> bool {
    if p.blocked.load(Relaxed) & sigmask(sig) != 0 && sig != SIGKILL {
        return false;
    }
    let h = action_of(p, sig).handler;
    h == SIG_IGN || (h == SIG_DFL && sig_default_ignored(sig)) || (p.is_kthread() && sig != SIGKILL)
}

/// Who a signal is for: one thread (tkill, faults: `PIDTYPE_PID`) or the
/// whole process (kill, SIGCHLD: `PIDTYPE_TGID`, shared_pending).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PidType {
    Pid,
    Tgid,
}

/// `send_signal` + `complete_signal`: queue `sig` for `p` (its thread or,
/// with `PidType::Tgid`, its process) and wake a thread that can take it.
/// The sender is the current process (SI_USER, SI_TKILL) or the kernel.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn send_signal(sig: i32, p: &Arc<TaskStruct>, code: i32) -> i32 {
    let pid = if code <= 0 { current().tgid } else { 0 };
    let ty = if code == SI_TKILL { PidType::Pid } else { PidType::Tgid };
    send_sig_info(KSigInfo { signo: sig, code, pid, ..KSigInfo::default() }, p, ty)
}

/// `send_signal` with a full siginfo; returns the signal_generate result.
pub fn send_sig_info(info: KSigInfo, p: &Arc<TaskStruct>, ty: PidType) -> i32 {
    let sig = info.signo;
    let (pending, infos) = match ty {
        PidType::Pid => (&p.pending, &p.sig_info),
        PidType::Tgid => (&p.signal.shared_pending, &p.signal.shared_info),
    };
    let res = if sig_ignored(p, sig) || p.is_kthread() {
        TRACE_SIGNAL_IGNORED
    } else if pending.fetch_or(sigmask(sig), SeqCst) & sigmask(sig) != 0 {
        TRACE_SIGNAL_ALREADY_PENDING
    } else {
        infos.lock_irqsave()[(sig - 1) as usize] = info;
        TRACE_SIGNAL_DELIVERED
    };
    crate::kernel::trace::trace_signal_generate(sig, 0, info.code, &p.comm(), p.pid(), ty == PidType::Tgid, res);
    if res == TRACE_SIGNAL_DELIVERED {
        complete_signal(sig, p, ty);
    }
    res
}

/// `complete_signal`: wake the thread that should notice. A thread
/// signal wakes its thread; a process signal the target if it does not
/// block it, else another thread that does not. A fatal one (SIGKILL, or
/// a default-fatal signal nobody catches) kills the whole group at once.
fn complete_signal(sig: i32, p: &Arc<TaskStruct>, ty: PidType) {
    let wants = |t: &TaskStruct| sig == SIGKILL || t.blocked.load(SeqCst) & sigmask(sig) == 0;
    let target = if ty == PidType::Pid || wants(p) {
        Some(p.clone())
    } else {
        p.signal.thread_list().into_iter().find(|t| wants(t) && t.exit_state.load(Acquire) == 0)
    };
    let Some(t) = target else { return }; // all block it: it waits for an unblock
    let h = action_of(&t, sig).handler;
    let fatal = sig == SIGKILL || (h == SIG_DFL && !sig_default_ignored(sig) && !sig_kernel_stop(sig));
    if fatal && ty == PidType::Tgid && !p.signal.group_exiting() && t.signal.nr_threads() > 1 {
        // The group dies of it: every thread gets SIGKILL, the exit code is the signal.
        p.signal.group_exit_code.store(sig, SeqCst);
        p.signal.flags.fetch_or(crate::kernel::signal_struct::SIGNAL_GROUP_EXIT, SeqCst);
        for th in p.signal.thread_list() {
            sigkill_thread(&th);
        }
        return;
    }
    signal_wake_up(&t, sig == SIGKILL);
}

/// Make one thread die: a private SIGKILL and a killable wake-up
/// (zap_other_threads' per-thread step).
pub fn sigkill_thread(t: &Arc<TaskStruct>) {
    t.pending.fetch_or(sigmask(SIGKILL), SeqCst);
    signal_wake_up(t, true);
}

/// `force_sig_fault`: a synchronous signal from a fault at `addr`. It
/// cannot be blocked or ignored: the action reverts to the default if it
/// was (and a handler may run, as on Linux).
pub fn force_sig_fault(sig: i32, code: i32, addr: u64) {
    let cur = current();
    cur.blocked.fetch_and(!sigmask(sig), SeqCst);
    if let Some(sh) = cur.sighand.lock_irqsave().clone() {
        let mut a = sh.action.lock_irqsave();
        if a[(sig - 1) as usize].handler == SIG_IGN {
            a[(sig - 1) as usize].handler = SIG_DFL;
        }
    }
    send_sig_info(KSigInfo { signo: sig, code, addr, ..KSigInfo::default() }, &cur, PidType::Pid);
}

/// `force_sigsegv`: a signal frame could not be written; the process dies
/// of SIGSEGV whatever its SIGSEGV action (the handler itself may be the
/// problem).
pub fn force_sigsegv() {
    let cur = current();
    if let Some(sh) = cur.sighand.lock_irqsave().clone() {
        sh.action.lock_irqsave()[(SIGSEGV - 1) as usize].handler = SIG_DFL;
    }
    cur.blocked.fetch_and(!sigmask(SIGSEGV), SeqCst);
    send_sig_info(KSigInfo { signo: SIGSEGV, code: SI_KERNEL, ..KSigInfo::default() }, &cur, PidType::Pid);
}

/// `signal_wake_up`: an interruptible sleeper (or a killable one, for
/// SIGKILL) wakes to notice; a task running on another CPU is kicked so it
/// passes through the return-to-user check soon.
fn signal_wake_up(p: &Arc<TaskStruct>, fatal: bool) {
    let state = TASK_INTERRUPTIBLE | if fatal { TASK_WAKEKILL } else { 0 };
    if !crate::kernel::sched::wake_up_state(p, state) && p.on_cpu.load(Acquire) {
        crate::kernel::sched::kick_process(p);
    }
}

/// The signals pending for `p`: its own and its process's.
pub fn pending_set(p: &TaskStruct) -> u64 {
    p.pending.load(SeqCst) | p.signal.shared_pending.load(SeqCst)
}

/// `signal_pending`: an unblocked signal waits.
pub fn signal_pending(p: &TaskStruct) -> bool {
    pending_set(p) & !p.blocked.load(SeqCst) != 0
}

/// `fatal_signal_pending`.
pub fn fatal_signal_pending(p: &TaskStruct) -> bool {
    pending_set(p) & sigmask(SIGKILL) != 0
}

/// `get_signal` (from do_signal): dequeue pending signals, lowest first.
/// Ignored ones are dropped and a default-fatal one ends the process here
/// (do_group_exit); the first with a user handler is returned for the
/// arch code to build its frame. None: nothing to deliver.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn get_signal() -> Option<KSignal> {
    let cur = current();
    loop {
        // dequeue_signal: the thread's own first, then the process's.
        let blocked = cur.blocked.load(SeqCst);
        let own = cur.pending.load(SeqCst) & !blocked;
        let shared = cur.signal.shared_pending.load(SeqCst) & !blocked;
        let (set, pending, infos) = if own != 0 {
            (own, &cur.pending, &cur.sig_info)
        } else if shared != 0 {
            (shared, &cur.signal.shared_pending, &cur.signal.shared_info)
        } else {
            return None;
        };
        let sig = set.trailing_zeros() as i32 + 1;
        if pending.fetch_and(!sigmask(sig), SeqCst) & sigmask(sig) == 0 {
            continue; // another thread took it
        }
        let ka = action_of(&cur, sig);
        let info = infos.lock_irqsave()[(sig - 1) as usize];
        if ka.handler == SIG_IGN && sig != SIGKILL {
            continue;
        }
        if ka.handler != SIG_DFL && sig != SIGKILL {
            crate::kernel::trace::trace_signal_deliver(sig, 0, info.code, ka.handler, ka.flags);
            return Some(KSignal { sig, info, ka });
        }
        if sig_default_ignored(sig) || sig_kernel_stop(sig) {
            continue; // stopping is job control: not yet
        }
        crate::kernel::trace::trace_signal_deliver(sig, 0, info.code, ka.handler, ka.flags);
        cur.flags.fetch_or(PF_SIGNALED, SeqCst);
        drop(cur);
        crate::kernel::exit::do_group_exit(sig);
    }
}

/// `signal_delivered`: the handler's frame is built; block what the
/// action says while it runs, and reset a one-shot action.
pub fn signal_delivered(ksig: &KSignal) {
    let cur = current();
    let mut block = ksig.ka.mask;
    if ksig.ka.flags & SA_NODEFER == 0 {
        block |= sigmask(ksig.sig);
    }
    block &= !(sigmask(SIGKILL) | sigmask(SIGSTOP));
    cur.blocked.fetch_or(block, SeqCst);
    if ksig.ka.flags & SA_RESETHAND != 0 {
        if let Some(sh) = cur.sighand.lock_irqsave().clone() {
            sh.action.lock_irqsave()[(ksig.sig - 1) as usize] = SigAction::default();
        }
    }
    if ksig.ka.flags & SA_ONSTACK != 0 && cur.sas_ss_flags.load(Relaxed) & SS_AUTODISARM != 0 {
        cur.sas_ss_sp.store(0, Relaxed);
        cur.sas_ss_size.store(0, Relaxed);
        cur.sas_ss_flags.store(SS_DISABLE, Relaxed);
    }
}

/// The mask a signal frame saves: sigsuspend's caller mask if one is
/// waiting to be restored (`sigmask_to_save`), which is then consumed.
pub fn sigmask_to_save() -> u64 {
    let cur = current();
    if cur.restore_sigmask.swap(false, SeqCst) {
        cur.saved_sigmask.load(SeqCst)
    } else {
        cur.blocked.load(SeqCst)
    }
}

/// `restore_saved_sigmask`: no handler ran after sigsuspend; put the
/// caller's mask back.
pub fn restore_saved_sigmask() {
    let cur = current();
    if cur.restore_sigmask.swap(false, SeqCst) {
        cur.blocked.store(cur.saved_sigmask.load(SeqCst), SeqCst);
    }
}

/// `set_current_blocked`: SIGKILL and SIGSTOP can never be blocked.
pub fn set_current_blocked(mask: u64) {
    current().blocked.store(mask & !(sigmask(SIGKILL) | sigmask(SIGSTOP)), SeqCst);
}

/// `do_notify_parent`: tell the parent a child exited. Returns true when
/// the child should be reaped at once (the parent ignores SIGCHLD or set
/// SA_NOCLDWAIT), as Linux's autoreap.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn do_notify_parent(tsk: &TaskStruct, parent: &Arc<TaskStruct>) -> bool {
    let code = crate::kernel::exit::task_exit_status(tsk);
    let si_code = if code & 0x7f != 0 { CLD_KILLED } else { CLD_EXITED };
    let ka = action_of(parent, SIGCHLD);
    let mut autoreap = false;
    let mut sig = tsk.exit_signal();
    if ka.handler == SIG_IGN || ka.flags & SA_NOCLDWAIT != 0 {
        autoreap = true;
        if ka.handler == SIG_IGN {
            sig = 0;
        }
    }
    if valid_signal(sig) {
        let status = if si_code == CLD_EXITED { (code >> 8) & 0xff } else { code & 0x7f };
        send_sig_info(KSigInfo { signo: sig, code: si_code, pid: tsk.tgid, status, ..KSigInfo::default() }, parent, PidType::Tgid);
    }
    parent.signal.wait_chldexit.wake_up_all(); // __wake_up_parent
    autoreap
}

/// `ignore_signals` (kthreadd): every action becomes SIG_IGN.
pub fn ignore_signals(t: &TaskStruct) {
    let sh = SighandStruct::new();
    for a in sh.action.lock_irqsave().iter_mut() {
        a.handler = SIG_IGN;
    }
    *t.sighand.lock_irqsave() = Some(sh);
}

/// `flush_signal_handlers(t, 1)` and an empty mask: what a kernel thread
/// does before it execs a user program (call_usermodehelper), since it
/// inherited kthreadd's SIG_IGN everywhere.
pub fn reset_signals_for_user(t: &TaskStruct) {
    *t.sighand.lock_irqsave() = Some(SighandStruct::new());
    t.blocked.store(0, SeqCst);
    t.pending.store(0, SeqCst);
    t.signal.shared_pending.store(0, SeqCst);
}

/// `flush_signal_handlers` at exec: caught signals revert to SIG_DFL
/// (ignored ones stay ignored).
pub fn flush_signal_handlers(t: &TaskStruct) {
    let old = t.sighand.lock_irqsave().clone();
    let Some(old) = old else { return };
    let new = old.copy();
    for a in new.action.lock_irqsave().iter_mut() {
        if a.handler != SIG_IGN {
            *a = SigAction::default();
        }
    }
    *t.sighand.lock_irqsave() = Some(new);
}

/// `sys_kill` -> `kill_something_info`: pid > 0 a process, 0 our process
/// group, -1 everyone we may signal but init and ourselves, < -1 the
/// process group -pid.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn sys_kill(pid: i32, sig: i32) -> KResult<u64> {
    if sig != 0 && !valid_signal(sig) {
        return Err(EINVAL);
    }
    let me = current();
    if pid > 0 {
        let p = crate::kernel::pid::find_task_by_vpid(pid).ok_or(ESRCH)?;
        if sig != 0 && p.exit_state.load(Acquire) == 0 {
            send_signal(sig, &p, SI_USER);
        }
        return Ok(0);
    }
    if pid == -1 {
        // Everyone but init, kernel threads and ourselves.
        let mut found = false;
        for p in crate::kernel::pid::for_each_process() {
            if p.pid() > 1 && p.thread_group_leader() && !p.is_kthread() && p.tgid != me.tgid && p.exit_state.load(Acquire) == 0 {
                found = true;
                if sig != 0 {
                    send_signal(sig, &p, SI_USER);
                }
            }
        }
        return if found { Ok(0) } else { Err(ESRCH) };
    }
    if pid == i32::MIN {
        return Err(ESRCH);
    }
    let pgrp = if pid == 0 { me.signal.pgrp.load(Relaxed) } else { -pid };
    kill_pgrp(pgrp, sig, SI_USER).map(|_| 0)
}

/// `__kill_pgrp_info`: every process in group `pgrp`; ESRCH if none.
pub fn kill_pgrp(pgrp: i32, sig: i32, code: i32) -> KResult<usize> {
    let mut n = 0;
    for p in crate::kernel::pid::for_each_process() {
        if p.thread_group_leader() && !p.is_kthread() && p.signal.pgrp.load(Relaxed) == pgrp && p.exit_state.load(Acquire) == 0 {
            n += 1;
            if sig != 0 {
                send_signal(sig, &p, code);
            }
        }
    }
    if n == 0 { Err(ESRCH) } else { Ok(n) }
}

pub const SIG_BLOCK: u64 = 0;
pub const SIG_UNBLOCK: u64 = 1;
pub const SIG_SETMASK: u64 = 2;

/// `sys_rt_sigprocmask`. SIGKILL and SIGSTOP can never be blocked.
pub fn sys_rt_sigprocmask(how: u64, set: u64, oset: u64, sigsetsize: u64) -> KResult<u64> {
    use crate::arch::uaccess::{get_user_u64, put_user_u64};
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    let cur = current();
    let old = cur.blocked.load(SeqCst);
    if set != 0 {
        let s = get_user_u64(set)?;
        let new = match how {
            SIG_BLOCK => old | s,
            SIG_UNBLOCK => old & !s,
            SIG_SETMASK => s,
            _ => return Err(EINVAL),
        };
        set_current_blocked(new);
    }
    if oset != 0 {
        put_user_u64(oset, old)?;
    }
    Ok(0)
}

/// `sys_rt_sigaction`: struct sigaction {handler, flags, restorer, mask}.
pub fn sys_rt_sigaction(sig: i32, act: u64, oact: u64, sigsetsize: u64) -> KResult<u64> {
    use crate::arch::uaccess::{copy_from_user, copy_to_user};
    if sigsetsize != 8 || !valid_signal(sig) || (act != 0 && (sig == SIGKILL || sig == SIGSTOP)) {
        return Err(EINVAL);
    }
    let new = if act != 0 {
        let mut b = [0u8; 32];
        copy_from_user(&mut b, act)?;
        let w = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        Some(SigAction { handler: w(0), flags: w(1), restorer: w(2), mask: w(3) & !(sigmask(SIGKILL) | sigmask(SIGSTOP)) })
    } else {
        None
    };
    let cur = current();
    // One section with interrupts off for the lookup and the swap (Linux's
    // spin_lock_irq(&sighand->siglock)): each interrupt re-enable ends a
    // translation block under QEMU, which is most of this call's cost.
    let old = {
        let mut slot = cur.sighand.lock_irqsave();
        let sh = slot.get_or_insert_with(SighandStruct::new);
        let mut action = sh.action.lock();
        let old = action[(sig - 1) as usize];
        if let Some(new) = new {
            action[(sig - 1) as usize] = new;
        }
        old
    };
    if let Some(new) = new {
        // Setting SIG_IGN (or SIG_DFL for a default-ignored signal) discards a pending one.
        if new.handler == SIG_IGN || (new.handler == SIG_DFL && sig_default_ignored(sig)) {
            cur.signal.shared_pending.fetch_and(!sigmask(sig), SeqCst);
            cur.signal.for_each_thread(|t| {
                t.pending.fetch_and(!sigmask(sig), SeqCst);
            });
            cur.pending.fetch_and(!sigmask(sig), SeqCst);
        }
    }
    if oact != 0 {
        let mut b = [0u8; 32];
        for (i, v) in [old.handler, old.flags, old.restorer, old.mask].iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        copy_to_user(oact, &b)?;
    }
    Ok(0)
}

/// `sys_rt_sigsuspend`: wait with `mask` in force for a signal that runs a
/// handler or kills. The caller's own mask comes back after the handler
/// (the frame saves it: sigmask_to_save) or at once if none runs.
pub fn sys_rt_sigsuspend(mask: u64, sigsetsize: u64) -> KResult<u64> {
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    let newset = crate::arch::uaccess::get_user_u64(mask)?;
    let cur = current();
    cur.saved_sigmask.store(cur.blocked.load(SeqCst), SeqCst);
    cur.restore_sigmask.store(true, SeqCst);
    set_current_blocked(newset);
    sleep_until_signal(&cur);
    Err(ERESTARTNOHAND)
}

/// `sys_pause`: sleep until a signal is delivered.
pub fn sys_pause() -> KResult<u64> {
    sleep_until_signal(&current());
    Err(ERESTARTNOHAND)
}

fn sleep_until_signal(cur: &Arc<TaskStruct>) {
    loop {
        cur.state.store(TASK_INTERRUPTIBLE, SeqCst);
        if signal_pending(cur) {
            cur.state.store(TASK_RUNNING, SeqCst);
            return;
        }
        crate::kernel::sched::core::schedule();
    }
}

/// `sys_rt_sigpending`: the pending signals that are blocked.
pub fn sys_rt_sigpending(set: u64, sigsetsize: u64) -> KResult<u64> {
    if sigsetsize > 8 {
        return Err(EINVAL);
    }
    let cur = current();
    let v = pending_set(&cur) & cur.blocked.load(SeqCst);
    crate::arch::uaccess::copy_to_user(set, &v.to_le_bytes()[..sigsetsize as usize])?;
    Ok(0)
}

/// `do_tkill`: a signal for one thread; with `tgid` > 0 the thread must
/// belong to that process (tgkill), which guards against a reused tid.
fn do_tkill(tgid: i32, tid: i32, sig: i32) -> KResult<u64> {
    if tid <= 0 || (sig != 0 && !valid_signal(sig)) {
        return Err(EINVAL);
    }
    let p = crate::kernel::pid::find_task_by_vpid(tid).ok_or(ESRCH)?;
    if (tgid > 0 && p.tgid != tgid) || p.is_kthread() && tgid > 0 {
        return Err(ESRCH);
    }
    if sig != 0 && p.exit_state.load(Acquire) == 0 {
        send_signal(sig, &p, SI_TKILL);
    }
    Ok(0)
}

/// `sys_tkill` (musl's raise() uses it).
pub fn sys_tkill(tid: i32, sig: i32) -> KResult<u64> {
    do_tkill(0, tid, sig)
}

/// `sys_tgkill`.
pub fn sys_tgkill(tgid: i32, tid: i32, sig: i32) -> KResult<u64> {
    if tgid <= 0 {
        return Err(EINVAL);
    }
    do_tkill(tgid, tid, sig)
}

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;
pub const MINSIGSTKSZ: u64 = 2048;

/// `on_sig_stack`: is `sp` on the alternate signal stack?
pub fn on_sig_stack(t: &TaskStruct, sp: u64) -> bool {
    let base = t.sas_ss_sp.load(Relaxed);
    let size = t.sas_ss_size.load(Relaxed);
    size != 0 && sp > base && sp - base <= size
}

/// `sas_ss_flags`: the ss_flags sigaltstack reports for `sp`.
fn sas_ss_flags(t: &TaskStruct, sp: u64) -> u32 {
    if t.sas_ss_size.load(Relaxed) == 0 {
        SS_DISABLE
    } else if on_sig_stack(t, sp) {
        SS_ONSTACK
    } else {
        0
    }
}

/// `sys_sigaltstack` (do_sigaltstack): stack_t is {ss_sp, ss_flags, ss_size}.
pub fn sys_sigaltstack(uss: u64, uoss: u64) -> KResult<u64> {
    use crate::arch::uaccess::{copy_from_user, copy_to_user};
    let cur = current();
    let sp = crate::arch::signal::current_user_sp();
    let old = (cur.sas_ss_sp.load(Relaxed), cur.sas_ss_size.load(Relaxed), sas_ss_flags(&cur, sp) | (cur.sas_ss_flags.load(Relaxed) & SS_AUTODISARM));
    if uss != 0 {
        let mut b = [0u8; 24];
        copy_from_user(&mut b, uss)?;
        let ss_sp = u64::from_le_bytes(b[0..8].try_into().map_err(|_| EFAULT)?);
        let ss_flags = u32::from_le_bytes(b[8..12].try_into().map_err(|_| EFAULT)?);
        let ss_size = u64::from_le_bytes(b[16..24].try_into().map_err(|_| EFAULT)?);
        if on_sig_stack(&cur, sp) {
            return Err(EPERM);
        }
        let mode = ss_flags & !SS_AUTODISARM;
        if mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0 {
            return Err(EINVAL);
        }
        if mode == SS_DISABLE {
            cur.sas_ss_sp.store(0, Relaxed);
            cur.sas_ss_size.store(0, Relaxed);
        } else {
            if ss_size < MINSIGSTKSZ {
                return Err(ENOMEM);
            }
            cur.sas_ss_sp.store(ss_sp, Relaxed);
            cur.sas_ss_size.store(ss_size, Relaxed);
        }
        cur.sas_ss_flags.store(ss_flags & SS_AUTODISARM, Relaxed);
    }
    if uoss != 0 {
        let mut b = [0u8; 24];
        b[0..8].copy_from_slice(&old.0.to_le_bytes());
        b[8..12].copy_from_slice(&old.2.to_le_bytes());
        b[16..24].copy_from_slice(&old.1.to_le_bytes());
        copy_to_user(uoss, &b)?;
    }
    Ok(0)
}
