//! Guests in a `uml_dir`: where that directory is, and what it holds. Every kernel (started by
//! umlrun or not) keeps `<uml_dir>/<umid>/pid` and `<uml_dir>/<umid>/mconsole` while it runs.

use super::process::{is_zombie, pid_alive};
use super::{LaunchError, Result};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// One entry of a `uml_dir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub umid: String,
    pub dir: PathBuf,
    pub pid: Option<i32>,
    /// The recorded process is alive.
    pub alive: bool,
    pub socket: PathBuf,
    pub has_socket: bool,
}

impl Entry {
    pub fn read(dir: &Path) -> Entry {
        let umid = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pid = std::fs::read_to_string(dir.join("pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok());
        let socket = dir.join("mconsole");
        let has_socket =
            std::fs::symlink_metadata(&socket).is_ok_and(|m| m.file_type().is_socket());
        Entry {
            umid,
            dir: dir.to_path_buf(),
            alive: pid.is_some_and(|p| pid_alive(p) && !is_zombie(p)),
            pid,
            socket,
            has_socket,
        }
    }
}

/// The uml_dir the kernel will use (`uml_dir=` or `~/.uml`), with `~` expanded.
pub fn uml_dir(arg: Option<&str>) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match arg {
        Some(d) if d.starts_with('~') => {
            let rest = d.trim_start_matches('~').trim_start_matches('/');
            home.unwrap_or_else(|| PathBuf::from("/")).join(rest)
        }
        Some(d) => PathBuf::from(d),
        None => home.unwrap_or_else(|| PathBuf::from("/")).join(".uml"),
    }
}

/// The pid recorded in `<uml_dir>/<umid>/pid`, if that process is alive.
pub fn running_pid(dir: &Path, umid: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join(umid).join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    pid_alive(pid).then_some(pid)
}

/// All guests recorded in `uml_dir`, sorted by umid.
pub fn list(uml_dir: &Path) -> Vec<Entry> {
    let Ok(rd) = std::fs::read_dir(uml_dir) else {
        return Vec::new();
    };
    let mut v: Vec<Entry> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| Entry::read(&e.path()))
        .filter(|e| e.pid.is_some() || e.has_socket)
        .collect();
    v.sort_by(|a, b| a.umid.cmp(&b.umid));
    v
}

/// Finds a guest by umid (in `uml_dir`), by its umid directory, or by its mconsole socket path.
pub fn find(name: &str, uml_dir: &Path) -> Result<Entry> {
    let p = Path::new(name);
    let dir = if name.contains('/') {
        if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()) {
            p.parent().unwrap_or(Path::new(".")).to_path_buf()
        } else {
            p.to_path_buf()
        }
    } else {
        uml_dir.join(name)
    };
    if !dir.is_dir() {
        return Err(LaunchError::NoGuest {
            name: name.to_string(),
            what: format!(
                "{} does not exist (`umlrun --list` shows the guests in {})",
                dir.display(),
                uml_dir.display()
            ),
        });
    }
    Ok(Entry::read(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_finds_entries() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("live")).unwrap();
        std::fs::write(d.join("live/pid"), std::process::id().to_string()).unwrap();
        let _l = std::os::unix::net::UnixDatagram::bind(d.join("live/mconsole")).unwrap();
        std::fs::create_dir_all(d.join("stale")).unwrap();
        std::fs::write(d.join("stale/pid"), "2147483646").unwrap();
        std::fs::create_dir_all(d.join("empty")).unwrap();
        let v = list(d);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].umid, "live");
        assert!(v[0].alive && v[0].has_socket);
        assert_eq!(v[1].umid, "stale");
        assert!(!v[1].alive && !v[1].has_socket);
        assert_eq!(find("live", d).unwrap().umid, "live");
        let by_sock = d.join("live/mconsole");
        assert_eq!(find(by_sock.to_str().unwrap(), d).unwrap().umid, "live");
        assert!(find("nobody", d).is_err());
        assert!(list(&d.join("none")).is_empty());
    }
}
