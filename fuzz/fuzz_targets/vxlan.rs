//! VXLAN datagrams from the underlay (anyone who can reach the UDP port): the parser and the
//! view agree, never panic, and source ports stay in range. See `fuzz/checks/vxlan.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/vxlan.rs"]
mod vxlan;

fuzz_target!(|data: &[u8]| vxlan::check(data));
