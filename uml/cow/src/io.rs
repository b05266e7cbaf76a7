//! Hole-aware copying between files, and new files that appear under their final name only when
//! complete.

use super::sys;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Largest piece moved by one system call (also the granularity of progress reports).
pub const CHUNK: u64 = 64 << 20;

/// The data (non-hole) extents of a file, found with `SEEK_DATA`/`SEEK_HOLE`, with a cursor for
/// walking them in increasing order.
///
/// An *eager* map finds all extents at once (right for a backing file: few extents, long clean
/// runs). A *lazy* map only looks for holes inside pieces of at least [`LAZY_MIN`] bytes and
/// treats shorter pieces as data (right for a COW file: many small extents, one per write, and
/// short dirty runs that are nearly always data).
pub struct DataMap<'a> {
    file: &'a File,
    len: u64,
    lazy: bool,
    extents: Vec<(u64, u64)>,
    cursor: usize,
}

/// Pieces shorter than this are not searched for holes by a lazy [`DataMap`].
pub const LAZY_MIN: u64 = 1 << 20;

fn find_extents(file: &File, from: u64, to: u64) -> io::Result<Vec<(u64, u64)>> {
    let mut extents = Vec::new();
    let mut off = from;
    while off < to {
        let start = match sys::seek_data(file, off) {
            Ok(Some(s)) if s < to => s,
            Ok(_) => break,
            // No hole support: all data.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => return Ok(vec![(off, to)]),
            Err(e) => return Err(e),
        };
        let end = sys::seek_hole(file, start)?.unwrap_or(to).min(to);
        extents.push((start, end));
        off = end;
    }
    Ok(extents)
}

/// Bytes of `[from, to)` of `file` that are holes (0 where the file system has no holes).
pub fn hole_bytes(file: &File, from: u64, to: u64) -> io::Result<u64> {
    let data: u64 = find_extents(file, from, to)?
        .iter()
        .map(|(s, e)| e - s)
        .sum();
    Ok((to - from).saturating_sub(data))
}

impl<'a> DataMap<'a> {
    /// Maps all of `file` (`len` bytes) now.
    pub fn eager(file: &'a File, len: u64) -> io::Result<DataMap<'a>> {
        Ok(DataMap {
            file,
            len,
            lazy: false,
            extents: find_extents(file, 0, len)?,
            cursor: 0,
        })
    }

    /// Maps `file` piece by piece, as asked.
    pub fn lazy(file: &'a File, len: u64) -> DataMap<'a> {
        DataMap {
            file,
            len,
            lazy: true,
            extents: Vec::new(),
            cursor: 0,
        }
    }

    /// Splits `[start, end)` into data pieces, in order, calling `f(piece_start, piece_end)`.
    /// Queries must come in increasing order of `start`.
    pub fn data_in(
        &mut self,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, u64) -> io::Result<()>,
    ) -> io::Result<()> {
        let end = end.min(self.len);
        if start >= end {
            return Ok(());
        }
        if self.lazy {
            if end - start < LAZY_MIN {
                return f(start, end);
            }
            for (s, e) in find_extents(self.file, start, end)? {
                f(s, e)?;
            }
            return Ok(());
        }
        while self.cursor < self.extents.len() && self.extents[self.cursor].1 <= start {
            self.cursor += 1;
        }
        for &(s, e) in &self.extents[self.cursor..] {
            if s >= end {
                break;
            }
            f(s.max(start), e.min(end))?;
        }
        Ok(())
    }
}

/// Copies byte ranges, with `copy_file_range` (falling back to `pread`/`pwrite` where that
/// call is not available), or, into a new file whose holes already read as zeros, with
/// `pread`/`pwrite` skipping the all-zero blocks so that they stay holes.
pub struct Copier {
    buf: Option<Vec<u8>>,
    skip_zeros: bool,
}

/// Granularity of the holes a zero-skipping copy leaves.
const BLOCK: u64 = 4096;

fn is_zero(b: &[u8]) -> bool {
    // OR-folding fixed-size pieces vectorises; an early-exit byte loop does not.
    let mut pieces = b.chunks_exact(64);
    pieces.all(|p| p.iter().fold(0, |a, &x| a | x) == 0)
        && pieces.remainder().iter().all(|&x| x == 0)
}

impl Copier {
    /// A copier for destinations whose content must be overwritten.
    pub fn overwriting() -> Copier {
        Copier {
            buf: None,
            skip_zeros: false,
        }
    }

    /// A copier for destinations that read as zeros where nothing is written (a new sparse
    /// file): all-zero blocks are not written, so the result stays sparse.
    pub fn into_fresh() -> Copier {
        Copier {
            buf: Some(vec![0; 1 << 20]),
            skip_zeros: true,
        }
    }

    /// Copies `len` bytes from `src` at `src_off` to `dst` at `dst_off`. Stops early (leaving
    /// the rest as it was) if `src` ends.
    pub fn copy(
        &mut self,
        src: &File,
        mut src_off: u64,
        dst: &File,
        mut dst_off: u64,
        len: u64,
    ) -> io::Result<()> {
        let end = src_off + len;
        while src_off < end {
            let want = (end - src_off).min(CHUNK) as usize;
            let n = match &mut self.buf {
                None => match sys::copy_file_range(src, src_off, dst, dst_off, want) {
                    Ok(n) => n,
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::EXDEV | libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL)
                        ) =>
                    {
                        self.buf = Some(vec![0; 1 << 20]);
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                },
                Some(buf) => {
                    let want = want.min(buf.len());
                    let n = match src.read_at(&mut buf[..want], src_off) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    if self.skip_zeros {
                        write_nonzero(dst, &buf[..n], dst_off)?;
                    } else {
                        dst.write_all_at(&buf[..n], dst_off)?;
                    }
                    n
                }
            };
            if n == 0 {
                break;
            }
            src_off += n as u64;
            dst_off += n as u64;
        }
        Ok(())
    }
}

/// Writes the blocks of `data` (aligned to [`BLOCK`] in the destination) that are not all
/// zeros, in as few calls as possible.
fn write_nonzero(dst: &File, data: &[u8], dst_off: u64) -> io::Result<()> {
    let block_end = |i: usize| {
        let pos = dst_off + i as u64;
        (((pos / BLOCK + 1) * BLOCK - dst_off) as usize).min(data.len())
    };
    let mut i = 0;
    while i < data.len() {
        let e = block_end(i);
        if is_zero(&data[i..e]) {
            i = e;
            continue;
        }
        let start = i;
        i = e;
        while i < data.len() {
            let e = block_end(i);
            if is_zero(&data[i..e]) {
                break;
            }
            i = e;
        }
        dst.write_all_at(&data[start..i], dst_off + start as u64)?;
    }
    Ok(())
}

/// Makes `[off, off+len)` of `file` read as zeros: punches a hole, or writes zeros where holes
/// cannot be punched.
pub fn zero_range(file: &File, off: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    match sys::punch_hole(file, off, len) {
        Ok(()) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENODEV)) => {}
        Err(e) => return Err(e),
    }
    let zeros = vec![0u8; (1 << 20).min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], off + done)?;
        done += n as u64;
    }
    Ok(())
}

static TMP_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A file being written that gets its final name only at [`NewFile::finish`]. Until then it is
/// unnamed (`O_TMPFILE`) or, where that is not supported, a hidden temporary name in the same
/// directory that is removed if the work fails. A crash never leaves anything under the final
/// name.
pub struct NewFile {
    pub file: File,
    dest: PathBuf,
    named_tmp: Option<PathBuf>,
}

fn parent_dir(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

fn tmp_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_dir(dest).join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

impl NewFile {
    /// Starts a new file that will be called `dest`, with permission bits `mode` (less umask).
    pub fn create(dest: &Path, mode: u32) -> io::Result<NewFile> {
        let dir = parent_dir(dest);
        match sys::open_tmpfile(dir, mode) {
            Ok(file) => {
                return Ok(NewFile {
                    file,
                    dest: dest.to_path_buf(),
                    named_tmp: None,
                })
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) => {}
            Err(e) => return Err(e),
        }
        let tmp = tmp_name(dest);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        Ok(NewFile {
            file,
            dest: dest.to_path_buf(),
            named_tmp: Some(tmp),
        })
    }

    /// Flushes the file to disk (unless `!durable`) and gives it its final name. With
    /// `replace`, an existing file of that name is replaced atomically; without, an existing
    /// file makes this fail with `AlreadyExists` and is left alone. Without `durable`, a power
    /// failure soon after may leave the new name with incomplete content (a killed process
    /// cannot).
    pub fn finish(mut self, replace: bool, durable: bool) -> io::Result<()> {
        if durable {
            self.file.sync_all()?;
        }
        let named = match self.named_tmp.take() {
            Some(t) => t,
            None if !replace => {
                sys::link_tmpfile(&self.file, &self.dest)?;
                return if durable {
                    sync_dir(parent_dir(&self.dest))
                } else {
                    Ok(())
                };
            }
            None => {
                let t = tmp_name(&self.dest);
                sys::link_tmpfile(&self.file, &t)?;
                t
            }
        };
        let r = if replace {
            std::fs::rename(&named, &self.dest)
        } else {
            std::fs::hard_link(&named, &self.dest)
        };
        if r.is_err() || !replace {
            let _ = std::fs::remove_file(&named);
        }
        r?;
        if durable {
            sync_dir(parent_dir(&self.dest))?;
        }
        Ok(())
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if let Some(t) = &self.named_tmp {
            let _ = std::fs::remove_file(t);
        }
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
