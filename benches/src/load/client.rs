//! One client process: one libvdeplug connection playing one role (sender, receiver, ping or
//! echo), posting its counts on its slot of the board.

use super::board::{Board, Phase, Slot, State};
use super::frame::{self, Kind, BUF_LEN};
use super::port::Port;
use crate::dgram::Batch;
use crate::fork::{now_ns, own_cpu_ns, sleep_ms};

/// What a port does during the measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Send data frames as fast as the switch takes them, to a port or (None) to broadcast.
    Send { to: Option<u16> },
    /// Count data frames from `from`; any other data frame is a leak (None: an idle port, which
    /// must receive nothing).
    Receive { from: Option<u16> },
    /// Request/response: send a ping to `to`, wait for its pong, again.
    Ping { to: u16 },
    /// Answer pings.
    Echo,
}

/// How long a receive waits before the client looks at the phase again.
const RECV_TIMEOUT_US: i64 = 50_000;
/// A ping without answer for this long is given up.
const PING_GIVE_UP_NS: u64 = 1_000_000_000;

/// What every client of a run shares.
#[derive(Debug, Clone)]
pub struct Setup {
    pub url: String,
    pub len: usize,
    pub secs: u32,
    pub batch: usize,
}

/// The body of client process `me`; its exit status.
pub fn run(board: &Board, me: u16, role: Role, setup: &Setup) -> i32 {
    let slot = &board.slots[usize::from(me)];
    let mut conn = match Port::open(&setup.url, "vdeperf load") {
        Ok(c) => c,
        Err(e) => {
            slot.errno.store(
                e.raw_os_error().unwrap_or(0),
                std::sync::atomic::Ordering::Release,
            );
            slot.set_state(State::Failed);
            return 1;
        }
    };
    conn.set_recv_timeout(RECV_TIMEOUT_US);
    slot.set_state(State::Connected);
    let mut buf = vec![0u8; BUF_LEN];
    // The reference forgets every MAC whenever a port comes or goes, so ports announce
    // themselves only once all are connected.
    if !wait_for(board, Phase::Learn, &mut conn, &mut buf) {
        return 0;
    }
    let mut learn = vec![0u8; setup.len];
    frame::write(&mut learn, me, None, Kind::Learn, 0);
    for _ in 0..2 {
        conn.send(&learn);
        sleep_ms(20);
    }
    slot.set_state(State::Learned);
    let mut c = Client {
        board,
        slot,
        conn,
        me,
        setup,
    };
    match role {
        Role::Send { to } => c.send(to, &mut buf),
        Role::Receive { from } => c.receive(from, &mut buf),
        Role::Ping { to } => c.ping(to, &mut buf),
        Role::Echo => c.echo(&mut buf),
    }
    0
}

/// Discard what arrives until the board reaches `phase`; false when the run was stopped.
fn wait_for(board: &Board, phase: Phase, conn: &mut Port, buf: &mut [u8]) -> bool {
    loop {
        let p = board.phase();
        if p == Phase::Stop {
            return false;
        }
        if p >= phase {
            return true;
        }
        conn.recv(buf);
    }
}

struct Client<'a> {
    board: &'a Board,
    slot: &'a Slot,
    conn: Port,
    me: u16,
    setup: &'a Setup,
}

/// Receive counts of one client.
#[derive(Default)]
struct Tally {
    rx: u64,
    leak: u64,
    other: u64,
    reordered: u64,
    gaps: u64,
    next_seq: u64,
    first_ns: u64,
    last_ns: u64,
}

impl Tally {
    fn count(&mut self, f: &[u8], from: Option<u16>, now: u64) {
        match frame::read(f) {
            None => self.other += 1,
            Some(s) if s.kind == Kind::Learn => {}
            Some(s) if s.kind == Kind::Data && Some(s.port) == from => {
                if self.rx == 0 {
                    self.first_ns = now;
                }
                self.rx += 1;
                self.last_ns = now;
                if s.seq < self.next_seq {
                    self.reordered += 1;
                } else {
                    if s.seq > self.next_seq {
                        self.gaps += 1;
                    }
                    self.next_seq = s.seq + 1;
                }
            }
            Some(_) => self.leak += 1,
        }
    }

    fn post(&self, slot: &Slot) {
        Slot::put(&slot.rx, self.rx);
        Slot::put(&slot.leak, self.leak);
        Slot::put(&slot.other, self.other);
        Slot::put(&slot.reordered, self.reordered);
        Slot::put(&slot.gaps, self.gaps);
        Slot::put(&slot.first_rx_ns, self.first_ns);
        Slot::put(&slot.last_rx_ns, self.last_ns);
    }
}

impl Client<'_> {
    fn finish(&self, cpu0: u64) {
        Slot::put(&self.slot.cpu_ns, own_cpu_ns().saturating_sub(cpu0));
        self.slot.set_state(State::Done);
    }

    fn send(&mut self, to: Option<u16>, buf: &mut [u8]) {
        if !wait_for(self.board, Phase::Go, &mut self.conn, buf) {
            return;
        }
        let len = self.setup.len;
        let cpu0 = own_cpu_ns();
        let t0 = now_ns();
        let end = t0 + u64::from(self.setup.secs) * 1_000_000_000;
        let mut seq = 0u64;
        if self.setup.batch <= 1 {
            let mut f = vec![0u8; len];
            frame::write(&mut f, self.me, to, Kind::Data, 0);
            while now_ns() < end {
                for _ in 0..256 {
                    frame::set_seq(&mut f, seq);
                    if self.conn.send(&f) == len as isize {
                        seq += 1;
                    }
                }
            }
        } else {
            let mut b = Batch::new(self.setup.batch, len);
            for f in b.bufs_mut() {
                frame::write(f, self.me, to, Kind::Data, 0);
            }
            while now_ns() < end {
                for _ in 0..8 {
                    for (i, f) in b.bufs_mut().enumerate() {
                        frame::set_seq(f, seq + i as u64);
                    }
                    let n = b.len();
                    seq += self.conn.send_batch(&mut b, n) as u64;
                }
            }
        }
        Slot::put(&self.slot.tx, seq);
        Slot::put(&self.slot.send_start_ns, t0);
        Slot::put(&self.slot.send_end_ns, now_ns());
        self.finish(cpu0);
        while self.board.phase() != Phase::Stop {
            sleep_ms(10);
        }
    }

    fn receive(&mut self, from: Option<u16>, buf: &mut [u8]) {
        let cpu0 = own_cpu_ns();
        let mut t = Tally::default();
        if self.setup.batch <= 1 {
            while self.board.phase() != Phase::Stop {
                let n = self.conn.recv(buf);
                if n > 0 {
                    t.count(&buf[..n as usize], from, now_ns());
                }
            }
        } else {
            let mut b = Batch::new(self.setup.batch, BUF_LEN);
            while self.board.phase() != Phase::Stop {
                // Stamped once per system call, as the datagram batches are.
                let now = now_ns();
                self.conn.recv_batch(&mut b, |f| t.count(f, from, now));
            }
        }
        t.post(self.slot);
        self.finish(cpu0);
    }

    fn ping(&mut self, to: u16, buf: &mut [u8]) {
        if !wait_for(self.board, Phase::Go, &mut self.conn, buf) {
            return;
        }
        let cpu0 = own_cpu_ns();
        let t0 = now_ns();
        let end = t0 + u64::from(self.setup.secs) * 1_000_000_000;
        let mut f = vec![0u8; self.setup.len];
        frame::write(&mut f, self.me, Some(to), Kind::Ping, 0);
        let mut rtts: Vec<u64> = Vec::new();
        let mut seq = 0u64;
        while now_ns() < end {
            frame::set_seq(&mut f, seq);
            let sent = now_ns();
            self.conn.send(&f);
            loop {
                let n = self.conn.recv(buf);
                let now = now_ns();
                let answered = n > 0
                    && frame::read(&buf[..n as usize])
                        .is_some_and(|s| s.kind == Kind::Pong && s.seq == seq);
                if answered {
                    rtts.push(now - sent);
                    break;
                }
                if now - sent > PING_GIVE_UP_NS {
                    break;
                }
            }
            seq += 1;
        }
        Slot::put(&self.slot.tx, seq);
        Slot::put(&self.slot.send_start_ns, t0);
        Slot::put(&self.slot.send_end_ns, now_ns());
        post_rtts(self.slot, &mut rtts);
        self.finish(cpu0);
        while self.board.phase() != Phase::Stop {
            sleep_ms(10);
        }
    }

    fn echo(&mut self, buf: &mut [u8]) {
        let cpu0 = own_cpu_ns();
        let mut answered = 0u64;
        while self.board.phase() != Phase::Stop {
            let n = self.conn.recv(buf);
            if n <= 0 {
                continue;
            }
            let n = n as usize;
            if let Some(s) = frame::read(&buf[..n]).filter(|s| s.kind == Kind::Ping) {
                frame::write(&mut buf[..n], self.me, Some(s.port), Kind::Pong, s.seq);
                self.conn.send(&buf[..n]);
                answered += 1;
            }
        }
        Slot::put(&self.slot.rx, answered);
        self.finish(cpu0);
    }
}

/// Round-trip statistics: count, mean, median, 99th percentile, maximum.
fn post_rtts(slot: &Slot, rtts: &mut [u64]) {
    rtts.sort_unstable();
    let n = rtts.len();
    Slot::put(&slot.rtt_count, n as u64);
    if n == 0 {
        return;
    }
    let sum: u64 = rtts.iter().sum();
    Slot::put(&slot.rtt_mean_ns, sum / n as u64);
    Slot::put(&slot.rtt_p50_ns, rtts[n / 2]);
    Slot::put(&slot.rtt_p99_ns, rtts[(n * 99 / 100).min(n - 1)]);
    Slot::put(&slot.rtt_max_ns, rtts[n - 1]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_sorts_frames_by_source_and_sequence() {
        let mut t = Tally::default();
        let mut f = [0u8; 60];
        let mut data = |from, seq| {
            frame::write(&mut f, from, Some(1), Kind::Data, seq);
            f
        };
        for (from, seq) in [(0, 0), (0, 1), (0, 3), (0, 2), (5, 9)] {
            t.count(&data(from, seq), Some(0), 10 + seq);
        }
        t.count(&[0u8; 60], Some(0), 99);
        let mut learn = [0u8; 60];
        frame::write(&mut learn, 7, None, Kind::Learn, 0);
        t.count(&learn, Some(0), 99);
        assert_eq!((t.rx, t.leak, t.other), (4, 1, 1));
        assert_eq!((t.gaps, t.reordered), (1, 1));
        assert_eq!((t.first_ns, t.last_ns), (10, 12));
        // An idle port: every data frame is a leak.
        let mut idle = Tally::default();
        idle.count(&data(0, 0), None, 1);
        assert_eq!((idle.rx, idle.leak), (0, 1));
    }
}
