//! The board the client processes and the coordinator share: the phase of the run, set by the
//! coordinator, and one slot per port where each client posts its state and its counts.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};

/// Most ports one run can drive.
pub const MAX_PORTS: usize = 256;

/// The phases of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Phase {
    /// Clients connect one after the other.
    Connect = 0,
    /// Every client is connected: each announces its MAC.
    Learn = 1,
    /// Senders send for the measured time.
    Go = 2,
    /// Everything ends (also on an error).
    Stop = 3,
}

/// A client's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum State {
    Starting = 0,
    Connected = 1,
    Learned = 2,
    Done = 3,
    Failed = 4,
}

#[repr(C)]
pub struct Board {
    phase: AtomicU32,
    pub slots: [Slot; MAX_PORTS],
}

/// What one client posts. Counters are written once, when the client finishes.
#[repr(C)]
#[derive(Default)]
pub struct Slot {
    state: AtomicU32,
    /// errno of a failed `vde_open`.
    pub errno: AtomicI32,
    pub tx: AtomicU64,
    pub rx: AtomicU64,
    pub leak: AtomicU64,
    pub other: AtomicU64,
    pub reordered: AtomicU64,
    pub gaps: AtomicU64,
    pub first_rx_ns: AtomicU64,
    pub last_rx_ns: AtomicU64,
    pub send_start_ns: AtomicU64,
    pub send_end_ns: AtomicU64,
    pub cpu_ns: AtomicU64,
    pub rtt_count: AtomicU64,
    pub rtt_mean_ns: AtomicU64,
    pub rtt_p50_ns: AtomicU64,
    pub rtt_p99_ns: AtomicU64,
    pub rtt_max_ns: AtomicU64,
}

impl Board {
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Connect,
            1 => Phase::Learn,
            2 => Phase::Go,
            _ => Phase::Stop,
        }
    }

    pub fn set_phase(&self, p: Phase) {
        self.phase.store(p as u32, Ordering::Release);
    }
}

impl Slot {
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            0 => State::Starting,
            1 => State::Connected,
            2 => State::Learned,
            3 => State::Done,
            _ => State::Failed,
        }
    }

    /// Publish a new state; counters stored before it are visible to whoever sees it.
    pub fn set_state(&self, s: State) {
        self.state.store(s as u32, Ordering::Release);
    }

    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Acquire)
    }

    pub fn put(v: &AtomicU64, x: u64) {
        v.store(x, Ordering::Release);
    }
}
