//! Small test peers: the servers `ttc serve` runs on a device or a host, and
//! that the test suite and benchmarks talk to. Each serves one connection
//! per thread and reports what it saw when the connection ends.
//!
//! - [`Peer::Echo`] sends back everything it receives.
//! - [`Peer::Sink`] reads everything and reports the byte count and an
//!   FNV-1a hash of the bytes.
//! - [`Peer::Fortune`] sends [`FORTUNE`] and closes.
//! - [`Peer::Burst`] sends `n` bytes of the [`pattern`] and closes.
//!
//! ```
//! use std::io::{Read, Write};
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let (tx, rx) = std::sync::mpsc::channel();
//! ttc::peers::spawn_server(listener, ttc::peers::Peer::Sink, move |_, r| { let _ = tx.send(r); }).unwrap();
//!
//! let mut s = std::net::TcpStream::connect(addr).unwrap();
//! s.write_all(b"abc").unwrap();
//! drop(s);
//! let report = rx.recv().unwrap().unwrap();
//! assert_eq!(report.received, 3);
//! assert_eq!(report.hash, ttc::peers::fnv1a(b"abc"));
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// What [`Peer::Fortune`] sends.
pub const FORTUNE: &str = "\
The original ThreadedTCPClient read its socket and never wrote its inbox.\n\
This one writes every byte it accepts, reads every byte it is sent,\n\
stops when told, and always says how it ended.\n";

/// Pause after a failed `accept` before trying again.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// How long a peer waits for the client to close after it has said its
/// piece, before closing anyway.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// One of the test peers. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Sends back everything it receives; closes after the client does.
    Echo,
    /// Reads until the client closes; reports bytes and hash.
    Sink,
    /// Sends [`FORTUNE`], half-closes, waits for the client to close.
    Fortune,
    /// Sends this many bytes of [`pattern`], half-closes, waits for the
    /// client to close.
    Burst(u64),
}

impl Peer {
    /// Parses `echo`, `sink`, `fortune`, or `burst` (1 MiB) / `burst:N`.
    pub fn parse(s: &str) -> Option<Peer> {
        match s {
            "echo" => Some(Peer::Echo),
            "sink" => Some(Peer::Sink),
            "fortune" => Some(Peer::Fortune),
            "burst" => Some(Peer::Burst(1 << 20)),
            _ => s
                .strip_prefix("burst:")
                .and_then(|n| n.parse().ok())
                .map(Peer::Burst),
        }
    }

    /// Serves one connection to its end.
    pub fn serve(self, mut stream: TcpStream) -> io::Result<ConnectionReport> {
        self.serve_on(&mut stream)
    }

    /// Serves one TLS connection to its end (the `tls` feature): the
    /// handshake, then the same as [`Peer::serve`] on the plaintext. A
    /// failed handshake is the connection's error.
    #[cfg(feature = "tls")]
    pub fn serve_tls(
        self,
        stream: TcpStream,
        tls: &crate::tls::TlsServerConfig,
    ) -> io::Result<ConnectionReport> {
        self.serve_on(&mut tls.accept(stream)?)
    }

    fn serve_on<S: PeerStream>(self, stream: &mut S) -> io::Result<ConnectionReport> {
        let mut report = ConnectionReport::default();
        let mut buf = [0u8; 16 * 1024];
        match self {
            Peer::Echo => loop {
                let n = read_some(stream, &mut buf)?;
                if n == 0 {
                    let _ = stream.shutdown_write();
                    break;
                }
                report.take(&buf[..n]);
                stream.write_all(&buf[..n])?;
                report.sent += n as u64;
            },
            Peer::Sink => loop {
                let n = read_some(stream, &mut buf)?;
                if n == 0 {
                    // Over TLS, a close_notify in reply: the client sees a
                    // clean end, not a truncation.
                    let _ = stream.shutdown_write();
                    break;
                }
                report.take(&buf[..n]);
            },
            Peer::Fortune => {
                stream.write_all(FORTUNE.as_bytes())?;
                report.sent = FORTUNE.len() as u64;
                finish(stream, &mut report, &mut buf)?;
            }
            Peer::Burst(len) => {
                while report.sent < len {
                    let n = (len - report.sent).min(buf.len() as u64) as usize;
                    fill_pattern(report.sent, &mut buf[..n]);
                    stream.write_all(&buf[..n])?;
                    report.sent += n as u64;
                }
                finish(stream, &mut report, &mut buf)?;
            }
        }
        Ok(report)
    }
}

/// What the peers serve on: a socket, or TLS over one.
trait PeerStream: Read + Write {
    /// Ends the sending side (with TLS, `close_notify` first).
    fn shutdown_write(&mut self) -> io::Result<()>;
    fn socket(&self) -> &TcpStream;
}

impl PeerStream for TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }

    fn socket(&self) -> &TcpStream {
        self
    }
}

#[cfg(feature = "tls")]
impl PeerStream for crate::tls::TlsServerStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        crate::tls::TlsServerStream::shutdown_write(self)
    }

    fn socket(&self) -> &TcpStream {
        crate::tls::TlsServerStream::socket(self)
    }
}

/// Half-closes, then reads (and counts) until the client closes or
/// [`CLOSE_WAIT`] passes.
fn finish<S: PeerStream>(
    stream: &mut S,
    report: &mut ConnectionReport,
    buf: &mut [u8],
) -> io::Result<()> {
    stream.shutdown_write()?;
    stream.socket().set_read_timeout(Some(CLOSE_WAIT))?;
    loop {
        match stream.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => report.take(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn read_some<S: Read>(stream: &mut S, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// What a peer saw on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionReport {
    /// Bytes received from the client.
    pub received: u64,
    /// Bytes sent to the client.
    pub sent: u64,
    /// FNV-1a (64-bit) hash of the bytes received.
    pub hash: u64,
}

impl Default for ConnectionReport {
    fn default() -> Self {
        ConnectionReport {
            received: 0,
            sent: 0,
            hash: FNV_OFFSET,
        }
    }
}

impl ConnectionReport {
    fn take(&mut self, bytes: &[u8]) {
        self.received += bytes.len() as u64;
        self.hash = fnv1a_update(self.hash, bytes);
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Continues an FNV-1a (64-bit) hash over more bytes.
pub fn fnv1a_update(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// FNV-1a (64-bit) hash of `bytes`.
///
/// ```
/// assert_eq!(ttc::peers::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
/// assert_eq!(ttc::peers::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_update(FNV_OFFSET, bytes)
}

/// Byte `i` of the burst pattern: deterministic and not periodic over any
/// short span, so a lost, repeated or reordered chunk shows.
///
/// ```
/// let mut buf = [0u8; 8];
/// ttc::peers::fill_pattern(100, &mut buf);
/// assert_eq!(buf[3], ttc::peers::pattern(103));
/// ```
pub fn pattern(i: u64) -> u8 {
    let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    ((x >> 32) ^ (x >> 13) ^ i) as u8
}

/// Fills `buf` with the pattern starting at byte `offset`.
pub fn fill_pattern(offset: u64, buf: &mut [u8]) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern(offset + k as u64);
    }
}

/// Accepts connections on `listener` forever on a background thread, serves
/// each on its own thread with `peer`, and calls `on_end` with the client's
/// address and the connection's report when it ends. Returns the address it
/// listens on.
pub fn spawn_server<F>(listener: TcpListener, peer: Peer, on_end: F) -> io::Result<SocketAddr>
where
    F: Fn(SocketAddr, io::Result<ConnectionReport>) + Send + Sync + 'static,
{
    spawn_accepting(listener, on_end, move |s| peer.serve(s))
}

/// [`spawn_server`] speaking TLS (the `tls` feature): each connection is
/// a TLS handshake with `tls`, then `peer` on the plaintext. A failed
/// handshake ends that connection with its error.
#[cfg(feature = "tls")]
pub fn spawn_tls_server<F>(
    listener: TcpListener,
    peer: Peer,
    tls: crate::tls::TlsServerConfig,
    on_end: F,
) -> io::Result<SocketAddr>
where
    F: Fn(SocketAddr, io::Result<ConnectionReport>) + Send + Sync + 'static,
{
    spawn_accepting(listener, on_end, move |s| peer.serve_tls(s, &tls))
}

fn spawn_accepting<F, S>(listener: TcpListener, on_end: F, serve: S) -> io::Result<SocketAddr>
where
    F: Fn(SocketAddr, io::Result<ConnectionReport>) + Send + Sync + 'static,
    S: FnOnce(TcpStream) -> io::Result<ConnectionReport> + Clone + Send + 'static,
{
    let addr = listener.local_addr()?;
    let on_end = std::sync::Arc::new(on_end);
    std::thread::Builder::new()
        .name("ttc-peer-accept".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let stream = match conn {
                    Ok(s) => s,
                    Err(e) => {
                        log::warn!("accept failed: {e}");
                        // Out of descriptors or memory: accept fails at
                        // once until something is freed, so pause rather
                        // than spin a CPU.
                        std::thread::sleep(ACCEPT_RETRY);
                        continue;
                    }
                };
                let from = stream.peer_addr().unwrap_or(addr);
                let on_end = on_end.clone();
                let serve = serve.clone();
                let spawned = std::thread::Builder::new()
                    .name("ttc-peer".into())
                    .spawn(move || on_end(from, serve(stream)));
                if let Err(e) = spawned {
                    log::warn!("could not start a peer thread: {e}");
                }
            }
        })?;
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_parse_peer_names() {
        assert_eq!(Peer::parse("echo"), Some(Peer::Echo));
        assert_eq!(Peer::parse("burst:10"), Some(Peer::Burst(10)));
        assert_eq!(Peer::parse("burst"), Some(Peer::Burst(1 << 20)));
        assert_eq!(Peer::parse("burst:x"), None);
        assert_eq!(Peer::parse("nope"), None);
    }

    #[test]
    fn test_pattern_is_not_short_periodic() {
        let mut a = [0u8; 4096];
        fill_pattern(0, &mut a);
        for period in 1..=1024 {
            assert!(a[..1024] != a[period..period + 1024], "period {period}");
        }
    }
}
