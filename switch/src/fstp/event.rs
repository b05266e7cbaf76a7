//! Debug events of the spanning tree, with the texts vde_switch 2.3.2 prints for its `fstp/*`
//! debug categories (a console line is `3TTT CATEGORY TEXT`).

use std::fmt;

use vde_protocol::BridgeId;

use super::PortState;
use crate::fabric::PortId;

/// Something subscribers of the `fstp/*` debug categories are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// `fstp/status`: a port's state on a VLAN was set (also when it already had that state).
    Status {
        port: PortId,
        vlan: u16,
        state: PortState,
    },
    /// `fstp/root`: a new root bridge, heard on `port`; port 0 when the switch makes itself the
    /// root (VLAN created, root lost, FSTP turned off).
    Root {
        port: PortId,
        vlan: u16,
        root: BridgeId,
    },
    /// `fstp/+`: the first BPDU after a silence was received on the port.
    Active { port: PortId, vlan: u16 },
    /// `fstp/-`: the port stopped receiving BPDUs, or left the VLAN after receiving some.
    Inactive { port: PortId, vlan: u16 },
}

impl Event {
    /// The debug category (`debug/add` path) the event belongs to.
    pub fn category(&self) -> &'static str {
        match self {
            Event::Status { .. } => "fstp/status",
            Event::Root { .. } => "fstp/root",
            Event::Active { .. } => "fstp/+",
            Event::Inactive { .. } => "fstp/-",
        }
    }
}

/// `Port 0001 VLAN 00:00 ...`: the VLAN as two hex bytes, high byte first.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (port, vlan) = match *self {
            Event::Status { port, vlan, .. }
            | Event::Root { port, vlan, .. }
            | Event::Active { port, vlan }
            | Event::Inactive { port, vlan } => (port, vlan),
        };
        write!(
            f,
            "Port {port:04} VLAN {:02x}:{:02x}",
            vlan >> 8,
            vlan & 0xff
        )?;
        match self {
            Event::Status { state, .. } => write!(f, " {}", state.event_name()),
            Event::Root { root, .. } => write!(f, " -> {root}"),
            Event::Active { .. } | Event::Inactive { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vde_protocol::MacAddr;

    #[test]
    fn texts_as_the_reference_prints_them() {
        let root = BridgeId::new(0x8000, MacAddr([2, 0, 0, 0, 0, 0x0a]));
        let cases = [
            (
                Event::Status {
                    port: PortId(2),
                    vlan: 0,
                    state: PortState::Discarding,
                },
                "fstp/status",
                "Port 0002 VLAN 00:00 discarding",
            ),
            (
                Event::Status {
                    port: PortId(1),
                    vlan: 300,
                    state: PortState::Forwarding,
                },
                "fstp/status",
                "Port 0001 VLAN 01:2c learning+forwarding",
            ),
            (
                Event::Root {
                    port: PortId(1),
                    vlan: 0,
                    root,
                },
                "fstp/root",
                "Port 0001 VLAN 00:00 -> 80:00:02:00:00:00:00:0a",
            ),
            (
                Event::Active {
                    port: PortId(12),
                    vlan: 10,
                },
                "fstp/+",
                "Port 0012 VLAN 00:0a",
            ),
            (
                Event::Inactive {
                    port: PortId(1),
                    vlan: 0,
                },
                "fstp/-",
                "Port 0001 VLAN 00:00",
            ),
        ];
        for (ev, cat, text) in cases {
            assert_eq!(ev.category(), cat);
            assert_eq!(ev.to_string(), text);
        }
    }
}
