//! QEMU guests for the tests: diskless VMs that boot their e1000's iPXE ROM (under TCG: KVM is
//! not usable on the test machines), so a DHCP lease on the serial console proves the network.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::needs;
use crate::plug::wait_new_endpoints;
use crate::proc::Spawned;
use crate::switch::data_socket_ids;

/// What a DHCP test with QEMU needs: QEMU, the e1000 iPXE ROM, and `slirpvde` to answer.
pub struct Tools {
    pub qemu: PathBuf,
    pub slirpvde: PathBuf,
}

/// [`Tools`], or `None` after saying what is missing (see [`needs`]).
pub fn tools() -> Option<Tools> {
    let qemu = needs::in_path("qemu-system-x86_64", "qemu-system-x86")?;
    needs::file("/usr/lib/ipxe/qemu/efi-e1000.rom", "ipxe-qemu")?;
    let slirpvde = needs::program("/usr/bin/slirpvde", "vde2")?;
    Some(Tools { qemu, slirpvde })
}

/// `slirpvde --dhcp` on the switch in `dir`, once it is attached (10.0.2.0/24, itself the
/// gateway, leases from 10.0.2.15).
pub fn slirp(t: &Tools, dir: &Path) -> Spawned {
    let before = data_socket_ids(dir);
    let mut slirp =
        Spawned::start_with_open_stdin(Command::new(&t.slirpvde).arg("-s").arg(dir).arg("--dhcp"));
    assert!(
        wait_new_endpoints(&[(dir, before)]),
        "slirpvde did not attach\n{}",
        slirp.log()
    );
    assert!(slirp.is_running(), "{}", slirp.log());
    slirp
}

/// `qemu` running a diskless 64 MiB VM whose e1000 (MAC `mac`) is on `-netdev NETDEV` (its id
/// must be `n0`), booting from the network, serial console on stdout, stdin closed.
pub fn pxe_vm(qemu: &Path, netdev: &str, mac: &str) -> Command {
    let mut cmd = Command::new(qemu);
    cmd.args([
        "-accel",
        "tcg",
        "-m",
        "64",
        "-nodefaults",
        "-no-user-config",
        "-nographic",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-netdev",
        netdev,
        "-device",
        &format!("e1000,netdev=n0,mac={mac}"),
        "-boot",
        "n",
    ])
    .stdin(Stdio::null());
    cmd
}
