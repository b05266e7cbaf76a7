//! The operations: create, merge (non-destructive), commit (merge into the backing file), rebase,
//! convert, and finding the other COW files that share a backing file. This module holds what
//! several of them share: opening a COW file for reading, walking its runs, naming new files,
//! and rewriting a COW file under a new header.

mod commit;
mod convert;
mod create;
mod merge;
mod rebase;
mod siblings;

pub use commit::{commit, preview_commit, CommitOptions, CommitPreview};
pub use convert::{convert, ConvertReport};
pub use create::{create, CreateOptions};
pub use merge::{merge, MergeOptions};
pub use rebase::{rebase, MtimePolicy, RebaseReport};
pub use siblings::{find_siblings, Sibling};

use crate::backing::BackingInfo;
use crate::bitmap::Bitmap;
use crate::error::{CowError, Result, Role};
use crate::file::{lock_file, CowFile};
use crate::header::Header;
use crate::io::{Copier, DataMap, NewFile, CHUNK};
use crate::sys::{self, LockKind};
use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Backing files of this size or less are refused: the kernel's bitmap update underflows and the
/// guest hangs on its first write to such a COW disk.
pub const TINY_DISK: u64 = 32 * 1024;

/// Receives `(bytes done, bytes in all)` as work proceeds.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Splits the byte range of each run into pieces of at most [`CHUNK`] bytes, capped at `size`
/// unless `keep_tail` (for the COW data area, whose last sector may extend past `size`).
fn run_pieces(
    bitmap: &Bitmap,
    size: u64,
    sector: u64,
    keep_tail: bool,
) -> impl Iterator<Item = (bool, u64, u64)> + '_ {
    bitmap.runs().flat_map(move |r| {
        let a = r.start * sector;
        let mut b = r.end() * sector;
        if !keep_tail {
            b = b.min(size);
        }
        (a..b)
            .step_by(CHUNK as usize)
            .map(move |s| (r.dirty, s, (s + CHUNK).min(b)))
    })
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> CowError + 'a {
    move |e| CowError::io(path, op, e)
}

/// A copy from `src` into the new file `out` failed: a full file system (or quota, or file size
/// limit) is about `out` (`out_op` says what was being written), whatever side the copy call
/// reported it on; anything else about `src`.
fn copy_err<'a>(
    src: &'a Path,
    op: &'static str,
    out: &'a Path,
    out_op: &'static str,
) -> impl FnOnce(std::io::Error) -> CowError + 'a {
    move |e| {
        if crate::error::is_out_of_space(&e) {
            CowError::io(out, out_op, e)
        } else {
            CowError::io(src, op, e)
        }
    }
}

const NEW_NAME_HINT: &str = "choose another name, or pass --force to replace it";

/// Gives a finished new file its name, reporting an existing file of that name (when not
/// replacing) as [`CowError::Exists`] with `hint`.
fn finish(new: NewFile, dest: &Path, replace: bool, durable: bool, hint: &str) -> Result<()> {
    new.finish(replace, durable).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CowError::Exists {
                path: dest.to_path_buf(),
                hint: hint.into(),
            }
        } else {
            CowError::io(dest, "write", e)
        }
    })
}

/// Sleep per merge step asked for by tests (`UML_COW_TEST_SLOW_MS=N`), so that they can
/// interrupt a merge half-way. Programs call it from their progress callbacks.
pub fn test_step_delay() -> Option<std::time::Duration> {
    std::env::var("UML_COW_TEST_SLOW_MS")
        .ok()?
        .parse()
        .ok()
        .map(std::time::Duration::from_millis)
}

/// Opens the COW file for reading: parsed, read-locked (refused while a guest writes it), its
/// backing file checked against the header and read-locked too.
fn open_for_reading(
    cow_path: &Path,
    backing: Option<&Path>,
    backing_lock: LockKind,
) -> Result<(CowFile, Bitmap, BackingInfo, File)> {
    let cow = CowFile::open(cow_path, false)?;
    cow.lock(LockKind::Read)?;
    let bitmap = cow.read_bitmap()?;
    let info = cow.inspect_backing(backing)?;
    info.validate(cow_path, &cow.header)?;
    let write = backing_lock == LockKind::Write;
    let file = OpenOptions::new()
        .read(true)
        .write(write)
        .open(&info.path)
        .map_err(io_err(
            &info.path,
            if write {
                "open the backing file for writing"
            } else {
                "open the backing file"
            },
        ))?;
    lock_file(&file, &info.path, Role::Backing, backing_lock)?;
    Ok((cow, bitmap, info, file))
}

/// What a merge or commit did.
#[derive(Clone, Debug, Default)]
pub struct MergeReport {
    pub size: u64,
    pub dirty_sectors: u64,
    /// Bytes actually copied (holes are skipped).
    pub copied_bytes: u64,
    /// For a commit: true if the backing file was changed.
    pub backing_changed: bool,
}

/// `abs` as the bytes of a header's path field; refused, with `hint`, when it does not fit.
fn header_path(abs: &Path, hint: &str) -> Result<Vec<u8>> {
    let bytes = abs.as_os_str().as_bytes().to_vec();
    if !Header::path_fits(&bytes) {
        return Err(CowError::refused(
            abs,
            "the absolute path is longer than the 4095 bytes a COW header holds",
            hint,
        ));
    }
    Ok(bytes)
}

fn mtime_field(info: &BackingInfo) -> Result<u32> {
    info.header_mtime().ok_or_else(|| {
        CowError::refused(
            &info.path,
            format!(
                "its mtime {} does not fit the COW header's 32-bit field (the kernel could \
                 never match it)",
                info.mtime
            ),
            format!(
                "give it a current mtime with `touch {}` (only if no other COW file uses it)",
                info.path.display()
            ),
        )
    })
}

/// Writes a COW file with `header` (any v3 alignment), `bitmap` and the dirty data of `src`,
/// to `dest`, atomically. Data of clean sectors is dropped; holes stay holes.
fn write_cow_copy(
    src: &CowFile,
    bitmap: &Bitmap,
    header: &Header,
    dest: &Path,
    replace: bool,
    progress: Progress,
) -> Result<()> {
    let g = header.geometry();
    let sd = src.geometry.data_offset;
    let md = src
        .file
        .metadata()
        .map_err(io_err(&src.path, "stat the COW file"))?;
    let new = NewFile::create(dest, 0o600).map_err(io_err(dest, "create the new COW file"))?;
    let werr = io_err(dest, "write the new COW file");
    new.file
        .write_all_at(&header.encode_v3(), 0)
        .map_err(werr)?;
    new.file
        .write_all_at(bitmap.as_bytes(), g.bitmap_offset)
        .map_err(io_err(dest, "write the new COW file"))?;
    // Keep what the kernel may have written past `size` in the last sector.
    let len = g.full_len().max(src.len.saturating_sub(sd) + g.data_offset);
    new.file
        .set_len(len)
        .map_err(io_err(dest, "size the new COW file"))?;
    let mut cmap = DataMap::lazy(&src.file, src.len);
    let mut copier = Copier::into_fresh();
    let total = g.size;
    for (dirty, a, b) in run_pieces(bitmap, g.size, g.sector_size, true) {
        if dirty {
            cmap.data_in(sd + a, sd + b, |s, e| {
                copier.copy(&src.file, s, &new.file, s - sd + g.data_offset, e - s)
            })
            .map_err(copy_err(
                &src.path,
                "copy the COW data",
                dest,
                "write the new COW file",
            ))?;
        }
        progress(b.min(total), total);
    }
    // Same permissions and, where allowed, the same owner as the file it replaces.
    let _ = new
        .file
        .set_permissions(std::fs::Permissions::from_mode(md.mode() & 0o7777));
    let _ = sys::fchown(&new.file, md.uid(), md.gid());
    finish(new, dest, replace, true, NEW_NAME_HINT)
}
