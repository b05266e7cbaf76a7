//! Network words: the friendly `--net` forms, where a word's switch socket is, and the mapping of
//! the legacy `ethN=daemon|vde` transports to `vecN:transport=vde` for kernels that no longer have
//! them (6.16 and later).

use super::args::{Eth, VecDev};
use super::kernel::Transports;
use super::Problem;
use std::path::{Path, PathBuf};

/// The legacy transports a 6.1 kernel knows (`ethN=<transport>,...`).
pub const ETH_TRANSPORTS: &[&str] = &[
    "daemon", "vde", "tuntap", "ethertap", "mcast", "slirp", "pcap", "slip",
];

/// The vector transports (`vecN:transport=<name>`).
pub const VEC_TRANSPORTS: &[&str] = &["tap", "hybrid", "raw", "gre", "l2tpv3", "bess", "fd", "vde"];

/// A friendly `--net` value: `vde:DIR` or `daemon:CTL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetSpec {
    Vde(PathBuf),
    Daemon(PathBuf),
}

impl NetSpec {
    pub fn parse(s: &str) -> Result<NetSpec, Problem> {
        let (kind, path) = s.split_once(':').unwrap_or((s, ""));
        if path.is_empty() {
            return Err(Problem::new(
                format!("--net {s}: no switch socket given"),
                "write --net vde:DIR (a vde_switch directory) or --net daemon:CTL (a uml_switch \
                 control socket)",
            ));
        }
        match kind {
            "vde" => Ok(NetSpec::Vde(PathBuf::from(path))),
            "daemon" => Ok(NetSpec::Daemon(PathBuf::from(path))),
            other => Err(Problem::new(
                format!("--net {s}: unknown kind `{other}`"),
                match super::checks::closest(other, &["vde", "daemon"]) {
                    Some(k) => format!("did you mean `{k}`? write --net {k}:{path}"),
                    None => "write --net vde:DIR or --net daemon:CTL".to_string(),
                },
            )),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            NetSpec::Vde(p) | NetSpec::Daemon(p) => p,
        }
    }

    /// The kernel word for interface `n`.
    pub fn to_word(&self, n: u32) -> String {
        match self {
            NetSpec::Vde(d) => format!("eth{n}=vde,{}", d.display()),
            NetSpec::Daemon(c) => format!("eth{n}=daemon,,unix,{}", c.display()),
        }
    }
}

/// Where a network word connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A vde switch, named by its directory (or its control socket).
    Vde(PathBuf),
    /// A uml_switch-protocol control socket.
    Daemon(PathBuf),
}

/// The switch an `ethN=daemon|vde` word connects to (`None` for other transports).
/// `daemon_default` is the kernel's default daemon socket.
pub fn eth_endpoint(eth: &Eth, daemon_default: &str) -> Option<Endpoint> {
    match eth.transport.as_str() {
        // ethN=daemon,MAC,TYPE,CTL
        "daemon" => {
            let ctl = eth
                .options
                .get(2)
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| daemon_default.to_string());
            Some(Endpoint::Daemon(PathBuf::from(ctl)))
        }
        // ethN=vde,SWITCH,MAC,PORT,GROUP,MODE,DESCR
        "vde" => {
            let sw = eth
                .options
                .first()
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| "/tmp/vde.ctl".to_string());
            Some(Endpoint::Vde(PathBuf::from(sw)))
        }
        _ => None,
    }
}

/// The switch a `vecN:transport=vde,vnl=vde://PATH` word connects to.
pub fn vec_endpoint(v: &VecDev) -> Option<Endpoint> {
    if v.get("transport") != Some("vde") {
        return None;
    }
    let vnl = v.get("vnl")?;
    let path = vnl.strip_prefix("vde://")?;
    let path = path.split('[').next().unwrap_or(path);
    (!path.is_empty()).then(|| Endpoint::Vde(PathBuf::from(path)))
}

/// The `vde://` URL for a switch: `vde:///abs/dir` (a control socket `DIR/ctl` becomes `DIR`).
pub fn vde_url(sw: &Path) -> String {
    let dir = if sw.file_name().is_some_and(|n| n == "ctl") && !sw.is_dir() {
        sw.parent().unwrap_or(sw).to_path_buf()
    } else {
        sw.to_path_buf()
    };
    let abs = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir().map(|c| c.join(&dir)).unwrap_or(dir)
    };
    format!("vde://{}", abs.display())
}

/// What to do with an `ethN=` word on this kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// The kernel has the transport: keep the word.
    Keep,
    /// Rewrite it to this `vecN:` word.
    Vector(String),
    /// The kernel cannot do it.
    Unsupported(Problem),
}

/// Maps `ethN=daemon,MAC,unix,CTL` and `ethN=vde,DIR,MAC,...` to
/// `vecN:transport=vde,vnl=vde://DIR,mac=MAC` when the kernel lacks the legacy transport.
/// `n` is the vector interface number to use.
pub fn map_eth(eth: &Eth, have: Transports, n: u32, daemon_default: &str) -> Mapping {
    let supported = match eth.transport.as_str() {
        "daemon" => have.daemon,
        "vde" => have.vde,
        // Other legacy transports are not mapped; the kernel reports them itself.
        _ => return Mapping::Keep,
    };
    if supported {
        return Mapping::Keep;
    }
    let word = format!("eth{}={}", eth.index, eth.transport);
    if !have.vector {
        return Mapping::Unsupported(Problem::new(
            format!(
                "{word}: this kernel has neither the {} transport nor vector networking",
                eth.transport
            ),
            "use a kernel built with CONFIG_UML_NET_VECTOR (6.16 and later have only vecN:), or \
             one before 6.16 with the legacy transports",
        ));
    }
    let (endpoint, mac) = match eth.transport.as_str() {
        "daemon" => {
            if let Some(t) = eth.options.get(1).filter(|t| !t.is_empty() && *t != "unix") {
                return Mapping::Unsupported(Problem::new(
                    format!("{word}: daemon socket type `{t}` cannot be mapped to a vector device"),
                    "use the `unix` socket type (ethN=daemon,MAC,unix,CTL)",
                ));
            }
            (
                eth_endpoint(eth, daemon_default),
                eth.options.first().cloned(),
            )
        }
        _ => (
            eth_endpoint(eth, daemon_default),
            eth.options.get(1).cloned(),
        ),
    };
    let Some(Endpoint::Vde(p) | Endpoint::Daemon(p)) = endpoint else {
        return Mapping::Keep;
    };
    let mut url = vde_url(&p);
    // ethN=vde,DIR,MAC,PORT: a port number becomes vdeplug4's `[port]` suffix.
    if eth.transport == "vde" {
        if let Some(port) = eth.options.get(2).filter(|p| !p.is_empty()) {
            url.push_str(&format!("[{port}]"));
        }
    }
    let mut v = VecDev {
        index: n,
        options: vec![("transport".into(), "vde".into()), ("vnl".into(), url)],
    };
    if let Some(mac) = mac.filter(|m| !m.is_empty()) {
        v.options.push(("mac".into(), mac));
    }
    Mapping::Vector(v.to_word())
}

/// True if `s` is a MAC address `xx:xx:xx:xx:xx:xx`.
pub fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{parse_word, Word};

    const LEGACY: Transports = Transports {
        daemon: true,
        vde: true,
        vector: true,
    };
    const VECTOR_ONLY: Transports = Transports {
        daemon: false,
        vde: false,
        vector: true,
    };
    const DEFAULT: &str = "/var/run/uml-utilities/uml_switch.ctl";

    fn eth(s: &str) -> Eth {
        match parse_word(s) {
            Word::Eth(e) => e,
            w => panic!("{w:?}"),
        }
    }

    #[test]
    fn kept_on_kernels_with_the_legacy_transports() {
        for w in [
            "eth0=daemon,,unix,/tmp/s/ctl",
            "eth0=vde,/tmp/s1",
            "eth1=tuntap,tap0",
        ] {
            assert_eq!(map_eth(&eth(w), LEGACY, 0, DEFAULT), Mapping::Keep, "{w}");
        }
    }

    #[test]
    fn daemon_maps_to_vector_vde() {
        assert_eq!(
            map_eth(
                &eth("eth0=daemon,52:54:00:12:34:56,unix,/tmp/s1/ctl"),
                VECTOR_ONLY,
                0,
                DEFAULT
            ),
            Mapping::Vector("vec0:transport=vde,vnl=vde:///tmp/s1,mac=52:54:00:12:34:56".into())
        );
        // Netkit's form: empty MAC and type.
        assert_eq!(
            map_eth(&eth("eth1=daemon,,,/tmp/hub.sock"), VECTOR_ONLY, 1, DEFAULT),
            Mapping::Vector("vec1:transport=vde,vnl=vde:///tmp/hub.sock".into())
        );
        // No socket: the kernel's default.
        assert_eq!(
            map_eth(&eth("eth0=daemon"), VECTOR_ONLY, 0, DEFAULT),
            Mapping::Vector(
                "vec0:transport=vde,vnl=vde:///var/run/uml-utilities/uml_switch.ctl".into()
            )
        );
        assert!(matches!(
            map_eth(&eth("eth0=daemon,,udp,/x"), VECTOR_ONLY, 0, DEFAULT),
            Mapping::Unsupported(_)
        ));
    }

    #[test]
    fn vde_maps_to_vector_vde() {
        assert_eq!(
            map_eth(&eth("eth0=vde,/tmp/s1"), VECTOR_ONLY, 0, DEFAULT),
            Mapping::Vector("vec0:transport=vde,vnl=vde:///tmp/s1".into())
        );
        assert_eq!(
            map_eth(
                &eth("eth2=vde,/tmp/s1,02:00:00:00:00:02,3"),
                VECTOR_ONLY,
                2,
                DEFAULT
            ),
            Mapping::Vector("vec2:transport=vde,vnl=vde:///tmp/s1[3],mac=02:00:00:00:00:02".into())
        );
        let rel = map_eth(&eth("eth0=vde,sw"), VECTOR_ONLY, 0, DEFAULT);
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            rel,
            Mapping::Vector(format!("vec0:transport=vde,vnl=vde://{}/sw", cwd.display()))
        );
    }

    #[test]
    fn unmappable_without_vector() {
        let none = Transports {
            daemon: false,
            vde: false,
            vector: false,
        };
        assert!(matches!(
            map_eth(&eth("eth0=vde,/tmp/s1"), none, 0, DEFAULT),
            Mapping::Unsupported(_)
        ));
    }

    #[test]
    fn friendly_net_forms() {
        assert_eq!(
            NetSpec::parse("vde:/tmp/s1").unwrap().to_word(0),
            "eth0=vde,/tmp/s1"
        );
        assert_eq!(
            NetSpec::parse("daemon:/tmp/s1/ctl").unwrap().to_word(1),
            "eth1=daemon,,unix,/tmp/s1/ctl"
        );
        assert!(NetSpec::parse("demon:/tmp/x")
            .unwrap_err()
            .fix
            .contains("daemon"));
        assert!(NetSpec::parse("vde").is_err());
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            eth_endpoint(&eth("eth0=vde,/tmp/s1"), DEFAULT),
            Some(Endpoint::Vde("/tmp/s1".into()))
        );
        assert_eq!(
            eth_endpoint(&eth("eth0=daemon,,unix,/x/ctl"), DEFAULT),
            Some(Endpoint::Daemon("/x/ctl".into()))
        );
        let Word::Vec(v) = parse_word("vec0:transport=vde,vnl=vde:///tmp/s[2]") else {
            panic!()
        };
        assert_eq!(vec_endpoint(&v), Some(Endpoint::Vde("/tmp/s".into())));
        assert!(is_mac("52:54:00:12:34:56"));
        assert!(!is_mac("52:54:00:12:34"));
    }
}
