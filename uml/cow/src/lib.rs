//! User Mode Linux copy-on-write (COW) disk files.
//!
//! A COW file holds a header naming a read-only *backing file*, a bitmap with one bit per
//! 512-byte sector, and a sparse data area laid out like the disk itself. A set bit means the
//! sector's current content is in the COW file; a clear bit means it is still the backing
//! file's. The kernel accepts a COW file only while its backing file has the recorded size and
//! whole-second mtime.
//!
//! * [`header`]: the four layouts we read (v1, v2, v3, the broken 64-bit v3) and the canonical v3
//!   we write, and the geometry that follows from a header.
//! * [`bitmap`]: the dirty-sector bitmap and its runs.
//! * [`file`](mod@file): an open COW file.
//! * [`backing`]: the backing file's path, live size and mtime, and the validity rule.
//! * [`ops`]: create, merge, commit (merge into the backing), rebase, convert, siblings.
//! * [`inspect`](mod@inspect): everything `umlcow info` and `umlcow check` report about a COW file.
//! * [`io`]: hole-aware copying and files that appear under their name only when complete.
//! * [`sys`]: OFD locks (they conflict with the POSIX locks UML kernels take), `SEEK_DATA`,
//!   `copy_file_range` and friends.

// One `unsafe` remains (an all-zero lock record, in `sys`), allowed where it is.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod backing;
pub mod bitmap;
pub mod error;
pub mod file;
pub mod header;
pub mod inspect;
pub mod io;
pub mod ops;
pub mod sys;

pub use backing::BackingInfo;
pub use bitmap::{Bitmap, Run};
pub use error::{Class, CowError, Role};
pub use file::CowFile;
pub use header::{Geometry, Header, HeaderError, Version};
pub use inspect::{inspect, Inspection};
pub use ops::{
    commit, convert, create, find_siblings, merge, preview_commit, rebase, CommitOptions,
    CommitPreview, CreateOptions, MergeOptions, MergeReport, MtimePolicy,
};
pub use sys::{LockHolder, LockKind};
