//! Faults, end to end: the switch out of descriptors, clients killed or stopped at bad moments,
//! files removed under the switch, and the COW tools writing to a full file system.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use integration_tests::cow::{self, Snapshot};
use integration_tests::frame::ETH_P_TEST;
use integration_tests::mgmt::{lossy, Session};
use integration_tests::raw::v3_request;
use integration_tests::{bins::note_reference, is_reference, needs, wait_until};
use integration_tests::{eth, mac, payload, Plug, Switch, BROADCAST, SETTLE};

/// CPU time (user + system) the process has used so far.
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

fn fd_count(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

fn frame(n: u8) -> Vec<u8> {
    eth(BROADCAST, mac(1), ETH_P_TEST, &payload(46, n))
}

/// `a` sends one frame, `b` gets it.
fn forwards(a: &mut Plug, b: &Plug, n: u8, context: &str) {
    let f = frame(n);
    a.send(&f);
    b.expect_frame(&f, SETTLE, context);
}

/// With RLIMIT_NOFILE used up by silent connections, the switch waits instead of spinning on
/// EMFILE (it keeps to a fraction of one CPU), and serves clients again once descriptors free.
#[test]
fn out_of_descriptors_the_switch_waits_then_resumes() {
    let Some(()) = needs::root("to lower the switch's RLIMIT_NOFILE") else {
        return;
    };
    if is_reference() {
        note_reference("the reference busy-loops on EMFILE (measured in the hardening notes)");
        return;
    }
    let sw = Switch::builder().start();
    let limit = libc::rlimit {
        rlim_cur: 40,
        rlim_max: 40,
    };
    // SAFETY: prlimit on the switch's pid with a valid rlimit; the old value is not wanted.
    let r = unsafe { libc::prlimit(sw.pid(), libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut()) };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
    let held: Vec<UnixStream> = (0..80)
        .map(|_| UnixStream::connect(sw.ctl()).unwrap())
        .collect();
    sw.expect_log("accept on control socket: Too many open files");
    let before = cpu_time(sw.pid());
    std::thread::sleep(Duration::from_millis(2000));
    let used = cpu_time(sw.pid()) - before;
    assert!(
        used < Duration::from_millis(600),
        "the switch used {used:?} of CPU in 2 s while out of descriptors (a busy loop?)"
    );
    drop(held);
    // The accept retry looks at the backlog again; new clients are served.
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    forwards(&mut a, &b, 1, "after descriptors were freed");
}

/// Clients SIGKILLed at random moments while frames flow: their ports are released, their
/// descriptors closed, and the other clients lose nothing.
#[test]
fn clients_killed_under_load() {
    let tmp = tempfile::tempdir().unwrap();
    let sw = Switch::builder()
        .arg("-M")
        .arg(tmp.path().join("m"))
        .start();
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    forwards(&mut a, &b, 0, "before the victims attach");
    let base_fds = fd_count(sw.pid());
    let victims: Vec<Plug> = (0..6).map(|_| Plug::attach(&sw)).collect();
    let mut seed = std::process::id() as u64;
    let mut sent = Vec::new();
    for (i, v) in victims.iter().enumerate() {
        // Broadcasts reach the victims too: each dies with frames on their way to it.
        let burst: Vec<Vec<u8>> = (0..50).map(|k| frame((i * 50 + k) as u8)).collect();
        a.send_burst(&burst);
        sent.extend(burst);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(seed >> 60));
        // SAFETY: signalling a child of ours.
        unsafe { libc::kill(v.pid(), libc::SIGKILL) };
    }
    for f in &sent {
        b.expect_frame(
            f,
            SETTLE,
            "b, a well-behaved receiver, while others were killed",
        );
    }
    let released = wait_until(SETTLE, || sw.data_sockets().len() == 2);
    assert!(released, "ports left: {:?}", sw.data_sockets());
    drop(victims);
    let fds_back = wait_until(SETTLE, || fd_count(sw.pid()) == base_fds);
    assert!(
        fds_back,
        "{} fds now, {base_fds} before the victims",
        fd_count(sw.pid())
    );
    forwards(&mut a, &b, 200, "after the victims are gone");
}

/// A client stopped (SIGSTOP) half-way through its request holds nothing for long: others are
/// served meanwhile, its connection is closed at the handshake deadline, and when it is
/// continued it finds the connection closed.
#[test]
fn a_client_stopped_mid_handshake() {
    if is_reference() {
        note_reference("the reference reads one request per read() and never waits for the rest");
        return;
    }
    let sw = Switch::builder().start();
    let own = sw.scratch().join("stopped.sock");
    let _own = std::os::unix::net::UnixDatagram::bind(&own).unwrap();
    let req = v3_request(0, &own, b"stopped");
    let ctl = integration_tests::raw::sockaddr_un(sw.ctl());
    // SAFETY: the child makes only system calls on memory prepared before the fork, then
    // _exits; the parent reaps it.
    let pid = unsafe {
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if libc::connect(fd, ctl.as_ptr().cast(), ctl.len() as u32) != 0 {
                libc::_exit(11);
            }
            libc::write(fd, req.as_ptr().cast(), 40);
            libc::raise(libc::SIGSTOP);
            let mut b = [0u8; 200];
            let n = libc::read(fd, b.as_mut_ptr().cast(), b.len());
            libc::_exit(if n == 0 { 0 } else { 1 });
        }
        pid
    };
    let mut status = 0;
    // SAFETY: waiting for our child to stop.
    unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    assert!(libc::WIFSTOPPED(status), "the client did not stop");
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    forwards(&mut a, &b, 1, "while a client is stopped mid-handshake");
    sw.expect_log("request too short: 40 of 122 bytes");
    // SAFETY: continuing and reaping our child.
    unsafe {
        libc::kill(pid, libc::SIGCONT);
        libc::waitpid(pid, &mut status, 0);
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the continued client did not find its connection closed (status {status:#x})"
    );
}

/// A client's data socket file removed from the switch directory: its frames still flow both
/// ways (the sockets are connected), and when it leaves its port is released without fuss.
#[test]
fn a_data_socket_unlinked() {
    let sw = Switch::start();
    let mut a = Plug::attach(&sw);
    let mut b = Plug::attach(&sw);
    std::fs::remove_file(sw.dir().join(&a.data_socket)).unwrap();
    forwards(&mut a, &b, 1, "from the client whose socket file is gone");
    forwards(&mut b, &a, 2, "to the client whose socket file is gone");
    let port = a.port;
    drop(a);
    let c = Plug::attach(&sw);
    assert_eq!(c.port, port, "the freed port is given again");
    forwards(&mut b, &c, 3, "to the next client");
}

/// The switch directory removed under a running switch: attached clients go on forwarding,
/// the console answers, and SIGTERM still ends the switch cleanly.
#[test]
fn the_switch_directory_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("m");
    let mut sw = Switch::builder().arg("-M").arg(&m).start();
    let mut a = Plug::attach(&sw);
    let b = Plug::attach(&sw);
    std::fs::remove_dir_all(sw.dir()).unwrap();
    forwards(&mut a, &b, 1, "after the directory was removed");
    let (mut s, _) = Session::open(&m);
    let ports = lossy(&s.cmd("port/print"));
    assert!(ports.contains("1000 Success"), "{ports}");
    assert!(
        UnixStream::connect(sw.ctl()).is_err(),
        "the control socket is gone"
    );
    sw.signal(libc::SIGTERM);
    let status = sw
        .wait_exit(SETTLE)
        .expect("the switch did not exit on SIGTERM");
    assert!(status.success(), "{status:?}: {}", sw.stderr());
    assert!(!sw.stderr().contains("panicked"), "{}", sw.stderr());
}

/// A tmpfs of `size` mounted on a fresh directory; unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount -t tmpfs failed");
        SmallFs { dir }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Fills it up but for `left` bytes.
    fn fill(&self, left: u64) -> PathBuf {
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0x55u8; 4096];
        use std::io::Write;
        while f.write_all(&block).is_ok() {}
        drop(f);
        let len = std::fs::metadata(&filler).unwrap().len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&filler)
            .unwrap();
        f.set_len(len.saturating_sub(left)).unwrap();
        filler
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// uml_moo, umlcow merge and uml_mkcow writing to a full file system: each fails with a message
/// naming the problem, leaves no output (not even a partial or hidden one), and leaves its
/// inputs as they were.
#[test]
fn cow_tools_on_a_full_file_system() {
    let Some(()) = needs::root("to mount a small tmpfs") else {
        return;
    };
    let (_t, dir) = cow::scratch();
    let backing = dir.join("backing.img");
    cow::make_backing(&backing, 4 << 20, 7);
    let cow_file = dir.join("disk.cow");
    let dirty = cow::random_dirty(8192, 40, 3);
    cow::write_cow(
        &cow_file,
        cow::Layout::V3 { alignment: 4096 },
        &backing,
        &dirty,
    );
    let inputs = [Snapshot::take(&backing), Snapshot::take(&cow_file)];

    let full = SmallFs::mount("1m");
    let check = |what: &str, ran: cow::Ran, out_name: &Path, leftover: &[&str]| {
        let out_name = out_name.display();
        assert!(!ran.ok(), "{what} succeeded on a full file system");
        eprintln!("{what}: {}", ran.stderr.trim());
        // The output is named, and the hint says what to do about it.
        assert_says(
            what,
            &ran.stderr,
            &[
                "No space left on device".to_string(),
                format!("{}: cannot", out_name),
                "is full (or a quota or file size limit is reached): free space there or write \
                 somewhere else"
                    .to_string(),
            ],
        );
        assert_eq!(cow::listing(full.path()), leftover, "{what} left files");
        for s in &inputs {
            s.assert_unchanged(what);
        }
    };
    let out = full.path().join("merged.img");
    let ran = cow::run(&cow::ours("uml_moo"), &[&cow_file, &out], &dir);
    check("uml_moo", ran, &out, &[]);
    let ran = cow::run(
        &cow::ours("umlcow"),
        &[&"merge", &"-q", &cow_file, &out],
        &dir,
    );
    check("umlcow merge", ran, &out, &[]);
    full.fill(1024);
    let new_cow = full.path().join("new.cow");
    let ran = cow::run(&cow::ours("uml_mkcow"), &[&new_cow, &backing], &dir);
    check("uml_mkcow", ran, &new_cow, &["filler"]);
}

/// What every COW tool says when a file system is full: the file it could not write, "No space
/// left on device", and the hint that names the full file system.
fn expect_out_of_space(what: &str, ran: &cow::Ran, named: &Path) {
    expect_no_room(what, ran, named, "write", "No space left on device");
}

/// [`expect_out_of_space`] for any error `strerror` while the tool did `op` on `named`.
fn expect_no_room(what: &str, ran: &cow::Ran, named: &Path, op: &str, strerror: &str) {
    assert!(!ran.ok(), "{what} succeeded with no room to write");
    eprintln!("{what}: {}", ran.stderr.trim());
    assert_says(
        what,
        &ran.stderr,
        &[
            format!("{}: cannot {op}", named.display()),
            strerror.to_owned(),
            format!(
                "the file system holding {} is full (or a quota or file size limit is reached): \
                 free space there or write somewhere else",
                named.display()
            ),
        ],
    );
}

/// Asserts that `stderr` (of `what`) says every one of `needles`.
fn assert_says<S: AsRef<str>>(what: &str, stderr: &str, needles: &[S]) {
    for needle in needles {
        let needle = needle.as_ref();
        assert!(stderr.contains(needle), "{what}: no {needle:?} in {stderr}");
    }
}

/// Runs COW tool `tool` with `args` in `dir`, slowed by `slow_ms` after each piece it writes;
/// once `started()` holds, fills `fs`; returns how the tool ended.
fn run_filling_midway(
    tool: &str,
    args: &[&dyn AsRef<std::ffi::OsStr>],
    dir: &Path,
    slow_ms: u32,
    started: impl FnMut() -> bool,
    fs: &SmallFs,
) -> cow::Ran {
    let mut child = std::process::Command::new(cow::ours(tool))
        .args(args)
        .current_dir(dir)
        .env("UML_COW_TEST_SLOW_MS", slow_ms.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), started),
        "{tool} wrote nothing yet"
    );
    fs.fill(0);
    let status = integration_tests::proc::wait_child_timeout(&mut child, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("{tool} did not finish"));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    cow::Ran {
        code: status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr,
    }
}

/// A 1 MiB backing file that is a hole but for its first 128 KiB, and a COW file over it (in
/// `cow_dir`) whose 8 dirty runs of 64 KiB (512 KiB in all) land in that hole: committing
/// them takes 512 KiB more on the backing file's file system. Returns the paths and the disk
/// the guest sees (the backing file's bytes with the dirty sectors on top).
fn sparse_commit_pair(backing_dir: &Path, cow_dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    use std::os::unix::fs::FileExt;
    let backing = backing_dir.join("backing.img");
    let f = std::fs::File::create(&backing).unwrap();
    f.set_len(1 << 20).unwrap();
    let mut rng = cow::Rng::new(11);
    let mut head = vec![0u8; 128 << 10];
    rng.fill(&mut head);
    f.write_all_at(&head, 0).unwrap();
    drop(f);
    let mut dirty = Vec::new();
    for run in 0..8u64 {
        let first = ((256 << 10) + run * (96 << 10)) / 512;
        for s in first..first + 128 {
            let mut b = vec![0u8; 512];
            rng.fill(&mut b);
            dirty.push((s, Some(b)));
        }
    }
    let cow_file = cow_dir.join("disk.cow");
    cow::write_cow(
        &cow_file,
        cow::Layout::V3 { alignment: 4096 },
        &backing,
        &dirty,
    );
    let mut disk = cow::read(&backing);
    for (s, data) in &dirty {
        let at = (*s * 512) as usize;
        disk[at..at + 512].copy_from_slice(data.as_deref().unwrap());
    }
    (backing, cow_file, disk)
}

/// `uml_moo -d` and `umlcow commit` write into the backing file itself. When its file system
/// lacks the room the dirty data needs in the backing file's holes, or `--reset` lacks the room
/// for the new COW file, they are refused before anything is written: both files unchanged.
#[test]
fn cow_commit_refused_when_the_room_is_short() {
    let Some(()) = needs::root("to mount a small tmpfs") else {
        return;
    };
    let (_t, dir) = cow::scratch();
    let full = SmallFs::mount("2m");
    let (backing, cow_file, _) = sparse_commit_pair(full.path(), &dir);
    full.fill(256 << 10);
    let inputs = [Snapshot::take(&backing), Snapshot::take(&cow_file)];
    for (what, prog, args) in [
        ("uml_moo -d", "uml_moo", &["-d"][..]),
        ("umlcow commit", "umlcow", &["commit", "-q"]),
        (
            "umlcow commit --reset",
            "umlcow",
            &["commit", "-q", "--reset"],
        ),
    ] {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        all.push(&cow_file);
        let ran = cow::run(&cow::ours(prog), &all, &dir);
        expect_out_of_space(what, &ran, &backing);
        assert!(
            ran.stderr.contains("more bytes on its file system")
                && ran.stderr.contains("nothing was written"),
            "{what}: {}",
            ran.stderr
        );
        assert_eq!(
            cow::listing(full.path()),
            ["backing.img", "filler"],
            "{what}"
        );
        for s in &inputs {
            s.assert_unchanged(what);
        }
    }

    // The other way round: room for the commit, none for the COW file --reset writes.
    let (_t2, dir2) = cow::scratch();
    let full2 = SmallFs::mount("1m");
    let backing = dir2.join("backing.img");
    cow::make_backing(&backing, 1 << 20, 5);
    let cow_file = full2.path().join("disk.cow");
    cow::write_cow(
        &cow_file,
        cow::Layout::V3 { alignment: 4096 },
        &backing,
        &[(3, Some(vec![0xa5; 512]))],
    );
    full2.fill(1024);
    let inputs = [Snapshot::take(&backing), Snapshot::take(&cow_file)];
    let ran = cow::run(
        &cow::ours("umlcow"),
        &[&"commit", &"-q", &"--reset", &cow_file],
        &dir2,
    );
    expect_out_of_space(
        "umlcow commit --reset (COW file system full)",
        &ran,
        &cow_file,
    );
    assert!(
        ran.stderr
            .contains("resetting it after the commit needs about"),
        "{}",
        ran.stderr
    );
    assert_eq!(cow::listing(full2.path()), ["disk.cow", "filler"]);
    for s in &inputs {
        s.assert_unchanged("umlcow commit --reset, COW file system full");
    }
}

/// `uml_moo -d` that runs out of room half-way (the file system fills up after the check): the
/// error says the backing file may be partly written and how to finish; the COW file is
/// unchanged; the backing file's mtime has moved on (other COW files over it are refused). Done
/// as the hint says (room freed, `umlcow rebase --adopt-mtime`, `uml_moo -d` again), the backing
/// file holds the disk the guest saw.
#[test]
fn cow_commit_running_out_of_room_half_way() {
    let Some(()) = needs::root("to mount a small tmpfs") else {
        return;
    };
    let (_t, dir) = cow::scratch();
    let full = SmallFs::mount("2m");
    let (backing, cow_file, disk) = sparse_commit_pair(full.path(), &dir);
    let cow_before = Snapshot::take(&cow_file);
    let recorded = cow::mtime(&backing);
    let first = cow::digest(&backing);
    // A pause after each piece (about 16 of them) leaves time to fill the file system once the
    // first dirty run is in.
    let ran = run_filling_midway(
        "uml_moo",
        &[&"-d", &cow_file],
        &dir,
        500,
        || cow::digest(&backing) != first,
        &full,
    );
    expect_out_of_space("uml_moo -d, half-way", &ran, &backing);
    assert_says(
        "uml_moo -d, half-way",
        &ran.stderr,
        &[
            "it may now be partly written (the COW file".to_string(),
            format!(
                "then run `umlcow rebase --adopt-mtime {}`",
                cow_file.display()
            ),
        ],
    );
    assert_eq!(ran.code, 1);
    cow_before.assert_unchanged("uml_moo -d, half-way");
    assert_ne!(
        cow::mtime(&backing),
        recorded,
        "the backing file's mtime did not move on"
    );
    assert_ne!(
        cow::read(&backing),
        disk,
        "the whole commit fitted: nothing was tested"
    );
    assert_eq!(cow::listing(full.path()), ["backing.img", "filler"]);

    // As the hint says.
    std::fs::remove_file(full.path().join("filler")).unwrap();
    let ran = cow::run(
        &cow::ours("umlcow"),
        &[&"rebase", &"-q", &"--adopt-mtime", &cow_file],
        &dir,
    );
    assert!(ran.ok(), "{ran:?}");
    let ran = cow::run(&cow::ours("uml_moo"), &[&"-d", &cow_file], &dir);
    assert!(ran.ok(), "{ran:?}");
    assert!(
        cow::read(&backing) == disk,
        "after the second commit the backing file is not the disk the guest saw"
    );
}

/// A tool's arguments.
type Args<'a> = Vec<&'a dyn AsRef<std::ffi::OsStr>>;

/// The COW tools that rewrite a COW file or write a new one, on a full file system: `umlcow
/// rebase` (plain and `--restore-mtime`), `umlcow convert` (in place and `-o`), `umlcow
/// create`. Each fails naming the file it writes, leaves no file behind, and leaves its inputs
/// as they were (the mtime `--restore-mtime` set is put back).
#[test]
fn cow_rewrites_on_a_full_file_system() {
    let Some(()) = needs::root("to mount a small tmpfs") else {
        return;
    };
    let (_t, dir) = cow::scratch();
    let backing = dir.join("backing.img");
    cow::make_backing(&backing, 1 << 20, 9);
    // 64 KiB of dirty data: header and bitmap fit in what is left, the data does not.
    let dirty: Vec<cow::Dirty> = (512..640u64)
        .map(|s| (s, Some(vec![(s % 251) as u8 + 1; 512])))
        .collect();
    let full = SmallFs::mount("1m");
    let v3 = full.path().join("v3.cow");
    cow::write_cow(&v3, cow::Layout::V3 { alignment: 4096 }, &backing, &dirty);
    let v2 = full.path().join("v2.cow");
    cow::write_cow(&v2, cow::Layout::V2, &backing, &dirty);
    let v2_elsewhere = dir.join("v2.cow");
    cow::write_cow(&v2_elsewhere, cow::Layout::V2, &backing, &dirty);
    // Moved copies of the backing file: one with its mtime, one touched since.
    let moved = dir.join("moved.img");
    cow::copy_p(&backing, &moved);
    let touched = dir.join("touched.img");
    cow::copy_p(&backing, &touched);
    cow::set_mtime(&touched, cow::mtime(&backing) - 3600);
    // An earlier output, which uml_moo replaces (only once the new one is complete).
    let old_img = full.path().join("old.img");
    std::fs::write(&old_img, b"an earlier merge").unwrap();
    full.fill(16 << 10);
    let listing = cow::listing(full.path());
    let inputs: Vec<Snapshot> = [
        &backing,
        &v3,
        &v2,
        &v2_elsewhere,
        &moved,
        &touched,
        &old_img,
    ]
    .iter()
    .map(|p| Snapshot::take(p))
    .collect();
    let out = full.path().join("out.cow");
    let new_cow = full.path().join("new.cow");
    let cases: [(&str, &str, Args, &Path); 5] = [
        (
            "umlcow rebase",
            "umlcow",
            vec![&"rebase", &"-q", &v3, &moved],
            &v3,
        ),
        (
            "umlcow rebase --restore-mtime",
            "umlcow",
            vec![&"rebase", &"-q", &"--restore-mtime", &v3, &touched],
            &v3,
        ),
        (
            "umlcow convert",
            "umlcow",
            vec![&"convert", &"-q", &v2],
            &v2,
        ),
        (
            "umlcow convert -o",
            "umlcow",
            vec![&"convert", &"-q", &"-o", &out, &v2_elsewhere],
            &out,
        ),
        (
            "uml_moo over an earlier output",
            "uml_moo",
            vec![&v2_elsewhere, &old_img],
            &old_img,
        ),
    ];
    for (what, prog, args, named) in cases {
        let ran = cow::run(&cow::ours(prog), &args, &dir);
        expect_out_of_space(what, &ran, named);
        assert_eq!(cow::listing(full.path()), listing, "{what} left files");
        for s in &inputs {
            s.assert_unchanged(what);
        }
    }
    // A new COW file is header and bitmap only: it fits in 16 KiB, not in 1.
    full.fill(1024);
    let ran = cow::run(
        &cow::ours("umlcow"),
        &[&"create", &"-q", &new_cow, &backing],
        &dir,
    );
    expect_out_of_space("umlcow create", &ran, &new_cow);
    assert_eq!(
        cow::listing(full.path()),
        listing,
        "umlcow create left files"
    );
    for s in &inputs {
        s.assert_unchanged("umlcow create");
    }
    // Replacing a COW file with an empty one: the old one stays until the new one is complete.
    for (what, prog, args) in [
        ("uml_mkcow -f", "uml_mkcow", vec!["-f"]),
        (
            "umlcow create --force",
            "umlcow",
            vec!["create", "-q", "--force"],
        ),
    ] {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
        all.push(&v3);
        all.push(&backing);
        let ran = cow::run(&cow::ours(prog), &all, &dir);
        expect_out_of_space(what, &ran, &v3);
        assert_eq!(cow::listing(full.path()), listing, "{what} left files");
        for s in &inputs {
            s.assert_unchanged(what);
        }
    }
}

/// The COW tools under a file size limit (`prlimit --fsize`, 1 MiB) below what they write: the
/// write fails with EFBIG, reported like a full file system (the stock tools, and ours before,
/// were killed by SIGXFSZ without a word); nothing left, inputs unchanged. A commit reaching
/// past the limit is refused before it writes anything.
#[test]
fn cow_tools_over_the_file_size_limit() {
    let Some(prlimit) = needs::program("/usr/bin/prlimit", "util-linux") else {
        return;
    };
    let (_t, dir) = cow::scratch();
    let backing = dir.join("backing.img");
    cow::make_backing(&backing, 4 << 20, 21);
    let cow_file = dir.join("disk.cow");
    // Dirty sectors from 2 MiB on: a commit writes past the limit.
    let dirty: Vec<cow::Dirty> = (4096..4160u64)
        .map(|s| (s, Some(vec![(s % 13) as u8 + 1; 512])))
        .collect();
    cow::write_cow(
        &cow_file,
        cow::Layout::V3 { alignment: 4096 },
        &backing,
        &dirty,
    );
    let inputs = [Snapshot::take(&backing), Snapshot::take(&cow_file)];
    let listing = cow::listing(&dir);
    let limited = |prog: &str, args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut all: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"--fsize=1048576", &"--"];
        let bin = cow::ours(prog);
        all.push(&bin);
        all.extend_from_slice(args);
        cow::run(&prlimit, &all, &dir)
    };
    let out = dir.join("merged.img");
    let new_cow = dir.join("new.cow");
    for (what, ran, named, op) in [
        (
            "uml_moo",
            limited("uml_moo", &[&cow_file, &out]),
            &out,
            "size the output file",
        ),
        (
            "umlcow merge",
            limited("umlcow", &[&"merge", &"-q", &cow_file, &out]),
            &out,
            "size the output file",
        ),
        (
            "uml_mkcow",
            limited("uml_mkcow", &[&new_cow, &backing]),
            &new_cow,
            "size the COW file",
        ),
    ] {
        expect_no_room(what, &ran, named, op, "File too large");
        assert_eq!(cow::listing(&dir), listing, "{what} left files");
        for s in &inputs {
            s.assert_unchanged(what);
        }
    }
    let ran = limited("uml_moo", &[&"-d", &cow_file]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_says(
        "uml_moo -d",
        &ran.stderr,
        &[
            format!(
                "{}: cannot write the backing file: File too large",
                backing.display()
            ),
            "past the file size limit of 1048576 bytes (`ulimit -f`); nothing was written"
                .to_string(),
            "fix: raise the limit (`ulimit -f unlimited`) and commit again".to_string(),
        ],
    );
    for s in &inputs {
        s.assert_unchanged("uml_moo -d");
    }
}

/// `umlcow commit --reset` whose file system fills up after the commit, before the COW file is
/// reset: the error says the commit is done and the COW file was not reset, and how to get an
/// empty one; the COW file is unchanged, the backing file holds the disk the guest saw, nothing
/// else is left.
#[test]
fn cow_commit_reset_running_out_of_room() {
    let Some(()) = needs::root("to mount a small tmpfs") else {
        return;
    };
    let (_t, dir) = cow::scratch();
    let full = SmallFs::mount("2m");
    let (backing, cow_file, disk) = sparse_commit_pair(full.path(), full.path());
    let cow_before = Snapshot::take(&cow_file);
    // The pause after the last piece leaves time to fill the file system before the reset.
    let ran = run_filling_midway(
        "umlcow",
        &[&"commit", &"-q", &"--reset", &"--no-sync", &cow_file],
        &dir,
        400,
        || cow::read(&backing) == disk,
        &full,
    );
    expect_out_of_space("umlcow commit --reset, at the reset", &ran, &cow_file);
    assert_says(
        "umlcow commit --reset, at the reset",
        &ran.stderr,
        &[
            format!(
                "the commit into {} is done, but {} was not reset and no longer matches it",
                backing.display(),
                cow_file.display()
            ),
            format!(
                "then run `umlcow create --force {} {}`",
                cow_file.display(),
                backing.display()
            ),
        ],
    );
    cow_before.assert_unchanged("umlcow commit --reset, at the reset");
    assert!(
        cow::read(&backing) == disk,
        "the backing file changed after the commit"
    );
    assert_eq!(
        cow::listing(full.path()),
        ["backing.img", "disk.cow", "filler"]
    );
    // As the hint says.
    std::fs::remove_file(full.path().join("filler")).unwrap();
    let ran = cow::run(
        &cow::ours("umlcow"),
        &[&"create", &"-q", &"--force", &cow_file, &backing],
        &dir,
    );
    assert!(ran.ok(), "{ran:?}");
    let ran = cow::run(&cow::ours("umlcow"), &[&"check", &cow_file], &dir);
    assert!(ran.ok(), "{ran:?}");
}

/// The check before a commit does not refuse what fits: dirty data over allocated blocks of
/// the backing file takes no room, so `uml_moo -d` succeeds on a file system with none left.
#[test]
fn cow_commit_over_allocated_data_needs_no_room() {
    let Some(()) = needs::root("to mount a small tmpfs") else {
        return;
    };
    let (_t, dir) = cow::scratch();
    let full = SmallFs::mount("1m");
    let backing = full.path().join("backing.img");
    let mut data = vec![0u8; 512 << 10];
    cow::Rng::new(17).fill(&mut data);
    std::fs::write(&backing, &data).unwrap();
    // 16 runs, every sixth sector a hole of the COW file (the commit punches it).
    let mut rng = cow::Rng::new(4);
    let dirty: Vec<cow::Dirty> = (0..16u64)
        .flat_map(|run| run * 64..run * 64 + 1 + run % 24)
        .map(|s| {
            let mut b = vec![0u8; 512];
            rng.fill(&mut b);
            (s, (s % 6 != 0).then_some(b))
        })
        .collect();
    let cow_file = dir.join("disk.cow");
    cow::write_cow(
        &cow_file,
        cow::Layout::V3 { alignment: 4096 },
        &backing,
        &dirty,
    );
    for (s, d) in &dirty {
        let at = (*s * 512) as usize;
        match d {
            Some(d) => data[at..at + 512].copy_from_slice(d),
            None => data[at..at + 512].fill(0),
        }
    }
    full.fill(0);
    let ran = cow::run(&cow::ours("uml_moo"), &[&"-d", &cow_file], &dir);
    assert!(ran.ok(), "{ran:?}");
    assert!(
        cow::read(&backing) == data,
        "the backing file is not the guest's disk"
    );
}
