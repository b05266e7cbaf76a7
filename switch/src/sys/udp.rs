//! UDP sockets of VXLAN uplinks: bound, non-blocking, never fragmenting what they send (a
//! datagram larger than the path MTU fails with `EMSGSIZE` instead, so the uplink can count
//! it), and joined to a multicast group on a named interface.

use std::cell::RefCell;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    self, sockopt, AddressFamily, MsgFlags, MultiHeaders, SockFlag, SockType, SockaddrIn,
    SockaddrIn6, SockaddrStorage,
};

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

/// Most datagrams moved by one `recvmmsg`/`sendmmsg` call here.
pub const MAX_BATCH: usize = 64;

thread_local! {
    /// Message headers of the batched calls, made once (the data path runs on one thread and
    /// must not allocate per batch): receiving, sending.
    static HEADERS: RefCell<(MultiHeaders<SockaddrStorage>, MultiHeaders<SockaddrStorage>)> =
        RefCell::new((
            MultiHeaders::preallocate(MAX_BATCH, None),
            MultiHeaders::preallocate(MAX_BATCH, None),
        ));
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        Some(SocketAddr::V4((*v4).into()))
    } else {
        a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
    }
}

/// Receive up to `heads.len()` datagrams in one `recvmmsg`, each into two pieces: its first
/// bytes into `heads[i]` (a VXLAN header), the rest into `bodies[i]`. `lens[i]` gets the
/// length of the rest, larger than `bodies[i]` when the datagram was cut; `from[i]` its
/// sender. `WouldBlock` when there is nothing.
pub fn recv_batch(
    sock: &UdpSocket,
    heads: &mut [[u8; 8]],
    bodies: &mut [Vec<u8>],
    lens: &mut [usize],
    from: &mut [Option<SocketAddr>],
) -> io::Result<usize> {
    let n = heads
        .len()
        .min(bodies.len())
        .min(lens.len())
        .min(from.len())
        .min(MAX_BATCH);
    let caps: [usize; MAX_BATCH] = std::array::from_fn(|i| bodies.get(i).map_or(0, Vec::len));
    // (bytes, cut, sender) of each datagram, read out before the buffers are touched again.
    let mut got = [(0usize, false, None::<SocketAddr>); MAX_BATCH];
    let count = HEADERS.with_borrow_mut(|(rx, _)| -> io::Result<usize> {
        // The slices borrow the buffers for the call only, from a stack array.
        let mut iovs: [[IoSliceMut<'_>; 2]; MAX_BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(&mut []), IoSliceMut::new(&mut [])]);
        for (iov, (h, b)) in iovs
            .iter_mut()
            .zip(heads.iter_mut().zip(bodies.iter_mut()))
            .take(n)
        {
            *iov = [IoSliceMut::new(h), IoSliceMut::new(b)];
        }
        let msgs = socket::recvmmsg(
            sock.as_raw_fd(),
            rx,
            iovs[..n].iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        let mut count = 0;
        for (slot, msg) in got.iter_mut().zip(msgs) {
            *slot = (
                msg.bytes,
                msg.flags.contains(MsgFlags::MSG_TRUNC),
                msg.address.as_ref().and_then(socket_addr),
            );
            count += 1;
        }
        Ok(count)
    })?;
    for (i, &(bytes, cut, sender)) in got[..count].iter().enumerate() {
        let body = bytes.saturating_sub(8);
        lens[i] = if cut { body.max(caps[i] + 1) } else { body };
        // Shorter than the header: what was read of it is not one.
        if bytes < 8 {
            heads[i] = [0; 8];
        }
        from[i] = sender;
    }
    Ok(count)
}

/// One datagram to send: `head` then `body`, to `to`.
#[derive(Clone, Copy)]
pub struct Out<'a> {
    pub head: &'a [u8],
    pub body: &'a [u8],
    pub to: SocketAddr,
}

/// Send `msgs` in order in one `sendmmsg` (at most [`MAX_BATCH`]); how many went. When the
/// first fails, its error.
pub fn send_batch(sock: &UdpSocket, msgs: &[Out<'_>]) -> io::Result<usize> {
    let n = msgs.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    let iovs: [[IoSlice<'_>; 2]; MAX_BATCH] = std::array::from_fn(|i| match msgs.get(i) {
        Some(m) => [IoSlice::new(m.head), IoSlice::new(m.body)],
        None => [IoSlice::new(&[]), IoSlice::new(&[])],
    });
    let addrs: [Option<SockaddrStorage>; MAX_BATCH] =
        std::array::from_fn(|i| msgs.get(i).map(|m| SockaddrStorage::from(m.to)));
    HEADERS.with_borrow_mut(|(_, tx)| {
        let sent = socket::sendmmsg(
            sock.as_raw_fd(),
            tx,
            iovs[..n].iter(),
            &addrs[..n],
            [],
            MsgFlags::MSG_DONTWAIT,
        )?;
        Ok(sent.count())
    })
}
