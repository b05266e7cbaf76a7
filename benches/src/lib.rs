//! Benchmarks of our `vde_switch` against the reference vde_switch 2.3.2.
//!
//! * `vdeperf` (src/bin/vdeperf.rs, the [`suite`] module): one command that starts the
//!   reference twice (A/A control) and our switch, drives them with real libvdeplug clients
//!   ([`load`], run as `vdeperf load`) and with [`client`], our own vde-protocol client for
//!   idle ports, a stuck receiver and a MAC flood, interleaved, and prints the goal table, the
//!   port-scaling curve, RSS, a MAC flood check and the machine's floor ([`floor`]).
//! * `vdeperf cable` ([`cable`]): two switches joined by a VXLAN uplink (ours) or a dpipe cable
//!   (the reference's, and ours), frames across.
//! * `vdeperf stream` ([`streams`]): stream ports (`--stream`, our QEMU-style stream client)
//!   against vde datagram ports on our switch, side by side.
//! * `benches/fabric.rs`: Criterion micro-benchmarks of the forwarding fabric.
//!
//! See PERFORMANCE.md at the workspace root for the method and the latest results.

pub mod cable;
pub mod client;
pub mod dgram;
pub mod floor;
pub mod fork;
pub mod load;
pub mod loadgen;
pub mod proc;
pub mod stats;
pub mod streams;
pub mod suite;

use std::path::PathBuf;

/// The workspace root (this crate's parent directory).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = here.parent().map_or(here.clone(), PathBuf::from);
    root.canonicalize().unwrap_or(root)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        _ => workspace_root().join("target"),
    }
}
