//! The console keeper: one process per running lab (`vdelab keep`, started by `up`) that holds
//! every guest's console and lends it to `vdelab console`.
//!
//! Each guest's console 0 is a pseudo-terminal the kernel opened (`con0=pts`); its mconsole says
//! which one (`config con0` -> `pts:/dev/pts/N`). The kernel reads the terminal's master side:
//! once the other side has been opened and closed again, that read fails (EIO), and the kernel
//! then hangs the console up and closes it for good. So the other side must stay open while the
//! guest runs, and `vdelab console` cannot simply open and close it: the keeper opens it once,
//! reads everything the guest writes (into `.vdelab/log/HOST.console.log` and a backlog of the
//! last [`BACKLOG`] bytes), and serves it on a unix socket per guest. A client gets one line,
//! `OK` or `NO` (one client at a time), then the backlog, then the console both ways until it
//! closes the connection.
//!
//! The keeper ends when every guest's console has closed (the guests stopped), or on SIGTERM.

use crate::error::{LabError, Result};
use crate::guest;
use crate::interrupt::Interrupt;
use crate::layout::Layout;
use crate::proc;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

/// Bytes of recent console output a client gets when it attaches.
pub const BACKLOG: usize = 64 * 1024;
/// The console log stops growing at this size (a guest printing in a loop must not fill the
/// disk).
pub const LOG_LIMIT: u64 = 8 << 20;
/// How often the keeper looks for consoles not open yet, and for signals.
const TICK: Duration = Duration::from_millis(200);
/// A client that does not read for this long is dropped (the guest must never wait for it).
const CLIENT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// The first line a client receives.
pub const OK: &str = "OK\n";
pub const BUSY: &str = "NO\n";

/// One guest's console.
struct Console {
    host: String,
    /// The terminal, once the guest has opened its console.
    term: Option<File>,
    /// The guest's console has closed (or its kernel is gone).
    done: bool,
    listener: UnixListener,
    socket: PathBuf,
    client: Option<UnixStream>,
    backlog: VecDeque<u8>,
    log: File,
    logged: u64,
}

impl Console {
    /// What the guest wrote: to the log, the backlog and the client.
    fn output(&mut self, data: &[u8]) {
        if self.logged < LOG_LIMIT {
            let n = data.len().min((LOG_LIMIT - self.logged) as usize);
            let _ = self.log.write_all(&data[..n]);
            self.logged += n as u64;
            if self.logged >= LOG_LIMIT {
                let _ = self
                    .log
                    .write_all(b"\n[vdelab: the console log stops here]\n");
            }
        }
        self.backlog.extend(data);
        let excess = self.backlog.len().saturating_sub(BACKLOG);
        self.backlog.drain(..excess);
        if let Some(c) = &mut self.client {
            if c.write_all(data).is_err() {
                self.client = None;
            }
        }
    }

    fn close(&mut self) {
        self.done = true;
        self.term = None;
        self.client = None;
    }
}

/// Runs the keeper of the lab in `layout` until its guests' consoles have closed or a signal
/// arrives.
pub fn run(layout: &Layout, hosts: &[String], intr: &Interrupt) -> Result<()> {
    let dir = layout.console_dir();
    std::fs::create_dir_all(&dir).map_err(|e| LabError::io(&dir, "create", e))?;
    let mut consoles = Vec::new();
    for host in hosts {
        let socket = layout.console_socket(host);
        let _ = std::fs::remove_file(&socket);
        let listener =
            UnixListener::bind(&socket).map_err(|e| LabError::io(&socket, "listen on", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| LabError::io(&socket, "configure", e))?;
        let path = layout.console_log(host);
        let log = File::create(&path).map_err(|e| LabError::io(&path, "create", e))?;
        consoles.push(Console {
            host: host.clone(),
            term: None,
            done: false,
            listener,
            socket,
            client: None,
            backlog: VecDeque::new(),
            log,
            logged: 0,
        });
    }
    let mark = crate::down::mark(layout);
    while !intr.raised() && !consoles.iter().all(|c| c.done) {
        for c in consoles.iter_mut().filter(|c| c.term.is_none() && !c.done) {
            match open_console(layout, &c.host) {
                Some(t) => c.term = Some(t),
                None => {
                    let kernel = guest::kernel_pid(layout, &c.host);
                    // Gone before its console opened (a failed boot, or a stop).
                    if kernel.is_some_and(|k| !proc::ours(k, &mark)) {
                        c.close();
                    }
                }
            }
        }
        serve(&mut consoles)?;
    }
    for c in &consoles {
        let _ = std::fs::remove_file(&c.socket);
    }
    Ok(())
}

/// Opens the guest's terminal, if the guest has opened its console (raw, so that the host side
/// changes nothing: no echo, no line editing).
fn open_console(layout: &Layout, host: &str) -> Option<File> {
    let pts = guest::console_pts(layout, host)?;
    let f = File::options()
        .read(true)
        .write(true)
        .custom_flags((nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_NONBLOCK).bits())
        .open(pts)
        .ok()?;
    if let Ok(mut t) = tcgetattr(&f) {
        cfmakeraw(&mut t);
        let _ = tcsetattr(&f, SetArg::TCSANOW, &t);
    }
    Some(f)
}

/// Waits (at most [`TICK`]) for output, connections and input, and handles them.
fn serve(consoles: &mut [Console]) -> Result<()> {
    // Which console and which of its descriptors each poll entry is.
    #[derive(Clone, Copy)]
    enum Slot {
        Term,
        Listener,
        Client,
    }
    let mut slots = Vec::new();
    let mut fds = Vec::new();
    for (i, c) in consoles.iter().enumerate() {
        if let Some(t) = &c.term {
            fds.push(PollFd::new(t.as_fd(), PollFlags::POLLIN));
            slots.push((i, Slot::Term));
        }
        fds.push(PollFd::new(c.listener.as_fd(), PollFlags::POLLIN));
        slots.push((i, Slot::Listener));
        if let Some(cl) = &c.client {
            fds.push(PollFd::new(cl.as_fd(), PollFlags::POLLIN));
            slots.push((i, Slot::Client));
        }
    }
    match poll(
        &mut fds,
        PollTimeout::try_from(TICK).unwrap_or(PollTimeout::NONE),
    ) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(e) => return Err(LabError::io("/dev/pts", "wait for the consoles", e.into())),
    }
    let ready: Vec<(usize, Slot)> = fds
        .iter()
        .zip(&slots)
        .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
        .map(|(_, s)| *s)
        .collect();
    drop(fds);
    let mut buf = [0u8; 8192];
    for (i, slot) in ready {
        let c = &mut consoles[i];
        match slot {
            Slot::Term => {
                let Some(t) = &mut c.term else { continue };
                match t.read(&mut buf) {
                    Ok(0) => c.close(),
                    Ok(n) => c.output(&buf[..n]),
                    Err(e) if e.raw_os_error() == Some(libc_eio()) => c.close(),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                        ) => {}
                    Err(_) => c.close(),
                }
            }
            Slot::Listener => {
                let Ok((mut s, _)) = c.listener.accept() else {
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_write_timeout(Some(CLIENT_WRITE_TIMEOUT));
                if c.client.is_some() || c.done {
                    let _ = s.write_all(BUSY.as_bytes());
                    continue;
                }
                let (a, b) = c.backlog.as_slices();
                if s.write_all(OK.as_bytes()).is_ok()
                    && s.write_all(a).is_ok()
                    && s.write_all(b).is_ok()
                {
                    c.client = Some(s);
                }
            }
            Slot::Client => {
                let Some(cl) = &mut c.client else { continue };
                match cl.read(&mut buf) {
                    Ok(0) | Err(_) => c.client = None,
                    Ok(n) => {
                        if let Some(t) = &mut c.term {
                            type_in(t, &buf[..n]);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn libc_eio() -> i32 {
    Errno::EIO as i32
}

/// Writes what the user typed to the guest. The terminal does not block: if the guest reads no
/// input (its buffer is full), the rest is dropped rather than stalling every console.
fn type_in(term: &mut File, mut data: &[u8]) {
    while !data.is_empty() {
        match term.write(data) {
            Ok(0) => return,
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
