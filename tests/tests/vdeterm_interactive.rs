//! Our `vdeterm` on a pseudo-terminal, against our switch and against the reference
//! `/usr/bin/vde_switch`: banner and prompt, rendering of answers, TAB completion, asynchronous
//! debug messages while idle, history, and the ways out (logout, Ctrl-D, shutdown, switch gone).

use integration_tests::proc::pid_gone;
use integration_tests::pty::Pty;
use integration_tests::vdeterm::{assert_banner_then_prompt, MgmtSwitch};
use integration_tests::with_ours_and_reference;
use integration_tests::{wait_until, Plug, SETTLE};
use std::time::Duration;

const EXIT: Duration = Duration::from_secs(5);

/// Starts vdeterm and waits until the prompt is drawn (and so the line editor is ready).
fn console(sw: &MgmtSwitch) -> Pty {
    let term = sw.interactive();
    term.wait_cursor_row(&sw.prompt(), SETTLE);
    term
}

/// Types `cmd` + Enter and waits for `expect` and then for the next prompt.
fn run(term: &mut Pty, sw: &MgmtSwitch, cmd: &str, expect: &str) {
    term.send(cmd.as_bytes());
    term.wait_cursor_row(&format!("{}{cmd}", sw.prompt()), SETTLE);
    term.send(b"\r");
    term.wait_text(expect, SETTLE);
    term.wait_cursor_row(&sw.prompt(), SETTLE);
}

fn session(mut sw: MgmtSwitch) {
    let mut term = console(&sw);
    let prompt = sw.prompt();
    // The banner minus its last line, then the prompt built from it.
    assert_banner_then_prompt(&term, &prompt);

    // showinfo: the data block raw, then the status text.
    run(&mut term, &sw, "showinfo", "Success");
    let screen = term.screen();
    let expected = format!(
        "{prompt}showinfo\nVDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n\npid {} MAC ",
        sw.switch.pid()
    );
    assert!(screen.contains(&expected), "{screen}");
    assert!(
        screen.contains(&format!(
            "mgmt {} perm 0600\nSuccess\n{}",
            sw.mgmt.display(),
            prompt.trim_end()
        )),
        "{screen}"
    );

    // TAB completes port/sh to port/showinfo (and a space, like the stock vdeterm).
    term.send(b"port/sh\t");
    term.wait_cursor_row(&format!("{prompt}port/showinfo"), SETTLE);
    term.send(b"\r");
    term.wait_text("Numports=32\nHUB=false\ncounters=true\nSuccess\n", SETTLE);
    term.wait_cursor_row(&prompt, SETTLE);

    // Failures show the status text.
    run(
        &mut term,
        &sw,
        "port/print 5",
        "port/print 5\nNo such device or address\n",
    );
    run(
        &mut term,
        &sw,
        "nosuchcommand",
        "nosuchcommand\nFunction not implemented\n",
    );

    // logout is local: vdeterm leaves, the switch stays.
    term.send(b"logout\r");
    let st = term
        .wait_exit(EXIT)
        .expect("vdeterm did not exit after logout");
    assert!(st.success(), "{st}\n{}", term.screen());
    sw.switch.assert_running("after vdeterm's logout");

    // History: the commands typed, in order, in ~/.vdeterm_history.
    let hist = std::fs::read_to_string(sw.home.join(".vdeterm_history")).expect("history file");
    let lines: Vec<&str> = hist.lines().map(str::trim_end).collect();
    let pos = |c: &str| lines.iter().position(|l| *l == c);
    let (a, b, c) = (pos("showinfo"), pos("port/showinfo"), pos("logout"));
    assert!(a.is_some() && a < b && b < c, "{hist}");

    // The next session sees it: Up recalls the last command.
    let mut term = console(&sw);
    term.send(b"\x1b[A");
    term.wait_cursor_row(&format!("{prompt}logout"), SETTLE);
    term.send(b"\x15\x04"); // Ctrl-U, Ctrl-D
    let st = term
        .wait_exit(EXIT)
        .expect("vdeterm did not exit on Ctrl-D");
    assert!(st.success(), "{st}");
}

with_ours_and_reference!(
    session,
    session_with_our_switch,
    session_with_the_reference_switch
);

/// Debug events subscribed with `debug/add` show up while vdeterm waits for input.
fn debug_messages_while_idle(sw: MgmtSwitch) {
    let mut term = console(&sw);
    term.send(b"debug/add port\r");
    term.wait_text("debug/add port\nSuccess\n", SETTLE);
    term.wait_cursor_row(&sw.prompt(), SETTLE);
    // Type half a command, then let a client connect.
    term.send(b"hash/sh");
    term.wait_cursor_row(&format!("{}hash/sh", sw.prompt()), SETTLE);
    let plug = Plug::attach(&sw.switch);
    term.wait_text("** DBG MSG: port/ep/+ Port 01", SETTLE);
    drop(plug);
    term.wait_text("** DBG MSG: port/ep/- Port 01", SETTLE);
    // The line being edited is redrawn below the messages and still works.
    term.wait_cursor_row(&format!("{}hash/sh", sw.prompt()), SETTLE);
    term.send(b"owinfo\r");
    term.wait_text("Hash size ", SETTLE);
    term.wait_cursor_row(&sw.prompt(), SETTLE);
    term.send(b"\x04");
    let st = term
        .wait_exit(EXIT)
        .expect("vdeterm did not exit on Ctrl-D");
    assert!(st.success(), "{st}");
}

with_ours_and_reference!(
    debug_messages_while_idle,
    debug_messages_while_idle_with_our_switch,
    debug_messages_while_idle_with_the_reference_switch
);

/// `shutdown` is sent; the switch says `9999 END OF SESSION` and exits, and so does vdeterm.
fn shutdown(mut sw: MgmtSwitch) {
    let mut term = console(&sw);
    term.send(b"shutdown\r");
    let st = term
        .wait_exit(EXIT)
        .expect("vdeterm did not exit after shutdown");
    assert!(st.success(), "{st}\n{}", term.screen());
    assert!(
        sw.switch.wait_exit(EXIT).is_some(),
        "the switch still runs after shutdown"
    );
}

with_ours_and_reference!(
    shutdown,
    shutdown_with_our_switch,
    shutdown_with_the_reference_switch
);

/// The switch dies while vdeterm waits for input: vdeterm says so, exits 1, and leaves the
/// terminal usable (echo back on).
#[test]
fn switch_gone_while_idle() {
    let mut sw = MgmtSwitch::ours();
    let mut term = console(&sw);
    let pid = term.pid();
    sw.switch.kill_hard();
    let st = term
        .wait_exit(EXIT)
        .expect("vdeterm did not exit when the switch went away");
    assert_eq!(st.code(), Some(1), "{}", term.screen());
    term.wait_text("vdeterm: the switch closed the connection", SETTLE);
    assert!(wait_until(EXIT, || pid_gone(pid)));
    let lflag = term.local_flags();
    assert!(
        lflag & libc::ECHO != 0 && lflag & libc::ICANON != 0,
        "terminal left in raw mode"
    );
}

/// What vdeterm writes, checked with a fake switch: `help\n` once for the completion list, then
/// each command exactly as edited, without a newline (as in the reference strace,
/// `write(3, "showinfo", 8)`, `write(3, "port/showinfo ", 14)`), and a double TAB lists the
/// candidates.
#[test]
fn writes_like_the_stock_vdeterm() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use std::sync::mpsc;

    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("fake.mgmt");
    let listener = UnixListener::bind(&sock).unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n")
            .unwrap();
        s.write_all(b"\nvde$ ").unwrap();
        let mut buf = [0u8; 128];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let cmd = String::from_utf8_lossy(&buf[..n]).into_owned();
            let answer: &[u8] = if cmd == "help\n" {
                b"0000 DATA END WITH '.'\nCOMMAND PATH       SYNTAX          HELP\n------------       --------------  ------------\nhelp               [arg]           Help\nshowinfo                           show switch version and info\nport               ============    PORT STATUS MENU\nport/showinfo                      show port info\nport/sethub        0/1             1=HUB 0=switch\n.\n1000 Success\n\nvde$ "
            } else {
                b"1000 Success\n\nvde$ "
            };
            tx.send(cmd).unwrap();
            s.write_all(answer).unwrap();
        }
    });

    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let mut term =
        integration_tests::pty::spawn(integration_tests::vdeterm::command(&home, &sock, &[]));
    let prompt = format!("vde[{}]: ", sock.display());
    term.wait_cursor_row(&prompt, SETTLE);
    term.send(b"showinfo\r");
    term.wait_text("showinfo\nSuccess\n", SETTLE);
    term.wait_cursor_row(&prompt, SETTLE);
    term.send(b"port/sh\t");
    term.wait_cursor_row(&format!("{prompt}port/showinfo"), SETTLE);
    term.send(b"\r");
    term.wait("a second answer", SETTLE, |t| {
        t.screen().matches("\nSuccess\n").count() == 2
    });
    term.wait_cursor_row(&prompt, SETTLE);
    // Menu headers are not candidates; TAB TAB lists the rest.
    term.send(b"p\t");
    term.wait_cursor_row(&format!("{prompt}port/s"), SETTLE);
    term.send(b"\t");
    term.wait("the candidates listed", SETTLE, |t| {
        t.rows()
            .iter()
            .any(|r| r.contains("port/sethub") && r.contains("port/showinfo"))
    });
    term.send(b"\x15\x04");
    assert!(term.wait_exit(EXIT).expect("no exit on Ctrl-D").success());

    let sent: Vec<String> = rx.try_iter().collect();
    assert_eq!(sent, ["help\n", "showinfo", "port/showinfo "]);
}
