//! Errors of the COW library. Each names the file, says what is wrong, and [`CowError::hint`]
//! says what fixes it.

use super::header::HeaderError;
use super::sys::LockHolder;
use std::io;
use std::path::{Path, PathBuf};

/// Which file of an operation an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Cow,
    Backing,
    Output,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Cow => "COW file",
            Role::Backing => "backing file",
            Role::Output => "output file",
        }
    }
}

/// The broad kind of a failure, for distinct exit codes (`umlcow check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Reading or writing failed, or the operation was refused for another reason.
    Io,
    /// The file is not a COW file at all.
    NotCow,
    /// The header is damaged or not supported.
    Header,
    /// The bitmap or the layout is damaged.
    Layout,
    /// The backing file is missing or unusable.
    Backing,
    Size,
    Mtime,
    /// A running guest (or another tool) holds a lock.
    Locked,
}

#[derive(Debug, thiserror::Error)]
pub enum CowError {
    #[error("{}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: {source}", path.display())]
    Header {
        path: PathBuf,
        #[source]
        source: HeaderError,
    },
    #[error("{}: the COW bitmap is cut short: the file has {len} bytes, the bitmap ends at byte {need}", path.display())]
    TruncatedBitmap { path: PathBuf, len: u64, need: u64 },
    #[error("backing file {} of {}: {what}", backing.display(), cow.display())]
    Backing {
        cow: PathBuf,
        backing: PathBuf,
        what: String,
        hint: String,
    },
    #[error("size mismatch: the header of {} records {header} bytes, but backing file {} has {actual}", cow.display(), backing.display())]
    SizeMismatch {
        cow: PathBuf,
        backing: PathBuf,
        header: u64,
        actual: u64,
    },
    #[error("mtime mismatch: the header of {} records mtime {header}, but backing file {} has mtime {actual} (the backing file was modified or touched after the COW was made)", cow.display(), backing.display())]
    MtimeMismatch {
        cow: PathBuf,
        backing: PathBuf,
        header: u32,
        actual: i64,
    },
    #[error("{} {} is in use: {holder}", role.name(), path.display())]
    Locked {
        path: PathBuf,
        role: Role,
        holder: LockHolder,
    },
    #[error("refusing to write {}: it is the {} {}", output.display(), role.name(), other.display())]
    SameFile {
        output: PathBuf,
        role: Role,
        other: PathBuf,
    },
    #[error("{} already exists", path.display())]
    Exists { path: PathBuf, hint: String },
    #[error("{}: {what}", path.display())]
    Refused {
        path: PathBuf,
        what: String,
        hint: String,
    },
    /// Found before anything was written: the file system holding `path` lacks the room the
    /// operation needs.
    #[error("{}: cannot write the {}: No space left on device: {what} needs about {need} more bytes on its file system, which has {free} free; nothing was written", path.display(), role.name())]
    NoRoom {
        path: PathBuf,
        role: Role,
        what: &'static str,
        need: u64,
        free: u64,
    },
    /// The commit is done but `--reset` could not replace the COW file.
    #[error("{source}; the commit into {} is done, but {} was not reset and no longer matches it", backing.display(), cow.display())]
    ResetFailed {
        cow: PathBuf,
        backing: PathBuf,
        #[source]
        source: Box<CowError>,
    },
    /// Writing the COW file's changes into its backing file failed after some were written.
    #[error("{}: cannot write the backing file: {source}; it may now be partly written (the COW file {} is unchanged)", backing.display(), cow.display())]
    PartlyCommitted {
        backing: PathBuf,
        cow: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub type Result<T, E = CowError> = std::result::Result<T, E>;

impl CowError {
    pub fn io(path: &Path, op: &'static str, source: io::Error) -> CowError {
        CowError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }

    pub fn refused(path: &Path, what: impl Into<String>, hint: impl Into<String>) -> CowError {
        CowError::Refused {
            path: path.to_path_buf(),
            what: what.into(),
            hint: hint.into(),
        }
    }

    /// The two lines a program prints for this error: what is wrong, then the fix.
    pub fn report(&self, prog: &str) -> String {
        format!("{prog}: {self}\n{prog}: fix: {}", self.hint())
    }

    /// The broad kind of the failure.
    pub fn class(&self) -> Class {
        match self {
            CowError::Io { .. }
            | CowError::NoRoom { .. }
            | CowError::PartlyCommitted { .. }
            | CowError::ResetFailed { .. }
            | CowError::SameFile { .. }
            | CowError::Exists { .. }
            | CowError::Refused { .. } => Class::Io,
            CowError::Header {
                source: HeaderError::NotCow { .. },
                ..
            } => Class::NotCow,
            CowError::Header { .. } => Class::Header,
            CowError::TruncatedBitmap { .. } => Class::Layout,
            CowError::Backing { .. } => Class::Backing,
            CowError::SizeMismatch { .. } => Class::Size,
            CowError::MtimeMismatch { .. } => Class::Mtime,
            CowError::Locked { .. } => Class::Locked,
        }
    }

    /// What the user can do about it (a command where there is one).
    pub fn hint(&self) -> String {
        match self {
            CowError::Io { path, source, .. } if is_out_of_space(source) => out_of_space_hint(path),
            CowError::Io { .. } => "check the path and its permissions".into(),
            CowError::NoRoom { path, .. } => out_of_space_hint(path),
            CowError::ResetFailed {
                cow,
                backing,
                source,
            } => format!(
                "{}; then run `umlcow create --force {} {}` for an empty COW file over the \
                 updated backing file",
                source.hint(),
                cow.display(),
                backing.display()
            ),
            CowError::PartlyCommitted {
                backing,
                cow,
                source,
            } => format!(
                "{}; then run `umlcow rebase --adopt-mtime {}` and commit again: over the partly \
                 written backing file the COW file still gives the same disk, and the new \
                 commit completes it (other COW files over {} no longer match it)",
                if is_out_of_space(source) {
                    out_of_space_hint(backing)
                } else {
                    "check the backing file and the disk holding it".into()
                },
                cow.display(),
                backing.display()
            ),
            CowError::Header { path, source } => match source {
                HeaderError::NotCow { .. } | HeaderError::Short { .. } => format!(
                    "{} is not a COW file; if it is a raw disk image it needs no merging \
                     (put a COW over it with `umlcow create NEW.cow {}`)",
                    path.display(),
                    path.display()
                ),
                _ => format!(
                    "the header of {} is damaged or cut short; restore the file from a backup",
                    path.display()
                ),
            },
            CowError::TruncatedBitmap { path, .. } => format!(
                "{} was cut short (an interrupted copy?); restore it from a backup",
                path.display()
            ),
            CowError::SizeMismatch { cow, .. } => format!(
                "this is not the backing file {} was made over (or it was resized); pass the \
                 right one with `-b PATH` or `umlcow rebase {} PATH`",
                cow.display(),
                cow.display()
            ),
            CowError::MtimeMismatch { cow, backing, .. } => format!(
                "if the content of {} is unchanged, run `umlcow rebase --restore-mtime {}` (sets \
                 the backing file's mtime back, which also revives other COW files on it) or \
                 `umlcow rebase --adopt-mtime {}` (records the new mtime in this COW file)",
                backing.display(),
                cow.display(),
                cow.display()
            ),
            CowError::Locked { path, .. } => format!(
                "stop the UML guest using {} (or unmount that disk in it) and try again; \
                 `umlcow info` shows the lock",
                path.display()
            ),
            CowError::SameFile { .. } => "choose a new file name for the output".into(),
            CowError::Exists { hint, .. }
            | CowError::Refused { hint, .. }
            | CowError::Backing { hint, .. } => hint.clone(),
        }
    }
}

/// What to do when the file system holding `path` has no room.
pub fn out_of_space_hint(path: &Path) -> String {
    format!(
        "the file system holding {} is full (or a quota or file size limit is reached): free \
         space there or write somewhere else",
        path.display()
    )
}

/// Whether an I/O error means no room to write: a full file system, a quota, a size limit.
pub fn is_out_of_space(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG)
    )
}
