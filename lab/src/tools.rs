//! The programs vdelab runs: our `vde_switch` and `umlrun` (next to the `vdelab` executable,
//! else in `PATH`), and system tools (`mkfs.ext4`, `tar`).

use crate::error::{LabError, Result};
use std::path::PathBuf;
use uml_launcher::kernel::{is_executable, which};

/// One of our binaries: next to the running `vdelab` first (so a build tree or an install
/// prefix uses its own switch), else in `PATH`.
pub fn ours(name: &str) -> Result<PathBuf> {
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)))
        .filter(|p| is_executable(p));
    sibling.or_else(|| which(name)).ok_or_else(|| {
        LabError::failed(
            format!("{name} not found next to vdelab or in PATH"),
            format!("install {name} from this project (cargo build --workspace --bins builds it)"),
        )
    })
}

/// A system program, in `PATH` or the sbin directories (not always in a user's `PATH`).
pub fn system(name: &str, package: &str) -> Result<PathBuf> {
    which(name)
        .or_else(|| {
            ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .map(|d| PathBuf::from(d).join(name))
                .find(|p| is_executable(p))
        })
        .ok_or_else(|| {
            LabError::failed(
                format!("{name} not found"),
                format!("install the Debian package {package}"),
            )
        })
}

/// Runs `cmd` to completion; its stderr becomes the error.
pub fn run(cmd: &mut std::process::Command, what: &'static str) -> Result<()> {
    let prog = PathBuf::from(cmd.get_program());
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| LabError::io(&prog, what, e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(LabError::io(
        &prog,
        what,
        std::io::Error::other(format!(
            "{} ({})",
            String::from_utf8_lossy(&out.stderr).trim(),
            out.status
        )),
    ))
}
