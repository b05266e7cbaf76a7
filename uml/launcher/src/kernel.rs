//! Finding the UML kernel and learning what it supports: `--version`, `--help` (which switches
//! exist) and `--showconfig` (which network transports were built in).

use super::{LaunchError, Result};
use std::cell::OnceCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A kernel version, `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// The first word of `text` that looks like `N.N[.N]` (`6.1.176`, `6.16.0-rc1`).
    pub fn find_in(text: &str) -> Option<Version> {
        text.split_whitespace().find_map(|w| {
            let w = w.trim_start_matches('v');
            let core: String = w
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let parts: Vec<&str> = core.split('.').filter(|p| !p.is_empty()).collect();
            if parts.len() < 2 || parts.len() > 4 {
                return None;
            }
            let n: Vec<u32> = parts
                .iter()
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some(Version(n[0], n[1], n.get(2).copied().unwrap_or(0)))
        })
    }
}

/// Which network transports a kernel has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transports {
    pub daemon: bool,
    pub vde: bool,
    pub vector: bool,
}

impl Transports {
    /// From `--showconfig` if it shows the network options, else from `--help`, else from the
    /// version (the legacy transports were removed in 6.16).
    pub fn decide(
        config: Option<&str>,
        help: Option<&str>,
        version: Option<Version>,
    ) -> Transports {
        if let Some(cfg) = config.filter(|c| c.contains("CONFIG_UML_NET")) {
            let on = |opt: &str| cfg.lines().any(|l| l.trim() == format!("{opt}=y"));
            return Transports {
                daemon: on("CONFIG_UML_NET_DAEMON"),
                vde: on("CONFIG_UML_NET_VDE"),
                vector: on("CONFIG_UML_NET_VECTOR"),
            };
        }
        if let Some(help) = help.filter(|h| h.contains("User Mode Linux")) {
            let legacy = help.contains("eth[0-9]+=");
            return Transports {
                daemon: legacy,
                vde: legacy,
                vector: help.contains("vec[0-9]+:"),
            };
        }
        let legacy = version.is_none_or(|v| v < Version(6, 16, 0));
        Transports {
            daemon: legacy,
            vde: legacy,
            vector: true,
        }
    }
}

/// A UML kernel binary, probed on demand.
#[derive(Debug)]
pub struct Kernel {
    pub path: PathBuf,
    version: OnceCell<Option<Version>>,
    help: OnceCell<Option<String>>,
    config: OnceCell<Option<String>>,
}

/// The ELF class and machine of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    I386,
    Other,
}

impl Kernel {
    pub fn new(path: PathBuf) -> Kernel {
        Kernel {
            path,
            version: OnceCell::new(),
            help: OnceCell::new(),
            config: OnceCell::new(),
        }
    }

    /// `--kernel`, else `$UML_KERNEL`, else `linux` or `linux.uml` in `PATH` (the first that
    /// answers `--help` as a UML kernel).
    pub fn find(explicit: Option<&Path>) -> Result<Kernel> {
        if let Some(p) = explicit {
            return Self::must_exist(p, "--kernel");
        }
        if let Some(p) = std::env::var_os("UML_KERNEL").filter(|v| !v.is_empty()) {
            return Self::must_exist(Path::new(&p), "$UML_KERNEL");
        }
        let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
        let mut found = Vec::new();
        for name in ["linux", "linux.uml"] {
            for dir in std::env::split_paths(&path) {
                let p = dir.join(name);
                if is_executable(&p) {
                    found.push(p);
                    break;
                }
            }
        }
        for p in &found {
            let k = Kernel::new(p.clone());
            if k.help().is_some() || k.version().is_some() {
                return Ok(k);
            }
        }
        Err(LaunchError::NoKernel {
            what: if found.is_empty() {
                "neither `linux` nor `linux.uml` is in PATH; install the Debian package \
                 user-mode-linux, or name the kernel with --kernel FILE or $UML_KERNEL"
                    .into()
            } else {
                format!(
                    "{} did not answer --help or --version like a UML kernel; name the kernel \
                     with --kernel FILE",
                    found
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            },
        })
    }

    fn must_exist(p: &Path, from: &str) -> Result<Kernel> {
        if !p.exists() {
            return Err(LaunchError::NoKernel {
                what: format!("{from} names {}, which does not exist", p.display()),
            });
        }
        if !is_executable(p) {
            return Err(LaunchError::NoKernel {
                what: format!(
                    "{from} names {}, which is not an executable file",
                    p.display()
                ),
            });
        }
        Ok(Kernel::new(p.to_path_buf()))
    }

    fn run(&self, arg: &str) -> Option<String> {
        let out = Command::new(&self.path)
            .arg(arg)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if out.stdout.is_empty() {
            return None;
        }
        Some(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `--version`.
    pub fn version(&self) -> Option<Version> {
        *self
            .version
            .get_or_init(|| self.run("--version").and_then(|t| Version::find_in(&t)))
    }

    /// `--help` output, if it looks like a UML kernel's.
    pub fn help(&self) -> Option<&str> {
        self.help
            .get_or_init(|| {
                self.run("--help")
                    .filter(|t| t.contains("User Mode Linux") || t.contains("ubd<n>"))
            })
            .as_deref()
    }

    /// `--showconfig` output.
    pub fn config(&self) -> Option<&str> {
        self.config
            .get_or_init(|| self.run("--showconfig").filter(|t| t.contains("CONFIG_")))
            .as_deref()
    }

    pub fn transports(&self) -> Transports {
        Transports::decide(self.config(), self.help(), self.version())
    }

    /// The daemon transport's default control socket (`--showconfig`).
    pub fn daemon_default_socket(&self) -> String {
        self.config()
            .and_then(|c| {
                c.lines().find_map(|l| {
                    l.strip_prefix("CONFIG_UML_NET_DAEMON_DEFAULT_SOCK=")
                        .map(|v| v.trim_matches('"').to_string())
                })
            })
            .unwrap_or_else(|| "/var/run/uml-utilities/uml_switch.ctl".into())
    }

    /// The ELF machine of the kernel binary.
    pub fn machine(&self) -> Machine {
        elf_machine(&self.path)
    }
}

/// Reads the ELF header's class and machine.
pub fn elf_machine(path: &Path) -> Machine {
    use std::io::Read;
    let mut h = [0u8; 20];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut h))
        .is_ok();
    if !ok || &h[..4] != b"\x7fELF" {
        return Machine::Other;
    }
    let machine = u16::from_le_bytes([h[18], h[19]]);
    match (h[4], machine) {
        (2, 62) => Machine::X86_64,
        (1, 3) => Machine::I386,
        _ => Machine::Other,
    }
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Looks `name` up in `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(Version::find_in("6.1.176\n"), Some(Version(6, 1, 176)));
        assert_eq!(
            Version::find_in("Linux (none) 6.16.0-rc1 #1 x86_64"),
            Some(Version(6, 16, 0))
        );
        assert_eq!(Version::find_in("v7.2"), Some(Version(7, 2, 0)));
        assert_eq!(Version::find_in("no version"), None);
        assert!(Version(6, 1, 176) < Version(6, 13, 0));
    }

    #[test]
    fn transports_from_config_help_or_version() {
        let cfg61 = "CONFIG_UML_NET=y\nCONFIG_UML_NET_DAEMON=y\nCONFIG_UML_NET_VECTOR=y\n\
                     CONFIG_UML_NET_VDE=y\n";
        assert_eq!(
            Transports::decide(Some(cfg61), None, None),
            Transports {
                daemon: true,
                vde: true,
                vector: true
            }
        );
        let cfg716 = "CONFIG_UML_NET_VECTOR=y\n# CONFIG_UML_NET_DAEMON is not set\n";
        assert_eq!(
            Transports::decide(Some(cfg716), None, Some(Version(6, 1, 0))),
            Transports {
                daemon: false,
                vde: false,
                vector: true
            }
        );
        let help = "User Mode Linux v6.16\nvec[0-9]+:<option>=<value>\n";
        assert_eq!(
            Transports::decide(None, Some(help), None),
            Transports {
                daemon: false,
                vde: false,
                vector: true
            }
        );
        assert!(Transports::decide(None, None, Some(Version(6, 15, 3))).daemon);
        assert!(!Transports::decide(None, None, Some(Version(6, 16, 0))).vde);
        assert!(Transports::decide(None, None, None).daemon);
    }

    #[test]
    fn elf_machine_of_this_test_binary() {
        let me = std::env::current_exe().unwrap();
        #[cfg(target_arch = "x86_64")]
        assert_eq!(elf_machine(&me), Machine::X86_64);
        assert_eq!(elf_machine(Path::new("/nonexistent")), Machine::Other);
    }
}
