//! What happens at a port's edge besides forwarding: captures (`port/capture`), mirrors
//! (`port/mirror`) and impairments (`port/impair`), all carried out by one port hook
//! ([`EdgeHook`]) so their order is fixed:
//!
//! - a frame entering port N from its client is captured and mirrored as it arrives, then,
//!   with an `in` impairment, held in N's queue and given to the fabric when due;
//! - a frame leaving through N is, with an `out` impairment, held in N's queue, and is
//!   captured and mirrored when it actually leaves (when due).
//!
//! So a capture of N shows the cable between N's client and the switch, delays and losses
//! included. The state ([`Edges`]) is shared between the hook and the console commands that
//! change and show it; the loop is single-threaded and a command never runs while the hook
//! does. Timers are the hook's own ([`HookCx::set_timer`]): one per queue with frames
//! waiting and one per capture with bytes waiting, never a busy wait.

pub mod sink;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use serde_json::{json, Value};

use super::plane::hooks::{HookChange, HookCx, Injection, PortHook, Verdict};
use crate::fabric::{EndpointId, PortId, PortSet};
use crate::impair::{ImpairQueue, Settings};
pub use sink::Sink;

/// The name the hook is installed under.
pub const HOOK_NAME: &str = "edges";

pub type Shared = Rc<RefCell<Edges>>;

/// A direction of a port's traffic, as `port/impair` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// What enters the switch from the port's client.
    In = 0,
    /// What leaves the switch through the port.
    Out = 1,
}

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::In => "in",
            Dir::Out => "out",
        }
    }
}

/// What a hook timer is for: the low two bits of its tag, the port above them.
const TIMER_IN: u64 = 0;
const TIMER_OUT: u64 = 1;
const TIMER_SINK: u64 = 2;
const TIMER_ALL_SINK: u64 = 3;

fn tag(port: PortId, kind: u64) -> u64 {
    (u64::from(port.0) << 2) | kind
}

/// A frame held by an impairment and, going out, the endpoint of the port it was for.
#[derive(Clone)]
pub struct Held {
    to: Option<EndpointId>,
    frame: Vec<u8>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.frame
    }
}

impl AsMut<[u8]> for Held {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.frame
    }
}

/// The impairment of one port and direction.
pub struct Impair {
    pub queue: ImpairQueue<Held>,
    /// Turned off with frames still held: new frames pass, the held ones leave when due,
    /// then the queue goes.
    pub retiring: bool,
    /// The earliest timer set for this queue and not yet fired.
    armed: Option<Instant>,
}

/// Everything set on one port.
#[derive(Default)]
pub struct PortEdges {
    pub capture: Option<Sink>,
    pub mirror: Option<PortId>,
    pub impair: [Option<Impair>; 2],
}

impl PortEdges {
    fn is_unused(&self) -> bool {
        self.capture.is_none() && self.mirror.is_none() && self.impair.iter().all(Option::is_none)
    }

    /// Whether the hook must see this port's frames.
    fn watched(&self) -> bool {
        self.capture.is_some()
            || self.mirror.is_some()
            || self.impair.iter().flatten().any(|i| !i.retiring)
    }

    fn active(&mut self, dir: Dir) -> Option<&mut Impair> {
        self.impair[dir as usize].as_mut().filter(|i| !i.retiring)
    }
}

/// Captures, mirrors and impairments of every port.
#[derive(Default)]
pub struct Edges {
    ports: BTreeMap<PortId, PortEdges>,
    /// `port/capture all PATH`: every port's frames in one pcapng stream (an interface per
    /// port), on the ports below `all_ports`.
    all: Option<Sink>,
    all_ports: usize,
    installed: bool,
    /// Seeds of impairment queues: each new queue draws a different sequence.
    seeds: u64,
}

impl Edges {
    pub fn port(&self, port: PortId) -> Option<&PortEdges> {
        self.ports.get(&port)
    }

    pub fn ports(&self) -> impl Iterator<Item = (PortId, &PortEdges)> {
        self.ports.iter().map(|(p, e)| (*p, e))
    }

    pub fn all(&self) -> Option<&Sink> {
        self.all.as_ref()
    }

    fn entry(&mut self, port: PortId) -> &mut PortEdges {
        self.ports.entry(port).or_default()
    }

    fn tidy(&mut self, port: PortId) {
        if self.ports.get(&port).is_some_and(PortEdges::is_unused) {
            self.ports.remove(&port);
        }
    }

    /// Start (`Some`) or stop (`None`) the capture of `port`; the old one, if any, stops.
    pub fn set_capture(&mut self, port: PortId, sink: Option<Sink>) {
        self.entry(port).capture = sink;
        self.tidy(port);
    }

    /// Start or stop the capture of every port below `numports`.
    pub fn set_capture_all(&mut self, sink: Option<Sink>, numports: usize) {
        self.all = sink;
        self.all_ports = numports;
    }

    pub fn set_mirror(&mut self, port: PortId, to: Option<PortId>) {
        self.entry(port).mirror = to;
        self.tidy(port);
    }

    /// Impair `port` in `dir` with `settings` (`off` when passthrough). Live queues keep
    /// their frames and counters.
    pub fn set_impair(&mut self, port: PortId, dir: Dir, settings: Settings) {
        let seed = self.next_seed(port, dir);
        let slot = &mut self.entry(port).impair[dir as usize];
        match slot {
            _ if settings.is_passthrough() => {
                if let Some(i) = slot {
                    if i.queue.is_empty() {
                        *slot = None;
                    } else {
                        i.retiring = true;
                    }
                }
            }
            Some(i) => {
                i.queue.reconfigure(settings);
                i.retiring = false;
            }
            None => {
                *slot = Some(Impair {
                    queue: ImpairQueue::new(settings, seed),
                    retiring: false,
                    armed: None,
                })
            }
        }
        self.tidy(port);
    }

    fn next_seed(&mut self, port: PortId, dir: Dir) -> u64 {
        self.seeds += 1;
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        clock ^ (self.seeds << 32) ^ (u64::from(port.0) << 1) ^ dir as u64
    }

    /// The ports the hook must watch.
    pub fn watched(&self) -> PortSet {
        let mut set = PortSet::default();
        for (p, e) in &self.ports {
            if e.watched() {
                set.insert(*p);
            }
        }
        if self.all.is_some() {
            (0..self.all_ports)
                .filter_map(PortId::from_index)
                .for_each(|p| set.insert(p));
        }
        set
    }

    /// What the plane must do after a change: install the hook the first time, else tell it
    /// the ports to watch now.
    pub fn hook_change(shared: &Shared) -> HookChange {
        let mut me = shared.borrow_mut();
        let ports = me.watched();
        if me.installed {
            HookChange::Watch {
                name: HOOK_NAME,
                ports,
            }
        } else {
            me.installed = true;
            HookChange::Install {
                name: HOOK_NAME,
                hook: Box::new(EdgeHook(shared.clone())),
                ports,
            }
        }
    }

    /// A frame crossing `port`'s cable: into its capture, the switch-wide one, its mirror.
    fn see(&mut self, port: PortId, frame: &[u8], cx: &mut HookCx<'_>) {
        if let Some(all) = &mut self.all {
            if all.record(port, frame, cx.now) && !all.flush_armed {
                all.flush_armed = true;
                cx.set_timer(cx.now + sink::FLUSH_DELAY, tag(port, TIMER_ALL_SINK));
            }
        }
        let Some(e) = self.ports.get_mut(&port) else {
            return;
        };
        if let Some(c) = &mut e.capture {
            if c.record(port, frame, cx.now) && !c.flush_armed {
                c.flush_armed = true;
                cx.set_timer(cx.now + sink::FLUSH_DELAY, tag(port, TIMER_SINK));
            }
        }
        if let Some(to) = e.mirror {
            cx.inject(Injection::Egress {
                port: to,
                frame: frame.to_vec(),
            });
        }
    }

    /// Set a timer for `port`'s queue in `dir` if its next frame is due before any timer set.
    fn arm(&mut self, port: PortId, dir: Dir, cx: &mut HookCx<'_>) {
        let Some(i) = self
            .ports
            .get_mut(&port)
            .and_then(|e| e.impair[dir as usize].as_mut())
        else {
            return;
        };
        if let Some(next) = i.queue.next_deadline() {
            if i.armed.is_none_or(|a| next < a) {
                i.armed = Some(next);
                let kind = match dir {
                    Dir::In => TIMER_IN,
                    Dir::Out => TIMER_OUT,
                };
                cx.set_timer(next, tag(port, kind));
            }
        }
    }

    /// Release what `port`'s queue in `dir` has due.
    fn release(&mut self, port: PortId, dir: Dir, cx: &mut HookCx<'_>) {
        let now = cx.now;
        let mut out = Vec::new();
        let Some(e) = self.ports.get_mut(&port) else {
            return;
        };
        let Some(i) = e.impair[dir as usize].as_mut() else {
            return;
        };
        if i.armed.is_some_and(|a| a <= now) {
            i.armed = None;
        }
        i.queue.pop_due(now, &mut out);
        if i.retiring && i.queue.is_empty() {
            e.impair[dir as usize] = None;
        }
        for Held { to, frame } in out {
            match (dir, to) {
                (Dir::In, _) => cx.inject(Injection::Ingress { port, frame }),
                (Dir::Out, to) => {
                    self.see(port, &frame, cx);
                    cx.inject(match to {
                        Some(endpoint) => Injection::EgressTo { endpoint, frame },
                        None => Injection::Egress { port, frame },
                    });
                }
            }
        }
        self.arm(port, dir, cx);
        self.tidy(port);
    }
}

/// The port hook carrying out [`Edges`].
pub struct EdgeHook(pub Shared);

impl PortHook for EdgeHook {
    fn ingress(&mut self, port: PortId, frame: &[u8], cx: &mut HookCx<'_>) -> Verdict {
        let mut edges = self.0.borrow_mut();
        edges.see(port, frame, cx);
        let Some(i) = edges.ports.get_mut(&port).and_then(|e| e.active(Dir::In)) else {
            return Verdict::Forward;
        };
        let held = Held {
            to: None,
            frame: frame.to_vec(),
        };
        i.queue.push(held, cx.now);
        edges.arm(port, Dir::In, cx);
        Verdict::Taken
    }

    fn egress(&mut self, port: PortId, frames: &[&[u8]], keep: &mut [bool], cx: &mut HookCx<'_>) {
        let mut edges = self.0.borrow_mut();
        match edges.ports.get_mut(&port).and_then(|e| e.active(Dir::Out)) {
            Some(i) => {
                for (frame, keep) in frames.iter().zip(keep.iter_mut()) {
                    if *keep {
                        let held = Held {
                            to: cx.to,
                            frame: frame.to_vec(),
                        };
                        i.queue.push(held, cx.now);
                        *keep = false;
                    }
                }
                edges.arm(port, Dir::Out, cx);
            }
            None => {
                for (frame, _) in frames.iter().zip(keep.iter()).filter(|(_, k)| **k) {
                    edges.see(port, frame, cx);
                }
            }
        }
    }

    fn timer(&mut self, tag: u64, cx: &mut HookCx<'_>) {
        let mut edges = self.0.borrow_mut();
        let Some(port) = u16::try_from(tag >> 2).ok().map(PortId) else {
            return;
        };
        match tag & 3 {
            TIMER_IN => edges.release(port, Dir::In, cx),
            TIMER_OUT => edges.release(port, Dir::Out, cx),
            TIMER_SINK => {
                if let Some(c) = edges.ports.get_mut(&port).and_then(|e| e.capture.as_mut()) {
                    c.flush_armed = c.write_out();
                    if c.flush_armed {
                        cx.set_timer(cx.now + sink::FLUSH_DELAY, tag);
                    }
                }
            }
            _ => {
                if let Some(c) = edges.all.as_mut() {
                    c.flush_armed = c.write_out();
                    if c.flush_armed {
                        cx.set_timer(cx.now + sink::FLUSH_DELAY, tag);
                    }
                }
            }
        }
    }
}

/// The JSON of one port's settings and counters (`json port/capture`, `json port/impair`).
pub fn port_json(port: PortId, e: &PortEdges) -> Value {
    let impair = |d: Dir| {
        e.impair[d as usize].as_ref().map(|i| {
            json!({
                "settings": if i.retiring { Value::Null } else { i.queue.settings().to_json() },
                "held": i.queue.len(),
                "counters": i.queue.counters().to_json(),
            })
        })
    };
    json!({
        "port": port.0,
        "capture": e.capture.as_ref().map(Sink::to_json),
        "mirror": e.mirror.map(|p| p.0),
        "impair": { "in": impair(Dir::In), "out": impair(Dir::Out) },
    })
}
