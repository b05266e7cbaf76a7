//! `port/*` commands.

use std::fmt::Write;

use serde_json::{json, Value};

use super::view::View;
use super::{CmdResult, Ctx, Effect};
use crate::cnum::{atoi, scan_ints};
use crate::fabric::{Acl, FabricError, Port, PortId};

fn err(e: FabricError) -> i32 {
    e.errno()
}

/// `port/showinfo`.
struct PortInfo {
    numports: usize,
    hub: bool,
}

impl View for PortInfo {
    fn text(&self, out: &mut String) {
        let _ = writeln!(out, "Numports={}", self.numports);
        let _ = writeln!(out, "HUB={}", self.hub);
        out.push_str("counters=true\n");
    }

    fn json(&self) -> Value {
        json!({ "numports": self.numports, "hub": self.hub, "counters": true })
    }
}

pub fn showinfo(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(PortInfo {
        numports: cx.fabric.numports(),
        hub: cx.fabric.hub(),
    }))
}

pub fn setnumports(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let n = usize::try_from(atoi(args)).map_err(|_| libc::EINVAL)?;
    cx.fabric.set_numports(n).map_err(err)
}

pub fn sethub(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    cx.fabric.set_hub(atoi(args) != 0);
    Ok(())
}

/// `port/settrunk N 1|0` (ours): the port carries every VLAN tagged, even VLANs never created.
pub fn settrunk(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let (p, rest) = port_and_rest(cx, args)?;
    let on = match rest.trim() {
        "1" => true,
        "0" => false,
        _ => return Err(libc::EINVAL),
    };
    cx.fabric.set_trunk(p, on).map_err(err)
}

/// A port argument: a number below `numports`, else EINVAL.
fn port_number(cx: &Ctx<'_>, n: i64) -> Result<PortId, i32> {
    PortId::from_arg(n)
        .filter(|p| p.index() < cx.fabric.numports())
        .ok_or(libc::EINVAL)
}

fn port_arg(cx: &Ctx<'_>, args: &str) -> Result<PortId, i32> {
    port_number(cx, atoi(args))
}

pub fn setvlan(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    let p = port_number(cx, v[0])?;
    let vlan = crate::fabric::VlanId::from_arg(v[1]).ok_or(libc::EINVAL)?;
    cx.fabric.set_port_vlan(p, vlan).map_err(err)
}

/// `port/createauto`: the port it created.
struct Created(PortId);

impl View for Created {
    fn text(&self, out: &mut String) {
        let _ = writeln!(out, "Port {:04}", self.0);
    }

    fn json(&self) -> Value {
        json!({ "port": self.0 .0 })
    }
}

pub fn createauto(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    let p = cx.fabric.create_port_auto().map_err(err)?;
    Ok(Box::new(Created(p)))
}

pub fn create(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let p = port_arg(cx, args)?;
    cx.fabric.create_port(p).map_err(err)
}

pub fn remove(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let p = port_arg(cx, args)?;
    cx.fabric.remove_port(p).map_err(err)
}

pub fn allocatable(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    let p = port_number(cx, v[0])?;
    cx.fabric.set_allocatable(p, v[1] != 0).map_err(err)
}

pub fn epclose(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    let p = port_number(cx, v[0])?;
    let known = cx
        .fabric
        .port(p)
        .and_then(|port| port.endpoints.iter().find(|e| i64::from(e.id) == v[1]))
        .map(|e| e.id);
    let Some(id) = known else {
        cx.fabric.announce_if_inactive(p);
        return Err(libc::ENXIO);
    };
    cx.effect(Effect::CloseEndpoint { port: p, id });
    Ok(())
}

pub fn resetcounter(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let which = if args.is_empty() {
        None
    } else {
        Some(port_arg(cx, args)?)
    };
    cx.fabric.reset_counters(which);
    Ok(())
}

/// Name of a uid for display: user name, else the number, else NONE.
fn user_name(uid: Option<u32>) -> String {
    match uid {
        None => "NONE".into(),
        Some(u) => crate::sys::users::user_name(u).unwrap_or_else(|| u.to_string()),
    }
}

/// Name of a gid for display.
fn group_name(gid: Option<u32>) -> String {
    match gid {
        None => "NONE".into(),
        Some(g) => crate::sys::users::group_name(g).unwrap_or_else(|| g.to_string()),
    }
}

/// The ports a listing shows, with the names of their users looked up once.
struct PortRows(Vec<(PortId, Port, [String; 3])>);

impl PortRows {
    fn of(ports: Vec<(PortId, &Port)>) -> PortRows {
        PortRows(
            ports
                .into_iter()
                .map(|(i, p)| {
                    let names = [
                        user_name(p.current_user),
                        user_name(p.acl_user),
                        group_name(p.acl_group),
                    ];
                    (i, p.clone(), names)
                })
                .collect(),
        )
    }

    fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .0
            .iter()
            .map(|(i, p, [current, user, group])| {
                let c = &p.counters;
                json!({
                    "port": i.0,
                    "untagged_vlan": p.untagged_vlan.get(),
                    "active": p.is_active(),
                    "allocatable": p.allocatable,
                    "current_user": current,
                    "acl_user": user,
                    "acl_group": group,
                    "in": { "pkts": c.in_pkts, "bytes": c.in_bytes },
                    "out": { "pkts": c.out_pkts, "bytes": c.out_bytes },
                    "drops": {
                        "runts": c.runts, "oversize": c.oversize, "vlan": c.vlan_drops,
                        "send": c.send_drops, "unlearned": c.unlearned,
                    },
                    "endpoints": p.endpoints.iter().map(|e| json!({
                        "id": e.id, "module": e.module, "description": e.description,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "ports": rows })
    }
}

/// `port/print [N]`, `port/allprint [N]`.
struct PortPrint(PortRows);

impl View for PortPrint {
    fn text(&self, out: &mut String) {
        for (i, p, [current, user, group]) in &self.0 .0 {
            let _ = writeln!(
                out,
                "Port {:04} untagged_vlan={:04} {} - {}Unnamed Allocatable",
                i,
                p.untagged_vlan,
                if p.is_active() { "ACTIVE" } else { "INACTIVE" },
                if p.allocatable { "" } else { "NOT " }
            );
            let _ = writeln!(
                out,
                " Current User: {current} Access Control: (User: {user} - Group: {group})"
            );
            let c = &p.counters;
            let _ = writeln!(
                out,
                " IN:  pkts {:10}          bytes {:20}",
                c.in_pkts, c.in_bytes
            );
            let _ = writeln!(
                out,
                " OUT: pkts {:10}          bytes {:20}",
                c.out_pkts, c.out_bytes
            );
            for e in &p.endpoints {
                let descr = if e.description.is_empty() {
                    "no endpoint description"
                } else {
                    &e.description
                };
                let _ = writeln!(
                    out,
                    "  -- endpoint ID {:04} module {:<12}: {}",
                    e.id, e.module, descr
                );
            }
        }
    }

    fn json(&self) -> Value {
        self.0.json()
    }
}

/// The ports `port/print [N]` (or `allprint` when `all`) shows.
fn print_ports(cx: &mut Ctx<'_>, args: &str, all: bool) -> Result<Box<dyn View>, i32> {
    let shown = |p: &Port| all || p.is_active();
    let ports = if args.is_empty() {
        cx.fabric.ports().filter(|(_, p)| shown(p)).collect()
    } else {
        let n = port_arg(cx, args)?;
        match cx.fabric.port(n) {
            Some(p) if shown(p) => vec![(n, p)],
            _ => return Err(libc::ENXIO),
        }
    };
    Ok(Box::new(PortPrint(PortRows::of(ports))))
}

pub fn print(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    print_ports(cx, args, false)
}

pub fn allprint(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    print_ports(cx, args, true)
}

/// `port/stats [N]` (our extension): where frames were lost, per allocated port.
struct PortStats(PortRows);

impl View for PortStats {
    fn text(&self, out: &mut String) {
        for (i, p, _) in &self.0 .0 {
            let c = &p.counters;
            let _ = writeln!(
                out,
                "Port {:04} runts {} oversize {} vlan_drops {} send_drops {} unlearned {}",
                i, c.runts, c.oversize, c.vlan_drops, c.send_drops, c.unlearned
            );
        }
    }

    fn json(&self) -> Value {
        self.0.json()
    }
}

pub fn stats(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let ports = if args.is_empty() {
        cx.fabric.ports().collect()
    } else {
        let n = port_arg(cx, args)?;
        vec![(n, cx.fabric.port(n).ok_or(libc::ENXIO)?)]
    };
    Ok(Box::new(PortStats(PortRows::of(ports))))
}

/// A user or group argument: a name, a number, or NONE/ANY (no restriction).
fn id_arg(text: &str, lookup: fn(&[u8]) -> Option<u32>) -> Result<Option<u32>, i32> {
    let text = text.trim();
    match text {
        "" => Err(libc::EINVAL),
        "NONE" | "ANY" => Ok(None),
        _ => {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(u32::try_from(n).ok());
            }
            lookup(text.as_bytes()).map(Some).ok_or(libc::EINVAL)
        }
    }
}

/// Split `N rest` for setuser/setgroup.
fn port_and_rest<'a>(cx: &Ctx<'_>, args: &'a str) -> Result<(PortId, &'a str), i32> {
    let (num, rest) = args.split_once([' ', '\t']).unwrap_or((args, ""));
    if num.is_empty() {
        return Err(libc::EINVAL);
    }
    Ok((port_arg(cx, num)?, rest))
}

pub fn setuser(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let (p, rest) = port_and_rest(cx, args)?;
    let uid = id_arg(rest, crate::sys::users::uid_by_name)?;
    cx.fabric.set_acl(p, Acl::Set(uid), Acl::Keep).map_err(err)
}

pub fn setgroup(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let (p, rest) = port_and_rest(cx, args)?;
    let gid = id_arg(rest, crate::sys::users::gid_by_name)?;
    cx.fabric.set_acl(p, Acl::Keep, Acl::Set(gid)).map_err(err)
}
