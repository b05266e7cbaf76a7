//! Creating an empty COW file over a backing file.

use super::{finish, header_path, io_err, mtime_field, TINY_DISK};
use crate::backing::{absolutize, BackingInfo};
use crate::error::{CowError, Result, Role};
use crate::header::Header;
use crate::io::NewFile;
use crate::sys::{self, LockKind};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

const REPLACE_COW_HINT: &str = "pass -f (uml_mkcow) or --force (umlcow create) to replace it \
     with an empty COW file; its recorded changes are then lost";

/// Options of [`create`].
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// Replace an existing COW file (with a fresh one: none of its old data survives).
    pub replace: bool,
}

/// Creates an empty canonical v3 COW file over `backing`, atomically. Refuses a missing or
/// directory backing, a tiny disk, a backing file a running guest writes to, and (without
/// `replace`) an existing COW file.
pub fn create(cow_path: &Path, backing: &Path, opts: &CreateOptions) -> Result<Header> {
    let abs = absolutize(backing).map_err(|e| CowError::Backing {
        cow: cow_path.to_path_buf(),
        backing: backing.to_path_buf(),
        what: format!("cannot resolve its directory: {e}"),
        hint: "check the backing file's name".into(),
    })?;
    let info = BackingInfo::inspect(cow_path, &abs).map_err(|e| match e {
        CowError::Backing {
            cow, backing, what, ..
        } => CowError::Backing {
            cow,
            backing,
            what,
            hint: "name an existing disk image (a regular file or a block device) as the \
                   backing file"
                .into(),
        },
        e => e,
    })?;
    let path = header_path(
        &abs,
        "move the backing file to a shorter path, or reach it through a short symlink",
    )?;
    let mtime = mtime_field(&info)?;
    if info.size <= TINY_DISK {
        return Err(CowError::refused(
            &abs,
            format!(
                "is only {} bytes; UML hangs on the first write to a COW disk of 32 KiB or less",
                info.size
            ),
            "use a backing image larger than 32 KiB",
        ));
    }
    if let Ok(md) = std::fs::metadata(cow_path) {
        if info.same_file(&md) {
            return Err(CowError::SameFile {
                output: cow_path.to_path_buf(),
                role: Role::Backing,
                other: abs,
            });
        }
        if !opts.replace {
            return Err(CowError::Exists {
                path: cow_path.to_path_buf(),
                hint: REPLACE_COW_HINT.into(),
            });
        }
        if let Ok(old) = File::open(cow_path) {
            if let Ok(Some(holder)) = sys::probe_lock(&old, LockKind::Write) {
                return Err(CowError::Locked {
                    path: cow_path.to_path_buf(),
                    role: Role::Cow,
                    holder,
                });
            }
        }
    }
    if let Ok(f) = File::open(&abs) {
        if let Ok(Some(holder)) = sys::probe_lock(&f, LockKind::Read) {
            return Err(CowError::refused(
                &abs,
                format!("is open for writing ({holder}), so its content and mtime will change"),
                "stop the guest that uses it directly, then create the COW file",
            ));
        }
    }
    let header = Header::new_v3(path, mtime, info.size);
    let new = NewFile::create(cow_path, 0o644).map_err(io_err(cow_path, "create the COW file"))?;
    new.file
        .write_all_at(&header.encode_v3(), 0)
        .map_err(io_err(cow_path, "write the COW header"))?;
    new.file
        .set_len(header.geometry().full_len())
        .map_err(io_err(cow_path, "size the COW file"))?;
    finish(new, cow_path, opts.replace, true, REPLACE_COW_HINT)?;
    Ok(header)
}
