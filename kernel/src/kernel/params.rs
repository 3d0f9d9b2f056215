//! Boot parameters (mirrors init/main.c's parse_args handling and the
//! `__setup`/`early_param` tables). Parsing is `klib::cmdline` (host-tested);
//! this file keeps the result and applies the settings that belong to the
//! kernel core. Unknown parameters are reported as Linux does and kept for
//! init (argv/envp) later.

use crate::sync::Once;
use klib::cmdline::BootParams;

static BOOT_PARAMS: Once<BootParams<'static>> = Once::new();

pub fn parse_boot_params(cmdline: &'static str) -> &'static BootParams<'static> {
    let p = BOOT_PARAMS.call_once(|| BootParams::parse(cmdline));
    for w in &p.warnings {
        pr_warn!("{}", w);
    }
    if !p.unknown.is_empty() {
        let mut list = alloc::string::String::new();
        for (i, u) in p.unknown.iter().enumerate() {
            if i > 0 {
                list.push(' ');
            }
            list.push_str(u);
        }
        pr_notice!("Unknown kernel command line parameters \"{}\", will be passed to user space.", list);
    }
    crate::kernel::panic::set_panic_timeout(p.panic);
    if let Some(hz) = p.hz {
        crate::kernel::time::set_hz(hz);
    }
    p
}

pub fn boot_params() -> &'static BootParams<'static> {
    BOOT_PARAMS.get().expect("boot parameters are parsed in start_kernel")
}
