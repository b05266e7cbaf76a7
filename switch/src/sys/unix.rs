//! Unix-domain sockets: the endpoints' datagram sockets with batched I/O, peer credentials,
//! and who holds a socket path.

use std::cell::RefCell;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;

use nix::sys::socket::{
    self, sockopt, AddressFamily, MsgFlags, MultiHeaders, SockFlag, SockType, SockaddrLike,
    UnixAddr,
};
use nix::unistd::AccessFlags;
use vde_protocol::sockaddr::SockAddrUn;

/// Most datagrams moved by one `recvmmsg`/`sendmmsg` call.
pub const MAX_BATCH: usize = 64;

thread_local! {
    /// Message headers of the batched calls, made once: the data path runs on one thread
    /// and must not allocate per batch.
    static HEADERS: RefCell<(MultiHeaders<()>, MultiHeaders<()>)> = RefCell::new((
        MultiHeaders::preallocate(MAX_BATCH, None),
        MultiHeaders::preallocate(MAX_BATCH, None),
    ));
}

/// Send `frames` (at most [`MAX_BATCH`]) in order in one `sendmmsg` on `fd`, each to `to`
/// (`None`: the connected peer), without blocking; how many went.
pub(crate) fn send_frames<S: SockaddrLike + Copy>(
    fd: RawFd,
    headers: &mut MultiHeaders<S>,
    frames: &[&[u8]],
    to: Option<S>,
) -> io::Result<usize> {
    let n = frames.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    let iovs: [[IoSlice<'_>; 1]; MAX_BATCH] =
        std::array::from_fn(|i| [IoSlice::new(frames.get(i).copied().unwrap_or(&[]))]);
    let addrs: [Option<S>; MAX_BATCH] = [to; MAX_BATCH];
    let sent = socket::sendmmsg(
        fd,
        headers,
        iovs[..n].iter(),
        &addrs[..n],
        [],
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL,
    )?;
    Ok(sent.count())
}

/// The address for the system: the path of a pathname address, the whole 107-byte name of
/// an abstract one (UML's abstract names include padding bytes that are part of the name).
fn unix_addr(addr: &SockAddrUn) -> io::Result<UnixAddr> {
    let a = match (addr.path(), addr.abstract_name()) {
        (Some(p), _) => UnixAddr::new(p),
        (None, Some(name)) => UnixAddr::new_abstract(name),
        (None, None) => unreachable!("an address is a path or an abstract name"),
    };
    Ok(a?)
}

/// A non-blocking `SOCK_DGRAM` Unix socket.
#[derive(Debug)]
pub struct Dgram {
    sock: UnixDatagram,
}

impl Dgram {
    pub fn new() -> io::Result<Dgram> {
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        Ok(Dgram {
            sock: UnixDatagram::from(fd),
        })
    }

    pub fn connect(&self, addr: &SockAddrUn) -> io::Result<()> {
        Ok(socket::connect(self.sock.as_raw_fd(), &unix_addr(addr)?)?)
    }

    pub fn bind(&self, addr: &SockAddrUn) -> io::Result<()> {
        Ok(socket::bind(self.sock.as_raw_fd(), &unix_addr(addr)?)?)
    }

    /// Ask for larger kernel buffers (best effort).
    pub fn set_buffers(&self, bytes: usize) {
        let _ = socket::setsockopt(&self.sock, sockopt::SndBuf, &bytes);
        let _ = socket::setsockopt(&self.sock, sockopt::RcvBuf, &bytes);
    }

    /// Receive up to `bufs.len()` datagrams in one call (`recvmmsg`). `lens[i]`
    /// gets each datagram's real length, larger than its buffer when it was
    /// cut (MSG_TRUNC), so oversize frames can be refused.
    pub fn recv_batch(&self, bufs: &mut [Vec<u8>], lens: &mut [usize]) -> io::Result<usize> {
        let n = bufs.len().min(lens.len()).min(MAX_BATCH);
        let caps: [usize; MAX_BATCH] = std::array::from_fn(|i| bufs.get(i).map_or(0, Vec::len));
        HEADERS.with_borrow_mut(|(rx, _)| {
            // The slices borrow the buffers for the call only, from a stack array.
            let mut iovs: [[IoSliceMut<'_>; 1]; MAX_BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(&mut [])]);
            for (iov, buf) in iovs.iter_mut().zip(bufs.iter_mut()).take(n) {
                *iov = [IoSliceMut::new(buf)];
            }
            let got = socket::recvmmsg(
                self.sock.as_raw_fd(),
                rx,
                iovs[..n].iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )?;
            let mut count = 0;
            for (i, msg) in got.enumerate() {
                lens[i] = if msg.flags.contains(MsgFlags::MSG_TRUNC) {
                    // Cut: only "longer than the buffer" matters to the caller.
                    msg.bytes.max(caps[i] + 1)
                } else {
                    msg.bytes
                };
                count += 1;
            }
            Ok(count)
        })
    }

    /// Send datagrams in order on a connected socket in one call
    /// (`sendmmsg`); returns how many went (fewer when the peer is full).
    pub fn send_batch(&self, frames: &[&[u8]]) -> io::Result<usize> {
        HEADERS.with_borrow_mut(|(_, tx)| send_frames(self.sock.as_raw_fd(), tx, frames, None))
    }
}

impl AsRawFd for Dgram {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for Dgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// Credentials of the process at the other end of a stream socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

pub fn peer_cred(stream: &UnixStream) -> io::Result<PeerCred> {
    let c = socket::getsockopt(stream, sockopt::PeerCredentials)?;
    Ok(PeerCred {
        pid: c.pid(),
        uid: c.uid(),
        gid: c.gid(),
    })
}

/// `access(path, R_OK|W_OK)` as the reference checks client sockets.
pub fn can_read_write(path: &Path) -> bool {
    nix::unistd::access(path, AccessFlags::R_OK | AccessFlags::W_OK).is_ok()
}

/// End both directions of a connected socket we hold; its owner then sees the end of the
/// connection on its next read, and the peer sees it closed.
pub fn shutdown(fd: std::os::fd::RawFd) {
    // SAFETY: shutdown takes no memory; on a stale fd it fails harmlessly with EBADF.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

/// chmod.
pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// chown with `None` meaning "leave unchanged".
pub fn chown(path: &Path, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    std::os::unix::fs::chown(path, uid, gid)
}

pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Whether a live server answers on the stream socket at `path`.
pub fn socket_is_live(path: &Path) -> bool {
    UnixStream::connect(path).is_ok()
}

/// Inodes of the listening Unix sockets bound to `path`, from /proc/net/unix.
fn listening_inodes(path: &Path) -> Vec<u64> {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let wanted = path.as_os_str().as_bytes();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = listening.
            (cols.len() >= 8 && cols[7].as_bytes() == wanted && cols[3] == "00010000")
                .then(|| cols[6].parse().ok())
                .flatten()
        })
        .collect()
}

/// Find the pid of a process holding a listening Unix socket bound to `path`
/// (via /proc/net/unix and /proc/*/fd); best effort, for error messages.
pub fn socket_owner_pid(path: &Path) -> Option<u32> {
    let inode = *listening_inodes(path).first()?;
    let target = format!("socket:[{inode}]");
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = proc_entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

/// Inode of the socket behind one of our fds (from /proc/self/fd).
fn socket_inode(fd: RawFd) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Whether a listening socket other than `ours` is bound to `path` (someone
/// removed our file and started another server there): then cleanup must
/// leave the path alone.
pub fn other_listener_at(path: &Path, ours: RawFd) -> bool {
    let our_ino = socket_inode(ours);
    listening_inodes(path)
        .into_iter()
        .any(|ino| Some(ino) != our_ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_go_through_and_oversize_is_seen() {
        let (a, b) = UnixDatagram::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let (a, b) = (Dgram { sock: a }, Dgram { sock: b });
        let frames: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 20 + usize::from(i)]).collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        assert_eq!(a.send_batch(&refs).unwrap(), 5);
        a.send_batch(&[&[7u8; 100]]).unwrap();
        let mut bufs = vec![vec![0u8; 50]; 8];
        let mut lens = vec![0; 8];
        assert_eq!(b.recv_batch(&mut bufs, &mut lens).unwrap(), 6);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(&bufs[i][..lens[i]], &f[..]);
        }
        assert!(
            lens[5] > 50,
            "a cut datagram reads as longer than its buffer"
        );
        let e = b.recv_batch(&mut bufs, &mut lens).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
