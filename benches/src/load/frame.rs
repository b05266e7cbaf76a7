//! The frames the load generator sends: an Ethernet header with the local experimental
//! EtherType, then a small stamp saying what the frame is, which port sent it and its sequence
//! number, zero padding up to the requested length.

/// IEEE 802 local experimental EtherType 1.
pub const ETHERTYPE: u16 = 0x88b5;
/// Marks our stamp, so anything else that reaches a client is counted as `other`.
const MAGIC: [u8; 4] = *b"vrlg";
const STAMP_AT: usize = 14;
/// Ethernet header plus stamp: the shortest frame the generator can send.
pub const MIN_LEN: usize = STAMP_AT + 16;
/// The longest frame it sends (the reference cuts frames at 1518 bytes; ours takes jumbo
/// frames).
pub const MAX_LEN: usize = 9014;
/// Receive buffers: room for any frame a switch may forward.
pub const BUF_LEN: usize = 9216 + 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Broadcast announcing a port's MAC before the measurement.
    Learn = 1,
    /// Measured traffic.
    Data = 2,
    /// Round-trip request and its answer.
    Ping = 3,
    Pong = 4,
}

/// What a received frame says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub kind: Kind,
    pub port: u16,
    pub seq: u64,
}

/// The locally administered unicast MAC of client port `port`.
pub fn mac(port: u16) -> [u8; 6] {
    let p = port.to_be_bytes();
    [0x02, b'v', b'r', 0x00, p[0], p[1]]
}

/// Write a frame from port `from` to port `to` (None: broadcast) into `buf`, whose length is
/// the frame's length (at least [`MIN_LEN`]).
pub fn write(buf: &mut [u8], from: u16, to: Option<u16>, kind: Kind, seq: u64) {
    buf.fill(0);
    buf[..6].copy_from_slice(&to.map_or([0xff; 6], mac));
    buf[6..12].copy_from_slice(&mac(from));
    buf[12..14].copy_from_slice(&ETHERTYPE.to_be_bytes());
    let s = &mut buf[STAMP_AT..MIN_LEN];
    s[..4].copy_from_slice(&MAGIC);
    s[4] = kind as u8;
    s[6..8].copy_from_slice(&from.to_le_bytes());
    s[8..16].copy_from_slice(&seq.to_le_bytes());
}

/// Change only the sequence number of a frame made by [`write`] (the sender's hot loop).
pub fn set_seq(buf: &mut [u8], seq: u64) {
    buf[STAMP_AT + 8..MIN_LEN].copy_from_slice(&seq.to_le_bytes());
}

/// The stamp of a received frame, or None for a frame we did not make.
pub fn read(frame: &[u8]) -> Option<Stamp> {
    let s = frame.get(STAMP_AT..MIN_LEN)?;
    if s[..4] != MAGIC || frame[12..14] != ETHERTYPE.to_be_bytes() {
        return None;
    }
    let kind = match s[4] {
        1 => Kind::Learn,
        2 => Kind::Data,
        3 => Kind::Ping,
        4 => Kind::Pong,
        _ => return None,
    };
    Some(Stamp {
        kind,
        port: u16::from_le_bytes([s[6], s[7]]),
        seq: u64::from_le_bytes(s[8..16].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let mut f = [0u8; 60];
        write(&mut f, 3, Some(7), Kind::Data, 41);
        set_seq(&mut f, 42);
        assert_eq!(&f[..6], &mac(7));
        assert_eq!(&f[6..12], &mac(3));
        assert_eq!(
            read(&f),
            Some(Stamp {
                kind: Kind::Data,
                port: 3,
                seq: 42
            })
        );
        write(&mut f, 0, None, Kind::Learn, 0);
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(read(&f).map(|s| s.kind), Some(Kind::Learn));
        assert_eq!(read(&f[..20]), None);
        f[STAMP_AT] = b'x';
        assert_eq!(read(&f), None);
    }
}
