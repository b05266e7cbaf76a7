//! Merging: the disk the guest sees, written to a new image.

use super::{
    copy_err, finish, io_err, open_for_reading, run_pieces, MergeReport, Progress, NEW_NAME_HINT,
};
use crate::backing::BackingInfo;
use crate::error::{CowError, Result, Role};
use crate::file::CowFile;
use crate::io::{Copier, DataMap, NewFile};
use crate::sys::LockKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a merge is doing when its output's file system is full.
const OUT_OP: &str = "write the output file";

/// Options of [`merge`].
#[derive(Clone, Debug, Default)]
pub struct MergeOptions {
    /// Use this backing file instead of the header's path (`uml_moo -b`).
    pub backing: Option<PathBuf>,
    /// Replace `out` if it exists (the stock `uml_moo` does).
    pub replace: bool,
    /// Flush the output to disk before giving it its name (a power failure then never leaves
    /// an incomplete image under that name). Costs the time to write the image to disk.
    pub durable: bool,
}

/// Refuses an output that is the backing file or the COW file, or that exists (unless `replace`).
fn check_output(out: &Path, backing: &BackingInfo, cow: &CowFile, replace: bool) -> Result<()> {
    let Ok(md) = std::fs::metadata(out) else {
        return Ok(());
    };
    if backing.same_file(&md) {
        return Err(CowError::SameFile {
            output: out.to_path_buf(),
            role: Role::Backing,
            other: backing.path.clone(),
        });
    }
    let cow_md = cow
        .file
        .metadata()
        .map_err(io_err(&cow.path, "stat the COW file"))?;
    if md.dev() == cow_md.dev() && md.ino() == cow_md.ino() {
        return Err(CowError::SameFile {
            output: out.to_path_buf(),
            role: Role::Cow,
            other: cow.path.clone(),
        });
    }
    if md.is_dir() {
        return Err(CowError::refused(
            out,
            "is a directory",
            "name the output file itself, e.g. DIR/merged.img",
        ));
    }
    if !replace {
        return Err(CowError::Exists {
            path: out.to_path_buf(),
            hint: NEW_NAME_HINT.into(),
        });
    }
    Ok(())
}

/// Writes the disk the guest sees (backing file with the COW's sectors on top) to `out`. The
/// output is built unnamed and only appears under `out` when complete; holes stay holes.
pub fn merge(
    cow_path: &Path,
    out: &Path,
    opts: &MergeOptions,
    progress: Progress,
) -> Result<MergeReport> {
    let (cow, bitmap, info, backing) =
        open_for_reading(cow_path, opts.backing.as_deref(), LockKind::Read)?;
    check_output(out, &info, &cow, opts.replace)?;
    let size = cow.header.size;
    let d = cow.geometry.data_offset;
    let new = NewFile::create(out, 0o644).map_err(io_err(out, "create the output file"))?;
    new.file
        .set_len(size)
        .map_err(io_err(out, "size the output file"))?;
    let mut bmap =
        DataMap::eager(&backing, size).map_err(io_err(&info.path, "map the backing file"))?;
    let mut cmap = DataMap::lazy(&cow.file, cow.len);
    let mut copier = Copier::into_fresh();
    let mut copied = 0u64;
    for (dirty, a, b) in run_pieces(&bitmap, size, cow.geometry.sector_size, false) {
        if dirty {
            cmap.data_in(d + a, d + b, |s, e| {
                copied += e - s;
                copier.copy(&cow.file, s, &new.file, s - d, e - s)
            })
            .map_err(copy_err(
                cow_path,
                "copy data from the COW file",
                out,
                OUT_OP,
            ))?;
        } else {
            bmap.data_in(a, b, |s, e| {
                copied += e - s;
                copier.copy(&backing, s, &new.file, s, e - s)
            })
            .map_err(copy_err(
                &info.path,
                "copy data from the backing file",
                out,
                OUT_OP,
            ))?;
        }
        progress(b, size);
    }
    finish(new, out, opts.replace, opts.durable, NEW_NAME_HINT)?;
    Ok(MergeReport {
        size,
        dirty_sectors: bitmap.dirty_count(),
        copied_bytes: copied,
        backing_changed: false,
    })
}
