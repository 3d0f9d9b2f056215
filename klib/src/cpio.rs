//! A reader for cpio "newc" archives, the initramfs format (mirrors the
//! parser half of Linux's init/initramfs.c and the format described in
//! Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! An archive is a list of entries, each a 110-byte ASCII header (magic
//! `070701`, or `070702` whose checksum is ignored, then 13 fields of 8 hex
//! digits), the NUL-terminated name, padding to a multiple of 4 bytes, the
//! data, and padding to a multiple of 4 again. The entry named `TRAILER!!!`
//! ends an archive. As in Linux, several archives may follow each other,
//! with NUL bytes between them, each starting 4-byte aligned.
//!
//! Left out: decompression (a compressed archive is reported by its method,
//! as Linux reports one it was not built to decompress). Unlike Linux,
//! which silently stops at a short buffer, a truncated archive is an error.

use alloc::vec::Vec;
use core::fmt;

pub const MAGIC_NEWC: &[u8; 6] = b"070701";
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// The old portable ASCII format (`cpio -H odc`), which Linux refuses.
pub const MAGIC_ODC: &[u8; 6] = b"070707";
pub const HEADER_LEN: usize = 110;
pub const TRAILER: &str = "TRAILER!!!";
/// Linux's PATH_MAX: longer names are skipped by initramfs.
pub const PATH_MAX: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpioEntry<'a> {
    pub name: &'a str,
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    /// Device the file came from (with `ino`, identifies hard links).
    pub devmajor: u32,
    pub devminor: u32,
    /// Device number of a device node.
    pub rdevmajor: u32,
    pub rdevminor: u32,
    /// File contents, or a symlink's target.
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpioError {
    /// `070707`: the old ASCII format.
    OldFormat,
    /// Neither a newc header nor a known compressed stream.
    BadMagic,
    /// A compressed stream (gzip, xz, ...), which this reader cannot unpack.
    Compressed(&'static str),
    /// A header field that is not 8 hex digits.
    BadHeader,
    /// An empty name, one without its NUL, or one that is not UTF-8.
    BadName,
    /// The archive ends in the middle of an entry or before its trailer.
    Truncated,
}

impl fmt::Display for CpioError {
    /// Linux's wording where Linux has a message for the case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpioError::OldFormat => f.write_str("incorrect cpio method used: use -H newc option"),
            CpioError::BadMagic => f.write_str("invalid magic at start of compressed archive"),
            CpioError::Compressed(m) => write!(f, "compression method {} not configured", m),
            CpioError::BadHeader => f.write_str("broken header"),
            CpioError::BadName => f.write_str("broken name"),
            CpioError::Truncated => f.write_str("truncated archive"),
        }
    }
}

/// Compressed-stream signatures Linux's decompress_method knows.
const COMPRESSED: &[(&[u8], &str)] = &[
    (&[0x1f, 0x8b], "gzip"),
    (&[0x1f, 0x9e], "gzip"),
    (b"BZh", "bzip2"),
    (&[0x5d, 0x00, 0x00], "lzma"),
    (&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "xz"),
    (&[0x89, 0x4c, 0x5a, 0x4f, 0x00], "lzo"),
    (&[0x02, 0x21, 0x4c, 0x18], "lz4"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
];

/// Iterate over the entries of `image` (trailers are not yielded). After an
/// `Err` the iterator ends.
pub fn entries(image: &[u8]) -> impl Iterator<Item = Result<CpioEntry<'_>, CpioError>> {
    entries_with_trailers(image).filter(|e| !matches!(e, Ok(e) if e.name == TRAILER))
}

/// As `entries`, with each archive's `TRAILER!!!` entry yielded too (an
/// unpacker forgets hard links there, as Linux's free_hash).
pub fn entries_with_trailers(image: &[u8]) -> impl Iterator<Item = Result<CpioEntry<'_>, CpioError>> {
    Entries { image, pos: 0, in_archive: false, done: false }
}

struct Entries<'a> {
    image: &'a [u8],
    pos: usize,
    /// Inside an archive (a trailer is still due).
    in_archive: bool,
    done: bool,
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|n| n & !3)
}

fn hex8(field: &[u8]) -> Result<u32, CpioError> {
    let s = core::str::from_utf8(field).map_err(|_| CpioError::BadHeader)?;
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CpioError::BadHeader);
    }
    u32::from_str_radix(s, 16).map_err(|_| CpioError::BadHeader)
}

impl<'a> Entries<'a> {
    fn slice(&self, start: usize, len: usize) -> Result<&'a [u8], CpioError> {
        let end = start.checked_add(len).ok_or(CpioError::Truncated)?;
        self.image.get(start..end).ok_or(CpioError::Truncated)
    }

    /// Parse the entry at `self.pos`; `None` at a clean end of the image.
    fn next_entry(&mut self) -> Option<Result<CpioEntry<'a>, CpioError>> {
        if !self.in_archive {
            // Between archives: skip NUL padding (unpack_to_rootfs).
            while self.image.get(self.pos) == Some(&0) {
                self.pos += 1;
            }
            let rest = &self.image[self.pos..];
            if rest.is_empty() {
                return None;
            }
            if let Some(&(_, m)) = COMPRESSED.iter().find(|(sig, _)| rest.starts_with(sig)) {
                return Some(Err(CpioError::Compressed(m)));
            }
            if rest[0] != b'0' || self.pos & 3 != 0 {
                return Some(Err(CpioError::BadMagic));
            }
            self.in_archive = true;
        }
        let e = match self.parse() {
            Ok(e) => e,
            Err(err) => return Some(Err(err)),
        };
        if e.name == TRAILER {
            self.in_archive = false;
        }
        Some(Ok(e))
    }

    fn parse(&mut self) -> Result<CpioEntry<'a>, CpioError> {
        let h = self.slice(self.pos, HEADER_LEN)?;
        let magic = &h[..6];
        if magic == MAGIC_ODC {
            return Err(CpioError::OldFormat);
        }
        if magic != MAGIC_NEWC && magic != MAGIC_CRC {
            return Err(CpioError::BadMagic);
        }
        let mut f = [0u32; 13];
        for (i, v) in f.iter_mut().enumerate() {
            *v = hex8(&h[6 + i * 8..14 + i * 8])?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, _check] = f;
        let namesize = namesize as usize;
        let name_start = self.pos + HEADER_LEN;
        let name = self.slice(name_start, namesize)?;
        let name = match name.split_last() {
            Some((0, name)) if !name.is_empty() && !name.contains(&0) => name,
            _ => return Err(CpioError::BadName),
        };
        let name = core::str::from_utf8(name).map_err(|_| CpioError::BadName)?;
        let data_start = align4(name_start + namesize).ok_or(CpioError::Truncated)?;
        let data = self.slice(data_start, filesize as usize)?;
        let end = align4(data_start + data.len()).ok_or(CpioError::Truncated)?;
        if end > self.image.len() {
            return Err(CpioError::Truncated);
        }
        self.pos = end;
        Ok(CpioEntry { name, ino, mode, uid, gid, nlink, mtime, devmajor, devminor, rdevmajor, rdevminor, data })
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<CpioEntry<'a>, CpioError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_entry();
        if !matches!(r, Some(Ok(_))) {
            self.done = true;
        }
        r
    }
}

/// Append one newc entry to `out` (for tests and tools; `e.name` must not
/// contain NUL).
pub fn write_entry(out: &mut Vec<u8>, e: &CpioEntry<'_>) {
    use core::fmt::Write;
    let mut h = alloc::string::String::with_capacity(HEADER_LEN);
    let fields = [
        e.ino, e.mode, e.uid, e.gid, e.nlink, e.mtime, e.data.len() as u32, e.devmajor, e.devminor,
        e.rdevmajor, e.rdevminor, e.name.len() as u32 + 1, 0,
    ];
    h.push_str("070701");
    for v in fields {
        let _ = write!(h, "{:08X}", v);
    }
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(e.name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(e.data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Append the `TRAILER!!!` entry.
pub fn write_trailer(out: &mut Vec<u8>) {
    let t = CpioEntry {
        name: TRAILER, ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, devmajor: 0, devminor: 0,
        rdevmajor: 0, rdevminor: 0, data: &[],
    };
    write_entry(out, &t);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;
    use std::vec;
    use std::vec::Vec;

    /// One entry written by hand, field by field, independent of write_entry.
    fn raw(magic: &str, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) -> Vec<u8> {
        let mut h = String::from(magic);
        for v in [7, mode, 1000, 100, 1, 0x5f5e1000, data.len() as u32, 8, 1, rdev.0, rdev.1, name.len() as u32 + 1, 0] {
            h += &format!("{:08x}", v);
        }
        assert_eq!(h.len(), 110);
        let mut b = h.into_bytes();
        b.extend_from_slice(name.as_bytes());
        b.push(0);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b.extend_from_slice(data);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    fn archive(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut v: Vec<u8> = parts.concat();
        v.extend(raw("070701", "TRAILER!!!", 0, (0, 0), &[]));
        v
    }

    fn collect(img: &[u8]) -> Result<Vec<CpioEntry<'_>>, CpioError> {
        entries(img).collect()
    }

    #[test]
    fn hand_built_archive() {
        let img = archive(&[
            raw("070701", ".", 0o40755, (0, 0), &[]),
            raw("070701", "bin", 0o40755, (0, 0), &[]),
            raw("070701", "bin/hello", 0o100755, (0, 0), b"hello, world\n"),
            raw("070701", "bin/sh", 0o120777, (0, 0), b"hello"),
            raw("070702", "dev/console", 0o20600, (5, 1), &[]),
        ]);
        let e = collect(&img).unwrap();
        let names: Vec<&str> = e.iter().map(|e| e.name).collect();
        assert_eq!(names, [".", "bin", "bin/hello", "bin/sh", "dev/console"]);
        assert_eq!(e[2].data, b"hello, world\n");
        assert_eq!(e[2].mode, 0o100755);
        assert_eq!((e[2].uid, e[2].gid, e[2].ino, e[2].nlink), (1000, 100, 7, 1));
        assert_eq!(e[2].mtime, 0x5f5e1000);
        assert_eq!((e[2].devmajor, e[2].devminor), (8, 1));
        assert_eq!(e[3].data, b"hello");
        assert_eq!((e[4].rdevmajor, e[4].rdevminor), (5, 1));
    }

    #[test]
    fn every_name_and_data_alignment() {
        // Names of length 1..8 and data of length 0..8 cover every padding case.
        for nl in 1..9 {
            for dl in 0..9 {
                let name: String = "abcdefgh"[..nl].into();
                let data: Vec<u8> = (0..dl as u8).map(|i| i + 1).collect();
                let img = archive(&[raw("070701", &name, 0o100644, (0, 0), &data), raw("070701", "z", 0o40755, (0, 0), &[])]);
                let e = collect(&img).unwrap();
                assert_eq!(e.len(), 2);
                assert_eq!((e[0].name, e[0].data), (name.as_str(), data.as_slice()));
                assert_eq!(e[1].name, "z");
            }
        }
    }

    #[test]
    fn concatenated_archives_with_padding() {
        let mut img = archive(&[raw("070701", "a", 0o100644, (0, 0), b"1")]);
        img.extend(vec![0u8; 512 - img.len() % 512]);
        img.extend(archive(&[raw("070701", "a", 0o100644, (0, 0), b"2"), raw("070701", "b", 0o40755, (0, 0), &[])]));
        img.extend(vec![0u8; 3]);
        let e = collect(&img).unwrap();
        let v: Vec<(&str, &[u8])> = e.iter().map(|e| (e.name, e.data)).collect();
        assert_eq!(v, [("a", &b"1"[..]), ("a", &b"2"[..]), ("b", &b""[..])]);
        let names: Vec<&str> = entries_with_trailers(&img).map(|e| e.unwrap().name).collect();
        assert_eq!(names, ["a", TRAILER, "a", "b", TRAILER]);
    }

    #[test]
    fn empty_and_zero_images() {
        assert_eq!(collect(&[]).unwrap().len(), 0);
        assert_eq!(collect(&[0; 64]).unwrap().len(), 0);
        assert_eq!(collect(&archive(&[])).unwrap().len(), 0);
    }

    #[test]
    fn writer_round_trips() {
        let f = CpioEntry {
            name: "etc/motd", ino: 3, mode: 0o100600, uid: 1, gid: 2, nlink: 1, mtime: 99, devmajor: 0,
            devminor: 0, rdevmajor: 0, rdevminor: 0, data: b"hi there",
        };
        let d = CpioEntry { name: "dev/null", mode: 0o20666, rdevmajor: 1, rdevminor: 3, data: &[], ..f };
        let mut img = Vec::new();
        write_entry(&mut img, &f);
        write_entry(&mut img, &d);
        write_trailer(&mut img);
        assert_eq!(collect(&img).unwrap(), [f, d]);
        // write_entry agrees with the hand-built layout (it writes upper-case hex
        // as gen_init_cpio does; the hand-built one is lower-case).
        let mut one = Vec::new();
        write_entry(&mut one, &CpioEntry { ino: 7, uid: 1000, gid: 100, mtime: 0x5f5e1000, devmajor: 8, devminor: 1, ..f });
        let hand = raw("070701", "etc/motd", 0o100600, (0, 0), b"hi there");
        assert!(one[..HEADER_LEN].eq_ignore_ascii_case(&hand[..HEADER_LEN]));
        assert_eq!(one[HEADER_LEN..], hand[HEADER_LEN..]);
    }

    #[test]
    fn errors() {
        let good = archive(&[raw("070701", "file", 0o100644, (0, 0), b"contents!")]);
        // Every truncation is an error, never a panic.
        for n in 1..good.len() {
            assert_eq!(collect(&good[..n]), Err(CpioError::Truncated), "cut at {}", n);
        }
        let mut odc = good.clone();
        odc[..6].copy_from_slice(b"070707");
        assert_eq!(collect(&odc), Err(CpioError::OldFormat));
        assert_eq!(collect(b"hello world"), Err(CpioError::BadMagic));
        assert_eq!(collect(&[0x1f, 0x8b, 8, 0]), Err(CpioError::Compressed("gzip")));
        assert_eq!(collect(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Err(CpioError::Compressed("xz")));
        let mut hex = good.clone();
        hex[20] = b'g';
        assert_eq!(collect(&hex), Err(CpioError::BadHeader));
        let mut nonul = good.clone();
        nonul[HEADER_LEN + 4] = b'x';
        assert_eq!(collect(&nonul), Err(CpioError::BadName));
        let empty_name = archive(&[raw("070701", "", 0o100644, (0, 0), &[])]);
        assert_eq!(collect(&empty_name), Err(CpioError::BadName));
        let mut utf = good.clone();
        utf[HEADER_LEN] = 0xff;
        assert_eq!(collect(&utf), Err(CpioError::BadName));
        // Junk after a trailer, and an unaligned second archive.
        let mut junk = good.clone();
        junk.extend(b"junk");
        assert_eq!(collect(&junk), Err(CpioError::BadMagic));
        let mut unaligned = good.clone();
        unaligned.push(0);
        unaligned.extend(&good);
        assert_eq!(collect(&unaligned), Err(CpioError::BadMagic));
        // Entries before the damage are still yielded, then the error, then nothing.
        let mut it = entries(&good[..good.len() - 60]);
        assert!(matches!(it.next(), Some(Ok(e)) if e.name == "file"));
        assert_eq!(it.next(), Some(Err(CpioError::Truncated)));
        assert_eq!(it.next(), None);
        // Huge sizes in the header do not overflow.
        let mut huge = good.clone();
        huge[6 + 6 * 8..6 + 7 * 8].copy_from_slice(b"FFFFFFFF");
        assert_eq!(collect(&huge), Err(CpioError::Truncated));
        let mut huge_name = good.clone();
        huge_name[6 + 11 * 8..6 + 12 * 8].copy_from_slice(b"FFFFFFFF");
        assert_eq!(collect(&huge_name), Err(CpioError::Truncated));
    }

    #[test]
    fn messages_are_linuxs() {
        assert_eq!(format!("{}", CpioError::OldFormat), "incorrect cpio method used: use -H newc option");
        assert_eq!(format!("{}", CpioError::Compressed("gzip")), "compression method gzip not configured");
    }

    #[test]
    fn fuzz_never_panics() {
        let good = archive(&[
            raw("070701", "d", 0o40755, (0, 0), &[]),
            raw("070701", "d/f", 0o100644, (0, 0), b"abcdefg"),
        ]);
        let mut seed = 0x2545f491u32;
        for _ in 0..20000 {
            let mut img = good.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % img.len();
                img[i] = (seed >> 24) as u8;
            }
            let _ = collect(&img);
        }
    }
}
