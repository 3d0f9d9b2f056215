//! The kernel's symbol table: collect the symbols of `.text` from the ELF
//! file, name them like Linux would, encode them with `klib::kallsyms` and
//! patch the blob into the image's fixed-size `.kallsyms` section.

use crate::{bail, Result};
use klib::kallsyms::{Kallsyms, Symbol};
use object::{ObjectSection as _, ObjectSymbol as _};
use std::ops::Range;

/// The name shown in backtraces for a (possibly mangled) symbol name.
pub fn symbol_name(raw: &str) -> String {
    shorten(&format!("{:#}", rustc_demangle::demangle(raw)))
}

/// Linux-like short names: a plain kernel function path keeps only its last
/// segment (`kernel::kernel::fork::copy_process` -> `copy_process`); anything
/// generic, a closure/shim (`{...}`) or a trait impl (`<... as ...>`) keeps the
/// full demangled path so it stays unambiguous.
pub fn shorten(demangled: &str) -> String {
    if demangled.starts_with("kernel::") && !demangled.contains(['<', '{', ' ']) {
        if let Some((_, last)) = demangled.rsplit_once("::") {
            return last.to_string();
        }
    }
    demangled.to_string()
}

/// Every named symbol whose address lies inside `.text`, sorted by address.
pub fn collect<'d>(elf: &impl object::Object<'d>) -> Result<Vec<Symbol>> {
    let Some(text) = elf.section_by_name(".text") else {
        bail!("the ELF file has no .text section")
    };
    let range = text.address()..text.address().saturating_add(text.size());
    let mut raw: Vec<(u64, u64, &str)> = elf
        .symbols()
        .filter(|s| range.contains(&s.address()))
        .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?)))
        .filter(|(_, _, name)| !name.is_empty() && !is_section_marker(name))
        .collect();
    raw.sort_unstable();
    raw.dedup();
    Ok(raw
        .into_iter()
        .map(|(addr, size, name)| Symbol {
            addr,
            size,
            name: symbol_name(name),
        })
        .collect())
}

/// Linker-script boundary symbols (`__text_start`, `__bss_end`, ...) are not
/// functions; left in, they would name the code that happens to follow them.
fn is_section_marker(name: &str) -> bool {
    name.starts_with("__") && (name.ends_with("_start") || name.ends_with("_end"))
}

/// File byte range of the `.kallsyms` section.
pub fn section_range<'d>(elf: &impl object::Object<'d>) -> Result<Range<usize>> {
    let Some(section) = elf.section_by_name(".kallsyms") else {
        bail!("the ELF file has no .kallsyms section (the kernel must reserve one for the symbol table)")
    };
    let Some((offset, size)) = section.file_range() else {
        bail!("the .kallsyms section has no file contents (is it NOBITS? it must be PROGBITS)")
    };
    let (Ok(start), Ok(size)) = (usize::try_from(offset), usize::try_from(size)) else {
        bail!(".kallsyms file range {offset:#x}+{size:#x} does not fit in memory")
    };
    Ok(start..start.saturating_add(size))
}

/// Encodes `symbols` and writes them over `range` of `image`, zeroing the
/// rest. Returns how many symbols the table holds (the encoder keeps one
/// symbol per address).
pub fn patch(image: &mut [u8], range: Range<usize>, symbols: &[Symbol]) -> Result<usize> {
    let blob = klib::kallsyms::encode(symbols);
    // Sanity check: the kernel will decode this with the same code.
    let count = match Kallsyms::parse(&blob) {
        Some(k) if k.len() <= symbols.len() && k.is_empty() == symbols.is_empty() => k.len(),
        Some(k) => bail!(
            "klib::kallsyms decoded {} symbols from a blob of {} (encoder/decoder mismatch)",
            k.len(),
            symbols.len()
        ),
        None => bail!(
            "klib::kallsyms could not parse the blob it just encoded ({} symbols)",
            symbols.len()
        ),
    };
    let Some(section) = image.get_mut(range.clone()) else {
        bail!(
            ".kallsyms file range {:#x}..{:#x} lies outside the file ({} bytes)",
            range.start,
            range.end,
            image.len()
        )
    };
    write_blob(section, &blob).map_err(|e| format!("{e} ({count} symbols)"))?;
    Ok(count)
}

/// Copies `blob` to the start of `section` and zeroes the rest.
pub fn write_blob(section: &mut [u8], blob: &[u8]) -> Result {
    if blob.len() > section.len() {
        bail!(
            "the symbol table needs {} bytes but the kernel's .kallsyms section holds only {} bytes; \
             make the section bigger in the kernel",
            blob.len(),
            section.len()
        );
    }
    let (head, tail) = section.split_at_mut(blob.len());
    head.copy_from_slice(blob);
    tail.fill(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn linker_markers_are_not_functions() {
        assert!(super::is_section_marker("__text_start"));
        assert!(super::is_section_marker("__bss_end"));
        assert!(!super::is_section_marker("irq_entries_start"));
        assert!(!super::is_section_marker("__rust_alloc"));
    }

    use super::*;

    #[test]
    fn shortens_plain_kernel_paths() {
        assert_eq!(
            shorten("kernel::kernel::fork::copy_process"),
            "copy_process"
        );
        assert_eq!(shorten("kernel::start_kernel"), "start_kernel");
    }

    #[test]
    fn keeps_full_path_for_generics_closures_and_other_crates() {
        for keep in [
            "<kernel::mm::Frame as core::fmt::Debug>::fmt",
            "kernel::sched::run::{closure#0}",
            "kernel::mm::alloc::<u64>",
            "core::panicking::panic_fmt",
            "klib::kallsyms::Kallsyms::lookup",
            "_start",
            "isr_common",
            "kernel",
        ] {
            assert_eq!(shorten(keep), keep);
        }
    }

    #[test]
    fn demangles_without_hash() {
        // legacy mangling of kernel::fork::copy_process with a hash
        assert_eq!(
            symbol_name("_ZN6kernel4fork12copy_process17h0123456789abcdefE"),
            "copy_process"
        );
        assert_eq!(
            symbol_name("_ZN4core9panicking9panic_fmt17h0123456789abcdefE"),
            "core::panicking::panic_fmt"
        );
        // v0 mangling
        assert_eq!(
            symbol_name("_RNvNtCs1234_6kernel4fork12copy_process"),
            "copy_process"
        );
        // not mangled at all (global_asm! labels)
        assert_eq!(symbol_name("long_mode_start"), "long_mode_start");
    }

    #[test]
    fn blob_fits_and_rest_is_zeroed() {
        let mut sec = [0xaau8; 8];
        write_blob(&mut sec, &[1, 2, 3]).unwrap();
        assert_eq!(sec, [1, 2, 3, 0, 0, 0, 0, 0]);
        write_blob(&mut sec, &[9; 8]).unwrap();
        assert_eq!(sec, [9; 8]);
    }

    #[test]
    fn blob_too_big_is_a_clear_error() {
        let mut sec = [0u8; 4];
        let err = write_blob(&mut sec, &[0; 5]).unwrap_err();
        assert!(
            err.contains("needs 5 bytes") && err.contains("only 4 bytes"),
            "{err}"
        );
    }

    #[test]
    fn patch_round_trips_through_klib() {
        let syms = vec![
            Symbol {
                addr: 0xffff_ffff_8010_0000,
                size: 0x40,
                name: "start_kernel".into(),
            },
            Symbol {
                addr: 0xffff_ffff_8010_0040,
                size: 0x10,
                name: "copy_process".into(),
            },
        ];
        let mut image = vec![0xffu8; 64 * 1024];
        assert_eq!(patch(&mut image, 1024..32 * 1024, &syms).unwrap(), 2);
        assert!(image[..1024].iter().all(|&b| b == 0xff));
        assert!(image[32 * 1024..].iter().all(|&b| b == 0xff));
        let k = Kallsyms::parse(&image[1024..32 * 1024]).expect("parse");
        assert_eq!(k.len(), 2);
        let (name, off, _size) = k.lookup(0xffff_ffff_8010_0044).expect("lookup");
        assert_eq!((name, off), ("copy_process", 4));
        assert!(patch(&mut image, 60 * 1024..70 * 1024, &syms).is_err());
    }
}
