//! Deadlines of the event loop. Whoever needs to act later (the once-a-second tick, a
//! handshake that must finish, the check for receivers that stopped reading, an impairment
//! releasing a delayed frame) sets a timer; the loop sleeps until the earliest one and fires
//! those that are due. There is no cancelling: a timer whose owner went away, or whose reason
//! passed, is ignored when it fires (owners are named by generational keys).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::slab::Key;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The once-a-second tick: uptime and MAC ageing.
    Tick,
    /// Look for receivers that stopped reading.
    StuckCheck,
    /// A subscriber's own timer, with the tag it chose.
    Sub(Key, u64),
    /// A link's timer, with the tag it chose.
    Link(Key, u64),
    /// A port hook's timer, with the tag it chose.
    Hook(Key, u64),
}

#[derive(Debug)]
struct Timer {
    at: Instant,
    seq: u64,
    due: Due,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A queue of deadlines, earliest first; equal deadlines fire in the order they were set.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    seq: u64,
}

impl Timers {
    pub fn set(&mut self, at: Instant, due: Due) {
        self.seq += 1;
        self.heap.push(Reverse(Timer {
            at,
            seq: self.seq,
            due,
        }));
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|t| t.0.at)
    }

    /// The earliest timer due at `now`, taken out of the queue.
    pub fn pop_due(&mut self, now: Instant) -> Option<Due> {
        if self.next()? > now {
            return None;
        }
        self.heap.pop().map(|t| t.0.due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first_and_only_when_due() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = Timers::default();
        t.set(t0 + ms(30), Due::Tick);
        t.set(t0 + ms(10), Due::StuckCheck);
        t.set(t0 + ms(10), Due::Tick);
        assert_eq!(t.next(), Some(t0 + ms(10)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(t.pop_due(t0 + ms(20)), Some(Due::StuckCheck));
        assert_eq!(t.pop_due(t0 + ms(20)), Some(Due::Tick));
        assert_eq!(t.pop_due(t0 + ms(20)), None);
        assert_eq!(t.pop_due(t0 + ms(30)), Some(Due::Tick));
        assert_eq!(t.next(), None);
    }
}
