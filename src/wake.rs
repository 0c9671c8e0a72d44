//! The park/wake protocol between the application's threads and the
//! worker: [`Core`] (the control byte, the "parked" mark and the wake
//! eventfd), the one park-then-poll ([`Core::park`], [`Parked`]), and the
//! bounds both sides rely on ([`SIGNAL_CAPACITY`]).
//!
//! The worker sleeps in `poll(2)` on its socket and the eventfd. Before it
//! sleeps it marks itself parked and looks at every box once more; a
//! producer changes a box and then looks at the mark. Whichever comes
//! second sees the other, so nothing sent while the worker parks is
//! missed, and a box operation on a busy worker costs no syscall. The loom
//! models at the end of this file check that claim.

// Under the loom model checker (RUSTFLAGS="--cfg loom") the protocol's
// atomics are loom's, so every interleaving and weak-memory outcome of it
// is explored.
#[cfg(loom)]
use loom::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::io;
use std::os::fd::RawFd;
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::message::{Control, Reason, ShutdownReport};
use crate::sys::{self, EventFd, Ready};

/// Capacity of the signal outbox. A connection emits at most
/// `Connected`, `PeerClosed`, one `Error` per phase it can fail in after
/// connecting (read, write, shutdown) or one before, and the final
/// `SocketShutdown`: six, so eight never fills.
///
/// With [`Config::reconnect`](crate::Config::reconnect) the signals of
/// every connection go through the same outbox: up to
/// `Reconnecting`, `Connected`, `PeerClosed`, three `Error`s and
/// `Disconnected` each. The worker keeps the last slot for the final
/// `SocketShutdown` and drops (with a logged warning) any other signal that
/// would take it, so an application that reconnects should read its
/// signals as they come; the final one is always delivered.
pub const SIGNAL_CAPACITY: usize = 8;

/// The most signals one connection emits before the component's final
/// one, with reconnect: `Reconnecting`, `Connected`, `PeerClosed`, three
/// `Error`s, `Disconnected`.
pub(crate) const SIGNALS_PER_CONNECTION: usize = 7;

// Keep the bound honest: the six signals of a connection without
// reconnect, plus the slot the worker keeps free for the final one; and a
// whole connection's worth with reconnect, plus that slot.
const _: () = assert!(SIGNAL_CAPACITY > 6);
const _: () = assert!(SIGNAL_CAPACITY > SIGNALS_PER_CONNECTION);

/// Upper bound on [`Config::recv_spin`](crate::Config::recv_spin):
/// spinning longer than a thread wake-up costs never pays.
const MAX_RECV_SPIN: Duration = Duration::from_millis(1);

/// State shared by the application side and the worker.
pub(crate) struct Core {
    /// Strongest control message received so far (0: none).
    control: AtomicU8,
    /// With `Delivery::Confirmed`: the most inbox bytes the application
    /// confirmed so far (cumulative).
    confirmed: AtomicU64,
    /// [`Control::Reconnect`] was sent and not acted on yet.
    reconnect: AtomicBool,
    /// True while the worker sleeps (or is about to) in `poll`.
    parked: AtomicBool,
    wake: EventFd,
    final_report: Mutex<Option<ShutdownReport>>,
    /// How long a receive from an empty outbox may spin (zero: never).
    recv_spin: Duration,
}

impl Core {
    pub(crate) fn new(recv_spin: Duration) -> io::Result<Core> {
        // With one CPU the worker cannot run while the receiver spins.
        let cpus = crate::sys::cpu_count();
        Ok(Core {
            control: AtomicU8::new(0),
            confirmed: AtomicU64::new(0),
            reconnect: AtomicBool::new(false),
            parked: AtomicBool::new(false),
            wake: EventFd::new()?,
            final_report: Mutex::new(None),
            recv_spin: if cpus > 1 {
                recv_spin.min(MAX_RECV_SPIN)
            } else {
                Duration::ZERO
            },
        })
    }

    /// How long a receive from an empty outbox may spin (zero: never).
    pub(crate) fn recv_spin(&self) -> Duration {
        self.recv_spin
    }

    /// True while the worker sleeps in `poll` (or is about to).
    pub(crate) fn worker_parked(&self) -> bool {
        self.parked.load(Ordering::Relaxed)
    }

    /// The strongest control message received so far.
    pub(crate) fn control(&self) -> Option<Control> {
        Control::from_u8(self.control.load(Ordering::SeqCst))
    }

    /// `Shutdown` or `Abort` received: the reason the connection ends with.
    pub(crate) fn stop_requested(&self) -> Option<Reason> {
        match self.control() {
            Some(Control::Abort) => Some(Reason::Aborted),
            Some(Control::Shutdown) => Some(Reason::Shutdown),
            _ => None,
        }
    }

    /// Records `msg` (a stronger message overrides a weaker one;
    /// `Reconnect` is a request of its own) and wakes the worker.
    pub(crate) fn send_control(&self, msg: Control) {
        if msg == Control::Reconnect {
            self.reconnect.store(true, Ordering::SeqCst);
        } else {
            self.control.fetch_max(msg as u8, Ordering::SeqCst);
        }
        self.wake_worker();
    }

    /// A [`Control::Reconnect`] waits to be acted on (the worker's re-check
    /// after parking).
    pub(crate) fn reconnect_requested(&self) -> bool {
        self.reconnect.load(Ordering::SeqCst)
    }

    /// Takes a waiting [`Control::Reconnect`]: true once per request.
    pub(crate) fn take_reconnect(&self) -> bool {
        self.reconnect.swap(false, Ordering::SeqCst)
    }

    /// Records that the application confirmed `bytes` inbox bytes in all
    /// (a smaller count than before changes nothing) and wakes the worker.
    /// The same store-then-look protocol as [`Core::send_control`].
    pub(crate) fn confirm(&self, bytes: u64) {
        self.confirmed.fetch_max(bytes, Ordering::SeqCst);
        self.wake_worker();
    }

    /// The most inbox bytes confirmed so far.
    pub(crate) fn confirmed(&self) -> u64 {
        self.confirmed.load(Ordering::SeqCst)
    }

    /// Wakes the worker if it sleeps or is about to. Paired with
    /// [`Core::park`]: the worker marks itself parked, then re-checks every
    /// box; a producer changes a box, then looks at the mark. Whichever
    /// comes second sees the other. For the mailboxes their locks order
    /// the two sides. The control byte has no lock: there it is the
    /// store-buffering pattern (each side stores, then loads what the
    /// other stored), which needs a `SeqCst` fence between the store and
    /// the load on both sides. (`SeqCst` accesses alone would do by the
    /// letter of the C++20 model, but an ARMv8 `SeqCst` store then load is
    /// a store-release then load-acquire, which QEMU user-mode translating
    /// it for an x86 host need not keep in order, and the loom model
    /// checker, which verifies this protocol, models only fences.)
    pub(crate) fn wake_worker(&self) {
        fence(Ordering::SeqCst);
        if self.parked.swap(false, Ordering::SeqCst) {
            self.wake.notify();
        }
    }

    /// Marks the worker parked (see [`Core::wake_worker`] for the fence):
    /// the first step of the one park-then-poll. Every box the caller
    /// waits on is looked at once more while the returned [`Parked`]
    /// lives; then [`Parked::poll`] sleeps, or dropping it unparks without
    /// sleeping (something to do was found). Without the mark and that
    /// look, a `Shutdown` could sleep with the worker until the next event.
    pub(crate) fn park(&self) -> Parked<'_> {
        self.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        Parked { core: self }
    }

    /// Clears the parked mark (the worker is awake again).
    fn unpark(&self) {
        self.parked.store(false, Ordering::SeqCst);
    }

    /// A look without sleeping: a zero-timeout `poll` at `fd` and the
    /// eventfd, draining the eventfd if it was notified. For a worker that
    /// is not parked (it is busy) but has replies to look for.
    pub(crate) fn look(&self, fd: RawFd, read: bool, write: bool) -> io::Result<Ready> {
        let ready = sys::poll(fd, read, write, &self.wake, Some(Duration::ZERO));
        if ready.as_ref().is_ok_and(|r| r.woken) {
            self.wake.drain();
        }
        ready
    }

    /// The eventfd the worker polls beside its socket.
    pub(crate) fn wake_fd(&self) -> &EventFd {
        &self.wake
    }

    /// Keeps the final report for [`Client::join`](crate::Client::join).
    pub(crate) fn set_final(&self, report: ShutdownReport) {
        *self
            .final_report
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(report);
    }

    /// The final report, once.
    pub(crate) fn take_final(&self) -> Option<ShutdownReport> {
        self.final_report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The worker between [`Core::park`] and waking up: the caller re-checks
/// what it waits on, then either sleeps in [`Parked::poll`] or drops this
/// (something was found: no sleep). Either way the mark is cleared; the
/// eventfd is drained when a poll saw it notified. Every place the worker
/// sleeps (the connect race, the resolver, a proxy or TLS handshake, the
/// serve loop, the backoff wait) goes through this, and the loom models
/// below drive it.
#[must_use = "dropping it unparks at once"]
pub(crate) struct Parked<'a> {
    core: &'a Core,
}

/// What a poll says about the wake eventfd.
pub(crate) trait Woken {
    /// The eventfd was notified.
    fn woken(&self) -> bool;
}

impl Woken for Ready {
    fn woken(&self) -> bool {
        self.woken
    }
}

impl Woken for (Ready, bool) {
    fn woken(&self) -> bool {
        self.0.woken
    }
}

impl Woken for bool {
    fn woken(&self) -> bool {
        *self
    }
}

impl Parked<'_> {
    /// Sleeps in `poll`, which is given the eventfd to poll beside its own
    /// descriptors; then clears the mark and drains the eventfd if it was
    /// notified.
    pub(crate) fn poll<T: Woken>(
        self,
        poll: impl FnOnce(&EventFd) -> io::Result<T>,
    ) -> io::Result<T> {
        let ready = poll(&self.core.wake);
        self.core.unpark();
        if ready.as_ref().is_ok_and(Woken::woken) {
            self.core.wake.drain();
        }
        ready
    }
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.core.unpark();
    }
}

/// The park/wake protocol under loom, driven through the shipped
/// [`Core::park`] and [`Parked::poll`]: in every interleaving and every
/// outcome the memory model allows, a control message or an application's
/// confirmation (`Inbox::confirm`) sent while the worker parks is either
/// seen by the worker's re-check or wakes its poll through the eventfd.
/// The same for the data boxes' own marks: databox.rs. (`cargo test --lib
/// loom_` with `RUSTFLAGS="--cfg loom"`: targets/ci.d/60-loom.sh.)
#[cfg(all(test, loom))]
pub(crate) mod loom_park_wake {
    use super::*;
    use crate::sys;

    /// The worker's side of one park-then-poll: parks, re-checks with
    /// `seen`, then polls the eventfd without blocking once the other
    /// thread is done (`join`), so every place its wake-up can fall is
    /// covered. True if the re-check saw the change or the poll was woken.
    pub(crate) fn park_then_poll(
        core: &Core,
        seen: impl FnOnce() -> bool,
        join: impl FnOnce(),
    ) -> bool {
        let parked = core.park();
        let seen = seen();
        let ready = parked
            .poll(|wake| {
                join();
                sys::poll(-1, false, false, wake, Some(Duration::ZERO))
            })
            .unwrap();
        assert!(!core.worker_parked(), "poll leaves the mark cleared");
        seen || ready.woken
    }

    #[test]
    fn loom_control_sent_while_parking_is_seen_or_wakes() {
        loom::model(|| {
            let core = loom::sync::Arc::new(Core::new(Duration::ZERO).unwrap());
            let sender = core.clone();
            let t = loom::thread::spawn(move || sender.send_control(Control::Shutdown));
            let ok = park_then_poll(
                &core,
                || core.control() == Some(Control::Shutdown),
                || t.join().unwrap(),
            );
            assert!(ok, "Shutdown neither seen nor woken");
        });
    }

    #[test]
    fn loom_confirmation_sent_while_parking_is_seen_or_wakes() {
        // `Inbox::confirm` stores the count and then looks at the parked
        // mark, like a control message: the worker's re-check sees the new
        // count, or the eventfd wakes it.
        loom::model(|| {
            let core = loom::sync::Arc::new(Core::new(Duration::ZERO).unwrap());
            let app = core.clone();
            let t = loom::thread::spawn(move || app.confirm(4096));
            let ok = park_then_poll(&core, || core.confirmed() == 4096, || t.join().unwrap());
            assert!(ok, "confirmation neither seen nor woken");
            // Counts only grow: an older, smaller one changes nothing.
            core.confirm(1024);
            assert_eq!(core.confirmed(), 4096);
        });
    }

    /// A park dropped without polling (the re-check found work) clears the
    /// mark, so the next change takes the cheap path (no notify).
    #[test]
    fn loom_parked_dropped_unparks() {
        loom::model(|| {
            let core = Core::new(Duration::ZERO).unwrap();
            drop(core.park());
            assert!(!core.worker_parked());
            core.send_control(Control::Shutdown);
            let ready = sys::poll(-1, false, false, core.wake_fd(), Some(Duration::ZERO)).unwrap();
            assert!(!ready.woken, "no notify for a worker that is awake");
        });
    }
}
