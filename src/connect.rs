//! The connect phase: turn the host name into addresses, then try them in
//! order within one budget, looking at the control inbox between attempts.
//!
//! It runs on the worker thread before the data path starts, and hands the
//! worker a connected, blocking [`TcpStream`].

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::config::{Config, IpFamily};
use crate::message::{Phase, Reason};
use crate::wake::Core;

/// Why the connect phase produced no connection.
pub(crate) enum Failure {
    /// The application asked to stop (`Shutdown` or `Abort`).
    Stopped(Reason),
    /// Resolving or connecting failed.
    Failed(Phase, io::Error),
}

/// Resolves `config.host` and connects to the first address that answers,
/// within `config.connect_timeout` for everything. The control inbox
/// (`core`) is looked at before each step; `Shutdown` or `Abort` ends the
/// phase with its reason.
pub(crate) fn connect(config: &Config, core: &Core) -> Result<(TcpStream, SocketAddr), Failure> {
    let stop = || core.stop_requested();
    // A budget too large for the clock means no limit.
    let deadline = Instant::now().checked_add(config.connect_timeout);
    if let Some(reason) = stop() {
        return Err(Failure::Stopped(reason));
    }
    let addrs = resolve(config, core, deadline)?;
    let mut last: Option<io::Error> = None;
    let mut tried = 0;
    for addr in addrs
        .into_iter()
        .filter(|a| family_allows(config.family, a))
    {
        tried += 1;
        if let Some(reason) = stop() {
            return Err(Failure::Stopped(reason));
        }
        let left = deadline.map_or(Duration::MAX, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            last = Some(timed_out());
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok((s, addr)),
            Err(e) => {
                log::debug!("connect to {addr} failed: {e}");
                last = Some(e);
            }
        }
    }
    let e = match last {
        Some(e) => e,
        None if tried == 0 => {
            let e = io::Error::new(
                io::ErrorKind::NotFound,
                "no address of the requested family",
            );
            return Err(Failure::Failed(Phase::Resolve, e));
        }
        None => timed_out(),
    };
    if let Some(reason) = stop() {
        return Err(Failure::Stopped(reason));
    }
    Err(Failure::Failed(Phase::Connect, e))
}

/// The host's addresses from the system resolver, in its order. (`core`
/// and `deadline` are for a resolver that can be stopped and timed.)
fn resolve(
    config: &Config,
    _core: &Core,
    _deadline: Option<Instant>,
) -> Result<Vec<SocketAddr>, Failure> {
    let host = config.host.trim();
    // Accept "[::1]" as well as "::1".
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        let e = io::Error::new(io::ErrorKind::InvalidInput, "empty host name");
        return Err(Failure::Failed(Phase::Resolve, e));
    }
    let addrs = (host, config.port).to_socket_addrs().map_err(|e| {
        // Resolver failures other than OS errors come without an errno and
        // an uncategorised kind: call them "not found".
        let e = if e.raw_os_error().is_none() {
            io::Error::new(io::ErrorKind::NotFound, e.to_string())
        } else {
            e
        };
        Failure::Failed(Phase::Resolve, e)
    })?;
    Ok(addrs.collect())
}

fn family_allows(family: IpFamily, addr: &SocketAddr) -> bool {
    match family {
        IpFamily::Any => true,
        IpFamily::V4 => addr.is_ipv4(),
        IpFamily::V6 => addr.is_ipv6(),
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connect timed out")
}
