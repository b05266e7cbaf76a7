//! From umlrun's options and the kernel's own words to the final command line: friendly options
//! become kernel words, every check runs, network words are mapped for the kernel at hand, and
//! the host workaround is decided. Nothing is created or started here.

use super::args::{self, Arg, Word};
use super::checks::{self, DiskAction};
use super::hostfix::{self, Decision, HostCpu, XstateFilter};
use super::kernel::Kernel;
use super::net::{self, Mapping, NetSpec};
use super::registry;
use super::{LaunchError, Problem, Result};
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

/// Something to make before boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    CreateCow { cow: PathBuf, backing: PathBuf },
    MkfsExt4 { image: PathBuf, size: String },
}

/// The prepared launch.
pub struct Plan {
    pub kernel: Kernel,
    /// The final kernel words (without `mconsole=notify:`, added at start).
    pub words: Vec<String>,
    pub actions: Vec<Action>,
    pub workaround: Decision,
    pub filter: Option<XstateFilter>,
    pub warnings: Vec<String>,
    /// Notes on what was changed (mappings), for the user.
    pub notes: Vec<String>,
    pub console: Console,
    pub uml_dir: PathBuf,
    pub umid: Option<String>,
    /// The user gave their own `mconsole=` word.
    pub user_mconsole: bool,
}

impl Plan {
    /// Where the mconsole socket will be (when the umid is known).
    pub fn expected_socket(&self) -> Option<PathBuf> {
        self.umid
            .as_ref()
            .map(|u| self.uml_dir.join(u).join("mconsole"))
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

fn next_free(used: &mut Vec<u32>) -> u32 {
    let n = (0..).find(|i| !used.contains(i)).unwrap();
    used.push(n);
    n
}

/// Builds and checks the launch. `host` is the host CPU (tests pass their own).
pub fn prepare(opts: &Options, host: &HostCpu) -> Result<Plan> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut actions = Vec::new();
    let user = args::parse_all(&opts.words);

    // Friendly options -> words.
    let mut extra: Vec<String> = Vec::new();
    let mut once = |name: &str, key: &str, v: &Option<String>, extra: &mut Vec<String>| {
        if let Some(v) = v {
            if args::value_of(&user, key).is_some() {
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
        .or_else(|| args::value_of(&user, "umid").map(str::to_string));
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
        } else if args::value_of(&user, "hostfs").is_some() {
            problems.push(Problem::new(
                "--hostfs and a hostfs= word are both given",
                "keep one of them",
            ));
        } else {
            let abs = h.canonicalize().unwrap_or_else(|_| h.clone());
            extra.push(format!("hostfs={}", abs.display()));
        }
    }
    let user_console = args::has_key_family(&user, "con");
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
    if !opts.reboot && !args::has_flag(&user, "noreboot") {
        extra.push("noreboot".into());
    }

    let mut all: Vec<Arg> = user.clone();
    all.extend(args::parse_all(&extra));

    // The command line alone.
    let (p, w) = checks::check_words(&all);
    problems.extend(p);
    warnings.extend(w);

    let kernel = Kernel::find(opts.kernel.as_deref())?;

    // Memory: a default big enough for a guest plus the COW bitmaps the kernel keeps in RAM.
    if args::value_of(&all, "mem").is_none() {
        let bitmaps: u64 = all
            .iter()
            .filter_map(|a| match &a.word {
                Word::Ubd(u) => Some(checks::bitmap_bytes(u)),
                _ => None,
            })
            .sum();
        let extra = if bitmaps < 1 << 20 {
            0
        } else {
            bitmaps.div_ceil(1 << 20)
        };
        let mib = 128 + extra;
        all.push(Arg::parse(&format!("mem={mib}M")));
    }

    // Files and sockets.
    let transports = kernel.transports();
    let daemon_default = kernel.daemon_default_socket();
    let mut vec_used: Vec<u32> = all
        .iter()
        .filter_map(|a| match &a.word {
            Word::Vec(v) => Some(v.index),
            _ => None,
        })
        .collect();
    let only_words_ok = problems.is_empty();
    for a in all.iter_mut() {
        match a.word.clone() {
            Word::Ubd(u) if only_words_ok => {
                if new_images.iter().any(|i| Path::new(u.file()) == i) {
                    continue;
                }
                match checks::check_disk(a, &u) {
                    Ok(DiskAction::CreateCow { cow, backing }) => {
                        actions.push(Action::CreateCow { cow, backing })
                    }
                    Ok(DiskAction::None) => {}
                    Err(p) => problems.extend(p),
                }
            }
            Word::Eth(e) if only_words_ok => {
                if let Some(ep) = net::eth_endpoint(&e, &daemon_default) {
                    if let Err(p) = checks::check_switch(&a.text, &ep) {
                        problems.push(p);
                    }
                }
                match net::map_eth(&e, transports, e.index, &daemon_default) {
                    Mapping::Keep => {}
                    Mapping::Vector(w) => {
                        let n = if vec_used.contains(&e.index) {
                            next_free(&mut vec_used)
                        } else {
                            vec_used.push(e.index);
                            e.index
                        };
                        let w = match net::map_eth(&e, transports, n, &daemon_default) {
                            Mapping::Vector(w) => w,
                            _ => w,
                        };
                        notes.push(format!(
                            "this kernel has no `{}` transport: `{}` becomes `{w}` (the guest \
                             sees a vector interface; it needs vde_plug in PATH)",
                            e.transport, a.text
                        ));
                        if super::kernel::which("vde_plug").is_none() {
                            warnings.push(
                                "vde_plug is not in PATH; the kernel's vde vector transport \
                                 starts it (Debian package vdeplug)"
                                    .into(),
                            );
                        }
                        *a = Arg::parse(&w);
                    }
                    Mapping::Unsupported(p) => problems.push(p),
                }
            }
            Word::Vec(v) if only_words_ok => {
                if let Some(ep) = net::vec_endpoint(&v) {
                    if let Err(p) = checks::check_switch(&a.text, &ep) {
                        problems.push(p);
                    }
                }
            }
            _ => {}
        }
    }
    let uml_dir = registry::uml_dir(args::value_of(&all, "uml_dir"));
    if let Some(u) = &umid {
        if let Err(p) = checks::check_umid(u, &uml_dir) {
            problems.push(p);
        }
    }
    let user_mconsole = args::value_of(&all, "mconsole").is_some();
    if user_mconsole {
        warnings.push(
            "a mconsole= word is given: umlrun does not get the readiness notice, and finds the \
             mconsole in the umid directory"
                .into(),
        );
    }

    // The host workaround.
    let workaround = hostfix::decide(
        opts.host_workaround,
        host,
        kernel.version(),
        kernel.machine(),
    );
    let mut filter = None;
    match &workaround {
        Decision::Apply(_) => {
            filter = Some(XstateFilter::new()?);
            if args::value_of(&all, "GLIBC_TUNABLES").is_some() {
                warnings.push(format!(
                    "a GLIBC_TUNABLES= word is given; make sure it contains the hwcaps of the \
                     workaround: {}",
                    hostfix::GLIBC_TUNABLES_WORD
                ));
            } else {
                all.push(Arg::parse(hostfix::GLIBC_TUNABLES_WORD));
            }
        }
        Decision::Impossible(why) => warnings.push(why.clone()),
        Decision::Skip(_) => {}
    }

    if !problems.is_empty() {
        return Err(LaunchError::refused(problems));
    }
    Ok(Plan {
        kernel,
        words: all.into_iter().map(|a| a.text).collect(),
        actions,
        workaround,
        filter,
        warnings,
        notes,
        console,
        uml_dir,
        umid,
        user_mconsole,
    })
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::CreateCow { cow, backing } => write!(
                f,
                "the COW file {} over {}",
                cow.display(),
                backing.display()
            ),
            Action::MkfsExt4 { image, size } => {
                write!(f, "the empty ext4 image {} ({size})", image.display())
            }
        }
    }
}

/// Carries out the plan's actions: COW files (with the COW library) and empty ext4 images.
pub fn make_files(actions: &[Action]) -> Result<()> {
    for a in actions {
        match a {
            Action::CreateCow { cow, backing } => {
                uml_cow::create(cow, backing, &Default::default())?;
            }
            Action::MkfsExt4 { image, size } => {
                let mkfs = super::kernel::which("mkfs.ext4")
                    .or_else(|| {
                        ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]
                            .into_iter()
                            .map(PathBuf::from)
                            .find(|p| p.exists())
                    })
                    .ok_or_else(|| {
                        LaunchError::io(
                            image,
                            "make an ext4 image (mkfs.ext4 not found; Debian package e2fsprogs)",
                            std::io::Error::from(std::io::ErrorKind::NotFound),
                        )
                    })?;
                let out = std::process::Command::new(mkfs)
                    .arg("-q")
                    .arg(image)
                    .arg(size)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(|e| LaunchError::io(image, "run mkfs.ext4 for", e))?;
                if !out.status.success() {
                    let _ = std::fs::remove_file(image);
                    return Err(LaunchError::io(
                        image,
                        "make an ext4 image",
                        std::io::Error::other(
                            String::from_utf8_lossy(&out.stderr).trim().to_string(),
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
