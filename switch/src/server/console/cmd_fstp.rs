//! `fstp/*`: the fast spanning tree is not implemented; these commands
//! answer as the reference does with FSTP off, and refuse to turn it on.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use serde_json::{json, Value};
use vde_protocol::MacAddr;

use super::view::View;
use super::{CmdResult, Ctx};
use crate::cnum::{atoi, scan_ints};
use crate::fabric::{PortId, VlanId};

/// What `fstp/setedge` and `fstp/bonus` recorded, shown by `fstp/print`.
#[derive(Debug, Default)]
pub struct FstpSettings {
    pub edges: HashSet<(VlanId, PortId)>,
    /// Per VLAN: the bonus port and its cost.
    pub bonus: HashMap<VlanId, (PortId, i64)>,
    /// Tick each VLAN was created at (its FSTP root age counts from there).
    pub born: HashMap<VlanId, u64>,
}

/// `fstp/showinfo`.
struct FstpInfo {
    mac: MacAddr,
    priority: u16,
}

impl View for FstpInfo {
    fn text(&self, out: &mut String) {
        let p = self.priority;
        let _ = writeln!(out, "MAC {} Priority {p} (0x{p:x})", self.mac);
        out.push_str("FSTP=false\n");
    }

    fn json(&self) -> Value {
        json!({ "mac": self.mac.to_string(), "priority": self.priority, "fstp": false })
    }
}

pub fn showinfo(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(FstpInfo {
        mac: cx.info.mac,
        priority: cx.info.priority,
    }))
}

/// `fstp/setfstp 0/1`: in hub mode only a message; turning FSTP on is refused.
struct SetFstp {
    hub: bool,
}

impl SetFstp {
    fn message(&self) -> &'static str {
        if self.hub {
            "Can't use fstp in hub mode"
        } else {
            ""
        }
    }
}

impl View for SetFstp {
    fn text(&self, out: &mut String) {
        if self.hub {
            out.push_str(self.message());
            out.push('\n');
        }
    }

    fn json(&self) -> Value {
        json!({ "fstp": false, "message": self.message() })
    }
}

pub fn setfstp(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let hub = cx.fabric.hub();
    if !hub && atoi(args) != 0 {
        crate::log_warn!(
            "fstp/setfstp 1: the fast spanning tree protocol is not implemented by this switch"
        );
        return Err(libc::ENOSYS);
    }
    Ok(Box::new(SetFstp { hub }))
}

/// Check `VLAN PORT X` arguments the way the reference does.
fn vlan_port_value(cx: &Ctx<'_>, args: &str) -> Result<(VlanId, PortId, i64), i32> {
    let v = scan_ints(args, 3).ok_or(libc::EINVAL)?;
    let vlan = VlanId::from_arg(v[0])
        .filter(|v| v.get() <= 4094)
        .ok_or(libc::EINVAL)?;
    let port = PortId::from_arg(v[1])
        .filter(|p| p.index() < cx.fabric.numports())
        .ok_or(libc::EINVAL)?;
    if cx.fabric.vlan(vlan).is_none() {
        return Err(libc::ENXIO);
    }
    Ok((vlan, port, v[2]))
}

pub fn setedge(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let (vlan, port, yes) = vlan_port_value(cx, args)?;
    if yes != 0 {
        cx.fstp.edges.insert((vlan, port));
    } else {
        cx.fstp.edges.remove(&(vlan, port));
    }
    Ok(())
}

pub fn bonus(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let (vlan, port, cost) = vlan_port_value(cx, args)?;
    cx.fstp.bonus.insert(vlan, (port, cost));
    Ok(())
}

/// One VLAN of `fstp/print`.
struct FstVlan {
    id: VlanId,
    age: u64,
    bonus: (PortId, i64),
    /// Active untagged members and whether each is an edge port.
    untagged: Vec<(PortId, bool)>,
    /// Active tagged members.
    tagged: Vec<PortId>,
}

/// `fstp/print [N]`.
struct FstpPrint {
    mac: MacAddr,
    priority: u16,
    vlans: Vec<FstVlan>,
}

impl View for FstpPrint {
    fn text(&self, out: &mut String) {
        let (m, prio) = (self.mac.0, self.priority);
        for v in &self.vlans {
            let _ = writeln!(out, "FST DATA VLAN {:04} ROOTSWITCH FSTP IS DISABLED", v.id);
            let _ = writeln!(
                out,
                " ++ root {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                prio >> 8,
                prio & 0xff,
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                m[5]
            );
            out.push_str(" ++ designated ff:ff:ff:ff:ff:ff:ff:ff\n");
            let _ = writeln!(
                out,
                " ++ rootport 0000 cost 0 age {} bonusport {:04} bonuscost {}",
                v.age, v.bonus.0, v.bonus.1
            );
            for (p, edge) in &v.untagged {
                let role = if *edge { "Edge" } else { "Designated" };
                let _ = writeln!(
                    out,
                    " -- Port {p:04} tagged=0 portcost=20000000 role={role}"
                );
            }
            // The reference prints "Unknown" for every tagged port (it tests the
            // untagged bitmap twice); kept for byte-compatibility.
            for p in &v.tagged {
                let _ = writeln!(
                    out,
                    " -- Port {p:04} tagged=1 portcost=20000000 role=Unknown"
                );
            }
        }
    }

    fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .vlans
            .iter()
            .map(|v| {
                let mut active: Vec<u16> = v
                    .untagged
                    .iter()
                    .map(|(p, _)| p.0)
                    .chain(v.tagged.iter().map(|p| p.0))
                    .collect();
                active.sort_unstable();
                json!({ "vlan": v.id.get(), "fstp": false, "root": true, "active_ports": active })
            })
            .collect();
        json!({ "vlans": rows })
    }
}

pub fn print(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let ids: Vec<VlanId> = if args.is_empty() {
        cx.fabric.vlans().map(|(id, _)| id).collect()
    } else {
        let n = atoi(args);
        let id = VlanId::from_arg(n)
            .filter(|v| v.get() <= 4093)
            .ok_or(libc::EINVAL)?;
        cx.fabric.vlan(id).ok_or(libc::ENXIO)?;
        vec![id]
    };
    let f = &*cx.fabric;
    let active = |p: &PortId| f.port(*p).is_some_and(|p| p.is_active());
    let vlans = ids
        .into_iter()
        .filter_map(|id| Some((id, f.vlan(id)?)))
        .map(|(id, v)| FstVlan {
            id,
            age: cx
                .uptime
                .saturating_sub(cx.fstp.born.get(&id).copied().unwrap_or(0)),
            bonus: cx.fstp.bonus.get(&id).copied().unwrap_or((PortId(0), 0)),
            untagged: v
                .untagged
                .iter()
                .filter(active)
                .map(|p| (p, cx.fstp.edges.contains(&(id, p))))
                .collect(),
            tagged: v
                .tagged
                .iter()
                .filter(active)
                .filter(|&p| !v.untagged.contains(p))
                .collect(),
        })
        .collect();
    Ok(Box::new(FstpPrint {
        mac: cx.info.mac,
        priority: cx.info.priority,
        vlans,
    }))
}
