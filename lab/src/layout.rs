//! Where a lab's files are.
//!
//! * The lab directory holds what the user wrote (`lab.conf`, `HOST.startup`, `HOST/`) and, in
//!   `.vdelab/`, what vdelab keeps between runs: `disks/` (each host's COW file and extra disks),
//!   `saves/` (archives of `disks/`), `log/` (the last run's logs) and `ready/` (the marks guests
//!   leave when their boot is done; the guests reach them through `/hostlab`).
//! * The runtime directory holds what exists only while the lab runs: the switches' sockets, the
//!   guests' `uml_dir` (their mconsole sockets) and `state.json`. It is
//!   `$XDG_RUNTIME_DIR/vdelab/<lab>-<hash>`, else `/tmp/vdelab-<uid>/<lab>-<hash>`, short enough
//!   for socket paths, and removed by `vdelab down`.

use crate::error::{LabError, Result};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file describing the lab.
pub const CONF: &str = "lab.conf";
/// vdelab's directory inside the lab.
pub const STATE_DIR: &str = ".vdelab";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The lab directory (canonical).
    pub lab: PathBuf,
    /// `lab/.vdelab`.
    pub state: PathBuf,
    /// The runtime directory (not created here).
    pub run: PathBuf,
}

impl Layout {
    /// The layout of the lab in `dir`, which must hold a `lab.conf`.
    pub fn new(dir: &Path) -> Result<Layout> {
        let lab = dir
            .canonicalize()
            .map_err(|e| LabError::io(dir, "open the lab directory", e))?;
        if !lab.join(CONF).is_file() {
            return Err(LabError::failed(
                format!("{} has no {CONF}", lab.display()),
                "run vdelab in a lab directory, or name one (e.g. `vdelab up examples/two-hosts`)",
            ));
        }
        let run = runtime_base().join(lab_id(&lab));
        Ok(Layout {
            state: lab.join(STATE_DIR),
            lab,
            run,
        })
    }

    pub fn conf(&self) -> PathBuf {
        self.lab.join(CONF)
    }
    pub fn disks(&self) -> PathBuf {
        self.state.join("disks")
    }
    pub fn saves(&self) -> PathBuf {
        self.state.join("saves")
    }
    pub fn logs(&self) -> PathBuf {
        self.state.join("log")
    }
    pub fn ready(&self) -> PathBuf {
        self.state.join("ready")
    }
    /// Held while a command changes the lab (`up`, `down`, `clean`, `save`, `restore`).
    pub fn lock_file(&self) -> PathBuf {
        self.state.join("lock")
    }

    /// The COW file of a host's root file system.
    pub fn root_cow(&self, host: &str) -> PathBuf {
        self.disks().join(format!("{host}.cow"))
    }
    /// A new empty disk of a host.
    pub fn new_disk(&self, host: &str, name: &str) -> PathBuf {
        self.disks().join(format!("{host}-{name}"))
    }
    /// The COW file of a host over an existing image.
    pub fn disk_cow(&self, host: &str, image: &Path) -> PathBuf {
        let stem = image
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "disk".into());
        self.disks().join(format!("{host}-{stem}.cow"))
    }

    pub fn host_log(&self, host: &str) -> PathBuf {
        self.logs().join(format!("{host}.log"))
    }
    pub fn switch_log(&self, domain: &str) -> PathBuf {
        self.logs().join(format!("switch-{domain}.log"))
    }
    /// Written by the guest (through `/hostlab`) when its startup files have run.
    pub fn ready_file(&self, host: &str) -> PathBuf {
        self.ready().join(host)
    }

    /// `vde_switch -s` of a collision domain.
    pub fn switch_dir(&self, domain: &str) -> PathBuf {
        self.run.join("sw").join(domain)
    }
    /// `vde_switch -M` of a collision domain.
    pub fn switch_mgmt(&self, domain: &str) -> PathBuf {
        self.run.join("sw").join(format!("{domain}.mgmt"))
    }
    /// The guests' `uml_dir` (their umid directories and mconsole sockets).
    pub fn uml_dir(&self) -> PathBuf {
        self.run.join("uml")
    }
    pub fn mconsole(&self, host: &str) -> PathBuf {
        self.uml_dir().join(host).join("mconsole")
    }
    /// Where the console keeper serves the guests' consoles.
    pub fn console_dir(&self) -> PathBuf {
        self.run.join("console")
    }
    pub fn console_socket(&self, host: &str) -> PathBuf {
        self.console_dir().join(format!("{host}.sock"))
    }
    /// Everything the guest wrote on its console.
    pub fn console_log(&self, host: &str) -> PathBuf {
        self.logs().join(format!("{host}.console.log"))
    }
    pub fn keeper_log(&self) -> PathBuf {
        self.logs().join("keeper.log")
    }
    pub fn state_file(&self) -> PathBuf {
        self.run.join("state.json")
    }

    /// Creates the runtime directory (private to the user).
    pub fn make_run(&self) -> Result<()> {
        let base = self
            .run
            .parent()
            .expect("the runtime directory has a parent");
        private_dir(base)?;
        private_dir(&self.run)?;
        for d in [self.run.join("sw"), self.uml_dir()] {
            std::fs::create_dir_all(&d).map_err(|e| LabError::io(&d, "create", e))?;
        }
        Ok(())
    }
}

/// `$XDG_RUNTIME_DIR/vdelab`, else `/tmp/vdelab-<uid>`.
pub fn runtime_base() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() && d.is_dir() => d.join("vdelab"),
        _ => std::env::temp_dir().join(format!("vdelab-{}", nix::unistd::getuid())),
    }
}

/// `<name>-<hash>`: the lab directory's name (shortened) and a hash of its full path, so two labs
/// with the same name do not share a runtime directory.
pub fn lab_id(lab: &Path) -> String {
    let name: String = lab
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(20)
        .collect();
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lab.as_os_str().as_encoded_bytes() {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}-{:08x}", name.trim_start_matches('.'), h as u32)
}

/// Creates `dir` with mode 0700, or checks that an existing one is a real directory of ours that
/// nobody else can enter (another user could otherwise plant sockets or links in it).
fn private_dir(dir: &Path) -> Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(LabError::io(dir, "create", e)),
    }
    let m = std::fs::symlink_metadata(dir).map_err(|e| LabError::io(dir, "inspect", e))?;
    let uid = nix::unistd::getuid().as_raw();
    if !m.is_dir() || m.uid() != uid {
        return Err(LabError::failed(
            format!(
                "{} is not a directory of yours; vdelab keeps its sockets there",
                dir.display()
            ),
            "remove it, or set XDG_RUNTIME_DIR to a private directory",
        ));
    }
    if m.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| LabError::io(dir, "make private", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_stable_and_distinct() {
        let a = lab_id(Path::new("/home/st/labs/two hosts"));
        assert_eq!(a, lab_id(Path::new("/home/st/labs/two hosts")));
        assert!(a.starts_with("two_hosts-"), "{a}");
        assert_ne!(a, lab_id(Path::new("/home/other/two hosts")));
        let long = lab_id(Path::new(&format!("/x/{}", "n".repeat(200))));
        assert!(long.len() <= 29, "{long}");
        assert!(!lab_id(Path::new("/x/.hidden")).starts_with('.'));
    }

    #[test]
    fn needs_a_lab_conf() {
        let t = tempfile::tempdir().unwrap();
        assert!(Layout::new(t.path()).is_err());
        std::fs::write(t.path().join(CONF), "h1[0]=A\n").unwrap();
        let l = Layout::new(t.path()).unwrap();
        assert_eq!(l.root_cow("h1"), l.lab.join(".vdelab/disks/h1.cow"));
        assert_eq!(
            l.disk_cow("h1", Path::new("img/base.ext4")),
            l.lab.join(".vdelab/disks/h1-base.cow")
        );
        assert!(l.switch_dir("A").starts_with(&l.run));
    }
}
