//! Switch processes (started in their own session, stopped by pid, also when the harness dies)
//! and what `/proc` tells about them and about the machine.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// A switch started by the harness. Dropping it stops it (SIGTERM, then SIGKILL), so every exit
/// path of the harness, errors and Ctrl-C included, leaves no switch behind; if the harness
/// itself is killed, the kernel sends the switch SIGTERM (`PR_SET_PDEATHSIG`).
pub struct Switch {
    pub name: String,
    pub dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    pid: u32,
    /// Held open: vde_switch 2.3.2 reads console commands from stdin and exits at its end.
    _stdin: Option<ChildStdin>,
}

impl Switch {
    /// Start `bin -s DIR -n NUMPORTS` in the foreground of a new session (`setsid`: a switch
    /// sharing the clients' session would share their scheduler autogroup, and so their CPU
    /// share), stdin a pipe we keep open, output to `DIR.log`.
    pub fn start(
        name: &str,
        bin: &Path,
        dir: &Path,
        numports: usize,
        extra: &[String],
    ) -> Result<Switch, String> {
        let _ = std::fs::remove_dir_all(dir);
        let log = dir.with_extension("log");
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        let mut cmd = Command::new(bin);
        cmd.arg("-s")
            .arg(dir)
            .arg("-n")
            .arg(numports.to_string())
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let pid = child.id();
        let stdin = child.stdin.take();
        let mut sw = Switch {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            log,
            child: Some(child),
            pid,
            _stdin: stdin,
        };
        let t0 = Instant::now();
        while !dir.join("ctl").exists() {
            if !sw.alive() || t0.elapsed() > Duration::from_secs(10) {
                let log = std::fs::read_to_string(&sw.log).unwrap_or_default();
                sw.stop();
                return Err(format!(
                    "{} ({}) did not create {}/ctl; its output:\n{log}",
                    name,
                    bin.display(),
                    dir.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(sw)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGTERM, wait up to 5 s, then SIGKILL; only this switch's pid, reaped by us.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) on our own child, which has not been reaped yet.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
            let t0 = Instant::now();
            while matches!(child.try_wait(), Ok(None)) {
                if t0.elapsed() > Duration::from_secs(5) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self._stdin = None;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// CPU time of all its threads, ns.
    pub fn cpu_ns(&self) -> Option<u64> {
        cpu_ns(self.pid)
    }

    pub fn status_kb(&self, key: &str) -> Option<u64> {
        status_kb(self.pid, key)
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.stop();
    }
}

/// CPU time (ns) of every thread of `pid`, from `/proc/PID/task/*/schedstat` (what the load
/// generator reads too).
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    let mut got = false;
    for e in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let s = std::fs::read_to_string(e.path().join("schedstat")).unwrap_or_default();
        if let Some(ns) = s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        {
            total += ns;
            got = true;
        }
    }
    got.then_some(total)
}

/// A `kB` line of `/proc/PID/status` (`VmRSS`, `VmHWM`).
pub fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Fraction of all CPUs busy during `window` (from `/proc/stat`), to tell whether something
/// else is running while we measure.
pub fn machine_busy(window: Duration) -> f64 {
    fn sample() -> Option<(u64, u64)> {
        let s = std::fs::read_to_string("/proc/stat").ok()?;
        let v: Vec<u64> = s
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let total: u64 = v.iter().sum();
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        Some((total, idle))
    }
    let first = sample();
    std::thread::sleep(window);
    let (Some((t0, i0)), Some((t1, i1))) = (first, sample()) else {
        return 0.0;
    };
    let dt = t1.saturating_sub(t0).max(1);
    1.0 - i1.saturating_sub(i0) as f64 / dt as f64
}

/// Processes (other than ours) that used more than `min_share` of one CPU during `window`.
pub fn busy_processes(
    window: Duration,
    min_share: f64,
    exclude: &[u32],
) -> Vec<(u32, String, f64)> {
    fn ticks() -> Vec<(u32, u64)> {
        let mut v = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ns) = cpu_ns(pid) {
                v.push((pid, ns));
            }
        }
        v
    }
    let a = ticks();
    std::thread::sleep(window);
    let b: std::collections::HashMap<u32, u64> = ticks().into_iter().collect();
    let me = std::process::id();
    let mut out = Vec::new();
    for (pid, ns0) in a {
        if pid == me || exclude.contains(&pid) {
            continue;
        }
        if let Some(ns1) = b.get(&pid) {
            let share = ns1.saturating_sub(ns0) as f64 / window.as_nanos() as f64;
            if share >= min_share {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                out.push((pid, comm, share));
            }
        }
    }
    out
}

/// Raise the soft limit of open files to the hard one (the curve attaches hundreds of ports to
/// each switch; the switches inherit the limit).
pub fn raise_nofile_limit() {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// One line describing the machine: CPU model, count, kernel.
pub fn machine_description() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|x| x.1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let ncpu = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(String::new(), |kb| {
            format!(", {:.1} GiB RAM", kb as f64 / 1048576.0)
        });
    let hv = if cpuinfo.contains(" hypervisor") {
        ", virtual machine"
    } else {
        ""
    };
    format!("{ncpu} x {model}{mem}{hv}, Linux {kernel}")
}
