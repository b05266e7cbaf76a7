//! Command-line parsing for `vde_switch` and `uml_switch`.
//!
//! `vde_switch` accepts the option table of VDE 2.3.2 (as built by Debian,
//! i.e. with FSTP and the debug options) scanned with glibc's
//! `getopt_long_only` rules (see [`getopt`]), plus a few options of our own.
//! It differs from the reference on purpose in a few places:
//!
//! * an unknown option, an ambiguous abbreviation, a missing or unexpected
//!   argument is an error (the reference prints glibc's complaint and carries
//!   on); so is a malformed number or mode (the reference keeps the old value
//!   or reads a prefix of the text);
//! * relative `-s`, `-M`, `-p` and `-f` paths are made absolute against the
//!   working directory at parse time, so daemonising cannot move them;
//! * `-g`/`--mgmtgroup` also accept a numeric gid.
//!
//! `uml_switch` keeps its hand-made parser of exact words (see [`uml`]).

mod getopt;
mod uml;
mod values;

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::config::{Config, DEFAULT_MAX_FRAME};
use getopt::{Event, Getopt, LongOpt, ShortOpt};

pub use uml::{parse_uml_args, uml_usage, DEFAULT_UML_CTL, DEFAULT_UML_DATA, UML_VERSION_TEXT};

/// What `main` should do after parsing the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<T> {
    /// Start with this configuration.
    Run(T),
    /// Write `stdout` and `stderr` (either may be empty) and exit with `code`.
    /// Used for `--help`, `--version` and every command-line error.
    Exit {
        code: i32,
        stdout: String,
        stderr: String,
    },
}

impl<T> Command<T> {
    /// The configuration to run with; for `Exit`, print and exit the process.
    pub fn or_exit(self) -> T {
        match self {
            Command::Run(cfg) => cfg,
            Command::Exit {
                code,
                stdout,
                stderr,
            } => {
                print!("{stdout}");
                eprint!("{stderr}");
                std::process::exit(code);
            }
        }
    }
}

/// The program name (argv[0] as given, for messages) and the arguments.
pub fn program_args(default_name: &str) -> (String, Vec<std::ffi::OsString>) {
    let mut argv = std::env::args_os();
    let prog = argv
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| default_name.into());
    (prog, argv.collect())
}

/// What VDE 2.3.2's `vde_switch -v` prints (exit status 0). Ours prints it byte for byte, so a
/// caller reading the version from the first line sees `VDE 2.3.2`, then [`IMPLEMENTATION`].
pub const REFERENCE_VERSION_TEXT: &str = "VDE 2.3.2\n\
Copyright 2003,...,2011 Renzo Davoli\n\
some code from uml_switch Copyright (C) 2001, 2002 Jeff Dike and others\n\
VDE comes with NO WARRANTY, to the extent permitted by law.\n\
You may redistribute copies of VDE under the terms of the\n\
GNU General Public License v2.\n\
For more information about these matters, see the files\n\
named COPYING.\n";

/// The line `vde_switch -v` adds after the reference's text: which program this is.
pub const IMPLEMENTATION: &str = concat!(
    "This vde_switch is vde-rs ",
    env!("CARGO_PKG_VERSION"),
    ", a reimplementation in Rust that replaces the switch of VDE 2.3.2.\n"
);

/// What `vde_switch -v` (or `--version`) prints, exit status 0.
#[must_use]
pub fn version_text() -> String {
    format!("{REFERENCE_VERSION_TEXT}\n{IMPLEMENTATION}")
}

/// Smallest accepted `--maxframe` (an Ethernet frame without FCS).
pub const MIN_MAX_FRAME: usize = 60;
/// Largest accepted `--maxframe`.
pub const MAX_MAX_FRAME: usize = 65535;
/// Largest accepted `--hashsize`: bigger tables only waste memory.
pub const MAX_HASHSIZE: usize = 1 << 24;

/// The `--help` text. The reference prints the literal name `vde_switch`
/// whatever argv[0] is, so `prog` does not appear in it.
#[must_use]
pub fn vde_usage(_prog: &str) -> String {
    usage_text(Config::default().numports as i64)
}

/// The usage text, with `numports` in the `-n` line: like the reference, the
/// "default" shown is the value given by an earlier `-n`, if any.
fn usage_text(numports: i64) -> String {
    let mut text = String::with_capacity(2600);
    text.push_str(
        "Usage: vde_switch [OPTIONS]\n\
Runs a VDE switch.\n\
(global opts)\n\
\x20 -h, --help                 Display this help and exit\n\
\x20 -v, --version              Display informations on version and exit\n",
    );
    text.push_str(&format!(
        "  -n  --numports             Number of ports (default {numports})\n"
    ));
    text.push_str(
        "  -x, --hub                  Make the switch act as a hub\n\
\x20 -F, --fstp                 Activate the fast spanning tree protocol\n\
\x20     --macaddr MAC          Set the Switch MAC address\n\
\x20     --priority N           Set the priority for FST (MAC extension)\n\
\x20     --hashsize N           Hash table size\n\
(opts from datasock module)\n\
\x20 -s, --sock SOCK            control directory pathname\n\
\x20 -s, --vdesock SOCK         Same as --sock SOCK\n\
\x20 -s, --unix SOCK            Same as --sock SOCK\n\
\x20 -m, --mode MODE            Permissions for the control socket (octal)\n\
\x20     --dirmode MODE         Permissions for the sockets directory (octal)\n\
\x20 -g, --group GROUP          Group owner for comm sockets\n\
(opts from consmgmt module)\n\
\x20 -d, --daemon               Daemonize vde_switch once run\n\
\x20 -p, --pidfile PIDFILE      Write pid of daemon to PIDFILE\n\
\x20 -f, --rcfile               Configuration file (overrides /etc/vde2/vde_switch.rc and ~/.vderc)\n\
\x20 -M, --mgmt SOCK            path of the management UNIX socket\n\
\x20     --mgmtmode MODE        management UNIX socket access mode (octal)\n\
\x20     --mgmtgroup GROUP      management UNIX socket group name\n\
\x20 -D, --debugclients #       number of debug clients allowed\n\
(opts from tuntap module)\n\
\x20 -t, --tap TAP              Enable routing through TAP tap interface\n",
    );
    text.push_str(&extension_usage());
    text.push_str("\nReport bugs to info@v2.cs.unibo.it\n");
    text
}

/// The usage section for the options the reference does not have, laid out
/// like the reference's own lines (description at column 29).
fn extension_usage() -> String {
    let defaults = Config::default();
    let lines = [
        (
            "--nostdin",
            "Never read management commands from stdin".to_owned(),
        ),
        (
            "--console-stdin",
            "Read commands from stdin (the default without -d)".to_owned(),
        ),
        (
            "--maxframe N",
            format!("Drop frames longer than N bytes (default {DEFAULT_MAX_FRAME})"),
        ),
        (
            "--maxmacs N",
            format!("MAC address table capacity (default {})", defaults.max_macs),
        ),
        (
            "--allow-abstract",
            "Accept abstract-socket clients of other users".to_owned(),
        ),
        (
            "--ignore-system-rc",
            "Without -f, never read /etc/vde2/vde_switch.rc".to_owned(),
        ),
        (
            "--vxlan SPEC",
            "VXLAN uplink port (vni=N,local=A,remote=B...)".to_owned(),
        ),
        (
            "--stream PATH",
            "QEMU -netdev stream socket (or tcp:ADDR:PORT)".to_owned(),
        ),
        ("--dgram PATH", "QEMU -netdev dgram socket".to_owned()),
        (
            "--capture N:PATH",
            "Capture port N (or all) to PATH in pcap format".to_owned(),
        ),
        (
            "--maxpending N",
            format!(
                "Unfinished handshakes held in all (default {})",
                defaults.max_pending
            ),
        ),
        (
            "--maxpending-user N",
            format!("... and per user (default {})", defaults.max_pending_user),
        ),
        (
            "--maxsessions N",
            format!(
                "Management sessions held in all (default {})",
                defaults.max_sessions
            ),
        ),
        (
            "--maxsessions-user N",
            format!("... and per user (default {})", defaults.max_sessions_user),
        ),
        (
            "--maxstream-pending N",
            format!(
                "--stream connections yet to send a frame, in all (default {})",
                defaults.max_stream_pending
            ),
        ),
        (
            "--maxstream-peer N",
            format!(
                "... of them per peer: uid, TCP address (default {})",
                defaults.max_stream_pending_peer
            ),
        ),
    ];
    let mut text = String::from("(additional opts, not in VDE 2.3.2)\n");
    for (option, help) in lines {
        text.push_str(&format!("      {option:<23}{help}\n"));
    }
    text
}

/// Every option `vde_switch` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    Help,
    Hub,
    Fstp,
    Version,
    Numports,
    Hashsize,
    Macaddr,
    Priority,
    Sock,
    Mode,
    Dirmode,
    Group,
    Daemon,
    Pidfile,
    Rcfile,
    Mgmt,
    Mgmtmode,
    Mgmtgroup,
    Debugclients,
    Tap,
    Nostdin,
    ConsoleStdin,
    Maxframe,
    Maxmacs,
    AllowAbstract,
    IgnoreSystemRc,
    Vxlan,
    Stream,
    Dgram,
    Capture,
    MaxPending,
    MaxPendingUser,
    MaxSessions,
    MaxSessionsUser,
    MaxStreamPending,
    MaxStreamPendingPeer,
}

const fn long(name: &'static str, has_arg: bool, key: Opt) -> LongOpt<Opt> {
    LongOpt {
        name,
        has_arg,
        key,
        extension: false,
        whole_after_one_dash: false,
    }
}

const fn ext(name: &'static str, has_arg: bool, key: Opt) -> LongOpt<Opt> {
    LongOpt {
        name,
        has_arg,
        key,
        extension: true,
        whole_after_one_dash: false,
    }
}

/// An extension whose single-dash abbreviations would be clusters of the reference's short
/// options (`-dg` = `-d -g`, `-st` = `-s t`): after one dash, only its whole name.
const fn ext_whole(name: &'static str, has_arg: bool, key: Opt) -> LongOpt<Opt> {
    LongOpt {
        whole_after_one_dash: true,
        ..ext(name, has_arg, key)
    }
}

/// The long options in the reference's table order (which is the order
/// glibc lists ambiguous candidates in), then ours.
const LONG_OPTS: &[LongOpt<Opt>] = &[
    // vde_switch.c
    long("help", false, Opt::Help),
    long("hub", false, Opt::Hub),
    long("fstp", false, Opt::Fstp),
    long("version", false, Opt::Version),
    long("numports", true, Opt::Numports),
    long("hashsize", true, Opt::Hashsize),
    long("macaddr", true, Opt::Macaddr),
    long("priority", true, Opt::Priority),
    // datasock.c
    long("sock", true, Opt::Sock),
    long("vdesock", true, Opt::Sock),
    long("unix", true, Opt::Sock),
    long("mod", true, Opt::Mode),
    long("mode", true, Opt::Mode),
    long("dirmode", true, Opt::Dirmode),
    long("group", true, Opt::Group),
    // consmgmt.c
    long("daemon", false, Opt::Daemon),
    long("pidfile", true, Opt::Pidfile),
    long("rcfile", true, Opt::Rcfile),
    long("mgmt", true, Opt::Mgmt),
    long("mgmtmode", true, Opt::Mgmtmode),
    long("mgmtgroup", true, Opt::Mgmtgroup),
    long("debugclients", true, Opt::Debugclients),
    // tuntap.c
    long("tap", true, Opt::Tap),
    // ours
    ext("nostdin", false, Opt::Nostdin),
    ext("console-stdin", false, Opt::ConsoleStdin),
    ext("maxframe", true, Opt::Maxframe),
    ext("maxmacs", true, Opt::Maxmacs),
    ext("allow-abstract", false, Opt::AllowAbstract),
    ext("ignore-system-rc", false, Opt::IgnoreSystemRc),
    ext("vxlan", true, Opt::Vxlan),
    ext_whole("stream", true, Opt::Stream),
    ext_whole("dgram", true, Opt::Dgram),
    ext("capture", true, Opt::Capture),
    ext("maxpending", true, Opt::MaxPending),
    ext("maxpending-user", true, Opt::MaxPendingUser),
    ext("maxsessions", true, Opt::MaxSessions),
    ext("maxsessions-user", true, Opt::MaxSessionsUser),
    ext("maxstream-pending", true, Opt::MaxStreamPending),
    ext("maxstream-peer", true, Opt::MaxStreamPendingPeer),
];

const fn short(letter: u8, has_arg: bool, key: Opt) -> ShortOpt<Opt> {
    ShortOpt {
        letter,
        has_arg,
        key,
    }
}

/// The reference's short options (`hxFvn:s:m:g:dp:f:M:D:t:`).
const SHORT_OPTS: &[ShortOpt<Opt>] = &[
    short(b'h', false, Opt::Help),
    short(b'x', false, Opt::Hub),
    short(b'F', false, Opt::Fstp),
    short(b'v', false, Opt::Version),
    short(b'n', true, Opt::Numports),
    short(b's', true, Opt::Sock),
    short(b'm', true, Opt::Mode),
    short(b'g', true, Opt::Group),
    short(b'd', false, Opt::Daemon),
    short(b'p', true, Opt::Pidfile),
    short(b'f', true, Opt::Rcfile),
    short(b'M', true, Opt::Mgmt),
    short(b'D', true, Opt::Debugclients),
    short(b't', true, Opt::Tap),
];

/// An early exit while parsing (kept small; becomes [`Command::Exit`]).
#[derive(Debug)]
struct Exit {
    code: i32,
    stdout: String,
    stderr: String,
}

impl<T> From<Exit> for Command<T> {
    fn from(e: Exit) -> Self {
        Command::Exit {
            code: e.code,
            stdout: e.stdout,
            stderr: e.stderr,
        }
    }
}

/// `PROG: message` plus glibc's hint line, exit status 1.
fn usage_error(prog: &str, message: &str) -> Exit {
    Exit {
        code: 1,
        stdout: String::new(),
        stderr: format!("{prog}: {message}\nTry '{prog} --help' for more information.\n"),
    }
}

/// Parses the `vde_switch` command line (`args` without argv[0]); `prog` is
/// argv[0], used in messages.
#[must_use]
pub fn parse_vde_args(prog: &str, args: &[OsString]) -> Command<Config> {
    let cwd = std::env::current_dir().ok();
    parse_vde_args_in(prog, args, cwd.as_deref())
}

/// [`parse_vde_args`] with the directory relative paths are resolved against
/// (`None`: leave them relative).
fn parse_vde_args_in(prog: &str, args: &[OsString], cwd: Option<&Path>) -> Command<Config> {
    let mut state = VdeParse {
        prog,
        cwd,
        config: Config::default(),
        numports: Config::default().numports as i64,
    };
    let mut saw_operand = false;
    let mut scanner = Getopt::new(args, LONG_OPTS, SHORT_OPTS);
    while let Some(event) = scanner.next_event() {
        let outcome = match event {
            Err(e) => Err(usage_error(prog, &e.to_string())),
            Ok(Event::Operand(_)) => {
                saw_operand = true;
                Ok(())
            }
            Ok(Event::Opt { key, value }) => state.apply(key, value.unwrap_or_default()),
        };
        if let Err(exit) = outcome {
            return exit.into();
        }
    }
    // Checked in this order after the scan, as the reference does.
    if saw_operand {
        return Command::Exit {
            code: 1,
            stdout: usage_text(state.numports),
            stderr: String::new(),
        };
    }
    if state.numports < 1 {
        return Command::Exit {
            code: 1,
            stdout: String::new(),
            stderr: format!("{prog}: The switch must have at least 1 port\n\n"),
        };
    }
    if state.numports > crate::fabric::MAX_PORTS as i64 {
        return Command::Exit {
            code: 1,
            stdout: String::new(),
            stderr: format!(
                "{prog}: {} ports is more than this switch supports (at most {})\n",
                state.numports,
                crate::fabric::MAX_PORTS
            ),
        };
    }
    let mut config = state.config;
    config.numports = state.numports as usize;
    Command::Run(config)
}

/// Parser state for one `vde_switch` command line.
struct VdeParse<'a> {
    prog: &'a str,
    cwd: Option<&'a Path>,
    config: Config,
    /// Last `-n` value, checked only once all options are read (so that a
    /// later `-h` still shows it, and `-v` still wins, as in the reference).
    numports: i64,
}

impl VdeParse<'_> {
    fn bad_value(&self, opt: &str, value: &OsStr, expected: &str) -> Exit {
        usage_error(
            self.prog,
            &format!(
                "invalid argument '{}' for '--{opt}': expected {expected}",
                value.to_string_lossy()
            ),
        )
    }

    fn int(&self, opt: &str, value: &OsStr) -> Result<i32, Exit> {
        values::parse_c_int(value).ok_or_else(|| self.bad_value(opt, value, "an integer"))
    }

    /// A cap of fair admission.
    fn cap(&self, opt: &str, value: &OsStr) -> Result<usize, Exit> {
        self.ranged(opt, value, 1, crate::config::MAX_ADMISSION_CAP)
    }

    /// An integer within `min..=max`.
    fn ranged(&self, opt: &str, value: &OsStr, min: usize, max: usize) -> Result<usize, Exit> {
        let n = self.int(opt, value)?;
        usize::try_from(n)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| self.bad_value(opt, value, &format!("an integer from {min} to {max}")))
    }

    fn mode(&self, opt: &str, value: &OsStr) -> Result<u32, Exit> {
        values::parse_octal_mode(value)
            .ok_or_else(|| self.bad_value(opt, value, "an octal mode (at most 7777)"))
    }

    fn group(&self, value: &OsStr) -> Result<u32, Exit> {
        // Worded and reported like the reference: no program name, no hint.
        values::resolve_group(value).ok_or_else(|| Exit {
            code: 1,
            stdout: String::new(),
            stderr: format!("No such group '{}'\n", value.to_string_lossy()),
        })
    }

    fn apply(&mut self, opt: Opt, value: &OsStr) -> Result<(), Exit> {
        let cwd = self.cwd;
        match opt {
            Opt::Help => {
                return Err(Exit {
                    code: 1,
                    stdout: usage_text(self.numports),
                    stderr: String::new(),
                })
            }
            Opt::Version => {
                return Err(Exit {
                    code: 0,
                    stdout: version_text(),
                    stderr: String::new(),
                })
            }
            Opt::Hub => {
                // A hub never runs the spanning tree.
                self.config.hub = true;
                self.config.fstp = false;
            }
            Opt::Fstp => {
                if !self.config.hub {
                    self.config.fstp = true;
                }
            }
            Opt::Numports => self.numports = i64::from(self.int("numports", value)?),
            Opt::Hashsize => {
                self.config.hashsize = self.ranged("hashsize", value, 0, MAX_HASHSIZE)?;
            }
            Opt::Macaddr => match values::parse_mac(value) {
                Some(mac) => self.config.macaddr = Some(mac),
                None => {
                    return Err(Exit {
                        code: 1,
                        stdout: usage_text(self.numports),
                        stderr: format!(
                            "{}: Invalid MAC Addr {}\n",
                            self.prog,
                            value.to_string_lossy()
                        ),
                    })
                }
            },
            Opt::Priority => {
                // Like the reference: any int, keeping the low 16 bits.
                self.config.priority = (self.int("priority", value)? as u32 & 0xffff) as u16;
            }
            Opt::Sock => self.config.sock_dir = Some(values::absolutise(value, cwd)),
            Opt::Mode => self.config.mode = Some(self.mode("mode", value)?),
            Opt::Dirmode => self.config.dirmode = Some(self.mode("dirmode", value)?),
            Opt::Group => self.config.group = Some(self.group(value)?),
            Opt::Daemon => self.config.daemon = true,
            Opt::Pidfile => self.config.pidfile = Some(values::absolutise(value, cwd)),
            Opt::Rcfile => self.config.rcfile = Some(values::absolutise(value, cwd)),
            Opt::Mgmt => self.config.mgmt = Some(values::absolutise(value, cwd)),
            Opt::Mgmtmode => self.config.mgmtmode = self.mode("mgmtmode", value)?,
            Opt::Mgmtgroup => self.config.mgmtgroup = Some(self.group(value)?),
            // Accepted for compatibility; there are no debug clients.
            Opt::Debugclients => {}
            Opt::Tap => match value.to_str() {
                Some(name) => self.config.taps.push(name.to_owned()),
                None => return Err(self.bad_value("tap", value, "an interface name")),
            },
            Opt::Nostdin => self.config.nostdin = true,
            Opt::ConsoleStdin => self.config.console_stdin = true,
            Opt::Maxframe => {
                self.config.max_frame =
                    self.ranged("maxframe", value, MIN_MAX_FRAME, MAX_MAX_FRAME)?;
            }
            Opt::Maxmacs => {
                self.config.max_macs = self.ranged("maxmacs", value, 1, i32::MAX as usize)?;
            }
            Opt::AllowAbstract => self.config.allow_foreign_abstract = true,
            Opt::IgnoreSystemRc => self.config.ignore_system_rc = true,
            Opt::Vxlan => {
                let text = value.to_string_lossy();
                match text.parse() {
                    Ok(spec) => self.config.vxlans.push(spec),
                    Err(e) => {
                        return Err(usage_error(
                            self.prog,
                            &format!("invalid VXLAN spec '{text}' for '--vxlan': {e}"),
                        ))
                    }
                }
            }
            Opt::Stream => {
                let addr = values::parse_stream_addr(value, cwd).ok_or_else(|| {
                    self.bad_value(
                        "stream",
                        value,
                        "a socket path or tcp:ADDR:PORT (e.g. tcp:127.0.0.1:5555, tcp:[::1]:5555)",
                    )
                })?;
                self.config.streams.push(addr);
            }
            Opt::Dgram => {
                if value.is_empty() {
                    return Err(self.bad_value("dgram", value, "a socket path"));
                }
                self.config.dgrams.push(values::absolutise(value, cwd));
            }
            Opt::Capture => {
                let text = value.to_string_lossy();
                let Some((port, path)) = text.split_once(':').filter(|(p, path)| {
                    !path.is_empty() && (*p == "all" || p.parse::<u16>().is_ok())
                }) else {
                    return Err(self.bad_value("capture", value, "PORT:PATH or all:PATH"));
                };
                let path = values::absolutise(std::ffi::OsStr::new(path), cwd);
                self.config.captures.push((port.to_owned(), path));
            }
            Opt::MaxPending => self.config.max_pending = self.cap("maxpending", value)?,
            Opt::MaxPendingUser => {
                self.config.max_pending_user = self.cap("maxpending-user", value)?;
            }
            Opt::MaxSessions => self.config.max_sessions = self.cap("maxsessions", value)?,
            Opt::MaxSessionsUser => {
                self.config.max_sessions_user = self.cap("maxsessions-user", value)?;
            }
            Opt::MaxStreamPending => {
                self.config.max_stream_pending = self.cap("maxstream-pending", value)?;
            }
            Opt::MaxStreamPendingPeer => {
                self.config.max_stream_pending_peer = self.cap("maxstream-peer", value)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
