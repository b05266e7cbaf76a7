//! Our `vdeterm` used non-interactively (`-c CMD`, commands on stdin), against our switch and
//! against the reference `/usr/bin/vde_switch`: data blocks on stdout, failures on stderr, exit
//! status from the status codes; and its connection error messages.

use integration_tests::proc::Finished;
use integration_tests::vdeterm::{self, MgmtSwitch};
use integration_tests::with_ours_and_reference;
use std::os::unix::net::UnixListener;
use std::time::Duration;

fn code(f: &Finished) -> i32 {
    f.status
        .unwrap_or_else(|| panic!("vdeterm did not finish in time\n{f:?}"))
        .code()
        .unwrap_or_else(|| panic!("vdeterm was killed by a signal\n{f:?}"))
}

fn data_and_status_codes(sw: MgmtSwitch) {
    // Two data blocks, in order; nothing else.
    let f = sw.run(&["-c", "port/showinfo", "-c", "hash/showinfo"], None);
    assert_eq!(code(&f), 0, "{f:?}");
    assert!(
        f.stdout
            .starts_with("Numports=32\nHUB=false\ncounters=true\nHash size 128\nGC interval "),
        "{f:?}"
    );
    assert_eq!(f.stdout.lines().count(), 7, "{f:?}");
    assert_eq!(f.stderr, "");

    // A failing command: 1006 -> exit status 6, the status on stderr.
    let f = sw.run(&["-c", "port/print 5"], None);
    assert_eq!(code(&f), 6, "{f:?}");
    assert_eq!(f.stdout, "");
    assert_eq!(
        f.stderr,
        "vdeterm: port/print 5: 1006 No such device or address\n"
    );

    // All commands run; the first failure decides.
    let f = sw.run(
        &[
            "-c",
            "vlan/create 0",
            "-c",
            "port/showinfo",
            "-c",
            "port/print 5",
        ],
        None,
    );
    assert_eq!(code(&f), 22, "{f:?}");
    assert!(f.stdout.starts_with("Numports=32\n"), "{f:?}");
    assert!(f.stderr.contains("1022 Invalid argument"), "{f:?}");
    assert!(f.stderr.contains("1006 No such device or address"), "{f:?}");

    // -e stops at the first failure.
    let f = sw.run(&["-e", "-c", "port/print 5", "-c", "port/showinfo"], None);
    assert_eq!(code(&f), 6, "{f:?}");
    assert_eq!(f.stdout, "");

    // Unknown command: 1038 -> 38.
    let f = sw.run(&["-c", "nosuchcommand"], None);
    assert_eq!(code(&f), 38, "{f:?}");

    // Commands on stdin (not a terminal), one per line; blank lines and comments skipped.
    let f = sw.run(&[], Some("port/showinfo\n\n# comment\nport/print 5\n"));
    assert_eq!(code(&f), 6, "{f:?}");
    assert_eq!(f.stdout, "Numports=32\nHUB=false\ncounters=true\n", "{f:?}");

    // logout is local: it ends the run.
    let f = sw.run(&["-c", "logout", "-c", "port/print 5"], None);
    assert_eq!(code(&f), 0, "{f:?}");
}

with_ours_and_reference!(
    data_and_status_codes,
    data_and_status_codes_with_our_switch,
    data_and_status_codes_with_the_reference_switch
);

/// `shutdown` succeeds (9999 END OF SESSION); commands after it cannot run.
fn shutdown(mut sw: MgmtSwitch) {
    let f = sw.run(&["-c", "shutdown", "-c", "port/showinfo"], None);
    assert_eq!(code(&f), 1, "{f:?}");
    assert!(
        f.stderr
            .contains("port/showinfo: not run: the switch ended the session after `shutdown`"),
        "{f:?}"
    );
    assert!(
        sw.switch.wait_exit(Duration::from_secs(5)).is_some(),
        "the switch still runs after shutdown"
    );
}

with_ours_and_reference!(
    shutdown,
    shutdown_with_our_switch,
    shutdown_with_the_reference_switch
);

#[test]
fn missing_socket_says_which_path_why_and_how_to_start_a_switch() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("nosuch.mgmt");
    let f = vdeterm::run(tmp.path(), &sock, &["-c", "showinfo"], None);
    assert_eq!(code(&f), 2, "{f:?}");
    assert_eq!(f.stdout, "");
    let path = sock.display().to_string();
    assert!(
        f.stderr.contains(&format!(
            "cannot connect to {path}: No such file or directory"
        )),
        "{f:?}"
    );
    assert!(
        f.stderr
            .contains(&format!("start a switch with: vde_switch -s DIR -M {path}")),
        "{f:?}"
    );
}

#[test]
fn refused_connection_says_which_path_why_and_how_to_start_a_switch() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("stale.mgmt");
    drop(UnixListener::bind(&sock).unwrap()); // the file stays, nobody listens
    let f = vdeterm::run(tmp.path(), &sock, &["-c", "showinfo"], None);
    assert_eq!(code(&f), 2, "{f:?}");
    let path = sock.display().to_string();
    assert!(
        f.stderr
            .contains(&format!("cannot connect to {path}: Connection refused")),
        "{f:?}"
    );
    assert!(
        f.stderr
            .contains(&format!("start a switch with: vde_switch -s DIR -M {path}")),
        "{f:?}"
    );

    // The switch directory instead of the -M socket.
    let sw = MgmtSwitch::ours();
    let dir = sw.switch.dir().to_path_buf();
    let f = vdeterm::run(tmp.path(), &dir, &["-c", "showinfo"], None);
    assert_eq!(code(&f), 2, "{f:?}");
    assert!(f.stderr.contains("that is a directory"), "{f:?}");

    // The data socket (no banner).
    let ctl = sw.switch.ctl().to_path_buf();
    let f = vdeterm::run(tmp.path(), &ctl, &["-t", "0.5", "-c", "showinfo"], None);
    assert_eq!(code(&f), 2, "{f:?}");
    assert!(f.stderr.contains("management socket (-M)"), "{f:?}");
}
