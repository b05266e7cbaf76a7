//! From a parsed lab to what will run: each collision domain's switch (options and the console
//! commands that set its ports up) and each host's `umlrun` command line. Nothing starts here.
//!
//! Ports: an interface on the vde transport asks for its port, numbered from 1 in lab order;
//! those ports are made beforehand with `port/create` (not allocatable), so that the daemon
//! transport, which always gets the lowest free port from the switch, never takes one of them.
//! VLAN members are set up on those ports before any guest connects.

use crate::conf::{ConfError, Direction, Disk, Domain, Lab, Transport, DEFAULT_PORTS};
use crate::error::{LabError, Result};
use crate::layout::Layout;
use crate::state::IfaceState;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;
use vde_protocol::mac::MacAddr;

/// Longest path a unix socket address holds (without the NUL).
const SUN_PATH_MAX: usize = 107;
/// What the switch appends to its directory for a data socket (`/001.12345`).
const DATA_SOCKET_SUFFIX: usize = 10;

/// Settings that come from the command line, not from `lab.conf`.
#[derive(Clone, Debug)]
pub struct Options {
    /// The root file system of hosts without `HOST[image]`.
    pub rootfs: PathBuf,
    /// The kernel of hosts without `HOST[kernel]` (`None`: umlrun finds one).
    pub kernel: Option<PathBuf>,
    /// umlrun's `--stop-timeout`.
    pub stop_timeout: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SwitchPlan {
    pub domain: String,
    pub hub: bool,
    pub ports: u32,
    /// The user's rc file (absolute).
    pub rc: Option<PathBuf>,
    /// Console commands run once the switch is up, before any guest starts.
    pub setup: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HostPlan {
    pub name: String,
    pub ifaces: Vec<IfaceState>,
    /// Empty ext4 images to make before boot: (file, size).
    pub new_disks: Vec<(PathBuf, String)>,
    /// `umlrun`'s arguments.
    pub args: Vec<OsString>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub switches: Vec<SwitchPlan>,
    pub hosts: Vec<HostPlan>,
}

/// The MAC of an interface without one: `02:76:64:00:HH:NN` (locally administered; host and
/// interface numbers), skipping addresses the lab gives explicitly.
fn default_mac(host: usize, iface: u32, taken: &BTreeSet<MacAddr>) -> MacAddr {
    let mut n = (host as u32 + 1) * 256 + iface;
    loop {
        let m = MacAddr([0x02, 0x76, 0x64, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
        if !taken.contains(&m) {
            return m;
        }
        n = n.wrapping_add(0x1_0000);
    }
}

/// Paths on the kernel command line cannot hold a space (it separates words), `,` or `:` (they
/// separate the fields of `ubdN=` and `ethN=`).
fn check_paths(lab: &Lab, layout: &Layout, opts: &Options) -> Result<()> {
    let mut paths = vec![
        ("the lab directory", layout.lab.clone()),
        ("the runtime directory", layout.run.clone()),
    ];
    if lab.hosts.iter().any(|h| h.image.is_none()) {
        paths.push(("the root file system", opts.rootfs.clone()));
    }
    let bad: Vec<ConfError> = paths
        .into_iter()
        .filter(|(_, p)| {
            p.to_string_lossy()
                .contains(|c: char| c.is_whitespace() || c == ',' || c == ':')
        })
        .map(|(what, p)| ConfError {
            line: None,
            what: format!(
                "{what} {} has a space, `,` or `:` in its path, which the UML command line \
                 cannot carry",
                p.display()
            ),
            fix: "move it (or set XDG_RUNTIME_DIR, or give --rootfs) to a path without them".into(),
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(LabError::Refused(bad))
    }
}

pub fn plan(lab: &Lab, layout: &Layout, opts: &Options) -> Result<Plan> {
    check_paths(lab, layout, opts)?;
    let longest_socket_dir = lab
        .domains
        .iter()
        .map(|d| layout.switch_dir(&d.name).as_os_str().len())
        .chain(
            lab.hosts
                .iter()
                .map(|h| layout.console_socket(&h.name).as_os_str().len()),
        )
        .max()
        .unwrap_or(0);
    if longest_socket_dir + DATA_SOCKET_SUFFIX > SUN_PATH_MAX {
        return Err(LabError::failed(
            format!(
                "the runtime directory {} is too long for the switches' socket paths",
                layout.run.display()
            ),
            "set XDG_RUNTIME_DIR to a shorter directory",
        ));
    }
    let explicit: BTreeSet<MacAddr> = lab
        .hosts
        .iter()
        .flat_map(|h| h.ifaces.iter().filter_map(|i| i.mac))
        .collect();
    let mut next_port: Vec<u32> = vec![1; lab.domains.len()];
    // `port/impair` commands of each domain's switch.
    let mut impairs: Vec<Vec<String>> = vec![Vec::new(); lab.domains.len()];
    let mut hosts = Vec::new();
    for (hi, h) in lab.hosts.iter().enumerate() {
        let mut ifaces = Vec::new();
        for i in &h.ifaces {
            let di = lab
                .domains
                .iter()
                .position(|d| d.name == i.domain)
                .expect("interfaces name known domains");
            let port = (i.transport == Transport::Vde).then(|| {
                let p = next_port[di];
                next_port[di] += 1;
                p
            });
            if let Some(p) = port {
                for imp in &i.impair {
                    let dir = match imp.dir {
                        Direction::In => "in",
                        Direction::Out => "out",
                        Direction::Both => "both",
                    };
                    impairs[di].push(format!("port/impair {p} {dir} {}", imp.words));
                }
            }
            ifaces.push(IfaceState {
                index: i.index,
                domain: i.domain.clone(),
                transport: i.transport,
                port,
                mac: i
                    .mac
                    .unwrap_or_else(|| default_mac(hi, i.index, &explicit))
                    .to_string(),
                vlan: i.vlan,
            });
        }
        hosts.push(host_plan(h, ifaces, layout, opts));
    }
    let switches = lab
        .domains
        .iter()
        .zip(impairs)
        .map(|(d, impairs)| {
            let mut s = switch_plan(d, &hosts, layout);
            s.setup.extend(impairs);
            s
        })
        .collect();
    Ok(Plan { switches, hosts })
}

fn switch_plan(d: &Domain, hosts: &[HostPlan], layout: &Layout) -> SwitchPlan {
    let members: Vec<&IfaceState> = hosts
        .iter()
        .flat_map(|h| h.ifaces.iter())
        .filter(|i| i.domain == d.name)
        .collect();
    let mut setup: Vec<String> = members
        .iter()
        .filter_map(|i| i.port.map(|p| format!("port/create {p}")))
        .collect();
    let vlans: BTreeSet<u16> = members.iter().filter_map(|i| i.vlan).collect();
    setup.extend(vlans.iter().map(|v| format!("vlan/create {v}")));
    for i in &members {
        if let (Some(p), Some(v)) = (i.port, i.vlan) {
            setup.push(format!("port/setvlan {p} {v}"));
        }
    }
    SwitchPlan {
        domain: d.name.clone(),
        hub: d.hub,
        ports: d.ports.unwrap_or(DEFAULT_PORTS),
        rc: d.rc.as_ref().map(|r| layout.lab.join(r)),
        setup,
    }
}

fn host_plan(
    h: &crate::conf::Host,
    ifaces: Vec<IfaceState>,
    layout: &Layout,
    opts: &Options,
) -> HostPlan {
    let mut args: Vec<OsString> = vec![
        "--umid".into(),
        h.name.clone().into(),
        "--stop-timeout".into(),
        format!("{}", opts.stop_timeout).into(),
        "--hostfs".into(),
        layout.lab.clone().into(),
    ];
    if let Some(k) = h
        .kernel
        .as_ref()
        .map(|k| layout.lab.join(k))
        .or_else(|| opts.kernel.clone())
    {
        args.push("--kernel".into());
        args.push(k.into());
    }
    let mut words: Vec<String> = vec![format!("uml_dir={}", layout.uml_dir().display())];
    if let Some(m) = h.mem {
        words.push(format!("mem={m}M"));
    }
    let rootfs = h
        .image
        .as_ref()
        .map(|i| layout.lab.join(i))
        .unwrap_or_else(|| opts.rootfs.clone());
    words.push(format!(
        "ubd0={},{}",
        layout.root_cow(&h.name).display(),
        rootfs.display()
    ));
    let mut new_disks = Vec::new();
    for (n, d) in h.disks.iter().enumerate() {
        let word = match d {
            Disk::New { name, size } => {
                let file = layout.new_disk(&h.name, name);
                new_disks.push((file.clone(), size.clone()));
                file.display().to_string()
            }
            Disk::Over { image } => format!(
                "{},{}",
                layout.disk_cow(&h.name, image).display(),
                layout.lab.join(image).display()
            ),
        };
        words.push(format!("ubd{}={word}", n + 1));
    }
    words.extend([
        "root=/dev/ubda".to_string(),
        "rw".to_string(),
        "con=null".to_string(),
        "con0=pts".to_string(),
        format!("VDELAB_HOST={}", h.name),
    ]);
    words.extend(h.env.iter().cloned());
    for i in &ifaces {
        let dir = layout.switch_dir(&i.domain);
        words.push(match (i.transport, i.port) {
            (Transport::Vde, Some(p)) => {
                format!("eth{}=vde,{},{},{p}", i.index, dir.display(), i.mac)
            }
            _ => format!(
                "eth{}=daemon,{},unix,{}",
                i.index,
                i.mac,
                dir.join("ctl").display()
            ),
        });
    }
    args.extend(words.into_iter().map(OsString::from));
    HostPlan {
        name: h.name.clone(),
        ifaces,
        new_disks,
        args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf;

    fn layout() -> (tempfile::TempDir, Layout) {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("lab.conf"), "").unwrap();
        let l = Layout::new(t.path()).unwrap();
        (t, l)
    }

    fn opts() -> Options {
        Options {
            rootfs: "/data/rootfs.ext4".into(),
            kernel: None,
            stop_timeout: 15.0,
        }
    }

    fn words(h: &HostPlan) -> Vec<String> {
        h.args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn ports_vlans_and_transports() {
        let lab = conf::parse(
            "h1[0]=A\nh1[0][vlan]=10\nh2[0]=A\nh2[0][transport]=daemon\nh3[0]=A\n\
             h3[0][vlan]=20\nh3[1]=B/02:00:00:00:00:09\ndomain[B][hub]=yes\n",
        )
        .unwrap();
        let (_t, l) = layout();
        let p = plan(&lab, &l, &opts()).unwrap();
        let a = &p.switches[0];
        assert_eq!(
            a.setup,
            [
                "port/create 1",
                "port/create 2",
                "vlan/create 10",
                "vlan/create 20",
                "port/setvlan 1 10",
                "port/setvlan 2 20"
            ]
        );
        assert!(p.switches[1].hub);
        assert_eq!(p.switches[1].setup, ["port/create 1"]);
        let impaired = conf::parse("h1[0]=A\nh2[0]=A\nh2[0][impair]=out delay 50ms\n").unwrap();
        let q = plan(&impaired, &l, &opts()).unwrap();
        assert_eq!(
            q.switches[0].setup,
            [
                "port/create 1",
                "port/create 2",
                "port/impair 2 out delay 50ms"
            ]
        );
        let h2 = &p.hosts[1];
        assert_eq!(h2.ifaces[0].port, None);
        let w = words(h2);
        let sw = l.switch_dir("A");
        assert!(
            w.contains(&format!(
                "eth0=daemon,02:76:64:00:02:00,unix,{}/ctl",
                sw.display()
            )),
            "{w:?}"
        );
        let w3 = words(&p.hosts[2]);
        assert!(w3.contains(&format!("eth0=vde,{},02:76:64:00:03:00,2", sw.display())));
        assert!(w3
            .iter()
            .any(|x| x.starts_with("eth1=vde,") && x.contains("02:00:00:00:00:09,1")));
        assert!(w3.contains(&"VDELAB_HOST=h3".to_string()));
        assert!(w3.contains(&"con0=pts".to_string()));
    }

    #[test]
    fn disks_memory_and_kernel() {
        let lab = conf::parse(
            "h1[0]=A\nh1[mem]=96\nh1[disk]=data.ext4,64M\nh1[disk]=base.ext4\nh1[kernel]=k/linux\n",
        )
        .unwrap();
        let (_t, l) = layout();
        let p = plan(&lab, &l, &opts()).unwrap();
        let h = &p.hosts[0];
        let w = words(h);
        assert!(w.contains(&"mem=96M".to_string()));
        assert!(w.contains(&format!(
            "ubd0={},/data/rootfs.ext4",
            l.root_cow("h1").display()
        )));
        assert!(w.contains(&format!("ubd1={}", l.new_disk("h1", "data.ext4").display())));
        assert!(w.contains(&format!(
            "ubd2={},{}",
            l.disk_cow("h1", "base.ext4".as_ref()).display(),
            l.lab.join("base.ext4").display()
        )));
        let k = w.iter().position(|x| x == "--kernel").unwrap();
        assert_eq!(w[k + 1], l.lab.join("k/linux").display().to_string());
        assert_eq!(
            h.new_disks,
            [(l.new_disk("h1", "data.ext4"), "64M".to_string())]
        );
    }

    #[test]
    fn paths_the_command_line_cannot_carry() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("my lab");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("lab.conf"), "").unwrap();
        let l = Layout::new(&dir).unwrap();
        let lab = conf::parse("h1[0]=A\n").unwrap();
        let e = plan(&lab, &l, &opts()).unwrap_err();
        assert!(e.to_string().contains("my lab"), "{e}");
        let (_t, l) = layout();
        let mut o = opts();
        o.rootfs = "/data/a,b.ext4".into();
        assert!(plan(&lab, &l, &o).is_err());
    }

    #[test]
    fn default_macs_avoid_explicit_ones() {
        let taken: BTreeSet<MacAddr> = [MacAddr([0x02, 0x76, 0x64, 0, 1, 0])].into();
        let m = default_mac(0, 0, &taken);
        assert_ne!(m, MacAddr([0x02, 0x76, 0x64, 0, 1, 0]));
        assert!(m.is_unicast());
    }
}
