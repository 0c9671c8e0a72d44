//! # ttc: a threaded TCP client for constrained devices
//!
//! `ttc` is Kamaelia's `ThreadedTCPClient` done right, in Rust: a component
//! that connects to a server, writes what arrives on its **inbox**,
//! delivers what the server sends on its **outbox**, obeys **control**
//! messages (`ProducerFinished`, `Shutdown`, `Abort`), and reports
//! `Connected`, `PeerClosed`, errors and one final `SocketShutdown` on its
//! **signal** outbox.
//!
//! ## Design
//!
//! - One worker thread per connection owns a blocking
//!   [`std::net::TcpStream`]. It sleeps in `poll(2)` on the socket and an
//!   eventfd that the boxes use to wake it, so an idle connection costs no
//!   wake-ups and a control message is seen at once.
//! - The four boxes are fixed-capacity [`mailbox::Mailbox`]es
//!   (a ring of slots allocated once on the heap, behind a mutex and
//!   condvars). Chunk size and
//!   capacities are const generics; after connecting, no message allocates.
//! - Backpressure both ways: a full inbox hands the message back (or the
//!   blocking send waits); a full outbox makes the worker stop reading, so
//!   TCP flow control slows the server down.
//! - Nothing panics on anything a peer or caller sends; every error is a
//!   [`Signal::Error`] with its [`Phase`] and [`std::io::ErrorKind`].
//! - Every report says what the server's TCP acknowledged
//!   ([`ShutdownReport::acked`]), not only what was written.
//! - Staying connected, opt-in: dead-peer detection
//!   ([`Config::user_timeout`], [`Config::keepalive`],
//!   [`Config::idle_timeout`]) and reconnect ([`Config::reconnect`]): the
//!   same boxes across connections, and what was not delivered sent again
//!   from a bounded kept window, never from the middle of a chunk.
//! - The library never prints: it logs through [`log`].
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use ttc::{Config, Control, Reason, Signal};
//!
//! // A server that says hello and closes.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let port = listener.local_addr().unwrap().port();
//! std::thread::spawn(move || {
//!     use std::io::Write;
//!     let (mut s, _) = listener.accept().unwrap();
//!     s.write_all(b"hello from the server\n").unwrap();
//! });
//!
//! let client = Config::new("127.0.0.1", port).spawn().unwrap();
//! let mut got = Vec::new();
//! for chunk in client.outbox().iter() {
//!     got.extend_from_slice(&chunk);
//! }
//! assert_eq!(got, b"hello from the server\n");
//!
//! let signals: Vec<Signal> = client.signal().iter().collect();
//! assert!(matches!(signals[0], Signal::Connected(_)));
//! assert_eq!(signals[1], Signal::PeerClosed);
//! match signals.last() {
//!     Some(Signal::SocketShutdown(report)) => assert_eq!(report.reason, Reason::PeerClosed),
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(rust_2018_idioms)]

#[cfg(not(any(target_os = "linux", target_os = "android")))]
compile_error!("ttc runs on Linux and Android: it uses poll(2) and eventfd");

// The layers, from the application's side down to the system's.
mod client; // the public handles: Client and its four boxes
mod config; // where to connect and how
mod connect; // the connect phase: resolve, attempts
mod databox; // the inbox and outbox: a byte ring each way
pub mod logger;
pub mod mailbox; // fixed-capacity blocking queues
mod message; // what travels through the boxes
pub mod peers;
#[cfg(feature = "proxy")]
mod proxy; // the `proxy` feature: proxy URLs, and the tunnel's handshake
mod reconnect; // backoff, delivery, the kept window
mod resolve; // host names to addresses: system, netd's dnsproxyd, DNS, static
mod ring; // the single-writer single-reader byte ring and its wake-ups
mod routes; // following the routes: netlink (the `routes` feature)
mod sys; // poll(2), eventfd: the target glue
#[cfg(feature = "tls")]
mod tls; // the `tls` feature: rustls client over the worker's socket
mod wake; // the park/wake protocol between the handles and the worker
mod worker; // the worker thread: connection states and the data path

pub use client::{
    Client, ControlInbox, Inbox, Outbox, ReadFromError, SendSliceError, SendSliceFailure,
    SignalOutbox,
};
pub use config::{Config, IpFamily, Keepalive};
pub use config::{Resolver, ANDROID_DNSPROXYD};
#[doc(hidden)]
pub use connect::ConnectPhase;
pub use mailbox::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
#[cfg(feature = "tls")]
pub use message::TlsInfo;
pub use message::{
    CapacityError, Chunk, Control, Error, Phase, Reason, ShutdownReport, Signal,
    ERROR_MESSAGE_CAPACITY,
};
/// The proxy handshakes over bytes in memory, for the fuzz targets. Not a
/// stable API.
#[cfg(feature = "proxy")]
#[doc(hidden)]
pub use proxy::fuzzing as proxy_fuzzing;
#[cfg(feature = "proxy")]
pub use proxy::{Proxy, ProxyKind, ProxyUrlError, DEFAULT_PROXY_PORT, MAX_HTTP_HEAD};
pub use reconnect::{Backoff, Delivery, Jitter};
#[cfg(feature = "tls")]
#[doc(hidden)]
pub use tls::fuzzing as tls_fuzzing;
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsConfigError, TlsServerConfig};
pub use wake::SIGNAL_CAPACITY;

/// The kernel's route messages as the `routes` feature reads them, for the
/// fuzz targets. Not a stable API.
#[doc(hidden)]
pub use routes::wire as routes_wire;

/// The resolvers' wire formats (DNS messages, netd's dnsproxyd replies),
/// for the fuzz targets and tests. Not a stable API.
#[doc(hidden)]
pub use resolve::wire as resolve_wire;

// The README's Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
