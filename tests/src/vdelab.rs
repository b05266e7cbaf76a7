//! `vdelab` under test: a lab directory (one of `examples/`, or written by the test) in a
//! private scratch directory with its own `HOME`, `XDG_RUNTIME_DIR` (sockets, state) and
//! `XDG_DATA_HOME` (the root file system `up` makes), commands run to completion with a timeout,
//! shell commands run in a guest through `vdelab console` on a pseudo-terminal, and a check that
//! nothing of the lab is left behind.
//!
//! On drop, the lab is stopped with `vdelab down`, then every process recorded in its
//! `state.json` (and each guest kernel's pid file) that is still there is killed, by pid, after
//! checking that its command line names the lab's runtime directory.
//!
//! `VDELAB_BIN` overrides the binary under test (default: our debug build, which finds our
//! `umlrun` and `vde_switch` next to itself).

use crate::proc::{pid_cmdline, pid_gone, run_with_timeout, wait_until, Finished};
use crate::pty::{self, Pty};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tempfile::TempDir;

/// How long `up` may take (it returns as soon as every guest has booted).
pub const UP: Duration = Duration::from_secs(240);
/// How long `down` may take (it returns as soon as every guest has stopped).
pub const DOWN: Duration = Duration::from_secs(90);
/// How long a command in a guest may take.
pub const IN_GUEST: Duration = Duration::from_secs(60);

/// Our `vdelab`.
pub fn vdelab_bin() -> PathBuf {
    crate::bins::workspace_bin("VDELAB_BIN", "vdelab")
}

/// The example labs of the repository.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A lab in a scratch directory.
pub struct Lab {
    _tmp: TempDir,
    pub scratch: PathBuf,
    /// The lab directory.
    pub dir: PathBuf,
    /// `XDG_RUNTIME_DIR` of every vdelab command.
    pub runtime: PathBuf,
}

static SHELLS: AtomicUsize = AtomicUsize::new(0);

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == ".vdelab" {
            continue;
        }
        let t = e.file_type().unwrap();
        if t.is_dir() {
            copy_tree(&e.path(), &to.join(&name));
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), to.join(&name))
                .unwrap();
        } else {
            std::fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

impl Lab {
    fn scratch() -> (TempDir, PathBuf) {
        let tmp = tempfile::Builder::new().prefix("vdlt-").tempdir().unwrap();
        let scratch = tmp.path().canonicalize().unwrap();
        for d in ["home", "run", "data"] {
            std::fs::create_dir_all(scratch.join(d)).unwrap();
        }
        (tmp, scratch)
    }

    /// A copy of `examples/NAME`.
    pub fn example(name: &str) -> Lab {
        let (tmp, scratch) = Lab::scratch();
        let dir = scratch.join(name);
        copy_tree(&examples().join(name), &dir);
        Lab {
            _tmp: tmp,
            runtime: scratch.join("run"),
            dir,
            scratch,
        }
    }

    /// A lab written by the test: `lab.conf` and other files (relative path, content).
    pub fn with_files(conf: &str, files: &[(&str, &str)]) -> Lab {
        let (tmp, scratch) = Lab::scratch();
        let dir = scratch.join("lab");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lab.conf"), conf).unwrap();
        for (name, text) in files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Lab {
            _tmp: tmp,
            runtime: scratch.join("run"),
            dir,
            scratch,
        }
    }

    /// `vdelab ARGS` with the lab's environment (the kernel from `kernel`).
    pub fn command(&self, kernel: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(vdelab_bin());
        c.args(args)
            .current_dir(&self.dir)
            .env("HOME", self.scratch.join("home"))
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("XDG_DATA_HOME", self.scratch.join("data"))
            .env("UML_KERNEL", kernel);
        c
    }

    /// Runs `vdelab ARGS` (in the lab directory) to completion, at most `timeout`.
    pub fn run(&self, kernel: &Path, args: &[&str], timeout: Duration) -> Finished {
        run_with_timeout(&mut self.command(kernel, args), timeout)
    }

    /// `vdelab up`, which must succeed.
    pub fn up(&self, kernel: &Path) -> Finished {
        let f = self.run(kernel, &["up"], UP);
        assert_eq!(
            f.status.and_then(|s| s.code()),
            Some(0),
            "vdelab up failed\n{}",
            self.explain(&f)
        );
        f
    }

    /// `vdelab down`, which must succeed.
    pub fn down(&self, kernel: &Path) -> Finished {
        let f = self.run(kernel, &["down"], DOWN);
        assert_eq!(
            f.status.and_then(|s| s.code()),
            Some(0),
            "vdelab down failed\n{}",
            self.explain(&f)
        );
        f
    }

    /// `vdelab status --json`, parsed.
    pub fn status(&self, kernel: &Path) -> serde_json::Value {
        let f = self.run(kernel, &["status", "--json"], Duration::from_secs(30));
        serde_json::from_str(&f.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}\n{}", self.explain(&f)))
    }

    /// A command's output and the lab's logs, for assertion messages.
    pub fn explain(&self, f: &Finished) -> String {
        let mut s = format!(
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            f.status, f.stdout, f.stderr
        );
        if let Ok(rd) = std::fs::read_dir(self.dir.join(".vdelab/log")) {
            let mut logs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
            logs.sort();
            for l in logs {
                let text = std::fs::read_to_string(&l).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(25).collect();
                s.push_str(&format!(
                    "\n--- {} (end) ---\n{}",
                    l.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        s
    }

    /// `vdelab console HOST` on a pseudo-terminal, once it says it is connected.
    pub fn console(&self, kernel: &Path, host: &str) -> Pty {
        let p = pty::spawn(self.command(kernel, &["console", host]));
        p.wait(
            &format!("vdelab console {host} to connect"),
            Duration::from_secs(30),
            |p| p.raw().contains("connected to"),
        );
        p
    }

    /// Runs `cmd` in the shell on `host`'s console; its exit status and output.
    pub fn shell(&self, kernel: &Path, host: &str, cmd: &str) -> (i32, String) {
        let mut p = self.console(kernel, host);
        let n = SHELLS.fetch_add(1, Ordering::SeqCst);
        // The echo of the typed line shows `$((6*7))`; only the output shows 42.
        let typed = format!("VDLT-END-{n}-$((6*7))-$?");
        let done = format!("VDLT-END-{n}-42-");
        // A wide terminal first, so that the shell does not wrap (and redraw) a long line.
        p.send(b"stty cols 1000\r");
        p.send(format!("{cmd}; echo \"{typed}\"\r").as_bytes());
        p.wait(&format!("`{cmd}` to end on {host}"), IN_GUEST, |p| {
            p.raw().contains(&done)
        });
        let raw = p.raw();
        let end = raw.rfind(&done).unwrap();
        // The output starts on the line after the typed command.
        let start = raw[..end]
            .rfind(&typed)
            .and_then(|i| raw[i..end].find('\n').map(|n| i + n + 1))
            .unwrap_or(0);
        let status: i32 = raw[end + done.len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
            .parse()
            .unwrap_or(-1);
        let output = raw[start..end].replace('\r', "");
        p.send(b"\x1d");
        assert!(
            p.wait_exit(Duration::from_secs(10))
                .is_some_and(|s| s.success()),
            "vdelab console did not detach on Ctrl-]\n{}",
            p.raw()
        );
        (status, output.trim().to_string())
    }

    /// The pids of the lab's processes, from its `state.json` and the guests' pid files.
    pub fn pids(&self) -> Vec<i32> {
        let mut pids = Vec::new();
        let Ok(rd) = std::fs::read_dir(self.runtime.join("vdelab")) else {
            return pids;
        };
        for run in rd.flatten().map(|e| e.path()) {
            if let Ok(text) = std::fs::read_to_string(run.join("state.json")) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    for s in v["switches"].as_array().into_iter().flatten() {
                        pids.extend(s["pid"].as_i64().map(|p| p as i32));
                    }
                    for h in v["hosts"].as_array().into_iter().flatten() {
                        pids.extend(h["umlrun_pid"].as_i64().map(|p| p as i32));
                    }
                }
            }
            if let Ok(uml) = std::fs::read_dir(run.join("uml")) {
                for d in uml.flatten() {
                    if let Ok(p) = std::fs::read_to_string(d.path().join("pid")) {
                        pids.extend(p.trim().parse::<i32>().ok());
                    }
                }
            }
        }
        pids
    }

    /// Processes whose command line names this lab's scratch directory (switches, umlrun,
    /// kernels and the guests' processes, which show the kernel's command line).
    pub fn processes(&self) -> Vec<String> {
        let mark = self.scratch.to_string_lossy().into_owned();
        let mut found = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid == std::process::id() as i32 || pid_gone(pid) {
                continue;
            }
            let cmd = pid_cmdline(pid);
            if cmd.contains(&mark) && !cmd.contains("vdelab console") {
                found.push(format!("{pid} {cmd}"));
            }
        }
        found
    }

    /// What a stopped lab must not leave: processes, the runtime directory (sockets, state),
    /// boot marks, temporary files in the lab's directory.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        // Processes may take a moment to be reaped after they exit.
        wait_until(Duration::from_secs(10), || self.processes().is_empty());
        left.extend(self.processes().into_iter().map(|p| format!("process {p}")));
        walk(&self.runtime, &mut |p| {
            left.push(format!("runtime file {}", p.display()))
        });
        if let Ok(rd) = std::fs::read_dir(self.dir.join(".vdelab/ready")) {
            left.extend(
                rd.flatten()
                    .map(|e| format!("boot mark {}", e.path().display())),
            );
        }
        walk(&self.dir, &mut |p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') && name != ".vdelab" || name.ends_with(".tmp") {
                left.push(format!("temporary file {}", p.display()));
            }
        });
        left
    }
}

/// Calls `f` for every entry under `dir` (not `dir` itself).
fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        f(&p);
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&p, f);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let pids = self.pids();
        if pids.is_empty() {
            return;
        }
        let mut down = Command::new(vdelab_bin());
        down.args(["down", "--timeout", "5"])
            .current_dir(&self.dir)
            .env("HOME", self.scratch.join("home"))
            .env("XDG_RUNTIME_DIR", &self.runtime);
        let _ = run_with_timeout(&mut down, Duration::from_secs(30));
        let mark = self.runtime.to_string_lossy().into_owned();
        for pid in pids {
            if !pid_gone(pid) && pid_cmdline(pid).contains(&mark) {
                // SAFETY: plain kill(2) of a process of this lab (checked by its command line).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}
