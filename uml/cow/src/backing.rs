//! The backing file: making its path absolute the way UML does, its live size and mtime, and the
//! kernel's validity rule (same size in bytes, same mtime in whole seconds).

use super::error::{CowError, Result};
use super::header::Header;
use super::sys;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What the backing file looks like now.
#[derive(Clone, Debug)]
pub struct BackingInfo {
    pub path: PathBuf,
    /// Size in bytes (`st_size`, or the device size for a block device).
    pub size: u64,
    /// `st_mtime` in whole seconds.
    pub mtime: i64,
    pub dev: u64,
    pub ino: u64,
    pub is_block_device: bool,
}

impl BackingInfo {
    /// Stats `path` (following symlinks). A directory, or anything else that is neither a regular
    /// file nor a block device, is refused. `cow` only names the COW file in errors.
    pub fn inspect(cow: &Path, path: &Path) -> Result<BackingInfo> {
        let backing_err = |what: String| CowError::Backing {
            cow: cow.to_path_buf(),
            backing: path.to_path_buf(),
            what,
            hint: "a backing file must be a disk image: a regular file or a block device".into(),
        };
        let md = std::fs::metadata(path).map_err(|e| CowError::Backing {
            cow: cow.to_path_buf(),
            backing: path.to_path_buf(),
            what: format!("cannot stat it: {e}"),
            hint: format!(
                "if the backing file moved, name it with `-b PATH` or record its new place with \
                 `umlcow rebase {} PATH`",
                cow.display()
            ),
        })?;
        let ft = md.file_type();
        let (size, is_block_device) = if ft.is_file() {
            (md.len(), false)
        } else if ft.is_block_device() {
            let f = File::open(path).map_err(|e| backing_err(format!("cannot open it: {e}")))?;
            let size = sys::block_device_size(&f)
                .map_err(|e| backing_err(format!("cannot read the device size: {e}")))?;
            (size, true)
        } else if ft.is_dir() {
            return Err(backing_err("is a directory, not a disk image".to_string()));
        } else {
            return Err(backing_err(
                "is neither a regular file nor a block device".to_string(),
            ));
        };
        Ok(BackingInfo {
            path: path.to_path_buf(),
            size,
            mtime: md.mtime(),
            dev: md.dev(),
            ino: md.ino(),
            is_block_device,
        })
    }

    /// The kernel's rule: the size and the whole-second mtime must both equal the header's. An
    /// mtime that does not fit 32 bits never matches.
    pub fn validate(&self, cow: &Path, header: &Header) -> Result<()> {
        if self.size != header.size {
            return Err(CowError::SizeMismatch {
                cow: cow.to_path_buf(),
                backing: self.path.clone(),
                header: header.size,
                actual: self.size,
            });
        }
        if self.mtime != header.mtime as i64 {
            return Err(CowError::MtimeMismatch {
                cow: cow.to_path_buf(),
                backing: self.path.clone(),
                header: header.mtime,
                actual: self.mtime,
            });
        }
        Ok(())
    }

    /// The mtime as a header field, if it fits (0 ..= 2^32 - 1).
    pub fn header_mtime(&self) -> Option<u32> {
        u32::try_from(self.mtime).ok()
    }

    /// True if `md` is this same file.
    pub fn same_file(&self, md: &std::fs::Metadata) -> bool {
        md.dev() == self.dev && md.ino() == self.ino
    }
}

/// Makes a backing path absolute as UML records it: symlinks and `..` in the directory part are
/// resolved to the physical directory; the last component is kept as given (a symlink there
/// stays a symlink). Unlike the stock tools, there is no limit on the length of the cwd.
pub fn absolutize(path: &Path) -> io::Result<PathBuf> {
    let bytes = path.as_os_str().as_bytes();
    match bytes.iter().rposition(|&b| b == b'/') {
        None => Ok(std::env::current_dir()?.join(path)),
        Some(slash) => {
            let dir = if slash == 0 {
                Path::new("/")
            } else {
                Path::new(std::ffi::OsStr::from_bytes(&bytes[..slash]))
            };
            let last = std::ffi::OsStr::from_bytes(&bytes[slash + 1..]);
            let dir = dir.canonicalize()?;
            if last.is_empty() {
                Ok(dir)
            } else {
                Ok(dir.join(last))
            }
        }
    }
}

/// The header's backing path as a filesystem path.
pub fn header_path(header: &Header) -> PathBuf {
    PathBuf::from(std::ffi::OsStr::from_bytes(&header.backing_file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolutize_resolves_the_directory_but_keeps_the_last_component() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().canonicalize().unwrap();
        std::fs::create_dir(real.join("dir")).unwrap();
        std::fs::write(real.join("dir/base.img"), b"x").unwrap();
        std::os::unix::fs::symlink("dir", real.join("link")).unwrap();
        std::os::unix::fs::symlink("dir/base.img", real.join("sym.img")).unwrap();
        assert_eq!(
            absolutize(&real.join("link/base.img")).unwrap(),
            real.join("dir/base.img")
        );
        assert_eq!(
            absolutize(&real.join("link/../sym.img")).unwrap(),
            real.join("sym.img")
        );
        assert_eq!(absolutize(Path::new("/x")).unwrap(), Path::new("/x"));
    }
}
