//! Daemonising, the pidfile and the descriptor limit.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Fork into the background: the parent exits 0 at once (callers see the
/// sockets already bound), the child gets a new session, chdir("/") and, when
/// `keep_stdio` is false, stdin/stdout/stderr on /dev/null (daemon(3)). The
/// switch starts no thread before this.
pub fn daemonize(keep_stdio: bool) -> io::Result<()> {
    nix::unistd::daemon(false, keep_stdio)?;
    Ok(())
}

/// Create the pidfile exclusively (mode 0644) holding `pid\n`. An existing
/// file is never touched (the reference deletes it on this error).
pub fn write_pidfile(path: &Path) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)?;
    writeln!(f, "{}", std::process::id())
}

/// Raise the soft limit on open files to the hard limit: every endpoint
/// costs two descriptors, and the usual default of 1024 is easy to hit.
pub fn raise_nofile_limit() {
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
