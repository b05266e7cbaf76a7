//! What can go wrong, and the exit statuses of `vdelab`.

use crate::conf::ConfError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The lab has mistakes; nothing was started.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Refused(Vec<ConfError>),
    #[error("{}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Something failed; `fix` says what to do.
    #[error("{what}")]
    Failed { what: String, fix: String },
    /// The lab is not running (for commands that need it running).
    #[error("the lab in {} is not running", .0.display())]
    NotRunning(PathBuf),
    /// SIGINT, SIGTERM or SIGHUP during a command; what was started is stopped again.
    #[error("interrupted; everything started was stopped again")]
    Interrupted,
}

impl LabError {
    pub fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> LabError {
        LabError::Io {
            path: path.into(),
            op,
            source,
        }
    }

    pub fn failed(what: impl Into<String>, fix: impl Into<String>) -> LabError {
        LabError::Failed {
            what: what.into(),
            fix: fix.into(),
        }
    }

    /// What to do about it, if there is advice.
    pub fn fix(&self) -> Option<&str> {
        match self {
            LabError::Failed { fix, .. } if !fix.is_empty() => Some(fix),
            LabError::NotRunning(_) => Some("start it with `vdelab up`"),
            _ => None,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            LabError::Refused(_) => exit::REFUSED,
            LabError::NotRunning(_) => exit::NOT_RUNNING,
            LabError::Interrupted => exit::INTERRUPTED,
            _ => exit::FAILED,
        }
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// Exit statuses of `vdelab`.
pub mod exit {
    pub const OK: u8 = 0;
    /// Something failed (what was started is stopped again).
    pub const FAILED: u8 = 1;
    /// The lab or the command line has mistakes; nothing was started.
    pub const REFUSED: u8 = 2;
    /// The command needs the lab running (`status`, `console`).
    pub const NOT_RUNNING: u8 = 3;
    /// Interrupted by a signal (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}
