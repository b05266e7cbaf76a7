//! `vdelab`'s life cycle with the stock UML kernel: Ctrl-C (SIGINT) while `up` waits for a boot,
//! `up --foreground` stopped by Ctrl-C, the console (attach, detach, one terminal at a time, the
//! terminal restored), a switch rc file and a host's memory, environment and extra disk, `down`
//! killing a guest that cannot stop cleanly, and a `lab.conf` with mistakes starting nothing.
//! Every stopped lab is checked for leftovers: processes, sockets, runtime and temporary files.
//! Skipped, with a message, without a UML kernel (but for the `lab.conf` test, which needs
//! none).

use integration_tests::cow::mkfs_ext4;
use integration_tests::mgmt::Session;
use integration_tests::needs;
use integration_tests::proc::{signal, wait_child_timeout, wait_until, Capture};
use integration_tests::vdelab::{Lab, DOWN, UP};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

/// A `vdelab` command running in the background, its stderr captured; killed on drop.
struct Bg {
    child: Child,
    err: Capture,
}

impl Bg {
    fn start(lab: &Lab, kernel: &Path, args: &[&str]) -> Bg {
        let mut c = lab.command(kernel, args);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("start vdelab");
        let err = Capture::spawn(child.stderr.take().unwrap());
        Bg { child, err }
    }

    fn wait_stderr(&mut self, text: &str) -> bool {
        wait_until(UP, || {
            self.err.text().contains(text) || matches!(self.child.try_wait(), Ok(Some(_)))
        });
        self.err.text().contains(text)
    }

    fn interrupt_and_wait(&mut self) -> Option<i32> {
        signal(self.child.id() as i32, libc::SIGINT).unwrap();
        let st = wait_child_timeout(&mut self.child, DOWN);
        self.err.wait_eof(Duration::from_secs(10));
        st.and_then(|s| s.code())
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn one_host(startup: &str) -> Lab {
    Lab::with_files("h1[0]=A\n", &[("h1.startup", startup)])
}

#[test]
fn ctrl_c_while_up_waits_stops_everything() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    // The startup file says it runs, then waits for a file that never comes: `up` waits.
    let lab = one_host("touch /hostlab/started\nwhile [ ! -e /hostlab/go ]; do sleep 0.1; done\n");
    let mut up = Bg::start(&lab, &kernel, &["up"]);
    let started = lab.dir.join("started");
    assert!(
        wait_until(UP, || started.exists()),
        "the guest never ran its startup file\n{}",
        up.err.text()
    );
    let code = up.interrupt_and_wait();
    let err = up.err.text();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(err.contains("h1: stopped"), "{err}");
    assert_eq!(lab.leftovers(), Vec::<String>::new(), "{err}");
}

#[test]
fn foreground_lab_console_and_ctrl_c() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let lab = one_host("echo startup-of-h1-ran\n");
    let mut up = Bg::start(&lab, &kernel, &["up", "--foreground"]);
    assert!(up.wait_stderr("Ctrl-C stops the lab"), "{}", up.err.text());
    let st = lab.status(&kernel);
    assert_eq!(st["hosts"][0]["state"], "running", "{st:#}");

    // Attach: the recent output (the startup file's) shows; a second terminal is refused.
    let mut con = lab.console(&kernel, "h1");
    con.wait("the startup output", Duration::from_secs(30), |p| {
        p.raw().contains("startup-of-h1-ran")
    });
    let second = lab.run(&kernel, &["console", "h1"], Duration::from_secs(30));
    assert_eq!(second.status.and_then(|s| s.code()), Some(1), "{second:?}");
    assert!(
        second.stderr.contains("another terminal"),
        "{}",
        second.stderr
    );
    // Ctrl-] detaches and gives the terminal back as it was.
    con.send(b"\x1d");
    assert!(con
        .wait_exit(Duration::from_secs(10))
        .is_some_and(|s| s.success()));
    let flags = con.local_flags();
    assert_ne!(flags & libc::ICANON, 0, "the terminal was left raw");
    assert_ne!(flags & libc::ECHO, 0, "the terminal was left without echo");
    // Attach again: the console still works after a detach.
    let (code, out) = lab.shell(&kernel, "h1", "echo again-$((40+2))");
    assert_eq!((code, out.as_str()), (0, "again-42"));

    let code = up.interrupt_and_wait();
    let err = up.err.text();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("h1: stopped cleanly"), "{err}");
    assert_eq!(lab.leftovers(), Vec::<String>::new(), "{err}");
}

/// The switch runs the lab's rc file (`domain[A][rc]`), the guest gets its memory, environment
/// and a disk over an image of the lab (through a COW file); `down` kills a guest that cannot
/// stop.
#[test]
fn settings_then_down_kills_a_frozen_guest() {
    let Some(kernel) = needs::uml_kernel() else {
        return;
    };
    let lab = Lab::with_files(
        "h1[0]=A\nh1[mem]=80\nh1[env]=ROLE=tester\nh1[disk]=base.ext4\n\
         domain[A][rc]=A.rc\n",
        &[
            ("A.rc", "# made by the rc file\nvlan/create 33\n"),
            ("base/hello.txt", "from the base image\n"),
        ],
    );
    let base = lab.dir.join("base.ext4");
    mkfs_ext4(&base, "8M", Some(&lab.dir.join("base")));
    let base_bytes = std::fs::read(&base).unwrap();
    lab.up(&kernel);
    let (code, out) = lab.shell(
        &kernel,
        "h1",
        "echo $ROLE; mount /dev/ubdb /mnt && cat /mnt/hello.txt && echo changed > /mnt/hello.txt \
         && umount /mnt; grep MemTotal /proc/meminfo",
    );
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["tester", "from the base image"], "{out}");
    let kb: u64 = lines[2].split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!((40_000..=82_000).contains(&kb), "mem=80M gives {kb} kB");
    let st = lab.status(&kernel);
    let mgmt = Path::new(st["domains"][0]["mgmt"].as_str().unwrap());
    let (mut console, _) = Session::open(mgmt);
    let answer = String::from_utf8_lossy(&console.cmd("vlan/print 33")).into_owned();
    assert!(
        answer.contains("VLAN 0033") && answer.contains("1000 Success"),
        "{answer}"
    );
    drop(console);
    let k = st["hosts"][0]["kernel_pid"].as_i64().expect("a kernel pid") as i32;
    // A frozen kernel answers nothing: neither its mconsole nor SIGTERM.
    signal(k, libc::SIGSTOP).unwrap();
    let f = lab.run(&kernel, &["down", "--timeout", "2"], DOWN);
    assert_eq!(
        f.status.and_then(|s| s.code()),
        Some(0),
        "{}",
        lab.explain(&f)
    );
    assert!(f.stderr.contains("h1: killed"), "{}", lab.explain(&f));
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    // The guest wrote to its COW file, never to the lab's image.
    assert_eq!(std::fs::read(&base).unwrap(), base_bytes);
    assert!(lab.dir.join(".vdelab/disks/h1-base.cow").is_file());
}

#[test]
fn a_lab_with_mistakes_starts_nothing() {
    let lab = Lab::with_files(
        "LAB_DESCRIPTON=\"typo\"\nh1[0]=A\nh1[mme]=128\nh2[0]=A\ndomain[a][hub]=yes\n\
         h1[0][impair]=delay 50ms los 5%\n",
        &[("h1.startup", "")],
    );
    let kernel = PathBuf::from("/usr/bin/linux.uml");
    for cmd in [&["up"][..], &["check"]] {
        let f = lab.run(&kernel, cmd, UP);
        assert_eq!(
            f.status.and_then(|s| s.code()),
            Some(2),
            "{}",
            lab.explain(&f)
        );
        for want in [
            "lab.conf:1: unknown setting `LAB_DESCRIPTON` (did you mean `LAB_DESCRIPTION`?)",
            "lab.conf:3: unknown key `h1[mme]` (did you mean `h1[mem]`?)",
            "lab.conf:5: `domain[a][hub]`: no interface is on collision domain a (did you mean `A`?)",
            "lab.conf:6: h1[0][impair]=delay 50ms los 5%: los: unknown impairment",
            "nothing was started (4 mistakes)",
        ] {
            assert!(f.stderr.contains(want), "{want}\n{}", f.stderr);
        }
    }
    assert!(!lab.dir.join(".vdelab/disks").exists());
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    let capture = lab.run(&kernel, &["capture", "A"], UP);
    assert_eq!(capture.status.and_then(|s| s.code()), Some(1));
    assert!(
        capture
            .stderr
            .contains("no switch of collision domain A is running"),
        "{}",
        capture.stderr
    );
}
