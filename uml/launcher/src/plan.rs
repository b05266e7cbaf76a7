//! From umlrun's options and the kernel's own words to the final command line: options become
//! kernel words, every check runs, network words are mapped for the kernel at hand, and the host
//! workaround is decided. Nothing is created or started here.

use super::args::{self, Arg, Word};
use super::checks::{self, DiskAction};
use super::files::Action;
use super::hostfix::{self, Decision, HostCpu, XstateFilter};
use super::kernel::Kernel;
use super::net::{self, Mapping};
use super::options::{self, next_free, Console, Options, Translated};
use super::registry;
use super::{LaunchError, Problem, Result};
use std::path::{Path, PathBuf};

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

/// Builds and checks the launch. `host` is the host CPU (tests pass their own).
pub fn prepare(opts: &Options, host: &HostCpu) -> Result<Plan> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();
    let mut actions = Vec::new();
    let user = args::parse_all(&opts.words);

    // Friendly options -> words.
    let Translated {
        extra,
        console,
        umid,
        new_images,
    } = options::translate(opts, &user, &mut problems, &mut actions);

    let mut all: Vec<Arg> = user;
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
