//! The impairment queue of one port and direction: frames go in with
//! [`push`](ImpairQueue::push) and come out, changed, dropped, doubled or
//! late, with [`pop_due`](ImpairQueue::pop_due).
//!
//! Each frame takes netem's path (`netem_enqueue` in Linux):
//!
//! 1. **duplicate** and **loss** are drawn; the copies are `1 + dup - loss`,
//!    so a frame both duplicated and lost goes on once, and one only lost is
//!    gone (counted in `lost`).
//! 2. A second copy takes steps 3-7 on its own, and is itself subject to loss
//!    (netem sends it back through the whole qdisc with duplication off).
//! 3. **limit**: with `limit` frames already held, the copy is dropped
//!    (`overflow`). netem corrupts before this check; checking first means
//!    `corrupted` counts only copies that are kept.
//! 4. **corrupt** flips one random bit, in the payload after the Ethernet
//!    header (after the 802.1Q tag on a tagged frame). netem flips any bit of
//!    the packet; here the header is spared on purpose: on a cable, a bad bit
//!    anywhere fails the frame check sequence and the frame vanishes, but in
//!    a switch without FCS a flipped address would poison the MAC table and a
//!    flipped tag would leak the frame into another VLAN, effects no real
//!    link has. A flipped payload bit reaches the guests' IP, TCP and UDP
//!    checksums, which is what a lab wants to show. A frame without payload
//!    is left alone (and not counted).
//! 5. **reorder** (which requires a delay): with its probability the copy
//!    skips the delay and the rate and leaves at the next `pop_due`, ahead of
//!    everything held; otherwise it is **delayed**. This is netem with its
//!    default `gap 1`.
//! 6. The delay is `delay ± jitter`, uniform, at least zero. Held frames leave
//!    in order of their due times, so, as in netem, a jitter larger than the
//!    spacing of the frames reorders them too.
//! 7. With a **rate**, the link sends one frame at a time: a frame is due when
//!    it has been sent, `max(now + delay, due time of the last frame held) +
//!    (len + overhead) * 8 / rate`. Like netem the length is the frame as the
//!    switch sees it, Ethernet header included, without preamble, FCS or
//!    inter-frame gap (`rate 1mbit 24` adds those 24 bytes). With a rate, no
//!    frame overtakes another, jitter or not.
//!
//! Times are values passed in (`now`); the module never reads a clock.
//! Frames are any owned buffer (`Vec<u8>`, `Box<[u8]>`, a pooled type): the
//! queue stores them in a ring that grows to `limit` once and is reused, so
//! the only allocation per frame is the clone of a duplicate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vde_protocol::ethernet::{Frame, HEADER_LEN, TAGGED_HEADER_LEN};

use super::rng::{Correlated, Rng, Threshold};
use super::settings::{Chance, Settings};

/// What happened to the frames of one queue since it was made (or reset).
///
/// For every pushed frame, `pushed + duplicated = queued + lost + overflow`;
/// `queued = sent + held` where `held` is [`ImpairQueue::len`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Frames given to `push`.
    pub pushed: u64,
    /// Copies taken into the queue (duplicates included).
    pub queued: u64,
    /// Copies that left through `pop_due` or `flush`.
    pub sent: u64,
    /// Copies held for some time (delay or rate), as opposed to sent at once.
    pub delayed: u64,
    /// Frames dropped by `loss`.
    pub lost: u64,
    /// Frames for which a second copy was made.
    pub duplicated: u64,
    /// Copies with one bit flipped.
    pub corrupted: u64,
    /// Copies sent ahead of the delayed ones.
    pub reordered: u64,
    /// Copies dropped because `limit` frames were held.
    pub overflow: u64,
}

impl Counters {
    pub fn to_json(&self) -> Value {
        json!({
            "pushed": self.pushed, "queued": self.queued, "sent": self.sent,
            "delayed": self.delayed, "lost": self.lost, "duplicated": self.duplicated,
            "corrupted": self.corrupted, "reordered": self.reordered, "overflow": self.overflow,
        })
    }
}

/// A probability with its correlation state.
#[derive(Debug, Clone, Default)]
struct Draw {
    p: Threshold,
    stream: Correlated,
}

impl Draw {
    fn new(c: Option<Chance>) -> Draw {
        c.map_or_else(Draw::default, |c| Draw {
            p: Threshold::from_percent(c.percent.value()),
            stream: Correlated::new(Threshold::from_percent(c.correlation.value())),
        })
    }

    /// Draws only when the probability is set, so that an unused impairment
    /// does not shift the random sequence of the others.
    fn happens(&mut self, rng: &mut Rng) -> bool {
        self.p != Threshold::NEVER && self.p.hit(self.stream.next(rng))
    }
}

/// The settings turned into what `push` needs per frame.
#[derive(Debug, Clone, Default)]
struct Plan {
    loss: Draw,
    duplicate: Draw,
    corrupt: Draw,
    reorder: Draw,
    delay_ns: u64,
    jitter_ns: u64,
    jitter: Correlated,
    bits_per_sec: u64,
    overhead: i64,
    limit: usize,
}

impl Plan {
    fn new(s: &Settings) -> Plan {
        let d = s.delay().unwrap_or_default();
        let r = s.rate();
        Plan {
            loss: Draw::new(s.loss()),
            duplicate: Draw::new(s.duplicate()),
            corrupt: Draw::new(s.corrupt()),
            reorder: Draw::new(s.reorder()),
            delay_ns: d.time.as_nanos() as u64,
            jitter_ns: d.jitter.as_nanos() as u64,
            jitter: Correlated::new(Threshold::from_percent(d.correlation.value())),
            bits_per_sec: r.map_or(0, |r| r.bits_per_sec),
            overhead: r.map_or(0, |r| i64::from(r.overhead)),
            limit: s.limit(),
        }
    }

    /// The delay of one frame: uniform in `delay ± jitter`, at least zero.
    fn delay(&mut self, rng: &mut Rng) -> Duration {
        if self.jitter_ns == 0 {
            return Duration::from_nanos(self.delay_ns);
        }
        let span = 2 * u128::from(self.jitter_ns) + 1;
        let offset = (u128::from(self.jitter.next(rng)) * span) >> 64;
        let ns = i128::from(self.delay_ns) - i128::from(self.jitter_ns) + offset as i128;
        Duration::from_nanos(ns.max(0) as u64)
    }

    /// How long a frame of `len` bytes occupies the link.
    fn transmission(&self, len: usize) -> Duration {
        let bytes = (len as i64 + self.overhead).max(0) as u128;
        let ns = bytes * 8 * 1_000_000_000 / u128::from(self.bits_per_sec);
        Duration::from_nanos(ns as u64)
    }
}

/// One held copy and the time it may leave.
#[derive(Debug)]
struct Held<B> {
    due: Instant,
    frame: B,
}

/// The impairment queue of one port and direction. See the module doc for
/// what happens to each frame and [`super`] for how the event loop drives it.
#[derive(Debug)]
pub struct ImpairQueue<B> {
    settings: Settings,
    plan: Plan,
    rng: Rng,
    /// Reordered copies, sent before anything else at the next `pop_due`.
    ahead: VecDeque<Held<B>>,
    /// Delayed copies, sorted by due time; copies due at the same time stay
    /// in arrival order.
    timed: VecDeque<Held<B>>,
    counters: Counters,
}

impl<B: AsRef<[u8]> + AsMut<[u8]> + Clone> ImpairQueue<B> {
    /// A queue applying `settings`, drawing from `seed` unless the settings
    /// carry their own (`seed N`). The caller picks the seed (from the clock,
    /// the port number, `/dev/urandom`...); tests fix it.
    pub fn new(settings: Settings, seed: u64) -> ImpairQueue<B> {
        let limit = settings.limit();
        ImpairQueue {
            plan: Plan::new(&settings),
            rng: Rng::new(settings.seed().unwrap_or(seed)),
            settings,
            ahead: VecDeque::new(),
            timed: VecDeque::with_capacity(limit.min(64)),
            counters: Counters::default(),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Applies new settings to the frames pushed from now on; the frames held
    /// keep their due times (as `tc qdisc change` does). A new `seed N`
    /// restarts the random sequence; counters go on.
    pub fn reconfigure(&mut self, settings: Settings) {
        if let Some(seed) = settings.seed() {
            self.rng = Rng::new(seed);
        }
        self.plan = Plan::new(&settings);
        self.settings = settings;
    }

    /// Takes a frame arriving at `now`; returns how many copies were queued
    /// (0, 1 or 2). Nothing leaves here, not even a frame due at once: call
    /// [`pop_due`](Self::pop_due) after a batch of pushes.
    pub fn push(&mut self, frame: B, now: Instant) -> usize {
        self.counters.pushed += 1;
        let p = &mut self.plan;
        let mut copies = 1 + usize::from(p.duplicate.happens(&mut self.rng));
        if p.loss.happens(&mut self.rng) {
            copies -= 1;
        }
        match copies {
            0 => {
                self.counters.lost += 1;
                0
            }
            1 => self.enqueue(frame, now),
            _ => {
                self.counters.duplicated += 1;
                // The second copy is subject to loss again, as in netem.
                let second = if self.plan.loss.happens(&mut self.rng) {
                    self.counters.lost += 1;
                    0
                } else {
                    self.enqueue(frame.clone(), now)
                };
                self.enqueue(frame, now) + second
            }
        }
    }

    /// Steps 3-7 of the module doc for one copy.
    fn enqueue(&mut self, mut frame: B, now: Instant) -> usize {
        if self.len() >= self.plan.limit {
            self.counters.overflow += 1;
            return 0;
        }
        if self.plan.corrupt.happens(&mut self.rng)
            && flip_payload_bit(frame.as_mut(), &mut self.rng)
        {
            self.counters.corrupted += 1;
        }
        self.counters.queued += 1;
        if self.plan.reorder.happens(&mut self.rng) {
            self.counters.reordered += 1;
            self.ahead.push_back(Held { due: now, frame });
            return 1;
        }
        let mut due = now + self.plan.delay(&mut self.rng);
        if self.plan.bits_per_sec > 0 {
            if let Some(last) = self.timed.back() {
                due = due.max(last.due);
            }
            due += self.plan.transmission(frame.as_ref().len());
        }
        if due > now {
            self.counters.delayed += 1;
        }
        // Without jitter due times only grow, so this is an append.
        let at = self.timed.partition_point(|h| h.due <= due);
        self.timed.insert(at, Held { due, frame });
        1
    }

    /// When the next frame is due, for the event loop's timer; `None` when
    /// nothing is held. May be in the past (then `pop_due` has work now).
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.ahead.front(), self.timed.front()) {
            (Some(a), _) => Some(a.due),
            (None, Some(t)) => Some(t.due),
            (None, None) => None,
        }
    }

    /// Appends to `out` every frame due at `now`, in the order they must be
    /// sent; returns how many.
    pub fn pop_due(&mut self, now: Instant, out: &mut Vec<B>) -> usize {
        let before = out.len();
        out.extend(self.ahead.drain(..).map(|h| h.frame));
        while let Some(h) = self.timed.front() {
            if h.due > now {
                break;
            }
            if let Some(h) = self.timed.pop_front() {
                out.push(h.frame);
            }
        }
        let n = out.len() - before;
        self.counters.sent += n as u64;
        n
    }

    /// Appends every held frame to `out` at once, in order (for `off`, so that
    /// nothing already accepted is lost); returns how many.
    pub fn flush(&mut self, out: &mut Vec<B>) -> usize {
        let before = out.len();
        out.extend(self.ahead.drain(..).map(|h| h.frame));
        out.extend(self.timed.drain(..).map(|h| h.frame));
        let n = out.len() - before;
        self.counters.sent += n as u64;
        n
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.ahead.len() + self.timed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }
}

/// Flips one random bit after the Ethernet (and 802.1Q) header; false when
/// there is no payload to flip.
fn flip_payload_bit(frame: &mut [u8], rng: &mut Rng) -> bool {
    let header = if frame.len() >= HEADER_LEN && Frame::new_unchecked(&*frame).is_tagged() {
        TAGGED_HEADER_LEN
    } else {
        HEADER_LEN
    };
    let Some(payload) = frame.get_mut(header..).filter(|p| !p.is_empty()) else {
        return false;
    };
    let bit = rng.below(payload.len() as u64 * 8);
    payload[(bit / 8) as usize] ^= 1 << (bit % 8);
    true
}
