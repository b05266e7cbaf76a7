//! `vdelab console HOST`: the terminal joined to a guest's console.
//!
//! Each guest's console 0 is a pseudo-terminal the kernel opened (`con0=pts`); its mconsole
//! says which one (`config con0` -> `pts:/dev/pts/N`). We open that terminal, make it and our
//! own terminal raw, and copy bytes both ways until Ctrl-] (as in telnet) or the guest ends.
//! Detaching leaves the guest's shell running; what the guest wrote while nobody was attached
//! (up to the pseudo-terminal's buffer, some kilobytes) shows at the next attach. One terminal
//! at a time: two readers would each get part of the output.

use crate::error::{LabError, Result};
use crate::guest;
use crate::layout::Layout;
use crate::lock;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use std::io::{IsTerminal, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;

/// Ctrl-] detaches.
pub const DETACH: u8 = 0x1d;

/// How an attachment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detached {
    /// Ctrl-] (or the end of our input).
    ByUser,
    /// The guest closed its console (it stopped).
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
        tcsetattr(fd, SetArg::TCSAFLUSH, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        let _ = tcsetattr(self.fd, SetArg::TCSAFLUSH, &self.saved);
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
    let pts = guest::console_pts(layout, host).ok_or_else(|| {
        LabError::failed(
            format!("{host} does not run, or its console is not a pseudo-terminal"),
            "see `vdelab status`",
        )
    })?;
    let _lock = lock::try_lock(
        &layout.console_lock(host),
        &format!("{host}'s console is attached in another terminal"),
    )?;
    let term = std::fs::File::options()
        .read(true)
        .write(true)
        .custom_flags(libc_o_noctty())
        .open(&pts)
        .map_err(|e| LabError::io(&pts, "open the console", e))?;
    if let Ok(mut t) = tcgetattr(&term) {
        cfmakeraw(&mut t);
        let _ = tcsetattr(&term, SetArg::TCSANOW, &t);
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    eprint!(
        "vdelab: connected to {host}'s console ({pts}); {}\r\n",
        if interactive {
            "Ctrl-] detaches, Enter shows a prompt"
        } else {
            "the end of the input detaches"
        }
    );
    let _raw = if interactive {
        RawMode::enter(stdin.as_fd())
    } else {
        None
    };
    let how = relay(stdin.as_fd(), term.as_fd())?;
    drop(_raw);
    eprintln!(
        "\nvdelab: {}",
        match how {
            Detached::ByUser => format!("detached from {host}'s console"),
            Detached::GuestGone => format!("{host}'s console closed (the guest stopped)"),
        }
    );
    Ok(how)
}

fn libc_o_noctty() -> i32 {
    nix::fcntl::OFlag::O_NOCTTY.bits()
}

/// Copies `input` to `term` and `term` to stdout.
fn relay(input: BorrowedFd<'_>, term: BorrowedFd<'_>) -> Result<Detached> {
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [
            PollFd::new(term, PollFlags::POLLIN),
            PollFd::new(input, PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(LabError::io("/dev/pts", "wait for the console", e.into())),
        }
        let ready = |f: &PollFd| {
            f.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            })
        };
        let (term_ready, input_ready) = (ready(&fds[0]), ready(&fds[1]));
        if term_ready {
            match nix::unistd::read(term, &mut buf) {
                Ok(0) | Err(Errno::EIO) => return Ok(Detached::GuestGone),
                Ok(n) => {
                    let _ = stdout.write_all(&buf[..n]);
                    let _ = stdout.flush();
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(LabError::io("/dev/pts", "read the console", e.into())),
            }
        }
        if input_ready {
            match nix::unistd::read(input, &mut buf) {
                Ok(0) => return Ok(Detached::ByUser),
                Ok(n) => {
                    let (data, detach) = match buf[..n].iter().position(|&b| b == DETACH) {
                        Some(i) => (&buf[..i], true),
                        None => (&buf[..n], false),
                    };
                    write_all(term, data)?;
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

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => return Err(LabError::io("/dev/pts", "write to the console", e.into())),
        }
    }
    Ok(())
}
