//! The data path: read frames in batches, ask the fabric where each goes,
//! send the copies to each receiver in one batch. Nothing ever blocks: a
//! full receiver gets a bounded queue and the inputs feeding it are paused
//! (backpressure to the sender, so nothing is lost), unless the receiver
//! stops reading altogether, in which case its frames are dropped and the
//! others go on.

use std::io;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Token};
use vde_protocol::ethernet::{insert_tag, strip_tag, HEADER_LEN};

use super::endpoint::EndpointIo;
use super::{suppressed, Server, DATA_BASE};
use crate::fabric::{EndpointId, PortId, Tagging};
use crate::log_warn;

/// Frames per `recvmmsg`.
const BATCH: usize = 32;
/// Batches read from one socket before looking at the others, so one busy
/// client cannot starve the rest.
const READ_BUDGET: usize = 4;
/// A receiver queue longer than this pauses the inputs that feed it ...
const QUEUE_HIGH: usize = 256;
/// ... until it is back under this.
const QUEUE_LOW: usize = 64;
/// Frames beyond this are dropped (and counted) even before the receiver is
/// declared stuck.
const QUEUE_CAP: usize = 2048;
/// A receiver that takes nothing for this long is stuck: its frames are
/// dropped so the inputs feeding it can go on.
const STUCK_AFTER: Duration = Duration::from_millis(100);
/// How often blocked receivers are checked.
pub(super) const STUCK_CHECK: Duration = Duration::from_millis(20);

/// Which version of a received frame a copy is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    AsIs,
    Untagged,
    Tagged,
}

/// Buffers of one receive batch and where its copies go.
pub(super) struct RxBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    tagged: Vec<Vec<u8>>,
    untagged: Vec<Vec<u8>>,
    /// (receiver, frame index, variant), in delivery order.
    stage: Vec<(EndpointId, usize, Variant)>,
}

impl RxBatch {
    pub fn new(max_frame: usize) -> RxBatch {
        RxBatch {
            bufs: vec![vec![0u8; max_frame + 1]; BATCH],
            lens: vec![0; BATCH],
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

impl Server {
    pub(super) fn on_data(&mut self, id: EndpointId) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        for _ in 0..READ_BUDGET {
            let Some(ep) = self.endpoints.get(&id) else {
                break;
            };
            if ep.paused {
                break;
            }
            let port = ep.port;
            let n = match ep.sock.recv_batch(&mut rx.bufs, &mut rx.lens) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Drained (or failing): nothing left to come back for.
                Err(_) => {
                    self.rx = Some(rx);
                    return;
                }
            };
            if n > 0 {
                self.forward_batch(id, port, n, &mut rx);
            }
            if n < BATCH {
                self.rx = Some(rx);
                return;
            }
        }
        self.rx = Some(rx);
        // Budget spent (or paused) with data possibly left: epoll is
        // edge-triggered and a blocked sender makes no new edge, so a running
        // input is served again without waiting.
        if self.endpoints.get(&id).is_some_and(|e| !e.paused) && !self.backlog.contains(&id) {
            self.backlog.push(id);
        }
    }

    /// Forward the `n` frames in `rx` received by endpoint `from` on `port`.
    fn forward_batch(&mut self, from: EndpointId, port: PortId, n: usize, rx: &mut RxBatch) {
        rx.stage.clear();
        let mut deliveries = std::mem::take(&mut self.deliveries);
        for i in 0..n {
            let len = rx.lens[i];
            if len > self.cfg.max_frame {
                self.fabric.note_oversize(port);
                continue;
            }
            if len < HEADER_LEN {
                self.fabric.note_runt(port);
                continue;
            }
            self.fabric
                .forward(port, &rx.bufs[i][..len], self.tick, &mut deliveries);
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
        let mut frames: [&[u8]; crate::sys::unix::MAX_BATCH] = [&[]; crate::sys::unix::MAX_BATCH];
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
            if self.send_to(dest, &frames[..run]) && dest != from {
                // The receiver is backed up: stop reading this input until it drains.
                if let Some(ep) = self.endpoints.get_mut(&from) {
                    ep.paused = true;
                }
                if let Some(d) = self.endpoints.get_mut(&dest) {
                    if !d.out.waiters.contains(&from) {
                        d.out.waiters.push(from);
                    }
                }
            }
            start = end;
        }
    }

    /// Hand frames to a receiver, queueing what it cannot take now. Returns
    /// whether its queue is over the high-water mark.
    fn send_to(&mut self, dest: EndpointId, frames: &[&[u8]]) -> bool {
        let Some(io) = self.endpoints.get_mut(&dest) else {
            return false;
        };
        let port = io.port;
        let mut dropped = 0u64;
        let mut sent = 0;
        if io.gone {
            dropped = frames.len() as u64;
            sent = frames.len();
        } else if io.out.frames.is_empty() {
            while sent < frames.len() {
                match io.sock.send_batch(&frames[sent..]) {
                    Ok(0) => break,
                    Ok(k) => sent += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        match e.raw_os_error() {
                            Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {}
                            Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::EPIPE) => {
                                io.gone = true;
                                dropped += (frames.len() - sent) as u64;
                                sent = frames.len();
                            }
                            _ => {
                                if let Some(n) = self.limits.send.allow(self.tick, 10, 5) {
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
            if io.out.stuck {
                dropped += rest.len() as u64;
            } else {
                let room = QUEUE_CAP.saturating_sub(io.out.frames.len());
                let keep = rest.len().min(room);
                io.out
                    .frames
                    .extend(rest[..keep].iter().map(|f| Box::<[u8]>::from(*f)));
                dropped += (rest.len() - keep) as u64;
                if io.out.blocked_since.is_none() {
                    io.out.blocked_since = Some(Instant::now());
                    newly_blocked = true;
                }
            }
        }
        let over = io.out.frames.len() > QUEUE_HIGH;
        let arm = !io.out.frames.is_empty() || io.out.stuck;
        if dropped > 0 {
            self.fabric.note_send_drop(port, dropped);
        }
        if newly_blocked {
            self.blocked += 1;
        }
        self.set_writable(dest, arm);
        over
    }

    /// Register or drop interest in writability of an endpoint's socket.
    fn set_writable(&mut self, id: EndpointId, want: bool) {
        let Some(io) = self.endpoints.get_mut(&id) else {
            return;
        };
        if io.out.writable_armed == want {
            return;
        }
        io.out.writable_armed = want;
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let fd = io.sock.raw_fd();
        let _ = self.poll.registry().reregister(
            &mut SourceFd(&fd),
            Token(DATA_BASE + id as usize),
            interest,
        );
    }

    /// The receiver has room again: send what waits for it.
    pub(super) fn on_writable(&mut self, id: EndpointId) {
        let Some(io) = self.endpoints.get_mut(&id) else {
            return;
        };
        io.out.stuck = false;
        while !io.out.frames.is_empty() {
            let mut chunk: [&[u8]; crate::sys::unix::MAX_BATCH] =
                [&[]; crate::sys::unix::MAX_BATCH];
            let mut k = 0;
            for (slot, f) in chunk.iter_mut().zip(io.out.frames.iter()) {
                *slot = f;
                k += 1;
            }
            match io.sock.send_batch(&chunk[..k]) {
                Ok(k) if k > 0 => {
                    io.out.frames.drain(..k);
                    io.out.blocked_since = Some(Instant::now());
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::EPIPE)
                    ) =>
                {
                    io.gone = true;
                    let n = io.out.frames.len() as u64;
                    io.out.frames.clear();
                    let port = io.port;
                    self.fabric.note_send_drop(port, n);
                    break;
                }
                _ => break,
            }
        }
        let Some(io) = self.endpoints.get_mut(&id) else {
            return;
        };
        let len = io.out.frames.len();
        if len < QUEUE_LOW {
            let waiters = std::mem::take(&mut io.out.waiters);
            self.resume(waiters);
        }
        if len == 0 {
            self.unblock(id);
        }
    }

    fn unblock(&mut self, id: EndpointId) {
        if let Some(io) = self.endpoints.get_mut(&id) {
            if io.out.blocked_since.take().is_some() {
                self.blocked -= 1;
            }
        }
        self.set_writable(id, false);
    }

    fn resume(&mut self, inputs: Vec<EndpointId>) {
        for w in inputs {
            if let Some(ep) = self.endpoints.get_mut(&w) {
                if ep.paused {
                    ep.paused = false;
                    if !self.backlog.contains(&w) {
                        self.backlog.push(w);
                    }
                }
            }
        }
    }

    /// Receivers that took nothing for too long are declared stuck: their
    /// queued frames are dropped and the inputs waiting for them resume.
    pub(super) fn check_stuck(&mut self) {
        let now = Instant::now();
        let stuck: Vec<EndpointId> = self
            .endpoints
            .iter()
            .filter(|(_, io)| {
                io.out
                    .blocked_since
                    .is_some_and(|t| now.duration_since(t) > STUCK_AFTER)
            })
            .map(|(&id, _)| id)
            .collect();
        for id in stuck {
            let Some(io) = self.endpoints.get_mut(&id) else {
                continue;
            };
            io.out.stuck = true;
            let n = io.out.frames.len() as u64;
            io.out.frames.clear();
            let port = io.port;
            let waiters = std::mem::take(&mut io.out.waiters);
            if let Some(k) = self.limits.stuck.allow(self.tick, 10, 3) {
                log_warn!(
                    "port {} endpoint {}: the client stopped reading; its frames are dropped until it reads again{}",
                    port,
                    id,
                    suppressed(k)
                );
            }
            self.fabric.note_send_drop(port, n);
            if let Some(io) = self.endpoints.get_mut(&id) {
                if io.out.blocked_since.take().is_some() {
                    self.blocked -= 1;
                }
            }
            // Stay armed: the next writable event ends the stuck state.
            self.set_writable(id, true);
            self.resume(waiters);
        }
    }

    /// An endpoint is going away: its queue goes with it, its waiters resume.
    pub(super) fn forget_queue(&mut self, io: EndpointIo) {
        if io.out.blocked_since.is_some() {
            self.blocked -= 1;
        }
        if !io.out.frames.is_empty() {
            self.fabric
                .note_send_drop(io.port, io.out.frames.len() as u64);
        }
        self.resume(io.out.waiters);
    }
}
