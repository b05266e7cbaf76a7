//! The console's whole execute path on a live fabric: any command line (any bytes) runs
//! without panicking, its answer is well formed (a status line last, a data block closed),
//! and `json` of a data command is one JSON document. Frames derived from the input are
//! forwarded between commands, so MACs are learned, ports come and go, counters move.
//! `load` is left out (it reads files; the `rc_file` and `load_slices` targets cover scripts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vde_protocol::console::{Status, DATA_END, DATA_HEADER, END_OF_SESSION};
use vdeswitch::fabric::{Credentials, Endpoint, PortChoice, PortId};
use vdeswitch::server::console::{self, Action, Origin, Outcome};

#[path = "../checks/console_host.rs"]
mod console_host;
use console_host::ConsoleHost;

/// A switch with three endpoints: 3 on port 1, 4 and 5 on port 2.
fn live() -> ConsoleHost {
    let mut h = ConsoleHost::new(true);
    for (port, id) in [(1, 3), (2, 4), (2, 5)] {
        let who = Credentials {
            uid: Some(0),
            gids: vec![0],
        };
        let ep = Endpoint {
            id,
            module: "unix prog",
            description: format!("fuzz {id}"),
        };
        h.fabric.attach(PortChoice::Port(port), &who, ep).unwrap();
    }
    h
}

/// The answer's shape: data blocks closed by ".", the last line a status (or nothing at all
/// for comments and blank lines).
fn well_formed(line: &str, out: &str, outcome: Outcome) {
    if out.is_empty() {
        return;
    }
    let mut in_data = false;
    let mut last = "";
    for l in out.lines() {
        if in_data {
            in_data = l != DATA_END;
        } else if l == DATA_HEADER {
            in_data = true;
        }
        last = l;
    }
    assert!(!in_data, "{line:?}: unterminated data block: {out:?}");
    if outcome == Outcome::Continue {
        assert!(
            Status::parse(last).is_some(),
            "{line:?}: no status last: {out:?}"
        );
    } else {
        assert_eq!(last, END_OF_SESSION, "{line:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut h = live();
    let text = String::from_utf8_lossy(data);
    for (i, line) in text.split('\n').enumerate() {
        if let Some((spec, _)) = console::lookup(line.trim_start_matches([' ', '\t'])) {
            if matches!(spec.action, Action::Load) {
                continue;
            }
        }
        let mut out = String::new();
        let outcome = console::run(&mut h, Origin::Session, line, &mut out);
        well_formed(line, &out, outcome);
        if outcome != Outcome::Continue {
            return;
        }
        // `json` of a data command: one JSON document in the block.
        if let Some((spec, _)) = console::lookup(line.trim_start_matches([' ', '\t'])) {
            if matches!(spec.action, Action::Show(_)) {
                let mut out = String::new();
                console::run(&mut h, Origin::Session, &format!("json {line}"), &mut out);
                let empty = format!("{DATA_HEADER}\n{DATA_END}\n");
                if let Some(body) = out
                    .strip_prefix(&format!("{DATA_HEADER}\n"))
                    .filter(|_| !out.starts_with(&empty))
                {
                    let doc = body.split(&format!("\n{DATA_END}\n")).next().unwrap();
                    if !doc.is_empty() {
                        serde_json::from_str::<serde_json::Value>(doc)
                            .unwrap_or_else(|e| panic!("json {line:?}: {e}: {doc:?}"));
                    }
                }
            }
        }
        // Keep the fabric moving: a frame from a port chosen by the line.
        let b = line.as_bytes();
        let port = PortId(1 + (i % 3) as u16);
        let mut frame = [0u8; 60];
        frame[..b.len().min(60)].copy_from_slice(&b[..b.len().min(60)]);
        let mut outq = Vec::new();
        h.fabric.forward(port, &frame, 5 + i as u64, &mut outq);
        h.fabric.drain_events().for_each(drop);
    }
});
