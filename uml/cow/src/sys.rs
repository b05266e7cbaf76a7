//! Thin wrappers over the Linux calls the COW tools need and `std` does not offer: OFD record
//! locks, `SEEK_DATA`/`SEEK_HOLE`, `copy_file_range`, hole punching, `O_TMPFILE` + `linkat`,
//! `utimensat`, the size of a block device, free space, the file size limit and SIGXFSZ. The
//! calls themselves are `nix`'s; only the all-zero lock record and `signal` need `unsafe`.

use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, FallocateFlags, FcntlArg, AT_FDCWD};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{self, Whence};
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

fn cstring(p: &Path) -> io::Result<CString> {
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

// `libc::flock` has platform-specific padding fields on some targets, so it is built from zeros
// rather than from a struct literal.
#[allow(unsafe_code)]
fn whole_file_lock(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain old data (integers only); all-zero is a valid value.
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
    fcntl::fcntl(file, FcntlArg::F_OFD_GETLK(&mut fl))?;
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
    match fcntl::fcntl(file, FcntlArg::F_OFD_SETLK(&fl)) {
        Ok(_) => Ok(Ok(())),
        Err(Errno::EAGAIN | Errno::EACCES) => {
            // Find out who; if the holder went away meanwhile, report an anonymous lock.
            let holder = probe_lock(file, kind)?.unwrap_or(LockHolder {
                kind: LockKind::Write,
                pid: None,
            });
            Ok(Err(holder))
        }
        Err(e) => Err(e.into()),
    }
}

/// `lseek(fd, off, SEEK_DATA)`: the next offset at or after `off` holding data, or `None` past
/// the last data.
pub fn seek_data(file: &File, off: u64) -> io::Result<Option<u64>> {
    seek(file, off, Whence::SeekData)
}

/// `lseek(fd, off, SEEK_HOLE)`: the next hole at or after `off` (end of file counts as one).
pub fn seek_hole(file: &File, off: u64) -> io::Result<Option<u64>> {
    seek(file, off, Whence::SeekHole)
}

fn seek(file: &File, off: u64, whence: Whence) -> io::Result<Option<u64>> {
    match unistd::lseek64(file, off as libc::off64_t, whence) {
        Ok(r) => Ok(Some(r as u64)),
        Err(Errno::ENXIO) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// One `copy_file_range` call; the number of bytes copied (0 at the source's end).
pub fn copy_file_range(
    src: &File,
    src_off: u64,
    dst: &File,
    dst_off: u64,
    len: usize,
) -> io::Result<usize> {
    let mut so = src_off as i64;
    let mut d = dst_off as i64;
    Ok(fcntl::copy_file_range(
        src,
        Some(&mut so),
        dst,
        Some(&mut d),
        len,
    )?)
}

/// Deallocates `[off, off+len)` keeping the file size; the range then reads as zeros. A range
/// past what the platform's `off_t` holds fails with `EOPNOTSUPP` (callers then write zeros).
pub fn punch_hole(file: &File, off: u64, len: u64) -> io::Result<()> {
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(off), libc::off_t::try_from(len)) else {
        return Err(Errno::EOPNOTSUPP.into());
    };
    let mode = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
    Ok(fcntl::fallocate(file, mode, off, len)?)
}

/// Size in bytes of the block device open as `file` (seeking to its end gives it, as the
/// `BLKGETSIZE64` ioctl would).
pub fn block_device_size(mut file: &File) -> io::Result<u64> {
    file.seek(SeekFrom::End(0))
}

/// Opens an unnamed temporary file in `dir` (`O_TMPFILE`), mode `mode` less the umask.
pub fn open_tmpfile(dir: &Path, mode: u32) -> io::Result<File> {
    // std adds O_CLOEXEC, and no O_CREAT without `create`.
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(mode)
        .open(dir)
}

/// Gives the unnamed file `file` the name `dest` (fails with `EEXIST` if `dest` exists).
pub fn link_tmpfile(file: &File, dest: &Path) -> io::Result<()> {
    let src = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap();
    let dst = cstring(dest)?;
    // Following the /proc link links the open file itself.
    Ok(unistd::linkat(
        AT_FDCWD,
        src.as_c_str(),
        AT_FDCWD,
        dst.as_c_str(),
        AtFlags::AT_SYMLINK_FOLLOW,
    )?)
}

/// Sets the modification time of `path` to `secs` (nanoseconds 0), leaving the access time.
pub fn set_mtime(path: &Path, secs: i64) -> io::Result<()> {
    set_mtime_exact(path, secs, 0)
}

/// Sets the mtime of `path` to `secs` and `nsec` exactly (to put back one read with `stat`).
pub fn set_mtime_exact(path: &Path, secs: i64, nsec: i64) -> io::Result<()> {
    let c = cstring(path)?;
    let mtime = TimeSpec::new(secs as libc::time_t, nsec as libc::c_long);
    Ok(utimensat(
        AT_FDCWD,
        c.as_c_str(),
        &TimeSpec::UTIME_OMIT,
        &mtime,
        UtimensatFlags::FollowSymlink,
    )?)
}

/// The room left for the caller on the file system holding `file`, in bytes (for root, the
/// blocks reserved for root count too), and that file system's block size.
pub fn free_space(file: &File) -> io::Result<(u64, u64)> {
    let st = nix::sys::statvfs::fstatvfs(file)?;
    let frag = st.fragment_size() as u64;
    let blocks = if unistd::geteuid().is_root() {
        st.blocks_free()
    } else {
        st.blocks_available()
    } as u64;
    Ok((
        blocks.saturating_mul(frag),
        frag.max(st.block_size() as u64).max(512),
    ))
}

/// Makes a write past the file size limit (`ulimit -f`) fail with `EFBIG`, reported like any
/// other error, instead of killing the process with SIGXFSZ and no word said. Programs call it
/// first thing.
#[allow(unsafe_code)]
pub fn file_size_limit_as_error() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: SIG_IGN runs no code in the handler's place; nothing else here handles SIGXFSZ.
    let _ = unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) };
}

/// The file size limit (`ulimit -f`) in bytes, if there is one.
pub fn file_size_limit() -> Option<u64> {
    let (soft, _) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE).ok()?;
    (soft != nix::sys::resource::RLIM_INFINITY).then_some(soft)
}

/// Changes the owner of `file` (best effort; only root may give files away).
pub fn fchown(file: &File, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::fchown(file, Some(uid), Some(gid))
}
