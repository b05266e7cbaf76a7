//! `-t IF` (vde_switch) and `-tap IF` (uml_switch): a tap interface as a port. Each test runs the
//! switch in a network namespace of its own, gives the tap an address there and checks that the
//! kernel behind the tap answers an ARP request sent by a real `vde_plug` on another port.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use integration_tests::proc::announce;
use integration_tests::{
    bins::note_reference, eth, is_uml_reference, mac, uml_switch_bin, vde_switch_bin, wait_until,
    Plug,
};

/// A network namespace deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Option<Netns> {
        // SAFETY: geteuid has no side effects.
        if unsafe { libc::geteuid() } != 0 {
            announce("note: tap tests need root (network namespaces, /dev/net/tun); skipped");
            return None;
        }
        let name = format!("vdetap-{tag}-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            announce("note: 'ip netns add' failed; tap tests skipped");
            return None;
        }
        Some(Netns(name))
    }

    fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).args(args);
        c
    }

    fn run(&self, args: &[&str]) {
        let st = self.exec(args).status().expect("ip netns exec");
        assert!(st.success(), "{args:?} in {} failed", self.0);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
        wait_until(Duration::from_secs(5), || ns
            .exec(&["ip", "link", "show", tap])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())),
        "tap {tap} never appeared"
    );
    ns.run(&["ip", "addr", "add", "10.9.0.1/24", "dev", tap]);
    ns.run(&["ip", "link", "set", tap, "up"]);
}

/// Ask for 10.9.0.1 until the kernel behind the tap answers (or give up).
fn arp_answered(plug: &mut Plug, me: [u8; 6]) -> bool {
    for _ in 0..10 {
        plug.send(&arp_request(me));
        while let Some(f) = plug.recv_timeout(Duration::from_millis(300)) {
            let is_reply = f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[20..22] == [0, 2];
            if is_reply && f[0..6] == me && f[28..32] == [10, 9, 0, 1] {
                return true;
            }
        }
    }
    false
}

#[test]
fn vde_switch_tap_port_reaches_the_kernel() {
    let Some(ns) = Netns::new("vde") else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("sw");
    let bin = vde_switch_bin();
    let sw = Killed(
        ns.exec(&[
            bin.to_str().unwrap(),
            "-s",
            dir.to_str().unwrap(),
            "-t",
            "vdetap0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start vde_switch"),
    );
    assert!(
        wait_until(Duration::from_secs(5), || dir.join("ctl").exists()),
        "switch did not start"
    );
    configure_tap(&ns, "vdetap0");
    let mut plug = Plug::attach_url(&dir, &dir.display().to_string());
    assert!(
        arp_answered(&mut plug, mac(0x33)),
        "no ARP reply from the kernel behind vdetap0"
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
    // uml_switch's data sockets are abstract, and abstract names belong to a network
    // namespace: the switch stays with the plug, and only the tap moves to the namespace.
    let tap = format!("umt{}", std::process::id());
    let bin = uml_switch_bin();
    let sw = Killed(
        Command::new(&bin)
            .args(["-unix", ctl.to_str().unwrap(), "-tap", &tap])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start uml_switch"),
    );
    assert!(
        wait_until(Duration::from_secs(5), || ctl.exists()),
        "uml_switch did not start"
    );
    // The control socket comes first, the tap right after it.
    let tap_exists = || {
        Command::new("ip")
            .args(["link", "show", &tap])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(
        wait_until(Duration::from_secs(5), tap_exists),
        "tap {tap} never appeared"
    );
    let moved = Command::new("ip")
        .args(["link", "set", &tap, "netns", &ns.0])
        .status()
        .is_ok_and(|s| s.success());
    assert!(moved, "could not move {tap} into {}", ns.0);
    let mut plug = Plug::spawn(&dir.display().to_string());
    configure_tap(&ns, &tap);
    let me = mac(0x34);
    assert!(
        arp_answered(&mut plug, me),
        "no ARP reply from the kernel behind {tap}"
    );
    drop(sw);
}
