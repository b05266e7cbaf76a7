//! The console on standard input of a foreground switch: callers such as the NixOS test driver
//! start `vde_switch` with a terminal on stdin, write a line and wait for one line of answer on
//! stdout (with `DIR/ctl` already there); front-ends drive it through a pipe; service managers
//! pass `--nostdin`.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use integration_tests::bins::{note_reference, vde_switch_command};
use integration_tests::frame::ETH_P_TEST;
use integration_tests::proc::wait_child_timeout;
use integration_tests::switch::accepts_connections;
use integration_tests::{
    eth, is_reference, mac, payload, vde_switch_bin, wait_until, Plug, ARRIVE, BROADCAST, SETTLE,
};

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the switch with `stdin` and extra `args`, stdout read line by line on a thread.
fn start(stdin: Stdio, args: &[&str]) -> Running {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("sw");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let mut child = vde_switch_command(&vde_switch_bin(), &home, true)
        .arg("-s")
        .arg(&dir)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start switch");
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let sw = Running {
        child,
        lines,
        _tmp: tmp,
        dir,
    };
    assert!(
        wait_until(SETTLE, || accepts_connections(&sw.dir.join("ctl"))),
        "ctl never appeared"
    );
    sw
}

/// Two vde_plugs exchange a frame through the switch in `dir`: turns of its loop.
fn exchange(dir: &Path) {
    let url = dir.display().to_string();
    let mut a = Plug::attach_url(dir, &url);
    let b = Plug::attach_url(dir, &url);
    let f = eth(BROADCAST, mac(0x51), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "a frame through the switch");
}

/// The next lines on the switch's stdout are the answer of `port/showinfo` (before its status
/// line), with HUB as `hub`.
#[track_caller]
fn expect_showinfo(sw: &Running, hub: bool) {
    let got: Vec<String> = (0..5)
        .map_while(|_| sw.lines.recv_timeout(SETTLE).ok())
        .collect();
    let hub = format!("HUB={hub}");
    assert_eq!(
        got,
        [
            "0000 DATA END WITH '.'",
            "Numports=32",
            hub.as_str(),
            "counters=true",
            "."
        ]
    );
}

/// A pipe: the read end (for the child's stdin) and the write end.
fn pipe() -> (OwnedFd, File) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two fresh descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe failed");
    // SAFETY: both are ours from here on.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

/// Bytes waiting to be read on `fd` (a pipe or a terminal).
fn unread(fd: &impl AsRawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    assert_eq!(
        unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) },
        0
    );
    n
}

fn openpty() -> (File, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two fds into the integers we pass.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "openpty failed");
    // SAFETY: both fds are fresh and owned by us from here on.
    unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn a_line_on_a_terminal_gets_a_line_of_answer_after_ctl_exists() {
    let (mut master, slave) = openpty();
    let sw = start(Stdio::from(slave), &[]);
    master.write_all(b"version\n").unwrap();
    let line = sw
        .lines
        .recv_timeout(Duration::from_secs(5))
        .expect("no answer on stdout");
    assert_eq!(line, "1038 Function not implemented");
    master.write_all(b"port/showinfo\n").unwrap();
    expect_showinfo(&sw, false);
}

#[test]
fn ctrl_d_on_a_terminal_stops_the_switch_and_cleans_up() {
    let (mut master, slave) = openpty();
    let mut sw = start(Stdio::from(slave), &[]);
    master.write_all(&[4]).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || sw
            .child
            .try_wait()
            .unwrap()
            .is_some()),
        "switch still running after Ctrl-D"
    );
    assert!(!sw.dir.exists(), "switch dir left behind");
}

#[test]
fn commands_through_a_pipe_and_its_end() {
    let mut sw = start(Stdio::piped(), &[]);
    let mut stdin = sw.child.stdin.take().unwrap();
    // One command per write: the reference takes one read as one command.
    stdin.write_all(b"port/sethub 1\n").unwrap();
    let first = sw.lines.recv_timeout(Duration::from_secs(5));
    assert_eq!(first.as_deref(), Ok("1000 Success"));
    stdin.write_all(b"port/showinfo\n").unwrap();
    expect_showinfo(&sw, true);
    drop(stdin);
    if is_reference() {
        assert!(
            wait_child_timeout(&mut sw.child, SETTLE).is_some(),
            "the reference is expected to exit at the end of a piped stdin"
        );
        note_reference("the reference exits at the end of a piped stdin");
        return;
    }
    // The EOF is there before these exchanges: their turns of the loop saw it.
    exchange(&sw.dir);
    exchange(&sw.dir);
    assert!(
        sw.child.try_wait().unwrap().is_none(),
        "the end of a piped stdin stopped the switch"
    );
    assert!(sw.dir.join("ctl").exists());
}

/// `--nostdin`: what comes on stdin is never read, from a pipe or a terminal (whose Ctrl-D
/// then does not stop the switch either). Checked by what stays unread in the pipe or the
/// terminal after the switch has turned its loop; without the option the same bytes are read
/// and answered.
#[test]
fn nostdin_never_reads_stdin() {
    if is_reference() {
        note_reference("--nostdin is not in 2.3.2 (it ignores the option)");
        return;
    }
    // A pipe: the control first (read and answered), then --nostdin.
    for nostdin in [false, true] {
        let (read_end, mut write_end) = pipe();
        let watch = read_end.try_clone().unwrap();
        let args: &[&str] = if nostdin { &["--nostdin"] } else { &[] };
        let sw = start(Stdio::from(read_end), args);
        write_end.write_all(b"port/showinfo\n").unwrap();
        if nostdin {
            exchange(&sw.dir);
            exchange(&sw.dir);
            assert_eq!(unread(&watch), 14, "--nostdin: the switch read its stdin");
            assert!(
                sw.lines.try_recv().is_err(),
                "--nostdin: a command on stdin was answered"
            );
        } else {
            let first = sw.lines.recv_timeout(SETTLE);
            assert_eq!(first.as_deref(), Ok("0000 DATA END WITH '.'"));
            assert_eq!(unread(&watch), 0);
        }
    }
    // A terminal: a command and Ctrl-D stay unread, the switch runs on.
    let (mut master, slave) = openpty();
    let watch = slave.try_clone().unwrap();
    let mut sw = start(Stdio::from(slave), &["--nostdin"]);
    master.write_all(b"version\n\x04").unwrap();
    exchange(&sw.dir);
    exchange(&sw.dir);
    assert!(
        unread(&watch) > 0,
        "--nostdin: the switch read its terminal"
    );
    assert!(
        sw.lines.try_recv().is_err(),
        "--nostdin: answered on stdout"
    );
    assert!(
        sw.child.try_wait().unwrap().is_none(),
        "--nostdin: Ctrl-D on the terminal stopped the switch"
    );
}

/// `--console-stdin` says explicitly what is the default without `-d`: commands on stdin are
/// read and answered.
#[test]
fn console_stdin_reads_commands() {
    if is_reference() {
        note_reference("--console-stdin is not in 2.3.2");
        return;
    }
    let sw = start(Stdio::piped(), &["--console-stdin"]);
    let mut sw = sw;
    let mut stdin = sw.child.stdin.take().unwrap();
    stdin.write_all(b"port/showinfo\n").unwrap();
    expect_showinfo(&sw, false);
}
