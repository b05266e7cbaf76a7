//! The machine's own limits, with no switch involved: the kit's `udslimit` moves 64-byte
//! datagrams over AF_UNIX sockets the way a switch must. On these VMs the kernel's cost per
//! datagram, not the switch's code, dominates a forwarded frame, so the report puts the
//! switches' CPU per frame next to these floors.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::vdebench::{parse, Sample};

/// One `udslimit` measurement.
#[derive(Debug, Clone, Copy)]
pub struct FloorTest {
    pub name: &'static str,
    pub args: &'static [&'static str],
    /// The result key holding nanoseconds per frame.
    pub key: &'static str,
    pub what: &'static str,
}

pub const FLOOR_TESTS: [FloorTest; 3] = [
    FloorTest {
        name: "pair",
        args: &["st", "-t", "1", "-l", "60"],
        key: "pair_ns",
        what: "one send + one recv of a 64 B datagram in one process (udslimit st)",
    },
    FloorTest {
        name: "fwd_batched",
        args: &["fwd-mmsg", "-t", "2", "-l", "60", "-b", "32", "-k"],
        key: "fwd_cpu_ns_per_frame",
        what: "minimal C forwarder: epoll, recvmmsg/sendmmsg by 32, backpressure (udslimit fwd-mmsg -k)",
    },
    FloorTest {
        name: "fwd_single",
        args: &["fwd", "-t", "2", "-l", "60"],
        key: "fwd_cpu_ns_per_frame",
        what: "minimal C forwarder: epoll, one recv and one send per frame (udslimit fwd)",
    },
];

/// Run one floor test; the sample holds udslimit's result fields.
pub fn run(udslimit: &Path, t: &FloorTest) -> Result<Sample, String> {
    let out = Command::new(udslimit)
        .args(t.args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", udslimit.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let sample = stdout
        .lines()
        .rev()
        .find(|l| l.contains('='))
        .map(parse)
        .filter(|s| s.contains_key(t.key));
    sample.ok_or_else(|| {
        format!(
            "udslimit {} gave no {} ({}): {}",
            t.args.join(" "),
            t.key,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}
