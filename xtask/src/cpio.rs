//! A minimal writer for cpio "newc" archives (the initramfs format Linux reads).
//!
//! Each entry is a 110-byte ASCII header (`070701` + 13 fields of 8 hex
//! digits), the NUL-terminated name padded to a multiple of 4 bytes, then the
//! data padded to a multiple of 4 bytes. The archive ends with an entry named
//! `TRAILER!!!`.

const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

#[derive(Default)]
pub struct Cpio {
    buf: Vec<u8>,
    next_ino: u32,
}

struct Entry<'a> {
    name: &'a str,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    data: &'a [u8],
}

impl Cpio {
    pub fn new() -> Self {
        Cpio {
            buf: Vec::new(),
            next_ino: 1,
        }
    }

    /// A directory; `perm` is the permission bits (e.g. 0o755).
    pub fn dir(&mut self, name: &str, perm: u32) -> &mut Self {
        self.entry(Entry {
            name,
            mode: S_IFDIR | perm,
            nlink: 2,
            rdev: (0, 0),
            data: &[],
        })
    }

    /// A character device node.
    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> &mut Self {
        self.entry(Entry {
            name,
            mode: S_IFCHR | perm,
            nlink: 1,
            rdev: (major, minor),
            data: &[],
        })
    }

    /// A regular file.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> &mut Self {
        self.entry(Entry {
            name,
            mode: S_IFREG | perm,
            nlink: 1,
            rdev: (0, 0),
            data,
        })
    }

    /// A symbolic link to `target`, which is stored as the entry's data
    /// (as `cpio -H newc` does; Linux's do_symlink reads it from there).
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(Entry {
            name,
            mode: S_IFLNK | 0o777,
            nlink: 1,
            rdev: (0, 0),
            data: target.as_bytes(),
        })
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        self.next_ino = 0;
        self.entry(Entry {
            name: "TRAILER!!!",
            mode: 0,
            nlink: 1,
            rdev: (0, 0),
            data: &[],
        });
        self.buf
    }

    fn entry(&mut self, e: Entry) -> &mut Self {
        // Archive names are relative: "/init" is stored as "init".
        let name = e.name.trim_start_matches('/');
        let ino = self.next_ino;
        self.next_ino += 1;
        let fields = [
            ino,
            e.mode,
            0, // uid
            0, // gid
            e.nlink,
            0, // mtime
            e.data.len() as u32,
            0, // devmajor
            0, // devminor
            e.rdev.0,
            e.rdev.1,
            name.len() as u32 + 1, // namesize, including the NUL
            0,                     // check
        ];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(e.data);
        self.pad();
        self
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(h: &[u8], i: usize) -> u32 {
        u32::from_str_radix(std::str::from_utf8(&h[6 + 8 * i..14 + 8 * i]).unwrap(), 16).unwrap()
    }

    #[test]
    fn exact_layout_of_one_file() {
        let mut c = Cpio::new();
        c.file("/init", 0o755, b"hello");
        let a = c.finish();
        let expected_header = "070701\
            00000001\
            000081ED\
            00000000\
            00000000\
            00000001\
            00000000\
            00000005\
            00000000\
            00000000\
            00000000\
            00000000\
            00000005\
            00000000";
        assert_eq!(&a[..110], expected_header.as_bytes());
        // 110 + "init\0" = 115 -> padded to 116; then 5 data bytes -> padded to 124.
        assert_eq!(&a[110..116], b"init\0\0");
        assert_eq!(&a[116..121], b"hello");
        assert_eq!(&a[121..124], b"\0\0\0");
        // trailer
        assert_eq!(&a[124..130], b"070701");
        assert_eq!(field(&a[124..], 0), 0); // ino
        assert_eq!(field(&a[124..], 4), 1); // nlink
        assert_eq!(field(&a[124..], 11), 11); // namesize
        assert_eq!(&a[124 + 110..124 + 121], b"TRAILER!!!\0");
        // 124 + 110 + 11 = 245 -> padded to 248
        assert_eq!(a.len(), 248);
    }

    #[test]
    fn device_and_directory_entries() {
        let mut c = Cpio::new();
        c.dir("/dev", 0o755).char_dev("/dev/console", 0o600, 5, 1);
        let a = c.finish();
        // dev: 110 + 4 = 114 -> 116
        assert_eq!(field(&a, 1), 0o040755);
        assert_eq!(field(&a, 4), 2);
        assert_eq!(&a[110..116], b"dev\0\0\0");
        let h = &a[116..];
        assert_eq!(field(h, 0), 2); // ino
        assert_eq!(field(h, 1), 0o020600);
        assert_eq!(field(h, 6), 0); // filesize
        assert_eq!((field(h, 9), field(h, 10)), (5, 1)); // rdev major/minor
        assert_eq!(field(h, 11), 12); // "dev/console\0"
        assert_eq!(&h[110..122], b"dev/console\0");
        // 110 + 12 = 122 -> 124
        assert_eq!(&h[124..130], b"070701");
        assert!(a.len().is_multiple_of(4));
    }

    #[test]
    fn symlink_entry() {
        let mut c = Cpio::new();
        c.symlink("/bin/sh", "busybox");
        let a = c.finish();
        assert_eq!(field(&a, 1), 0o120777);
        assert_eq!(field(&a, 6), 7); // filesize: the target
        assert_eq!(field(&a, 11), 7); // "bin/sh\0"
        // 110 + 7 = 117 -> 120, then the target.
        assert_eq!(&a[110..120], b"bin/sh\0\0\0\0");
        assert_eq!(&a[120..127], b"busybox");
        let e: Vec<_> = klib::cpio::entries(&a).collect::<Result<_, _>>().unwrap();
        assert_eq!((e[0].name, e[0].data), ("bin/sh", &b"busybox"[..]));
    }
}
