//! `uml_switch` process behaviour and (on ours) vdeplug4 clients. The UML-guest tests through
//! `uml_switch` are in `uml_guests.rs`.

use integration_tests::bins::{note_reference, uml_switch_command};
use integration_tests::frame::ETH_P_TEST;
use integration_tests::proc::run_with_timeout;
use integration_tests::raw::{RawClient, Reply};
use integration_tests::{
    eth, is_uml_reference, mac, payload, uml_switch_bin, Plug, Switch, ARRIVE, BROADCAST, SETTLE,
};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

const EXIT: Duration = Duration::from_secs(5);

#[test]
fn sigint_removes_the_ctl_socket() {
    let mut sw = Switch::uml_builder().start();
    let ctl = sw.ctl().to_path_buf();
    sw.signal(libc::SIGINT);
    let st = sw
        .wait_exit(EXIT)
        .expect("uml_switch still running after SIGINT");
    assert!(
        !ctl.exists(),
        "ctl socket left behind after SIGINT ({st:?})"
    );
}

#[test]
fn sigterm_and_the_ctl_socket() {
    let mut sw = Switch::uml_builder().start();
    let ctl = sw.ctl().to_path_buf();
    sw.signal(libc::SIGTERM);
    let st = sw
        .wait_exit(EXIT)
        .expect("uml_switch still running after SIGTERM");
    if is_uml_reference() {
        assert_eq!(st.signal(), Some(libc::SIGTERM));
        assert!(
            ctl.exists(),
            "reference expected to leave its ctl socket on SIGTERM"
        );
        note_reference("uml_switch leaves its ctl socket on SIGTERM, as documented");
    } else {
        assert!(
            !ctl.exists(),
            "ctl socket left behind after SIGTERM ({st:?})"
        );
    }
}

/// SIGHUP (a closed terminal) ends ours cleanly too; the original dies of it, leaving its socket.
#[test]
fn sighup_and_the_ctl_socket() {
    let mut sw = Switch::uml_builder().start();
    let ctl = sw.ctl().to_path_buf();
    sw.signal(libc::SIGHUP);
    let st = sw
        .wait_exit(EXIT)
        .expect("uml_switch still running after SIGHUP");
    if is_uml_reference() {
        assert_eq!(st.signal(), Some(libc::SIGHUP));
        assert!(
            ctl.exists(),
            "reference expected to leave its ctl socket on SIGHUP"
        );
        note_reference("uml_switch dies of SIGHUP and leaves its ctl socket");
    } else {
        assert_eq!(st.code(), Some(0), "{st:?}");
        assert!(!ctl.exists(), "ctl socket left behind after SIGHUP");
    }
}

/// Each client gets a data socket of its own, connected to that client: a third party cannot
/// send frames into the switch as if it were a client (the kernel refuses them), whereas the
/// original's one shared socket forwards whatever reaches it.
#[test]
fn each_client_has_its_own_data_socket() {
    let sw = Switch::uml_builder().start();
    let attach = |name: &str| {
        let mut c = RawClient::connect(&sw, name);
        let req = c.request(0, name.as_bytes());
        c.write(&req);
        match c.read_reply(SETTLE) {
            Reply::Data(d) => {
                c.connect_data_as_given(&d);
                (c, d)
            }
            other => panic!("{name}: expected a reply, got {other:?}"),
        }
    };
    let (a, addr_a) = attach("a");
    let (b, addr_b) = attach("b");
    // A stranger sends a frame to a's data socket on the switch.
    let stranger = std::os::unix::net::UnixDatagram::unbound().unwrap();
    let forged = eth(BROADCAST, mac(0xe1), ETH_P_TEST, &payload(46, 1));
    // SAFETY: sendto(2) with buffers we own and a 110-byte sockaddr_un.
    let sent = unsafe {
        libc::sendto(
            std::os::fd::AsRawFd::as_raw_fd(&stranger),
            forged.as_ptr().cast(),
            forged.len(),
            0,
            addr_a.as_ptr().cast(),
            addr_a.len() as libc::socklen_t,
        )
    };
    let refused = std::io::Error::last_os_error();
    // Then a itself: b's next frame must be a's.
    let real = eth(BROADCAST, mac(0xa1), ETH_P_TEST, &payload(46, 2));
    a.send_frame(&real);
    let got = b.recv_frame(SETTLE).expect("b received nothing");
    if is_uml_reference() {
        assert_eq!(addr_a, addr_b, "the original shares one data socket");
        assert_eq!(got, forged, "the original forwards the stranger's frame");
        note_reference("uml_switch shares one data socket and forwards anybody's frames");
        return;
    }
    assert_ne!(
        addr_a, addr_b,
        "two clients were given the same data socket"
    );
    assert_eq!(
        sent, -1,
        "the stranger's frame was accepted by a's data socket"
    );
    assert_eq!(refused.raw_os_error(), Some(libc::EPERM), "{refused}");
    assert!(got == real, "b got {} bytes, not a's frame", got.len());
}

#[test]
fn second_uml_switch_on_the_same_socket_is_refused() {
    let mut first = Switch::uml_builder().start();
    let home = tempfile::tempdir().unwrap();
    let out = run_with_timeout(
        uml_switch_command(&uml_switch_bin(), home.path())
            .arg("-unix")
            .arg(first.ctl()),
        EXIT,
    );
    let st = out
        .status
        .expect("a second uml_switch on the same socket is still running after 5 s");
    assert!(!st.success(), "second uml_switch exited with {st:?}");
    assert!(
        !(out.stderr.trim().is_empty() && out.stdout.trim().is_empty()),
        "second uml_switch said nothing"
    );
    first.assert_running("first uml_switch after a refused second one");
    assert!(
        first.ctl().exists(),
        "the refused instance removed the first one's ctl"
    );
}

#[test]
fn startup_line_on_stdout() {
    let sw = Switch::uml_builder().start();
    let expected = format!("attached to unix socket '{}'", sw.ctl().display());
    if is_uml_reference() {
        // Its stdout is fully buffered on a pipe: nothing shows before it exits.
        note_reference("uml_switch startup line not checked (block-buffered stdout)");
        return;
    }
    assert!(
        integration_tests::wait_until(SETTLE, || sw.stdout().contains(&expected)),
        "expected a line containing {expected:?} on stdout (flushed at once, for log pipes); \
         got {:?}",
        sw.stdout()
    );
}

#[test]
fn vde_plug_clients_work_through_uml_switch() {
    if is_uml_reference() {
        note_reference(
            "vde_plug through uml_switch not run (the original uml_switch disconnects them)",
        );
        return;
    }
    // vdeplug4 clients name the directory; the switch socket is DIR/ctl.
    let t = tempfile::Builder::new()
        .prefix("vdet-uml-")
        .tempdir()
        .unwrap();
    let dir = t.path().join("u");
    std::fs::create_dir(&dir).unwrap();
    let sw = Switch::uml_builder().sock(dir.join("ctl")).start();
    let url = dir.display().to_string();
    let mut a = Plug::spawn(&url);
    let mut b = Plug::spawn(&url);
    let c = Plug::spawn(&url);
    // No socket layout to watch: repeat a broadcast (a new one each time) until both other
    // clients got one; they are all attached then.
    let retry = |k: u32| {
        let mut f = eth(BROADCAST, mac(0xc1), ETH_P_TEST, &payload(46, 1));
        f[14..18].copy_from_slice(&k.to_be_bytes());
        f
    };
    let is_retry =
        |f: &[u8]| f.len() == 60 && f[..14] == retry(0)[..14] && f[18..] == retry(0)[18..];
    let (mut at_b, mut at_c) = (false, false);
    let mut k = 0;
    let through = integration_tests::wait_until(SETTLE, || {
        a.send(&retry(k));
        k += 1;
        for (p, seen) in [(&b, &mut at_b), (&c, &mut at_c)] {
            while let Some(x) = p.recv_timeout(Duration::from_millis(50)) {
                assert!(is_retry(&x), "unexpected frame {x:?}");
                *seen = true;
            }
        }
        at_b && at_c
    });
    assert!(
        through,
        "a broadcast from one vde_plug did not reach both others through uml_switch \
         (b got one: {at_b}, c got one: {at_c}); a: {}; b: {}; c: {}; switch stdout: {}; \
         stderr: {}",
        a.stderr(),
        b.stderr(),
        c.stderr(),
        sw.stdout(),
        sw.stderr()
    );
    // Everyone is attached now. One clean round: a announces itself (learned), b answers by
    // unicast. Copies of the retries still on their way come first, in order: skip them.
    let hello = eth(BROADCAST, mac(0xc1), ETH_P_TEST, &payload(46, 3));
    a.send(&hello);
    for (p, name) in [(&b, "b"), (&c, "c")] {
        loop {
            let x = p
                .recv_timeout(ARRIVE)
                .unwrap_or_else(|| panic!("broadcast a -> {name} through uml_switch: nothing"));
            if x == hello {
                break;
            }
            assert!(is_retry(&x), "at {name} before the broadcast: {x:?}");
        }
    }
    let g = eth(mac(0xc1), mac(0xc2), ETH_P_TEST, &payload(60, 2));
    b.send(&g);
    a.expect_only(
        &g,
        "unicast b -> a through uml_switch (no echo of a's broadcasts before it)",
    );
    let control = eth(BROADCAST, mac(0xc1), ETH_P_TEST, &payload(46, 4));
    a.send(&control);
    c.expect_only(
        &control,
        "unicast to a learned MAC leaked to a third client",
    );
    b.expect_only(&control, "unicast reflected to its sender");
}

/// Fair admission with caps given on the command line: uid 65534 holds 200 silent connections
/// to a `uml_switch -maxpending 4 -maxpending-user 2`, reconnecting each one the switch closes;
/// the switch evicts at the caps given (its log line says so, and names the options), and two
/// `vde_plug`s of root attached meanwhile forward frames. (UML guests in the same situation:
/// `uml_guests.rs`.)
#[test]
fn silent_connections_of_another_user_and_small_caps() {
    use integration_tests::flood::{uml_switch_open_to_all, SilentFlood};
    let Some(()) = integration_tests::needs::root("to flood as another user") else {
        return;
    };
    if is_uml_reference() {
        note_reference("the original uml_switch has no admission caps nor their options");
        return;
    }
    let (_t, sw) = uml_switch_open_to_all(&["-maxpending", "4", "-maxpending-user", "2"]);
    let flood = SilentFlood::start(sw.ctl(), 65534, 200);
    flood.hold(Duration::from_millis(300));
    // nobody at its own cap of 2 (the default would be 64); the total within the cap of 4.
    let log = sw.expect_log("2 of uid 65534, cap 2): closed the one on fd ");
    let re =
        regex::Regex::new(r"at their cap \((\d+) in all, cap 4; 2 of uid 65534, cap 2\)").unwrap();
    let total: u32 = re
        .captures(&log)
        .unwrap_or_else(|| panic!("no eviction line with the caps given: {log}"))[1]
        .parse()
        .unwrap();
    assert!((2..=4).contains(&total), "{log}");
    assert!(
        log.contains("(the caps are set with -maxpending and -maxpending-user)"),
        "{log}"
    );

    let url = sw.dir().display().to_string();
    let mut a = Plug::spawn(&url);
    let b = Plug::spawn(&url);
    let mut k = 0u8;
    let through = integration_tests::wait_until(SETTLE, || {
        k = k.wrapping_add(1);
        a.send(&eth(BROADCAST, mac(0xd1), ETH_P_TEST, &payload(46, k)));
        b.recv_timeout(Duration::from_millis(50)).is_some()
    });
    assert!(
        through,
        "two vde_plugs of root attached during the flood did not forward a frame through \
         uml_switch; a: {}; b: {}; switch stderr (eviction lines left out): {}",
        a.stderr(),
        b.stderr(),
        sw.stderr()
            .lines()
            .filter(|l| !l.contains("at their cap"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(flood.running(), "the flood stopped before the end");
}

/// A bad cap is refused with a line saying what is wrong, status 1, and no socket.
#[test]
fn a_bad_admission_cap_is_refused() {
    if is_uml_reference() {
        note_reference("the original uml_switch has no admission caps");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let ctl = home.path().join("uml.ctl");
    for (args, says) in [
        (
            &["-maxpending", "0"][..],
            "invalid argument '0' for '-maxpending': expected an integer from 1 to 65536",
        ),
        (
            &["--maxpending-user", "many"],
            "invalid argument 'many' for '--maxpending-user': expected an integer from 1 to 65536",
        ),
        (
            &["-maxpending-user"],
            "option '-maxpending-user' needs a value: an integer from 1 to 65536",
        ),
    ] {
        let out = run_with_timeout(
            uml_switch_command(&uml_switch_bin(), home.path())
                .arg("-unix")
                .arg(&ctl)
                .args(args),
            EXIT,
        );
        assert_eq!(
            out.status.and_then(|s| s.code()),
            Some(1),
            "{args:?}: {out:?}"
        );
        assert!(
            out.stderr.contains(says) && out.stderr.lines().count() == 1,
            "{args:?}: {:?}",
            out.stderr
        );
        assert!(!ctl.exists(), "{args:?}: a socket was made");
    }
}
