//! What the suite needs from the machine. A test whose dependency is missing fails, saying what
//! to install (`scripts/test` installs everything). Only when `VDE_TESTS_ALLOW_SKIP=1` is set,
//! and never when `CI` is set, is such a test skipped instead; every skip is then written to the
//! terminal (past the harness's output capture) and appended to the file named by
//! `VDE_TESTS_SKIP_LOG`, which `scripts/test` summarises at the end of the run.
//!
//! Each function returns `Some(..)` when the dependency is there and `None` only when the test
//! is to be skipped:
//!
//! ```ignore
//! let Some(kernel) = needs::uml_kernel() else { return };
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

/// The variable that allows skipping (`1`).
pub const ALLOW_SKIP: &str = "VDE_TESTS_ALLOW_SKIP";
/// The file every skip is appended to (one line each), if set.
pub const SKIP_LOG: &str = "VDE_TESTS_SKIP_LOG";
/// What every skip line starts with.
pub const SKIP_MARKER: &str = "SKIPPED";

/// The name of the running test (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// Whether a missing dependency may skip the test: only with `VDE_TESTS_ALLOW_SKIP=1`, and not
/// under CI.
pub fn skipping_allowed() -> bool {
    std::env::var(ALLOW_SKIP).is_ok_and(|v| v == "1") && std::env::var_os("CI").is_none()
}

/// `what` is missing, `fix` says how to get it: fails the test, or (when skipping is allowed)
/// records the skip and returns `None`.
pub fn missing<T>(what: &str, fix: &str) -> Option<T> {
    let test = test_name();
    if !skipping_allowed() {
        let why_not = if std::env::var(ALLOW_SKIP).is_ok_and(|v| v == "1") {
            " (CI is set, so VDE_TESTS_ALLOW_SKIP=1 is ignored)"
        } else {
            ""
        };
        panic!(
            "{test} needs {what}: {fix}. scripts/test installs every package the suite needs; \
             set {ALLOW_SKIP}=1 to skip such tests instead of failing them{why_not}"
        );
    }
    let line = format!("{SKIP_MARKER} {test}: needs {what} ({fix})");
    crate::proc::announce(&line);
    if let Some(log) = std::env::var_os(SKIP_LOG).filter(|v| !v.is_empty()) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
        if let Err(e) = appended {
            crate::proc::announce(&format!(
                "cannot append to {SKIP_LOG}={}: {e}",
                Path::new(&log).display()
            ));
        }
    }
    None
}

/// An executable file at `path`, from Debian package `package`.
pub fn program(path: &str, package: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if is_executable(&p) {
        Some(p)
    } else {
        missing(path, &format!("install the Debian package {package}"))
    }
}

/// A file (data, not a program) at `path`, from Debian package `package`.
pub fn file(path: &str, package: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.is_file() {
        Some(p)
    } else {
        missing(path, &format!("install the Debian package {package}"))
    }
}

/// The program `name` found in `PATH`, from Debian package `package`.
pub fn in_path(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    });
    match found {
        Some(p) => Some(p),
        None => missing(
            &format!("`{name}` in PATH"),
            &format!("install the Debian package {package}"),
        ),
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Root privileges (to act as another user, make namespaces and taps), for `why`.
pub fn root(why: &str) -> Option<()> {
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } == 0 {
        Some(())
    } else {
        missing(
            &format!("root privileges ({why})"),
            "run the suite as root, e.g. `sudo -E scripts/test`",
        )
    }
}

/// The UML kernel: `UML_KERNEL`, or `/usr/bin/linux.uml`.
pub fn uml_kernel() -> Option<PathBuf> {
    let k = crate::uml::kernel_path();
    if k.is_file() {
        Some(k)
    } else {
        missing(
            &format!("a UML kernel at {}", k.display()),
            "install the Debian package user-mode-linux, or point UML_KERNEL at a kernel",
        )
    }
}
