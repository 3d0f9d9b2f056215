//! The system call table (Linux: arch/x86/entry/syscalls/syscall_64.tbl
//! compiled into sys_call_table). Each entry calls the `sys_*` function in
//! the file Linux keeps it in; arguments arrive as raw u64 registers and
//! each function validates its own (user pointers through uaccess).

use crate::arch::ptregs::PtRegs;
use crate::kernel::errno::{KResult, ENOSYS};

/// Numbers this table does not handle (they get the ENOSYS log line).
pub fn is_unknown(nr: u64) -> bool {
    !matches!(nr, 0 | 1 | 2 | 3 | 8 | 16 | 19 | 20 | 59 | 257 | 12 | 39 | 56 | 57 | 61 | 60 | 63 | 102 | 104 | 107 | 108 | 110 | 158 | 186 | 218 | 231)
}

pub fn dispatch(nr: u64, a: [u64; 6], regs: &mut PtRegs) -> KResult<u64> {
    use crate::kernel::{exit, sys};
    match nr {
        0 => crate::fs::syscalls::sys_read(a[0] as i32, a[1], a[2]),
        1 => crate::fs::syscalls::sys_write(a[0] as i32, a[1], a[2]),
        2 => crate::fs::syscalls::sys_open(a[0], a[1] as u32, a[2] as u32),
        3 => crate::fs::syscalls::sys_close(a[0] as i32),
        8 => crate::fs::syscalls::sys_lseek(a[0] as i32, a[1] as i64, a[2] as u32),
        12 => crate::mm::mmap::sys_brk(a[0]),
        16 => crate::fs::syscalls::sys_ioctl(a[0] as i32, a[1] as u32, a[2]),
        19 => crate::fs::syscalls::sys_readv(a[0] as i32, a[1], a[2]),
        20 => crate::fs::syscalls::sys_writev(a[0] as i32, a[1], a[2]),
        59 => crate::fs::syscalls::sys_execve(a[0], a[1], a[2]),
        257 => crate::fs::syscalls::sys_openat(a[0] as i32, a[1], a[2] as u32, a[3] as u32),
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
