//! umlrun's own options (`--mem`, `--disk`, `--net`, `--console`, ...) and the kernel words they
//! become.

use super::args::{self, Arg, Word};
use super::checks;
use super::files::Action;
use super::hostfix;
use super::net::NetSpec;
use super::Problem;
use std::path::{Path, PathBuf};

/// Where the guest's first console goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// `con=null con0=fd:0,fd:1`: console 0 on umlrun's stdin and stdout.
    Stdio,
    /// `con=null`: no console; stdin is /dev/null.
    Null,
}

/// umlrun's options (everything but the kernel's own words is optional).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub kernel: Option<PathBuf>,
    pub mem: Option<String>,
    pub umid: Option<String>,
    /// `--disk COW,BACKING` or `--disk IMAGE`.
    pub disks: Vec<String>,
    /// `--new-disk IMAGE,SIZE`: an empty ext4 image, made if missing.
    pub new_disks: Vec<String>,
    /// `--net vde:DIR` or `--net daemon:CTL`.
    pub nets: Vec<String>,
    pub hostfs: Option<PathBuf>,
    pub console: Option<Console>,
    pub host_workaround: hostfix::Mode,
    /// Let a guest reboot (no `noreboot`).
    pub reboot: bool,
    /// The kernel's own words, verbatim.
    pub words: Vec<String>,
}

/// A timeout in seconds given on a command line: a finite number from 0.5 to one day.
pub fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.5..=86400.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a number of seconds from 0.5 to 86400"
        )),
    }
}

/// The COW file `--disk IMAGE` puts next to the image: `<stem>-<umid>.cow`, or `<stem>.cow`.
pub fn cow_next_to(image: &Path, umid: Option<&str>) -> PathBuf {
    let stem = image
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "disk".into());
    let name = match umid {
        Some(u) => format!("{stem}-{u}.cow"),
        None => format!("{stem}.cow"),
    };
    image.with_file_name(name)
}

/// The lowest number not in `used`, which it is then added to.
pub(crate) fn next_free(used: &mut Vec<u32>) -> u32 {
    let n = (0..).find(|i| !used.contains(i)).unwrap();
    used.push(n);
    n
}

/// umlrun's options as kernel words.
pub(crate) struct Translated {
    /// Words to add after the user's own.
    pub extra: Vec<String>,
    pub console: Console,
    /// The machine id, from `--umid` or the user's `umid=` word.
    pub umid: Option<String>,
    /// Images `--new-disk` will make: their `ubd` words are not checked as existing disks.
    pub new_images: Vec<PathBuf>,
}

/// Turns `opts` into kernel words next to the user's words `user`. Mistakes go to `problems`,
/// files to make to `actions`.
pub(crate) fn translate(
    opts: &Options,
    user: &[Arg],
    problems: &mut Vec<Problem>,
    actions: &mut Vec<Action>,
) -> Translated {
    let mut extra: Vec<String> = Vec::new();
    let mut once = |name: &str, key: &str, v: &Option<String>, extra: &mut Vec<String>| {
        if let Some(v) = v {
            if args::value_of(user, key).is_some() {
                problems.push(Problem::new(
                    format!("{name} {v} and a {key}= word are both given"),
                    format!("keep one of them (the {key}= word or {name})"),
                ));
            } else {
                extra.push(format!("{key}={v}"));
            }
        }
    };
    once("--mem", "mem", &opts.mem, &mut extra);
    once("--umid", "umid", &opts.umid, &mut extra);
    let umid = opts
        .umid
        .clone()
        .or_else(|| args::value_of(user, "umid").map(str::to_string));
    let mut ubd_used: Vec<u32> = user
        .iter()
        .filter_map(|a| match &a.word {
            Word::Ubd(u) => Some(u.index),
            _ => None,
        })
        .collect();
    let mut new_images: Vec<PathBuf> = Vec::new();
    for d in &opts.disks {
        if Path::new(d).exists() {
            // One existing file whose name has a separator in it.
            if let Err(e) = checks::check_plain_path("--disk", Path::new(d)) {
                problems.push(e);
                continue;
            }
        }
        let parts: Vec<&str> = d.split(',').collect();
        let (cow, backing) = match parts.as_slice() {
            [img] => (
                cow_next_to(Path::new(img), umid.as_deref()),
                PathBuf::from(img),
            ),
            [cow, backing] if !cow.is_empty() && !backing.is_empty() => {
                (PathBuf::from(cow), PathBuf::from(backing))
            }
            _ => {
                problems.push(Problem::new(
                    format!("--disk {d}: expected COW,BACKING or IMAGE"),
                    "write --disk h1.cow,rootfs.ext4 or --disk rootfs.ext4 (the COW file is then \
                     made next to the image); paths cannot contain `,` or `:`",
                ));
                continue;
            }
        };
        let mut ok = true;
        for p in [&cow, &backing] {
            if let Err(e) = checks::check_plain_path("--disk", p) {
                problems.push(e);
                ok = false;
            }
        }
        if ok {
            let n = next_free(&mut ubd_used);
            extra.push(format!("ubd{n}={},{}", cow.display(), backing.display()));
        }
    }
    for d in &opts.new_disks {
        let Some((img, size)) = d.rsplit_once(',') else {
            problems.push(Problem::new(
                format!("--new-disk {d}: expected IMAGE,SIZE"),
                "write e.g. --new-disk data.ext4,64M",
            ));
            continue;
        };
        let img = PathBuf::from(img);
        if let Err(e) = checks::check_plain_path("--new-disk", &img) {
            problems.push(e);
            continue;
        }
        if !img.exists() {
            match args::parse_size(size) {
                Some(n) if n >= 1 << 20 => {
                    actions.push(Action::MkfsExt4 {
                        image: img.clone(),
                        size: size.to_string(),
                    });
                    new_images.push(img.clone());
                }
                _ => {
                    problems.push(Problem::new(
                        format!("--new-disk {d}: `{size}` is not a size of 1M or more"),
                        "give the size with a unit, e.g. --new-disk data.ext4,64M",
                    ));
                    continue;
                }
            }
        }
        let n = next_free(&mut ubd_used);
        extra.push(format!("ubd{n}={}", img.display()));
    }
    let mut eth_used: Vec<u32> = user
        .iter()
        .filter_map(|a| match &a.word {
            Word::Eth(e) => Some(e.index),
            _ => None,
        })
        .collect();
    for n in &opts.nets {
        match NetSpec::parse(n) {
            Ok(spec) => match checks::check_plain_path("--net", spec.path()) {
                Ok(()) => {
                    let i = next_free(&mut eth_used);
                    extra.push(spec.to_word(i));
                }
                Err(e) => problems.push(e),
            },
            Err(e) => problems.push(e),
        }
    }
    if let Some(h) = &opts.hostfs {
        if let Err(e) = checks::check_plain_path("--hostfs", h) {
            problems.push(e);
        } else if !h.is_dir() {
            problems.push(Problem::new(
                format!("--hostfs {}: not a directory", h.display()),
                "name the host directory the guest may mount with `mount -t hostfs none /mnt`",
            ));
        } else if args::value_of(user, "hostfs").is_some() {
            problems.push(Problem::new(
                "--hostfs and a hostfs= word are both given",
                "keep one of them",
            ));
        } else {
            let abs = h.canonicalize().unwrap_or_else(|_| h.clone());
            extra.push(format!("hostfs={}", abs.display()));
        }
    }
    let user_console = args::has_key_family(user, "con");
    let console = match (opts.console, user_console) {
        (Some(_), true) => {
            problems.push(Problem::new(
                "--console and con= words are both given",
                "keep one of them",
            ));
            Console::Stdio
        }
        (Some(Console::Null), false) => {
            extra.push("con=null".into());
            Console::Null
        }
        (Some(Console::Stdio), false) | (None, false) => {
            extra.push("con=null".into());
            extra.push("con0=fd:0,fd:1".into());
            Console::Stdio
        }
        // The user's own con= words: console 0 may read stdin.
        (None, true) => Console::Stdio,
    };
    if !opts.reboot && !args::has_flag(user, "noreboot") {
        extra.push("noreboot".into());
    }
    Translated {
        extra,
        console,
        umid,
        new_images,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_secs("2.5"), Ok(2.5));
        for bad in ["0.1", "nan", "inf", "x", "90000"] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cow_names_next_to_the_image() {
        assert_eq!(
            cow_next_to(Path::new("/srv/rootfs.ext4"), Some("h1")),
            Path::new("/srv/rootfs-h1.cow")
        );
        assert_eq!(
            cow_next_to(Path::new("rootfs.ext4"), None),
            Path::new("rootfs.cow")
        );
    }
}
