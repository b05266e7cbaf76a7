//! `vde_protocol::stream` with `Framing::VdeStream` against the real `vde_plug` (vdeplug4): what
//! we encode, `vde_plug` reads from its standard input, and what it writes on its standard
//! output, we decode.
//!
//! `vde_plug ptp://PATH` needs no switch: the first end of a `ptp` link binds PATH and sends to
//! `PATH+`, the second binds `PATH+` and sends to PATH. The test is the first end, a plain
//! datagram socket; `vde_plug` is the second.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vde_protocol::stream::{Decoder, Framing, VDESTREAM_MAX_FRAME};

/// Longest frame `vde_plug` reads from its switch side (`VDE_ETHBUFSIZE`).
const VDE_ETHBUFSIZE: usize = 9234;
/// Bound on each wait; generous, as other test runs may load the machine.
const WAIT: Duration = Duration::from_secs(20);

/// A frame of `len` bytes whose content tells it apart: broadcast, then a counter.
fn frame(len: usize, tag: u8) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, tag]);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend((0..len.saturating_sub(14)).map(|i| (i as u8).wrapping_add(tag)));
    f.truncate(len);
    f
}

/// `vde_plug ptp://PATH`, killed and its sockets removed when the test ends.
struct Plug {
    child: Child,
    ours: PathBuf,
    theirs: PathBuf,
}

impl Plug {
    fn start(path: &Path) -> (Plug, UnixDatagram) {
        let theirs = PathBuf::from(format!("{}+", path.display()));
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(&theirs);
        let socket = UnixDatagram::bind(path).expect("bind our end of the ptp link");
        let child = Command::new("vde_plug")
            .arg(format!("ptp://{}", path.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run vde_plug ({e}): install the Debian package vdeplug (scripts/test installs vde2, which pulls it in)")
            });
        let plug = Plug {
            child,
            ours: path.to_owned(),
            theirs,
        };
        // vde_plug binds PATH+ before it starts to read; datagrams sent to it then queue.
        let start = Instant::now();
        while !plug.theirs.exists() {
            assert!(
                start.elapsed() < WAIT,
                "vde_plug did not bind {}",
                plug.theirs.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        socket.set_read_timeout(Some(WAIT)).unwrap();
        (plug, socket)
    }
}

impl Drop for Plug {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.ours);
        let _ = std::fs::remove_file(&self.theirs);
    }
}

fn socket_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("vde-protocol-{}-{name}", std::process::id()))
}

/// Frames we encode reach the link as datagrams, byte for byte. One record at a time: a batch
/// could put a length header across two of `vde_plug`'s reads, which it cannot reassemble.
#[test]
fn vde_plug_reads_what_we_encode() {
    let (mut plug, socket) = Plug::start(&socket_path("enc"));
    let mut stdin = plug.child.stdin.take().unwrap();
    let mut buf = vec![0u8; 65536];
    for (i, len) in [14, 60, 1514, 4000, VDESTREAM_MAX_FRAME]
        .into_iter()
        .enumerate()
    {
        let f = frame(len, i as u8);
        let mut record = Vec::new();
        Framing::VdeStream.encode(&f, &mut record).unwrap();
        stdin.write_all(&record).expect("write to vde_plug");
        stdin.flush().unwrap();
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no datagram for the {len}-byte frame: {e}"));
        assert_eq!(buf[..n], f[..], "{len}-byte frame");
    }
}

/// Datagrams sent to `vde_plug` come out of its stdout as records our decoder cuts back into
/// the same frames (it drops runts shorter than an Ethernet header, and never sends more than
/// `VDE_ETHBUFSIZE` bytes).
#[test]
fn we_decode_what_vde_plug_writes() {
    let (mut plug, socket) = Plug::start(&socket_path("dec"));
    let mut stdout = plug.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });

    let sent: Vec<Vec<u8>> = [60, 13, 14, 1514, VDE_ETHBUFSIZE, 61]
        .into_iter()
        .enumerate()
        .map(|(i, len)| frame(len, i as u8))
        .collect();
    for f in &sent {
        socket.send_to(f, &plug.theirs).expect("send to vde_plug");
    }
    let want: Vec<&Vec<u8>> = sent.iter().filter(|f| f.len() >= 14).collect();

    let mut dec = Decoder::new(Framing::VdeStream, VDESTREAM_MAX_FRAME);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < want.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("vde_plug wrote {} of {} frames", got.len(), want.len()));
        let mut input = &chunk[..];
        while let Some(f) = dec.decode(&mut input).expect("vde_plug's stream decodes") {
            got.push(f.to_vec());
        }
    }
    assert!(dec.is_idle());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.len(), w.len());
        assert_eq!(g, *w);
    }
    assert_eq!(got.len(), want.len());
}
