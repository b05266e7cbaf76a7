//! QEMU `-netdev stream` clients (also passt and socket_vmnet, which frame the same way):
//! `--stream PATH` listens on a unix stream socket, `--stream tcp:ADDR:PORT` on TCP. Each
//! accepted connection is one endpoint on an automatically allocated port (module
//! [`MODULE`]); each frame on the connection is preceded by its length as a 4-byte big-endian
//! number ([`vde_protocol::stream`]).
//!
//! Batching is the point of this kind: one `read` takes as many frames as the peer wrote
//! (up to `READ_BUF` bytes), and one `write` sends every frame of a receiver's batch.
//!
//! A peer whose stream cannot be decoded (a zero length, a length above what QEMU itself
//! accepts, the stream ending inside a frame) loses its connection and its port with a log
//! line; frames longer than `--maxframe` but within QEMU's limit are dropped and counted as
//! oversize, as for every other kind. The end of the connection frees the port.
//!
//! A connection holds a port from the moment it is accepted, before it has shown it is a VM
//! at all; until it has sent a whole frame it is *pending*, and pending connections are under
//! fair admission ([`crate::server::admission`]), per peer (the uid from `SO_PEERCRED` on a
//! unix socket, the remote address over TCP) and in all, shared by every `--stream`
//! listener. When a newcomer does not fit (the cap in all) or finds no free port (a vde
//! client too), the pending connection idle the longest goes: of the newcomer's own peer if
//! that peer is at its cap, else of the peer holding the most. So silent connections from one
//! user or one host cannot keep anybody else's VMs off the switch, and while there is room a
//! host may start more VMs at once than its cap (a booting VM is silent for a while). A
//! connection that has sent a whole frame is a live VM and is never evicted.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use vde_protocol::stream::{Decoder, Framing, QEMU_MAX_FRAME};

use crate::config::StreamAddr;
use crate::fabric::{AttachError, Credentials, Endpoint, EndpointId, PortChoice};
use crate::server::admission::Admission;
use crate::server::ctl_dir::{self, Modes, SetupError};
use crate::server::plane::{Link, LinkCx, Readiness, Rx};
use crate::server::ports::vde::ACCEPT_BATCH;
use crate::server::reactor::{Keep, Subscriber, Target};
use crate::server::slab::Key;
use crate::server::timers::Due;
use crate::server::{suppressed, Switch};
use crate::sys::log::RateLimit;
use crate::sys::unix;
use crate::{log_err, log_info, log_warn};

/// The module name `port/print` shows.
pub const MODULE: &str = "stream";

/// Bytes taken by one `read`: many small frames, or a few large ones, per system call.
const READ_BUF: usize = 256 * 1024;

/// How long accepting stops after it failed (out of descriptors).
const ACCEPT_RETRY: Duration = Duration::from_secs(1);

/// Who a stream connection is charged to by fair admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A unix socket's peer user (`SO_PEERCRED`).
    Uid(u32),
    /// A TCP peer's address: an IPv4 address, or the /64 network of an IPv6 one (a host is
    /// commonly given a whole /64, so counting single IPv6 addresses would count nothing).
    Addr(IpAddr),
}

impl Peer {
    fn of_tcp(addr: IpAddr) -> Peer {
        match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Peer::Addr(IpAddr::V4(v4)),
                None => Peer::Addr(IpAddr::V6(Ipv6Addr::from_bits(
                    v6.to_bits() & !((1u128 << 64) - 1),
                ))),
            },
            v4 => Peer::Addr(v4),
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Uid(uid) => write!(f, "uid {uid}"),
            Peer::Addr(IpAddr::V4(a)) => write!(f, "address {a}"),
            Peer::Addr(IpAddr::V6(a)) => write!(f, "address {a}/64"),
        }
    }
}

/// Stream connections that have not sent a whole frame yet, named by their endpoint ids;
/// one set for every `--stream` listener of the switch.
pub type Pending = Rc<RefCell<Admission<EndpointId, Peer>>>;

/// A rate limit of log lines shared by a listener and its links (since when, and the limit).
type Lines = Rc<RefCell<(Instant, RateLimit)>>;

fn lines() -> Lines {
    Rc::new(RefCell::new((Instant::now(), RateLimit::default())))
}

/// Whether a line may be logged now, at most `per_10s` in 10 s; `Some(lines suppressed
/// before it)`.
fn allow(lines: &Lines, per_10s: u32) -> Option<u64> {
    let (since, limit) = &mut *lines.borrow_mut();
    limit.allow(since.elapsed().as_secs(), 10, per_10s)
}

/// Lines about clients coming and going in 10 s: a few VMs starting together are all shown.
const COMINGS_PER_10S: u32 = 20;
/// Lines about broken streams in 10 s.
const BROKEN_PER_10S: u32 = 10;

/// A listening socket of either family.
enum Listener {
    Unix { sock: UnixListener, path: PathBuf },
    Tcp(TcpListener),
}

/// A connected peer of either family.
enum Conn {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.read(buf),
            Conn::Tcp(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Unix(s) => s.write(buf),
            Conn::Tcp(s) => s.write(buf),
        }
    }

    fn as_raw_fd(&self) -> RawFd {
        match self {
            Conn::Unix(s) => s.as_raw_fd(),
            Conn::Tcp(s) => s.as_raw_fd(),
        }
    }
}

/// A `--stream` listener: accepts connections and makes each one a port.
pub struct StreamListener {
    listener: Listener,
    /// What the log lines call it (`PATH` or `tcp:ADDR:PORT`).
    shown: String,
    token: Option<Token>,
    me: Option<Key>,
    /// Lines about clients of this listener that broke the framing: a client reconnecting
    /// again and again with a bad stream must not flood the log.
    broken: Lines,
    /// Lines about clients coming and going: a flood of connections, each evicted and made
    /// again, must not flood the log either.
    comings: Lines,
    /// The switch's pending stream connections (set when registered).
    pending: Option<Pending>,
}

impl StreamListener {
    /// Bind a listener (before daemonising, so errors reach the terminal). A unix socket
    /// gets the control socket's mode and group; a stale socket file (a switch that died)
    /// is replaced, a live one is refused.
    pub fn bind(
        addr: &StreamAddr,
        modes: Modes,
        group: Option<u32>,
    ) -> Result<StreamListener, SetupError> {
        let listener = match addr {
            StreamAddr::Unix(path) => {
                let err = |err| SetupError::Bind {
                    path: path.clone(),
                    err,
                };
                // A stale socket is replaced; anything else is left alone.
                if std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_socket()) {
                    return Err(err(super::dgram::not_a_socket()));
                }
                let sock = ctl_dir::bind_listener(path).map_err(|e| match e {
                    SetupError::InUse { owner, .. } => err(super::dgram::in_use("--stream", owner)),
                    other => other,
                })?;
                unix::chmod(path, modes.ctl).map_err(err)?;
                unix::chown(path, None, group).map_err(err)?;
                sock.set_nonblocking(true).map_err(err)?;
                Listener::Unix {
                    sock,
                    path: path.clone(),
                }
            }
            StreamAddr::Tcp(a) => {
                let err = |err| SetupError::Bind {
                    path: PathBuf::from(addr.to_string()),
                    err,
                };
                let sock = TcpListener::bind(a).map_err(err)?;
                sock.set_nonblocking(true).map_err(err)?;
                Listener::Tcp(sock)
            }
        };
        Ok(StreamListener {
            listener,
            shown: addr.to_string(),
            token: None,
            me: None,
            broken: lines(),
            comings: lines(),
            pending: None,
        })
    }

    /// Remove the socket file of a listener that never started (the switch did not start).
    pub fn remove_file(&self) {
        if let Listener::Unix { path, .. } = &self.listener {
            let _ = std::fs::remove_file(path);
        }
    }

    fn fd(&self) -> RawFd {
        match &self.listener {
            Listener::Unix { sock, .. } => sock.as_raw_fd(),
            Listener::Tcp(sock) => sock.as_raw_fd(),
        }
    }

    /// The next connection with who is at its other end, or `WouldBlock`.
    fn accept(&self) -> io::Result<(Conn, Credentials, String, Peer)> {
        match &self.listener {
            Listener::Unix { sock, path } => {
                let (s, _) = sock.accept()?;
                s.set_nonblocking(true)
                    .map_err(|_| io::Error::from(io::ErrorKind::ConnectionAborted))?;
                // The peer's uid is the endpoint's user, as for vde clients (port ACLs and
                // "Current User" apply); its pid is for people reading port/print.
                // A peer that cannot be identified is dropped; the others go on.
                let cred = unix::peer_cred(&s)
                    .map_err(|_| io::Error::from(io::ErrorKind::ConnectionAborted))?;
                let user =
                    crate::sys::users::user_name(cred.uid).unwrap_or_else(|| cred.uid.to_string());
                let who = Credentials {
                    uid: Some(cred.uid),
                    gids: crate::sys::users::user_groups(cred.uid),
                };
                let description = format!("{} user={} pid={}", path.display(), user, cred.pid);
                Ok((Conn::Unix(s), who, description, Peer::Uid(cred.uid)))
            }
            Listener::Tcp(sock) => {
                let (s, peer) = sock.accept()?;
                s.set_nonblocking(true)
                    .map_err(|_| io::Error::from(io::ErrorKind::ConnectionAborted))?;
                let _ = s.set_nodelay(true);
                // Nothing says who is behind a TCP address: the NONE user.
                Ok((
                    Conn::Tcp(s),
                    Credentials::default(),
                    tcp_description(peer),
                    Peer::of_tcp(peer.ip()),
                ))
            }
        }
    }

    /// Accept what waits, at most [`ACCEPT_BATCH`] connections: a client reconnecting as
    /// fast as it is evicted must not keep the loop here while everybody else waits.
    fn accept_all(&mut self, sw: &mut Switch) {
        for _ in 0..ACCEPT_BATCH {
            match self.accept() {
                Ok((conn, who, description, peer)) => {
                    self.attach(sw, conn, &who, description, peer)
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The peer left before we looked at it.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => continue,
                Err(e) => {
                    // Out of descriptors (or similar): stop accepting for a while instead
                    // of spinning on an error that stays.
                    if let Some(me) = self.me {
                        sw.timers
                            .set(Instant::now() + ACCEPT_RETRY, Due::Sub(me, 0));
                    }
                    if let Some(n) = sw.limits.accept.allow(sw.tick, 10, 1) {
                        log_err!(
                            "accept on stream socket {}: {}{}",
                            self.shown,
                            e,
                            suppressed(n)
                        );
                    }
                    return;
                }
            }
        }
        // More may wait, with no new edge coming: the next turn of the loop takes them, after
        // the events that arrived meanwhile.
        if let Some(me) = self.me {
            sw.timers.set(Instant::now(), Due::Sub(me, 0));
        }
    }

    /// Attach a new connection to a free port and start carrying its frames. It is pending
    /// until it sends a whole frame: admitted among the pending connections, which may evict
    /// one to make room, and given the port of one when no port is free.
    fn attach(
        &self,
        sw: &mut Switch,
        conn: Conn,
        who: &Credentials,
        description: String,
        peer: Peer,
    ) {
        let Some(pending) = self.pending.clone() else {
            return;
        };
        // The reference names an endpoint by its connection's fd; so do we.
        let id = conn.as_raw_fd() as EndpointId;
        // Room among the pending ones first, when they are at their cap in all; the newcomer
        // is counted once it holds a port.
        let full = pending.borrow().needs_room();
        let victim = full
            .then(|| pending.borrow_mut().evict_for(Some(peer)))
            .flatten();
        if let Some(victim) = victim {
            let at_cap = {
                let p = pending.borrow();
                let caps = p.stats();
                format!(
                    "pending stream connections at their cap ({} in all, cap {}; {} of {}, cap {})",
                    p.len() + 1,
                    caps.caps_all,
                    p.of_user(victim.1) + 1,
                    victim.1,
                    caps.caps_per_user
                )
            };
            evict(sw, victim, &format!("a new one of {peer}"), &at_cap);
        }
        let endpoint = Endpoint {
            id,
            module: MODULE,
            description: description.clone(),
        };
        let mut attached = sw
            .plane
            .fabric_mut()
            .attach(PortChoice::Any, who, endpoint.clone());
        if let Err(AttachError::NoFreePort { .. }) = attached {
            // Every port is taken: a pending connection's port goes to the newcomer, chosen
            // by the same rule.
            let whom = format!("a new stream connection of {peer}");
            if free_a_port(sw, Some(peer), &whom) {
                attached = sw.plane.fabric_mut().attach(PortChoice::Any, who, endpoint);
            }
        }
        let port = match attached {
            Ok(port) => port,
            Err(e) => {
                if let Some(n) = sw.limits.refused.allow(sw.tick, 10, 10) {
                    log_warn!(
                        "refused stream client ({description}) on {}: {e}{}",
                        self.shown,
                        suppressed(n)
                    );
                }
                return;
            }
        };
        pending.borrow_mut().add(id, peer, Instant::now());
        let link = StreamLink::new(
            conn,
            id,
            description.clone(),
            Rc::clone(&self.broken),
            Rc::clone(&self.comings),
            pending,
        );
        let (plane, mut env) = sw.plane_env();
        match plane.add_link(&mut env, Box::new(link), &[(id, port)]) {
            Ok(_) => {
                if let Some(n) = allow(&self.comings, COMINGS_PER_10S) {
                    log_info!(
                        "stream client ({description}) on port {port}{}",
                        suppressed(n)
                    );
                }
            }
            Err(e) => {
                let _ = sw.plane.fabric_mut().detach(port, id);
                log_warn!("stream client ({description}): {e}");
            }
        }
    }
}

/// No port is free for a newcomer (`whom`, for the log line; `peer` when it is a stream
/// connection): close the pending stream connection idle the longest of the newcomer's own
/// peer when that peer is at its cap, else of the peer holding the most, so the newcomer gets
/// its port. Whether one was closed (none when no stream connection is pending).
pub fn free_a_port(sw: &mut Switch, peer: Option<Peer>, whom: &str) -> bool {
    let victim = sw.streams.borrow_mut().evict_for(peer);
    match victim {
        Some(victim) => {
            let numports = sw.plane.fabric().numports();
            let why = format!("no free port (all {numports} taken)");
            evict(sw, victim, whom, &why);
            true
        }
        None => false,
    }
}

/// Close pending connection `victim` (its port is freed) for `whom`; `why` starts the log
/// line, which is rate limited (a flood evicts thousands a second).
fn evict(sw: &mut Switch, victim: (EndpointId, Peer), whom: &str, why: &str) {
    let (plane, mut env) = sw.plane_env();
    plane.close_endpoint(&mut env, victim.0);
    if let Some(n) = sw.limits.streams.allow(sw.tick, 10, 1) {
        log_warn!(
            "{why}: closed the pending stream connection on fd {} of {}, idle the longest, for {whom}{}",
            victim.0,
            victim.1,
            suppressed(n)
        );
    }
}

fn tcp_description(peer: SocketAddr) -> String {
    format!("tcp {peer}")
}

impl Subscriber for StreamListener {
    fn register(&mut self, me: Key, sw: &mut Switch) -> io::Result<()> {
        self.me = Some(me);
        self.pending = Some(Rc::clone(&sw.streams));
        self.token = Some(
            sw.io
                .watch_fd(self.fd(), Interest::READABLE, Target::Sub(me))?,
        );
        Ok(())
    }

    fn ready(&mut self, _: Token, _: &mio::event::Event, sw: &mut Switch) -> Keep {
        self.accept_all(sw);
        Keep::Yes
    }

    fn timer(&mut self, _: u64, sw: &mut Switch) -> Keep {
        self.accept_all(sw);
        Keep::Yes
    }

    /// Remove the socket file, unless somebody else's server took the path meanwhile.
    fn close(&mut self, sw: &mut Switch) {
        if let Some(token) = self.token.take() {
            sw.io.unwatch_fd(token, self.fd());
        }
        if let Listener::Unix { sock, path } = &self.listener {
            if unix::other_listener_at(path, sock.as_raw_fd()) {
                log_warn!("Cleanup not removing {}", path.display());
                return;
            }
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One connected peer: its frames in, length-prefixed; copies out, length-prefixed, as many
/// per `write` as the data path hands over.
struct StreamLink {
    conn: Conn,
    id: EndpointId,
    description: String,
    decoder: Decoder,
    /// Bytes read and not yet decoded: `rbuf[start..end]`.
    rbuf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Encoded frames not yet written (the rest of a partial write): nothing more is taken
    /// until they are gone.
    wbuf: Vec<u8>,
    wpos: usize,
    /// Why the connection ends (logged when the link closes), and whether the peer broke
    /// the framing; `None`: it has not ended.
    ended: Option<(String, bool)>,
    /// The listener's rate limit of lines about broken streams.
    broken: Lines,
    /// The listener's rate limit of lines about clients coming and going.
    comings: Lines,
    /// The pending connections, while this one is among them (until its first whole frame).
    pending: Option<Pending>,
}

impl StreamLink {
    fn new(
        conn: Conn,
        id: EndpointId,
        description: String,
        broken: Lines,
        comings: Lines,
        pending: Pending,
    ) -> StreamLink {
        StreamLink {
            conn,
            id,
            description,
            // The limit is QEMU's own: a longer length is a broken stream, a frame within
            // it but over --maxframe is only one oversize frame.
            decoder: Decoder::new(Framing::Qemu, QEMU_MAX_FRAME),
            rbuf: vec![0u8; READ_BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            wbuf: Vec::new(),
            wpos: 0,
            ended: None,
            broken,
            comings,
            pending: Some(pending),
        }
    }

    /// A whole frame came: a live VM, no longer pending (never evicted).
    fn live(&mut self) {
        if let Some(p) = self.pending.take() {
            p.borrow_mut().remove(self.id);
        }
    }

    /// Whether fair admission closed it for a newcomer (it was pending and is no longer).
    fn evicted(&self) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|p| !p.borrow().contains(self.id))
    }

    /// The connection is finished: its endpoint leaves, which closes the link.
    fn end(&mut self, cx: &mut LinkCx<'_>, why: String, broken: bool) {
        if self.ended.is_none() {
            self.ended = Some((why, broken));
            cx.release(self.id);
        }
    }

    /// Write what waits in `wbuf`; `Ok(true)` when all of it went.
    fn write_pending(&mut self) -> io::Result<bool> {
        while self.wpos < self.wbuf.len() {
            match self.conn.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(io::Error::from_raw_os_error(libc::EPIPE)),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                // The peer is gone (reset, broken pipe): the data path drops what follows
                // quietly, and the read side closes the link.
                Err(_) => return Err(io::Error::from_raw_os_error(libc::EPIPE)),
            }
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(true)
    }
}

impl Link for StreamLink {
    fn fds(&self) -> Vec<RawFd> {
        vec![self.conn.as_raw_fd()]
    }

    fn ready(&mut self, _fd: usize, event: &mio::event::Event) -> Readiness {
        Readiness {
            // The end of the stream and errors are found by reading.
            recv: event.is_readable() || event.is_read_closed() || event.is_error(),
            send: event.is_writable(),
            close: false,
        }
    }

    fn recv(&mut self, rx: &mut Rx<'_>, cx: &mut LinkCx<'_>) -> io::Result<usize> {
        if self.ended.is_some() {
            return Ok(0);
        }
        let cap = rx.capacity();
        let mut n = 0;
        while n < cap {
            let mut input = &self.rbuf[self.start..self.end];
            match self.decoder.decode(&mut input) {
                Ok(Some(frame)) => {
                    let buf = &mut rx.bufs[n];
                    let k = frame.len().min(buf.len());
                    buf[..k].copy_from_slice(&frame[..k]);
                    // Longer than the buffer: counted as oversize by the data path.
                    rx.lens[n] = frame.len();
                    n += 1;
                    self.start = self.end - input.len();
                    self.live();
                    continue;
                }
                Ok(None) => {
                    self.start = 0;
                    self.end = 0;
                }
                Err(e) => {
                    self.end(cx, format!("{e}"), true);
                    break;
                }
            }
            match self.conn.read(&mut self.rbuf) {
                Ok(0) => {
                    match self.decoder.finish() {
                        Ok(()) => self.end(cx, "the client closed the connection".into(), false),
                        Err(e) => self.end(cx, format!("{e}"), true),
                    }
                    break;
                }
                Ok(k) => {
                    self.end = k;
                    if let Some(p) = &self.pending {
                        p.borrow_mut().touch(self.id, cx.now());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if n == 0 {
                        return Err(e);
                    }
                    break;
                }
                Err(e) => {
                    self.end(cx, format!("read: {e}"), false);
                    break;
                }
            }
        }
        Ok(n)
    }

    fn send(&mut self, _to: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        if !self.write_pending()? {
            return Ok(0);
        }
        for f in frames {
            // Frames reaching here are 14..=maxframe bytes: always encodable.
            let _ = Framing::Qemu.encode(f, &mut self.wbuf);
        }
        // Taken whole: what the socket did not take now goes first at the next flush.
        self.write_pending()?;
        Ok(frames.len())
    }

    fn flush(&mut self) -> io::Result<bool> {
        self.write_pending()
    }

    fn pending_output(&self) -> bool {
        self.wpos < self.wbuf.len()
    }

    fn closed(&mut self) {
        match &self.ended {
            Some((why, true)) => {
                if let Some(n) = allow(&self.broken, BROKEN_PER_10S) {
                    log_warn!(
                        "stream client ({}) disconnected: {}{}",
                        self.description,
                        why,
                        suppressed(n)
                    );
                }
            }
            Some((why, false)) => {
                if let Some(n) = allow(&self.comings, COMINGS_PER_10S) {
                    log_info!(
                        "stream client ({}) left: {}{}",
                        self.description,
                        why,
                        suppressed(n)
                    );
                }
            }
            // Fair admission logged it, rate limited.
            None if self.evicted() => {}
            None => log_info!(
                "stream client ({}) disconnected by the switch",
                self.description
            ),
        }
    }
}

impl Drop for StreamLink {
    /// However it goes (closed, or never added), it leaves the pending set with its fd.
    fn drop(&mut self) {
        self.live();
    }
}

#[cfg(test)]
mod tests {
    use super::Peer;

    #[test]
    fn tcp_peers_are_ipv4_addresses_or_ipv6_networks() {
        let peer = |a: &str| Peer::of_tcp(a.parse().unwrap()).to_string();
        assert_eq!(peer("127.0.0.2"), "address 127.0.0.2");
        // An IPv4 client of a dual-stack listener is the same peer as over IPv4.
        assert_eq!(peer("::ffff:127.0.0.2"), "address 127.0.0.2");
        assert_eq!(peer("2001:db8:1:2:aaaa::1"), "address 2001:db8:1:2::/64");
        assert_eq!(
            Peer::of_tcp("2001:db8:1:2::1".parse().unwrap()),
            Peer::of_tcp("2001:db8:1:2:ffff::9".parse().unwrap())
        );
        assert_eq!(Peer::Uid(65534).to_string(), "uid 65534");
    }
}
