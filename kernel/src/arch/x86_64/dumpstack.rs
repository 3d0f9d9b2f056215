//! Stack traces (mirrors arch/x86/kernel/dumpstack.c and unwind_frame.c).
//!
//! Every crate of ours is built with frame pointers and so is the precompiled
//! core, so the rbp chain is complete: [rbp] holds the caller's rbp and
//! [rbp+8] the return address. Each frame is checked to lie in mapped kernel
//! memory and to move up the stack before it is read, so a corrupt chain ends
//! the trace instead of faulting inside the oops.

use crate::kernel::kallsyms;
use crate::kernel::panic::BufWriter;
use core::fmt::Write;

extern "C" {
    static __text_start: u8;
    static __text_end: u8;
}

fn text_range() -> (u64, u64) {
    (core::ptr::addr_of!(__text_start) as u64, core::ptr::addr_of!(__text_end) as u64)
}

pub fn is_kernel_text(addr: u64) -> bool {
    let (s, e) = text_range();
    addr >= s && addr < e
}

/// The bytes at [addr, addr+len) if they all lie in kernel text.
pub fn kernel_text_bytes(addr: u64, len: usize) -> Option<&'static [u8]> {
    let (s, e) = text_range();
    if addr < s || addr.checked_add(len as u64)? > e {
        return None;
    }
    // SAFETY: the range is inside the kernel's .text, which is always mapped and never written.
    Some(unsafe { core::slice::from_raw_parts(addr as *const u8, len) })
}

/// `%pS` (`is_return == false`) or `%pB` (`true`: look up addr-1, since a
/// return address may already belong to the next function).
pub fn format_symbol(out: &mut impl Write, addr: u64, is_return: bool) {
    let k = kallsyms::table();
    let lookup_addr = if is_return { addr.wrapping_sub(1) } else { addr };
    match k.as_ref().and_then(|k| k.lookup(lookup_addr)) {
        Some((name, off, size)) => {
            let off = if is_return { off + 1 } else { off };
            let _ = write!(out, "{}+0x{:x}/0x{:x}", name, off, size);
        }
        None => {
            let _ = write!(out, "0x{:x}", addr);
        }
    }
}

/// Print ` function+0x18/0x1ad4` for each frame above `rbp`.
pub fn show_trace(mut rbp: u64) {
    pr_emerg!("Call Trace:");
    for _ in 0..32 {
        if rbp == 0 || rbp % 8 != 0 || !crate::mm::kernel_addr_mapped(rbp, 16) {
            break;
        }
        // SAFETY: [rbp, rbp+16) was just checked to be mapped kernel memory.
        let (next, ret) = unsafe { ((rbp as *const u64).read(), ((rbp + 8) as *const u64).read()) };
        if !is_kernel_text(ret) {
            break; // the boot code below start_kernel, or a corrupt frame
        }
        let mut sym = BufWriter::<160>::new();
        format_symbol(&mut sym, ret, true);
        pr_emerg!(" {}", sym.as_str());
        if next <= rbp {
            break; // the stack grows down, so callers' frames sit higher
        }
        rbp = next;
    }
}

/// The trace of the caller of this function.
#[inline(never)]
pub fn show_stack_here() {
    let rbp: u64;
    // SAFETY: reads the frame pointer register.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags)) };
    show_trace(rbp);
}

/// Return addresses of the current call chain (for tests and later for
/// ftrace's stacktrace option).
#[inline(never)]
pub fn save_stack_trace(out: &mut [u64]) -> usize {
    let mut rbp: u64;
    // SAFETY: reads the frame pointer register.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags)) };
    let mut n = 0;
    while n < out.len() && rbp != 0 && rbp % 8 == 0 && crate::mm::kernel_addr_mapped(rbp, 16) {
        // SAFETY: checked mapped just above.
        let (next, ret) = unsafe { ((rbp as *const u64).read(), ((rbp + 8) as *const u64).read()) };
        if ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    n
}
