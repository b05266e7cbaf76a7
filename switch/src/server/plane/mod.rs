//! The data path: read frames in batches, ask the fabric where each goes,
//! send the copies to each receiver in one batch. Nothing ever blocks: a
//! full receiver gets a bounded queue and the inputs feeding it are paused
//! (backpressure to the sender, so nothing is lost), unless the receiver
//! stops reading altogether, in which case its frames are dropped and the
//! others go on.
//!
//! Every port kind plugs in as a [`Link`] (the fds of one or more endpoints
//! and how to read and write whole frames on them); batching, budgets, queues
//! and stuck receivers are handled here once for all of them. Port hooks
//! ([`hooks`]) see frames where they enter and leave ports.
//!
//! Per batch: one `recv` call on the link (up to [`BATCH`] frames), one
//! fabric decision per frame, then one `send` call per receiver with all its
//! copies in arrival order; each tagged or untagged variant of a frame is
//! made once. A link is read at most [`READ_BUDGET`] batches in a row, then
//! the others get their turn and it goes to the backlog, served before the
//! loop sleeps (epoll is edge-triggered: a socket left with data makes no new
//! edge).

pub mod hooks;
pub mod link;
mod queue;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use mio::{Interest, Token};
use vde_protocol::ethernet::{insert_tag, strip_tag, HEADER_LEN};

use super::reactor::{Io, Target};
use super::slab::{Key, Slab};
use super::suppressed;
use super::timers::{Due, Timers};
use crate::fabric::{Delivery, EndpointId, Fabric, PortId, Tagging};
use crate::log_warn;
use crate::sys::log::RateLimit;
use hooks::{Hooks, Injection, Verdict};
pub use link::{write_each, Link, LinkCx, Readiness, Rx, FIRST_OWN_ID};
use queue::{OutQueue, QUEUE_CAP, QUEUE_HIGH, QUEUE_LOW, STUCK_AFTER, STUCK_CHECK};

/// Frames per receive batch.
pub const BATCH: usize = 32;
/// Batches read from one link before looking at the others, so one busy
/// client cannot starve the rest.
pub const READ_BUDGET: usize = 4;
/// Most frames handed to one `send` call.
const SEND_BATCH: usize = crate::sys::unix::MAX_BATCH;
/// `from` of frames no endpoint claimed.
const NOBODY: EndpointId = EndpointId::MAX;

/// What the data path borrows from the loop.
pub struct Env<'a> {
    pub io: &'a mut Io,
    pub timers: &'a mut Timers,
    /// Seconds since the switch started (MAC table times).
    pub tick: u64,
}

/// Which version of a received frame a copy is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    AsIs,
    Untagged,
    Tagged,
}

/// Buffers of one receive batch and where its copies go.
struct RxBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    from: Vec<EndpointId>,
    ports: Vec<PortId>,
    tagged: Vec<Vec<u8>>,
    untagged: Vec<Vec<u8>>,
    /// (receiver, frame index, variant), in delivery order.
    stage: Vec<(EndpointId, usize, Variant)>,
}

impl RxBatch {
    fn new(max_frame: usize) -> RxBatch {
        RxBatch {
            bufs: vec![vec![0u8; max_frame + 1]; BATCH],
            lens: vec![0; BATCH],
            from: vec![NOBODY; BATCH],
            ports: vec![PortId(0); BATCH],
            tagged: vec![Vec::new(); BATCH],
            untagged: vec![Vec::new(); BATCH],
            stage: Vec::new(),
        }
    }

    fn frame(&self, i: usize, v: Variant) -> &[u8] {
        match v {
            Variant::AsIs => &self.bufs[i][..self.lens[i]],
            Variant::Tagged => &self.tagged[i],
            Variant::Untagged => &self.untagged[i],
        }
    }
}

/// A link and what the data path keeps about it.
struct LinkSlot {
    link: Box<dyn Link>,
    /// Its fds and their tokens, the one carrying frames first.
    fds: Vec<(RawFd, Token)>,
    endpoints: Vec<EndpointId>,
    /// Reading is paused because a receiver of its frames is full.
    paused: bool,
    /// Whether the first fd is watched for room to send.
    writable_armed: bool,
}

/// An endpoint the data path delivers to.
struct Attached {
    link: Key,
    port: PortId,
    /// The client went away (ECONNREFUSED/ENOENT on send); frames to it are
    /// dropped quietly until its link closes.
    gone: bool,
    out: OutQueue,
}

/// Rate limits of the data path's noisy log lines.
#[derive(Default)]
struct Limits {
    send: RateLimit,
    stuck: RateLimit,
}

pub struct Plane {
    fabric: Fabric,
    links: Slab<LinkSlot>,
    endpoints: HashMap<EndpointId, Attached>,
    /// Receive batch, taken while a batch is forwarded.
    rx: Option<RxBatch>,
    deliveries: Vec<Delivery>,
    /// Links that may still hold frames (read budget spent, or resumed after a pause).
    backlog: Vec<Key>,
    /// Endpoints with frames waiting in their queue.
    blocked: usize,
    stuck_check_armed: bool,
    pub hooks: Hooks,
    max_frame: usize,
    limits: Limits,
    /// The next id [`LinkCx::attach`] gives.
    next_id: EndpointId,
}

impl Plane {
    pub fn new(fabric: Fabric, max_frame: usize) -> Plane {
        Plane {
            fabric,
            links: Slab::default(),
            endpoints: HashMap::new(),
            rx: Some(RxBatch::new(max_frame)),
            deliveries: Vec::new(),
            backlog: Vec::new(),
            blocked: 0,
            stuck_check_armed: false,
            hooks: Hooks::default(),
            max_frame,
            limits: Limits::default(),
            next_id: FIRST_OWN_ID,
        }
    }

    pub fn fabric(&self) -> &Fabric {
        &self.fabric
    }

    pub fn fabric_mut(&mut self) -> &mut Fabric {
        &mut self.fabric
    }

    /// Work that must not wait for an event: links left with frames, injections.
    pub fn has_work(&self) -> bool {
        !self.backlog.is_empty() || !self.hooks.injections.is_empty()
    }

    /// Start carrying frames for `endpoints` (already attached to their ports in the
    /// fabric) on `link`. On error nothing is kept and the caller detaches them.
    pub fn add_link(
        &mut self,
        env: &mut Env<'_>,
        link: Box<dyn Link>,
        endpoints: &[(EndpointId, PortId)],
    ) -> io::Result<Key> {
        let raw_fds = link.fds();
        let key = self.links.insert(LinkSlot {
            link,
            fds: Vec::new(),
            endpoints: endpoints.iter().map(|e| e.0).collect(),
            paused: false,
            writable_armed: false,
        });
        for (i, &fd) in raw_fds.iter().enumerate() {
            match env
                .io
                .watch_fd(fd, Interest::READABLE, Target::Link(key, i))
            {
                Ok(token) => {
                    if let Some(slot) = self.links.get_mut(key) {
                        slot.fds.push((fd, token));
                    }
                }
                Err(e) => {
                    if let Some(slot) = self.links.remove(key) {
                        for (fd, token) in slot.fds {
                            env.io.unwatch_fd(token, fd);
                        }
                    }
                    return Err(e);
                }
            }
        }
        for &(id, port) in endpoints {
            self.endpoints.insert(
                id,
                Attached {
                    link: key,
                    port,
                    gone: false,
                    out: OutQueue::default(),
                },
            );
        }
        Ok(key)
    }

    /// An event on fd `fd` of link `key`.
    pub fn ready(&mut self, env: &mut Env<'_>, key: Key, fd: usize, event: &mio::event::Event) {
        let Some(slot) = self.links.get_mut(key) else {
            return;
        };
        let r = slot.link.ready(fd, event);
        if r.close {
            self.close_link(env, key);
            return;
        }
        if r.send {
            self.on_writable(env, key);
        }
        if r.recv {
            self.on_readable(env, key);
        }
    }

    /// Read the links left with frames and carry out injections.
    pub fn serve_backlog(&mut self, env: &mut Env<'_>) {
        for key in std::mem::take(&mut self.backlog) {
            self.on_readable(env, key);
        }
        self.inject_pending(env);
    }

    fn on_readable(&mut self, env: &mut Env<'_>, key: Key) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        for _ in 0..READ_BUDGET {
            let Some(slot) = self.links.get_mut(key) else {
                break;
            };
            if slot.paused {
                break;
            }
            let first = slot.endpoints.first().copied().unwrap_or(NOBODY);
            rx.from.fill(first);
            let mut view = Rx {
                bufs: &mut rx.bufs,
                lens: &mut rx.lens,
                from: &mut rx.from,
            };
            let mut cx = LinkCx::new(key, &mut self.fabric, env.timers, &mut self.next_id);
            let got = slot.link.recv(&mut view, &mut cx);
            let (attached, released) = (cx.attached, cx.released);
            self.adopt(key, attached);
            let n = match got {
                Ok(n) => n.min(BATCH),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    self.release(env, key, released);
                    continue;
                }
                // Drained (or failing): nothing left to come back for.
                Err(_) => {
                    self.rx = Some(rx);
                    self.release(env, key, released);
                    return;
                }
            };
            if n > 0 {
                self.resolve_ports(&mut rx, n);
                self.forward_batch(env, Some(key), n, &mut rx);
            }
            self.release(env, key, released);
            if n < BATCH {
                self.rx = Some(rx);
                return;
            }
        }
        self.rx = Some(rx);
        // Budget spent (or paused) with data possibly left: epoll is
        // edge-triggered and a blocked sender makes no new edge, so a running
        // input is served again without waiting.
        if self.links.get(key).is_some_and(|s| !s.paused) && !self.backlog.contains(&key) {
            self.backlog.push(key);
        }
    }

    /// Endpoints a link attached ([`LinkCx::attach`]) join it.
    fn adopt(&mut self, key: Key, attached: Vec<(EndpointId, PortId)>) {
        for (id, port) in attached {
            match self.links.get_mut(key) {
                Some(slot) => {
                    slot.endpoints.push(id);
                    self.endpoints.insert(
                        id,
                        Attached {
                            link: key,
                            port,
                            gone: false,
                            out: OutQueue::default(),
                        },
                    );
                }
                None => {
                    let _ = self.fabric.detach(port, id);
                }
            }
        }
    }

    /// Endpoints a link released ([`LinkCx::release`]) leave their ports.
    fn release(&mut self, env: &mut Env<'_>, key: Key, released: Vec<EndpointId>) {
        for id in released {
            if self.endpoints.get(&id).is_some_and(|a| a.link == key) {
                self.close_endpoint(env, id);
            }
        }
    }

    /// A link's timer is due.
    pub fn link_timer(&mut self, env: &mut Env<'_>, key: Key, tag: u64) {
        let Some(slot) = self.links.get_mut(key) else {
            return;
        };
        let mut cx = LinkCx::new(key, &mut self.fabric, env.timers, &mut self.next_id);
        slot.link.timer(tag, &mut cx);
        let (attached, released) = (cx.attached, cx.released);
        self.adopt(key, attached);
        self.release(env, key, released);
    }

    /// The port of each received frame's endpoint; frames of no endpoint are dropped.
    fn resolve_ports(&self, rx: &mut RxBatch, n: usize) {
        let mut last: Option<(EndpointId, Option<PortId>)> = None;
        for i in 0..n {
            let from = rx.from[i];
            let port = match last {
                Some((id, port)) if id == from => port,
                _ => {
                    let port = self.endpoints.get(&from).map(|a| a.port);
                    last = Some((from, port));
                    port
                }
            };
            match port {
                Some(p) => rx.ports[i] = p,
                // Counted nowhere: no port received it.
                None => rx.lens[i] = usize::MAX,
            }
        }
    }

    /// Forward the `n` frames in `rx` (frame `i` entered port `rx.ports[i]`), read from
    /// `from` (paused if a receiver fills up), or injected when `None`.
    fn forward_batch(&mut self, env: &mut Env<'_>, from: Option<Key>, n: usize, rx: &mut RxBatch) {
        rx.stage.clear();
        let mut deliveries = std::mem::take(&mut self.deliveries);
        let mut now = None;
        for i in 0..n {
            let (port, len) = (rx.ports[i], rx.lens[i]);
            if len == usize::MAX {
                continue;
            }
            if len > self.max_frame {
                self.fabric.note_oversize(port);
                continue;
            }
            if len < HEADER_LEN {
                self.fabric.note_runt(port);
                continue;
            }
            // Injected frames are the switch's own: they skip the hooks of the port they enter.
            if from.is_some() && self.hooks.watches(port) {
                let now = *now.get_or_insert_with(Instant::now);
                let frame = &rx.bufs[i][..len];
                if self.hooks.ingress(port, frame, now, env.timers) == Verdict::Taken {
                    continue;
                }
            }
            self.fabric
                .forward(port, &rx.bufs[i][..len], env.tick, &mut deliveries);
            // Each changed version of the frame is made once, when first needed.
            let (mut have_tagged, mut have_untagged) = (false, false);
            for d in &deliveries {
                let variant = match d.tagging {
                    Tagging::AsIs => Variant::AsIs,
                    Tagging::Untag => {
                        if !have_untagged {
                            strip_tag(&rx.bufs[i][..len], &mut rx.untagged[i]);
                            have_untagged = true;
                        }
                        Variant::Untagged
                    }
                    Tagging::Tag(vid) => {
                        if !have_tagged {
                            insert_tag(&rx.bufs[i][..len], vid.get(), &mut rx.tagged[i]);
                            have_tagged = true;
                        }
                        Variant::Tagged
                    }
                };
                if let Some(p) = self.fabric.port(d.port) {
                    rx.stage
                        .extend(p.endpoints.iter().map(|e| (e.id, i, variant)));
                }
            }
        }
        self.deliveries = deliveries;

        // One send batch per receiver, frames in arrival order.
        rx.stage.sort_by_key(|s| s.0);
        let mut start = 0;
        let mut frames: [&[u8]; SEND_BATCH] = [&[]; SEND_BATCH];
        while start < rx.stage.len() {
            let dest = rx.stage[start].0;
            let run = rx.stage[start..]
                .iter()
                .take_while(|s| s.0 == dest)
                .count()
                .min(frames.len());
            let end = start + run;
            for (slot, &(_, i, v)) in frames.iter_mut().zip(&rx.stage[start..end]) {
                *slot = rx.frame(i, v);
            }
            let kept = self.egress_hooks(env, dest, &mut frames[..run], &mut now);
            if self.send_to(env, dest, &frames[..kept]) {
                self.pause_for(from, dest);
            }
            start = end;
        }
    }

    /// Run the egress hooks watching `dest`'s port on its copies; the frames they leave are
    /// moved to the front, and their number returned.
    fn egress_hooks(
        &mut self,
        env: &mut Env<'_>,
        dest: EndpointId,
        frames: &mut [&[u8]],
        now: &mut Option<Instant>,
    ) -> usize {
        if self.hooks.is_empty() {
            return frames.len();
        }
        let Some(port) = self.endpoints.get(&dest).map(|a| a.port) else {
            return frames.len();
        };
        if !self.hooks.watches(port) {
            return frames.len();
        }
        let now = *now.get_or_insert_with(Instant::now);
        let mut keep = [true; SEND_BATCH];
        let keep = &mut keep[..frames.len()];
        self.hooks.egress(port, dest, frames, keep, now, env.timers);
        let mut kept = 0;
        for i in 0..frames.len() {
            if keep[i] {
                frames[kept] = frames[i];
                kept += 1;
            }
        }
        kept
    }

    /// The receiver `dest` is backed up: stop reading the link `from` until it drains.
    fn pause_for(&mut self, from: Option<Key>, dest: EndpointId) {
        let Some(from) = from else {
            return;
        };
        let Some(d) = self.endpoints.get_mut(&dest) else {
            return;
        };
        if d.link == from {
            return;
        }
        if let Some(slot) = self.links.get_mut(from) {
            slot.paused = true;
        }
        if !d.out.waiters.contains(&from) {
            d.out.waiters.push(from);
        }
    }

    /// Hand frames to a receiver, queueing what it cannot take now. Returns
    /// whether its queue is over the high-water mark.
    fn send_to(&mut self, env: &mut Env<'_>, dest: EndpointId, frames: &[&[u8]]) -> bool {
        let Some(att) = self.endpoints.get_mut(&dest) else {
            return false;
        };
        let Some(slot) = self.links.get_mut(att.link) else {
            return false;
        };
        let port = att.port;
        let mut dropped = 0u64;
        let mut sent = 0;
        if att.gone {
            dropped = frames.len() as u64;
            sent = frames.len();
        } else if att.out.frames.is_empty() {
            while sent < frames.len() {
                match slot.link.send(dest, &frames[sent..]) {
                    Ok(0) => break,
                    Ok(k) => sent += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        match e.raw_os_error() {
                            Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {}
                            Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::EPIPE) => {
                                att.gone = true;
                                dropped += (frames.len() - sent) as u64;
                                sent = frames.len();
                            }
                            _ => {
                                if let Some(n) = self.limits.send.allow(env.tick, 10, 5) {
                                    log_warn!(
                                        "send_sockaddr port {}: {}{}",
                                        port,
                                        e,
                                        suppressed(n)
                                    );
                                }
                                // Skip the frame that failed, keep the rest going.
                                dropped += 1;
                                sent += 1;
                                continue;
                            }
                        }
                        break;
                    }
                }
            }
        }
        let rest = &frames[sent..];
        let mut newly_blocked = false;
        if !rest.is_empty() {
            if att.out.stuck {
                dropped += rest.len() as u64;
            } else {
                let room = QUEUE_CAP.saturating_sub(att.out.frames.len());
                let keep = rest.len().min(room);
                att.out
                    .frames
                    .extend(rest[..keep].iter().map(|f| Box::<[u8]>::from(*f)));
                dropped += (rest.len() - keep) as u64;
                if att.out.blocked_since.is_none() {
                    att.out.blocked_since = Some(Instant::now());
                    newly_blocked = true;
                }
            }
        }
        let over = att.out.frames.len() > QUEUE_HIGH;
        let link = att.link;
        if dropped > 0 {
            self.fabric.note_send_drop(port, dropped);
        }
        if newly_blocked {
            self.blocked += 1;
            self.arm_stuck_check(env);
        }
        self.set_writable(env, link);
        over
    }

    /// Watch a link's first fd for room to send exactly when one of its endpoints has
    /// frames waiting (or is stuck: the next room ends that).
    fn set_writable(&mut self, env: &mut Env<'_>, key: Key) {
        let Some(slot) = self.links.get_mut(key) else {
            return;
        };
        let want = slot.link.pending_output()
            || slot.endpoints.iter().any(|id| {
                self.endpoints
                    .get(id)
                    .is_some_and(|a| a.out.wants_writable())
            });
        if slot.writable_armed == want {
            return;
        }
        slot.writable_armed = want;
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if let Some(&(fd, token)) = slot.fds.first() {
            let _ = env.io.rewatch_fd(token, fd, interest);
        }
    }

    /// The link has room again: finish a partial write, then send what waits for each of
    /// its endpoints.
    fn on_writable(&mut self, env: &mut Env<'_>, key: Key) {
        let Some(slot) = self.links.get_mut(key) else {
            return;
        };
        if !matches!(slot.link.flush(), Ok(true)) {
            return;
        }
        for id in slot.endpoints.clone() {
            self.drain_queue(id);
        }
        self.set_writable(env, key);
    }

    fn drain_queue(&mut self, id: EndpointId) {
        let Some(att) = self.endpoints.get_mut(&id) else {
            return;
        };
        let Some(slot) = self.links.get_mut(att.link) else {
            return;
        };
        att.out.stuck = false;
        while !att.out.frames.is_empty() {
            let mut chunk: [&[u8]; SEND_BATCH] = [&[]; SEND_BATCH];
            let mut k = 0;
            for (c, f) in chunk.iter_mut().zip(att.out.frames.iter()) {
                *c = f;
                k += 1;
            }
            match slot.link.send(id, &chunk[..k]) {
                Ok(k) if k > 0 => {
                    att.out.frames.drain(..k);
                    att.out.blocked_since = Some(Instant::now());
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::EPIPE)
                    ) =>
                {
                    att.gone = true;
                    let n = att.out.frames.len() as u64;
                    att.out.frames.clear();
                    self.fabric.note_send_drop(att.port, n);
                    break;
                }
                _ => break,
            }
        }
        let len = att.out.frames.len();
        if len < QUEUE_LOW {
            let waiters = std::mem::take(&mut att.out.waiters);
            self.resume(waiters);
        }
        if len == 0 {
            if let Some(att) = self.endpoints.get_mut(&id) {
                if att.out.blocked_since.take().is_some() {
                    self.blocked -= 1;
                }
            }
        }
    }

    fn resume(&mut self, links: Vec<Key>) {
        for key in links {
            if let Some(slot) = self.links.get_mut(key) {
                if slot.paused {
                    slot.paused = false;
                    if !self.backlog.contains(&key) {
                        self.backlog.push(key);
                    }
                }
            }
        }
    }

    fn arm_stuck_check(&mut self, env: &mut Env<'_>) {
        if !self.stuck_check_armed {
            self.stuck_check_armed = true;
            env.timers
                .set(Instant::now() + STUCK_CHECK, Due::StuckCheck);
        }
    }

    /// Receivers that took nothing for too long are declared stuck: their
    /// queued frames are dropped and the inputs waiting for them resume.
    pub fn check_stuck(&mut self, env: &mut Env<'_>) {
        self.stuck_check_armed = false;
        let now = Instant::now();
        let stuck: Vec<EndpointId> = self
            .endpoints
            .iter()
            .filter(|(_, a)| {
                a.out
                    .blocked_since
                    .is_some_and(|t| now.duration_since(t) > STUCK_AFTER)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in stuck {
            let Some(att) = self.endpoints.get_mut(&id) else {
                continue;
            };
            att.out.stuck = true;
            let n = att.out.frames.len() as u64;
            att.out.frames.clear();
            let (port, link) = (att.port, att.link);
            let waiters = std::mem::take(&mut att.out.waiters);
            if att.out.blocked_since.take().is_some() {
                self.blocked -= 1;
            }
            if let Some(k) = self.limits.stuck.allow(env.tick, 10, 3) {
                log_warn!(
                    "port {} endpoint {}: the client stopped reading; its frames are dropped until it reads again{}",
                    port,
                    id,
                    suppressed(k)
                );
            }
            self.fabric.note_send_drop(port, n);
            // Stay watched: the next room to send ends the stuck state.
            self.set_writable(env, link);
            self.resume(waiters);
        }
        if self.blocked > 0 {
            self.arm_stuck_check(env);
        }
    }

    /// An endpoint goes away: its queue goes with it, its waiters resume.
    fn forget_queue(&mut self, att: Attached) {
        if att.out.blocked_since.is_some() {
            self.blocked -= 1;
        }
        if !att.out.frames.is_empty() {
            self.fabric
                .note_send_drop(att.port, att.out.frames.len() as u64);
        }
        self.resume(att.out.waiters);
    }

    fn detach(&mut self, id: EndpointId) {
        if let Some(att) = self.endpoints.remove(&id) {
            let port = att.port;
            self.forget_queue(att);
            let _ = self.fabric.detach(port, id);
        }
    }

    /// Close a link: its endpoints leave their ports, its fds are no longer watched, and
    /// it cleans up after itself.
    pub fn close_link(&mut self, env: &mut Env<'_>, key: Key) {
        if let Some(mut slot) = self.remove_link(env, key) {
            slot.link.closed();
        }
    }

    fn remove_link(&mut self, env: &mut Env<'_>, key: Key) -> Option<LinkSlot> {
        let slot = self.links.remove(key)?;
        for &id in &slot.endpoints {
            self.detach(id);
        }
        for &(fd, token) in &slot.fds {
            env.io.unwatch_fd(token, fd);
        }
        Some(slot)
    }

    /// Close an endpoint (`port/epclose`): its link too when it was the link's only one.
    /// Whether the endpoint existed.
    pub fn close_endpoint(&mut self, env: &mut Env<'_>, id: EndpointId) -> bool {
        let Some(key) = self.endpoints.get(&id).map(|a| a.link) else {
            return false;
        };
        let alone = self
            .links
            .get(key)
            .is_none_or(|s| s.endpoints.len() <= 1 && !s.link.shared());
        if alone {
            self.close_link(env, key);
        } else {
            if let Some(slot) = self.links.get_mut(key) {
                slot.endpoints.retain(|&e| e != id);
                slot.link.endpoint_closed(id);
            }
            self.detach(id);
        }
        true
    }

    /// Release every link (the switch stops).
    pub fn close_all(&mut self, env: &mut Env<'_>) {
        for key in self.links.keys() {
            if let Some(mut slot) = self.remove_link(env, key) {
                slot.link.release();
            }
        }
    }

    /// A hook's timer is due.
    pub fn hook_timer(&mut self, env: &mut Env<'_>, key: Key, tag: u64) {
        self.hooks.timer(key, tag, Instant::now(), env.timers);
        self.inject_pending(env);
    }

    /// Carry out the injections the hooks asked for so far. Frames injected while these
    /// are forwarded wait for the next round (a hook feeding itself cannot spin here).
    pub fn inject_pending(&mut self, env: &mut Env<'_>) {
        if self.hooks.injections.is_empty() {
            return;
        }
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        let mut n = 0;
        for injection in std::mem::take(&mut self.hooks.injections) {
            match injection {
                Injection::Egress { port, frame } => {
                    let ids: Vec<EndpointId> = self
                        .fabric
                        .port(port)
                        .map(|p| p.endpoints.iter().map(|e| e.id).collect())
                        .unwrap_or_default();
                    for id in ids {
                        self.send_to(env, id, &[&frame]);
                    }
                }
                Injection::EgressTo { endpoint, frame } => {
                    self.send_to(env, endpoint, &[&frame]);
                }
                // Only a port with endpoints takes frames in, as from a client.
                Injection::Ingress { port, frame } => {
                    if !self.fabric.port(port).is_some_and(|p| p.is_active()) {
                        continue;
                    }
                    let len = frame.len().min(self.max_frame + 1);
                    rx.bufs[n][..len].copy_from_slice(&frame[..len]);
                    rx.lens[n] = frame.len();
                    rx.ports[n] = port;
                    n += 1;
                    if n == BATCH {
                        self.forward_batch(env, None, n, &mut rx);
                        n = 0;
                    }
                }
            }
        }
        if n > 0 {
            self.forward_batch(env, None, n, &mut rx);
        }
        self.rx = Some(rx);
    }
}
