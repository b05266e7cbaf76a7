//! tap interfaces (`-t IF`, uml_switch's `-tap IF`): one endpoint per interface, on an
//! automatically allocated port, for the switch's whole life.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use crate::fabric::{Credentials, Endpoint, EndpointId, PortChoice};
use crate::server::plane::{write_each, Env, Link, LinkCx, Plane, Rx};
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

    // A tap gives and takes one frame per call.
    fn recv(&mut self, rx: &mut Rx<'_>, _: &mut LinkCx<'_>) -> io::Result<usize> {
        rx.read_each(|buf| self.tap.recv(buf))
    }

    fn send(&mut self, _to: EndpointId, frames: &[&[u8]]) -> io::Result<usize> {
        write_each(frames, |f| self.tap.send(f))
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
