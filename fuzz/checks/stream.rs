//! Checks of the length-prefixed stream decoder, shared by the `stream` fuzz target and
//! `protocol/tests/format_checks.rs`.
//!
//! The input picks a framing, a frame limit and a way to cut the rest into chunks; the rest is
//! the stream. Fed chunk by chunk, the decoder must return exactly the frames and the error of
//! a plain one-pass reading of the whole stream, and the frames re-encoded must give back the
//! stream up to where it stopped.

use vde_protocol::stream::{Decoder, Framing, StreamError, QEMU_MAX_FRAME, VDESTREAM_MAX_FRAME};

const LIMITS: [usize; 7] = [1, 14, 60, 1518, VDESTREAM_MAX_FRAME, 65535, QEMU_MAX_FRAME];

/// The whole stream read in one pass, the obvious way: frames, then how it ended.
fn model(framing: Framing, max: usize, mut s: &[u8]) -> (Vec<&[u8]>, Result<(), StreamError>) {
    let hl = framing.header_len();
    let mut frames = Vec::new();
    loop {
        if s.is_empty() {
            return (frames, Ok(()));
        }
        if s.len() < hl {
            let e = StreamError::Truncated {
                framing,
                have: s.len(),
                need: hl,
            };
            return (frames, Err(e));
        }
        let len = s[..hl].iter().fold(0usize, |n, &b| n << 8 | usize::from(b));
        if len == 0 {
            return (frames, Err(StreamError::ZeroLength { framing }));
        }
        if len > max {
            return (frames, Err(StreamError::TooLong { framing, len, max }));
        }
        if s.len() < hl + len {
            let e = StreamError::Truncated {
                framing,
                have: s.len(),
                need: hl + len,
            };
            return (frames, Err(e));
        }
        frames.push(&s[hl..hl + len]);
        s = &s[hl + len..];
    }
}

/// Chunk lengths from a seed: 1 to 64 bytes, or everything left.
fn chunks(seed: u8, mut s: &[u8]) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 1;
    let mut out = Vec::new();
    while !s.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let n = match (state >> 16) % 8 {
            0 => s.len(),
            k => 1 + ((state >> 8) as usize % (8 << k)),
        }
        .min(s.len());
        out.push(&s[..n]);
        s = &s[n..];
    }
    out
}

pub fn check(data: &[u8]) {
    let [config, seed, stream @ ..] = data else {
        return;
    };
    let framing = if config & 1 == 0 {
        Framing::Qemu
    } else {
        Framing::VdeStream
    };
    let max = LIMITS[usize::from(config >> 1) % LIMITS.len()];
    let (want_frames, want_end) = model(framing, max.min(framing.max_len()), stream);

    let mut dec = Decoder::new(framing, max);
    let mut got = Vec::new();
    'feed: for chunk in chunks(*seed, stream) {
        let mut input = chunk;
        loop {
            match dec.decode(&mut input) {
                Ok(Some(frame)) => got.push(frame.to_vec()),
                Ok(None) => {
                    assert!(input.is_empty(), "None before the chunk was used up");
                    break;
                }
                Err(e) => {
                    assert_eq!(dec.decode(&mut input), Err(e), "errors stick");
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(got, want_frames, "{framing}, limit {max}");
    assert_eq!(dec.finish(), want_end, "{framing}, limit {max}");

    let mut again = Vec::new();
    for f in &got {
        framing
            .encode(f, &mut again)
            .expect("decoded frames encode");
    }
    assert_eq!(again[..], stream[..again.len()]);
    dec.reset();
    assert!(dec.is_idle() && dec.finish().is_ok());
}
