//! `vlan/*` commands.

use std::fmt::Write;

use super::parse::{atoi, scan_ints};
use super::CmdResult;
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

fn print_vlan(s: &Server, out: &mut String, id: u16, v: &Vlan, all: bool) {
    let _ = writeln!(out, "VLAN {id:04}");
    // The reference hides member lines in hub mode.
    if s.fabric.hub() {
        return;
    }
    let mut members: Vec<(usize, bool)> = v
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
    members.sort();
    for (p, tagged) in members {
        let active = s.fabric.port(p).is_some_and(|p| p.is_active());
        if !all && !active {
            continue;
        }
        let _ = writeln!(
            out,
            " -- Port {:04} tagged={} active={} status={}",
            p,
            u8::from(tagged),
            u8::from(active),
            if active { "Forwarding" } else { "Learning" }
        );
    }
}

fn print_vlans(s: &Server, args: &str, out: &mut String, all: bool, min: i64) -> CmdResult {
    if args.is_empty() {
        for (id, v) in s.fabric.vlans() {
            print_vlan(s, out, id, v, all);
        }
        return Ok(());
    }
    let n = atoi(args);
    if !(min..=4093).contains(&n) {
        return Err(libc::EINVAL);
    }
    let v = s.fabric.vlan(n as u16).ok_or(libc::ENXIO)?;
    print_vlan(s, out, n as u16, v, all);
    Ok(())
}

pub fn print(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    print_vlans(s, args, out, false, 0)
}

/// The reference refuses an explicit VLAN 0 here (it checks 1..4093).
pub fn allprint(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    print_vlans(s, args, out, true, 1)
}
