//! [`SilentFlood`]: a forked child, running as another user, that holds many connections to a
//! stream socket and never sends a byte on them; each one the server closes is opened again at
//! once. What a hostile local user does to keep everybody else off a switch.
//! [`SilentTcpFlood`]: the same over TCP from one source address, what a remote host does.

use std::path::Path;
use std::time::Duration;

use crate::raw::sockaddr_un;

/// The flooding child; killed (SIGKILL) and reaped on drop.
pub struct SilentFlood {
    pid: libc::pid_t,
}

impl SilentFlood {
    /// Forks a child that becomes `uid` (and gid `uid`, no supplementary groups), connects
    /// `count` times to `path`, then keeps `count` connections open: whatever the server sends
    /// is read and ignored, a connection it closes is opened again. Returns once the first
    /// `count` connections are made.
    pub fn start(path: &Path, uid: u32, count: usize) -> SilentFlood {
        let addr = sockaddr_un(path);
        // Everything the child uses is allocated before the fork: the child of a threaded
        // process may only make async-signal-safe calls.
        let mut fds: Vec<libc::pollfd> = vec![
            libc::pollfd {
                fd: -1,
                events: libc::POLLIN,
                revents: 0,
            };
            count
        ];
        let mut ready = [0i32; 2];
        // SAFETY: pipe fills the two ints it is given.
        assert_eq!(unsafe { libc::pipe(ready.as_mut_ptr()) }, 0, "pipe");
        // SAFETY: the child only makes system calls on memory prepared above, then _exits; the
        // parent reaps it on drop.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                libc::close(ready[0]);
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(uid) != 0
                    || libc::setuid(uid) != 0
                {
                    libc::_exit(10);
                }
                // Dies with the test process.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let connect = || -> i32 {
                    let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                    if fd < 0 {
                        return -1;
                    }
                    if libc::connect(fd, addr.as_ptr().cast(), addr.len() as u32) != 0 {
                        libc::close(fd);
                        return -1;
                    }
                    fd
                };
                for p in fds.iter_mut() {
                    p.fd = connect();
                }
                libc::write(ready[1], b"r".as_ptr().cast(), 1);
                libc::close(ready[1]);
                let mut buf = [0u8; 4096];
                loop {
                    libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100);
                    for p in fds.iter_mut() {
                        let gone = if p.fd < 0 {
                            true
                        } else if p.revents != 0 {
                            let n = libc::read(p.fd, buf.as_mut_ptr().cast(), buf.len());
                            n <= 0
                        } else {
                            false
                        };
                        p.revents = 0;
                        if gone {
                            if p.fd >= 0 {
                                libc::close(p.fd);
                            }
                            p.fd = connect();
                        }
                    }
                }
            }
            libc::close(ready[1]);
            let mut b = [0u8; 1];
            let n = libc::read(ready[0], b.as_mut_ptr().cast(), 1);
            libc::close(ready[0]);
            let flood = SilentFlood { pid };
            assert_eq!(n, 1, "the flooding child died before it was connected");
            flood
        }
    }

    /// Whether the child still runs (it exits only if it could not become `uid`).
    pub fn running(&self) -> bool {
        // SAFETY: waitpid with WNOHANG on our own child.
        unsafe {
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, libc::WNOHANG) == 0
        }
    }

    /// Lets it run a while (the server keeps evicting and it keeps reconnecting).
    pub fn hold(&self, d: Duration) {
        std::thread::sleep(d);
        assert!(self.running(), "the flooding child exited");
    }
}

impl Drop for SilentFlood {
    fn drop(&mut self) {
        // SAFETY: signalling and reaping our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
    }
}

/// [`SilentTcpFlood`]: a thread holding many TCP connections from one source address (any
/// local address: `127.0.0.2` stands for another host) that never send a byte; what the
/// server sends is read and ignored, a connection it closes is opened again at once. What any
/// host that can reach a TCP listener can do to it.
pub struct SilentTcpFlood {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A TCP connection to `to` from `from` (port chosen by the kernel). A full backlog makes
/// `connect` wait; the send timeout bounds that wait.
pub fn tcp_connect_from(
    from: std::net::Ipv4Addr,
    to: std::net::SocketAddrV4,
) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let sin = |a: std::net::SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let check = |r: libc::c_int| {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(r)
        }
    };
    // SAFETY: plain socket calls on an fd owned by `fd`, with addresses built above.
    unsafe {
        let raw = check(libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let fd = OwnedFd::from_raw_fd(raw);
        let local = sin(std::net::SocketAddrV4::new(from, 0));
        check(libc::bind(
            raw,
            (&local as *const libc::sockaddr_in).cast(),
            len,
        ))?;
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        check(libc::setsockopt(
            raw,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&timeout as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        ))?;
        let remote = sin(to);
        check(libc::connect(
            raw,
            (&remote as *const libc::sockaddr_in).cast(),
            len,
        ))?;
        Ok(std::net::TcpStream::from(fd))
    }
}

impl SilentTcpFlood {
    /// Connects `count` times from `from` to `to`, then keeps `count` connections open in a
    /// thread as [`SilentFlood`] does. Returns once the first `count` attempts were made.
    pub fn start(
        from: std::net::Ipv4Addr,
        to: std::net::SocketAddrV4,
        count: usize,
    ) -> SilentTcpFlood {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let open = || {
                tcp_connect_from(from, to).ok().inspect(|s| {
                    let _ = s.set_nonblocking(true);
                })
            };
            let mut conns: Vec<Option<std::net::TcpStream>> = (0..count).map(|_| open()).collect();
            let _ = ready_tx.send(());
            let mut buf = [0u8; 4096];
            while !stopping.load(Ordering::Relaxed) {
                let mut fds: Vec<libc::pollfd> = conns
                    .iter()
                    .map(|c| libc::pollfd {
                        fd: c.as_ref().map_or(-1, |s| s.as_raw_fd()),
                        events: libc::POLLIN,
                        revents: 0,
                    })
                    .collect();
                // SAFETY: poll on the array built just above.
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
                for (c, p) in conns.iter_mut().zip(&fds) {
                    let gone = match c {
                        None => true,
                        Some(s) if p.revents != 0 => match s.read(&mut buf) {
                            Ok(0) => true,
                            Ok(_) => false,
                            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                        },
                        Some(_) => false,
                    };
                    if gone {
                        *c = open();
                    }
                }
            }
        });
        ready_rx
            .recv()
            .expect("the TCP flood's thread died before it was connected");
        SilentTcpFlood {
            stop,
            thread: Some(thread),
        }
    }

    /// Lets it run a while (the server keeps evicting and it keeps reconnecting).
    pub fn hold(&self, d: Duration) {
        std::thread::sleep(d);
        assert!(
            self.thread.as_ref().is_some_and(|t| !t.is_finished()),
            "the TCP flood's thread ended"
        );
    }
}

impl Drop for SilentTcpFlood {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `uml_switch` (the one under test) with `args`, whose control socket any local user can
/// reach: it lives in a directory of mode 0755 and is made 0666 once bound (`uml_switch`
/// takes its socket's mode from the umask). For floods as another user. Returns the scratch
/// directory (which must outlive the switch) and the switch.
pub fn uml_switch_open_to_all(args: &[&str]) -> (tempfile::TempDir, crate::Switch) {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::Builder::new()
        .prefix("vdet-umlopen-")
        .tempdir()
        .unwrap();
    let dir = t.path().join("u");
    std::fs::create_dir(&dir).unwrap();
    for d in [t.path(), &dir] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let sw = crate::Switch::uml_builder()
        .sock(dir.join("ctl"))
        .args(args)
        .start();
    std::fs::set_permissions(sw.ctl(), std::fs::Permissions::from_mode(0o666)).unwrap();
    (t, sw)
}
