//! The FSTP state machine (`vdeswitch::fstp`) against the reference vde_switch 2.3.2 (`-F`), over
//! real sockets: the test plays cables (it relays frames between two reference switches, each
//! end a datagram client of the vde control protocol) and plays one more switch with the state
//! machine, whose ports are such clients too.
//!
//! Each scenario runs twice: with reference switches only, and with the state machine in place
//! of one of them (same MAC, same priority). The `fstp/print` texts of every switch (the
//! reference's console, the state machine's rendering) must be the same in both runs once the
//! ages are masked, and so must the BPDUs each switch sends once the tree has formed (message
//! age masked: ours counts hops beyond the first bridge).
//!
//! Every cable, the state machine's included, carries frames only while the test pumps, so a
//! stage's console commands are all answered before any BPDU of the stage crosses, in both runs.

use integration_tests::mgmt::{lossy, Session};
use integration_tests::raw::{reply_path, RawClient, Reply};
use integration_tests::switch::port_of_data_socket;
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{Switch, SETTLE};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::time::{Duration, Instant};
use vde_protocol::MacAddr;
use vdeswitch::fabric::PortId;
use vdeswitch::fstp::{Effect, Fstp, DEFAULT_PRIORITY};

/// How long a tree may take to form (it forms as fast as BPDUs cross; hellos are 4 s apart).
const CONVERGE: Duration = Duration::from_secs(20);
/// No change to any `fstp/print` for this long: the tree has formed.
const QUIET: Duration = Duration::from_millis(1500);

fn mac(last: u8) -> String {
    format!("02:00:00:00:00:{last:02x}")
}

/// The state machine with a clock.
struct Model {
    fstp: Fstp,
    start: Instant,
}

impl Model {
    fn now(&self) -> u64 {
        self.start.elapsed().as_secs()
    }
}

enum Link {
    /// Two reference switches; the test relays what each end receives to the other.
    Cable { ends: [RawClient; 2] },
    /// Port `port` of the state machine, attached to a reference switch.
    Model { port: PortId, client: RawClient },
}

struct Cable {
    link: Link,
    /// The switches at the two ends (indexes into `Lab::nodes`).
    nodes: [usize; 2],
    /// The port of each end on its switch.
    ports: [PortId; 2],
    /// Carries nothing (both ends stay attached).
    cut: bool,
    /// The VLANs it carries: 0 untagged, the others tagged.
    vlans: Vec<u16>,
}

/// One switch of a scenario: a reference process, or the state machine.
enum Node {
    Reference {
        sw: Box<MgmtSwitch>,
        console: Session,
    },
    Model,
}

struct Lab {
    nodes: Vec<Node>,
    model: Option<Model>,
    cables: Vec<Option<Cable>>,
    /// The BPDUs each switch sent into each cable since [`Lab::hellos`] began, per VLAN tag
    /// (0 untagged): (cable, node, VLAN) -> frames.
    sent: BTreeMap<(usize, usize, u16), Vec<Vec<u8>>>,
    /// BPDUs of the state machine not yet on their cable: like a reference's, they cross only
    /// while the test pumps.
    outbox: Vec<(PortId, Vec<u8>)>,
    clients: usize,
    /// Every BPDU that crossed a cable, for the failure messages: when, cable, sender, VLAN,
    /// flags.
    trace: Vec<String>,
    born: Instant,
}

impl Lab {
    /// Switches with MACs ending in `macs` (default priority); the one at `model` is the state
    /// machine.
    fn new(macs: &[u8], model: Option<usize>) -> Lab {
        let nodes = macs
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                if Some(i) == model {
                    return Node::Model;
                }
                let sw = MgmtSwitch::start(Switch::reference_builder().args([
                    "-F",
                    "--macaddr",
                    &mac(m),
                ]));
                let (console, banner) = Session::open(&sw.mgmt);
                assert!(!banner.is_empty(), "no banner from the reference console");
                Node::Reference {
                    sw: Box::new(sw),
                    console,
                }
            })
            .collect();
        let model = model.map(|i| Model {
            fstp: Fstp::new(MacAddr([2, 0, 0, 0, 0, macs[i]]), DEFAULT_PRIORITY, true, 0),
            start: Instant::now(),
        });
        Lab {
            nodes,
            model,
            cables: Vec::new(),
            sent: BTreeMap::new(),
            outbox: Vec::new(),
            clients: 0,
            trace: Vec::new(),
            born: Instant::now(),
        }
    }

    /// A datagram client attached to reference switch `n` (it gets the lowest free port), and
    /// that port.
    fn attach(&mut self, n: usize) -> (RawClient, PortId) {
        let Node::Reference { sw, .. } = &self.nodes[n] else {
            panic!("node {n} is not a reference switch")
        };
        self.clients += 1;
        let mut c = RawClient::connect(&sw.switch, &format!("fstp{}", self.clients));
        let req = c.request(0, b"fstp test cable");
        c.write(&req);
        let port = match c.read_reply(SETTLE) {
            Reply::Data(r) => {
                c.connect_data(&r);
                let path = reply_path(&r);
                let name = path.file_name().unwrap().to_string_lossy();
                PortId(port_of_data_socket(&name).expect("data socket named NNN.M") as u16)
            }
            other => panic!("reference switch {n} did not attach a port: {other:?}"),
        };
        c.data.set_nonblocking(true).expect("nonblocking");
        (c, port)
    }

    fn model_ports(&self) -> Vec<PortId> {
        self.cables
            .iter()
            .flatten()
            .filter_map(|c| match c.link {
                Link::Model { port, .. } => Some(port),
                _ => None,
            })
            .collect()
    }

    /// Plugs a cable between switches `x` and `y`; returns its index.
    fn plug(&mut self, x: usize, y: usize) -> usize {
        let (mx, my) = (
            matches!(self.nodes[x], Node::Model),
            matches!(self.nodes[y], Node::Model),
        );
        let (link, ports) = match (mx, my) {
            (false, false) => {
                let (a, pa) = self.attach(x);
                let (b, pb) = self.attach(y);
                (Link::Cable { ends: [a, b] }, [pa, pb])
            }
            (true, false) | (false, true) => {
                let (client, theirs) = self.attach(if mx { y } else { x });
                let used = self.model_ports();
                let port = (1..).map(PortId).find(|p| !used.contains(p)).unwrap();
                let ports = if mx { [port, theirs] } else { [theirs, port] };
                (Link::Model { port, client }, ports)
            }
            (true, true) => panic!("one state machine only"),
        };
        self.cables.push(Some(Cable {
            link,
            nodes: [x, y],
            ports,
            cut: false,
            vlans: vec![0],
        }));
        if let Some(Link::Model { port, .. }) =
            self.cables.last().unwrap().as_ref().map(|c| &c.link)
        {
            let port = *port;
            let m = self.model.as_mut().unwrap();
            let mut out = Vec::new();
            m.fstp.port_added(0, port, false, m.now(), &mut out);
            self.apply(out);
        }
        self.cables.len() - 1
    }

    /// `vlan/create VLAN` on every switch.
    fn create_vlan(&mut self, vlan: u16) {
        for n in 0..self.nodes.len() {
            self.console(n, &format!("vlan/create {vlan}"));
        }
        if let Some(m) = self.model.as_mut() {
            let mut out = Vec::new();
            m.fstp.vlan_created(vlan, &mut out);
        }
    }

    /// Both ends of cable `c` carry `vlan` tagged (`vlan/addport VLAN PORT`).
    fn trunk(&mut self, c: usize, vlan: u16) {
        let (nodes, ports) = {
            let cable = self.cables[c].as_ref().unwrap();
            (cable.nodes, cable.ports)
        };
        self.cables[c].as_mut().unwrap().vlans.push(vlan);
        for (n, port) in nodes.into_iter().zip(ports) {
            if let Node::Model = self.nodes[n] {
                let m = self.model.as_mut().unwrap();
                let mut out = Vec::new();
                m.fstp.port_added(vlan, port, true, m.now(), &mut out);
                self.apply(out);
            } else {
                self.console(n, &format!("vlan/addport {vlan} {port}"));
            }
        }
    }

    /// Runs a command on reference switch `n`'s console (nothing for the state machine);
    /// it must succeed.
    fn console(&mut self, n: usize, cmd: &str) {
        if let Node::Reference { console, .. } = &mut self.nodes[n] {
            let answer = lossy(&console.cmd(cmd));
            assert!(answer.contains("1000 Success"), "{cmd}: {answer:?}");
        }
    }

    /// Unplugs a cable: both switches lose the port.
    ///
    /// A reference end is closed with `port/epclose` before its client goes: vde_switch 2.3.2
    /// now and then misses a client hanging up (seen here: the control connection's fd closed,
    /// the endpoint and its port kept for good), which would leave the scenario undecided.
    fn unplug(&mut self, c: usize) {
        let (nodes, ports) = {
            let cable = self.cables[c].as_ref().expect("plugged");
            (cable.nodes, cable.ports)
        };
        let endpoint = Regex::new(r"endpoint ID (\d+)").unwrap();
        for (n, port) in nodes.into_iter().zip(ports) {
            if let Node::Reference { console, .. } = &mut self.nodes[n] {
                let listing = lossy(&console.cmd(&format!("port/print {port}")));
                let id = endpoint
                    .captures(&listing)
                    .unwrap_or_else(|| panic!("no endpoint on port {port}: {listing:?}"))[1]
                    .parse::<u32>()
                    .unwrap();
                self.console(n, &format!("port/epclose {port} {id}"));
            }
        }
        let cable = self.cables[c].take().unwrap();
        if let Link::Model { port, .. } = cable.link {
            let m = self.model.as_mut().unwrap();
            let mut out = Vec::new();
            m.fstp.port_removed(0, port, m.now(), &mut out);
            self.apply(out);
        }
    }

    /// The cable stops carrying frames.
    fn cut(&mut self, c: usize) {
        self.cables[c].as_mut().unwrap().cut = true;
    }

    /// Does what the state machine said: queues its BPDUs for their cables.
    ///
    /// They are not sent at once: a reference end gets the frames of a relayed cable only when
    /// the test pumps, that is after the console commands of the stage (`vlan/addport` on both
    /// ends) have been answered. Sent at once, a tagged BPDU of the state machine would race
    /// the reference's `vlan/addport` (the reference drops it if it reads it first, its port
    /// then stays forwarding until the next hello blocks it: one more topology change in the
    /// runs with the state machine only).
    fn apply(&mut self, effects: Vec<Effect>) {
        for e in effects {
            if let Effect::Send { port, bpdu } = e {
                self.outbox.push((port, bpdu.to_bytes()));
            }
        }
    }

    /// Sends the state machine's queued BPDUs into their cables (dropped if the cable is
    /// unplugged or cut).
    fn deliver(&mut self) {
        let me = self.nodes.iter().position(|n| matches!(n, Node::Model));
        for (port, frame) in std::mem::take(&mut self.outbox) {
            let found = self.cables.iter().enumerate().find_map(|(i, c)| match c {
                Some(Cable {
                    link: Link::Model { port: p, client },
                    cut,
                    ..
                }) if *p == port => Some((i, client, *cut)),
                _ => None,
            });
            let Some((i, client, cut)) = found else {
                continue;
            };
            if !cut {
                client.send_frame(&frame);
                self.log(i, me.unwrap(), &frame);
                self.sent
                    .entry((i, me.unwrap(), tag_of(&frame)))
                    .or_default()
                    .push(frame);
            }
        }
    }

    fn log(&mut self, cable: usize, node: usize, frame: &[u8]) {
        self.trace.push(trace_line(self.born, cable, node, frame));
    }

    /// Moves frames for `d`: relays between reference switches, feeds the state machine, gives
    /// it the time.
    fn pump(&mut self, d: Duration) {
        let until = Instant::now() + d;
        let mut buf = vec![0u8; 2048];
        loop {
            self.deliver();
            let mut to_model: Vec<(PortId, Vec<u8>)> = Vec::new();
            let mut trace = Vec::new();
            for (i, slot) in self.cables.iter().enumerate() {
                let Some(cable) = slot else { continue };
                match &cable.link {
                    Link::Cable { ends } => {
                        for side in 0..2 {
                            while let Some(f) = recv(&ends[side], &mut buf) {
                                if !cable.cut {
                                    ends[1 - side].send_frame(&f);
                                    trace.push(trace_line(self.born, i, cable.nodes[side], &f));
                                    self.sent
                                        .entry((i, cable.nodes[side], tag_of(&f)))
                                        .or_default()
                                        .push(f);
                                }
                            }
                        }
                    }
                    Link::Model { port, client } => {
                        let from = if matches!(self.nodes[cable.nodes[0]], Node::Model) {
                            cable.nodes[1]
                        } else {
                            cable.nodes[0]
                        };
                        while let Some(f) = recv(client, &mut buf) {
                            if !cable.cut {
                                trace.push(trace_line(self.born, i, from, &f));
                                self.sent
                                    .entry((i, from, tag_of(&f)))
                                    .or_default()
                                    .push(f.clone());
                                to_model.push((*port, f));
                            }
                        }
                    }
                }
            }
            self.trace.append(&mut trace);
            if let Some(m) = self.model.as_mut() {
                let mut out = Vec::new();
                let now = m.now();
                for (port, f) in to_model {
                    // The model's ports carry VLAN 0 untagged, other VLANs tagged.
                    m.fstp.receive(port, tag_of(&f), &f, now, &mut out);
                }
                m.fstp.tick(now, &mut out);
                self.apply(out);
                self.deliver();
            }
            if Instant::now() >= until {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// `fstp/print` of switch `n`, ages masked.
    fn print(&mut self, n: usize) -> String {
        let text = match &mut self.nodes[n] {
            Node::Reference { console, .. } => {
                let answer = lossy(&console.cmd("fstp/print"));
                let body = answer
                    .split_once("0000 DATA END WITH '.'\n")
                    .and_then(|(_, rest)| rest.split_once("\n.\n"))
                    .unwrap_or_else(|| panic!("odd fstp/print answer: {answer:?}"))
                    .0;
                format!("{body}\n")
            }
            Node::Model => {
                let m = self.model.as_ref().unwrap();
                let mut s = String::new();
                m.fstp.print_all(m.now(), &mut s);
                s
            }
        };
        Regex::new(r" age -?\d+ ")
            .unwrap()
            .replace_all(&text, " age _ ")
            .into_owned()
    }

    fn prints(&mut self) -> Vec<String> {
        (0..self.nodes.len()).map(|n| self.print(n)).collect()
    }

    /// Pumps until no `fstp/print` changes for [`QUIET`]; returns the prints and how long the
    /// tree took to settle (to the last change).
    fn settle(&mut self) -> (Vec<String>, Duration) {
        let start = Instant::now();
        let mut last = self.prints();
        let mut changed = Instant::now();
        while changed.elapsed() < QUIET {
            assert!(
                start.elapsed() < CONVERGE,
                "FSTP did not settle in {CONVERGE:?}; now:\n{}",
                last.join("\n")
            );
            self.pump(Duration::from_millis(100));
            let now = self.prints();
            if now != last {
                last = now;
                changed = Instant::now();
            }
        }
        (last, changed - start)
    }

    /// Pumps until `done(prints)`; returns how long that took.
    fn wait_for(&mut self, limit: Duration, done: impl Fn(&[String]) -> bool) -> Duration {
        let start = Instant::now();
        loop {
            let prints = self.prints();
            if done(&prints) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "not reached in {limit:?}; now:\n{}",
                prints.join("\n")
            );
            self.pump(Duration::from_millis(100));
        }
    }

    /// What each switch sends into each cable once the tree has formed: the distinct BPDUs
    /// of each (cable, switch, VLAN), message age masked, from now until every end of every
    /// cable has sent two hellos on each VLAN it carries.
    ///
    /// The window ends on that event, not after a time: on a busy machine a hello may come
    /// late, and where the window starts in the hello cycle differs from run to run. Two hellos
    /// from every end mean the window holds everything each switch sends in answer to the
    /// others' hellos. In a formed tree that is the hello alone, so any other BPDU (a topology
    /// change, a proposal) shows up as a difference from the run without the state machine.
    fn hellos(&mut self) -> Hellos {
        const AGREEMENT: u8 = 0x40;
        let expected: Vec<(usize, usize, u16)> = self
            .cables
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.as_ref().filter(|c| !c.cut).map(|c| (i, c)))
            .flat_map(|(i, c)| {
                c.nodes
                    .into_iter()
                    .flat_map(move |n| c.vlans.iter().map(move |&v| (i, n, v)))
            })
            .collect();
        let limit = Duration::from_secs(4 * vdeswitch::fstp::HELLO_TIME);
        self.sent.clear();
        let start = Instant::now();
        loop {
            let hellos = |k: &(usize, usize, u16)| {
                self.sent.get(k).map_or(0, |fs| {
                    fs.iter()
                        .filter(|f| f[if f[12] == 0x81 { 25 } else { 21 }] & AGREEMENT != 0)
                        .count()
                })
            };
            if expected.iter().all(|k| hellos(k) >= 2) {
                break;
            }
            assert!(
                start.elapsed() < limit,
                "not every switch sent two hellos into each cable in {limit:?}; expected \
                 (cable, switch, VLAN) {expected:?}\n{}",
                self.trace.join("\n")
            );
            self.pump(Duration::from_millis(50));
        }
        self.sent
            .iter()
            .map(|(&k, fs)| {
                let distinct = fs
                    .iter()
                    .map(|f| {
                        let mut f = f.clone();
                        let at = if f[12] == 0x81 { 48 } else { 44 };
                        f[at] = 0;
                        f[at + 1] = 0;
                        f.iter().map(|b| format!("{b:02x}")).collect::<String>()
                    })
                    .collect::<BTreeSet<_>>();
                (k, distinct)
            })
            .collect()
    }
}

/// The distinct BPDUs of each (cable, switch, VLAN), as hex.
type Hellos = BTreeMap<(usize, usize, u16), BTreeSet<String>>;

/// The VLAN id of a tagged frame, 0 for an untagged one.
fn tag_of(f: &[u8]) -> u16 {
    match f.get(12..16) {
        Some([0x81, 0x00, hi, lo]) => u16::from_be_bytes([*hi, *lo]) & 0x0fff,
        _ => 0,
    }
}

/// A line of [`Lab::trace`].
fn trace_line(born: Instant, cable: usize, node: usize, f: &[u8]) -> String {
    let at = if f.get(12) == Some(&0x81) { 25 } else { 21 };
    format!(
        "{:>7.3}s cable {cable} from {node} VLAN {:>2} flags {:02x} age {}",
        born.elapsed().as_secs_f64(),
        tag_of(f),
        f.get(at).copied().unwrap_or(0),
        f.get(at + 23).copied().unwrap_or(0),
    )
}

/// One frame from a nonblocking client, if any.
fn recv(c: &RawClient, buf: &mut [u8]) -> Option<Vec<u8>> {
    match c.data.recv(buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(e) => panic!("reading a cable: {e}"),
    }
}

/// The same scenario with references only and with the state machine in place of `model`:
/// every stage must end with the same prints and, at the last stage, the same BPDUs. Returns
/// the prints of each stage and the last BPDUs: (cable, switch, VLAN) -> hex.
fn differential(
    macs: &[u8],
    model: usize,
    stages: &[&(dyn Fn(&mut Lab) + Sync)],
) -> (Vec<Vec<String>>, Hellos) {
    // Both labs run at once, each in its own thread.
    let run = |model: Option<usize>| {
        let mut lab = Lab::new(macs, model);
        let prints: Vec<Vec<String>> = stages
            .iter()
            .map(|stage| {
                stage(&mut lab);
                lab.settle().0
            })
            .collect();
        let hellos = lab.hellos();
        (prints, hellos, lab.trace.join("\n"))
    };
    let ((got, got_hellos, got_trace), (want, want_hellos, want_trace)) = std::thread::scope(|s| {
        let reference = s.spawn(|| run(None));
        (run(Some(model)), reference.join().expect("reference lab"))
    });
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        for n in 0..macs.len() {
            assert_eq!(
                got[n],
                want[n],
                "stage {i}, switch {n} ({}), state machine at {model}",
                mac(macs[n])
            );
        }
    }
    assert_eq!(
        got_hellos.keys().collect::<Vec<_>>(),
        want_hellos.keys().collect::<Vec<_>>(),
        "who sends BPDUs into which cable"
    );
    for (k, w) in &want_hellos {
        assert_eq!(
            &got_hellos[k], w,
            "BPDU of switch {} into cable {}, VLAN {}\n=== with the state machine ===\n{got_trace}\n=== references only ===\n{want_trace}",
            k.1, k.0, k.2
        );
    }
    (got, got_hellos)
}

/// A stage: one more cable between switches 0 and 1.
fn one_cable(lab: &mut Lab) {
    lab.plug(0, 1);
}

#[test]
fn reference_takes_the_state_machine_as_root_when_its_id_is_lower() {
    let (prints, _) = differential(&[0x0a, 0x0b], 0, &[&one_cable, &one_cable]);
    // The reference: root 0a through port 1; the second cable blocked at both ends.
    let r = &prints[1][1];
    assert!(r.contains(" ++ root 80:00:02:00:00:00:00:0a\n"), "{r}");
    assert!(r.contains(" ++ rootport 0001 cost 20000000 "), "{r}");
    assert!(
        r.contains("Port 0002 tagged=0 portcost=20000000 role=Alternate/Backup"),
        "{r}"
    );
    assert!(prints[1][0].starts_with("FST DATA VLAN 0000 ROOTSWITCH \n"));
}

#[test]
fn state_machine_takes_the_reference_as_root_when_its_id_is_lower() {
    let (prints, _) = differential(
        &[0x0a, 0x0b],
        1,
        &[
            &one_cable,
            &one_cable,
            // The first cable unplugged: the blocked one takes over at once.
            &|lab| lab.unplug(0),
        ],
    );
    let m = &prints[2][1];
    assert!(m.contains(" ++ root 80:00:02:00:00:00:00:0a\n"), "{m}");
    assert!(
        m.contains("Port 0002 tagged=0 portcost=20000000 role=Root"),
        "{m}"
    );
}

/// A ring of three (0a-0b, 0b-0c, 0c-0a, plugged in that order), then 0c-0a unplugged.
fn ring_of_three(model: usize) {
    let (prints, _) = differential(
        &[0x0a, 0x0b, 0x0c],
        model,
        &[
            &|lab| {
                lab.plug(0, 1);
                lab.pump(Duration::from_millis(200));
                lab.plug(1, 2);
                lab.pump(Duration::from_millis(200));
                lab.plug(2, 0);
            },
            &|lab| lab.unplug(2),
        ],
    );
    // One cable blocked, at both ends: 0b-0c, the farthest from the root.
    for (n, port) in [(1, 2), (2, 1)] {
        let p = &prints[0][n];
        let line = format!("Port {port:04} tagged=0 portcost=20000000 role=Alternate/Backup");
        assert!(p.contains(&line), "{p}");
    }
    let blocked: usize = prints[0]
        .iter()
        .map(|p| p.matches("Alternate/Backup").count())
        .sum();
    assert_eq!(blocked, 2, "{prints:?}");
    // Unplugged: a line, nothing blocked.
    assert!(prints[1].iter().all(|p| !p.contains("Alternate/Backup")));
}

#[test]
fn ring_of_three_with_the_state_machine_as_root() {
    ring_of_three(0);
}

#[test]
fn ring_of_three_with_the_state_machine_in_the_middle() {
    ring_of_three(1);
}

#[test]
fn ring_of_three_with_the_state_machine_blocking() {
    ring_of_three(2);
}

/// A cable of the ring stops carrying frames without anyone unplugging it: the switch beyond
/// it notices its root is silent (first hello more than 12 s after the last BPDU) and the
/// blocked cable opens. The same time with the state machine in the ring as without.
#[test]
fn silently_cut_cable_is_routed_around_as_fast_as_by_the_reference() {
    let ring = |lab: &mut Lab| {
        lab.plug(0, 1);
        lab.pump(Duration::from_millis(200));
        lab.plug(1, 2);
        lab.pump(Duration::from_millis(200));
        lab.plug(2, 0);
        lab.settle();
    };
    let reroute = |model: Option<usize>| {
        let mut lab = Lab::new(&[0x0a, 0x0b, 0x0c], model);
        ring(&mut lab);
        // 0a-0b: 0b (a reference) times out, and 0c answers its new BPDUs.
        lab.cut(0);
        let took = lab.wait_for(Duration::from_secs(30), |p| {
            p[1].contains("Port 0002 tagged=0 portcost=20000000 role=Root")
        });
        let (prints, _) = lab.settle();
        for p in &prints {
            assert!(
                p.contains(" ++ root 80:00:02:00:00:00:00:0a\n"),
                "{prints:?}"
            );
        }
        assert!(
            prints[1].contains("Port 0002 tagged=0 portcost=20000000 role=Root"),
            "{prints:?}"
        );
        (prints, took)
    };
    // The reference ring runs beside, so both wait the same seconds.
    let ((ours, ours_took), (reference, reference_took)) = std::thread::scope(|s| {
        let r = s.spawn(|| reroute(None));
        (reroute(Some(2)), r.join().unwrap())
    });
    assert_eq!(ours, reference);
    println!("rerouted after {ours_took:?} with the state machine, {reference_took:?} without");
    for took in [ours_took, reference_took] {
        assert!(
            took >= Duration::from_secs(8) && took <= Duration::from_secs(18),
            "rerouted after {took:?}: the root timeout is 13 to 16 s after the last BPDU"
        );
    }
}

/// Two cables carrying VLAN 0 untagged and VLAN 10 tagged: one tree per VLAN, tagged BPDUs.
#[test]
fn tagged_vlan_has_its_own_tree() {
    for model in [0, 1] {
        let (prints, hellos) = differential(
            &[0x0a, 0x0b],
            model,
            &[&|lab| {
                lab.create_vlan(10);
                let a = lab.plug(0, 1);
                lab.trunk(a, 10);
                lab.pump(Duration::from_millis(200));
                let b = lab.plug(0, 1);
                lab.trunk(b, 10);
            }],
        );
        let r = &prints[0][1];
        assert!(r.contains("FST DATA VLAN 0010  \n"), "{r}");
        // vde_switch names every tagged port's role "Unknown".
        assert!(
            r.contains(" -- Port 0002 tagged=1 portcost=20000000 role=Unknown\n"),
            "{r}"
        );
        let tagged: Vec<_> = hellos.keys().filter(|k| k.2 == 10).collect();
        assert_eq!(tagged.len(), 4, "both switches, both cables: {tagged:?}");
    }
}
