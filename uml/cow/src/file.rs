//! An open COW file: its header, geometry and bitmap.

use super::backing::{header_path, BackingInfo};
use super::bitmap::Bitmap;
use super::error::{CowError, Result, Role};
use super::header::{Geometry, Header, MAX_HEADER_LEN};
use super::sys::{self, LockHolder, LockKind};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An open, parsed COW file.
#[derive(Debug)]
pub struct CowFile {
    pub path: PathBuf,
    pub file: File,
    pub header: Header,
    pub geometry: Geometry,
    /// The file's length in bytes.
    pub len: u64,
}

/// Reads as many bytes as are there, up to `buf.len()`, from `off`.
pub(crate) fn read_full_at(file: &File, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl CowFile {
    /// Opens and parses `path`, read-only or read-write.
    pub fn open(path: &Path, writable: bool) -> Result<CowFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| CowError::io(path, "open the COW file", e))?;
        let md = file
            .metadata()
            .map_err(|e| CowError::io(path, "stat the COW file", e))?;
        if md.is_dir() {
            return Err(CowError::refused(
                path,
                "is a directory, not a COW file",
                "name the COW file itself",
            ));
        }
        let mut buf = vec![0u8; MAX_HEADER_LEN];
        let n = read_full_at(&file, &mut buf, 0)
            .map_err(|e| CowError::io(path, "read the COW header", e))?;
        buf.truncate(n);
        let header = Header::parse(&buf).map_err(|source| CowError::Header {
            path: path.to_path_buf(),
            source,
        })?;
        let geometry = header.geometry();
        Ok(CowFile {
            path: path.to_path_buf(),
            file,
            header,
            geometry,
            len: md.len(),
        })
    }

    /// The backing path recorded in the header.
    pub fn backing_path(&self) -> PathBuf {
        header_path(&self.header)
    }

    /// Reads the bitmap. For v1/v2 files whose bitmap is one byte short (the historical rounding
    /// bug), the missing bits are read from the padding that follows, where the kernel puts them,
    /// as long as that is still before the data area.
    pub fn read_bitmap(&self) -> Result<Bitmap> {
        let g = &self.geometry;
        let want = g
            .bitmap_bytes_needed()
            .min(g.data_offset - g.bitmap_offset)
            .max(g.bitmap_len);
        let need_end = g.bitmap_offset + g.bitmap_len;
        if self.len < need_end {
            return Err(CowError::TruncatedBitmap {
                path: self.path.clone(),
                len: self.len,
                need: need_end,
            });
        }
        let mut bytes = vec![0u8; want as usize];
        let n = read_full_at(&self.file, &mut bytes, g.bitmap_offset)
            .map_err(|e| CowError::io(&self.path, "read the COW bitmap", e))?;
        bytes.truncate(n);
        Ok(Bitmap::from_bytes(bytes, g.sectors))
    }

    /// Stats the backing file: `backing` if given (like `uml_moo -b`), else the header's path.
    pub fn inspect_backing(&self, backing: Option<&Path>) -> Result<BackingInfo> {
        let path = backing
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.backing_path());
        BackingInfo::inspect(&self.path, &path)
    }

    /// Takes a whole-file OFD lock on the COW file; refuses if a guest holds a conflicting one.
    pub fn lock(&self, kind: LockKind) -> Result<()> {
        lock_file(&self.file, &self.path, Role::Cow, kind)
    }

    /// Who holds a lock that would conflict with `kind`, if anyone.
    pub fn lock_holder(&self, kind: LockKind) -> Result<Option<LockHolder>> {
        sys::probe_lock(&self.file, kind)
            .map_err(|e| CowError::io(&self.path, "query the locks of", e))
    }
}

/// Takes a whole-file OFD lock on `file`, or reports who holds a conflicting lock.
pub fn lock_file(file: &File, path: &Path, role: Role, kind: LockKind) -> Result<()> {
    match sys::try_lock(file, kind) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(holder)) => Err(CowError::Locked {
            path: path.to_path_buf(),
            role,
            holder,
        }),
        Err(e) => Err(CowError::io(path, "lock", e)),
    }
}
