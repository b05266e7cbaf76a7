//! The seccomp part of the AMX workaround for stock UML kernels older than 6.13 (see
//! `docs/uml-host.md`): `ptrace(PTRACE_GETREGSET|PTRACE_SETREGSET, pid,
//! NT_X86_XSTATE, ...)` fails with EIO, so UML falls back to the FXSAVE area. Everything else
//! is allowed.

use std::io;

#[repr(C)]
#[derive(Clone, Copy)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

// Classic BPF opcodes: BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_MODE_FILTER: libc::c_ulong = 2;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const PTRACE_GETREGSET: u32 = 0x4204;
const PTRACE_SETREGSET: u32 = 0x4205;
const NT_X86_XSTATE: u32 = 0x202;
// struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARG0: u32 = 16;
const OFF_ARG2: u32 = 32;

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}
fn jump(k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter {
        code: BPF_JMP_JEQ_K,
        jt,
        jf,
        k,
    }
}

/// The prepared filter; build it before forking, install it in the child with
/// [`XstateFilter::install`] (async-signal-safe: two `prctl` calls, no allocation).
pub struct XstateFilter {
    prog: Vec<SockFilter>,
}

// SAFETY: plain data.
unsafe impl Send for XstateFilter {}
unsafe impl Sync for XstateFilter {}

impl Default for XstateFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl XstateFilter {
    pub fn new() -> XstateFilter {
        let prog = vec![
            /* 0 */ stmt(BPF_LD_W_ABS, OFF_ARCH),
            /* 1 */ jump(AUDIT_ARCH_X86_64, 0, 8), // else -> 10 allow
            /* 2 */ stmt(BPF_LD_W_ABS, OFF_NR),
            /* 3 */ jump(libc::SYS_ptrace as u32, 0, 6), // else -> 10
            /* 4 */ stmt(BPF_LD_W_ABS, OFF_ARG0),
            /* 5 */ jump(PTRACE_GETREGSET, 1, 0), // -> 7 / 6
            /* 6 */ jump(PTRACE_SETREGSET, 0, 3), // -> 7 / 10
            /* 7 */ stmt(BPF_LD_W_ABS, OFF_ARG2),
            /* 8 */ jump(NT_X86_XSTATE, 0, 1), // -> 9 / 10
            /* 9 */ stmt(BPF_RET_K, SECCOMP_RET_ERRNO | libc::EIO as u32),
            /* 10 */ stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
        ];
        XstateFilter { prog }
    }

    /// `prctl(PR_SET_NO_NEW_PRIVS)` + `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)` on the calling
    /// thread. Meant for `CommandExt::pre_exec`.
    pub fn install(&self) -> io::Result<()> {
        let fprog = SockFprog {
            len: self.prog.len() as u16,
            filter: self.prog.as_ptr(),
        };
        // SAFETY: prctl with valid arguments; `fprog` and the program outlive the calls.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(
                libc::PR_SET_SECCOMP,
                SECCOMP_MODE_FILTER,
                &fprog as *const SockFprog,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ptrace_errno(request: u32, addr: u64) -> i32 {
        let mut buf = [0u8; 512];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // A pid that does not exist: without the filter the kernel answers ESRCH.
        // SAFETY: ptrace on a non-existent pid has no effect.
        let r = unsafe {
            libc::ptrace(
                request as _,
                0x3fff_fff0 as libc::pid_t,
                addr as *mut libc::c_void,
                &mut iov as *mut libc::iovec,
            )
        };
        assert_eq!(r, -1);
        io::Error::last_os_error().raw_os_error().unwrap()
    }

    #[test]
    fn filter_answers_eio_only_for_xstate_regsets() {
        // Seccomp filters are per thread (no TSYNC): install it on a throwaway thread.
        std::thread::spawn(|| {
            assert_eq!(ptrace_errno(PTRACE_GETREGSET, 0x202), libc::ESRCH);
            XstateFilter::new().install().expect("install filter");
            assert_eq!(ptrace_errno(PTRACE_GETREGSET, 0x202), libc::EIO);
            assert_eq!(ptrace_errno(PTRACE_SETREGSET, 0x202), libc::EIO);
            assert_eq!(ptrace_errno(PTRACE_GETREGSET, 1), libc::ESRCH);
            assert_eq!(ptrace_errno(PTRACE_SETREGSET, 2), libc::ESRCH);
            assert_eq!(ptrace_errno(libc::PTRACE_GETFPREGS, 0), libc::ESRCH);
        })
        .join()
        .unwrap();
    }
}
