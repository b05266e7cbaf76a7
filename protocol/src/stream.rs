//! Ethernet frames on a byte stream, each preceded by its length.
//!
//! Two programs the switch talks to frame a stream this way and differ only in the width of the
//! big-endian length:
//!
//! | [`Framing`] | who | header | longest frame the peer accepts | zero length at the peer | longer at the peer |
//! |---|---|---|---|---|---|
//! | [`Qemu`](Framing::Qemu) | QEMU `-netdev stream` and `-netdev socket`, passt, socket_vmnet | `u32` | 69632 bytes (QEMU's receive buffer, 64 KiB + 4 KiB) | passed on as an empty packet, after which QEMU 7.2 stops reading that connection | connection closed when the bytes overflow its buffer |
//! | [`VdeStream`](Framing::VdeStream) | vdeplug4's `vde_plug` on stdin/stdout, `dpipe` cables | `u16` | 9236 bytes (`VDE_ETHBUFSIZE` + 2) | skipped | error reported, rest of that read dropped: out of step |
//!
//! Neither peer sends a zero length on its own (QEMU sends what its NIC emits, `vde_plug` only
//! frames of at least 14 bytes), and a length beyond what the receiver accepts means the peer is
//! misconfigured or the stream is out of step. [`Decoder`] therefore refuses both with a
//! [`StreamError`] that names the problem; the caller closes that peer. It is fed whatever a
//! `read` returned (half a header, half a frame, many frames) and hands frames out without
//! copying when a frame lies whole in the chunk, copying only frames that straddle two chunks.
//!
//! Sending is [`Framing::encode`] (header and frame appended to a buffer, for one write of many
//! frames) or [`Framing::header`] (the header alone, to write beside the frame with `writev`).
//!
//! `protocol/tests/qemu_stream.rs` and `protocol/tests/vde_plug.rs` run both framings through
//! the real QEMU and `vde_plug`, including QEMU's limit.
//!
//! `vde_plug` (vdeplug4 4.0.1) cannot reassemble a length header split between two of its
//! reads: it then loses step and reports length errors. It reads at most 9234 bytes at a time,
//! so a writer cannot rule this out, only make it rare by writing whole frames.

use core::fmt;

/// Length of each frame at the start of the stream record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// 4-byte big-endian length: QEMU `-netdev stream`/`socket`, passt, socket_vmnet.
    Qemu,
    /// 2-byte big-endian length: vdeplug4's stream (`vde_plug` stdin/stdout, `dpipe`).
    VdeStream,
}

/// Longest frame QEMU accepts on a stream: its `NET_BUFSIZE` receive buffer.
pub const QEMU_MAX_FRAME: usize = 4096 + 65536;
/// Longest frame vdeplug4 accepts on a stream: `VDE_ETHBUFSIZE` (9216 + 14 + 4) plus 2.
pub const VDESTREAM_MAX_FRAME: usize = 9216 + 14 + 4 + 2;

impl Framing {
    /// Bytes of the length header: 4 or 2.
    pub const fn header_len(self) -> usize {
        match self {
            Framing::Qemu => 4,
            Framing::VdeStream => 2,
        }
    }

    /// Largest length the header can carry.
    pub const fn max_len(self) -> usize {
        match self {
            Framing::Qemu => u32::MAX as usize,
            Framing::VdeStream => u16::MAX as usize,
        }
    }

    /// Longest frame the reference peer of this framing accepts ([`QEMU_MAX_FRAME`],
    /// [`VDESTREAM_MAX_FRAME`]).
    pub const fn peer_max_frame(self) -> usize {
        match self {
            Framing::Qemu => QEMU_MAX_FRAME,
            Framing::VdeStream => VDESTREAM_MAX_FRAME,
        }
    }

    /// Reads the length from the first [`header_len`](Self::header_len) bytes of `header`.
    ///
    /// # Panics
    /// If `header` is shorter than that.
    pub fn read_len(self, header: &[u8]) -> usize {
        match self {
            Framing::Qemu => {
                u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize
            }
            Framing::VdeStream => u16::from_be_bytes([header[0], header[1]]) as usize,
        }
    }

    /// The header announcing a frame of `len` bytes. Refuses 0 and lengths above
    /// [`max_len`](Self::max_len).
    pub fn header(self, len: usize) -> Result<LengthHeader, StreamError> {
        self.check(len, self.max_len())?;
        let mut bytes = [0u8; 4];
        match self {
            Framing::Qemu => bytes.copy_from_slice(&(len as u32).to_be_bytes()),
            Framing::VdeStream => bytes[..2].copy_from_slice(&(len as u16).to_be_bytes()),
        }
        Ok(LengthHeader {
            bytes,
            len: self.header_len() as u8,
        })
    }

    /// Appends the header and `frame` to `out` (nothing is appended on error).
    pub fn encode(self, frame: &[u8], out: &mut Vec<u8>) -> Result<(), StreamError> {
        let header = self.header(frame.len())?;
        out.reserve(header.as_ref().len() + frame.len());
        out.extend_from_slice(header.as_ref());
        out.extend_from_slice(frame);
        Ok(())
    }

    /// Takes one whole record from the start of `bytes`, or `Ok(None)` if `bytes` ends before
    /// the record does. A complete header is checked even when its frame has not fully arrived,
    /// so a bad length is refused as early as possible.
    pub fn split(self, bytes: &[u8], max_frame: usize) -> Result<Option<Split<'_>>, StreamError> {
        let hl = self.header_len();
        if bytes.len() < hl {
            return Ok(None);
        }
        let len = self.read_len(bytes);
        self.check(len, max_frame)?;
        let rest = &bytes[hl..];
        Ok((rest.len() >= len).then(|| {
            let (frame, rest) = rest.split_at(len);
            Split { frame, rest }
        }))
    }

    fn check(self, len: usize, max: usize) -> Result<(), StreamError> {
        if len == 0 {
            Err(StreamError::ZeroLength { framing: self })
        } else if len > max {
            Err(StreamError::TooLong {
                framing: self,
                len,
                max,
            })
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Framing::Qemu => "QEMU stream (4-byte length)",
            Framing::VdeStream => "vde_plug stream (2-byte length)",
        })
    }
}

/// A record taken from the start of a buffer by [`Framing::split`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split<'a> {
    /// The frame, without its header.
    pub frame: &'a [u8],
    /// What follows the record.
    pub rest: &'a [u8],
}

/// An encoded length, 2 or 4 bytes (see [`Framing::header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthHeader {
    bytes: [u8; 4],
    len: u8,
}

impl AsRef<[u8]> for LengthHeader {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// Why a stream is unusable. Each one means the peer must be disconnected: the stream cannot
/// be brought back in step.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// A length of 0, which no peer sends.
    #[error("{framing}: zero-length frame; the peer is not speaking this framing or the stream is out of step")]
    ZeroLength {
        /// The framing expected.
        framing: Framing,
    },

    /// A frame longer than the limit.
    #[error("{framing}: frame of {len} bytes is longer than the {max}-byte limit; the peer sends oversize frames or the stream is out of step")]
    TooLong {
        /// The framing expected.
        framing: Framing,
        /// Announced length.
        len: usize,
        /// Longest accepted.
        max: usize,
    },

    /// The stream ended in the middle of a record ([`Decoder::finish`]).
    #[error("{framing}: stream ended inside a frame, {have} of {need} bytes (length header included) received")]
    Truncated {
        /// The framing expected.
        framing: Framing,
        /// Bytes of the record received.
        have: usize,
        /// Bytes of the whole record (header alone while the header is incomplete).
        need: usize,
    },
}

/// Cuts a byte stream into frames, whatever the chunks it arrives in.
///
/// ```
/// use vde_protocol::stream::{Decoder, Framing};
///
/// let mut dec = Decoder::new(Framing::Qemu, 1518);
/// let mut frames = Vec::new();
/// for chunk in [&[0u8, 0, 0][..], &[3, b'a', b'b', b'c', 0, 0, 0, 1], &[b'd']] {
///     let mut input = chunk;
///     while let Some(frame) = dec.decode(&mut input).unwrap() {
///         frames.push(frame.to_vec());
///     }
/// }
/// assert_eq!(frames, [b"abc".to_vec(), b"d".to_vec()]);
/// assert!(dec.finish().is_ok());
/// ```
#[derive(Clone, Debug)]
pub struct Decoder {
    framing: Framing,
    max_frame: usize,
    /// Header bytes of the current record received so far (in `header[..header_fill]`).
    header: [u8; 4],
    header_fill: usize,
    /// Length of the frame being reassembled in `body`, once its header is complete.
    body_len: Option<usize>,
    body: Vec<u8>,
    /// A refused stream stays refused.
    failed: Option<StreamError>,
}

impl Decoder {
    /// A decoder that refuses frames longer than `max_frame` bytes (at most
    /// [`Framing::max_len`]; a larger value is lowered to it).
    pub fn new(framing: Framing, max_frame: usize) -> Self {
        Decoder {
            framing,
            max_frame: max_frame.min(framing.max_len()),
            header: [0; 4],
            header_fill: 0,
            body_len: None,
            body: Vec::new(),
            failed: None,
        }
    }

    /// The framing decoded.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Longest frame accepted.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Takes the next frame out of `input` and moves `input` past the bytes used.
    ///
    /// `Ok(None)` means `input` is used up (it is then empty) and the decoder is waiting for
    /// more. A frame lying whole in `input` is returned as a slice of it; one that straddled
    /// chunks comes from the decoder's own buffer. After an error every call returns it again.
    pub fn decode<'s, 'i: 's>(
        &'s mut self,
        input: &mut &'i [u8],
    ) -> Result<Option<&'s [u8]>, StreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.is_idle() {
            let whole: &'i [u8] = input;
            match self.framing.split(whole, self.max_frame) {
                Ok(Some(Split { frame, rest })) => {
                    *input = rest;
                    return Ok(Some(frame));
                }
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        let hl = self.framing.header_len();
        let len = match self.body_len {
            Some(len) => len,
            None => {
                let take = (hl - self.header_fill).min(input.len());
                self.header[self.header_fill..self.header_fill + take]
                    .copy_from_slice(&input[..take]);
                self.header_fill += take;
                *input = &input[take..];
                if self.header_fill < hl {
                    return Ok(None);
                }
                let len = self.framing.read_len(&self.header);
                if let Err(e) = self.framing.check(len, self.max_frame) {
                    return Err(self.fail(e));
                }
                self.body.clear();
                self.body.reserve(len);
                self.body_len = Some(len);
                len
            }
        };
        let take = (len - self.body.len()).min(input.len());
        self.body.extend_from_slice(&input[..take]);
        *input = &input[take..];
        if self.body.len() < len {
            return Ok(None);
        }
        self.header_fill = 0;
        self.body_len = None;
        Ok(Some(&self.body))
    }

    /// At a record boundary: nothing of a next record has arrived.
    pub fn is_idle(&self) -> bool {
        self.header_fill == 0
    }

    /// Bytes of an incomplete record held (header included).
    pub fn buffered(&self) -> usize {
        self.header_fill + self.body_len.map_or(0, |_| self.body.len())
    }

    /// Call at end of stream: an error if it stopped inside a record (or was refused before).
    pub fn finish(&self) -> Result<(), StreamError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.is_idle() {
            return Ok(());
        }
        let hl = self.framing.header_len();
        Err(StreamError::Truncated {
            framing: self.framing,
            have: self.buffered(),
            need: hl + self.body_len.unwrap_or(0),
        })
    }

    /// Forgets any partial record and error, for a new connection. Keeps the buffer's memory.
    pub fn reset(&mut self) {
        self.header_fill = 0;
        self.body_len = None;
        self.body.clear();
        self.failed = None;
    }

    fn fail(&mut self, e: StreamError) -> StreamError {
        self.failed = Some(e.clone());
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(dec: &mut Decoder, mut input: &[u8]) -> Result<Vec<Vec<u8>>, StreamError> {
        let mut out = Vec::new();
        while let Some(f) = dec.decode(&mut input)? {
            out.push(f.to_vec());
        }
        assert!(input.is_empty());
        Ok(out)
    }

    #[test]
    fn headers() {
        let h = Framing::Qemu.header(1514).unwrap();
        assert_eq!(h.as_ref(), &[0, 0, 0x05, 0xea]);
        let h = Framing::VdeStream.header(1514).unwrap();
        assert_eq!(h.as_ref(), &[0x05, 0xea]);
        assert_eq!(
            Framing::VdeStream.header(65536),
            Err(StreamError::TooLong {
                framing: Framing::VdeStream,
                len: 65536,
                max: 65535
            })
        );
        assert_eq!(
            Framing::Qemu.header(0),
            Err(StreamError::ZeroLength {
                framing: Framing::Qemu
            })
        );
        assert_eq!(Framing::Qemu.read_len(&[1, 2, 3, 4]), 0x0102_0304);
        assert_eq!(Framing::VdeStream.read_len(&[1, 2, 3, 4]), 0x0102);
    }

    #[test]
    fn encode_appends() {
        let mut out = vec![9];
        Framing::Qemu.encode(b"ab", &mut out).unwrap();
        Framing::VdeStream.encode(b"c", &mut out).unwrap();
        assert_eq!(out, [9, 0, 0, 0, 2, b'a', b'b', 0, 1, b'c']);
        assert!(Framing::Qemu.encode(b"", &mut out).is_err());
        assert_eq!(out.len(), 10, "nothing appended on error");
    }

    #[test]
    fn whole_frames_are_not_copied() {
        let mut wire = Vec::new();
        for f in [&b"first"[..], b"second", b"third"] {
            Framing::Qemu.encode(f, &mut wire).unwrap();
        }
        let mut dec = Decoder::new(Framing::Qemu, 100);
        let mut input = &wire[..];
        let f = dec.decode(&mut input).unwrap().unwrap();
        assert_eq!(f, b"first");
        assert_eq!(f.as_ptr(), wire[4..].as_ptr(), "a slice of the input");
        assert_eq!(input.len(), wire.len() - 9);
        assert_eq!(
            all(&mut dec, input).unwrap(),
            [b"second".to_vec(), b"third".to_vec()]
        );
        assert!(dec.is_idle());
    }

    #[test]
    fn byte_by_byte() {
        for framing in [Framing::Qemu, Framing::VdeStream] {
            let mut wire = Vec::new();
            framing.encode(&[1, 2, 3], &mut wire).unwrap();
            framing.encode(&[4], &mut wire).unwrap();
            let mut dec = Decoder::new(framing, 3);
            let mut got = Vec::new();
            for (i, b) in wire.iter().enumerate() {
                got.extend(all(&mut dec, std::slice::from_ref(b)).unwrap());
                assert_eq!(
                    dec.is_idle(),
                    i + 1 == wire.len() || i + 1 == framing.header_len() + 3
                );
            }
            assert_eq!(got, [vec![1, 2, 3], vec![4]]);
            assert_eq!(dec.finish(), Ok(()));
        }
    }

    #[test]
    fn errors_name_the_problem_and_stick() {
        let mut dec = Decoder::new(Framing::VdeStream, 1518);
        let e = all(&mut dec, &[0x05, 0xef]).unwrap_err();
        assert_eq!(
            e,
            StreamError::TooLong {
                framing: Framing::VdeStream,
                len: 1519,
                max: 1518
            }
        );
        assert_eq!(
            e.to_string(),
            "vde_plug stream (2-byte length): frame of 1519 bytes is longer than the 1518-byte \
             limit; the peer sends oversize frames or the stream is out of step"
        );
        assert_eq!(all(&mut dec, &[0, 1, 1]), Err(e.clone()));
        assert_eq!(dec.finish(), Err(e));
        dec.reset();
        assert_eq!(all(&mut dec, &[0, 1, 1]).unwrap(), [vec![1]]);

        // A zero length split across chunks is refused once its header is complete.
        let mut dec = Decoder::new(Framing::Qemu, 1518);
        assert_eq!(all(&mut dec, &[0, 0]).unwrap(), Vec::<Vec<u8>>::new());
        let e = all(&mut dec, &[0, 0, 0xff]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "QEMU stream (4-byte length): zero-length frame; the peer is not speaking this \
             framing or the stream is out of step"
        );
    }

    #[test]
    fn oversize_header_refused_before_its_frame_arrives() {
        let mut dec = Decoder::new(Framing::Qemu, QEMU_MAX_FRAME);
        let e = all(&mut dec, &[0, 1, 0x10, 0x01, 0xaa]).unwrap_err();
        assert!(
            matches!(
                e,
                StreamError::TooLong {
                    len: 69633,
                    max: 69632,
                    ..
                }
            ),
            "{e}"
        );
        // The whole of a u32 fits when asked for.
        let dec = Decoder::new(Framing::VdeStream, usize::MAX);
        assert_eq!(dec.max_frame(), 65535);
    }

    #[test]
    fn truncated_at_end() {
        let mut dec = Decoder::new(Framing::Qemu, 1518);
        all(&mut dec, &[0, 0, 0]).unwrap();
        assert_eq!(dec.buffered(), 3);
        assert_eq!(
            dec.finish(),
            Err(StreamError::Truncated {
                framing: Framing::Qemu,
                have: 3,
                need: 4
            })
        );
        all(&mut dec, &[60, 1, 2]).unwrap();
        assert_eq!(dec.buffered(), 6);
        let e = dec.finish().unwrap_err();
        assert_eq!(
            e.to_string(),
            "QEMU stream (4-byte length): stream ended inside a frame, 6 of 64 bytes \
             (length header included) received"
        );
    }

    #[test]
    fn split_reports_incomplete_and_rest() {
        let wire = [0, 2, b'a', b'b', 0];
        let s = Framing::VdeStream.split(&wire, 10).unwrap().unwrap();
        assert_eq!((s.frame, s.rest), (&b"ab"[..], &[0u8][..]));
        assert_eq!(Framing::VdeStream.split(s.rest, 10), Ok(None));
        assert_eq!(Framing::VdeStream.split(&wire[..3], 10), Ok(None));
    }
}
