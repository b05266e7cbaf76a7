//! Committing: the COW file's changes written into the backing file itself, and a look at
//! what that would do first.

use super::siblings::{find_siblings, Sibling};
use super::{
    io_err, mtime_field, open_for_reading, run_pieces, write_cow_copy, MergeReport, Progress,
};
use crate::backing::{absolutize, BackingInfo};
use crate::bitmap::Bitmap;
use crate::error::{CowError, Result, Role};
use crate::file::CowFile;
use crate::header::Header;
use crate::io::{hole_bytes, zero_range, Copier, DataMap};
use crate::sys::{self, LockKind};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
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
///
/// The commit is not atomic: the room it needs is checked first (see [`check_room`]), and a
/// write that fails all the same leaves the backing file partly written, with its mtime moved
/// on, and says so ([`CowError::PartlyCommitted`], whose hint gives the way to finish it).
pub fn commit(cow_path: &Path, opts: &CommitOptions, progress: Progress) -> Result<MergeReport> {
    let (cow, bitmap, info, backing) =
        open_for_reading(cow_path, opts.backing.as_deref(), LockKind::Write)?;
    check_room(&cow, &bitmap, &info, &backing, opts.reset)?;
    let size = cow.header.size;
    let d = cow.geometry.data_offset;
    let mut cmap = DataMap::lazy(&cow.file, cow.len);
    let mut copier = Copier::overwriting();
    let mut copied = 0u64;
    let dirty = bitmap.dirty_count();
    for (is_dirty, a, b) in run_pieces(&bitmap, size, cow.geometry.sector_size, false) {
        if is_dirty {
            let mut pos = a;
            let written = cmap
                .data_in(d + a, d + b, |s, e| {
                    zero_range(&backing, pos, s - d - pos)?;
                    copied += e - s;
                    copier.copy(&cow.file, s, &backing, s - d, e - s)?;
                    pos = e - d;
                    Ok(())
                })
                .and_then(|()| zero_range(&backing, pos, b - pos));
            if let Err(e) = written {
                // Other COW files must not be taken for valid over the changed data.
                let _ = move_mtime_on(cow_path, &info, &cow.header);
                return Err(CowError::PartlyCommitted {
                    backing: info.path.clone(),
                    cow: cow_path.to_path_buf(),
                    source: e,
                });
            }
        }
        progress(b, size);
    }
    if dirty > 0 {
        if opts.durable {
            backing
                .sync_all()
                .map_err(io_err(&info.path, "flush the backing file"))?;
        }
        move_mtime_on(cow_path, &info, &cow.header)?;
    }
    if opts.reset {
        let path = match &opts.backing {
            Some(p) => absolutize(p).map_err(io_err(p, "resolve the backing path"))?,
            None => cow.backing_path(),
        };
        let reset = || {
            let now = BackingInfo::inspect(cow_path, &path)?;
            let header = Header::new_v3(
                path.as_os_str().as_bytes().to_vec(),
                mtime_field(&now)?,
                size,
            );
            let empty = Bitmap::empty(cow.geometry.sectors);
            write_cow_copy(&cow, &empty, &header, cow_path, true, &mut |_, _| {})
        };
        reset().map_err(|e| CowError::ResetFailed {
            cow: cow_path.to_path_buf(),
            backing: path.clone(),
            source: Box::new(e),
        })?;
    }
    Ok(MergeReport {
        size,
        dirty_sectors: dirty,
        copied_bytes: copied,
        backing_changed: dirty > 0,
    })
}

/// Within the second the COW files recorded, the content changed but the whole-second mtime did
/// not: other COW files would still be accepted over changed data. Moves the mtime on so that
/// they are reliably refused.
fn move_mtime_on(cow_path: &Path, info: &BackingInfo, header: &Header) -> Result<()> {
    let after = BackingInfo::inspect(cow_path, &info.path)?;
    if after.mtime == header.mtime as i64 {
        sys::set_mtime(&info.path, after.mtime + 1)
            .map_err(io_err(&info.path, "update the mtime of"))?;
    }
    Ok(())
}

/// Refuses a commit that cannot fit, before anything is written. Overwriting data in place
/// takes no room, but dirty data landing in holes of a sparse backing file takes new blocks
/// there, and `reset` writes a new COW file (header and bitmap; its data area stays a hole)
/// before the old one goes. Counted generously: whole blocks per piece plus one, short holes
/// of the COW file counted as data. What it cannot see: file systems that copy on write
/// (btrfs) also take new blocks to overwrite, and others may fill the disk meanwhile; a commit
/// that runs out of room all the same stops with [`CowError::PartlyCommitted`].
fn check_room(
    cow: &CowFile,
    bitmap: &Bitmap,
    info: &BackingInfo,
    backing: &File,
    reset: bool,
) -> Result<()> {
    let mut need_backing = 0u64;
    // Where the free space or the holes cannot be found (no statvfs, an odd file system),
    // there is nothing to count against: the commit goes ahead unchecked.
    let room = sys::free_space(backing).ok();
    let mut counted = room.is_some();
    let block = room.map_or(4096, |(_, block)| block);
    if !info.is_block_device {
        let d = cow.geometry.data_offset;
        let mut cmap = DataMap::lazy(&cow.file, cow.len);
        let limit = sys::file_size_limit();
        for (dirty, a, b) in run_pieces(bitmap, cow.header.size, cow.geometry.sector_size, false) {
            if !dirty {
                continue;
            }
            if let Some(limit) = limit.filter(|&l| b > l) {
                return Err(CowError::refused(
                    &info.path,
                    format!(
                        "cannot write the backing file: {}: the commit writes up to byte {b}, \
                         past the file size limit of {limit} bytes (`ulimit -f`); nothing was \
                         written",
                        std::io::Error::from_raw_os_error(libc::EFBIG)
                    ),
                    "raise the limit (`ulimit -f unlimited`) and commit again",
                ));
            }
            if counted {
                counted = cmap
                    .data_in(d + a, d + b, |s, e| {
                        let holes = hole_bytes(backing, s - d, e - d)?;
                        if holes > 0 {
                            need_backing += holes.div_ceil(block) * block + block;
                        }
                        Ok(())
                    })
                    .is_ok();
            }
        }
    }
    let Some((free_backing, _)) = room.filter(|_| counted) else {
        return Ok(());
    };
    let short = |path: &Path, role, need: u64, free: u64, what| {
        if need > free {
            Err(CowError::NoRoom {
                path: path.to_path_buf(),
                role,
                what,
                need,
                free,
            })
        } else {
            Ok(())
        }
    };
    if !reset {
        return short(
            &info.path,
            Role::Backing,
            need_backing,
            free_backing,
            "the commit",
        );
    }
    let v3 = Header::new_v3(Vec::new(), 0, cow.header.size).geometry();
    let need_cow = v3.data_offset.div_ceil(block) * block + block;
    let cow_dev = cow
        .file
        .metadata()
        .map_err(io_err(&cow.path, "stat the COW file"))?
        .dev();
    if cow_dev == info.dev {
        // One file system for both: the reset's new COW file is written after the commit.
        return short(
            &info.path,
            Role::Backing,
            need_backing + need_cow,
            free_backing,
            "the commit with --reset",
        );
    }
    short(
        &info.path,
        Role::Backing,
        need_backing,
        free_backing,
        "the commit",
    )?;
    let Ok((free_cow, _)) = sys::free_space(&cow.file) else {
        return Ok(());
    };
    short(
        &cow.path,
        Role::Cow,
        need_cow,
        free_cow,
        "resetting it after the commit",
    )
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
