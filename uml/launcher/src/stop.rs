//! Stopping a guest cleanly, whether we started it or not.
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

use super::mconsole::Mconsole;
use super::process::{is_zombie, pid_alive};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{getpgid, Pid};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Something we can stop: our child, or a process recorded in a umid directory.
pub trait Target {
    /// True once the kernel is gone.
    fn gone(&mut self) -> bool;
    /// Sends `sig` to the kernel (and its process group if it leads one).
    fn signal(&mut self, sig: Signal);
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
    fn signal(&mut self, sig: Signal) {
        if self.gone() {
            return;
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        if self.own_group && sig == Signal::SIGKILL {
            let _ = killpg(pid, sig);
        }
        let _ = kill(pid, sig);
    }
}

/// A kernel started by anyone, known by its pid.
pub struct PidTarget(pub i32);

impl Target for PidTarget {
    fn gone(&mut self) -> bool {
        !pid_alive(self.0) || is_zombie(self.0)
    }
    fn signal(&mut self, sig: Signal) {
        let pid = Pid::from_raw(self.0);
        if sig == Signal::SIGKILL && getpgid(Some(pid)) == Ok(pid) {
            let _ = killpg(pid, sig);
        }
        let _ = kill(pid, sig);
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
        target.signal(Signal::SIGTERM);
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
    target.signal(Signal::SIGKILL);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

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
