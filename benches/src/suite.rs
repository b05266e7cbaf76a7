//! The benchmark run: start the reference twice (A/A control) and our switch, run the goal
//! suite interleaved, the port-scaling curve, RSS with 32 ports and a MAC flood, then print
//! the report (Markdown tables, pasteable into PERFORMANCE.md).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client::{self, FloodPoint, PortSet, StuckLoad, VdePort};
use crate::floor::{self, FloorTest, FLOOR_TESTS};
use crate::proc::{self, Switch};
use crate::stats::{self, Ratio};
use crate::vdebench::{self, RunError, Sample};

pub const REF: &str = "ref";
pub const REFB: &str = "refB";
pub const OURS: &str = "ours";

/// One vdebench measurement of the goal suite.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    pub name: &'static str,
    /// vdebench arguments besides -s/-P/-t/-T.
    pub args: &'static str,
    /// Run with a stuck receiver and a sender flooding it on two other ports.
    pub stuck: bool,
}

/// The tests behind the goals of issue 6 (names as in the kit's compare.py where they exist).
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

/// When the stuck test's blaster starts, after vdebench is launched: its clients are attached
/// (vdebench needs a few ms) and the stuck port has announced itself again since.
const STUCK_DELAY: Duration = Duration::from_millis(500);

/// How long the blaster runs: until 0.1 s after the nominal end of vdebench's sending (its
/// senders start about 0.3 s after launch), i.e. before its ports detach.
fn stuck_active(secs: u32) -> Duration {
    Duration::from_millis(u64::from(secs) * 1000 - 100).saturating_sub(Duration::from_millis(300))
}

/// The 1→1 test the scaling curve runs, with the other ports attached and idle.
const CURVE_ARGS: &str = "-m uni -p 2 -l 60";

#[derive(Debug, Clone)]
pub struct Config {
    pub ours: PathBuf,
    pub reference: PathBuf,
    pub kit: PathBuf,
    /// Where vdebench is built.
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
    /// The machine's datagram floors (the kit's udslimit, no switch).
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

/// Everything measured, by (test, switch), one slot per repetition.
#[derive(Default)]
pub struct Results {
    runs: HashMap<(String, String), Vec<Option<Sample>>>,
    /// (switch, VmRSS kB, VmHWM kB) with `rss_ports` ports attached.
    rss: Vec<(String, u64, u64)>,
    flood: Vec<(String, Vec<FloodPoint>)>,
    /// Frames/s the stuck test's blaster got accepted, per switch, per run.
    blaster: HashMap<String, Vec<f64>>,
    /// ns per frame of each floor test, per repetition.
    floor: Vec<(FloorTest, Vec<f64>)>,
    notes: Vec<String>,
    header: Vec<String>,
}

impl Results {
    fn push(&mut self, test: &str, sw: &str, rep: u32, s: Option<Sample>) {
        let v = self
            .runs
            .entry((test.to_string(), sw.to_string()))
            .or_default();
        if v.len() <= rep as usize {
            v.resize(rep as usize + 1, None);
        }
        v[rep as usize] = s;
    }

    /// Per-repetition values of one key.
    pub fn values(&self, test: &str, sw: &str, key: &str) -> Vec<Option<f64>> {
        self.runs
            .get(&(test.to_string(), sw.to_string()))
            .map(|v| {
                v.iter()
                    .map(|s| s.as_ref().and_then(|s| s.get(key).copied()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn present(&self, test: &str, sw: &str, key: &str) -> Vec<f64> {
        self.values(test, sw, key).into_iter().flatten().collect()
    }

    pub fn median(&self, test: &str, sw: &str, key: &str) -> Option<f64> {
        stats::median(&self.present(test, sw, key))
    }

    pub fn ratio(&self, test: &str, sw: &str, base: &str, key: &str) -> Option<Ratio> {
        stats::ratio(&self.values(test, sw, key), &self.values(test, base, key))
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

struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

enum Stop {
    Interrupted,
    Error(String),
}

impl From<String> for Stop {
    fn from(e: String) -> Stop {
        Stop::Error(e)
    }
}

/// One vdebench measurement to make on each switch.
#[derive(Clone, Copy)]
struct Job<'a> {
    section: &'a str,
    test: &'a str,
    args: &'a str,
    secs: u32,
    stuck: bool,
}

struct Run<'a> {
    cfg: &'a Config,
    vdebench: PathBuf,
    stop: Arc<AtomicBool>,
    raw: Option<File>,
    clients: PathBuf,
    res: Results,
}

/// Run everything the config asks for and print the report on stdout (progress on stderr).
/// Returns Err on failure; an interruption prints what was measured and returns Err too.
pub fn run(cfg: &Config, stop: Arc<AtomicBool>) -> Result<(), String> {
    proc::raise_nofile_limit();
    if !cfg.ours.exists() {
        return Err(format!(
            "our switch {} does not exist: build it with `cargo build --release -p vde-switch` \
             (or pass --ours PATH)",
            cfg.ours.display()
        ));
    }
    if !cfg.reference.exists() {
        return Err(format!(
            "the reference {} does not exist: install it with `apt-get install vde2` \
             (or pass --reference PATH)",
            cfg.reference.display()
        ));
    }
    let vdebench = vdebench::build(&cfg.kit, &cfg.build_dir)?;
    let _ = std::fs::remove_dir_all(&cfg.work_dir);
    std::fs::create_dir_all(cfg.work_dir.join("c"))
        .map_err(|e| format!("{}: {e}", cfg.work_dir.display()))?;
    let work = WorkDir(cfg.work_dir.clone());
    let raw = match &cfg.out {
        Some(p) => Some(File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let mut run = Run {
        cfg,
        vdebench,
        stop,
        raw,
        clients: work.0.join("c"),
        res: Results::default(),
    };
    run.header();

    // Declared after `work`, so dropped (stopped) before the directory goes.
    let mut switches = Vec::new();
    let outcome = run.start_and_measure(&mut switches);
    stop_all(&mut switches);
    match outcome {
        Ok(()) => {
            print!("{}", report(cfg, &run.res));
            Ok(())
        }
        Err(Stop::Interrupted) => {
            print!("{}", report(cfg, &run.res));
            Err("interrupted: the report above is partial".into())
        }
        Err(Stop::Error(e)) => {
            print!("{}", report(cfg, &run.res));
            Err(e)
        }
    }
}

impl Run<'_> {
    fn header(&mut self) {
        let cfg = self.cfg;
        let h = &mut self.res.header;
        h.push(format!("machine: {}", proc::machine_description()));
        if !cfg.label.is_empty() {
            h.push(format!("measured: {}", cfg.label));
        }
        h.push(format!(
            "ours: {}{}",
            cfg.ours.display(),
            mtime_note(&cfg.ours)
        ));
        h.push(format!(
            "reference: {} (twice: ref and refB, the A/A control)",
            cfg.reference.display()
        ));
        h.push(format!(
            "clients: vdebench from {} (libvdeplug), and vdeperf's own vde-protocol client for idle ports, the stuck receiver and the MAC flood",
            cfg.kit.join("vdebench.c").display()
        ));
        h.push(format!(
            "each switch in its own session; goal suite, RSS and flood on switches started with -n {} ({} reps x {} s), curve on new ones with -n {} ({} reps x {} s); order alternates per rep",
            cfg.numports, cfg.reps, cfg.secs, cfg.curve_numports(), cfg.curve_reps, cfg.curve_secs
        ));
    }

    fn interrupted(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn check(&self) -> Result<(), Stop> {
        if self.interrupted() {
            Err(Stop::Interrupted)
        } else {
            Ok(())
        }
    }

    fn start_and_measure(&mut self, switches: &mut Vec<Switch>) -> Result<(), Stop> {
        let busy = proc::machine_busy(Duration::from_millis(700));
        if busy > 0.10 {
            let hogs = proc::busy_processes(Duration::from_millis(500), 0.05, &[]);
            let list: Vec<String> = hogs
                .iter()
                .map(|(pid, comm, s)| format!("{comm}[{pid}] {:.0} %", s * 100.0))
                .collect();
            let msg = format!(
                "WARNING: the machine was {:.0} % busy before the run ({}): results are noisier",
                busy * 100.0,
                if list.is_empty() {
                    "no single process".to_string()
                } else {
                    list.join(", ")
                }
            );
            eprintln!("{msg}");
            self.res.notes.push(msg);
        } else {
            self.res
                .header
                .push(format!("machine {:.0} % busy before the run", busy * 100.0));
        }
        if self.cfg.goals || self.cfg.rss || self.cfg.flood {
            self.start_set(switches, self.cfg.numports)?;
            if self.cfg.goals {
                self.goals(switches)?;
                self.alive(switches)?;
            }
            if self.cfg.rss {
                self.rss(switches)?;
                self.alive(switches)?;
            }
            if self.cfg.flood {
                self.flood(switches)?;
                self.alive(switches)?;
            }
            stop_all(switches);
        }
        if self.cfg.curve {
            let numports = self.cfg.curve_numports();
            self.start_set(switches, numports)?;
            self.curve(switches, numports)?;
            self.alive(switches)?;
            stop_all(switches);
        }
        if self.cfg.floor {
            self.floor()?;
        }
        Ok(())
    }

    /// The kit's udslimit on the quiet machine (every switch stopped): what moving one
    /// datagram costs the kernel here, and what minimal C forwarders cost.
    fn floor(&mut self) -> Result<(), Stop> {
        let cfg = self.cfg;
        let udslimit = vdebench::build_kit_tool(&cfg.kit, &cfg.build_dir, "udslimit", &[])
            .map_err(Stop::Error)?;
        let mut got: Vec<(FloorTest, Vec<f64>)> =
            FLOOR_TESTS.iter().map(|t| (*t, Vec::new())).collect();
        for rep in 0..cfg.reps {
            eprintln!("floor: rep {}/{}", rep + 1, cfg.reps);
            for (t, values) in got.iter_mut() {
                self.check()?;
                match floor::run(&udslimit, t) {
                    Ok(sample) => {
                        if let Some(v) = sample.get(t.key) {
                            values.push(*v);
                        }
                        self.raw("floor", t.name, "none", rep, &Some(sample));
                    }
                    Err(e) => {
                        eprintln!("floor: {e}");
                        self.raw("floor", t.name, "none", rep, &None);
                    }
                }
            }
        }
        self.res.floor = got;
        Ok(())
    }

    /// Start ref, refB and ours with `-n numports` (into `switches`, which the caller stops).
    fn start_set(&mut self, switches: &mut Vec<Switch>, numports: usize) -> Result<(), Stop> {
        for (name, bin) in [
            (REF, &self.cfg.reference),
            (REFB, &self.cfg.reference),
            (OURS, &self.cfg.ours),
        ] {
            let sw = Switch::start(name, bin, &self.cfg.work_dir.join(name), numports)?;
            eprintln!(
                "started {name}: {} -n {numports}, pid {}",
                bin.display(),
                sw.pid()
            );
            switches.push(sw);
        }
        self.idle_check(switches);
        Ok(())
    }

    /// A switch that burns CPU while idle (busy polling) steals a core from every other
    /// measurement on a 2-core machine: say so.
    fn idle_check(&mut self, switches: &[Switch]) {
        let before: Vec<Option<u64>> = switches.iter().map(Switch::cpu_ns).collect();
        let window = Duration::from_millis(500);
        std::thread::sleep(window);
        for (sw, b) in switches.iter().zip(before) {
            if let (Some(b), Some(a)) = (b, sw.cpu_ns()) {
                let share = (a - b) as f64 / window.as_nanos() as f64;
                if share > 0.05 {
                    let msg = format!(
                        "WARNING: {} uses {:.0} % of a CPU while idle (busy polling?): it slows the other switches' runs",
                        sw.name,
                        share * 100.0
                    );
                    eprintln!("{msg}");
                    self.res.notes.push(msg);
                }
            }
        }
    }

    fn alive(&self, switches: &mut [Switch]) -> Result<(), Stop> {
        for sw in switches.iter_mut() {
            if !sw.alive() {
                let log = std::fs::read_to_string(&sw.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                return Err(Stop::Error(format!(
                    "switch {} (pid {}) died; last lines of its output:\n{}",
                    sw.name,
                    sw.pid(),
                    tail.join("\n")
                )));
            }
        }
        Ok(())
    }

    fn raw(&mut self, section: &str, test: &str, sw: &str, rep: u32, s: &Option<Sample>) {
        if let Some(f) = self.raw.as_mut() {
            let mut m = serde_json::Map::new();
            m.insert("section".into(), section.into());
            m.insert("test".into(), test.into());
            m.insert("switch".into(), sw.into());
            m.insert("rep".into(), rep.into());
            m.insert("ok".into(), s.is_some().into());
            for (k, v) in s.iter().flatten() {
                m.insert(k.clone(), serde_json::json!(v));
            }
            let _ = writeln!(f, "{}", serde_json::Value::Object(m));
        }
    }

    /// One vdebench run on one switch; a failed run is recorded as missing, not fatal.
    fn measure(&mut self, job: &Job, sw: &Switch, rep: u32) -> Result<(), Stop> {
        let Job {
            section,
            test,
            args,
            secs,
            stuck,
        } = *job;
        self.check()?;
        let load = if stuck {
            Some(
                StuckLoad::start(
                    &sw.dir,
                    &self.clients.join(format!("{}-stuck", sw.name)),
                    STUCK_DELAY,
                    stuck_active(secs),
                )
                .map_err(|e| Stop::Error(format!("stuck load on {}: {e}", sw.name)))?,
            )
        } else {
            None
        };
        let r = vdebench::run(
            &self.vdebench,
            &sw.dir,
            sw.pid(),
            secs,
            args,
            &format!("{}:{test}", sw.name),
            &self.stop,
        );
        if let Some(load) = load {
            let sent = load.stop();
            self.res
                .blaster
                .entry(sw.name.clone())
                .or_default()
                .push(sent as f64 / stuck_active(secs).as_secs_f64());
        }
        let sample = match r.map(add_cpu_shares) {
            Ok(s) => {
                eprintln!(
                    "  {section} rep {rep} {test:<16} {:<5} rx_fps={:>8.0} loss={:.4} sw_cpu_ns_per_rx={:.0}",
                    sw.name,
                    s.get("rx_fps").copied().unwrap_or(f64::NAN),
                    s.get("loss").copied().unwrap_or(f64::NAN),
                    s.get("sw_cpu_ns_per_rx").copied().unwrap_or(f64::NAN),
                );
                Some(s)
            }
            Err(RunError::Interrupted) => return Err(Stop::Interrupted),
            Err(RunError::Failed(e)) => {
                eprintln!("  {section} rep {rep} {test} {}: FAILED: {e}", sw.name);
                self.res
                    .notes
                    .push(format!("{test} rep {rep} on {} failed: {e}", sw.name));
                None
            }
        };
        self.raw(section, test, &sw.name, rep, &sample);
        self.res.push(test, &sw.name, rep, sample);
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    fn goals(&mut self, switches: &[Switch]) -> Result<(), Stop> {
        let cfg = self.cfg;
        for sw in switches {
            std::fs::create_dir_all(self.clients.join(format!("{}-stuck", sw.name)))
                .map_err(|e| Stop::Error(e.to_string()))?;
        }
        for rep in 0..cfg.reps {
            eprintln!("goal suite: rep {}/{}", rep + 1, cfg.reps);
            let order: Vec<&Switch> = if rep % 2 == 0 {
                switches.iter().collect()
            } else {
                switches.iter().rev().collect()
            };
            for t in &cfg.tests {
                for sw in &order {
                    let job = Job {
                        section: "goals",
                        test: t.name,
                        args: t.args,
                        secs: cfg.secs,
                        stuck: t.stuck,
                    };
                    self.measure(&job, sw, rep)?;
                }
            }
        }
        Ok(())
    }

    fn curve(&mut self, switches: &[Switch], numports: usize) -> Result<(), Stop> {
        let cfg = self.cfg;
        for &n in &cfg.curve_ports {
            self.check()?;
            if n < 2 || n + 1 > numports {
                return Err(Stop::Error(format!(
                    "curve point {n} ports needs 2 <= n <= numports - 1 ({})",
                    numports - 1
                )));
            }
            eprintln!("curve: {n} ports attached (1->1 plus {} idle)", n - 2);
            let mut idle = Vec::new();
            for sw in switches {
                let dir = self.clients.join(format!("{}-idle{n}", sw.name));
                std::fs::create_dir_all(&dir).map_err(|e| Stop::Error(e.to_string()))?;
                idle.push(PortSet::attach(&sw.dir, &dir, "p", n - 2).map_err(|e| {
                    Stop::Error(format!("attaching idle ports to {}: {e}", sw.name))
                })?);
            }
            let test = format!("curve{n}");
            for rep in 0..cfg.curve_reps {
                let order: Vec<&Switch> = if rep % 2 == 0 {
                    switches.iter().collect()
                } else {
                    switches.iter().rev().collect()
                };
                for sw in order {
                    let job = Job {
                        section: "curve",
                        test: &test,
                        args: CURVE_ARGS,
                        secs: cfg.curve_secs,
                        stuck: false,
                    };
                    self.measure(&job, sw, rep)?;
                }
            }
            drop(idle);
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    }

    fn rss(&mut self, switches: &[Switch]) -> Result<(), Stop> {
        let n = self.cfg.rss_ports;
        if n + 1 > self.cfg.numports {
            return Err(Stop::Error(format!(
                "RSS with {n} ports needs -n {} at least (--numports)",
                n + 1
            )));
        }
        eprintln!("RSS with {n} ports attached");
        for sw in switches {
            self.check()?;
            let dir = self.clients.join(format!("{}-rss", sw.name));
            std::fs::create_dir_all(&dir).map_err(|e| Stop::Error(e.to_string()))?;
            let set = PortSet::attach(&sw.dir, &dir, "r", n)
                .map_err(|e| Stop::Error(format!("attaching {n} ports to {}: {e}", sw.name)))?;
            set.announce(0x33);
            std::thread::sleep(Duration::from_millis(300));
            set.drain();
            let rss = sw.status_kb("VmRSS").unwrap_or(0);
            let hwm = sw.status_kb("VmHWM").unwrap_or(0);
            eprintln!("  {}: VmRSS {rss} kB, VmHWM {hwm} kB", sw.name);
            self.res.rss.push((sw.name.clone(), rss, hwm));
            drop(set);
        }
        Ok(())
    }

    fn flood(&mut self, switches: &[Switch]) -> Result<(), Stop> {
        let frames = self.cfg.flood_frames;
        for sw in switches.iter().filter(|s| s.name != REFB) {
            self.check()?;
            eprintln!(
                "MAC flood: {frames} frames with random source MACs into {}",
                sw.name
            );
            let dir = self.clients.join(format!("{}-flood", sw.name));
            std::fs::create_dir_all(&dir).map_err(|e| Stop::Error(e.to_string()))?;
            let port = VdePort::attach(&sw.dir, &dir.join("f"), "vdeperf flood")
                .map_err(|e| Stop::Error(format!("attaching to {}: {e}", sw.name)))?;
            std::thread::sleep(Duration::from_millis(200));
            let points = client::mac_flood(
                &port,
                frames,
                5,
                self.cfg.flood_deadline,
                &self.stop,
                || sw.status_kb("VmRSS").unwrap_or(0),
            )
            .map_err(|e| Stop::Error(format!("flooding {}: {e}", sw.name)))?;
            for p in &points {
                eprintln!(
                    "  {}: {} frames, VmRSS {} kB ({:.1} s)",
                    sw.name, p.frames, p.rss_kb, p.secs
                );
            }
            self.res.flood.push((sw.name.clone(), points));
            drop(port);
            self.check()?;
        }
        Ok(())
    }
}

fn stop_all(switches: &mut Vec<Switch>) {
    for sw in switches.iter_mut() {
        sw.stop();
    }
    switches.clear();
}

fn mtime_note(p: &Path) -> String {
    let Ok(m) = std::fs::metadata(p).and_then(|m| m.modified()) else {
        return String::new();
    };
    let age = m.elapsed().map_or(0, |d| d.as_secs());
    format!(" (built {} ago)", human_age(age))
}

fn human_age(s: u64) -> String {
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

// ------------------------------------------------------------------------- report

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Every repetition meets the goal.
    Met,
    /// The median meets it, some repetitions do not.
    MetMedian,
    NotMet,
    NotMeasured,
}

impl Status {
    fn text(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::MetMedian => "met (median; not every rep)",
            Status::NotMet => "NOT met",
            Status::NotMeasured => "not measured",
        }
    }
}

fn ratio_status(r: Option<Ratio>, ok: impl Fn(f64) -> bool) -> Status {
    match r {
        None => Status::NotMeasured,
        Some(r) if ok(r.min) && ok(r.max) => Status::Met,
        Some(r) if ok(r.median) => Status::MetMedian,
        Some(_) => Status::NotMet,
    }
}

fn fmt_value(key: &str, v: f64) -> String {
    match key {
        "rx_fps" | "tx_fps" => format!("{:.0} k/s", v / 1000.0),
        "loss" => format!("{:.2} %", v * 100.0),
        k if k.contains("_ns_") => format!("{v:.0} ns"),
        "cpu_busy" => format!("{:.0} %", v * 100.0),
        _ => format!("{v:.0}"),
    }
}

fn fmt_range(key: &str, v: &[f64]) -> String {
    match (stats::median(v), stats::min_max(v)) {
        (Some(m), Some((lo, hi))) if v.len() > 1 => format!(
            "{} [{}..{}]",
            fmt_value(key, m),
            fmt_value(key, lo),
            fmt_value(key, hi)
        ),
        (Some(m), _) => fmt_value(key, m),
        _ => "n/a".into(),
    }
}

fn fmt_ratio(r: Option<Ratio>) -> String {
    r.map_or("n/a".into(), |r| r.to_string())
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

/// A Markdown table with aligned columns.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            let _ = write!(s, " {c}{} |", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = line(head.iter().map(|h| h.to_string()).collect());
    out += &line(w.iter().map(|n| "-".repeat(*n)).collect());
    for r in rows {
        out += &line(r.clone());
    }
    out
}

/// One row of the goal table.
struct Goal {
    goal: String,
    measure: String,
    reference: String,
    aa: String,
    ours: String,
    target: String,
    status: Status,
}

impl Goal {
    fn cells(self) -> Vec<String> {
        vec![
            self.goal,
            self.measure,
            self.reference,
            self.aa,
            self.ours,
            self.target,
            self.status.text().into(),
        ]
    }
}

fn ratio_goal(
    res: &Results,
    goal: &str,
    test: &str,
    key: &str,
    target: f64,
    at_most: bool,
) -> Goal {
    let ours = res.ratio(test, OURS, REF, key);
    let ok = |x: f64| if at_most { x <= target } else { x >= target };
    Goal {
        goal: goal.into(),
        measure: format!("{test} {key}"),
        reference: fmt_range(key, &res.present(test, REF, key)),
        aa: fmt_ratio(res.ratio(test, REFB, REF, key)),
        ours: fmt_ratio(ours),
        target: format!("{} {target:.2}x", if at_most { "≤" } else { "≥" }),
        status: ratio_status(ours, ok),
    }
}

/// Frames lost per repetition (tx - rx), from vdebench's counts.
fn lost(res: &Results, test: &str, sw: &str) -> Vec<Option<f64>> {
    res.values(test, sw, "tx")
        .into_iter()
        .zip(res.values(test, sw, "rx"))
        .map(|(t, r)| Some((t? - r?).max(0.0)))
        .collect()
}

fn loss_goal(res: &Results, test: &str) -> Goal {
    let key = "loss";
    let lost_ours: Vec<f64> = lost(res, test, OURS).into_iter().flatten().collect();
    let reps_lossy = lost_ours.iter().filter(|&&l| l > 0.0).count();
    Goal {
        goal: "1→1 sender flat out: no loss".into(),
        measure: format!("{test} loss"),
        reference: fmt_range(key, &res.present(test, REF, key)),
        aa: format!("refB {}", fmt_range(key, &res.present(test, REFB, key))),
        ours: if lost_ours.is_empty() {
            "n/a".into()
        } else {
            format!(
                "{} ({reps_lossy} of {} reps lost frames)",
                fmt_range(key, &res.present(test, OURS, key)),
                lost_ours.len()
            )
        },
        target: "0 in every rep".into(),
        status: if lost_ours.is_empty() {
            Status::NotMeasured
        } else if reps_lossy == 0 {
            Status::Met
        } else {
            Status::NotMet
        },
    }
}

fn stuck_goal(res: &Results, test: &str) -> Goal {
    let key = "rx_fps";
    let r = res.ratio(test, OURS, REF, key);
    let lost_ours: Vec<f64> = lost(res, test, OURS).into_iter().flatten().collect();
    let reps_lossy = lost_ours.iter().filter(|&&l| l > 0.0).count();
    let flows = ratio_status(r, |x| x >= 0.5);
    let status = match flows {
        Status::NotMeasured => Status::NotMeasured,
        _ if reps_lossy > 0 => Status::NotMet,
        s => s,
    };
    Goal {
        goal: "stuck receiver on 2 other ports: the 1→1 pair keeps flowing".into(),
        measure: format!("{test} rx_fps, loss"),
        reference: format!(
            "{}, loss {}",
            fmt_range(key, &res.present(test, REF, key)),
            fmt_range("loss", &res.present(test, REF, "loss"))
        ),
        aa: fmt_ratio(res.ratio(test, REFB, REF, key)),
        ours: if lost_ours.is_empty() {
            "n/a".into()
        } else {
            format!(
                "{}, loss {}",
                fmt_ratio(r),
                fmt_range("loss", &res.present(test, OURS, "loss"))
            )
        },
        target: "≥ 0.50x, loss 0".into(),
        status,
    }
}

/// Median sw_cpu_ns_per_rx of one switch at the smallest and the largest curve point.
fn curve_ends(res: &Results, cfg: &Config, sw: &str) -> Option<(usize, f64, usize, f64)> {
    let lo = *cfg.curve_ports.iter().min()?;
    let hi = *cfg.curve_ports.iter().max()?;
    if lo == hi {
        return None;
    }
    let key = "sw_cpu_ns_per_rx";
    Some((
        lo,
        res.median(&format!("curve{lo}"), sw, key)?,
        hi,
        res.median(&format!("curve{hi}"), sw, key)?,
    ))
}

fn flat_goal(res: &Results, cfg: &Config) -> Goal {
    let cell = |sw| {
        curve_ends(res, cfg, sw).map_or("n/a".into(), |(_, a, _, b)| {
            format!("{:.2}x ({a:.0} → {b:.0} ns)", b / a)
        })
    };
    let ours = curve_ends(res, cfg, OURS);
    let limit = 1.25;
    Goal {
        goal: "per-frame cost flat from 2 to 256 ports".into(),
        measure: ours.map_or("curve sw_cpu_ns_per_rx".into(), |(lo, _, hi, _)| {
            format!("curve{hi} / curve{lo} sw_cpu_ns_per_rx, same switch")
        }),
        reference: cell(REF),
        aa: format!("refB {}", cell(REFB)),
        ours: cell(OURS),
        target: format!("ours ≤ {limit:.2}x"),
        status: match ours {
            None => Status::NotMeasured,
            Some((_, a, _, b)) if b / a <= limit => Status::Met,
            Some(_) => Status::NotMet,
        },
    }
}

fn rss_goal(res: &Results, cfg: &Config) -> Goal {
    let get = |sw: &str| res.rss.iter().find(|r| r.0 == sw).map(|r| r.1);
    let limit_kb = 8 * 1024;
    Goal {
        goal: format!("RSS with {} ports attached", cfg.rss_ports),
        measure: "VmRSS".into(),
        reference: get(REF).map_or("n/a".into(), mib),
        aa: format!("refB {}", get(REFB).map_or("n/a".into(), mib)),
        ours: get(OURS).map_or("n/a".into(), mib),
        target: "ours ≤ 8 MiB".into(),
        status: match get(OURS) {
            None => Status::NotMeasured,
            Some(kb) if kb <= limit_kb => Status::Met,
            Some(_) => Status::NotMet,
        },
    }
}

/// RSS growth over the whole flood and over its second half (kB), frames sent.
fn flood_growth(points: &[FloodPoint]) -> Option<(i64, i64, u64)> {
    let first = points.first()?;
    let last = points.last()?;
    let half = last.frames / 2;
    let mid = points.iter().find(|p| p.frames >= half)?;
    Some((
        last.rss_kb as i64 - first.rss_kb as i64,
        last.rss_kb as i64 - mid.rss_kb as i64,
        last.frames,
    ))
}

fn flood_goal(res: &Results) -> Goal {
    let get = |sw: &str| {
        res.flood
            .iter()
            .find(|f| f.0 == sw)
            .and_then(|f| flood_growth(&f.1))
    };
    let cell = |g: Option<(i64, i64, u64)>| {
        g.map_or("n/a".into(), |(all, half, n)| {
            format!(
                "{:+.1} MiB after {}k frames, {:+.1} MiB in the 2nd half",
                all as f64 / 1024.0,
                n / 1000,
                half as f64 / 1024.0
            )
        })
    };
    let ours = get(OURS);
    Goal {
        goal: "memory bounded under a flood of random source MACs".into(),
        measure: "VmRSS growth".into(),
        reference: cell(get(REF)),
        aa: "-".into(),
        ours: cell(ours),
        target: "ours: 2nd half ≤ +1 MiB".into(),
        status: match ours {
            None => Status::NotMeasured,
            Some((_, half, _)) if half <= 1024 => Status::Met,
            Some(_) => Status::NotMet,
        },
    }
}

/// The whole report, Markdown.
pub fn report(cfg: &Config, res: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## vdeperf results\n");
    for h in &res.header {
        let _ = writeln!(out, "- {h}");
    }
    for n in &res.notes {
        let _ = writeln!(out, "- **{n}**");
    }
    let _ = writeln!(
        out,
        "\nRatios are ours (or refB) / ref: ratio of the medians, [min..max] of the per-rep ratios \
         (both measured back to back in the same rep). refB is a second instance of the reference: \
         its ratio is the noise floor (A/A control).\n"
    );

    let test_names: Vec<&str> = cfg.tests.iter().map(|t| t.name).collect();
    let has = |t: &str| test_names.contains(&t);
    let mut goals = Vec::new();
    if cfg.goals && has("uni2_64B") {
        goals.push(ratio_goal(
            res,
            "1→1 switch CPU per 64 B frame",
            "uni2_64B",
            "sw_cpu_ns_per_rx",
            0.6,
            true,
        ));
        goals.push(loss_goal(res, "uni2_64B"));
    }
    if cfg.goals && has("stuck_uni2_64B") {
        goals.push(stuck_goal(res, "stuck_uni2_64B"));
    }
    for (t, goal, target) in [
        ("pairs8_64B", "4 concurrent pairs: delivered frames/s", 2.0),
        ("bcast8_64B", "broadcast 1→7: delivered frames/s", 2.0),
        (
            "uni31_64B",
            "1→1 with 31 ports attached: delivered frames/s",
            3.0,
        ),
    ] {
        if cfg.goals && has(t) {
            goals.push(ratio_goal(res, goal, t, "rx_fps", target, false));
        }
    }
    if cfg.curve {
        goals.push(flat_goal(res, cfg));
    }
    if cfg.rss {
        goals.push(rss_goal(res, cfg));
    }
    if cfg.flood {
        goals.push(flood_goal(res));
    }
    let _ = writeln!(out, "### Goals (issue 6)\n");
    out += &table(
        &[
            "goal",
            "measure",
            "ref (median [min..max])",
            "A/A: refB",
            "ours",
            "target",
            "status",
        ],
        &goals.into_iter().map(Goal::cells).collect::<Vec<_>>(),
    );

    if cfg.goals {
        let _ = writeln!(out, "\n### All metrics of the goal suite\n");
        let mut rows = Vec::new();
        for t in &cfg.tests {
            for key in [
                "rx_fps",
                "loss",
                "sw_cpu_ns_per_rx",
                "clients_cpu_ns_per_rx",
                "cpu_busy",
                "tx_fps",
                "leak",
                "other",
            ] {
                let cell = |sw| fmt_range(key, &res.present(t.name, sw, key));
                rows.push(vec![
                    t.name.to_string(),
                    key.to_string(),
                    cell(REF),
                    cell(REFB),
                    cell(OURS),
                    fmt_ratio(res.ratio(t.name, REFB, REF, key)),
                    fmt_ratio(res.ratio(t.name, OURS, REF, key)),
                ]);
            }
            if t.stuck {
                let b = |sw: &str| {
                    res.blaster
                        .get(sw)
                        .map_or("n/a".into(), |v| fmt_range("tx_fps", v))
                };
                rows.push(vec![
                    t.name.to_string(),
                    "stuck flow accepted".into(),
                    b(REF),
                    b(REFB),
                    b(OURS),
                    "".into(),
                    "".into(),
                ]);
            }
        }
        out += &table(
            &[
                "test", "metric", "ref", "refB", "ours", "refB/ref", "ours/ref",
            ],
            &rows,
        );
    }

    if cfg.curve {
        let _ = writeln!(
            out,
            "\n### Scaling: switch CPU per delivered frame, 1→1 64 B, other ports attached and idle\n"
        );
        let key = "sw_cpu_ns_per_rx";
        let mut rows = Vec::new();
        for &n in &cfg.curve_ports {
            let t = format!("curve{n}");
            let cell = |sw| fmt_range(key, &res.present(&t, sw, key));
            rows.push(vec![
                n.to_string(),
                cell(REF),
                cell(REFB),
                cell(OURS),
                fmt_ratio(res.ratio(&t, OURS, REF, key)),
                fmt_range("rx_fps", &res.present(&t, REF, "rx_fps")),
                fmt_range("rx_fps", &res.present(&t, OURS, "rx_fps")),
            ]);
        }
        out += &table(
            &[
                "ports",
                "ref ns/frame",
                "refB ns/frame",
                "ours ns/frame",
                "ours/ref",
                "ref rx_fps",
                "ours rx_fps",
            ],
            &rows,
        );
    }

    if cfg.rss {
        let _ = writeln!(
            out,
            "\n### Memory with {} ports attached (each sent one broadcast)\n",
            cfg.rss_ports
        );
        let rows: Vec<Vec<String>> = res
            .rss
            .iter()
            .map(|(sw, rss, hwm)| vec![sw.clone(), mib(*rss), mib(*hwm)])
            .collect();
        out += &table(&["switch", "VmRSS", "VmHWM (peak since start)"], &rows);
    }

    if cfg.floor {
        out += &floor_report(cfg, res);
    }

    if cfg.flood {
        let _ = writeln!(
            out,
            "\n### MAC flood: VmRSS while one port sends frames with random source MACs\n"
        );
        let mut rows = Vec::new();
        for (sw, points) in &res.flood {
            for p in points {
                rows.push(vec![
                    sw.clone(),
                    p.frames.to_string(),
                    mib(p.rss_kb),
                    format!("{:.1} s", p.secs),
                ]);
            }
        }
        out += &table(&["switch", "frames sent", "VmRSS", "elapsed"], &rows);
    }
    out
}

/// Derived metrics: the clients' CPU per delivered frame, and how busy the machine's CPUs were
/// (switch and clients together, over the sending time). When `cpu_busy` is near 100 %, the
/// delivered rate is set by the total CPU per frame, clients included.
fn add_cpu_shares(mut s: Sample) -> Sample {
    let get = |s: &Sample, k: &str| s.get(k).copied();
    let (clients, rx) = (get(&s, "clients_cpu_s"), get(&s, "rx"));
    let (sw, secs) = (get(&s, "sw_cpu_s"), get(&s, "secs"));
    if let (Some(c), Some(rx)) = (clients, rx) {
        if rx > 0.0 {
            s.insert("clients_cpu_ns_per_rx".into(), c / rx * 1e9);
        }
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    if let (Some(c), Some(sw), Some(secs)) = (clients, sw, secs) {
        if secs > 0.0 {
            s.insert("cpu_busy".into(), (c + sw) / (cpus * secs));
        }
    }
    s
}

/// The floor table: each floor, and the 1→1 CPU per frame of the switches (and the goal) as
/// multiples of the one-process floor.
fn floor_report(cfg: &Config, res: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### Machine floor: 64 B datagrams over AF_UNIX with no switch (the kit's udslimit)\n"
    );
    let key = "sw_cpu_ns_per_rx";
    let pair = res
        .floor
        .iter()
        .find(|(t, _)| t.name == "pair")
        .and_then(|(_, v)| stats::median(v));
    let times_pair = |ns: Option<f64>| match (ns, pair) {
        (Some(ns), Some(p)) if p > 0.0 => format!("{:.2}x", ns / p),
        _ => "n/a".into(),
    };
    let mut rows: Vec<Vec<String>> = res
        .floor
        .iter()
        .map(|(t, v)| {
            vec![
                t.what.to_string(),
                fmt_range(key, v),
                times_pair(stats::median(v)),
            ]
        })
        .collect();
    let uni = cfg.goals && cfg.tests.iter().any(|t| t.name == "uni2_64B");
    if uni {
        let r = res.median("uni2_64B", REF, key);
        for (label, sw) in [
            ("reference, 1→1 (uni2_64B)", REF),
            ("ours, 1→1 (uni2_64B)", OURS),
        ] {
            let v = res.present("uni2_64B", sw, key);
            rows.push(vec![
                label.into(),
                fmt_range(key, &v),
                times_pair(stats::median(&v)),
            ]);
        }
        rows.push(vec![
            "goal: 0.6 x the reference".into(),
            r.map_or("n/a".into(), |r| format!("{:.0} ns", 0.6 * r)),
            times_pair(r.map(|r| 0.6 * r)),
        ]);
    }
    out += &table(
        &["what", "CPU ns per frame", "x one-process send+recv"],
        &rows,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pairs: &[(&str, f64)]) -> Option<Sample> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn goal_statuses() {
        let mut res = Results::default();
        for rep in 0..3 {
            res.push(
                "uni2_64B",
                REF,
                rep,
                sample(&[
                    ("sw_cpu_ns_per_rx", 1000.0),
                    ("tx", 100.0),
                    ("rx", 97.0),
                    ("loss", 0.03),
                ]),
            );
            res.push(
                "uni2_64B",
                REFB,
                rep,
                sample(&[
                    ("sw_cpu_ns_per_rx", 1010.0),
                    ("tx", 100.0),
                    ("rx", 98.0),
                    ("loss", 0.02),
                ]),
            );
            let cpu = if rep == 1 { 700.0 } else { 500.0 };
            res.push(
                "uni2_64B",
                OURS,
                rep,
                sample(&[
                    ("sw_cpu_ns_per_rx", cpu),
                    ("tx", 100.0),
                    ("rx", 100.0),
                    ("loss", 0.0),
                ]),
            );
        }
        let g = ratio_goal(&res, "cpu", "uni2_64B", "sw_cpu_ns_per_rx", 0.6, true);
        assert_eq!(g.status, Status::MetMedian);
        assert_eq!(loss_goal(&res, "uni2_64B").status, Status::Met);
        let g = ratio_goal(&res, "cpu", "uni2_64B", "sw_cpu_ns_per_rx", 0.8, true);
        assert_eq!(g.status, Status::Met);
        assert_eq!(
            ratio_goal(&res, "x", "pairs8_64B", "rx_fps", 2.0, false).status,
            Status::NotMeasured
        );
    }

    #[test]
    fn flood_growth_uses_the_second_half() {
        let p = |frames, rss_kb| FloodPoint {
            frames,
            rss_kb,
            secs: 0.0,
        };
        let pts = [
            p(0, 1000),
            p(100, 3000),
            p(200, 3100),
            p(300, 3200),
            p(400, 3300),
        ];
        assert_eq!(flood_growth(&pts), Some((2300, 200, 400)));
    }

    #[test]
    fn cpu_shares_are_derived_from_vdebench_fields() {
        let s = sample(&[
            ("clients_cpu_s", 1.5),
            ("sw_cpu_s", 0.5),
            ("rx", 1_000_000.0),
            ("secs", 2.0),
        ])
        .unwrap();
        let s = add_cpu_shares(s);
        assert_eq!(s["clients_cpu_ns_per_rx"], 1500.0);
        let cpus = std::thread::available_parallelism().unwrap().get() as f64;
        assert_eq!(s["cpu_busy"], 2.0 / (cpus * 2.0));
        assert_eq!(fmt_value("clients_cpu_ns_per_rx", 1500.0), "1500 ns");
        // Without the fields nothing is made up.
        let s = add_cpu_shares(sample(&[("rx", 0.0)]).unwrap());
        assert!(!s.contains_key("clients_cpu_ns_per_rx") && !s.contains_key("cpu_busy"));
    }

    #[test]
    fn tables_align() {
        let t = table(&["a", "bb"], &[vec!["ccc".into(), "d".into()]]);
        assert_eq!(t, "| a   | bb |\n| --- | -- |\n| ccc | d  |\n");
    }
}
