//! Where something can watch, take or add frames at a port's edges: packet capture, port
//! mirroring, impairments (delay, loss, rate), the switch's own protocols (FSTP BPDUs).
//!
//! A [`PortHook`] is called for the ports it watches only: frames entering a port before the
//! fabric sees them ([`PortHook::ingress`]), copies leaving a port before they are queued for
//! its endpoints ([`PortHook::egress`]), and its own timers. It never blocks and does no I/O
//! that could (a capture sink drops and counts what it cannot write at once). To put frames
//! into the switch (a mirror's copies, delayed frames released, a BPDU) it asks for an
//! [`Injection`]; the data path carries them out after the hook returns.

use std::time::Instant;

use crate::fabric::{EndpointId, PortId, PortSet};
use crate::server::slab::Key;
use crate::server::timers::{Due, Timers};

/// What becomes of a frame that entered a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// On to the fabric.
    Forward,
    /// The hook took it (a BPDU for the switch, a frame to delay or to lose).
    Taken,
}

/// A frame the switch itself puts into a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// Out through `port`, to its endpoints, as if the fabric had sent it there.
    Egress { port: PortId, frame: Vec<u8> },
    /// Out to one endpoint of a port (a copy [`PortHook::egress`] took for [`HookCx::to`]).
    EgressTo {
        endpoint: EndpointId,
        frame: Vec<u8>,
    },
    /// In through `port`, to the fabric, as if a client had sent it.
    Ingress { port: PortId, frame: Vec<u8> },
}

/// What a hook may use besides the frames.
pub struct HookCx<'a> {
    pub now: Instant,
    /// In [`PortHook::egress`]: the endpoint the copies are for (a port may have several).
    pub to: Option<EndpointId>,
    me: Key,
    timers: &'a mut Timers,
    injections: &'a mut Vec<Injection>,
}

impl HookCx<'_> {
    /// Be called back ([`PortHook::timer`]) at `at` with `tag`.
    pub fn set_timer(&mut self, at: Instant, tag: u64) {
        self.timers.set(at, Due::Hook(self.me, tag));
    }

    /// Put a frame into the switch once the hook returns.
    pub fn inject(&mut self, injection: Injection) {
        self.injections.push(injection);
    }
}

pub trait PortHook {
    /// A frame that entered `port`.
    fn ingress(&mut self, _port: PortId, _frame: &[u8], _cx: &mut HookCx<'_>) -> Verdict {
        Verdict::Forward
    }

    /// Copies about to leave through `port`; clear `keep[i]` to take frame `i`.
    fn egress(
        &mut self,
        _port: PortId,
        _frames: &[&[u8]],
        _keep: &mut [bool],
        _cx: &mut HookCx<'_>,
    ) {
    }

    /// A timer it set is due.
    fn timer(&mut self, _tag: u64, _cx: &mut HookCx<'_>) {}
}

struct Installed {
    name: &'static str,
    hook: Box<dyn PortHook>,
    ports: PortSet,
}

/// A change to the installed hooks asked for by a console command (`Effect::Hook`); hooks
/// are named so that a command can find the one it installed earlier.
pub enum HookChange {
    /// Install `hook` under `name`, replacing any hook of that name, watching `ports`.
    Install {
        name: &'static str,
        hook: Box<dyn PortHook>,
        ports: PortSet,
    },
    /// The hook `name` now watches `ports`.
    Watch { name: &'static str, ports: PortSet },
    /// Remove the hook `name` (its pending timers then find nothing).
    Remove { name: &'static str },
}

impl std::fmt::Debug for HookChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookChange::Install { name, ports, .. } => f
                .debug_struct("Install")
                .field("name", name)
                .field("ports", &ports.iter().collect::<Vec<_>>())
                .finish(),
            HookChange::Watch { name, ports } => f
                .debug_struct("Watch")
                .field("name", name)
                .field("ports", &ports.iter().collect::<Vec<_>>())
                .finish(),
            HookChange::Remove { name } => f.debug_struct("Remove").field("name", name).finish(),
        }
    }
}

/// The installed hooks and the ports any of them watches (one bit test per frame when none
/// does).
#[derive(Default)]
pub struct Hooks {
    installed: crate::server::slab::Slab<Installed>,
    watched: PortSet,
    /// Injections asked for and not carried out yet.
    pub injections: Vec<Injection>,
}

impl Hooks {
    pub fn add(&mut self, hook: Box<dyn PortHook>, ports: PortSet) -> Key {
        self.add_named("", hook, ports)
    }

    /// Install `hook` under `name`, replacing any hook of that name (unnamed ones, `""`,
    /// are never replaced).
    pub fn add_named(
        &mut self,
        name: &'static str,
        hook: Box<dyn PortHook>,
        ports: PortSet,
    ) -> Key {
        if let Some(old) = self.key_of(name) {
            self.installed.remove(old);
        }
        let key = self.installed.insert(Installed { name, hook, ports });
        self.rewatch();
        key
    }

    /// The hook installed under `name`.
    pub fn key_of(&self, name: &str) -> Option<Key> {
        if name.is_empty() {
            return None;
        }
        self.installed
            .iter()
            .find(|(_, i)| i.name == name)
            .map(|(k, _)| k)
    }

    /// Carry out a console command's change.
    pub fn change(&mut self, change: HookChange) {
        match change {
            HookChange::Install { name, hook, ports } => {
                self.add_named(name, hook, ports);
            }
            HookChange::Watch { name, ports } => {
                if let Some(key) = self.key_of(name) {
                    self.set_ports(key, ports);
                }
            }
            HookChange::Remove { name } => {
                if let Some(key) = self.key_of(name) {
                    self.remove(key);
                }
            }
        }
    }

    pub fn remove(&mut self, key: Key) -> Option<Box<dyn PortHook>> {
        let removed = self.installed.remove(key).map(|i| i.hook);
        self.rewatch();
        removed
    }

    /// Change the ports a hook watches.
    pub fn set_ports(&mut self, key: Key, ports: PortSet) {
        if let Some(i) = self.installed.get_mut(key) {
            i.ports = ports;
        }
        self.rewatch();
    }

    fn rewatch(&mut self) {
        self.watched = PortSet::default();
        for (_, i) in self.installed.iter() {
            for p in i.ports.iter() {
                self.watched.insert(p);
            }
        }
    }

    /// Whether no hook watches any port (the data path then skips its hook places).
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Whether any hook watches `port`.
    pub fn watches(&self, port: PortId) -> bool {
        self.watched.contains(port)
    }

    pub fn ingress(
        &mut self,
        port: PortId,
        frame: &[u8],
        now: Instant,
        timers: &mut Timers,
    ) -> Verdict {
        for (me, i) in self.installed.iter_mut() {
            if !i.ports.contains(port) {
                continue;
            }
            let mut cx = HookCx {
                now,
                to: None,
                me,
                timers,
                injections: &mut self.injections,
            };
            if i.hook.ingress(port, frame, &mut cx) == Verdict::Taken {
                return Verdict::Taken;
            }
        }
        Verdict::Forward
    }

    #[allow(clippy::too_many_arguments)]
    pub fn egress(
        &mut self,
        port: PortId,
        to: EndpointId,
        frames: &[&[u8]],
        keep: &mut [bool],
        now: Instant,
        timers: &mut Timers,
    ) {
        for (me, i) in self.installed.iter_mut() {
            if i.ports.contains(port) {
                let mut cx = HookCx {
                    now,
                    to: Some(to),
                    me,
                    timers,
                    injections: &mut self.injections,
                };
                i.hook.egress(port, frames, keep, &mut cx);
            }
        }
    }

    pub fn timer(&mut self, key: Key, tag: u64, now: Instant, timers: &mut Timers) {
        if let Some(i) = self.installed.get_mut(key) {
            let mut cx = HookCx {
                now,
                to: None,
                me: key,
                timers,
                injections: &mut self.injections,
            };
            i.hook.timer(tag, &mut cx);
        }
    }
}
