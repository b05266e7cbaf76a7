//! The lab's disks at rest: `save NAME` archives `.vdelab/disks` (the hosts' COW files and extra
//! disks) into `.vdelab/saves/NAME.tar`, `restore NAME` puts them back, `clean` removes them.
//!
//! Archives are GNU tar files written with `--sparse`: a COW file is mostly holes, and they stay
//! holes in the archive and again when extracted, as `tar -S` and `cp --sparse=always` keep
//! them. Nothing is replaced half-way: an archive is written under a temporary name and renamed;
//! a restore extracts next to the disks and swaps the directories.

use crate::down;
use crate::error::{LabError, Result};
use crate::layout::Layout;
use crate::lock::{self, Lock};
use crate::state::State;
use crate::tools;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `save` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub archive: PathBuf,
    pub files: Vec<String>,
    /// Sum of the files' sizes.
    pub apparent: u64,
    /// Bytes the archive takes on disk.
    pub stored: u64,
}

/// The lock, once the lab is known to be stopped.
fn stopped(layout: &Layout, doing: &str) -> Result<Lock> {
    let l = lock::lab(layout)?;
    if let Some(state) = State::load(&layout.state_file())? {
        if down::anything_runs(layout, &state) {
            return Err(LabError::failed(
                format!("cannot {doing} while the lab runs: its disks are in use"),
                "stop it first with `vdelab down`",
            ));
        }
    }
    Ok(l)
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(LabError::failed(
            format!("`{name}` is not a name for a save"),
            "use letters, digits, `_`, `-` and `.` (not first), e.g. before-routing",
        ))
    }
}

/// The regular files directly in `dir`, sorted.
fn files_in(dir: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LabError::io(dir, "list", e)),
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    v.sort();
    Ok(v)
}

/// The saves of the lab, sorted.
pub fn list(layout: &Layout) -> Result<Vec<String>> {
    Ok(files_in(&layout.saves())?
        .into_iter()
        .filter_map(|f| f.strip_suffix(".tar").map(str::to_string))
        .filter(|n| !n.starts_with('.'))
        .collect())
}

/// `vdelab save NAME`.
pub fn save(layout: &Layout, name: &str, force: bool) -> Result<Saved> {
    check_name(name)?;
    let _lock = stopped(layout, "save")?;
    let disks = layout.disks();
    let files = files_in(&disks)?;
    if files.is_empty() {
        return Err(LabError::failed(
            "the lab has no disks yet: there is nothing to save",
            "start the lab once (`vdelab up`), change what you like, stop it, then save",
        ));
    }
    let saves = layout.saves();
    std::fs::create_dir_all(&saves).map_err(|e| LabError::io(&saves, "create", e))?;
    let archive = saves.join(format!("{name}.tar"));
    if archive.exists() && !force {
        return Err(LabError::failed(
            format!("there is already a save {name}"),
            "pick another name, or replace it with --force",
        ));
    }
    let tmp = saves.join(format!(".{name}.tar.tmp"));
    let r = tools::run(
        Command::new(tools::system("tar", "tar")?)
            .args(["--sparse", "--format=gnu", "-cf"])
            .arg(&tmp)
            .arg("-C")
            .arg(&disks)
            .arg("--")
            .args(&files),
        "archive the disks",
    );
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &archive).map_err(|e| LabError::io(&archive, "write", e))?;
    let mut apparent = 0;
    for f in &files {
        apparent += std::fs::metadata(disks.join(f))
            .map(|m| m.len())
            .unwrap_or(0);
    }
    let stored = std::fs::metadata(&archive)
        .map(|m| m.blocks() * 512)
        .unwrap_or(0);
    Ok(Saved {
        archive,
        files,
        apparent,
        stored,
    })
}

/// `vdelab restore NAME`: the files restored.
pub fn restore(layout: &Layout, name: &str) -> Result<Vec<String>> {
    check_name(name)?;
    let _lock = stopped(layout, "restore")?;
    let archive = layout.saves().join(format!("{name}.tar"));
    if !archive.is_file() {
        let have = list(layout)?;
        return Err(LabError::failed(
            format!("there is no save {name}"),
            if have.is_empty() {
                "make one with `vdelab save NAME`".to_string()
            } else {
                format!("the saves are: {}", have.join(", "))
            },
        ));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(&layout.state)
        .map_err(|e| LabError::io(&layout.state, "make a temporary directory in", e))?;
    tools::run(
        Command::new(tools::system("tar", "tar")?)
            .args(["--no-same-owner", "-xf"])
            .arg(&archive)
            .arg("-C")
            .arg(tmp.path()),
        "extract the save",
    )?;
    // Only plain files directly in the directory, as `save` writes them.
    let files = files_in(tmp.path())?;
    let all = std::fs::read_dir(tmp.path())
        .map_err(|e| LabError::io(tmp.path(), "list", e))?
        .count();
    if all != files.len() || files.is_empty() {
        return Err(LabError::failed(
            format!("{} is not a save of vdelab", archive.display()),
            "restore a save made with `vdelab save`",
        ));
    }
    let disks = layout.disks();
    let old = layout.state.join(format!(".disks-{}", std::process::id()));
    if disks.exists() {
        std::fs::rename(&disks, &old).map_err(|e| LabError::io(&disks, "move aside", e))?;
    }
    let fresh = tmp.keep();
    if let Err(e) = std::fs::rename(&fresh, &disks) {
        let _ = std::fs::rename(&old, &disks);
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(LabError::io(&disks, "replace", e));
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(files)
}

/// `vdelab clean`: removes the disks, logs, boot marks and runtime directory; keeps the saves.
/// The paths removed.
pub fn clean(layout: &Layout) -> Result<Vec<PathBuf>> {
    let _lock = stopped(layout, "clean")?;
    let mut removed = Vec::new();
    for d in [
        layout.disks(),
        layout.logs(),
        layout.ready(),
        layout.run.clone(),
    ] {
        if d.exists() {
            std::fs::remove_dir_all(&d).map_err(|e| LabError::io(&d, "remove", e))?;
            removed.push(d);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    fn lab() -> (tempfile::TempDir, Layout) {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("lab.conf"), "h1[0]=A\n").unwrap();
        let l = Layout::new(t.path()).unwrap();
        (t, l)
    }

    /// A 64 MiB file with data at three places, holes elsewhere.
    fn sparse_file(p: &Path) -> Vec<u8> {
        let mut f = std::fs::File::create(p).unwrap();
        for (at, what) in [
            (0u64, b"head".as_slice()),
            (10 << 20, b"middle"),
            ((64 << 20) - 3, b"end"),
        ] {
            f.seek(SeekFrom::Start(at)).unwrap();
            f.write_all(what).unwrap();
        }
        drop(f);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn save_and_restore_keep_bytes_and_holes() {
        if tools::system("tar", "tar").is_err() {
            return;
        }
        let (_t, l) = lab();
        assert!(save(&l, "b1", false).is_err(), "nothing to save yet");
        std::fs::create_dir_all(l.disks()).unwrap();
        let want = sparse_file(&l.disks().join("h1.cow"));
        std::fs::write(l.disks().join("h1-data.ext4"), b"small").unwrap();
        let s = save(&l, "b1", false).unwrap();
        assert_eq!(s.files, ["h1-data.ext4", "h1.cow"]);
        assert!(s.stored < 1 << 20, "the archive keeps the holes: {s:?}");
        assert!(save(&l, "b1", false).is_err(), "no silent overwrite");
        assert!(save(&l, "../x", false).is_err());
        // Change, then restore.
        std::fs::write(l.disks().join("h1.cow"), b"changed").unwrap();
        std::fs::write(l.disks().join("new.cow"), b"made later").unwrap();
        assert_eq!(restore(&l, "b1").unwrap(), ["h1-data.ext4", "h1.cow"]);
        let cow = l.disks().join("h1.cow");
        assert_eq!(std::fs::read(&cow).unwrap(), want);
        assert!(std::fs::metadata(&cow).unwrap().blocks() * 512 < 1 << 20);
        assert!(!l.disks().join("new.cow").exists());
        assert_eq!(list(&l).unwrap(), ["b1"]);
        assert!(restore(&l, "b2").unwrap_err().fix().unwrap().contains("b1"));
        // Nothing temporary is left.
        let left: Vec<String> = std::fs::read_dir(&l.state)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // Clean removes the disks, keeps the saves.
        clean(&l).unwrap();
        assert!(!l.disks().exists());
        assert_eq!(list(&l).unwrap(), ["b1"]);
    }
}
