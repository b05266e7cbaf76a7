//! The state machine replaying exchanges recorded between two vde_switch 2.3.2 (`-F`), switches
//! 02:00:00:00:00:0a (A, the root) and 02:00:00:00:00:0b (B): a cable, a second cable closing a
//! loop, then the first cable unplugged. Playing either switch, fed the other's recorded BPDUs,
//! it must send the recorded BPDUs byte for byte and print the recorded debug events and
//! `fstp/print` text. Times are chosen to match the recorded message ages.

use vde_protocol::bpdu::BpduRepr;
use vde_protocol::{BridgeId, MacAddr};

use super::*;

const MAC_A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0a]);
const MAC_B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0b]);

// Sent by A.
/// Port 1 added (designated, forwarding); also A's answer to B's first BPDU.
const A_P1_ADD: &str =
    "0180c200000002000000000a0027424203000002023c800002000000000a0000000080000200\
                        0000000a8001000028000400000000";
const A_P1_HELLO: &str =
    "0180c200000002000000000a0027424203000002027c800002000000000a00000000800002\
                          000000000a8001000028000400000000";
/// Topology change on port 1 (after port 2 was added, and after it was blocked).
const A_P1_TC: &str =
    "0180c200000002000000000a0027424203000002023d800002000000000a0000000080000200\
                       0000000a8001000028000400000000";
const A_P2_ADD: &str =
    "0180c200000002000000000a0027424203000002023c800002000000000a0000000080000200\
                        0000000a8002000028000400000000";
const A_P2_HELLO: &str =
    "0180c200000002000000000a0027424203000002024a800002000000000a00000000800002\
                          000000000a8002000028000400000000";
/// Port 2 (blocked) telling B, which thinks it is the root, about A.
const A_P2_REPLY: &str =
    "0180c200000002000000000a0027424203000002020a800002000000000a00000000800002\
                          000000000a8002000028000400000000";

// Sent by B.
const B_P1_ADD: &str =
    "0180c200000002000000000b0027424203000002023c800002000000000b0000000080000200\
                        0000000b8001000028000400000000";
/// Port 1 just became the root port: agreement.
const B_P1_AGREE: &str =
    "0180c200000002000000000b00274242030000020274800002000000000a01312d00800002\
                          000000000b8001000028000400000000";
const B_P1_HELLO: &str =
    "0180c200000002000000000b00274242030000020274800002000000000a01312d00800002\
                          000000000b8001010028000400000000";
/// Topology change on the root port, message age 1 (port 2 added) and 0 (port 2 blocked).
const B_P1_TC_AGE1: &str =
    "0180c200000002000000000b00274242030000020235800002000000000a01312d008000\
                            02000000000b8001010028000400000000";
const B_P1_TC_AGE0: &str =
    "0180c200000002000000000b00274242030000020235800002000000000a01312d008000\
                            02000000000b8001000028000400000000";
const B_P2_ADD: &str =
    "0180c200000002000000000b0027424203000002023c800002000000000a01312d0080000200\
                        0000000b8002010028000400000000";
const B_P2_HELLO: &str =
    "0180c200000002000000000b0027424203000002024a800002000000000a01312d00800002\
                          000000000b8002010028000400000000";
/// Root port lost: B is the root, topology change on port 2.
const B_P2_TC_ROOT: &str =
    "0180c200000002000000000b0027424203000002023d800002000000000b000000008000\
                            02000000000b8002000028000400000000";
const B_P2_AGREE: &str =
    "0180c200000002000000000b00274242030000020274800002000000000a01312d00800002\
                          000000000b8002000028000400000000";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// What happened in a step, simplified for comparison (VLANs left out): BPDUs sent (port, hex),
/// debug lines, flushes and states.
#[derive(Debug, Default, PartialEq)]
struct Seen {
    sent: Vec<(u16, String)>,
    events: Vec<String>,
    flushes: Vec<FlushCause>,
    states: Vec<(u16, PortState)>,
}

fn seen(effects: &[Effect]) -> Seen {
    let mut s = Seen::default();
    for e in effects {
        match e {
            Effect::Send { port, bpdu } => s.sent.push((port.0, hex(&bpdu.to_bytes()))),
            Effect::Debug(ev) => s.events.push(format!("{} {ev}", ev.category())),
            Effect::Flush { cause, .. } => s.flushes.push(*cause),
            Effect::SetState { port, state, .. } => s.states.push((port.0, *state)),
        }
    }
    s
}

/// One switch, VLAN 0, driven step by step.
struct Sw(Fstp);

impl Sw {
    fn new(mac: MacAddr) -> Sw {
        Sw(Fstp::new(mac, DEFAULT_PRIORITY, true, 0))
    }
    fn add(&mut self, now: u64, port: u16) -> Seen {
        let port = PortId(port);
        let mut out = Vec::new();
        self.0.port_added(0, port, false, now, &mut out);
        seen(&out)
    }
    fn remove(&mut self, now: u64, port: u16) -> Seen {
        let port = PortId(port);
        let mut out = Vec::new();
        self.0.port_removed(0, port, now, &mut out);
        seen(&out)
    }
    fn recv(&mut self, now: u64, port: u16, frame: &str) -> Seen {
        let port = PortId(port);
        let mut out = Vec::new();
        self.0.receive(port, 0, &unhex(frame), now, &mut out);
        seen(&out)
    }
    fn tick(&mut self, now: u64) -> Seen {
        let mut out = Vec::new();
        self.0.tick(now, &mut out);
        seen(&out)
    }
    fn print(&self, now: u64) -> String {
        let mut s = String::new();
        assert!(self.0.print_vlan(0, now, &mut s));
        s
    }
}

/// The BPDUs among `effects`, with their ports.
fn bpdus(effects: &[Effect]) -> Vec<(PortId, BpduRepr)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { port, bpdu } => Some((*port, *bpdu)),
            _ => None,
        })
        .collect()
}

fn sent(list: &[(u16, &str)]) -> Vec<(u16, String)> {
    list.iter().map(|(p, h)| (*p, h.to_string())).collect()
}

fn events(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn playing_the_non_root_switch() {
    let mut b = Sw::new(MAC_B);
    // Cable 1 plugged at second 3.
    let s = b.add(3, 1);
    assert_eq!(s.sent, sent(&[(1, B_P1_ADD)]));
    assert_eq!(s.states, [(1, PortState::Forwarding)]);
    assert_eq!(s.flushes, [FlushCause::PortAdded]);
    assert!(s.events.is_empty());

    let s = b.recv(3, 1, A_P1_ADD);
    assert_eq!(
        s.events,
        events(&[
            "fstp/+ Port 0001 VLAN 00:00",
            "fstp/root Port 0001 VLAN 00:00 -> 80:00:02:00:00:00:00:0a",
            "fstp/status Port 0001 VLAN 00:00 learning+forwarding",
        ])
    );
    assert_eq!(s.sent, sent(&[(1, B_P1_AGREE)]));
    assert_eq!(s.flushes, [FlushCause::RootChanged]);
    // A answers B's first BPDU with the same frame, then hellos: nothing changes.
    assert_eq!(b.recv(3, 1, A_P1_ADD), Seen::default());
    assert_eq!(b.recv(3, 1, A_P1_HELLO), Seen::default());
    for t in [4, 8, 12] {
        if t > 4 {
            assert_eq!(b.recv(t - 1, 1, A_P1_HELLO), Seen::default());
        }
        assert_eq!(b.tick(t).sent, sent(&[(1, B_P1_HELLO)]), "hello at {t}");
    }
    assert_eq!(b.tick(12), Seen::default(), "one hello per period");

    // Cable 2 plugged at second 12, after the hello.
    let s = b.add(12, 2);
    assert_eq!(s.sent, sent(&[(2, B_P2_ADD), (1, B_P1_TC_AGE1)]));
    let s = b.recv(12, 1, A_P1_TC);
    assert_eq!(s.flushes, [FlushCause::TopologyChangeReceived]);
    assert!(s.sent.is_empty() && s.events.is_empty());
    let s = b.recv(12, 2, A_P2_ADD);
    assert_eq!(
        s.events,
        events(&[
            "fstp/+ Port 0002 VLAN 00:00",
            "fstp/status Port 0002 VLAN 00:00 discarding",
        ])
    );
    assert_eq!(s.states, [(2, PortState::Discarding)]);
    assert_eq!(s.sent, sent(&[(1, B_P1_TC_AGE0)]));
    assert_eq!(b.recv(12, 1, A_P1_TC).sent, []);
    assert_eq!(b.recv(15, 1, A_P1_HELLO), Seen::default());
    assert_eq!(b.recv(15, 2, A_P2_HELLO), Seen::default());
    let s = b.tick(16);
    assert_eq!(s.sent, sent(&[(1, B_P1_HELLO), (2, B_P2_HELLO)]));
    assert_eq!(
        b.print(18),
        "FST DATA VLAN 0000  \n\
         \x20++ root 80:00:02:00:00:00:00:0a\n\
         \x20++ designated 80:00:02:00:00:00:00:0a\n\
         \x20++ rootport 0001 cost 20000000 age 3 bonusport 0000 bonuscost 0\n\
         \x20-- Port 0001 tagged=0 portcost=20000000 role=Root\n\
         \x20-- Port 0002 tagged=0 portcost=20000000 role=Alternate/Backup\n"
    );

    // Cable 1 unplugged at second 17.
    let s = b.remove(17, 1);
    assert_eq!(
        s.events,
        events(&[
            "fstp/- Port 0001 VLAN 00:00",
            "fstp/root Port 0000 VLAN 00:00 -> 80:00:02:00:00:00:00:0b",
            "fstp/status Port 0002 VLAN 00:00 learning+forwarding",
        ])
    );
    assert_eq!(s.sent, sent(&[(2, B_P2_TC_ROOT)]));
    let s = b.recv(17, 2, A_P2_REPLY);
    assert_eq!(
        s.events,
        events(&[
            "fstp/root Port 0002 VLAN 00:00 -> 80:00:02:00:00:00:00:0a",
            "fstp/status Port 0002 VLAN 00:00 learning+forwarding",
        ])
    );
    assert_eq!(s.sent, sent(&[(2, B_P2_AGREE)]));
    assert_eq!(b.0.state(0, PortId(2)), PortState::Forwarding);
}

#[test]
fn playing_the_root_switch() {
    let mut a = Sw::new(MAC_A);
    assert_eq!(a.add(1, 1).sent, sent(&[(1, A_P1_ADD)]));
    // B believes it is the root: tell it about A.
    let s = a.recv(1, 1, B_P1_ADD);
    assert_eq!(s.events, events(&["fstp/+ Port 0001 VLAN 00:00"]));
    assert_eq!(s.sent, sent(&[(1, A_P1_ADD)]));
    // B's root port agreeing: A is its designated bridge, nothing to do.
    assert_eq!(a.recv(1, 1, B_P1_AGREE), Seen::default());
    assert_eq!(a.tick(4).sent, sent(&[(1, A_P1_HELLO)]));
    assert_eq!(a.recv(4, 1, B_P1_HELLO), Seen::default());

    let s = a.add(9, 2);
    assert_eq!(s.sent, sent(&[(2, A_P2_ADD), (1, A_P1_TC)]));
    let s = a.recv(9, 1, B_P1_TC_AGE1);
    assert_eq!(
        (s.flushes, s.sent),
        (vec![FlushCause::TopologyChangeReceived], vec![])
    );
    let s = a.recv(9, 2, B_P2_ADD);
    assert_eq!(
        s.events,
        events(&[
            "fstp/+ Port 0002 VLAN 00:00",
            "fstp/status Port 0002 VLAN 00:00 discarding",
        ])
    );
    assert_eq!(s.sent, sent(&[(1, A_P1_TC)]));
    assert_eq!(a.recv(9, 1, B_P1_TC_AGE0).sent, []);
    let s = a.tick(12);
    assert_eq!(s.sent, sent(&[(1, A_P1_HELLO), (2, A_P2_HELLO)]));
    assert_eq!(
        a.print(22),
        "FST DATA VLAN 0000 ROOTSWITCH \n\
         \x20++ root 80:00:02:00:00:00:00:0a\n\
         \x20++ designated ff:ff:ff:ff:ff:ff:ff:ff\n\
         \x20++ rootport 0000 cost 0 age 22 bonusport 0000 bonuscost 0\n\
         \x20-- Port 0001 tagged=0 portcost=20000000 role=Designated\n\
         \x20-- Port 0002 tagged=0 portcost=20000000 role=Alternate/Backup\n"
    );

    let s = a.remove(13, 1);
    assert_eq!(s.events, events(&["fstp/- Port 0001 VLAN 00:00"]));
    assert!(
        s.sent.is_empty(),
        "port 2 is blocked: no topology change sent"
    );
    let s = a.recv(13, 2, B_P2_TC_ROOT);
    assert_eq!(s.sent, sent(&[(2, A_P2_REPLY)]));
    let s = a.recv(13, 2, B_P2_AGREE);
    assert_eq!(
        s.events,
        events(&["fstp/status Port 0002 VLAN 00:00 learning+forwarding"])
    );
    assert_eq!(s.flushes, [FlushCause::PortUnblocked]);
    assert_eq!(a.0.role(0, PortId(2)), Some(Role::Designated));
}

fn bridge(mac_last: u8) -> BridgeId {
    BridgeId::new(DEFAULT_PRIORITY, MacAddr([2, 0, 0, 0, 0, mac_last]))
}

/// A BPDU from bridge `from` port `port`, claiming root `root` at `cost`.
fn bpdu(from: u8, port: usize, root: BridgeId, cost: u32, flags: u8) -> Vec<u8> {
    BpduRepr {
        src: MacAddr([2, 0, 0, 0, 0, from]),
        vlan: None,
        flags: Flags(flags),
        root,
        root_cost: cost,
        bridge: bridge(from),
        port_id: vde_protocol::bpdu::reference_port_id(port),
        message_age: 0,
        max_age: 40,
        hello_time: 4,
        forward_delay: 0,
    }
    .to_bytes()
}

#[test]
fn vlan_life_and_turning_fstp_off() {
    let mut f = Fstp::new(MAC_B, DEFAULT_PRIORITY, false, 0);
    let mut out = Vec::new();
    f.vlan_created(10, &mut out);
    // With FSTP off the VLAN still gets its root event, as in vde_switch.
    assert_eq!(
        seen(&out).events,
        ["fstp/root Port 0000 VLAN 00:0a -> 80:00:02:00:00:00:00:0b"]
    );
    out.clear();
    f.port_added(10, PortId(3), true, 5, &mut out);
    assert_eq!(
        out,
        [Effect::SetState {
            port: PortId(3),
            vlan: 10,
            state: PortState::Forwarding
        }],
        "off: nothing sent, nothing flushed"
    );
    out.clear();
    f.receive(
        PortId(3),
        10,
        &bpdu(0x0a, 1, bridge(0x0a), 0, 0x3c),
        5,
        &mut out,
    );
    assert!(out.is_empty(), "off: BPDUs are not read");
    assert_eq!(f.next_deadline(), None);

    f.set_enabled(true, 6, &mut out);
    assert!(out.is_empty());
    assert_eq!(f.next_deadline(), Some(10));
    f.receive(
        PortId(3),
        10,
        &bpdu(0x0a, 1, bridge(0x0a), 0, 0x3c),
        7,
        &mut out,
    );
    assert_eq!(f.role(10, PortId(3)), Some(Role::Root));
    let mut text = String::new();
    assert!(f.print_vlan(10, 9, &mut text));
    assert!(
        text.ends_with(" -- Port 0003 tagged=1 portcost=20000000 role=Unknown\n"),
        "{text}"
    );
    let mut tagged_sent = seen(&out).sent;
    assert_eq!(tagged_sent.len(), 1);
    let (port, frame) = tagged_sent.pop().unwrap();
    assert_eq!(port, 3);
    assert_eq!(&frame[24..32], "8100000a", "tagged on VLAN 10");

    out.clear();
    f.set_enabled(false, 9, &mut out);
    assert_eq!(
        seen(&out).events,
        [
            "fstp/root Port 0000 VLAN 00:00 -> 80:00:02:00:00:00:00:0b",
            "fstp/root Port 0000 VLAN 00:0a -> 80:00:02:00:00:00:00:0b",
        ]
    );
    assert_eq!(f.role(10, PortId(3)), Some(Role::Designated));
    let mut info = String::new();
    f.showinfo(&mut info);
    assert_eq!(
        info,
        "MAC 02:00:00:00:00:0b Priority 32768 (0x8000)\nFSTP=false\n"
    );
    text.clear();
    f.print_all(9, &mut text);
    assert!(text.starts_with("FST DATA VLAN 0000 ROOTSWITCH FSTP IS DISABLED\n"));
    assert!(text.contains("FST DATA VLAN 0010 ROOTSWITCH FSTP IS DISABLED\n"));
    f.vlan_removed(10);
    assert!(!f.print_vlan(10, 9, &mut text));
    assert_eq!(
        f.set_bonus(10, PortId(1), 5),
        Err(FstpError::NoSuchVlan(10)),
        "removed VLAN"
    );
}

/// B with ports 1 and 2, FSTP on, and the effects so far.
fn b_with_two_ports() -> (Fstp, Vec<Effect>) {
    let mut f = Fstp::new(MAC_B, DEFAULT_PRIORITY, true, 0);
    let mut out = Vec::new();
    f.port_added(0, PortId(1), false, 0, &mut out);
    f.port_added(0, PortId(2), false, 0, &mut out);
    (f, out)
}

/// B with root A on port 1 and port 2 blocked by C's designated BPDUs.
fn b_with_backup_port() -> (Fstp, Vec<Effect>) {
    let (mut f, mut out) = b_with_two_ports();
    f.receive(
        PortId(1),
        0,
        &bpdu(0x0a, 1, bridge(0x0a), 0, 0x3c),
        1,
        &mut out,
    );
    f.receive(
        PortId(2),
        0,
        &bpdu(0x0c, 2, bridge(0x0a), PORT_COST, 0x3c),
        1,
        &mut out,
    );
    assert_eq!(f.state(0, PortId(2)), PortState::Discarding);
    out.clear();
    (f, out)
}

#[test]
fn silent_root_is_given_up_at_the_first_hello_after_12_seconds() {
    let (mut f, mut out) = b_with_backup_port();
    // Root heard at 1; hellos at 4, 8, 12 keep it, 16 gives it up (16 - 1 > 12). C keeps talking.
    for t in [4, 8, 12] {
        f.receive(
            PortId(2),
            0,
            &bpdu(0x0c, 2, bridge(0x0a), PORT_COST, 0x4a),
            t - 1,
            &mut out,
        );
        f.tick(t, &mut out);
        assert_eq!(f.role(0, PortId(1)), Some(Role::Root), "at {t}");
    }
    out.clear();
    f.tick(16, &mut out);
    let s = seen(&out);
    assert_eq!(
        s.events[..2],
        [
            "fstp/root Port 0000 VLAN 00:00 -> 80:00:02:00:00:00:00:0b",
            "fstp/status Port 0002 VLAN 00:00 learning+forwarding",
        ]
    );
    assert_eq!(f.role(0, PortId(2)), Some(Role::Designated));
    // The hellos now say B is the root.
    let hello = bpdus(&out)
        .into_iter()
        .find(|(p, _)| *p == PortId(2))
        .unwrap()
        .1;
    assert_eq!(hello.root, bridge(0x0b));
}

#[test]
fn blocked_port_unblocks_after_two_silent_history_windows() {
    let (mut f, mut out) = b_with_backup_port();
    // A keeps the root alive; C falls silent after second 1. Windows turn at the 4th, 8th, 12th
    // hello (seconds 16, 32, 48): at 16 C was heard in the window ending; at 32 in the previous
    // one; at 48 in neither.
    let mut unblocked_at = None;
    for t in (4..=60).step_by(4) {
        f.receive(
            PortId(1),
            0,
            &bpdu(0x0a, 1, bridge(0x0a), 0, 0x7c),
            t - 1,
            &mut out,
        );
        out.clear();
        f.tick(t, &mut out);
        let s = seen(&out);
        if t == 32 {
            assert_eq!(s.events, ["fstp/- Port 0002 VLAN 00:00"]);
        }
        if s.states.contains(&(2, PortState::Forwarding)) {
            unblocked_at.get_or_insert(t);
        }
    }
    assert_eq!(unblocked_at, Some(48));
}

#[test]
fn topology_change_is_passed_on_to_fstp_ports_only() {
    let (mut f, mut out) = b_with_backup_port();
    f.port_added(0, PortId(3), false, 2, &mut out); // a host: never speaks FSTP
    out.clear();
    f.receive(
        PortId(1),
        0,
        &bpdu(0x0a, 1, bridge(0x0a), 0, 0x3d),
        2,
        &mut out,
    );
    let s = seen(&out);
    assert_eq!(s.flushes, [FlushCause::TopologyChangeReceived]);
    assert!(s.sent.is_empty(), "2 is blocked, 3 is a host: {s:?}");
}

#[test]
fn edge_ports_neither_send_nor_listen_and_always_forward() {
    let (mut f, mut out) = b_with_backup_port();
    f.set_edge(0, PortId(2), true, &mut out).unwrap();
    assert_eq!(
        seen(&out).events,
        ["fstp/status Port 0002 VLAN 00:00 learning+forwarding"]
    );
    assert_eq!(f.role(0, PortId(2)), Some(Role::Edge));
    out.clear();
    f.receive(
        PortId(2),
        0,
        &bpdu(0x0c, 2, bridge(0x01), 0, 0x3c),
        2,
        &mut out,
    );
    assert!(out.is_empty(), "an edge port ignores even a better root");
    f.tick(4, &mut out);
    assert!(
        seen(&out).sent.iter().all(|(p, _)| *p == 1),
        "no hello on the edge port"
    );
    out.clear();
    f.set_edge(0, PortId(2), false, &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(f.role(0, PortId(2)), Some(Role::Designated));
    assert_eq!(
        f.set_edge(7, PortId(2), true, &mut out),
        Err(FstpError::NoSuchVlan(7))
    );
}

#[test]
fn bonus_lowers_the_cost_of_one_port() {
    let (mut f, mut out) = b_with_two_ports();
    f.set_bonus(0, PortId(2), 25_000_000).unwrap();
    // The root directly on port 1 (cost 20M), and through C on port 2 (20M + 20M - 25M).
    f.receive(
        PortId(1),
        0,
        &bpdu(0x0a, 1, bridge(0x0a), 0, 0x3c),
        1,
        &mut out,
    );
    f.receive(
        PortId(2),
        0,
        &bpdu(0x0c, 1, bridge(0x0a), PORT_COST, 0x3c),
        1,
        &mut out,
    );
    assert_eq!(f.role(0, PortId(2)), Some(Role::Root));
    assert_eq!(f.role(0, PortId(1)), Some(Role::AlternateBackup));
    let v = f.view(0, 1).unwrap();
    assert_eq!(
        (v.root_cost, v.bonus_port, v.bonus_cost),
        (15_000_000, PortId(2), 25_000_000)
    );
}

#[test]
fn own_bpdu_heard_back_blocks_the_higher_port_only() {
    let (mut f, mut out) = b_with_two_ports();
    out.clear();
    f.tick(4, &mut out);
    let hellos = bpdus(&out);
    assert_eq!(hellos.len(), 2);
    // The two ports are joined by something that does not speak FSTP: each hears the other.
    for (from, bpdu) in &hellos {
        let (to, frame) = (PortId(3 - from.0), bpdu.to_bytes());
        f.receive(to, 0, &frame, 4, &mut out);
    }
    assert_eq!(f.state(0, PortId(1)), PortState::Forwarding);
    assert_eq!(f.state(0, PortId(2)), PortState::Discarding);
    // Hearing the blocked port's BPDUs changes nothing.
    out.clear();
    f.tick(8, &mut out);
    let hello2 = bpdus(&out)
        .into_iter()
        .find(|(p, _)| *p == PortId(2))
        .unwrap()
        .1;
    f.receive(PortId(1), 0, &hello2.to_bytes(), 8, &mut out);
    assert_eq!(f.state(0, PortId(1)), PortState::Forwarding);
    assert_eq!(f.role(0, PortId(1)), Some(Role::Designated));
}

#[test]
fn reset_before_adopting_when_the_old_root_sorts_below_the_mac() {
    // vde_switch compares its root with its MAC followed by 00 27: for a switch whose MAC sorts
    // above its priority bytes, adopting a root first resets the tree (extra root event).
    let mac = MacAddr([0x90, 0, 0, 0, 0, 0x0b]);
    let mut f = Fstp::new(mac, DEFAULT_PRIORITY, true, 0);
    let mut out = Vec::new();
    f.port_added(0, PortId(1), false, 0, &mut out);
    out.clear();
    f.receive(
        PortId(1),
        0,
        &bpdu(0x0a, 1, bridge(0x0a), 0, 0x3c),
        0,
        &mut out,
    );
    assert_eq!(
        seen(&out).events,
        [
            "fstp/+ Port 0001 VLAN 00:00",
            "fstp/root Port 0000 VLAN 00:00 -> 80:00:90:00:00:00:00:0b",
            "fstp/root Port 0001 VLAN 00:00 -> 80:00:02:00:00:00:00:0a",
            "fstp/status Port 0001 VLAN 00:00 learning+forwarding",
        ]
    );
}

#[test]
fn unreadable_frames_count_as_activity_but_change_nothing() {
    let mut f = Fstp::new(MAC_B, DEFAULT_PRIORITY, true, 0);
    let mut out = Vec::new();
    f.port_added(0, PortId(1), false, 0, &mut out);
    out.clear();
    let mut stp = bpdu(0x0a, 1, bridge(0x0a), 0, 0x3c);
    stp[20] = 0; // a classic 802.1D configuration BPDU
    f.receive(PortId(1), 0, &stp, 1, &mut out);
    f.receive(PortId(1), 0, &[0x01, 0x80, 0xc2, 0, 0, 0], 1, &mut out);
    assert_eq!(seen(&out).events, ["fstp/+ Port 0001 VLAN 00:00"]);
    assert_eq!(f.role(0, PortId(1)), Some(Role::Designated));
    assert!(Fstp::is_bpdu(&stp));
    assert!(!Fstp::is_bpdu(&[0xff; 14]));
}

#[test]
fn missed_hellos_are_skipped() {
    let mut f = Fstp::new(MAC_B, DEFAULT_PRIORITY, true, 0);
    let mut out = Vec::new();
    f.port_added(0, PortId(1), false, 0, &mut out);
    out.clear();
    f.tick(3, &mut out);
    assert!(out.is_empty());
    f.tick(13, &mut out);
    assert_eq!(seen(&out).sent.len(), 1, "one hello, not three");
    assert_eq!(f.next_deadline(), Some(16));
}

#[test]
fn topology_change_heard_on_a_blocked_port_is_not_passed_on() {
    let (mut f, mut out) = b_with_backup_port();
    f.receive(
        PortId(2),
        0,
        &bpdu(0x0c, 2, bridge(0x0a), PORT_COST, 0x3d),
        2,
        &mut out,
    );
    assert_eq!(seen(&out), Seen::default());
}

#[test]
fn root_port_bringing_a_root_worse_than_this_switch_makes_it_the_root() {
    let (mut f, mut out) = b_with_backup_port();
    // A lost its own root and now says F (worse than B) is the root.
    let worse = BridgeId::new(0xf000, MacAddr([2, 0, 0, 0, 0, 0x0f]));
    f.receive(
        PortId(1),
        0,
        &bpdu(0x0a, 1, worse, PORT_COST, 0x3d),
        2,
        &mut out,
    );
    let s = seen(&out);
    assert_eq!(
        s.events,
        [
            "fstp/root Port 0000 VLAN 00:00 -> 80:00:02:00:00:00:00:0b",
            "fstp/status Port 0002 VLAN 00:00 learning+forwarding",
        ]
    );
    // Told on port 1 (where the worse root came from), topology change on port 2.
    let sent = bpdus(&out);
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0].0, sent[0].1.root), (PortId(1), bridge(0x0b)));
    assert_eq!(sent[1].0, PortId(2));
    assert!(sent[1].1.flags.topology_change());
    assert_eq!(f.view(0, 2).unwrap().root_port, PortId(0));
}

#[test]
fn message_age_counts_hops_and_stale_information_is_dropped() {
    let (mut f, mut out) = b_with_two_ports();
    // Root A, two bridges away: C says message age 3.
    let mut from_c = BpduRepr::parse(&bpdu(0x0c, 1, bridge(0x0a), PORT_COST, 0x3c)).unwrap();
    from_c.message_age = 3;
    f.receive(PortId(1), 0, &from_c.to_bytes(), 10, &mut out);
    out.clear();
    f.tick(12, &mut out);
    let ages: Vec<u16> = bpdus(&out).iter().map(|(_, b)| b.message_age).collect();
    assert_eq!(
        ages,
        [3 + 1 + 2, 3 + 1 + 2],
        "heard age, one hop, two seconds"
    );
    // Information as old as MAX_AGE is ignored (not even a better root is taken).
    out.clear();
    let mut stale = BpduRepr::parse(&bpdu(0x0c, 2, bridge(0x01), 0, 0x3d)).unwrap();
    stale.message_age = MAX_AGE;
    f.receive(PortId(2), 0, &stale.to_bytes(), 12, &mut out);
    assert_eq!(seen(&out).events, ["fstp/+ Port 0002 VLAN 00:00"]);
    assert_eq!(f.view(0, 12).unwrap().root, bridge(0x0a));
}
