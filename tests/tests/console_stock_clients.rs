//! The stock management clients of Debian's vde2 against our switch (and, to keep the
//! expectations honest, against the reference `/usr/bin/vde_switch`):
//! * `vdeterm SOCK` on a pseudo-terminal: banner, its prompt built from ours, TAB completion
//!   from our `help`, data blocks (`port/print` with real clients), status texts of errors,
//!   asynchronous debug messages, logout;
//! * `unixterm SOCK` with a pipe on stdin (kept open until the answer is read): the exact bytes.

use integration_tests::mgmt::{lossy, BANNER};
use integration_tests::proc::{wait_child_timeout, Capture};
use integration_tests::pty::{self, Pty};
use integration_tests::vdeterm::{assert_banner_then_prompt, MgmtSwitch};
use integration_tests::with_ours_and_reference;
use integration_tests::{wait_until, Plug, SETTLE};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const STOCK_VDETERM: &str = "/usr/bin/vdeterm";
const STOCK_UNIXTERM: &str = "/usr/bin/unixterm";
const EXIT: Duration = Duration::from_secs(5);

/// The stock vdeterm on a pty, with a private HOME (for its history).
fn stock_vdeterm(sw: &MgmtSwitch) -> Pty {
    assert!(
        Path::new(STOCK_VDETERM).is_file(),
        "{STOCK_VDETERM} is missing (Debian package vde2)"
    );
    let mut cmd = Command::new(STOCK_VDETERM);
    cmd.arg(&sw.mgmt)
        .env("HOME", &sw.home)
        .env("TERM", "xterm")
        .current_dir(&sw.home);
    pty::spawn(cmd)
}

/// The screen with trailing blanks removed from every row (the stock vdeterm erases its
/// prompt with spaces before printing an answer over it).
fn screen(term: &Pty) -> String {
    term.rows()
        .iter()
        .map(|r| r.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until [`screen`] contains `needle`.
fn wait_screen(term: &Pty, needle: &str) {
    term.wait(&format!("{needle:?} on the screen"), SETTLE, |t| {
        screen(t).contains(needle)
    });
}

/// Types `cmd` + Enter, waits for `expect` on the screen and then for the next prompt.
fn run(term: &mut Pty, prompt: &str, cmd: &str, expect: &str) {
    term.send(cmd.as_bytes());
    term.wait_cursor_row(&format!("{prompt}{cmd}"), SETTLE);
    term.send(b"\r");
    wait_screen(term, expect);
    term.wait_cursor_row(prompt, SETTLE);
}

fn vdeterm_session(mut sw: MgmtSwitch) {
    let plug_a = Plug::attach(&sw.switch);
    let plug_b = Plug::attach(&sw.switch);
    let prompt = sw.prompt();
    let mut term = stock_vdeterm(&sw);
    term.wait_cursor_row(&prompt, SETTLE);

    // Banner: everything before the switch's prompt line, then vdeterm's own prompt.
    assert_banner_then_prompt(&term, &prompt);

    // A data block: shown raw, then the status text.
    run(
        &mut term,
        &prompt,
        "port/showinfo",
        &format!("{prompt}port/showinfo\n\nNumports=32\nHUB=false\ncounters=true\nSuccess\n"),
    );

    // TAB completion (the list comes from our `help`): a unique prefix is completed with a
    // space, and the completed command runs.
    term.send(b"hash/sh\t");
    term.wait_cursor_row(&format!("{prompt}hash/showinfo"), SETTLE);
    term.send(b"\r");
    wait_screen(
        &term,
        "Hash size 128\nGC interval 2 secs\nGC expire 100 secs\nMin persistence 3 secs\nSuccess\n",
    );
    term.wait_cursor_row(&prompt, SETTLE);
    // Another one, erased again; then TAB TAB on an ambiguous prefix lists the candidates.
    term.send(b"vlan/c\t");
    term.wait_cursor_row(&format!("{prompt}vlan/create"), SETTLE);
    term.send(&[0x7f; 12]);
    term.wait_cursor_row(&prompt, SETTLE);
    term.send(b"vlan/\t\t");
    wait_screen(
        &term,
        "vlan/addport vlan/allprint vlan/create vlan/delport vlan/print vlan/remove",
    );
    term.wait_cursor_row(&format!("{prompt}vlan/"), SETTLE);
    term.send(b"\x7f\x7f\x7f\x7f\x7f");
    term.wait_cursor_row(&prompt, SETTLE);

    // port/print with two real clients.
    run(
        &mut term,
        &prompt,
        "port/print",
        &format!(
            "{prompt}port/print\n\nPort {:04} untagged_vlan=0000 ACTIVE - Unnamed Allocatable\n",
            plug_a.port
        ),
    );
    // The whole block as shown, endpoint IDs and client pids masked.
    let shown = screen(&term);
    let start = shown
        .rfind(&format!("{prompt}port/print\n\n"))
        .expect("the command line")
        + prompt.len()
        + "port/print\n\n".len();
    let block = &shown[start..];
    let block = &block[..block.find("Success\n").expect("the status") + "Success\n".len()];
    let ep_id = regex::Regex::new(r"endpoint ID \d{4} ").unwrap();
    let pid = regex::Regex::new(r"pid=\d+").unwrap();
    let block = ep_id.replace_all(block, "endpoint ID <ID> ").into_owned();
    let block = pid.replace_all(&block, "pid=<PID>").into_owned();
    let user = current_user_name();
    let mut expected = String::new();
    for port in [plug_a.port, plug_b.port] {
        expected.push_str(&format!(
            "Port {port:04} untagged_vlan=0000 ACTIVE - Unnamed Allocatable\n \
             Current User: {user} Access Control: (User: NONE - Group: NONE)\n \
             IN:  pkts          0          bytes                    0\n \
             OUT: pkts          0          bytes                    0\n  \
             -- endpoint ID <ID> module unix prog   : vdeplug: user={user} pid=<PID>\n"
        ));
    }
    expected.push_str("Success\n");
    assert_eq!(block, expected, "port/print as the stock vdeterm shows it");

    // Errors: the status text.
    run(
        &mut term,
        &prompt,
        "port/print 5",
        &format!("{prompt}port/print 5\n\nNo such device or address\n"),
    );
    run(
        &mut term,
        &prompt,
        "vlan/create 0",
        &format!("{prompt}vlan/create 0\n\nInvalid argument\n"),
    );
    run(
        &mut term,
        &prompt,
        "nosuchcommand",
        &format!("{prompt}nosuchcommand\n\nFunction not implemented\n"),
    );

    // Debug messages, shown as they come.
    run(
        &mut term,
        &prompt,
        "debug/add port/ep",
        &format!("{prompt}debug/add port/ep\n\nSuccess\n"),
    );
    let plug_c = Plug::attach(&sw.switch);
    wait_screen(
        &term,
        &format!("** DBG MSG: port/ep/+ Port {:02} FD", plug_c.port),
    );
    let port_c = plug_c.port;
    drop(plug_c);
    wait_screen(&term, &format!("** DBG MSG: port/ep/- Port {port_c:02} FD"));

    // logout is local: vdeterm exits, the switch goes on.
    term.send(b"logout\r");
    let st = term
        .wait_exit(EXIT)
        .expect("vdeterm did not exit on logout");
    assert!(st.success(), "{st}\n{}", term.screen());
    sw.switch.assert_running("after the stock vdeterm's logout");
}

/// The name of the user running the tests (as the switch prints it for its clients).
fn current_user_name() -> String {
    // SAFETY: getpwuid returns a pointer to static storage or NULL.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return libc::geteuid().to_string();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

with_ours_and_reference!(
    vdeterm_session,
    stock_vdeterm_with_our_switch,
    stock_vdeterm_with_the_reference_switch
);

/// `unixterm SOCK` with stdin and stdout piped.
struct Unixterm {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    out: Capture,
    err: Capture,
}

impl Unixterm {
    fn start(sock: &Path) -> Unixterm {
        assert!(
            Path::new(STOCK_UNIXTERM).is_file(),
            "{STOCK_UNIXTERM} is missing (Debian package vde2)"
        );
        let mut child = Command::new(STOCK_UNIXTERM)
            .arg(sock)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run unixterm");
        let stdin = child.stdin.take();
        let out = Capture::spawn(child.stdout.take().unwrap());
        let err = Capture::spawn(child.stderr.take().unwrap());
        Unixterm {
            child,
            stdin,
            out,
            err,
        }
    }
    /// Waits until stdout (from byte `from`) ends with `end`; returns that part.
    fn read_to(&self, from: usize, end: &[u8]) -> Vec<u8> {
        let ok = wait_until(SETTLE, || self.out.bytes()[from..].ends_with(end));
        let got = self.out.bytes()[from..].to_vec();
        assert!(
            ok,
            "unixterm's output did not end with {:?} within {SETTLE:?}: {:?}; stderr: {:?}",
            lossy(end),
            lossy(&got),
            self.err.text()
        );
        got
    }
    /// Writes `line` and returns the answer up to `end`.
    fn ask(&mut self, line: &str, end: &[u8]) -> Vec<u8> {
        let from = self.out.bytes().len();
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin
            .write_all(line.as_bytes())
            .expect("write unixterm's stdin");
        stdin.flush().unwrap();
        self.read_to(from, end)
    }
}

impl Drop for Unixterm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unixterm_session(mut sw: MgmtSwitch) {
    let _plug = Plug::attach(&sw.switch);
    let mut t = Unixterm::start(&sw.mgmt);
    let banner = t.read_to(0, b"\nvde$ ");
    assert_eq!(lossy(&banner), format!("{}\nvde$ ", lossy(BANNER)));

    let a = t.ask("port/showinfo\n", b"\nvde$ ");
    assert_eq!(
        lossy(&a),
        "0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ "
    );
    let a = t.ask("port/print 5\n", b"\nvde$ ");
    assert_eq!(
        lossy(&a),
        "0000 DATA END WITH '.'\n.\n1006 No such device or address\n\nvde$ "
    );
    let a = t.ask("vlan/print\n", b"\nvde$ ");
    assert_eq!(
        lossy(&a),
        "0000 DATA END WITH '.'\nVLAN 0000\n -- Port 0001 tagged=0 active=1 status=Forwarding\n.\n1000 Success\n\nvde$ "
    );
    let a = t.ask("bogus\n", b"\nvde$ ");
    assert_eq!(lossy(&a), "1038 Function not implemented\n\nvde$ ");
    let a = t.ask("# nothing\n", b"\nvde$ ");
    assert_eq!(lossy(&a), "\nvde$ ");

    // logout: the switch ends the session, unixterm sees the hangup and exits. (The stock
    // unixterm exits on POLLHUP without reading what came with it, so whether it prints
    // `9999 END OF SESSION` is a race of its own; the reference loses it as often.)
    let from = t.out.bytes().len();
    let stdin = t.stdin.as_mut().unwrap();
    stdin.write_all(b"logout\n").unwrap();
    stdin.flush().unwrap();
    let st = wait_child_timeout(&mut t.child, EXIT).expect("unixterm did not exit after logout");
    let a = lossy(&t.out.bytes()[from..]);
    assert!(a.is_empty() || a == "9999 END OF SESSION", "{a:?}");
    assert!(st.success(), "unixterm: {st}; stderr {:?}", t.err.text());
    sw.switch.assert_running("after unixterm's logout");

    // A second unixterm: stdin EOF ends it, the switch goes on.
    let mut t = Unixterm::start(&sw.mgmt);
    t.read_to(0, b"\nvde$ ");
    t.stdin = None;
    let st = wait_child_timeout(&mut t.child, EXIT).expect("unixterm did not exit on stdin EOF");
    assert!(st.success(), "unixterm: {st}");
    sw.switch.assert_running("after unixterm's stdin EOF");
}

with_ours_and_reference!(
    unixterm_session,
    stock_unixterm_with_our_switch,
    stock_unixterm_with_the_reference_switch
);
