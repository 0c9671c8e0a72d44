//! Fault: the server stops reading while we send. The inbox fills and the
//! sender sees backpressure (a chunk handed back); then either the write
//! timeout fires and is reported, or a control message arrives while the
//! worker is blocked writing. Every test checks the accounting invariant,
//! the single final signal, and, once the server reads again, that it gets
//! exactly the bytes the report says were written.

use crate::support;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::faults::*;
use support::*;
use ttc::{Config, Control, Phase, Reason};

const ENDLESS: u64 = u64::MAX / 2;

/// A server on small buffers that reads nothing until released, then reads
/// everything to the end.
fn stalled_sink() -> (OneShot<SinkResult>, mpsc::Sender<()>) {
    let (release, hold) = mpsc::channel::<()>();
    let server = OneShot::on(small_buffer_listener(16 * 1024), move |s| {
        hold.recv_timeout(SOON).expect("never released");
        pattern_sink(&s, &AtomicU64::new(0), SOON)
    });
    (server, release)
}

struct Stalled {
    client: ttc::Client,
    server: OneShot<SinkResult>,
    release: mpsc::Sender<()>,
    feeder: std::thread::JoinHandle<Fed>,
    drainer: std::thread::JoinHandle<Drained>,
    backed_up_at: Instant,
}

/// Connects to a stalled server and feeds until the worker is blocked.
fn backed_up(config: impl FnOnce(Config) -> Config) -> Stalled {
    let (server, release) = stalled_sink();
    let client = config(Config::new("127.0.0.1", server.port()))
        .spawn()
        .unwrap();
    let progress = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = feed_counted(client.inbox().clone(), ENDLESS, stop, progress.clone());
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, SOON);
    assert!(wait_backed_up(client.inbox(), &progress), "never backed up");
    Stalled {
        client,
        server,
        release,
        feeder,
        drainer,
        backed_up_at: Instant::now(),
    }
}

#[test]
fn test_stalled_server_backpressure_then_write_timeout_is_reported() {
    let write_timeout = Duration::from_millis(400);
    let t0 = Instant::now();
    let st = backed_up(|c| c.write_timeout(Some(write_timeout)));
    let signals = all_signals(st.client.signal());
    let ended = t0.elapsed();
    let fed = st.feeder.join().unwrap();
    let drained = st.drainer.join().unwrap();
    let report = st.client.join();
    st.release.send(()).unwrap();
    let sink = st.server.result();

    // The sender saw backpressure: a chunk handed back by a full inbox.
    assert!(fed.saw_full && fed.closed, "{fed:?}");
    let err = the_error(&signals).expect("a write timeout");
    assert_eq!(
        (err.phase, err.kind),
        (Phase::Write, io::ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(report.reason, Reason::Error);
    assert!(ended >= write_timeout, "timed out after {ended:?}");
    assert!(report.unsent > 0, "{report}");
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    // Every byte the report says was written reaches the server, exactly.
    assert_eq!(sink.received, report.sent);
    assert!(sink.is_pattern_prefix);
    assert_eq!(sink.ending, Ending::Eof);
}

#[test]
fn test_shutdown_while_blocked_writing_counts_unsent() {
    let st = backed_up(|c| c.write_timeout(None));
    st.client.control().send(Control::Shutdown);
    let signals = all_signals(st.client.signal());
    let took = st.backed_up_at.elapsed();
    let fed = st.feeder.join().unwrap();
    let drained = st.drainer.join().unwrap();
    let report = st.client.join();
    st.release.send(()).unwrap();
    let sink = st.server.result();

    assert_eq!(report.reason, Reason::Shutdown);
    assert_eq!(the_error(&signals), None);
    // Seen within a few I/O slices, not at some write timeout.
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert!(report.unsent > 0, "{report}");
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    assert_eq!(sink.received, report.sent);
    assert!(sink.is_pattern_prefix);
}

#[test]
fn test_abort_while_blocked_writing_resets_and_counts_unsent() {
    let st = backed_up(|c| c.write_timeout(None));
    st.client.control().send(Control::Abort);
    let signals = all_signals(st.client.signal());
    let fed = st.feeder.join().unwrap();
    let drained = st.drainer.join().unwrap();
    let report = st.client.join();
    st.release.send(()).unwrap();
    let sink = st.server.result();

    assert_eq!(report.reason, Reason::Aborted);
    assert_eq!(the_error(&signals), None);
    assert!(report.unsent > 0, "{report}");
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    // A reset throws away what was in flight: the server gets at most
    // what was written, and sees the reset.
    assert_eq!(sink.ending, Ending::Reset);
    assert!(sink.received <= report.sent);
    assert!(sink.is_pattern_prefix);
}

#[test]
fn test_producer_finished_while_blocked_writing_then_server_reads_flushes_all() {
    let st = backed_up(|c| c.write_timeout(None).linger(Some(SOON)));
    st.client.control().send(Control::ProducerFinished);
    // The inbox closes at once; what it holds is still written once the
    // server reads again.
    assert!(eventually(SOON, || st.client.inbox().is_closed()));
    st.release.send(()).unwrap();
    let signals = all_signals(st.client.signal());
    let fed = st.feeder.join().unwrap();
    let drained = st.drainer.join().unwrap();
    let report = st.client.join();
    let sink = st.server.result();

    assert_eq!(report.reason, Reason::Finished, "{signals:?}");
    assert_eq!(the_error(&signals), None);
    assert_eq!(report.unsent, 0);
    assert_accounting(&report, 0, fed.accepted, drained.delivered);
    assert_eq!(sink.received, fed.accepted);
    assert!(sink.is_pattern_prefix);
    assert_eq!(sink.ending, Ending::Eof);
}
