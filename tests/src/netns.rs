//! Network namespaces for tests (taps, veths): unique names, private addresses only inside
//! them, and removal on drop (also when the test fails).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A new namespace `vdet-<tag>-<pid>-<n>`. Needs root and `ip` (iproute2): `None` only when
    /// skipping is allowed (see [`crate::needs`]); a failing `ip netns add` fails the test.
    pub fn new(tag: &str) -> Option<Netns> {
        crate::needs::root("network namespaces")?;
        crate::needs::in_path("ip", "iproute2")?;
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("vdet-{tag}-{}-{n}", std::process::id());
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        assert!(
            out.status.success(),
            "`ip netns add {name}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Netns { name })
    }

    /// `ip netns exec NAME ARGS...`.
    pub fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }

    /// Runs `args` in the namespace; panics with its stderr if it fails.
    #[track_caller]
    pub fn run(&self, args: &[&str]) {
        let out = self.exec(args).output().expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} in {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// True if the link `dev` exists in the namespace.
    pub fn has_link(&self, dev: &str) -> bool {
        self.exec(&["ip", "link", "show", dev])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}
