//! A client's connection to the switch: libvdeplug (the vde protocol, one datagram per frame)
//! or, for a URL `stream:PATH`, our own QEMU-style stream client on the switch's `--stream PATH`
//! socket (each frame after its 4-byte big-endian length, as QEMU's `-netdev stream` sends).
//!
//! Batches: on the vde protocol one `sendmmsg`/`recvmmsg` on the data socket; on a stream one
//! `write` of many length-prefixed frames, and one `read` decoded into as many frames as came.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use vde_protocol::stream::{Decoder, Framing, QEMU_MAX_FRAME};

use super::vdeplug::Conn;
use crate::dgram::{set_recv_timeout, Batch};

/// The URL prefix selecting the stream client.
pub const STREAM_PREFIX: &str = "stream:";

pub enum Port {
    Vde(Conn),
    Stream(StreamConn),
}

impl Port {
    /// Connect to `url`: `stream:PATH`, or anything libvdeplug opens.
    pub fn open(url: &str, description: &str) -> io::Result<Port> {
        match url.strip_prefix(STREAM_PREFIX) {
            Some(path) => StreamConn::connect(path).map(Port::Stream),
            None => Conn::open(url, description).map(Port::Vde),
        }
    }

    /// Make blocking receives give up after `micros`.
    pub fn set_recv_timeout(&self, micros: i64) {
        match self {
            Port::Vde(c) => set_recv_timeout(c.datafd(), micros),
            Port::Stream(s) => {
                let _ = s
                    .sock
                    .set_read_timeout(Some(Duration::from_micros(micros as u64)));
            }
        }
    }

    /// One frame; its length when sent, else negative.
    pub fn send(&mut self, frame: &[u8]) -> isize {
        match self {
            Port::Vde(c) => c.send(frame),
            Port::Stream(s) => s.send_all(std::iter::once(frame)) as isize * frame.len() as isize,
        }
    }

    /// One frame into `buf`; its length, or negative on error or timeout.
    pub fn recv(&mut self, buf: &mut [u8]) -> isize {
        match self {
            Port::Vde(c) => c.recv(buf),
            Port::Stream(s) => s.recv_one(buf),
        }
    }

    /// Send the first `n` frames of `b` in one system call; how many the switch took.
    pub fn send_batch(&mut self, b: &mut Batch, n: usize) -> usize {
        match self {
            Port::Vde(c) => b.send(c.datafd(), n, 0),
            Port::Stream(s) => s.send_all(b.bufs_mut().take(n).map(|f| &f[..])),
        }
    }

    /// Receive what one system call brings (at least one frame, or none after the timeout),
    /// handing each frame to `each`; how many.
    pub fn recv_batch(&mut self, b: &mut Batch, mut each: impl FnMut(&[u8])) -> usize {
        match self {
            Port::Vde(c) => {
                let k = b.recv(c.datafd(), libc::MSG_WAITFORONE);
                for i in 0..k {
                    each(b.frame(i));
                }
                k
            }
            Port::Stream(s) => s.recv_many(each),
        }
    }
}

/// A stream connection with its read buffer and decoder.
pub struct StreamConn {
    sock: UnixStream,
    decoder: Decoder,
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    wbuf: Vec<u8>,
}

impl StreamConn {
    fn connect(path: &str) -> io::Result<StreamConn> {
        Ok(StreamConn {
            sock: UnixStream::connect(path)?,
            decoder: Decoder::new(Framing::Qemu, QEMU_MAX_FRAME),
            rbuf: vec![0u8; 256 * 1024],
            start: 0,
            end: 0,
            wbuf: Vec::new(),
        })
    }

    /// Write every frame, length-prefixed, in one `write` (blocking until the switch took
    /// all); how many frames, 0 on error.
    fn send_all<'f>(&mut self, frames: impl Iterator<Item = &'f [u8]>) -> usize {
        self.wbuf.clear();
        let mut n = 0;
        for f in frames {
            if Framing::Qemu.encode(f, &mut self.wbuf).is_ok() {
                n += 1;
            }
        }
        match self.sock.write_all(&self.wbuf) {
            Ok(()) => n,
            Err(_) => 0,
        }
    }

    /// The next frame already read, if any.
    fn next_frame(&mut self, each: &mut impl FnMut(&[u8])) -> Option<usize> {
        let mut input = &self.rbuf[self.start..self.end];
        let r = self.decoder.decode(&mut input);
        let rest = input.len();
        match r {
            Ok(Some(frame)) => {
                let len = frame.len();
                each(frame);
                self.start = self.end - rest;
                Some(len)
            }
            // A broken stream: the run's counts show it (nothing more arrives).
            Ok(None) | Err(_) => {
                self.start = 0;
                self.end = 0;
                None
            }
        }
    }

    /// One `read` (unless frames are already buffered); false on timeout, error or end.
    fn fill(&mut self) -> bool {
        match self.sock.read(&mut self.rbuf) {
            Ok(0) | Err(_) => false,
            Ok(k) => {
                self.start = 0;
                self.end = k;
                true
            }
        }
    }

    fn recv_one(&mut self, buf: &mut [u8]) -> isize {
        loop {
            let mut copied = 0;
            let got = self.next_frame(&mut |f: &[u8]| {
                copied = f.len().min(buf.len());
                buf[..copied].copy_from_slice(&f[..copied]);
            });
            if got.is_some() {
                return copied as isize;
            }
            if !self.fill() {
                return -1;
            }
        }
    }

    fn recv_many(&mut self, mut each: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while self.next_frame(&mut each).is_some() {
            n += 1;
        }
        if n > 0 || !self.fill() {
            return n;
        }
        while self.next_frame(&mut each).is_some() {
            n += 1;
        }
        n
    }
}
