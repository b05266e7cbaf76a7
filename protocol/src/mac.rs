//! Ethernet MAC addresses.
//!
//! The switch learns, prints and parses MAC addresses (console commands such as `hash/find`, the
//! `--macaddr` option), so the printing and parsing rules here follow what vde_switch accepts and
//! shows: lowercase colon-separated output, and input groups separated either all by `:` or all
//! by `.`.

use core::fmt;
use core::str::FromStr;

/// A 48-bit IEEE 802 MAC address, in wire order (byte 0 is the first byte on the wire).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// Length of an address on the wire.
    pub const LEN: usize = 6;

    /// Reads an address from the first 6 bytes of `bytes`.
    ///
    /// # Panics
    /// If `bytes` is shorter than 6 bytes; callers slice a checked buffer.
    pub fn from_bytes(bytes: &[u8]) -> MacAddr {
        let mut a = [0u8; 6];
        a.copy_from_slice(&bytes[..6]);
        MacAddr(a)
    }

    /// The six bytes in wire order.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Group (multicast or broadcast) address: bit 0 of the first byte is set. The switch floods
    /// these and never learns them as sources.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// All ones.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Neither multicast nor broadcast: an address that may be learned.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// Reads an address the lenient way the reference's console does (`hash/find`), with
    /// `sscanf("%x:%x:%x:%x:%x:%x")` (or `.` separators when the text has no `:`): each group
    /// may have leading blanks, a `0x` prefix and trailing garbage, keeps its low byte, and
    /// anything after the sixth group is ignored. `None` unless six groups were read.
    pub fn scan(text: &str) -> Option<MacAddr> {
        let sep = if text.contains(':') { ':' } else { '.' };
        let mut mac = [0u8; 6];
        let mut parts = text.split(sep);
        for b in mac.iter_mut() {
            let part = parts.next()?.trim_start();
            let digits = part.trim_start_matches("0x");
            let len = digits.bytes().take_while(u8::is_ascii_hexdigit).count();
            if len == 0 {
                return None;
            }
            // `%x` reads an unsigned int: only its last eight digits count.
            let value = u32::from_str_radix(&digits[len.saturating_sub(8)..len], 16).ok()?;
            *b = value as u8;
        }
        Some(MacAddr(mac))
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl From<MacAddr> for [u8; 6] {
    fn from(m: MacAddr) -> Self {
        m.0
    }
}

/// Prints `02:00:00:00:00:0a`: two lowercase hex digits per byte, as vde_switch's `%02x` does.
impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Why a string is not a MAC address.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error(
    "invalid MAC address {input:?}: expected six hex groups of 1-2 digits separated by ':' or '.'"
)]
pub struct ParseMacError {
    /// The rejected text (kept so log lines can quote it).
    pub input: String,
}

/// Accepts `a:b:c:d:e:f` or `a.b.c.d.e.f`: six groups of one or two hex digits (either case),
/// all separated by the same character. The separator is `:` if the text contains one, else `.`,
/// matching how vde_switch picks its `sscanf` format.
impl FromStr for MacAddr {
    type Err = ParseMacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError {
            input: s.to_owned(),
        };
        let sep = if s.contains(':') { ':' } else { '.' };
        let mut out = [0u8; 6];
        let mut groups = s.split(sep);
        for byte in out.iter_mut() {
            let g = groups.next().ok_or_else(err)?;
            if g.is_empty() || g.len() > 2 || !g.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            *byte = u8::from_str_radix(g, 16).map_err(|_| err())?;
        }
        if groups.next().is_some() {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_two_digit() {
        let m = MacAddr([0x02, 0, 0, 0, 0, 0x0a]);
        assert_eq!(m.to_string(), "02:00:00:00:00:0a");
        assert_eq!(MacAddr([0xAB; 6]).to_string(), "ab:ab:ab:ab:ab:ab");
    }

    #[test]
    fn parse_both_separators() {
        let want = MacAddr([0x02, 0, 0, 0, 0, 0x0a]);
        assert_eq!("2:0:0:0:0:a".parse::<MacAddr>(), Ok(want));
        assert_eq!("02:00:00:00:00:0A".parse::<MacAddr>(), Ok(want));
        assert_eq!("2.0.0.0.0.a".parse::<MacAddr>(), Ok(want));
        assert_eq!("02.00.00.00.00.0a".parse::<MacAddr>(), Ok(want));
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "",
            "1:2:3:4:5",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:",
            "001:2:3:4:5:6",
            "g:2:3:4:5:6",
            "1:2.3:4:5:6",
            "1-2-3-4-5-6",
            "+1:2:3:4:5:6",
            " 1:2:3:4:5:6",
        ] {
            let e = bad.parse::<MacAddr>().unwrap_err();
            assert_eq!(e.input, bad);
        }
        let msg = "zz".parse::<MacAddr>().unwrap_err().to_string();
        assert!(msg.contains("invalid MAC address \"zz\""), "{msg}");
    }

    #[test]
    fn scan_is_lenient_like_sscanf() {
        let want = Some(MacAddr([0x02, 0, 0, 0, 0, 0x0a]));
        assert_eq!(MacAddr::scan("2:0:0:0:0:a"), want);
        assert_eq!(MacAddr::scan("2.0.0.0.0.a"), want);
        assert_eq!(MacAddr::scan(" 0x2: 0:0:0:0:ax"), want);
        assert_eq!(MacAddr::scan("102:0:0:0:0:a:ff"), want);
        assert_eq!(
            MacAddr::scan("123456789:0:0:0:0:a"),
            Some(MacAddr([0x89, 0, 0, 0, 0, 0x0a]))
        );
        for bad in ["", "zz", "1:2:3:4:5", "1:2:3::5:6", "1-2-3-4-5-6"] {
            assert_eq!(MacAddr::scan(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn display_parse_roundtrip() {
        let m = MacAddr([0x00, 0xff, 0x12, 0x34, 0x56, 0x78]);
        assert_eq!(m.to_string().parse::<MacAddr>(), Ok(m));
    }

    #[test]
    fn group_bits() {
        assert!(MacAddr::BROADCAST.is_broadcast());
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(MacAddr([0x01, 0x80, 0xc2, 0, 0, 0]).is_multicast());
        assert!(!MacAddr([0x01, 0x80, 0xc2, 0, 0, 0]).is_broadcast());
        assert!(!MacAddr([0x02, 0, 0, 0, 0, 1]).is_multicast());
        assert!(MacAddr([0x02, 0, 0, 0, 0, 1]).is_unicast());
    }
}
