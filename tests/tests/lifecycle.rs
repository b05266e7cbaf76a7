//! Process lifecycle: daemon mode and pid files, signals and cleanup, a second instance on the
//! same directory, recovery of a stale ctl socket, relative paths.

use integration_tests::bins::note_reference;
use integration_tests::frame::ETH_P_TEST;
use integration_tests::proc::{pid_cmdline, pids_with_cmdline, run_with_timeout, DaemonGuard};
use integration_tests::switch::{accepts_connections, data_sockets};
use integration_tests::{
    eth, is_reference, mac, payload, vde_switch_bin, wait_until, Plug, Switch, ARRIVE, BROADCAST,
    SETTLE,
};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const EXIT: Duration = Duration::from_secs(5);

/// Two fresh plugs on the switch in `dir` exchange a broadcast frame.
fn assert_serves(dir: &Path, context: &str) {
    let url = dir.display().to_string();
    let mut a = Plug::attach_url(dir, &url);
    let b = Plug::attach_url(dir, &url);
    let f = eth(BROADCAST, mac(0x11), ETH_P_TEST, &payload(46, 0));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, context);
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("vdet-life-")
        .tempdir()
        .unwrap()
}

/// Runs `vde_switch -d ...` in `cwd`; asserts the foreground parent exits 0 promptly.
fn start_daemon(cwd: &Path, args: &[&str]) {
    let out = run_with_timeout(
        Command::new(vde_switch_bin()).args(args).current_dir(cwd),
        SETTLE,
    );
    match out.status {
        Some(st) if st.success() => {}
        other => panic!(
            "vde_switch {args:?}: the foreground parent should exit 0, got {other:?}\nstderr: {}",
            out.stderr
        ),
    }
}

#[test]
fn daemon_writes_pidfile_and_sigterm_removes_everything() {
    let t = tmp();
    let dir = t.path().join("sw");
    let pidfile = t.path().join("sw.pid");
    start_daemon(
        t.path(),
        &[
            "-d",
            "-p",
            pidfile.to_str().unwrap(),
            "-s",
            dir.to_str().unwrap(),
        ],
    );
    // ctl exists as soon as the parent returns.
    assert!(
        dir.join("ctl").exists(),
        "no ctl right after the parent exited"
    );
    let daemon = DaemonGuard::from_pidfile(&pidfile, dir.to_str().unwrap(), SETTLE);
    assert!(
        daemon.alive(),
        "pid {} from the pid file is not running",
        daemon.pid
    );
    let cmdline = pid_cmdline(daemon.pid);
    assert!(
        cmdline.contains(dir.to_str().unwrap()),
        "pid {} from the pid file is not the switch: {cmdline:?}",
        daemon.pid
    );
    assert!(wait_until(SETTLE, || accepts_connections(&dir.join("ctl"))));

    let url = dir.display().to_string();
    let mut a = Plug::attach_url(&dir, &url);
    let b = Plug::attach_url(&dir, &url);
    let f = eth(BROADCAST, mac(1), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "daemonised switch forwards");
    assert_eq!(data_sockets(&dir).len(), 2);

    daemon.signal(libc::SIGTERM);
    assert!(
        daemon.wait_gone(EXIT),
        "daemon still running 5 s after SIGTERM"
    );
    let gone = wait_until(Duration::from_secs(2), || {
        !dir.exists() && !pidfile.exists()
    });
    assert!(
        gone,
        "after SIGTERM: dir exists: {} (contents {:?}), pid file exists: {}",
        dir.exists(),
        std::fs::read_dir(&dir)
            .map(|r| r
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .collect::<Vec<_>>())
            .unwrap_or_default(),
        pidfile.exists()
    );
}

#[test]
fn relative_sock_and_pidfile_with_daemon() {
    let t = tmp();
    start_daemon(t.path(), &["-d", "-s", "rsw", "-p", "rsw.pid"]);
    let dir = t.path().join("rsw");
    let pidfile = t.path().join("rsw.pid");
    assert!(
        dir.join("ctl").exists(),
        "relative -s: no {}/ctl",
        dir.display()
    );
    let daemon = DaemonGuard::from_pidfile(&pidfile, "rsw", SETTLE);
    assert!(daemon.alive());
    assert_serves(&dir, "daemon started with relative paths");
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_gone(EXIT), "daemon still running after SIGTERM");
    let gone = wait_until(Duration::from_secs(2), || {
        !dir.exists() && !pidfile.exists()
    });
    assert!(
        gone,
        "relative paths: after SIGTERM dir exists {}, pid file exists {}",
        dir.exists(),
        pidfile.exists()
    );
}

#[test]
fn foreground_sigterm_exits_0_and_cleans_up() {
    let mut sw = Switch::start();
    let _p = Plug::attach(&sw);
    let dir = sw.dir().to_path_buf();
    sw.signal(libc::SIGTERM);
    let st = sw.wait_exit(EXIT).expect("still running 5 s after SIGTERM");
    assert_eq!(st.code(), Some(0), "exit status after SIGTERM: {st:?}");
    assert!(!dir.exists(), "switch dir left behind after SIGTERM");
}

#[test]
fn foreground_sigint_cleans_up_and_dies_of_the_signal() {
    let mut sw = Switch::start();
    let _p = Plug::attach(&sw);
    let dir = sw.dir().to_path_buf();
    sw.signal(libc::SIGINT);
    let st = sw.wait_exit(EXIT).expect("still running 5 s after SIGINT");
    assert_eq!(
        st.signal(),
        Some(libc::SIGINT),
        "status after SIGINT: {st:?}"
    );
    assert!(!dir.exists(), "switch dir left behind after SIGINT");
}

#[test]
fn sighup_is_not_fatal() {
    let mut sw = Switch::start();
    sw.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    sw.assert_running("after SIGHUP");
    assert_serves(sw.dir(), "after SIGHUP");
}

#[test]
fn stdin_eof_of_a_pipe() {
    let mut sw = Switch::start();
    let dir = sw.dir().to_path_buf();
    sw.close_stdin();
    if is_reference() {
        // 2.3.2: `EOF on stdin, cleaning up and exiting` (vde-2#30).
        let st = sw
            .wait_exit(EXIT)
            .expect("reference expected to exit on stdin EOF");
        assert!(
            !dir.exists(),
            "switch dir left behind after stdin EOF ({st:?})"
        );
        note_reference("exits on stdin EOF, as documented (ours keeps running)");
    } else {
        // Our fix: the end of a non-terminal stdin never stops the switch.
        std::thread::sleep(Duration::from_millis(500));
        sw.assert_running("after EOF on its stdin (a pipe)");
        assert_serves(&dir, "after stdin EOF");
    }
}

#[test]
fn second_instance_on_the_same_dir_is_refused() {
    let mut first = Switch::start();
    let _p = Plug::attach(&first);
    let out = run_with_timeout(
        Command::new(vde_switch_bin()).arg("-s").arg(first.dir()),
        EXIT,
    );
    let st = out
        .status
        .expect("a second switch on the same directory is still running after 5 s");
    assert!(!st.success(), "second instance exited with {st:?}");
    assert!(
        !out.stderr.trim().is_empty(),
        "second instance gave no message on stderr (stdout: {:?})",
        out.stdout
    );
    first.assert_running("first switch after the second was refused");
    assert!(
        first.ctl().exists(),
        "the refused instance removed the first one's ctl"
    );
    assert_eq!(first.data_sockets().len(), 1, "{:?}", first.data_sockets());
    assert_serves(first.dir(), "first switch after a refused second instance");
}

#[test]
fn new_switch_recovers_the_stale_ctl_of_a_killed_one() {
    let t = tmp();
    let dir = t.path().join("sw");
    let mut first = Switch::builder().sock(&dir).start();
    let p = Plug::attach(&first);
    first.kill_hard();
    drop(p);
    assert!(dir.join("ctl").exists(), "SIGKILL cannot remove ctl");
    let second = Switch::builder().sock(&dir).start();
    assert_serves(second.dir(), "switch started over a stale ctl");
}

#[test]
fn unknown_options() {
    if is_reference() {
        // 2.3.2 warns (getopt) and ignores them.
        let sw = Switch::builder().arg("--no-such-option").start();
        assert!(
            wait_until(SETTLE, || sw.stderr().contains("unrecognized option")),
            "stderr: {}",
            sw.stderr()
        );
        note_reference("unknown option ignored with a warning, as documented (ours refuses)");
        return;
    }
    let t = tmp();
    let dir = t.path().join("sw");
    let out = run_with_timeout(
        Command::new(vde_switch_bin())
            .arg("-s")
            .arg(&dir)
            .arg("--no-such-option"),
        EXIT,
    );
    let st = out
        .status
        .expect("still running 5 s after an unknown option");
    assert!(!st.success(), "unknown option accepted ({st:?})");
    assert!(
        !out.stderr.trim().is_empty(),
        "no message for an unknown option"
    );
}

#[test]
fn existing_pidfile() {
    let t = tmp();
    let dir = t.path().join("sw");
    let pidfile = t.path().join("sw.pid");
    std::fs::write(&pidfile, "12345\n").unwrap();
    let out = run_with_timeout(
        Command::new(vde_switch_bin())
            .args(["-d", "-p"])
            .arg(&pidfile)
            .arg("-s")
            .arg(&dir),
        SETTLE,
    );
    // Whatever was started is killed at the end of the test.
    let _guards: Vec<DaemonGuard> = {
        std::thread::sleep(Duration::from_millis(300));
        pids_with_cmdline(dir.to_str().unwrap())
            .into_iter()
            .map(|pid| DaemonGuard::new(pid, dir.to_str().unwrap()))
            .collect()
    };
    assert!(
        out.status.is_some(),
        "foreground parent of -d still running"
    );
    if is_reference() {
        // 2.3.2: the daemon fails on O_EXCL and its cleanup unlinks the existing pid file.
        assert!(
            wait_until(SETTLE, || !pidfile.exists()),
            "reference expected to delete the pre-existing pid file"
        );
        note_reference("an existing pid file is deleted, as documented (ours leaves it alone)");
    } else {
        std::thread::sleep(Duration::from_millis(500));
        let content = std::fs::read_to_string(&pidfile).unwrap_or_default();
        assert_eq!(
            content, "12345\n",
            "someone else's pid file was changed or removed"
        );
    }
}

#[test]
fn relative_mgmt_socket_with_daemon() {
    if is_reference() {
        note_reference("relative -M with -d not run (2.3.2 would create the socket in /)");
        return;
    }
    let t = tmp();
    start_daemon(t.path(), &["-d", "-s", "sw", "-M", "mgmt", "-p", "sw.pid"]);
    let daemon = DaemonGuard::from_pidfile(&t.path().join("sw.pid"), "sw", SETTLE);
    let mgmt = t.path().join("mgmt");
    assert!(
        wait_until(SETTLE, || accepts_connections(&mgmt)),
        "relative -M with -d: no management socket at {}",
        mgmt.display()
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_gone(EXIT), "daemon still running after SIGTERM");
    assert!(
        wait_until(Duration::from_secs(2), || !mgmt.exists()),
        "management socket left behind after SIGTERM"
    );
}
