//! The benchmark run: start the reference twice (A/A control) and our switch, run the goal
//! suite interleaved, the port-scaling curve, RSS with 32 ports and a MAC flood, then print
//! the report (Markdown tables, pasteable into PERFORMANCE.md).
//!
//! * [`runner`]: starting the switches and measuring, section by section;
//! * [`results`]: what was measured, by test, switch and repetition;
//! * [`goals`]: the goal table (each goal's measure, target and status);
//! * [`report`] and [`format`]: the Markdown report.

mod format;
pub mod goals;
pub mod report;
pub mod results;
mod runner;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use report::report;
pub use results::Results;
pub use runner::run;

pub const REF: &str = "ref";
pub const REFB: &str = "refB";
pub const OURS: &str = "ours";

/// One load-generator measurement of the goal suite.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    pub name: &'static str,
    /// Load-generator arguments besides -s/-P/-t/-T.
    pub args: &'static str,
    /// Run with a stuck receiver and a sender flooding it on two other ports.
    pub stuck: bool,
}

/// The tests behind the goals (names as the classic kit's suite names them).
pub const GOAL_TESTS: &[Test] = &[
    Test {
        name: "uni2_64B",
        args: "-m uni -p 2 -l 60",
        stuck: false,
    },
    Test {
        name: "stuck_uni2_64B",
        args: "-m uni -p 2 -l 60",
        stuck: true,
    },
    Test {
        name: "pairs8_64B",
        args: "-m pairs -p 8 -l 60",
        stuck: false,
    },
    Test {
        name: "bcast8_64B",
        args: "-m bcast -p 8 -l 60",
        stuck: false,
    },
    Test {
        name: "uni31_64B",
        args: "-m uni -p 31 -l 60",
        stuck: false,
    },
];

/// When the stuck test's blaster starts, after the load generator is launched: its clients are
/// attached (a few ms) and the stuck port has announced itself again since.
pub(crate) const STUCK_DELAY: Duration = Duration::from_millis(500);

/// How long the blaster runs: until 0.1 s after the nominal end of the load generator's sending
/// (its senders start about 0.3 s after launch), i.e. before its ports detach.
pub(crate) fn stuck_active(secs: u32) -> Duration {
    Duration::from_millis(u64::from(secs) * 1000 - 100).saturating_sub(Duration::from_millis(300))
}

/// The 1→1 test the scaling curve runs, with the other ports attached and idle.
pub(crate) const CURVE_ARGS: &str = "-m uni -p 2 -l 60";

#[derive(Debug, Clone)]
pub struct Config {
    pub ours: PathBuf,
    /// More arguments for our switch (e.g. `--capture=all:/dev/null`, the cost of a capture).
    pub ours_args: Vec<String>,
    pub reference: PathBuf,
    /// An outside benchmark kit whose `vdebench` and `udslimit` replace our load generator and
    /// floor, as a cross-check.
    pub kit: Option<PathBuf>,
    /// Where the kit's tools are built.
    pub build_dir: PathBuf,
    /// Scratch directory for switch and client sockets (created, removed at the end).
    pub work_dir: PathBuf,
    /// `-n` of the switches of the goal suite, RSS and flood (the curve's get enough for its
    /// largest point).
    pub numports: usize,
    pub reps: u32,
    pub secs: u32,
    pub tests: Vec<Test>,
    pub curve_ports: Vec<usize>,
    pub curve_reps: u32,
    pub curve_secs: u32,
    pub rss_ports: usize,
    pub flood_frames: u64,
    pub flood_deadline: Duration,
    pub goals: bool,
    pub curve: bool,
    pub rss: bool,
    pub flood: bool,
    /// The machine's datagram floors (no switch).
    pub floor: bool,
    pub out: Option<PathBuf>,
    /// Free text printed in the report header (e.g. the commit measured).
    pub label: String,
}

impl Config {
    /// `-n` of the curve's switches: its largest point plus a few spare ports.
    pub fn curve_numports(&self) -> usize {
        self.curve_ports.iter().max().copied().unwrap_or(2) + 4
    }
}

/// Stop flag set by SIGINT/SIGTERM/SIGHUP; a second signal exits at once (the switches then
/// get SIGTERM from the kernel, see [`Switch`]).
pub fn install_signal_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone());
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    stop
}
