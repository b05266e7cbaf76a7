//! Ports and their endpoints.

use std::fmt;

use super::counters::PortCounters;
use super::vlan::VlanId;

/// A port number; 0 is the management port, automatic allocation starts at 1. The port table
/// holds at most [`MAX_PORTS`](super::MAX_PORTS) ports, so every index fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PortId(pub u16);

impl PortId {
    /// Position in the port table.
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The port at `index` in a table, if a port number can be that large.
    pub fn from_index(index: usize) -> Option<PortId> {
        u16::try_from(index).ok().map(PortId)
    }

    /// A port number given as a console argument; `None` if no port can have it (the
    /// console's "invalid argument").
    pub fn from_arg(n: i64) -> Option<PortId> {
        u16::try_from(n).ok().map(PortId)
    }
}

/// Prints the number, honouring width and fill (`{:04}` is the reference's `%04d`).
impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Stable identifier of an endpoint, chosen by the port kind that made it (unique while the
/// endpoint lives; the console shows it, and `port/epclose` takes it).
pub type EndpointId = u32;

/// One attached client of a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: EndpointId,
    /// The module column of `port/print` (`unix prog`, `tuntap`): names the port kind.
    pub module: &'static str,
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
    pub untagged_vlan: VlanId,
    pub acl_user: Option<u32>,
    pub acl_group: Option<u32>,
    pub current_user: Option<u32>,
    /// Whether auto allocation may hand this port out when inactive.
    pub allocatable: bool,
    pub counters: PortCounters,
    /// A trunk (`port/settrunk`, ours) carries every VLAN tagged, created or not.
    pub trunk: bool,
}

impl Port {
    pub fn new(allocatable: bool) -> Port {
        Port {
            endpoints: Vec::new(),
            untagged_vlan: VlanId::DEFAULT,
            acl_user: None,
            acl_group: None,
            current_user: None,
            allocatable,
            counters: PortCounters::default(),
            trunk: false,
        }
    }

    pub fn is_active(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// Whether automatic allocation may hand this port out: inactive and allocatable.
    pub fn is_free(&self) -> bool {
        !self.is_active() && self.allocatable
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
