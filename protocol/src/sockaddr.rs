//! `struct sockaddr_un` as it travels inside control requests and replies.
//!
//! The C switch copies this structure raw: a host-order `u16` family followed by the 108-byte
//! `sun_path`, 110 bytes in all. We keep every byte of `sun_path`, including whatever follows the
//! first NUL, because UML's daemon transport binds a 107-byte *abstract* name that contains
//! padding and garbage: the switch must connect or send to exactly those 110 bytes, and
//! uml_switch recognises its clients by comparing all of them.

use core::fmt;

use crate::ProtocolError;

/// Size of `struct sockaddr_un` on Linux.
pub const SOCKADDR_UN_LEN: usize = 110;
/// Size of its `sun_path` member.
pub const SUN_PATH_LEN: usize = 108;
/// `AF_UNIX` / `AF_LOCAL` on Linux.
pub const AF_UNIX: u16 = 1;
/// Longest pathname that still leaves room for the terminating NUL, and longest abstract name
/// (after the leading NUL).
pub const MAX_NAME_LEN: usize = SUN_PATH_LEN - 1;

/// A Unix-domain socket address, byte for byte as the wire carries it.
///
/// `sun_family` is stored in host order, which on the little-endian machines this targets means
/// the first wire byte is the low byte (`01 00`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SockAddrUn {
    family: u16,
    path: [u8; SUN_PATH_LEN],
}

impl SockAddrUn {
    /// Reads the first 110 bytes of `bytes` (anything after them is not looked at).
    ///
    /// Fails with [`ProtocolError::Truncated`] if fewer than 110 bytes are given and with
    /// [`ProtocolError::BadFamily`] if the family is not `AF_UNIX`, since nothing but a Unix
    /// datagram socket can be a VDE data endpoint.
    pub fn parse(bytes: &[u8]) -> Result<SockAddrUn, ProtocolError> {
        if bytes.len() < SOCKADDR_UN_LEN {
            return Err(ProtocolError::Truncated {
                have: bytes.len(),
                need: SOCKADDR_UN_LEN,
            });
        }
        let family = u16::from_le_bytes([bytes[0], bytes[1]]);
        if family != AF_UNIX {
            return Err(ProtocolError::BadFamily(family));
        }
        let mut path = [0u8; SUN_PATH_LEN];
        path.copy_from_slice(&bytes[2..SOCKADDR_UN_LEN]);
        Ok(SockAddrUn { family, path })
    }

    /// A pathname address for `path`, zero-padded.
    ///
    /// `path` must be 1..=107 bytes (108 would leave no room for the NUL that C readers rely
    /// on) and must not contain NUL.
    pub fn from_path(path: &[u8]) -> Result<SockAddrUn, ProtocolError> {
        if path.is_empty() {
            return Err(ProtocolError::EmptyPath);
        }
        if path.len() > MAX_NAME_LEN {
            return Err(ProtocolError::PathTooLong {
                len: path.len(),
                max: MAX_NAME_LEN,
            });
        }
        if path.contains(&0) {
            return Err(ProtocolError::InteriorNul);
        }
        let mut raw = [0u8; SUN_PATH_LEN];
        raw[..path.len()].copy_from_slice(path);
        Ok(SockAddrUn::from_raw_path(raw))
    }

    /// An abstract address: `sun_path[0] = 0`, then `name` (at most 107 bytes, NULs allowed),
    /// then zero padding. As with the C clients, the whole 108 bytes are the name.
    pub fn from_abstract(name: &[u8]) -> Result<SockAddrUn, ProtocolError> {
        if name.len() > MAX_NAME_LEN {
            return Err(ProtocolError::PathTooLong {
                len: name.len(),
                max: MAX_NAME_LEN,
            });
        }
        let mut raw = [0u8; SUN_PATH_LEN];
        raw[1..=name.len()].copy_from_slice(name);
        Ok(SockAddrUn::from_raw_path(raw))
    }

    /// An `AF_UNIX` address with exactly this `sun_path` (e.g. what `recvfrom` filled in).
    pub const fn from_raw_path(path: [u8; SUN_PATH_LEN]) -> SockAddrUn {
        SockAddrUn {
            family: AF_UNIX,
            path,
        }
    }

    /// `sun_family`; always [`AF_UNIX`] for values this crate builds or accepts.
    pub const fn family(&self) -> u16 {
        self.family
    }

    /// All 108 bytes of `sun_path`.
    pub const fn raw_path(&self) -> &[u8; SUN_PATH_LEN] {
        &self.path
    }

    /// Linux abstract namespace address (`sun_path[0] == 0`): there is no file to check or unlink.
    pub const fn is_abstract(&self) -> bool {
        self.path[0] == 0
    }

    /// The filesystem path (bytes before the first NUL) of a pathname address; `None` for an
    /// abstract one. A `sun_path` with no NUL at all yields all 108 bytes, as Linux reads it.
    pub fn path(&self) -> Option<&[u8]> {
        if self.is_abstract() {
            return None;
        }
        let end = self
            .path
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(SUN_PATH_LEN);
        Some(&self.path[..end])
    }

    /// The name of an abstract address: the 107 bytes after the leading NUL; `None` for a
    /// pathname address.
    pub fn abstract_name(&self) -> Option<&[u8]> {
        self.is_abstract().then(|| &self.path[1..])
    }

    /// Writes the 110-byte wire form into `out[..110]` and leaves the rest of `out` alone.
    ///
    /// # Panics
    /// If `out` is shorter than [`SOCKADDR_UN_LEN`]; buffers are sized by the caller's own
    /// length computation, so a short one is a bug.
    pub fn emit(&self, out: &mut [u8]) {
        assert!(
            out.len() >= SOCKADDR_UN_LEN,
            "sockaddr_un needs {SOCKADDR_UN_LEN} bytes, buffer has {}",
            out.len()
        );
        out[..2].copy_from_slice(&self.family.to_le_bytes());
        out[2..SOCKADDR_UN_LEN].copy_from_slice(&self.path);
    }

    /// The 110-byte wire form (this is also the whole reply vde_switch sends).
    pub fn to_bytes(&self) -> [u8; SOCKADDR_UN_LEN] {
        let mut out = [0u8; SOCKADDR_UN_LEN];
        self.emit(&mut out);
        out
    }

    fn fmt_name(&self, f: &mut fmt::Formatter<'_>, quote: bool) -> fmt::Result {
        let q = if quote { "\"" } else { "" };
        match self.path() {
            Some(p) => {
                write!(f, "{q}{}{q}", p.escape_ascii())?;
                // Bytes after the terminator make two addresses with the same path differ.
                if self.path[p.len()..].iter().any(|&b| b != 0) {
                    f.write_str(" (+bytes after NUL)")?;
                }
                Ok(())
            }
            None => {
                let name = &self.path[1..];
                let used = name.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                write!(f, "@{q}{}{q}", name[..used].escape_ascii())?;
                if used < name.len() {
                    write!(f, " (+{} NUL)", name.len() - used)?;
                }
                Ok(())
            }
        }
    }
}

/// `SockAddrUn("/tmp/sw/ctl")`, or `SockAddrUn(@"\x00\x12..." (+96 NUL))` for an abstract name
/// (the trailing run of NULs is counted rather than printed).
impl fmt::Debug for SockAddrUn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SockAddrUn(")?;
        if self.family != AF_UNIX {
            write!(f, "family {}, ", self.family)?;
        }
        self.fmt_name(f, true)?;
        f.write_str(")")
    }
}

/// The path (non-UTF-8 bytes escaped) or `@` and the escaped abstract name, for log lines.
impl fmt::Display for SockAddrUn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_name(f, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 110 bytes vde_switch sent back in the captured vdeplug4 handshake
    /// (`recvfrom(3, ...)` in `transcripts/vdeplug4_handshake_with_vde_switch.strace.txt`).
    const STRACE_REPLY: [u8; 110] =
        *b"\x01\x00\x2f\x74\x6d\x70\x2f\x76\x73\x32\x2f\x30\x30\x34\x2e\x31\
        \x31\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";

    #[test]
    fn parses_captured_reply() {
        let a = SockAddrUn::parse(&STRACE_REPLY).unwrap();
        assert_eq!(a.family(), AF_UNIX);
        assert!(!a.is_abstract());
        assert_eq!(a.path(), Some(&b"/tmp/vs2/004.11"[..]));
        assert_eq!(a.to_bytes(), STRACE_REPLY);
        assert_eq!(SockAddrUn::from_path(b"/tmp/vs2/004.11").unwrap(), a);
        assert_eq!(format!("{a:?}"), r#"SockAddrUn("/tmp/vs2/004.11")"#);
        assert_eq!(a.to_string(), "/tmp/vs2/004.11");
    }

    #[test]
    fn parse_checks_length_and_family() {
        assert_eq!(
            SockAddrUn::parse(&STRACE_REPLY[..109]),
            Err(ProtocolError::Truncated {
                have: 109,
                need: 110
            })
        );
        let mut b = STRACE_REPLY;
        b[0] = 2;
        assert_eq!(SockAddrUn::parse(&b), Err(ProtocolError::BadFamily(2)));
        // Family is host order: `00 01` is 256, not AF_UNIX.
        b[0] = 0;
        b[1] = 1;
        assert_eq!(SockAddrUn::parse(&b), Err(ProtocolError::BadFamily(256)));
        // Extra bytes are not looked at.
        let mut long = STRACE_REPLY.to_vec();
        long.extend_from_slice(b"junk");
        assert!(SockAddrUn::parse(&long).is_ok());
    }

    #[test]
    fn from_path_limits() {
        let max = [b'a'; 107];
        let a = SockAddrUn::from_path(&max).unwrap();
        assert_eq!(a.path(), Some(&max[..]));
        assert_eq!(a.raw_path()[107], 0);
        let e = SockAddrUn::from_path(&[b'a'; 108]).unwrap_err();
        assert_eq!(e, ProtocolError::PathTooLong { len: 108, max: 107 });
        assert_eq!(
            e.to_string(),
            "socket path of 108 bytes is too long: at most 107 bytes fit in sun_path"
        );
        assert_eq!(
            SockAddrUn::from_path(b"/tmp/a\0b"),
            Err(ProtocolError::InteriorNul)
        );
        assert_eq!(SockAddrUn::from_path(b""), Err(ProtocolError::EmptyPath));
    }

    #[test]
    fn abstract_keeps_all_bytes() {
        let name: Vec<u8> = (1..=107u8).map(|i| i.wrapping_mul(37) | 1).collect();
        let a = SockAddrUn::from_abstract(&name).unwrap();
        assert!(a.is_abstract());
        assert_eq!(a.path(), None);
        assert_eq!(a.abstract_name(), Some(&name[..]));
        let bytes = a.to_bytes();
        assert_eq!(&bytes[..3], &[1, 0, 0]);
        assert_eq!(&bytes[3..], &name[..]);
        assert_eq!(SockAddrUn::parse(&bytes).unwrap(), a);
        assert_eq!(
            SockAddrUn::from_abstract(&[0; 108]),
            Err(ProtocolError::PathTooLong { len: 108, max: 107 })
        );
    }

    #[test]
    fn abstract_debug_is_readable() {
        let a = SockAddrUn::from_abstract(b"\x00\x12ab").unwrap();
        assert_eq!(format!("{a:?}"), r#"SockAddrUn(@"\x00\x12ab" (+103 NUL))"#);
        assert_eq!(a.to_string(), r"@\x00\x12ab (+103 NUL)");
        let unnamed = SockAddrUn::from_abstract(b"").unwrap();
        assert_eq!(format!("{unnamed:?}"), r#"SockAddrUn(@"" (+107 NUL))"#);
    }

    #[test]
    fn garbage_after_path_is_kept_and_shown() {
        let mut raw = [0u8; 108];
        raw[..4].copy_from_slice(b"/a\0x");
        let a = SockAddrUn::from_raw_path(raw);
        assert_eq!(a.path(), Some(&b"/a"[..]));
        assert_ne!(a, SockAddrUn::from_path(b"/a").unwrap());
        assert_eq!(format!("{a:?}"), r#"SockAddrUn("/a" (+bytes after NUL))"#);
        assert_eq!(SockAddrUn::parse(&a.to_bytes()).unwrap(), a);
    }

    #[test]
    fn path_without_nul_uses_all_bytes() {
        let a = SockAddrUn::from_raw_path([b'x'; 108]);
        assert_eq!(a.path().map(<[u8]>::len), Some(108));
    }

    #[test]
    #[should_panic(expected = "sockaddr_un needs 110 bytes")]
    fn emit_panics_on_short_buffer() {
        SockAddrUn::from_path(b"/x").unwrap().emit(&mut [0u8; 109]);
    }
}
