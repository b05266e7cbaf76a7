//! Global, data-socket and MAC table commands.

use std::fmt::Write;

use super::parse::atoi;
use super::{CmdResult, BANNER, TABLE};
use crate::server::Server;

pub fn help(_: &mut Server, args: &str, out: &mut String) -> CmdResult {
    let rows = [
        ("COMMAND PATH", "SYNTAX", "HELP"),
        ("------------", "--------------", "------------"),
    ]
    .into_iter()
    .chain(
        TABLE
            .iter()
            .filter(|c| c.path.starts_with(args))
            .map(|c| (c.path, c.syntax, c.help)),
    );
    for (path, syntax, help) in rows {
        let _ = writeln!(out, "{path:<18} {syntax:<15} {help}");
    }
    Ok(())
}

pub fn showinfo(s: &mut Server, _: &str, out: &mut String) -> CmdResult {
    out.push_str(BANNER);
    let m = s.mac;
    let _ = writeln!(
        out,
        "\npid {} MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} uptime {}",
        std::process::id(),
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        s.uptime()
    );
    if let Some(path) = &s.cfg.mgmt {
        let _ = writeln!(out, "mgmt {} perm {:04o}", path.display(), s.cfg.mgmtmode);
    }
    Ok(())
}

pub fn ds_showinfo(s: &mut Server, _: &str, out: &mut String) -> CmdResult {
    let _ = writeln!(out, "ctl dir {}", s.dir.display());
    let _ = writeln!(out, "std mode {:04o}", s.modes.ctl);
    Ok(())
}

pub fn hash_showinfo(s: &mut Server, _: &str, out: &mut String) -> CmdResult {
    let t = &s.fabric.macs;
    let _ = writeln!(out, "Hash size {}", t.buckets);
    let _ = writeln!(out, "GC interval {} secs", t.timers.gc_interval);
    let _ = writeln!(out, "GC expire {} secs", t.timers.expire);
    let _ = writeln!(out, "Min persistence {} secs", t.timers.min_persistence);
    Ok(())
}

pub fn hash_setsize(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let n = atoi(args);
    if n <= 0 {
        return Err(libc::EINVAL);
    }
    let rounded = (n as usize).next_power_of_two();
    if rounded != n as usize {
        crate::log_info!(
            "Hash size must be a power of 2. {} rounded to {}",
            n,
            rounded
        );
    }
    s.fabric.set_hash_buckets(rounded);
    Ok(())
}

pub fn hash_setgcint(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    s.fabric.macs.timers.gc_interval = atoi(args);
    Ok(())
}

pub fn hash_setexpire(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    s.fabric.macs.timers.expire = atoi(args);
    Ok(())
}

pub fn hash_setminper(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    s.fabric.macs.timers.min_persistence = atoi(args);
    Ok(())
}

pub fn hash_print(s: &mut Server, _: &str, out: &mut String) -> CmdResult {
    let now = s.uptime();
    for (bucket, mac, vlan, e) in s.fabric.macs.entries_in_print_order() {
        let _ = writeln!(
            out,
            "Hash: {:04} Addr: {} VLAN {:04} to port: {:03}  age {} secs",
            bucket,
            mac,
            vlan,
            e.port,
            now as i64 - e.last_seen as i64
        );
    }
    Ok(())
}
