//! `vdecap SOCK PORT|all` (ours) piped into `tcpdump -n -r -`: frames between two real
//! `vde_plug` clients, as the capture of one port or of all, until `port/capture N off`
//! ends the stream; and a clear refusal for a port that does not exist.

use integration_tests::bins::{note_reference, workspace_bin};
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::proc::{wait_child_timeout, wait_until};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{eth, is_reference, mac, needs, payload, Plug, ARRIVE, BROADCAST, SETTLE};
use std::process::{Command, Stdio};

fn vdecap() -> std::path::PathBuf {
    workspace_bin("VDECAP_BIN", "vdecap")
}

/// Whether `json port/capture` lists `which` (a port number or "all").
fn capturing(s: &mut Session, which: &str) -> bool {
    lossy(&s.cmd("json port/capture")).contains(&format!("\"port\":{which}"))
}

fn piped_into_tcpdump(which: &str) {
    if is_reference() {
        note_reference("vdecap needs port/capture, ours");
        return;
    }
    let Some(tcpdump) = needs::in_path("tcpdump", "tcpdump") else {
        return;
    };
    let sw = MgmtSwitch::ours();
    let mut a = Plug::attach(&sw.switch);
    let b = Plug::attach(&sw.switch);
    let port = if which == "all" {
        "all".to_string()
    } else {
        a.port.to_string()
    };
    let mut cap = Command::new(vdecap())
        .arg(&sw.mgmt)
        .arg(&port)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vdecap");
    let dump = Command::new(tcpdump)
        .args(["-e", "-n", "-r", "-"])
        .stdin(cap.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tcpdump");
    let (mut s, _) = Session::open(&sw.mgmt);
    let listed = if which == "all" { "\"all\"" } else { &port };
    assert!(
        wait_until(SETTLE, || capturing(&mut s, listed)),
        "vdecap never started the capture"
    );
    let f = eth(BROADCAST, mac(0x0a), ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "a's broadcast");
    let g = eth(BROADCAST, mac(0x0b), 0x88b6, &payload(46, 2));
    let mut b = b;
    b.send(&g);
    a.expect_frame(&g, ARRIVE, "b's broadcast");

    let off = lossy(&s.cmd(&format!("port/capture {port} off")));
    assert!(off.contains("1000 Success"), "{off}");
    let st = wait_child_timeout(&mut cap, SETTLE).expect("vdecap ends with the capture");
    let mut err = String::new();
    std::io::Read::read_to_string(cap.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(st.success(), "vdecap: {st}: {err}");
    let out = dump.wait_with_output().expect("tcpdump");
    assert!(
        out.status.success(),
        "tcpdump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('\t')).collect();
    // One port: what entered it and what left it. All ports (pcapng, an interface per port):
    // each broadcast entering its sender's port and leaving through the other's.
    let copies = if which == "all" { 2 } else { 1 };
    assert_eq!(lines.len(), 2 * copies, "{text}");
    for (i, l) in lines.iter().enumerate() {
        let want = if i < copies {
            "02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ethertype Unknown (0x88b5)"
        } else {
            "02:00:00:00:00:0b > ff:ff:ff:ff:ff:ff, ethertype Unknown (0x88b6)"
        };
        assert!(l.contains(want), "{text}");
    }
    // vdecap left nothing behind.
    assert!(!capturing(&mut s, listed), "the capture outlived vdecap");
}

#[test]
fn vdecap_of_one_port_piped_into_tcpdump() {
    piped_into_tcpdump("one");
}

#[test]
fn vdecap_of_all_ports_piped_into_tcpdump() {
    piped_into_tcpdump("all");
}

#[test]
fn vdecap_refusals_say_why() {
    if is_reference() {
        note_reference("vdecap needs port/capture, ours");
        return;
    }
    let sw = MgmtSwitch::ours();
    let out = Command::new(vdecap())
        .arg(&sw.mgmt)
        .arg("99")
        .output()
        .expect("run vdecap");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("99: not a port number; expected 0 to 31"),
        "{err}"
    );
    let out = Command::new(vdecap())
        .arg(sw.tmp.path().join("nowhere"))
        .arg("1")
        .output()
        .expect("run vdecap");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect to"), "{err}");
}
