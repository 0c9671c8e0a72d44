//! Reconnecting: the [`Backoff`] policy and its jitter, [`Delivery`] (what
//! counts as delivered), and the kept window: the bytes written but not
//! yet acknowledged, with their chunk boundaries, sent again on the next
//! connection.
//!
//! All of it is off unless [`Config::reconnect`](crate::Config::reconnect)
//! is set; the window is allocated once, when the worker starts.

use std::time::Duration;

/// How the wait before each reconnect attempt grows, and when to give up.
/// For [`Config::reconnect`](crate::Config::reconnect).
///
/// The wait before attempt *n* (counted from 0 since the connection was
/// lost) is at most `min(max, initial * factor^n)`; with
/// [`Jitter::Full`] (the default) it is a random time between zero and
/// that ("full jitter", from the AWS Architecture Blog's "Exponential
/// Backoff And Jitter"), so that many clients that lost the same server do
/// not all come back at the same moment. The count starts again once a
/// connection is up.
///
/// ```
/// use std::time::Duration;
/// use ttc::{Backoff, Jitter};
/// let b = Backoff::default()
///     .initial(Duration::from_millis(100))
///     .max(Duration::from_secs(5))
///     .jitter(Jitter::Off)
///     .max_attempts(Some(10));
/// assert_eq!(b.factor, 2);
/// // Or as a struct literal.
/// let b = Backoff { max_elapsed: Some(Duration::from_secs(60)), ..Backoff::default() };
/// assert_eq!(b.initial, Duration::from_millis(500));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    /// The longest wait before the first reconnect attempt (default 0.5 s).
    pub initial: Duration,
    /// How much the longest wait grows with each attempt (default 2).
    pub factor: u32,
    /// The longest wait ever (default 30 s).
    pub max: Duration,
    /// Random or fixed waits (default [`Jitter::Full`]).
    pub jitter: Jitter,
    /// Give up after this many reconnect attempts in a row without a
    /// connection (default `None`: never). The component then ends with
    /// the last error.
    pub max_attempts: Option<u32>,
    /// Give up when the next attempt would start this long after the
    /// connection was lost (default `None`: never).
    pub max_elapsed: Option<Duration>,
}

/// Whether the waits of a [`Backoff`] are random.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Jitter {
    /// A random wait between zero and the longest wait ("full jitter").
    #[default]
    Full,
    /// Always the longest wait: `min(max, initial * factor^n)`.
    Off,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(500),
            factor: 2,
            max: Duration::from_secs(30),
            jitter: Jitter::Full,
            max_attempts: None,
            max_elapsed: None,
        }
    }
}

impl Backoff {
    /// The longest wait before the first attempt.
    pub fn initial(mut self, initial: Duration) -> Backoff {
        self.initial = initial;
        self
    }

    /// How much the longest wait grows with each attempt.
    pub fn factor(mut self, factor: u32) -> Backoff {
        self.factor = factor;
        self
    }

    /// The longest wait ever.
    pub fn max(mut self, max: Duration) -> Backoff {
        self.max = max;
        self
    }

    /// Random or fixed waits.
    pub fn jitter(mut self, jitter: Jitter) -> Backoff {
        self.jitter = jitter;
        self
    }

    /// Give up after this many attempts in a row without a connection.
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Backoff {
        self.max_attempts = attempts;
        self
    }

    /// Give up when the next attempt would start this long after the
    /// connection was lost.
    pub fn max_elapsed(mut self, elapsed: Option<Duration>) -> Backoff {
        self.max_elapsed = elapsed;
        self
    }

    /// The wait before attempt `n` (0 for the first after a loss).
    pub(crate) fn delay(&self, n: u32, rng: &mut Rng) -> Duration {
        let mut cap = self.initial.min(self.max);
        for _ in 0..n {
            if cap >= self.max {
                break;
            }
            cap = cap.saturating_mul(self.factor).min(self.max);
        }
        match self.jitter {
            Jitter::Off => cap,
            Jitter::Full => {
                let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
                Duration::from_nanos(rng.below(nanos.saturating_add(1)))
            }
        }
    }
}

/// What moves the kept window, with reconnect: what counts as delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Bytes the server's TCP acknowledged (default). A server that
    /// acknowledged bytes and then died before its application read them
    /// has lost them: after a connection that ended with an error, the
    /// report counts what it acknowledged in
    /// [`ShutdownReport::unconfirmed`](crate::ShutdownReport::unconfirmed)
    /// (possibly lost). Use `Confirmed` when that matters.
    #[default]
    TcpAck,
    /// Bytes the application confirmed with
    /// [`Inbox::confirm`](crate::Inbox::confirm), after the server's own
    /// protocol said it has them (a receipt, MQTT's PUBACK...).
    Confirmed,
}

/// A tiny xorshift64* generator for the jitter, seeded from the clock, the
/// thread and an address (no crate for one random number per reconnect).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn seeded() -> Rng {
        use std::hash::{Hash, Hasher};
        /// FNV-1a, enough to spread a thread id over 64 bits.
        struct Fnv(u64);
        impl Hasher for Fnv {
            fn finish(&self) -> u64 {
                self.0
            }
            fn write(&mut self, bytes: &[u8]) {
                for &b in bytes {
                    self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        std::thread::current().id().hash(&mut h);
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let here = 0u8;
        let seed = h.finish() ^ clock ^ (&here as *const u8 as u64).rotate_left(32);
        Rng(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0); the modulo bias is negligible here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The kept window: with reconnect, the worker's write buffer. It holds the
/// bytes taken from the inbox from the first chunk not yet wholly
/// delivered (acknowledged or confirmed) up to the last chunk taken, as a
/// ring of bytes plus a ring of chunk lengths, both allocated once.
/// Offsets are positions in the stream of inbox bytes (0 = the first byte
/// the inbox ever accepted).
///
/// ```text
///   head            written                     end
///    |  kept: written, |  taken, not yet written  |   room ...
///    |  not delivered  |  on this connection      |
/// ```
///
/// A new connection starts again at `head`, a chunk boundary: it never
/// starts in the middle of a chunk. Nothing is written that is not kept,
/// so nothing written and unacknowledged is ever lost for sending again.
pub(crate) struct Kept {
    buf: Box<[u8]>,
    /// Lengths of the kept chunks, oldest at `first`.
    lens: Box<[u32]>,
    first: usize,
    count: usize,
    head: u64,
    written: u64,
    end: u64,
    /// Sends released so far: the send at `first` is send number
    /// `released + 1`, counted from the first send ever.
    released: u64,
}

impl Kept {
    /// A window of `window` bytes (at least `chunk`, one chunk), with room
    /// for the boundaries of chunks averaging 128 bytes or more.
    pub(crate) fn new(window: usize, chunk: usize) -> Kept {
        let window = window.max(chunk).max(1);
        let slots = (window / 128).max(64);
        Kept {
            buf: vec![0; window].into_boxed_slice(),
            lens: vec![0; slots].into_boxed_slice(),
            first: 0,
            count: 0,
            head: 0,
            written: 0,
            end: 0,
            released: 0,
        }
    }

    /// Bytes of room for new chunks.
    pub(crate) fn room(&self) -> usize {
        self.buf.len() - (self.end - self.head) as usize
    }

    /// Whether a chunk of `len` bytes fits.
    pub(crate) fn fits(&self, len: usize) -> bool {
        len <= self.room() && self.count < self.lens.len()
    }

    /// Bytes taken and not yet written on this connection.
    pub(crate) fn unwritten(&self) -> usize {
        (self.end - self.written) as usize
    }

    /// Nothing kept: everything taken was delivered.
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.end
    }

    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Takes a chunk if it fits; false (nothing taken) if not. An empty
    /// chunk is taken and needs no room.
    #[cfg(test)]
    pub(crate) fn push(&mut self, bytes: &[u8]) -> bool {
        self.push_parts(bytes, &[])
    }

    /// Takes a send given as two pieces (one send that wraps the inbox's
    /// ring) if it fits; false (nothing taken) if not.
    pub(crate) fn push_parts(&mut self, a: &[u8], b: &[u8]) -> bool {
        let len = a.len() + b.len();
        if len == 0 {
            return true;
        }
        if !self.fits(len) {
            return false;
        }
        let end = self.end;
        self.copy_at(end, a);
        self.copy_at(end + a.len() as u64, b);
        let slot = (self.first + self.count) % self.lens.len();
        // A send is at most the window, which is far below 4 GiB.
        self.lens[slot] = len as u32;
        self.count += 1;
        self.end += len as u64;
        true
    }

    /// Copies `bytes` into the ring at stream offset `at`.
    fn copy_at(&mut self, at: u64, bytes: &[u8]) {
        let cap = self.buf.len();
        let i = (at % cap as u64) as usize;
        let first = bytes.len().min(cap - i);
        self.buf[i..i + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
    }

    /// The next bytes to write: from `written`, up to the end of what was
    /// taken or the end of the ring, whichever comes first.
    pub(crate) fn next(&self) -> &[u8] {
        let cap = self.buf.len();
        let at = (self.written % cap as u64) as usize;
        let n = self.unwritten().min(cap - at);
        &self.buf[at..at + n]
    }

    /// `n` bytes of [`Kept::next`] were written.
    pub(crate) fn advance(&mut self, n: usize) {
        self.written = (self.written + n as u64).min(self.end);
    }

    /// The last `n` bytes written were not written after all (TLS records
    /// still queued when the connection ended); never before `head`.
    pub(crate) fn retreat(&mut self, n: usize) {
        self.written = self.written.saturating_sub(n as u64).max(self.head);
    }

    /// Drops the chunks that end at or before `delivered`; returns the new
    /// `head`.
    pub(crate) fn release(&mut self, delivered: u64) -> u64 {
        let delivered = delivered.min(self.written);
        while self.count > 0 {
            let len = u64::from(self.lens[self.first]);
            if self.head + len > delivered {
                break;
            }
            self.head += len;
            self.first = (self.first + 1) % self.lens.len();
            self.count -= 1;
            self.released += 1;
        }
        self.head
    }

    /// The stream offset at the end of send number `sends` (counted from
    /// the first send ever, across connections), at most what was written:
    /// `None` when that send was released already (its bytes are at or
    /// before `head`).
    pub(crate) fn end_of_send(&self, sends: u64) -> Option<u64> {
        let k = sends.checked_sub(self.released).filter(|&k| k > 0)?;
        let mut at = self.head;
        let mut i = self.first;
        for _ in 0..k.min(self.count as u64) {
            at += u64::from(self.lens[i]);
            i = (i + 1) % self.lens.len();
        }
        Some(at.min(self.written))
    }

    /// A new connection: write again from the first chunk not delivered.
    pub(crate) fn rewind(&mut self) {
        self.written = self.head;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_end_of_send_counts_sends_across_releases_and_stops_at_written() {
        let mut k = Kept::new(1024, 64);
        for len in [10usize, 20, 30, 40] {
            assert!(k.push(&vec![1u8; len]));
        }
        k.advance(60);
        // Send 1 ends at 10, 2 at 30, 3 at 60; 4 is not written yet.
        assert_eq!(k.end_of_send(0), None);
        assert_eq!(k.end_of_send(1), Some(10));
        assert_eq!(k.end_of_send(3), Some(60));
        assert_eq!(k.end_of_send(4), Some(60));
        assert_eq!(k.end_of_send(99), Some(60));
        // After sends 1 and 2 are released, numbering goes on.
        assert_eq!(k.release(30), 30);
        assert_eq!(k.end_of_send(2), None);
        assert_eq!(k.end_of_send(3), Some(60));
        k.advance(40);
        assert_eq!(k.end_of_send(4), Some(100));
    }

    #[test]
    fn test_backoff_grows_to_its_cap_without_jitter() {
        let b = Backoff::default()
            .initial(Duration::from_millis(100))
            .max(Duration::from_millis(700))
            .jitter(Jitter::Off);
        let mut rng = Rng::seeded();
        let waits: Vec<u128> = (0..6).map(|n| b.delay(n, &mut rng).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 700, 700, 700]);
        // No overflow for huge counts or factors.
        assert_eq!(b.delay(u32::MAX, &mut rng), Duration::from_millis(700));
        let big = b.factor(u32::MAX).max(Duration::MAX);
        assert_eq!(big.delay(3, &mut rng), Duration::MAX);
    }

    #[test]
    fn test_full_jitter_stays_below_the_cap_and_varies() {
        let b = Backoff::default().initial(Duration::from_millis(100));
        let mut rng = Rng::seeded();
        let waits: Vec<Duration> = (0..200).map(|_| b.delay(2, &mut rng)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(400)));
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(distinct.len() > 150, "{} distinct waits", distinct.len());
        assert!(waits.iter().any(|w| *w < Duration::from_millis(200)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(200)));
        let zero = Backoff::default().initial(Duration::ZERO);
        assert_eq!(zero.delay(5, &mut rng), Duration::ZERO);
    }

    #[test]
    fn test_kept_window_wraps_keeps_boundaries_and_rewinds() {
        let mut k = Kept::new(10, 4);
        assert!(k.push(b"abcd"));
        assert!(k.push(b"efg"));
        assert!(k.push(b"hi"));
        assert!(!k.push(b"jk"), "no room for 2 more bytes");
        assert_eq!(k.room(), 1);
        assert_eq!(k.next(), b"abcdefghi");
        k.advance(6);
        // Delivered up to 5: only the first chunk (0..4) is whole.
        assert_eq!(k.release(5), 4);
        assert_eq!(k.room(), 5);
        assert!(k.push(b"jklm"));
        // Wrapped: the ring holds efghi at 4..9 and jklm at 9, 0..3.
        assert_eq!(k.next(), b"ghij");
        k.advance(4);
        assert_eq!(k.next(), b"klm");
        // A lost connection: the next starts again at the chunk "efg".
        k.rewind();
        assert_eq!((k.head(), k.written(), k.end()), (4, 4, 13));
        assert_eq!(k.next(), b"efghij");
        k.advance(6);
        assert_eq!(k.next(), b"klm");
        k.advance(3);
        // Release never goes past what was written.
        assert_eq!(k.release(u64::MAX), 13);
        assert!(k.is_empty());
        assert!(k.push(b""));
        assert!(k.is_empty());
    }

    #[test]
    fn test_kept_window_is_bounded_by_its_chunk_slots() {
        let mut k = Kept::new(1 << 16, 1);
        let mut n = 0;
        while k.push(b"x") {
            n += 1;
        }
        assert_eq!(n, 512, "slots for 64 KiB / 128");
        k.advance(1);
        k.release(1);
        assert!(k.push(b"y"));
    }
}
