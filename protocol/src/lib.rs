//! Wire formats of the VDE switch, without any I/O.
//!
//! Each module is a typed view over bytes plus a `Repr` that is parsed from and emitted to them,
//! symmetrically, so the switch, its test clients and the fuzzers share one definition:
//!
//! * [`request`]: the request a client writes on `DIR/ctl` (vde_switch) or the uml_switch control
//!   socket to get a data port, in its v3, v1 and v0 layouts.
//! * [`sockaddr`]: the 110-byte `struct sockaddr_un` inside requests, which is also the whole
//!   reply.
//! * [`ethernet`]: Ethernet II / 802.1Q frames and VLAN tag insertion and removal.
//! * [`mac`]: MAC addresses, printed and parsed the way the switch does.
//! * [`bpdu`]: the BPDUs of vde_switch's fast spanning tree (FSTP), untagged and tagged.
//! * [`console`]: the management console's text protocol (banner, data blocks, status lines,
//!   debug lines, prompt), written by the switch and read by `vdeterm`.
//! * [`pcap`] and [`pcapng`]: capture files as tcpdump and Wireshark read them, written piece by
//!   piece into buffers and read back with checks.
//! * [`stream`]: frames on a byte stream behind a length header, as QEMU's `-netdev stream` (4
//!   bytes) and vdeplug4's `vde_plug` (2 bytes) send them; an incremental decoder and an encoder.
//! * [`vxlan`]: the RFC 7348 header in front of a frame in a UDP datagram, and the choice of the
//!   UDP source port.
//! * [`vxlan_spec`]: the text describing a VXLAN uplink (`--vxlan SPEC`).
//!
//! The control protocol uses the host byte order of the machines involved, which is
//! little-endian on every supported target; Ethernet fields are big-endian as usual.

#![forbid(unsafe_code)]

pub mod bpdu;
pub mod console;
pub mod error;
pub mod ethernet;
pub mod mac;
pub mod pcap;
pub mod pcapng;
pub mod request;
pub mod sockaddr;
pub mod stream;
pub mod vxlan;
pub mod vxlan_spec;

pub use bpdu::{BpduError, BpduRepr, BridgeId};
pub use error::ProtocolError;
pub use ethernet::{
    insert_tag, strip_tag, Frame, FrameRepr, HEADER_LEN as ETHERNET_HEADER_LEN, MIN_FRAME_LEN,
    TAGGED_HEADER_LEN, TPID_8021Q, VLAN_TAG_LEN,
};
pub use mac::{MacAddr, ParseMacError};
pub use request::{
    Dialect, PortRequest, ProtoVersion, RequestError, RequestRepr, MAGIC, MAX_DESCRIPTION_LEN,
    V0_LEN, V1_HEADER_LEN, V3_HEADER_LEN,
};
pub use sockaddr::{SockAddrUn, AF_UNIX, SOCKADDR_UN_LEN, SUN_PATH_LEN};

#[cfg(not(target_endian = "little"))]
compile_error!(
    "the VDE control protocol is host byte order; this crate encodes it as little-endian only"
);
