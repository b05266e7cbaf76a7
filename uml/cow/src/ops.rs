//! The operations: create, merge (non-destructive), commit (merge into the backing file), rebase,
//! convert, and finding the other COW files that share a backing file.

use super::backing::{absolutize, BackingInfo};
use super::bitmap::Bitmap;
use super::error::{CowError, Result, Role};
use super::file::{lock_file, read_full_at, CowFile};
use super::header::{Header, Version, MAX_HEADER_LEN};
use super::io::{zero_range, Copier, DataMap, NewFile, CHUNK};
use super::sys::{self, LockKind};
use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

const NEW_NAME_HINT: &str = "choose another name, or pass --force to replace it";
const REPLACE_COW_HINT: &str = "pass -f (uml_mkcow) or --force (umlcow create) to replace it \
     with an empty COW file; its recorded changes are then lost";

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
            .map_err(io_err(cow_path, "copy data from the COW file"))?;
        } else {
            bmap.data_in(a, b, |s, e| {
                copied += e - s;
                copier.copy(&backing, s, &new.file, s, e - s)
            })
            .map_err(io_err(&info.path, "copy data from the backing file"))?;
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
            .map_err(io_err(&src.path, "copy the COW data"))?;
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
    match info.validate(cow_path, &cow.header) {
        Ok(()) => {}
        Err(e @ CowError::MtimeMismatch { .. }) => match policy {
            MtimePolicy::Require => return Err(e),
            MtimePolicy::Adopt => header.mtime = mtime_field(&info)?,
            MtimePolicy::Restore => {
                sys::set_mtime(&target, cow.header.mtime as i64)
                    .map_err(io_err(&target, "set the mtime of"))?;
                BackingInfo::inspect(cow_path, &target)?.validate(cow_path, &cow.header)?;
                restored = true;
            }
        },
        Err(e) => return Err(e),
    }
    if header != cow.header {
        let bitmap = cow.read_bitmap()?;
        write_cow_copy(&cow, &bitmap, &header, cow_path, true, &mut |_, _| {})?;
    }
    Ok(RebaseReport {
        old: cow.header.clone(),
        new: header,
        restored_mtime: restored,
    })
}

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

/// Another COW file layered on the same backing file.
#[derive(Clone, Debug)]
pub struct Sibling {
    pub path: PathBuf,
    pub header: Header,
}

/// Looks in `dirs` (not recursively) for COW files other than `exclude` whose recorded backing
/// file is `backing` (same path, or the same file through another path).
pub fn find_siblings(backing: &BackingInfo, exclude: &Path, dirs: &[PathBuf]) -> Vec<Sibling> {
    let excluded = std::fs::metadata(exclude).ok();
    let mut seen_dirs = Vec::new();
    let mut out: Vec<Sibling> = Vec::new();
    for dir in dirs {
        let Ok(canon) = dir.canonicalize() else {
            continue;
        };
        if seen_dirs.contains(&canon) {
            continue;
        }
        seen_dirs.push(canon.clone());
        let Ok(entries) = std::fs::read_dir(&canon) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(md) = std::fs::metadata(&path) else {
                continue;
            };
            let same_as_excluded = excluded
                .as_ref()
                .is_some_and(|x| x.dev() == md.dev() && x.ino() == md.ino());
            if !md.is_file() || md.len() < 280 || same_as_excluded || backing.same_file(&md) {
                continue;
            }
            let Ok(f) = File::open(&path) else { continue };
            let mut buf = vec![0u8; MAX_HEADER_LEN];
            let Ok(n) = read_full_at(&f, &mut buf, 0) else {
                continue;
            };
            let Ok(header) = Header::parse(&buf[..n]) else {
                continue;
            };
            let recorded = super::backing::header_path(&header);
            let same = recorded == backing.path
                || std::fs::metadata(&recorded).is_ok_and(|m| backing.same_file(&m));
            if same && !out.iter().any(|s| s.path == path) {
                out.push(Sibling { path, header });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}
