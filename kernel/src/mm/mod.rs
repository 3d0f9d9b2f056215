//! Memory management (mirrors mm/ and arch/x86/mm/).
//!
//! Layout of the kernel's address space, as on Linux x86_64 (4-level):
//!
//! | virtual                      | what                                      |
//! |------------------------------|-------------------------------------------|
//! | 0000000000000000 - 00007fff… | user space (mmap.rs, memory.rs)           |
//! | ffff888000000000 (PAGE_OFFSET)| direct map of all physical memory        |
//! | ffffc90000000000 (VMALLOC)   | kernel mappings made page by page         |
//! | ffffffff80000000             | the kernel image (__START_KERNEL_map)     |
//!
//! Boot order: memblock (regions from the e820 map) -> paging_init (the
//! kernel page tables, built from memblock pages) -> mem_init (mem_map and
//! the buddy allocator get every free page) -> kmalloc works.

pub mod memblock;
pub mod madvise;
pub mod memory;
pub mod mmap;
pub mod mprotect;
pub mod mremap;
pub mod page_alloc;
pub mod pgtable;
pub mod slab;

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
pub const PAGE_OFFSET: u64 = 0xffff_8880_0000_0000;
pub const VMALLOC_START: u64 = 0xffff_c900_0000_0000;
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;

/// End of the direct map (PAGE_OFFSET + bytes mapped), 0 before paging_init.
static DIRECT_MAP_END: AtomicU64 = AtomicU64::new(0);

extern "C" {
    static __kernel_phys_start: u8;
    static __kernel_end: u8;
}

/// `__va()`: valid for any physical address below the top of the direct map.
pub fn phys_to_virt(phys: u64) -> u64 {
    PAGE_OFFSET + phys
}

/// `__pa()` for direct-map and kernel-image addresses.
pub fn virt_to_phys(virt: u64) -> u64 {
    if virt >= START_KERNEL_MAP {
        virt - START_KERNEL_MAP
    } else {
        virt - PAGE_OFFSET
    }
}

/// Virtual range of the loaded kernel image (text to end of bss).
pub fn kernel_image_range() -> (u64, u64) {
    let start = core::ptr::addr_of!(__kernel_phys_start) as u64 + START_KERNEL_MAP;
    (start, core::ptr::addr_of!(__kernel_end) as u64)
}

/// Is [addr, addr+len) always-mapped kernel memory (image or direct map)?
/// Used by the stack unwinder before it dereferences a frame pointer.
pub fn kernel_addr_mapped(addr: u64, len: u64) -> bool {
    let Some(end) = addr.checked_add(len) else { return false };
    let (ks, ke) = kernel_image_range();
    let dm_end = DIRECT_MAP_END.load(Relaxed);
    (addr >= ks && end <= ke) || (dm_end != 0 && addr >= PAGE_OFFSET && end <= dm_end)
}

/// Copy kernel bytes to physical memory (through the direct map).
pub fn copy_to_phys(pa: u64, data: &[u8]) {
    // SAFETY: callers pass physical addresses of pages they own (user pages
    // of an address space being built or faulted in), covered by the direct
    // map, with data not crossing the page.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), phys_to_virt(pa) as *mut u8, data.len()) }
}

/// Copy from physical memory to a kernel buffer (through the direct map).
pub fn copy_from_phys(pa: u64, out: &mut [u8]) {
    // SAFETY: as copy_to_phys.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(pa) as *const u8, out.as_mut_ptr(), out.len()) }
}

/// `copy_highpage`: copy a whole page, physical to physical.
pub fn copy_page(dst_pa: u64, src_pa: u64) {
    // SAFETY: both are whole pages in the direct map; the caller owns the
    // destination (just allocated) and holds a reference to the source.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(src_pa) as *const u8, phys_to_virt(dst_pa) as *mut u8, PAGE_SIZE as usize) }
}

/// A read-only view of reserved physical memory (the initrd) through the
/// direct map, for as long as the kernel runs.
pub fn phys_slice(pa: u64, len: usize) -> &'static [u8] {
    assert!(pa.checked_add(len as u64).is_some_and(|end| end <= DIRECT_MAP_END.load(Relaxed) - PAGE_OFFSET), "phys_slice beyond the direct map");
    // SAFETY: the range is inside the direct map (checked) and callers only
    // pass memblock-reserved ranges, which the page allocator never hands
    // out, so nothing writes them while the slice exists.
    unsafe { core::slice::from_raw_parts(phys_to_virt(pa) as *const u8, len) }
}

/// Bring up memory management on the boot CPU.
pub fn mm_init(boot: &crate::arch::multiboot::BootInfo) {
    memblock::memblock_setup(boot);
    let mapped = pgtable::paging_init(memblock::max_phys_addr());
    DIRECT_MAP_END.store(PAGE_OFFSET + mapped, Relaxed);
    page_alloc::mem_init();
}
