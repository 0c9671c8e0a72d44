//! Fault: the server resets the connection mid-stream, while we send,
//! while we receive, and while traffic flows both ways. Every test checks
//! the accounting invariant (accepted = sent + unsent; read = delivered),
//! that what arrived is an exact prefix of what was sent, and that the
//! signals end with exactly one `SocketShutdown`.

use crate::support;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::faults::*;
use support::*;
use ttc::{Config, Reason, Signal};

/// Effectively endless: the feed runs until the inbox closes.
const ENDLESS: u64 = u64::MAX / 2;

fn reset_kinds() -> [io::ErrorKind; 3] {
    [
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::BrokenPipe,
        io::ErrorKind::ConnectionAborted,
    ]
}

#[test]
fn test_reset_by_server_while_we_send_accounts_every_byte() {
    const BEFORE_RESET: u64 = 256 * 1024;
    let server = OneShot::spawn(|mut s| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut want = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        let mut exact = true;
        while got < BEFORE_RESET {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    periodic(got, &mut want[..n]);
                    exact &= buf[..n] == want[..n];
                    got += n as u64;
                }
            }
        }
        reset(s);
        (got, exact)
    });
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(client.inbox().clone(), ENDLESS, stop.clone());
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);

    let (server_got, exact) = server.result();
    assert!(
        server_got >= BEFORE_RESET && exact,
        "server read {server_got} bytes, exact={exact}"
    );
    let signals = all_signals(client.signal());
    let fed = feeder.join().unwrap();
    let drained = drainer.join().unwrap();
    let report = client.join();
    assert_eq!(final_report(&signals), report);

    assert_eq!(report.reason, Reason::Error, "{signals:?}");
    let err = the_error(&signals).expect("an error signal");
    assert!(reset_kinds().contains(&err.kind), "{err}");
    assert!(fed.closed, "the inbox closes when the connection fails");
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    assert!(
        report.sent >= server_got,
        "the server read more than was written: {report}"
    );
    assert_eq!(drained.delivered, 0);
}

#[test]
fn test_reset_by_server_while_we_receive_delivers_an_exact_prefix() {
    const BEFORE_RESET: u64 = 1 << 20;
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    // The server starts once we are connected: a reset that lands before
    // connect() has returned is (rightly) a connect error, not this case.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let server = OneShot::spawn(move |s| {
        wait.recv_timeout(SOON).expect("never connected");
        let sent = periodic_source(&s, BEFORE_RESET, &p);
        reset(s);
        sent.map_err(|e| e.kind())
    });
    // A small outbox and a slow reader: the reset arrives while chunks are
    // still queued; they must all still be delivered.
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<512, 4, 4>()
        .unwrap();
    let drainer = drain(
        client.outbox().clone(),
        Pace {
            every: 64,
            pause: Duration::from_millis(1),
        },
        SOON,
    );
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    go.send(()).unwrap();
    assert_eq!(server.result(), Ok(BEFORE_RESET));
    let signals = all_signals(client.signal());
    let drained = drainer.join().unwrap();
    let report = client.join();

    assert!(
        drained.is_pattern_prefix,
        "delivered bytes differ from what was sent"
    );
    assert!(drained.largest_chunk <= 512);
    assert!(drained.delivered <= BEFORE_RESET);
    assert_accounting(&report, 0, 0, drained.delivered);
    match report.reason {
        // The reset came while data was unread: a read error.
        Reason::Error => {
            let err = the_error(&signals).expect("an error signal");
            assert_eq!(err.phase, ttc::Phase::Read, "{err}");
            assert!(reset_kinds().contains(&err.kind), "{err}");
        }
        other => panic!("unexpected end {other} after a reset: {signals:?}"),
    }
}

#[test]
fn test_reset_by_echo_server_with_traffic_both_ways() {
    const BEFORE_RESET: u64 = 512 * 1024;
    let echoed = Arc::new(AtomicU64::new(0));
    let e = echoed.clone();
    let server = OneShot::spawn(move |mut s| {
        let mut buf = vec![0u8; 16 * 1024];
        let mut got = 0u64;
        while got < BEFORE_RESET {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if s.write_all(&buf[..n]).is_err() {
                break;
            }
            got += n as u64;
            e.store(got, Ordering::Release);
        }
        reset(s);
        got
    });
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<1024, 8, 8>()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(client.inbox().clone(), ENDLESS, stop.clone());
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);

    let server_got = server.result();
    assert!(server_got >= BEFORE_RESET);
    let signals = all_signals(client.signal());
    let fed = feeder.join().unwrap();
    let drained = drainer.join().unwrap();
    let report = client.join();

    assert_eq!(report.reason, Reason::Error, "{signals:?}");
    let err = the_error(&signals).expect("an error signal");
    assert!(reset_kinds().contains(&err.kind), "{err}");
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    // What came back is our own stream, cut at the reset, never more than
    // the server echoed.
    assert!(drained.is_pattern_prefix);
    assert!(drained.delivered <= echoed.load(Ordering::Acquire));
    assert!(report.sent >= server_got);
}
