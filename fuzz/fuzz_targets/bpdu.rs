//! BPDUs from untrusted clients: the view and both parsers never panic, and whatever is accepted
//! re-emits consistently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vde_protocol::bpdu::{Bpdu, BpduRepr, BPDU_DST, LLC, TAGGED_LEN, UNTAGGED_LEN};

fn check(data: &[u8]) {
    if let Ok(view) = Bpdu::new_checked(data) {
        let _ = (
            view.flags(),
            view.root(),
            view.root_cost(),
            view.port_id(),
            view.vlan_id(),
        );
    }
    if let Ok(r) = BpduRepr::parse(data) {
        let out = r.to_bytes();
        // Same bytes, except the priority/CFI bits of a tag, which are not kept.
        assert_eq!(out[..14], data[..14]);
        if r.vlan.is_some() {
            assert_eq!(out[14] & 0x0f, data[14] & 0x0f);
        } else {
            assert_eq!(out[14], data[14]);
        }
        assert_eq!(out[15..], data[15..out.len()]);
        assert_eq!(BpduRepr::parse_lenient(data), Ok(r));
    }
    if let Ok(r) = BpduRepr::parse_lenient(data) {
        assert_eq!(BpduRepr::parse(&r.to_bytes()), Ok(r));
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // The same bytes with the constant fields made valid, so the accepting paths are exercised
    // on every run, not only once the fuzzer has guessed the constants.
    let tagged = data.len() >= TAGGED_LEN && data[12] == 0x81 && data[13] == 0;
    let body = if tagged { 18 } else { 14 };
    if data.len() >= if tagged { TAGGED_LEN } else { UNTAGGED_LEN } {
        let mut fixed = data.to_vec();
        fixed[..6].copy_from_slice(&BPDU_DST.0);
        fixed[body - 2..body].copy_from_slice(&[0, 0x27]);
        fixed[body..body + 3].copy_from_slice(&LLC);
        fixed[body + 3..body + 7].copy_from_slice(&[0, 0, 2, 2]);
        fixed[body + 38] = 0;
        check(&fixed);
        assert!(BpduRepr::parse(&fixed).is_ok());
    }
});
