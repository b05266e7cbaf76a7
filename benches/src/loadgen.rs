//! Running the load generator once per measurement and parsing its one-line `key=value`
//! result. The generator is ours (`vdeperf load`, see [`crate::load`]) or, as a cross-check,
//! `vdebench` built from an outside benchmark kit (`--kit DIR`); both take the same arguments
//! and print the same keys.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Numeric fields of one result line (`rx_fps`, `loss`, `sw_cpu_ns_per_rx`, ...).
pub type Sample = BTreeMap<String, f64>;

/// A program that takes load-generator arguments and prints one result line.
#[derive(Debug, Clone)]
pub struct Tool {
    program: PathBuf,
    /// Words before the arguments (`load` for `vdeperf load`).
    prefix: Vec<String>,
    /// Where it comes from, for the report.
    pub origin: String,
}

impl Tool {
    /// `vdeperf SUBCOMMAND` of the running executable.
    pub fn ours(subcommand: &str) -> Result<Tool, String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find vdeperf itself: {e}"))?;
        Ok(Tool {
            origin: format!("vdeperf {subcommand} of {}", exe.display()),
            program: exe,
            prefix: vec![subcommand.to_string()],
        })
    }

    /// `KIT/NAME.c` built with `libs` into `out_dir` (see [`build_kit_tool`]).
    pub fn kit(kit: &Path, out_dir: &Path, name: &str, libs: &[&str]) -> Result<Tool, String> {
        let bin = build_kit_tool(kit, out_dir, name, libs)?;
        Ok(Tool {
            origin: format!("{name} from {}", kit.join(format!("{name}.c")).display()),
            program: bin,
            prefix: Vec::new(),
        })
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.prefix);
        cmd
    }
}

/// The load generator: ours, or the kit's vdebench (which needs libvdeplug-dev and gcc).
pub fn load_tool(kit: Option<&Path>, out_dir: &Path) -> Result<Tool, String> {
    match kit {
        None => {
            crate::load::vdeplug::available()?;
            Tool::ours("load")
        }
        Some(kit) => Tool::kit(kit, out_dir, "vdebench", &["-lvdeplug"])
            .map_err(|e| format!("{e}\n(is libvdeplug-dev installed?)")),
    }
}

/// Compile `KIT/NAME.c` (with `libs`) into `out_dir/NAME` unless the binary is newer than the
/// source. The kit directory may be read-only, so nothing is written there.
pub fn build_kit_tool(
    kit: &Path,
    out_dir: &Path,
    name: &str,
    libs: &[&str],
) -> Result<PathBuf, String> {
    let src = kit.join(format!("{name}.c"));
    let bin = out_dir.join(name);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let src_time = mtime(&src).ok_or_else(|| {
        format!(
            "{} not found: --kit names the directory of the benchmark kit's C sources",
            src.display()
        )
    })?;
    if mtime(&bin).is_some_and(|b| b >= src_time) {
        return Ok(bin);
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let tmp = out_dir.join(format!("{name}.tmp{}", std::process::id()));
    let out = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&tmp)
        .arg(&src)
        .args(libs)
        .output()
        .map_err(|e| format!("cannot run gcc: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "building {name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&tmp, &bin).map_err(|e| e.to_string())?;
    Ok(bin)
}

/// Parse the numeric `key=value` pairs of a result line.
pub fn parse(line: &str) -> Sample {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| Some((k.to_string(), v.parse::<f64>().ok()?)))
        .collect()
}

/// Why a run gave no sample.
#[derive(Debug)]
pub enum RunError {
    Interrupted,
    Failed(String),
}

/// Run `TOOL -s DIR -P PID -t SECS -T TAG ARGS` and parse its result. It runs in its own
/// process group so that a timeout or an interruption can stop it and all its client
/// processes at once (by that group's id, which is the tool's pid).
pub fn run(
    tool: &Tool,
    dir: &Path,
    pid: u32,
    secs: u32,
    args: &str,
    tag: &str,
    stop: &AtomicBool,
) -> Result<Sample, RunError> {
    let mut cmd = tool.command();
    cmd.arg("-s")
        .arg(dir)
        .args(["-P", &pid.to_string(), "-t", &secs.to_string(), "-T", tag])
        .args(args.split_whitespace())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| RunError::Failed(format!("cannot run {}: {e}", tool.origin)))?;
    let group = child.id() as libc::pid_t;
    let kill_group = || {
        // SAFETY: kill(2) on the process group we created for this run.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    };
    let limit = Duration::from_secs(u64::from(secs) + 60);
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => {}
            Err(e) => return Err(RunError::Failed(e.to_string())),
        }
        if stop.load(Ordering::Relaxed) {
            kill_group();
            let _ = child.wait();
            return Err(RunError::Interrupted);
        }
        if t0.elapsed() > limit {
            kill_group();
            let _ = child.wait();
            return Err(RunError::Failed(format!(
                "load {args} on {} timed out",
                dir.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RunError::Failed(e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.lines().rev().find(|l| l.contains('=')) {
        Some(line) => Ok(parse(line)),
        None => Err(RunError::Failed(format!(
            "load {args} on {} gave no result ({}): {}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}
