//! The `vde_switch` event loop: accepts control connections, runs handshakes,
//! owns one connected datagram socket per endpoint and moves frames between
//! them as the fabric decides. It only moves bytes; decisions are the fabric's.

pub mod console;
mod control;
pub mod ctl_dir;
mod data;
mod endpoint;
mod mgmt;
pub mod signals;
pub mod stdin;

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::config::{Config, UmlConfig};
use crate::fabric::{EndpointId, Fabric};
use crate::sys::log::RateLimit;
use crate::{log_info, log_warn};

use control::Conn;
use ctl_dir::Modes;
use endpoint::{Channel, EndpointIo};

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const MGMT: Token = Token(2);
const STDIN: Token = Token(3);
/// Control connections: token = CONN_BASE + fd.
const CONN_BASE: usize = 1 << 24;
/// Endpoint data sockets: token = DATA_BASE + endpoint id.
const DATA_BASE: usize = 2 << 24;
/// Management sessions: token = SESSION_BASE + fd.
pub(crate) const SESSION_BASE: usize = 3 << 24;
/// uml_switch has no port limit of its own; this many is plenty for a lab.
const UML_PORTS: usize = 4096;

/// How long a client may take to send its whole request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A fatal signal; the caller cleans up, then exits as the signal says.
    Signal(i32),
    /// `shutdown` from a console.
    Shutdown,
}

/// Which switch this is: they differ in socket layout and logging, not in
/// forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `vde_switch`: `DIR/ctl`, data sockets `DIR/ppp.fd`, logs to stderr/syslog.
    Vde,
    /// `uml_switch`: the control socket path itself, abstract data sockets,
    /// event lines on stdout.
    Uml,
}

pub struct Server {
    flavor: Flavor,
    ctl: PathBuf,
    poll: Poll,
    cfg: Config,
    dir: PathBuf,
    modes: Modes,
    listener: UnixListener,
    accept_paused: bool,
    conns: HashMap<RawFd, Conn>,
    endpoints: HashMap<EndpointId, EndpointIo>,
    fabric: Fabric,
    /// What the console shows about the switch.
    info: console::Info,
    mgmt: Option<UnixListener>,
    sessions: HashMap<RawFd, mgmt::Session>,
    fstp: console::FstpSettings,
    stdin_console: Option<stdin::StdinConsole>,
    start: Instant,
    tick: u64,
    last_gc: u64,
    signals: signals::SignalPipe,
    deliveries: Vec<crate::fabric::Delivery>,
    /// Endpoints whose socket may still hold frames (read budget exhausted,
    /// or resumed after a pause).
    backlog: Vec<EndpointId>,
    /// Receive batch and the per-destination staging of the frames in it.
    rx: Option<data::RxBatch>,
    /// Endpoints with frames waiting in their output queue.
    blocked: usize,
    limits: Limits,
}

/// Rate limits of noisy log lines.
#[derive(Default)]
struct Limits {
    refused: RateLimit,
    moved: RateLimit,
    full: RateLimit,
    send: RateLimit,
    stuck: RateLimit,
    accept: RateLimit,
}

impl Server {
    /// Bind the control socket in `dir` and get ready to run (before daemonising,
    /// so errors reach the terminal).
    pub fn bind(cfg: Config, default_dir: PathBuf) -> Result<Server, ctl_dir::SetupError> {
        let modes = Modes::derive(cfg.mode, cfg.dirmode);
        let want = cfg.sock_dir.clone().unwrap_or(default_dir);
        let signals = Server::install_signals(Flavor::Vde, &want.join("ctl"))?;
        let dir = ctl_dir::prepare_dir(&want, modes, cfg.group)?;
        let ctl = dir.join("ctl");
        let listener = ctl_dir::bind_listener(&ctl)?;
        let setup_err = |err| ctl_dir::SetupError::Bind {
            path: ctl.clone(),
            err,
        };
        crate::sys::unix::chmod(&ctl, modes.ctl).map_err(setup_err)?;
        crate::sys::unix::chown(&ctl, None, cfg.group).map_err(setup_err)?;
        let mut s = Server::new(Flavor::Vde, signals, cfg, dir, ctl, listener, modes)?;
        if let Some(path) = s.cfg.mgmt.clone() {
            s.mgmt = mgmt::bind_mgmt(&path, s.cfg.mgmtmode, s.cfg.mgmtgroup);
        }
        Ok(s)
    }

    /// Bind `uml_switch`'s control socket (mode from the umask, as the original).
    pub fn bind_uml(ucfg: &UmlConfig) -> Result<Server, ctl_dir::SetupError> {
        let cfg = Config {
            numports: UML_PORTS,
            hub: ucfg.hub,
            taps: ucfg.tap.iter().cloned().collect(),
            ..Config::default()
        };
        let ctl = ucfg.ctl.clone();
        let signals = Server::install_signals(Flavor::Uml, &ctl)?;
        let listener = ctl_dir::bind_listener(&ctl)?;
        let dir = ctl.parent().map(PathBuf::from).unwrap_or_default();
        let mut s = Server::new(
            Flavor::Uml,
            signals,
            cfg,
            dir,
            ctl,
            listener,
            Modes::derive(None, None),
        )?;
        // uml_switch moves a MAC to its new port at once.
        let timers = crate::fabric::MacTimers {
            min_persistence: -1,
            ..s.fabric.macs().timers()
        };
        s.fabric.set_mac_timers(timers);
        Ok(s)
    }

    /// Handlers go in before any socket is bound, so a signal right after
    /// `ctl` appears is never fatal (SIGHUP) nor skips the cleanup.
    fn install_signals(
        flavor: Flavor,
        ctl: &std::path::Path,
    ) -> Result<signals::SignalPipe, ctl_dir::SetupError> {
        let handled: &[i32] = match flavor {
            Flavor::Vde => &[libc::SIGINT, libc::SIGTERM],
            Flavor::Uml => &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP],
        };
        let ignored = match flavor {
            Flavor::Vde => [signals::IGNORED, &[libc::SIGHUP][..]].concat(),
            Flavor::Uml => signals::IGNORED.to_vec(),
        };
        signals::install(handled, &ignored).map_err(|err| ctl_dir::SetupError::Bind {
            path: ctl.to_path_buf(),
            err,
        })
    }

    fn new(
        flavor: Flavor,
        signals: signals::SignalPipe,
        cfg: Config,
        dir: PathBuf,
        ctl: PathBuf,
        listener: UnixListener,
        modes: Modes,
    ) -> Result<Server, ctl_dir::SetupError> {
        let setup_err = |err| ctl_dir::SetupError::Bind {
            path: ctl.clone(),
            err,
        };
        listener.set_nonblocking(true).map_err(setup_err)?;

        let poll = Poll::new().map_err(setup_err)?;
        let fabric = Fabric::new(cfg.numports, cfg.hub, cfg.hashsize, cfg.max_macs);
        let info = console::Info {
            pid: std::process::id(),
            mac: cfg.macaddr.unwrap_or_else(random_mac),
            priority: cfg.priority,
            mgmt: cfg.mgmt.clone().map(|p| (p, cfg.mgmtmode)),
            ctl_dir: dir.clone(),
            ctl_mode: modes.ctl,
        };
        Ok(Server {
            flavor,
            ctl,
            poll,
            dir,
            modes,
            listener,
            accept_paused: false,
            conns: HashMap::new(),
            endpoints: HashMap::new(),
            fabric,
            info,
            mgmt: None,
            sessions: HashMap::new(),
            fstp: Default::default(),
            stdin_console: None,
            start: Instant::now(),
            tick: 0,
            last_gc: 0,
            signals,
            deliveries: Vec::new(),
            backlog: Vec::new(),
            rx: Some(data::RxBatch::new(cfg.max_frame)),
            blocked: 0,
            limits: Limits::default(),
            cfg,
        })
    }

    /// A line on stdout, flushed at once (uml_switch's event log; callers pipe it).
    fn say(&self, line: &str) {
        if self.flavor == Flavor::Uml {
            use std::io::Write;
            let mut out = io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }

    /// The canonical control directory.
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// Seconds since the loop started (the reference's tick counter).
    pub fn uptime(&self) -> u64 {
        self.tick
    }

    /// Attach the `-t` tap interfaces, each to an automatically allocated port
    /// (before daemonising: opening a tap usually needs privileges).
    pub fn attach_taps(&mut self) -> Result<(), String> {
        for name in self.cfg.taps.clone() {
            let tap = crate::sys::tap::Tap::open(&name)
                .map_err(|e| format!("cannot open tap interface '{name}': {e} (creating taps needs root or CAP_NET_ADMIN)"))?;
            let id = tap.as_raw_fd() as EndpointId;
            let endpoint = crate::fabric::Endpoint {
                id,
                module: "tuntap",
                description: name.clone(),
            };
            let port = self
                .fabric
                .attach(
                    crate::fabric::PortChoice::Any,
                    &Default::default(),
                    endpoint,
                )
                .map_err(|e| format!("tap interface '{name}': {e}"))?;
            self.poll
                .registry()
                .register(
                    &mut SourceFd(&(id as RawFd)),
                    Token(DATA_BASE + id as usize),
                    Interest::READABLE,
                )
                .map_err(|e| format!("tap interface '{name}': {e}"))?;
            self.endpoints
                .insert(id, EndpointIo::new(Channel::Tap(tap), port, PathBuf::new()));
        }
        Ok(())
    }

    /// Take commands from stdin from now on.
    pub fn enable_stdin_console(&mut self) -> io::Result<()> {
        self.start_stdin_console(STDIN)
    }

    /// Run until a fatal signal or a shutdown command.
    pub fn run(&mut self) -> io::Result<Exit> {
        self.start = Instant::now();
        let reg = self.poll.registry();
        reg.register(
            &mut SourceFd(&self.listener.as_raw_fd()),
            LISTENER,
            Interest::READABLE,
        )?;
        reg.register(
            &mut SourceFd(&self.signals.reader.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        if let Some(m) = &self.mgmt {
            reg.register(&mut SourceFd(&m.as_raw_fd()), MGMT, Interest::READABLE)?;
        }
        let mut events = Events::with_capacity(256);
        loop {
            let next_tick = self.start + Duration::from_secs(self.tick + 1);
            // Sockets left unread when their budget ran out have no new edge
            // coming: serve them before sleeping.
            let timeout = if !self.backlog.is_empty() {
                Duration::ZERO
            } else if self.blocked > 0 {
                // Check often whether a blocked receiver has become stuck.
                data::STUCK_CHECK.min(next_tick.saturating_duration_since(Instant::now()))
            } else {
                next_tick.saturating_duration_since(Instant::now())
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(),
                    MGMT => self.accept_sessions(),
                    STDIN => {
                        if let Some(exit) = self.on_stdin() {
                            return Ok(exit);
                        }
                    }
                    SIGNALS => {
                        if let Some(&sig) = self.signals.take().first() {
                            return Ok(Exit::Signal(sig));
                        }
                    }
                    Token(t) if t >= SESSION_BASE => {
                        if let Some(exit) = self.on_session((t - SESSION_BASE) as RawFd) {
                            return Ok(exit);
                        }
                    }
                    Token(t) if t >= DATA_BASE => {
                        let id = (t - DATA_BASE) as EndpointId;
                        if ev.is_writable() {
                            self.on_writable(id);
                        }
                        if ev.is_readable() {
                            self.on_data(id);
                        }
                    }
                    Token(t) if t >= CONN_BASE => self.on_control((t - CONN_BASE) as RawFd),
                    _ => {}
                }
            }
            for id in std::mem::take(&mut self.backlog) {
                self.on_data(id);
            }
            if self.blocked > 0 {
                self.check_stuck();
            }
            self.drain_events();
            let now = self.start.elapsed().as_secs();
            if now > self.tick {
                self.tick = now;
                self.on_tick();
            }
        }
    }

    fn on_tick(&mut self) {
        let gc = self.fabric.macs().timers().gc_interval;
        if gc > 0 && self.tick >= self.last_gc + gc as u64 {
            self.last_gc = self.tick;
            self.fabric.expire_macs(self.tick);
        }
        self.expire_handshakes();
        if self.accept_paused {
            self.accept_all();
        }
        self.drain_events();
    }

    /// Turn fabric events into log lines (rate limited where they can flood).
    pub(crate) fn drain_events(&mut self) {
        use crate::fabric::Event;
        let events: Vec<_> = self.fabric.drain_events().collect();
        for ev in events {
            self.broadcast_debug(&ev);
            match ev {
                Event::MacLearned { mac, port, .. } => {
                    self.say(&format!(" Addr: {mac} New port {port}"))
                }
                Event::MacMoved { mac, from, to } if self.flavor == Flavor::Uml => {
                    self.say(&format!(" Addr: {mac} New port {to} old port {from}"))
                }
                Event::MacMoved { mac, from, to } => {
                    if let Some(skipped) = self.limits.moved.allow(self.tick, 10, 20) {
                        log_info!(
                            "MAC {} moved from port {} to port {}{}",
                            mac,
                            from,
                            to,
                            suppressed(skipped)
                        );
                    }
                }
                Event::MacTableFull { mac, port } => {
                    if let Some(skipped) = self.limits.full.allow(self.tick, 60, 1) {
                        log_warn!(
                            "MAC table full ({} entries): {} on port {} forwarded but not learned (raise --maxmacs){}",
                            self.fabric.macs().capacity(),
                            mac,
                            port,
                            suppressed(skipped)
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// Close every endpoint and remove the files the switch made.
    pub fn cleanup(&mut self) {
        for (_, ep) in self.endpoints.drain() {
            let _ = std::fs::remove_file(&ep.path);
        }
        self.conns.clear();
        self.sessions.clear();
        if let (Some(m), Some(path)) = (self.mgmt.take(), &self.cfg.mgmt) {
            drop(m);
            let _ = std::fs::remove_file(path);
        }
        if crate::sys::unix::other_listener_at(&self.ctl, self.listener.as_raw_fd()) {
            log_warn!("Cleanup not removing files");
            return;
        }
        let _ = std::fs::remove_file(&self.ctl);
        if self.flavor == Flavor::Vde {
            if let Err(e) = std::fs::remove_dir(&self.dir) {
                log_warn!("Cleanup: could not remove {}: {}", self.dir.display(), e);
            }
        }
    }
}

/// The console's view of the server, for a command from `session` (a session's fd) or from
/// elsewhere.
struct ConsoleHost<'a> {
    s: &'a mut Server,
    session: Option<RawFd>,
}

impl console::Host for ConsoleHost<'_> {
    fn ctx(&mut self) -> console::Ctx<'_> {
        let s = &mut *self.s;
        let subs = self
            .session
            .and_then(|fd| s.sessions.get(&fd))
            .map(|x| x.debug);
        console::Ctx::new(&mut s.fabric, &mut s.fstp, &s.info, s.tick, subs)
    }

    fn apply(&mut self, effect: console::Effect) {
        match effect {
            console::Effect::CloseEndpoint { port, id } => {
                if self.s.conns.contains_key(&(id as RawFd)) {
                    self.s.close_conn(id as RawFd);
                } else {
                    self.s.close_endpoint(port, id);
                }
            }
            console::Effect::Subscribe(subs) => {
                if let Some(x) = self.session.and_then(|fd| self.s.sessions.get_mut(&fd)) {
                    x.debug = subs;
                }
            }
        }
    }
}

impl Server {
    /// Run one console command line from `origin` (`session`: the session's fd).
    fn run_command(
        &mut self,
        origin: console::Origin,
        session: Option<RawFd>,
        line: &str,
        out: &mut String,
    ) -> console::Outcome {
        let outcome = console::run(&mut ConsoleHost { s: self, session }, origin, line, out);
        if outcome == console::Outcome::Shutdown {
            log_info!("Shutdown from mgmt command");
        }
        outcome
    }

    /// Run an rc file at start (see [`console::run_rc_file`]).
    pub fn run_rc_file(&mut self, path: &std::path::Path) -> io::Result<console::Outcome> {
        let outcome = console::run_rc_file(
            &mut ConsoleHost {
                s: self,
                session: None,
            },
            path,
        )?;
        if outcome == console::Outcome::Shutdown {
            log_info!("Shutdown from mgmt command");
        }
        Ok(outcome)
    }
}

/// `00:ff:` plus four random bytes, as the reference picks its MAC.
fn random_mac() -> vde_protocol::MacAddr {
    let mut r = [0u8; 4];
    // SAFETY: getrandom writes at most r.len() bytes into r.
    let got = unsafe { libc::getrandom(r.as_mut_ptr().cast(), r.len(), 0) };
    if got != r.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ std::process::id())
            .unwrap_or(0);
        r = t.to_le_bytes();
    }
    vde_protocol::MacAddr([0x00, 0xff, r[0], r[1], r[2], r[3]])
}

fn suppressed(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} similar messages suppressed)")
    }
}
