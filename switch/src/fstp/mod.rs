//! The fast spanning tree (FSTP) of vde_switch 2.3.2, as a pure state machine.
//!
//! FSTP breaks loops between switches, one tree per VLAN. It speaks BPDUs that look like 802.1w
//! (see [`vde_protocol::bpdu`]) but its rules are its own, and a switch must follow them to
//! converge with vde_switch 2.3.2:
//!
//! * Every port starts forwarding. The switch believes it is the root until it hears a better
//!   root path (root id, cost, sender id, sender port: lower wins). Then it takes the port that
//!   heard it as root port, blocks every other port that speaks FSTP at once, forwards on the new
//!   root port and answers there with an agreement.
//! * A port that hears a worse path to the same root stays forwarding if the neighbour says the
//!   port it sent from is its root port (we are that segment's designated bridge), and blocks
//!   otherwise. Both ends of the segment that closes a loop usually end up blocked.
//! * A hello every 4 s on every member port (agreement bit set). A root port silent for more
//!   than 12 s (checked at hellos) makes the switch the root again; a blocked port that hears no
//!   BPDU for two 16-second windows goes back to forwarding (its neighbour stopped speaking
//!   FSTP).
//! * Any change of the tree (a port added or removed, a root port taken, a port blocked or
//!   unblocked, a topology change flag heard) flushes the VLAN's whole MAC table and sends one
//!   BPDU with the topology change flag on the other FSTP ports.
//! * Edge ports (`fstp/setedge`) never send or heed BPDUs and always forward; `fstp/bonus`
//!   lowers the cost of one port per VLAN. Every port costs 20000000.
//!
//! [`Fstp`] takes what happens (membership, received BPDUs, time, configuration) and answers
//! with [`Effect`]s, in the order vde_switch would act: BPDUs to send, port states for the
//! forwarding fabric, MAC table flushes and debug events. Time is whole seconds since the switch
//! started, passed in. It never reads a clock or touches a socket.
//!
//! Where we differ from 2.3.2 on purpose (each is commented where it happens): with FSTP off
//! nothing is flushed; a topology change heard on a blocked port is not passed on (2.3.2 can
//! bounce it round a loop for seconds); a switch whose root port brings a root worse than
//! itself becomes the root (2.3.2 keeps the worse one); the message age counts the bridges
//! crossed and information 40 old is dropped (2.3.2 never reads it, so the information of a
//! root cut off from a loop can circulate for ever); a switch that hears its own BPDU blocks
//! one port, not both; an edge port forwards whether it carries the VLAN tagged or not; a
//! port rejoining a VLAN forwards. None of these changes what a 2.3.2 neighbour sees in the
//! cases it handles well: the tests compare both, BPDU for BPDU.

pub mod event;
mod render;
mod vlan;

use std::collections::BTreeMap;

use vde_protocol::bpdu::{BpduRepr, Flags, BPDU_DST};
use vde_protocol::{BridgeId, MacAddr};

pub use event::Event;
pub use render::{MemberView, Role, VlanView};

use crate::fabric::PortId;
use vlan::{Me, VlanTree};

/// Seconds between hellos.
pub const HELLO_TIME: u64 = 4;
/// A root port heard from less recently than this is given up (checked at each hello).
pub const ROOT_TIMEOUT: u64 = 3 * HELLO_TIME;
/// Hellos per receive-history window; a blocked port reverts after two silent windows.
pub const HISTORY_HELLOS: u32 = 4;
/// Max age written in BPDUs (10 hellos); no one reads it.
pub const MAX_AGE: u16 = 40;
/// Path cost of every port ("1 Mbit/s"); vde_switch has no command to change it.
pub const PORT_COST: u32 = 20_000_000;
/// Default bridge priority (`--priority`).
pub const DEFAULT_PRIORITY: u16 = 0x8000;

/// The forwarding state of a port on a VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortState {
    /// Frames received are dropped (BPDUs are still read), nothing is learned, nothing is sent
    /// but BPDUs.
    Discarding,
    /// Learning and forwarding.
    Forwarding,
}

impl PortState {
    /// Bits 4-5 of the BPDU flags.
    fn flag_bits(self) -> u8 {
        match self {
            PortState::Discarding => 0,
            PortState::Forwarding => Flags::LEARNING | Flags::FORWARDING,
        }
    }

    /// As the `fstp/status` event names it.
    pub fn event_name(self) -> &'static str {
        match self {
            PortState::Discarding => "discarding",
            PortState::Forwarding => "learning+forwarding",
        }
    }

    /// As `vlan/print` names it.
    pub fn name(self) -> &'static str {
        match self {
            PortState::Discarding => "Discarding",
            PortState::Forwarding => "Forwarding",
        }
    }
}

/// Why a VLAN's MAC table must be flushed. vde_switch flushes the whole VLAN for each of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlushCause {
    /// A port joined the VLAN.
    PortAdded,
    /// A port left the VLAN.
    PortRemoved,
    /// A neighbour's BPDU carried the topology change flag.
    TopologyChangeReceived,
    /// A new root port was taken.
    RootChanged,
    /// A blocked port forwards again.
    PortUnblocked,
    /// A port was blocked.
    PortBlocked,
}

/// What the switch must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send `bpdu` (`bpdu.to_bytes()`) to every endpoint of `port`, whatever the port's state;
    /// it counts as output of the port.
    Send { port: PortId, bpdu: BpduRepr },
    /// From now on treat `port` on `vlan` as `state`.
    SetState {
        port: PortId,
        vlan: u16,
        state: PortState,
    },
    /// Remove every MAC table entry of `vlan`.
    Flush { vlan: u16, cause: FlushCause },
    /// Tell the subscribers of `event.category()`.
    Debug(Event),
}

/// Why a configuration command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FstpError {
    #[error("VLAN {0} is not defined")]
    NoSuchVlan(u16),
}

/// The spanning tree state of the whole switch.
#[derive(Debug, Clone)]
pub struct Fstp {
    me: Me,
    priority: u16,
    vlans: BTreeMap<u16, VlanTree>,
    /// Hellos sent in the current history window (it ends after [`HISTORY_HELLOS`]).
    window_hellos: u32,
    /// The history window BPDUs are recorded in.
    window: usize,
    /// When the next hello is due, while FSTP is on.
    next_hello: Option<u64>,
}

impl Fstp {
    /// The state of a switch with this MAC and priority, which has VLAN 0 and no ports, at time
    /// `now`; `enabled` is `-F`.
    pub fn new(mac: MacAddr, priority: u16, enabled: bool, now: u64) -> Fstp {
        let me = Me {
            mac,
            id: BridgeId::new(priority, mac),
            enabled,
        };
        let mut vlans = BTreeMap::new();
        vlans.insert(0, VlanTree::new(&me));
        Fstp {
            me,
            priority,
            vlans,
            window_hellos: 0,
            window: 0,
            next_hello: enabled.then_some(now + HELLO_TIME),
        }
    }

    /// FSTP is on.
    pub fn enabled(&self) -> bool {
        self.me.enabled
    }

    /// This switch's bridge id (priority and MAC).
    pub fn bridge_id(&self) -> BridgeId {
        self.me.id
    }

    /// The switch MAC, source of every BPDU.
    pub fn mac(&self) -> MacAddr {
        self.me.mac
    }

    /// The bridge priority.
    pub fn priority(&self) -> u16 {
        self.priority
    }

    /// The frame is for the spanning tree: while FSTP is on, such frames go to
    /// [`receive`](Self::receive) and are never forwarded.
    pub fn is_bpdu(frame: &[u8]) -> bool {
        frame.get(..6) == Some(&BPDU_DST.0[..])
    }

    /// When [`tick`](Self::tick) must be called next, if FSTP is on.
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_hello
    }

    /// `fstp/setfstp 0/1` (turning it on in hub mode is the console's to refuse; `port/sethub 1`
    /// turns it off). Off makes the switch the root of every VLAN again and unblocks every port.
    pub fn set_enabled(&mut self, on: bool, now: u64, out: &mut Vec<Effect>) {
        if on == self.me.enabled {
            return;
        }
        self.me.enabled = on;
        if on {
            self.next_hello = Some(now + HELLO_TIME);
        } else {
            self.next_hello = None;
            let me = self.me;
            for (&id, tree) in self.vlans.iter_mut() {
                tree.reset(&me, id, out);
            }
        }
    }

    /// A VLAN was created (`vlan/create`): this switch is its root.
    pub fn vlan_created(&mut self, vlan: u16, out: &mut Vec<Effect>) {
        let me = self.me;
        let tree = self.vlans.entry(vlan).or_insert_with(|| VlanTree::new(&me));
        tree.reset(&me, vlan, out);
    }

    /// A VLAN was removed (it has no members left).
    pub fn vlan_removed(&mut self, vlan: u16) {
        self.vlans.remove(&vlan);
    }

    /// An active port now carries `vlan` (untagged or tagged): a client attached to a port that
    /// is a member, `vlan/addport` or `port/setvlan` on an active port. Calling it again for a
    /// member (also to switch between tagged and untagged) starts the port afresh.
    pub fn port_added(
        &mut self,
        vlan: u16,
        port: PortId,
        tagged: bool,
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        let me = self.me;
        if let Some(tree) = self.vlans.get_mut(&vlan) {
            tree.add_port(&me, vlan, port, tagged, now, out);
        }
    }

    /// A port no longer carries `vlan`: its last client left, or `vlan/delport` / `port/setvlan`
    /// on an active port. Call it for each VLAN the port was a member of. (vde_switch runs this
    /// for every VLAN when a port goes inactive, member or not; that only floods more topology
    /// changes.)
    pub fn port_removed(&mut self, vlan: u16, port: PortId, now: u64, out: &mut Vec<Effect>) {
        let me = self.me;
        if let Some(tree) = self.vlans.get_mut(&vlan) {
            tree.remove_port(&me, vlan, port, now, out);
        }
    }

    /// A frame for the bridge group address ([`is_bpdu`](Self::is_bpdu)) arrived on `port`,
    /// classified into `vlan` (by its tag, or the port's untagged VLAN) and past the VLAN
    /// ingress check, whatever the port's state. `frame` is the whole frame as received, tag
    /// included. Ignored while FSTP is off.
    pub fn receive(
        &mut self,
        port: PortId,
        vlan: u16,
        frame: &[u8],
        now: u64,
        out: &mut Vec<Effect>,
    ) {
        if !self.me.enabled {
            return;
        }
        let me = self.me;
        let window = self.window;
        if let Some(tree) = self.vlans.get_mut(&vlan) {
            tree.receive(&me, vlan, port, frame, window, now, out);
        }
    }

    /// Time passes: sends the hellos that are due, expires silent roots and blocked ports.
    pub fn tick(&mut self, now: u64, out: &mut Vec<Effect>) {
        let Some(due) = self.next_hello else {
            return;
        };
        if now < due {
            return;
        }
        let me = self.me;
        self.window_hellos += 1;
        for (&id, tree) in self.vlans.iter_mut() {
            tree.hello(&me, id, now, out);
        }
        if self.window_hellos == HISTORY_HELLOS {
            self.window_hellos = 0;
            self.window = 1 - self.window;
            for (&id, tree) in self.vlans.iter_mut() {
                tree.turn_history(id, self.window, out);
            }
        }
        // Hellos missed while the switch was held up are skipped, not sent in a burst.
        let mut next = due + HELLO_TIME;
        while next <= now {
            next += HELLO_TIME;
        }
        self.next_hello = Some(next);
    }

    /// `fstp/setedge VLAN PORT 1/0`. The console checks the ranges first.
    pub fn set_edge(
        &mut self,
        vlan: u16,
        port: PortId,
        edge: bool,
        out: &mut Vec<Effect>,
    ) -> Result<(), FstpError> {
        let tree = self
            .vlans
            .get_mut(&vlan)
            .ok_or(FstpError::NoSuchVlan(vlan))?;
        tree.set_edge(vlan, port, edge, out);
        Ok(())
    }

    /// `fstp/bonus VLAN PORT COST`: subtract `cost` from the cost of paths heard on `port` (one
    /// port per VLAN; taken into account from the next BPDU on).
    pub fn set_bonus(&mut self, vlan: u16, port: PortId, cost: i32) -> Result<(), FstpError> {
        let tree = self
            .vlans
            .get_mut(&vlan)
            .ok_or(FstpError::NoSuchVlan(vlan))?;
        tree.bonus_port = port;
        tree.bonus_cost = cost;
        Ok(())
    }

    /// The state of `port` on `vlan`: discarding only if the tree blocked it.
    pub fn state(&self, vlan: u16, port: PortId) -> PortState {
        self.vlans
            .get(&vlan)
            .map_or(PortState::Forwarding, |t| t.state(port))
    }

    /// VLANs the tree knows, ascending.
    pub fn vlans(&self) -> impl Iterator<Item = u16> + '_ {
        self.vlans.keys().copied()
    }
}

#[cfg(test)]
mod tests;
