//! Item 12: 1 000 connect/shutdown cycles leave the process's open file
//! descriptors and thread count where they started. One test in this
//! binary, so no other test's threads or sockets disturb the counts.

mod support;

use support::*;
use ttc::{Config, Control, Reason, Signal};

const CYCLES: usize = 1_000;

fn fds() -> usize {
    count_proc_entries("/proc/self/fd")
}

fn threads() -> usize {
    count_proc_entries("/proc/self/task")
}

#[test]
fn test_connect_shutdown_cycles_leak_no_fds_or_threads() {
    let server = start(Peer::Echo);
    // Warm up once so lazily created process state is in the baseline.
    let warm = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(
        warm.signal().recv_timeout(SOON),
        Ok(Signal::Connected(_))
    ));
    warm.control().send(Control::Shutdown);
    warm.join();
    assert!(eventually(SOON, || server.reports.try_recv().is_ok()));
    let (fd0, th0) = (fds(), threads());

    for i in 0..CYCLES {
        let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
        assert!(
            matches!(client.signal().recv_timeout(SOON), Ok(Signal::Connected(_))),
            "cycle {i}: no Connected"
        );
        client.control().send(Control::Shutdown);
        let report = client.join();
        assert_eq!(report.reason, Reason::Shutdown, "cycle {i}");
    }

    // The echo server's per-connection threads end when they see our
    // close; wait for the counts to settle, bounded.
    let settled = eventually(SOON, || fds() <= fd0 && threads() <= th0);
    assert!(
        settled,
        "after {CYCLES} cycles: fds {fd0} -> {}, threads {th0} -> {}",
        fds(),
        threads()
    );
}
