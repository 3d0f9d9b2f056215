//! `cargo xtask build`: build the kernel with cargo, copy it to target/tine/,
//! check that QEMU's multiboot loader can load it, and fill in its symbol table.

use crate::{bail, kallsyms, Context, Result};
use object::read::elf::{ElfFile64, ProgramHeader as _};
use object::{Endianness, Object as _};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const KERNEL_TARGET: &str = "x86_64-unknown-linux-gnu";
/// Same flags as the `kbuild` alias in .cargo/config.toml. Passing them with
/// `--config` (and an explicit `--target`) keeps them off build scripts and
/// proc-macros.
pub const KERNEL_RUSTFLAGS: &str = "target.x86_64-unknown-linux-gnu.rustflags=\
['-Crelocation-model=static','-Ccode-model=kernel','-Cno-redzone=yes','-Cforce-frame-pointers=yes']";

/// The workspace root (xtask lives in `<root>/xtask`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    let root = workspace_root();
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => root.join(d),
        _ => root.join("target"),
    }
}

/// Where xtask keeps its outputs: images, logs, bench files.
pub fn tine_dir() -> PathBuf {
    target_dir().join("tine")
}

/// A path as short as possible for messages: relative to the workspace root if inside it.
pub fn display_path(p: &Path) -> String {
    let root = workspace_root();
    p.strip_prefix(&root).unwrap_or(p).display().to_string()
}

/// A built and patched kernel image.
#[derive(Debug)]
pub struct Image {
    pub path: PathBuf,
}

/// Builds the kernel and prepares `target/tine/kernel[-release].elf`.
pub fn build(release: bool) -> Result<Image> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root).args([
        "build",
        "-p",
        "kernel",
        "--target",
        KERNEL_TARGET,
        "--config",
        KERNEL_RUSTFLAGS,
    ]);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().context("running cargo build for the kernel")?;
    if !status.success() {
        bail!("building the kernel failed (cargo {status})");
    }

    let profile = if release { "release" } else { "debug" };
    let built = target_dir()
        .join(KERNEL_TARGET)
        .join(profile)
        .join("kernel");
    let data = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    let (patched, info) =
        prepare_image(data).map_err(|e| format!("{}: {e}", display_path(&built)))?;

    let out_dir = tine_dir();
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let name = if release {
        "kernel-release.elf"
    } else {
        "kernel.elf"
    };
    let out = out_dir.join(name);
    // Write a new file and rename it over the old one: never write through
    // cargo's output (hard-linked into deps/) or an image a QEMU still reads.
    let tmp = out_dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, &patched).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &out)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;

    println!(
        "Kernel image: {} ({} symbols, {} KiB loaded)",
        display_path(&out),
        info.symbols,
        info.loaded_bytes.div_ceil(1024)
    );
    Ok(Image { path: out })
}

#[derive(Debug)]
pub struct ImageInfo {
    pub symbols: usize,
    pub loaded_bytes: u64,
}

/// Checks the load layout and patches `.kallsyms` of an ELF image in memory.
pub fn prepare_image(mut data: Vec<u8>) -> Result<(Vec<u8>, ImageInfo)> {
    let (segments, symbols, kallsyms_range) = {
        let elf = ElfFile64::<Endianness>::parse(&*data)
            .map_err(|e| format!("not a 64-bit ELF file: {e}"))?;
        if elf.architecture() != object::Architecture::X86_64 {
            bail!("not an x86_64 ELF file ({:?})", elf.architecture());
        }
        let segments = load_segments(&elf)?;
        let symbols = kallsyms::collect(&elf)?;
        let range = kallsyms::section_range(&elf)?;
        (segments, symbols, range)
    };
    check_flat(&segments)?;
    let count = kallsyms::patch(&mut data, kallsyms_range, &symbols)?;
    let loaded_bytes = segments.iter().map(|s| s.memsz).sum();
    Ok((
        data,
        ImageInfo {
            symbols: count,
            loaded_bytes,
        },
    ))
}

/// The fields of a PT_LOAD program header that matter for loading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadSegment {
    /// Index among all program headers.
    pub index: usize,
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

fn load_segments(elf: &ElfFile64<Endianness>) -> Result<Vec<LoadSegment>> {
    let e = elf.endian();
    let segs: Vec<LoadSegment> = elf
        .elf_program_headers()
        .iter()
        .enumerate()
        .filter(|(_, ph)| ph.p_type(e) == object::elf::PT_LOAD)
        .map(|(index, ph)| LoadSegment {
            index,
            offset: ph.p_offset(e),
            vaddr: ph.p_vaddr(e),
            paddr: ph.p_paddr(e),
            filesz: ph.p_filesz(e),
            memsz: ph.p_memsz(e),
        })
        .collect();
    if segs.is_empty() {
        bail!("the ELF file has no PT_LOAD segments");
    }
    Ok(segs)
}

/// QEMU's multiboot "a.out kludge" loads the file flat: file offset `o` ends up
/// at physical address `o + (load_addr - header_offset)`. That is right only if
/// every segment that has file contents has the same `p_offset - p_paddr`.
/// (Segments with p_filesz == 0, i.e. pure .bss, take no bytes from the file
/// and are not checked.)
pub fn check_flat(segments: &[LoadSegment]) -> Result {
    let delta = |s: &LoadSegment| s.offset.wrapping_sub(s.paddr);
    let with_data: Vec<&LoadSegment> = segments.iter().filter(|s| s.filesz > 0).collect();
    let Some(first) = with_data.first() else {
        return Ok(());
    };
    let want = delta(first);
    if with_data.iter().all(|s| delta(s) == want) {
        return Ok(());
    }
    let mut msg = String::from(
        "the PT_LOAD segments do not all have the same p_offset - p_paddr, so QEMU's multiboot \
         loader (which loads the file flat) would put some of them at the wrong physical address:",
    );
    for s in segments {
        let note = if s.filesz == 0 {
            "  (no file data, not checked)".to_string()
        } else if delta(s) != want {
            format!("  <-- differs from segment {}", first.index)
        } else {
            String::new()
        };
        msg += &format!(
            "\n    segment {}: p_offset {:#x}, p_paddr {:#x}, p_vaddr {:#x}, filesz {:#x}: p_offset - p_paddr = {:#x}{note}",
            s.index, s.offset, s.paddr, s.vaddr, s.filesz, delta(s)
        );
    }
    msg +=
        "\n(fix the kernel's linker script so that file offsets advance with physical addresses)";
    Err(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(index: usize, offset: u64, paddr: u64, filesz: u64) -> LoadSegment {
        LoadSegment {
            index,
            offset,
            vaddr: paddr + 0xffff_ffff_8000_0000,
            paddr,
            filesz,
            memsz: filesz + 0x10,
        }
    }

    #[test]
    fn flat_layout_passes() {
        let segs = [
            seg(0, 0x1000, 0x10_0000, 0x200),
            seg(2, 0x3000, 0x10_2000, 0x100),
            seg(3, 0x4000, 0x10_3000, 0),
        ];
        assert!(check_flat(&segs).is_ok());
    }

    #[test]
    fn bss_segment_offset_is_ignored() {
        let segs = [
            seg(0, 0x1000, 0x10_0000, 0x200),
            seg(1, 0x1200, 0x20_0000, 0),
        ];
        assert!(check_flat(&segs).is_ok());
    }

    #[test]
    fn mismatch_names_the_segments() {
        let segs = [
            seg(0, 0x1000, 0x10_0000, 0x200),
            seg(1, 0x2000, 0x10_4000, 0x100),
        ];
        let err = check_flat(&segs).unwrap_err();
        assert!(
            err.contains("segment 0: p_offset 0x1000, p_paddr 0x100000"),
            "{err}"
        );
        assert!(
            err.contains("segment 1: p_offset 0x2000, p_paddr 0x104000"),
            "{err}"
        );
        assert!(err.contains("<-- differs from segment 0"), "{err}");
        assert_eq!(err.matches("<--").count(), 1, "{err}");
    }

    #[test]
    fn fake_kernel_gets_its_symbol_table() {
        use object::{Object as _, ObjectSection as _};
        let Some(elf) = crate::testutil::fake_kernel(0) else {
            return;
        };
        let data = std::fs::read(&elf).unwrap();
        let (patched, info) = prepare_image(data.clone()).unwrap();
        assert_eq!(patched.len(), data.len());
        assert_eq!(info.symbols, 3);
        assert_eq!(info.loaded_bytes, 0x6b0 + 0xa + 0x2000 + 0x2004);
        let file = object::File::parse(&*patched).unwrap();
        let (off, size) = file
            .section_by_name(".kallsyms")
            .unwrap()
            .file_range()
            .unwrap();
        let k =
            klib::kallsyms::Kallsyms::parse(&patched[off as usize..(off + size) as usize]).unwrap();
        assert_eq!(k.len(), 3);
        let text = file.section_by_name(".text").unwrap().address();
        assert_eq!(k.lookup(text + 3), Some(("copy_process", 3, 6)));
        assert_eq!(
            k.lookup(text + 6).map(|(n, _, _)| n),
            Some("core::panicking::panic_fmt")
        );
        assert_eq!(
            k.lookup(text + 8).map(|(n, o, _)| (n, o)),
            Some(("entry_SYSCALL_64", 0))
        );
        // Everything outside .kallsyms is untouched.
        let (off, size) = (off as usize, size as usize);
        assert_eq!(patched[..off], data[..off]);
        assert_eq!(patched[off + size..], data[off + size..]);
    }

    #[test]
    fn fake_kernel_with_shifted_text_is_rejected() {
        let Some(elf) = crate::testutil::fake_kernel(0x10000) else {
            return;
        };
        let err = prepare_image(std::fs::read(&elf).unwrap()).unwrap_err();
        assert!(err.contains("p_offset - p_paddr"), "{err}");
        assert!(
            err.contains("segment 1: p_offset 0x2000, p_paddr 0x111000"),
            "{err}"
        );
        assert!(err.contains("<-- differs from segment 0"), "{err}");
    }

    #[test]
    fn kallsyms_overflow_is_reported() {
        let Some(elf) = crate::testutil::fake_kernel(0) else {
            return;
        };
        let data = std::fs::read(&elf).unwrap();
        let (range, syms) = {
            let file = ElfFile64::<Endianness>::parse(&*data).unwrap();
            (
                kallsyms::section_range(&file).unwrap(),
                kallsyms::collect(&file).unwrap(),
            )
        };
        let many: Vec<klib::kallsyms::Symbol> = (0..2000)
            .map(|i| klib::kallsyms::Symbol {
                addr: syms[0].addr + i,
                size: 1,
                name: format!("sym_{i:05}"),
            })
            .collect();
        let mut copy = data.clone();
        let err = kallsyms::patch(&mut copy, range, &many).unwrap_err();
        assert!(err.contains("holds only 4096 bytes"), "{err}");
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(prepare_image(b"not an elf".to_vec()).is_err());
        assert!(prepare_image(Vec::new()).is_err());
    }
}
