//! A COW file looked at without changing anything: its header and geometry, its dirty sectors
//! (and how much of them are holes), its backing file as it is now, whether the kernel would
//! accept it, who holds locks on it, and what in it deserves a warning. `umlcow info` and
//! `umlcow check` report this.

use crate::backing::BackingInfo;
use crate::bitmap::Bitmap;
use crate::error::{CowError, Result, Role};
use crate::file::CowFile;
use crate::header::Version;
use crate::io::DataMap;
use crate::ops::TINY_DISK;
use crate::sys::{self, LockHolder, LockKind};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What [`inspect`] found. Only an unreadable header makes the inspection fail; every later
/// problem is kept here, so that a damaged file can still be described.
pub struct Inspection {
    pub cow: CowFile,
    pub bitmap: Result<Bitmap>,
    /// Bytes the file occupies on disk.
    pub allocated: u64,
    /// Bytes of the disk in dirty sectors (the partial last sector counted up to the disk size).
    pub dirty_bytes: u64,
    pub dirty_runs: u64,
    /// Bytes of dirty sectors that are holes in the COW file (they read as zeros).
    pub dirty_hole_bytes: u64,
    pub backing: Result<BackingInfo>,
    /// The kernel's size and mtime rule (`Ok` when the backing file could not be inspected).
    pub validity: Result<()>,
    /// Who holds a lock on the COW file that conflicts with a write lock (a running guest).
    pub cow_lock: Option<LockHolder>,
    /// The same for the backing file.
    pub backing_lock: Option<LockHolder>,
    pub warnings: Vec<String>,
}

/// Opens and looks at `cow_path`, with `backing` instead of the recorded backing file if given.
pub fn inspect(cow_path: &Path, backing: Option<&Path>) -> Result<Inspection> {
    let cow = CowFile::open(cow_path, false)?;
    let allocated = cow.file.metadata().map(|m| m.blocks() * 512).unwrap_or(0);
    let bitmap = cow.read_bitmap();
    let (dirty_bytes, dirty_runs, dirty_hole_bytes) = match &bitmap {
        Ok(b) => dirty_extent(&cow, b),
        Err(_) => (0, 0, 0),
    };
    let warnings = warnings(cow_path, &cow, bitmap.as_ref().ok());
    let info = cow.inspect_backing(backing);
    let validity = match &info {
        Ok(i) => i.validate(cow_path, &cow.header),
        Err(_) => Ok(()),
    };
    let cow_lock = cow.lock_holder(LockKind::Write).ok().flatten();
    let backing_lock = info.as_ref().ok().and_then(|i| {
        std::fs::File::open(&i.path)
            .ok()
            .and_then(|f| sys::probe_lock(&f, LockKind::Write).ok().flatten())
    });
    Ok(Inspection {
        cow,
        bitmap,
        allocated,
        dirty_bytes,
        dirty_runs,
        dirty_hole_bytes,
        backing: info,
        validity,
        cow_lock,
        backing_lock,
        warnings,
    })
}

/// Dirty bytes, dirty runs, and dirty bytes that are holes in the COW file.
fn dirty_extent(cow: &CowFile, bitmap: &Bitmap) -> (u64, u64, u64) {
    let g = cow.geometry;
    let (mut bytes, mut runs, mut hole_bytes) = (0, 0, 0);
    let mut map = DataMap::eager(&cow.file, cow.len).ok();
    for r in bitmap.dirty_runs() {
        let a = r.start * g.sector_size;
        let e = (r.end() * g.sector_size).min(g.size);
        runs += 1;
        bytes += e - a;
        if let Some(m) = &mut map {
            let mut data = 0;
            let _ = m.data_in(g.data_offset + a, g.data_offset + e, |s, t| {
                data += t - s;
                Ok(())
            });
            hole_bytes += (e - a) - data;
        }
    }
    (bytes, runs, hole_bytes)
}

/// What is legal but unusual or risky: stray bitmap bits, old layouts, odd header values, a file
/// shorter than its geometry, a disk too small for UML.
fn warnings(cow_path: &Path, cow: &CowFile, bitmap: Option<&Bitmap>) -> Vec<String> {
    let h = &cow.header;
    let g = cow.geometry;
    let mut warnings = Vec::new();
    if let Some(b) = bitmap.filter(|b| b.stray_bits() > 0) {
        warnings.push(format!(
            "{} bit(s) set past the last sector (ignored)",
            b.stray_bits()
        ));
    }
    match h.version {
        Version::V1 | Version::V2 | Version::V3Broken => warnings.push(format!(
            "{} layout: never let the kernel rebase it (it would corrupt it); convert it with \
             `umlcow convert {}`",
            h.version,
            cow_path.display()
        )),
        Version::V3 => {}
    }
    if matches!(h.version, Version::V1 | Version::V2) && !g.sectors.is_multiple_of(8) {
        warnings.push(format!(
            "the {} bitmap is one byte short (historical rounding); the last {} sector(s) have \
             no bit of their own",
            h.version,
            g.sectors % 8
        ));
    }
    if !h.alignment.is_power_of_two() || h.alignment < 512 {
        warnings.push(format!(
            "alignment {} is not a power of two of at least 512",
            h.alignment
        ));
    }
    if h.cow_format != 0 {
        warnings.push(format!(
            "cow_format is {} (only 0, the bitmap format, is defined; the kernel ignores it)",
            h.cow_format
        ));
    }
    if !h.backing_file.starts_with(b"/") {
        warnings.push("the backing path is not absolute".into());
    }
    if cow.len < g.full_len() {
        warnings.push(format!(
            "the file is {} bytes, shorter than the {} its geometry implies (reads as zeros)",
            cow.len,
            g.full_len()
        ));
    }
    if h.size <= TINY_DISK {
        warnings.push(format!(
            "a disk of {} bytes (32 KiB or less) hangs UML on its first write",
            h.size
        ));
    }
    warnings
}

impl Inspection {
    /// The first problem, in the order the kernel would hit them.
    pub fn problem(&self) -> Option<&CowError> {
        if let Err(e) = &self.bitmap {
            return Some(e);
        }
        if let Err(e) = &self.backing {
            return Some(e);
        }
        self.validity.as_ref().err()
    }

    /// The COW file's lock holder as an error: the file is in use by a running guest (or
    /// another tool).
    pub fn cow_in_use(&self) -> Option<CowError> {
        self.cow_lock.map(|holder| CowError::Locked {
            path: self.cow.path.clone(),
            role: Role::Cow,
            holder,
        })
    }
}
