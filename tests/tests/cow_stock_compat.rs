//! Our `uml_mkcow` and `uml_moo` against the stock uml-utilities tools: same COW files, same
//! merged bytes for every header layout, and the refusals where the stock tools do damage.

use integration_tests::cow::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const MIB: u64 = 1 << 20;

#[test]
fn cow_mkcow_output_equals_stock() {
    let Some(stock) = stock("uml_mkcow") else {
        return;
    };
    let (_t, dir) = scratch();
    std::fs::create_dir(dir.join("real")).unwrap();
    std::os::unix::fs::symlink("real", dir.join("link")).unwrap();
    for (i, size) in [64 * 1024, MIB, MIB + 100, 16 * MIB]
        .into_iter()
        .enumerate()
    {
        let b = dir.join(format!("real/b{i}.img"));
        make_backing(&b, size, i as u64);
        // A relative path through a symlinked directory: both record /…/real/b.img.
        let rel = format!("link/b{i}.img");
        let s = dir.join(format!("s{i}.cow"));
        let o = dir.join(format!("o{i}.cow"));
        assert!(run(&stock, &[&s, &rel], &dir).ok());
        let r = run(&ours("uml_mkcow"), &[&o, &rel], &dir);
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.stdout, "");
        assert_same_bytes(&s, &o);
        let stored = &read(&o)[32..32 + 200];
        let want = dir.join(format!("real/b{i}.img"));
        assert!(stored.starts_with(want.as_os_str().as_encoded_bytes()));
    }
}

#[test]
fn cow_mkcow_arguments_and_refusals() {
    let (_t, dir) = scratch();
    let mk = ours("uml_mkcow");
    let b = dir.join("b.img");
    make_backing(&b, MIB, 7);
    // Usage: exit 2, like the stock tool.
    assert_eq!(run(&mk, &[], &dir).code, 2);
    assert_eq!(run(&mk, &[&"only.cow"], &dir).code, 2);
    assert!(listing(&dir) == ["b.img"]);
    // `-f` after the COW name (the stock tool takes it for the backing file).
    let r = run(&mk, &[&"x.cow", &"-f", &"b.img"], &dir);
    assert!(r.ok(), "{r:?}");
    // Existing COW without -f: refused, untouched, and the message says how to replace it.
    let x = dir.join("x.cow");
    let (bo, _, d) = geometry(Layout::V3 { alignment: 4096 }, MIB);
    let f = std::fs::OpenOptions::new().write(true).open(&x).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[0xFF], bo).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[0xAB; 512], d).unwrap();
    drop(f);
    let snap = Snapshot::take(&x);
    let r = run(&mk, &[&"x.cow", &"b.img"], &dir);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("x.cow") && r.stderr.contains("-f"),
        "{}",
        r.stderr
    );
    snap.assert_unchanged("uml_mkcow without -f");
    // With -f: a fresh COW file; the stale bitmap and data are gone (the stock tool keeps them).
    assert!(run(&mk, &[&"-f", &"x.cow", &"b.img"], &dir).ok());
    let bytes = read(&x);
    assert_eq!(bytes.len() as u64, d + MIB);
    assert!(bytes[4128..].iter().all(|&b| b == 0), "stale data after -f");
    // Failures leave no file (the stock tool leaves a 0-byte COW).
    std::fs::create_dir(dir.join("adir")).unwrap();
    for (cow, backing, what) in [
        ("m1.cow", "missing.img", "missing.img"),
        ("m2.cow", "nodir/b.img", "nodir"),
        ("m3.cow", "adir", "directory"),
        ("nodir/m4.cow", "b.img", "m4.cow"),
    ] {
        let before = listing(&dir);
        let r = run(&mk, &[&cow, &backing], &dir);
        assert_eq!(r.code, 1, "{cow} {backing}: {r:?}");
        assert!(
            r.stderr.contains(what) && r.stderr.contains("fix:"),
            "{}",
            r.stderr
        );
        assert_eq!(listing(&dir), before, "{cow} {backing} left a file");
    }
    // Tiny disks hang the kernel: refused.
    let tiny = dir.join("tiny.img");
    make_backing(&tiny, 16 * 1024, 1);
    let r = run(&mk, &[&"t.cow", &tiny], &dir);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("32 KiB"), "{}", r.stderr);
    assert!(!dir.join("t.cow").exists());
}

/// Merges `cow` with stock and ours, normal and `-d`, and checks all four agree.
fn merge_both_ways(dir: &Path, stock: &Path, backing: &Path, cow: &Path, tag: &str) {
    let moo = ours("uml_moo");
    let s = dir.join(format!("{tag}-stock.img"));
    let o = dir.join(format!("{tag}-ours.img"));
    let r = run(stock, &[&cow, &s], dir);
    assert!(r.ok(), "stock uml_moo on {tag}: {r:?}");
    let r = run(&moo, &[&cow, &o], dir);
    assert!(r.ok(), "our uml_moo on {tag}: {r:?}");
    assert_same_bytes(&s, &o);
    // -d into copies of the backing file (cp -p keeps the mtime the COW needs).
    let sd = dir.join(format!("{tag}-stock-d.img"));
    let od = dir.join(format!("{tag}-ours-d.img"));
    copy_p(backing, &sd);
    copy_p(backing, &od);
    let r = run(stock, &[&"-d", &"-b", &sd, &cow], dir);
    assert!(r.ok(), "stock uml_moo -d on {tag}: {r:?}");
    // The order the stock tool gets wrong.
    let r = run(&moo, &[&"-b", &od, &"-d", &cow], dir);
    assert!(r.ok(), "our uml_moo -b X -d on {tag}: {r:?}");
    assert_same_bytes(&sd, &od);
    assert_same_bytes(&s, &od);
}

#[test]
fn cow_moo_merges_every_layout_like_stock() {
    let Some(stock) = stock("uml_moo") else {
        return;
    };
    let (_t, dir) = scratch();
    let layouts = [
        ("v1", Layout::V1),
        ("v2", Layout::V2),
        ("v3", Layout::V3 { alignment: 4096 }),
        ("v3a512", Layout::V3 { alignment: 512 }),
        ("broken", Layout::V3Broken { alignment: 4096 }),
        ("broken512", Layout::V3Broken { alignment: 512 }),
    ];
    for (i, (tag, layout)) in layouts.into_iter().enumerate() {
        let backing = dir.join(format!("{tag}-base.img"));
        let size = 2 * MIB;
        make_backing(&backing, size, 100 + i as u64);
        let cow = dir.join(format!("{tag}.cow"));
        let mut dirty = random_dirty(size / 512, 60, i as u64);
        // The first and last sectors too.
        dirty.push((0, Some(vec![0x11; 512])));
        dirty.push((size / 512 - 1, Some(vec![0x22; 512])));
        write_cow(&cow, layout, &backing, &dirty);
        merge_both_ways(&dir, &stock, &backing, &cow, tag);
    }
}

#[test]
fn cow_moo_keeps_the_partial_last_sector() {
    let (_t, dir) = scratch();
    let size = MIB + 100;
    let backing = dir.join("odd.img");
    make_backing(&backing, size, 3);
    let cow = dir.join("odd.cow");
    let last = size / 512;
    write_cow(
        &cow,
        Layout::V3 { alignment: 4096 },
        &backing,
        &[(last, Some(vec![0x5A; 512])), (3, Some(vec![0x33; 512]))],
    );
    let out = dir.join("odd-ours.img");
    let r = run(&ours("uml_moo"), &[&cow, &out], &dir);
    assert!(r.ok(), "{r:?}");
    let merged = read(&out);
    assert_eq!(
        merged.len() as u64,
        size,
        "the stock tool drops the last 100 bytes"
    );
    assert!(merged[(last * 512) as usize..].iter().all(|&b| b == 0x5A));
    assert!(merged[3 * 512..4 * 512].iter().all(|&b| b == 0x33));
    let base = read(&backing);
    assert_eq!(&merged[..3 * 512], &base[..3 * 512]);
    if let Some(stock) = stock("uml_moo") {
        let s = dir.join("odd-stock.img");
        assert!(run(&stock, &[&cow, &s], &dir).ok());
        let s = read(&s);
        assert_eq!(s.len() as u64, last * 512);
        assert_eq!(&merged[..s.len()], &s[..]);
    }
}

#[test]
fn cow_moo_refuses_bad_input_without_touching_anything() {
    let (_t, dir) = scratch();
    let moo = ours("uml_moo");
    let backing = dir.join("base.img");
    make_backing(&backing, MIB, 9);
    let good = dir.join("good.cow");
    write_cow(
        &good,
        Layout::V3 { alignment: 4096 },
        &backing,
        &random_dirty(2048, 10, 1),
    );
    let v3 = read(&good);
    let other_size = dir.join("other-size.img");
    make_backing(&other_size, 2 * MIB, 10);
    std::fs::create_dir(dir.join("adir")).unwrap();
    // Damaged COW files.
    std::fs::write(dir.join("truncated.cow"), &v3[..100]).unwrap();
    let mut magic = v3.clone();
    magic[0..4].copy_from_slice(b"RAW!");
    std::fs::write(dir.join("magic.cow"), &magic).unwrap();
    // A copy of the backing file with another mtime.
    let touched = dir.join("touched.img");
    copy_p(&backing, &touched);
    set_mtime(&touched, mtime(&backing) - 100);

    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "truncated header",
            vec!["truncated.cow".into(), "out.img".into()],
            "truncated",
        ),
        (
            "wrong magic",
            vec!["magic.cow".into(), "out.img".into()],
            "not a COW file",
        ),
        (
            "directory as backing",
            vec![
                "-b".into(),
                "adir".into(),
                "good.cow".into(),
                "out.img".into(),
            ],
            "directory",
        ),
        (
            "missing backing",
            vec![
                "-b".into(),
                "nope.img".into(),
                "good.cow".into(),
                "out.img".into(),
            ],
            "nope.img",
        ),
        (
            "size mismatch",
            vec![
                "-b".into(),
                "other-size.img".into(),
                "good.cow".into(),
                "out.img".into(),
            ],
            "size mismatch",
        ),
        (
            "mtime mismatch",
            vec![
                "-b".into(),
                "touched.img".into(),
                "good.cow".into(),
                "out.img".into(),
            ],
            "rebase --restore-mtime",
        ),
        (
            "output is the backing file",
            vec!["good.cow".into(), "base.img".into()],
            "base.img",
        ),
        (
            "output is the COW file",
            vec!["good.cow".into(), "good.cow".into()],
            "good.cow",
        ),
        (
            "-d with an mtime mismatch",
            vec![
                "-d".into(),
                "-b".into(),
                "touched.img".into(),
                "good.cow".into(),
            ],
            "--adopt-mtime",
        ),
        (
            "-d with a size mismatch",
            vec![
                "-d".into(),
                "-b".into(),
                "other-size.img".into(),
                "good.cow".into(),
            ],
            "size mismatch",
        ),
    ];
    for (what, args, needle) in cases {
        let files = [
            "base.img",
            "good.cow",
            "other-size.img",
            "touched.img",
            "truncated.cow",
            "magic.cow",
        ];
        let snaps: Vec<Snapshot> = files.iter().map(|f| Snapshot::take(&dir.join(f))).collect();
        let before = listing(&dir);
        let argv: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        let r = run(&moo, &argv, &dir);
        assert_ne!(r.code, 0, "{what}: {r:?}");
        assert!(
            r.stderr.contains(needle) && r.stderr.contains("fix:"),
            "{what}: message should mention {needle:?} and a fix:\n{}",
            r.stderr
        );
        assert_eq!(listing(&dir), before, "{what}: files appeared");
        for s in &snaps {
            s.assert_unchanged(what);
        }
    }
}

#[test]
fn cow_moo_argument_handling() {
    let (_t, dir) = scratch();
    let moo = ours("uml_moo");
    // The stock tool segfaults on a lone -d; both exit 1 with usage otherwise.
    for args in [
        vec![],
        vec!["-d"],
        vec!["-d", "a", "b"],
        vec!["a"],
        vec!["-b"],
    ] {
        let argv: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        let r = run(&moo, &argv, &dir);
        assert_eq!(r.code, 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains("uml_moo usage"), "{args:?}: {}", r.stderr);
    }
    // Both option orders of -d and -b work.
    let backing = dir.join("base.img");
    make_backing(&backing, MIB, 1);
    let cow = dir.join("c.cow");
    write_cow(
        &cow,
        Layout::V3 { alignment: 4096 },
        &backing,
        &[(5, Some(vec![7; 512]))],
    );
    let a = dir.join("a.img");
    copy_p(&backing, &a);
    assert!(run(&moo, &[&"-d", &"-b", &a, &cow], &dir).ok());
    let b = dir.join("b.img");
    copy_p(&backing, &b);
    assert!(run(&moo, &[&"-b", &b, &"-d", &cow], &dir).ok());
    assert_same_bytes(&a, &b);
    assert_eq!(&read(&a)[5 * 512..6 * 512], &[7u8; 512][..]);
}

/// The unnamed temporary file a merge writes shows in /proc/PID/fd as "DIR/#NNN (deleted)".
fn writing_output(pid: u32, dir: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|l| {
            let l = l.to_string_lossy().into_owned();
            l.starts_with(&*dir.to_string_lossy())
                && (l.contains("(deleted)") || l.contains(".tmp-"))
        })
    })
}

#[test]
fn cow_merge_killed_midway_leaves_no_partial_output() {
    let (_t, dir) = scratch();
    // A large, mostly empty image: 256 MiB with 64 KiB of data every 4 MiB.
    let size = 256 * MIB;
    let backing = dir.join("big.img");
    {
        let f = std::fs::File::create(&backing).unwrap();
        f.set_len(size).unwrap();
        let mut rng = Rng::new(5);
        let mut buf = vec![0u8; 65536];
        for off in (0..size).step_by(4 << 20) {
            rng.fill(&mut buf);
            std::os::unix::fs::FileExt::write_all_at(&f, &buf, off).unwrap();
        }
    }
    let cow = dir.join("big.cow");
    write_cow(
        &cow,
        Layout::V3 { alignment: 4096 },
        &backing,
        &random_dirty(size / 512, 200, 2),
    );
    let snaps = [Snapshot::take(&backing), Snapshot::take(&cow)];
    let before = listing(&dir);
    for tool in ["uml_moo", "umlcow"] {
        let out = dir.join(format!("merged-{tool}.img"));
        let mut cmd = Command::new(ours(tool));
        if tool == "umlcow" {
            cmd.arg("merge");
        }
        let mut child = cmd
            .arg(&cow)
            .arg(&out)
            .current_dir(&dir)
            .env("UML_COW_TEST_SLOW_MS", "20")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mid =
            integration_tests::wait_until(Duration::from_secs(20), || writing_output(pid, &dir));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(mid, "{tool} never opened its output");
        assert!(!status.success(), "{tool} finished before it was killed");
        assert!(!out.exists(), "{tool}: partial output under the final name");
        assert_eq!(listing(&dir), before, "{tool} left files behind");
        for s in &snaps {
            s.assert_unchanged("merge killed with SIGKILL");
        }
    }
    // Unhindered, the merge completes and keeps the image sparse.
    let out = dir.join("merged.img");
    let r = run(&ours("uml_moo"), &[&cow, &out], &dir);
    assert!(r.ok(), "{r:?}");
    let md = std::fs::metadata(&out).unwrap();
    assert_eq!(md.len(), size);
    assert!(
        std::os::unix::fs::MetadataExt::blocks(&md) * 512 < 32 * MIB,
        "merged image is not sparse"
    );
}
