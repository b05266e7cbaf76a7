//! `vlan/*` commands.

use std::fmt::Write;

use super::CmdResult;
use crate::cnum::{atoi, scan_ints};
use crate::fabric::Vlan;
use crate::server::Server;

pub fn create(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let n = atoi(args);
    s.fabric.vlan_create(n).map_err(|e| e.errno())?;
    let now = s.uptime();
    s.fstp.born.insert(n as u16, now);
    Ok(())
}

pub fn remove(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    s.fabric.vlan_remove(atoi(args)).map_err(|e| e.errno())
}

pub fn addport(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    s.fabric.vlan_addport(v[0], v[1]).map_err(|e| e.errno())
}

pub fn delport(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let v = scan_ints(args, 2).ok_or(libc::EINVAL)?;
    s.fabric.vlan_delport(v[0], v[1]).map_err(|e| e.errno())
}

/// One member line of `vlan/print`: port, tagged, active.
pub(super) struct Member {
    pub port: usize,
    pub tagged: bool,
    pub active: bool,
}

/// Members `vlan/print` (or `allprint` when `all`) lists, ascending. The
/// reference's `vlan/print` hides them in hub mode (`allprint` does not).
pub(super) fn members(s: &Server, v: &Vlan, all: bool) -> Vec<Member> {
    if s.fabric.hub() && !all {
        return Vec::new();
    }
    let mut list: Vec<(usize, bool)> = v
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
    list.into_iter()
        .map(|(port, tagged)| Member {
            port,
            tagged,
            active: s.fabric.port(port).is_some_and(|p| p.is_active()),
        })
        .filter(|m| all || m.active)
        .collect()
}

/// The VLANs `vlan/print [N]` shows; `min` is the lowest explicit id accepted.
pub(super) fn selected_vlans<'a>(
    s: &'a Server,
    args: &str,
    min: i64,
) -> Result<Vec<(u16, &'a Vlan)>, i32> {
    if args.is_empty() {
        return Ok(s.fabric.vlans().collect());
    }
    let n = atoi(args);
    if !(min..=4093).contains(&n) {
        return Err(libc::EINVAL);
    }
    let v = s.fabric.vlan(n as u16).ok_or(libc::ENXIO)?;
    Ok(vec![(n as u16, v)])
}

fn print_vlans(s: &Server, args: &str, out: &mut String, all: bool, min: i64) -> CmdResult {
    for (id, v) in selected_vlans(s, args, min)? {
        let _ = writeln!(out, "VLAN {id:04}");
        for m in members(s, v, all) {
            let _ = writeln!(
                out,
                " -- Port {:04} tagged={} active={} status={}",
                m.port,
                u8::from(m.tagged),
                u8::from(m.active),
                if m.active { "Forwarding" } else { "Learning" }
            );
        }
    }
    Ok(())
}

pub fn print(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    print_vlans(s, args, out, false, 0)
}

/// The reference refuses an explicit VLAN 0 here (it checks 1..4093).
pub fn allprint(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    print_vlans(s, args, out, true, 1)
}
