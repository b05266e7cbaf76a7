//! Who waits for the disk: `uml_moo` returns once the kernel has the data, as the stock tool
//! does, unless given `--sync`; `umlcow merge` and `commit` flush by default, unless given
//! `--no-sync`. Checked by tracing the flush system calls each run makes.

use integration_tests::cow::*;
use std::path::Path;
use std::process::Command;

const MIB: u64 = 1 << 20;

/// Runs `prog args` under strace and returns its exit code and how many fsync/fdatasync/syncfs
/// calls it made.
fn flushes(prog: &Path, args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path) -> (i32, usize) {
    let log = dir.join("strace.log");
    let _ = std::fs::remove_file(&log);
    let out = Command::new("strace")
        .current_dir(dir)
        .arg("-f")
        .arg("-qq")
        .arg("-e")
        .arg("trace=fsync,fdatasync,syncfs,sync,sync_file_range")
        .arg("-o")
        .arg(&log)
        .arg(prog)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("strace (apt-get install strace; scripts/test installs it)");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let calls = text
        .lines()
        .filter(|l| {
            [
                "fsync(",
                "fdatasync(",
                "syncfs(",
                "sync(",
                "sync_file_range(",
            ]
            .iter()
            .any(|c| l.contains(c))
        })
        .count();
    (out.status.code().unwrap_or(-1), calls)
}

#[test]
fn cow_tools_flush_only_when_asked_or_by_design() {
    let (_t, dir) = scratch();
    let backing = dir.join("base.img");
    make_backing(&backing, 2 * MIB, 7);
    let cow = dir.join("c.cow");
    write_cow(
        &cow,
        Layout::V3 { alignment: 4096 },
        &backing,
        &random_dirty(2 * MIB / 512, 20, 3),
    );
    let moo = ours("uml_moo");
    let umlcow = ours("umlcow");

    let (code, n) = flushes(&moo, &[&cow, &"plain.img"], &dir);
    assert_eq!(
        (code, n),
        (0, 0),
        "uml_moo COW OUT must not wait for the disk"
    );
    let (code, n) = flushes(&moo, &[&"--sync", &cow, &"synced.img"], &dir);
    assert_eq!(code, 0);
    assert!(n > 0, "uml_moo --sync made no flush call");
    assert_same_bytes(&dir.join("plain.img"), &dir.join("synced.img"));

    let (code, n) = flushes(&umlcow, &[&"merge", &"-q", &cow, &"u.img"], &dir);
    assert_eq!(code, 0);
    assert!(n > 0, "umlcow merge made no flush call");
    let (code, n) = flushes(
        &umlcow,
        &[&"merge", &"-q", &"--no-sync", &cow, &"u2.img"],
        &dir,
    );
    assert_eq!((code, n), (0, 0), "umlcow merge --no-sync flushed");
    assert_same_bytes(&dir.join("plain.img"), &dir.join("u.img"));
    assert_same_bytes(&dir.join("plain.img"), &dir.join("u2.img"));

    // -d / commit, each on its own copy of the backing file.
    for (i, (prog, args, want_flush)) in [
        (&moo, vec!["-d"], false),
        (&moo, vec!["--sync", "-d"], true),
        (&umlcow, vec!["commit", "-q"], true),
        (&umlcow, vec!["commit", "-q", "--no-sync"], false),
    ]
    .into_iter()
    .enumerate()
    {
        let copy = dir.join(format!("d{i}.img"));
        copy_p(&backing, &copy);
        let mut argv: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        argv.push(&"-b");
        argv.push(&copy);
        argv.push(&cow);
        let (code, n) = flushes(prog, &argv, &dir);
        assert_eq!(code, 0, "{} {args:?}", prog.display());
        assert_eq!(
            n > 0,
            want_flush,
            "{} {args:?}: {n} flush calls",
            prog.display()
        );
        assert_same_bytes(&dir.join("plain.img"), &copy);
    }
}
