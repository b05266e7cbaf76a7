//! Process lifecycle: daemon mode and pid files, signals and cleanup, a second instance on the
//! same directory, recovery of a stale ctl socket, relative paths.

use integration_tests::bins::{note_reference, vde_switch_command};
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::proc::{pid_cmdline, read_pidfile, run_with_timeout, DaemonGuard, Finished};
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

/// `vde_switch ARGS` (the switch under test) run in `cwd`, isolated from the caller's rc files
/// (its HOME is `cwd/home`).
fn switch_in(cwd: &Path, args: &[&str]) -> Command {
    let home = cwd.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = vde_switch_command(&vde_switch_bin(), &home, true);
    cmd.args(args).current_dir(cwd);
    cmd
}

/// Runs `vde_switch -d ARGS` in `cwd`. Guards for the daemon it leaves (found through its
/// control socket `ctl`) are armed before anything is checked; then the foreground parent must
/// have exited 0 promptly.
fn start_daemon(cwd: &Path, args: &[&str], ctl: &Path) -> Vec<DaemonGuard> {
    let out = run_with_timeout(&mut switch_in(cwd, args), SETTLE);
    let guards = DaemonGuard::holding_socket(ctl);
    match out.status {
        Some(st) if st.success() => {}
        other => panic!(
            "vde_switch {args:?}: the foreground parent should exit 0, got {other:?}\nstderr: {}",
            out.stderr
        ),
    }
    guards
}

/// The one daemon among `guards`.
#[track_caller]
fn the_daemon<'a>(guards: &'a [DaemonGuard], ctl: &Path) -> &'a DaemonGuard {
    match guards {
        [one] => one,
        _ => panic!(
            "expected one process holding {}, found pids {:?}",
            ctl.display(),
            guards.iter().map(|g| g.pid).collect::<Vec<_>>()
        ),
    }
}

#[test]
fn daemon_writes_pidfile_and_sigterm_removes_everything() {
    let t = tmp();
    let dir = t.path().join("sw");
    let pidfile = t.path().join("sw.pid");
    let ctl = dir.join("ctl");
    let guards = start_daemon(
        t.path(),
        &[
            "-d",
            "-p",
            pidfile.to_str().unwrap(),
            "-s",
            dir.to_str().unwrap(),
        ],
        &ctl,
    );
    // ctl exists, and is served, as soon as the parent returns.
    assert!(ctl.exists(), "no ctl right after the parent exited");
    let daemon = the_daemon(&guards, &ctl);
    let from_pidfile = read_pidfile(&pidfile, SETTLE);
    assert_eq!(
        from_pidfile,
        daemon.pid,
        "the pid file names another process than the one serving {} ({:?})",
        ctl.display(),
        pid_cmdline(from_pidfile)
    );
    assert!(accepts_connections(&ctl));

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
    // Its cleanup came before its exit.
    assert!(
        !dir.exists() && !pidfile.exists(),
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
    let dir = t.path().join("rsw");
    let pidfile = t.path().join("rsw.pid");
    let guards = start_daemon(
        t.path(),
        &["-d", "-s", "rsw", "-p", "rsw.pid"],
        &dir.join("ctl"),
    );
    let daemon = the_daemon(&guards, &dir.join("ctl"));
    assert_eq!(read_pidfile(&pidfile, SETTLE), daemon.pid);
    assert_serves(&dir, "daemon started with relative paths");
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_gone(EXIT), "daemon still running after SIGTERM");
    assert!(
        !dir.exists() && !pidfile.exists(),
        "relative paths: after SIGTERM dir exists {}, pid file exists {}",
        dir.exists(),
        pidfile.exists()
    );
}

/// A relative `-f` with `-d` is read from the directory the switch was started in (resolved
/// before daemonising, which moves to `/`).
#[test]
fn relative_rc_file_with_daemon() {
    let t = tmp();
    std::fs::write(
        t.path().join("lab.rc"),
        "vlan/create 7\nport/setnumports 12\n",
    )
    .unwrap();
    let ctl = t.path().join("sw/ctl");
    // An absolute -M: the reference would put a relative one in / (see below).
    let mgmt = t.path().join("mgmt");
    let guards = start_daemon(
        t.path(),
        &[
            "-d",
            "-s",
            "sw",
            "-M",
            mgmt.to_str().unwrap(),
            "-f",
            "lab.rc",
        ],
        &ctl,
    );
    let daemon = the_daemon(&guards, &ctl);
    assert!(
        wait_until(SETTLE, || accepts_connections(&mgmt)),
        "no management socket at {}",
        mgmt.display()
    );
    let (mut s, _) = Session::open(&mgmt);
    assert_eq!(
        lossy(&s.cmd("vlan/print")),
        "0000 DATA END WITH '.'\nVLAN 0000\nVLAN 0007\n.\n1000 Success\n\nvde$ ",
        "the rc file given as lab.rc was not run"
    );
    assert_eq!(
        lossy(&s.cmd("port/showinfo")),
        "0000 DATA END WITH '.'\nNumports=12\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ "
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_gone(EXIT), "daemon still running after SIGTERM");
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
    // Two exchanges, each needing turns of the switch's loop after the signal arrived.
    assert_serves(sw.dir(), "after SIGHUP");
    assert_serves(sw.dir(), "after SIGHUP (again)");
    sw.assert_running("after SIGHUP");
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
        // Our fix: the end of a non-terminal stdin never stops the switch. The EOF is there
        // before the exchanges below, so their turns of the loop saw it.
        assert_serves(&dir, "after stdin EOF");
        assert_serves(&dir, "after stdin EOF (again)");
        sw.assert_running("after EOF on its stdin (a pipe)");
    }
}

#[test]
fn second_instance_on_the_same_dir_is_refused() {
    let mut first = Switch::start();
    let _p = Plug::attach(&first);
    let t = tmp();
    let out = run_with_timeout(switch_in(t.path(), &[]).arg("-s").arg(first.dir()), EXIT);
    let st = out
        .status
        .expect("a second switch on the same directory is still running after 5 s");
    assert_eq!(
        st.code(),
        Some(255),
        "second instance: {st:?}; stderr {}",
        out.stderr
    );
    let ctl = first.ctl().display().to_string();
    if is_reference() {
        assert!(
            out.stderr.contains(&format!(
                "Could not bind to socket '{ctl}': Address already in use"
            )),
            "{}",
            out.stderr
        );
        note_reference("the refusal does not name the owner (ours names its pid)");
    } else {
        // README: the refusal names the pid of the switch that owns the directory.
        let want = format!(
            "Could not bind to socket '{ctl}': Address already in use by process {}",
            first.pid()
        );
        assert!(
            out.stderr.contains(&want),
            "expected {want:?} in {:?}",
            out.stderr
        );
    }
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
        sw.expect_log("unrecognized option '--no-such-option'");
        note_reference("unknown option ignored with a warning, as documented (ours refuses)");
        return;
    }
    let t = tmp();
    let bin = vde_switch_bin();
    let out = run_with_timeout(
        &mut switch_in(t.path(), &["-s", "sw", "--no-such-option"]),
        EXIT,
    );
    let st = out
        .status
        .expect("still running 5 s after an unknown option");
    assert_eq!(st.code(), Some(1), "unknown option: {st:?}");
    let prog = bin.display();
    assert_eq!(
        out.stderr,
        format!(
            "{prog}: unrecognized option '--no-such-option'\n\
             Try '{prog} --help' for more information.\n"
        )
    );
    assert!(
        !t.path().join("sw").exists(),
        "a refused start made its directory"
    );
}

/// A pid file that already exists belongs to somebody else: ours leaves it alone and does not
/// run (2.3.2 deletes it). In the foreground the error is on stderr; with `-d` the daemon gives
/// up after the parent returned.
#[test]
fn existing_pidfile() {
    let t = tmp();
    let dir = t.path().join("sw");
    let pidfile = t.path().join("sw.pid");
    std::fs::write(&pidfile, "12345\n").unwrap();
    let pidfile_arg = pidfile.to_str().unwrap();
    let dir_arg = dir.to_str().unwrap();

    let out = run_with_timeout(
        &mut switch_in(t.path(), &["-d", "-p", pidfile_arg, "-s", dir_arg]),
        SETTLE,
    );
    // Whatever was started is killed at the end of the test.
    let guards = DaemonGuard::holding_socket(&dir.join("ctl"));
    assert!(
        out.status.is_some_and(|s| s.success()),
        "foreground parent of -d: {:?}; stderr {}",
        out.status,
        out.stderr
    );
    if is_reference() {
        // 2.3.2: the daemon fails on O_EXCL and its cleanup unlinks the existing pid file.
        assert!(
            wait_until(SETTLE, || !pidfile.exists()),
            "reference expected to delete the pre-existing pid file"
        );
        note_reference("an existing pid file is deleted, as documented (ours leaves it alone)");
        return;
    }
    // The daemon gives up: its directory goes, nobody serves it, the pid file is as it was.
    assert!(
        wait_until(SETTLE, || guards.iter().all(|g| !g.alive())),
        "the daemon still runs although its pid file exists (pids {:?})",
        guards.iter().map(|g| g.pid).collect::<Vec<_>>()
    );
    assert!(
        !dir.exists(),
        "the daemon that gave up left {}",
        dir.display()
    );
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), "12345\n");

    // In the foreground: the same refusal, said on stderr, exit status 1.
    let out: Finished = run_with_timeout(
        &mut switch_in(t.path(), &["-p", pidfile_arg, "-s", dir_arg]),
        SETTLE,
    );
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "Error in pidfile creation: File exists (os error 17) ({pidfile_arg})"
        )),
        "{out:?}"
    );
    assert!(!dir.exists(), "the refused switch left {}", dir.display());
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), "12345\n");
}

#[test]
fn relative_mgmt_socket_with_daemon() {
    if is_reference() {
        note_reference("relative -M with -d not run (2.3.2 would create the socket in /)");
        return;
    }
    let t = tmp();
    let ctl = t.path().join("sw/ctl");
    let guards = start_daemon(
        t.path(),
        &["-d", "-s", "sw", "-M", "mgmt", "-p", "sw.pid"],
        &ctl,
    );
    let daemon = the_daemon(&guards, &ctl);
    let mgmt = t.path().join("mgmt");
    assert!(
        wait_until(SETTLE, || accepts_connections(&mgmt)),
        "relative -M with -d: no management socket at {}",
        mgmt.display()
    );
    daemon.signal(libc::SIGTERM);
    assert!(daemon.wait_gone(EXIT), "daemon still running after SIGTERM");
    assert!(
        !mgmt.exists(),
        "management socket left behind after SIGTERM"
    );
}
