//! The UML management console (mconsole) protocol, and the `mconsole=notify:` socket.
//!
//! Requests are unix datagrams of 524 bytes in host byte order: `u32 magic 0xCAFEBABE`,
//! `u32 version 2`, `u32 len`, `char data[512]` (NUL-terminated). Replies go to the sender's
//! address, so the client binds one (an abstract name). A reply is one or more datagrams
//! `u32 err`, `u32 more`, `u32 len`, `data[len]`; read until `more == 0`.
//!
//! Notifications sent to the notify socket: `u32 magic`, `u32 version`, `i32 type`, `u32 len`,
//! `data[len]`; type 0 carries the mconsole socket path once the console is up, 1 a panic message,
//! 2 a hang, 3 text the guest wrote to `/proc/mconsole`.

use super::{LaunchError, Result};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const MAGIC: u32 = 0xCAFE_BABE;
pub const VERSION: u32 = 2;
/// Longest command text (the data field holds 512 bytes with the NUL).
pub const MAX_DATA: usize = 512;

/// Encodes a request datagram.
pub fn encode_request(cmd: &str) -> Option<Vec<u8>> {
    let bytes = cmd.as_bytes();
    if bytes.len() >= MAX_DATA {
        return None;
    }
    let mut buf = Vec::with_capacity(12 + MAX_DATA);
    buf.extend_from_slice(&MAGIC.to_ne_bytes());
    buf.extend_from_slice(&VERSION.to_ne_bytes());
    buf.extend_from_slice(&(bytes.len() as u32).to_ne_bytes());
    buf.extend_from_slice(bytes);
    buf.resize(12 + MAX_DATA, 0);
    Some(buf)
}

/// One reply datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyPart {
    pub err: u32,
    pub more: bool,
    pub text: String,
}

/// Decodes a reply datagram.
pub fn decode_reply(buf: &[u8]) -> Option<ReplyPart> {
    if buf.len() < 12 {
        return None;
    }
    let word = |i: usize| u32::from_ne_bytes(buf[i..i + 4].try_into().unwrap());
    let len = (word(8) as usize).min(buf.len() - 12);
    let data = &buf[12..12 + len];
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    Some(ReplyPart {
        err: word(0),
        more: word(4) != 0,
        text: String::from_utf8_lossy(&data[..end]).into_owned(),
    })
}

/// A whole reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// True if the guest answered `OK` (err 0 in the first packet).
    pub ok: bool,
    pub text: String,
}

/// A notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The mconsole is up at this socket.
    Socket(PathBuf),
    Panic(String),
    Hang,
    User(String),
    Other(i32, String),
}

pub fn decode_notice(buf: &[u8]) -> Option<Notice> {
    if buf.len() < 16 {
        return None;
    }
    let word = |i: usize| u32::from_ne_bytes(buf[i..i + 4].try_into().unwrap());
    if word(0) != MAGIC {
        return None;
    }
    let kind = word(8) as i32;
    let len = (word(12) as usize).min(buf.len() - 16);
    let data = &buf[16..16 + len];
    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..end]).into_owned();
    Some(match kind {
        0 => Notice::Socket(PathBuf::from(text)),
        1 => Notice::Panic(text),
        2 => Notice::Hang,
        3 => Notice::User(text),
        k => Notice::Other(k, text),
    })
}

static CLIENTS: AtomicU32 = AtomicU32::new(0);

/// A client of one guest's mconsole socket.
pub struct Mconsole {
    pub socket: PathBuf,
    sock: UnixDatagram,
}

impl Mconsole {
    /// Binds a private abstract address to receive replies on.
    pub fn new(socket: &Path) -> Result<Mconsole> {
        let n = CLIENTS.fetch_add(1, Ordering::Relaxed);
        let name = format!("umlrun-{}-{n}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(|e| LaunchError::io(socket, "make a client address for", e))?;
        let sock = UnixDatagram::bind_addr(&addr)
            .map_err(|e| LaunchError::io(socket, "bind a client socket for", e))?;
        Ok(Mconsole {
            socket: socket.to_path_buf(),
            sock,
        })
    }

    fn err(&self, what: impl Into<String>) -> LaunchError {
        LaunchError::Mconsole {
            socket: self.socket.clone(),
            what: what.into(),
        }
    }

    /// Sends `cmd` and reads the whole reply (at most `timeout` in all).
    pub fn command(&self, cmd: &str, timeout: Duration) -> Result<Reply> {
        let req = encode_request(cmd).ok_or_else(|| self.err("command too long"))?;
        // Drop stale replies of an earlier command that timed out.
        let _ = self.sock.set_nonblocking(true);
        let mut junk = [0u8; 12 + MAX_DATA];
        while self.sock.recv(&mut junk).is_ok() {}
        let _ = self.sock.set_nonblocking(false);
        self.sock
            .send_to(&req, &self.socket)
            .map_err(|e| self.err(format!("cannot send `{cmd}`: {e}")))?;
        let deadline = Instant::now() + timeout;
        let mut text = String::new();
        let mut ok = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.err(format!("no complete answer to `{cmd}` within {timeout:?}")));
            }
            let _ = self.sock.set_read_timeout(Some(left));
            let mut buf = [0u8; 12 + MAX_DATA + 16];
            let n = match self.sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.err(format!("cannot read the answer to `{cmd}`: {e}"))),
            };
            let part = decode_reply(&buf[..n]).ok_or_else(|| self.err("short reply"))?;
            if ok.is_none() {
                ok = Some(part.err == 0);
            }
            text.push_str(&part.text);
            if !part.more {
                return Ok(Reply {
                    ok: ok.unwrap_or(false),
                    text,
                });
            }
        }
    }

    /// True if the guest answers `version` within `timeout`.
    pub fn answers(&self, timeout: Duration) -> bool {
        self.command("version", timeout).is_ok_and(|r| r.ok)
    }
}

/// The listening side of `mconsole=notify:<path>`.
pub struct Notifier {
    pub path: PathBuf,
    pub sock: UnixDatagram,
}

impl Notifier {
    pub fn bind(path: &Path) -> Result<Notifier> {
        let sock = UnixDatagram::bind(path)
            .map_err(|e| LaunchError::io(path, "bind the notify socket", e))?;
        sock.set_nonblocking(true)
            .map_err(|e| LaunchError::io(path, "configure the notify socket", e))?;
        Ok(Notifier {
            path: path.to_path_buf(),
            sock,
        })
    }

    /// The next pending notice, if any (non-blocking).
    pub fn try_next(&self) -> Option<Notice> {
        let mut buf = [0u8; 16 + 4096];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    if let Some(notice) = decode_notice(&buf[..n]) {
                        return Some(notice);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = encode_request("sysrq s").unwrap();
        assert_eq!(r.len(), 524);
        assert_eq!(&r[0..4], &0xCAFE_BABEu32.to_ne_bytes());
        assert_eq!(&r[4..8], &2u32.to_ne_bytes());
        assert_eq!(&r[8..12], &7u32.to_ne_bytes());
        assert_eq!(&r[12..19], b"sysrq s");
        assert!(r[19..].iter().all(|&b| b == 0));
        assert!(encode_request(&"x".repeat(512)).is_none());
    }

    #[test]
    fn reply_and_notice_layout() {
        let mut b = Vec::new();
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&1u32.to_ne_bytes());
        b.extend_from_slice(&4u32.to_ne_bytes());
        b.extend_from_slice(b"abc\0");
        assert_eq!(
            decode_reply(&b),
            Some(ReplyPart {
                err: 0,
                more: true,
                text: "abc".into()
            })
        );
        assert_eq!(decode_reply(&b[..8]), None);
        let mut n = Vec::new();
        n.extend_from_slice(&MAGIC.to_ne_bytes());
        n.extend_from_slice(&2u32.to_ne_bytes());
        n.extend_from_slice(&0i32.to_ne_bytes());
        let path = b"/root/.uml/h1/mconsole\0";
        n.extend_from_slice(&(path.len() as u32).to_ne_bytes());
        n.extend_from_slice(path);
        assert_eq!(
            decode_notice(&n),
            Some(Notice::Socket("/root/.uml/h1/mconsole".into()))
        );
        n[8..12].copy_from_slice(&1i32.to_ne_bytes());
        assert!(matches!(decode_notice(&n), Some(Notice::Panic(_))));
        n[0] = 0;
        assert_eq!(decode_notice(&n), None);
    }

    /// A fake guest console: answers every request with a two-part reply.
    #[test]
    fn client_reads_multi_part_replies() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("mconsole");
        let server = UnixDatagram::bind(&path).unwrap();
        let th = std::thread::spawn(move || {
            let mut buf = [0u8; 600];
            let (n, from) = server.recv_from(&mut buf).unwrap();
            assert_eq!(n, 524);
            let len = u32::from_ne_bytes(buf[8..12].try_into().unwrap()) as usize;
            let cmd = String::from_utf8_lossy(&buf[12..12 + len]).into_owned();
            for (more, text) in [(1u32, format!("got {cmd}, ")), (0, "done".to_string())] {
                let mut r = Vec::new();
                r.extend_from_slice(&0u32.to_ne_bytes());
                r.extend_from_slice(&more.to_ne_bytes());
                r.extend_from_slice(&(text.len() as u32 + 1).to_ne_bytes());
                r.extend_from_slice(text.as_bytes());
                r.push(0);
                server.send_to_addr(&r, &from).unwrap();
            }
        });
        let mc = Mconsole::new(&path).unwrap();
        let r = mc.command("version", Duration::from_secs(5)).unwrap();
        assert!(r.ok);
        assert_eq!(r.text, "got version, done");
        th.join().unwrap();
        // Nobody there any more: a bounded failure.
        drop(t);
        assert!(mc.command("version", Duration::from_millis(200)).is_err());
    }
}
