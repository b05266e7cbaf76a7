//! How things that own fds plug into the event loop.
//!
//! Two kinds of owners, both named by [`Key`]s:
//! * a [`Subscriber`] (a listener, a handshake in progress, the management sessions, the
//!   console on stdin, the signals) watches its fds through [`Io`] and handles their events,
//!   its timers and, if it asks, the fabric's events;
//! * a link (see [`super::plane::Link`]) carries frames; its events go to the data path,
//!   which reads, forwards and queues for every kind of link the same way.
//!
//! Every watched fd gets a token from [`Io`]'s registry, which says which owner it belongs
//! to; nothing is computed from fd numbers.

use std::io;
use std::os::fd::RawFd;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::slab::{Key, Slab};
use super::Switch;
use crate::fabric::Event;

/// Who a token's events go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Sub(Key),
    /// A link, and which of its fds (0: the one carrying frames).
    Link(Key, usize),
}

/// The fd registrations of the loop.
pub struct Io {
    registry: Registry,
    tokens: Slab<Target>,
}

impl Io {
    pub fn new(registry: Registry) -> Io {
        Io {
            registry,
            tokens: Slab::default(),
        }
    }

    /// Watch `source` for `interest`; its events go to `target`.
    pub fn watch<S: Source + ?Sized>(
        &mut self,
        source: &mut S,
        interest: Interest,
        target: Target,
    ) -> io::Result<Token> {
        let token = self.token(target);
        if let Err(e) = self.registry.register(source, token, interest) {
            self.tokens.remove(Key::from_u64(token.0 as u64));
            return Err(e);
        }
        Ok(token)
    }

    /// [`Io::watch`] for a raw fd.
    pub fn watch_fd(&mut self, fd: RawFd, interest: Interest, target: Target) -> io::Result<Token> {
        self.watch(&mut SourceFd(&fd), interest, target)
    }

    /// Change what a watched fd is watched for.
    pub fn rewatch_fd(&self, token: Token, fd: RawFd, interest: Interest) -> io::Result<()> {
        self.registry
            .reregister(&mut SourceFd(&fd), token, interest)
    }

    /// Stop watching `source`; its token is released.
    pub fn unwatch<S: Source + ?Sized>(&mut self, token: Token, source: &mut S) {
        let _ = self.registry.deregister(source);
        self.release(token);
    }

    pub fn unwatch_fd(&mut self, token: Token, fd: RawFd) {
        self.unwatch(token, &mut SourceFd(&fd));
    }

    /// A token for `target` without registering anything (a waker's).
    pub fn token(&mut self, target: Target) -> Token {
        Token(self.tokens.insert(target).as_u64() as usize)
    }

    pub fn release(&mut self, token: Token) {
        self.tokens.remove(Key::from_u64(token.0 as u64));
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Where a token's events go; `None` once it was released.
    pub fn target(&self, token: Token) -> Option<Target> {
        self.tokens.get(Key::from_u64(token.0 as u64)).copied()
    }
}

/// Whether a subscriber stays after handling something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Yes,
    /// Close it: [`Subscriber::close`] runs and it is dropped.
    No,
}

/// Something besides a link that owns fds: it watches them, handles their events and its
/// timers, and releases them when it closes.
pub trait Subscriber {
    /// Watch its fds (targets `Target::Sub(me)`) and set its first timers (`Due::Sub(me, _)`).
    fn register(&mut self, me: Key, sw: &mut Switch) -> io::Result<()>;

    /// An fd it watches is ready.
    fn ready(&mut self, token: Token, event: &mio::event::Event, sw: &mut Switch) -> Keep;

    /// A timer it set is due.
    fn timer(&mut self, _tag: u64, _sw: &mut Switch) -> Keep {
        Keep::Yes
    }

    /// Whether it wants the fabric's events ([`Subscriber::fabric_events`]).
    fn wants_fabric_events(&self) -> bool {
        false
    }

    /// Events of the fabric since the last call (debug subscriptions).
    fn fabric_events(&mut self, _events: &[Event], _sw: &mut Switch) {}

    /// It is going away (closed, or the switch stops): unwatch its fds, remove its files.
    fn close(&mut self, sw: &mut Switch);
}

/// The subscribers of the loop. One is taken out of its slot while it runs, so that it can
/// have the whole switch; new ones it starts are added after it returns.
#[derive(Default)]
pub struct Subscribers {
    slab: Slab<Option<Box<dyn Subscriber>>>,
    fabric_watchers: Vec<Key>,
}

impl Subscribers {
    /// Add and register a subscriber; one that cannot register is closed and dropped.
    pub fn add(&mut self, mut sub: Box<dyn Subscriber>, sw: &mut Switch) -> io::Result<Key> {
        let key = self.slab.insert(None);
        if let Err(e) = sub.register(key, sw) {
            sub.close(sw);
            self.slab.remove(key);
            return Err(e);
        }
        if sub.wants_fabric_events() {
            self.fabric_watchers.push(key);
        }
        if let Some(slot) = self.slab.get_mut(key) {
            *slot = Some(sub);
        }
        Ok(key)
    }

    /// Run `f` on subscriber `key` (if it still exists), then close it if asked, and add the
    /// subscribers it started.
    pub fn with(
        &mut self,
        key: Key,
        sw: &mut Switch,
        f: impl FnOnce(&mut dyn Subscriber, &mut Switch) -> Keep,
    ) {
        let Some(mut sub) = self.slab.get_mut(key).and_then(Option::take) else {
            return;
        };
        match f(sub.as_mut(), sw) {
            Keep::Yes => {
                if let Some(slot) = self.slab.get_mut(key) {
                    *slot = Some(sub);
                }
            }
            Keep::No => {
                sub.close(sw);
                self.slab.remove(key);
                self.fabric_watchers.retain(|&k| k != key);
            }
        }
        self.add_started(sw);
    }

    /// Add what subscribers started (accepted connections) and close what they asked to.
    pub fn add_started(&mut self, sw: &mut Switch) {
        for sub in std::mem::take(&mut sw.started) {
            // A connection that cannot be watched is dropped, as if refused.
            let _ = self.add(sub, sw);
        }
        for key in std::mem::take(&mut sw.closing) {
            if let Some(mut sub) = self.slab.get_mut(key).and_then(Option::take) {
                sub.close(sw);
                self.slab.remove(key);
                self.fabric_watchers.retain(|&k| k != key);
            }
        }
    }

    /// Hand the fabric's events to the subscribers that want them.
    pub fn fabric_events(&mut self, events: &[Event], sw: &mut Switch) {
        for key in self.fabric_watchers.clone() {
            self.with(key, sw, |sub, sw| {
                sub.fabric_events(events, sw);
                Keep::Yes
            });
        }
    }

    /// Close every subscriber (the switch stops), the latest first: the management socket
    /// goes before the control directory it may sit in.
    pub fn close_all(&mut self, sw: &mut Switch) {
        for key in self.slab.keys().into_iter().rev() {
            if let Some(mut sub) = self.slab.remove(key).flatten() {
                sub.close(sw);
            }
        }
        self.fabric_watchers.clear();
    }
}
