//! A listening stream socket as its subscriber watches it (the control socket, the
//! management socket; a port kind taking stream connections would use it too).

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};

use mio::{Interest, Token};

use super::reactor::Target;
use super::slab::Key;
use super::Switch;

pub struct Listening {
    listener: UnixListener,
    token: Option<Token>,
}

impl Listening {
    pub fn new(listener: UnixListener) -> Listening {
        Listening {
            listener,
            token: None,
        }
    }

    /// Watch it for connections, which go to subscriber `me`.
    pub fn watch(&mut self, me: Key, sw: &mut Switch) -> io::Result<()> {
        let fd = self.listener.as_raw_fd();
        self.token = Some(sw.io.watch_fd(fd, Interest::READABLE, Target::Sub(me))?);
        Ok(())
    }

    /// Whether an event on `token` is this socket's.
    pub fn is(&self, token: Token) -> bool {
        self.token == Some(token)
    }

    pub fn unwatch(&mut self, sw: &mut Switch) {
        if let Some(token) = self.token.take() {
            sw.io.unwatch_fd(token, self.listener.as_raw_fd());
        }
    }

    /// The next connection, non-blocking; `WouldBlock` when there is none.
    pub fn accept(&self) -> io::Result<UnixStream> {
        loop {
            let (stream, _) = self.listener.accept()?;
            // One that cannot be made non-blocking is dropped.
            if stream.set_nonblocking(true).is_ok() {
                return Ok(stream);
            }
        }
    }

    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.listener.as_raw_fd()
    }
}
