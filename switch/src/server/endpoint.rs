//! The I/O side of an endpoint: its socket (or tap) and its output queue.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::time::Instant;

use crate::fabric::{EndpointId, PortId};
use crate::sys::unix::Dgram;

/// Where an endpoint's frames come from and go to.
pub(super) enum Channel {
    Sock(Dgram),
    Tap(crate::sys::tap::Tap),
}

impl Channel {
    /// Read up to `bufs.len()` frames; `lens` gets their real lengths.
    pub fn recv_batch(&self, bufs: &mut [Vec<u8>], lens: &mut [usize]) -> io::Result<usize> {
        match self {
            Channel::Sock(s) => s.recv_batch(bufs, lens),
            // A tap gives one frame per read: read until it is empty or the batch
            // is full (epoll is edge-triggered, so what is left would wait for the
            // next frame to arrive).
            Channel::Tap(t) => {
                let mut n = 0;
                while n < bufs.len().min(lens.len()) {
                    match t.recv(&mut bufs[n]) {
                        Ok(len) => {
                            lens[n] = len;
                            n += 1;
                        }
                        Err(e) if n > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(n)
            }
        }
    }

    /// Send frames in order; how many went before the receiver was full.
    pub fn send_batch(&self, frames: &[&[u8]]) -> io::Result<usize> {
        match self {
            Channel::Sock(s) => s.send_batch(frames),
            Channel::Tap(t) => {
                for (i, f) in frames.iter().enumerate() {
                    if let Err(e) = t.send(f) {
                        return if i > 0 { Ok(i) } else { Err(e) };
                    }
                }
                Ok(frames.len())
            }
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        match self {
            Channel::Sock(s) => s.as_raw_fd(),
            Channel::Tap(t) => t.as_raw_fd(),
        }
    }
}

/// Frames held for a receiver that was momentarily full.
#[derive(Default)]
pub(super) struct OutQueue {
    pub frames: VecDeque<Box<[u8]>>,
    /// Last time this receiver took frames while some were waiting.
    pub blocked_since: Option<Instant>,
    /// The receiver stopped reading: its frames are dropped until it reads again.
    pub stuck: bool,
    /// Inputs paused because of this queue, resumed when it drains.
    pub waiters: Vec<EndpointId>,
    /// Whether the socket is registered for writability.
    pub writable_armed: bool,
}

pub(super) struct EndpointIo {
    pub sock: Channel,
    pub port: PortId,
    pub path: PathBuf,
    /// The client went away (ECONNREFUSED/ENOENT on send); frames to it are
    /// dropped quietly until its control connection closes.
    pub gone: bool,
    /// Reading is paused because a receiver of this input's frames is full.
    pub paused: bool,
    pub out: OutQueue,
}

impl EndpointIo {
    pub fn new(sock: Channel, port: PortId, path: PathBuf) -> EndpointIo {
        EndpointIo {
            sock,
            port,
            path,
            gone: false,
            paused: false,
            out: OutQueue::default(),
        }
    }
}
