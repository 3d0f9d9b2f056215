//! The system call table (Linux: arch/x86/entry/syscalls/syscall_64.tbl
//! compiled into sys_call_table). Each entry calls the `sys_*` function in
//! the file Linux keeps it in; arguments arrive as raw u64 registers and
//! each function validates its own (user pointers through uaccess).

use crate::arch::ptregs::PtRegs;
use crate::kernel::errno::KResult;

/// `None` for a number this table does not handle (ENOSYS, logged once).
pub fn dispatch(nr: u64, a: [u64; 6], regs: &mut PtRegs) -> Option<KResult<u64>> {
    use crate::kernel::{exit, sys};
    Some(match nr {
        0 => crate::fs::syscalls::sys_read(a[0] as i32, a[1], a[2]),
        1 => crate::fs::syscalls::sys_write(a[0] as i32, a[1], a[2]),
        2 => crate::fs::syscalls::sys_open(a[0], a[1] as u32, a[2] as u32),
        3 => crate::fs::syscalls::sys_close(a[0] as i32),
        4 => crate::fs::syscalls::sys_newfstatat(crate::fs::syscalls::AT_FDCWD, a[0], a[1], 0),
        5 => crate::fs::syscalls::sys_fstat(a[0] as i32, a[1]),
        6 => crate::fs::syscalls::sys_newfstatat(crate::fs::syscalls::AT_FDCWD, a[0], a[1], crate::fs::syscalls::AT_SYMLINK_NOFOLLOW),
        8 => crate::fs::syscalls::sys_lseek(a[0] as i32, a[1] as i64, a[2] as u32),
        9 => crate::mm::mmap::sys_mmap(a[0], a[1], a[2], a[3], a[4] as i64, a[5]),
        10 => crate::mm::mprotect::sys_mprotect(a[0], a[1], a[2]),
        11 => crate::mm::mmap::sys_munmap(a[0], a[1]),
        25 => crate::mm::mremap::sys_mremap(a[0], a[1], a[2], a[3], a[4]),
        28 => crate::mm::madvise::sys_madvise(a[0], a[1], a[2] as i32),
        12 => crate::mm::mmap::sys_brk(a[0]),
        13 => crate::kernel::signal::sys_rt_sigaction(a[0] as i32, a[1], a[2], a[3]),
        14 => crate::kernel::signal::sys_rt_sigprocmask(a[0], a[1], a[2], a[3]),
        16 => crate::fs::syscalls::sys_ioctl(a[0] as i32, a[1] as u32, a[2]),
        19 => crate::fs::syscalls::sys_readv(a[0] as i32, a[1], a[2]),
        20 => crate::fs::syscalls::sys_writev(a[0] as i32, a[1], a[2]),
        22 => crate::fs::pipe::sys_pipe(a[0]),
        21 => crate::fs::syscalls::sys_faccessat(crate::fs::syscalls::AT_FDCWD, a[0], a[1] as u32),
        24 => sys::sys_sched_yield(),
        32 => crate::fs::syscalls::sys_dup(a[0] as i32),
        33 => crate::fs::syscalls::sys_dup2(a[0] as i32, a[1] as i32),
        35 => sys::sys_nanosleep(a[0], a[1]),
        59 => crate::fs::syscalls::sys_execve(a[0], a[1], a[2]),
        257 => crate::fs::syscalls::sys_openat(a[0] as i32, a[1], a[2] as u32, a[3] as u32),
        258 => crate::fs::syscalls::sys_mkdirat(a[0] as i32, a[1], a[2] as u32),
        262 => crate::fs::syscalls::sys_newfstatat(a[0] as i32, a[1], a[2], a[3] as u32),
        263 => crate::fs::syscalls::sys_unlinkat(a[0] as i32, a[1], a[2] as u32),
        266 => crate::fs::syscalls::sys_symlinkat(a[0], a[1] as i32, a[2]),
        267 => crate::fs::syscalls::sys_readlinkat(a[0] as i32, a[1], a[2], a[3]),
        269 => crate::fs::syscalls::sys_faccessat(a[0] as i32, a[1], a[2] as u32),
        293 => crate::fs::pipe::sys_pipe2(a[0], a[1] as u32),
        292 => crate::fs::syscalls::sys_dup3(a[0] as i32, a[1] as i32, a[2] as u32),
        318 => sys::sys_getrandom(a[0], a[1], a[2]),
        39 => sys::sys_getpid(),
        56 => crate::kernel::fork::sys_clone(regs, a[0], a[1], a[2], a[3], a[4]),
        57 => crate::kernel::fork::sys_fork(regs),
        58 => crate::kernel::fork::sys_vfork(regs),
        60 => exit::sys_exit(a[0] as i32),
        61 => exit::sys_wait4(a[0] as i64, a[1], a[2], a[3]),
        62 => crate::kernel::signal::sys_kill(a[0] as i32, a[1] as i32),
        63 => sys::sys_newuname(a[0]),
        72 => crate::fs::syscalls::sys_fcntl(a[0] as i32, a[1] as u32, a[2]),
        79 => crate::fs::syscalls::sys_getcwd(a[0], a[1]),
        83 => crate::fs::syscalls::sys_mkdirat(crate::fs::syscalls::AT_FDCWD, a[0], a[1] as u32),
        84 => crate::fs::syscalls::sys_unlinkat(crate::fs::syscalls::AT_FDCWD, a[0], crate::fs::syscalls::AT_REMOVEDIR),
        87 => crate::fs::syscalls::sys_unlinkat(crate::fs::syscalls::AT_FDCWD, a[0], 0),
        88 => crate::fs::syscalls::sys_symlinkat(a[0], crate::fs::syscalls::AT_FDCWD, a[1]),
        89 => crate::fs::syscalls::sys_readlinkat(crate::fs::syscalls::AT_FDCWD, a[0], a[1], a[2]),
        102 | 104 | 107 | 108 => Ok(0), // getuid, getgid, geteuid, getegid: root
        110 => sys::sys_getppid(),
        158 => crate::arch::process::sys_arch_prctl(a[0], a[1]),
        169 => sys::sys_reboot(a[0], a[1], a[2], a[3]),
        186 => sys::sys_gettid(),
        217 => crate::fs::syscalls::sys_getdents64(a[0] as i32, a[1], a[2]),
        218 => sys::sys_set_tid_address(a[0]),
        228 => sys::sys_clock_gettime(a[0], a[1]),
        231 => exit::sys_exit_group(a[0] as i32),
        _ => return None,
    })
}
