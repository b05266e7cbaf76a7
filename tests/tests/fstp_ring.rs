//! FSTP between our switch and the reference vde_switch 2.3.2, with real cables: rings of three
//! switches, all `-F`, joined by `dpipe vde_plug A = vde_plug B` cables, a `vde_plug` host on
//! each switch.
//!
//! The ring of two of ours and one reference is run beside a ring of three references with the
//! same MACs (so the same root), in parallel. In each: the tree forms (`fstp/print` of every
//! switch stable, a port blocked), every switch names the same root and the roles are those of
//! the reference ring; a broadcast does not circulate (each host gets it once or twice, as
//! in a ring of references); a unicast crosses; one cable on the path between two hosts is cut
//! and broadcasts sent every 20 ms show when traffic resumes. The cut is done twice: unplugged
//! (the cable's processes killed, so both switches see their ports close) and silent (its
//! processes stopped: the ports stay, only the protocol's timeouts can tell). The times are
//! printed side by side (`--nocapture`); FSTP works in seconds (hellos every 4 s).

use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{
    eth, hex, mac, needs, payload, Cable, Plug, Switch, ARRIVE, BROADCAST, REFERENCE_VDE_SWITCH,
};
use regex::Regex;
use std::time::{Duration, Instant};

/// How long the tree may take to form.
const CONVERGE: Duration = Duration::from_secs(30);
/// No `fstp/print` changed for longer than a hello period: the tree has formed.
const QUIET: Duration = Duration::from_millis(4500);
/// How long copies of one broadcast are counted.
const COUNT_WINDOW: Duration = Duration::from_millis(1000);
/// Longest wait for traffic to resume after a cut (a blocked port that hears nothing reverts
/// after two 16-second windows).
const RECOVER: Duration = Duration::from_secs(60);
/// Probes after the cut go this often.
const PROBE_EVERY: Duration = Duration::from_millis(20);

/// Where BPDUs go.
const BPDU_DST: [u8; 6] = [0x01, 0x80, 0xc2, 0, 0, 0];

/// Switch MACs of the ring (A, B, C): A has the lowest bridge id and is the root.
const MACS: [u8; 3] = [0x0a, 0x0b, 0x0c];

/// Cables in connection order: A-B, B-C, C-A. Each switch gives the lowest free port, so A has
/// ports 1 (to B) and 2 (to C), B 1 (to A) and 2 (to C), C 1 (to B) and 2 (to A).
const CABLES: [[(usize, u16); 2]; 3] = [[(0, 1), (1, 1)], [(1, 2), (2, 1)], [(2, 2), (0, 2)]];

struct Node {
    sw: MgmtSwitch,
    console: Session,
}

fn start(ours: bool, m: u8) -> Node {
    let builder = if ours {
        Switch::builder()
    } else {
        Switch::reference_builder()
    };
    let mac = format!("02:00:00:00:00:{m:02x}");
    let sw = MgmtSwitch::start(builder.args(["-F", "--macaddr", &mac]));
    let (console, banner) = Session::open(&sw.mgmt);
    assert!(!banner.is_empty(), "no console banner");
    Node { sw, console }
}

/// `fstp/print` with the ages masked.
fn fstp_print(n: &mut Node) -> String {
    let ages = Regex::new(r" age -?\d+ ").unwrap();
    ages.replace_all(&lossy(&n.console.cmd("fstp/print")), " age <AGE> ")
        .into_owned()
}

/// Ports whose role is `role` in an `fstp/print` text.
fn ports_with_role(text: &str, role: &str) -> Vec<u16> {
    let re = Regex::new(r"(?m)^ -- Port (\d{4}) tagged=\d portcost=\d+ role=(\S+)$").unwrap();
    re.captures_iter(text)
        .filter(|c| &c[2] == role)
        .map(|c| c[1].parse().unwrap())
        .collect()
}

/// Cables with a blocked end.
fn blocked_cables(texts: &[String]) -> Vec<usize> {
    let mut v: Vec<usize> = (0..CABLES.len())
        .filter(|&c| {
            CABLES[c]
                .iter()
                .any(|&(n, p)| ports_with_role(&texts[n], "Alternate/Backup").contains(&p))
        })
        .collect();
    v.dedup();
    v
}

/// Waits until no `fstp/print` changes for [`QUIET`] and some port is blocked; the texts and
/// when they last changed.
fn converge(nodes: &mut [Node], label: &str) -> (Vec<String>, Instant) {
    let start = Instant::now();
    let mut last: Vec<String> = nodes.iter_mut().map(fstp_print).collect();
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now: Vec<String> = nodes.iter_mut().map(fstp_print).collect();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= QUIET && !blocked_cables(&last).is_empty() {
            return (last, since);
        }
        assert!(
            start.elapsed() < CONVERGE,
            "{label}: the tree did not form within {CONVERGE:?}; fstp/print:\n{}",
            last.join("\n")
        );
    }
}

/// The next frame for the host, skipping the switch's hellos (BPDUs reach host ports too).
fn recv_data(plug: &Plug, timeout: Duration) -> Option<Vec<u8>> {
    let end = Instant::now() + timeout;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        let f = plug.recv_timeout(left)?;
        if f.get(..6) != Some(&BPDU_DST[..]) {
            return Some(f);
        }
    }
}

/// The next frame for the host is `want`.
#[track_caller]
fn expect(plug: &Plug, want: &[u8], context: &str) {
    match recv_data(plug, ARRIVE) {
        Some(f) => assert!(f == want, "{context}: got {}", hex(&f)),
        None => panic!("{context}: nothing within {ARRIVE:?}"),
    }
}

/// Waits until no port is blocked any more; the texts.
fn converge_unblocked(nodes: &mut [Node], label: &str) -> Vec<String> {
    let start = Instant::now();
    loop {
        let now: Vec<String> = nodes.iter_mut().map(fstp_print).collect();
        if now.iter().all(|t| !t.contains("role=Alternate/Backup")) {
            return now;
        }
        assert!(
            start.elapsed() < CONVERGE,
            "{label}: a port is still blocked {CONVERGE:?} after the cut; fstp/print:\n{}",
            now.join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Receives frames for `window`; how many equal `frame`.
fn copies(plug: &Plug, frame: &[u8], window: Duration) -> usize {
    let end = Instant::now() + window;
    let mut n = 0;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match recv_data(plug, left) {
            Some(f) if f == frame => n += 1,
            Some(_) => {}
            None => break,
        }
    }
    n
}

struct Report {
    texts: Vec<String>,
    /// `fstp/print` after the cut.
    healed: Vec<String>,
    converged: Duration,
    copies: [usize; 2],
    cut: usize,
    recovered: Duration,
}

/// How a cable is cut.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Its processes are killed: both switches see their ports close.
    Unplug,
    /// Its processes are stopped: the ports stay, nothing crosses (only timeouts tell).
    Silence,
}

/// A ring with `ours[i]` telling whether switch i is ours.
fn ring(ours: [bool; 3], how: Cut, label: &str) -> Report {
    let mut nodes: Vec<Node> = (0..3).map(|i| start(ours[i], MACS[i])).collect();
    // The third cable closes the ring.
    let mut t0 = Instant::now();
    let mut cables: Vec<Option<Cable>> = CABLES
        .iter()
        .map(|&[(a, _), (b, _)]| {
            t0 = Instant::now();
            Some(Cable::connect(
                nodes[a].sw.switch.dir(),
                nodes[b].sw.switch.dir(),
            ))
        })
        .collect();
    let (texts, formed) = converge(&mut nodes, label);
    let converged = formed.saturating_duration_since(t0);

    // One host on each switch (ports 3).
    let mut pa = Plug::attach(&nodes[0].sw.switch);
    let pb = Plug::attach(&nodes[1].sw.switch);
    let mut pc = Plug::attach(&nodes[2].sw.switch);
    let (ma, mc) = (mac(0xa1), mac(0xc1));

    // A broadcast reaches every host, and does not circulate.
    let x = eth(BROADCAST, ma, ETH_P_TEST, &payload(46, 1));
    pa.send(&x);
    let copies = [copies(&pb, &x, COUNT_WINDOW), copies(&pc, &x, COUNT_WINDOW)];
    assert!(
        copies.iter().all(|&n| (1..=2).contains(&n)),
        "{label}: copies of one broadcast at B and C: {copies:?} (a loop, or a cut-off \
         switch); fstp/print:\n{}",
        texts.join("\n")
    );
    // Unicast crosses (C's host learned by its broadcast).
    let hello = eth(BROADCAST, mc, ETH_P_TEST, &payload(46, 2));
    pc.send(&hello);
    expect(&pa, &hello, &format!("{label}: C's broadcast at A"));
    let u = eth(mc, ma, ETH_P_TEST, &payload(300, 3));
    pa.send(&u);
    expect(&pc, &u, &format!("{label}: unicast A -> C"));

    // Cut a cable on the path A-C: the direct one, unless that is the blocked one.
    let blocked = blocked_cables(&texts);
    let cut = if blocked.contains(&2) { 0 } else { 2 };
    match how {
        Cut::Unplug => drop(cables[cut].take()),
        Cut::Silence => cables[cut].as_ref().expect("cable").silence(),
    }
    let t_cut = Instant::now();
    let mut seq = 10u8;
    let recovered = loop {
        let probe = eth(BROADCAST, ma, ETH_P_TEST, &payload(46, seq));
        pa.send(&probe);
        let mut got = false;
        let end = Instant::now() + PROBE_EVERY;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match recv_data(&pc, left) {
                Some(f) if f.get(..6) == Some(&BROADCAST[..]) && f.get(6..12) == Some(&ma[..]) => {
                    got = true;
                }
                Some(_) => {}
                None => break,
            }
        }
        if got {
            break t_cut.elapsed();
        }
        seq = seq.wrapping_add(1);
        if t_cut.elapsed() > RECOVER {
            let now: Vec<String> = nodes.iter_mut().map(fstp_print).collect();
            panic!(
                "{label}: no traffic A -> C within {RECOVER:?} after cutting cable {cut}; \
                 fstp/print:\n{}",
                now.join("\n")
            );
        }
    };
    // And unicast crosses again.
    pc.send(&eth(BROADCAST, mc, ETH_P_TEST, &payload(46, 5)));
    let u2 = eth(mc, ma, ETH_P_TEST, &payload(300, 6));
    let deadline = Instant::now() + ARRIVE;
    let mut crossed = false;
    while !crossed && Instant::now() < deadline {
        pa.send(&u2);
        let end = Instant::now() + Duration::from_millis(200);
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match recv_data(&pc, left) {
                Some(f) if f == u2 => crossed = true,
                Some(_) => {}
                None => break,
            }
        }
    }
    assert!(
        crossed,
        "{label}: unicast A -> C after the cut never arrived"
    );
    // Unplugged, the ring is a line: nothing is blocked any more (once the tree settled again).
    // A silent cable stays plugged in: its ports stay, one of them blocked.
    let healed = if how == Cut::Unplug {
        converge_unblocked(&mut nodes, label)
    } else {
        converge(&mut nodes, label).0
    };
    drop(cables);
    Report {
        texts,
        healed,
        converged,
        copies,
        cut,
        recovered,
    }
}

#[test]
fn a_ring_of_ours_and_the_reference_converges_and_heals_like_a_ring_of_references() {
    let Some(_) = needs::program(REFERENCE_VDE_SWITCH, "vde2") else {
        return;
    };
    let Some(_) = needs::in_path("dpipe", "vde2") else {
        return;
    };
    let (mixed, refs) = std::thread::scope(|s| {
        let mixed = s.spawn(|| ring([true, true, false], Cut::Unplug, "ours, ours, reference"));
        let refs = s.spawn(|| ring([false, false, false], Cut::Unplug, "three references"));
        (mixed.join(), refs.join())
    });
    let (mixed, refs) = match (mixed, refs) {
        (Ok(m), Ok(r)) => (m, r),
        (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
    };

    // Every switch names the root (A, the lowest bridge id); A says it is the root switch.
    let root = " ++ root 80:00:02:00:00:00:00:0a\n";
    for (i, t) in mixed.texts.iter().enumerate() {
        assert!(t.contains(root), "switch {i} of the mixed ring:\n{t}");
        assert_eq!(
            t.contains(" ROOTSWITCH "),
            i == 0,
            "switch {i} of the mixed ring:\n{t}"
        );
        if i != 0 {
            assert_eq!(ports_with_role(t, "Root").len(), 1, "switch {i}:\n{t}");
        }
    }
    // The same tree as the references make: every switch's fstp/print (ages masked) as the
    // reference's in its place.
    for i in 0..3 {
        assert_eq!(
            mixed.texts[i], refs.texts[i],
            "switch {i}: fstp/print differs between the mixed ring and the reference ring"
        );
    }
    // After the cut, too.
    for i in 0..3 {
        assert_eq!(
            mixed.healed[i], refs.healed[i],
            "switch {i}: fstp/print after the cut differs between the mixed and the reference ring"
        );
    }
    println!("fstp/print of the mixed ring (A and B ours, C the reference):");
    for t in &mixed.texts {
        print!("{t}");
    }
    println!("... and after the cut:");
    for t in &mixed.healed {
        print!("{t}");
    }
    for (name, r) in [
        ("ours, ours, reference", &mixed),
        ("three references", &refs),
    ] {
        println!(
            "ring of {name}: tree formed {:.1} s after the ring closed (as first seen by \
             fstp/print, polled every 0.2 s), copies of one broadcast at B and C {:?}, traffic A -> C resumed {:.3} s \
             after cutting cable {} (probes every {} ms)",
            r.converged.as_secs_f64(),
            r.copies,
            r.recovered.as_secs_f64(),
            ["A-B", "B-C", "C-A"][r.cut],
            PROBE_EVERY.as_millis()
        );
    }
}

/// A cable that goes silent (its processes stopped, its ports still attached) is found by the
/// timeouts only: a root port silent for 12 s is given up, a blocked port that hears nothing
/// for two 16-second windows forwards again. Ours beside the references.
#[test]
fn a_silent_cable_is_routed_around_like_in_a_ring_of_references() {
    let Some(_) = needs::program(REFERENCE_VDE_SWITCH, "vde2") else {
        return;
    };
    let Some(_) = needs::in_path("dpipe", "vde2") else {
        return;
    };
    let (mixed, refs) = std::thread::scope(|s| {
        let mixed = s.spawn(|| ring([true, true, false], Cut::Silence, "ours, ours, reference"));
        let refs = s.spawn(|| ring([false, false, false], Cut::Silence, "three references"));
        (mixed.join(), refs.join())
    });
    let (mixed, refs) = match (mixed, refs) {
        (Ok(m), Ok(r)) => (m, r),
        (Err(e), _) | (_, Err(e)) => std::panic::resume_unwind(e),
    };
    // The same tree before and after, as the references make it.
    for i in 0..3 {
        assert_eq!(
            mixed.texts[i], refs.texts[i],
            "switch {i} before the silence"
        );
        assert_eq!(
            mixed.healed[i], refs.healed[i],
            "switch {i} once traffic resumed after the silence"
        );
    }
    for (name, r) in [
        ("ours, ours, reference", &mixed),
        ("three references", &refs),
    ] {
        println!(
            "ring of {name}: traffic A -> C resumed {:.1} s after cable {} went silent",
            r.recovered.as_secs_f64(),
            ["A-B", "B-C", "C-A"][r.cut],
        );
        for t in &r.healed {
            print!("{t}");
        }
    }
}
