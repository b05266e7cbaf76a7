//! `umlrun` refuses the course's common mistakes before the kernel starts (exit status 2, a
//! message naming the mistake and the fix), maps network words for kernels without the legacy
//! transports, and reports how the kernel ended in its exit status.
//!
//! The kernel here is a fake (a shell script answering `--version`, `--help`, `--showconfig` and
//! recording whether it was started to boot), except for the host workaround, which umlrun
//! applies to x86-64 kernels only: that test runs the stock kernel with `--dry-run`.

use integration_tests::needs;
use integration_tests::uml::{host_has_amx, kernel_version, GLIBC_TUNABLES_WORD};
use integration_tests::umlrun::{fake_boot_args, fake_kernel, unique_umid, Scratch};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn image(path: &Path, size: usize) {
    let mut data = vec![0u8; size];
    for (i, b) in data.iter_mut().enumerate().step_by(4096) {
        *b = (i / 4096) as u8;
    }
    std::fs::write(path, data).unwrap();
}

/// Runs umlrun with the fake 6.1 kernel; asserts it refused (status 2) before booting, and that
/// stderr contains every one of `expect`. Returns stderr.
fn refused(s: &Scratch, args: &[&str], expect: &[&str]) -> String {
    let k = fake_kernel(&s.dir, "6.1.176", true, "exit 0");
    let mut all = vec!["--kernel", k.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, out, err) = s.run(&all, T);
    assert_eq!(
        code,
        Some(2),
        "umlrun {args:?} should refuse with status 2\nstdout: {out}\nstderr: {err}"
    );
    assert!(
        fake_boot_args(&s.dir).is_none(),
        "umlrun {args:?} started the kernel although it refused\n{err}"
    );
    for e in expect {
        assert!(
            err.contains(e),
            "umlrun {args:?}: stderr lacks {e:?}:\n{err}"
        );
    }
    assert!(err.contains("fix:"), "no fix given:\n{err}");
    err
}

/// A scratch dir with `base.img` (1 MiB) and a switch-like listening socket `sw/ctl`.
fn setup() -> (Scratch, UnixListener) {
    let s = Scratch::new();
    image(&s.dir.join("base.img"), 1 << 20);
    std::fs::create_dir(s.dir.join("sw")).unwrap();
    let l = UnixListener::bind(s.dir.join("sw/ctl")).unwrap();
    (s, l)
}

#[test]
fn misspelled_parameters_are_refused() {
    let (s, _l) = setup();
    refused(
        &s,
        &["mem=96M", "udb0=h1.cow,base.img"],
        &["udb", "ubd0=h1.cow,base.img"],
    );
    refused(
        &s,
        &["mem=96M", "ubd0=h1.cow,base.img", "eth0=demon,,unix,sw/ctl"],
        &["demon", "eth0=daemon,,unix,sw/ctl"],
    );
    refused(
        &s,
        &["mem=96M", "ubd0=h1.cow,base.img", "eth0=damon,,unix,sw/ctl"],
        &["damon", "eth0=daemon,,unix,sw/ctl"],
    );
    refused(&s, &["umdi=h1", "ubd0=h1.cow,base.img"], &["umid=h1"]);
    refused(&s, &["--net", "demon:sw/ctl"], &["daemon"]);
    // The COW file was not created either.
    assert!(!s.dir.join("h1.cow").exists());
}

#[test]
fn spaces_inside_a_list_are_refused() {
    let (s, _l) = setup();
    // What the shell makes of `ubd0=h1.cow, base.img`.
    refused(
        &s,
        &["mem=96M", "ubd0=h1.cow,", "base.img"],
        &["space after the comma", "ubd0=h1.cow,base.img"],
    );
    refused(
        &s,
        &["eth0=daemon,,unix,", "sw/ctl"],
        &["space after the comma", "eth0=daemon,,unix,sw/ctl"],
    );
    refused(
        &s,
        &["ubd0=h1.cow", ",base.img"],
        &["space before the comma"],
    );
}

#[test]
fn cow_whose_backing_file_changed_is_refused() {
    let (s, _l) = setup();
    let k = fake_kernel(&s.dir, "6.1.176", true, "exit 0");
    // First boot: umlrun creates the COW file itself.
    let (code, _, err) = s.run(
        &["--kernel", k.to_str().unwrap(), "ubd0=h1.cow,base.img"],
        T,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(s.dir.join("h1.cow").exists());
    let args = fake_boot_args(&s.dir).unwrap();
    assert!(
        args.contains(&"ubd0=h1.cow,base.img".to_string()),
        "{args:?}"
    );
    std::fs::remove_file(s.dir.join("booted")).unwrap();
    // The backing file is touched: mtime mismatch.
    let f = std::fs::File::options()
        .write(true)
        .open(s.dir.join("base.img"))
        .unwrap();
    let old = f.metadata().unwrap().modified().unwrap();
    f.set_modified(old + Duration::from_secs(60)).unwrap();
    refused(&s, &["ubd0=h1.cow,base.img"], &["mtime", "umlcow rebase"]);
    refused(&s, &["ubd0=h1.cow"], &["mtime", "umlcow rebase"]);
    // Its size changes too.
    f.set_len(2 << 20).unwrap();
    refused(&s, &["ubd0=h1.cow,base.img"], &["size", "umlcow rebase"]);
    // Restored exactly: accepted again.
    f.set_len(1 << 20).unwrap();
    f.set_modified(old).unwrap();
    let (code, _, err) = s.run(
        &["--kernel", k.to_str().unwrap(), "ubd0=h1.cow,base.img"],
        T,
    );
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn missing_backing_file_is_refused() {
    let (s, _l) = setup();
    refused(
        &s,
        &["ubd0=h1.cow,nothere.img"],
        &["nothere.img does not exist"],
    );
    refused(
        &s,
        &["--disk", "nothere.img"],
        &["nothere.img does not exist"],
    );
    // A COW whose recorded backing file is gone.
    let k = fake_kernel(&s.dir, "6.1.176", true, "exit 0");
    let (code, _, err) = s.run(
        &["--kernel", k.to_str().unwrap(), "ubd0=h2.cow,base.img"],
        T,
    );
    assert_eq!(code, Some(0), "{err}");
    std::fs::remove_file(s.dir.join("booted")).unwrap();
    std::fs::rename(s.dir.join("base.img"), s.dir.join("moved.img")).unwrap();
    refused(&s, &["ubd0=h2.cow"], &["does not exist", "umlcow rebase"]);
}

#[test]
fn switch_that_does_not_exist_or_answer_is_refused() {
    let (s, l) = setup();
    refused(
        &s,
        &["ubd0=h1.cow,base.img", "eth0=vde,/nonexistent/sw1"],
        &["does not exist", "vde_switch -d -s /nonexistent/sw1"],
    );
    std::fs::create_dir(s.dir.join("empty")).unwrap();
    refused(
        &s,
        &["eth0=vde,empty"],
        &["no switch runs there", "vde_switch"],
    );
    refused(
        &s,
        &["--net", "daemon:/nonexistent/ctl"],
        &["does not exist"],
    );
    // A stale socket: the file is there, nobody listens.
    drop(l);
    refused(
        &s,
        &["eth0=vde,sw"],
        &["no switch answers", "start the switch again"],
    );
    refused(&s, &["eth0=daemon,,unix,sw/ctl"], &["no switch answers"]);
}

#[test]
fn umid_already_running_is_refused() {
    let (s, _l) = setup();
    let umid = unique_umid("busy");
    let mut holder = Command::new("sleep").arg("30").spawn().unwrap();
    let d = s.umid_dir(&umid);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("pid"), format!("{}\n", holder.id())).unwrap();
    let w = format!("umid={umid}");
    refused(
        &s,
        &[&w, "ubd0=h1.cow,base.img"],
        &[
            "already used by a running guest",
            &format!("umlrun --stop {umid}"),
        ],
    );
    refused(&s, &["--umid", &umid], &["already used"]);
    let _ = holder.kill();
    let _ = holder.wait();
    // The pid is dead now: the umid is free again (the kernel takes the directory over).
    let k = fake_kernel(&s.dir, "6.1.176", true, "exit 0");
    let (code, _, err) = s.run(&["--kernel", k.to_str().unwrap(), &w], T);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn paths_with_comma_or_colon_are_refused() {
    let (s, _l) = setup();
    image(&s.dir.join("my,disk.img"), 1 << 20);
    refused(&s, &["ubd0=my,disk.img"], &["contains `,`", "symlink"]);
    refused(&s, &["--disk", "my,disk.img"], &["contains `,`"]);
    std::fs::create_dir(s.dir.join("a:b")).unwrap();
    image(&s.dir.join("a:b/disk.img"), 1 << 20);
    refused(&s, &["--disk", "a:b/disk.img"], &["contains `:`"]);
    refused(&s, &["ubd0=h1.cow,a:b/disk.img"], &["contains `:`"]);
    refused(&s, &["--hostfs", "a:b"], &["contains `:`"]);
}

#[test]
fn several_mistakes_are_reported_together() {
    let (s, _l) = setup();
    let err = refused(
        &s,
        &["udb0=h1.cow,base.img", "eth0=demon,,unix,sw/ctl", "mem=96"],
        &["udb", "demon", "mem=96M"],
    );
    assert!(err.contains("3 mistakes"), "{err}");
}

#[test]
fn legacy_network_words_are_mapped_on_kernels_without_them() {
    let (s, _l) = setup();
    let k = fake_kernel(&s.dir, "6.16.0", false, "exit 0");
    let ks = k.to_str().unwrap();
    let (code, out, err) = s.run(
        &[
            "--kernel",
            ks,
            "--dry-run",
            "eth0=daemon,52:54:00:12:34:56,unix,sw/ctl",
            "eth1=vde,sw",
        ],
        T,
    );
    assert_eq!(code, Some(0), "{err}");
    let sw = s.dir.join("sw");
    let v0 = format!(
        "vec0:transport=vde,vnl=vde://{},mac=52:54:00:12:34:56",
        sw.display()
    );
    let v1 = format!("vec1:transport=vde,vnl=vde://{}", sw.display());
    assert!(out.contains(&v0) && out.contains(&v1), "{out}\n{err}");
    assert!(fake_boot_args(&s.dir).is_none(), "--dry-run booted");
    // And for real: the kernel gets the vector words, no eth words, our defaults, and (6.16 is
    // after the fix) no host workaround.
    let (code, _, err) = s.run(&["--kernel", ks, "--net", "vde:sw", "eth1=vde,sw"], T);
    assert_eq!(code, Some(0), "{err}");
    let args = fake_boot_args(&s.dir).unwrap();
    assert!(args.contains(&v1.replace("vec1", "vec0")), "{args:?}");
    assert!(args.contains(&v1), "{args:?}");
    assert!(!args.iter().any(|a| a.starts_with("eth")), "{args:?}");
    for want in ["noreboot", "con=null", "con0=fd:0,fd:1"] {
        assert!(args.contains(&want.to_string()), "{want}: {args:?}");
    }
    assert!(
        args.iter().any(|a| a.starts_with("mconsole=notify:")),
        "{args:?}"
    );
    assert!(args.iter().any(|a| a.starts_with("mem=")), "{args:?}");
    assert!(
        !args.iter().any(|a| a.starts_with("GLIBC_TUNABLES")),
        "{args:?}"
    );
    // The same words stay as they are on a 6.1 kernel.
    let k61 = fake_kernel(&s.dir, "6.1.176", true, "exit 0");
    let (code, out, err) = s.run(
        &[
            "--kernel",
            k61.to_str().unwrap(),
            "--dry-run",
            "eth1=vde,sw",
        ],
        T,
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(" eth1=vde,sw "), "{out}");
}

#[test]
fn exit_status_tells_halt_panic_and_kill_apart() {
    let s = Scratch::new();
    for (then, want, text) in [
        ("exit 0", 0, "halted"),
        ("kill -ABRT $$", 3, "panic"),
        ("kill -KILL $$", 4, "killed"),
        ("exit 1", 4, "killed"),
    ] {
        let k = fake_kernel(&s.dir, "6.1.176", true, then);
        let (code, _, err) = s.run(&["--kernel", k.to_str().unwrap()], T);
        assert_eq!(code, Some(want), "kernel doing `{then}`: {err}");
        assert!(err.contains(text), "kernel doing `{then}`: {err}");
    }
}

#[test]
fn kernel_is_found_in_path_or_uml_kernel() {
    let s = Scratch::new();
    let k = fake_kernel(&s.dir, "6.1.176", true, "exit 0");
    let bin = s.dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(&k, bin.join("linux.uml")).unwrap();
    let (code, out, err) = {
        let f = integration_tests::proc::run_with_timeout(
            s.umlrun(&["--dry-run"]).env("PATH", &bin),
            T,
        );
        (f.status.and_then(|s| s.code()), f.stdout, f.stderr)
    };
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.starts_with(&bin.join("linux.uml").display().to_string()),
        "{out}"
    );
    let f = integration_tests::proc::run_with_timeout(
        s.umlrun(&["--dry-run"]).env("UML_KERNEL", &k),
        T,
    );
    assert!(f.stdout.starts_with(&k.display().to_string()), "{f:?}");
    let f = integration_tests::proc::run_with_timeout(
        s.umlrun(&["--dry-run"]).env("PATH", "/nonexistent"),
        T,
    );
    assert_eq!(f.status.and_then(|s| s.code()), Some(2), "{f:?}");
    assert!(f.stderr.contains("no UML kernel"), "{f:?}");
}

/// A fake 6.1 kernel in `s` that also records what its stdin is.
fn recording_kernel(s: &Scratch) -> std::path::PathBuf {
    let then = format!(
        "readlink /proc/$$/fd/0 > '{}/stdin'; exit 0",
        s.dir.display()
    );
    fake_kernel(&s.dir, "6.1.176", true, &then)
}

/// Runs umlrun with the recording kernel and `args`; asserts it booted and halted. Returns the
/// kernel's arguments and its stdin. The record is removed (so that a later refusal can be
/// told from a boot).
fn boot_recorded(s: &Scratch, args: &[&str]) -> (Vec<String>, String) {
    let k = recording_kernel(s);
    let mut all = vec!["--kernel", k.to_str().unwrap()];
    all.extend_from_slice(args);
    let (code, _, err) = s.run(&all, T);
    assert_eq!(code, Some(0), "umlrun {args:?}: {err}");
    let booted = fake_boot_args(&s.dir).unwrap_or_else(|| panic!("umlrun {args:?} did not boot"));
    let stdin = std::fs::read_to_string(s.dir.join("stdin")).unwrap_or_default();
    for f in ["booted", "stdin"] {
        let _ = std::fs::remove_file(s.dir.join(f));
    }
    (booted, stdin.trim().to_string())
}

/// The AMX host workaround with the stock kernel (checked with `--dry-run`; a real boot with it
/// forced on is in `umlrun_guests.rs`): `--host-workaround on` adds the glibc tunable (and the
/// seccomp filter, said on stderr), `--no-host-workaround` never does (even with `on` given
/// too), `off` neither, and by default only where the host needs it.
#[test]
fn host_workaround_on_off_and_no_host_workaround() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let s = Scratch::new();
    let auto = host_has_amx() && kernel_version(&kernel).is_none_or(|v| v < (6, 13));
    for (args, on) in [
        (&["--host-workaround", "on"][..], true),
        (&["--no-host-workaround"], false),
        (&["--host-workaround", "on", "--no-host-workaround"], false),
        (&["--host-workaround", "off"], false),
        (&[], auto),
    ] {
        let mut all = vec!["--kernel", kernel.to_str().unwrap(), "--dry-run"];
        all.extend_from_slice(args);
        let (code, out, err) = s.run(&all, T);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert_eq!(
            out.split_whitespace().any(|w| w == GLIBC_TUNABLES_WORD),
            on,
            "{args:?}: {out}"
        );
        assert_eq!(
            err.contains("host workaround on") && err.contains("seccomp filter"),
            on,
            "{args:?}: {err}"
        );
        if args.contains(&"--no-host-workaround") {
            assert!(err.contains("disabled by --no-host-workaround"), "{err}");
        }
    }
}

/// `--console stdio` (the default) puts console 0 on umlrun's stdin and stdout; `--console null`
/// gives the guest no console and the kernel /dev/null as stdin; with con= words of the user's
/// it is refused.
#[test]
fn console_stdio_and_null() {
    let s = Scratch::new();
    for (args, stdio) in [
        (&[][..], true),
        (&["--console", "stdio"], true),
        (&["--console", "null"], false),
    ] {
        let (booted, stdin) = boot_recorded(&s, args);
        assert!(
            booted.contains(&"con=null".to_string()),
            "{args:?}: {booted:?}"
        );
        assert_eq!(
            booted.contains(&"con0=fd:0,fd:1".to_string()),
            stdio,
            "{args:?}: {booted:?}"
        );
        if stdio {
            assert!(
                stdin.starts_with("pipe:"),
                "{args:?}: the kernel's stdin is {stdin}"
            );
        } else {
            assert_eq!(stdin, "/dev/null", "{args:?}");
        }
    }
    refused(
        &s,
        &["--console", "null", "con0=fd:0,fd:1"],
        &["--console and con= words are both given"],
    );
}

/// `--hostfs DIR` lets the guest mount that directory only (`hostfs=` with its absolute path);
/// a missing directory or a hostfs= word as well are refused.
#[test]
fn hostfs_names_one_directory() {
    let s = Scratch::new();
    std::fs::create_dir(s.dir.join("shared")).unwrap();
    let (booted, _) = boot_recorded(&s, &["--hostfs", "shared"]);
    let want = format!("hostfs={}", s.dir.join("shared").display());
    assert!(booted.contains(&want), "{booted:?}");
    refused(
        &s,
        &["--hostfs", "nothere"],
        &["--hostfs nothere: not a directory"],
    );
    refused(
        &s,
        &["--hostfs", "shared", "hostfs=/tmp"],
        &["--hostfs and a hostfs= word are both given"],
    );
}
