//! What a running lab is made of (`state.json` in the runtime directory): written by `up` after
//! each process it starts, so that `down` finds everything even after an interrupted `up`.

use crate::conf::Transport;
use crate::error::{LabError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The lab directory.
    pub lab: PathBuf,
    /// Seconds umlrun is given for each clean stop.
    pub stop_timeout: f64,
    pub switches: Vec<SwitchState>,
    pub hosts: Vec<HostState>,
    /// The console keeper (`vdelab keep`).
    #[serde(default)]
    pub keeper_pid: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwitchState {
    pub domain: String,
    pub pid: i32,
    /// `-s`.
    pub dir: PathBuf,
    /// `-M`.
    pub mgmt: PathBuf,
    pub hub: bool,
    /// `-n`.
    pub ports: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    pub name: String,
    pub umlrun_pid: i32,
    pub ifaces: Vec<IfaceState>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IfaceState {
    /// `ethN`.
    pub index: u32,
    pub domain: String,
    pub transport: Transport,
    /// The port it asks for (vde transport); the daemon transport gets one from the switch.
    pub port: Option<u32>,
    pub mac: String,
    pub vlan: Option<u16>,
}

impl State {
    /// The state in `file`, if there is one.
    pub fn load(file: &Path) -> Result<Option<State>> {
        match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                LabError::failed(
                    format!("{} is damaged: {e}", file.display()),
                    "stop what still runs of the lab by hand, then remove that file",
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io(file, "read", e)),
        }
    }

    /// Writes `file` whole (a temporary file renamed over it).
    pub fn save(&self, file: &Path) -> Result<()> {
        let tmp = file.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(self).expect("the state serialises");
        std::fs::write(&tmp, text).map_err(|e| LabError::io(&tmp, "write", e))?;
        std::fs::rename(&tmp, file).map_err(|e| LabError::io(file, "write", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("state.json");
        assert_eq!(State::load(&f).unwrap(), None);
        let s = State {
            lab: "/labs/a".into(),
            stop_timeout: 15.0,
            switches: vec![SwitchState {
                domain: "A".into(),
                pid: 10,
                dir: "/run/x/sw/A".into(),
                mgmt: "/run/x/sw/A.mgmt".into(),
                hub: false,
                ports: 32,
            }],
            hosts: vec![HostState {
                name: "h1".into(),
                umlrun_pid: 11,
                ifaces: vec![IfaceState {
                    index: 0,
                    domain: "A".into(),
                    transport: Transport::Daemon,
                    port: None,
                    mac: "02:00:00:00:00:01".into(),
                    vlan: None,
                }],
            }],
            keeper_pid: Some(12),
        };
        s.save(&f).unwrap();
        assert_eq!(State::load(&f).unwrap(), Some(s));
        assert!(std::fs::read_to_string(&f).unwrap().contains("\"daemon\""));
        std::fs::write(&f, "{").unwrap();
        assert!(State::load(&f).is_err());
    }
}
