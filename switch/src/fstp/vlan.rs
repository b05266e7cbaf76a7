//! The spanning tree of one VLAN: what this switch believes about the root, and the role of each
//! member port. Every rule here follows vde_switch 2.3.2; where we differ on purpose, the
//! comment says so.

use std::cmp::Ordering;

use vde_protocol::bpdu::{reference_port_id, BpduRepr, Flags};
use vde_protocol::{BridgeId, MacAddr};

use super::{Effect, Event, FlushCause, PortState, HELLO_TIME, MAX_AGE, PORT_COST, ROOT_TIMEOUT};
use crate::fabric::{PortId, PortSet};

/// What every VLAN's tree needs to know about the switch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Me {
    pub mac: MacAddr,
    pub id: BridgeId,
    /// With FSTP off the tree still follows membership, but sends nothing and flushes nothing.
    pub enabled: bool,
}

impl Me {
    /// vde_switch decides whether to reset its tree before adopting a new root by comparing the
    /// current root id with the 8 bytes at the source address of its BPDU template: the switch
    /// MAC followed by the length field `00 27` (it meant its own bridge id). The comparison
    /// decides which events and BPDUs are sent, so it is reproduced.
    fn reset_threshold(&self) -> [u8; 8] {
        let m = self.mac.0;
        [m[0], m[1], m[2], m[3], m[4], m[5], 0x00, 0x27]
    }
}

/// The priority vector of a root path, compared field by field, lower wins.
type Vector = (BridgeId, u32, BridgeId, u16);

/// The age of root information as heard in `bpdu`: one more than it says, unless the root sent
/// it (so one hop from the root the ages are vde_switch's).
fn heard_age(bpdu: &BpduRepr) -> u16 {
    bpdu.message_age
        .saturating_add(u16::from(bpdu.bridge != bpdu.root))
}

/// Per-VLAN state.
#[derive(Debug, Clone)]
pub(super) struct VlanTree {
    /// The root bridge as far as this switch knows.
    pub root: BridgeId,
    /// Cost of the path to the root through `root_port`.
    pub root_cost: u32,
    /// The bridge the root is reached through (`ff..ff` while this switch is the root).
    pub designated: BridgeId,
    /// Its port id.
    pub designated_port: u16,
    /// Port towards the root; 0 means "this switch is the root" (as in vde_switch, which makes
    /// port 0 ambiguous; port 0 is only used by clients that ask for it explicitly).
    pub root_port: PortId,
    /// When the root was last heard of (BPDU with the stored vector, or adoption); 0 while this
    /// switch is the root, so the age shown is the uptime.
    pub root_heard: u64,
    /// Message age of the root information when it was heard, plus one if it had crossed a
    /// bridge already: the hops (and seconds) it has travelled.
    pub root_age: u16,
    /// `fstp/bonus`: a cost subtracted on this port (kept when the tree is reset).
    pub bonus_port: PortId,
    pub bonus_cost: i32,
    /// Active ports carrying the VLAN untagged, and tagged.
    pub untagged: PortSet,
    pub tagged: PortSet,
    /// Alternate/backup ports: these are the discarding ones.
    pub backup: PortSet,
    /// `fstp/setedge`: no BPDUs sent or heeded, always forwarding.
    pub edge: PortSet,
    /// Ports that received a BPDU, in the current and the previous history window.
    pub heard: [PortSet; 2],
}

impl VlanTree {
    pub fn new(me: &Me) -> VlanTree {
        VlanTree {
            root: me.id,
            root_cost: 0,
            designated: BridgeId::NONE,
            designated_port: 0,
            root_port: PortId(0),
            root_heard: 0,
            root_age: 0,
            bonus_port: PortId(0),
            bonus_cost: 0,
            untagged: PortSet::default(),
            tagged: PortSet::default(),
            backup: PortSet::default(),
            edge: PortSet::default(),
            heard: Default::default(),
        }
    }

    pub fn is_member(&self, port: PortId) -> bool {
        self.untagged.contains(port) || self.tagged.contains(port)
    }

    /// Members, untagged ones first, each group ascending (the order of every loop of
    /// vde_switch, so effects come out in its order).
    pub fn members(&self) -> Vec<PortId> {
        self.untagged.iter().chain(self.tagged.iter()).collect()
    }

    /// The port received a BPDU in the current or the previous history window.
    pub fn speaks_fstp(&self, port: PortId) -> bool {
        self.heard[0].contains(port) || self.heard[1].contains(port)
    }

    pub fn state(&self, port: PortId) -> PortState {
        if self.backup.contains(port) {
            PortState::Discarding
        } else {
            PortState::Forwarding
        }
    }

    /// Our vector as advertised on the root port's segment.
    fn vector(&self) -> Vector {
        (
            self.root,
            self.root_cost,
            self.designated,
            self.designated_port,
        )
    }

    fn port_cost(&self, port: PortId) -> u32 {
        let bonus = if port == self.bonus_port {
            i64::from(self.bonus_cost)
        } else {
            0
        };
        // 32-bit arithmetic on the wire, as in vde_switch.
        (i64::from(PORT_COST) - bonus) as u32
    }

    fn set_state(&self, vlan: u16, port: PortId, state: PortState, out: &mut Vec<Effect>) {
        out.push(Effect::Debug(Event::Status { port, vlan, state }));
        out.push(Effect::SetState { port, vlan, state });
    }

    /// Make this switch the root again: forget the root, unblock every backup port.
    pub fn reset(&mut self, me: &Me, vlan: u16, out: &mut Vec<Effect>) {
        self.root = me.id;
        self.root_cost = 0;
        self.designated = BridgeId::NONE;
        self.designated_port = 0;
        self.root_port = PortId(0);
        self.root_heard = 0;
        self.root_age = 0;
        out.push(Effect::Debug(Event::Root {
            port: PortId(0),
            vlan,
            root: self.root,
        }));
        for p in self.backup.iter().collect::<Vec<_>>() {
            self.backup.remove(p);
            self.set_state(vlan, p, PortState::Forwarding, out);
        }
    }

    /// Sends our BPDU on `port` (untagged or tagged as the port carries the VLAN); `extra` is
    /// [`Flags::AGREEMENT`] and/or [`Flags::TOPOLOGY_CHANGE`], the rest of the flags follow from
    /// the port's role and state.
    fn send(&self, me: &Me, vlan: u16, port: PortId, extra: u8, now: u64, out: &mut Vec<Effect>) {
        if !me.enabled {
            return;
        }
        // vde_switch sends the seconds since it last heard the root (0 when it is the root) and
        // never reads the field. We add the age the information had when it arrived, plus one
        // per bridge it crossed, and drop information that reaches MAX_AGE: without that, a
        // loop of switches that lose their root keeps passing the dead root's information round
        // for ever, each pass a little costlier (count to infinity). Wraps below 0 as
        // vde_switch's int does (only with the port-0 ambiguity).
        let since = if self.root_port == PortId(0) {
            0
        } else {
            now as i64
        };
        let age = (i64::from(self.root_age) + since - self.root_heard as i64).min(0xffff) as u16;
        // Role bits: low bit "not a backup port", high bit "not the root port".
        let mut flags = extra | self.state(port).flag_bits();
        if self.backup.contains(port) {
            flags |= Flags::BACKUP;
        } else {
            flags |= Flags::ROLE_ROOT;
        }
        if self.root_port != port {
            flags |= Flags::ROLE_MASK & !Flags::ROLE_ROOT;
        }
        let bpdu = |vlan_tag| BpduRepr {
            src: me.mac,
            vlan: vlan_tag,
            flags: Flags(flags),
            root: self.root,
            root_cost: self.root_cost,
            bridge: me.id,
            port_id: reference_port_id(port.index()),
            message_age: age,
            max_age: MAX_AGE,
            hello_time: HELLO_TIME as u16,
            forward_delay: 0,
        };
        if self.untagged.contains(port) {
            out.push(Effect::Send {
                port,
                bpdu: bpdu(None),
            });
        }
        if self.tagged.contains(port) {
            out.push(Effect::Send {
                port,
                bpdu: bpdu(Some(vlan)),
            });
        }
    }

    /// The tree changed around `origin`: flush the VLAN and tell the other FSTP neighbours.
    /// Unlike 802.1w the whole VLAN is flushed, and the change is passed on once, not for a
    /// while.
    fn topology_change(
        &self,
        me: &Me,
        vlan: u16,
        origin: PortId,
        cause: FlushCause,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        // vde_switch flushes even with FSTP off (so every client that attaches empties the
        // table); we do not: without FSTP nothing here invalidates a learned address.
        if !me.enabled {
            return;
        }
        out.push(Effect::Flush { vlan, cause });
        for p in self.members() {
            if p != origin
                && !self.backup.contains(p)
                && !self.edge.contains(p)
                && self.speaks_fstp(p)
            {
                self.send(me, vlan, p, Flags::TOPOLOGY_CHANGE, now, out);
            }
        }
    }

    /// A better root path arrived on `new_root`: block every other FSTP port at once, then
    /// forward on the new root port and tell its neighbour (agreement). Blocked ports come back
    /// one by one as their neighbours answer that they are root ports.
    fn fast_protocol(
        &mut self,
        me: &Me,
        vlan: u16,
        new_root: PortId,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        for p in self.members() {
            if p != new_root
                && !self.backup.contains(p)
                && !self.edge.contains(p)
                && self.speaks_fstp(p)
            {
                self.set_state(vlan, p, PortState::Discarding, out);
                self.backup.insert(p);
                self.send(me, vlan, p, 0, now, out);
            }
        }
        self.backup.remove(new_root);
        self.set_state(vlan, new_root, PortState::Forwarding, out);
        self.send(me, vlan, new_root, Flags::AGREEMENT, now, out);
    }

    /// A port joins the VLAN (client attached, or membership added to an active port).
    pub fn add_port(
        &mut self,
        me: &Me,
        vlan: u16,
        port: PortId,
        tagged: bool,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        if tagged {
            self.tagged.insert(port);
            self.untagged.remove(port);
        } else {
            self.untagged.insert(port);
            self.tagged.remove(port);
        }
        self.backup.remove(port);
        self.edge.remove(port);
        self.heard[0].remove(port);
        self.heard[1].remove(port);
        // A joining port forwards at once. (vde_switch 2.3.2 leaves a port that rejoins a VLAN
        // tagged discarding if it was when it left, without the role that would explain it.)
        out.push(Effect::SetState {
            port,
            vlan,
            state: PortState::Forwarding,
        });
        self.send(me, vlan, port, 0, now, out);
        self.topology_change(me, vlan, port, FlushCause::PortAdded, now, out);
    }

    /// A port leaves the VLAN (client gone, or membership removed).
    pub fn remove_port(
        &mut self,
        me: &Me,
        vlan: u16,
        port: PortId,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        if self.speaks_fstp(port) {
            out.push(Effect::Debug(Event::Inactive { port, vlan }));
        }
        self.untagged.remove(port);
        self.tagged.remove(port);
        self.backup.remove(port);
        self.edge.remove(port);
        if port == self.root_port {
            self.reset(me, vlan, out);
        }
        self.topology_change(me, vlan, port, FlushCause::PortRemoved, now, out);
    }

    /// A frame for the bridge group address arrived on `port`.
    #[allow(clippy::too_many_arguments)]
    pub fn receive(
        &mut self,
        me: &Me,
        vlan: u16,
        port: PortId,
        frame: &[u8],
        window: usize,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        if self.edge.contains(port) {
            return;
        }
        if !self.speaks_fstp(port) {
            out.push(Effect::Debug(Event::Active { port, vlan }));
        }
        // Anything sent to the group address counts as FSTP activity, even if unreadable.
        self.heard[window].insert(port);
        let Ok(bpdu) = BpduRepr::parse_lenient(frame) else {
            return;
        };
        if bpdu.message_age >= MAX_AGE {
            return;
        }
        // A blocked port carries no frames, so a change heard there is not ours to pass on.
        // (vde_switch passes it on: with two cables between two switches, the change then runs
        // round the loop the blocked port closes, thousands of BPDUs a second, each flushing
        // both tables, until a hello blocks the other end too.)
        if bpdu.flags.topology_change() && !self.backup.contains(port) {
            self.topology_change(me, vlan, port, FlushCause::TopologyChangeReceived, now, out);
        }
        let cost = bpdu.root_cost.wrapping_add(self.port_cost(port));
        let heard: Vector = (bpdu.root, cost, bpdu.bridge, bpdu.port_id);
        let order = self.vector().cmp(&heard);
        if order == Ordering::Equal {
            // The designated bridge repeating itself: the root is alive.
            self.root_heard = now;
            self.root_age = heard_age(&bpdu);
            return;
        }
        if bpdu.bridge == me.id {
            self.own_bpdu(me, vlan, port, &bpdu, now, out);
            return;
        }
        match order {
            Ordering::Greater => self.adopt(me, vlan, port, heard, heard_age(&bpdu), now, out),
            Ordering::Less if port == self.root_port => {
                if bpdu.root >= me.id {
                    self.claim_root(me, vlan, port, now, out);
                } else {
                    self.adopt(me, vlan, port, heard, heard_age(&bpdu), now, out);
                }
            }
            Ordering::Less if bpdu.root == self.root => {
                // Same root, a worse path: this port's segment has another way to the root.
                // If the neighbour's port is its root port we are its designated bridge and
                // forward; otherwise it is designated (or blocked) too, and this end blocks.
                // (Both ends of such a segment end up blocked, as in vde_switch.)
                if bpdu.flags.is_root_port() {
                    if self.backup.contains(port) {
                        self.backup.remove(port);
                        self.set_state(vlan, port, PortState::Forwarding, out);
                        self.topology_change(me, vlan, port, FlushCause::PortUnblocked, now, out);
                    }
                } else if !self.backup.contains(port) {
                    self.backup.insert(port);
                    self.set_state(vlan, port, PortState::Discarding, out);
                    self.topology_change(me, vlan, port, FlushCause::PortBlocked, now, out);
                }
            }
            // A worse root: tell the sender about ours.
            _ => self.send(me, vlan, port, 0, now, out),
        }
    }

    /// Take `vector`, heard on `port` with message age `age`, as the path to the root.
    #[allow(clippy::too_many_arguments)]
    fn adopt(
        &mut self,
        me: &Me,
        vlan: u16,
        port: PortId,
        vector: Vector,
        age: u16,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        if self.root.0 <= me.reset_threshold() {
            self.reset(me, vlan, out);
        }
        (
            self.root,
            self.root_cost,
            self.designated,
            self.designated_port,
        ) = vector;
        self.root_port = port;
        self.root_heard = now;
        self.root_age = age;
        out.push(Effect::Debug(Event::Root {
            port,
            vlan,
            root: self.root,
        }));
        self.fast_protocol(me, vlan, port, now, out);
        self.topology_change(me, vlan, port, FlushCause::RootChanged, now, out);
    }

    /// The root port now leads to a root no better than this switch: be the root (and say so
    /// on that port, whose neighbour has the worse root). vde_switch adopts the worse root and
    /// keeps it for as long as the neighbour keeps announcing it.
    fn claim_root(&mut self, me: &Me, vlan: u16, port: PortId, now: u64, out: &mut Vec<Effect>) {
        self.reset(me, vlan, out);
        self.send(me, vlan, port, 0, now, out);
        self.topology_change(me, vlan, port, FlushCause::RootChanged, now, out);
    }

    /// Our own BPDU came back on `port`: two of our ports share a segment (through a hub, or
    /// switches that do not speak FSTP). The port with the higher id blocks; the other keeps
    /// forwarding, whatever its role. (vde_switch treats the BPDU like a neighbour's: it blocks
    /// both ports, cutting itself off from that segment, or, heard on its root port, adopts its
    /// own BPDU as the path to the root.)
    fn own_bpdu(
        &mut self,
        me: &Me,
        vlan: u16,
        port: PortId,
        bpdu: &BpduRepr,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        if bpdu.port_id < reference_port_id(port.index()) && !self.backup.contains(port) {
            self.backup.insert(port);
            self.set_state(vlan, port, PortState::Discarding, out);
            self.topology_change(me, vlan, port, FlushCause::PortBlocked, now, out);
        }
    }

    /// The periodic hello: give up a root that has been silent too long, then send our BPDU
    /// (with the agreement bit) on every member port but the edge ones.
    pub fn hello(&mut self, me: &Me, vlan: u16, now: u64, out: &mut Vec<Effect>) {
        if self.root_port != PortId(0) && now.saturating_sub(self.root_heard) > ROOT_TIMEOUT {
            self.reset(me, vlan, out);
        }
        for p in self.members() {
            if !self.edge.contains(p) {
                self.send(me, vlan, p, Flags::AGREEMENT, now, out);
            }
        }
    }

    /// A history window ends (`window` is the one about to be reused): backup ports that heard
    /// nothing in either window go back to forwarding (their neighbour stopped speaking FSTP);
    /// ports heard only in the older window are reported inactive.
    pub fn turn_history(&mut self, vlan: u16, window: usize, out: &mut Vec<Effect>) {
        for p in self.backup.iter().collect::<Vec<_>>() {
            if !self.speaks_fstp(p) {
                self.backup.remove(p);
                self.set_state(vlan, p, PortState::Forwarding, out);
            }
        }
        for p in self.members() {
            if self.heard[window].contains(p) && !self.heard[1 - window].contains(p) {
                out.push(Effect::Debug(Event::Inactive { port: p, vlan }));
            }
        }
        self.heard[window] = PortSet::default();
    }

    /// `fstp/setedge VLAN PORT 1/0`.
    pub fn set_edge(&mut self, vlan: u16, port: PortId, edge: bool, out: &mut Vec<Effect>) {
        if !edge {
            // vde_switch also drops the port's backup mark here, leaving it discarding with no
            // role that would ever unblock it. An edge port is never a backup port, so clearing
            // the edge mark is all there is to do.
            self.edge.remove(port);
            return;
        }
        self.edge.insert(port);
        // vde_switch forwards on an untagged member only (it tests the untagged set twice) and
        // keeps the backup mark; an edge port forwards, whatever carries the VLAN.
        if self.is_member(port) {
            self.backup.remove(port);
            self.set_state(vlan, port, PortState::Forwarding, out);
        }
    }
}
