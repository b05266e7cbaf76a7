//! The network exercises as labs, run by `vdelab` with the stock UML kernel:
//! `examples/hub-vs-switch` (a third host receives the ping between two others on a hub, not on
//! a switch; busybox has no tcpdump, so the third host reads its interfaces' receive counters)
//! and `examples/vlans` (pings cross only within a VLAN). Skipped, with a message, without a UML
//! kernel.

use integration_tests::needs;
use integration_tests::vdelab::Lab;
use std::path::Path;

/// h3's frame counters: (hub, switch).
fn counters(lab: &Lab, kernel: &Path) -> (u64, u64) {
    let (code, out) = lab.shell(kernel, "h3", "rx");
    assert_eq!(code, 0, "{out}");
    let n = |iface: &str| -> u64 {
        let line = out
            .lines()
            .find(|l| l.starts_with(iface))
            .unwrap_or_else(|| panic!("no {iface} in {out:?}"));
        line.split(": ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (n("eth0"), n("eth1"))
}

#[test]
fn hub_versus_switch() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let lab = Lab::example("hub-vs-switch");
    lab.up(&kernel);
    let st = lab.status(&kernel);
    let kinds: Vec<&str> = st["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hub", "switch"], "{st:#}");

    // On the hub, h3 receives the 10 requests and 10 replies between h1 and h2.
    let (hub0, sw0) = counters(&lab, &kernel);
    let (code, out) = lab.shell(&kernel, "h1", "ping -c 10 -i 0.2 -W 5 10.0.1.2");
    assert_eq!(code, 0, "{out}");
    let (hub1, sw1) = counters(&lab, &kernel);
    eprintln!(
        "h3 received {} frames on the hub, {} on the switch",
        hub1 - hub0,
        sw1 - sw0
    );
    assert!(
        hub1 - hub0 >= 20,
        "h3 saw {} frames on the hub",
        hub1 - hub0
    );
    assert!(sw1 - sw0 <= 2, "h3 saw {} frames on the switch", sw1 - sw0);

    // On the switch, at most the first ARP request (a broadcast) reaches h3.
    let (code, out) = lab.shell(&kernel, "h1", "ping -c 10 -i 0.2 -W 5 10.0.2.2");
    assert_eq!(code, 0, "{out}");
    let (hub2, sw2) = counters(&lab, &kernel);
    eprintln!(
        "h3 received {} frames on the hub, {} on the switch",
        hub2 - hub1,
        sw2 - sw1
    );
    assert!(sw2 - sw1 <= 2, "h3 saw {} frames on the switch", sw2 - sw1);
    assert!(hub2 - hub1 <= 2, "h3 saw {} frames on the hub", hub2 - hub1);
    lab.down(&kernel);
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}

#[test]
fn two_vlans() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let lab = Lab::example("vlans");
    lab.up(&kernel);
    let st = lab.status(&kernel);
    let vlans: Vec<i64> = st["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["interfaces"][0]["vlan"].as_i64().unwrap())
        .collect();
    assert_eq!(vlans, [10, 10, 20, 20], "{st:#}");
    for (host, peer) in [("h1", "10.0.0.2"), ("h4", "10.0.0.3")] {
        let (code, out) = lab.shell(&kernel, host, &format!("ping -c 2 -W 5 {peer}"));
        assert_eq!(code, 0, "{host} -> {peer} within a VLAN: {out}");
    }
    for (host, peer) in [("h1", "10.0.0.3"), ("h4", "10.0.0.2")] {
        let (code, out) = lab.shell(&kernel, host, &format!("ping -c 2 -W 1 {peer}"));
        assert_ne!(code, 0, "{host} -> {peer} across VLANs: {out}");
        assert!(out.contains("0 packets received"), "{out}");
    }
    lab.down(&kernel);
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}
