//! A `ubd` word's files: paths the kernel would split, missing images and backing files, COW files
//! whose backing file changed, names given in the wrong order, files a running guest holds.

use crate::args::{Arg, Ubd};
use crate::Problem;
use std::path::{Path, PathBuf};
use uml_cow::{self as cow, CowError, CowFile, HeaderError, LockKind};

/// What a `ubd` word needs before boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskAction {
    /// Nothing.
    None,
    /// Create the COW file over the backing file.
    CreateCow { cow: PathBuf, backing: PathBuf },
}

/// The size of the COW bitmap the kernel keeps in guest memory, if known.
pub fn bitmap_bytes(u: &Ubd) -> u64 {
    if let Ok(c) = CowFile::open(Path::new(u.file()), false) {
        return c.geometry.bitmap_len;
    }
    u.backing()
        .and_then(|b| std::fs::metadata(b).ok())
        .map(|m| m.len().div_ceil(512).div_ceil(8))
        .unwrap_or(0)
}

fn tilde_hint(p: &str) -> String {
    if p.starts_with('~') {
        format!(
            " (`~` was not expanded: the shell does not expand it after `,`; write the full \
             path, e.g. {})",
            p.replacen(
                '~',
                &std::env::var("HOME").unwrap_or_else(|_| "$HOME".into()),
                1
            )
        )
    } else {
        String::new()
    }
}

fn exists(p: &str) -> bool {
    Path::new(p).symlink_metadata().is_ok()
}

/// Checks a `ubd` word's files.
pub fn check_disk(a: &Arg, u: &Ubd) -> Result<DiskAction, Vec<Problem>> {
    let mut problems = Vec::new();
    // A path with `,` or `:` that the kernel would split.
    for i in 0..u.fields.len() {
        for j in i + 1..u.fields.len() {
            let joined = u.joined(i, j);
            if !u.fields[i].is_empty() && !exists(&u.fields[i]) && exists(&joined) {
                problems.push(Problem::new(
                    format!(
                        "`{}`: the path {joined} contains `{}`, and the kernel splits ubd values \
                         at every `,` and `:`",
                        a.text, u.seps[i]
                    ),
                    format!(
                        "rename it, or make a symlink without `,` and `:` (e.g. ln -s '{joined}' \
                         disk{}.img) and name that",
                        u.index
                    ),
                ));
                return Err(problems);
            }
        }
    }
    if u.fields.len() > 3 || u.file().is_empty() {
        return Err(problems); // reported by check_words
    }
    let first = u.file();
    let given_backing = u.backing();
    let d_flag = u.has_flag('d');
    match (exists(first), given_backing) {
        (false, Some(b)) => {
            // A new COW over `b`.
            if !exists(b) {
                let hint = tilde_hint(b);
                problems.push(Problem::new(
                    format!("`{}`: the backing file {b} does not exist{hint}", a.text),
                    "name an existing disk image as the backing file (the second name in \
                     ubdN=COW,BACKING)",
                ));
                return Err(problems);
            }
            if let Ok(c) = CowFile::open(Path::new(b), false) {
                let _ = c;
                problems.push(Problem::new(
                    format!(
                        "`{}`: {b} is itself a COW file, and {first} does not exist",
                        a.text
                    ),
                    format!(
                        "a COW file cannot be the backing file of another; to boot it, name it \
                         alone: ubd{}={b} (if the names are swapped, the COW file comes first)",
                        u.unit
                    ),
                ));
                return Err(problems);
            }
            if let Some(p) = locked(Path::new(b), LockKind::Read) {
                problems.push(Problem::new(
                    format!(
                        "`{}`: the backing file {b} is in use read-write ({p})",
                        a.text
                    ),
                    "stop the guest that runs directly on the image before layering a COW over it",
                ));
                return Err(problems);
            }
            Ok(DiskAction::CreateCow {
                cow: PathBuf::from(first),
                backing: PathBuf::from(b),
            })
        }
        (false, None) => {
            let hint = tilde_hint(first);
            problems.push(Problem::new(
                format!("`{}`: the disk image {first} does not exist{hint}", a.text),
                format!(
                    "name an existing image, or put a new COW file over an image: ubd{}=NEW.cow,IMAGE",
                    u.unit
                ),
            ));
            Err(problems)
        }
        (true, _) if Path::new(first).is_dir() => {
            problems.push(Problem::new(
                format!("`{}`: {first} is a directory, not a disk image", a.text),
                "name a disk image file (a directory can be shared with --hostfs DIR)",
            ));
            Err(problems)
        }
        (true, backing) if !d_flag => match CowFile::open(Path::new(first), false) {
            Ok(c) => check_existing_cow(a, u, &c, backing).map(|()| DiskAction::None),
            Err(CowError::Header {
                source: HeaderError::NotCow { .. } | HeaderError::Short { .. },
                ..
            }) => {
                if let Some(b) = backing {
                    let swapped = CowFile::open(Path::new(b), false).is_ok();
                    problems.push(Problem::new(
                        format!(
                            "`{}`: {first} is not a COW file, but a backing file ({b}) is given",
                            a.text
                        ),
                        if swapped {
                            format!("the names are swapped: the COW file comes first: ubd{}={b},{first}", u.unit)
                        } else {
                            format!(
                                "to boot the image itself write ubd{}={first}; for a COW over it \
                                 name a new file first: ubd{}=NEW.cow,{first}",
                                u.unit, u.unit
                            )
                        },
                    ));
                    return Err(problems);
                }
                if let Some(p) = locked(Path::new(first), LockKind::Write) {
                    problems.push(Problem::new(
                        format!("`{}`: {first} is in use ({p})", a.text),
                        "stop the other guest first, or give this guest its own COW file over the \
                         image: ubdN=NEW.cow,IMAGE",
                    ));
                    return Err(problems);
                }
                Ok(DiskAction::None)
            }
            Err(e) => {
                problems.push(Problem::new(format!("`{}`: {e}", a.text), e.hint()));
                Err(problems)
            }
        },
        (true, _) => Ok(DiskAction::None),
    }
}

fn locked(path: &Path, kind: LockKind) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    cow::sys::probe_lock(&f, kind)
        .ok()
        .flatten()
        .map(|h| h.to_string())
}

/// An existing COW file: its backing file must exist and still match; the file must be free.
fn check_existing_cow(
    a: &Arg,
    u: &Ubd,
    c: &CowFile,
    given: Option<&str>,
) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    let first = u.file();
    let recorded = c.backing_path();
    if let Ok(Some(holder)) = c.lock_holder(LockKind::Write) {
        problems.push(Problem::new(
            format!("`{}`: the COW file {first} is in use ({holder})", a.text),
            "stop the guest that uses it (umlrun --list shows the running guests), or give this \
             guest its own COW file",
        ));
        return Err(problems);
    }
    let mut backing = recorded.clone();
    if let Some(g) = given {
        let gp = Path::new(g);
        if Path::new(g) != recorded.as_path() {
            match (std::fs::metadata(gp), std::fs::metadata(&recorded)) {
                (Err(_), _) => {
                    problems.push(Problem::new(
                        format!(
                            "`{}`: the backing file {g} does not exist{} (the COW file records {})",
                            a.text,
                            tilde_hint(g),
                            recorded.display()
                        ),
                        format!(
                            "name the recorded backing file: ubd{}={first},{}",
                            u.unit,
                            recorded.display()
                        ),
                    ));
                    return Err(problems);
                }
                (Ok(gm), Ok(rm)) if same_file(&gm, &rm) => {}
                (Ok(_), _) => {
                    // The kernel switches to `g` if it matches the header, else silently uses
                    // the recorded file.
                    let info = match c.inspect_backing(Some(gp)) {
                        Ok(i) => i,
                        Err(e) => {
                            problems.push(Problem::new(format!("`{}`: {e}", a.text), e.hint()));
                            return Err(problems);
                        }
                    };
                    if let Err(e) = info.validate(&c.path, &c.header) {
                        problems.push(Problem::new(
                            format!(
                                "`{}`: {first} was made over {}, and {g} does not match it ({e}); \
                                 the kernel would silently use {} instead",
                                a.text,
                                recorded.display(),
                                recorded.display()
                            ),
                            format!(
                                "name the recorded backing file, or if {g} is the same image, \
                                 record it with `umlcow rebase {first} {g}`",
                            ),
                        ));
                        return Err(problems);
                    }
                    if !c.header.is_canonical() && c.header.version.number() < 3 {
                        problems.push(Problem::new(
                            format!(
                                "`{}`: the kernel would switch the v{} COW file {first} to {g} by \
                                 rewriting its header as v3, which corrupts its bitmap",
                                a.text,
                                c.header.version.number()
                            ),
                            format!("convert it first: `umlcow convert {first}`"),
                        ));
                        return Err(problems);
                    }
                    backing = gp.to_path_buf();
                }
            }
        }
    }
    if !backing.exists() {
        problems.push(Problem::new(
            format!(
                "`{}`: the backing file {} recorded in the COW file {first} does not exist",
                a.text,
                backing.display()
            ),
            format!(
                "if the image moved, record its new place with `umlcow rebase {first} NEW_PATH` \
                 (or name it: ubd{}={first},NEW_PATH)",
                u.unit
            ),
        ));
        return Err(problems);
    }
    let info = c.inspect_backing(Some(&backing)).and_then(|i| {
        i.validate(&c.path, &c.header)?;
        Ok(i)
    });
    if let Err(e) = info {
        let fix = match &e {
            CowError::MtimeMismatch { .. } => format!(
                "if the content of {} is unchanged, `umlcow rebase --restore-mtime {first}` sets \
                 its mtime back, or `umlcow rebase --adopt-mtime {first}` records the new one; \
                 if the image really changed, the COW file no longer fits it",
                backing.display()
            ),
            CowError::SizeMismatch { .. } => format!(
                "this is not the image {first} was made over (or it was resized); name the right \
                 one with `umlcow rebase {first} PATH`"
            ),
            other => other.hint(),
        };
        problems.push(Problem::new(format!("`{}`: {e}", a.text), fix));
        return Err(problems);
    }
    if let Some(p) = locked(&backing, LockKind::Read) {
        problems.push(Problem::new(
            format!(
                "`{}`: the backing file {} is in use read-write ({p})",
                a.text,
                backing.display()
            ),
            "stop the guest that runs directly on the image",
        ));
        return Err(problems);
    }
    Ok(())
}

fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Word;

    #[test]
    fn disk_path_with_a_comma() {
        let t = tempfile::tempdir().unwrap();
        let odd = t.path().join("my,disk.img");
        std::fs::write(&odd, vec![0u8; 1 << 16]).unwrap();
        let w = format!("ubd0={}", odd.display());
        let a = crate::args::Arg::parse(&w);
        let Word::Ubd(u) = &a.word else { panic!() };
        let p = check_disk(&a, u).unwrap_err();
        assert!(p[0].what.contains("contains `,`"), "{:?}", p);
    }

    #[test]
    fn disks() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().canonicalize().unwrap();
        let img = d.join("rootfs.img");
        std::fs::write(&img, vec![0u8; 1 << 20]).unwrap();
        let parse = |w: String| {
            let a = crate::args::Arg::parse(&w);
            let Word::Ubd(u) = a.word.clone() else {
                panic!()
            };
            (a, u)
        };
        // New COW: created by us.
        let cowp = d.join("h1.cow");
        let (a, u) = parse(format!("ubd0={},{}", cowp.display(), img.display()));
        assert_eq!(
            check_disk(&a, &u).unwrap(),
            DiskAction::CreateCow {
                cow: cowp.clone(),
                backing: img.clone()
            }
        );
        // Missing backing file.
        let (a, u) = parse(format!(
            "ubd0={},{}",
            cowp.display(),
            d.join("nope.img").display()
        ));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("does not exist"), "{p:?}");
        // Existing, valid COW.
        uml_cow::create(&cowp, &img, &Default::default()).unwrap();
        let (a, u) = parse(format!("ubd0={},{}", cowp.display(), img.display()));
        assert_eq!(check_disk(&a, &u).unwrap(), DiskAction::None);
        let (a, u) = parse(format!("ubd0={}", cowp.display()));
        assert_eq!(check_disk(&a, &u).unwrap(), DiskAction::None);
        // Swapped names.
        let (a, u) = parse(format!("ubd0={},{}", img.display(), cowp.display()));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(
            p[0].fix.contains("swapped") || p[0].fix.contains("name it alone"),
            "{p:?}"
        );
        // The backing file's mtime changed.
        let f = std::fs::File::options().write(true).open(&img).unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(100))
            .unwrap();
        let (a, u) = parse(format!("ubd0={},{}", cowp.display(), img.display()));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("mtime"), "{p:?}");
        assert!(p[0].fix.contains("umlcow rebase"), "{p:?}");
        // ... or its size.
        f.set_len(2 << 20).unwrap();
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("size"), "{p:?}");
        assert!(p[0].fix.contains("umlcow rebase"), "{p:?}");
        // The recorded backing file is gone.
        std::fs::remove_file(&img).unwrap();
        let (a, u) = parse(format!("ubd0={}", cowp.display()));
        let p = check_disk(&a, &u).unwrap_err();
        assert!(p[0].what.contains("does not exist"), "{p:?}");
        assert!(p[0].fix.contains("umlcow rebase"), "{p:?}");
        // A missing image.
        let (a, u) = parse(format!("ubd1={}", d.join("none.img").display()));
        assert!(check_disk(&a, &u).is_err());
    }
}
