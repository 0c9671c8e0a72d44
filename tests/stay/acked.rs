//! `acked`: the data bytes the server's TCP acknowledged, in every report.
//! It is at most `sent`; a complete transfer has everything acknowledged;
//! after a reset mid-upload it lies between what the server application
//! read and what its kernel had received (read + unread), so
//! `sent - acked` is exactly what may not have reached the server.
//!
//! On the host the count comes from `TCP_INFO`; under QEMU user-mode,
//! which truncates `TCP_INFO`, from samples of `SIOCOUTQ`; the same bounds
//! hold for both.

use crate::support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use support::faults::*;
use support::*;
use ttc::{Config, Control, Reason, Signal};

#[test]
fn test_complete_transfer_is_all_acknowledged() {
    let server = start(Peer::Echo);
    let initial = b"HELLO\n".to_vec();
    let client = Config::new("127.0.0.1", server.port())
        .initial_message(initial.clone())
        .spawn()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    const TOTAL: u64 = 1 << 20;
    let feeder = feed(
        client.inbox().clone(),
        TOTAL,
        Arc::new(AtomicBool::new(false)),
    );
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);
    assert_eq!(feeder.join().unwrap().accepted, TOTAL);
    client.control().send(Control::ProducerFinished);
    let signals = all_signals(client.signal());
    drainer.join().unwrap();
    let report = final_report(&signals);
    assert_eq!(report.reason, Reason::Finished, "{report}");
    let accepted = initial.len() as u64 + TOTAL;
    assert_eq!(
        (report.sent, report.acked, report.unsent),
        (accepted, accepted, 0)
    );
    assert_eq!(report.unacked(), 0);
    assert_eq!(server.next_report().received, accepted);
}

#[test]
fn test_shutdown_after_the_server_read_everything_counts_it_acknowledged() {
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    let server = OneShot::spawn(move |s| pattern_sink(&s, &p, SOON));
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let mut data = vec![0u8; 100_000];
    periodic(0, &mut data);
    client.inbox().send_slice(&data, SOON).unwrap();
    assert!(eventually(SOON, || progress.load(Ordering::Acquire) == 100_000));
    client.control().send(Control::Shutdown);
    let report = client.join();
    assert_eq!(report.reason, Reason::Shutdown);
    assert_eq!((report.sent, report.acked), (100_000, 100_000), "{report}");
}

#[test]
fn test_reset_mid_upload_reports_what_the_server_acknowledged() {
    // The server reads 1 MiB, stops reading for a moment (the client's
    // writes back up against its full receive buffer), then resets with
    // data unread. What its kernel acknowledged is what it read plus what
    // was still unread in its receive queue: acked lies between the two.
    const READ: u64 = 1 << 20;
    const RCVBUF: usize = 64 * 1024;
    let listener = small_buffer_listener(RCVBUF);
    let server = read_then_reset(listener, READ);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(client.inbox().clone(), u64::MAX / 2, stop.clone());
    let (read, unread_at_reset) = server.result();
    assert_eq!(read, READ);
    let signals = all_signals(client.signal());
    stop.store(true, Ordering::Release);
    let fed = feeder.join().unwrap();
    let report = final_report(&signals);
    assert_eq!(report.reason, Reason::Error, "{report}");
    assert_accounting(&report, 0, fed.accepted, 0);
    assert!(report.acked <= report.sent, "{report}");
    assert!(
        report.acked >= read,
        "the server read more than was acknowledged: {report}"
    );
    assert!(
        report.acked <= read + unread_at_reset,
        "acknowledged more than the server's kernel received ({read} read + {unread_at_reset} unread): {report}"
    );
    assert!(
        report.acked - read <= 2 * RCVBUF as u64,
        "more than a receive buffer acknowledged and unread: {report}"
    );
    // The client had written more than the server's kernel took: that is
    // not acknowledged, and says so.
    assert!(report.unacked() > 0, "{report}");
    assert_eq!(report.unacked(), report.sent - report.acked);
}
