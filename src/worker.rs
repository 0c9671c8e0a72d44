//! The worker: one thread per connection that owns the socket.
//!
//! It runs the connect phase ([`crate::connect`]), then the data path: a
//! loop of small steps (act on control, flush, check for the end,
//! deadlines, park and poll) over an explicit connection [`State`]. The
//! socket stays in blocking mode throughout; short `SO_SNDTIMEO` /
//! `SO_RCVTIMEO` slices bound any single call, so control is seen within
//! one slice even while the server refuses to read. With reconnect a lost
//! connection is followed by a backoff wait and the connect phase again,
//! with the same boxes. See ARCHITECTURE.md.
//!
//! The loop calls the concerns beside it, each a type in its own file:
//! - [`transport`]: plain or TLS, and the step that makes one;
//! - [`acks`]: what the server's TCP acknowledged;
//! - [`deadlines`]: write progress, idle, linger and the wait for
//!   acknowledgements, and which fires next;
//! - [`session`]: with reconnect, what lasts across connections, and what
//!   to do after one ends;
//! - [`state`]: the connection's state, and the end-of-connection
//!   decision;
//! - [`written`]: what the connection wrote, for the accounting;
//! - [`guard`]: the one final signal, even if the worker unwinds.

mod acks;
mod deadlines;
mod guard;
mod session;
mod state;
mod transport;
mod written;

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::connect;
use crate::databox::{Boxes, WorkerInbox, WorkerOutbox};
use crate::message::{Control, Error, Failure, Phase, Reason, ShutdownReport, Signal};
use crate::ring::Side;
use crate::routes::Watch;

use acks::Acks;
use deadlines::Deadlines;
use guard::FinalGuard;
use session::{Next, Session};
use state::{end_of_connection, End, EndFacts, Link, ReadState, State, WriteState};
use transport::{is_transient, phase_of, Transport};
use written::Written;

/// The most one read step takes from the socket before the worker looks
/// at the rest of its work (control, the write side): reads go on without
/// a `poll` while each one fills what it was given.
const READ_BURST: usize = 256 * 1024;

/// During a busy upload, the most bytes written before the worker looks at
/// the socket for incoming data.
const READ_CHECK_EVERY: usize = 64 * 1024;

/// Runs a connection from start to end. Always ends with exactly one
/// `SocketShutdown` on the signal outbox, even if something panicked.
pub(crate) fn run<const C: usize, const I: usize, const O: usize>(
    config: Config,
    boxes: Boxes,
    inbox: WorkerInbox,
    outbox: WorkerOutbox,
) {
    let mut guard = FinalGuard::new(&boxes);
    let report = Worker::<C, I, O>::new(config, &boxes, inbox, outbox).run();
    guard.finish(report);
}

/// What the flush step leaves the loop to do next.
enum Flushed {
    /// The socket took everything it was given: keep writing.
    KeepWriting,
    /// Look at the socket and the boxes before writing again.
    Look,
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
    /// With reconnect (accepted bytes then wait in its kept window, not in
    /// the inbox).
    session: Option<Session>,
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
    deadlines: Deadlines,
    /// What the server acknowledged of what was written.
    acks: Acks,
    /// Connections made.
    connections: u32,
    /// The transport holds output taken already (TLS records), as of its
    /// last write or read.
    tls_pending: bool,
    written: Written,
    /// The kernel's routes, when followed (the `routes` feature).
    watch: Watch,
}

impl<'a, const C: usize, const I: usize, const O: usize> Worker<'a, C, I, O> {
    fn new(config: Config, boxes: &'a Boxes, inbox: WorkerInbox, outbox: WorkerOutbox) -> Self {
        // The kept window is allocated once, and only with reconnect.
        let session = config.reconnect.map(|backoff| {
            let window = config.resend_window;
            Session::new(backoff, window, C, config.delivery, config.initial.len())
        });
        let watch = Watch::new(config.follows_routes());
        Worker {
            deadlines: Deadlines::new(&config),
            config,
            boxes,
            inbox,
            outbox,
            report: ShutdownReport::new(Reason::Error),
            state: State::START,
            session,
            writable: true,
            readable: false,
            ack_timer: false,
            unpolled: 0,
            acks: Acks::none(),
            connections: 0,
            tls_pending: false,
            written: Written::default(),
            watch,
        }
    }

    /// Connections, one after the other (more than one only with
    /// reconnect), until the component ends.
    fn run(mut self) -> ShutdownReport {
        let reason = loop {
            self.set_link(Link::Connecting);
            let attempts = &mut self.report.attempts;
            let core = &self.boxes.core;
            // With reconnect, a send buffer within the kept window.
            let send_buffer = self
                .session
                .as_ref()
                .map(|_| self.config.resend_window.max(C));
            let connected =
                connect::connect(&self.config, core, attempts).and_then(|(stream, peer)| {
                    let transport = Transport::start(&self.config, stream, core, send_buffer)?;
                    Ok((transport, peer))
                });
            let (ended, connected) = match connected {
                Ok((mut transport, peer)) => {
                    self.start_connection(&transport);
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
    fn start_connection(&mut self, transport: &Transport) {
        self.connections += 1;
        // Connection attempts are counted over the component's life.
        let attempts = self.report.attempts;
        self.report = ShutdownReport::new(Reason::Error);
        self.report.attempts = attempts;
        self.report.connections = self.connections;
        #[cfg(feature = "tls")]
        {
            self.report.tls = transport.tls_info();
        }
        self.written.connected();
        self.writable = true;
        self.readable = false;
        self.unpolled = 0;
        // The end of a TLS handshake (our Finished) may still wait.
        self.tls_pending = transport.wants_write();
        self.deadlines.connected(Instant::now());
        // A request made while this connection was being made is met: it
        // is on the network there is now.
        self.boxes.core.take_reconnect();
        if let Some(s) = self.session.as_mut() {
            s.connected();
        }
        self.watch.connected(transport.socket());
        let window = self.session.as_ref().is_some_and(Session::follows_acks);
        self.acks = Acks::start(transport, window);
        self.set_state(State::CONNECTED);
    }

    /// The one place the connection state changes; every transition is
    /// logged.
    fn set_state(&mut self, to: State) {
        if to != self.state {
            log::debug!("state {} -> {}", self.state, to);
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
            log::warn!("signal outbox nearly full (not read): a signal is dropped");
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
        if let Some(s) = self.session.as_mut() {
            s.failed(&error);
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

    /// Samples what the server has acknowledged, and with reconnect moves
    /// the kept window past what is now delivered.
    fn sample_acked(&mut self, transport: &mut Transport) {
        let clean = self.state.both_closed() && self.report.error.is_none();
        self.acks.sample(transport, self.report.sent, clean);
        self.release_delivered();
    }

    /// With reconnect: moves the kept window past the chunks now wholly
    /// delivered (acknowledged by the server's TCP, or confirmed).
    fn release_delivered(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.release(self.acks.acked(), self.boxes.core.confirmed());
        }
    }

    /// With `Delivery::Confirmed` and reconnect: the application confirmed
    /// more since the worker last looked.
    fn confirm_pending(&self) -> bool {
        let confirmed = self.boxes.core.confirmed();
        self.session
            .as_ref()
            .is_some_and(|s| s.confirm_pending(confirmed))
    }

    /// Everything written on this connection is delivered (the initial
    /// message acknowledged, the inbox bytes acknowledged or confirmed).
    fn in_flight_delivered(&self) -> bool {
        let (acked, sent) = (self.acks.acked(), self.report.sent);
        match &self.session {
            None => acked >= sent,
            Some(s) => s.in_flight_delivered(acked, sent, self.written.initial_pos() as u64),
        }
    }

    /// With reconnect: the input finished, a connection was made, and
    /// everything accepted was delivered.
    fn all_delivered(&self) -> bool {
        let input_done = self.inbox.is_closed() && self.inbox.is_empty();
        self.session
            .as_ref()
            .is_some_and(|s| s.all_delivered(self.connections > 0, input_done))
    }

    fn initial_left(&self) -> usize {
        self.config.initial.len() - self.written.initial_pos()
    }

    /// Bytes taken from the inbox and not yet written on this connection
    /// (none are taken without reconnect: they stay in the inbox until
    /// written).
    fn taken_unwritten(&self) -> usize {
        self.session.as_ref().map_or(0, |s| s.kept().unwritten())
    }

    /// Bytes accepted and not yet written: the initial message, the inbox
    /// (or the kept window), TLS records not yet on the socket (known to
    /// the loop through `tls_pending`).
    fn has_pending(&self) -> bool {
        self.initial_left() > 0
            || self.tls_pending
            || match &self.session {
                None => !self.inbox.is_empty(),
                Some(s) => s.kept().unwritten() > 0,
            }
    }

    /// Everything accepted is written and nothing more will be accepted.
    fn drained(&self) -> bool {
        !self.has_pending() && self.inbox.is_closed() && self.inbox.is_empty()
    }

    /// The outbox has room for a read: half the outbox free. Waiting for a
    /// batch of room instead of any room turns "one wake-up per receive"
    /// into "one per half outbox" when the application is the slower side.
    fn can_read(&self) -> bool {
        self.outbox.room() >= self.outbox.ring().wake_writer_at()
    }

    /// One write of pending bytes: the initial message first, then the
    /// inbox (or the kept window).
    fn write_some(&mut self, stream: &mut Transport, now: Instant) -> io::Result<()> {
        let initial_left = self.initial_left();
        let progress = stream.progress();
        let mut want = 0;
        let written = if initial_left > 0 {
            let buf = &self.config.initial[self.written.initial_pos()..];
            want = buf.len();
            stream.write(buf)
        } else {
            match &mut self.session {
                // Straight from the inbox's ring: the bytes the socket
                // takes leave the inbox.
                None => self.inbox.write_with(usize::MAX, |buf| {
                    want = buf.len();
                    stream.write(buf)
                }),
                Some(s) => {
                    let buf = s.kept().next();
                    want = buf.len();
                    stream.write(buf)
                }
            }
        };
        self.tls_pending = stream.wants_write();
        let n = match written {
            Ok(n) => n,
            Err(e) if is_transient(&e) => {
                self.writable = false;
                if stream.progress() != progress {
                    self.deadlines.progress(now);
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let resent = self
            .written
            .wrote(initial_left > 0, n, self.session.as_mut());
        self.report.resent += resent;
        self.report.sent += n as u64;
        self.unpolled = self.unpolled.saturating_add(n);
        // Records left over mean the socket is full.
        self.writable = n == want.min(stream.max_write()) && !self.tls_pending;
        if n > 0 || stream.progress() != progress {
            self.deadlines.progress(now);
        }
        Ok(())
    }

    /// At the close: the last write's bytes that never reached the socket
    /// (TLS records still queued) are taken back ([`Written::take_back`]).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    fn take_back(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.report.sent -= n as u64;
        let resent = self.written.take_back(n, self.session.as_mut());
        self.report.resent -= resent.min(self.report.resent);
    }

    /// One read step into the outbox ([`Transport::read_burst`], up to
    /// [`READ_BURST`]); a receiving thread that sleeps is woken at the end
    /// of the burst.
    fn read_some(&mut self, stream: &mut Transport, polled: bool) -> Result<(), Reason> {
        let burst = stream.read_burst(&mut self.outbox, polled, self.readable, READ_BURST);
        // Reading TLS can queue records to write (an alert, a key update).
        self.tls_pending = stream.wants_write();
        self.readable = burst.readable;
        self.report.received += burst.total as u64;
        let result = match burst.end {
            Ok(false) => Ok(()),
            Ok(true) => self.read_end(),
            Err(e) => Err(self.fail(phase_of(&e, Phase::Read), &e)),
        };
        if burst.total > 0 {
            // The server is not idle: the idle time starts over, and so
            // does the linger after our half-close.
            let half_closed = self.state.write == WriteState::HalfClosed;
            self.deadlines.heard(Instant::now(), half_closed);
        }
        self.outbox.wake_reader(!self.readable);
        result
    }

    /// The server closed its side (end of stream).
    fn read_end(&mut self) -> Result<(), Reason> {
        self.readable = false;
        self.set_read(ReadState::Eof);
        if self.session.is_none() {
            // Nothing more is accepted; what is queued is still flushed.
            self.boxes.inbox.close();
        } else if self.state.writing() {
            // With reconnect the inbox stays open; what is not written
            // yet goes on the next connection.
            let until = self.deadlines.linger_from(Instant::now());
            self.set_write(WriteState::Settling { until });
        }
        self.signal(Signal::PeerClosed);
        Ok(())
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
        // Without reconnect the request is dropped: a connection that
        // cannot be remade is not ended for it.
        if self.boxes.core.take_reconnect() && self.session.is_some() {
            return Some(Reason::NetworkChanged);
        }
        if self.confirm_pending() {
            self.release_delivered();
        }
        if self.boxes.core.control() == Some(Control::ProducerFinished) {
            if self.state.write == WriteState::Open {
                // Everything accepted before this point is still written.
                self.boxes.inbox.close();
                self.set_write(WriteState::Draining);
            } else if self.session.is_some() && !self.inbox.is_closed() {
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
        if let Some(s) = self.session.as_mut() {
            if !s.can_take() && !self.inbox.is_empty() {
                // The window is full: see whether the server acknowledged
                // more, which makes room.
                self.sample_acked(stream);
            }
        }
        if let Some(s) = self.session.as_mut() {
            // Moves the inbox's sends into the kept window while they fit.
            self.inbox.take_sends(|a, b| s.kept_mut().push_parts(a, b));
        }
        let now = Instant::now();
        let pending = self.has_pending();
        if pending {
            // Bytes to write appeared (queued by the application at any
            // time): the write timeout's clock starts, if it did not.
            self.deadlines.pending(now);
        }
        if !(pending && self.writable) {
            return Ok(Flushed::Look);
        }
        if let Err(e) = self.write_some(stream, now) {
            return Err(self.fail(phase_of(&e, Phase::Write), &e));
        }
        if self.acks.due(self.report.sent, now) {
            self.sample_acked(stream);
        }
        if !self.has_pending() {
            self.deadlines.none_pending();
        }
        // A busy upload keeps writing without polling, but looks at the
        // socket at least every READ_CHECK_EVERY bytes so the server's
        // replies are not starved. (Only if there is room to read into:
        // with the outbox full a look finds nothing to do.)
        let look_due = self.state.reading() && self.unpolled >= READ_CHECK_EVERY && self.can_read();
        Ok(if self.writable && !look_due {
            Flushed::KeepWriting
        } else {
            Flushed::Look
        })
    }

    /// Step 3: the half-close once a drain is complete, and the end of the
    /// connection ([`end_of_connection`]).
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
            self.deadlines.half_closed(now);
        }
        if self.state.write == WriteState::HalfClosed {
            // Paused while the outbox has no room to read into; started
            // over when there is room again.
            self.deadlines.linger_listening(now, self.can_read());
        }
        let linger = self.linger_ends();
        let reconnect = self.session.is_some();
        // With reconnect, an ending connection waits for what is in
        // flight: look at what was acknowledged if it is not all yet.
        if reconnect && !self.state.writing() && !self.in_flight_delivered() {
            self.sample_acked(stream);
        }
        let facts = EndFacts {
            reconnect,
            drained,
            delivered: reconnect && self.in_flight_delivered(),
            linger_over: linger.is_some_and(|d| now >= d),
        };
        match end_of_connection(self.state, facts) {
            End::Continue => Ok(()),
            End::Close(Reason::Linger) if !reconnect => {
                log::debug!("linger over: the server sent nothing for the linger time");
                Err(Reason::Linger)
            }
            End::Close(reason) => Err(reason),
            End::LingerUndelivered => {
                let e = io::Error::new(
                    io::ErrorKind::TimedOut,
                    "linger over before everything sent was acknowledged",
                );
                Err(self.fail(Phase::Shutdown, &e))
            }
        }
    }

    /// When the linger runs out: after our half-close, its idle clock;
    /// while settling, the time the server's close gave it.
    fn linger_ends(&self) -> Option<Instant> {
        match self.state.write {
            WriteState::HalfClosed => self.deadlines.linger_ends(),
            WriteState::Settling { until } => until,
            WriteState::Open | WriteState::Draining => None,
        }
    }

    /// With reconnect: waiting for the server to acknowledge what is in
    /// flight, with nothing else that would wake the worker: the kept
    /// window is full, or the connection waits to end.
    fn waiting_for_acks(&self) -> bool {
        let Some(s) = &self.session else {
            return false;
        };
        if !self.acks.in_flight(self.report.sent) {
            return false;
        }
        let full = !s.can_take() && !self.inbox.is_empty();
        full || !self.state.writing()
    }

    /// Step 4: fails a write that made no progress for the write timeout,
    /// and a connection the server said nothing on for the idle timeout;
    /// returns when the poll must wake up at the latest.
    fn deadline(&mut self, now: Instant) -> Result<Option<Instant>, Reason> {
        // The idle time runs only while the worker listens to the server
        // (reading, with room in the outbox); the receive that makes room
        // wakes the worker, and the time starts from then.
        let listening = self.state.reading() && self.can_read();
        self.deadlines.idle_listening(now, listening);
        let write_pending = self.state.writing() && self.has_pending();
        if let Some(expired) = self.deadlines.expired(now, write_pending) {
            let (phase, e) = expired.error();
            return Err(self.fail(phase, &e));
        }
        self.ack_timer = self.waiting_for_acks();
        let next = self
            .deadlines
            .next(now, write_pending, self.linger_ends(), self.ack_timer);
        Ok(next.map(|(at, _)| at))
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
        let boxes = self.boxes;
        let core = &*boxes.core;
        let want_read = self.state.reading() && self.can_read();
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
            && match &self.session {
                // Nothing was pending when `want_write` looked: anything
                // queued since is input we wait for (the re-check below
                // sees it).
                None => !want_write,
                // Input to take into the window, or, with the window full,
                // input that would start the timer for the acknowledgements
                // that make room (unless it runs already; with
                // `Delivery::Confirmed` confirmations wake us instead).
                Some(s) => {
                    s.can_take() || (!self.ack_timer && self.acks.in_flight(self.report.sent))
                }
            };
        let wait_room = self.state.reading() && !want_read;
        if wait_input {
            self.inbox.ring().mark_asleep(Side::Reader);
        }
        if wait_room {
            self.outbox.ring().mark_asleep(Side::Writer);
        }
        let parked = core.park();
        // Re-check every box after marking ourselves parked (see
        // `Core::wake_worker`): anything that arrived before the mark is
        // seen here, anything after it notifies the eventfd.
        // Input came that we marked ourselves waiting for (other queued
        // input waits for the socket: `write_now`).
        let more_input = wait_input && !self.inbox.is_empty();
        let room_again = wait_room && self.can_read();
        let control_now = core.reconnect_requested()
            || match core.control() {
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
        let ready = if busy {
            drop(parked);
            self.unmark(wait_input, wait_room);
            if buffered {
                return self.read_some(stream, true);
            }
            if !(want_read && self.unpolled >= READ_CHECK_EVERY) {
                return Ok(());
            }
            // Busy, with replies to look for: a look, no sleep.
            core.look(stream.socket().as_raw_fd(), want_read, want_write)
        } else {
            if self.acks.in_flight(self.report.sent) {
                // About to sleep with bytes in flight: what was
                // acknowledged until now is the last good sample if the
                // connection dies in its sleep.
                self.sample_acked(stream);
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(now));
            let fd = stream.socket().as_raw_fd();
            let watch = &mut self.watch;
            let ready = parked.poll(|wake| watch.poll(fd, want_read, want_write, wake, timeout));
            self.unmark(wait_input, wait_room);
            match ready {
                // The kernel's routes changed and this connection's path
                // is gone: reconnect now.
                Ok((_, true)) if self.watch.path_lost() => return Err(Reason::NetworkChanged),
                r => r.map(|(ready, _)| ready),
            }
        };
        self.unpolled = 0;
        let ready = match ready {
            Ok(r) => r,
            Err(e) => return Err(self.fail(Phase::Read, &e)),
        };
        if want_write && ready.writable {
            self.writable = true;
        }
        if want_read && ready.readable {
            self.read_some(stream, true)?;
        }
        Ok(())
    }

    /// Clears the sleep marks [`Worker::park_and_poll`] set.
    fn unmark(&self, input: bool, room: bool) {
        if input {
            self.inbox.ring().mark_awake(Side::Reader);
        }
        if room {
            self.outbox.ring().mark_awake(Side::Writer);
        }
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
        stream.end(clean, flush, reason == Reason::Aborted);
    }

    /// Counts what was accepted and not written, and builds the report.
    fn finish(mut self, reason: Reason) -> ShutdownReport {
        self.boxes.inbox.close();
        // What the inbox accepted and the worker never took.
        let queued = self.inbox.discard();
        let report = match self.session.take() {
            None => {
                self.report.unsent = (self.initial_left() + self.taken_unwritten()) as u64
                    + self.written.unflushed()
                    + queued;
                self.report.acked = self.acks.acked().min(self.report.sent);
                self.report.connections = self.connections;
                self.report.reason = reason;
                self.report
            }
            Some(s) => {
                let mut r = s.totals(reason, queued, self.boxes.core.confirmed());
                r.connections = self.connections;
                r.attempts = self.report.attempts;
                #[cfg(feature = "tls")]
                {
                    // What the last connection's handshake negotiated.
                    r.tls = self.report.tls;
                }
                r
            }
        };
        log::debug!("socket shutdown: {report}");
        report
    }

    /// After a connection ended with `ended` (or a connect attempt failed,
    /// `connected` false): `Ok` to connect again, after the backoff wait;
    /// `Err` with the reason the component ends with. Without reconnect,
    /// always the end.
    fn after_connection(&mut self, ended: Reason, connected: bool) -> Result<(), Reason> {
        if self.session.is_none() {
            return Err(ended);
        }
        if connected {
            self.end_connection(ended);
        }
        let all_delivered = self.all_delivered();
        let Some(s) = self.session.as_mut() else {
            return Err(ended);
        };
        match s.next(ended, all_delivered, Instant::now()) {
            Next::End(reason) => Err(reason),
            Next::Connect { attempt, delay } => {
                self.signal(Signal::Reconnecting { attempt, delay });
                self.wait_backoff(attempt, delay)
            }
        }
    }

    /// With reconnect: folds the connection that just ended into the
    /// totals and signals its own report.
    fn end_connection(&mut self, ended: Reason) {
        let acked = self.acks.acked().min(self.report.sent);
        let unwritten = (self.initial_left() + self.taken_unwritten()) as u64;
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let conn = s.end_connection(&self.report, ended, acked, unwritten);
        log::debug!("disconnected: {conn}");
        self.signal(Signal::Disconnected(conn));
    }

    /// With reconnect: waits `delay` before connect attempt `attempt`
    /// ([`Session::wait`]).
    fn wait_backoff(&mut self, attempt: u32, delay: Duration) -> Result<(), Reason> {
        let until = Instant::now().checked_add(delay);
        self.set_link(Link::Backoff { attempt, until });
        let boxes = self.boxes;
        let connected_once = self.connections > 0;
        let acked = self.acks.acked();
        match self.session.as_mut() {
            Some(s) => s.wait(
                until,
                boxes,
                &self.inbox,
                acked,
                connected_once,
                &mut self.watch,
            ),
            None => Ok(()),
        }
    }
}
