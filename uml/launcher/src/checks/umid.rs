//! The machine id (`umid=`): its form, whether a guest already runs under it, and whether its
//! mconsole socket path fits a unix socket address.

use crate::registry::running_pid;
use crate::Problem;
use std::path::Path;

/// Checks a machine id: its length, its characters, whether a guest runs under it, and whether
/// the mconsole socket path fits a unix socket address.
pub fn check_umid(umid: &str, dir: &Path) -> Result<(), Problem> {
    if umid.is_empty() || umid.len() > 63 || umid.contains('/') {
        return Err(Problem::new(
            format!("umid `{umid}`: a machine id has 1 to 63 characters and no `/`"),
            "choose a short name, e.g. umid=h1",
        ));
    }
    if let Some(pid) = running_pid(dir, umid) {
        return Err(Problem::new(
            format!(
                "umid `{umid}` is already used by a running guest (pid {pid}, {})",
                dir.join(umid).display()
            ),
            format!("choose another umid, or stop that guest first: `umlrun --stop {umid}`"),
        ));
    }
    let sock = dir.join(umid).join("mconsole");
    if sock.as_os_str().len() >= 108 {
        return Err(Problem::new(
            format!(
                "the mconsole socket {} is longer than a unix socket address allows (107 bytes)",
                sock.display()
            ),
            "use a shorter umid, or uml_dir=SHORT_DIR",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn umid_rules() {
        let t = tempfile::tempdir().unwrap();
        assert!(check_umid("h1", t.path()).is_ok());
        assert!(check_umid("a/b", t.path()).is_err());
        assert!(check_umid(&"x".repeat(64), t.path()).is_err());
        // A live pid (ours) makes the umid busy; a dead one does not.
        std::fs::create_dir_all(t.path().join("busy")).unwrap();
        std::fs::write(t.path().join("busy/pid"), std::process::id().to_string()).unwrap();
        let p = check_umid("busy", t.path()).unwrap_err();
        assert!(p.fix.contains("umlrun --stop busy"), "{p}");
        std::fs::create_dir_all(t.path().join("stale")).unwrap();
        std::fs::write(t.path().join("stale/pid"), "2147483646").unwrap();
        assert!(check_umid("stale", t.path()).is_ok());
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(100)));
        assert!(check_umid("h1", &long).is_err());
    }
}
