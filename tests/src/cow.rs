//! COW disk tools: our `uml_mkcow`, `uml_moo` and `umlcow` next to the stock uml-utilities
//! tools, COW files of every layout built here straight from the format description (not with
//! the library under test), and stock UML kernels booting a busybox guest with extra disks.
//!
//! * `UML_MKCOW_BIN`, `UML_MOO_BIN`, `UMLCOW_BIN` override the binaries under test.
//! * The stock tools are `/usr/bin/uml_mkcow` and `/usr/bin/uml_moo` (package uml-utilities);
//!   tests that compare with them fail when they are missing (see [`crate::needs`]).

use crate::proc::{run_with_timeout, wait_until};
use crate::uml::{base_words, busybox_tree, Kernel};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// Longest any single tool run may take in a test.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Our build of `name` (`uml_mkcow`, `uml_moo`, `umlcow`).
pub fn ours(name: &str) -> PathBuf {
    let var = format!("{}_BIN", name.to_uppercase());
    crate::bins::workspace_bin(&var, name)
}

/// The stock tool `/usr/bin/<name>` (package uml-utilities); see [`crate::needs`].
pub fn stock(name: &str) -> Option<PathBuf> {
    crate::needs::program(&format!("/usr/bin/{name}"), "uml-utilities")
}

/// A fresh scratch directory (canonical path, so recorded backing paths compare equal).
pub fn scratch() -> (TempDir, PathBuf) {
    let t = tempfile::Builder::new().prefix("cowt-").tempdir().unwrap();
    let p = t.path().canonicalize().unwrap();
    (t, p)
}

/// How a tool run ended.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == 0
    }
}

/// Runs `prog args...` in `cwd`, at most [`TOOL_TIMEOUT`].
pub fn run(prog: &Path, args: &[&dyn AsRef<std::ffi::OsStr>], cwd: &Path) -> Ran {
    run_env(prog, args, cwd, &[])
}

/// [`run`] with extra environment variables.
pub fn run_env(
    prog: &Path,
    args: &[&dyn AsRef<std::ffi::OsStr>],
    cwd: &Path,
    env: &[(&str, &str)],
) -> Ran {
    let mut cmd = Command::new(prog);
    cmd.current_dir(cwd);
    for a in args {
        cmd.arg(a.as_ref());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let f = run_with_timeout(&mut cmd, TOOL_TIMEOUT);
    let status = f.status.unwrap_or_else(|| {
        panic!(
            "{} {:?} did not finish in {TOOL_TIMEOUT:?}",
            prog.display(),
            cmd.get_args().collect::<Vec<_>>()
        )
    });
    Ran {
        code: status.code().unwrap_or_else(|| {
            128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
        }),
        stdout: f.stdout,
        stderr: f.stderr,
    }
}

/// A small deterministic generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes a sparse backing image of `size` bytes: pseudo-random data in about half of its
/// 64 KiB blocks (some of them zeros written as data), holes elsewhere.
pub fn make_backing(path: &Path, size: u64, seed: u64) {
    let f = File::create(path).unwrap();
    f.set_len(size).unwrap();
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; 65536];
    let mut off = 0;
    while off < size {
        let n = (size - off).min(65536) as usize;
        match rng.below(4) {
            0 | 1 => {
                rng.fill(&mut buf[..n]);
                f.write_all_at(&buf[..n], off).unwrap();
            }
            2 if rng.below(4) == 0 => {
                buf[..n].fill(0);
                f.write_all_at(&buf[..n], off).unwrap();
            }
            _ => {}
        }
        off += n as u64;
    }
}

/// `st_mtime` in whole seconds.
pub fn mtime(path: &Path) -> i64 {
    std::fs::metadata(path).unwrap().mtime()
}

/// Sets the mtime (whole seconds) of `path`.
pub fn set_mtime(path: &Path, secs: i64) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(secs as u64))
        .unwrap();
}

/// Copies a file keeping holes and the mtime (`cp --sparse=always -p`).
pub fn copy_p(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .args(["--sparse=always", "-p"])
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -p {} {}", from.display(), to.display());
}

/// The COW header layouts, as the format description gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Little-endian (x86) v1.
    V1,
    V2,
    V3 {
        alignment: u32,
    },
    /// v3 written by 64-bit builds before Dec 2005.
    V3Broken {
        alignment: u32,
    },
}

/// Where a layout puts the bitmap and the data: `(bitmap_offset, bitmap_len, data_offset)`.
pub fn geometry(layout: Layout, size: u64) -> (u64, u64, u64) {
    let up = |x: u64, a: u64| x.div_ceil(a) * a;
    match layout {
        Layout::V1 | Layout::V2 => {
            let bo = if layout == Layout::V1 { 280 } else { 4120 };
            let bl = (size + 511) / (8 * 512);
            (bo, bl, up(bo + bl, 512))
        }
        Layout::V3 { alignment } | Layout::V3Broken { alignment } => {
            let hl = if matches!(layout, Layout::V3 { .. }) {
                4128
            } else {
                4136
            };
            let a = alignment as u64;
            let bo = up(hl, a);
            let bl = size.div_ceil(512).div_ceil(8);
            (bo, bl, up(bo + bl, a))
        }
    }
}

/// The header bytes of a layout.
pub fn header_bytes(layout: Layout, backing: &[u8], mtime: u32, size: u64) -> Vec<u8> {
    let magic = 0x4F4F_4F4Du32;
    match layout {
        Layout::V1 => {
            let mut b = vec![0u8; 280];
            b[0..4].copy_from_slice(&magic.to_le_bytes());
            b[4..8].copy_from_slice(&1u32.to_le_bytes());
            b[8..8 + backing.len()].copy_from_slice(backing);
            b[264..268].copy_from_slice(&mtime.to_le_bytes());
            b[268..276].copy_from_slice(&size.to_le_bytes());
            b[276..280].copy_from_slice(&512u32.to_le_bytes());
            b
        }
        Layout::V2 => {
            let mut b = vec![0u8; 4120];
            b[0..4].copy_from_slice(&magic.to_be_bytes());
            b[4..8].copy_from_slice(&2u32.to_be_bytes());
            b[8..8 + backing.len()].copy_from_slice(backing);
            b[4104..4108].copy_from_slice(&mtime.to_be_bytes());
            b[4108..4116].copy_from_slice(&size.to_be_bytes());
            b[4116..4120].copy_from_slice(&512u32.to_be_bytes());
            b
        }
        Layout::V3 { alignment } => {
            let mut b = vec![0u8; 4128];
            b[0..4].copy_from_slice(&magic.to_be_bytes());
            b[4..8].copy_from_slice(&3u32.to_be_bytes());
            b[8..12].copy_from_slice(&mtime.to_be_bytes());
            b[12..20].copy_from_slice(&size.to_be_bytes());
            b[20..24].copy_from_slice(&512u32.to_be_bytes());
            b[24..28].copy_from_slice(&alignment.to_be_bytes());
            b[32..32 + backing.len()].copy_from_slice(backing);
            b
        }
        Layout::V3Broken { alignment } => {
            let mut b = vec![0u8; 4136];
            b[0..4].copy_from_slice(&magic.to_be_bytes());
            b[4..8].copy_from_slice(&3u32.to_be_bytes());
            b[8..12].copy_from_slice(&mtime.to_be_bytes());
            b[16..24].copy_from_slice(&size.to_be_bytes());
            b[24..28].copy_from_slice(&512u32.to_be_bytes());
            b[28..32].copy_from_slice(&alignment.to_be_bytes());
            b[36..36 + backing.len()].copy_from_slice(backing);
            b
        }
    }
}

/// A dirty sector: its content, or `None` for a dirty sector whose data is a hole (zeros).
pub type Dirty = (u64, Option<Vec<u8>>);

/// Writes a COW file of `layout` over `backing` (its current size and mtime), with the given
/// dirty sectors. Sparse, like the real thing.
pub fn write_cow(path: &Path, layout: Layout, backing: &Path, dirty: &[Dirty]) {
    let size = std::fs::metadata(backing).unwrap().len();
    let mt = mtime(backing) as u32;
    let (bo, _bl, d) = geometry(layout, size);
    let sectors = size.div_ceil(512);
    let f = File::create(path).unwrap();
    f.write_all_at(
        &header_bytes(layout, backing.as_os_str().as_encoded_bytes(), mt, size),
        0,
    )
    .unwrap();
    f.set_len(d + size).unwrap();
    let mut bitmap = vec![0u8; sectors.div_ceil(8) as usize];
    for (s, data) in dirty {
        bitmap[(*s / 8) as usize] |= 1 << (s % 8);
        if let Some(data) = data {
            f.write_all_at(data, d + s * 512).unwrap();
        }
    }
    // v1/v2 with the rounding bug: the extra byte still goes right after the bitmap.
    f.write_all_at(&bitmap, bo).unwrap();
}

/// Random dirty sectors: `runs` runs of 1..=24 sectors, about a tenth of them zeros written as
/// data and a tenth holes.
pub fn random_dirty(sectors: u64, runs: usize, seed: u64) -> Vec<Dirty> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for _ in 0..runs {
        let start = rng.below(sectors);
        let len = 1 + rng.below(24);
        for s in start..(start + len).min(sectors) {
            let data = match rng.below(10) {
                0 => None,
                1 => Some(vec![0u8; 512]),
                _ => {
                    let mut b = vec![0u8; 512];
                    rng.fill(&mut b);
                    Some(b)
                }
            };
            out.push((s, data));
        }
    }
    out
}

/// The whole content of a file.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Asserts two files have the same bytes, naming the first difference.
pub fn assert_same_bytes(a: &Path, b: &Path) {
    let (x, y) = (read(a), read(b));
    if x != y {
        let first = x.iter().zip(&y).position(|(p, q)| p != q);
        panic!(
            "{} ({} bytes) and {} ({} bytes) differ (first difference at {:?})",
            a.display(),
            x.len(),
            b.display(),
            y.len(),
            first
        );
    }
}

/// A snapshot of a file (a digest of its content, and its mtime) to check it was not touched.
pub struct Snapshot {
    path: PathBuf,
    digest: Option<u64>,
    mtime_ns: Option<(i64, i64)>,
}

/// A digest of a file's content, read in pieces (images may be large).
pub fn digest(path: &Path) -> Option<u64> {
    use std::hash::Hasher;
    use std::io::Read;
    let mut f = File::open(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            return Some(h.finish());
        }
        h.write(&buf[..n]);
    }
}

impl Snapshot {
    pub fn take(path: &Path) -> Snapshot {
        let md = std::fs::metadata(path).ok();
        Snapshot {
            path: path.to_path_buf(),
            digest: digest(path),
            mtime_ns: md.map(|m| (m.mtime(), m.mtime_nsec())),
        }
    }
    pub fn assert_unchanged(&self, why: &str) {
        let now = Snapshot::take(&self.path);
        assert!(
            now.digest == self.digest && now.mtime_ns == self.mtime_ns,
            "{} changed ({why})",
            self.path.display()
        );
    }
}

/// Names of the files in `dir`.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Builds an ext4 root file system from the static busybox with `init` as `/init`.
pub fn busybox_rootfs(dir: &Path, init: &str) -> PathBuf {
    let root = dir.join("rootdir");
    busybox_tree(
        &root,
        &["bin", "proc", "sys", "dev", "tmp", "mnt1", "mnt2", "host"],
        &[
            "sh",
            "mount",
            "umount",
            "halt",
            "sleep",
            "echo",
            "cat",
            "ls",
            "mkdir",
            "dd",
            "sync",
            "rm",
            "sha256sum",
            "cp",
            "seq",
            "test",
            "[",
        ],
        init,
    );
    let image = dir.join("rootfs.ext4");
    mkfs_ext4(&image, "16M", Some(&root));
    image
}

/// `mkfs.ext4 -q [-d from] image size`.
pub fn mkfs_ext4(image: &Path, size: &str, from: Option<&Path>) {
    let mut cmd = Command::new("mkfs.ext4");
    cmd.arg("-q");
    if let Some(d) = from {
        cmd.arg("-d").arg(d);
    }
    let out = cmd
        .arg(image)
        .arg(size)
        .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin")
        .output()
        .expect("cannot run mkfs.ext4 (package e2fsprogs)");
    assert!(
        out.status.success(),
        "mkfs.ext4 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `e2fsck -fn image`: (clean?, output).
pub fn e2fsck(image: &Path) -> (bool, String) {
    let out = Command::new("e2fsck")
        .arg("-fn")
        .arg(image)
        .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin")
        .output()
        .expect("cannot run e2fsck (package e2fsprogs)");
    (
        out.status.code() == Some(0),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The content of `file` inside the ext4 image (via `debugfs -R cat`).
pub fn ext4_cat(image: &Path, file: &str) -> Vec<u8> {
    Command::new("debugfs")
        .arg("-R")
        .arg(format!("cat {file}"))
        .arg(image)
        .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin")
        .stderr(Stdio::null())
        .output()
        .expect("cannot run debugfs (package e2fsprogs)")
        .stdout
}

/// A stock UML kernel running a busybox guest (own process group, killed on drop).
pub struct Uml {
    kernel: Kernel,
    pub command_line: String,
}

impl Uml {
    /// Boots `kernel` with root `ubd0=<root_cow>,<rootfs>` and the extra `words`. `HOME` is
    /// `dir/home` (so the umid directory lands there).
    pub fn boot(kernel: &Path, dir: &Path, umid: &str, rootfs: &Path, words: &[String]) -> Uml {
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut all = base_words(umid, &dir.join("root.cow"), rootfs);
        all.push("noreboot".into());
        all.extend_from_slice(words);
        let k = Kernel::spawn(kernel, all, &home, Some(dir));
        let command_line = format!("{} {}", kernel.display(), k.words.join(" "));
        Uml {
            kernel: k,
            command_line,
        }
    }

    /// Everything the kernel printed so far.
    pub fn log(&self) -> String {
        format!(
            "{}\n--- stderr ---\n{}",
            self.kernel.out.text(),
            self.kernel.err.text()
        )
    }

    /// Waits until the console shows `text` (false on timeout or if the kernel exited).
    pub fn wait_for(&mut self, text: &str, timeout: Duration) -> bool {
        let mut seen = false;
        wait_until(timeout, || {
            seen = self.kernel.out.text().contains(text);
            seen || matches!(self.kernel.child.try_wait(), Ok(Some(_)))
        });
        seen || self.kernel.out.text().contains(text)
    }

    /// Waits for the kernel to exit; its status if it did within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        self.kernel.wait_exit(timeout)
    }
}
