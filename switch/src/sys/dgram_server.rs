//! A bound unix datagram socket talking to many peers (`--dgram`): each datagram read with
//! its sender's address and credentials (`SO_PASSCRED`: the kernel vouches for them), and
//! batches sent to one peer's address.

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use nix::cmsg_space;
use nix::errno::Errno;
use nix::sys::socket::{
    self, sockopt, AddressFamily, ControlMessageOwned, MsgFlags, MultiHeaders, SockFlag, SockType,
    SockaddrLike, UnixAddr, UnixCredentials,
};

use super::unix::{send_frames, PeerCred, MAX_BATCH};

thread_local! {
    /// Headers of the batched send, made once (`sendmmsg` sets every field it uses per call).
    static TX: RefCell<MultiHeaders<UnixAddr>> =
        RefCell::new(MultiHeaders::preallocate(MAX_BATCH, None));
}

/// What came with one datagram besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct Sender {
    /// `None` for an unbound sender (nothing to answer to).
    pub addr: Option<UnixAddr>,
    pub cred: Option<PeerCred>,
}

pub struct DgramServer {
    sock: UnixDatagram,
    /// Room for the credentials of one datagram, reused.
    cmsg: Vec<u8>,
}

impl DgramServer {
    /// A non-blocking socket bound at `path` that receives its senders' credentials.
    pub fn bind(path: &Path) -> io::Result<DgramServer> {
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        socket::bind(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
        socket::setsockopt(&fd, sockopt::PassCred, &true)?;
        let sock = UnixDatagram::from(fd);
        let _ = socket::setsockopt(&sock, sockopt::RcvBuf, &(1usize << 20));
        let _ = socket::setsockopt(&sock, sockopt::SndBuf, &(1usize << 20));
        Ok(DgramServer {
            sock,
            cmsg: cmsg_space!(UnixCredentials),
        })
    }

    /// Receive up to `bufs.len()` datagrams, one `recvmsg` each (the address and credential
    /// buffers of a batched `recvmmsg` would have to be reset by hand between calls).
    /// `lens[i]` is larger than its buffer when the datagram was cut. `WouldBlock` only when
    /// nothing was read.
    pub fn recv_batch(
        &mut self,
        bufs: &mut [Vec<u8>],
        lens: &mut [usize],
        senders: &mut [Sender],
    ) -> io::Result<usize> {
        let n = bufs.len().min(lens.len()).min(senders.len());
        let mut got = 0;
        while got < n {
            let cap = bufs[got].len();
            let mut iov = [IoSliceMut::new(&mut bufs[got])];
            let r = socket::recvmsg::<UnixAddr>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut self.cmsg),
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            );
            let msg = match r {
                Ok(msg) => msg,
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) if got > 0 => break,
                Err(e) => return Err(e.into()),
            };
            lens[got] = if msg.flags.contains(MsgFlags::MSG_TRUNC) {
                msg.bytes.max(cap + 1)
            } else {
                msg.bytes
            };
            let mut cred = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmCredentials(c) = c {
                        cred = Some(PeerCred {
                            pid: c.pid(),
                            uid: c.uid(),
                            gid: c.gid(),
                        });
                    }
                }
            }
            // An unbound sender's address is empty (shorter than the family field): nix's
            // accessors must not look into it.
            let addr = msg.address.filter(|a| {
                a.len() as usize > std::mem::offset_of!(libc::sockaddr_un, sun_path)
                    && (a.path().is_some() || a.as_abstract().is_some())
            });
            senders[got] = Sender { addr, cred };
            got += 1;
        }
        Ok(got)
    }

    /// Send `frames` in order to `to` in one `sendmmsg`; how many went.
    pub fn send_batch(&self, to: &UnixAddr, frames: &[&[u8]]) -> io::Result<usize> {
        TX.with_borrow_mut(|tx| send_frames(self.sock.as_raw_fd(), tx, frames, Some(*to)))
    }
}

impl AsRawFd for DgramServer {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// Whether a datagram socket is bound at `addr` (connecting sends nothing): `false` when
/// the file is gone or nobody holds it any more.
pub fn dgram_peer_alive(addr: &UnixAddr) -> bool {
    let Ok(fd) = socket::socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    ) else {
        return true;
    };
    !matches!(
        socket::connect(fd.as_raw_fd(), addr),
        Err(Errno::ECONNREFUSED) | Err(Errno::ENOENT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_known_by_address_and_credentials() {
        let dir = tempfile_dir();
        let server_path = dir.join("s");
        let mut server = DgramServer::bind(&server_path).unwrap();
        let client = UnixDatagram::bind(dir.join("c")).unwrap();
        client.send_to(b"hello", &server_path).unwrap();
        let unbound = UnixDatagram::unbound().unwrap();
        unbound.send_to(&[7u8; 100], &server_path).unwrap();
        let mut bufs = vec![vec![0u8; 50]; 4];
        let mut lens = vec![0; 4];
        let mut senders = vec![Sender::default(); 4];
        assert_eq!(
            server
                .recv_batch(&mut bufs, &mut lens, &mut senders)
                .unwrap(),
            2
        );
        assert_eq!(&bufs[0][..lens[0]], b"hello");
        let from = senders[0].addr.unwrap();
        assert_eq!(from.path(), Some(dir.join("c").as_path()));
        let cred = senders[0].cred.unwrap();
        assert_eq!(cred.pid as u32, std::process::id());
        assert_eq!(cred.uid, super::super::unix::euid());
        assert!(lens[1] > 50, "cut");
        assert!(senders[1].addr.is_none(), "unbound sender");

        assert_eq!(server.send_batch(&from, &[b"a", b"bc"]).unwrap(), 2);
        let mut buf = [0u8; 10];
        assert_eq!(client.recv(&mut buf).unwrap(), 1);
        assert_eq!(client.recv(&mut buf).unwrap(), 2);
        assert!(dgram_peer_alive(&from));
        drop(client);
        assert!(!dgram_peer_alive(&from), "stale file");
        std::fs::remove_file(dir.join("c")).unwrap();
        assert!(!dgram_peer_alive(&from), "no file");
        let e = server
            .recv_batch(&mut bufs, &mut lens, &mut senders)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dgram-server-test-{}-{:?}",
            std::process::id(),
            std::time::Instant::now()
        ));
        let dir = std::path::PathBuf::from(dir.to_string_lossy().replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '/' && c != '-',
            "",
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
