//! A client's endpoint: its connected data socket, and its control connection, whose end is
//! the end of the endpoint (as in the reference).

use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use crate::fabric::EndpointId;
use crate::server::plane::{Link, LinkCx, Readiness, Rx};
use crate::sys::unix::Dgram;

pub(super) struct VdeLink {
    pub data: Dgram,
    pub ctl: UnixStream,
    /// The data socket's file (`DIR/ppp.fd`), removed at close; empty for abstract sockets.
    pub path: PathBuf,
    /// uml_switch says "Disconnect" on stdout when a client leaves.
    pub say_disconnect: bool,
}

impl Link for VdeLink {
    fn fds(&self) -> Vec<RawFd> {
        vec![self.data.as_raw_fd(), self.ctl.as_raw_fd()]
    }

    fn ready(&mut self, fd: usize, event: &mio::event::Event) -> Readiness {
        if fd == 0 {
            return Readiness {
                recv: event.is_readable(),
                send: event.is_writable(),
                close: false,
            };
        }
        // The control connection: one request per connection, so later bytes are read and
        // ignored; its end closes the endpoint.
        let mut chunk = [0u8; 512];
        loop {
            match self.ctl.read(&mut chunk) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Readiness::default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        Readiness {
            close: true,
            ..Readiness::default()
        }
    }

    fn recv(&mut self, rx: &mut Rx<'_>, _: &mut LinkCx<'_>) -> io::Result<usize> {
        self.data.recv_batch(rx.bufs, rx.lens)
    }

    fn send(&mut self, _to: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        self.data.send_batch(frames)
    }

    fn release(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn closed(&mut self) {
        self.release();
        if self.say_disconnect {
            crate::server::say("Disconnect");
        }
    }
}
