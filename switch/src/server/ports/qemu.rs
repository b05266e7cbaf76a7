//! The `--stream` and `--dgram` sockets, made before the control socket (so that whoever waits
//! for `ctl` finds them ready, and a failure leaves no control directory behind), then started
//! once the switch exists.

use std::path::PathBuf;

use super::dgram;
use super::stream::StreamListener;
use crate::config::Config;
use crate::server::ctl_dir::{Modes, SetupError};
use crate::sys::dgram_server::DgramServer;

/// Bound sockets not yet part of the loop.
pub struct QemuSockets {
    pub(crate) streams: Vec<(StreamListener, String)>,
    pub(crate) dgrams: Vec<(DgramServer, PathBuf)>,
}

impl QemuSockets {
    /// Bind every socket the configuration asks for; on error those already made are removed.
    pub fn bind(cfg: &Config, modes: Modes) -> Result<QemuSockets, SetupError> {
        let mut made = QemuSockets {
            streams: Vec::new(),
            dgrams: Vec::new(),
        };
        for addr in &cfg.streams {
            match StreamListener::bind(addr, modes, cfg.group) {
                Ok(l) => made.streams.push((l, addr.to_string())),
                Err(e) => {
                    made.discard();
                    return Err(e);
                }
            }
        }
        for path in &cfg.dgrams {
            match dgram::bind(path, modes, cfg.group) {
                Ok(d) => made.dgrams.push((d, path.clone())),
                Err(e) => {
                    made.discard();
                    return Err(e);
                }
            }
        }
        Ok(made)
    }

    /// The switch will not start: remove the socket files.
    pub fn discard(self) {
        for (l, _) in self.streams {
            l.remove_file();
        }
        for (_, path) in self.dgrams {
            let _ = std::fs::remove_file(path);
        }
    }
}
