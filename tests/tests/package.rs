//! The Debian package (`scripts/package`), built from the debug binaries the suite already has
//! (`--from`), never installed on this machine (the other tests use the system's
//! `/usr/bin/vde_switch` as the reference):
//!
//! * it holds every binary, a man page for each, the completions of the clap tools, the systemd
//!   template unit and the example rc file; its binaries run; the man pages render without a
//!   warning; the unit passes `systemd-analyze verify`; the switch and vdeterm it ships load the
//!   example rc file;
//! * its maintainer scripts divert the commands other packages also ship and give them back:
//!   checked with the real `dpkg` installing into a scratch root (`dpkg --root
//!   --force-script-chrootless`, where the scripts run with `DPKG_ROOT` set), next to small
//!   stand-ins for `vde-switch` and `uml-utilities` installed before and after it.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use integration_tests::{wait_until, SETTLE};

const BINARIES: [&str; 9] = [
    "vde_switch",
    "uml_switch",
    "vdeterm",
    "vdecap",
    "uml_mkcow",
    "uml_moo",
    "umlcow",
    "umlrun",
    "vdelab",
];
const CLAP_TOOLS: [&str; 5] = ["vdeterm", "vdecap", "umlcow", "umlrun", "vdelab"];
/// The commands Debian's vde-switch, vde2 and uml-utilities also ship.
const DIVERTED: [&str; 5] = [
    "vde_switch",
    "vdeterm",
    "uml_switch",
    "uml_mkcow",
    "uml_moo",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where the suite's debug binaries are: this test runs from `<target>/debug/deps/`.
fn debug_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    out
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The package, built once per test process from the debug binaries (uncompressed: this is
/// about its contents, and xz would take most of the test's time).
fn package() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        let dir = debug_dir();
        for b in BINARIES {
            assert!(
                dir.join(b).is_file(),
                "{} is missing: build the binaries first (`cargo build --workspace --bins`; \
                 scripts/test does)",
                dir.join(b).display()
            );
        }
        let out =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("package.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let printed = ok(Command::new(workspace().join("scripts/package"))
            .arg("--from")
            .arg(&dir)
            .arg("--out")
            .arg(&out)
            .args(["--compress", "none"]));
        let deb = PathBuf::from(printed.trim());
        assert!(deb.is_file(), "scripts/package printed {printed:?}");
        assert!(
            deb.starts_with(&out),
            "{} is not in {}",
            deb.display(),
            out.display()
        );
        deb
    })
}

fn contents(deb: &Path) -> BTreeSet<String> {
    ok(Command::new("dpkg-deb").arg("--contents").arg(deb))
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').to_string())
        .collect()
}

#[test]
fn the_package_holds_everything_and_its_files_work() {
    let tmp = tempfile::tempdir().unwrap();
    let deb = package();
    let files = contents(deb);
    let mut expected = Vec::new();
    for b in BINARIES {
        expected.push(format!("/usr/bin/{b}"));
        expected.push(format!("/usr/share/man/man1/{b}.1.gz"));
    }
    for t in CLAP_TOOLS {
        expected.push(format!("/usr/share/bash-completion/completions/{t}"));
        expected.push(format!("/usr/share/zsh/vendor-completions/_{t}"));
        expected.push(format!("/usr/share/fish/vendor_completions.d/{t}.fish"));
    }
    expected.push("/lib/systemd/system/vde_switch@.service".into());
    expected.push("/usr/share/doc/vde-rs/examples/vde_switch.rc".into());
    expected.push("/usr/share/doc/vde-rs/copyright".into());
    for e in &expected {
        assert!(files.contains(e), "{e} is not in the package: {files:#?}");
    }
    let field = |f: &str| ok(Command::new("dpkg-deb").arg("-f").arg(deb).arg(f));
    assert_eq!(field("Package").trim(), "vde-rs");
    assert!(
        field("Depends").contains("libc6 (>= 2."),
        "{}",
        field("Depends")
    );

    let root = tmp.path().join("x");
    ok(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));

    // The binaries run and say what they are and what they replace.
    for b in BINARIES {
        let text = ok(Command::new(root.join("usr/bin").join(b)).arg("--version"));
        assert!(text.contains("vde-rs"), "{b} --version: {text}");
        if DIVERTED.contains(&b) {
            assert!(text.contains("replaces"), "{b} --version: {text}");
        }
    }
    let v = ok(Command::new(root.join("usr/bin/vde_switch")).arg("-v"));
    assert!(v.starts_with("VDE 2.3.2\n"), "{v}");

    // Man pages render, without a warning.
    for b in BINARIES {
        let page = root.join(format!("usr/share/man/man1/{b}.1.gz"));
        let out = run(Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("LC_ALL", "C.UTF-8"));
        let text = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "man -l {b}: {warnings}");
        assert!(warnings.trim().is_empty(), "man -l {b} warns:\n{warnings}");
        assert!(
            text.contains("NAME") && text.contains(b),
            "man -l {b} rendered:\n{text}"
        );
    }

    // Completions: bash parses them; each names its tool.
    for t in CLAP_TOOLS {
        let bash = root.join(format!("usr/share/bash-completion/completions/{t}"));
        ok(Command::new("bash").arg("-n").arg(&bash));
        let text = std::fs::read_to_string(&bash).unwrap();
        assert!(text.contains(&format!("complete -F _{t}")), "{text}");
        let zsh =
            std::fs::read_to_string(root.join(format!("usr/share/zsh/vendor-completions/_{t}")))
                .unwrap();
        assert!(zsh.starts_with(&format!("#compdef {t}")), "{zsh}");
        let fish = std::fs::read_to_string(
            root.join(format!("usr/share/fish/vendor_completions.d/{t}.fish")),
        )
        .unwrap();
        assert!(fish.contains(&format!("complete -c {t} ")), "{fish}");
    }

    // The unit passes systemd's own checks (instantiated, as systemctl would).
    let units = tmp.path().join("units");
    std::fs::create_dir(&units).unwrap();
    let unit = root.join("lib/systemd/system/vde_switch@.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "Type=notify",
        "RuntimeDirectory=vde/%i",
        "ExecStart=/usr/bin/vde_switch --sock /run/vde/%i ",
    ] {
        assert!(text.contains(line), "no {line:?} in the unit:\n{text}");
    }
    std::fs::copy(&unit, units.join("vde_switch@.service")).unwrap();
    std::os::unix::fs::symlink("vde_switch@.service", units.join("vde_switch@lab.service"))
        .unwrap();
    let out = run(Command::new("systemd-analyze")
        .arg("verify")
        .arg(units.join("vde_switch@lab.service"))
        .env("SYSTEMD_UNIT_PATH", format!("{}:", units.display())));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {}\n{said}",
        out.status
    );

    // The switch and vdeterm of the package load the example rc file.
    let rc = root.join("usr/share/doc/vde-rs/examples/vde_switch.rc");
    let (dir, mgmt) = (tmp.path().join("sw"), tmp.path().join("mgmt"));
    let mut sw = Command::new(root.join("usr/bin/vde_switch"))
        .arg("-s")
        .arg(&dir)
        .arg("-M")
        .arg(&mgmt)
        .arg("-f")
        .arg(&rc)
        .arg("--nostdin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let up = wait_until(SETTLE, || UnixStream::connect(&mgmt).is_ok());
    let answer = up.then(|| {
        run(Command::new(root.join("usr/bin/vdeterm")).arg(&mgmt).args([
            "-c",
            "port/allprint",
            "-c",
            "vlan/allprint",
        ]))
    });
    let _ = sw.kill();
    let switch_out = sw.wait_with_output().unwrap();
    let complaints = String::from_utf8_lossy(&switch_out.stderr);
    assert!(up, "no management socket; the switch said: {complaints}");
    let answer = answer.unwrap();
    let text = String::from_utf8_lossy(&answer.stdout);
    assert!(answer.status.success(), "vdeterm: {text}");
    assert!(
        !complaints.contains("rc file") && !complaints.contains("line"),
        "the example rc file has a bad line: {complaints}"
    );
    for needle in ["Port 0008", "untagged_vlan=0020", "VLAN 0010"] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
}

/// A stand-in for a Debian package shipping `commands` under /usr/bin (each prints `stock NAME`),
/// a man page for each and a copyright file.
fn fake_package(dir: &Path, name: &str, commands: &[&str]) -> PathBuf {
    let pkg = dir.join(name);
    std::fs::create_dir_all(pkg.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/bin")).unwrap();
    std::fs::create_dir_all(pkg.join("usr/share/man/man1")).unwrap();
    // Like every Debian package, a file of its own (else dpkg would take it for "disappeared"
    // once every other file of it is shared).
    std::fs::create_dir_all(pkg.join(format!("usr/share/doc/{name}"))).unwrap();
    std::fs::write(
        pkg.join(format!("usr/share/doc/{name}/copyright")),
        "test\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: test <test@localhost>\n\
             Description: stand-in for {name}\n test package\n"
        ),
    )
    .unwrap();
    for c in commands {
        let bin = pkg.join("usr/bin").join(c);
        std::fs::write(&bin, format!("#!/bin/sh\necho stock {c}\n")).unwrap();
        ok(Command::new("chmod").arg("755").arg(&bin));
        std::fs::write(
            pkg.join(format!("usr/share/man/man1/{c}.1.gz")),
            format!("stock page of {c}\n"),
        )
        .unwrap();
    }
    let deb = dir.join(format!("{name}.deb"));
    ok(Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&pkg)
        .arg(&deb));
    deb
}

/// `dpkg` working on the scratch root only; maintainer scripts run there with DPKG_ROOT set.
fn dpkg(root: &Path) -> Command {
    let mut c = Command::new("dpkg");
    c.arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--force-depends"]);
    c
}

fn diversions(root: &Path) -> Vec<String> {
    let text = ok(Command::new("dpkg-divert")
        .arg(format!("--root={}", root.display()))
        .args(["--list", "*"]));
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// Every file under `root`, except dpkg's own database.
fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel == "var/lib/dpkg" {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(&p, root, out);
            } else {
                out.insert(rel);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// This machine's diversions made by vde-rs (there must be none: it is never installed here).
fn host_diversions() -> Vec<String> {
    ok(Command::new("dpkg-divert").arg("--list"))
        .lines()
        .filter(|l| l.ends_with(" by vde-rs"))
        .map(str::to_string)
        .collect()
}

fn owner(root: &Path, path: &str) -> String {
    let out = run(Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args(["-S", path]));
    // dpkg -S lists the diversions of the path first, then "PACKAGE: PATH".
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| !l.starts_with("diversion by ") && l.ends_with(&format!(": {path}")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn maintainer_scripts_divert_and_give_back_in_a_scratch_root() {
    let tmp = tempfile::tempdir().unwrap();
    let deb = package();
    for script in ["preinst", "postinst", "postrm"] {
        let info = tmp.path().join("control");
        ok(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&info));
        ok(Command::new("sh").arg("-n").arg(info.join(script)));
    }
    let host_before = host_diversions();

    let root = tmp.path().join("root");
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "usr/bin"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let vde = fake_package(tmp.path(), "vde-switch", &["vde_switch", "vdeterm"]);
    let uml = fake_package(
        tmp.path(),
        "uml-utilities",
        &["uml_switch", "uml_mkcow", "uml_moo"],
    );

    // The stock vde-switch first, then ours, then the stock uml-utilities.
    ok(dpkg(&root).arg("--install").arg(&vde));
    let before = tree(&root);
    ok(dpkg(&root).arg("--install").arg(deb));
    ok(dpkg(&root).arg("--install").arg(&uml));
    let diverted = diversions(&root);
    assert_eq!(diverted.len(), 10, "{diverted:#?}");
    for c in DIVERTED {
        assert!(
            diverted.contains(&format!(
                "diversion of /usr/bin/{c} to /usr/bin/{c}.distrib by vde-rs"
            )),
            "{diverted:#?}"
        );
        let ours = ok(Command::new(root.join("usr/bin").join(c)).arg("--version"));
        assert!(ours.contains("vde-rs"), "{c} is not ours: {ours}");
        let stock = ok(&mut Command::new(root.join(format!("usr/bin/{c}.distrib"))));
        assert_eq!(stock, format!("stock {c}\n"));
    }
    // Both packages list the path (the stock file lies diverted); dpkg names them in no fixed
    // order.
    let who = owner(&root, "/usr/bin/vde_switch");
    let owners: Vec<&str> = who
        .strip_suffix(": /usr/bin/vde_switch")
        .unwrap_or_default()
        .split(", ")
        .collect();
    assert!(owners.contains(&"vde-rs"), "{who:?}");
    // An upgrade (the same version again) keeps everything in place.
    ok(dpkg(&root).arg("--install").arg(deb));
    assert_eq!(diversions(&root), diverted);

    // Removing ours gives every command and page back to its package.
    ok(dpkg(&root).args(["--purge", "vde-rs"]));
    assert!(diversions(&root).is_empty(), "{:#?}", diversions(&root));
    for c in DIVERTED {
        let stock = ok(&mut Command::new(root.join("usr/bin").join(c)));
        assert_eq!(stock, format!("stock {c}\n"));
        assert!(!root.join(format!("usr/bin/{c}.distrib")).exists());
        let page = std::fs::read_to_string(root.join(format!("usr/share/man/man1/{c}.1.gz")));
        assert_eq!(page.unwrap(), format!("stock page of {c}\n"));
    }
    for (path, pkg) in [
        ("/usr/bin/vde_switch", "vde-switch"),
        ("/usr/bin/uml_moo", "uml-utilities"),
    ] {
        let who = owner(&root, path);
        assert!(who.starts_with(pkg), "{path} belongs to {who:?}, not {pkg}");
    }
    ok(dpkg(&root).args(["--purge", "uml-utilities"]));
    let after = tree(&root);
    assert_eq!(before, after, "files left behind or missing");

    // The machine's own diversions were never touched.
    let host_after = host_diversions();
    assert_eq!(host_before, host_after);
    assert!(host_after.is_empty(), "{host_after:#?}");
}
