//! FSTP through the management console, differential: a switch (ours, then the reference) is
//! joined by a `dpipe` cable to a reference switch running FSTP with a lower bridge id; a
//! session subscribed to the `fstp/*` debug categories turns FSTP on (`fstp/setfstp 1`), sees
//! the tree form, and uses `fstp/print`, `fstp/setedge` and `fstp/bonus`. Both transcripts
//! (ages masked) must be the same bytes.

use integration_tests::mgmt::{event_lines, lossy, Session};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{is_reference, needs, Cable, Switch, REFERENCE_VDE_SWITCH};
use regex::Regex;
use std::time::{Duration, Instant};

/// Events of one change arrive within this; no event for this long ends a wait.
const QUIET: Duration = Duration::from_millis(1500);
/// Longest wait for events.
const EVENTS: Duration = Duration::from_secs(10);

/// Debug lines until none came for [`QUIET`] (at least `min` of them).
fn events(s: &mut Session, min: usize) -> String {
    let start = Instant::now();
    let mut all = Vec::new();
    loop {
        let got = s.drain(QUIET, QUIET);
        let quiet = got.is_empty();
        all.extend(got);
        if (quiet && event_lines(&all) >= min) || start.elapsed() > EVENTS {
            return lossy(&all);
        }
    }
}

fn transcript(under_test: MgmtSwitch) -> String {
    let peer = MgmtSwitch::start(Switch::reference_builder().args([
        "-F",
        "--macaddr",
        "02:00:00:00:00:0a",
    ]));
    let (mut s, _) = Session::open(&under_test.mgmt);
    let ages = Regex::new(r" age -?\d+ ").unwrap();
    let mut out = String::new();
    let cmd = |s: &mut Session, c: &str, out: &mut String| {
        let a = lossy(&s.cmd(c));
        out.push_str(&format!("--- {c}\n{}", ages.replace_all(&a, " age <AGE> ")));
    };
    cmd(&mut s, "debug/add fstp", &mut out);
    cmd(&mut s, "fstp/setfstp 1", &mut out);
    cmd(&mut s, "fstp/showinfo", &mut out);
    let _cable = Cable::connect(under_test.switch.dir(), peer.switch.dir());
    out.push_str(&format!(
        "--- events after the cable\n{}",
        events(&mut s, 3)
    ));
    cmd(&mut s, "fstp/print", &mut out);
    cmd(&mut s, "vlan/print", &mut out);
    cmd(&mut s, "fstp/bonus 0 1 1000", &mut out);
    cmd(&mut s, "fstp/setedge 0 1 1", &mut out);
    out.push_str(&format!("--- events after setedge\n{}", events(&mut s, 0)));
    cmd(&mut s, "fstp/print 0", &mut out);
    cmd(&mut s, "fstp/setedge 0 1 0", &mut out);
    cmd(&mut s, "fstp/setfstp 0", &mut out);
    out.push_str(&format!(
        "--- events after setfstp 0\n{}",
        events(&mut s, 0)
    ));
    cmd(&mut s, "fstp/print 0", &mut out);
    cmd(&mut s, "fstp/showinfo", &mut out);
    out
}

fn under_test(builder: integration_tests::SwitchBuilder) -> MgmtSwitch {
    MgmtSwitch::start(builder.args(["--macaddr", "02:00:00:00:00:0b"]))
}

#[test]
fn fstp_commands_and_events_are_the_references() {
    let Some(_) = needs::program(REFERENCE_VDE_SWITCH, "vde2") else {
        return;
    };
    let Some(_) = needs::in_path("dpipe", "vde2") else {
        return;
    };
    let (ours, reference) = std::thread::scope(|s| {
        let ours = s.spawn(|| transcript(under_test(Switch::builder())));
        let reference = s.spawn(|| transcript(under_test(Switch::reference_builder())));
        (ours.join(), reference.join())
    });
    let (ours, reference) = match (ours, reference) {
        (Ok(o), Ok(r)) => (o, r),
        (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
    };
    // The switch under test heard the peer: it is not the root, and said so.
    assert!(
        ours.contains("fstp/root Port 0001 VLAN 00:00 -> 80:00:02:00:00:00:00:0a"),
        "{ours}"
    );
    if ours != reference {
        let (o, r): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), reference.lines().collect());
        let first = o.iter().zip(&r).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "transcripts differ{} from line {}:\n--- ours\n{ours}\n--- reference\n{reference}",
            if is_reference() {
                " (ours is the reference here)"
            } else {
                ""
            },
            first + 1
        );
    }
}
