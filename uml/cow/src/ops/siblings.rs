//! Other COW files layered on the same backing file.

use crate::backing::{header_path, BackingInfo};
use crate::file::read_full_at;
use crate::header::{Header, MAX_HEADER_LEN};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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
            let recorded = header_path(&header);
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
