//! A small load generator that speaks the vde protocol itself (no libvdeplug): it attaches ports
//! to a switch the way every client does (connect `DIR/ctl`, send a v3 request naming an already
//! bound datagram socket, read the 110-byte reply, connect the datagram socket to the switch's
//! data socket), then holds them idle, floods random source MACs or plays a stuck receiver.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vde_protocol::{PortRequest, RequestRepr, SockAddrUn, SOCKADDR_UN_LEN};

/// Length of the frames this module sends: a 64-byte frame without its FCS.
pub const FRAME_LEN: usize = 60;
pub const BROADCAST: [u8; 6] = [0xff; 6];

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A 60-byte Ethernet frame from `src` to `dst`.
pub fn frame(dst: [u8; 6], src: [u8; 6]) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&crate::load::frame::ETHERTYPE.to_be_bytes());
    f
}

/// A locally administered unicast MAC derived from a tag and an index.
pub fn mac(tag: u8, i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x06, tag, b[0], b[1], b[2], b[3]]
}

/// One attached port: the control connection (the switch keeps the port while it is open) and
/// the connected data socket.
pub struct VdePort {
    ctl: UnixStream,
    pub data: UnixDatagram,
    local: PathBuf,
}

impl VdePort {
    /// Attach to the switch whose control directory is `switch_dir`, binding our data socket at
    /// `local` (removed again on drop).
    pub fn attach(switch_dir: &Path, local: &Path, description: &str) -> io::Result<VdePort> {
        let _ = std::fs::remove_file(local);
        let data = UnixDatagram::bind(local)?;
        let port = VdePort {
            ctl: UnixStream::connect(switch_dir.join("ctl"))?,
            data,
            local: local.to_path_buf(),
        };
        let addr = SockAddrUn::from_path(local.as_os_str().as_bytes())
            .map_err(|e| invalid(format!("{}: {e}", local.display())))?;
        let req = RequestRepr::new_v3(PortRequest::Any, addr, description.as_bytes().to_vec());
        let mut ctl = &port.ctl;
        ctl.set_read_timeout(Some(Duration::from_secs(5)))?;
        ctl.write_all(&req.to_bytes())?;
        let mut reply = [0u8; SOCKADDR_UN_LEN];
        ctl.read_exact(&mut reply).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "no reply from {}/ctl (port refused? raise -n): {e}",
                    switch_dir.display()
                ),
            )
        })?;
        let sa = SockAddrUn::parse(&reply).map_err(|e| invalid(format!("bad reply: {e}")))?;
        let path = sa
            .path()
            .ok_or_else(|| invalid("reply is not a pathname socket".into()))?;
        port.data.connect(Path::new(OsStr::from_bytes(path)))?;
        Ok(port)
    }

    /// Send without blocking; false when the switch's queue is full.
    pub fn try_send(&self, f: &[u8]) -> bool {
        // SAFETY: plain send(2) on our own socket with a valid buffer.
        let n = unsafe {
            libc::send(
                self.data.as_raw_fd(),
                f.as_ptr().cast(),
                f.len(),
                libc::MSG_DONTWAIT,
            )
        };
        n == f.len() as isize
    }

    /// Receive and discard everything queued, without blocking; returns the count.
    pub fn drain(&self) -> u64 {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        loop {
            // SAFETY: recv(2) into a local buffer of the given size.
            let r = unsafe {
                libc::recv(
                    self.data.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                return n;
            }
            n += 1;
        }
    }
}

impl Drop for VdePort {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.local);
    }
}

/// `n` idle ports attached to one switch (they never send or read unless asked).
pub struct PortSet {
    pub ports: Vec<VdePort>,
}

impl PortSet {
    /// Attach `n` ports, binding their sockets as `local_dir/PREFIX-i`.
    pub fn attach(switch_dir: &Path, local_dir: &Path, prefix: &str, n: usize) -> io::Result<Self> {
        let mut ports = Vec::with_capacity(n);
        for i in 0..n {
            let local = local_dir.join(format!("{prefix}-{i}"));
            ports.push(VdePort::attach(switch_dir, &local, "vdeperf idle")?);
        }
        Ok(PortSet { ports })
    }

    /// Each port sends one broadcast frame from its own MAC (so the switch learns it).
    pub fn announce(&self, tag: u8) {
        for (i, p) in self.ports.iter().enumerate() {
            let _ = p.data.send(&frame(BROADCAST, mac(tag, i as u32)));
        }
    }

    pub fn drain(&self) {
        for p in &self.ports {
            p.drain();
        }
    }
}

/// xorshift64*: a fast, dependency-free source of random MACs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A random locally administered unicast MAC.
    pub fn mac(&mut self) -> [u8; 6] {
        let b = self.next_u64().to_le_bytes();
        [(b[0] & 0xfc) | 0x02, b[1], b[2], b[3], b[4], b[5]]
    }
}

/// One point of a MAC flood: frames sent so far, and the switch's RSS then.
#[derive(Debug, Clone, Copy)]
pub struct FloodPoint {
    pub frames: u64,
    pub rss_kb: u64,
    pub secs: f64,
}

/// Send `total` frames with random source MACs from one port (blocking sends: the switch sets
/// the pace), reading the switch's RSS with `rss` before the flood and after each of
/// `checkpoints` equal chunks. Stops early when `deadline` passes or `stop` is set.
pub fn mac_flood(
    port: &VdePort,
    total: u64,
    checkpoints: u64,
    deadline: Duration,
    stop: &AtomicBool,
    mut rss: impl FnMut() -> u64,
) -> io::Result<Vec<FloodPoint>> {
    let mut rng = Rng::new(0x05ee_d0ff_100d);
    // Unknown unicast destination: with one port attached, nothing is delivered anywhere.
    let dst = mac(0xfd, 1);
    let t0 = Instant::now();
    let mut points = vec![FloodPoint {
        frames: 0,
        rss_kb: rss(),
        secs: 0.0,
    }];
    let chunk = (total / checkpoints.max(1)).max(1);
    port.data
        .set_write_timeout(Some(Duration::from_millis(100)))?;
    let mut sent = 0u64;
    'outer: while sent < total {
        let end = (sent + chunk).min(total);
        while sent < end {
            if t0.elapsed() > deadline || stop.load(Ordering::Relaxed) {
                break 'outer;
            }
            match port.data.send(&frame(dst, rng.mac())) {
                Ok(_) => sent += 1,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut => {}
                Err(e) => return Err(e),
            }
        }
        // Let the switch consume its queue before reading its memory.
        std::thread::sleep(Duration::from_millis(150));
        points.push(FloodPoint {
            frames: sent,
            rss_kb: rss(),
            secs: t0.elapsed().as_secs_f64(),
        });
    }
    if points.last().map(|p| p.frames) != Some(sent) {
        std::thread::sleep(Duration::from_millis(150));
        points.push(FloodPoint {
            frames: sent,
            rss_kb: rss(),
            secs: t0.elapsed().as_secs_f64(),
        });
    }
    Ok(points)
}

/// A stuck receiver and a sender flooding it: port S never reads (it only re-announces its MAC
/// every 100 ms, since the reference forgets every MAC whenever a port is added), port B sends
/// 64-byte frames to S as fast as the switch takes them, from `delay` to `delay + active`.
///
/// The blaster must stop before the measured clients detach: their ports leaving flush the MAC
/// table, and B's frames to the now unknown S would be flooded to the clients still attached
/// while they are still measuring (a receiver of the classic kit's vdebench stops only after
/// 50 ms without any frame, so they would also stretch its measurement window).
pub struct StuckLoad {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl StuckLoad {
    pub fn start(
        switch_dir: &Path,
        local_dir: &Path,
        delay: Duration,
        active: Duration,
    ) -> io::Result<StuckLoad> {
        let s = VdePort::attach(switch_dir, &local_dir.join("stuck-s"), "vdeperf stuck")?;
        let b = VdePort::attach(switch_dir, &local_dir.join("stuck-b"), "vdeperf blaster")?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let s_mac = mac(0xee, 1);
        let b_mac = mac(0xee, 2);
        let mut threads = Vec::new();
        {
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let announce = frame(BROADCAST, s_mac);
                while !stop.load(Ordering::Relaxed) {
                    let _ = s.try_send(&announce);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }));
        }
        {
            let stop = stop.clone();
            let sent = sent.clone();
            threads.push(std::thread::spawn(move || {
                let _ = b.try_send(&frame(BROADCAST, b_mac));
                let t0 = Instant::now();
                while t0.elapsed() < delay && !stop.load(Ordering::Relaxed) {
                    b.drain();
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = b.data.set_write_timeout(Some(Duration::from_millis(20)));
                let f = frame(s_mac, b_mac);
                let mut n = 0u64;
                let t1 = Instant::now();
                while !stop.load(Ordering::Relaxed) && t1.elapsed() < active {
                    for _ in 0..64 {
                        if b.data.send(&f).is_ok() {
                            n += 1;
                        }
                    }
                    b.drain();
                }
                sent.store(n, Ordering::Relaxed);
                while !stop.load(Ordering::Relaxed) {
                    b.drain();
                    std::thread::sleep(Duration::from_millis(10));
                }
            }));
        }
        Ok(StuckLoad {
            stop,
            sent,
            threads,
        })
    }

    /// Stop both threads and detach; returns the frames the blaster got accepted while active.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for StuckLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
