//! The machine's own limits, with no switch involved: 64-byte datagrams moved over AF_UNIX
//! sockets the way a switch must move them. On these VMs the kernel's cost per datagram, not
//! the switch's code, dominates a forwarded frame, so the report puts the switches' CPU per
//! frame next to these floors. The measurements are ours (`vdeperf floor`, see [`own`]); with
//! `--kit DIR` the kit's `udslimit` makes them instead, as a cross-check.

pub mod own;

use std::process::Stdio;

use crate::loadgen::{parse, Sample, Tool};

/// One floor measurement.
#[derive(Debug, Clone, Copy)]
pub struct FloorTest {
    pub name: &'static str,
    /// Arguments of `vdeperf floor`.
    pub args: &'static [&'static str],
    /// The same measurement with the kit's `udslimit`.
    pub kit_args: &'static [&'static str],
    /// The result key holding nanoseconds per frame.
    pub key: &'static str,
    pub what: &'static str,
}

pub const FLOOR_TESTS: [FloorTest; 3] = [
    FloorTest {
        name: "pair",
        args: &["pair", "-t", "1", "-l", "60"],
        kit_args: &["st", "-t", "1", "-l", "60"],
        key: "pair_ns",
        what: "one send + one recv of a 64 B datagram in one process",
    },
    FloorTest {
        name: "fwd_batched",
        args: &["fwd-batched", "-t", "2", "-l", "60", "-b", "32"],
        kit_args: &["fwd-mmsg", "-t", "2", "-l", "60", "-b", "32", "-k"],
        key: "fwd_cpu_ns_per_frame",
        what: "minimal forwarder: epoll, recvmmsg/sendmmsg by 32, backpressure",
    },
    FloorTest {
        name: "fwd_single",
        args: &["fwd-single", "-t", "2", "-l", "60"],
        kit_args: &["fwd", "-t", "2", "-l", "60"],
        key: "fwd_cpu_ns_per_frame",
        what: "minimal forwarder: epoll, one recv and one send per frame",
    },
];

/// The floor tool: `vdeperf floor`, or the kit's udslimit.
pub fn tool(kit: Option<&std::path::Path>, out_dir: &std::path::Path) -> Result<Tool, String> {
    match kit {
        None => Tool::ours("floor"),
        Some(kit) => Tool::kit(kit, out_dir, "udslimit", &[]),
    }
}

/// Run one floor test; the sample holds the tool's result fields.
pub fn run(tool: &Tool, kit: bool, t: &FloorTest) -> Result<Sample, String> {
    let args = if kit { t.kit_args } else { t.args };
    let out = tool
        .command()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tool.origin))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sample = stdout
        .lines()
        .rev()
        .find(|l| l.contains('='))
        .map(parse)
        .filter(|s| s.contains_key(t.key));
    sample.ok_or_else(|| {
        format!(
            "{} {} gave no {} ({}): {}",
            tool.origin,
            args.join(" "),
            t.key,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}
