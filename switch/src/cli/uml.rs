//! The `uml_switch` command line: exact words, in any order, no
//! abbreviations, no `=` forms.
//!
//! * `-unix CTL` sets the control socket; once `-compat-v0` has been seen it
//!   takes a second word, the data socket (`-unix CTL DATA`).
//! * `-hub` announces itself on stdout each time it is given.
//! * `-compat-v0` announces itself on stdout and (re)sets the data socket to
//!   its default.
//! * `-tap DEV` (last one wins) and `-daemon`.
//! * `--version` (ours) prints [`UML_VERSION_TEXT`] and exits with status 0.
//! * `-maxpending N` and `-maxpending-user N` (ours; `--maxpending N` and
//!   `--maxpending-user N` too, as `vde_switch` spells them): the caps of fair
//!   admission on unfinished handshakes, 1..65536. A missing or bad value is
//!   an error of its own (one line saying what is wrong, status 1), not the
//!   usage lines, which stay the reference's.
//!
//! Anything else, or a missing word, prints the two usage lines on stderr
//! and exits with status 1. Announcements made before the bad word are still
//! printed, as the reference prints them while parsing.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use super::Command;
use crate::config::UmlConfig;

/// Control socket used when `-unix` is not given.
pub const DEFAULT_UML_CTL: &str = "/tmp/uml.ctl";
/// Data socket of `-compat-v0` when `-unix` does not name one.
pub const DEFAULT_UML_DATA: &str = "/tmp/uml.data";

/// What `uml_switch --version` prints (ours only: the reference has no such option).
pub const UML_VERSION_TEXT: &str = concat!(
    "uml_switch ",
    env!("CARGO_PKG_VERSION"),
    " (vde-rs)\nreplaces uml_switch of uml-utilities 20070815 (same options, same protocol)\n"
);

/// The two usage lines the reference prints on stderr (status 1).
#[must_use]
pub fn uml_usage(prog: &str) -> String {
    format!(
        "Usage : {prog} [ -unix control-socket ] [ -hub ] [ -tap tap-device ]\n\
         or : {prog} -compat-v0 [ -unix control-socket data-socket ] [ -hub ] [ -tap tap-device ]\n"
    )
}

/// Which cap of fair admission an option word sets.
enum AdmissionCap {
    /// `-maxpending`: unfinished handshakes in all.
    All,
    /// `-maxpending-user`: unfinished handshakes of one user.
    PerUser,
}

impl AdmissionCap {
    /// The cap `word` sets: single-dash like the reference's words, or double-dash like
    /// `vde_switch`'s options.
    fn of(word: &OsStr) -> Option<AdmissionCap> {
        let name = word.to_str()?;
        let name = name.strip_prefix("--").or_else(|| name.strip_prefix('-'))?;
        match name {
            "maxpending" => Some(AdmissionCap::All),
            "maxpending-user" => Some(AdmissionCap::PerUser),
            _ => None,
        }
    }
}

/// The value of an admission cap option `word`, or the error line to print.
fn admission_cap(prog: &str, word: &OsStr, value: Option<&OsStr>) -> Result<usize, String> {
    let max = crate::config::MAX_ADMISSION_CAP;
    let word = word.to_string_lossy();
    let Some(value) = value else {
        return Err(format!(
            "{prog}: option '{word}' needs a value: an integer from 1 to {max}\n"
        ));
    };
    super::values::parse_c_int(value)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            format!(
                "{prog}: invalid argument '{}' for '{word}': expected an integer from 1 to {max}\n",
                value.to_string_lossy()
            )
        })
}

/// Parses the `uml_switch` command line (`args` without argv[0]).
///
/// With [`Command::Run`] the second value holds the lines (without their
/// newline) to print on stdout before starting: the `-hub` and `-compat-v0`
/// announcements, in command-line order. With [`Command::Exit`] those lines
/// are already at the front of `stdout` and the vector is empty.
#[must_use]
pub fn parse_uml_args(prog: &str, args: &[OsString]) -> (Command<UmlConfig>, Vec<String>) {
    let mut config = UmlConfig {
        ctl: PathBuf::from(DEFAULT_UML_CTL),
        ..UmlConfig::default()
    };
    let mut notices = Vec::new();
    let mut words = args.iter().map(OsString::as_os_str);
    let usage = |notices: Vec<String>| {
        let stdout: String = notices.iter().map(|l| format!("{l}\n")).collect();
        (
            Command::Exit {
                code: 1,
                stdout,
                stderr: uml_usage(prog),
            },
            Vec::new(),
        )
    };
    while let Some(word) = words.next() {
        let word: &OsStr = word;
        if word == "-unix" {
            let Some(ctl) = words.next() else {
                return usage(notices);
            };
            config.ctl = PathBuf::from(ctl);
            if config.compat_v0_data.is_some() {
                let Some(data) = words.next() else {
                    return usage(notices);
                };
                config.compat_v0_data = Some(PathBuf::from(data));
            }
        } else if word == "-hub" {
            notices.push(format!("{prog} will be a hub instead of a switch"));
            config.hub = true;
        } else if word == "-compat-v0" {
            notices.push("Control protocol 0 compatibility".to_owned());
            config.compat_v0_data = Some(PathBuf::from(DEFAULT_UML_DATA));
        } else if word == "-tap" {
            match words.next().map(OsStr::to_str) {
                Some(Some(dev)) => config.tap = Some(dev.to_owned()),
                _ => return usage(notices),
            }
        } else if word == "-daemon" {
            config.daemon = true;
        } else if let Some(cap) = AdmissionCap::of(word) {
            let value = match admission_cap(prog, word, words.next()) {
                Ok(v) => v,
                Err(stderr) => {
                    let stdout: String = notices.iter().map(|l| format!("{l}\n")).collect();
                    return (
                        Command::Exit {
                            code: 1,
                            stdout,
                            stderr,
                        },
                        Vec::new(),
                    );
                }
            };
            match cap {
                AdmissionCap::All => config.max_pending = value,
                AdmissionCap::PerUser => config.max_pending_user = value,
            }
        } else if word == "--version" {
            return (
                Command::Exit {
                    code: 0,
                    stdout: UML_VERSION_TEXT.to_owned(),
                    stderr: String::new(),
                },
                Vec::new(),
            );
        } else {
            return usage(notices);
        }
    }
    (Command::Run(config), notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> (Command<UmlConfig>, Vec<String>) {
        let args: Vec<OsString> = words.iter().map(OsString::from).collect();
        parse_uml_args("/tmp/fooum", &args)
    }

    fn run(words: &[&str]) -> (UmlConfig, Vec<String>) {
        match parse(words) {
            (Command::Run(c), notices) => (c, notices),
            other => panic!("{words:?}: {other:?}"),
        }
    }

    /// Captured from `/tmp/fooum -bogus </dev/null` (a copy of
    /// /usr/bin/uml_switch), stderr.
    const REFERENCE_USAGE: &str =
        "Usage : /tmp/fooum [ -unix control-socket ] [ -hub ] [ -tap tap-device ]\n\
or : /tmp/fooum -compat-v0 [ -unix control-socket data-socket ] [ -hub ] [ -tap tap-device ]\n";

    fn usage_exit(stdout: &str) -> (Command<UmlConfig>, Vec<String>) {
        (
            Command::Exit {
                code: 1,
                stdout: stdout.to_owned(),
                stderr: REFERENCE_USAGE.to_owned(),
            },
            Vec::new(),
        )
    }

    #[test]
    fn defaults() {
        let (c, notices) = run(&[]);
        assert_eq!(
            c,
            UmlConfig {
                ctl: PathBuf::from("/tmp/uml.ctl"),
                hub: false,
                tap: None,
                daemon: false,
                compat_v0_data: None,
                max_pending: 256,
                max_pending_user: 64,
            }
        );
        assert!(notices.is_empty());
    }

    #[test]
    fn admission_caps() {
        let (c, notices) = run(&["-maxpending", "4", "-hub", "-maxpending-user", "2"]);
        assert_eq!((c.max_pending, c.max_pending_user), (4, 2));
        assert!(c.hub);
        assert_eq!(notices.len(), 1);
        // vde_switch's spelling too, C-style integers, the last one wins, the limits included
        let (c, _) = run(&["--maxpending", "0x10", "--maxpending-user", "65536"]);
        assert_eq!((c.max_pending, c.max_pending_user), (16, 65536));
        let (c, _) = run(&["-maxpending", "9", "--maxpending", "1"]);
        assert_eq!(c.max_pending, 1);
    }

    #[test]
    fn admission_cap_errors() {
        let error = |stdout: &str, stderr: &str| {
            (
                Command::Exit {
                    code: 1,
                    stdout: stdout.to_owned(),
                    stderr: format!("/tmp/fooum: {stderr}\n"),
                },
                Vec::new(),
            )
        };
        for (words, what) in [
            (&["-maxpending", "0"][..], "'0' for '-maxpending'"),
            (&["--maxpending", "65537"], "'65537' for '--maxpending'"),
            (&["-maxpending-user", "-1"], "'-1' for '-maxpending-user'"),
            (
                &["--maxpending-user", "abc"],
                "'abc' for '--maxpending-user'",
            ),
            (&["-maxpending", ""], "'' for '-maxpending'"),
            (&["-maxpending", "4x"], "'4x' for '-maxpending'"),
        ] {
            assert_eq!(
                parse(words),
                error(
                    "",
                    &format!("invalid argument {what}: expected an integer from 1 to 65536")
                ),
                "{words:?}"
            );
        }
        assert_eq!(
            parse(&["-hub", "-maxpending-user"]),
            error(
                "/tmp/fooum will be a hub instead of a switch\n",
                "option '-maxpending-user' needs a value: an integer from 1 to 65536"
            )
        );
        // Other spellings are still the reference's usage error.
        for words in [
            &["-maxpending=4"][..],
            &["---maxpending", "4"],
            &["-max", "4"],
            &["-maxpending_user", "4"],
        ] {
            assert_eq!(parse(words), usage_exit(""), "{words:?}");
        }
    }

    #[test]
    fn all_words_any_order() {
        let (c, notices) = run(&["-daemon", "-tap", "tap3", "-hub", "-unix", "rel.ctl"]);
        assert_eq!(c.ctl, PathBuf::from("rel.ctl"));
        assert!(c.hub && c.daemon);
        assert_eq!(c.tap.as_deref(), Some("tap3"));
        assert_eq!(c.compat_v0_data, None);
        assert_eq!(
            notices,
            vec!["/tmp/fooum will be a hub instead of a switch"]
        );
        // words after -unix CTL are still parsed; later ones win
        let (c, _) = run(&["-unix", "/a", "-unix", "/b", "-tap", "t1", "-tap", "t2"]);
        assert_eq!(c.ctl, PathBuf::from("/b"));
        assert_eq!(c.tap.as_deref(), Some("t2"));
    }

    #[test]
    fn compat_v0() {
        let (c, notices) = run(&["-compat-v0", "-unix", "/c.ctl", "/c.data", "-hub"]);
        assert_eq!(c.ctl, PathBuf::from("/c.ctl"));
        assert_eq!(c.compat_v0_data, Some(PathBuf::from("/c.data")));
        assert_eq!(
            notices,
            vec![
                "Control protocol 0 compatibility",
                "/tmp/fooum will be a hub instead of a switch"
            ]
        );
        // -unix before -compat-v0 takes one word; -compat-v0 resets the data path
        let (c, _) = run(&["-unix", "/a.ctl", "-compat-v0"]);
        assert_eq!(c.ctl, PathBuf::from("/a.ctl"));
        assert_eq!(c.compat_v0_data, Some(PathBuf::from("/tmp/uml.data")));
        let (c, notices) = run(&["-compat-v0", "-unix", "/c", "/d", "-compat-v0"]);
        assert_eq!(c.compat_v0_data, Some(PathBuf::from("/tmp/uml.data")));
        assert_eq!(notices.len(), 2);
        // -hub repeated is announced twice
        assert_eq!(run(&["-hub", "-hub"]).1.len(), 2);
    }

    #[test]
    fn version_is_ours_only() {
        let (cmd, notices) = parse(&["--version"]);
        let Command::Exit {
            code: 0, stdout, ..
        } = cmd
        else {
            panic!("{cmd:?}");
        };
        assert!(notices.is_empty());
        assert!(stdout.starts_with("uml_switch 0."));
        assert!(stdout.contains("uml-utilities 20070815"));
        // Single-dash words stay the reference's: -version is a usage error there.
        assert_eq!(parse(&["-version"]), usage_exit(""));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(uml_usage("/tmp/fooum"), REFERENCE_USAGE);
        for words in [
            &["-bogus"][..],
            &["-unix"],
            &["-tap"],
            &["--hub"],
            &["-h"],
            &["-unix=x"],
            &["-Hub"],
            &["x"],
            &["-unix", "/a", "-bogus"],
        ] {
            assert_eq!(parse(words), usage_exit(""), "{words:?}");
        }
        // announcements made before the error come first on stdout
        assert_eq!(
            parse(&["-hub", "-bogus"]),
            usage_exit("/tmp/fooum will be a hub instead of a switch\n")
        );
        assert_eq!(
            parse(&["-compat-v0", "-unix", "/c.ctl"]),
            usage_exit("Control protocol 0 compatibility\n")
        );
        assert_eq!(
            parse(&["-compat-v0", "-unix", "/c", "/d", "-bogus"]),
            usage_exit("Control protocol 0 compatibility\n")
        );
    }
}
