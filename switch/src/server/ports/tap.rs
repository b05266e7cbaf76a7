//! tap interfaces (`-t IF`, uml_switch's `-tap IF`): one endpoint per interface, on an
//! automatically allocated port, for the switch's whole life.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::fabric::{Credentials, Endpoint, EndpointId, PortChoice};
use crate::server::plane::{Env, Link, Plane, Rx};
use crate::sys::tap::Tap;

/// The module name `port/print` shows.
pub const MODULE: &str = "tuntap";

struct TapLink {
    tap: Tap,
}

impl Link for TapLink {
    fn fds(&self) -> Vec<RawFd> {
        vec![self.tap.as_raw_fd()]
    }

    // A tap gives one frame per read: read until it is empty or the batch is full (epoll is
    // edge-triggered, so what is left would wait for the next frame to arrive).
    fn recv(&mut self, rx: &mut Rx<'_>) -> io::Result<usize> {
        let mut n = 0;
        while n < rx.capacity() {
            match self.tap.recv(&mut rx.bufs[n]) {
                Ok(len) => {
                    rx.lens[n] = len;
                    n += 1;
                }
                Err(e) if n > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    fn send(&mut self, _to: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        for (i, f) in frames.iter().enumerate() {
            if let Err(e) = self.tap.send(f) {
                return if i > 0 { Ok(i) } else { Err(e) };
            }
        }
        Ok(frames.len())
    }
}

/// Open the tap interfaces and attach each to an automatically allocated port.
pub fn attach_all(names: &[String], plane: &mut Plane, env: &mut Env<'_>) -> Result<(), String> {
    for name in names {
        let tap = Tap::open(name).map_err(|e| {
            format!("cannot open tap interface '{name}': {e} (creating taps needs root or CAP_NET_ADMIN)")
        })?;
        // The reference names a tap's endpoint by its fd.
        let id = tap.as_raw_fd() as EndpointId;
        let endpoint = Endpoint {
            id,
            module: MODULE,
            description: name.clone(),
        };
        let port = plane
            .fabric_mut()
            .attach(PortChoice::Any, &Credentials::default(), endpoint)
            .map_err(|e| format!("tap interface '{name}': {e}"))?;
        if let Err(e) = plane.add_link(env, Box::new(TapLink { tap }), &[(id, port)]) {
            let _ = plane.fabric_mut().detach(port, id);
            return Err(format!("tap interface '{name}': {e}"));
        }
    }
    Ok(())
}
