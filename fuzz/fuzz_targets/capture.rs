//! Capture files (pcap, pcapng) as `vdecap` and the tests read them: the readers never panic,
//! accept only what the writers write back the same way, and read back exactly what was
//! written. See `fuzz/checks/capture.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/capture.rs"]
mod capture;

fuzz_target!(|data: &[u8]| capture::check(data));
