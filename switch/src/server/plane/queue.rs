//! Frames held for a receiver that was momentarily full, and the marks that decide when its
//! senders pause and when it counts as stuck.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::server::slab::Key;

/// A receiver queue longer than this pauses the inputs that feed it ...
pub const QUEUE_HIGH: usize = 256;
/// ... until it is back under this.
pub const QUEUE_LOW: usize = 64;
/// Frames beyond this are dropped (and counted) even before the receiver is
/// declared stuck.
pub const QUEUE_CAP: usize = 2048;
/// A receiver that takes nothing for this long is stuck: its frames are
/// dropped so the inputs feeding it can go on.
pub const STUCK_AFTER: Duration = Duration::from_millis(100);
/// How often blocked receivers are checked.
pub const STUCK_CHECK: Duration = Duration::from_millis(20);

#[derive(Default)]
pub struct OutQueue {
    pub frames: VecDeque<Box<[u8]>>,
    /// Last time this receiver took frames while some were waiting.
    pub blocked_since: Option<Instant>,
    /// The receiver stopped reading: its frames are dropped until it reads again.
    pub stuck: bool,
    /// Links whose reading is paused because of this queue, resumed when it drains.
    pub waiters: Vec<Key>,
}

impl OutQueue {
    /// Whether the link carrying this receiver must be watched for room to send.
    pub fn wants_writable(&self) -> bool {
        !self.frames.is_empty() || self.stuck
    }
}
