//! Property tests: every valid value survives emit → parse, and no input makes a parser panic.

use proptest::prelude::*;
use vde_protocol::ethernet::{insert_tag, strip_tag, Frame, FrameRepr, TPID_8021Q};
use vde_protocol::request::MAX_PORT;
use vde_protocol::{
    Dialect, MacAddr, PortRequest, ProtoVersion, RequestError, RequestRepr, SockAddrUn,
    MAX_DESCRIPTION_LEN, SUN_PATH_LEN,
};

fn sockaddr() -> impl Strategy<Value = SockAddrUn> {
    prop_oneof![
        proptest::collection::vec(1u8..=255, 1..=107)
            .prop_map(|p| SockAddrUn::from_path(&p).unwrap()),
        proptest::collection::vec(any::<u8>(), 0..=107)
            .prop_map(|n| SockAddrUn::from_abstract(&n).unwrap()),
        any::<[u8; SUN_PATH_LEN]>().prop_map(SockAddrUn::from_raw_path),
    ]
}

fn description() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=MAX_DESCRIPTION_LEN)
}

/// Requests vde_switch accepts.
fn vde_request() -> impl Strategy<Value = RequestRepr> {
    let v3_port = prop_oneof![
        Just(PortRequest::Any),
        Just(PortRequest::Port0),
        (1..=MAX_PORT).prop_map(PortRequest::Port),
    ];
    let v1_port = prop_oneof![Just(PortRequest::Any), Just(PortRequest::Port0)];
    prop_oneof![
        (v3_port, sockaddr(), description()).prop_map(|(port, addr, description)| {
            RequestRepr {
                version: ProtoVersion::V3,
                port,
                addr,
                description,
            }
        }),
        (v1_port, sockaddr(), description()).prop_map(|(port, addr, description)| {
            RequestRepr {
                version: ProtoVersion::V1,
                port,
                addr,
                description,
            }
        }),
    ]
}

/// Requests uml_switch accepts.
fn uml_request() -> impl Strategy<Value = RequestRepr> {
    (
        prop_oneof![
            Just(ProtoVersion::V0),
            Just(ProtoVersion::V1),
            Just(ProtoVersion::V3)
        ],
        sockaddr(),
        description(),
    )
        .prop_map(|(version, addr, description)| RequestRepr {
            version,
            port: PortRequest::Any,
            addr,
            description: if version == ProtoVersion::V0 {
                Vec::new()
            } else {
                description
            },
        })
}

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

/// Whole untagged frames: 14 bytes and up, EtherType not 0x8100.
fn untagged_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(any::<u8>(), 12),
        any::<u16>().prop_filter("untagged", |t| *t != TPID_8021Q),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(addrs, ethertype, payload)| {
            let mut f = addrs;
            f.extend_from_slice(&ethertype.to_be_bytes());
            f.extend_from_slice(&payload);
            f
        })
}

fn touch_frame(bytes: &[u8]) {
    if let Ok(f) = Frame::new_checked(bytes) {
        let _ = (f.dst(), f.src(), f.ethertype(), f.inner_ethertype());
        let _ = (f.tci(), f.vlan_id(), f.header_len());
        assert_eq!(f.header_len() + f.payload().len(), bytes.len());
        let mut out = Vec::new();
        if f.is_tagged() {
            strip_tag(bytes, &mut out);
            assert_eq!(out.len(), bytes.len() - 4);
        } else {
            insert_tag(bytes, 5, &mut out);
            assert_eq!(out.len(), bytes.len() + 4);
        }
        let r = FrameRepr::parse(bytes).unwrap();
        assert_eq!(r.to_bytes(), bytes);
    } else {
        assert!(FrameRepr::parse(bytes).is_err());
    }
}

proptest! {
    #[test]
    fn vde_request_roundtrip(r in vde_request()) {
        let b = r.to_bytes();
        prop_assert_eq!(b.len(), r.buffer_len());
        prop_assert_eq!(RequestRepr::parse(&b, Dialect::VdeSwitch), Ok(r.clone()));
        prop_assert_eq!(
            RequestRepr::header_len(&b, Dialect::VdeSwitch),
            Some(Ok(r.version.header_len()))
        );
    }

    #[test]
    fn uml_request_roundtrip(r in uml_request()) {
        let b = r.to_bytes();
        prop_assert_eq!(RequestRepr::parse(&b, Dialect::UmlSwitch), Ok(r.clone()));
        prop_assert_eq!(
            RequestRepr::header_len(&b, Dialect::UmlSwitch),
            Some(Ok(r.version.header_len()))
        );
    }

    /// Every strict prefix of a header asks for more bytes, never refuses and never accepts.
    #[test]
    fn header_prefixes_are_incomplete(r in vde_request(), cut in 0usize..124) {
        let b = r.to_bytes();
        let n = cut.min(r.version.header_len() - 1);
        let e = RequestRepr::parse(&b[..n], Dialect::VdeSwitch).unwrap_err();
        prop_assert!(matches!(e, RequestError::Incomplete { have, .. } if have == n), "{e:?}");
        match RequestRepr::header_len(&b[..n], Dialect::VdeSwitch) {
            None => prop_assert!(n < 8),
            Some(h) => prop_assert_eq!(h, Ok(r.version.header_len())),
        }
    }

    /// Whatever follows the header is description, cut at the limit.
    #[test]
    fn long_description_is_cut(r in vde_request(), extra in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut b = r.to_bytes();
        b.extend_from_slice(&extra);
        let p = RequestRepr::parse(&b, Dialect::VdeSwitch).unwrap();
        let all: Vec<u8> = r.description.iter().chain(&extra).copied().collect();
        prop_assert_eq!(&p.description[..], &all[..all.len().min(MAX_DESCRIPTION_LEN)]);
    }

    #[test]
    fn request_parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        for dialect in [Dialect::VdeSwitch, Dialect::UmlSwitch] {
            if let Ok(r) = RequestRepr::parse(&b, dialect) {
                prop_assert_eq!(RequestRepr::parse(&r.to_bytes(), dialect), Ok(r));
            }
            let _ = RequestRepr::header_len(&b, dialect);
        }
        let _ = SockAddrUn::parse(&b);
        touch_frame(&b);
    }

    /// Mostly-valid requests with one corrupted byte: exercises the error paths.
    #[test]
    fn corrupted_requests_never_panic(r in vde_request(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut b = r.to_bytes();
        let i = at.index(b.len());
        b[i] = v;
        for dialect in [Dialect::VdeSwitch, Dialect::UmlSwitch] {
            if let Ok(r) = RequestRepr::parse(&b, dialect) {
                prop_assert_eq!(RequestRepr::parse(&r.to_bytes(), dialect), Ok(r));
            }
        }
    }

    #[test]
    fn sockaddr_roundtrip(a in sockaddr()) {
        prop_assert_eq!(SockAddrUn::parse(&a.to_bytes()), Ok(a.clone()));
        prop_assert_eq!(a.is_abstract(), a.path().is_none());
    }

    #[test]
    fn strip_undoes_insert(f in untagged_frame(), vid in 0u16..4096) {
        let mut tagged = Vec::new();
        insert_tag(&f, vid, &mut tagged);
        let view = Frame::new_checked(&tagged[..]).unwrap();
        prop_assert_eq!(view.vlan_id(), Some(vid));
        prop_assert_eq!(view.tci(), Some(vid));
        prop_assert_eq!(view.payload(), &f[14..]);
        let mut back = Vec::new();
        strip_tag(&tagged, &mut back);
        prop_assert_eq!(back, f);
    }

    #[test]
    fn frame_repr_roundtrip(
        dst in mac(),
        src in mac(),
        tci in proptest::option::of(any::<u16>()),
        ethertype in any::<u16>(),
        payload in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        prop_assume!(tci.is_some() || ethertype != TPID_8021Q);
        let r = FrameRepr { dst, src, tci, ethertype, payload: &payload };
        let b = r.to_bytes();
        prop_assert_eq!(FrameRepr::parse(&b), Ok(r));
    }

    #[test]
    fn mac_display_parses_back(m in mac()) {
        prop_assert_eq!(m.to_string().parse::<MacAddr>(), Ok(m));
        prop_assert_eq!(m.to_string().replace(':', ".").parse::<MacAddr>(), Ok(m));
    }

    #[test]
    fn mac_parse_never_panics(s in "\\PC{0,24}") {
        let _ = s.parse::<MacAddr>();
    }
}
