//! `fstp/*`: the fast spanning tree is not implemented; these commands
//! answer as the reference does with FSTP off, and refuse to turn it on.

use std::fmt::Write;

use super::CmdResult;
use crate::cnum::scan_ints;
use crate::server::Server;

pub fn showinfo(s: &mut Server, _: &str, out: &mut String) -> CmdResult {
    let _ = writeln!(
        out,
        "MAC {} Priority {} (0x{:x})",
        s.mac, s.cfg.priority, s.cfg.priority
    );
    out.push_str("FSTP=false\n");
    Ok(())
}

pub fn setfstp(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    if s.fabric.hub() {
        out.push_str("Can't use fstp in hub mode\n");
        return Ok(());
    }
    if crate::cnum::atoi(args) != 0 {
        crate::log_warn!(
            "fstp/setfstp 1: the fast spanning tree protocol is not implemented by this switch"
        );
        return Err(libc::ENOSYS);
    }
    Ok(())
}

/// Check `VLAN PORT X` arguments the way the reference does.
fn vlan_port_value(s: &Server, args: &str) -> Result<(u16, usize, i64), i32> {
    let v = scan_ints(args, 3).ok_or(libc::EINVAL)?;
    if !(0..=4094).contains(&v[0]) || v[1] < 0 || v[1] as usize >= s.fabric.numports() {
        return Err(libc::EINVAL);
    }
    if s.fabric.vlan(v[0] as u16).is_none() {
        return Err(libc::ENXIO);
    }
    Ok((v[0] as u16, v[1] as usize, v[2]))
}

pub fn setedge(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let (vlan, port, yes) = vlan_port_value(s, args)?;
    if yes != 0 {
        s.fstp.edges.insert((vlan, port));
    } else {
        s.fstp.edges.remove(&(vlan, port));
    }
    Ok(())
}

pub fn bonus(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let (vlan, port, cost) = vlan_port_value(s, args)?;
    s.fstp.bonus.insert(vlan, (port, cost));
    Ok(())
}

fn print_one(s: &Server, out: &mut String, id: u16, v: &crate::fabric::Vlan) {
    let m = s.mac.0;
    let prio = s.cfg.priority;
    let _ = writeln!(out, "FST DATA VLAN {id:04} ROOTSWITCH FSTP IS DISABLED");
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
    let (bport, bcost) = s.fstp.bonus.get(&id).copied().unwrap_or((0, 0));
    let created = s.fstp.born.get(&id).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        " ++ rootport 0000 cost 0 age {} bonusport {:04} bonuscost {}",
        s.uptime().saturating_sub(created),
        bport,
        bcost
    );
    let active = |p: &usize| s.fabric.port(*p).is_some_and(|p| p.is_active());
    for p in v.untagged.iter().filter(active) {
        let role = if s.fstp.edges.contains(&(id, p)) {
            "Edge"
        } else {
            "Designated"
        };
        let _ = writeln!(
            out,
            " -- Port {p:04} tagged=0 portcost=20000000 role={role}"
        );
    }
    // The reference prints "Unknown" for every tagged port (it tests the
    // untagged bitmap twice); kept for byte-compatibility.
    for p in v
        .tagged
        .iter()
        .filter(active)
        .filter(|&p| !v.untagged.contains(p))
    {
        let _ = writeln!(
            out,
            " -- Port {p:04} tagged=1 portcost=20000000 role=Unknown"
        );
    }
}

pub fn print(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    if args.is_empty() {
        for (id, v) in s.fabric.vlans() {
            print_one(s, out, id, v);
        }
        return Ok(());
    }
    let n = crate::cnum::atoi(args);
    if !(0..=4093).contains(&n) {
        return Err(libc::EINVAL);
    }
    let v = s.fabric.vlan(n as u16).ok_or(libc::ENXIO)?;
    print_one(s, out, n as u16, v);
    Ok(())
}

/// What `fstp/setedge` and `fstp/bonus` recorded, shown by `fstp/print`.
#[derive(Debug, Default)]
pub struct FstpSettings {
    pub edges: std::collections::HashSet<(u16, usize)>,
    pub bonus: std::collections::HashMap<u16, (usize, i64)>,
    /// Tick each VLAN was created at (its FSTP root age counts from there).
    pub born: std::collections::HashMap<u16, u64>,
}
