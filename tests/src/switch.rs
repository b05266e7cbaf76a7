//! The [`Switch`] guard: a running `vde_switch` (or `uml_switch`) in a fresh temporary directory.

use crate::bins;
use crate::proc::{self, wait_child_timeout, wait_until, Capture};
use std::ffi::OsString;
use std::fmt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// Which program (and so which command line and readiness check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `vde_switch -s DIR ...`; ready when `DIR/ctl` accepts connections.
    Vde,
    /// `uml_switch -unix CTL ...`; ready when `CTL` accepts connections.
    Uml,
}

/// Builds a [`Switch`]; see [`Switch::builder`].
pub struct SwitchBuilder {
    bin: PathBuf,
    kind: Kind,
    args: Vec<OsString>,
    sock: Option<PathBuf>,
    rc: Option<String>,
    home_rc: Option<String>,
    system_rc: Option<Option<String>>,
    ready_timeout: Duration,
}

/// A running switch. Its stdin is a pipe that is kept open and never written (the reference
/// `vde_switch` exits on stdin EOF). Killed (SIGKILL) and reaped on drop; its temporary directory
/// (if it made one) is removed afterwards.
///
/// The switch is isolated from the configuration of whoever runs the tests: its `HOME` is a
/// private directory, and it reads no system rc file (see [`crate::bins::vde_switch_command`]).
pub struct Switch {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Capture,
    stderr: Capture,
    kind: Kind,
    dir: PathBuf,
    ctl: PathBuf,
    scratch: PathBuf,
    exited: Option<ExitStatus>,
    // Declared last: removed after the process is gone.
    _home: TempDir,
    _tmp: Option<TempDir>,
}

/// Why [`SwitchBuilder::try_start`] failed.
#[derive(Debug)]
pub struct StartFailure {
    pub command: String,
    /// Exit status, or `None` if it was still running but never became ready.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "`{}` exited before it was ready ({s})", self.command)?,
            None => write!(f, "`{}` did not become ready in time", self.command)?,
        }
        write!(
            f,
            "\n--- stderr ---\n{}--- stdout ---\n{}",
            self.stderr, self.stdout
        )
    }
}

impl Switch {
    /// Builder for the `vde_switch` under test.
    pub fn builder() -> SwitchBuilder {
        SwitchBuilder::new(bins::vde_switch_bin(), Kind::Vde)
    }
    /// Builder for the reference `/usr/bin/vde_switch`, whatever is under test.
    pub fn reference_builder() -> SwitchBuilder {
        SwitchBuilder::new(PathBuf::from(bins::REFERENCE_VDE_SWITCH), Kind::Vde)
    }
    /// Builder for the `uml_switch` under test.
    pub fn uml_builder() -> SwitchBuilder {
        SwitchBuilder::new(bins::uml_switch_bin(), Kind::Uml)
    }
    /// The `vde_switch` under test with default options, in a fresh directory.
    pub fn start() -> Switch {
        Switch::builder().start()
    }
    /// The `vde_switch` under test with extra options, in a fresh directory.
    pub fn with_args(args: &[&str]) -> Switch {
        Switch::builder().args(args).start()
    }

    /// The switch directory (`-s`), or for `uml_switch` the directory holding its ctl socket.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The control socket: `DIR/ctl`, or the `-unix` path of `uml_switch`.
    pub fn ctl(&self) -> &Path {
        &self.ctl
    }
    /// A scratch directory that lives as long as the switch (outside the switch directory).
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    /// Everything the switch wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }
    /// Waits until the switch's stderr contains `needle` (log lines may be written a moment
    /// after the event that causes them); panics with the whole log if it does not within
    /// [`SETTLE`](crate::SETTLE). Returns the log.
    #[track_caller]
    pub fn expect_log(&self, needle: &str) -> String {
        let (found, text) = self.stderr.wait_for(needle, crate::SETTLE);
        assert!(
            found,
            "the switch did not log {needle:?} within {:?}; its stderr:\n{text}",
            crate::SETTLE
        );
        text
    }
    /// Everything the switch wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }
    /// Names of the data socket files `NNN.M` currently in the switch directory, sorted.
    pub fn data_sockets(&self) -> Vec<String> {
        data_sockets(&self.dir)
    }
    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.poll_exit().is_none()
    }
    fn poll_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("try_wait");
        }
        self.exited
    }
    /// Sends `sig` to the switch.
    pub fn signal(&self, sig: i32) {
        proc::signal(self.pid(), sig).expect("kill");
    }
    /// Waits for the switch to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = wait_child_timeout(&mut self.child, timeout);
        }
        self.exited
    }
    /// SIGKILL and reap (leaves the directory and its stale sockets in place).
    pub fn kill_hard(&mut self) {
        if self.poll_exit().is_none() {
            let _ = self.child.kill();
            self.exited = Some(self.child.wait().expect("wait"));
        }
    }
    /// Closes the switch's stdin (the console sees EOF).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }
    /// Keeps the temporary directory (if any) alive beyond the switch: returns it.
    pub fn take_tempdir(&mut self) -> Option<TempDir> {
        self._tmp.take()
    }
    /// Panics with the switch's logs if it is no longer running.
    pub fn assert_running(&mut self, context: &str) {
        if let Some(st) = self.poll_exit() {
            panic!(
                "{context}: the switch exited ({st})\n--- stderr ---\n{}",
                self.stderr()
            );
        }
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// Names of the data socket files (`NNN.M`, e.g. `001.6`) in `dir`, sorted.
pub fn data_sockets(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| is_data_socket_name(n))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Identity of a data socket file: name, inode number and birth time. A file re-created under
/// the same name (the switch unlinks and re-binds, e.g. over a stale one) counts as new even if
/// the inode number is reused; a `chmod` (vdeplug4 chmods the switch's socket after connecting)
/// does not change it.
pub type DataSocketId = (String, u64, Option<std::time::SystemTime>);

/// The data socket files of `dir` with their identities.
pub fn data_socket_ids(dir: &Path) -> std::collections::BTreeSet<DataSocketId> {
    use std::os::unix::fs::MetadataExt;
    data_sockets(dir)
        .into_iter()
        .filter_map(|n| {
            std::fs::symlink_metadata(dir.join(&n))
                .ok()
                .map(|m| (n, m.ino(), m.created().ok()))
        })
        .collect()
}

/// Names of vdeplug4 client sockets (`.PPPPP-NNNNN`) in `dir`: each exists from the client's
/// `bind` until its handshake is complete (it unlinks it after connecting and chmod'ing).
pub fn client_sockets(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.strip_prefix('.')
                        .and_then(|r| r.split_once('-'))
                        .is_some_and(|(p, c)| {
                            !p.is_empty()
                                && !c.is_empty()
                                && p.bytes().all(|b| b.is_ascii_digit())
                                && c.bytes().all(|b| b.is_ascii_digit())
                        })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `NNN.M`: at least three digits (the port), a dot, digits (an fd number).
pub fn is_data_socket_name(n: &str) -> bool {
    match n.split_once('.') {
        Some((port, fd)) => {
            port.len() >= 3
                && port.bytes().all(|b| b.is_ascii_digit())
                && !fd.is_empty()
                && fd.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The port number encoded in a data socket file name (`"007.12"` -> 7).
pub fn port_of_data_socket(n: &str) -> Option<u32> {
    n.split_once('.').and_then(|(p, _)| p.parse().ok())
}

/// True if a stream connection to `path` succeeds right now.
pub fn accepts_connections(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

impl SwitchBuilder {
    fn new(bin: PathBuf, kind: Kind) -> SwitchBuilder {
        SwitchBuilder {
            bin,
            kind,
            args: Vec::new(),
            sock: None,
            rc: None,
            home_rc: None,
            system_rc: None,
            ready_timeout: Duration::from_secs(10),
        }
    }
    /// Adds one command-line argument (after `-s DIR` / `-unix CTL`).
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    /// Uses this switch directory (`vde_switch`) or ctl socket path (`uml_switch`) instead of a
    /// fresh temporary one. The caller owns it.
    pub fn sock(mut self, p: impl Into<PathBuf>) -> Self {
        self.sock = Some(p.into());
        self
    }
    /// Writes `contents` to `switch.rc` in the scratch directory and passes `-f <that file>`
    /// (the file lives as long as the switch).
    pub fn rc(mut self, contents: &str) -> Self {
        self.rc = Some(contents.to_string());
        self
    }
    /// Writes `contents` to `~/.vde2/vde_switch.rc` of the switch's private HOME (the reference
    /// then gets no empty `-f`, which would replace it).
    pub fn home_rc(mut self, contents: &str) -> Self {
        self.home_rc = Some(contents.to_string());
        self
    }
    /// Runs the switch in a private mount namespace where `/etc/vde2` is a directory of ours
    /// holding `vde_switch.rc` with `contents` (none if `None`), and passes no option about rc
    /// files (the test gives its own). Needs root.
    pub fn system_rc(mut self, contents: Option<&str>) -> Self {
        self.system_rc = Some(contents.map(str::to_string));
        self
    }
    pub fn ready_timeout(mut self, d: Duration) -> Self {
        self.ready_timeout = d;
        self
    }
    /// Starts the switch and waits until its control socket accepts connections; panics with
    /// the switch's output if it does not.
    pub fn start(self) -> Switch {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }
    /// Like [`start`](Self::start), returning the failure instead of panicking.
    pub fn try_start(self) -> Result<Switch, StartFailure> {
        let (tmp, sock) = match self.sock {
            Some(s) => (None, s),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("vdet-")
                    .tempdir()
                    .expect("tempdir");
                let s = match self.kind {
                    Kind::Vde => t.path().join("sw"),
                    Kind::Uml => t.path().join("uml.ctl"),
                };
                (Some(t), s)
            }
        };
        let (dir, ctl) = match self.kind {
            Kind::Vde => (sock.clone(), sock.join("ctl")),
            Kind::Uml => (sock.parent().unwrap().to_path_buf(), sock.clone()),
        };
        let scratch = match &tmp {
            Some(t) => t.path().to_path_buf(),
            None => dir.parent().unwrap_or(Path::new("/tmp")).to_path_buf(),
        };
        let home = tempfile::Builder::new()
            .prefix("vdet-home-")
            .tempdir()
            .expect("tempdir");
        if let Some(rc) = &self.home_rc {
            std::fs::create_dir(home.path().join(".vde2")).expect("mkdir ~/.vde2");
            std::fs::write(home.path().join(".vde2/vde_switch.rc"), rc).expect("write home rc");
        }
        // Our --ignore-system-rc leaves HOME's rc file alone; the reference's `-f /dev/null`
        // would replace it.
        let isolate = self.system_rc.is_none()
            && (self.home_rc.is_none() || !bins::is_reference_bin(&self.bin));
        let mut cmd = match self.kind {
            Kind::Vde => bins::vde_switch_command(&self.bin, home.path(), isolate),
            Kind::Uml => bins::uml_switch_command(&self.bin, home.path()),
        };
        if let Some(contents) = &self.system_rc {
            let etc = home.path().join("etc-vde2");
            std::fs::create_dir(&etc).expect("mkdir etc-vde2");
            if let Some(c) = contents {
                std::fs::write(etc.join("vde_switch.rc"), c).expect("write system rc");
            }
            proc::over_system_rc_dir(&mut cmd, &etc);
        }
        match self.kind {
            Kind::Vde => cmd.arg("-s").arg(&sock),
            Kind::Uml => cmd.arg("-unix").arg(&sock),
        };
        if let Some(rc) = &self.rc {
            let path = scratch.join("switch.rc");
            std::fs::write(&path, rc).expect("write rc file");
            cmd.arg("-f").arg(path);
        }
        cmd.args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        let stdin = child.stdin.take();
        let stdout = Capture::spawn(child.stdout.take().unwrap());
        let stderr = Capture::spawn(child.stderr.take().unwrap());
        let mut sw = Switch {
            child,
            stdin,
            stdout,
            stderr,
            kind: self.kind,
            dir,
            ctl,
            scratch,
            exited: None,
            _home: home,
            _tmp: tmp,
        };
        let ctl = sw.ctl.clone();
        let ready = wait_until(self.ready_timeout, || {
            sw.poll_exit().is_some() || accepts_connections(&ctl)
        });
        if !ready || sw.poll_exit().is_some() {
            let status = sw.wait_exit(Duration::from_millis(200));
            if status.is_none() {
                sw.kill_hard();
            }
            sw.stdout.wait_eof(Duration::from_secs(2));
            sw.stderr.wait_eof(Duration::from_secs(2));
            return Err(StartFailure {
                command,
                status,
                stdout: sw.stdout(),
                stderr: sw.stderr(),
            });
        }
        Ok(sw)
    }
}
