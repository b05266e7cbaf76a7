//! The forwarding fabric as a state machine: the input is decoded into a
//! sequence of operations (endpoints attaching and leaving, configuration with
//! in- and out-of-range numbers, frames of all shapes on all kinds of ports,
//! the clock and MAC expiry), and after each one the fabric's decision, its
//! learning, its counters and its consistency are checked against the
//! reference's rules. The model (the `vde-fabric-model` crate) is shared with
//! `switch/tests/fabric_properties.rs`.
#![no_main]

use fabric_model::{decode, Harness};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (setup, ops) = decode(data);
    Harness::run(setup, &ops);
});
