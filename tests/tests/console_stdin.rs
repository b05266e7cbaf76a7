//! The console on standard input of a foreground switch: callers such as the NixOS test driver
//! start `vde_switch` with a terminal on stdin, write a line and wait for one line of answer on
//! stdout (with `DIR/ctl` already there); front-ends drive it through a pipe.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use integration_tests::bins::note_reference;
use integration_tests::{is_reference, vde_switch_bin, wait_until};

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

/// Starts the switch with `stdin` and stdout read line by line on a thread.
fn start(stdin: Stdio) -> Running {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("sw");
    let mut child = Command::new(vde_switch_bin())
        .arg("-s")
        .arg(&dir)
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
    Running {
        child,
        lines,
        _tmp: tmp,
        dir,
    }
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
    let sw = start(Stdio::from(slave));
    assert!(
        wait_until(Duration::from_secs(5), || sw.dir.join("ctl").exists()),
        "ctl never appeared"
    );
    master.write_all(b"version\n").unwrap();
    let line = sw
        .lines
        .recv_timeout(Duration::from_secs(5))
        .expect("no answer on stdout");
    assert_eq!(line, "1038 Function not implemented");
    master.write_all(b"port/showinfo\n").unwrap();
    let got: Vec<String> = (0..5)
        .map_while(|_| sw.lines.recv_timeout(Duration::from_secs(5)).ok())
        .collect();
    assert_eq!(
        got,
        [
            "0000 DATA END WITH '.'",
            "Numports=32",
            "HUB=false",
            "counters=true",
            "."
        ]
    );
}

#[test]
fn ctrl_d_on_a_terminal_stops_the_switch_and_cleans_up() {
    let (mut master, slave) = openpty();
    let mut sw = start(Stdio::from(slave));
    assert!(wait_until(Duration::from_secs(5), || sw
        .dir
        .join("ctl")
        .exists()));
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
    let mut sw = start(Stdio::piped());
    let mut stdin = sw.child.stdin.take().unwrap();
    assert!(wait_until(Duration::from_secs(5), || sw
        .dir
        .join("ctl")
        .exists()));
    // One command per write: the reference takes one read as one command.
    stdin.write_all(b"port/sethub 1\n").unwrap();
    let first = sw.lines.recv_timeout(Duration::from_secs(5));
    assert_eq!(first.as_deref(), Ok("1000 Success"));
    stdin.write_all(b"port/showinfo\n").unwrap();
    let got: Vec<String> = (0..5)
        .map_while(|_| sw.lines.recv_timeout(Duration::from_secs(5)).ok())
        .collect();
    assert_eq!(
        got,
        [
            "0000 DATA END WITH '.'",
            "Numports=32",
            "HUB=true",
            "counters=true",
            "."
        ]
    );
    drop(stdin);
    std::thread::sleep(Duration::from_millis(300));
    if is_reference() {
        note_reference("the reference exits at the end of a piped stdin");
        return;
    }
    assert!(
        sw.child.try_wait().unwrap().is_none(),
        "the end of a piped stdin stopped the switch"
    );
    assert!(sw.dir.join("ctl").exists());
}
