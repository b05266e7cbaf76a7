//! Process helpers: deadlines, bounded waits, daemons that are not our children.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A point in time after which a wait gives up.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(d: Duration) -> Deadline {
        Deadline(Instant::now() + d)
    }
    pub fn expired(&self) -> bool {
        Instant::now() >= self.0
    }
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }
}

/// Polls `cond` every few milliseconds until it returns true (-> true) or `timeout` passes
/// (-> false). Never sleeps longer than needed beyond one short poll interval.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Deadline::after(timeout);
    loop {
        if cond() {
            return true;
        }
        if deadline.expired() {
            return false;
        }
        thread::sleep(Duration::from_millis(10).min(deadline.remaining()));
    }
}

/// Waits for a child to exit, at most `timeout`. `None` if it is still running.
pub fn wait_child_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    status
}

/// A byte buffer filled by a background thread reading a pipe (stdout/stderr of a child).
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<(Vec<u8>, bool)>>);

impl Capture {
    /// Starts a thread that appends everything read from `r` until EOF.
    pub fn spawn(mut r: impl Read + Send + 'static) -> Capture {
        let c = Capture::default();
        let buf = c.0.clone();
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.lock().unwrap().0.extend_from_slice(&chunk[..n]),
                }
            }
            buf.lock().unwrap().1 = true;
        });
        c
    }
    /// Waits until the writer side is closed (all of it read), at most `limit`. A loaded
    /// machine may take a while to schedule the reading thread after the process exits.
    pub fn wait_eof(&self, limit: Duration) -> bool {
        wait_until(limit, || self.0.lock().unwrap().1)
    }
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().0.clone()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
}

/// Result of [`run_with_timeout`].
#[derive(Debug)]
pub struct Finished {
    /// `None` if the process had to be killed at the deadline.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with stdin a pipe that stays open and is never written (so programs that quit on
/// stdin EOF do not), capturing stdout and stderr. Kills it if it has not exited after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Finished {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let _stdin = child.stdin.take();
    let out = Capture::spawn(child.stdout.take().unwrap());
    let err = Capture::spawn(child.stderr.take().unwrap());
    let status = wait_child_timeout(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // Read what is left in the pipes. A daemon the command started may hold them open:
    // then give up after a moment (its output is not the command's).
    let drain = Duration::from_secs(if status.is_some() { 5 } else { 1 });
    out.wait_eof(drain);
    err.wait_eof(drain);
    Finished {
        status,
        stdout: out.text(),
        stderr: err.text(),
    }
}

/// True if no process `pid` exists any more (or it is a zombie: daemons are reparented to a
/// pid 1 that may not reap them).
pub fn pid_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // "pid (comm) S ...": the state follows the last ')'.
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            matches!(state.and_then(|s| s.chars().next()), Some('Z') | Some('X'))
        }
    }
}

/// The command line of process `pid`, arguments joined by spaces ("" if gone).
pub fn pid_cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Sends `sig` to `pid`.
pub fn signal(pid: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: plain syscall.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A daemonised process that is not our child (e.g. `vde_switch -d`): killed with SIGKILL on drop
/// if it is still alive and its command line still contains `marker` (guards against pid reuse).
pub struct DaemonGuard {
    pub pid: i32,
    marker: String,
}

impl DaemonGuard {
    pub fn new(pid: i32, marker: impl Into<String>) -> DaemonGuard {
        DaemonGuard {
            pid,
            marker: marker.into(),
        }
    }
    /// Reads a pid file (waiting up to `timeout` for it to appear and hold a complete number).
    pub fn from_pidfile(path: &Path, marker: &str, timeout: Duration) -> DaemonGuard {
        let mut pid = None;
        let found = wait_until(timeout, || {
            pid = std::fs::read_to_string(path)
                .ok()
                .filter(|s| s.ends_with('\n'))
                .and_then(|s| s.trim().parse::<i32>().ok());
            pid.is_some()
        });
        assert!(
            found,
            "pid file {} did not appear (with a pid and a newline) within {timeout:?}",
            path.display()
        );
        DaemonGuard::new(pid.unwrap(), marker)
    }
    pub fn alive(&self) -> bool {
        !pid_gone(self.pid)
    }
    pub fn signal(&self, sig: i32) {
        signal(self.pid, sig).unwrap_or_else(|e| panic!("kill({}, {sig}): {e}", self.pid));
    }
    /// Waits until the process is gone; false if it is still there after `timeout`.
    pub fn wait_gone(&self, timeout: Duration) -> bool {
        wait_until(timeout, || pid_gone(self.pid))
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if self.alive() && pid_cmdline(self.pid).contains(&self.marker) {
            let _ = signal(self.pid, libc::SIGKILL);
        }
    }
}

/// Writes a line straight to file descriptor 2, bypassing the test harness's output capture, so
/// that e.g. "SKIPPED ..." notes are visible in a normal `cargo test` run.
pub fn announce(msg: &str) {
    let line = format!("{msg}\n");
    // SAFETY: write(2) of a valid buffer.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// Pids of the processes whose command line contains `marker` (for cleaning up daemons whose
/// pid we were not told).
pub fn pids_with_cmdline(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
                .filter(|&pid| pid != me && !pid_gone(pid) && pid_cmdline(pid).contains(marker))
                .collect()
        })
        .unwrap_or_default()
}
