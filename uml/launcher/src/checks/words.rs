//! The command line alone: every word checked on its own, then the words together.

use super::spaces::check_spaces;
use super::spelling::{check_spelling, closest};
use crate::args::{self, Arg, Ubd, Word};
use crate::net::{self, ETH_TRANSPORTS, VEC_TRANSPORTS};
use crate::Problem;
use std::collections::HashMap;

/// Checks the command line alone. Returns the problems and the warnings.
pub fn check_words(args: &[Arg]) -> (Vec<Problem>, Vec<String>) {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let next = args.get(i + 1).map(|n| n.text.as_str());
        let before = problems.len();
        check_spaces(a, next, args.get(i.wrapping_sub(1)), &mut problems);
        if problems.len() > before {
            // One finding per word: the rest follows from the split.
            continue;
        }
        check_spelling(a, &mut problems);
        match &a.word {
            Word::Ubd(u) => check_ubd_syntax(a, u, &mut problems),
            Word::Eth(e) => {
                if e.transport.is_empty() {
                    problems.push(Problem::new(
                        format!("`{}`: no transport given", a.text),
                        format!(
                            "write eth{}=vde,SWITCH_DIR or eth{}=daemon,,unix,CTL_SOCKET",
                            e.index, e.index
                        ),
                    ));
                } else if !ETH_TRANSPORTS.contains(&e.transport.as_str()) {
                    let fix = match closest(&e.transport, ETH_TRANSPORTS) {
                        Some(t) => format!(
                            "did you mean `{t}`? write `{}`",
                            a.text.replacen(&format!("={}", e.transport), &format!("={t}"), 1)
                        ),
                        None => format!("use one of: {}", ETH_TRANSPORTS.join(", ")),
                    };
                    problems.push(Problem::new(
                        format!(
                            "`{}`: unknown network transport `{}`",
                            a.text, e.transport
                        ),
                        fix,
                    ));
                } else if e.transport == "daemon" {
                    if let Some(mac) = e.options.first().filter(|m| !m.is_empty() && !net::is_mac(m))
                    {
                        problems.push(Problem::new(
                            format!("`{}`: `{mac}` is not a MAC address (the field after `daemon` is the MAC)", a.text),
                            format!("write eth{}=daemon,MAC,unix,CTL (e.g. eth{}=daemon,,unix,/tmp/s1/ctl; an empty MAC is allowed)", e.index, e.index),
                        ));
                    }
                }
            }
            Word::Vec(v) => match v.get("transport") {
                None => problems.push(Problem::new(
                    format!("`{}`: no transport= option", a.text),
                    format!(
                        "add transport=NAME (one of: {}), e.g. vec{}:transport=vde,vnl=vde:///tmp/s1",
                        VEC_TRANSPORTS.join(", "),
                        v.index
                    ),
                )),
                Some(t) if !VEC_TRANSPORTS.contains(&t) => problems.push(Problem::new(
                    format!("`{}`: unknown vector transport `{t}`", a.text),
                    match closest(t, VEC_TRANSPORTS) {
                        Some(c) => format!("did you mean transport={c}?"),
                        None => format!("use one of: {}", VEC_TRANSPORTS.join(", ")),
                    },
                )),
                _ => {}
            },
            Word::KeyValue { key, value } if key == "mem" => match args::parse_size(value) {
                None => problems.push(Problem::new(
                    format!("`{}`: not a size", a.text),
                    "write the guest's memory with a unit, e.g. mem=128M",
                )),
                Some(n) if n < 1 << 20 => problems.push(Problem::new(
                    format!("`{}` means {n} bytes of guest memory", a.text),
                    format!("add the unit: mem={value}M"),
                )),
                Some(n) if n < 64 << 20 => warnings.push(format!(
                    "`{}`: guests with less than 64M often run out of memory (mem=96M or more works)",
                    a.text
                )),
                _ => {}
            },
            _ => {}
        }
    }
    check_duplicates(args, &mut problems);
    (problems, warnings)
}

fn check_ubd_syntax(a: &Arg, u: &Ubd, problems: &mut Vec<Problem>) {
    if u.index > 15 {
        problems.push(Problem::new(
            format!(
                "`{}`: disk {} does not exist (16 disks: ubd0..ubd15 or ubda..ubdp)",
                a.text, u.unit
            ),
            "use a disk number from 0 to 15",
        ));
    }
    if u.fields.len() > 3 {
        problems.push(Problem::new(
            format!(
                "`{}` has {} parts: the kernel splits ubd values at every `,` and `:`, so a path \
                 contains one of them",
                a.text,
                u.fields.len()
            ),
            "rename the file (or reach it through a symlink) without `,` or `:`; the form is \
             ubdN=COW,BACKING[,SERIAL]",
        ));
    }
    if u.has_flag('d') && u.backing().is_some() {
        problems.push(Problem::new(
            format!(
                "`{}`: the `d` flag (never treat the file as a COW) cannot go with a backing file",
                a.text
            ),
            format!(
                "remove the `d` flag, or the backing file: ubd{}d={}",
                u.unit,
                u.file()
            ),
        ));
    }
    if u.file().is_empty() {
        problems.push(Problem::new(
            format!("`{}`: no file name", a.text),
            "write ubdN=COW,BACKING or ubdN=IMAGE",
        ));
    }
}

fn check_duplicates(args: &[Arg], problems: &mut Vec<Problem>) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut cows: HashMap<String, &str> = HashMap::new();
    for a in args {
        let id = match &a.word {
            Word::Ubd(u) => {
                if !u.file().is_empty() {
                    if let Some(prev) = cows.insert(u.file().to_string(), &a.text) {
                        problems.push(Problem::new(
                            format!("`{prev}` and `{}` use the same file {}", a.text, u.file()),
                            "give every disk its own COW file (two writers corrupt it)",
                        ));
                    }
                }
                format!("disk ubd{}", u.index)
            }
            Word::Eth(e) => format!("network interface eth{}", e.index),
            Word::Vec(v) => format!("vector interface vec{}", v.index),
            Word::KeyValue { key, .. } if key == "umid" || key == "mem" => key.clone(),
            _ => continue,
        };
        if let Some(prev) = seen.insert(id.clone(), &a.text) {
            problems.push(Problem::new(
                format!("{id} is given twice: `{prev}` and `{}`", a.text),
                "keep one of them (number the others differently)",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_all;

    fn problems(words: &[&str]) -> Vec<Problem> {
        check_words(&parse_all(words)).0
    }

    fn one(words: &[&str]) -> Problem {
        let p = problems(words);
        assert_eq!(p.len(), 1, "{words:?}: {p:#?}");
        p.into_iter().next().unwrap()
    }

    #[test]
    fn a_course_command_line_is_clean() {
        let (p, w) = check_words(&parse_all(&[
            "mem=96M",
            "umid=h1",
            "root=/dev/ubda",
            "rw",
            "init=/init",
            "con=null",
            "con0=fd:0,fd:1",
            "ubd0=h1.cow,rootfs.ext4",
            "eth0=vde,/tmp/s1",
            "eth1=daemon,,unix,/tmp/s1/ctl",
            "vec2:transport=vde,vnl=vde:///tmp/s1",
            "MYIP=10.0.0.1",
            "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX",
            "noreboot",
            "single",
            "ubd1r=data.img",
            "ubdc=x.cow,y.img",
        ]));
        assert!(p.is_empty(), "{p:#?}");
        assert!(w.is_empty(), "{w:#?}");
    }

    /// For each case, the words must give exactly one problem whose `what` contains the second
    /// text and whose `fix` contains the third (an empty text asks for nothing).
    fn expect_one(cases: &[(&[&str], &str, &str)]) {
        for &(words, what, fix) in cases {
            let p = one(words);
            assert!(p.what.contains(what) && p.fix.contains(fix), "{p}");
        }
    }

    #[test]
    fn misspellings() {
        expect_one(&[
            (
                &["udb0=h1.cow,rootfs.ext4"],
                "udb",
                "ubd0=h1.cow,rootfs.ext4",
            ),
            (
                &["eth0=demon,,unix,/tmp/s/ctl"],
                "demon",
                "eth0=daemon,,unix,/tmp/s/ctl",
            ),
            (&["eth0=damon,,unix,/tmp/s/ctl"], "", "daemon"),
            (&["eht0=vde,/tmp/s"], "", "eth0=vde,/tmp/s"),
            (&["umdi=h1"], "", "umid=h1"),
            (&["norebot"], "", "noreboot"),
            (&["vec0:transport=vdee,vnl=vde:///x"], "", "transport=vde"),
            (&["ubd0"], "no `=`", ""),
            (&["ubd0=a,b,c,d"], "4 parts", ""),
            (&["ubd0d=a.cow,b.img"], "`d` flag", ""),
            (&["mem=96"], "", "mem=96M"),
            (&["eth0=daemon,unix,/tmp/s/ctl"], "MAC", ""),
        ]);
    }

    #[test]
    fn spaces_inside_sub_parameter_lists() {
        expect_one(&[
            (
                &["ubd0=h1.cow,", "rootfs.ext4"],
                "space after the comma",
                "ubd0=h1.cow,rootfs.ext4",
            ),
            (
                &["ubd0=h1.cow", ",rootfs.ext4"],
                "space before the comma",
                "ubd0=h1.cow,rootfs.ext4",
            ),
            (&["eth0=vde,", "/tmp/s1"], "", "eth0=vde,/tmp/s1"),
            (&["ubd0=h1.cow, rootfs.ext4"], "", "ubd0=h1.cow,rootfs.ext4"),
            (
                &["ubd0=", "h1.cow,rootfs.ext4"],
                "",
                "ubd0=h1.cow,rootfs.ext4",
            ),
            (&["con0=fd:0,", "fd:1"], "", "con0=fd:0,fd:1"),
        ]);
    }

    #[test]
    fn duplicates() {
        let p = one(&["ubd0=a.cow,b.img", "ubd0=c.cow,b.img"]);
        assert!(p.what.contains("twice"), "{p}");
        let p = problems(&["ubd0=a.cow,b.img", "ubd1=a.cow,b.img"]);
        assert!(p.iter().any(|p| p.what.contains("same file")), "{p:#?}");
    }

    #[test]
    fn small_memory_is_a_warning() {
        let (p, w) = check_words(&parse_all(&["mem=32M"]));
        assert!(p.is_empty());
        assert_eq!(w.len(), 1);
    }
}
