//! QEMU guests for the tests: diskless VMs that boot their e1000's iPXE ROM (under TCG: KVM is
//! not usable on the test machines), so a DHCP lease on the serial console proves the network.

use std::path::Path;
use std::process::{Command, Stdio};

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
