//! The text that describes a VXLAN uplink (`--vxlan SPEC`, `vxlan/add SPEC`): comma-separated
//! `key=value` items, in any order.
//!
//! * unicast: `vni=N,local=ADDR[,port=P],remote=ADDR[,remote=ADDR...]`: floods are sent to
//!   every remote (head-end replication);
//! * multicast: `vni=N,group=MCAST_ADDR,dev=IFNAME[,local=ADDR][,port=P]`: floods are sent to
//!   the group, joined on interface `dev`.
//!
//! `port` is the UDP port listened on and sent to (default [`UDP_PORT`], 4789). Addresses are
//! IPv4 or IPv6, all of one family. Parsing is pure: whether the addresses exist on this host
//! is for whoever opens the socket.

use core::fmt;
use std::net::IpAddr;

use crate::vxlan::{Vni, UDP_PORT};

/// Longest interface name Linux accepts (`IFNAMSIZ` - 1).
pub const MAX_IFNAME_LEN: usize = 15;
/// Most remotes of one unicast uplink (every flood is sent once per remote).
pub const MAX_REMOTES: usize = 64;

/// How floods (broadcast, multicast, unknown unicast) reach the other VTEPs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flood {
    /// A copy to every remote VTEP.
    Remotes(Vec<IpAddr>),
    /// One copy to a multicast group, joined on an interface.
    Group {
        /// The group address.
        group: IpAddr,
        /// The interface the group is joined on and sent through.
        dev: String,
    },
}

/// A parsed uplink description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanSpec {
    /// The network identifier sent and accepted.
    pub vni: Vni,
    /// The local address to bind (required in unicast mode).
    pub local: Option<IpAddr>,
    /// UDP port, local and remote.
    pub port: u16,
    /// Where floods go.
    pub flood: Flood,
}

impl VxlanSpec {
    /// Whether the underlay is IPv6.
    pub fn is_ipv6(&self) -> bool {
        match &self.flood {
            Flood::Remotes(r) => r.first().is_some_and(IpAddr::is_ipv6),
            Flood::Group { group, .. } => group.is_ipv6(),
        }
    }
}

/// What is wrong with a SPEC.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// Nothing given.
    #[error(
        "empty VXLAN spec: expected vni=N,local=ADDR,remote=ADDR or vni=N,group=ADDR,dev=IFNAME"
    )]
    Empty,
    /// An item without `=`, or with an empty key or value.
    #[error("'{0}' is not key=value (items are separated by commas, e.g. vni=42,local=10.0.0.1,remote=10.0.0.2)")]
    NotKeyValue(String),
    /// A key this format does not have.
    #[error("unknown key '{0}': the keys are vni, local, port, remote, group and dev")]
    UnknownKey(String),
    /// A key given twice (only `remote` repeats).
    #[error("'{0}' given twice (only remote may repeat)")]
    Repeated(&'static str),
    /// A required key is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// A value that does not parse.
    #[error("bad value '{value}' for {key}: expected {expected}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// The value as given.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// Both ways of flooding, or keys of the other mode.
    #[error("{0}")]
    Conflict(&'static str),
    /// Addresses of both IPv4 and IPv6.
    #[error("{what} {addr} is not {family} like the others: one uplink uses one IP version")]
    MixedFamilies {
        /// Which key.
        what: &'static str,
        /// The address.
        addr: IpAddr,
        /// The family of the first address.
        family: &'static str,
    },
    /// A remote that cannot be one.
    #[error("remote {0} is not a unicast address (use group=ADDR,dev=IFNAME for multicast)")]
    RemoteNotUnicast(IpAddr),
    /// A group that is not multicast.
    #[error("group {0} is not a multicast address (224.0.0.0/4 or ff00::/8)")]
    GroupNotMulticast(IpAddr),
    /// A local address that cannot be bound as one.
    #[error("local {0} must be a unicast address of this host")]
    LocalNotUnicast(IpAddr),
    /// A remote listed twice.
    #[error("remote {0} listed twice")]
    DuplicateRemote(IpAddr),
    /// Too many remotes.
    #[error("more than {MAX_REMOTES} remotes")]
    TooManyRemotes,
}

fn family(a: &IpAddr) -> &'static str {
    if a.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn is_unicast(a: &IpAddr) -> bool {
    !a.is_unspecified()
        && !a.is_multicast()
        && match a {
            IpAddr::V4(v4) => !v4.is_broadcast(),
            IpAddr::V6(_) => true,
        }
}

fn parse_addr(key: &'static str, value: &str) -> Result<IpAddr, SpecError> {
    // Brackets are accepted around IPv6 addresses, as URLs write them.
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    bare.parse().map_err(|_| SpecError::BadValue {
        key,
        value: value.to_owned(),
        expected: "an IPv4 or IPv6 address",
    })
}

/// Interface names as Linux takes them: 1 to 15 bytes, no `/`, `:` or white space.
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_IFNAME_LEN
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

impl core::str::FromStr for VxlanSpec {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<VxlanSpec, SpecError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SpecError::Empty);
        }
        let mut vni = None;
        let mut local = None;
        let mut port = None;
        let mut group = None;
        let mut dev = None;
        let mut remotes: Vec<IpAddr> = Vec::new();
        for item in text.split(',') {
            let item = item.trim();
            let Some((key, value)) = item.split_once('=') else {
                return Err(SpecError::NotKeyValue(item.to_owned()));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || value.is_empty() {
                return Err(SpecError::NotKeyValue(item.to_owned()));
            }
            fn once<T>(slot: &mut Option<T>, key: &'static str, v: T) -> Result<(), SpecError> {
                if slot.replace(v).is_some() {
                    return Err(SpecError::Repeated(key));
                }
                Ok(())
            }
            match key {
                "vni" => {
                    let n: u32 = value.parse().map_err(|_| SpecError::BadValue {
                        key: "vni",
                        value: value.to_owned(),
                        expected: "a number from 0 to 16777215",
                    })?;
                    let v = Vni::new(n).map_err(|_| SpecError::BadValue {
                        key: "vni",
                        value: value.to_owned(),
                        expected: "a number from 0 to 16777215",
                    })?;
                    once(&mut vni, "vni", v)?;
                }
                "local" => once(&mut local, "local", parse_addr("local", value)?)?,
                "port" => {
                    let p = value
                        .parse::<u16>()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| SpecError::BadValue {
                            key: "port",
                            value: value.to_owned(),
                            expected: "a UDP port from 1 to 65535",
                        })?;
                    once(&mut port, "port", p)?;
                }
                "remote" => {
                    let a = parse_addr("remote", value)?;
                    if !is_unicast(&a) {
                        return Err(SpecError::RemoteNotUnicast(a));
                    }
                    if remotes.contains(&a) {
                        return Err(SpecError::DuplicateRemote(a));
                    }
                    if remotes.len() == MAX_REMOTES {
                        return Err(SpecError::TooManyRemotes);
                    }
                    remotes.push(a);
                }
                "group" => {
                    let a = parse_addr("group", value)?;
                    if !a.is_multicast() {
                        return Err(SpecError::GroupNotMulticast(a));
                    }
                    once(&mut group, "group", a)?;
                }
                "dev" => {
                    if !valid_ifname(value) {
                        return Err(SpecError::BadValue {
                            key: "dev",
                            value: value.to_owned(),
                            expected:
                                "an interface name (1 to 15 characters, no '/', ':' or spaces)",
                        });
                    }
                    once(&mut dev, "dev", value.to_owned())?;
                }
                other => return Err(SpecError::UnknownKey(other.to_owned())),
            }
        }
        let vni = vni.ok_or(SpecError::Missing("vni=N (the VXLAN network identifier)"))?;
        if let Some(l) = local {
            if !is_unicast(&l) {
                return Err(SpecError::LocalNotUnicast(l));
            }
        }
        let flood = match (group, remotes.is_empty()) {
            (Some(_), false) => {
                return Err(SpecError::Conflict(
                    "remote and group both given: an uplink floods either to remotes (unicast) or to a group (multicast)",
                ))
            }
            (Some(group), true) => {
                let dev = dev.ok_or(SpecError::Missing(
                    "dev=IFNAME (the interface the multicast group is joined on)",
                ))?;
                Flood::Group { group, dev }
            }
            (None, true) => {
                return Err(SpecError::Missing(
                    "remote=ADDR (unicast) or group=ADDR,dev=IFNAME (multicast)",
                ))
            }
            (None, false) => {
                if dev.is_some() {
                    return Err(SpecError::Conflict(
                        "dev is for multicast mode (group=ADDR,dev=IFNAME); unicast uplinks pick their interface by route",
                    ));
                }
                if local.is_none() {
                    return Err(SpecError::Missing(
                        "local=ADDR (the address to send from and listen on, required with remote)",
                    ));
                }
                Flood::Remotes(remotes)
            }
        };
        // One family for every address.
        let first = match &flood {
            Flood::Remotes(r) => r[0],
            Flood::Group { group, .. } => *group,
        };
        let others = local.iter().map(|a| ("local", *a)).chain(match &flood {
            Flood::Remotes(r) => r.iter().map(|a| ("remote", *a)).collect::<Vec<_>>(),
            Flood::Group { .. } => Vec::new(),
        });
        for (what, addr) in others {
            if addr.is_ipv4() != first.is_ipv4() {
                return Err(SpecError::MixedFamilies {
                    what,
                    addr,
                    family: family(&first),
                });
            }
        }
        Ok(VxlanSpec {
            vni,
            local,
            port: port.unwrap_or(UDP_PORT),
            flood,
        })
    }
}

/// The canonical form: `vni`, `local`, `port`, then the remotes or `group` and `dev`. It parses
/// back to the same spec.
impl fmt::Display for VxlanSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vni={}", self.vni)?;
        if let Some(l) = &self.local {
            write!(f, ",local={l}")?;
        }
        write!(f, ",port={}", self.port)?;
        match &self.flood {
            Flood::Remotes(r) => {
                for a in r {
                    write!(f, ",remote={a}")?;
                }
            }
            Flood::Group { group, dev } => write!(f, ",group={group},dev={dev}")?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<VxlanSpec, SpecError> {
        s.parse()
    }

    fn err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn unicast() {
        let s = parse("vni=42,local=10.0.0.1,remote=10.0.0.2,remote=10.0.0.3").unwrap();
        assert_eq!(s.vni.get(), 42);
        assert_eq!(s.local, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(s.port, 4789);
        assert_eq!(
            s.flood,
            Flood::Remotes(vec![
                "10.0.0.2".parse().unwrap(),
                "10.0.0.3".parse().unwrap()
            ])
        );
        assert!(!s.is_ipv6());
        assert_eq!(
            s.to_string(),
            "vni=42,local=10.0.0.1,port=4789,remote=10.0.0.2,remote=10.0.0.3"
        );
        assert_eq!(parse(&s.to_string()), Ok(s));
    }

    #[test]
    fn ipv6_any_order_and_spaces() {
        let s = parse(" remote=[fd00::2] , port=8472,vni=7, local=fd00::1").unwrap();
        assert!(s.is_ipv6());
        assert_eq!(s.port, 8472);
        assert_eq!(
            s.to_string(),
            "vni=7,local=fd00::1,port=8472,remote=fd00::2"
        );
    }

    #[test]
    fn multicast() {
        let s = parse("vni=5,group=239.1.1.1,dev=eth0").unwrap();
        assert_eq!(s.local, None);
        assert_eq!(
            s.flood,
            Flood::Group {
                group: "239.1.1.1".parse().unwrap(),
                dev: "eth0".into()
            }
        );
        assert_eq!(parse(&s.to_string()), Ok(s));
        let s = parse("vni=5,group=ff05::42,dev=veth-a,local=fd00::1,port=4790").unwrap();
        assert!(s.is_ipv6());
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert_eq!(err(""), SpecError::Empty.to_string());
        assert!(err("vni").contains("'vni' is not key=value"));
        assert!(err("vni=1,,local=1.2.3.4").contains("'' is not key=value"));
        assert!(err("vni=,local=1.2.3.4").contains("not key=value"));
        assert!(err("vni=1,loca=10.0.0.1").contains("unknown key 'loca'"));
        assert!(err("vni=16777216,local=10.0.0.1,remote=10.0.0.2")
            .contains("bad value '16777216' for vni"));
        assert!(err("vni=x,local=10.0.0.1,remote=10.0.0.2").contains("for vni"));
        assert!(err("vni=1,vni=2").contains("'vni' given twice"));
        assert!(err("local=10.0.0.1,remote=10.0.0.2").contains("missing vni"));
        assert!(err("vni=1,local=10.0.0.1").contains("missing remote=ADDR"));
        assert!(err("vni=1,remote=10.0.0.2").contains("missing local=ADDR"));
        assert!(err("vni=1,local=10.0.0.1,remote=10.0.0.300")
            .contains("bad value '10.0.0.300' for remote"));
        assert!(err("vni=1,local=10.0.0.1,remote=10.0.0.2,port=0").contains("for port"));
        assert!(err("vni=1,local=10.0.0.1,remote=10.0.0.2,port=65536").contains("for port"));
        assert!(err("vni=1,local=10.0.0.1,remote=fd00::2").contains("not IPv6 like"));
        assert!(err("vni=1,local=fd00::1,remote=10.0.0.2").contains("local fd00::1 is not IPv4"));
        assert!(err("vni=1,local=10.0.0.1,remote=239.1.1.1").contains("not a unicast"));
        assert!(
            err("vni=1,local=10.0.0.1,remote=10.0.0.2,remote=10.0.0.2").contains("listed twice")
        );
        assert!(err("vni=1,group=10.0.0.2,dev=eth0").contains("not a multicast"));
        assert!(err("vni=1,group=239.1.1.1").contains("missing dev=IFNAME"));
        assert!(err("vni=1,group=239.1.1.1,dev=eth0,remote=10.0.0.2").contains("both given"));
        assert!(
            err("vni=1,local=10.0.0.1,remote=10.0.0.2,dev=eth0").contains("dev is for multicast")
        );
        assert!(err("vni=1,group=239.1.1.1,dev=a/b").contains("bad value 'a/b' for dev"));
        assert!(err("vni=1,group=239.1.1.1,dev=abcdefghijklmnop").contains("for dev"));
        assert!(err("vni=1,local=0.0.0.0,remote=10.0.0.2").contains("local 0.0.0.0 must be"));
        assert!(err("vni=1,group=239.1.1.1,dev=e,local=fd00::1").contains("not IPv4 like"));
    }

    #[test]
    fn remotes_are_bounded() {
        let mut s = String::from("vni=1,local=10.0.0.1");
        for i in 0..=MAX_REMOTES {
            s.push_str(&format!(",remote=10.1.{}.{}", i / 256, i % 256 + 1));
        }
        assert_eq!(parse(&s), Err(SpecError::TooManyRemotes));
    }
}
