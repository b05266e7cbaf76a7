//! The large-XSTATE (AMX) host workaround for UML kernels before 6.13.
//!
//! Before 6.13, x86-64 UML saves and restores guest FP state with
//! `ptrace(PTRACE_GETREGSET/SETREGSET, NT_X86_XSTATE)` into a buffer of a fixed size, hard-coded
//! in 2019 by commit 6f602afda727 (the upstream HOWTO's strace shows `iov_len=2696`). A host whose XSTATE
//! is larger (AMX: 11008 bytes) refuses the short `SETREGSET` with EFAULT and the guest's first
//! process dies (`userspace - ptrace set fp regs failed, errno = 14`). Upstream fixed it in 6.13
//! (3f17fed21491).
//!
//! The workaround (see `docs/uml-host.md`) has two parts:
//! 1. a seccomp filter, installed right before `exec` after `PR_SET_NO_NEW_PRIVS`, that makes
//!    those two ptrace requests on `NT_X86_XSTATE` fail with EIO and allows everything else; UML's
//!    boot probe then fails and it uses the 512-byte FXSAVE area instead;
//! 2. `GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,...` on the kernel command line (it becomes init's
//!    environment), so guest programs avoid AVX registers that the FXSAVE path does not keep.
//!
//! The filter is built with `seccompiler` (rust-vmm). Its architecture check kills a process that
//! makes a system call of another architecture; UML's host processes are all x86-64 (guest
//! system calls are intercepted by ptrace before seccomp sees them), and the workaround is only
//! applied to x86-64 kernel binaries.

use super::kernel::{Machine, Version};
use super::{LaunchError, Result};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use std::collections::BTreeMap;
use std::io;

/// The word added to the kernel command line.
pub const GLIBC_TUNABLES_WORD: &str =
    "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-EVEX,-AVX";

/// The fixed FP buffer of x86-64 UML kernels before 6.13, in bytes.
pub const OLD_KERNEL_XSTATE_BUFFER: u32 = 2696;

/// The first kernel that sizes its buffer from the host.
pub const FIXED_IN: Version = Version(6, 13, 0);

pub const PTRACE_GETREGSET: u64 = 0x4204;
pub const PTRACE_SETREGSET: u64 = 0x4205;
pub const NT_X86_XSTATE: u64 = 0x202;

/// What we know about the host CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostCpu {
    /// The XSTATE size of the features enabled in XCR0 (CPUID leaf 0xD, sub-leaf 0, EBX): what
    /// the host's `NT_X86_XSTATE` regset needs. `None` without XSAVE or off x86-64.
    pub xstate_size: Option<u32>,
    /// `amx_tile` in /proc/cpuinfo.
    pub amx: bool,
    pub x86_64: bool,
}

impl HostCpu {
    pub fn detect() -> HostCpu {
        let amx = std::fs::read_to_string("/proc/cpuinfo")
            .map(|c| c.split_whitespace().any(|w| w == "amx_tile"))
            .unwrap_or(false);
        HostCpu {
            xstate_size: xstate_size(),
            amx,
            x86_64: cfg!(target_arch = "x86_64"),
        }
    }

    /// True if the host's XSTATE does not fit an old kernel's fixed buffer.
    pub fn large_xstate(&self) -> bool {
        match self.xstate_size {
            Some(n) => n > OLD_KERNEL_XSTATE_BUFFER,
            None => self.amx,
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe, unsafe_code)] // the CPUID intrinsics are unsafe in older Rust releases
fn xstate_size() -> Option<u32> {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID exists on every x86-64 CPU.
    let max_leaf = unsafe { __cpuid(0) }.eax;
    // SAFETY: as above.
    let leaf1 = unsafe { __cpuid(1) };
    let xsave = leaf1.ecx & (1 << 26) != 0;
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    if max_leaf < 0xd || !xsave || !osxsave {
        return None;
    }
    // SAFETY: leaf 0xD exists (checked above).
    let d = unsafe { __cpuid_count(0xd, 0) };
    (d.ebx != 0).then_some(d.ebx)
}

#[cfg(not(target_arch = "x86_64"))]
fn xstate_size() -> Option<u32> {
    None
}

/// How the user wants the workaround.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Apply it where it is needed.
    #[default]
    Auto,
    /// Always apply it (for testing it on hosts that do not need it).
    On,
    /// Never (`--no-host-workaround`).
    Off,
}

/// Whether to apply the workaround, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Apply(String),
    Skip(String),
    /// Needed but impossible (the reason is printed as a warning).
    Impossible(String),
}

impl Decision {
    pub fn applies(&self) -> bool {
        matches!(self, Decision::Apply(_))
    }
}

/// The rule: kernels before 6.13 (or of unknown version) on hosts whose XSTATE is larger than
/// the old kernels' buffer; only x86-64 kernel binaries (the filter is for x86-64 system calls).
pub fn decide(mode: Mode, host: &HostCpu, kernel: Option<Version>, machine: Machine) -> Decision {
    let size = match host.xstate_size {
        Some(n) => format!("host XSTATE {n} bytes"),
        None if host.amx => "host CPU has AMX".to_string(),
        None => "host XSTATE size unknown, no AMX".to_string(),
    };
    let kv = kernel.map_or("unknown version".to_string(), |v| v.to_string());
    match mode {
        Mode::Off => return Decision::Skip("disabled by --no-host-workaround".into()),
        Mode::On if machine == Machine::X86_64 => {
            return Decision::Apply(format!("forced on ({size}, kernel {kv})"))
        }
        Mode::On => {
            return Decision::Impossible(
                "forced on, but the kernel is not an x86-64 binary".to_string(),
            )
        }
        Mode::Auto => {}
    }
    if !host.x86_64 {
        return Decision::Skip("not an x86-64 host".into());
    }
    if kernel.is_some_and(|v| v >= FIXED_IN) {
        return Decision::Skip(format!(
            "kernel {kv} sizes its FP buffer from the host (fixed in 6.13)"
        ));
    }
    if !host.large_xstate() {
        return Decision::Skip(format!(
            "{size} fits the kernel's {OLD_KERNEL_XSTATE_BUFFER}-byte buffer"
        ));
    }
    if machine != Machine::X86_64 {
        return Decision::Impossible(format!(
            "{size} is larger than old kernels expect, but the kernel is not an x86-64 binary, \
             so the seccomp workaround cannot be applied; use a kernel 6.13 or later"
        ));
    }
    Decision::Apply(format!(
        "{size} is larger than kernel {kv}'s {OLD_KERNEL_XSTATE_BUFFER}-byte buffer"
    ))
}

/// The compiled filter: `ptrace(PTRACE_GETREGSET|PTRACE_SETREGSET, *, NT_X86_XSTATE, ...)` fails
/// with EIO, everything else is allowed. Build it before forking; [`XstateFilter::install`] is
/// async-signal-safe (two system calls, no allocation).
pub struct XstateFilter {
    prog: BpfProgram,
}

impl XstateFilter {
    pub fn new() -> Result<XstateFilter> {
        let err = |e: seccompiler::BackendError| LaunchError::Filter(e.to_string());
        let cond = |arg: u8, val: u64| {
            SeccompCondition::new(arg, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, val).map_err(err)
        };
        let rules = vec![
            SeccompRule::new(vec![cond(0, PTRACE_GETREGSET)?, cond(2, NT_X86_XSTATE)?])
                .map_err(err)?,
            SeccompRule::new(vec![cond(0, PTRACE_SETREGSET)?, cond(2, NT_X86_XSTATE)?])
                .map_err(err)?,
        ];
        let filter = SeccompFilter::new(
            BTreeMap::from([(libc::SYS_ptrace, rules)]),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EIO as u32),
            seccompiler::TargetArch::x86_64,
        )
        .map_err(err)?;
        let prog: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| LaunchError::Filter(e.to_string()))?;
        Ok(XstateFilter { prog })
    }

    /// Sets `PR_SET_NO_NEW_PRIVS` and installs the filter on the calling thread. Meant for
    /// `CommandExt::pre_exec` (the exec'd kernel and all its processes inherit it).
    pub fn install(&self) -> io::Result<()> {
        seccompiler::apply_filter(&self.prog).map_err(|e| match e {
            seccompiler::Error::Prctl(e) | seccompiler::Error::Seccomp(e) => e,
            _ => io::Error::from_raw_os_error(libc::EINVAL),
        })
    }

    /// Number of BPF instructions.
    pub fn len(&self) -> usize {
        self.prog.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prog.is_empty()
    }
}

#[cfg(test)]
#[allow(unsafe_code)] // fork and raw ptrace
mod tests {
    use super::*;
    use nix::errno::Errno;
    use nix::sys::prctl::get_no_new_privs;
    use nix::sys::wait::{waitpid, WaitStatus};
    use nix::unistd::{fork, ForkResult};

    fn host(xstate: Option<u32>, amx: bool) -> HostCpu {
        HostCpu {
            xstate_size: xstate,
            amx,
            x86_64: true,
        }
    }

    #[test]
    fn decision_by_xstate_size_and_kernel_version() {
        let v61 = Some(Version(6, 1, 176));
        let amx = host(Some(11008), true);
        let avx512 = host(Some(2696), false);
        let avx2 = host(Some(832), false);
        let x = Machine::X86_64;
        assert!(decide(Mode::Auto, &amx, v61, x).applies());
        assert!(decide(Mode::Auto, &amx, Some(Version(6, 12, 9)), x).applies());
        assert!(!decide(Mode::Auto, &amx, Some(Version(6, 13, 0)), x).applies());
        assert!(!decide(Mode::Auto, &amx, Some(Version(7, 2, 0)), x).applies());
        // Unknown version: be safe.
        assert!(decide(Mode::Auto, &amx, None, x).applies());
        // Hosts whose XSTATE fits the old buffer.
        assert!(!decide(Mode::Auto, &avx512, v61, x).applies());
        assert!(!decide(Mode::Auto, &avx2, v61, x).applies());
        // Between the old buffer and AMX (a larger future XSTATE without AMX) still needs it.
        assert!(decide(Mode::Auto, &host(Some(2697), false), v61, x).applies());
        // No CPUID answer: fall back to the cpuinfo flag.
        assert!(decide(Mode::Auto, &host(None, true), v61, x).applies());
        assert!(!decide(Mode::Auto, &host(None, false), v61, x).applies());
        // Switches.
        assert!(!decide(Mode::Off, &amx, v61, x).applies());
        assert!(decide(Mode::On, &avx2, Some(Version(7, 0, 0)), x).applies());
        // Not for kernels the x86-64 filter cannot cover.
        assert!(matches!(
            decide(Mode::Auto, &amx, v61, Machine::I386),
            Decision::Impossible(_)
        ));
        let mut other = amx;
        other.x86_64 = false;
        assert!(!decide(Mode::Auto, &other, v61, x).applies());
    }

    #[test]
    fn this_host_is_detected() {
        let h = HostCpu::detect();
        // The cpuinfo flag and the CPUID size agree: AMX means a large XSTATE.
        if h.amx {
            assert!(h.large_xstate(), "{h:?}");
        }
        if let Some(n) = h.xstate_size {
            assert!(n >= 512, "{h:?}");
        }
    }

    /// ptrace(request, <no such pid>, addr) in the calling process; the errno.
    fn ptrace_errno(request: u64, addr: u64) -> i32 {
        let mut buf = [0u8; 64];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: ptrace on a pid that does not exist changes nothing.
        let r = unsafe {
            libc::ptrace(
                request as _,
                0x3fff_fff0 as libc::pid_t,
                addr as *mut libc::c_void,
                &mut iov as *mut libc::iovec,
            )
        };
        if r == 0 {
            return 0;
        }
        Errno::last_raw()
    }

    #[test]
    fn filter_in_a_forked_child_answers_eio_only_for_xstate_regsets() {
        let filter = XstateFilter::new().unwrap();
        assert!(!filter.is_empty());
        // SAFETY: the child only makes system calls (no allocation, no locks) and _exits.
        let fork = unsafe { fork() }.expect("fork");
        if let ForkResult::Child = fork {
            let code = (|| {
                if ptrace_errno(PTRACE_GETREGSET, NT_X86_XSTATE) != libc::ESRCH {
                    return 10;
                }
                if filter.install().is_err() {
                    return 11;
                }
                if ptrace_errno(PTRACE_GETREGSET, NT_X86_XSTATE) != libc::EIO {
                    return 12;
                }
                if ptrace_errno(PTRACE_SETREGSET, NT_X86_XSTATE) != libc::EIO {
                    return 13;
                }
                // Other regsets and requests are untouched (ESRCH: no such process).
                if ptrace_errno(PTRACE_GETREGSET, 1) != libc::ESRCH {
                    return 14;
                }
                if ptrace_errno(libc::PTRACE_GETFPREGS as u64, 0) != libc::ESRCH {
                    return 15;
                }
                // NO_NEW_PRIVS is set.
                if get_no_new_privs() != Ok(true) {
                    return 16;
                }
                0
            })();
            // SAFETY: ends the child without running the test harness's exit handlers (which
            // are not safe after fork in a threaded process); nothing else runs after it.
            unsafe { libc::_exit(code) };
        }
        let ForkResult::Parent { child } = fork else {
            unreachable!()
        };
        assert_eq!(
            waitpid(child, None),
            Ok(WaitStatus::Exited(child, 0)),
            "the child failed the check numbered by its exit code (see the test)"
        );
        // The parent is untouched.
        assert_eq!(ptrace_errno(PTRACE_GETREGSET, NT_X86_XSTATE), libc::ESRCH);
    }
}
