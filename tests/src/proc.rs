//! Process helpers: deadlines, bounded waits, daemons that are not our children.

use std::os::fd::{AsRawFd, OwnedFd};
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

/// Everything a child wrote to a pipe (its stdout or stderr), collected by a background
/// thread. Every read of the pipe happens under the buffer's lock, and [`Capture::bytes`] first
/// drains the pipe itself: what the child wrote before the caller looks is always there, however
/// late the background thread is scheduled.
#[derive(Clone)]
pub struct Capture(Arc<CaptureInner>);

struct CaptureInner {
    fd: OwnedFd,
    buf: Mutex<(Vec<u8>, bool)>,
}

impl CaptureInner {
    /// Reads what the pipe holds now, without blocking, into the buffer (under its lock).
    fn drain(&self) {
        let mut guard = self.buf.lock().unwrap();
        let (buf, eof) = &mut *guard;
        let mut chunk = [0u8; 8192];
        while !*eof {
            // SAFETY: read(2) into a buffer we own, on a descriptor we own.
            let n =
                unsafe { libc::read(self.fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
            match n {
                0 => *eof = true,
                n if n > 0 => buf.extend_from_slice(&chunk[..n as usize]),
                _ => match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EAGAIN) => break,
                    _ => *eof = true,
                },
            }
        }
    }

    fn eof(&self) -> bool {
        self.buf.lock().unwrap().1
    }
}

impl Capture {
    /// Starts collecting what arrives on `pipe` until EOF.
    pub fn spawn(pipe: impl Into<OwnedFd>) -> Capture {
        let fd: OwnedFd = pipe.into();
        // Our end only: the writer's end of the pipe is a different open file.
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let inner = Arc::new(CaptureInner {
            fd,
            buf: Mutex::new((Vec::new(), false)),
        });
        let bg = inner.clone();
        thread::spawn(move || {
            while !bg.eof() {
                let mut pfd = libc::pollfd {
                    fd: bg.fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: poll(2) on one valid pollfd; a timeout so that a capture nobody
                // reads any more does not keep its thread forever.
                unsafe { libc::poll(&mut pfd, 1, 1000) };
                bg.drain();
                if Arc::strong_count(&bg) == 1 {
                    break;
                }
            }
        });
        Capture(inner)
    }
    /// Waits until the writer side is closed (all of it read), at most `limit`.
    pub fn wait_eof(&self, limit: Duration) -> bool {
        wait_until(limit, || {
            self.0.drain();
            self.0.eof()
        })
    }
    /// Everything written to the pipe so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.drain();
        self.0.buf.lock().unwrap().0.clone()
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }
    /// Waits until the text contains `needle`; the text either way.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> (bool, String) {
        let mut text = String::new();
        let found = wait_until(timeout, || {
            text = self.text();
            text.contains(needle)
        });
        (found, text)
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

/// The start time of process `pid` (clock ticks since boot, field 22 of `/proc/PID/stat`):
/// with the pid, it names one process even after the pid is reused.
pub fn pid_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" that ends the command name; the start time is the 20th of them.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The pid in a pid file, waiting up to `timeout` for it to appear and hold a complete number.
#[track_caller]
pub fn read_pidfile(path: &Path, timeout: Duration) -> i32 {
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
    pid.unwrap()
}

/// A daemonised process that is not our child (e.g. `vde_switch -d`), known by its pid and start
/// time: killed with SIGKILL on drop if that very process still runs.
pub struct DaemonGuard {
    pub pid: i32,
    start: Option<u64>,
}

impl DaemonGuard {
    pub fn new(pid: i32) -> DaemonGuard {
        DaemonGuard {
            pid,
            start: pid_start_time(pid),
        }
    }
    /// Guards for every process holding a socket bound to `path` (a daemon's listening socket:
    /// found through the socket, whatever the processes are called).
    pub fn holding_socket(path: &Path) -> Vec<DaemonGuard> {
        pids_holding_socket(path)
            .into_iter()
            .map(DaemonGuard::new)
            .collect()
    }
    /// True while the very process this guard was made for runs.
    pub fn alive(&self) -> bool {
        !pid_gone(self.pid) && pid_start_time(self.pid) == self.start
    }
    pub fn signal(&self, sig: i32) {
        assert!(self.alive(), "process {} is gone", self.pid);
        signal(self.pid, sig).unwrap_or_else(|e| panic!("kill({}, {sig}): {e}", self.pid));
    }
    /// Waits until the process is gone; false if it is still there after `timeout`.
    pub fn wait_gone(&self, timeout: Duration) -> bool {
        wait_until(timeout, || !self.alive())
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if self.alive() {
            let _ = signal(self.pid, libc::SIGKILL);
        }
    }
}

/// Inodes of the Unix sockets bound to `path` (from `/proc/net/unix`).
fn socket_inodes(path: &Path) -> Vec<u64> {
    let mut names = vec![path.display().to_string()];
    if let Ok(c) = path.canonicalize() {
        names.push(c.display().to_string());
    }
    std::fs::read_to_string("/proc/net/unix")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode Path
            (f.len() >= 8 && names.iter().any(|n| n == f[7]))
                .then(|| f[6].parse().ok())
                .flatten()
        })
        .collect()
}

/// Pids of the processes holding a socket bound to `path`.
pub fn pids_holding_socket(path: &Path) -> Vec<i32> {
    let links: Vec<String> = socket_inodes(path)
        .into_iter()
        .map(|i| format!("socket:[{i}]"))
        .collect();
    if links.is_empty() {
        return Vec::new();
    }
    let me = std::process::id() as i32;
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
                .filter(|&pid| pid != me)
                .filter(|pid| {
                    std::fs::read_dir(format!("/proc/{pid}/fd"))
                        .map(|fds| {
                            fds.filter_map(|e| e.ok()).any(|e| {
                                std::fs::read_link(e.path()).is_ok_and(|l| {
                                    links.iter().any(|s| l.as_os_str() == s.as_str())
                                })
                            })
                        })
                        .unwrap_or(false)
                })
                .collect()
        })
        .unwrap_or_default();
    pids.sort();
    pids
}

/// Writes a line straight to file descriptor 2, bypassing the test harness's output capture, so
/// that e.g. "SKIPPED ..." notes are visible in a normal `cargo test` run.
pub fn announce(msg: &str) {
    let line = format!("{msg}\n");
    // SAFETY: write(2) of a valid buffer.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// Makes `cmd` run in a private mount namespace where `/etc/vde2` shows the directory `dir`
/// (for tests of the system rc file `/etc/vde2/vde_switch.rc` that must not touch the real one).
/// Needs root; `/etc/vde2` must exist (Debian package vde2).
pub fn over_system_rc_dir(cmd: &mut Command, dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let src = std::ffi::CString::new(dir.as_os_str().as_bytes()).expect("path without NUL");
    let target = c"/etc/vde2";
    let root = c"/";
    // SAFETY: between fork and exec the closure makes only system calls (unshare, mount) on
    // strings prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let check = |r: libc::c_int| {
                if r == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ))
        });
    }
}

/// A running program in a process group of its own, stdout and stderr captured. The whole group
/// is killed (SIGKILL) and the program reaped on drop.
pub struct Spawned {
    pub child: Child,
    pub out: Capture,
    pub err: Capture,
    _stdin: Option<std::process::ChildStdin>,
    command: String,
}

impl Spawned {
    /// Starts `cmd`, its stdin as the caller set it.
    pub fn start(cmd: &mut Command) -> Spawned {
        use std::os::unix::process::CommandExt;
        let command = format!("{cmd:?}");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        let out = Capture::spawn(child.stdout.take().unwrap());
        let err = Capture::spawn(child.stderr.take().unwrap());
        Spawned {
            _stdin: child.stdin.take(),
            child,
            out,
            err,
            command,
        }
    }
    /// Like [`start`](Self::start) with stdin a pipe that stays open (some programs quit at
    /// the end of their stdin).
    pub fn start_with_open_stdin(cmd: &mut Command) -> Spawned {
        Spawned::start(cmd.stdin(Stdio::piped()))
    }
    /// Waits until stdout contains `needle`; false if it does not within `timeout`, or the
    /// program exits first.
    pub fn wait_stdout(&mut self, needle: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.out.text().contains(needle) || matches!(self.child.try_wait(), Ok(Some(_)))
        });
        self.out.text().contains(needle)
    }
    /// True while it runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// The command and everything it wrote, for assertion messages.
    pub fn log(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.out.text(),
            self.err.text()
        )
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group this guard created.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}
