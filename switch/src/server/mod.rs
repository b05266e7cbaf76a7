//! The event loop of `vde_switch` and `uml_switch`. It only dispatches: each
//! port kind ([`ports`]) owns its fds and handles their events, the data path
//! ([`plane`]) moves frames between links and the fabric, the console
//! ([`console`]) answers commands, and decisions are the fabric's.
//!
//! [`Server`] is what the binaries see; [`Switch`] is what every subscriber
//! handling an event gets: the data path, the console's state, the fd
//! registrations and the timers.

pub mod admission;
pub mod console;
pub mod ctl_dir;
pub mod edges;
pub mod fstp;
mod listening;
mod mgmt;
pub mod plane;
pub mod ports;
pub mod reactor;
pub mod signals;
pub mod slab;
pub mod stdin;
pub mod timers;

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::{Events, Poll};

use crate::config::{Config, UmlConfig};
use crate::fabric::{Event, Fabric, MacTimers};
use crate::sys::log::RateLimit;
use crate::{log_info, log_warn};

use ctl_dir::Modes;
use plane::{Env, Plane};
use reactor::{Io, Subscriber, Subscribers, Target};
use timers::{Due, Timers};

/// uml_switch has no port limit of its own; this many is plenty for a lab.
const UML_PORTS: usize = 4096;
/// The tick: uptime and MAC ageing count in seconds.
const TICK: Duration = Duration::from_secs(1);

/// How long a client may take to send its whole request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A fatal signal; the caller cleans up, then exits as the signal says.
    Signal(i32),
    /// `shutdown` from a console, or the end of a terminal on stdin.
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

/// A line on stdout, flushed at once (uml_switch's event log; callers pipe it).
pub fn say(line: &str) {
    use std::io::Write;
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Rate limits of noisy log lines.
#[derive(Default)]
pub struct Limits {
    pub refused: RateLimit,
    pub moved: RateLimit,
    pub full: RateLimit,
    pub accept: RateLimit,
    pub sessions: RateLimit,
    /// Pending stream connections evicted.
    pub streams: RateLimit,
}

/// The switch as the loop's subscribers see it.
pub struct Switch {
    pub flavor: Flavor,
    pub io: Io,
    pub timers: Timers,
    pub plane: Plane,
    /// What the console shows about the switch.
    pub info: console::Info,
    /// The spanning tree (on with `-F` or `fstp/setfstp 1`).
    pub fstp: fstp::FstpRunner,
    /// Captures, mirrors and impairments, shared with their port hook.
    pub edges: edges::Shared,
    pub start: Instant,
    /// Whole seconds since `start` (the reference's tick counter).
    pub tick: u64,
    last_gc: u64,
    pub limits: Limits,
    /// Connections of the control socket still in their handshake (named by their fd).
    pub handshakes: admission::Admission<std::os::fd::RawFd>,
    /// The management sessions' admission, as the management socket last reported it.
    pub sessions: admission::Stats,
    /// `--stream` connections that have not sent a whole frame yet, shared by the listeners.
    pub streams: ports::stream::Pending,
    /// Subscribers started while handling an event, added once it returns.
    started: Vec<Box<dyn Subscriber>>,
    /// Subscribers to close once the current one returns (evicted handshakes).
    closing: Vec<slab::Key>,
    /// The subscriber serving each handshake in progress, by the connection's fd (so that
    /// an evicted one is closed at once, not when its end of file is read).
    pub handshake_subs: std::collections::HashMap<std::os::fd::RawFd, slab::Key>,
    /// Set to stop the loop.
    pub exit: Option<Exit>,
}

impl Switch {
    /// Start a subscriber (an accepted connection) once the current one returns.
    pub fn start(&mut self, sub: Box<dyn Subscriber>) {
        self.started.push(sub);
    }

    /// Close subscriber `key` once the current one returns.
    pub fn close_sub(&mut self, key: slab::Key) {
        self.closing.push(key);
    }

    /// The data path and what it borrows from the loop.
    pub fn plane_env(&mut self) -> (&mut Plane, Env<'_>) {
        (
            &mut self.plane,
            Env {
                io: &mut self.io,
                timers: &mut self.timers,
                tick: self.tick,
            },
        )
    }

    /// A line on stdout for uml_switch; nothing for vde_switch.
    pub fn say(&self, line: &str) {
        if self.flavor == Flavor::Uml {
            say(line);
        }
    }

    /// The console's view, for a command from a session with `subscriptions` or elsewhere.
    pub fn console_ctx(
        &mut self,
        subscriptions: Option<console::Subscriptions>,
    ) -> console::Ctx<'_> {
        // Any command may change what the spanning tree must know (VLANs, members).
        self.fstp.dirty = true;
        let mut cx = console::Ctx::new(
            self.plane.fabric_mut(),
            &mut self.fstp.ctl,
            &self.info,
            self.tick,
            subscriptions,
        )
        .with_edges(&self.edges);
        cx.admission = console::Admission {
            handshakes: self.handshakes.stats(),
            sessions: self.sessions,
            streams: self.streams.borrow().stats(),
        };
        cx
    }

    /// Carry out what a console command asked for (subscriptions are the session's own).
    pub fn apply(&mut self, effect: console::Effect) {
        match effect {
            console::Effect::CloseEndpoint { id, .. } => {
                let (plane, mut env) = self.plane_env();
                plane.close_endpoint(&mut env, id);
            }
            console::Effect::Subscribe(_) => {}
            console::Effect::StartVxlan(pending) => {
                let registry = self.info.vxlan.clone();
                if let Some((opened, port)) = pending.take() {
                    let (plane, mut env) = self.plane_env();
                    if let Err(e) = ports::vxlan::start(opened, port, &registry, plane, &mut env) {
                        log_warn!("VXLAN uplink on port {port}: {e}");
                    }
                }
            }
            console::Effect::Hook(change) => self.plane.hooks.change(change),
        }
    }

    /// The fabric's events since the last call, logged (rate limited where they can flood).
    pub fn take_events(&mut self) -> Vec<Event> {
        let events: Vec<Event> = self.plane.fabric_mut().drain_events().collect();
        for ev in &events {
            match *ev {
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
                            self.plane.fabric().macs().capacity(),
                            mac,
                            port,
                            suppressed(skipped)
                        );
                    }
                }
                _ => {}
            }
        }
        events
    }

    /// The fabric's events since the last call and those of the spanning tree's round that
    /// follows them (see [`Switch::fstp_step`]): after a console command, so that the events it
    /// caused go out before its answer (as in the reference), and once per turn of the loop.
    pub fn take_all_events(&mut self) -> Vec<Event> {
        let mut events = self.take_events();
        let caused = self.fstp_step(&events);
        events.extend(caused);
        events
    }

    /// The spanning tree's round (see [`fstp::FstpRunner::step`]); `events` are the fabric's
    /// since the last round (endpoints that came or went change the tree's members). Returns
    /// its debug events and the fabric's events it caused (flushes).
    fn fstp_step(&mut self, events: &[Event]) -> Vec<Event> {
        if events.iter().any(|e| {
            matches!(
                e,
                Event::EndpointAdded { .. } | Event::EndpointRemoved { .. }
            )
        }) {
            self.fstp.dirty = true;
        }
        let tick = self.tick;
        self.fstp.step(&mut self.plane, tick);
        let mut more: Vec<Event> = self.fstp.take_events().collect();
        if self.plane.fabric().has_events() {
            more.extend(self.take_events());
        }
        more
    }

    /// Once a second: uptime, and MAC ageing every `hash/setgcint` seconds.
    fn on_tick(&mut self) {
        self.tick = self.start.elapsed().as_secs();
        let next = self.start + Duration::from_secs(self.tick + 1);
        self.timers.set(next, Due::Tick);
        let gc = self.plane.fabric().macs().timers().gc_interval;
        if gc > 0 && self.tick >= self.last_gc + gc as u64 {
            self.last_gc = self.tick;
            let tick = self.tick;
            self.plane.fabric_mut().expire_macs(tick);
        }
        crate::service::ports_changed(self.plane.fabric());
    }
}

/// The console for commands from no session (rc files, stdin): no debug subscriptions.
struct PlainHost<'a>(&'a mut Switch);

impl console::Host for PlainHost<'_> {
    fn ctx(&mut self) -> console::Ctx<'_> {
        self.0.console_ctx(None)
    }

    fn apply(&mut self, effect: console::Effect) {
        self.0.apply(effect);
    }
}

/// A switch ready to run: sockets bound, subscribers registered.
pub struct Server {
    poll: Poll,
    subs: Subscribers,
    sw: Switch,
    cfg: Config,
}

impl Server {
    /// Bind the control socket in `dir` and get ready to run (before daemonising,
    /// so errors reach the terminal).
    pub fn bind(cfg: Config, default_dir: PathBuf) -> Result<Server, ctl_dir::SetupError> {
        let modes = Modes::derive(cfg.mode, cfg.dirmode);
        let want = cfg.sock_dir.clone().unwrap_or(default_dir);
        let signals = Server::install_signals(Flavor::Vde, &want.join("ctl"))?;
        // The QEMU sockets first: whoever waits for `ctl` then finds them ready, and a
        // failure leaves no control directory behind.
        let qemu = ports::qemu::QemuSockets::bind(&cfg, modes)?;
        let made = (|| {
            let dir = ctl_dir::prepare_dir(&want, modes, cfg.group)?;
            let ctl = dir.join("ctl");
            let listener = ctl_dir::bind_listener(&ctl)?;
            let setup_err = |err| ctl_dir::SetupError::Bind {
                path: ctl.clone(),
                err,
            };
            crate::sys::unix::chmod(&ctl, modes.ctl).map_err(setup_err)?;
            crate::sys::unix::chown(&ctl, None, cfg.group).map_err(setup_err)?;
            Ok((dir, ctl, listener))
        })();
        let (dir, ctl, listener) = match made {
            Ok(m) => m,
            Err(e) => {
                qemu.discard();
                return Err(e);
            }
        };
        let mut s = match Server::new(Flavor::Vde, cfg, dir, ctl, listener, modes) {
            Ok(s) => s,
            Err(e) => {
                qemu.discard();
                return Err(e);
            }
        };
        s.add(signals, &want)?;
        // A socket that cannot be started stops the start, leaving nothing behind.
        if let Err(e) = s.start_qemu_sockets(qemu) {
            s.cleanup();
            return Err(e);
        }
        let mgmt = s.cfg.mgmt.as_ref().and_then(|path| {
            let caps = admission::Caps {
                all: s.cfg.max_sessions,
                per_user: s.cfg.max_sessions_user,
            };
            mgmt::bind(path, s.cfg.mgmtmode, s.cfg.mgmtgroup, caps)
        });
        if let Some(m) = mgmt {
            s.add(m, &want)?;
        }
        Ok(s)
    }

    /// Start the `--stream` and `--dgram` sockets bound by [`Server::bind`]; on error the
    /// ones not started are removed (the caller cleans up the others).
    fn start_qemu_sockets(
        &mut self,
        qemu: ports::qemu::QemuSockets,
    ) -> Result<(), ctl_dir::SetupError> {
        let allow = self.cfg.allow_foreign_abstract;
        let mut streams = qemu.streams.into_iter();
        let mut dgrams = qemu.dgrams.into_iter();
        let mut failed = None;
        for (listener, shown) in streams.by_ref() {
            // A subscriber that cannot register is closed, which removes its file.
            if let Err(e) = self.add(listener, std::path::Path::new(&shown)) {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none() {
            for (server, path) in dgrams.by_ref() {
                let (plane, mut env) = self.sw.plane_env();
                if let Err(err) = ports::dgram::start(server, path.clone(), allow, plane, &mut env)
                {
                    let _ = std::fs::remove_file(&path);
                    failed = Some(ctl_dir::SetupError::Bind { path, err });
                    break;
                }
            }
        }
        match failed {
            None => Ok(()),
            Some(e) => {
                ports::qemu::QemuSockets {
                    streams: streams.collect(),
                    dgrams: dgrams.collect(),
                }
                .discard();
                Err(e)
            }
        }
    }

    /// Bind `uml_switch`'s control socket (mode from the umask, as the original).
    pub fn bind_uml(ucfg: &UmlConfig) -> Result<Server, ctl_dir::SetupError> {
        let cfg = Config {
            numports: UML_PORTS,
            hub: ucfg.hub,
            taps: ucfg.tap.iter().cloned().collect(),
            max_pending: ucfg.max_pending,
            max_pending_user: ucfg.max_pending_user,
            ..Config::default()
        };
        let ctl = ucfg.ctl.clone();
        let signals = Server::install_signals(Flavor::Uml, &ctl)?;
        let listener = ctl_dir::bind_listener(&ctl)?;
        let dir = ctl.parent().map(PathBuf::from).unwrap_or_default();
        let mut s = Server::new(
            Flavor::Uml,
            cfg,
            dir,
            ctl.clone(),
            listener,
            Modes::derive(None, None),
        )?;
        s.add(signals, &ctl)?;
        // uml_switch moves a MAC to its new port at once.
        let fabric = s.sw.plane.fabric_mut();
        let timers = MacTimers {
            min_persistence: -1,
            ..fabric.macs().timers()
        };
        fabric.set_mac_timers(timers);
        Ok(s)
    }

    /// Handlers go in before any socket is bound, so a signal right after
    /// `ctl` appears is never fatal (SIGHUP) nor skips the cleanup.
    fn install_signals(
        flavor: Flavor,
        ctl: &std::path::Path,
    ) -> Result<signals::SignalWatch, ctl_dir::SetupError> {
        use nix::sys::signal::Signal;
        let handled: &[i32] = match flavor {
            Flavor::Vde => &[libc::SIGINT, libc::SIGTERM],
            Flavor::Uml => &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP],
        };
        let ignored = match flavor {
            Flavor::Vde => [signals::IGNORED, &[Signal::SIGHUP][..]].concat(),
            Flavor::Uml => signals::IGNORED.to_vec(),
        };
        signals::install(handled, &ignored).map_err(|err| ctl_dir::SetupError::Bind {
            path: ctl.to_path_buf(),
            err,
        })
    }

    fn new(
        flavor: Flavor,
        cfg: Config,
        dir: PathBuf,
        ctl: PathBuf,
        listener: std::os::unix::net::UnixListener,
        modes: Modes,
    ) -> Result<Server, ctl_dir::SetupError> {
        let setup_err = |err| ctl_dir::SetupError::Bind {
            path: ctl.clone(),
            err,
        };
        listener.set_nonblocking(true).map_err(setup_err)?;
        let poll = Poll::new().map_err(setup_err)?;
        let registry = poll.registry().try_clone().map_err(setup_err)?;
        let fabric = Fabric::new(cfg.numports, cfg.hub, cfg.hashsize, cfg.max_macs);
        let mut plane = Plane::new(fabric, cfg.max_frame);
        let info = console::Info {
            pid: std::process::id(),
            mac: cfg.macaddr.unwrap_or_else(random_mac),
            priority: cfg.priority,
            mgmt: cfg.mgmt.clone().map(|p| (p, cfg.mgmtmode)),
            ctl_dir: dir.clone(),
            ctl_mode: modes.ctl,
            vxlan: Default::default(),
        };
        let tree = crate::fstp::Fstp::new(info.mac, cfg.priority, cfg.fstp && !cfg.hub, 0);
        let fstp = fstp::FstpRunner::install(&mut plane, tree);
        let sw = Switch {
            flavor,
            io: Io::new(registry),
            timers: Timers::default(),
            plane,
            info,
            fstp,
            edges: Default::default(),
            start: Instant::now(),
            tick: 0,
            last_gc: 0,
            limits: Limits::default(),
            handshakes: admission::Admission::new(admission::Caps {
                all: cfg.max_pending,
                per_user: cfg.max_pending_user,
            }),
            sessions: admission::Stats {
                caps_all: cfg.max_sessions,
                caps_per_user: cfg.max_sessions_user,
                ..Default::default()
            },
            streams: std::rc::Rc::new(std::cell::RefCell::new(admission::Admission::new(
                admission::Caps {
                    all: cfg.max_stream_pending,
                    per_user: cfg.max_stream_pending_peer,
                },
            ))),
            started: Vec::new(),
            closing: Vec::new(),
            handshake_subs: std::collections::HashMap::new(),
            exit: None,
        };
        let control = ports::vde::Control::new(
            listener,
            ctl.clone(),
            ports::vde::Settings {
                flavor,
                dir,
                modes,
                group: cfg.group,
                mgmt_mode: cfg.mgmtmode,
                mgmt_group: cfg.mgmtgroup,
                allow_foreign_abstract: cfg.allow_foreign_abstract,
            },
        );
        let mut s = Server {
            poll,
            subs: Subscribers::default(),
            sw,
            cfg,
        };
        s.add(control, &ctl)?;
        Ok(s)
    }

    fn add(
        &mut self,
        sub: impl Subscriber + 'static,
        path: &std::path::Path,
    ) -> Result<(), ctl_dir::SetupError> {
        self.subs
            .add(Box::new(sub), &mut self.sw)
            .map(|_| ())
            .map_err(|err| ctl_dir::SetupError::Bind {
                path: path.to_path_buf(),
                err,
            })
    }

    /// The canonical control directory.
    pub fn dir(&self) -> &PathBuf {
        &self.sw.info.ctl_dir
    }

    /// Seconds since the loop started (the reference's tick counter).
    pub fn uptime(&self) -> u64 {
        self.sw.tick
    }

    /// Attach the `-t` tap interfaces, each to an automatically allocated port
    /// (before daemonising: opening a tap usually needs privileges).
    pub fn attach_taps(&mut self) -> Result<(), String> {
        let (plane, mut env) = self.sw.plane_env();
        ports::tap::attach_all(&self.cfg.taps, plane, &mut env)
    }

    /// Open the `--vxlan` uplinks, each on an automatically allocated port.
    pub fn attach_vxlans(&mut self) -> Result<(), String> {
        let registry = self.sw.info.vxlan.clone();
        let (plane, mut env) = self.sw.plane_env();
        ports::vxlan::attach_all(&self.cfg.vxlans, &registry, plane, &mut env)
    }

    /// Start the `--capture` captures (before daemonising, so a refused path reaches the
    /// terminal): each runs as `port/capture N PATH`; the first refusal is returned.
    pub fn start_captures(&mut self) -> Result<(), String> {
        for (port, path) in self.cfg.captures.clone() {
            let line = format!("port/capture {port} {}", path.display());
            let mut out = String::new();
            console::run(
                &mut PlainHost(&mut self.sw),
                console::Origin::RcFile,
                &line,
                &mut out,
            );
            let status = out
                .lines()
                .last()
                .and_then(vde_protocol::console::Status::parse);
            if !status.as_ref().is_some_and(|s| s.is_success()) {
                let why: Vec<&str> = out
                    .lines()
                    .filter(|l| {
                        !l.starts_with("0000 DATA") && *l != "." && Some(*l) != out.lines().last()
                    })
                    .collect();
                return Err(format!(
                    "--capture {port}:{}: {}",
                    path.display(),
                    why.join(" ")
                ));
            }
        }
        Ok(())
    }

    /// Take commands from stdin from now on.
    pub fn enable_stdin_console(&mut self) -> io::Result<()> {
        let console = stdin::StdinConsole::new(self.sw.flavor);
        self.subs.add(Box::new(console), &mut self.sw).map(|_| ())
    }

    /// The forwarding fabric, read only (what the service manager is told about).
    pub fn fabric(&self) -> &Fabric {
        self.sw.plane.fabric()
    }

    /// Run an rc file at start (see [`console::run_rc_file`]).
    pub fn run_rc_file(
        &mut self,
        path: &std::path::Path,
    ) -> Result<console::Outcome, console::script::ScriptError> {
        let outcome = console::run_rc_file(&mut PlainHost(&mut self.sw), path)?;
        if outcome == console::Outcome::Shutdown {
            log_info!("Shutdown from mgmt command");
        }
        Ok(outcome)
    }

    /// Run until a fatal signal or a shutdown command.
    pub fn run(&mut self) -> io::Result<Exit> {
        let sw = &mut self.sw;
        sw.start = Instant::now();
        sw.timers.set(sw.start + TICK, Due::Tick);
        let mut events = Events::with_capacity(256);
        loop {
            // Links left unread when their budget ran out have no new edge
            // coming: serve them before sleeping.
            let timeout = if self.sw.plane.has_work() {
                Duration::ZERO
            } else {
                self.sw
                    .timers
                    .next()
                    .map_or(TICK, |t| t.saturating_duration_since(Instant::now()))
            };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for ev in events.iter() {
                self.dispatch(ev);
                if let Some(exit) = self.sw.exit {
                    return Ok(exit);
                }
            }
            let (plane, mut env) = self.sw.plane_env();
            plane.serve_backlog(&mut env);
            self.fire_timers();
            let events = self.sw.take_all_events();
            if !events.is_empty() {
                self.subs.fabric_events(&events, &mut self.sw);
            }
            if let Some(exit) = self.sw.exit {
                return Ok(exit);
            }
        }
    }

    fn dispatch(&mut self, ev: &mio::event::Event) {
        let token = ev.token();
        match self.sw.io.target(token) {
            Some(Target::Sub(key)) => {
                self.subs
                    .with(key, &mut self.sw, |sub, sw| sub.ready(token, ev, sw));
            }
            Some(Target::Link(key, fd)) => {
                let (plane, mut env) = self.sw.plane_env();
                plane.ready(&mut env, key, fd, ev);
            }
            // Released while this round's events were pending.
            None => {}
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(due) = self.sw.timers.pop_due(now) {
            match due {
                Due::Tick => self.sw.on_tick(),
                Due::StuckCheck => {
                    let (plane, mut env) = self.sw.plane_env();
                    plane.check_stuck(&mut env);
                }
                Due::Sub(key, tag) => {
                    self.subs
                        .with(key, &mut self.sw, |sub, sw| sub.timer(tag, sw));
                }
                Due::Link(key, tag) => {
                    let (plane, mut env) = self.sw.plane_env();
                    plane.link_timer(&mut env, key, tag);
                }
                Due::Hook(key, tag) => {
                    let (plane, mut env) = self.sw.plane_env();
                    plane.hook_timer(&mut env, key, tag);
                }
            }
        }
    }

    /// Close every endpoint and remove the files the switch made.
    pub fn cleanup(&mut self) {
        let (plane, mut env) = self.sw.plane_env();
        plane.close_all(&mut env);
        self.subs.close_all(&mut self.sw);
    }
}

/// `00:ff:` plus four random bytes, as the reference picks its MAC.
fn random_mac() -> vde_protocol::MacAddr {
    use std::io::Read;
    let mut r = [0u8; 4];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut r));
    if random.is_err() {
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
