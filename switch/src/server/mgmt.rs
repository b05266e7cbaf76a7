//! Management sessions on the `-M` socket: banner, prompt, one command per
//! read (vdeterm sends no newline) or one per line when a read holds several,
//! output buffered so a slow reader neither blocks the switch nor loses bytes.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use vde_protocol::console::{BANNER, PROMPT};

use super::console::{debug_lines, Origin, Outcome, Subscriptions};
use crate::fabric::Event;
use crate::log_warn;
use crate::server::{Exit, Server, SESSION_BASE};

/// A session whose unread output grows past this is closed.
const MAX_PENDING: usize = 64 << 20;

pub struct Session {
    /// Debug categories this session subscribed to.
    pub debug: Subscriptions,
    stream: UnixStream,
    pending: Vec<u8>,
    closing: bool,
    writable_armed: bool,
}

/// Bind the management socket; a live server there disables it with a warning.
pub fn bind_mgmt(path: &std::path::Path, mode: u32, group: Option<u32>) -> Option<UnixListener> {
    let listener = match crate::server::ctl_dir::bind_listener(path) {
        Ok(l) => l,
        Err(e) => {
            log_warn!("management socket disabled: {e}");
            return None;
        }
    };
    let _ = crate::sys::unix::chmod(path, mode);
    let _ = crate::sys::unix::chown(path, None, group);
    listener.set_nonblocking(true).ok()?;
    Some(listener)
}

impl Server {
    pub(crate) fn accept_sessions(&mut self) {
        loop {
            let Some(listener) = &self.mgmt else {
                return;
            };
            match listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let fd = stream.as_raw_fd();
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut SourceFd(&fd),
                            Token(SESSION_BASE + fd as usize),
                            Interest::READABLE,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    let mut s = Session {
                        debug: 0,
                        stream,
                        pending: Vec::new(),
                        closing: false,
                        writable_armed: false,
                    };
                    s.pending.extend_from_slice(BANNER.as_bytes());
                    s.pending.extend_from_slice(PROMPT.as_bytes());
                    self.sessions.insert(fd, s);
                    self.flush_session(fd);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    /// Handle readiness on a session; returns Some(exit) on `shutdown`.
    pub(crate) fn on_session(&mut self, fd: RawFd) -> Option<Exit> {
        self.flush_session(fd);
        let mut buf = [0u8; 4096];
        loop {
            let s = self.sessions.get_mut(&fd)?;
            if s.closing {
                return None;
            }
            match s.stream.read(&mut buf) {
                Ok(0) => {
                    self.close_session(fd);
                    return None;
                }
                Ok(n) => {
                    let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if let Some(exit) = self.run_chunk(fd, &chunk) {
                        return Some(exit);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close_session(fd);
                    return None;
                }
            }
        }
    }

    /// One read: a single command, or one command per line when the read
    /// holds several lines (the reference would run only the first).
    fn run_chunk(&mut self, fd: RawFd, chunk: &str) -> Option<Exit> {
        let body = chunk.strip_suffix('\n').unwrap_or(chunk);
        let commands: Vec<&str> = if body.contains('\n') {
            body.split('\n').collect()
        } else {
            vec![body]
        };
        for cmd in commands {
            let mut out = String::new();
            let outcome = self.run_command(Origin::Session, Some(fd), cmd, &mut out);
            // Event lines the command caused go out before its answer, as in the reference.
            self.drain_events();
            let s = self.sessions.get_mut(&fd)?;
            s.pending.extend_from_slice(out.as_bytes());
            match outcome {
                Outcome::Continue => s.pending.extend_from_slice(PROMPT.as_bytes()),
                Outcome::Logout => {
                    s.closing = true;
                    self.flush_session(fd);
                    return None;
                }
                Outcome::Shutdown => {
                    s.closing = true;
                    self.flush_session(fd);
                    return Some(Exit::Shutdown);
                }
            }
        }
        self.flush_session(fd);
        None
    }

    /// Append asynchronous output (debug events) to a session.
    pub(crate) fn queue_session_output(&mut self, fd: RawFd, bytes: &[u8]) {
        if let Some(s) = self.sessions.get_mut(&fd) {
            if !s.closing {
                s.pending.extend_from_slice(bytes);
            }
        }
        self.flush_session(fd);
    }

    fn flush_session(&mut self, fd: RawFd) {
        let Some(s) = self.sessions.get_mut(&fd) else {
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
                Err(_) => {
                    self.close_session(fd);
                    return;
                }
            }
        }
        let done = s.pending.is_empty();
        if done && s.closing {
            self.close_session(fd);
            return;
        }
        if s.pending.len() > MAX_PENDING {
            log_warn!("management session on fd {fd} does not read its output; closed");
            self.close_session(fd);
            return;
        }
        let want_write = !done;
        if want_write != s.writable_armed {
            s.writable_armed = want_write;
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self.poll.registry().reregister(
                &mut SourceFd(&fd),
                Token(SESSION_BASE + fd as usize),
                interest,
            );
        }
    }

    /// Send an event's lines to the sessions subscribed to its category.
    pub(crate) fn broadcast_debug(&mut self, ev: &Event) {
        if self.sessions.values().all(|x| x.debug == 0) {
            return;
        }
        for (category, line) in debug_lines(ev) {
            let fds: Vec<_> = self
                .sessions
                .iter()
                .filter(|(_, x)| x.debug & category != 0)
                .map(|(&fd, _)| fd)
                .collect();
            for fd in fds {
                self.queue_session_output(fd, line.as_bytes());
            }
        }
    }

    fn close_session(&mut self, fd: RawFd) {
        if let Some(s) = self.sessions.remove(&fd) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&s.stream.as_raw_fd()));
        }
    }
}
