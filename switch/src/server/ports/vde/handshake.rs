//! One control connection until its request is served: reassembling the request, checking
//! who sent it, attaching it to a port, creating its data socket and replying with that
//! socket's address. Then the connection belongs to the endpoint's link.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use mio::{Interest, Token};
use vde_protocol::request::{Dialect, PortRequest, ProtoVersion, RequestError, RequestRepr};
use vde_protocol::sockaddr::SockAddrUn;

use super::link::VdeLink;
use super::Settings;
use crate::fabric::{AttachError, Credentials, Endpoint, PortChoice, PortId};
use crate::log_warn;
use crate::server::reactor::{Keep, Subscriber, Target};
use crate::server::slab::Key;
use crate::server::timers::Due;
use crate::server::{suppressed, Flavor, Switch, HANDSHAKE_TIMEOUT};
use crate::sys::unix::{self, peer_cred, Dgram, PeerCred};

/// Largest request kept: header plus the longest description we store.
const MAX_REQUEST: usize =
    vde_protocol::request::V1_HEADER_LEN + vde_protocol::request::MAX_DESCRIPTION_LEN;

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

pub(super) struct Handshake {
    /// `None` once the connection went to the endpoint's link.
    stream: Option<UnixStream>,
    /// Its fd, which names the endpoint.
    fd: RawFd,
    token: Option<Token>,
    /// Its key once registered.
    me: Option<Key>,
    buf: Vec<u8>,
    settings: Rc<Settings>,
}

impl Handshake {
    pub fn new(stream: UnixStream, settings: Rc<Settings>) -> Handshake {
        Handshake {
            fd: stream.as_raw_fd(),
            stream: Some(stream),
            token: None,
            me: None,
            buf: Vec::with_capacity(256),
            settings,
        }
    }

    /// The connection's fd (what fair admission names it by).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    fn refuse(&self, sw: &mut Switch, why: Refusal) -> Keep {
        if let Some(n) = sw.limits.refused.allow(sw.tick, 10, 10) {
            log_warn!("refused client on fd {}: {}{}", self.fd, why, suppressed(n));
        }
        Keep::No
    }

    /// Check the client, attach it to a port, create its data socket and reply.
    fn serve(&mut self, sw: &mut Switch, req: RequestRepr) -> Result<(), Refusal> {
        if req.version == ProtoVersion::V0 {
            return Err(Refusal::Version0);
        }
        let stream = self.stream.as_ref().expect("served once");
        let peer = peer_cred(stream).map_err(Refusal::PeerCred)?;
        let who = self.client_credentials(&req.addr, peer)?;

        let connect_err = |err| Refusal::Connect {
            addr: req.addr.clone(),
            err,
        };
        let sock = Dgram::new().map_err(connect_err)?;
        sock.connect(&req.addr).map_err(connect_err)?;

        let choice = match req.port {
            PortRequest::Any => PortChoice::Any,
            PortRequest::Port0 => PortChoice::Port0,
            PortRequest::Port(n) => PortChoice::Port(n as usize),
        };
        // The reference names an endpoint by its control connection's fd.
        let id = self.fd as u32;
        let endpoint = Endpoint {
            id,
            module: super::MODULE,
            description: String::from_utf8_lossy(&req.description)
                .trim_end_matches('\0')
                .to_string(),
        };
        let mut port = sw.plane.fabric_mut().attach(choice, &who, endpoint.clone());
        // Every port taken: a silent `--stream` connection gives its port up, as it would to
        // another stream client.
        if let Err(AttachError::NoFreePort { .. }) = port {
            let whom = format!("a vde client of uid {}", peer.uid);
            if crate::server::ports::stream::free_a_port(sw, None, &whom) {
                port = sw.plane.fabric_mut().attach(choice, &who, endpoint);
            }
        }
        let port = port?;
        if let Err(r) = self.finish(sw, port, sock, &req, who.uid) {
            let _ = sw.plane.fabric_mut().detach(port, id);
            return Err(r);
        }
        Ok(())
    }

    fn finish(
        &mut self,
        sw: &mut Switch,
        port: PortId,
        sock: Dgram,
        req: &RequestRepr,
        user: Option<u32>,
    ) -> Result<(), Refusal> {
        let s = &*self.settings;
        let fd = self.fd;
        let path = match s.flavor {
            Flavor::Vde => s.dir.join(format!("{:03}.{}", port, sock.as_raw_fd())),
            Flavor::Uml => PathBuf::new(),
        };
        let shown = path.display().to_string();
        let addr = match s.flavor {
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
                    sw.start.elapsed().as_micros()
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
        if s.flavor == Flavor::Vde {
            s.set_data_socket_perms(&path, user, req.port == PortRequest::Port0);
        }
        sock.set_buffers(1 << 20);

        let reply = addr.to_bytes();
        let stream = self.stream.as_ref().expect("served once");
        let failed = |err: String| {
            let _ = std::fs::remove_file(&path);
            Refusal::Reply {
                path: shown.clone(),
                err,
            }
        };
        match (&*stream).write(&reply) {
            Ok(n) if n == reply.len() => {}
            Ok(n) => {
                return Err(failed(format!(
                    "short write ({n} of {} bytes)",
                    reply.len()
                )))
            }
            Err(e) => return Err(failed(e.to_string())),
        }
        // From here on the connection is the endpoint's.
        let (stream, token) = (self.stream.take(), self.token.take());
        let stream = stream.expect("served once");
        if let Some(token) = token {
            sw.io.unwatch_fd(token, stream.as_raw_fd());
        }
        let link = VdeLink {
            data: sock,
            ctl: stream,
            path: path.clone(),
            say_disconnect: s.flavor == Flavor::Uml,
        };
        let id = fd as u32;
        let (plane, mut env) = sw.plane_env();
        if let Err(err) = plane.add_link(&mut env, Box::new(link), &[(id, port)]) {
            let _ = std::fs::remove_file(&path);
            return Err(Refusal::Bind { path: shown, err });
        }
        sw.say("New connection");
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
                if peer.uid != ours && peer.uid != 0 && !self.settings.allow_foreign_abstract {
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
}

impl Subscriber for Handshake {
    fn register(&mut self, me: Key, sw: &mut Switch) -> io::Result<()> {
        self.token = Some(
            sw.io
                .watch_fd(self.fd, Interest::READABLE, Target::Sub(me))?,
        );
        self.me = Some(me);
        sw.handshake_subs.insert(self.fd, me);
        sw.timers
            .set(Instant::now() + HANDSHAKE_TIMEOUT, Due::Sub(me, 0));
        Ok(())
    }

    fn ready(&mut self, _: Token, _: &mio::event::Event, sw: &mut Switch) -> Keep {
        let mut chunk = [0u8; 512];
        let dialect = match self.settings.flavor {
            Flavor::Vde => Dialect::VdeSwitch,
            Flavor::Uml => Dialect::UmlSwitch,
        };
        loop {
            let Some(stream) = &mut self.stream else {
                return Keep::No;
            };
            match stream.read(&mut chunk) {
                Ok(0) => return Keep::No,
                Ok(n) => {
                    sw.handshakes.touch(self.fd, Instant::now());
                    let room = MAX_REQUEST.saturating_sub(self.buf.len());
                    self.buf.extend_from_slice(&chunk[..n.min(room)]);
                    match RequestRepr::parse(&self.buf, dialect) {
                        Err(RequestError::Incomplete { .. }) => continue,
                        Err(e) => return self.refuse(sw, Refusal::Request(e)),
                        Ok(req) => {
                            return match self.serve(sw, req) {
                                // One request per connection: the link has it now.
                                Ok(()) => Keep::No,
                                Err(r) => self.refuse(sw, r),
                            };
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Keep::Yes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Keep::No,
            }
        }
    }

    /// The client took too long to send its whole request.
    fn timer(&mut self, _: u64, sw: &mut Switch) -> Keep {
        if self.stream.is_none() {
            return Keep::No;
        }
        let why = Refusal::Request(RequestError::Incomplete {
            have: self.buf.len(),
            need: vde_protocol::request::V3_HEADER_LEN,
        });
        self.refuse(sw, why)
    }

    fn close(&mut self, sw: &mut Switch) {
        // Forgotten while the fd is still ours: a later connection may get its number.
        sw.handshakes.remove(self.fd);
        if let Some(me) = self.me.take() {
            if sw.handshake_subs.get(&self.fd) == Some(&me) {
                sw.handshake_subs.remove(&self.fd);
            }
        }
        if let (Some(stream), Some(token)) = (self.stream.take(), self.token.take()) {
            sw.io.unwatch_fd(token, stream.as_raw_fd());
        }
    }
}
