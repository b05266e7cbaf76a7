use super::*;

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

fn user(uid: u32) -> Credentials {
    Credentials {
        uid: Some(uid),
        gids: vec![uid],
    }
}

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[0xab; 46]);
    f
}

fn tagged(dst: [u8; 6], src: [u8; 6], vid: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x81, 0x00, (vid >> 8) as u8, vid as u8, 0x08, 0x00]);
    f.extend_from_slice(&[0xab; 46]);
    f
}

const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
const C: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
const BCAST: [u8; 6] = [0xff; 6];

fn p(n: u16) -> PortId {
    PortId(n)
}

fn v(n: u16) -> VlanId {
    VlanId::new(n).unwrap()
}

fn switch_with(n: u16) -> Fabric {
    let mut f = Fabric::new(32, false, 128, 1024);
    for i in 0..n {
        assert_eq!(
            f.attach(PortChoice::Any, &root(), ep(u32::from(i))),
            Ok(p(i + 1))
        );
    }
    f
}

fn ports_of(out: &[Delivery]) -> Vec<u16> {
    out.iter().map(|d| d.port.0).collect()
}

#[test]
fn broadcast_floods_to_all_other_active_ports() {
    let mut f = switch_with(3);
    f.create_port(p(10)).unwrap(); // allocated but inactive: not flooded
    let mut out = Vec::new();
    f.forward(p(2), &frame(BCAST, A), 0, &mut out);
    assert_eq!(ports_of(&out), vec![1, 3]);
    assert!(out.iter().all(|d| d.tagging == Tagging::AsIs));
    assert_eq!(f.port(p(2)).unwrap().counters.in_pkts, 1);
    assert_eq!(f.port(p(1)).unwrap().counters.out_pkts, 1);
}

#[test]
fn unicast_goes_only_to_the_learned_port() {
    let mut f = switch_with(3);
    let mut out = Vec::new();
    f.forward(p(1), &frame(BCAST, A), 0, &mut out);
    f.forward(p(3), &frame(A, C), 0, &mut out);
    assert_eq!(ports_of(&out), vec![1]);
    // Unknown destination floods.
    f.forward(p(1), &frame(B, A), 0, &mut out);
    assert_eq!(ports_of(&out), vec![2, 3]);
    // Destination on the input port: dropped.
    f.forward(p(1), &frame(A, B), 10, &mut out);
    assert!(out.is_empty());
}

#[test]
fn runts_are_counted_not_forwarded() {
    let mut f = switch_with(2);
    let mut out = Vec::new();
    f.forward(p(1), &[0u8; 13], 0, &mut out);
    assert!(out.is_empty());
    let c = f.port(p(1)).unwrap().counters;
    assert_eq!((c.runts, c.in_pkts), (1, 0));
    // A truncated 802.1Q header is a runt too.
    f.forward(p(1), &tagged(BCAST, A, 5)[..16], 0, &mut out);
    assert!(out.is_empty());
    assert_eq!(f.port(p(1)).unwrap().counters.runts, 2);
}

#[test]
fn hub_sends_everywhere_but_port_zero_and_the_source() {
    let mut f = Fabric::new(8, true, 128, 1024);
    f.attach(PortChoice::Port0, &root(), ep(9)).unwrap();
    for i in 0..3 {
        f.attach(PortChoice::Any, &root(), ep(i)).unwrap();
    }
    f.create_port(p(6)).unwrap();
    let mut out = Vec::new();
    f.forward(p(1), &frame(A, B), 0, &mut out);
    assert_eq!(ports_of(&out), vec![2, 3, 6]);
    assert!(f.macs().is_empty());
    assert_eq!(f.port(p(6)).unwrap().counters.out_pkts, 1);
}

#[test]
fn vlan_access_to_trunk_and_back() {
    let mut f = Fabric::new(32, false, 128, 1024);
    f.vlan_create(v(10)).unwrap();
    f.attach(PortChoice::Port(1), &root(), ep(1)).unwrap();
    f.attach(PortChoice::Port(2), &root(), ep(2)).unwrap();
    f.attach(PortChoice::Port(3), &root(), ep(3)).unwrap();
    f.set_port_vlan(p(1), v(10)).unwrap();
    f.vlan_addport(v(10), p(2)).unwrap();
    let mut out = Vec::new();
    // Untagged on the access port: tagged copy to the trunk, port 3 (VLAN 0) sees nothing.
    f.forward(p(1), &frame(BCAST, A), 0, &mut out);
    assert_eq!(
        out,
        vec![Delivery {
            port: p(2),
            tagging: Tagging::Tag(v(10))
        }]
    );
    assert_eq!(f.port(p(2)).unwrap().counters.out_bytes, 64);
    // Tagged from the trunk to the learned access MAC: untagged.
    f.forward(p(2), &tagged(A, B, 10), 0, &mut out);
    assert_eq!(
        out,
        vec![Delivery {
            port: p(1),
            tagging: Tagging::Untag
        }]
    );
    // Tagged with a VLAN the trunk is not in: dropped and counted.
    f.forward(p(2), &tagged(BCAST, B, 20), 0, &mut out);
    assert!(out.is_empty());
    assert_eq!(f.port(p(2)).unwrap().counters.vlan_drops, 1);
    // A tag equal to the port's untagged VLAN is accepted (VID 0 on a default port).
    f.forward(p(3), &tagged(BCAST, C, 0), 0, &mut out);
    // Port 2 is still an untagged member of VLAN 0: it gets the copy untagged.
    assert_eq!(
        out,
        vec![Delivery {
            port: p(2),
            tagging: Tagging::Untag
        }]
    );
    assert_eq!(f.port(p(3)).unwrap().counters.vlan_drops, 0);
}

#[test]
fn tagged_flood_goes_tagged_first_then_untagged() {
    let mut f = Fabric::new(32, false, 128, 1024);
    f.vlan_create(v(7)).unwrap();
    for p in 1..=4 {
        f.attach(PortChoice::Port(p), &root(), ep(p as u32))
            .unwrap();
    }
    f.set_port_vlan(p(1), v(7)).unwrap();
    f.set_port_vlan(p(4), v(7)).unwrap();
    f.vlan_addport(v(7), p(2)).unwrap();
    f.vlan_addport(v(7), p(3)).unwrap();
    let mut out = Vec::new();
    f.forward(p(2), &tagged(BCAST, B, 7), 0, &mut out);
    assert_eq!(
        out,
        vec![
            Delivery {
                port: p(3),
                tagging: Tagging::AsIs
            },
            Delivery {
                port: p(1),
                tagging: Tagging::Untag
            },
            Delivery {
                port: p(4),
                tagging: Tagging::Untag
            },
        ]
    );
}

#[test]
fn allocation_and_access_control() {
    let mut f = Fabric::new(4, false, 128, 1024);
    assert_eq!(f.attach(PortChoice::Any, &user(1000), ep(1)), Ok(p(1)));
    // Same user on an occupied port: another endpoint, listed first.
    assert_eq!(f.attach(PortChoice::Port(1), &user(1000), ep(2)), Ok(p(1)));
    assert_eq!(f.port(p(1)).unwrap().endpoints[0].id, 2);
    // Another user: refused.
    assert_eq!(
        f.attach(PortChoice::Port(1), &user(1001), ep(3)),
        Err(AttachError::Denied { port: p(1) })
    );
    assert_eq!(
        f.attach(PortChoice::Port(4), &user(1000), ep(4)),
        Err(AttachError::OutOfRange {
            port: 4,
            numports: 4
        })
    );
    assert_eq!(f.attach(PortChoice::Any, &user(1000), ep(5)), Ok(p(2)));
    assert_eq!(f.attach(PortChoice::Any, &user(1000), ep(6)), Ok(p(3)));
    assert_eq!(
        f.attach(PortChoice::Any, &user(1000), ep(7)),
        Err(AttachError::NoFreePort { numports: 4 })
    );
    // A created (not allocatable) port is skipped by auto allocation once freed.
    f.detach(p(3), 6).unwrap();
    f.set_allocatable(p(3), false).unwrap();
    assert!(f.attach(PortChoice::Any, &user(1000), ep(8)).is_err());
    assert_eq!(f.attach(PortChoice::Port(3), &user(1000), ep(8)), Ok(p(3)));
    // ACL: port restricted to uid 1001 refuses 1000 but admits root.
    f.attach(PortChoice::Port0, &root(), ep(20)).unwrap();
    f.detach(p(0), 20).unwrap();
    f.set_acl(p(0), Acl::Set(Some(1001)), Acl::Keep).unwrap();
    assert!(f.attach(PortChoice::Port0, &user(1000), ep(9)).is_err());
    assert_eq!(f.attach(PortChoice::Port0, &root(), ep(9)), Ok(p(0)));
}

#[test]
fn detach_forgets_the_port_only() {
    let mut f = switch_with(3);
    let mut out = Vec::new();
    f.forward(p(1), &frame(BCAST, A), 0, &mut out);
    f.forward(p(2), &frame(BCAST, B), 0, &mut out);
    assert_eq!(f.macs().len(), 2);
    f.detach(p(1), 0).unwrap();
    assert_eq!(f.macs().len(), 1, "the entry of port 2 stays");
    assert!(f.macs().lookup(MacAddr(B), VlanId::DEFAULT) == Some(p(2)));
    assert!(!f.port(p(1)).unwrap().is_active());
    assert_eq!(
        f.port(p(1)).unwrap().counters.in_pkts,
        1,
        "counters persist"
    );
    // A new client reuses port 1.
    assert_eq!(f.attach(PortChoice::Any, &user(5), ep(7)), Ok(p(1)));
    assert_eq!(f.detach(p(1), 99), Err(FabricError::NoSuchDevice));
}

#[test]
fn full_table_still_forwards() {
    let mut f = Fabric::new(32, false, 128, 1);
    for i in 0..2 {
        f.attach(PortChoice::Any, &root(), ep(i)).unwrap();
    }
    let mut out = Vec::new();
    f.forward(p(1), &frame(BCAST, A), 0, &mut out);
    f.forward(p(1), &frame(BCAST, C), 0, &mut out);
    assert_eq!(ports_of(&out), vec![2]);
    assert_eq!(f.unlearned_total(), 1);
    assert_eq!(f.port(p(1)).unwrap().counters.unlearned, 1);
    f.forward(p(2), &frame(C, B), 0, &mut out);
    assert_eq!(ports_of(&out), vec![1], "unknown destination is flooded");
}

#[test]
fn vlan_zero_cannot_be_removed() {
    let mut f = Fabric::new(4, false, 128, 16);
    assert_eq!(f.vlan_remove(v(0)), Err(FabricError::InUse));
    f.vlan_create(v(5)).unwrap();
    assert_eq!(f.vlan_create(v(5)), Err(FabricError::Exists));
    assert_eq!(f.vlan_create(v(4094)), Err(FabricError::Invalid));
    f.vlan_remove(v(5)).unwrap();
}

#[test]
fn create_zero_and_createauto_reuse_an_inactive_allocatable_port() {
    let mut f = Fabric::new(8, false, 128, 16);
    f.attach(PortChoice::Any, &root(), ep(1)).unwrap();
    f.detach(p(1), 1).unwrap();
    // Port 1 is inactive and allocatable: createauto takes it back.
    assert_eq!(f.create_port_auto(), Ok(p(1)));
    assert!(!f.port(p(1)).unwrap().allocatable);
    // port/create 0 means "any", never port 0.
    f.create_port(p(0)).unwrap();
    assert!(f.port(p(0)).is_none());
    assert!(f.port(p(2)).is_some());
}

#[test]
fn a_port_coming_up_flushes_nothing() {
    let mut f = switch_with(2);
    let mut out = Vec::new();
    f.forward(p(2), &frame(BCAST, B), 0, &mut out);
    assert_eq!(f.attach(PortChoice::Any, &user(5), ep(9)), Ok(p(3)));
    assert_eq!(f.macs().lookup(MacAddr(B), VlanId::DEFAULT), Some(p(2)));
    // Unicast to B still goes to port 2 only.
    f.forward(p(1), &frame(B, A), 0, &mut out);
    assert_eq!(
        out,
        vec![Delivery {
            port: p(2),
            tagging: Tagging::AsIs
        }]
    );
}

#[test]
fn discarding_ports_neither_send_nor_receive() {
    let mut f = switch_with(3);
    let mut out = Vec::new();
    let v0 = VlanId::DEFAULT;
    f.forward(p(3), &frame(BCAST, C), 0, &mut out);
    f.set_discarding(v0, p(2), true);
    assert!(f.is_discarding(v0, p(2)));
    // Floods skip it, frames from it are dropped unlearned.
    f.forward(p(1), &frame(BCAST, A), 0, &mut out);
    assert_eq!(out.iter().map(|d| d.port).collect::<Vec<_>>(), vec![p(3)]);
    f.forward(p(2), &frame(BCAST, B), 0, &mut out);
    assert!(out.is_empty());
    assert_eq!(f.macs().lookup(MacAddr(B), v0), None);
    f.set_discarding(v0, p(2), false);
    f.forward(p(2), &frame(BCAST, B), 0, &mut out);
    assert_eq!(out.len(), 2);
    // Known unicast to a discarding port is dropped too.
    f.set_discarding(v0, p(1), true);
    f.forward(p(3), &frame(A, C), 0, &mut out);
    assert!(out.is_empty());
    // Going inactive ends the state.
    f.detach(p(1), 0).unwrap();
    assert!(!f.is_discarding(v0, p(1)));
}
