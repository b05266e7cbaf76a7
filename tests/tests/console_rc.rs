//! rc files: `-f FILE` at startup (good lines take effect, as seen through the `-M` socket; a
//! bad line is reported on stderr with file and line number and the switch still starts),
//! `$HOME/.vde2/vde_switch.rc` when there is no `-f`, `/etc/vde2/vde_switch.rc` after it (and
//! `--ignore-system-rc`), the defaults without any, and the output of `load` byte for byte
//! against the reference.

use integration_tests::bins::note_reference;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::needs;
use integration_tests::vdeterm::MgmtSwitch;
use integration_tests::{is_reference, Switch, SwitchBuilder};
use std::path::Path;

/// Runs `cmds` on a new management session; returns the answers, one per command.
fn ask(mgmt: &Path, cmds: &[&str]) -> Vec<String> {
    let (mut s, banner) = Session::open(mgmt);
    assert!(banner.ends_with(b"\nvde$ "), "{:?}", lossy(&banner));
    cmds.iter().map(|c| lossy(&s.cmd(c))).collect()
}

/// The answers that show the state an rc file sets up below.
const PROBES: &[&str] = &[
    "port/showinfo",
    "hash/showinfo",
    "vlan/allprint",
    "port/allprint",
];

/// An rc file with comments, blank lines and leading blanks; every command works.
const GOOD_RC: &str = "\
# switch set-up
port/setnumports 16

   hash/setsize 300
hash/setexpire 50
\tvlan/create 7
port/create 5
port/setvlan 5 7
vlan/create 9
vlan/addport 9 5
  # done
";

fn good_rc_takes_effect(builder: SwitchBuilder) -> Vec<String> {
    let sw = MgmtSwitch::start(builder.rc(GOOD_RC));
    let a = ask(&sw.mgmt, PROBES);
    assert_eq!(
        a[0],
        "0000 DATA END WITH '.'\nNumports=16\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ "
    );
    assert_eq!(
        a[1],
        "0000 DATA END WITH '.'\nHash size 512\nGC interval 2 secs\nGC expire 50 secs\n\
         Min persistence 3 secs\n.\n1000 Success\n\nvde$ "
    );
    assert_eq!(
        a[2],
        "0000 DATA END WITH '.'\nVLAN 0000\nVLAN 0007\n -- Port 0005 tagged=0 active=0 status=Learning\n\
         VLAN 0009\n -- Port 0005 tagged=1 active=0 status=Learning\n.\n1000 Success\n\nvde$ "
    );
    assert_eq!(
        a[3],
        "0000 DATA END WITH '.'\nPort 0005 untagged_vlan=0007 INACTIVE - NOT Unnamed Allocatable\n \
         Current User: NONE Access Control: (User: NONE - Group: NONE)\n \
         IN:  pkts          0          bytes                    0\n \
         OUT: pkts          0          bytes                    0\n.\n1000 Success\n\nvde$ "
    );
    a
}

#[test]
fn rc_file_good_lines_take_effect() {
    let ours = good_rc_takes_effect(Switch::builder());
    let reference = good_rc_takes_effect(Switch::reference_builder());
    assert_eq!(ours, reference);
}

/// Lines 3 and 6 fail; the others (before, between and after) still run.
const BAD_RC: &str = "\
vlan/create 7
# a comment
nosuchcommand here
port/create 5

vlan/create 0
port/setvlan 5 7
";

#[test]
fn rc_file_bad_lines_are_reported_and_the_switch_starts() {
    for reference in [false, true] {
        let builder = if reference {
            Switch::reference_builder()
        } else {
            Switch::builder()
        };
        let mut sw = MgmtSwitch::start(builder.rc(BAD_RC));
        sw.switch.assert_running("after a bad rc file");
        let a = ask(&sw.mgmt, &["vlan/allprint"]);
        assert_eq!(
            a[0],
            "0000 DATA END WITH '.'\nVLAN 0000\nVLAN 0007\n -- Port 0005 tagged=0 active=0 status=Learning\n\
             .\n1000 Success\n\nvde$ ",
            "reference={reference}"
        );
        let rc = sw.tmp.path().join("switch.rc").display().to_string();
        let stderr = sw.switch.stderr();
        if reference || is_reference() {
            // The reference runs rc files silently (and may be what is under test).
            assert!(!stderr.contains(&rc), "{stderr}");
            continue;
        }
        // Ours: one line per failing rc line, with file and line number and the status.
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(&rc)).collect();
        assert_eq!(lines.len(), 2, "{stderr}");
        assert!(
            lines[0].contains(&format!("{rc}:3:"))
                && lines[0].contains("nosuchcommand")
                && lines[0].contains("1038 Function not implemented"),
            "{stderr}"
        );
        assert!(
            lines[1].contains(&format!("{rc}:6:"))
                && lines[1].contains("vlan/create 0")
                && lines[1].contains("1022 Invalid argument"),
            "{stderr}"
        );
    }
}

/// `vlan/print` and `port/showinfo` of the switch `builder` makes (with `-M`).
fn vlans(builder: SwitchBuilder, args: &[&str]) -> Vec<String> {
    let sw = MgmtSwitch::start(builder.args(args));
    ask(&sw.mgmt, &["vlan/print", "port/showinfo"])
}

const DEFAULTS: &str =
    "0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ ";

/// `~/.vde2/vde_switch.rc` is read when there is no `-f`, and `-f` replaces it; ours and the
/// reference alike. The switches run where `/etc/vde2` has no rc file (a private mount
/// namespace), so the machine's own cannot change the outcome.
#[test]
fn home_rc_file_is_used_without_f_and_f_overrides_it() {
    let Some(()) = needs::root("a private mount namespace hides the system rc file") else {
        return;
    };
    let files = tempfile::Builder::new()
        .prefix("vderc-files-")
        .tempdir()
        .expect("tempdir");
    let other = files.path().join("other.rc");
    std::fs::write(&other, "vlan/create 11\n").unwrap();
    let missing = files.path().join("missing.rc");
    let missing = missing.to_str().unwrap();
    let other = other.to_str().unwrap();
    let home_rc = "# from HOME\nvlan/create 9\nport/setnumports 20\n";
    for reference in [false, true] {
        let builder = || {
            if reference {
                Switch::reference_builder()
            } else {
                Switch::builder()
            }
            .system_rc(None)
        };
        let which = if reference { "reference" } else { "ours" };
        // No rc file anywhere: the defaults.
        let a = vlans(builder(), &[]);
        assert_eq!(
            a,
            [
                "0000 DATA END WITH '.'\nVLAN 0000\n.\n1000 Success\n\nvde$ ",
                DEFAULTS
            ],
            "{which}"
        );
        // A missing -f file: the switch starts with the defaults.
        let a = vlans(builder(), &["-f", missing]);
        assert_eq!(a[1], DEFAULTS, "{which}");
        // ~/.vde2/vde_switch.rc without -f.
        let a = vlans(builder().home_rc(home_rc), &[]);
        assert_eq!(
            a,
            [
                "0000 DATA END WITH '.'\nVLAN 0000\nVLAN 0009\n.\n1000 Success\n\nvde$ ",
                "0000 DATA END WITH '.'\nNumports=20\nHUB=false\ncounters=true\n.\n1000 Success\n\nvde$ "
            ],
            "{which}"
        );
        // -f FILE instead of it.
        let a = vlans(builder().home_rc(home_rc), &["-f", other]);
        assert_eq!(
            a,
            [
                "0000 DATA END WITH '.'\nVLAN 0000\nVLAN 0011\n.\n1000 Success\n\nvde$ ",
                DEFAULTS
            ],
            "{which}"
        );
    }
}

/// `/etc/vde2/vde_switch.rc` is read when there is neither `-f` nor a file in HOME (ours and
/// the reference), and never with `--ignore-system-rc` (ours). The file is put there in a
/// private mount namespace, so the machine's own is neither used nor touched.
#[test]
fn system_rc_file_and_ignore_system_rc() {
    let Some(()) = needs::root("a private mount namespace holds the system rc file") else {
        return;
    };
    let system = Some("# the machine's\nvlan/create 13\n");
    let with_13 = "0000 DATA END WITH '.'\nVLAN 0000\nVLAN 0013\n.\n1000 Success\n\nvde$ ";
    let without = "0000 DATA END WITH '.'\nVLAN 0000\n.\n1000 Success\n\nvde$ ";
    let with_9 = "0000 DATA END WITH '.'\nVLAN 0000\nVLAN 0009\n.\n1000 Success\n\nvde$ ";
    for builder in [Switch::builder, Switch::reference_builder] {
        let a = vlans(builder().system_rc(system), &[]);
        assert_eq!(a[0], with_13, "the system rc file without -f");
        // A file in HOME comes first: the system one is then not read.
        let a = vlans(builder().system_rc(system).home_rc("vlan/create 9\n"), &[]);
        assert_eq!(a[0], with_9, "HOME's rc file before the system one");
    }
    if is_reference() {
        note_reference("--ignore-system-rc is ours");
        return;
    }
    let a = vlans(Switch::builder().system_rc(system), &["--ignore-system-rc"]);
    assert_eq!(a, [without, DEFAULTS], "--ignore-system-rc");
    // HOME's file is still read.
    let a = vlans(
        Switch::builder()
            .system_rc(system)
            .home_rc("vlan/create 9\n"),
        &["--ignore-system-rc"],
    );
    assert_eq!(a[0], with_9, "--ignore-system-rc keeps HOME's rc file");
}

/// `load` echoes every line of the script (as read, leading blanks kept) before its answer.
fn load_output(sw: &MgmtSwitch, script: &Path) -> String {
    let (mut s, _) = Session::open(&sw.mgmt);
    lossy(&s.cmd(&format!("load {}", script.display())))
}

#[test]
fn load_output_matches_the_reference() {
    let dir = tempfile::Builder::new()
        .prefix("vderc-load-")
        .tempdir()
        .expect("tempdir");
    // The same script file (so the same path in the echo) for both switches.
    let script = dir.path().join("script.rc");
    std::fs::write(
        &script,
        "port/showinfo\n\n# a comment\n   hash/showinfo\n\tvlan/create 5\n  # indented comment\n\
         vlan/print\nnosuchcommand\nvlan/create 0\nvlan/remove 5\nport/print",
    )
    .unwrap();
    let ours = MgmtSwitch::ours();
    let reference = MgmtSwitch::reference();
    let a = load_output(&ours, &script);
    let b = load_output(&reference, &script);
    assert_eq!(a, b, "load output differs from the reference");
    // And what that is, so that a change of both would be noticed.
    let echo = format!("vde[{}]: ", script.display());
    assert!(a.starts_with(&format!(
        "{echo}port/showinfo\n0000 DATA END WITH '.'\nNumports=32\nHUB=false\ncounters=true\n.\n1000 Success\n\
         {echo}\n\n1038 Function not implemented\n{echo}# a comment\n{echo}   hash/showinfo\n"
    )), "{a:?}");
    assert!(a.ends_with("1000 Success\n\nvde$ "), "{a:?}");

    // A missing script: the error of load itself.
    let missing = dir.path().join("missing.rc");
    assert_eq!(
        load_output(&ours, &missing),
        load_output(&reference, &missing)
    );
}

/// A deliberate difference: the reference reads scripts in 128-byte pieces, so a longer line
/// runs as several commands (a long comment turns into `1038` errors); ours runs every line
/// whole.
#[test]
fn long_script_lines_run_whole() {
    let dir = tempfile::Builder::new()
        .prefix("vderc-long-")
        .tempdir()
        .expect("tempdir");
    let script = dir.path().join("long.rc");
    std::fs::write(
        &script,
        format!(
            "# {}\nport/showinfo {}\nhash/showinfo\n",
            "x".repeat(150),
            "y".repeat(140)
        ),
    )
    .unwrap();
    let sw = MgmtSwitch::ours();
    let out = load_output(&sw, &script);
    if is_reference() {
        assert!(out.contains("1038 Function not implemented"), "{out}");
        return;
    }
    let comment = format!("# {}", "x".repeat(150));
    let expected = format!(
        "vde[{path}]: {comment}\nvde[{path}]: port/showinfo {ys}\n0000 DATA END WITH '.'\n\
         Numports=32\nHUB=false\ncounters=true\n.\n1000 Success\nvde[{path}]: hash/showinfo\n\
         0000 DATA END WITH '.'\nHash size 128\nGC interval 2 secs\nGC expire 100 secs\n\
         Min persistence 3 secs\n.\n1000 Success\n",
        path = script.display(),
        ys = "y".repeat(140),
    );
    assert!(out.contains(&expected), "load output:\n{out}");
    assert!(!out.contains("1038"), "a long line was split:\n{out}");
}
