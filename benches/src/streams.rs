//! `vdeperf stream`: stream ports against vde datagram ports on the same switch (ours), side
//! by side. One switch runs with `--stream`; each repetition measures the same test once over
//! the vde protocol (real libvdeplug clients) and once over our QEMU-style stream client
//! (`vdeperf load -s stream:PATH`), in alternating order, and the table gives the ratio
//! stream / vde of the switch's CPU per delivered frame and of the delivered rate.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::loadgen::{self, RunError};
use crate::proc::Switch;
use crate::stats::{median, ratio};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Our switch [default: TARGET/release/vde_switch]
    #[arg(long)]
    pub ours: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    pub reps: u32,
    /// Seconds of sending per run
    #[arg(long, default_value_t = 3)]
    pub secs: u32,
    /// Scratch directory for sockets [default: /tmp/vdeperf-stream.PID]
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// What is compared: load-generator arguments besides -s/-P/-t/-T.
const TESTS: &[(&str, &str)] = &[
    ("uni2_64B, one frame per call", "-m uni -p 2 -l 60 -B 1"),
    ("uni2_64B, batches of 32", "-m uni -p 2 -l 60 -B 32"),
    ("pairs8_64B, batches of 32", "-m pairs -p 8 -l 60 -B 32"),
];

/// Run the comparison and return its Markdown report.
pub fn run(o: &Options, ours: PathBuf, stop: &AtomicBool) -> Result<String, String> {
    let work = o
        .work_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/vdeperf-stream.{}", std::process::id())));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let dir = work.join("sw");
    let sock = work.join("stream.sock");
    let extra: Vec<OsString> = vec!["--stream".into(), sock.clone().into(), "--nostdin".into()];
    let sw = Switch::start_with("ours", &ours, &dir, 20, &extra)?;
    let t0 = Instant::now();
    while !sock.exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let tool = loadgen::load_tool(None, &work)?;
    let stream_url = PathBuf::from(format!(
        "{}{}",
        crate::load::port::STREAM_PREFIX,
        sock.display()
    ));
    let mut report = format!(
        "Switch: {} (pid {}), {} repetitions of {} s, median [range of the per-repetition \
         ratios]\n\n| test | vde: switch CPU ns/frame | stream: switch CPU ns/frame | CPU \
         stream/vde | vde: delivered frames/s | stream: delivered frames/s | rate stream/vde \
         |\n|---|---|---|---|---|---|---|\n",
        ours.display(),
        sw.pid(),
        o.reps,
        o.secs
    );
    for (name, args) in TESTS {
        let (mut cpu, mut rate) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
        for rep in 0..o.reps {
            // Alternate which goes first, so that a drift of the machine favours neither.
            let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
            for k in order {
                let target = if k == 0 { &dir } else { &stream_url };
                let tag = if k == 0 { "vde" } else { "stream" };
                let s = match loadgen::run(&tool, target, sw.pid(), o.secs, args, tag, stop) {
                    Ok(s) => s,
                    Err(RunError::Interrupted) => return Err("interrupted".into()),
                    Err(RunError::Failed(e)) => return Err(e),
                };
                if s.get("loss").is_some_and(|&l| l > 0.001) {
                    eprintln!("vdeperf stream: {name} over {tag} lost frames: {s:?}");
                }
                cpu[k].push(s.get("sw_cpu_ns_per_rx").copied().filter(|&v| v > 0.0));
                rate[k].push(s.get("rx_fps").copied());
            }
        }
        let med = |v: &[Option<f64>]| {
            median(&v.iter().flatten().copied().collect::<Vec<_>>())
                .map_or("-".to_string(), |m| format!("{m:.0}"))
        };
        let show = |r: Option<crate::stats::Ratio>| r.map_or("-".into(), |r| r.to_string());
        let _ = writeln!(
            report,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            med(&cpu[0]),
            med(&cpu[1]),
            show(ratio(&cpu[1], &cpu[0])),
            med(&rate[0]),
            med(&rate[1]),
            show(ratio(&rate[1], &rate[0])),
        );
    }
    drop(sw);
    let _ = std::fs::remove_dir_all(&work);
    Ok(report)
}
