//! BPDUs of vde_switch's fast spanning tree (FSTP), byte for byte as vde_switch 2.3.2 sends them.
//!
//! They look like 802.1w rapid spanning tree BPDUs (802.3 frame, LLC `42 42 03`, version 2,
//! type 2) but differ from the standard in ways that matter on the wire, so they are described
//! here rather than as RSTP:
//!
//! * the four timers are **little-endian** (RSTP: big-endian, in 1/256 s);
//! * the port identifier is `0x80 | port >> 4`, `port & 0xff` (see [`reference_port_id`]);
//! * flag bit 1 (RSTP "proposal") means "this port is an alternate/backup port", and the role
//!   bits are computed from it (see [`Flags`]);
//! * an untagged BPDU is 53 bytes, unpadded; on a port that carries the VLAN tagged it is 57
//!   bytes with the 802.1Q tag after the source address.
//!
//! Untagged layout (a tagged one inserts `81 00 TCI` at 12 and shifts the rest by 4):
//!
//! | offset | size | field                    | value sent                          |
//! |-------:|-----:|--------------------------|-------------------------------------|
//! |      0 |    6 | destination              | `01:80:c2:00:00:00`                 |
//! |      6 |    6 | source                   | the switch MAC                      |
//! |     12 |    2 | 802.3 length (BE)        | `00 27` (39: the bytes that follow) |
//! |     14 |    3 | LLC DSAP, SSAP, control  | `42 42 03`                          |
//! |     17 |    2 | protocol identifier      | `00 00`                             |
//! |     19 |    1 | version                  | `02`                                |
//! |     20 |    1 | BPDU type                | `02`                                |
//! |     21 |    1 | flags                    | [`Flags`]                           |
//! |     22 |    8 | root bridge id           | priority (BE) + MAC                 |
//! |     30 |    4 | root path cost (BE)      |                                     |
//! |     34 |    8 | sending bridge id        | priority (BE) + MAC                 |
//! |     42 |    2 | port id                  | [`reference_port_id`]               |
//! |     44 |    2 | message age (LE)         | seconds since the root was heard    |
//! |     46 |    2 | max age (LE)             | 40                                  |
//! |     48 |    2 | hello time (LE)          | 4                                   |
//! |     50 |    2 | forward delay (LE)       | 0                                   |
//! |     52 |    1 | version 1 length         | `00`                                |
//!
//! Two parsers: [`BpduRepr::parse`] checks every constant field and says which one is wrong;
//! [`BpduRepr::parse_lenient`] accepts what vde_switch 2.3.2 accepts (it pads a short frame
//! with zeros and looks at nothing but the version and type bytes), which is what a switch
//! talking to it must do.

use core::fmt;
use core::ops::Range;

use crate::ethernet::be16;
use crate::{MacAddr, TPID_8021Q};

/// Destination of every BPDU (the 802.1D bridge group address).
pub const BPDU_DST: MacAddr = MacAddr([0x01, 0x80, 0xc2, 0x00, 0x00, 0x00]);
/// The 802.2 LLC header of spanning tree BPDUs.
pub const LLC: [u8; 3] = [0x42, 0x42, 0x03];
/// What follows the 802.3 length field, which carries this value.
pub const BODY_LEN: usize = 39;
/// An untagged BPDU.
pub const UNTAGGED_LEN: usize = 14 + BODY_LEN;
/// A tagged BPDU.
pub const TAGGED_LEN: usize = 18 + BODY_LEN;
/// Protocol version (rapid spanning tree).
pub const VERSION: u8 = 2;
/// BPDU type (RST).
pub const BPDU_TYPE: u8 = 2;
/// vde_switch pads every received frame shorter than this with zeros before reading it.
pub const REFERENCE_MIN_FRAME: usize = 60;

/// Offsets inside the BPDU body, which starts at 14 (untagged) or 18 (tagged).
mod field {
    use core::ops::Range;
    pub const LLC: Range<usize> = 0..3;
    pub const PROTOCOL: Range<usize> = 3..5;
    pub const VERSION: usize = 5;
    pub const TYPE: usize = 6;
    pub const FLAGS: usize = 7;
    pub const ROOT: Range<usize> = 8..16;
    pub const ROOT_COST: Range<usize> = 16..20;
    pub const BRIDGE: Range<usize> = 20..28;
    pub const PORT: Range<usize> = 28..30;
    pub const MESSAGE_AGE: Range<usize> = 30..32;
    pub const MAX_AGE: Range<usize> = 32..34;
    pub const HELLO: Range<usize> = 34..36;
    pub const FORWARD_DELAY: Range<usize> = 36..38;
    pub const V1_LEN: usize = 38;
}

/// Offsets in the Ethernet header.
mod header {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const TYPE_OR_LEN: Range<usize> = 12..14;
    pub const TCI: Range<usize> = 14..16;
    pub const TAGGED_LEN_FIELD: Range<usize> = 16..18;
}

/// A bridge identifier: 2-byte priority (big-endian) and the bridge's MAC. Bridges are compared
/// byte by byte, lower wins, so the derived ordering is the protocol's.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BridgeId(pub [u8; 8]);

impl BridgeId {
    /// What vde_switch shows as "designated" before it has heard of any other bridge.
    pub const NONE: BridgeId = BridgeId([0xff; 8]);

    /// The id of a bridge with this priority and MAC.
    pub fn new(priority: u16, mac: MacAddr) -> BridgeId {
        let mut b = [0u8; 8];
        b[..2].copy_from_slice(&priority.to_be_bytes());
        b[2..].copy_from_slice(&mac.0);
        BridgeId(b)
    }

    /// The priority part.
    pub fn priority(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }

    /// The MAC part.
    pub fn mac(&self) -> MacAddr {
        MacAddr::from_bytes(&self.0[2..])
    }
}

/// `80:00:02:00:00:00:00:0a`, as `fstp/print` and the `fstp/root` debug event show it.
impl fmt::Display for BridgeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The flags byte.
///
/// vde_switch 2.3.2 fills it as: bit 0 topology change; bit 1 "the sending port is an
/// alternate/backup port"; bit 2 set unless it is; bit 3 set unless the port is the sender's
/// root port; bits 4-5 the port state (0 discarding, 3 forwarding); bit 6 agreement; bit 7
/// topology change acknowledgement (never set). So a root port sends role bits `01`, a
/// designated port `11`, a backup port `10` (or `00` for a backup root port, which cannot
/// happen). A receiver only looks at bit 0 and at whether the role bits are exactly `01`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// Topology change: the receiver flushes the VLAN's MAC table and passes the change on.
    pub const TOPOLOGY_CHANGE: u8 = 0x01;
    /// In vde_switch: the sending port is an alternate/backup (blocked) port.
    pub const BACKUP: u8 = 0x02;
    /// The two role bits.
    pub const ROLE_MASK: u8 = 0x0c;
    /// Role bits of a root port.
    pub const ROLE_ROOT: u8 = 0x04;
    /// Learning state bit.
    pub const LEARNING: u8 = 0x10;
    /// Forwarding state bit.
    pub const FORWARDING: u8 = 0x20;
    /// Agreement: sent by a port that has just become the root port, and in every hello.
    pub const AGREEMENT: u8 = 0x40;
    /// Topology change acknowledgement (never set by vde_switch).
    pub const TOPOLOGY_CHANGE_ACK: u8 = 0x80;

    /// The topology change bit.
    pub fn topology_change(self) -> bool {
        self.0 & Self::TOPOLOGY_CHANGE != 0
    }

    /// The role bits say "root port".
    pub fn is_root_port(self) -> bool {
        self.0 & Self::ROLE_MASK == Self::ROLE_ROOT
    }

    /// The backup bit.
    pub fn backup(self) -> bool {
        self.0 & Self::BACKUP != 0
    }

    /// The agreement bit.
    pub fn agreement(self) -> bool {
        self.0 & Self::AGREEMENT != 0
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({:#04x})", self.0)
    }
}

/// The port identifier vde_switch 2.3.2 sends for `port`: `0x80 | port >> 4` then `port & 0xff`,
/// each truncated to a byte. Not the 802.1D layout (priority nibble + 12-bit number): port 17 is
/// `81 11`. Ports compare as these two bytes, big-endian.
pub fn reference_port_id(port: usize) -> u16 {
    let hi = (0x80 | (port >> 4)) as u8;
    let lo = port as u8;
    u16::from_be_bytes([hi, lo])
}

/// Why bytes are not a BPDU.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BpduError {
    /// The frame ends before the BPDU does.
    #[error("frame too short for a BPDU: {have} of {need} bytes")]
    Truncated {
        /// Bytes available.
        have: usize,
        /// Bytes a BPDU of this kind (untagged or tagged) needs.
        need: usize,
    },
    /// Not sent to the bridge group address.
    #[error("destination {0} is not the bridge group address 01:80:c2:00:00:00")]
    Destination(MacAddr),
    /// The 802.3 length field is not 0x0027.
    #[error("802.3 length field is {0:#06x}, a BPDU has 0x0027")]
    Length(u16),
    /// Not the spanning tree LLC header.
    #[error("LLC header is {0:02x?}, a BPDU has [42, 42, 03]")]
    Llc([u8; 3]),
    /// Protocol identifier other than 0.
    #[error("protocol identifier is {0:#06x}, a BPDU has 0")]
    Protocol(u16),
    /// Not version 2 (rapid spanning tree): vde_switch ignores it.
    #[error("BPDU version {0}, only version 2 (rapid spanning tree) is understood")]
    Version(u8),
    /// Not type 2 (RST BPDU): vde_switch ignores it.
    #[error("BPDU type {0}, only type 2 (RST) is understood")]
    Type(u8),
    /// Version 1 length other than 0.
    #[error("version 1 length is {0}, a BPDU has 0")]
    V1Length(u8),
}

/// Whether bytes 12-13 are an 802.1Q TPID (which makes the BPDU tagged).
fn is_tagged(frame: &[u8]) -> bool {
    frame.get(header::TYPE_OR_LEN) == Some(&TPID_8021Q.to_be_bytes()[..])
}

/// Where the body starts.
fn body_offset(tagged: bool) -> usize {
    if tagged {
        18
    } else {
        14
    }
}

fn le16(b: &[u8], r: Range<usize>) -> u16 {
    u16::from_le_bytes([b[r.start], b[r.start + 1]])
}

/// A read view of a BPDU frame (untagged or tagged).
///
/// [`new_checked`](Self::new_checked) only makes sure every field is inside the buffer; which
/// values are acceptable is [`BpduRepr`]'s business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpdu<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Bpdu<T> {
    /// Wraps `buffer` without looking at it; accessors may then panic.
    pub const fn new_unchecked(buffer: T) -> Self {
        Bpdu { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self, BpduError> {
        let b = Self::new_unchecked(buffer);
        b.check_len()?;
        Ok(b)
    }

    /// At least 53 bytes, or 57 if bytes 12-13 say tagged.
    pub fn check_len(&self) -> Result<(), BpduError> {
        let have = self.buffer.as_ref().len();
        let need = if self.is_tagged() {
            TAGGED_LEN
        } else {
            UNTAGGED_LEN
        };
        if have < need {
            Err(BpduError::Truncated { have, need })
        } else {
            Ok(())
        }
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn body(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[body_offset(self.is_tagged())..]
    }

    /// Bytes 12-13 are `81 00`.
    pub fn is_tagged(&self) -> bool {
        is_tagged(self.buffer.as_ref())
    }

    /// Destination address.
    pub fn dst(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[header::DST])
    }

    /// Source address (the sending switch's MAC).
    pub fn src(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[header::SRC])
    }

    /// VLAN id of the tag (its low 12 bits), if tagged.
    pub fn vlan_id(&self) -> Option<u16> {
        self.is_tagged()
            .then(|| be16(self.buffer.as_ref(), header::TCI) & 0x0fff)
    }

    /// The 802.3 length field (after the tag, if any).
    pub fn length_field(&self) -> u16 {
        let r = if self.is_tagged() {
            header::TAGGED_LEN_FIELD
        } else {
            header::TYPE_OR_LEN
        };
        be16(self.buffer.as_ref(), r)
    }

    /// LLC DSAP, SSAP and control bytes.
    pub fn llc(&self) -> [u8; 3] {
        let mut l = [0u8; 3];
        l.copy_from_slice(&self.body()[field::LLC]);
        l
    }

    /// Protocol identifier.
    pub fn protocol(&self) -> u16 {
        be16(self.body(), field::PROTOCOL)
    }

    /// Protocol version.
    pub fn version(&self) -> u8 {
        self.body()[field::VERSION]
    }

    /// BPDU type.
    pub fn bpdu_type(&self) -> u8 {
        self.body()[field::TYPE]
    }

    /// Flags byte.
    pub fn flags(&self) -> Flags {
        Flags(self.body()[field::FLAGS])
    }

    /// Root bridge id.
    pub fn root(&self) -> BridgeId {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.body()[field::ROOT]);
        BridgeId(b)
    }

    /// Root path cost (big-endian on the wire).
    pub fn root_cost(&self) -> u32 {
        let r = field::ROOT_COST;
        let b = &self.body()[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Sending bridge id.
    pub fn bridge(&self) -> BridgeId {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.body()[field::BRIDGE]);
        BridgeId(b)
    }

    /// Sending port id (see [`reference_port_id`]).
    pub fn port_id(&self) -> u16 {
        be16(self.body(), field::PORT)
    }

    /// Message age (little-endian on the wire).
    pub fn message_age(&self) -> u16 {
        le16(self.body(), field::MESSAGE_AGE)
    }

    /// Max age (little-endian on the wire).
    pub fn max_age(&self) -> u16 {
        le16(self.body(), field::MAX_AGE)
    }

    /// Hello time (little-endian on the wire).
    pub fn hello_time(&self) -> u16 {
        le16(self.body(), field::HELLO)
    }

    /// Forward delay (little-endian on the wire).
    pub fn forward_delay(&self) -> u16 {
        le16(self.body(), field::FORWARD_DELAY)
    }

    /// Version 1 length.
    pub fn v1_len(&self) -> u8 {
        self.body()[field::V1_LEN]
    }
}

/// The variable fields of a BPDU; the constant ones are written by [`emit`](Self::emit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpduRepr {
    /// Source address: the sending switch's MAC.
    pub src: MacAddr,
    /// The VLAN of a tagged BPDU (its tag is sent with priority 0); `None` for untagged.
    pub vlan: Option<u16>,
    pub flags: Flags,
    pub root: BridgeId,
    pub root_cost: u32,
    pub bridge: BridgeId,
    /// See [`reference_port_id`].
    pub port_id: u16,
    pub message_age: u16,
    pub max_age: u16,
    pub hello_time: u16,
    pub forward_delay: u16,
}

impl BpduRepr {
    /// Reads a BPDU, checking every constant field (destination, 802.3 length, LLC, protocol,
    /// version, type, version 1 length). Bytes after the BPDU (padding) are ignored.
    pub fn parse(frame: &[u8]) -> Result<BpduRepr, BpduError> {
        let b = Bpdu::new_checked(frame)?;
        if b.dst() != BPDU_DST {
            return Err(BpduError::Destination(b.dst()));
        }
        if usize::from(b.length_field()) != BODY_LEN {
            return Err(BpduError::Length(b.length_field()));
        }
        if b.llc() != LLC {
            return Err(BpduError::Llc(b.llc()));
        }
        if b.protocol() != 0 {
            return Err(BpduError::Protocol(b.protocol()));
        }
        Self::check_version_type(&b)?;
        if b.v1_len() != 0 {
            return Err(BpduError::V1Length(b.v1_len()));
        }
        Ok(Self::read(&b))
    }

    /// Reads a BPDU the way vde_switch 2.3.2 does: a frame shorter than 60 bytes is padded with
    /// zeros, then only the version and type bytes must be 2; destination, length field, LLC and
    /// protocol are not looked at. The tag, if any, is read from bytes 12-15 as usual.
    pub fn parse_lenient(frame: &[u8]) -> Result<BpduRepr, BpduError> {
        // The padded frame always holds a whole tagged BPDU.
        const _: () = assert!(REFERENCE_MIN_FRAME >= TAGGED_LEN);
        let mut padded = [0u8; REFERENCE_MIN_FRAME];
        let n = frame.len().min(padded.len());
        padded[..n].copy_from_slice(&frame[..n]);
        let b = Bpdu::new_unchecked(&padded[..]);
        Self::check_version_type(&b)?;
        Ok(Self::read(&b))
    }

    fn check_version_type(b: &Bpdu<&[u8]>) -> Result<(), BpduError> {
        if b.version() != VERSION {
            return Err(BpduError::Version(b.version()));
        }
        if b.bpdu_type() != BPDU_TYPE {
            return Err(BpduError::Type(b.bpdu_type()));
        }
        Ok(())
    }

    fn read(b: &Bpdu<&[u8]>) -> BpduRepr {
        BpduRepr {
            src: b.src(),
            vlan: b.vlan_id(),
            flags: b.flags(),
            root: b.root(),
            root_cost: b.root_cost(),
            bridge: b.bridge(),
            port_id: b.port_id(),
            message_age: b.message_age(),
            max_age: b.max_age(),
            hello_time: b.hello_time(),
            forward_delay: b.forward_delay(),
        }
    }

    /// 53, or 57 when tagged.
    pub fn buffer_len(&self) -> usize {
        if self.vlan.is_some() {
            TAGGED_LEN
        } else {
            UNTAGGED_LEN
        }
    }

    /// Writes the BPDU to `out[..self.buffer_len()]` and returns that length. A tagged BPDU gets
    /// TCI `vlan & 0x0fff` (priority 0), as vde_switch writes it.
    ///
    /// # Panics
    /// If `out` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        assert!(
            out.len() >= len,
            "BPDU needs {len} bytes, buffer has {}",
            out.len()
        );
        let out = &mut out[..len];
        out[header::DST].copy_from_slice(&BPDU_DST.0);
        out[header::SRC].copy_from_slice(&self.src.0);
        let body_at = match self.vlan {
            Some(vid) => {
                out[header::TYPE_OR_LEN].copy_from_slice(&TPID_8021Q.to_be_bytes());
                out[header::TCI].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
                out[header::TAGGED_LEN_FIELD].copy_from_slice(&(BODY_LEN as u16).to_be_bytes());
                body_offset(true)
            }
            None => {
                out[header::TYPE_OR_LEN].copy_from_slice(&(BODY_LEN as u16).to_be_bytes());
                body_offset(false)
            }
        };
        let body = &mut out[body_at..];
        body[field::LLC].copy_from_slice(&LLC);
        body[field::PROTOCOL].copy_from_slice(&[0, 0]);
        body[field::VERSION] = VERSION;
        body[field::TYPE] = BPDU_TYPE;
        body[field::FLAGS] = self.flags.0;
        body[field::ROOT].copy_from_slice(&self.root.0);
        body[field::ROOT_COST].copy_from_slice(&self.root_cost.to_be_bytes());
        body[field::BRIDGE].copy_from_slice(&self.bridge.0);
        body[field::PORT].copy_from_slice(&self.port_id.to_be_bytes());
        body[field::MESSAGE_AGE].copy_from_slice(&self.message_age.to_le_bytes());
        body[field::MAX_AGE].copy_from_slice(&self.max_age.to_le_bytes());
        body[field::HELLO].copy_from_slice(&self.hello_time.to_le_bytes());
        body[field::FORWARD_DELAY].copy_from_slice(&self.forward_delay.to_le_bytes());
        body[field::V1_LEN] = 0;
        len
    }

    /// The emitted BPDU as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Captured from /usr/bin/vde_switch 2.3.2 with -F (frames as read by a vde_plug client).

    /// Switch 02:00:00:00:00:0a, root of VLAN 0, hello on port 1 (designated, forwarding,
    /// agreement).
    const HELLO_ROOT: &str = "0180c200000002000000000a0027424203000002027c800002000000000a\
                              00000000800002000000000a8001000028000400000000";
    /// Switch 02:00:00:00:00:0b, root port 1 towards 02:..:0a, cost 20000000, message age 1.
    const HELLO_ROOT_PORT: &str = "0180c200000002000000000b00274242030000020274800002000000000a\
                                   01312d00800002000000000b8001010028000400000000";
    /// Switch 02:00:00:00:00:0a on port 1 after a port was added: topology change.
    const TOPOLOGY_CHANGE: &str = "0180c200000002000000000a0027424203000002023d800002000000000a\
                                   00000000800002000000000a8001000028000400000000";
    /// Switch 02:00:00:00:00:0a, backup port 2 (discarding), hello.
    const HELLO_BACKUP: &str = "0180c200000002000000000a0027424203000002024a800002000000000a\
                                00000000800002000000000a8002000028000400000000";
    /// Switch 02:00:00:00:00:0c with --priority 0x1234, VLAN 300 tagged on port 5, the BPDU
    /// sent when the port was added.
    const TAGGED_VLAN_300: &str = "0180c200000002000000000c8100012c0027424203000002023c1234020000\
                                   00000c00000000123402000000000c8005000028000400000000";
    /// Switch 02:00:00:00:00:0c, untagged port 17.
    const PORT_17: &str = "0180c200000002000000000c0027424203000002023c123402000000000c\
                           00000000123402000000000c8111000028000400000000";

    const A: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0a]);
    const B: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0b]);
    const C: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x0c]);

    fn hello(src: MacAddr, flags: u8, root: BridgeId, cost: u32, port: usize) -> BpduRepr {
        BpduRepr {
            src,
            vlan: None,
            flags: Flags(flags),
            root,
            root_cost: cost,
            bridge: BridgeId::new(0x8000, src),
            port_id: reference_port_id(port),
            message_age: 0,
            max_age: 40,
            hello_time: 4,
            forward_delay: 0,
        }
    }

    #[test]
    fn captured_frames_parse_and_reemit_byte_for_byte() {
        let a = BridgeId::new(0x8000, A);
        let c = BridgeId::new(0x1234, C);
        let cases = [
            (HELLO_ROOT, hello(A, 0x7c, a, 0, 1)),
            (
                HELLO_ROOT_PORT,
                BpduRepr {
                    message_age: 1,
                    ..hello(B, 0x74, a, 20_000_000, 1)
                },
            ),
            (TOPOLOGY_CHANGE, hello(A, 0x3d, a, 0, 1)),
            (HELLO_BACKUP, hello(A, 0x4a, a, 0, 2)),
            (
                TAGGED_VLAN_300,
                BpduRepr {
                    vlan: Some(300),
                    bridge: c,
                    ..hello(C, 0x3c, c, 0, 5)
                },
            ),
            (
                PORT_17,
                BpduRepr {
                    bridge: c,
                    ..hello(C, 0x3c, c, 0, 17)
                },
            ),
        ];
        for (hex, want) in cases {
            let bytes = unhex(hex);
            assert_eq!(BpduRepr::parse(&bytes), Ok(want), "{hex}");
            assert_eq!(BpduRepr::parse_lenient(&bytes), Ok(want), "{hex}");
            assert_eq!(want.to_bytes(), bytes, "{hex}");
        }
    }

    #[test]
    fn flags_as_vde_switch_sets_them() {
        let root_port = Flags(0x74);
        assert!(root_port.is_root_port() && root_port.agreement() && !root_port.backup());
        let designated = Flags(0x3d);
        assert!(designated.topology_change() && !designated.is_root_port());
        let backup = Flags(0x4a);
        assert!(backup.backup() && !backup.is_root_port());
        assert_eq!(format!("{backup:?}"), "Flags(0x4a)");
    }

    #[test]
    fn view_fields() {
        let bytes = unhex(TAGGED_VLAN_300);
        let b = Bpdu::new_checked(&bytes[..]).unwrap();
        assert!(b.is_tagged());
        assert_eq!(b.vlan_id(), Some(300));
        assert_eq!(b.dst(), BPDU_DST);
        assert_eq!(b.src(), C);
        assert_eq!(b.length_field(), 0x27);
        assert_eq!(b.llc(), LLC);
        assert_eq!((b.protocol(), b.version(), b.bpdu_type()), (0, 2, 2));
        assert_eq!(b.root().priority(), 0x1234);
        assert_eq!(b.root().mac(), C);
        assert_eq!(b.port_id(), 0x8005);
        assert_eq!((b.max_age(), b.hello_time(), b.forward_delay()), (40, 4, 0));
        assert_eq!(b.v1_len(), 0);
        assert_eq!(b.into_inner().len(), TAGGED_LEN);
    }

    #[test]
    fn port_ids_as_vde_switch_computes_them() {
        assert_eq!(reference_port_id(1), 0x8001);
        assert_eq!(reference_port_id(15), 0x800f);
        assert_eq!(reference_port_id(16), 0x8110);
        assert_eq!(reference_port_id(17), 0x8111);
        assert_eq!(reference_port_id(255), 0x8fff);
        assert_eq!(reference_port_id(256), 0x9000);
        assert_eq!(reference_port_id(4095), 0xffff);
        assert_eq!(reference_port_id(4096), 0x8000);
    }

    #[test]
    fn bridge_id_display_and_order() {
        let a = BridgeId::new(0x8000, A);
        assert_eq!(a.to_string(), "80:00:02:00:00:00:00:0a");
        assert_eq!(BridgeId::NONE.to_string(), "ff:ff:ff:ff:ff:ff:ff:ff");
        assert!(BridgeId::new(0x1000, B) < a, "priority first");
        assert!(a < BridgeId::new(0x8000, B), "then the MAC");
    }

    #[test]
    fn strict_parse_names_the_wrong_field() {
        let good = unhex(HELLO_ROOT);
        let broken = |at: usize, v: u8| {
            let mut b = good.clone();
            b[at] = v;
            BpduRepr::parse(&b).unwrap_err()
        };
        assert_eq!(
            broken(0, 0x03),
            BpduError::Destination(MacAddr([3, 0x80, 0xc2, 0, 0, 0]))
        );
        assert_eq!(broken(13, 0x26), BpduError::Length(0x26));
        assert_eq!(broken(14, 0xaa), BpduError::Llc([0xaa, 0x42, 0x03]));
        assert_eq!(broken(18, 1), BpduError::Protocol(1));
        assert_eq!(broken(19, 3), BpduError::Version(3));
        assert_eq!(broken(20, 0), BpduError::Type(0));
        assert_eq!(broken(52, 1), BpduError::V1Length(1));
        assert_eq!(
            BpduRepr::parse(&good[..52]),
            Err(BpduError::Truncated { have: 52, need: 53 })
        );
        assert_eq!(
            BpduError::Version(3).to_string(),
            "BPDU version 3, only version 2 (rapid spanning tree) is understood"
        );
        assert_eq!(
            BpduError::Llc([0xaa, 0x42, 0x03]).to_string(),
            "LLC header is [aa, 42, 03], a BPDU has [42, 42, 03]"
        );
    }

    #[test]
    fn lenient_parse_accepts_what_vde_switch_accepts() {
        let good = unhex(HELLO_ROOT);
        let want = BpduRepr::parse(&good).unwrap();
        // Padding to 60 bytes (as most senders do) changes nothing.
        let mut padded = good.clone();
        padded.resize(60, 0xee);
        assert_eq!(BpduRepr::parse_lenient(&padded), Ok(want));
        // LLC, length and protocol are not looked at.
        let mut odd = good.clone();
        odd[12..19].copy_from_slice(&[0x12, 0x34, 0, 0, 0, 9, 9]);
        assert_eq!(BpduRepr::parse_lenient(&odd), Ok(want));
        // A short frame reads as if zero-padded.
        let short = BpduRepr::parse_lenient(&good[..28]).unwrap();
        assert_eq!(short.root.0, [0x80, 0, 2, 0, 0, 0, 0, 0]);
        assert_eq!(short.root_cost, 0);
        assert_eq!(short.bridge, BridgeId([0; 8]));
        // Too short to reach the version byte: version 0.
        assert_eq!(
            BpduRepr::parse_lenient(&good[..19]),
            Err(BpduError::Version(0))
        );
        assert_eq!(BpduRepr::parse_lenient(&[]), Err(BpduError::Version(0)));
        let mut stp = good.clone();
        stp[20] = 0; // a classic configuration BPDU
        assert_eq!(BpduRepr::parse_lenient(&stp), Err(BpduError::Type(0)));
    }
}
