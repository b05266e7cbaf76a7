//! SIGINT, SIGTERM and SIGHUP, counted: the first asks a command to stop what it started (cleanly),
//! a second one to stop waiting for the clean stop.

use crate::error::{LabError, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicUsize>);

impl Interrupt {
    /// Counts the signals from now on (a thread waits for them).
    pub fn install() -> Result<Interrupt> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| LabError::io("/", "install signal handlers", e))?;
        let i = Interrupt::default();
        let count = i.0.clone();
        std::thread::spawn(move || {
            for _ in signals.forever() {
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(i)
    }

    /// Signals received so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub fn raised(&self) -> bool {
        self.count() > 0
    }

    /// Counts one more, as a signal would (tests, and callers that stop on their own).
    pub fn raise(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
