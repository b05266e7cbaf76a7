//! `vde_switch`: the drop-in replacement for VDE 2.3.2's switch.

use std::path::PathBuf;

use vdeswitch::cli::{parse_vde_args, program_args};
use vdeswitch::server::{Exit, Server};
use vdeswitch::service;
use vdeswitch::sys::{daemon, log, unix};
use vdeswitch::{log_err, log_info};

fn main() {
    let (prog, args) = program_args("vde_switch");
    log::init(&prog);
    daemon::raise_nofile_limit();
    let cfg = parse_vde_args(&prog, &args).or_exit();

    let default_dir = PathBuf::from(if unix::euid() == 0 {
        "/var/run/vde.ctl"
    } else {
        "/tmp/vde.ctl"
    });
    let daemonise = cfg.daemon;
    // Front-ends drive the switch through a pipe on stdin, so any stdin is a
    // console (unless -d or --nostdin); only a terminal's EOF stops the switch.
    let stdin_console = !cfg.daemon && !cfg.nostdin;
    let pidfile = cfg.pidfile.clone();
    let rcfile = cfg
        .rcfile
        .clone()
        .or_else(|| default_rc_file(cfg.ignore_system_rc));
    let mut server = match Server::bind(cfg, default_dir) {
        Ok(s) => s,
        Err(e) => {
            log_err!("{e}");
            std::process::exit(255);
        }
    };

    if let Err(e) = server.attach_taps() {
        log_err!("{e}");
        server.cleanup();
        std::process::exit(1);
    }
    if let Err(e) = server.attach_vxlans() {
        log_err!("{e}");
        server.cleanup();
        std::process::exit(1);
    }

    if let Err(e) = server.start_captures() {
        log_err!("{e}");
        server.cleanup();
        std::process::exit(1);
    }

    if daemonise {
        if let Err(e) = daemon::daemonize(false) {
            log_err!("daemon: {e}");
            server.cleanup();
            std::process::exit(1);
        }
        log::use_syslog();
        log_info!("VDE_SWITCH started");
    }
    if let Some(p) = &pidfile {
        if let Err(e) = daemon::write_pidfile(p) {
            log_err!("Error in pidfile creation: {} ({})", e, p.display());
            server.cleanup();
            std::process::exit(1);
        }
    }

    if let Some(rc) = &rcfile {
        match server.run_rc_file(rc) {
            Ok(vdeswitch::server::console::Outcome::Shutdown) => {
                server.cleanup();
                if let Some(p) = &pidfile {
                    let _ = std::fs::remove_file(p);
                }
                std::process::exit(0);
            }
            Ok(_) => {}
            Err(e) => log_err!(
                "rc file {}: {} (the switch runs without it)",
                rc.display(),
                e
            ),
        }
    }

    if stdin_console {
        if let Err(e) = server.enable_stdin_console() {
            log_err!("console on stdin disabled: {e}");
        }
    }

    service::ready(server.fabric());
    let outcome = server.run();
    service::stopping();
    let code = match outcome {
        Ok(Exit::Signal(sig)) => {
            log_info!("Caught signal {sig}, cleaning up and exiting");
            Some(sig)
        }
        Ok(Exit::Shutdown) => None,
        Err(e) => {
            log_err!("event loop failed: {e}");
            Some(0)
        }
    };
    server.cleanup();
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    match code {
        Some(libc::SIGINT) => vdeswitch::server::signals::reraise(libc::SIGINT),
        _ => std::process::exit(0),
    }
}

/// `~/.vde2/vde_switch.rc`, else (unless `ignore_system`)
/// `/etc/vde2/vde_switch.rc`, when readable.
fn default_rc_file(ignore_system: bool) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".vde2/vde_switch.rc"));
    let system = (!ignore_system).then(|| PathBuf::from("/etc/vde2/vde_switch.rc"));
    home.into_iter()
        .chain(system)
        .find(|p| vdeswitch::server::console::script::readable(p))
}
