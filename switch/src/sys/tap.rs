//! tap interfaces (`-t IF`): `/dev/net/tun` with `IFF_TAP | IFF_NO_PI`, so
//! every read and write is one bare Ethernet frame.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags.
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

// TUNSETIFF is _IOW('T', 202, int) although it passes a struct ifreq.
nix::ioctl_write_ptr_bad!(tunsetiff, 0x4004_54ca, IfReq);

#[derive(Debug)]
pub struct Tap {
    file: File,
    pub name: String,
}

impl Tap {
    pub fn open(name: &str) -> io::Result<Tap> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("interface names are 1 to {} bytes", libc::IFNAMSIZ - 1),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/net/tun")?;
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TAP | IFF_NO_PI,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: TUNSETIFF reads a struct ifreq (name and flags first, which IfReq lays out
        // in full size) from a pointer valid for the call; the fd is the tun device.
        unsafe { tunsetiff(file.as_raw_fd(), &req) }?;
        Ok(Tap {
            file,
            name: name.to_string(),
        })
    }

    /// Read one frame; a frame longer than `buf` reads as `buf.len()` bytes,
    /// which callers size one byte over their maximum to spot it.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.file).write(buf)
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
