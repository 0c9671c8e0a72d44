//! A fixed-capacity byte ring with one writer and one reader, and the
//! sleep/wake protocol both directions of the data path share.
//!
//! The inbox and the outbox are each one [`Ring`]: the application's end
//! of it behind a mutex (its threads take turns), the worker's end owned
//! by the worker alone. Neither end takes a lock to move bytes: the write
//! position (`tail`) and the read position (`head`) are atomics, each
//! written by one side only, and the storage between them belongs to the
//! reader, the rest to the writer. Positions count bytes since the start
//! and wrap around `usize`; the capacity is a power of two, so a position
//! masked is an index, also across that wrap.
//!
//! **Sleeping and waking.** A side that finds nothing to do (a reader on
//! an empty ring, a writer on a full one) marks itself asleep, issues a
//! `SeqCst` fence, looks once more, and only then sleeps. The other side
//! changes the ring, issues a `SeqCst` fence, and looks at the mark.
//! Whichever comes second sees the other (the store-buffering pattern), so
//! no wake-up is lost, and a side that nobody waits for pays no syscall.
//! Wakes are batched by thresholds fixed at construction: a sleeping
//! reader is woken once a threshold of bytes is queued (or
//! when the writer says the burst is over, or at close), a sleeping writer
//! once [`Ring::wake_writer_at`] bytes are free.
//!
//! How a side sleeps is its own: the application's threads wait on the
//! ring's condvar ([`Ring::sleep_until`]); the worker sleeps in `poll(2)`
//! and is woken through its eventfd, so it only sets the mark
//! ([`Ring::mark_asleep`]) and the caller of [`Ring::reader_should_wake`] /
//! [`Ring::writer_should_wake`] decides which wake to use.
//!
//! This module and `sys.rs` are the only ones with `unsafe` code: here,
//! handing the two sides disjoint parts of the storage.
#![allow(unsafe_code)]

#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
// The reference count is no part of the protocol: std's, also under loom.
use std::sync::Arc;
use std::sync::PoisonError;
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Which side of a ring sleeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// The reader: waits for bytes.
    Reader,
    /// The writer: waits for room.
    Writer,
}

/// Keeps `head` and `tail` on cache lines of their own, so the writer's
/// stores do not evict the line the reader polls, and the other way round.
#[repr(align(64))]
struct Padded<T>(T);

/// The shared part of a ring: storage, positions, the closed flag and the
/// sleep marks. Made with [`ring`], which also gives its two ends.
pub(crate) struct Ring {
    storage: Storage,
    cap: usize,
    /// Bytes read so far (written by the reader only).
    head: Padded<AtomicUsize>,
    /// Bytes written so far (written by the writer only).
    tail: Padded<AtomicUsize>,
    closed: AtomicBool,
    /// A writer is publishing bytes with [`Writer::publish`] (only while
    /// it checks `closed` and stores `tail`).
    publishing: AtomicBool,
    /// How many threads of each side sleep, or are about to.
    readers_asleep: AtomicUsize,
    writers_asleep: AtomicUsize,
    wake_reader_at: usize,
    wake_writer_at: usize,
    /// Where the application's threads sleep.
    sleep: Mutex<()>,
    cv: Condvar,
}

/// A new ring of `capacity` bytes (rounded up to a power of two, at least
/// 2), its storage zeroed pages touched only as they are used. A sleeping
/// reader is woken once `wake_reader_at` bytes are queued, a sleeping
/// writer once `wake_writer_at` are free (both clamped into 1..=capacity).
pub(crate) fn ring(
    capacity: usize,
    wake_reader_at: usize,
    wake_writer_at: usize,
) -> std::io::Result<(Arc<Ring>, Writer, Reader)> {
    let cap = capacity.max(2).checked_next_power_of_two().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "ring capacity too large")
    })?;
    let ring = Arc::new(Ring {
        storage: Storage::new(cap)?,
        cap,
        head: Padded(AtomicUsize::new(0)),
        tail: Padded(AtomicUsize::new(0)),
        closed: AtomicBool::new(false),
        publishing: AtomicBool::new(false),
        readers_asleep: AtomicUsize::new(0),
        writers_asleep: AtomicUsize::new(0),
        wake_reader_at: wake_reader_at.clamp(1, cap),
        wake_writer_at: wake_writer_at.clamp(1, cap),
        sleep: Mutex::new(()),
        cv: Condvar::new(),
    });
    let writer = Writer {
        ring: ring.clone(),
        tail: 0,
    };
    let reader = Reader {
        ring: ring.clone(),
        head: 0,
    };
    Ok((ring, writer, reader))
}

impl Ring {
    /// The capacity in bytes.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Bytes queued now (a snapshot).
    pub(crate) fn len(&self) -> usize {
        // Head first: a tail loaded after it is never behind it.
        let head = self.head.0.load(Ordering::Acquire);
        let tail = self.tail.0.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.cap)
    }

    /// Bytes free now (a snapshot).
    pub(crate) fn free(&self) -> usize {
        self.cap - self.len()
    }

    /// True once [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Free bytes that wake a sleeping writer.
    pub(crate) fn wake_writer_at(&self) -> usize {
        self.wake_writer_at
    }

    /// Closes the ring: nothing more is published, the reader drains what
    /// is queued and then sees it closed. Every sleeping thread wakes.
    ///
    /// Bytes a writer publishes with [`Writer::publish`] are either queued
    /// before this returns (so a reader that looks after the close sees
    /// them) or refused: the writer stores "publishing" then loads
    /// `closed`, this stores `closed` then loads "publishing", each with a
    /// `SeqCst` fence between, so one of them sees the other. If this sees a publish in
    /// progress, it waits the few instructions until it is done.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        // The store-buffering pattern: a fence between the store and the
        // load on both sides (see `Core::wake_worker` for why fences).
        fence(Ordering::SeqCst);
        while self.publishing.load(Ordering::SeqCst) {
            #[cfg(loom)]
            loom::thread::yield_now();
            #[cfg(not(loom))]
            std::thread::yield_now();
        }
        self.notify_threads();
    }

    fn asleep(&self, side: Side) -> &AtomicUsize {
        match side {
            Side::Reader => &self.readers_asleep,
            Side::Writer => &self.writers_asleep,
        }
    }

    /// For a side that sleeps elsewhere (the worker, in `poll`): marks it
    /// asleep. The caller looks at the ring once more after this, before
    /// it sleeps, and calls [`mark_awake`](Self::mark_awake) when it wakes.
    pub(crate) fn mark_asleep(&self, side: Side) {
        self.asleep(side).fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Clears a mark set by [`mark_asleep`](Self::mark_asleep).
    pub(crate) fn mark_awake(&self, side: Side) {
        self.asleep(side).fetch_sub(1, Ordering::SeqCst);
    }

    /// For the writer, after it queued bytes: whether a sleeping reader
    /// must be woken now, because enough is queued, because the writer
    /// says so (`force`: the end of a burst, nothing more for now), or
    /// because the ring is closed. Pairs with the sleeper's mark.
    pub(crate) fn reader_should_wake(&self, force: bool) -> bool {
        fence(Ordering::SeqCst);
        self.readers_asleep.load(Ordering::Relaxed) > 0
            && (force || self.len() >= self.wake_reader_at || self.is_closed())
    }

    /// For the reader, after it took bytes: whether a sleeping writer must
    /// be woken now (enough room, or closed).
    pub(crate) fn writer_should_wake(&self) -> bool {
        fence(Ordering::SeqCst);
        self.writers_asleep.load(Ordering::Relaxed) > 0
            && (self.free() >= self.wake_writer_at || self.is_closed())
    }

    /// Wakes every application thread asleep on this ring. Takes the sleep
    /// lock only to order itself after a sleeper's last look; the notify
    /// itself is outside it.
    pub(crate) fn notify_threads(&self) {
        drop(self.sleep.lock().unwrap_or_else(PoisonError::into_inner));
        self.cv.notify_all();
    }

    /// For the application's threads: sleeps as `side` until `ready` (or
    /// the ring is closed), a wake-up, or `deadline` (`None`: no limit).
    /// Returns at once if `ready` holds after the mark; false if the
    /// deadline passed. The caller looks again either way: a wake-up is a
    /// hint, the ring has the truth.
    pub(crate) fn sleep_until(
        &self,
        side: Side,
        ready: impl Fn(&Ring) -> bool,
        deadline: Option<Instant>,
    ) -> bool {
        let guard = self.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        self.mark_asleep(side);
        if ready(self) || self.is_closed() {
            self.mark_awake(side);
            return true;
        }
        let in_time = match deadline {
            None => {
                drop(self.cv.wait(guard).unwrap_or_else(PoisonError::into_inner));
                true
            }
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => {
                    let (g, waited) = self
                        .cv
                        .wait_timeout(guard, left)
                        .unwrap_or_else(PoisonError::into_inner);
                    drop(g);
                    !waited.timed_out()
                }
                _ => {
                    drop(guard);
                    false
                }
            },
        };
        self.mark_awake(side);
        in_time
    }
}

/// The writing end: only one exists per ring.
pub(crate) struct Writer {
    ring: Arc<Ring>,
    /// Our own copy of `tail` (only we write it).
    tail: usize,
}

impl Writer {
    /// The ring this writes to.
    #[cfg(test)]
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// Bytes free now.
    pub(crate) fn free(&self) -> usize {
        let head = self.ring.head.0.load(Ordering::Acquire);
        self.ring.cap - self.tail.wrapping_sub(head)
    }

    /// Calls `f` with the free space from the write position, up to `max`
    /// bytes and the end of the storage (one contiguous region), and
    /// queues the bytes `f` says it wrote there (at most the region).
    /// With no free space, `f` is not called and the answer is `Ok(0)`.
    pub(crate) fn fill<E>(
        &mut self,
        max: usize,
        f: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let at = self.tail & (self.ring.cap - 1);
        let n = self.free().min(self.ring.cap - at).min(max);
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: `[at, at + n)` is free space: between tail and head +
        // cap, within the storage. Only the writer (us, `&mut self`)
        // touches free space, and the reader will not look at it before
        // `commit` publishes it with a release store.
        let wrote = unsafe { self.ring.storage.with_mut(at, n, f) }?.min(n);
        self.commit(wrote);
        Ok(wrote)
    }

    /// Queues all of `parts`, one after the other, if they fit together;
    /// otherwise queues nothing and returns false. The reader sees all of
    /// them or none.
    pub(crate) fn push_all(&mut self, parts: &[&[u8]]) -> bool {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total > self.free() {
            return false;
        }
        let mut at = self.tail;
        for part in parts {
            self.copy_in(at, part);
            at = at.wrapping_add(part.len());
        }
        self.publish(total)
    }

    /// Queues as much of `data` as fits, unless the ring is closed;
    /// returns how much.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.copy_in(self.tail, &data[..n]);
        if self.publish(n) {
            n
        } else {
            0
        }
    }

    /// Like [`fill`](Self::fill), but the bytes are queued only if the
    /// ring is not closed by then. Returns the bytes `f` wrote and whether
    /// they were queued (false: closed, nothing queued).
    pub(crate) fn fill_open<E>(
        &mut self,
        max: usize,
        f: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<(usize, bool), E> {
        let at = self.tail & (self.ring.cap - 1);
        let n = self.free().min(self.ring.cap - at).min(max);
        if n == 0 {
            return Ok((0, !self.ring.is_closed()));
        }
        // SAFETY: as in `fill`.
        let wrote = unsafe { self.ring.storage.with_mut(at, n, f) }?.min(n);
        Ok((wrote, self.publish(wrote)))
    }

    /// Queues the next `n` bytes (already in place) unless the ring is
    /// closed: the other half of [`Ring::close`]'s handshake. True if
    /// queued (or `n` is 0 and the ring open).
    pub(crate) fn publish(&mut self, n: usize) -> bool {
        self.ring.publishing.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let open = !self.ring.closed.load(Ordering::SeqCst);
        if open {
            self.commit(n);
        }
        self.ring.publishing.store(false, Ordering::SeqCst);
        open
    }

    /// Copies `data` into free space at position `at` (not yet
    /// published), in up to two pieces around the end of the storage.
    fn copy_in(&mut self, at: usize, data: &[u8]) {
        let cap = self.ring.cap;
        let i = at & (cap - 1);
        let first = data.len().min(cap - i);
        // SAFETY: the callers checked that `data.len()` bytes from `at`
        // are free space (see `fill`); the two pieces are that space.
        unsafe {
            self.ring.storage.copy_from(i, &data[..first]);
            self.ring.storage.copy_from(0, &data[first..]);
        }
    }

    fn commit(&mut self, n: usize) {
        if n > 0 {
            self.tail = self.tail.wrapping_add(n);
            self.ring.tail.0.store(self.tail, Ordering::Release);
        }
    }
}

/// The reading end: only one exists per ring.
pub(crate) struct Reader {
    ring: Arc<Ring>,
    /// Our own copy of `head` (only we write it).
    head: usize,
}

impl Reader {
    /// The ring this reads from.
    #[cfg(all(test, loom))]
    pub(crate) fn ring(&self) -> &Arc<Ring> {
        &self.ring
    }

    /// Bytes queued now.
    pub(crate) fn len(&self) -> usize {
        let tail = self.ring.tail.0.load(Ordering::Acquire);
        tail.wrapping_sub(self.head)
    }

    /// Calls `f` with the queued bytes from the read position, up to `max`
    /// and the end of the storage (one contiguous region), and takes the
    /// bytes `f` says it used (at most the region). With nothing queued,
    /// `f` is not called and the answer is `Ok(0)`.
    pub(crate) fn drain<E>(
        &mut self,
        max: usize,
        f: impl FnOnce(&[u8]) -> Result<usize, E>,
    ) -> Result<usize, E> {
        let at = self.head & (self.ring.cap - 1);
        let n = self.len().min(self.ring.cap - at).min(max);
        if n == 0 {
            return Ok(0);
        }
        // SAFETY: `[at, at + n)` is queued: between head and tail (the
        // acquire load in `len` makes the writer's bytes visible), within
        // the storage. The writer does not touch queued bytes until
        // `consume` gives them back with a release store.
        let used = unsafe { self.ring.storage.with(at, n, f) }?.min(n);
        self.consume(used);
        Ok(used)
    }

    /// Copies the oldest queued bytes into `buf` without taking them;
    /// returns how many (at most `buf.len()`).
    pub(crate) fn peek_into(&self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.len());
        let cap = self.ring.cap;
        let i = self.head & (cap - 1);
        let first = n.min(cap - i);
        // SAFETY: the `n` bytes from head are queued (see `drain`).
        unsafe {
            self.ring.storage.copy_to(i, &mut buf[..first]);
            self.ring.storage.copy_to(0, &mut buf[first..n]);
        }
        n
    }

    /// Calls `f` with the `len` queued bytes that start `offset` bytes
    /// after the read position, in place, as up to two pieces (around the
    /// end of the storage), without taking them. Bytes past what is
    /// queued are left out.
    pub(crate) fn peek_parts<R>(
        &self,
        offset: usize,
        len: usize,
        f: impl FnOnce(&[u8], &[u8]) -> R,
    ) -> R {
        let queued = self.len();
        let offset = offset.min(queued);
        let len = len.min(queued - offset);
        let cap = self.ring.cap;
        let i = self.head.wrapping_add(offset) & (cap - 1);
        let first = len.min(cap - i);
        // SAFETY: the `len` bytes from `head + offset` are queued (see
        // `drain`): in the storage, as one piece from `i` and the rest
        // from 0, which the writer does not touch until we consume them.
        unsafe {
            self.ring.storage.with(i, first, |a| {
                self.ring.storage.with(0, len - first, |b| f(a, b))
            })
        }
    }

    /// Takes the oldest queued bytes into `buf`; returns how many.
    pub(crate) fn pop_into(&mut self, buf: &mut [u8]) -> usize {
        let n = self.peek_into(buf);
        self.consume(n);
        n
    }

    /// Takes (drops) up to `n` queued bytes; returns how many.
    pub(crate) fn skip(&mut self, n: usize) -> usize {
        let n = n.min(self.len());
        self.consume(n);
        n
    }

    fn consume(&mut self, n: usize) {
        if n > 0 {
            self.head = self.head.wrapping_add(n);
            self.ring.head.0.store(self.head, Ordering::Release);
        }
    }
}

/// The ring's bytes.
#[cfg(not(loom))]
struct Storage {
    pages: crate::sys::Pages,
}

#[cfg(not(loom))]
impl Storage {
    fn new(len: usize) -> std::io::Result<Storage> {
        Ok(Storage {
            pages: crate::sys::Pages::new(len)?,
        })
    }

    /// # Safety
    /// `[at, at + len)` is within the storage and no one else reads or
    /// writes it until `f` returns.
    unsafe fn with_mut<R>(&self, at: usize, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        // SAFETY: by the caller's promise the region is ours alone, and
        // the pages are initialised (zero-filled) memory.
        f(unsafe { core::slice::from_raw_parts_mut(self.pages.as_ptr().add(at), len) })
    }

    /// # Safety
    /// `[at, at + len)` is within the storage and no one writes it until
    /// `f` returns.
    unsafe fn with<R>(&self, at: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: by the caller's promise nobody writes the region meanwhile.
        f(unsafe { core::slice::from_raw_parts(self.pages.as_ptr().add(at), len) })
    }

    /// # Safety
    /// As for [`with_mut`](Self::with_mut), for `data.len()` bytes at `at`.
    unsafe fn copy_from(&self, at: usize, data: &[u8]) {
        // SAFETY: in bounds and ours (caller); `data` is a different
        // borrow, so they do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), self.pages.as_ptr().add(at), data.len())
        }
    }

    /// # Safety
    /// As for [`with`](Self::with), for `buf.len()` bytes at `at`.
    unsafe fn copy_to(&self, at: usize, buf: &mut [u8]) {
        // SAFETY: in bounds and not written meanwhile (caller); `buf` is
        // an exclusive borrow of other memory.
        unsafe {
            core::ptr::copy_nonoverlapping(self.pages.as_ptr().add(at), buf.as_mut_ptr(), buf.len())
        }
    }
}

/// Under loom: one tracked cell per byte, so the model checker sees every
/// access of either side and reports any that races. Regions are lent
/// through a copy (loom cells are not a slice).
#[cfg(loom)]
struct Storage {
    cells: Box<[loom::cell::UnsafeCell<u8>]>,
}

// SAFETY: every access goes through loom's cells, which check them.
#[cfg(loom)]
unsafe impl Sync for Storage {}

#[cfg(loom)]
impl Storage {
    fn new(len: usize) -> std::io::Result<Storage> {
        Ok(Storage {
            cells: (0..len).map(|_| loom::cell::UnsafeCell::new(0)).collect(),
        })
    }

    unsafe fn with_mut<R>(&self, at: usize, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut tmp = vec![0u8; len];
        unsafe { self.copy_to(at, &mut tmp) };
        let r = f(&mut tmp);
        unsafe { self.copy_from(at, &tmp) };
        r
    }

    unsafe fn with<R>(&self, at: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut tmp = vec![0u8; len];
        unsafe { self.copy_to(at, &mut tmp) };
        f(&tmp)
    }

    unsafe fn copy_from(&self, at: usize, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            // SAFETY: the caller's promise, checked by loom.
            self.cells[at + i].with_mut(|p| unsafe { *p = *b });
        }
    }

    unsafe fn copy_to(&self, at: usize, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: the caller's promise, checked by loom.
            *b = self.cells[at + i].with(|p| unsafe { *p });
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn test_capacity_rounds_up_to_a_power_of_two() {
        let (r, _, _) = ring(100, 1, 1).unwrap();
        assert_eq!(r.capacity(), 128);
        let (r, _, _) = ring(0, 1, 1).unwrap();
        assert_eq!(r.capacity(), 2);
    }

    #[test]
    fn test_fifo_across_many_wraps() {
        let (r, mut w, mut rd) = ring(16, 1, 1).unwrap();
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        for round in 0..500 {
            let n = 1 + round % 13;
            let data: Vec<u8> = (0..n)
                .map(|_| {
                    next_in = next_in.wrapping_add(1);
                    next_in
                })
                .collect();
            let took = w.push(&data);
            // What did not fit is offered again next round.
            next_in = next_in.wrapping_sub((n - took) as u8);
            let mut buf = [0u8; 7];
            let got = rd.pop_into(&mut buf[..1 + round % 7]);
            for b in &buf[..got] {
                next_out = next_out.wrapping_add(1);
                assert_eq!(*b, next_out, "round {round}");
            }
            assert!(r.len() <= 16);
        }
    }

    #[test]
    fn test_fill_and_drain_lend_one_contiguous_region() {
        let (_, mut w, mut rd) = ring(8, 1, 1).unwrap();
        assert_eq!(w.push(b"abcdef"), 6);
        assert_eq!(rd.skip(5), 5);
        // Free: 2 bytes at the end, then 5 at the start.
        let got = w.fill(usize::MAX, |room| {
            assert_eq!(room.len(), 2);
            room.copy_from_slice(b"gh");
            Ok::<_, ()>(2)
        });
        assert_eq!(got, Ok(2));
        assert_eq!(w.push(b"ijklmno"), 5);
        let mut seen = Vec::new();
        while rd.len() > 0 {
            rd.drain(usize::MAX, |q| {
                seen.extend_from_slice(q);
                Ok::<_, ()>(q.len())
            })
            .unwrap();
        }
        assert_eq!(seen, b"fghijklm");
        // A closure that uses less than it is lent takes only that.
        w.push(b"xyz");
        rd.drain(usize::MAX, |_| Ok::<_, ()>(1)).unwrap();
        let mut rest = [0u8; 4];
        assert_eq!(rd.pop_into(&mut rest), 2);
        assert_eq!(&rest[..2], b"yz");
    }

    #[test]
    fn test_push_all_is_all_or_nothing_and_peek_does_not_take() {
        let (r, mut w, rd) = ring(8, 1, 1).unwrap();
        assert!(w.push_all(&[b"abc", b"de"]));
        assert!(!w.push_all(&[b"fgh", b"i"]), "9 bytes do not fit in 3");
        assert_eq!(r.len(), 5);
        let mut b = [0u8; 3];
        assert_eq!(rd.peek_into(&mut b), 3);
        assert_eq!(rd.peek_into(&mut b), 3);
        assert_eq!(&b, b"abc");
        assert_eq!(rd.len(), 5);
    }

    #[test]
    fn test_thresholds_decide_when_a_marked_sleeper_is_woken() {
        let (r, mut w, mut rd) = ring(16, 4, 8).unwrap();
        // Nobody asleep: never.
        w.push(b"abcd");
        assert!(!r.reader_should_wake(true));
        r.mark_asleep(Side::Reader);
        rd.skip(4);
        w.push(b"ab");
        assert!(!r.reader_should_wake(false), "2 < 4 queued");
        assert!(r.reader_should_wake(true), "the end of a burst");
        w.push(b"cd");
        assert!(r.reader_should_wake(false), "4 queued");
        r.mark_awake(Side::Reader);
        w.push(&[0; 12]);
        r.mark_asleep(Side::Writer);
        assert!(!r.writer_should_wake(), "0 free");
        rd.skip(7);
        assert!(!r.writer_should_wake(), "7 < 8 free");
        rd.skip(1);
        assert!(r.writer_should_wake(), "8 free");
        r.close();
        rd.skip(8);
        assert!(r.is_closed());
    }

    #[test]
    fn test_sleep_until_returns_at_the_deadline_and_on_close() {
        let (r, _w, _rd) = ring(8, 1, 1).unwrap();
        let t0 = Instant::now();
        let soon = Some(t0 + Duration::from_millis(20));
        assert!(!r.sleep_until(Side::Reader, |r| r.len() > 0, soon));
        assert!(t0.elapsed() >= Duration::from_millis(20));
        let r2 = r.clone();
        let t = std::thread::spawn(move || {
            r2.sleep_until(Side::Reader, |r| r.len() > 0, None);
            r2.is_closed()
        });
        // Close only once the sleeper is marked.
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.readers_asleep.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "reader never slept");
            std::thread::yield_now();
        }
        r.close();
        assert!(t.join().unwrap());
    }

    /// Two threads, one writer and one reader, through a small ring that
    /// wraps thousands of times: every byte arrives once, in order. (Miri
    /// runs this too: targets/ci.d/60-sanitizers.sh.)
    #[test]
    fn test_two_threads_stream_every_byte_in_order() {
        let total: usize = if cfg!(miri) { 3_000 } else { 1_000_000 };
        let (r, mut w, mut rd) = ring(64, 16, 32).unwrap();
        let writer = std::thread::spawn(move || {
            let mut sent = 0usize;
            while sent < total {
                let n = (total - sent).min(1 + sent % 23);
                let piece: Vec<u8> = (sent..sent + n).map(|i| i as u8).collect();
                let took = w.push(&piece);
                sent += took;
                if w.ring().reader_should_wake(took == 0) {
                    w.ring().notify_threads();
                }
                if took < n {
                    let want = n - took;
                    w.ring()
                        .sleep_until(Side::Writer, |r| r.free() >= want, None);
                }
            }
            w.ring().close();
        });
        let mut got = 0usize;
        let mut buf = [0u8; 19];
        loop {
            let n = rd.pop_into(&mut buf);
            for b in &buf[..n] {
                assert_eq!(*b, got as u8);
                got += 1;
            }
            if n > 0 && r.writer_should_wake() {
                r.notify_threads();
            }
            if n == 0 {
                if r.is_closed() && rd.len() == 0 {
                    break;
                }
                r.sleep_until(Side::Reader, |r| r.len() > 0, None);
            }
        }
        writer.join().unwrap();
        assert_eq!(got, total);
    }
}

/// The ring under the loom model checker, on this code (not a copy):
/// every interleaving and weak-memory outcome of small programs. (`cargo
/// test --lib loom_` with `RUSTFLAGS="--cfg loom"`:
/// targets/ci.d/60-loom.sh.)
#[cfg(all(test, loom))]
mod loom_ring {
    use super::*;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    /// A writer streams 0..6 through a 2-byte ring (three wraps) while a
    /// reader takes them: order and contents intact, no race on a byte.
    #[test]
    fn loom_fifo_integrity_across_wraps() {
        model(|| {
            let (r, mut w, mut rd) = ring(2, 1, 1).unwrap();
            let t = loom::thread::spawn(move || {
                let mut next = 0u8;
                while next < 6 {
                    if w.push(&[next]) == 1 {
                        next += 1;
                    } else {
                        loom::thread::yield_now();
                    }
                }
            });
            let mut want = 0u8;
            while want < 6 {
                let mut b = [0u8; 2];
                let n = rd.pop_into(&mut b);
                for x in &b[..n] {
                    assert_eq!(*x, want);
                    want += 1;
                }
                if n == 0 {
                    loom::thread::yield_now();
                }
            }
            t.join().unwrap();
            assert_eq!(r.len(), 0);
        });
    }

    /// A reader thread sleeps for bytes; the writer queues fewer than the
    /// reader's threshold, then ends its burst (force). The reader must
    /// not sleep through it (loom fails a run where all threads block).
    #[test]
    fn loom_reader_sleeping_on_empty_is_woken_below_threshold_by_burst_end() {
        model(|| {
            let (r, mut w, mut rd) = ring(4, 4, 1).unwrap();
            let t = loom::thread::spawn(move || {
                w.push(b"a");
                // Below the threshold: no wake on its own...
                if w.ring().reader_should_wake(false) {
                    w.ring().notify_threads();
                }
                // ...but the end of the burst wakes.
                if w.ring().reader_should_wake(true) {
                    w.ring().notify_threads();
                }
                w
            });
            let mut b = [0u8; 1];
            while rd.pop_into(&mut b) == 0 {
                r.sleep_until(Side::Reader, |r| r.len() > 0, None);
            }
            assert_eq!(&b, b"a");
            drop(t.join().unwrap());
        });
    }

    /// A reader thread sleeps for bytes; the writer queues enough to reach
    /// the threshold at once, without any force: that wakes it.
    #[test]
    fn loom_reader_is_woken_at_its_threshold() {
        model(|| {
            let (r, mut w, mut rd) = ring(4, 2, 1).unwrap();
            let t = loom::thread::spawn(move || {
                w.push(b"xy");
                if w.ring().reader_should_wake(false) {
                    w.ring().notify_threads();
                }
                w
            });
            let mut b = [0u8; 2];
            while rd.pop_into(&mut b) == 0 {
                r.sleep_until(Side::Reader, |r| r.len() > 0, None);
            }
            assert_eq!(&b, b"xy");
            drop(t.join().unwrap());
        });
    }

    /// Below the threshold the writer alone does not wake a sleeping reader
    /// (the batching); what it queued waits for the end of its burst. A
    /// writer that never says so leaves the reader asleep: loom finds that
    /// execution (a deadlock), which is why the worker ends every burst
    /// with a forced look (`WorkerOutbox::wake_reader(true)`) before it
    /// sleeps.
    #[test]
    #[should_panic(expected = "deadlock")]
    fn loom_below_threshold_without_burst_end_can_sleep_through() {
        model(|| {
            let (r, mut w, mut rd) = ring(4, 2, 1).unwrap();
            let t = loom::thread::spawn(move || {
                for b in [b"x", b"y"] {
                    w.push(b);
                    if w.ring().reader_should_wake(false) {
                        w.ring().notify_threads();
                    }
                }
                w
            });
            let mut got = 0;
            let mut b = [0u8; 2];
            while got < 2 {
                let n = rd.pop_into(&mut b[got..]);
                got += n;
                if got < 2 && n == 0 {
                    r.sleep_until(Side::Reader, |r| r.len() > 0, None);
                }
            }
            drop(t.join().unwrap());
        });
    }

    /// A writer thread sleeps on a full ring for room; the reader frees
    /// the threshold's worth and must wake it.
    #[test]
    fn loom_writer_sleeping_on_full_is_woken_at_its_threshold() {
        model(|| {
            let (r, mut w, mut rd) = ring(2, 1, 2).unwrap();
            assert_eq!(w.push(b"ab"), 2);
            let t = loom::thread::spawn(move || {
                let mut b = [0u8; 1];
                for _ in 0..2 {
                    rd.pop_into(&mut b);
                    if rd.ring().writer_should_wake() {
                        rd.ring().notify_threads();
                    }
                }
                rd
            });
            while w.free() < 2 {
                r.sleep_until(Side::Writer, |r| r.free() >= 2, None);
            }
            assert!(w.push_all(&[b"cd"]));
            drop(t.join().unwrap());
        });
    }

    /// The worker's edges: it marks itself asleep (it sleeps in `poll`, not
    /// here), looks once more, and an application thread that queues a
    /// byte (or frees room) meanwhile either is seen by that look or sees
    /// the mark and wakes it.
    #[test]
    fn loom_a_marked_worker_is_seen_or_woken_both_ways() {
        model(|| {
            let (r, mut w, rd) = ring(2, 1, 1).unwrap();
            let t = loom::thread::spawn(move || {
                w.push(b"z");
                w.ring().reader_should_wake(false)
            });
            r.mark_asleep(Side::Reader);
            let seen = rd.len() > 0;
            let woken = t.join().unwrap();
            r.mark_awake(Side::Reader);
            assert!(seen || woken, "byte neither seen nor woken for");
        });
        model(|| {
            let (r, mut w, mut rd) = ring(2, 1, 1).unwrap();
            assert_eq!(w.push(b"zz"), 2);
            let t = loom::thread::spawn(move || {
                rd.skip(1);
                rd.ring().writer_should_wake()
            });
            r.mark_asleep(Side::Writer);
            let seen = w.free() > 0;
            let woken = t.join().unwrap();
            r.mark_awake(Side::Writer);
            assert!(seen || woken, "room neither seen nor woken for");
        });
    }

    /// A send and a close of the inbox race: the send is either queued
    /// and seen by whoever drains after the close (it is counted), or
    /// refused (its caller gets it back). Never accepted and lost.
    #[test]
    fn loom_a_send_racing_the_close_is_counted_or_refused() {
        model(|| {
            let (r, mut w, rd) = ring(4, 1, 1).unwrap();
            let t = loom::thread::spawn(move || w.push(b"a") == 1);
            r.close();
            let queued = rd.len();
            let accepted = t.join().unwrap();
            assert_eq!(accepted, queued == 1);
        });
    }

    /// Closing wakes every sleeper: two readers asleep on an empty ring.
    #[test]
    fn loom_close_wakes_every_sleeper() {
        model(|| {
            let (r, _w, _rd) = ring(2, 1, 1).unwrap();
            let sleepers: Vec<_> = (0..2)
                .map(|_| {
                    let r = r.clone();
                    loom::thread::spawn(move || {
                        while !r.is_closed() {
                            r.sleep_until(Side::Reader, |r| r.len() > 0, None);
                        }
                    })
                })
                .collect();
            r.close();
            for s in sleepers {
                s.join().unwrap();
            }
        });
    }
}
