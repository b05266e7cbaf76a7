//! Thin wrappers over the Linux calls the COW tools need and `std` does not offer: OFD record
//! locks, `SEEK_DATA`/`SEEK_HOLE`, `copy_file_range`, hole punching, `O_TMPFILE` + `linkat`,
//! `utimensat` and the size of a block device.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub(crate) fn cstring(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// The kind of an advisory record lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Read,
    Write,
}

impl LockKind {
    fn raw(self) -> libc::c_short {
        match self {
            LockKind::Read => libc::F_RDLCK as libc::c_short,
            LockKind::Write => libc::F_WRLCK as libc::c_short,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            LockKind::Read => "read",
            LockKind::Write => "write",
        }
    }
}

/// Who holds a lock that conflicts with the one we asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockHolder {
    pub kind: LockKind,
    /// The process holding a classic POSIX (`fcntl(F_SETLK)`) lock, as UML kernels take; `None`
    /// for an OFD lock (another tool like this one), whose owner the kernel does not report.
    pub pid: Option<i32>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(
                f,
                "a {} lock held by process {pid}{}",
                self.kind.name(),
                process_name(pid)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            None => write!(f, "a {} lock held by another COW tool", self.kind.name()),
        }
    }
}

fn process_name(pid: i32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim().to_string())
}

fn whole_file_lock(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain old data; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    fl
}

/// Would a `kind` lock over the whole file conflict with a lock someone else holds? OFD locks
/// and the POSIX locks UML kernels take conflict with each other, so this sees running guests.
pub fn probe_lock(file: &File, kind: LockKind) -> io::Result<Option<LockHolder>> {
    let mut fl = whole_file_lock(kind.raw());
    // SAFETY: valid fd and a pointer to a live flock.
    cvt(unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) })?;
    if fl.l_type == libc::F_UNLCK as libc::c_short {
        return Ok(None);
    }
    let held = if fl.l_type == libc::F_WRLCK as libc::c_short {
        LockKind::Write
    } else {
        LockKind::Read
    };
    Ok(Some(LockHolder {
        kind: held,
        pid: (fl.l_pid > 0).then_some(fl.l_pid),
    }))
}

/// Takes a `kind` OFD lock over the whole file, without waiting. It lives as long as the open
/// file description (`file` and its clones). On conflict, returns the holder.
pub fn try_lock(file: &File, kind: LockKind) -> io::Result<Result<(), LockHolder>> {
    let fl = whole_file_lock(kind.raw());
    // SAFETY: valid fd and a pointer to a live flock.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
    if r == 0 {
        return Ok(Ok(()));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => {
            // Find out who; if the holder went away meanwhile, report an anonymous lock.
            let holder = probe_lock(file, kind)?.unwrap_or(LockHolder {
                kind: LockKind::Write,
                pid: None,
            });
            Ok(Err(holder))
        }
        _ => Err(err),
    }
}

/// `lseek(fd, off, SEEK_DATA)`: the next offset at or after `off` holding data, or `None` past
/// the last data.
pub fn seek_data(file: &File, off: u64) -> io::Result<Option<u64>> {
    seek(file, off, libc::SEEK_DATA)
}

/// `lseek(fd, off, SEEK_HOLE)`: the next hole at or after `off` (end of file counts as one).
pub fn seek_hole(file: &File, off: u64) -> io::Result<Option<u64>> {
    seek(file, off, libc::SEEK_HOLE)
}

fn seek(file: &File, off: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    // SAFETY: plain syscall on a valid fd.
    let r = unsafe { libc::lseek64(file.as_raw_fd(), off as libc::off64_t, whence) };
    if r < 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENXIO) {
            return Ok(None);
        }
        return Err(err);
    }
    Ok(Some(r as u64))
}

/// One `copy_file_range` call; the number of bytes copied (0 at the source's end).
pub fn copy_file_range(
    src: &File,
    src_off: u64,
    dst: &File,
    dst_off: u64,
    len: usize,
) -> io::Result<usize> {
    let mut so = src_off as libc::loff_t;
    let mut d = dst_off as libc::loff_t;
    // SAFETY: valid fds and pointers to live offsets.
    let r =
        unsafe { libc::copy_file_range(src.as_raw_fd(), &mut so, dst.as_raw_fd(), &mut d, len, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Deallocates `[off, off+len)` keeping the file size; the range then reads as zeros.
pub fn punch_hole(file: &File, off: u64, len: u64) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    cvt(unsafe {
        libc::fallocate64(
            file.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off as libc::off64_t,
            len as libc::off64_t,
        )
    })
    .map(drop)
}

/// Size in bytes of the block device open as `file`.
pub fn block_device_size(file: &File) -> io::Result<u64> {
    // _IOR(0x12, 114, size_t)
    const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 to the pointer.
    cvt(unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64 as _, &mut size) })?;
    Ok(size)
}

/// Opens an unnamed temporary file in `dir` (`O_TMPFILE`), mode `mode` less the umask.
pub fn open_tmpfile(dir: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::io::FromRawFd;
    let c = cstring(dir)?;
    // SAFETY: valid NUL-terminated path.
    let fd = cvt(unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    })?;
    // SAFETY: we own the new descriptor.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Gives the unnamed file `file` the name `dest` (fails with `EEXIST` if `dest` exists).
pub fn link_tmpfile(file: &File, dest: &Path) -> io::Result<()> {
    let src = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap();
    let dst = cstring(dest)?;
    // SAFETY: valid NUL-terminated paths.
    cvt(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            src.as_ptr(),
            libc::AT_FDCWD,
            dst.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
    .map(drop)
}

/// Sets the modification time of `path` to `secs` (nanoseconds 0), leaving the access time.
pub fn set_mtime(path: &Path, secs: i64) -> io::Result<()> {
    let c = cstring(path)?;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: secs as libc::time_t,
            tv_nsec: 0,
        },
    ];
    // SAFETY: valid path and a two-element timespec array.
    cvt(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) }).map(drop)
}

/// Changes the owner of `file` (best effort; only root may give files away).
pub fn fchown(file: &File, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    cvt(unsafe { libc::fchown(file.as_raw_fd(), uid, gid) }).map(drop)
}
