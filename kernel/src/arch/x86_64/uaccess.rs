//! User memory access (mirrors arch/x86/lib/usercopy_64.c, copy_user_64.S
//! and mm/extable.c). A user pointer is checked to lie below TASK_SIZE_MAX
//! and then copied with `rep movsq` and `rep movsb` for the tail; if the page is missing and cannot be
//! faulted in, the page-fault handler finds the faulting instruction in the
//! exception table and resumes at its fixup, so a bad pointer becomes
//! EFAULT, never a kernel oops.

use super::ptregs::PtRegs;
use crate::kernel::errno::{KResult, EFAULT, ENAMETOOLONG};

/// The top of user space (Linux's TASK_SIZE_MAX: 2^47 - one guard page).
pub const TASK_SIZE_MAX: u64 = (1 << 47) - 4096;

extern "C" {
    fn __copy_user(dst: *mut u8, src: *const u8, len: usize) -> usize;
    static copy_user_fault_ip: u8;
    static copy_user_fixup: u8;
    static copy_user_fault_ip_q: u8;
    static copy_user_fixup_q: u8;
    fn futex_get_user_nofault(uaddr: u64, out: *mut u32) -> i64;
    fn futex_cmpxchg_nofault(uaddr: u64, old: u32, new: u32, cur: *mut u32) -> i64;
    static futex_get_fault_ip: u8;
    static futex_cmpxchg_fault_ip: u8;
    static futex_user_fixup: u8;
}

/// `access_ok`.
pub fn access_ok(addr: u64, len: usize) -> bool {
    addr.checked_add(len as u64).is_some_and(|end| end <= TASK_SIZE_MAX)
}

/// `copy_from_user`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> KResult<()> {
    if !access_ok(src, dst.len()) {
        return Err(EFAULT);
    }
    // SAFETY: dst is a valid kernel slice; src is a user address checked to
    // be below TASK_SIZE_MAX, and a fault on it is fixed up (returns the
    // bytes left) instead of oopsing.
    let left = unsafe { __copy_user(dst.as_mut_ptr(), src as *const u8, dst.len()) };
    if left == 0 {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

/// `copy_to_user`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> KResult<()> {
    if !access_ok(dst, src.len()) {
        return Err(EFAULT);
    }
    // SAFETY: as copy_from_user, with the roles swapped.
    let left = unsafe { __copy_user(dst as *mut u8, src.as_ptr(), src.len()) };
    if left == 0 {
        Ok(())
    } else {
        Err(EFAULT)
    }
}

/// `raw_copy_to_user`'s answer as a count: how many leading bytes of
/// `src` reached user memory before a hole (all of them, or fewer).
pub fn copy_to_user_partial(dst: u64, src: &[u8]) -> usize {
    if !access_ok(dst, src.len()) {
        return 0;
    }
    // SAFETY: as copy_to_user.
    src.len() - unsafe { __copy_user(dst as *mut u8, src.as_ptr(), src.len()) }
}

/// How many leading bytes of `dst` were filled from user memory.
pub fn copy_from_user_partial(dst: &mut [u8], src: u64) -> usize {
    if !access_ok(src, dst.len()) {
        return 0;
    }
    // SAFETY: as copy_from_user.
    dst.len() - unsafe { __copy_user(dst.as_mut_ptr(), src as *const u8, dst.len()) }
}

pub fn get_user_u64(addr: u64) -> KResult<u64> {
    let mut b = [0u8; 8];
    copy_from_user(&mut b, addr)?;
    Ok(u64::from_le_bytes(b))
}

pub fn put_user_u64(addr: u64, v: u64) -> KResult<()> {
    copy_to_user(addr, &v.to_le_bytes())
}

pub fn put_user_u32(addr: u64, v: u32) -> KResult<()> {
    copy_to_user(addr, &v.to_le_bytes())
}

/// `strncpy_from_user`: a NUL-terminated user string of at most `max`
/// bytes (ENAMETOOLONG beyond), copied a page at a time.
pub fn strncpy_from_user(src: u64, max: usize) -> KResult<alloc::vec::Vec<u8>> {
    let mut out = alloc::vec::Vec::new();
    let mut addr = src;
    loop {
        let to_page_end = (4096 - (addr % 4096)) as usize;
        let chunk = to_page_end.min(max + 1 - out.len());
        let mut buf = [0u8; 4096];
        copy_from_user(&mut buf[..chunk], addr)?;
        if let Some(n) = buf[..chunk].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..n]);
            return Ok(out);
        }
        out.extend_from_slice(&buf[..chunk]);
        if out.len() > max {
            return Err(ENAMETOOLONG);
        }
        addr += chunk as u64;
    }
}

/// `get_futex_value_locked` / `__get_user` under `pagefault_disable`:
/// read the aligned user word at `uaddr` with one load, without resolving a
/// page fault (the caller holds a spinlock): EFAULT if the page is not
/// there or `uaddr` is not a user address; the caller faults it in
/// (`get_user_u32`) with its locks dropped and retries.
pub fn get_user_u32_nofault(uaddr: u64) -> KResult<u32> {
    if !access_ok(uaddr, 4) || uaddr % 4 != 0 {
        return Err(EFAULT);
    }
    let mut v = 0u32;
    // SAFETY: uaddr is an aligned user address (checked); a fault on it is
    // fixed up (futex_user_fixup returns -EFAULT), and `v` is a valid
    // kernel location for the result.
    let r = unsafe { futex_get_user_nofault(uaddr, &mut v) };
    if r == 0 {
        Ok(v)
    } else {
        Err(EFAULT)
    }
}

/// `futex_atomic_cmpxchg_inatomic`: `lock cmpxchg` on the aligned user
/// word at `uaddr`, without resolving a page fault (a read-only page, such
/// as a copy-on-write one, is EFAULT too: the caller faults it in for
/// writing and retries). Returns the value found, `old` if it was replaced.
pub fn futex_atomic_cmpxchg_inatomic(uaddr: u64, old: u32, new: u32) -> KResult<u32> {
    if !access_ok(uaddr, 4) || uaddr % 4 != 0 {
        return Err(EFAULT);
    }
    let mut cur = 0u32;
    // SAFETY: as get_user_u32_nofault; `cur` receives the value found.
    let r = unsafe { futex_cmpxchg_nofault(uaddr, old, new, &mut cur) };
    if r == 0 {
        Ok(cur)
    } else {
        Err(EFAULT)
    }
}

pub fn get_user_u32(addr: u64) -> KResult<u32> {
    let mut b = [0u8; 4];
    copy_from_user(&mut b, addr)?;
    Ok(u32::from_le_bytes(b))
}

/// Is `ip` one of the accessors that must not resolve a fault (Linux's
/// `faulthandler_disabled()` for the futex word accessors)? The page-fault
/// handler then fixes up without calling handle_mm_fault.
pub fn fault_in_nofault_access(ip: u64) -> bool {
    ip == core::ptr::addr_of!(futex_get_fault_ip) as u64 || ip == core::ptr::addr_of!(futex_cmpxchg_fault_ip) as u64
}

/// `fixup_exception`: a kernel-mode fault at a user-access instruction
/// resumes at its fixup (Linux's exception table, here four entries).
/// True if regs were fixed.
pub fn fixup_exception(regs: &mut PtRegs) -> bool {
    let table = [
        (core::ptr::addr_of!(copy_user_fault_ip_q), core::ptr::addr_of!(copy_user_fixup_q)),
        (core::ptr::addr_of!(copy_user_fault_ip), core::ptr::addr_of!(copy_user_fixup)),
    ];
    if let Some(&(_, fixup)) = table.iter().find(|(ip, _)| regs.rip == *ip as u64) {
        regs.rip = fixup as u64;
        return true;
    }
    if fault_in_nofault_access(regs.rip) {
        regs.rip = core::ptr::addr_of!(futex_user_fixup) as u64;
        return true;
    }
    false
}

/// A clean FXSAVE image for new user contexts: x87 control word 0x37f,
/// MXCSR 0x1f80 (all exceptions masked), as Linux's init_fpstate.
#[repr(C, align(16))]
pub struct FxState(pub [u8; 512]);

#[no_mangle]
pub static init_fpstate: FxState = {
    let mut b = [0u8; 512];
    b[0] = 0x7f;
    b[1] = 0x03;
    b[24] = 0x80;
    b[25] = 0x1f;
    // MXCSR_MASK: the bits MXCSR may have (0xffbf on SSE2+ CPUs).
    b[28] = 0xbf;
    b[29] = 0xff;
    FxState(b)
};
