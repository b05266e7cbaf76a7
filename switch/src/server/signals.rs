//! Signals: the fatal ones stop the loop (through `signal-hook`'s self-pipe, watched like any
//! fd); the ones the reference ignores are ignored.

use std::io;

use mio::{Interest, Token};
use nix::sys::signal::{SigHandler, Signal};
use signal_hook_mio::v1_0::Signals;

use super::reactor::{Keep, Subscriber, Target};
use super::slab::Key;
use super::{Exit, Switch};

/// Signals the reference ignores.
pub const IGNORED: &[Signal] = &[
    Signal::SIGPIPE,
    Signal::SIGALRM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPROF,
    Signal::SIGVTALRM,
    Signal::SIGIO,
    Signal::SIGSTKFLT,
    Signal::SIGPWR,
];

/// The handled signals, ready to be watched.
pub struct SignalWatch {
    signals: Signals,
    token: Option<Token>,
}

/// Handle `handled` from now on (before any socket exists, so a signal right after `ctl`
/// appears is never fatal by default nor skips the cleanup) and ignore `ignored`.
pub fn install(handled: &[i32], ignored: &[Signal]) -> io::Result<SignalWatch> {
    let signals = Signals::new(handled)?;
    for &sig in ignored {
        // SAFETY: SIG_IGN installs no handler, so no code runs in signal context.
        unsafe { nix::sys::signal::signal(sig, SigHandler::SigIgn) }?;
    }
    Ok(SignalWatch {
        signals,
        token: None,
    })
}

impl Subscriber for SignalWatch {
    fn register(&mut self, me: Key, sw: &mut Switch) -> io::Result<()> {
        self.token = Some(
            sw.io
                .watch(&mut self.signals, Interest::READABLE, Target::Sub(me))?,
        );
        Ok(())
    }

    /// The lowest signal that arrived stops the loop.
    fn ready(&mut self, _: Token, _: &mio::event::Event, sw: &mut Switch) -> Keep {
        if let Some(sig) = self.signals.pending().min() {
            sw.exit = Some(Exit::Signal(sig));
        }
        Keep::Yes
    }

    fn close(&mut self, sw: &mut Switch) {
        if let Some(token) = self.token.take() {
            sw.io.unwatch(token, &mut self.signals);
        }
    }
}

/// Re-raise `sig` with its default action (after cleanup), as the reference
/// does for SIGINT so the exit status says "killed by SIGINT".
pub fn reraise(sig: i32) -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    std::process::exit(128 + sig)
}
