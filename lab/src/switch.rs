//! One `vde_switch` per collision domain: started in the foreground of its own process group
//! (`--nostdin`, log to a file), ready when its management socket answers, then set up through
//! that console before any guest connects.

use crate::error::{LabError, Result};
use crate::layout::Layout;
use crate::plan::SwitchPlan;
use crate::proc;
use crate::state::SwitchState;
use mgmt_console::client::Client;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a switch may take to answer on its management socket.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one console command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the switch of `plan`; returns once it answers, set up.
pub fn start(
    bin: &Path,
    plan: &SwitchPlan,
    layout: &Layout,
    interrupted: &dyn Fn() -> bool,
    started: &mut dyn FnMut(&Child, SwitchState) -> Result<()>,
) -> Result<Child> {
    let dir = layout.switch_dir(&plan.domain);
    let mgmt = layout.switch_mgmt(&plan.domain);
    let mut cmd = Command::new(bin);
    cmd.arg("-s")
        .arg(&dir)
        .arg("-M")
        .arg(&mgmt)
        .arg("--nostdin")
        .arg("-n")
        .arg(plan.ports.to_string())
        // Without -f the switch would read the user's own ~/.vde2/vde_switch.rc.
        .arg("-f")
        .arg(plan.rc.as_deref().unwrap_or(Path::new("/dev/null")));
    if plan.hub {
        cmd.arg("-x");
    }
    let log = layout.switch_log(&plan.domain);
    let mut child = proc::spawn_logged(&mut cmd, &log)?;
    started(
        &child,
        SwitchState {
            domain: plan.domain.clone(),
            pid: child.id() as i32,
            dir,
            mgmt: mgmt.clone(),
            hub: plan.hub,
            ports: plan.ports,
        },
    )?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut client = loop {
        if let Ok(c) = Client::connect(&mgmt, Duration::from_secs(2)) {
            break c;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LabError::failed(
                format!(
                    "the switch of {} ended at once ({status}):\n{}",
                    plan.domain,
                    proc::log_tail(&log, 10)
                ),
                format!("its log is {}", log.display()),
            ));
        }
        if interrupted() {
            return Err(LabError::Interrupted);
        }
        if Instant::now() >= deadline {
            return Err(LabError::failed(
                format!(
                    "the switch of {} did not open {} within {START_TIMEOUT:?}",
                    plan.domain,
                    mgmt.display()
                ),
                format!("its log is {}", log.display()),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for c in &plan.setup {
        let failed = |why: String| {
            LabError::failed(
                format!("the switch of {} refused `{c}`: {why}", plan.domain),
                "check domain[..][rc] and the VLANs of lab.conf",
            )
        };
        let r = client
            .command(c, COMMAND_TIMEOUT)
            .map_err(|e| failed(e.to_string()))?;
        if !r.succeeded() {
            return Err(failed(
                r.status().map(|s| s.to_string()).unwrap_or_default(),
            ));
        }
    }
    Ok(child)
}

/// An active port of a switch and the MAC addresses learned on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivePort {
    pub port: u32,
    pub macs: Vec<String>,
}

/// The active ports of a running switch (`port/print`), with the MAC addresses learned on each
/// (`hash/print`): how `status` finds the ports the daemon transport got.
pub fn active_ports(mgmt: &Path) -> Option<Vec<ActivePort>> {
    let mut c = Client::connect(mgmt, Duration::from_secs(2)).ok()?;
    let ports = c.command("port/print", COMMAND_TIMEOUT).ok()?;
    let macs = c.command("hash/print", COMMAND_TIMEOUT).ok()?;
    let mut out: Vec<ActivePort> = ports
        .data()
        .iter()
        .filter_map(|l| parse_port_line(l))
        .map(|port| ActivePort {
            port,
            macs: Vec::new(),
        })
        .collect();
    for (mac, port) in macs.data().iter().filter_map(|l| parse_hash_line(l)) {
        if let Some(e) = out.iter_mut().find(|a| a.port == port) {
            e.macs.push(mac);
        }
    }
    Some(out)
}

/// `Port 0005 untagged_vlan=0000 ACTIVE - ...` -> 5.
fn parse_port_line(l: &str) -> Option<u32> {
    let rest = l.strip_prefix("Port ")?;
    if !l.contains(" ACTIVE ") {
        return None;
    }
    rest.split_whitespace().next()?.parse().ok()
}

/// `Hash: 0135 Addr: 02:76:64:00:01:00 VLAN 0000 to port: 001  age 4 secs` -> (MAC, 1).
fn parse_hash_line(l: &str) -> Option<(String, u32)> {
    let mac = l.split("Addr: ").nth(1)?.split_whitespace().next()?;
    let port = l.split("to port: ").nth(1)?.split_whitespace().next()?;
    Some((mac.to_string(), port.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines() {
        assert_eq!(
            parse_port_line("Port 0005 untagged_vlan=0010 ACTIVE - NOT Unnamed Allocatable"),
            Some(5)
        );
        assert_eq!(
            parse_port_line("Port 0005 untagged_vlan=0010 INACTIVE - Unnamed Allocatable"),
            None
        );
        assert_eq!(parse_port_line(" IN:  pkts 0"), None);
        assert_eq!(
            parse_hash_line(
                "Hash: 0135 Addr: 02:76:64:00:01:00 VLAN 0000 to port: 001  age 4 secs"
            ),
            Some(("02:76:64:00:01:00".into(), 1))
        );
    }
}
