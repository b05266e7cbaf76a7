//! Converting old layouts to canonical v3.

use super::{io_err, write_cow_copy, Progress};
use crate::error::{CowError, Result, Role};
use crate::file::CowFile;
use crate::header::Header;
use crate::sys::LockKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What [`convert`] did.
#[derive(Clone, Debug)]
pub struct ConvertReport {
    pub old: Header,
    /// False if the file already was canonical v3 and was left alone.
    pub converted: bool,
}

/// Rewrites a v1, v2, broken-v3 (or non-canonical v3) COW file as canonical v3: bitmap and data
/// moved to their v3 places, same backing path, mtime and size. In place (atomically) unless
/// `out` is given.
pub fn convert(
    cow_path: &Path,
    out: Option<&Path>,
    replace_out: bool,
    progress: Progress,
) -> Result<ConvertReport> {
    let cow = CowFile::open(cow_path, out.is_none())?;
    cow.lock(if out.is_none() {
        LockKind::Write
    } else {
        LockKind::Read
    })?;
    if cow.header.is_canonical() && out.is_none() {
        return Ok(ConvertReport {
            old: cow.header.clone(),
            converted: false,
        });
    }
    let bitmap = cow.read_bitmap()?;
    let header = Header::new_v3(
        cow.header.backing_file.clone(),
        cow.header.mtime,
        cow.header.size,
    );
    let dest = out.unwrap_or(cow_path);
    if let (Some(out), Ok(md)) = (out, std::fs::metadata(dest)) {
        let cmd = cow.file.metadata().map_err(io_err(cow_path, "stat"))?;
        if md.dev() == cmd.dev() && md.ino() == cmd.ino() {
            return Err(CowError::SameFile {
                output: out.to_path_buf(),
                role: Role::Cow,
                other: cow_path.to_path_buf(),
            });
        }
    }
    write_cow_copy(
        &cow,
        &bitmap,
        &header,
        dest,
        out.is_none() || replace_out,
        progress,
    )?;
    Ok(ConvertReport {
        old: cow.header.clone(),
        converted: true,
    })
}
