//! The console's whole execute path on a live fabric: any command line (any bytes) runs
//! without panicking, its answer is well formed (a status line last, a data block closed),
//! and `json` of a data command is one JSON document. Frames derived from the input are
//! forwarded between commands, so MACs are learned, ports come and go, counters move.
//! `load` is left out (it reads files; the `rc_file` target covers scripts).
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use vde_protocol::console::{Status, DATA_END, DATA_HEADER, END_OF_SESSION};
use vdeswitch::fabric::{Credentials, Endpoint, Fabric, PortChoice, PortId};
use vdeswitch::server::console::{
    self, Action, Ctx, Effect, FstpCtl, Host, Info, Origin, Outcome, Subscriptions,
};

struct Live {
    fabric: Fabric,
    fstp: FstpCtl,
    info: Info,
    session: Option<Subscriptions>,
}

impl Host for Live {
    fn ctx(&mut self) -> Ctx<'_> {
        Ctx::new(
            &mut self.fabric,
            &mut self.fstp,
            &self.info,
            5,
            self.session,
        )
    }
    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::CloseEndpoint { port, id } => {
                self.fabric
                    .detach(port, id)
                    .expect("epclose names an attached endpoint");
            }
            Effect::Subscribe(s) => self.session = Some(s),
            // No data path here: an uplink's sockets close when dropped, hooks have nothing
            // to watch (and without edges the commands that install them fail first).
            Effect::StartVxlan(_) | Effect::Hook(_) => {}
        }
    }
}

fn live() -> Live {
    let mut fabric = Fabric::new(8, false, 16, 64);
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
        fabric.attach(PortChoice::Port(port), &who, ep).unwrap();
    }
    Live {
        fabric,
        fstp: FstpCtl::new(vdeswitch::fstp::Fstp::new(
            vde_protocol::MacAddr([0, 0xff, 1, 2, 3, 4]),
            0x8000,
            false,
            0,
        )),
        info: Info {
            pid: 1,
            mac: vde_protocol::MacAddr([0, 0xff, 1, 2, 3, 4]),
            priority: 0x8000,
            mgmt: Some((PathBuf::from("/tmp/fuzz.mgmt"), 0o600)),
            ctl_dir: PathBuf::from("/tmp/fuzz"),
            ctl_mode: 0o600,
            vxlan: Default::default(),
        },
        session: Some(0),
    }
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
