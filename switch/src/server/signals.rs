//! Signals: fatal ones are turned into events of the main loop through a
//! self-pipe; the ones the reference ignores are ignored.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

static PIPE_FD: AtomicI32 = AtomicI32::new(-1);
static PENDING: AtomicU64 = AtomicU64::new(0);

/// The read end of the self-pipe; readable when a handled signal arrived.
pub struct SignalPipe {
    pub reader: UnixStream,
    _writer: UnixStream,
}

/// Install handlers for `handled` and ignore `ignored`.
pub fn install(handled: &[i32], ignored: &[i32]) -> io::Result<SignalPipe> {
    let (reader, writer) = UnixStream::pair()?;
    reader.set_nonblocking(true)?;
    writer.set_nonblocking(true)?;
    PIPE_FD.store(writer.as_raw_fd(), Ordering::SeqCst);
    for &sig in handled {
        // SAFETY: the handler only does async-signal-safe work (an atomic
        // update and write(2)).
        unsafe {
            signal_hook::low_level::register(sig, move || {
                PENDING.fetch_or(1 << sig, Ordering::SeqCst);
                let fd = PIPE_FD.load(Ordering::SeqCst);
                if fd >= 0 {
                    libc::write(fd, b"s".as_ptr().cast(), 1);
                }
            })
        }?;
    }
    for &sig in ignored {
        // SAFETY: setting SIG_IGN is always sound.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    Ok(SignalPipe {
        reader,
        _writer: writer,
    })
}

impl SignalPipe {
    /// Drain the pipe and return the signals that arrived, lowest first.
    pub fn take(&mut self) -> Vec<i32> {
        let mut buf = [0u8; 64];
        while matches!(self.reader.read(&mut buf), Ok(n) if n > 0) {}
        let bits = PENDING.swap(0, Ordering::SeqCst);
        (0..64).filter(|s| bits & (1 << s) != 0).collect()
    }
}

/// Re-raise `sig` with its default action (after cleanup), as the reference
/// does for SIGINT so the exit status says "killed by SIGINT".
pub fn reraise(sig: i32) -> ! {
    // SAFETY: restoring the default action and raising are plain libc calls.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

/// Signals the reference ignores.
pub const IGNORED: &[i32] = &[
    libc::SIGPIPE,
    libc::SIGALRM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGPROF,
    libc::SIGVTALRM,
    libc::SIGIO,
    libc::SIGSTKFLT,
    libc::SIGPWR,
];
