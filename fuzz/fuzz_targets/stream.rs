//! Length-prefixed streams from untrusted peers (QEMU, vde_plug): cut into arbitrary chunks,
//! the decoder agrees with a one-pass reading and never panics. See `fuzz/checks/stream.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/stream.rs"]
mod stream;

fuzz_target!(|data: &[u8]| stream::check(data));
