//! The system call table (Linux: arch/x86/entry/syscalls/syscall_64.tbl
//! compiled into sys_call_table). Each entry calls the `sys_*` function in
//! the file Linux keeps it in; arguments arrive as raw u64 registers and
//! each function validates its own (user pointers through uaccess).

use crate::arch::ptregs::PtRegs;
use crate::kernel::errno::{KResult, ENOSYS};

/// Numbers this table does not handle (they get the ENOSYS log line).
pub fn is_unknown(nr: u64) -> bool {
    !matches!(nr, 12 | 39 | 56 | 57 | 61 | 60 | 63 | 102 | 104 | 107 | 108 | 110 | 158 | 186 | 218 | 231)
}

pub fn dispatch(nr: u64, a: [u64; 6], regs: &mut PtRegs) -> KResult<u64> {
    use crate::kernel::{exit, sys};
    match nr {
        12 => crate::mm::mmap::sys_brk(a[0]),
        39 => sys::sys_getpid(),
        56 => crate::kernel::fork::sys_clone(regs, a[0], a[1], a[2], a[3], a[4]),
        57 => crate::kernel::fork::sys_fork(regs),
        60 => exit::sys_exit(a[0] as i32),
        61 => exit::sys_wait4(a[0] as i64, a[1], a[2], a[3]),
        63 => sys::sys_newuname(a[0]),
        102 | 104 | 107 | 108 => Ok(0), // getuid, getgid, geteuid, getegid: root
        110 => sys::sys_getppid(),
        158 => crate::arch::process::sys_arch_prctl(a[0], a[1]),
        186 => sys::sys_gettid(),
        218 => sys::sys_set_tid_address(a[0]),
        231 => exit::sys_exit_group(a[0] as i32),
        _ => Err(ENOSYS),
    }
}
