//! Parsing and validating an ELF64 x86_64 executable before exec maps it.
//!
//! Mirrors the header checks of Linux 4.19 `fs/binfmt_elf.c`:
//! `load_elf_binary` (magic, `e_type`, `elf_check_arch`, the PT_INTERP and
//! PT_GNU_STACK scan, the per-PT_LOAD `TASK_SIZE` checks) and
//! `load_elf_phdrs` (`e_phentsize`, the number and total size of the program
//! headers). Any failure is an [`ElfError`], which exec turns into `ENOEXEC`
//! (Linux answers a few of these with `EINVAL` or `EIO`; to user space the
//! file is simply not executable). Nothing here panics or reads outside the
//! image, whatever its contents.
//!
//! All addresses in [`ElfInfo`] are the link-time ones from the file. For an
//! `ET_DYN` image the loader adds [`load_bias`] to every one of them.
//!
//! # Stricter than Linux
//!
//! Linux maps what it is given and lets a bad layout fail later (a `SIGBUS`
//! on a page past the end of the file, an `mmap` error on an incongruent
//! offset). Here such images are refused up front:
//!
//! - every PT_LOAD's file bytes must lie inside the image;
//! - `p_vaddr` and `p_offset` must be congruent modulo the page size (Linux
//!   would fail the `mmap`);
//! - PT_LOAD segments must be sorted by `p_vaddr` and must not overlap (the
//!   ELF specification requires the order; Linux assumes it);
//! - there must be at least one PT_LOAD, and the entry point must be below
//!   `TASK_SIZE` after the load bias (Linux: `BAD_ADDR(elf_entry)`, EINVAL);
//! - `ELFCLASS64` and little-endian data are required (x86_64's
//!   `elf_check_arch` looks only at `e_machine`; this parser reads the
//!   64-bit little-endian layout, so anything else is refused).
//!
//! # Left out
//!
//! Section headers (exec never looks at them), `PT_LOPROC..PT_HIPROC`
//! (`arch_elf_pt_proc` is empty on x86), `PN_XNUM` extended numbering (4.19
//! does not support it in exec either), and loading the interpreter named by
//! PT_INTERP: it is reported in [`ElfInfo::interp`] and the caller decides.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// `TASK_SIZE_MAX` on x86_64 with 4-level paging: `(1 << 47) - PAGE_SIZE`.
pub const TASK_SIZE: u64 = 0x7fff_ffff_f000;
/// `ELF_MIN_ALIGN` (= `PAGE_SIZE` on x86_64).
pub const ELF_MIN_ALIGN: u64 = 4096;
/// `ELF_ET_DYN_BASE` for 64-bit tasks in 4.19: `DEFAULT_MAP_WINDOW / 3 * 2`
/// (not yet page aligned; [`load_bias`] rounds it down).
pub const ELF_ET_DYN_BASE: u64 = TASK_SIZE / 3 * 2;
/// `sizeof(struct elf64_phdr)`.
pub const PHDR_SIZE: u16 = 56;
/// Largest `e_phnum` 4.19 accepts: `load_elf_phdrs` refuses more than
/// `ELF_MIN_ALIGN` bytes of program headers (4096 / 56 = 73). Linux 5.18
/// dropped that limit, leaving only `65536 / sizeof(struct elf_phdr)`.
pub const MAX_PHNUM: u16 = (ELF_MIN_ALIGN / PHDR_SIZE as u64) as u16;
/// `PATH_MAX`: the longest PT_INTERP `load_elf_binary` reads.
pub const PATH_MAX: u64 = 4096;

/// Size of `struct elf64_hdr`.
const EHDR_SIZE: usize = 64;

// e_ident
const ELFMAG: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;

// e_type, e_machine
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const EM_X86_64: u16 = 62;

// p_type
pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PT_GNU_STACK: u32 = 0x6474_e551;

// p_flags
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// What kind of executable the image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC`: linked at fixed addresses.
    Exec,
    /// `ET_DYN`: position independent (a static-pie binary, a PIE needing
    /// an interpreter, or a shared object run directly).
    Dyn,
}

/// One PT_LOAD program header, as the loader needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub readable: bool,
    pub writable: bool,
    pub executable: bool,
}

impl LoadSegment {
    /// One past the last byte of the segment in memory (cannot overflow:
    /// [`parse`] checked that it is at most [`TASK_SIZE`]).
    pub fn end(&self) -> u64 {
        self.vaddr + self.memsz
    }
}

/// The validated facts about an executable that exec needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfInfo {
    pub kind: ElfKind,
    /// `e_entry` (add [`load_bias`] for `ET_DYN`).
    pub entry: u64,
    /// Where the program headers are in memory (for `AT_PHDR`): PT_PHDR's
    /// `p_vaddr` if there is one, else computed from the PT_LOAD whose file
    /// bytes contain `e_phoff..e_phoff + phnum * 56`; None if no segment
    /// maps them.
    pub phdr_vaddr: Option<u64>,
    /// `e_phentsize` (always 56).
    pub phent: u16,
    /// `e_phnum`.
    pub phnum: u16,
    /// The PT_LOAD segments in file order (= ascending `vaddr`).
    pub segments: Vec<LoadSegment>,
    /// The PT_INTERP path (without its NUL), if the image names one.
    pub interp: Option<String>,
    /// Whether the stack must be executable. From PT_GNU_STACK's `PF_X`;
    /// without a PT_GNU_STACK header 4.19 x86_64 sets READ_IMPLIES_EXEC
    /// (`elf_read_implies_exec`: `executable_stack != EXSTACK_DISABLE_X`),
    /// so the stack is executable then too.
    pub stack_exec: bool,
}

/// Why an image is not a loadable executable (exec: `ENOEXEC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    /// No `\x7fELF` magic.
    NotElf,
    /// Not `ELFCLASS64`, or not little-endian (`ELFDATA2LSB`).
    WrongClass,
    /// `e_machine` is not `EM_X86_64`.
    WrongMachine,
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    WrongType,
    /// The ELF header, the program headers or a PT_INTERP string reach past
    /// the end of the image.
    Truncated,
    /// A program header or the entry point is unusable; the text says which.
    BadSegment(&'static str),
    /// More program headers than 4.19 reads ([`MAX_PHNUM`]).
    TooManySegments,
}

impl ElfError {
    /// The errno exec returns for every ELF error.
    pub const ENOEXEC: i32 = 8;

    /// A short description, for logs.
    pub fn describe(&self) -> &'static str {
        match self {
            ElfError::NotElf => "not an ELF file",
            ElfError::WrongClass => "not a 64-bit little-endian ELF file",
            ElfError::WrongMachine => "not an x86_64 ELF file",
            ElfError::WrongType => "neither ET_EXEC nor ET_DYN",
            ElfError::Truncated => "truncated ELF file",
            ElfError::BadSegment(why) => why,
            ElfError::TooManySegments => "too many program headers",
        }
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Little-endian field readers that fail instead of panicking.
fn bytes(image: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(off).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    image.get(start..end)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    let mut v = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        v.copy_from_slice(s);
    }
    u16::from_le_bytes(v)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut v = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        v.copy_from_slice(s);
    }
    u32::from_le_bytes(v)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

/// One raw program header.
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_filesz: u64,
    p_memsz: u64,
}

impl Phdr {
    /// `b` is exactly one 56-byte entry (the readers return 0 otherwise).
    fn read(b: &[u8]) -> Phdr {
        Phdr {
            p_type: u32_at(b, 0),
            p_flags: u32_at(b, 4),
            p_offset: u64_at(b, 8),
            p_vaddr: u64_at(b, 16),
            // p_paddr at 24 is unused
            p_filesz: u64_at(b, 32),
            p_memsz: u64_at(b, 40),
            // p_align at 48: Linux 4.19 ignores it
        }
    }
}

/// Parses and validates an executable image (the whole file).
pub fn parse(image: &[u8]) -> Result<ElfInfo, ElfError> {
    // load_elf_binary: "First of all, some simple consistency checks".
    if image.get(..4) != Some(&ELFMAG[..]) {
        return Err(ElfError::NotElf);
    }
    let ehdr = image.get(..EHDR_SIZE).ok_or(ElfError::Truncated)?;
    if ehdr[EI_CLASS] != ELFCLASS64 || ehdr[EI_DATA] != ELFDATA2LSB {
        return Err(ElfError::WrongClass);
    }
    let kind = match u16_at(ehdr, 16) {
        ET_EXEC => ElfKind::Exec,
        ET_DYN => ElfKind::Dyn,
        _ => return Err(ElfError::WrongType),
    };
    if u16_at(ehdr, 18) != EM_X86_64 {
        return Err(ElfError::WrongMachine);
    }
    let entry = u64_at(ehdr, 24);
    let phoff = u64_at(ehdr, 32);
    let phent = u16_at(ehdr, 54);
    let phnum = u16_at(ehdr, 56);

    // load_elf_phdrs.
    if phent != PHDR_SIZE {
        return Err(ElfError::BadSegment("e_phentsize is not 56"));
    }
    if phnum < 1 {
        return Err(ElfError::BadSegment("no program headers"));
    }
    if phnum > MAX_PHNUM {
        return Err(ElfError::TooManySegments);
    }
    let phsize = u64::from(phnum) * u64::from(PHDR_SIZE);
    let table = bytes(image, phoff, phsize).ok_or(ElfError::Truncated)?;
    let phdrs: Vec<Phdr> = table
        .chunks_exact(usize::from(PHDR_SIZE))
        .map(Phdr::read)
        .collect();

    // The PT_INTERP / PT_GNU_STACK scan. Like Linux, only the first
    // PT_INTERP counts, and the last PT_GNU_STACK.
    let mut interp = None;
    let mut stack_exec = true;
    for ph in &phdrs {
        match ph.p_type {
            PT_INTERP if interp.is_none() => interp = Some(read_interp(image, ph)?),
            PT_GNU_STACK => stack_exec = ph.p_flags & PF_X != 0,
            _ => {}
        }
    }

    let mut segments: Vec<LoadSegment> = Vec::new();
    for ph in phdrs.iter().filter(|ph| ph.p_type == PT_LOAD) {
        let seg = check_load(image, ph)?;
        if let Some(prev) = segments.last() {
            if seg.vaddr < prev.vaddr {
                return Err(ElfError::BadSegment(
                    "PT_LOAD segments are not sorted by p_vaddr",
                ));
            }
            if seg.vaddr < prev.end() {
                return Err(ElfError::BadSegment("PT_LOAD segments overlap"));
            }
        }
        segments.push(seg);
    }
    if segments.is_empty() {
        return Err(ElfError::BadSegment("no PT_LOAD segment"));
    }

    let phdr_vaddr = phdrs
        .iter()
        .find(|ph| ph.p_type == PT_PHDR)
        .map(|ph| ph.p_vaddr)
        .or_else(|| {
            segments.iter().find_map(|s| {
                let inside = phoff >= s.offset
                    && phoff
                        .checked_add(phsize)
                        .is_some_and(|end| end <= s.offset + s.filesz);
                inside.then(|| s.vaddr + (phoff - s.offset))
            })
        });

    let info = ElfInfo {
        kind,
        entry,
        phdr_vaddr,
        phent,
        phnum,
        segments,
        interp,
        stack_exec,
    };

    // Where the image really goes: an ET_DYN image is moved up by the load
    // bias, and must still fit below TASK_SIZE (Linux relies on mmap failing).
    let bias = load_bias(&info);
    if bias != 0 {
        for s in &info.segments {
            if s.vaddr
                .checked_add(bias)
                .and_then(|v| v.checked_add(s.memsz))
                .is_none_or(|end| end > TASK_SIZE)
            {
                return Err(ElfError::BadSegment(
                    "PT_LOAD segment above TASK_SIZE after the load bias",
                ));
            }
        }
    }
    // load_elf_binary: `if (BAD_ADDR(elf_entry))` after adding the bias.
    if entry.checked_add(bias).is_none_or(|e| e >= TASK_SIZE) {
        return Err(ElfError::BadSegment("entry point above TASK_SIZE"));
    }
    Ok(info)
}

/// The checks `load_elf_binary` makes on each PT_LOAD, plus the file-range
/// and congruence checks that Linux leaves to mmap and page faults.
fn check_load(image: &[u8], ph: &Phdr) -> Result<LoadSegment, ElfError> {
    // "Check to see if the section's size will overflow the allowed task
    // size": BAD_ADDR(k) || p_filesz > p_memsz || p_memsz > TASK_SIZE ||
    // TASK_SIZE - p_memsz < k.
    if ph.p_filesz > ph.p_memsz {
        return Err(ElfError::BadSegment("PT_LOAD with p_filesz > p_memsz"));
    }
    if ph.p_vaddr >= TASK_SIZE || ph.p_memsz > TASK_SIZE || TASK_SIZE - ph.p_memsz < ph.p_vaddr {
        return Err(ElfError::BadSegment("PT_LOAD segment above TASK_SIZE"));
    }
    let file_end = ph
        .p_offset
        .checked_add(ph.p_filesz)
        .ok_or(ElfError::BadSegment("PT_LOAD file range overflows"))?;
    if file_end > image.len() as u64 {
        return Err(ElfError::Truncated);
    }
    if !ph
        .p_vaddr
        .wrapping_sub(ph.p_offset)
        .is_multiple_of(ELF_MIN_ALIGN)
    {
        return Err(ElfError::BadSegment(
            "PT_LOAD p_vaddr and p_offset are not congruent modulo the page size",
        ));
    }
    Ok(LoadSegment {
        vaddr: ph.p_vaddr,
        memsz: ph.p_memsz,
        offset: ph.p_offset,
        filesz: ph.p_filesz,
        readable: ph.p_flags & PF_R != 0,
        writable: ph.p_flags & PF_W != 0,
        executable: ph.p_flags & PF_X != 0,
    })
}

/// PT_INTERP: "p_filesz > PATH_MAX || p_filesz < 2" and a missing final NUL
/// are ENOEXEC in `load_elf_binary`.
fn read_interp(image: &[u8], ph: &Phdr) -> Result<String, ElfError> {
    if ph.p_filesz > PATH_MAX || ph.p_filesz < 2 {
        return Err(ElfError::BadSegment("PT_INTERP has a bad size"));
    }
    let raw = bytes(image, ph.p_offset, ph.p_filesz).ok_or(ElfError::Truncated)?;
    if raw.last() != Some(&0) {
        return Err(ElfError::BadSegment("PT_INTERP is not NUL-terminated"));
    }
    // The kernel opens it as a C string: it ends at the first NUL.
    let path = raw.split(|&b| b == 0).next().unwrap_or(&[]);
    core::str::from_utf8(path)
        .map(String::from)
        .map_err(|_| ElfError::BadSegment("PT_INTERP is not UTF-8"))
}

/// Where an image is loaded relative to its link-time addresses, without
/// address space randomization.
///
/// `ET_EXEC`: 0. `ET_DYN`: what 4.19's `load_elf_binary` computes for a PIE
/// with an interpreter, `ELF_PAGESTART(ELF_ET_DYN_BASE - first p_vaddr)`, so
/// an image linked at 0 (every static-pie) is loaded at `0x555555554000`,
/// as gdb users know it. (4.19 itself maps an ET_DYN image *without*
/// PT_INTERP wherever mmap puts it, near the stack; the ELF_ET_DYN_BASE
/// placement is chosen here for both so addresses are predictable.)
pub fn load_bias(info: &ElfInfo) -> u64 {
    match info.kind {
        ElfKind::Exec => 0,
        ElfKind::Dyn => {
            let first = info.segments.first().map_or(0, |s| s.vaddr);
            ELF_ET_DYN_BASE.wrapping_sub(first) & !(ELF_MIN_ALIGN - 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use std::process::Command;

    // Layout of the test image: ELF header, 4 program headers (PT_PHDR,
    // PT_INTERP, 2 x PT_LOAD, PT_GNU_STACK), the interpreter path, code.
    const PHOFF: usize = 64;
    const NPH: usize = 5;
    const INTERP_OFF: usize = PHOFF + NPH * 56; // 344
    const INTERP: &[u8] = b"/lib/ld-musl-x86_64.so.1\0";
    const DATA_OFF: usize = 0x1000;
    const IMAGE_LEN: usize = 0x1010;
    const BASE: u64 = 0x40_0000;

    struct Ph {
        p_type: u32,
        flags: u32,
        offset: u64,
        vaddr: u64,
        filesz: u64,
        memsz: u64,
    }

    fn put(image: &mut [u8], off: usize, v: &[u8]) {
        image[off..off + v.len()].copy_from_slice(v);
    }

    fn put_ph(image: &mut [u8], i: usize, ph: &Ph) {
        let o = PHOFF + i * 56;
        put(image, o, &ph.p_type.to_le_bytes());
        put(image, o + 4, &ph.flags.to_le_bytes());
        put(image, o + 8, &ph.offset.to_le_bytes());
        put(image, o + 16, &ph.vaddr.to_le_bytes());
        put(image, o + 24, &ph.vaddr.to_le_bytes());
        put(image, o + 32, &ph.filesz.to_le_bytes());
        put(image, o + 40, &ph.memsz.to_le_bytes());
        put(image, o + 48, &0x1000u64.to_le_bytes());
    }

    /// A valid little executable: text (headers + code) at 0x400000, data
    /// + bss at 0x401000.
    fn minimal() -> Vec<u8> {
        let mut im = vec![0u8; IMAGE_LEN];
        put(&mut im, 0, &ELFMAG);
        im[EI_CLASS] = ELFCLASS64;
        im[EI_DATA] = ELFDATA2LSB;
        im[6] = 1; // EI_VERSION
        put(&mut im, 16, &ET_EXEC.to_le_bytes());
        put(&mut im, 18, &EM_X86_64.to_le_bytes());
        put(&mut im, 20, &1u32.to_le_bytes());
        put(&mut im, 24, &(BASE + 0x200).to_le_bytes()); // e_entry
        put(&mut im, 32, &(PHOFF as u64).to_le_bytes());
        put(&mut im, 52, &64u16.to_le_bytes());
        put(&mut im, 54, &56u16.to_le_bytes());
        put(&mut im, 56, &(NPH as u16).to_le_bytes());
        put_ph(
            &mut im,
            0,
            &Ph {
                p_type: PT_PHDR,
                flags: PF_R,
                offset: PHOFF as u64,
                vaddr: BASE + PHOFF as u64,
                filesz: (NPH * 56) as u64,
                memsz: (NPH * 56) as u64,
            },
        );
        put_ph(
            &mut im,
            1,
            &Ph {
                p_type: PT_INTERP,
                flags: PF_R,
                offset: INTERP_OFF as u64,
                vaddr: BASE + INTERP_OFF as u64,
                filesz: INTERP.len() as u64,
                memsz: INTERP.len() as u64,
            },
        );
        put_ph(
            &mut im,
            2,
            &Ph {
                p_type: PT_LOAD,
                flags: PF_R | PF_X,
                offset: 0,
                vaddr: BASE,
                filesz: 0x210,
                memsz: 0x210,
            },
        );
        put_ph(
            &mut im,
            3,
            &Ph {
                p_type: PT_LOAD,
                flags: PF_R | PF_W,
                offset: DATA_OFF as u64,
                vaddr: BASE + 0x1000,
                filesz: 0x10,
                memsz: 0x2000,
            },
        );
        put_ph(
            &mut im,
            4,
            &Ph {
                p_type: PT_GNU_STACK,
                flags: PF_R | PF_W,
                offset: 0,
                vaddr: 0,
                filesz: 0,
                memsz: 0,
            },
        );
        put(&mut im, INTERP_OFF, INTERP);
        put(&mut im, 0x200, &[0x0f, 0x05, 0xeb, 0xfe]); // syscall; jmp .
        im
    }

    fn ph_field(i: usize, off: usize) -> usize {
        PHOFF + i * 56 + off
    }

    fn with(mut im: Vec<u8>, off: usize, v: &[u8]) -> Vec<u8> {
        put(&mut im, off, v);
        im
    }

    #[test]
    fn minimal_image_parses() {
        let info = parse(&minimal()).unwrap();
        assert_eq!(info.kind, ElfKind::Exec);
        assert_eq!(info.entry, BASE + 0x200);
        assert_eq!(info.phdr_vaddr, Some(BASE + 64));
        assert_eq!((info.phent, info.phnum), (56, NPH as u16));
        assert_eq!(
            info.segments,
            [
                LoadSegment {
                    vaddr: BASE,
                    memsz: 0x210,
                    offset: 0,
                    filesz: 0x210,
                    readable: true,
                    writable: false,
                    executable: true
                },
                LoadSegment {
                    vaddr: BASE + 0x1000,
                    memsz: 0x2000,
                    offset: 0x1000,
                    filesz: 0x10,
                    readable: true,
                    writable: true,
                    executable: false
                },
            ]
        );
        assert_eq!(info.interp.as_deref(), Some("/lib/ld-musl-x86_64.so.1"));
        assert!(!info.stack_exec);
        assert_eq!(load_bias(&info), 0);
        assert_eq!(info.segments[1].end(), BASE + 0x3000);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let im = minimal();
        for len in 0..im.len() {
            let r = parse(&im[..len]);
            let want = if len < 4 {
                ElfError::NotElf
            } else {
                ElfError::Truncated
            };
            assert_eq!(r, Err(want), "length {len}");
        }
        assert!(parse(&im).is_ok());
    }

    #[test]
    fn header_fields() {
        let im = minimal();
        assert_eq!(
            parse(&with(im.clone(), 0, b"\x7fELG")),
            Err(ElfError::NotElf)
        );
        assert_eq!(parse(b"#!/bin/sh\n"), Err(ElfError::NotElf));
        assert_eq!(
            parse(&with(im.clone(), EI_CLASS, &[1])),
            Err(ElfError::WrongClass)
        );
        assert_eq!(
            parse(&with(im.clone(), EI_DATA, &[2])),
            Err(ElfError::WrongClass)
        );
        assert_eq!(
            parse(&with(im.clone(), 16, &1u16.to_le_bytes())),
            Err(ElfError::WrongType)
        ); // ET_REL
        assert_eq!(
            parse(&with(im.clone(), 16, &4u16.to_le_bytes())),
            Err(ElfError::WrongType)
        ); // ET_CORE
        assert_eq!(
            parse(&with(im.clone(), 18, &3u16.to_le_bytes())),
            Err(ElfError::WrongMachine)
        ); // EM_386
        assert_eq!(
            parse(&with(im.clone(), 18, &183u16.to_le_bytes())),
            Err(ElfError::WrongMachine)
        ); // aarch64
        assert_eq!(
            parse(&with(im.clone(), 54, &32u16.to_le_bytes())),
            Err(ElfError::BadSegment("e_phentsize is not 56"))
        );
        assert_eq!(
            parse(&with(im.clone(), 56, &0u16.to_le_bytes())),
            Err(ElfError::BadSegment("no program headers"))
        );
        assert_eq!(
            parse(&with(im.clone(), 56, &74u16.to_le_bytes())),
            Err(ElfError::TooManySegments)
        );
        assert_eq!(
            parse(&with(im.clone(), 56, &0xffffu16.to_le_bytes())),
            Err(ElfError::TooManySegments)
        );
        // 73 headers are allowed but reach past this small file.
        assert_eq!(
            parse(&with(im.clone(), 56, &73u16.to_le_bytes())),
            Err(ElfError::Truncated)
        );
        // e_phoff past the end, and so large that offset + size overflows.
        assert_eq!(
            parse(&with(im.clone(), 32, &0x10_0000u64.to_le_bytes())),
            Err(ElfError::Truncated)
        );
        assert_eq!(
            parse(&with(im.clone(), 32, &u64::MAX.to_le_bytes())),
            Err(ElfError::Truncated)
        );
        assert_eq!(
            parse(&with(im.clone(), 24, &TASK_SIZE.to_le_bytes())),
            Err(ElfError::BadSegment("entry point above TASK_SIZE"))
        );
        assert_eq!(
            parse(&with(im, 24, &u64::MAX.to_le_bytes())),
            Err(ElfError::BadSegment("entry point above TASK_SIZE"))
        );
    }

    #[test]
    fn load_segment_checks() {
        let im = minimal();
        let seg =
            |field: usize, v: u64| parse(&with(im.clone(), ph_field(3, field), &v.to_le_bytes()));
        let bad = |s: &'static str| Err(ElfError::BadSegment(s));
        // p_filesz > p_memsz
        assert_eq!(seg(32, 0x2001), bad("PT_LOAD with p_filesz > p_memsz"));
        // file bytes past the end of the image
        assert_eq!(seg(32, 0x11), Err(ElfError::Truncated));
        assert_eq!(seg(8, 0x2000), Err(ElfError::Truncated));
        assert_eq!(seg(8, u64::MAX - 4), bad("PT_LOAD file range overflows"));
        // TASK_SIZE
        assert_eq!(seg(16, TASK_SIZE), bad("PT_LOAD segment above TASK_SIZE"));
        assert_eq!(
            seg(16, TASK_SIZE - 0x1000),
            bad("PT_LOAD segment above TASK_SIZE")
        );
        assert_eq!(
            seg(40, TASK_SIZE + 1),
            bad("PT_LOAD segment above TASK_SIZE")
        );
        assert_eq!(seg(40, u64::MAX), bad("PT_LOAD segment above TASK_SIZE"));
        // ending exactly at TASK_SIZE is allowed (TASK_SIZE - p_memsz == k)
        assert!(seg(16, TASK_SIZE - 0x2000).is_ok());
        // congruence
        assert_eq!(
            seg(16, BASE + 0x1800),
            bad("PT_LOAD p_vaddr and p_offset are not congruent modulo the page size")
        );
        // order and overlap
        assert_eq!(
            seg(16, BASE - 0x1000),
            bad("PT_LOAD segments are not sorted by p_vaddr")
        );
        let overlap = with(im.clone(), ph_field(2, 40), &0x1001u64.to_le_bytes());
        assert_eq!(parse(&overlap), bad("PT_LOAD segments overlap"));
        // sharing a page (but no bytes) is fine
        let mut shared = with(im.clone(), ph_field(3, 16), &(BASE + 0xe00).to_le_bytes());
        put(&mut shared, ph_field(3, 8), &0xe00u64.to_le_bytes());
        put(&mut shared, ph_field(3, 32), &0x10u64.to_le_bytes());
        assert_eq!(
            parse(&shared).map(|i| i.segments[1].vaddr),
            Ok(BASE + 0xe00)
        );
        // no PT_LOAD at all
        let mut none = with(im.clone(), ph_field(2, 0), &PT_PHDR.to_le_bytes());
        put(&mut none, ph_field(3, 0), &0u32.to_le_bytes()); // PT_NULL
        assert_eq!(parse(&none), bad("no PT_LOAD segment"));
        // permissions
        let wx = with(im, ph_field(2, 4), &(PF_R | PF_W | PF_X).to_le_bytes());
        let s = parse(&wx).unwrap().segments[0];
        assert!(s.readable && s.writable && s.executable);
    }

    #[test]
    fn interp_and_stack() {
        let im = minimal();
        let bad = |s: &'static str| Err(ElfError::BadSegment(s));
        // not NUL-terminated
        let r = parse(&with(im.clone(), INTERP_OFF + INTERP.len() - 1, b"x"));
        assert_eq!(r, bad("PT_INTERP is not NUL-terminated"));
        // size 1 and > PATH_MAX
        assert_eq!(
            parse(&with(im.clone(), ph_field(1, 32), &1u64.to_le_bytes())),
            bad("PT_INTERP has a bad size")
        );
        assert_eq!(
            parse(&with(im.clone(), ph_field(1, 32), &4097u64.to_le_bytes())),
            bad("PT_INTERP has a bad size")
        );
        // past the end of the file
        assert_eq!(
            parse(&with(
                im.clone(),
                ph_field(1, 8),
                &(IMAGE_LEN as u64 - 4).to_le_bytes()
            )),
            Err(ElfError::Truncated)
        );
        assert_eq!(
            parse(&with(im.clone(), ph_field(1, 8), &u64::MAX.to_le_bytes())),
            Err(ElfError::Truncated)
        );
        // an embedded NUL ends the path, as in C
        let r = parse(&with(im.clone(), INTERP_OFF + 4, b"\0")).unwrap();
        assert_eq!(r.interp.as_deref(), Some("/lib"));
        assert_eq!(
            parse(&with(im.clone(), INTERP_OFF + 1, b"\xff")),
            bad("PT_INTERP is not UTF-8")
        );
        // no PT_INTERP (turned into PT_NULL)
        let r = parse(&with(im.clone(), ph_field(1, 0), &0u32.to_le_bytes())).unwrap();
        assert_eq!(r.interp, None);
        // PT_GNU_STACK with PF_X, and missing altogether (READ_IMPLIES_EXEC)
        let r = parse(&with(
            im.clone(),
            ph_field(4, 4),
            &(PF_R | PF_W | PF_X).to_le_bytes(),
        ))
        .unwrap();
        assert!(r.stack_exec);
        let r = parse(&with(im, ph_field(4, 0), &0u32.to_le_bytes())).unwrap();
        assert!(r.stack_exec);
    }

    #[test]
    fn phdr_address_without_pt_phdr() {
        let im = minimal();
        // PT_PHDR turned into PT_NULL: computed from the first PT_LOAD.
        let no_phdr = with(im.clone(), ph_field(0, 0), &0u32.to_le_bytes());
        assert_eq!(parse(&no_phdr).unwrap().phdr_vaddr, Some(BASE + 64));
        // PT_PHDR wins even if it disagrees.
        let odd = with(im, ph_field(0, 16), &0x1234u64.to_le_bytes());
        assert_eq!(parse(&odd).unwrap().phdr_vaddr, Some(0x1234));
        // No segment maps the headers.
        let mut unmapped = with(no_phdr, ph_field(2, 8), &0x1000u64.to_le_bytes());
        put(&mut unmapped, ph_field(2, 32), &0x10u64.to_le_bytes());
        put(&mut unmapped, ph_field(2, 40), &0x10u64.to_le_bytes());
        put(
            &mut unmapped,
            ph_field(3, 16),
            &(BASE + 0x1000).to_le_bytes(),
        );
        let info = parse(&unmapped).unwrap();
        assert_eq!(info.phdr_vaddr, None);
    }

    #[test]
    fn static_pie_bias() {
        // ET_DYN linked at 0.
        let mut im = with(minimal(), 16, &ET_DYN.to_le_bytes());
        for (i, v) in [(0, 64u64), (1, INTERP_OFF as u64), (2, 0), (3, 0x1000)] {
            put(&mut im, ph_field(i, 16), &v.to_le_bytes());
        }
        put(&mut im, 24, &0x200u64.to_le_bytes());
        let info = parse(&im).unwrap();
        assert_eq!(info.kind, ElfKind::Dyn);
        assert_eq!(load_bias(&info), 0x5555_5555_4000);
        assert_eq!(info.phdr_vaddr, Some(64));
        // Linked higher: ELF_PAGESTART(ELF_ET_DYN_BASE - vaddr).
        let mut high = im.clone();
        put(&mut high, ph_field(2, 16), &0x10_0000u64.to_le_bytes());
        put(&mut high, ph_field(3, 16), &0x10_1000u64.to_le_bytes());
        let info = parse(&high).unwrap();
        assert_eq!(load_bias(&info), 0x5555_5545_4000);
        assert_eq!(load_bias(&info) + info.segments[0].vaddr, 0x5555_5555_4000);
        // Fits unbiased but not after the bias.
        let mut big = im.clone();
        put(
            &mut big,
            ph_field(3, 40),
            &0x3000_0000_0000u64.to_le_bytes(),
        );
        assert_eq!(
            parse(&big),
            Err(ElfError::BadSegment(
                "PT_LOAD segment above TASK_SIZE after the load bias"
            ))
        );
        let mut far = im;
        put(&mut far, 24, &(TASK_SIZE - 0x5555_5555_4000).to_le_bytes());
        assert_eq!(
            parse(&far),
            Err(ElfError::BadSegment("entry point above TASK_SIZE"))
        );
    }

    #[test]
    fn corrupting_any_byte_never_panics() {
        let im = minimal();
        // Every byte of the headers, set to a few interesting values.
        for off in 0..INTERP_OFF + INTERP.len() {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let _ = parse(&with(im.clone(), off, &[v]));
            }
        }
        // Pseudo-random garbage after a valid magic.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut g = im.clone();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let off = (x as usize) % (INTERP_OFF + 8);
                g[off] = (x >> 32) as u8;
            }
            let _ = parse(&g);
        }
    }

    #[test]
    fn error_texts() {
        assert_eq!(ElfError::NotElf.describe(), "not an ELF file");
        assert_eq!(
            alloc::format!("{}", ElfError::BadSegment("PT_LOAD segments overlap")),
            "PT_LOAD segments overlap"
        );
        assert_eq!(ELF_ET_DYN_BASE, 0x5555_5555_4aaa);
        assert_eq!(MAX_PHNUM, 73);
    }

    /// Compiles a C program with the host compiler; None (with a note) if
    /// there is no compiler or it cannot link that way.
    fn compile(name: &str, flags: &[&str]) -> Option<Vec<u8>> {
        let cc = ["cc", "musl-gcc"].into_iter().find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let Some(cc) = cc else {
            std::eprintln!("note: no C compiler; skipping the real-binary ELF test");
            return None;
        };
        let dir = std::env::temp_dir().join(std::format!("klib-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let src = dir.join("t.c");
        std::fs::write(&src, "int main(void) { return 3; }\n").ok()?;
        let out = dir.join(name);
        let ok = Command::new(cc)
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .output()
            .is_ok_and(|o| o.status.success());
        let data = if ok { std::fs::read(&out).ok() } else { None };
        let _ = std::fs::remove_dir_all(&dir);
        if data.is_none() {
            std::eprintln!(
                "note: `{cc} {}` failed; skipping that case",
                flags.join(" ")
            );
        }
        data
    }

    fn check_real(image: &[u8], kind: ElfKind) -> ElfInfo {
        let info = parse(image).unwrap();
        assert_eq!(info.kind, kind);
        assert_eq!(info.interp, None);
        assert!(!info.stack_exec, "toolchains mark the stack non-executable");
        assert!(info
            .segments
            .iter()
            .any(|s| s.executable && (s.vaddr..s.end()).contains(&info.entry)));
        let ph = info.phdr_vaddr.expect("program headers are mapped");
        assert!(info
            .segments
            .iter()
            .any(|s| (s.vaddr..s.end()).contains(&ph)));
        info
    }

    #[test]
    fn real_static_binaries() {
        if let Some(im) = compile("static", &["-static", "-O2", "-no-pie"]) {
            check_real(&im, ElfKind::Exec);
            // Truncating a real binary anywhere is an error, not a panic.
            for len in (0..im.len()).step_by(97) {
                let _ = parse(&im[..len]);
            }
        }
        if let Some(im) = compile("static-pie", &["-static-pie", "-O2", "-fPIE"]) {
            let info = check_real(&im, ElfKind::Dyn);
            assert_eq!(load_bias(&info), 0x5555_5555_4000);
        }
    }
}
