//! Readiness for service managers that start the switch with `NOTIFY_SOCKET` set (systemd's
//! `Type=notify`): `READY=1` once the control socket accepts clients, `STATUS=` with the ports
//! in use (updated when the count changes, checked once a second), `STOPPING=1` when the switch
//! starts to shut down. Without `NOTIFY_SOCKET` every function returns at once and nothing
//! changes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use sd_notify::NotifyState;

use crate::fabric::Fabric;
use crate::log_warn;

/// The port count last reported (`usize::MAX`: none yet, or not ready).
static REPORTED: AtomicUsize = AtomicUsize::new(usize::MAX);

fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()))
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        // Once: a service manager that went away does not fill the log.
        static WARNED: OnceLock<()> = OnceLock::new();
        if WARNED.set(()).is_ok() {
            log_warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
        }
    }
}

fn in_use(fabric: &Fabric) -> usize {
    fabric.ports().filter(|(_, p)| p.is_active()).count()
}

fn status(in_use: usize, fabric: &Fabric) -> String {
    format!("{in_use} of {} ports in use", fabric.numports())
}

/// The control socket is listening and the switch is about to serve it.
pub fn ready(fabric: &Fabric) {
    if !enabled() {
        return;
    }
    let n = in_use(fabric);
    REPORTED.store(n, Ordering::Relaxed);
    send(&[NotifyState::Ready, NotifyState::Status(&status(n, fabric))]);
}

/// Report the ports in use when their number changed since the last report.
pub fn ports_changed(fabric: &Fabric) {
    if !enabled() {
        return;
    }
    let last = REPORTED.load(Ordering::Relaxed);
    let n = in_use(fabric);
    if last == usize::MAX || last == n {
        return;
    }
    REPORTED.store(n, Ordering::Relaxed);
    send(&[NotifyState::Status(&status(n, fabric))]);
}

/// The switch stops serving and cleans up.
pub fn stopping() {
    if enabled() {
        send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }
}
