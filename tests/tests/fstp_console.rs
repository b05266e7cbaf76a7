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
/// No change for longer than a hello period: the trees have formed.
const TREE_QUIET: Duration = Duration::from_millis(4500);
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
    // BPDUs are counted in and out like any frame (53 bytes each), and nothing else crossed.
    let ports = lossy(&s.cmd("port/print 1"));
    let counters = Regex::new(r"(IN|OUT): +pkts +(\d+) +bytes +(\d+)").unwrap();
    let found: Vec<(u64, u64)> = counters
        .captures_iter(&ports)
        .map(|c| (c[2].parse().unwrap(), c[3].parse().unwrap()))
        .collect();
    assert_eq!(found.len(), 2, "{ports}");
    for (pkts, bytes) in found {
        assert!(pkts >= 1 && bytes == 53 * pkts, "BPDU counters: {ports}");
    }
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

/// `fstp/print` and `vlan/print` of the switch under test and of its peer (both `-F`) once the
/// trees of VLAN 0 (untagged) and VLAN 10 (tagged on both cables, added once the cables are
/// there) have formed over two parallel cables, ages masked.
fn two_cables_with_a_tagged_vlan(under_test: MgmtSwitch) -> Vec<String> {
    let peer = MgmtSwitch::start(Switch::reference_builder().args([
        "-F",
        "--macaddr",
        "02:00:00:00:00:0a",
    ]));
    let mut consoles = [
        Session::open(&under_test.mgmt).0,
        Session::open(&peer.mgmt).0,
    ];
    let _cables = [
        Cable::connect(under_test.switch.dir(), peer.switch.dir()),
        Cable::connect(under_test.switch.dir(), peer.switch.dir()),
    ];
    for s in consoles.iter_mut() {
        for c in ["vlan/create 10", "vlan/addport 10 1", "vlan/addport 10 2"] {
            let a = lossy(&s.cmd(c));
            assert!(a.contains("1000 Success"), "{c}: {a}");
        }
    }
    let ages = Regex::new(r" age -?\d+ ").unwrap();
    let look = |consoles: &mut [Session; 2]| -> Vec<String> {
        consoles
            .iter_mut()
            .flat_map(|s| {
                ["fstp/print", "vlan/print 10"].map(|c| {
                    ages.replace_all(&lossy(&s.cmd(c)), " age <AGE> ")
                        .into_owned()
                })
            })
            .collect()
    };
    // Formed: nothing changed for a while, and VLAN 10 has a blocked port.
    let start = Instant::now();
    let mut last = look(&mut consoles);
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = look(&mut consoles);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= TREE_QUIET && last.iter().any(|t| t.contains("Discarding")) {
            return last;
        }
        assert!(
            start.elapsed() < EVENTS * 3,
            "the trees did not form:\n{}",
            last.join("\n")
        );
    }
}

#[test]
fn tagged_bpdus_belong_to_their_vlan() {
    let Some(_) = needs::program(REFERENCE_VDE_SWITCH, "vde2") else {
        return;
    };
    let Some(_) = needs::in_path("dpipe", "vde2") else {
        return;
    };
    let (ours, reference) = std::thread::scope(|s| {
        let ours =
            s.spawn(|| two_cables_with_a_tagged_vlan(under_test(Switch::builder().arg("-F"))));
        let reference = s.spawn(|| {
            two_cables_with_a_tagged_vlan(under_test(Switch::reference_builder().arg("-F")))
        });
        (ours.join(), reference.join())
    });
    let (ours, reference) = match (ours, reference) {
        (Ok(o), Ok(r)) => (o, r),
        (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
    };
    // Ours (the first two texts) has one port blocked on VLAN 10 and names the peer as root.
    assert!(
        ours[0].contains("FST DATA VLAN 0010  \n ++ root 80:00:02:00:00:00:00:0a\n"),
        "{}",
        ours[0]
    );
    assert!(ours[1].contains("status=Discarding"), "{}", ours[1]);
    println!(
        "switch under test (ours), then the peer:\n{}",
        ours.join("")
    );
    assert_eq!(
        ours,
        reference,
        "fstp/print and vlan/print 10 (switch under test, then peer) differ:\n--- ours\n{}\n--- reference\n{}",
        ours.join(""),
        reference.join("")
    );
}
