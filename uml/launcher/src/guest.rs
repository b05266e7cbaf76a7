//! Running a guest kernel, stopping it cleanly, and what its end means.
//!
//! The clean stop goes through the mconsole, since the kernel's own reaction to SIGTERM/SIGINT is
//! to exit at once without syncing (status 1) and `halt` does not sync either:
//! 1. `sysrq s` (emergency sync), then wait (at most 2 s) until `/proc/meminfo` shows no dirty or
//!    writeback pages;
//! 2. `sysrq u` (emergency remount read-only, which syncs each file system), then wait until no
//!    block-device file system is mounted read-write;
//! 3. `halt`, then wait for the kernel to exit;
//! 4. after the timeout, SIGKILL (and remove the umid directory it leaves behind).
//!
//! Without a reachable mconsole, steps 1-3 are replaced by SIGTERM.

use super::exit;
use super::hostfix::XstateFilter;
use super::mconsole::{Mconsole, Notice, Notifier};
use super::process::{is_zombie, pid_alive};
use super::{LaunchError, Result};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

/// Something we can stop: our child, or a process recorded in a umid directory.
pub trait Target {
    /// True once the kernel is gone.
    fn gone(&mut self) -> bool;
    /// Sends `sig` to the kernel (and its process group if it leads one).
    fn signal(&mut self, sig: i32);
}

/// A kernel we started.
pub struct ChildTarget<'a> {
    pub child: &'a mut Child,
    pub status: Option<ExitStatus>,
    pub own_group: bool,
}

impl Target for ChildTarget<'_> {
    fn gone(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_some()
    }
    fn signal(&mut self, sig: i32) {
        if self.gone() {
            return;
        }
        let pid = self.child.id() as i32;
        // SAFETY: signalling our own child (and the group it leads).
        unsafe {
            if self.own_group && sig == libc::SIGKILL {
                libc::kill(-pid, sig);
            }
            libc::kill(pid, sig);
        }
    }
}

/// A kernel started by anyone, known by its pid.
pub struct PidTarget(pub i32);

impl Target for PidTarget {
    fn gone(&mut self) -> bool {
        !pid_alive(self.0) || is_zombie(self.0)
    }
    fn signal(&mut self, sig: i32) {
        // SAFETY: plain kill(2) calls.
        unsafe {
            if sig == libc::SIGKILL && libc::getpgid(self.0) == self.0 {
                libc::kill(-self.0, sig);
            }
            libc::kill(self.0, sig);
        }
    }
}

/// How a stop went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopReport {
    /// The guest halted through the mconsole within the timeout.
    pub clean: bool,
    pub how: String,
}

/// Waits until `cond` or `target` is gone or `until`; true if `cond` held.
fn wait_for(
    target: &mut dyn Target,
    until: Instant,
    interval: Duration,
    mut cond: impl FnMut() -> bool,
) -> bool {
    loop {
        if cond() {
            return true;
        }
        if target.gone() || Instant::now() >= until {
            return false;
        }
        std::thread::sleep(interval.min(until.saturating_duration_since(Instant::now())));
    }
}

/// Pages not yet on disk, from the guest's `/proc/meminfo` (kB of Dirty + Writeback).
pub fn unsynced_kb(meminfo: &str) -> Option<u64> {
    let mut total = None;
    for l in meminfo.lines() {
        let mut it = l.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        if k == "Dirty:" || k == "Writeback:" {
            total = Some(total.unwrap_or(0) + v.parse::<u64>().ok()?);
        }
    }
    total
}

/// Block-device file systems still mounted read-write, from the guest's `/proc/mounts`.
pub fn rw_disk_mounts(mounts: &str) -> Vec<String> {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dev, dir, opts) = (f.first()?, f.get(1)?, f.get(3)?);
            (dev.starts_with("/dev/") && opts.split(',').any(|o| o == "rw"))
                .then(|| format!("{dev} on {dir}"))
        })
        .collect()
}

/// The stop ladder (see the module documentation). `note` receives progress lines.
pub fn stop(
    mc: Option<&Mconsole>,
    target: &mut dyn Target,
    timeout: Duration,
    note: &mut dyn FnMut(&str),
) -> StopReport {
    let start = Instant::now();
    let deadline = start + timeout;
    let at = |frac: f64| start + timeout.mul_f64(frac);
    let step = Duration::from_millis(100);
    let ask = |mc: &Mconsole, cmd: &str| {
        let left = deadline.saturating_duration_since(Instant::now());
        mc.command(cmd, left.min(Duration::from_secs(3)))
    };
    let mut how = Vec::new();
    let reachable =
        mc.filter(|m| !target.gone() && m.answers(Duration::from_secs(2).min(timeout / 2)));
    if let Some(mc) = reachable {
        note("syncing the guest's disks (sysrq s)");
        if ask(mc, "sysrq s").is_ok() {
            // The remount below syncs each file system anyway; this wait only gives the
            // emergency sync a head start (it can leave a few kB dirty until the next periodic
            // writeback, seen with a hung-up console).
            let until = at(0.4).min(Instant::now() + Duration::from_secs(2));
            let synced = wait_for(target, until, step, || {
                ask(mc, "proc meminfo")
                    .ok()
                    .and_then(|r| unsynced_kb(&r.text))
                    .is_some_and(|kb| kb == 0)
            });
            how.push(if synced { "synced" } else { "sync requested" });
        }
        note("remounting the guest's file systems read-only (sysrq u)");
        if ask(mc, "sysrq u").is_ok() {
            let ro = wait_for(target, at(0.7), step, || {
                ask(mc, "proc mounts").is_ok_and(|r| r.ok && rw_disk_mounts(&r.text).is_empty())
            });
            how.push(if ro {
                "remounted read-only"
            } else {
                "remount requested"
            });
        }
        note("halting the guest");
        if ask(mc, "halt").is_ok() || target.gone() {
            how.push("halted");
        }
        if wait_for(target, deadline, Duration::from_millis(20), || false) || target.gone() {
            return StopReport {
                clean: true,
                how: how.join(", "),
            };
        }
    } else if !target.gone() {
        note("the guest's mconsole does not answer; sending SIGTERM (no sync)");
        target.signal(libc::SIGTERM);
        how.push("SIGTERM without sync (no mconsole)");
        let until = deadline.min(Instant::now() + Duration::from_secs(3));
        if wait_for(target, until, Duration::from_millis(20), || false) || target.gone() {
            return StopReport {
                clean: false,
                how: how.join(", "),
            };
        }
    } else {
        return StopReport {
            clean: false,
            how: "it was already gone".into(),
        };
    }
    note(&format!(
        "the guest did not stop within {:.0?}; killing it",
        timeout
    ));
    target.signal(libc::SIGKILL);
    wait_for(
        target,
        Instant::now() + Duration::from_secs(5),
        step,
        || false,
    );
    how.push("killed after the timeout");
    StopReport {
        clean: false,
        how: how.join(", "),
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
                self.inner.signal(libc::SIGKILL);
            }
            self.inner.gone()
        }
        fn signal(&mut self, sig: i32) {
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

    #[test]
    fn meminfo_and_mounts() {
        let m = "MemTotal: 90000 kB\nDirty:   12 kB\nWriteback:  4 kB\n";
        assert_eq!(unsynced_kb(m), Some(16));
        assert_eq!(unsynced_kb("Dirty: 0 kB\nWriteback: 0 kB\n"), Some(0));
        assert_eq!(unsynced_kb("nothing"), None);
        let mounts = "/dev/root / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n\
                      /dev/ubdb /mnt ext4 ro,relatime 0 0\n";
        assert_eq!(rw_disk_mounts(mounts), ["/dev/root on /"]);
        assert!(rw_disk_mounts(&mounts.replace("rw,relatime", "ro,relatime")).is_empty());
    }

    /// A process without a mconsole: SIGTERM ends it.
    #[test]
    fn stop_without_mconsole_sends_sigterm() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let mut t = ChildTarget {
            child: &mut child,
            status: None,
            own_group: false,
        };
        let mut notes = Vec::new();
        let r = stop(None, &mut t, Duration::from_secs(5), &mut |s| {
            notes.push(s.to_string())
        });
        assert!(!r.clean);
        assert!(t.gone());
        assert_eq!(t.status.unwrap().signal(), Some(libc::SIGTERM));
        assert!(notes[0].contains("SIGTERM"), "{notes:?}");
    }

    /// A process that ignores SIGTERM is killed after the timeout.
    #[test]
    fn stop_kills_after_the_timeout() {
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; exec sleep 30"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut t = ChildTarget {
            child: &mut child,
            status: None,
            own_group: false,
        };
        let started = Instant::now();
        let r = stop(None, &mut t, Duration::from_millis(600), &mut |_| {});
        assert!(!r.clean);
        assert!(r.how.contains("killed"), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(t.status.unwrap().signal(), Some(libc::SIGKILL));
    }
}
