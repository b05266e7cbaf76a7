//! Checks before boot. Each finding names the mistake and the fix; any finding stops the launch
//! before the kernel starts.
//!
//! * [`check_words`]: the command line alone: misspelled parameters and transports (`udb`,
//!   `demon`, `damon`, ...), spaces inside a sub-parameter list, words given twice, `mem=`.
//! * [`check_disk`]: a `ubd` word's files: paths with `,` or `:`, a missing image or backing
//!   file, a COW whose backing file changed size or mtime, files a running guest holds.
//! * [`check_switch`]: a network word's switch socket exists and answers.
//! * [`check_umid`]: the machine id is free and its mconsole socket path fits.

use super::args::{Arg, Ubd, Word};
use super::net::{self, Endpoint, ETH_TRANSPORTS, VEC_TRANSPORTS};
use super::Problem;
use uml_cow::{self as cow, CowError, CowFile, HeaderError, LockKind};
use std::collections::HashMap;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

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

/// Damerau-Levenshtein distance (optimal string alignment).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate `word` is most likely a misspelling of, if it is close enough (one edit for
/// short names, two for names of 6 letters or more) and not itself a candidate.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if word.is_empty() || candidates.contains(&word) {
        return None;
    }
    let limit = |c: &str| if c.len() >= 6 { 2 } else { 1 };
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= limit(c) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Splits `eth0`, `ubd1r`, `con` into the leading letters and the rest.
fn split_family(key: &str) -> (&str, &str) {
    let n = key
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .unwrap_or(key.len());
    (&key[..n], &key[n..])
}

fn looks_like_path(w: &str) -> bool {
    !w.contains('=')
        && (w.contains('/')
            || [
                ".cow", ".ext4", ".ext3", ".ext2", ".img", ".raw", ".qcow2", "ctl",
            ]
            .iter()
            .any(|s| w.ends_with(s)))
}

fn is_device_word(a: &Arg) -> bool {
    match &a.word {
        Word::Ubd(_) | Word::Eth(_) | Word::Vec(_) => true,
        Word::KeyValue { key, .. } => {
            let (fam, rest) = split_family(key);
            (fam == "con" || fam == "ssl") && rest.chars().all(|c| c.is_ascii_digit())
        }
        Word::Flag(_) => false,
    }
}

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
            Word::KeyValue { key, value } if key == "mem" => match super::args::parse_size(value) {
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

fn check_spaces(a: &Arg, next: Option<&str>, prev: Option<&Arg>, problems: &mut Vec<Problem>) {
    let t = &a.text;
    if t.chars().any(char::is_whitespace) && (is_device_word(a) || t.contains(',')) {
        problems.push(Problem::new(
            format!("`{t}` has a space inside its list of sub-parameters"),
            format!(
                "write it without spaces: `{}`",
                t.split_whitespace().collect::<String>()
            ),
        ));
        return;
    }
    if t == "=" || t.starts_with('=') {
        problems.push(Problem::new(
            format!("`{t}`: a word starts with `=` (a space before the `=`?)"),
            "write KEY=VALUE as one word without spaces, e.g. ubd0=h1.cow,rootfs.ext4",
        ));
        return;
    }
    if t.ends_with('=') && is_device_word(a) {
        if let Some(n) = next {
            problems.push(Problem::new(
                format!("`{t}` is followed by a separate word `{n}` (a space after the `=`)"),
                format!("write it as one word: `{t}{n}`"),
            ));
        }
        return;
    }
    if is_device_word(a)
        && (t.ends_with(',') || (matches!(a.word, Word::Ubd(_)) && t.ends_with(':')))
    {
        match next {
            Some(n) if !n.contains('=') || looks_like_path(n) => problems.push(Problem::new(
                format!("`{t}` is followed by a separate word `{n}`: there is a space after the comma"),
                format!("write it as one word, without spaces: `{t}{n}`"),
            )),
            _ => problems.push(Problem::new(
                format!("`{t}` ends with a separator (the next part is missing, or separated by a space)"),
                "write the whole list as one word without spaces, e.g. ubd0=h1.cow,rootfs.ext4",
            )),
        }
        return;
    }
    if t.starts_with(',') {
        let joined = prev.map(|p| format!("{}{t}", p.text));
        problems.push(Problem::new(
            format!("`{t}` starts with a comma: there is a space before the comma"),
            match joined {
                Some(j) => format!("write it as one word, without spaces: `{j}`"),
                None => "remove the space before the comma".to_string(),
            },
        ));
    }
}

fn check_spelling(a: &Arg, problems: &mut Vec<Problem>) {
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

/// What a `ubd` word needs before boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskAction {
    /// Nothing.
    None,
    /// Create the COW file over the backing file.
    CreateCow { cow: PathBuf, backing: PathBuf },
}

/// The size of the COW bitmap the kernel keeps in guest memory, if known.
pub fn bitmap_bytes(u: &Ubd) -> u64 {
    if let Ok(c) = CowFile::open(Path::new(u.file()), false) {
        return c.geometry.bitmap_len;
    }
    u.backing()
        .and_then(|b| std::fs::metadata(b).ok())
        .map(|m| m.len().div_ceil(512).div_ceil(8))
        .unwrap_or(0)
}

fn tilde_hint(p: &str) -> String {
    if p.starts_with('~') {
        format!(
            " (`~` was not expanded: the shell does not expand it after `,`; write the full \
             path, e.g. {})",
            p.replacen(
                '~',
                &std::env::var("HOME").unwrap_or_else(|_| "$HOME".into()),
                1
            )
        )
    } else {
        String::new()
    }
}

fn exists(p: &str) -> bool {
    Path::new(p).symlink_metadata().is_ok()
}

/// Checks a `ubd` word's files.
pub fn check_disk(a: &Arg, u: &Ubd) -> Result<DiskAction, Vec<Problem>> {
    let mut problems = Vec::new();
    // A path with `,` or `:` that the kernel would split.
    for i in 0..u.fields.len() {
        for j in i + 1..u.fields.len() {
            let joined = u.joined(i, j);
            if !u.fields[i].is_empty() && !exists(&u.fields[i]) && exists(&joined) {
                problems.push(Problem::new(
                    format!(
                        "`{}`: the path {joined} contains `{}`, and the kernel splits ubd values \
                         at every `,` and `:`",
                        a.text, u.seps[i]
                    ),
                    format!(
                        "rename it, or make a symlink without `,` and `:` (e.g. ln -s '{joined}' \
                         disk{}.img) and name that",
                        u.index
                    ),
                ));
                return Err(problems);
            }
        }
    }
    if u.fields.len() > 3 || u.file().is_empty() {
        return Err(problems); // reported by check_words
    }
    let first = u.file();
    let given_backing = u.backing();
    let d_flag = u.has_flag('d');
    match (exists(first), given_backing) {
        (false, Some(b)) => {
            // A new COW over `b`.
            if !exists(b) {
                let hint = tilde_hint(b);
                problems.push(Problem::new(
                    format!("`{}`: the backing file {b} does not exist{hint}", a.text),
                    "name an existing disk image as the backing file (the second name in \
                     ubdN=COW,BACKING)",
                ));
                return Err(problems);
            }
            if let Ok(c) = CowFile::open(Path::new(b), false) {
                let _ = c;
                problems.push(Problem::new(
                    format!(
                        "`{}`: {b} is itself a COW file, and {first} does not exist",
                        a.text
                    ),
                    format!(
                        "a COW file cannot be the backing file of another; to boot it, name it \
                         alone: ubd{}={b} (if the names are swapped, the COW file comes first)",
                        u.unit
                    ),
                ));
                return Err(problems);
            }
            if let Some(p) = locked(Path::new(b), LockKind::Read) {
                problems.push(Problem::new(
                    format!(
                        "`{}`: the backing file {b} is in use read-write ({p})",
                        a.text
                    ),
                    "stop the guest that runs directly on the image before layering a COW over it",
                ));
                return Err(problems);
            }
            Ok(DiskAction::CreateCow {
                cow: PathBuf::from(first),
                backing: PathBuf::from(b),
            })
        }
        (false, None) => {
            let hint = tilde_hint(first);
            problems.push(Problem::new(
                format!("`{}`: the disk image {first} does not exist{hint}", a.text),
                format!(
                    "name an existing image, or put a new COW file over an image: ubd{}=NEW.cow,IMAGE",
                    u.unit
                ),
            ));
            Err(problems)
        }
        (true, _) if Path::new(first).is_dir() => {
            problems.push(Problem::new(
                format!("`{}`: {first} is a directory, not a disk image", a.text),
                "name a disk image file (a directory can be shared with --hostfs DIR)",
            ));
            Err(problems)
        }
        (true, backing) if !d_flag => match CowFile::open(Path::new(first), false) {
            Ok(c) => check_existing_cow(a, u, &c, backing).map(|()| DiskAction::None),
            Err(CowError::Header {
                source: HeaderError::NotCow { .. } | HeaderError::Short { .. },
                ..
            }) => {
                if let Some(b) = backing {
                    let swapped = CowFile::open(Path::new(b), false).is_ok();
                    problems.push(Problem::new(
                        format!(
                            "`{}`: {first} is not a COW file, but a backing file ({b}) is given",
                            a.text
                        ),
                        if swapped {
                            format!("the names are swapped: the COW file comes first: ubd{}={b},{first}", u.unit)
                        } else {
                            format!(
                                "to boot the image itself write ubd{}={first}; for a COW over it \
                                 name a new file first: ubd{}=NEW.cow,{first}",
                                u.unit, u.unit
                            )
                        },
                    ));
                    return Err(problems);
                }
                if let Some(p) = locked(Path::new(first), LockKind::Write) {
                    problems.push(Problem::new(
                        format!("`{}`: {first} is in use ({p})", a.text),
                        "stop the other guest first, or give this guest its own COW file over the \
                         image: ubdN=NEW.cow,IMAGE",
                    ));
                    return Err(problems);
                }
                Ok(DiskAction::None)
            }
            Err(e) => {
                problems.push(Problem::new(format!("`{}`: {e}", a.text), e.hint()));
                Err(problems)
            }
        },
        (true, _) => Ok(DiskAction::None),
    }
}

fn locked(path: &Path, kind: LockKind) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    cow::sys::probe_lock(&f, kind)
        .ok()
        .flatten()
        .map(|h| h.to_string())
}

/// An existing COW file: its backing file must exist and still match; the file must be free.
fn check_existing_cow(
    a: &Arg,
    u: &Ubd,
    c: &CowFile,
    given: Option<&str>,
) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let first = u.file();
    let recorded = c.backing_path();
    if let Ok(Some(holder)) = c.lock_holder(LockKind::Write) {
        problems.push(Problem::new(
            format!("`{}`: the COW file {first} is in use ({holder})", a.text),
            "stop the guest that uses it (umlrun --list shows the running guests), or give this \
             guest its own COW file",
        ));
        return Err(problems);
    }
    let mut backing = recorded.clone();
    if let Some(g) = given {
        let gp = Path::new(g);
        if Path::new(g) != recorded.as_path() {
            match (std::fs::metadata(gp), std::fs::metadata(&recorded)) {
                (Err(_), _) => {
                    problems.push(Problem::new(
                        format!(
                            "`{}`: the backing file {g} does not exist{} (the COW file records {})",
                            a.text,
                            tilde_hint(g),
                            recorded.display()
                        ),
                        format!(
                            "name the recorded backing file: ubd{}={first},{}",
                            u.unit,
                            recorded.display()
                        ),
                    ));
                    return Err(problems);
                }
                (Ok(gm), Ok(rm)) if same_file(&gm, &rm) => {}
                (Ok(_), _) => {
                    // The kernel switches to `g` if it matches the header, else silently uses
                    // the recorded file.
                    let info = match c.inspect_backing(Some(gp)) {
                        Ok(i) => i,
                        Err(e) => {
                            problems.push(Problem::new(format!("`{}`: {e}", a.text), e.hint()));
                            return Err(problems);
                        }
                    };
                    if let Err(e) = info.validate(&c.path, &c.header) {
                        problems.push(Problem::new(
                            format!(
                                "`{}`: {first} was made over {}, and {g} does not match it ({e}); \
                                 the kernel would silently use {} instead",
                                a.text,
                                recorded.display(),
                                recorded.display()
                            ),
                            format!(
                                "name the recorded backing file, or if {g} is the same image, \
                                 record it with `umlcow rebase {first} {g}`",
                            ),
                        ));
                        return Err(problems);
                    }
                    if !c.header.is_canonical() && c.header.version.number() < 3 {
                        problems.push(Problem::new(
                            format!(
                                "`{}`: the kernel would switch the v{} COW file {first} to {g} by \
                                 rewriting its header as v3, which corrupts its bitmap",
                                a.text,
                                c.header.version.number()
                            ),
                            format!("convert it first: `umlcow convert {first}`"),
                        ));
                        return Err(problems);
                    }
                    backing = gp.to_path_buf();
                }
            }
        }
    }
    if !backing.exists() {
        problems.push(Problem::new(
            format!(
                "`{}`: the backing file {} recorded in the COW file {first} does not exist",
                a.text,
                backing.display()
            ),
            format!(
                "if the image moved, record its new place with `umlcow rebase {first} NEW_PATH` \
                 (or name it: ubd{}={first},NEW_PATH)",
                u.unit
            ),
        ));
        return Err(problems);
    }
    let info = c.inspect_backing(Some(&backing)).and_then(|i| {
        i.validate(&c.path, &c.header)?;
        Ok(i)
    });
    if let Err(e) = info {
        let fix = match &e {
            CowError::MtimeMismatch { .. } => format!(
                "if the content of {} is unchanged, `umlcow rebase --restore-mtime {first}` sets \
                 its mtime back, or `umlcow rebase --adopt-mtime {first}` records the new one; \
                 if the image really changed, the COW file no longer fits it",
                backing.display()
            ),
            CowError::SizeMismatch { .. } => format!(
                "this is not the image {first} was made over (or it was resized); name the right \
                 one with `umlcow rebase {first} PATH`"
            ),
            other => other.hint(),
        };
        problems.push(Problem::new(format!("`{}`: {e}", a.text), fix));
        return Err(problems);
    }
    if let Some(p) = locked(&backing, LockKind::Read) {
        problems.push(Problem::new(
            format!(
                "`{}`: the backing file {} is in use read-write ({p})",
                a.text,
                backing.display()
            ),
            "stop the guest that runs directly on the image",
        ));
        return Err(problems);
    }
    Ok(())
}

fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Why a switch socket is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketState {
    Answers,
    Missing,
    NotASocket,
    /// It exists but nobody accepts connections (a stale socket).
    Refused,
    Other(String),
}

/// Connects (non-blocking) to the stream socket `path` and closes at once.
pub fn probe_stream_socket(path: &Path) -> SocketState {
    match std::fs::metadata(path) {
        Err(_) => return SocketState::Missing,
        Ok(m) if !m.file_type().is_socket() => return SocketState::NotASocket,
        Ok(_) => {}
    }
    let addr = match std::os::unix::net::SocketAddr::from_pathname(path) {
        Ok(a) => a,
        Err(e) => return SocketState::Other(e.to_string()),
    };
    let _ = addr;
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // SAFETY: a zeroed sockaddr_un is valid; we copy at most sun_path.len() - 1 bytes.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= sa.sun_path.len() {
        return SocketState::Other("path too long for a unix socket".into());
    }
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in sa.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: plain socket calls on a descriptor we own and close.
    unsafe {
        let fd = libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return SocketState::Other(std::io::Error::last_os_error().to_string());
        }
        let r = libc::connect(
            fd,
            &sa as *const libc::sockaddr_un as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        );
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if r == 0 {
            return SocketState::Answers;
        }
        match err.raw_os_error() {
            Some(libc::EINPROGRESS) | Some(libc::EAGAIN) => SocketState::Answers,
            Some(libc::ECONNREFUSED) => SocketState::Refused,
            Some(libc::ENOENT) => SocketState::Missing,
            _ => SocketState::Other(err.to_string()),
        }
    }
}

/// Checks that the switch a network word names exists and answers.
pub fn check_switch(word: &str, ep: &Endpoint) -> Result<(), Problem> {
    let (path, start) = match ep {
        Endpoint::Vde(p) => (p.clone(), format!("vde_switch -d -s {}", p.display())),
        Endpoint::Daemon(p) => (
            p.clone(),
            match p.file_name() {
                Some(n) if n == "ctl" => format!(
                    "vde_switch -d -s {}",
                    p.parent().unwrap_or(Path::new(".")).display()
                ),
                _ => format!("uml_switch -unix {} </dev/null &", p.display()),
            },
        ),
    };
    let text = path.to_string_lossy();
    if text.contains(',') {
        return Err(Problem::new(
            format!("`{word}`: the switch path {text} contains `,`, which separates the transport's options"),
            "start the switch in a directory whose path has no `,` or `:`",
        ));
    }
    // A vde switch is named by its directory (DIR/ctl) or its control socket.
    let sock = match ep {
        Endpoint::Vde(p) if p.is_dir() => p.join("ctl"),
        _ => path.clone(),
    };
    match probe_stream_socket(&sock) {
        SocketState::Answers => Ok(()),
        SocketState::Missing => {
            let what = if matches!(ep, Endpoint::Vde(p) if p.is_dir()) {
                format!(
                    "`{word}`: {} has no control socket `ctl`: no switch runs there",
                    path.display()
                )
            } else {
                format!("`{word}`: the switch socket {} does not exist", path.display())
            };
            Err(Problem::new(what, format!("start the switch first: `{start}`")))
        }
        SocketState::NotASocket => Err(Problem::new(
            format!("`{word}`: {} is not a switch socket", sock.display()),
            match ep {
                Endpoint::Vde(_) => "name the switch directory (the one given to vde_switch -s)".to_string(),
                Endpoint::Daemon(_) => "name the switch's control socket (vde_switch -s DIR gives DIR/ctl; uml_switch -unix CTL gives CTL)".to_string(),
            },
        )),
        SocketState::Refused => Err(Problem::new(
            format!(
                "`{word}`: the switch socket {} exists but no switch answers (left behind by a \
                 switch that stopped)",
                sock.display()
            ),
            format!("start the switch again: `{start}`"),
        )),
        SocketState::Other(e) => Err(Problem::new(
            format!("`{word}`: cannot connect to the switch socket {}: {e}", sock.display()),
            "check the path and its permissions",
        )),
    }
}

/// The uml_dir the kernel will use (`uml_dir=` or `~/.uml`), with `~` expanded.
pub fn uml_dir(arg: Option<&str>) -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match arg {
        Some(d) if d.starts_with('~') => {
            let rest = d.trim_start_matches('~').trim_start_matches('/');
            home.unwrap_or_else(|| PathBuf::from("/")).join(rest)
        }
        Some(d) => PathBuf::from(d),
        None => home.unwrap_or_else(|| PathBuf::from("/")).join(".uml"),
    }
}

/// True if a process `pid` exists.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The pid recorded in `<uml_dir>/<umid>/pid`, if that process is alive.
pub fn running_pid(dir: &Path, umid: &str) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join(umid).join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    pid_alive(pid).then_some(pid)
}

/// Checks a machine id: its length, its characters, whether a guest runs under it, and whether
/// the mconsole socket path fits a unix socket address.
pub fn check_umid(umid: &str, dir: &Path) -> Result<(), Problem> {
    if umid.is_empty() || umid.len() > 63 || umid.contains('/') {
        return Err(Problem::new(
            format!("umid `{umid}`: a machine id has 1 to 63 characters and no `/`"),
            "choose a short name, e.g. umid=h1",
        ));
    }
    if let Some(pid) = running_pid(dir, umid) {
        return Err(Problem::new(
            format!(
                "umid `{umid}` is already used by a running guest (pid {pid}, {})",
                dir.join(umid).display()
            ),
            format!("choose another umid, or stop that guest first: `umlrun --stop {umid}`"),
        ));
    }
    let sock = dir.join(umid).join("mconsole");
    if sock.as_os_str().len() >= 108 {
        return Err(Problem::new(
            format!(
                "the mconsole socket {} is longer than a unix socket address allows (107 bytes)",
                sock.display()
            ),
            "use a shorter umid, or uml_dir=SHORT_DIR",
        ));
    }
    Ok(())
}

/// Refuses a path (given to a friendly option) that contains `,` or `:`.
pub fn check_plain_path(option: &str, p: &Path) -> Result<(), Problem> {
    let s = p.to_string_lossy();
    if let Some(c) = s.chars().find(|c| *c == ',' || *c == ':') {
        return Err(Problem::new(
            format!(
                "{option} {s}: the path contains `{c}`, which the kernel treats as a separator"
            ),
            "rename it, or reach it through a symlink whose path has no `,` or `:`",
        ));
    }
    Ok(())
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
    fn distances() {
        assert_eq!(distance("udb", "ubd"), 1);
        assert_eq!(distance("demon", "daemon"), 1);
        assert_eq!(distance("damon", "daemon"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(closest("demon", ETH_TRANSPORTS), Some("daemon"));
        assert_eq!(closest("damon", ETH_TRANSPORTS), Some("daemon"));
        assert_eq!(closest("deamon", ETH_TRANSPORTS), Some("daemon"));
        assert_eq!(closest("vdf", ETH_TRANSPORTS), Some("vde"));
        assert_eq!(closest("daemon", ETH_TRANSPORTS), None);
        assert_eq!(closest("xyzzy", ETH_TRANSPORTS), None);
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

    #[test]
    fn umid_rules() {
        let t = tempfile::tempdir().unwrap();
        assert!(check_umid("h1", t.path()).is_ok());
        assert!(check_umid("a/b", t.path()).is_err());
        assert!(check_umid(&"x".repeat(64), t.path()).is_err());
        // A live pid (ours) makes the umid busy; a dead one does not.
        std::fs::create_dir_all(t.path().join("busy")).unwrap();
        std::fs::write(t.path().join("busy/pid"), std::process::id().to_string()).unwrap();
        let p = check_umid("busy", t.path()).unwrap_err();
        assert!(p.fix.contains("umlrun --stop busy"), "{p}");
        std::fs::create_dir_all(t.path().join("stale")).unwrap();
        std::fs::write(t.path().join("stale/pid"), "2147483646").unwrap();
        assert!(check_umid("stale", t.path()).is_ok());
        let long = PathBuf::from(format!("/tmp/{}", "d".repeat(100)));
        assert!(check_umid("h1", &long).is_err());
    }

    #[test]
    fn paths_with_separators() {
        assert!(check_plain_path("--disk", Path::new("/tmp/a,b/x.img")).is_err());
        assert!(check_plain_path("--disk", Path::new("/tmp/a:b")).is_err());
        assert!(check_plain_path("--disk", Path::new("/tmp/ab")).is_ok());
        let t = tempfile::tempdir().unwrap();
        let odd = t.path().join("my,disk.img");
        std::fs::write(&odd, vec![0u8; 1 << 16]).unwrap();
        let w = format!("ubd0={}", odd.display());
        let a = crate::args::Arg::parse(&w);
        let Word::Ubd(u) = &a.word else { panic!() };
        let p = check_disk(&a, u).unwrap_err();
        assert!(p[0].what.contains("contains `,`"), "{:?}", p);
    }

    #[test]
    fn switch_sockets() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("sw");
        let e = check_switch("eth0=vde,x", &Endpoint::Vde(dir.clone())).unwrap_err();
        assert!(
            e.what.contains("does not exist") && e.fix.contains("vde_switch"),
            "{e}"
        );
        std::fs::create_dir(&dir).unwrap();
        let e = check_switch("eth0=vde,x", &Endpoint::Vde(dir.clone())).unwrap_err();
        assert!(e.what.contains("no switch runs there"), "{e}");
        let l = std::os::unix::net::UnixListener::bind(dir.join("ctl")).unwrap();
        assert!(check_switch("w", &Endpoint::Vde(dir.clone())).is_ok());
        assert!(check_switch("w", &Endpoint::Daemon(dir.join("ctl"))).is_ok());
        drop(l);
        let e = check_switch("w", &Endpoint::Vde(dir.clone())).unwrap_err();
        assert!(e.what.contains("no switch answers"), "{e}");
        std::fs::write(t.path().join("file"), b"x").unwrap();
        let e = check_switch("w", &Endpoint::Daemon(t.path().join("file"))).unwrap_err();
        assert!(e.what.contains("not a switch socket"), "{e}");
    }

    #[test]
    fn disks() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().canonicalize().unwrap();
        let img = d.join("rootfs.img");
        std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
        let parse = |w: String| {
            let a = crate::args::Arg::parse(&w);
            let Word::Ubd(u) = a.word.clone() else {
                panic!()
            };
            (a, u)
        };
        // New COW: created by us.
        let cowp = d.join("h1.cow");
        let (a, u) = parse(format!("ubd0={},{}", cowp.display(), img.display()));
        assert_eq!(
            check_disk(&a, &u).unwrap(),
            DiskAction::CreateCow {
                cow: cowp.clone(),
                backing: img.clone()
            }
        );
        // Missing backing file.
        let (a, u) = parse(format!(
            "ubd0={},{}",
            cowp.display(),
            d.join("nope.img").display()
        ));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("does not exist"), "{p:?}");
        // Existing, valid COW.
        uml_cow::create(&cowp, &img, &Default::default()).unwrap();
        let (a, u) = parse(format!("ubd0={},{}", cowp.display(), img.display()));
        assert_eq!(check_disk(&a, &u).unwrap(), DiskAction::None);
        let (a, u) = parse(format!("ubd0={}", cowp.display()));
        assert_eq!(check_disk(&a, &u).unwrap(), DiskAction::None);
        // Swapped names.
        let (a, u) = parse(format!("ubd0={},{}", img.display(), cowp.display()));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(
            p[0].fix.contains("swapped") || p[0].fix.contains("name it alone"),
            "{p:?}"
        );
        // The backing file's mtime changed.
        let f = std::fs::File::options().write(true).open(&img).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(100))
            .unwrap();
        let (a, u) = parse(format!("ubd0={},{}", cowp.display(), img.display()));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("mtime"), "{p:?}");
        assert!(p[0].fix.contains("umlcow rebase"), "{p:?}");
        // ... or its size.
        f.set_len(2 << 20).unwrap();
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("size"), "{p:?}");
        assert!(p[0].fix.contains("umlcow rebase"), "{p:?}");
        // The recorded backing file is gone.
        std::fs::remove_file(&img).unwrap();
        let (a, u) = parse(format!("ubd0={}", cowp.display()));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("does not exist"), "{p:?}");
        assert!(p[0].fix.contains("umlcow rebase"), "{p:?}");
        // A missing image.
        let (a, u) = parse(format!("ubd1={}", d.join("none.img").display()));
        assert!(check_disk(&a, &u).is_err());
    }
}
