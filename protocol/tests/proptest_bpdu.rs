//! Property tests of the FSTP BPDU format: every BPDU survives emit → parse (strict and lenient)
//! and no input makes either parser panic.

use proptest::prelude::*;
use vde_protocol::bpdu::{Bpdu, BpduRepr, Flags, TAGGED_LEN, UNTAGGED_LEN};
use vde_protocol::{BridgeId, MacAddr};

fn bpdu() -> impl Strategy<Value = BpduRepr> {
    (
        any::<[u8; 6]>(),
        proptest::option::of(0u16..4096),
        any::<u8>(),
        (
            any::<[u8; 8]>(),
            any::<u32>(),
            any::<[u8; 8]>(),
            any::<u16>(),
        ),
        any::<[u16; 4]>(),
    )
        .prop_map(
            |(src, vlan, flags, (root, root_cost, bridge, port_id), t)| BpduRepr {
                src: MacAddr(src),
                vlan,
                flags: Flags(flags),
                root: BridgeId(root),
                root_cost,
                bridge: BridgeId(bridge),
                port_id,
                message_age: t[0],
                max_age: t[1],
                hello_time: t[2],
                forward_delay: t[3],
            },
        )
}

proptest! {
    #[test]
    fn emit_then_parse(r in bpdu(), padding in proptest::collection::vec(any::<u8>(), 0..16)) {
        let mut bytes = r.to_bytes();
        prop_assert_eq!(bytes.len(), if r.vlan.is_some() { TAGGED_LEN } else { UNTAGGED_LEN });
        bytes.extend_from_slice(&padding);
        prop_assert_eq!(BpduRepr::parse(&bytes), Ok(r));
        prop_assert_eq!(BpduRepr::parse_lenient(&bytes), Ok(r));
        let view = Bpdu::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(view.flags(), r.flags);
        prop_assert_eq!(view.vlan_id(), r.vlan);
    }

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(r) = BpduRepr::parse(&bytes) {
            // Strictly valid: re-emitting gives the same bytes (up to the tag's priority bits).
            let out = r.to_bytes();
            prop_assert_eq!(&out[..14], &bytes[..14]);
            prop_assert_eq!(&out[16..], &bytes[16..out.len()]);
        }
        if let Ok(r) = BpduRepr::parse_lenient(&bytes) {
            prop_assert_eq!(BpduRepr::parse(&r.to_bytes()), Ok(r));
        }
    }
}
