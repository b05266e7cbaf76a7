//! Readiness for service managers: with `NOTIFY_SOCKET` set (as systemd sets it for
//! `Type=notify`), the switch sends `READY=1` only once its control socket accepts clients, a
//! `STATUS=` line with the ports in use (again when a real client attaches), and `STOPPING=1` on
//! SIGTERM. The notification socket here is the test's own datagram socket.

use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use integration_tests::bins::note_reference;
use integration_tests::proc::wait_child_timeout;
use integration_tests::{
    is_reference, is_uml_reference, uml_switch_bin, vde_switch_bin, Plug, SETTLE,
};

/// The switch process, killed on drop if a check failed first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next notification (one datagram, `KEY=VALUE` lines), or panic after SETTLE.
fn next_message(sock: &UnixDatagram, what: &str) -> String {
    sock.set_read_timeout(Some(SETTLE)).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no notification ({what}) within {SETTLE:?}: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Receive notifications until one contains `needle`; all of them, in order.
fn until(sock: &UnixDatagram, needle: &str) -> Vec<String> {
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while t0.elapsed() < SETTLE {
        let m = next_message(sock, needle);
        let done = m.lines().any(|l| l == needle);
        seen.push(m);
        if done {
            return seen;
        }
    }
    panic!("no {needle:?} among the notifications {seen:?}");
}

fn notify_socket(dir: &Path) -> UnixDatagram {
    UnixDatagram::bind(dir.join("notify")).expect("bind the notification socket")
}

fn start(bin: &Path, args: &[&std::ffi::OsStr], notify: &Path) -> Running {
    Running(
        Command::new(bin)
            .args(args)
            .env("NOTIFY_SOCKET", notify)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())),
    )
}

/// SIGTERM: STOPPING=1 arrives, then the switch exits.
fn stop(sw: &mut Running, sock: &UnixDatagram) {
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(sw.0.id() as libc::pid_t, libc::SIGTERM) };
    until(sock, "STOPPING=1");
    assert!(
        wait_child_timeout(&mut sw.0, SETTLE).is_some(),
        "the switch did not exit after SIGTERM"
    );
}

#[test]
fn vde_switch_is_ready_only_once_ctl_accepts() {
    if is_reference() {
        note_reference("the reference does not notify a service manager");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock = notify_socket(tmp.path());
    let dir = tmp.path().join("sw");
    let mut sw = start(
        &vde_switch_bin(),
        &["-s".as_ref(), dir.as_os_str(), "-n".as_ref(), "8".as_ref()],
        &tmp.path().join("notify"),
    );
    let ready = next_message(&sock, "READY=1");
    // At the moment READY=1 arrives a client can connect at once, without retrying.
    let ctl = UnixStream::connect(dir.join("ctl"));
    assert!(
        ready.lines().any(|l| l == "READY=1"),
        "the first notification is not READY=1: {ready:?}"
    );
    assert!(
        ctl.is_ok(),
        "READY=1 arrived before {}/ctl accepted: {:?}",
        dir.display(),
        ctl.err()
    );
    drop(ctl);
    assert!(
        ready.lines().any(|l| l == "STATUS=0 of 8 ports in use"),
        "{ready:?}"
    );
    // A real client attaches: the status follows (checked once a second by the switch).
    let plug = Plug::attach_url(&dir, &dir.display().to_string());
    until(&sock, "STATUS=1 of 8 ports in use");
    drop(plug);
    until(&sock, "STATUS=0 of 8 ports in use");
    stop(&mut sw, &sock);
}

#[test]
fn uml_switch_is_ready_only_once_its_socket_accepts() {
    if is_uml_reference() {
        note_reference("the reference uml_switch does not notify a service manager");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock = notify_socket(tmp.path());
    let ctl = tmp.path().join("uml.ctl");
    let mut sw = start(
        &uml_switch_bin(),
        &["-unix".as_ref(), ctl.as_os_str()],
        &tmp.path().join("notify"),
    );
    let ready = next_message(&sock, "READY=1");
    let conn = UnixStream::connect(&ctl);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(conn.is_ok(), "READY=1 before {} accepted", ctl.display());
    assert!(
        ready.lines().any(|l| l.starts_with("STATUS=0 of ")),
        "{ready:?}"
    );
    drop(conn);
    stop(&mut sw, &sock);
}

/// The same order, read from the system calls (strace): the control socket's `listen` comes
/// before the datagram carrying READY=1. Deterministic, where a connect racing the switch's
/// start could miss an early READY.
#[test]
fn ready_is_sent_after_listen() {
    if is_reference() {
        note_reference("the reference does not notify a service manager");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let sock = notify_socket(tmp.path());
    let (dir, trace, pidfile) = (
        tmp.path().join("sw"),
        tmp.path().join("trace"),
        tmp.path().join("pid"),
    );
    let bin = vde_switch_bin();
    let mut strace = Running(
        Command::new("strace")
            .args([
                "-f",
                "-qq",
                "-s",
                "64",
                "-e",
                "trace=listen,write,sendto,sendmsg",
                "-o",
            ])
            .arg(&trace)
            .arg(&bin)
            .arg("-s")
            .arg(&dir)
            .arg("-p")
            .arg(&pidfile)
            .env("NOTIFY_SOCKET", tmp.path().join("notify"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run strace (Debian package strace; scripts/test installs it)"),
    );
    until(&sock, "READY=1");
    let mut pid: libc::pid_t = 0;
    let written = integration_tests::wait_until(SETTLE, || {
        let text = std::fs::read_to_string(&pidfile).unwrap_or_default();
        pid = text.trim().parse().unwrap_or(0);
        pid > 0
    });
    assert!(written, "no pid in {}", pidfile.display());
    // SAFETY: kill(2) on the switch, a child of our strace child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    until(&sock, "STOPPING=1");
    assert!(wait_child_timeout(&mut strace.0, SETTLE).is_some());
    let calls = std::fs::read_to_string(&trace).unwrap();
    let at = |needle: &str| {
        calls
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in the trace:\n{calls}"))
    };
    assert!(
        at("listen(") < at("READY=1"),
        "READY=1 sent before listen():\n{calls}"
    );
}
