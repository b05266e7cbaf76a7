//! Exclusive locks on files (`flock`): one command at a time changes a lab, one terminal at a
//! time is attached to a console. The kernel drops a lock when its holder exits, however it
//! exits.

use crate::error::{LabError, Result};
use crate::layout::Layout;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// A held lock.
pub struct Lock(#[allow(dead_code)] Flock<File>);

fn open(path: &Path) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| LabError::io(path, "open", e))
}

/// Waits for the lock on the directory `dir` (so that no lock file is left in it).
pub fn wait_dir(dir: &Path) -> Result<Lock> {
    let f = File::open(dir).map_err(|e| LabError::io(dir, "open", e))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map(Lock)
        .map_err(|(_, e)| LabError::io(dir, "lock", e.into()))
}

/// Takes the lock on `path` (created if missing) or fails with `busy` as the reason.
pub fn try_lock(path: &Path, busy: &str) -> Result<Lock> {
    match Flock::lock(open(path)?, FlockArg::LockExclusiveNonblock) {
        Ok(l) => Ok(Lock(l)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(LabError::failed(
            busy.to_string(),
            "wait for it to finish, or stop it",
        )),
        Err((_, e)) => Err(LabError::io(path, "lock", e.into())),
    }
}

/// The lab's lock, held while a command changes the lab (`up`, `down`, `clean`, `save`,
/// `restore`). Makes `.vdelab` if needed.
pub fn lab(layout: &Layout) -> Result<Lock> {
    std::fs::create_dir_all(&layout.state).map_err(|e| LabError::io(&layout.state, "create", e))?;
    try_lock(
        &layout.lock_file(),
        "another vdelab command (up, down, clean, save or restore) is working on this lab",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("lock");
        let a = try_lock(&p, "busy").unwrap();
        assert!(try_lock(&p, "busy").is_err());
        drop(a);
        assert!(try_lock(&p, "busy").is_ok());
        let d = wait_dir(t.path()).unwrap();
        drop(d);
        assert!(wait_dir(t.path()).is_ok());
    }
}
