//! [`Config`]: where to connect and how, and [`Config::spawn`] which starts
//! the worker.

use std::time::Duration;

use crate::client::Client;
use crate::message::{Error, DEFAULT_CHUNK, DEFAULT_INBOX, DEFAULT_OUTBOX};

/// Which address families a host name may resolve to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// IPv4 and IPv6, in the resolver's order.
    #[default]
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

/// How to reach the server and how the connection behaves. Build it with
/// [`Config::new`] and the setters, then [`spawn`](Config::spawn).
///
/// ```
/// use std::time::Duration;
/// let config = ttc::Config::new("127.0.0.1", 7)
///     .initial_message(b"HELLO\r\n".to_vec())
///     .connect_timeout(Duration::from_secs(3))
///     .write_timeout(Some(Duration::from_secs(10)))
///     .linger(Duration::from_secs(2))
///     .nodelay(true)
///     .keepalive(Some(Duration::from_secs(60)))
///     .thread_name("uplink");
/// assert_eq!(config.host(), "127.0.0.1");
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) family: IpFamily,
    pub(crate) initial: Vec<u8>,
    pub(crate) connect_timeout: Duration,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) linger: Duration,
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) stack_size: usize,
    pub(crate) thread_name: String,
    pub(crate) recv_spin: Duration,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsConfig>,
}

impl Config {
    /// Default budget for resolving and connecting.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default limit on a write that makes no progress.
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default time to wait for the server to close after our half-close.
    pub const DEFAULT_LINGER: Duration = Duration::from_secs(5);
    /// Default worker stack size: small, but with room for the system
    /// resolver, which needs tens of KiB of stack.
    pub const DEFAULT_STACK_SIZE: usize = 128 * 1024;
    /// Default longest time a receive from an empty outbox keeps looking
    /// before it sleeps, while the worker is awake (see
    /// [`Config::recv_spin`]).
    pub const DEFAULT_RECV_SPIN: Duration = Duration::from_micros(50);
    /// Default chunk capacity in bytes, used by [`Config::spawn`]: the
    /// original's `recv(1024)`.
    pub const DEFAULT_CHUNK: usize = DEFAULT_CHUNK;
    /// Default inbox capacity in chunks, used by [`Config::spawn`].
    pub const DEFAULT_INBOX: usize = DEFAULT_INBOX;
    /// Default outbox capacity in chunks, used by [`Config::spawn`].
    pub const DEFAULT_OUTBOX: usize = DEFAULT_OUTBOX;

    /// Connect to `host` (a DNS name, an IPv4 literal, or an IPv6 literal
    /// with or without brackets) on `port`.
    pub fn new(host: impl Into<String>, port: u16) -> Config {
        Config {
            host: host.into(),
            port,
            family: IpFamily::Any,
            initial: Vec::new(),
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            write_timeout: Some(Self::DEFAULT_WRITE_TIMEOUT),
            linger: Self::DEFAULT_LINGER,
            nodelay: true,
            keepalive: None,
            stack_size: Self::DEFAULT_STACK_SIZE,
            thread_name: String::from("ttc-worker"),
            recv_spin: Self::DEFAULT_RECV_SPIN,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The host as given.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port as given.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Restrict the addresses tried to one family (default: any).
    pub fn family(mut self, family: IpFamily) -> Config {
        self.family = family;
        self
    }

    /// Bytes written right after connecting, before any inbox data (the
    /// original's `initialsendmessage`). Empty means none.
    pub fn initial_message(mut self, bytes: impl Into<Vec<u8>>) -> Config {
        self.initial = bytes.into();
        self
    }

    /// One budget for resolving the name and trying every resolved address
    /// in order (default 10 s). Name resolution itself is bounded by the
    /// system resolver; the budget is checked when it returns.
    pub fn connect_timeout(mut self, timeout: Duration) -> Config {
        self.connect_timeout = timeout;
        self
    }

    /// How long queued data may wait without any of it being written
    /// before the connection fails with a write timeout (default 30 s;
    /// `None`: no limit).
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.write_timeout = timeout;
        self
    }

    /// After [`Control::ProducerFinished`](crate::Control) and the
    /// half-close, how long to keep reading while waiting for the server to
    /// close (default 5 s).
    pub fn linger(mut self, timeout: Duration) -> Config {
        self.linger = timeout;
        self
    }

    /// `TCP_NODELAY` (default on: a chunk goes out when it is written).
    pub fn nodelay(mut self, on: bool) -> Config {
        self.nodelay = on;
        self
    }

    /// TCP keepalive with this idle time before the first probe (default
    /// off).
    pub fn keepalive(mut self, idle: Option<Duration>) -> Config {
        self.keepalive = idle;
        self
    }

    /// The worker thread's stack size in bytes (default 128 KiB).
    pub fn stack_size(mut self, bytes: usize) -> Config {
        self.stack_size = bytes;
        self
    }

    /// The worker thread's name (default `ttc-worker`; Linux shows the
    /// first 15 bytes).
    pub fn thread_name(mut self, name: impl Into<String>) -> Config {
        self.thread_name = name.into();
        self
    }

    /// How long a receive from an empty outbox may keep looking for the
    /// next chunk before it puts its thread to sleep (default 50 µs; zero:
    /// sleep at once; at most 1 ms). It looks only while the worker thread
    /// is awake (in the middle of reading, most likely), never on a
    /// single-CPU machine, and never beyond the receive's own timeout.
    ///
    /// Why: handing a chunk to a sleeping thread costs a wake-up (tens of
    /// microseconds on a small board or a VM), and a download moves data in
    /// batches a few microseconds apart; sleeping between them made a
    /// download several times slower (benches/README.md). A receive on
    /// an idle connection finds the worker asleep in `poll` and sleeps at
    /// once, so this costs nothing while nothing flows.
    pub fn recv_spin(mut self, limit: Duration) -> Config {
        self.recv_spin = limit;
        self
    }

    /// Speak TLS on the connection (the `tls` feature): after connecting,
    /// the worker runs the handshake (within its own
    /// [`connect_timeout`](Config::connect_timeout)), then `Connected` is
    /// signalled and data flows, encrypted. Nothing from the inbox is
    /// written before the handshake completes. A failed handshake or
    /// certificate check is an error of [`Phase::Tls`](crate::Phase::Tls).
    /// [`Control::ProducerFinished`](crate::Control) sends `close_notify`
    /// before the half-close; the server's `close_notify` is
    /// [`Signal::PeerClosed`](crate::Signal); an end of stream without it
    /// is an error of kind [`UnexpectedEof`](std::io::ErrorKind) and phase
    /// `Tls` (reason `truncated`). TLS 1.2 has no half-close, and many
    /// servers (OpenSSL's) end the whole session at `close_notify`: send
    /// `ProducerFinished` once the reply is in.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Config {
        self.tls = Some(tls);
        self
    }

    /// Starts the worker with the default chunk size (1 KiB) and mailbox
    /// capacities (16 chunks each way). Returns at once; the connection
    /// happens on the worker and is reported on the signal outbox.
    ///
    /// Fails only if the worker cannot be started (no thread or no file
    /// descriptor left); the error's phase is [`Phase::Spawn`](crate::Phase).
    pub fn spawn(self) -> Result<Client, Error> {
        self.spawn_sized::<DEFAULT_CHUNK, DEFAULT_INBOX, DEFAULT_OUTBOX>()
    }

    /// Starts the worker with chunk size `C` bytes, an inbox of `I` chunks
    /// and an outbox of `O` chunks.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = listener.local_addr().unwrap().port();
    /// let client = ttc::Config::new("127.0.0.1", port)
    ///     .spawn_sized::<256, 4, 8>()
    ///     .unwrap();
    /// assert_eq!(client.inbox().capacity(), 4);
    /// assert_eq!(client.outbox().capacity(), 8);
    /// client.control().send(ttc::Control::Shutdown);
    /// assert_eq!(client.join().reason, ttc::Reason::Shutdown);
    /// ```
    pub fn spawn_sized<const C: usize, const I: usize, const O: usize>(
        self,
    ) -> Result<Client<C, I, O>, Error> {
        Client::spawn(self)
    }
}
