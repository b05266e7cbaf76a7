//! The management console: one command table serving `-M` sessions, the console on stdin and
//! rc files, answering with the reference's bytes (the wire format is
//! [`vde_protocol::console`]).
//!
//! Commands see the switch through a narrow [`Ctx`] (the fabric, the spanning tree, fixed
//! facts about the switch) and ask for anything beyond it with [`Effect`]s, which the caller
//! (a [`Host`]) applies before the next command runs. Data commands build a view
//! ([`view::View`]) that renders both the reference's text and the `json` extension.

mod cmd_debug;
mod cmd_edges;
pub mod cmd_fstp;
mod cmd_misc;
mod cmd_plugin;
mod cmd_port;
mod cmd_vlan;
pub mod cmd_vxlan;
mod json;
pub mod load;
pub mod script;
mod table;
#[cfg(test)]
mod tests;
pub mod view;

use std::path::PathBuf;

use vde_protocol::console::{write_data_block, Status, END_OF_SESSION};
use vde_protocol::MacAddr;

use super::edges;
use super::plane::hooks::HookChange;
use crate::fabric::{EndpointId, Fabric, PortId};
pub use crate::server::fstp::FstpCtl;
pub use cmd_debug::{debug_lines, Subscriptions};
pub use load::{LoadJob, Slice};
pub use table::{Action, CommandSpec, TABLE};

/// Result of one command: success or an errno.
pub type CmdResult = Result<(), i32>;

/// What the session must do after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    Logout,
    Shutdown,
}

/// Where a command comes from: sessions can log out, subscribe to debug events and `load`
/// scripts; rc files and stdin cannot (EBADF, as in the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Session,
    RcFile,
    Stdin,
}

/// Facts about the switch that commands show and never change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub pid: u32,
    /// The switch's own MAC (`showinfo`, the FSTP bridge id).
    pub mac: MacAddr,
    /// FSTP priority (`--priority`).
    pub priority: u16,
    /// The management socket as given on the command line, and its mode.
    pub mgmt: Option<(PathBuf, u32)>,
    /// The control directory and the mode of its sockets (`ds/showinfo`).
    pub ctl_dir: PathBuf,
    pub ctl_mode: u32,
    /// The VXLAN uplinks (`vxlan/print`), kept up to date by their links.
    pub vxlan: crate::server::ports::vxlan::Registry,
}

/// The switch as a command sees it.
pub struct Ctx<'a> {
    pub fabric: &'a mut Fabric,
    /// The spanning tree (commands sync it with the fabric before they use it).
    pub fstp: &'a mut FstpCtl,
    pub info: &'a Info,
    /// Seconds since the switch started (the reference's tick counter).
    pub uptime: u64,
    /// The debug subscriptions of the session running the command; `None` when the command
    /// does not come from a session.
    pub session: Option<Subscriptions>,
    /// Captures, mirrors and impairments (`port/capture`, `port/mirror`, `port/impair`);
    /// `None` where the host has none (those commands then fail with ENOSYS).
    pub edges: Option<&'a edges::Shared>,
    /// Connections held by fair admission (`ds/admission`); zero unless the host sets it.
    pub admission: Admission,
    effects: Vec<Effect>,
}

/// What fair admission holds now ([`crate::server::admission`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Admission {
    /// Unfinished handshakes on the control socket.
    pub handshakes: crate::server::admission::Stats,
    /// Management sessions.
    pub sessions: crate::server::admission::Stats,
    /// `--stream` connections that have not sent a whole frame yet.
    pub streams: crate::server::admission::Stats,
}

impl<'a> Ctx<'a> {
    pub fn new(
        fabric: &'a mut Fabric,
        fstp: &'a mut FstpCtl,
        info: &'a Info,
        uptime: u64,
        session: Option<Subscriptions>,
    ) -> Ctx<'a> {
        Ctx {
            fabric,
            fstp,
            info,
            uptime,
            session,
            edges: None,
            admission: Admission::default(),
            effects: Vec::new(),
        }
    }

    /// The same context with captures, mirrors and impairments.
    pub fn with_edges(mut self, edges: &'a edges::Shared) -> Ctx<'a> {
        self.edges = Some(edges);
        self
    }

    /// Ask the host for something beyond the context.
    pub fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }
}

/// What a command asks of the switch beyond its context.
#[derive(Debug)]
pub enum Effect {
    /// Close an endpoint the way its port kind does when the client leaves (`port/epclose`).
    CloseEndpoint { port: PortId, id: EndpointId },
    /// The running session's debug subscriptions are now these.
    Subscribe(Subscriptions),
    /// Start carrying frames for a VXLAN uplink `vxlan/add` opened and attached.
    StartVxlan(cmd_vxlan::Pending),
    /// Install, re-aim or remove a port hook (capture, mirroring, impairments, FSTP...).
    Hook(HookChange),
}

/// Whoever runs console commands: gives them their context, applies their effects.
pub trait Host {
    fn ctx(&mut self) -> Ctx<'_>;
    fn apply(&mut self, effect: Effect);
}

/// `strerror` text (glibc wording) of an errno, as status lines show it.
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    // std writes "<strerror> (os error N)".
    match text.rfind(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

fn status_of(result: CmdResult) -> Status {
    match result {
        Ok(()) => Status::success(),
        Err(e) => Status::failure(u16::try_from(e).unwrap_or(999), strerror(e)),
    }
}

/// The command a line runs: the first in table order whose path is a prefix of the line and
/// which is not a menu header (`showinfoXYZ` runs `showinfo`); the rest is its argument.
pub fn lookup(line: &str) -> Option<(&'static CommandSpec, &str)> {
    let spec = TABLE
        .iter()
        .find(|c| !matches!(c.action, Action::Menu) && line.starts_with(c.path))?;
    Some((
        spec,
        line[spec.path.len()..].trim_start_matches([' ', '\t']),
    ))
}

/// What [`exec`] did with a line.
pub(crate) enum Exec {
    /// Ran it (or it was empty, a comment, unknown).
    Ran(Outcome),
    /// The line is `load` with this argument: the caller runs the script.
    Load(String),
}

/// What [`start`] did with a line.
pub enum Started {
    /// The command ran to its end.
    Done(Outcome),
    /// The command is a `load` whose script is to be run: drive the job to its end with
    /// [`LoadJob::step`], then the command is done ([`Outcome::Continue`]).
    Load(LoadJob),
}

/// Run one command line (one trailing newline is dropped) from `origin` and append exactly
/// what the reference writes for it, without the prompt.
pub fn run(host: &mut dyn Host, origin: Origin, input: &str, out: &mut String) -> Outcome {
    match start(host, origin, input, out) {
        Started::Done(outcome) => outcome,
        Started::Load(mut job) => {
            job.step(host, out, load::Slice::WHOLE);
            Outcome::Continue
        }
    }
}

/// [`run`], except that a `load` is handed back as a job to be run a slice at a time.
pub fn start(host: &mut dyn Host, origin: Origin, input: &str, out: &mut String) -> Started {
    match exec(host, origin, input, out) {
        Exec::Ran(outcome) => Started::Done(outcome),
        // Only a management session can load scripts (EBADF, as in the reference).
        Exec::Load(_) if origin != Origin::Session => {
            status_of(Err(libc::EBADF)).write(out);
            Started::Done(Outcome::Continue)
        }
        Exec::Load(path) => match LoadJob::open(&path, out) {
            Some(job) => Started::Load(job),
            None => Started::Done(Outcome::Continue),
        },
    }
}

/// Run one command line, except `load`, which is handed back.
fn exec(host: &mut dyn Host, origin: Origin, input: &str, out: &mut String) -> Exec {
    let line = input.strip_suffix('\n').unwrap_or(input);
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return Exec::Ran(Outcome::Continue);
    }
    let Some((spec, args)) = lookup(line) else {
        status_of(Err(libc::ENOSYS)).write(out);
        return Exec::Ran(Outcome::Continue);
    };
    let result = match spec.action {
        Action::Menu => unreachable!("lookup skips menus"),
        // Only a management session can log out; elsewhere it does nothing.
        Action::Logout if origin != Origin::Session => return Exec::Ran(Outcome::Continue),
        Action::Logout => {
            out.push_str(END_OF_SESSION);
            return Exec::Ran(Outcome::Logout);
        }
        Action::Shutdown => {
            out.push_str(END_OF_SESSION);
            return Exec::Ran(Outcome::Shutdown);
        }
        Action::Load => return Exec::Load(args.to_string()),
        Action::Run(handler) => {
            let mut ctx = host.ctx();
            let result = handler(&mut ctx, args);
            let effects = ctx.effects;
            apply(host, effects);
            result
        }
        Action::Show(show) => {
            let mut ctx = host.ctx();
            let mut body = String::new();
            let result = show(&mut ctx, args).and_then(|view| {
                view.text(&mut body);
                view.status()
            });
            let effects = ctx.effects;
            apply(host, effects);
            write_data_block(out, &body);
            result
        }
        Action::Json => {
            let mut ctx = host.ctx();
            let mut body = String::new();
            let result = json::run(&mut ctx, args, &mut body);
            let effects = ctx.effects;
            apply(host, effects);
            write_data_block(out, &body);
            result
        }
    };
    status_of(result).write(out);
    Exec::Ran(Outcome::Continue)
}

fn apply(host: &mut dyn Host, effects: Vec<Effect>) {
    for e in effects {
        host.apply(e);
    }
}

/// Run an rc file at start: every line a command; a failing line is reported with file and
/// line number (the reference stays silent). Stops at `shutdown`. Read as a bounded stream
/// ([`script`]): a line over the cap is skipped with a warning; a file that is not a regular
/// file or is too large is not run at all.
pub fn run_rc_file(
    host: &mut dyn Host,
    path: &std::path::Path,
) -> Result<Outcome, script::ScriptError> {
    let mut lines = script::Script::open(path)?;
    let mut n = 0;
    while let Some(next) = lines.next_line() {
        n += 1;
        let line = match next? {
            script::Line::Text(t) => t,
            script::Line::TooLong => {
                crate::log_warn!(
                    "{}:{}: longer than {} bytes: not run",
                    path.display(),
                    n,
                    script::MAX_LINE
                );
                continue;
            }
        };
        // As `str::lines` (what rc files were read with): "\n" or "\r\n" ends a line.
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut out = String::new();
        let outcome = run(host, Origin::RcFile, line, &mut out);
        if let Some(status) = out.lines().last().and_then(Status::parse) {
            if !status.is_success() {
                crate::log_warn!("{}:{}: '{}': {}", path.display(), n, line.trim(), status);
            }
        }
        if outcome == Outcome::Shutdown {
            return Ok(outcome);
        }
    }
    Ok(Outcome::Continue)
}
