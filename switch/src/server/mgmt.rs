//! Management sessions on the `-M` socket: banner, prompt, one command per
//! read (vdeterm sends no newline) or one per line when a read holds several,
//! output buffered so a slow reader neither blocks the switch nor loses bytes,
//! and the debug lines each session subscribed to.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use mio::{Interest, Token};
use vde_protocol::console::{BANNER, PROMPT};

use super::admission::{Admission, Caps};
use super::console::{self, debug_lines, Origin, Outcome, Subscriptions};
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

struct Session {
    /// Debug categories this session subscribed to.
    debug: Subscriptions,
    stream: UnixStream,
    pending: Vec<u8>,
    closing: bool,
    writable_armed: bool,
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
                    sw.timers
                        .set(std::time::Instant::now() + ACCEPT_RETRY, Due::Sub(me, 0));
                    return;
                }
            }
        }
        // A full batch: the rest at the next turn of the loop (see the control socket's).
        sw.timers.set(std::time::Instant::now(), Due::Sub(me, 0));
    }

    /// Readiness on a session.
    fn on_session(&mut self, sw: &mut Switch, token: Token) {
        self.flush(sw, token);
        let mut buf = [0u8; 4096];
        loop {
            let Some(s) = self.sessions.get_mut(&token) else {
                return;
            };
            if s.closing {
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
        let commands: Vec<&str> = if body.contains('\n') {
            body.split('\n').collect()
        } else {
            vec![body]
        };
        for cmd in commands {
            let Some(s) = self.sessions.get_mut(&token) else {
                return false;
            };
            let mut out = String::new();
            let outcome = console::run(
                &mut SessionHost {
                    sw,
                    debug: &mut s.debug,
                },
                Origin::Session,
                cmd,
                &mut out,
            );
            // Event lines the command caused go out before its answer, as in the reference.
            let events = sw.take_all_events();
            self.broadcast(sw, &events);
            let Some(s) = self.sessions.get_mut(&token) else {
                return false;
            };
            s.pending.extend_from_slice(out.as_bytes());
            match outcome {
                Outcome::Continue => s.pending.extend_from_slice(PROMPT.as_bytes()),
                Outcome::Logout | Outcome::Shutdown => {
                    s.closing = true;
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
        true
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

    fn timer(&mut self, _: u64, sw: &mut Switch) -> Keep {
        self.accept_sessions(sw);
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
