//! `vdeterm`: a management console client for `vde_switch` (ours or the reference 2.3.2).
//!
//! The library holds everything that does not need a terminal, so that it can be unit-tested:
//! * [`protocol`]: the console byte stream as events (banner, data blocks, status lines,
//!   asynchronous debug lines, prompt, end of session) and how the stock vdeterm shows them;
//! * [`client`]: a blocking client (connect + banner, one command -> its answer up to the
//!   prompt) and the connection error messages;
//! * [`completion`]: the TAB completion list built from `help`, as the stock vdeterm does;
//! * [`batch`]: non-interactive runs (`-c CMD`, or commands on stdin) and their exit status.
//!
//! The binary (`src/bin/vdeterm.rs`) adds the interactive mode (rustyline).

#![forbid(unsafe_code)]

pub mod batch;
pub mod client;
pub mod completion;
pub mod protocol;

pub use client::{Client, ConnectError, End, Response};
pub use protocol::{Event, Parser, Status};

use std::path::PathBuf;

/// Where the interactive history is kept: `$VDETERM_HISTORY` if set (empty: no history file),
/// else `$XDG_STATE_HOME/vdeterm/history` if `XDG_STATE_HOME` is set to an absolute path, else
/// `$HOME/.vdeterm_history`. `None`: no history file.
pub fn history_path() -> Option<PathBuf> {
    history_path_from(|k| std::env::var_os(k))
}

fn history_path_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    if let Some(p) = var("VDETERM_HISTORY") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    if let Some(state) = var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Some(state.join("vdeterm").join("history"));
    }
    var("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".vdeterm_history"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn with(vars: &[(&str, &str)]) -> Option<PathBuf> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        history_path_from(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn history_location() {
        assert_eq!(
            with(&[("HOME", "/home/u")]),
            Some(PathBuf::from("/home/u/.vdeterm_history"))
        );
        assert_eq!(
            with(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "/s")]),
            Some(PathBuf::from("/s/vdeterm/history"))
        );
        assert_eq!(
            with(&[("HOME", "/home/u"), ("XDG_STATE_HOME", "rel")]),
            Some(PathBuf::from("/home/u/.vdeterm_history"))
        );
        assert_eq!(
            with(&[("HOME", "/home/u"), ("VDETERM_HISTORY", "/h")]),
            Some(PathBuf::from("/h"))
        );
        assert_eq!(with(&[("HOME", "/home/u"), ("VDETERM_HISTORY", "")]), None);
        assert_eq!(with(&[]), None);
    }
}
