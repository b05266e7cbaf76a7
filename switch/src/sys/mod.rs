//! The operating system as the switch needs it, behind small safe functions: batched datagram
//! I/O and socket ownership (`unix`), VXLAN's UDP sockets (`udp`), tap interfaces, the user database, daemonising, logging.
//! Everything goes through std or `nix`; the tap ioctl and, in `udp`, the socket options nix
//! lacks are the `unsafe` calls here (the other in the switch sets ignored signals, in
//! `server::signals`), each saying why it is sound.

pub mod daemon;
pub mod dgram_server;
pub mod log;
pub mod tap;
pub mod udp;
pub mod unix;
pub mod users;
