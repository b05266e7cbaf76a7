//! `umlrun` (the UML launcher) under test: a private scratch directory and `HOME` per test,
//! unique machine ids, a running `umlrun` guarded so that it and its kernel are killed on drop,
//! and a fake kernel (a shell script) that answers the probes like a given version and records
//! whether it was started to boot.
//!
//! `UMLRUN_BIN` overrides the binary under test.

use crate::proc::{wait_child_timeout, wait_until, Capture};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tempfile::TempDir;

/// Our `umlrun`.
pub fn umlrun_bin() -> PathBuf {
    crate::bins::workspace_bin("UMLRUN_BIN", "umlrun")
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A machine id unique to this test process and call (`ur<pid>-<n>-<tag>`).
pub fn unique_umid(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("ur{}-{n}-{tag}", std::process::id())
}

/// A scratch directory (canonical path) with its own `HOME` (so `~/.uml` is private).
pub struct Scratch {
    _tmp: TempDir,
    pub dir: PathBuf,
    pub home: PathBuf,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        let tmp = tempfile::Builder::new().prefix("urt-").tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Scratch {
            _tmp: tmp,
            dir,
            home,
        }
    }

    /// `umlrun ARGS` run in the scratch directory with its `HOME`; stdin is /dev/null.
    pub fn umlrun(&self, args: &[&str]) -> Command {
        let mut c = Command::new(umlrun_bin());
        c.args(args)
            .current_dir(&self.dir)
            .env("HOME", &self.home)
            .env_remove("UML_KERNEL")
            .stdin(Stdio::null());
        c
    }

    /// Runs `umlrun ARGS` to completion (at most `timeout`): (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str], timeout: Duration) -> (Option<i32>, String, String) {
        let f = crate::proc::run_with_timeout(&mut self.umlrun(args), timeout);
        (f.status.and_then(|s| s.code()), f.stdout, f.stderr)
    }

    /// The umid directory of `umid` (`$HOME/.uml/<umid>`).
    pub fn umid_dir(&self, umid: &str) -> PathBuf {
        self.home.join(".uml").join(umid)
    }
}

/// A running `umlrun` (its own process group). On drop, umlrun and the kernel it started are
/// killed.
pub struct Running {
    child: Child,
    out: Capture,
    err: Capture,
    kernel_pid: Option<i32>,
    pub command_line: String,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let command_line = format!("{cmd:?}");
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command_line}: {e}"));
        let out = Capture::spawn(child.stdout.take().unwrap());
        let err = Capture::spawn(child.stderr.take().unwrap());
        Running {
            child,
            out,
            err,
            kernel_pid: None,
            command_line,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stdout(&self) -> String {
        self.out.text()
    }

    pub fn stderr(&self) -> String {
        self.err.text()
    }

    /// Everything it printed, for assertion messages.
    pub fn log(&self) -> String {
        format!(
            "command: {}\n--- stdout (guest console) ---\n{}\n--- stderr ---\n{}",
            self.command_line,
            self.stdout(),
            self.stderr()
        )
    }

    fn note_kernel_pid(&mut self) {
        if self.kernel_pid.is_none() {
            let err = self.err.text();
            self.kernel_pid = err.split("kernel pid ").nth(1).and_then(|r| {
                r.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|n| n.parse().ok())
            });
        }
    }

    /// The kernel's pid, once umlrun announced the guest is up.
    pub fn kernel_pid(&mut self) -> Option<i32> {
        self.note_kernel_pid();
        self.kernel_pid
    }

    /// Waits until stdout (the guest's console) contains `text`; false on timeout or exit.
    pub fn wait_stdout(&mut self, text: &str, timeout: Duration) -> bool {
        let mut exited = false;
        wait_until(timeout, || {
            self.note_kernel_pid();
            exited = exited || matches!(self.child.try_wait(), Ok(Some(_)));
            exited || self.out.text().contains(text)
        });
        self.out.text().contains(text)
    }

    /// Waits until stderr contains `text`.
    pub fn wait_stderr(&mut self, text: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.note_kernel_pid();
            self.err.text().contains(text) || matches!(self.child.try_wait(), Ok(Some(_)))
        });
        self.note_kernel_pid();
        self.err.text().contains(text)
    }

    /// Waits for umlrun to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        // What it wrote before exiting is in the pipes: the captures read them when asked.
        wait_child_timeout(&mut self.child, timeout)
    }

    /// Waits up to `timeout` for the guest to halt and umlrun to exit 0; otherwise fails with
    /// what the exit means ([`explain_exit`]), the host's load and the guest's output. No retry
    /// on a panic: 100 runs under load (5 at once, load average about 8) never showed one, so
    /// nothing shows it to be the kernel's alone; if it comes back, the message is what
    /// deciding needs.
    #[track_caller]
    pub fn expect_halt(&mut self, timeout: Duration) {
        let st = self.wait_exit(timeout);
        assert_eq!(
            st.and_then(|s| s.code()),
            Some(0),
            "{}\n{}",
            explain_exit(st),
            self.log()
        );
    }

    pub fn signal(&self, sig: i32) {
        crate::proc::signal(self.pid(), sig).unwrap();
    }
}

/// What an exit of umlrun means (its documented statuses), and how busy the host was, for the
/// message of a failed guest test: a kernel panic on a loaded machine is then told apart from
/// a refusal, a timeout or a guest that did not do its work.
pub fn explain_exit(status: Option<ExitStatus>) -> String {
    let what = match status.map(|s| (s.code(), s)) {
        None => "umlrun still running at the deadline (guest not halted in time)".to_string(),
        Some((Some(0), _)) => "the guest halted (status 0)".to_string(),
        Some((Some(1), _)) => "umlrun itself failed (status 1)".to_string(),
        Some((Some(2), _)) => "umlrun refused the command line (status 2)".to_string(),
        Some((Some(3), _)) => {
            "the guest kernel panicked (status 3; its message is in stderr, the console before \
             it in stdout)"
                .to_string()
        }
        Some((Some(4), _)) => "the guest was killed (status 4)".to_string(),
        Some((_, s)) => format!("umlrun ended with {s}"),
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!("{what}; host load average now: {}", load.trim())
}

impl Drop for Running {
    fn drop(&mut self) {
        self.note_kernel_pid();
        // SAFETY: plain kill(2) calls on processes (and groups) this guard started.
        unsafe {
            if let Some(k) = self.kernel_pid {
                if !crate::proc::pid_gone(k) {
                    libc::kill(-k, libc::SIGKILL);
                    libc::kill(k, libc::SIGKILL);
                }
            }
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A fake kernel: a shell script that answers `--version`, `--help` and `--showconfig` like a
/// kernel of `version` (with the legacy network transports if `legacy`), and otherwise records its
/// arguments in `<dir>/booted` (one per line) and runs `then` (shell code, e.g. `exit 0`).
pub fn fake_kernel(dir: &Path, version: &str, legacy: bool, then: &str) -> PathBuf {
    let path = dir.join("fake-linux");
    let net = if legacy {
        "CONFIG_UML_NET=y\nCONFIG_UML_NET_DAEMON=y\nCONFIG_UML_NET_VDE=y\nCONFIG_UML_NET_VECTOR=y"
    } else {
        "CONFIG_UML_NET_VECTOR=y\n# CONFIG_UML_NET_DAEMON is not set"
    };
    let eth = if legacy {
        "eth[0-9]+=<transport>,<options>\n"
    } else {
        ""
    };
    let script = format!(
        "#!/bin/sh\n\
         case \"$1\" in\n\
         --version) echo {version}; exit 0 ;;\n\
         --help) printf 'User Mode Linux v{version}\\nvec[0-9]+:<option>=<value>\\n{eth}'; exit 0 ;;\n\
         --showconfig) printf '{net}\\n'; exit 0 ;;\n\
         esac\n\
         for a in \"$@\"; do echo \"$a\"; done > '{booted}'\n\
         {then}\n",
        booted = dir.join("booted").display(),
        eth = eth.replace('\n', "\\n"),
        net = net.replace('\n', "\\n"),
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The arguments the fake kernel in `dir` was booted with, if it was.
pub fn fake_boot_args(dir: &Path) -> Option<Vec<String>> {
    std::fs::read_to_string(dir.join("booted"))
        .ok()
        .map(|s| s.lines().map(str::to_string).collect())
}
