//! A switch with no sockets for the console targets (`console_exec`, `rc_file`,
//! `load_slices`): an 8-port fabric and the spanning tree, effects applied to the fabric where
//! they have meaning there.

use std::path::PathBuf;

use vdeswitch::fabric::Fabric;
use vdeswitch::server::console::{Ctx, Effect, FstpCtl, Host, Info, Subscriptions};

pub struct ConsoleHost {
    pub fabric: Fabric,
    fstp: FstpCtl,
    info: Info,
    /// `Some` when commands come from a management session.
    session: Option<Subscriptions>,
}

impl ConsoleHost {
    /// A fresh switch; `session`: whether commands come from a management session.
    pub fn new(session: bool) -> ConsoleHost {
        ConsoleHost {
            fabric: Fabric::new(8, false, 16, 64),
            fstp: FstpCtl::new(vdeswitch::fstp::Fstp::new(
                vde_protocol::MacAddr([0, 0xff, 1, 2, 3, 4]),
                0x8000,
                false,
                0,
            )),
            info: Info {
                pid: 1,
                mac: vde_protocol::MacAddr([0, 0xff, 1, 2, 3, 4]),
                priority: 0x8000,
                mgmt: Some((PathBuf::from("/tmp/fuzz.mgmt"), 0o600)),
                ctl_dir: PathBuf::from("/tmp/fuzz"),
                ctl_mode: 0o600,
                vxlan: Default::default(),
            },
            session: session.then_some(0),
        }
    }
}

impl Host for ConsoleHost {
    fn ctx(&mut self) -> Ctx<'_> {
        Ctx::new(
            &mut self.fabric,
            &mut self.fstp,
            &self.info,
            0,
            self.session,
        )
    }
    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::CloseEndpoint { port, id } => {
                self.fabric
                    .detach(port, id)
                    .expect("epclose names an attached endpoint");
            }
            Effect::Subscribe(s) => self.session = Some(s),
            // No data path: an uplink's sockets close when dropped, hooks watch nothing.
            Effect::StartVxlan(_) | Effect::Hook(_) => {}
        }
    }
}

/// A scratch file for this process, named `name`, in /dev/shm (or /tmp).
#[allow(dead_code)] // only the targets that write scripts use it
pub fn scratch(name: &str) -> PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    PathBuf::from(dir).join(format!("vde-fuzz-{name}-{}", std::process::id()))
}
