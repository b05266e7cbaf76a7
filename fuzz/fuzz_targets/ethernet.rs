//! Frames from untrusted clients: the view, the Repr and tag conversion never panic and stay
//! consistent with each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vde_protocol::ethernet::{insert_tag, strip_tag, Frame, FrameRepr, VID_MASK};

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = Frame::new_checked(data) else {
        assert!(FrameRepr::parse(data).is_err());
        return;
    };
    let _ = (frame.dst(), frame.src(), frame.dst().is_multicast());
    assert_eq!(frame.header_len() + frame.payload().len(), data.len());

    let repr = FrameRepr::parse(data).unwrap();
    assert_eq!(repr.to_bytes(), data);

    let mut a = Vec::new();
    let mut b = Vec::new();
    // A VLAN ID derived from the payload, so the fuzzer can steer it.
    let vid = frame
        .payload()
        .iter()
        .fold(0u16, |v, &x| v.rotate_left(5) ^ u16::from(x))
        & VID_MASK;
    if let Some(tci) = frame.tci() {
        assert_eq!(frame.vlan_id(), Some(tci & VID_MASK));
        strip_tag(data, &mut a);
        assert_eq!(a.len(), data.len() - 4);
        assert_eq!(a[..12], data[..12]);
        assert_eq!(a[12..], data[16..]);
        // Re-tagging restores the frame up to its priority bits.
        insert_tag(&a, tci, &mut b);
        assert_eq!(b[..14], data[..14]);
        assert_eq!(b[14] & 0x0f, data[14] & 0x0f);
        assert_eq!(b[15..], data[15..]);
    } else {
        insert_tag(data, vid, &mut a);
        let tagged = Frame::new_checked(&a[..]).expect("tagged frame is long enough");
        assert_eq!(tagged.vlan_id(), Some(vid));
        assert_eq!(tagged.payload(), frame.payload());
        strip_tag(&a, &mut b);
        assert_eq!(b, data);
    }
});
