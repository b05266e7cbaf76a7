//! A raw client of the vde_switch control protocol (for malformed-input tests), written against
//! the wire format: v3 request = magic `0xfeedface`, version 3, type word (`port << 8`),
//! 110-byte `sockaddr_un` of the client's bound datagram socket, description (all host order);
//! reply = the 110-byte `sockaddr_un` of the switch's data socket for this endpoint.

use crate::switch::Switch;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const MAGIC: u32 = 0xfeed_face;
pub const SOCKADDR_UN_LEN: usize = 110;
/// magic + version + type + sockaddr_un.
pub const V3_HEADER_LEN: usize = 12 + SOCKADDR_UN_LEN;

/// A `struct sockaddr_un` for a pathname socket, as 110 raw bytes.
pub fn sockaddr_un(path: &Path) -> [u8; SOCKADDR_UN_LEN] {
    let p = path.as_os_str().as_bytes();
    assert!(p.len() < 108, "socket path too long: {}", path.display());
    let mut a = [0u8; SOCKADDR_UN_LEN];
    a[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
    a[2..2 + p.len()].copy_from_slice(p);
    a
}

/// A v3 request asking for `port` (0 = any), REQ_NEW_CONTROL.
pub fn v3_request(port: u32, client: &Path, descr: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(V3_HEADER_LEN + descr.len());
    r.extend_from_slice(&MAGIC.to_ne_bytes());
    r.extend_from_slice(&3u32.to_ne_bytes());
    r.extend_from_slice(&(port << 8).to_ne_bytes());
    r.extend_from_slice(&sockaddr_un(client));
    r.extend_from_slice(descr);
    r
}

/// What came back on the control connection.
#[derive(Debug)]
pub enum Reply {
    /// Bytes read (the first read that returned data).
    Data(Vec<u8>),
    /// EOF or connection reset: the switch closed the connection.
    Closed,
    /// Nothing within the timeout, connection still open.
    Timeout,
}

/// Extracts the path from a 110-byte `sockaddr_un` reply.
pub fn reply_path(reply: &[u8]) -> PathBuf {
    assert!(
        reply.len() >= 3,
        "reply too short for a sockaddr_un: {} bytes",
        reply.len()
    );
    let fam = u16::from_ne_bytes([reply[0], reply[1]]);
    assert_eq!(fam, libc::AF_UNIX as u16, "reply sun_family");
    let path = &reply[2..];
    let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
    PathBuf::from(std::ffi::OsStr::from_bytes(&path[..end]))
}

/// The port of the data socket a reply names (`DIR/NNN.fd`).
#[track_caller]
pub fn reply_port(reply: &[u8]) -> u32 {
    let p = reply_path(reply);
    crate::switch::port_of_data_socket(&p.file_name().unwrap_or_default().to_string_lossy())
        .unwrap_or_else(|| panic!("not a data socket name: {}", p.display()))
}

/// A client with a bound datagram socket (in the switch's scratch dir) and a control connection.
pub struct RawClient {
    pub ctl: UnixStream,
    pub data: UnixDatagram,
    pub path: PathBuf,
}

impl RawClient {
    /// Binds `scratch/<name>` and connects to the switch's ctl socket.
    pub fn connect(sw: &Switch, name: &str) -> RawClient {
        let path = sw.scratch().join(name);
        let _ = std::fs::remove_file(&path);
        let data = UnixDatagram::bind(&path).expect("bind client data socket");
        let ctl = UnixStream::connect(sw.ctl()).expect("connect ctl");
        RawClient { ctl, data, path }
    }
    /// A client with a working endpoint on any free port of `sw` (request sent, reply read,
    /// data socket connected to the switch's), and that port.
    #[track_caller]
    pub fn attach(sw: &Switch, name: &str) -> (RawClient, u32) {
        let mut c = RawClient::connect(sw, name);
        let req = c.request(0, name.as_bytes());
        c.write(&req);
        let reply = match c.read_reply(crate::SETTLE) {
            Reply::Data(d) => d,
            other => panic!("{name}: expected a reply, got {other:?}"),
        };
        c.connect_data(&reply);
        (c, reply_port(&reply))
    }
    /// The v3 request for this client's socket.
    pub fn request(&self, port: u32, descr: &[u8]) -> Vec<u8> {
        v3_request(port, &self.path, descr)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        self.ctl.write_all(bytes).expect("write to ctl");
    }
    /// Like [`write`](Self::write), but a connection already closed by the switch is not an error
    /// here (EPIPE / ECONNRESET are returned).
    pub fn try_write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.ctl.write_all(bytes)
    }
    /// Waits until the switch has read everything written so far on the control connection
    /// (the socket's output queue is empty); false if it has not within `timeout`.
    pub fn wait_consumed(&self, timeout: Duration) -> bool {
        use std::os::fd::AsRawFd;
        crate::wait_until(timeout, || {
            let mut unread: libc::c_int = 0;
            // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one int.
            let r = unsafe { libc::ioctl(self.ctl.as_raw_fd(), libc::TIOCOUTQ, &mut unread) };
            r == 0 && unread == 0
        })
    }
    /// One read on the control connection, waiting at most `timeout`.
    pub fn read_reply(&mut self, timeout: Duration) -> Reply {
        self.ctl.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 512];
        match self.ctl.read(&mut buf) {
            Ok(0) => Reply::Closed,
            Ok(n) => {
                let mut v = buf[..n].to_vec();
                // The reply is one write of 110 bytes; collect the rest if it was split.
                self.ctl
                    .set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                while v.len() < SOCKADDR_UN_LEN {
                    match self.ctl.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => v.extend_from_slice(&buf[..n]),
                    }
                }
                Reply::Data(v)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Reply::Timeout
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => Reply::Closed,
            Err(e) => panic!("reading ctl: {e}"),
        }
    }
    /// Waits until the switch closes the control connection (reading and discarding any data).
    /// True if it closed within `timeout`.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = crate::Deadline::after(timeout);
        loop {
            let left = deadline.remaining();
            if left.is_zero() {
                return false;
            }
            match self.read_reply(left) {
                Reply::Closed => return true,
                Reply::Timeout => return false,
                Reply::Data(_) => continue,
            }
        }
    }
    /// Connects the data socket to the switch's data socket named in `reply`.
    pub fn connect_data(&self, reply: &[u8]) {
        let p = reply_path(reply);
        self.data
            .connect(&p)
            .unwrap_or_else(|e| panic!("connect to switch data socket {}: {e}", p.display()));
    }
    /// Connects the data socket to the switch's data socket exactly as `reply` gives it, all
    /// 110 bytes (an abstract address, as `uml_switch` gives, included), as vdeplug4 does.
    pub fn connect_data_as_given(&self, reply: &[u8]) {
        use std::os::fd::AsRawFd;
        assert_eq!(reply.len(), SOCKADDR_UN_LEN, "reply length");
        // SAFETY: connect(2) with a 110-byte sockaddr_un we own.
        let r = unsafe {
            libc::connect(
                self.data.as_raw_fd(),
                reply.as_ptr().cast(),
                SOCKADDR_UN_LEN as libc::socklen_t,
            )
        };
        assert_eq!(
            r,
            0,
            "connect to the switch's data socket {:?}: {}",
            String::from_utf8_lossy(reply),
            std::io::Error::last_os_error()
        );
    }
    pub fn send_frame(&self, frame: &[u8]) {
        self.data.send(frame).expect("send frame");
    }
    pub fn recv_frame(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.data.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; 65536];
        match self.data.recv(&mut buf) {
            Ok(n) => Some(buf[..n].to_vec()),
            Err(_) => None,
        }
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
