//! `port/*` commands.

use std::fmt::Write;

use super::CmdResult;
use crate::cnum::{atoi, scan_ints};
use crate::fabric::{FabricError, Port, PortId};
use crate::server::Server;

fn err(e: FabricError) -> i32 {
    e.errno()
}

pub fn showinfo(s: &mut Server, _: &str, out: &mut String) -> CmdResult {
    let _ = writeln!(out, "Numports={}", s.fabric.numports());
    let _ = writeln!(out, "HUB={}", s.fabric.hub());
    out.push_str("counters=true\n");
    Ok(())
}

pub fn setnumports(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    s.fabric.set_numports(atoi(args)).map_err(err)
}

pub fn sethub(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    s.fabric.set_hub(atoi(args) != 0);
    Ok(())
}

pub fn setvlan(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    s.fabric.set_port_vlan(v[0], v[1]).map_err(err)
}

pub fn createauto(s: &mut Server, _: &str, out: &mut String) -> CmdResult {
    let p = s.fabric.create_port_auto().map_err(err)?;
    let _ = writeln!(out, "Port {p:04}");
    Ok(())
}

fn port_arg(s: &Server, args: &str) -> Result<usize, i32> {
    let n = atoi(args);
    if n < 0 || n as usize >= s.fabric.numports() {
        return Err(libc::EINVAL);
    }
    Ok(n as usize)
}

pub fn create(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let p = port_arg(s, args)?;
    s.fabric.create_port(p).map_err(err)
}

pub fn remove(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let p = port_arg(s, args)?;
    s.fabric.remove_port(p).map_err(err)
}

pub fn allocatable(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    if v[0] < 0 || v[0] as usize >= s.fabric.numports() {
        return Err(libc::EINVAL);
    }
    s.fabric
        .set_allocatable(v[0] as usize, v[1] != 0)
        .map_err(err)
}

pub fn epclose(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    if v[0] < 0 || v[0] as usize >= s.fabric.numports() {
        return Err(libc::EINVAL);
    }
    let (p, id) = (v[0] as usize, v[1]);
    let known = s
        .fabric
        .port(p)
        .is_some_and(|port| port.endpoints.iter().any(|e| i64::from(e.id) == id));
    if !known {
        // The reference runs its port-close path anyway, which announces an
        // inactive port as closed again (`port/-`) before failing.
        if s.fabric.port(p).is_some_and(|port| !port.is_active()) {
            s.fabric
                .events
                .push(crate::fabric::Event::PortDeactivated(p));
        }
        return Err(libc::ENXIO);
    }
    if s.conns.contains_key(&(id as i32)) {
        s.close_conn(id as i32);
    } else {
        s.close_endpoint(p, id as u32);
    }
    Ok(())
}

pub fn resetcounter(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    if args.is_empty() {
        let ids: Vec<PortId> = s.fabric.ports().map(|(i, _)| i).collect();
        for i in ids {
            if let Some(p) = s.fabric.port_mut(i) {
                p.counters.reset();
            }
        }
        return Ok(());
    }
    let p = port_arg(s, args)?;
    if let Some(port) = s.fabric.port_mut(p) {
        port.counters.reset();
    }
    Ok(())
}

/// Name of a uid for display: user name, else the number, else NONE.
pub fn user_name(uid: Option<u32>) -> String {
    match uid {
        None => "NONE".into(),
        Some(u) => crate::sys::users::user_name(u).unwrap_or_else(|| u.to_string()),
    }
}

/// Name of a gid for display.
pub fn group_name(gid: Option<u32>) -> String {
    match gid {
        None => "NONE".into(),
        Some(g) => crate::sys::users::group_name(g).unwrap_or_else(|| g.to_string()),
    }
}

fn print_port(out: &mut String, i: PortId, p: &Port) {
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
        " Current User: {} Access Control: (User: {} - Group: {})",
        user_name(p.current_user),
        user_name(p.acl_user),
        group_name(p.acl_group)
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
            e.id,
            e.kind.module_name(),
            descr
        );
    }
}

/// The ports `port/print [N]` (or `allprint` when `all`) shows.
pub(super) fn selected_ports<'a>(
    s: &'a Server,
    args: &str,
    all: bool,
) -> Result<Vec<(PortId, &'a Port)>, i32> {
    let shown = |p: &Port| all || p.is_active();
    if args.is_empty() {
        return Ok(s.fabric.ports().filter(|(_, p)| shown(p)).collect());
    }
    let n = port_arg(s, args)?;
    match s.fabric.port(n) {
        Some(p) if shown(p) => Ok(vec![(n, p)]),
        _ => Err(libc::ENXIO),
    }
}

fn print_ports(s: &Server, args: &str, out: &mut String, all: bool) -> CmdResult {
    for (i, p) in selected_ports(s, args, all)? {
        print_port(out, i, p);
    }
    Ok(())
}

pub fn print(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    print_ports(s, args, out, false)
}

pub fn allprint(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    print_ports(s, args, out, true)
}

/// The ports `port/stats [N]` shows: all allocated, or N.
pub(super) fn stats_ports<'a>(s: &'a Server, args: &str) -> Result<Vec<(PortId, &'a Port)>, i32> {
    if args.is_empty() {
        return Ok(s.fabric.ports().collect());
    }
    let n = port_arg(s, args)?;
    s.fabric.port(n).map(|p| vec![(n, p)]).ok_or(libc::ENXIO)
}

/// Our extension: where frames were lost, per allocated port.
pub fn stats(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    for (i, p) in stats_ports(s, args)? {
        let c = &p.counters;
        let _ = writeln!(
            out,
            "Port {:04} runts {} oversize {} vlan_drops {} send_drops {} unlearned {}",
            i, c.runts, c.oversize, c.vlan_drops, c.send_drops, c.unlearned
        );
    }
    Ok(())
}

/// A user or group argument: a name, a number, or NONE/ANY (no restriction).
fn id_arg(text: &str, lookup: fn(&str) -> Option<u32>) -> Result<Option<u32>, i32> {
    let text = text.trim();
    match text {
        "" => Err(libc::EINVAL),
        "NONE" | "ANY" => Ok(None),
        _ => {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(u32::try_from(n).ok());
            }
            lookup(text).map(Some).ok_or(libc::EINVAL)
        }
    }
}

fn uid_by_name(name: &str) -> Option<u32> {
    crate::sys::users::uid_by_name(name.as_bytes())
}

fn gid_by_name(name: &str) -> Option<u32> {
    crate::sys::users::gid_by_name(name.as_bytes())
}

/// Split `N rest` for setuser/setgroup.
fn port_and_rest<'a>(s: &Server, args: &'a str) -> Result<(usize, &'a str), i32> {
    let (num, rest) = args.split_once([' ', '\t']).unwrap_or((args, ""));
    if num.is_empty() {
        return Err(libc::EINVAL);
    }
    let p = port_arg(s, num)?;
    Ok((p, rest))
}

pub fn setuser(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let (p, rest) = port_and_rest(s, args)?;
    let uid = id_arg(rest, uid_by_name)?;
    let port = s.fabric.port_mut(p).ok_or(libc::ENXIO)?;
    port.acl_user = uid;
    Ok(())
}

pub fn setgroup(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let (p, rest) = port_and_rest(s, args)?;
    let gid = id_arg(rest, gid_by_name)?;
    let port = s.fabric.port_mut(p).ok_or(libc::ENXIO)?;
    port.acl_group = gid;
    Ok(())
}
