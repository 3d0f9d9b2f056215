//! Reading, writing and seeking (mirrors fs/read_write.c: vfs_read,
//! vfs_write, ksys_read/ksys_write, generic_file_llseek, vfs_setpos, and
//! fs/readdir.c's iterate_dir with libfs.c's dcache_dir_lseek).
//!
//! Left out: vectored and splice I/O, rw_verify_area's file locks, the
//! MAX_RW_COUNT clamp, atime updates' relatime policy, and fsnotify. A
//! directory's position counts entries (`.`, `..` included), so entries
//! added or removed between getdents calls may shift it (Linux keeps a
//! cursor in the dentry list instead).

use super::file::{fcntl::*, File, FileOps};
use super::inode::MAX_LFS_FILESIZE;
use crate::kernel::errno::*;

/// `vfs_read`: read at `*pos` and advance it.
pub fn vfs_read(file: &File, buf: &mut [u8], pos: &mut u64) -> KResult<usize> {
    if !file.readable() {
        return Err(EBADF);
    }
    let n = match file.ops {
        FileOps::Reg => file.inode().read_at(*pos, buf)?,
        FileOps::Dir => return Err(EISDIR),
        FileOps::Chr(dev) => dev.read(buf, file.flags() & O_NONBLOCK != 0)?,
        FileOps::Pipe => file.pipe().ok_or(EBADF)?.read(buf, file.flags() & O_NONBLOCK != 0)?,
    };
    *pos += n as u64;
    Ok(n)
}

/// `vfs_write`: write at `*pos` (at the end of file with O_APPEND) and advance it.
pub fn vfs_write(file: &File, buf: &[u8], pos: &mut u64) -> KResult<usize> {
    if !file.writable() {
        return Err(EBADF);
    }
    match file.ops {
        FileOps::Reg => {
            let append = file.flags() & O_APPEND != 0;
            let (n, end) = file.inode().write(if append { None } else { Some(*pos) }, buf)?;
            *pos = end;
            Ok(n)
        }
        FileOps::Dir => Err(EISDIR),
        FileOps::Chr(dev) => {
            let n = dev.write(buf)?;
            *pos += n as u64;
            Ok(n)
        }
        FileOps::Pipe => file.pipe().ok_or(EBADF)?.write(buf, file.flags() & O_NONBLOCK != 0),
    }
}

/// `vfs_setpos`.
fn setpos(pos: i128) -> KResult<u64> {
    if pos < 0 || pos > MAX_LFS_FILESIZE as i128 {
        return Err(EINVAL);
    }
    Ok(pos as u64)
}

impl File {
    /// read(2) (`ksys_read`): from the file position. A stream (pipe,
    /// tty) has none and may sleep, so f_pos_lock is not taken for it.
    pub fn read(&self, buf: &mut [u8]) -> KResult<usize> {
        if self.is_stream() {
            return vfs_read(self, buf, &mut 0);
        }
        let mut pos = self.pos.lock();
        vfs_read(self, buf, &mut pos)
    }

    /// write(2) (`ksys_write`).
    pub fn write(&self, buf: &[u8]) -> KResult<usize> {
        if self.is_stream() {
            return vfs_write(self, buf, &mut 0);
        }
        let mut pos = self.pos.lock();
        vfs_write(self, buf, &mut pos)
    }

    /// FMODE_PREAD/FMODE_PWRITE: ESPIPE for what cannot seek (a tty, a pipe).
    fn check_pread(&self) -> KResult<()> {
        match self.ops {
            FileOps::Chr(dev) => dev.llseek().map(drop),
            FileOps::Pipe => Err(ESPIPE),
            _ => Ok(()),
        }
    }

    /// pread64(2): at `off`, the file position untouched.
    pub fn pread(&self, buf: &mut [u8], off: u64) -> KResult<usize> {
        self.check_pread()?;
        vfs_read(self, buf, &mut { off })
    }

    /// pwrite64(2). As Linux, O_APPEND still appends.
    pub fn pwrite(&self, buf: &[u8], off: u64) -> KResult<usize> {
        self.check_pread()?;
        vfs_write(self, buf, &mut { off })
    }

    /// lseek(2): `generic_file_llseek` for files, `dcache_dir_lseek` for
    /// directories, the driver's for devices.
    pub fn lseek(&self, off: i64, whence: u32) -> KResult<u64> {
        let mut pos = self.pos.lock();
        let off = off as i128;
        let new = match (self.ops, whence) {
            (FileOps::Pipe, _) => return Err(ESPIPE), // no_llseek
            (FileOps::Chr(dev), SEEK_SET..=SEEK_HOLE) => dev.llseek()?,
            (_, SEEK_SET) => setpos(off)?,
            (_, SEEK_CUR) => setpos(*pos as i128 + off)?,
            (FileOps::Reg, SEEK_END) => setpos(self.inode().size() as i128 + off)?,
            (FileOps::Reg, SEEK_DATA | SEEK_HOLE) => {
                // No holes are reported: data runs to the end of file.
                let size = self.inode().size();
                let off = setpos(off)?;
                if off >= size {
                    return Err(ENXIO);
                }
                if whence == SEEK_DATA { off } else { size }
            }
            _ => return Err(EINVAL),
        };
        *pos = new;
        Ok(new)
    }

    /// `iterate_dir`: hand entries from the position on to `emit(name, ino,
    /// d_type)` until it returns false (the caller's buffer is full; that
    /// entry is not consumed). ENOTDIR for anything but a directory.
    pub fn iterate_dir(&self, mut emit: impl FnMut(&str, u64, u8) -> bool) -> KResult<()> {
        if self.ops != FileOps::Dir {
            return Err(ENOTDIR);
        }
        let mut pos = self.pos.lock();
        for (name, ino, dtype) in self.inode().readdir().iter().skip(*pos as usize) {
            if !emit(name, *ino, *dtype) {
                break;
            }
            *pos += 1;
        }
        Ok(())
    }
}
