//! QEMU `-netdev dgram` clients: `--dgram PATH` is one unix datagram socket shared by all
//! of them, one frame per datagram. Each distinct sender address becomes an endpoint (module
//! [`MODULE`]) on an automatically allocated port at its first frame; frames back go to that
//! address. A peer is released when it has sent nothing for [`IDLE_TIMEOUT`], when its socket
//! is gone (the file removed, or nobody bound to it: a killed VM), or by the console.
//!
//! Who a peer is follows the vde protocol's rules: the kernel tells the sender's credentials
//! (`SO_PASSCRED`); a pathname socket must be owned by the sender (or the sender is root) and
//! the switch must be able to write it, and the endpoint's user is the socket's owner; an
//! abstract socket is accepted from the switch's own user and root (everyone with
//! `--allow-abstract`); an unbound sender cannot be answered and is refused.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::UnixAddr;

use crate::fabric::{Credentials, EndpointId, PortChoice};
use crate::server::ctl_dir::{Modes, SetupError};
use crate::server::plane::{Env, Link, LinkCx, Plane, Rx};
use crate::server::suppressed;
use crate::server::timers::Due;
use crate::sys::dgram_server::{dgram_peer_alive, DgramServer, Sender};
use crate::sys::log::RateLimit;
use crate::sys::unix::{self, PeerCred};
use crate::{log_info, log_warn};

/// The module name `port/print` shows.
pub const MODULE: &str = "dgram";

/// A peer that sent nothing for this long leaves its port (QEMU does not say when it goes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// How often peers are checked for idleness and for their socket being gone.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// `from` of a frame whose sender was refused: no endpoint has it, so it is dropped.
const NOBODY: EndpointId = EndpointId::MAX;

/// Bind the socket at `path` (before daemonising, so errors reach the terminal), with the
/// control socket's mode and group. A stale socket file (nobody bound to it) is replaced;
/// a live one, or a file that is not a socket, is refused.
pub fn bind(path: &Path, modes: Modes, group: Option<u32>) -> Result<DgramServer, SetupError> {
    let err = |err| SetupError::Bind {
        path: path.to_path_buf(),
        err,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(err(not_a_socket()));
        }
        let addr = UnixAddr::new(path).map_err(|e| err(e.into()))?;
        if dgram_peer_alive(&addr) {
            return Err(err(in_use("--dgram", String::new())));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let server = DgramServer::bind(path).map_err(err)?;
    unix::chmod(path, modes.ctl).map_err(err)?;
    unix::chown(path, None, group).map_err(err)?;
    Ok(server)
}

/// The error for a socket path another program holds.
pub fn in_use(option: &str, owner: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("Address already in use{owner} (stop the program holding it, or give {option} another path)"),
    )
}

/// The error for a path that exists and is not a socket (never removed).
pub fn not_a_socket() -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        "the file exists and is not a socket (remove it or choose another path)",
    )
}

/// Start carrying frames on a bound `--dgram` socket; it has no endpoint until a peer sends.
pub fn start(
    server: DgramServer,
    path: PathBuf,
    allow_foreign_abstract: bool,
    plane: &mut Plane,
    env: &mut Env<'_>,
) -> io::Result<()> {
    let ino = std::fs::symlink_metadata(&path).map(|m| m.ino()).ok();
    let link = DgramLink {
        server,
        path,
        ino,
        allow_foreign_abstract,
        peers: Peers::default(),
        senders: vec![Sender::default(); crate::server::plane::BATCH],
        refused: RateLimit::default(),
        born: Instant::now(),
    };
    let key = plane.add_link(env, Box::new(link), &[])?;
    env.timers
        .set(Instant::now() + CHECK_EVERY, Due::Link(key, 0));
    Ok(())
}

/// One peer of the socket.
#[derive(Debug, Clone)]
struct Peer {
    addr: UnixAddr,
    last: Instant,
    /// A send found its socket gone.
    gone: bool,
    description: String,
}

/// The peers by address and by endpoint id.
#[derive(Default)]
struct Peers {
    by_addr: HashMap<UnixAddr, EndpointId>,
    by_id: HashMap<EndpointId, Peer>,
}

impl Peers {
    fn insert(&mut self, id: EndpointId, peer: Peer) {
        self.by_addr.insert(peer.addr, id);
        self.by_id.insert(id, peer);
    }

    fn remove(&mut self, id: EndpointId) -> Option<Peer> {
        let peer = self.by_id.remove(&id)?;
        self.by_addr.remove(&peer.addr);
        Some(peer)
    }

    /// Peers to release at `now`: idle too long, or found gone, or whose socket `alive`
    /// says is no longer there; with why.
    fn expired(
        &self,
        now: Instant,
        alive: impl Fn(&UnixAddr) -> bool,
    ) -> Vec<(EndpointId, &'static str)> {
        let mut out: Vec<_> = self
            .by_id
            .iter()
            .filter_map(|(&id, p)| {
                if p.gone || !alive(&p.addr) {
                    Some((id, "its socket is gone"))
                } else if now.duration_since(p.last) >= IDLE_TIMEOUT {
                    Some((id, "idle"))
                } else {
                    None
                }
            })
            .collect();
        out.sort_unstable();
        out
    }
}

struct DgramLink {
    server: DgramServer,
    path: PathBuf,
    /// Inode of the socket file we made: at exit it is removed only if still ours.
    ino: Option<u64>,
    allow_foreign_abstract: bool,
    peers: Peers,
    /// Sender of each datagram of a batch.
    senders: Vec<Sender>,
    refused: RateLimit,
    born: Instant,
}

/// How a peer's address reads in logs and `port/print`.
fn shown(addr: &UnixAddr) -> String {
    match (addr.path(), addr.as_abstract()) {
        (Some(p), _) => p.display().to_string(),
        (None, Some(name)) => format!("@{}", String::from_utf8_lossy(name)),
        (None, None) => "(unbound)".to_string(),
    }
}

impl DgramLink {
    /// The endpoint of the datagram from `sender`, attaching a new peer; `None` if refused.
    fn endpoint_of(
        &mut self,
        sender: &Sender,
        now: Instant,
        cx: &mut LinkCx<'_>,
    ) -> Option<EndpointId> {
        if let Some(addr) = &sender.addr {
            if let Some(&id) = self.peers.by_addr.get(addr) {
                if let Some(p) = self.peers.by_id.get_mut(&id) {
                    p.last = now;
                }
                return Some(id);
            }
        }
        match self.admit(sender, cx) {
            Ok((id, peer)) => {
                log_info!(
                    "dgram client ({}) on {}",
                    peer.description,
                    self.path.display()
                );
                self.peers.insert(id, peer);
                Some(id)
            }
            Err(why) => {
                let tick = self.born.elapsed().as_secs();
                if let Some(n) = self.refused.allow(tick, 10, 10) {
                    log_warn!(
                        "refused dgram client on {}: {}{}",
                        self.path.display(),
                        why,
                        suppressed(n)
                    );
                }
                None
            }
        }
    }

    /// Check a new sender and attach it to a free port.
    fn admit(&self, sender: &Sender, cx: &mut LinkCx<'_>) -> Result<(EndpointId, Peer), String> {
        let Some(addr) = sender.addr else {
            return Err("the sender's socket is not bound to an address, so nothing can be sent back (QEMU: give local.type=unix,local.path=...)".into());
        };
        let Some(cred) = sender.cred else {
            return Err(format!("{}: the kernel gave no credentials", shown(&addr)));
        };
        let who = self.credentials(&addr, cred)?;
        let user = who
            .uid
            .map(|u| crate::sys::users::user_name(u).unwrap_or_else(|| u.to_string()))
            .unwrap_or_else(|| "NONE".into());
        let description = format!("{} user={} pid={}", shown(&addr), user, cred.pid);
        let id = cx
            .attach(PortChoice::Any, &who, MODULE, description.clone())
            .map_err(|e| format!("{description}: {e}"))?;
        Ok((
            id,
            Peer {
                addr,
                last: cx.now(),
                gone: false,
                description,
            },
        ))
    }

    /// The vde protocol's ownership rules, applied to a datagram sender.
    fn credentials(&self, addr: &UnixAddr, peer: PeerCred) -> Result<Credentials, String> {
        let uid = match addr.path() {
            Some(path) => {
                let bad = |why: String| format!("client socket {}: {why}", path.display());
                let meta = std::fs::symlink_metadata(path).map_err(|e| bad(e.to_string()))?;
                if !meta.file_type().is_socket() {
                    return Err(bad("not a socket".into()));
                }
                if peer.uid != 0 && meta.uid() != peer.uid {
                    return Err(bad(format!(
                        "owned by uid {} but the client runs as uid {}",
                        meta.uid(),
                        peer.uid
                    )));
                }
                if !unix::can_read_write(path) {
                    return Err(bad(
                        "the switch cannot read and write it (check its mode)".into()
                    ));
                }
                meta.uid()
            }
            None => {
                let ours = unix::euid();
                if peer.uid != ours && peer.uid != 0 && !self.allow_foreign_abstract {
                    return Err(format!(
                        "abstract socket {} of uid {} is not accepted by a switch of uid {ours} (start the switch as that user, or pass --allow-abstract)",
                        shown(addr),
                        peer.uid
                    ));
                }
                peer.uid
            }
        };
        Ok(Credentials {
            uid: Some(uid),
            gids: crate::sys::users::user_groups(uid),
        })
    }
}

impl Link for DgramLink {
    fn fds(&self) -> Vec<RawFd> {
        vec![self.server.as_raw_fd()]
    }

    fn recv(&mut self, rx: &mut Rx<'_>, cx: &mut LinkCx<'_>) -> io::Result<usize> {
        let cap = rx.capacity().min(self.senders.len());
        let n = self.server.recv_batch(
            &mut rx.bufs[..cap],
            &mut rx.lens[..cap],
            &mut self.senders[..cap],
        )?;
        let now = cx.now();
        for i in 0..n {
            let sender = std::mem::take(&mut self.senders[i]);
            rx.from[i] = self.endpoint_of(&sender, now, cx).unwrap_or(NOBODY);
        }
        Ok(n)
    }

    fn send(&mut self, to: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        let Some(peer) = self.peers.by_id.get_mut(&to) else {
            // Released meanwhile: nobody to send to.
            return Ok(frames.len());
        };
        let r = self.server.send_batch(&peer.addr, frames);
        if let Err(e) = &r {
            if matches!(
                e.raw_os_error(),
                Some(libc::ECONNREFUSED) | Some(libc::ENOENT)
            ) {
                // Released at the next check; the data path drops its frames until then.
                peer.gone = true;
            }
        }
        r
    }

    fn timer(&mut self, _tag: u64, cx: &mut LinkCx<'_>) {
        let now = cx.now();
        for (id, why) in self.peers.expired(now, dgram_peer_alive) {
            if let Some(peer) = self.peers.remove(id) {
                log_info!("dgram client ({}) left: {why}", peer.description);
            }
            cx.release(id);
        }
        cx.set_timer(now + CHECK_EVERY, 0);
    }

    fn endpoint_closed(&mut self, id: EndpointId) {
        if let Some(peer) = self.peers.remove(id) {
            log_info!(
                "dgram client ({}) disconnected by the switch",
                peer.description
            );
        }
    }

    fn shared(&self) -> bool {
        true
    }

    /// Remove the socket file, unless it was replaced by somebody else's.
    fn release(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path).map(|m| m.ino()).ok();
        if ours.is_some() && ours == self.ino {
            let _ = std::fs::remove_file(&self.path);
        } else if ours.is_some() {
            log_warn!("Cleanup not removing {}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(path: &str, last: Instant) -> Peer {
        Peer {
            addr: UnixAddr::new(path).unwrap(),
            last,
            gone: false,
            description: path.into(),
        }
    }

    #[test]
    fn peers_expire_when_idle_gone_or_dead() {
        let t0 = Instant::now();
        let mut peers = Peers::default();
        peers.insert(1, peer("/a", t0));
        peers.insert(2, peer("/b", t0 + Duration::from_secs(100)));
        peers.insert(3, peer("/c", t0 + Duration::from_secs(200)));
        peers.insert(4, peer("/d", t0 + Duration::from_secs(200)));
        peers.by_id.get_mut(&3).unwrap().gone = true;
        let dead = UnixAddr::new("/d").unwrap();
        let alive = |a: &UnixAddr| *a != dead;
        assert_eq!(
            peers.expired(t0 + IDLE_TIMEOUT - Duration::from_secs(1), alive),
            [(3, "its socket is gone"), (4, "its socket is gone")]
        );
        assert_eq!(
            peers.expired(t0 + IDLE_TIMEOUT, alive),
            [
                (1, "idle"),
                (3, "its socket is gone"),
                (4, "its socket is gone")
            ]
        );
        assert_eq!(peers.remove(1).unwrap().description, "/a");
        assert!(!peers.by_addr.contains_key(&UnixAddr::new("/a").unwrap()));
        assert_eq!(peers.by_addr[&UnixAddr::new("/b").unwrap()], 2);
    }
}
