//! Fair admission: one local user (uid 65534) holding a thousand silent connections to the
//! control socket or the management socket does not keep anybody else out. Each newcomer is
//! admitted; the connection idle the longest of the heaviest user makes room for it.

use std::time::Duration;

use integration_tests::flood::SilentFlood;
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{admission_numbers, lossy, Session};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{bins::note_reference, is_reference, needs};
use integration_tests::{eth, mac, payload, Plug, Switch, BROADCAST, SETTLE};

/// The user holding the connections.
const NOBODY: u32 = 65534;
const SILENT: usize = 1000;

/// The global cap is the one that binds (32 in all, 64 per user): nobody's thousand silent
/// connections fill it, and root's `vde_plug`s are still attached and forward frames.
#[test]
fn silent_connections_of_one_user_do_not_lock_out_another() {
    let Some(()) = needs::root("to flood as another user") else {
        return;
    };
    if is_reference() {
        note_reference("the reference has no admission caps (unlimited idle connections)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("mgmt");
    let sw = Switch::builder()
        .args(["-m", "666", "--maxpending", "32"])
        .arg("-M")
        .arg(&m)
        .start();
    let flood = SilentFlood::start(sw.ctl(), NOBODY, SILENT);
    flood.hold(Duration::from_millis(500));

    let mut a = Plug::attach_or_show_log(&sw, "unfinished handshakes at their cap");
    let b = Plug::attach_or_show_log(&sw, "unfinished handshakes at their cap");
    let f = eth(BROADCAST, mac(1), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, SETTLE, "between two clients attached during the flood");
    assert!(flood.running());

    let (mut s, _) = Session::open(&m);
    let [now, most, evicted, all, per_user] =
        admission_numbers(&lossy(&s.cmd("ds/admission")), "pending handshakes");
    assert_eq!((all, per_user), (32, 64));
    assert!(now <= 32 && most <= 32, "now {now}, at most {most}");
    assert!(
        evicted >= (SILENT - 32) as u64,
        "{evicted} evicted: the flood's connections beyond the cap made room for newer ones"
    );
    sw.expect_log("unfinished handshakes at their cap (32 in all, cap 32; ");
}

/// The same on the management socket (default caps: 64 sessions, 16 per user): console clients
/// of another user (vdeterm, then the stock unixterm) get a session and their answers.
#[test]
fn silent_sessions_of_one_user_do_not_lock_out_another() {
    let Some(()) = needs::root("to flood as another user") else {
        return;
    };
    if is_reference() {
        note_reference("the reference has no session caps");
        return;
    }
    let sw = MgmtSwitch::start(Switch::builder().args(["--mgmtmode", "666"]));
    let flood = SilentFlood::start(&sw.mgmt, NOBODY, SILENT);
    flood.hold(Duration::from_millis(500));

    let f = sw.run(&["-c", "ds/admission"], None);
    assert_eq!(f.status.map(|s| s.success()), Some(true), "{f:?}");
    let [now, most, evicted, all, per_user] = admission_numbers(&f.stdout, "mgmt sessions");
    assert_eq!((all, per_user), (64, 16));
    // nobody's 16 and this vdeterm.
    assert!(
        now <= 17 && most <= 17,
        "now {now}, at most {most}: {}",
        f.stdout
    );
    assert!(evicted >= (SILENT - 16) as u64, "{evicted} evicted");
    assert!(flood.running());

    // The stock console client too, while the flood goes on.
    let Some(unixterm) = needs::program("/usr/bin/unixterm", "vde2") else {
        return;
    };
    let mut child = std::process::Command::new(unixterm)
        .arg(&sw.mgmt)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = integration_tests::proc::Capture::spawn(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"port/showinfo\n").unwrap();
    let (answered, text) = out.wait_for("1000 Success", SETTLE);
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answered,
        "unixterm got no answer during the flood: {text:?}"
    );
    assert!(text.contains("Numports=32"), "{text}");
    sw.switch.expect_log(
        "management sessions at their cap (16 in all, cap 64; 16 of uid 65534, cap 16)",
    );
}

/// How many descriptors process `pid` had open at most, sampled every 20 ms for `d`.
fn most_fds_open(pid: i32, d: Duration) -> usize {
    let end = std::time::Instant::now() + d;
    let mut most = 0;
    while std::time::Instant::now() < end {
        if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
            most = most.max(dir.count());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    most
}

/// A user whose connections reconnect as fast as they are evicted (200 of them, caps 4 in all
/// and 2 per user): an evicted connection is closed at once, so the switch holds a handful of
/// descriptors, not one per eviction not yet read to its end (before: over 700 within 3 s),
/// and root's `vde_plug`s are attached and forward meanwhile.
#[test]
fn evicted_connections_are_closed_at_once() {
    let Some(()) = needs::root("to flood as another user") else {
        return;
    };
    if is_reference() {
        note_reference("the reference has no admission caps (unlimited idle connections)");
        return;
    }
    let sw = Switch::builder()
        .args(["-m", "666", "--maxpending", "4", "--maxpending-user", "2"])
        .start();
    let idle = most_fds_open(sw.pid(), Duration::from_millis(100));
    let flood = SilentFlood::start(sw.ctl(), NOBODY, 200);
    let most = most_fds_open(sw.pid(), Duration::from_secs(2));
    assert!(flood.running());
    let mut a = Plug::attach_or_show_log(&sw, "unfinished handshakes at their cap");
    let b = Plug::attach_or_show_log(&sw, "unfinished handshakes at their cap");
    let f = eth(BROADCAST, mac(1), ETH_P_TEST, &payload(46, 2));
    a.send(&f);
    b.expect_frame(&f, SETTLE, "between two clients attached during the flood");
    // The caps (4) and one accept batch (64) at most, beside what the idle switch holds.
    assert!(
        most <= idle + 4 + 64,
        "the switch had {most} descriptors open during the flood ({idle} idle)"
    );
    sw.expect_log("unfinished handshakes at their cap (2 in all, cap 4; 2 of uid 65534, cap 2)");
}
