//! The producer side: reads stdin or a file into the client's inbox, at a
//! controlled rate when asked (the seed's `RateControlledFileReader`), and
//! sends `ProducerFinished` at the end of the input.

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ttc::{Control, ControlInbox};

use crate::run::Inbox;

use crate::output::{self, Format, CONSOLE};

/// Bytes read per step when the input is not paced.
const READ_SIZE: usize = 16 * 1024;

/// How many paced releases per second (each one a read and a send).
const RELEASES_PER_SEC: u64 = 50;

/// How far behind its schedule the pacer may fall (after a stall in the
/// network or the reader) and still catch up by sending faster. Beyond
/// this it restarts its schedule, so a long stall never turns into a long
/// burst.
const MAX_LAG: Duration = Duration::from_secs(1);

/// Token-bucket pacing against a monotonic clock. Byte `n` of the input is
/// due at `origin + n / rate`; deadlines are computed from the start, not
/// from the previous send, so rounding and oversleeping never accumulate.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: u64,
    origin: Instant,
    /// Bytes that were due at `origin`.
    base: u64,
}

impl Pacer {
    /// `rate` bytes per second (at least 1), starting now.
    pub fn new(rate: u64, now: Instant) -> Pacer {
        Pacer {
            rate: rate.max(1),
            origin: now,
            base: 0,
        }
    }

    /// Bytes to read and release per step: about 1/50 s of data, between 1
    /// byte and [`READ_SIZE`].
    pub fn step(&self) -> usize {
        (self.rate / RELEASES_PER_SEC).clamp(1, READ_SIZE as u64) as usize
    }

    /// How long to wait, at `now`, before the input up to byte `total`
    /// may be released.
    pub fn delay(&mut self, now: Instant, total: u64) -> Duration {
        let due = self.origin + bytes_to_time(total.saturating_sub(self.base), self.rate);
        if due > now {
            return due - now;
        }
        if now - due > MAX_LAG {
            // Too far behind: pretend these bytes were due MAX_LAG ago.
            self.origin = now.checked_sub(MAX_LAG).unwrap_or(now);
            self.base = total;
        }
        Duration::ZERO
    }
}

/// Time for `bytes` at `rate` bytes per second.
fn bytes_to_time(bytes: u64, rate: u64) -> Duration {
    let nanos = u128::from(bytes) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Opens once, when the connection is up (`true`) or has ended without
/// connecting (`false`): the pacer's clock and the progress line start at
/// the connection, not before it.
#[derive(Default)]
pub struct Gate {
    state: Mutex<Option<bool>>,
    opened: Condvar,
}

impl Gate {
    pub fn open(&self, connected: bool) {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if st.is_none() {
            *st = Some(connected);
            self.opened.notify_all();
        }
    }

    /// Waits until the gate opens; true if the connection is up.
    pub fn wait(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(up) = *st {
                return up;
            }
            st = self.opened.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The feeder's input. (An enum rather than a generic or a trait object:
/// one copy of the feeder in the binary, and no unused `Read` methods.)
pub enum Input {
    Stdin(io::Stdin),
    File(File),
}

impl Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Stdin(s) => s.read(buf),
            Input::File(f) => f.read(buf),
        }
    }
}

/// [`Feeder::state`]: the input is still being read (or the connection
/// ended first).
pub const INPUT_READING: u8 = 0;
/// [`Feeder::state`]: the input reached its end and all of it was taken.
pub const INPUT_ENDED: u8 = 1;
/// [`Feeder::state`]: reading the input failed.
pub const INPUT_FAILED: u8 = 2;
/// [`Feeder::state`]: the connection ended before the input did (the rest
/// of it was not taken).
pub const INPUT_CUT: u8 = 3;

/// Where a feeder takes its bytes from and what it reports.
pub struct Feeder {
    pub inbox: Inbox,
    pub control: ControlInbox,
    /// Bytes accepted by the inbox so far (for the progress line).
    pub accepted: Arc<AtomicU64>,
    /// How far it got: [`INPUT_READING`], [`INPUT_ENDED`],
    /// [`INPUT_FAILED`] (set before `ProducerFinished` is sent) or
    /// [`INPUT_CUT`].
    pub state: Arc<AtomicU8>,
    pub gate: Arc<Gate>,
    pub format: Format,
}

impl Feeder {
    /// Copies `input` into the inbox (paced to `rate` bytes per second if
    /// given), then sends `ProducerFinished`. Stops early, without
    /// `ProducerFinished`, if the connection ends first.
    pub fn run(self, mut input: Input, rate: Option<u64>) {
        let mut pacer = match rate {
            Some(r) => {
                if !self.gate.wait() {
                    return;
                }
                Some(Pacer::new(r, Instant::now()))
            }
            None => None,
        };
        if pacer.is_none() {
            return self.run_unpaced(input);
        }
        let step = pacer.as_ref().map_or(READ_SIZE, Pacer::step);
        let mut buf = vec![0u8; step];
        let mut total: u64 = 0;
        let mut end = INPUT_ENDED;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    end = self.input_failed(&e);
                    break;
                }
            };
            if let Some(p) = pacer.as_mut() {
                let wait = p.delay(Instant::now(), total + n as u64);
                if !wait.is_zero() {
                    // Pacing the release, not synchronising: the deadline
                    // comes from the clock, so oversleeping is caught up.
                    std::thread::sleep(wait);
                }
            }
            // The inbox applies backpressure: this waits while it is full.
            match self.inbox.send_slice(&buf[..n], Duration::MAX) {
                Ok(()) => {
                    total += n as u64;
                    self.accepted.store(total, Ordering::Relaxed);
                }
                Err(e) => {
                    // The connection ended (closed by the server, an error,
                    // or a shutdown): nothing more can be sent.
                    self.accepted
                        .store(total + e.accepted as u64, Ordering::Relaxed);
                    self.state.store(INPUT_CUT, Ordering::Release);
                    return;
                }
            }
        }
        self.state.store(end, Ordering::Release);
        self.control.send(Control::ProducerFinished);
    }

    /// The input is unreadable: says so; the connection then ends as at
    /// the end of the input. Returns the input state to record.
    fn input_failed(&self, e: &io::Error) -> u8 {
        CONSOLE.line(&output::error_line(
            self.format,
            "input",
            e.kind(),
            &e.to_string(),
        ));
        INPUT_FAILED
    }

    /// [`Feeder::run`] without a rate: each read goes straight into the
    /// inbox's free space (waiting while it is full), no buffer between.
    fn run_unpaced(self, mut input: Input) {
        let mut total: u64 = 0;
        let mut end = INPUT_ENDED;
        let source: &mut dyn Read = match &mut input {
            Input::Stdin(s) => s,
            Input::File(f) => f,
        };
        loop {
            match self.inbox.read_from(source, usize::MAX) {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => {
                    total += n as u64;
                    self.accepted.store(total, Ordering::Relaxed);
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => {
                    end = self.input_failed(&e);
                    break;
                }
                Err(e) => {
                    // The connection ended (closed by the server, an error,
                    // or a shutdown): nothing more can be sent. Whether the
                    // input had more to say: bytes read and not taken say
                    // so; else one read tells (an empty or used-up input
                    // ends here, which is a clean end).
                    let mut probe = [0u8; 1];
                    let state = match e.dropped {
                        0 if matches!(source.read(&mut probe), Ok(0)) => INPUT_ENDED,
                        _ => INPUT_CUT,
                    };
                    self.state.store(state, Ordering::Release);
                    return;
                }
            }
        }
        self.state.store(end, Ordering::Release);
        self.control.send(Control::ProducerFinished);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn test_pacer_due_times_follow_the_rate() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1000, t0);
        assert_eq!(p.step(), 20);
        // 500 bytes at 1000 B/s are due half a second in.
        assert_eq!(p.delay(t0, 500), 500 * MS);
        assert_eq!(p.delay(t0 + 200 * MS, 500), 300 * MS);
        assert_eq!(p.delay(t0 + 500 * MS, 500), Duration::ZERO);
    }

    #[test]
    fn test_pacer_does_not_drift_after_oversleeping() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1000, t0);
        // Woke 30 ms late for the first 100 bytes: the next 100 are still
        // due at 200 ms, not 230 ms.
        assert_eq!(p.delay(t0 + 130 * MS, 100), Duration::ZERO);
        assert_eq!(p.delay(t0 + 130 * MS, 200), 70 * MS);
    }

    #[test]
    fn test_pacer_caps_catch_up_after_a_long_stall() {
        let t0 = Instant::now();
        let mut p = Pacer::new(1000, t0);
        // Stalled for 10 s after 100 bytes: only MAX_LAG (1 s = 1000
        // bytes) may go out at once, then the rate holds again.
        let late = t0 + Duration::from_secs(10);
        assert_eq!(p.delay(late, 100), Duration::ZERO);
        assert_eq!(p.delay(late, 1100), Duration::ZERO);
        assert_eq!(p.delay(late, 1200), 100 * MS);
    }

    #[test]
    fn test_pacer_step_bounds() {
        let t0 = Instant::now();
        assert_eq!(Pacer::new(1, t0).step(), 1);
        assert_eq!(Pacer::new(100_000, t0).step(), 2000);
        assert_eq!(Pacer::new(u64::MAX, t0).step(), READ_SIZE);
        assert_eq!(bytes_to_time(u64::MAX, 1), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn test_gate_opens_once() {
        let g = Gate::default();
        g.open(true);
        g.open(false);
        assert!(g.wait());
    }
}
