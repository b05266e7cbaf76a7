//! `-t IF` (vde_switch) and `-tap IF` (uml_switch): a tap interface as a port. Each test runs the
//! switch in a network namespace of its own, gives the tap an address there and checks that the
//! kernel behind the tap answers an ARP request sent by a real `vde_plug` on another port; and
//! that a frame above 1518 bytes reaches the tap whole (captured there with `tcpdump`).

use std::process::{Command, Stdio};
use std::time::Duration;

use integration_tests::bins::{note_reference, uml_switch_command, vde_switch_command};
use integration_tests::frame::eth_sized;
use integration_tests::needs;
use integration_tests::netns::Netns;
use integration_tests::proc::{wait_child_timeout, Spawned};
use integration_tests::switch::accepts_connections;
use integration_tests::{
    eth, is_reference, is_uml_reference, mac, uml_switch_bin, vde_switch_bin, wait_until, Deadline,
    Plug, BROADCAST, SETTLE,
};

/// An ARP request from `me`/10.9.0.2 for 10.9.0.1.
fn arp_request(me: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0, 1, 8, 0, 6, 4, 0, 1];
    p.extend_from_slice(&me);
    p.extend_from_slice(&[10, 9, 0, 2]);
    p.extend_from_slice(&[0; 6]);
    p.extend_from_slice(&[10, 9, 0, 1]);
    p.resize(46, 0);
    eth([0xff; 6], me, 0x0806, &p)
}

/// Wait for the tap to exist, give it 10.9.0.1/24 and bring it up.
fn configure_tap(ns: &Netns, tap: &str) {
    assert!(
        wait_until(SETTLE, || ns.has_link(tap)),
        "tap {tap} never appeared"
    );
    ns.run(&["ip", "addr", "add", "10.9.0.1/24", "dev", tap]);
    ns.run(&["ip", "link", "set", tap, "up"]);
}

/// Ask for 10.9.0.1 until the kernel behind the tap answers (or give up after [`SETTLE`]).
fn arp_answered(plug: &mut Plug, me: [u8; 6]) -> bool {
    let deadline = Deadline::after(SETTLE);
    while !deadline.expired() {
        plug.send(&arp_request(me));
        while let Some(f) = plug.recv_timeout(Duration::from_millis(500)) {
            let is_reply = f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 2];
            if is_reply && f[0..6] == me && f[28..32] == [10, 9, 0, 1] {
                return true;
            }
        }
    }
    false
}

/// The first packet of a pcap file (Ethernet, microsecond format): its bytes.
fn first_pcap_packet(pcap: &[u8]) -> Vec<u8> {
    assert!(
        pcap.len() >= 40,
        "pcap file too short: {} bytes",
        pcap.len()
    );
    assert_eq!(&pcap[..4], &0xa1b2_c3d4u32.to_ne_bytes(), "pcap magic");
    let caplen = u32::from_ne_bytes(pcap[32..36].try_into().unwrap()) as usize;
    pcap[40..40 + caplen].to_vec()
}

#[test]
fn vde_switch_tap_port_reaches_the_kernel() {
    let Some(ns) = Netns::new("vde") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("sw");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let bin = vde_switch_bin();
    // The switch runs in the namespace (the tap is made there).
    let mut cmd = ns.exec(&[]);
    let isolated = vde_switch_command(&bin, &home, true);
    cmd.arg(isolated.get_program())
        .args(isolated.get_args())
        .env("HOME", &home)
        .args(["-s", dir.to_str().unwrap(), "-t", "vdetap0"]);
    let sw = Spawned::start_with_open_stdin(&mut cmd);
    assert!(
        wait_until(SETTLE, || accepts_connections(&dir.join("ctl"))),
        "switch did not start"
    );
    configure_tap(&ns, "vdetap0");
    let mut plug = Plug::attach_url(&dir, &dir.display().to_string());
    assert!(
        arp_answered(&mut plug, mac(0x33)),
        "no ARP reply from the kernel behind vdetap0"
    );

    // A frame above 1518 bytes reaches the tap whole, as tcpdump on it sees.
    let Some(tcpdump) = needs::in_path("tcpdump", "tcpdump") else {
        return;
    };
    let pcap = tmp.path().join("tap.pcap");
    let mut dump = ns.exec(&[
        tcpdump.to_str().unwrap(),
        "-i",
        "vdetap0",
        "-U",
        "-c",
        "1",
        "-w",
        pcap.to_str().unwrap(),
        "ether proto 0x88b5",
    ]);
    let mut dump = Spawned::start(dump.stdin(Stdio::null()));
    let (listening, text) = dump.err.wait_for("listening on vdetap0", SETTLE);
    assert!(listening, "tcpdump did not start listening: {text}");
    let big = eth_sized(BROADCAST, mac(0x33), 4000, 7);
    plug.send(&big);
    let st = wait_child_timeout(&mut dump.child, SETTLE)
        .unwrap_or_else(|| panic!("tcpdump saw no frame within {SETTLE:?}: {}", dump.log()));
    assert!(st.success(), "tcpdump: {st}; {}", dump.log());
    let got = first_pcap_packet(&std::fs::read(&pcap).expect("read the capture"));
    let big = if is_reference() {
        note_reference("the frame reaches the tap truncated to 1518 bytes, as documented");
        &big[..1518]
    } else {
        &big[..]
    };
    assert!(
        got == big,
        "the tap got a different frame: {} bytes (sent {})",
        got.len(),
        big.len()
    );
    drop(sw);
}

#[test]
fn uml_switch_tap_port_reaches_the_kernel() {
    if is_uml_reference() {
        // The test talks to the tap through vde_plug, which the stock uml_switch disconnects.
        note_reference("uml_switch -tap test not run (the stock uml_switch refuses vde_plug)");
        return;
    }
    let Some(ns) = Netns::new("uml") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    // vdeplug4 clients name a directory and connect to DIR/ctl.
    let dir = tmp.path().join("u");
    std::fs::create_dir(&dir).unwrap();
    let ctl = dir.join("ctl");
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    // uml_switch's data sockets are abstract, and abstract names belong to a network
    // namespace: the switch stays with the plug, and only the tap moves to the namespace.
    let tap = format!("umt{}", std::process::id());
    let sw = Spawned::start(
        uml_switch_command(&uml_switch_bin(), &home)
            .args(["-unix", ctl.to_str().unwrap(), "-tap", &tap])
            .stdin(Stdio::null()),
    );
    // The control socket comes first, the tap right after it.
    assert!(
        wait_until(SETTLE, || accepts_connections(&ctl)),
        "uml_switch did not start"
    );
    let tap_exists = || {
        Command::new("ip")
            .args(["link", "show", &tap])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(wait_until(SETTLE, tap_exists), "tap {tap} never appeared");
    let moved = Command::new("ip")
        .args(["link", "set", &tap, "netns", &ns.name])
        .status()
        .is_ok_and(|s| s.success());
    assert!(moved, "could not move {tap} into {}", ns.name);
    let mut plug = Plug::spawn(&dir.display().to_string());
    configure_tap(&ns, &tap);
    let me = mac(0x34);
    assert!(
        arp_answered(&mut plug, me),
        "no ARP reply from the kernel behind {tap}"
    );
    drop(sw);
}
