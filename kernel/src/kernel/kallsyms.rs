//! Kernel symbol lookup (mirrors kernel/kallsyms.c). The table is built on
//! the host after linking (`cargo xtask build` patches it into this fixed-size
//! section; the format is `klib::kallsyms`), so addresses never move. An
//! unpatched kernel simply prints raw addresses.

use klib::kallsyms::Kallsyms;

pub const KALLSYMS_SIZE: usize = 512 * 1024;

#[used]
#[link_section = ".kallsyms"]
static KALLSYMS_BLOB: [u8; KALLSYMS_SIZE] = [0; KALLSYMS_SIZE];

/// The symbol table, or None if the image was never patched.
pub fn table() -> Option<Kallsyms<'static>> {
    // black_box: the compiler must not fold reads of this all-zero constant;
    // its real contents are written into the image after linking.
    let blob: &'static [u8; KALLSYMS_SIZE] = core::hint::black_box(&KALLSYMS_BLOB);
    Kallsyms::parse(blob)
}

/// `kallsyms_lookup_name`.
pub fn lookup_name(name: &str) -> Option<u64> {
    table()?.lookup_name(name)
}
