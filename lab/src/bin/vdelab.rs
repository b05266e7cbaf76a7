//! `vdelab`: Netkit-style labs on our vde_switch and stock UML guests.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use uml_launcher::options::parse_secs;
use vdelab::error::exit;
use vdelab::interrupt::Interrupt;
use vdelab::layout::Layout;
use vdelab::up::UpOptions;
use vdelab::{console, disks, down, keeper, rootfs, status, up, LabError};

const AFTER_HELP: &str = "\
A lab is a directory: lab.conf says which host has which interface on which collision domain
(h1[0]=A puts eth0 of h1 on A), HOST.startup runs in HOST at boot (shared.startup in every
host), HOST/ is copied over HOST's root file system, and the directory is /hostlab in every
guest. Each collision domain is one of our vde_switch (a hub with domain[A][hub]=yes); each
host is a stock UML kernel started by umlrun on a COW file over the busybox root file system of
`vdelab rootfs`. The lab's disks, saves and logs are in DIR/.vdelab.

Exit status: 0 done (for `up --foreground`: the lab ran and was stopped); 1 failed (what was
started is stopped again); 2 the lab or the command line has mistakes, nothing was started;
3 the lab is not running (status, console); 130 interrupted.";

#[derive(Parser, Debug)]
#[command(
    name = "vdelab",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (vde-rs)\nno stock counterpart: runs Netkit-style labs (lab.conf) of UML guests on vde_switch"),
    about = "Labs of UML guests on virtual switches, from one directory (Netkit's lab.conf)",
    after_help = AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Start the lab: one switch per collision domain, then every guest; returns once all
    /// guests have booted.
    Up {
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
        /// Stay in the foreground and stop the lab on Ctrl-C.
        #[arg(long)]
        foreground: bool,
        /// Seconds all guests together may take to boot.
        #[arg(long, default_value_t = 300.0, value_name = "SECS", value_parser = parse_secs)]
        timeout: f64,
        /// Seconds each guest gets to stop cleanly before it is killed.
        #[arg(long, default_value_t = 15.0, value_name = "SECS", value_parser = parse_secs)]
        stop_timeout: f64,
        /// The UML kernel (default: umlrun's choice: $UML_KERNEL, linux or linux.uml in PATH).
        #[arg(long, value_name = "FILE")]
        kernel: Option<PathBuf>,
        /// The root file system of hosts without HOST[image] (default: the one `vdelab rootfs`
        /// makes, made now if missing).
        #[arg(long, value_name = "FILE")]
        rootfs: Option<PathBuf>,
    },
    /// Stop the lab: each guest cleanly through its mconsole (killed after a timeout), then the
    /// switches.
    Down {
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
        /// Seconds the guests get to stop cleanly (default: the --stop-timeout of `up`, plus 10).
        #[arg(long, value_name = "SECS", value_parser = parse_secs)]
        timeout: Option<f64>,
    },
    /// Show the hosts (state, pids, switch ports) and the collision domains; exit status 3 when
    /// the lab is not running.
    Status {
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Attach this terminal to a guest's console (Ctrl-] detaches).
    Console {
        /// The host, as lab.conf names it.
        host: String,
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
    },
    /// Write the frames of a collision domain to stdout as pcapng, an interface per port
    /// (`vdecap` on the domain's switch: `vdelab capture A | tcpdump -n -r -`).
    Capture {
        /// The collision domain.
        domain: String,
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
    },
    /// Check lab.conf and the lab directory without starting anything.
    Check {
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
    },
    /// Remove the lab's disks (COW files), logs and runtime state; saves are kept.
    Clean {
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
    },
    /// Archive the lab's disks (sparse files kept sparse) as the save NAME.
    Save {
        /// A name for the save (letters, digits, `_`, `-`, `.`).
        name: String,
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
        /// Replace an existing save of that name.
        #[arg(long)]
        force: bool,
    },
    /// Put the lab's disks back as they were saved as NAME (the lab must be stopped).
    Restore {
        /// The save's name.
        name: String,
        /// The lab directory (default: the current one).
        dir: Option<PathBuf>,
    },
    /// The console keeper of a running lab (started by `up`).
    #[command(hide = true)]
    Keep {
        dir: PathBuf,
        run: PathBuf,
        hosts: Vec<String>,
    },
    /// Make the guests' busybox root file system (no root privileges, no download).
    Rootfs {
        /// Where (default: $XDG_DATA_HOME/vdelab/rootfs.ext4, or ~/.local/share/vdelab/...).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Image size (sparse).
        #[arg(long, default_value = rootfs::DEFAULT_SIZE, value_name = "SIZE")]
        size: String,
        /// Replace an existing image (COW files made over the old one no longer fit it).
        #[arg(long)]
        force: bool,
    },
}

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "vdelab: {line}");
}

fn report(e: &LabError) -> u8 {
    match e {
        LabError::Refused(problems) => {
            for p in problems {
                say(&format!("mistake: {p}"));
            }
            say(&format!(
                "nothing was started ({} mistake{})",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
        }
        other => {
            let mut msg = format!("error: {other}");
            let mut src = std::error::Error::source(other);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            say(&msg);
            if let Some(fix) = other.fix() {
                say(&format!("  fix: {fix}"));
            }
        }
    }
    e.exit_code()
}

fn layout(dir: &Option<PathBuf>) -> Result<Layout, LabError> {
    Layout::new(dir.as_deref().unwrap_or(Path::new(".")))
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn run(cli: Cli) -> Result<u8, LabError> {
    let mut out = |l: &str| say(l);
    let done: Result<(), LabError> = match cli.command {
        Cmd::Up {
            dir,
            foreground,
            timeout,
            stop_timeout,
            kernel,
            rootfs,
        } => {
            let intr = Interrupt::install()?;
            let opts = UpOptions {
                foreground,
                boot_timeout: Duration::from_secs_f64(timeout),
                stop_timeout,
                kernel,
                rootfs,
            };
            up::up(&layout(&dir)?, &opts, &intr, &mut out)
        }
        Cmd::Down { dir, timeout } => {
            let intr = Interrupt::install()?;
            down::down(
                &layout(&dir)?,
                timeout.map(Duration::from_secs_f64),
                &intr,
                &mut out,
            )
        }
        Cmd::Status { dir, json } => {
            let s = status::status(&layout(&dir)?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s).expect("serialises"));
            } else {
                print!("{}", status::render(&s));
            }
            return Ok(if s.running {
                exit::OK
            } else {
                exit::NOT_RUNNING
            });
        }
        Cmd::Console { host, dir } => console::attach(&layout(&dir)?, &host).map(|_| ()),
        Cmd::Capture { domain, dir } => {
            let l = layout(&dir)?;
            let mgmt = l.switch_mgmt(&domain);
            if !mgmt.exists() {
                return Err(LabError::failed(
                    format!("no switch of collision domain {domain} is running"),
                    "start the lab with vdelab up, and name a collision domain of lab.conf",
                ));
            }
            let vdecap = vdelab::tools::ours("vdecap")?;
            use std::os::unix::process::CommandExt;
            let e = std::process::Command::new(&vdecap)
                .arg(&mgmt)
                .arg("all")
                .exec();
            Err(LabError::io(&vdecap, "run", e))
        }
        Cmd::Check { dir } => {
            let l = layout(&dir)?;
            let lab = up::load(&l)?;
            for w in &lab.warnings {
                out(&format!("warning: {w}"));
            }
            out(&format!(
                "{}: {} on {}, no mistakes",
                l.conf().display(),
                up::count(lab.hosts.len(), "host"),
                up::count(lab.domains.len(), "collision domain")
            ));
            Ok(())
        }
        Cmd::Clean { dir } => {
            let l = layout(&dir)?;
            let removed = disks::clean(&l)?;
            if removed.is_empty() {
                out("nothing to clean");
            }
            for r in removed {
                out(&format!("removed {}", r.display()));
            }
            Ok(())
        }
        Cmd::Save { name, dir, force } => {
            let s = disks::save(&layout(&dir)?, &name, force)?;
            out(&format!(
                "saved {} ({}) to {}: {} of data in {} on disk",
                s.files.len(),
                s.files.join(", "),
                s.archive.display(),
                mib(s.apparent),
                mib(s.stored)
            ));
            Ok(())
        }
        Cmd::Restore { name, dir } => {
            let files = disks::restore(&layout(&dir)?, &name)?;
            out(&format!(
                "restored {} from the save {name}",
                files.join(", ")
            ));
            Ok(())
        }
        Cmd::Keep { dir, run, hosts } => {
            let intr = Interrupt::install()?;
            let l = Layout::new(&dir)?;
            if l.run != run {
                return Err(LabError::failed(
                    format!(
                        "{} is not the runtime directory of {}",
                        run.display(),
                        dir.display()
                    ),
                    "the keeper is started by `vdelab up`",
                ));
            }
            keeper::run(&l, &hosts, &intr)
        }
        Cmd::Rootfs {
            output,
            size,
            force,
        } => {
            let path = output.unwrap_or_else(rootfs::default_path);
            if path.exists() && !force {
                return Err(LabError::failed(
                    format!("{} exists", path.display()),
                    "keep it, or make it again with --force (then `vdelab clean` the labs that \
                     ran on it: their COW files no longer fit)",
                ));
            }
            rootfs::ensure(&path, &size, force)?;
            out(&format!("made {}", path.display()));
            Ok(())
        }
    };
    done.map(|()| exit::OK)
}

fn main() -> ExitCode {
    clidoc::serve_if_asked(<Cli as clap::CommandFactory>::command);
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(report(&e)),
    }
}
