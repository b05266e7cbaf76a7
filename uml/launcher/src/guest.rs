//! Running a guest kernel, and what its end means. A signal to umlrun stops the guest with the
//! clean stop of [`super::stop`].

use super::exit;
use super::hostfix::XstateFilter;
use super::mconsole::{Mconsole, Notice, Notifier};
use super::process::{is_zombie, pid_alive};
use super::stop::{stop, ChildTarget, StopReport, Target};
use super::{LaunchError, Result};
use nix::sys::signal::Signal;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

/// How a guest ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel exited with status 0 on its own: halt, poweroff, or reboot with `noreboot`.
    Halted,
    /// We stopped it on a signal; `clean` if it halted through the mconsole in time.
    Stopped { clean: bool, how: String },
    /// The kernel panicked.
    Panicked(String),
    /// The kernel died otherwise.
    Killed(String),
}

impl Outcome {
    /// `umlrun`'s exit status for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Halted | Outcome::Stopped { clean: true, .. } => exit::HALTED,
            Outcome::Panicked(_) => exit::PANIC,
            Outcome::Stopped { clean: false, .. } | Outcome::Killed(_) => exit::KILLED,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Halted => "halted".into(),
            Outcome::Stopped { clean: true, how } => format!("stopped cleanly ({how})"),
            Outcome::Stopped { clean: false, how } => format!("stopped, not cleanly ({how})"),
            Outcome::Panicked(m) if m.is_empty() => "kernel panic".into(),
            Outcome::Panicked(m) => format!("kernel panic: {m}"),
            Outcome::Killed(how) => format!("killed ({how})"),
        }
    }
}

/// What a kernel's exit status means when nobody asked it to stop.
pub fn classify(status: ExitStatus, panic: Option<&str>) -> Outcome {
    if let Some(m) = panic {
        return Outcome::Panicked(m.trim().to_string());
    }
    match (status.code(), status.signal()) {
        (Some(0), _) => Outcome::Halted,
        (_, Some(libc::SIGABRT)) | (Some(134), _) => Outcome::Panicked(String::new()),
        (_, Some(sig)) => Outcome::Killed(format!("signal {sig}")),
        (Some(1), _) => Outcome::Killed(
            "exit status 1: the kernel got SIGTERM or SIGINT directly and did not sync".into(),
        ),
        (Some(c), _) => Outcome::Killed(format!("exit status {c}")),
        (None, None) => Outcome::Killed("unknown status".into()),
    }
}
/// Everything needed to run a prepared kernel command line.
pub struct Launch {
    pub kernel: PathBuf,
    pub words: Vec<String>,
    pub filter: Option<XstateFilter>,
    /// The kernel reads the console from our stdin (else stdin is /dev/null).
    pub stdin: bool,
    /// Put the kernel in its own process group (so terminal signals reach only umlrun).
    pub own_group: bool,
    pub notifier: Option<Notifier>,
    /// Where the mconsole socket will be if no notice says otherwise.
    pub expected_socket: Option<PathBuf>,
    pub stop_timeout: Duration,
}

/// Starts the kernel, waits for it, and stops it cleanly when umlrun gets SIGINT, SIGTERM or
/// SIGHUP. A second signal during the stop kills the kernel at once.
pub fn run(launch: Launch, note: &mut dyn FnMut(&str)) -> Result<Outcome> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| LaunchError::io(&launch.kernel, "install signal handlers for", e))?;
    let mut cmd = Command::new(&launch.kernel);
    cmd.args(&launch.words);
    if !launch.stdin {
        cmd.stdin(Stdio::null());
    }
    if launch.own_group {
        cmd.process_group(0);
    }
    if let Some(f) = launch.filter {
        // SAFETY: `install` makes two system calls and allocates nothing (async-signal-safe).
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || f.install());
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| LaunchError::io(&launch.kernel, "start the kernel", e))?;
    let pid = child.id() as i32;
    let mut socket = launch.expected_socket.clone();
    let mut panic: Option<String> = None;
    let mut announced = false;
    let mut target = ChildTarget {
        child: &mut child,
        status: None,
        own_group: launch.own_group,
    };
    loop {
        if let Some(n) = &launch.notifier {
            while let Some(notice) = n.try_next() {
                match notice {
                    Notice::Socket(p) => {
                        if !announced {
                            let umid = p
                                .parent()
                                .and_then(Path::file_name)
                                .map(|u| u.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            note(&format!(
                                "guest {umid} is up (kernel pid {pid}, mconsole {}); stop it \
                                 with `umlrun --stop {umid}`",
                                p.display()
                            ));
                            announced = true;
                        }
                        socket = Some(p);
                    }
                    Notice::Panic(m) => panic = Some(m),
                    Notice::Hang => note("the guest reports a hang"),
                    Notice::User(_) | Notice::Other(..) => {}
                }
            }
        }
        if target.gone() {
            break;
        }
        if let Some(sig) = signals.pending().next() {
            note(&format!(
                "got {}; stopping the guest (timeout {:.0?})",
                signal_name(sig),
                launch.stop_timeout
            ));
            let mc = socket.as_deref().and_then(|s| Mconsole::new(s).ok());
            let mut on_note = |s: &str| note(s);
            let report = stop_with_escalation(
                mc.as_ref(),
                &mut target,
                launch.stop_timeout,
                &mut signals,
                &mut on_note,
            );
            while !target.gone() {
                std::thread::sleep(Duration::from_millis(20));
            }
            cleanup_umid_dir(socket.as_deref(), pid);
            return Ok(Outcome::Stopped {
                clean: report.clean && target.status.is_some_and(|s| s.code() == Some(0)),
                how: report.how,
            });
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    // Late notices (a panic message sent just before the exit).
    if let Some(n) = &launch.notifier {
        while let Some(notice) = n.try_next() {
            if let Notice::Panic(m) = notice {
                panic = Some(m);
            }
        }
    }
    let status = target.status.expect("gone means a status");
    cleanup_umid_dir(socket.as_deref(), pid);
    Ok(classify(status, panic.as_deref()))
}

/// The ladder, but a further signal during it kills the kernel at once.
fn stop_with_escalation(
    mc: Option<&Mconsole>,
    target: &mut ChildTarget<'_>,
    timeout: Duration,
    signals: &mut signal_hook::iterator::Signals,
    note: &mut dyn FnMut(&str),
) -> StopReport {
    struct Escalating<'a, 'b> {
        inner: &'a mut ChildTarget<'b>,
        signals: &'a mut signal_hook::iterator::Signals,
        killed: bool,
    }
    impl Target for Escalating<'_, '_> {
        fn gone(&mut self) -> bool {
            if !self.killed && self.signals.pending().next().is_some() {
                self.killed = true;
                self.inner.signal(Signal::SIGKILL);
            }
            self.inner.gone()
        }
        fn signal(&mut self, sig: Signal) {
            self.inner.signal(sig)
        }
    }
    let mut t = Escalating {
        inner: target,
        signals,
        killed: false,
    };
    let mut r = stop(mc, &mut t, timeout, note);
    if t.killed {
        r.clean = false;
        r.how.push_str(", killed on a second signal");
    }
    r
}

/// Removes `<uml_dir>/<umid>` if the kernel left it behind (it does after a kill or a crash).
pub fn cleanup_umid_dir(socket: Option<&Path>, pid: i32) {
    let Some(dir) = socket.and_then(Path::parent) else {
        return;
    };
    let recorded: Option<i32> = std::fs::read_to_string(dir.join("pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    if recorded == Some(pid) && (!pid_alive(pid) || is_zombie(pid)) {
        let _ = std::fs::remove_file(dir.join("mconsole"));
        let _ = std::fs::remove_file(dir.join("pid"));
        let _ = std::fs::remove_dir(dir);
    }
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_exit_codes() {
        let st = |raw: i32| ExitStatus::from_raw(raw);
        assert_eq!(classify(st(0), None), Outcome::Halted);
        assert_eq!(classify(st(0), None).exit_code(), 0);
        // Killed by SIGABRT: a panic.
        let p = classify(st(libc::SIGABRT), None);
        assert!(matches!(p, Outcome::Panicked(_)));
        assert_eq!(p.exit_code(), exit::PANIC);
        // A panic notice wins.
        assert_eq!(
            classify(st(1 << 8), Some("Attempted to kill init!\n")),
            Outcome::Panicked("Attempted to kill init!".into())
        );
        let k = classify(st(libc::SIGKILL), None);
        assert_eq!(k, Outcome::Killed("signal 9".into()));
        assert_eq!(k.exit_code(), exit::KILLED);
        assert!(matches!(classify(st(1 << 8), None), Outcome::Killed(_)));
        assert_eq!(
            Outcome::Stopped {
                clean: true,
                how: String::new()
            }
            .exit_code(),
            exit::HALTED
        );
        assert_eq!(
            Outcome::Stopped {
                clean: false,
                how: String::new()
            }
            .exit_code(),
            exit::KILLED
        );
    }
}
