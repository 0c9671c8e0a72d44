//! Fault: connecting to a listener that never accepts and whose backlog is
//! full (the kernel drops our SYNs, so the connect hangs). The connect
//! timeout ends it with a connect error, and everything accepted meanwhile
//! (the initial message and queued chunks) is counted as unsent. `Shutdown`
//! or `Abort` sent while the attempt is pending ends the connection at
//! once: the attempts are non-blocking sockets polled with the wake
//! eventfd. (A peer that drops packets is in tests/netns/: it needs a namespace
//! of its own.)

use crate::support;

use std::time::{Duration, Instant};

use support::faults::*;
use support::*;
use ttc::{Chunk, Config, Control, Reason, Signal};

#[test]
fn test_connect_timeout_on_full_backlog_counts_accepted_bytes_as_unsent() {
    let backlog = full_backlog();
    let timeout = Duration::from_millis(600);
    let t0 = Instant::now();
    let client = Config::new("127.0.0.1", backlog.addr.port())
        .initial_message(b"HELLO\r\n".to_vec())
        .connect_timeout(timeout)
        .spawn()
        .unwrap();
    // Queued while the connect hangs: never written, all counted.
    let mut accepted = 0u64;
    for i in 0..3u8 {
        client
            .inbox()
            .try_send(Chunk::from_slice(&[i; 100]).unwrap())
            .unwrap();
        accepted += 100;
    }
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let delivered = drain_outbox(client.outbox()).len() as u64;
    let report = client.join();

    assert!(!signals.iter().any(|s| matches!(s, Signal::Connected(_))));
    assert_connect_timed_out(&signals, &report, took, timeout);
    assert_accounting(&report, 7, accepted, delivered);
    assert_eq!((report.sent, report.unsent), (0, 7 + accepted));
}

/// Sends `control` while the worker's connect attempt is pending (a
/// SYN_SENT socket exists) and returns the report and how long the end took
/// after the control message.
fn control_during_connect(control: Control) -> (ttc::ShutdownReport, Vec<Signal>, Duration) {
    let backlog = full_backlog();
    let timeout = Duration::from_millis(1500);
    let client = Config::new("127.0.0.1", backlog.addr.port())
        .initial_message(b"HI".to_vec())
        .connect_timeout(timeout)
        .spawn()
        .unwrap();
    assert!(
        wait_syn_sent(backlog.addr.port()),
        "the worker never started connecting"
    );
    let t0 = Instant::now();
    client.control().send(control);
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let report = client.join();
    assert!(!signals.iter().any(|s| matches!(s, Signal::Connected(_))));
    // A stop request is not an error, even though the attempt timed out.
    assert_eq!(the_error(&signals), None, "{signals:?}");
    assert_accounting(&report, 2, 0, 0);
    assert_eq!(report.unsent, 2);
    // At once, not when the attempt would have timed out.
    assert!(took <= stop_bound(), "took {took:?}");
    assert_eq!(report.attempts, 1);
    (report, signals, took)
}

#[test]
fn test_shutdown_during_connect_attempt_ends_at_once() {
    let (report, _, _) = control_during_connect(Control::Shutdown);
    assert_eq!(report.reason, Reason::Shutdown);
}

#[test]
fn test_abort_during_connect_attempt_ends_at_once() {
    let (report, _, _) = control_during_connect(Control::Abort);
    assert_eq!(report.reason, Reason::Aborted);
}
