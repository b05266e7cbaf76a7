//! CI only checks that the harness runs: `vdeperf --smoke` (1 rep x 1 s of the 1→1 test, the
//! curve at 8 ports, RSS, a 20k-frame MAC flood, one rep of the machine floor; about 20 s) must
//! start the reference twice and our switch, measure them and print the tables. Nothing here
//! judges the numbers.
//!
//! Needs what scripts/test provides: the reference (`vde2`, which brings libvdeplug) and our switch
//! built (target/debug or target/release, or `VDE_SWITCH_BIN`). Nothing outside the repository:
//! the clients are vdeperf's own (`vdeperf load`, `vdeperf floor`).

use std::path::PathBuf;
use std::process::Command;

use vde_benches::target_dir;

fn our_switch() -> PathBuf {
    if let Some(p) = std::env::var_os("VDE_SWITCH_BIN") {
        return PathBuf::from(p);
    }
    let target = target_dir();
    ["debug", "release"]
        .iter()
        .map(|p| target.join(p).join("vde_switch"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "no vde_switch under {}: build it first (`cargo build -p vde-switch`; scripts/test does)",
                target.display()
            )
        })
}

#[test]
fn smoke_run_prints_the_goal_table() {
    let ours = our_switch();
    let work =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("smoke.{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_vdeperf"))
        .arg("--smoke")
        .arg("--ours")
        .arg(&ours)
        .arg("--work-dir")
        .arg(&work)
        .output()
        .expect("run vdeperf");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "vdeperf --smoke failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(!work.exists(), "the scratch directory was not removed");
    for needle in [
        "### Goals (issue 6)",
        "### Scaling",
        "### Memory with 32 ports attached",
        "### MAC flood",
        "### Machine floor",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    // Our own clients and floor, nothing from outside the repository.
    assert!(stdout.contains("\n- clients: vdeperf load of "), "{stdout}");
    assert!(stdout.contains("\n- floor: vdeperf floor of "), "{stdout}");
    // The measured rows carry numbers for every switch, not "n/a".
    let row = |start: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start:?} in:\n{stdout}"))
            .to_string()
    };
    let cpu = row("| 1→1 switch CPU per 64 B frame");
    assert_eq!(cpu.matches("x [").count(), 2, "A/A and ours ratios: {cpu}");
    assert!(cpu.contains(" ns"), "reference CPU per frame: {cpu}");
    let rss = row("| RSS with 32 ports attached");
    assert_eq!(rss.matches("MiB").count(), 4, "{rss}");
    let curve = row("| 8 ");
    assert_eq!(curve.matches(" ns").count(), 3, "{curve}");
    assert!(!row("| memory bounded").contains("n/a"));
    let floor = row("| one send + one recv");
    assert!(floor.contains(" ns"), "{floor}");
    let ours = row("| ours, 1→1");
    let last = ours.trim_end().trim_end_matches('|').trim_end();
    assert!(last.ends_with('x'), "ours against the floor: {ours}");
}

/// `vdeperf stream` (stream ports against vde ports on our switch) runs and fills its table:
/// 1 rep x 1 s of each test, with our own stream client.
#[test]
fn stream_comparison_runs() {
    let ours = our_switch();
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("smoke-stream.{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_vdeperf"))
        .args(["stream", "--reps", "1", "--secs", "1", "--ours"])
        .arg(&ours)
        .arg("--work-dir")
        .arg(&work)
        .output()
        .expect("run vdeperf stream");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "vdeperf stream failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(!work.exists(), "the scratch directory was not removed");
    assert!(!stderr.contains("lost frames"), "{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| uni2") || l.starts_with("| pairs8"))
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    for r in rows {
        assert_eq!(r.matches("x [").count(), 2, "CPU and rate ratios: {r}");
    }
}
