//! Unix-domain sockets addressed by raw `sockaddr_un` bytes.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;

use vde_protocol::sockaddr::{SockAddrUn, SOCKADDR_UN_LEN};

use super::cvt;

fn to_libc(addr: &SockAddrUn) -> libc::sockaddr_un {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = addr.family() as libc::sa_family_t;
    for (d, s) in sa.sun_path.iter_mut().zip(addr.raw_path().iter()) {
        *d = *s as libc::c_char;
    }
    sa
}

/// A non-blocking `SOCK_DGRAM` Unix socket.
#[derive(Debug)]
pub struct Dgram {
    fd: OwnedFd,
}

impl Dgram {
    pub fn new() -> io::Result<Dgram> {
        // SAFETY: plain socket(2) call; the fd is owned right away.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        })?;
        // SAFETY: fd was just returned by socket(2) and is not owned elsewhere.
        Ok(Dgram {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Connect with the full 110-byte address, byte for byte: UML's abstract
    /// names include padding bytes that are part of the name.
    pub fn connect(&self, addr: &SockAddrUn) -> io::Result<()> {
        let sa = to_libc(addr);
        // SAFETY: sa is a valid sockaddr_un of the length passed.
        cvt(unsafe {
            libc::connect(
                self.fd.as_raw_fd(),
                &sa as *const _ as *const libc::sockaddr,
                SOCKADDR_UN_LEN as libc::socklen_t,
            )
        })?;
        Ok(())
    }

    pub fn bind(&self, addr: &SockAddrUn) -> io::Result<()> {
        let sa = to_libc(addr);
        // SAFETY: as in connect.
        cvt(unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                &sa as *const _ as *const libc::sockaddr,
                SOCKADDR_UN_LEN as libc::socklen_t,
            )
        })?;
        Ok(())
    }

    /// Ask for larger kernel buffers (best effort).
    pub fn set_buffers(&self, bytes: i32) {
        for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
            // SAFETY: setsockopt with a valid int pointer and length.
            unsafe {
                libc::setsockopt(
                    self.fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    &bytes as *const i32 as *const libc::c_void,
                    std::mem::size_of::<i32>() as libc::socklen_t,
                );
            }
        }
    }
}

impl AsRawFd for Dgram {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
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
    // SAFETY: ucred is POD; getsockopt writes at most len bytes.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    cvt(unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut _ as *mut libc::c_void,
            &mut len,
        )
    })?;
    Ok(PeerCred {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

pub fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// `access(path, R_OK|W_OK)` as the reference checks client sockets.
pub fn can_read_write(path: &Path) -> bool {
    match c_path(path) {
        // SAFETY: p is a valid NUL-terminated string.
        Ok(p) => unsafe { libc::access(p.as_ptr(), libc::R_OK | libc::W_OK) == 0 },
        Err(_) => false,
    }
}

pub fn chmod(path: &Path, mode: u32) -> io::Result<()> {
    let p = c_path(path)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::chmod(p.as_ptr(), mode as libc::mode_t) })?;
    Ok(())
}

/// chown with `None` meaning "leave unchanged".
pub fn chown(path: &Path, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    let p = c_path(path)?;
    // SAFETY: valid C string; -1 means unchanged.
    cvt(unsafe { libc::chown(p.as_ptr(), uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX)) })?;
    Ok(())
}

pub fn euid() -> u32 {
    // SAFETY: geteuid never fails.
    unsafe { libc::geteuid() }
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

/// Most datagrams moved by one `recvmmsg`/`sendmmsg` call.
pub const MAX_BATCH: usize = 64;

impl Dgram {
    /// Receive up to `bufs.len()` datagrams in one call (`recvmmsg`). `lens[i]`
    /// gets each datagram's real length, larger than its buffer when it was
    /// cut (MSG_TRUNC), so oversize frames can be refused.
    pub fn recv_batch(&self, bufs: &mut [Vec<u8>], lens: &mut [usize]) -> io::Result<usize> {
        let n = bufs.len().min(lens.len()).min(MAX_BATCH);
        // SAFETY: zeroed iovec/mmsghdr are valid; every pointer set below
        // refers to a live buffer of the stated length for the whole call.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iov[i].iov_base = bufs[i].as_mut_ptr().cast();
            iov[i].iov_len = bufs[i].len();
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let got = cvt(unsafe {
            libc::recvmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        })? as usize;
        for i in 0..got {
            let len = msgs[i].msg_len as usize;
            lens[i] = if msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                // Cut: only "longer than the buffer" matters to the caller.
                len.max(bufs[i].len() + 1)
            } else {
                len
            };
        }
        Ok(got)
    }

    /// Send datagrams in order on a connected socket in one call
    /// (`sendmmsg`); returns how many went (fewer when the peer is full).
    pub fn send_batch(&self, frames: &[&[u8]]) -> io::Result<usize> {
        let n = frames.len().min(MAX_BATCH);
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: as in recv_batch; the kernel only reads the frames.
        let mut iov: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iov[i].iov_base = frames[i].as_ptr() as *mut libc::c_void;
            iov[i].iov_len = frames[i].len();
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let sent = cvt(unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        })?;
        Ok(sent as usize)
    }
}
