//! Topology changes and the MAC table, with real `vde_plug` clients: a host that only receives
//! (a UDP sink, a capture VM) stays learned when another client attaches, so unicast to it is
//! not flooded to every port. The reference flushes the table whenever a port comes up and
//! floods from then on; the same scenario is run against it to show that (a deliberate
//! difference, listed in the README). A client leaving removes only its own entries.

use integration_tests::frame::ETH_P_TEST;
use integration_tests::{
    eth, is_reference, mac, payload, wait_until, Plug, Switch, ARRIVE, BROADCAST, SETTLE,
};

/// `sink` sent one frame long ago (so it was learned) and only receives since; `other` is
/// a bystander. After `newcomer` attaches, `sender`'s unicast to the sink must reach the sink
/// only, unless `floods` (the reference): then the bystander gets it too.
fn receive_only_host_after_a_client_attaches(sw: &Switch, floods: bool) {
    let mut sender = Plug::attach(sw);
    let mut sink = Plug::attach(sw);
    let other = Plug::attach(sw);
    let (ms, mk) = (mac(0x51), mac(0x52));

    // The sink speaks once (an ARP reply, say): learned on its port.
    let hello = eth(BROADCAST, mk, ETH_P_TEST, &payload(46, 1));
    sink.send(&hello);
    sender.expect_frame(&hello, ARRIVE, "the sink's one frame");
    other.expect_frame(&hello, ARRIVE, "the sink's one frame (bystander)");
    // The sender is learned too (its marker broadcasts come from it).
    let u1 = eth(mk, ms, ETH_P_TEST, &payload(200, 2));
    sender.send(&u1);
    sink.expect_frame(&u1, ARRIVE, "unicast to the sink before the newcomer");
    let marker1 = eth(BROADCAST, ms, ETH_P_TEST, &payload(46, 3));
    sender.send(&marker1);
    other.expect_only(
        &marker1,
        "unicast to the sink leaked before any topology change",
    );
    sink.expect_frame(&marker1, ARRIVE, "marker at the sink");

    // Another client attaches (and says nothing).
    let newcomer = Plug::attach(sw);

    let u2 = eth(mk, ms, ETH_P_TEST, &payload(200, 4));
    sender.send(&u2);
    sink.expect_frame(&u2, ARRIVE, "unicast to the sink after the newcomer");
    let marker2 = eth(BROADCAST, ms, ETH_P_TEST, &payload(46, 5));
    sender.send(&marker2);
    if floods {
        other.expect_frame(&u2, ARRIVE, "the reference floods to the bystander");
        newcomer.expect_frame(&u2, ARRIVE, "the reference floods to the newcomer");
    }
    other.expect_only(
        &marker2,
        "unicast to a learned sink flooded after a client attached",
    );
    newcomer.expect_only(
        &marker2,
        "unicast to a learned sink flooded to the newcomer",
    );
    sink.expect_frame(&marker2, ARRIVE, "second marker at the sink");

    // A client leaving removes its own entries only: the sink stays learned.
    drop(newcomer);
    // The switch removes the data socket of a client that left.
    assert!(
        wait_until(SETTLE, || sw.data_sockets().len() == 3),
        "the newcomer's port did not close: {:?}",
        sw.data_sockets()
    );
    let u3 = eth(mk, ms, ETH_P_TEST, &payload(200, 6));
    sender.send(&u3);
    sink.expect_frame(&u3, ARRIVE, "unicast to the sink after a client left");
    let marker3 = eth(BROADCAST, ms, ETH_P_TEST, &payload(46, 7));
    sender.send(&marker3);
    if floods {
        other.expect_frame(&u3, ARRIVE, "the reference floods after a client left");
    }
    other.expect_only(&marker3, "unicast to the sink flooded after a client left");
}

#[test]
fn a_receive_only_host_stays_learned_when_a_client_attaches() {
    let sw = Switch::start();
    // Pointed at the reference (VDE_SWITCH_BIN), the test expects its flood.
    receive_only_host_after_a_client_attaches(&sw, is_reference());
}

#[test]
fn the_reference_floods_to_a_receive_only_host_after_a_client_attaches() {
    let sw = Switch::reference_builder().start();
    receive_only_host_after_a_client_attaches(&sw, true);
}
