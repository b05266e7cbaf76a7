//! The control-protocol handshake under malformed input, with raw clients written here.
//!
//! Some checks cover our deliberate fixes of reference bugs; when the switch under test is the
//! reference (`is_reference()`), those check the reference's documented behaviour instead.

use integration_tests::bins::note_reference;
use integration_tests::frame::{eth_sized, ETH_P_TEST};
use integration_tests::mgmt::{PortStats, Session};
use integration_tests::raw::{reply_path, v3_request, RawClient, Reply, SOCKADDR_UN_LEN};
use integration_tests::{
    eth, hex, is_reference, mac, payload, wait_until, Plug, Switch, ARRIVE, BROADCAST,
};
use std::time::Duration;

const PROMPT: Duration = Duration::from_secs(2);

/// Asserts that two fresh vde_plugs can talk through `sw` (it still serves clients).
fn assert_still_serves(sw: &Switch) {
    let mut a = Plug::attach(sw);
    let b = Plug::attach(sw);
    let f = eth(BROADCAST, mac(0x99), ETH_P_TEST, &payload(46, 9));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "switch serving after the bad client");
}

/// Completes a handshake on `c` (request already written) and checks the data path both ways
/// against a vde_plug on the same switch.
fn assert_working_endpoint(sw: &Switch, c: &mut RawClient, context: &str) {
    let reply = match c.read_reply(PROMPT) {
        Reply::Data(d) => d,
        other => panic!("{context}: expected a 110-byte reply, got {other:?}"),
    };
    assert_eq!(
        reply.len(),
        SOCKADDR_UN_LEN,
        "{context}: reply length ({})",
        hex(&reply)
    );
    let p = reply_path(&reply);
    let canon = sw.dir().canonicalize().unwrap();
    assert_eq!(
        p.parent(),
        Some(canon.as_path()),
        "{context}: reply path {}",
        p.display()
    );
    c.connect_data(&reply);
    let mut plug = Plug::attach(sw);
    let f = eth(BROADCAST, mac(0x61), ETH_P_TEST, &payload(50, 1));
    c.send_frame(&f);
    plug.expect_frame(&f, ARRIVE, &format!("{context}: raw client -> plug"));
    let g = eth(mac(0x61), mac(0x62), ETH_P_TEST, &payload(50, 2));
    plug.send(&g);
    match c.recv_frame(ARRIVE) {
        Some(got) => assert_eq!(hex(&got), hex(&g), "{context}: plug -> raw client"),
        None => panic!("{context}: raw client received nothing from the plug"),
    }
}

#[test]
fn valid_v3_request_gets_a_data_socket_and_works() {
    let sw = Switch::start();
    let mut c = RawClient::connect(&sw, "c1");
    let req = c.request(0, b"raw test client");
    c.write(&req);
    assert_working_endpoint(&sw, &mut c, "valid v3 request");
}

#[test]
fn request_for_a_fixed_port_gets_that_port() {
    let sw = Switch::start();
    let mut c = RawClient::connect(&sw, "c1");
    let req = c.request(5, b"fixed");
    c.write(&req);
    let reply = match c.read_reply(PROMPT) {
        Reply::Data(d) => d,
        other => panic!("expected a reply, got {other:?}"),
    };
    let p = reply_path(&reply);
    let name = p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("005."),
        "data socket for port 5 is named {name}"
    );
    assert!(
        sw.data_sockets().contains(&name),
        "{name} not in {:?}",
        sw.data_sockets()
    );
}

#[test]
fn request_for_port_out_of_range_is_closed_promptly() {
    let sw = Switch::start(); // 32 ports: 0..31
    let mut c = RawClient::connect(&sw, "c99");
    let req = c.request(99, b"port 99");
    c.write(&req);
    if is_reference() {
        // vde-2 2.3.2 bug (fixed upstream in f16d23a): no reply, connection left open.
        match c.read_reply(Duration::from_secs(1)) {
            Reply::Timeout => {}
            other => panic!("reference expected to hang (no reply) on port 99, got {other:?}"),
        }
        note_reference("not checking that the connection is closed (the reference hangs)");
    } else {
        match c.read_reply(PROMPT) {
            Reply::Closed => {}
            Reply::Timeout => panic!(
                "port 99 on a 32-port switch: the connection was neither answered nor closed \
                 within {PROMPT:?} (the client would hang, as with vde-2 2.3.2); expected close"
            ),
            Reply::Data(d) => panic!("port 99 on a 32-port switch was answered: {}", hex(&d)),
        }
        assert!(
            sw.data_sockets().is_empty(),
            "data sockets left: {:?}",
            sw.data_sockets()
        );
    }
    assert_still_serves(&sw);
}

#[test]
fn request_split_over_two_writes() {
    let sw = Switch::start();
    let mut c = RawClient::connect(&sw, "split");
    let req = c.request(0, b"split request");
    c.write(&req[..20]);
    // The switch reads the first fragment on its own.
    assert!(
        c.wait_consumed(PROMPT),
        "the switch did not read the first 20 bytes"
    );
    let second = c.try_write(&req[20..]);
    if is_reference() {
        // 2.3.2 parses whatever one read returns: the 20-byte fragment is rejected.
        match c.read_reply(PROMPT) {
            Reply::Closed => {}
            other => panic!("reference expected to close on a 20-byte fragment, got {other:?}"),
        }
        note_reference("split request is refused, as documented (our fix reassembles it)");
    } else {
        if let Err(e) = second {
            panic!("the switch closed the connection after a 20-byte first fragment ({e})");
        }
        assert_working_endpoint(&sw, &mut c, "request split in two writes");
    }
    assert_still_serves(&sw);
}

#[test]
fn extra_bytes_after_a_valid_request_do_not_create_a_second_endpoint() {
    let sw = Switch::start();
    let mut c = RawClient::connect(&sw, "extra");
    let req = c.request(0, b"first");
    c.write(&req);
    match c.read_reply(PROMPT) {
        Reply::Data(d) => assert_eq!(d.len(), SOCKADDR_UN_LEN),
        other => panic!("expected a reply, got {other:?}"),
    }
    assert_eq!(sw.data_sockets().len(), 1, "{:?}", sw.data_sockets());
    // The same valid request again on the established connection.
    c.write(&req);
    if is_reference() {
        // 2.3.2 parses it as a new request: a second endpoint on the same ctl fd.
        let two = wait_until(PROMPT, || sw.data_sockets().len() == 2);
        assert!(
            two,
            "reference expected to create a 2nd endpoint: {:?}",
            sw.data_sockets()
        );
        note_reference("extra request created a second endpoint, as documented (fixed in ours)");
    } else {
        // Once the switch has read the extra bytes, and then served a whole new client (later
        // turns of its loop), a second endpoint would exist.
        assert!(
            c.wait_consumed(PROMPT),
            "the switch did not read the extra bytes"
        );
        let later = Plug::attach(&sw);
        let socks: Vec<String> = sw
            .data_sockets()
            .into_iter()
            .filter(|n| *n != later.data_socket)
            .collect();
        assert_eq!(
            socks.len(),
            1,
            "extra bytes after a valid request created another endpoint: data sockets {socks:?}"
        );
    }
    drop(c);
    if !is_reference() {
        // EOF on the control connection frees the endpoint and its data socket.
        let freed = wait_until(PROMPT, || sw.data_sockets().is_empty());
        assert!(
            freed,
            "endpoint not freed after EOF: {:?}",
            sw.data_sockets()
        );
    }
    assert_still_serves(&sw);
}

#[test]
fn garbage_request_is_closed_and_the_switch_keeps_serving() {
    let sw = Switch::start();
    let mut c = RawClient::connect(&sw, "garbage");
    let garbage: Vec<u8> = (0..256u32).map(|i| (i * 7 + 3) as u8).collect();
    c.write(&garbage);
    assert!(
        c.wait_closed(PROMPT),
        "256 bytes of garbage: connection not closed"
    );
    assert!(sw.data_sockets().is_empty(), "{:?}", sw.data_sockets());
    assert_still_serves(&sw);
}

#[test]
fn unsupported_versions_and_request_types_are_closed() {
    let sw = Switch::start();
    let path = sw.scratch().join("vers");
    let base = v3_request(0, &path, b"x");
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for v in [2u32, 4, 0x100] {
        let mut r = base.clone();
        r[4..8].copy_from_slice(&v.to_ne_bytes());
        cases.push(("version", r));
    }
    let mut bad_type = base.clone();
    bad_type[8..12].copy_from_slice(&5u32.to_ne_bytes());
    cases.push(("request type 5", bad_type));
    let mut bad_magic = base.clone();
    bad_magic[0] ^= 0xff;
    cases.push(("magic", bad_magic));
    for (what, req) in cases {
        let mut c = RawClient::connect(&sw, "vers");
        c.write(&req);
        assert!(
            c.wait_closed(PROMPT),
            "bad {what} ({}): connection not closed",
            hex(&req[..12])
        );
    }
    assert!(sw.data_sockets().is_empty(), "{:?}", sw.data_sockets());
    assert_still_serves(&sw);
}

/// Frames above 1518 bytes, up to the default `--maxframe` of 9234 (the largest frame vdeplug
/// clients send), arrive intact; 2.3.2 truncates everything to 1518 bytes.
#[test]
fn frames_above_1518_bytes_arrive_intact() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    for (len, seed) in [
        (1519usize, 0x10u8),
        (3000, 0x11),
        (9000, 0x12),
        (9234, 0x13),
    ] {
        let big = eth_sized(BROADCAST, mac(0x71), len, seed);
        a.send(&big);
        if is_reference() {
            // 2.3.2 reads at most 1518 bytes and forwards the truncated frame.
            b.expect_frame(
                &big[..1518],
                ARRIVE,
                &format!("{len}-byte frame, truncated"),
            );
        } else {
            b.expect_frame(&big, ARRIVE, &format!("{len}-byte frame"));
        }
    }
    if is_reference() {
        note_reference("frames above 1518 bytes delivered truncated, as documented");
    }
}

/// Frames longer than `--maxframe` are dropped whole (and counted), never truncated: with the
/// default of 9234, a 9235-byte frame (sent by a raw client: vde_plug sends at most 9234).
#[test]
fn frames_above_maxframe_are_dropped_and_counted() {
    if is_reference() {
        note_reference("--maxframe and port/stats are ours");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("mgmt");
    let sw = Switch::builder().arg("-M").arg(&m).start();
    let (c, port) = RawClient::attach(&sw, "big");
    let b = Plug::attach(&sw);
    c.send_frame(&eth_sized(BROADCAST, mac(0x72), 9235, 1));
    c.send_frame(&eth_sized(BROADCAST, mac(0x72), 20000, 2));
    let ok = eth_sized(BROADCAST, mac(0x72), 9234, 3);
    c.send_frame(&ok);
    b.expect_only(
        &ok,
        "frames above --maxframe must be dropped, not truncated",
    );
    let (mut s, _) = Session::open(&m);
    assert_eq!(
        s.port_stats(port),
        PortStats {
            oversize: 2,
            ..PortStats::default()
        }
    );
}

#[test]
fn numports_counts_port_0() {
    // `-n 8`: ports 0..7; 7 is the highest usable one, 8 is refused.
    let sw = Switch::with_args(&["-n", "8"]);
    let mut ok = RawClient::connect(&sw, "p7");
    let req = ok.request(7, b"port 7");
    ok.write(&req);
    match ok.read_reply(PROMPT) {
        Reply::Data(d) => {
            let name = reply_path(&d)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(name.starts_with("007."), "port 7 got data socket {name}");
        }
        other => panic!("port 7 of an 8-port switch: expected a reply, got {other:?}"),
    }
    let mut bad = RawClient::connect(&sw, "p8");
    let req = bad.request(8, b"port 8");
    bad.write(&req);
    match bad.read_reply(if is_reference() {
        Duration::from_secs(1)
    } else {
        PROMPT
    }) {
        Reply::Data(d) => panic!("port 8 of an 8-port switch was granted: {}", hex(&d)),
        Reply::Timeout if is_reference() => note_reference("port 8 refused by hanging"),
        Reply::Closed if !is_reference() => {}
        other => panic!("port 8 of an 8-port switch: unexpected outcome {other:?}"),
    }
}

/// A port asked for when every port is taken: ours closes the connection at once and says why
/// (2.3.2 keeps it open without an answer, so the client hangs).
#[test]
fn no_free_port_is_refused_promptly() {
    // `-n 2`: ports 0 and 1, and only port 1 is given out automatically.
    let sw = Switch::with_args(&["-n", "2"]);
    let mut first = RawClient::connect(&sw, "first");
    let req = first.request(0, b"first");
    first.write(&req);
    match first.read_reply(PROMPT) {
        Reply::Data(d) => assert!(
            reply_path(&d)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("001."),
            "{}",
            hex(&d)
        ),
        other => panic!("the first client: expected a reply, got {other:?}"),
    }
    let mut second = RawClient::connect(&sw, "second");
    let req = second.request(0, b"second");
    second.write(&req);
    if is_reference() {
        match second.read_reply(Duration::from_secs(1)) {
            Reply::Timeout => note_reference("no free port: the client is left hanging"),
            other => panic!("reference expected to hang, got {other:?}"),
        }
        return;
    }
    match second.read_reply(PROMPT) {
        Reply::Closed => {}
        other => panic!("no free port: expected the connection closed, got {other:?}"),
    }
    sw.expect_log("no free port (all 2 ports are taken; raise -n or port/setnumports)");
    assert_eq!(sw.data_sockets().len(), 1, "{:?}", sw.data_sockets());
}

/// A client that connects and does not finish its request within 3 seconds is dropped (its
/// connection closed, the reason logged), whether it sent part of a request or nothing; until
/// then it is waited for.
#[test]
fn an_unfinished_handshake_is_dropped_after_3_seconds() {
    if is_reference() {
        note_reference("the handshake timeout is ours (2.3.2 waits forever)");
        return;
    }
    let sw = Switch::start();
    // Before the connections: the switch's clocks for them start later.
    let t0 = std::time::Instant::now();
    let mut partial = RawClient::connect(&sw, "partial");
    let req = partial.request(0, b"partial");
    partial.write(&req[..20]);
    let mut silent = RawClient::connect(&sw, "silent");
    for (c, what) in [
        (&mut partial, "20 bytes of a request"),
        (&mut silent, "nothing"),
    ] {
        assert!(
            c.wait_closed(Duration::from_secs(10)),
            "after {what}: the connection is still open 10 s later"
        );
    }
    let waited = t0.elapsed();
    // Late is fine on a busy machine; early is not.
    assert!(
        waited >= Duration::from_secs(3),
        "the switch gave up after {waited:?}, before the 3 s it promises"
    );
    sw.expect_log("request too short: 20 of 122 bytes");
    sw.expect_log("request too short: 0 of ");
    assert!(sw.data_sockets().is_empty(), "{:?}", sw.data_sockets());
    assert_still_serves(&sw);
}
