//! `vdeperf floor`: what moving datagrams costs this machine, without a switch.
//!
//! * `pair`: one process sends 16 datagrams on one end of a socket pair and receives them on
//!   the other, again and again; `pair_ns` is the time per datagram, i.e. the kernel's price
//!   for one send plus one receive, which any switch pays per forwarded frame.
//! * `fwd-single` and `fwd-batched`: three processes, as around a switch: a sender, a
//!   forwarder and a receiver, joined by two socket pairs. The forwarder waits in `epoll_wait`
//!   and then moves one datagram with `recv` + `send`, dropping it when the receiver's queue is
//!   full (as the reference switch does), or (`fwd-batched`) up to `-b` datagrams with
//!   `recvmmsg` + `sendmmsg`, blocking on a full queue (backpressure, no loss).
//!   `fwd_cpu_ns_per_frame` is the forwarder's CPU time per datagram it handled: the cost of the
//!   smallest possible switch.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::dgram::{set_recv_timeout, Batch};
use crate::fork::{self, now_ns, own_cpu_ns, sleep_ms, Shared};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Test {
    Pair,
    FwdSingle,
    FwdBatched,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    #[arg(value_enum)]
    pub test: Test,
    /// Seconds of sending
    #[arg(short = 't', long, default_value_t = 2)]
    pub secs: u32,
    /// Datagram length
    #[arg(short = 'l', long = "len", default_value_t = 60)]
    pub len: usize,
    /// Batch of fwd-batched
    #[arg(short = 'b', long, default_value_t = 32)]
    pub batch: usize,
}

/// Run one test and return its result line. The process must be single-threaded.
pub fn run(o: &Options) -> Result<String, String> {
    if !(14..=9216).contains(&o.len) || !(1..=256).contains(&o.batch) || o.secs == 0 {
        return Err("-l 14..9216, -b 1..256, -t at least 1".into());
    }
    match o.test {
        Test::Pair => pair(o),
        Test::FwdSingle | Test::FwdBatched => forward(o),
    }
}

fn socket_pair() -> Result<(OwnedFd, OwnedFd), String> {
    std::os::unix::net::UnixDatagram::pair()
        .map(|(a, b)| (a.into(), b.into()))
        .map_err(|e| format!("socketpair: {e}"))
}

fn send(fd: RawFd, buf: &[u8], flags: libc::c_int) -> bool {
    // SAFETY: send(2) of a valid buffer.
    unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) == buf.len() as isize }
}

fn recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> isize {
    // SAFETY: recv(2) into a valid buffer.
    unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) }
}

fn pair(o: &Options) -> Result<String, String> {
    const BURST: u64 = 16;
    let (a, b) = socket_pair()?;
    let out = vec![0x5au8; o.len];
    let mut buf = vec![0u8; 9216];
    let t0 = now_ns();
    let end = t0 + u64::from(o.secs) * 1_000_000_000;
    let mut n = 0u64;
    let mut t = t0;
    while t < end {
        for _ in 0..BURST {
            if !send(a.as_raw_fd(), &out, 0) {
                return Err(format!("send: {}", std::io::Error::last_os_error()));
            }
        }
        for _ in 0..BURST {
            if recv(b.as_raw_fd(), &mut buf, 0) != o.len as isize {
                return Err(format!("recv: {}", std::io::Error::last_os_error()));
            }
        }
        n += BURST;
        t = now_ns();
    }
    let secs = (t - t0) as f64 / 1e9;
    Ok(format!(
        "test=pair len={} frames={n} pair_ns={:.0} mfps_one_core={:.3}",
        o.len,
        secs / n as f64 * 1e9,
        n as f64 / secs / 1e6
    ))
}

/// What the forwarder and the receiver report back.
#[repr(C)]
#[derive(Default)]
struct Report {
    stop: AtomicBool,
    forwarded: AtomicU64,
    dropped: AtomicU64,
    forwarder_cpu_ns: AtomicU64,
    received: AtomicU64,
}

fn forward(o: &Options) -> Result<String, String> {
    let batched = o.test == Test::FwdBatched;
    let batch = if batched { o.batch } else { 1 };
    let (tx, fwd_in) = socket_pair()?;
    let (fwd_out, rx) = socket_pair()?;
    // SAFETY: Report is a repr(C) struct of atomics, valid when zeroed.
    let report = unsafe { Shared::<Report>::zeroed() }.map_err(|e| format!("mmap: {e}"))?;
    let r = &*report;
    let (fin, fout, rxfd) = (fwd_in.as_raw_fd(), fwd_out.as_raw_fd(), rx.as_raw_fd());
    let receiver = fork::spawn(|| receive(r, rxfd, batch)).map_err(|e| format!("fork: {e}"))?;
    let forwarder = fork::spawn(|| forwarder(r, fin, fout, batched, batch));
    let forwarder = match forwarder {
        Ok(pid) => pid,
        Err(e) => {
            r.stop.store(true, Ordering::Release);
            fork::reap(&[receiver], 1000);
            return Err(format!("fork: {e}"));
        }
    };
    drop((fwd_in, fwd_out, rx));
    sleep_ms(50);
    let t0 = now_ns();
    let end = t0 + u64::from(o.secs) * 1_000_000_000;
    let mut sent = 0u64;
    let fd = tx.as_raw_fd();
    if batched {
        let mut b = Batch::new(batch, o.len);
        while now_ns() < end {
            for _ in 0..8 {
                sent += b.send(fd, batch, 0) as u64;
            }
        }
    } else {
        let out = vec![0x5au8; o.len];
        while now_ns() < end {
            for _ in 0..256 {
                if send(fd, &out, 0) {
                    sent += 1;
                }
            }
        }
    }
    let secs = (now_ns() - t0) as f64 / 1e9;
    sleep_ms(300);
    r.stop.store(true, Ordering::Release);
    fork::reap(&[forwarder, receiver], 2000);
    let get = |v: &AtomicU64| v.load(Ordering::Acquire);
    let (fwd, drop, rcvd) = (get(&r.forwarded), get(&r.dropped), get(&r.received));
    let handled = fwd + drop;
    Ok(format!(
        "test={} len={} batch={batch} backpressure={} tx={sent} fwd={fwd} drop={drop} rx={rcvd} \
         tx_mfps={:.3} loss={:.4} fwd_cpu_s={:.3} fwd_cpu_ns_per_frame={:.0}",
        if batched { "fwd-batched" } else { "fwd-single" },
        o.len,
        u8::from(batched),
        sent as f64 / secs / 1e6,
        if sent > 0 {
            1.0 - rcvd as f64 / sent as f64
        } else {
            0.0
        },
        get(&r.forwarder_cpu_ns) as f64 / 1e9,
        if handled > 0 {
            get(&r.forwarder_cpu_ns) as f64 / handled as f64
        } else {
            -1.0
        }
    ))
}

fn receive(r: &Report, fd: RawFd, batch: usize) -> i32 {
    set_recv_timeout(fd, 100_000);
    let mut n = 0u64;
    let mut b = Batch::new(batch, 9216);
    while !r.stop.load(Ordering::Acquire) {
        n += b.recv(fd, libc::MSG_WAITFORONE) as u64;
    }
    r.received.store(n, Ordering::Release);
    0
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on our own socket.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

fn forwarder(r: &Report, input: RawFd, output: RawFd, batched: bool, batch: usize) -> i32 {
    let cpu0 = own_cpu_ns();
    set_nonblocking(input);
    if !batched {
        set_nonblocking(output);
    }
    // SAFETY: a new epoll instance watching our input socket.
    let ep = unsafe { libc::epoll_create1(0) };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: valid epoll fd, socket and event.
    if ep < 0 || unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, input, &mut ev) } < 0 {
        return 1;
    }
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
    let mut b = Batch::new(batch, 9216);
    let mut one = vec![0u8; 9216];
    let (mut fwd, mut dropped) = (0u64, 0u64);
    while !r.stop.load(Ordering::Acquire) {
        // SAFETY: epoll_wait into a local array of the given length.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 100) };
        if n <= 0 {
            continue;
        }
        if batched {
            let k = b.recv(input, libc::MSG_DONTWAIT);
            let s = b.send(output, k, 0);
            fwd += s as u64;
            dropped += (k - s) as u64;
        } else {
            let len = recv(input, &mut one, 0);
            if len > 0 {
                if send(output, &one[..len as usize], 0) {
                    fwd += 1;
                } else {
                    dropped += 1;
                }
            }
        }
    }
    r.forwarded.store(fwd, Ordering::Release);
    r.dropped.store(dropped, Ordering::Release);
    r.forwarder_cpu_ns
        .store(own_cpu_ns() - cpu0, Ordering::Release);
    0
}
