//! `vdelab console HOST`: this terminal joined to a guest's console, through the lab's console
//! keeper ([`crate::keeper`]). Our terminal is made raw and bytes go both ways until Ctrl-] (as in
//! telnet), the end of our input, or the end of the guest. Detaching leaves the guest's shell
//! running; the next attach first shows the recent output.

use crate::error::{LabError, Result};
use crate::keeper;
use crate::layout::Layout;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

/// Ctrl-] detaches.
pub const DETACH: u8 = 0x1d;

/// How an attachment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detached {
    /// Ctrl-] (or the end of our input).
    ByUser,
    /// The guest's console closed (it stopped).
    GuestGone,
}

/// Our terminal in raw mode until dropped.
struct RawMode<'a> {
    fd: BorrowedFd<'a>,
    saved: Termios,
}

impl<'a> RawMode<'a> {
    fn enter(fd: BorrowedFd<'a>) -> Option<RawMode<'a>> {
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        // TCSANOW, not TCSAFLUSH: keys typed ahead are kept for the guest.
        tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Attaches the calling terminal to `host`'s console.
pub fn attach(layout: &Layout, host: &str) -> Result<Detached> {
    let state = crate::state::State::load(&layout.state_file())?
        .ok_or_else(|| LabError::NotRunning(layout.lab.clone()))?;
    if !state.hosts.iter().any(|h| h.name == host) {
        let names: Vec<&str> = state.hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(LabError::failed(
            format!("the lab has no host {host}"),
            format!("its hosts are {}", names.join(", ")),
        ));
    }
    let socket = layout.console_socket(host);
    let mut conn = UnixStream::connect(&socket).map_err(|e| {
        LabError::failed(
            format!("cannot reach {host}'s console ({}: {e})", socket.display()),
            "see `vdelab status`: the guest or the lab's console keeper is not running",
        )
    })?;
    let mut first = [0u8; 3];
    let hello = conn
        .read_exact(&mut first)
        .map(|()| first.to_vec())
        .unwrap_or_default();
    if hello != keeper::OK.as_bytes() {
        return Err(LabError::failed(
            if hello == keeper::BUSY.as_bytes() {
                format!("{host}'s console is attached in another terminal, or has closed")
            } else {
                format!("{host}'s console keeper did not answer")
            },
            "detach the other terminal (Ctrl-]) and try again",
        ));
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    // Raw before the message: what is typed once it shows goes to the guest as typed.
    let raw = if interactive {
        RawMode::enter(stdin.as_fd())
    } else {
        None
    };
    eprint!(
        "vdelab: connected to {host}'s console; {}\r\n",
        if interactive {
            "Ctrl-] detaches, Enter shows a prompt"
        } else {
            "the end of the input detaches"
        }
    );
    let how = relay(stdin.as_fd(), &mut conn);
    drop(raw);
    let how = how?;
    eprintln!(
        "\nvdelab: {}",
        match how {
            Detached::ByUser => format!("detached from {host}'s console"),
            Detached::GuestGone => format!("{host}'s console closed (the guest stopped)"),
        }
    );
    Ok(how)
}

/// Copies `input` to the console and the console to stdout.
fn relay(input: BorrowedFd<'_>, conn: &mut UnixStream) -> Result<Detached> {
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 4096];
    loop {
        let (from_guest, from_user) = {
            let mut fds = [
                PollFd::new(conn.as_fd(), PollFlags::POLLIN),
                PollFd::new(input, PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(LabError::io("console", "wait for", e.into())),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        if from_guest {
            match conn.read(&mut buf) {
                Ok(0) => return Ok(Detached::GuestGone),
                Ok(n) => {
                    let _ = stdout.write_all(&buf[..n]);
                    let _ = stdout.flush();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Ok(Detached::GuestGone),
            }
        }
        if from_user {
            match nix::unistd::read(input, &mut buf) {
                Ok(0) => return Ok(Detached::ByUser),
                Ok(n) => {
                    let (data, detach) = match buf[..n].iter().position(|&b| b == DETACH) {
                        Some(i) => (&buf[..i], true),
                        None => (&buf[..n], false),
                    };
                    if conn.write_all(data).is_err() {
                        return Ok(Detached::GuestGone);
                    }
                    if detach {
                        return Ok(Detached::ByUser);
                    }
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(LabError::io("stdin", "read", e.into())),
            }
        }
    }
}
