//! The worker: one thread per connection that owns the socket.
//!
//! It runs the connect phase ([`crate::connect`]), then the data path: a
//! loop of small steps (act on control, flush, check for the end,
//! deadlines, park and poll) over an explicit connection [`State`]. The
//! socket stays in blocking mode throughout; short `SO_SNDTIMEO` /
//! `SO_RCVTIMEO` slices bound any single call, so control is seen within
//! one slice even while the server refuses to read. With reconnect
//! ([`crate::reconnect`]) a lost connection is followed by a backoff wait
//! and the connect phase again, with the same boxes. See ARCHITECTURE.md.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::connect::{self, Failure};
use crate::databox::{WorkerInbox, WorkerOutbox};
#[cfg(feature = "tls")]
use crate::message::TlsInfo;
use crate::message::{Control, Error, Phase, Reason, ShutdownReport, Signal};
use crate::reconnect::{Backoff, Delivery, Kept, Rng};
use crate::ring::Side;
use crate::sys;
use crate::wake::{Boxes, Core};

/// Longest a single blocking read or write may block: how late control can
/// be seen while the worker is inside a write to a server that does not
/// read.
pub(crate) const IO_SLICE: Duration = Duration::from_millis(20);

/// The most one read step takes from the socket before the worker looks
/// at the rest of its work (control, the write side): reads go on without
/// a `poll` while each one fills what it was given.
const READ_BURST: usize = 256 * 1024;

/// The most plaintext one TLS write takes: one full record (16 KiB of
/// plaintext).
#[cfg(feature = "tls")]
const TLS_BATCH: usize = 16 * 1024;

/// What the serve steps read from and write to: the socket itself, or TLS
/// over it (the `tls` feature). Plain calls go straight to the socket;
/// TLS keeps buffers of its own, which `wants_read` and `wants_write`
/// expose to the poll interest. Socket-level work (options, samples of
/// what was acknowledged, poll) goes through [`Transport::socket`].
enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream>),
}

impl Transport {
    fn socket(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.socket(),
        }
    }

    /// Bytes for the outbox; `Ok(0)` is the server's end of stream (with
    /// TLS: its `close_notify`).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => (&*s).read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read(buf),
        }
    }

    /// Like `read`, without blocking, for a read that follows a full one
    /// without a `poll` first (`WouldBlock`: nothing there). TLS reads
    /// only after `poll`, so this is the plain socket's.
    fn read_now(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self {
            Transport::Plain(s) => Some(sys::recv_now(s.as_raw_fd(), buf)),
            #[cfg(feature = "tls")]
            Transport::Tls(_) => None,
        }
    }

    /// Writes from `buf`; returns how many bytes of it were taken.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => (&*s).write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write(&buf[..buf.len().min(TLS_BATCH)]),
        }
    }

    /// The half-close (with TLS, `close_notify` first, trying to write it
    /// for at most `limit`).
    fn shutdown_write(&mut self, limit: Duration) -> io::Result<()> {
        match self {
            Transport::Plain(s) => {
                let _ = limit;
                s.shutdown(Shutdown::Write)
            }
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.shutdown_write(limit),
        }
    }

    /// Input is waiting that needs no socket read to deliver.
    fn wants_read(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.wants_read(),
        }
    }

    /// Output is waiting that was taken already (TLS records).
    fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.wants_write(),
        }
    }

    /// Bytes taken by the last `write` (and counted as sent) that are not
    /// on the socket yet: at the end they count as unsent.
    fn unflushed(&self) -> usize {
        match self {
            Transport::Plain(_) => 0,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.unflushed(),
        }
    }

    /// A count that grows whenever bytes reach the socket without new ones
    /// being taken (TLS records written in pieces): progress for the write
    /// timeout.
    fn progress(&self) -> u64 {
        match self {
            Transport::Plain(_) => 0,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.written(),
        }
    }

    /// The most bytes one `write` takes.
    fn max_write(&self) -> usize {
        match self {
            Transport::Plain(_) => usize::MAX,
            #[cfg(feature = "tls")]
            Transport::Tls(_) => TLS_BATCH,
        }
    }

    /// The bytes on the wire for `sent` bytes taken: what TCP's
    /// acknowledgements count (with TLS, every TLS byte written).
    fn wire_sent(&self, sent: u64) -> u64 {
        match self {
            Transport::Plain(_) => sent,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.written(),
        }
    }

    /// The bytes taken that the first `wire_acked` bytes on the wire
    /// wholly carry (with TLS, the plaintext of the records wholly
    /// acknowledged: a lower bound, never above the truth).
    fn plain_acked(&mut self, wire_acked: u64) -> u64 {
        match self {
            Transport::Plain(_) => wire_acked,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.plain_acked(wire_acked),
        }
    }

    fn is_tls(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(_) => true,
        }
    }

    #[cfg(feature = "tls")]
    fn tls_info(&self) -> Option<TlsInfo> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) => Some(t.info()),
        }
    }

    /// The socket, to close. `clean`: nothing accepted was lost, so a TLS
    /// connection may say `close_notify`. `flush`: what is queued may be
    /// written (an alert for an error), unless it carries accepted bytes.
    fn close(self, clean: bool, flush: bool) -> TcpStream {
        match self {
            Transport::Plain(s) => {
                let _ = (clean, flush);
                s
            }
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.close(clean, flush),
        }
    }
}

/// The step between connect and serve, once per connection: the transport
/// the connection speaks, after its handshake if it has one (a new one on
/// every connection with reconnect).
fn start_transport(config: &Config, stream: TcpStream, core: &Core) -> Result<Transport, Failure> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &config.tls {
        let t = crate::tls::handshake(tls, &config.host, stream, core, config.connect_timeout)?;
        return Ok(Transport::Tls(Box::new(t)));
    }
    let _ = (config, core);
    Ok(Transport::Plain(stream))
}

/// The last write that took bytes, to take it back if its bytes never
/// reached the socket (TLS records still queued at the close).
#[derive(Clone, Copy, Debug, Default)]
struct LastWrite {
    /// From the initial message (else the inbox or the kept window).
    initial: bool,
    /// Of it, counted as resent.
    resent: u64,
    /// `initial_written_max` or `written_max` before it.
    max_before: u64,
}

/// During a busy upload, the most bytes written before the worker looks at
/// the socket for incoming data.
const READ_CHECK_EVERY: usize = 64 * 1024;

/// During a busy upload, the most bytes written between two samples of
/// what the server acknowledged (when samples are taken while the
/// connection runs: see [`Acks`]).
const ACK_SAMPLE_BYTES: u64 = 64 * 1024;

/// ... and the longest time between two such samples while writing.
const ACK_SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// With reconnect, how often to look again at what the server acknowledged
/// while waiting for it (the kept window is full, or the connection is
/// ending): no event says that an acknowledgement arrived.
const ACK_WAIT: Duration = Duration::from_millis(5);

/// Where the count of acknowledged bytes comes from on this connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AckSource {
    /// `TCP_INFO`'s `tcpi_bytes_acked` (Linux 4.1+, Android): exact at any
    /// time, also after a reset, so one sample at the end is enough.
    TcpInfo,
    /// `sent - SIOCOUTQ`, sampled while the connection runs (QEMU
    /// user-mode, older kernels): the send queue is only the connection's
    /// own in a synchronized state, so the last good sample is kept.
    SendQueue,
    /// Neither: nothing is counted as acknowledged.
    Unknown,
}

/// What the server's TCP acknowledged on the current connection, in data
/// bytes (our SYN and FIN not counted), never more than was written.
#[derive(Clone, Copy, Debug)]
struct Acks {
    /// The best sample so far (samples only ever raise it).
    acked: u64,
    source: AckSource,
    /// Samples are taken while the connection runs (after writes and
    /// before sleeping), not only at its end: for the send queue, and for
    /// the kept window with reconnect.
    live: bool,
    /// `sent` and the time at the last sample.
    at_sent: u64,
    at: Instant,
}

impl Acks {
    fn new(now: Instant) -> Acks {
        Acks {
            acked: 0,
            source: AckSource::Unknown,
            live: false,
            at_sent: 0,
            at: now,
        }
    }

    fn raise(&mut self, acked: u64, sent: u64) {
        self.acked = self.acked.max(acked.min(sent));
    }
}

/// Runs a connection from start to end. Always ends with exactly one
/// `SocketShutdown` on the signal outbox, even if something panicked.
pub(crate) fn run<const C: usize, const I: usize, const O: usize>(
    config: Config,
    boxes: Boxes,
    inbox: WorkerInbox,
    outbox: WorkerOutbox,
) {
    let mut guard = FinalGuard {
        boxes: &boxes,
        done: false,
    };
    let report = Worker::<C, I, O>::new(config, &boxes, inbox, outbox).run();
    guard.finish(report);
}

/// Delivers the final signal exactly once: from `finish`, or from `drop` if
/// the worker unwound.
struct FinalGuard<'a> {
    boxes: &'a Boxes,
    done: bool,
}

impl FinalGuard<'_> {
    fn finish(&mut self, report: ShutdownReport) {
        self.done = true;
        let b = self.boxes;
        b.inbox.close();
        b.outbox.close();
        b.core.set_final(report.clone());
        // The worker keeps one slot free for this (see `Worker::signal`).
        if b.signal.try_send(Signal::SocketShutdown(report)).is_err() {
            log::error!("signal outbox full: final SocketShutdown not delivered");
        }
        b.signal.close();
    }
}

impl Drop for FinalGuard<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut report = ShutdownReport::new(Reason::Error);
            report.error = Some(Error::new(
                Phase::Shutdown,
                io::ErrorKind::Other,
                "worker panicked",
            ));
            self.finish(report);
        }
    }
}

/// The write side of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteState {
    /// Taking chunks from the inbox and writing them (the inbox may still
    /// close under it when the server closes: then it flushes what it has).
    Open,
    /// `ProducerFinished`: the inbox is closed, what it accepted is still
    /// being written; then the half-close.
    Draining,
    /// Our FIN is sent. Reading goes on until the server closes, or until
    /// it has sent nothing for the linger time (the idle clock beside the
    /// state: `Worker::linger_from`). With reconnect, the end also waits
    /// for everything to be delivered.
    HalfClosed,
    /// With reconnect: the server closed its side. Nothing more is written
    /// on this connection (what is left goes on the next one); it ends once
    /// what is in flight is delivered, or at `until` (the linger).
    Settling { until: Option<Instant> },
}

/// The read side of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadState {
    /// Reading whenever the outbox has room.
    Open,
    /// The server closed its side (end of stream).
    Eof,
}

/// Whether there is a connection: the outer state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// The connect phase: resolving, connect attempts.
    Connecting,
    /// Connected: the write and read sides apply.
    Connected,
    /// With reconnect: waiting before connect attempt `attempt`, until
    /// `until` (`None`: a wait too long for the clock).
    Backoff {
        attempt: u32,
        until: Option<Instant>,
    },
}

/// The connection's state: whether there is one, and each side on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    link: Link,
    write: WriteState,
    read: ReadState,
}

impl State {
    const START: State = State {
        link: Link::Connecting,
        write: WriteState::Open,
        read: ReadState::Open,
    };

    /// Bytes accepted may still be written on this connection (not
    /// half-closed, not settling).
    fn writing(self) -> bool {
        matches!(self.write, WriteState::Open | WriteState::Draining)
    }

    fn reading(self) -> bool {
        self.read == ReadState::Open
    }
}

/// What the flush step leaves the loop to do next.
enum Flushed {
    /// The socket took everything it was given: keep writing.
    KeepWriting,
    /// Look at the socket and the boxes before writing again.
    Look,
}

/// Where accepted bytes wait to be written: in the inbox itself (the
/// worker writes straight from its ring), or with reconnect in the kept
/// window, which also keeps them until they are delivered.
enum Outgoing {
    Inbox,
    Kept(Kept),
}

impl Outgoing {
    /// Bytes taken from the inbox and not yet written on this connection
    /// (none are taken without reconnect: they stay in the inbox until
    /// written).
    fn unwritten(&self) -> usize {
        match self {
            Outgoing::Inbox => 0,
            Outgoing::Kept(k) => k.unwritten(),
        }
    }

    /// Room for another send of up to `C` bytes: more input would be
    /// written (or taken) at once.
    fn can_take<const C: usize>(&self) -> bool {
        match self {
            Outgoing::Inbox => true,
            Outgoing::Kept(k) => k.fits(C),
        }
    }

    /// With reconnect: moves the inbox's sends into the kept window while
    /// they fit.
    fn refill(&mut self, inbox: &mut WorkerInbox) {
        if let Outgoing::Kept(k) = self {
            inbox.take_sends(|a, b| k.push_parts(a, b));
        }
    }
}

/// With reconnect: what lasts across connections.
struct Across {
    backoff: Backoff,
    rng: Rng,
    /// Connect attempts since the connection was lost (0 once connected).
    attempt: u32,
    /// When the connection was lost, for `max_elapsed`.
    lost_at: Option<Instant>,
    /// Totals over the connections that ended.
    sent: u64,
    received: u64,
    resent: u64,
    /// The most of the initial message any connection wrote, and had
    /// acknowledged: it is accepted once, and written again at the start
    /// of every connection (those repeats count as resent).
    initial_written_max: u64,
    initial_acked_max: u64,
    /// The furthest stream offset (of inbox bytes) ever written.
    written_max: u64,
    /// The furthest stream offset the server's TCP acknowledged.
    acked_stream: u64,
    /// The stream offset the current connection's inbox bytes start at.
    conn_base: u64,
    /// The error of the last connection or connect attempt that failed.
    last_error: Option<Error>,
}

struct Worker<'a, const C: usize, const I: usize, const O: usize> {
    config: Config,
    boxes: &'a Boxes,
    /// The worker's ends of the data boxes.
    inbox: WorkerInbox,
    outbox: WorkerOutbox,
    /// The report of the current connection (the final one without
    /// reconnect).
    report: ShutdownReport,
    state: State,
    /// Initial message bytes already written.
    initial_pos: usize,
    out: Outgoing,
    /// The last write took everything: the next one will likely not block,
    /// so it is tried without asking poll first.
    writable: bool,
    /// The last read filled what it was given: more is likely there, so
    /// the next read is tried (without blocking) before asking poll.
    readable: bool,
    /// The last deadline step started the timer that samples the server's
    /// acknowledgements (with reconnect: the kept window is full or the
    /// connection waits to end).
    ack_timer: bool,
    /// Bytes written since the last look at the socket with `poll`.
    unpolled: usize,
    /// When the oldest unwritten byte last saw no progress (write timeout).
    pending_since: Option<Instant>,
    /// After our half-close: when the linger's idle clock last restarted
    /// (the half-close, a byte received, room again in the outbox). `None`
    /// before the half-close, and while the outbox is too full to read
    /// into: the application is the slow one then, not the server. Kept
    /// beside the state, not in it: restarting it on every read is not a
    /// state change.
    linger_from: Option<Instant>,
    /// When the server was last heard from, or the idle time started again
    /// (idle timeout).
    heard_at: Instant,
    /// The idle time is not running: the outbox was too full to read into.
    idle_paused: bool,
    /// What the server acknowledged of what was written.
    acks: Acks,
    /// Connections made.
    connections: u32,
    /// With reconnect.
    across: Option<Across>,
    /// The application's confirmed count as last acted on
    /// (`Delivery::Confirmed`).
    seen_confirmed: u64,
    /// The transport holds output taken already (TLS records), as of its
    /// last write or read.
    tls_pending: bool,
    /// Bytes counted as sent that the transport never wrote (set at the
    /// close; without reconnect, unsent at the end).
    unflushed: u64,
    last_write: LastWrite,
}

impl<'a, const C: usize, const I: usize, const O: usize> Worker<'a, C, I, O> {
    fn new(config: Config, boxes: &'a Boxes, inbox: WorkerInbox, outbox: WorkerOutbox) -> Self {
        // The kept window is allocated once, and only with reconnect.
        let (out, across) = match config.reconnect {
            None => (Outgoing::Inbox, None),
            Some(backoff) => (
                Outgoing::Kept(Kept::new(config.resend_window, C)),
                Some(Across {
                    backoff,
                    rng: Rng::seeded(),
                    attempt: 0,
                    lost_at: None,
                    sent: 0,
                    received: 0,
                    resent: 0,
                    initial_written_max: 0,
                    initial_acked_max: 0,
                    written_max: 0,
                    acked_stream: 0,
                    conn_base: 0,
                    last_error: None,
                }),
            ),
        };
        Worker {
            config,
            boxes,
            inbox,
            outbox,
            report: ShutdownReport::new(Reason::Error),
            state: State::START,
            initial_pos: 0,
            out,
            writable: true,
            readable: false,
            ack_timer: false,
            unpolled: 0,
            pending_since: None,
            linger_from: None,
            heard_at: Instant::now(),
            idle_paused: false,
            acks: Acks::new(Instant::now()),
            connections: 0,
            across,
            seen_confirmed: 0,
            tls_pending: false,
            unflushed: 0,
            last_write: LastWrite::default(),
        }
    }

    /// Connections, one after the other (more than one only with
    /// reconnect), until the component ends.
    fn run(mut self) -> ShutdownReport {
        let reason = loop {
            self.set_link(Link::Connecting);
            let attempts = &mut self.report.attempts;
            let connected = connect::connect(&self.config, &self.boxes.core, attempts).and_then(
                |(stream, peer)| {
                    self.setup(&stream);
                    let transport = start_transport(&self.config, stream, &self.boxes.core)?;
                    Ok((transport, peer))
                },
            );
            let (ended, connected) = match connected {
                Ok((mut transport, peer)) => {
                    self.start_connection();
                    self.start_acks(transport.socket());
                    #[cfg(feature = "tls")]
                    {
                        self.report.tls = transport.tls_info();
                    }
                    // The end of a TLS handshake (our Finished) may
                    // still wait.
                    self.tls_pending = transport.wants_write();
                    log::debug!("connected to {peer}");
                    self.signal(Signal::Connected(peer));
                    let reason = self.serve(&mut transport);
                    self.sample_acked(&mut transport);
                    self.close(transport, reason);
                    (reason, true)
                }
                Err(Failure::Stopped(reason)) => break reason,
                Err(Failure::Failed(phase, e)) => {
                    // A refused certificate is refused again on every
                    // attempt: reconnecting would only hammer the server.
                    #[cfg(feature = "tls")]
                    if crate::tls::is_verification_failure(&e) {
                        let reason = self.fail(phase, &e);
                        log::debug!("not reconnecting: the server's certificate was refused");
                        break reason;
                    }
                    (self.fail(phase, &e), false)
                }
                Err(Failure::Error(e)) => (self.fail_with(e), false),
            };
            match self.after_connection(ended, connected) {
                Ok(()) => continue,
                Err(reason) => break reason,
            }
        };
        self.finish(reason)
    }

    /// A new connection is up: its own report, counters and state.
    fn start_connection(&mut self) {
        self.connections += 1;
        // Connection attempts are counted over the component's life.
        let attempts = self.report.attempts;
        self.report = ShutdownReport::new(Reason::Error);
        self.report.attempts = attempts;
        self.report.connections = self.connections;
        self.initial_pos = 0;
        self.writable = true;
        self.readable = false;
        self.unpolled = 0;
        self.pending_since = None;
        self.tls_pending = false;
        self.last_write = LastWrite::default();
        if let (Some(a), Outgoing::Kept(k)) = (self.across.as_mut(), &mut self.out) {
            a.attempt = 0;
            a.lost_at = None;
            a.last_error = None;
            k.rewind();
            a.conn_base = k.written();
        }
        self.set_state(State {
            link: Link::Connected,
            write: WriteState::Open,
            read: ReadState::Open,
        });
    }

    /// The one place the connection state changes; every transition is
    /// logged.
    fn set_state(&mut self, to: State) {
        if to != self.state {
            log::debug!("state {:?} -> {:?}", self.state, to);
            self.state = to;
        }
    }

    fn set_write(&mut self, write: WriteState) {
        self.set_state(State {
            write,
            ..self.state
        });
    }

    fn set_read(&mut self, read: ReadState) {
        self.set_state(State { read, ..self.state });
    }

    fn set_link(&mut self, link: Link) {
        self.set_state(State { link, ..self.state });
    }

    /// Sends a signal, always keeping one slot for the final one. Without
    /// reconnect, by the bound on signals per connection the slot check
    /// never fires; it is the guarantee, not the plan. With reconnect the
    /// signals of many connections go through the same outbox, and an
    /// application that does not read them loses the newer ones (with
    /// this warning), never the final one.
    fn signal(&self, sig: Signal) {
        if let Signal::Error(e) = &sig {
            log::debug!("error: {e}");
        }
        if self.boxes.signal.room() <= 1 {
            log::warn!("signal outbox nearly full: dropping {sig:?}");
            return;
        }
        let _ = self.boxes.signal.try_send(sig);
    }

    /// Signals and records an error; returns the reason the connection
    /// ends with.
    fn fail(&mut self, phase: Phase, err: &io::Error) -> Reason {
        self.fail_with(Error::from_io(phase, err))
    }

    /// [`Worker::fail`] with the error already made.
    fn fail_with(&mut self, error: Error) -> Reason {
        let phase = error.phase;
        self.signal(Signal::Error(error.clone()));
        if let Some(a) = self.across.as_mut() {
            a.last_error = Some(error.clone());
        }
        self.report.error = Some(error);
        // A failed flush after the server closed ends as "peer closed",
        // with the loss in `unsent`.
        if self.state.read == ReadState::Eof && phase == Phase::Write {
            Reason::PeerClosed
        } else {
            Reason::Error
        }
    }

    /// Socket options. An option the platform (or QEMU user-mode) does not
    /// support is a warning, not a failure.
    fn setup(&self, stream: &TcpStream) {
        let warn = |what: &str, r: io::Result<()>| {
            if let Err(e) = r {
                log::warn!("could not set {what}: {e}");
            }
        };
        warn("TCP_NODELAY", stream.set_nodelay(self.config.nodelay));
        warn("SO_SNDTIMEO", stream.set_write_timeout(Some(IO_SLICE)));
        warn("SO_RCVTIMEO", stream.set_read_timeout(Some(IO_SLICE)));
        let sock = socket2::SockRef::from(stream);
        if let Some(k) = self.config.keepalive {
            let mut ka = socket2::TcpKeepalive::new().with_time(k.idle);
            if let Some(interval) = k.interval {
                ka = ka.with_interval(interval);
            }
            if let Some(count) = k.count {
                ka = ka.with_retries(count);
            }
            warn("SO_KEEPALIVE", sock.set_tcp_keepalive(&ka));
        }
        if let Some(t) = self.config.user_timeout {
            warn("TCP_USER_TIMEOUT", sock.set_tcp_user_timeout(Some(t)));
        }
        if let Outgoing::Kept(_) = self.out {
            // The kept window bounds what is in flight; a send buffer that
            // holds less makes the socket, not a timer, say when the
            // server acknowledged more (POLLOUT). Linux doubles the value.
            warn(
                "SO_SNDBUF",
                sock.set_send_buffer_size(self.config.resend_window.max(C) / 2),
            );
        }
    }

    /// Finds out how this connection's acknowledgements can be counted.
    fn start_acks(&mut self, stream: &TcpStream) {
        let fd = stream.as_raw_fd();
        self.acks = Acks::new(Instant::now());
        self.acks.source = match sys::tcp_info(fd) {
            Ok(sys::TcpInfo {
                bytes_acked: Some(_),
                ..
            }) => AckSource::TcpInfo,
            _ if sys::send_queue(fd).is_ok() => AckSource::SendQueue,
            _ => AckSource::Unknown,
        };
        // The kept window moves with TCP's acknowledgements while the
        // connection runs (with `Delivery::Confirmed`, with the
        // application's confirmations instead).
        let window = self.across.is_some() && self.config.delivery == Delivery::TcpAck;
        self.acks.live = self.acks.source == AckSource::SendQueue || window;
        log::debug!("acknowledged bytes from {:?}", self.acks.source);
    }

    /// Samples what the server has acknowledged. A sample that cannot be
    /// trusted (the send queue of a connection that is torn down) is
    /// ignored: the last good one stays.
    ///
    /// TCP counts the bytes on the wire; with TLS those are ciphertext,
    /// and [`Transport::plain_acked`] turns them into the plaintext of the
    /// records wholly acknowledged.
    fn sample_acked(&mut self, stream: &mut Transport) {
        let fd = stream.socket().as_raw_fd();
        let sent = self.report.sent;
        let wire = stream.wire_sent(sent);
        self.acks.at_sent = sent;
        self.acks.at = Instant::now();
        match self.acks.source {
            AckSource::TcpInfo => {
                if let Ok(sys::TcpInfo {
                    bytes_acked: Some(b),
                    ..
                }) = sys::tcp_info(fd)
                {
                    // Sequence space: our SYN counts one (and our FIN one
                    // more, which the clamp to what is on the wire
                    // removes).
                    let plain = stream.plain_acked(b.saturating_sub(1).min(wire));
                    self.acks.raise(plain, sent);
                }
            }
            AckSource::SendQueue => {
                // The queue first, then the state: a state still
                // synchronized after the read means no reset came before
                // it.
                let Ok(queued) = sys::send_queue(fd) else {
                    return;
                };
                let Ok(info) = sys::tcp_info(fd) else {
                    return;
                };
                if sys::tcp_state_synchronized(info.state) {
                    let plain = stream.plain_acked(wire.saturating_sub(queued));
                    self.acks.raise(plain, sent);
                } else if info.state == sys::TCP_STATE_CLOSE && self.closed_cleanly() {
                    // Closed both ways without an error after our FIN: the
                    // kernel leaves FIN_WAIT or LAST_ACK only once the
                    // server acknowledged our FIN, so all that came before.
                    let plain = stream.plain_acked(wire);
                    self.acks.raise(plain, sent);
                }
            }
            AckSource::Unknown => {}
        }
        self.release_delivered();
    }

    /// With reconnect: moves the kept window past the chunks now wholly
    /// delivered (acknowledged by the server's TCP, or confirmed).
    fn release_delivered(&mut self) {
        let (Some(a), Outgoing::Kept(k)) = (self.across.as_mut(), &mut self.out) else {
            return;
        };
        let initial = self.config.initial.len() as u64;
        let acked_here = a.conn_base + self.acks.acked.saturating_sub(initial);
        a.acked_stream = a.acked_stream.max(acked_here).min(a.written_max);
        let delivered = match self.config.delivery {
            Delivery::TcpAck => a.acked_stream,
            Delivery::Confirmed => {
                self.seen_confirmed = self.boxes.core.confirmed();
                self.seen_confirmed.min(a.written_max)
            }
        };
        k.release(delivered);
    }

    /// With `Delivery::Confirmed` and reconnect: the application confirmed
    /// more since the worker last looked.
    fn confirm_pending(&self) -> bool {
        self.across.is_some()
            && self.config.delivery == Delivery::Confirmed
            && self.boxes.core.confirmed() > self.seen_confirmed
    }

    /// With reconnect: everything written on this connection is delivered
    /// (the initial message acknowledged, the inbox bytes acknowledged or
    /// confirmed).
    fn in_flight_delivered(&self) -> bool {
        let Outgoing::Kept(k) = &self.out else {
            return self.acks.acked >= self.report.sent;
        };
        match self.config.delivery {
            Delivery::TcpAck => self.acks.acked >= self.report.sent,
            Delivery::Confirmed => {
                self.acks.acked >= self.initial_pos as u64 && k.head() >= k.written()
            }
        }
    }

    /// With reconnect: the input finished, a connection was made, and
    /// everything accepted was delivered: the initial message acknowledged
    /// on some connection (it is not in the kept window: every connection
    /// sends it again), and the kept window empty.
    fn all_delivered(&self) -> bool {
        let (Outgoing::Kept(k), Some(a)) = (&self.out, &self.across) else {
            return false;
        };
        self.connections > 0
            && a.initial_acked_max >= self.config.initial.len() as u64
            && self.inbox.is_closed()
            && self.inbox.is_empty()
            && k.is_empty()
    }

    /// Takes a sample while the connection runs, if this connection needs
    /// them and enough was written or enough time passed since the last.
    fn sample_acked_if_due(&mut self, stream: &mut Transport, now: Instant) {
        if self.acks.live
            && (self.report.sent - self.acks.at_sent >= ACK_SAMPLE_BYTES
                || now.saturating_duration_since(self.acks.at) >= ACK_SAMPLE_EVERY)
        {
            self.sample_acked(stream);
        }
    }

    /// We sent our FIN, the server sent its own, and no error came.
    fn closed_cleanly(&self) -> bool {
        self.state.write == WriteState::HalfClosed
            && self.state.read == ReadState::Eof
            && self.report.error.is_none()
    }

    fn initial_left(&self) -> usize {
        self.config.initial.len() - self.initial_pos
    }

    /// Bytes accepted and not yet written: the initial message, the inbox
    /// (or the kept window), TLS records not yet on the socket (known to
    /// the loop through `tls_pending`).
    fn has_pending(&self) -> bool {
        self.initial_left() > 0
            || self.tls_pending
            || match &self.out {
                Outgoing::Inbox => !self.inbox.is_empty(),
                Outgoing::Kept(k) => k.unwritten() > 0,
            }
    }

    /// Everything accepted is written and nothing more will be accepted.
    fn drained(&self) -> bool {
        !self.has_pending() && self.inbox.is_closed() && self.inbox.is_empty()
    }

    /// Free outbox bytes the worker waits for before it reads again: half
    /// the outbox. Waiting for a batch of room instead of any room turns
    /// "one wake-up per receive" into "one per half outbox" when the
    /// application is the slower side.
    fn read_room(&self) -> usize {
        self.outbox.ring().wake_writer_at()
    }

    /// One write of pending bytes: the initial message first, then the
    /// inbox (or the kept window).
    fn write_some(&mut self, stream: &mut Transport, now: Instant) -> io::Result<()> {
        let initial_left = self.initial_left();
        let progress = stream.progress();
        let mut want = 0;
        let written = if initial_left > 0 {
            let buf = &self.config.initial[self.initial_pos..];
            want = buf.len();
            stream.write(buf)
        } else {
            match &mut self.out {
                // Straight from the inbox's ring: the bytes the socket
                // takes leave the inbox.
                Outgoing::Inbox => self.inbox.write_with(usize::MAX, |buf| {
                    want = buf.len();
                    stream.write(buf)
                }),
                Outgoing::Kept(k) => {
                    let buf = k.next();
                    want = buf.len();
                    stream.write(buf)
                }
            }
        };
        self.tls_pending = stream.wants_write();
        match written {
            Ok(n) => {
                if initial_left > 0 {
                    let mut noted = (0, 0);
                    if let Some(a) = self.across.as_mut() {
                        // The initial message again, on a new connection.
                        let at = self.initial_pos as u64;
                        let again = a.initial_written_max.saturating_sub(at).min(n as u64);
                        self.report.resent += again;
                        noted = (again, a.initial_written_max);
                        a.initial_written_max = a.initial_written_max.max(at + n as u64);
                    }
                    if n > 0 {
                        self.note_write(true, noted.0, noted.1);
                    }
                    self.initial_pos += n;
                } else {
                    self.count_resent(n);
                    if let Outgoing::Kept(k) = &mut self.out {
                        k.advance(n);
                    }
                }
                self.report.sent += n as u64;
                self.unpolled = self.unpolled.saturating_add(n);
                // Records left over mean the socket is full.
                self.writable = n == want.min(stream.max_write()) && !self.tls_pending;
                if n > 0 || stream.progress() != progress {
                    self.pending_since = Some(now);
                }
                Ok(())
            }
            Err(e) if is_transient(&e) => {
                self.writable = false;
                if stream.progress() != progress {
                    self.pending_since = Some(now);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    /// At the close: the last write's bytes that never reached the socket
    /// (TLS records still queued) are taken back: not sent, and with
    /// reconnect neither written nor resent, so they go out again as new.
    fn take_back(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let n64 = n as u64;
        self.report.sent -= n64;
        let last = self.last_write;
        if last.initial {
            self.initial_pos -= n;
        }
        match (self.across.as_mut(), &mut self.out) {
            (Some(a), out) => {
                self.report.resent -= last.resent.min(self.report.resent);
                if last.initial {
                    a.initial_written_max = last.max_before;
                } else {
                    a.written_max = last.max_before;
                    if let Outgoing::Kept(k) = out {
                        k.retreat(n);
                    }
                }
            }
            (None, _) if !last.initial => self.unflushed = n64,
            (None, _) => {}
        }
    }

    /// With reconnect: `n` inbox bytes are about to be written from the
    /// kept window; those written on an earlier connection are resent.
    fn count_resent(&mut self, n: usize) {
        let mut noted = (0, 0);
        if let (Some(a), Outgoing::Kept(k)) = (self.across.as_mut(), &self.out) {
            let from = k.written();
            let again = a.written_max.saturating_sub(from).min(n as u64);
            self.report.resent += again;
            noted = (again, a.written_max);
            a.written_max = a.written_max.max(from + n as u64);
        }
        if n > 0 {
            self.note_write(false, noted.0, noted.1);
        }
    }

    /// Remembers a write that took bytes, for [`Worker::take_back`] (only
    /// TLS can leave taken bytes off the socket).
    #[cfg(feature = "tls")]
    fn note_write(&mut self, initial: bool, resent: u64, max_before: u64) {
        self.last_write = LastWrite {
            initial,
            resent,
            max_before,
        };
    }

    #[cfg(not(feature = "tls"))]
    fn note_write(&mut self, _initial: bool, _resent: u64, _max_before: u64) {}

    /// Reads into the outbox, straight into its ring, no more than it has
    /// room for: once (after `poll` said the socket is readable, or TLS has
    /// input buffered: `polled`), then again without a `poll` while each
    /// read fills what it was given (plain sockets, never blocking), up to
    /// [`READ_BURST`]. A receiving thread that sleeps is woken once a
    /// quarter of the outbox is queued, and at the end of the burst.
    fn read_some(&mut self, stream: &mut Transport, polled: bool) -> Result<(), Reason> {
        let mut total = 0usize;
        let mut first = polled;
        let result = loop {
            if self.outbox.room() == 0 {
                break Ok(());
            }
            let mut asked = 0;
            let got = self.outbox.read_with(usize::MAX, |buf| {
                asked = buf.len();
                if first {
                    stream.read(buf)
                } else {
                    stream
                        .read_now(buf)
                        .unwrap_or(Err(io::ErrorKind::WouldBlock.into()))
                }
            });
            first = false;
            // Reading TLS can queue records to write (an alert, a key
            // update).
            self.tls_pending = stream.wants_write();
            match got {
                Ok(0) => break self.read_end(),
                Ok(n) => {
                    self.report.received += n as u64;
                    total += n;
                    // Only a plain socket is read again without a poll.
                    self.readable = n == asked && !stream.is_tls();
                    if !self.readable || total >= READ_BURST {
                        break Ok(());
                    }
                    self.outbox.wake_reader(false);
                }
                Err(e) if is_transient(&e) => {
                    self.readable = false;
                    break Ok(());
                }
                Err(e) => {
                    self.readable = false;
                    break Err(self.fail(phase_of(&e, Phase::Read), &e));
                }
            }
        };
        if total > 0 {
            let now = Instant::now();
            self.heard_at = now;
            if self.state.write == WriteState::HalfClosed {
                // The server is not idle: the linger starts over.
                self.linger_from = Some(now);
            }
        }
        self.outbox.wake_reader(!self.readable);
        result
    }

    /// The server closed its side (end of stream).
    fn read_end(&mut self) -> Result<(), Reason> {
        self.readable = false;
        self.set_read(ReadState::Eof);
        if self.across.is_none() {
            // Nothing more is accepted; what is queued is still flushed.
            self.boxes.inbox.close();
        } else if self.state.writing() {
            // With reconnect the inbox stays open; what is not written
            // yet goes on the next connection.
            let until = self.linger_deadline(Instant::now());
            self.set_write(WriteState::Settling { until });
        }
        self.signal(Signal::PeerClosed);
        Ok(())
    }

    /// The connected loop. Returns why it stopped.
    fn serve(&mut self, stream: &mut Transport) -> Reason {
        self.heard_at = Instant::now();
        self.idle_paused = false;
        loop {
            if let Some(reason) = self.act_on_control() {
                return reason;
            }
            match self.flush(stream) {
                Err(reason) => return reason,
                Ok(Flushed::KeepWriting) => continue,
                Ok(Flushed::Look) => {}
            }
            let now = Instant::now();
            let deadline = match self
                .check_end(stream, now)
                .and_then(|()| self.deadline(now))
            {
                Ok(deadline) => deadline,
                Err(reason) => return reason,
            };
            if let Err(reason) = self.park_and_poll(stream, now, deadline) {
                return reason;
            }
        }
    }

    /// Step 1: `Shutdown` and `Abort` end the loop; `ProducerFinished`
    /// closes the inbox and starts draining.
    fn act_on_control(&mut self) -> Option<Reason> {
        if let Some(reason) = self.boxes.core.stop_requested() {
            return Some(reason);
        }
        if self.confirm_pending() {
            self.release_delivered();
        }
        if self.boxes.core.control() == Some(Control::ProducerFinished) {
            if self.state.write == WriteState::Open {
                // Everything accepted before this point is still written.
                self.boxes.inbox.close();
                self.set_write(WriteState::Draining);
            } else if self.across.is_some() && !self.inbox.is_closed() {
                // Settling after the server closed: the input is over all
                // the same, and decides whether to reconnect.
                self.boxes.inbox.close();
            }
        }
        None
    }

    /// Step 2: takes what the inbox holds and writes while the socket
    /// takes it.
    fn flush(&mut self, stream: &mut Transport) -> Result<Flushed, Reason> {
        if !self.state.writing() {
            return Ok(Flushed::Look);
        }
        if let Outgoing::Kept(k) = &self.out {
            if !k.fits(C) && !self.inbox.is_empty() {
                // The window is full: see whether the server acknowledged
                // more, which makes room.
                self.sample_acked(stream);
            }
        }
        self.out.refill(&mut self.inbox);
        let now = Instant::now();
        let pending = self.has_pending();
        if pending && self.pending_since.is_none() {
            // Bytes to write appeared (queued by the application at any
            // time): the write timeout's clock starts.
            self.pending_since = Some(now);
        }
        if !(pending && self.writable) {
            return Ok(Flushed::Look);
        }
        if let Err(e) = self.write_some(stream, now) {
            return Err(self.fail(phase_of(&e, Phase::Write), &e));
        }
        self.sample_acked_if_due(stream, now);
        if !self.has_pending() {
            self.pending_since = None;
        }
        // A busy upload keeps writing without polling, but looks at the
        // socket at least every READ_CHECK_EVERY bytes so the server's
        // replies are not starved. (Only if there is room to read into:
        // with the outbox full a look finds nothing to do.)
        let look_due = self.state.reading()
            && self.unpolled >= READ_CHECK_EVERY
            && self.outbox.room() >= self.read_room();
        Ok(if self.writable && !look_due {
            Flushed::KeepWriting
        } else {
            Flushed::Look
        })
    }

    /// Step 3: the half-close once a drain is complete, and the ends of the
    /// connection: the server closed and everything is written, or the
    /// linger ran out.
    fn check_end(&mut self, stream: &mut Transport, now: Instant) -> Result<(), Reason> {
        let drained = self.drained();
        if drained && self.state.write == WriteState::Draining {
            let limit = self
                .config
                .write_timeout
                .unwrap_or(Config::DEFAULT_WRITE_TIMEOUT);
            if let Err(e) = stream.shutdown_write(limit) {
                return Err(self.fail(phase_of(&e, Phase::Shutdown), &e));
            }
            log::debug!("write side closed; the linger (idle limit) starts");
            self.set_write(WriteState::HalfClosed);
            self.linger_from = Some(now);
        }
        if self.state.write == WriteState::HalfClosed {
            // Paused while the outbox has no room to read into; started
            // over when there is room again.
            let can_read = self.outbox.room() >= self.read_room();
            match (can_read, self.linger_from) {
                (false, _) => self.linger_from = None,
                (true, None) => self.linger_from = Some(now),
                (true, Some(_)) => {}
            }
        }
        if self.across.is_some() {
            return self.check_end_kept(stream, now);
        }
        let half_closed = !self.state.writing();
        if drained && self.state.read == ReadState::Eof {
            return Err(if half_closed {
                Reason::Finished
            } else {
                Reason::PeerClosed
            });
        }
        if half_closed && self.linger_idle_deadline().is_some_and(|d| now >= d) {
            log::debug!("linger over: the server sent nothing for the linger time");
            return Err(Reason::Linger);
        }
        Ok(())
    }

    /// Step 3 with reconnect: a connection ends once what is in flight is
    /// delivered, or when the linger runs out. After our half-close that is
    /// the finished transfer (or, with something still not delivered, a
    /// connection to give up on); after the server closed first, the
    /// component reconnects unless everything is delivered.
    fn check_end_kept(&mut self, stream: &mut Transport, now: Instant) -> Result<(), Reason> {
        let until = match self.state.write {
            WriteState::HalfClosed => self.linger_idle_deadline(),
            WriteState::Settling { until } => until,
            WriteState::Open | WriteState::Draining => return Ok(()),
        };
        if !self.in_flight_delivered() {
            self.sample_acked(stream);
        }
        let delivered = self.in_flight_delivered();
        let over = until.is_some_and(|d| now >= d);
        match self.state.write {
            WriteState::HalfClosed => {
                if delivered && self.state.read == ReadState::Eof {
                    return Err(Reason::Finished);
                }
                if delivered && over {
                    // The server went quiet without closing: its reply may
                    // be cut short.
                    return Err(Reason::Linger);
                }
                if over {
                    let e = io::Error::new(
                        io::ErrorKind::TimedOut,
                        "linger over before everything sent was acknowledged",
                    );
                    return Err(self.fail(Phase::Shutdown, &e));
                }
            }
            _ => {
                if delivered || over {
                    return Err(Reason::PeerClosed);
                }
            }
        }
        Ok(())
    }

    /// When a linger that starts `now` ends (`None`: no linger limit, or
    /// one too large for the clock).
    fn linger_deadline(&self, now: Instant) -> Option<Instant> {
        now.checked_add(self.config.linger?)
    }

    /// After our half-close: when the linger's idle clock runs out, if
    /// nothing arrives before (`None` while it is paused or has no limit).
    fn linger_idle_deadline(&self) -> Option<Instant> {
        self.linger_from?.checked_add(self.config.linger?)
    }

    /// With reconnect: waiting for the server to acknowledge what is in
    /// flight, with nothing else that would wake the worker: the kept
    /// window is full, or the connection waits to end.
    fn waiting_for_acks(&self) -> bool {
        let Outgoing::Kept(k) = &self.out else {
            return false;
        };
        if !self.acks.live || self.acks.acked >= self.report.sent {
            return false;
        }
        let full = !k.fits(C) && !self.inbox.is_empty();
        full || !self.state.writing()
    }

    /// Step 4: fails a write that made no progress for the write timeout,
    /// and a connection the server said nothing on for the idle timeout;
    /// returns when the poll must wake up at the latest.
    fn deadline(&mut self, now: Instant) -> Result<Option<Instant>, Reason> {
        let idle_deadline = self.idle_deadline(now);
        if idle_deadline.is_some_and(|d| now >= d) {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                "idle timeout: nothing from the server",
            );
            return Err(self.fail(Phase::Read, &e));
        }
        let write_deadline = match (
            self.state.writing() && self.has_pending(),
            self.pending_since,
            self.config.write_timeout,
        ) {
            // A limit too large for the clock is no limit.
            (true, Some(since), Some(limit)) => since.checked_add(limit),
            _ => None,
        };
        if write_deadline.is_some_and(|d| now >= d) {
            let e = io::Error::new(
                io::ErrorKind::TimedOut,
                "write timed out: the server is not reading",
            );
            return Err(self.fail(Phase::Write, &e));
        }
        let linger = match self.state.write {
            WriteState::HalfClosed => self.linger_idle_deadline(),
            WriteState::Settling { until } => until,
            _ => None,
        };
        self.ack_timer = self.waiting_for_acks();
        let ack_wait = if self.ack_timer {
            now.checked_add(ACK_WAIT)
        } else {
            None
        };
        Ok(earliest(
            earliest(write_deadline, linger),
            earliest(idle_deadline, ack_wait),
        ))
    }

    /// When the idle timeout ends, if it runs: only while the worker
    /// listens to the server (reading, with room in the outbox). While it
    /// does not, the time starts again.
    fn idle_deadline(&mut self, now: Instant) -> Option<Instant> {
        let limit = self.config.idle_timeout?;
        if !self.state.reading() {
            return None;
        }
        if self.outbox.room() < self.read_room() {
            // Not listening: no deadline; the receive that makes room wakes
            // the worker, and the time starts from then.
            self.idle_paused = true;
            return None;
        }
        if self.idle_paused {
            self.idle_paused = false;
            self.heard_at = now;
        }
        // A limit too large for the clock is no limit.
        self.heard_at.checked_add(limit)
    }

    /// Step 5: marks the worker parked, looks at every box once more, and
    /// sleeps in `poll` on the socket and the wake eventfd until something
    /// happens or `deadline`; then reads if the socket has data.
    fn park_and_poll(
        &mut self,
        stream: &mut Transport,
        now: Instant,
        deadline: Option<Instant>,
    ) -> Result<(), Reason> {
        let core = &*self.boxes.core;
        let read_room = self.read_room();
        let want_read = self.state.reading() && self.outbox.room() >= read_room;
        if want_read && self.readable {
            // The last read filled what it was given: read on before
            // asking poll (a read that finds nothing says so at once).
            return self.read_some(stream, false);
        }
        let want_write = self.state.writing() && self.has_pending();
        // Decrypted bytes (or an end) wait in the transport: deliver them
        // before asking the socket for more, and do not sleep meanwhile.
        let buffered = want_read && stream.wants_read();
        // About to look or sleep: whatever the outbox holds is the end of
        // a burst for a receiver that sleeps.
        self.outbox.wake_reader(true);
        // The marks that let the application's side wake us, only for
        // what we wait for: input (none queued, and room to take it), and
        // room in the outbox to read into.
        let wait_input = self.state.writing()
            && match self.out {
                // Nothing was pending when `want_write` looked: anything
                // queued since is input we wait for (the re-check below
                // sees it).
                Outgoing::Inbox => !want_write,
                // Input to take into the window, or, with the window full,
                // input that would start the timer for the acknowledgements
                // that make room (unless it runs already; with
                // `Delivery::Confirmed` confirmations wake us instead).
                Outgoing::Kept(_) => {
                    self.out.can_take::<C>()
                        || (!self.ack_timer && self.acks.live && self.acks.acked < self.report.sent)
                }
            };
        let wait_room = self.state.reading() && !want_read;
        if wait_input {
            self.inbox.ring().mark_asleep(Side::Reader);
        }
        if wait_room {
            self.outbox.ring().mark_asleep(Side::Writer);
        }
        core.park();
        // Re-check every box after marking ourselves parked (see
        // `Core::wake_worker`): anything that arrived before the mark is
        // seen here, anything after it notifies the eventfd.
        // Input came that we marked ourselves waiting for (other queued
        // input waits for the socket: `write_now`).
        let more_input = wait_input && !self.inbox.is_empty();
        let room_again = wait_room && self.outbox.room() >= read_room;
        let control_now = match core.control() {
            Some(Control::ProducerFinished) => self.state.write == WriteState::Open,
            Some(_) => true,
            None => false,
        };
        let write_now = want_write && self.writable;
        let busy = more_input
            || room_again
            || control_now
            || write_now
            || buffered
            || self.confirm_pending();
        let unmark = |this: &Self| {
            if wait_input {
                this.inbox.ring().mark_awake(Side::Reader);
            }
            if wait_room {
                this.outbox.ring().mark_awake(Side::Writer);
            }
        };
        if busy {
            core.unpark();
            unmark(self);
            if buffered {
                return self.read_some(stream, true);
            }
            if !(want_read && self.unpolled >= READ_CHECK_EVERY) {
                return Ok(());
            }
        }
        // Busy: only a look at the socket (zero timeout), no sleep.
        let timeout = if busy {
            Some(Duration::ZERO)
        } else {
            if self.acks.live && self.acks.acked < self.report.sent {
                // About to sleep with bytes in flight: what was
                // acknowledged until now is the last good sample if the
                // connection dies in its sleep.
                self.sample_acked(stream);
            }
            deadline.map(|d| d.saturating_duration_since(now))
        };
        let ready = sys::poll(
            stream.socket().as_raw_fd(),
            want_read,
            want_write,
            core.wake_fd(),
            timeout,
        );
        if !busy {
            core.unpark();
            unmark(self);
        }
        self.unpolled = 0;
        let ready = match ready {
            Ok(r) => r,
            Err(e) => return Err(self.fail(Phase::Read, &e)),
        };
        if ready.woken {
            core.wake_fd().drain();
        }
        if want_write && ready.writable {
            self.writable = true;
        }
        if want_read && ready.readable {
            self.read_some(stream, true)?;
        }
        Ok(())
    }

    /// Closes the socket; for an abort, with `SO_LINGER` 0 so the server
    /// sees a reset. With TLS, a `close_notify` goes first when the
    /// connection ends without loss (the server closed, or `Shutdown` with
    /// nothing queued) and was not half-closed already; the bytes of
    /// records never written are taken back ([`Worker::take_back`]).
    fn close(&mut self, stream: Transport, reason: Reason) {
        let clean = stream.is_tls()
            && matches!(reason, Reason::PeerClosed | Reason::Shutdown)
            && self.state.write != WriteState::HalfClosed
            && self.report.error.is_none()
            && !self.has_pending()
            && self.inbox.is_empty();
        self.take_back(stream.unflushed());
        let flush = clean || reason == Reason::Error;
        let stream = stream.close(clean, flush);
        if reason == Reason::Aborted {
            if let Err(e) = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
                log::warn!("could not set SO_LINGER 0 for abort: {e}");
            }
        }
        drop(stream);
    }

    /// Counts what was accepted and not written, and builds the report.
    fn finish(mut self, reason: Reason) -> ShutdownReport {
        self.boxes.inbox.close();
        // What the inbox accepted and the worker never took.
        let queued = self.inbox.discard();
        let report = match self.across.take() {
            None => {
                self.report.unsent =
                    (self.initial_left() + self.out.unwritten()) as u64 + self.unflushed + queued;
                self.report.acked = self.acks.acked.min(self.report.sent);
                self.report.connections = self.connections;
                self.report.reason = reason;
                self.report
            }
            Some(a) => self.totals(&a, reason, queued),
        };
        log::debug!("socket shutdown: {report}");
        report
    }

    /// With reconnect, the final report: the totals over every
    /// connection, `queued` the inbox bytes never taken.
    fn totals(&self, a: &Across, reason: Reason, queued: u64) -> ShutdownReport {
        let mut r = ShutdownReport::new(reason);
        r.sent = a.sent;
        r.received = a.received;
        r.resent = a.resent;
        r.connections = self.connections;
        r.attempts = self.report.attempts;
        #[cfg(feature = "tls")]
        {
            // What the last connection's handshake negotiated.
            r.tls = self.report.tls;
        }
        let initial = self.config.initial.len() as u64;
        let taken_unwritten = match &self.out {
            Outgoing::Kept(k) => k.end() - a.written_max,
            Outgoing::Inbox => 0,
        };
        r.unsent = (initial - a.initial_written_max) + taken_unwritten + queued;
        let delivered = match self.config.delivery {
            Delivery::TcpAck => a.acked_stream,
            Delivery::Confirmed => self.boxes.core.confirmed().min(a.written_max),
        };
        r.acked = a.initial_acked_max + delivered;
        r.lost = 0;
        if matches!(reason, Reason::Error | Reason::PeerClosed) {
            r.error = a.last_error.clone();
        }
        r
    }

    /// After a connection ended with `ended` (or a connect attempt failed,
    /// `connected` false): `Ok` to connect again, after the backoff wait;
    /// `Err` with the reason the component ends with. Without reconnect,
    /// always the end.
    fn after_connection(&mut self, ended: Reason, connected: bool) -> Result<(), Reason> {
        if self.across.is_none() {
            return Err(ended);
        }
        if connected {
            self.end_connection(ended);
        }
        if matches!(ended, Reason::Shutdown | Reason::Aborted) {
            return Err(ended);
        }
        if self.all_delivered() {
            // Linger: the transfer is delivered, the reply may be cut short.
            return Err(if ended == Reason::Linger {
                Reason::Linger
            } else {
                Reason::Finished
            });
        }
        let Some(a) = self.across.as_mut() else {
            return Err(ended);
        };
        let now = Instant::now();
        let lost_at = *a.lost_at.get_or_insert(now);
        if a.backoff.max_attempts.is_some_and(|m| a.attempt >= m) {
            log::debug!("giving up after {} reconnect attempts", a.attempt);
            return Err(ended);
        }
        let delay = a.backoff.delay(a.attempt, &mut a.rng);
        if let Some(limit) = a.backoff.max_elapsed {
            if now.saturating_duration_since(lost_at).saturating_add(delay) > limit {
                log::debug!("giving up: reconnecting for more than {limit:?}");
                return Err(ended);
            }
        }
        a.attempt += 1;
        let attempt = a.attempt;
        self.signal(Signal::Reconnecting { attempt, delay });
        self.wait_backoff(attempt, delay)
    }

    /// With reconnect: folds the connection that just ended into the
    /// totals and signals its own report.
    fn end_connection(&mut self, ended: Reason) {
        let initial = self.config.initial.len() as u64;
        let sent = self.report.sent;
        let acked = self.acks.acked.min(sent);
        let unwritten = self.initial_left() as u64 + self.out.unwritten() as u64;
        let Some(a) = self.across.as_mut() else {
            return;
        };
        a.sent += sent;
        a.received += self.report.received;
        a.resent += self.report.resent;
        a.initial_acked_max = a.initial_acked_max.max(acked.min(initial));
        let mut conn = self.report.clone();
        conn.reason = ended;
        conn.acked = acked;
        conn.unsent = unwritten;
        log::debug!("disconnected: {conn}");
        self.signal(Signal::Disconnected(conn));
    }

    /// With reconnect: waits `delay` before connect attempt `attempt`,
    /// asleep in `poll` on the wake eventfd alone. `Shutdown` or `Abort`
    /// ends the component at once; so does a finished input with
    /// everything delivered. The inbox keeps taking chunks meanwhile.
    fn wait_backoff(&mut self, attempt: u32, delay: Duration) -> Result<(), Reason> {
        let until = Instant::now().checked_add(delay);
        self.set_link(Link::Backoff { attempt, until });
        let boxes = self.boxes;
        let core = &*boxes.core;
        loop {
            if let Some(reason) = core.stop_requested() {
                return Err(reason);
            }
            if core.control() == Some(Control::ProducerFinished) && !self.inbox.is_closed() {
                boxes.inbox.close();
            }
            self.release_delivered();
            if self.all_delivered() {
                return Err(Reason::Finished);
            }
            let now = Instant::now();
            if until.is_some_and(|u| now >= u) {
                return Ok(());
            }
            core.park();
            // Re-check after marking ourselves parked (see
            // `Core::wake_worker`).
            let control_now = match core.control() {
                Some(Control::ProducerFinished) => !self.inbox.is_closed(),
                Some(_) => true,
                None => false,
            };
            if control_now || self.confirm_pending() {
                core.unpark();
                continue;
            }
            let timeout = until.map(|u| u.saturating_duration_since(now));
            let ready = sys::poll(-1, false, false, core.wake_fd(), timeout);
            core.unpark();
            match ready {
                Ok(r) if r.woken => core.wake_fd().drain(),
                Ok(_) => {}
                Err(e) => {
                    log::warn!("poll failed during the backoff wait: {e}");
                    return Ok(());
                }
            }
        }
    }
}

/// The earlier of two optional deadlines (`None`: no deadline).
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The phase of an error from the transport: `Tls` for a failure of TLS
/// itself, `default` for the socket's own.
fn phase_of(e: &io::Error, default: Phase) -> Phase {
    #[cfg(feature = "tls")]
    if crate::tls::is_tls_failure(e) {
        return Phase::Tls;
    }
    let _ = e;
    default
}

/// Errors that mean "no progress this time", not a failed connection: the
/// I/O slice ran out (`SO_SNDTIMEO`/`SO_RCVTIMEO` end a call with EAGAIN
/// on Linux and Android), or a signal interrupted the call. `TimedOut`
/// (ETIMEDOUT) is not one: it is the kernel ending the connection, after
/// `TCP_USER_TIMEOUT`, unanswered keepalive probes or retransmissions.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
