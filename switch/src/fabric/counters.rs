//! Per-port traffic counters.

/// Counters of one port. `in_*`/`out_*` follow the reference exactly (IN counts
/// every accepted frame, OUT every transmission attempt, after tag changes);
/// the drop counters are ours and say where frames were lost.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PortCounters {
    pub in_pkts: u64,
    pub in_bytes: u64,
    pub out_pkts: u64,
    pub out_bytes: u64,
    /// Received datagrams shorter than an Ethernet header (or a truncated 802.1Q tag).
    pub runts: u64,
    /// Received datagrams longer than the configured maximum frame.
    pub oversize: u64,
    /// Frames refused by VLAN ingress rules (not a member, no untagged VLAN).
    pub vlan_drops: u64,
    /// Frames that could not be handed to an endpoint (its socket was full or gone).
    pub send_drops: u64,
    /// Sources not learned because the MAC table was full.
    pub unlearned: u64,
}

impl PortCounters {
    pub fn reset(&mut self) {
        *self = PortCounters::default();
    }
}
