//! `load` as a management session runs it, a slice at a time, against `load` run whole: for
//! any script (the input after its first byte, written to a file), cut into slices of any
//! size (the first byte: how many bytes of output end a slice), both write the same bytes and
//! leave the switch in the same state. `@SELF` in the script stands for its own path, so a
//! script can load itself, which exercises nesting and its cap. The output cap is lowered to
//! 64 KiB here (16 MiB per run would make the fuzzer crawl); `console::run` drives a job
//! whole exactly as `whole` does below.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use vdeswitch::server::console::{self, Origin, Slice, Started};

#[path = "../checks/console_host.rs"]
mod console_host;
use console_host::{scratch, ConsoleHost};

/// The output cap of a load here.
const CAP: usize = 64 << 10;

/// What the switch looks like from the console.
fn state(h: &mut ConsoleHost) -> String {
    let mut out = String::new();
    for probe in [
        "port/allprint",
        "vlan/allprint",
        "showinfo",
        "hash/showinfo",
        "debug/list",
    ] {
        console::run(h, Origin::Session, probe, &mut out);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, script)) = data.split_first() else {
        return;
    };
    let path = scratch("load");
    let me = path.display().to_string();
    let script = String::from_utf8_lossy(script).replace("@SELF", &me);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(script.as_bytes()))
        .unwrap();
    let line = format!("load {}", path.display());

    let run = |h: &mut ConsoleHost, out: &mut String, slice: Slice| {
        if let Started::Load(mut job) = console::start(h, Origin::Session, &line, out) {
            job.set_output_cap(CAP);
            let mut steps = 0usize;
            while !job.step(h, out, slice) {
                steps += 1;
                assert!(steps <= 1 << 24, "a load that does not end");
            }
        }
    };
    let mut whole = ConsoleHost::new(true);
    let mut expected = String::new();
    run(&mut whole, &mut expected, Slice::WHOLE);
    assert!(
        expected.len() < CAP + (64 << 10) * 2,
        "{} bytes",
        expected.len()
    );

    let mut sliced = ConsoleHost::new(true);
    let mut got = String::new();
    let slice = Slice {
        until: None,
        output: usize::from(size) + 1,
    };
    run(&mut sliced, &mut got, slice);
    let _ = std::fs::remove_file(&path);
    assert_eq!(got, expected, "sliced by {}", usize::from(size) + 1);
    assert_eq!(state(&mut sliced), state(&mut whole));
});
