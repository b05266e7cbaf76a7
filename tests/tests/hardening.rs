//! Hostile or unlucky input: socket permissions as the reference sets them, the "confused
//! deputy" check on client sockets, drop counters, and the bounded MAC table.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::bins::note_reference;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::raw::{v3_request, RawClient, Reply};
use integration_tests::{eth, is_reference, mac, payload, Plug, Switch, BROADCAST};

const ETH_P_TEST: u16 = 0x88b5;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Directory, ctl and data socket modes for each -m/--dirmode combination, on ours and on the
/// reference, side by side.
#[test]
fn socket_modes_match_the_reference() {
    let combos: [&[&str]; 5] = [
        &[],
        &["-m", "666"],
        &["-m", "660"],
        &["--dirmode", "750"],
        &["-m", "640", "--dirmode", "711"],
    ];
    for args in combos {
        let modes = |sw: &Switch| {
            let plug = Plug::attach(sw);
            let data = sw.dir().join(&sw.data_sockets()[0]);
            let m = (mode(sw.dir()), mode(sw.ctl()), mode(&data));
            drop(plug);
            m
        };
        let ours = modes(&Switch::builder().args(args.iter()).start());
        let reference = modes(&Switch::reference_builder().args(args.iter()).start());
        // vde_plug chmods the data socket itself afterwards, the same way on both.
        assert_eq!(ours, reference, "modes (dir, ctl, data) with {args:?}");
    }
}

/// A client naming a socket it does not own: the reference (as root) connects to it and sends
/// frames there; ours refuses the request.
#[test]
fn a_client_cannot_name_somebody_elses_socket() {
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        integration_tests::proc::announce("note: needs root (to act as another user); skipped");
        return;
    }
    let sw = Switch::builder().args(["-m", "666"]).start();
    // A root-owned datagram socket somewhere: the "victim".
    let victim_dir = tempfile::tempdir().unwrap();
    let victim_path = victim_dir.path().join("victim.sock");
    let _victim = UnixDatagram::bind(&victim_path).unwrap();
    std::fs::set_permissions(victim_dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // As nobody: connect to ctl and ask for a port with the victim's address.
    let req = v3_request(0, &victim_path, b"deputy");
    let answer = as_nobody_request(sw.ctl(), &req);
    if is_reference() {
        note_reference(&format!(
            "the reference answered the deputy request with: {answer}"
        ));
        return;
    }
    assert_eq!(answer, "closed");
    assert!(
        sw.stderr()
            .contains("owned by uid 0 but the client runs as uid 65534"),
        "log: {}",
        sw.stderr()
    );
}

/// Forks a child that becomes uid/gid 65534, connects to `ctl`, sends `req` and reports what
/// came back: "reply" (110 bytes), "closed" (EOF), or "timeout"/"error".
fn as_nobody_request(ctl: &Path, req: &[u8]) -> &'static str {
    let addr = integration_tests::raw::sockaddr_un(ctl);
    // SAFETY: the child only makes async-signal-safe system calls on memory prepared before the
    // fork, then _exits; the parent waits for it.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = (|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(65534) != 0
                    || libc::setuid(65534) != 0
                {
                    return 10;
                }
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                if libc::connect(fd, addr.as_ptr().cast(), addr.len() as u32) != 0 {
                    return 11;
                }
                if libc::write(fd, req.as_ptr().cast(), req.len()) != req.len() as isize {
                    return 12;
                }
                let tv = libc::timeval {
                    tv_sec: 3,
                    tv_usec: 0,
                };
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as u32,
                );
                let mut buf = [0u8; 200];
                match libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) {
                    0 => 0,
                    110 => 1,
                    n if n < 0 => 2,
                    _ => 3,
                }
            })();
            libc::_exit(code);
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        match libc::WEXITSTATUS(status) {
            0 => "closed",
            1 => "reply",
            2 => "timeout",
            10 => "could not become nobody",
            11 => "could not connect",
            _ => "error",
        }
    }
}

/// Our switch with `-M <dir>/mgmt` and the `extra` arguments, and that socket's path; `None`
/// (after noting that `ours_only` is why) when the switch under test is the reference.
fn ours_with_mgmt(dir: &Path, ours_only: &str, extra: [&str; 2]) -> Option<(Switch, PathBuf)> {
    if is_reference() {
        note_reference(ours_only);
        return None;
    }
    let m = dir.join("mgmt");
    let sw = Switch::builder().arg("-M").arg(&m).args(extra).start();
    Some((sw, m))
}

fn stats_line(mgmt: &mut Session, port: u32) -> String {
    let out = lossy(&mgmt.cmd(&format!("port/stats {port}")));
    out.lines()
        .find(|l| l.starts_with(&format!("Port {port:04}")))
        .unwrap_or_else(|| panic!("no stats for port {port}: {out}"))
        .to_string()
}

/// Runts and oversize frames are dropped and counted (an extension: `port/stats`).
#[test]
fn runts_and_oversize_frames_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((sw, m)) = ours_with_mgmt(tmp.path(), "port/stats is ours", ["--maxframe", "1518"])
    else {
        return;
    };
    let mut c = RawClient::connect(&sw, "counted");
    let req = c.request(0, b"counted");
    c.write(&req);
    let reply = match c.read_reply(Duration::from_secs(5)) {
        Reply::Data(d) => d,
        other => panic!("expected a reply, got {other:?}"),
    };
    c.connect_data(&reply);
    c.send_frame(&[0u8; 13]);
    c.send_frame(&[0u8; 5]);
    c.send_frame(&eth(BROADCAST, mac(1), ETH_P_TEST, &payload(1600, 0)));
    let (mut mgmt, _) = Session::open(&m);
    let port = integration_tests::switch::port_of_data_socket(&sw.data_sockets()[0]).unwrap();
    let mut line = String::new();
    let counted = integration_tests::wait_until(Duration::from_secs(3), || {
        line = stats_line(&mut mgmt, port);
        line.contains("runts 2 oversize 1")
    });
    assert!(counted, "{line}");
}

/// With a full MAC table, frames from new sources are still forwarded (flooded) but not
/// learned, and the switch says so.
#[test]
fn a_full_mac_table_still_forwards() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((sw, m)) = ours_with_mgmt(tmp.path(), "--maxmacs is ours", ["--maxmacs", "2"]) else {
        return;
    };
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    for n in 1..=3u8 {
        let f = eth(BROADCAST, mac(0x40 + n), ETH_P_TEST, &payload(46, n));
        a.send(&f);
        b.expect_frame(&f, Duration::from_secs(3), "broadcast from a new source");
    }
    let (mut mgmt, _) = Session::open(&m);
    let hash = lossy(&mgmt.cmd("hash/print"));
    assert_eq!(hash.matches("Hash: ").count(), 2, "{hash}");
    let port = integration_tests::switch::port_of_data_socket(&sw.data_sockets()[0]).unwrap();
    let stats = stats_line(&mut mgmt, port);
    assert!(stats.ends_with("unlearned 1"), "{stats}");
    assert!(
        sw.stderr().contains("MAC table full"),
        "log: {}",
        sw.stderr()
    );
}
