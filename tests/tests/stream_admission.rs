//! Fair admission on `--stream` listeners (QEMU `-netdev stream` clients, unix and TCP): a
//! connection holds a port as soon as it is accepted, so silent connections could take every
//! port. Held by one host (TCP, from 127.0.0.2) or one local user (uid 65534, unix), they only
//! ever displace their own: a VM of somebody else gets a port and its frames through, a vde
//! client too, even when no port is free. A client reconnecting in a tight loop does not keep
//! the switch from serving anybody else (the accept batch).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use integration_tests::flood::{tcp_connect_from, SilentFlood, SilentTcpFlood};
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{admission_numbers, lossy, Session};
use integration_tests::proc::Spawned;
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{bins::note_reference, is_reference, needs, qemu};
use integration_tests::{eth, mac, payload, Plug, Switch, BROADCAST, SETTLE};

/// The local user holding the unix connections.
const NOBODY: u32 = 65534;
/// The address standing for the host holding the TCP connections.
const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const SILENT: usize = 200;

/// Whether the switch under test is ours (the reference has no `--stream`).
fn ours() -> bool {
    if is_reference() {
        note_reference("--stream and its admission are ours");
        return false;
    }
    true
}

/// A TCP port nobody listens on now (the switch takes it a moment later).
fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A directory other users can reach the stream socket in.
fn open_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    d
}

/// A stream client framing as QEMU does (4-byte big-endian length, then the frame).
struct Framed<S: Read + Write>(S);

impl<S: Read + Write> Framed<S> {
    fn send(&mut self, frame: &[u8]) {
        let mut rec = (frame.len() as u32).to_be_bytes().to_vec();
        rec.extend_from_slice(frame);
        self.0.write_all(&rec).expect("write to the switch");
    }

    /// Reads frames until `expected` (others, flooded to every port, are skipped); panics
    /// naming `context` if the connection ends or nothing matches within the read timeout.
    fn expect(&mut self, expected: &[u8], context: &str) {
        loop {
            let mut len = [0u8; 4];
            if let Err(e) = self.0.read_exact(&mut len) {
                panic!("{context}: no frame (the switch closed the connection?): {e}");
            }
            let mut frame = vec![0u8; u32::from_be_bytes(len) as usize];
            self.0
                .read_exact(&mut frame)
                .unwrap_or_else(|e| panic!("{context}: a frame cut short: {e}"));
            if frame == expected {
                return;
            }
        }
    }
}

/// Frames both ways between stream client `vm` and `vde_plug` `plug`, tagged with `seed`.
fn exchange<S: Read + Write>(vm: &mut Framed<S>, plug: &mut Plug, seed: u8, context: &str) {
    let out = eth(BROADCAST, mac(seed), ETH_P_TEST, &payload(60, seed));
    vm.send(&out);
    plug.expect_frame(
        &out,
        SETTLE,
        &format!("{context}: stream client to vde_plug"),
    );
    let back = eth(BROADCAST, mac(seed + 1), ETH_P_TEST, &payload(60, seed + 1));
    plug.send(&back);
    vm.expect(&back, &format!("{context}: vde_plug to stream client"));
}

/// The numbers `ds/admission` gives for pending stream connections: now, at most, evicted,
/// cap in all, cap per peer.
fn stream_admission(mgmt: &Path) -> [u64; 5] {
    let (mut s, _) = Session::open(mgmt);
    admission_numbers(&lossy(&s.cmd("ds/admission")), "pending stream connections")
}

/// 200 silent TCP connections from one address, with the caps in all the first to bind (20
/// pending in all, 8 per peer; 32 ports): that address holds at most 20 ports, a VM from
/// another address and a `vde_plug` are attached and exchange frames, and the flood's newest
/// connections keep displacing its own oldest. Before fair admission the flood took all 31
/// free ports and both were refused.
#[test]
fn silent_tcp_connections_from_one_address_do_not_lock_out_another() {
    if !ours() {
        return;
    }
    let port = free_tcp_port();
    let sw = MgmtSwitch::start(
        Switch::builder()
            .args(["--maxstream-pending", "20", "--maxstream-peer", "8"])
            .arg(format!("--stream=tcp:127.0.0.1:{port}")),
    );
    let target = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let flood = SilentTcpFlood::start(FLOODER, target, SILENT);
    flood.hold(Duration::from_millis(500));

    let tcp = TcpStream::connect(target).unwrap();
    tcp.set_read_timeout(Some(SETTLE)).unwrap();
    let mut vm = Framed(tcp);
    let mut plug = Plug::attach_or_show_log(&sw.switch, "");
    exchange(&mut vm, &mut plug, 10, "during the TCP flood");
    // The VM has sent a frame: it is live, never evicted, however long the flood goes on.
    flood.hold(Duration::from_millis(500));
    exchange(&mut vm, &mut plug, 20, "later in the TCP flood");

    let [now, most, evicted, all, per_peer] = stream_admission(&sw.mgmt);
    assert_eq!((all, per_peer), (20, 8));
    assert!(now <= 20 && most <= 20, "now {now}, at most {most}");
    assert!(
        evicted >= (SILENT - 20) as u64,
        "{evicted} evicted: the flood's connections beyond the cap made room for newer ones"
    );
    sw.switch.expect_log(
        "pending stream connections at their cap (20 in all, cap 20; 20 of address 127.0.0.2, cap 8): closed the pending stream connection on fd ",
    );
}

/// 200 silent unix-stream connections of uid 65534 on a switch with 8 ports: they fill every
/// free port (the per-peer cap, 16, is above it), and still root's stream client and
/// `vde_plug` each get a port, the port of nobody's connection idle the longest. Before,
/// both were refused: "no free port".
#[test]
fn silent_unix_stream_connections_of_one_user_give_their_ports_up() {
    if !ours() {
        return;
    }
    let Some(()) = needs::root("to flood as another user") else {
        return;
    };
    let dir = open_dir();
    let path = dir.path().join("q.sock");
    let sw = MgmtSwitch::start(
        Switch::builder()
            .args(["-n", "8", "-m", "666", "--stream"])
            .arg(&path),
    );
    let flood = SilentFlood::start(&path, NOBODY, SILENT);
    flood.hold(Duration::from_millis(500));

    let unix = UnixStream::connect(&path).unwrap();
    unix.set_read_timeout(Some(SETTLE)).unwrap();
    let mut vm = Framed(unix);
    let mut plug = Plug::attach_or_show_log(&sw.switch, "");
    exchange(&mut vm, &mut plug, 30, "during the unix flood");
    flood.hold(Duration::from_millis(500));
    exchange(&mut vm, &mut plug, 40, "later in the unix flood");
    assert!(flood.running());

    let [now, most, evicted, all, per_peer] = stream_admission(&sw.mgmt);
    assert_eq!((all, per_peer), (64, 16));
    // Ports 1..7: nobody's, and root's stream client until its first frame.
    assert!(now <= 7 && most <= 7, "now {now}, at most {most}");
    assert!(evicted >= (SILENT - 7) as u64, "{evicted} evicted");
    sw.switch
        .expect_log("no free port (all 8 taken): closed the pending stream connection on fd ");
    sw.switch
        .expect_log(" of uid 65534, idle the longest, for a new stream connection of uid 65534");
}

/// One user starting more VMs at once than its cap (24 silent connections as root; default
/// caps 64 in all, 16 per peer): while ports and the cap in all leave room, nobody needs the
/// room, and all 24 keep their ports (a booting VM is silent for tens of seconds).
#[test]
fn a_peer_may_start_more_vms_than_its_cap_while_there_is_room() {
    if !ours() {
        return;
    }
    let dir = open_dir();
    let path = dir.path().join("q.sock");
    let sw = MgmtSwitch::start(Switch::builder().arg("--stream").arg(&path));
    let vms: Vec<UnixStream> = (0..24)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    let up = integration_tests::wait_until(SETTLE, || stream_admission(&sw.mgmt)[0] == 24);
    let [now, most, evicted, all, per_peer] = stream_admission(&sw.mgmt);
    assert!(up, "now {now}, at most {most}, evicted {evicted}");
    assert_eq!((most, evicted, all, per_peer), (24, 0, 64, 16));
    for (i, vm) in vms.iter().enumerate() {
        vm.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        let r = (&*vm).read(&mut b);
        assert!(
            matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "connection {i} was closed or got data: {r:?}"
        );
    }
}

/// `qemu-system-x86_64` (iPXE under TCG) on `-netdev stream` over TCP gets its DHCP lease
/// from slirpvde while one host (127.0.0.2) and one local user (uid 65534) hold 100 silent
/// connections each to the switch's TCP and unix stream sockets, on a switch with 8 ports:
/// slirpvde (over the control socket) and the VM each take the port of a silent connection,
/// and the VM stays connected through its silent boot (tens of seconds) because it is never
/// the heaviest peer.
#[test]
fn qemu_gets_a_lease_while_silent_connections_hold_every_free_port() {
    if !ours() {
        return;
    }
    let Some(()) = needs::root("to flood as another user") else {
        return;
    };
    let Some(t) = qemu::tools() else {
        return;
    };
    let dir = open_dir();
    let path = dir.path().join("q.sock");
    let port = free_tcp_port();
    let sw = MgmtSwitch::start(
        Switch::builder()
            .args(["-n", "8", "-m", "666", "--stream"])
            .arg(&path)
            .arg(format!("--stream=tcp:127.0.0.1:{port}")),
    );
    let target = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let tcp_flood = SilentTcpFlood::start(FLOODER, target, 100);
    let unix_flood = SilentFlood::start(&path, NOBODY, 100);
    unix_flood.hold(Duration::from_millis(500));

    let _slirp = qemu::slirp(&t, sw.switch.dir());

    let netdev =
        format!("stream,id=n0,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port}");
    let mut vm = Spawned::start(&mut qemu::pxe_vm(&t.qemu, &netdev, "52:54:00:12:36:01"));
    // About 20 s on an idle 2-core machine; only a failure waits this long.
    let lease = Duration::from_secs(240);
    assert!(
        vm.wait_stdout("/255.255.255.0 gw 10.0.2.2", lease),
        "no DHCP lease within {lease:?} during the floods\n=== qemu ===\n{}\n=== switch ===\n{}",
        vm.log(),
        sw.switch.stderr()
    );
    tcp_flood.hold(Duration::from_millis(1));
    assert!(unix_flood.running());
    let [_, most, evicted, ..] = stream_admission(&sw.mgmt);
    assert!(most <= 7, "at most {most} pending: there are 7 ports");
    assert!(evicted >= 100, "{evicted} evicted");
}

/// Clients connecting to the stream sockets and leaving at once, as fast as they can (unix
/// and TCP, one thread each), while two `vde_plug`s attach and exchange a frame and
/// `vdeterm` runs a command. Each turn of the switch's loop accepts a bounded batch, so the
/// others are served between batches; before, the switch kept accepting as long as the
/// backlog was not empty, and nobody else was served while the loop went on.
#[test]
fn a_client_reconnecting_in_a_tight_loop_does_not_starve_the_others() {
    if !ours() {
        return;
    }
    let dir = open_dir();
    let path = dir.path().join("q.sock");
    let port = free_tcp_port();
    let sw = MgmtSwitch::start(
        Switch::builder()
            .arg("--stream")
            .arg(&path)
            .arg(format!("--stream=tcp:127.0.0.1:{port}")),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let loops: Vec<_> = [true, false]
        .into_iter()
        .map(|unix| {
            let (stop, made, path) = (stop.clone(), made.clone(), PathBuf::from(&path));
            std::thread::spawn(move || {
                let target = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
                while !stop.load(Ordering::Relaxed) {
                    let ok = if unix {
                        UnixStream::connect(&path).is_ok()
                    } else {
                        tcp_connect_from(FLOODER, target).is_ok()
                    };
                    if ok {
                        made.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // The loops are going.
    let start = Instant::now();
    while made.load(Ordering::Relaxed) < 200 && start.elapsed() < SETTLE {
        std::thread::sleep(Duration::from_millis(10));
    }
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut a = Plug::attach_or_show_log(&sw.switch, "");
        let b = Plug::attach_or_show_log(&sw.switch, "");
        let f = eth(BROADCAST, mac(50), ETH_P_TEST, &payload(60, 50));
        a.send(&f);
        b.expect_frame(
            &f,
            SETTLE,
            "between two vde_plugs during the reconnect loop",
        );
        let term = sw.run(&["-c", "port/showinfo"], None);
        assert!(
            term.stdout.contains("Numports=32"),
            "vdeterm got no answer during the reconnect loop: {term:?}"
        );
    }));
    stop.store(true, Ordering::Relaxed);
    for t in loops {
        t.join().unwrap();
    }
    let made = made.load(Ordering::Relaxed);
    if let Err(e) = served {
        std::panic::resume_unwind(e);
    }
    assert!(made >= 200, "the loops made only {made} connections");
}
