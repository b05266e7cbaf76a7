//! Properties of the forwarding fabric (`docs/vde-switch.md` §3: ports, hub, switch mode, MAC
//! table, VLANs).
//!
//! * `random_operations` / `random_fuzz_inputs`: random sequences of
//!   operations run through the model shared with the `fabric` fuzz target
//!   (the `vde-fabric-model` crate), which checks after every op the exact
//!   forwarding decision, learning, counters and the consistency of ports, VLANs
//!   and MAC table against the reference's rules.
//! * Deterministic properties: unicast after learning, broadcast coverage,
//!   detaching, a full MAC table, VLAN isolation.
//! * Fabric bugs found with the fuzz target stay as regression tests once fixed.

use fabric_model::{
    decode, tag, Choice, Delivery, FrameKind, Harness, InPort, Op, Setup, Tagging, ODD_NUMPORTS,
    ODD_PORTS, ODD_VLANS, TICKS,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use vdeswitch::fabric::{
    Credentials, Endpoint, EndpointId, Fabric, MacTimers, PortChoice, PortId, VlanId,
};

// ------------------------------------------------------------ random sequences

fn port() -> impl Strategy<Value = i64> {
    prop_oneof![
        5 => 0i64..8,
        4 => 0i64..20,
        1 => prop::sample::select(ODD_PORTS.to_vec()),
    ]
}

fn vlan() -> impl Strategy<Value = i64> {
    prop_oneof![9 => 0i64..5, 1 => prop::sample::select(ODD_VLANS.to_vec())]
}

fn frame_kind() -> BoxedStrategy<FrameKind> {
    prop_oneof![
        3 => (prop_oneof![Just(0x0800u16), any::<u16>()], any::<u8>())
            .prop_map(|(ethertype, payload)| FrameKind::Untagged { ethertype, payload }),
        2 => (
            prop_oneof![3 => (0u16..5, 0u16..8).prop_map(|(v, pcp)| v | pcp << 13), 1 => any::<u16>()],
            any::<u8>()
        )
            .prop_map(|(tci, payload)| FrameKind::Tagged { tci, payload }),
        1 => (0u8..4).prop_map(FrameKind::TruncatedTag),
        1 => (0u8..14).prop_map(FrameKind::Short),
        1 => prop::collection::vec(any::<u8>(), 0..48).prop_map(FrameKind::Raw),
    ]
    .boxed()
}

fn op() -> BoxedStrategy<Op> {
    let choice = prop_oneof![
        5 => Just(Choice::Any),
        1 => Just(Choice::Port0),
        2 => port().prop_map(Choice::Port),
    ];
    let in_port = prop_oneof![
        15 => any::<u8>().prop_map(InPort::Active),
        1 => port().prop_map(InPort::Stray),
    ];
    let numports = prop_oneof![
        8 => 1i64..25,
        1 => prop::sample::select(ODD_NUMPORTS.to_vec()),
    ];
    let timer = prop::sample::select(fabric_model::TIMER_VALUES.to_vec());
    prop_oneof![
        4 => (choice, any::<u8>()).prop_map(|(choice, who)| Op::Attach { choice, who }),
        2 => any::<u8>().prop_map(Op::Detach),
        1 => (port(), 0u32..64).prop_map(|(port, id)| Op::DetachBogus { port, id }),
        1 => port().prop_map(Op::CreatePort),
        1 => Just(Op::CreatePortAuto),
        1 => port().prop_map(Op::RemovePort),
        2 => (port(), vlan()).prop_map(|(p, v)| Op::SetPortVlan(p, v)),
        2 => vlan().prop_map(Op::VlanCreate),
        1 => vlan().prop_map(Op::VlanRemove),
        2 => (vlan(), port()).prop_map(|(v, p)| Op::VlanAddport(v, p)),
        1 => (vlan(), port()).prop_map(|(v, p)| Op::VlanDelport(v, p)),
        1 => prop::bool::weighted(0.2).prop_map(Op::SetHub),
        1 => numports.prop_map(Op::SetNumports),
        1 => (port(), any::<bool>()).prop_map(|(p, y)| Op::SetAllocatable(p, y)),
        2 => (port(), prop::bool::weighted(0.7)).prop_map(|(p, y)| Op::SetTrunk(p, y)),
        1 => (port(), any::<u8>(), any::<u8>())
            .prop_map(|(port, user, group)| Op::SetAcl { port, user, group }),
        1 => prop::option::of(port()).prop_map(Op::ResetCounters),
        1 => timer.clone().prop_map(Op::SetExpire),
        1 => timer.prop_map(Op::SetMinPersistence),
        1 => prop::sample::select(fabric_model::HASH_SIZES.to_vec()).prop_map(Op::SetHashBuckets),
        1 => Just(Op::FlushAll),
        2 => prop_oneof![3 => 0u64..5, 1 => prop::sample::select(TICKS.to_vec())].prop_map(Op::Tick),
        1 => Just(Op::Expire),
        2 => (vlan(), port(), prop::bool::weighted(0.7)).prop_map(|(v, p, on)| Op::SetDiscarding(v, p, on)),
        1 => vlan().prop_map(Op::FlushVlan),
        12 => (in_port, any::<u8>(), any::<u8>(), frame_kind())
            .prop_map(|(port, dst, src, kind)| Op::Frame { port, dst, src, kind }),
    ]
    .boxed()
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        1usize..=24,
        prop::bool::weighted(0.15),
        prop::sample::select(vec![1usize, 2, 16, 128]),
        prop::sample::select(vec![1usize, 2, 3, 5, 8, 1024]),
    )
        .prop_map(|(numports, hub, buckets, max_macs)| Setup {
            numports,
            hub,
            buckets,
            max_macs,
        })
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Do not write regression files into the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Every op keeps the fabric consistent and every frame is forwarded,
    /// learned and counted as the reference does.
    #[test]
    fn random_operations(setup in setup(), ops in prop::collection::vec(op(), 0..200)) {
        Harness::run(setup, &ops);
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// The fuzz target's own decoder on random bytes.
    #[test]
    fn random_fuzz_inputs(data in prop::collection::vec(any::<u8>(), 0..1500)) {
        let (setup, ops) = decode(&data);
        Harness::run(setup, &ops);
    }
}

/// Replay a fuzz input: `FABRIC_INPUT=fuzz/artifacts/fabric/crash-… cargo test
/// -p vde-switch --test fabric_properties replay_fuzz_input -- --ignored --nocapture`
/// prints the decoded ops and runs them.
#[test]
#[ignore = "needs FABRIC_INPUT"]
fn replay_fuzz_input() {
    let path = std::env::var("FABRIC_INPUT").expect("FABRIC_INPUT=<fuzz input file>");
    let data = std::fs::read(&path).expect("read FABRIC_INPUT");
    let (setup, ops) = decode(&data);
    println!("{setup:?}");
    for op in &ops {
        println!("  {op:?}");
    }
    Harness::run(setup, &ops);
}

// ------------------------------------------------------- deterministic properties

fn ep(id: EndpointId) -> Endpoint {
    Endpoint {
        id,
        module: "unix prog",
        description: String::new(),
    }
}

fn root() -> Credentials {
    Credentials {
        uid: Some(0),
        gids: vec![0],
    }
}

fn mac(i: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0x10, i]
}

const BCAST: [u8; 6] = [0xff; 6];
const MCAST: [u8; 6] = [0x01, 0x00, 0x5e, 0, 0, 0x01];

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = [dst, src].concat();
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0x42; 46]);
    f
}

fn tagged(dst: [u8; 6], src: [u8; 6], vid: u16) -> Vec<u8> {
    let mut f = [dst, src].concat();
    f.extend_from_slice(&[0x81, 0x00, (vid >> 8) as u8, vid as u8, 0x08, 0x00]);
    f.extend_from_slice(&[0x42; 46]);
    f
}

fn p(n: usize) -> PortId {
    PortId::from_index(n).unwrap()
}

fn v(n: u16) -> VlanId {
    VlanId::new(n).unwrap()
}

fn attach(f: &mut Fabric, choice: PortChoice, id: EndpointId) -> Result<usize, String> {
    f.attach(choice, &root(), ep(id))
        .map(PortId::index)
        .map_err(|e| e.to_string())
}

/// A switch with ports 1..=n active (one endpoint each, id = port).
fn switch(numports: usize, n: usize, max_macs: usize) -> Fabric {
    let mut f = Fabric::new(numports, false, 128, max_macs);
    for i in 1..=n {
        assert_eq!(attach(&mut f, PortChoice::Any, i as u32), Ok(i));
    }
    f
}

/// The copies of a frame, as the model writes them (plain port and VLAN numbers).
fn forward(f: &mut Fabric, port: usize, data: &[u8], now: u64) -> Vec<Delivery> {
    let mut out = Vec::new();
    f.forward(p(port), data, now, &mut out);
    out.iter().map(Delivery::from).collect()
}

fn ports_of(out: &[Delivery]) -> Vec<usize> {
    out.iter().map(|d| d.port).collect()
}

fn untagged_vlan(f: &Fabric, port: usize) -> u16 {
    f.port(p(port))
        .map_or(VlanId::NONE, |p| p.untagged_vlan)
        .get()
}

fn is_member(f: &Fabric, port: usize, vid: u16) -> bool {
    untagged_vlan(f, port) == vid || f.vlan(v(vid)).is_some_and(|v| v.tagged.contains(p(port)))
}

fn lookup(f: &Fabric, m: [u8; 6], vid: u16) -> Option<usize> {
    f.macs().lookup(m.into(), v(vid)).map(PortId::index)
}

/// Port 0 to 8: 1..=4 untagged on VLAN 0; 5, 6 untagged on VLAN 5; 7 untagged
/// on VLAN 0 and tagged on 5 and 6; 8 has no untagged VLAN, tagged on 5;
/// 0 (the management port) untagged on 0; 9 inactive on VLAN 5; 10 inactive
/// and tagged on 5.
fn vlan_switch() -> Fabric {
    let mut f = switch(16, 8, 1024);
    assert_eq!(attach(&mut f, PortChoice::Port0, 100), Ok(0));
    f.vlan_create(v(5)).unwrap();
    f.vlan_create(v(6)).unwrap();
    f.set_port_vlan(p(5), v(5)).unwrap();
    f.set_port_vlan(p(6), v(5)).unwrap();
    f.vlan_addport(v(5), p(7)).unwrap();
    f.vlan_addport(v(6), p(7)).unwrap();
    f.set_port_vlan(p(8), VlanId::NONE).unwrap();
    f.vlan_addport(v(5), p(8)).unwrap();
    f.create_port(p(9)).unwrap();
    f.set_port_vlan(p(9), v(5)).unwrap();
    f.create_port(p(10)).unwrap();
    f.vlan_addport(v(5), p(10)).unwrap();
    f
}

/// What the reference sends for a flooded frame in `vid` from `in_port`:
/// every other active member once, untagged to untagged members and tagged
/// to tagged ones; same tag-ness first, ascending.
fn flood(f: &Fabric, in_port: usize, vid: u16, tagged_in: bool) -> Vec<Delivery> {
    let mut want = Vec::new();
    for to_tagged in [tagged_in, !tagged_in] {
        for (p, port) in f.ports() {
            let p = p.index();
            if p == in_port || !port.is_active() || !is_member(f, p, vid) {
                continue;
            }
            if (port.untagged_vlan.get() != vid) == to_tagged {
                let tagging = match (tagged_in, to_tagged) {
                    (true, false) => Tagging::Untag,
                    (false, true) => tag(vid),
                    _ => Tagging::AsIs,
                };
                want.push(Delivery { port: p, tagging });
            }
        }
    }
    want
}

#[test]
fn learning_then_unicast_reaches_only_its_port() {
    let mut f = switch(16, 6, 1024);
    // Every port announces its own address.
    for p in 1..=6 {
        let out = forward(&mut f, p, &frame(BCAST, mac(p as u8)), 1);
        assert_eq!(out.len(), 5);
        assert_eq!(lookup(&f, mac(p as u8), 0), Some(p));
    }
    for a in 1..=6usize {
        for b in 1..=6usize {
            let out = forward(&mut f, a, &frame(mac(b as u8), mac(a as u8)), 2);
            if a == b {
                assert!(out.is_empty(), "unicast to its own port is dropped");
            } else {
                assert_eq!(
                    out,
                    vec![Delivery {
                        port: b,
                        tagging: Tagging::AsIs
                    }],
                    "{a} -> {b}"
                );
            }
        }
    }
    // Across tag-ness: access port 7 and trunk port 8 on VLAN 5.
    assert_eq!(attach(&mut f, PortChoice::Any, 7), Ok(7));
    assert_eq!(attach(&mut f, PortChoice::Any, 8), Ok(8));
    f.vlan_create(v(5)).unwrap();
    f.set_port_vlan(p(7), v(5)).unwrap();
    f.vlan_addport(v(5), p(8)).unwrap();
    forward(&mut f, 7, &frame(BCAST, mac(7)), 3);
    forward(&mut f, 8, &tagged(BCAST, mac(8), 5), 3);
    let out = forward(&mut f, 7, &frame(mac(8), mac(7)), 4);
    assert_eq!(
        out,
        vec![Delivery {
            port: 8,
            tagging: tag(5)
        }]
    );
    let out = forward(&mut f, 8, &tagged(mac(7), mac(8), 5), 4);
    assert_eq!(
        out,
        vec![Delivery {
            port: 7,
            tagging: Tagging::Untag
        }]
    );
    // The same address in another VLAN is another entry: unknown there, flooded
    // in VLAN 0 (port 8 is still untagged on it, port 7 no longer is).
    let out = forward(&mut f, 1, &frame(mac(7), mac(1)), 4);
    assert_eq!(ports_of(&out), vec![2, 3, 4, 5, 6, 8]);
}

#[test]
fn broadcast_reaches_every_other_active_member_once() {
    let mut f = vlan_switch();
    let frames: [(Option<u16>, [u8; 6]); 8] = [
        (None, BCAST),
        (None, MCAST),
        (Some(0), BCAST),
        (Some(5), BCAST),
        (Some(5), MCAST),
        (Some(6), BCAST),
        (Some(7), BCAST),
        (Some(4094), BCAST),
    ];
    let mut now = 0;
    for in_port in 0..=8 {
        for (i, (tag, dst)) in frames.iter().enumerate() {
            now += 1;
            let src = mac(0x80 | i as u8);
            let data = match tag {
                Some(v) => tagged(*dst, src, *v),
                None => frame(*dst, src),
            };
            let out = forward(&mut f, in_port, &data, now);
            let vid = tag.unwrap_or(untagged_vlan(&f, in_port));
            let admitted = f.vlan(v(vid)).is_some() && is_member(&f, in_port, vid);
            let want = if admitted {
                flood(&f, in_port, vid, tag.is_some())
            } else {
                Vec::new()
            };
            assert_eq!(out, want, "port {in_port} frame {tag:?} {dst:02x?}");
            let mut seen = ports_of(&out);
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), out.len(), "a port got two copies: {out:?}");
            if admitted {
                // Completeness in plain words: every other active member is in.
                for (p, port) in f.ports() {
                    let p = p.index();
                    if p != in_port && port.is_active() && is_member(&f, p, vid) {
                        assert!(seen.contains(&p), "member {p} missed: {out:?}");
                    }
                }
            }
        }
    }
    // Spot checks of the construction.
    let out = forward(&mut f, 5, &frame(BCAST, mac(1)), now);
    assert_eq!(
        out,
        vec![
            Delivery {
                port: 6,
                tagging: Tagging::AsIs
            },
            Delivery {
                port: 7,
                tagging: tag(5)
            },
            Delivery {
                port: 8,
                tagging: tag(5)
            },
        ]
    );

    // Hub mode: every allocated port but port 0 and the input, unchanged.
    f.set_hub(true);
    for in_port in 0..=10 {
        let out = forward(&mut f, in_port, &tagged(BCAST, mac(1), 6), now);
        let want: Vec<usize> = f
            .ports()
            .map(|(p, _)| p.index())
            .filter(|&p| p != 0 && p != in_port)
            .collect();
        assert_eq!(ports_of(&out), want);
        assert!(out.iter().all(|d| d.tagging == Tagging::AsIs));
    }
}

#[test]
fn detaching_the_last_endpoint_removes_the_port_macs() {
    let mut f = switch(16, 3, 1024);
    assert_eq!(attach(&mut f, PortChoice::Port(1), 11), Ok(1));
    f.vlan_create(v(5)).unwrap();
    f.vlan_addport(v(5), p(1)).unwrap();
    f.vlan_addport(v(5), p(2)).unwrap();
    let learn = |f: &mut Fabric| {
        forward(f, 1, &frame(BCAST, mac(1)), 10);
        forward(f, 1, &frame(BCAST, mac(0x11)), 10);
        forward(f, 1, &tagged(BCAST, mac(1), 5), 10);
        forward(f, 2, &frame(BCAST, mac(2)), 10);
    };
    learn(&mut f);
    let on_port = |f: &Fabric, port: usize| {
        f.macs()
            .entries_in_print_order()
            .iter()
            .filter(|e| e.3.port == p(port))
            .count()
    };
    assert_eq!(on_port(&f, 1), 3);

    // One of two endpoints leaves: the port stays active, its entries stay.
    f.detach(p(1), 11).unwrap();
    assert!(f.port(p(1)).unwrap().is_active());
    assert_eq!(on_port(&f, 1), 3);
    assert_eq!(
        ports_of(&forward(&mut f, 2, &frame(mac(1), mac(2)), 11)),
        vec![1]
    );

    // The last one leaves: every entry of port 1 goes, in every VLAN.
    f.detach(p(1), 1).unwrap();
    assert!(!f.port(p(1)).unwrap().is_active());
    assert_eq!(on_port(&f, 1), 0);
    assert_eq!(lookup(&f, mac(1), 0), None);
    assert_eq!(lookup(&f, mac(1), 5), None);
    // Unicast to the departed address floods, and not to the inactive port.
    assert_eq!(
        ports_of(&forward(&mut f, 2, &frame(mac(1), mac(2)), 12)),
        vec![3]
    );
    assert_eq!(
        ports_of(&forward(&mut f, 2, &tagged(mac(0x11), mac(2), 5), 12)),
        Vec::<usize>::new()
    );

    // A new client on the port does not inherit the old addresses.
    assert_eq!(attach(&mut f, PortChoice::Any, 21), Ok(1));
    assert_eq!(on_port(&f, 1), 0);
    assert_eq!(
        ports_of(&forward(&mut f, 3, &frame(mac(0x11), mac(3)), 13)),
        vec![1, 2]
    );
}

#[test]
fn a_full_mac_table_still_forwards_frames_from_unknown_sources() {
    let mut f = switch(8, 4, 2);
    forward(&mut f, 1, &frame(BCAST, mac(1)), 1);
    forward(&mut f, 2, &frame(BCAST, mac(2)), 1);
    assert_eq!(f.macs().len(), 2);

    // Unknown source, table full: flooded all the same, not learned.
    let out = forward(&mut f, 3, &frame(BCAST, mac(3)), 2);
    assert_eq!(ports_of(&out), vec![1, 2, 4]);
    assert_eq!(f.macs().len(), 2);
    assert_eq!(lookup(&f, mac(3), 0), None);
    assert_eq!(f.port(p(3)).unwrap().counters.unlearned, 1);
    assert_eq!(f.unlearned_total(), 1);

    // Unknown source to a known destination: exactly that port.
    let out = forward(&mut f, 3, &frame(mac(1), mac(3)), 2);
    assert_eq!(ports_of(&out), vec![1]);
    // Frames to the unlearned address are flooded, to every other port.
    let out = forward(&mut f, 1, &frame(mac(3), mac(1)), 2);
    assert_eq!(ports_of(&out), vec![2, 3, 4]);
    assert_eq!(f.port(p(3)).unwrap().counters.unlearned, 2);
    assert_eq!(f.macs().len(), 2);

    // Known sources are still refreshed and may move.
    forward(&mut f, 4, &frame(BCAST, mac(2)), 10);
    assert_eq!(lookup(&f, mac(2), 0), Some(4));
    assert_eq!(f.macs().len(), 2);
    assert!(f.macs().len() <= f.macs().capacity());
}

#[test]
fn vlan_isolation() {
    let mut f = vlan_switch();
    let dsts = [BCAST, MCAST, mac(1), mac(5), mac(7), mac(8), mac(0x99)];
    let tags = [None, Some(0), Some(5), Some(6), Some(7)];
    let mut now = 0;
    // Two rounds: the first learns, the second hits known destinations.
    for _round in 0..2 {
        for in_port in 0..=8usize {
            for dst in dsts {
                for tag in tags {
                    now += 1;
                    let src = mac(in_port as u8);
                    let data = match tag {
                        Some(v) => tagged(dst, src, v),
                        None => frame(dst, src),
                    };
                    let out = forward(&mut f, in_port, &data, now);
                    let vid = tag.unwrap_or(untagged_vlan(&f, in_port));
                    if !is_member(&f, in_port, vid) || f.vlan(v(vid)).is_none() {
                        assert!(
                            out.is_empty(),
                            "port {in_port} is not in VLAN {vid}: {out:?}"
                        );
                        continue;
                    }
                    for d in &out {
                        assert!(
                            is_member(&f, d.port, vid),
                            "VLAN {vid} frame from {in_port} leaked to port {}",
                            d.port
                        );
                        // Untagged copies only to the VLAN's access ports,
                        // tagged ones carry the frame's VLAN.
                        let tagged_out = match d.tagging {
                            Tagging::AsIs => tag.is_some(),
                            Tagging::Untag => false,
                            Tagging::Tag(v) => {
                                assert_eq!(v.get(), vid);
                                true
                            }
                        };
                        assert_eq!(
                            tagged_out,
                            untagged_vlan(&f, d.port) != vid,
                            "wrong tag-ness to port {}",
                            d.port
                        );
                    }
                }
            }
        }
    }
    // An address learned in VLAN 0 is unknown in VLAN 5: no shortcut across.
    let out = forward(&mut f, 5, &frame(mac(1), mac(5)), now);
    assert_eq!(ports_of(&out), vec![6, 7, 8]);
    // Port 1 (VLAN 0 only) never hears VLAN 5, even for its own address.
    assert!(!ports_of(&out).contains(&1));
}

// ------------------------------------------------------------ known fabric bugs

/// Found by the `fabric` fuzz target, fixed in 678ed79: `vlan/addport V P`
/// where V is the port's own untagged VLAN made floods reach P twice, once
/// untagged and once tagged. As in the reference (`vlanaddport` sets no
/// tagged-broadcast bit when `vlanuntag == vlan`), P gets one untagged copy.
#[test]
fn a_port_tagged_on_its_untagged_vlan_gets_one_copy() {
    let mut f = switch(4, 2, 1024);
    f.vlan_addport(v(0), p(2)).unwrap();
    let out = forward(&mut f, 1, &frame(BCAST, mac(1)), 0);
    assert_eq!(
        out,
        vec![Delivery {
            port: 2,
            tagging: Tagging::AsIs
        }]
    );
    let out = forward(&mut f, 1, &tagged(BCAST, mac(1), 0), 0);
    assert_eq!(
        out,
        vec![Delivery {
            port: 2,
            tagging: Tagging::Untag
        }]
    );
}

/// Found by the `fabric` fuzz target, fixed in 678ed79: `port/setvlan P V` for
/// a port that is a tagged member of V made floods in V reach it twice (the
/// reference's `portsetvlan` clears the tagged-broadcast bit of the new VLAN).
#[test]
fn setvlan_to_a_vlan_the_port_is_tagged_on_gives_one_copy() {
    let mut f = switch(4, 2, 1024);
    f.vlan_create(v(5)).unwrap();
    f.set_port_vlan(p(1), v(5)).unwrap();
    f.vlan_addport(v(5), p(2)).unwrap();
    f.set_port_vlan(p(2), v(5)).unwrap();
    let out = forward(&mut f, 1, &frame(BCAST, mac(1)), 0);
    assert_eq!(
        out,
        vec![Delivery {
            port: 2,
            tagging: Tagging::AsIs
        }]
    );
}

/// Found by the `fabric` fuzz target (fixed): `MacTable::expire` computed
/// `last_seen as i64 + expire`, which overflows for a huge expiry. The console
/// stores `hash/setexpire`'s saturating `atoi` as is, so
/// `hash/setexpire 9223372036854775807` and the next GC panic in a debug build
/// ("attempt to add with overflow") and, in a release build, wrap around and
/// expire every entry instead of none.
#[test]
fn huge_expire_does_not_overflow() {
    let mut f = switch(4, 2, 1024);
    forward(&mut f, 1, &frame(BCAST, mac(1)), 1);
    f.set_mac_timers(MacTimers {
        expire: i64::MAX,
        ..f.macs().timers()
    });
    f.expire_macs(2);
    assert_eq!(lookup(&f, mac(1), 0), Some(1));
}

/// Found while choosing the model's numbers (fixed): `set_numports` had no upper
/// bound, and the console passed its saturating `atoi` straight in, so
/// `port/setnumports 9223372036854775807` panics ("capacity overflow") and
/// `port/setnumports 100000000000` aborts on a failed allocation: either kills
/// the switch. The reference's `int` argument makes such values negative or
/// small (glibc `atoi` of an out-of-range value gives `(int)LONG_MAX` = -1),
/// so it answers EINVAL instead. The fuzz model keeps to sizes that fit
/// (`ODD_NUMPORTS`).
#[test]
fn huge_setnumports_is_refused() {
    let mut f = switch(4, 2, 1024);
    assert!(f.set_numports(usize::MAX).is_err());
    assert!(f.set_numports(100_000_000_000).is_err());
    assert_eq!(f.numports(), 4);
}

/// `port/settrunk` (ours): tagged frames of a VLAN never created pass between trunks as they
/// are, and reach no other port; a trunk is a tagged member of every VLAN that exists (but
/// its own untagged one, which it carries untagged).
#[test]
fn trunks_carry_every_vlan_tagged() {
    let mut f = switch(5, 4, 1024);
    f.set_trunk(p(1), true).unwrap();
    f.set_trunk(p(2), true).unwrap();
    f.vlan_create(v(7)).unwrap();
    f.vlan_addport(v(7), p(3)).unwrap();
    let as_is = |port| Delivery {
        port,
        tagging: Tagging::AsIs,
    };
    // VLANs 100 and 200 were never created.
    for vid in [100, 200] {
        assert_eq!(
            forward(&mut f, 1, &tagged(BCAST, mac(1), vid), 0),
            [as_is(2)]
        );
        assert_eq!(
            forward(&mut f, 2, &tagged(mac(1), mac(2), vid), 0),
            [as_is(1)]
        );
        // Not from a port that is no trunk.
        assert_eq!(forward(&mut f, 3, &tagged(BCAST, mac(3), vid), 0), []);
    }
    // VLAN 7 exists: from a trunk to its member and the other trunk, tagged.
    assert_eq!(
        forward(&mut f, 1, &tagged(BCAST, mac(1), 7), 0),
        [as_is(2), as_is(3)]
    );
    // Untagged frames of VLAN 0: trunks get them untagged (VLAN 0 is their untagged VLAN).
    assert_eq!(
        ports_of(&forward(&mut f, 4, &frame(BCAST, mac(4)), 0)),
        [1, 2, 3]
    );
    // No longer a trunk: VLAN 100 is refused again.
    f.set_trunk(p(2), false).unwrap();
    assert_eq!(forward(&mut f, 1, &tagged(BCAST, mac(1), 100), 0), []);
    assert_eq!(forward(&mut f, 2, &tagged(BCAST, mac(2), 100), 0), []);
    assert!(f.set_trunk(p(9), true).is_err());
}
