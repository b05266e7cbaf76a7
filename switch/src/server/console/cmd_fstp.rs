//! `fstp/*`: the fast spanning tree ([`crate::fstp`]) as the console sees it. Every command
//! first brings the tree up to date with the fabric (VLANs, active members), so a command
//! right after `vlan/create` or `vlan/addport` sees them; what the tree decides is carried out
//! by the loop ([`crate::server::fstp`]).

use serde_json::{json, Value};

use super::view::View;
use super::{CmdResult, Ctx};
use crate::cnum::{atoi, scan_ints};
use crate::fabric::{PortId, VlanId};
use crate::fstp::{PortState, VlanView};

/// `fstp/showinfo`.
struct FstpInfo {
    text: String,
    mac: String,
    priority: u16,
    enabled: bool,
}

impl View for FstpInfo {
    fn text(&self, out: &mut String) {
        out.push_str(&self.text);
    }

    fn json(&self) -> Value {
        json!({ "mac": self.mac, "priority": self.priority, "fstp": self.enabled })
    }
}

pub fn showinfo(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    cx.fstp.sync(cx.fabric, cx.uptime);
    let tree = &cx.fstp.tree;
    let mut text = String::new();
    tree.showinfo(&mut text);
    Ok(Box::new(FstpInfo {
        text,
        mac: tree.mac().to_string(),
        priority: tree.priority(),
        enabled: tree.enabled(),
    }))
}

/// `fstp/setfstp 0/1`: in hub mode only a message.
struct SetFstp {
    hub: bool,
    enabled: bool,
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
        json!({ "fstp": self.enabled, "message": self.message() })
    }
}

pub fn setfstp(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let hub = cx.fabric.hub();
    cx.fstp.sync(cx.fabric, cx.uptime);
    if !hub {
        let ctl = &mut *cx.fstp;
        ctl.tree
            .set_enabled(atoi(args) != 0, cx.uptime, &mut ctl.pending);
    }
    Ok(Box::new(SetFstp {
        hub,
        enabled: cx.fstp.tree.enabled(),
    }))
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
    cx.fstp.sync(cx.fabric, cx.uptime);
    let ctl = &mut *cx.fstp;
    ctl.tree
        .set_edge(vlan.get(), port, yes != 0, &mut ctl.pending)
        .map_err(|_| libc::ENXIO)
}

pub fn bonus(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let (vlan, port, cost) = vlan_port_value(cx, args)?;
    cx.fstp.sync(cx.fabric, cx.uptime);
    // The reference reads the cost with %i into an int.
    cx.fstp
        .tree
        .set_bonus(vlan.get(), port, cost as i32)
        .map_err(|_| libc::ENXIO)
}

/// `fstp/print [N]`.
struct FstpPrint(Vec<VlanView>);

impl View for FstpPrint {
    fn text(&self, out: &mut String) {
        for v in &self.0 {
            v.render(out);
        }
    }

    fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .0
            .iter()
            .map(|v| {
                let members: Vec<Value> = v
                    .members
                    .iter()
                    .map(|m| {
                        json!({
                            "port": m.port.0,
                            "tagged": m.tagged,
                            "cost": m.cost,
                            "role": m.role.name(),
                            "forwarding": m.state == PortState::Forwarding,
                        })
                    })
                    .collect();
                json!({
                    "vlan": v.vlan,
                    "fstp": v.enabled,
                    "root": v.root_switch,
                    "root_id": v.root.to_string(),
                    "designated": v.designated.to_string(),
                    "root_port": v.root_port.0,
                    "root_cost": v.root_cost,
                    "age": v.age,
                    "bonus_port": v.bonus_port.0,
                    "bonus_cost": v.bonus_cost,
                    "ports": members,
                })
            })
            .collect();
        json!({ "vlans": rows })
    }
}

pub fn print(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    cx.fstp.sync(cx.fabric, cx.uptime);
    let tree = &cx.fstp.tree;
    let ids: Vec<u16> = if args.is_empty() {
        tree.vlans().collect()
    } else {
        let n = atoi(args);
        let id = VlanId::from_arg(n)
            .filter(|v| v.get() <= 4093)
            .ok_or(libc::EINVAL)?;
        cx.fabric.vlan(id).ok_or(libc::ENXIO)?;
        vec![id.get()]
    };
    let views = ids
        .into_iter()
        .filter_map(|id| tree.view(id, cx.uptime))
        .collect();
    Ok(Box::new(FstpPrint(views)))
}
