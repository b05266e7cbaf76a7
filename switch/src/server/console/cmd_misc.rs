//! Global, data-socket and MAC table commands.

use std::fmt::Write;

use serde_json::{json, Value};
use vde_protocol::console::BANNER;
use vde_protocol::MacAddr;

use super::view::View;
use super::{Action, CmdResult, Ctx, TABLE};
use crate::cnum::atoi;
use crate::fabric::{MacTimers, PortId, VlanId};

/// `help [PREFIX]`: the table rows whose path starts with the prefix.
struct Help {
    rows: Vec<&'static super::CommandSpec>,
}

impl View for Help {
    fn text(&self, out: &mut String) {
        let header = [
            ("COMMAND PATH", "SYNTAX", "HELP"),
            ("------------", "--------------", "------------"),
        ];
        let rows = self.rows.iter().map(|c| (c.path, c.syntax, c.help));
        for (path, syntax, help) in header.into_iter().chain(rows) {
            let _ = writeln!(out, "{path:<18} {syntax:<15} {help}");
        }
    }

    fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|c| {
                json!({
                    "path": c.path,
                    "syntax": c.syntax,
                    "help": c.help,
                    "menu": matches!(c.action, Action::Menu),
                })
            })
            .collect();
        json!({ "commands": rows })
    }
}

pub fn help(_: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let rows = TABLE.iter().filter(|c| c.path.starts_with(args)).collect();
    Ok(Box::new(Help { rows }))
}

/// `showinfo`: version, pid, MAC, uptime and the management socket.
struct ShowInfo {
    pid: u32,
    mac: MacAddr,
    uptime: u64,
    mgmt: Option<(String, u32)>,
}

impl View for ShowInfo {
    fn text(&self, out: &mut String) {
        out.push_str(BANNER);
        let _ = writeln!(
            out,
            "\npid {} MAC {} uptime {}",
            self.pid, self.mac, self.uptime
        );
        if let Some((path, mode)) = &self.mgmt {
            let _ = writeln!(out, "mgmt {path} perm {mode:04o}");
        }
    }

    fn json(&self) -> Value {
        json!({
            "version": "2.3.2",
            "pid": self.pid,
            "mac": self.mac.to_string(),
            "uptime": self.uptime,
            "mgmt": self.mgmt.as_ref().map(|m| &m.0),
            "mgmt_mode": self.mgmt.as_ref().map(|m| format!("{:04o}", m.1)),
        })
    }
}

pub fn showinfo(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(ShowInfo {
        pid: cx.info.pid,
        mac: cx.info.mac,
        uptime: cx.uptime,
        mgmt: cx
            .info
            .mgmt
            .as_ref()
            .map(|(p, m)| (p.display().to_string(), *m)),
    }))
}

/// `ds/showinfo`: the control directory and the mode of its sockets.
struct DsInfo {
    dir: String,
    mode: u32,
}

impl View for DsInfo {
    fn text(&self, out: &mut String) {
        let _ = writeln!(out, "ctl dir {}", self.dir);
        let _ = writeln!(out, "std mode {:04o}", self.mode);
    }

    fn json(&self) -> Value {
        json!({ "ctl_dir": self.dir, "mode": format!("{:04o}", self.mode) })
    }
}

pub fn ds_showinfo(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(DsInfo {
        dir: cx.info.ctl_dir.display().to_string(),
        mode: cx.info.ctl_mode,
    }))
}

/// `ds/admission` (ours): what fair admission holds now, the most it held, how many it
/// evicted, and its caps.
struct AdmissionInfo(super::Admission);

impl View for AdmissionInfo {
    fn text(&self, out: &mut String) {
        // Stream connections are charged to a peer: a uid, or a TCP address.
        let rows = [
            ("pending handshakes", self.0.handshakes, "user"),
            ("mgmt sessions", self.0.sessions, "user"),
            ("pending stream connections", self.0.streams, "peer"),
        ];
        for (what, s, per) in rows {
            let _ = writeln!(
                out,
                "{what}: {} now, {} at most, {} evicted; caps {} in all, {} per {per}",
                s.now, s.max_seen, s.evicted, s.caps_all, s.caps_per_user
            );
        }
    }

    fn json(&self) -> Value {
        let one = |s: crate::server::admission::Stats| {
            json!({
                "now": s.now,
                "max_seen": s.max_seen,
                "evicted": s.evicted,
                "cap_all": s.caps_all,
                "cap_per_user": s.caps_per_user,
            })
        };
        let streams = self.0.streams;
        json!({
            "pending_handshakes": one(self.0.handshakes),
            "mgmt_sessions": one(self.0.sessions),
            "pending_streams": {
                "now": streams.now,
                "max_seen": streams.max_seen,
                "evicted": streams.evicted,
                "cap_all": streams.caps_all,
                "cap_per_peer": streams.caps_per_user,
            },
        })
    }
}

pub fn ds_admission(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(AdmissionInfo(cx.admission)))
}

/// `hash/showinfo`: size and ageing of the MAC table.
struct HashInfo {
    buckets: usize,
    timers: MacTimers,
    entries: usize,
    capacity: usize,
    unlearned: u64,
}

impl View for HashInfo {
    fn text(&self, out: &mut String) {
        let t = &self.timers;
        let _ = writeln!(out, "Hash size {}", self.buckets);
        let _ = writeln!(out, "GC interval {} secs", t.gc_interval);
        let _ = writeln!(out, "GC expire {} secs", t.expire);
        let _ = writeln!(out, "Min persistence {} secs", t.min_persistence);
    }

    fn json(&self) -> Value {
        let t = &self.timers;
        json!({
            "size": self.buckets,
            "gc_interval": t.gc_interval,
            "expire": t.expire,
            "min_persistence": t.min_persistence,
            "entries": self.entries,
            "capacity": self.capacity,
            "unlearned": self.unlearned,
        })
    }
}

pub fn hash_showinfo(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    let t = cx.fabric.macs();
    Ok(Box::new(HashInfo {
        buckets: t.buckets(),
        timers: t.timers(),
        entries: t.len(),
        capacity: t.capacity(),
        unlearned: cx.fabric.unlearned_total(),
    }))
}

pub fn hash_setsize(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let n = atoi(args);
    if n <= 0 {
        return Err(libc::EINVAL);
    }
    let n = usize::try_from(n).map_err(|_| libc::EINVAL)?;
    // The same cap as --hashsize (the reference takes any int).
    if n > crate::cli::MAX_HASHSIZE {
        return Err(libc::EINVAL);
    }
    let rounded = n.checked_next_power_of_two().ok_or(libc::EINVAL)?;
    if rounded != n {
        crate::log_info!(
            "Hash size must be a power of 2. {} rounded to {}",
            n,
            rounded
        );
    }
    cx.fabric.set_hash_buckets(rounded);
    Ok(())
}

fn set_timers(cx: &mut Ctx<'_>, change: impl FnOnce(&mut MacTimers)) -> CmdResult {
    let mut t = cx.fabric.macs().timers();
    change(&mut t);
    cx.fabric.set_mac_timers(t);
    Ok(())
}

pub fn hash_setgcint(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    set_timers(cx, |t| t.gc_interval = atoi(args))
}

pub fn hash_setexpire(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    set_timers(cx, |t| t.expire = atoi(args))
}

pub fn hash_setminper(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    set_timers(cx, |t| t.min_persistence = atoi(args))
}

/// One MAC table entry as `hash/print` and `hash/find` show it.
struct HashEntry {
    bucket: usize,
    mac: MacAddr,
    vlan: VlanId,
    port: PortId,
    age: i64,
}

impl HashEntry {
    /// `shown_port` is the port the text prints (`hash/find` adds one, as the reference).
    fn text(&self, out: &mut String, shown_port: usize) {
        let _ = writeln!(
            out,
            "Hash: {:04} Addr: {} VLAN {:04} to port: {:03}  age {} secs",
            self.bucket, self.mac, self.vlan, shown_port, self.age
        );
    }

    fn json(&self) -> Value {
        json!({
            "mac": self.mac.to_string(),
            "vlan": self.vlan.get(),
            "port": self.port.0,
            "age": self.age,
        })
    }
}

/// `hash/print`: the whole table in the reference's order.
struct HashPrint(Vec<HashEntry>);

impl View for HashPrint {
    fn text(&self, out: &mut String) {
        for e in &self.0 {
            e.text(out, e.port.index());
        }
    }

    fn json(&self) -> Value {
        json!({ "entries": self.0.iter().map(HashEntry::json).collect::<Vec<_>>() })
    }
}

fn age(now: u64, seen: u64) -> i64 {
    now as i64 - seen as i64
}

pub fn hash_print(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    let rows = cx
        .fabric
        .macs()
        .entries_in_print_order()
        .into_iter()
        .map(|(bucket, mac, vlan, e)| HashEntry {
            bucket,
            mac,
            vlan,
            port: e.port,
            age: age(cx.uptime, e.last_seen),
        })
        .collect();
    Ok(Box::new(HashPrint(rows)))
}

/// `hash/find MAC [VLAN]`: one entry.
struct HashFound(HashEntry);

impl View for HashFound {
    fn text(&self, out: &mut String) {
        // The reference prints the port plus one here; kept for byte-compatibility.
        self.0.text(out, self.0.port.index() + 1);
    }

    fn json(&self) -> Value {
        // The real port.
        self.0.json()
    }
}

pub fn hash_find(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let mut words = args.split_whitespace();
    let mac = words.next().and_then(MacAddr::scan).ok_or(libc::EINVAL)?;
    // `%d`, then used as a 16-bit VLAN number: ids beyond 4095 find nothing.
    let vlan = words.next().map_or(0, atoi) as u16;
    let vlan = VlanId::new(vlan).ok_or(libc::ENODEV)?;
    let t = cx.fabric.macs();
    let e = *t.get(mac, vlan).ok_or(libc::ENODEV)?;
    Ok(Box::new(HashFound(HashEntry {
        bucket: t.bucket_of(mac, vlan),
        mac,
        vlan,
        port: e.port,
        age: age(cx.uptime, e.last_seen),
    })))
}
