//! Starting a lab: check everything, start one switch per collision domain, then every guest
//! through umlrun, and return once all guests have booted (their startup files have run). If
//! anything fails, or a signal arrives, what was started is stopped again.

use crate::conf::{self, Lab};
use crate::down;
use crate::error::{LabError, Result};
use crate::guest;
use crate::interrupt::Interrupt;
use crate::layout::Layout;
use crate::lock;
use crate::plan::{self, Plan};
use crate::proc;
use crate::rootfs;
use crate::state::{HostState, State};
use crate::switch;
use crate::tools;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Stay in the foreground; stop the lab on SIGINT/SIGTERM/SIGHUP.
    pub foreground: bool,
    /// How long all guests together may take to boot.
    pub boot_timeout: Duration,
    /// umlrun's `--stop-timeout` for each guest.
    pub stop_timeout: f64,
    pub kernel: Option<PathBuf>,
    /// The root file system of hosts without `HOST[image]` (default: [`rootfs::default_path`],
    /// made if missing).
    pub rootfs: Option<PathBuf>,
}

/// Reads and checks `lab.conf` and the lab directory.
pub fn load(layout: &Layout) -> Result<Lab> {
    let path = layout.conf();
    let text = std::fs::read_to_string(&path).map_err(|e| LabError::io(&path, "read", e))?;
    let lab = conf::parse(&text).map_err(LabError::Refused)?;
    let problems = conf::check_files(&lab, &layout.lab);
    if !problems.is_empty() {
        return Err(LabError::Refused(problems));
    }
    Ok(lab)
}

/// `vdelab up`.
pub fn up(
    layout: &Layout,
    opts: &UpOptions,
    intr: &Interrupt,
    out: &mut dyn FnMut(&str),
) -> Result<()> {
    let lab = load(layout)?;
    for w in &lab.warnings {
        out(&format!("warning: {w}"));
    }
    for d in [
        &layout.state,
        &layout.disks(),
        &layout.logs(),
        &layout.ready(),
    ] {
        std::fs::create_dir_all(d).map_err(|e| LabError::io(d, "create", e))?;
    }
    let lock = lock::lab(layout)?;
    if let Some(old) = State::load(&layout.state_file())? {
        if down::anything_runs(layout, &old) {
            return Err(LabError::failed(
                format!("the lab in {} is already running", layout.lab.display()),
                "see `vdelab status`, or stop it with `vdelab down`",
            ));
        }
    }
    // Left by a run that ended without `down` (the machine stopped, processes were killed).
    down::remove_runtime(layout);
    let vde_switch = tools::ours("vde_switch")?;
    let umlrun = tools::ours("umlrun")?;
    check_kernels(layout, &lab, opts.kernel.as_deref())?;
    let rootfs = opts.rootfs.clone().unwrap_or_else(rootfs::default_path);
    if lab.hosts.iter().any(|h| h.image.is_none()) && !rootfs.is_file() {
        if opts.rootfs.is_some() {
            return Err(LabError::failed(
                format!("the root file system {} does not exist", rootfs.display()),
                "make it with `vdelab rootfs --output FILE`",
            ));
        }
        out(&format!(
            "making the guests' root file system {} (vdelab rootfs)",
            rootfs.display()
        ));
        rootfs::ensure(&rootfs, rootfs::DEFAULT_SIZE, false)?;
    }
    let plan = plan::plan(
        &lab,
        layout,
        &plan::Options {
            rootfs,
            kernel: opts.kernel.clone(),
            stop_timeout: opts.stop_timeout,
        },
    )?;
    for h in &plan.hosts {
        guest::make_new_disks(h)?;
    }
    layout.make_run()?;
    let mut state = State {
        lab: layout.lab.clone(),
        stop_timeout: opts.stop_timeout,
        ..State::default()
    };
    state.save(&layout.state_file())?;
    let mut children = Vec::new();
    let started = start_all(
        layout,
        &lab,
        &plan,
        opts,
        &vde_switch,
        &umlrun,
        &mut state,
        &mut children,
        intr,
        out,
    );
    if let Err(e) = started {
        out("stopping what was started");
        down::stop_all(layout, &state, None, intr, out);
        reap(&mut children);
        return Err(e);
    }
    drop(lock);
    out(&format!(
        "the lab is up: {} on {}; `vdelab console HOST` opens a console, `vdelab down` stops it",
        count(lab.hosts.len(), "host"),
        count(lab.domains.len(), "collision domain")
    ));
    if opts.foreground {
        out("running in the foreground: Ctrl-C stops the lab");
        watch(layout, &state, intr, out);
        let _lock = lock::lab(layout);
        if State::load(&layout.state_file())?.is_some() {
            down::stop_all(layout, &state, None, intr, out);
        }
        reap(&mut children);
    }
    Ok(())
}

/// Every kernel the hosts will boot exists and is a UML kernel (umlrun checks it again, but
/// only once the switches run).
fn check_kernels(layout: &Layout, lab: &Lab, default: Option<&std::path::Path>) -> Result<()> {
    let mut kernels: Vec<Option<PathBuf>> = lab
        .hosts
        .iter()
        .map(|h| {
            h.kernel
                .as_ref()
                .map(|k| layout.lab.join(k))
                .or_else(|| default.map(PathBuf::from))
        })
        .collect();
    kernels.dedup();
    for k in kernels {
        uml_launcher::kernel::Kernel::find(k.as_deref()).map_err(|e| {
            LabError::failed(
                e.to_string(),
                "install the Debian package user-mode-linux, or name a kernel with --kernel, \
                 UML_KERNEL or HOST[kernel]",
            )
        })?;
    }
    Ok(())
}

/// The end of a guest's logs: umlrun's, and its console's.
fn guest_logs(layout: &Layout, host: &str) -> String {
    let mut s = proc::log_tail(&layout.host_log(host), 12);
    let console = proc::log_tail(&layout.console_log(host), 12);
    if !console.is_empty() {
        s.push_str(&format!("\n--- the end of {host}'s console ---\n{console}"));
    }
    s
}

pub fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

#[allow(clippy::too_many_arguments)]
fn start_all(
    layout: &Layout,
    lab: &Lab,
    plan: &Plan,
    opts: &UpOptions,
    vde_switch: &std::path::Path,
    umlrun: &std::path::Path,
    state: &mut State,
    children: &mut Vec<Child>,
    intr: &Interrupt,
    out: &mut dyn FnMut(&str),
) -> Result<()> {
    let file = layout.state_file();
    for sw in &plan.switches {
        let child = switch::start(vde_switch, sw, layout, &|| intr.raised(), &mut |_, s| {
            state.switches.push(s);
            state.save(&file)
        })?;
        children.push(child);
        out(&format!(
            "collision domain {}: {} on {}",
            sw.domain,
            if sw.hub { "hub" } else { "switch" },
            layout.switch_dir(&sw.domain).display()
        ));
    }
    let boot_started = Instant::now();
    for h in &plan.hosts {
        if intr.raised() {
            return Err(LabError::Interrupted);
        }
        let child = guest::start(umlrun, h, layout)?;
        state.hosts.push(HostState {
            name: h.name.clone(),
            umlrun_pid: child.id() as i32,
            ifaces: h.ifaces.clone(),
        });
        children.push(child);
        state.save(&file)?;
    }
    let keeper = start_keeper(layout, &plan.hosts)?;
    state.keeper_pid = Some(keeper.id() as i32);
    children.push(keeper);
    state.save(&file)?;
    out(&format!(
        "booting {}",
        lab.hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let guests = &mut children[plan.switches.len()..plan.switches.len() + plan.hosts.len()];
    let mut waiting: Vec<usize> = (0..plan.hosts.len()).collect();
    let deadline = boot_started + opts.boot_timeout;
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for i in waiting {
            let name = &plan.hosts[i].name;
            if let Some(status) = guest::booted(layout, name) {
                let took = boot_started.elapsed().as_secs_f64();
                out(&match status {
                    0 => format!("{name} is up ({took:.1} s)"),
                    s => format!(
                        "{name} is up ({took:.1} s), but its startup files ended with status \
                         {s} (see .vdelab/log/{name}.startup.log)"
                    ),
                });
            } else if let Ok(Some(status)) = guests[i].try_wait() {
                return Err(LabError::failed(
                    format!(
                        "{name} ended before its boot was done (umlrun {status}):\n{}",
                        guest_logs(layout, name)
                    ),
                    format!(
                        "its logs are {} and {}",
                        layout.host_log(name).display(),
                        layout.console_log(name).display()
                    ),
                ));
            } else {
                still.push(i);
            }
        }
        waiting = still;
        if waiting.is_empty() {
            break;
        }
        if intr.raised() {
            return Err(LabError::Interrupted);
        }
        if Instant::now() >= deadline {
            let names: Vec<&str> = waiting
                .iter()
                .map(|&i| plan.hosts[i].name.as_str())
                .collect();
            return Err(LabError::failed(
                format!(
                    "{} did not finish booting within {:.0?}:\n{}",
                    names.join(", "),
                    opts.boot_timeout,
                    guest_logs(layout, names[0])
                ),
                "a startup file that does not end (a server not started with &) holds the \
                 boot; the guests' logs are in .vdelab/log; a slow machine needs a longer \
                 --timeout",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Starts the lab's console keeper (`vdelab keep DIR RUN`, the running vdelab again).
fn start_keeper(layout: &Layout, hosts: &[plan::HostPlan]) -> Result<Child> {
    let exe = std::env::current_exe().map_err(|e| LabError::io("vdelab", "find itself", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("keep").arg(&layout.lab).arg(&layout.run);
    cmd.args(hosts.iter().map(|h| &h.name));
    proc::spawn_logged(&mut cmd, &layout.keeper_log())
}

/// In the foreground: waits for a signal, for every guest to end, or for the lab to be stopped
/// from elsewhere (`vdelab down`).
fn watch(layout: &Layout, state: &State, intr: &Interrupt, out: &mut dyn FnMut(&str)) {
    let mark = down::mark(layout);
    let mut ended: Vec<&str> = Vec::new();
    loop {
        if intr.raised() {
            out("stopping the lab");
            return;
        }
        if !layout.state_file().exists() {
            out("the lab was stopped (vdelab down)");
            return;
        }
        for h in &state.hosts {
            if !ended.contains(&h.name.as_str()) && !proc::ours(h.umlrun_pid, &mark) {
                ended.push(&h.name);
                out(&format!("{} has ended", h.name));
            }
        }
        if ended.len() == state.hosts.len() {
            out("every guest has ended; stopping the switches");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Collects the exit statuses of our children (none stays a zombie).
fn reap(children: &mut [Child]) {
    for c in children {
        let _ = c.try_wait();
    }
}
