//! Faults of the link itself, between two test hosts in network namespaces
//! that the test makes (tests/support/netns.rs): a lossy link (nftables
//! drops packets at random), a slow link (tc tbf rate limit), both at once,
//! and a peer that drops every packet (connect timeout). Transfers must
//! complete byte-exact, with the accounting invariant and one final signal.
//!
//! Needs root, iproute2 and nftables; fails loudly without them. Runs on
//! the host and under QEMU user-mode alike: qemu-user passes `setns(2)`
//! through, and the namespaces live in the host kernel either way.

use crate::support;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::faults::*;
use support::netns::*;
use support::*;
use ttc::{Config, Control, Reason, ShutdownReport, Signal};

/// A client in namespace `b` sends `total` bytes of the pattern to an echo
/// server in namespace `a`, finishes, and reads the echo to the end.
/// Returns the report and the elapsed time, after checking the transfer
/// was byte-exact and the accounting holds.
fn echo_through(pair: &NetPair, total: u64) -> (ShutdownReport, Duration) {
    let server = OneShot::on(pair.listen_a(), |mut s| {
        let mut buf = vec![0u8; 16 * 1024];
        let mut echoed = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    s.write_all(&buf[..n]).unwrap();
                    echoed += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("echo read: {e}"),
            }
        }
        s.shutdown(Shutdown::Write).unwrap();
        echoed
    });
    let port = server.port();
    let t0 = Instant::now();
    let client = NetPair::run_in(&pair.b, move || {
        Config::new(ADDR_A.to_string(), port)
            .connect_timeout(SOON)
            .linger(Some(SOON))
            .thread_name("ttc-netns")
            .spawn()
            .unwrap()
    });
    assert!(
        matches!(next_signal(client.signal()), Signal::Connected(_)),
        "no connection across the link"
    );
    let feeder = feed(
        client.inbox().clone(),
        total,
        Arc::new(AtomicBool::new(false)),
    );
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, 3 * SOON);
    let fed = feeder.join().unwrap();
    assert_eq!(fed.accepted, total);
    client.control().send(Control::ProducerFinished);
    let drained = drainer.join().unwrap();
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let report = client.join();

    assert_eq!(server.result_within(3 * SOON), total);
    assert_eq!(report.reason, Reason::Finished, "{signals:?}");
    assert_eq!(the_error(&signals), None);
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    assert_eq!(report.unsent, 0);
    assert_eq!(drained.delivered, total, "the echo came back short");
    assert!(drained.is_pattern_prefix, "the echo came back changed");
    (report, took)
}

#[test]
fn test_lossy_link_transfer_completes_byte_exact() {
    let pair = NetPair::new("loss");
    pair.lose(5);
    let (report, _) = echo_through(&pair, 256 * 1024);
    assert_eq!(report.sent, 256 * 1024);
    // The scenario really had loss.
    assert!(pair.dropped_packets() > 0, "no packet was dropped");
}

#[test]
fn test_slow_link_transfer_completes_byte_exact() {
    let pair = NetPair::new("slow");
    pair.limit_rate("4mbit");
    const TOTAL: u64 = 384 * 1024;
    let (_, took) = echo_through(&pair, TOTAL);
    // 384 KiB at 4 Mbit/s takes about 0.8 s: the rate limit was in force.
    let floor = Duration::from_secs_f64(TOTAL as f64 * 8.0 / 4e6 * 0.7);
    assert!(took >= floor, "took {took:?}: the link was not slow");
}

#[test]
fn test_slow_lossy_link_transfer_completes_byte_exact() {
    let pair = NetPair::new("both");
    pair.limit_rate("8mbit");
    pair.lose(3);
    echo_through(&pair, 192 * 1024);
    assert!(pair.dropped_packets() > 0, "no packet was dropped");
}

#[test]
fn test_connect_to_peer_that_drops_packets_times_out() {
    let pair = NetPair::new("hole");
    let listener = pair.listen_a();
    let port = listener.local_addr().unwrap().port();
    pair.blackhole_port(port);
    let timeout = Duration::from_millis(700);
    let t0 = Instant::now();
    let client = NetPair::run_in(&pair.b, move || {
        Config::new(ADDR_A.to_string(), port)
            .initial_message(b"HELLO".to_vec())
            .connect_timeout(timeout)
            .spawn()
            .unwrap()
    });
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let report = client.join();
    drop(listener);

    assert_connect_timed_out(&signals, &report, took, timeout);
    assert_accounting(&report, 5, 0, 0);
    assert_eq!((report.sent, report.unsent), (0, 5));
    assert!(pair.dropped_packets() > 0, "the SYN was not dropped");
}

#[test]
fn test_worker_inherits_the_namespace_of_the_thread_that_spawns_it() {
    let pair = NetPair::new("inherit");
    let listener = pair.listen_a();
    let port = listener.local_addr().unwrap().port();
    let b = pair.b.clone();
    let (client, ns_b) = NetPair::run_in(&b, move || {
        let c = Config::new(ADDR_A.to_string(), port)
            .thread_name("ttc-netns-inh")
            .spawn()
            .unwrap();
        (c, current_netns())
    });
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let tid = thread_id_named("ttc-netns-inh").expect("worker thread");
    let worker_ns = std::fs::read_link(format!("/proc/self/task/{tid}/ns/net")).unwrap();
    assert_eq!(worker_ns.to_string_lossy(), ns_b);
    assert_ne!(
        ns_b,
        current_netns(),
        "the test thread is not in namespace b"
    );
    client.control().send(Control::Shutdown);
    assert_eq!(client.join().reason, Reason::Shutdown);
}
