//! VXLAN uplinks (`--vxlan`, `vxlan/*`) against real VTEPs, in network namespaces made here
//! (veth underlays with private addresses, removed on drop):
//!
//! * our switch in namespace A, a tap port on it; a Linux `vxlan` device in B bridged to a veth
//!   whose other end is in C: A pings C across the uplink, in unicast mode (IPv4) and in
//!   multicast mode (IPv4 and IPv6); a frame too large for the underlay is dropped and counted;
//! * two of our switches in A and B over an IPv6 underlay, a tap on each: they ping; and over
//!   IPv4, a stock UML guest (umlrun) on each: the guests ping each other;
//! * vdeplug4's `vde_plug vxlan://GROUP/...` in B exchanges frames with a `vde_plug` on our
//!   switch in A;
//! * `vxlan/add` and `vxlan/del` at run time, and bad SPECs refused with what is wrong.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::bins::vde_switch_command;
use integration_tests::mgmt::Session;
use integration_tests::netns::Netns;
use integration_tests::proc::Spawned;
use integration_tests::switch::accepts_connections;
use integration_tests::{
    eth, is_reference, mac, needs, payload, vde_switch_bin, wait_until, Deadline, Plug, BROADCAST,
    SETTLE,
};

const VNI: &str = "42";
const GROUP: &str = "239.1.1.42";
const GROUP6: &str = "ff05::42";

/// Two namespaces joined by a veth pair `vA`/`vB` (10.77.0.1 and .2, or fd77::1 and ::2).
struct Underlay {
    a: Netns,
    b: Netns,
    addr_a: &'static str,
    addr_b: &'static str,
}

fn underlay(tag: &str, v6: bool) -> Option<Underlay> {
    let a = Netns::new(&format!("{tag}a"))?;
    let b = Netns::new(&format!("{tag}b"))?;
    a.run(&[
        "ip", "link", "add", "vA", "type", "veth", "peer", "name", "vB", "netns", &b.name,
    ]);
    let (addr_a, addr_b) = if v6 {
        ("fd77::1", "fd77::2")
    } else {
        ("10.77.0.1", "10.77.0.2")
    };
    for (ns, dev, addr) in [(&a, "vA", addr_a), (&b, "vB", addr_b)] {
        if v6 {
            // No duplicate address detection: the address is usable at once.
            ns.run(&[
                "ip",
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                dev,
                "nodad",
            ]);
        } else {
            ns.run(&["ip", "addr", "add", &format!("{addr}/24"), "dev", dev]);
        }
        ns.run(&["ip", "link", "set", dev, "up"]);
        ns.run(&["ip", "link", "set", "lo", "up"]);
        // vdeplug4 joins groups on the interface of the route to them.
        if !v6 {
            ns.run(&["ip", "route", "add", "224.0.0.0/4", "dev", dev]);
        }
    }
    Some(Underlay {
        a,
        b,
        addr_a,
        addr_b,
    })
}

/// Our switch running in a namespace, with a management socket.
struct Ours {
    sw: Spawned,
    dir: PathBuf,
    mgmt: PathBuf,
}

fn start_ours(ns: &Netns, tmp: &Path, name: &str, args: &[&str]) -> Ours {
    let dir = tmp.join(name);
    let mgmt = tmp.join(format!("{name}.mgmt"));
    let home = tmp.join(format!("{name}-home"));
    std::fs::create_dir_all(&home).unwrap();
    let isolated = vde_switch_command(&vde_switch_bin(), &home, true);
    let mut cmd = ns.exec(&[]);
    cmd.arg(isolated.get_program())
        .args(isolated.get_args())
        .env("HOME", &home)
        .args(["--nostdin", "-s", dir.to_str().unwrap()])
        .args(["-M", mgmt.to_str().unwrap()])
        .args(args);
    let mut sw = Spawned::start(&mut cmd);
    let up = wait_until(SETTLE, || {
        accepts_connections(&dir.join("ctl")) && mgmt.exists() || !sw.is_running()
    });
    assert!(up && sw.is_running(), "switch did not start: {}", sw.log());
    Ours { sw, dir, mgmt }
}

/// The answer to `cmd` on the management socket `mgmt`.
fn console(mgmt: &Path, cmd: &str) -> String {
    let (mut s, _) = Session::open(mgmt);
    String::from_utf8_lossy(&s.cmd(cmd)).into_owned()
}

/// The JSON document of `json CMD`.
fn console_json(mgmt: &Path, cmd: &str) -> serde_json::Value {
    let answer = console(mgmt, &format!("json {cmd}"));
    let body = answer
        .split_once("0000 DATA END WITH '.'\n")
        .and_then(|(_, rest)| rest.split_once("\n.\n"))
        .map(|(body, _)| body)
        .unwrap_or_else(|| panic!("no data block in {answer:?}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

impl Ours {
    fn cmd(&self, cmd: &str) -> String {
        console(&self.mgmt, cmd)
    }

    fn json(&self, cmd: &str) -> serde_json::Value {
        console_json(&self.mgmt, cmd)
    }

    /// The first uplink of `vxlan/print`.
    fn uplink(&self) -> serde_json::Value {
        self.json("vxlan/print")["uplinks"][0].clone()
    }
}

/// The tap `dev` of our switch in `ns` gets `addr`/24 and comes up.
fn tap_up(ns: &Netns, dev: &str, addr: &str) {
    assert!(
        wait_until(SETTLE, || ns.has_link(dev)),
        "tap {dev} never appeared"
    );
    ns.run(&["ip", "addr", "add", &format!("{addr}/24"), "dev", dev]);
    ns.run(&["ip", "link", "set", dev, "up"]);
}

/// Whether `ns` gets an answer from `addr` within [`SETTLE`] (ARP and learning take a moment).
fn pings(ns: &Netns, addr: &str) -> bool {
    let deadline = Deadline::after(SETTLE);
    while !deadline.expired() {
        let ok = ns
            .exec(&["busybox", "ping", "-c", "1", "-W", "1", addr])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return true;
        }
    }
    false
}

/// In `b`: a Linux `vxlan` device `vx0` (`how`: its remote or group words) in bridge `br0`
/// with veth `h0`, whose peer `h1` (10.88.0.2) is in namespace `c`.
fn linux_side(b: &Netns, c: &Netns, how: &[&str]) {
    let mut add = vec![
        "ip", "link", "add", "vx0", "type", "vxlan", "id", VNI, "dstport", "4789", "dev", "vB",
    ];
    add.extend_from_slice(how);
    b.run(&add);
    b.run(&["ip", "link", "add", "br0", "type", "bridge"]);
    b.run(&[
        "ip", "link", "add", "h0", "type", "veth", "peer", "name", "h1", "netns", &c.name,
    ]);
    b.run(&["ip", "link", "set", "vx0", "master", "br0"]);
    b.run(&["ip", "link", "set", "h0", "master", "br0"]);
    for dev in ["vx0", "h0", "br0"] {
        b.run(&["ip", "link", "set", dev, "up"]);
    }
    c.run(&["ip", "addr", "add", "10.88.0.2/24", "dev", "h1"]);
    c.run(&["ip", "link", "set", "h1", "up"]);
}

fn skip_reference() -> bool {
    if is_reference() {
        integration_tests::bins::note_reference("VXLAN uplinks are ours");
        return true;
    }
    false
}

/// Our switch and a Linux VTEP: a ping crosses, port/print and vxlan/print show the uplink and
/// what it learned, and an oversize frame is dropped and counted.
fn ping_linux(tag: &str, multicast: bool, v6: bool) {
    if skip_reference() {
        return;
    }
    let Some(u) = underlay(tag, v6) else {
        return;
    };
    let group = if v6 { GROUP6 } else { GROUP };
    let Some(c) = Netns::new(&format!("{tag}c")) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec = if multicast {
        format!("vni={VNI},group={group},dev=vA")
    } else {
        format!("vni={VNI},local={},remote={}", u.addr_a, u.addr_b)
    };
    if multicast {
        linux_side(&u.b, &c, &["group", group, "local", u.addr_b]);
    } else {
        linux_side(&u.b, &c, &["local", u.addr_b, "remote", u.addr_a]);
    }
    let ours = start_ours(&u.a, tmp.path(), "sw", &["-t", "vxt0", "--vxlan", &spec]);
    tap_up(&u.a, "vxt0", "10.88.0.1");
    assert!(
        pings(&u.a, "10.88.0.2"),
        "no ping across the uplink {spec}: {}",
        ours.sw.log()
    );

    let ports = ours.cmd("port/print");
    assert!(
        ports.contains("module vxlan") && ports.contains(&format!("vni={VNI},")),
        "port/print does not show the uplink: {ports}"
    );
    let up = ours.uplink();
    assert!(up["rx"]["packets"].as_u64() > Some(0), "{up}");
    assert!(up["tx"]["packets"].as_u64() > Some(0), "{up}");
    // C's MAC was learned behind Linux's VTEP.
    let h1 = String::from_utf8(
        c.exec(&["cat", "/sys/class/net/h1/address"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let learned = up["learned"].as_array().unwrap();
    assert!(
        learned
            .iter()
            .any(|e| e["mac"] == h1.trim() && e["vtep"] == u.addr_b),
        "{} not learned behind {}: {up}",
        h1.trim(),
        u.addr_b
    );

    // A 3000-byte frame does not fit a 1500-byte underlay: dropped, counted and logged.
    u.a.run(&["ip", "link", "set", "vxt0", "mtu", "4000"]);
    let _ =
        u.a.exec(&[
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "-s",
            "2950",
            "10.88.0.2",
        ])
        .output();
    assert!(
        wait_until(SETTLE, || ours.uplink()["tx"]["too_big"].as_u64()
            >= Some(1)),
        "the oversize frame was not counted: {}",
        ours.uplink()
    );
    let (logged, log) = ours.sw.err.wait_for("does not fit the underlay", SETTLE);
    assert!(logged, "no log line about the MTU: {log}");
    let overhead = if v6 { "plus 56" } else { "plus 36" };
    assert!(
        log.contains(overhead),
        "the log says which MTU to set: {log}"
    );
}

#[test]
fn linux_vtep_unicast() {
    ping_linux("vxu", false, false);
}

#[test]
fn linux_vtep_multicast() {
    ping_linux("vxm", true, false);
}

#[test]
fn linux_vtep_multicast_ipv6() {
    ping_linux("vxm6", true, true);
}

/// Two of our switches over an IPv6 underlay, a tap on each: ping.
#[test]
fn two_switches_ipv6() {
    if skip_reference() {
        return;
    }
    let Some(u) = underlay("vx6", true) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec_a = format!("vni={VNI},local={},remote={}", u.addr_a, u.addr_b);
    let spec_b = format!("vni={VNI},local=[{}],remote=[{}]", u.addr_b, u.addr_a);
    let a = start_ours(&u.a, tmp.path(), "a", &["-t", "vxt0", "--vxlan", &spec_a]);
    let b = start_ours(&u.b, tmp.path(), "b", &["-t", "vxt0", "--vxlan", &spec_b]);
    tap_up(&u.a, "vxt0", "10.88.0.1");
    tap_up(&u.b, "vxt0", "10.88.0.2");
    assert!(
        pings(&u.a, "10.88.0.2"),
        "no ping between our switches over IPv6: {}\n{}",
        a.sw.log(),
        b.sw.log()
    );
    let up = b.uplink();
    assert!(
        up["learned"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["vtep"] == u.addr_a),
        "{up}"
    );
}

/// vdeplug4's `vxlan://` (multicast) in B and a `vde_plug` on our switch in A exchange frames.
#[test]
fn vdeplug4_vxlan_plug() {
    if skip_reference() {
        return;
    }
    let Some(vde_plug) = needs::in_path("vde_plug", "vdeplug") else {
        return;
    };
    let Some(u) = underlay("vxp", false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("vni={VNI},group={GROUP},dev=vA");
    let ours = start_ours(&u.a, tmp.path(), "sw", &["--vxlan", &spec]);
    let url = format!("vxlan://{GROUP}/vni={VNI}/if=vB");
    let mut far = u.b.exec(&[]);
    far.arg(&vde_plug).arg(&url);
    let mut far = Plug::spawn_command(far, &url);
    let mut near = Plug::attach_url(&ours.dir, &ours.dir.display().to_string());

    // Ours to theirs: a broadcast, repeated until vde_plug is listening.
    let hello = eth(BROADCAST, mac(0x11), 0x88b5, &payload(46, 1));
    let deadline = Deadline::after(SETTLE);
    let mut got = None;
    while got.is_none() && !deadline.expired() {
        near.send(&hello);
        got = far.recv_timeout(Duration::from_millis(300));
    }
    assert_eq!(
        got.as_deref(),
        Some(&hello[..]),
        "vde_plug vxlan:// got nothing from our switch: {}; {}",
        far.stderr(),
        ours.sw.log()
    );
    // Theirs to ours: a broadcast, and a unicast frame to a MAC it has not learned (which it
    // sends to the group). Not one to the MAC it learned: vdeplug4 4.0.1 sends those with an
    // empty destination address (sendmsg fails with EDESTADDRREQ, whoever the peer is).
    let reply = eth(BROADCAST, mac(0x22), 0x88b5, &payload(46, 2));
    far.send(&reply);
    near.expect_frame(
        &reply,
        SETTLE,
        "broadcast from vde_plug vxlan:// to our switch",
    );
    let unknown = eth(mac(0x33), mac(0x22), 0x88b5, &payload(46, 3));
    far.send(&unknown);
    near.expect_frame(
        &unknown,
        SETTLE,
        "unicast from vde_plug vxlan:// to our switch",
    );
    let up = ours.uplink();
    assert!(
        up["learned"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["mac"] == "02:00:00:00:00:22" && e["vtep"] == u.addr_b),
        "{up}"
    );
}

/// `vxlan/add`, `vxlan/del` at run time; bad SPECs are refused with what is wrong.
#[test]
fn console_add_and_del() {
    if skip_reference() {
        return;
    }
    let Some(u) = underlay("vxc", false) else {
        return;
    };
    let Some(c) = Netns::new("vxcc") else { return };
    let tmp = tempfile::tempdir().unwrap();
    linux_side(&u.b, &c, &["local", u.addr_b, "remote", u.addr_a]);
    let ours = start_ours(&u.a, tmp.path(), "sw", &["-t", "vxt0"]);
    tap_up(&u.a, "vxt0", "10.88.0.1");

    let bad = ours.cmd("vxlan/add vni=42,local=10.77.0.1");
    assert!(
        bad.contains("missing remote=ADDR") && bad.contains("1022 Invalid argument"),
        "{bad}"
    );
    let absent = ours.cmd("vxlan/add vni=42,local=10.66.0.1,remote=10.77.0.2");
    assert!(
        absent.contains("cannot listen on 10.66.0.1:4789") && absent.contains("1099 "),
        "{absent}"
    );
    let added = ours.cmd(&format!(
        "vxlan/add vni={VNI},local={},remote={}",
        u.addr_a, u.addr_b
    ));
    assert!(added.contains("1000 Success"), "{added}");
    let port: u16 = added
        .split_once("Port ")
        .and_then(|(_, r)| r.get(..4))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {added}"));
    assert!(pings(&u.a, "10.88.0.2"), "no ping after vxlan/add");

    let del = ours.cmd(&format!("vxlan/del {port}"));
    assert!(del.contains("1000 Success"), "{del}");
    assert_eq!(ours.json("vxlan/print")["uplinks"], serde_json::json!([]));
    let again = ours.cmd(&format!("vxlan/del {port}"));
    assert!(again.contains("1006 "), "{again}");
    // The port is free again: the same uplink can be added back.
    let readded = ours.cmd(&format!(
        "vxlan/add vni={VNI},local={},remote={}",
        u.addr_a, u.addr_b
    ));
    assert!(readded.contains("1000 Success"), "{readded}");
}

/// Bad `--vxlan` SPECs stop the switch before it starts, saying what is wrong.
#[test]
fn bad_spec_on_the_command_line() {
    if skip_reference() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(vde_switch_bin())
        .args(["--nostdin", "-s"])
        .arg(tmp.path().join("sw"))
        .args(["--vxlan", "vni=42,group=10.0.0.1,dev=eth0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("group 10.0.0.1 is not a multicast address"),
        "{err}"
    );
    assert!(!tmp.path().join("sw").exists(), "the switch started");
}

/// The wire, seen from two fake VTEPs on the loopback network (no namespace needed): floods go
/// to every remote, a MAC learned behind one remote gets its frames alone, each datagram has
/// the I flag and the VNI, a conversation keeps its UDP source port, and packets of another
/// VNI or without the I flag are dropped and counted, and VLAN membership applies to the uplink.
#[test]
fn head_end_replication_and_learning() {
    use std::net::UdpSocket;
    if skip_reference() {
        return;
    }
    // Two fake VTEPs on one port the kernel picked; the uplink listens on the same port.
    let vtep2 = UdpSocket::bind("127.0.0.2:0").unwrap();
    let port = vtep2.local_addr().unwrap().port();
    let vtep3 = UdpSocket::bind(("127.0.0.3", port)).unwrap();
    for s in [&vtep2, &vtep3] {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    let spec = format!("vni=4242,local=127.0.0.1,port={port},remote=127.0.0.2,remote=127.0.0.3");
    let tmp = tempfile::tempdir().unwrap();
    let mgmt = tmp.path().join("mgmt");
    let sw =
        integration_tests::Switch::with_args(&["-M", mgmt.to_str().unwrap(), "--vxlan", &spec]);
    let mut plug = Plug::attach(&sw);
    let header = [0x08, 0, 0, 0, 0x00, 0x10, 0x92, 0]; // VNI 4242
    let recv = |s: &UdpSocket| -> Option<(Vec<u8>, u16)> {
        let mut buf = [0u8; 2048];
        s.recv_from(&mut buf)
            .ok()
            .map(|(n, from)| (buf[..n].to_vec(), from.port()))
    };

    // A broadcast reaches both remotes, encapsulated.
    let hello = eth(BROADCAST, mac(0x01), 0x88b5, &payload(46, 1));
    plug.send(&hello);
    let (p2, src2) = recv(&vtep2).expect("the flood reached 127.0.0.2");
    let (p3, src3) = recv(&vtep3).expect("the flood reached 127.0.0.3");
    for p in [&p2, &p3] {
        assert_eq!(&p[..8], &header, "VXLAN header");
        assert_eq!(&p[8..], &hello[..], "inner frame");
    }
    assert_eq!(src2, src3, "one frame, one source port");
    assert_ne!(
        src2, port,
        "source ports come from the hash, not the VXLAN port"
    );
    let (_, again) = {
        plug.send(&hello);
        let r = recv(&vtep2).expect("the second flood");
        recv(&vtep3).expect("the second flood");
        r
    };
    assert_eq!(again, src2, "a conversation keeps its source port");

    // 127.0.0.2 speaks for MAC 0x22 (from any source port): the plug gets the frame...
    let mut packet = header.to_vec();
    let from_22 = eth(mac(0x01), mac(0x22), 0x88b5, &payload(46, 2));
    packet.extend_from_slice(&from_22);
    let sender = UdpSocket::bind("127.0.0.2:0").unwrap();
    sender.send_to(&packet, ("127.0.0.1", port)).unwrap();
    plug.expect_frame(&from_22, SETTLE, "from the VTEP 127.0.0.2");
    // ...and frames to 0x22 go to 127.0.0.2 only.
    let to_22 = eth(mac(0x22), mac(0x01), 0x88b5, &payload(46, 3));
    plug.send(&to_22);
    let (p, _) = recv(&vtep2).expect("the known unicast reached its VTEP");
    assert_eq!(&p[8..], &to_22[..]);
    // Something must arrive next at 127.0.0.3: a broadcast, not the unicast before it.
    let bye = eth(BROADCAST, mac(0x01), 0x88b5, &payload(46, 4));
    plug.send(&bye);
    let (p, _) = recv(&vtep3).expect("the broadcast after the unicast");
    assert_eq!(&p[8..], &bye[..], "127.0.0.3 got the unicast for 127.0.0.2");
    assert!(recv(&vtep2).is_some());

    // Another VNI, and no I flag: dropped and counted; the plug sees neither.
    let mut other = packet.clone();
    other[6] ^= 1;
    sender.send_to(&other, ("127.0.0.1", port)).unwrap();
    let mut no_flag = packet.clone();
    no_flag[0] = 0;
    sender.send_to(&no_flag, ("127.0.0.1", port)).unwrap();
    sender.send_to(&packet, ("127.0.0.1", port)).unwrap();
    plug.expect_frame(&from_22, SETTLE, "the valid packet after the two bad ones");
    assert_eq!(plug.recv_timeout(Duration::from_millis(100)), None);
    let up = console_json(&mgmt, "vxlan/print")["uplinks"][0].clone();
    assert_eq!(up["rx"]["dropped"], 2, "{up}");
    assert_eq!(up["rx"]["packets"], 2, "{up}");
    // Two floods of two copies, a unicast, a third flood: each datagram counted once.
    assert_eq!(up["tx"]["packets"], 7, "{up}");
    let text = console(&mgmt, "vxlan/print");
    for line in [
        format!("Port 0001 vxlan {}", up["spec"].as_str().unwrap()),
        " rx 2 packets, 2 dropped (not VXLAN or another VNI)".to_string(),
        " tx 7 packets, 0 too big for the underlay, 0 errors".to_string(),
        "  02:00:00:00:00:22 via 127.0.0.2 age ".to_string(),
    ] {
        assert!(text.contains(&line), "{line:?} not in {text}");
    }

    // VLANs apply to the uplink as to any port: a tagged member of VLAN 10 gets the plug's
    // untagged VLAN-10 broadcast with the tag.
    for cmd in [
        "vlan/create 10".to_string(),
        "vlan/addport 10 1".to_string(),
        format!("port/setvlan {} 10", plug.port),
    ] {
        let answer = console(&mgmt, &cmd);
        assert!(answer.contains("1000 Success"), "{cmd}: {answer}");
    }
    let on_vlan = eth(BROADCAST, mac(0x01), 0x88b5, &payload(46, 5));
    plug.send(&on_vlan);
    let tagged = integration_tests::vlan_tagged(BROADCAST, mac(0x01), 10, 0x88b5, &payload(46, 5));
    for vtep in [&vtep2, &vtep3] {
        let (p, _) = recv(vtep).expect("the VLAN 10 broadcast");
        assert_eq!(&p[8..], &tagged[..], "tagged on the uplink");
    }
}

/// Two of our switches in namespaces A and B over a VXLAN uplink (IPv4 unicast), a stock UML
/// guest on each (`eth0=vde`, booted through umlrun): each pings the other three times.
#[test]
fn uml_guests_ping_over_vxlan() {
    use integration_tests::uml::{Rootfs, RESULT_TAG};
    use integration_tests::umlrun::{unique_umid, Running, Scratch};
    if skip_reference() {
        return;
    }
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let Some(u) = underlay("vxg", false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let spec_a = format!("vni={VNI},local={},remote={}", u.addr_a, u.addr_b);
    let spec_b = format!("vni={VNI},local={},remote={}", u.addr_b, u.addr_a);
    let a = start_ours(&u.a, tmp.path(), "a", &["--vxlan", &spec_a]);
    let b = start_ours(&u.b, tmp.path(), "b", &["--vxlan", &spec_b]);
    let rootfs = Rootfs::build();
    let s = Scratch::new();
    let guest = |name: &str, sw: &Ours, ip: &str, peer: &str| {
        let words = [
            "mem=96M".to_string(),
            format!("umid={}", unique_umid(name)),
            "root=/dev/ubda".into(),
            "rw".into(),
            "init=/init".into(),
            format!("ubd0={name}.cow,{}", rootfs.image.display()),
            format!("eth0=vde,{}", sw.dir.display()),
            format!("VT_NAME={name}"),
            format!("VT_IP={ip}"),
            format!("VT_PEER={peer}"),
        ];
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let mut cmd = s.umlrun(&w);
        cmd.env("UML_KERNEL", &kernel);
        Running::spawn(cmd)
    };
    let mut g1 = guest("h1", &a, "10.0.0.1", "10.0.0.2");
    let mut g2 = guest("h2", &b, "10.0.0.2", "10.0.0.1");
    let deadline = Duration::from_secs(60);
    let r1 = g1.wait_stdout(&format!("{RESULT_TAG} h1 ok 3/3"), deadline);
    let r2 = g2.wait_stdout(&format!("{RESULT_TAG} h2 ok 3/3"), deadline);
    assert!(
        r1 && r2,
        "the guests did not ping each other over VXLAN\n=== h1 ===\n{}\n=== h2 ===\n{}\n=== a ===\n{}\n=== b ===\n{}",
        g1.log(),
        g2.log(),
        a.sw.log(),
        b.sw.log()
    );
    let up = a.uplink();
    assert!(up["rx"]["packets"].as_u64() >= Some(3), "{up}");
    for g in [&mut g1, &mut g2] {
        let _ = g.wait_exit(Duration::from_secs(30));
    }
}
