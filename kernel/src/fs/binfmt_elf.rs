//! Loading static ELF executables (mirrors fs/binfmt_elf.c's
//! load_elf_binary and create_elf_tables). The header checks are
//! `klib::elf` and the stack layout `klib::exec`, both tested on the host.
//!
//! Each PT_LOAD segment becomes a VMA. Its pages that hold only file bytes
//! map the ramfs file's own pages, read-only until a write copies them
//! (Linux maps the page cache the same way, though lazily, at fault time);
//! the page where the bss begins is a private copy with the rest zeroed,
//! and whole bss pages are demand-zero. ET_EXEC loads at its link address,
//! static-pie (ET_DYN) at ELF_ET_DYN_BASE. Dynamically linked programs
//! (PT_INTERP) are refused with ENOEXEC for now.

use crate::kernel::errno::{KResult, E2BIG, ENOEXEC, ENOMEM};
use crate::mm::mmap::{page_down, page_up, MmStruct, STACK_TOP, VM_EXEC, VM_GROWSDOWN, VM_READ, VM_WRITE};
use crate::fs::inode::Inode;
use alloc::sync::Arc;

const PAGE: u64 = 4096;
static ZEROS: [u8; PAGE as usize] = [0; PAGE as usize];
use klib::elf::{self, ElfInfo};
use klib::exec::*;

/// The initial stack VMA (it grows on demand up to RLIMIT_STACK).
const STACK_INIT: u64 = 128 * 1024;

/// What exec needs to start the program.
pub struct LoadedElf {
    pub mm: Arc<MmStruct>,
    pub entry: u64,
    pub sp: u64,
}

fn vm_flags(seg: &elf::LoadSegment) -> u32 {
    (if seg.readable { VM_READ } else { 0 }) | (if seg.writable { VM_WRITE } else { 0 }) | (if seg.executable { VM_EXEC } else { 0 })
}

/// A 16-byte AT_RANDOM value. Tine has no entropy pool yet: this mixes the
/// TSC, which is unpredictable enough for stack canaries in a teaching
/// kernel, not for cryptography.
fn at_random() -> [u8; 16] {
    let mut x = crate::arch::processor::rdtsc() ^ 0x9e37_79b9_7f4a_7c15;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    out
}

/// `load_elf_binary`: build a new address space for `image`.
#[inline(never)] // on the path the notes trace: keep the symbol
pub fn load_elf_binary(image: &[u8], file: &Inode, filename: &[u8], argv: &[&[u8]], envp: &[&[u8]]) -> KResult<LoadedElf> {
    let info: ElfInfo = elf::parse(image).map_err(|_| ENOEXEC)?;
    if let Some(interp) = &info.interp {
        pr_warn!("exec: {} needs the dynamic loader {}: not supported yet", core::str::from_utf8(filename).unwrap_or("?"), interp);
        return Err(ENOEXEC);
    }
    let bias = elf::load_bias(&info);
    let mm = MmStruct::new()?;
    let mut end_of_image = 0;
    let mut prev_end = 0;
    for seg in &info.segments {
        let flags = vm_flags(seg);
        let vaddr = bias + seg.vaddr;
        let start = page_down(vaddr).max(prev_end);
        let end = page_up(vaddr + seg.memsz);
        if end > start {
            mm.insert_vma(start, end, flags).map_err(|_| ENOEXEC)?;
        }
        let file_end = vaddr + seg.filesz;
        let mem_end = vaddr + seg.memsz;
        let data = image.get(seg.offset as usize..(seg.offset + seg.filesz) as usize).ok_or(ENOEXEC)?;
        let mut va = page_down(vaddr);
        while va < end {
            let fresh = va >= prev_end; // no earlier segment put bytes here
            if fresh && va >= file_end {
                // Only bss: demand-zero on first touch, as brk memory.
                va += PAGE;
                continue;
            }
            // elf_map: a page that shows only the file (the bytes around the
            // segment are the file's neighbouring bytes, as on Linux) maps
            // the file's own page, copied on the first write.
            if fresh && (va + PAGE <= file_end || mem_end == file_end) {
                let file_off = page_down(seg.offset) + (va - page_down(vaddr));
                if let Ok(pa) = file.find_or_create_page(file_off / PAGE) {
                    mm.map_file_page(va, pa, flags)?;
                    va += PAGE;
                    continue;
                }
            }
            // Where the bss starts, or a page shared with an earlier
            // segment: a private page with the file bytes and zeros
            // (Linux's padzero).
            let pa = mm.populate_page(va, flags)?;
            let (lo, hi) = (va.max(vaddr), (va + PAGE).min(file_end));
            if lo < hi {
                crate::mm::copy_to_phys(pa + (lo - va), &data[(lo - vaddr) as usize..(hi - vaddr) as usize]);
            }
            let (lo, hi) = (va.max(file_end), (va + PAGE).min(mem_end));
            if lo < hi {
                crate::mm::copy_to_phys(pa + (lo - va), &ZEROS[..(hi - lo) as usize]);
            }
            va += PAGE;
        }
        prev_end = prev_end.max(end);
        end_of_image = end_of_image.max(vaddr + seg.memsz);
    }
    {
        let mut m = mm.inner.lock_irqsave();
        m.start_brk = page_up(end_of_image);
        m.brk = m.start_brk;
    }

    // create_elf_tables.
    let mut auxv = alloc::vec::Vec::new();
    let hwcap = crate::arch::processor::cpuid(1, 0).3 as u64;
    auxv.push((AT_HWCAP, hwcap));
    auxv.push((AT_PAGESZ, 4096));
    auxv.push((AT_CLKTCK, 100));
    if let Some(phdr) = info.phdr_vaddr {
        auxv.push((AT_PHDR, bias + phdr));
    }
    auxv.push((AT_PHENT, info.phent as u64));
    auxv.push((AT_PHNUM, info.phnum as u64));
    auxv.push((AT_BASE, 0));
    auxv.push((AT_FLAGS, 0));
    auxv.push((AT_ENTRY, bias + info.entry));
    auxv.push((AT_UID, 0));
    auxv.push((AT_EUID, 0));
    auxv.push((AT_GID, 0));
    auxv.push((AT_EGID, 0));
    auxv.push((AT_SECURE, 0));
    let stack = build_stack(STACK_TOP, filename, argv, envp, &auxv, at_random(), PLATFORM_X86_64).map_err(|e| match e {
        ExecError::TooBig => E2BIG,
        _ => ENOMEM,
    })?;
    mm.insert_vma(STACK_TOP - STACK_INIT.max(page_up(stack.bytes.len() as u64)), STACK_TOP, VM_READ | VM_WRITE | VM_GROWSDOWN)?;
    let mut va = page_down(stack.sp);
    while va < STACK_TOP {
        mm.populate_page(va, VM_READ | VM_WRITE)?;
        va += 4096;
    }
    mm.write_bytes(stack.sp, &stack.bytes)?;
    {
        let mut m = mm.inner.lock_irqsave();
        m.start_stack = stack.sp;
        m.arg_start = stack.arg_start;
        m.arg_end = stack.arg_end;
        m.env_start = stack.env_start;
        m.env_end = stack.env_end;
    }
    Ok(LoadedElf { mm, entry: bias + info.entry, sp: stack.sp })
}
