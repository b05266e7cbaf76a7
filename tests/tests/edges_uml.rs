//! Two stock UML guests ping each other through our switch with `delay 50ms` both ways on
//! guest h1's port and a capture of that port: `tcpdump -r` shows the echo requests and
//! replies with the guests' MACs and IPs, and the round trip seen on h1's cable is the
//! guest's answer time plus 100 ms.

use integration_tests::bins::note_reference;
use integration_tests::uml::{describe, Guest, Rootfs};
use integration_tests::{is_reference, needs, Switch};
use std::process::Command;
use std::time::Duration;

const GUEST_DEADLINE: Duration = Duration::from_secs(90);
const MAC_H1: &str = "fe:fd:0a:00:00:01";
const MAC_H2: &str = "fe:fd:0a:00:00:02";

/// ICMP echo (type, identifier, sequence) of an IPv4 frame from `src`, if it is one.
fn echo(frame: &[u8], src: [u8; 4]) -> Option<(u8, u16, u16)> {
    if frame.len() < 14 + 20 + 8 || frame[12..14] != [0x08, 0x00] || frame[23] != 1 {
        return None;
    }
    if frame[26..30] != src {
        return None;
    }
    let ihl = usize::from(frame[14] & 0x0f) * 4;
    let icmp = frame.get(14 + ihl..)?;
    let kind = *icmp.first()?;
    (kind == 0 || kind == 8).then(|| {
        (
            kind,
            u16::from_be_bytes([icmp[4], icmp[5]]),
            u16::from_be_bytes([icmp[6], icmp[7]]),
        )
    })
}

#[test]
fn delayed_ping_between_uml_guests_is_captured() {
    if is_reference() {
        note_reference("port/capture and port/impair are ours");
        return;
    }
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let Some(tcpdump) = needs::in_path("tcpdump", "tcpdump") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("h1.pcap");
    let rc = format!(
        "port/create 1\nport/capture 1 {}\nport/impair 1 both delay 50ms\n",
        pcap.display()
    );
    let sw = Switch::builder().rc(&rc).start();
    let rootfs = Rootfs::build();
    // eth0=vde,SWITCH,MAC,PORT: h1 on port 1, with known MACs.
    let eth = |mac: &str, port: u32| format!("vde,{},{mac},{port}", sw.dir().display());
    let mut a = Guest::boot(
        &kernel,
        &rootfs,
        "h1",
        &eth(MAC_H1, 1),
        "10.0.0.1",
        "10.0.0.2",
    );
    let mut b = Guest::boot(
        &kernel,
        &rootfs,
        "h2",
        &eth(MAC_H2, 2),
        "10.0.0.2",
        "10.0.0.1",
    );
    let ra = a.wait_result(GUEST_DEADLINE);
    let rb = b.wait_result(GUEST_DEADLINE);
    assert!(
        ra.all_replies() && rb.all_replies(),
        "UML guests did not ping each other\n{}\n\n{}\n\n--- switch log ---\n{}",
        describe(&a, &ra),
        describe(&b, &rb),
        sw.stderr()
    );
    drop(a);
    drop(b);
    // Frames wait at most 10 ms in the capture's buffer, and none is in flight now.
    let bytes = std::fs::read(&pcap).expect("read the capture");
    let frames = vde_protocol::pcap::read_frames(&bytes).expect("a valid pcap file");

    // h1's echo requests (captured on arrival) and h2's replies (captured as they leave,
    // after the delay): each request's round trip on h1's cable.
    let (h1, h2) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let mut rtts = Vec::new();
    for (i, req) in frames.iter().enumerate() {
        let Some((8, id, seq)) = echo(req.data, h1) else {
            continue;
        };
        let reply = frames[i..]
            .iter()
            .find(|f| echo(f.data, h2) == Some((0, id, seq)));
        if let Some(reply) = reply {
            rtts.push(reply.timestamp - req.timestamp);
        }
    }
    eprintln!("round trips on h1's cable: {rtts:?}");
    // The guest's last three pings (the first exchange also waits for ARP, itself delayed,
    // and for h2 to come up).
    assert!(
        rtts.len() >= 3,
        "h1's pings and their replies in the capture: {rtts:?}"
    );
    let mut last: Vec<Duration> = rtts[rtts.len() - 3..].to_vec();
    last.sort();
    // Never under the 100 ms of delay, and the fastest within 10 % above it: a busy machine
    // only adds to h2's answer time.
    assert!(
        last[0] >= Duration::from_millis(100) && last[0] <= Duration::from_millis(110),
        "round trips on h1's cable with delay 50ms both ways: {rtts:?}"
    );

    let out = Command::new(tcpdump)
        .args(["-e", "-n", "-r"])
        .arg(&pcap)
        .arg("icmp")
        .output()
        .expect("run tcpdump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let request = format!("{MAC_H1} > {MAC_H2}");
    let reply = format!("{MAC_H2} > {MAC_H1}");
    assert!(
        text.lines()
            .any(|l| l.contains(&request) && l.contains("10.0.0.1 > 10.0.0.2: ICMP echo request")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(&reply) && l.contains("10.0.0.2 > 10.0.0.1: ICMP echo reply")),
        "{text}"
    );
}
