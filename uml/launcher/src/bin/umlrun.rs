//! `umlrun`: start a stock User Mode Linux kernel with checks, host workarounds and a clean stop.

#![forbid(unsafe_code)]

use clap::{Parser, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use uml_launcher::guest::{self, Launch, Outcome};
use uml_launcher::hostfix::{self, Decision, HostCpu};
use uml_launcher::mconsole::{Mconsole, Notifier};
use uml_launcher::options::{parse_secs, Console, Options};
use uml_launcher::stop::PidTarget;
use uml_launcher::{exit, files, plan, registry, LaunchError};

const AFTER_HELP: &str = "\
Kernel arguments are passed verbatim, so a course command line works with `linux` replaced by
`umlrun`:
    umlrun mem=96M umid=h1 ubd0=h1.cow,rootfs.ext4 eth0=vde,/tmp/s1

Before the kernel starts, umlrun refuses common mistakes (misspelled parameters such as `udb` or
`demon`, spaces inside a list, a COW file whose backing file changed, a missing backing file, a
switch that does not run, a umid already in use, paths with `,` or `:`), and creates missing COW
files. It adds `noreboot`, `con=null con0=fd:0,fd:1` (unless con= words are given) and a `mem=`
default, maps `ethN=daemon|vde` to `vecN:transport=vde` on kernels without the legacy
transports, and applies the AMX host workaround for kernels before 6.13 where the host needs it.

SIGINT, SIGTERM or SIGHUP (closing the terminal) stops the guest cleanly through its mconsole:
sync, remount read-only, halt; after --stop-timeout it is killed.

Exit status: 0 the guest halted (by itself or through the clean stop); 1 umlrun failed;
2 refused before boot; 3 kernel panic; 4 the kernel was killed (or had to be).";

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ConsoleArg {
    Stdio,
    Null,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum WorkaroundArg {
    Auto,
    On,
    Off,
}

#[derive(Parser, Debug)]
#[command(
    name = "umlrun",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (vde-rs)\nno stock counterpart: starts stock User Mode Linux kernels (linux.uml) in place of running them by hand"),
    about = "Start a User Mode Linux guest: stock kernels, checked command lines, a clean stop",
    after_help = AFTER_HELP
)]
struct Cli {
    /// The UML kernel (default: $UML_KERNEL, else `linux` or `linux.uml` in PATH).
    #[arg(long, value_name = "FILE")]
    kernel: Option<PathBuf>,
    /// Guest memory (mem=), e.g. 128M.
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,
    /// Machine id (umid=): names the guest for --stop and --list.
    #[arg(long, value_name = "NAME")]
    umid: Option<String>,
    /// A disk: COW,BACKING, or IMAGE (a COW file STEM-UMID.cow is made next to it). Repeatable.
    #[arg(long, value_name = "COW,BACKING|IMAGE")]
    disk: Vec<String>,
    /// An extra read-write disk, made as an empty ext4 image of SIZE if missing. Repeatable.
    #[arg(long, value_name = "IMAGE,SIZE")]
    new_disk: Vec<String>,
    /// A network interface: vde:DIR (vde_switch -s DIR) or daemon:CTL. Repeatable.
    #[arg(long, value_name = "vde:DIR|daemon:CTL")]
    net: Vec<String>,
    /// Let the guest mount only this host directory with hostfs (hostfs=).
    #[arg(long, value_name = "DIR")]
    hostfs: Option<PathBuf>,
    /// Console 0 on umlrun's stdin/stdout, or none.
    #[arg(long, value_enum, value_name = "stdio|null")]
    console: Option<ConsoleArg>,
    /// Never apply the AMX host workaround.
    #[arg(long)]
    no_host_workaround: bool,
    /// The AMX host workaround: auto (where needed), on (always), off.
    #[arg(long, value_enum, default_value = "auto", value_name = "auto|on|off")]
    host_workaround: WorkaroundArg,
    /// Let the guest reboot (no `noreboot`).
    #[arg(long)]
    reboot: bool,
    /// Seconds a clean stop may take before the kernel is killed.
    #[arg(long, default_value_t = 15.0, value_name = "SECS", value_parser = parse_secs)]
    stop_timeout: f64,
    /// Check everything and print the kernel command line, but do not start it.
    #[arg(long)]
    dry_run: bool,
    /// Print only mistakes and warnings.
    #[arg(short, long)]
    quiet: bool,
    /// List the guests in the uml_dir (running or left behind).
    #[arg(long, conflicts_with_all = ["stop", "dry_run"])]
    list: bool,
    /// Stop a running guest cleanly (by umid, umid directory or mconsole socket).
    #[arg(long, value_name = "UMID")]
    stop: Option<String>,
    /// The uml_dir for --list and --stop (default ~/.uml).
    #[arg(long, value_name = "DIR")]
    uml_dir: Option<PathBuf>,
    /// The kernel's own arguments, verbatim (mem=, umid=, ubdN=, ethN=, vecN:, con=, init=, KEY=VALUE...).
    #[arg(value_name = "KERNEL ARGS", allow_hyphen_values = false)]
    words: Vec<String>,
}

fn say(line: &str) {
    // Never fail on a closed terminal (SIGHUP) or pipe.
    let _ = writeln!(std::io::stderr(), "umlrun: {line}");
}

fn report(e: &LaunchError) -> u8 {
    match e {
        LaunchError::Refused { problems } => {
            for p in problems {
                say(&format!("mistake: {}", p.what));
                say(&format!("  fix: {}", p.fix));
            }
            say(&format!(
                "the kernel was not started ({} mistake{})",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
            exit::REFUSED as u8
        }
        LaunchError::NoKernel { .. } => {
            say(&format!("error: {e}"));
            exit::REFUSED as u8
        }
        LaunchError::Cow(c) => {
            say(&format!("error: {c}"));
            say(&format!("  fix: {}", c.hint()));
            exit::FAILED as u8
        }
        other => {
            let mut msg = format!("error: {other}");
            let mut src = std::error::Error::source(other);
            while let Some(s) = src {
                if !msg.contains(&s.to_string()) {
                    msg.push_str(&format!(": {s}"));
                }
                src = s.source();
            }
            say(&msg);
            exit::FAILED as u8
        }
    }
}

fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

fn uml_dir(cli: &Cli) -> PathBuf {
    cli.uml_dir
        .clone()
        .unwrap_or_else(|| registry::uml_dir(None))
}

fn list(cli: &Cli) -> u8 {
    let dir = uml_dir(cli);
    let entries = registry::list(&dir);
    if entries.is_empty() {
        if !cli.quiet {
            say(&format!("no guests in {}", dir.display()));
        }
        return 0;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{:<24} {:>8}  {:<8} MCONSOLE", "UMID", "PID", "STATE");
    for e in entries {
        let state = if !e.alive {
            "stale"
        } else if e.has_socket
            && Mconsole::new(&e.socket).is_ok_and(|m| m.answers(Duration::from_millis(500)))
        {
            "running"
        } else {
            "busy"
        };
        let _ = writeln!(
            out,
            "{:<24} {:>8}  {:<8} {}",
            e.umid,
            e.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            state,
            e.socket.display()
        );
    }
    0
}

fn stop(cli: &Cli, name: &str) -> u8 {
    let dir = uml_dir(cli);
    let entry = match registry::find(name, &dir) {
        Ok(e) => e,
        Err(e) => return report(&e),
    };
    let Some(pid) = entry.pid.filter(|_| entry.alive) else {
        say(&format!(
            "guest {} is not running (its directory {} is left over); removing it",
            entry.umid,
            entry.dir.display()
        ));
        guest::cleanup_umid_dir(Some(&entry.socket), entry.pid.unwrap_or(0));
        return exit::FAILED as u8;
    };
    let mc = Mconsole::new(&entry.socket).ok();
    let mut target = PidTarget(pid);
    let quiet = cli.quiet;
    let r = uml_launcher::stop::stop(
        mc.as_ref(),
        &mut target,
        Duration::from_secs_f64(cli.stop_timeout),
        &mut |s| {
            if !quiet {
                say(s)
            }
        },
    );
    guest::cleanup_umid_dir(Some(&entry.socket), pid);
    if !quiet || !r.clean {
        say(&format!(
            "guest {} {} ({})",
            entry.umid,
            if r.clean {
                "stopped cleanly"
            } else {
                "stopped, not cleanly"
            },
            r.how
        ));
    }
    if r.clean {
        exit::HALTED as u8
    } else {
        exit::KILLED as u8
    }
}

fn launch(cli: &Cli) -> Result<u8, LaunchError> {
    let opts = Options {
        kernel: cli.kernel.clone(),
        mem: cli.mem.clone(),
        umid: cli.umid.clone(),
        disks: cli.disk.clone(),
        new_disks: cli.new_disk.clone(),
        nets: cli.net.clone(),
        hostfs: cli.hostfs.clone(),
        console: cli.console.map(|c| match c {
            ConsoleArg::Stdio => Console::Stdio,
            ConsoleArg::Null => Console::Null,
        }),
        host_workaround: if cli.no_host_workaround {
            hostfix::Mode::Off
        } else {
            match cli.host_workaround {
                WorkaroundArg::Auto => hostfix::Mode::Auto,
                WorkaroundArg::On => hostfix::Mode::On,
                WorkaroundArg::Off => hostfix::Mode::Off,
            }
        },
        reboot: cli.reboot,
        words: cli.words.clone(),
    };
    let host = HostCpu::detect();
    let plan = plan::prepare(&opts, &host)?;
    for w in &plan.warnings {
        say(&format!("warning: {w}"));
    }
    if !cli.quiet {
        for n in &plan.notes {
            say(n);
        }
        match &plan.workaround {
            Decision::Apply(why) => say(&format!(
                "host workaround on: {why}; the kernel runs under a seccomp filter (XSTATE \
                 regsets -> EIO) and gets {}",
                hostfix::GLIBC_TUNABLES_WORD
            )),
            Decision::Skip(why) if cli.dry_run => say(&format!("host workaround off: {why}")),
            _ => {}
        }
    }
    if cli.dry_run {
        let mut line = vec![shell_quote(&plan.kernel.path.to_string_lossy())];
        line.extend(plan.words.iter().map(|w| shell_quote(w)));
        if !plan.user_mconsole {
            line.push("mconsole=notify:NOTIFY_SOCKET".into());
        }
        println!("{}", line.join(" "));
        for a in &plan.actions {
            say(&format!("would make {a}"));
        }
        return Ok(exit::HALTED as u8);
    }
    files::make_files(&plan.actions)?;
    if !cli.quiet {
        for a in &plan.actions {
            say(&format!("made {a}"));
        }
    }
    let mut words = plan.words.clone();
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("umlrun-")
        .tempdir_in(&runtime)
        .map_err(|e| LaunchError::io(&runtime, "make a private directory in", e))?;
    let notifier = if plan.user_mconsole {
        None
    } else {
        let n = Notifier::bind(&tmp.path().join("notify"))?;
        words.push(format!("mconsole=notify:{}", n.path.display()));
        Some(n)
    };
    let stdin_tty = std::io::stdin().is_terminal();
    let console_stdin = plan.console == Console::Stdio;
    let quiet = cli.quiet;
    let outcome = guest::run(
        Launch {
            kernel: plan.kernel.path.clone(),
            expected_socket: plan.expected_socket(),
            words,
            filter: plan.filter,
            stdin: console_stdin,
            own_group: !(stdin_tty && console_stdin),
            notifier,
            stop_timeout: Duration::from_secs_f64(cli.stop_timeout),
        },
        &mut |s| {
            if !quiet {
                say(s)
            }
        },
    )?;
    drop(tmp);
    let line = format!("guest {}", outcome.describe());
    match outcome {
        Outcome::Halted | Outcome::Stopped { clean: true, .. } if quiet => {}
        _ => say(&line),
    }
    Ok(outcome.exit_code() as u8)
}

fn main() -> ExitCode {
    clidoc::serve_if_asked(<Cli as clap::CommandFactory>::command);
    let cli = Cli::parse();
    if cli.list {
        return ExitCode::from(list(&cli));
    }
    if let Some(name) = cli.stop.clone() {
        return ExitCode::from(stop(&cli, &name));
    }
    match launch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => ExitCode::from(report(&e)),
    }
}
