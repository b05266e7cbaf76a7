//! The lab's processes: started in their own process group (a Ctrl-C in the terminal reaches
//! only vdelab, which stops them properly), their output in a log file, and later known by pid.
//! Before a signal is sent to a recorded pid, its command line must still name the lab's runtime
//! directory, so a pid reused by an unrelated process is never hit.

use crate::error::{LabError, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uml_launcher::process::{is_zombie, pid_alive};

/// Starts `cmd` with stdin from /dev/null and stdout and stderr to `log` (truncated).
pub fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Child> {
    let prog = cmd.get_program().to_owned();
    let out = std::fs::File::create(log).map_err(|e| LabError::io(log, "create", e))?;
    let err = out.try_clone().map_err(|e| LabError::io(log, "open", e))?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::io(prog, "start", e))
}

use std::os::unix::process::CommandExt;

/// The process exists and has not exited (a zombie has).
pub fn running(pid: i32) -> bool {
    pid > 0 && pid_alive(pid) && !is_zombie(pid)
}

/// `pid` runs and its command line contains `mark`.
pub fn ours(pid: i32, mark: &str) -> bool {
    running(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .contains(mark)
        })
}

/// Sends `sig` to `pid` if it is [`ours`].
pub fn signal(pid: i32, mark: &str, sig: Signal) -> bool {
    ours(pid, mark) && kill(Pid::from_raw(pid), sig).is_ok()
}

/// SIGKILL to the process group `pid` leads (a guest kernel and its processes), if [`ours`].
pub fn kill_group(pid: i32, mark: &str) {
    if ours(pid, mark) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Waits until none of `pids` runs, or `until`, or `stop()` says so; the pids still running.
pub fn wait_gone(pids: &[i32], until: Instant, mut stop: impl FnMut() -> bool) -> Vec<i32> {
    loop {
        let left: Vec<i32> = pids.iter().copied().filter(|&p| running(p)).collect();
        if left.is_empty() || Instant::now() >= until || stop() {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The last non-empty lines of a log file (for error messages).
pub fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let v: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_are_checked_before_signals() {
        let t = tempfile::tempdir().unwrap();
        let log = t.path().join("log");
        let mut c = spawn_logged(
            Command::new("sh").args(["-c", "echo started; exec sleep 30"]),
            &log,
        )
        .unwrap();
        let pid = c.id() as i32;
        let until = Instant::now() + Duration::from_secs(30);
        while log_tail(&log, 1) != "started" && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(ours(pid, "sleep 30"));
        assert!(!ours(pid, "another mark"));
        assert!(!signal(pid, "another mark", Signal::SIGTERM));
        assert!(signal(pid, "sleep", Signal::SIGTERM));
        c.wait().unwrap();
        assert!(!running(pid));
        assert!(wait_gone(&[pid], Instant::now(), || false).is_empty());
        assert_eq!(log_tail(&log, 3), "started");
    }
}
