//! Misspelled parameter names: which names exist, and the name a misspelled one most likely
//! means.

use crate::args::{Arg, Word};
use crate::Problem;
use strsim::osa_distance;

/// Parameter names of UML and the generic kernel that take a value (`KEY=VALUE`).
const KNOWN_KEYS: &[&str] = &[
    "mem",
    "umid",
    "uml_dir",
    "root",
    "rootfstype",
    "rootflags",
    "rootwait",
    "init",
    "rdinit",
    "con",
    "ssl",
    "console",
    "mconsole",
    "hostfs",
    "iomem",
    "initrd",
    "xterm",
    "seccomp",
    "loglevel",
    "panic",
    "ip",
    "nfsroot",
    "earlyprintk",
    "systemd.unit",
    "time-travel-start",
];

/// Names that are easy to misspell, compared against unknown lowercase keys.
const TYPO_TARGETS: &[&str] = &[
    "mem",
    "umid",
    "uml_dir",
    "root",
    "rootfstype",
    "rootflags",
    "init",
    "console",
    "mconsole",
    "hostfs",
    "initrd",
    "iomem",
];

/// Device families (`ubd0=`, `eth1=`, `con0=`, `ssl1=`, `vec0:`).
const DEVICE_FAMILIES: &[&str] = &["ubd", "eth", "vec", "con", "ssl"];

/// Words without `=` that a UML command line commonly has.
const KNOWN_FLAGS: &[&str] = &[
    "rw",
    "ro",
    "noreboot",
    "quiet",
    "debug",
    "single",
    "emergency",
    "nosysemu",
    "ssl-non-raw",
    "fake_ide",
    "rootwait",
    "time-travel",
];

/// The candidate `word` is most likely a misspelling of, if it is close enough (one edit for
/// short names, two for names of 6 letters or more) and not itself a candidate.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.is_empty() || candidates.contains(&word) {
        return None;
    }
    let limit = |c: &str| if c.len() >= 6 { 2 } else { 1 };
    candidates
        .iter()
        .map(|c| (osa_distance(word, c), *c))
        .filter(|(d, c)| *d <= limit(c) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Splits `eth0`, `ubd1r`, `con` into the leading letters and the rest.
pub(super) fn split_family(key: &str) -> (&str, &str) {
    let n = key
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .unwrap_or(key.len());
    (&key[..n], &key[n..])
}

/// Finds parameter names that are not UML's or the kernel's but close to one (`udb0=`, `umdi=`,
/// `norebot`), and device words without a value.
pub(super) fn check_spelling(a: &Arg, problems: &mut Vec<Problem>) {
    let key = match &a.word {
        Word::KeyValue { key, .. } => key.split(':').next().unwrap_or(key).to_string(),
        Word::Flag(f) => {
            let (fam, rest) = split_family(f);
            if DEVICE_FAMILIES.contains(&fam) && rest.starts_with(|c: char| c.is_ascii_digit()) {
                problems.push(Problem::new(
                    format!("`{f}` has no `=` and no value"),
                    match fam {
                        "ubd" => format!(
                            "write {f}=COW,BACKING (e.g. {f}=h1.cow,rootfs.ext4) or {f}=IMAGE"
                        ),
                        "eth" => format!("write {f}=vde,SWITCH_DIR or {f}=daemon,,unix,CTL"),
                        "vec" => format!("write {f}:transport=NAME,..."),
                        _ => format!("write {f}=CHANNEL (e.g. {f}=fd:0,fd:1 or {f}=null)"),
                    },
                ));
                return;
            }
            if fam.starts_with("udb") {
                problems.push(Problem::new(
                    format!("`{f}`: `udb` is a misspelling of `ubd`"),
                    format!("write `{}`", f.replacen("udb", "ubd", 1)),
                ));
                return;
            }
            if f.chars().all(|c| c.is_ascii_lowercase()) && !KNOWN_FLAGS.contains(&f.as_str()) {
                if let Some(c) = closest(f, &["noreboot", "single", "quiet", "emergency"]) {
                    problems.push(Problem::new(
                        format!("`{f}` is not a kernel option (a misspelling of `{c}`?)"),
                        format!("write `{c}`"),
                    ));
                }
            }
            return;
        }
        _ => return,
    };
    if KNOWN_KEYS.contains(&key.as_str()) || key.contains('.') {
        return;
    }
    if !key.chars().any(|c| c.is_ascii_lowercase()) || key.chars().any(|c| c.is_ascii_uppercase()) {
        // Upper case: init's environment (MYIP=..., GLIBC_TUNABLES=...).
        return;
    }
    let (fam, rest) = split_family(&key);
    let fixed_word = |good: &str| {
        let bad_len = fam.len();
        format!("write `{good}{}`", &a.text[bad_len..])
    };
    let misspelling = |good: &str| {
        Problem::new(
            format!(
                "`{}`: `{fam}` is not a kernel parameter (a misspelling of `{good}`?)",
                a.text
            ),
            fixed_word(good),
        )
    };
    if let Some(after) = fam.strip_prefix("udb") {
        problems.push(Problem::new(
            format!("`{}`: `udb` is a misspelling of `ubd`", a.text),
            fixed_word(&format!("ubd{after}")),
        ));
        return;
    }
    let device_like = rest.starts_with(|c: char| c.is_ascii_digit());
    if device_like || rest.is_empty() {
        if DEVICE_FAMILIES.contains(&fam) {
            if fam == "ubd" {
                problems.push(Problem::new(
                    format!("`{}`: `{key}` is not a valid disk name", a.text),
                    "write ubdN=... with N from 0 to 15 (or a letter a..p), optionally followed \
                     by flags r, s, d, c, t (e.g. ubd1r=data.img)",
                ));
            } else if fam == "vec" {
                problems.push(Problem::new(
                    format!("`{}`: vector devices are written vecN:OPTIONS", a.text),
                    "write e.g. vec0:transport=vde,vnl=vde:///tmp/s1",
                ));
            }
            return;
        }
        if let Some(good) = closest(fam, DEVICE_FAMILIES) {
            problems.push(misspelling(good));
            return;
        }
    }
    if rest.is_empty() {
        if let Some(good) = closest(fam, TYPO_TARGETS) {
            problems.push(misspelling(good));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::ETH_TRANSPORTS;

    #[test]
    fn distances() {
        assert_eq!(osa_distance("udb", "ubd"), 1);
        assert_eq!(osa_distance("demon", "daemon"), 1);
        assert_eq!(osa_distance("damon", "daemon"), 1);
        assert_eq!(osa_distance("", "abc"), 3);
        assert_eq!(closest("demon", ETH_TRANSPORTS), Some("daemon"));
        assert_eq!(closest("damon", ETH_TRANSPORTS), Some("daemon"));
        assert_eq!(closest("deamon", ETH_TRANSPORTS), Some("daemon"));
        assert_eq!(closest("vdf", ETH_TRANSPORTS), Some("vde"));
        assert_eq!(closest("daemon", ETH_TRANSPORTS), None);
        assert_eq!(closest("xyzzy", ETH_TRANSPORTS), None);
    }
}
