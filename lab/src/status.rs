//! `vdelab status`: the lab's hosts (state, pids, interfaces with their switch ports)
//! and collision domains, as a table or as JSON.

use crate::conf::Transport;
use crate::down;
use crate::error::Result;
use crate::guest;
use crate::layout::Layout;
use crate::proc;
use crate::state::{IfaceState, State};
use crate::switch::{self, ActivePort};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub lab: PathBuf,
    pub description: Option<String>,
    /// Some process of the lab runs.
    pub running: bool,
    pub hosts: Vec<HostStatus>,
    pub domains: Vec<DomainStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostStatus {
    pub name: String,
    /// `running` (booted), `booting`, or `stopped`.
    pub state: &'static str,
    pub umlrun_pid: Option<i32>,
    pub kernel_pid: Option<i32>,
    /// The host side of its console (`/dev/pts/N`), which the lab's console keeper holds: attach
    /// with `vdelab console`, not to this terminal directly.
    pub console_pts: Option<String>,
    /// The status its startup files ended with.
    pub startup_status: Option<i32>,
    pub interfaces: Vec<IfaceStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IfaceStatus {
    pub name: String,
    pub domain: String,
    pub transport: Transport,
    /// The switch port it is on (`None`: not connected, or not known yet).
    pub port: Option<u32>,
    pub mac: String,
    pub vlan: Option<u16>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DomainStatus {
    pub name: String,
    /// `switch` or `hub`.
    pub kind: &'static str,
    pub pid: i32,
    pub running: bool,
    /// The switch directory (`vde_switch -s`) and management socket (`-M`).
    pub socket: PathBuf,
    pub mgmt: PathBuf,
    pub ports: u32,
}

/// The status of the lab (not running: no hosts or domains listed).
pub fn status(layout: &Layout) -> Result<Status> {
    let description = crate::up::load(layout)
        .ok()
        .and_then(|l| l.meta("LAB_DESCRIPTION").map(str::to_string));
    let Some(state) = State::load(&layout.state_file())? else {
        return Ok(Status {
            lab: layout.lab.clone(),
            description,
            running: false,
            hosts: Vec::new(),
            domains: Vec::new(),
        });
    };
    let mark = down::mark(layout);
    let mut domains = Vec::new();
    let mut active: Vec<(String, Vec<ActivePort>)> = Vec::new();
    for s in &state.switches {
        let running = proc::ours(s.pid, &mark);
        if running {
            if let Some(p) = switch::active_ports(&s.mgmt) {
                active.push((s.domain.clone(), p));
            }
        }
        domains.push(DomainStatus {
            name: s.domain.clone(),
            kind: if s.hub { "hub" } else { "switch" },
            pid: s.pid,
            running,
            socket: s.dir.clone(),
            mgmt: s.mgmt.clone(),
            ports: s.ports,
        });
    }
    let all_ifaces: Vec<&IfaceState> = state.hosts.iter().flat_map(|h| &h.ifaces).collect();
    let mut hosts = Vec::new();
    for h in &state.hosts {
        let umlrun = proc::ours(h.umlrun_pid, &mark).then_some(h.umlrun_pid);
        let kernel = guest::kernel_pid(layout, &h.name).filter(|&k| proc::ours(k, &mark));
        let booted = guest::booted(layout, &h.name);
        let state = match (kernel.or(umlrun), booted) {
            (None, _) => "stopped",
            (Some(_), Some(_)) => "running",
            (Some(_), None) => "booting",
        };
        let interfaces = h
            .ifaces
            .iter()
            .map(|i| IfaceStatus {
                name: format!("eth{}", i.index),
                domain: i.domain.clone(),
                transport: i.transport,
                port: kernel.and_then(|_| port_of(i, &all_ifaces, &active)),
                mac: i.mac.clone(),
                vlan: i.vlan,
            })
            .collect();
        hosts.push(HostStatus {
            name: h.name.clone(),
            state,
            umlrun_pid: umlrun,
            kernel_pid: kernel,
            console_pts: kernel.and_then(|_| guest::console_pts(layout, &h.name)),
            startup_status: booted,
            interfaces,
        });
    }
    Ok(Status {
        lab: layout.lab.clone(),
        description,
        running: hosts.iter().any(|h| h.state != "stopped") || domains.iter().any(|d| d.running),
        hosts,
        domains,
    })
}

/// The port an interface is on: the one it asked for (vde), else the port its MAC was learned
/// on, else the one active port of its domain no other interface accounts for.
fn port_of(
    i: &IfaceState,
    all: &[&IfaceState],
    active: &[(String, Vec<ActivePort>)],
) -> Option<u32> {
    let ports = &active.iter().find(|(d, _)| *d == i.domain)?.1;
    if let Some(p) = i.port {
        return ports.iter().any(|a| a.port == p).then_some(p);
    }
    if let Some(a) = ports.iter().find(|a| a.macs.contains(&i.mac)) {
        return Some(a.port);
    }
    let same: Vec<&&IfaceState> = all.iter().filter(|o| o.domain == i.domain).collect();
    let daemons = same.iter().filter(|o| o.port.is_none()).count();
    let free: Vec<u32> = ports
        .iter()
        .map(|a| a.port)
        .filter(|n| !same.iter().any(|o| o.port == Some(*n)))
        .collect();
    (daemons == 1 && free.len() == 1).then(|| free[0])
}

/// The table `vdelab status` prints.
pub fn render(s: &Status) -> String {
    let mut t = format!("lab {}", s.lab.display());
    if let Some(d) = &s.description {
        t.push_str(&format!(" ({d})"));
    }
    if !s.running {
        t.push_str(": not running\n");
        return t;
    }
    t.push('\n');
    t.push_str(&format!(
        "{:<12} {:<8} {:>7} {:>7}  INTERFACES\n",
        "HOST", "STATE", "KERNEL", "UMLRUN"
    ));
    let pid = |p: Option<i32>| p.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
    for h in &s.hosts {
        let ifaces: Vec<String> = h
            .interfaces
            .iter()
            .map(|i| {
                let mut x = format!(
                    "{}: {} port {} ({})",
                    i.name,
                    i.domain,
                    i.port.map(|p| p.to_string()).unwrap_or_else(|| "?".into()),
                    i.transport.name()
                );
                if let Some(v) = i.vlan {
                    x.push_str(&format!(" vlan {v}"));
                }
                x
            })
            .collect();
        t.push_str(&format!(
            "{:<12} {:<8} {:>7} {:>7}  {}\n",
            h.name,
            h.state,
            pid(h.kernel_pid),
            pid(h.umlrun_pid),
            ifaces.join(", ")
        ));
    }
    t.push_str(&format!(
        "\n{:<12} {:<8} {:>7} {:>5}  SOCKET\n",
        "DOMAIN", "KIND", "PID", "PORTS"
    ));
    for d in &s.domains {
        t.push_str(&format!(
            "{:<12} {:<8} {:>7} {:>5}  {}{}\n",
            d.name,
            d.kind,
            d.pid,
            d.ports,
            d.socket.display(),
            if d.running { "" } else { " (not running)" }
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(domain: &str, port: Option<u32>, mac: &str) -> IfaceState {
        IfaceState {
            index: 0,
            domain: domain.into(),
            transport: if port.is_some() {
                Transport::Vde
            } else {
                Transport::Daemon
            },
            port,
            mac: mac.into(),
            vlan: None,
        }
    }

    fn active(ports: &[(u32, &[&str])]) -> Vec<(String, Vec<ActivePort>)> {
        let p = ports
            .iter()
            .map(|(port, macs)| ActivePort {
                port: *port,
                macs: macs.iter().map(|m| m.to_string()).collect(),
            })
            .collect();
        vec![("A".to_string(), p)]
    }

    #[test]
    fn ports_of_daemon_interfaces() {
        let a = iface("A", Some(1), "m1");
        let b = iface("A", None, "m2");
        let c = iface("A", None, "m3");
        let three = active(&[(1, &[]), (2, &[]), (3, &["m3"])]);
        let all = [&a, &b, &c];
        assert_eq!(port_of(&a, &all, &three), Some(1));
        assert_eq!(port_of(&c, &all, &three), Some(3));
        // Two daemon interfaces, one MAC unknown: not guessed.
        assert_eq!(port_of(&b, &all, &three), None);
        // One daemon interface: the leftover port.
        let two = active(&[(1, &[]), (2, &[])]);
        assert_eq!(port_of(&b, &[&a, &b], &two), Some(2));
        // Not connected (yet), or no such switch.
        assert_eq!(port_of(&iface("A", Some(7), "x"), &all, &three), None);
        assert_eq!(port_of(&iface("B", Some(1), "x"), &all, &three), None);
    }
}
