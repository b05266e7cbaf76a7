//! Capture files written with `vde_protocol::pcap` and `pcapng` are read by the real tcpdump,
//! from a file and from its standard input, with the frames' addresses, lengths and times.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use vde_protocol::ethernet::FrameRepr;
use vde_protocol::pcap::{ByteOrder, FileHeaderRepr, PacketRecord};
use vde_protocol::pcapng::{EnhancedPacketRepr, InterfaceRepr, SectionHeaderRepr};
use vde_protocol::{pcap, MacAddr};

const A: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x0a]);
const B: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0x0b]);
const T0: u64 = 1_700_000_000;
const SNAPLEN: u32 = 64;

/// An ARP request (`op` 1) or reply (2) between 10.0.0.1 (A) and 10.0.0.2 (B), padded to 60 bytes.
fn arp(op: u16) -> Vec<u8> {
    let (src, dst, sip, tip, tha) = match op {
        1 => (
            A,
            MacAddr::BROADCAST,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            MacAddr([0; 6]),
        ),
        _ => (B, A, [10, 0, 0, 2], [10, 0, 0, 1], A),
    };
    let mut payload = vec![0, 1, 0x08, 0x00, 6, 4];
    payload.extend_from_slice(&op.to_be_bytes());
    payload.extend_from_slice(&src.0);
    payload.extend_from_slice(&sip);
    payload.extend_from_slice(&tha.0);
    payload.extend_from_slice(&tip);
    payload.resize(46, 0);
    FrameRepr {
        dst,
        src,
        tci: None,
        ethertype: 0x0806,
        payload: &payload,
    }
    .to_bytes()
}

/// The frames of both files: two ARP frames and a 100-byte frame cut to the 64-byte snaplen.
fn frames() -> Vec<(Duration, Vec<u8>)> {
    let big = FrameRepr {
        dst: B,
        src: A,
        tci: None,
        ethertype: 0x88b5,
        payload: &[0x5a; 86],
    };
    vec![
        (Duration::new(T0, 250_000_000), arp(1)),
        (Duration::new(T0, 251_500_000), arp(2)),
        (Duration::new(T0 + 1, 0), big.to_bytes()),
    ]
}

/// What `tcpdump -tt -e -n` prints before the protocol details, one entry per frame.
fn expected() -> [&'static str; 3] {
    [
        "1700000000.250000 02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 60: Request who-has 10.0.0.2 tell 10.0.0.1",
        "1700000000.251500 02:00:00:00:00:0b > 02:00:00:00:00:0a, ethertype ARP (0x0806), length 60: Reply 10.0.0.2 is-at 02:00:00:00:00:0b",
        "1700000001.000000 02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype Unknown (0x88b5), length 100:",
    ]
}

fn pcap_file(byte_order: ByteOrder) -> Vec<u8> {
    let header = FileHeaderRepr {
        byte_order,
        ..FileHeaderRepr::ethernet(SNAPLEN)
    };
    let mut out = Vec::new();
    header.append(&mut out);
    for (t, f) in &frames() {
        PacketRecord::new(*t, f, SNAPLEN).append(&header, &mut out);
    }
    out
}

fn pcapng_file(o: ByteOrder) -> Vec<u8> {
    let mut out = Vec::new();
    SectionHeaderRepr {
        byte_order: o,
        ..SectionHeaderRepr::new(Some("vde_switch"))
    }
    .append(&mut out);
    InterfaceRepr::ethernet("port 1", SNAPLEN).append(o, &mut out);
    InterfaceRepr::ethernet("port 3", SNAPLEN).append(o, &mut out);
    for (i, (t, f)) in frames().iter().enumerate() {
        EnhancedPacketRepr::new(i as u32 % 2, *t, f, SNAPLEN).append(o, &mut out);
    }
    out
}

/// Removes the file when the test ends, passed or not.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("vde-protocol-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("write capture file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs tcpdump with `args`, writing `stdin` to it if given; returns its standard output.
fn run_tcpdump(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("tcpdump")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run tcpdump ({e}): install the Debian package tcpdump (scripts/test does)"
            )
        });
    if let Some(bytes) = stdin {
        // Dropping the pipe after writing gives tcpdump its end of file.
        child
            .stdin
            .take()
            .unwrap()
            .write_all(bytes)
            .expect("write to tcpdump");
    }
    let out = child.wait_with_output().expect("wait for tcpdump");
    assert!(
        out.status.success(),
        "tcpdump {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `tcpdump -tt -e -n -r FILE` (`-` for `stdin`): epoch times, link-level headers, numbers.
fn tcpdump(file: &str, stdin: Option<&[u8]>) -> String {
    let out = run_tcpdump(&["-tt", "-e", "-n", "-r", file], stdin);
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks the frame lines and that the hex dump of the cut frame (tcpdump shows the payload of
/// an unknown EtherType) holds exactly the 50 captured payload bytes.
fn assert_lists_frames(what: &str, output: &str) {
    let (dump, lines): (Vec<&str>, Vec<&str>) = output.lines().partition(|l| l.starts_with('\t'));
    let want = expected();
    assert_eq!(lines.len(), want.len(), "{what}: tcpdump printed\n{output}");
    for (line, want) in lines.iter().zip(want) {
        assert!(
            line.starts_with(want),
            "{what}: tcpdump printed\n  {line}\nexpected it to start with\n  {want}"
        );
    }
    let dumped: usize = dump
        .iter()
        .map(|l| {
            let hex = l.split("  ").nth(1).unwrap_or("");
            hex.chars().filter(char::is_ascii_hexdigit).count() / 2
        })
        .sum();
    let captured = SNAPLEN as usize - 14;
    assert_eq!(
        dumped, captured,
        "{what}: hex dump of the cut frame\n{output}"
    );
}

#[test]
fn our_files_are_valid_for_our_reader() {
    for file in [pcap_file(ByteOrder::NATIVE), pcapng_file(ByteOrder::NATIVE)] {
        let read = pcap::read_frames(&file).unwrap();
        let want = frames();
        assert_eq!(read.len(), want.len());
        for (r, (t, f)) in read.iter().zip(&want) {
            assert_eq!(r.timestamp, *t);
            assert_eq!(r.orig_len as usize, f.len());
            assert_eq!(r.data, &f[..f.len().min(SNAPLEN as usize)]);
        }
    }
}

/// tcpdump lists the frames of a file made by `write`: in host order (what the writers use)
/// from a file and from stdin, and in the other order too, since the formats let writers pick.
fn tcpdump_reads(format: &str, write: fn(ByteOrder) -> Vec<u8>) {
    let bytes = write(ByteOrder::NATIVE);
    let file = TempFile::new(&format!("frames.{format}"), &bytes);
    let path = file.0.to_str().unwrap();
    assert_lists_frames(&format!("{format} file"), &tcpdump(path, None));
    assert_lists_frames(&format!("{format} on stdin"), &tcpdump("-", Some(&bytes)));
    let swapped = write(swapped());
    let what = format!("{format} in swapped order");
    assert_lists_frames(&what, &tcpdump("-", Some(&swapped)));
}

#[test]
fn tcpdump_reads_pcap_file_and_stdin() {
    tcpdump_reads("pcap", pcap_file);
}

#[test]
fn tcpdump_reads_pcapng_file_and_stdin() {
    tcpdump_reads("pcapng", pcapng_file);
}

fn swapped() -> ByteOrder {
    match ByteOrder::NATIVE {
        ByteOrder::Little => ByteOrder::Big,
        ByteOrder::Big => ByteOrder::Little,
    }
}

/// The other direction: libpcap's own writer (`tcpdump -w -`, fed our pcapng) produces a file
/// our reader takes, with the same frames.
#[test]
fn we_read_what_tcpdump_writes() {
    let input = pcapng_file(ByteOrder::NATIVE);
    let written = run_tcpdump(&["-r", "-", "-w", "-"], Some(&input));
    assert!(
        !vde_protocol::pcapng::is_pcapng(&written),
        "libpcap writes classic pcap"
    );
    let header = FileHeaderRepr::parse(&written).unwrap();
    assert_eq!((header.linktype, header.snaplen), (1, SNAPLEN));
    let read = pcap::read_frames(&written).unwrap();
    let ours = pcap::read_frames(&input).unwrap();
    assert_eq!(read.len(), ours.len());
    for (theirs, ours) in read.iter().zip(&ours) {
        assert_eq!(
            (theirs.timestamp, theirs.orig_len, theirs.data),
            (ours.timestamp, ours.orig_len, ours.data)
        );
    }
}
