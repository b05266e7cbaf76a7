//! `vde_protocol::stream` with `Framing::Qemu` against the real QEMU `-netdev stream`.
//!
//! No guest is needed: a QEMU with no machine joins two `-netdev stream` clients through a hub,
//! so every frame it reads from one connection it writes to the other. The test listens for
//! both, writes records we encode into one and decodes the other.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vde_protocol::stream::{Decoder, Framing, QEMU_MAX_FRAME};

/// Bound on each wait; generous, as other test runs may load the machine.
const WAIT: Duration = Duration::from_secs(30);

/// A frame of `len` bytes whose content tells it apart.
fn frame(len: usize, tag: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, tag]);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend((0..len - 14).map(|i| (i as u8).wrapping_mul(7).wrapping_add(tag)));
    f
}

/// The QEMU process, killed and its sockets removed when the test ends, passed or not.
struct Qemu {
    child: Child,
    paths: [PathBuf; 2],
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// QEMU relaying between two stream connections.
struct Relay {
    _qemu: Qemu,
    /// The connection QEMU reads from.
    a: UnixStream,
    /// The connection QEMU writes to.
    b: UnixStream,
}

impl Relay {
    fn start(name: &str) -> Relay {
        let paths = ["a", "b"].map(|s| {
            std::env::temp_dir().join(format!("vde-protocol-{}-{name}-{s}", std::process::id()))
        });
        let listeners = paths.clone().map(|p| {
            let _ = std::fs::remove_file(&p);
            let l = UnixListener::bind(&p).expect("listen for QEMU");
            l.set_nonblocking(true).unwrap();
            l
        });
        let netdev = |id: &str, p: &PathBuf| {
            format!(
                "stream,id={id},server=off,addr.type=unix,addr.path={}",
                p.display()
            )
        };
        let child = Command::new("qemu-system-x86_64")
            .args(["-nodefaults", "-display", "none", "-machine", "none", "-accel", "tcg"])
            .args(["-netdev", &netdev("a", &paths[0]), "-netdev", &netdev("b", &paths[1])])
            .args(["-netdev", "hubport,id=ha,hubid=0,netdev=a"])
            .args(["-netdev", "hubport,id=hb,hubid=0,netdev=b"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run qemu-system-x86_64 ({e}): install the Debian package qemu-system-x86")
            });
        let mut qemu = Qemu { child, paths };
        // Wait for QEMU to connect to both (or to fail).
        let start = Instant::now();
        let conns = listeners.map(|l| loop {
            match l.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(WAIT)).unwrap();
                    break s;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept QEMU's connection: {e}"),
            }
            if let Some(status) = qemu.child.try_wait().unwrap() {
                panic!("QEMU exited before connecting: {status}");
            }
            assert!(start.elapsed() < WAIT, "QEMU did not connect");
            std::thread::sleep(Duration::from_millis(10));
        });
        let [a, b] = conns;
        Relay { _qemu: qemu, a, b }
    }
}

/// Many records in one write, the largest QEMU accepts among them, come out whole and in order.
#[test]
fn qemu_relays_what_we_encode_and_we_decode_it() {
    let mut relay = Relay::start("relay");
    let sent: Vec<Vec<u8>> = [60, 14, 1514, 9234, QEMU_MAX_FRAME, 61]
        .into_iter()
        .enumerate()
        .map(|(i, len)| frame(len, i as u8))
        .collect();
    let mut batch = Vec::new();
    for f in &sent {
        Framing::Qemu.encode(f, &mut batch).unwrap();
    }
    relay.a.write_all(&batch).expect("write to QEMU");

    let mut dec = Decoder::new(Framing::Qemu, QEMU_MAX_FRAME);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; 16384];
    while got.len() < sent.len() {
        let n = relay
            .b
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("QEMU relayed {} of {} frames: {e}", got.len(), sent.len()));
        assert!(
            n > 0,
            "QEMU closed after {} of {} frames",
            got.len(),
            sent.len()
        );
        let mut input = &buf[..n];
        while let Some(f) = dec.decode(&mut input).expect("QEMU's stream decodes") {
            got.push(f.to_vec());
        }
    }
    assert!(dec.is_idle());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        assert!(
            g == s,
            "frame {i}: {} bytes relayed, {} sent",
            g.len(),
            s.len()
        );
    }
}

/// `QEMU_MAX_FRAME` is QEMU's own limit: one byte more and QEMU drops the connection.
#[test]
fn qemu_closes_on_a_frame_above_its_limit() {
    let mut relay = Relay::start("limit");
    let mut record = Vec::new();
    Framing::Qemu
        .encode(&frame(QEMU_MAX_FRAME + 1, 1), &mut record)
        .unwrap();
    // QEMU may close before it has read it all.
    let _ = relay.a.write_all(&record);
    let mut buf = [0u8; 64];
    match relay.a.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("QEMU kept the connection after an oversize frame: {other:?}"),
    }
}
