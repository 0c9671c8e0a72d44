//! The connect phase: turn the host name into addresses, then try them in
//! order within one budget, looking at the control inbox between attempts.
//!
//! It runs on the worker thread before the data path starts, and hands the
//! worker a connected, blocking [`TcpStream`].

use std::io;
use std::net::{SocketAddr, TcpStream};
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

/// The host's addresses from the configured resolver, in its order,
/// within the resolve time limit and the budget's `deadline`; `Shutdown`
/// and `Abort` end it at once (src/resolve/).
fn resolve(
    config: &Config,
    core: &Core,
    deadline: Option<Instant>,
) -> Result<Vec<SocketAddr>, Failure> {
    crate::resolve::lookup(config, core, deadline)
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
