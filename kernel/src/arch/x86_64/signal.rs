//! Signal delivery to user handlers (mirrors arch/x86/kernel/signal.c:
//! do_signal -> handle_signal -> setup_rt_frame -> __setup_rt_frame, and
//! sys_rt_sigreturn -> restore_sigcontext; get_sigframe's placement).
//!
//! The frame is Linux's `struct rt_sigframe`, byte for byte, so that
//! libc's restorer (`__restore_rt`: mov $15, %eax; syscall), debuggers and
//! handlers reading `ucontext_t` see what they expect:
//!
//! ```text
//!   sp+0    pretcode (the SA_RESTORER trampoline: the handler returns there)
//!   sp+8    struct ucontext    uc_flags, uc_link, uc_stack, uc_mcontext
//!                              (struct sigcontext), uc_sigmask
//!   sp+312  struct siginfo     128 bytes
//!   above   the 512-byte fxsave image, 64-byte aligned (uc_mcontext.fpstate)
//! ```
//!
//! below the interrupted rsp's 128-byte red zone, or at the top of the
//! sigaltstack for SA_ONSTACK. The handler starts with rdi = signo, rsi =
//! &info, rdx = &uc and rsp+8 16-byte aligned, as after a call.
//!
//! System call restart is Linux's: ERESTARTSYS restarts if the action has
//! SA_RESTART (else EINTR), ERESTARTNOHAND only when no handler runs,
//! ERESTARTNOINTR always.
//!
//! Left out: XSAVE state (AVX registers are not saved: the kernel uses
//! fxsave throughout, uc_flags lacks UC_FP_XSTATE), the 32-bit and x32
//! frames, restart_syscall's restart blocks (ERESTART_RESTARTBLOCK becomes
//! EINTR), uprobes/rseq fixups and the ptrace single-step cases.

use super::ptregs::PtRegs;
use super::uaccess::{copy_from_user, copy_to_user, TASK_SIZE_MAX};
use crate::kernel::errno::*;
use crate::kernel::signal::*;
use crate::kernel::task::current;

const FRAME_SIZE: u64 = 8 + UCONTEXT_SIZE + SIGINFO_SIZE;
const UCONTEXT_SIZE: u64 = 304;
const SIGINFO_SIZE: u64 = 128;
const FXSAVE_SIZE: u64 = 512;
/// Offsets inside `struct ucontext`.
const UC_STACK: usize = 16;
const UC_MCONTEXT: usize = 40;
const UC_SIGMASK: usize = 296;
/// uc_flags: the saved ss is meaningful and restored strictly.
const UC_SIGCONTEXT_SS: u64 = 0x2;
const UC_STRICT_RESTORE_SS: u64 = 0x4;
/// The flags a user may change through sigreturn (FIX_EFLAGS).
const FIX_EFLAGS: u64 = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000;
const USER_CS: u64 = 0x33;
const USER_DS: u64 = 0x2b;
/// MXCSR bits a CPU with SSE2 accepts; others make fxrstor fault.
const MXCSR_MASK: u32 = 0xffbf;
const NR_RT_SIGRETURN: u64 = 15;

/// The user's SSE state, saved below task_pt_regs on every entry from
/// user mode (entry_64.S) and restored from there on the way out.
fn user_fxsave_area() -> *mut [u8; 512] {
    (current().pt_regs_addr() - FXSAVE_SIZE) as *mut [u8; 512]
}

#[repr(C, align(16))]
struct Fx([u8; 512]);

/// The user's whole FPU image as fxsave writes it: x87/MMX from the live
/// registers (the kernel never touches them), xmm0-15 and MXCSR from the
/// area the entry saved them in (the kernel's code has changed the live
/// ones since).
fn user_fpu_image() -> [u8; 512] {
    let mut live = Fx([0; 512]);
    // SAFETY: fxsave writes 512 bytes to a 16-byte aligned local buffer.
    unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) live.0.as_mut_ptr(), options(nostack)) };
    // SAFETY: the current task entered from user mode, and the entry saved
    // its SSE registers in this area of its own kernel stack.
    let saved = unsafe { *user_fxsave_area() };
    live.0[24..28].copy_from_slice(&saved[24..28]); // MXCSR
    live.0[160..416].copy_from_slice(&saved[160..416]); // xmm0-15
    live.0
}

/// Make `fx` the user's FPU state: x87/MMX into the live registers, SSE
/// into the area the exit path reloads from. MXCSR must be sanitized.
fn set_user_fpu_image(fx: &[u8; 512]) {
    let img = Fx(*fx);
    // SAFETY: a 16-byte aligned image with a valid MXCSR (the caller masks
    // it), so fxrstor does not fault; the SSE registers it also loads are
    // caller-saved and reloaded from the area on the way out.
    unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) img.0.as_ptr(), options(nostack)) };
    // SAFETY: the current task's own saved user SSE area (see above).
    let area = unsafe { &mut *user_fxsave_area() };
    area[24..28].copy_from_slice(&fx[24..28]);
    area[160..416].copy_from_slice(&fx[160..416]);
}

/// The user stack pointer of the current task (its saved pt_regs).
pub fn current_user_sp() -> u64 {
    let regs = current().pt_regs_addr() as *const PtRegs;
    // SAFETY: task_pt_regs of the current task, which is in a system call
    // and so has its user registers saved there.
    unsafe { (*regs).rsp }
}

/// `do_signal`, on the way back to user mode (exit_to_usermode_loop).
/// `syscall` says `regs` come from a system call, whose result may ask for
/// a restart.
pub fn do_signal(regs: &mut PtRegs, syscall: bool) {
    if let Some(ksig) = get_signal() {
        handle_signal(&ksig, regs, syscall);
        return;
    }
    // No handler: restart the interrupted call, whatever its kind.
    if syscall {
        let err = -(regs.rax as i64);
        if err == ERESTARTNOHAND.0 as i64 || err == ERESTARTSYS.0 as i64 || err == ERESTARTNOINTR.0 as i64 {
            regs.rax = regs.vector;
            regs.rip -= 2;
        } else if err == ERESTART_RESTARTBLOCK.0 as i64 {
            regs.rax = -(EINTR.0 as i64) as u64;
        }
    }
    restore_saved_sigmask();
}

/// `handle_signal`: settle a restart, build the frame, then block.
fn handle_signal(ksig: &KSignal, regs: &mut PtRegs, syscall: bool) {
    if syscall {
        let err = -(regs.rax as i64);
        let eintr = -(EINTR.0 as i64) as u64;
        if err == ERESTART_RESTARTBLOCK.0 as i64 || err == ERESTARTNOHAND.0 as i64 {
            regs.rax = eintr;
        } else if err == ERESTARTSYS.0 as i64 {
            if ksig.ka.flags & SA_RESTART != 0 {
                regs.rax = regs.vector;
                regs.rip -= 2;
            } else {
                regs.rax = eintr;
            }
        } else if err == ERESTARTNOINTR.0 as i64 {
            regs.rax = regs.vector;
            regs.rip -= 2;
        }
    }
    let oldmask = sigmask_to_save();
    match setup_rt_frame(ksig, oldmask, regs) {
        Ok(()) => signal_delivered(ksig),
        Err(_) => force_sigsegv(),
    }
}

/// `get_sigframe`: where the frame and the FPU image go.
fn get_sigframe(ka: &SigAction, regs: &PtRegs) -> (u64, u64) {
    let cur = current();
    let mut sp = regs.rsp.wrapping_sub(128); // the red zone
    if ka.flags & SA_ONSTACK != 0 && cur.sas_ss_size.load(core::sync::atomic::Ordering::Relaxed) != 0 && !on_sig_stack(&cur, regs.rsp) {
        sp = cur.sas_ss_sp.load(core::sync::atomic::Ordering::Relaxed) + cur.sas_ss_size.load(core::sync::atomic::Ordering::Relaxed);
    }
    let fp = sp.wrapping_sub(FXSAVE_SIZE) & !63;
    let frame = (fp.wrapping_sub(FRAME_SIZE) & !15).wrapping_sub(8);
    (frame, fp)
}

fn put(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn get(buf: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[off..off + 8]);
    u64::from_le_bytes(b)
}

/// `copy_siginfo_to_user`: the union's layout depends on the signal.
fn siginfo_bytes(ksig: &KSignal) -> [u8; SIGINFO_SIZE as usize] {
    let mut b = [0u8; SIGINFO_SIZE as usize];
    let i = &ksig.info;
    b[0..4].copy_from_slice(&ksig.sig.to_le_bytes());
    b[8..12].copy_from_slice(&i.code.to_le_bytes());
    match ksig.sig {
        SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP if i.code > 0 => put(&mut b, 16, i.addr),
        _ => {
            b[16..20].copy_from_slice(&i.pid.to_le_bytes());
            b[20..24].copy_from_slice(&i.uid.to_le_bytes());
            if ksig.sig == SIGCHLD {
                b[24..28].copy_from_slice(&i.status.to_le_bytes());
            }
        }
    }
    b
}

/// `__setup_rt_frame`: write the frame and point the registers at the
/// handler.
fn setup_rt_frame(ksig: &KSignal, oldmask: u64, regs: &mut PtRegs) -> KResult<()> {
    // x86_64 has no kernel-provided trampoline: libc must pass one.
    if ksig.ka.flags & SA_RESTORER == 0 {
        return Err(EFAULT);
    }
    let (frame, fp) = get_sigframe(&ksig.ka, regs);
    if frame >= TASK_SIZE_MAX || frame < 4096 {
        return Err(EFAULT);
    }
    let fx = user_fpu_image();
    copy_to_user(fp, &fx)?;

    let cur = current();
    let mut f = [0u8; FRAME_SIZE as usize];
    put(&mut f, 0, ksig.ka.restorer);
    let uc = 8;
    put(&mut f, uc, UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
    // uc_stack: the sigaltstack in force (save_altstack_ex).
    put(&mut f, uc + UC_STACK, cur.sas_ss_sp.load(core::sync::atomic::Ordering::Relaxed));
    let ssf = if cur.sas_ss_size.load(core::sync::atomic::Ordering::Relaxed) == 0 {
        SS_DISABLE
    } else if on_sig_stack(&cur, regs.rsp) {
        SS_ONSTACK
    } else {
        0
    } | (cur.sas_ss_flags.load(core::sync::atomic::Ordering::Relaxed) & SS_AUTODISARM);
    f[uc + UC_STACK + 8..uc + UC_STACK + 12].copy_from_slice(&ssf.to_le_bytes());
    put(&mut f, uc + UC_STACK + 16, cur.sas_ss_size.load(core::sync::atomic::Ordering::Relaxed));
    // uc_mcontext: struct sigcontext (setup_sigcontext).
    let mc = uc + UC_MCONTEXT;
    let gp = [
        regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15, regs.rdi, regs.rsi, regs.rbp,
        regs.rbx, regs.rdx, regs.rax, regs.rcx, regs.rsp, regs.rip, regs.rflags,
    ];
    for (k, v) in gp.iter().enumerate() {
        put(&mut f, mc + k * 8, *v);
    }
    // cs, gs, fs, ss as four u16.
    let segs = (USER_CS) | (USER_DS << 48);
    put(&mut f, mc + 144, segs);
    let trap = ksig.info.code > 0 && ksig.sig == SIGSEGV;
    put(&mut f, mc + 152, if trap { regs.error_code } else { 0 }); // err
    put(&mut f, mc + 160, if trap { 14 } else { 0 }); // trapno: #PF
    put(&mut f, mc + 168, oldmask); // oldmask
    put(&mut f, mc + 176, if trap { ksig.info.addr } else { 0 }); // cr2
    put(&mut f, mc + 184, fp); // fpstate
    put(&mut f, uc + UC_SIGMASK, oldmask);
    f[(8 + UCONTEXT_SIZE) as usize..].copy_from_slice(&siginfo_bytes(ksig));
    copy_to_user(frame, &f)?;

    regs.rdi = ksig.sig as u64;
    regs.rsi = frame + 8 + UCONTEXT_SIZE;
    regs.rdx = frame + 8;
    regs.rax = 0;
    regs.rip = ksig.ka.handler;
    regs.rsp = frame;
    regs.cs = USER_CS;
    regs.ss = USER_DS;
    // The handler starts with DF and TF clear, as after a call.
    regs.rflags &= !(0x400 | 0x100 | 0x4_0000);
    Ok(())
}

/// `sys_rt_sigreturn`: the handler returned into the restorer; put back
/// what the frame saved. Returns the restored rax, so the system call exit
/// leaves it in place. A bad frame kills with SIGSEGV, as Linux.
pub fn sys_rt_sigreturn(regs: &mut PtRegs) -> KResult<u64> {
    let frame = regs.rsp.wrapping_sub(8);
    let mut f = [0u8; FRAME_SIZE as usize];
    if copy_from_user(&mut f, frame).is_err() {
        force_sigsegv();
        return Ok(regs.rax);
    }
    let uc = 8;
    let mc = uc + UC_MCONTEXT;
    let r = |k: usize| get(&f, mc + k * 8);
    let rip = r(16);
    if rip >= TASK_SIZE_MAX {
        // IRET to a non-canonical or kernel rip would fault in the kernel.
        force_sigsegv();
        return Ok(regs.rax);
    }
    let fp = get(&f, mc + 184);
    let mut fx = [0u8; 512];
    if fp != 0 {
        if copy_from_user(&mut fx, fp).is_err() {
            force_sigsegv();
            return Ok(regs.rax);
        }
        // Reserved MXCSR bits would make fxrstor fault in the kernel.
        let mxcsr = u32::from_le_bytes([fx[24], fx[25], fx[26], fx[27]]) & MXCSR_MASK;
        fx[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    } else {
        fx = super::uaccess::init_fpstate.0;
    }
    set_current_blocked(get(&f, uc + UC_SIGMASK));
    regs.r8 = r(0);
    regs.r9 = r(1);
    regs.r10 = r(2);
    regs.r11 = r(3);
    regs.r12 = r(4);
    regs.r13 = r(5);
    regs.r14 = r(6);
    regs.r15 = r(7);
    regs.rdi = r(8);
    regs.rsi = r(9);
    regs.rbp = r(10);
    regs.rbx = r(11);
    regs.rdx = r(12);
    regs.rax = r(13);
    regs.rcx = r(14);
    regs.rsp = r(15);
    regs.rip = rip;
    regs.rflags = (regs.rflags & !FIX_EFLAGS) | (r(17) & FIX_EFLAGS);
    regs.cs = USER_CS;
    regs.ss = USER_DS;
    set_user_fpu_image(&fx);
    // restore_altstack: a bad uc_stack is ignored, as Linux.
    let _ = sys_sigaltstack(frame + 8 + UC_STACK as u64, 0);
    Ok(regs.rax)
}

/// Whether do_syscall_64 should treat this call's result as restartable:
/// not for rt_sigreturn, whose "result" is the interrupted code's rax.
pub fn syscall_may_restart(nr: u64) -> bool {
    nr != NR_RT_SIGRETURN
}
