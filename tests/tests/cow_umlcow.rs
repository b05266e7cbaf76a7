//! `umlcow`: info (text and JSON), check exit codes per failure class, create, merge, commit
//! (locks, siblings, reset), rebase (moved backing, --adopt-mtime, --restore-mtime), convert.

use integration_tests::cow::*;
use std::os::unix::io::AsRawFd;
use std::path::Path;

const MIB: u64 = 1 << 20;

fn umlcow(args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path) -> Ran {
    run(&ours("umlcow"), args, dir)
}

fn json(r: &Ran) -> serde_like::Value {
    serde_like::parse(&r.stdout)
}

/// A child process holding a POSIX `fcntl` lock over a whole file, as a running UML kernel
/// does (a process never conflicts with its own POSIX locks, hence the child). The lock goes
/// when this is dropped.
struct ChildLock {
    pid: i32,
    release: i32,
}

fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: pipe with a valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

fn lock_in_child(path: &Path, write: bool) -> ChildLock {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)
        .unwrap();
    let (ready_r, ready_w) = pipe();
    let (release_r, release_w) = pipe();
    // SAFETY: the child only makes async-signal-safe calls (fcntl, write, read, close, _exit)
    // on descriptors opened before the fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        unsafe {
            libc::close(release_w);
            let mut fl: libc::flock = std::mem::zeroed();
            fl.l_type = if write { libc::F_WRLCK } else { libc::F_RDLCK } as libc::c_short;
            fl.l_whence = libc::SEEK_SET as libc::c_short;
            let ok: u8 = (libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &fl) == 0) as u8;
            libc::write(ready_w, &ok as *const u8 as *const libc::c_void, 1);
            let mut b = 0u8;
            // Until the parent closes its end (or dies).
            libc::read(release_r, &mut b as *mut u8 as *mut libc::c_void, 1);
            libc::_exit(0);
        }
    }
    drop(f);
    let mut ok = 0u8;
    // SAFETY: our own pipe ends.
    unsafe {
        libc::close(ready_w);
        libc::close(release_r);
        libc::read(ready_r, &mut ok as *mut u8 as *mut libc::c_void, 1);
        libc::close(ready_r);
    }
    let lock = ChildLock {
        pid,
        release: release_w,
    };
    assert_eq!(ok, 1, "child could not lock {}", path.display());
    lock
}

impl Drop for ChildLock {
    fn drop(&mut self) {
        // SAFETY: releasing and reaping our own child.
        unsafe {
            libc::close(self.release);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// A minimal JSON reader for the few fields the tests look at (keeps the test crate's
/// dependencies as they are).
mod serde_like {
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
        Arr(Vec<Value>),
        Obj(Vec<(String, Value)>),
    }
    impl Value {
        pub fn get(&self, key: &str) -> &Value {
            match self {
                Value::Obj(v) => v
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v)
                    .unwrap_or(&Value::Null),
                _ => &Value::Null,
            }
        }
        pub fn num(&self) -> f64 {
            match self {
                Value::Num(n) => *n,
                other => panic!("not a number: {other:?}"),
            }
        }
        pub fn str(&self) -> &str {
            match self {
                Value::Str(s) => s,
                other => panic!("not a string: {other:?}"),
            }
        }
    }
    pub fn parse(s: &str) -> Value {
        let b: Vec<char> = s.chars().collect();
        let mut i = 0;
        value(&b, &mut i)
    }
    fn ws(b: &[char], i: &mut usize) {
        while *i < b.len() && b[*i].is_whitespace() {
            *i += 1;
        }
    }
    fn value(b: &[char], i: &mut usize) -> Value {
        ws(b, i);
        match b[*i] {
            '{' => {
                *i += 1;
                let mut v = Vec::new();
                loop {
                    ws(b, i);
                    if b[*i] == '}' {
                        *i += 1;
                        return Value::Obj(v);
                    }
                    let Value::Str(k) = value(b, i) else {
                        panic!("key")
                    };
                    ws(b, i);
                    *i += 1; // ':'
                    let x = value(b, i);
                    v.push((k, x));
                    ws(b, i);
                    if b[*i] == ',' {
                        *i += 1;
                    }
                }
            }
            '[' => {
                *i += 1;
                let mut v = Vec::new();
                loop {
                    ws(b, i);
                    if b[*i] == ']' {
                        *i += 1;
                        return Value::Arr(v);
                    }
                    v.push(value(b, i));
                    ws(b, i);
                    if b[*i] == ',' {
                        *i += 1;
                    }
                }
            }
            '"' => {
                *i += 1;
                let mut s = String::new();
                while b[*i] != '"' {
                    if b[*i] == '\\' {
                        *i += 1;
                        match b[*i] {
                            'n' => s.push('\n'),
                            'u' => {
                                let h: String = b[*i + 1..*i + 5].iter().collect();
                                s.push(
                                    char::from_u32(u32::from_str_radix(&h, 16).unwrap())
                                        .unwrap_or('?'),
                                );
                                *i += 4;
                            }
                            c => s.push(c),
                        }
                    } else {
                        s.push(b[*i]);
                    }
                    *i += 1;
                }
                *i += 1;
                Value::Str(s)
            }
            't' => {
                *i += 4;
                Value::Bool(true)
            }
            'f' => {
                *i += 5;
                Value::Bool(false)
            }
            'n' => {
                *i += 4;
                Value::Null
            }
            _ => {
                let st = *i;
                while *i < b.len() && (b[*i].is_ascii_digit() || "+-.eE".contains(b[*i])) {
                    *i += 1;
                }
                Value::Num(b[st..*i].iter().collect::<String>().parse().unwrap())
            }
        }
    }
}

use serde_like::Value;

#[test]
fn cow_umlcow_info_reports_header_dirty_data_backing_and_locks() {
    let (_t, dir) = scratch();
    let backing = dir.join("base.img");
    make_backing(&backing, 4 * MIB, 1);
    let cow = dir.join("c.cow");
    // 3 runs: sectors 10..13 (data), 100 (a hole: zeros), 8191 (last).
    let dirty = vec![
        (10, Some(vec![1; 512])),
        (11, Some(vec![2; 512])),
        (12, Some(vec![3; 512])),
        (100, None),
        (8191, Some(vec![4; 512])),
    ];
    write_cow(&cow, Layout::V3 { alignment: 4096 }, &backing, &dirty);
    let r = umlcow(&[&"info", &"--json", &cow], &dir);
    assert!(r.ok(), "{r:?}");
    let v = json(&r);
    assert_eq!(v.get("version").num(), 3.0);
    assert_eq!(v.get("canonical"), &Value::Bool(true));
    assert_eq!(v.get("backing_file").str(), backing.to_str().unwrap());
    assert_eq!(v.get("size").num(), (4 * MIB) as f64);
    assert_eq!(v.get("mtime").num(), mtime(&backing) as f64);
    assert_eq!(v.get("geometry").get("data_offset").num(), 12288.0);
    assert_eq!(v.get("dirty").get("sectors").num(), 5.0);
    assert_eq!(v.get("dirty").get("bytes").num(), 2560.0);
    assert_eq!(v.get("dirty").get("runs").num(), 3.0);
    assert_eq!(v.get("dirty").get("hole_bytes").num(), 512.0);
    assert_eq!(v.get("backing").get("size").num(), (4 * MIB) as f64);
    assert_eq!(v.get("valid"), &Value::Bool(true));
    assert_eq!(v.get("locks").get("cow"), &Value::Null);
    // Text form, and a lock held like a running kernel holds it.
    let _lock = lock_in_child(&cow, true);
    let r = umlcow(&[&"info", &cow], &dir);
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout
            .contains("dirty:         5 sectors, 2560 bytes, in 3 runs"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("valid:         yes"), "{}", r.stdout);
    assert!(
        r.stdout.contains("write lock held by process"),
        "{}",
        r.stdout
    );
}

#[test]
fn cow_umlcow_check_exit_codes() {
    let (_t, dir) = scratch();
    let backing = dir.join("base.img");
    make_backing(&backing, MIB, 2);
    let good = dir.join("good.cow");
    write_cow(
        &good,
        Layout::V3 { alignment: 4096 },
        &backing,
        &random_dirty(2048, 5, 1),
    );
    let v3 = read(&good);
    let put = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let raw = put("raw.cow", &vec![0u8; 8192]);
    let truncated = put("truncated.cow", &v3[..200]);
    let mut bad_version = v3.clone();
    bad_version[7] = 9;
    let bad_version = put("version.cow", &bad_version);
    let short_bitmap = put("shortbitmap.cow", &v3[..8200]);
    let other = dir.join("other.img");
    make_backing(&other, 2 * MIB, 3);
    let touched = dir.join("touched.img");
    copy_p(&backing, &touched);
    set_mtime(&touched, mtime(&backing) + 5);
    std::fs::create_dir(dir.join("adir")).unwrap();

    let b = |p: &str| dir.join(p);
    let cases: Vec<(&str, Vec<std::ffi::OsString>, i32)> = vec![
        ("valid", vec![good.clone().into()], 0),
        ("missing COW file", vec![b("nope.cow").into()], 1),
        ("not a COW file", vec![raw.into()], 3),
        ("truncated header", vec![truncated.into()], 4),
        ("bad version", vec![bad_version.into()], 4),
        ("bitmap cut short", vec![short_bitmap.into()], 5),
        (
            "backing missing",
            vec!["-b".into(), b("nope.img").into(), good.clone().into()],
            6,
        ),
        (
            "backing is a directory",
            vec!["-b".into(), b("adir").into(), good.clone().into()],
            6,
        ),
        (
            "size mismatch",
            vec!["-b".into(), other.into(), good.clone().into()],
            7,
        ),
        (
            "mtime mismatch",
            vec!["-b".into(), touched.into(), good.clone().into()],
            8,
        ),
    ];
    for (what, args, code) in cases {
        let mut argv: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"check"];
        argv.extend(args.iter().map(|a| a as &dyn AsRef<std::ffi::OsStr>));
        let r = umlcow(&argv, &dir);
        assert_eq!(r.code, code, "{what}: {r:?}");
        if code != 0 {
            assert!(r.stderr.contains("fix:"), "{what}: no fix in {}", r.stderr);
        }
    }
    let _lock = lock_in_child(&good, true);
    let r = umlcow(&[&"check", &good], &dir);
    assert_eq!(r.code, 9, "locked: {r:?}");
    // Legacy layouts are valid but warned about; --strict turns warnings into exit 10.
    let v2 = dir.join("v2.cow");
    write_cow(&v2, Layout::V2, &backing, &[]);
    let r = umlcow(&[&"check", &v2], &dir);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("umlcow convert"), "{}", r.stderr);
    assert_eq!(umlcow(&[&"check", &"--strict", &v2], &dir).code, 10);
}

#[test]
fn cow_umlcow_create_and_merge() {
    let (_t, dir) = scratch();
    let backing = dir.join("base.img");
    make_backing(&backing, 2 * MIB, 4);
    let r = umlcow(&[&"create", &"a.cow", &"base.img"], &dir);
    assert!(r.ok(), "{r:?}");
    // Same file as uml_mkcow makes.
    assert!(run(&ours("uml_mkcow"), &[&"m.cow", &"base.img"], &dir).ok());
    assert_same_bytes(&dir.join("a.cow"), &dir.join("m.cow"));
    // No overwrite without --force.
    let r = umlcow(&[&"create", &"a.cow", &"base.img"], &dir);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert!(umlcow(&[&"create", &"--force", &"a.cow", &"base.img"], &dir).ok());

    let cow = dir.join("d.cow");
    write_cow(
        &cow,
        Layout::V3 { alignment: 4096 },
        &backing,
        &random_dirty(4096, 30, 9),
    );
    let out = dir.join("out.img");
    let r = umlcow(&[&"merge", &"--quiet", &cow, &out], &dir);
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.stdout, "", "--quiet prints nothing");
    let moo = dir.join("moo.img");
    assert!(run(&ours("uml_moo"), &[&cow, &moo], &dir).ok());
    assert_same_bytes(&out, &moo);
    // An existing output is not replaced without --force; never the backing file.
    let snap = Snapshot::take(&out);
    let r = umlcow(&[&"merge", &cow, &out], &dir);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    snap.assert_unchanged("merge without --force");
    let r = umlcow(&[&"merge", &"--force", &cow, &backing], &dir);
    assert_eq!(r.code, 1);
    assert!(umlcow(&[&"merge", &"--force", &cow, &out], &dir).ok());
}

#[test]
fn cow_umlcow_commit_locks_siblings_and_reset() {
    let (_t, dir) = scratch();
    let backing = dir.join("base.img");
    make_backing(&backing, 2 * MIB, 5);
    let cow = dir.join("a.cow");
    write_cow(
        &cow,
        Layout::V3 { alignment: 4096 },
        &backing,
        &random_dirty(4096, 20, 5),
    );
    let expected = dir.join("expected.img");
    assert!(run(&ours("uml_moo"), &[&cow, &expected], &dir).ok());
    // Another COW file on the same backing file, in another directory.
    std::fs::create_dir(dir.join("other")).unwrap();
    let sibling = dir.join("other/b.cow");
    write_cow(&sibling, Layout::V3 { alignment: 4096 }, &backing, &[]);

    let snap = Snapshot::take(&backing);
    // A guest using the backing file (read lock) blocks the commit.
    {
        let _lock = lock_in_child(&backing, false);
        let r = umlcow(&[&"commit", &"--force", &cow], &dir);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains("in use") && r.stderr.contains("base.img"),
            "{}",
            r.stderr
        );
        snap.assert_unchanged("commit while the backing file is in use");
    }
    // Siblings are listed and make it refuse without --force.
    let r = umlcow(&[&"commit", &"--search", &"other", &cow], &dir);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("other/b.cow") && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    snap.assert_unchanged("commit refused because of siblings");
    let r = umlcow(
        &[&"commit", &"--dry-run", &"--search", &"other", &cow],
        &dir,
    );
    assert!(r.ok() && r.stdout.contains("would write"), "{r:?}");
    snap.assert_unchanged("dry run");
    // Without siblings in the searched directories it goes ahead; --reset leaves a valid,
    // empty COW file.
    let r = umlcow(&[&"commit", &"--reset", &cow], &dir);
    assert!(r.ok(), "{r:?}");
    assert_same_bytes(&backing, &expected);
    let r = umlcow(&[&"info", &"--json", &cow], &dir);
    let v = json(&r);
    assert_eq!(v.get("valid"), &Value::Bool(true), "{}", r.stdout);
    assert_eq!(v.get("dirty").get("sectors").num(), 0.0);
    // The sibling is now invalid, as the listing warned.
    assert_eq!(umlcow(&[&"check", &sibling], &dir).code, 8);
}

#[test]
fn cow_umlcow_rebase() {
    let (_t, dir) = scratch();
    let backing = dir.join("base.img");
    make_backing(&backing, 2 * MIB, 6);
    let cow = dir.join("c.cow");
    write_cow(
        &cow,
        Layout::V3 { alignment: 4096 },
        &backing,
        &random_dirty(4096, 10, 6),
    );
    let expected = dir.join("expected.img");
    assert!(run(&ours("uml_moo"), &[&cow, &expected], &dir).ok());
    // Moved (mtime kept): rebase records the new path.
    std::fs::rename(&backing, dir.join("moved.img")).unwrap();
    assert_eq!(umlcow(&[&"check", &cow], &dir).code, 6);
    let r = umlcow(&[&"rebase", &cow, &"moved.img"], &dir);
    assert!(r.ok(), "{r:?}");
    assert_eq!(umlcow(&[&"check", &cow], &dir).code, 0);
    let out = dir.join("after-move.img");
    assert!(run(&ours("uml_moo"), &[&cow, &out], &dir).ok());
    assert_same_bytes(&out, &expected);
    // Copied without -p (new mtime): refused, with both fixes named.
    let copy = dir.join("copy.img");
    std::fs::copy(dir.join("moved.img"), &copy).unwrap();
    set_mtime(&copy, mtime(&dir.join("moved.img")) + 1000);
    let snap = Snapshot::take(&cow);
    let r = umlcow(&[&"rebase", &cow, &copy], &dir);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--adopt-mtime") && r.stderr.contains("--restore-mtime"),
        "{}",
        r.stderr
    );
    snap.assert_unchanged("rebase refused");
    // --restore-mtime sets the copy's mtime back.
    let r = umlcow(&[&"rebase", &"--restore-mtime", &cow, &copy], &dir);
    assert!(r.ok(), "{r:?}");
    assert_eq!(mtime(&copy), mtime(&dir.join("moved.img")));
    assert_eq!(umlcow(&[&"check", &cow], &dir).code, 0);
    // --adopt-mtime records a new one.
    set_mtime(&copy, mtime(&copy) + 77);
    assert_eq!(umlcow(&[&"check", &cow], &dir).code, 8);
    let r = umlcow(&[&"rebase", &"--adopt-mtime", &cow], &dir);
    assert!(r.ok(), "{r:?}");
    assert_eq!(umlcow(&[&"check", &cow], &dir).code, 0);
    let out = dir.join("after-adopt.img");
    assert!(run(&ours("uml_moo"), &[&cow, &out], &dir).ok());
    assert_same_bytes(&out, &expected);
    // Older layouts must be converted first.
    let v2 = dir.join("v2.cow");
    write_cow(&v2, Layout::V2, &copy, &[]);
    let r = umlcow(&[&"rebase", &v2, &"moved.img"], &dir);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("umlcow convert"), "{}", r.stderr);
}

#[test]
fn cow_umlcow_convert_legacy_layouts() {
    let (_t, dir) = scratch();
    let backing = dir.join("base.img");
    // 2 MiB + 1536: a sector count that is not a multiple of 8 (the v1/v2 rounding bug).
    let size = 2 * MIB + 1536;
    make_backing(&backing, size, 7);
    let sectors = size / 512;
    for (tag, layout) in [
        ("v1", Layout::V1),
        ("v2", Layout::V2),
        ("broken", Layout::V3Broken { alignment: 4096 }),
        ("v3a512", Layout::V3 { alignment: 512 }),
    ] {
        let cow = dir.join(format!("{tag}.cow"));
        let mut dirty = random_dirty(sectors - 8, 25, 3);
        dirty.push((sectors - 1, Some(vec![0xEE; 512])));
        write_cow(&cow, layout, &backing, &dirty);
        let before = dir.join(format!("{tag}-before.img"));
        assert!(run(&ours("uml_moo"), &[&cow, &before], &dir).ok());
        let r = umlcow(&[&"convert", &cow], &dir);
        assert!(r.ok(), "{tag}: {r:?}");
        let v = json(&umlcow(&[&"info", &"--json", &cow], &dir));
        assert_eq!(v.get("canonical"), &Value::Bool(true), "{tag}");
        assert_eq!(v.get("valid"), &Value::Bool(true), "{tag}");
        assert_eq!(v.get("dirty").get("sectors").num(), {
            let mut s: Vec<u64> = dirty.iter().map(|d| d.0).collect();
            s.sort();
            s.dedup();
            s.len() as f64
        });
        let after = dir.join(format!("{tag}-after.img"));
        assert!(run(&ours("uml_moo"), &[&cow, &after], &dir).ok());
        assert_same_bytes(&before, &after);
        // The last sector's data survived the move.
        assert!(
            read(&after)[(size - 512) as usize..]
                .iter()
                .all(|&b| b == 0xEE),
            "{tag}"
        );
        // Converting again changes nothing.
        let snap = Snapshot::take(&cow);
        assert!(umlcow(&[&"convert", &cow], &dir).ok());
        snap.assert_unchanged("second convert");
    }
}
