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


pub fn start_kernel(bi: &'static BootInfo, boot_tsc: u64) -> ! {
    pr_notice!("Tine version {} ({}) #1 SMP", TINE_VERSION, env!("TINE_RUSTC_VERSION"));
    pr_info!("Command line: {}", bi.cmdline());
    crate::arch::setup::setup_arch(bi, boot_tsc);
    pr_notice!("Kernel command line: {}", bi.cmdline());
    let params = parse_boot_params(bi.cmdline());
    crate::kernel::trace::trace_init();
    crate::kernel::printk::setup_loglevel(params.loglevel, params.quiet, params.debug, params.ignore_loglevel);
    crate::arch::setup::report_console_problems(params.console);
    crate::fs::vfs_caches_init();
    crate::kernel::pid::pidmap_init();
    crate::kernel::sched::sched_init(crate::arch::setup::boot_stack_base());
    crate::kernel::time::timekeeping_init();
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
    crate::kernel::sched::schedule_idle();
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
    populate_rootfs();
    console_on_rootfs();
}

/// Unpack the initramfs the boot loader gave us into the root (init/initramfs.c).
fn populate_rootfs() {
    let Some(image) = crate::arch::setup::initrd() else { return };
    // populate_rootfs logs what Linux logs (the attempt, and any failure).
    let _ = crate::fs::populate_rootfs(image);
}

/// `console_on_rootfs`: init gets /dev/console as fds 0, 1 and 2.
fn console_on_rootfs() {
    let files = alloc::sync::Arc::new(crate::fs::FilesStruct::new());
    *crate::kernel::task::current().files.lock_irqsave() = Some(files.clone());
    match crate::fs::filp_open("/dev/console", crate::fs::fcntl::O_RDWR, 0) {
        Ok(f) => {
            for _ in 0..3 {
                let _ = files.fd_install(f.clone(), false);
            }
        }
        Err(_) => pr_warn!("Warning: unable to open an initial console."),
    }
}

/// pid 1.
fn kernel_init() -> i32 {
    kernel_init_freeable();
    if let Some(sel) = boot_params().ktest {
        crate::kernel::ktest::ktest_run_tests(sel);
    }
    // On success, kernel_init returns and ret_from_fork enters user mode
    // in the new program, as on Linux.
    let rdinit = boot_params().rdinit.unwrap_or("/init");
    if crate::fs::namei::kern_path(rdinit, true).is_ok() {
        match run_init_process(rdinit) {
            Ok(()) => return 0,
            Err(e) => pr_err!("Failed to execute {} (error {})", rdinit, e),
        }
    }
    if let Some(init) = boot_params().init {
        match run_init_process(init) {
            Ok(()) => return 0,
            Err(e) => panic(format_args!("Requested init {} failed (error {}).", init, e)),
        }
    }
    for path in ["/sbin/init", "/etc/init", "/bin/init", "/bin/sh"] {
        if run_init_process(path).is_ok() {
            return 0;
        }
    }
    panic(format_args!("No working init found.  Try passing init= option to kernel."))
}

/// `run_init_process`: argv is the path plus the command line's init
/// arguments, envp Linux's default plus unknown `name=value` parameters.
fn run_init_process(path: &str) -> Result<(), i32> {
    pr_info!("Run {} as init process", path);
    let p = boot_params();
    let mut argv = alloc::vec![alloc::vec::Vec::from(path.as_bytes())];
    argv.extend(p.init_argv.iter().map(|a| alloc::vec::Vec::from(a.as_bytes())));
    let mut envp = alloc::vec![alloc::vec::Vec::from(&b"HOME=/"[..]), alloc::vec::Vec::from(&b"TERM=linux"[..])];
    envp.extend(p.init_envp.iter().map(|e| alloc::vec::Vec::from(e.as_bytes())));
    crate::fs::exec::do_execve(path, argv, envp).map_err(|e| -e.0)
}

