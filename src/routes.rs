//! Following the routes (the `routes` feature, Linux and Android): the
//! worker listens to the kernel's address, link and route changes on a
//! NETLINK_ROUTE socket, polled beside its socket and eventfd, so it sleeps
//! as before and wakes only when something changed.
//!
//! - **Connected:** the connection's path is gone when its local address
//!   is removed, its interface goes down, or the kernel no longer routes
//!   the server's address through that interface. Then the worker ends the
//!   connection as [`Control::Reconnect`](crate::Control::Reconnect)
//!   would, without waiting for a timeout.
//! - **In a backoff wait:** when an address or route appears, or a link
//!   comes up, and the kernel now has a route to the server, the wait
//!   ends: it tries at once.
//! - A change that leaves the path intact does nothing.
//!
//! Where netlink is refused (Android apps since Android 11, some
//! containers) [`Routes::open`] fails; the worker logs that once and goes
//! on without it.
//!
//! Without the feature [`Watch`] is an empty stand-in and polling is the
//! plain [`sys::poll`].

use std::io;
use std::net::{IpAddr, TcpStream};
#[cfg(feature = "routes")]
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::sys::{self, EventFd, Ready};

/// The parsers, for the fuzz targets.
pub mod wire {
    pub use super::{read_changes, route_oif, Path, Seen};
}

/// What the messages in one read said, for one path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Something about addresses, links or routes changed.
    pub changed: bool,
    /// The path's local address was removed, or its interface went down
    /// or away.
    pub path_lost: bool,
    /// An address or route appeared, or a link came up.
    pub appeared: bool,
}

/// A connection's path: its addresses and the interface the kernel routes
/// the server through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    /// Our end's address.
    pub local: IpAddr,
    /// The server's address.
    pub peer: IpAddr,
    /// Interface index (`None`: not known).
    pub ifindex: Option<u32>,
}

// Netlink's numbers (linux/netlink.h, linux/rtnetlink.h, linux/if.h).
const NLMSG_HDR: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
#[cfg(feature = "routes")]
const RTM_GETROUTE: u16 = 26;
const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_OIF: u16 = 4;
#[cfg(feature = "routes")]
const RTA_DST: u16 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The netlink messages in `buf`: `(type, payload)` each. Stops at the
/// first malformed header; never panics on any input.
fn messages(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    core::iter::from_fn(move || {
        let len = u32_at(rest, 0)? as usize;
        let kind = u16_at(rest, 4)?;
        if len < NLMSG_HDR || len > rest.len() {
            return None;
        }
        let payload = &rest[NLMSG_HDR..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

/// The route attributes after a fixed header of `skip` bytes: `(type,
/// value)` each, up to the first malformed one.
fn attributes(payload: &[u8], skip: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = payload.get(skip..).unwrap_or(&[]);
    core::iter::from_fn(move || {
        let len = u16_at(rest, 0)? as usize;
        let kind = u16_at(rest, 2)?;
        if len < 4 || len > rest.len() {
            return None;
        }
        let value = &rest[4..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        Some((kind & 0x3fff, value))
    })
}

fn ip_of(family: u8, value: &[u8]) -> Option<IpAddr> {
    match (family, value.len()) {
        (AF_INET, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(value).ok()?)),
        (AF_INET6, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(value).ok()?)),
        _ => None,
    }
}

/// What the kernel's messages in `buf` say about `path` (if any).
pub fn read_changes(buf: &[u8], path: Option<&Path>) -> Seen {
    let mut seen = Seen::default();
    let ours = |index: u32| path.is_some_and(|p| p.ifindex == Some(index));
    for (kind, payload) in messages(buf) {
        match kind {
            RTM_NEWLINK | RTM_DELLINK => {
                // ifinfomsg: family, pad, type (u16), index (i32), flags.
                let (Some(index), Some(flags)) = (u32_at(payload, 4), u32_at(payload, 8)) else {
                    continue;
                };
                seen.changed = true;
                let up =
                    kind == RTM_NEWLINK && flags & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING;
                if up {
                    seen.appeared = true;
                } else if ours(index) {
                    seen.path_lost = true;
                }
            }
            RTM_NEWADDR | RTM_DELADDR => {
                // ifaddrmsg: family, prefixlen, flags, scope, index (u32).
                let Some(&family) = payload.first() else {
                    continue;
                };
                seen.changed = true;
                if kind == RTM_NEWADDR {
                    seen.appeared = true;
                    continue;
                }
                let gone = attributes(payload, 8)
                    .filter(|&(t, _)| t == IFA_LOCAL || t == IFA_ADDRESS)
                    .filter_map(|(_, v)| ip_of(family, v))
                    .any(|ip| path.is_some_and(|p| p.local == ip));
                seen.path_lost |= gone;
            }
            RTM_NEWROUTE | RTM_DELROUTE => {
                seen.changed = true;
                seen.appeared |= kind == RTM_NEWROUTE;
            }
            _ => {}
        }
    }
    seen
}

/// The outgoing interface of the route in the kernel's reply to an
/// `RTM_GETROUTE` (`None`: no route, or an error).
pub fn route_oif(buf: &[u8]) -> Option<u32> {
    for (kind, payload) in messages(buf) {
        match kind {
            RTM_NEWROUTE => {
                // rtmsg: 8 one-byte fields and flags (u32): 12 bytes.
                return attributes(payload, 12)
                    .find(|&(t, v)| t == RTA_OIF && v.len() == 4)
                    .and_then(|(_, v)| u32_at(v, 0));
            }
            NLMSG_ERROR | NLMSG_DONE => return None,
            _ => {}
        }
    }
    None
}

/// The worker's watch on the routes: a netlink socket and the path of the
/// current connection.
#[cfg(feature = "routes")]
pub(crate) struct Watch {
    routes: Option<Routes>,
    path: Option<Path>,
    /// The last server address, for "is there a route again" in a backoff
    /// wait.
    peer: Option<IpAddr>,
}

/// The stand-in without the `routes` feature: watches nothing.
#[cfg(not(feature = "routes"))]
pub(crate) struct Watch;

#[cfg(not(feature = "routes"))]
impl Watch {
    pub(crate) fn new(_follow: bool) -> Watch {
        Watch
    }

    pub(crate) fn connected(&mut self, _sock: &TcpStream) {}

    /// `sys::poll`, and nothing else to report.
    pub(crate) fn poll(
        &mut self,
        sock: i32,
        read: bool,
        write: bool,
        wake: &EventFd,
        timeout: Option<Duration>,
    ) -> io::Result<(Ready, bool)> {
        sys::poll(sock, read, write, wake, timeout).map(|r| (r, false))
    }

    pub(crate) fn path_lost(&mut self) -> bool {
        false
    }

    pub(crate) fn route_back(&mut self) -> bool {
        false
    }
}

#[cfg(feature = "routes")]
impl Watch {
    /// Opens the netlink socket if `follow`; where the system refuses it,
    /// says so once and watches nothing.
    pub(crate) fn new(follow: bool) -> Watch {
        let routes = follow
            .then(|| match Routes::open() {
                Ok(r) => Some(r),
                Err(e) => {
                    log::info!("not following routes: netlink refused: {e}");
                    None
                }
            })
            .flatten();
        Watch {
            routes,
            path: None,
            peer: None,
        }
    }

    /// A connection is up on `sock`: its path.
    pub(crate) fn connected(&mut self, sock: &TcpStream) {
        self.path = None;
        if self.routes.is_none() {
            return;
        }
        let (Ok(local), Ok(peer)) = (sock.local_addr(), sock.peer_addr()) else {
            return;
        };
        let path = Path {
            local: local.ip(),
            peer: peer.ip(),
            ifindex: Routes::route_to(peer.ip()),
        };
        log::debug!("following routes: {path:?}");
        self.peer = Some(peer.ip());
        self.path = Some(path);
    }

    /// `sys::poll` with the netlink socket beside: true in the second
    /// place when it has messages.
    pub(crate) fn poll(
        &mut self,
        sock: RawFd,
        read: bool,
        write: bool,
        wake: &EventFd,
        timeout: Option<Duration>,
    ) -> io::Result<(Ready, bool)> {
        match &self.routes {
            Some(r) => sys::poll_with(sock, read, write, wake, r.fd.as_raw_fd(), timeout),
            None => sys::poll(sock, read, write, wake, timeout).map(|r| (r, false)),
        }
    }

    /// Reads what changed: true if the connection's path is gone.
    pub(crate) fn path_lost(&mut self) -> bool {
        let Some(routes) = self.routes.as_mut() else {
            return false;
        };
        let seen = routes.read(self.path.as_ref());
        let Some(path) = self.path else {
            return false;
        };
        let lost = seen.path_lost
            || (seen.changed
                && path.ifindex.is_some()
                && Routes::route_to(path.peer) != path.ifindex);
        if lost {
            log::debug!("the connection's path is gone");
        }
        lost
    }

    /// In a backoff wait: reads what changed; true if something appeared
    /// and the kernel now has a route to the server (or no server address
    /// is known yet).
    pub(crate) fn route_back(&mut self) -> bool {
        let Some(routes) = self.routes.as_mut() else {
            return false;
        };
        let seen = routes.read(None);
        let back = seen.appeared && self.peer.is_none_or(|p| Routes::route_to(p).is_some());
        if back {
            log::debug!("a route to the server appeared");
        }
        back
    }
}

/// The NETLINK_ROUTE socket, subscribed to link, address and route changes.
#[cfg(feature = "routes")]
struct Routes {
    fd: OwnedFd,
    buf: Box<[u8]>,
}

#[cfg(feature = "routes")]
impl Routes {
    fn open() -> io::Result<Routes> {
        let groups = libc::RTMGRP_LINK
            | libc::RTMGRP_IPV4_IFADDR
            | libc::RTMGRP_IPV4_ROUTE
            | libc::RTMGRP_IPV6_IFADDR
            | libc::RTMGRP_IPV6_ROUTE;
        let fd = sys::netlink_socket(groups as u32)?;
        Ok(Routes {
            fd,
            buf: vec![0; 8192].into_boxed_slice(),
        })
    }

    /// Reads every message waiting (never blocks).
    fn read(&mut self, path: Option<&Path>) -> Seen {
        let mut seen = Seen::default();
        loop {
            match sys::recv_now(self.fd.as_raw_fd(), &mut self.buf) {
                Ok(0) => break,
                Ok(n) => {
                    let s = read_changes(&self.buf[..n], path);
                    seen.changed |= s.changed;
                    seen.path_lost |= s.path_lost;
                    seen.appeared |= s.appeared;
                }
                // ENOBUFS: messages were lost; something changed.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => seen.changed = true,
                Err(_) => break,
            }
        }
        seen
    }

    /// The interface the kernel routes `dst` through now (`None`: no
    /// route), asked on a socket of its own.
    fn route_to(dst: IpAddr) -> Option<u32> {
        let fd = sys::netlink_socket(0).ok()?;
        let (family, addr): (u8, Vec<u8>) = match dst {
            IpAddr::V4(a) => (AF_INET, a.octets().to_vec()),
            IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
        };
        let attr_len = 4 + addr.len();
        let len = NLMSG_HDR + 12 + attr_len;
        let mut req = Vec::with_capacity(len);
        req.extend_from_slice(&(len as u32).to_ne_bytes());
        req.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
        req.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
        req.extend_from_slice(&1u32.to_ne_bytes());
        req.extend_from_slice(&0u32.to_ne_bytes());
        // rtmsg: family, dst_len, then zeros.
        req.extend_from_slice(&[family, (addr.len() * 8) as u8, 0, 0, 0, 0, 0, 0]);
        req.extend_from_slice(&0u32.to_ne_bytes());
        req.extend_from_slice(&(attr_len as u16).to_ne_bytes());
        req.extend_from_slice(&RTA_DST.to_ne_bytes());
        req.extend_from_slice(&addr);
        let mut buf = [0u8; 1024];
        // The kernel answers a route query at once.
        let n = sys::netlink_ask(&fd, &req, &mut buf).ok()?;
        route_oif(buf.get(..n)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: u16, payload: &[u8]) -> Vec<u8> {
        let len = NLMSG_HDR + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    fn link(kind: u16, index: u32, flags: u32) -> Vec<u8> {
        let mut p = vec![0u8, 0, 0, 0];
        p.extend_from_slice(&index.to_ne_bytes());
        p.extend_from_slice(&flags.to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        msg(kind, &p)
    }

    fn addr(kind: u16, index: u32, ip: [u8; 4]) -> Vec<u8> {
        let mut p = vec![AF_INET, 24, 0, 0];
        p.extend_from_slice(&index.to_ne_bytes());
        p.extend(attr(IFA_LOCAL, &ip));
        msg(kind, &p)
    }

    fn path() -> Path {
        Path {
            local: IpAddr::from([10, 1, 0, 2]),
            peer: IpAddr::from([10, 9, 0, 1]),
            ifindex: Some(7),
        }
    }

    #[test]
    fn test_our_link_down_loses_the_path() {
        let seen = read_changes(&link(RTM_NEWLINK, 7, IFF_UP), Some(&path()));
        assert!(seen.changed && seen.path_lost && !seen.appeared);
        let seen = read_changes(&link(RTM_DELLINK, 7, 0), Some(&path()));
        assert!(seen.path_lost);
    }

    #[test]
    fn test_another_link_down_keeps_the_path() {
        let seen = read_changes(&link(RTM_NEWLINK, 8, 0), Some(&path()));
        assert!(seen.changed && !seen.path_lost);
    }

    #[test]
    fn test_a_link_up_and_running_appears() {
        let seen = read_changes(&link(RTM_NEWLINK, 8, IFF_UP | IFF_RUNNING), None);
        assert!(seen.appeared && !seen.path_lost);
    }

    #[test]
    fn test_our_local_address_removed_loses_the_path() {
        let seen = read_changes(&addr(RTM_DELADDR, 7, [10, 1, 0, 2]), Some(&path()));
        assert!(seen.path_lost);
        let seen = read_changes(&addr(RTM_DELADDR, 7, [10, 1, 0, 3]), Some(&path()));
        assert!(seen.changed && !seen.path_lost);
        let seen = read_changes(&addr(RTM_NEWADDR, 8, [10, 2, 0, 2]), Some(&path()));
        assert!(seen.appeared && !seen.path_lost);
    }

    #[test]
    fn test_several_messages_in_one_read() {
        let mut buf = link(RTM_NEWLINK, 8, 0);
        buf.extend(msg(RTM_NEWROUTE, &[0; 12]));
        let seen = read_changes(&buf, Some(&path()));
        assert!(seen.changed && seen.appeared && !seen.path_lost);
    }

    #[test]
    fn test_route_reply_names_its_interface() {
        let mut p = vec![AF_INET, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p.extend(attr(1, &[10, 9, 0, 1]));
        p.extend(attr(RTA_OIF, &9u32.to_ne_bytes()));
        assert_eq!(route_oif(&msg(RTM_NEWROUTE, &p)), Some(9));
        assert_eq!(route_oif(&msg(NLMSG_ERROR, &[0; 20])), None);
    }

    #[test]
    fn test_malformed_input_is_ignored() {
        for bad in [
            &[][..],
            &[1, 0, 0, 0],
            &[255, 255, 255, 255, 16, 0, 0, 0],
            &[16, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[20, 0, 0, 0, 21, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0],
        ] {
            let _ = read_changes(bad, Some(&path()));
            assert_eq!(route_oif(bad), None);
        }
    }

    #[cfg(feature = "routes")]
    #[test]
    fn test_the_kernel_routes_loopback_through_lo() {
        let lo = Routes::route_to(IpAddr::from([127, 0, 0, 1]));
        assert!(lo.is_some(), "no route to 127.0.0.1");
    }
}
