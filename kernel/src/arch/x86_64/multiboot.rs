//! Multiboot v1 boot information (the loader's equivalent of Linux's
//! boot_params / e820 table). Parsed once, very early, while the boot page
//! tables still identity-map the low 4 GiB; everything is copied into
//! `BootInfo` so nothing points back into loader memory afterwards.

pub const MULTIBOOT_BOOTLOADER_MAGIC: u32 = 0x2BAD_B002;

const MB_INFO_MEMORY: u32 = 1 << 0;
const MB_INFO_CMDLINE: u32 = 1 << 2;
const MB_INFO_MODS: u32 = 1 << 3;
const MB_INFO_MEM_MAP: u32 = 1 << 6;

/// e820 types, as the multiboot map uses them.
pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;
pub const E820_ACPI: u32 = 3;
pub const E820_NVS: u32 = 4;
pub const E820_UNUSABLE: u32 = 5;

#[derive(Clone, Copy, Default)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

#[derive(Clone, Copy, Default)]
pub struct Module {
    pub start: u64,
    pub end: u64,
}

pub const MAX_E820: usize = 64;
pub const COMMAND_LINE_SIZE: usize = 2048;

pub struct BootInfo {
    pub e820: [E820Entry; MAX_E820],
    pub nr_e820: usize,
    pub cmdline: [u8; COMMAND_LINE_SIZE],
    pub cmdline_len: usize,
    pub modules: [Module; 4],
    pub nr_modules: usize,
    /// Where the info block itself sits (reserved until parsed).
    pub info_phys: u64,
}

impl BootInfo {
    pub const fn empty() -> Self {
        BootInfo {
            e820: [E820Entry { addr: 0, size: 0, kind: 0 }; MAX_E820],
            nr_e820: 0,
            cmdline: [0; COMMAND_LINE_SIZE],
            cmdline_len: 0,
            modules: [Module { start: 0, end: 0 }; 4],
            nr_modules: 0,
            info_phys: 0,
        }
    }
    pub fn cmdline(&self) -> &str {
        core::str::from_utf8(&self.cmdline[..self.cmdline_len]).unwrap_or("")
    }
    pub fn e820(&self) -> &[E820Entry] {
        &self.e820[..self.nr_e820]
    }
}

fn read_u32(phys: u64) -> u32 {
    // SAFETY: called only on addresses inside the multiboot info block or
    // tables the loader handed us, below 4 GiB and identity-mapped by the
    // boot page tables at this point.
    unsafe { (phys as *const u32).read_unaligned() }
}
fn read_u64(phys: u64) -> u64 {
    // SAFETY: as read_u32.
    unsafe { (phys as *const u64).read_unaligned() }
}
fn read_u8(phys: u64) -> u8 {
    // SAFETY: as read_u32.
    unsafe { (phys as *const u8).read() }
}

/// Copy what we need out of the loader's info block.
pub fn parse(magic: u32, info: u64, out: &mut BootInfo) -> Result<(), &'static str> {
    if magic != MULTIBOOT_BOOTLOADER_MAGIC {
        return Err("not booted by a multiboot loader");
    }
    if info == 0 || info >= 1 << 32 {
        return Err("bad multiboot info pointer");
    }
    out.info_phys = info;
    let flags = read_u32(info);
    if flags & MB_INFO_CMDLINE != 0 {
        let p = read_u32(info + 16) as u64;
        let mut n = 0;
        while n < COMMAND_LINE_SIZE - 1 {
            let c = read_u8(p + n as u64);
            if c == 0 {
                break;
            }
            out.cmdline[n] = c;
            n += 1;
        }
        // Keep only a valid UTF-8 prefix so cmdline() never drops everything.
        let valid = match core::str::from_utf8(&out.cmdline[..n]) {
            Ok(_) => n,
            Err(e) => e.valid_up_to(),
        };
        out.cmdline_len = valid;
        boot_image_param(out);
    }
    if flags & MB_INFO_MODS != 0 {
        let count = read_u32(info + 20) as usize;
        let addr = read_u32(info + 24) as u64;
        for i in 0..count.min(out.modules.len()) {
            let m = addr + 16 * i as u64;
            out.modules[i] = Module { start: read_u32(m) as u64, end: read_u32(m + 4) as u64 };
            out.nr_modules += 1;
        }
    }
    if flags & MB_INFO_MEM_MAP != 0 {
        let len = read_u32(info + 44) as u64;
        let addr = read_u32(info + 48) as u64;
        let mut p = addr;
        while p < addr + len && out.nr_e820 < MAX_E820 {
            let size = read_u32(p) as u64;
            out.e820[out.nr_e820] = E820Entry { addr: read_u64(p + 4), size: read_u64(p + 12), kind: read_u32(p + 20) };
            out.nr_e820 += 1;
            p += size + 4;
        }
    } else if flags & MB_INFO_MEMORY != 0 {
        // Only mem_lower/mem_upper (KiB): build the classic two-entry map.
        let lower = read_u32(info + 4) as u64 * 1024;
        let upper = read_u32(info + 8) as u64 * 1024;
        out.e820[0] = E820Entry { addr: 0, size: lower, kind: E820_RAM };
        out.e820[1] = E820Entry { addr: 0x10_0000, size: upper, kind: E820_RAM };
        out.nr_e820 = 2;
    } else {
        return Err("no memory map from the boot loader");
    }
    Ok(())
}

/// Multiboot loaders (GRUB, QEMU) put the kernel image's path first on the
/// command line. Name it the way GRUB names it for Linux, `BOOT_IMAGE=`, so
/// it reads as a parameter rather than an unknown word.
fn boot_image_param(out: &mut BootInfo) {
    const PREFIX: &[u8] = b"BOOT_IMAGE=";
    let line = &out.cmdline[..out.cmdline_len];
    let first_end = line.iter().position(|&c| c == b' ').unwrap_or(line.len());
    if first_end == 0 || line[..first_end].contains(&b'=') || out.cmdline_len + PREFIX.len() >= COMMAND_LINE_SIZE {
        return;
    }
    out.cmdline.copy_within(0..out.cmdline_len, PREFIX.len());
    out.cmdline[..PREFIX.len()].copy_from_slice(PREFIX);
    out.cmdline_len += PREFIX.len();
}

pub fn e820_type_name(kind: u32) -> &'static str {
    match kind {
        E820_RAM => "usable",
        E820_RESERVED => "reserved",
        E820_ACPI => "ACPI data",
        E820_NVS => "ACPI NVS",
        E820_UNUSABLE => "unusable",
        _ => "type ?",
    }
}
