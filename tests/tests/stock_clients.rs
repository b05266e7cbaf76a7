//! The stock clients the README names, run against our switch: QEMU (`-netdev vde`, an e1000
//! NIC booting its iPXE ROM under TCG) getting a DHCP lease from `slirpvde`; a `wirefilter`
//! cable with a delay between two of our switches; two `vdens` namespaces pinging each other.
//! They share one test binary, so that the slow QEMU boot runs alongside the others.

use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::plug::wait_new_endpoints;
use integration_tests::proc::Spawned;
use integration_tests::switch::data_socket_ids;
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{eth, mac, payload, Plug, Switch, BROADCAST, SETTLE};
use integration_tests::{needs, qemu};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long QEMU under TCG may take to boot its ROM and get a lease (about 20 s on an idle
/// 2-core machine; only a failure waits this long).
const LEASE: Duration = Duration::from_secs(240);

/// QEMU with an e1000 NIC on our switch (`-netdev vde,sock=DIR`), no disk: its iPXE ROM asks for
/// an address by DHCP, and `slirpvde --dhcp` on the same switch gives it the first one of its
/// 10.0.2.0/24 network, with itself as the gateway. iPXE says so on the serial console.
#[test]
fn qemu_gets_a_dhcp_lease_from_slirpvde_through_our_switch() {
    let Some(t) = qemu::tools() else {
        return;
    };
    let sw = MgmtSwitch::ours();
    let dir = sw.switch.dir().to_path_buf();
    let slirp = qemu::slirp(&t, &dir);
    let netdev = format!("vde,id=n0,sock={}", dir.display());
    let mut vm = Spawned::start(&mut qemu::pxe_vm(&t.qemu, &netdev, "52:54:00:12:34:56"));
    let lease = "net0: 10.0.2.15/255.255.255.0 gw 10.0.2.2";
    assert!(
        vm.wait_stdout(lease, LEASE),
        "no DHCP lease within {LEASE:?}\n=== qemu ===\n{}\n=== slirpvde ===\n{}\n=== switch ===\n{}",
        vm.log(),
        slirp.log(),
        sw.switch.stderr()
    );
    // Both went through our switch: it learned the VM's address.
    let (mut s, _) = Session::open(&sw.mgmt);
    let table = lossy(&s.cmd("hash/print"));
    assert!(
        table.contains("Addr: 52:54:00:12:34:56 VLAN 0000"),
        "{table}"
    );
}

/// A `wirefilter` cable (`wirefilter -v A:B -d 300`) between two of our switches: frames cross
/// both ways, byte for byte, and none faster than the 300 ms delay the cable adds (less 10 ms
/// for the rounding of its clock).
#[test]
fn frames_cross_a_wirefilter_cable_with_its_delay() {
    let Some(wirefilter) = needs::program("/usr/bin/wirefilter", "vde-wirefilter") else {
        return;
    };
    let s1 = Switch::start();
    let s2 = Switch::start();
    let (before1, before2) = (data_socket_ids(s1.dir()), data_socket_ids(s2.dir()));
    // Without --daemon, wirefilter quits at the end of its stdin: it stays open.
    let mut cable = Spawned::start_with_open_stdin(
        Command::new(wirefilter)
            .arg("-v")
            .arg(format!("{}:{}", s1.dir().display(), s2.dir().display()))
            .args(["-d", "300"]),
    );
    assert!(
        wait_new_endpoints(&[(s1.dir(), before1), (s2.dir(), before2)]),
        "wirefilter did not attach to both switches\n{}",
        cable.log()
    );
    // The cable's delay, less a little for the millisecond rounding of wirefilter's clock.
    let delay = Duration::from_millis(290);
    let mut a = Plug::attach(&s1);
    let mut b = Plug::attach(&s2);
    let (ma, mb) = (mac(0xa7), mac(0xb7));
    let crossings = [
        (true, eth(BROADCAST, ma, ETH_P_TEST, &payload(46, 1))),
        (false, eth(BROADCAST, mb, ETH_P_TEST, &payload(46, 2))),
        (true, eth(mb, ma, ETH_P_TEST, &payload(1500, 3))),
        (false, eth(ma, mb, ETH_P_TEST, &payload(200, 4))),
    ];
    for (i, (forth, f)) in crossings.iter().enumerate() {
        let (from, to) = if *forth { (&mut a, &b) } else { (&mut b, &a) };
        let t0 = Instant::now();
        from.send(f);
        to.expect_frame(f, SETTLE, &format!("frame {i} across the wirefilter cable"));
        let took = t0.elapsed();
        assert!(
            took >= delay,
            "frame {i} crossed in {took:?}, faster than the cable's delay"
        );
    }
    assert!(cable.is_running(), "{}", cable.log());
}

/// Two `vdens` network namespaces on our switch (`vdens vde://DIR CMD`): each configures its
/// `vde0`, and one pings the other. The switch shows both as vdens clients.
#[test]
fn two_vdens_namespaces_ping_through_our_switch() {
    let Some(vdens) = needs::in_path("vdens", "vdens") else {
        return;
    };
    let Some(busybox) = needs::program("/bin/busybox", "busybox-static") else {
        return;
    };
    let busybox = busybox.display().to_string();
    let sw = MgmtSwitch::ours();
    let url = format!("vde://{}", sw.switch.dir().display());
    let mut peer = Spawned::start_with_open_stdin(Command::new(&vdens).args([
        &url,
        "sh",
        "-c",
        "ip addr add 10.11.0.2/24 dev vde0 && ip link set vde0 up && echo PEER-READY && exec sleep 300",
    ]));
    assert!(
        peer.wait_stdout("PEER-READY", SETTLE),
        "the peer namespace did not come up\n{}",
        peer.log()
    );
    // The first pings may go before ARP is done: try one at a time, then three for the count.
    // The outcome is read from the output, not from vdens's exit: vdens was once seen (under
    // load) not to exit after its command had.
    let script = format!(
        "ip addr add 10.11.0.1/24 dev vde0 && ip link set vde0 up || exit 2; \
         i=0; until {busybox} ping -c 1 -W 2 10.11.0.2 >/dev/null; do \
         i=$((i+1)); [ $i -ge 20 ] && break; done; \
         {busybox} ping -c 3 -W 5 10.11.0.2; echo \"PING-EXIT $?\"; exec sleep 300"
    );
    let mut pinger = Spawned::start_with_open_stdin(Command::new(&vdens).args([
        url.as_str(),
        "sh",
        "-c",
        &script,
    ]));
    assert!(
        pinger.wait_stdout("PING-EXIT ", Duration::from_secs(120)),
        "ping from one vdens to the other did not finish\n{}\n=== peer ===\n{}",
        pinger.log(),
        peer.log()
    );
    let out = pinger.out.text();
    assert!(
        out.contains("3 packets transmitted, 3 packets received") && out.contains("PING-EXIT 0"),
        "{}",
        pinger.log()
    );
    // Both are on our switch as vdens clients (their own description).
    let (mut s, _) = Session::open(&sw.mgmt);
    let ports = lossy(&s.cmd("port/print"));
    assert_eq!(ports.matches("prog   : vdens user=").count(), 2, "{ports}");
    assert!(peer.is_running(), "{}", peer.log());
}
