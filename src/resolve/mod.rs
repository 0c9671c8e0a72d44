//! Name resolution for the connect phase: which resolver, and waiting for
//! it in a way that `Shutdown`, `Abort` and the resolve time limit end at
//! once.
//!
//! - A host that is an IP address literal (`127.0.0.1`, `::1`, `[::1]`,
//!   `fe80::1%eth0`) is never looked up, whatever the resolver.
//! - [`Resolver::Dns`] (dns.rs) and [`Resolver::Dnsproxyd`] (dnsproxyd.rs)
//!   run on the worker thread itself: their sockets are non-blocking and
//!   polled together with the wake eventfd, so there is nothing to abandon.
//! - [`Resolver::System`] (system.rs) calls `getaddrinfo`, which cannot be
//!   interrupted, on a short-lived helper thread; the worker sleeps in
//!   `poll` on the eventfd until the helper's result is ready, the time
//!   limit passes or the application asks to stop. An abandoned helper
//!   finishes on its own and its result is dropped.
//! - [`Resolver::Auto`] picks one of those per lookup ([`auto_pick`]).

mod dns;
mod dnsproxyd;
mod system;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::Config;
use crate::config::{Resolver, ANDROID_DNSPROXYD};
use crate::message::Failure;
use crate::message::Phase;
use crate::sys;
use crate::wake::Core;

/// The C library's resolver configuration (musl and glibc read it).
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// What [`Resolver::Auto`] resolves with.
#[derive(Debug, PartialEq, Eq)]
enum Pick {
    System,
    Dnsproxyd(PathBuf),
}

/// The choice [`Resolver::Auto`] makes: netd's socket when there is no
/// `resolv_conf` and `dnsproxyd` exists, else the system resolver; always
/// the system resolver on bionic (which asks netd itself). Paths are
/// parameters so the choice can be tested anywhere.
fn auto_pick(bionic: bool, resolv_conf: &Path, dnsproxyd: &Path) -> Pick {
    if !bionic && !resolv_conf.exists() && dnsproxyd.exists() {
        Pick::Dnsproxyd(dnsproxyd.to_path_buf())
    } else {
        Pick::System
    }
}

/// Resolves `config.host` with `config.resolver`, within
/// `config.resolve_timeout` and the connect budget's `deadline`, whichever
/// ends first. Returns the addresses (with `config.port`) in the
/// resolver's order, duplicates removed; neither filtered by
/// `config.family` (a resolver may use it to ask for less) nor
/// interleaved. `Shutdown` or `Abort` ends it at once with
/// [`Failure::Stopped`].
pub(crate) fn lookup(
    config: &Config,
    core: &Core,
    deadline: Option<Instant>,
) -> Result<Vec<SocketAddr>, Failure> {
    lookup_host(config, &config.host, config.port, true, core, deadline)
}

/// Like [`lookup`], for `host` and `port` (a proxy's) with `config`'s
/// resolver and limits; [`Resolver::Static`] holds the server's addresses,
/// so it applies only when `pinned` (else [`Resolver::Auto`] answers).
pub(crate) fn lookup_host(
    config: &Config,
    host: &str,
    port: u16,
    pinned: bool,
    core: &Core,
    deadline: Option<Instant>,
) -> Result<Vec<SocketAddr>, Failure> {
    let until = match config.resolve_timeout {
        Some(t) => match (Instant::now().checked_add(t), deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        None => deadline,
    };
    let host = bare_host(host);
    if host.is_empty() {
        return Err(failed(io::ErrorKind::InvalidInput, "empty host name"));
    }
    let resolver = match &config.resolver {
        Resolver::Static(_) if !pinned => &Resolver::Auto,
        r => r,
    };
    if let Resolver::Static(ips) = resolver {
        if ips.is_empty() {
            return Err(failed(
                io::ErrorKind::NotFound,
                "the static resolver has no address",
            ));
        }
        return Ok(unique(ips.iter().map(|&ip| SocketAddr::new(ip, port))));
    }
    if let Some(addr) = literal(host, port) {
        return Ok(vec![addr]);
    }
    let addrs = match resolver {
        Resolver::Static(_) => unreachable!("handled above"),
        Resolver::Dns(servers) => dns::lookup(core, host, port, config.family, servers, until)?,
        Resolver::Dnsproxyd(path) => {
            dnsproxyd::lookup(core, host, port, config.family, path, until)?
        }
        Resolver::System => system::lookup(core, host, port, until)?,
        Resolver::Auto => match auto_pick(
            cfg!(target_os = "android"),
            Path::new(RESOLV_CONF),
            Path::new(ANDROID_DNSPROXYD),
        ) {
            Pick::System => system::lookup(core, host, port, until)?,
            Pick::Dnsproxyd(path) => {
                log::debug!(
                    "no {RESOLV_CONF}: resolving {host} through {}",
                    path.display()
                );
                dnsproxyd::lookup(core, host, port, config.family, &path, until)?
            }
        },
    };
    if addrs.is_empty() {
        return Err(failed(
            io::ErrorKind::NotFound,
            format!("{host}: no address"),
        ));
    }
    log::debug!("resolved {host}: {addrs:?}");
    Ok(unique(addrs.into_iter()))
}

/// The host without surrounding spaces or the brackets of `[::1]`.
fn bare_host(host: &str) -> &str {
    let host = host.trim();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// An IP address literal, IPv6 with an optional `%scope` (a number or an
/// interface name).
fn literal(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    let (ip, scope) = host.split_once('%')?;
    let ip: Ipv6Addr = ip.parse().ok()?;
    let scope = match scope.parse::<u32>() {
        Ok(n) => n,
        Err(_) => sys::interface_index(scope)?,
    };
    Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
}

/// The addresses in order, each once.
fn unique(addrs: impl Iterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in addrs {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// A resolve-phase failure.
fn failed(kind: io::ErrorKind, msg: impl Into<String>) -> Failure {
    Failure::Failed(Phase::Resolve, io::Error::new(kind, msg.into()))
}

/// The resolve time limit passed.
fn timed_out(what: impl std::fmt::Display) -> Failure {
    failed(
        io::ErrorKind::TimedOut,
        format!("resolve timed out: {what}"),
    )
}

/// Sleeps in `poll(2)` on `fd` (for reading and/or writing; `-1` and
/// neither for none) and the wake eventfd, with the worker marked parked,
/// until something happens: returns `Some(ready)` to look again (the
/// socket may be ready, or the eventfd was notified and drained), `None`
/// once `until` has passed, and [`Failure::Stopped`] when `Shutdown` or
/// `Abort` has arrived (checked after parking, so one that arrives
/// meanwhile notifies the eventfd and ends the sleep).
fn wait(
    core: &Core,
    fd: RawFd,
    read: bool,
    write: bool,
    until: Option<Instant>,
) -> Result<Option<sys::Ready>, Failure> {
    let parked = core.park();
    if let Some(reason) = core.stop_requested() {
        drop(parked);
        return Err(Failure::Stopped(reason));
    }
    let timeout = match until {
        Some(u) => {
            let left = u.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            Some(left)
        }
        None => None,
    };
    let ready = parked
        .poll(|wake| sys::poll(fd, read, write, wake, timeout))
        .map_err(|e| Failure::Failed(Phase::Resolve, e))?;
    if let Some(reason) = core.stop_requested() {
        return Err(Failure::Stopped(reason));
    }
    Ok(Some(ready))
}

/// The limit passed during an exchange.
fn io_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

/// Writes all of `buf` to the non-blocking stream socket `sock`, sleeping
/// in [`wait`] while it is full, until `until`. The inner error is the
/// socket's (or `TimedOut`); the outer, a stop.
fn send_all(
    core: &Core,
    sock: &socket2::Socket,
    buf: &[u8],
    until: Option<Instant>,
) -> Result<io::Result<()>, Failure> {
    let mut sent = 0;
    while sent < buf.len() {
        match (&*sock).write(&buf[sent..]) {
            Ok(0) => return Ok(Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if wait(core, sock.as_raw_fd(), false, true, until)?.is_none() {
                    return Ok(Err(io_timed_out()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(()))
}

/// Reads what `sock` has (0: end of stream), sleeping in [`wait`] until
/// there is something, until `until`.
fn recv_some(
    core: &Core,
    sock: &socket2::Socket,
    buf: &mut [u8],
    until: Option<Instant>,
) -> Result<io::Result<usize>, Failure> {
    loop {
        match (&*sock).read(buf) {
            Ok(n) => return Ok(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if wait(core, sock.as_raw_fd(), true, false, until)?.is_none() {
                    return Ok(Err(io_timed_out()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// The wire formats, for the fuzz targets and tests: not a stable API.
#[doc(hidden)]
pub mod wire {
    pub use super::dns::{
        encode_query, parse_reply as parse_dns_reply, DnsReply, MAX_ANSWERS, QTYPE_A, QTYPE_AAAA,
    };
    pub use super::dnsproxyd::{
        parse_reply as parse_dnsproxyd_reply, request as dnsproxyd_request, ProxyReply,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_auto_picks_dnsproxyd_only_without_resolv_conf_and_with_the_socket() {
        let dir = std::env::temp_dir().join(format!("ttc-auto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("resolv.conf");
        let sock = dir.join("dnsproxyd");
        let _ = std::fs::remove_file(&conf);
        let _ = std::fs::remove_file(&sock);
        // Neither: the system resolver (it may still read /etc/hosts).
        assert_eq!(auto_pick(false, &conf, &sock), Pick::System);
        // Android seen from a static build: no resolv.conf, netd's socket.
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert_eq!(
            auto_pick(false, &conf, &sock),
            Pick::Dnsproxyd(sock.clone())
        );
        // Bionic asks netd itself.
        assert_eq!(auto_pick(true, &conf, &sock), Pick::System);
        // A resolv.conf wins: musl and glibc can use it.
        std::fs::write(&conf, "nameserver 127.0.0.1\n").unwrap();
        assert_eq!(auto_pick(false, &conf, &sock), Pick::System);
        drop(listener);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_literals_are_not_looked_up() {
        assert_eq!(bare_host(" [::1] "), "::1");
        assert_eq!(
            literal("127.0.0.1", 7),
            Some("127.0.0.1:7".parse().unwrap())
        );
        assert_eq!(literal("::1", 7), Some("[::1]:7".parse().unwrap()));
        match literal("fe80::1%lo", 7) {
            Some(SocketAddr::V6(a)) => {
                assert_eq!(*a.ip(), "fe80::1".parse::<Ipv6Addr>().unwrap());
                assert!(a.scope_id() > 0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            literal("fe80::1%3", 7),
            Some(SocketAddr::V6(SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                7,
                0,
                3
            )))
        );
        assert_eq!(literal("fe80::1%no-such-if0", 7), None);
        assert_eq!(literal("example.org", 7), None);
        assert_eq!(literal("1.2.3.4%1", 7), None);
    }

    #[test]
    fn test_unique_keeps_the_first_of_each() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "[::1]:1".parse().unwrap();
        assert_eq!(unique([a, b, a, b].into_iter()), vec![a, b]);
    }
}
