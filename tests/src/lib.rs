//! Shared harness for the end-to-end tests.
//!
//! The tests drive the switch under test (our `vde_switch` / `uml_switch`, or the reference
//! binaries when `VDE_SWITCH_BIN` / `UML_SWITCH_BIN` point at them) with real clients:
//! `vde_plug`, `dpipe`, stock UML kernels, QEMU, `slirpvde`, `wirefilter`, `vdens`, `vdeterm`,
//! `unixterm`, `tcpdump`, and hand-written raw protocol clients.
//!
//! Rules every test follows: a missing dependency fails the test ([`needs`]); every switch is
//! isolated from the caller's rc files ([`bins::vde_switch_command`]); waits are for events,
//! never for a fixed time, and a check that a frame does *not* arrive is followed by a control
//! frame that must arrive next ([`Plug::expect_only`]); every process a test starts is in a
//! guard, armed before the first assertion, that kills it by pid.
//!
//! Running:
//! * `scripts/test` (installs missing Debian packages, `cargo build --workspace --bins`, then
//!   `cargo test --workspace`), or `cargo test -p integration-tests` after building the bins.
//! * Against the reference binaries (differential mode):
//!   `VDE_SWITCH_BIN=/usr/bin/vde_switch UML_SWITCH_BIN=/usr/bin/uml_switch cargo test -p integration-tests`.
//!   Checks of our deliberate fixes then assert the reference's documented behaviour instead
//!   (see [`is_reference`]).
//! * Other knobs: `UML_KERNEL` (default /usr/bin/linux.uml), `VDE_TEST_UML_AMX_WORKAROUND=1|0`
//!   (force the UML AMX workaround on/off; default: automatic), `VDE_SWITCH_IS_REFERENCE=1|0`,
//!   `VDE_TESTS_ALLOW_SKIP=1` (skip, visibly, instead of failing when a dependency is missing;
//!   ignored under `CI`).
//!
//! Modules, by topic:
//! * [`bins`]: where the binaries under test live, and whether they are the reference.
//! * [`switch`]: the [`Switch`] guard (a running `vde_switch` or `uml_switch`).
//! * [`plug`]: the [`Plug`] guard (a `vde_plug` carrying frames on stdin/stdout) and cables.
//! * [`frame`]: Ethernet frame builders.
//! * [`raw`]: a raw control-protocol client for malformed-input tests.
//! * [`uml`]: busybox root file systems and UML guests.
//! * [`proc`]: process helpers (deadlines, timeouts, daemons).
//! * [`qemu`]: diskless QEMU VMs booting iPXE, to get DHCP leases through a switch.
//! * [`pty`]: a program on a pseudo-terminal with an emulated screen (interactive tests).
//! * [`vdeterm`]: our `vdeterm` (`VDETERM_BIN` overrides it) and switches with a `-M` socket.
//! * [`mgmt`]: a raw management-console client (one command per write, answers up to the prompt).
//! * [`needs`]: what the suite needs from the machine, and the opt-in skip.
//! * [`netns`]: network namespaces with unique names, removed on drop.
//! * [`vdelab`]: labs run by `vdelab` in scratch directories, shell commands in their guests.

pub mod bins;
pub mod cow;
pub mod flood;
pub mod frame;
pub mod mgmt;
pub mod needs;
pub mod netns;
pub mod plug;
pub mod proc;
pub mod pty;
pub mod qemu;
pub mod raw;
pub mod seccomp;
pub mod switch;
pub mod uml;
pub mod umlrun;
pub mod vdelab;
pub mod vdeterm;

pub use bins::{
    is_reference, is_uml_reference, uml_switch_bin, vde_switch_bin, REFERENCE_VDE_SWITCH,
};
pub use frame::{eth, hex, mac, payload, vlan_tagged, Mac, BROADCAST};
pub use plug::{Cable, Plug};
pub use proc::{wait_until, Deadline};
pub use switch::{Switch, SwitchBuilder};

use std::time::Duration;

/// How long a test waits for something that should happen "at once" (a socket appearing, a frame
/// arriving). Generous, because tests run in parallel on small machines; only failures wait this long.
pub const SETTLE: Duration = Duration::from_secs(10);

/// How long a frame that should arrive may take.
pub const ARRIVE: Duration = Duration::from_secs(3);
