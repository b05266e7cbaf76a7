//! A `dpipe vde_plug OURS = vde_plug REF` cable between the switch under test and the reference
//! `/usr/bin/vde_switch`; plugs on each side exchange frames both ways.

use integration_tests::frame::ETH_P_TEST;
use integration_tests::{eth, mac, payload, Cable, Plug, Switch, ARRIVE, BROADCAST};

#[test]
fn frames_cross_a_dpipe_cable_to_the_reference_switch_both_ways() {
    let ours = Switch::start();
    let reference = Switch::reference_builder().start();
    let _cable = Cable::connect(ours.dir(), reference.dir());

    let mut a = Plug::attach(&ours);
    let a2 = Plug::attach(&ours);
    let mut b = Plug::attach(&reference);
    let (ma, mb) = (mac(0xa1), mac(0xb1));

    // Broadcast both ways (also teaches both switches where ma and mb are).
    let f = eth(BROADCAST, ma, ETH_P_TEST, &payload(46, 1));
    a.send(&f);
    b.expect_frame(&f, ARRIVE, "broadcast ours -> reference");
    a2.expect_frame(&f, ARRIVE, "broadcast on ours' other port");
    let g = eth(BROADCAST, mb, ETH_P_TEST, &payload(46, 2));
    b.send(&g);
    a.expect_frame(&g, ARRIVE, "broadcast reference -> ours");
    a2.expect_frame(&g, ARRIVE, "broadcast reference -> ours (other port)");

    // Unicast both ways, byte-identical, and only to the right port.
    let u = eth(mb, ma, ETH_P_TEST, &payload(100 - 14, 3));
    a.send(&u);
    b.expect_frame(&u, ARRIVE, "unicast ours -> reference");
    let v = eth(ma, mb, ETH_P_TEST, &payload(1500, 4));
    b.send(&v);
    a.expect_frame(&v, ARRIVE, "unicast reference -> ours (1514 bytes)");
    // Neither unicast may have reached ours' other port: the next frame there is a broadcast
    // sent after both were delivered.
    let control = eth(BROADCAST, ma, ETH_P_TEST, &payload(46, 5));
    a.send(&control);
    a2.expect_only(&control, "a unicast leaked to another port of ours");
    b.expect_frame(&control, ARRIVE, "broadcast ours -> reference");
}
