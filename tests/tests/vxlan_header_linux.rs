//! `vde_protocol::vxlan` against a Linux `vxlan` device: Linux's packets parse, ours are
//! decapsulated by Linux, and Linux drops what RFC 7348 says to accept (reserved bits set), as
//! the module documentation says.
//!
//! Two network namespaces joined by a veth pair (10.99.0.1 and 10.99.0.2, only inside them):
//! the first holds `vx0` (VNI 42) flooding to 10.99.0.2 port 4790; this test binary runs again
//! inside the second as the far end, with a plain UDP socket. Needs root and iproute2
//! (`tests/src/needs.rs`: a missing one fails the test unless skipping is allowed).

use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use integration_tests::needs;
use integration_tests::netns::Netns;
use vde_protocol::vxlan::{source_port, Packet, PortRange, Vni, VxlanRepr, UDP_PORT};
use vde_protocol::MacAddr;

/// Set in the re-run of the test inside the second namespace: the first one's name.
const PEER_ENV: &str = "VDE_PROTOCOL_VXLAN_LINUX_NS";
const WAIT: Duration = Duration::from_secs(20);
const VNI: u32 = 42;
const LINUX_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0x42, 0x01]);
const OUR_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0x42, 0x02]);

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?} failed");
}

/// Counter `name` of `vx0` (`rx_packets`, `rx_frame_errors`...) in namespace `ns`.
fn counter(ns: &str, name: &str) -> u64 {
    let path = format!("/sys/class/net/vx0/statistics/{name}");
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat", &path])
        .output()
        .expect("read vx0 counters");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{path}: {text:?}"))
}

/// Waits until counter `name` reaches `want` (or the wait ends); returns its value.
fn wait_for(ns: &str, name: &str, want: u64) -> u64 {
    let start = Instant::now();
    loop {
        let n = counter(ns, name);
        if n >= want || start.elapsed() > WAIT {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn linux_vxlan_device_interoperates() {
    if let Ok(linux_ns) = std::env::var(PEER_ENV) {
        return far_end(&linux_ns);
    }
    let Some(bridge) = needs::in_path("bridge", "iproute2") else {
        return;
    };
    let Some(linux) = Netns::new("vxhl") else {
        return;
    };
    let Some(peer) = Netns::new("vxhp") else {
        return;
    };
    let (l, p) = (linux.name.as_str(), peer.name.as_str());
    for cmd in [
        format!("-n {l} link add v0 type veth peer name v1 netns {p}"),
        format!("-n {l} addr add 10.99.0.1/24 dev v0"),
        format!("-n {p} addr add 10.99.0.2/24 dev v1"),
        format!("-n {l} link set v0 up"),
        format!("-n {p} link set v1 up"),
        format!("-n {l} link add vx0 type vxlan id {VNI} local 10.99.0.1 dstport {UDP_PORT}"),
        format!("-n {l} link set vx0 address {LINUX_MAC}"),
    ] {
        ip(&cmd.split(' ').collect::<Vec<_>>());
    }
    let flood = format!("-n {l} fdb append 00:00:00:00:00:00 dev vx0 dst 10.99.0.2 port 4790");
    let st = Command::new(bridge)
        .args(flood.split(' '))
        .status()
        .expect("run bridge");
    assert!(st.success(), "bridge {flood} failed");

    let me = std::env::current_exe().unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", p])
        .arg(me)
        .args(["--exact", "linux_vxlan_device_interoperates", "--nocapture"])
        .env(PEER_ENV, l)
        .stdin(Stdio::null())
        .output()
        .expect("run the far end");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "far end failed:\n{stdout}\n{stderr}");
    // An empty filter match would pass too: make sure the far end ran.
    assert!(
        stdout.contains("1 passed"),
        "far end did not run:\n{stdout}"
    );
}

/// Runs in the peer namespace.
fn far_end(linux_ns: &str) {
    let sock = UdpSocket::bind("10.99.0.2:4790").expect("bind the far end");
    sock.set_read_timeout(Some(WAIT)).unwrap();

    // Up, vx0 sends IPv6 neighbour and listener messages to the flood entry: us.
    ip(&["-n", linux_ns, "link", "set", "vx0", "up"]);
    let mut buf = [0u8; 2048];
    let (n, from) = sock.recv_from(&mut buf).expect("a VXLAN packet from Linux");
    let r = VxlanRepr::parse(&buf[..n]).expect("Linux's packet parses");
    assert_eq!(r.vni.get(), VNI);
    assert_eq!(&r.frame[6..12], &LINUX_MAC.0, "inner source is vx0");
    assert!(!Packet::new_checked(&buf[..n]).unwrap().reserved_bits_set());
    assert_eq!(
        &buf[..8],
        &vde_protocol::vxlan::header(r.vni),
        "Linux's header is ours"
    );
    assert!(
        PortRange::LINUX_DEFAULT.contains(from.port()),
        "Linux sent from port {}",
        from.port()
    );

    // Ours reach vx0 (its counter grows)...
    let frame = |tag: u8| {
        let mut f = LINUX_MAC.0.to_vec();
        f.extend_from_slice(&OUR_MAC.0);
        f.extend_from_slice(&[0x88, 0xb5, tag]);
        f.resize(60, 0);
        f
    };
    let send = |packet: &[u8]| {
        let f = &packet[8..];
        let src = std::net::SocketAddr::from(([10, 99, 0, 2], source_port(f, PortRange::DYNAMIC)));
        // From the port source_port picks, as an uplink would.
        let s = UdpSocket::bind(src).expect("bind the source port");
        s.send_to(packet, ("10.99.0.1", UDP_PORT))
            .expect("send to Linux");
    };
    let vni = Vni::new(VNI).unwrap();
    let packets = counter(linux_ns, "rx_packets");
    let f1 = frame(1);
    send(&VxlanRepr { vni, frame: &f1 }.to_bytes());
    let n = wait_for(linux_ns, "rx_packets", packets + 1);
    assert_eq!(n, packets + 1, "Linux took our packet");

    // ...but one with a reserved bit set is dropped as malformed (a frame error), though RFC
    // 7348 says to ignore reserved bits.
    let errors = counter(linux_ns, "rx_frame_errors");
    let f2 = frame(2);
    let mut odd = VxlanRepr { vni, frame: &f2 }.to_bytes();
    odd[7] = 1;
    assert!(VxlanRepr::parse(&odd).is_ok(), "we accept it");
    send(&odd);
    let n = wait_for(linux_ns, "rx_frame_errors", errors + 1);
    assert_eq!(
        n,
        errors + 1,
        "Linux counted the reserved-bit packet as malformed"
    );
    assert_eq!(counter(linux_ns, "rx_packets"), packets + 1);
}
