//! The data path: read frames from an endpoint, ask the fabric where they
//! go, send the copies without ever blocking.

use std::io;

use vde_protocol::ethernet::{insert_tag, strip_tag, HEADER_LEN};

use super::{suppressed, Server};
use crate::fabric::{EndpointId, Tagging};
use crate::log_warn;

/// Frames read from one socket before looking at the others, so one busy
/// client cannot starve the rest.
const READ_BUDGET: usize = 64;

impl Server {
    pub(super) fn on_data(&mut self, id: EndpointId) {
        for _ in 0..READ_BUDGET {
            let Some(ep) = self.endpoints.get(&id) else {
                return;
            };
            let port = ep.port;
            let n = match ep.sock.recv(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            if n > self.cfg.max_frame {
                self.fabric.note_oversize(port);
                continue;
            }
            if n < HEADER_LEN {
                self.fabric.note_runt(port);
                continue;
            }
            let mut deliveries = std::mem::take(&mut self.deliveries);
            self.fabric
                .forward(port, &self.buf[..n], self.tick, &mut deliveries);
            self.send_copies(n, &deliveries);
            self.deliveries = deliveries;
        }
        // Budget spent with data possibly left: epoll is edge-triggered and a
        // blocked sender makes no new edge, so come back without waiting.
        if !self.backlog.contains(&id) {
            self.backlog.push(id);
        }
    }

    /// Send the frame in `self.buf[..len]` as the deliveries say.
    fn send_copies(&mut self, len: usize, deliveries: &[crate::fabric::Delivery]) {
        let mut have_tagged = false;
        let mut have_untagged = false;
        for d in deliveries {
            let frame: &[u8] = match d.tagging {
                Tagging::AsIs => &self.buf[..len],
                Tagging::Untag => {
                    if !have_untagged {
                        strip_tag(&self.buf[..len], &mut self.untag_buf);
                        have_untagged = true;
                    }
                    &self.untag_buf
                }
                Tagging::Tag(vid) => {
                    if !have_tagged {
                        insert_tag(&self.buf[..len], vid, &mut self.tag_buf);
                        have_tagged = true;
                    }
                    &self.tag_buf
                }
            };
            let Some(port) = self.fabric.port(d.port) else {
                continue;
            };
            let mut dropped = 0;
            for e in &port.endpoints {
                let Some(io) = self.endpoints.get_mut(&e.id) else {
                    continue;
                };
                match io.sock.send(frame) {
                    Ok(_) => {}
                    Err(err) => {
                        dropped += 1;
                        match err.raw_os_error() {
                            Some(libc::EAGAIN) | Some(libc::ENOBUFS) => {}
                            Some(libc::ECONNREFUSED) | Some(libc::ENOENT) | Some(libc::EPIPE) => {
                                io.gone = true;
                            }
                            _ => {
                                if let Some(n) = self.limits.send.allow(self.tick, 10, 5) {
                                    log_warn!(
                                        "send_sockaddr port {}: {}{}",
                                        d.port,
                                        err,
                                        suppressed(n)
                                    );
                                }
                            }
                        }
                    }
                }
            }
            if dropped > 0 {
                self.fabric.note_send_drop(d.port, dropped);
            }
        }
    }
}
