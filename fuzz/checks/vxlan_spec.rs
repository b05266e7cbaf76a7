//! Checks of the VXLAN uplink SPEC parser, shared by the `vxlan_spec` fuzz target and
//! `protocol/tests/format_checks.rs`: any text parses or is refused without panicking, and what
//! parses prints in a canonical form that parses back to the same spec.

use vde_protocol::vxlan_spec::{Flood, VxlanSpec};

pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match text.parse::<VxlanSpec>() {
        Ok(spec) => {
            let canon = spec.to_string();
            assert_eq!(canon.parse::<VxlanSpec>().as_ref(), Ok(&spec), "{canon}");
            match &spec.flood {
                Flood::Remotes(r) => {
                    assert!(!r.is_empty() && spec.local.is_some());
                    assert!(r.iter().all(|a| a.is_ipv6() == spec.is_ipv6()));
                }
                Flood::Group { group, dev } => {
                    assert!(group.is_multicast() && !dev.is_empty());
                }
            }
            assert!(spec.port != 0);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
