//! Where the binaries under test are, and whether they are the reference implementation.
//!
//! * `VDE_SWITCH_BIN` / `UML_SWITCH_BIN` override the switch binaries under test.
//! * Default: our build, `<target>/debug/vde_switch` and `<target>/debug/uml_switch`, next to the
//!   test binary (which lives in `<target>/debug/deps/`), or under `CARGO_TARGET_DIR`.
//! * `VDE_SWITCH_IS_REFERENCE` / `UML_SWITCH_IS_REFERENCE` (`1`/`0`) force the "is this the
//!   reference?" answer; by default a binary is the reference if it is the same file as
//!   `/usr/bin/vde_switch` (resp. `/usr/bin/uml_switch`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference vde_switch 2.3.2 (Debian package vde2).
pub const REFERENCE_VDE_SWITCH: &str = "/usr/bin/vde_switch";
/// The reference uml_switch (Debian package uml-utilities).
pub const REFERENCE_UML_SWITCH: &str = "/usr/bin/uml_switch";

/// The `vde_switch` under test.
pub fn vde_switch_bin() -> PathBuf {
    locate("VDE_SWITCH_BIN", "vde_switch")
}

/// The `uml_switch` under test.
pub fn uml_switch_bin() -> PathBuf {
    locate("UML_SWITCH_BIN", "uml_switch")
}

/// True if the `vde_switch` under test is the reference binary: tests of our deliberate fixes then
/// check the reference's (documented) behaviour instead, or skip.
pub fn is_reference() -> bool {
    reference_check(
        "VDE_SWITCH_IS_REFERENCE",
        &vde_switch_bin(),
        REFERENCE_VDE_SWITCH,
    )
}

/// True if the `uml_switch` under test is the reference binary.
pub fn is_uml_reference() -> bool {
    reference_check(
        "UML_SWITCH_IS_REFERENCE",
        &uml_switch_bin(),
        REFERENCE_UML_SWITCH,
    )
}

/// Prints a note that a fix-only check is skipped because the reference is under test.
pub fn note_reference(what: &str) {
    crate::proc::announce(&format!("note: switch under test is the reference; {what}"));
}

/// True if `bin` is the reference `vde_switch` (the binary under test counts as the reference
/// when [`is_reference`] says so).
pub fn is_reference_bin(bin: &Path) -> bool {
    same_file(bin, Path::new(REFERENCE_VDE_SWITCH))
        || (same_file(bin, &vde_switch_bin()) && is_reference())
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// The command for the `vde_switch` binary `bin`, isolated from the configuration of whoever
/// runs the tests: `HOME` is `home` (so no `~/.vde2/vde_switch.rc` of theirs), and with `isolate`
/// no system rc file is read either: ours gets `--ignore-system-rc`; the reference, which lacks
/// that option, gets `-f /dev/null` (an empty rc file instead; a later `-f` still wins).
pub fn vde_switch_command(bin: &Path, home: &Path, isolate: bool) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("HOME", home);
    if isolate {
        if is_reference_bin(bin) {
            cmd.args(["-f", "/dev/null"]);
        } else {
            cmd.arg("--ignore-system-rc");
        }
    }
    cmd
}

/// The command for the `uml_switch` binary `bin` with `HOME` set to `home` (it reads no rc
/// file; the private HOME keeps it that way).
pub fn uml_switch_command(bin: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env("HOME", home);
    cmd
}

fn reference_check(var: &str, bin: &Path, reference: &str) -> bool {
    match std::env::var(var).ok().as_deref() {
        Some("1") | Some("true") | Some("yes") => return true,
        Some("0") | Some("false") | Some("no") => return false,
        _ => {}
    }
    match (bin.canonicalize(), Path::new(reference).canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn locate(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{var}={} does not name an existing file",
            p.display()
        );
        return p;
    }
    let candidates = candidate_dirs();
    for dir in &candidates {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "the {name} under test was not found (looked in: {}). Build it first with \
         `cargo build --workspace --bins` (scripts/test does that), or point {var} at a binary \
         (e.g. {var}=/usr/bin/{name} to run the suite against the reference).",
        candidates
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Directories where our debug binaries may be, most specific first.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    // The test binary is <target>/<profile>/deps/<name>-<hash>; binaries are in <target>/<profile>,
    // and `cargo build --bins` (no --release) puts them in <target>/debug.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(deps) = exe.parent().filter(|d| d.ends_with("deps")) {
            if let Some(profile) = deps.parent() {
                dirs.push(profile.to_path_buf());
                if let Some(target) = profile.parent() {
                    dirs.push(target.join("debug"));
                }
            }
        }
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(t).join("debug"));
    }
    // <workspace>/tests is this crate's manifest dir.
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug"));
    dirs.dedup();
    dirs
}

/// Any binary of the workspace (e.g. `umlcow`): `$var` if set, else our debug build.
pub fn workspace_bin(var: &str, name: &str) -> PathBuf {
    locate(var, name)
}
