//! The values of `lab.conf` settings. Each parser returns the value or what is wrong with it
//! (the caller adds the line and the key).

use super::{Direction, Disk, Transport};
use std::path::PathBuf;
use vde_protocol::mac::MacAddr;
use vdeswitch::impair::Settings;

/// Longest host or domain name (they become file names, umids and switch directories).
pub const MAX_NAME: usize = 30;
/// Least memory a guest boots with (32M runs out of memory).
pub const MIN_MEM_MIB: u64 = 64;
pub const MAX_MEM_MIB: u64 = 65536;
/// Largest interface number.
pub const MAX_IFACE: u32 = 63;
/// Switch port counts (`vde_switch -n`, which counts port 0).
pub const MIN_PORTS: u32 = 2;
pub const MAX_PORTS: u32 = 1024;
/// The switch's own default.
pub const DEFAULT_PORTS: u32 = 32;

/// A host name: letters, digits, `_` and `-`, starting with a letter or digit.
pub fn check_host_name(name: &str) -> Result<(), String> {
    check_name(name, "host", |c| {
        c.is_ascii_alphanumeric() || c == '_' || c == '-'
    })
}

/// A collision domain name: as a host name, and `.` too.
pub fn check_domain_name(name: &str) -> Result<(), String> {
    check_name(name, "collision domain", |c| {
        c.is_ascii_alphanumeric() || "_-.".contains(c)
    })
}

fn check_name(name: &str, what: &str, ok: impl Fn(char) -> bool) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("the {what} name is empty"));
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "the {what} name `{name}` is longer than {MAX_NAME} characters"
        ));
    }
    if let Some(c) = name.chars().find(|&c| !ok(c)) {
        return Err(format!("the {what} name `{name}` contains `{c}`"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "the {what} name `{name}` does not start with a letter or a digit"
        ));
    }
    Ok(())
}

/// `DOMAIN` or Kathará's `DOMAIN/MAC`.
pub fn iface_value(v: &str) -> Result<(String, Option<MacAddr>), String> {
    let (domain, mac) = match v.split_once('/') {
        Some((d, m)) => (d, Some(mac(m)?)),
        None => (v, None),
    };
    check_domain_name(domain)?;
    Ok((domain.to_string(), mac))
}

/// A unicast MAC address.
pub fn mac(v: &str) -> Result<MacAddr, String> {
    let m: MacAddr = v
        .parse()
        .map_err(|e: vde_protocol::mac::ParseMacError| e.to_string())?;
    if m.is_multicast() {
        return Err(format!(
            "{m} is a group (multicast) address; the first byte must be even, e.g. 02:..."
        ));
    }
    Ok(m)
}

/// Memory in MiB: Netkit's plain number of megabytes, or a size with a unit (`128M`, `1G`).
pub fn mem(v: &str) -> Result<u64, String> {
    let mib = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        v.parse::<u64>().ok()
    } else {
        uml_launcher::args::parse_size(v).map(|b| b >> 20)
    };
    match mib {
        Some(m) if (MIN_MEM_MIB..=MAX_MEM_MIB).contains(&m) => Ok(m),
        Some(m) => Err(format!(
            "{m} MB is out of range: a guest needs {MIN_MEM_MIB} to {MAX_MEM_MIB} MB"
        )),
        None => Err(format!(
            "`{v}` is not an amount of memory; write megabytes (128) or a size with a unit (128M)"
        )),
    }
}

pub fn yes_no(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("`{v}` is not yes or no")),
    }
}

pub fn vlan(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(n) if (1..=4094).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` is not a VLAN number from 1 to 4094")),
    }
}

pub fn ports(v: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if (MIN_PORTS..=MAX_PORTS).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{v}` is not a port count from {MIN_PORTS} to {MAX_PORTS} (the switch's -n, port 0 \
             included)"
        )),
    }
}

pub fn transport(v: &str) -> Result<Transport, String> {
    match v {
        "vde" => Ok(Transport::Vde),
        "daemon" => Ok(Transport::Daemon),
        _ => Err(format!("`{v}` is not a transport; write vde or daemon")),
    }
}

/// A file named in `lab.conf`: a path relative to the lab directory (or absolute).
pub fn file(v: &str) -> Result<PathBuf, String> {
    if v.is_empty() {
        return Err("the file name is empty".into());
    }
    if v.contains([',', ':']) {
        return Err(format!(
            "`{v}` contains `,` or `:`, which the UML command line cannot carry"
        ));
    }
    Ok(PathBuf::from(v))
}

/// `NAME,SIZE` (a new empty disk) or `FILE` (an existing image, used through a COW file).
pub fn disk(v: &str) -> Result<Disk, String> {
    match v.split_once(',') {
        Some((name, size)) => {
            let plain = !name.is_empty()
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
            if !plain {
                return Err(format!(
                    "`{name}` is not a plain file name (letters, digits, `_`, `-`, `.`); the new \
                     disk is made in the lab's .vdelab/disks"
                ));
            }
            match uml_launcher::args::parse_size(size) {
                Some(b) if b >= 1 << 20 && !size.trim().bytes().all(|c| c.is_ascii_digit()) => {
                    Ok(Disk::New {
                        name: name.to_string(),
                        size: size.trim().to_string(),
                    })
                }
                _ => Err(format!(
                    "`{size}` is not a size of 1M or more with a unit (e.g. 64M)"
                )),
            }
        }
        None => Ok(Disk::Over { image: file(v)? }),
    }
}

/// `[in|out|both] WORDS`: the direction (default both) and netem's words, checked as the switch
/// checks them.
pub fn impair(v: &str) -> Result<(Direction, String), String> {
    let mut words: Vec<&str> = v.split_whitespace().collect();
    let dir = match words.first().copied() {
        Some("in") => Direction::In,
        Some("out") => Direction::Out,
        Some("both") => Direction::Both,
        _ => Direction::Both,
    };
    if matches!(words.first().copied(), Some("in" | "out" | "both")) {
        words.remove(0);
    }
    Settings::parse(words.iter().copied()).map_err(|e| e.to_string())?;
    Ok((dir, words.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_host_name("pc1").is_ok());
        assert!(check_host_name("r_1-a").is_ok());
        assert!(check_host_name("-x").is_err());
        assert!(check_host_name("a.b").is_err());
        assert!(check_host_name(&"a".repeat(31)).is_err());
        assert!(check_domain_name("lan.1").is_ok());
        assert!(check_domain_name(".lan").is_err());
        assert!(check_domain_name("a/b").is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(mem("128"), Ok(128));
        assert_eq!(mem("1G"), Ok(1024));
        assert_eq!(mem("96M"), Ok(96));
        assert!(mem("32").is_err());
        assert!(mem("lots").is_err());
        assert_eq!(yes_no("Yes"), Ok(true));
        assert!(yes_no("maybe").is_err());
        assert_eq!(vlan("10"), Ok(10));
        assert!(vlan("0").is_err());
        assert!(vlan("4095").is_err());
        assert_eq!(ports("64"), Ok(64));
        assert!(ports("1").is_err());
        assert!(transport("demon").is_err());
        assert!(file("a,b").is_err());
    }

    #[test]
    fn ifaces_and_macs() {
        assert_eq!(iface_value("A"), Ok(("A".into(), None)));
        let (d, m) = iface_value("lan/02:00:00:00:00:01").unwrap();
        assert_eq!(
            (d.as_str(), m.unwrap().to_string()),
            ("lan", "02:00:00:00:00:01".into())
        );
        assert!(iface_value("A/01:00:00:00:00:01").is_err());
        assert!(iface_value("A/xyz").is_err());
        assert!(iface_value("A B").is_err());
    }

    #[test]
    fn disks() {
        assert_eq!(
            disk("data.ext4,64M"),
            Ok(Disk::New {
                name: "data.ext4".into(),
                size: "64M".into()
            })
        );
        assert!(disk("data.ext4,64").is_err());
        assert!(disk("../x,64M").is_err());
        assert!(disk("d,100K").is_err());
        assert_eq!(
            disk("images/shared.ext4"),
            Ok(Disk::Over {
                image: "images/shared.ext4".into()
            })
        );
    }

    #[test]
    fn impairments() {
        assert_eq!(
            impair("in delay 50ms loss 5%"),
            Ok((Direction::In, "delay 50ms loss 5%".to_string()))
        );
        assert_eq!(impair("loss 1%").unwrap().0, Direction::Both);
        assert!(impair("los 5%").unwrap_err().contains("unknown"));
        assert!(impair("both").is_err());
    }
}
