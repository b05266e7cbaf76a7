//! The stock UML kernel booted through `umlrun` with no manual workaround: two busybox guests on
//! COW disks ping each other through our `vde_switch` (one over `eth0=vde`, one over
//! `eth0=daemon`) with the course's own command lines; the "two disks" exercise; and the host
//! workaround forced on (so that the seccomp filter is exercised with a real kernel on any host),
//! with a `--hostfs` directory; and `--console null`.
//! Fail when no UML kernel is installed (see `integration_tests::needs`).

use integration_tests::cow::{busybox_rootfs, e2fsck, ext4_cat};
use integration_tests::uml::{host_has_amx, kernel_version, Rootfs, RESULT_TAG};
use integration_tests::umlrun::{unique_umid, Running, Scratch};
use integration_tests::{needs, Switch};
use std::path::{Path, PathBuf};
use std::time::Duration;

const GUEST_DEADLINE: Duration = Duration::from_secs(60);

/// `umlrun <words>` as a course command line (`linux` replaced by `umlrun`), the kernel found
/// through `$UML_KERNEL`.
fn course_guest(s: &Scratch, kernel: &Path, words: &[String]) -> Running {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut cmd = s.umlrun(&w);
    cmd.env("UML_KERNEL", kernel);
    Running::spawn(cmd)
}

/// True if umlrun should apply the AMX workaround to this kernel on this host by itself.
fn workaround_expected(kernel: &Path) -> bool {
    host_has_amx() && kernel_version(kernel).is_none_or(|v| v < (6, 13))
}

#[test]
fn umlrun_guests_on_cow_disks_ping_over_vde_and_daemon() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let rootfs = Rootfs::build();
    let s = Scratch::new();
    let sw = Switch::start();
    let guest = |name: &str, eth0: String, ip: &str, peer: &str| {
        let umid = unique_umid(name);
        let words = vec![
            "mem=96M".to_string(),
            format!("umid={umid}"),
            "root=/dev/ubda".into(),
            "rw".into(),
            "init=/init".into(),
            format!("ubd0={name}.cow,{}", rootfs.image.display()),
            eth0,
            format!("VT_NAME={name}"),
            format!("VT_IP={ip}"),
            format!("VT_PEER={peer}"),
        ];
        course_guest(&s, &kernel, &words)
    };
    let mut a = guest(
        "h1",
        format!("eth0=vde,{}", sw.dir().display()),
        "10.0.0.1",
        "10.0.0.2",
    );
    let mut b = guest(
        "h2",
        format!("eth0=daemon,,unix,{}", sw.ctl().display()),
        "10.0.0.2",
        "10.0.0.1",
    );
    let done = |g: &mut Running, name: &str| {
        let tag = format!("{RESULT_TAG} {name} ok 3/3");
        g.wait_stdout(&tag, GUEST_DEADLINE)
    };
    let (ra, rb) = (done(&mut a, "h1"), done(&mut b, "h2"));
    assert!(
        ra && rb,
        "the guests did not ping each other\n=== h1 ===\n{}\n=== h2 ===\n{}\n=== switch ===\n{}",
        a.log(),
        b.log(),
        sw.stderr()
    );
    // `halt -f` in the guest: umlrun reports a halt with status 0.
    for (g, name) in [(&mut a, "h1"), (&mut b, "h2")] {
        let st = g.wait_exit(Duration::from_secs(30));
        assert_eq!(
            st.and_then(|s| s.code()),
            Some(0),
            "{name}: umlrun exit status\n{}",
            g.log()
        );
        assert!(g.stderr().contains("guest halted"), "{}", g.log());
        // umlrun made the COW file (next to nothing else: the course's relative name).
        assert!(s.dir.join(format!("{name}.cow")).exists());
        // The workaround was applied exactly where it is needed.
        assert_eq!(
            g.stderr().contains("host workaround on"),
            workaround_expected(&kernel),
            "{}",
            g.log()
        );
    }
}

const TWO_DISKS_INIT: &str = r#"#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount /dev/ubdb /mnt2 && echo "second disk says hello" > /mnt2/note.txt && umount /mnt2 && echo TWO-DISKS-OK
halt -f
"#;

/// The "two disks" exercise: the root file system on a COW file made next to the image, plus an
/// empty ext4 image created on request and mounted in the guest.
#[test]
fn umlrun_two_disks_exercise() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let s = Scratch::new();
    busybox_rootfs(&s.dir, TWO_DISKS_INIT);
    let umid = unique_umid("disks");
    let mut cmd = s.umlrun(&[
        "--umid",
        &umid,
        "--mem",
        "96M",
        "--disk",
        "rootfs.ext4",
        "--new-disk",
        "data.ext4,16M",
        "root=/dev/ubda",
        "rw",
        "init=/init",
    ]);
    cmd.env("UML_KERNEL", &kernel);
    let mut g = Running::spawn(cmd);
    g.expect_halt(GUEST_DEADLINE);
    assert!(g.stdout().contains("TWO-DISKS-OK"), "{}", g.log());
    assert!(
        s.dir.join(format!("rootfs-{umid}.cow")).exists(),
        "no COW file next to the image"
    );
    let data = s.dir.join("data.ext4");
    assert_eq!(ext4_cat(&data, "/note.txt"), b"second disk says hello\n");
    let (clean, report) = e2fsck(&data);
    assert!(clean, "{report}");
}

/// A stock-kernel guest started by umlrun with `options`, a `--hostfs` directory (returned,
/// made in `s`) and its root on a COW file over a busybox file system whose `/init` is `init`.
fn hostfs_guest(
    kernel: &Path,
    s: &Scratch,
    init: &str,
    tag: &str,
    options: &[&str],
) -> (PathBuf, Running) {
    busybox_rootfs(&s.dir, init);
    let shared = s.dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    let umid = unique_umid(tag);
    let mut args = options.to_vec();
    args.extend([
        "--umid",
        &umid,
        "--hostfs",
        "shared",
        "mem=96M",
        "root=/dev/ubda",
        "rw",
        "init=/init",
        "ubd0=root.cow,rootfs.ext4",
    ]);
    let mut cmd = s.umlrun(&args);
    cmd.env("UML_KERNEL", kernel);
    (shared, Running::spawn(cmd))
}

const WORKAROUND_INIT: &str = r#"#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t hostfs none /host
echo "GUEST-CMDLINE $(cat /proc/cmdline)"
echo GUEST-RUNS
i=0
while [ ! -e /host/release ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done
echo "written by the guest" > /host/from-guest
halt -f
"#;

/// `--host-workaround on` on any host: the kernel runs under the seccomp filter (falls back to
/// FXSAVE) with the glibc tunable, and the guest works. The guest waits, on a `--hostfs`
/// directory, until the host has looked at the kernel, then writes a file there. (The
/// workaround exists on x86_64 only.)
#[cfg(target_arch = "x86_64")]
#[test]
fn umlrun_forced_host_workaround_boots_the_stock_kernel() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let s = Scratch::new();
    let (shared, mut g) = hostfs_guest(
        &kernel,
        &s,
        WORKAROUND_INIT,
        "fx",
        &["--host-workaround", "on"],
    );
    assert!(g.wait_stdout("GUEST-RUNS", GUEST_DEADLINE), "{}", g.log());
    assert!(g.stderr().contains("host workaround on"), "{}", g.log());
    // The kernel process carries the filter and no-new-privs (the guest waits for us).
    let pid = g.kernel_pid().expect("umlrun announced the kernel pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("the kernel (pid {pid}) is gone while its guest runs: {e}"));
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert!(status.contains("Seccomp:\t2"), "{status}");
    let cmdline = g
        .stdout()
        .lines()
        .find(|l| l.contains("GUEST-CMDLINE"))
        .unwrap_or_default()
        .to_string();
    assert!(
        cmdline.contains("GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2"),
        "{cmdline}"
    );
    std::fs::write(shared.join("release"), b"go").unwrap();
    g.expect_halt(GUEST_DEADLINE);
    assert_eq!(
        std::fs::read_to_string(shared.join("from-guest")).unwrap_or_default(),
        "written by the guest\n",
        "{}",
        g.log()
    );
}

const CONSOLE_NULL_INIT: &str = r#"#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t hostfs none /host
echo GUEST-CONSOLE-LINE
echo "the guest ran" > /host/ran
halt -f
"#;

/// `--console null`: the guest runs (it leaves a file in its `--hostfs` directory) and nothing
/// it writes on its console reaches umlrun's stdout (with the default console it does: see the
/// tests above).
#[test]
fn umlrun_console_null_guest_runs_silently() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let s = Scratch::new();
    let (shared, mut g) =
        hostfs_guest(&kernel, &s, CONSOLE_NULL_INIT, "cn", &["--console", "null"]);
    g.expect_halt(GUEST_DEADLINE);
    assert_eq!(
        std::fs::read_to_string(shared.join("ran")).unwrap_or_default(),
        "the guest ran\n",
        "{}",
        g.log()
    );
    assert!(
        !g.stdout().contains("GUEST-CONSOLE-LINE"),
        "--console null, yet the guest's console reached stdout:\n{}",
        g.log()
    );
}
