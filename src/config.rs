//! [`Config`]: where to connect and how, and [`Config::spawn`] which starts
//! the worker.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use std::{fmt, io};

use crate::message::{DEFAULT_CHUNK, DEFAULT_INBOX, DEFAULT_OUTBOX};
use crate::reconnect::{Backoff, Delivery};

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

/// TCP keepalive settings for [`Config::keepalive`]: the idle time before
/// the first probe, and optionally the interval between probes and how
/// many unanswered probes end the connection (`None`: the system's
/// defaults, on Linux 75 s and 9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Keepalive {
    /// Time without traffic before the first probe (`TCP_KEEPIDLE`).
    pub idle: Duration,
    /// Time between probes (`TCP_KEEPINTVL`).
    pub interval: Option<Duration>,
    /// Unanswered probes before the connection ends (`TCP_KEEPCNT`).
    pub count: Option<u32>,
}

impl Keepalive {
    /// Probes after `idle` without traffic, at the system's interval and
    /// count.
    pub const fn idle(idle: Duration) -> Keepalive {
        Keepalive {
            idle,
            interval: None,
            count: None,
        }
    }

    /// This time between probes.
    pub const fn interval(mut self, interval: Duration) -> Keepalive {
        self.interval = Some(interval);
        self
    }

    /// This many unanswered probes end the connection.
    pub const fn count(mut self, count: u32) -> Keepalive {
        self.count = Some(count);
        self
    }
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
///     .linger(Some(Duration::from_secs(2)))
///     .nodelay(true)
///     .keepalive(Some(ttc::Keepalive::idle(Duration::from_secs(60))))
///     .user_timeout(Some(Duration::from_secs(20)))
///     .idle_timeout(Some(Duration::from_secs(120)))
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
    pub(crate) linger: Option<Duration>,
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Keepalive>,
    pub(crate) stack_size: usize,
    pub(crate) thread_name: String,
    pub(crate) recv_spin: Duration,
    pub(crate) resolver: Resolver,
    pub(crate) resolve_timeout: Option<Duration>,
    pub(crate) attempt_delay: Duration,
    pub(crate) bind_device: Option<String>,
    pub(crate) local_addr: Option<IpAddr>,
    pub(crate) before_connect: Option<SocketHook>,
    #[cfg(feature = "routes")]
    pub(crate) follow_routes: bool,
    pub(crate) user_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) reconnect: Option<Backoff>,
    pub(crate) resend_window: usize,
    pub(crate) delivery: Delivery,
    #[cfg(feature = "proxy")]
    pub(crate) proxy: Option<crate::proxy::Proxy>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::TlsConfig>,
}

impl Config {
    /// Default budget for resolving and connecting.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default limit on a write that makes no progress.
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default linger: how long the server may stay quiet after our
    /// half-close before the connection ends (see [`Config::linger`]).
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
    /// Default inbox capacity in chunks, used by [`Config::spawn`] (64 KiB
    /// with the default chunk).
    pub const DEFAULT_INBOX: usize = DEFAULT_INBOX;
    /// Default outbox capacity in chunks, used by [`Config::spawn`] (64 KiB
    /// with the default chunk).
    pub const DEFAULT_OUTBOX: usize = DEFAULT_OUTBOX;
    /// Default connection attempt delay (RFC 8305's recommendation): how
    /// long an attempt may stay pending before the next address is tried
    /// alongside it.
    pub const DEFAULT_ATTEMPT_DELAY: Duration = Duration::from_millis(250);
    /// Shortest connection attempt delay (RFC 8305 section 5's lower bound).
    pub const MIN_ATTEMPT_DELAY: Duration = Duration::from_millis(10);
    /// Longest connection attempt delay (RFC 8305 section 5's upper bound).
    pub const MAX_ATTEMPT_DELAY: Duration = Duration::from_secs(2);
    /// Default size of the kept window with reconnect (see
    /// [`Config::resend_window`]).
    pub const DEFAULT_RESEND_WINDOW: usize = 256 * 1024;

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
            linger: Some(Self::DEFAULT_LINGER),
            nodelay: true,
            keepalive: None,
            stack_size: Self::DEFAULT_STACK_SIZE,
            thread_name: String::from("ttc-worker"),
            recv_spin: Self::DEFAULT_RECV_SPIN,
            resolver: Resolver::Auto,
            resolve_timeout: None,
            attempt_delay: Self::DEFAULT_ATTEMPT_DELAY,
            bind_device: None,
            local_addr: None,
            before_connect: None,
            #[cfg(feature = "routes")]
            follow_routes: false,
            user_timeout: None,
            idle_timeout: None,
            reconnect: None,
            resend_window: Self::DEFAULT_RESEND_WINDOW,
            delivery: Delivery::TcpAck,
            #[cfg(feature = "proxy")]
            proxy: None,
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

    /// One budget for resolving the name and every connection attempt
    /// (default 10 s). Resolution ends within it, and within
    /// [`Config::resolve_timeout`] if that is shorter.
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
    /// half-close, how long the server may send nothing before the
    /// connection ends without waiting for its close (default 5 s; `None`:
    /// wait for the server's close as long as it takes).
    ///
    /// It is an idle limit, not a deadline: each byte received restarts
    /// it, so a server that keeps sending after our half-close is never
    /// cut off. While the outbox is too full to read into, it is paused
    /// (the application, not the server, is the slow one then), and it
    /// restarts when there is room again. A connection it ends reports
    /// [`Reason::Linger`](crate::Reason::Linger): the server never closed,
    /// so it may have had more to send. `Some(Duration::ZERO)` does not
    /// wait at all after the half-close.
    ///
    /// ```
    /// use std::time::Duration;
    /// // Give a slow server up to 30 s between bytes, but never cut a live
    /// // download short.
    /// let c = ttc::Config::new("127.0.0.1", 7).linger(Some(Duration::from_secs(30)));
    /// // Wait for the server's close, however long it takes.
    /// let c = c.linger(None);
    /// # let _ = c;
    /// ```
    pub fn linger(mut self, limit: Option<Duration>) -> Config {
        self.linger = limit;
        self
    }

    /// `TCP_NODELAY` (default on: a chunk goes out when it is written).
    pub fn nodelay(mut self, on: bool) -> Config {
        self.nodelay = on;
        self
    }

    /// TCP keepalive (default off): after [`Keepalive::idle`] without
    /// traffic the kernel sends a probe, every `interval` after that, and
    /// after `count` unanswered probes it ends the connection (the worker
    /// sees a read error, `TimedOut`). Times are whole seconds for the
    /// kernel (rounded down, at least 1). A value the platform refuses is a
    /// logged warning.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ttc::Keepalive;
    /// let ka = Keepalive::idle(Duration::from_secs(30))
    ///     .interval(Duration::from_secs(5))
    ///     .count(3);
    /// let config = ttc::Config::new("127.0.0.1", 7).keepalive(Some(ka));
    /// # let _ = config;
    /// ```
    pub fn keepalive(mut self, keepalive: Option<Keepalive>) -> Config {
        self.keepalive = keepalive;
        self
    }

    /// `TCP_USER_TIMEOUT` (Linux and Android; default `None`: the
    /// kernel's retransmission limits, about 15 minutes): when data written
    /// stays unacknowledged for this long, the kernel ends the connection
    /// and the worker sees a `TimedOut` error. It finds a peer that went
    /// away while we were sending; [`Config::idle_timeout`] finds one while
    /// we only read. The kernel takes milliseconds. A value the platform
    /// refuses is a logged warning.
    pub fn user_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.user_timeout = timeout;
        self
    }

    /// No byte from the server for this long fails the connection with
    /// `Error { phase: Read, kind: TimedOut }` (default `None`: no
    /// limit), like Kamaelia's `TimeOutCSA` or Netty's
    /// `IdleStateHandler`. The time starts when the connection is up and
    /// again with every byte received. It does not run while the outbox
    /// is too full to read into (the server may well be sending; the
    /// worker is not reading) and starts again once there is room. After
    /// the server closed its side it no longer applies.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.idle_timeout = timeout;
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

    /// How host names are resolved (default [`Resolver::Auto`]: the
    /// system resolver, or netd's on an Android system seen from a static
    /// build; see [`Resolver`]).
    ///
    /// ```
    /// use ttc::{Config, Resolver};
    /// let dns = Config::new("example.org", 80)
    ///     .resolver(Resolver::Dns(vec!["192.0.2.53:53".parse().unwrap()]));
    /// let pinned = Config::new("example.org", 80)
    ///     .resolver(Resolver::Static(vec!["192.0.2.7".parse().unwrap()]));
    /// # let _ = (dns, pinned);
    /// ```
    pub fn resolver(mut self, resolver: Resolver) -> Config {
        self.resolver = resolver;
        self
    }

    /// A limit on resolving the host name alone (default `None`: the
    /// connect budget, [`Config::connect_timeout`], is the only limit).
    /// Resolution ends at whichever comes first; running out is an
    /// [`Error`](crate::Error) of phase [`Phase::Resolve`](crate::Phase) and kind
    /// [`TimedOut`](std::io::ErrorKind::TimedOut).
    pub fn resolve_timeout(mut self, timeout: Option<Duration>) -> Config {
        self.resolve_timeout = timeout;
        self
    }

    /// The connection attempt delay of Happy Eyeballs (RFC 8305; default
    /// 250 ms). The resolved addresses are tried in the resolver's order
    /// with the families interleaved (the first answer's family first); an
    /// attempt still pending after this delay gets the next address tried
    /// beside it, and an attempt that fails starts the next one at once.
    /// The first to connect wins; the others are closed. All of it fits in
    /// the one [`connect_timeout`](Config::connect_timeout) budget.
    ///
    /// A value outside [`MIN_ATTEMPT_DELAY`](Config::MIN_ATTEMPT_DELAY)
    /// (10 ms) to [`MAX_ATTEMPT_DELAY`](Config::MAX_ATTEMPT_DELAY) (2 s) is
    /// clamped into that range.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = ttc::Config::new("example.org", 80)
    ///     .attempt_delay(Duration::from_millis(300))
    ///     .connect_timeout(Duration::from_secs(5));
    /// # let _ = config;
    /// ```
    pub fn attempt_delay(mut self, delay: Duration) -> Config {
        self.attempt_delay = delay.clamp(Self::MIN_ATTEMPT_DELAY, Self::MAX_ATTEMPT_DELAY);
        self
    }

    /// Connect through this network interface only (`SO_BINDTODEVICE`),
    /// e.g. `"wlan0"` on a phone or board with several uplinks. Where the
    /// system does not permit it (`EPERM`: before Linux 5.7 it needs
    /// `CAP_NET_RAW`), or there is no such interface (`ENODEV`), or the
    /// name is empty or longer than 15 bytes, the connect fails with an
    /// [`Error`](crate::Error) of phase [`Connect`](crate::Phase::Connect) whose message
    /// names the interface.
    pub fn bind_device(mut self, interface: impl Into<String>) -> Config {
        self.bind_device = Some(interface.into());
        self
    }

    /// Connect from this source address (bound with port 0, so the system
    /// picks the port). Only the resolved addresses of the same family are
    /// tried; if there are none, the connect fails with phase
    /// [`Connect`](crate::Phase::Connect). An address this host does not
    /// have fails the connect with the system's `EADDRNOTAVAIL`.
    pub fn local_addr(mut self, ip: IpAddr) -> Config {
        self.local_addr = Some(ip);
        self
    }

    /// Calls `hook` with every socket the connect phase makes, after it
    /// is made and set up ([`Config::bind_device`], [`Config::local_addr`])
    /// and before its `connect`: each Happy Eyeballs attempt, on every
    /// connection with reconnect, and the socket to a proxy. It runs on
    /// the worker's thread. This is where a socket is put on a chosen
    /// network: on Android, Java's `Network.bindSocket` (through a file
    /// descriptor) or the NDK's `android_setsocknetwork`; on a board,
    /// `SO_MARK` or any other socket option. An error it returns fails
    /// that attempt (the next address is tried) with an error of phase
    /// [`Connect`](crate::Phase::Connect) that says `pre-connect hook`.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// let config = ttc::Config::new("192.0.2.7", 7).before_connect(|fd| {
    ///     let mark: libc::c_int = 42;
    ///     // SAFETY: a live socket, and a c_int option value.
    ///     let rc = unsafe {
    ///         libc::setsockopt(
    ///             fd.as_raw_fd(),
    ///             libc::SOL_SOCKET,
    ///             libc::SO_MARK,
    ///             (&mark as *const libc::c_int).cast(),
    ///             std::mem::size_of::<libc::c_int>() as libc::socklen_t,
    ///         )
    ///     };
    ///     if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
    /// });
    /// # drop(config);
    /// ```
    pub fn before_connect(
        mut self,
        hook: impl Fn(BorrowedFd<'_>) -> io::Result<()> + Send + Sync + 'static,
    ) -> Config {
        self.before_connect = Some(SocketHook(Arc::new(hook)));
        self
    }

    /// With [`Config::reconnect`], follow the kernel's routes (the `routes`
    /// feature; default off): the worker listens to address, link and
    /// route changes on a NETLINK_ROUTE socket, in the same `poll` as its
    /// socket (no thread, no wake-up while nothing changes). When the
    /// connection's local address is removed, its interface goes down, or
    /// the server is no longer routed through that interface, it ends the
    /// connection as [`Control::Reconnect`](crate::Control::Reconnect)
    /// does and connects again at once; in a backoff wait, an address,
    /// link or route that brings back a route to the server ends the wait.
    /// A change that leaves the path intact does nothing. Where netlink is
    /// refused (Android apps, some containers) it says so once in the log
    /// and goes on without. Without reconnect it does nothing.
    #[cfg(feature = "routes")]
    pub fn follow_routes(mut self, on: bool) -> Config {
        self.follow_routes = on;
        self
    }

    /// Whether routes are followed (only with the `routes` feature).
    pub(crate) fn follows_routes(&self) -> bool {
        #[cfg(feature = "routes")]
        return self.follow_routes && self.reconnect.is_some();
        #[cfg(not(feature = "routes"))]
        false
    }

    /// Reconnect when the connection is lost (default: off, the component
    /// ends with the connection). On any end other than
    /// [`Control::Shutdown`](crate::Control), `Abort` or a finished
    /// transfer (after `ProducerFinished`, everything accepted delivered),
    /// the worker waits as `backoff` says, then connects again the same
    /// way as the first time. A `Shutdown` or `Abort` during the wait ends
    /// the component at once. With TLS, a refused certificate (the
    /// server's, or ours by the server: unknown issuer, expired, name or
    /// pin mismatch) ends it too: another attempt would be refused again.
    ///
    /// The boxes live across connections: the inbox keeps taking chunks
    /// while disconnected (with backpressure once it is full) and is not
    /// closed by a lost connection; the outbox keeps delivering. What was
    /// written and not delivered ([`Config::delivery`]) is sent again on
    /// the next connection, from the first chunk not wholly delivered (a
    /// connection never starts in the middle of a chunk), after the
    /// initial message, which starts every connection. The kept bytes are
    /// bounded by [`Config::resend_window`].
    ///
    /// Signals: `Connected` for each connection, `Disconnected` with that
    /// connection's report when it ends, `Reconnecting` before each wait,
    /// and one final `SocketShutdown` with the totals. The signal outbox
    /// holds [`SIGNAL_CAPACITY`](crate::SIGNAL_CAPACITY): read it while
    /// reconnecting, or signals beyond it are dropped (with a logged
    /// warning; the final one is always delivered).
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = ttc::Config::new("127.0.0.1", 7)
    ///     .reconnect(ttc::Backoff::default().max(Duration::from_secs(10)))
    ///     .user_timeout(Some(Duration::from_secs(5)));
    /// # let _ = config;
    /// ```
    pub fn reconnect(mut self, backoff: Backoff) -> Config {
        self.reconnect = Some(backoff);
        self
    }

    /// The reconnect policy, if [`Config::reconnect`] was set.
    pub fn backoff(&self) -> Option<&Backoff> {
        self.reconnect.as_ref()
    }

    /// With reconnect, the most bytes kept for sending again (default
    /// [`Config::DEFAULT_RESEND_WINDOW`], 256 KiB; at least one chunk). The
    /// window is the worker's write buffer: nothing is written that is not
    /// kept, so it also bounds the bytes in flight, and the socket's send
    /// buffer is capped to it (`SO_SNDBUF` set to half of it; Linux
    /// doubles the value). Raise it for a link with a large
    /// bandwidth-delay product. Allocated once, when the worker starts,
    /// only with reconnect.
    pub fn resend_window(mut self, bytes: usize) -> Config {
        self.resend_window = bytes;
        self
    }

    /// With reconnect, what counts as delivered, and so what moves the
    /// kept window (default [`Delivery::TcpAck`]). Without reconnect it
    /// changes nothing.
    pub fn delivery(mut self, delivery: Delivery) -> Config {
        self.delivery = delivery;
        self
    }

    /// Reach the server through a proxy (the `proxy` feature, on by
    /// default; without a proxy the server is reached directly). The
    /// URL is parsed beforehand, once, with [`Proxy::parse`](crate::Proxy)
    /// (or `str::parse`), which says what is wrong with a bad one; see
    /// there for the schemes: `socks5://` (the server's name resolved
    /// here), `socks5h://` (resolved by the proxy), `socks4://`,
    /// `socks4a://` and `http://` (`CONNECT`), with optional
    /// percent-encoded `user:password@`.
    ///
    /// Connecting through it is part of the connect phase: the proxy's
    /// name is resolved and its addresses raced as the server's would be
    /// ([`Config::attempt_delay`], [`Config::family`],
    /// [`Config::local_addr`], [`Config::bind_device`]), then the tunnel
    /// to `host:port` is asked for, all within the one
    /// [`connect_timeout`](Config::connect_timeout) budget, and `Shutdown`
    /// or `Abort` end it at once. Nothing (not the initial message, not
    /// the inbox) is written before the tunnel is up. With TLS the
    /// handshake then runs end to end through the tunnel and the
    /// certificate is checked against `host`, not the proxy. Every
    /// connection of [`Config::reconnect`] goes through the proxy again.
    ///
    /// A failure to reach the proxy, or its refusal, is an error of
    /// [`Phase::Proxy`](crate::Phase::Proxy) whose message names the
    /// proxy (never its password) and gives its reason: the SOCKS reply
    /// or the HTTP status line. [`Signal::Connected`](crate::Signal)
    /// carries the proxy's address: that is the peer of our socket.
    ///
    /// Many proxies (tinyproxy, microsocks) end the whole tunnel at our
    /// half-close, so the server's reply after
    /// [`Control::ProducerFinished`](crate::Control) may never arrive:
    /// send it once the reply is in.
    ///
    /// Through a proxy, [`ShutdownReport::acked`](crate::ShutdownReport)
    /// counts what the proxy's TCP acknowledged: a lower bound on what
    /// reached the proxy, not on what reached the server.
    ///
    /// ```
    /// let proxy: ttc::Proxy = "socks5h://user:p%40ss@127.0.0.1:1080".parse().unwrap();
    /// let config = ttc::Config::new("example.org", 443).proxy(proxy);
    /// // The password is never shown.
    /// assert!(!format!("{config:?}").contains("p@ss"));
    /// assert!(matches!(
    ///     "ftp://h".parse::<ttc::Proxy>(),
    ///     Err(e) if e.to_string().contains("unsupported scheme")
    /// ));
    /// ```
    #[cfg(feature = "proxy")]
    pub fn proxy(mut self, proxy: crate::proxy::Proxy) -> Config {
        self.proxy = Some(proxy);
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
    ///
    /// Staying connected works the same over TLS: every connection of
    /// [`Config::reconnect`] makes its own handshake and the kept window
    /// (plaintext) is written again through the new session; keepalive,
    /// [`Config::user_timeout`], [`Config::idle_timeout`] (plaintext
    /// arriving), the linger and [`Delivery`] apply as without TLS.
    /// [`ShutdownReport::acked`](crate::ShutdownReport::acked) is the
    /// plaintext of the records the server's TCP wholly acknowledged: a
    /// lower bound, never above the truth, and all of `sent` once our FIN
    /// is acknowledged.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::TlsConfig) -> Config {
        self.tls = Some(tls);
        self
    }
}

/// The hook of [`Config::before_connect`].
#[derive(Clone)]
pub(crate) struct SocketHook(Arc<dyn Fn(BorrowedFd<'_>) -> io::Result<()> + Send + Sync>);

impl SocketHook {
    /// Runs the hook on `fd`; its error says where it came from.
    pub(crate) fn call(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        (self.0)(fd).map_err(|e| io::Error::new(e.kind(), HookError(e)))
    }
}

impl fmt::Debug for SocketHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SocketHook")
    }
}

/// An error of the pre-connect hook, as the attempt reports it.
#[derive(Debug)]
struct HookError(io::Error);

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pre-connect hook: {}", self.0)
    }
}

impl std::error::Error for HookError {}

/// How the connect phase turns the host name into addresses. Set it with
/// [`Config::resolver`](crate::Config::resolver); the default is
/// [`Resolver::Auto`]. An IP address given as the host (`192.0.2.7`,
/// `::1`, `[::1]`, `fe80::1%eth0`) is used as it is with every resolver
/// but [`Resolver::Static`].
///
/// Every lookup is bounded by
/// [`Config::resolve_timeout`](crate::Config::resolve_timeout) and the
/// connect budget, and `Shutdown` or `Abort` ends it at once. A failed
/// lookup is an [`Error`](crate::Error) of phase
/// [`Phase::Resolve`](crate::Phase): kind `NotFound` for a name that does
/// not exist or has no address, `TimedOut` for the time limit,
/// `InvalidData` for a reply that does not parse, `InvalidInput` for a
/// host name that cannot be sent.
///
/// **On phones.** The static aarch64 build (musl) is the one meant for an
/// Android shell, where there is no `/etc/resolv.conf` and musl's own
/// resolver finds nothing. There [`Resolver::Auto`] asks Android's netd
/// over `/dev/socket/dnsproxyd`, speaking the protocol of bionic's
/// `getaddrinfo` proxy client. That protocol is implemented from bionic's
/// and netd's public sources and tested against a fake netd that speaks
/// their framing byte for byte, on the host and under qemu-aarch64 with
/// the static build. **None of it has been run on a real phone.**
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Resolver {
    /// Chosen for each lookup from what the system has (see
    /// [`Resolver::Dnsproxyd`] and [`Resolver::System`]): netd's
    /// `/dev/socket/dnsproxyd` when `/etc/resolv.conf` does not exist and
    /// that socket does (an Android system seen from a static build),
    /// otherwise the system resolver. Builds for Android itself (bionic)
    /// always use the system resolver: bionic's `getaddrinfo` already asks
    /// netd. Deciding per lookup costs two `stat` calls and follows a
    /// `resolv.conf` that appears or goes away (DHCP on a board).
    #[default]
    Auto,
    /// The C library's `getaddrinfo` (through std), with whatever it
    /// reads: `/etc/hosts`, `/etc/resolv.conf`, NSS on glibc. It runs on a
    /// short-lived helper thread (128 KiB stack) so that the worker can
    /// stop waiting for it; the helper ends on its own when `getaddrinfo`
    /// returns.
    System,
    /// Android's netd, over the UNIX socket at this path (on a phone
    /// `/dev/socket/dnsproxyd`), as bionic's `getaddrinfo` asks it. Another
    /// path is for tests. Reads `/etc/hosts`-like files and the phone's DNS
    /// settings, private DNS included, since netd does the lookup.
    Dnsproxyd(PathBuf),
    /// A small built-in DNS client that asks these servers over UDP
    /// (port 53 unless given), in turn, with a random id per query: an
    /// `AAAA` and an `A` query (only one of them when
    /// [`Config::family`](crate::Config::family) asks for one family), up
    /// to three rounds over the list with per-try timeouts of 1, 2 and 4 s,
    /// within the resolve time limit. A truncated reply is asked again
    /// over TCP. A name is sent as it is, with no search domains;
    /// `/etc/hosts` is not read. Once one family has answered with
    /// addresses, the other gets at most 50 ms more (RFC 8305's resolution
    /// delay). CNAMEs are followed within the reply only.
    Dns(Vec<SocketAddr>),
    /// These addresses, whatever the host name (with the configured
    /// port): for tests, and for pinning a server's addresses.
    Static(Vec<IpAddr>),
}

/// Where Android's netd listens for resolver requests.
pub const ANDROID_DNSPROXYD: &str = "/dev/socket/dnsproxyd";
