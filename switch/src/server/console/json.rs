//! `json CMD [ARGS]`: the data of a data command as one JSON document inside
//! the usual `0000 DATA END WITH '.'` block, for GUIs and scripts. The text
//! output of every command stays byte-identical to the reference's.

use serde_json::{json, Value};

use super::cmd_debug::CATEGORIES;
use super::cmd_port::{group_name, selected_ports, stats_ports, user_name};
use super::cmd_vlan::{members, selected_vlans};
use super::{Origin, TABLE};
use crate::fabric::Port;
use crate::server::Server;

type Renderer = fn(&mut Server, &str) -> Result<Value, i32>;

/// Data commands and their JSON renderers, by command path.
const RENDERERS: &[(&str, Renderer)] = &[
    ("ds/showinfo", ds_showinfo),
    ("help", help),
    ("showinfo", showinfo),
    ("debug/list", debug_list),
    ("plugin/list", |_, _| Ok(json!({ "plugins": [] }))),
    ("hash/showinfo", hash_showinfo),
    ("hash/print", hash_print),
    ("hash/find", hash_find),
    ("fstp/showinfo", fstp_showinfo),
    ("fstp/print", fstp_print),
    ("fstp/setfstp", fstp_setfstp),
    ("port/showinfo", port_showinfo),
    ("port/createauto", port_createauto),
    ("port/print", |s, a| ports(s, a, false)),
    ("port/allprint", |s, a| ports(s, a, true)),
    ("port/stats", port_stats),
    ("vlan/print", |s, a| vlans(s, a, false, 0)),
    ("vlan/allprint", |s, a| vlans(s, a, true, 1)),
];

/// The renderer for a command line, found with the console's prefix rule.
pub fn renderer_for(line: &str) -> Option<(&'static str, Renderer)> {
    let spec = TABLE
        .iter()
        .find(|c| !matches!(c.action, super::Action::Menu) && line.starts_with(c.path))?;
    RENDERERS.iter().find(|(p, _)| *p == spec.path).copied()
}

/// Whether every data command of the table has a renderer (checked by a test).
pub fn covers_all_data_commands() -> Vec<&'static str> {
    TABLE
        .iter()
        .filter(|c| c.data && c.path != "json" && !RENDERERS.iter().any(|(p, _)| *p == c.path))
        .map(|c| c.path)
        .collect()
}

pub fn run(s: &mut Server, args: &str, out: &mut String) -> super::CmdResult {
    let line = args.trim_start_matches([' ', '\t']);
    let (path, render) = renderer_for(line).ok_or(libc::EINVAL)?;
    let rest = line[path.len()..].trim_start_matches([' ', '\t']);
    let value = render(s, rest)?;
    out.push_str(&value.to_string());
    out.push('\n');
    Ok(())
}

fn mac_str(m: vde_protocol::MacAddr) -> String {
    m.to_string()
}

fn ds_showinfo(s: &mut Server, _: &str) -> Result<Value, i32> {
    Ok(json!({ "ctl_dir": s.dir.display().to_string(), "mode": format!("{:04o}", s.modes.ctl) }))
}

fn help(_: &mut Server, args: &str) -> Result<Value, i32> {
    let rows: Vec<Value> = TABLE
        .iter()
        .filter(|c| c.path.starts_with(args))
        .map(|c| {
            json!({
                "path": c.path,
                "syntax": c.syntax,
                "help": c.help,
                "menu": matches!(c.action, super::Action::Menu),
            })
        })
        .collect();
    Ok(json!({ "commands": rows }))
}

fn showinfo(s: &mut Server, _: &str) -> Result<Value, i32> {
    Ok(json!({
        "version": "2.3.2",
        "pid": std::process::id(),
        "mac": mac_str(s.mac),
        "uptime": s.uptime(),
        "mgmt": s.cfg.mgmt.as_ref().map(|p| p.display().to_string()),
        "mgmt_mode": s.cfg.mgmt.as_ref().map(|_| format!("{:04o}", s.cfg.mgmtmode)),
    }))
}

fn debug_list(s: &mut Server, args: &str) -> Result<Value, i32> {
    let subs = match s.origin {
        Origin::Session(fd) => s.sessions.get(&fd).map_or(0, |x| x.debug),
        _ => 0,
    };
    let rows: Vec<Value> = CATEGORIES
        .iter()
        .enumerate()
        .filter(|(_, c)| c.path.starts_with(args))
        .map(|(i, c)| {
            json!({ "category": c.path, "tag": c.tag, "on": subs & (1 << i) != 0, "help": c.help })
        })
        .collect();
    if rows.is_empty() {
        return Err(libc::ENOENT);
    }
    Ok(json!({ "categories": rows }))
}

fn hash_showinfo(s: &mut Server, _: &str) -> Result<Value, i32> {
    let t = &s.fabric.macs;
    Ok(json!({
        "size": t.buckets,
        "gc_interval": t.timers.gc_interval,
        "expire": t.timers.expire,
        "min_persistence": t.timers.min_persistence,
        "entries": t.len(),
        "capacity": t.capacity(),
        "unlearned": s.fabric.unlearned_total,
    }))
}

fn entry(s: &Server, mac: vde_protocol::MacAddr, vlan: u16, port: usize, seen: u64) -> Value {
    json!({
        "mac": mac.to_string(),
        "vlan": vlan,
        "port": port,
        "age": s.uptime() as i64 - seen as i64,
    })
}

fn hash_print(s: &mut Server, _: &str) -> Result<Value, i32> {
    let rows: Vec<Value> = s
        .fabric
        .macs
        .entries_in_print_order()
        .into_iter()
        .map(|(_, mac, vlan, e)| entry(s, mac, vlan, e.port, e.last_seen))
        .collect();
    Ok(json!({ "entries": rows }))
}

fn hash_find(s: &mut Server, args: &str) -> Result<Value, i32> {
    let mut words = args.split_whitespace();
    let mac: vde_protocol::MacAddr = words
        .next()
        .and_then(|w| w.parse().ok())
        .ok_or(libc::EINVAL)?;
    let vlan = words.next().map_or(0, crate::cnum::atoi) as u16;
    let e = *s.fabric.macs.get(mac, vlan).ok_or(libc::ENODEV)?;
    // The real port (the text form keeps the reference's port+1).
    Ok(entry(s, mac, vlan, e.port, e.last_seen))
}

fn fstp_showinfo(s: &mut Server, _: &str) -> Result<Value, i32> {
    Ok(json!({ "mac": mac_str(s.mac), "priority": s.cfg.priority, "fstp": false }))
}

fn fstp_setfstp(s: &mut Server, args: &str) -> Result<Value, i32> {
    let mut text = String::new();
    super::cmd_fstp::setfstp(s, args, &mut text)?;
    Ok(json!({ "fstp": false, "message": text.trim_end() }))
}

fn fstp_print(s: &mut Server, args: &str) -> Result<Value, i32> {
    let rows: Vec<Value> = selected_vlans(s, args, 0)?
        .into_iter()
        .map(|(id, v)| {
            let active: Vec<usize> = members(s, v, false).into_iter().map(|m| m.port).collect();
            json!({ "vlan": id, "fstp": false, "root": true, "active_ports": active })
        })
        .collect();
    Ok(json!({ "vlans": rows }))
}

fn port_showinfo(s: &mut Server, _: &str) -> Result<Value, i32> {
    Ok(json!({ "numports": s.fabric.numports(), "hub": s.fabric.hub(), "counters": true }))
}

fn port_createauto(s: &mut Server, _: &str) -> Result<Value, i32> {
    let p = s.fabric.create_port_auto().map_err(|e| e.errno())?;
    Ok(json!({ "port": p }))
}

fn port_json(i: usize, p: &Port) -> Value {
    let c = &p.counters;
    json!({
        "port": i,
        "untagged_vlan": p.untagged_vlan,
        "active": p.is_active(),
        "allocatable": p.allocatable,
        "current_user": user_name(p.current_user),
        "acl_user": user_name(p.acl_user),
        "acl_group": group_name(p.acl_group),
        "in": { "pkts": c.in_pkts, "bytes": c.in_bytes },
        "out": { "pkts": c.out_pkts, "bytes": c.out_bytes },
        "drops": {
            "runts": c.runts, "oversize": c.oversize, "vlan": c.vlan_drops,
            "send": c.send_drops, "unlearned": c.unlearned,
        },
        "endpoints": p.endpoints.iter().map(|e| json!({
            "id": e.id, "module": e.kind.module_name(), "description": e.description,
        })).collect::<Vec<_>>(),
    })
}

fn ports(s: &mut Server, args: &str, all: bool) -> Result<Value, i32> {
    let rows: Vec<Value> = selected_ports(s, args, all)?
        .into_iter()
        .map(|(i, p)| port_json(i, p))
        .collect();
    Ok(json!({ "ports": rows }))
}

fn port_stats(s: &mut Server, args: &str) -> Result<Value, i32> {
    let rows: Vec<Value> = stats_ports(s, args)?
        .into_iter()
        .map(|(i, p)| port_json(i, p))
        .collect();
    Ok(json!({ "ports": rows }))
}

fn vlans(s: &mut Server, args: &str, all: bool, min: i64) -> Result<Value, i32> {
    let rows: Vec<Value> = selected_vlans(s, args, min)?
        .into_iter()
        .map(|(id, v)| {
            let ms: Vec<Value> = members(s, v, all)
                .into_iter()
                .map(|m| json!({ "port": m.port, "tagged": m.tagged, "active": m.active }))
                .collect();
            json!({ "vlan": id, "ports": ms })
        })
        .collect();
    Ok(json!({ "vlans": rows }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_data_command_has_a_json_form() {
        assert_eq!(super::covers_all_data_commands(), Vec::<&str>::new());
    }
}
