//! The forwarding fabric as a state machine: the input is decoded into a
//! sequence of operations (endpoints attaching and leaving, configuration with
//! in- and out-of-range numbers, frames of all shapes on all kinds of ports,
//! the clock and MAC expiry), and after each one the fabric's decision, its
//! learning, its counters and its consistency are checked against the
//! reference's rules. The model is shared with `switch/tests/fabric_properties.rs`.
//!
//! Ops that would trigger the known, not yet fixed fabric bugs listed in
//! `Harness::known_bug` are skipped; set `FABRIC_STRICT=1` to run them too.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../fabric_model.rs"]
mod fabric_model;

use fabric_model::{decode, Harness};

fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("FABRIC_STRICT").is_some_and(|v| v != "0"))
}

fuzz_target!(|data: &[u8]| {
    let (setup, ops) = decode(data);
    Harness::run(setup, &ops, !strict());
});
