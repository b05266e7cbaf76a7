//! Stopping guests cleanly. SIGTERM to `umlrun` with a running guest: what the guest wrote (and
//! never synced) is in its COW file afterwards (merged and read back), the file system is clean,
//! and the kernel is gone within the timeout. `umlrun --list` and `umlrun --stop` work for guests
//! started by anyone (here: the stock kernel started directly). The real-kernel tests fail
//! when no UML kernel is installed (see `integration_tests::needs`).

use integration_tests::cow::{busybox_rootfs, e2fsck, ext4_cat, ours, Uml};
use integration_tests::needs;
use integration_tests::proc::pid_gone;
use integration_tests::umlrun::{fake_kernel, unique_umid, Running, Scratch};
use std::path::Path;
use std::time::{Duration, Instant};

const BOOT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT_SECS: u64 = 10;

/// Writes a file without syncing, says so, then idles until stopped.
const WRITER_INIT: &str = r#"#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
echo "written before the stop: $VT_DATA" > /data.txt
echo GUEST-WROTE
while true; do sleep 1; done
"#;

/// Merges `cow` with our umlcow and returns the content of `/data.txt` in the result, checking
/// that the file system is clean.
fn merged_data(dir: &Path, cow: &Path) -> Vec<u8> {
    let out = dir.join("merged.img");
    let _ = std::fs::remove_file(&out);
    let st = std::process::Command::new(ours("umlcow"))
        .arg("merge")
        .arg(cow)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "umlcow merge failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let (clean, report) = e2fsck(&out);
    assert!(clean, "the merged file system is not clean:\n{report}");
    ext4_cat(&out, "/data.txt")
}

#[test]
fn sigterm_to_umlrun_stops_the_guest_cleanly_and_keeps_its_data() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let s = Scratch::new();
    busybox_rootfs(&s.dir, WRITER_INIT);
    let umid = unique_umid("term");
    let timeout = STOP_TIMEOUT_SECS.to_string();
    let mut cmd = s.umlrun(&[
        "--stop-timeout",
        &timeout,
        "mem=96M",
        &format!("umid={umid}"),
        "root=/dev/ubda",
        "rw",
        "init=/init",
        "ubd0=h1.cow,rootfs.ext4",
        "VT_DATA=sigterm-42",
    ]);
    cmd.env("UML_KERNEL", &kernel);
    let mut g = Running::spawn(cmd);
    assert!(g.wait_stdout("GUEST-WROTE", BOOT), "{}", g.log());
    assert!(g.wait_stderr("is up", BOOT), "{}", g.log());
    let kpid = g.kernel_pid().expect("kernel pid announced");

    // `umlrun --list` (another process) sees it running.
    let (code, out, err) = s.run(&["--list"], Duration::from_secs(20));
    assert_eq!(code, Some(0), "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&umid))
        .unwrap_or_default();
    assert!(
        line.contains("running") && line.contains(&kpid.to_string()),
        "--list:\n{out}"
    );

    let t0 = Instant::now();
    g.signal(libc::SIGTERM);
    let st = g.wait_exit(Duration::from_secs(STOP_TIMEOUT_SECS + 10));
    let took = t0.elapsed();
    assert_eq!(st.and_then(|s| s.code()), Some(0), "{}", g.log());
    assert!(g.stderr().contains("stopped cleanly"), "{}", g.log());
    assert!(
        took < Duration::from_secs(STOP_TIMEOUT_SECS + 2),
        "took {took:?}"
    );
    assert!(pid_gone(kpid), "the kernel (pid {kpid}) is still there");
    assert!(!s.umid_dir(&umid).exists(), "umid directory left behind");

    assert_eq!(
        merged_data(&s.dir, &s.dir.join("h1.cow")),
        b"written before the stop: sigterm-42\n"
    );
}

#[test]
fn umlrun_stop_halts_a_guest_started_directly_with_the_stock_kernel() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let s = Scratch::new();
    let rootfs = busybox_rootfs(&s.dir, WRITER_INIT);
    let umid = unique_umid("direct");
    // Plain `linux.uml` (no umlrun): HOME is s.dir/home as well.
    let mut uml = Uml::boot(
        &kernel,
        &s.dir,
        &umid,
        &rootfs,
        &["VT_DATA=stopped-by-umlrun".to_string()],
    );
    assert!(uml.wait_for("GUEST-WROTE", BOOT), "{}", uml.log());
    // Its mconsole is up once the umid directory has it.
    let sock = s.umid_dir(&umid).join("mconsole");
    assert!(
        integration_tests::wait_until(BOOT, || sock.exists()),
        "no mconsole socket at {}",
        sock.display()
    );
    let t0 = Instant::now();
    let timeout = STOP_TIMEOUT_SECS.to_string();
    let (code, _, err) = s.run(
        &["--stop", &umid, "--stop-timeout", &timeout],
        Duration::from_secs(STOP_TIMEOUT_SECS + 10),
    );
    assert_eq!(code, Some(0), "umlrun --stop: {err}\n{}", uml.log());
    assert!(err.contains("stopped cleanly"), "{err}");
    assert_eq!(
        uml.wait_exit(Duration::from_secs(5)),
        Some(0),
        "{}",
        uml.log()
    );
    assert!(t0.elapsed() < Duration::from_secs(STOP_TIMEOUT_SECS + 2));
    assert!(!s.umid_dir(&umid).exists());
    assert_eq!(
        merged_data(&s.dir, &s.dir.join("root.cow")),
        b"written before the stop: stopped-by-umlrun\n"
    );
    // Nothing left to stop.
    let (code, _, err) = s.run(&["--stop", &umid], Duration::from_secs(10));
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}

/// SIGINT and SIGHUP (a closed terminal) stop the guest too. The fake kernel has no mconsole,
/// so umlrun falls back to SIGTERM and says the stop was not clean (status 4).
#[test]
fn sigint_and_sighup_stop_a_guest_without_mconsole() {
    for sig in [libc::SIGINT, libc::SIGHUP] {
        let s = Scratch::new();
        let k = fake_kernel(&s.dir, "6.1.176", true, "exec sleep 30");
        let mut g = Running::spawn(s.umlrun(&["--kernel", k.to_str().unwrap()]));
        assert!(
            integration_tests::wait_until(Duration::from_secs(20), || s
                .dir
                .join("booted")
                .exists()),
            "{}",
            g.log()
        );
        // umlrun handles the signals before it starts the kernel.
        g.signal(sig);
        let st = g.wait_exit(Duration::from_secs(20));
        assert_eq!(
            st.and_then(|s| s.code()),
            Some(4),
            "signal {sig}: {}",
            g.log()
        );
        assert!(g.stderr().contains("not cleanly"), "{}", g.log());
    }
}
