//! User-mode round trips without a filesystem: a kernel thread builds an
//! address space holding a few bytes of machine code, points its user
//! registers at it (start_thread) and returns, so ret_from_fork enters
//! user mode exactly as after an exec. The programs make system calls and
//! exit; the tests check the exit status the kernel recorded.

use super::{ensure, KTest, TestResult};
use crate::kernel::kthread::kthread_run;
use crate::kernel::task::*;
use crate::mm::mmap::{MmStruct, STACK_TOP, VM_EXEC, VM_GROWSDOWN, VM_READ, VM_WRITE};
use core::sync::atomic::Ordering::*;

pub const TESTS: &[KTest] = &[
    KTest { name: "user_syscall_getppid", func: user_getppid, min_cpus: 1 },
    KTest { name: "user_enosys", func: user_enosys, min_cpus: 1 },
    KTest { name: "user_efault", func: user_efault, min_cpus: 1 },
    KTest { name: "user_segfault", func: user_segfault, min_cpus: 1 },
    KTest { name: "user_preempted_loop", func: user_busy, min_cpus: 1 },
    KTest { name: "user_stack_growth", func: user_stack, min_cpus: 1 },
    KTest { name: "user_mm_freed", func: user_mm_freed, min_cpus: 1 },
    KTest { name: "user_fork_wait", func: user_fork_wait, min_cpus: 1 },
    KTest { name: "user_wait_echild", func: user_wait_echild, min_cpus: 1 },
    KTest { name: "user_fork_10000", func: user_fork_10000, min_cpus: 1 },
];

/// 10,000 times: store 1 at -8(%rsp) (the parent's page is copy-on-write
/// shared with the last child until that child is gone), fork; the child
/// stores 2 there (a copy) and exits; the parent wait4s, checks wait4
/// returned the child's pid (else exit 1) and that its own word is still 1
/// (else exit 2: the child's store leaked). Then exit(0).
const FORK_10K: &[u8] = &[
    0x41, 0xbc, 0x10, 0x27, 0x00, 0x00, 0x48, 0xc7, 0x44, 0x24, 0xf8, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x39, 0x00, 0x00, 0x00,
    0x0f, 0x05, 0x85, 0xc0, 0x75, 0x12, 0x48, 0xc7, 0x44, 0x24, 0xf8, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x3c, 0x00, 0x00, 0x00,
    0x31, 0xff, 0x0f, 0x05, 0x78, 0x31, 0x89, 0xc3, 0x48, 0xc7, 0xc7, 0xff, 0xff, 0xff, 0xff, 0x31, 0xf6, 0x31, 0xd2, 0x45,
    0x31, 0xd2, 0xb8, 0x3d, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x39, 0xc3, 0x75, 0x16, 0x48, 0x83, 0x7c, 0x24, 0xf8, 0x01, 0x75,
    0x1a, 0x41, 0xff, 0xcc, 0x75, 0xb0, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05, 0xb8, 0x3c, 0x00, 0x00, 0x00,
    0xbf, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0xbf, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x05,
];

/// issue 4's "10,000 fork/exit/wait cycles with the free-page and task
/// counts back to baseline afterwards", with copy-on-write both ways on
/// every cycle. Tine has no sysinfo(2) yet, so the counts are read here,
/// in the kernel: free pages plus slab pages (the slab keeps pages it may
/// reuse) and the pid table.
fn user_fork_10000() -> TestResult {
    let _ = run_user(FORK, "ktest_warm")?;
    msleep_until_quiet();
    let tasks0 = crate::kernel::pid::nr_tasks();
    let free0 = crate::mm::page_alloc::nr_free_pages() + slab_pages();
    let t0 = crate::kernel::time::ktime_get_ns();
    let code = run_user_for(FORK_10K, "ktest_fork10k", 300_000)?;
    let ms = (crate::kernel::time::ktime_get_ns() - t0) / 1_000_000;
    ensure!(code != 1 << 8, "fork or wait4 failed (exit 1)");
    ensure!(code != 2 << 8, "a child's store showed in the parent (exit 2): copy-on-write broken");
    ensure!(code == 0, "exit status {:#x}, expected 0", code);
    msleep_until_quiet();
    let tasks1 = crate::kernel::pid::nr_tasks();
    let free1 = crate::mm::page_alloc::nr_free_pages() + slab_pages();
    pr_info!("ktest: user_fork_10000: {} ms, free+slab pages {} -> {}, tasks {} -> {}", ms, free0, free1, tasks0, tasks1);
    ensure!(tasks1 == tasks0, "tasks {} before, {} after", tasks0, tasks1);
    ensure!(free1 == free0, "free+slab pages {} before 10,000 forks, {} after", free0, free1);
    Ok(())
}

/// Store 5 below rsp; fork; the child stores 9 there and exits with it;
/// the parent wait4s for that pid and exits with 16 * WEXITSTATUS + its own
/// value (149 if the copies were separate), or 99 if wait4 returned
/// another pid.
const FORK: &[u8] = &[
    0x48, 0xc7, 0x44, 0x24, 0xf8, 0x05, 0x00, 0x00, 0x00, 0xb8, 0x39, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x85, 0xc0, 0x75, 0x15,
    0x48, 0xc7, 0x44, 0x24, 0xf8, 0x09, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x7c, 0x24, 0xf8, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f,
    0x05, 0x89, 0xc3, 0x48, 0x83, 0xec, 0x10, 0x48, 0xc7, 0xc7, 0xff, 0xff, 0xff, 0xff, 0x48, 0x89, 0xe6, 0x31, 0xd2, 0x45,
    0x31, 0xd2, 0xb8, 0x3d, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x39, 0xc3, 0x75, 0x15, 0x8b, 0x3c, 0x24, 0xc1, 0xef, 0x08, 0xc1,
    0xe7, 0x04, 0x48, 0x03, 0x7c, 0x24, 0x08, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0x63, 0x00, 0x00, 0x00, 0xb8,
    0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05,
];
/// wait4(-1, NULL, 0, NULL) with no children; exit(-ret)
const ECHILD: &[u8] = &[
    0x48, 0xc7, 0xc7, 0xff, 0xff, 0xff, 0xff, 0x31, 0xf6, 0x31, 0xd2, 0x45, 0x31, 0xd2, 0xb8, 0x3d, 0x00, 0x00, 0x00, 0x0f,
    0x05, 0xf7, 0xd8, 0x89, 0xc7, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x0f, 0x05,
];

fn user_fork_wait() -> TestResult {
    let before = crate::kernel::pid::nr_tasks();
    let code = run_user(FORK, "ktest_fork")?;
    ensure!(code != 99 << 8, "wait4 returned another pid than fork");
    ensure!(code == 149 << 8, "exit {:#x}: expected 16*9+5 = 149 (child's own copy of the stack)", code);
    msleep_until_quiet();
    ensure!(crate::kernel::pid::nr_tasks() == before, "the reaped child is still in the pid table");
    Ok(())
}

fn user_wait_echild() -> TestResult {
    let code = run_user(ECHILD, "ktest_echild")?;
    ensure!(code == 10 << 8, "wait4 without children gave {:#x}, expected ECHILD (10) << 8", code);
    Ok(())
}

const CODE_AT: u64 = 0x40_0000;

/// mov $110,%eax; syscall; push %rax; pop %rdi; mov $60,%eax; syscall
const PPID: &[u8] = &[0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05, 0x50, 0x5f, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05];
/// syscall 500; exit(-ret)
const ENOSYS: &[u8] = &[0xb8, 0xf4, 0x01, 0, 0, 0x0f, 0x05, 0xf7, 0xd8, 0x89, 0xc7, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05];
/// uname(NULL); exit(-ret)
const EFAULT: &[u8] = &[0xb8, 0x3f, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05, 0xf7, 0xd8, 0x89, 0xc7, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05];
/// mov 0,%rax (NULL read); exit(0)
const SEGV: &[u8] = &[0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05];
/// 20M iterations of dec/jnz, then exit_group(5)
const BUSY: &[u8] = &[0xb9, 0x00, 0x2d, 0x31, 0x01, 0xff, 0xc9, 0x75, 0xfc, 0xb8, 0xe7, 0, 0, 0, 0xbf, 0x05, 0, 0, 0, 0x0f, 0x05];
/// sub $40000,%rsp; movq $7,(%rsp); exit(*rsp)
const STACK: &[u8] = &[
    0x48, 0x81, 0xec, 0x40, 0x9c, 0, 0, 0x48, 0xc7, 0x04, 0x24, 0x07, 0, 0, 0, 0x48, 0x8b, 0x3c, 0x24, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05,
];

/// Run `code` in user mode in a new kernel thread; returns its exit code.
fn run_user(code: &'static [u8], name: &str) -> Result<i32, alloc::string::String> {
    run_user_for(code, name, 10_000)
}

/// run_user, waiting up to `ms` for the exit.
fn run_user_for(code: &'static [u8], name: &str, ms: u64) -> Result<i32, alloc::string::String> {
    let t = kthread_run(
        move || {
            let Ok(mm) = MmStruct::new() else { return -12 };
            let ok = mm.insert_vma(CODE_AT, CODE_AT + 4096, VM_READ | VM_EXEC).is_ok()
                && mm.insert_vma(STACK_TOP - 4096, STACK_TOP, VM_READ | VM_WRITE | VM_GROWSDOWN).is_ok()
                && mm.populate_page(CODE_AT, VM_READ | VM_EXEC).is_ok()
                && mm.write_bytes(CODE_AT, code).is_ok();
            if !ok {
                return -12;
            }
            let me = current();
            crate::kernel::signal::reset_signals_for_user(&me);
            *me.mm.lock_irqsave() = Some(mm.clone());
            me.flags.fetch_and(!PF_KTHREAD, SeqCst);
            crate::arch::process::activate_mm(mm);
            crate::arch::process::start_thread(CODE_AT, STACK_TOP - 64);
            0
        },
        name,
    )
    .map_err(|e| alloc::format!("kthread_run: {}", e))?;
    if !super::wait_for(ms, || t.exit_state.load(SeqCst) != 0) {
        return Err(alloc::format!("{} did not exit (state {:x})", name, t.state()));
    }
    Ok(t.exit_code.load(SeqCst))
}

fn user_getppid() -> TestResult {
    let code = run_user(PPID, "ktest_ppid")?;
    ensure!(code == 2 << 8, "exit code {:#x}, expected getppid()=2 (kthreadd) << 8", code);
    Ok(())
}

fn user_enosys() -> TestResult {
    let code = run_user(ENOSYS, "ktest_enosys")?;
    ensure!(code == 38 << 8, "unknown syscall gave exit {:#x}, expected ENOSYS (38) << 8", code);
    Ok(())
}

fn user_efault() -> TestResult {
    let code = run_user(EFAULT, "ktest_efault")?;
    ensure!(code == 14 << 8, "uname(NULL) gave exit {:#x}, expected EFAULT (14) << 8", code);
    Ok(())
}

fn user_segfault() -> TestResult {
    let code = run_user(SEGV, "ktest_segv")?;
    ensure!(code == 11, "NULL read gave exit status {:#x}, expected death by SIGSEGV (11)", code);
    Ok(())
}

fn user_busy() -> TestResult {
    let ticks = |c: usize| crate::arch::percpu::per_cpu(c).timer_ticks.load(SeqCst);
    let before: u64 = crate::arch::percpu::for_each_online_cpu().map(ticks).sum();
    let code = run_user(BUSY, "ktest_busy")?;
    let after: u64 = crate::arch::percpu::for_each_online_cpu().map(ticks).sum();
    ensure!(code == 5 << 8, "exit_group(5) gave {:#x}", code);
    ensure!(after > before, "no timer interrupt arrived while user code ran");
    Ok(())
}

fn user_stack() -> TestResult {
    let code = run_user(STACK, "ktest_stack")?;
    ensure!(code == 7 << 8, "stack growth: exit {:#x}, expected 7 << 8", code);
    Ok(())
}

/// Address spaces give every page back.
fn user_mm_freed() -> TestResult {
    let _ = run_user(STACK, "ktest_warm")?;
    msleep_until_quiet();
    let free0 = crate::mm::page_alloc::nr_free_pages() + slab_pages();
    for _ in 0..20 {
        let _ = run_user(STACK, "ktest_mm")?;
        // fork copies an address space and the parent reaps the child.
        let _ = run_user(FORK, "ktest_mm_fork")?;
    }
    msleep_until_quiet();
    let free1 = crate::mm::page_alloc::nr_free_pages() + slab_pages();
    ensure!(free1 == free0, "free+slab pages {} before 20 user runs and forks, {} after", free0, free1);
    Ok(())
}

fn slab_pages() -> usize {
    crate::mm::slab::STATS.slab_pages.iter().map(|a| a.load(SeqCst)).sum::<usize>() + crate::mm::slab::STATS.large_pages.load(SeqCst)
}

fn msleep_until_quiet() {
    for _ in 0..200 {
        if NR_TASK_STRUCTS.load(SeqCst) == crate::kernel::pid::nr_tasks() + crate::arch::percpu::num_online_cpus() {
            break;
        }
        crate::kernel::time::timer::msleep(2);
    }
    drop_lazy_mms();
}

/// A CPU whose last user task exited keeps that task's mm loaded (lazy
/// TLB) until it next runs another user task, so the mm's pages are not
/// free yet. Make every CPU load init_mm, from a kworker on that CPU (in
/// process context: freeing an mm may need TLB shootdown IPIs), so page
/// counts taken now are exact.
fn drop_lazy_mms() {
    for cpu in 0..crate::arch::percpu::num_online_cpus() {
        let work = crate::kernel::workqueue::WorkStruct::new(|| {
            if crate::kernel::task::current().mm.lock_irqsave().is_none() {
                crate::arch::process::activate_init_mm();
            }
        });
        crate::kernel::workqueue::queue_work_on(cpu, &work);
        crate::kernel::workqueue::flush_work(&work);
    }
}
