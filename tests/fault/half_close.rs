//! Fault: the server half-closes (sends FIN) while we are still sending.
//! Either it keeps reading (everything we accepted must reach it), or it
//! stops reading (the flush stalls, the write timeout ends it, the loss is
//! in `unsent`), or it goes away entirely (a reset on our next write).
//! Every test checks the accounting invariant and the single final signal.

use crate::support;

use std::io::{self, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use support::faults::*;
use support::*;
use ttc::{Config, Phase, Reason, TrySendError};

const ENDLESS: u64 = u64::MAX / 2;
const REPLY: u64 = 100 * 1024;

#[test]
fn test_server_half_closes_and_keeps_reading_gets_every_accepted_byte() {
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    let server = OneShot::spawn(move |s| {
        // Our reply, then FIN; then read everything the client still sends.
        periodic_source(&s, REPLY, &AtomicU64::new(0)).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        pattern_sink(&s, &p, SOON)
    });
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(client.inbox().clone(), ENDLESS, stop);
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);

    let signals = all_signals(client.signal());
    let fed = feeder.join().unwrap();
    let drained = drainer.join().unwrap();
    let report = client.join();
    let sink = server.result();

    assert!(saw_peer_closed(&signals), "{signals:?}");
    assert_eq!(report.reason, Reason::PeerClosed, "{signals:?}");
    assert_eq!(the_error(&signals), None);
    // The inbox closed at the FIN: the producer was told, nothing more was
    // taken, and everything taken before was flushed.
    assert!(fed.closed);
    assert!(matches!(
        client_inbox_after_close(),
        TrySendError::Closed(_)
    ));
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    assert_eq!(report.unsent, 0);
    assert_eq!(
        (drained.delivered, drained.is_pattern_prefix),
        (REPLY, true)
    );
    assert_eq!(sink.ending, Ending::Eof);
    assert_eq!(sink.received, report.sent);
    assert!(sink.is_pattern_prefix);
}

/// A send on a closed inbox hands the chunk back (checked on a fresh client
/// whose server closes at once, so the inbox is certainly closed).
fn client_inbox_after_close() -> TrySendError<ttc::Chunk> {
    let server = OneShot::spawn(drop);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    let signals = all_signals(client.signal());
    assert!(saw_peer_closed(&signals));
    client
        .inbox()
        .try_send(ttc::Chunk::from_slice(b"late").unwrap())
        .unwrap_err()
}

/// A server on small buffers that neither reads nor writes until told to
/// half-close; then `after_fin` decides what it does.
fn stalling_server<T: Send + 'static>(
    fin_now: mpsc::Receiver<()>,
    after_fin: impl FnOnce(std::net::TcpStream) -> T + Send + 'static,
) -> OneShot<T> {
    OneShot::on(small_buffer_listener(16 * 1024), move |mut s| {
        fin_now
            .recv_timeout(SOON)
            .expect("test never said when to half-close");
        s.write_all(b"bye").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        after_fin(s)
    })
}

#[test]
fn test_server_half_closes_and_stops_reading_ends_in_write_timeout_with_unsent() {
    let (fin_tx, fin_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let server = stalling_server(fin_rx, move |s| {
        // Stop: read nothing until the test has the client's report.
        release_rx.recv_timeout(SOON).expect("never released");
        pattern_sink(&s, &AtomicU64::new(0), SOON)
    });
    let write_timeout = Duration::from_millis(400);
    let client = Config::new("127.0.0.1", server.port())
        .write_timeout(Some(write_timeout))
        .spawn()
        .unwrap();
    let progress = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed_counted(client.inbox().clone(), ENDLESS, stop, progress.clone());
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);
    // Our writes back up; only then does the server half-close.
    assert!(wait_backed_up(client.inbox(), &progress), "never backed up");
    fin_tx.send(()).unwrap();

    let signals = all_signals(client.signal());
    let fed = feeder.join().unwrap();
    let drained = drainer.join().unwrap();
    let report = client.join();
    release_tx.send(()).unwrap();
    let sink = server.result();

    assert!(saw_peer_closed(&signals), "{signals:?}");
    let err = the_error(&signals).unwrap_or_else(|| panic!("no write timeout: {signals:?}"));
    assert_eq!(
        (err.phase, err.kind),
        (Phase::Write, io::ErrorKind::TimedOut),
        "{err}"
    );
    // The flush after the server's FIN failed: the end is still "peer
    // closed", with the loss in `unsent`.
    assert_eq!(report.reason, Reason::PeerClosed);
    assert!(report.unsent > 0, "{report}");
    assert!(fed.saw_full && fed.closed);
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    assert_eq!(drained.delivered, 3);
    // Once it reads again, the server gets exactly what was written.
    assert_eq!(sink.received, report.sent);
    assert!(sink.is_pattern_prefix);
}

#[test]
fn test_server_half_closes_then_closes_while_we_send() {
    let (fin_tx, fin_rx) = mpsc::channel();
    // Close with our data unread: the kernel answers it with a reset.
    let server = stalling_server(fin_rx, drop);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    let progress = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed_counted(client.inbox().clone(), ENDLESS, stop, progress.clone());
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);
    assert!(wait_backed_up(client.inbox(), &progress), "never backed up");
    fin_tx.send(()).unwrap();
    server.result();

    let signals = all_signals(client.signal());
    let fed = feeder.join().unwrap();
    let drained = drainer.join().unwrap();
    let report = client.join();

    let err = the_error(&signals).expect("an error signal");
    assert!(
        matches!(
            err.kind,
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{err}"
    );
    // FIN then reset: "peer closed" with a failed flush, or an error of
    // the read or the write that met the reset before the FIN was read.
    match report.reason {
        Reason::PeerClosed => {
            assert!(saw_peer_closed(&signals));
            assert_eq!(err.phase, Phase::Write);
        }
        Reason::Error => assert!(matches!(err.phase, Phase::Read | Phase::Write)),
        other => panic!("unexpected end {other}: {signals:?}"),
    }
    assert!(report.unsent > 0, "{report}");
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    assert!(drained.delivered <= 3);
}
