//! Committing: the COW file's changes written into the backing file itself, and a look at
//! what that would do first.

use super::siblings::{find_siblings, Sibling};
use super::{
    io_err, mtime_field, open_for_reading, run_pieces, write_cow_copy, MergeReport, Progress,
};
use crate::backing::{absolutize, BackingInfo};
use crate::bitmap::Bitmap;
use crate::error::Result;
use crate::file::CowFile;
use crate::header::Header;
use crate::io::{zero_range, Copier, DataMap};
use crate::sys::{self, LockKind};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Options of [`commit`].
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    pub backing: Option<PathBuf>,
    /// Afterwards, replace the COW file with an empty one valid for the updated backing file.
    pub reset: bool,
    /// Flush the backing file to disk before returning.
    pub durable: bool,
}

/// Writes the COW's dirty sectors into the backing file itself (`uml_moo -d`). Takes a write
/// lock on the backing file (refused while any guest uses it) and a read lock on the COW file.
/// The backing file's mtime changes (moved on by a second if the write left it in the recorded
/// second), which invalidates every COW file on it, this one included (unless `reset`).
pub fn commit(cow_path: &Path, opts: &CommitOptions, progress: Progress) -> Result<MergeReport> {
    let (cow, bitmap, info, backing) =
        open_for_reading(cow_path, opts.backing.as_deref(), LockKind::Write)?;
    let size = cow.header.size;
    let d = cow.geometry.data_offset;
    let mut cmap = DataMap::lazy(&cow.file, cow.len);
    let mut copier = Copier::overwriting();
    let mut copied = 0u64;
    let dirty = bitmap.dirty_count();
    for (is_dirty, a, b) in run_pieces(&bitmap, size, cow.geometry.sector_size, false) {
        if is_dirty {
            let mut pos = a;
            cmap.data_in(d + a, d + b, |s, e| {
                zero_range(&backing, pos, s - d - pos)?;
                copied += e - s;
                copier.copy(&cow.file, s, &backing, s - d, e - s)?;
                pos = e - d;
                Ok(())
            })
            .and_then(|()| zero_range(&backing, pos, b - pos))
            .map_err(io_err(&info.path, "write the backing file"))?;
        }
        progress(b, size);
    }
    if dirty > 0 {
        if opts.durable {
            backing
                .sync_all()
                .map_err(io_err(&info.path, "flush the backing file"))?;
        }
        // Within the second the COW files recorded, the content changed but the whole-second
        // mtime did not: other COW files would still be accepted over changed data. Move the
        // mtime on so that they are reliably refused.
        let after = BackingInfo::inspect(cow_path, &info.path)?;
        if after.mtime == cow.header.mtime as i64 {
            sys::set_mtime(&info.path, after.mtime + 1)
                .map_err(io_err(&info.path, "update the mtime of"))?;
        }
    }
    if opts.reset {
        let path = match &opts.backing {
            Some(p) => absolutize(p).map_err(io_err(p, "resolve the backing path"))?,
            None => cow.backing_path(),
        };
        let now = BackingInfo::inspect(cow_path, &path)?;
        let header = Header::new_v3(
            path.as_os_str().as_bytes().to_vec(),
            mtime_field(&now)?,
            size,
        );
        let empty = Bitmap::empty(cow.geometry.sectors);
        write_cow_copy(&cow, &empty, &header, cow_path, true, &mut |_, _| {})?;
    }
    Ok(MergeReport {
        size,
        dirty_sectors: dirty,
        copied_bytes: copied,
        backing_changed: dirty > 0,
    })
}

/// What [`commit`] would do, found without writing or locking anything.
#[derive(Clone, Debug)]
pub struct CommitPreview {
    /// The backing file the commit would write (already checked against the header).
    pub backing: BackingInfo,
    pub dirty_sectors: u64,
    /// Other COW files over the same backing file: the commit makes them unusable.
    pub siblings: Vec<Sibling>,
}

/// Makes the checks of [`commit`] that need no lock, then looks for other COW files over the
/// same backing file in `search`, or, if it is empty, in the directories of the COW file and of
/// the backing file.
pub fn preview_commit(
    cow_path: &Path,
    backing: Option<&Path>,
    search: &[PathBuf],
) -> Result<CommitPreview> {
    let cow = CowFile::open(cow_path, false)?;
    let bitmap = cow.read_bitmap()?;
    let info = cow.inspect_backing(backing)?;
    info.validate(cow_path, &cow.header)?;
    let dirs = if search.is_empty() {
        [cow_path, &info.path].map(parent_or_dot).to_vec()
    } else {
        search.to_vec()
    };
    let siblings = find_siblings(&info, cow_path, &dirs);
    Ok(CommitPreview {
        backing: info,
        dirty_sectors: bitmap.dirty_count(),
        siblings,
    })
}

/// The directory `p` is in (`.` for a bare name).
fn parent_or_dot(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
