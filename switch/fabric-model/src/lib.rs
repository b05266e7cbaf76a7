//! Operation model of the forwarding fabric, shared by the `fabric` fuzz target
//! (`fuzz/fuzz_targets/fabric.rs`) and the property tests of the switch
//! (`switch/tests/fabric_properties.rs`).
//!
//! A run is a [`Setup`] and a list of [`Op`]s: attaching and detaching
//! endpoints, configuration with in- and out-of-range numbers, frames on
//! active ports (and on ports that do not exist), the clock and MAC expiry.
//! [`Harness::apply`] performs one op and checks, against the fabric's public
//! state before and after, what the reference (`vde_switch` 2.3.2, `docs/vde-switch.md` §3)
//! requires; a violation panics with a message naming the invariant.
//!
//! Frames only ever enter on active ports or on ports that are not allocated
//! at all: the server reads frames from endpoints' sockets, so a frame on an
//! allocated port without endpoints cannot happen (and would let the fabric
//! learn addresses on an inactive port, outside its contract).

use std::collections::{BTreeMap, BTreeSet};

use vde_protocol::MacAddr;
pub use vdeswitch::fabric::Tagging;
use vdeswitch::fabric::{
    Acl, AttachError, Credentials, Endpoint, EndpointId, Fabric, FabricError, MacTimers,
    PortChoice, PortCounters, PortId, VlanId,
};

/// A port number as the model counts it: the fabric's [`PortId::index`]. The model keeps its
/// own plain numbers so that it does not share the fabric's types' rules.
pub type Port = usize;

/// One copy of a frame: where it goes (as the model counts ports) and how it is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub port: Port,
    pub tagging: Tagging,
}

impl From<&vdeswitch::fabric::Delivery> for Delivery {
    fn from(d: &vdeswitch::fabric::Delivery) -> Delivery {
        Delivery {
            port: d.port.index(),
            tagging: d.tagging,
        }
    }
}

/// Insert a tag with VLAN `vid`.
pub fn tag(vid: u16) -> Tagging {
    Tagging::Tag(VlanId::from_vid(vid))
}

/// "No untagged VLAN".
const NO_VLAN: u16 = VlanId::NONE.get();

/// The fabric's id of a port the model knows to exist.
fn pid(p: Port) -> PortId {
    PortId::from_index(p).expect("a port of the table")
}

/// A few addresses, so that sources and destinations collide: four unicast,
/// broadcast, the STP group address, an IPv6 multicast group and all zeros.
pub const MACS: [[u8; 6]; 8] = [
    [0x02, 0, 0, 0, 0, 0x01],
    [0x02, 0, 0, 0, 0, 0x02],
    [0x02, 0, 0, 0, 0, 0x03],
    [0x52, 0x54, 0, 0x12, 0x34, 0x56],
    [0xff; 6],
    [0x01, 0x80, 0xc2, 0, 0, 0],
    [0x33, 0x33, 0, 0, 0, 0x01],
    [0; 6],
];

/// Who attaches: (uid, gids); `None` is the reference's user NONE.
pub const WHO: [(Option<u32>, &[u32]); 5] = [
    (None, &[]),
    (Some(0), &[0]),
    (Some(1000), &[1000, 100]),
    (Some(1001), &[1001]),
    (Some(1002), &[100]),
];

/// Port ACL values (user and group alike).
pub const ACL: [Option<u32>; 4] = [None, Some(1000), Some(100), Some(0)];

/// Out-of-range and boundary numbers for port arguments.
pub const ODD_PORTS: [i64; 12] = [
    -1,
    -2,
    i64::MIN,
    i64::MAX,
    31,
    32,
    63,
    64,
    65,
    4095,
    1 << 31,
    u32::MAX as i64,
];

/// Out-of-range and boundary numbers for VLAN arguments.
pub const ODD_VLANS: [i64; 12] = [
    -1,
    i64::MIN,
    i64::MAX,
    4092,
    4093,
    4094,
    4095,
    4096,
    8191,
    65535,
    1 << 32,
    100,
];

/// `port/setnumports` values beyond the usual small ones. Values that would
/// need gigabytes of port table are left out (see the ignored test
/// `bug_setnumports_huge_panics` in the property tests).
pub const ODD_NUMPORTS: [i64; 8] = [0, -1, i64::MIN, 1, 64, 65, 128, 1000];

/// `hash/setsize` arguments as the console hands them over (positive `i64`,
/// rounded up to a power of two there; 0 is refused there but must not hurt).
pub const HASH_SIZES: [u64; 8] = [0, 1, 2, 3, 128, 1 << 20, 1 << 40, i64::MAX as u64];

/// `hash/setexpire` and `hash/setminper` values: the console's `atoi`
/// saturates, so anything in `i64` can be set.
pub const TIMER_VALUES: [i64; 12] = [
    -1,
    0,
    1,
    2,
    3,
    5,
    100,
    i64::MAX,
    i64::MIN,
    -i64::MAX,
    i32::MAX as i64,
    1 << 40,
];

/// Clock advances (seconds).
pub const TICKS: [u64; 8] = [0, 1, 2, 3, 4, 50, 101, 100_000];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Any,
    Port0,
    /// Converted with `as usize`: negative numbers become huge.
    Port(i64),
}

/// Which port a frame enters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPort {
    /// The n-th active port (modulo their number); nothing happens if none is active.
    Active(u8),
    /// A port number that must not be allocated (out of range or free); the op
    /// is skipped if it happens to be allocated.
    Stray(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameKind {
    /// dst, src, EtherType, payload.
    Untagged { ethertype: u16, payload: u8 },
    /// dst, src, `81 00`, TCI, `08 00`, payload.
    Tagged { tci: u16, payload: u8 },
    /// dst, src, `81 00` and fewer than 4 more bytes: a truncated tag.
    TruncatedTag(u8),
    /// The first `n` (< 14) bytes of an untagged frame.
    Short(u8),
    /// Exactly these bytes.
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Attach {
        choice: Choice,
        who: u8,
    },
    /// Detach the n-th live endpoint (modulo their number).
    Detach(u8),
    /// Detach an endpoint that (probably) is not there.
    DetachBogus {
        port: i64,
        id: u32,
    },
    CreatePort(i64),
    CreatePortAuto,
    RemovePort(i64),
    SetPortVlan(i64, i64),
    VlanCreate(i64),
    VlanRemove(i64),
    VlanAddport(i64, i64),
    VlanDelport(i64, i64),
    SetHub(bool),
    SetNumports(i64),
    SetAllocatable(i64, bool),
    /// `port/settrunk N 1|0`.
    SetTrunk(i64, bool),
    SetAcl {
        port: i64,
        user: u8,
        group: u8,
    },
    ResetCounters(Option<i64>),
    SetExpire(i64),
    SetMinPersistence(i64),
    SetHashBuckets(u64),
    FlushAll,
    Tick(u64),
    Expire,
    /// The spanning tree blocks (true) or unblocks a port on a VLAN.
    SetDiscarding(i64, i64, bool),
    /// The spanning tree flushes a VLAN.
    FlushVlan(i64),
    Frame {
        port: InPort,
        dst: u8,
        src: u8,
        kind: FrameKind,
    },
}

/// How the fabric is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    pub numports: usize,
    pub hub: bool,
    pub buckets: usize,
    pub max_macs: usize,
}

// ------------------------------------------------------------------ decoding

/// Reads the fuzz input; zeros once it is exhausted.
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.u8()) % from.len()]
    }

    /// A port number: mostly small (where the active ports are), some out of
    /// range, sometimes odd.
    fn port(&mut self) -> i64 {
        match self.u8() {
            b @ 0..=127 => i64::from(b % 8),
            b @ 128..=223 => i64::from(b % 20),
            _ => self.pick(&ODD_PORTS),
        }
    }

    /// A VLAN number: mostly 0..5 so that VLANs get reused, sometimes odd.
    fn vlan(&mut self) -> i64 {
        match self.u8() {
            b @ 0..=207 => i64::from(b % 5),
            _ => self.pick(&ODD_VLANS),
        }
    }

    fn frame_kind(&mut self) -> FrameKind {
        match self.u8() % 8 {
            0..=2 => FrameKind::Untagged {
                ethertype: if self.u8() & 1 == 0 {
                    0x0800
                } else {
                    self.u16()
                },
                payload: self.u8(),
            },
            3..=4 => {
                // A VID from the VLANs in use, or anything.
                let tci = match self.u8() {
                    b @ 0..=191 => u16::from(b % 5) | (u16::from(b >> 5) << 13),
                    _ => self.u16(),
                };
                FrameKind::Tagged {
                    tci,
                    payload: self.u8(),
                }
            }
            5 => FrameKind::TruncatedTag(self.u8() % 4),
            6 => FrameKind::Short(self.u8() % 14),
            _ => {
                let n = usize::from(self.u8() % 48);
                FrameKind::Raw((0..n).map(|_| self.u8()).collect())
            }
        }
    }

    fn op(&mut self) -> Op {
        match self.u8() % 36 {
            0..=3 => Op::Attach {
                choice: match self.u8() % 8 {
                    0..=4 => Choice::Any,
                    5 => Choice::Port0,
                    _ => Choice::Port(self.port()),
                },
                who: self.u8(),
            },
            4..=5 => Op::Detach(self.u8()),
            6 => Op::DetachBogus {
                port: self.port(),
                id: u32::from(self.u8()),
            },
            7 => Op::CreatePort(self.port()),
            8 => Op::CreatePortAuto,
            9 => Op::RemovePort(self.port()),
            10 => Op::SetPortVlan(self.port(), self.vlan()),
            11 => Op::VlanCreate(self.vlan()),
            12 => Op::VlanRemove(self.vlan()),
            13 => Op::VlanAddport(self.vlan(), self.port()),
            14 => Op::VlanDelport(self.vlan(), self.port()),
            15 => Op::SetHub(self.u8().is_multiple_of(4)),
            16 => Op::SetNumports(match self.u8() {
                b @ 0..=199 => i64::from(1 + b % 24),
                _ => self.pick(&ODD_NUMPORTS),
            }),
            17 => Op::SetAllocatable(self.port(), self.u8() & 1 == 1),
            18 => Op::SetAcl {
                port: self.port(),
                user: self.u8(),
                group: self.u8(),
            },
            19 => Op::ResetCounters(if self.u8() & 1 == 0 {
                None
            } else {
                Some(self.port())
            }),
            20 => Op::SetExpire(self.pick(&TIMER_VALUES)),
            21 => Op::SetMinPersistence(self.pick(&TIMER_VALUES)),
            22 => Op::SetHashBuckets(self.pick(&HASH_SIZES)),
            23 => Op::FlushAll,
            24 => Op::Tick(self.pick(&TICKS)),
            25 => Op::Expire,
            26 => Op::SetDiscarding(self.vlan(), self.port(), self.u8() & 3 != 0),
            27 => Op::FlushVlan(self.vlan()),
            28 => Op::SetTrunk(self.port(), self.u8() & 1 == 1),
            _ => Op::Frame {
                port: if self.u8().is_multiple_of(16) {
                    InPort::Stray(self.port())
                } else {
                    InPort::Active(self.u8())
                },
                dst: self.u8(),
                src: self.u8(),
                kind: self.frame_kind(),
            },
        }
    }
}

/// Turn fuzz input into a setup and operations.
pub fn decode(data: &[u8]) -> (Setup, Vec<Op>) {
    let mut b = Bytes { data };
    let setup = Setup {
        numports: 1 + usize::from(b.u8() % 24),
        hub: b.u8().is_multiple_of(8),
        buckets: [1, 2, 16, 128][usize::from(b.u8() % 4)],
        max_macs: [1, 2, 3, 5, 8, 1024][usize::from(b.u8() % 6)],
    };
    let mut ops = Vec::new();
    while !b.data.is_empty() && ops.len() < 2000 {
        ops.push(b.op());
    }
    (setup, ops)
}

// ------------------------------------------------------------------ checking

/// Everything observable about a fabric, to compare before and after an op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub numports: usize,
    pub hub: bool,
    pub ports: BTreeMap<Port, PortState>,
    /// VLAN → (untagged members, tagged members).
    pub vlans: BTreeMap<u16, (Vec<Port>, Vec<Port>)>,
    /// (MAC, VLAN) → (port, last seen).
    pub macs: BTreeMap<(MacAddr, u16), (Port, u64)>,
    /// VLAN → ports the spanning tree blocked on it.
    pub discarding: BTreeMap<u16, BTreeSet<Port>>,
    pub mac_capacity: usize,
    pub buckets: usize,
    pub timers: MacTimers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortState {
    pub endpoints: Vec<EndpointId>,
    pub untagged_vlan: u16,
    pub acl_user: Option<u32>,
    pub acl_group: Option<u32>,
    pub current_user: Option<u32>,
    pub allocatable: bool,
    pub counters: PortCounters,
    pub trunk: bool,
}

impl State {
    /// The state, looking only at the VLANs in `vlan_ids` (the fabric has
    /// 4095 VLAN slots; walking them all after every op would be slow).
    pub fn of(f: &Fabric, vlan_ids: &BTreeSet<u16>) -> State {
        State {
            numports: f.numports(),
            hub: f.hub(),
            ports: f
                .ports()
                .map(|(i, p)| {
                    (
                        i.index(),
                        PortState {
                            endpoints: p.endpoints.iter().map(|e| e.id).collect(),
                            untagged_vlan: p.untagged_vlan.get(),
                            acl_user: p.acl_user,
                            acl_group: p.acl_group,
                            current_user: p.current_user,
                            allocatable: p.allocatable,
                            counters: p.counters,
                            trunk: p.trunk,
                        },
                    )
                })
                .collect(),
            vlans: vlan_ids
                .iter()
                .filter_map(|&i| {
                    let members =
                        |set: &vdeswitch::fabric::PortSet| set.iter().map(PortId::index).collect();
                    f.vlan(VlanId::new(i)?)
                        .map(|v| (i, (members(&v.untagged), members(&v.tagged))))
                })
                .collect(),
            macs: f
                .macs()
                .entries_in_print_order()
                .into_iter()
                .map(|(_, mac, vlan, e)| ((mac, vlan.get()), (e.port.index(), e.last_seen)))
                .collect(),
            discarding: vlan_ids
                .iter()
                .filter_map(|&i| {
                    let v = f.vlan(VlanId::new(i)?)?;
                    let set: BTreeSet<Port> = v.discarding.iter().map(PortId::index).collect();
                    (!set.is_empty()).then_some((i, set))
                })
                .collect(),
            mac_capacity: f.macs().capacity(),
            buckets: f.macs().buckets(),
            timers: f.macs().timers(),
        }
    }

    fn active(&self, p: Port) -> bool {
        self.ports.get(&p).is_some_and(|s| !s.endpoints.is_empty())
    }

    /// Member of VLAN `v` untagged (its untagged VLAN) or tagged (a trunk is a tagged member
    /// of every VLAN that exists).
    fn member(&self, p: Port, v: u16) -> bool {
        self.untagged_member(p, v)
            || self.tagged_member(p, v)
            || (self.trunk(p) && self.vlans.contains_key(&v))
    }

    fn trunk(&self, p: Port) -> bool {
        self.ports.get(&p).is_some_and(|s| s.trunk)
    }

    fn discarding(&self, p: Port, v: u16) -> bool {
        self.discarding.get(&v).is_some_and(|s| s.contains(&p))
    }

    /// The table without the entries `gone` selects.
    fn macs_without(
        &self,
        gone: impl Fn(Port, u16) -> bool,
    ) -> BTreeMap<(MacAddr, u16), (Port, u64)> {
        self.macs
            .iter()
            .filter(|(&(_, v), &(p, _))| !gone(p, v))
            .map(|(k, e)| (*k, *e))
            .collect()
    }

    fn untagged_member(&self, p: Port, v: u16) -> bool {
        self.ports.get(&p).is_some_and(|s| s.untagged_vlan == v)
    }

    fn tagged_member(&self, p: Port, v: u16) -> bool {
        self.vlans.get(&v).is_some_and(|(_, t)| t.contains(&p))
    }

    /// VLANs `p` belongs to.
    fn vlans_of(&self, p: Port) -> Vec<u16> {
        self.vlans
            .iter()
            .filter(|(_, (u, t))| self.trunk(p) || u.contains(&p) || t.contains(&p))
            .map(|(&v, _)| v)
            .collect()
    }

    /// Invariants that hold after every operation.
    pub fn check_consistent(&self) {
        assert!(self.numports >= 1, "numports is {}", self.numports);
        assert!(self.vlans.contains_key(&0), "VLAN 0 vanished");
        for (&p, s) in &self.ports {
            assert!(
                p < self.numports,
                "port {p} allocated beyond numports {}",
                self.numports
            );
            if s.untagged_vlan != NO_VLAN {
                let v = self.vlans.get(&s.untagged_vlan);
                assert!(
                    v.is_some_and(|(u, _)| u.contains(&p)),
                    "port {p} has untagged VLAN {} but is not in its untagged set",
                    s.untagged_vlan
                );
            }
            if s.endpoints.is_empty() {
                assert_eq!(
                    s.current_user, None,
                    "inactive port {p} keeps a current user"
                );
            }
        }
        for (&v, (u, t)) in &self.vlans {
            assert!(usize::from(v) <= 4094, "VLAN {v} exists");
            for &p in u {
                assert!(
                    self.ports.get(&p).is_some_and(|s| s.untagged_vlan == v),
                    "VLAN {v} lists port {p} as untagged member, but the port says otherwise"
                );
            }
            for &p in t {
                assert!(
                    self.ports.contains_key(&p),
                    "VLAN {v} lists free port {p} as tagged member"
                );
            }
        }
        assert!(
            self.macs.len() <= self.mac_capacity,
            "MAC table holds {} entries, capacity {}",
            self.macs.len(),
            self.mac_capacity
        );
        for (&v, ports) in &self.discarding {
            for &p in ports {
                assert!(
                    self.active(p) && self.member(p, v),
                    "port {p} discarding on VLAN {v} without being an active member"
                );
            }
        }
        for (&(mac, v), &(p, _)) in &self.macs {
            assert!(
                self.vlans.contains_key(&v),
                "MAC {mac} learned on missing VLAN {v}"
            );
            assert!(
                self.active(p),
                "MAC {mac} VLAN {v} points to inactive or free port {p}"
            );
            assert!(
                self.member(p, v),
                "MAC {mac} VLAN {v} points to port {p}, not a member"
            );
        }
    }
}

/// The fabric under test plus what the harness knows about it.
pub struct Harness {
    pub f: Fabric,
    /// Every VLAN id that may exist (0 and whatever `vlan_create` was asked for).
    vlan_ids: BTreeSet<u16>,
    pub now: u64,
    next_id: EndpointId,
    /// Live endpoints (port, id), in attach order.
    endpoints: Vec<(Port, EndpointId)>,
    out: Vec<vdeswitch::fabric::Delivery>,
}

fn creds(who: u8) -> Credentials {
    let (uid, gids) = WHO[usize::from(who) % WHO.len()];
    Credentials {
        uid,
        gids: gids.to_vec(),
    }
}

fn mac(i: u8) -> [u8; 6] {
    MACS[usize::from(i) % MACS.len()]
}

/// The bytes of a frame.
pub fn frame_bytes(dst: [u8; 6], src: [u8; 6], kind: &FrameKind) -> Vec<u8> {
    let mut f = Vec::with_capacity(80);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    match kind {
        FrameKind::Untagged { ethertype, payload } => {
            f.extend_from_slice(&ethertype.to_be_bytes());
            f.extend((0..*payload).map(|i| i ^ 0x5a));
        }
        FrameKind::Tagged { tci, payload } => {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&tci.to_be_bytes());
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend((0..*payload).map(|i| i ^ 0xa5));
        }
        FrameKind::TruncatedTag(n) => {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend((0..*n).map(|i| i + 1));
        }
        FrameKind::Short(n) => {
            f.extend_from_slice(&[0x08, 0x00]);
            f.truncate(usize::from(*n));
        }
        FrameKind::Raw(bytes) => return bytes.clone(),
    }
    f
}

/// Our own reading of a frame, independent of `vde_protocol::ethernet`.
struct Parsed {
    dst: MacAddr,
    src: MacAddr,
    /// VID of a tagged frame.
    tag: Option<u16>,
}

fn parse(data: &[u8]) -> Option<Parsed> {
    if data.len() < 14 {
        return None;
    }
    let tagged = data[12] == 0x81 && data[13] == 0x00;
    if tagged && data.len() < 18 {
        return None;
    }
    Some(Parsed {
        dst: MacAddr::from_bytes(&data[0..6]),
        src: MacAddr::from_bytes(&data[6..12]),
        tag: tagged.then(|| u16::from_be_bytes([data[14], data[15]]) & 0x0fff),
    })
}

/// A port number as the client asked for it (negative numbers become huge, out of range).
fn to_port(n: i64) -> Port {
    n as usize
}

impl Harness {
    pub fn new(setup: Setup) -> Harness {
        let f = Fabric::new(setup.numports, setup.hub, setup.buckets, setup.max_macs);
        let vlan_ids = BTreeSet::from([0]);
        State::of(&f, &vlan_ids).check_consistent();
        Harness {
            f,
            vlan_ids,
            now: 0,
            next_id: 1,
            endpoints: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Run a whole sequence.
    pub fn run(setup: Setup, ops: &[Op]) -> Harness {
        let mut h = Harness::new(setup);
        for op in ops {
            h.apply(op);
        }
        h
    }

    /// Attach a fresh endpoint; returns its id and the result.
    pub fn attach(
        &mut self,
        choice: PortChoice,
        who: &Credentials,
    ) -> (EndpointId, Result<Port, AttachError>) {
        let id = self.next_id;
        self.next_id += 1;
        let ep = Endpoint {
            id,
            module: "unix prog",
            description: format!("ep{id}"),
        };
        let r = self.f.attach(choice, who, ep).map(PortId::index);
        if let Ok(p) = r {
            self.endpoints.push((p, id));
        }
        (id, r)
    }

    /// Perform one op and check everything it must and must not change.
    pub fn apply(&mut self, op: &Op) {
        if let Op::VlanCreate(v) = *op {
            if let Ok(v) = u16::try_from(v) {
                self.vlan_ids.insert(v);
            }
        }
        let pre = State::of(&self.f, &self.vlan_ids);
        let outcome = self.exec(op, &pre);
        self.f.drain_events();
        let post = State::of(&self.f, &self.vlan_ids);
        post.check_consistent();
        match outcome {
            // An op that failed (or did nothing) changes nothing.
            Outcome::Unchanged => assert_eq!(pre, post, "{op:?} failed but changed the state"),
            Outcome::Checked => {}
            Outcome::ConfigDone => {
                // Configuration never touches counters.
                for (p, s) in &post.ports {
                    if let Some(old) = pre.ports.get(p) {
                        assert_eq!(
                            old.counters, s.counters,
                            "{op:?} changed the counters of port {p}"
                        );
                    }
                }
            }
        }
        // The harness's endpoint list and the fabric agree.
        let mut ours: Vec<_> = self.endpoints.clone();
        ours.sort_unstable();
        let mut theirs: Vec<_> = post
            .ports
            .iter()
            .flat_map(|(&p, s)| s.endpoints.iter().map(move |&id| (p, id)))
            .collect();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "endpoints disagree after {op:?}");
        if matches!(op, Op::VlanCreate(_) | Op::VlanRemove(_)) {
            assert_eq!(
                self.f.vlans().count(),
                post.vlans.len(),
                "VLANs appeared that were never created"
            );
        }
    }

    fn exec(&mut self, op: &Op, pre: &State) -> Outcome {
        use Outcome::*;
        let f = &mut self.f;
        match *op {
            Op::Attach { choice, who } => {
                let who = creds(who);
                let c = match choice {
                    Choice::Any => PortChoice::Any,
                    Choice::Port0 => PortChoice::Port0,
                    Choice::Port(n) => PortChoice::Port(to_port(n)),
                };
                let (id, r) = self.attach(c, &who);
                let post = State::of(&self.f, &self.vlan_ids);
                match r {
                    Ok(p) => {
                        check_attached(pre, &post, c, &who, p, id);
                        ConfigDone
                    }
                    Err(AttachError::OutOfRange { port, numports }) => {
                        assert_eq!(numports, pre.numports);
                        assert!(matches!(c, PortChoice::Port(n) if n == port && n >= numports));
                        Unchanged
                    }
                    Err(AttachError::NoFreePort { .. }) => {
                        assert_eq!(c, PortChoice::Any);
                        for i in 1..pre.numports {
                            let s = pre.ports.get(&i);
                            assert!(
                                s.is_some_and(|s| !s.endpoints.is_empty() || !s.allocatable),
                                "no free port reported but port {i} was free"
                            );
                        }
                        Unchanged
                    }
                    Err(AttachError::Denied { port }) => {
                        let s = pre.ports.get(&port.index()).expect("denied on a free port");
                        assert_ne!(s.current_user, who.uid, "denied its current user");
                        Unchanged
                    }
                }
            }
            Op::Detach(n) => {
                if self.endpoints.is_empty() {
                    return Unchanged;
                }
                let (p, id) = self.endpoints.remove(usize::from(n) % self.endpoints.len());
                assert_eq!(f.detach(pid(p), id), Ok(()), "detach of a live endpoint");
                let post = State::of(f, &self.vlan_ids);
                let s = &post.ports[&p];
                assert!(!s.endpoints.contains(&id));
                assert_eq!(s.endpoints.len() + 1, pre.ports[&p].endpoints.len());
                if s.endpoints.is_empty() {
                    // Deactivation: the port's entries go, and only they (the reference
                    // flushes its VLANs); it is blocked nowhere.
                    assert_eq!(
                        post.macs,
                        pre.macs_without(|q, _| q == p),
                        "deactivation of port {p}"
                    );
                    assert!(
                        post.discarding.values().all(|s| !s.contains(&p)),
                        "inactive port {p} still discarding"
                    );
                } else {
                    assert_eq!(post.macs, pre.macs, "detach from a port still active");
                }
                ConfigDone
            }
            Op::DetachBogus { port, id } => {
                let Some(p) = PortId::from_arg(port) else {
                    return Unchanged;
                };
                let live = self.endpoints.contains(&(p.index(), id));
                let r = f.detach(p, id);
                let p = p.index();
                if live {
                    // Rare: the guess was right.
                    assert_eq!(r, Ok(()));
                    self.endpoints.retain(|&e| e != (p, id));
                    ConfigDone
                } else {
                    assert!(r.is_err(), "detach of a missing endpoint succeeded");
                    Unchanged
                }
            }
            // port/create 0 means "any port", like createauto.
            Op::CreatePort(0) => match f.create_port(PortId(0)) {
                Ok(()) => {
                    let post = State::of(f, &self.vlan_ids);
                    assert_eq!(
                        post.ports.contains_key(&0),
                        pre.ports.contains_key(&0),
                        "port/create 0 made port 0"
                    );
                    let p = auto_choice(pre).expect("create 0 succeeded with no port to give");
                    assert!(!post.ports[&p].allocatable);
                    ConfigDone
                }
                Err(_) => {
                    assert_eq!(auto_choice(pre), None);
                    Unchanged
                }
            },
            Op::CreatePort(n) => match with_port(n, |p| f.create_port(p)) {
                Ok(()) => {
                    let p = to_port(n);
                    assert!(!pre.ports.contains_key(&p) && p < pre.numports);
                    let post = State::of(f, &self.vlan_ids);
                    let s = &post.ports[&p];
                    assert!(s.endpoints.is_empty() && !s.allocatable);
                    assert_eq!(s.untagged_vlan, 0);
                    assert_eq!(s.counters, PortCounters::default());
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            // The port auto allocation would give (free, or inactive and
            // allocatable), made not allocatable; a reused port keeps its state.
            Op::CreatePortAuto => match f.create_port_auto() {
                Ok(p) => {
                    let p = p.index();
                    assert_eq!(
                        Some(p),
                        auto_choice(pre),
                        "createauto is not the lowest free port"
                    );
                    let post = State::of(f, &self.vlan_ids);
                    assert!(!post.ports[&p].allocatable);
                    ConfigDone
                }
                Err(_) => {
                    assert_eq!(auto_choice(pre), None);
                    Unchanged
                }
            },
            Op::RemovePort(n) => match with_port(n, |p| f.remove_port(p)) {
                Ok(()) => {
                    let p = to_port(n);
                    assert!(!pre.active(p), "removed active port {p}");
                    let post = State::of(f, &self.vlan_ids);
                    assert!(!post.ports.contains_key(&p));
                    assert!(
                        post.vlans_of(p).is_empty(),
                        "removed port {p} still in a VLAN"
                    );
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            Op::SetPortVlan(p, v) => match with_port_vlan(p, v, |p, v| f.set_port_vlan(p, v)) {
                Ok(()) => {
                    let (p, v) = (to_port(p), v as u16);
                    let post = State::of(f, &self.vlan_ids);
                    assert_eq!(post.ports[&p].untagged_vlan, v);
                    // The port's entries on the VLAN it left go, and only they.
                    let old = pre.ports[&p].untagged_vlan;
                    assert_eq!(
                        post.macs,
                        pre.macs_without(|q, mv| q == p && mv == old),
                        "setvlan of port {p}"
                    );
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            Op::VlanCreate(v) => match with_vlan(v, |v| f.vlan_create(v)) {
                Ok(()) => {
                    assert!((1..=4093).contains(&v));
                    assert!(!pre.vlans.contains_key(&(v as u16)));
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            Op::VlanRemove(v) => match with_vlan(v, |v| f.vlan_remove(v)) {
                Ok(()) => {
                    assert_ne!(v, 0, "VLAN 0 removed");
                    let (u, t) = &pre.vlans[&(v as u16)];
                    assert!(u.is_empty() && t.is_empty(), "removed VLAN {v} had members");
                    // What trunks learned on it goes with it.
                    let mut want = pre.macs.clone();
                    want.retain(|&(_, mv), _| i64::from(mv) != v);
                    assert_eq!(
                        f.macs().len(),
                        want.len(),
                        "VLAN {v} not flushed by its removal"
                    );
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            Op::VlanAddport(v, p) => match with_port_vlan(p, v, |p, v| f.vlan_addport(v, p)) {
                Ok(()) => {
                    let (v, p) = (v as u16, to_port(p));
                    let post = State::of(f, &self.vlan_ids);
                    // A port carrying the VLAN untagged stays untagged on it.
                    assert!(post.tagged_member(p, v) || post.ports[&p].untagged_vlan == v);
                    assert_eq!(post.macs, pre.macs, "addport flushed entries");
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            Op::VlanDelport(v, p) => match with_port_vlan(p, v, |p, v| f.vlan_delport(v, p)) {
                Ok(()) => {
                    let (v, p) = (v as u16, to_port(p));
                    let post = State::of(f, &self.vlan_ids);
                    assert!(!post.tagged_member(p, v));
                    assert_ne!(post.ports[&p].untagged_vlan, v);
                    // The port's entries on that VLAN go, and only they.
                    assert_eq!(
                        post.macs,
                        pre.macs_without(|q, mv| q == p && mv == v),
                        "delport {v} {p}"
                    );
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            Op::SetHub(on) => {
                f.set_hub(on);
                assert_eq!(f.hub(), on);
                ConfigDone
            }
            Op::SetNumports(n) => match usize::try_from(n).map(|n| f.set_numports(n)) {
                Ok(Ok(())) => {
                    assert_eq!(f.numports() as i64, n);
                    ConfigDone
                }
                _ => Unchanged,
            },
            Op::SetAllocatable(p, yes) => match with_port(p, |p| f.set_allocatable(p, yes)) {
                Ok(()) => {
                    assert_eq!(f.port(pid(to_port(p))).map(|s| s.allocatable), Some(yes));
                    ConfigDone
                }
                Err(_) => Unchanged,
            },
            Op::SetTrunk(p, on) => {
                let was = pre.ports.get(&to_port(p)).map(|s| s.trunk);
                match with_port(p, |p| f.set_trunk(p, on)) {
                    Ok(()) => {
                        let post = State::of(f, &self.vlan_ids);
                        let q = to_port(p);
                        assert_eq!(post.ports[&q].trunk, on);
                        let mut want = pre.macs.clone();
                        if was != Some(on) {
                            // A change forgets what was learned on the port, nothing else.
                            want.retain(|_, e| e.0 != q);
                        }
                        assert_eq!(post.macs, want, "settrunk {q} {on}");
                        ConfigDone
                    }
                    Err(_) => Unchanged,
                }
            }
            Op::SetAcl { port, user, group } => {
                let user = Acl::Set(ACL[usize::from(user) % ACL.len()]);
                let group = Acl::Set(ACL[usize::from(group) % ACL.len()]);
                match with_port(port, |p| f.set_acl(p, user, group)) {
                    Ok(()) => ConfigDone,
                    Err(_) => Unchanged,
                }
            }
            Op::ResetCounters(which) => {
                match which {
                    None => f.reset_counters(None),
                    Some(p) => match PortId::from_arg(p) {
                        Some(p) => f.reset_counters(Some(p)),
                        None => return Unchanged,
                    },
                }
                let post = State::of(f, &self.vlan_ids);
                for (p, s) in &post.ports {
                    let reset = which.is_none_or(|q| to_port(q) == *p);
                    let want = if reset {
                        PortCounters::default()
                    } else {
                        pre.ports[p].counters
                    };
                    assert_eq!(s.counters, want, "counters of port {p} after reset");
                }
                Checked
            }
            Op::SetExpire(v) => {
                f.set_mac_timers(MacTimers {
                    expire: v,
                    ..f.macs().timers()
                });
                ConfigDone
            }
            Op::SetMinPersistence(v) => {
                f.set_mac_timers(MacTimers {
                    min_persistence: v,
                    ..f.macs().timers()
                });
                ConfigDone
            }
            Op::SetHashBuckets(n) => {
                f.set_hash_buckets(n as usize);
                assert!(f.macs().is_empty(), "hash/setsize did not flush");
                assert_eq!(f.macs().buckets(), (n as usize).max(1).next_power_of_two());
                ConfigDone
            }
            Op::FlushAll => {
                f.flush_all();
                assert!(f.macs().is_empty());
                ConfigDone
            }
            Op::Tick(d) => {
                self.now += d;
                Unchanged
            }
            Op::SetDiscarding(v, p, on) => {
                let (Some(vid), Some(port)) = (VlanId::from_arg(v), PortId::from_arg(p)) else {
                    return Unchanged;
                };
                f.set_discarding(vid, port, on);
                let post = State::of(f, &self.vlan_ids);
                let (v, p) = (vid.get(), port.index());
                let want = on && pre.vlans.contains_key(&v) && pre.active(p) && pre.member(p, v);
                assert_eq!(
                    post.discarding(p, v),
                    want,
                    "set_discarding({v}, {p}, {on})"
                );
                assert_eq!(post.macs, pre.macs, "set_discarding changed the table");
                ConfigDone
            }
            Op::FlushVlan(v) => {
                let Some(vid) = VlanId::from_arg(v) else {
                    return Unchanged;
                };
                f.flush_vlan(vid);
                let post = State::of(f, &self.vlan_ids);
                let v = vid.get();
                assert_eq!(
                    post.macs,
                    pre.macs_without(|_, mv| mv == v),
                    "flush of VLAN {v}"
                );
                ConfigDone
            }
            Op::Expire => {
                f.expire_macs(self.now);
                let post = State::of(f, &self.vlan_ids);
                let expire = i128::from(pre.timers.expire);
                let now = i128::from(self.now);
                let want: BTreeMap<_, _> = pre
                    .macs
                    .iter()
                    .filter(|(_, &(_, seen))| i128::from(seen) + expire >= now)
                    .map(|(k, v)| (*k, *v))
                    .collect();
                assert_eq!(post.macs, want, "expiry at {now} with expire {expire}");
                ConfigDone
            }
            Op::Frame {
                port,
                dst,
                src,
                ref kind,
            } => {
                let in_port = match port {
                    InPort::Active(n) => {
                        let active: Vec<Port> = pre
                            .ports
                            .iter()
                            .filter(|(_, s)| !s.endpoints.is_empty())
                            .map(|(&p, _)| p)
                            .collect();
                        if active.is_empty() {
                            return Unchanged;
                        }
                        active[usize::from(n) % active.len()]
                    }
                    InPort::Stray(n) => {
                        // The data path only has ports of the table to read from.
                        let Some(p) = PortId::from_arg(n) else {
                            return Unchanged;
                        };
                        if pre.ports.contains_key(&p.index()) {
                            return Unchanged;
                        }
                        p.index()
                    }
                };
                let data = frame_bytes(mac(dst), mac(src), kind);
                self.frame(in_port, &data, pre);
                Checked
            }
        }
    }

    /// Forward `data` from `in_port` and check the decision, learning and counters.
    pub fn frame(&mut self, in_port: Port, data: &[u8], pre: &State) {
        let now = self.now;
        self.f.forward(pid(in_port), data, now, &mut self.out);
        let out: Vec<Delivery> = self.out.iter().map(Delivery::from).collect();
        let post = State::of(&self.f, &self.vlan_ids);
        let ctx = || format!("frame {data:02x?} on port {in_port} at {now}: {out:?}");

        let Some(pin) = pre.ports.get(&in_port) else {
            assert!(out.is_empty(), "frame on a free port delivered: {}", ctx());
            assert_eq!(*pre, post, "frame on a free port changed the state");
            return;
        };
        let parsed = parse(data);

        // --- Invariants every decision must satisfy.
        let mut seen = Vec::new();
        for d in &out {
            assert!(
                post.ports.contains_key(&d.port),
                "delivery to free port: {}",
                ctx()
            );
            assert!(
                d.port < post.numports,
                "delivery beyond numports: {}",
                ctx()
            );
            assert_ne!(
                d.port,
                in_port,
                "delivery back to the input port: {}",
                ctx()
            );
            assert!(!seen.contains(&d.port), "port {} twice: {}", d.port, ctx());
            seen.push(d.port);
            if pre.hub {
                assert_ne!(d.port, 0, "hub delivered to port 0: {}", ctx());
                assert_eq!(d.tagging, Tagging::AsIs, "hub changed a frame: {}", ctx());
            } else {
                assert!(post.active(d.port), "delivery to inactive port: {}", ctx());
            }
            let tagged_in = parsed.as_ref().is_some_and(|p| p.tag.is_some());
            match d.tagging {
                Tagging::AsIs => {}
                Tagging::Untag => assert!(tagged_in, "Untag of untagged input: {}", ctx()),
                Tagging::Tag(_) => assert!(!tagged_in, "Tag of tagged input: {}", ctx()),
            }
        }

        // --- The exact decision the reference takes, and the learning.
        let mut want_macs = pre.macs.clone();
        let want: Vec<Delivery> = match &parsed {
            None => Vec::new(),
            Some(_) if pre.hub => (1..pre.numports)
                .filter(|&p| p != in_port && pre.ports.contains_key(&p))
                .map(|port| Delivery {
                    port,
                    tagging: Tagging::AsIs,
                })
                .collect(),
            // A trunk carries tagged frames of VLANs never created to the other trunks, as is,
            // learning nothing.
            Some(fr)
                if fr
                    .tag
                    .is_some_and(|v| v != NO_VLAN && !pre.vlans.contains_key(&v))
                    && pin.trunk =>
            {
                pre.ports
                    .iter()
                    .filter(|&(&p, s)| p != in_port && s.trunk && pre.active(p))
                    .map(|(&port, _)| Delivery {
                        port,
                        tagging: Tagging::AsIs,
                    })
                    .collect()
            }
            Some(fr) => {
                let vid = fr.tag.unwrap_or(pin.untagged_vlan);
                let admitted = pre.vlans.contains_key(&vid)
                    && match fr.tag {
                        Some(v) => pre.member(in_port, v),
                        None => vid != NO_VLAN,
                    };
                if !admitted {
                    Vec::new()
                } else {
                    if pre.discarding(in_port, vid) {
                        // Blocked by the spanning tree: not learned, not forwarded.
                        Vec::new()
                    } else {
                        if !fr.src.is_multicast() {
                            learn(&mut want_macs, pre, fr.src, vid, in_port, now);
                        }
                        self.decide(pre, &want_macs, fr, vid, in_port)
                    }
                }
            }
        };
        assert_eq!(out, want, "wrong decision for {}", ctx());
        assert_eq!(post.macs, want_macs, "wrong learning for {}", ctx());

        // --- Counters: exactly the input and the copies, nothing else.
        let mut want_ports = pre.ports.clone();
        {
            let c = &mut want_ports.get_mut(&in_port).expect("allocated").counters;
            match &parsed {
                None => c.runts += 1,
                Some(fr) => {
                    c.in_pkts += 1;
                    c.in_bytes += data.len() as u64;
                    if !pre.hub {
                        let vid = fr.tag.unwrap_or(pin.untagged_vlan);
                        let admitted = pre.vlans.contains_key(&vid)
                            && fr.tag.is_none_or(|v| pre.member(in_port, v));
                        let trunked = pin.trunk
                            && fr.tag.is_some_and(|v| v != NO_VLAN)
                            && !pre.vlans.contains_key(&vid);
                        // Trunked frames of VLANs never created count nowhere but in and out.
                        if !trunked && !admitted {
                            c.vlan_drops += 1;
                        } else if !trunked
                            && !fr.src.is_multicast()
                            && !pre.discarding(in_port, vid)
                            && !pre.macs.contains_key(&(fr.src, vid))
                            && pre.macs.len() >= pre.mac_capacity
                        {
                            c.unlearned += 1;
                        }
                    }
                }
            }
        }
        for d in &want {
            let c = &mut want_ports.get_mut(&d.port).expect("allocated").counters;
            c.out_pkts += 1;
            c.out_bytes += d.tagging.out_len(data.len()) as u64;
        }
        assert_eq!(post.ports, want_ports, "wrong counters for {}", ctx());
        let mut rest = post.clone();
        rest.ports = pre.ports.clone();
        rest.macs = pre.macs.clone();
        assert_eq!(*pre, rest, "a frame changed configuration: {}", ctx());
    }

    /// Switch-mode decision for an admitted frame, with the table after learning.
    fn decide(
        &self,
        pre: &State,
        macs: &BTreeMap<(MacAddr, u16), (Port, u64)>,
        fr: &Parsed,
        vid: u16,
        in_port: Port,
    ) -> Vec<Delivery> {
        let tagged_in = fr.tag.is_some();
        let tagging = |to_tagged: bool| match (tagged_in, to_tagged) {
            (true, false) => Tagging::Untag,
            (false, true) => tag(vid),
            _ => Tagging::AsIs,
        };
        let known = if fr.dst.is_multicast() {
            None
        } else {
            macs.get(&(fr.dst, vid)).map(|&(p, _)| p)
        };
        if let Some(t) = known {
            // Learned on an active member (checked after every op): exactly that port, unless
            // the spanning tree blocked it.
            if t == in_port || pre.discarding(t, vid) {
                return Vec::new();
            }
            return vec![Delivery {
                port: t,
                tagging: tagging(!pre.untagged_member(t, vid)),
            }];
        }
        // Flood: every other active member once, same tag-ness first, ascending.
        let members: Vec<Port> = pre
            .ports
            .keys()
            .copied()
            .filter(|&p| {
                p != in_port && pre.active(p) && pre.member(p, vid) && !pre.discarding(p, vid)
            })
            .collect();
        let mut v = Vec::new();
        for to_tagged in [tagged_in, !tagged_in] {
            for &p in &members {
                if pre.untagged_member(p, vid) != to_tagged {
                    v.push(Delivery {
                        port: p,
                        tagging: tagging(to_tagged),
                    });
                }
            }
        }
        v
    }
}

/// The reference's learning step (`docs/vde-switch.md` §3.3, step 3) on a copy of the table.
fn learn(
    macs: &mut BTreeMap<(MacAddr, u16), (Port, u64)>,
    pre: &State,
    src: MacAddr,
    vid: u16,
    in_port: Port,
    now: u64,
) {
    match macs.get_mut(&(src, vid)) {
        Some(e) if e.0 == in_port => e.1 = now,
        Some(e) => {
            let idle = i128::from(now) - i128::from(e.1);
            if idle > i128::from(pre.timers.min_persistence) {
                *e = (in_port, now);
            }
        }
        None => {
            if pre.macs.len() < pre.mac_capacity {
                macs.insert((src, vid), (in_port, now));
            }
        }
    }
}

/// A configuration call with a port number as the console passes it on: a number no port can
/// have is refused before the fabric sees it (the console's EINVAL).
fn with_port(
    n: i64,
    call: impl FnOnce(PortId) -> Result<(), FabricError>,
) -> Result<(), FabricError> {
    call(PortId::from_arg(n).ok_or(FabricError::Invalid)?)
}

fn with_vlan(
    n: i64,
    call: impl FnOnce(VlanId) -> Result<(), FabricError>,
) -> Result<(), FabricError> {
    call(VlanId::from_arg(n).ok_or(FabricError::Invalid)?)
}

fn with_port_vlan(
    p: i64,
    v: i64,
    call: impl FnOnce(PortId, VlanId) -> Result<(), FabricError>,
) -> Result<(), FabricError> {
    let p = PortId::from_arg(p).ok_or(FabricError::Invalid)?;
    call(p, VlanId::from_arg(v).ok_or(FabricError::Invalid)?)
}

/// Post-conditions of a successful attach.
fn check_attached(
    pre: &State,
    post: &State,
    c: PortChoice,
    who: &Credentials,
    p: Port,
    id: EndpointId,
) {
    assert!(p < pre.numports);
    match c {
        PortChoice::Port0 => assert_eq!(p, 0),
        PortChoice::Port(n) => assert_eq!(p, n),
        PortChoice::Any => {
            assert!(p >= 1, "automatic allocation gave port 0");
            let free = |i: &Port| {
                pre.ports
                    .get(i)
                    .is_none_or(|s| s.endpoints.is_empty() && s.allocatable)
            };
            assert!(free(&p), "automatic allocation took busy port {p}");
            if let Some(i) = (1..p).find(free) {
                panic!("automatic allocation gave port {p}, port {i} was free");
            }
        }
    }
    let s = &post.ports[&p];
    assert_eq!(s.endpoints.first(), Some(&id), "endpoints are newest first");
    assert_eq!(s.current_user, who.uid);
    let was_active = pre.active(p);
    if was_active {
        assert_eq!(
            pre.ports[&p].current_user, who.uid,
            "joined another user's port"
        );
        assert_eq!(
            pre.macs, post.macs,
            "joining an active port changed the table"
        );
    } else {
        // Activation invalidates no entry (the reference flushes the port's VLANs).
        assert_eq!(
            pre.macs, post.macs,
            "activation of port {p} changed the table"
        );
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Nothing may have changed.
    Unchanged,
    /// A configuration change: counters must be as before.
    ConfigDone,
    /// Checked in detail by the op itself.
    Checked,
}

/// Lowest port ≥ 1 that auto allocation may hand out: free, or allocated but
/// inactive and allocatable.
fn auto_choice(pre: &State) -> Option<usize> {
    (1..pre.numports).find(|i| match pre.ports.get(i) {
        None => true,
        Some(s) => s.endpoints.is_empty() && s.allocatable,
    })
}
