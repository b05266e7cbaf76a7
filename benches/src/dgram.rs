//! Datagram sockets as the clients and the floor use them: batches for `sendmmsg`/`recvmmsg`
//! (one buffer per datagram and the headers pointing at them), receive timeouts.

use std::os::fd::RawFd;

/// Make blocking receives on `fd` give up after `micros` (so a loop can look at its stop flag).
pub fn set_recv_timeout(fd: RawFd, micros: i64) {
    let tv = libc::timeval {
        tv_sec: micros / 1_000_000,
        tv_usec: micros % 1_000_000,
    };
    // SAFETY: setsockopt on a socket with a valid timeval.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
}

pub struct Batch {
    bufs: Vec<Vec<u8>>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl Batch {
    /// `count` buffers of `len` bytes, each to be sent whole.
    pub fn new(count: usize, len: usize) -> Batch {
        let mut bufs: Vec<Vec<u8>> = (0..count).map(|_| vec![0u8; len]).collect();
        let mut iov: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let msgs = iov
            .iter_mut()
            .map(|v| {
                // SAFETY: mmsghdr is plain data; all zeros is an empty header.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        Batch { bufs, iov, msgs }
    }

    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    pub fn bufs_mut(&mut self) -> impl Iterator<Item = &mut Vec<u8>> {
        self.bufs.iter_mut()
    }

    /// `sendmmsg` of the first `n` datagrams, each as long as its last fill (see
    /// [`Batch::recv`]) or its whole buffer; the count accepted, 0 on error.
    pub fn send(&mut self, fd: RawFd, n: usize, flags: libc::c_int) -> usize {
        let n = n.min(self.msgs.len());
        // SAFETY: the headers point at iov entries pointing at our live buffers.
        let k = unsafe { libc::sendmmsg(fd, self.msgs.as_mut_ptr(), n as _, flags) };
        k.max(0) as usize
    }

    /// `recvmmsg` of up to a batch into whole buffers; afterwards each received datagram's
    /// length is what [`Batch::send`] sends. The count received, 0 on error or timeout.
    pub fn recv(&mut self, fd: RawFd, flags: libc::c_int) -> usize {
        for (v, b) in self.iov.iter_mut().zip(&self.bufs) {
            v.iov_len = b.len();
        }
        // SAFETY: as in `send`; each iov covers its whole buffer.
        let k = unsafe {
            libc::recvmmsg(
                fd,
                self.msgs.as_mut_ptr(),
                self.msgs.len() as _,
                flags,
                std::ptr::null_mut(),
            )
        };
        let k = k.max(0) as usize;
        for (m, v) in self.msgs.iter().zip(self.iov.iter_mut()).take(k) {
            v.iov_len = m.msg_len as usize;
        }
        k
    }

    /// Datagram `i` as last received.
    pub fn frame(&self, i: usize) -> &[u8] {
        &self.bufs[i][..self.msgs[i].msg_len as usize]
    }
}
