//! Non-interactive use: run commands one after the other, print the data blocks, and turn the
//! first failure into an exit status.
//!
//! Exit status of `vdeterm -c ...` (and of `vdeterm SOCK < commands`):
//!
//! | status | meaning |
//! | --- | --- |
//! | 0 | every command succeeded (`1000 Success`, or no status at all) |
//! | 3..=125 | the first failing command answered `1NNN` with NNN (its errno) in 3..=125, e.g. `1006 No such device or address` -> 6, `1022 Invalid argument` -> 22, `1038 Function not implemented` -> 38, `1098 Address already in use` -> 98 |
//! | 1 | the first failure has no such errno (`1001`, `1002` — 2 is taken, see below —, codes above 1125, unknown codes), or is local: a command too long, no answer in time, the session closed before the answer, commands left when the session ended |
//! | 2 | could not connect or no banner (see [`crate::client::ConnectError`]); also usage errors |
//!
//! `logout` is handled locally: it ends the run (later commands are not sent). `shutdown` (or
//! any command the switch answers with `9999 END OF SESSION`) succeeds; commands after it fail.

use crate::client::{Client, CommandError, End, Response};
use crate::protocol::{Event, Status};
use std::io::Write;
use std::time::Duration;

/// Exit status: all commands succeeded.
pub const EXIT_OK: u8 = 0;
/// Exit status: a failure that carries no usable errno.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status: connection error (no such socket, refused, no banner) or usage error.
pub const EXIT_CONNECT: u8 = 2;

/// The exit status for a command's status line (see the module documentation).
pub fn exit_status_for(status: &Status) -> u8 {
    match status.code {
        1000 => EXIT_OK,
        c @ 1003..=1125 => (c - 1000) as u8,
        _ => EXIT_FAILURE,
    }
}

/// True for commands the stock vdeterm handles locally by ending the session without sending.
pub fn is_logout(cmd: &str) -> bool {
    cmd.trim() == "logout"
}

/// True for lines not worth sending: blank, or a comment (the switch answers those with a bare
/// prompt anyway).
pub fn is_blank(cmd: &str) -> bool {
    let t = cmd.trim_start_matches([' ', '\t']);
    t.trim().is_empty() || t.starts_with('#')
}

/// Options of a batch run.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// Stop at the first failing command (otherwise run them all).
    pub stop_on_error: bool,
}

/// Runs `commands` on `client`: data block lines go to `out`, failures and debug lines to
/// `err` (prefixed `vdeterm: `). Returns the exit status (see the module documentation).
pub fn run(
    client: &mut Client,
    commands: impl IntoIterator<Item = String>,
    opts: &BatchOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let mut first_failure: Option<u8> = None;
    let mut ended_after: Option<String> = None;
    for cmd in commands {
        let cmd = cmd.trim_end_matches(['\n', '\r']).to_string();
        if is_blank(&cmd) {
            continue;
        }
        if is_logout(&cmd) {
            break;
        }
        if let Some(prev) = &ended_after {
            let _ = writeln!(
                err,
                "vdeterm: {cmd}: not run: the switch ended the session after `{prev}`"
            );
            first_failure.get_or_insert(EXIT_FAILURE);
            if opts.stop_on_error {
                break;
            }
            continue;
        }
        match client.command(&cmd, opts.timeout) {
            Ok(resp) => {
                print_response(&resp, out, err);
                let _ = out.flush();
                match resp.end {
                    End::Prompt => {}
                    End::EndOfSession => ended_after = Some(cmd.clone()),
                    End::Closed => {
                        let _ = writeln!(
                            err,
                            "vdeterm: {cmd}: the switch closed the connection to {} before answering",
                            client.path().display()
                        );
                        first_failure.get_or_insert(EXIT_FAILURE);
                        break;
                    }
                }
                if let Some(s) = resp.status().filter(|s| !s.is_success()) {
                    let _ = writeln!(err, "vdeterm: {cmd}: {s}");
                    first_failure.get_or_insert(exit_status_for(s));
                    if opts.stop_on_error {
                        break;
                    }
                }
            }
            Err(e) => {
                if let CommandError::Timeout(events) = &e {
                    let resp = Response {
                        events: events.clone(),
                        end: End::Closed,
                    };
                    print_response(&resp, out, err);
                }
                let what = match &e {
                    CommandError::Timeout(_) => {
                        format!("no answer from the switch within {:?}", opts.timeout)
                    }
                    e => e.to_string(),
                };
                let _ = writeln!(err, "vdeterm: {cmd}: {what}");
                first_failure.get_or_insert(EXIT_FAILURE);
                if opts.stop_on_error || !matches!(e, CommandError::TooLong(_)) {
                    break;
                }
            }
        }
    }
    let _ = out.flush();
    first_failure.unwrap_or(EXIT_OK)
}

fn print_response(resp: &Response, out: &mut dyn Write, err: &mut dyn Write) {
    for e in &resp.events {
        match e {
            Event::Data(l) => {
                let _ = writeln!(out, "{l}");
            }
            Event::Debug { text, .. } => {
                let _ = writeln!(err, "** DBG MSG: {text}");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(code: u16) -> Status {
        Status {
            code,
            text: String::new(),
        }
    }

    #[test]
    fn exit_status_mapping() {
        assert_eq!(exit_status_for(&st(1000)), 0);
        assert_eq!(exit_status_for(&st(1001)), 1);
        assert_eq!(exit_status_for(&st(1002)), 1);
        assert_eq!(exit_status_for(&st(1006)), 6);
        assert_eq!(exit_status_for(&st(1022)), 22);
        assert_eq!(exit_status_for(&st(1038)), 38);
        assert_eq!(exit_status_for(&st(1098)), 98);
        assert_eq!(exit_status_for(&st(1125)), 125);
        assert_eq!(exit_status_for(&st(1126)), 1);
        assert_eq!(exit_status_for(&st(1999)), 1);
    }

    #[test]
    fn local_commands() {
        assert!(is_logout("logout"));
        assert!(is_logout("  logout "));
        assert!(!is_logout("logoutx"));
        assert!(is_blank(""));
        assert!(is_blank("  \t"));
        assert!(is_blank(" # comment"));
        assert!(!is_blank("help"));
    }
}
