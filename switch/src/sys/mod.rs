//! Thin, safe wrappers over the system calls the switch needs that std does not
//! expose (raw `sockaddr_un` addresses, `MSG_TRUNC`, `SO_PEERCRED`, daemonising).

pub mod daemon;
pub mod log;
pub mod tap;
pub mod unix;
pub mod users;

use std::io;

/// Turn a libc return value into an `io::Result`.
pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Same for `ssize_t` results.
pub(crate) fn cvt_size(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}
