//! Fault: the server accepts, reads what we send, and then says nothing
//! and never closes. `Shutdown`, `Abort` and `ProducerFinished` each arrive
//! while the worker is asleep in `poll` on the silent connection; each must
//! be acted on (at once, or after the linger time for the graceful end),
//! with the accounting invariant and one final signal.

use crate::support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::faults::*;
use support::*;
use ttc::{Config, Control, Reason, ShutdownReport, Signal};

const INITIAL: usize = 1000;
const QUEUED: usize = 5000;
const LINGER: Duration = Duration::from_millis(300);

fn pattern_bytes(from: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    periodic(from, &mut v);
    v
}

/// Connects to a silent server, sends the initial message and some queued
/// bytes, waits until the server has read them all and the worker sleeps,
/// then sends `control`. Returns the signals, the report, how long the end
/// took after the control message, and what the server saw.
fn silence_then(
    control: Control,
    thread: &str,
) -> (Vec<Signal>, ShutdownReport, Duration, SinkResult) {
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let server = OneShot::spawn(move |s| {
        let seen = pattern_sink(&s, &p, SOON);
        // Silent to the end: even after our FIN it neither sends nor closes
        // until the test is done.
        let _ = hold.recv_timeout(SOON);
        seen
    });
    let client = Config::new("127.0.0.1", server.port())
        .initial_message(pattern_bytes(0, INITIAL))
        .linger(Some(LINGER))
        .thread_name(thread)
        .spawn()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    client
        .inbox()
        .send_slice(&pattern_bytes(INITIAL as u64, QUEUED), SOON)
        .unwrap();
    let total = (INITIAL + QUEUED) as u64;
    assert!(eventually(SOON, || progress.load(Ordering::Acquire) == total));
    assert!(wait_thread_asleep(thread), "the worker never went to sleep");

    let t0 = Instant::now();
    client.control().send(control);
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let delivered = drain_outbox(client.outbox()).len() as u64;
    let report = client.join();
    assert_eq!(final_report(&signals), report);
    assert_eq!(the_error(&signals), None);
    assert_accounting(&report, INITIAL as u64, QUEUED as u64, delivered);
    assert_eq!((report.sent, report.unsent, delivered), (total, 0, 0));
    release.send(()).unwrap();
    let sink = server.result();
    assert_eq!(sink.received, total);
    assert!(sink.is_pattern_prefix);
    (signals, report, took, sink)
}

#[test]
fn test_shutdown_on_silent_connection_closes_at_once() {
    let (_, report, took, sink) = silence_then(Control::Shutdown, "ttc-silent-shut");
    assert_eq!(report.reason, Reason::Shutdown);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(sink.ending, Ending::Eof);
}

#[test]
fn test_abort_on_silent_connection_resets_at_once() {
    let (_, report, took, sink) = silence_then(Control::Abort, "ttc-silent-abrt");
    assert_eq!(report.reason, Reason::Aborted);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(sink.ending, Ending::Reset);
}

#[test]
fn test_producer_finished_on_silent_connection_ends_after_linger() {
    let (signals, report, took, sink) = silence_then(Control::ProducerFinished, "ttc-silent-fini");
    // The linger ended it, and says so: the server never closed.
    assert_eq!(report.reason, Reason::Linger);
    // The server never closes: the half-close, then the linger time, then
    // the end.
    assert!(!saw_peer_closed(&signals));
    assert!(
        took >= LINGER,
        "ended after {took:?}, before the linger time"
    );
    assert!(took < LINGER + Duration::from_secs(2), "took {took:?}");
    assert_eq!(sink.ending, Ending::Eof);
}
