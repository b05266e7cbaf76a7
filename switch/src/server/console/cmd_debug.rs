//! `debug/*`: per-session subscriptions to asynchronous event lines
//! (`3TTT category message`, TTT the category's octal tag).

use std::fmt::Write;

use super::{CmdResult, Origin};
use crate::fabric::Event;
use crate::server::Server;

/// A debug category: path, tag, help, in the reference's order.
pub struct Category {
    pub path: &'static str,
    pub tag: u32,
    pub help: &'static str,
}

pub const CATEGORIES: &[Category] = &[
    Category {
        path: "hash/+",
        tag: 0o11,
        help: "hash: new element",
    },
    Category {
        path: "hash/-",
        tag: 0o12,
        help: "hash: discarded element",
    },
    Category {
        path: "fstp/status",
        tag: 0o44,
        help: "fstp: status change",
    },
    Category {
        path: "fstp/root",
        tag: 0o45,
        help: "fstp: rootswitch/port change",
    },
    Category {
        path: "fstp/+",
        tag: 0o41,
        help: "fstp: port becomes active",
    },
    Category {
        path: "fstp/-",
        tag: 0o42,
        help: "fstp: port becomes inactive",
    },
    Category {
        path: "port/+",
        tag: 0o21,
        help: "new port",
    },
    Category {
        path: "port/-",
        tag: 0o22,
        help: "closed port",
    },
    Category {
        path: "port/descr",
        tag: 0o23,
        help: "set port description",
    },
    Category {
        path: "port/ep/+",
        tag: 0o31,
        help: "new endpoint",
    },
    Category {
        path: "port/ep/-",
        tag: 0o32,
        help: "closed endpoint",
    },
];

/// Bit set of subscribed categories (index into CATEGORIES).
pub type Subscriptions = u32;

fn session_subs(s: &mut Server) -> Result<&mut Subscriptions, i32> {
    match s.origin {
        Origin::Session(fd) => s
            .sessions
            .get_mut(&fd)
            .map(|sess| &mut sess.debug)
            .ok_or(libc::EBADF),
        _ => Err(libc::EBADF),
    }
}

pub fn list(s: &mut Server, args: &str, out: &mut String) -> CmdResult {
    let subs = match s.origin {
        Origin::Session(fd) => s.sessions.get(&fd).map_or(0, |x| x.debug),
        _ => 0,
    };
    out.push_str(&format!("{:<22} {:<3} {:<6} ", "CATEGORY", "TAG", "STATUS"));
    out.push_str(
        "HELP
",
    );
    out.push_str(&format!(
        "{:<22} {:<3} {:<6} ",
        "------------", "---", "------"
    ));
    out.push_str(
        "----
",
    );
    let mut any = false;
    for (i, c) in CATEGORIES
        .iter()
        .enumerate()
        .filter(|(_, c)| c.path.starts_with(args))
    {
        any = true;
        let on = if subs & (1 << i) != 0 { "ON" } else { "OFF" };
        let _ = writeln!(out, "{:<22} {:03o} {:<6} {}", c.path, c.tag, on, c.help);
    }
    if any {
        Ok(())
    } else {
        Err(libc::ENOENT)
    }
}

fn matching(args: &str) -> Subscriptions {
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(_, c)| c.path.starts_with(args))
        .fold(0, |acc, (i, _)| acc | (1 << i))
}

pub fn add(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let want = matching(args);
    let subs = session_subs(s)?;
    if want == 0 {
        return Err(libc::EINVAL);
    }
    if *subs & want == want {
        return Err(libc::EEXIST);
    }
    *subs |= want;
    Ok(())
}

pub fn del(s: &mut Server, args: &str, _: &mut String) -> CmdResult {
    let want = matching(args);
    let subs = session_subs(s)?;
    if want == 0 {
        return Err(libc::EINVAL);
    }
    if *subs & want == 0 {
        return Err(libc::ENOENT);
    }
    *subs &= !want;
    Ok(())
}

fn index_of(path: &str) -> usize {
    CATEGORIES
        .iter()
        .position(|c| c.path == path)
        .expect("known category")
}

/// The category and text of a fabric event, as the reference prints it.
pub fn render(s: &Server, ev: &Event) -> Vec<(usize, String)> {
    let hash = |mac: &vde_protocol::MacAddr, vlan: u16, port: usize| {
        format!(
            "{} VLAN {:02x}:{:02x} Port {}",
            mac,
            vlan & 0xff,
            vlan >> 8,
            port
        )
    };
    match ev {
        Event::PortAllocated(p) => vec![(index_of("port/+"), format!("{p:02}"))],
        Event::PortDeactivated(p) => vec![(index_of("port/-"), format!("{p:02}"))],
        Event::EndpointAdded { port, id } => {
            let descr = s
                .fabric
                .port(*port)
                .and_then(|p| p.endpoints.iter().find(|e| e.id == *id))
                .map(|e| e.description.clone())
                .unwrap_or_default();
            vec![
                (index_of("port/ep/+"), format!("Port {port:02} FD {id:2}")),
                (
                    index_of("port/descr"),
                    format!("Port {port:02} FD {id:2} -> \"{descr}\""),
                ),
            ]
        }
        Event::EndpointRemoved { port, id } => {
            vec![(index_of("port/ep/-"), format!("Port {port:02} FD {id:2}"))]
        }
        Event::MacLearned { mac, vlan, port } => {
            vec![(index_of("hash/+"), hash(mac, *vlan, *port))]
        }
        Event::MacForgotten { mac, vlan, port } => {
            vec![(index_of("hash/-"), hash(mac, *vlan, *port))]
        }
        Event::MacMoved { .. } | Event::MacTableFull { .. } => Vec::new(),
    }
}

impl Server {
    /// Send an event's lines to the sessions subscribed to its category.
    pub(crate) fn broadcast_debug(&mut self, ev: &Event) {
        if self.sessions.values().all(|x| x.debug == 0) {
            return;
        }
        for (cat, text) in render(self, ev) {
            let c = &CATEGORIES[cat];
            let line = format!("3{:03o} {} {}\n", c.tag, c.path, text);
            let fds: Vec<_> = self
                .sessions
                .iter()
                .filter(|(_, x)| x.debug & (1 << cat) != 0)
                .map(|(&fd, _)| fd)
                .collect();
            for fd in fds {
                self.queue_session_output(fd, line.as_bytes());
            }
        }
    }
}
