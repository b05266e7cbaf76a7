//! The load generator (`vdeperf load`): real libvdeplug clients, one process per port, driving
//! any switch that speaks the vde protocol, and one result line of `key=value` pairs.
//!
//! Modes: `uni` (port 0 sends to port 1; the other ports are idle, learned, and must receive
//! nothing: `leak`), `pairs` (port 2k sends to port 2k+1), `bcast` (port 0 sends to the
//! broadcast address, every other port receives) and `rr` (port 0 pings port 1 and waits for
//! each answer: round-trip latency). With `-B N` the clients send and receive with
//! `sendmmsg`/`recvmmsg` batches on `vde_datafd()` instead of one `vde_send`/`vde_recv` per
//! frame: cheaper clients, so the switch is pressed harder.
//!
//! A run: the clients connect one by one; once all are connected, each broadcasts its MAC twice
//! (the reference switch forgets every MAC when a port comes or goes); 200 ms later the senders
//! send for `-t` seconds, blocking when the switch's queue is full, as libvdeplug clients do;
//! 300 ms after the last sender the receivers stop. The switch's CPU time (`-P PID`) is read at
//! the start signal and after the drain.
//!
//! Result keys: `tx`/`rx` frames sent and counted, `tx_fps` (accepted by the switch, per
//! sender time), `rx_fps` (delivered, all receivers together, between the first and the last
//! frame any of them received), `loss` (1 − rx/expected; bcast expects tx × receivers),
//! `leak` (data frames at a port they were not for), `ooo`/`gaps` (sequence numbers going back
//! or skipping), `other` (frames that are not ours), `clients_cpu_s`, `sw_cpu_s`,
//! `sw_cpu_ns_per_rx`, `sw_cpu_ns_per_tx`; rr: `transactions`, `tps`, `rtt_mean_us`,
//! `rtt_p50_us`, `rtt_p99_us`, `rtt_max_us`, `sw_cpu_us_per_rtt`.

mod board;
pub mod client;
pub mod frame;
pub mod port;
pub mod vdeplug;

use std::fmt::Write as _;

use board::{Board, Phase, Slot, State, MAX_PORTS};
use client::{Role, Setup};

use crate::fork::{self, now_ns, sleep_ms, Shared};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Uni,
    Pairs,
    Bcast,
    Rr,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Uni => "uni",
            Mode::Pairs => "pairs",
            Mode::Bcast => "bcast",
            Mode::Rr => "rr",
        }
    }
}

/// `vdeperf load` options (the same letters as the classic vdebench client, so a suite's
/// arguments run on either).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The switch: its directory, any vdeplug4 URL, or `stream:PATH` (its `--stream PATH`
    /// socket, with our own QEMU-style stream client)
    #[arg(short = 's', long = "switch", value_name = "DIR|URL")]
    pub url: String,
    #[arg(short = 'm', long, value_enum, default_value = "uni")]
    pub mode: Mode,
    /// Client ports
    #[arg(short = 'p', long, default_value_t = 2)]
    pub ports: usize,
    /// Frame length without FCS (60: a 64-byte frame; 1514: a full 1500-byte MTU frame)
    #[arg(short = 'l', long = "len", default_value_t = 60)]
    pub len: usize,
    /// Seconds of sending
    #[arg(short = 't', long, default_value_t = 3)]
    pub secs: u32,
    /// Batch size: send and receive with sendmmsg/recvmmsg on vde_datafd(), or on a stream
    /// this many frames per write and whatever one read brings (1: one frame per call)
    #[arg(short = 'B', long, default_value_t = 1)]
    pub batch: usize,
    /// The switch's pid, to report its CPU time per frame
    #[arg(short = 'P', long)]
    pub pid: Option<u32>,
    /// A second switch, joined to the first by a cable or an uplink: ports 1, 3, 5... connect
    /// here, so every frame crosses between the two
    #[arg(short = 'S', long = "second", value_name = "DIR|URL")]
    pub second: Option<String>,
    /// More processes whose CPU time counts as the switch's (the second switch, a cable's
    /// processes), repeatable
    #[arg(long = "also-pid", value_name = "PID")]
    pub also_pids: Vec<u32>,
    /// Free text printed in the result line
    #[arg(short = 'T', long, default_value = "")]
    pub tag: String,
}

/// Largest `-B`.
const MAX_BATCH: usize = 256;

/// The role of each port in `mode`.
pub fn roles(mode: Mode, ports: usize) -> Vec<Role> {
    let last = ports.saturating_sub(1) as u16;
    (0..ports as u16)
        .map(|i| match (mode, i) {
            (Mode::Uni, 0) => Role::Send { to: Some(1) },
            (Mode::Uni, 1) => Role::Receive { from: Some(0) },
            (Mode::Rr, 0) => Role::Ping { to: 1 },
            (Mode::Rr, 1) => Role::Echo,
            (Mode::Uni | Mode::Rr, _) => Role::Receive { from: None },
            (Mode::Pairs, i) if i % 2 == 1 => Role::Receive { from: Some(i - 1) },
            (Mode::Pairs, i) if i < last => Role::Send { to: Some(i + 1) },
            (Mode::Pairs, _) => Role::Receive { from: None },
            (Mode::Bcast, 0) => Role::Send { to: None },
            (Mode::Bcast, _) => Role::Receive { from: Some(0) },
        })
        .collect()
}

fn check(o: &Options) -> Result<(), String> {
    if !(2..=MAX_PORTS).contains(&o.ports) {
        return Err(format!("-p {}: between 2 and {MAX_PORTS} ports", o.ports));
    }
    if !(frame::MIN_LEN..=frame::MAX_LEN).contains(&o.len) {
        return Err(format!(
            "-l {}: frames of {} to {} bytes",
            o.len,
            frame::MIN_LEN,
            frame::MAX_LEN
        ));
    }
    if !(1..=MAX_BATCH).contains(&o.batch) {
        return Err(format!("-B {}: between 1 and {MAX_BATCH}", o.batch));
    }
    if o.secs == 0 {
        return Err("-t 0: send for at least a second".into());
    }
    Ok(())
}

/// The children of a run; killed and reaped on drop, so an error leaves no client behind.
struct Clients {
    board: Shared<Board>,
    pids: Vec<libc::pid_t>,
}

impl Clients {
    fn stop(&mut self) {
        self.board.set_phase(Phase::Stop);
    }

    /// Wait until every child has exited (after [`Clients::stop`]), killing any still there
    /// after `grace_ms`.
    fn reap(&mut self, grace_ms: u64) {
        fork::reap(&self.pids, grace_ms);
        self.pids.clear();
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.stop();
        self.reap(1000);
    }
}

/// Wait up to `limit_ms` for `slot` to leave `from`; its new state.
fn await_state(slot: &Slot, from: &[State], limit_ms: u64) -> State {
    let t0 = now_ns();
    loop {
        let s = slot.state();
        if !from.contains(&s) || now_ns() - t0 > limit_ms * 1_000_000 {
            return s;
        }
        sleep_ms(1);
    }
}

/// Run one measurement and return its result line. The process must be single-threaded
/// (clients are forked).
pub fn run(o: &Options) -> Result<String, String> {
    check(o)?;
    // Loaded before forking: every client inherits it, and a missing library is one error.
    if !o.url.starts_with(port::STREAM_PREFIX) {
        vdeplug::available()?;
    }
    // SAFETY: SIGPIPE ignored in this process and its children: a vanished switch is an error
    // return, not a death.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let roles = roles(o.mode, o.ports);
    let setup = Setup {
        url: o.url.clone(),
        len: o.len,
        secs: o.secs,
        batch: o.batch,
    };
    // SAFETY: Board is a repr(C) struct of atomics, valid when zeroed.
    let board = unsafe { Shared::<Board>::zeroed() }.map_err(|e| format!("mmap: {e}"))?;
    let mut clients = Clients {
        board,
        pids: Vec::new(),
    };
    let mut second = setup.clone();
    if let Some(url) = &o.second {
        second.url = url.clone();
    }
    for (i, role) in roles.iter().enumerate() {
        let board = &*clients.board;
        let setup = if i % 2 == 1 { &second } else { &setup };
        let pid = fork::spawn(|| client::run(board, i as u16, *role, setup))
            .map_err(|e| format!("fork: {e}"))?;
        clients.pids.push(pid);
        let slot = &clients.board.slots[i];
        match await_state(slot, &[State::Starting], 5000) {
            State::Connected => {}
            State::Failed => {
                let errno = slot.errno.load(std::sync::atomic::Ordering::Acquire);
                return Err(format!(
                    "port {i} could not connect to {}: {}",
                    o.url,
                    std::io::Error::from_raw_os_error(errno)
                ));
            }
            _ => return Err(format!("port {i}: no connection to {} within 5 s", o.url)),
        }
    }
    clients.board.set_phase(Phase::Learn);
    for (i, slot) in clients.board.slots[..o.ports].iter().enumerate() {
        if await_state(slot, &[State::Connected], 5000) == State::Connected {
            return Err(format!("port {i} did not announce itself within 5 s"));
        }
    }
    sleep_ms(200);
    // Every process counted must be there at both ends of the measurement.
    let switch_cpu = || -> Option<u64> {
        let first = crate::proc::cpu_ns(o.pid?)?;
        o.also_pids
            .iter()
            .try_fold(first, |sum, &p| Some(sum + crate::proc::cpu_ns(p)?))
    };
    let cpu0 = switch_cpu();
    clients.board.set_phase(Phase::Go);
    let senders: Vec<usize> = roles
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Role::Send { .. } | Role::Ping { .. }))
        .map(|(i, _)| i)
        .collect();
    let limit_ms = (u64::from(o.secs) + 30) * 1000;
    for &i in &senders {
        let slot = &clients.board.slots[i];
        if await_state(slot, &[State::Learned], limit_ms) != State::Done {
            return Err(format!(
                "sender on port {i} did not finish (the switch stopped taking frames?)"
            ));
        }
    }
    sleep_ms(300);
    let cpu1 = switch_cpu();
    clients.stop();
    clients.reap(5000);
    let sw_cpu_s = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a) as f64 / 1e9),
        _ => None,
    };
    Ok(summary(
        o,
        &roles,
        &clients.board.slots[..o.ports],
        sw_cpu_s,
    ))
}

/// The result line.
fn summary(o: &Options, roles: &[Role], slots: &[Slot], sw_cpu_s: Option<f64>) -> String {
    let get = Slot::get;
    let mut tx = 0u64;
    let mut send_secs = 0.0;
    let mut senders = 0;
    let (mut rx, mut leak, mut other, mut ooo, mut gaps) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let (mut first, mut last) = (u64::MAX, 0u64);
    let (mut rx_min, mut rx_max) = (u64::MAX, 0u64);
    let mut receivers = 0u64;
    let mut clients_cpu = 0u64;
    for (slot, role) in slots.iter().zip(roles) {
        clients_cpu += get(&slot.cpu_ns);
        match role {
            Role::Send { .. } | Role::Ping { .. } => {
                tx += get(&slot.tx);
                send_secs +=
                    get(&slot.send_end_ns).saturating_sub(get(&slot.send_start_ns)) as f64 / 1e9;
                senders += 1;
            }
            Role::Echo => {}
            Role::Receive { from } => {
                leak += get(&slot.leak);
                if from.is_none() {
                    continue;
                }
                let n = get(&slot.rx);
                rx += n;
                other += get(&slot.other);
                ooo += get(&slot.reordered);
                gaps += get(&slot.gaps);
                receivers += 1;
                rx_min = rx_min.min(n);
                rx_max = rx_max.max(n);
                if n > 0 {
                    first = first.min(get(&slot.first_rx_ns));
                    last = last.max(get(&slot.last_rx_ns));
                }
            }
        }
    }
    let send_secs = send_secs / f64::from(senders.max(1));
    let per_sec = |n: u64, secs: f64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    let sw = sw_cpu_s.unwrap_or(-1.0);
    let per = |n: u64, unit: f64| match sw_cpu_s {
        Some(s) if n > 0 => s / n as f64 * unit,
        _ => -1.0,
    };
    let mut line = format!(
        "tag={} mode={} len={} ports={} batch={} secs={}",
        o.tag,
        o.mode.name(),
        o.len,
        o.ports,
        o.batch,
        o.secs
    );
    if o.mode == Mode::Rr {
        let ping = &slots[0];
        let us = |v: &std::sync::atomic::AtomicU64| get(v) as f64 / 1000.0;
        let _ = write!(
            line,
            " transactions={tx} tps={:.0} rtt_mean_us={:.2} rtt_p50_us={:.2} rtt_p99_us={:.2} \
             rtt_max_us={:.1} leak={leak} clients_cpu_s={:.3} sw_cpu_s={sw:.3} sw_cpu_us_per_rtt={:.2}",
            per_sec(get(&ping.rtt_count), send_secs),
            us(&ping.rtt_mean_ns),
            us(&ping.rtt_p50_ns),
            us(&ping.rtt_p99_ns),
            us(&ping.rtt_max_ns),
            clients_cpu as f64 / 1e9,
            per(get(&ping.rtt_count), 1e6),
        );
        return line;
    }
    let rx_secs = if last > first {
        (last - first) as f64 / 1e9
    } else {
        0.0
    };
    let rx_fps = per_sec(rx, rx_secs);
    let expected = if o.mode == Mode::Bcast {
        tx * receivers
    } else {
        tx
    };
    let loss = if expected > 0 {
        1.0 - rx as f64 / expected as f64
    } else {
        0.0
    };
    let _ = write!(
        line,
        " tx={tx} rx={rx} tx_fps={:.0} rx_fps={rx_fps:.0} rx_Gbps={:.3} loss={loss:.4}",
        per_sec(tx, send_secs),
        rx_fps * o.len as f64 * 8.0 / 1e9,
    );
    if o.mode == Mode::Bcast {
        let _ = write!(
            line,
            " per_port_rx_fps={:.0} rx_min={} rx_max={rx_max}",
            rx_fps / receivers.max(1) as f64,
            if receivers > 0 { rx_min } else { 0 }
        );
    }
    let _ = write!(
        line,
        " leak={leak} ooo={ooo} gaps={gaps} other={other} clients_cpu_s={:.3} sw_cpu_s={sw:.3} \
         sw_cpu_ns_per_rx={:.0} sw_cpu_ns_per_tx={:.0}",
        clients_cpu as f64 / 1e9,
        per(rx, 1e9),
        per(tx, 1e9),
    );
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_per_mode() {
        use Role::*;
        assert_eq!(
            roles(Mode::Uni, 4),
            [
                Send { to: Some(1) },
                Receive { from: Some(0) },
                Receive { from: None },
                Receive { from: None }
            ]
        );
        assert_eq!(
            roles(Mode::Pairs, 5),
            [
                Send { to: Some(1) },
                Receive { from: Some(0) },
                Send { to: Some(3) },
                Receive { from: Some(2) },
                Receive { from: None }
            ]
        );
        assert_eq!(
            roles(Mode::Bcast, 3),
            [
                Send { to: None },
                Receive { from: Some(0) },
                Receive { from: Some(0) }
            ]
        );
        assert_eq!(
            roles(Mode::Rr, 3),
            [Ping { to: 1 }, Echo, Receive { from: None }]
        );
    }

    #[test]
    fn summary_of_a_broadcast() {
        let o = Options {
            url: "/x".into(),
            mode: Mode::Bcast,
            ports: 3,
            len: 60,
            secs: 1,
            batch: 1,
            pid: Some(1),
            second: None,
            also_pids: Vec::new(),
            tag: "t".into(),
        };
        let slots: Vec<Slot> = (0..3).map(|_| Slot::default()).collect();
        let put = Slot::put;
        put(&slots[0].tx, 1000);
        put(&slots[0].send_start_ns, 0);
        put(&slots[0].send_end_ns, 1_000_000_000);
        for s in &slots[1..] {
            put(&s.rx, 900);
            put(&s.first_rx_ns, 100_000_000);
            put(&s.last_rx_ns, 1_100_000_000);
        }
        put(&slots[2].leak, 2);
        let line = summary(&o, &roles(Mode::Bcast, 3), &slots, Some(0.0018));
        let s = crate::loadgen::parse(&line);
        assert_eq!(s["tx"], 1000.0);
        assert_eq!(s["rx"], 1800.0);
        assert_eq!(s["rx_fps"], 1800.0);
        assert_eq!(s["loss"], 0.1);
        assert_eq!(s["leak"], 2.0);
        assert_eq!(s["sw_cpu_ns_per_rx"], 1000.0);
        assert_eq!(s["rx_min"], 900.0);
    }
}
