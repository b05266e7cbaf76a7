//! Impairments and captures in a `vdelab` lab with the stock UML kernel: `h1[0][impair]=both
//! delay 50ms` adds 100 ms to the round trip of a ping from h1, and `vdelab capture A` streams
//! the collision domain's frames (pcapng, an interface per port) that `tcpdump -r` reads.
//! Skipped, with a message, without a UML kernel.

use integration_tests::needs;
use integration_tests::proc::{signal, wait_child_timeout, wait_until};
use integration_tests::vdelab::Lab;
use integration_tests::SETTLE;
use std::process::{Command, Stdio};

#[test]
fn impaired_lab_ping_and_capture() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let Some(tcpdump) = needs::in_path("tcpdump", "tcpdump") else {
        return;
    };
    let lab = Lab::with_files(
        "h1[0]=A\nh2[0]=A\nh1[0][impair]=both delay 50ms\n",
        &[
            (
                "h1.startup",
                "ip addr add 10.0.0.1/24 dev eth0\nip link set eth0 up\n",
            ),
            (
                "h2.startup",
                "ip addr add 10.0.0.2/24 dev eth0\nip link set eth0 up\n",
            ),
        ],
    );
    lab.up(&kernel);
    let pcap = lab.dir.join("a.pcapng");
    let mut cap = lab
        .command(&kernel, &["capture", "A"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&pcap).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vdelab capture");
    // The section header arrives as soon as the switch captures.
    assert!(
        wait_until(SETTLE, || std::fs::metadata(&pcap)
            .is_ok_and(|m| m.len() > 0)),
        "vdelab capture A wrote nothing"
    );
    // A first ping resolves h2's address (the ARP exchange is delayed too), then three are timed.
    let (code, out) = lab.shell(
        &kernel,
        "h1",
        "ping -c 1 -W 5 10.0.0.2 >/dev/null && ping -c 3 -W 5 10.0.0.2",
    );
    assert_eq!(code, 0, "{out}");
    let times: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect();
    eprintln!("ping round trips with delay 50ms both ways on h1's port: {times:?} ms");
    assert_eq!(times.len(), 3, "{out}");
    // Never under the 100 ms of delay, and the fastest within 10 % above it: a busy machine
    // only adds to the guests' own time.
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    assert!(sorted[0] >= 100.0 && sorted[0] <= 110.0, "{out}");
    signal(cap.id() as i32, libc::SIGTERM).unwrap();
    let st = wait_child_timeout(&mut cap, SETTLE).expect("vdelab capture stops on SIGTERM");
    assert!(st.success(), "vdelab capture: {st}");
    let out = Command::new(tcpdump)
        .args(["-n", "-r"])
        .arg(&pcap)
        .arg("icmp")
        .output()
        .expect("tcpdump");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each echo crosses two ports: seen on each.
    let requests = text
        .lines()
        .filter(|l| l.contains("10.0.0.1 > 10.0.0.2: ICMP echo request"))
        .count();
    let replies = text
        .lines()
        .filter(|l| l.contains("10.0.0.2 > 10.0.0.1: ICMP echo reply"))
        .count();
    assert_eq!((requests, replies), (8, 8), "{text}");
    lab.down(&kernel);
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}
