//! The [`Plug`] guard (`vde_plug DIR` with the LAN on its stdin/stdout as 2-byte big-endian length +
//! frame) and the [`Cable`] guard (`dpipe vde_plug A = vde_plug B`).

use crate::frame::hex;
use crate::proc::{wait_until, Capture, Spawned};
use crate::switch::{client_sockets, data_socket_ids, port_of_data_socket, DataSocketId, Switch};
use crate::SETTLE;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// What [`Plug::recv`] got.
#[derive(Debug)]
pub enum Recv {
    Frame(Vec<u8>),
    Timeout,
    /// vde_plug closed its stdout.
    Closed,
}

/// A running `vde_plug` attached to a switch.
pub struct Plug {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Vec<u8>>,
    stderr: Capture,
    /// The switch port it got (from the name of its data socket file `NNN.M`).
    pub port: u32,
    /// The name of the switch-side data socket file created for it.
    pub data_socket: String,
    url: String,
}

impl Plug {
    /// `vde_plug DIR` on any free port.
    pub fn attach(sw: &Switch) -> Plug {
        Plug::attach_url(sw.dir(), &sw.dir().display().to_string())
    }
    /// [`Plug::attach`]; when that fails, the panic shows the switch's last 40 log lines,
    /// leaving out those containing `skip` (a flood's own lines, say).
    pub fn attach_or_show_log(sw: &Switch, skip: &str) -> Plug {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Plug::attach(sw))).unwrap_or_else(
            |_| {
                let all = sw.stderr();
                let mut log: Vec<&str> = all
                    .lines()
                    .rev()
                    .filter(|l| skip.is_empty() || !l.contains(skip))
                    .take(40)
                    .collect();
                log.reverse();
                panic!(
                    "vde_plug was not attached; the switch's last log lines:\n{}",
                    log.join("\n")
                )
            },
        )
    }
    /// `vde_plug 'vde://DIR[port]'`.
    pub fn attach_port(sw: &Switch, port: u32) -> Plug {
        let p = Plug::attach_url(sw.dir(), &format!("vde://{}[{port}]", sw.dir().display()));
        assert_eq!(p.port, port, "vde_plug asked for port {port} got another");
        p
    }
    /// `vde_plug URL`, where URL reaches the switch whose directory is `dir`. Returns once the
    /// switch has created the plug's data socket (its port is attached).
    pub fn attach_url(dir: &Path, url: &str) -> Plug {
        Plug::attach_url_as(dir, url, None)
    }
    /// `vde_plug DIR` on any free port, run as user and group `uid` (no supplementary
    /// groups); the switch must let that user in (`-m 666`).
    pub fn attach_as(sw: &Switch, uid: u32) -> Plug {
        Plug::attach_url_as(sw.dir(), &sw.dir().display().to_string(), Some(uid))
    }
    fn attach_url_as(dir: &Path, url: &str, uid: Option<u32>) -> Plug {
        let before = data_socket_ids(dir);
        let mut p = Plug::spawn_as(url, uid);
        let mut new_sock = None;
        let mut exited = None;
        wait_until(SETTLE, || {
            if let Some(st) = p.child.try_wait().expect("try_wait") {
                exited = Some(st);
                return true;
            }
            new_sock = data_socket_ids(dir)
                .into_iter()
                .find(|id| !before.contains(id))
                .map(|(n, ..)| n);
            new_sock.is_some()
        });
        if let Some(st) = exited {
            p.stderr.wait_eof(Duration::from_secs(2));
            panic!(
                "vde_plug {url} exited ({st}) before attaching; stderr: {}",
                p.stderr()
            );
        }
        let Some(data_socket) = new_sock else {
            panic!(
                "vde_plug {url}: no new data socket appeared in {} within {SETTLE:?} \
                 (existing: {before:?}); stderr: {}",
                dir.display(),
                p.stderr()
            );
        };
        // Handshake complete on the client side too (it has connected, chmod'ed the switch's
        // socket and unlinked its own): nothing of it can change the directory any more.
        let own = format!(".{:05}-", p.child.id());
        let done = wait_until(SETTLE, || {
            !client_sockets(dir).iter().any(|n| n.starts_with(&own))
        });
        assert!(
            done,
            "vde_plug {url}: its client socket {own}* is still in {} after {SETTLE:?}",
            dir.display()
        );
        p.port = port_of_data_socket(&data_socket).unwrap();
        p.data_socket = data_socket;
        p
    }

    /// Starts `vde_plug URL` without waiting for anything (for switches whose socket layout is
    /// not vde_switch's); `port` is 0 and `data_socket` empty.
    pub fn spawn(url: &str) -> Plug {
        Plug::spawn_as(url, None)
    }

    fn spawn_as(url: &str, uid: Option<u32>) -> Plug {
        let mut cmd = Command::new("vde_plug");
        if let Some(uid) = uid {
            // std drops the supplementary groups when it changes the uid.
            std::os::unix::process::CommandExt::uid(&mut cmd, uid);
            std::os::unix::process::CommandExt::gid(&mut cmd, uid);
        }
        cmd.arg(url);
        Plug::spawn_command(cmd, url)
    }

    /// Starts `cmd`, a `vde_plug URL` command line (possibly behind a wrapper such as
    /// `ip netns exec NS`), as [`Plug::spawn`] does.
    pub fn spawn_command(mut cmd: Command, url: &str) -> Plug {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run vde_plug (package vde2/vdeplug): {e}"));
        let stdin = child.stdin.take().unwrap();
        let stderr = Capture::spawn(child.stderr.take().unwrap());
        let rx = spawn_frame_reader(child.stdout.take().unwrap());
        Plug {
            child,
            stdin,
            rx,
            stderr,
            port: 0,
            data_socket: String::new(),
            url: url.to_string(),
        }
    }

    /// Sends one frame into the LAN.
    pub fn send(&mut self, frame: &[u8]) {
        assert!(frame.len() <= u16::MAX as usize);
        let mut buf = Vec::with_capacity(frame.len() + 2);
        buf.extend_from_slice(&(frame.len() as u16).to_be_bytes());
        buf.extend_from_slice(frame);
        self.stdin
            .write_all(&buf)
            .and_then(|_| self.stdin.flush())
            .unwrap_or_else(|e| panic!("writing to vde_plug {}: {e}", self.url));
    }
    /// Sends many frames with one write, so they reach the switch as fast as vde_plug can go.
    pub fn send_burst(&mut self, frames: &[Vec<u8>]) {
        let mut buf = Vec::new();
        for f in frames {
            assert!(f.len() <= u16::MAX as usize);
            buf.extend_from_slice(&(f.len() as u16).to_be_bytes());
            buf.extend_from_slice(f);
        }
        self.stdin
            .write_all(&buf)
            .and_then(|_| self.stdin.flush())
            .unwrap_or_else(|e| panic!("writing to vde_plug {}: {e}", self.url));
    }

    /// The next frame received, or that none came within `timeout`, or that none ever will
    /// (vde_plug closed its stdout: it exited or lost the switch).
    pub fn recv(&self, timeout: Duration) -> Recv {
        match self.rx.recv_timeout(timeout) {
            Ok(f) => Recv::Frame(f),
            Err(RecvTimeoutError::Timeout) => Recv::Timeout,
            Err(RecvTimeoutError::Disconnected) => Recv::Closed,
        }
    }
    /// The next frame received, or `None` after `timeout`. Panics if vde_plug has closed its
    /// stdout (no frame can ever arrive, and a caller waiting for silence must not take that
    /// for one).
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Vec<u8>> {
        match self.recv(timeout) {
            Recv::Frame(f) => Some(f),
            Recv::Timeout => None,
            Recv::Closed => panic!(
                "vde_plug {} (port {}) closed its stdout: it exited or lost the switch; its \
                 stderr: {}",
                self.url,
                self.port,
                self.stderr.text()
            ),
        }
    }
    /// Asserts that the next frame this plug receives is `marker`: a negative check with a
    /// positive control. Send the frame that must not arrive here first, then `marker` along a
    /// path that keeps the order (same sender, or after the first frame was seen elsewhere);
    /// anything that arrives before the marker is a frame that should not have come.
    #[track_caller]
    pub fn expect_only(&self, marker: &[u8], context: &str) {
        match self.recv_timeout(crate::SETTLE) {
            None => panic!(
                "{context}: port {} did not even receive the control frame within {:?} \
                 ({}); vde_plug stderr: {}",
                self.port,
                crate::SETTLE,
                hex(marker),
                self.stderr.text()
            ),
            Some(f) => assert!(
                f == marker,
                "{context}: port {} received a frame that should not have come, before the \
                 control frame\n  got     ({} bytes): {}\n  control ({} bytes): {}",
                self.port,
                f.len(),
                hex(&f),
                marker.len(),
                hex(marker)
            ),
        }
    }
    /// Receives a frame and asserts it equals `expected` byte for byte.
    #[track_caller]
    pub fn expect_frame(&self, expected: &[u8], timeout: Duration, context: &str) {
        match self.recv_timeout(timeout) {
            None => panic!(
                "{context}: port {} received nothing within {timeout:?} (expected {} bytes: {}); \
                 vde_plug stderr: {}",
                self.port,
                expected.len(),
                hex(expected),
                self.stderr.text()
            ),
            Some(f) => assert!(
                f == expected,
                "{context}: port {} received a different frame\n  expected ({} bytes): {}\n  \
                 got      ({} bytes): {}",
                self.port,
                expected.len(),
                hex(expected),
                f.len(),
                hex(&f)
            ),
        }
    }
    /// The vde_plug process (to signal it).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }
    /// True while the vde_plug process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }
}

impl Drop for Plug {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads length-prefixed frames from `r` into a channel, until EOF.
fn spawn_frame_reader(mut r: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let mut len = [0u8; 2];
        if r.read_exact(&mut len).is_err() {
            break;
        }
        let mut frame = vec![0u8; u16::from_be_bytes(len) as usize];
        if r.read_exact(&mut frame).is_err() || tx.send(frame).is_err() {
            break;
        }
    });
    rx
}

/// Waits until each switch directory `dir` of `dirs` has a data socket that is not in its
/// `before` (see [`data_socket_ids`]), and then until no vdeplug client socket is left in any of
/// them (every handshake complete); false if not within [`SETTLE`].
pub fn wait_new_endpoints(dirs: &[(&Path, BTreeSet<DataSocketId>)]) -> bool {
    let attached = wait_until(SETTLE, || {
        dirs.iter()
            .all(|(d, before)| data_socket_ids(d).iter().any(|id| !before.contains(id)))
    });
    attached
        && wait_until(SETTLE, || {
            dirs.iter().all(|(d, _)| client_sockets(d).is_empty())
        })
}

/// A cable between two switches: `dpipe vde_plug A = vde_plug B`, run in its own process group
/// (dpipe forks the two plugs); the whole group is killed on drop.
pub struct Cable {
    dpipe: Spawned,
}

impl Cable {
    /// Connects the switches with directories `a` and `b`; returns once each switch has a new
    /// data socket (both ends attached).
    pub fn connect(a: &Path, b: &Path) -> Cable {
        let before_a = data_socket_ids(a);
        let before_b = data_socket_ids(b);
        let mut cable = Cable {
            dpipe: Spawned::start(
                Command::new("dpipe")
                    .arg("vde_plug")
                    .arg(a)
                    .arg("=")
                    .arg("vde_plug")
                    .arg(b)
                    .stdin(Stdio::null()),
            ),
        };
        let settled = wait_new_endpoints(&[(a, before_a), (b, before_b)]);
        assert!(
            settled,
            "dpipe cable between {} and {} did not attach to both switches within {SETTLE:?}; \
             running: {}\n{}",
            a.display(),
            b.display(),
            cable.is_running(),
            cable.dpipe.log()
        );
        cable
    }
    pub fn is_running(&mut self) -> bool {
        self.dpipe.is_running()
    }
    /// Stops the cable's processes (SIGSTOP to the group): it carries nothing any more, but
    /// both ends stay attached, as a cable whose far side went silent.
    pub fn silence(&self) {
        // SAFETY: kill(2) on the process group this guard created.
        unsafe { libc::kill(-(self.dpipe.child.id() as i32), libc::SIGSTOP) };
    }
}
