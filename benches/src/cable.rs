//! `vdeperf cable`: frames between two switches. Two of ours joined by a VXLAN uplink (over
//! the loopback network, 127.0.0.1 and 127.0.0.2), beside two references joined by a `dpipe`
//! cable (`dpipe vde_plug A = vde_plug B`, the classic way to join switches), and two of ours
//! on the same kind of cable (which separates the cost of the switches from that of the cable).
//!
//! Each run is `vdeperf load -m uni -p 2`: the sender on the first switch, the receiver on the
//! second, so every frame crosses. The CPU per frame counts both switches and, for the dpipe
//! cable, its three processes (`dpipe` and its two `vde_plug`s); a VXLAN uplink has no process
//! of its own (the kernel's UDP work is charged to the switches). Repetitions interleave the
//! three setups, alternating their order; medians and ranges are printed as a Markdown table.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::loadgen::{self, Sample, Tool};
use crate::proc::{cpu_ns, Switch};
use crate::stats::{median, min_max};

/// `vdeperf cable` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Our switch [default: TARGET/release/vde_switch]
    #[arg(long)]
    pub ours: Option<PathBuf>,
    /// The reference switch
    #[arg(long, default_value = "/usr/bin/vde_switch")]
    pub reference: PathBuf,
    /// Repetitions (the order of the setups alternates)
    #[arg(long, default_value_t = 3)]
    pub reps: u32,
    /// Seconds of sending per run
    #[arg(long, default_value_t = 3)]
    pub secs: u32,
    /// Frame lengths without FCS, comma separated
    #[arg(long, value_delimiter = ',', default_value = "60,1514")]
    pub lens: Vec<usize>,
    /// Scratch directory for sockets [default: /tmp/vdeperf-cable.PID]
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// How the two switches are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Dpipe,
    Vxlan,
}

/// One setup: which switch, how joined.
#[derive(Debug, Clone, Copy)]
struct Setup {
    name: &'static str,
    ours: bool,
    join: Join,
}

const SETUPS: [Setup; 3] = [
    Setup {
        name: "reference, dpipe cable",
        ours: false,
        join: Join::Dpipe,
    },
    Setup {
        name: "ours, dpipe cable",
        ours: true,
        join: Join::Dpipe,
    },
    Setup {
        name: "ours, VXLAN uplink",
        ours: true,
        join: Join::Vxlan,
    },
];

/// `dpipe vde_plug A = vde_plug B` in a process group of its own, killed on drop.
struct Cable {
    child: Child,
}

impl Cable {
    fn start(a: &Path, b: &Path) -> Result<Cable, String> {
        let mut cmd = Command::new("dpipe");
        cmd.arg("vde_plug")
            .arg(a)
            .arg("=")
            .arg("vde_plug")
            .arg(b)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run dpipe (package vde2): {e}"))?;
        Ok(Cable { child })
    }

    /// dpipe and its children (the two vde_plugs).
    fn pids(&self) -> Vec<u32> {
        let pid = self.child.id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        std::iter::once(pid)
            .chain(children.split_whitespace().filter_map(|p| p.parse().ok()))
            .collect()
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group made for this cable.
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Two switches, joined.
struct Pair {
    a: Switch,
    b: Switch,
    cable: Option<Cable>,
}

impl Pair {
    fn start(setup: Setup, bin: &Path, work: &Path, port: u16) -> Result<Pair, String> {
        let tag = if setup.ours { "ours" } else { "ref" };
        let (xa, xb) = match setup.join {
            Join::Dpipe => (Vec::new(), Vec::new()),
            Join::Vxlan => {
                let spec = |me: &str, peer: &str| {
                    vec![
                        std::ffi::OsString::from("--vxlan"),
                        format!("vni=1,local={me},port={port},remote={peer}").into(),
                    ]
                };
                (
                    spec("127.0.0.1", "127.0.0.2"),
                    spec("127.0.0.2", "127.0.0.1"),
                )
            }
        };
        let a = Switch::start_with(
            &format!("{tag}-a"),
            bin,
            &work.join(format!("{tag}-a")),
            8,
            &xa,
        )?;
        let b = Switch::start_with(
            &format!("{tag}-b"),
            bin,
            &work.join(format!("{tag}-b")),
            8,
            &xb,
        )?;
        let cable = match setup.join {
            Join::Dpipe => {
                let c = Cable::start(&a.dir, &b.dir)?;
                // Both plugs connected: three processes, and a moment for the handshakes.
                let t0 = Instant::now();
                while c.pids().len() < 3 {
                    if t0.elapsed() > Duration::from_secs(5) {
                        return Err("the dpipe cable did not start its two vde_plugs".into());
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(Duration::from_millis(300));
                Some(c)
            }
            Join::Vxlan => None,
        };
        Ok(Pair { a, b, cable })
    }

    fn measure(
        &self,
        tool: &Tool,
        secs: u32,
        len: usize,
        stop: &AtomicBool,
    ) -> Result<Sample, String> {
        let mut args = format!(
            "-m uni -p 2 -l {len} -S {} --also-pid {}",
            self.b.dir.display(),
            self.b.pid()
        );
        for p in self.cable.iter().flat_map(Cable::pids) {
            // Only processes that exist: the count is of what ran.
            if cpu_ns(p).is_some() {
                args.push_str(&format!(" --also-pid {p}"));
            }
        }
        loadgen::run(tool, &self.a.dir, self.a.pid(), secs, &args, "cable", stop).map_err(|e| {
            match e {
                loadgen::RunError::Interrupted => "interrupted".to_string(),
                loadgen::RunError::Failed(s) => s,
            }
        })
    }
}

/// A port free on 127.0.0.1 and 127.0.0.2 for the uplinks (the kernel picks it).
fn free_port() -> Result<u16, String> {
    for _ in 0..20 {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = a.local_addr().map_err(|e| e.to_string())?.port();
        if std::net::UdpSocket::bind(("127.0.0.2", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no UDP port free on both 127.0.0.1 and 127.0.0.2".into())
}

/// Run the comparison and print the table.
pub fn run(o: &Options, ours: &Path, stop: &AtomicBool) -> Result<String, String> {
    crate::load::vdeplug::available()?;
    let tool = Tool::ours("load")?;
    let work = o
        .work_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/vdeperf-cable.{}", std::process::id())));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    // (setup, len) -> samples
    let mut samples: Vec<Vec<Vec<Sample>>> = vec![vec![Vec::new(); o.lens.len()]; SETUPS.len()];
    let result = (|| {
        for rep in 0..o.reps {
            let order: Vec<usize> = if rep % 2 == 0 {
                (0..SETUPS.len()).collect()
            } else {
                (0..SETUPS.len()).rev().collect()
            };
            for &s in &order {
                let setup = SETUPS[s];
                let bin = if setup.ours { ours } else { &o.reference };
                let pair = Pair::start(setup, bin, &work, free_port()?)?;
                for (l, &len) in o.lens.iter().enumerate() {
                    let sample = pair.measure(&tool, o.secs, len, stop)?;
                    eprintln!(
                        "rep {rep} {} {len}B: {:.0} frames/s delivered, loss {:.3}, {:.0} ns CPU per frame",
                        setup.name,
                        sample.get("rx_fps").copied().unwrap_or(-1.0),
                        sample.get("loss").copied().unwrap_or(-1.0),
                        sample.get("sw_cpu_ns_per_rx").copied().unwrap_or(-1.0),
                    );
                    samples[s][l].push(sample);
                }
            }
        }
        Ok::<(), String>(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result?;
    Ok(table(o, &samples))
}

fn values(v: &[Sample], key: &str) -> Vec<f64> {
    v.iter().filter_map(|s| s.get(key).copied()).collect()
}

fn table(o: &Options, samples: &[Vec<Vec<Sample>>]) -> String {
    let mut out = String::from(
        "| setup | frame | delivered frames/s | loss | CPU per frame, switches + cable (ns) | CPU per frame / reference |\n\
         | --- | --- | --- | --- | --- | --- |\n"
    );
    for (l, len) in o.lens.iter().enumerate() {
        let base = median(&values(&samples[0][l], "sw_cpu_ns_per_rx"));
        for (s, setup) in SETUPS.iter().enumerate() {
            let v = &samples[s][l];
            let fps = values(v, "rx_fps");
            let cpu = values(v, "sw_cpu_ns_per_rx");
            let loss = values(v, "loss");
            let range = |x: &[f64], digits: usize| match (median(x), min_max(x)) {
                (Some(m), Some((lo, hi))) => {
                    format!("{m:.digits$} [{lo:.digits$}..{hi:.digits$}]")
                }
                _ => "-".into(),
            };
            let ratio = match (median(&cpu), base) {
                (Some(c), Some(b)) if b > 0.0 => format!("{:.2}x", c / b),
                _ => "-".into(),
            };
            out.push_str(&format!(
                "| {} | {} B | {} | {} | {} | {} |\n",
                setup.name,
                len + 4,
                range(&fps, 0),
                range(&loss, 3),
                range(&cpu, 0),
                ratio
            ));
        }
    }
    out
}
