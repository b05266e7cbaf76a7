//! Forwarding between real `vde_plug` clients: flooding, learning, runts, byte-exact delivery.

use integration_tests::frame::{eth_sized, ETH_P_TEST};
use integration_tests::mgmt::Session;
use integration_tests::raw::RawClient;
use integration_tests::{eth, mac, payload, Plug, Switch, ARRIVE, BROADCAST, SETTLE};
use std::time::Duration;

// Checks that a frame does not arrive somewhere use a control frame that must arrive there
// next (`Plug::expect_only`), sent once the first frame was seen where it belongs: the switch
// handles frames one at a time, so a wrong copy would be queued before the control frame.

#[test]
fn broadcast_between_two_plugs_reaches_the_other_not_the_sender() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let mut b = Plug::attach(&sw);
    assert_ne!(a.port, b.port, "two clients got the same port");

    let f = eth(BROADCAST, mac(1), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "broadcast a->b");

    let g = eth(BROADCAST, mac(2), ETH_P_TEST, &payload(46, 2));
    b.send(&g);
    a.expect_only(
        &g,
        "broadcast b->a (a's own broadcast must not come back before it)",
    );

    let h = eth(mac(2), mac(1), ETH_P_TEST, &payload(46, 3));
    a.send(&h);
    b.expect_only(
        &h,
        "unicast a->b (b's own broadcast must not come back before it)",
    );
}

#[test]
fn broadcast_among_three_plugs_reaches_all_others() {
    let sw = Switch::start();
    let mut plugs = [Plug::attach(&sw), Plug::attach(&sw), Plug::attach(&sw)];
    let frames: Vec<Vec<u8>> = (0..4u8)
        .map(|i| eth(BROADCAST, mac(10 + i % 3), ETH_P_TEST, &payload(50, i)))
        .collect();
    // Plugs 0, 1, 2 broadcast in turn, then plug 0 again (the control frame for plug 2).
    for (n, f) in frames.iter().enumerate() {
        let i = n % 3;
        plugs[i].send(f);
        for (j, p) in plugs.iter().enumerate() {
            if j == i {
                continue;
            }
            let context = format!("broadcast {n} from plug {i} at plug {j}");
            if n > 0 && j == (n - 1) % 3 {
                // The previous sender: its own broadcast must not have come back first.
                p.expect_only(
                    f,
                    &format!("{context} (no echo of broadcast {} before it)", n - 1),
                );
            } else {
                p.expect_frame(f, ARRIVE, &context);
            }
        }
    }
}

#[test]
fn unicast_to_a_learned_mac_reaches_only_its_port() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let mut b = Plug::attach(&sw);
    let c = Plug::attach(&sw);
    let (ma, mb) = (mac(0x21), mac(0x22));

    // a announces itself: flooded to b and c, and the switch learns ma -> a's port.
    let hello = eth(BROADCAST, ma, ETH_P_TEST, &payload(46, 0));
    a.send(&hello);
    b.expect_frame(&hello, ARRIVE, "announce at b");
    c.expect_frame(&hello, ARRIVE, "announce at c");

    // b -> a: known destination, only a's port.
    let uni = eth(ma, mb, ETH_P_TEST, &payload(60, 7));
    b.send(&uni);
    a.expect_frame(&uni, ARRIVE, "unicast b->a");
    let control = eth(BROADCAST, ma, ETH_P_TEST, &payload(46, 8));
    a.send(&control);
    c.expect_only(
        &control,
        "unicast to a learned MAC must not reach a third port",
    );
    b.expect_only(&control, "unicast must not come back to its sender");

    // a -> b: mb was learned from the unicast.
    let back = eth(mb, ma, ETH_P_TEST, &payload(60, 9));
    a.send(&back);
    b.expect_frame(&back, ARRIVE, "unicast a->b");
    let control = eth(BROADCAST, mb, ETH_P_TEST, &payload(46, 10));
    b.send(&control);
    c.expect_only(&control, "the reply must not reach a third port");
}

#[test]
fn unknown_unicast_is_flooded() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    let c = Plug::attach(&sw);
    let f = eth(mac(0x77), mac(0x31), ETH_P_TEST, &payload(46, 3));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "unknown unicast at b");
    c.expect_frame(&f, ARRIVE, "unknown unicast at c");
}

#[test]
fn runt_frames_are_not_delivered() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    for len in [1usize, 6, 13] {
        let mut runt = BROADCAST[..len.min(6)].to_vec();
        runt.extend(payload(len.saturating_sub(6), 0x40));
        a.send(&runt);
    }
    // The same sender's next frame is the control: the runts would have come before it.
    let f = eth(BROADCAST, mac(0x41), ETH_P_TEST, &payload(46, 4));
    a.send(&f);
    b.expect_only(&f, "runts (< 14 bytes) must not be delivered");
}

#[test]
fn frames_arrive_byte_identical() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    // 100 bytes exactly, then a short (unpadded) and a full-size frame.
    for (len, seed) in [(100usize, 0x55u8), (14, 1), (42, 2), (1514, 3), (1518, 4)] {
        let f = eth_sized(BROADCAST, mac(0x51), len, seed);
        assert_eq!(f.len(), len);
        a.send(&f);
        b.expect_frame(&f, ARRIVE, &format!("{len}-byte frame"));
    }
}

#[test]
fn hub_mode_floods_even_known_unicast() {
    let sw = Switch::with_args(&["-x"]);
    let mut a = Plug::attach(&sw);
    let mut b = Plug::attach(&sw);
    let c = Plug::attach(&sw);
    let hello = eth(BROADCAST, mac(0x81), ETH_P_TEST, &payload(46, 0));
    a.send(&hello);
    b.expect_frame(&hello, ARRIVE, "hub: broadcast at b");
    c.expect_frame(&hello, ARRIVE, "hub: broadcast at c");
    // In a switch this would go to a only; a hub sends it everywhere but the input port.
    let uni = eth(mac(0x81), mac(0x82), ETH_P_TEST, &payload(60, 1));
    b.send(&uni);
    a.expect_only(
        &uni,
        "hub: unicast at its destination (no echo of a's broadcast before it)",
    );
    c.expect_frame(&uni, ARRIVE, "hub: unicast flooded to a third port");
    let control = eth(BROADCAST, mac(0x81), ETH_P_TEST, &payload(46, 2));
    a.send(&control);
    b.expect_only(&control, "hub: b's unicast must not come back to it");
}

/// A burst larger than what the switch reads from one socket in one go: once the
/// sender stops, nothing new wakes the switch for that socket, so frames still
/// queued there must be served anyway (a frame sent after the burst must come
/// through, not stay stuck behind the leftovers).
#[test]
fn the_tail_of_a_burst_is_not_left_behind() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    let burst: Vec<Vec<u8>> = (0..1_000u32)
        .map(|i| eth_sized(mac(0x62), mac(0x61), 60, i as u8))
        .collect();
    // 1000 frames of 62 bytes fit in the pipe to vde_plug, so this write never blocks even
    // when the switch stalls. b's MAC is unknown yet: the burst is flooded to b (some copies may be dropped
    // if b reads slowly; that is not what this test is about).
    a.send_burst(&burst);
    // Drain what arrives until the line is quiet.
    while b.recv_timeout(Duration::from_millis(300)).is_some() {}
    let marker = eth(mac(0x62), mac(0x61), ETH_P_TEST, &payload(46, 0xee));
    a.send(&marker);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match b.recv_timeout(left) {
            Some(f) if f == marker => break,
            Some(_) => continue,
            None => panic!("the frame sent after a 1000-frame burst never arrived"),
        }
    }
}

/// A client that never reads its socket must not stall the others: the switch holds back the
/// sender for a moment (so a slow receiver loses nothing), then gives up on the stuck one and
/// lets traffic to everybody else go on. The frames go out in windows far smaller than what the
/// reading client's socket holds (the switch's socket buffer takes a couple of thousand small
/// frames), so however late that reader is scheduled it loses nothing; only the client that
/// never reads does (8000 frames are more than its socket holds), and `port/stats` counts
/// exactly what it lost.
#[test]
fn a_client_that_never_reads_does_not_stall_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let mgmt_path = tmp.path().join("mgmt");
    let sw = Switch::builder().arg("-M").arg(&mgmt_path).start();
    let (stuck, stuck_port) = RawClient::attach(&sw, "never-reads");
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    const N: u32 = 8_000;
    const WINDOW: u32 = 8;
    let frame = |i: u32| {
        let mut f = eth(BROADCAST, mac(0x71), ETH_P_TEST, &payload(46, 0));
        f[14..18].copy_from_slice(&i.to_be_bytes());
        f
    };
    for start in (0..N).step_by(WINDOW as usize) {
        let window: Vec<Vec<u8>> = (start..start + WINDOW).map(frame).collect();
        a.send_burst(&window);
        for (i, f) in (start..).zip(&window) {
            b.expect_frame(
                f,
                SETTLE,
                &format!("frame {i} of {N} at the reading client"),
            );
        }
    }
    let reference = integration_tests::is_reference();
    if reference {
        integration_tests::bins::note_reference(
            "no stuck-client log line nor port/stats (ours only); delivery checked",
        );
    } else {
        // The switch noticed (it then drops the stuck client's frames at once).
        sw.expect_log("the client stopped reading");
    }
    let marker = frame(N);
    a.send(&marker);
    b.expect_frame(&marker, ARRIVE, "a frame after the burst");
    if reference {
        return;
    }
    let mut mgmt = Session::open(&mgmt_path).0;
    let lost = mgmt.port_stats(stuck_port).send_drops;
    // What the stuck client's socket holds is what it was not refused.
    let mut queued = 0u64;
    while stuck.recv_frame(Duration::from_millis(1)).is_some() {
        queued += 1;
    }
    assert_eq!(
        lost + queued,
        u64::from(N) + 1,
        "port/stats send_drops ({lost}) plus the frames in the stuck client's socket \
         ({queued}) must be every frame flooded to it"
    );
    assert!(lost > 0, "nothing was dropped for the stuck client");
    assert_eq!(mgmt.port_stats(b.port).send_drops, 0, "the reading client");
}

/// CPU time (user + system, clock ticks) of a process, from /proc.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Frames that fill the switch's reads exactly (so its last read finds the socket empty) must
/// not leave it spinning: an idle switch uses no CPU.
#[test]
fn an_exactly_drained_burst_leaves_the_switch_idle() {
    let sw = Switch::start();
    let (c, _) = RawClient::attach(&sw, "exact");
    // A receiver, so that the end of the switch's work can be seen (its socket holds them all).
    let b = Plug::attach(&sw);
    // Queue the frames while the switch is stopped, so it finds them all at once.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(sw.pid(), libc::SIGSTOP) };
    // 128 = four full reads of 32 (what fits in the client's socket buffer while the
    // switch is stopped).
    let frames: Vec<Vec<u8>> = (0..128u32)
        .map(|i| eth(BROADCAST, mac(0x81), ETH_P_TEST, &payload(46, i as u8)))
        .collect();
    for f in &frames {
        c.send_frame(f);
    }
    // SAFETY: as above.
    unsafe { libc::kill(sw.pid(), libc::SIGCONT) };
    for (i, f) in frames.iter().enumerate() {
        b.expect_frame(f, SETTLE, &format!("frame {i} of the burst"));
    }
    // Every frame is handled: from now on the switch has nothing to do.
    let before = cpu_ticks(sw.pid());
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(sw.pid()) - before;
    assert!(used < 20, "an idle switch used {used} ticks of CPU in 1 s");
}
