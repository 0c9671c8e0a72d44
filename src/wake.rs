//! The park/wake protocol between the application's threads and the
//! worker: [`Core`] (the control byte, the "parked" mark and the wake
//! eventfd), the [`Boxes`] as the worker sees them, and the bounds both
//! sides rely on ([`SIGNAL_CAPACITY`]).
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
#[cfg(not(loom))]
use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::databox::{AppInbox, AppOutbox};
use crate::mailbox::Mailbox;
use crate::message::{Control, Reason, ShutdownReport, Signal};
use crate::sys::EventFd;

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
    /// With `Delivery::Confirmed`: the most sends (counted from the first)
    /// the application confirmed so far.
    confirmed_sends: AtomicU64,
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
            confirmed_sends: AtomicU64::new(0),
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

    /// Records `msg` (a stronger message overrides a weaker one) and wakes
    /// the worker.
    pub(crate) fn send_control(&self, msg: Control) {
        self.control.fetch_max(msg as u8, Ordering::SeqCst);
        self.wake_worker();
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

    /// Records that the application confirmed the first `sends` sends in
    /// all, and wakes the worker, as [`Core::confirm`].
    pub(crate) fn confirm_sends(&self, sends: u64) {
        self.confirmed_sends.fetch_max(sends, Ordering::SeqCst);
        self.wake_worker();
    }

    /// The most sends confirmed so far.
    pub(crate) fn confirmed_sends(&self) -> u64 {
        self.confirmed_sends.load(Ordering::SeqCst)
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

    /// Marks the worker parked; see [`Core::wake_worker`] for the fence.
    /// Without it, a `Shutdown` could sleep with the worker until the
    /// next event.
    pub(crate) fn park(&self) {
        self.parked.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Clears the parked mark (the worker is awake again).
    pub(crate) fn unpark(&self) {
        self.parked.store(false, Ordering::SeqCst);
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

/// The boxes as both sides share them: the core, the application's ends
/// of the inbox and the outbox (the worker closes them there), and the
/// signal outbox. The worker's own ends are its alone (databox.rs).
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

/// The park/wake protocol under loom: in every interleaving and every
/// outcome the memory model allows, a control message, an application's
/// confirmation (`Inbox::confirm`) or an inbox chunk sent while the worker
/// parks is either seen by the worker's re-check or wakes it through the
/// eventfd. (`cargo test --lib loom_` with
/// `RUSTFLAGS="--cfg loom"`: targets/ci.d/60-loom.sh.)
#[cfg(all(test, loom))]
mod loom_park_wake {
    use super::*;
    use crate::sys;

    fn woken(core: &Core) -> bool {
        sys::poll(-1, false, false, core.wake_fd(), Some(Duration::ZERO))
            .unwrap()
            .woken
    }

    #[test]
    fn loom_control_sent_while_parking_is_seen_or_wakes() {
        loom::model(|| {
            let core = loom::sync::Arc::new(Core::new(Duration::ZERO).unwrap());
            let sender = core.clone();
            let t = loom::thread::spawn(move || sender.send_control(Control::Shutdown));
            core.park();
            let seen = core.control() == Some(Control::Shutdown);
            t.join().unwrap();
            assert!(seen || woken(&core), "Shutdown neither seen nor woken");
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
            core.park();
            let seen = core.confirmed() == 4096;
            t.join().unwrap();
            assert!(seen || woken(&core), "confirmation neither seen nor woken");
            // Counts only grow: an older, smaller one changes nothing.
            core.confirm(1024);
            assert_eq!(core.confirmed(), 4096);
        });
    }

    /// The real inbox and the worker's real marks: the worker marks itself
    /// waiting for input on the inbox's ring, parks, and looks once more;
    /// an application thread sends meanwhile. The send is seen by that
    /// look, or it wakes the worker through the eventfd.
    #[test]
    fn loom_inbox_send_while_parking_is_seen_or_wakes() {
        loom::model(|| {
            let core = loom::sync::Arc::new(Core::new(Duration::ZERO).unwrap());
            let (app, mut worker, _, _) = crate::databox::new(4, 2, false, 4).unwrap();
            let app = loom::sync::Arc::new(app);
            let (c, a) = (core.clone(), app.clone());
            let t = loom::thread::spawn(move || a.try_send(&c, b"x").unwrap());
            worker.ring().mark_asleep(crate::ring::Side::Reader);
            core.park();
            let seen = !worker.is_empty();
            t.join().unwrap();
            worker.ring().mark_awake(crate::ring::Side::Reader);
            assert!(seen || woken(&core), "send neither seen nor woken");
            assert_eq!(worker.discard(), 1);
        });
    }

    /// The other edge: the worker waits for room in a full outbox (marked
    /// as its writer, parked); an application thread receives meanwhile.
    #[test]
    fn loom_outbox_room_made_while_parking_is_seen_or_wakes() {
        loom::model(|| {
            let core = loom::sync::Arc::new(Core::new(Duration::ZERO).unwrap());
            let (_, _, app, mut worker) = crate::databox::new(2, 2, false, 2).unwrap();
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
                a.recv_into(&c, &mut b, None).unwrap()
            });
            worker.ring().mark_asleep(crate::ring::Side::Writer);
            core.park();
            let seen = worker.room() > 0;
            assert_eq!(t.join().unwrap(), 2);
            worker.ring().mark_awake(crate::ring::Side::Writer);
            assert!(seen || woken(&core), "room neither seen nor woken");
        });
    }
}
