//! `debug/*`: per-session subscriptions to asynchronous event lines
//! (`3TTT category message`, TTT the category's octal tag).

use std::fmt::Write;

use serde_json::{json, Value};
use vde_protocol::console::debug_line;

use super::view::View;
use super::{CmdResult, Ctx, Effect};
use crate::fabric::{Event, VlanId};

/// A debug category: path, tag, help, in the reference's order.
pub struct Category {
    pub path: &'static str,
    pub tag: u16,
    pub help: &'static str,
}

const fn category(path: &'static str, tag: u16, help: &'static str) -> Category {
    Category { path, tag, help }
}

pub const CATEGORIES: &[Category] = &[
    category("hash/+", 0o11, "hash: new element"),
    category("hash/-", 0o12, "hash: discarded element"),
    category("fstp/status", 0o44, "fstp: status change"),
    category("fstp/root", 0o45, "fstp: rootswitch/port change"),
    category("fstp/+", 0o41, "fstp: port becomes active"),
    category("fstp/-", 0o42, "fstp: port becomes inactive"),
    category("port/+", 0o21, "new port"),
    category("port/-", 0o22, "closed port"),
    category("port/descr", 0o23, "set port description"),
    category("port/ep/+", 0o31, "new endpoint"),
    category("port/ep/-", 0o32, "closed endpoint"),
];

/// Bit set of subscribed categories (bit i: `CATEGORIES[i]`).
pub type Subscriptions = u32;

/// `debug/list [PREFIX]`: the matching categories and whether this session gets them.
struct DebugList {
    rows: Vec<(&'static Category, bool)>,
}

impl View for DebugList {
    fn text(&self, out: &mut String) {
        let _ = writeln!(out, "{:<22} {:<3} {:<6} HELP", "CATEGORY", "TAG", "STATUS");
        let _ = writeln!(
            out,
            "{:<22} {:<3} {:<6} ----",
            "------------", "---", "------"
        );
        for (c, on) in &self.rows {
            let on = if *on { "ON" } else { "OFF" };
            let _ = writeln!(out, "{:<22} {:03o} {:<6} {}", c.path, c.tag, on, c.help);
        }
    }

    fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|(c, on)| json!({ "category": c.path, "tag": c.tag, "on": on, "help": c.help }))
            .collect();
        json!({ "categories": rows })
    }

    fn status(&self) -> CmdResult {
        if self.rows.is_empty() {
            Err(libc::ENOENT)
        } else {
            Ok(())
        }
    }
}

pub fn list(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let subs = cx.session.unwrap_or(0);
    let rows = CATEGORIES
        .iter()
        .enumerate()
        .filter(|(_, c)| c.path.starts_with(args))
        .map(|(i, c)| (c, subs & (1 << i) != 0))
        .collect();
    Ok(Box::new(DebugList { rows }))
}

fn matching(args: &str) -> Subscriptions {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(_, c)| c.path.starts_with(args))
        .fold(0, |acc, (i, _)| acc | (1 << i))
}

pub fn add(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let subs = cx.session.ok_or(libc::EBADF)?;
    let want = matching(args);
    if want == 0 {
        return Err(libc::EINVAL);
    }
    if subs & want == want {
        return Err(libc::EEXIST);
    }
    cx.effect(Effect::Subscribe(subs | want));
    Ok(())
}

pub fn del(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let subs = cx.session.ok_or(libc::EBADF)?;
    let want = matching(args);
    if want == 0 {
        return Err(libc::EINVAL);
    }
    if subs & want == 0 {
        return Err(libc::ENOENT);
    }
    cx.effect(Effect::Subscribe(subs & !want));
    Ok(())
}

fn index_of(path: &str) -> usize {
    CATEGORIES
        .iter()
        .position(|c| c.path == path)
        .expect("known category")
}

/// The debug lines of a fabric event, each with the category bit a session needs to get it,
/// as the reference prints them.
pub fn debug_lines(ev: &Event) -> Vec<(Subscriptions, String)> {
    let line = |path: &str, text: String| {
        let i = index_of(path);
        (1 << i, debug_line(CATEGORIES[i].tag, path, &text))
    };
    // The reference prints the VLAN low byte first.
    let hash = |mac: &vde_protocol::MacAddr, vlan: VlanId, port| {
        let v = vlan.get();
        format!("{} VLAN {:02x}:{:02x} Port {}", mac, v & 0xff, v >> 8, port)
    };
    match ev {
        Event::PortAllocated(p) => vec![line("port/+", format!("{p:02}"))],
        Event::PortDeactivated(p) => vec![line("port/-", format!("{p:02}"))],
        Event::EndpointAdded {
            port,
            id,
            description,
        } => vec![
            line("port/ep/+", format!("Port {port:02} FD {id:2}")),
            line(
                "port/descr",
                format!("Port {port:02} FD {id:2} -> \"{description}\""),
            ),
        ],
        Event::EndpointRemoved { port, id } => {
            vec![line("port/ep/-", format!("Port {port:02} FD {id:2}"))]
        }
        Event::MacLearned { mac, vlan, port } => vec![line("hash/+", hash(mac, *vlan, port))],
        Event::MacForgotten { mac, vlan, port } => vec![line("hash/-", hash(mac, *vlan, port))],
        Event::MacMoved { .. } | Event::MacTableFull { .. } => Vec::new(),
        Event::Fstp(ev) => vec![line(ev.category(), ev.to_string())],
    }
}
