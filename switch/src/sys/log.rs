//! Logging: `prog: message` on stderr in the foreground, syslog once
//! daemonised (ident = program name, LOG_PID, LOG_USER), as the reference.

use std::ffi::CString;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use nix::syslog::{Facility, LogFlags, Priority, Severity};

static PROG: OnceLock<String> = OnceLock::new();
static SYSLOG: AtomicBool = AtomicBool::new(false);
/// syslog keeps the ident pointer, so it must live forever.
static IDENT: OnceLock<CString> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Err,
    Warning,
    Info,
    Debug,
}

impl Level {
    fn priority(self) -> Priority {
        let severity = match self {
            Level::Err => Severity::LOG_ERR,
            Level::Warning => Severity::LOG_WARNING,
            Level::Info => Severity::LOG_INFO,
            Level::Debug => Severity::LOG_DEBUG,
        };
        Priority::new(severity, Facility::LOG_USER)
    }
}

/// Set the program name used as prefix (argv[0] as given) and syslog ident.
pub fn init(prog: &str) {
    let _ = PROG.set(prog.to_string());
}

/// Switch to syslog (after daemonising).
pub fn use_syslog() {
    let prog = PROG.get().map(String::as_str).unwrap_or("vde_switch");
    let base = prog.rsplit('/').next().unwrap_or(prog);
    let ident = IDENT.get_or_init(|| CString::new(base).unwrap_or_default());
    if nix::syslog::openlog(
        Some(ident.as_c_str()),
        LogFlags::LOG_PID,
        Facility::LOG_USER,
    )
    .is_ok()
    {
        SYSLOG.store(true, Ordering::Relaxed);
    }
}

pub fn prog() -> &'static str {
    PROG.get().map(String::as_str).unwrap_or("vde_switch")
}

pub fn log(level: Level, msg: &str) {
    if SYSLOG.load(Ordering::Relaxed) {
        let _ = nix::syslog::syslog(level.priority(), msg.replace('\0', "").as_str());
    } else {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{}: {}", prog(), msg);
    }
}

#[macro_export]
macro_rules! log_err { ($($t:tt)*) => { $crate::sys::log::log($crate::sys::log::Level::Err, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::sys::log::log($crate::sys::log::Level::Warning, &format!($($t)*)) } }
#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::sys::log::log($crate::sys::log::Level::Info, &format!($($t)*)) } }

/// Lets a noisy message through at most `burst` times per `period_secs`, then
/// counts what it held back and reports that number with the next message.
#[derive(Debug, Default)]
pub struct RateLimit {
    window_start: u64,
    shown: u32,
    suppressed: u64,
}

impl RateLimit {
    /// Returns `Some(suppressed_before)` when the message may be logged now.
    pub fn allow(&mut self, now: u64, period_secs: u64, burst: u32) -> Option<u64> {
        if now >= self.window_start + period_secs {
            self.window_start = now;
            self.shown = 0;
        }
        if self.shown < burst {
            self.shown += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}
