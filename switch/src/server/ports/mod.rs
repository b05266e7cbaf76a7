//! The kinds of ports, one module each. A kind owns its fds: the subscribers that accept
//! and set up its clients ([`crate::server::reactor::Subscriber`]) and the links that carry
//! its frames ([`crate::server::plane::Link`]). Its endpoints are attached to the fabric
//! with its `MODULE` name, which `port/print` shows.
//!
//! Kinds: [`vde`] (control socket clients: libvdeplug, UML, QEMU `-netdev vde`), [`tap`]
//! (`-t`), [`stream`] (`--stream`: QEMU `-netdev stream`, one port per connection) and
//! [`dgram`] (`--dgram`: QEMU `-netdev dgram`, one port per sender address).
//!
//! To add a kind: a module here, and its start where the server starts the others
//! ([`crate::server::Server::bind`] or [`crate::server::Server::attach_taps`]).

pub mod dgram;
pub mod qemu;
pub mod stream;
pub mod tap;
pub mod vde;
pub mod vxlan;
