//! Fault: the server floods while the consumer reads slowly and, for a
//! while, not at all. Memory stays bounded (the worker stops reading when
//! the outbox is full, so TCP flow control stops the server) and nothing is
//! lost (every byte arrives, in order, and the report's `received` equals
//! what the outbox delivered). The test runs in a process of its own
//! (`support::alone`), so the process's memory figures are its alone.

use crate::support;

use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::faults::*;
use support::*;
use ttc::{Config, Reason, RecvTimeoutError, Signal};

const FLOOD: u64 = 16 << 20;
const STOP_READING_AT: u64 = 2 << 20;
const SERVER_SNDBUF: usize = 64 * 1024;

/// What may sit between the server and our outbox while the consumer does
/// not read: the client's receive buffer (autotuned by the kernel: measured
/// 176 KiB here with a slow reader, though `tcp_rmem` allows up to 32 MiB),
/// the server's fixed send buffer, the worker's read batch and the outbox.
/// Generous, and still half the flood.
const IN_FLIGHT_BOUND: u64 = 8 << 20;

#[test]
fn test_flood_with_slow_consumer_keeps_memory_bounded_and_loses_nothing() {
    support::alone(
        "flood::test_flood_with_slow_consumer_keeps_memory_bounded_and_loses_nothing",
        6 * SOON,
        flood,
    );
}

fn flood() {
    let sent = Arc::new(AtomicU64::new(0));
    let s2 = sent.clone();
    let listener = {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_send_buffer_size(SERVER_SNDBUF).unwrap();
        sock.bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
        sock.listen(1).unwrap();
        std::net::TcpListener::from(sock)
    };
    let server = OneShot::on(listener, move |s| {
        let n = periodic_source(&s, FLOOD, &s2);
        let _ = s.shutdown(Shutdown::Write);
        // Wait for the client to close before closing.
        let rest = pattern_sink(&s, &AtomicU64::new(0), SOON);
        (n.map_err(|e| e.kind()), rest.ending)
    });
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let (_, rss0) = memory_kib();

    let outbox = client.outbox();
    let deadline = Instant::now() + 3 * SOON;
    let mut delivered = 0u64;
    let mut chunks = 0u64;
    let mut paused = false;
    let mut peak_rss = rss0;
    loop {
        if !paused && delivered >= STOP_READING_AT {
            paused = true;
            // Stop reading: the server must stop too, within the bound.
            let mut last = (u64::MAX, Instant::now());
            let stalled = eventually(SOON, || {
                let now = sent.load(Ordering::Acquire);
                if now != last.0 {
                    last = (now, Instant::now());
                    return false;
                }
                last.1.elapsed() >= Duration::from_millis(200)
            });
            let server_at = sent.load(Ordering::Acquire);
            assert!(
                stalled,
                "the server never stopped: flow control is not working"
            );
            assert!(
                server_at - delivered <= IN_FLIGHT_BOUND,
                "{} bytes in flight while the consumer did not read (bound {})",
                server_at - delivered,
                IN_FLIGHT_BOUND
            );
            assert!(server_at < FLOOD, "the whole flood was buffered");
            // The worker reads only with at least half the outbox free, so
            // a stalled flow leaves it more than half full.
            assert!(
                outbox.len() > outbox.capacity() / 2,
                "outbox {} of {}",
                outbox.len(),
                outbox.capacity()
            );
            peak_rss = peak_rss.max(memory_kib().1);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match outbox.recv_timeout(left) {
            Ok(chunk) => {
                assert!(
                    is_periodic_at(delivered, &chunk),
                    "wrong bytes at {delivered}"
                );
                delivered += chunk.len() as u64;
                chunks += 1;
                if chunks.is_multiple_of(1024) {
                    peak_rss = peak_rss.max(memory_kib().1);
                }
                if delivered < STOP_READING_AT && chunks.is_multiple_of(16) {
                    // A slow consumer: pacing, not synchronisation.
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Err(RecvTimeoutError::Closed) => break,
            Err(RecvTimeoutError::Timeout) => panic!("flood stalled at {delivered} bytes"),
        }
    }
    let signals = all_signals(client.signal());
    let report = client.join();
    let (server_sent, ending) = server.result();

    assert_eq!(server_sent, Ok(FLOOD));
    assert_eq!(ending, Ending::Eof);
    assert_eq!(report.reason, Reason::PeerClosed, "{signals:?}");
    assert_accounting(&report, 0, 0, delivered);
    assert_eq!(delivered, FLOOD);
    // Memory: the flood went through a fixed-size outbox; the process grew
    // by far less than the flood (the test's own buffers are a few KiB).
    let grew_kib = peak_rss.saturating_sub(rss0);
    assert!(
        grew_kib < 4 * 1024,
        "resident memory grew by {grew_kib} KiB while {} MiB flowed",
        FLOOD >> 20
    );
}
