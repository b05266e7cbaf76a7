//! The operating system as the switch needs it, behind small safe functions: batched datagram
//! I/O and socket ownership (`unix`), tap interfaces, the user database, daemonising, logging.
//! Everything goes through std or `nix`; the tap ioctl is the one `unsafe` call here (the other
//! in the switch sets ignored signals, in `server::signals`), each saying why it is sound.

pub mod daemon;
pub mod dgram_server;
pub mod log;
pub mod tap;
pub mod unix;
pub mod users;
