//! The control directory and its listening `ctl` socket (modes, group, stale
//! socket recovery), shared by `vde_switch` (`DIR/ctl`) and `uml_switch`.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use crate::sys::unix::{chmod, chown, socket_is_live, socket_owner_pid};

/// Permissions derived from `-m` and `--dirmode` exactly as the reference does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    pub ctl: u32,
    pub dir: u32,
}

impl Modes {
    pub fn derive(mode: Option<u32>, dirmode: Option<u32>) -> Modes {
        match (mode, dirmode) {
            (None, None) => Modes {
                ctl: 0o600,
                dir: 0o2700,
            },
            (Some(m), None) => {
                let mut dir = 0o2000;
                for shift in [6, 3, 0] {
                    let triad = (m >> shift) & 0o7;
                    if triad & 0o6 != 0 {
                        dir |= ((triad & 0o6) | 0o1) << shift;
                    }
                }
                Modes { ctl: m, dir }
            }
            (None, Some(d)) => Modes {
                ctl: d & 0o666,
                dir: d,
            },
            (Some(m), Some(d)) => Modes { ctl: m, dir: d },
        }
    }
}

/// Longest directory for which `DIR/ppp.fffff` still fits in `sun_path`
/// (108 bytes with its NUL): longer ones would be cut in replies.
pub const MAX_DIR_LEN: usize = 108 - 1 - "/000.00000".len();

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("Cannot create ctl directory '{dir}': {err}")]
    Mkdir { dir: PathBuf, err: io::Error },
    #[error("control directory '{dir}' is {len} bytes long; at most {max} fit in a socket address (use a shorter -s path)")]
    TooLong {
        dir: PathBuf,
        len: usize,
        max: usize,
    },
    #[error("Could not bind to socket '{path}': Address already in use{owner} (stop that switch first, or use another -s directory)")]
    InUse { path: PathBuf, owner: String },
    #[error("Could not bind to socket '{path}': {err}")]
    Bind { path: PathBuf, err: io::Error },
}

/// Create (if needed) and canonicalise the control directory, then apply group and mode.
pub fn prepare_dir(dir: &Path, modes: Modes, group: Option<u32>) -> Result<PathBuf, SetupError> {
    let mkdir_err = |err| SetupError::Mkdir {
        dir: dir.to_path_buf(),
        err,
    };
    match std::fs::DirBuilder::new().mode(0o777).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(mkdir_err(e)),
    }
    let canon = std::fs::canonicalize(dir).map_err(mkdir_err)?;
    let len = canon.as_os_str().len();
    if len > MAX_DIR_LEN {
        return Err(SetupError::TooLong {
            dir: canon,
            len,
            max: MAX_DIR_LEN,
        });
    }
    chown(&canon, None, group).map_err(mkdir_err)?;
    chmod(&canon, modes.dir).map_err(mkdir_err)?;
    Ok(canon)
}

/// Bind a listening stream socket at `path`. A stale socket left by a dead
/// server is replaced; a live one is an error naming its owner when found.
pub fn bind_listener(path: &Path) -> Result<UnixListener, SetupError> {
    let bind_err = |err| SetupError::Bind {
        path: path.to_path_buf(),
        err,
    };
    match UnixListener::bind(path) {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            if socket_is_live(path) {
                let owner = socket_owner_pid(path)
                    .map(|pid| format!(" by process {pid}"))
                    .unwrap_or_default();
                return Err(SetupError::InUse {
                    path: path.to_path_buf(),
                    owner,
                });
            }
            std::fs::remove_file(path).map_err(bind_err)?;
            UnixListener::bind(path).map_err(bind_err)
        }
        Err(e) => Err(bind_err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_reference() {
        assert_eq!(
            Modes::derive(None, None),
            Modes {
                ctl: 0o600,
                dir: 0o2700
            }
        );
        assert_eq!(Modes::derive(Some(0o666), None).dir, 0o2777);
        assert_eq!(Modes::derive(Some(0o660), None).dir, 0o2770);
        assert_eq!(
            Modes::derive(None, Some(0o750)),
            Modes {
                ctl: 0o640,
                dir: 0o750
            }
        );
        assert_eq!(
            Modes::derive(Some(0o640), Some(0o711)),
            Modes {
                ctl: 0o640,
                dir: 0o711
            }
        );
    }
}
