//! Checks of the VXLAN parser and source-port choice, shared by the `vxlan` fuzz target and
//! `protocol/tests/format_checks.rs`.
//!
//! Whatever parses re-emits to the same bytes with the reserved bits cleared; whatever is
//! refused is refused for the first thing wrong; source ports stay in their range.

use vde_protocol::vxlan::{
    source_port, Packet, PortRange, VxlanError, VxlanRepr, FLAG_VNI, HEADER_LEN, MIN_PACKET_LEN,
};

pub fn check(data: &[u8]) {
    match VxlanRepr::parse(data) {
        Ok(r) => {
            assert!(data.len() >= MIN_PACKET_LEN && data[0] & FLAG_VNI != 0);
            let bytes = r.to_bytes();
            assert_eq!(bytes.len(), data.len());
            assert_eq!(bytes[HEADER_LEN..], data[HEADER_LEN..]);
            assert_eq!(bytes[4..7], data[4..7], "VNI kept");
            assert_eq!(
                [bytes[0], bytes[1], bytes[2], bytes[3], bytes[7]],
                [FLAG_VNI, 0, 0, 0, 0]
            );
            assert_eq!(VxlanRepr::parse(&bytes), Ok(r));
            let p = Packet::new_checked(data).unwrap();
            assert_eq!((p.vni(), p.payload()), (r.vni, r.frame));
            assert_eq!(
                p.reserved_bits_set(),
                bytes[..HEADER_LEN] != data[..HEADER_LEN]
            );
        }
        Err(VxlanError::Truncated { have, need }) => {
            assert_eq!((have, need), (data.len(), HEADER_LEN));
            assert!(Packet::new_checked(data).is_err());
        }
        Err(VxlanError::NoVniFlag { flags }) => assert_eq!(flags & FLAG_VNI, 0),
        Err(VxlanError::InnerTooShort { len }) => {
            assert!(data[0] & FLAG_VNI != 0);
            assert_eq!(len + HEADER_LEN, data.len());
        }
        Err(e) => panic!("parse cannot fail with {e:?}"),
    }

    // A port range from the first bytes, the rest as an inner frame.
    if let [a, b, c, d, frame @ ..] = data {
        let (x, y) = (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]));
        let range = PortRange::new(x.min(y), x.max(y)).unwrap();
        let port = source_port(frame, range);
        assert!(range.contains(port), "{port} outside {range:?}");
        assert_eq!(source_port(frame, range), port);
        assert!(PortRange::DYNAMIC.contains(source_port(frame, PortRange::DYNAMIC)));
    }
}
