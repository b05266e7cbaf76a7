//! A raw client of the management console (`-M` socket): one command per write, answers read
//! up to the next prompt with a deadline, asynchronous debug lines (`3NNN ...`) collected by
//! count. For byte-exact comparisons of our switch with the reference.

use crate::proc::Deadline;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// The prompt the switch writes after the banner and after every answer.
pub const PROMPT: &[u8] = b"\nvde$ ";
/// What `logout` and `shutdown` answer (no trailing newline).
pub const END_OF_SESSION: &[u8] = b"9999 END OF SESSION";
/// The banner (without the prompt that follows it).
pub const BANNER: &[u8] =
    b"VDE switch V.2.3.2\n(C) Virtual Square Team (coord. R. Davoli) 2005,2006,2007 - GPLv2\n";

/// How long one answer may take.
pub const ANSWER: Duration = Duration::from_secs(5);

/// A management session. Everything read is returned by exactly one of the reading methods.
pub struct Session {
    stream: UnixStream,
    pending: Vec<u8>,
    eof: bool,
}

/// True once `buf` is a complete answer: it ends with the prompt, or holds `9999 END OF
/// SESSION`.
pub fn is_complete(buf: &[u8]) -> bool {
    buf.ends_with(PROMPT) || contains(buf, END_OF_SESSION)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Complete `\n`-terminated lines in `buf` that start with `3` (debug events).
pub fn event_lines(buf: &[u8]) -> usize {
    buf.split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n") && l.first() == Some(&b'3'))
        .count()
}

impl Session {
    /// Connects to the management socket; the banner and first prompt are left unread (see
    /// [`Session::read_banner`]).
    pub fn connect(path: &Path) -> Session {
        let stream = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("connect to the management socket {}: {e}", path.display()));
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("set_read_timeout");
        Session {
            stream,
            pending: Vec::new(),
            eof: false,
        }
    }

    /// Connects and reads the banner up to the first prompt.
    pub fn open(path: &Path) -> (Session, Vec<u8>) {
        let mut s = Session::connect(path);
        let banner = s.read_until(ANSWER, is_complete);
        (s, banner)
    }

    /// Reads the banner (everything up to the first prompt).
    pub fn read_banner(&mut self) -> Vec<u8> {
        self.read_until(ANSWER, is_complete)
    }

    /// Writes `bytes` in one `write` call.
    pub fn write(&mut self, bytes: &[u8]) {
        let n = self
            .stream
            .write(bytes)
            .unwrap_or_else(|e| panic!("write {:?} to the console: {e}", lossy(bytes)));
        assert_eq!(n, bytes.len(), "short write of {:?}", lossy(bytes));
    }

    /// Sends `cmd` + `\n` in one write and returns the answer up to and including the next
    /// prompt (or `9999 END OF SESSION`); what arrived if the deadline passes or the switch
    /// closes the session first.
    pub fn cmd(&mut self, cmd: &str) -> Vec<u8> {
        self.raw_cmd(format!("{cmd}\n").as_bytes())
    }

    /// Like [`cmd`](Self::cmd) with the exact bytes written.
    pub fn raw_cmd(&mut self, bytes: &[u8]) -> Vec<u8> {
        assert!(
            self.pending.is_empty(),
            "unread console output before {:?}: {:?}",
            lossy(bytes),
            lossy(&self.pending)
        );
        self.write(bytes);
        self.read_until(ANSWER, is_complete)
    }

    /// Reads until `n` complete debug lines (`3NNN ...\n`) have arrived, or `timeout`.
    pub fn events(&mut self, n: usize, timeout: Duration) -> Vec<u8> {
        self.read_until(timeout, |b| event_lines(b) >= n)
    }

    /// Reads until `done(all bytes read so far)` holds, the peer closes, or `timeout` passes;
    /// returns the bytes read. Bytes are consumed in whole `read`s: anything read beyond the
    /// point where `done` first held is returned too.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&[u8]) -> bool,
    ) -> Vec<u8> {
        let deadline = Deadline::after(timeout);
        let mut buf = std::mem::take(&mut self.pending);
        let mut chunk = [0u8; 65536];
        while !done(&buf) && !self.eof && !deadline.expired() {
            match self.stream.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => panic!("read from the console: {e}"),
            }
        }
        buf
    }

    /// Reads whatever arrives within `quiet` of silence (at most `timeout` in all).
    pub fn drain(&mut self, quiet: Duration, timeout: Duration) -> Vec<u8> {
        let deadline = Deadline::after(timeout);
        let mut buf = std::mem::take(&mut self.pending);
        let mut chunk = [0u8; 65536];
        let mut last = Deadline::after(quiet);
        while !self.eof && !deadline.expired() && !last.expired() {
            match self.stream.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    last = Deadline::after(quiet);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => panic!("read from the console: {e}"),
            }
        }
        buf
    }

    /// Waits (at most `timeout`) for the switch to close the session; true if it did.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let rest = self.read_until(timeout, |_| false);
        self.pending = rest;
        self.eof
    }

    /// True once the switch has closed the session (as far as read so far).
    pub fn closed(&self) -> bool {
        self.eof
    }
}

/// The numbers of one `ds/admission` line (`WHAT: N now, N at most, N evicted; caps N in
/// all, N per WHOM`) in `text`: now, at most, evicted, cap in all, cap per user or peer.
pub fn admission_numbers(text: &str, what: &str) -> [u64; 5] {
    let re = regex::Regex::new(&format!(
        r"{what}: (\d+) now, (\d+) at most, (\d+) evicted; caps (\d+) in all, (\d+) per (user|peer)"
    ))
    .unwrap();
    let c = re
        .captures(text)
        .unwrap_or_else(|| panic!("no {what} line in {text:?}"));
    std::array::from_fn(|i| c[i + 1].parse().unwrap())
}

/// Bytes as text for messages.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The drop counters of one port, as `port/stats N` (our extension) shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortStats {
    pub runts: u64,
    pub oversize: u64,
    pub vlan_drops: u64,
    pub send_drops: u64,
    pub unlearned: u64,
}

impl Session {
    /// `port/stats PORT`, parsed; panics (with the answer) if it is not the expected line.
    #[track_caller]
    pub fn port_stats(&mut self, port: u32) -> PortStats {
        let answer = lossy(&self.cmd(&format!("port/stats {port}")));
        let prefix = format!("Port {port:04} ");
        let line = answer
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no stats for port {port}: {answer:?}"));
        let words: Vec<&str> = line[prefix.len()..].split(' ').collect();
        let field = |name: &str| -> u64 {
            words
                .chunks(2)
                .find(|kv| kv[0] == name)
                .and_then(|kv| kv.get(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        };
        PortStats {
            runts: field("runts"),
            oversize: field("oversize"),
            vlan_drops: field("vlan_drops"),
            send_drops: field("send_drops"),
            unlearned: field("unlearned"),
        }
    }
}
