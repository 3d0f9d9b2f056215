//! The kernel symbol table, for turning addresses in backtraces into names.
//!
//! Mirrors the lookup half of Linux `kernel/kallsyms.c`
//! (`kallsyms_lookup`, `kallsyms_lookup_name`, `sprint_symbol` for `%pS`).
//! Linux builds its table with `scripts/kallsyms` and links it in with a
//! second link pass; Tine's `xtask` reads the symbols of the linked kernel,
//! [`encode`]s them and patches the blob into the kernel's `.kallsyms`
//! section, which was reserved (zero-filled) at link time.
//!
//! Left out: Linux's name compression (token tables), symbol types, module
//! symbols and the `/proc/kallsyms` interface.
//!
//! Blob format, all integers little endian:
//!
//! ```text
//! "TKSY"  u32 version (1)  u32 count  u32 names_len
//! count   x { u64 addr, u32 size, u32 name_off }   sorted by addr
//! names_len bytes of NUL-terminated UTF-8 names
//! zero padding up to the end of the section
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// First bytes of a symbol table blob.
pub const MAGIC: [u8; 4] = *b"TKSY";
/// The blob format described in the module documentation.
pub const VERSION: u32 = 1;
/// Bytes before the first entry.
pub const HEADER_LEN: usize = 16;
/// Bytes per entry.
pub const ENTRY_LEN: usize = 16;

/// A symbol as the host tool collects it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub addr: u64,
    /// Size in bytes; 0 if unknown.
    pub size: u64,
    pub name: String,
}

/// Build a blob from `symbols`, in any order.
///
/// Sorted by address; of several symbols at one address only one is kept,
/// the first with a known size (aliases such as `__x64_sys_foo` and its
/// wrapper would otherwise make lookups ambiguous).  A size of 0 becomes
/// the distance to the next symbol, as Linux assumes for every symbol, and
/// the last one gets 1 so that at least its own address finds it.
///
/// Names are cut at an embedded NUL.  Sizes that do not fit in 32 bits are
/// saturated.  Symbols that would push the name table past 4 GiB are
/// dropped, which no real kernel comes near.
pub fn encode(symbols: &[Symbol]) -> Vec<u8> {
    let mut sorted: Vec<&Symbol> = symbols.iter().collect();
    // Stable, so "the first" above means first in the input.
    sorted.sort_by_key(|s| s.addr);

    let mut unique: Vec<&Symbol> = Vec::with_capacity(sorted.len());
    for sym in sorted {
        match unique.last_mut() {
            Some(last) if last.addr == sym.addr => {
                if last.size == 0 && sym.size != 0 {
                    *last = sym;
                }
            }
            _ => unique.push(sym),
        }
    }

    let mut entries = Vec::with_capacity(unique.len() * ENTRY_LEN);
    let mut names = Vec::new();
    let mut count = 0u32;
    for (i, sym) in unique.iter().enumerate() {
        let name = sym.name.split('\0').next().unwrap_or("");
        let (Ok(name_off), Ok(_)) = (
            u32::try_from(names.len()),
            u32::try_from(names.len() + name.len() + 1),
        ) else {
            break;
        };
        if count == u32::MAX {
            break;
        }
        let size = match (sym.size, unique.get(i + 1)) {
            (0, Some(next)) => next.addr - sym.addr,
            (0, None) => 1,
            (size, _) => size,
        };
        let size = u32::try_from(size).unwrap_or(u32::MAX);

        entries.extend_from_slice(&sym.addr.to_le_bytes());
        entries.extend_from_slice(&size.to_le_bytes());
        entries.extend_from_slice(&name_off.to_le_bytes());
        names.extend_from_slice(name.as_bytes());
        names.push(0);
        count += 1;
    }

    let mut blob = Vec::with_capacity(HEADER_LEN + entries.len() + names.len());
    blob.extend_from_slice(&MAGIC);
    blob.extend_from_slice(&VERSION.to_le_bytes());
    blob.extend_from_slice(&count.to_le_bytes());
    // Fits: the loop stopped before the name table outgrew a u32.
    blob.extend_from_slice(&(names.len() as u32).to_le_bytes());
    blob.extend_from_slice(&entries);
    blob.extend_from_slice(&names);
    blob
}

fn read_u32(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn read_u64(b: &[u8], off: usize) -> Option<u64> {
    let bytes = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// One decoded entry.
#[derive(Clone, Copy)]
struct Entry {
    addr: u64,
    size: u64,
    name_off: usize,
}

/// A validated view of a symbol table blob.
#[derive(Clone, Copy, Debug)]
pub struct Kallsyms<'a> {
    entries: &'a [u8],
    names: &'a [u8],
    count: usize,
}

impl<'a> Kallsyms<'a> {
    /// Check a blob and return a view of it, or `None` if it is not a
    /// complete, well-formed table: wrong magic or version, counts that run
    /// past the end, entries out of order, or a name that is out of range,
    /// unterminated or not UTF-8.  A section still full of zeros (the
    /// kernel was not patched) fails on the magic.
    ///
    /// Everything is checked here, once, so that lookups during a panic
    /// cannot trip over a bad table.  Bytes after the names are ignored.
    pub fn parse(blob: &'a [u8]) -> Option<Self> {
        if blob.get(..4)? != MAGIC || read_u32(blob, 4)? != VERSION {
            return None;
        }
        let count = usize::try_from(read_u32(blob, 8)?).ok()?;
        let names_len = usize::try_from(read_u32(blob, 12)?).ok()?;
        let entries_end = count.checked_mul(ENTRY_LEN)?.checked_add(HEADER_LEN)?;
        let names_end = entries_end.checked_add(names_len)?;
        let k = Kallsyms {
            entries: blob.get(HEADER_LEN..entries_end)?,
            names: blob.get(entries_end..names_end)?,
            count,
        };

        let mut prev_addr = 0;
        for i in 0..count {
            let e = k.entry(i)?;
            if e.addr < prev_addr {
                return None;
            }
            prev_addr = e.addr;
            k.name_at(e.name_off)?;
        }
        Some(k)
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Is the table empty?
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn entry(&self, i: usize) -> Option<Entry> {
        let off = i.checked_mul(ENTRY_LEN)?;
        Some(Entry {
            addr: read_u64(self.entries, off)?,
            size: u64::from(read_u32(self.entries, off.checked_add(8)?)?),
            name_off: usize::try_from(read_u32(self.entries, off.checked_add(12)?)?).ok()?,
        })
    }

    fn name_at(&self, off: usize) -> Option<&'a str> {
        let rest = self.names.get(off..)?;
        let len = rest.iter().position(|&c| c == 0)?;
        core::str::from_utf8(rest.get(..len)?).ok()
    }

    fn name(&self, e: &Entry) -> &'a str {
        // Checked in `parse`; the fallback only keeps this total.
        self.name_at(e.name_off).unwrap_or("?")
    }

    /// Linux `kallsyms_lookup`: the symbol containing `addr`, as
    /// `(name, offset into it, its size)`.  `None` if `addr` falls between
    /// symbols or outside all of them.
    pub fn lookup(&self, addr: u64) -> Option<(&'a str, u64, u64)> {
        // Binary search for the last symbol starting at or below addr.
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid)?.addr <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let e = self.entry(lo.checked_sub(1)?)?;
        // A zero size cannot come from `encode`; treat it as 1 anyway.
        let size = e.size.max(1);
        // The search only stops on an entry at or below addr.
        let offset = addr.checked_sub(e.addr)?;
        (offset < size).then(|| (self.name(&e), offset, size))
    }

    /// Linux `kallsyms_lookup_name`: the address of the symbol called
    /// `name`.
    pub fn lookup_name(&self, name: &str) -> Option<u64> {
        self.iter()
            .find(|&(_, _, n)| n == name)
            .map(|(addr, _, _)| addr)
    }

    /// All symbols as `(addr, size, name)`, by address.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64, &'a str)> + 'a {
        let k = *self;
        (0..k.count).filter_map(move |i| {
            let e = k.entry(i)?;
            Some((e.addr, e.size, k.name(&e)))
        })
    }
}

/// Write `addr` the way Linux's `%pS` does: `do_exit+0x18/0xc18` (symbol,
/// offset, size), or just `0xffffffff81234567` if no symbol contains it or
/// there is no table.
pub fn format_symbol(out: &mut impl fmt::Write, k: Option<&Kallsyms>, addr: u64) -> fmt::Result {
    match k.and_then(|k| k.lookup(addr)) {
        Some((name, offset, size)) => write!(out, "{name}+{offset:#x}/{size:#x}"),
        None => write!(out, "{addr:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec;

    fn sym(addr: u64, size: u64, name: &str) -> Symbol {
        Symbol {
            addr,
            size,
            name: name.to_string(),
        }
    }

    fn fmt(k: Option<&Kallsyms>, addr: u64) -> String {
        let mut s = String::new();
        format_symbol(&mut s, k, addr).unwrap();
        s
    }

    fn sample() -> Vec<u8> {
        encode(&[
            sym(0xffff_ffff_8100_2000, 0xc18, "do_exit"),
            sym(0xffff_ffff_8100_1000, 0x100, "_start"),
            sym(0xffff_ffff_8100_3000, 0, "schedule"),
            sym(0xffff_ffff_8100_3800, 0, "last"),
        ])
    }

    #[test]
    fn round_trip() {
        let blob = sample();
        let k = Kallsyms::parse(&blob).unwrap();
        assert_eq!(k.len(), 4);
        assert!(!k.is_empty());
        let all: Vec<_> = k.iter().collect();
        assert_eq!(
            all,
            vec![
                (0xffff_ffff_8100_1000, 0x100, "_start"),
                (0xffff_ffff_8100_2000, 0xc18, "do_exit"),
                // Unknown sizes reach the next symbol; the last gets 1.
                (0xffff_ffff_8100_3000, 0x800, "schedule"),
                (0xffff_ffff_8100_3800, 1, "last"),
            ]
        );
        assert_eq!(k.lookup_name("do_exit"), Some(0xffff_ffff_8100_2000));
        assert_eq!(k.lookup_name("last"), Some(0xffff_ffff_8100_3800));
        assert_eq!(k.lookup_name("do_exi"), None);
        assert_eq!(k.lookup_name(""), None);
    }

    #[test]
    fn blob_layout() {
        let blob = encode(&[sym(0x10, 4, "ab")]);
        let mut want = vec![];
        want.extend_from_slice(b"TKSY");
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&3u32.to_le_bytes());
        want.extend_from_slice(&0x10u64.to_le_bytes());
        want.extend_from_slice(&4u32.to_le_bytes());
        want.extend_from_slice(&0u32.to_le_bytes());
        want.extend_from_slice(b"ab\0");
        assert_eq!(blob, want);
    }

    #[test]
    fn lookup_positions() {
        let blob = sample();
        let k = Kallsyms::parse(&blob).unwrap();
        let base = 0xffff_ffff_8100_2000;
        assert_eq!(k.lookup(base), Some(("do_exit", 0, 0xc18)));
        assert_eq!(k.lookup(base + 0x18), Some(("do_exit", 0x18, 0xc18)));
        assert_eq!(k.lookup(base + 0xc17), Some(("do_exit", 0xc17, 0xc18)));
        // Past the end of do_exit, before schedule: a gap.
        assert_eq!(k.lookup(base + 0xc18), None);
        assert_eq!(
            k.lookup(0xffff_ffff_8100_10ff),
            Some(("_start", 0xff, 0x100))
        );
        assert_eq!(k.lookup(0xffff_ffff_8100_0fff), None);
        assert_eq!(k.lookup(0), None);
        assert_eq!(
            k.lookup(0xffff_ffff_8100_37ff),
            Some(("schedule", 0x7ff, 0x800))
        );
        assert_eq!(k.lookup(0xffff_ffff_8100_3800), Some(("last", 0, 1)));
        assert_eq!(k.lookup(0xffff_ffff_8100_3801), None);
        assert_eq!(k.lookup(u64::MAX), None);
    }

    #[test]
    fn duplicates_prefer_a_known_size() {
        let blob = encode(&[
            sym(0x100, 0, "alias"),
            sym(0x100, 0x20, "real"),
            sym(0x100, 0x30, "other"),
            sym(0x200, 0x10, "first"),
            sym(0x200, 0x10, "second"),
            sym(0x300, 0, "a"),
            sym(0x300, 0, "b"),
        ]);
        let k = Kallsyms::parse(&blob).unwrap();
        let all: Vec<_> = k.iter().collect();
        assert_eq!(
            all,
            vec![
                (0x100, 0x20, "real"),
                (0x200, 0x10, "first"),
                (0x300, 1, "a")
            ]
        );
    }

    #[test]
    fn odd_inputs_to_encode() {
        let blob = encode(&[]);
        let k = Kallsyms::parse(&blob).unwrap();
        assert!(k.is_empty());
        assert_eq!(k.lookup(0x1234), None);
        assert_eq!(fmt(Some(&k), 0x1234), "0x1234");

        let blob = encode(&[
            sym(u64::MAX, 0, "top"),
            sym(0, 0, "bottom"),
            sym(5, 1 << 40, "huge"),
            sym(7, 2, "a\0b"),
        ]);
        let k = Kallsyms::parse(&blob).unwrap();
        let all: Vec<_> = k.iter().collect();
        assert_eq!(
            all,
            vec![
                (0, 5, "bottom"),
                (5, u64::from(u32::MAX), "huge"),
                (7, 2, "a"),
                (u64::MAX, 1, "top")
            ]
        );
        assert_eq!(k.lookup(u64::MAX), Some(("top", 0, 1)));
        assert_eq!(k.lookup(6), Some(("huge", 1, u64::from(u32::MAX))));
    }

    #[test]
    fn trailing_padding_is_ignored() {
        let mut blob = sample();
        blob.resize(blob.len() + 4096, 0);
        let k = Kallsyms::parse(&blob).unwrap();
        assert_eq!(k.len(), 4);
        assert_eq!(
            k.lookup(0xffff_ffff_8100_2018),
            Some(("do_exit", 0x18, 0xc18))
        );
    }

    #[test]
    fn format_like_linux() {
        let blob = sample();
        let k = Kallsyms::parse(&blob).unwrap();
        assert_eq!(fmt(Some(&k), 0xffff_ffff_8100_2018), "do_exit+0x18/0xc18");
        assert_eq!(fmt(Some(&k), 0xffff_ffff_8100_2000), "do_exit+0x0/0xc18");
        assert_eq!(fmt(Some(&k), 0xffff_ffff_8100_10ab), "_start+0xab/0x100");
        assert_eq!(fmt(Some(&k), 0xffff_ffff_8123_4567), "0xffffffff81234567");
        assert_eq!(fmt(None, 0xffff_ffff_8100_2018), "0xffffffff81002018");
        assert_eq!(fmt(None, 0), "0x0");

        let blob = encode(&[sym(0xffff_ffff_8100_0000, 0x1ad4, "start_kernel")]);
        let k = Kallsyms::parse(&blob).unwrap();
        assert_eq!(
            fmt(Some(&k), 0xffff_ffff_8100_0018),
            "start_kernel+0x18/0x1ad4"
        );
    }

    #[test]
    fn zeroed_section_is_rejected() {
        assert!(Kallsyms::parse(&[0; 4096]).is_none());
        assert!(Kallsyms::parse(&[]).is_none());
    }

    #[test]
    fn every_truncation_is_rejected() {
        let blob = sample();
        for len in 0..blob.len() {
            assert!(
                Kallsyms::parse(&blob[..len]).is_none(),
                "truncated to {len}"
            );
        }
    }

    fn put_u32(blob: &mut [u8], off: usize, v: u32) {
        blob[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn corrupt_headers_are_rejected() {
        let good = sample();
        let mut bad = good.clone();
        bad[0] = b'X';
        assert!(Kallsyms::parse(&bad).is_none());

        let mut bad = good.clone();
        put_u32(&mut bad, 4, 2);
        assert!(Kallsyms::parse(&bad).is_none());

        for count in [5, 0x1000_0000, u32::MAX] {
            let mut bad = good.clone();
            put_u32(&mut bad, 8, count);
            bad.resize(bad.len() + 64, 0);
            assert!(Kallsyms::parse(&bad).is_none(), "count {count}");
        }

        let mut bad = good.clone();
        put_u32(&mut bad, 12, u32::MAX);
        assert!(Kallsyms::parse(&bad).is_none());
    }

    #[test]
    fn corrupt_entries_are_rejected() {
        let good = sample();
        let entry = |i: usize| HEADER_LEN + i * ENTRY_LEN;

        // name_off past the end of the names.
        let mut bad = good.clone();
        put_u32(&mut bad, entry(1) + 12, 10_000);
        assert!(Kallsyms::parse(&bad).is_none());

        // Name without its NUL: the last name runs into the end of the
        // table.
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] = b'x';
        bad.extend_from_slice(&[0; 16]);
        assert!(Kallsyms::parse(&bad).is_none());

        // Not UTF-8.
        let mut bad = good.clone();
        let names = entry(4);
        bad[names] = 0xff;
        assert!(Kallsyms::parse(&bad).is_none());

        // Out of order.
        let mut bad = good.clone();
        bad[entry(0)..entry(0) + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Kallsyms::parse(&bad).is_none());
    }

    #[test]
    fn zero_size_from_another_encoder_counts_as_one() {
        let mut blob = encode(&[sym(0x100, 0x10, "f")]);
        put_u32(&mut blob, HEADER_LEN + 8, 0);
        let k = Kallsyms::parse(&blob).unwrap();
        assert_eq!(k.lookup(0x100), Some(("f", 0, 1)));
        assert_eq!(k.lookup(0x101), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        // Flip bytes of a good blob one at a time and make every query on
        // whatever still parses.
        let good = sample();
        let mut x = 0x1234_5678_9abc_def1u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut blob = good.clone();
            let pos = (x % blob.len() as u64) as usize;
            blob[pos] = (x >> 32) as u8;
            if let Some(k) = Kallsyms::parse(&blob) {
                for addr in [0, x, 0xffff_ffff_8100_2018, u64::MAX] {
                    let _ = k.lookup(addr);
                    let _ = fmt(Some(&k), addr);
                }
                let _ = k.lookup_name("do_exit");
                assert_eq!(k.iter().count(), k.len());
            }
        }
    }
}
