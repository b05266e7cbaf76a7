//! The request a client writes on the switch's control socket to get a data port.
//!
//! Three layouts exist. All integers are in the sender's host byte order; every client and switch
//! this crate talks to runs on little-endian Linux, so they are read and written with
//! `from_le_bytes`/`to_le_bytes`.
//!
//! | version | layout |
//! |---|---|
//! | v3 (all current clients) | magic `u32` @0, version `u32` = 3 @4, type word `u32` @8, `sockaddr_un` @12, description @122.. |
//! | v1 (version word 0 or 1) | magic @0, type `u32` @4 (the same word as the version), MAC `[u8; 6]` @8 (unused), `sockaddr_un` @14, description @124.. |
//! | v0 (uml_switch only, no magic) | type `u32` @0, MAC @4 (unused), `sockaddr_un` @10; 120 bytes, no description |
//!
//! The v3 type word carries the request type in its low 8 bits (0 = new port, 1 = port 0) and a
//! wanted port number in bits 8..31 (0 = any free port).
//!
//! Parsing checks magic, then version, then type, each as soon as the bytes it needs have
//! arrived, so garbage is refused on its first segment; only then does it report a header that
//! is still incomplete.

use std::borrow::Cow;

use crate::sockaddr::{SockAddrUn, SOCKADDR_UN_LEN};
use crate::ProtocolError;

/// First word of v1 and v3 requests.
pub const MAGIC: u32 = 0xfeed_face;
/// Bytes before the description of a v3 request.
pub const V3_HEADER_LEN: usize = 122;
/// Bytes before the description of a v1 request.
pub const V1_HEADER_LEN: usize = 124;
/// Size of a v0 request.
pub const V0_LEN: usize = 120;
/// Longest description kept; longer ones are cut (the switch only shows it).
pub const MAX_DESCRIPTION_LEN: usize = 128;
/// Request type: a new data port (the requested one, or any free one).
pub const REQ_NEW_CONTROL: u8 = 0;
/// Request type: attach to port 0, the management port.
pub const REQ_NEW_PORT0: u8 = 1;
/// Largest port number the 24 port bits of the type word can carry.
pub const MAX_PORT: u32 = 0x00ff_ffff;

/// Which switch is reading the request: they differ in what they accept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    /// vde_switch: magic required; type 0 with an optional port, or type 1.
    VdeSwitch,
    /// uml_switch: a request without magic is v0; no port numbers, type must be 0.
    UmlSwitch,
}

impl Dialect {
    /// Shortest complete request of this dialect, reported while the version is unknown.
    const fn min_len(self) -> usize {
        match self {
            Dialect::VdeSwitch => V3_HEADER_LEN,
            Dialect::UmlSwitch => V0_LEN,
        }
    }
}

/// Layout of a request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProtoVersion {
    /// No magic (uml_switch only).
    V0,
    /// Magic, then a version word of 0 or 1 that is also the request type.
    V1,
    /// Magic, version 3, type word with port number.
    V3,
}

impl ProtoVersion {
    /// Bytes before the description (for v0: the whole request).
    pub const fn header_len(self) -> usize {
        match self {
            ProtoVersion::V0 => V0_LEN,
            ProtoVersion::V1 => V1_HEADER_LEN,
            ProtoVersion::V3 => V3_HEADER_LEN,
        }
    }

    /// Where the `sockaddr_un` starts.
    const fn addr_offset(self) -> usize {
        match self {
            ProtoVersion::V0 => 10,
            ProtoVersion::V1 => 14,
            ProtoVersion::V3 => 12,
        }
    }

    /// Offset of the type word.
    const fn type_offset(self) -> usize {
        match self {
            ProtoVersion::V0 => 0,
            ProtoVersion::V1 => 4,
            ProtoVersion::V3 => 8,
        }
    }
}

/// Which port the client asks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PortRequest {
    /// Any free port (type 0, port bits 0).
    Any,
    /// That port number, 1..=[`MAX_PORT`] (type 0, bits 8..31 of the type word).
    Port(u32),
    /// Port 0, the management port (type 1, `REQ_NEW_PORT0`; port bits ignored).
    Port0,
}

impl PortRequest {
    /// Decodes a type word as vde_switch does. `None` if the request type (low byte) is neither
    /// 0 nor 1.
    pub const fn from_type_word(word: u32) -> Option<PortRequest> {
        match (word & 0xff) as u8 {
            REQ_NEW_CONTROL => match word >> 8 {
                0 => Some(PortRequest::Any),
                n => Some(PortRequest::Port(n)),
            },
            REQ_NEW_PORT0 => Some(PortRequest::Port0),
            _ => None,
        }
    }

    /// The type word that asks for this port. Port numbers above [`MAX_PORT`] lose their top bits
    /// (they cannot be expressed).
    pub const fn type_word(self) -> u32 {
        match self {
            PortRequest::Any => REQ_NEW_CONTROL as u32,
            PortRequest::Port(n) => (n & MAX_PORT) << 8 | REQ_NEW_CONTROL as u32,
            PortRequest::Port0 => REQ_NEW_PORT0 as u32,
        }
    }
}

/// Why a request is refused, or that more bytes are needed.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Fewer bytes than the header needs. `need` is the header length of this version, or the
    /// shortest header of the dialect while the version is not known yet.
    #[error("request too short: {have} of {need} bytes")]
    Incomplete {
        /// Bytes received.
        have: usize,
        /// Bytes needed.
        need: usize,
    },

    /// The first word is not [`MAGIC`] (vde_switch only: uml_switch takes such requests as v0).
    #[error("bad magic {0:#010x}: not a VDE request (V0 requests are not supported)")]
    BadMagic(u32),

    /// Version 2 or above 3.
    #[error("request for protocol version {0}, which this switch does not support")]
    UnsupportedVersion(u32),

    /// A type word this switch does not accept: request type not 0/1, or (uml_switch) anything
    /// but 0. Holds the whole word.
    #[error("bad request type word {0:#010x} (type {t}, port {p}): not a request this switch accepts", t = .0 & 0xff, p = .0 >> 8)]
    BadType(u32),

    /// The client's socket address is unusable.
    #[error("bad client address in request: {0}")]
    BadAddress(ProtocolError),
}

/// A parsed control request.
///
/// Values that [`parse`](Self::parse) returns always [`emit`](Self::emit) back to bytes that
/// parse to the same value (the unused MAC field of v0/v1 is written as zeros). A value built by
/// hand round-trips if it is one `parse` could return: `Port(n)` with `n` in 1..=[`MAX_PORT`] only
/// in v3, `Port0` not in v0, a description of at most [`MAX_DESCRIPTION_LEN`] bytes, none in v0.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RequestRepr {
    /// Layout the request used (and that `emit` writes).
    pub version: ProtoVersion,
    /// Requested port.
    pub port: PortRequest,
    /// The client's bound datagram socket, byte for byte.
    pub addr: SockAddrUn,
    /// Free text after the header, raw (not NUL-terminated), at most [`MAX_DESCRIPTION_LEN`]
    /// bytes when parsed. Shown to users lossily as UTF-8.
    pub description: Vec<u8>,
}

fn word(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// Magic and version checks: the layout, `Ok(None)` if too few bytes arrived to tell.
fn classify(buf: &[u8], dialect: Dialect) -> Result<Option<ProtoVersion>, RequestError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let magic = word(buf, 0);
    if magic != MAGIC {
        return match dialect {
            Dialect::VdeSwitch => Err(RequestError::BadMagic(magic)),
            Dialect::UmlSwitch => Ok(Some(ProtoVersion::V0)),
        };
    }
    if buf.len() < 8 {
        return Ok(None);
    }
    match word(buf, 4) {
        3 => Ok(Some(ProtoVersion::V3)),
        0 | 1 => Ok(Some(ProtoVersion::V1)),
        v => Err(RequestError::UnsupportedVersion(v)),
    }
}

/// Type check for `dialect`.
fn port_request(word: u32, dialect: Dialect) -> Result<PortRequest, RequestError> {
    match dialect {
        // uml_switch knows only REQ_NEW_CONTROL and no port numbers.
        Dialect::UmlSwitch if word != 0 => Err(RequestError::BadType(word)),
        _ => PortRequest::from_type_word(word).ok_or(RequestError::BadType(word)),
    }
}

impl RequestRepr {
    /// A v3 request, what every current client sends.
    pub fn new_v3(port: PortRequest, addr: SockAddrUn, description: impl Into<Vec<u8>>) -> Self {
        RequestRepr {
            version: ProtoVersion::V3,
            port,
            addr,
            description: description.into(),
        }
    }

    /// Parse one complete request. `buf` holds every byte received so far on the connection;
    /// the description is everything after the header, cut at [`MAX_DESCRIPTION_LEN`].
    ///
    /// Errors come in protocol order (magic, version, type) as soon as their bytes are present,
    /// then [`RequestError::Incomplete`] while the header is not complete, then the address.
    pub fn parse(buf: &[u8], dialect: Dialect) -> Result<RequestRepr, RequestError> {
        let have = buf.len();
        let incomplete = |need| RequestError::Incomplete { have, need };
        let version = classify(buf, dialect)?.ok_or_else(|| incomplete(dialect.min_len()))?;
        let header_len = version.header_len();
        let type_at = version.type_offset();
        if have < type_at + 4 {
            return Err(incomplete(header_len));
        }
        let port = port_request(word(buf, type_at), dialect)?;
        if have < header_len {
            return Err(incomplete(header_len));
        }
        let at = version.addr_offset();
        let addr =
            SockAddrUn::parse(&buf[at..at + SOCKADDR_UN_LEN]).map_err(RequestError::BadAddress)?;
        let description = match version {
            ProtoVersion::V0 => Vec::new(),
            _ => {
                let rest = &buf[header_len..];
                rest[..rest.len().min(MAX_DESCRIPTION_LEN)].to_vec()
            }
        };
        Ok(RequestRepr {
            version,
            port,
            addr,
            description,
        })
    }

    /// How many bytes the header of the request starting in `buf` needs, so a reader can
    /// reassemble a request split over several reads.
    ///
    /// `None` while fewer bytes have arrived than are needed to tell (at most 8; uml_switch's v0
    /// is known after 4). `Some(Err(..))` if those bytes already show a bad magic or version.
    /// The type word and the address are checked by [`parse`](Self::parse) only.
    pub fn header_len(buf: &[u8], dialect: Dialect) -> Option<Result<usize, RequestError>> {
        classify(buf, dialect)
            .map(|v| v.map(ProtoVersion::header_len))
            .transpose()
    }

    /// Bytes [`emit`](Self::emit) writes: the header of `self.version` plus the description
    /// (none for v0).
    pub fn buffer_len(&self) -> usize {
        match self.version {
            ProtoVersion::V0 => V0_LEN,
            v => v.header_len() + self.description.len(),
        }
    }

    /// Writes the request in the layout of `self.version` to `out[..self.buffer_len()]` and
    /// returns that length. The description is written whole; v0 has none.
    ///
    /// # Panics
    /// If `out` is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit(&self, out: &mut [u8]) -> usize {
        let len = self.buffer_len();
        assert!(
            out.len() >= len,
            "request needs {len} bytes, buffer has {}",
            out.len()
        );
        let out = &mut out[..len];
        let type_word = self.port.type_word();
        match self.version {
            ProtoVersion::V0 => {
                out[0..4].copy_from_slice(&type_word.to_le_bytes());
                out[4..10].fill(0);
            }
            ProtoVersion::V1 => {
                out[0..4].copy_from_slice(&MAGIC.to_le_bytes());
                out[4..8].copy_from_slice(&type_word.to_le_bytes());
                out[8..14].fill(0);
            }
            ProtoVersion::V3 => {
                out[0..4].copy_from_slice(&MAGIC.to_le_bytes());
                out[4..8].copy_from_slice(&3u32.to_le_bytes());
                out[8..12].copy_from_slice(&type_word.to_le_bytes());
            }
        }
        self.addr.emit(&mut out[self.version.addr_offset()..]);
        if self.version != ProtoVersion::V0 {
            out[self.version.header_len()..].copy_from_slice(&self.description);
        }
        len
    }

    /// The emitted request as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.buffer_len()];
        self.emit(&mut out);
        out
    }

    /// The description as text for display (invalid UTF-8 replaced).
    pub fn description_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 153 bytes vdeplug4 sent in the captured handshake
    /// (`sendto(3, ...)` in `transcripts/vdeplug4_handshake_with_vde_switch.strace.txt`).
    const STRACE_REQUEST: &[u8; 153] =
        b"\xce\xfa\xed\xfe\x03\x00\x00\x00\x00\x00\x00\x00\x01\x00\x2f\x74\
        \x6d\x70\x2f\x76\x73\x32\x2f\x2e\x33\x30\x33\x32\x32\x2d\x30\x30\
        \x30\x30\x30\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x73\x74\x72\x61\x63\x65\
        \x20\x64\x65\x6d\x6f\x20\x75\x73\x65\x72\x3d\x72\x6f\x6f\x74\x20\
        \x70\x69\x64\x3d\x33\x30\x33\x32\x32";

    const VDE: Dialect = Dialect::VdeSwitch;
    const UML: Dialect = Dialect::UmlSwitch;

    fn addr() -> SockAddrUn {
        SockAddrUn::from_path(b"/tmp/sw/.1-00000").unwrap()
    }

    /// A v3 request with an arbitrary type word.
    fn v3_with_type(type_word: u32) -> Vec<u8> {
        let mut b = RequestRepr::new_v3(PortRequest::Any, addr(), &b"d"[..]).to_bytes();
        b[8..12].copy_from_slice(&type_word.to_le_bytes());
        b
    }

    /// A request whose version word is `v`, padded to a full v3 header.
    fn with_version(v: u32) -> Vec<u8> {
        let mut b = RequestRepr::new_v3(PortRequest::Any, addr(), Vec::new()).to_bytes();
        b[4..8].copy_from_slice(&v.to_le_bytes());
        b
    }

    #[test]
    fn parses_captured_vdeplug4_request() {
        let r = RequestRepr::parse(STRACE_REQUEST, VDE).unwrap();
        assert_eq!(r.version, ProtoVersion::V3);
        assert_eq!(r.port, PortRequest::Any);
        assert_eq!(r.addr.path(), Some(&b"/tmp/vs2/.30322-00000"[..]));
        assert_eq!(r.description, b"strace demo user=root pid=30322");
        assert_eq!(r.description_lossy(), "strace demo user=root pid=30322");
        assert_eq!(r.buffer_len(), 153);
        assert_eq!(r.to_bytes(), STRACE_REQUEST);
        assert_eq!(
            RequestRepr::header_len(STRACE_REQUEST, VDE),
            Some(Ok(V3_HEADER_LEN))
        );
        // uml_switch reads the same bytes (and keeps the description the same way).
        assert_eq!(RequestRepr::parse(STRACE_REQUEST, UML), Ok(r));
    }

    #[test]
    fn uml_daemon_request_keeps_abstract_address() {
        // UML's daemon transport: 124 bytes (struct padding), abstract 107-byte name of
        // pid/usec and stack garbage, 2 stray bytes of "description".
        let name: Vec<u8> = (0..107u32).map(|i| (i * 97 + 13) as u8 | 0x80).collect();
        let a = SockAddrUn::from_abstract(&name).unwrap();
        let mut b = RequestRepr::new_v3(PortRequest::Any, a.clone(), Vec::new()).to_bytes();
        b.extend_from_slice(&[0xaa, 0x55]);
        assert_eq!(b.len(), 124);
        for dialect in [VDE, UML] {
            let r = RequestRepr::parse(&b, dialect).unwrap();
            assert_eq!(r.addr, a);
            assert_eq!(r.addr.raw_path()[0], 0);
            assert_eq!(&r.addr.raw_path()[1..], &name[..]);
            assert_eq!(r.description, [0xaa, 0x55]);
            assert_eq!(r.to_bytes(), b);
        }
    }

    #[test]
    fn v1_request() {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&[2, 0, 0, 0, 0, 9]); // MAC, ignored
        b.extend_from_slice(&addr().to_bytes());
        b.extend_from_slice(b"old client");
        let r = RequestRepr::parse(&b, VDE).unwrap();
        assert_eq!(r.version, ProtoVersion::V1);
        assert_eq!(r.port, PortRequest::Any);
        assert_eq!(r.addr, addr());
        assert_eq!(r.description, b"old client");
        assert_eq!(RequestRepr::header_len(&b, VDE), Some(Ok(V1_HEADER_LEN)));
        // Re-emitted with the MAC zeroed, otherwise identical.
        let again = r.to_bytes();
        assert_eq!(&again[8..14], &[0; 6]);
        assert_eq!(&again[14..], &b[14..]);
        assert_eq!(RequestRepr::parse(&again, VDE), Ok(r));

        // Version word 1 = REQ_NEW_PORT0.
        b[4] = 1;
        assert_eq!(
            RequestRepr::parse(&b, VDE).unwrap().port,
            PortRequest::Port0
        );
        // ...which uml_switch does not know.
        assert_eq!(RequestRepr::parse(&b, UML), Err(RequestError::BadType(1)));
        b[4] = 0;
        assert_eq!(
            RequestRepr::parse(&b, UML).unwrap().version,
            ProtoVersion::V1
        );
    }

    #[test]
    fn v1_with_port_is_an_unsupported_version() {
        let b = with_version(5 << 8);
        let e = RequestRepr::parse(&b, VDE).unwrap_err();
        assert_eq!(e, RequestError::UnsupportedVersion(1280));
        assert_eq!(
            e.to_string(),
            "request for protocol version 1280, which this switch does not support"
        );
    }

    #[test]
    fn versions_2_and_4_rejected() {
        for v in [2, 4, u32::MAX] {
            for dialect in [VDE, UML] {
                let b = with_version(v);
                assert_eq!(
                    RequestRepr::parse(&b, dialect),
                    Err(RequestError::UnsupportedVersion(v))
                );
                // Refused as soon as the version word is in.
                assert_eq!(
                    RequestRepr::parse(&b[..8], dialect),
                    Err(RequestError::UnsupportedVersion(v))
                );
                assert_eq!(
                    RequestRepr::header_len(&b[..8], dialect),
                    Some(Err(RequestError::UnsupportedVersion(v)))
                );
            }
        }
    }

    #[test]
    fn type_5_rejected() {
        let b = v3_with_type(5);
        let e = RequestRepr::parse(&b, VDE).unwrap_err();
        assert_eq!(e, RequestError::BadType(5));
        assert_eq!(
            e.to_string(),
            "bad request type word 0x00000005 (type 5, port 0): not a request this switch accepts"
        );
        // Refused on the first 12 bytes already.
        assert_eq!(
            RequestRepr::parse(&b[..12], VDE),
            Err(RequestError::BadType(5))
        );
        assert_eq!(RequestRepr::parse(&b, UML), Err(RequestError::BadType(5)));
    }

    #[test]
    fn port0_and_numbered_ports() {
        let r = RequestRepr::parse(&v3_with_type(1), VDE).unwrap();
        assert_eq!(r.port, PortRequest::Port0);
        // Port bits are ignored for REQ_NEW_PORT0.
        let r = RequestRepr::parse(&v3_with_type(9 << 8 | 1), VDE).unwrap();
        assert_eq!(r.port, PortRequest::Port0);
        assert_eq!(r.to_bytes()[8..12], [1, 0, 0, 0]);

        let b = v3_with_type(7 << 8);
        let r = RequestRepr::parse(&b, VDE).unwrap();
        assert_eq!(r.port, PortRequest::Port(7));
        assert_eq!(r.to_bytes(), b);
        let r = RequestRepr::parse(&v3_with_type(MAX_PORT << 8), VDE).unwrap();
        assert_eq!(r.port, PortRequest::Port(MAX_PORT));
    }

    #[test]
    fn uml_rejects_port_numbers_and_port0() {
        for t in [7 << 8, 1] {
            assert_eq!(
                RequestRepr::parse(&v3_with_type(t), UML),
                Err(RequestError::BadType(t))
            );
        }
    }

    #[test]
    fn uml_v0_request() {
        let mut b = Vec::new();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        b.extend_from_slice(&addr().to_bytes());
        assert_eq!(b.len(), V0_LEN);
        let r = RequestRepr::parse(&b, UML).unwrap();
        assert_eq!(
            r,
            RequestRepr {
                version: ProtoVersion::V0,
                port: PortRequest::Any,
                addr: addr(),
                description: Vec::new(),
            }
        );
        assert_eq!(RequestRepr::header_len(&b[..4], UML), Some(Ok(V0_LEN)));
        // Bytes past 120 are not part of a v0 request.
        let mut longer = b.clone();
        longer.extend_from_slice(b"xx");
        assert_eq!(RequestRepr::parse(&longer, UML), Ok(r.clone()));
        let again = r.to_bytes();
        assert_eq!(&again[10..], &b[10..]);
        assert_eq!(RequestRepr::parse(&again, UML), Ok(r));
        // vde_switch refuses it; the "magic" is the type word.
        assert_eq!(RequestRepr::parse(&b, VDE), Err(RequestError::BadMagic(0)));
        // v0 type must be 0 too.
        b[0] = 3;
        assert_eq!(RequestRepr::parse(&b, UML), Err(RequestError::BadType(3)));
        assert_eq!(
            RequestRepr::parse(&b[..4], UML),
            Err(RequestError::BadType(3))
        );
    }

    #[test]
    fn bad_magic_refused_early() {
        let garbage = [0x12, 0x34, 0x56, 0x78, 0, 0];
        let e = RequestRepr::parse(&garbage[..4], VDE).unwrap_err();
        assert_eq!(e, RequestError::BadMagic(0x7856_3412));
        assert_eq!(
            e.to_string(),
            "bad magic 0x78563412: not a VDE request (V0 requests are not supported)"
        );
        assert_eq!(
            RequestRepr::header_len(&garbage, VDE),
            Some(Err(RequestError::BadMagic(0x7856_3412)))
        );
    }

    #[test]
    fn incomplete_until_header_is_in() {
        let b = RequestRepr::parse(STRACE_REQUEST, VDE).unwrap().to_bytes();
        for n in 0..V3_HEADER_LEN {
            let e = RequestRepr::parse(&b[..n], VDE).unwrap_err();
            assert_eq!(e, RequestError::Incomplete { have: n, need: 122 });
        }
        assert_eq!(
            RequestError::Incomplete {
                have: 20,
                need: 122
            }
            .to_string(),
            "request too short: 20 of 122 bytes"
        );
        assert_eq!(RequestRepr::header_len(&b[..7], VDE), None);
        assert_eq!(RequestRepr::header_len(&b[..8], VDE), Some(Ok(122)));
        // Header alone: empty description.
        let r = RequestRepr::parse(&b[..122], VDE).unwrap();
        assert!(r.description.is_empty());
        // uml_switch: shortest header is v0's while the version is unknown.
        assert_eq!(
            RequestRepr::parse(&b[..3], UML),
            Err(RequestError::Incomplete { have: 3, need: 120 })
        );
        assert_eq!(
            RequestRepr::parse(&b[..100], UML),
            Err(RequestError::Incomplete {
                have: 100,
                need: 122
            })
        );
    }

    #[test]
    fn bad_address_family() {
        let mut b = STRACE_REQUEST.to_vec();
        b[12] = 2;
        let e = RequestRepr::parse(&b, VDE).unwrap_err();
        assert_eq!(e, RequestError::BadAddress(ProtocolError::BadFamily(2)));
        assert_eq!(
            e.to_string(),
            "bad client address in request: address family 2 is not AF_UNIX (1)"
        );
    }

    #[test]
    fn description_is_cut() {
        let mut b = STRACE_REQUEST[..122].to_vec();
        b.extend_from_slice(&[b'x'; 300]);
        let r = RequestRepr::parse(&b, VDE).unwrap();
        assert_eq!(r.description.len(), MAX_DESCRIPTION_LEN);
        // Invalid UTF-8 is shown, not refused.
        let r = RequestRepr::new_v3(PortRequest::Any, addr(), vec![b'a', 0xff]);
        assert_eq!(r.description_lossy(), "a\u{fffd}");
    }

    #[test]
    fn emit_layouts_roundtrip() {
        let cases = [
            RequestRepr::new_v3(PortRequest::Port(42), addr(), &b"hello"[..]),
            RequestRepr::new_v3(PortRequest::Port0, addr(), Vec::new()),
            RequestRepr {
                version: ProtoVersion::V1,
                port: PortRequest::Port0,
                addr: addr(),
                description: b"v1".to_vec(),
            },
        ];
        for r in cases {
            let b = r.to_bytes();
            assert_eq!(b.len(), r.buffer_len());
            assert_eq!(RequestRepr::parse(&b, VDE), Ok(r));
        }
    }

    #[test]
    #[should_panic(expected = "request needs 122 bytes")]
    fn emit_panics_on_short_buffer() {
        RequestRepr::new_v3(PortRequest::Any, addr(), Vec::new()).emit(&mut [0u8; 121]);
    }
}
