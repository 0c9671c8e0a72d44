//! A fixed-capacity, blocking, multi-producer multi-consumer queue: a ring
//! of `N` slots behind a [`Mutex`], with two [`Condvar`]s.
//!
//! The ring's `N` slots are allocated on the heap once, when the mailbox is
//! made (not on the caller's stack: a mailbox of sixteen 16 KiB chunks is
//! 256 KiB), and untouched slots cost no resident memory until they are
//! first used. It holds exactly `N` items, never allocates after it is
//! made, and hands
//! an item back to the caller whenever it cannot take it. Closing it wakes
//! every waiter: senders then get their item back, receivers drain what is
//! left and then see that it is closed.
//!
//! ```
//! use std::time::Duration;
//! use ttc::mailbox::{Mailbox, TrySendError};
//!
//! let mb: Mailbox<u32, 2> = Mailbox::new();
//! mb.try_send(1).unwrap();
//! mb.try_send(2).unwrap();
//! assert_eq!(mb.try_send(3), Err(TrySendError::Full(3))); // 3 comes back
//! assert_eq!(mb.recv_timeout(Duration::from_millis(10)), Ok(1));
//! mb.close();
//! assert_eq!(mb.try_recv(), Ok(2)); // what was queued is still delivered
//! assert!(mb.try_recv().is_err());
//! ```

use core::fmt;
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::PoisonError;
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::collections::VecDeque;

struct State<T, const N: usize> {
    queue: Ring<T, N>,
    closed: bool,
    // Waiter counts let the fast path skip the condvar's wake-up syscall
    // when nobody waits.
    waiting_receivers: u32,
    waiting_senders: u32,
}

/// A fixed-capacity blocking queue of `N` items. See the [module
/// docs](self).
pub struct Mailbox<T, const N: usize> {
    state: Mutex<State<T, N>>,
    not_empty: Condvar,
    not_full: Condvar,
    // Copies of the queue length and the closed flag, written under the
    // lock, read without it: a receiver that spins waiting for an item
    // (the outbox's receive spin) watches these instead of taking the lock
    // over and over, which would hold up the sender it waits for.
    len_hint: AtomicUsize,
    closed_hint: AtomicBool,
}

/// The queue could not take the item now; the item comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue holds its capacity.
    Full(T),
    /// The queue is closed: the connection has ended or is ending.
    Closed(T),
}

/// A blocking send gave up; the item comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// The queue stayed full for the whole timeout.
    Timeout(T),
    /// The queue is closed.
    Closed(T),
}

/// A receive without waiting found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// Nothing queued and nothing more will come.
    Closed,
}

/// A receive with a timeout found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived within the timeout.
    Timeout,
    /// Nothing queued and nothing more will come.
    Closed,
}

/// A blocking receive found the queue closed and empty: nothing more will
/// come (std's `RecvError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

/// A blocking send found the queue closed; the item comes back. Waiting
/// sends never fail for lack of room, so this can only mean "closed"
/// (std's `SendError`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The item that was not taken.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mailbox closed")
    }
}

impl<T> std::error::Error for SendError<T> {}

macro_rules! item_error {
    ($name:ident, $a:ident => $a_msg:literal, $b:ident => $b_msg:literal) => {
        impl<T> $name<T> {
            /// The item that was not taken.
            pub fn into_inner(self) -> T {
                match self {
                    $name::$a(t) | $name::$b(t) => t,
                }
            }
        }
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::$a(_) => f.write_str(concat!(stringify!($a), "(..)")),
                    $name::$b(_) => f.write_str(concat!(stringify!($b), "(..)")),
                }
            }
        }
        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::$a(_) => f.write_str($a_msg),
                    $name::$b(_) => f.write_str($b_msg),
                }
            }
        }
        impl<T> std::error::Error for $name<T> {}
    };
}
item_error!(TrySendError, Full => "mailbox full", Closed => "mailbox closed");
item_error!(SendTimeoutError, Timeout => "timed out waiting for room in the mailbox", Closed => "mailbox closed");

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "mailbox empty",
            TryRecvError::Closed => "mailbox closed",
        })
    }
}
impl std::error::Error for TryRecvError {}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvTimeoutError::Timeout => "timed out waiting for a message",
            RecvTimeoutError::Closed => "mailbox closed",
        })
    }
}
impl std::error::Error for RecvTimeoutError {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mailbox closed")
    }
}
impl std::error::Error for RecvError {}

impl<T, const N: usize> Default for Mailbox<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> fmt::Debug for Mailbox<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("Mailbox")
            .field("len", &s.queue.len())
            .field("capacity", &N)
            .field("closed", &s.closed)
            .finish()
    }
}

/// Where a blocking wait stops: never, or at an instant.
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Waits on `cv` for at most `left` (`None`: no limit).
fn wait<'a, T, const N: usize>(
    cv: &Condvar,
    s: MutexGuard<'a, State<T, N>>,
    left: Option<Duration>,
) -> MutexGuard<'a, State<T, N>> {
    match left {
        None => cv.wait(s).unwrap_or_else(PoisonError::into_inner),
        Some(left) => {
            cv.wait_timeout(s, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0
        }
    }
}

/// `N` slots allocated once: a `VecDeque` that is never let grow (every
/// push checks for room first), so it never allocates again.
struct Ring<T, const N: usize>(VecDeque<T>);

impl<T, const N: usize> Ring<T, N> {
    fn new() -> Self {
        Ring(VecDeque::with_capacity(N))
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn is_full(&self) -> bool {
        self.0.len() >= N
    }

    /// Queues `item` if there is room; otherwise hands it back.
    fn push_back(&mut self, item: T) -> Result<(), T> {
        if self.is_full() {
            return Err(item);
        }
        self.0.push_back(item);
        Ok(())
    }

    fn pop_front(&mut self) -> Option<T> {
        self.0.pop_front()
    }
}

impl<T, const N: usize> Mailbox<T, N> {
    /// An empty, open mailbox, its `N` slots allocated on the heap.
    #[cfg(not(loom))]
    pub fn new() -> Self {
        Mailbox {
            state: Mutex::new(State {
                queue: Ring::new(),
                closed: false,
                waiting_receivers: 0,
                waiting_senders: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            len_hint: AtomicUsize::new(0),
            closed_hint: AtomicBool::new(false),
        }
    }

    /// An empty, open mailbox. Under the loom model checker
    /// (tests/prop_loom_mailbox.rs) the locks are loom's.
    #[cfg(loom)]
    pub fn new() -> Self {
        Mailbox {
            state: Mutex::new(State {
                queue: Ring::new(),
                closed: false,
                waiting_receivers: 0,
                waiting_senders: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            len_hint: AtomicUsize::new(0),
            closed_hint: AtomicBool::new(false),
        }
    }

    // A panic elsewhere never leaves the queue half-updated (every update is
    // a single push or pop), so a poisoned lock is still safe to use.
    fn lock(&self) -> MutexGuard<'_, State<T, N>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many items it can hold.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// How many items are queued now.
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.lock().queue.is_empty()
    }

    /// True when it holds its capacity.
    pub fn is_full(&self) -> bool {
        self.lock().queue.is_full()
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Queues `item` if there is room, without waiting.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut s = self.lock();
        if s.closed {
            return Err(TrySendError::Closed(item));
        }
        match s.queue.push_back(item) {
            Ok(()) => {
                self.wake_receiver(&s);
                Ok(())
            }
            Err(item) => Err(TrySendError::Full(item)),
        }
    }

    /// Queues `item`, waiting up to `timeout` for room.
    pub fn send_timeout(&self, item: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(item, deadline_after(timeout))
    }

    /// Queues `item`, waiting for room as long as it takes. Fails only when
    /// the mailbox is closed.
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        self.send_until(item, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    fn send_until(&self, item: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut s = self.lock();
        let mut item = item;
        loop {
            if s.closed {
                return Err(SendTimeoutError::Closed(item));
            }
            match s.queue.push_back(item) {
                Ok(()) => {
                    self.wake_receiver(&s);
                    return Ok(());
                }
                Err(back) => item = back,
            }
            // Recompute what is left after every wake-up, so spurious
            // wake-ups never stretch the total wait.
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(SendTimeoutError::Timeout(item)),
                },
            };
            s.waiting_senders += 1;
            s = wait(&self.not_full, s, left);
            s.waiting_senders -= 1;
        }
    }

    /// Takes the oldest item without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.try_recv_room()
            .map(|(item, _)| item)
            .map_err(|closed| {
                if closed {
                    TryRecvError::Closed
                } else {
                    TryRecvError::Empty
                }
            })
    }

    /// Takes the oldest item and says how many free slots it left.
    /// `Err(true)` means closed and empty.
    pub(crate) fn try_recv_room(&self) -> Result<(T, usize), bool> {
        let mut s = self.lock();
        match s.queue.pop_front() {
            Some(item) => {
                self.wake_sender(&s);
                Ok((item, N - s.queue.len()))
            }
            None => Err(s.closed),
        }
    }

    /// Takes the oldest item, waiting up to `timeout` for one.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(deadline_after(timeout))
            .map(|(item, _)| item)
    }

    /// Takes the oldest item, waiting as long as it takes. Fails only when
    /// the mailbox is closed and empty.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None)
            .map(|(item, _)| item)
            .map_err(|_| RecvError)
    }

    /// Like `recv_timeout`, also saying how many free slots it left.
    pub(crate) fn recv_until(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(T, usize), RecvTimeoutError> {
        let mut s = self.wait_for_item(deadline)?;
        match s.queue.pop_front() {
            Some(item) => {
                self.wake_sender(&s);
                Ok((item, N - s.queue.len()))
            }
            // wait_for_item returns only with an item queued.
            None => Err(RecvTimeoutError::Closed),
        }
    }

    /// Locks the state and waits until an item is queued; `Closed` once
    /// closed and empty, `Timeout` at `deadline` (`Some` in the past: no
    /// wait at all). Recomputes the time left after every wake-up, so
    /// spurious wake-ups never stretch the total wait.
    fn wait_for_item(
        &self,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'_, State<T, N>>, RecvTimeoutError> {
        let mut s = self.lock();
        loop {
            if !s.queue.is_empty() {
                return Ok(s);
            }
            if s.closed {
                return Err(RecvTimeoutError::Closed);
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Err(RecvTimeoutError::Timeout),
                },
            };
            s.waiting_receivers += 1;
            s = wait(&self.not_empty, s, left);
            s.waiting_receivers -= 1;
        }
    }

    /// Closes the mailbox: later sends fail and hand their item back,
    /// receivers get what is queued and then `Closed`. Every waiter wakes.
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        self.closed_hint.store(true, Ordering::Relaxed);
        drop(s);
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    /// Free slots right now.
    pub(crate) fn room(&self) -> usize {
        N - self.lock().queue.len()
    }

    // Called, with the state, after every change of the queue's length
    // (each one then wakes whoever may wait for it).
    fn wake_receiver(&self, s: &State<T, N>) {
        self.len_hint.store(s.queue.len(), Ordering::Relaxed);
        if s.waiting_receivers > 0 {
            if s.waiting_receivers > 1 && s.queue.len() > 1 {
                self.not_empty.notify_all();
            } else {
                self.not_empty.notify_one();
            }
        }
    }

    fn wake_sender(&self, s: &State<T, N>) {
        self.len_hint.store(s.queue.len(), Ordering::Relaxed);
        if s.waiting_senders > 0 {
            self.not_full.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    #[test]
    fn test_full_try_send_hands_item_back() {
        let mb: Mailbox<u8, 1> = Mailbox::new();
        assert_eq!(mb.try_send(1), Ok(()));
        assert_eq!(mb.try_send(2), Err(TrySendError::Full(2)));
        assert_eq!(mb.len(), 1);
    }

    #[test]
    fn test_holds_exactly_capacity() {
        let mb: Mailbox<usize, 4> = Mailbox::new();
        for i in 0..4 {
            mb.try_send(i).unwrap();
        }
        assert!(mb.is_full());
        assert_eq!(mb.try_send(9).unwrap_err().into_inner(), 9);
    }

    #[test]
    fn test_closed_send_hands_item_back_and_drains() {
        let mb: Mailbox<u8, 2> = Mailbox::new();
        mb.try_send(7).unwrap();
        mb.close();
        assert_eq!(mb.try_send(8), Err(TrySendError::Closed(8)));
        assert_eq!(
            mb.send_timeout(9, Duration::from_secs(1)),
            Err(SendTimeoutError::Closed(9))
        );
        assert_eq!(mb.recv(), Ok(7));
        assert_eq!(mb.recv(), Err(RecvError));
        assert_eq!(mb.try_recv(), Err(TryRecvError::Closed));
    }

    #[test]
    fn test_recv_timeout_expires_on_empty() {
        let mb: Mailbox<u8, 2> = Mailbox::new();
        let t0 = Instant::now();
        assert_eq!(
            mb.recv_timeout(Duration::from_millis(30)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(t0.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn test_send_timeout_expires_on_full() {
        let mb: Mailbox<u8, 1> = Mailbox::new();
        mb.try_send(1).unwrap();
        assert_eq!(
            mb.send_timeout(2, Duration::from_millis(20)),
            Err(SendTimeoutError::Timeout(2))
        );
    }

    #[test]
    fn test_close_wakes_blocked_receiver() {
        let mb: Arc<Mailbox<u8, 1>> = Arc::new(Mailbox::new());
        let rx = mb.clone();
        let t = thread::spawn(move || rx.recv_timeout(Duration::from_secs(20)));
        // Close only once the receiver is blocked in its wait.
        let deadline = Instant::now() + Duration::from_secs(10);
        while mb.lock().waiting_receivers == 0 {
            assert!(Instant::now() < deadline, "receiver never blocked");
            thread::yield_now();
        }
        let t0 = Instant::now();
        mb.close();
        assert_eq!(t.join().unwrap(), Err(RecvTimeoutError::Closed));
        // Woken by the close, not by its 20 s timeout running out.
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }

    #[test]
    fn test_many_producers_one_consumer_lose_nothing() {
        let mb: Arc<Mailbox<u32, 3>> = Arc::new(Mailbox::new());
        let producers: Vec<_> = (0..4u32)
            .map(|p| {
                let mb = mb.clone();
                thread::spawn(move || {
                    for i in 0..1000 {
                        mb.send_timeout(p * 10_000 + i, Duration::from_secs(20))
                            .unwrap();
                    }
                })
            })
            .collect();
        let mut last = [None::<u32>; 4];
        for _ in 0..4000 {
            let v = mb.recv_timeout(Duration::from_secs(20)).unwrap();
            let p = (v / 10_000) as usize;
            // Each producer's items arrive in the order it sent them.
            assert!(last[p].is_none_or(|l| l < v));
            last[p] = Some(v);
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(mb.try_recv(), Err(TryRecvError::Empty));
    }
}
