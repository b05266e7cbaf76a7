//! `vxlan/*` commands (ours): add, remove and list VXLAN uplinks.
//!
//! `vxlan/add` opens the uplink's sockets and attaches it to a port itself, so that whatever
//! fails (a bad SPEC, an address this host lacks, no free port) is answered by the command;
//! only starting its link is left to the host ([`Effect::StartVxlan`]).

use std::cell::RefCell;
use std::fmt::Write;
use std::rc::Rc;
use std::time::Instant;

use serde_json::{json, Value};
use vde_protocol::vxlan_spec::VxlanSpec;

use super::view::View;
use super::{CmdResult, Ctx, Effect};
use crate::cnum::atoi;
use crate::fabric::PortId;
use crate::server::ports::vxlan::{self, Opened, Uplink, AGEING};

/// An uplink opened and attached by `vxlan/add`, waiting for the host to start it. Taken once.
#[derive(Clone)]
pub struct Pending(Rc<RefCell<Option<(Opened, PortId)>>>);

impl Pending {
    /// The uplink and its port; `None` once taken.
    pub fn take(&self) -> Option<(Opened, PortId)> {
        self.0.borrow_mut().take()
    }
}

// Effects are compared and printed in tests; a pending uplink is itself.
impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0.borrow() {
            Some((o, port)) => write!(f, "Pending(port {port}: {})", o.spec()),
            None => write!(f, "Pending(taken)"),
        }
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Pending) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Pending {}

/// A refusal with what is wrong: the text in the data block, the errno in the status.
struct Refused {
    message: String,
    errno: i32,
}

impl View for Refused {
    fn text(&self, out: &mut String) {
        let _ = writeln!(out, "{}", self.message);
    }

    fn json(&self) -> Value {
        json!({ "error": self.message })
    }

    fn status(&self) -> CmdResult {
        Err(self.errno)
    }
}

fn refused(errno: i32, message: String) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(Refused { message, errno }))
}

/// `vxlan/add`: the port the uplink got.
struct Added {
    port: PortId,
    spec: VxlanSpec,
}

impl View for Added {
    fn text(&self, out: &mut String) {
        let _ = writeln!(out, "Port {:04} vxlan {}", self.port, self.spec);
    }

    fn json(&self) -> Value {
        json!({ "port": self.port.0, "spec": self.spec.to_string() })
    }
}

/// `vxlan/add SPEC`.
pub fn add(cx: &mut Ctx<'_>, args: &str) -> Result<Box<dyn View>, i32> {
    let spec: VxlanSpec = match args.parse() {
        Ok(s) => s,
        Err(e) => return refused(libc::EINVAL, format!("bad VXLAN spec: {e}")),
    };
    let opened = match vxlan::open(&spec) {
        Ok(o) => o,
        Err(e) => return refused(e.errno(), e.to_string()),
    };
    let port = match vxlan::attach(cx.fabric, &opened) {
        Ok(p) => p,
        Err(e) => {
            let errno = match e {
                crate::fabric::AttachError::NoFreePort { .. } => libc::ENOSPC,
                _ => libc::EINVAL,
            };
            return refused(errno, format!("no port for the uplink: {e}"));
        }
    };
    cx.effect(Effect::StartVxlan(Pending(Rc::new(RefCell::new(Some((
        opened, port,
    )))))));
    Ok(Box::new(Added { port, spec }))
}

/// `vxlan/del PORT`: closes the uplink on that port.
pub fn del(cx: &mut Ctx<'_>, args: &str) -> CmdResult {
    let port = PortId::from_arg(atoi(args)).ok_or(libc::EINVAL)?;
    let id = cx
        .fabric
        .port(port)
        .and_then(|p| p.endpoints.iter().find(|e| e.module == vxlan::MODULE))
        .map(|e| e.id)
        .ok_or(libc::ENXIO)?;
    cx.effect(Effect::CloseEndpoint { port, id });
    Ok(())
}

/// `vxlan/print`: every uplink, its counters and what it learned.
struct Print {
    uplinks: Vec<Rc<Uplink>>,
    now: Instant,
}

impl Print {
    /// Learned entries still valid, by MAC: (mac, vtep, age in seconds).
    fn learned(&self, u: &Uplink) -> Vec<(String, String, u64)> {
        let mut rows: Vec<_> = u
            .learned
            .borrow()
            .iter()
            .filter_map(|(mac, e)| {
                let age = self.now.saturating_duration_since(e.seen);
                (age < AGEING).then(|| (mac.to_string(), e.vtep.to_string(), age.as_secs()))
            })
            .collect();
        rows.sort();
        rows
    }
}

impl View for Print {
    fn text(&self, out: &mut String) {
        for u in &self.uplinks {
            let s = &u.stats;
            let _ = writeln!(out, "Port {:04} vxlan {}", u.port, u.spec);
            let _ = writeln!(
                out,
                " rx {} packets, {} dropped (not VXLAN or another VNI)",
                s.rx_packets.get(),
                s.rx_dropped.get()
            );
            let _ = writeln!(
                out,
                " tx {} packets, {} too big for the underlay, {} errors",
                s.tx_packets.get(),
                s.too_big.get(),
                s.tx_errors.get()
            );
            for (mac, vtep, age) in self.learned(u) {
                let _ = writeln!(out, "  {mac} via {vtep} age {age}");
            }
        }
    }

    fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .uplinks
            .iter()
            .map(|u| {
                let s = &u.stats;
                json!({
                    "port": u.port.0,
                    "endpoint": u.id,
                    "spec": u.spec.to_string(),
                    "vni": u.spec.vni.get(),
                    "rx": { "packets": s.rx_packets.get(), "dropped": s.rx_dropped.get() },
                    "tx": {
                        "packets": s.tx_packets.get(),
                        "too_big": s.too_big.get(),
                        "errors": s.tx_errors.get(),
                    },
                    "learned": self.learned(u).into_iter().map(|(mac, vtep, age)| json!({
                        "mac": mac, "vtep": vtep, "age": age,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "uplinks": rows })
    }
}

pub fn print(cx: &mut Ctx<'_>, _: &str) -> Result<Box<dyn View>, i32> {
    Ok(Box::new(Print {
        uplinks: cx.info.vxlan.uplinks(),
        now: Instant::now(),
    }))
}
