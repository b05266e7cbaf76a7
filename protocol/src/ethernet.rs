//! Ethernet II frames, optionally carrying one 802.1Q VLAN tag.
//!
//! The switch looks at little more than the addresses and the tag: it learns the source, picks
//! ports by destination and VLAN, and adds or removes the tag when a frame moves between a
//! tagged and an untagged port. [`Frame`] is a view over a received buffer for that;
//! [`insert_tag`] and [`strip_tag`] do the conversion into a reusable output buffer.

use core::ops::Range;

use crate::{MacAddr, ProtocolError};

/// Destination MAC, source MAC, EtherType.
pub const HEADER_LEN: usize = 14;
/// TPID and TCI of an 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;
/// Header of a tagged frame: addresses, TPID, TCI, inner EtherType.
pub const TAGGED_HEADER_LEN: usize = HEADER_LEN + VLAN_TAG_LEN;
/// EtherType value that marks an 802.1Q tag.
pub const TPID_8021Q: u16 = 0x8100;
/// Shortest frame the switch forwards (runts are not padded, just the header is required).
pub const MIN_FRAME_LEN: usize = HEADER_LEN;
/// VLAN ID bits of the TCI (the rest is priority and CFI/DEI, which the switch ignores).
pub const VID_MASK: u16 = 0x0fff;

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const TCI: Range<usize> = 14..16;
    pub const INNER_ETHERTYPE: Range<usize> = 16..18;
}

/// The big-endian 16-bit field at `r` (two bytes) of `b`.
pub(crate) fn be16(b: &[u8], r: Range<usize>) -> u16 {
    u16::from_be_bytes([b[r.start], b[r.start + 1]])
}

/// A read (and, over a mutable buffer, write) view of an Ethernet frame.
///
/// Accessors index the buffer directly: on a view made with [`new_unchecked`](Self::new_unchecked)
/// over a buffer [`new_checked`](Self::new_checked) would refuse, they may panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without looking at it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, ProtocolError> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// At least the 14-byte header, and the full 18-byte header if the EtherType says tagged,
    /// so that every accessor is safe to call.
    pub fn check_len(&self) -> Result<(), ProtocolError> {
        let have = self.buffer.as_ref().len();
        let need = if have < HEADER_LEN {
            HEADER_LEN
        } else if self.is_tagged() {
            TAGGED_HEADER_LEN
        } else {
            return Ok(());
        };
        if have < need {
            Err(ProtocolError::Truncated { have, need })
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The whole frame.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Destination address.
    pub fn dst(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::DST])
    }

    /// Source address.
    pub fn src(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[field::SRC])
    }

    /// The EtherType field at offset 12: [`TPID_8021Q`] for a tagged frame (see
    /// [`inner_ethertype`](Self::inner_ethertype) for what the tag carries).
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Bytes 12-13 are `81 00`, the only tag the switch recognises.
    pub fn is_tagged(&self) -> bool {
        self.ethertype() == TPID_8021Q
    }

    /// The whole tag control information (priority, CFI, VID) of a tagged frame.
    pub fn tci(&self) -> Option<u16> {
        self.is_tagged()
            .then(|| be16(self.buffer.as_ref(), field::TCI))
    }

    /// VLAN ID (low 12 bits of the TCI) of a tagged frame; priority bits are ignored.
    pub fn vlan_id(&self) -> Option<u16> {
        self.tci().map(|t| t & VID_MASK)
    }

    /// The EtherType of the payload: after the tag if there is one.
    pub fn inner_ethertype(&self) -> u16 {
        if self.is_tagged() {
            be16(self.buffer.as_ref(), field::INNER_ETHERTYPE)
        } else {
            self.ethertype()
        }
    }

    /// 14, or 18 for a tagged frame.
    pub fn header_len(&self) -> usize {
        if self.is_tagged() {
            TAGGED_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// What follows the header (and the tag, if any).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    pub fn set_dst(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac.0);
    }

    /// Sets the source address.
    pub fn set_src(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac.0);
    }

    /// Sets the EtherType field at offset 12.
    pub fn set_ethertype(&mut self, ethertype: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&ethertype.to_be_bytes());
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.buffer.as_mut()[at..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Frame<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Insert an 802.1Q tag (PCP 0, CFI 0, VID `vid`) after the source MAC: writes
/// `81 00 vid>>8 vid&0xff`. `out` is cleared first, so one buffer can be reused per frame.
///
/// `frame` should be a whole frame (at least the two addresses). Bits of `vid` above the low 12
/// are dropped so that the priority stays 0.
pub fn insert_tag(frame: &[u8], vid: u16, out: &mut Vec<u8>) {
    debug_assert!(frame.len() >= field::SRC.end, "frame too short to tag");
    let split = frame.len().min(field::SRC.end);
    let vid = vid & VID_MASK;
    out.clear();
    out.reserve(frame.len() + VLAN_TAG_LEN);
    out.extend_from_slice(&frame[..split]);
    out.extend_from_slice(&TPID_8021Q.to_be_bytes());
    out.extend_from_slice(&vid.to_be_bytes());
    out.extend_from_slice(&frame[split..]);
}

/// Remove the 4-byte tag of a tagged frame (its priority is lost). `out` is cleared first.
///
/// The caller guarantees that `frame` is tagged and at least 18 bytes long (a checked tagged
/// [`Frame`] is); this is only checked by a debug assertion. Given anything shorter it still
/// does not panic: it keeps the addresses and drops the rest.
pub fn strip_tag(frame: &[u8], out: &mut Vec<u8>) {
    debug_assert!(
        frame.len() >= TAGGED_HEADER_LEN && frame[field::ETHERTYPE] == TPID_8021Q.to_be_bytes(),
        "strip_tag on an untagged or truncated frame"
    );
    let addrs = frame.len().min(field::SRC.end);
    out.clear();
    out.reserve(frame.len().saturating_sub(VLAN_TAG_LEN));
    out.extend_from_slice(&frame[..addrs]);
    out.extend_from_slice(frame.get(field::INNER_ETHERTYPE.start..).unwrap_or(&[]));
}

/// The fields of a frame, parsed out of or emitted into a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRepr<'a> {
    /// Destination address.
    pub dst: MacAddr,
    /// Source address.
    pub src: MacAddr,
    /// The 802.1Q tag control information (priority, CFI, VID), if the frame is tagged.
    pub tci: Option<u16>,
    /// EtherType of the payload (the inner one of a tagged frame). Must not be
    /// [`TPID_8021Q`] when `tci` is `None`, or the emitted frame reads back as tagged.
    pub ethertype: u16,
    /// Everything after the header.
    pub payload: &'a [u8],
}

impl<'a> FrameRepr<'a> {
    /// Checks `bytes` as a [`Frame`] and reads its fields.
    pub fn parse(bytes: &'a [u8]) -> Result<FrameRepr<'a>, ProtocolError> {
        let f = Frame::new_checked(bytes)?;
        Ok(FrameRepr {
            dst: f.dst(),
            src: f.src(),
            tci: f.tci(),
            ethertype: f.inner_ethertype(),
            payload: &bytes[f.header_len()..],
        })
    }

    /// Header (14 or 18) plus payload.
    pub fn buffer_len(&self) -> usize {
        let header = if self.tci.is_some() {
            TAGGED_HEADER_LEN
        } else {
            HEADER_LEN
        };
        header + self.payload.len()
    }

    /// Writes the frame to `out[..self.buffer_len()]` and returns that length.
    ///
    /// # Panics
    /// If `out` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        assert!(
            out.len() >= len,
            "frame needs {len} bytes, buffer has {}",
            out.len()
        );
        out[field::DST].copy_from_slice(&self.dst.0);
        out[field::SRC].copy_from_slice(&self.src.0);
        let mut at = field::ETHERTYPE.start;
        if let Some(tci) = self.tci {
            out[at..at + 2].copy_from_slice(&TPID_8021Q.to_be_bytes());
            out[at + 2..at + 4].copy_from_slice(&tci.to_be_bytes());
            at += VLAN_TAG_LEN;
        }
        out[at..at + 2].copy_from_slice(&self.ethertype.to_be_bytes());
        out[at + 2..len].copy_from_slice(self.payload);
        len
    }

    /// The emitted frame as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DST: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0b]);
    const SRC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0a]);

    /// A 60-byte untagged frame (minimum size, as padded by senders).
    fn untagged60() -> Vec<u8> {
        let payload: Vec<u8> = (0..46).collect();
        FrameRepr {
            dst: DST,
            src: SRC,
            tci: None,
            ethertype: 0x0800,
            payload: &payload,
        }
        .to_bytes()
    }

    #[test]
    fn untagged_view() {
        let b = untagged60();
        let f = Frame::new_checked(&b[..]).unwrap();
        assert_eq!(f.dst(), DST);
        assert_eq!(f.src(), SRC);
        assert_eq!(f.ethertype(), 0x0800);
        assert_eq!(f.inner_ethertype(), 0x0800);
        assert!(!f.is_tagged());
        assert_eq!(f.tci(), None);
        assert_eq!(f.vlan_id(), None);
        assert_eq!(f.header_len(), 14);
        assert_eq!(f.payload(), &b[14..]);
        assert_eq!(f.as_bytes(), &b[..]);
    }

    #[test]
    fn tag_insert_and_strip_60_64() {
        let b = untagged60();
        let mut tagged = Vec::new();
        insert_tag(&b, 10, &mut tagged);
        assert_eq!(tagged.len(), 64);
        assert_eq!(&tagged[..12], &b[..12]);
        assert_eq!(&tagged[12..16], &[0x81, 0x00, 0x00, 0x0a]);
        assert_eq!(&tagged[16..], &b[12..]);

        let f = Frame::new_checked(&tagged[..]).unwrap();
        assert!(f.is_tagged());
        assert_eq!(f.ethertype(), TPID_8021Q);
        assert_eq!(f.inner_ethertype(), 0x0800);
        assert_eq!(f.vlan_id(), Some(10));
        assert_eq!(f.payload(), &b[14..]);

        let mut back = vec![0xee; 3]; // cleared first
        strip_tag(&tagged, &mut back);
        assert_eq!(back, b);
    }

    #[test]
    fn vid_ignores_priority_and_insert_masks() {
        let mut tagged = Vec::new();
        insert_tag(&untagged60(), 0xf123, &mut tagged);
        assert_eq!(&tagged[14..16], &[0x01, 0x23]);
        tagged[14] |= 0xe0; // priority 7
        let f = Frame::new_checked(&tagged[..]).unwrap();
        assert_eq!(f.tci(), Some(0xe123));
        assert_eq!(f.vlan_id(), Some(0x123));
        insert_tag(&untagged60(), 4095, &mut tagged);
        assert_eq!(&tagged[14..16], &[0x0f, 0xff]);
    }

    #[test]
    fn checked_lengths() {
        assert_eq!(
            Frame::new_checked(&[0u8; 13][..]),
            Err(ProtocolError::Truncated { have: 13, need: 14 })
        );
        assert!(Frame::new_checked(&[0u8; 14][..]).is_ok());
        let mut t = [0u8; 17];
        t[12] = 0x81;
        assert_eq!(
            Frame::new_checked(&t[..]),
            Err(ProtocolError::Truncated { have: 17, need: 18 })
        );
        let mut t = [0u8; 18];
        t[12] = 0x81;
        let f = Frame::new_checked(&t[..]).unwrap();
        assert_eq!(f.vlan_id(), Some(0));
        assert!(f.payload().is_empty());
        assert_eq!(
            ProtocolError::Truncated { have: 17, need: 18 }.to_string(),
            "buffer too short: 17 of 18 bytes"
        );
    }

    #[test]
    fn setters() {
        let mut b = untagged60();
        let mut f = Frame::new_checked(&mut b[..]).unwrap();
        f.set_dst(MacAddr::BROADCAST);
        f.set_src(DST);
        f.set_ethertype(0x86dd);
        f.payload_mut()[0] = 0x60;
        let f = Frame::new_checked(&b[..]).unwrap();
        assert!(f.dst().is_broadcast());
        assert_eq!(f.src(), DST);
        assert_eq!(f.ethertype(), 0x86dd);
        assert_eq!(f.payload()[0], 0x60);
    }

    #[test]
    fn repr_roundtrip() {
        let payload = b"payload";
        for tci in [None, Some(0x2005)] {
            let r = FrameRepr {
                dst: DST,
                src: SRC,
                tci,
                ethertype: 0x88b5,
                payload,
            };
            let b = r.to_bytes();
            assert_eq!(b.len(), r.buffer_len());
            assert_eq!(FrameRepr::parse(&b), Ok(r));
        }
        assert_eq!(
            FrameRepr::parse(&[0u8; 5]),
            Err(ProtocolError::Truncated { have: 5, need: 14 })
        );
    }

    #[test]
    fn runt_is_kept_as_is() {
        // 14-byte frames are valid (the reference forwards them unpadded).
        let b = [0xffu8; 14];
        let f = Frame::new_checked(&b[..]).unwrap();
        assert!(f.payload().is_empty());
        let mut tagged = Vec::new();
        insert_tag(&b, 1, &mut tagged);
        assert_eq!(tagged.len(), 18);
        let mut back = Vec::new();
        strip_tag(&tagged, &mut back);
        assert_eq!(back, b);
    }
}
