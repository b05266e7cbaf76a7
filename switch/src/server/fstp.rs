//! The fast spanning tree in the running switch. The state machine ([`crate::fstp`]) decides;
//! this module feeds it and carries out what it decides:
//!
//! * BPDUs: a port hook ([`BpduTap`]) watching every port while FSTP is on takes each frame for
//!   the bridge group address before the fabric sees it; the frame is classified into its VLAN
//!   (its tag, or the port's untagged VLAN, with the fabric's ingress rules) and given to the
//!   tree. With FSTP off the hook watches nothing and BPDUs are forwarded like any multicast,
//!   as the reference does.
//! * Membership: [`FstpCtl::sync`] tells the tree which VLANs exist and which active ports carry
//!   them (untagged or tagged), by comparing the fabric with what the tree was told last. It
//!   runs after console commands and whenever endpoints came or went.
//! * Time: hellos and timeouts on the switch's one-second tick.
//! * Effects: BPDUs go out as injections into the port's egress (to its endpoints, whatever the
//!   port's state), port states and flushes go to the fabric, debug events to the management
//!   sessions that subscribed to `fstp/*`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::fabric::{Event, Fabric, PortId, PortSet, VlanId};
use crate::fstp::{Effect, Fstp, PortState};

use super::plane::hooks::{HookCx, Injection, PortHook, Verdict};
use super::plane::Plane;
use super::slab::Key;

/// BPDUs waiting for the tree at most; more in one round of the loop are dropped (a flood of
/// group-address frames cannot grow the switch).
const INBOX_CAP: usize = 1024;

/// The tree and what it was told, as the console sees it.
#[derive(Debug)]
pub struct FstpCtl {
    pub tree: Fstp,
    /// Membership as the tree knows it: VLAN → active member → carried tagged.
    told: BTreeMap<u16, BTreeMap<PortId, bool>>,
    /// Effects not carried out yet (console commands add to them; the loop carries them out).
    pub pending: Vec<Effect>,
}

impl FstpCtl {
    /// `tree` is new: it has VLAN 0 and no ports.
    pub fn new(tree: Fstp) -> FstpCtl {
        FstpCtl {
            tree,
            told: BTreeMap::from([(0, BTreeMap::new())]),
            pending: Vec::new(),
        }
    }

    /// Tell the tree what changed in the fabric since the last call: VLANs created or removed,
    /// ports that became or stopped being active members, or changed between tagged and
    /// untagged. Hub mode turns FSTP off (as `port/sethub 1` does in the reference).
    pub fn sync(&mut self, fabric: &Fabric, now: u64) {
        let out = &mut self.pending;
        if fabric.hub() && self.tree.enabled() {
            self.tree.set_enabled(false, now, out);
        }
        let active = |p: PortId| fabric.port(p).is_some_and(|p| p.is_active());
        // A trunk is a tagged member of every VLAN (but its own untagged one).
        let trunks: Vec<PortId> = fabric
            .ports()
            .filter(|(p, _)| fabric.is_trunk(*p))
            .map(|(p, _)| p)
            .collect();
        let want: BTreeMap<u16, BTreeMap<PortId, bool>> = fabric
            .vlans()
            .map(|(id, v)| {
                let untagged = v.untagged.iter().filter(|&p| active(p)).map(|p| (p, false));
                let tagged = v
                    .tagged
                    .iter()
                    .chain(trunks.iter().copied())
                    .filter(|&p| active(p) && !v.untagged.contains(p))
                    .map(|p| (p, true));
                (id.get(), untagged.chain(tagged).collect())
            })
            .collect();
        if want == self.told {
            return;
        }
        for (&vlan, members) in &self.told {
            let now_members = want.get(&vlan);
            for &port in members.keys() {
                if now_members.is_none_or(|m| !m.contains_key(&port)) {
                    self.tree.port_removed(vlan, port, now, out);
                }
            }
            if now_members.is_none() {
                self.tree.vlan_removed(vlan);
            }
        }
        for (&vlan, members) in &want {
            let before = self.told.get(&vlan);
            if before.is_none() {
                self.tree.vlan_created(vlan, out);
            }
            for (&port, &tagged) in members {
                if before.and_then(|b| b.get(&port)) != Some(&tagged) {
                    self.tree.port_added(vlan, port, tagged, now, out);
                }
            }
        }
        self.told = want;
    }
}

type Inbox = Rc<RefCell<Vec<(PortId, Vec<u8>)>>>;

/// Takes BPDUs at the ports it watches (all of them while FSTP is on).
struct BpduTap {
    inbox: Inbox,
}

impl PortHook for BpduTap {
    fn ingress(&mut self, port: PortId, frame: &[u8], _: &mut HookCx<'_>) -> Verdict {
        if !Fstp::is_bpdu(frame) {
            return Verdict::Forward;
        }
        let mut inbox = self.inbox.borrow_mut();
        if inbox.len() < INBOX_CAP {
            inbox.push((port, frame.to_vec()));
        }
        Verdict::Taken
    }
}

/// The spanning tree of the running switch.
pub struct FstpRunner {
    pub ctl: FstpCtl,
    inbox: Inbox,
    hook: Key,
    /// The port count the hook watches all ports of; `None` while it watches none.
    watching: Option<usize>,
    /// Membership may have changed: sync before anything else.
    pub dirty: bool,
    events: Vec<Event>,
}

impl FstpRunner {
    /// Install the BPDU hook in `plane` (watching nothing until FSTP is on).
    pub fn install(plane: &mut Plane, tree: Fstp) -> FstpRunner {
        let inbox = Inbox::default();
        let hook = plane.hooks.add(
            Box::new(BpduTap {
                inbox: inbox.clone(),
            }),
            PortSet::default(),
        );
        FstpRunner {
            ctl: FstpCtl::new(tree),
            inbox,
            hook,
            watching: None,
            dirty: true,
            events: Vec::new(),
        }
    }

    /// One round: membership, received BPDUs, hellos due at `now` (whole seconds since the
    /// start), then every effect carried out.
    pub fn step(&mut self, plane: &mut Plane, now: u64) {
        if self.dirty {
            self.dirty = false;
            self.ctl.sync(plane.fabric(), now);
        }
        let received = std::mem::take(&mut *self.inbox.borrow_mut());
        for (port, frame) in received {
            // Counted as input, as the reference counts BPDUs.
            plane.fabric_mut().note_own_in(port, frame.len());
            // A port whose client left since has nothing more to say.
            let fabric = plane.fabric();
            if !fabric.port(port).is_some_and(|p| p.is_active()) {
                continue;
            }
            if let Some(vlan) = fabric.classify(port, &frame) {
                self.ctl
                    .tree
                    .receive(port, vlan.get(), &frame, now, &mut self.ctl.pending);
            }
        }
        if self.ctl.tree.next_deadline().is_some_and(|d| d <= now) {
            self.ctl.tree.tick(now, &mut self.ctl.pending);
        }
        for effect in self.ctl.pending.drain(..) {
            match effect {
                Effect::Send { port, bpdu } => {
                    let frame = bpdu.to_bytes();
                    // Output of the port, as the reference counts it.
                    plane.fabric_mut().note_own_out(port, frame.len());
                    plane
                        .hooks
                        .injections
                        .push(Injection::Egress { port, frame });
                }
                Effect::SetState { port, vlan, state } => {
                    if let Some(vlan) = VlanId::new(vlan) {
                        plane.fabric_mut().set_discarding(
                            vlan,
                            port,
                            state == PortState::Discarding,
                        );
                    }
                }
                Effect::Flush { vlan, .. } => {
                    if let Some(vlan) = VlanId::new(vlan) {
                        plane.fabric_mut().flush_vlan(vlan);
                    }
                }
                Effect::Debug(ev) => self.events.push(Event::Fstp(ev)),
            }
        }
        let want = self.ctl.tree.enabled().then(|| plane.fabric().numports());
        if want != self.watching {
            self.watching = want;
            let mut ports = PortSet::default();
            for i in 0..want.unwrap_or(0) {
                if let Some(p) = PortId::from_index(i) {
                    ports.insert(p);
                }
            }
            plane.hooks.set_ports(self.hook, ports);
        }
    }

    /// Debug events since the last call.
    pub fn take_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fabric::{Credentials, Endpoint, PortChoice};
    use crate::fstp::Role;
    use vde_protocol::MacAddr;

    fn attach(f: &mut Fabric, id: u32) -> PortId {
        let who = Credentials {
            uid: Some(0),
            gids: vec![0],
        };
        let ep = Endpoint {
            id,
            module: "test",
            description: String::new(),
        };
        f.attach(PortChoice::Any, &who, ep).unwrap()
    }

    fn members(ctl: &FstpCtl, vlan: u16) -> Vec<(u16, bool)> {
        ctl.tree
            .view(vlan, 0)
            .map(|v| v.members.iter().map(|m| (m.port.0, m.tagged)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_tree_follows_the_fabric() {
        let mut f = Fabric::new(8, false, 16, 64);
        let mac = MacAddr([2, 0, 0, 0, 0, 1]);
        let mut ctl = FstpCtl::new(Fstp::new(mac, 0x8000, true, 0));
        let (p1, p2) = (attach(&mut f, 1), attach(&mut f, 2));
        ctl.sync(&f, 0);
        assert_eq!(members(&ctl, 0), vec![(1, false), (2, false)]);
        // A port coming up sends a BPDU there at once (FSTP on).
        assert!(ctl
            .pending
            .iter()
            .any(|e| matches!(e, Effect::Send { port, .. } if *port == p2)));
        ctl.pending.clear();

        let v10 = VlanId::new(10).unwrap();
        f.vlan_create(v10).unwrap();
        f.vlan_addport(v10, p1).unwrap();
        ctl.sync(&f, 1);
        assert_eq!(members(&ctl, 10), vec![(1, true)]);
        f.set_port_vlan(p2, v10).unwrap();
        ctl.sync(&f, 1);
        assert_eq!(members(&ctl, 0), vec![(1, false)]);
        assert_eq!(members(&ctl, 10), vec![(2, false), (1, true)]);
        assert_eq!(ctl.tree.role(10, p2), Some(Role::Designated));

        // A client leaving takes its port out of every VLAN it carried.
        f.detach(p1, 1).unwrap();
        ctl.sync(&f, 2);
        assert_eq!(members(&ctl, 0), vec![]);
        assert_eq!(members(&ctl, 10), vec![(2, false)]);

        // A removed VLAN is gone from the tree.
        f.set_port_vlan(p2, VlanId::DEFAULT).unwrap();
        f.vlan_delport(v10, p1).unwrap();
        f.vlan_remove(v10).unwrap();
        ctl.sync(&f, 3);
        assert_eq!(ctl.tree.vlans().collect::<Vec<_>>(), vec![0]);

        // Hub mode turns FSTP off.
        f.set_hub(true);
        ctl.sync(&f, 4);
        assert!(!ctl.tree.enabled());
    }
}
