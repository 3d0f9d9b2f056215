//! Boot-time memory regions (mirrors mm/memblock.c and arch/x86/kernel/
//! e820.c's handover to memblock). The algorithm lives in `klib::memblock`
//! (host-tested); this file fills it from the boot loader's map and
//! reserves what is in use: the first MiB (BIOS data, the AP trampoline at
//! 0x8000), the kernel image, the boot modules (initrd).

use crate::arch::multiboot::{e820_type_name, BootInfo, E820_RAM};
use crate::sync::SpinLock;
use klib::memblock::Memblock;

/// Lock order: taken alone, only during boot.
static MEMBLOCK: SpinLock<Memblock> = SpinLock::new("memblock", Memblock::new());

extern "C" {
    static __kernel_phys_start: u8;
    static __bss_end_phys: u8;
}

pub fn memblock_setup(boot: &BootInfo) {
    let mut mb = MEMBLOCK.lock();
    pr_info!("BIOS-provided physical RAM map:");
    for e in boot.e820() {
        pr_info!(
            "BIOS-e820: [mem 0x{:016x}-0x{:016x}] {}",
            e.addr,
            (e.addr + e.size).saturating_sub(1),
            e820_type_name(e.kind)
        );
        if e.kind == E820_RAM {
            // Only whole pages are usable.
            let start = (e.addr + 0xfff) & !0xfff;
            let end = (e.addr + e.size) & !0xfff;
            if end > start && mb.add(start, end - start).is_err() {
                pr_warn!("memblock: too many memory regions, ignoring [mem 0x{:x}-0x{:x}]", start, end - 1);
            }
        }
    }
    let kstart = core::ptr::addr_of!(__kernel_phys_start) as u64;
    let kend = core::ptr::addr_of!(__bss_end_phys) as u64;
    let mut reserve = |base: u64, size: u64, what: &str| {
        if mb.reserve(base, size).is_err() {
            pr_warn!("memblock: cannot reserve {} [mem 0x{:x}-0x{:x}]", what, base, base + size - 1);
        }
    };
    reserve(0, 0x10_0000, "low memory");
    reserve(kstart, (kend - kstart + 0xfff) & !0xfff, "kernel image");
    for m in &boot.modules[..boot.nr_modules] {
        if m.end > m.start {
            reserve(m.start & !0xfff, ((m.end + 0xfff) & !0xfff) - (m.start & !0xfff), "boot module");
        }
    }
    // Page tables built before the direct map exists are written through the
    // boot identity map, which covers the low 4 GiB; stay well below it.
    mb.set_limit(1 << 30);
}

/// Allocate boot memory (zeroed by the caller) below the current limit.
pub fn memblock_alloc(size: u64, align: u64) -> Option<u64> {
    MEMBLOCK.lock().alloc(size, align)
}

pub fn memblock_lift_limit() {
    MEMBLOCK.lock().set_limit(u64::MAX);
}

pub fn max_phys_addr() -> u64 {
    MEMBLOCK.lock().memory().iter().map(|r| r.end()).max().unwrap_or(0)
}

/// Hand every free range to `f` (used once, by mem_init).
pub fn for_each_free_range(mut f: impl FnMut(u64, u64)) {
    let mb = MEMBLOCK.lock();
    for r in mb.free_ranges() {
        f(r.base, r.end());
    }
}

pub fn total_memory() -> u64 {
    MEMBLOCK.lock().total_memory()
}
