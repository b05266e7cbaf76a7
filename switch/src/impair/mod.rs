//! Impairments: delay, jitter, loss, duplication, corruption, reordering and
//! a rate limit on the frames of one port and direction, set with `tc
//! netem`'s words ([`Settings`]) and applied by an [`ImpairQueue`].
//!
//! Like the fabric this is a pure state machine: no sockets, no clock, no
//! threads. Time is passed in and randomness comes from a seeded generator
//! the queue owns, so a test (or a lab with `seed N`) sees the same frames
//! lost and delayed on every run.
//!
//! # How the event loop drives it
//!
//! The `edges` port hook (`server/edges/`) keeps an `Option<ImpairQueue>` per port and
//! direction (`in`: what enters the switch from the port, before the fabric; `out`: what
//! leaves through it, after the fabric and its tag changes). `None` is the default and costs
//! nothing: frames take the usual path. Otherwise:
//!
//! 1. a frame crossing that port and direction is taken by the hook and handed over with
//!    `queue.push(frame, now)`;
//! 2. the hook sets a timer at `queue.next_deadline()` unless one as early is set already;
//! 3. when it fires, `queue.pop_due(now, &mut out)` gives the frames to forward (or send),
//!    and the next timer is set.
//!
//! No thread per port and no busy waiting: the queue says when it next has work. A queue is
//! bounded by `limit` frames; what does not fit is dropped and counted in
//! [`Counters::overflow`].
//!
//! `port/impair N DIR off` ([`Settings::is_passthrough`]) lets new frames pass at once; the
//! frames already held leave when due, then the queue goes ([`ImpairQueue::flush`] would
//! send them at once, ahead of their time). New settings on a live queue go through
//! [`ImpairQueue::reconfigure`], which keeps the frames held.

pub mod queue;
pub mod rng;
pub mod settings;
pub mod units;

pub use queue::{Counters, ImpairQueue};
pub use settings::{Chance, Delay, ParseError, Rate, Settings, DEFAULT_LIMIT, MAX_LIMIT};
pub use units::Percent;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
