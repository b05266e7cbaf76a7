//! UDP sockets of VXLAN uplinks: bound, non-blocking, never fragmenting what they send (a
//! datagram larger than the path MTU fails with `EMSGSIZE` instead, so the uplink can count
//! it), and joined to a multicast group on a named interface.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};

/// A non-blocking UDP socket of `addr`'s family bound to `addr` (port 0: the kernel picks
/// one). IPv6 sockets are IPv6 only, so an IPv4 uplink can share the port.
pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd: OwnedFd = socket::socket(
        family,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    match addr {
        SocketAddr::V4(a) => {
            set_int(
                &fd,
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_DO,
            )?;
            socket::bind(fd.as_raw_fd(), &SockaddrIn::from(a))?;
        }
        SocketAddr::V6(a) => {
            socket::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
            set_int(
                &fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                libc::IPV6_PMTUDISC_DO,
            )?;
            socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(a))?;
        }
    }
    // Room for bursts of floods replicated to several remotes.
    let _ = socket::setsockopt(&fd, sockopt::SndBuf, &(1 << 20));
    let _ = socket::setsockopt(&fd, sockopt::RcvBuf, &(1 << 20));
    Ok(UdpSocket::from(fd))
}

/// The index of interface `name` in this network namespace.
pub fn ifindex(name: &str) -> io::Result<u32> {
    Ok(nix::net::if_::if_nametoindex(name)?)
}

/// Receive `group`'s datagrams on the socket, joined on interface `ifindex`.
pub fn join(sock: &UdpSocket, group: IpAddr, ifindex: u32) -> io::Result<()> {
    match group {
        IpAddr::V4(g) => {
            let req = libc::ip_mreqn {
                imr_multiaddr: in_addr(g),
                imr_address: in_addr(Ipv4Addr::UNSPECIFIED),
                imr_ifindex: ifindex as libc::c_int,
            };
            set_struct(sock, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &req)
        }
        IpAddr::V6(g) => sock.join_multicast_v6(&g, ifindex),
    }
}

/// Send multicast datagrams through interface `ifindex`, with a TTL (hop limit) of `ttl`,
/// and not back to this host.
pub fn multicast_out(sock: &UdpSocket, v6: bool, ifindex: u32, ttl: u32) -> io::Result<()> {
    if v6 {
        set_int(
            sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_IF,
            ifindex as libc::c_int,
        )?;
        set_int(
            sock,
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_HOPS,
            ttl as libc::c_int,
        )?;
        sock.set_multicast_loop_v6(false)
    } else {
        let req = libc::ip_mreqn {
            imr_multiaddr: in_addr(Ipv4Addr::UNSPECIFIED),
            imr_address: in_addr(Ipv4Addr::UNSPECIFIED),
            imr_ifindex: ifindex as libc::c_int,
        };
        set_struct(sock, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &req)?;
        sock.set_multicast_ttl_v4(ttl)?;
        sock.set_multicast_loop_v4(false)
    }
}

/// The unspecified address of `addr`'s family.
pub fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

fn in_addr(a: Ipv4Addr) -> libc::in_addr {
    libc::in_addr {
        s_addr: u32::from_ne_bytes(a.octets()),
    }
}

fn set_int(fd: &impl AsRawFd, level: i32, name: i32, value: libc::c_int) -> io::Result<()> {
    set_struct(fd, level, name, &value)
}

fn set_struct<T>(fd: &impl AsRawFd, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: setsockopt reads size_of::<T>() bytes from a reference valid for the call; the
    // options set here (IP_MTU_DISCOVER, IPV6_MTU_DISCOVER, IPV6_MULTICAST_IF/HOPS: int;
    // IP_ADD_MEMBERSHIP, IP_MULTICAST_IF: struct ip_mreqn) take exactly these types.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
