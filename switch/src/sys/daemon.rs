//! Daemonising and the pidfile.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::cvt;

/// Fork into the background: the parent exits 0 at once (callers see the
/// sockets already bound), the child gets a new session, chdir("/") and, when
/// `keep_stdio` is false, stdin/stdout/stderr on /dev/null (daemon(3)).
pub fn daemonize(keep_stdio: bool) -> io::Result<()> {
    // SAFETY: daemon(3) forks; only this thread exists at this point (the
    // switch starts no threads before daemonising).
    cvt(unsafe { libc::daemon(0, libc::c_int::from(keep_stdio)) })?;
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
/// costs two descriptors, and the reference's default of 1024 is easy to hit.
pub fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
