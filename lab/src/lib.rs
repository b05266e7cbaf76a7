//! `vdelab`: a lab of UML guests and virtual switches described by one directory, as Netkit and
//! Kathará describe them (`lab.conf`, `HOST.startup`, `HOST/`), run on stock kernels without
//! root privileges.
//!
//! `up` starts one of our `vde_switch` per collision domain and every guest through `umlrun`
//! (in the background, each in its own process group), waits until every guest has run its
//! startup files, and returns; `down` stops the guests cleanly through their mconsoles and then
//! the switches. The guests run on COW files over a busybox root file system
//! ([`rootfs`]); the lab directory is their `/hostlab`.
//!
//! Modules:
//! * [`conf`]: `lab.conf`, parsed and checked (no I/O).
//! * [`plan`]: a lab -> the switches' settings and each host's umlrun command line.
//! * [`layout`]: where a lab's files and its runtime directory are.
//! * [`rootfs`]: the guests' default root file system.
//! * [`switch`], [`guest`]: starting one switch, one guest.
//! * [`up`], [`down`], [`status`], [`console`]: the commands on a running lab; [`keeper`]: the
//!   process that holds the guests' consoles while the lab runs.
//! * [`disks`]: `save`, `restore` and `clean`.
//! * [`state`]: what runs (`state.json`); [`proc`]: processes known by pid; [`lock`]: one
//!   command at a time; [`interrupt`]: the signals that stop a command; [`tools`]: the programs
//!   vdelab runs.
#![forbid(unsafe_code)]

pub mod conf;
pub mod console;
pub mod disks;
pub mod down;
pub mod error;
pub mod guest;
pub mod interrupt;
pub mod keeper;
pub mod layout;
pub mod lock;
pub mod plan;
pub mod proc;
pub mod rootfs;
pub mod state;
pub mod status;
pub mod switch;
pub mod tools;
pub mod up;

pub use error::{LabError, Result};
