//! `port/settrunk N 1` (ours): tagged frames of VLANs never created cross two trunk ports
//! unchanged between real `vde_plug` clients, and reach no port that is not a trunk.

use integration_tests::bins::note_reference;
use integration_tests::frame::{vlan_tagged, ETH_P_TEST};
use integration_tests::mgmt::{lossy, Session};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{eth, is_reference, mac, payload, Plug, ARRIVE, BROADCAST};

#[test]
fn tagged_frames_of_never_created_vlans_cross_two_trunks_unchanged() {
    if is_reference() {
        note_reference("port/settrunk is ours (the reference drops them)");
        return;
    }
    let sw = MgmtSwitch::ours();
    let mut a = Plug::attach(&sw.switch);
    let mut b = Plug::attach(&sw.switch);
    let c = Plug::attach(&sw.switch);
    let (mut s, _) = Session::open(&sw.mgmt);
    for p in [a.port, b.port] {
        let answer = lossy(&s.cmd(&format!("port/settrunk {p} 1")));
        assert!(answer.starts_with("1000 Success"), "{answer}");
    }
    for (i, vid) in [100u16, 200].into_iter().enumerate() {
        let i = i as u8;
        let f = vlan_tagged(BROADCAST, mac(0x0a), vid, ETH_P_TEST, &payload(60, i));
        a.send(&f);
        b.expect_frame(&f, ARRIVE, &format!("a's broadcast on VLAN {vid}"));
        let g = vlan_tagged(mac(0x0a), mac(0x0b), vid, ETH_P_TEST, &payload(80, i));
        b.send(&g);
        a.expect_frame(&g, ARRIVE, &format!("b's unicast to a on VLAN {vid}"));
    }
    // c is no trunk: none of those frames; the next it gets is this untagged broadcast.
    let control = eth(BROADCAST, mac(0x0a), ETH_P_TEST, &payload(46, 9));
    a.send(&control);
    c.expect_only(&control, "c got a tagged frame of a VLAN it does not carry");
    b.expect_frame(
        &control,
        ARRIVE,
        "the untagged broadcast on the trunk's own VLAN",
    );

    // No longer trunks: VLAN 100 is dropped again (counted), the control passes.
    lossy(&s.cmd(&format!("port/settrunk {} 0", b.port)));
    let f = vlan_tagged(BROADCAST, mac(0x0a), 100, ETH_P_TEST, &payload(60, 7));
    a.send(&f);
    a.send(&control);
    b.expect_only(&control, "b, no longer a trunk, got VLAN 100");
}
