//! `uml_switch`: the User Mode Linux switch, same data plane as `vde_switch`.

use std::io::Write;

use vdeswitch::cli::{parse_uml_args, program_args};
use vdeswitch::server::ctl_dir::SetupError;
use vdeswitch::server::{Exit, Server};
use vdeswitch::service;
use vdeswitch::sys::{daemon, log};

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() {
    let (prog, args) = program_args("uml_switch");
    log::init(&prog);
    daemon::raise_nofile_limit();
    let (cmd, notices) = parse_uml_args(&prog, &args);
    for n in &notices {
        say(n);
    }
    let cfg = cmd.or_exit();
    if cfg.compat_v0_data.is_some() {
        eprintln!("{prog}: -compat-v0 (protocol version 0 clients) is not supported; version 3 clients (UML's daemon transport, vde_plug) need no option");
        std::process::exit(1);
    }

    let mut server = match Server::bind_uml(&cfg) {
        Ok(s) => s,
        Err(SetupError::InUse { path, owner }) => {
            eprintln!(
                "{prog}: The control socket '{}' has another server attached to it{owner}\n\
                 {prog}: You can either\n\
                 {prog}: \tremove '{}', or\n\
                 {prog}: \trun this program with '-unix <another socket>'",
                path.display(),
                path.display()
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{prog}: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = server.attach_taps() {
        eprintln!("{prog}: {e}");
        server.cleanup();
        std::process::exit(1);
    }
    let tap = cfg
        .tap
        .as_ref()
        .map(|t| format!(" tap device '{t}'"))
        .unwrap_or_default();
    say(&format!(
        "{} attached to unix socket '{}'{}",
        prog,
        cfg.ctl.display(),
        tap
    ));
    if cfg.daemon {
        if let Err(e) = daemon::daemonize(true) {
            eprintln!("{prog}: daemon: {e}");
            server.cleanup();
            std::process::exit(1);
        }
    }
    // Like the original: a terminal on stdin is watched for its end (Ctrl-D stops the
    // switch); anything else on stdin is left alone.
    if !cfg.daemon && vdeswitch::server::stdin::stdin_is_tty() {
        if let Err(e) = server.enable_stdin_console() {
            eprintln!("{prog}: stdin: {e}");
        }
    }
    service::ready(server.fabric());
    let outcome = server.run();
    service::stopping();
    let sig = match outcome {
        Ok(Exit::Signal(sig)) => {
            say(&format!("Caught signal {sig}, cleaning up and exiting"));
            Some(sig)
        }
        Ok(Exit::Shutdown) => None,
        Err(e) => {
            eprintln!("{prog}: event loop failed: {e}");
            None
        }
    };
    server.cleanup();
    match sig {
        Some(libc::SIGINT) => vdeswitch::server::signals::reraise(libc::SIGINT),
        _ => std::process::exit(0),
    }
}
