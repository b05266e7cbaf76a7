//! `lab.conf`: what a lab is made of, in the syntax of Netkit and Kathará plus our extensions.
//!
//! One setting per line, `KEY=VALUE`. Blank lines and `#` comments are ignored (a `#` after a
//! space ends the line too); values may be quoted.
//!
//! | key | meaning | from |
//! | --- | --- | --- |
//! | `LAB_DESCRIPTION`, `LAB_VERSION`, `LAB_AUTHOR`, `LAB_EMAIL`, `LAB_WEB`, `LAB_NAME` | shown by `vdelab status` | Netkit, Kathará |
//! | `HOST[N]=DOMAIN` | `ethN` of HOST on collision domain DOMAIN | Netkit, Kathará |
//! | `HOST[N]=DOMAIN/MAC` | the same, with this MAC address | Kathará |
//! | `HOST[mem]=SIZE` | memory: megabytes (`128`) or a size (`128M`) | Netkit, Kathará |
//! | `HOST[image]=FILE` | root file system image (default: the one `vdelab rootfs` makes) | Kathará (a container image there) |
//! | `HOST[kernel]=FILE` | the UML kernel | Netkit |
//! | `HOST[env]=KEY=VALUE` | a variable of the guest's boot environment (repeatable) | Kathará |
//! | `HOST[disk]=NAME,SIZE` | one more disk: an empty ext4 image made at the first `up` | ours |
//! | `HOST[disk]=FILE` | one more disk over an existing image, through a COW file | ours |
//! | `HOST[N][transport]=vde` or `daemon` | how `ethN` reaches the switch (default `vde`) | ours |
//! | `HOST[N][mac]=MAC` | `ethN`'s MAC address | ours |
//! | `HOST[N][vlan]=VID` | `ethN`'s port is an untagged member of VLAN VID | ours |
//! | `HOST[N][impair]=[in\|out\|both] WORDS` | netem words on `ethN`'s port (`port/impair`; vde transport only) | ours |
//! | `domain[D][hub]=yes` | collision domain D is a hub, not a switch | ours |
//! | `domain[D][ports]=N` | the switch's port count (`-n`, default 32) | ours |
//! | `domain[D][rc]=FILE` | commands the switch runs at start (`-f`) | ours |
//!
//! Every mistake is reported with its line and, for a misspelled key, the key meant; keys of
//! Netkit or Kathará that have no meaning for UML guests are refused with the reason. Files are
//! checked separately ([`check_files`]), since parsing does no I/O.

mod keys;
mod line;
mod values;

#[cfg(test)]
mod tests;

pub use keys::DOMAIN;
pub use values::DEFAULT_PORTS;

use line::{Key, Setting};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vde_protocol::mac::MacAddr;

/// A parsed `lab.conf`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lab {
    /// `LAB_*` settings, in file order.
    pub meta: Vec<(String, String)>,
    /// Hosts, in the order they first appear.
    pub hosts: Vec<Host>,
    /// Collision domains, in the order an interface first names them.
    pub domains: Vec<Domain>,
    /// Things that are allowed but look like mistakes.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    pub name: String,
    /// Where it first appears.
    pub line: usize,
    /// Interfaces by number.
    pub ifaces: Vec<Iface>,
    /// Memory in MiB (`None`: umlrun's default).
    pub mem: Option<u64>,
    pub image: Option<PathBuf>,
    pub kernel: Option<PathBuf>,
    /// `KEY=VALUE` words for the guest's boot environment.
    pub env: Vec<String>,
    pub disks: Vec<Disk>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Iface {
    /// `ethN`.
    pub index: u32,
    pub domain: String,
    pub line: usize,
    pub mac: Option<MacAddr>,
    pub transport: Transport,
    pub vlan: Option<u16>,
    pub impair: Vec<Impair>,
}

/// How a UML interface reaches the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// `ethN=vde,DIR,...`: the vde protocol; the interface asks for its port number.
    Vde,
    /// `ethN=daemon,...,unix,DIR/ctl`: uml_switch's protocol; the switch picks the port.
    Daemon,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Vde => "vde",
            Transport::Daemon => "daemon",
        }
    }
}

/// An extra disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disk {
    /// An empty ext4 image `NAME` of `SIZE`, made in the lab's disk directory.
    New { name: String, size: String },
    /// An existing image, used through a COW file of the host.
    Over { image: PathBuf },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
    Both,
}

/// Impairments on an interface's port (`port/impair N DIR WORDS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impair {
    pub line: usize,
    pub dir: Direction,
    pub words: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub hub: bool,
    /// `vde_switch -n` (`None`: the switch's default).
    pub ports: Option<u32>,
    /// `vde_switch -f`.
    pub rc: Option<PathBuf>,
}

/// A mistake in `lab.conf` (or in the lab directory), with its line when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    pub line: Option<usize>,
    pub what: String,
    pub fix: String,
}

impl ConfError {
    fn at(line: usize, what: impl Into<String>, fix: impl Into<String>) -> ConfError {
        ConfError {
            line: Some(line),
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl std::fmt::Display for ConfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "lab.conf:{l}: {}", self.what)?,
            None => write!(f, "{}", self.what)?,
        }
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl Lab {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.iter().find(|d| d.name == name)
    }

    /// The interfaces on `domain`, with their hosts, in lab order.
    pub fn members<'a>(&'a self, domain: &'a str) -> impl Iterator<Item = (&'a Host, &'a Iface)> {
        self.hosts.iter().flat_map(move |h| {
            h.ifaces
                .iter()
                .filter(move |i| i.domain == domain)
                .map(move |i| (h, i))
        })
    }

    /// A `LAB_*` value.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `lab.conf`; every mistake found, or the lab.
pub fn parse(text: &str) -> Result<Lab, Vec<ConfError>> {
    let mut errors = Vec::new();
    let mut settings = Vec::new();
    for (i, l) in text.lines().enumerate() {
        match line::split(l, i + 1) {
            Ok(Some(s)) => settings.push(s),
            Ok(None) => {}
            Err(e) => errors.push(ConfError::at(i + 1, e.what, e.fix)),
        }
    }
    let mut b = Builder::default();
    // Interfaces and host keys first: options refer to them, wherever they are in the file.
    for s in &settings {
        match &s.key {
            Key::Plain(name) => b.global(s, name, &mut errors),
            Key::One(host, arg) => b.host_key(s, host, arg, &mut errors),
            Key::Two(..) => {}
        }
    }
    for s in &settings {
        if let Key::Two(name, arg, opt) = &s.key {
            if name == DOMAIN {
                b.domain_option(s, arg, opt, &mut errors);
            } else {
                b.iface_option(s, name, arg, opt, &mut errors);
            }
        }
    }
    let lab = b.finish(&mut errors);
    if errors.is_empty() {
        Ok(lab)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// What is set where: the first line of each single-valued key.
#[derive(Default)]
struct Builder {
    lab: Lab,
    seen: BTreeMap<String, usize>,
}

impl Builder {
    /// False (and an error) if `key` was already set.
    fn once(&mut self, s: &Setting, errors: &mut Vec<ConfError>) -> bool {
        let k = s.key.to_string();
        if let Some(first) = self.seen.get(&k) {
            errors.push(ConfError::at(
                s.line,
                format!("{k} is set again (first on line {first})"),
                "keep one of the two lines",
            ));
            return false;
        }
        self.seen.insert(k, s.line);
        true
    }

    fn global(&mut self, s: &Setting, name: &str, errors: &mut Vec<ConfError>) {
        if !keys::GLOBALS.contains(&name) {
            let hint = keys::did_you_mean(name, keys::GLOBALS, str::to_string);
            errors.push(ConfError::at(
                s.line,
                format!("unknown setting `{name}`{hint}"),
                format!(
                    "lab-wide settings are {}; host settings look like h1[0]=A or h1[mem]=128",
                    keys::GLOBALS.join(", ")
                ),
            ));
            return;
        }
        if self.once(s, errors) {
            self.lab.meta.push((name.to_string(), s.value.clone()));
        }
    }

    fn host_mut(&mut self, name: &str, line: usize) -> &mut Host {
        let i = match self.lab.hosts.iter().position(|h| h.name == name) {
            Some(i) => i,
            None => {
                self.lab.hosts.push(Host {
                    name: name.to_string(),
                    line,
                    ifaces: Vec::new(),
                    mem: None,
                    image: None,
                    kernel: None,
                    env: Vec::new(),
                    disks: Vec::new(),
                });
                self.lab.hosts.len() - 1
            }
        };
        &mut self.lab.hosts[i]
    }

    fn host_key(&mut self, s: &Setting, host: &str, arg: &str, errors: &mut Vec<ConfError>) {
        let line = s.line;
        let err = |what: String, fix: &str| ConfError::at(line, what, fix);
        if host == DOMAIN {
            errors.push(err(
                format!("`{}`: domain settings have two parts", s.key),
                "write domain[A][hub]=yes, domain[A][ports]=64 or domain[A][rc]=FILE",
            ));
            return;
        }
        if let Err(e) = values::check_host_name(host) {
            errors.push(err(e, "host names use letters, digits, `_` and `-`"));
            return;
        }
        let known = arg.bytes().all(|b| b.is_ascii_digit()) || keys::HOST_KEYS.contains(&arg);
        if !known {
            let what = format!("`{}`", s.key);
            if let Some(why) = keys::unsupported_host_key(arg) {
                errors.push(err(format!("{what} is not supported by vdelab"), why));
            } else if let Some(n) = arg.strip_prefix("eth").filter(|n| n.parse::<u32>().is_ok()) {
                errors.push(err(
                    format!("{what}: interfaces are numbered"),
                    &format!("write {host}[{n}]={} for eth{n}", s.value),
                ));
            } else {
                let hint = keys::did_you_mean(arg, keys::HOST_KEYS, |c| format!("{host}[{c}]"));
                errors.push(err(
                    format!("unknown key {what}{hint}"),
                    &format!(
                        "host keys are {host}[N] (interface ethN) and {}",
                        keys::HOST_KEYS
                            .iter()
                            .map(|k| format!("{host}[{k}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            return;
        }
        let repeatable = matches!(arg, "env" | "disk");
        if !repeatable && !self.once(s, errors) {
            return;
        }
        let v = s.value.as_str();
        let h = self.host_mut(host, line);
        let bad = |e: String, fix: &str| ConfError::at(line, format!("{}={v}: {e}", s.key), fix);
        match arg {
            "mem" => match values::mem(v) {
                Ok(m) => h.mem = Some(m),
                Err(e) => errors.push(bad(e, "e.g. h1[mem]=128")),
            },
            "image" => match values::file(v) {
                Ok(p) => h.image = Some(p),
                Err(e) => errors.push(bad(e, "name an ext4 image, relative to the lab")),
            },
            "kernel" => match values::file(v) {
                Ok(p) => h.kernel = Some(p),
                Err(e) => errors.push(bad(e, "name a UML kernel (linux.uml)")),
            },
            "env" => match v.split_once('=') {
                Some((k, _))
                    if !k.is_empty()
                        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && !k.starts_with(|c: char| c.is_ascii_digit())
                        && !v.contains(char::is_whitespace) =>
                {
                    h.env.push(v.to_string())
                }
                _ => errors.push(bad(
                    "expected KEY=VALUE without spaces".into(),
                    "e.g. h1[env]=ROLE=router",
                )),
            },
            "disk" => match values::disk(v) {
                Ok(d) => h.disks.push(d),
                Err(e) => errors.push(bad(
                    e,
                    "write NAME,SIZE for a new empty disk (data.ext4,64M) or FILE for an \
                     existing image",
                )),
            },
            n => {
                let index: u32 = n.parse().unwrap_or(u32::MAX);
                if index > values::MAX_IFACE {
                    errors.push(bad(
                        format!("eth{n} is beyond eth{}", values::MAX_IFACE),
                        "number interfaces from 0",
                    ));
                    return;
                }
                match values::iface_value(v) {
                    Ok((domain, mac)) => {
                        h.ifaces.push(Iface {
                            index,
                            domain: domain.clone(),
                            line,
                            mac,
                            transport: Transport::Vde,
                            vlan: None,
                            impair: Vec::new(),
                        });
                        h.ifaces.sort_by_key(|i| i.index);
                        if self.lab.domain(&domain).is_none() {
                            self.lab.domains.push(Domain {
                                name: domain,
                                hub: false,
                                ports: None,
                                rc: None,
                            });
                        }
                    }
                    Err(e) => errors.push(bad(
                        e,
                        "write HOST[N]=DOMAIN or HOST[N]=DOMAIN/MAC, e.g. h1[0]=A",
                    )),
                }
            }
        }
    }

    fn iface_option(
        &mut self,
        s: &Setting,
        host: &str,
        arg: &str,
        opt: &str,
        errors: &mut Vec<ConfError>,
    ) {
        let line = s.line;
        if !keys::IFACE_KEYS.contains(&opt) {
            let hint = keys::did_you_mean(opt, keys::IFACE_KEYS, |c| format!("{host}[{arg}][{c}]"));
            errors.push(ConfError::at(
                line,
                format!("unknown key `{}`{hint}", s.key),
                format!(
                    "interface keys are {}",
                    keys::IFACE_KEYS
                        .iter()
                        .map(|k| format!("{host}[{arg}][{k}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            return;
        }
        if opt != "impair" && !self.once(s, errors) {
            return;
        }
        let names: Vec<String> = self.lab.hosts.iter().map(|h| h.name.clone()).collect();
        let Some(h) = self.lab.hosts.iter_mut().find(|h| h.name == host) else {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = keys::did_you_mean(host, &refs, str::to_string);
            errors.push(ConfError::at(
                line,
                format!("`{}`: there is no host {host}{hint}", s.key),
                format!("define its interface first: {host}[{arg}]=DOMAIN"),
            ));
            return;
        };
        let Some(iface) = h.ifaces.iter_mut().find(|i| i.index.to_string() == arg) else {
            errors.push(ConfError::at(
                line,
                format!("`{}`: {host} has no interface {arg}", s.key),
                format!("define it first: {host}[{arg}]=DOMAIN"),
            ));
            return;
        };
        let v = s.value.as_str();
        let bad = |e: String| ConfError::at(line, format!("{}={v}: {e}", s.key), "");
        match opt {
            "mac" => match values::mac(v) {
                Ok(m) if iface.mac.is_some_and(|old| old != m) => errors.push(ConfError::at(
                    line,
                    format!(
                        "{}: eth{arg} already has the MAC {} (after its domain)",
                        s.key,
                        iface.mac.unwrap()
                    ),
                    "keep one of them",
                )),
                Ok(m) => iface.mac = Some(m),
                Err(e) => errors.push(bad(e)),
            },
            "vlan" => match values::vlan(v) {
                Ok(n) => iface.vlan = Some(n),
                Err(e) => errors.push(bad(e)),
            },
            "transport" => match values::transport(v) {
                Ok(t) => iface.transport = t,
                Err(e) => errors.push(bad(e)),
            },
            _ => match values::impair(v) {
                Ok((dir, words)) => iface.impair.push(Impair { line, dir, words }),
                Err(e) => errors.push(ConfError::at(
                    line,
                    format!("{}={v}: {e}", s.key),
                    "write [in|out|both] and netem's words, e.g. delay 50ms loss 5%",
                )),
            },
        }
    }

    fn domain_option(&mut self, s: &Setting, name: &str, opt: &str, errors: &mut Vec<ConfError>) {
        let line = s.line;
        if !keys::DOMAIN_KEYS.contains(&opt) {
            let hint =
                keys::did_you_mean(opt, keys::DOMAIN_KEYS, |c| format!("domain[{name}][{c}]"));
            errors.push(ConfError::at(
                line,
                format!("unknown key `{}`{hint}", s.key),
                "domain keys are domain[D][hub], domain[D][ports] and domain[D][rc]",
            ));
            return;
        }
        if !self.once(s, errors) {
            return;
        }
        let names: Vec<String> = self.lab.domains.iter().map(|d| d.name.clone()).collect();
        let Some(d) = self.lab.domains.iter_mut().find(|d| d.name == name) else {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = keys::did_you_mean(name, &refs, str::to_string);
            errors.push(ConfError::at(
                line,
                format!(
                    "`{}`: no interface is on collision domain {name}{hint}",
                    s.key
                ),
                "put an interface on it (HOST[N]=DOMAIN) or remove the line",
            ));
            return;
        };
        let v = s.value.as_str();
        let r = match opt {
            "hub" => values::yes_no(v).map(|b| d.hub = b),
            "ports" => values::ports(v).map(|n| d.ports = Some(n)),
            _ => values::file(v).map(|p| d.rc = Some(p)),
        };
        if let Err(e) = r {
            errors.push(ConfError::at(line, format!("{}={v}: {e}", s.key), ""));
        }
    }

    /// Checks across settings.
    fn finish(mut self, errors: &mut Vec<ConfError>) -> Lab {
        let lab = &mut self.lab;
        if lab.hosts.is_empty() && errors.is_empty() {
            errors.push(ConfError {
                line: None,
                what: "lab.conf defines no host".into(),
                fix: "add a line such as h1[0]=A (eth0 of host h1 on collision domain A)".into(),
            });
        }
        let mut macs: BTreeMap<MacAddr, (String, usize)> = BTreeMap::new();
        for h in &lab.hosts {
            let mut disk_names = Vec::new();
            for d in &h.disks {
                let name = match d {
                    Disk::New { name, .. } => name.clone(),
                    Disk::Over { image } => image
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                };
                if disk_names.contains(&name) {
                    errors.push(ConfError::at(
                        h.line,
                        format!("{} has two disks named {name}", h.name),
                        "give each disk of a host its own name",
                    ));
                }
                disk_names.push(name);
            }
            for i in &h.ifaces {
                let d = lab.domains.iter().find(|d| d.name == i.domain);
                if let Some(vid) = i.vlan {
                    if i.transport == Transport::Daemon {
                        errors.push(ConfError::at(
                            i.line,
                            format!("{}[{}] is in VLAN {vid} but uses the daemon transport", h.name, i.index),
                            "the daemon transport cannot choose its switch port, so its VLAN cannot be set before it connects: use the vde transport for VLAN members",
                        ));
                    }
                    if d.is_some_and(|d| d.hub) {
                        errors.push(ConfError::at(
                            i.line,
                            format!(
                                "{}[{}] is in VLAN {vid} but {} is a hub",
                                h.name, i.index, i.domain
                            ),
                            "a hub has no VLANs: remove domain[..][hub] or the vlan",
                        ));
                    }
                }
                if let Some(m) = i.mac {
                    if let Some((other, l)) = macs.get(&m) {
                        errors.push(ConfError::at(
                            i.line,
                            format!(
                                "the MAC {m} of {}[{}] is also {other}'s (line {l})",
                                h.name, i.index
                            ),
                            "give every interface its own MAC",
                        ));
                    } else {
                        macs.insert(m, (format!("{}[{}]", h.name, i.index), i.line));
                    }
                }
            }
        }
        for d in &lab.domains {
            let n = lab.members(&d.name).count() as u32;
            let ports = d.ports.unwrap_or(values::DEFAULT_PORTS);
            if n >= ports {
                errors.push(ConfError {
                    line: None,
                    what: format!(
                        "collision domain {} has {n} interfaces but its switch only {} ports (port 0 is not given out)",
                        d.name,
                        ports - 1
                    ),
                    fix: format!("add domain[{}][ports]={}", d.name, n + 1),
                });
            }
        }
        let mut lower: BTreeMap<String, &str> = BTreeMap::new();
        for d in &lab.domains {
            if let Some(other) = lower.insert(d.name.to_ascii_lowercase(), &d.name) {
                lab.warnings.push(format!(
                    "collision domains {other} and {} differ only in case: they are two \
                     separate networks",
                    d.name
                ));
            }
        }
        if lab.hosts.iter().any(|h| h.name == "shared") {
            errors.push(ConfError {
                line: lab
                    .hosts
                    .iter()
                    .find(|h| h.name == "shared")
                    .map(|h| h.line),
                what: "a host cannot be called shared: shared.startup runs on every host".into(),
                fix: "rename the host".into(),
            });
        }
        for h in &lab.hosts {
            for i in &h.ifaces {
                // The port of a daemon-transport interface is only known once it connects.
                for imp in i.impair.iter().filter(|_| i.transport == Transport::Daemon) {
                    errors.push(ConfError::at(
                        imp.line,
                        format!(
                            "{}[{}][impair]: impairments need the vde transport (the switch \
                             gives a daemon-transport interface its port only when it connects)",
                            h.name, i.index
                        ),
                        format!(
                            "remove {}[{}][transport]=daemon, or the impair line",
                            h.name, i.index
                        ),
                    ));
                }
            }
        }
        self.lab
    }
}

/// Checks the files `lab` names in `dir`, and the lab directory's own files: images, kernels
/// and rc files exist, and every `X.startup` belongs to a host.
pub fn check_files(lab: &Lab, dir: &Path) -> Vec<ConfError> {
    let mut errors = Vec::new();
    let mut need = |path: &Path, line: Option<usize>, what: &str| {
        let p = dir.join(path);
        if !p.is_file() {
            errors.push(ConfError {
                line,
                what: format!("{what} {} does not exist", p.display()),
                fix: "name an existing file, relative to the lab directory".into(),
            });
        }
    };
    for h in &lab.hosts {
        if let Some(i) = &h.image {
            need(i, Some(h.line), &format!("the image of {}", h.name));
        }
        if let Some(k) = &h.kernel {
            need(k, Some(h.line), &format!("the kernel of {}", h.name));
        }
        for d in &h.disks {
            if let Disk::Over { image } = d {
                need(image, Some(h.line), &format!("the disk of {}", h.name));
            }
        }
    }
    for d in &lab.domains {
        if let Some(rc) = &d.rc {
            need(rc, None, &format!("the rc file of {}", d.name));
        }
    }
    let names: Vec<&str> = lab.hosts.iter().map(|h| h.name.as_str()).collect();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut stray: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter_map(|n| n.strip_suffix(".startup").map(str::to_string))
            .filter(|h| h != "shared" && !names.contains(&h.as_str()))
            .collect();
        stray.sort();
        for h in stray {
            let hint = keys::did_you_mean(&h, &names, |c| format!("{c}.startup"));
            errors.push(ConfError {
                line: None,
                what: format!("{h}.startup: lab.conf has no host {h}{hint}"),
                fix: "rename the file, or give the host an interface in lab.conf".into(),
            });
        }
    }
    errors
}
