//! Capture files in the classic pcap format, as libpcap and tcpdump write them.
//!
//! A file is a 24-byte header followed by one record per frame: a 16-byte record header and the
//! captured bytes.
//!
//! | offset | size | file header field | written by this crate |
//! |---|---|---|---|
//! | 0 | 4 | magic | `0xa1b2c3d4` (µs timestamps); `0xa1b23c4d` (ns) is read too |
//! | 4 | 2 | major version | 2 |
//! | 6 | 2 | minor version | 4 |
//! | 8 | 4 | thiszone (GMT offset) | 0 |
//! | 12 | 4 | sigfigs (timestamp accuracy) | 0 |
//! | 16 | 4 | snaplen, longest captured part of a frame | caller's choice |
//! | 20 | 4 | link type | 1 (Ethernet) |
//!
//! | offset | size | record header field |
//! |---|---|---|
//! | 0 | 4 | timestamp, seconds since 1970 |
//! | 4 | 4 | timestamp, microseconds (nanoseconds in a ns file) |
//! | 8 | 4 | captured length (bytes that follow) |
//! | 12 | 4 | original length of the frame on the wire |
//!
//! Every field is in the writer's byte order, which readers tell from the magic. Like libpcap,
//! this crate writes the host's order ([`ByteOrder::NATIVE`]); tcpdump and Wireshark read either
//! order, and so does [`Reader`].
//!
//! The pcapng format is in [`pcapng`](crate::pcapng); [`CapturedFrame`] and [`read_frames`]
//! serve both.

use core::time::Duration;

/// Magic of a file with microsecond timestamps.
pub const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// Magic of a file with nanosecond timestamps.
pub const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
/// Major version written and the only one read.
pub const VERSION_MAJOR: u16 = 2;
/// Minor version written.
pub const VERSION_MINOR: u16 = 4;
/// Link type of Ethernet frames (`LINKTYPE_ETHERNET`, `DLT_EN10MB`).
pub const LINKTYPE_ETHERNET: u16 = 1;
/// Size of the file header.
pub const FILE_HEADER_LEN: usize = 24;
/// Size of a record header.
pub const RECORD_HEADER_LEN: usize = 16;
/// Largest captured length accepted in a record, as libpcap (262144 bytes).
pub const MAX_SNAPLEN: u32 = 262_144;

mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..4;
    pub const VERSION_MAJOR: Range<usize> = 4..6;
    pub const VERSION_MINOR: Range<usize> = 6..8;
    pub const THISZONE: Range<usize> = 8..12;
    pub const SIGFIGS: Range<usize> = 12..16;
    pub const SNAPLEN: Range<usize> = 16..20;
    pub const LINKTYPE: Range<usize> = 20..24;

    pub const TS_SEC: Range<usize> = 0..4;
    pub const TS_FRAC: Range<usize> = 4..8;
    pub const INCL_LEN: Range<usize> = 8..12;
    pub const ORIG_LEN: Range<usize> = 12..16;
}

/// Byte order of a capture file (pcap: per file; pcapng: per section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

impl ByteOrder {
    /// The host's order, which the writers of this crate use.
    pub const NATIVE: ByteOrder = if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };

    pub(crate) fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        }
    }

    pub(crate) fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        }
    }

    pub(crate) fn put_u16(self, out: &mut [u8], v: u16) {
        out[..2].copy_from_slice(&match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        });
    }

    pub(crate) fn put_u32(self, out: &mut [u8], v: u32) {
        out[..4].copy_from_slice(&match self {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        });
    }
}

/// Why a capture file cannot be read (pcap and pcapng).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// The data ends inside a structure. For a file being read while it is written (a FIFO),
    /// this only means: read more.
    #[error("capture ends inside the {what} at byte {offset}: {have} of {need} bytes")]
    Truncated {
        /// The structure cut short.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes present.
        have: usize,
        /// Bytes it needs.
        need: usize,
    },

    /// The first four bytes are neither a pcap magic nor a pcapng section header.
    #[error("not a pcap or pcapng capture: it starts with {0:#010x} (pcap files start with a1b2c3d4 or a1b23c4d in either byte order, pcapng files with 0a0d0d0a)")]
    BadMagic(u32),

    /// A version this crate does not read.
    #[error("{format} version {major}.{minor} is not supported (only {supported})")]
    UnsupportedVersion {
        /// "pcap" or "pcapng".
        format: &'static str,
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
        /// What is read.
        supported: &'static str,
    },

    /// A record claims more captured bytes than libpcap accepts ([`MAX_SNAPLEN`]), or a packet
    /// block more than its block holds.
    #[error("packet at byte {offset} claims {len} captured bytes, more than the {max} possible there: the file is corrupt")]
    CaptureTooLong {
        /// Where its header starts.
        offset: usize,
        /// Captured length claimed.
        len: u32,
        /// Largest accepted.
        max: u32,
    },

    /// A record or packet block with more captured bytes than the frame had.
    #[error("packet at byte {offset} has {captured} captured bytes of a {original}-byte frame: the file is corrupt")]
    CapturedMoreThanOriginal {
        /// Where its header starts.
        offset: usize,
        /// Captured length.
        captured: u32,
        /// Original length.
        original: u32,
    },

    /// A timestamp whose fraction is a second or more.
    #[error("packet at byte {offset} has a timestamp fraction of {fraction} {unit}, a second or more: the file is corrupt")]
    BadTimestamp {
        /// Where its header starts.
        offset: usize,
        /// The fraction field.
        fraction: u32,
        /// "µs" or "ns".
        unit: &'static str,
    },

    /// A pcapng section header whose byte-order magic is neither order of `0x1a2b3c4d`.
    #[error("pcapng section header at byte {offset} has byte-order magic {magic:#010x}, not 1a2b3c4d in either order")]
    BadByteOrderMagic {
        /// Where the block starts.
        offset: usize,
        /// What was found.
        magic: u32,
    },

    /// A pcapng block whose total length is impossible.
    #[error("pcapng block at byte {offset} has a total length of {len}: it must be a multiple of 4 and at least {min}")]
    BadBlockLength {
        /// Where the block starts.
        offset: usize,
        /// The length field.
        len: u32,
        /// Least length of this block type.
        min: u32,
    },

    /// A pcapng block whose trailing length differs from its leading one.
    #[error("pcapng block at byte {offset} says it is {head} bytes long at its start and {tail} at its end: the file is corrupt")]
    LengthMismatch {
        /// Where the block starts.
        offset: usize,
        /// Leading length.
        head: u32,
        /// Trailing length.
        tail: u32,
    },

    /// A pcapng packet for an interface that no interface block of its section describes.
    #[error("pcapng packet at byte {offset} is for interface {id}, but its section describes {known} interface(s)")]
    UnknownInterface {
        /// Where the block starts.
        offset: usize,
        /// Interface id of the packet.
        id: u32,
        /// Interfaces described so far in the section.
        known: usize,
    },

    /// A pcapng option that runs past its block or has an unusable value.
    #[error("pcapng option {code} at byte {offset}: {problem}")]
    BadOption {
        /// Where the option starts.
        offset: usize,
        /// Option code.
        code: u16,
        /// What is wrong.
        problem: &'static str,
    },
}

/// The fields of the file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeaderRepr {
    /// Order of every field of the file.
    pub byte_order: ByteOrder,
    /// Nanosecond (rather than microsecond) timestamps.
    pub nanos: bool,
    /// Minor version (the major one is always [`VERSION_MAJOR`]).
    pub version_minor: u16,
    /// GMT offset of the timestamps, in seconds; 0 in practice.
    pub thiszone: i32,
    /// Accuracy of the timestamps; 0 in practice.
    pub sigfigs: u32,
    /// Longest captured part of a frame.
    pub snaplen: u32,
    /// Link type ([`LINKTYPE_ETHERNET`] for the switch).
    pub linktype: u32,
}

impl FileHeaderRepr {
    /// What the switch writes: host order, µs, version 2.4, Ethernet, frames cut at `snaplen`.
    pub const fn ethernet(snaplen: u32) -> FileHeaderRepr {
        FileHeaderRepr {
            byte_order: ByteOrder::NATIVE,
            nanos: false,
            version_minor: VERSION_MINOR,
            thiszone: 0,
            sigfigs: 0,
            snaplen,
            linktype: LINKTYPE_ETHERNET as u32,
        }
    }

    /// Reads the header at the start of `bytes`: magic first, then version 2.
    pub fn parse(bytes: &[u8]) -> Result<FileHeaderRepr, CaptureError> {
        let truncated = |need| CaptureError::Truncated {
            what: "pcap file header",
            offset: 0,
            have: bytes.len(),
            need,
        };
        if bytes.len() < 4 {
            return Err(truncated(FILE_HEADER_LEN));
        }
        let magic = &bytes[field::MAGIC];
        let (byte_order, nanos) = [ByteOrder::Little, ByteOrder::Big]
            .into_iter()
            .find_map(|o| match o.u32(magic) {
                MAGIC_MICROS => Some((o, false)),
                MAGIC_NANOS => Some((o, true)),
                _ => None,
            })
            .ok_or(CaptureError::BadMagic(u32::from_be_bytes([
                magic[0], magic[1], magic[2], magic[3],
            ])))?;
        if bytes.len() < FILE_HEADER_LEN {
            return Err(truncated(FILE_HEADER_LEN));
        }
        let o = byte_order;
        let major = o.u16(&bytes[field::VERSION_MAJOR]);
        let minor = o.u16(&bytes[field::VERSION_MINOR]);
        if major != VERSION_MAJOR {
            return Err(CaptureError::UnsupportedVersion {
                format: "pcap",
                major,
                minor,
                supported: "2.x",
            });
        }
        Ok(FileHeaderRepr {
            byte_order,
            nanos,
            version_minor: minor,
            thiszone: o.u32(&bytes[field::THISZONE]) as i32,
            sigfigs: o.u32(&bytes[field::SIGFIGS]),
            snaplen: o.u32(&bytes[field::SNAPLEN]),
            linktype: o.u32(&bytes[field::LINKTYPE]),
        })
    }

    /// Writes the 24 bytes to `out[..24]` and returns 24.
    ///
    /// # Panics
    /// If `out` is shorter than [`FILE_HEADER_LEN`].
    pub fn emit(&self, out: &mut [u8]) -> usize {
        assert!(
            out.len() >= FILE_HEADER_LEN,
            "pcap file header needs 24 bytes"
        );
        let o = self.byte_order;
        o.put_u32(
            &mut out[field::MAGIC],
            if self.nanos {
                MAGIC_NANOS
            } else {
                MAGIC_MICROS
            },
        );
        o.put_u16(&mut out[field::VERSION_MAJOR], VERSION_MAJOR);
        o.put_u16(&mut out[field::VERSION_MINOR], self.version_minor);
        o.put_u32(&mut out[field::THISZONE], self.thiszone as u32);
        o.put_u32(&mut out[field::SIGFIGS], self.sigfigs);
        o.put_u32(&mut out[field::SNAPLEN], self.snaplen);
        o.put_u32(&mut out[field::LINKTYPE], self.linktype);
        FILE_HEADER_LEN
    }

    /// Appends the header to `out`.
    pub fn append(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.resize(at + FILE_HEADER_LEN, 0);
        self.emit(&mut out[at..]);
    }

    fn frac_per_second(&self) -> u32 {
        if self.nanos {
            1_000_000_000
        } else {
            1_000_000
        }
    }
}

/// One captured frame of a pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketRecord<'a> {
    /// Time since 1970-01-01 UTC. Written with the file's precision, the seconds saturating at
    /// `u32::MAX` (year 2106).
    pub timestamp: Duration,
    /// Length of the frame on the wire (at least `data.len()` in a valid record).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

impl<'a> PacketRecord<'a> {
    /// The record of `frame` seen at `timestamp`, cut to `snaplen` bytes.
    pub fn new(timestamp: Duration, frame: &'a [u8], snaplen: u32) -> Self {
        let keep = frame.len().min(snaplen as usize);
        PacketRecord {
            timestamp,
            orig_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            data: &frame[..keep],
        }
    }

    /// Reads the record at the start of `bytes`, which is at byte `offset` of a file with
    /// `header` (the offset only goes into errors). Returns it and the bytes it used.
    pub fn parse(
        bytes: &'a [u8],
        header: &FileHeaderRepr,
        offset: usize,
    ) -> Result<(PacketRecord<'a>, usize), CaptureError> {
        let truncated = |what, need| CaptureError::Truncated {
            what,
            offset,
            have: bytes.len(),
            need,
        };
        if bytes.len() < RECORD_HEADER_LEN {
            return Err(truncated("pcap record header", RECORD_HEADER_LEN));
        }
        let o = header.byte_order;
        let secs = o.u32(&bytes[field::TS_SEC]);
        let frac = o.u32(&bytes[field::TS_FRAC]);
        let incl_len = o.u32(&bytes[field::INCL_LEN]);
        let orig_len = o.u32(&bytes[field::ORIG_LEN]);
        if incl_len > MAX_SNAPLEN {
            return Err(CaptureError::CaptureTooLong {
                offset,
                len: incl_len,
                max: MAX_SNAPLEN,
            });
        }
        if incl_len > orig_len {
            return Err(CaptureError::CapturedMoreThanOriginal {
                offset,
                captured: incl_len,
                original: orig_len,
            });
        }
        if frac >= header.frac_per_second() {
            return Err(CaptureError::BadTimestamp {
                offset,
                fraction: frac,
                unit: if header.nanos { "ns" } else { "µs" },
            });
        }
        let end = RECORD_HEADER_LEN + incl_len as usize;
        if bytes.len() < end {
            return Err(truncated("pcap record", end));
        }
        let nanos = if header.nanos { frac } else { frac * 1000 };
        let record = PacketRecord {
            timestamp: Duration::new(u64::from(secs), nanos),
            orig_len,
            data: &bytes[RECORD_HEADER_LEN..end],
        };
        Ok((record, end))
    }

    /// Header plus captured bytes.
    pub fn buffer_len(&self) -> usize {
        RECORD_HEADER_LEN + self.data.len()
    }

    /// Writes the record for a file with `header` to `out[..self.buffer_len()]` and returns
    /// that length.
    ///
    /// # Panics
    /// If `out` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, header: &FileHeaderRepr, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        assert!(
            out.len() >= len,
            "pcap record needs {len} bytes, buffer has {}",
            out.len()
        );
        let o = header.byte_order;
        let secs = u32::try_from(self.timestamp.as_secs()).unwrap_or(u32::MAX);
        let frac = if header.nanos {
            self.timestamp.subsec_nanos()
        } else {
            self.timestamp.subsec_micros()
        };
        o.put_u32(&mut out[field::TS_SEC], secs);
        o.put_u32(&mut out[field::TS_FRAC], frac);
        o.put_u32(&mut out[field::INCL_LEN], self.data.len() as u32);
        o.put_u32(&mut out[field::ORIG_LEN], self.orig_len);
        out[RECORD_HEADER_LEN..len].copy_from_slice(self.data);
        len
    }

    /// Appends the record to `out`.
    pub fn append(&self, header: &FileHeaderRepr, out: &mut Vec<u8>) {
        let at = out.len();
        out.resize(at + self.buffer_len(), 0);
        self.emit(header, &mut out[at..]);
    }
}

/// The records of a pcap file held in memory, in order. Stops after the first error.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    header: FileHeaderRepr,
    bytes: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Reader<'a> {
    /// Reads the file header of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Result<Reader<'a>, CaptureError> {
        Ok(Reader {
            header: FileHeaderRepr::parse(bytes)?,
            bytes,
            offset: FILE_HEADER_LEN,
            failed: false,
        })
    }

    /// The file header.
    pub fn header(&self) -> &FileHeaderRepr {
        &self.header
    }

    /// Where the next record starts (after an error: where the bad one starts). A reader of a
    /// growing file keeps the bytes from here and parses them again when more have arrived.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<PacketRecord<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset == self.bytes.len() {
            return None;
        }
        match PacketRecord::parse(&self.bytes[self.offset..], &self.header, self.offset) {
            Ok((record, used)) => {
                self.offset += used;
                Some(Ok(record))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A frame read from either capture format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapturedFrame<'a> {
    /// Interface it was captured on: the pcapng interface id (within its section), 0 in pcap.
    pub interface_id: u32,
    /// Time since 1970-01-01 UTC.
    pub timestamp: Duration,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Every frame of a pcap or pcapng file held in memory (told apart by their first bytes), or
/// the first error. Blocks other than packets (pcapng) are skipped.
pub fn read_frames(bytes: &[u8]) -> Result<Vec<CapturedFrame<'_>>, CaptureError> {
    if crate::pcapng::is_pcapng(bytes) {
        return crate::pcapng::Reader::new(bytes)?.frames().collect();
    }
    Reader::new(bytes)?
        .map(|r| {
            r.map(|r| CapturedFrame {
                interface_id: 0,
                timestamp: r.timestamp,
                orig_len: r.orig_len,
                data: r.data,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_records() -> Vec<u8> {
        let header = FileHeaderRepr::ethernet(65535);
        let mut out = Vec::new();
        header.append(&mut out);
        PacketRecord::new(
            Duration::new(1_700_000_000, 123_456_789),
            &[0xaa; 60],
            65535,
        )
        .append(&header, &mut out);
        PacketRecord::new(Duration::new(1_700_000_001, 0), &[0xbb; 100], 64)
            .append(&header, &mut out);
        out
    }

    #[test]
    fn header_bytes_in_host_order() {
        let mut b = [0u8; 24];
        assert_eq!(FileHeaderRepr::ethernet(262_144).emit(&mut b), 24);
        let mut want = Vec::new();
        want.extend_from_slice(&0xa1b2_c3d4u32.to_ne_bytes());
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&4u16.to_ne_bytes());
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(&262_144u32.to_ne_bytes());
        want.extend_from_slice(&1u32.to_ne_bytes());
        assert_eq!(b[..], want[..]);
    }

    #[test]
    fn write_then_read() {
        let file = two_records();
        assert_eq!(file.len(), 24 + 16 + 60 + 16 + 64);
        let mut r = Reader::new(&file).unwrap();
        assert_eq!(*r.header(), FileHeaderRepr::ethernet(65535));
        let a = r.next().unwrap().unwrap();
        assert_eq!(
            a.timestamp,
            Duration::new(1_700_000_000, 123_456_000),
            "µs kept"
        );
        assert_eq!((a.orig_len, a.data), (60, &[0xaa; 60][..]));
        let b = r.next().unwrap().unwrap();
        assert_eq!((b.orig_len, b.data.len()), (100, 64), "cut at the snaplen");
        assert!(r.next().is_none());
        assert_eq!(r.offset(), file.len());
        let frames = read_frames(&file).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].interface_id, 0);
    }

    #[test]
    fn both_byte_orders_and_nanos() {
        for byte_order in [ByteOrder::Little, ByteOrder::Big] {
            let header = FileHeaderRepr {
                byte_order,
                nanos: true,
                ..FileHeaderRepr::ethernet(1500)
            };
            let mut file = Vec::new();
            header.append(&mut file);
            let rec = PacketRecord::new(Duration::new(5, 999_999_999), b"frame", 1500);
            rec.append(&header, &mut file);
            let mut r = Reader::new(&file).unwrap();
            assert_eq!(*r.header(), header);
            assert_eq!(r.next(), Some(Ok(rec)));
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(
            FileHeaderRepr::parse(b"GIF89a.........................")
                .unwrap_err()
                .to_string(),
            "not a pcap or pcapng capture: it starts with 0x47494638 (pcap files start with \
             a1b2c3d4 or a1b23c4d in either byte order, pcapng files with 0a0d0d0a)"
        );
        let file = two_records();
        assert_eq!(
            Reader::new(&file[..10]).unwrap_err(),
            CaptureError::Truncated {
                what: "pcap file header",
                offset: 0,
                have: 10,
                need: 24
            }
        );
        let mut v1 = file.clone();
        v1[4..6].copy_from_slice(&1u16.to_ne_bytes());
        assert_eq!(
            Reader::new(&v1).unwrap_err().to_string(),
            "pcap version 1.4 is not supported (only 2.x)"
        );

        let cut = &file[..file.len() - 1];
        let errs: Vec<_> = Reader::new(cut).unwrap().collect();
        assert_eq!(errs.len(), 2);
        let e = errs[1].clone().unwrap_err();
        assert_eq!(
            e.to_string(),
            "capture ends inside the pcap record at byte 100: 79 of 80 bytes"
        );

        let mut big = file.clone();
        big[24 + 8..24 + 12].copy_from_slice(&300_000u32.to_ne_bytes());
        let e = Reader::new(&big).unwrap().next().unwrap().unwrap_err();
        assert_eq!(
            e,
            CaptureError::CaptureTooLong {
                offset: 24,
                len: 300_000,
                max: 262_144
            }
        );

        let mut more = file.clone();
        more[24 + 12..24 + 16].copy_from_slice(&59u32.to_ne_bytes());
        let e = Reader::new(&more).unwrap().next().unwrap().unwrap_err();
        assert_eq!(
            e.to_string(),
            "packet at byte 24 has 60 captured bytes of a 59-byte frame: the file is corrupt"
        );

        let mut ts = file;
        ts[24 + 4..24 + 8].copy_from_slice(&1_000_000u32.to_ne_bytes());
        let mut r = Reader::new(&ts).unwrap();
        assert!(matches!(
            r.next(),
            Some(Err(CaptureError::BadTimestamp {
                fraction: 1_000_000,
                ..
            }))
        ));
        assert!(r.next().is_none(), "stops after an error");
        assert_eq!(r.offset(), 24);
    }

    #[test]
    fn far_future_saturates() {
        let header = FileHeaderRepr::ethernet(100);
        let mut out = Vec::new();
        PacketRecord::new(Duration::from_secs(1 << 40), b"x", 100).append(&header, &mut out);
        assert_eq!(out[..4], u32::MAX.to_ne_bytes());
    }
}
