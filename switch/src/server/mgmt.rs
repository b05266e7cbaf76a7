//! Management sessions on the `-M` socket: banner, prompt, one command per
//! read (vdeterm sends no newline) or one per line when a read holds several,
//! output buffered so a slow reader neither blocks the switch nor loses bytes,
//! and the debug lines each session subscribed to. A `load` runs a slice of its script per
//! turn of the event loop ([`console::LoadJob`]), so frames and signals are served meanwhile;
//! the session's further input waits until the script has ended.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use mio::{Interest, Token};
use vde_protocol::console::{BANNER, PROMPT};

use super::admission::{Admission, Caps};
use super::console::{self, debug_lines, LoadJob, Origin, Outcome, Started, Subscriptions};
use super::listening::Listening;
use super::reactor::{Keep, Subscriber, Target};
use super::slab::Key;
use super::timers::Due;
use super::{Exit, Switch};
use crate::fabric::Event;
use crate::log_warn;

/// How long accepting stops after it failed (out of descriptors).
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// A session whose unread output grows past this is closed.
const MAX_PENDING: usize = 64 << 20;

/// A slice of a `load`: this long at most (then the loop turns)...
const SLICE_TIME: std::time::Duration = std::time::Duration::from_millis(2);
/// ...and this much output at most.
const SLICE_OUTPUT: usize = 256 << 10;
/// A `load` waits while its session has this much output unread (it goes on as the client
/// reads), so a client that does not read holds its script, not the switch's memory.
const LOAD_PAUSE: usize = 1 << 20;

/// The timer tag of the accept retry; a session's `load` slices use its token + 1.
const ACCEPT_TAG: u64 = 0;

struct Session {
    /// Debug categories this session subscribed to.
    debug: Subscriptions,
    stream: UnixStream,
    pending: Vec<u8>,
    closing: bool,
    writable_armed: bool,
    /// The `load` running, if any.
    job: Option<LoadJob>,
    /// A slice of `job` is due at the next turn of the loop.
    job_due: bool,
    /// Commands of the last read not run yet (they wait for a `load` among them).
    held: VecDeque<String>,
}

impl Session {
    /// Running a `load`, or holding commands behind one: input is not read meanwhile.
    fn busy(&self) -> bool {
        self.job.is_some() || !self.held.is_empty()
    }
}

/// The management socket and its sessions.
pub struct Mgmt {
    listener: Listening,
    /// Removed at exit.
    path: PathBuf,
    me: Option<Key>,
    sessions: HashMap<Token, Session>,
    /// Sessions per user and in all (fair admission, as for handshakes).
    admission: Admission<Token>,
}

/// Bind the management socket; a live server there disables it with a warning.
pub fn bind(path: &std::path::Path, mode: u32, group: Option<u32>, caps: Caps) -> Option<Mgmt> {
    let listener = match super::ctl_dir::bind_listener(path) {
        Ok(l) => l,
        Err(e) => {
            log_warn!("management socket disabled: {e}");
            return None;
        }
    };
    let _ = crate::sys::unix::chmod(path, mode);
    let _ = crate::sys::unix::chown(path, None, group);
    listener.set_nonblocking(true).ok()?;
    Some(Mgmt {
        listener: Listening::new(listener),
        path: path.to_path_buf(),
        me: None,
        sessions: HashMap::new(),
        admission: Admission::new(caps),
    })
}

/// The console as a session runs it.
struct SessionHost<'a> {
    sw: &'a mut Switch,
    debug: &'a mut Subscriptions,
}

impl console::Host for SessionHost<'_> {
    fn ctx(&mut self) -> console::Ctx<'_> {
        self.sw.console_ctx(Some(*self.debug))
    }

    fn apply(&mut self, effect: console::Effect) {
        match effect {
            console::Effect::Subscribe(s) => *self.debug = s,
            other => self.sw.apply(other),
        }
    }
}

impl Mgmt {
    fn accept_sessions(&mut self, sw: &mut Switch) {
        let Some(me) = self.me else {
            return;
        };
        for _ in 0..crate::server::ports::vde::ACCEPT_BATCH {
            match self.listener.accept() {
                Ok(stream) => {
                    let Ok(token) =
                        sw.io
                            .watch_fd(stream.as_raw_fd(), Interest::READABLE, Target::Sub(me))
                    else {
                        continue;
                    };
                    let uid = crate::sys::unix::peer_cred(&stream)
                        .map(|c| c.uid)
                        .unwrap_or(u32::MAX);
                    if let Some((victim, of)) =
                        self.admission.admit(token, uid, std::time::Instant::now())
                    {
                        if let Some(n) = sw.limits.sessions.allow(sw.tick, 10, 1) {
                            let caps = self.admission.stats();
                            log_warn!(
                                "management sessions at their cap ({} in all, cap {}; {} of uid {}, cap {}): closed the one idle the longest for a new one of uid {}{}",
                                self.admission.len(),
                                caps.caps_all,
                                self.admission.of_user(of),
                                of,
                                caps.caps_per_user,
                                uid,
                                super::suppressed(n)
                            );
                        }
                        self.close_session(sw, victim);
                    }
                    sw.sessions = self.admission.stats();
                    let mut s = Session {
                        debug: 0,
                        stream,
                        pending: Vec::new(),
                        closing: false,
                        writable_armed: false,
                        job: None,
                        job_due: false,
                        held: VecDeque::new(),
                    };
                    s.pending.extend_from_slice(BANNER.as_bytes());
                    s.pending.extend_from_slice(PROMPT.as_bytes());
                    self.sessions.insert(token, s);
                    self.flush(sw, token);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    // Out of descriptors: connections wait in the backlog with no new edge
                    // coming; look again in a while instead of never.
                    sw.timers.set(
                        std::time::Instant::now() + ACCEPT_RETRY,
                        Due::Sub(me, ACCEPT_TAG),
                    );
                    return;
                }
            }
        }
        // A full batch: the rest at the next turn of the loop (see the control socket's).
        sw.timers
            .set(std::time::Instant::now(), Due::Sub(me, ACCEPT_TAG));
    }

    /// Readiness on a session.
    fn on_session(&mut self, sw: &mut Switch, token: Token) {
        self.flush(sw, token);
        self.read_input(sw, token);
    }

    /// Read and run what the client sent, unless a `load` is running.
    fn read_input(&mut self, sw: &mut Switch, token: Token) {
        let mut buf = [0u8; 4096];
        loop {
            let Some(s) = self.sessions.get_mut(&token) else {
                return;
            };
            // What arrives during a `load` waits in the socket; it is read when the load
            // has ended (see `on_slice`).
            if s.closing || s.busy() {
                return;
            }
            match s.stream.read(&mut buf) {
                Ok(0) => return self.close_session(sw, token),
                Ok(n) => {
                    self.admission.touch(token, std::time::Instant::now());
                    let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if !self.run_chunk(sw, token, &chunk) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close_session(sw, token),
            }
        }
    }

    /// One read: a single command, or one command per line when the read
    /// holds several lines (the reference would run only the first). Whether
    /// the session goes on.
    fn run_chunk(&mut self, sw: &mut Switch, token: Token, chunk: &str) -> bool {
        let body = chunk.strip_suffix('\n').unwrap_or(chunk);
        let Some(s) = self.sessions.get_mut(&token) else {
            return false;
        };
        if body.contains('\n') {
            s.held.extend(body.split('\n').map(str::to_string));
        } else {
            s.held.push_back(body.to_string());
        }
        self.run_held(sw, token)
    }

    /// Run the held commands in order, up to a `load` (which then runs a slice per turn of
    /// the loop). Whether the session goes on.
    fn run_held(&mut self, sw: &mut Switch, token: Token) -> bool {
        loop {
            let Some(s) = self.sessions.get_mut(&token) else {
                return false;
            };
            if s.job.is_some() {
                break;
            }
            let Some(cmd) = s.held.pop_front() else {
                break;
            };
            let Some(started) = self.as_session(sw, token, |host, _, out| {
                console::start(host, Origin::Session, &cmd, out)
            }) else {
                return false;
            };
            let Some(s) = self.sessions.get_mut(&token) else {
                return false;
            };
            match started {
                // Its first slice is set by `flush`, below.
                Started::Load(job) => s.job = Some(job),
                Started::Done(Outcome::Continue) => s.pending.extend_from_slice(PROMPT.as_bytes()),
                Started::Done(outcome @ (Outcome::Logout | Outcome::Shutdown)) => {
                    s.closing = true;
                    s.held.clear();
                    self.flush(sw, token);
                    if outcome == Outcome::Shutdown {
                        crate::log_info!("Shutdown from mgmt command");
                        sw.exit = Some(Exit::Shutdown);
                    }
                    return false;
                }
            }
        }
        self.flush(sw, token);
        self.sessions.contains_key(&token)
    }

    /// A slice of the session's `load`; when it ends, the prompt, then the commands held
    /// behind it and what the client sent meanwhile.
    fn on_slice(&mut self, sw: &mut Switch, token: Token) {
        let Some(s) = self.sessions.get_mut(&token) else {
            return;
        };
        s.job_due = false;
        // Paused: `flush` sets the next slice when the client has read enough.
        if s.closing || s.pending.len() >= LOAD_PAUSE {
            return;
        }
        if s.job.is_none() {
            return;
        }
        let now = std::time::Instant::now();
        self.admission.touch(token, now);
        let slice = console::Slice {
            until: Some(now + SLICE_TIME),
            output: SLICE_OUTPUT,
        };
        let done = self.as_session(sw, token, |host, job, out| {
            job.as_mut().is_none_or(|job| job.step(host, out, slice))
        });
        let (Some(done), Some(s)) = (done, self.sessions.get_mut(&token)) else {
            return;
        };
        if !done {
            return self.flush(sw, token);
        }
        s.job = None;
        s.pending.extend_from_slice(PROMPT.as_bytes());
        if self.run_held(sw, token) {
            self.read_input(sw, token);
        }
    }

    /// Run `f` as session `token` (its console host, its `load`, the buffer for its answer),
    /// then send the event lines it caused to the subscribed sessions before queueing the
    /// answer, as in the reference. `None` when the session is gone.
    fn as_session<R>(
        &mut self,
        sw: &mut Switch,
        token: Token,
        f: impl FnOnce(&mut SessionHost<'_>, &mut Option<LoadJob>, &mut String) -> R,
    ) -> Option<R> {
        let s = self.sessions.get_mut(&token)?;
        let mut out = String::new();
        let result = f(
            &mut SessionHost {
                sw,
                debug: &mut s.debug,
            },
            &mut s.job,
            &mut out,
        );
        let events = sw.take_all_events();
        self.broadcast(sw, &events);
        let s = self.sessions.get_mut(&token)?;
        s.pending.extend_from_slice(out.as_bytes());
        Some(result)
    }

    /// Send an event's lines to the sessions subscribed to its category.
    fn broadcast(&mut self, sw: &mut Switch, events: &[Event]) {
        if self.sessions.values().all(|x| x.debug == 0) {
            return;
        }
        for ev in events {
            for (category, line) in debug_lines(ev) {
                let tokens: Vec<Token> = self
                    .sessions
                    .iter()
                    .filter(|(_, x)| x.debug & category != 0 && !x.closing)
                    .map(|(&t, _)| t)
                    .collect();
                for token in tokens {
                    if let Some(s) = self.sessions.get_mut(&token) {
                        s.pending.extend_from_slice(line.as_bytes());
                    }
                    self.flush(sw, token);
                }
            }
        }
    }

    fn flush(&mut self, sw: &mut Switch, token: Token) {
        let Some(s) = self.sessions.get_mut(&token) else {
            return;
        };
        while !s.pending.is_empty() {
            match s.stream.write(&s.pending) {
                Ok(0) => break,
                Ok(n) => {
                    s.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return self.close_session(sw, token),
            }
        }
        let done = s.pending.is_empty();
        if done && s.closing {
            return self.close_session(sw, token);
        }
        if s.pending.len() > MAX_PENDING {
            log_warn!(
                "management session on fd {} does not read its output; closed",
                s.stream.as_raw_fd()
            );
            return self.close_session(sw, token);
        }
        let want_write = !done;
        if want_write != s.writable_armed {
            s.writable_armed = want_write;
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = sw.io.rewatch_fd(token, s.stream.as_raw_fd(), interest);
        }
        // The next slice of a `load`, at the next turn of the loop, unless the client has
        // too much to read yet.
        if s.job.is_some() && !s.job_due && !s.closing && s.pending.len() < LOAD_PAUSE {
            if let Some(me) = self.me {
                s.job_due = true;
                let tag = token.0 as u64 + 1;
                sw.timers.set(std::time::Instant::now(), Due::Sub(me, tag));
            }
        }
    }

    fn close_session(&mut self, sw: &mut Switch, token: Token) {
        self.admission.remove(token);
        sw.sessions = self.admission.stats();
        if let Some(s) = self.sessions.remove(&token) {
            sw.io.unwatch_fd(token, s.stream.as_raw_fd());
        }
    }
}

impl Subscriber for Mgmt {
    fn register(&mut self, me: Key, sw: &mut Switch) -> io::Result<()> {
        self.me = Some(me);
        self.listener.watch(me, sw)
    }

    fn ready(&mut self, token: Token, _: &mio::event::Event, sw: &mut Switch) -> Keep {
        if self.listener.is(token) {
            self.accept_sessions(sw);
        } else {
            self.on_session(sw, token);
        }
        Keep::Yes
    }

    fn timer(&mut self, tag: u64, sw: &mut Switch) -> Keep {
        match tag {
            ACCEPT_TAG => self.accept_sessions(sw),
            session => self.on_slice(sw, Token((session - 1) as usize)),
        }
        Keep::Yes
    }

    fn wants_fabric_events(&self) -> bool {
        true
    }

    fn fabric_events(&mut self, events: &[Event], sw: &mut Switch) {
        self.broadcast(sw, events);
    }

    fn close(&mut self, sw: &mut Switch) {
        for token in self.sessions.keys().copied().collect::<Vec<_>>() {
            self.close_session(sw, token);
        }
        self.listener.unwatch(sw);
        let _ = std::fs::remove_file(&self.path);
    }
}
