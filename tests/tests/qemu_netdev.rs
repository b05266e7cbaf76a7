//! QEMU VMs on our switch without libvdeplug: `-netdev stream` (`--stream PATH`) and
//! `-netdev dgram` (`--dgram PATH`). Each VM has an e1000 NIC booting its iPXE ROM under TCG
//! and gets a DHCP lease from `slirpvde`, plugged into the same switch over the vde protocol.
//! Then the switch's console shows the VM on its own port, its MAC learned there, and the port
//! freed when the VM is killed. Malformed streams are written by hand (no real client sends
//! them): they close their own port and nothing else.

use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::needs;
use integration_tests::plug::wait_new_endpoints;
use integration_tests::proc::{wait_until, Spawned};
use integration_tests::switch::data_socket_ids;
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{eth, mac, payload, Switch, BROADCAST, SETTLE};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long QEMU under TCG may take to boot its ROM and get a lease (about 20 s on an idle
/// 2-core machine; only a failure waits this long).
const LEASE: Duration = Duration::from_secs(240);
const LEASE_LINE: &str = "net0: 10.0.2.15/255.255.255.0 gw 10.0.2.2";

struct Tools {
    qemu: PathBuf,
    slirpvde: PathBuf,
}

fn tools() -> Option<Tools> {
    let qemu = needs::in_path("qemu-system-x86_64", "qemu-system-x86")?;
    needs::file("/usr/lib/ipxe/qemu/efi-e1000.rom", "ipxe-qemu")?;
    let slirpvde = needs::program("/usr/bin/slirpvde", "vde2")?;
    Some(Tools { qemu, slirpvde })
}

/// `slirpvde --dhcp` on the switch in `dir`, once it is attached.
fn slirp(t: &Tools, dir: &Path) -> Spawned {
    let before = data_socket_ids(dir);
    let mut slirp =
        Spawned::start_with_open_stdin(Command::new(&t.slirpvde).arg("-s").arg(dir).arg("--dhcp"));
    assert!(
        wait_new_endpoints(&[(dir, before)]),
        "slirpvde did not attach\n{}",
        slirp.log()
    );
    assert!(slirp.is_running(), "{}", slirp.log());
    slirp
}

/// A diskless VM whose e1000 (MAC `mac`) is on `netdev` (the `-netdev` value, id `n0`).
fn vm(t: &Tools, netdev: &str, mac: &str) -> Spawned {
    Spawned::start(
        Command::new(&t.qemu)
            .args([
                "-accel",
                "tcg",
                "-m",
                "64",
                "-nodefaults",
                "-no-user-config",
                "-nographic",
                "-serial",
                "stdio",
                "-monitor",
                "none",
                "-netdev",
                netdev,
                "-device",
                &format!("e1000,netdev=n0,mac={mac}"),
                "-boot",
                "n",
            ])
            .stdin(Stdio::null()),
    )
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

/// A VM on `-netdev stream` gets its lease through our switch; `port/print` shows it on its
/// own port (module `stream`, QEMU's user and pid), `hash/print` its MAC on that port, and
/// killing it frees the port.
#[test]
fn qemu_on_netdev_stream_gets_a_lease_and_its_port_is_freed_when_killed() {
    let Some(t) = tools() else { return };
    let sockets = tempfile::tempdir().unwrap();
    let (sw, path) = stream_switch(sockets.path(), &[]);
    let _slirp = slirp(&t, sw.switch.dir());
    let mut vm = vm(&t, &stream_netdev(&path, ""), "52:54:00:12:35:01");
    assert!(
        vm.wait_stdout(LEASE_LINE, LEASE),
        "no DHCP lease within {LEASE:?}\n=== qemu ===\n{}\n=== switch ===\n{}",
        vm.log(),
        sw.switch.stderr()
    );
    let pid = vm.child.id();
    let me = format!(
        "module stream      : {} user=root pid={pid}",
        path.display()
    );
    let ports = cmd(&sw.mgmt, "port/print");
    let port = port_with(&ports, &me).unwrap_or_else(|| panic!("no {me:?} in\n{ports}"));
    let table = cmd(&sw.mgmt, "hash/print");
    let learned = format!("Addr: 52:54:00:12:35:01 VLAN 0000 to port: {port:03}");
    assert!(table.contains(&learned), "{learned:?} not in\n{table}");
    sw.switch.expect_log(&format!(
        "stream client ({} user=root pid={pid}) on port {port}",
        path.display()
    ));

    drop(vm);
    let (gone, ports) = wait_ports(&sw.mgmt, "module stream", false, SETTLE);
    assert!(gone, "the killed VM still has a port:\n{ports}");
    assert!(
        port_with(&ports, "slirpvde").is_some(),
        "slirpvde lost its port too:\n{ports}"
    );
    sw.switch
        .expect_log("left: the client closed the connection");
}

/// What QEMU 8.0 and later do with `reconnect=N` (QEMU 7.2, Debian 12's, does not have the
/// parameter: "Parameter 'reconnect' is unexpected"): when the switch goes away, connect to
/// the same path again every N seconds. Our side of it: a switch restarted on the same
/// `--stream` path, after a crash that left the socket file behind (SIGKILL) or after a clean
/// stop, accepts the clients again, each on a port, frames flowing. The clients are written
/// by hand for that reason.
#[test]
fn stream_clients_reconnect_to_a_restarted_switch() {
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
