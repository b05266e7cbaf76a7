//! Our `vdeterm` (package `mgmt-console`) and switches with a management socket (`-M`).
//!
//! * `VDETERM_BIN` overrides the binary; default: `<target>/debug/vdeterm` next to the test
//!   binary, or under `CARGO_TARGET_DIR`, or `<workspace>/target/debug`.

use crate::proc::{wait_child_timeout, wait_until, Finished};
use crate::pty::{self, Pty};
use crate::switch::{accepts_connections, Switch, SwitchBuilder};
use crate::SETTLE;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// The `vdeterm` under test.
pub fn vdeterm_bin() -> PathBuf {
    crate::bins::workspace_bin("VDETERM_BIN", "vdeterm")
}

/// Two tests of one check `fn $check(sw: MgmtSwitch)`: `$ours` runs it against our switch
/// ([`MgmtSwitch::ours`]), `$reference` against the reference ([`MgmtSwitch::reference`]).
///
/// ```ignore
/// with_ours_and_reference!(
///     shutdown,
///     shutdown_with_our_switch,
///     shutdown_with_the_reference_switch
/// );
/// ```
#[macro_export]
macro_rules! with_ours_and_reference {
    ($check:ident, $ours:ident, $reference:ident) => {
        #[test]
        fn $ours() {
            $check($crate::vdeterm::MgmtSwitch::ours());
        }

        #[test]
        fn $reference() {
            $check($crate::vdeterm::MgmtSwitch::reference());
        }
    };
}

/// A switch with a management socket, in a temporary directory that outlives it.
pub struct MgmtSwitch {
    // Field order: the switch is dropped (killed) before its directory is removed.
    pub switch: Switch,
    pub mgmt: PathBuf,
    pub home: PathBuf,
    pub tmp: TempDir,
}

impl MgmtSwitch {
    /// Starts the switch of `builder` with `-M <tmp>/mgmt` (and a `home` directory beside it
    /// for vdeterm's history); returns once the management socket accepts connections.
    pub fn start(builder: SwitchBuilder) -> MgmtSwitch {
        let tmp = tempfile::Builder::new()
            .prefix("vdeterm-")
            .tempdir()
            .expect("tempdir");
        let mgmt = tmp.path().join("mgmt");
        let home = tmp.path().join("home");
        std::fs::create_dir(&home).expect("mkdir home");
        let mut switch = builder
            .sock(tmp.path().join("sw"))
            .arg("-M")
            .arg(&mgmt)
            .start();
        let up = wait_until(SETTLE, || accepts_connections(&mgmt));
        switch.assert_running("waiting for the management socket");
        assert!(up, "{} never accepted connections", mgmt.display());
        MgmtSwitch {
            switch,
            mgmt,
            home,
            tmp,
        }
    }
    /// Our switch (or whatever `VDE_SWITCH_BIN` names).
    pub fn ours() -> MgmtSwitch {
        MgmtSwitch::start(Switch::builder())
    }
    /// The reference `/usr/bin/vde_switch`.
    pub fn reference() -> MgmtSwitch {
        MgmtSwitch::start(Switch::reference_builder())
    }

    /// `vdeterm <mgmt> ARGS` with a private HOME, stdin fed with `stdin` (then closed) or, if
    /// `None`, an open pipe that is never written.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Finished {
        run(&self.home, &self.mgmt, args, stdin)
    }

    /// Interactive `vdeterm <mgmt>` on a pty, with a private HOME.
    pub fn interactive(&self) -> Pty {
        pty::spawn(command(&self.home, &self.mgmt, &[]))
    }

    /// The prompt the console shows: `vde[<mgmt>]: `.
    pub fn prompt(&self) -> String {
        format!("vde[{}]: ", self.mgmt.display())
    }
}

/// The `vdeterm` command with a private environment (HOME, TERM, no XDG_STATE_HOME).
pub fn command(home: &Path, sock: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(vdeterm_bin());
    cmd.arg(sock)
        .args(args)
        .env("HOME", home)
        .env("TERM", "xterm")
        .env_remove("XDG_STATE_HOME")
        .env_remove("VDETERM_HISTORY");
    cmd
}

/// Runs `vdeterm SOCK ARGS` to completion (killed after 20 s), stdin as for [`MgmtSwitch::run`].
pub fn run(home: &Path, sock: &Path, args: &[&str], stdin: Option<&str>) -> Finished {
    let mut cmd = command(home, sock, args);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut pipe = child.stdin.take();
    if let Some(text) = stdin {
        let mut p = pipe.take().unwrap();
        p.write_all(text.as_bytes()).expect("write vdeterm's stdin");
    }
    let read_all = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = read_all(Box::new(child.stdout.take().unwrap()));
    let err = read_all(Box::new(child.stderr.take().unwrap()));
    let status = wait_child_timeout(&mut child, Duration::from_secs(20));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(pipe);
    Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Asserts what a vdeterm (ours or the stock one) on `term` shows first: the switch's banner
/// minus its last line, then its own `prompt` built from it.
#[track_caller]
pub fn assert_banner_then_prompt(term: &Pty, prompt: &str) {
    let rows = term.rows();
    assert_eq!(rows[0].trim_end(), "VDE switch V.2.3.2", "{rows:?}");
    assert_eq!(
        rows[1].trim_end(),
        "(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2"
    );
    assert_eq!(rows[2].trim_end(), "");
    assert_eq!(rows[3].trim_end(), prompt.trim_end());
}
