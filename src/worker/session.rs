//! With reconnect: the session, what lasts across connections. It owns the
//! kept window and the stream offsets that say what was written, resent
//! and delivered, and it answers "what now" after a connection ends. The
//! worker calls it; without reconnect there is none.

use std::time::{Duration, Instant};

use super::written::LastWrite;
use crate::databox::{Boxes, WorkerInbox};
use crate::message::{Control, Error, Reason, ShutdownReport};
use crate::reconnect::{Backoff, Delivery, Kept, Rng};
use crate::routes::Watch;

/// What to do after a connection ended (or a connect attempt failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Wait `delay`, then make connect attempt `attempt`.
    Connect { attempt: u32, delay: Duration },
    /// The component ends, with this reason.
    End(Reason),
}

/// What lasts across connections, with reconnect.
pub(super) struct Session {
    backoff: Backoff,
    rng: Rng,
    delivery: Delivery,
    /// The initial message's length: it is accepted once, and written
    /// again at the start of every connection.
    initial: u64,
    /// The most one send takes (a chunk): the kept window takes another
    /// send only with this much room.
    chunk: usize,
    /// Accepted inbox bytes: kept from when they are taken until they are
    /// delivered, so a new connection can write them again.
    kept: Kept,
    /// Connect attempts since the connection was lost (0 once connected).
    attempt: u32,
    /// When the connection was lost, for `max_elapsed`.
    lost_at: Option<Instant>,
    /// Totals over the connections that ended.
    sent: u64,
    received: u64,
    resent: u64,
    /// The most of the initial message any connection wrote, and had
    /// acknowledged (repeats of it count as resent).
    initial_written_max: u64,
    initial_acked_max: u64,
    /// The furthest stream offset (of inbox bytes) ever written.
    written_max: u64,
    /// The furthest stream offset the server's TCP acknowledged.
    acked_stream: u64,
    /// The stream offset the current connection's inbox bytes start at.
    conn_base: u64,
    /// The application's confirmed count as last acted on
    /// (`Delivery::Confirmed`).
    seen_confirmed: u64,
    /// The error of the last connection or connect attempt that failed.
    last_error: Option<Error>,
}

impl Session {
    /// A session with a kept window of `window` bytes (at least one
    /// `chunk`), allocated here, once.
    pub(super) fn new(
        backoff: Backoff,
        window: usize,
        chunk: usize,
        delivery: Delivery,
        initial: usize,
    ) -> Session {
        Session {
            backoff,
            rng: Rng::seeded(),
            delivery,
            initial: initial as u64,
            chunk,
            kept: Kept::new(window, chunk),
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
            seen_confirmed: 0,
            last_error: None,
        }
    }

    pub(super) fn kept(&self) -> &Kept {
        &self.kept
    }

    pub(super) fn kept_mut(&mut self) -> &mut Kept {
        &mut self.kept
    }

    /// The kept window has room for another send.
    pub(super) fn can_take(&self) -> bool {
        self.kept.fits(self.chunk)
    }

    /// The kept window moves with TCP's acknowledgements while the
    /// connection runs (else with the application's confirmations).
    pub(super) fn follows_acks(&self) -> bool {
        self.delivery == Delivery::TcpAck
    }

    /// A connection is up: the attempts start over, and it writes again
    /// from the first byte not delivered.
    pub(super) fn connected(&mut self) {
        self.attempt = 0;
        self.lost_at = None;
        self.last_error = None;
        self.kept.rewind();
        self.conn_base = self.kept.written();
    }

    /// A connection or connect attempt failed with `error`.
    pub(super) fn failed(&mut self, error: &Error) {
        self.last_error = Some(error.clone());
    }

    /// `n` bytes of the initial message from offset `at` were written;
    /// returns those written on an earlier connection (resent), and the
    /// furthest offset before, for [`Session::take_back`].
    pub(super) fn wrote_initial(&mut self, at: u64, n: usize) -> (u64, u64) {
        let before = self.initial_written_max;
        let again = before.saturating_sub(at).min(n as u64);
        self.initial_written_max = before.max(at + n as u64);
        (again, before)
    }

    /// `n` bytes from the kept window were written: as
    /// [`Session::wrote_initial`], and the window moves past them.
    pub(super) fn wrote(&mut self, n: usize) -> (u64, u64) {
        let from = self.kept.written();
        let before = self.written_max;
        let again = before.saturating_sub(from).min(n as u64);
        self.written_max = before.max(from + n as u64);
        self.kept.advance(n);
        (again, before)
    }

    /// At a close: the last write's `n` bytes never reached the socket
    /// (TLS records still queued): they are neither written nor resent,
    /// and go out again as new. Returns how much of the connection's
    /// `resent` count they were.
    pub(super) fn take_back(&mut self, last: LastWrite, n: usize) -> u64 {
        if last.initial {
            self.initial_written_max = last.max_before;
        } else {
            self.written_max = last.max_before;
            self.kept.retreat(n);
        }
        last.resent
    }

    /// Moves the kept window past what is now wholly delivered: `acked`
    /// bytes of this connection acknowledged by the server's TCP (the
    /// initial message first), or `confirmed` by the application.
    pub(super) fn release(&mut self, acked: u64, confirmed: u64) {
        let acked_here = self.conn_base + acked.saturating_sub(self.initial);
        self.acked_stream = self.acked_stream.max(acked_here).min(self.written_max);
        let delivered = match self.delivery {
            Delivery::TcpAck => self.acked_stream,
            Delivery::Confirmed => {
                self.seen_confirmed = confirmed;
                confirmed.min(self.written_max)
            }
        };
        self.kept.release(delivered);
    }

    /// With `Delivery::Confirmed`: the application confirmed more than the
    /// worker last acted on.
    pub(super) fn confirm_pending(&self, confirmed: u64) -> bool {
        self.delivery == Delivery::Confirmed && confirmed > self.seen_confirmed
    }

    /// Everything written on this connection is delivered: with
    /// `Delivery::TcpAck`, all `sent` acknowledged; with `Confirmed`, the
    /// initial message (its `initial_pos` bytes written) acknowledged and
    /// the kept window's written bytes confirmed.
    pub(super) fn in_flight_delivered(&self, acked: u64, sent: u64, initial_pos: u64) -> bool {
        match self.delivery {
            Delivery::TcpAck => acked >= sent,
            Delivery::Confirmed => acked >= initial_pos && self.kept.head() >= self.kept.written(),
        }
    }

    /// Everything accepted was delivered, once `input_done` (the input
    /// finished and the inbox is empty) and some connection was made: the
    /// initial message acknowledged on some connection, and the kept
    /// window empty.
    pub(super) fn all_delivered(&self, connected_once: bool, input_done: bool) -> bool {
        connected_once
            && input_done
            && self.initial_acked_max >= self.initial
            && self.kept.is_empty()
    }

    /// Folds the connection that ended (`report`, its `acked` count and
    /// `unwritten` bytes) into the totals; returns its own report.
    pub(super) fn end_connection(
        &mut self,
        report: &ShutdownReport,
        ended: Reason,
        acked: u64,
        unwritten: u64,
    ) -> ShutdownReport {
        self.sent += report.sent;
        self.received += report.received;
        self.resent += report.resent;
        self.initial_acked_max = self.initial_acked_max.max(acked.min(self.initial));
        let mut conn = report.clone();
        conn.reason = ended;
        conn.acked = acked;
        conn.unsent = unwritten;
        conn
    }

    /// What now, after a connection ended with `ended` (or a connect
    /// attempt failed): `Shutdown` and `Abort` end the component; so does
    /// everything delivered (`Linger` stays: the reply may be cut short),
    /// and the backoff's limits; else another attempt after a delay.
    pub(super) fn next(&mut self, ended: Reason, all_delivered: bool, now: Instant) -> Next {
        if matches!(ended, Reason::Shutdown | Reason::Aborted) {
            return Next::End(ended);
        }
        if all_delivered {
            return Next::End(if ended == Reason::Linger {
                Reason::Linger
            } else {
                Reason::Finished
            });
        }
        let lost_at = *self.lost_at.get_or_insert(now);
        if self.backoff.max_attempts.is_some_and(|m| self.attempt >= m) {
            log::debug!("giving up after {} reconnect attempts", self.attempt);
            return Next::End(ended);
        }
        // Asked to reconnect (the network changed): no wait.
        let delay = if ended == Reason::NetworkChanged {
            Duration::ZERO
        } else {
            self.backoff.delay(self.attempt, &mut self.rng)
        };
        if let Some(limit) = self.backoff.max_elapsed {
            if now.saturating_duration_since(lost_at).saturating_add(delay) > limit {
                log::debug!(
                    "giving up: reconnecting for more than {} ms",
                    limit.as_millis() as u64
                );
                return Next::End(ended);
            }
        }
        self.attempt += 1;
        Next::Connect {
            attempt: self.attempt,
            delay,
        }
    }

    /// Waits until `until` before the next connect attempt, asleep in
    /// `poll` on the wake eventfd alone. `Shutdown` or `Abort` ends the
    /// component at once; so does a finished input with everything
    /// delivered (`acked`: what the last connection had acknowledged). The
    /// inbox keeps taking sends meanwhile, and confirmations move the kept
    /// window.
    pub(super) fn wait(
        &mut self,
        until: Option<Instant>,
        boxes: &Boxes,
        inbox: &WorkerInbox,
        acked: u64,
        connected_once: bool,
        watch: &mut Watch,
    ) -> Result<(), Reason> {
        let core = &*boxes.core;
        loop {
            if let Some(reason) = core.stop_requested() {
                return Err(reason);
            }
            if core.take_reconnect() {
                return Ok(());
            }
            if core.control() == Some(Control::ProducerFinished) && !inbox.is_closed() {
                boxes.inbox.close();
            }
            self.release(acked, core.confirmed());
            let input_done = inbox.is_closed() && inbox.is_empty();
            if self.all_delivered(connected_once, input_done) {
                return Err(Reason::Finished);
            }
            let now = Instant::now();
            if until.is_some_and(|u| now >= u) {
                return Ok(());
            }
            let parked = core.park();
            // Re-check after marking ourselves parked (see
            // `Core::wake_worker`).
            let control_now = core.reconnect_requested()
                || match core.control() {
                    Some(Control::ProducerFinished) => !inbox.is_closed(),
                    Some(_) => true,
                    None => false,
                };
            if control_now || self.confirm_pending(core.confirmed()) {
                continue;
            }
            let timeout = until.map(|u| u.saturating_duration_since(now));
            match parked.poll(|wake| watch.poll(-1, false, false, wake, timeout)) {
                // A route to the server appeared: try now.
                Ok((_, true)) if watch.route_back() => return Ok(()),
                Ok(_) => {}
                Err(e) => {
                    log::warn!("poll failed during the backoff wait: {e}");
                    return Ok(());
                }
            }
        }
    }

    /// The final report: the totals over every connection. `unwritten`:
    /// bytes taken from the inbox into the window never written; `queued`:
    /// the inbox bytes never taken; `confirmed`: the application's count.
    pub(super) fn totals(&self, reason: Reason, queued: u64, confirmed: u64) -> ShutdownReport {
        let mut r = ShutdownReport::new(reason);
        r.sent = self.sent;
        r.received = self.received;
        r.resent = self.resent;
        let taken_unwritten = self.kept.end() - self.written_max;
        r.unsent = (self.initial - self.initial_written_max) + taken_unwritten + queued;
        let delivered = match self.delivery {
            Delivery::TcpAck => self.acked_stream,
            Delivery::Confirmed => confirmed.min(self.written_max),
        };
        r.acked = self.initial_acked_max + delivered;
        r.lost = 0;
        if matches!(reason, Reason::Error | Reason::PeerClosed) {
            r.error = self.last_error.clone();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconnect::Jitter;

    fn session(backoff: Backoff) -> Session {
        Session::new(backoff, 4096, 1024, Delivery::TcpAck, 10)
    }

    fn fixed() -> Backoff {
        Backoff::default()
            .jitter(Jitter::Off)
            .initial(Duration::from_millis(100))
    }

    #[test]
    fn test_stop_requests_end_the_component() {
        let mut s = session(fixed());
        let now = Instant::now();
        for r in [Reason::Shutdown, Reason::Aborted] {
            assert_eq!(s.next(r, false, now), Next::End(r));
        }
    }

    #[test]
    fn test_all_delivered_finishes_and_linger_stays_linger() {
        let mut s = session(fixed());
        let now = Instant::now();
        assert_eq!(
            s.next(Reason::PeerClosed, true, now),
            Next::End(Reason::Finished)
        );
        assert_eq!(s.next(Reason::Linger, true, now), Next::End(Reason::Linger));
    }

    #[test]
    fn test_attempts_count_up_and_stop_at_the_limit() {
        let mut s = session(fixed().max_attempts(Some(2)));
        let now = Instant::now();
        assert_eq!(
            s.next(Reason::Error, false, now),
            Next::Connect {
                attempt: 1,
                delay: Duration::from_millis(100)
            }
        );
        assert_eq!(
            s.next(Reason::Error, false, now),
            Next::Connect {
                attempt: 2,
                delay: Duration::from_millis(200)
            }
        );
        assert_eq!(s.next(Reason::Error, false, now), Next::End(Reason::Error));
        s.connected();
        assert!(matches!(
            s.next(Reason::PeerClosed, false, now),
            Next::Connect { attempt: 1, .. }
        ));
    }

    #[test]
    fn test_max_elapsed_counts_from_the_loss() {
        let mut s = session(fixed().max_elapsed(Some(Duration::from_millis(250))));
        let t0 = Instant::now();
        assert!(matches!(
            s.next(Reason::Error, false, t0),
            Next::Connect { .. }
        ));
        // 100 ms after the loss the next wait (200 ms) would pass 250 ms.
        let later = t0 + Duration::from_millis(100);
        assert_eq!(
            s.next(Reason::Error, false, later),
            Next::End(Reason::Error)
        );
    }

    #[test]
    fn test_resent_counts_bytes_written_again() {
        let mut s = session(fixed());
        assert!(s.kept_mut().push(&[1; 100]));
        assert_eq!(s.wrote(60), (0, 0));
        // The connection ends with 60 written, none acknowledged.
        s.connected();
        let (again, before) = s.wrote(100);
        assert_eq!((again, before), (60, 60), "the first 60 again");
        // Acknowledged: the window empties once the initial message's
        // 10 bytes and the 100 are.
        s.release(110, 0);
        assert!(s.kept().is_empty());
        assert_eq!(s.wrote_initial(0, 10), (0, 0));
        assert_eq!(
            s.wrote_initial(0, 10),
            (10, 10),
            "the initial message again"
        );
    }

    #[test]
    fn test_totals_account_for_every_byte() {
        let mut s = session(fixed());
        assert!(s.kept_mut().push(&[1; 100]));
        assert!(s.kept_mut().push(&[2; 50]));
        s.wrote_initial(0, 10);
        s.wrote(100);
        s.release(10 + 40, 0);
        let mut conn = ShutdownReport::new(Reason::Error);
        conn.sent = 110;
        let c = s.end_connection(&conn, Reason::PeerClosed, 50, 50);
        assert_eq!((c.reason, c.acked, c.unsent), (Reason::PeerClosed, 50, 50));
        let r = s.totals(Reason::Error, 7, 0);
        assert_eq!(r.sent, 110);
        assert_eq!(r.acked, 10 + 40);
        // The 50 never written plus the 7 still queued in the inbox.
        assert_eq!(r.unsent, 57);
    }
}
