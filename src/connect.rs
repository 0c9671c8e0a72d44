//! The connect phase: turn the host name into addresses, then race
//! connection attempts to them (Happy Eyeballs, RFC 8305) within one
//! budget, stopping at once on `Shutdown` or `Abort`.
//!
//! It runs on the worker thread before the data path starts. The attempts
//! are non-blocking sockets, polled together with the wake eventfd, so a
//! control message ends the phase as soon as it is sent. The winner is
//! switched back to blocking mode and handed to the worker as a
//! [`TcpStream`]; the other attempts are closed.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Config, IpFamily, SocketHook};
use crate::message::{Failure, Phase, Reason};
#[cfg(feature = "proxy")]
use crate::proxy::{Proxy, ProxyKind, Target};
use crate::sys::{self, Handshake};
use crate::wake::Core;

/// Most attempts pending at once. With the shortest attempt delay (10 ms)
/// and many addresses that never answer, this bounds the sockets held;
/// the next address is tried when one of them fails.
const MAX_PENDING: usize = sys::MAX_CONNECTING;

/// Longest name `SO_BINDTODEVICE` takes (`IFNAMSIZ` less the NUL). The
/// kernel cuts longer names short, which could name another interface.
const MAX_INTERFACE_NAME: usize = 15;

/// Benchmark hook (`benches/compare`, workload connect): the connect phase
/// alone, on the calling thread, so its cost can be compared with a plain
/// `TcpStream::connect` in the same run. Not part of the API.
#[doc(hidden)]
pub struct ConnectPhase {
    core: Core,
}

impl ConnectPhase {
    /// A phase with its own (never notified) wake eventfd.
    pub fn new() -> io::Result<ConnectPhase> {
        Ok(ConnectPhase {
            core: Core::new(Duration::ZERO)?,
        })
    }

    /// Runs the connect phase for `config`: the connected, blocking stream
    /// and its peer, the error, and the attempts made.
    pub fn connect(&self, config: &Config) -> (Result<(TcpStream, SocketAddr), crate::Error>, u32) {
        let mut attempts = 0;
        let r = connect(config, &self.core, &mut attempts).map_err(|f| match f {
            Failure::Failed(phase, e) => crate::Error::from_io(phase, &e),
            Failure::Error(e) => e,
            Failure::Stopped(_) => {
                crate::Error::new(Phase::Connect, io::ErrorKind::Interrupted, "stopped")
            }
        });
        (r, attempts)
    }
}

/// Resolves `config.host` and connects to the first address that answers,
/// within `config.connect_timeout` for everything. `Shutdown` or `Abort`
/// on the control inbox (`core`) ends the phase at once with its reason.
/// `attempts` counts the connection attempts started.
pub(crate) fn connect(
    config: &Config,
    core: &Core,
    attempts: &mut u32,
) -> Result<(TcpStream, SocketAddr), Failure> {
    // A budget too large for the clock means no limit.
    let deadline = Instant::now().checked_add(config.connect_timeout);
    if let Some(reason) = core.stop_requested() {
        return Err(Failure::Stopped(reason));
    }
    #[cfg(feature = "proxy")]
    if let Some(proxy) = &config.proxy {
        return via_proxy(proxy, config, core, deadline, attempts);
    }
    // In the resolver's order, within the resolve limit and the budget;
    // `Shutdown` and `Abort` end it at once (src/resolve/).
    let resolved = crate::resolve::lookup(config, core, deadline)?;
    if let Some(reason) = core.stop_requested() {
        return Err(Failure::Stopped(reason));
    }
    let addrs = candidates(resolved, config.family, config.local_addr)?;
    dial(&addrs, config, core, deadline, attempts)
}

/// Races connection attempts to `addrs` (the server's, or a proxy's)
/// through `config`'s interface and source address, within `deadline`.
fn dial(
    addrs: &[SocketAddr],
    config: &Config,
    core: &Core,
    deadline: Option<Instant>,
    attempts: &mut u32,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let way_out = WayOut::new(config)?;
    race(
        addrs,
        &way_out,
        config.attempt_delay,
        core,
        deadline,
        attempts,
    )
}

/// The connect phase through `proxy`: the server's name resolved here if
/// the protocol sends an address, the proxy's addresses raced as the
/// server's would be, then the tunnel's handshake (src/proxy.rs), all
/// within `deadline`. Reaching the proxy and its handshake fail with
/// errors of [`Phase::Proxy`] that name it.
#[cfg(feature = "proxy")]
fn via_proxy(
    proxy: &Proxy,
    config: &Config,
    core: &Core,
    deadline: Option<Instant>,
    attempts: &mut u32,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let target = if proxy.kind().resolves_locally() {
        let resolved = crate::resolve::lookup(config, core, deadline)?;
        let addrs = candidates(resolved, config.family, None)?;
        // SOCKS4 speaks IPv4 only: its first IPv4 address, if any.
        let v4 = addrs.iter().find(|a| a.is_ipv4());
        let first = addrs[0];
        match proxy.kind() {
            ProxyKind::Socks4 => Target::Addr(*v4.unwrap_or(&first)),
            _ => Target::Addr(first),
        }
    } else {
        let host = config.host.trim();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Target::Name(host, config.port)
    };
    let in_proxy = |f: Failure| match f {
        Failure::Failed(_, e) => Failure::Error(proxy.error(&e)),
        other => other,
    };
    let resolved =
        crate::resolve::lookup_host(config, proxy.host(), proxy.port(), false, core, deadline)
            .map_err(in_proxy)?;
    let addrs = candidates(resolved, config.family, config.local_addr).map_err(in_proxy)?;
    let (stream, peer) = dial(&addrs, config, core, deadline, attempts).map_err(in_proxy)?;
    log::debug!("connected to proxy {peer}; asking for {target:?}");
    proxy.handshake(&stream, target, core, deadline)?;
    Ok((stream, peer))
}

/// The addresses to try, in the order to try them: those `family` allows
/// and, with a source address, those of its family; duplicates dropped;
/// then the families interleaved (RFC 8305 section 4).
fn candidates(
    mut addrs: Vec<SocketAddr>,
    family: IpFamily,
    source: Option<IpAddr>,
) -> Result<Vec<SocketAddr>, Failure> {
    let fail = |phase, kind, msg: String| Err(Failure::Failed(phase, io::Error::new(kind, msg)));
    if addrs.is_empty() {
        return fail(
            Phase::Resolve,
            io::ErrorKind::NotFound,
            "the name has no address".into(),
        );
    }
    // In place: the first of each address kept, in order.
    let mut kept = 0;
    for i in 0..addrs.len() {
        let a = addrs[i];
        if family_allows(family, &a) && !addrs[..kept].contains(&a) {
            addrs[kept] = a;
            kept += 1;
        }
    }
    addrs.truncate(kept);
    if addrs.is_empty() {
        return fail(
            Phase::Resolve,
            io::ErrorKind::NotFound,
            "no address of the requested family".into(),
        );
    }
    if let Some(ip) = source {
        addrs.retain(|a| a.is_ipv6() == ip.is_ipv6());
        if addrs.is_empty() {
            let other = if ip.is_ipv6() { "IPv6" } else { "IPv4" };
            return fail(
                Phase::Connect,
                io::ErrorKind::InvalidInput,
                format!("source {ip}: the name has no {other} address"),
            );
        }
    }
    Ok(interleave(addrs))
}

fn family_allows(family: IpFamily, addr: &SocketAddr) -> bool {
    match family {
        IpFamily::Any => true,
        IpFamily::V4 => addr.is_ipv4(),
        IpFamily::V6 => addr.is_ipv6(),
    }
}

/// One address of the first address's family, then one of the other, and
/// so on; the rest of the longer list at the end. Each family keeps the
/// resolver's order.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first_v6) = addrs.first().map(SocketAddr::is_ipv6) else {
        return addrs;
    };
    if addrs.iter().all(|a| a.is_ipv6() == first_v6) {
        return addrs;
    }
    let mut out = Vec::with_capacity(addrs.len());
    // The next unused address of each family: the first's, the other's.
    let (mut i, mut j) = (0, 0);
    while out.len() < addrs.len() {
        for (at, v6) in [(&mut i, first_v6), (&mut j, !first_v6)] {
            while *at < addrs.len() && addrs[*at].is_ipv6() != v6 {
                *at += 1;
            }
            if let Some(&a) = addrs.get(*at) {
                out.push(a);
                *at += 1;
            }
        }
    }
    out
}

/// How every attempt leaves the host: the interface and source address
/// asked for.
struct WayOut<'a> {
    device: Option<&'a str>,
    source: Option<IpAddr>,
    hook: Option<&'a SocketHook>,
}

impl<'a> WayOut<'a> {
    fn new(config: &'a Config) -> Result<WayOut<'a>, Failure> {
        let device = config.bind_device.as_deref();
        if let Some(name) = device {
            if name.is_empty() || name.len() > MAX_INTERFACE_NAME || name.contains('\0') {
                let e = io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("interface '{name}': a name is 1 to {MAX_INTERFACE_NAME} bytes"),
                );
                return Err(Failure::Failed(Phase::Connect, e));
            }
        }
        Ok(WayOut {
            device,
            source: config.local_addr,
            hook: config.before_connect.as_ref(),
        })
    }
}

/// How starting an attempt went.
enum Started {
    /// Connected at once (possible on loopback).
    Connected(Socket),
    /// The handshake is under way.
    Pending(Socket),
}

/// Why an attempt could not start.
enum StartError {
    /// This address failed; the next one may work.
    Attempt(io::Error),
    /// The way out cannot be set up (interface, source address): every
    /// attempt would fail alike.
    WayOut(crate::Error),
}

/// Creates a non-blocking socket for `addr`, sets up the way out, and
/// starts connecting.
fn start(addr: SocketAddr, way: &WayOut<'_>) -> Result<Started, StartError> {
    // Non-blocking from the start (SOCK_NONBLOCK): no extra system call.
    let sock = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )
    .map_err(StartError::Attempt)?;
    if let Some(name) = way.device {
        sock.bind_device(Some(name.as_bytes())).map_err(|e| {
            let mut err =
                crate::Error::from_io_in(Phase::Connect, &e, format_args!("interface {name}"));
            // std has no kind for ENODEV ("Uncategorized"): say what it is.
            if e.raw_os_error() == Some(libc::ENODEV) {
                err.kind = io::ErrorKind::NotFound;
            }
            StartError::WayOut(err)
        })?;
    }
    if let Some(ip) = way.source {
        sock.bind(&SocketAddr::new(ip, 0).into()).map_err(|e| {
            StartError::WayOut(crate::Error::from_io_in(
                Phase::Connect,
                &e,
                format_args!("source {ip}"),
            ))
        })?;
    }
    if let Some(hook) = way.hook {
        hook.call(sock.as_fd()).map_err(StartError::Attempt)?;
    }
    match sock.connect(&addr.into()) {
        Ok(()) => Ok(Started::Connected(sock)),
        // EINTR: a non-blocking connect goes on in the background.
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == io::ErrorKind::Interrupted =>
        {
            Ok(Started::Pending(sock))
        }
        Err(e) => Err(StartError::Attempt(e)),
    }
}

/// A connection attempt under way.
struct Attempt {
    sock: Socket,
    addr: SocketAddr,
    /// Its number, counting from 1, for the log.
    n: u32,
}

/// Happy Eyeballs over `addrs` (already in the order to try): the first
/// attempt starts at once; while attempts are pending, the next starts
/// every `delay`, or at once when one fails. The first to connect wins.
/// Every wait is a `poll` on the pending sockets and the wake eventfd,
/// parked like the data path's (see `Core::wake_worker`), so `Shutdown` or
/// `Abort` ends it at once.
fn race(
    addrs: &[SocketAddr],
    way: &WayOut<'_>,
    delay: Duration,
    core: &Core,
    deadline: Option<Instant>,
    attempts: &mut u32,
) -> Result<(TcpStream, SocketAddr), Failure> {
    let mut next = addrs.iter().copied();
    // Fixed capacity: no allocation in the phase beyond the address list.
    let mut pending: heapless::Vec<Attempt, MAX_PENDING> = heapless::Vec::new();
    let mut next_at: Option<Instant> = None;
    let mut last: Option<io::Error> = None;
    loop {
        if let Some(reason) = core.stop_requested() {
            return Err(stopped(reason, pending.len()));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            log::debug!("connect budget spent after {attempts} attempts");
            return Err(Failure::Failed(Phase::Connect, timed_out()));
        }
        // Start what is due: the first at once, the next when the delay
        // is up or nothing is pending (the previous one failed).
        while !pending.is_full() && (pending.is_empty() || next_at.is_none_or(|t| now >= t)) {
            let Some(addr) = next.next() else { break };
            *attempts += 1;
            let n = *attempts;
            match start(addr, way) {
                Ok(Started::Connected(sock)) => return won(sock, addr),
                Ok(Started::Pending(sock)) => {
                    // Cannot fail: the loop runs only while there is room.
                    let _ = pending.push(Attempt { sock, addr, n });
                    next_at = Some(now + delay);
                }
                Err(StartError::WayOut(e)) => return Err(Failure::Error(e)),
                Err(StartError::Attempt(e)) => {
                    log_failed(n, addr, &e);
                    last = Some(e);
                    next_at = None;
                }
            }
        }
        if pending.is_empty() {
            // Every address was tried and every attempt failed.
            let e = last.take().unwrap_or_else(timed_out);
            return Err(Failure::Failed(Phase::Connect, e));
        }
        let can_start = next.len() > 0 && !pending.is_full();
        let wake_at = match (deadline, next_at.filter(|_| can_start)) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        };
        let mut fds = [0; MAX_PENDING];
        for (fd, a) in fds.iter_mut().zip(&pending) {
            *fd = a.sock.as_raw_fd();
        }
        let mut seen = [Handshake::Pending; MAX_PENDING];
        let (fds, seen) = (&fds[..pending.len()], &mut seen[..pending.len()]);
        let parked = core.park();
        // Re-check after marking ourselves parked: a control message sent
        // before the mark is seen here, one sent after it wakes the poll.
        if let Some(reason) = core.stop_requested() {
            drop(parked);
            return Err(stopped(reason, pending.len()));
        }
        let timeout = wake_at.map(|t| t.saturating_duration_since(now));
        if let Err(e) = parked.poll(|wake| sys::poll_connecting(fds, seen, wake, timeout)) {
            return Err(Failure::Failed(Phase::Connect, e));
        }
        // Settle the attempts that are done, in the order they started
        // (`pending` and `seen` are in that order).
        let mut failed = false;
        let mut i = 0;
        for &h in seen.iter() {
            if h == Handshake::Pending {
                i += 1;
                continue;
            }
            let a = pending.remove(i);
            match settle(&a.sock, h) {
                // The other attempts close when `pending` drops.
                Ok(()) => return won(a.sock, a.addr),
                Err(e) => {
                    log_failed(a.n, a.addr, &e);
                    last = Some(e);
                    failed = true;
                }
            }
        }
        if failed {
            // A failed attempt makes room for the next address at once.
            next_at = None;
        }
    }
}

/// Whether a socket that `poll` reported done connected (see
/// [`Handshake`]); for a failed one, the handshake's error from `SO_ERROR`.
fn settle(sock: &Socket, seen: Handshake) -> io::Result<()> {
    if seen == Handshake::Connected {
        return Ok(());
    }
    match sock.take_error()? {
        Some(e) => Err(e),
        None => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "connection closed during the handshake",
        )),
    }
}

/// The winner, back in blocking mode for the data path (the worker logs
/// its peer).
fn won(sock: Socket, addr: SocketAddr) -> Result<(TcpStream, SocketAddr), Failure> {
    // std's set_nonblocking is one ioctl (socket2's is two fcntl calls).
    let stream = TcpStream::from(sock);
    stream
        .set_nonblocking(false)
        .map_err(|e| Failure::Failed(Phase::Connect, e))?;
    Ok((stream, addr))
}

/// Each failed attempt is logged (in one place: each log call costs code).
#[inline(never)]
fn log_failed(n: u32, addr: SocketAddr, e: &io::Error) {
    log::debug!("connect attempt {n} to {addr} failed: {e}");
}

#[inline(never)]
fn stopped(reason: Reason, pending: usize) -> Failure {
    log::debug!("connect stopped ({reason}); closing {pending} attempts");
    Failure::Stopped(reason)
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connect timed out")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn failed(r: Result<Vec<SocketAddr>, Failure>) -> (Phase, io::ErrorKind, String) {
        match r {
            Err(Failure::Failed(p, e)) => (p, e.kind(), e.to_string()),
            Err(Failure::Error(e)) => (e.phase, e.kind, e.to_string()),
            Err(Failure::Stopped(r)) => panic!("stopped: {r}"),
            Ok(v) => panic!("succeeded: {v:?}"),
        }
    }

    #[test]
    fn test_interleave_starts_with_the_first_answers_family() {
        let got = interleave(vec![
            a("[fd77::1]:1"),
            a("[fd77::2]:1"),
            a("10.0.0.1:1"),
            a("10.0.0.2:1"),
            a("10.0.0.3:1"),
        ]);
        assert_eq!(
            got,
            [
                a("[fd77::1]:1"),
                a("10.0.0.1:1"),
                a("[fd77::2]:1"),
                a("10.0.0.2:1"),
                a("10.0.0.3:1"),
            ]
        );
        let got = interleave(vec![a("10.0.0.1:1"), a("10.0.0.2:1"), a("[::1]:1")]);
        assert_eq!(got, [a("10.0.0.1:1"), a("[::1]:1"), a("10.0.0.2:1")]);
        assert_eq!(interleave(Vec::new()), []);
    }

    #[test]
    fn test_candidates_filter_by_family_and_source_and_drop_duplicates() {
        let all = [
            a("10.0.0.1:1"),
            a("[::1]:1"),
            a("10.0.0.1:1"),
            a("10.0.0.2:1"),
        ];
        let got = candidates(all.to_vec(), IpFamily::Any, None).ok().unwrap();
        assert_eq!(got, [a("10.0.0.1:1"), a("[::1]:1"), a("10.0.0.2:1")]);
        let got = candidates(all.to_vec(), IpFamily::V6, None).ok().unwrap();
        assert_eq!(got, [a("[::1]:1")]);
        let src: IpAddr = "10.0.0.9".parse().unwrap();
        let got = candidates(all.to_vec(), IpFamily::Any, Some(src))
            .ok()
            .unwrap();
        assert_eq!(got, [a("10.0.0.1:1"), a("10.0.0.2:1")]);

        let (phase, kind, _) = failed(candidates(all[1..2].to_vec(), IpFamily::V4, None));
        assert_eq!((phase, kind), (Phase::Resolve, io::ErrorKind::NotFound));
        let (phase, kind, msg) = failed(candidates(all[1..2].to_vec(), IpFamily::Any, Some(src)));
        assert_eq!((phase, kind), (Phase::Connect, io::ErrorKind::InvalidInput));
        assert!(msg.contains("source 10.0.0.9"), "{msg}");
        let (phase, _, _) = failed(candidates(Vec::new(), IpFamily::Any, None));
        assert_eq!(phase, Phase::Resolve);
    }

    #[test]
    fn test_race_moves_on_from_a_refused_address_and_counts_attempts() {
        let refused = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        let core = Core::new(Duration::ZERO).unwrap();
        let way = WayOut {
            device: None,
            source: None,
            hook: None,
        };
        let mut attempts = 0;
        let deadline = Instant::now().checked_add(Duration::from_secs(10));
        let t0 = Instant::now();
        let r = race(
            &[refused, good],
            &way,
            Duration::from_secs(2),
            &core,
            deadline,
            &mut attempts,
        );
        let (stream, peer) = r.ok().expect("no connection");
        assert_eq!((peer, attempts), (good, 2));
        // The refusal started the next attempt at once, not after 2 s.
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        // Handed over in blocking mode, connected to the listener.
        assert_eq!(stream.peer_addr().unwrap(), good);
        let (_accepted, from) = listener.accept().unwrap();
        assert_eq!(from, stream.local_addr().unwrap());

        let mut attempts = 0;
        match race(
            &[refused],
            &way,
            Config::DEFAULT_ATTEMPT_DELAY,
            &core,
            deadline,
            &mut attempts,
        ) {
            Err(Failure::Failed(Phase::Connect, e)) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}")
            }
            _ => panic!("a refused connect did not fail"),
        }
        assert_eq!(attempts, 1);
    }

    #[test]
    fn test_way_out_refuses_interface_names_the_kernel_would_cut() {
        for name in ["", "sixteen-bytes-xx", "a\0b"] {
            let config = Config::new("h", 1).bind_device(name);
            match WayOut::new(&config) {
                Err(Failure::Failed(Phase::Connect, e)) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
                    assert!(e.to_string().starts_with("interface '"), "{e}");
                }
                _ => panic!("{name:?} accepted"),
            }
        }
        assert!(WayOut::new(&Config::new("h", 1).bind_device("wlan0")).is_ok());
    }

    #[test]
    fn test_error_with_context_keeps_the_os_error_number() {
        let e = io::Error::from_raw_os_error(libc::ENODEV);
        let err = crate::Error::from_io_in(Phase::Connect, &e, format_args!("interface {}", "x"));
        assert_eq!(err.os_code, Some(libc::ENODEV));
        assert!(err.message().starts_with("interface x: "), "{err}");
    }

    #[test]
    fn test_attempt_delay_is_clamped_into_range() {
        let c = Config::new("h", 1).attempt_delay(Duration::ZERO);
        assert_eq!(c.attempt_delay, Config::MIN_ATTEMPT_DELAY);
        let c = c.attempt_delay(Duration::from_secs(60));
        assert_eq!(c.attempt_delay, Config::MAX_ATTEMPT_DELAY);
        let c = c.attempt_delay(Duration::from_millis(300));
        assert_eq!(c.attempt_delay, Duration::from_millis(300));
        assert_eq!(
            Config::new("h", 1).attempt_delay,
            Duration::from_millis(250)
        );
    }
}
