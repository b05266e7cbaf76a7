//! Bounded input: `load` and rc files read only regular files, as a stream, with caps on line
//! length, size and nesting; forwarding between real clients and SIGTERM handling go on.

use std::time::{Duration, Instant};

use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::{bins::note_reference, is_reference};
use integration_tests::{eth, mac, payload, Plug, Switch, BROADCAST, SETTLE};

/// Sends `n` frames from `a` and checks `b` gets every one, in order.
fn forwards(a: &mut Plug, b: &Plug, n: u8, context: &str) {
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| eth(BROADCAST, mac(1), ETH_P_TEST, &payload(46, i)))
        .collect();
    a.send_burst(&frames);
    for f in &frames {
        b.expect_frame(f, SETTLE, context);
    }
}

fn ours_with_mgmt(tmp: &std::path::Path) -> Option<(Switch, std::path::PathBuf)> {
    if is_reference() {
        note_reference("the reference reads whatever it is given, whole (load /dev/zero hangs it)");
        return None;
    }
    let m = tmp.join("mgmt");
    let sw = Switch::builder().arg("-M").arg(&m).start();
    Some((sw, m))
}

/// `load /dev/zero`, a FIFO nobody writes and a directory are refused at once with a line
/// saying why; the switch keeps forwarding between two vde_plugs meanwhile.
#[test]
fn devices_fifos_and_directories_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((sw, m)) = ours_with_mgmt(tmp.path()) else {
        return;
    };
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    let fifo = tmp.path().join("fifo");
    nix_mkfifo(&fifo);
    let (mut s, _) = Session::open(&m);
    forwards(&mut a, &b, 20, "before the loads");
    let zero = lossy(&s.cmd("load /dev/zero"));
    assert!(
        zero.starts_with("load: /dev/zero is a character device, not a regular file")
            && zero.contains("1022 Invalid argument"),
        "{zero}"
    );
    forwards(&mut a, &b, 20, "after load /dev/zero");
    let f = fifo.display().to_string();
    let answer = lossy(&s.cmd(&format!("load {f}")));
    assert!(answer.contains(&format!("load: {f} is a FIFO")), "{answer}");
    let answer = lossy(&s.cmd(&format!("load {}", tmp.path().display())));
    assert!(answer.contains("1021 Is a directory"), "{answer}");
    forwards(&mut a, &b, 20, "after the FIFO and the directory");
}

fn nix_mkfifo(p: &std::path::Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// The largest script accepted (1 MiB of `help`) runs to its output cap while frames keep
/// arriving, none lost; one over the size cap is refused before anything runs; a SIGTERM sent
/// during a 1 MiB load ends the switch with its cleanup done.
#[test]
fn a_large_load_does_not_stop_forwarding_or_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((mut sw, m)) = ours_with_mgmt(tmp.path()) else {
        return;
    };
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    let script = tmp.path().join("big.rc");
    let line = "port/showinfo\n";
    std::fs::write(&script, line.repeat((1 << 20) / line.len())).unwrap();
    let helps = tmp.path().join("help.rc");
    std::fs::write(&helps, "help\n".repeat((1 << 20) / 5)).unwrap();
    let (mut s, _) = Session::open(&m);
    // Frames sent while the load runs are forwarded, none lost.
    s.write(format!("load {}\n", helps.display()).as_bytes());
    forwards(&mut a, &b, 50, "while a 1 MiB script is loaded");
    let answer = s.drain(Duration::from_secs(2), Duration::from_secs(60));
    let text = lossy(&answer);
    assert!(
        text.contains("bytes: the rest is not run\n1027 File too large"),
        "the load stops at its output cap: ...{}",
        &text[text.len().saturating_sub(300)..]
    );
    // Over the size cap: refused before anything runs.
    let over = tmp.path().join("over.rc");
    std::fs::write(&over, line.repeat((1 << 20) / line.len() + 1)).unwrap();
    let answer = lossy(&s.cmd(&format!("load {}", over.display())));
    assert!(
        answer.starts_with(&format!(
            "load: {} is larger than 1048576 bytes: split it into smaller scripts\n1027 File too large",
            over.display()
        )),
        "{answer}"
    );

    s.write(format!("load {}\n", script.display()).as_bytes());
    let t0 = Instant::now();
    sw.signal(libc::SIGTERM);
    let status = sw.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some(),
        "still running {:?} after SIGTERM during a load",
        t0.elapsed()
    );
    assert!(!sw.ctl().exists(), "the control socket was removed at exit");
}

/// A `load` runs a slice per turn of the loop and waits while its session has a lot of output
/// unread: a session that loads a chatty script and reads nothing holds its script, not the
/// switch. Meanwhile frames flow and another session is answered, and the script has not run
/// to its end (it would have, in one go, before); once the client reads, the rest runs, then
/// the command sent behind the `load` in the same write, in order.
#[test]
fn a_load_waits_for_its_reader_and_the_switch_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((sw, m)) = ours_with_mgmt(tmp.path()) else {
        return;
    };
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    let script = tmp.path().join("chatty.rc");
    // About 9 MB of answers, well under the 16 MiB output cap; the last line leaves a mark.
    let mut text = "help\n".repeat(2000);
    text.push_str("vlan/create 77\n");
    std::fs::write(&script, text).unwrap();
    let path = script.display().to_string();

    let (mut loader, _) = Session::open(&m);
    loader.write(format!("load {path}\nvlan/print 77\n").as_bytes());
    // Let the load run as far as it may without a reader.
    std::thread::sleep(Duration::from_millis(500));
    let (mut other, _) = Session::open(&m);
    forwards(&mut a, &b, 50, "while a load waits for its reader");
    let answer = lossy(&other.cmd("vlan/print 77"));
    assert!(
        answer.contains("1006 No such device or address"),
        "the script ran to its end with nobody reading its output: {answer}"
    );

    let done = |b: &[u8]| lossy(b).ends_with("VLAN 0077\n.\n1000 Success\n\nvde$ ");
    let out = lossy(&loader.read_until(Duration::from_secs(60), done));
    let tail = format!(
        "vde[{path}]: vlan/create 77\n1000 Success\n1000 Success\n\nvde$ \
         0000 DATA END WITH '.'\nVLAN 0077\n.\n1000 Success\n\nvde$ "
    );
    assert!(
        out.ends_with(&tail),
        "...{}",
        &out[out.len().saturating_sub(300)..]
    );
    assert_eq!(out.matches(&format!("vde[{path}]: help\n")).count(), 2000);
    let answer = lossy(&other.cmd("vlan/print 77"));
    assert!(answer.contains("VLAN 0077"), "{answer}");
    forwards(&mut a, &b, 50, "after the load");
}

/// `-f /dev/zero` (or a FIFO) is not read: the switch says why and runs without it.
#[test]
fn an_rc_file_that_is_a_device_is_not_read() {
    if is_reference() {
        note_reference("the reference reads -f /dev/zero until memory runs out");
        return;
    }
    let sw = Switch::builder().args(["-f", "/dev/zero"]).start();
    sw.expect_log(
        "rc file /dev/zero: /dev/zero is a character device, not a regular file: only regular \
         files are read as scripts (the switch runs without it)",
    );
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    forwards(&mut a, &b, 5, "a switch whose rc file was refused");
}
