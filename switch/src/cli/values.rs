//! Parsers for option arguments: C-style integers, octal modes, MAC
//! addresses, group names and paths (the formats themselves are defined in
//! [`crate::cnum`] and [`vde_protocol::MacAddr`]).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Parses an integer the way C's `%i` reads one, strictly: the whole text must be the number
/// and it must fit a C `int`.
pub(crate) fn parse_c_int(text: &OsStr) -> Option<i32> {
    crate::cnum::parse_int(text.to_str()?)
}

/// Parses a permission mode written in octal (as `%o` would), up to `07777`.
pub(crate) fn parse_octal_mode(text: &OsStr) -> Option<u32> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 12 || !bytes.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let value = bytes
        .iter()
        .fold(0u64, |acc, &b| acc * 8 + u64::from(b - b'0'));
    u32::try_from(value).ok().filter(|&m| m <= 0o7777)
}

/// Parses a MAC address: six groups of one or two hexadecimal digits, separated by `:` (when
/// the text contains a colon) or by `.`.
pub(crate) fn parse_mac(text: &OsStr) -> Option<vde_protocol::MacAddr> {
    text.to_str()?.parse().ok()
}

/// Resolves a group given by name (through the system group database) or,
/// failing that, as a plain decimal gid.
pub(crate) fn resolve_group(name: &OsStr) -> Option<u32> {
    lookup_group_name(name).or_else(|| {
        let text = name.to_str()?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // (gid_t)-1 means "leave unchanged" to chown(), so it is no group.
        text.parse::<u32>().ok().filter(|&gid| gid != u32::MAX)
    })
}

fn lookup_group_name(name: &OsStr) -> Option<u32> {
    crate::sys::users::gid_by_name(name.as_bytes())
}

/// Makes a relative path absolute against `cwd` (lexically; nothing needs to
/// exist). Empty paths and paths when the working directory is unknown are
/// returned unchanged.
pub(crate) fn absolutise(path: &OsStr, cwd: Option<&Path>) -> PathBuf {
    let path = Path::new(path);
    match cwd {
        Some(cwd) if path.is_relative() && !path.as_os_str().is_empty() => cwd.join(path),
        _ => path.to_path_buf(),
    }
}

/// A `--stream` argument: `tcp:ADDR:PORT` (numeric address, IPv6 in brackets) or a socket
/// path, made absolute. `None` for an empty path or a malformed `tcp:` address.
pub(crate) fn parse_stream_addr(
    text: &OsStr,
    cwd: Option<&Path>,
) -> Option<crate::config::StreamAddr> {
    use crate::config::StreamAddr;
    if let Some(rest) = text.as_bytes().strip_prefix(b"tcp:") {
        let addr = std::str::from_utf8(rest).ok()?.parse().ok()?;
        return Some(StreamAddr::Tcp(addr));
    }
    if text.is_empty() {
        return None;
    }
    Some(StreamAddr::Unix(absolutise(text, cwd)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn c_integers() {
        assert_eq!(parse_c_int(os("0x10")), Some(16));
        assert_eq!(parse_c_int(os("12x")), None);
        assert_eq!(parse_c_int(std::ffi::OsStr::from_bytes(b"1\xff")), None);
    }

    #[test]
    fn octal_modes() {
        assert_eq!(parse_octal_mode(os("777")), Some(0o777));
        assert_eq!(parse_octal_mode(os("0660")), Some(0o660));
        assert_eq!(parse_octal_mode(os("2770")), Some(0o2770));
        assert_eq!(parse_octal_mode(os("0")), Some(0));
        assert_eq!(parse_octal_mode(os("07777")), Some(0o7777));
        for bad in ["", "8", "778", "rw", "0x1ff", "-1", "10000", " 777"] {
            assert_eq!(parse_octal_mode(os(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn macs() {
        let want = Some(vde_protocol::MacAddr([0x00, 0xff, 0x12, 0x34, 0x5, 0xab]));
        assert_eq!(parse_mac(os("00:ff:12:34:05:ab")), want);
        assert_eq!(parse_mac(os("0:FF:12:34:5:AB")), want);
        assert_eq!(parse_mac(os("00.ff.12.34.05.ab")), want);
        for bad in [
            "",
            "zz",
            "00:ff:12:34:05",
            "00:ff:12:34:05:ab:01",
            "00:ff:12:34:05:abc",
            "00:ff:12:34::ab",
            "00.ff:12.34.05.ab",
            "00-ff-12-34-05-ab",
        ] {
            assert_eq!(parse_mac(os(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn groups() {
        assert_eq!(resolve_group(os("root")), Some(0));
        assert_eq!(resolve_group(os("0")), Some(0));
        assert_eq!(resolve_group(os("4321")), Some(4321));
        assert_eq!(resolve_group(os("no-such-group-vde-test")), None);
        assert_eq!(resolve_group(os("4294967295")), None);
        assert_eq!(resolve_group(os("")), None);
    }

    #[test]
    fn paths() {
        let cwd = Some(Path::new("/home/u"));
        assert_eq!(absolutise(os("x/y"), cwd), PathBuf::from("/home/u/x/y"));
        assert_eq!(absolutise(os("/abs"), cwd), PathBuf::from("/abs"));
        assert_eq!(absolutise(os(""), cwd), PathBuf::from(""));
        assert_eq!(absolutise(os("rel"), None), PathBuf::from("rel"));
    }
}
