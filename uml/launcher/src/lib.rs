//! `umlrun`: a launcher for stock User Mode Linux kernels.
//!
//! It takes the kernel's own command line verbatim (so any course command line works with `linux`
//! replaced by `umlrun`), adds friendly options, and before the kernel starts:
//!
//! * refuses the usual mistakes with a message that names the mistake and the fix ([`checks`]);
//! * creates missing COW files itself with the COW library (zero-filled canonical v3 headers);
//! * rewrites `ethN=daemon|vde` to `vecN:transport=vde` on kernels without the legacy transports
//!   ([`net`]);
//! * on hosts whose XSTATE is larger than an old kernel's fixed buffer (AMX), starts the kernel
//!   under a seccomp filter and adds the glibc hwcaps tunable ([`hostfix`]).
//!
//! While the guest runs it listens on an `mconsole=notify:` socket, and on SIGINT, SIGTERM or
//! SIGHUP stops the guest cleanly through the mconsole ([`mconsole`], [`stop`]): emergency sync,
//! emergency remount read-only, halt, then a kill after a timeout.
//!
//! Modules:
//! * [`args`]: the kernel's command-line words, parsed.
//! * [`kernel`]: finding the kernel binary and probing `--version`, `--help`, `--showconfig`.
//! * [`hostfix`]: the large-XSTATE (AMX) workaround: detection and the seccomp filter.
//! * [`net`]: network words, friendly `--net` forms and the legacy-to-vector mapping.
//! * [`checks`]: the checks before boot.
//! * [`options`]: umlrun's own options and the kernel words they become.
//! * [`plan`]: options + kernel words -> the final command line, checked.
//! * [`files`]: the files made before boot (COW files, empty ext4 images).
//! * [`mconsole`]: the management console protocol and the notify socket.
//! * [`guest`]: running a guest, and what its end means.
//! * [`stop`]: the clean stop (mconsole sync, remount, halt; SIGTERM; SIGKILL).
//! * [`registry`]: guests in a `uml_dir` (`--list`, `--stop`).
//! * [`process`]: processes known by their pid.

// `unsafe` is allowed only where it is needed: CPUID (`hostfix`), the seccomp filter installed
// between fork and exec (`guest`), and the tests that fork.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod args;
pub mod checks;
pub mod files;
pub mod guest;
pub mod hostfix;
pub mod kernel;
pub mod mconsole;
pub mod net;
pub mod options;
pub mod plan;
pub mod process;
pub mod registry;
pub mod stop;

use std::io;
use std::path::PathBuf;

/// One mistake found before boot: what is wrong, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: String,
}

impl Problem {
    pub fn new(what: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n  fix: {}", self.what, self.fix)
    }
}

/// Errors of the launcher.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The command line or the files it names have mistakes; the kernel was not started.
    #[error("refusing to start the guest: {}", problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Refused { problems: Vec<Problem> },
    #[error("no UML kernel found: {what}")]
    NoKernel { what: String },
    #[error("{}: cannot {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Cow(#[from] uml_cow::CowError),
    #[error("mconsole {}: {what}", socket.display())]
    Mconsole { socket: PathBuf, what: String },
    #[error("cannot prepare the seccomp filter: {0}")]
    Filter(String),
    #[error("no guest {name}: {what}")]
    NoGuest { name: String, what: String },
}

impl LaunchError {
    pub fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> LaunchError {
        LaunchError::Io {
            path: path.into(),
            op,
            source,
        }
    }

    pub fn refused(problems: Vec<Problem>) -> LaunchError {
        LaunchError::Refused { problems }
    }
}

pub type Result<T, E = LaunchError> = std::result::Result<T, E>;

/// Exit statuses of `umlrun` (documented in its `--help` and the README).
pub mod exit {
    /// The guest halted or powered off (by itself, or through umlrun's clean stop).
    pub const HALTED: i32 = 0;
    /// umlrun itself failed (could not start the kernel, talk to the mconsole, ...).
    pub const FAILED: i32 = 1;
    /// The command line or the files it names have a mistake; nothing was started.
    pub const REFUSED: i32 = 2;
    /// The guest kernel panicked.
    pub const PANIC: i32 = 3;
    /// The kernel was killed (a signal, SIGTERM/SIGINT sent to it directly, or umlrun had to
    /// kill it after the stop timeout).
    pub const KILLED: i32 = 4;
}
