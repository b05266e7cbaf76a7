//! The guests: each one runs under its own `umlrun` (which checks its command line, makes its
//! COW files, applies the host workaround and, on SIGTERM, stops it cleanly through its
//! mconsole), in the background with its log in the lab's `.vdelab/log`.

use crate::error::{LabError, Result};
use crate::layout::Layout;
use crate::plan::HostPlan;
use crate::proc;
use crate::tools;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;
use uml_launcher::mconsole::Mconsole;

/// Makes the host's empty extra disks that do not exist yet.
pub fn make_new_disks(plan: &HostPlan) -> Result<()> {
    for (file, size) in &plan.new_disks {
        if file.exists() {
            continue;
        }
        let mkfs = tools::system("mkfs.ext4", "e2fsprogs")?;
        let tmp = file.with_extension("tmp");
        let r = tools::run(
            Command::new(mkfs).arg("-q").arg(&tmp).arg(size),
            "make an empty disk",
        );
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
            return r;
        }
        std::fs::rename(&tmp, file).map_err(|e| LabError::io(file, "write", e))?;
    }
    Ok(())
}

/// Starts `umlrun` for the host. Its private files go to the lab's runtime directory.
pub fn start(umlrun: &Path, plan: &HostPlan, layout: &Layout) -> Result<Child> {
    let mut cmd = Command::new(umlrun);
    cmd.args(&plan.args).env("XDG_RUNTIME_DIR", &layout.run);
    proc::spawn_logged(&mut cmd, &layout.host_log(&plan.name))
}

/// Whether the guest finished its boot: `Some(status of its startup files)` once its mark is
/// there.
pub fn booted(layout: &Layout, host: &str) -> Option<i32> {
    std::fs::read_to_string(layout.ready_file(host))
        .ok()
        .map(|s| s.trim().parse().unwrap_or(-1))
}

/// The pid the guest's kernel recorded in its umid directory.
pub fn kernel_pid(layout: &Layout, host: &str) -> Option<i32> {
    std::fs::read_to_string(layout.uml_dir().join(host).join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The host side of the guest's console (`/dev/pts/N`), asked from its mconsole.
pub fn console_pts(layout: &Layout, host: &str) -> Option<String> {
    let mc = Mconsole::new(&layout.mconsole(host)).ok()?;
    let r = mc.command("config con0", Duration::from_secs(2)).ok()?;
    r.ok.then(|| r.text.trim().strip_prefix("pts:").map(str::to_string))?
}
