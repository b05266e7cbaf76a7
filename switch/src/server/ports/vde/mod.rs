//! Clients of the control socket (`DIR/ctl` for vde_switch, the `-unix` path for
//! uml_switch): libvdeplug programs, UML kernels, QEMU. A client connects, sends one request
//! ([`vde_protocol::request`]), gets the address of its own data socket, and exchanges
//! frames on that datagram socket; its control connection stays open, and its end is the
//! end of the endpoint.
//!
//! * [`Control`] listens and accepts (bounding unfinished handshakes per user and in all);
//! * [`handshake`] serves one request and hands the connection to the endpoint's link;
//! * [`link`] carries the endpoint's frames.

mod handshake;
mod link;

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::Token;

use crate::server::ctl_dir::Modes;
use crate::server::listening::Listening;
use crate::server::reactor::{Keep, Subscriber};
use crate::server::slab::Key;
use crate::server::timers::Due;
use crate::server::{suppressed, Flavor, Switch};
use crate::sys::unix;
use crate::{log_err, log_warn};
use handshake::Handshake;

/// The module name `port/print` shows.
pub const MODULE: &str = "unix prog";

/// Connections accepted in one go: a client that reconnects as fast as it is evicted must not
/// keep the loop accepting forever while everybody else waits (the rest of the backlog is
/// taken at the next turn of the loop).
pub const ACCEPT_BATCH: usize = 64;

/// How long accepting stops after it failed (out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// What serving a request needs to know about the switch.
pub struct Settings {
    pub flavor: Flavor,
    /// Where data sockets are made (vde_switch).
    pub dir: PathBuf,
    pub modes: Modes,
    /// `-g`: group of the data sockets.
    pub group: Option<u32>,
    /// `--mgmtmode` and `--mgmtgroup`, which port 0's data socket gets.
    pub mgmt_mode: u32,
    pub mgmt_group: Option<u32>,
    /// `--allow-abstract`.
    pub allow_foreign_abstract: bool,
}

impl Settings {
    /// Data socket permissions as the reference sets them.
    fn set_data_socket_perms(&self, path: &Path, user: Option<u32>, port0: bool) {
        let mode = self.modes.ctl;
        let group = self.group;
        let _ = if unix::euid() != 0 {
            unix::chmod(path, mode)
        } else if let Some(uid) = user {
            unix::chmod(path, mode & 0o700).and_then(|_| unix::chown(path, Some(uid), group))
        } else {
            unix::chmod(path, mode).and_then(|_| unix::chown(path, None, group))
        };
        if port0 {
            let _ = unix::chmod(path, self.mgmt_mode);
            let _ = unix::chown(path, None, self.mgmt_group);
        }
    }
}

/// The listening control socket.
pub struct Control {
    listener: Listening,
    /// Its path, removed at exit (with the directory, for vde_switch).
    path: PathBuf,
    me: Option<Key>,
    settings: Rc<Settings>,
}

impl Control {
    pub fn new(listener: UnixListener, path: PathBuf, settings: Settings) -> Control {
        Control {
            listener: Listening::new(listener),
            path,
            me: None,
            settings: Rc::new(settings),
        }
    }

    fn accept_all(&mut self, sw: &mut Switch) {
        // The batch's handshakes start when it is done, so that one evicted by a later
        // newcomer of the same batch is dropped here rather than started.
        let mut batch: Vec<Handshake> = Vec::new();
        let full = self.accept_batch(sw, &mut batch);
        for h in batch {
            sw.start(Box::new(h));
        }
        // More may wait, with no new edge coming: the next turn of the loop takes them, after
        // the events that arrived meanwhile.
        if let (true, Some(me)) = (full, self.me) {
            sw.timers.set(Instant::now(), Due::Sub(me, 0));
        }
    }

    /// Accept up to [`ACCEPT_BATCH`] connections into `batch`; whether the batch is full.
    fn accept_batch(&mut self, sw: &mut Switch, batch: &mut Vec<Handshake>) -> bool {
        for _ in 0..ACCEPT_BATCH {
            match self.listener.accept() {
                Ok(stream) => {
                    // Unfinished handshakes are bounded per user and in all (fair
                    // admission): the newcomer is admitted, and the connection idle the
                    // longest of the heaviest user makes room for it.
                    let uid = unix::peer_cred(&stream).map(|c| c.uid).unwrap_or(u32::MAX);
                    let fd = stream.as_raw_fd();
                    if let Some((victim, of)) = sw.handshakes.admit(fd, uid, Instant::now()) {
                        // Closed at once: a client reconnecting as fast as it is evicted
                        // must not pile up connections waiting for their end to be read.
                        if let Some(i) = batch.iter().position(|h| h.fd() == victim) {
                            batch.swap_remove(i);
                        } else if let Some(key) = sw.handshake_subs.remove(&victim) {
                            sw.close_sub(key);
                        } else {
                            unix::shutdown(victim);
                        }
                        if let Some(n) = sw.limits.refused.allow(sw.tick, 10, 1) {
                            let caps = sw.handshakes.stats();
                            // Which options raise the caps, as this program spells them.
                            let dash = match self.settings.flavor {
                                Flavor::Vde => "--",
                                Flavor::Uml => "-",
                            };
                            log_warn!(
                                "unfinished handshakes at their cap ({} in all, cap {}; {} of uid {}, cap {}): closed the one on fd {}, idle the longest, for a new one of uid {} (the caps are set with {dash}maxpending and {dash}maxpending-user){}",
                                sw.handshakes.len(),
                                caps.caps_all,
                                sw.handshakes.of_user(of),
                                of,
                                caps.caps_per_user,
                                victim,
                                uid,
                                suppressed(n)
                            );
                        }
                    }
                    batch.push(Handshake::new(stream, Rc::clone(&self.settings)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors (or similar): stop accepting for a while
                    // instead of spinning on an error that stays.
                    if let Some(me) = self.me {
                        sw.timers
                            .set(Instant::now() + ACCEPT_RETRY, Due::Sub(me, 0));
                    }
                    if let Some(n) = sw.limits.accept.allow(sw.tick, 10, 1) {
                        log_err!("accept on control socket: {}{}", e, suppressed(n));
                    }
                    return false;
                }
            }
        }
        true
    }
}

impl Subscriber for Control {
    fn register(&mut self, me: Key, sw: &mut Switch) -> io::Result<()> {
        self.me = Some(me);
        self.listener.watch(me, sw)
    }

    fn ready(&mut self, _: Token, _: &mio::event::Event, sw: &mut Switch) -> Keep {
        self.accept_all(sw);
        Keep::Yes
    }

    fn timer(&mut self, _: u64, sw: &mut Switch) -> Keep {
        self.accept_all(sw);
        Keep::Yes
    }

    /// Remove the socket and, for vde_switch, its directory, unless somebody else's server
    /// took the path meanwhile.
    fn close(&mut self, sw: &mut Switch) {
        self.listener.unwatch(sw);
        if unix::other_listener_at(&self.path, self.listener.as_raw_fd()) {
            log_warn!("Cleanup not removing files");
            return;
        }
        let _ = std::fs::remove_file(&self.path);
        if self.settings.flavor == Flavor::Vde {
            let dir = &self.settings.dir;
            if let Err(e) = std::fs::remove_dir(dir) {
                log_warn!("Cleanup: could not remove {}: {}", dir.display(), e);
            }
        }
    }
}
