//! What happens at a port's edge besides forwarding (our extensions): `port/capture` read by
//! `tcpdump`, a capture into a FIFO nobody reads (captured frames dropped and counted, the
//! switch's frames all delivered), `port/mirror` read by a third client, and `port/impair`
//! (loss, rate, delay) measured between real `vde_plug` clients.

use integration_tests::bins::note_reference;
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{
    eth, is_reference, mac, needs, payload, Plug, Switch, ARRIVE, BROADCAST, SETTLE,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The data block of a successful answer.
#[track_caller]
fn data_block(answer: &[u8]) -> String {
    let answer = lossy(answer);
    answer
        .strip_prefix("0000 DATA END WITH '.'\n")
        .and_then(|b| b.strip_suffix(".\n1000 Success\n\nvde$ "))
        .unwrap_or_else(|| panic!("not a successful data answer: {answer:?}"))
        .to_string()
}

/// `json CMD`, parsed.
#[track_caller]
fn json_of(s: &mut Session, cmd: &str) -> Value {
    let block = data_block(&s.cmd(&format!("json {cmd}")));
    serde_json::from_str(&block).unwrap_or_else(|e| panic!("json {cmd}: {e}: {block:?}"))
}

/// `tcpdump -e -n -r FILE`: one line per frame (the hex dump of unknown types left out).
fn tcpdump_read(file: &Path) -> Option<Vec<String>> {
    let tcpdump = needs::in_path("tcpdump", "tcpdump")?;
    let out = Command::new(tcpdump)
        .args(["-e", "-n", "-r"])
        .arg(file)
        .output()
        .expect("run tcpdump");
    assert!(
        out.status.success(),
        "tcpdump -r {}: {}\n{}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('\t'))
            .map(str::to_string)
            .collect(),
    )
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn ours_only() -> bool {
    if is_reference() {
        note_reference("port/capture, port/mirror and port/impair are ours");
        return false;
    }
    true
}

/// Two plugs that have learned each other's MAC (a = mac 0x0a, b = mac 0x0b).
fn learned_pair(sw: &Switch) -> (Plug, Plug) {
    let mut a = Plug::attach(sw);
    let mut b = Plug::attach(sw);
    let f = eth(BROADCAST, mac(0x0a), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "a's broadcast");
    let g = eth(BROADCAST, mac(0x0b), ETH_P_TEST, &payload(46, 2));
    b.send(&g);
    a.expect_frame(&g, ARRIVE, "b's broadcast");
    (a, b)
}

#[test]
fn capture_of_two_plugs_is_read_by_tcpdump() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let (mut a, mut b) = learned_pair(&sw.switch);
    let (mut s, _) = Session::open(&sw.mgmt);
    let pcap = sw.tmp.path().join("a.pcap");
    let listed = data_block(&s.cmd(&format!("port/capture {} {}", a.port, pcap.display())));
    assert_eq!(
        listed,
        format!(
            "Port {:04} capture {} frames=0 dropped=0\n",
            a.port,
            pcap.display()
        )
    );
    // Into a's port, out of it, and a frame between others that a's port never sees.
    let to_b = eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &payload(100, 3));
    a.send(&to_b);
    b.expect_frame(&to_b, ARRIVE, "a to b");
    let to_a = eth(mac(0x0a), mac(0x0b), ETH_P_TEST, &payload(200, 4));
    b.send(&to_a);
    a.expect_frame(&to_a, ARRIVE, "b to a");
    let v = json_of(&mut s, &format!("port/capture {}", a.port));
    assert_eq!(v["captures"][0]["frames"], 2, "{v}");
    assert_eq!(v["captures"][0]["dropped"], 0, "{v}");
    assert_eq!(
        data_block(&s.cmd(&format!("port/capture {} off", a.port))),
        ""
    );

    let bytes = std::fs::read(&pcap).expect("read the capture");
    let frames = vde_protocol::pcap::read_frames(&bytes).expect("a valid pcap file");
    let got: Vec<&[u8]> = frames.iter().map(|f| f.data).collect();
    assert_eq!(
        got,
        [&to_b[..], &to_a[..]],
        "the captured frames, byte for byte"
    );
    let Some(lines) = tcpdump_read(&pcap) else {
        return;
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (ma, mb) = (mac_text(mac(0x0a)), mac_text(mac(0x0b)));
    assert!(
        lines[0].contains(&format!("{ma} > {mb}")) && lines[0].contains("length 114"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains(&format!("{mb} > {ma}")) && lines[1].contains("length 214"),
        "{lines:?}"
    );
}

#[test]
fn capture_from_the_command_line_and_refusals() {
    if !ours_only() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pcap = tmp.path().join("p3.pcap");
    let sw = MgmtSwitch::start(Switch::builder().arg(format!("--capture=3:{}", pcap.display())));
    let mut a = Plug::attach_port(&sw.switch, 3);
    let b = Plug::attach(&sw.switch);
    let f = eth(BROADCAST, mac(0x0a), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "a's broadcast");
    let (mut s, _) = Session::open(&sw.mgmt);
    let v = json_of(&mut s, "port/capture");
    assert_eq!(v["captures"][0]["port"], 3, "{v}");
    assert_eq!(v["captures"][0]["frames"], 1, "{v}");
    // Refusals say why.
    let a = lossy(&s.cmd("port/capture 3 /nonexistent/dir/x.pcap"));
    assert!(
        a.contains("/nonexistent/dir/x.pcap: cannot write a capture there")
            && a.contains("1002 No such file or directory"),
        "{a}"
    );
    let a = lossy(&s.cmd("port/capture 999 /tmp/x.pcap"));
    assert!(
        a.contains("999: not a port number; expected 0 to 31")
            && a.contains("1022 Invalid argument"),
        "{a}"
    );
    drop(s);
    drop(sw);

    // A bad --capture stops the switch at start, saying why (its control socket may have
    // appeared a moment before).
    let bad = Switch::builder()
        .arg("--capture=3:/nonexistent/dir/x.pcap")
        .try_start();
    let (status, stderr) = match bad {
        Err(failure) => (failure.status, failure.stderr),
        Ok(mut sw) => (sw.wait_exit(SETTLE), sw.stderr()),
    };
    assert!(
        status.is_some_and(|s| s.code() == Some(1)),
        "{status:?}: {stderr}"
    );
    assert!(
        stderr.contains("--capture 3:/nonexistent/dir/x.pcap: /nonexistent/dir/x.pcap: cannot write a capture there"),
        "{stderr}"
    );
}

#[test]
fn a_capture_nobody_reads_loses_captured_frames_never_switched_ones() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let (mut a, b) = learned_pair(&sw.switch);
    let fifo = sw.tmp.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    // A reader that opens the FIFO and never reads.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&fifo)
        .expect("open the FIFO for reading");
    let (mut s, _) = Session::open(&sw.mgmt);
    data_block(&s.cmd(&format!("port/capture {} {}", b.port, fifo.display())));
    const N: usize = 2000;
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut p = payload(1400, i as u8);
            p[..4].copy_from_slice(&(i as u32).to_be_bytes());
            eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &p)
        })
        .collect();
    for chunk in frames.chunks(100) {
        a.send_burst(chunk);
        for f in chunk {
            b.expect_frame(f, ARRIVE, "a's frame to b while the capture is stuck");
        }
    }
    let v = json_of(&mut s, &format!("port/capture {}", b.port));
    let c = &v["captures"][0];
    let (captured, dropped) = (
        c["frames"].as_u64().unwrap(),
        c["dropped"].as_u64().unwrap(),
    );
    assert_eq!(captured + dropped, N as u64, "{v}");
    // 64 KiB of pipe and 1 MiB of buffer hold well under 2000 frames of 1.4 kB.
    assert!(dropped > 0 && captured > 0, "{v}");
    let text = data_block(&s.cmd(&format!("port/capture {}", b.port)));
    assert!(text.contains(&format!("dropped={dropped}")), "{text}");
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK)
    }
}

#[test]
fn mirror_copies_both_directions_to_a_third_plug() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    // c first: a port becoming active empties the MAC table.
    let c = Plug::attach(&sw.switch);
    let (mut a, mut b) = learned_pair(&sw.switch);
    for n in 1..=2 {
        let f = c
            .recv_timeout(ARRIVE)
            .expect("the broadcasts that taught the switch");
        assert_eq!(f[..6], BROADCAST, "broadcast {n}");
    }
    let (mut s, _) = Session::open(&sw.mgmt);
    assert_eq!(
        data_block(&s.cmd(&format!("port/mirror {} {}", a.port, c.port))),
        format!("Port {:04} mirrored to port {:04}\n", a.port, c.port)
    );
    let to_b = eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &payload(60, 5));
    a.send(&to_b);
    b.expect_frame(&to_b, ARRIVE, "a to b");
    c.expect_frame(&to_b, ARRIVE, "mirror of what entered a's port");
    let to_a = eth(mac(0x0a), mac(0x0b), ETH_P_TEST, &payload(70, 6));
    b.send(&to_a);
    a.expect_frame(&to_a, ARRIVE, "b to a");
    c.expect_frame(&to_a, ARRIVE, "mirror of what left a's port");
    assert_eq!(
        data_block(&s.cmd(&format!("port/mirror {} off", a.port))),
        ""
    );
    a.send(&to_b);
    b.expect_frame(&to_b, ARRIVE, "a to b, mirror off");
    let control = eth(BROADCAST, mac(0x0b), ETH_P_TEST, &payload(46, 7));
    b.send(&control);
    c.expect_only(&control, "no mirror copy after port/mirror off");
}

/// Frames a sends to b: `n` numbered frames of `len` bytes.
fn numbered(n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut p = payload(len - 14, i as u8);
            p[..4].copy_from_slice(&(i as u32).to_be_bytes());
            eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &p)
        })
        .collect()
}

#[test]
fn loss_of_20_percent_over_2000_frames() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let (mut a, b) = learned_pair(&sw.switch);
    let (mut s, _) = Session::open(&sw.mgmt);
    data_block(&s.cmd(&format!("port/impair {} out loss 20%", b.port)));
    const N: usize = 2000;
    let frames = numbered(N, 100);
    let (mut got, mut markers_sent, mut markers_seen) = (0, 0u64, 0u64);
    for (c, chunk) in frames.chunks(200).enumerate() {
        a.send_burst(chunk);
        // What was not lost arrives in order; a marker, itself subject to the loss, closes
        // the chunk (sent again, numbered, until one passes; one given up for lost may still
        // arrive later, and is counted then).
        'chunk: for m in 0u8.. {
            let marker = eth(
                mac(0x0b),
                mac(0x0a),
                0x88b6,
                &payload(46, c as u8 ^ (m << 4)),
            );
            a.send(&marker);
            markers_sent += 1;
            while let Some(f) = b.recv_timeout(Duration::from_millis(300)) {
                if f[12..14] == [0x88, 0xb6] {
                    markers_seen += 1;
                    if f == marker {
                        break 'chunk;
                    }
                    continue;
                }
                assert!(chunk.contains(&f), "an unexpected frame");
                got += 1;
            }
        }
    }
    let markers_lost = markers_sent - markers_seen;
    let lost = N - got;
    // Binomial(2000, 0.2): mean 400, standard deviation 17.9; 5 deviations either side.
    assert!(
        (310..=490).contains(&lost),
        "{lost} of {N} frames lost with loss 20%"
    );
    let v = json_of(&mut s, &format!("port/impair {}", b.port));
    assert_eq!(
        v["impairments"][0]["out"]["counters"]["lost"],
        lost as u64 + markers_lost,
        "the switch counted what b missed: {v}"
    );
}

#[test]
fn rate_of_1mbit_between_two_plugs() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let (mut a, b) = learned_pair(&sw.switch);
    let (mut s, _) = Session::open(&sw.mgmt);
    data_block(&s.cmd(&format!("port/impair {} out rate 1mbit", b.port)));
    // 150 frames of 1000 bytes: 8 ms each on a 1 Mbit/s link, 1.2 s in all.
    const N: usize = 150;
    const LEN: usize = 1000;
    let frames = numbered(N, LEN);
    a.send_burst(&frames);
    let mut first = None;
    let mut last = Instant::now();
    for f in &frames {
        b.expect_frame(f, Duration::from_secs(5), "rate-limited frames, in order");
        last = Instant::now();
        first.get_or_insert(last);
    }
    let elapsed = last - first.unwrap();
    // Between the first frame and the last, N-1 frames were sent.
    let bits = ((N - 1) * LEN * 8) as f64;
    let rate = bits / elapsed.as_secs_f64();
    assert!(
        (0.9e6..=1.1e6).contains(&rate),
        "measured {rate:.0} bit/s over {elapsed:?} with rate 1mbit"
    );
}

#[test]
fn delay_holds_frames_in_both_directions() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let (mut a, mut b) = learned_pair(&sw.switch);
    let (mut s, _) = Session::open(&sw.mgmt);
    data_block(&s.cmd(&format!("port/impair {} both delay 50ms", b.port)));
    let to_b = eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &payload(60, 5));
    let to_a = eth(mac(0x0a), mac(0x0b), ETH_P_TEST, &payload(60, 6));
    let t = Instant::now();
    a.send(&to_b);
    b.expect_frame(&to_b, ARRIVE, "a to b, delayed on the way out to b");
    let out = t.elapsed();
    let t = Instant::now();
    b.send(&to_a);
    a.expect_frame(&to_a, ARRIVE, "b to a, delayed on the way in from b");
    let inbound = t.elapsed();
    for (what, d) in [("out", out), ("in", inbound)] {
        assert!(
            d >= Duration::from_millis(50),
            "{what}: a frame arrived after {d:?} with delay 50ms"
        );
    }
    let v = json_of(&mut s, &format!("port/impair {}", b.port));
    assert_eq!(v["impairments"][0]["in"]["counters"]["delayed"], 1, "{v}");
    assert_eq!(v["impairments"][0]["out"]["counters"]["delayed"], 1, "{v}");
}

#[test]
fn capture_of_all_ports_is_pcapng_with_an_interface_per_port() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let (mut a, b) = learned_pair(&sw.switch);
    let (mut s, _) = Session::open(&sw.mgmt);
    let file = sw.tmp.path().join("all.pcapng");
    let listed = data_block(&s.cmd(&format!("port/capture all {}", file.display())));
    assert!(listed.starts_with("All ports capture "), "{listed}");
    let to_b = eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &payload(100, 3));
    a.send(&to_b);
    b.expect_frame(&to_b, ARRIVE, "a to b");
    let v = json_of(&mut s, "port/capture");
    assert_eq!(v["captures"][0]["port"], "all", "{v}");
    assert_eq!(v["captures"][0]["format"], "pcapng", "{v}");
    data_block(&s.cmd("port/capture all off"));
    let bytes = std::fs::read(&file).expect("read the capture");
    assert!(vde_protocol::pcapng::is_pcapng(&bytes));
    let frames = vde_protocol::pcap::read_frames(&bytes).expect("a valid pcapng file");
    // Into a's port (interface 0, seen first), out of b's (interface 1).
    let got: Vec<(u32, &[u8])> = frames.iter().map(|f| (f.interface_id, f.data)).collect();
    assert_eq!(got, [(0, &to_b[..]), (1, &to_b[..])]);
    let Some(lines) = tcpdump_read(&file) else {
        return;
    };
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn delayed_copies_reach_each_endpoint_of_a_shared_port_once() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let mut a = Plug::attach_port(&sw.switch, 1);
    let b1 = Plug::attach_port(&sw.switch, 3);
    let b2 = Plug::attach_port(&sw.switch, 3);
    let (mut s, _) = Session::open(&sw.mgmt);
    data_block(&s.cmd("port/impair 3 out delay 20ms"));
    let f = eth(BROADCAST, mac(0x0a), ETH_P_TEST, &payload(46, 1));
    let control = eth(BROADCAST, mac(0x0a), ETH_P_TEST, &payload(46, 2));
    a.send(&f);
    a.send(&control);
    for (name, b) in [("b1", &b1), ("b2", &b2)] {
        b.expect_frame(&f, ARRIVE, &format!("{name}: the delayed broadcast"));
        b.expect_only(
            &control,
            &format!("{name}: one copy of the broadcast, then the next"),
        );
    }
    let v = json_of(&mut s, "port/impair 3");
    // One copy per endpoint went into the queue, and left it.
    assert_eq!(v["impairments"][0]["out"]["counters"]["sent"], 4, "{v}");
}

#[test]
fn duplicate_and_corrupt_between_two_plugs() {
    if !ours_only() {
        return;
    }
    let sw = MgmtSwitch::ours();
    let (mut a, b) = learned_pair(&sw.switch);
    let (mut s, _) = Session::open(&sw.mgmt);
    data_block(&s.cmd(&format!("port/impair {} out duplicate 100%", b.port)));
    let f = eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &payload(60, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "the frame");
    b.expect_frame(&f, ARRIVE, "its duplicate");
    data_block(&s.cmd(&format!("port/impair {} out corrupt 100%", b.port)));
    let g = eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &payload(60, 2));
    a.send(&g);
    let got = b.recv_timeout(ARRIVE).expect("the corrupted frame");
    // No duplicate any more (the settings were replaced), one bit flipped after the header.
    assert_eq!(got.len(), g.len());
    assert_eq!(got[..14], g[..14], "the Ethernet header is spared");
    let flipped: u32 = got.iter().zip(&g).map(|(x, y)| (x ^ y).count_ones()).sum();
    assert_eq!(flipped, 1, "one bit of the payload flipped");
    data_block(&s.cmd(&format!("port/impair {} off", b.port)));
    let h = eth(mac(0x0b), mac(0x0a), ETH_P_TEST, &payload(60, 3));
    a.send(&h);
    b.expect_only(&h, "after off: the frame unchanged, no duplicate before it");
    let text = data_block(&s.cmd(&format!("port/impair {}", b.port)));
    assert_eq!(text, "", "off with nothing held leaves nothing to list");
}
