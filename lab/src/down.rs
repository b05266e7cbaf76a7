//! Stopping a lab: every guest cleanly through its mconsole (umlrun does it on SIGTERM: sync,
//! remount read-only, halt), then whatever is left is killed, then the switches stop and the
//! runtime directory goes. Also what `up` does when it fails or is interrupted half-way.

use crate::error::Result;
use crate::guest;
use crate::interrupt::Interrupt;
use crate::layout::Layout;
use crate::lock;
use crate::proc;
use crate::state::State;
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use uml_launcher::mconsole::Mconsole;
use uml_launcher::stop::PidTarget;

/// Extra time, beyond umlrun's own stop timeout, before vdelab kills a guest itself.
const GRACE: Duration = Duration::from_secs(10);
/// How long switches and killed processes may take to go.
const SHORT: Duration = Duration::from_secs(5);

/// `vdelab down`.
pub fn down(
    layout: &Layout,
    timeout: Option<Duration>,
    intr: &Interrupt,
    out: &mut dyn FnMut(&str),
) -> Result<()> {
    let _lock = lock::lab(layout)?;
    match State::load(&layout.state_file())? {
        Some(state) => stop_all(layout, &state, timeout, intr, out),
        None => {
            out("the lab is not running");
            remove_runtime(layout);
        }
    }
    Ok(())
}

/// True if any process of `state` still runs.
pub fn anything_runs(layout: &Layout, state: &State) -> bool {
    let mark = mark(layout);
    state
        .hosts
        .iter()
        .any(|h| proc::ours(h.umlrun_pid, &mark) || kernel_runs(layout, &h.name))
        || state.switches.iter().any(|s| proc::ours(s.pid, &mark))
        || state.keeper_pid.is_some_and(|k| proc::ours(k, &mark))
}

/// What the command line of every process of the lab contains: its runtime directory.
pub fn mark(layout: &Layout) -> String {
    layout.run.to_string_lossy().into_owned()
}

fn kernel_runs(layout: &Layout, host: &str) -> bool {
    guest::kernel_pid(layout, host).is_some_and(|k| proc::ours(k, &mark(layout)))
}

/// Stops everything `state` names, and removes the runtime directory and the boot marks.
/// `timeout`: how long guests get to stop cleanly before they are killed (default: umlrun's
/// own stop timeout plus a grace period). A further signal in `intr` kills at once.
pub fn stop_all(
    layout: &Layout,
    state: &State,
    timeout: Option<Duration>,
    intr: &Interrupt,
    out: &mut dyn FnMut(&str),
) {
    let mark = mark(layout);
    let signals_before = intr.count();
    let limit =
        timeout.unwrap_or_else(|| Duration::from_secs_f64(state.stop_timeout.max(0.5)) + GRACE);
    let started = Instant::now();
    let mut waiting = Vec::new();
    let mut orphans = Vec::new();
    for h in &state.hosts {
        let kernel = guest::kernel_pid(layout, &h.name).filter(|&k| proc::ours(k, &mark));
        if proc::signal(h.umlrun_pid, &mark, Signal::SIGTERM) {
            waiting.push(h.umlrun_pid);
            waiting.extend(kernel);
        } else if let Some(k) = kernel {
            // Its umlrun is gone: stop the kernel the way umlrun would have.
            orphans.push((h.name.clone(), k));
        }
    }
    if !waiting.is_empty() || !orphans.is_empty() {
        out(&format!(
            "stopping {} guest{} (sync, remount read-only, halt; killed after {limit:.0?})",
            state.hosts.len(),
            if state.hosts.len() == 1 { "" } else { "s" }
        ));
    }
    std::thread::scope(|s| {
        for (name, k) in &orphans {
            let socket = layout.mconsole(name);
            s.spawn(move || {
                let mc = Mconsole::new(&socket).ok();
                uml_launcher::stop::stop(mc.as_ref(), &mut PidTarget(*k), limit, &mut |_| {});
            });
        }
        proc::wait_gone(&waiting, started + limit, || intr.count() > signals_before);
    });
    let mut killed = Vec::new();
    for h in &state.hosts {
        let kernel = guest::kernel_pid(layout, &h.name);
        let alive = proc::ours(h.umlrun_pid, &mark) || kernel.is_some_and(|k| proc::ours(k, &mark));
        if alive {
            if let Some(k) = kernel {
                proc::kill_group(k, &mark);
            }
            proc::kill_group(h.umlrun_pid, &mark);
            killed.push(h.name.as_str());
        }
    }
    let all: Vec<i32> = state
        .hosts
        .iter()
        .flat_map(|h| [Some(h.umlrun_pid), guest::kernel_pid(layout, &h.name)])
        .flatten()
        .collect();
    proc::wait_gone(&all, Instant::now() + SHORT, || false);
    for h in &state.hosts {
        if let Some(k) = guest::kernel_pid(layout, &h.name) {
            uml_launcher::guest::cleanup_umid_dir(Some(&layout.mconsole(&h.name)), k);
        }
        let how = if killed.contains(&h.name.as_str()) {
            format!("killed (it did not stop within {limit:.0?})")
        } else {
            how_it_ended(layout, &h.name)
        };
        out(&format!("{}: {how}", h.name));
    }
    if let Some(k) = state.keeper_pid {
        proc::signal(k, &mark, Signal::SIGTERM);
        for pid in proc::wait_gone(&[k], Instant::now() + SHORT, || false) {
            proc::kill_group(pid, &mark);
        }
    }
    let switches: Vec<i32> = state
        .switches
        .iter()
        .filter(|s| proc::signal(s.pid, &mark, Signal::SIGTERM))
        .map(|s| s.pid)
        .collect();
    for pid in proc::wait_gone(&switches, Instant::now() + SHORT, || false) {
        proc::kill_group(pid, &mark);
    }
    proc::wait_gone(&switches, Instant::now() + SHORT, || false);
    remove_runtime(layout);
    out("the lab is stopped");
}

/// What umlrun's last line says about the guest's end (`guest stopped cleanly (...)`).
fn how_it_ended(layout: &Layout, host: &str) -> String {
    proc::log_tail(&layout.host_log(host), 40)
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("umlrun: guest "))
        .find(|l| !l.contains(" is up ("))
        .map(str::to_string)
        .unwrap_or_else(|| "stopped".into())
}

/// Removes the runtime directory and the boot marks (the guests' own files are long closed).
pub fn remove_runtime(layout: &Layout) {
    let _ = std::fs::remove_dir_all(&layout.run);
    // The base directory is shared by all labs: removed only when empty.
    if let Some(base) = layout.run.parent() {
        let _ = std::fs::remove_dir(base);
    }
    if let Ok(rd) = std::fs::read_dir(layout.ready()) {
        for e in rd.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
