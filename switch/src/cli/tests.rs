//! Tests of the `vde_switch` command line. Expected texts marked "captured"
//! were produced by the reference binary (a copy of /usr/bin/vde_switch
//! installed as /tmp/fooswitch, so that argv[0] shows in its messages).

use super::*;
use crate::config::StreamAddr;
use std::path::PathBuf;

const PROG: &str = "/tmp/fooswitch";
const CWD: &str = "/work/dir";

/// Captured: `/tmp/fooswitch --help </dev/null` (stdout, exit status 1).
const REFERENCE_HELP: &str = r#"Usage: vde_switch [OPTIONS]
Runs a VDE switch.
(global opts)
  -h, --help                 Display this help and exit
  -v, --version              Display informations on version and exit
  -n  --numports             Number of ports (default 32)
  -x, --hub                  Make the switch act as a hub
  -F, --fstp                 Activate the fast spanning tree protocol
      --macaddr MAC          Set the Switch MAC address
      --priority N           Set the priority for FST (MAC extension)
      --hashsize N           Hash table size
(opts from datasock module)
  -s, --sock SOCK            control directory pathname
  -s, --vdesock SOCK         Same as --sock SOCK
  -s, --unix SOCK            Same as --sock SOCK
  -m, --mode MODE            Permissions for the control socket (octal)
      --dirmode MODE         Permissions for the sockets directory (octal)
  -g, --group GROUP          Group owner for comm sockets
(opts from consmgmt module)
  -d, --daemon               Daemonize vde_switch once run
  -p, --pidfile PIDFILE      Write pid of daemon to PIDFILE
  -f, --rcfile               Configuration file (overrides /etc/vde2/vde_switch.rc and ~/.vderc)
  -M, --mgmt SOCK            path of the management UNIX socket
      --mgmtmode MODE        management UNIX socket access mode (octal)
      --mgmtgroup GROUP      management UNIX socket group name
  -D, --debugclients #       number of debug clients allowed
(opts from tuntap module)
  -t, --tap TAP              Enable routing through TAP tap interface

Report bugs to info@v2.cs.unibo.it
"#;

/// Captured: `/tmp/fooswitch -v` (stdout, exit status 0).
const REFERENCE_VERSION: &str = r#"VDE 2.3.2
Copyright 2003,...,2011 Renzo Davoli
some code from uml_switch Copyright (C) 2001, 2002 Jeff Dike and others
VDE comes with NO WARRANTY, to the extent permitted by law.
You may redistribute copies of VDE under the terms of the
GNU General Public License v2.
For more information about these matters, see the files
named COPYING.
"#;

const REFERENCE_TAIL: &str = "\nReport bugs to info@v2.cs.unibo.it\n";

fn args(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

fn parse(words: &[&str]) -> Command<Config> {
    parse_vde_args_in(PROG, &args(words), Some(Path::new(CWD)))
}

fn run(words: &[&str]) -> Config {
    match parse(words) {
        Command::Run(c) => c,
        other => panic!("{words:?} did not run: {other:?}"),
    }
}

/// Runs `words` and checks that only the listed change from the defaults
/// happened (`change` edits a default config into the expected one).
fn same(words: &[&str], change: impl Fn(&mut Config)) {
    let mut want = Config::default();
    change(&mut want);
    assert_eq!(run(words), want, "{words:?}");
}

fn exit(words: &[&str]) -> (i32, String, String) {
    match parse(words) {
        Command::Exit {
            code,
            stdout,
            stderr,
        } => (code, stdout, stderr),
        Command::Run(c) => panic!("{words:?} ran: {c:?}"),
    }
}

/// Asserts a glibc-style error: `PROG: message` + hint, status 1, no stdout.
fn error(words: &[&str], message: &str) {
    let want = format!("{PROG}: {message}\nTry '{PROG} --help' for more information.\n");
    assert_eq!(exit(words), (1, String::new(), want), "{words:?}");
}

/// The help text we expect: the reference's, our section before its tail.
fn expected_help(numports: &str) -> String {
    let reference = REFERENCE_HELP.replace("(default 32)", &format!("(default {numports})"));
    let body = reference.strip_suffix(REFERENCE_TAIL).unwrap();
    format!("{body}{}{REFERENCE_TAIL}", extension_usage())
}

fn help(words: &[&str]) -> String {
    let (code, stdout, stderr) = exit(words);
    assert_eq!((code, stderr.as_str()), (1, ""), "{words:?}");
    stdout
}

#[test]
fn no_arguments_give_the_defaults() {
    assert_eq!(run(&[]), Config::default());
    assert_eq!(run(&["--"]), Config::default());
}

#[test]
fn help_is_the_reference_text_plus_our_section() {
    let text = vde_usage("whatever");
    assert!(text.starts_with(REFERENCE_HELP.strip_suffix(REFERENCE_TAIL).unwrap()));
    assert!(text.ends_with(REFERENCE_TAIL));
    assert_eq!(text, expected_help("32"));
    for words in [
        &["-h"][..],
        &["--help"],
        &["-help"],
        &["--he"],
        &["-he"],
        &["-hx"],
        &["-x", "-h", "--bogus"],
    ] {
        assert_eq!(help(words), text, "{words:?}");
    }
    // like the reference, the "default" shown is an earlier -n value
    assert_eq!(help(&["-n", "8", "-h"]), expected_help("8"));
    assert_eq!(help(&["--numport=010", "-h"]), expected_help("8"));
    assert_eq!(help(&["-n", "0", "-h"]), expected_help("0"));
}

#[test]
fn our_section_has_the_reference_layout() {
    let section = extension_usage();
    let mut lines = section.lines();
    assert_eq!(lines.next(), Some("(additional opts, not in VDE 2.3.2)"));
    let mut names = Vec::new();
    for line in lines {
        assert!(line.starts_with("      --"), "{line:?}");
        assert_eq!(line.as_bytes()[28], b' ', "{line:?}");
        assert_ne!(line.as_bytes()[29], b' ', "{line:?}");
        names.push(line[6..].split(' ').next().unwrap().to_owned());
    }
    assert_eq!(
        names,
        [
            "--nostdin",
            "--console-stdin",
            "--maxframe",
            "--maxmacs",
            "--allow-abstract",
            "--ignore-system-rc",
            "--vxlan",
            "--stream",
            "--dgram",
            "--capture",
            "--maxpending",
            "--maxpending-user",
            "--maxsessions",
            "--maxsessions-user",
            "--maxstream-pending",
            "--maxstream-peer"
        ]
    );
    assert!(section.contains("(default 9234)"));
    assert!(section.contains("(default 65536)"));
}

#[test]
fn version() {
    assert_eq!(REFERENCE_VERSION_TEXT, REFERENCE_VERSION);
    // The reference's bytes first (callers read "VDE 2.3.2" from the first line), then ours.
    let text = version_text();
    assert!(text.starts_with(REFERENCE_VERSION));
    assert_eq!(
        &text[REFERENCE_VERSION.len()..],
        format!(
            "\nThis vde_switch is vde-rs {}, a reimplementation in Rust that replaces the switch of VDE 2.3.2.\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    for words in [
        &["-v"][..],
        &["--version"],
        &["-version"],
        &["--vers"],
        &["-ve"],
        &["-xv"],
        &["-n", "0", "-v"],
        &["foo", "-v"],
        &["-v", "--macaddr", "zz"],
        &["-v", "-g", "no-such-group-vde-test"],
    ] {
        assert_eq!(exit(words), (0, version_text(), String::new()), "{words:?}");
    }
}

#[test]
fn numports_spellings_and_bases() {
    for words in [
        &["-n", "8"][..],
        &["-n8"],
        &["--numports", "8"],
        &["--numports=8"],
        &["-numports", "8"],
        &["-numports=8"],
        &["--numport", "8"],
        &["-nu", "8"],
        &["--n", "8"],
        &["-n", "010"],
        &["-n", "0x8"],
        &["-n", "0X8"],
        &["-n", "16", "-n", "8"],
    ] {
        same(words, |c| c.numports = 8);
    }
    same(&["-n", "0x10"], |c| c.numports = 16);
    same(&["-n", "1"], |c| c.numports = 1);
}

#[test]
fn numports_below_one() {
    // captured: "/tmp/fooswitch: The switch must have at least 1 port\n\n"
    let want = (
        1,
        String::new(),
        format!("{PROG}: The switch must have at least 1 port\n\n"),
    );
    assert_eq!(exit(&["-n", "0"]), want);
    assert_eq!(exit(&["-n", "-1"]), want);
    assert_eq!(exit(&["-n", "0", "-x"]), want);
    // operands are reported first, as in the reference
    assert_eq!(help(&["-n", "0", "foo"]), expected_help("0"));
}

#[test]
fn bad_numbers_are_errors() {
    error(
        &["-n", "abc"],
        "invalid argument 'abc' for '--numports': expected an integer",
    );
    error(
        &["-n", "8x"],
        "invalid argument '8x' for '--numports': expected an integer",
    );
    error(
        &["-n", "3000000000"],
        "invalid argument '3000000000' for '--numports': expected an integer",
    );
    error(
        &["--priority", "high"],
        "invalid argument 'high' for '--priority': expected an integer",
    );
    error(
        &["--hashsize", "-4"],
        "invalid argument '-4' for '--hashsize': expected an integer from 0 to 16777216",
    );
    error(
        &["--capture", "x:/tmp/a"],
        "invalid argument 'x:/tmp/a' for '--capture': expected PORT:PATH or all:PATH",
    );
    error(
        &["--capture", "3"],
        "invalid argument '3' for '--capture': expected PORT:PATH or all:PATH",
    );
    error(
        &["--maxframe", "59"],
        "invalid argument '59' for '--maxframe': expected an integer from 60 to 65535",
    );
    error(
        &["--maxframe", "65536"],
        "invalid argument '65536' for '--maxframe': expected an integer from 60 to 65535",
    );
    error(
        &["--maxmacs", "0"],
        "invalid argument '0' for '--maxmacs': expected an integer from 1 to 2147483647",
    );
    error(
        &["-m", "9"],
        "invalid argument '9' for '--mode': expected an octal mode (at most 7777)",
    );
    error(
        &["--dirmode", "rwx"],
        "invalid argument 'rwx' for '--dirmode': expected an octal mode (at most 7777)",
    );
    error(
        &["--mgmtmode", "0x1ff"],
        "invalid argument '0x1ff' for '--mgmtmode': expected an octal mode (at most 7777)",
    );
}

#[test]
fn hub_and_fstp() {
    for words in [&["-x"][..], &["--hub"], &["-hub"], &["-hu"], &["--hu"]] {
        same(words, |c| c.hub = true);
    }
    for words in [&["-F"][..], &["--fstp"], &["-fstp"], &["--fs"], &["-fs"]] {
        same(words, |c| c.fstp = true);
    }
    // a hub never runs FSTP, whatever the order
    same(&["-x", "-F"], |c| c.hub = true);
    same(&["-F", "-x"], |c| c.hub = true);
    same(&["-Fx"], |c| c.hub = true);
}

#[test]
fn macaddr() {
    let mac = vde_protocol::MacAddr([0x02, 0x00, 0xde, 0xad, 0xbe, 0xef]);
    for words in [
        &["--macaddr", "02:00:de:ad:be:ef"][..],
        &["--macaddr=2:0:DE:AD:BE:EF"],
        &["-macaddr", "02.00.de.ad.be.ef"],
        &["--mac", "02:00:de:ad:be:ef"],
        // still unique among the reference options despite --maxframe
        &["--ma", "02:00:de:ad:be:ef"],
        &["-ma", "02:00:de:ad:be:ef"],
    ] {
        same(words, |c| c.macaddr = Some(mac));
    }
    // captured: stderr "/tmp/fooswitch: Invalid MAC Addr zz", usage on stdout
    assert_eq!(
        exit(&["--macaddr", "zz"]),
        (
            1,
            expected_help("32"),
            format!("{PROG}: Invalid MAC Addr zz\n")
        )
    );
    assert_eq!(
        exit(&["-n", "4", "--macaddr", "1:2:3"]).1,
        expected_help("4")
    );
}

#[test]
fn priority_and_hashsize() {
    same(&["--priority", "0x1234"], |c| c.priority = 0x1234);
    same(&["-priority=100"], |c| c.priority = 100);
    same(&["--pr", "010"], |c| c.priority = 8);
    same(&["--priority", "70000"], |c| {
        c.priority = (70000 & 0xffff) as u16
    });
    same(&["--priority", "-1"], |c| c.priority = 0xffff);
    same(&["--hashsize", "256"], |c| c.hashsize = 256);
    same(&["-hashsize", "0x100"], |c| c.hashsize = 256);
    same(&["--ha=1000"], |c| c.hashsize = 1000);
    same(&["--hashsize", "0"], |c| c.hashsize = 0);
}

#[test]
fn sock_spellings_and_paths() {
    for words in [
        &["-s", "/x"][..],
        &["-s/x"],
        &["--sock", "/x"],
        &["--sock=/x"],
        &["-sock", "/x"],
        &["--so", "/x"],
        &["--vdesock", "/x"],
        &["-vdesock", "/x"],
        &["--vd", "/x"],
        // glibc quirk kept: "-vd" is an abbreviation of -vdesock, not -v -d
        &["-vd", "/x"],
        &["--unix", "/x"],
        &["-unix", "/x"],
        &["--un", "/x"],
        // 'u' is no short option, so "-u" is looked up as a long one
        &["-u", "/x"],
        &["-s", "/y", "-s", "/x"],
    ] {
        same(words, |c| c.sock_dir = Some(PathBuf::from("/x")));
    }
    same(&["-s", "rel/dir"], |c| {
        c.sock_dir = Some(PathBuf::from("/work/dir/rel/dir"))
    });
    same(&["-s./v"], |c| {
        c.sock_dir = Some(PathBuf::from("/work/dir/./v"))
    });
    // the next word is taken whatever it looks like
    same(&["-s", "-x"], |c| {
        c.sock_dir = Some(PathBuf::from("/work/dir/-x"))
    });
    same(&["--sock="], |c| c.sock_dir = Some(PathBuf::new()));
}

#[test]
fn modes_are_stored_as_given() {
    for words in [
        &["-m", "666"][..],
        &["-m666"],
        &["-m", "0666"],
        &["--mode", "666"],
        &["--mode=666"],
        &["-mode", "666"],
        &["--mod", "666"],
        &["-mod", "666"],
    ] {
        same(words, |c| c.mode = Some(0o666));
    }
    for words in [
        &["--dirmode", "2770"][..],
        &["-dirmode", "2770"],
        &["-dirm", "2770"],
        &["--di=2770"],
    ] {
        same(words, |c| c.dirmode = Some(0o2770));
    }
    same(&["-m", "640", "--dirmode", "750"], |c| {
        c.mode = Some(0o640);
        c.dirmode = Some(0o750);
    });
    same(&["--dirmode", "711", "-m", "0640"], |c| {
        c.mode = Some(0o640);
        c.dirmode = Some(0o711);
    });
    same(&["--mgmtmode", "0660"], |c| c.mgmtmode = 0o660);
    same(&["-mgmtm", "666"], |c| c.mgmtmode = 0o666);
}

#[test]
fn groups() {
    for words in [
        &["-g", "root"][..],
        &["-groot"],
        &["--group", "root"],
        &["-group=root"],
        &["--gr", "root"],
        &["-g", "0"],
    ] {
        same(words, |c| c.group = Some(0));
    }
    same(&["-g", "4321"], |c| c.group = Some(4321));
    same(&["--mgmtgroup", "root"], |c| c.mgmtgroup = Some(0));
    same(&["-mgmtg", "77"], |c| c.mgmtgroup = Some(77));
    // captured: "No such group 'nosuch'" alone on stderr, status 1
    let want = (
        1,
        String::new(),
        "No such group 'no-such-group-vde-test'\n".to_owned(),
    );
    assert_eq!(exit(&["-g", "no-such-group-vde-test"]), want);
    assert_eq!(exit(&["--mgmtgroup", "no-such-group-vde-test", "-v"]), want);
}

#[test]
fn consmgmt_options() {
    for words in [
        &["-d"][..],
        &["--daemon"],
        &["-daemon"],
        &["--da"],
        &["-da"],
    ] {
        same(words, |c| c.daemon = true);
    }
    for words in [
        &["-p", "/run/p.pid"][..],
        &["-p/run/p.pid"],
        &["--pidfile", "/run/p.pid"],
        &["-pidfile=/run/p.pid"],
        &["--pi", "/run/p.pid"],
    ] {
        same(words, |c| c.pidfile = Some(PathBuf::from("/run/p.pid")));
    }
    same(&["-p", "p.pid"], |c| {
        c.pidfile = Some(PathBuf::from("/work/dir/p.pid"))
    });
    for words in [
        &["-f", "/etc/x.rc"][..],
        &["--rcfile", "/etc/x.rc"],
        &["-rcfile", "/etc/x.rc"],
        &["-r", "/etc/x.rc"],
    ] {
        same(words, |c| c.rcfile = Some(PathBuf::from("/etc/x.rc")));
    }
    same(&["-f", "x.rc"], |c| {
        c.rcfile = Some(PathBuf::from("/work/dir/x.rc"))
    });
    for words in [
        &["-M", "/tmp/m"][..],
        &["-M/tmp/m"],
        &["--mgmt", "/tmp/m"],
        &["-mgmt", "/tmp/m"],
        &["--mgmt=/tmp/m"],
    ] {
        same(words, |c| c.mgmt = Some(PathBuf::from("/tmp/m")));
    }
    same(&["-M", "sw.mgmt"], |c| {
        c.mgmt = Some(PathBuf::from("/work/dir/sw.mgmt"))
    });
    // -D takes a value and ignores it
    for words in [
        &["-D", "3"][..],
        &["-D3"],
        &["--debugclients", "3"],
        &["-debugclients=x"],
        &["--deb", "3"],
        &["-de", "3"],
    ] {
        same(words, |_| {});
    }
}

#[test]
fn taps_accumulate() {
    same(
        &[
            "-t",
            "tap0",
            "--tap",
            "tap1",
            "-tap=tap2",
            "-ttap3",
            "--ta",
            "tap4",
        ],
        |c| {
            c.taps = ["tap0", "tap1", "tap2", "tap3", "tap4"]
                .map(String::from)
                .to_vec()
        },
    );
}

#[test]
fn our_options() {
    for words in [&["--nostdin"][..], &["-nostdin"], &["--no"], &["-no"]] {
        same(words, |c| c.nostdin = true);
    }
    for words in [&["--console-stdin"][..], &["-console-stdin"], &["--co"]] {
        same(words, |c| c.console_stdin = true);
    }
    for words in [
        &["--allow-abstract"][..],
        &["-allow-abstract"],
        &["--al"],
        &["-a"],
    ] {
        same(words, |c| c.allow_foreign_abstract = true);
    }
    for words in [
        &["--ignore-system-rc"][..],
        &["-ignore-system-rc"],
        &["--ig"],
        &["-i"],
    ] {
        same(words, |c| c.ignore_system_rc = true);
    }
    same(&["--maxframe", "1518"], |c| c.max_frame = 1518);
    same(&["-maxframe=60"], |c| c.max_frame = 60);
    same(&["--maxf", "65535"], |c| c.max_frame = 65535);
    same(&["--maxmacs", "0x400"], |c| c.max_macs = 1024);
    same(&["-maxm", "1"], |c| c.max_macs = 1);
    error(
        &["--max", "10"],
        "option '--max' is ambiguous; possibilities: '--maxframe' '--maxmacs' '--maxpending' \
         '--maxpending-user' '--maxsessions' '--maxsessions-user' '--maxstream-pending' \
         '--maxstream-peer'",
    );
    // An exact name wins over the longer ones it begins.
    same(&["--maxpending", "7"], |c| c.max_pending = 7);
    same(&["--maxsessions-user", "1"], |c| c.max_sessions_user = 1);
    error(
        &["--maxpending", "0"],
        "invalid argument '0' for '--maxpending': expected an integer from 1 to 65536",
    );
    same(&["--maxstream-pending", "65536"], |c| {
        c.max_stream_pending = 65536
    });
    same(&["--maxstream-pen", "3"], |c| c.max_stream_pending = 3);
    same(&["-maxstream-peer=1"], |c| c.max_stream_pending_peer = 1);
    error(
        &["--maxstream-peer", "65537"],
        "invalid argument '65537' for '--maxstream-peer': expected an integer from 1 to 65536",
    );
}

#[test]
fn short_clusters() {
    same(&["-xd"], |c| {
        c.hub = true;
        c.daemon = true;
    });
    same(&["-dx"], |c| {
        c.hub = true;
        c.daemon = true;
    });
    same(&["-xdn4"], |c| {
        c.hub = true;
        c.daemon = true;
        c.numports = 4;
    });
    same(&["-dt", "tap9"], |c| {
        c.daemon = true;
        c.taps = vec!["tap9".into()];
    });
}

#[test]
fn ambiguous_abbreviations() {
    // all captured from the reference (which then ignores the option)
    error(
        &["--m"],
        "option '--m' is ambiguous; possibilities: '--macaddr' '--mod' '--mode' '--mgmt' '--mgmtmode' '--mgmtgroup'",
    );
    error(
        &["--mg", "x"],
        "option '--mg' is ambiguous; possibilities: '--mgmt' '--mgmtmode' '--mgmtgroup'",
    );
    error(
        &["--p"],
        "option '--p' is ambiguous; possibilities: '--priority' '--pidfile'",
    );
    error(
        &["--d"],
        "option '--d' is ambiguous; possibilities: '--dirmode' '--daemon' '--debugclients'",
    );
    error(
        &["--h"],
        "option '--h' is ambiguous; possibilities: '--help' '--hub' '--hashsize'",
    );
    error(
        &["--v"],
        "option '--v' is ambiguous; possibilities: '--version' '--vdesock'",
    );
    // glibc's long_only mode: synonyms do not make an abbreviation unique
    error(
        &["--mo", "1"],
        "option '--mo' is ambiguous; possibilities: '--mod' '--mode'",
    );
    error(
        &["-mo", "1"],
        "option '-mo' is ambiguous; possibilities: '-mod' '-mode'",
    );
    error(
        &["--mgm=1"],
        "option '--mgm=1' is ambiguous; possibilities: '--mgmt' '--mgmtmode' '--mgmtgroup'",
    );
}

#[test]
fn unknown_options_and_bad_arguments() {
    error(&["--foo"], "unrecognized option '--foo'");
    error(&["-x", "--bogus"], "unrecognized option '--bogus'");
    error(&["--port=3"], "unrecognized option '--port=3'");
    error(&["-zq"], "unrecognized option '-zq'");
    error(&["-W", "foo"], "unrecognized option '-W'");
    error(&["-xzq"], "invalid option -- 'z'");
    error(&["-:"], "invalid option -- ':'");
    error(&["--hub=1"], "option '--hub' doesn't allow an argument");
    error(&["-hu=1"], "option '-hub' doesn't allow an argument");
    error(&["-numports"], "option '-numports' requires an argument");
    error(&["--sock"], "option '--sock' requires an argument");
    error(&["--priority"], "option '--priority' requires an argument");
    error(&["-n"], "option requires an argument -- 'n'");
    error(&["-x", "-p"], "option requires an argument -- 'p'");
    error(&["-xdn"], "option requires an argument -- 'n'");
    // the program name is whatever argv[0] was
    assert_eq!(
        parse_vde_args("vde_switch", &args(&["--foo"])),
        Command::Exit {
            code: 1,
            stdout: String::new(),
            stderr: "vde_switch: unrecognized option '--foo'\n\
                     Try 'vde_switch --help' for more information.\n"
                .to_owned(),
        }
    );
}

#[test]
fn operands_print_the_usage() {
    for words in [
        &["foo"][..],
        &["-"],
        &["-x", "foo"],
        &["foo", "-x"],
        &["--", "-x"],
        &["-s", "/x", "extra"],
    ] {
        assert_eq!(help(words), expected_help("32"), "{words:?}");
    }
}

#[test]
fn relative_paths_stay_relative_without_a_cwd() {
    let parsed = parse_vde_args_in(
        PROG,
        &args(&["-s", "d", "-M", "m", "-p", "p", "-f", "f"]),
        None,
    );
    let Command::Run(c) = parsed else {
        panic!("{parsed:?}")
    };
    assert_eq!(c.sock_dir, Some(PathBuf::from("d")));
    assert_eq!(c.mgmt, Some(PathBuf::from("m")));
    assert_eq!(c.pidfile, Some(PathBuf::from("p")));
    assert_eq!(c.rcfile, Some(PathBuf::from("f")));
}

#[test]
fn public_entry_point_uses_the_current_directory() {
    let cwd = std::env::current_dir().unwrap();
    let Command::Run(c) = parse_vde_args(PROG, &args(&["-M", "sw.mgmt"])) else {
        panic!()
    };
    assert_eq!(c.mgmt, Some(cwd.join("sw.mgmt")));
}

#[test]
fn everything_at_once() {
    let c = run(&[
        "-sock",
        "/tmp/sw",
        "-hub",
        "-daemon",
        "-mod",
        "777",
        "--dirmode=2777",
        "-n",
        "64",
        "--macaddr",
        "00:ff:00:00:00:01",
        "--priority",
        "4096",
        "--hashsize",
        "512",
        "-g",
        "root",
        "-p",
        "/run/sw.pid",
        "-f",
        "/etc/sw.rc",
        "-mgmt",
        "/tmp/sw.mgmt",
        "--mgmtmode",
        "660",
        "--mgmtgroup",
        "root",
        "-D",
        "2",
        "-t",
        "tap0",
        "--nostdin",
        "--console-stdin",
        "--maxframe",
        "1518",
        "--maxmacs",
        "100",
        "--allow-abstract",
        "--ignore-system-rc",
        "--vxlan",
        "vni=42,local=10.0.0.1,remote=10.0.0.2",
        "--vxlan",
        "vni=7,group=239.1.1.1,dev=eth0",
        "--stream",
        "/tmp/q.sock",
        "-stream=tcp:127.0.0.1:5555",
        "--dgram",
        "/tmp/q.dgram",
        "--capture",
        "3:/tmp/p3.pcap",
        "--capture=all:/tmp/all.pcap",
        "--maxpending",
        "10",
        "--maxpending-user",
        "3",
        "--maxsessions",
        "5",
        "--maxsessions-user",
        "2",
        "--maxstream-pending",
        "9",
        "--maxstream-peer",
        "4",
    ]);
    assert_eq!(
        c,
        Config {
            sock_dir: Some(PathBuf::from("/tmp/sw")),
            numports: 64,
            hub: true,
            fstp: false,
            macaddr: Some(vde_protocol::MacAddr([0, 0xff, 0, 0, 0, 1])),
            priority: 4096,
            hashsize: 512,
            mode: Some(0o777),
            dirmode: Some(0o2777),
            group: Some(0),
            daemon: true,
            pidfile: Some(PathBuf::from("/run/sw.pid")),
            rcfile: Some(PathBuf::from("/etc/sw.rc")),
            mgmt: Some(PathBuf::from("/tmp/sw.mgmt")),
            mgmtmode: 0o660,
            mgmtgroup: Some(0),
            taps: vec!["tap0".into()],
            nostdin: true,
            console_stdin: true,
            max_frame: 1518,
            max_macs: 100,
            allow_foreign_abstract: true,
            ignore_system_rc: true,
            vxlans: vec![
                "vni=42,local=10.0.0.1,remote=10.0.0.2".parse().unwrap(),
                "vni=7,group=239.1.1.1,dev=eth0".parse().unwrap(),
            ],
            streams: vec![
                StreamAddr::Unix(PathBuf::from("/tmp/q.sock")),
                StreamAddr::Tcp("127.0.0.1:5555".parse().unwrap()),
            ],
            dgrams: vec![PathBuf::from("/tmp/q.dgram")],
            captures: vec![
                ("3".into(), PathBuf::from("/tmp/p3.pcap")),
                ("all".into(), PathBuf::from("/tmp/all.pcap")),
            ],
            max_pending: 10,
            max_pending_user: 3,
            max_sessions: 5,
            max_sessions_user: 2,
            max_stream_pending: 9,
            max_stream_pending_peer: 4,
        }
    );
}

#[test]
fn bad_vxlan_spec_says_what_is_wrong() {
    let Command::Exit { code, stderr, .. } = parse_vde_args_in(
        "vde_switch",
        &args(&["--vxlan", "vni=1,local=10.0.0.1"]),
        None,
    ) else {
        panic!("accepted");
    };
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "vde_switch: invalid VXLAN spec 'vni=1,local=10.0.0.1' for '--vxlan': missing remote=ADDR \
         (unicast) or group=ADDR,dev=IFNAME (multicast)\nTry 'vde_switch --help' for more information.\n"
    );
}

#[test]
fn stream_and_dgram_listeners() {
    let cwd = Path::new(CWD);
    same(&["--stream", "q.sock", "-stream", "/tmp/b"], |c| {
        c.streams = vec![
            StreamAddr::Unix(cwd.join("q.sock")),
            StreamAddr::Unix(PathBuf::from("/tmp/b")),
        ]
    });
    same(&["--str=tcp:[::1]:5555"], |c| {
        c.streams = vec![StreamAddr::Tcp("[::1]:5555".parse().unwrap())]
    });
    same(&["-dgram", "d.sock", "--dg", "/tmp/e"], |c| {
        c.dgrams = vec![cwd.join("d.sock"), PathBuf::from("/tmp/e")]
    });
    // After one dash only the whole names: the reference's short clusters keep their meaning.
    same(&["-dg", "0"], |c| {
        c.daemon = true;
        c.group = Some(0)
    });
    same(&["-str"], |c| c.sock_dir = Some(cwd.join("tr")));
    let hint = "expected a socket path or tcp:ADDR:PORT (e.g. tcp:127.0.0.1:5555, tcp:[::1]:5555)";
    for bad in [
        "tcp:localhost:5555",
        "tcp:127.0.0.1",
        "tcp:1.2.3.4:99999",
        "",
    ] {
        error(
            &["--stream", bad],
            &format!("invalid argument '{bad}' for '--stream': {hint}"),
        );
    }
    error(
        &["--dgram", ""],
        "invalid argument '' for '--dgram': expected a socket path",
    );
}
