//! VXLAN uplink SPECs (`--vxlan`, `vxlan/add`), as anyone with the console can type them: the
//! parser never panics and its canonical form parses back. See `fuzz/checks/vxlan_spec.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/vxlan_spec.rs"]
mod vxlan_spec;

fuzz_target!(|data: &[u8]| vxlan_spec::check(data));
