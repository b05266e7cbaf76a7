//! Hostile or unlucky input: socket permissions as the reference sets them, the "confused
//! deputy" check on client sockets, the abstract-socket rule, ports of another user (real
//! clients of another uid, forked here), drop counters, and the bounded MAC table.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::bins::note_reference;
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, PortStats, Session};
use integration_tests::needs;
use integration_tests::raw::{sockaddr_un, RawClient, Reply, MAGIC, SOCKADDR_UN_LEN};
use integration_tests::{eth, is_reference, mac, payload, Plug, Switch, BROADCAST, SETTLE};

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

/// The uid and gid the tests act as when they need another user.
const NOBODY: u32 = 65534;

/// Where a client run as [`NOBODY`] says its data socket is.
enum ClientSocket {
    /// A pathname socket the client binds itself (in a directory it may write).
    Own(PathBuf),
    /// An abstract socket the client binds itself (as UML's daemon transport does).
    Abstract(Vec<u8>),
    /// Somebody else's socket, already bound: the client only names it.
    Foreign(PathBuf),
}

/// What came back to a client run as [`NOBODY`].
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// The 110-byte reply: a data socket for it.
    Reply,
    /// The switch closed the connection.
    Closed,
    /// Nothing within 3 s, connection open.
    Timeout,
    /// The client itself failed (exit code of the step that failed).
    Failed(i32),
}

/// The `struct sockaddr_un` of `sock`. An abstract name is used with the whole structure's
/// length, zero padding included, as UML binds it and as the switch connects to it.
fn client_addr(sock: &ClientSocket) -> [u8; SOCKADDR_UN_LEN] {
    match sock {
        ClientSocket::Own(p) | ClientSocket::Foreign(p) => sockaddr_un(p),
        ClientSocket::Abstract(name) => {
            let mut a = [0u8; SOCKADDR_UN_LEN];
            a[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
            a[3..3 + name.len()].copy_from_slice(name);
            a
        }
    }
}

/// Forks a child that becomes uid/gid [`NOBODY`], binds its data socket (unless it names a
/// foreign one), connects to `ctl`, asks for `port` (0: any) and reports what came back.
fn request_as_nobody(ctl: &Path, sock: &ClientSocket, port: u32) -> Answer {
    let ctl_addr = sockaddr_un(ctl);
    let addr = client_addr(sock);
    let mut req = Vec::new();
    req.extend_from_slice(&MAGIC.to_ne_bytes());
    req.extend_from_slice(&3u32.to_ne_bytes());
    req.extend_from_slice(&(port << 8).to_ne_bytes());
    req.extend_from_slice(&addr);
    req.extend_from_slice(b"as nobody");
    let bind_own = !matches!(sock, ClientSocket::Foreign(_));
    // SAFETY: the child only makes async-signal-safe system calls on memory prepared before the
    // fork, then _exits; the parent waits for it.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = (|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(NOBODY) != 0
                    || libc::setuid(NOBODY) != 0
                {
                    return 10;
                }
                if bind_own {
                    let d = libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0);
                    if libc::bind(d, addr.as_ptr().cast(), addr.len() as u32) != 0 {
                        return 13;
                    }
                }
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                if libc::connect(fd, ctl_addr.as_ptr().cast(), ctl_addr.len() as u32) != 0 {
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
            0 => Answer::Closed,
            1 => Answer::Reply,
            2 => Answer::Timeout,
            n => Answer::Failed(n),
        }
    }
}

/// A directory the [`NOBODY`] user may create its sockets in.
fn nobody_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(d.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    d
}

/// A switch other users may connect to (`-m 666`).
fn shared_switch(extra: &[&str]) -> Switch {
    Switch::builder().args(["-m", "666"]).args(extra).start()
}

/// A client naming a socket it does not own: the reference (as root) connects to it and sends
/// frames there; ours refuses the request.
#[test]
fn a_client_cannot_name_somebody_elses_socket() {
    let Some(()) = needs::root("to act as another user") else {
        return;
    };
    let sw = shared_switch(&[]);
    // A root-owned datagram socket somewhere: the "victim".
    let victim_dir = tempfile::tempdir().unwrap();
    let victim_path = victim_dir.path().join("victim.sock");
    let _victim = UnixDatagram::bind(&victim_path).unwrap();
    let answer = request_as_nobody(sw.ctl(), &ClientSocket::Foreign(victim_path), 0);
    if is_reference() {
        assert_eq!(
            answer,
            Answer::Reply,
            "the reference serves the deputy request"
        );
        note_reference("the reference connects to somebody else's socket, as documented");
        return;
    }
    assert_eq!(answer, Answer::Closed);
    sw.expect_log("owned by uid 0 but the client runs as uid 65534");
    // The same user with a socket of its own is served (the refusal is about the owner).
    let own = nobody_dir();
    let answer = request_as_nobody(sw.ctl(), &ClientSocket::Own(own.path().join("c")), 0);
    assert_eq!(answer, Answer::Reply, "nobody with its own socket");
}

/// Abstract-socket clients (UML's daemon transport) are accepted from the switch's own user
/// and root only, unless `--allow-abstract`.
#[test]
fn abstract_socket_clients_of_other_users_need_allow_abstract() {
    let Some(()) = needs::root("to act as another user") else {
        return;
    };
    let name = format!("vdet-abstract-{}", std::process::id()).into_bytes();
    let sock = ClientSocket::Abstract(name);
    let sw = shared_switch(&[]);
    let answer = request_as_nobody(sw.ctl(), &sock, 0);
    if is_reference() {
        assert_eq!(answer, Answer::Reply, "the reference serves everybody");
        note_reference("abstract-socket clients of any user accepted (no such rule in 2.3.2)");
        return;
    }
    assert_eq!(answer, Answer::Closed, "another user's abstract socket");
    sw.expect_log(
        "abstract socket clients of uid 65534 are not accepted by a switch of uid 0 \
         (start the switch as that user, or pass --allow-abstract)",
    );
    let open = shared_switch(&["--allow-abstract"]);
    assert_eq!(
        request_as_nobody(open.ctl(), &sock, 0),
        Answer::Reply,
        "with --allow-abstract"
    );
}

/// A port in use by one user is refused to another (closed at once, reason logged); another
/// port is still given to that user.
#[test]
fn a_port_owned_by_another_user_is_refused() {
    let Some(()) = needs::root("to act as another user") else {
        return;
    };
    let sw = shared_switch(&[]);
    let mut owner = RawClient::connect(&sw, "owner");
    let req = owner.request(5, b"root on port 5");
    owner.write(&req);
    match owner.read_reply(Duration::from_secs(5)) {
        Reply::Data(_) => {}
        other => panic!("root asking for port 5: expected a reply, got {other:?}"),
    }
    let dir = nobody_dir();
    let answer = request_as_nobody(sw.ctl(), &ClientSocket::Own(dir.path().join("a")), 5);
    if is_reference() {
        assert_eq!(
            answer,
            Answer::Timeout,
            "the reference leaves the client hanging"
        );
        note_reference("a port of another user: the client is left hanging, as documented");
        return;
    }
    assert_eq!(answer, Answer::Closed, "nobody asking for root's port 5");
    sw.expect_log("port 5 belongs to another user");
    let answer = request_as_nobody(sw.ctl(), &ClientSocket::Own(dir.path().join("b")), 6);
    assert_eq!(answer, Answer::Reply, "nobody asking for the free port 6");
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

/// Runts and oversize frames are dropped and counted (an extension: `port/stats`).
#[test]
fn runts_and_oversize_frames_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((sw, m)) = ours_with_mgmt(tmp.path(), "port/stats is ours", ["--maxframe", "1518"])
    else {
        return;
    };
    let (c, port) = RawClient::attach(&sw, "counted");
    let b = Plug::attach(&sw);
    c.send_frame(&[0u8; 13]);
    c.send_frame(&[0u8; 5]);
    c.send_frame(&eth(BROADCAST, mac(1), ETH_P_TEST, &payload(1600, 0)));
    // The control frame comes after the dropped ones: once it is through, they are counted.
    let ok = eth(BROADCAST, mac(1), ETH_P_TEST, &payload(1504, 1));
    c.send_frame(&ok);
    b.expect_only(&ok, "runts and a frame above --maxframe 1518 are dropped");
    let (mut mgmt, _) = Session::open(&m);
    assert_eq!(
        mgmt.port_stats(port),
        PortStats {
            runts: 2,
            oversize: 1,
            ..PortStats::default()
        }
    );
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
    assert_eq!(
        mgmt.port_stats(a.port),
        PortStats {
            unlearned: 1,
            ..PortStats::default()
        }
    );
    sw.expect_log(&format!(
        "MAC table full (2 entries): 02:00:00:00:00:43 on port {} forwarded but not learned \
         (raise --maxmacs)",
        a.port
    ));
}

/// Sends `control` from `from` and waits until `to` receives it, skipping (and counting) the
/// frames before it; then once more with `control2`. Once `control2` is through, every frame
/// `from` sent before `control` has been handled, log lines included (the switch logs at the
/// end of the turn of its loop that handled a frame, and `control2` left later than that).
fn settle(from: &mut Plug, to: &Plug, control: &[u8], control2: &[u8]) -> usize {
    from.send(control);
    let mut skipped = 0;
    loop {
        let f = to
            .recv_timeout(SETTLE)
            .expect("the control frame did not arrive");
        if f == control {
            break;
        }
        skipped += 1;
    }
    from.send(control2);
    to.expect_frame(control2, SETTLE, "the second control frame");
    skipped
}

/// "MAC ... moved" is logged for every frame from a known source on another port (refused
/// moves included): ours rate-limits it (20 lines per 10 s), and the first line after a quiet
/// window says how many were suppressed, so that every event is accounted for.
#[test]
fn mac_moved_log_lines_are_rate_limited() {
    if is_reference() {
        note_reference("the reference logs every move (not rate limited)");
        return;
    }
    // Moves are always refused (minimum persistence 1000 s): each frame is one event.
    let sw = Switch::builder().rc("hash/setminper 1000\n").start();
    let mut a = Plug::attach(&sw);
    let mut b = Plug::attach(&sw);
    let x = mac(0x5a);
    let hello = eth(BROADCAST, x, ETH_P_TEST, &payload(46, 0));
    a.send(&hello);
    b.expect_frame(&hello, SETTLE, "x learned on a's port");
    let control = |n: u8| eth(BROADCAST, mac(0x5b), ETH_P_TEST, &payload(46, n));
    let moved = regex::Regex::new(&format!(
        r"MAC 02:00:00:00:00:5a moved from port {} to port {}(?: \((\d+) similar messages suppressed\))?\n",
        a.port, b.port
    ))
    .unwrap();
    // Each line: how many it stands for (itself and those it says were suppressed).
    let lines = |text: &str| -> Vec<u64> {
        moved
            .captures_iter(text)
            .map(|c| 1 + c.get(1).map_or(0, |n| n.as_str().parse::<u64>().unwrap()))
            .collect()
    };

    const K: u64 = 100;
    let t0 = std::time::Instant::now();
    let burst: Vec<Vec<u8>> = (0..K)
        .map(|i| eth(BROADCAST, x, ETH_P_TEST, &payload(46, i as u8)))
        .collect();
    b.send_burst(&burst);
    let forwarded = settle(&mut b, &a, &control(1), &control(2));
    assert_eq!(forwarded as u64, K, "the frames themselves are forwarded");
    let after_burst = lines(&sw.stderr());
    if t0.elapsed() < Duration::from_secs(9) {
        // One window: its 20 lines, the rest held back.
        assert_eq!(after_burst, vec![1; 20], "{}", sw.stderr());
    } else {
        assert!(after_burst.len() < K as usize, "{}", sw.stderr());
    }

    // One more move a second until a line says how many were suppressed (a new window).
    let mut events = K;
    let deadline = integration_tests::Deadline::after(Duration::from_secs(30));
    loop {
        assert!(
            !deadline.expired(),
            "no line reported the suppressed ones: {}",
            sw.stderr()
        );
        std::thread::sleep(Duration::from_secs(1));
        let probe = eth(BROADCAST, x, ETH_P_TEST, &payload(46, 0xee));
        b.send(&probe);
        events += 1;
        assert_eq!(settle(&mut b, &a, &control(3), &control(4)), 1);
        let now = lines(&sw.stderr());
        if now.last().is_some_and(|&n| n > 1) {
            assert_eq!(
                now.iter().sum::<u64>(),
                events,
                "every move is logged or counted in a later line: {}",
                sw.stderr()
            );
            break;
        }
    }
}
