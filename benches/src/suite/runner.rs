//! Starting the switches and measuring: the goal suite, the scaling curve, RSS, the MAC flood
//! and the machine floor, each switch in turn, the order alternating per repetition.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::results::{add_cpu_shares, Results};
use super::{report, stuck_active, Config, CURVE_ARGS, OURS, REF, REFB, STUCK_DELAY};
use crate::client::{self, PortSet, StuckLoad, VdePort};
use crate::floor::{self, FloorTest, FLOOR_TESTS};
use crate::loadgen::{self, RunError, Sample, Tool};
use crate::proc::{self, Switch};

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

/// One load-generator measurement to make on each switch.
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
    load: Tool,
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
    let load = loadgen::load_tool(cfg.kit.as_deref(), &cfg.build_dir)?;
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
        load,
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
            "ours: {}{}{}",
            cfg.ours.display(),
            mtime_note(&cfg.ours),
            if cfg.ours_args.is_empty() {
                String::new()
            } else {
                format!(", started with {}", cfg.ours_args.join(" "))
            }
        ));
        h.push(format!(
            "reference: {} (twice: ref and refB, the A/A control)",
            cfg.reference.display()
        ));
        h.push(format!(
            "clients: {}: libvdeplug clients, one process per port; and vdeperf's own vde-protocol client for idle ports, the stuck receiver and the MAC flood",
            self.load.origin
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

    /// The floor on the quiet machine (every switch stopped): what moving one datagram costs
    /// the kernel here, and what minimal forwarders cost.
    fn floor(&mut self) -> Result<(), Stop> {
        let cfg = self.cfg;
        let tool = floor::tool(cfg.kit.as_deref(), &cfg.build_dir).map_err(Stop::Error)?;
        self.res.header.push(format!("floor: {}", tool.origin));
        let mut got: Vec<(FloorTest, Vec<f64>)> =
            FLOOR_TESTS.iter().map(|t| (*t, Vec::new())).collect();
        for rep in 0..cfg.reps {
            eprintln!("floor: rep {}/{}", rep + 1, cfg.reps);
            for (t, values) in got.iter_mut() {
                self.check()?;
                match floor::run(&tool, cfg.kit.is_some(), t) {
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
            let extra: &[String] = if name == OURS {
                &self.cfg.ours_args
            } else {
                &[]
            };
            let args: Vec<std::ffi::OsString> = extra.iter().map(Into::into).collect();
            let sw = Switch::start_with(name, bin, &self.cfg.work_dir.join(name), numports, &args)?;
            eprintln!(
                "started {name}: {} -n {numports} {}, pid {}",
                bin.display(),
                extra.join(" "),
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

    /// One load-generator run on one switch; a failed run is recorded as missing, not fatal.
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
        let r = loadgen::run(
            &self.load,
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
