//! What a port kind implements to carry frames: a [`Link`] owns the fds of one or more
//! endpoints and moves whole frames in batches; the data path does everything else (the
//! fabric, queues, backpressure, hooks) the same way for every kind.

use std::io;
use std::os::fd::RawFd;
use std::time::Instant;

use crate::fabric::{AttachError, Credentials, Endpoint, EndpointId, Fabric, PortChoice, PortId};
use crate::server::slab::Key;
use crate::server::timers::{Due, Timers};

/// One receive batch, as a link fills it.
pub struct Rx<'a> {
    /// One buffer per frame, each one byte longer than the largest frame accepted.
    pub bufs: &'a mut [Vec<u8>],
    /// The real length of each frame read (more than its buffer when it was cut, so that the
    /// data path counts it as oversize instead of forwarding a truncated frame).
    pub lens: &'a mut [usize],
    /// The endpoint each frame came from. Preset to the link's first endpoint; a link
    /// carrying several endpoints (a shared socket with one peer per sender address) sets it
    /// per frame.
    pub from: &'a mut [EndpointId],
}

impl Rx<'_> {
    /// How many frames fit.
    pub fn capacity(&self) -> usize {
        self.bufs.len().min(self.lens.len()).min(self.from.len())
    }

    /// Fill the batch from an fd that gives one frame per `read` (a tap): read until it is
    /// empty or the batch is full (epoll is edge-triggered, so what is left would wait for
    /// the next frame to arrive). `WouldBlock` only when nothing was read.
    pub fn read_each(
        &mut self,
        mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut n = 0;
        while n < self.capacity() {
            match read(&mut self.bufs[n]) {
                Ok(len) => {
                    self.lens[n] = len;
                    n += 1;
                }
                Err(e) if n > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

/// Send to an fd that takes one frame per `write`: how many went before the first failure
/// (that failure when none went).
pub fn write_each(
    frames: &[&[u8]],
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    for (i, f) in frames.iter().enumerate() {
        if let Err(e) = write(f) {
            return if i > 0 { Ok(i) } else { Err(e) };
        }
    }
    Ok(frames.len())
}

/// What a link may ask of the switch while it reads or handles its timer: a shared socket
/// meeting a new peer attaches an endpoint for it, and releases it once idle.
pub struct LinkCx<'a> {
    pub(super) me: Key,
    pub(super) now: Option<Instant>,
    pub(super) fabric: &'a mut Fabric,
    pub(super) timers: &'a mut Timers,
    pub(super) next_id: &'a mut EndpointId,
    /// Endpoints attached during this call, added to the link once it returns.
    pub(super) attached: Vec<(EndpointId, PortId)>,
    /// Endpoints released during this call, closed once it returns.
    pub(super) released: Vec<EndpointId>,
}

impl<'a> LinkCx<'a> {
    /// The context of one call into link `me`, nothing attached or released yet.
    pub(super) fn new(
        me: Key,
        fabric: &'a mut Fabric,
        timers: &'a mut Timers,
        next_id: &'a mut EndpointId,
    ) -> LinkCx<'a> {
        LinkCx {
            me,
            now: None,
            fabric,
            timers,
            next_id,
            attached: Vec::new(),
            released: Vec::new(),
        }
    }

    pub fn now(&mut self) -> Instant {
        *self.now.get_or_insert_with(Instant::now)
    }

    /// Attach a new endpoint of this link to a port; its id is new (kinds whose endpoints
    /// have no fd of their own get ids from here). Frames of this call may name it in
    /// `Rx::from`.
    pub fn attach(
        &mut self,
        choice: PortChoice,
        who: &Credentials,
        module: &'static str,
        description: String,
    ) -> Result<EndpointId, AttachError> {
        let id = *self.next_id;
        let endpoint = Endpoint {
            id,
            module,
            description,
        };
        let port = self.fabric.attach(choice, who, endpoint)?;
        *self.next_id = self.next_id.wrapping_add(1).max(FIRST_OWN_ID);
        self.attached.push((id, port));
        Ok(id)
    }

    /// One of this link's endpoints is finished (an idle peer): it leaves its port once
    /// the link returns; the link closes when it has none left and is not [`Link::shared`].
    pub fn release(&mut self, id: EndpointId) {
        self.released.push(id);
    }

    /// Be called back ([`Link::timer`]) at `at` with `tag`.
    pub fn set_timer(&mut self, at: Instant, tag: u64) {
        self.timers.set(at, Due::Link(self.me, tag));
    }
}

/// The first endpoint id [`LinkCx::attach`] gives: above any fd number, which name the
/// endpoints of the kinds that have one fd each (as the reference shows them).
pub const FIRST_OWN_ID: EndpointId = 1 << 24;

/// What the data path should do after an event on one of a link's fds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Frames may be waiting: call [`Link::recv`] until it returns less than a batch.
    pub recv: bool,
    /// There is room to send again: flush, then hand it queued frames.
    pub send: bool,
    /// The link is finished (its client left): close it and its endpoints.
    pub close: bool,
}

/// The I/O of a port kind.
pub trait Link {
    /// The fds to watch, the one carrying frames first (it is also watched for room to send
    /// when frames wait). Others (a control connection) are watched for reading only.
    fn fds(&self) -> Vec<RawFd>;

    /// An event on `fds()[fd]`. The default suits a link with one fd.
    fn ready(&mut self, fd: usize, event: &mio::event::Event) -> Readiness {
        if fd != 0 {
            return Readiness::default();
        }
        Readiness {
            recv: event.is_readable(),
            send: event.is_writable(),
            close: false,
        }
    }

    /// Read at most `rx.capacity()` frames; `WouldBlock` when there are none.
    fn recv(&mut self, rx: &mut Rx<'_>, cx: &mut LinkCx<'_>) -> io::Result<usize>;

    /// Send `frames`, in order, to endpoint `to` (one of this link's); how many were taken
    /// before the receiver was full. Taking a frame means sending all of it eventually: a
    /// stream link keeps what a partial write left and sends it first in [`Link::flush`].
    fn send(&mut self, to: EndpointId, frames: &[&[u8]]) -> io::Result<usize>;

    /// Send what an earlier partial write left; `Ok(true)` when nothing is left.
    fn flush(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// Whether bytes of frames already taken wait to be written (the rest of a partial
    /// write): the data path then watches for room to send and calls [`Link::flush`].
    fn pending_output(&self) -> bool {
        false
    }

    /// A timer it set ([`LinkCx::set_timer`]) is due.
    fn timer(&mut self, _tag: u64, _cx: &mut LinkCx<'_>) {}

    /// One of its endpoints was closed by the switch (`port/epclose`, `port/remove`) while
    /// the link stays (a [`Link::shared`] socket): forget that peer.
    fn endpoint_closed(&mut self, _id: EndpointId) {}

    /// Whether it stays without endpoints (a shared socket waiting for peers); others close
    /// with their last endpoint.
    fn shared(&self) -> bool {
        false
    }

    /// The switch stops: remove the files the link made (its fds are no longer watched).
    fn release(&mut self) {}

    /// Its endpoints are gone (the client left, or `port/epclose`): release it, and say so
    /// where the switch reports such things.
    fn closed(&mut self) {
        self.release();
    }
}
