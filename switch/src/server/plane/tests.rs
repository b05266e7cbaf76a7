//! The data path with real sockets: links over socket pairs, the fabric deciding, hooks
//! taking, watching and adding frames.

use std::cell::RefCell;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::hooks::{HookCx, Injection, PortHook, Verdict};
use super::*;
use crate::fabric::{Credentials, Endpoint, PortChoice, PortSet};

/// A link over one end of a socket pair; the test holds the other end.
struct PairLink(UnixDatagram);

impl Link for PairLink {
    fn fds(&self) -> Vec<RawFd> {
        vec![self.0.as_raw_fd()]
    }

    fn recv(&mut self, rx: &mut Rx<'_>, _: &mut LinkCx<'_>) -> io::Result<usize> {
        rx.read_each(|buf| self.0.recv(buf))
    }

    fn send(&mut self, _: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        write_each(frames, |f| self.0.send(f))
    }
}

struct Bench {
    plane: Plane,
    io: Io,
    timers: Timers,
    _poll: mio::Poll,
    /// The client ends, by port (1, 2, 3).
    clients: Vec<UnixDatagram>,
    links: Vec<Key>,
}

impl Bench {
    fn new() -> Bench {
        let poll = mio::Poll::new().unwrap();
        let io = Io::new(poll.registry().try_clone().unwrap());
        let mut b = Bench {
            plane: Plane::new(Fabric::new(8, false, 128, 1024), 1518),
            io,
            timers: Timers::default(),
            _poll: poll,
            clients: Vec::new(),
            links: Vec::new(),
        };
        for id in [10, 11, 12] {
            let (ours, theirs) = UnixDatagram::pair().unwrap();
            ours.set_nonblocking(true).unwrap();
            theirs.set_nonblocking(true).unwrap();
            let ep = Endpoint {
                id,
                module: "test",
                description: String::new(),
            };
            let port = b
                .plane
                .fabric_mut()
                .attach(PortChoice::Any, &Credentials::default(), ep)
                .unwrap();
            let mut env = Env {
                io: &mut b.io,
                timers: &mut b.timers,
                tick: 0,
            };
            let key = b
                .plane
                .add_link(&mut env, Box::new(PairLink(ours)), &[(id, port)])
                .unwrap();
            b.links.push(key);
            b.clients.push(theirs);
        }
        b
    }

    fn env(&mut self) -> (&mut Plane, Env<'_>) {
        (
            &mut self.plane,
            Env {
                io: &mut self.io,
                timers: &mut self.timers,
                tick: 0,
            },
        )
    }

    /// Client `i` (port i+1) sends `frame`; the plane reads it.
    fn send(&mut self, i: usize, frame: &[u8]) {
        self.clients[i].send(frame).unwrap();
        let key = self.links[i];
        let (plane, mut env) = self.env();
        plane.on_readable(&mut env, key);
        plane.inject_pending(&mut env);
    }

    /// What client `i` received.
    fn got(&self, i: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2000];
        while let Ok(n) = self.clients[i].recv(&mut buf) {
            out.push(buf[..n].to_vec());
        }
        out
    }
}

fn frame(dst: [u8; 6], src: u8, fill: u8) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&[2, 0, 0, 0, 0, src, 0x08, 0x00]);
    f.resize(60, fill);
    f
}

const BCAST: [u8; 6] = [0xff; 6];
const STP: [u8; 6] = [0x01, 0x80, 0xc2, 0, 0, 0];

fn ports(list: &[u16]) -> PortSet {
    let mut s = PortSet::default();
    for &p in list {
        s.insert(PortId(p));
    }
    s
}

#[test]
fn frames_go_where_the_fabric_says() {
    let mut b = Bench::new();
    let f = frame(BCAST, 1, 0xaa);
    b.send(0, &f);
    assert_eq!(b.got(1), vec![f.clone()]);
    assert_eq!(b.got(2), vec![f.clone()]);
    assert!(b.got(0).is_empty());
    // Learned: unicast reaches only its port.
    let u = frame([2, 0, 0, 0, 0, 1], 2, 0xbb);
    b.send(1, &u);
    assert_eq!(b.got(0), vec![u]);
    assert!(b.got(2).is_empty());
    // Runts are counted, not forwarded.
    b.send(2, &[0u8; 10]);
    assert!(b.got(0).is_empty());
    assert_eq!(b.plane.fabric().port(PortId(3)).unwrap().counters.runts, 1);
}

/// Takes the BPDUs entering a port (as FSTP would) and answers each with one of its own,
/// counts the copies leaving its ports and drops every second one leaving port 3 (as an
/// impairment would).
#[derive(Default)]
struct Seen {
    bpdus: usize,
    leaving: usize,
    leaving_3: usize,
    timers: Vec<u64>,
}

struct TestHook(Rc<RefCell<Seen>>);

impl PortHook for TestHook {
    fn ingress(&mut self, port: PortId, frame: &[u8], cx: &mut HookCx<'_>) -> Verdict {
        if frame[..6] != STP {
            return Verdict::Forward;
        }
        self.0.borrow_mut().bpdus += 1;
        cx.inject(Injection::Egress {
            port,
            frame: frame.to_vec(),
        });
        cx.set_timer(cx.now, 7);
        Verdict::Taken
    }

    fn egress(&mut self, port: PortId, frames: &[&[u8]], keep: &mut [bool], _: &mut HookCx<'_>) {
        let mut seen = self.0.borrow_mut();
        for k in keep.iter_mut().take(frames.len()) {
            seen.leaving += 1;
            if port == PortId(3) {
                seen.leaving_3 += 1;
                *k = seen.leaving_3 % 2 == 1;
            }
        }
    }

    fn timer(&mut self, tag: u64, cx: &mut HookCx<'_>) {
        self.0.borrow_mut().timers.push(tag);
        cx.inject(Injection::Ingress {
            port: PortId(3),
            frame: frame(BCAST, 9, 0x99),
        });
    }
}

#[test]
fn hooks_take_watch_and_add_frames() {
    let mut b = Bench::new();
    let seen = Rc::new(RefCell::new(Seen::default()));
    b.plane
        .hooks
        .add(Box::new(TestHook(Rc::clone(&seen))), ports(&[1, 3]));

    // A BPDU entering port 1 is taken; the hook's answer leaves through port 1.
    let bpdu = frame(STP, 1, 0x42);
    b.send(0, &bpdu);
    assert_eq!(seen.borrow().bpdus, 1);
    assert_eq!(b.got(0), vec![bpdu]);
    assert!(b.got(1).is_empty() && b.got(2).is_empty());

    // Copies leaving port 3 go through the hook, which keeps one in two; port 2 has no hook.
    for fill in 0..4 {
        b.send(1, &frame(BCAST, 2, fill));
    }
    assert_eq!(b.got(2).len(), 2);
    assert_eq!(b.got(0).len(), 4);
    assert_eq!(seen.borrow().leaving, 8, "ports 1 and 3 are watched");

    // Its timer came due: it injects a frame into port 3, which the fabric floods.
    let due = b.timers.pop_due(Instant::now() + Duration::from_secs(1));
    let Some(Due::Hook(key, tag)) = due else {
        panic!("no hook timer: {due:?}");
    };
    let (plane, mut env) = b.env();
    plane.hook_timer(&mut env, key, tag);
    assert_eq!(seen.borrow().timers, vec![7]);
    assert_eq!(b.got(1), vec![frame(BCAST, 9, 0x99)]);
    // Port 1's copy left through the hook too.
    assert_eq!(b.got(0).len(), 1);
    assert!(
        b.got(2).is_empty(),
        "injected into port 3: not sent back there"
    );
    assert_eq!(seen.borrow().leaving, 9);

    // Removed, it sees nothing more.
    b.plane.hooks.remove(key);
    b.send(1, &frame(BCAST, 2, 5));
    assert_eq!(b.got(2).len(), 1);
    assert_eq!(seen.borrow().leaving, 9);
}

#[test]
fn closing_an_endpoint_closes_its_link() {
    let mut b = Bench::new();
    let (plane, mut env) = b.env();
    assert!(plane.close_endpoint(&mut env, 11));
    assert!(!plane.close_endpoint(&mut env, 11));
    assert!(plane
        .fabric()
        .port(PortId(2))
        .is_some_and(|p| !p.is_active()));
    b.send(0, &frame(BCAST, 1, 1));
    assert!(b.got(1).is_empty());
    assert_eq!(b.got(2).len(), 1);
}

/// A socket shared by many peers, as a datagram port kind would have: here a peer is the
/// first byte of each datagram. A new peer gets its own port on its first frame; a timer
/// releases the peers.
struct SharedLink {
    sock: UnixDatagram,
    peers: Vec<(u8, EndpointId)>,
}

impl Link for SharedLink {
    fn fds(&self) -> Vec<RawFd> {
        vec![self.sock.as_raw_fd()]
    }

    fn recv(&mut self, rx: &mut Rx<'_>, cx: &mut LinkCx<'_>) -> io::Result<usize> {
        let n = rx.read_each(|buf| self.sock.recv(buf))?;
        for i in 0..n {
            let peer = rx.bufs[i][0];
            let id = match self.peers.iter().find(|p| p.0 == peer) {
                Some(&(_, id)) => id,
                None => {
                    let who = Credentials::default();
                    let id = cx
                        .attach(PortChoice::Any, &who, "shared", format!("peer {peer}"))
                        .unwrap();
                    let now = cx.now();
                    cx.set_timer(now, u64::from(peer));
                    self.peers.push((peer, id));
                    id
                }
            };
            rx.from[i] = id;
            rx.bufs[i].copy_within(1..rx.lens[i], 0);
            rx.lens[i] -= 1;
        }
        Ok(n)
    }

    fn send(&mut self, to: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        let peer = self.peers.iter().find(|p| p.1 == to).map_or(0, |p| p.0);
        write_each(frames, |f| self.sock.send(&[&[peer], f].concat()))
    }

    fn timer(&mut self, tag: u64, cx: &mut LinkCx<'_>) {
        if let Some(i) = self.peers.iter().position(|p| u64::from(p.0) == tag) {
            cx.release(self.peers.remove(i).1);
        }
    }

    fn shared(&self) -> bool {
        true
    }
}

#[test]
fn a_shared_link_gives_each_peer_a_port_and_releases_it() {
    let mut b = Bench::new();
    let (ours, theirs) = UnixDatagram::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    theirs.set_nonblocking(true).unwrap();
    let link = SharedLink {
        sock: ours,
        peers: Vec::new(),
    };
    let (plane, mut env) = b.env();
    let key = plane.add_link(&mut env, Box::new(link), &[]).unwrap();
    let from_peer = |peer: u8, f: &[u8]| [&[peer], f].concat();

    // Peer 7, then peer 9, each on its own new port.
    let f7 = frame(BCAST, 7, 0x77);
    theirs.send(&from_peer(7, &f7)).unwrap();
    theirs.send(&from_peer(9, &frame(BCAST, 9, 0x99))).unwrap();
    let (plane, mut env) = b.env();
    plane.on_readable(&mut env, key);
    let fabric = b.plane.fabric();
    let shared: Vec<(u16, String)> = fabric
        .ports()
        .filter(|(_, p)| p.endpoints.first().is_some_and(|e| e.module == "shared"))
        .map(|(i, p)| (i.0, p.endpoints[0].description.clone()))
        .collect();
    assert_eq!(shared, [(4, "peer 7".into()), (5, "peer 9".into())]);
    for i in 0..3 {
        assert_eq!(b.got(i).len(), 2, "client {i}");
    }
    // Each peer's broadcast went to the other through the same socket, not back to itself.
    let mut buf = [0u8; 100];
    let mut back = Vec::new();
    while let Ok(n) = theirs.recv(&mut buf) {
        back.push(buf[..n].to_vec());
    }
    back.sort();
    assert_eq!(
        back,
        [from_peer(7, &frame(BCAST, 9, 0x99)), from_peer(9, &f7)]
    );

    // The idle timers release both peers; the link stays for the next one.
    for _ in 0..2 {
        let Some(Due::Link(k, tag)) = b.timers.pop_due(Instant::now()) else {
            panic!("no link timer");
        };
        let (plane, mut env) = b.env();
        plane.link_timer(&mut env, k, tag);
    }
    let fabric = b.plane.fabric();
    assert!(!fabric.port(PortId(4)).unwrap().is_active());
    assert!(!fabric.port(PortId(5)).unwrap().is_active());
    theirs.send(&from_peer(3, &frame(BCAST, 3, 0x33))).unwrap();
    let (plane, mut env) = b.env();
    plane.on_readable(&mut env, key);
    assert_eq!(b.got(0).len(), 1, "a new peer after the others left");
}
