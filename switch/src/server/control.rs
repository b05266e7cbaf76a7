//! Control connections: reassembling the request, checking who sent it,
//! creating the endpoint's data socket and replying with its address.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Token};
use vde_protocol::request::{Dialect, PortRequest, ProtoVersion, RequestError, RequestRepr};
use vde_protocol::sockaddr::SockAddrUn;

use super::{suppressed, EndpointIo, Flavor, Server, CONN_BASE, DATA_BASE, HANDSHAKE_TIMEOUT};
use crate::fabric::{Credentials, Endpoint, PortChoice, PortId};
use crate::sys::unix::{self, peer_cred, Dgram, PeerCred};
use crate::{log_err, log_warn};

/// Largest request kept: header plus the longest description we store.
const MAX_REQUEST: usize =
    vde_protocol::request::V1_HEADER_LEN + vde_protocol::request::MAX_DESCRIPTION_LEN;

/// Most connections still in their handshake, in all and per user.
const MAX_PENDING: usize = 256;
const MAX_PENDING_PER_UID: usize = 64;

pub(super) struct Conn {
    pub stream: UnixStream,
    buf: Vec<u8>,
    started: Instant,
    /// Set once the handshake succeeded; later bytes are ignored.
    pub attached: Option<PortId>,
    /// The peer's uid (SO_PEERCRED at accept).
    uid: u32,
}

/// Why a request was refused; logged, then the connection is closed.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("{0}")]
    Request(#[from] RequestError),
    #[error("{0}")]
    Attach(#[from] crate::fabric::AttachError),
    #[error("client socket {path}: {why}")]
    ClientSocket { path: String, why: String },
    #[error("abstract socket clients of uid {uid} are not accepted by a switch of uid {ours} (start the switch as that user, or pass --allow-abstract)")]
    ForeignAbstract { uid: u32, ours: u32 },
    #[error("Connecting to client data socket {addr:?}: {err}")]
    Connect { addr: SockAddrUn, err: io::Error },
    #[error("Binding to data socket {path}: {err}")]
    Bind { path: String, err: io::Error },
    #[error("Sending data socket name {path}: {err}")]
    Reply { path: String, err: String },
    #[error("protocol version 0 clients are not supported (use a client speaking version 3)")]
    Version0,
    #[error("cannot identify the client: {0}")]
    PeerCred(io::Error),
}

impl Server {
    pub(super) fn accept_all(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    self.accept_paused = false;
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let fd = stream.as_raw_fd();
                    // Bound what unfinished handshakes can hold, per user and in all,
                    // so a connection flood cannot exhaust descriptors.
                    let uid = peer_cred(&stream).map(|c| c.uid).unwrap_or(u32::MAX);
                    let pending: Vec<u32> = self
                        .conns
                        .values()
                        .filter(|c| c.attached.is_none())
                        .map(|c| c.uid)
                        .collect();
                    let of_user = pending.iter().filter(|&&u| u == uid).count();
                    if pending.len() >= MAX_PENDING || of_user >= MAX_PENDING_PER_UID {
                        if let Some(n) = self.limits.refused.allow(self.tick, 10, 1) {
                            log_warn!(
                                "too many unfinished handshakes ({} in all, {} of uid {}): connection closed{}",
                                pending.len(),
                                of_user,
                                uid,
                                suppressed(n)
                            );
                        }
                        continue;
                    }
                    if self
                        .poll
                        .registry()
                        .register(
                            &mut SourceFd(&fd),
                            Token(CONN_BASE + fd as usize),
                            Interest::READABLE,
                        )
                        .is_err()
                    {
                        continue;
                    }
                    self.conns.insert(
                        fd,
                        Conn {
                            stream,
                            buf: Vec::with_capacity(256),
                            started: Instant::now(),
                            attached: None,
                            uid,
                        },
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors (or similar): stop accepting until the
                    // next tick instead of spinning on a level-triggered error.
                    self.accept_paused = true;
                    if let Some(n) = self.limits.accept.allow(self.tick, 10, 1) {
                        log_err!("accept on control socket: {}{}", e, suppressed(n));
                    }
                    return;
                }
            }
        }
    }

    pub(super) fn on_control(&mut self, fd: RawFd) {
        let mut chunk = [0u8; 512];
        let dialect = match self.flavor {
            Flavor::Vde => Dialect::VdeSwitch,
            Flavor::Uml => Dialect::UmlSwitch,
        };
        loop {
            let Some(conn) = self.conns.get_mut(&fd) else {
                return;
            };
            match conn.stream.read(&mut chunk) {
                Ok(0) => {
                    self.close_conn(fd);
                    return;
                }
                Ok(n) => {
                    if conn.attached.is_some() {
                        // One request per connection: later bytes never make
                        // another endpoint.
                        continue;
                    }
                    let room = MAX_REQUEST.saturating_sub(conn.buf.len());
                    conn.buf.extend_from_slice(&chunk[..n.min(room)]);
                    match RequestRepr::parse(&conn.buf, dialect) {
                        Err(RequestError::Incomplete { .. }) => continue,
                        Err(e) => {
                            self.refuse(fd, Refusal::Request(e));
                            return;
                        }
                        Ok(req) => {
                            if let Err(r) = self.serve(fd, req) {
                                self.refuse(fd, r);
                                return;
                            }
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.close_conn(fd);
                    return;
                }
            }
        }
    }

    fn refuse(&mut self, fd: RawFd, why: Refusal) {
        if let Some(n) = self.limits.refused.allow(self.tick, 10, 10) {
            log_warn!("refused client on fd {}: {}{}", fd, why, suppressed(n));
        }
        self.close_conn(fd);
    }

    pub(super) fn expire_handshakes(&mut self) {
        let late: Vec<RawFd> = self
            .conns
            .iter()
            .filter(|(_, c)| c.attached.is_none() && c.started.elapsed() > HANDSHAKE_TIMEOUT)
            .map(|(&fd, _)| fd)
            .collect();
        for fd in late {
            let have = self.conns.get(&fd).map_or(0, |c| c.buf.len());
            self.refuse(
                fd,
                Refusal::Request(RequestError::Incomplete {
                    have,
                    need: vde_protocol::request::V3_HEADER_LEN,
                }),
            );
        }
    }

    /// Close a control connection and the endpoint attached to it.
    pub(super) fn close_conn(&mut self, fd: RawFd) {
        let Some(conn) = self.conns.remove(&fd) else {
            return;
        };
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
        if let Some(port) = conn.attached {
            self.close_endpoint(port, fd as u32);
            self.say("Disconnect");
        }
    }

    pub(super) fn close_endpoint(&mut self, port: PortId, id: u32) {
        if let Some(ep) = self.endpoints.remove(&id) {
            let _ = self
                .poll
                .registry()
                .deregister(&mut SourceFd(&ep.sock.raw_fd()));
            let _ = std::fs::remove_file(&ep.path);
            self.forget_queue(ep);
        }
        let _ = self.fabric.detach(port, id);
    }

    /// Check the client, attach it to a port, create its data socket and reply.
    fn serve(&mut self, fd: RawFd, req: RequestRepr) -> Result<(), Refusal> {
        if req.version == ProtoVersion::V0 {
            return Err(Refusal::Version0);
        }
        let conn = self.conns.get(&fd).expect("caller holds it");
        let peer = peer_cred(&conn.stream).map_err(Refusal::PeerCred)?;
        let who = self.client_credentials(&req.addr, peer)?;

        let sock = Dgram::new().map_err(|err| Refusal::Connect {
            addr: req.addr.clone(),
            err,
        })?;
        sock.connect(&req.addr).map_err(|err| Refusal::Connect {
            addr: req.addr.clone(),
            err,
        })?;

        let choice = match req.port {
            PortRequest::Any => PortChoice::Any,
            PortRequest::Port0 => PortChoice::Port0,
            PortRequest::Port(n) => PortChoice::Port(n as usize),
        };
        let id = fd as u32;
        let endpoint = Endpoint {
            id,
            module: "unix prog",
            description: String::from_utf8_lossy(&req.description)
                .trim_end_matches('\0')
                .to_string(),
        };
        let port = self.fabric.attach(choice, &who, endpoint)?;

        match self.finish_endpoint(fd, port, sock, &req, who.uid) {
            Ok(()) => Ok(()),
            Err(r) => {
                let _ = self.fabric.detach(port, id);
                Err(r)
            }
        }
    }

    fn finish_endpoint(
        &mut self,
        fd: RawFd,
        port: PortId,
        sock: Dgram,
        req: &RequestRepr,
        user: Option<u32>,
    ) -> Result<(), Refusal> {
        let path = match self.flavor {
            Flavor::Vde => self.dir.join(format!("{:03}.{}", port, sock.as_raw_fd())),
            Flavor::Uml => PathBuf::new(),
        };
        let shown = path.display().to_string();
        let addr = match self.flavor {
            Flavor::Vde => {
                let _ = std::fs::remove_file(&path);
                SockAddrUn::from_path(path.as_os_str().as_bytes())
            }
            // One abstract address per endpoint (the original shares one socket
            // for all): frames are then told apart by socket, and vdeplug
            // clients, which connect to the address they are given, work too.
            Flavor::Uml => SockAddrUn::from_abstract(
                format!(
                    "uml_switch.{}.{}.{}",
                    std::process::id(),
                    fd,
                    self.start.elapsed().as_micros()
                )
                .as_bytes(),
            ),
        }
        .map_err(|e| Refusal::Bind {
            path: shown.clone(),
            err: io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
        })?;
        sock.bind(&addr).map_err(|err| Refusal::Bind {
            path: shown.clone(),
            err,
        })?;
        if self.flavor == Flavor::Vde {
            self.set_data_socket_perms(&path, user, req.port == PortRequest::Port0);
        }
        sock.set_buffers(1 << 20);

        let reply = addr.to_bytes();
        let conn = self.conns.get_mut(&fd).expect("caller holds it");
        let sent = (&conn.stream).write(&reply);
        match sent {
            Ok(n) if n == reply.len() => {}
            Ok(n) => {
                let _ = std::fs::remove_file(&path);
                return Err(Refusal::Reply {
                    path: shown,
                    err: format!("short write ({n} of {} bytes)", reply.len()),
                });
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(Refusal::Reply {
                    path: shown,
                    err: e.to_string(),
                });
            }
        }
        conn.attached = Some(port);
        let id = fd as u32;
        let raw = sock.as_raw_fd();
        if let Err(err) = self.poll.registry().register(
            &mut SourceFd(&raw),
            Token(DATA_BASE + id as usize),
            Interest::READABLE,
        ) {
            let _ = std::fs::remove_file(&path);
            return Err(Refusal::Bind { path: shown, err });
        }
        self.endpoints
            .insert(id, EndpointIo::new(super::Channel::Sock(sock), port, path));
        self.say("New connection");
        Ok(())
    }

    /// Who the client is. A pathname socket must be owned by the peer (or the
    /// peer is root): otherwise a client could make a root switch send frames
    /// to somebody else's socket. The endpoint user is the socket's owner, as
    /// in the reference.
    fn client_credentials(
        &self,
        addr: &SockAddrUn,
        peer: PeerCred,
    ) -> Result<Credentials, Refusal> {
        let uid = match addr.path() {
            Some(p) => {
                let path = Path::new(std::ffi::OsStr::from_bytes(p));
                let shown = path.display().to_string();
                let bad = |why: &str| Refusal::ClientSocket {
                    path: shown.clone(),
                    why: why.to_string(),
                };
                let meta = std::fs::symlink_metadata(path).map_err(|e| {
                    bad(&format!("{e} (the client must bind it before connecting)"))
                })?;
                if !meta.file_type().is_socket() {
                    return Err(bad("not a socket"));
                }
                if peer.uid != 0 && meta.uid() != peer.uid {
                    return Err(bad(&format!(
                        "owned by uid {} but the client runs as uid {}",
                        meta.uid(),
                        peer.uid
                    )));
                }
                if !unix::can_read_write(path) {
                    return Err(bad("the switch cannot read and write it (check its mode)"));
                }
                Some(meta.uid())
            }
            None => {
                let ours = unix::euid();
                if peer.uid != ours && peer.uid != 0 && !self.cfg.allow_foreign_abstract {
                    return Err(Refusal::ForeignAbstract {
                        uid: peer.uid,
                        ours,
                    });
                }
                Some(peer.uid)
            }
        };
        Ok(Credentials {
            uid,
            gids: uid.map(crate::sys::users::user_groups).unwrap_or_default(),
        })
    }

    /// Data socket permissions as the reference sets them.
    fn set_data_socket_perms(&self, path: &Path, user: Option<u32>, port0: bool) {
        let mode = self.modes.ctl;
        let group = self.cfg.group;
        let _ = if unix::euid() != 0 {
            unix::chmod(path, mode)
        } else if let Some(uid) = user {
            unix::chmod(path, mode & 0o700).and_then(|_| unix::chown(path, Some(uid), group))
        } else {
            unix::chmod(path, mode).and_then(|_| unix::chown(path, None, group))
        };
        if port0 {
            let _ = unix::chmod(path, self.cfg.mgmtmode);
            let _ = unix::chown(path, None, self.cfg.mgmtgroup);
        }
    }
}
