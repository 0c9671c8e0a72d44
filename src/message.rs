//! The messages that travel through the four boxes: data chunks on the
//! inbox and outbox, [`Control`] on the control inbox, [`Signal`] on the
//! signal outbox, and the [`Error`] and [`ShutdownReport`] they carry.

use core::fmt;
use std::io;
use std::net::SocketAddr;

/// Default chunk capacity in bytes: the original's `recv(1024)`.
pub const DEFAULT_CHUNK: usize = 1024;
/// Default inbox capacity, in chunks.
pub const DEFAULT_INBOX: usize = 16;
/// Default outbox capacity, in chunks.
pub const DEFAULT_OUTBOX: usize = 16;

/// One message of bytes on the inbox or the outbox: a fixed-capacity vector
/// that lives inline, so moving it through a mailbox never touches the heap.
///
/// ```
/// let chunk: ttc::Chunk = ttc::Chunk::from_slice(b"hello").unwrap();
/// assert_eq!(&chunk[..], b"hello");
/// // A slice longer than the capacity is refused, not truncated.
/// assert!(ttc::Chunk::<4>::from_slice(b"hello").is_err());
/// ```
pub type Chunk<const C: usize = DEFAULT_CHUNK> = heapless::Vec<u8, C>;

/// A chunk holding `bytes` (at most `C` of them), built with a memcpy:
/// heapless's `from_slice` copies byte by byte, which at `opt-level = "z"`
/// cost ~35x a memcpy and ran under the outbox lock.
pub(crate) fn chunk_of<const C: usize>(bytes: &[u8]) -> Chunk<C> {
    let n = bytes.len().min(C);
    let mut a = [0u8; C];
    a[..n].copy_from_slice(&bytes[..n]);
    let mut chunk = Chunk::<C>::from_array(a);
    chunk.truncate(n);
    chunk
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
    /// closes or the linger timeout ends.
    ProducerFinished = 1,
    /// Stop now: close the connection without writing what is still queued
    /// (the final report counts it as unsent).
    Shutdown = 2,
    /// Reset the connection (`SO_LINGER` 0): the server sees a reset.
    Abort = 3,
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
}

impl Phase {
    /// A short lower-case name: `spawn`, `resolve`, `connect`, `read`,
    /// `write`, `shutdown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Spawn => "spawn",
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Read => "read",
            Phase::Write => "write",
            Phase::Shutdown => "shutdown",
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
    /// the write side was closed, and the server closed or the linger time
    /// ran out.
    Finished,
    /// The server closed the connection.
    PeerClosed,
    /// [`Control::Shutdown`] (or the [`crate::Client`] was dropped).
    Shutdown,
    /// [`Control::Abort`]: the connection was reset.
    Aborted,
    /// An error ended the connection; it was signalled just before.
    Error,
}

impl Reason {
    /// A short lower-case name: `finished`, `peer_closed`, `shutdown`,
    /// `aborted`, `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Finished => "finished",
            Reason::PeerClosed => "peer_closed",
            Reason::Shutdown => "shutdown",
            Reason::Aborted => "aborted",
            Reason::Error => "error",
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
/// every chunk the inbox accepted) is either in `sent` or in `unsent`;
/// every byte read from the socket was delivered to the outbox and is in
/// `received`.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Why the connection ended.
    pub reason: Reason,
    /// Bytes written to the socket (initial message included).
    pub sent: u64,
    /// Bytes read from the socket, all of them delivered to the outbox.
    pub received: u64,
    /// Bytes accepted (initial message or inbox) but never written.
    pub unsent: u64,
    /// The error that ended the connection: set when `reason` is
    /// [`Reason::Error`], and when it is [`Reason::PeerClosed`] but the
    /// final flush after the server closed failed (the loss is in
    /// `unsent`).
    pub error: Option<Error>,
}

impl ShutdownReport {
    pub(crate) fn new(reason: Reason) -> ShutdownReport {
        ShutdownReport {
            reason,
            sent: 0,
            received: 0,
            unsent: 0,
            error: None,
        }
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (sent {}, received {}, unsent {})",
            self.reason, self.sent, self.received, self.unsent
        )?;
        if let Some(e) = &self.error {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

/// A message on the signal outbox. A connection signals, in order:
/// `Connected` (if it connected), `PeerClosed` (if the server closed),
/// `Error` (for each error), and always exactly one `SocketShutdown`, last.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signal {
    /// The connection is up, to this peer address.
    Connected(SocketAddr),
    /// The server closed its side of the connection (end of stream).
    PeerClosed,
    /// Something failed; the connection ends with `SocketShutdown` next.
    Error(Error),
    /// The connection is over; nothing follows.
    SocketShutdown(ShutdownReport),
}

impl Signal {
    /// True for the final signal, [`Signal::SocketShutdown`].
    pub fn is_final(&self) -> bool {
        matches!(self, Signal::SocketShutdown(_))
    }
}
