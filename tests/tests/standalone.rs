//! The repository is the whole project: nothing in it needs anything beside it.
//!
//! * No file of the repository refers to a folder outside it (the reference material the
//!   project was started from lives outside; what the code and READMEs need of it is in
//!   `docs/`).
//! * Every `docs/*.md` a file names, and every relative Markdown link, exists.
//! * A copy of the repository's files in an empty temporary directory builds (every binary of
//!   the workspace) and runs the benchmark harness's smoke check there: the parts that once
//!   needed an outside kit (the libvdeplug load generator and the machine floor). The copy is
//!   built with its own target directory, `<target>/standalone`, kept between runs so that only
//!   the workspace's own crates are compiled again (in CI the first run compiles the
//!   dependencies too, about a minute and a half on two cores); building the whole test suite
//!   there as well would cost another full build for little more assurance, since the tests
//!   find their programs the way the binaries do and the first two checks cover the files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap()
}

/// The repository's files: what git tracks (plus new files not ignored), or, without git,
/// everything but build output.
fn repository_files(root: &Path) -> Vec<PathBuf> {
    let git = Command::new("git")
        .arg("-C")
        .arg(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stderr(Stdio::null())
        .output();
    if let Some(out) = git.ok().filter(|o| o.status.success()) {
        let files: BTreeSet<PathBuf> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .filter(|p| root.join(p).is_file())
            .collect();
        return files.into_iter().collect();
    }
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            let name = e.file_name();
            if name == ".git" || rel == Path::new("target") || rel.starts_with("fuzz/target") {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(&p, root, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn text_files(root: &Path) -> Vec<(PathBuf, String)> {
    repository_files(root)
        .into_iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(root.join(&p)).ok()?;
            Some((p, text))
        })
        .collect()
}

#[test]
fn no_file_refers_to_a_folder_beside_the_repository() {
    let root = workspace();
    // Spelled in pieces so that this file does not match itself.
    let outside = ["..", "/shared"].concat();
    let needles = [
        outside.as_str(),
        &["shared", "/reference/"].concat(),
        &["shared", "/bench/"].concat(),
        &["/work", "/shared"].concat(),
    ];
    let mut hits = Vec::new();
    for (path, text) in text_files(&root) {
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) {
                hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "files refer to a folder outside the repository:\n{}",
        hits.join("\n")
    );
}

/// Relative links of Markdown files and `docs/NAME.md` mentions anywhere that do not exist.
fn broken_links(root: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    for (path, text) in text_files(root) {
        let dir = path.parent().unwrap_or(Path::new(""));
        if path.extension().is_some_and(|e| e == "md") {
            for target in markdown_links(&text) {
                let file = target.split('#').next().unwrap_or("");
                if file.is_empty() || file.contains("://") || file.starts_with("mailto:") {
                    continue;
                }
                if !root.join(dir).join(file).exists() {
                    broken.push(format!("{}: link to {target}", path.display()));
                }
            }
        }
        // Markdown files are checked by their links; this file names missing pages on purpose.
        if path.extension().is_some_and(|e| e == "md") || path.ends_with(file!()) {
            continue;
        }
        for mention in docs_mentions(&text) {
            if !root.join(&mention).exists() {
                broken.push(format!("{}: mentions {mention}", path.display()));
            }
        }
    }
    broken
}

/// Targets of `[text](target)` links.
fn markdown_links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// `docs/NAME.md` paths named anywhere in a text.
fn docs_mentions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("docs/") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_./".contains(c)))
            .unwrap_or(tail.len());
        let word = tail[..end].trim_end_matches('.');
        let before = rest[..i].chars().last();
        if word.ends_with(".md") && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '/') {
            out.push(word.to_string());
        }
        rest = &rest[i + 5..];
    }
    out
}

#[test]
fn documentation_links_resolve() {
    let broken = broken_links(&workspace());
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn link_checks_find_broken_links() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("docs")).unwrap();
    std::fs::write(tmp.path().join("docs/here.md"), "# here\n").unwrap();
    std::fs::write(
        tmp.path().join("README.md"),
        "[ok](docs/here.md#top) [web](https://example.org) [bad](docs/gone.md)\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("a.rs"),
        "// see `docs/here.md` and docs/missing.md.\n",
    )
    .unwrap();
    let broken = broken_links(tmp.path());
    assert_eq!(
        broken,
        [
            "README.md: link to docs/gone.md",
            "a.rs: mentions docs/missing.md"
        ]
    );
}

/// Copy `files` of `from` into `to`, keeping their modification times (so that cargo, which
/// fingerprints by time, rebuilds only what changed since the last copy) and modes.
fn copy_tree(from: &Path, to: &Path, files: &[PathBuf]) {
    for f in files {
        let (src, dst) = (from.join(f), to.join(f));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        let mtime = std::fs::metadata(&src).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&dst)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }
}

#[test]
fn a_copy_with_nothing_beside_it_builds_and_benchmarks() {
    let root = workspace();
    // <target>/debug/deps/this-test: the copy gets its own target directory beside debug/.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let target_dir = target.join("standalone");
    // The copy's parent holds nothing else; its name is unique per work tree so that parallel
    // runs in other work trees do not collide.
    let tag = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        root.hash(&mut h);
        h.finish()
    };
    let parent = std::env::temp_dir().join(format!("vde-rs-standalone-{tag:016x}"));
    let _ = std::fs::remove_dir_all(&parent);
    let copy = parent.join("vde-rs");
    copy_tree(&root, &copy, &repository_files(&root));
    let beside: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, ["vde-rs"], "the copy is not alone");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = Command::new(&cargo)
        .args(["build", "--workspace", "--bins", "--locked", "--offline"])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&copy)
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run cargo");
    assert!(
        build.status.success(),
        "cargo build in {} failed:\n{}",
        copy.display(),
        String::from_utf8_lossy(&build.stderr)
    );

    let bin = target_dir.join("debug");
    let work = parent.join("smoke");
    let out = Command::new(bin.join("vdeperf"))
        .args(["--smoke", "--only", "goals,floor", "--ours"])
        .arg(bin.join("vde_switch"))
        .arg("--work-dir")
        .arg(&work)
        .current_dir(&copy)
        .stdin(Stdio::null())
        .output()
        .expect("run vdeperf");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vdeperf --smoke from the copy failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "| 1→1 switch CPU per 64 B frame",
        "| one send + one recv",
        "\n- clients: vdeperf load of ",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
    let broken = broken_links(&copy);
    assert!(
        broken.is_empty(),
        "broken links in the copy:\n{}",
        broken.join("\n")
    );
    let _ = std::fs::remove_dir_all(&parent);
}
