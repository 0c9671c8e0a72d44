//! The mailbox under the loom model checker: every interleaving of small
//! send / receive / close programs (2-3 threads, capacity 1-2) is run, and
//! each must lose nothing, duplicate nothing, keep each sender's order and
//! never deadlock (loom fails a run in which every thread is blocked, which
//! is what a lost condvar wake-up looks like).
//!
//! Built only with `RUSTFLAGS="--cfg loom"` (targets/ci.d/60-loom.sh), which
//! swaps the mailbox's `Mutex` and `Condvar` for loom's. Under loom a timed
//! wait never times out, so the models use only the untimed calls and
//! `try_*`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use ttc::mailbox::{Mailbox, RecvError, SendError, TryRecvError};

/// Small models, explored exhaustively within a preemption bound that keeps
/// each one to seconds.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

#[test]
fn loom_blocking_send_and_recv_through_one_slot_lose_no_wakeup() {
    model(|| {
        let mb: Arc<Mailbox<u8, 1>> = Arc::new(Mailbox::new());
        let tx = mb.clone();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                tx.send(i).unwrap();
            }
        });
        for want in 0..3 {
            assert_eq!(mb.recv(), Ok(want));
        }
        producer.join().unwrap();
        assert_eq!(mb.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn loom_two_blocked_senders_both_get_through() {
    model(|| {
        let mb: Arc<Mailbox<u8, 1>> = Arc::new(Mailbox::new());
        let senders: Vec<_> = [10u8, 20]
            .into_iter()
            .map(|base| {
                let tx = mb.clone();
                thread::spawn(move || {
                    tx.send(base).unwrap();
                    tx.send(base + 1).unwrap();
                })
            })
            .collect();
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(mb.recv().unwrap());
        }
        for s in senders {
            s.join().unwrap();
        }
        // Each sender's items arrive in its order; all four arrive once.
        let of = |base: u8| {
            got.iter()
                .copied()
                .filter(|v| v / 10 == base / 10)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(10), [10, 11]);
        assert_eq!(of(20), [20, 21]);
    });
}

#[test]
fn loom_two_blocked_receivers_both_wake() {
    model(|| {
        let mb: Arc<Mailbox<u8, 2>> = Arc::new(Mailbox::new());
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let rx = mb.clone();
                thread::spawn(move || rx.recv().unwrap())
            })
            .collect();
        mb.send(1).unwrap();
        mb.send(2).unwrap();
        let mut got: Vec<u8> = receivers.into_iter().map(|r| r.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn loom_close_races_send_and_recv_nothing_lost() {
    model(|| {
        let mb: Arc<Mailbox<u8, 1>> = Arc::new(Mailbox::new());
        let tx = mb.clone();
        // Blocking sends: each either is queued or comes back (closed).
        let producer = thread::spawn(move || {
            let mut back = Vec::new();
            for i in 0..2 {
                match tx.send(i) {
                    Ok(()) => {}
                    // A blocking send cannot say "full": only closed.
                    Err(SendError(v)) => back.push(v),
                }
            }
            back
        });
        let closer = {
            let mb = mb.clone();
            thread::spawn(move || mb.close())
        };
        // The receiver drains until closed-and-empty; it must not hang.
        let mut got = Vec::new();
        while let Ok(v) = mb.recv() {
            got.push(v);
        }
        assert_eq!(mb.recv(), Err(RecvError));
        closer.join().unwrap();
        let back = producer.join().unwrap();
        // Accounting: every item was received or handed back, exactly once,
        // and the receiver saw them in order.
        let mut all: Vec<u8> = got.iter().chain(back.iter()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, [0, 1]);
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert!(mb.is_closed());
    });
}

#[test]
fn loom_try_send_against_close_hands_back_or_delivers() {
    model(|| {
        let mb: Arc<Mailbox<u8, 2>> = Arc::new(Mailbox::new());
        let tx = mb.clone();
        let producer = thread::spawn(move || {
            let mut back = 0;
            for i in 0..3 {
                if let Err(e) = tx.try_send(i) {
                    // Full (capacity 2) or closed: the item comes back.
                    assert_eq!(e.into_inner(), i);
                    back += 1;
                }
            }
            back
        });
        let rx = mb.clone();
        let consumer = thread::spawn(move || {
            let mut got = 0;
            while rx.recv().is_ok() {
                got += 1;
            }
            got
        });
        let back = producer.join().unwrap();
        mb.close();
        let got = consumer.join().unwrap();
        assert_eq!(got + back, 3);
    });
}
