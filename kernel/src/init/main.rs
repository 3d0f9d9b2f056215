//! start_kernel and the road to init (mirrors init/main.c).
//!
//! `start_kernel` sets up the machine on the boot CPU, which is already
//! the idle task swapper/0 (pid 0). `rest_init` forks `kernel_init` as pid 1
//! and `kthreadd` as pid 2 with kernel_thread, then the boot CPU settles into
//! its idle loop. kernel_init brings up the other CPUs, starts the per-CPU
//! stopper threads and runs the first user program.
//!
//! There is no VFS yet either, so every init candidate fails with ENOENT,
//! and boot ends exactly as Linux's does without a root filesystem:
//! `Kernel panic - not syncing: No working init found.`

use crate::arch::multiboot::BootInfo;
use crate::arch::processor::local_irq_enable;
use crate::kernel::fork::{kernel_thread_pid, CLONE_FS};
use crate::kernel::sched::wait::Completion;
use crate::kernel::panic::{panic, TINE_VERSION};
use crate::kernel::params::{boot_params, parse_boot_params};

const ENOENT: i32 = 2;

pub fn start_kernel(bi: &'static BootInfo, boot_tsc: u64) -> ! {
    pr_notice!("Tine version {} ({}) #1 SMP", TINE_VERSION, env!("TINE_RUSTC_VERSION"));
    pr_info!("Command line: {}", bi.cmdline());
    crate::arch::setup::setup_arch(bi, boot_tsc);
    pr_notice!("Kernel command line: {}", bi.cmdline());
    let params = parse_boot_params(bi.cmdline());
    crate::kernel::trace::trace_init();
    crate::kernel::printk::setup_loglevel(params.loglevel, params.quiet, params.debug, params.ignore_loglevel);
    crate::arch::setup::report_console_problems(params.console);
    crate::kernel::pid::pidmap_init();
    crate::kernel::sched::sched_init(crate::arch::setup::boot_stack_base());
    // Early boot scheduling is fragile until the idle loop runs: the boot
    // CPU's code is not preemptible from here on (as in Linux).
    crate::sync::preempt_disable();
    crate::arch::setup::apic_bsp_setup();
    local_irq_enable();
    rest_init()
}

/// kernel_init waits for kthreadd before it creates kernel threads.
static KTHREADD_DONE: Completion = Completion::new();

fn rest_init() -> ! {
    if let Err(e) = kernel_thread_pid(kernel_init, CLONE_FS, 1) {
        panic(format_args!("rest_init: cannot create kernel_init ({})", e));
    }
    if let Err(e) = crate::kernel::kthread::spawn_kthreadd() {
        panic(format_args!("rest_init: cannot create kthreadd ({})", e));
    }
    KTHREADD_DONE.complete_all();
    // schedule_preempt_disabled(): let pid 1 and 2 run, then the boot CPU
    // is the idle task from here on (cpu_startup_entry).
    crate::sync::preempt_enable_no_resched();
    crate::kernel::sched::schedule();
    crate::sync::preempt_disable();
    crate::kernel::sched::idle::cpu_startup_entry()
}

/// How many CPUs to bring up: `nosmp` means 1, `maxcpus=N` means N
/// (0 also means the boot CPU only), `nr_cpus=N` caps it too.
fn setup_max_cpus() -> usize {
    let p = boot_params();
    let mut n = crate::arch::percpu::NR_CPUS;
    if p.nosmp {
        n = 1;
    }
    if let Some(m) = p.maxcpus {
        n = n.min(m.max(1) as usize);
    }
    if let Some(m) = p.nr_cpus {
        n = n.min(m.max(1) as usize);
    }
    n
}

fn kernel_init_freeable() {
    KTHREADD_DONE.wait_for_completion();
    crate::arch::smpboot::smp_init(setup_max_cpus());
    crate::kernel::sched::stop_task::cpu_stop_init();
    crate::kernel::workqueue::workqueue_init();
}

/// pid 1.
fn kernel_init() -> i32 {
    kernel_init_freeable();
    if let Some(sel) = boot_params().ktest {
        crate::kernel::ktest::ktest_run_tests(sel);
    }
    if let Some(init) = boot_params().init {
        match run_init_process(init) {
            Ok(()) => unreachable!("exec does not return on success"),
            Err(e) => panic(format_args!("Requested init {} failed (error {}).", init, e)),
        }
    }
    for path in ["/sbin/init", "/etc/init", "/bin/init", "/bin/sh"] {
        if run_init_process(path).is_ok() {
            unreachable!("exec does not return on success");
        }
    }
    panic(format_args!("No working init found.  Try passing init= option to kernel."))
}

fn run_init_process(path: &str) -> Result<(), i32> {
    pr_info!("Run {} as init process", path);
    kernel_execve(path)
}

/// Exec a user program from the kernel. Path lookup needs a root
/// filesystem, which does not exist yet, so every lookup fails with ENOENT.
fn kernel_execve(_path: &str) -> Result<(), i32> {
    Err(-ENOENT)
}

