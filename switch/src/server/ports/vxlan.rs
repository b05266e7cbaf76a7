//! VXLAN uplinks (`--vxlan SPEC`, `vxlan/add SPEC`): one switch port whose frames travel in
//! UDP datagrams (RFC 7348) to other VTEPs: Linux `vxlan` devices, vdeplug4's `vxlan://`, other
//! switches of ours.
//!
//! Each uplink is one link with one endpoint. It receives on the VXLAN port (`local:port` in
//! unicast mode; the wildcard address and the group, joined on `dev`, in multicast mode), and
//! learns from each packet which VTEP the inner source MAC is behind. A frame sent to the port
//! goes to the VTEP its destination was learned from; floods (broadcast, multicast, unknown
//! or aged-out destinations) go to every remote (head-end replication) or to the group.
//!
//! The UDP source port: RFC 7348 §5 wants a hash of the inner frame so that underlay ECMP
//! spreads conversations while each keeps its order. A user-space sender can only send from
//! ports it has bound, so each uplink binds [`SOURCE_PORTS`] sockets to ports the kernel picks
//! in its ephemeral range (where Linux's own VXLAN source ports come from too) and picks the
//! socket by [`vde_protocol::vxlan::source_port`] over the inner header.
//!
//! Datagrams never fragment (path MTU discovery "do"): a frame whose datagram is larger than
//! the underlay's MTU fails with `EMSGSIZE`, is dropped and counted (`vxlan/print`), and a log
//! line says which MTU to raise.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use vde_protocol::vxlan::{header, source_port, Packet, PortRange, HEADER_LEN};
use vde_protocol::vxlan_spec::{Flood, VxlanSpec};
use vde_protocol::MacAddr;

use crate::fabric::{Credentials, Endpoint, EndpointId, Fabric, PortChoice, PortId};
use crate::log_warn;
use crate::server::plane::{Env, Link, LinkCx, Plane, Readiness, Rx};
use crate::sys::udp;

/// The module name `port/print` shows.
pub const MODULE: &str = "vxlan";
/// Sockets (so UDP source ports) each uplink sends from.
pub const SOURCE_PORTS: usize = 16;
/// How long a learned MAC → VTEP entry stays valid without traffic (as Linux's default).
pub const AGEING: Duration = Duration::from_secs(300);
/// Most learned entries per uplink; beyond, new sources are not learned (their frames are
/// flooded instead).
pub const MAX_LEARNED: usize = 65536;
/// TTL (hop limit) of multicast datagrams: the local segment, as Linux's default.
const MULTICAST_TTL: u32 = 1;
/// Outer headers: IPv4 (20) or IPv6 (40), UDP (8), VXLAN (8).
const OVERHEAD_V4: usize = 20 + 8 + HEADER_LEN;
const OVERHEAD_V6: usize = 40 + 8 + HEADER_LEN;

/// Bytes the underlay adds to a frame: the MTU of the underlay interface must be at least the
/// largest frame (without FCS) plus this.
pub fn overhead(ipv6: bool) -> usize {
    if ipv6 {
        OVERHEAD_V6
    } else {
        OVERHEAD_V4
    }
}

/// Counters of one uplink.
#[derive(Debug, Default)]
pub struct Stats {
    /// Packets received and handed to the switch.
    pub rx_packets: Cell<u64>,
    /// Packets received and dropped: not VXLAN, or another VNI.
    pub rx_dropped: Cell<u64>,
    /// Datagrams sent (a flood to three remotes is three).
    pub tx_packets: Cell<u64>,
    /// Datagrams not sent because they exceed the underlay's MTU (a flood to several remotes
    /// counts once per remote).
    pub too_big: Cell<u64>,
    /// Datagrams not sent for another reason (socket buffer full, no route...).
    pub tx_errors: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

/// A learned destination: the VTEP a MAC was last seen behind, and when.
#[derive(Debug, Clone, Copy)]
pub struct Learned {
    pub vtep: IpAddr,
    pub seen: Instant,
}

/// What the console shows about one uplink; shared by its link and the [`Registry`].
#[derive(Debug)]
pub struct Uplink {
    pub port: PortId,
    pub id: EndpointId,
    pub spec: VxlanSpec,
    pub stats: Stats,
    pub learned: RefCell<HashMap<MacAddr, Learned>>,
}

/// The uplinks of a switch, for `vxlan/print`. The console reads it; links add and remove
/// themselves.
#[derive(Clone, Default)]
pub struct Registry(Rc<RefCell<Vec<Rc<Uplink>>>>);

impl Registry {
    /// The uplinks, in port order.
    pub fn uplinks(&self) -> Vec<Rc<Uplink>> {
        let mut v = self.0.borrow().clone();
        v.sort_by_key(|u| u.port);
        v
    }

    fn add(&self, u: Rc<Uplink>) {
        self.0.borrow_mut().push(u);
    }

    fn remove(&self, u: &Rc<Uplink>) {
        self.0.borrow_mut().retain(|x| !Rc::ptr_eq(x, u));
    }
}

// The console's `Info` is compared and printed in tests; a registry is itself.
impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({} uplinks)", self.0.borrow().len())
    }
}

impl PartialEq for Registry {
    fn eq(&self, other: &Registry) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Registry {}

/// Why an uplink could not be opened.
#[derive(thiserror::Error, Debug)]
pub enum OpenError {
    #[error("cannot listen on {addr}: {} (is {ip} an address of this host, and the port free?)", text(.source), ip = addr.ip())]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot open a sending socket on {addr}: {}", text(.source))]
    Sender { addr: SocketAddr, source: io::Error },
    #[error("no interface '{dev}' for the multicast group: {}", text(.source))]
    NoInterface { dev: String, source: io::Error },
    #[error("cannot join group {group} on '{dev}': {}", text(.source))]
    Join {
        group: IpAddr,
        dev: String,
        source: io::Error,
    },
}

/// An error's text without std's " (os error N)".
fn text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::server::console::strerror(n),
        None => e.to_string(),
    }
}

impl OpenError {
    /// The errno a console status line shows.
    pub fn errno(&self) -> i32 {
        let source = match self {
            OpenError::Bind { source, .. }
            | OpenError::Sender { source, .. }
            | OpenError::NoInterface { source, .. }
            | OpenError::Join { source, .. } => source,
        };
        source.raw_os_error().unwrap_or(libc::EINVAL)
    }
}

/// The sockets of an uplink, opened but not yet carrying frames.
#[derive(Debug)]
pub struct Opened {
    spec: VxlanSpec,
    rx: UdpSocket,
    tx: Vec<UdpSocket>,
}

impl Opened {
    /// The endpoint id an uplink gets: the fd it receives on (as the reference names endpoints).
    pub fn endpoint_id(&self) -> EndpointId {
        self.rx.as_raw_fd() as EndpointId
    }

    pub fn spec(&self) -> &VxlanSpec {
        &self.spec
    }
}

/// Open the sockets `spec` describes.
pub fn open(spec: &VxlanSpec) -> Result<Opened, OpenError> {
    let v6 = spec.is_ipv6();
    let wildcard = udp::unspecified(v6);
    let (rx_addr, multicast) = match &spec.flood {
        Flood::Remotes(_) => (spec.local.unwrap_or(wildcard), None),
        Flood::Group { group, dev } => {
            let index = udp::ifindex(dev).map_err(|source| OpenError::NoInterface {
                dev: dev.clone(),
                source,
            })?;
            // Multicast packets are addressed to the group and unicast ones to this host:
            // the wildcard address receives both.
            (wildcard, Some((*group, dev, index)))
        }
    };
    let addr = SocketAddr::new(rx_addr, spec.port);
    let rx = udp::bind(addr).map_err(|source| OpenError::Bind { addr, source })?;
    if let Some((group, dev, index)) = multicast {
        udp::join(&rx, group, index).map_err(|source| OpenError::Join {
            group,
            dev: dev.clone(),
            source,
        })?;
    }
    let from = SocketAddr::new(spec.local.unwrap_or(wildcard), 0);
    let mut tx = Vec::with_capacity(SOURCE_PORTS);
    for _ in 0..SOURCE_PORTS {
        let s = udp::bind(from).map_err(|source| OpenError::Sender { addr: from, source })?;
        if let Some((_, _, index)) = multicast {
            udp::multicast_out(&s, v6, index, MULTICAST_TTL)
                .map_err(|source| OpenError::Sender { addr: from, source })?;
        }
        tx.push(s);
    }
    Ok(Opened {
        spec: spec.clone(),
        rx,
        tx,
    })
}

/// Attach an opened uplink to a free port of the fabric: its port (the link is not running
/// yet: [`start`] it).
pub fn attach(fabric: &mut Fabric, opened: &Opened) -> Result<PortId, crate::fabric::AttachError> {
    let endpoint = Endpoint {
        id: opened.endpoint_id(),
        module: MODULE,
        description: opened.spec.to_string(),
    };
    fabric.attach(PortChoice::Any, &Credentials::default(), endpoint)
}

/// Start carrying frames for an uplink attached to `port`. On error it is detached again.
pub fn start(
    opened: Opened,
    port: PortId,
    registry: &Registry,
    plane: &mut Plane,
    env: &mut Env<'_>,
) -> io::Result<()> {
    let id = opened.endpoint_id();
    let uplink = Rc::new(Uplink {
        port,
        id,
        spec: opened.spec.clone(),
        stats: Stats::default(),
        learned: RefCell::new(HashMap::new()),
    });
    let link = VxlanLink::new(opened, uplink.clone(), registry.clone());
    match plane.add_link(env, Box::new(link), &[(id, port)]) {
        Ok(_) => {
            registry.add(uplink);
            Ok(())
        }
        Err(e) => {
            let _ = plane.fabric_mut().detach(port, id);
            Err(e)
        }
    }
}

/// Open, attach and start the `--vxlan` uplinks.
pub fn attach_all(
    specs: &[VxlanSpec],
    registry: &Registry,
    plane: &mut Plane,
    env: &mut Env<'_>,
) -> Result<(), String> {
    for spec in specs {
        let opened = open(spec).map_err(|e| format!("VXLAN uplink {spec}: {e}"))?;
        let port =
            attach(plane.fabric_mut(), &opened).map_err(|e| format!("VXLAN uplink {spec}: {e}"))?;
        start(opened, port, registry, plane, env)
            .map_err(|e| format!("VXLAN uplink {spec}: {e}"))?;
    }
    Ok(())
}

struct VxlanLink {
    rx: UdpSocket,
    tx: Vec<UdpSocket>,
    uplink: Rc<Uplink>,
    registry: Registry,
    /// Where floods go.
    flood: Vec<SocketAddr>,
    header: [u8; HEADER_LEN],
    /// Headers and senders of a receive batch (the inner frames go straight into the
    /// data path's buffers).
    heads: Vec<[u8; HEADER_LEN]>,
    senders: Vec<Option<SocketAddr>>,
    /// Datagrams of a send batch: (sending socket, frame, destination).
    out: Vec<(usize, usize, SocketAddr)>,
    /// When the last "too big" line was logged.
    warned: Option<Instant>,
    /// When a full learned table was last searched for expired entries (at most once a
    /// second, so that a flood of new sources cannot make each packet scan the table).
    purged: Option<Instant>,
}

impl VxlanLink {
    fn new(opened: Opened, uplink: Rc<Uplink>, registry: Registry) -> VxlanLink {
        let spec = &opened.spec;
        let flood = match &spec.flood {
            Flood::Remotes(r) => r.iter().map(|a| SocketAddr::new(*a, spec.port)).collect(),
            Flood::Group { group, .. } => vec![SocketAddr::new(*group, spec.port)],
        };
        VxlanLink {
            header: header(spec.vni),
            rx: opened.rx,
            tx: opened.tx,
            uplink,
            registry,
            flood,
            heads: vec![[0; HEADER_LEN]; udp::MAX_BATCH],
            senders: vec![None; udp::MAX_BATCH],
            out: Vec::with_capacity(udp::MAX_BATCH),
            warned: None,
            purged: None,
        }
    }

    /// Remember that `src` is behind `vtep`.
    fn learn(&mut self, src: MacAddr, vtep: IpAddr, now: Instant) {
        if src.0[0] & 1 != 0 {
            return;
        }
        let mut table = self.uplink.learned.borrow_mut();
        if let Some(e) = table.get_mut(&src) {
            *e = Learned { vtep, seen: now };
            return;
        }
        if table.len() >= MAX_LEARNED {
            if self
                .purged
                .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
            {
                return;
            }
            self.purged = Some(now);
            table.retain(|_, e| now.duration_since(e.seen) < AGEING);
            if table.len() >= MAX_LEARNED {
                return;
            }
        }
        table.insert(src, Learned { vtep, seen: now });
    }

    /// The VTEP a unicast destination was learned from, if still valid.
    fn vtep_of(&self, dst: &[u8], now: Instant) -> Option<SocketAddr> {
        if dst[0] & 1 != 0 {
            return None;
        }
        let mac = MacAddr(dst[..6].try_into().ok()?);
        let table = self.uplink.learned.borrow();
        let e = table.get(&mac)?;
        (now.duration_since(e.seen) < AGEING)
            .then(|| SocketAddr::new(e.vtep, self.uplink.spec.port))
    }

    fn too_big(&mut self, len: usize) {
        bump(&self.uplink.stats.too_big);
        let now = Instant::now();
        if self
            .warned
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10))
        {
            self.warned = Some(now);
            let over = overhead(self.uplink.spec.is_ipv6());
            log_warn!(
                "VXLAN uplink on port {}: a {}-byte frame does not fit the underlay (its datagram is {} bytes); dropped. Set the MTU of the underlay interface to at least the largest frame plus {} (1514 + {} = {} for standard frames), or lower the MTU of the hosts on the switch",
                self.uplink.port,
                len,
                len + over,
                over,
                over,
                1514 + over
            );
        }
    }
}

impl Link for VxlanLink {
    // The sending sockets are read too: some VTEPs (vdeplug4's vxlan://) answer to the source
    // port of what they received rather than to the VXLAN port.
    fn fds(&self) -> Vec<RawFd> {
        std::iter::once(&self.rx)
            .chain(&self.tx)
            .map(AsRawFd::as_raw_fd)
            .collect()
    }

    fn ready(&mut self, _fd: usize, event: &mio::event::Event) -> Readiness {
        Readiness {
            recv: event.is_readable(),
            send: event.is_writable(),
            close: false,
        }
    }

    fn recv(&mut self, rx: &mut Rx<'_>, _cx: &mut LinkCx<'_>) -> io::Result<usize> {
        let cap = rx.capacity().min(self.heads.len());
        let mut n = 0;
        let mut now = None;
        // Each socket is read until it is empty (epoll is edge-triggered) or the batch full.
        let all = 1 + self.tx.len();
        let mut next = 0;
        while n < cap && next < all {
            let sock = if next == 0 {
                &self.rx
            } else {
                &self.tx[next - 1]
            };
            let want = cap - n;
            let got = udp::recv_batch(
                sock,
                &mut self.heads[..want],
                &mut rx.bufs[n..n + want],
                &mut rx.lens[n..n + want],
                &mut self.senders[..want],
            );
            let k = match got {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    next += 1;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // An ICMP error queued on the socket, or the like: not a frame, go on.
                Err(_) => {
                    bump(&self.uplink.stats.rx_dropped);
                    continue;
                }
            };
            let uplink = self.uplink.clone();
            let stats = &uplink.stats;
            let mut kept = 0;
            for i in 0..k {
                let head = Packet::new_unchecked(&self.heads[i][..]);
                let len = rx.lens[n + i];
                if !head.has_vni() || head.vni() != self.uplink.spec.vni || len < 14 {
                    bump(&stats.rx_dropped);
                    continue;
                }
                bump(&stats.rx_packets);
                let now = *now.get_or_insert_with(Instant::now);
                let frame = &rx.bufs[n + i];
                let src = MacAddr(frame[6..12].try_into().expect("14-byte inner header"));
                if let Some(from) = self.senders[i] {
                    // An IPv4-mapped sender is the IPv4 VTEP it stands for.
                    let vtep = match from.ip() {
                        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
                        a => a,
                    };
                    self.learn(src, vtep, now);
                }
                if kept != i {
                    rx.bufs.swap(n + kept, n + i);
                    rx.lens[n + kept] = len;
                }
                kept += 1;
            }
            n += kept;
            if k < want {
                next += 1;
            }
        }
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn send(&mut self, _to: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        let now = Instant::now();
        let ports = PortRange::new(0, (self.tx.len() - 1) as u16).expect("at least one socket");
        self.out.clear();
        for (f, &frame) in frames.iter().enumerate() {
            if frame.len() < 14 {
                continue;
            }
            let sock = usize::from(source_port(frame, ports));
            match self.vtep_of(frame, now) {
                Some(one) => self.out.push((sock, f, one)),
                None => self.out.extend(self.flood.iter().map(|&to| (sock, f, to))),
            }
        }
        // One sendmmsg per sending socket, datagrams in frame order.
        let mut batch: Vec<udp::Out<'_>> = Vec::with_capacity(self.out.len());
        let mut too_big = Vec::new();
        for s in 0..self.tx.len() {
            batch.clear();
            batch.extend(
                self.out
                    .iter()
                    .filter(|o| o.0 == s)
                    .map(|&(_, f, to)| udp::Out {
                        head: &self.header,
                        body: frames[f],
                        to,
                    }),
            );
            let stats = &self.uplink.stats;
            let mut i = 0;
            while i < batch.len() {
                match udp::send_batch(&self.tx[s], &batch[i..]) {
                    Ok(k) => {
                        stats.tx_packets.set(stats.tx_packets.get() + k as u64);
                        i += k.max(1);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                        too_big.push(batch[i].body.len());
                        i += 1;
                    }
                    // Full socket buffer, no route, an ICMP error of an earlier datagram:
                    // UDP loses it, as a cable would.
                    Err(_) => {
                        bump(&stats.tx_errors);
                        i += 1;
                    }
                }
            }
        }
        for len in too_big {
            self.too_big(len);
        }
        Ok(frames.len())
    }

    fn release(&mut self) {
        self.registry.remove(&self.uplink);
    }
}
