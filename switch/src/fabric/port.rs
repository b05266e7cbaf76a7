//! Ports and their endpoints.

use super::counters::PortCounters;

/// Port index; 0 is the management port, auto allocation starts at 1.
pub type PortId = usize;

/// Stable identifier of an endpoint, chosen by the event loop (unique while
/// the endpoint lives).
pub type EndpointId = u32;

/// The untagged VLAN value meaning "no untagged traffic".
pub const NO_VLAN: u16 = 4095;

/// What kind of client an endpoint is; printed by `port/print`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// A process connected through the control socket.
    UnixProg,
    /// A tap interface.
    Tuntap,
}

impl EndpointKind {
    pub fn module_name(self) -> &'static str {
        match self {
            EndpointKind::UnixProg => "unix prog",
            EndpointKind::Tuntap => "tuntap",
        }
    }
}

/// One attached client of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub kind: EndpointKind,
    pub description: String,
}

/// Who a client is, as far as port access control goes. `uid == None` is the
/// reference's "NONE" user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Option<u32>,
    pub gids: Vec<u32>,
}

/// State of one allocated port. It survives its last endpoint (as in the
/// reference): counters, VLANs and ACL carry over to the next client.
#[derive(Debug, Clone)]
pub struct Port {
    /// Newest first, as `port/print` lists them.
    pub endpoints: Vec<Endpoint>,
    pub untagged_vlan: u16,
    pub acl_user: Option<u32>,
    pub acl_group: Option<u32>,
    pub current_user: Option<u32>,
    /// Whether auto allocation may hand this port out when inactive.
    pub allocatable: bool,
    pub counters: PortCounters,
}

impl Port {
    pub fn new(allocatable: bool) -> Port {
        Port {
            endpoints: Vec::new(),
            untagged_vlan: 0,
            acl_user: None,
            acl_group: None,
            current_user: None,
            allocatable,
            counters: PortCounters::default(),
        }
    }

    pub fn is_active(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// The reference's ACL: unrestricted, root, the ACL user, or a member of the ACL group.
    pub fn admits(&self, who: &Credentials) -> bool {
        if self.acl_user.is_none() && self.acl_group.is_none() {
            return true;
        }
        match who.uid {
            Some(0) => true,
            Some(uid) if Some(uid) == self.acl_user => true,
            _ => self.acl_group.is_some_and(|g| who.gids.contains(&g)),
        }
    }
}
