//! vdeperf: our vde_switch against the reference vde_switch 2.3.2, one command.
//!
//!     cargo build --release -p vde-switch
//!     cargo run --release -p vde-benches --bin vdeperf            # full run, ~10 minutes
//!     cargo run --release -p vde-benches --bin vdeperf -- --smoke # ~20 s, checks the harness
//!     vdeperf load -s DIR -m uni -p 2 -t 3                        # one measurement by hand
//!     vdeperf floor pair                                          # one floor measurement
//!     vdeperf cable                                               # two switches: VXLAN vs dpipe
//!     vdeperf stream                                              # stream vs vde ports, ~2 min
//!
//! See PERFORMANCE.md for the method.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::{Parser, Subcommand};
use vde_benches::suite::{self, Config, GOAL_TESTS};
use vde_benches::{cable, floor, load};
use vde_benches::{target_dir, workspace_root};

#[derive(Parser, Debug)]
#[command(
    name = "vdeperf",
    about = "Benchmark our vde_switch against the reference vde_switch 2.3.2 (A/A control, interleaved), print the goal table",
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    tool: Option<Tool>,
    /// Our switch [default: TARGET/release/vde_switch]
    #[arg(long, conflicts_with = "commit")]
    ours: Option<PathBuf>,
    /// Measure our switch as of this git commit: vdeperf exports it (git archive) and builds it
    /// under TARGET/vdeperf/, leaving the work tree and TARGET/release alone
    #[arg(long)]
    commit: Option<String>,
    /// One more argument for our switch (repeatable), e.g. --ours-arg=--capture=all:/dev/null
    /// to measure the cost of a capture
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    ours_arg: Vec<String>,
    /// The reference switch
    #[arg(long, default_value = "/usr/bin/vde_switch")]
    reference: PathBuf,
    /// Cross-check: use vdebench.c and udslimit.c of this outside benchmark kit (built with gcc
    /// and libvdeplug-dev) instead of our own load generator and floor
    #[arg(long, value_name = "DIR")]
    kit: Option<PathBuf>,
    /// Repetitions of the goal suite (order of the switches alternates)
    #[arg(long, default_value_t = 5)]
    reps: u32,
    /// Seconds of sending per goal-suite run (whole seconds)
    #[arg(long, default_value_t = 3)]
    secs: u32,
    /// Goal-suite tests to run, comma separated [default: all]
    #[arg(long, value_delimiter = ',')]
    tests: Vec<String>,
    /// Port counts of the scaling curve
    #[arg(long, value_delimiter = ',', default_value = "2,8,32,64,128,256")]
    curve_ports: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    curve_reps: u32,
    #[arg(long, default_value_t = 2)]
    curve_secs: u32,
    /// Ports attached while reading RSS
    #[arg(long, default_value_t = 32)]
    rss_ports: usize,
    /// Frames with random source MACs sent to each switch
    #[arg(long, default_value_t = 500_000)]
    flood_frames: u64,
    /// Give up flooding one switch after this many seconds
    #[arg(long, default_value_t = 120)]
    flood_timeout: u64,
    /// Sections to run, comma separated: goals, curve, rss, flood, floor [default: all]
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// -n of the switches of the goal suite, RSS and flood (ports 1..n-1 are usable); the
    /// curve's switches get its largest point + 4
    #[arg(long, default_value_t = 40)]
    numports: usize,
    /// Append every raw result here (JSON lines)
    #[arg(long)]
    out: Option<PathBuf>,
    /// What is measured, printed in the report [default: the workspace's git commit]
    #[arg(long)]
    label: Option<String>,
    /// Scratch directory for sockets [default: /tmp/vdeperf.PID]
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Tiny run that only checks the harness works: 1 rep x 1 s of uni2_64B, curve at 8 ports,
    /// RSS, a 20k-frame flood, one rep of the floor
    #[arg(long)]
    smoke: bool,
}

/// "commit abc1234 (subject)", plus a note when switch/ or protocol/ have uncommitted changes.
fn git_label() -> String {
    let root = workspace_root();
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["log", "-1", "--format=%h %ad %s", "--date=short"]) else {
        return String::new();
    };
    let dirty =
        git(&["status", "--porcelain", "--", "switch", "protocol"]).is_some_and(|s| !s.is_empty());
    format!(
        "workspace commit {head}{}",
        if dirty {
            " + uncommitted changes in switch/ or protocol/"
        } else {
            ""
        }
    )
}

/// Export `rev` with git archive and build its vde_switch (release) under `target/vdeperf/`;
/// returns the binary and a label naming the commit.
fn build_commit(rev: &str, target: &Path) -> Result<(PathBuf, String), String> {
    let root = workspace_root();
    let git = |args: &[&str]| -> Result<String, String> {
        let o = Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .map_err(|e| format!("git: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let sha = git(&["rev-parse", "--verify", &format!("{rev}^{{commit}}")])?;
    let short = &sha[..12];
    let subject = git(&["log", "-1", "--format=%ad %s", "--date=short", &sha])?;
    let base = target.join("vdeperf");
    let src = base.join("src").join(short);
    if !src.join("Cargo.toml").exists() {
        std::fs::create_dir_all(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        eprintln!("exporting {short} to {}", src.display());
        let mut archive = Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["archive", "--format=tar", &sha])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("git archive: {e}"))?;
        let tar = Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(&src)
            .stdin(archive.stdout.take().expect("piped"))
            .status()
            .map_err(|e| format!("tar: {e}"))?;
        let git_ok = archive.wait().map_err(|e| e.to_string())?.success();
        if !tar.success() || !git_ok {
            let _ = std::fs::remove_dir_all(&src);
            return Err(format!("exporting {sha} failed"));
        }
    }
    let build_target = base.join("build");
    eprintln!("building vde_switch of {short} (cargo build --release)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let ok = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "vde-switch",
            "--bin",
            "vde_switch",
        ])
        .arg("--manifest-path")
        .arg(src.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&build_target)
        .status()
        .map_err(|e| format!("cargo: {e}"))?
        .success();
    if !ok {
        return Err(format!("building vde_switch of {sha} failed"));
    }
    let bin = base.join(format!("vde_switch-{short}"));
    std::fs::copy(build_target.join("release/vde_switch"), &bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok((
        bin,
        format!("commit {short} {subject} (built by vdeperf from git archive)"),
    ))
}

/// The measuring tools the harness runs as separate processes (they fork their clients, so
/// they run single-threaded, apart from the harness's threads).
#[derive(Subcommand, Debug)]
enum Tool {
    /// One load measurement with real libvdeplug clients, one process per port; prints one
    /// line of key=value results
    Load(load::Options),
    /// One measurement of the machine's datagram floor (no switch); prints one line of
    /// key=value results
    Floor(floor::own::Options),
    /// Frames between two switches: two of ours over a VXLAN uplink beside two references
    /// (and two of ours) over a dpipe cable; prints a Markdown table
    Cable(cable::Options),
    /// Stream ports (--stream, our QEMU-style stream client) against vde datagram ports on our
    /// switch, side by side; prints a Markdown table
    Stream(vde_benches::streams::Options),
}

fn run_tool(tool: &Tool) -> ExitCode {
    let r = match tool {
        Tool::Load(o) => load::run(o),
        Tool::Floor(o) => floor::own::run(o),
        Tool::Cable(o) => {
            let ours = o
                .ours
                .clone()
                .unwrap_or_else(|| target_dir().join("release/vde_switch"));
            let stop = suite::install_signal_flag();
            cable::run(o, &ours, &stop)
        }
        Tool::Stream(o) => {
            let ours = o
                .ours
                .clone()
                .unwrap_or_else(|| target_dir().join("release/vde_switch"));
            let stop = suite::install_signal_flag();
            vde_benches::streams::run(o, ours, &stop)
        }
    };
    match r {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vdeperf: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    if let Some(tool) = &a.tool {
        return run_tool(tool);
    }
    let target = target_dir();
    let sections = |s: &str| a.only.is_empty() || a.only.iter().any(|o| o == s);
    for s in &a.only {
        if !["goals", "curve", "rss", "flood", "floor"].contains(&s.as_str()) {
            eprintln!("vdeperf: unknown section {s:?} (goals, curve, rss, flood, floor)");
            return ExitCode::from(2);
        }
    }
    let mut tests = Vec::new();
    for name in &a.tests {
        match GOAL_TESTS.iter().find(|t| t.name == name) {
            Some(t) => tests.push(*t),
            None => {
                let known: Vec<&str> = GOAL_TESTS.iter().map(|t| t.name).collect();
                eprintln!(
                    "vdeperf: unknown test {name:?} (known: {})",
                    known.join(", ")
                );
                return ExitCode::from(2);
            }
        }
    }
    if tests.is_empty() {
        tests = GOAL_TESTS.to_vec();
    }
    let mut cfg = Config {
        ours: a
            .ours
            .clone()
            .unwrap_or_else(|| target.join("release/vde_switch")),
        ours_args: a.ours_arg.clone(),
        reference: a.reference.clone(),
        kit: a
            .kit
            .as_ref()
            .map(|k| k.canonicalize().unwrap_or(k.clone())),
        build_dir: target.join("vdeperf"),
        work_dir: a
            .work_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/vdeperf.{}", std::process::id()))),
        numports: a.numports,
        reps: a.reps.max(1),
        secs: a.secs.max(1),
        tests,
        curve_ports: a.curve_ports.clone(),
        curve_reps: a.curve_reps.max(1),
        curve_secs: a.curve_secs.max(1),
        rss_ports: a.rss_ports,
        flood_frames: a.flood_frames,
        flood_deadline: Duration::from_secs(a.flood_timeout),
        goals: sections("goals"),
        curve: sections("curve"),
        rss: sections("rss"),
        flood: sections("flood"),
        floor: sections("floor"),
        out: a.out.clone(),
        label: a.label.clone().unwrap_or_else(git_label),
    };
    if let Some(rev) = &a.commit {
        match build_commit(rev, &target) {
            Ok((bin, label)) => {
                cfg.ours = bin;
                if a.label.is_none() {
                    cfg.label = label;
                }
            }
            Err(e) => {
                eprintln!("vdeperf: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if a.smoke {
        cfg.reps = 1;
        cfg.secs = 1;
        cfg.tests = GOAL_TESTS
            .iter()
            .filter(|t| t.name == "uni2_64B")
            .copied()
            .collect();
        cfg.curve_ports = vec![8];
        cfg.curve_reps = 1;
        cfg.curve_secs = 1;
        cfg.flood_frames = 20_000;
        cfg.label = format!("smoke run; {}", cfg.label);
    }
    let stop = suite::install_signal_flag();
    match suite::run(&cfg, stop.clone()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vdeperf: {e}");
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
