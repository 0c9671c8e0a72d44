//! Finding a dead peer: the idle timeout (nothing from the server for a
//! while), `TCP_USER_TIMEOUT` (written data unacknowledged for a while) and
//! keepalive probes with an interval and a count, each ending the
//! connection within its bound with a `TimedOut` error.
//!
//! The idle tests run on loopback; the user-timeout and keepalive tests
//! need a link that goes dark without a reset, so they run between two
//! test hosts in network namespaces the test makes (tests/support/netns.rs:
//! root, iproute2 and nftables). Host and QEMU alike; the bounds are
//! generous for a loaded machine and emulation.

use crate::support;

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::faults::*;
use support::netns::*;
use support::*;
use ttc::{Config, Control, Keepalive, Phase, Reason, Signal};

/// Extra time any bound here allows: a busy two-core machine, or QEMU.
fn slack() -> Duration {
    if under_qemu() {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(1500)
    }
}

/// Waits for the error signal (skipping others), at most `limit`; returns
/// it and when it arrived.
fn wait_error(signal: &ttc::SignalOutbox, limit: Duration) -> (ttc::Error, Instant) {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match signal.recv_timeout(left) {
            Ok(Signal::Error(e)) => return (e, Instant::now()),
            Ok(Signal::SocketShutdown(r)) => panic!("ended without an error: {r}"),
            Ok(_) => {}
            Err(e) => panic!("no error signal in time: {e}"),
        }
    }
}

#[test]
fn test_idle_timeout_fails_a_silent_connection_within_its_bound() {
    let idle = Duration::from_millis(300);
    let server = silent(SOON);
    // The idle time starts once connected: after `spawned`, and before the
    // test sees `Connected` (at `t0`), which may come late on a busy
    // machine.
    let spawned = Instant::now();
    let client = Config::new("127.0.0.1", server.port())
        .idle_timeout(Some(idle))
        .spawn()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let t0 = Instant::now();
    let (err, at) = wait_error(client.signal(), SOON);
    assert_eq!(
        (err.phase, err.kind),
        (Phase::Read, io::ErrorKind::TimedOut)
    );
    assert!(at - spawned >= idle, "after {:?}", at - spawned);
    assert!(at - t0 < idle + slack(), "after {:?}", at - t0);
    let report = client.join();
    assert_eq!(report.reason, Reason::Error);
    assert_eq!(report.error, Some(err));
}

#[test]
fn test_idle_timeout_is_rearmed_by_each_byte_received() {
    let idle = Duration::from_millis(500);
    let chatter = Duration::from_millis(1500);
    // One byte every 100 ms for 1.5 s, then silence.
    let server = OneShot::spawn(move |mut s| {
        let t0 = Instant::now();
        while t0.elapsed() < chatter {
            if s.write_all(b".").is_err() {
                return;
            }
            // Pacing the server, not synchronising.
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = observe(s, SOON);
    });
    let spawned = Instant::now();
    let client = Config::new("127.0.0.1", server.port())
        .idle_timeout(Some(idle))
        .spawn()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let t0 = Instant::now();
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);
    let (err, at) = wait_error(client.signal(), SOON);
    assert_eq!(
        (err.phase, err.kind),
        (Phase::Read, io::ErrorKind::TimedOut)
    );
    // Not during the chatter (each byte started the time again; the last
    // one left at least 1.4 s after the connection was up), and soon after
    // it stopped.
    let last_byte = chatter - Duration::from_millis(100);
    assert!(at - spawned >= last_byte + idle, "{:?}", at - spawned);
    assert!(at - t0 < chatter + idle + slack(), "{:?}", at - t0);
    let drained = drainer.join().unwrap();
    assert!(drained.delivered >= 10, "{} bytes", drained.delivered);
    assert_eq!(client.join().received, drained.delivered);
}

#[test]
fn test_idle_timeout_pauses_while_the_outbox_is_full() {
    // The server sends a burst and then nothing; the application does not
    // read for four idle times. The worker stops reading when the outbox
    // is full, so the idle time does not run; it runs again once the
    // outbox is drained.
    let idle = Duration::from_millis(250);
    const BURST: u64 = 1 << 20;
    let server = OneShot::spawn(move |s| {
        let _ = periodic_source(&s, BURST, &AtomicU64::new(0));
        let _ = observe(s, SOON);
    });
    let client = Config::new("127.0.0.1", server.port())
        .idle_timeout(Some(idle))
        .spawn_sized::<1024, 4, 4>()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    assert!(eventually(SOON, || client.outbox().len() == client.outbox().capacity()));
    // Not reading for four idle times: no signal may come meanwhile.
    assert_eq!(
        client.signal().recv_timeout(idle * 4),
        Err(ttc::RecvTimeoutError::Timeout),
        "the idle timeout ran while the outbox was full"
    );
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);
    let (err, _) = wait_error(client.signal(), SOON);
    assert_eq!(
        (err.phase, err.kind),
        (Phase::Read, io::ErrorKind::TimedOut)
    );
    let drained = drainer.join().unwrap();
    assert_eq!(drained.delivered, BURST, "the burst was not all delivered");
    assert!(drained.is_pattern_prefix);
}

/// A client in namespace `b` connected to a pattern sink in namespace `a`.
fn client_across(
    pair: &NetPair,
    config: impl FnOnce(Config) -> Config + Send + 'static,
) -> (ttc::Client, Arc<AtomicU64>) {
    let progress = Arc::new(AtomicU64::new(0));
    let p = progress.clone();
    let server = OneShot::on(pair.listen_a(), move |s| pattern_sink(&s, &p, 3 * SOON));
    let port = server.port();
    let client = NetPair::run_in(&pair.b, move || {
        config(Config::new(ADDR_A.to_string(), port).connect_timeout(SOON))
            .spawn()
            .unwrap()
    });
    assert!(
        matches!(next_signal(client.signal()), Signal::Connected(_)),
        "no connection across the link"
    );
    (client, progress)
}

#[test]
fn test_user_timeout_ends_an_upload_on_a_dark_link_within_its_bound() {
    let pair = NetPair::new("utmo");
    let user_timeout = Duration::from_secs(1);
    let (client, received) = client_across(&pair, move |c| c.user_timeout(Some(user_timeout)));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed(client.inbox().clone(), u64::MAX, stop.clone());
    assert!(
        eventually(SOON, || received.load(Ordering::Acquire) > 256 * 1024),
        "the upload did not start"
    );
    pair.go_dark();
    let dark_at = Instant::now();
    let (err, at) = wait_error(client.signal(), SOON);
    let took = at - dark_at;
    stop.store(true, Ordering::Release);
    assert_eq!(err.kind, io::ErrorKind::TimedOut, "{err}");
    assert!(matches!(err.phase, Phase::Read | Phase::Write), "{err}");
    assert!(
        took >= user_timeout - Duration::from_millis(100),
        "{took:?}"
    );
    assert!(took < user_timeout + slack(), "{took:?}");
    let fed = feeder.join().unwrap();
    let report = client.join();
    assert_eq!(report.reason, Reason::Error);
    assert_accounting(&report, 0, fed.accepted, 0);
    assert!(pair.dropped_packets() > 0);
}

#[test]
fn test_keepalive_interval_and_count_end_a_quiet_connection_on_a_dark_link() {
    let pair = NetPair::new("kalv");
    // Dead after about idle + count * interval = 3 s of silence.
    let ka = Keepalive::idle(Duration::from_secs(1))
        .interval(Duration::from_secs(1))
        .count(2);
    let (client, _) = client_across(&pair, move |c| c.keepalive(Some(ka)));
    pair.go_dark();
    let dark_at = Instant::now();
    let (err, at) = wait_error(client.signal(), 2 * SOON);
    let took = at - dark_at;
    assert_eq!(
        (err.phase, err.kind),
        (Phase::Read, io::ErrorKind::TimedOut),
        "{err}"
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(3) + slack(), "{took:?}");
    client.control().send(Control::Shutdown);
    assert_eq!(client.join().reason, Reason::Error);
    assert!(pair.dropped_packets() > 0, "no probe was dropped");
}
