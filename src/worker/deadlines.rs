//! The connection's clocks: write progress, the idle timeout, the linger
//! after our half-close, and the wait for acknowledgements; and which of
//! them fires next.

use std::io;
use std::time::{Duration, Instant};

use super::acks::ACK_WAIT;
use crate::config::Config;
use crate::message::Phase;

/// A clock of idle time that can pause: it measures the time since it was
/// last started; while paused it does not run, and resuming starts it
/// over. The idle timeout and the linger are both this: neither counts
/// time during which the worker does not listen to the server (the
/// outbox too full to read into: the application is the slow one then).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct IdleClock {
    /// When it last started (`None`: paused, or not started).
    since: Option<Instant>,
}

impl IdleClock {
    fn restart(&mut self, now: Instant) {
        self.since = Some(now);
    }

    fn pause(&mut self) {
        self.since = None;
    }

    /// Runs on if it runs; starts over if it was paused.
    fn resume(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// When `limit` of idle time will have passed (`None`: paused, no
    /// limit, or a limit too large for the clock).
    fn ends(&self, limit: Option<Duration>) -> Option<Instant> {
        self.since?.checked_add(limit?)
    }
}

/// Which deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Deadline {
    /// The oldest unwritten byte saw no progress for the write timeout.
    Write,
    /// The server sent nothing for the idle timeout while we listened.
    Idle,
    /// The linger: after our half-close, the server sent nothing for the
    /// linger time; with reconnect, a settling connection's time is up.
    Linger,
    /// With reconnect: look again at what the server acknowledged (no
    /// event says that an acknowledgement arrived).
    AckWait,
}

impl Deadline {
    /// The error a connection fails with when this deadline expires (the
    /// write and idle timeouts; the others end no connection).
    pub(super) fn error(self) -> (Phase, io::Error) {
        let (phase, text) = match self {
            Deadline::Idle => (Phase::Read, "idle timeout: nothing from the server"),
            _ => (Phase::Write, "write timed out: the server is not reading"),
        };
        (phase, io::Error::new(io::ErrorKind::TimedOut, text))
    }
}

/// The clocks of one connection, and the limits from the configuration.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadlines {
    write_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    linger: Option<Duration>,
    /// When the oldest unwritten byte last saw progress (`None`: nothing
    /// pending).
    pending_since: Option<Instant>,
    /// Since the server was last heard from, while we listen.
    idle: IdleClock,
    /// After our half-close: since the half-close, the last byte received
    /// or room again in the outbox.
    linger_clock: IdleClock,
}

impl Deadlines {
    pub(super) fn new(config: &Config) -> Deadlines {
        Deadlines {
            write_timeout: config.write_timeout,
            idle_timeout: config.idle_timeout,
            linger: config.linger,
            pending_since: None,
            idle: IdleClock::default(),
            linger_clock: IdleClock::default(),
        }
    }

    /// A connection starts: the idle time runs from now; nothing is
    /// pending, no linger.
    pub(super) fn connected(&mut self, now: Instant) {
        self.pending_since = None;
        self.idle.restart(now);
        self.linger_clock.pause();
    }

    /// Bytes to write are pending: the write timeout runs, from now if it
    /// did not already.
    pub(super) fn pending(&mut self, now: Instant) {
        self.pending_since.get_or_insert(now);
    }

    /// A write made progress: the write timeout starts over.
    pub(super) fn progress(&mut self, now: Instant) {
        self.pending_since = Some(now);
    }

    /// Nothing is pending any more.
    pub(super) fn none_pending(&mut self) {
        self.pending_since = None;
    }

    /// The server sent something: the idle time starts over, and so does
    /// the linger once we half-closed.
    pub(super) fn heard(&mut self, now: Instant, half_closed: bool) {
        self.idle.restart(now);
        if half_closed {
            self.linger_clock.restart(now);
        }
    }

    /// Our half-close: the linger starts.
    pub(super) fn half_closed(&mut self, now: Instant) {
        self.linger_clock.restart(now);
    }

    /// Whether the worker listens to the server now (it reads, with room
    /// in the outbox): the idle time runs only while it does.
    pub(super) fn idle_listening(&mut self, now: Instant, listening: bool) {
        if self.idle_timeout.is_none() {
            return;
        }
        if listening {
            self.idle.resume(now);
        } else {
            self.idle.pause();
        }
    }

    /// After our half-close: whether the outbox has room to read into; the
    /// linger runs only while it has.
    pub(super) fn linger_listening(&mut self, now: Instant, listening: bool) {
        if listening {
            self.linger_clock.resume(now);
        } else {
            self.linger_clock.pause();
        }
    }

    /// After our half-close: when the linger runs out, if nothing arrives
    /// before (`None` while it is paused or has no limit).
    pub(super) fn linger_ends(&self) -> Option<Instant> {
        self.linger_clock.ends(self.linger)
    }

    /// When a linger that starts `now` ends (with reconnect, for a
    /// connection the server closed first).
    pub(super) fn linger_from(&self, now: Instant) -> Option<Instant> {
        now.checked_add(self.linger?)
    }

    fn write_ends(&self, write_pending: bool) -> Option<Instant> {
        if !write_pending {
            return None;
        }
        // A limit too large for the clock is no limit.
        self.pending_since?.checked_add(self.write_timeout?)
    }

    /// A deadline that ends the connection with an error and has passed:
    /// the idle timeout, then the write timeout. `write_pending`: bytes
    /// may still be written on this connection and some are pending.
    pub(super) fn expired(&self, now: Instant, write_pending: bool) -> Option<Deadline> {
        let passed = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        if passed(self.idle.ends(self.idle_timeout)) {
            Some(Deadline::Idle)
        } else if passed(self.write_ends(write_pending)) {
            Some(Deadline::Write)
        } else {
            None
        }
    }

    /// The deadline that fires next, and when: the time the worker may
    /// sleep until at the latest. `linger`: when the linger (or a settling
    /// connection's time) runs out; `ack_wait`: the worker waits for
    /// acknowledgements and nothing else would wake it.
    pub(super) fn next(
        &self,
        now: Instant,
        write_pending: bool,
        linger: Option<Instant>,
        ack_wait: bool,
    ) -> Option<(Instant, Deadline)> {
        [
            (self.write_ends(write_pending), Deadline::Write),
            (linger, Deadline::Linger),
            (self.idle.ends(self.idle_timeout), Deadline::Idle),
            (
                ack_wait.then(|| now.checked_add(ACK_WAIT)).flatten(),
                Deadline::AckWait,
            ),
        ]
        .into_iter()
        .filter_map(|(at, which)| Some((at?, which)))
        .min_by_key(|&(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deadlines(write: u64, idle: u64, linger: u64) -> Deadlines {
        let config = Config::new("127.0.0.1", 1)
            .write_timeout(Some(Duration::from_secs(write)))
            .idle_timeout(Some(Duration::from_secs(idle)))
            .linger(Some(Duration::from_secs(linger)));
        Deadlines::new(&config)
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn test_idle_clock_resumes_from_zero() {
        let t0 = Instant::now();
        let mut c = IdleClock::default();
        assert_eq!(c.ends(Some(S)), None, "not started");
        c.restart(t0);
        assert_eq!(c.ends(Some(S)), Some(t0 + S));
        c.resume(t0 + 5 * S);
        assert_eq!(c.ends(Some(S)), Some(t0 + S), "running: resume keeps it");
        c.pause();
        assert_eq!(c.ends(Some(S)), None, "paused: no deadline");
        c.resume(t0 + 5 * S);
        assert_eq!(c.ends(Some(S)), Some(t0 + 6 * S), "starts over");
        assert_eq!(c.ends(None), None, "no limit");
    }

    #[test]
    fn test_idle_fires_only_while_listening() {
        let t0 = Instant::now();
        let mut d = deadlines(30, 2, 5);
        d.connected(t0);
        assert_eq!(d.expired(t0 + 2 * S, false), Some(Deadline::Idle));
        d.idle_listening(t0 + S, false);
        assert_eq!(d.expired(t0 + 10 * S, false), None, "paused");
        d.idle_listening(t0 + 10 * S, true);
        assert_eq!(d.expired(t0 + 11 * S, false), None);
        assert_eq!(d.expired(t0 + 12 * S, false), Some(Deadline::Idle));
        d.heard(t0 + 11 * S, false);
        assert_eq!(d.expired(t0 + 12 * S, false), None, "heard: starts over");
    }

    #[test]
    fn test_write_timeout_runs_while_pending_without_progress() {
        let t0 = Instant::now();
        let mut d = deadlines(3, 100, 5);
        d.connected(t0);
        d.pending(t0);
        d.pending(t0 + 2 * S);
        assert_eq!(d.expired(t0 + 3 * S, true), Some(Deadline::Write));
        assert_eq!(d.expired(t0 + 3 * S, false), None, "nothing to write");
        d.progress(t0 + 2 * S);
        assert_eq!(d.expired(t0 + 3 * S, true), None);
        d.none_pending();
        assert_eq!(d.expired(t0 + 10 * S, true), None);
    }

    #[test]
    fn test_linger_starts_at_the_half_close_and_pauses_without_room() {
        let t0 = Instant::now();
        let mut d = deadlines(30, 100, 5);
        d.connected(t0);
        assert_eq!(d.linger_ends(), None, "no half-close yet");
        d.heard(t0 + S, false);
        assert_eq!(d.linger_ends(), None, "hearing does not start it");
        d.half_closed(t0 + S);
        assert_eq!(d.linger_ends(), Some(t0 + 6 * S));
        d.heard(t0 + 2 * S, true);
        assert_eq!(d.linger_ends(), Some(t0 + 7 * S));
        d.linger_listening(t0 + 3 * S, false);
        assert_eq!(d.linger_ends(), None);
        d.linger_listening(t0 + 4 * S, true);
        assert_eq!(d.linger_ends(), Some(t0 + 9 * S));
    }

    #[test]
    fn test_next_names_the_earliest() {
        let t0 = Instant::now();
        let mut d = deadlines(3, 2, 5);
        d.connected(t0);
        d.pending(t0);
        assert_eq!(
            d.next(t0, true, None, false),
            Some((t0 + 2 * S, Deadline::Idle))
        );
        assert_eq!(
            d.next(t0, true, Some(t0 + S), false),
            Some((t0 + S, Deadline::Linger))
        );
        assert_eq!(
            d.next(t0, true, None, true),
            Some((t0 + ACK_WAIT, Deadline::AckWait))
        );
        d.idle_listening(t0, false);
        assert_eq!(
            d.next(t0, true, None, false),
            Some((t0 + 3 * S, Deadline::Write))
        );
        assert_eq!(d.next(t0, false, None, false), None);
    }
}
