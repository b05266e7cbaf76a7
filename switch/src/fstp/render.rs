//! What `fstp/showinfo` and `fstp/print` show, as data ([`VlanView`]) and as the exact text of
//! vde_switch 2.3.2. The console parses the arguments and picks the VLANs; everything printed
//! comes from here.

use std::fmt::Write;

use vde_protocol::BridgeId;

use super::{Fstp, PortState, PORT_COST};
use crate::fabric::PortId;

/// A port's role in a VLAN's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `fstp/setedge`: no spanning tree on this port.
    Edge,
    /// The port towards the root.
    Root,
    /// Blocked: the segment has a better way to the root.
    AlternateBackup,
    /// Forwarding towards bridges further from the root (or hosts).
    Designated,
}

impl Role {
    /// As `fstp/print` names it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Edge => "Edge",
            Role::Root => "Root",
            Role::AlternateBackup => "Alternate/Backup",
            Role::Designated => "Designated",
        }
    }
}

/// One member port of a VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberView {
    pub port: PortId,
    pub tagged: bool,
    pub cost: u32,
    pub role: Role,
    pub state: PortState,
}

/// The tree of one VLAN, as `fstp/print` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanView {
    pub vlan: u16,
    /// This switch is the root.
    pub root_switch: bool,
    pub enabled: bool,
    pub root: BridgeId,
    pub designated: BridgeId,
    /// 0 when this switch is the root.
    pub root_port: PortId,
    pub root_cost: u32,
    /// Seconds since the root was last heard of (since start while this switch is the root).
    pub age: i64,
    pub bonus_port: PortId,
    pub bonus_cost: i32,
    /// Untagged members ascending, then tagged members ascending.
    pub members: Vec<MemberView>,
}

impl VlanView {
    /// The `fstp/print` block of this VLAN, each line ending in `\n`.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "FST DATA VLAN {:04} {} {}",
            self.vlan,
            if self.root_switch { "ROOTSWITCH" } else { "" },
            if self.enabled { "" } else { "FSTP IS DISABLED" }
        );
        let _ = writeln!(out, " ++ root {}", self.root);
        let _ = writeln!(out, " ++ designated {}", self.designated);
        // vde_switch prints the cost with %d.
        let _ = writeln!(
            out,
            " ++ rootport {:04} cost {} age {} bonusport {:04} bonuscost {}",
            self.root_port, self.root_cost as i32, self.age, self.bonus_port, self.bonus_cost
        );
        for m in &self.members {
            // vde_switch names the role of every tagged port "Unknown" (it tests the untagged
            // set twice); kept so the text is the same.
            let role = if m.tagged { "Unknown" } else { m.role.name() };
            let _ = writeln!(
                out,
                " -- Port {:04} tagged={} portcost={} role={}",
                m.port,
                u8::from(m.tagged),
                m.cost as i32,
                role
            );
        }
    }
}

impl Fstp {
    /// The role of a member port, `None` if `port` does not carry `vlan`.
    pub fn role(&self, vlan: u16, port: PortId) -> Option<Role> {
        let t = self.vlans.get(&vlan)?;
        if !t.is_member(port) {
            return None;
        }
        Some(if t.edge.contains(port) {
            Role::Edge
        } else if t.root_port == port {
            // Port 0 shows as root port while this switch is the root (vde_switch's encoding).
            Role::Root
        } else if t.backup.contains(port) {
            Role::AlternateBackup
        } else {
            Role::Designated
        })
    }

    /// The tree of `vlan` at time `now`, `None` if the VLAN is not defined.
    pub fn view(&self, vlan: u16, now: u64) -> Option<VlanView> {
        let t = self.vlans.get(&vlan)?;
        let members = t
            .untagged
            .iter()
            .map(|p| (p, false))
            .chain(t.tagged.iter().map(|p| (p, true)))
            .map(|(port, tagged)| MemberView {
                port,
                tagged,
                cost: PORT_COST,
                role: self.role(vlan, port).expect("a member has a role"),
                state: t.state(port),
            })
            .collect();
        Some(VlanView {
            vlan,
            root_switch: t.root == self.me.id,
            enabled: self.me.enabled,
            root: t.root,
            designated: t.designated,
            root_port: t.root_port,
            root_cost: t.root_cost,
            age: now as i64 - t.root_heard as i64,
            bonus_port: t.bonus_port,
            bonus_cost: t.bonus_cost,
            members,
        })
    }

    /// `fstp/print N`: false if the VLAN is not defined (the console answers ENXIO).
    pub fn print_vlan(&self, vlan: u16, now: u64, out: &mut String) -> bool {
        match self.view(vlan, now) {
            Some(v) => {
                v.render(out);
                true
            }
            None => false,
        }
    }

    /// `fstp/print`: every VLAN, ascending.
    pub fn print_all(&self, now: u64, out: &mut String) {
        for vlan in self.vlans() {
            self.print_vlan(vlan, now, out);
        }
    }

    /// `fstp/showinfo`.
    pub fn showinfo(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "MAC {} Priority {} (0x{:x})",
            self.me.mac, self.priority, self.priority
        );
        let _ = writeln!(out, "FSTP={}", self.me.enabled);
    }
}
