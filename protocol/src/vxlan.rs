//! VXLAN (RFC 7348): Ethernet frames inside UDP datagrams.
//!
//! The UDP payload is an 8-byte header and the inner Ethernet frame, without its FCS:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | flags: `0x08` is the I flag ("VNI valid"); the other 7 bits are reserved |
//! | 1 | 3 | reserved |
//! | 4 | 3 | VNI, the 24-bit network identifier, big-endian |
//! | 7 | 1 | reserved |
//! | 8 | .. | inner Ethernet frame |
//!
//! As RFC 7348 §5 says, reserved bits are sent as zero and ignored on receipt. Linux is
//! stricter: it drops a packet whose reserved bits are not zero (unless an extension such as
//! GBP claims them). Since this crate sends zeros, the difference only shows with senders that
//! set reserved bits, which Linux would not talk to either. A packet without the I flag is
//! refused. `tests/tests/vxlan_header_linux.rs` checks both directions, and that drop, against a
//! Linux `vxlan` device.
//!
//! The outer UDP destination port is [`UDP_PORT`] (IANA; Linux defaults to 8472 when `ip link`
//! is given no `dstport`). The source port carries entropy for ECMP: [`source_port`] hashes the
//! inner Ethernet header into a [`PortRange`].

use crate::ethernet::{HEADER_LEN as ETHERNET_HEADER_LEN, TAGGED_HEADER_LEN, TPID_8021Q};

/// Size of the VXLAN header.
pub const HEADER_LEN: usize = 8;
/// IANA-assigned UDP port of VXLAN.
pub const UDP_PORT: u16 = 4789;
/// The I flag: the VNI field is valid. The only flag RFC 7348 defines.
pub const FLAG_VNI: u8 = 0x08;
/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;
/// Shortest packet accepted: the header and an inner Ethernet header.
pub const MIN_PACKET_LEN: usize = HEADER_LEN + ETHERNET_HEADER_LEN;

mod field {
    use core::ops::Range;
    pub const FLAGS: usize = 0;
    pub const RESERVED1: Range<usize> = 1..4;
    pub const VNI: Range<usize> = 4..7;
    pub const RESERVED2: usize = 7;
    pub const PAYLOAD: usize = 8;
}

/// What is wrong with a VXLAN packet or value.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum VxlanError {
    /// Shorter than the 8-byte header.
    #[error("VXLAN packet too short: {have} bytes, the header alone is {need}")]
    Truncated {
        /// Bytes received.
        have: usize,
        /// Bytes needed.
        need: usize,
    },

    /// The I flag (0x08) is clear, so the packet carries no VNI.
    #[error(
        "VXLAN header flags {flags:#04x} lack the I flag (0x08): no valid VNI, not a VXLAN packet"
    )]
    NoVniFlag {
        /// The flags byte.
        flags: u8,
    },

    /// The inner frame cannot even hold an Ethernet header.
    #[error("VXLAN inner frame of {len} bytes is shorter than an Ethernet header (14 bytes)")]
    InnerTooShort {
        /// Length of the inner frame.
        len: usize,
    },

    /// A VNI that does not fit in 24 bits.
    #[error("VNI {0} is out of range: VXLAN network identifiers are 0 to 16777215")]
    VniOutOfRange(u32),

    /// A source port range with `min` above `max`.
    #[error("UDP source port range {min}-{max} is empty: the first port must not exceed the last")]
    EmptyPortRange {
        /// First port.
        min: u16,
        /// Last port.
        max: u16,
    },
}

/// A 24-bit VXLAN network identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Vni(u32);

impl Vni {
    /// `vni` if it fits in 24 bits.
    pub const fn new(vni: u32) -> Result<Vni, VxlanError> {
        if vni > MAX_VNI {
            Err(VxlanError::VniOutOfRange(vni))
        } else {
            Ok(Vni(vni))
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The three VNI bytes of the header.
    const fn to_bytes(self) -> [u8; 3] {
        let b = self.0.to_be_bytes();
        [b[1], b[2], b[3]]
    }
}

impl TryFrom<u32> for Vni {
    type Error = VxlanError;
    fn try_from(vni: u32) -> Result<Vni, VxlanError> {
        Vni::new(vni)
    }
}

impl core::fmt::Display for Vni {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

/// The header to send before an inner frame: I flag, VNI, reserved bits zero.
pub const fn header(vni: Vni) -> [u8; HEADER_LEN] {
    let v = vni.to_bytes();
    [FLAG_VNI, 0, 0, 0, v[0], v[1], v[2], 0]
}

/// A read (and, over a mutable buffer, write) view of a VXLAN packet (the UDP payload).
///
/// Accessors index the buffer directly: on a view made with [`new_unchecked`](Self::new_unchecked)
/// over a buffer shorter than [`HEADER_LEN`] they may panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without looking at it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, VxlanError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// At least the 8-byte header, so that every accessor is safe to call. (The flags and the
    /// inner frame are checked by [`VxlanRepr::parse`].)
    pub fn check_len(&self) -> Result<(), VxlanError> {
        let have = self.buffer.as_ref().len();
        if have < HEADER_LEN {
            Err(VxlanError::Truncated {
                have,
                need: HEADER_LEN,
            })
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The flags byte, reserved bits included.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The I flag is set.
    pub fn has_vni(&self) -> bool {
        self.flags() & FLAG_VNI != 0
    }

    /// The VNI field (meaningful only if [`has_vni`](Self::has_vni)).
    pub fn vni(&self) -> Vni {
        let b = &self.buffer.as_ref()[field::VNI];
        Vni(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    /// Some reserved bit is set (RFC 7348 says to ignore them; see the module documentation).
    pub fn reserved_bits_set(&self) -> bool {
        let b = self.buffer.as_ref();
        b[field::FLAGS] & !FLAG_VNI != 0
            || b[field::RESERVED1].iter().any(|&x| x != 0)
            || b[field::RESERVED2] != 0
    }

    /// The inner Ethernet frame.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes the header for `vni`: I flag set, reserved bits cleared.
    pub fn set_header(&mut self, vni: Vni) {
        self.buffer.as_mut()[..HEADER_LEN].copy_from_slice(&header(vni));
    }

    /// The inner frame, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// A VXLAN packet: its VNI and the inner frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanRepr<'a> {
    /// Network identifier.
    pub vni: Vni,
    /// The inner Ethernet frame (at least 14 bytes when parsed).
    pub frame: &'a [u8],
}

impl<'a> VxlanRepr<'a> {
    /// Checks the length, the I flag and the inner frame's length, in that order; ignores
    /// reserved bits.
    pub fn parse(bytes: &'a [u8]) -> Result<VxlanRepr<'a>, VxlanError> {
        let p = Packet::new_checked(bytes)?;
        if !p.has_vni() {
            return Err(VxlanError::NoVniFlag { flags: p.flags() });
        }
        let frame = &bytes[field::PAYLOAD..];
        if frame.len() < ETHERNET_HEADER_LEN {
            return Err(VxlanError::InnerTooShort { len: frame.len() });
        }
        Ok(VxlanRepr {
            vni: p.vni(),
            frame,
        })
    }

    /// Header plus inner frame.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.frame.len()
    }

    /// Writes the packet to `out[..self.buffer_len()]` and returns that length.
    ///
    /// # Panics
    /// If `out` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        assert!(
            out.len() >= len,
            "VXLAN packet needs {len} bytes, buffer has {}",
            out.len()
        );
        let mut p = Packet::new_unchecked(&mut out[..len]);
        p.set_header(self.vni);
        p.payload_mut().copy_from_slice(self.frame);
        len
    }

    /// The emitted packet as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

/// An inclusive range of UDP source ports to spread flows over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    min: u16,
    max: u16,
}

impl PortRange {
    /// The dynamic/private range 49152-65535 (RFC 6335) that RFC 7348 §5 recommends; the
    /// default.
    pub const DYNAMIC: PortRange = PortRange {
        min: 49152,
        max: 65535,
    };
    /// What Linux VXLAN devices use without `srcport`: the kernel's local port range,
    /// `net.ipv4.ip_local_port_range`, 32768-60999 unless changed (the kernel never picks the
    /// last port of it).
    pub const LINUX_DEFAULT: PortRange = PortRange {
        min: 32768,
        max: 60999,
    };

    /// `min..=max`; refuses `min > max`.
    pub const fn new(min: u16, max: u16) -> Result<PortRange, VxlanError> {
        if min > max {
            Err(VxlanError::EmptyPortRange { min, max })
        } else {
            Ok(PortRange { min, max })
        }
    }

    /// First port.
    pub const fn min(self) -> u16 {
        self.min
    }

    /// Last port (included).
    pub const fn max(self) -> u16 {
        self.max
    }

    /// Number of ports.
    pub const fn len(self) -> u32 {
        self.max as u32 - self.min as u32 + 1
    }

    /// Never: a range holds at least one port.
    pub const fn is_empty(self) -> bool {
        false
    }

    /// Whether `port` is in the range.
    pub const fn contains(self, port: u16) -> bool {
        self.min <= port && port <= self.max
    }
}

impl Default for PortRange {
    fn default() -> Self {
        PortRange::DYNAMIC
    }
}

/// The UDP source port for `frame`, chosen as RFC 7348 §5 recommends: a hash of the inner
/// Ethernet header (addresses and EtherType, plus the 802.1Q tag and inner EtherType when
/// tagged) scaled into `ports`. Frames of one conversation in one direction always get the same
/// port, so they stay in order across ECMP paths, while different conversations spread.
///
/// The hash is FNV-1a with a final avalanche; a frame shorter than a header is hashed as it is.
pub fn source_port(frame: &[u8], ports: PortRange) -> u16 {
    let tagged = frame.len() >= TAGGED_HEADER_LEN && frame[12..14] == TPID_8021Q.to_be_bytes();
    let header_len = if tagged {
        TAGGED_HEADER_LEN
    } else {
        ETHERNET_HEADER_LEN
    };
    let h = hash32(&frame[..frame.len().min(header_len)]);
    // Multiply-shift maps the hash onto the range without a division and uses its high bits.
    let offset = (u64::from(h) * u64::from(ports.len())) >> 32;
    ports.min + offset as u16
}

/// FNV-1a, then murmur3's finaliser so that every input bit reaches the high bits.
fn hash32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ethernet::FrameRepr;
    use crate::MacAddr;

    fn frame(dst: u8, src: u8, ethertype: u16) -> Vec<u8> {
        FrameRepr {
            dst: MacAddr([0x02, 0, 0, 0, 0, dst]),
            src: MacAddr([0x02, 0, 0, 0, 0, src]),
            tci: None,
            ethertype,
            payload: &[0x45; 46],
        }
        .to_bytes()
    }

    #[test]
    fn header_layout() {
        let vni = Vni::new(0x12_3456).unwrap();
        assert_eq!(header(vni), [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        assert_eq!(Vni::new(MAX_VNI).unwrap().get(), 0xff_ffff);
        assert_eq!(
            Vni::new(1 << 24),
            Err(VxlanError::VniOutOfRange(16_777_216))
        );
        assert_eq!(
            Vni::try_from(1u32 << 24).unwrap_err().to_string(),
            "VNI 16777216 is out of range: VXLAN network identifiers are 0 to 16777215"
        );
    }

    #[test]
    fn repr_roundtrip_and_view() {
        let inner = frame(0x0b, 0x0a, 0x0800);
        let r = VxlanRepr {
            vni: Vni::new(42).unwrap(),
            frame: &inner,
        };
        let b = r.to_bytes();
        assert_eq!(b.len(), 8 + 60);
        assert_eq!(&b[..8], &[0x08, 0, 0, 0, 0, 0, 42, 0]);
        assert_eq!(VxlanRepr::parse(&b), Ok(r));
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.has_vni() && !p.reserved_bits_set());
        assert_eq!(p.vni().get(), 42);
        assert_eq!(p.payload(), &inner[..]);
    }

    #[test]
    fn reserved_bits_are_ignored() {
        let inner = frame(1, 2, 0x0806);
        let mut b = VxlanRepr {
            vni: Vni::new(7).unwrap(),
            frame: &inner,
        }
        .to_bytes();
        b[0] |= 0xf7;
        b[1..4].copy_from_slice(&[1, 2, 3]);
        b[7] = 0xff;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.reserved_bits_set());
        let r = VxlanRepr::parse(&b).unwrap();
        assert_eq!(r.vni.get(), 7);
        assert_eq!(r.frame, &inner[..]);
        // Re-emitting clears them.
        let again = r.to_bytes();
        assert_eq!(&again[..8], &[0x08, 0, 0, 0, 0, 0, 7, 0]);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            VxlanRepr::parse(&[0x08, 0, 0, 0, 0, 0, 1]),
            Err(VxlanError::Truncated { have: 7, need: 8 })
        );
        let mut b = vec![0u8; 8 + 14];
        let e = VxlanRepr::parse(&b).unwrap_err();
        assert_eq!(e, VxlanError::NoVniFlag { flags: 0 });
        assert_eq!(
            e.to_string(),
            "VXLAN header flags 0x00 lack the I flag (0x08): no valid VNI, not a VXLAN packet"
        );
        b[0] = 0x08;
        assert!(VxlanRepr::parse(&b).is_ok());
        let e = VxlanRepr::parse(&b[..21]).unwrap_err();
        assert_eq!(e, VxlanError::InnerTooShort { len: 13 });
    }

    #[test]
    fn set_header_in_place() {
        let mut b = [0xffu8; 8 + 14];
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_header(Vni::new(0xabcdef).unwrap());
        p.payload_mut()[0] = 1;
        assert_eq!(&b[..9], &[0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0, 1]);
    }

    #[test]
    fn port_ranges() {
        assert_eq!(PortRange::default(), PortRange::DYNAMIC);
        assert_eq!(PortRange::DYNAMIC.len(), 16384);
        assert_eq!(
            PortRange::new(5, 4).unwrap_err().to_string(),
            "UDP source port range 5-4 is empty: the first port must not exceed the last"
        );
        let one = PortRange::new(4789, 4789).unwrap();
        assert_eq!(source_port(&frame(1, 2, 0x800), one), 4789);
        let all = PortRange::new(0, 65535).unwrap();
        assert_eq!(all.len(), 65536);
        let _ = source_port(&[], all);
    }

    #[test]
    fn source_port_is_stable_and_spreads() {
        let range = PortRange::DYNAMIC;
        let f = frame(0x0b, 0x0a, 0x0800);
        let p = source_port(&f, range);
        assert!(range.contains(p));
        // Only the header counts.
        let mut g = f.clone();
        g[20] ^= 0xff;
        assert_eq!(source_port(&g, range), p);
        // Distinct conversations land on many distinct ports.
        let mut ports = std::collections::HashSet::new();
        for src in 0..=255u8 {
            let q = source_port(&frame(0x0b, src, 0x0800), range);
            assert!(range.contains(q));
            ports.insert(q);
        }
        assert!(ports.len() > 240, "{} distinct ports of 256", ports.len());
        // The VLAN of a tagged frame counts.
        let mut tagged = Vec::new();
        crate::ethernet::insert_tag(&f, 10, &mut tagged);
        let mut other = Vec::new();
        crate::ethernet::insert_tag(&f, 11, &mut other);
        assert_ne!(source_port(&tagged, range), source_port(&other, range));
    }
}
