//! The worker: one thread per connection that owns the socket.
//!
//! It runs the connect phase ([`crate::connect`]), then the data path: a
//! loop of small steps (act on control, flush, check for the end,
//! deadlines, park and poll) over an explicit connection [`State`]. The
//! socket stays in blocking mode throughout; short `SO_SNDTIMEO` /
//! `SO_RCVTIMEO` slices bound any single call, so control is seen within
//! one slice even while the server refuses to read. See ARCHITECTURE.md.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::connect::{self, Failure};
#[cfg(feature = "tls")]
use crate::message::TlsInfo;
use crate::message::{Chunk, Control, Error, Phase, Reason, ShutdownReport, Signal};
use crate::sys;
use crate::wake::{read_room, Boxes, Core};

/// Longest a single blocking read or write may block: how late control can
/// be seen while the worker is inside a write to a server that does not
/// read.
pub(crate) const IO_SLICE: Duration = Duration::from_millis(20);

/// Size of the worker's write and read batch buffers (at least one chunk).
const BATCH: usize = 8 * 1024;

/// The write batch of a TLS connection: one full record (16 KiB of
/// plaintext), so a bulk upload makes half the records and writes that
/// 8 KiB would (benches/README.md, "TLS").
#[cfg(feature = "tls")]
const TLS_BATCH: usize = 16 * 1024;

/// During a busy upload, the most bytes written before the worker looks at
/// the socket for incoming data.
const READ_CHECK_EVERY: usize = 64 * 1024;

/// What the serve steps read from and write to: the socket itself, or TLS
/// over it (the `tls` feature). Plain calls go straight to the socket;
/// TLS keeps buffers of its own, which `wants_read` and `wants_write`
/// expose to the poll interest.
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

    fn as_raw_fd(&self) -> RawFd {
        self.socket().as_raw_fd()
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

    /// Writes from `buf`; returns how many bytes of it were taken.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => (&*s).write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write(buf),
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

    /// Bytes taken by `write` (and counted as sent) that are not on the
    /// socket yet: at the end they count as unsent.
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
            #[cfg(feature = "tls")]
            Transport::Tls(t) => Some(t.info()),
        }
    }

    /// The socket, to close. `clean`: nothing accepted was lost, so a TLS
    /// connection may say `close_notify`.
    /// `flush`: what is queued may be written (an alert for an error),
    /// unless it carries accepted bytes.
    fn into_socket(self, clean: bool, flush: bool) -> TcpStream {
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

/// The step between connect and serve: the transport the connection
/// speaks, after its handshake if it has one. Called once per connection.
fn start_transport(config: &Config, stream: TcpStream, core: &Core) -> Result<Transport, Failure> {
    #[cfg(feature = "tls")]
    if let Some(tls) = &config.tls {
        let t = crate::tls::handshake(tls, &config.host, stream, core, config.connect_timeout)?;
        return Ok(Transport::Tls(Box::new(t)));
    }
    let _ = (config, core);
    Ok(Transport::Plain(stream))
}

/// Runs a connection from start to end. Always ends with exactly one
/// `SocketShutdown` on the signal outbox, even if something panicked.
pub(crate) fn run<const C: usize, const I: usize, const O: usize>(
    config: Config,
    boxes: Boxes<C, I, O>,
) {
    let mut guard = FinalGuard {
        boxes: &boxes,
        done: false,
    };
    let report = Worker::new(config, &boxes).run();
    guard.finish(report);
}

/// Delivers the final signal exactly once: from `finish`, or from `drop` if
/// the worker unwound.
struct FinalGuard<'a, const C: usize, const I: usize, const O: usize> {
    boxes: &'a Boxes<C, I, O>,
    done: bool,
}

impl<const C: usize, const I: usize, const O: usize> FinalGuard<'_, C, I, O> {
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

impl<const C: usize, const I: usize, const O: usize> Drop for FinalGuard<'_, C, I, O> {
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
    /// `linger_until` (`None`: a linger too large for the clock, no limit).
    HalfClosed { linger_until: Option<Instant> },
}

/// The read side of the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadState {
    /// Reading whenever the outbox has room.
    Open,
    /// The server closed its side (end of stream).
    Eof,
}

/// The connection's state: each side on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    write: WriteState,
    read: ReadState,
}

impl State {
    const START: State = State {
        write: WriteState::Open,
        read: ReadState::Open,
    };

    /// Bytes accepted may still be written (not half-closed yet).
    fn writing(self) -> bool {
        !matches!(self.write, WriteState::HalfClosed { .. })
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

/// Bytes taken from the inbox and not yet written: `buf[start..end]`.
struct WriteBatch {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl WriteBatch {
    fn len(&self) -> usize {
        self.end - self.start
    }

    fn room(&self) -> usize {
        self.buf.len() - self.len()
    }

    /// Moves inbox chunks in while they fit, under one lock.
    fn refill<const C: usize, const N: usize>(
        &mut self,
        inbox: &crate::mailbox::Mailbox<Chunk<C>, N>,
    ) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < C {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let WriteBatch { buf, end, .. } = self;
        inbox.take_while(|chunk| {
            let Some(room) = buf.get_mut(*end..*end + chunk.len()) else {
                return false;
            };
            room.copy_from_slice(chunk);
            *end += chunk.len();
            true
        });
    }
}

struct Worker<'a, const C: usize, const I: usize, const O: usize> {
    config: Config,
    boxes: &'a Boxes<C, I, O>,
    report: ShutdownReport,
    state: State,
    /// Initial message bytes already written.
    initial_pos: usize,
    batch: WriteBatch,
    rbuf: Box<[u8]>,
    /// The last write took everything: the next one will likely not block,
    /// so it is tried without asking poll first.
    writable: bool,
    /// Bytes written since the last look at the socket with `poll`.
    unpolled: usize,
    /// When the oldest unwritten byte last saw no progress (write timeout).
    pending_since: Option<Instant>,
    /// The transport holds output taken already (TLS records), as of its
    /// last write or read.
    tls_pending: bool,
    /// Bytes counted as sent that the transport never wrote (set at the
    /// close).
    unflushed: u64,
}

impl<'a, const C: usize, const I: usize, const O: usize> Worker<'a, C, I, O> {
    fn new(config: Config, boxes: &'a Boxes<C, I, O>) -> Self {
        let batch = BATCH.max(C);
        #[cfg(feature = "tls")]
        let write_batch = if config.tls.is_some() {
            TLS_BATCH.max(C)
        } else {
            batch
        };
        #[cfg(not(feature = "tls"))]
        let write_batch = batch;
        Worker {
            config,
            boxes,
            report: ShutdownReport::new(Reason::Error),
            state: State::START,
            initial_pos: 0,
            batch: WriteBatch {
                buf: vec![0; write_batch].into_boxed_slice(),
                start: 0,
                end: 0,
            },
            rbuf: vec![0; batch].into_boxed_slice(),
            writable: true,
            unpolled: 0,
            pending_since: None,
            tls_pending: false,
            unflushed: 0,
        }
    }

    fn run(mut self) -> ShutdownReport {
        let connected =
            connect::connect(&self.config, &self.boxes.core).and_then(|(stream, peer)| {
                self.setup(&stream);
                let transport = start_transport(&self.config, stream, &self.boxes.core)?;
                Ok((transport, peer))
            });
        let reason = match connected {
            Ok((mut transport, peer)) => {
                log::debug!("connected to {peer}");
                #[cfg(feature = "tls")]
                {
                    self.report.tls = transport.tls_info();
                }
                // The end of a TLS handshake (our Finished) may still wait.
                self.tls_pending = transport.wants_write();
                self.signal(Signal::Connected(peer));
                let reason = self.serve(&mut transport);
                self.close(transport, reason);
                reason
            }
            Err(Failure::Stopped(reason)) => reason,
            Err(Failure::Failed(phase, e)) => self.fail(phase, &e),
        };
        self.finish(reason)
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

    /// Sends a signal, always keeping one slot for the final one. By the
    /// bound on signals per connection the slot check never fires; it is
    /// the guarantee, not the plan.
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
        let error = Error::from_io(phase, err);
        self.signal(Signal::Error(error.clone()));
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
        if let Some(idle) = self.config.keepalive {
            let ka = socket2::TcpKeepalive::new().with_time(idle);
            warn(
                "SO_KEEPALIVE",
                socket2::SockRef::from(stream).set_tcp_keepalive(&ka),
            );
        }
    }

    fn initial_left(&self) -> usize {
        self.config.initial.len() - self.initial_pos
    }

    /// Bytes accepted and not yet written: the initial message, the batch,
    /// TLS records not yet on the socket (known to the loop through
    /// `tls_pending`).
    fn has_pending(&self) -> bool {
        self.initial_left() > 0 || self.batch.len() > 0 || self.tls_pending
    }

    /// Everything accepted is written and nothing more will be accepted.
    fn drained(&self) -> bool {
        !self.has_pending() && self.boxes.inbox.is_closed() && self.boxes.inbox.is_empty()
    }

    /// One write of pending bytes: the initial message first, then the
    /// batch.
    fn write_some(&mut self, stream: &mut Transport, now: Instant) -> io::Result<()> {
        let initial_left = self.initial_left();
        let buf = if initial_left > 0 {
            &self.config.initial[self.initial_pos..]
        } else {
            &self.batch.buf[self.batch.start..self.batch.end]
        };
        let want = buf.len();
        let progress = stream.progress();
        let written = stream.write(buf);
        self.tls_pending = stream.wants_write();
        match written {
            Ok(n) => {
                if initial_left > 0 {
                    self.initial_pos += n;
                } else {
                    self.batch.start += n;
                }
                self.report.sent += n as u64;
                self.unpolled = self.unpolled.saturating_add(n);
                // Records left over mean the socket is full.
                self.writable = n == want && !self.tls_pending;
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

    /// One read into the outbox, no more than it has room for.
    fn read_some(&mut self, stream: &mut Transport) -> Result<(), Reason> {
        let room = self.boxes.outbox.room();
        if room == 0 {
            return Ok(());
        }
        let want = self.rbuf.len().min(room.saturating_mul(C));
        let got = stream.read(&mut self.rbuf[..want]);
        // Reading TLS can queue records to write (an alert, a key update).
        self.tls_pending = stream.wants_write();
        match got {
            Ok(0) => {
                self.set_read(ReadState::Eof);
                // Nothing more is accepted; what is queued is still flushed.
                self.boxes.inbox.close();
                self.signal(Signal::PeerClosed);
                Ok(())
            }
            Ok(n) => {
                self.report.received += n as u64;
                let mut pieces = self.rbuf[..n].chunks(C);
                // Only the worker fills the outbox and there was room for
                // every piece, so all of them go in.
                let queued = self
                    .boxes
                    .outbox
                    .fill_from(|| pieces.next().map(Chunk::from_prefix));
                debug_assert_eq!(queued, n.div_ceil(C));
                Ok(())
            }
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(self.fail(phase_of(&e, Phase::Read), &e)),
        }
    }

    /// The connected loop. Returns why it stopped.
    fn serve(&mut self, stream: &mut Transport) -> Reason {
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
        if self.state.write == WriteState::Open
            && self.boxes.core.control() == Some(Control::ProducerFinished)
        {
            // Everything accepted before this point is still written.
            self.boxes.inbox.close();
            self.set_write(WriteState::Draining);
        }
        None
    }

    /// Step 2: takes what the inbox holds and writes while the socket
    /// takes it.
    fn flush(&mut self, stream: &mut Transport) -> Result<Flushed, Reason> {
        if !self.state.writing() {
            return Ok(Flushed::Look);
        }
        let had = self.has_pending();
        self.batch.refill(&self.boxes.inbox);
        let now = Instant::now();
        if !had && self.has_pending() {
            self.pending_since = Some(now);
        }
        if !(self.has_pending() && self.writable) {
            return Ok(Flushed::Look);
        }
        if let Err(e) = self.write_some(stream, now) {
            return Err(self.fail(Phase::Write, &e));
        }
        if !self.has_pending() {
            self.pending_since = None;
        }
        // A busy upload keeps writing without polling, but looks at the
        // socket at least every READ_CHECK_EVERY bytes so the server's
        // replies are not starved. (Only if there is room to read into:
        // with the outbox full a look finds nothing to do.)
        let look_due = self.state.reading()
            && self.unpolled >= READ_CHECK_EVERY
            && self.boxes.outbox.room() >= read_room::<O>();
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
                return Err(self.fail(Phase::Shutdown, &e));
            }
            log::debug!(
                "write side closed; lingering up to {:?}",
                self.config.linger
            );
            self.set_write(WriteState::HalfClosed {
                linger_until: now.checked_add(self.config.linger),
            });
        }
        let half_closed = !self.state.writing();
        if drained && self.state.read == ReadState::Eof {
            return Err(if half_closed {
                Reason::Finished
            } else {
                Reason::PeerClosed
            });
        }
        if let WriteState::HalfClosed {
            linger_until: Some(d),
        } = self.state.write
        {
            if now >= d {
                log::debug!("linger time over");
                return Err(Reason::Finished);
            }
        }
        Ok(())
    }

    /// Step 4: fails a write that made no progress for the write timeout;
    /// returns when the poll must wake up at the latest.
    fn deadline(&mut self, now: Instant) -> Result<Option<Instant>, Reason> {
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
            WriteState::HalfClosed { linger_until } => linger_until,
            _ => None,
        };
        Ok(match (write_deadline, linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
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
        let want_read = self.state.reading() && self.boxes.outbox.room() >= read_room::<O>();
        let want_write = self.state.writing() && self.has_pending();
        // Decrypted bytes (or an end) wait in the transport: deliver them
        // before asking the socket for more, and do not sleep meanwhile.
        let buffered = want_read && stream.wants_read();
        core.park();
        // Re-check every box after marking ourselves parked (see
        // `Core::wake_worker`): anything that arrived before the mark is
        // seen here, anything after it notifies the eventfd.
        let more_input =
            self.state.writing() && self.batch.room() >= C && !self.boxes.inbox.is_empty();
        let room_again =
            self.state.reading() && !want_read && self.boxes.outbox.room() >= read_room::<O>();
        let control_now = match core.control() {
            Some(Control::ProducerFinished) => self.state.write == WriteState::Open,
            Some(_) => true,
            None => false,
        };
        let write_now = want_write && self.writable;
        let busy = more_input || room_again || control_now || write_now || buffered;
        if busy {
            core.unpark();
            if buffered {
                return self.read_some(stream);
            }
            if !(want_read && self.unpolled >= READ_CHECK_EVERY) {
                return Ok(());
            }
        }
        // Busy: only a look at the socket (zero timeout), no sleep.
        let timeout = if busy {
            Some(Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_duration_since(now))
        };
        let ready = sys::poll(
            stream.as_raw_fd(),
            want_read,
            want_write,
            core.wake_fd(),
            timeout,
        );
        core.unpark();
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
            self.read_some(stream)?;
        }
        Ok(())
    }

    /// Closes the socket; for an abort, with `SO_LINGER` 0 so the server
    /// sees a reset. With TLS, a `close_notify` goes first when the
    /// connection ends without loss (the server closed, or `Shutdown` with
    /// nothing queued) and was not half-closed already.
    fn close(&mut self, stream: Transport, reason: Reason) {
        let clean = stream.is_tls()
            && matches!(reason, Reason::PeerClosed | Reason::Shutdown)
            && self.report.error.is_none()
            && !self.has_pending()
            && self.boxes.inbox.is_empty();
        // Counted as sent when taken; not on the socket after all.
        self.unflushed = stream.unflushed() as u64;
        self.report.sent -= self.unflushed;
        let flush = clean || reason == Reason::Error;
        let stream = stream.into_socket(clean, flush);
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
        let mut unsent = (self.initial_left() + self.batch.len()) as u64 + self.unflushed;
        self.boxes.inbox.take_while(|chunk| {
            unsent += chunk.len() as u64;
            true
        });
        self.report.unsent = unsent;
        self.report.reason = reason;
        log::debug!("socket shutdown: {}", self.report);
        self.report
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
/// I/O slice ran out, or a signal interrupted the call.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
