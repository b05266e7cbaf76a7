//! The checks of the stream, VXLAN and capture fuzz targets (`fuzz/checks/`), run as property
//! tests on random and on mostly-valid inputs, so `cargo test` covers them without nightly.

use proptest::prelude::*;
use vde_protocol::stream::Framing;

#[path = "../../fuzz/checks/capture.rs"]
mod capture;
#[path = "../../fuzz/checks/stream.rs"]
mod stream;
#[path = "../../fuzz/checks/vxlan.rs"]
mod vxlan;
#[path = "../../fuzz/checks/vxlan_spec.rs"]
mod vxlan_spec;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// A fuzz input for `stream::check` whose stream is valid frames, then maybe one corrupted byte
/// and a cut.
fn stream_input() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        any::<u8>(),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..100), 0..8),
        proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
        proptest::option::of(any::<prop::sample::Index>()),
    )
        .prop_map(|(config, seed, frames, corrupt, cut)| {
            // Limits 3.. of the table are all at least 1518, so the frames fit.
            let config = (config & 1) | (3 + (config >> 1) % 4) << 1;
            let framing = if config & 1 == 0 {
                Framing::Qemu
            } else {
                Framing::VdeStream
            };
            let mut data = vec![config, seed];
            for f in &frames {
                framing.encode(f, &mut data).unwrap();
            }
            if let (Some((at, v)), true) = (corrupt, data.len() > 2) {
                let i = 2 + at.index(data.len() - 2);
                data[i] = v;
            }
            if let Some(at) = cut {
                data.truncate(at.index(data.len() + 1).max(2));
            }
            data
        })
}

/// A fuzz input for `vxlan::check`: a valid packet with maybe one corrupted byte.
fn vxlan_input() -> impl Strategy<Value = Vec<u8>> {
    (
        0u32..=0xff_ffff,
        bytes(100),
        proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
    )
        .prop_map(|(vni, payload, corrupt)| {
            let mut data =
                vde_protocol::vxlan::header(vde_protocol::vxlan::Vni::new(vni).unwrap()).to_vec();
            data.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
            data.extend_from_slice(&payload);
            if let Some((at, v)) = corrupt {
                let i = at.index(data.len());
                data[i] = v;
            }
            data
        })
}

proptest! {
    #[test]
    fn stream_random(data in bytes(600)) {
        stream::check(&data);
    }

    #[test]
    fn stream_mostly_valid(data in stream_input()) {
        stream::check(&data);
    }

    #[test]
    fn vxlan_random(data in bytes(64)) {
        vxlan::check(&data);
    }

    #[test]
    fn vxlan_mostly_valid(data in vxlan_input()) {
        vxlan::check(&data);
    }

    #[test]
    fn vxlan_spec_random(data in bytes(80)) {
        vxlan_spec::check(&data);
    }

    /// Specs built from valid and invalid pieces.
    #[test]
    fn vxlan_spec_pieces(items in proptest::collection::vec(prop::sample::select(vec![
        "vni=42", "vni=16777216", "local=10.0.0.1", "local=fd00::1", "remote=10.0.0.2",
        "remote=10.0.0.3", "remote=[fd00::2]", "port=4790", "port=0", "group=239.1.1.1",
        "group=ff05::1", "dev=eth0", "dev=", "x=y", "", "remote=239.1.1.1",
    ]), 0..7)) {
        vxlan_spec::check(items.join(",").as_bytes());
    }

    /// Also writes and reads back a valid file made of the same bytes.
    #[test]
    fn capture_random(data in bytes(400)) {
        capture::check(&data);
    }
}
