//! The inbox and the outbox: one byte [`Ring`] each way. The application's
//! end of each ring sits behind a mutex (its threads take turns, and only
//! among themselves); the worker's end is owned by the worker and takes no
//! lock. See ring.rs for the sleep/wake protocol and ARCHITECTURE.md for
//! the whole hand-off.
//!
//! The outbox is a byte stream: a receive takes what is queued, up to what
//! the caller has room for. The inbox keeps every send whole (a send that
//! does not fit is refused or waits, never cut), and with reconnect it also
//! keeps where each send starts: each one is queued behind a 4-byte length,
//! so that the kept window can send again "from the first send not wholly
//! delivered". Without reconnect nothing needs those boundaries, and the
//! worker writes to the socket straight from the ring.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;
use std::{fmt, io};

use crate::mailbox::Mailbox;
use crate::message::Chunk;
use crate::message::Signal;
use crate::ring::{self, Reader, Ring, Side, Writer};
use crate::wake::{Core, SIGNAL_CAPACITY};

/// Bytes of the length in front of each send when the inbox keeps
/// boundaries (with reconnect).
pub(crate) const FRAME_HEADER: usize = 4;

/// Pause instructions between two looks at an empty outbox while a
/// receive spins (a few hundred nanoseconds to a few microseconds,
/// depending on the CPU).
const SPIN_PAUSES: u32 = 64;

/// Why a send queued nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendFail {
    /// No room (for a waiting send: not before the deadline).
    Full,
    /// The inbox is closed.
    Closed,
}

/// Why a receive took nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvFail {
    /// Nothing queued (for a waiting receive: not before the deadline).
    Empty,
    /// Nothing queued and nothing more will come.
    Closed,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic never leaves a ring's end half-updated (positions move only
    // after the bytes are in place), so a poisoned lock is still safe.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The four ends of a new pair of data boxes: the application's and the
/// worker's end of the inbox, then of the outbox.
pub(crate) type Ends = (AppInbox, WorkerInbox, AppOutbox, WorkerOutbox);

/// Makes the inbox (`inbox_bytes`, sends of at most `max_send` bytes,
/// boundaries kept if `framed`) and the outbox (`outbox_bytes`).
pub(crate) fn new(
    inbox_bytes: usize,
    max_send: usize,
    framed: bool,
    outbox_bytes: usize,
) -> io::Result<Ends> {
    let header = if framed { FRAME_HEADER } else { 0 };
    let max_send = max_send + header;
    // The worker wants any input at once (latency); a sending thread that
    // waits for room is woken once half the ring is free, or room for the
    // largest send if that is more.
    let in_cap = inbox_bytes.max(max_send).max(2).next_power_of_two();
    let (in_ring, in_w, in_r) = ring::ring(in_cap, 1, (in_cap / 2).max(max_send))?;
    // A receiving thread is woken once a quarter of the outbox is queued
    // (or at the end of a burst); the worker, waiting for room to read
    // into, once half of it is free.
    let cap = outbox_bytes.max(2).next_power_of_two();
    let (out_ring, out_w, out_r) = ring::ring(cap, cap / 4, cap / 2)?;
    Ok((
        AppInbox {
            ring: in_ring.clone(),
            writer: Mutex::new(in_w),
            framed,
            scratch: Mutex::new(if framed {
                vec![0; max_send - FRAME_HEADER].into_boxed_slice()
            } else {
                Box::default()
            }),
        },
        WorkerInbox {
            ring: in_ring,
            reader: in_r,
            framed,
        },
        AppOutbox {
            ring: out_ring.clone(),
            reader: Mutex::new(out_r),
            spin_ok: AtomicBool::new(true),
            emptied: AtomicBool::new(true),
        },
        WorkerOutbox {
            ring: out_ring,
            writer: out_w,
        },
    ))
}

/// The application's end of the inbox (shared by every `Inbox` handle).
pub(crate) struct AppInbox {
    ring: Arc<Ring>,
    writer: Mutex<Writer>,
    framed: bool,
    /// With reconnect: room for one send, where
    /// [`read_from`](Self::read_from) reads before the send is queued
    /// behind its length (allocated once; empty without reconnect).
    scratch: Mutex<Box<[u8]>>,
}

impl fmt::Debug for AppInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_box(f, "Inbox", &self.ring)
    }
}

/// A box's `Debug`: what is queued, its capacity, whether it is closed.
fn debug_box(f: &mut fmt::Formatter<'_>, name: &str, ring: &Ring) -> fmt::Result {
    f.debug_struct(name)
        .field("len", &ring.len())
        .field("capacity", &ring.capacity())
        .field("closed", &ring.is_closed())
        .finish()
}

impl AppInbox {
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The room one send of `len` bytes takes.
    fn cost(&self, len: usize) -> usize {
        if self.framed {
            len + FRAME_HEADER
        } else {
            len
        }
    }

    /// Queues all of `data` as one send, or nothing.
    fn push(&self, w: &mut Writer, data: &[u8]) -> bool {
        if data.is_empty() {
            return true;
        }
        if self.framed {
            // A send is at most a chunk, far below 4 GiB.
            let header = (data.len() as u32).to_le_bytes();
            w.push_all(&[&header, data])
        } else {
            w.push_all(&[data])
        }
    }

    /// After bytes were queued: wakes the worker if it sleeps waiting for
    /// input.
    fn queued(&self, core: &Core) {
        if self.ring.reader_should_wake(false) {
            core.wake_worker();
        }
    }

    /// Queues `data` whole, without waiting.
    pub(crate) fn try_send(&self, core: &Core, data: &[u8]) -> Result<(), SendFail> {
        let mut w = lock(&self.writer);
        if self.ring.is_closed() {
            return Err(SendFail::Closed);
        }
        if !self.push(&mut w, data) {
            return Err(SendFail::Full);
        }
        drop(w);
        self.queued(core);
        Ok(())
    }

    /// Queues `data` whole, waiting until `deadline` (`None`: as long as
    /// it takes) for room.
    pub(crate) fn send_until(
        &self,
        core: &Core,
        data: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), SendFail> {
        let need = self.cost(data.len());
        loop {
            match self.try_send(core, data) {
                Err(SendFail::Full) => {}
                other => return other,
            }
            if !self
                .ring
                .sleep_until(Side::Writer, |r| r.free() >= need, deadline)
            {
                return Err(SendFail::Full);
            }
        }
    }

    /// Queues `data` in sends of at most `piece` bytes, as far as there is
    /// room, waiting until `deadline` for more. Returns the bytes queued,
    /// or those and why the rest was not.
    pub(crate) fn send_slice_until(
        &self,
        core: &Core,
        data: &[u8],
        piece: usize,
        deadline: Option<Instant>,
    ) -> Result<(), (usize, SendFail)> {
        let piece = piece.max(1);
        let mut done = 0;
        while done < data.len() {
            let mut w = lock(&self.writer);
            if self.ring.is_closed() {
                return Err((done, SendFail::Closed));
            }
            let before = done;
            if self.framed {
                // Whole pieces only: each is a send the kept window keeps.
                while done < data.len() {
                    let end = (done + piece).min(data.len());
                    if !self.push(&mut w, &data[done..end]) {
                        break;
                    }
                    done = end;
                }
            } else {
                // A byte stream: what fits goes in, in one copy.
                done += w.push(&data[done..]);
            }
            drop(w);
            if done > before {
                self.queued(core);
                continue;
            }
            let need = self.cost(piece.min(data.len() - done));
            if !self
                .ring
                .sleep_until(Side::Writer, |r| r.free() >= need, deadline)
            {
                return Err((done, SendFail::Full));
            }
        }
        Ok(())
    }

    /// Reads from `input` straight into the inbox's free space (one
    /// `read`, at most `max` bytes, with reconnect at most `piece`),
    /// waiting for room first, and queues what it read. `Ok(Ok(0))` is
    /// the input's end; `Err(n)` means the inbox closed, and the `n` bytes
    /// the read returned meanwhile (0 if it did not read) were not taken.
    pub(crate) fn read_from(
        &self,
        core: &Core,
        input: &mut dyn io::Read,
        max: usize,
        piece: usize,
    ) -> Result<io::Result<usize>, usize> {
        let need = self.cost(1);
        loop {
            let mut w = lock(&self.writer);
            if self.ring.is_closed() {
                return Err(0);
            }
            if w.free() >= need {
                let got = if self.framed {
                    // The length goes first: read into the scratch send,
                    // then queue both together.
                    let room = (w.free() - FRAME_HEADER).min(piece).min(max);
                    let mut scratch = lock(&self.scratch);
                    let room = room.min(scratch.len());
                    match input.read(&mut scratch[..room]) {
                        Ok(n) if n > 0 && !self.push(&mut w, &scratch[..n]) => Err(n),
                        r => Ok(r),
                    }
                } else {
                    match w.fill_open(max, |buf| input.read(buf)) {
                        Ok((n, true)) => Ok(Ok(n)),
                        Ok((n, false)) => Err(n),
                        Err(e) => Ok(Err(e)),
                    }
                };
                drop(w);
                return match got {
                    Err(n) => Err(n),
                    Ok(r) => {
                        if matches!(r, Ok(n) if n > 0) {
                            self.queued(core);
                        }
                        Ok(r)
                    }
                };
            }
            drop(w);
            self.ring
                .sleep_until(Side::Writer, |r| r.free() >= need, None);
        }
    }

    /// Closes the inbox: a send is either wholly queued before the close
    /// (and counted by whoever drains the ring) or refused
    /// ([`Ring::close`]).
    pub(crate) fn close(&self) {
        self.ring.close();
    }
}

/// The worker's end of the inbox.
pub(crate) struct WorkerInbox {
    ring: Arc<Ring>,
    reader: Reader,
    framed: bool,
}

impl WorkerInbox {
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Nothing queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.reader.len() == 0
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.ring.is_closed()
    }

    /// After bytes were taken: wakes the application's threads that wait
    /// for room, if there is enough now.
    fn taken(&self) {
        if self.ring.writer_should_wake() {
            self.ring.notify_threads();
        }
    }

    /// Without boundaries: calls `f` with the oldest queued bytes (up to
    /// `max`, one contiguous region) and takes what it used: the socket
    /// write straight from the ring.
    pub(crate) fn write_with(
        &mut self,
        max: usize,
        f: impl FnOnce(&[u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        debug_assert!(!self.framed);
        let r = self.reader.drain(max, f);
        if matches!(r, Ok(n) if n > 0) {
            self.taken();
        }
        r
    }

    /// With boundaries: offers each queued send, oldest first, to `take`
    /// (in place, as up to two pieces around the end of the ring) until it
    /// returns false (that send stays queued). Returns the payload bytes
    /// taken.
    pub(crate) fn take_sends(&mut self, mut take: impl FnMut(&[u8], &[u8]) -> bool) -> u64 {
        debug_assert!(self.framed);
        let mut taken = 0u64;
        loop {
            let mut header = [0u8; FRAME_HEADER];
            if self.reader.peek_into(&mut header) < FRAME_HEADER {
                break;
            }
            let len = u32::from_le_bytes(header) as usize;
            // The sender queues a header and its send together, so the
            // whole send is there.
            if !self.reader.peek_parts(FRAME_HEADER, len, &mut take) {
                break;
            }
            self.reader.skip(FRAME_HEADER + len);
            taken += len as u64;
        }
        if taken > 0 {
            self.taken();
        }
        taken
    }

    /// Takes everything queued; returns the payload bytes (the inbox is
    /// closed: they count as unsent).
    pub(crate) fn discard(&mut self) -> u64 {
        if self.framed {
            self.take_sends(|_, _| true)
        } else {
            let n = self.reader.skip(usize::MAX) as u64;
            self.taken();
            n
        }
    }
}

/// The application's end of the outbox (shared by every `Outbox` handle).
pub(crate) struct AppOutbox {
    ring: Arc<Ring>,
    reader: Mutex<Reader>,
    /// Whether a receive that finds the outbox empty may spin: not while
    /// the receiver follows a stream (the last time it found bytes after
    /// an empty outbox, a wake-up's worth was queued), where the wake-up
    /// thresholds batch the hand-off and a spin would only burn CPU; yes
    /// for replies and small messages, where it saves a wake-up.
    spin_ok: AtomicBool,
    /// The last receive emptied the outbox.
    emptied: AtomicBool,
}

impl fmt::Debug for AppOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_box(f, "Outbox", &self.ring)
    }
}

impl AppOutbox {
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Closes the outbox (the worker, at the end, after its last bytes):
    /// receivers take what is queued, then see the end.
    pub(crate) fn close(&self) {
        self.ring.close();
    }

    /// After bytes were taken: wakes the worker if it waits for room.
    fn taken(&self, core: &Core) {
        if self.ring.writer_should_wake() {
            core.wake_worker();
        }
    }

    /// Runs `take` on the reading end once something is queued, waiting
    /// until `deadline` (`Some` in the past: not at all). `take` returns
    /// the bytes it took (at least one when anything is queued).
    pub(crate) fn recv_with<R>(
        &self,
        core: &Core,
        deadline: Option<Instant>,
        mut take: impl FnMut(&mut Reader) -> (usize, R),
    ) -> Result<R, RecvFail> {
        let mut spun = false;
        loop {
            {
                let mut r = lock(&self.reader);
                // Closed first: a close seen here comes after the worker's
                // last bytes, so an empty ring then is empty for good.
                let closed = self.ring.is_closed();
                let queued = r.len();
                if queued > 0 {
                    if self.emptied.load(Ordering::Relaxed) {
                        // The first bytes after an empty outbox: a batch
                        // (a stream) or a reply.
                        let batch = queued >= self.ring.capacity() / 4;
                        self.spin_ok.store(!batch, Ordering::Relaxed);
                    }
                    let (n, out) = take(&mut r);
                    self.emptied.store(r.len() == 0, Ordering::Relaxed);
                    drop(r);
                    if n > 0 {
                        self.taken(core);
                    }
                    return Ok(out);
                }
                if closed {
                    return Err(RecvFail::Closed);
                }
            }
            if !spun && self.spin_ok.load(Ordering::Relaxed) {
                spun = true;
                if self.spin(core, deadline) {
                    continue;
                }
            }
            if !self
                .ring
                .sleep_until(Side::Reader, |r| r.len() > 0, deadline)
            {
                return Err(RecvFail::Empty);
            }
        }
    }

    /// While the worker is awake (likely reading), looks at the ring
    /// without sleeping for up to the spin limit ([`Config::recv_spin`]
    /// (crate::Config::recv_spin)), the deadline, or until the worker is
    /// seen asleep twice in a row. True if bytes came (or it closed).
    fn spin(&self, core: &Core, deadline: Option<Instant>) -> bool {
        let limit = core.recv_spin();
        if limit.is_zero() {
            return false;
        }
        let end = Instant::now() + limit;
        let end = deadline.map_or(end, |d| d.min(end));
        let mut parked_before = false;
        loop {
            if self.ring.len() > 0 || self.ring.is_closed() {
                return true;
            }
            let parked = core.worker_parked();
            if parked && parked_before {
                return false;
            }
            parked_before = parked;
            if Instant::now() >= end {
                return false;
            }
            for _ in 0..SPIN_PAUSES {
                std::hint::spin_loop();
            }
        }
    }

    /// The next (at most `C`) bytes as a chunk.
    pub(crate) fn recv_chunk<const C: usize>(
        &self,
        core: &Core,
        deadline: Option<Instant>,
    ) -> Result<Chunk<C>, RecvFail> {
        self.recv_with(core, deadline, |r| {
            let mut chunk = Chunk::new();
            while chunk.len() < C {
                let room = C - chunk.len();
                let got = r
                    .drain(room, |q| Ok::<usize, ()>(chunk.append_prefix(q)))
                    .unwrap_or(0);
                if got == 0 {
                    break;
                }
            }
            (chunk.len(), chunk)
        })
    }

    /// Copies what is queued into `buf`, as much as fits.
    pub(crate) fn recv_into(
        &self,
        core: &Core,
        buf: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<usize, RecvFail> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.recv_with(core, deadline, |r| {
            let n = r.pop_into(buf);
            (n, n)
        })
    }

    /// Writes what is queued to `out`, straight from the ring (one
    /// `write` per contiguous region); returns the bytes written.
    pub(crate) fn write_to(
        &self,
        core: &Core,
        out: &mut dyn io::Write,
        deadline: Option<Instant>,
    ) -> Result<io::Result<usize>, RecvFail> {
        self.recv_with(core, deadline, |r| {
            let mut total = 0;
            loop {
                match r.drain(usize::MAX, |q| out.write(q)) {
                    Ok(0) => break (total, Ok(total)),
                    Ok(n) => total += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break (total, if total > 0 { Ok(total) } else { Err(e) }),
                }
            }
        })
    }
}

/// The worker's end of the outbox.
pub(crate) struct WorkerOutbox {
    ring: Arc<Ring>,
    writer: Writer,
}

impl WorkerOutbox {
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Bytes of room.
    pub(crate) fn room(&self) -> usize {
        self.writer.free()
    }

    /// One read straight into the ring's free space (up to `max` bytes and
    /// the end of the storage); the bytes read are queued. `Ok(0)` from
    /// `read` means what it means for `read` (with room to read into).
    pub(crate) fn read_with(
        &mut self,
        max: usize,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.writer.fill(max, read)
    }

    /// Wakes a receiving thread that sleeps, if enough is queued or if
    /// `burst_over` (nothing more is coming for now).
    pub(crate) fn wake_reader(&self, burst_over: bool) {
        if self.ring.reader_should_wake(burst_over) {
            self.ring.notify_threads();
        }
    }
}

/// The boxes as both sides share them: the core, the application's ends
/// of the inbox and the outbox (the worker closes them there), and the
/// signal outbox. The worker's own ends are its alone.
pub(crate) struct Boxes {
    pub core: Arc<Core>,
    pub inbox: Arc<AppInbox>,
    pub outbox: Arc<AppOutbox>,
    pub signal: Arc<Mailbox<Signal, SIGNAL_CAPACITY>>,
}

impl Boxes {
    /// The boxes around `core`, with a fresh, empty signal outbox.
    pub(crate) fn new(core: Arc<Core>, inbox: Arc<AppInbox>, outbox: Arc<AppOutbox>) -> Self {
        Boxes {
            core,
            inbox,
            outbox,
            signal: Arc::new(Mailbox::new()),
        }
    }
}

/// The worker's own marks on the data boxes under loom, with the real
/// inbox and outbox and the shipped park-then-poll: input sent, or room
/// made, while the worker parks is seen by its re-check or wakes its poll.
/// (`cargo test --lib loom_` with `RUSTFLAGS="--cfg loom"`.)
#[cfg(all(test, loom))]
mod loom_marks {
    use std::time::Duration;

    use crate::ring::Side;
    use crate::wake::loom_park_wake::park_then_poll;
    use crate::wake::Core;

    /// The worker marks itself waiting for input on the inbox's ring and
    /// parks; an application thread sends meanwhile.
    #[test]
    fn loom_inbox_send_while_parking_is_seen_or_wakes() {
        loom::model(|| {
            let core = loom::sync::Arc::new(Core::new(Duration::ZERO).unwrap());
            let (app, mut worker, _, _) = super::new(4, 2, false, 4).unwrap();
            let app = loom::sync::Arc::new(app);
            let (c, a) = (core.clone(), app.clone());
            let t = loom::thread::spawn(move || a.try_send(&c, b"x").unwrap());
            worker.ring().mark_asleep(Side::Reader);
            let ok = park_then_poll(&core, || !worker.is_empty(), || t.join().unwrap());
            worker.ring().mark_awake(Side::Reader);
            assert!(ok, "send neither seen nor woken");
            assert_eq!(worker.discard(), 1);
        });
    }

    /// The other edge: the worker waits for room in a full outbox (marked
    /// as its writer, parked); an application thread receives meanwhile.
    #[test]
    fn loom_outbox_room_made_while_parking_is_seen_or_wakes() {
        loom::model(|| {
            let core = loom::sync::Arc::new(Core::new(Duration::ZERO).unwrap());
            let (_, _, app, mut worker) = super::new(2, 2, false, 2).unwrap();
            worker
                .read_with(usize::MAX, |buf| {
                    buf.fill(7);
                    Ok(buf.len())
                })
                .unwrap();
            assert_eq!(worker.room(), 0);
            let app = loom::sync::Arc::new(app);
            let (c, a) = (core.clone(), app.clone());
            let t = loom::thread::spawn(move || {
                let mut b = [0u8; 2];
                assert_eq!(a.recv_into(&c, &mut b, None).unwrap(), 2);
            });
            worker.ring().mark_asleep(Side::Writer);
            let ok = park_then_poll(&core, || worker.room() > 0, || t.join().unwrap());
            worker.ring().mark_awake(Side::Writer);
            assert!(ok, "room neither seen nor woken");
        });
    }
}
