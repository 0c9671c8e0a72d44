//! The worker: one thread per connection that owns the socket.
//!
//! It resolves and connects (blocking, one budget for all addresses), then
//! loops: act on control, move inbox chunks into its write buffer, write,
//! and otherwise sleep in `poll(2)` on the socket and the wake eventfd.
//! The socket stays in blocking mode throughout; short `SO_SNDTIMEO` /
//! `SO_RCVTIMEO` slices bound any single call, so control is seen within
//! one slice even while the server refuses to read. See ARCHITECTURE.md.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::client::{read_room, Boxes, SIGNAL_CAPACITY};
use crate::config::{Config, IpFamily};
use crate::message::{chunk_of, Control, Error, Phase, Reason, ShutdownReport, Signal};
use crate::sys;

/// Longest a single blocking read or write may block: how late control can
/// be seen while the worker is inside a write to a server that does not
/// read.
pub(crate) const IO_SLICE: Duration = Duration::from_millis(20);

/// Size of the worker's write and read batch buffers (at least one chunk).
const BATCH: usize = 8 * 1024;

/// During a busy upload, the most bytes written before the worker looks at
/// the socket for incoming data.
const READ_CHECK_EVERY: usize = 64 * 1024;

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

/// Why the loop stopped, before the socket is closed. The error, if any,
/// is already in the worker's report.
struct End {
    reason: Reason,
}

struct Worker<'a, const C: usize, const I: usize, const O: usize> {
    config: Config,
    boxes: &'a Boxes<C, I, O>,
    report: ShutdownReport,
    /// Initial message bytes already written.
    initial_pos: usize,
    /// Write batch: bytes `wbuf[wstart..wend]` are accepted and unwritten.
    wbuf: Box<[u8]>,
    wstart: usize,
    wend: usize,
    rbuf: Box<[u8]>,
    /// The last write took everything: the next one will likely not block,
    /// so it is tried without asking poll first.
    writable: bool,
    /// Bytes written since the last look at the socket with `poll`.
    unpolled: usize,
    /// When the oldest unwritten byte last saw no progress (write timeout).
    pending_since: Option<Instant>,
    reading: bool,
    write_open: bool,
    finishing: bool,
    peer_closed: bool,
    linger_deadline: Option<Instant>,
}

impl<'a, const C: usize, const I: usize, const O: usize> Worker<'a, C, I, O> {
    fn new(config: Config, boxes: &'a Boxes<C, I, O>) -> Self {
        let batch = BATCH.max(C);
        Worker {
            config,
            boxes,
            report: ShutdownReport::new(Reason::Error),
            initial_pos: 0,
            wbuf: vec![0; batch].into_boxed_slice(),
            wstart: 0,
            wend: 0,
            rbuf: vec![0; batch].into_boxed_slice(),
            writable: true,
            unpolled: 0,
            pending_since: None,
            reading: true,
            write_open: true,
            finishing: false,
            peer_closed: false,
            linger_deadline: None,
        }
    }

    fn run(mut self) -> ShutdownReport {
        let end = match self.connect() {
            Ok((stream, peer)) => {
                self.setup(&stream);
                log::debug!("connected to {peer}");
                self.signal(Signal::Connected(peer));
                let end = self.serve(&stream);
                self.close(stream, end.reason);
                end
            }
            Err(end) => end,
        };
        self.finish(end)
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

    fn stop_requested(&self) -> Option<End> {
        match self.boxes.core.control() {
            Some(Control::Abort) => Some(End {
                reason: Reason::Aborted,
            }),
            Some(Control::Shutdown) => Some(End {
                reason: Reason::Shutdown,
            }),
            _ => None,
        }
    }

    fn fail(&mut self, phase: Phase, err: &io::Error) -> End {
        let error = Error::from_io(phase, err);
        self.signal(Signal::Error(error.clone()));
        self.report.error = Some(error);
        // A failed flush after the server closed ends as "peer closed",
        // with the loss in `unsent`.
        let reason = if self.peer_closed && phase == Phase::Write {
            Reason::PeerClosed
        } else {
            Reason::Error
        };
        End { reason }
    }

    /// Resolves and connects within one budget, trying each address in
    /// order; checks control between attempts.
    fn connect(&mut self) -> Result<(TcpStream, SocketAddr), End> {
        // A budget too large for the clock means no limit.
        let deadline = Instant::now().checked_add(self.config.connect_timeout);
        if let Some(end) = self.stop_requested() {
            return Err(end);
        }
        let host = self.config.host.trim();
        // Accept "[::1]" as well as "::1".
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            let e = io::Error::new(io::ErrorKind::InvalidInput, "empty host name");
            return Err(self.fail(Phase::Resolve, &e));
        }
        let addrs = match (host, self.config.port).to_socket_addrs() {
            Ok(a) => a,
            Err(e) => {
                // Resolver failures other than OS errors come without an
                // errno and an uncategorised kind: call them "not found".
                let e = if e.raw_os_error().is_none() {
                    io::Error::new(io::ErrorKind::NotFound, e.to_string())
                } else {
                    e
                };
                return Err(self.fail(Phase::Resolve, &e));
            }
        };
        let family = self.config.family;
        let mut last: Option<io::Error> = None;
        let mut tried = 0;
        for addr in addrs.filter(|a| match family {
            IpFamily::Any => true,
            IpFamily::V4 => a.is_ipv4(),
            IpFamily::V6 => a.is_ipv6(),
        }) {
            tried += 1;
            if let Some(end) = self.stop_requested() {
                return Err(end);
            }
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                last = Some(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
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
                return Err(self.fail(Phase::Resolve, &e));
            }
            None => io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        };
        if let Some(end) = self.stop_requested() {
            return Err(end);
        }
        Err(self.fail(Phase::Connect, &e))
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

    fn has_pending(&self) -> bool {
        self.initial_left() > 0 || self.wstart < self.wend
    }

    /// Moves inbox chunks into the write buffer while they fit, under one
    /// lock.
    fn refill(&mut self) {
        if self.wstart == self.wend {
            self.wstart = 0;
            self.wend = 0;
        } else if self.wbuf.len() - self.wend < C {
            self.wbuf.copy_within(self.wstart..self.wend, 0);
            self.wend -= self.wstart;
            self.wstart = 0;
        }
        let Worker {
            wbuf, wend, boxes, ..
        } = self;
        boxes.inbox.take_while(|chunk| {
            let Some(room) = wbuf.get_mut(*wend..*wend + chunk.len()) else {
                return false;
            };
            room.copy_from_slice(chunk);
            *wend += chunk.len();
            true
        });
    }

    /// One write of pending bytes: the initial message first, then the
    /// batch.
    fn write_some(&mut self, stream: &TcpStream, now: Instant) -> io::Result<()> {
        let initial_left = self.initial_left();
        let buf = if initial_left > 0 {
            &self.config.initial[self.initial_pos..]
        } else {
            &self.wbuf[self.wstart..self.wend]
        };
        let want = buf.len();
        match (&*stream).write(buf) {
            Ok(n) => {
                if initial_left > 0 {
                    self.initial_pos += n;
                } else {
                    self.wstart += n;
                }
                self.report.sent += n as u64;
                self.unpolled = self.unpolled.saturating_add(n);
                self.writable = n == want;
                if n > 0 {
                    self.pending_since = Some(now);
                }
                Ok(())
            }
            Err(e) if is_transient(&e) => {
                self.writable = false;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One read into the outbox, no more than it has room for.
    fn read_some(&mut self, stream: &TcpStream) -> Result<(), End> {
        let room = self.boxes.outbox.room();
        if room == 0 {
            return Ok(());
        }
        let want = self.rbuf.len().min(room.saturating_mul(C));
        match (&*stream).read(&mut self.rbuf[..want]) {
            Ok(0) => {
                log::debug!("peer closed");
                self.peer_closed = true;
                self.reading = false;
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
                    .fill_from(|| pieces.next().map(chunk_of::<C>));
                debug_assert_eq!(queued, n.div_ceil(C));
                Ok(())
            }
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(self.fail(Phase::Read, &e)),
        }
    }

    /// The connected loop. Returns why it stopped.
    fn serve(&mut self, stream: &TcpStream) -> End {
        let fd = stream.as_raw_fd();
        let core = &*self.boxes.core;
        loop {
            if let Some(end) = self.stop_requested() {
                return end;
            }
            if !self.finishing && core.control() == Some(Control::ProducerFinished) {
                self.finishing = true;
                // Everything accepted before this point is still written.
                self.boxes.inbox.close();
            }
            if self.write_open {
                let had = self.has_pending();
                self.refill();
                if !had && self.has_pending() {
                    self.pending_since = Some(Instant::now());
                }
            }
            let now = Instant::now();
            if self.write_open && self.has_pending() && self.writable {
                if let Err(e) = self.write_some(stream, now) {
                    return self.fail(Phase::Write, &e);
                }
                if !self.has_pending() {
                    self.pending_since = None;
                }
                // A busy upload keeps writing without polling, but looks
                // at the socket at least every READ_CHECK_EVERY bytes so
                // the server's replies are not starved.
                // (Only if there is room to read into: with the outbox
                // full a look finds nothing to do.)
                let look_due = self.reading
                    && self.unpolled >= READ_CHECK_EVERY
                    && self.boxes.outbox.room() >= read_room::<O>();
                if self.writable && !look_due {
                    continue;
                }
            }
            let drained =
                !self.has_pending() && self.boxes.inbox.is_closed() && self.boxes.inbox.is_empty();
            if drained && self.finishing && self.write_open {
                if let Err(e) = stream.shutdown(Shutdown::Write) {
                    return self.fail(Phase::Shutdown, &e);
                }
                log::debug!(
                    "write side closed; lingering up to {:?}",
                    self.config.linger
                );
                self.write_open = false;
                // A linger too large for the clock: wait for the server.
                self.linger_deadline = now.checked_add(self.config.linger);
            }
            if drained && self.peer_closed {
                let reason = if self.finishing {
                    Reason::Finished
                } else {
                    Reason::PeerClosed
                };
                return End { reason };
            }
            if self.linger_deadline.is_some_and(|d| now >= d) {
                log::debug!("linger time over");
                return End {
                    reason: Reason::Finished,
                };
            }
            let write_deadline = match (
                self.write_open && self.has_pending(),
                self.pending_since,
                self.config.write_timeout,
            ) {
                (true, Some(since), Some(limit)) => match since.checked_add(limit) {
                    // A limit too large for the clock is no limit.
                    None => None,
                    Some(d) if now >= d => {
                        let e = io::Error::new(
                            io::ErrorKind::TimedOut,
                            "write timed out: the server is not reading",
                        );
                        return self.fail(Phase::Write, &e);
                    }
                    Some(d) => Some(d),
                },
                _ => None,
            };

            let want_read = self.reading && self.boxes.outbox.room() >= read_room::<O>();
            let want_write = self.write_open && self.has_pending();
            core.park();
            // Re-check every box after marking ourselves parked (see
            // `Core::wake_worker`): anything that arrived before the mark is
            // seen here, anything after it notifies the eventfd.
            let more_input = self.write_open
                && self.wbuf.len() - self.wend + self.wstart >= C
                && !self.boxes.inbox.is_empty();
            let room_again =
                self.reading && !want_read && self.boxes.outbox.room() >= read_room::<O>();
            let control_now = match core.control() {
                Some(Control::ProducerFinished) => !self.finishing,
                Some(_) => true,
                None => false,
            };
            let write_now = want_write && self.writable;
            let busy = more_input || room_again || control_now || write_now;
            if busy {
                core.unpark();
                if !(want_read && self.unpolled >= READ_CHECK_EVERY) {
                    continue;
                }
            }
            // Busy: only a look at the socket (zero timeout), no sleep.
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                match (write_deadline, self.linger_deadline) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
                .map(|d| d.saturating_duration_since(now))
            };
            let ready = sys::poll(fd, want_read, want_write, core.wake_fd(), timeout);
            core.unpark();
            self.unpolled = 0;
            let ready = match ready {
                Ok(r) => r,
                Err(e) => return self.fail(Phase::Read, &e),
            };
            if ready.woken {
                core.wake_fd().drain();
            }
            if want_write && ready.writable {
                self.writable = true;
            }
            if want_read && ready.readable {
                if let Err(end) = self.read_some(stream) {
                    return end;
                }
            }
        }
    }

    /// Closes the socket; for an abort, with `SO_LINGER` 0 so the server
    /// sees a reset.
    fn close(&self, stream: TcpStream, reason: Reason) {
        if reason == Reason::Aborted {
            if let Err(e) = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
                log::warn!("could not set SO_LINGER 0 for abort: {e}");
            }
        }
        drop(stream);
    }

    /// Counts what was accepted and not written, and builds the report.
    fn finish(mut self, end: End) -> ShutdownReport {
        self.boxes.inbox.close();
        let mut unsent = (self.initial_left() + (self.wend - self.wstart)) as u64;
        self.boxes.inbox.take_while(|chunk| {
            unsent += chunk.len() as u64;
            true
        });
        self.report.unsent = unsent;
        self.report.reason = end.reason;
        log::debug!("socket shutdown: {}", self.report);
        self.report
    }
}

/// Errors that mean "no progress this time", not a failed connection: the
/// I/O slice ran out, or a signal interrupted the call.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

// Keep the signal-capacity bound honest: Connected, PeerClosed, up to three
// errors and the final signal (six), plus the slot `signal` keeps free.
const _: () = assert!(SIGNAL_CAPACITY > 6);
