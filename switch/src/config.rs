//! Run-time configuration of the switch, as built from the command line.

use std::path::PathBuf;

/// Frames longer than this are dropped (and counted) by default. 9234 is the
/// largest frame vdeplug4 clients send (9216-byte MTU plus headers), so jumbo
/// frames pass while nothing is ever truncated.
pub const DEFAULT_MAX_FRAME: usize = 9234;

/// Everything `vde_switch` and `uml_switch` need to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Control directory (`-s`); `None` means the default for the effective uid.
    pub sock_dir: Option<PathBuf>,
    /// Size of the port array including port 0 (`-n`, default 32).
    pub numports: usize,
    /// Hub mode (`-x`).
    pub hub: bool,
    /// FSTP requested (`-F`), ignored in hub mode.
    pub fstp: bool,
    /// Switch MAC (`--macaddr`); random `00:ff:xx:xx:xx:xx` when `None`.
    pub macaddr: Option<vde_protocol::MacAddr>,
    /// FSTP priority (`--priority`, masked to 16 bits, default 0x8000).
    pub priority: u16,
    /// MAC table bucket count (`--hashsize`, default 128; rounded up to a power of two).
    pub hashsize: usize,
    /// Control socket mode (`-m`), octal as given.
    pub mode: Option<u32>,
    /// Directory mode (`--dirmode`).
    pub dirmode: Option<u32>,
    /// Group name or number for directory and sockets (`-g`), already resolved to a gid.
    pub group: Option<u32>,
    /// Daemonise (`-d`).
    pub daemon: bool,
    /// Pidfile (`-p`), made absolute before daemonising.
    pub pidfile: Option<PathBuf>,
    /// rc file (`-f`).
    pub rcfile: Option<PathBuf>,
    /// Management socket (`-M`), made absolute before daemonising.
    pub mgmt: Option<PathBuf>,
    /// Management socket mode (`--mgmtmode`, default 0600).
    pub mgmtmode: u32,
    /// Management socket group (`--mgmtgroup`), resolved to a gid.
    pub mgmtgroup: Option<u32>,
    /// tap interfaces (`-t`, repeatable).
    pub taps: Vec<String>,
    /// `--nostdin`: never use stdin as a console.
    pub nostdin: bool,
    /// `--console-stdin`: read commands from stdin; the default without `-d`,
    /// accepted so scripts can say it explicitly.
    pub console_stdin: bool,
    /// Largest frame accepted (`--maxframe`); longer ones are dropped and counted.
    pub max_frame: usize,
    /// Largest number of learned MAC entries (`--maxmacs`); when full, new
    /// sources are forwarded but not learned.
    pub max_macs: usize,
    /// Accept abstract-socket clients from other users (`--allow-abstract`);
    /// see the hardening notes in the README.
    pub allow_foreign_abstract: bool,
    /// `--ignore-system-rc`: without `-f`, read `~/.vde2/vde_switch.rc` only,
    /// never `/etc/vde2/vde_switch.rc` (a switch started by a test or a script
    /// is then not changed by the machine's configuration).
    pub ignore_system_rc: bool,
    /// VXLAN uplinks (`--vxlan SPEC`, repeatable), one port each.
    pub vxlans: Vec<vde_protocol::vxlan_spec::VxlanSpec>,
    /// `--stream PATH` or `--stream tcp:ADDR:PORT` (repeatable): listeners for QEMU
    /// `-netdev stream` clients, one port per connection.
    pub streams: Vec<StreamAddr>,
    /// `--dgram PATH` (repeatable): datagram sockets for QEMU `-netdev dgram` clients, one
    /// port per sender address.
    pub dgrams: Vec<PathBuf>,
    /// `--capture N:PATH` (repeatable): captures started with the switch, as
    /// `port/capture N PATH`; N is a port number or `all`.
    pub captures: Vec<(String, PathBuf)>,
    /// Unfinished handshakes on the control socket, in all (`--maxpending`) and per
    /// user (`--maxpending-user`); see `server::admission`.
    pub max_pending: usize,
    pub max_pending_user: usize,
    /// Management sessions, in all (`--maxsessions`) and per user (`--maxsessions-user`).
    pub max_sessions: usize,
    pub max_sessions_user: usize,
    /// `--stream` connections that have not sent a whole frame yet (each holds a port), in
    /// all (`--maxstream-pending`) and per peer, a uid or a TCP address
    /// (`--maxstream-peer`).
    pub max_stream_pending: usize,
    pub max_stream_pending_peer: usize,
}

/// Where a `--stream` listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamAddr {
    /// A unix stream socket at this path.
    Unix(PathBuf),
    /// A TCP socket (`tcp:ADDR:PORT`): anybody who can reach it gets a port.
    Tcp(std::net::SocketAddr),
}

impl std::fmt::Display for StreamAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamAddr::Unix(p) => write!(f, "{}", p.display()),
            StreamAddr::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Default caps of fair admission (see `server::admission`): unfinished handshakes on the
/// control socket, in all and per user, and management sessions, in all and per user.
pub const DEFAULT_MAX_PENDING: usize = 256;
pub const DEFAULT_MAX_PENDING_USER: usize = 64;
pub const DEFAULT_MAX_SESSIONS: usize = 64;
pub const DEFAULT_MAX_SESSIONS_USER: usize = 16;
pub const DEFAULT_MAX_STREAM_PENDING: usize = 64;
pub const DEFAULT_MAX_STREAM_PENDING_PEER: usize = 16;
/// The largest value any of those caps may be given.
pub const MAX_ADMISSION_CAP: usize = 65536;

impl Default for Config {
    fn default() -> Self {
        Config {
            sock_dir: None,
            numports: 32,
            hub: false,
            fstp: false,
            macaddr: None,
            priority: 0x8000,
            hashsize: 128,
            mode: None,
            dirmode: None,
            group: None,
            daemon: false,
            pidfile: None,
            rcfile: None,
            mgmt: None,
            mgmtmode: 0o600,
            mgmtgroup: None,
            taps: Vec::new(),
            nostdin: false,
            console_stdin: false,
            max_frame: DEFAULT_MAX_FRAME,
            max_macs: 65536,
            allow_foreign_abstract: false,
            ignore_system_rc: false,
            vxlans: Vec::new(),
            streams: Vec::new(),
            dgrams: Vec::new(),
            captures: Vec::new(),
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_user: DEFAULT_MAX_PENDING_USER,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_user: DEFAULT_MAX_SESSIONS_USER,
            max_stream_pending: DEFAULT_MAX_STREAM_PENDING,
            max_stream_pending_peer: DEFAULT_MAX_STREAM_PENDING_PEER,
        }
    }
}

/// Configuration of `uml_switch` (its own command line, same data plane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UmlConfig {
    /// Control socket path (`-unix`, default `/tmp/uml.ctl`).
    pub ctl: PathBuf,
    /// Hub mode (`-hub`).
    pub hub: bool,
    /// tap device (`-tap`).
    pub tap: Option<String>,
    /// Daemonise (`-daemon`): chdir `/`, keep stdio.
    pub daemon: bool,
    /// `-compat-v0` data socket path, when given.
    pub compat_v0_data: Option<PathBuf>,
    /// Unfinished handshakes on the control socket, in all (`-maxpending`) and per user
    /// (`-maxpending-user`), as `Config::max_pending` and `Config::max_pending_user`.
    pub max_pending: usize,
    pub max_pending_user: usize,
}

impl Default for UmlConfig {
    fn default() -> Self {
        UmlConfig {
            ctl: PathBuf::new(),
            hub: false,
            tap: None,
            daemon: false,
            compat_v0_data: None,
            max_pending: DEFAULT_MAX_PENDING,
            max_pending_user: DEFAULT_MAX_PENDING_USER,
        }
    }
}
