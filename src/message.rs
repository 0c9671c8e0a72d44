//! The messages that travel through the four boxes: data chunks on the
//! inbox and outbox, [`Control`] on the control inbox, [`Signal`] on the
//! signal outbox, and the [`Error`] and [`ShutdownReport`] they carry.

use core::fmt::{self, Write as _};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Default chunk capacity in bytes: the original's `recv(1024)`.
pub(crate) const DEFAULT_CHUNK: usize = 1024;
/// Default inbox capacity, in chunks.
pub(crate) const DEFAULT_INBOX: usize = 64;
/// Default outbox capacity, in chunks.
pub(crate) const DEFAULT_OUTBOX: usize = 64;

/// One message of bytes on the inbox or the outbox: up to `C` bytes that
/// live inline, so moving a chunk through a mailbox never touches the heap.
///
/// It dereferences to the bytes it holds (`&chunk[..]`, `chunk.len()`).
///
/// ```
/// use ttc::Chunk;
///
/// let chunk: Chunk = Chunk::from_slice(b"hello").unwrap();
/// assert_eq!(&chunk[..], b"hello");
/// assert_eq!(chunk.capacity(), 1024);
/// // A slice longer than the capacity is refused, not truncated.
/// let err = Chunk::<4>::from_slice(b"hello").unwrap_err();
/// assert_eq!((err.len, err.capacity), (5, 4));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Chunk<const C: usize = DEFAULT_CHUNK>(heapless::Vec<u8, C>);

/// [`Chunk::from_slice`] or [`Chunk::extend_from_slice`] was given more
/// bytes than the chunk has room for; nothing was copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError {
    /// How many bytes would have been needed.
    pub len: usize,
    /// The chunk's capacity.
    pub capacity: usize,
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes do not fit in a chunk of {} bytes",
            self.len, self.capacity
        )
    }
}

impl std::error::Error for CapacityError {}

impl<const C: usize> Chunk<C> {
    /// An empty chunk.
    pub const fn new() -> Self {
        Chunk(heapless::Vec::new())
    }

    /// A chunk holding a copy of `bytes`, or an error if there are more
    /// than `C` of them. It copies with one `memcpy`.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CapacityError> {
        if bytes.len() > C {
            return Err(CapacityError {
                len: bytes.len(),
                capacity: C,
            });
        }
        Ok(Self::from_prefix(bytes))
    }

    /// A chunk holding the first `C` bytes of `bytes` (all of them if they
    /// fit), copied with one memcpy and nothing zeroed first.
    pub(crate) fn from_prefix(bytes: &[u8]) -> Self {
        let mut c = Chunk::new();
        crate::sys::append_bytes(&mut c.0, bytes);
        c
    }

    /// Appends the first bytes of `bytes`, as many as fit, with one
    /// memcpy; returns how many.
    pub(crate) fn append_prefix(&mut self, bytes: &[u8]) -> usize {
        crate::sys::append_bytes(&mut self.0, bytes)
    }

    /// Appends `bytes` if they fit; otherwise copies nothing and says so.
    ///
    /// ```
    /// let mut c = ttc::Chunk::<8>::new();
    /// c.extend_from_slice(b"abc").unwrap();
    /// assert!(c.extend_from_slice(b"defghi").is_err());
    /// assert_eq!(&c[..], b"abc");
    /// ```
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> Result<(), CapacityError> {
        let len = self.0.len() + bytes.len();
        if len > C {
            return Err(CapacityError { len, capacity: C });
        }
        // All of them: checked for room just above.
        crate::sys::append_bytes(&mut self.0, bytes);
        Ok(())
    }

    /// The most bytes it can hold: `C`.
    pub const fn capacity(&self) -> usize {
        C
    }

    /// Keeps the first `len` bytes (no effect if it holds fewer).
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Removes every byte.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The bytes it holds.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl<const C: usize> Default for Chunk<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize> core::ops::Deref for Chunk<C> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<const C: usize> core::ops::DerefMut for Chunk<C> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<const C: usize> AsRef<[u8]> for Chunk<C> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<const C: usize> TryFrom<&[u8]> for Chunk<C> {
    type Error = CapacityError;
    fn try_from(bytes: &[u8]) -> Result<Self, CapacityError> {
        Self::from_slice(bytes)
    }
}

impl<const C: usize> fmt::Debug for Chunk<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Chunk({} bytes: {:?})",
            self.0.len(),
            &self.0[..self.0.len().min(16)]
        )
    }
}

/// A message on the control inbox.
///
/// A stronger message overrides a weaker one that the worker has not acted
/// on yet: `Abort` > `Shutdown` > `ProducerFinished`.
///
/// ```
/// use ttc::Control;
/// assert!(Control::Abort > Control::Shutdown);
/// assert!(Control::Shutdown > Control::ProducerFinished);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Control {
    /// Graceful end: write everything accepted so far, half-close the
    /// connection, keep delivering what the server still sends until it
    /// closes, or until it has sent nothing for the linger time
    /// ([`Config::linger`](crate::Config::linger); then the connection
    /// ends with [`Reason::Linger`]).
    ProducerFinished = 1,
    /// Stop now: close the connection without writing what is still queued
    /// (the final report counts it as unsent).
    Shutdown = 2,
    /// Reset the connection (`SO_LINGER` 0): the server sees a reset.
    Abort = 3,
    /// "The network changed: reconnect now." With
    /// [`Config::reconnect`](crate::Config::reconnect): ends the current
    /// connection at once (what is in flight stays in the kept window and
    /// is counted as usual; its [`Signal::Disconnected`] report has
    /// [`Reason::NetworkChanged`]), then resolves and connects again with
    /// no backoff wait; during a backoff wait it means "try now". It ends
    /// nothing, so it is the weakest message, and it is not kept: one sent
    /// while a connection is being made is dropped, as that attempt is on
    /// the network there is now. Without reconnect it is ignored:
    /// a connection that cannot be remade is not ended for it.
    Reconnect = 0,
}

impl Control {
    pub(crate) fn from_u8(v: u8) -> Option<Control> {
        match v {
            1 => Some(Control::ProducerFinished),
            2 => Some(Control::Shutdown),
            3 => Some(Control::Abort),
            _ => None,
        }
    }
}

/// What the connection was doing when an error happened.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Starting the worker thread (from [`crate::Config::spawn`]).
    Spawn,
    /// Turning the host name into addresses.
    Resolve,
    /// Connecting to one of the resolved addresses.
    Connect,
    /// Reading from the socket.
    Read,
    /// Writing to the socket.
    Write,
    /// Closing the connection.
    Shutdown,
    /// TLS (the `tls` feature): the handshake, the server's certificate,
    /// or a TLS record or alert after it. For a failure of TLS itself the
    /// error's kind is [`io::ErrorKind::InvalidData`] (or
    /// [`io::ErrorKind::UnexpectedEof`], [`io::ErrorKind::TimedOut`]) and
    /// its message starts with a short reason and a colon: `unknown_issuer`,
    /// `expired`, `not_yet_valid`, `name_mismatch`, `pin_mismatch`,
    /// `bad_certificate`, `alert` (the server sent a fatal alert),
    /// `protocol` (anything else the server got wrong), `truncated` (the
    /// server closed TCP without `close_notify`), `eof` (closed during the
    /// handshake), `timeout`, `bad_server_name`, `no_roots` or `config`.
    /// A socket error during the handshake keeps the system's description
    /// and `errno`.
    Tls,
    /// Reaching the server through a proxy (`Config::proxy`, the `proxy`
    /// feature):
    /// resolving the proxy's name, connecting to it, or its handshake.
    /// The message names the proxy (`proxy HOST:PORT: ...`, never the
    /// password) and gives its reason: a SOCKS reply (`SOCKS5: connection
    /// refused`, `SOCKS5: authentication failed`, ...) or the HTTP status
    /// (`HTTP 407 Proxy Authentication Required`).
    Proxy,
}

impl Phase {
    /// A short lower-case name: `spawn`, `resolve`, `connect`, `read`,
    /// `write`, `shutdown`, `tls`, `proxy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Spawn => "spawn",
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Read => "read",
            Phase::Write => "write",
            Phase::Shutdown => "shutdown",
            Phase::Tls => "tls",
            Phase::Proxy => "proxy",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest error description kept, in bytes (longer ones are cut at a
/// character boundary).
pub const ERROR_MESSAGE_CAPACITY: usize = 96;

/// An error of the connection: the phase it came from, its
/// [`io::ErrorKind`], the OS error code when there was one, and the
/// system's description. It is a plain value (no heap), so it can travel
/// through the signal outbox.
///
/// ```
/// use std::io;
/// let e = ttc::Error::from_io(ttc::Phase::Connect, &io::Error::from(io::ErrorKind::ConnectionRefused));
/// assert_eq!(e.phase, ttc::Phase::Connect);
/// assert_eq!(e.kind, io::ErrorKind::ConnectionRefused);
/// assert!(e.to_string().starts_with("connect: "));
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Where it happened.
    pub phase: Phase,
    /// What kind of error it is.
    pub kind: io::ErrorKind,
    /// The OS error number (`errno`), when the error came from the OS.
    pub os_code: Option<i32>,
    message: heapless::String<ERROR_MESSAGE_CAPACITY>,
}

impl Error {
    /// An error of `phase` described by an [`io::Error`].
    pub fn from_io(phase: Phase, err: &io::Error) -> Error {
        let mut e = Error::new(phase, err.kind(), "");
        e.os_code = err.raw_os_error();
        write_truncated(&mut e.message, format_args!("{err}"));
        e
    }

    /// Like [`Error::from_io`], with `context` (what failed: "interface
    /// wlan0") before the system's description.
    pub(crate) fn from_io_in(phase: Phase, err: &io::Error, context: fmt::Arguments<'_>) -> Error {
        let mut e = Error::new(phase, err.kind(), "");
        e.os_code = err.raw_os_error();
        write_truncated(&mut e.message, format_args!("{context}: {err}"));
        e
    }

    /// An error of `phase` and `kind` with a fixed description.
    pub fn new(phase: Phase, kind: io::ErrorKind, message: &str) -> Error {
        let mut e = Error {
            phase,
            kind,
            os_code: None,
            message: heapless::String::new(),
        };
        write_truncated(&mut e.message, format_args!("{message}"));
        e
    }

    /// The system's description of the error (without the phase).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Formats into a fixed-capacity string, keeping what fits.
fn write_truncated<const N: usize>(out: &mut heapless::String<N>, args: fmt::Arguments<'_>) {
    struct Trunc<'a, const N: usize>(&'a mut heapless::String<N>);
    impl<const N: usize> fmt::Write for Trunc<'_, N> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            for c in s.chars() {
                if self.0.push(c).is_err() {
                    return Err(fmt::Error);
                }
            }
            Ok(())
        }
    }
    // A full buffer ends formatting early; what fitted is kept.
    let _ = fmt::write(&mut Trunc(out), args);
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}: {}", self.phase, self.kind)
        } else {
            write!(f, "{}: {}", self.phase, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// Why the connection ended.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// [`Control::ProducerFinished`] was honoured: everything was written,
    /// the write side was closed, and then the server closed.
    Finished,
    /// [`Control::ProducerFinished`] was honoured and everything was
    /// written and the write side closed, but the server then sent nothing
    /// for the linger time ([`Config::linger`](crate::Config::linger)) and
    /// did not close: what it sent was delivered, but it may have had more
    /// to send.
    Linger,
    /// The server closed the connection.
    PeerClosed,
    /// [`Control::Shutdown`] (or the [`crate::Client`] was dropped).
    Shutdown,
    /// [`Control::Abort`]: the connection was reset.
    Aborted,
    /// An error ended the connection; it was signalled just before.
    Error,
    /// With reconnect: [`Control::Reconnect`] ended the connection (the
    /// network changed). A new connection follows at once, so this is the
    /// reason of a [`Signal::Disconnected`] report, and of the final one
    /// only when the backoff allows no attempt at all.
    NetworkChanged,
}

impl Reason {
    /// A short lower-case name: `finished`, `linger`, `peer_closed`,
    /// `shutdown`, `aborted`, `error`, `network_changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Finished => "finished",
            Reason::Linger => "linger",
            Reason::PeerClosed => "peer_closed",
            Reason::Shutdown => "shutdown",
            Reason::Aborted => "aborted",
            Reason::Error => "error",
            Reason::NetworkChanged => "network_changed",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final account of a connection, carried by
/// [`Signal::SocketShutdown`] and returned by [`crate::Client::join`].
///
/// Accounting: every byte handed to the client (the initial message plus
/// every chunk the inbox accepted) is either in `sent` or in `unsent`, and
/// of what was sent, `acked` is what the server's TCP acknowledged:
/// accepted = `acked` + [`unacked`](ShutdownReport::unacked) + `unsent`.
/// Every byte read from the socket was delivered to the outbox and is in
/// `received`.
///
/// With [`Config::reconnect`](crate::Config::reconnect) the final report
/// holds the totals over every connection. Accepted is still the initial
/// message (once) plus every chunk the inbox accepted; `sent` counts every
/// byte written on every connection, and `resent` the bytes among them
/// that had been written before: the initial message again at the start
/// of each new connection, and inbox bytes sent again. `acked` counts each
/// accepted byte once (inbox bytes at the level of
/// [`Config::delivery`](crate::Config::delivery)), so a complete transfer
/// ends with `acked` = accepted, and the invariant holds with
/// `unacked = sent - resent - acked`. A
/// [`Signal::Disconnected`] carries the report of one connection: its own
/// `sent`, `received`, `resent`, `acked` (its server's TCP
/// acknowledgements) and error, `unsent` the accepted bytes still waiting
/// for the next connection, and `connections` its number.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Why the connection ended.
    pub reason: Reason,
    /// Bytes written to the socket (initial message included).
    pub sent: u64,
    /// Of `sent`, the data bytes the server's TCP acknowledged: they
    /// reached the server's kernel (not necessarily the server
    /// application). Always at most `sent`; `sent - acked` may not have
    /// reached the server. Read from `TCP_INFO` (`tcpi_bytes_acked`, our
    /// SYN and FIN not counted) where the kernel has it, else from samples
    /// of the send queue (`SIOCOUTQ`), which can only count less: see
    /// ARCHITECTURE.md, "Staying connected". With TLS (the `tls`
    /// feature) TCP acknowledges ciphertext: `acked` is then the plaintext
    /// of the TLS records wholly acknowledged, a lower bound that is never
    /// above the plaintext acknowledged (ARCHITECTURE.md, "TLS").
    pub acked: u64,
    /// Of `sent`, bytes written again after a reconnect: the initial
    /// message on each new connection, and inbox bytes not delivered on an
    /// earlier one (0 without reconnect).
    pub resent: u64,
    /// Bytes written and neither delivered nor kept for sending again.
    /// The kept window is the write buffer, so nothing is written that is
    /// not kept: 0, and there so that such a loss could never be silent.
    pub lost: u64,
    /// Connections made (0 if none; at most 1 without reconnect).
    pub connections: u32,
    /// Bytes read from the socket, all of them delivered to the outbox.
    pub received: u64,
    /// Bytes accepted (initial message or inbox) but never written.
    pub unsent: u64,
    /// The error that ended the connection: set when `reason` is
    /// [`Reason::Error`], and when it is [`Reason::PeerClosed`] but the
    /// final flush after the server closed failed (the loss is in
    /// `unsent`).
    pub error: Option<Error>,
    /// Connection attempts started (one per address tried, over every
    /// connection with reconnect; 0 when the
    /// connection ended before any, e.g. a resolve error).
    pub attempts: u32,
    /// The TLS protocol version and cipher suite, when the connection
    /// completed a TLS handshake (the `tls` feature, `Config::tls`).
    /// With TLS, `sent` and `received` count plaintext bytes, and a byte
    /// counts as sent once the TLS records that carry it are written to
    /// the socket. With reconnect, the final report's is the last
    /// connection's.
    #[cfg(feature = "tls")]
    pub tls: Option<TlsInfo>,
}

impl ShutdownReport {
    pub(crate) fn new(reason: Reason) -> ShutdownReport {
        ShutdownReport {
            reason,
            sent: 0,
            acked: 0,
            resent: 0,
            lost: 0,
            connections: 0,
            received: 0,
            unsent: 0,
            error: None,
            attempts: 0,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Bytes written and not acknowledged (`sent - resent - acked`): they
    /// may not have reached the server.
    pub fn unacked(&self) -> u64 {
        self.sent
            .saturating_sub(self.resent)
            .saturating_sub(self.acked)
    }

    /// Everything accepted was written and acknowledged (or confirmed).
    pub fn all_acked(&self) -> bool {
        self.unsent == 0 && self.unacked() == 0 && self.lost == 0
    }
}

/// What a TLS handshake negotiated (see [`ShutdownReport::tls`]).
#[cfg(feature = "tls")]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TlsInfo {
    /// The protocol version, as OpenSSL names it: `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// The cipher suite's IANA name, e.g. `TLS_AES_128_GCM_SHA256` or
    /// `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`.
    pub cipher: &'static str,
}

/// `key=value` pairs, as the `ttc` command prints them on its final line:
/// `reason=finished sent=12 acked=12 received=34 unsent=0 attempts=1`;
/// with reconnect, when there was more than one connection or anything
/// was sent again or lost, `connections=N resent=N lost=N`; if the
/// connection used TLS (the `tls` feature), `tls_version=V cipher=C`;
/// then, if the connection ended with an error, `error="PHASE: MESSAGE"`
/// (a `"` or `\` in it is escaped with a backslash).
///
/// ```
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = listener.local_addr().unwrap().port();
/// drop(listener); // nobody listens there now
/// let report = ttc::Config::new("127.0.0.1", port).spawn().unwrap().join();
/// let text = report.to_string();
/// assert!(
///     text.starts_with("reason=error sent=0 acked=0 received=0 unsent=0 attempts=1 error=\"connect: "),
///     "{text}"
/// );
/// ```
impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reason={} sent={} acked={} received={} unsent={} attempts={}",
            self.reason, self.sent, self.acked, self.received, self.unsent, self.attempts
        )?;
        if self.connections > 1 || self.resent > 0 || self.lost > 0 {
            write!(
                f,
                " connections={} resent={} lost={}",
                self.connections, self.resent, self.lost
            )?;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            write!(f, " tls_version={} cipher={}", tls.version, tls.cipher)?;
        }
        if let Some(e) = &self.error {
            write!(f, " error=\"{}: ", e.phase)?;
            if e.message().is_empty() {
                write!(f, "{}", e.kind)?;
            }
            for c in e.message().chars() {
                if matches!(c, '"' | '\\') {
                    f.write_char('\\')?;
                }
                if c.is_control() {
                    write!(f, "{}", c.escape_default())?;
                } else {
                    f.write_char(c)?;
                }
            }
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// A message on the signal outbox. A connection signals, in order:
/// `Connected` (if it connected), `PeerClosed` (if the server closed),
/// `Error` (for each error), and always exactly one `SocketShutdown`, last.
/// With reconnect, each connection signals `Connected` ... `Disconnected`,
/// each wait before an attempt `Reconnecting`, and `SocketShutdown` ends
/// the component.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The connection is up, to this peer address.
    Connected(SocketAddr),
    /// The server closed its side of the connection (end of stream).
    PeerClosed,
    /// Something failed; without reconnect the connection ends with
    /// `SocketShutdown` next.
    Error(Error),
    /// With reconnect: a connection ended; its own report (see
    /// [`ShutdownReport`]).
    Disconnected(ShutdownReport),
    /// With reconnect: waiting `delay` before connect attempt `attempt`
    /// (1 for the first since the connection was lost).
    Reconnecting {
        /// Attempts since the connection was lost, this one included.
        attempt: u32,
        /// The wait before it.
        delay: Duration,
    },
    /// The connection is over; nothing follows.
    SocketShutdown(ShutdownReport),
}

impl Signal {
    /// True for the final signal, [`Signal::SocketShutdown`].
    pub fn is_final(&self) -> bool {
        matches!(self, Signal::SocketShutdown(_))
    }
}

/// Why the connect phase (resolving, connecting, a proxy or TLS handshake)
/// produced no connection. It sits here, below every phase that returns
/// it, so none of them imports the module that calls it.
pub(crate) enum Failure {
    /// The application asked to stop (`Shutdown` or `Abort`).
    Stopped(Reason),
    /// Resolving or connecting failed.
    Failed(Phase, io::Error),
    /// Connecting failed, described already (with its context).
    Error(Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_chunk_from_slice_copies_exactly_and_refuses_overlong() {
        let c = Chunk::<8>::from_slice(b"abcdefgh").unwrap();
        assert_eq!(&c[..], b"abcdefgh");
        assert_eq!(
            Chunk::<8>::from_slice(b"abcdefghi"),
            Err(CapacityError {
                len: 9,
                capacity: 8
            })
        );
        assert!(Chunk::<8>::from_slice(b"").unwrap().is_empty());
    }

    #[test]
    fn test_chunk_from_prefix_keeps_at_most_capacity() {
        assert_eq!(&Chunk::<4>::from_prefix(b"abcdef")[..], b"abcd");
        assert_eq!(&Chunk::<4>::from_prefix(b"ab")[..], b"ab");
    }

    #[test]
    fn test_chunk_extend_is_all_or_nothing() {
        let mut c = Chunk::<4>::new();
        c.extend_from_slice(b"ab").unwrap();
        assert_eq!(
            c.extend_from_slice(b"cde"),
            Err(CapacityError {
                len: 5,
                capacity: 4
            })
        );
        assert_eq!(c.as_slice(), b"ab");
        c.extend_from_slice(b"cd").unwrap();
        assert_eq!(&c[..], b"abcd");
        c.truncate(1);
        assert_eq!(&c[..], b"a");
        c.clear();
        assert!(c.is_empty());
        assert_eq!(c.capacity(), 4);
    }

    #[test]
    fn test_control_round_trips_through_its_byte() {
        for c in [Control::ProducerFinished, Control::Shutdown, Control::Abort] {
            assert_eq!(Control::from_u8(c as u8), Some(c));
        }
        assert_eq!(Control::from_u8(0), None);
        assert_eq!(Control::from_u8(4), None);
    }

    #[test]
    fn test_error_message_is_cut_at_a_char_boundary() {
        let long = "é".repeat(ERROR_MESSAGE_CAPACITY);
        let e = Error::new(Phase::Read, io::ErrorKind::Other, &long);
        assert!(e.message().len() <= ERROR_MESSAGE_CAPACITY);
        assert!(e.message().chars().all(|c| c == 'é'));
        assert!(!e.message().is_empty());
    }
}
