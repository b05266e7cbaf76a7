//! Errors of the byte-level views (socket addresses, Ethernet frames).
//!
//! Control-request errors have their own type, [`RequestError`](crate::RequestError), because a
//! switch reacts to each of them differently (log line, close, keep waiting for more bytes).

/// A buffer or value that does not fit the wire format.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The buffer ends before the structure does.
    #[error("buffer too short: {have} of {need} bytes")]
    Truncated {
        /// Bytes available.
        have: usize,
        /// Bytes the structure needs.
        need: usize,
    },

    /// A `sockaddr_un` whose `sun_family` is not `AF_UNIX`: the peer is not a Unix-socket client.
    #[error("address family {0} is not AF_UNIX (1)")]
    BadFamily(u16),

    /// A socket path or abstract name longer than `sun_path` can hold.
    #[error("socket path of {len} bytes is too long: at most {max} bytes fit in sun_path")]
    PathTooLong {
        /// Length that was given.
        len: usize,
        /// Longest accepted length.
        max: usize,
    },

    /// A pathname socket path containing a NUL byte, which would silently cut it short.
    #[error("socket path contains a NUL byte")]
    InteriorNul,

    /// An empty pathname: it would be read back as an (unnamed) abstract address.
    #[error("socket path is empty")]
    EmptyPath,
}
