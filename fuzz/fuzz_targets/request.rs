//! Control requests from untrusted clients: no input may panic either parser, and whatever
//! parses must survive emit → parse unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vde_protocol::{Dialect, RequestError, RequestRepr, SockAddrUn};

fuzz_target!(|data: &[u8]| {
    for dialect in [Dialect::VdeSwitch, Dialect::UmlSwitch] {
        let parsed = RequestRepr::parse(data, dialect);
        let header = RequestRepr::header_len(data, dialect);
        match &parsed {
            Ok(r) => {
                let bytes = r.to_bytes();
                assert_eq!(bytes.len(), r.buffer_len());
                assert_eq!(RequestRepr::parse(&bytes, dialect).as_ref(), Ok(r));
                // A request that parses has a known header, and it fits in the input.
                assert_eq!(header, Some(Ok(r.version.header_len())));
                assert!(data.len() >= r.version.header_len());
            }
            // Early refusals and header_len agree on magic and version errors.
            Err(e @ (RequestError::BadMagic(_) | RequestError::UnsupportedVersion(_))) => {
                assert_eq!(header, Some(Err(e.clone())));
            }
            Err(RequestError::Incomplete { have, need }) => {
                assert_eq!(*have, data.len());
                assert!(need > have);
            }
            Err(_) => {}
        }
    }
    if let Ok(a) = SockAddrUn::parse(data) {
        assert_eq!(a.to_bytes()[..], data[..110]);
        let _ = (a.path(), a.is_abstract(), format!("{a:?} {a}"));
    }
});
