//! Processes for the load generator and the machine floor: a block of shared memory visible to
//! every forked process, child processes that run one closure and exit, and the clocks they
//! share.
//!
//! Real clients are separate processes (a VM, `vde_plug`), so the measured clients are too: one
//! process per port. `fork` is only used from the single-threaded `vdeperf load` and `vdeperf
//! floor` commands, never from the harness, which runs threads.

use std::io;
use std::ptr::NonNull;

/// Memory shared by a process and the children it forks afterwards. `T` must be valid when all
/// its bytes are zero and safe to use from several processes at once: a `#[repr(C)]` struct of
/// atomics.
pub struct Shared<T> {
    ptr: NonNull<T>,
}

impl<T> Shared<T> {
    /// # Safety
    /// The all-zero bit pattern must be a valid `T`, and `T` must only have interior
    /// mutability through atomics (the memory is written by other processes).
    pub unsafe fn zeroed() -> io::Result<Shared<T>> {
        // SAFETY: an anonymous shared mapping of T's size; the kernel zero-fills it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                std::mem::size_of::<T>().max(1),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<T>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Shared { ptr })
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the mapping lives as long as self and holds a valid T (see `zeroed`).
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `zeroed`, no reference outlives self.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), std::mem::size_of::<T>().max(1)) };
    }
}

/// Fork a child that runs `body` and exits with its status, without returning into the
/// parent's code (no destructors, no flushing of the parent's buffers). The child dies with
/// its parent (`PR_SET_PDEATHSIG`). Returns the child's pid.
///
/// The caller must be single-threaded.
pub fn spawn(body: impl FnOnce() -> i32) -> io::Result<libc::pid_t> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the process is single-threaded (documented requirement), so the child may run
    // ordinary code.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: plain system calls in the child.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
            }
            let code = body();
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(pid),
    }
}

/// Wait for a child forked by [`spawn`]; its exit status, or 128 + signal.
pub fn wait(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return -1;
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// Send SIGKILL to a child forked by [`spawn`] (not yet reaped).
pub fn kill(pid: libc::pid_t) {
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Whether a child forked by [`spawn`] is still running (it is not reaped).
fn running(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain data; waitid with WNOWAIT only peeks at our own child.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid is filled in (0 when the child has not exited).
    r == 0 && unsafe { info.si_pid() } == 0
}

/// Give the children up to `grace_ms` to exit, kill those still running, reap them all.
pub fn reap(pids: &[libc::pid_t], grace_ms: u64) {
    let t0 = now_ns();
    while pids.iter().any(|&p| running(p)) && now_ns() - t0 < grace_ms * 1_000_000 {
        sleep_ms(5);
    }
    for &pid in pids {
        if running(pid) {
            kill(pid);
        }
        wait(pid);
    }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime with a valid timespec pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_MONOTONIC in ns: the same time base in every process.
pub fn now_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CPU time of the calling process (all its threads), ns.
pub fn own_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Sleep for `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}
