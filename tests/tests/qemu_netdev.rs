//! QEMU VMs on our switch without libvdeplug: `-netdev stream` (`--stream PATH`) and
//! `-netdev dgram` (`--dgram PATH`). Each VM has an e1000 NIC booting its iPXE ROM under TCG
//! and gets a DHCP lease from `slirpvde`, plugged into the same switch over the vde protocol.
//! Then the switch's console shows the VM on its own port, its MAC learned there, and the port
//! freed when the VM is killed. Malformed streams are written by hand (no real client sends
//! them): they close their own port and nothing else.

use integration_tests::bins::note_reference;
use integration_tests::frame::ETH_P_TEST;
use integration_tests::is_reference;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::proc::{wait_until, Spawned};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{eth, mac, payload, vlan_tagged, Switch, BROADCAST, SETTLE};
use integration_tests::{needs, qemu};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long QEMU under TCG may take to boot its ROM and get a lease (about 20 s on an idle
/// 2-core machine; only a failure waits this long).
const LEASE: Duration = Duration::from_secs(240);
/// What iPXE prints once it has a lease from slirpvde (10.0.2.15, .16... in the order
/// the VMs ask).
const LEASE_LINE: &str = "/255.255.255.0 gw 10.0.2.2";

/// Whether the switch under test is ours: the reference has no `--stream` or `--dgram`, so
/// these tests note that and stop when it is under test.
fn ours() -> bool {
    if is_reference() {
        note_reference("--stream and --dgram are ours");
        return false;
    }
    true
}

/// A diskless VM whose e1000 (MAC `mac`) is on `netdev` (the `-netdev` value, id `n0`).
fn vm(t: &qemu::Tools, netdev: &str, mac: &str) -> Spawned {
    Spawned::start(&mut qemu::pxe_vm(&t.qemu, netdev, mac))
}

fn stream_netdev(path: &Path, extra: &str) -> String {
    format!(
        "stream,id=n0,server=off,addr.type=unix,addr.path={}{extra}",
        path.display()
    )
}

fn cmd(mgmt: &Path, command: &str) -> String {
    let (mut s, _) = Session::open(mgmt);
    lossy(&s.cmd(command))
}

/// The port number of the `port/print` block holding `needle`.
fn port_with(ports: &str, needle: &str) -> Option<u32> {
    let mut current = None;
    for line in ports.lines() {
        if let Some(rest) = line.strip_prefix("Port ") {
            current = rest.get(..4).and_then(|n| n.parse().ok());
        }
        if line.contains(needle) {
            return current;
        }
    }
    None
}

/// Waits until `port/print` shows `needle` (or, with `present == false`, no longer shows
/// it); returns the last answer.
fn wait_ports(mgmt: &Path, needle: &str, present: bool, timeout: Duration) -> (bool, String) {
    let mut last = String::new();
    let ok = wait_until(timeout, || {
        last = cmd(mgmt, "port/print");
        last.contains(needle) == present
    });
    (ok, last)
}

/// A switch with `--stream DIR/q.sock` (plus `extra` options) and a management socket.
fn stream_switch(sockets: &Path, extra: &[&str]) -> (MgmtSwitch, PathBuf) {
    let path = sockets.join("q.sock");
    let sw = MgmtSwitch::start(
        Switch::builder()
            .arg("--stream")
            .arg(&path)
            .args(extra.iter().copied()),
    );
    (sw, path)
}

/// Three VMs, on `-netdev stream` over a unix socket, over TCP, and on `-netdev dgram`, get their leases through our
/// switch at the same time; `port/print` shows each on its own port (module `stream` or
/// `dgram`, QEMU's user and pid), `hash/print` each MAC on its port, and killing a VM frees
/// its port (the dgram one once the switch finds its socket gone), slirpvde's staying.
#[test]
fn qemu_on_netdev_stream_and_dgram_get_leases_and_free_their_ports_when_killed() {
    if !ours() {
        return;
    }
    let Some(t) = qemu::tools() else { return };
    let sockets = tempfile::tempdir().unwrap();
    let dgram = sockets.path().join("d.sock");
    let tcp_port = free_tcp_port();
    let (sw, path) = stream_switch(
        sockets.path(),
        &[
            "--dgram",
            dgram.to_str().unwrap(),
            &format!("--stream=tcp:127.0.0.1:{tcp_port}"),
        ],
    );
    let _slirp = qemu::slirp(&t, sw.switch.dir());
    let mut on_stream = vm(&t, &stream_netdev(&path, ""), "52:54:00:12:35:01");
    let vm_sock = sockets.path().join("vm.sock");
    let dgram_netdev = format!(
        "dgram,id=n0,local.type=unix,local.path={},remote.type=unix,remote.path={}",
        vm_sock.display(),
        dgram.display()
    );
    let mut on_dgram = vm(&t, &dgram_netdev, "52:54:00:12:35:03");
    let tcp_netdev =
        format!("stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={tcp_port}");
    let mut on_tcp = vm(&t, &tcp_netdev, "52:54:00:12:35:04");
    for (vm, kind) in [
        (&mut on_stream, "stream"),
        (&mut on_dgram, "dgram"),
        (&mut on_tcp, "tcp"),
    ] {
        assert!(
            vm.wait_stdout(LEASE_LINE, LEASE),
            "no DHCP lease on {kind} within {LEASE:?}\n=== qemu ===\n{}\n=== switch ===\n{}",
            vm.log(),
            sw.switch.stderr()
        );
    }
    let ports = cmd(&sw.mgmt, "port/print");
    let table = cmd(&sw.mgmt, "hash/print");
    let mut seen = Vec::new();
    for (vm, module, sock, mac) in [
        (&on_stream, "stream", &path, "52:54:00:12:35:01"),
        (&on_dgram, "dgram", &vm_sock, "52:54:00:12:35:03"),
    ] {
        let me = format!(
            "module {module:<12}: {} user=root pid={}",
            sock.display(),
            vm.child.id()
        );
        let port = port_with(&ports, &me).unwrap_or_else(|| panic!("no {me:?} in\n{ports}"));
        let learned = format!("Addr: {mac} VLAN 0000 to port: {port:03}");
        assert!(table.contains(&learned), "{learned:?} not in\n{table}");
        seen.push(port);
    }
    // Over TCP nothing says who the peer is: user NONE, its address as description.
    let tcp = port_with(&ports, "module stream      : tcp 127.0.0.1:")
        .unwrap_or_else(|| panic!("no TCP client in\n{ports}"));
    let learned = format!("Addr: 52:54:00:12:35:04 VLAN 0000 to port: {tcp:03}");
    assert!(table.contains(&learned), "{learned:?} not in\n{table}");
    seen.push(tcp);
    let stream_port = seen[0];
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 3, "one port each:\n{ports}");
    sw.switch.expect_log(&format!(
        "stream client ({} user=root pid={}) on port {}",
        path.display(),
        on_stream.child.id(),
        stream_port
    ));

    drop(on_tcp);
    let (gone, ports) = wait_ports(&sw.mgmt, ": tcp 127.0.0.1:", false, SETTLE);
    assert!(gone, "the killed TCP VM still has a port:\n{ports}");
    for (vm, module, why) in [
        (
            on_stream,
            "module stream",
            "left: the client closed the connection",
        ),
        (on_dgram, "module dgram", "left: its socket is gone"),
    ] {
        drop(vm);
        let (gone, ports) = wait_ports(&sw.mgmt, module, false, SETTLE);
        assert!(gone, "the killed VM still has a port:\n{ports}");
        assert!(
            port_with(&ports, "slirpvde").is_some(),
            "slirpvde lost its port too:\n{ports}"
        );
        sw.switch.expect_log(why);
    }
}

/// What QEMU 8.0 and later do with `reconnect=N` (QEMU 7.2, Debian 12's, does not have the
/// parameter: "Parameter 'reconnect' is unexpected"): when the switch goes away, connect to
/// the same path again every N seconds. Our side of it: a switch restarted on the same
/// `--stream` path, after a crash that left the socket file behind (SIGKILL) or after a clean
/// stop, accepts the clients again, each on a port, frames flowing. The clients are written
/// by hand for that reason.
#[test]
fn stream_clients_reconnect_to_a_restarted_switch() {
    if !ours() {
        return;
    }
    let sockets = tempfile::tempdir().unwrap();
    let (mut first, path) = stream_switch(sockets.path(), &[]);
    let (a, b) = (Raw::connect(&path), Raw::connect(&path));
    let (up, ports) = wait_ports(&first.mgmt, "Port 0002", true, SETTLE);
    assert!(up, "{ports}");
    first.switch.kill_hard();
    assert!(path.exists(), "a killed switch cannot remove its socket");
    let mut old = [a, b];
    for c in &mut old {
        assert!(c.closed_by_switch());
    }
    for stop in ["SIGKILL", "SIGTERM"] {
        let (mut sw, again) = stream_switch(sockets.path(), &[]);
        assert_eq!(path, again);
        let mut a = Raw::reconnect(&path);
        let mut b = Raw::reconnect(&path);
        let (up, ports) = wait_ports(&sw.mgmt, "Port 0002", true, SETTLE);
        assert!(up, "after {stop}: {ports}");
        burst(&mut a, &mut b, 1);
        burst(&mut b, &mut a, 2);
        if stop == "SIGKILL" {
            sw.switch.signal(libc::SIGTERM);
            assert!(
                sw.switch.wait_exit(SETTLE).is_some(),
                "SIGTERM did not stop it"
            );
            assert!(!path.exists(), "a stopped switch removes its socket");
        }
    }
}

/// A TCP port nobody listens on now (the switch takes it a moment later).
fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A stream client as QEMU frames it, written by hand.
struct Raw(UnixStream);

impl Raw {
    fn connect(path: &Path) -> Raw {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(SETTLE)).unwrap();
        Raw(s)
    }

    /// Connect as QEMU's `reconnect=` does: again and again until the switch is there.
    fn reconnect(path: &Path) -> Raw {
        let mut conn = None;
        wait_until(SETTLE, || {
            conn = UnixStream::connect(path).ok();
            conn.is_some()
        });
        let s = conn.unwrap_or_else(|| panic!("{} never accepted", path.display()));
        s.set_read_timeout(Some(SETTLE)).unwrap();
        Raw(s)
    }

    fn send(&mut self, frame: &[u8]) {
        let mut rec = (frame.len() as u32).to_be_bytes().to_vec();
        rec.extend_from_slice(frame);
        self.0.write_all(&rec).unwrap();
    }

    fn recv(&mut self) -> Vec<u8> {
        let mut len = [0u8; 4];
        self.0.read_exact(&mut len).expect("a length header");
        let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
        self.0.read_exact(&mut frame).expect("a whole frame");
        frame
    }

    /// Whether the switch closed the connection (reads up to its end).
    fn closed_by_switch(&mut self) -> bool {
        let mut sink = Vec::new();
        self.0.read_to_end(&mut sink).is_ok()
    }
}

/// Bad framing closes that peer's port with a log line naming the problem; a connection
/// ending inside a frame too. Two other stream clients keep exchanging frames, both ways,
/// many per write.
#[test]
fn bad_framing_closes_only_that_port() {
    if !ours() {
        return;
    }
    let sockets = tempfile::tempdir().unwrap();
    let (sw, path) = stream_switch(sockets.path(), &[]);
    let mut a = Raw::connect(&path);
    let mut b = Raw::connect(&path);
    let (up, ports) = wait_ports(&sw.mgmt, "Port 0002", true, SETTLE);
    assert!(up, "{ports}");

    let cases: [(&[u8], &str); 3] = [
        (&[0, 0, 0, 0, 1, 2], "zero-length frame"),
        (
            &[0, 1, 0x10, 0x01, 0xaa],
            "frame of 69633 bytes is longer than the 69632-byte limit",
        ),
        (
            &[0, 0, 0, 60, 1, 2, 3],
            "stream ended inside a frame, 7 of 64 bytes",
        ),
    ];
    for (bytes, why) in cases {
        let mut bad = Raw::connect(&path);
        bad.0.write_all(bytes).unwrap();
        if why.contains("ended inside") {
            bad.0.shutdown(std::net::Shutdown::Write).unwrap();
        }
        assert!(bad.closed_by_switch(), "{why}: connection left open");
        sw.switch.expect_log(why);
    }
    let (one_left, ports) = wait_ports(&sw.mgmt, "Port 0003", false, SETTLE);
    assert!(one_left, "{ports}");

    // A and B still work: a burst of frames in one write each way, all delivered in order.
    burst(&mut a, &mut b, 1);
    burst(&mut b, &mut a, 2);
    a.send(&eth(mac(2), mac(1), ETH_P_TEST, &payload(46, 9)));
    assert_eq!(b.recv(), eth(mac(2), mac(1), ETH_P_TEST, &payload(46, 9)));
}

/// 50 broadcast frames from `sender` in one write arrive at `receiver` in order.
fn burst(sender: &mut Raw, receiver: &mut Raw, from: u8) {
    let frames: Vec<Vec<u8>> = (0..50)
        .map(|i| eth(BROADCAST, mac(from), ETH_P_TEST, &payload(46 + i, from)))
        .collect();
    let mut wire = Vec::new();
    for f in &frames {
        wire.extend_from_slice(&(f.len() as u32).to_be_bytes());
        wire.extend_from_slice(f);
    }
    sender.0.write_all(&wire).unwrap();
    for f in &frames {
        assert_eq!(&receiver.recv(), f);
    }
}

/// The uid and gid the tests act as when they need another user.
const NOBODY: u32 = 65534;

/// Sends `frame` to the `--dgram` socket `to` from `sock` (bound, or not: `None`) in a child
/// process that first becomes uid [`NOBODY`]: the switch sees that user's credentials.
fn send_as_nobody(sock: Option<&std::os::unix::net::UnixDatagram>, to: &Path, frame: &[u8]) {
    use std::os::fd::AsRawFd;
    let fd = sock.map(|s| s.as_raw_fd());
    let to = to.to_path_buf();
    let frame = frame.to_vec();
    // A child of our own (a new process, so that setuid changes only it).
    let status = std::thread::spawn(move || {
        // SAFETY: the child only makes system calls on memory prepared before the fork,
        // then _exits; the parent waits for it.
        unsafe {
            let mut sun: libc::sockaddr_un = std::mem::zeroed();
            sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
            let bytes = std::os::unix::ffi::OsStrExt::as_bytes(to.as_os_str());
            for (d, s) in sun.sun_path.iter_mut().zip(bytes) {
                *d = *s as libc::c_char;
            }
            let pid = libc::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(NOBODY) != 0
                    || libc::setuid(NOBODY) != 0
                {
                    libc::_exit(10);
                }
                let d = fd.unwrap_or_else(|| libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0));
                let n = libc::sendto(
                    d,
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&sun as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as u32,
                );
                libc::_exit(if n == frame.len() as isize {
                    0
                } else {
                    100 + *libc::__errno_location()
                });
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
            libc::WEXITSTATUS(status)
        }
    })
    .join()
    .unwrap();
    assert_eq!(status, 0, "the child as nobody could not send");
}

/// Datagram peers follow the vde protocol's ownership rules: a sender of another user whose
/// socket file is root's is refused (a root switch would otherwise send frames into
/// somebody else's socket), an unbound sender is refused (nothing to answer to), and the
/// same user with its own socket gets a port as that user and receives frames there.
#[test]
fn dgram_peers_follow_the_ownership_rules() {
    if !ours() {
        return;
    }
    let Some(()) = needs::root("to act as another user") else {
        return;
    };
    let sockets = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(sockets.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let dgram = sockets.path().join("d.sock");
    let sw = MgmtSwitch::start(Switch::builder().args(["-m", "666", "--dgram"]).arg(&dgram));
    let frame = eth(BROADCAST, mac(7), ETH_P_TEST, &payload(46, 7));

    // Root's socket file, used by a process of uid nobody.
    let roots = sockets.path().join("roots.sock");
    let foreign = std::os::unix::net::UnixDatagram::bind(&roots).unwrap();
    std::os::unix::fs::chown(&roots, Some(0), Some(0)).unwrap();
    send_as_nobody(Some(&foreign), &dgram, &frame);
    sw.switch.expect_log(&format!(
        "refused dgram client on {}: client socket {}: owned by uid 0 but the client runs as uid 65534",
        dgram.display(),
        roots.display()
    ));
    send_as_nobody(None, &dgram, &frame);
    sw.switch
        .expect_log("the sender's socket is not bound to an address, so nothing can be sent back");

    // Nobody's own socket: a port of user nobody. Frames from another peer reach it.
    let own = sockets.path().join("own.sock");
    let mine = std::os::unix::net::UnixDatagram::bind(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(NOBODY), Some(NOBODY)).unwrap();
    mine.set_read_timeout(Some(SETTLE)).unwrap();
    send_as_nobody(Some(&mine), &dgram, &frame);
    let (up, ports) = wait_ports(
        &sw.mgmt,
        &format!("{} user=nobody", own.display()),
        true,
        SETTLE,
    );
    assert!(up, "{ports}");
    assert!(ports.contains("Current User: nobody"), "{ports}");
    assert_eq!(ports.matches("module dgram").count(), 1, "{ports}");

    let other = std::os::unix::net::UnixDatagram::bind(sockets.path().join("b.sock")).unwrap();
    let hello = eth(BROADCAST, mac(8), ETH_P_TEST, &payload(60, 8));
    other.send_to(&hello, &dgram).unwrap();
    let mut buf = [0u8; 2000];
    let n = mine.recv(&mut buf).expect("the frame of the other peer");
    assert_eq!(&buf[..n], &hello[..]);
    let ports = cmd(&sw.mgmt, "port/print");
    assert_eq!(ports.matches("module dgram").count(), 2, "{ports}");

    // Abstract sockets: the switch's own user (root here) is accepted, shown with a leading @;
    // another user's is refused (without --allow-abstract).
    use std::os::linux::net::SocketAddrExt;
    let name = format!("vde-rs-test-{}", std::process::id());
    let abs = std::os::unix::net::UnixDatagram::bind_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap(),
    )
    .unwrap();
    abs.send_to(&frame, &dgram).unwrap();
    let (up, ports) = wait_ports(&sw.mgmt, &format!("@{name} user=root"), true, SETTLE);
    assert!(up, "{ports}");
    let foreign_name = format!("vde-rs-test-nobody-{}", std::process::id());
    let foreign_abs = std::os::unix::net::UnixDatagram::bind_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(&foreign_name).unwrap(),
    )
    .unwrap();
    send_as_nobody(Some(&foreign_abs), &dgram, &frame);
    sw.switch.expect_log(&format!(
        "abstract socket @{foreign_name} of uid 65534 is not accepted by a switch of uid 0"
    ));
}

/// A stream client of another user: its port's user is that user, and `port/print` shows
/// its pid.
#[test]
fn stream_port_of_another_user() {
    if !ours() {
        return;
    }
    let Some(()) = needs::root("to act as another user") else {
        return;
    };
    let sockets = tempfile::tempdir().unwrap();
    let (sw, path) = stream_switch(sockets.path(), &["-m", "666"]);
    let (mut parent_end, child_end) = UnixStream::pair().unwrap();
    let child = nobody_stream_client(&path, child_end);
    let me = format!("{} user=nobody pid={child}", path.display());
    let (up, ports) = wait_ports(&sw.mgmt, &me, true, SETTLE);
    // Let the child go before any assertion can fail.
    let _ = parent_end.write_all(b"x");
    // SAFETY: waiting for our own child.
    let status = unsafe {
        let mut st = 0;
        libc::waitpid(child, &mut st, 0);
        libc::WEXITSTATUS(st)
    };
    assert!(up, "{ports}");
    assert_eq!(status, 0, "the client as nobody failed");
    let port = port_with(&ports, &me).unwrap();
    let start = ports.find(&format!("Port {port:04}")).unwrap();
    assert!(
        ports[start..]
            .lines()
            .nth(1)
            .unwrap()
            .contains("Current User: nobody"),
        "{ports}"
    );
    let (gone, ports) = wait_ports(&sw.mgmt, &me, false, SETTLE);
    assert!(gone, "its end did not free the port:\n{ports}");
}

/// Forks a child that becomes uid [`NOBODY`], connects to the stream socket `path`, and
/// stays connected until a byte arrives on `hold` (or it ends); returns its pid.
fn nobody_stream_client(path: &Path, hold: UnixStream) -> libc::pid_t {
    use std::os::fd::AsRawFd;
    // SAFETY: sockaddr_un is plain data; all zeros is an empty address.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    for (d, s) in sun.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let hold_fd = hold.as_raw_fd();
    let pid = std::thread::spawn(move || {
        // SAFETY: the child only makes system calls on memory prepared before the fork, then
        // _exits; the caller waits for it.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(NOBODY) != 0
                    || libc::setuid(NOBODY) != 0
                {
                    libc::_exit(10);
                }
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                if libc::connect(
                    fd,
                    (&sun as *const libc::sockaddr_un).cast(),
                    std::mem::size_of::<libc::sockaddr_un>() as u32,
                ) != 0
                {
                    libc::_exit(11);
                }
                let mut b = [0u8; 1];
                libc::read(hold_fd, b.as_mut_ptr().cast(), 1);
                libc::_exit(0);
            }
            pid
        }
    })
    .join()
    .unwrap();
    drop(hold);
    pid
}

/// The endpoint ID of the `port/print` line holding `needle`.
fn endpoint_with(ports: &str, needle: &str) -> Option<u32> {
    let line = ports.lines().find(|l| l.contains(needle))?;
    line.split("endpoint ID ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// Stream and dgram ports are ordinary ports: frames cross between the two kinds both ways,
/// counted, tagged and untagged by VLAN; `port/epclose` ends a stream client's connection and forgets a dgram peer, which
/// gets a port again with its next frame.
#[test]
fn stream_and_dgram_ports_in_the_console() {
    if !ours() {
        return;
    }
    let sockets = tempfile::tempdir().unwrap();
    let dgram = sockets.path().join("d.sock");
    let (sw, path) = stream_switch(sockets.path(), &["--dgram", dgram.to_str().unwrap()]);
    let mut a = Raw::connect(&path);
    let b = std::os::unix::net::UnixDatagram::bind(sockets.path().join("b.sock")).unwrap();
    b.set_read_timeout(Some(SETTLE)).unwrap();
    let from_b = eth(BROADCAST, mac(2), ETH_P_TEST, &payload(50, 2));
    b.send_to(&from_b, &dgram).unwrap();
    assert_eq!(a.recv(), from_b);
    let from_a = eth(mac(2), mac(1), ETH_P_TEST, &payload(70, 1));
    a.send(&from_a);
    let mut buf = [0u8; 2000];
    let n = b.recv(&mut buf).expect("A's frame at B");
    assert_eq!(&buf[..n], &from_a[..]);

    let ports = cmd(&sw.mgmt, "port/print");
    let (pa, pb) = (
        port_with(&ports, "module stream").unwrap(),
        port_with(&ports, "module dgram").unwrap(),
    );
    let (ea, eb) = (
        endpoint_with(&ports, "module stream").unwrap(),
        endpoint_with(&ports, "module dgram").unwrap(),
    );
    let block = |p: u32| -> String {
        let start = ports.find(&format!("Port {p:04}")).unwrap();
        ports[start..]
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n")
    };
    for p in [pa, pb] {
        let b = block(p);
        assert!(b.contains("IN:  pkts          1"), "{b}");
        assert!(b.contains("OUT: pkts          1"), "{b}");
    }

    // VLANs: A untagged on VLAN 10, B a tagged member of it. A's frames reach B tagged,
    // B's tagged frames reach A untagged.
    for c in [
        "vlan/create 10".to_string(),
        format!("port/setvlan {pa} 10"),
        format!("vlan/addport 10 {pb}"),
    ] {
        let answer = cmd(&sw.mgmt, &c);
        assert!(answer.contains("1000 Success"), "{c}: {answer}");
    }
    let untagged = eth(BROADCAST, mac(1), ETH_P_TEST, &payload(60, 3));
    a.send(&untagged);
    let n = b.recv(&mut buf).expect("A's frame at B, tagged");
    assert_eq!(
        &buf[..n],
        &vlan_tagged(BROADCAST, mac(1), 10, ETH_P_TEST, &payload(60, 3))[..]
    );
    b.send_to(
        &vlan_tagged(mac(1), mac(2), 10, ETH_P_TEST, &payload(60, 4)),
        &dgram,
    )
    .unwrap();
    assert_eq!(a.recv(), eth(mac(1), mac(2), ETH_P_TEST, &payload(60, 4)));

    let answer = cmd(&sw.mgmt, &format!("port/epclose {pa} {ea}"));
    assert!(answer.contains("1000 Success"), "{answer}");
    assert!(a.closed_by_switch());
    sw.switch.expect_log("disconnected by the switch");
    let answer = cmd(&sw.mgmt, &format!("port/epclose {pb} {eb}"));
    assert!(answer.contains("1000 Success"), "{answer}");
    let (gone, ports) = wait_ports(&sw.mgmt, "module dgram", false, SETTLE);
    assert!(gone, "{ports}");
    b.send_to(&from_b, &dgram).unwrap();
    let (back, ports) = wait_ports(&sw.mgmt, "module dgram", true, SETTLE);
    assert!(back, "the dgram peer did not get a port again:\n{ports}");
    assert_ne!(endpoint_with(&ports, "module dgram"), Some(eb), "{ports}");
}

/// A `--stream` or `--dgram` path that is not a socket is never replaced, and a socket in use
/// is not taken over: the switch refuses to start, says why, and leaves nothing behind.
#[test]
fn sockets_that_cannot_be_made_stop_the_start() {
    if !ours() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let live = scratch.path().join("live.sock");
    let _holder = std::os::unix::net::UnixDatagram::bind(&live).unwrap();
    let listening = scratch.path().join("listening.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&listening).unwrap();
    let cases: [(&str, &Path, &str); 4] = [
        ("--stream", &file, "the file exists and is not a socket"),
        ("--dgram", &file, "the file exists and is not a socket"),
        (
            "--dgram",
            &live,
            "Address already in use (stop the program holding it, or give --dgram another path)",
        ),
        ("--stream", &listening, "Address already in use"),
    ];
    for (opt, path, why) in cases {
        let dir = scratch.path().join("sw");
        let failure = match Switch::builder().sock(&dir).arg(opt).arg(path).try_start() {
            Ok(_) => panic!("{opt} {} was accepted", path.display()),
            Err(f) => f,
        };
        let want = format!("Could not bind to socket '{}': {why}", path.display());
        assert!(failure.stderr.contains(&want), "{want:?} not in {failure}");
        assert!(
            failure.stderr.contains(&format!("{opt} another path)"))
                || why.contains("not a socket"),
            "{failure}"
        );
        assert!(
            !dir.exists(),
            "{opt}: the control directory was left behind"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
    }
}
