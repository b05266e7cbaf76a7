//! Forwarding between real `vde_plug` clients: flooding, learning, runts, byte-exact delivery.

use integration_tests::frame::{eth_sized, ETH_P_TEST};
use integration_tests::raw::{RawClient, Reply};
use integration_tests::{eth, mac, payload, Plug, Switch, ARRIVE, BROADCAST, QUIET};

#[test]
fn broadcast_between_two_plugs_reaches_the_other_not_the_sender() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let mut b = Plug::attach(&sw);
    assert_ne!(a.port, b.port, "two clients got the same port");

    let f = eth(BROADCAST, mac(1), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "broadcast a->b");
    a.expect_none(QUIET, "broadcast must not come back to its sender");

    let g = eth(BROADCAST, mac(2), ETH_P_TEST, &payload(46, 2));
    b.send(&g);
    a.expect_frame(&g, ARRIVE, "broadcast b->a");
    b.expect_none(QUIET, "broadcast must not come back to its sender");
}

#[test]
fn broadcast_among_three_plugs_reaches_all_others() {
    let sw = Switch::start();
    let mut plugs = [Plug::attach(&sw), Plug::attach(&sw), Plug::attach(&sw)];
    for i in 0..3 {
        let f = eth(
            BROADCAST,
            mac(10 + i as u8),
            ETH_P_TEST,
            &payload(50, i as u8),
        );
        plugs[i].send(&f);
        for (j, p) in plugs.iter().enumerate() {
            if j != i {
                p.expect_frame(&f, ARRIVE, &format!("broadcast from plug {i} at plug {j}"));
            }
        }
        plugs[i].expect_none(QUIET, &format!("broadcast from plug {i} echoed to itself"));
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
    c.expect_none(QUIET, "unicast to a learned MAC leaked to a third port");
    b.expect_none(QUIET, "unicast echoed to its sender");

    // a -> b: mb was learned from the previous frame.
    let back = eth(mb, ma, ETH_P_TEST, &payload(60, 9));
    a.send(&back);
    b.expect_frame(&back, ARRIVE, "unicast a->b");
    c.expect_none(QUIET, "reply leaked to a third port");
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
    b.expect_none(QUIET, "a runt (< 14 bytes) was delivered");
    // The switch still forwards normal frames afterwards.
    let f = eth(BROADCAST, mac(0x41), ETH_P_TEST, &payload(46, 4));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "frame after runts");
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
    a.expect_none(QUIET, "hub: broadcast echoed to its sender");
    // In a switch this would go to a only; a hub sends it everywhere but the input port.
    let uni = eth(mac(0x81), mac(0x82), ETH_P_TEST, &payload(60, 1));
    b.send(&uni);
    a.expect_frame(&uni, ARRIVE, "hub: unicast at its destination");
    c.expect_frame(&uni, ARRIVE, "hub: unicast flooded to a third port");
    b.expect_none(QUIET, "hub: unicast echoed to its sender");
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
    while b
        .recv_timeout(std::time::Duration::from_millis(300))
        .is_some()
    {}
    let marker = eth(mac(0x62), mac(0x61), ETH_P_TEST, &payload(46, 0xee));
    a.send(&marker);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match b.recv_timeout(left) {
            Some(f) if f == marker => break,
            Some(_) => continue,
            None => panic!("the frame sent after a 1000-frame burst never arrived"),
        }
    }
}

/// A client that never reads its socket must not stall the others: the switch
/// holds back the sender for a moment (so a slow receiver loses nothing), then
/// gives up on the stuck one and lets traffic to everybody else go on.
#[test]
fn a_client_that_never_reads_does_not_stall_the_others() {
    let sw = Switch::start();
    let mut stuck = RawClient::connect(&sw, "never-reads");
    let req = stuck.request(0, b"never reads");
    stuck.write(&req);
    let reply = match stuck.read_reply(std::time::Duration::from_secs(5)) {
        Reply::Data(d) => d,
        other => panic!("expected a reply, got {other:?}"),
    };
    stuck.connect_data(&reply);
    let a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    // More than the switch's socket buffer towards the stuck client holds, so its
    // queue fills up and the switch has to decide what to do about it.
    const N: u32 = 8_000;
    let burst: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut f = eth(BROADCAST, mac(0x71), ETH_P_TEST, &payload(46, 0));
            f[14..18].copy_from_slice(&i.to_be_bytes());
            f
        })
        .collect();
    // The burst does not fit in the pipe to vde_plug: write it from another thread, so a
    // stalled switch makes this test fail instead of hang.
    let writer = std::thread::spawn(move || {
        let mut a = a;
        a.send_burst(&burst);
        a
    });
    let mut got = 0;
    while let Some(f) = b.recv_timeout(std::time::Duration::from_millis(2000)) {
        if f[12..14] == ETH_P_TEST.to_be_bytes() && f[6..12] == mac(0x71) {
            got += 1;
        }
        if got == N {
            break;
        }
    }
    if integration_tests::is_reference() {
        // The reference drops whatever a full socket refuses, for everybody.
        integration_tests::proc::announce(&format!(
            "note: reference delivered {got} of {N} frames to the reading client"
        ));
    } else {
        assert_eq!(
            got, N,
            "the reading client lost frames while another client never read"
        );
    }
    let mut a = writer.join().expect("writer thread");
    if !integration_tests::is_reference() {
        // The switch noticed (the reference just drops frames at a full socket).
        assert!(
            sw.stderr().contains("stopped reading"),
            "no stuck-client log line; stderr: {}",
            sw.stderr()
        );
    }
    let marker = eth(BROADCAST, mac(0x71), ETH_P_TEST, &payload(46, 0xee));
    a.send(&marker);
    b.expect_frame(&marker, ARRIVE, "a frame after the burst");
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
    let mut c = RawClient::connect(&sw, "exact");
    let req = c.request(0, b"exact burst");
    c.write(&req);
    let reply = match c.read_reply(std::time::Duration::from_secs(5)) {
        Reply::Data(d) => d,
        other => panic!("expected a reply, got {other:?}"),
    };
    c.connect_data(&reply);
    // Queue the frames while the switch is stopped, so it finds them all at once.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(sw.pid(), libc::SIGSTOP) };
    // 128 = four full reads of 32 (what fits in the client's socket buffer while the
    // switch is stopped).
    for i in 0..128u32 {
        let f = eth(BROADCAST, mac(0x81), ETH_P_TEST, &payload(46, i as u8));
        c.send_frame(&f);
    }
    // SAFETY: as above.
    unsafe { libc::kill(sw.pid(), libc::SIGCONT) };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = cpu_ticks(sw.pid());
    std::thread::sleep(std::time::Duration::from_secs(1));
    let used = cpu_ticks(sw.pid()) - before;
    assert!(used < 20, "an idle switch used {used} ticks of CPU in 1 s");
}
