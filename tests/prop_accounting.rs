//! Property tests: random interleavings of sends (non-blocking, blocking,
//! sliced), pauses, a slow or fast consumer and control messages, against
//! random servers (echo, sink, burst, reset, close at once), must always
//! keep the accounting invariant (accepted = acked + unacked + unsent,
//! with acked <= sent) and end with exactly one final signal
//! whose reason matches what happened. With reconnect, random disconnects
//! (the server half-closes, resets or closes at once, up to three times
//! before it stays) must keep the totals' invariant, one `Disconnected`
//! per `Connected`, and, without resets, put the stream back together
//! with no gap. And the mailbox, driven by random operations, must behave
//! exactly like a bounded queue.
//!
//! `PROPTEST_CASES` sets the number of cases (default here: 40 for the
//! connection property, 24 for the reconnect one, 256 for the mailbox
//! model).

mod support;

use std::collections::VecDeque;
use std::io::Read;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use support::faults::*;
use support::*;
use ttc::mailbox::{Mailbox, TryRecvError, TrySendError};
use ttc::{Chunk, Config, Control, Reason, SendTimeoutError, Signal};

const C: usize = 64;

#[derive(Clone, Copy, Debug)]
enum ServerKind {
    /// Echoes everything back.
    Echo,
    /// Reads everything, sends nothing.
    Sink,
    /// Sends this many bytes, half-closes, reads until we close.
    Burst(u64),
    /// Reads this many bytes, then resets.
    ResetAfter(u64),
    /// Closes at once.
    CloseAtOnce,
}

#[derive(Clone, Debug)]
enum Op {
    TrySend(usize),
    SendTimeout(usize),
    SendSlice(usize),
    Pause(u8),
    Control(Control),
}

fn server_kind() -> impl Strategy<Value = ServerKind> {
    prop_oneof![
        3 => Just(ServerKind::Echo),
        2 => Just(ServerKind::Sink),
        1 => (0u64..20_000).prop_map(ServerKind::Burst),
        1 => (0u64..3_000).prop_map(ServerKind::ResetAfter),
        1 => Just(ServerKind::CloseAtOnce),
    ]
}

fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        Just(Control::ProducerFinished),
        Just(Control::Shutdown),
        Just(Control::Abort)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..=C).prop_map(Op::TrySend),
        3 => (1..=C).prop_map(Op::SendTimeout),
        3 => (1usize..2_000).prop_map(Op::SendSlice),
        2 => (0u8..3).prop_map(Op::Pause),
        1 => control().prop_map(Op::Control),
    ]
}

/// Starts the server; returns its port and a handle whose result is how
/// many bytes it read.
fn serve(kind: ServerKind) -> OneShot<u64> {
    OneShot::spawn(move |mut s| {
        let mut buf = [0u8; 16 * 1024];
        let mut got = 0u64;
        let _ = s.set_read_timeout(Some(SOON));
        let mut read_all = |s: &mut std::net::TcpStream, echo: bool, limit: u64| loop {
            if got >= limit {
                return;
            }
            let want = buf.len().min((limit - got) as usize);
            match s.read(&mut buf[..want]) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    got += n as u64;
                    if echo && std::io::Write::write_all(s, &buf[..n]).is_err() {
                        return;
                    }
                }
            }
        };
        match kind {
            ServerKind::Echo => {
                read_all(&mut s, true, u64::MAX);
                let _ = s.shutdown(Shutdown::Write);
            }
            ServerKind::Sink => read_all(&mut s, false, u64::MAX),
            ServerKind::Burst(n) => {
                let _ = periodic_source(&s, n, &AtomicU64::new(0));
                let _ = s.shutdown(Shutdown::Write);
                read_all(&mut s, false, u64::MAX);
            }
            ServerKind::ResetAfter(n) => {
                read_all(&mut s, false, n);
                reset(s);
            }
            ServerKind::CloseAtOnce => {}
        }
        got
    })
}

fn run_case(
    kind: ServerKind,
    initial_len: usize,
    ops: &[Op],
    slow_consumer: bool,
) -> Result<(), TestCaseError> {
    let server = serve(kind);
    let mut initial = vec![0u8; initial_len];
    periodic(0, &mut initial);
    let client = Config::new("127.0.0.1", server.port())
        .initial_message(initial)
        .write_timeout(Some(Duration::from_secs(2)))
        .linger(Some(Duration::from_millis(200)))
        .spawn_sized::<C, 4, 4>()
        .unwrap();
    let pace = if slow_consumer {
        Pace {
            every: 4,
            pause: Duration::from_millis(1),
        }
    } else {
        Pace::FULL_SPEED
    };
    let drainer = drain(client.outbox().clone(), pace, SOON);
    let base = initial_len as u64;
    let mut accepted = 0u64;
    let mut controls = Vec::new();
    let mut buf = vec![0u8; 2_000];
    let short = Duration::from_millis(20);
    for op in ops {
        match *op {
            Op::TrySend(n) | Op::SendTimeout(n) => {
                periodic(base + accepted, &mut buf[..n]);
                let chunk = Chunk::<C>::from_slice(&buf[..n]).unwrap();
                let ok = match op {
                    Op::TrySend(_) => match client.inbox().try_send(chunk) {
                        Ok(()) => true,
                        Err(TrySendError::Full(back) | TrySendError::Closed(back)) => {
                            // The chunk comes back whole.
                            prop_assert_eq!(&back[..], &buf[..n]);
                            false
                        }
                    },
                    _ => match client.inbox().send_timeout(chunk, short) {
                        Ok(()) => true,
                        Err(SendTimeoutError::Timeout(back) | SendTimeoutError::Closed(back)) => {
                            prop_assert_eq!(&back[..], &buf[..n]);
                            false
                        }
                    },
                };
                if ok {
                    accepted += n as u64;
                }
            }
            Op::SendSlice(n) => {
                periodic(base + accepted, &mut buf[..n]);
                match client.inbox().send_slice(&buf[..n], short) {
                    Ok(()) => accepted += n as u64,
                    Err(e) => {
                        prop_assert!(e.accepted < n);
                        accepted += e.accepted as u64;
                    }
                }
            }
            // Pacing the producer, not synchronising.
            Op::Pause(ms) => std::thread::sleep(Duration::from_millis(ms.into())),
            Op::Control(c) => {
                client.control().send(c);
                controls.push(c);
            }
        }
    }
    // Always end: a graceful finish unless something stronger was sent.
    if controls.is_empty() {
        client.control().send(Control::ProducerFinished);
        controls.push(Control::ProducerFinished);
    }
    let signals = all_signals(client.signal());
    let drained = drainer.join().unwrap();
    let report = client.join();
    let connected = matches!(signals.first(), Some(Signal::Connected(_)));
    if !connected {
        // Stopped before connecting: release the server's accept.
        drop(std::net::TcpStream::connect(server.addr));
    }
    let server_got = if connected {
        server.result_within(SOON)
    } else {
        0
    };

    prop_assert_eq!(&final_report(&signals), &report);
    prop_assert_eq!(
        base + accepted,
        report.sent + report.unsent,
        "accepted != sent + unsent: {}",
        report
    );
    // Of what was sent, `acked` reached the server's kernel: accepted =
    // acked + unacked + unsent.
    prop_assert!(report.acked <= report.sent, "acked > sent: {}", report);
    prop_assert_eq!(
        base + accepted,
        report.acked + report.unacked() + report.unsent,
        "accepted != acked + unacked + unsent: {}",
        report
    );
    prop_assert_eq!(report.received, drained.delivered);
    prop_assert!(drained.largest_chunk <= C);
    prop_assert!(
        server_got <= report.sent,
        "server read more than was written"
    );
    if matches!(kind, ServerKind::Echo) {
        prop_assert!(drained.is_pattern_prefix, "the echo is not our stream");
        prop_assert!(drained.delivered <= report.sent);
    }
    let strongest = controls.iter().max().copied();
    let error = the_error(&signals);
    match report.reason {
        Reason::Aborted => prop_assert_eq!(strongest, Some(Control::Abort)),
        Reason::Shutdown => prop_assert!(strongest >= Some(Control::Shutdown)),
        Reason::Finished => {
            prop_assert!(controls.contains(&Control::ProducerFinished));
            prop_assert_eq!(report.unsent, 0);
            prop_assert!(error.is_none());
        }
        // Every server here closes after our half-close, but a loaded
        // machine may keep it quiet past the linger time.
        Reason::Linger => {
            prop_assert!(controls.contains(&Control::ProducerFinished));
            prop_assert_eq!(report.unsent, 0);
            prop_assert!(error.is_none());
            prop_assert!(!saw_peer_closed(&signals));
        }
        Reason::PeerClosed => prop_assert!(saw_peer_closed(&signals)),
        Reason::Error => prop_assert!(error.is_some(), "error end without an error signal"),
        other => prop_assert!(false, "unknown reason {}", other),
    }
    if report.reason != Reason::Error && report.reason != Reason::PeerClosed {
        prop_assert!(error.is_none(), "{:?}", signals);
    }
    // Nothing after the final signal, and the signal order is fixed.
    prop_assert!(matches!(
        signals.first(),
        Some(Signal::Connected(_) | Signal::Error(_) | Signal::SocketShutdown(_))
    ));
    Ok(())
}

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Failures print their seed and the shrunk case; no files are
        // written into the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(40))]

    #[test]
    fn prop_random_interleavings_keep_the_accounting(
        kind in server_kind(),
        initial_len in 0usize..200,
        ops in prop::collection::vec(op(), 0..40),
        slow_consumer in any::<bool>(),
    ) {
        run_case(kind, initial_len, &ops, slow_consumer)?;
    }
}

/// How one connection of the reconnect model's server ends before the
/// last one (a sink that reads to the end).
#[derive(Clone, Copy, Debug)]
enum Drop {
    /// Reads this many bytes, half-closes, and reads on to the end: the
    /// client stops writing on it and moves to a new connection, losing
    /// nothing.
    HalfCloseAfter(u64),
    /// Reads this many bytes, then resets (what its kernel acknowledged and
    /// it never read is lost to it: TCP acknowledgements cannot tell).
    ResetAfter(u64),
    /// Accepts and closes at once.
    CloseAtOnce,
}

fn drop_kind() -> impl Strategy<Value = Drop> {
    prop_oneof![
        2 => (0u64..4_000).prop_map(Drop::HalfCloseAfter),
        2 => (0u64..4_000).prop_map(Drop::ResetAfter),
        1 => Just(Drop::CloseAtOnce),
    ]
}

/// The reconnect model's server: one connection per entry of `drops`, then
/// sinks, one connection after the other, until `done` is set. Returns
/// what each connection read, in accept order.
fn serve_drops(
    drops: Vec<Drop>,
    done: Arc<AtomicBool>,
) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let mut conns = Vec::new();
        let mut i = 0;
        loop {
            let mut s = match listener.accept() {
                Ok((s, _)) => s,
                Err(_) if done.load(Ordering::Acquire) => break,
                Err(_) => {
                    // Pacing the accept loop of a non-blocking listener.
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            };
            s.set_nonblocking(false).unwrap();
            let _ = s.set_read_timeout(Some(SOON));
            let mut got = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            let mut read_up_to = |s: &mut std::net::TcpStream, got: &mut Vec<u8>, limit: u64| {
                while (got.len() as u64) < limit {
                    let want = buf.len().min((limit - got.len() as u64) as usize);
                    match s.read(&mut buf[..want]) {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                true
            };
            match drops.get(i) {
                Some(Drop::HalfCloseAfter(n)) => {
                    if read_up_to(&mut s, &mut got, *n) {
                        let _ = s.shutdown(Shutdown::Write);
                        read_up_to(&mut s, &mut got, u64::MAX);
                    }
                }
                Some(Drop::ResetAfter(n)) => {
                    read_up_to(&mut s, &mut got, *n);
                    reset(s);
                }
                Some(Drop::CloseAtOnce) => {}
                None => {
                    read_up_to(&mut s, &mut got, u64::MAX);
                }
            }
            conns.push(got);
            i += 1;
        }
        conns
    });
    (port, handle)
}

/// Where each connection's inbox bytes start in the stream: the first
/// offset at or before the end of what the connections before it covered
/// (no further back than the kept window) at which its bytes are the
/// stream. Returns how far they cover it, or the connection that does not
/// fit (a gap, or damage).
fn covered(conns: &[Vec<u8>], initial: &[u8], window: u64) -> Result<u64, String> {
    let mut covered = 0u64;
    for (i, conn) in conns.iter().enumerate() {
        let n = conn.len().min(initial.len());
        if conn[..n] != initial[..n] {
            return Err(format!(
                "connection {i} does not start with the initial message"
            ));
        }
        let data = &conn[n..];
        if data.is_empty() {
            continue;
        }
        let from = covered.saturating_sub(window);
        let Some(at) = (from..=covered).rev().find(|&o| is_periodic_at(o, data)) else {
            return Err(format!(
                "connection {i} ({} bytes) leaves a gap after {covered}",
                data.len()
            ));
        };
        covered = covered.max(at + data.len() as u64);
    }
    Ok(covered)
}

fn run_reconnect_case(
    drops: Vec<Drop>,
    initial_len: usize,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let any_reset = drops
        .iter()
        .any(|d| matches!(d, Drop::ResetAfter(_) | Drop::CloseAtOnce));
    let done = Arc::new(AtomicBool::new(false));
    let (port, server) = serve_drops(drops, done.clone());
    let mut initial = vec![0u8; initial_len];
    fill_pattern(7, &mut initial);
    const WINDOW: usize = 4096;
    let client = Config::new("127.0.0.1", port)
        .initial_message(initial.clone())
        .linger(Some(Duration::from_millis(500)))
        .resend_window(WINDOW)
        .reconnect(
            ttc::Backoff::default()
                .initial(Duration::from_millis(2))
                .max(Duration::from_millis(10)),
        )
        .spawn_sized::<C, 4, 4>()
        .unwrap();
    let drainer = drain(client.outbox().clone(), Pace::FULL_SPEED, 3 * SOON);
    let sig = client.signal().clone();
    let collector = std::thread::spawn(move || {
        let mut out = Vec::new();
        while let Ok(s) = sig.recv_timeout(3 * SOON) {
            let last = s.is_final();
            out.push(s);
            if last {
                break;
            }
        }
        out
    });
    let mut accepted = 0u64;
    let mut controls = Vec::new();
    let mut buf = vec![0u8; 2_000];
    let short = Duration::from_millis(20);
    for op in ops {
        match *op {
            Op::TrySend(n) | Op::SendTimeout(n) => {
                periodic(accepted, &mut buf[..n]);
                let chunk = Chunk::<C>::from_slice(&buf[..n]).unwrap();
                let ok = match op {
                    Op::TrySend(_) => client.inbox().try_send(chunk).is_ok(),
                    _ => client.inbox().send_timeout(chunk, short).is_ok(),
                };
                if ok {
                    accepted += n as u64;
                }
            }
            Op::SendSlice(n) => {
                periodic(accepted, &mut buf[..n]);
                match client.inbox().send_slice(&buf[..n], short) {
                    Ok(()) => accepted += n as u64,
                    Err(e) => accepted += e.accepted as u64,
                }
            }
            // Pacing the producer, not synchronising.
            Op::Pause(ms) => std::thread::sleep(Duration::from_millis(ms.into())),
            Op::Control(c) => {
                client.control().send(c);
                controls.push(c);
            }
        }
    }
    if controls.is_empty() {
        client.control().send(Control::ProducerFinished);
        controls.push(Control::ProducerFinished);
    }
    let signals = collector.join().unwrap();
    let drained = drainer.join().unwrap();
    let report = client.join();
    done.store(true, Ordering::Release);
    let conns = server.join().unwrap();
    prop_assert_eq!(&final_report(&signals), &report);
    let connected = signals
        .iter()
        .filter(|s| matches!(s, Signal::Connected(_)))
        .count();
    let disconnected: Vec<&ttc::ShutdownReport> = signals
        .iter()
        .filter_map(|s| match s {
            Signal::Disconnected(r) => Some(r),
            _ => None,
        })
        .collect();
    // The signal outbox has a fixed capacity and drops a non-final signal
    // when it is full (a reader behind a fast reconnect loop, as on a slow
    // or loaded machine), so these are bounds, and the connection numbers
    // only increase.
    prop_assert!(connected <= report.connections as usize);
    prop_assert!(disconnected.len() <= report.connections as usize);
    let mut last = 0;
    for (i, d) in disconnected.iter().enumerate() {
        prop_assert!(d.acked <= d.sent, "connection {}: {}", i, d);
        prop_assert!(d.resent <= d.sent, "connection {}: {}", i, d);
        prop_assert!(d.connections > last && d.connections <= report.connections);
        last = d.connections;
    }
    // The totals: the initial message is accepted once (its repeats on
    // later connections are resent); accepted = acked + unacked + unsent.
    let initials = initial_len as u64;
    prop_assert_eq!(
        initials + accepted,
        report.acked + report.unacked() + report.unsent,
        "accepted != acked + unacked + unsent: {}",
        report
    );
    prop_assert_eq!(
        initials + accepted,
        report.sent - report.resent + report.unsent
    );
    prop_assert!(report.acked + report.resent <= report.sent, "{}", report);
    prop_assert_eq!(report.lost, 0);
    prop_assert_eq!(report.received, drained.delivered);
    let strongest = controls.iter().max().copied();
    match report.reason {
        Reason::Finished => {
            prop_assert!(controls.contains(&Control::ProducerFinished));
            // Everything acknowledged; what was acknowledged on a
            // connection that failed is counted as possibly lost, and then
            // the report does not say that all was delivered.
            prop_assert!(
                report.unsent == 0 && report.unacked() == 0 && report.lost == 0,
                "finished with something not acknowledged: {} {:?}",
                report,
                signals
            );
            prop_assert_eq!(report.all_acked(), report.unconfirmed == 0, "{}", report);
            prop_assert!(report.unconfirmed <= report.acked, "{}", report);
        }
        Reason::Shutdown => prop_assert!(strongest >= Some(Control::Shutdown)),
        Reason::Aborted => prop_assert_eq!(strongest, Some(Control::Abort)),
        other => prop_assert!(false, "ended with {} ({})", other, report),
    }
    if report.reason == Reason::Finished {
        // Without resets nothing acknowledged was lost on the server's
        // side: the connections, put back together, hold the whole stream.
        if !any_reset {
            let got = covered(&conns, &initial, WINDOW as u64);
            prop_assert_eq!(
                got,
                Ok(accepted),
                "{:?}",
                conns.iter().map(Vec::len).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(24))]

    #[test]
    fn prop_disconnects_and_reconnects_keep_the_accounting(
        drops in prop::collection::vec(drop_kind(), 0..4),
        initial_len in 0usize..100,
        ops in prop::collection::vec(op(), 0..40),
    ) {
        run_reconnect_case(drops, initial_len, &ops)?;
    }
}

#[derive(Clone, Debug)]
enum MbOp {
    TrySend(u8),
    TryRecv,
    Close,
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn prop_mailbox_behaves_like_a_bounded_queue(
        ops in prop::collection::vec(
            prop_oneof![
                4 => any::<u8>().prop_map(MbOp::TrySend),
                4 => Just(MbOp::TryRecv),
                1 => Just(MbOp::Close),
            ],
            0..100,
        )
    ) {
        let mb: Mailbox<u8, 3> = Mailbox::new();
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut closed = false;
        for op in ops {
            match op {
                MbOp::TrySend(v) => {
                    let got = mb.try_send(v);
                    if closed {
                        prop_assert_eq!(got, Err(TrySendError::Closed(v)));
                    } else if model.len() == 3 {
                        prop_assert_eq!(got, Err(TrySendError::Full(v)));
                    } else {
                        prop_assert_eq!(got, Ok(()));
                        model.push_back(v);
                    }
                }
                MbOp::TryRecv => {
                    let want = match model.pop_front() {
                        Some(v) => Ok(v),
                        None if closed => Err(TryRecvError::Closed),
                        None => Err(TryRecvError::Empty),
                    };
                    prop_assert_eq!(mb.try_recv(), want);
                }
                MbOp::Close => {
                    mb.close();
                    closed = true;
                }
            }
            prop_assert_eq!(mb.len(), model.len());
            prop_assert_eq!(mb.is_full(), model.len() == 3);
            prop_assert_eq!(mb.is_closed(), closed);
        }
    }
}
