//! `vlan/*` commands.

use std::fmt::Write;

use serde_json::{json, Value};

use super::view::View;
use super::{CmdResult, Ctx};
use crate::cnum::{atoi, scan_ints};
use crate::fabric::{PortId, VlanId};

fn vlan_arg(n: i64) -> Result<VlanId, i32> {
    VlanId::from_arg(n).ok_or(libc::EINVAL)
}

fn port_arg(n: i64) -> Result<PortId, i32> {
    PortId::from_arg(n).ok_or(libc::EINVAL)
}

pub fn create(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let v = vlan_arg(atoi(args))?;
    cx.fabric.vlan_create(v).map_err(|e| e.errno())
}

pub fn remove(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let v = vlan_arg(atoi(args))?;
    cx.fabric.vlan_remove(v).map_err(|e| e.errno())
}

pub fn addport(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    let (vlan, port) = (vlan_arg(v[0])?, port_arg(v[1])?);
    cx.fabric.vlan_addport(vlan, port).map_err(|e| e.errno())
}

pub fn delport(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    let (vlan, port) = (vlan_arg(v[0])?, port_arg(v[1])?);
    cx.fabric.vlan_delport(vlan, port).map_err(|e| e.errno())
}

/// One member line of `vlan/print`.
struct Member {
    port: PortId,
    tagged: bool,
    active: bool,
    /// Blocked by the spanning tree.
    discarding: bool,
}

/// `vlan/print [N]`, `vlan/allprint [N]`: VLANs and their members, ascending.
struct VlanPrint(Vec<(VlanId, Vec<Member>)>);

impl View for VlanPrint {
    fn text(&self, out: &mut String) {
        for (id, members) in &self.0 {
            let _ = writeln!(out, "VLAN {id:04}");
            for m in members {
                let _ = writeln!(
                    out,
                    " -- Port {:04} tagged={} active={} status={}",
                    m.port,
                    u8::from(m.tagged),
                    u8::from(m.active),
                    match (m.active, m.discarding) {
                        (false, _) => "Learning",
                        (true, true) => "Discarding",
                        (true, false) => "Forwarding",
                    }
                );
            }
        }
    }

    fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .0
            .iter()
            .map(|(id, members)| {
                let ms: Vec<Value> = members
                    .iter()
                    .map(|m| json!({ "port": m.port.0, "tagged": m.tagged, "active": m.active, "discarding": m.discarding }))
                    .collect();
                json!({ "vlan": id.get(), "ports": ms })
            })
            .collect();
        json!({ "vlans": rows })
    }
}

/// `all` lists inactive members too; `min` is the lowest explicit id accepted. The
/// reference's `vlan/print` hides the members in hub mode (`allprint` does not).
fn print_vlans(cx: &Ctx<'_>, args: &str, all: bool, min: i64) -> Result<Box<dyn View>, i32> {
    let f = &*cx.fabric;
    let vlans: Vec<_> = if args.is_empty() {
        f.vlans().collect()
    } else {
        let n = atoi(args);
        if !(min..=4093).contains(&n) {
            return Err(libc::EINVAL);
        }
        let id = vlan_arg(n)?;
        vec![(id, f.vlan(id).ok_or(libc::ENXIO)?)]
    };
    let rows = vlans
        .into_iter()
        .map(|(id, v)| {
            if f.hub() && !all {
                return (id, Vec::new());
            }
            let mut list: Vec<(PortId, bool)> = v
                .untagged
                .iter()
                .map(|p| (p, false))
                // A port tagged on its own untagged VLAN is listed once, untagged.
                .chain(
                    v.tagged
                        .iter()
                        .filter(|&p| !v.untagged.contains(p))
                        .map(|p| (p, true)),
                )
                .collect();
            list.sort();
            let members = list
                .into_iter()
                .map(|(port, tagged)| Member {
                    port,
                    tagged,
                    active: f.port(port).is_some_and(|p| p.is_active()),
                    discarding: f.is_discarding(id, port),
                })
                .filter(|m| all || m.active)
                .collect();
            (id, members)
        })
        .collect();
    Ok(Box::new(VlanPrint(rows)))
}

pub fn print(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    print_vlans(cx, args, false, 0)
}

/// The reference refuses an explicit VLAN 0 here (it checks 1..4093).
pub fn allprint(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    print_vlans(cx, args, true, 1)
}
