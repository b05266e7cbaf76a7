//! Capture files in the pcapng format: one section, one interface per switch port, packets
//! tagged with the interface they crossed.
//!
//! A file is a sequence of blocks, each framed the same way:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | block type |
//! | 4 | 4 | total length of the block, a multiple of 4 |
//! | 8 | .. | body, then options |
//! | length − 4 | 4 | total length again |
//!
//! The blocks this crate writes and reads (others are skipped, as the format asks):
//!
//! | block | type | body |
//! |---|---|---|
//! | Section Header | `0x0a0d0d0a` | byte-order magic `0x1a2b3c4d` `u32`, version 1.0 (`u16`, `u16`), section length `i64` (−1: unknown), options (`shb_userappl` = 4) |
//! | Interface Description | 1 | link type `u16`, reserved `u16`, snaplen `u32`, options (`if_name` = 2, `if_tsresol` = 9) |
//! | Enhanced Packet | 6 | interface id `u32`, timestamp high and low `u32`, captured length `u32`, original length `u32`, data padded to 4 bytes, options |
//!
//! An option is a code `u16`, a length `u16` and the value padded to 4 bytes; a list ends with
//! code 0 (`opt_endofopt`) or with its block. Writers here end every option list they write with
//! `opt_endofopt` and write no list at all in packet blocks.
//!
//! Each section has its own byte order, given by how its byte-order magic reads; this crate
//! writes the host's ([`ByteOrder::NATIVE`]). Interface ids count the Interface Description
//! Blocks of the section from 0. Timestamps count units of `if_tsresol` (a power of 10 or 2 of
//! a second; microseconds when absent) since 1970; the writers use microseconds.

use core::time::Duration;

pub use crate::pcap::{ByteOrder, CaptureError, CapturedFrame, LINKTYPE_ETHERNET};

/// Block type of a Section Header Block (the same bytes in both orders).
pub const BLOCK_SECTION_HEADER: u32 = 0x0a0d_0d0a;
/// Block type of an Interface Description Block.
pub const BLOCK_INTERFACE: u32 = 1;
/// Block type of an Enhanced Packet Block.
pub const BLOCK_ENHANCED_PACKET: u32 = 6;
/// Byte-order magic of a section header.
pub const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Version written, and the major version read.
pub const VERSION: (u16, u16) = (1, 0);
/// Option code ending an option list.
pub const OPT_ENDOFOPT: u16 = 0;
/// Section header option: name of the application that wrote the file.
pub const OPT_SHB_USERAPPL: u16 = 4;
/// Interface option: its name.
pub const OPT_IF_NAME: u16 = 2;
/// Interface option: timestamp resolution, one byte.
pub const OPT_IF_TSRESOL: u16 = 9;
/// `if_tsresol` of microseconds, the default and what the writers use.
pub const TSRESOL_MICROS: u8 = 6;

/// Block type, total length (the body follows).
const BLOCK_HEADER_LEN: usize = 8;
/// Block header and trailing length.
const BLOCK_OVERHEAD: usize = 12;
const SECTION_HEADER_MIN: usize = 28;
const INTERFACE_MIN: usize = 20;
const ENHANCED_PACKET_MIN: usize = 32;

mod field {
    use core::ops::Range;
    pub const TYPE: Range<usize> = 0..4;
    pub const TOTAL_LEN: Range<usize> = 4..8;
    // Section header.
    pub const BYTE_ORDER: Range<usize> = 8..12;
    pub const MAJOR: Range<usize> = 12..14;
    pub const MINOR: Range<usize> = 14..16;
    pub const SECTION_LEN: Range<usize> = 16..24;
    pub const SHB_OPTIONS: usize = 24;
    // Interface description.
    pub const LINKTYPE: Range<usize> = 8..10;
    pub const RESERVED: Range<usize> = 10..12;
    pub const SNAPLEN: Range<usize> = 12..16;
    pub const IDB_OPTIONS: usize = 16;
    // Enhanced packet.
    pub const INTERFACE_ID: Range<usize> = 8..12;
    pub const TS_HIGH: Range<usize> = 12..16;
    pub const TS_LOW: Range<usize> = 16..20;
    pub const CAPTURED_LEN: Range<usize> = 20..24;
    pub const ORIGINAL_LEN: Range<usize> = 24..28;
    pub const DATA: usize = 28;
}

const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// Bytes an option with a value of `len` bytes takes.
const fn option_len(len: usize) -> usize {
    4 + pad4(len)
}

/// Writes an option at the start of `out`, returns its length.
fn put_option(o: ByteOrder, out: &mut [u8], code: u16, value: &[u8]) -> usize {
    let len = option_len(value.len());
    o.put_u16(&mut out[0..2], code);
    o.put_u16(&mut out[2..4], value.len() as u16);
    out[4..4 + value.len()].copy_from_slice(value);
    out[4 + value.len()..len].fill(0);
    len
}

/// Writes the framing of a block of `total` bytes: type, length at both ends.
fn put_frame(o: ByteOrder, out: &mut [u8], block_type: u32, total: usize) {
    o.put_u32(&mut out[field::TYPE], block_type);
    o.put_u32(&mut out[field::TOTAL_LEN], total as u32);
    o.put_u32(&mut out[total - 4..total], total as u32);
}

fn check_room(out: &[u8], len: usize, what: &str) {
    assert!(
        out.len() >= len,
        "{what} needs {len} bytes, buffer has {}",
        out.len()
    );
}

fn append_with(out: &mut Vec<u8>, len: usize, emit: impl FnOnce(&mut [u8]) -> usize) {
    let at = out.len();
    out.resize(at + len, 0);
    emit(&mut out[at..]);
}

/// The options of a block: `(offset, code, value)` until `opt_endofopt` or the end of the block.
struct Options<'a> {
    order: ByteOrder,
    area: &'a [u8],
    /// File offset of `area[0]`, for errors.
    base: usize,
    pos: usize,
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<(usize, u16, &'a [u8]), CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = &self.area[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let offset = self.base + self.pos;
        let bad = |code, problem| {
            Some(Err(CaptureError::BadOption {
                offset,
                code,
                problem,
            }))
        };
        if rest.len() < 4 {
            self.pos = self.area.len();
            return bad(0, "the option header runs past the end of its block");
        }
        let code = self.order.u16(&rest[0..2]);
        let len = usize::from(self.order.u16(&rest[2..4]));
        if code == OPT_ENDOFOPT {
            self.pos = self.area.len();
            return None;
        }
        if rest.len() < option_len(len) {
            self.pos = self.area.len();
            return bad(code, "the value runs past the end of its block");
        }
        self.pos += option_len(len);
        Some(Ok((offset, code, &rest[4..4 + len])))
    }
}

fn utf8(offset: usize, code: u16, value: &[u8]) -> Result<&str, CaptureError> {
    core::str::from_utf8(value).map_err(|_| CaptureError::BadOption {
        offset,
        code,
        problem: "a text option that is not UTF-8",
    })
}

/// The fields of a Section Header Block this crate uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionHeaderRepr<'a> {
    /// Order of every field of the section.
    pub byte_order: ByteOrder,
    /// Minor version (the major one is always 1).
    pub version_minor: u16,
    /// Length of the section after this block, if the writer knew it.
    pub section_len: Option<u64>,
    /// `shb_userappl`: the program that wrote the section.
    pub user_application: Option<&'a str>,
}

impl<'a> SectionHeaderRepr<'a> {
    /// A section header in host order, version 1.0, length unknown.
    pub fn new(user_application: Option<&'a str>) -> Self {
        SectionHeaderRepr {
            byte_order: ByteOrder::NATIVE,
            version_minor: VERSION.1,
            section_len: None,
            user_application,
        }
    }

    /// Bytes of the whole block.
    pub fn buffer_len(&self) -> usize {
        let options = self.user_application.map_or(0, |a| option_len(a.len()) + 4);
        SECTION_HEADER_MIN + options
    }

    /// Writes the block to `out[..self.buffer_len()]` and returns that length.
    ///
    /// # Panics
    /// If `out` is too short, or the application name is longer than 65535 bytes.
    pub fn emit(&self, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        check_room(out, len, "pcapng section header");
        let o = self.byte_order;
        put_frame(o, out, BLOCK_SECTION_HEADER, len);
        o.put_u32(&mut out[field::BYTE_ORDER], BYTE_ORDER_MAGIC);
        o.put_u16(&mut out[field::MAJOR], VERSION.0);
        o.put_u16(&mut out[field::MINOR], self.version_minor);
        let section_len = self.section_len.unwrap_or(u64::MAX);
        let (hi, lo) = ((section_len >> 32) as u32, section_len as u32);
        let (first, second) = match o {
            ByteOrder::Little => (lo, hi),
            ByteOrder::Big => (hi, lo),
        };
        let s = &mut out[field::SECTION_LEN];
        o.put_u32(&mut s[..4], first);
        o.put_u32(&mut s[4..], second);
        if let Some(app) = self.user_application {
            assert!(app.len() <= usize::from(u16::MAX), "shb_userappl too long");
            let mut at = field::SHB_OPTIONS;
            at += put_option(o, &mut out[at..], OPT_SHB_USERAPPL, app.as_bytes());
            put_option(o, &mut out[at..], OPT_ENDOFOPT, &[]);
        }
        len
    }

    /// Appends the block to `out`.
    pub fn append(&self, out: &mut Vec<u8>) {
        append_with(out, self.buffer_len(), |b| self.emit(b));
    }

    /// Reads a whole section header block (`block`, from its type to its trailing length,
    /// already framed by [`Reader`]) in order `o`, found at byte `offset`.
    fn parse(block: &'a [u8], o: ByteOrder, offset: usize) -> Result<Self, CaptureError> {
        let major = o.u16(&block[field::MAJOR]);
        let minor = o.u16(&block[field::MINOR]);
        if major != VERSION.0 {
            return Err(CaptureError::UnsupportedVersion {
                format: "pcapng",
                major,
                minor,
                supported: "1.x",
            });
        }
        let s = &block[field::SECTION_LEN];
        let (a, b) = (u64::from(o.u32(&s[0..4])), u64::from(o.u32(&s[4..8])));
        let section_len = match o {
            ByteOrder::Little => b << 32 | a,
            ByteOrder::Big => a << 32 | b,
        };
        let mut user_application = None;
        for opt in options(block, field::SHB_OPTIONS, o, offset) {
            let (at, code, value) = opt?;
            if code == OPT_SHB_USERAPPL && user_application.is_none() {
                user_application = Some(utf8(at, code, value)?);
            }
        }
        Ok(SectionHeaderRepr {
            byte_order: o,
            version_minor: minor,
            section_len: (section_len != u64::MAX).then_some(section_len),
            user_application,
        })
    }
}

/// The options area of a framed block, from `start` to before the trailing length.
fn options(block: &[u8], start: usize, order: ByteOrder, offset: usize) -> Options<'_> {
    Options {
        order,
        area: &block[start..block.len() - 4],
        base: offset + start,
        pos: 0,
    }
}

/// The fields of an Interface Description Block this crate uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceRepr<'a> {
    /// Link type of its packets ([`LINKTYPE_ETHERNET`] for switch ports).
    pub linktype: u16,
    /// Longest captured part of a packet (0: no limit).
    pub snaplen: u32,
    /// `if_name`, e.g. `"port 3"`.
    pub name: Option<&'a str>,
    /// `if_tsresol`: timestamps count 10^-n seconds, or 2^-n if the top bit is set. `None`
    /// means microseconds.
    pub tsresol: Option<u8>,
}

impl<'a> InterfaceRepr<'a> {
    /// An Ethernet interface named `name`, microsecond timestamps, frames cut at `snaplen`.
    pub fn ethernet(name: &'a str, snaplen: u32) -> Self {
        InterfaceRepr {
            linktype: LINKTYPE_ETHERNET,
            snaplen,
            name: Some(name),
            tsresol: Some(TSRESOL_MICROS),
        }
    }

    /// Bytes of the whole block.
    pub fn buffer_len(&self) -> usize {
        let name = self.name.map_or(0, |n| option_len(n.len()));
        let tsresol = self.tsresol.map_or(0, |_| option_len(1));
        let end = if name + tsresol > 0 { 4 } else { 0 };
        INTERFACE_MIN + name + tsresol + end
    }

    /// Writes the block in order `o` to `out[..self.buffer_len()]` and returns that length.
    ///
    /// # Panics
    /// If `out` is too short, or the name is longer than 65535 bytes.
    pub fn emit(&self, o: ByteOrder, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        check_room(out, len, "pcapng interface description");
        put_frame(o, out, BLOCK_INTERFACE, len);
        o.put_u16(&mut out[field::LINKTYPE], self.linktype);
        o.put_u16(&mut out[field::RESERVED], 0);
        o.put_u32(&mut out[field::SNAPLEN], self.snaplen);
        let mut at = field::IDB_OPTIONS;
        if let Some(name) = self.name {
            assert!(name.len() <= usize::from(u16::MAX), "if_name too long");
            at += put_option(o, &mut out[at..], OPT_IF_NAME, name.as_bytes());
        }
        if let Some(r) = self.tsresol {
            at += put_option(o, &mut out[at..], OPT_IF_TSRESOL, &[r]);
        }
        if at > field::IDB_OPTIONS {
            put_option(o, &mut out[at..], OPT_ENDOFOPT, &[]);
        }
        len
    }

    /// Appends the block in order `o` to `out`.
    pub fn append(&self, o: ByteOrder, out: &mut Vec<u8>) {
        append_with(out, self.buffer_len(), |b| self.emit(o, b));
    }

    fn parse(block: &'a [u8], o: ByteOrder, offset: usize) -> Result<Self, CaptureError> {
        let mut repr = InterfaceRepr {
            linktype: o.u16(&block[field::LINKTYPE]),
            snaplen: o.u32(&block[field::SNAPLEN]),
            name: None,
            tsresol: None,
        };
        for opt in options(block, field::IDB_OPTIONS, o, offset) {
            let (at, code, value) = opt?;
            match code {
                OPT_IF_NAME if repr.name.is_none() => repr.name = Some(utf8(at, code, value)?),
                OPT_IF_TSRESOL if repr.tsresol.is_none() => match value {
                    &[r] => repr.tsresol = Some(r),
                    _ => {
                        return Err(CaptureError::BadOption {
                            offset: at,
                            code,
                            problem: "if_tsresol must be one byte",
                        })
                    }
                },
                _ => {}
            }
        }
        Ok(repr)
    }

    /// The time since 1970 that `ticks` of this interface's resolution stand for (saturating
    /// at the largest [`Duration`]).
    pub fn timestamp(&self, ticks: u64) -> Duration {
        let r = self.tsresol.unwrap_or(TSRESOL_MICROS);
        let exp = u32::from(r & 0x7f);
        let ticks = u128::from(ticks);
        let nanos = if r & 0x80 == 0 {
            // Above 10^38 no u64 count of ticks reaches a nanosecond.
            10u128
                .checked_pow(exp)
                .map_or(0, |per_sec| ticks * 1_000_000_000 / per_sec)
        } else {
            (ticks * 1_000_000_000) >> exp
        };
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        Duration::new(secs, (nanos % 1_000_000_000) as u32)
    }

    /// `t` in ticks of this interface's resolution (rounded down, saturating at `u64::MAX`).
    pub fn ticks(&self, t: Duration) -> u64 {
        let r = self.tsresol.unwrap_or(TSRESOL_MICROS);
        let exp = u32::from(r & 0x7f);
        let nanos = t.as_nanos();
        let ticks = if r & 0x80 == 0 {
            match 10u128.checked_pow(exp) {
                Some(per_sec) => nanos.checked_mul(per_sec).map(|n| n / 1_000_000_000),
                None => None,
            }
        } else {
            1u128
                .checked_shl(exp)
                .and_then(|per_sec| nanos.checked_mul(per_sec))
                .map(|n| n / 1_000_000_000)
        };
        ticks.map_or(u64::MAX, |t| u64::try_from(t).unwrap_or(u64::MAX))
    }
}

/// The fields of an Enhanced Packet Block this crate uses (its options are skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnhancedPacketRepr<'a> {
    /// Index of the interface among the section's interface blocks.
    pub interface_id: u32,
    /// Ticks of the interface's resolution since 1970 (see [`InterfaceRepr::timestamp`]).
    pub timestamp: u64,
    /// Length of the frame on the wire (at least `data.len()` in a valid block).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

impl<'a> EnhancedPacketRepr<'a> {
    /// `frame` seen on interface `interface_id` at `timestamp` (microsecond resolution, as
    /// [`InterfaceRepr::ethernet`] declares), cut to `snaplen` bytes.
    pub fn new(interface_id: u32, timestamp: Duration, frame: &'a [u8], snaplen: u32) -> Self {
        EnhancedPacketRepr {
            interface_id,
            timestamp: u64::try_from(timestamp.as_micros()).unwrap_or(u64::MAX),
            orig_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
            data: &frame[..frame.len().min(snaplen as usize)],
        }
    }

    /// Bytes of the whole block.
    pub fn buffer_len(&self) -> usize {
        ENHANCED_PACKET_MIN + pad4(self.data.len())
    }

    /// Writes the block in order `o` to `out[..self.buffer_len()]` and returns that length.
    ///
    /// # Panics
    /// If `out` is too short.
    pub fn emit(&self, o: ByteOrder, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        check_room(out, len, "pcapng enhanced packet");
        put_frame(o, out, BLOCK_ENHANCED_PACKET, len);
        o.put_u32(&mut out[field::INTERFACE_ID], self.interface_id);
        o.put_u32(&mut out[field::TS_HIGH], (self.timestamp >> 32) as u32);
        o.put_u32(&mut out[field::TS_LOW], self.timestamp as u32);
        o.put_u32(&mut out[field::CAPTURED_LEN], self.data.len() as u32);
        o.put_u32(&mut out[field::ORIGINAL_LEN], self.orig_len);
        let end = field::DATA + self.data.len();
        out[field::DATA..end].copy_from_slice(self.data);
        out[end..len - 4].fill(0);
        len
    }

    /// Appends the block in order `o` to `out`.
    pub fn append(&self, o: ByteOrder, out: &mut Vec<u8>) {
        append_with(out, self.buffer_len(), |b| self.emit(o, b));
    }

    fn parse(block: &'a [u8], o: ByteOrder, offset: usize) -> Result<Self, CaptureError> {
        let captured = o.u32(&block[field::CAPTURED_LEN]);
        let original = o.u32(&block[field::ORIGINAL_LEN]);
        let room = block.len() - ENHANCED_PACKET_MIN;
        if captured as usize > room {
            return Err(CaptureError::CaptureTooLong {
                offset,
                len: captured,
                max: room as u32,
            });
        }
        if captured > original {
            return Err(CaptureError::CapturedMoreThanOriginal {
                offset,
                captured,
                original,
            });
        }
        let data_end = field::DATA + captured as usize;
        for opt in options(block, field::DATA + pad4(captured as usize), o, offset) {
            opt?;
        }
        Ok(EnhancedPacketRepr {
            interface_id: o.u32(&block[field::INTERFACE_ID]),
            timestamp: u64::from(o.u32(&block[field::TS_HIGH])) << 32
                | u64::from(o.u32(&block[field::TS_LOW])),
            orig_len: original,
            data: &block[field::DATA..data_end],
        })
    }
}

/// One block of a pcapng file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockRepr<'a> {
    /// Starts a section: byte order and interface numbering start over.
    SectionHeader(SectionHeaderRepr<'a>),
    /// Describes the next interface of the section.
    Interface(InterfaceRepr<'a>),
    /// A frame.
    EnhancedPacket(EnhancedPacketRepr<'a>),
    /// Any other block, undecoded.
    Other {
        /// Its type.
        block_type: u32,
        /// Everything between its leading and trailing lengths.
        body: &'a [u8],
    },
}

impl BlockRepr<'_> {
    /// Appends the block to `out`, in order `o` (a section header uses its own order).
    pub fn append(&self, o: ByteOrder, out: &mut Vec<u8>) {
        match self {
            BlockRepr::SectionHeader(s) => s.append(out),
            BlockRepr::Interface(i) => i.append(o, out),
            BlockRepr::EnhancedPacket(p) => p.append(o, out),
            BlockRepr::Other { block_type, body } => {
                let total = BLOCK_OVERHEAD + pad4(body.len());
                append_with(out, total, |b| {
                    put_frame(o, b, *block_type, total);
                    b[BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + body.len()].copy_from_slice(body);
                    total
                });
            }
        }
    }
}

/// Whether `bytes` starts like a pcapng file (with a section header block).
pub fn is_pcapng(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[field::TYPE] == BLOCK_SECTION_HEADER.to_be_bytes()
}

/// The blocks of a pcapng file held in memory, in order, checked as they are read: framing,
/// byte order, versions, options, interface ids. Stops after the first error.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
    order: ByteOrder,
    interfaces: Vec<InterfaceRepr<'a>>,
    failed: bool,
}

impl<'a> Reader<'a> {
    /// Checks that `bytes` starts with a section header; the first block returned is that one.
    pub fn new(bytes: &'a [u8]) -> Result<Reader<'a>, CaptureError> {
        if bytes.len() < 4 {
            return Err(CaptureError::Truncated {
                what: "pcapng section header",
                offset: 0,
                have: bytes.len(),
                need: SECTION_HEADER_MIN,
            });
        }
        if !is_pcapng(bytes) {
            let m = &bytes[field::TYPE];
            return Err(CaptureError::BadMagic(u32::from_be_bytes([
                m[0], m[1], m[2], m[3],
            ])));
        }
        Ok(Reader {
            bytes,
            offset: 0,
            order: ByteOrder::NATIVE,
            interfaces: Vec::new(),
            failed: false,
        })
    }

    /// Where the next block starts (after an error: where the bad one starts).
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Byte order of the current section.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The interfaces described so far in the current section, by id.
    pub fn interfaces(&self) -> &[InterfaceRepr<'a>] {
        &self.interfaces
    }

    /// The remaining packets as frames with their interface and time, other blocks skipped.
    pub fn frames(self) -> Frames<'a> {
        Frames { blocks: self }
    }

    fn read_block(&mut self) -> Result<BlockRepr<'a>, CaptureError> {
        let offset = self.offset;
        let rest = &self.bytes[offset..];
        let truncated = |what, need| CaptureError::Truncated {
            what,
            offset,
            have: rest.len(),
            need,
        };
        if rest.len() < BLOCK_HEADER_LEN {
            return Err(truncated("pcapng block header", BLOCK_HEADER_LEN));
        }
        let mut o = self.order;
        let block_type = o.u32(&rest[field::TYPE]);
        if block_type == BLOCK_SECTION_HEADER {
            if rest.len() < field::BYTE_ORDER.end {
                return Err(truncated("pcapng section header", SECTION_HEADER_MIN));
            }
            let magic = &rest[field::BYTE_ORDER];
            o = [ByteOrder::Little, ByteOrder::Big]
                .into_iter()
                .find(|o| o.u32(magic) == BYTE_ORDER_MAGIC)
                .ok_or(CaptureError::BadByteOrderMagic {
                    offset,
                    magic: u32::from_be_bytes([magic[0], magic[1], magic[2], magic[3]]),
                })?;
        }
        let total = o.u32(&rest[field::TOTAL_LEN]);
        let min = match block_type {
            BLOCK_SECTION_HEADER => SECTION_HEADER_MIN,
            BLOCK_INTERFACE => INTERFACE_MIN,
            BLOCK_ENHANCED_PACKET => ENHANCED_PACKET_MIN,
            _ => BLOCK_OVERHEAD,
        };
        if total & 3 != 0 || (total as usize) < min {
            return Err(CaptureError::BadBlockLength {
                offset,
                len: total,
                min: min as u32,
            });
        }
        let total_len = total as usize;
        if rest.len() < total_len {
            return Err(truncated("pcapng block", total_len));
        }
        let block = &rest[..total_len];
        let tail = o.u32(&block[total_len - 4..]);
        if tail != total {
            return Err(CaptureError::LengthMismatch {
                offset,
                head: total,
                tail,
            });
        }
        let repr = match block_type {
            BLOCK_SECTION_HEADER => {
                let s = SectionHeaderRepr::parse(block, o, offset)?;
                self.order = o;
                self.interfaces.clear();
                BlockRepr::SectionHeader(s)
            }
            BLOCK_INTERFACE => {
                let i = InterfaceRepr::parse(block, o, offset)?;
                self.interfaces.push(i);
                BlockRepr::Interface(i)
            }
            BLOCK_ENHANCED_PACKET => {
                let p = EnhancedPacketRepr::parse(block, o, offset)?;
                if p.interface_id as usize >= self.interfaces.len() {
                    return Err(CaptureError::UnknownInterface {
                        offset,
                        id: p.interface_id,
                        known: self.interfaces.len(),
                    });
                }
                BlockRepr::EnhancedPacket(p)
            }
            _ => BlockRepr::Other {
                block_type,
                body: &block[BLOCK_HEADER_LEN..total_len - 4],
            },
        };
        self.offset += total_len;
        Ok(repr)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<BlockRepr<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset == self.bytes.len() {
            return None;
        }
        let r = self.read_block();
        self.failed = r.is_err();
        Some(r)
    }
}

/// Packets of a pcapng file as [`CapturedFrame`]s (see [`Reader::frames`]).
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    blocks: Reader<'a>,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<CapturedFrame<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.blocks.next()? {
                Ok(BlockRepr::EnhancedPacket(p)) => {
                    // The reader refused packets of undescribed interfaces.
                    let interface = &self.blocks.interfaces[p.interface_id as usize];
                    return Some(Ok(CapturedFrame {
                        interface_id: p.interface_id,
                        timestamp: interface.timestamp(p.timestamp),
                        orig_len: p.orig_len,
                        data: p.data,
                    }));
                }
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let o = ByteOrder::NATIVE;
        let mut out = Vec::new();
        SectionHeaderRepr::new(Some("vde_switch")).append(&mut out);
        InterfaceRepr::ethernet("port 1", 65535).append(o, &mut out);
        InterfaceRepr::ethernet("port 3", 65535).append(o, &mut out);
        EnhancedPacketRepr::new(1, Duration::new(1_700_000_000, 250_000), &[0xaa; 61], 65535)
            .append(o, &mut out);
        EnhancedPacketRepr::new(0, Duration::new(1_700_000_001, 0), &[0xbb; 100], 64)
            .append(o, &mut out);
        out
    }

    #[test]
    fn block_bytes() {
        let o = ByteOrder::Big;
        let mut out = Vec::new();
        SectionHeaderRepr {
            byte_order: o,
            ..SectionHeaderRepr::new(None)
        }
        .append(&mut out);
        assert_eq!(
            out,
            [
                0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0, 0xff,
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28
            ]
        );
        out.clear();
        InterfaceRepr::ethernet("port 3", 1518).append(o, &mut out);
        #[rustfmt::skip]
        let want = [
            0, 0, 0, 1, 0, 0, 0, 44, // type, length
            0, 1, 0, 0, 0, 0, 0x05, 0xee, // Ethernet, reserved, snaplen
            0, 2, 0, 6, b'p', b'o', b'r', b't', b' ', b'3', 0, 0, // if_name
            0, 9, 0, 1, 6, 0, 0, 0, // if_tsresol
            0, 0, 0, 0, // opt_endofopt
            0, 0, 0, 44,
        ];
        assert_eq!(out, want);
        out.clear();
        EnhancedPacketRepr::new(3, Duration::new(1, 2_000), &[1, 2, 3, 4, 5], 100)
            .append(o, &mut out);
        #[rustfmt::skip]
        let want = [
            0, 0, 0, 6, 0, 0, 0, 40,
            0, 0, 0, 3, // interface
            0, 0, 0, 0, 0, 0x0f, 0x42, 0x42, // 1_000_002 µs
            0, 0, 0, 5, 0, 0, 0, 5,
            1, 2, 3, 4, 5, 0, 0, 0, // padded
            0, 0, 0, 40,
        ];
        assert_eq!(out, want);
    }

    #[test]
    fn write_then_read() {
        let file = sample();
        let blocks: Vec<_> = Reader::new(&file)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(blocks.len(), 5);
        assert_eq!(
            blocks[0],
            BlockRepr::SectionHeader(SectionHeaderRepr::new(Some("vde_switch")))
        );
        assert_eq!(
            blocks[2],
            BlockRepr::Interface(InterfaceRepr::ethernet("port 3", 65535))
        );
        let frames = crate::pcap::read_frames(&file).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].interface_id, 1);
        assert_eq!(frames[0].timestamp, Duration::new(1_700_000_000, 250_000));
        assert_eq!((frames[0].orig_len, frames[0].data), (61, &[0xaa; 61][..]));
        assert_eq!((frames[1].orig_len, frames[1].data.len()), (100, 64));
        // Re-emitting every block gives the same file.
        let mut again = Vec::new();
        for b in &blocks {
            b.append(ByteOrder::NATIVE, &mut again);
        }
        assert_eq!(again, file);
    }

    #[test]
    fn other_blocks_and_sections() {
        let mut file = sample();
        let other = BlockRepr::Other {
            block_type: 0x8000_0001,
            body: &[1, 2, 3, 4],
        };
        other.append(ByteOrder::NATIVE, &mut file);
        // A second section in the other byte order, with its own interfaces.
        let swapped = match ByteOrder::NATIVE {
            ByteOrder::Little => ByteOrder::Big,
            ByteOrder::Big => ByteOrder::Little,
        };
        SectionHeaderRepr {
            byte_order: swapped,
            ..SectionHeaderRepr::new(None)
        }
        .append(&mut file);
        let iface = InterfaceRepr {
            linktype: 1,
            snaplen: 0,
            name: None,
            tsresol: Some(0x80 | 10),
        };
        iface.append(swapped, &mut file);
        EnhancedPacketRepr {
            interface_id: 0,
            timestamp: 3 << 10 | 512,
            orig_len: 14,
            data: &[7; 14],
        }
        .append(swapped, &mut file);
        let mut r = Reader::new(&file).unwrap();
        let blocks: Vec<_> = r.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(blocks[5], other);
        assert_eq!(r.byte_order(), swapped);
        assert_eq!(r.interfaces(), &[iface]);
        let frames = crate::pcap::read_frames(&file).unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames[2].timestamp,
            Duration::from_millis(3500),
            "2^-10 s ticks"
        );
    }

    #[test]
    fn timestamps() {
        let us = InterfaceRepr::ethernet("x", 0);
        let t = Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(us.ticks(t), 1_700_000_000_123_456);
        assert_eq!(
            us.timestamp(1_700_000_000_123_456),
            Duration::new(1_700_000_000, 123_456_000)
        );
        let ns = InterfaceRepr {
            tsresol: Some(9),
            ..us
        };
        assert_eq!(ns.timestamp(ns.ticks(t)), t);
        let none = InterfaceRepr {
            tsresol: None,
            ..us
        };
        assert_eq!(none.timestamp(1_500_000), Duration::from_millis(1500));
        let extreme = InterfaceRepr {
            tsresol: Some(127),
            ..us
        };
        assert_eq!(extreme.timestamp(u64::MAX), Duration::ZERO);
        assert_eq!(extreme.ticks(t), u64::MAX);
        let bin = InterfaceRepr {
            tsresol: Some(0xff),
            ..us
        };
        assert_eq!(bin.timestamp(u64::MAX), Duration::ZERO);
        let secs = InterfaceRepr {
            tsresol: Some(0),
            ..us
        };
        assert_eq!(secs.timestamp(u64::MAX), Duration::from_secs(u64::MAX));
    }

    #[test]
    fn refusals() {
        let file = sample();
        let first = |bytes: &[u8]| -> CaptureError {
            match Reader::new(bytes) {
                Err(e) => e,
                Ok(r) => r.collect::<Result<Vec<_>, _>>().unwrap_err(),
            }
        };
        assert_eq!(
            first(&file[..2]),
            CaptureError::Truncated {
                what: "pcapng section header",
                offset: 0,
                have: 2,
                need: 28
            }
        );
        assert!(matches!(
            first(b"\xa1\xb2\xc3\xd4...."),
            CaptureError::BadMagic(0xa1b2_c3d4)
        ));

        let mut bom = file.clone();
        bom[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            first(&bom).to_string(),
            "pcapng section header at byte 0 has byte-order magic 0x01020304, not 1a2b3c4d in either order"
        );

        let shb_len = SectionHeaderRepr::new(Some("vde_switch")).buffer_len();
        let mut len = file.clone();
        len[shb_len + 4..shb_len + 8].copy_from_slice(&45u32.to_ne_bytes());
        assert_eq!(
            first(&len).to_string(),
            format!("pcapng block at byte {shb_len} has a total length of 45: it must be a multiple of 4 and at least 20")
        );

        let mut tail = file.clone();
        tail[shb_len + 40] ^= 0xff;
        assert!(matches!(first(&tail), CaptureError::LengthMismatch { .. }));

        let mut ver = file.clone();
        ver[12..14].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(
            first(&ver).to_string(),
            "pcapng version 2.0 is not supported (only 1.x)"
        );

        let idb = 2 * InterfaceRepr::ethernet("port 1", 65535).buffer_len();
        let epb = shb_len + idb;
        let mut iface = file.clone();
        iface[epb + 8..epb + 12].copy_from_slice(&2u32.to_ne_bytes());
        assert_eq!(
            first(&iface).to_string(),
            format!("pcapng packet at byte {epb} is for interface 2, but its section describes 2 interface(s)")
        );

        let mut cap = file.clone();
        cap[epb + 20..epb + 24].copy_from_slice(&65u32.to_ne_bytes());
        assert_eq!(
            first(&cap),
            CaptureError::CaptureTooLong {
                offset: epb,
                len: 65,
                max: 64
            }
        );
        cap[epb + 20..epb + 24].copy_from_slice(&62u32.to_ne_bytes());
        assert!(matches!(
            first(&cap),
            CaptureError::CapturedMoreThanOriginal { captured: 62, .. }
        ));

        let mut opt = file.clone();
        // The if_name option of the first interface claims 200 bytes.
        opt[shb_len + 18..shb_len + 20].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(
            first(&opt).to_string(),
            format!(
                "pcapng option 2 at byte {}: the value runs past the end of its block",
                shb_len + 16
            )
        );
        let mut name = file.clone();
        name[shb_len + 20] = 0xff;
        assert!(matches!(
            first(&name),
            CaptureError::BadOption {
                problem: "a text option that is not UTF-8",
                ..
            }
        ));

        let cut = first(&file[..file.len() - 3]);
        assert!(
            matches!(
                cut,
                CaptureError::Truncated {
                    what: "pcapng block",
                    ..
                }
            ),
            "{cut}"
        );
    }
}
