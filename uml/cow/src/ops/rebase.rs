//! Rebasing: pointing a COW file at a moved or copied backing file.

use super::{header_path, io_err, mtime_field, write_cow_copy};
use crate::backing::{absolutize, BackingInfo};
use crate::error::{CowError, Result};
use crate::file::CowFile;
use crate::header::{Header, Version};
use crate::sys::{self, LockKind};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What to do when the new backing file's mtime differs from the header's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MtimePolicy {
    /// Refuse.
    #[default]
    Require,
    /// Record the backing file's current mtime (the user vouches the content is the same).
    Adopt,
    /// Set the backing file's mtime back to the header's (revives other COW files on it too).
    Restore,
}

/// What [`rebase`] changed.
#[derive(Clone, Debug)]
pub struct RebaseReport {
    pub old: Header,
    pub new: Header,
    /// The backing file's mtime was set back.
    pub restored_mtime: bool,
}

impl RebaseReport {
    pub fn changed(&self) -> bool {
        self.old != self.new
    }
}

/// Points a v3 COW file at `new_backing` (default: the path it already records), which must
/// have the recorded size. Rewrites the file atomically; refused while a guest uses it.
pub fn rebase(
    cow_path: &Path,
    new_backing: Option<&Path>,
    policy: MtimePolicy,
) -> Result<RebaseReport> {
    let cow = CowFile::open(cow_path, true)?;
    if cow.header.version != Version::V3 {
        return Err(CowError::refused(
            cow_path,
            format!(
                "is a {} COW file; only v3 files can be rebased safely (the kernel's own \
                 rebase corrupts older ones)",
                cow.header.version
            ),
            format!(
                "convert it first with `umlcow convert {}`",
                cow_path.display()
            ),
        ));
    }
    cow.lock(LockKind::Write)?;
    let target = match new_backing {
        Some(p) => absolutize(p).map_err(|e| CowError::Backing {
            cow: cow_path.to_path_buf(),
            backing: p.to_path_buf(),
            what: format!("cannot resolve its directory: {e}"),
            hint: "check the new backing file's name".into(),
        })?,
        None => cow.backing_path(),
    };
    let bytes = header_path(&target, "reach the backing file through a shorter path")?;
    let info = BackingInfo::inspect(cow_path, &target)?;
    let mut header = cow.header.clone();
    header.backing_file = bytes;
    let mut restored = false;
    // The backing file's mtime before --restore-mtime changed it.
    let mut before = None;
    match info.validate(cow_path, &cow.header) {
        Ok(()) => {}
        Err(e @ CowError::MtimeMismatch { .. }) => match policy {
            MtimePolicy::Require => return Err(e),
            MtimePolicy::Adopt => header.mtime = mtime_field(&info)?,
            MtimePolicy::Restore => {
                let md = std::fs::metadata(&target).map_err(io_err(&target, "stat"))?;
                before = Some((md.mtime(), md.mtime_nsec()));
                sys::set_mtime(&target, cow.header.mtime as i64)
                    .map_err(io_err(&target, "set the mtime of"))?;
                if let Err(e) = BackingInfo::inspect(cow_path, &target)
                    .and_then(|now| now.validate(cow_path, &cow.header))
                {
                    let _ = sys::set_mtime_exact(&target, md.mtime(), md.mtime_nsec());
                    return Err(e);
                }
                restored = true;
            }
        },
        Err(e) => return Err(e),
    }
    if header != cow.header {
        let rewritten = cow.read_bitmap().and_then(|bitmap| {
            write_cow_copy(&cow, &bitmap, &header, cow_path, true, &mut |_, _| {})
        });
        if let Err(e) = rewritten {
            // Nothing done, nothing changed: the backing file gets its mtime back.
            if let Some((secs, nsec)) = before {
                let _ = sys::set_mtime_exact(&target, secs, nsec);
            }
            return Err(e);
        }
    }
    Ok(RebaseReport {
        old: cow.header.clone(),
        new: header,
        restored_mtime: restored,
    })
}
