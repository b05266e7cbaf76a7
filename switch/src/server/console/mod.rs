//! The management console: one command table serving the `-M` socket and rc
//! files, with the reference's framing (`0000 DATA END WITH '.'` blocks,
//! `1000 Success`, `1NNN <strerror>`, the `\nvde$ ` prompt).

mod cmd_debug;
pub mod cmd_fstp;
mod cmd_misc;
mod cmd_plugin;
mod cmd_port;
mod cmd_vlan;
pub mod json;
pub mod session;
pub mod stdin;
mod table;

use super::Server;
pub use table::{Action, CommandSpec, TABLE};

pub const BANNER: &str =
    "VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n";
pub const PROMPT: &str = "\nvde$ ";
pub const END_OF_SESSION: &str = "9999 END OF SESSION";

/// What the session must do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    Logout,
    Shutdown,
}

/// Where a command comes from: sessions can subscribe to debug events and
/// `load` scripts; rc files and stdin cannot (EBADF, as in the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Session(std::os::fd::RawFd),
    RcFile,
    Stdin,
}

/// Result of one command: status 0 or an errno.
pub type CmdResult = Result<(), i32>;

/// `strerror` texts for the codes the console produces (glibc wording).
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a valid NUL-terminated string for any value.
    unsafe { std::ffi::CStr::from_ptr(libc::strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

impl Server {
    /// Run one command line (no trailing newline needed) and append exactly
    /// what the reference writes for it, without the prompt.
    pub fn execute(&mut self, input: &str, out: &mut String) -> Outcome {
        let line = input.strip_suffix('\n').unwrap_or(input);
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            return Outcome::Continue;
        }
        let Some(spec) = TABLE
            .iter()
            .find(|c| !matches!(c.action, Action::Menu) && line.starts_with(c.path))
        else {
            out.push_str(&format!(
                "1{:03} {}\n",
                libc::ENOSYS,
                strerror(libc::ENOSYS)
            ));
            return Outcome::Continue;
        };
        let args = line[spec.path.len()..].trim_start_matches([' ', '\t']);
        let (result, outcome) = match spec.action {
            Action::Menu => unreachable!("menus are skipped above"),
            // Only a management session can log out; elsewhere it does nothing.
            Action::Logout if !matches!(self.origin, Origin::Session(_)) => {
                return Outcome::Continue;
            }
            Action::Logout => {
                out.push_str(END_OF_SESSION);
                return Outcome::Logout;
            }
            Action::Shutdown => {
                crate::log_info!("Shutdown from mgmt command");
                out.push_str(END_OF_SESSION);
                return Outcome::Shutdown;
            }
            Action::Run(f) => {
                // Commands reach the origin through the server (handlers are plain fns).
                let mut body = String::new();
                let r = f(self, args, &mut body);
                if spec.data {
                    out.push_str("0000 DATA END WITH '.'\n");
                    out.push_str(&body);
                    out.push_str(".\n");
                } else {
                    // `load` writes the echoed script lines and their answers.
                    out.push_str(&body);
                }
                (r, Outcome::Continue)
            }
        };
        match result {
            Ok(()) => out.push_str("1000 Success\n"),
            Err(e) => out.push_str(&format!("1{:03} {}\n", e, strerror(e))),
        }
        outcome
    }

    /// Run an rc file at start: every line a command; a failing line is
    /// reported with file and line number (the reference stays silent).
    pub fn run_rc_file(&mut self, path: &std::path::Path) -> std::io::Result<Outcome> {
        let text = std::fs::read_to_string(path)?;
        self.origin = Origin::RcFile;
        for (i, line) in text.lines().enumerate() {
            let mut out = String::new();
            let outcome = self.execute(line, &mut out);
            if let Some(status) = out.lines().last() {
                if !status.starts_with("1000") && !status.starts_with("9999") {
                    crate::log_warn!(
                        "{}:{}: '{}': {}",
                        path.display(),
                        i + 1,
                        line.trim(),
                        status
                    );
                }
            }
            if outcome == Outcome::Shutdown {
                return Ok(outcome);
            }
        }
        Ok(Outcome::Continue)
    }
}
