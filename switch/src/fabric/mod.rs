//! The forwarding fabric: ports, VLANs, the MAC table and hub mode, as a pure
//! state machine. It is given a frame and the port it came from and answers
//! where copies go and how to tag them; it never touches a socket, so the hot
//! path can be tested, fuzzed and benchmarked alone.

pub mod counters;
pub mod mac_table;
pub mod port;
pub mod vlan;

use vde_protocol::ethernet::Frame;
use vde_protocol::MacAddr;

pub use counters::PortCounters;
pub use mac_table::{Forgotten, Learn, MacEntry, MacTable, MacTimers};
pub use port::{Credentials, Endpoint, EndpointId, Port, PortId};
pub use vlan::{PortSet, Vlan, VlanId, VLAN_COUNT};

/// How one copy of a frame must be changed for its destination port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagging {
    AsIs,
    /// Remove the 802.1Q tag.
    Untag,
    /// Insert a tag with this VLAN id.
    Tag(VlanId),
}

impl Tagging {
    /// Length of the frame after the change.
    pub fn out_len(self, len: usize) -> usize {
        match self {
            Tagging::AsIs => len,
            Tagging::Untag => len - 4,
            Tagging::Tag(_) => len + 4,
        }
    }
}

/// One copy to send: to every endpoint of `port`, changed as `tagging` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub port: PortId,
    pub tagging: Tagging,
}

/// Things that happened inside the fabric, for logs and debug subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A port structure was allocated (`port/+`).
    PortAllocated(PortId),
    /// A port lost its last endpoint (`port/-`).
    PortDeactivated(PortId),
    EndpointAdded {
        port: PortId,
        id: EndpointId,
        description: String,
    },
    EndpointRemoved {
        port: PortId,
        id: EndpointId,
    },
    MacLearned {
        mac: MacAddr,
        vlan: VlanId,
        port: PortId,
    },
    MacForgotten {
        mac: MacAddr,
        vlan: VlanId,
        port: PortId,
    },
    /// A known source showed up on another port (logged by the reference even when refused).
    MacMoved {
        mac: MacAddr,
        from: PortId,
        to: PortId,
    },
    /// A source could not be learned because the table is full.
    MacTableFull {
        mac: MacAddr,
        port: PortId,
    },
    /// An event of the spanning tree (not the fabric's own: it travels with the fabric's
    /// events to the logs and to the debug subscribers of the `fstp/*` categories).
    Fstp(crate::fstp::Event),
}

/// Errors of configuration operations; each maps to the errno the reference
/// console prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FabricError {
    #[error("invalid argument")]
    Invalid,
    #[error("no such port or VLAN")]
    NoSuchDevice,
    #[error("already exists")]
    Exists,
    #[error("in use")]
    InUse,
    #[error("no free port")]
    NoSpace,
    #[error("permission denied")]
    Denied,
}

impl FabricError {
    pub fn errno(self) -> i32 {
        match self {
            FabricError::Invalid => libc::EINVAL,
            FabricError::NoSuchDevice => libc::ENXIO,
            FabricError::Exists => libc::EEXIST,
            FabricError::InUse => libc::EADDRINUSE,
            FabricError::NoSpace => libc::ENOSPC,
            FabricError::Denied => libc::EPERM,
        }
    }
}

/// Which port a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChoice {
    Any,
    /// A port number as the client asked for it (it may be out of range).
    Port(usize),
    Port0,
}

/// Why a client could not be attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("port {port} is out of range (the switch has ports 0..{numports})")]
    OutOfRange { port: usize, numports: usize },
    #[error("no free port (all {numports} ports are taken; raise -n or port/setnumports)")]
    NoFreePort { numports: usize },
    #[error("port {port} belongs to another user")]
    Denied { port: PortId },
}

/// Largest port count (`-n`, `port/setnumports`); the port array is
/// allocated up front, so an absurd count must be refused, not attempted.
pub const MAX_PORTS: usize = 65536;

pub struct Fabric {
    ports: Vec<Option<Port>>,
    vlans: Vec<Option<Vlan>>,
    macs: MacTable,
    hub: bool,
    /// Events since the owner last took them.
    events: Vec<Event>,
    /// Sources not learned because the table was full, all ports together.
    unlearned_total: u64,
    scratch: Vec<Forgotten>,
    /// The trunk ports (each port's `trunk`), for flooding in port order.
    trunks: PortSet,
}

impl Fabric {
    pub fn new(numports: usize, hub: bool, hash_buckets: usize, max_macs: usize) -> Fabric {
        let mut vlans = vec![None; VLAN_COUNT];
        vlans[0] = Some(Vlan::default());
        Fabric {
            ports: vec![None; numports.clamp(1, MAX_PORTS)],
            vlans,
            macs: MacTable::new(hash_buckets, max_macs),
            hub,
            events: Vec::new(),
            unlearned_total: 0,
            scratch: Vec::new(),
            trunks: PortSet::default(),
        }
    }

    pub fn numports(&self) -> usize {
        self.ports.len()
    }

    pub fn hub(&self) -> bool {
        self.hub
    }

    pub fn set_hub(&mut self, hub: bool) {
        self.hub = hub;
    }

    pub fn port(&self, p: PortId) -> Option<&Port> {
        self.ports.get(p.index()).and_then(Option::as_ref)
    }

    fn port_mut(&mut self, p: PortId) -> Option<&mut Port> {
        self.ports.get_mut(p.index()).and_then(Option::as_mut)
    }

    /// Allocated ports in ascending order.
    pub fn ports(&self) -> impl Iterator<Item = (PortId, &Port)> {
        self.ports
            .iter()
            .zip(0..=u16::MAX)
            .filter_map(|(p, i)| p.as_ref().map(|p| (PortId(i), p)))
    }

    pub fn vlan(&self, v: VlanId) -> Option<&Vlan> {
        self.vlans.get(v.index()).and_then(Option::as_ref)
    }

    /// Defined VLANs in ascending order.
    pub fn vlans(&self) -> impl Iterator<Item = (VlanId, &Vlan)> {
        self.vlans
            .iter()
            .zip(0..=VlanId::MAX)
            .filter_map(|(v, i)| Some((VlanId::new(i)?, v.as_ref()?)))
    }

    /// The MAC table (read only: learning is the data path's, ageing `expire_macs`).
    pub fn macs(&self) -> &MacTable {
        &self.macs
    }

    /// `hash/setgcint`, `hash/setexpire`, `hash/setminper`.
    pub fn set_mac_timers(&mut self, timers: MacTimers) {
        self.macs.set_timers(timers);
    }

    /// Sources not learned because the table was full, all ports together.
    pub fn unlearned_total(&self) -> u64 {
        self.unlearned_total
    }

    /// What happened since the last call, oldest first (for logs and debug subscribers).
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.events.drain(..)
    }

    /// Whether events are waiting to be taken.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The port automatic allocation would hand out: the lowest ≥ 1 that is free, or
    /// allocated but inactive and allocatable.
    fn free_port(&self) -> Option<PortId> {
        self.ports
            .iter()
            .zip(0..=u16::MAX)
            .skip(1)
            .find(|(p, _)| p.as_ref().is_none_or(Port::is_free))
            .map(|(_, i)| PortId(i))
    }

    // ---------------------------------------------------------------- data path

    /// Decide where a frame received on `in_port` goes. Counters and learning
    /// are updated; `out` is cleared and filled with the copies to send.
    pub fn forward(&mut self, in_port: PortId, data: &[u8], now: u64, out: &mut Vec<Delivery>) {
        out.clear();
        let Some(Some(port)) = self.ports.get_mut(in_port.index()) else {
            return;
        };
        let Ok(frame) = Frame::new_checked(data) else {
            port.counters.runts += 1;
            return;
        };
        port.counters.in_pkts += 1;
        port.counters.in_bytes += data.len() as u64;
        let len = data.len();

        if self.hub {
            // The reference's hub skips port 0 and counts OUT on inactive ports too.
            for (slot, p) in self.ports.iter_mut().zip(0..=u16::MAX).skip(1) {
                let p = PortId(p);
                if p == in_port {
                    continue;
                }
                if let Some(dst) = slot {
                    dst.counters.out_pkts += 1;
                    dst.counters.out_bytes += len as u64;
                    out.push(Delivery {
                        port: p,
                        tagging: Tagging::AsIs,
                    });
                }
            }
            return;
        }

        // VLAN classification and ingress filter. A trunk takes every tagged frame: of a VLAN
        // that exists as a tagged member would, of one never created to the other trunks only.
        let tagged = frame.is_tagged();
        let in_trunk = self.trunks.contains(in_port);
        let vid = match frame.vlan_id() {
            Some(v) => VlanId::from_vid(v),
            None => port.untagged_vlan,
        };
        let Some(Some(vlan)) = self.vlans.get(vid.index()) else {
            if tagged && in_trunk && vid != VlanId::NONE {
                for p in self.trunks.iter() {
                    if p != in_port && self.ports[p.index()].as_ref().is_some_and(Port::is_active) {
                        out.push(Delivery {
                            port: p,
                            tagging: Tagging::AsIs,
                        });
                    }
                }
                self.count_out(out, len);
                return;
            }
            port.counters.vlan_drops += 1;
            return;
        };
        if tagged && !vlan.has_member(in_port) && !in_trunk {
            port.counters.vlan_drops += 1;
            return;
        }
        // Blocked by the spanning tree: neither learned nor forwarded (as the reference).
        if vlan.discarding.contains(in_port) {
            return;
        }

        // Learning.
        let src = frame.src();
        if !src.is_multicast() {
            match self.macs.learn(src, vid, in_port, now) {
                Learn::New => self.events.push(Event::MacLearned {
                    mac: src,
                    vlan: vid,
                    port: in_port,
                }),
                Learn::Refreshed => {}
                Learn::OtherPort { from, .. } => self.events.push(Event::MacMoved {
                    mac: src,
                    from,
                    to: in_port,
                }),
                Learn::Full => {
                    port.counters.unlearned += 1;
                    self.unlearned_total += 1;
                    self.events.push(Event::MacTableFull {
                        mac: src,
                        port: in_port,
                    });
                }
            }
        }

        let convert = |to_tagged: bool| match (tagged, to_tagged) {
            (true, false) => Tagging::Untag,
            (false, true) => Tagging::Tag(vid),
            _ => Tagging::AsIs,
        };

        let dst = frame.dst();
        let known = if dst.is_multicast() {
            None
        } else {
            self.macs.lookup(dst, vid)
        };
        match known {
            Some(t) => {
                if t == in_port || vlan.discarding.contains(t) {
                    return;
                }
                let tagging = if vlan.untagged.contains(t) {
                    convert(false)
                } else if vlan.tagged.contains(t) || self.trunks.contains(t) {
                    convert(true)
                } else {
                    return;
                };
                out.push(Delivery { port: t, tagging });
            }
            None => {
                // Same tag-ness first, then the converted copies, ascending. Trunks are
                // tagged members of every VLAN, except their own untagged one.
                let ports = &self.ports;
                let mut push = |p: PortId, tagging: Tagging| {
                    if p != in_port
                        && !vlan.discarding.contains(p)
                        && ports[p.index()].as_ref().is_some_and(Port::is_active)
                    {
                        out.push(Delivery { port: p, tagging });
                    }
                };
                for to_tagged in [tagged, !tagged] {
                    let tagging = convert(to_tagged);
                    if to_tagged {
                        // A port tagged on its own untagged VLAN gets the untagged copy only.
                        for p in vlan.tagged.union(&self.trunks) {
                            if !vlan.untagged.contains(p) {
                                push(p, tagging);
                            }
                        }
                    } else {
                        for p in vlan.untagged.iter() {
                            push(p, tagging);
                        }
                    }
                }
            }
        }
        self.count_out(out, len);
    }

    /// Count the copies of a `len`-byte frame on their ports.
    fn count_out(&mut self, out: &[Delivery], len: usize) {
        for d in out {
            if let Some(p) = self.ports[d.port.index()].as_mut() {
                p.counters.out_pkts += 1;
                p.counters.out_bytes += d.tagging.out_len(len) as u64;
            }
        }
    }

    /// The VLAN a frame entering `port` belongs to, by the rules of [`forward`](Self::forward):
    /// its tag, else the port's untagged VLAN; none for a tag the port does not carry, an
    /// undefined VLAN, or in hub mode. The port's spanning tree state does not matter (BPDUs
    /// are read on blocked ports too).
    pub fn classify(&self, port: PortId, data: &[u8]) -> Option<VlanId> {
        if self.hub {
            return None;
        }
        let p = self.port(port)?;
        let frame = Frame::new_checked(data).ok()?;
        let vid = match frame.vlan_id() {
            Some(v) => VlanId::from_vid(v),
            None => p.untagged_vlan,
        };
        let vlan = self.vlan(vid)?;
        if frame.is_tagged() && !vlan.has_member(port) {
            return None;
        }
        Some(vid)
    }

    /// Count a frame of the switch's own protocol (a BPDU) read from port `p`, as input:
    /// the reference counts them like any frame.
    pub fn note_own_in(&mut self, p: PortId, len: usize) {
        if let Some(port) = self.port_mut(p) {
            port.counters.in_pkts += 1;
            port.counters.in_bytes += len as u64;
        }
    }

    /// Count a frame the switch itself sends through port `p` (a BPDU), as output.
    pub fn note_own_out(&mut self, p: PortId, len: usize) {
        if let Some(port) = self.port_mut(p) {
            port.counters.out_pkts += 1;
            port.counters.out_bytes += len as u64;
        }
    }

    /// Count a datagram that was too short to be a frame.
    pub fn note_runt(&mut self, p: PortId) {
        if let Some(port) = self.port_mut(p) {
            port.counters.runts += 1;
        }
    }

    /// Count a datagram longer than the maximum frame (dropped, never truncated).
    pub fn note_oversize(&mut self, p: PortId) {
        if let Some(port) = self.port_mut(p) {
            port.counters.oversize += 1;
        }
    }

    /// Count copies that could not be handed to an endpoint of `p`.
    pub fn note_send_drop(&mut self, p: PortId, n: u64) {
        if let Some(port) = self.port_mut(p) {
            port.counters.send_drops += n;
        }
    }

    /// Age out the MAC table.
    pub fn expire_macs(&mut self, now: u64) {
        let mut gone = std::mem::take(&mut self.scratch);
        self.macs.expire(now, &mut gone);
        self.report_forgotten(&mut gone);
        self.scratch = gone;
    }

    // -------------------------------------------------------------- endpoints

    /// Attach a client's endpoint following the reference's allocation and
    /// access rules; returns the port it got.
    pub fn attach(
        &mut self,
        choice: PortChoice,
        who: &Credentials,
        endpoint: Endpoint,
    ) -> Result<PortId, AttachError> {
        let numports = self.ports.len();
        let p = match choice {
            PortChoice::Port0 => PortId(0),
            PortChoice::Port(n) => PortId::from_index(n)
                .filter(|p| p.index() < numports)
                .ok_or(AttachError::OutOfRange { port: n, numports })?,
            PortChoice::Any => self
                .free_port()
                .ok_or(AttachError::NoFreePort { numports })?,
        };
        if self.ports[p.index()].is_none() {
            self.alloc_port(p, true);
        }
        let port = self.ports[p.index()].as_mut().expect("allocated above");
        if !port.is_active() && port.admits(who) {
            port.current_user = who.uid;
        }
        if port.current_user != who.uid {
            return Err(AttachError::Denied { port: p });
        }
        self.events.push(Event::EndpointAdded {
            port: p,
            id: endpoint.id,
            description: endpoint.description.clone(),
        });
        // A port coming up invalidates no entry: nothing is flushed (the reference flushes
        // its VLANs, so receive-only hosts are flooded to from then on). With the spanning
        // tree on, its flushes come as its own effects ([`Fabric::flush_vlan`]).
        port.endpoints.insert(0, endpoint);
        Ok(p)
    }

    /// Remove an endpoint; the last one leaving deactivates the port.
    pub fn detach(&mut self, p: PortId, id: EndpointId) -> Result<(), FabricError> {
        let port = self.port_mut(p).ok_or(FabricError::NoSuchDevice)?;
        let i = port
            .endpoints
            .iter()
            .position(|e| e.id == id)
            .ok_or(FabricError::NoSuchDevice)?;
        port.endpoints.remove(i);
        let now_inactive = !port.is_active();
        if now_inactive {
            port.current_user = None;
        }
        self.events.push(Event::EndpointRemoved { port: p, id });
        if now_inactive {
            self.events.push(Event::PortDeactivated(p));
            // Only the port's own entries are invalid now (the reference flushes its VLANs).
            self.forget_port(p);
            self.unblock_everywhere(p);
        }
        Ok(())
    }

    /// The reference's port-close path, which `port/epclose` runs even for an endpoint the port
    /// does not have: an allocated port without endpoints is announced closed again (`port/-`).
    pub fn announce_if_inactive(&mut self, p: PortId) {
        if self.port(p).is_some_and(|port| !port.is_active()) {
            self.events.push(Event::PortDeactivated(p));
        }
    }

    fn alloc_port(&mut self, p: PortId, allocatable: bool) {
        self.ports[p.index()] = Some(Port::new(allocatable));
        if let Some(v0) = self.vlans[0].as_mut() {
            v0.untagged.insert(p);
        } else if let Some(port) = self.ports[p.index()].as_mut() {
            port.untagged_vlan = VlanId::NONE;
        }
        self.events.push(Event::PortAllocated(p));
    }

    /// The spanning tree's decision for `port` on `vlan`: discarding (blocked) or forwarding.
    /// Only an active member can be blocked (a decision about a port that left since is
    /// ignored).
    pub fn set_discarding(&mut self, vlan: VlanId, port: PortId, discarding: bool) {
        let active = self.port(port).is_some_and(Port::is_active);
        let trunk = self.trunks.contains(port);
        if let Some(v) = self.vlans.get_mut(vlan.index()).and_then(Option::as_mut) {
            if discarding {
                if active && (v.has_member(port) || trunk) {
                    v.discarding.insert(port);
                }
            } else {
                v.discarding.remove(port);
            }
        }
    }

    /// Whether the spanning tree blocked `port` on `vlan`.
    pub fn is_discarding(&self, vlan: VlanId, port: PortId) -> bool {
        self.vlan(vlan).is_some_and(|v| v.discarding.contains(port))
    }

    /// A port that goes inactive is blocked nowhere; the spanning tree decides again when it
    /// comes back.
    fn unblock_everywhere(&mut self, p: PortId) {
        for v in self.vlans.iter_mut().flatten() {
            v.discarding.remove(p);
        }
    }

    /// Remove every entry of `vlan` (a topology change of the spanning tree).
    pub fn flush_vlan(&mut self, vlan: VlanId) {
        let mut gone = std::mem::take(&mut self.scratch);
        self.macs.remove_where(|v, _| v == vlan, &mut gone);
        self.report_forgotten(&mut gone);
        self.scratch = gone;
    }

    fn forget_port(&mut self, p: PortId) {
        let mut gone = std::mem::take(&mut self.scratch);
        self.macs.remove_where(|_, port| port == p, &mut gone);
        self.report_forgotten(&mut gone);
        self.scratch = gone;
    }

    /// Remove the entries of port `p` on `vlan` only.
    fn forget_port_on(&mut self, p: PortId, vlan: VlanId) {
        let mut gone = std::mem::take(&mut self.scratch);
        self.macs
            .remove_where(|v, port| port == p && v == vlan, &mut gone);
        self.report_forgotten(&mut gone);
        self.scratch = gone;
    }

    /// `hash/setsize`: new bucket count, table flushed.
    pub fn set_hash_buckets(&mut self, n: usize) {
        let mut gone = std::mem::take(&mut self.scratch);
        self.macs.set_buckets(n, &mut gone);
        self.report_forgotten(&mut gone);
        self.scratch = gone;
    }

    /// Flush the whole MAC table.
    pub fn flush_all(&mut self) {
        let mut gone = std::mem::take(&mut self.scratch);
        self.macs.remove_where(|_, _| true, &mut gone);
        self.report_forgotten(&mut gone);
        self.scratch = gone;
    }

    fn report_forgotten(&mut self, gone: &mut Vec<Forgotten>) {
        self.events
            .extend(gone.drain(..).map(|(mac, vlan, port)| Event::MacForgotten {
                mac,
                vlan,
                port,
            }));
    }

    // ---------------------------------------------------------- configuration

    fn check_port(&self, p: PortId) -> Result<(), FabricError> {
        if p.index() < self.ports.len() {
            Ok(())
        } else {
            Err(FabricError::Invalid)
        }
    }

    /// `port/create N`: an inactive, not allocatable port. As in the
    /// reference, N = 0 means "any" (port 0 only comes from REQ_NEW_PORT0).
    pub fn create_port(&mut self, p: PortId) -> Result<(), FabricError> {
        if p.0 == 0 {
            return self.create_port_auto().map(|_| ());
        }
        self.check_port(p)?;
        if self.ports[p.index()].is_some() {
            return Err(FabricError::Exists);
        }
        self.alloc_port(p, false);
        Ok(())
    }

    /// `port/createauto` (and `port/create 0`): the port automatic allocation
    /// would give, made not allocatable.
    pub fn create_port_auto(&mut self) -> Result<PortId, FabricError> {
        let p = self.free_port().ok_or(FabricError::NoSpace)?;
        match self.ports[p.index()].as_mut() {
            Some(port) => port.allocatable = false,
            None => self.alloc_port(p, false),
        }
        Ok(p)
    }

    /// `port/remove N`.
    pub fn remove_port(&mut self, p: PortId) -> Result<(), FabricError> {
        self.check_port(p)?;
        match &self.ports[p.index()] {
            None => return Err(FabricError::NoSuchDevice),
            Some(port) if port.is_active() => return Err(FabricError::InUse),
            Some(_) => {}
        }
        self.ports[p.index()] = None;
        self.trunks.remove(p);
        for v in self.vlans.iter_mut().flatten() {
            v.untagged.remove(p);
            v.tagged.remove(p);
            v.discarding.remove(p);
        }
        Ok(())
    }

    /// `port/setnumports N` (1..=[`MAX_PORTS`]).
    pub fn set_numports(&mut self, n: usize) -> Result<(), FabricError> {
        if n == 0 || n > MAX_PORTS {
            return Err(FabricError::Invalid);
        }
        if self.ports.iter().skip(n).any(Option::is_some) {
            return Err(FabricError::InUse);
        }
        self.ports.resize(n, None);
        Ok(())
    }

    /// `port/allocatable N 0/1`.
    pub fn set_allocatable(&mut self, p: PortId, yes: bool) -> Result<(), FabricError> {
        self.check_port(p)?;
        let port = self.port_mut(p).ok_or(FabricError::NoSuchDevice)?;
        port.allocatable = yes;
        Ok(())
    }

    /// `port/setuser N USER` and `port/setgroup N GROUP`: who may attach to the port.
    pub fn set_acl(&mut self, p: PortId, user: Acl, group: Acl) -> Result<(), FabricError> {
        let port = self.port_mut(p).ok_or(FabricError::NoSuchDevice)?;
        if let Acl::Set(u) = user {
            port.acl_user = u;
        }
        if let Acl::Set(g) = group {
            port.acl_group = g;
        }
        Ok(())
    }

    /// `port/resetcounter [N]`: zero the counters of one port, or of all.
    pub fn reset_counters(&mut self, p: Option<PortId>) {
        for (i, port) in self.ports.iter_mut().enumerate() {
            if let Some(port) = port {
                if p.is_none_or(|p| p.index() == i) {
                    port.counters.reset();
                }
            }
        }
    }

    /// `port/setvlan N VLAN`: move the port's untagged membership.
    pub fn set_port_vlan(&mut self, p: PortId, vlan: VlanId) -> Result<(), FabricError> {
        self.check_port(p)?;
        if vlan != VlanId::NONE && self.vlan(vlan).is_none() {
            return Err(FabricError::NoSuchDevice);
        }
        let port = self.port(p).ok_or(FabricError::NoSuchDevice)?;
        let old = port.untagged_vlan;
        // The port's entries on the VLAN it leaves are invalid, nothing else (the reference
        // removes all of the port's entries and flushes both VLANs of an active port).
        if old != VlanId::NONE {
            self.forget_port_on(p, old);
        }
        // Membership of a VLAN is one bit in the reference: leaving the old
        // untagged VLAN ends any tagged membership of it too, and the new one
        // replaces a tagged membership.
        if old != VlanId::NONE {
            if let Some(v) = self.vlans[old.index()].as_mut() {
                v.untagged.remove(p);
                v.tagged.remove(p);
                v.discarding.remove(p);
            }
        }
        if vlan != VlanId::NONE {
            if let Some(v) = self.vlans[vlan.index()].as_mut() {
                v.untagged.insert(p);
                v.tagged.remove(p);
            }
        }
        if let Some(port) = self.port_mut(p) {
            port.untagged_vlan = vlan;
        }
        Ok(())
    }

    /// `vlan/create N` (1..=4093).
    pub fn vlan_create(&mut self, v: VlanId) -> Result<(), FabricError> {
        if !(1..=4093).contains(&v.get()) {
            return Err(FabricError::Invalid);
        }
        let slot = &mut self.vlans[v.index()];
        if slot.is_some() {
            return Err(FabricError::Exists);
        }
        *slot = Some(Vlan::default());
        Ok(())
    }

    /// `vlan/remove N`. VLAN 0 is never removed: the reference allows it and
    /// then crashes on the next port allocation.
    pub fn vlan_remove(&mut self, v: VlanId) -> Result<(), FabricError> {
        if v.get() > 4094 {
            return Err(FabricError::Invalid);
        }
        let vlan = self.vlan(v).ok_or(FabricError::NoSuchDevice)?;
        if !vlan.is_empty() || v == VlanId::DEFAULT {
            return Err(FabricError::InUse);
        }
        self.vlans[v.index()] = None;
        // Only trunks (members of every VLAN) can have learned on it.
        self.flush_vlan(v);
        Ok(())
    }

    fn check_vlan_port(&self, v: VlanId, p: PortId) -> Result<(), FabricError> {
        if v.get() > 4093 {
            return Err(FabricError::Invalid);
        }
        self.check_port(p)?;
        if self.vlan(v).is_none() || self.port(p).is_none() {
            return Err(FabricError::NoSuchDevice);
        }
        Ok(())
    }

    /// `vlan/addport VLAN PORT`: the port carries the VLAN tagged.
    pub fn vlan_addport(&mut self, v: VlanId, p: PortId) -> Result<(), FabricError> {
        self.check_vlan_port(v, p)?;
        // Adding a member again is a success, as in the reference; a port
        // already carrying the VLAN untagged stays untagged.
        // Nothing learned is invalidated (the reference flushes the VLAN of an active port).
        let vlan = self.vlans[v.index()].as_mut().expect("checked");
        if !vlan.untagged.contains(p) {
            vlan.tagged.insert(p);
        }
        Ok(())
    }

    /// Whether port `p` is a trunk (`port/settrunk`): a tagged member of every VLAN.
    pub fn is_trunk(&self, p: PortId) -> bool {
        self.trunks.contains(p)
    }

    /// `vlan/delport VLAN PORT`.
    /// `port/settrunk N 1|0` (ours): the port carries every VLAN tagged (but its own
    /// untagged one), including VLANs never created. A change forgets what was learned on it.
    pub fn set_trunk(&mut self, p: PortId, on: bool) -> Result<(), FabricError> {
        self.check_port(p)?;
        let port = self.port_mut(p).ok_or(FabricError::NoSuchDevice)?;
        if port.trunk == on {
            return Ok(());
        }
        port.trunk = on;
        if on {
            self.trunks.insert(p);
        } else {
            self.trunks.remove(p);
            // Blocked only where it still is a member; the spanning tree hears of the rest.
            for v in self.vlans.iter_mut().flatten() {
                if !v.has_member(p) {
                    v.discarding.remove(p);
                }
            }
        }
        self.forget_port(p);
        Ok(())
    }

    pub fn vlan_delport(&mut self, v: VlanId, p: PortId) -> Result<(), FabricError> {
        self.check_vlan_port(v, p)?;
        if self.port(p).is_some_and(|port| port.untagged_vlan == v) {
            return Err(FabricError::InUse);
        }
        let vlan = self.vlans[v.index()].as_mut().expect("checked");
        if !vlan.tagged.contains(p) {
            return Err(FabricError::NoSuchDevice);
        }
        vlan.tagged.remove(p);
        vlan.discarding.remove(p);
        // Only the port's entries on this VLAN are invalid (the reference flushes the VLAN,
        // then every entry of the port).
        self.forget_port_on(p, v);
        Ok(())
    }
}

/// One half of a port ACL change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acl {
    /// Leave it as it is.
    Keep,
    /// Set it (`None`: no restriction).
    Set(Option<u32>),
}

#[cfg(test)]
mod tests;
