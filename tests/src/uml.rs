//! UML guests: a busybox root file system built at test time, and stock `linux.uml` kernels that
//! configure `eth0`, ping a peer, print a result line and halt.
//!
//! The kernel is `/usr/bin/linux.uml` (package user-mode-linux) unless `UML_KERNEL` names another.
//! On hosts with AMX (`amx_tile` in /proc/cpuinfo), kernels older than 6.13 need the documented
//! workaround (seccomp filter + `GLIBC_TUNABLES` on the kernel command line); it is applied
//! automatically, and `VDE_TEST_UML_AMX_WORKAROUND=1|0` forces it on or off.

use crate::proc::{wait_child_timeout, wait_until, Capture};
use crate::seccomp::XstateFilter;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// What guests print when done: `VDETEST-RESULT <name> ok <n>/3` or `VDETEST-RESULT <name> fail`.
pub const RESULT_TAG: &str = "VDETEST-RESULT";

/// The `GLIBC_TUNABLES` word of the AMX workaround.
pub const GLIBC_TUNABLES_WORD: &str =
    "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-EVEX,-AVX";

/// Where the UML kernel is expected: `UML_KERNEL`, or `/usr/bin/linux.uml` (see
/// [`crate::needs::uml_kernel`]).
pub fn kernel_path() -> PathBuf {
    std::env::var_os("UML_KERNEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/linux.uml"))
}

/// `(major, minor)` from `linux.uml --version` (prints e.g. `6.1.176`).
pub fn kernel_version(kernel: &Path) -> Option<(u32, u32)> {
    let out = Command::new(kernel)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let word = text.split_whitespace().find(|w| {
        w.split('.').count() >= 2 && w.split('.').take(2).all(|p| p.parse::<u32>().is_ok())
    })?;
    let mut it = word.split('.').map(|p| p.parse::<u32>().unwrap());
    Some((it.next()?, it.next()?))
}

/// True if the host CPU has AMX (its XSTATE is larger than what old UML kernels expect).
pub fn host_has_amx() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.split_whitespace().any(|w| w == "amx_tile"))
        .unwrap_or(false)
}

/// Whether to apply the AMX workaround for this kernel.
pub fn needs_amx_workaround(kernel: &Path) -> bool {
    match std::env::var("VDE_TEST_UML_AMX_WORKAROUND").ok().as_deref() {
        Some("1") => return true,
        Some("0") => return false,
        _ => {}
    }
    host_has_amx()
        && match kernel_version(kernel) {
            Some(v) => v < (6, 13),
            None => true,
        }
}

/// A busybox root file system image (ext4, built without root privileges).
pub struct Rootfs {
    tmp: TempDir,
    pub image: PathBuf,
}

const INIT: &str = r#"#!/bin/sh
# Test guest: VT_NAME, VT_IP, VT_PEER come from the kernel command line.
export PATH=/bin
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sys /sys 2>/dev/null
ip link set lo up
ip addr add "$VT_IP/24" dev eth0
ip link set eth0 up
ok=0
i=0
while [ $i -lt 40 ]; do
    if ping -c 1 -W 1 "$VT_PEER" >/dev/null 2>&1; then ok=1; break; fi
    i=$((i+1))
done
if [ $ok = 1 ]; then
    n=$(ping -c 3 -W 2 "$VT_PEER" 2>/dev/null | grep -c 'bytes from')
    echo "VDETEST-RESULT $VT_NAME ok $n/3"
    # Stay up a little so that the peer can finish pinging us.
    sleep 6
else
    echo "VDETEST-RESULT $VT_NAME fail"
    ip addr
    ip link
fi
halt -f
"#;

impl Rootfs {
    /// Builds `rootfs.ext4` from `/bin/busybox` (static) with an init that pings a peer.
    pub fn build() -> Rootfs {
        let tmp = tempfile::Builder::new()
            .prefix("vdet-uml-")
            .tempdir()
            .expect("tempdir");
        let root = tmp.path().join("root");
        busybox_tree(
            &root,
            &["bin", "proc", "sys", "dev", "tmp", "etc", "root"],
            &[
                "sh", "ip", "ping", "mount", "halt", "sleep", "grep", "cat", "echo", "ls",
                "ifconfig",
            ],
            INIT,
        );
        let image = tmp.path().join("rootfs.ext4");
        let out = Command::new("mkfs.ext4")
            .args(["-q", "-d"])
            .arg(&root)
            .arg(&image)
            .arg("8M")
            .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin")
            .output()
            .expect("cannot run mkfs.ext4 (package e2fsprogs)");
        assert!(
            out.status.success(),
            "mkfs.ext4 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Rootfs { tmp, image }
    }
    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }
}

/// Fills `root` for a busybox guest: the directories `dirs`, the static busybox as
/// `bin/busybox` with `applets` linked to it in `bin`, and `init` as the executable `/init`.
pub fn busybox_tree(root: &Path, dirs: &[&str], applets: &[&str], init: &str) {
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("static busybox not found (Debian package busybox-static)");
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for applet in applets {
        symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.join("init"), init).unwrap();
    std::fs::set_permissions(root.join("init"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

static GUEST_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The first words of every kernel command line here: `mem`, `umid`, the root on a copy-on-write
/// `ubd0=<cow>,<backing>`, `/init`, and the console on the kernel's stdin/stdout.
pub fn base_words(umid: &str, cow: &Path, backing: &Path) -> Vec<String> {
    vec![
        "mem=96M".into(),
        format!("umid={umid}"),
        "root=/dev/ubda".into(),
        "rw".into(),
        "init=/init".into(),
        "con=null".into(),
        "con0=fd:0,fd:1".into(),
        format!("ubd0={},{}", cow.display(), backing.display()),
    ]
}

/// A running UML kernel started by [`Kernel::spawn`]: its own process group (killed on drop),
/// stdout and stderr captured.
pub struct Kernel {
    pub child: Child,
    pub out: Capture,
    pub err: Capture,
    /// Every word on its command line (with [`GLIBC_TUNABLES_WORD`] if the workaround is on).
    pub words: Vec<String>,
    /// Whether the AMX workaround was applied.
    pub workaround: bool,
}

impl Kernel {
    /// Starts `kernel` with `words` (plus the AMX workaround if [`needs_amx_workaround`]),
    /// `HOME=home`, in `cwd` if given, stdin null, in a new process group.
    pub fn spawn(kernel: &Path, mut words: Vec<String>, home: &Path, cwd: Option<&Path>) -> Kernel {
        let workaround = needs_amx_workaround(kernel);
        if workaround {
            words.push(GLIBC_TUNABLES_WORD.into());
        }
        let mut cmd = Command::new(kernel);
        cmd.args(&words);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        cmd.env("HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if workaround {
            let filter = Arc::new(XstateFilter::new());
            // SAFETY: the closure only makes two prctl calls (async-signal-safe).
            unsafe {
                cmd.pre_exec(move || filter.install());
            }
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", kernel.display()));
        let out = Capture::spawn(child.stdout.take().unwrap());
        let err = Capture::spawn(child.stderr.take().unwrap());
        Kernel {
            child,
            out,
            err,
            words,
            workaround,
        }
    }

    /// Waits for the kernel to exit; its exit code if it did within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        wait_child_timeout(&mut self.child, timeout).map(|s| s.code().unwrap_or(-1))
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: plain syscall on the process group we created for this kernel.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A running UML guest (its own process group, killed on drop).
pub struct Guest {
    kernel: Kernel,
    pub name: String,
    pub umid: String,
    pub command_line: String,
}

/// What a guest reported.
#[derive(Debug)]
pub struct GuestOutcome {
    /// The `VDETEST-RESULT` line, if it printed one.
    pub result: Option<String>,
    /// Everything the kernel printed (boot log and init's output).
    pub log: String,
}

impl GuestOutcome {
    /// True if the guest got all 3 replies.
    pub fn all_replies(&self) -> bool {
        self.result
            .as_deref()
            .is_some_and(|r| r.split_whitespace().skip(2).collect::<Vec<_>>() == ["ok", "3/3"])
    }
}

impl Guest {
    /// Boots `kernel` on a copy-on-write over `rootfs` with `eth0=<eth0>`, address `ip`/24, pinging
    /// `peer`.
    pub fn boot(
        kernel: &Path,
        rootfs: &Rootfs,
        name: &str,
        eth0: &str,
        ip: &str,
        peer: &str,
    ) -> Guest {
        let n = GUEST_COUNTER.fetch_add(1, Ordering::SeqCst);
        let umid = format!("vdet{}-{n}-{name}", std::process::id());
        let home = rootfs.dir().join(format!("home-{umid}"));
        std::fs::create_dir_all(&home).unwrap();
        let cow = rootfs.dir().join(format!("{umid}.cow"));
        let mut words = base_words(&umid, &cow, &rootfs.image);
        words.extend([
            format!("eth0={eth0}"),
            format!("VT_NAME={name}"),
            format!("VT_IP={ip}"),
            format!("VT_PEER={peer}"),
        ]);
        let k = Kernel::spawn(kernel, words, &home, None);
        let command_line = format!(
            "{} {}{}",
            kernel.display(),
            k.words.join(" "),
            if k.workaround {
                " (with the AMX seccomp workaround)"
            } else {
                ""
            }
        );
        Guest {
            kernel: k,
            name: name.to_string(),
            umid,
            command_line,
        }
    }

    /// Waits (at most `timeout`) for the result line, then briefly for the kernel to halt.
    pub fn wait_result(&mut self, timeout: Duration) -> GuestOutcome {
        let tag = format!("{RESULT_TAG} {} ", self.name);
        let mut exited = false;
        wait_until(timeout, || {
            exited = exited || matches!(self.kernel.child.try_wait(), Ok(Some(_)));
            exited || self.kernel.out.text().contains(&tag)
        });
        let console = self.kernel.out.text();
        let result = console
            .lines()
            .find(|l| l.contains(&tag))
            .map(|l| l[l.find(RESULT_TAG).unwrap()..].trim().to_string());
        let err = self.kernel.err.text();
        let log = if err.is_empty() {
            console
        } else {
            format!("{console}\n--- kernel stderr ---\n{err}")
        };
        GuestOutcome { result, log }
    }

    /// Waits for the kernel to exit (after `halt -f`); its exit code if it did within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        self.kernel.wait_exit(timeout)
    }
}

/// Formats a guest's outcome for an assertion message.
pub fn describe(g: &Guest, o: &GuestOutcome) -> String {
    let tail: Vec<&str> = o.log.lines().rev().take(40).collect();
    format!(
        "guest {} ({}): result {:?}\n--- last lines of its console ---\n{}",
        g.name,
        g.command_line,
        o.result,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
}
