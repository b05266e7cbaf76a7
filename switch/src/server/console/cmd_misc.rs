//! Global, data-socket and MAC table commands.

use std::fmt::Write;

use super::{CmdResult, Origin, BANNER, TABLE};
use crate::cnum::atoi;
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
    let _ = writeln!(
        out,
        "\npid {} MAC {} uptime {}",
        std::process::id(),
        s.mac,
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

/// `load PATH`: run a script, echoing each line before its output. Lines
/// are handled as the reference reads them: only a newline of a line longer
/// than one character is removed, so an empty line is the command "\n"
/// (answered 1038), and `logout`/`shutdown` inside a script do nothing.
pub fn load(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    let origin = s.origin;
    if !matches!(origin, Origin::Session(_)) {
        return Err(libc::EBADF);
    }
    let text = std::fs::read(args).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let text = String::from_utf8_lossy(&text);
    for raw in text.split_inclusive('\n') {
        let line = if raw.len() > 1 {
            raw.strip_suffix('\n').unwrap_or(raw)
        } else {
            raw
        };
        out.push_str(&format!("vde[{args}]: {line}\n"));
        if line == "\n" {
            out.push_str(&format!(
                "1{:03} {}\n",
                libc::ENOSYS,
                super::strerror(libc::ENOSYS)
            ));
            continue;
        }
        let mut answer = String::new();
        let outcome = s.execute(line, &mut answer);
        if outcome == super::Outcome::Continue {
            out.push_str(&answer);
        }
        // execute() may have run a nested load from another origin; restore ours.
        s.origin = origin;
    }
    Ok(())
}

pub fn hash_find(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    let mut words = args.split_whitespace();
    let mac = words
        .next()
        .and_then(vde_protocol::MacAddr::scan)
        .ok_or(libc::EINVAL)?;
    let vlan = words.next().map_or(0, atoi) as u16;
    let e = *s.fabric.macs.get(mac, vlan).ok_or(libc::ENODEV)?;
    // The reference prints the port plus one here; kept for byte-compatibility.
    let _ = writeln!(
        out,
        "Hash: {:04} Addr: {} VLAN {:04} to port: {:03}  age {} secs",
        s.fabric.macs.bucket_of(mac, vlan),
        mac,
        vlan,
        e.port + 1,
        s.uptime() as i64 - e.last_seen as i64
    );
    Ok(())
}
