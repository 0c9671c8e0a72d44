//! The behaviour contract of the component, one or more named
//! tests per item. Every test collects all signals through
//! `support::all_signals`, which also asserts that exactly one
//! `SocketShutdown` comes, last, with nothing after it (item 10).

mod support;

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::*;
use ttc::{Chunk, Config, Control, Phase, Reason, Signal, TrySendError};

fn pattern_bytes(offset: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill_pattern(offset, &mut v);
    v
}

fn errors(signals: &[Signal]) -> Vec<ttc::Error> {
    signals
        .iter()
        .filter_map(|s| match s {
            Signal::Error(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Pushes pattern chunks (continuing the pattern at byte `offset`) with
/// `try_send` until the inbox says full; returns the bytes accepted.
/// Bounded by `limit` bytes.
fn fill_until_full<const C: usize, const N: usize>(
    inbox: &ttc::Inbox<C, N>,
    offset: u64,
    limit: u64,
) -> u64 {
    let mut accepted = 0u64;
    let mut buf = [0u8; C];
    while accepted < limit {
        fill_pattern(offset + accepted, &mut buf);
        match inbox.try_send(Chunk::from_slice(&buf).unwrap()) {
            Ok(()) => accepted += C as u64,
            Err(TrySendError::Full(back)) => {
                // The chunk comes back intact.
                assert_eq!(&back[..], &buf[..]);
                return accepted;
            }
            Err(TrySendError::Closed(_)) => panic!("inbox closed while filling"),
        }
    }
    panic!("inbox never filled within {limit} bytes");
}

// 1. Connect.

#[test]
fn test_connect_signals_connected_peer_and_writes_initial_message_first() {
    let server = silent(SOON);
    let client = Config::new("127.0.0.1", server.port())
        .initial_message(b"INIT:".to_vec())
        .spawn()
        .unwrap();
    // Queued before the connection is up: must still follow the initial
    // message.
    client
        .inbox()
        .try_send(Chunk::from_slice(b"data-1;").unwrap())
        .unwrap();
    client
        .inbox()
        .try_send(Chunk::from_slice(b"data-2;").unwrap())
        .unwrap();
    client.control().send(Control::ProducerFinished);

    let signals = all_signals(client.signal());
    assert_eq!(signals[0], Signal::Connected(server.addr));
    let seen = server.result();
    assert_eq!(seen.received, b"INIT:data-1;data-2;");
    assert_eq!(seen.ending, Ending::Eof);
    let report = final_report(&signals);
    assert_eq!((report.sent, report.unsent), (19, 0));
}

#[test]
fn test_connect_over_ipv6_loopback_with_bracketed_literal() {
    let server = start_on("[::1]:0", Peer::Fortune);
    let client = Config::new("[::1]", server.port()).spawn().unwrap();
    let got = drain_outbox(client.outbox());
    assert_eq!(got, ttc::peers::FORTUNE.as_bytes());
    let signals = all_signals(client.signal());
    assert!(matches!(signals[0], Signal::Connected(a) if a.is_ipv6()));
    assert_eq!(final_report(&signals).reason, Reason::PeerClosed);
}

// 2. Every accepted byte is written, in order.

#[test]
fn test_every_inbox_byte_is_written_in_order() {
    let server = start(Peer::Sink);
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<512, 4, 4>()
        .unwrap();
    let data = pattern_bytes(0, 3 * 1024 * 1024 + 77);
    client.inbox().send_slice(&data, SOON).unwrap();
    client.control().send(Control::ProducerFinished);

    let signals = all_signals(client.signal());
    let report = final_report(&signals);
    assert_eq!(report.reason, Reason::Finished);
    assert_eq!((report.sent, report.unsent), (data.len() as u64, 0));
    let seen = server.next_report();
    assert_eq!(seen.received, data.len() as u64);
    assert_eq!(seen.hash, fnv1a(&data));
}

#[test]
fn test_many_producers_each_keep_their_order() {
    let server = silent(SOON);
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<8, 4, 4>()
        .unwrap();
    let producers: Vec<_> = (0u8..4)
        .map(|p| {
            let inbox = client.inbox().clone();
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    let mut c = Chunk::<8>::new();
                    c.extend_from_slice(&[p]).unwrap();
                    c.extend_from_slice(&i.to_be_bytes()).unwrap();
                    inbox.send_timeout(c, SOON).unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    client.control().send(Control::ProducerFinished);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!((report.sent, report.unsent), (4 * 500 * 5, 0));
    let seen = server.result().received;
    let mut next = [0u32; 4];
    for rec in seen.chunks(5) {
        let p = rec[0] as usize;
        let i = u32::from_be_bytes(rec[1..5].try_into().unwrap());
        assert_eq!(i, next[p], "producer {p} out of order");
        next[p] += 1;
    }
    assert_eq!(next, [500; 4]);
}

// 3. Every byte the server sends reaches the outbox, in order, in chunks
// no larger than the chunk capacity (drain_outbox asserts the size).

#[test]
fn test_every_server_byte_is_delivered_in_order_in_bounded_chunks() {
    let len = 2 * 1024 * 1024 + 13;
    let server = start(Peer::Burst(len));
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<256, 4, 8>()
        .unwrap();
    let got = drain_outbox(client.outbox());
    assert_eq!(got.len() as u64, len);
    assert!(
        got == pattern_bytes(0, len as usize),
        "bytes differ from the burst pattern"
    );
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::PeerClosed);
    assert_eq!(report.received, len);
}

#[test]
fn test_recv_into_streams_every_byte_in_order_across_chunk_splits() {
    let len = 1024 * 1024 + 7;
    let server = start(Peer::Burst(len));
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<256, 4, 8>()
        .unwrap();
    // Buffers smaller than a chunk (the rest of a chunk comes first next
    // time), odd sizes, and larger than the whole outbox (a batch drain
    // frees every slot at once and must still wake the worker).
    let sizes = [100, 256, 1000, 5000, 1];
    let mut buf = vec![0u8; 5000];
    let mut got = Vec::with_capacity(len as usize);
    let deadline = Instant::now() + SOON;
    for i in 0.. {
        let want = sizes[i % sizes.len()];
        let left = deadline.saturating_duration_since(Instant::now());
        match client.outbox().recv_into_timeout(&mut buf[..want], left) {
            Ok(n) => {
                assert!(n >= 1 && n <= want, "{n} bytes into a {want}-byte buffer");
                got.extend_from_slice(&buf[..n]);
            }
            Err(ttc::RecvTimeoutError::Closed) => break,
            Err(ttc::RecvTimeoutError::Timeout) => {
                panic!("stalled after {} of {len} bytes", got.len())
            }
        }
    }
    assert_eq!(got.len() as u64, len);
    assert!(got == pattern_bytes(0, len as usize), "bytes differ");
    assert_eq!(final_report(&all_signals(client.signal())).received, len);
    // An empty buffer takes nothing and does not wait, even when closed.
    assert_eq!(client.outbox().recv_into(&mut []), Ok(0));
}

#[test]
fn test_outbox_reads_as_an_io_stream_to_end_of_file() {
    let len = 300_000 + 3;
    let server = start(Peer::Burst(len));
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    let mut got = Vec::new();
    let copied = io::copy(&mut client.outbox(), &mut got).unwrap();
    assert_eq!(copied, len);
    assert!(got == pattern_bytes(0, len as usize), "bytes differ");
    // End of file is sticky: the connection has ended.
    assert_eq!(client.outbox().read(&mut [0u8; 16]).unwrap(), 0);
    assert_eq!(final_report(&all_signals(client.signal())).received, len);
}

#[test]
fn test_receive_on_idle_connection_sleeps_instead_of_spinning() {
    // Receives spin briefly only while the worker is awake; on an idle
    // connection the worker sleeps in poll, so a receive sleeps too.
    let server = silent(SOON);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let outbox = client.outbox().clone();
    // The receiving thread measures its own CPU time (its /proc entry is
    // gone once it has ended).
    let waiter = std::thread::spawn(move || {
        let tid = current_thread_id();
        let (_, ticks0) = thread_activity(&tid);
        let t0 = Instant::now();
        let mut buf = [0u8; 64];
        let a = outbox.recv_timeout(Duration::from_millis(300)).err();
        let b = outbox
            .recv_into_timeout(&mut buf, Duration::from_millis(300))
            .err();
        let took = t0.elapsed();
        let (_, ticks1) = thread_activity(&tid);
        (a, b, took, ticks1 - ticks0)
    });
    let (a, b, took, ticks) = waiter.join().unwrap();
    assert_eq!(a, Some(ttc::RecvTimeoutError::Timeout));
    assert_eq!(b, Some(ttc::RecvTimeoutError::Timeout));
    assert!(
        took >= Duration::from_millis(600),
        "returned early: {took:?}"
    );
    // 600 ms of waiting; a spinning receiver would burn ~60 ticks.
    assert!(
        ticks <= 5,
        "receiver used {ticks} CPU ticks while waiting on an idle connection"
    );
    client.control().send(Control::Shutdown);
    assert_eq!(client.join().reason, Reason::Shutdown);
}

// 4. Outbox full: the worker stops reading, does not spin, and resumes.

#[test]
fn test_full_outbox_stops_reading_without_spinning_then_resumes() {
    // More than the socket buffers hold while the receiver is not reading
    // (send buffer max 4 MiB here; the receive buffer only auto-grows
    // while the application reads fast).
    let len: u64 = 8 * 1024 * 1024;
    let server = start(Peer::Burst(len));
    let client = Config::new("127.0.0.1", server.port())
        .thread_name("ttc-t-outbox")
        .spawn_sized::<1024, 16, 4>()
        .unwrap();
    assert!(
        eventually(SOON, || client.outbox().len() == client.outbox().capacity()),
        "outbox never filled"
    );
    let tid = thread_id_named("ttc-t-outbox").expect("worker thread not found");

    let (switches0, ticks0) = thread_activity(&tid);
    // A quiet window: no signal is expected while the outbox stays full.
    assert!(matches!(
        client.signal().recv_timeout(Duration::from_millis(100)),
        Ok(Signal::Connected(_))
    ));
    assert_eq!(
        client.signal().recv_timeout(Duration::from_millis(400)),
        Err(ttc::RecvTimeoutError::Timeout)
    );
    let (switches1, ticks1) = thread_activity(&tid);
    assert!(
        switches1 - switches0 <= 10,
        "worker woke {} times while blocked",
        switches1 - switches0
    );
    assert!(
        ticks1 - ticks0 <= 5,
        "worker used {} CPU ticks while blocked",
        ticks1 - ticks0
    );
    // TCP flow control held the server back: it has not finished.
    assert!(
        server.reports.try_recv().is_err(),
        "server sent everything despite a full outbox"
    );

    // 8 MiB in 1 KiB chunks is slow to drain under QEMU on a busy machine.
    let got = drain_outbox_within(client.outbox(), 3 * SOON);
    assert_eq!(got.len() as u64, len);
    assert!(got == pattern_bytes(0, len as usize));
    assert_eq!(final_report(&all_signals(client.signal())).received, len);
}

// 5. Inbox full: try_send hands the chunk back, the blocking send waits,
// nothing is dropped.

#[test]
fn test_full_inbox_hands_back_then_blocking_send_waits_and_nothing_is_lost() {
    let (release, hold) = mpsc::channel();
    let server = stalled(SOON, hold);
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<1024, 4, 4>()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));

    let mut accepted = fill_until_full(client.inbox(), 0, 256 * 1024 * 1024);
    // Keep pushing until the inbox stays full long enough for a timed send
    // to give up: the server reads nothing, so it fills for good.
    loop {
        let next = Chunk::<1024>::from_slice(&pattern_bytes(accepted, 1024)).unwrap();
        match client
            .inbox()
            .send_timeout(next.clone(), Duration::from_millis(200))
        {
            Ok(()) => {
                accepted += 1024;
                accepted += fill_until_full(client.inbox(), accepted, 256 * 1024 * 1024);
            }
            Err(ttc::SendTimeoutError::Timeout(back)) => {
                assert_eq!(back, next, "the timed-out chunk comes back intact");
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }

    // A blocking send now waits until the server reads.
    let inbox = client.inbox().clone();
    let last = Chunk::<1024>::from_slice(&pattern_bytes(accepted, 1024)).unwrap();
    let sender = std::thread::spawn(move || inbox.send(last).is_ok());
    release.send(()).unwrap();
    assert!(sender.join().unwrap(), "blocking send failed");
    accepted += 1024;

    client.control().send(Control::ProducerFinished);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished);
    assert_eq!((report.sent, report.unsent), (accepted, 0));
    let seen = server.result();
    assert_eq!(seen.received.len() as u64, accepted);
    assert!(seen.received == pattern_bytes(0, accepted as usize));
}

// 6. ProducerFinished: flush, half-close, keep reading until the server
// closes or has been quiet for the linger time.

#[test]
fn test_producer_finished_flushes_half_closes_and_delivers_late_reply() {
    // Replies only after it has seen our half-close (EOF).
    let server = OneShot::spawn(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(b"late reply after your EOF").unwrap();
        got
    });
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    let data = pattern_bytes(0, 100_000);
    client.inbox().send_slice(&data, SOON).unwrap();
    client.control().send(Control::ProducerFinished);
    // Once the worker has seen it, sends are refused and the chunk comes
    // back.
    assert!(eventually(SOON, || client.inbox().is_closed()));
    let refused = match client
        .inbox()
        .try_send(Chunk::from_slice(b"too late").unwrap())
    {
        Err(TrySendError::Closed(c)) => c,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(&refused[..], b"too late");

    let got = drain_outbox(client.outbox());
    assert_eq!(got, b"late reply after your EOF");
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished);
    let received = server.result();
    assert_eq!(&received[..data.len()], &data[..]);
    assert_eq!(report.sent as usize, received.len());
    assert_eq!(report.unsent, 0);
}

#[test]
fn test_producer_finished_ends_after_linger_when_server_never_closes() {
    // Reads our half-close, then holds the connection open without closing.
    let (_hold_tx, hold) = mpsc::channel::<()>();
    let server = hold_after_eof(hold);
    let client = Config::new("127.0.0.1", server.port())
        .linger(Some(Duration::from_millis(300)))
        .spawn()
        .unwrap();
    client.inbox().send_slice(b"bye", SOON).unwrap();
    let t0 = Instant::now();
    client.control().send(Control::ProducerFinished);
    let report = final_report(&all_signals(client.signal()));
    // Not "finished": the server never closed, and may have had more.
    assert_eq!(report.reason, Reason::Linger);
    assert_eq!((report.sent, report.unsent), (3, 0));
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "ended before the linger time"
    );
    drop(_hold_tx);
    assert_eq!(server.result(), b"bye");
}

#[test]
fn test_linger_restarts_with_each_byte_so_a_live_reply_is_not_cut() {
    // After our half-close the server talks for 4x the linger time, one
    // line every half linger, then closes: a deadline counted from the
    // half-close would cut it; an idle limit lets all of it through.
    const LINGER: Duration = Duration::from_millis(400);
    let server = OneShot::spawn(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        for i in 0..8 {
            // Pacing the server's reply.
            std::thread::sleep(LINGER / 2);
            s.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        got
    });
    let client = Config::new("127.0.0.1", server.port())
        .linger(Some(LINGER))
        .spawn()
        .unwrap();
    client.inbox().send_slice(b"go", SOON).unwrap();
    client.control().send(Control::ProducerFinished);
    let got = drain_outbox(client.outbox());
    let want: String = (0..8).map(|i| format!("line {i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&got), want);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(report.received, want.len() as u64);
    assert_eq!(server.result(), b"go");
}

#[test]
fn test_no_linger_limit_waits_for_the_close_however_long() {
    // Quiet after our half-close for longer than the default linger's
    // tenth, then a reply and the close.
    let server = OneShot::spawn(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        // Pacing: the server thinks for a while.
        std::thread::sleep(Duration::from_millis(800));
        s.write_all(b"late").unwrap();
        got
    });
    let client = Config::new("127.0.0.1", server.port())
        .linger(None)
        .spawn()
        .unwrap();
    client.control().send(Control::ProducerFinished);
    assert_eq!(drain_outbox(client.outbox()), b"late");
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(server.result(), b"");
}

#[test]
fn test_linger_is_paused_while_the_outbox_is_full() {
    // After our half-close the server sends far more than the outbox
    // holds, then closes. The application does not read for several
    // linger times: the server is not idle, the reader is, so the linger
    // must not end the connection.
    const LINGER: Duration = Duration::from_millis(200);
    const REPLY: usize = 256 * 1024;
    let server = OneShot::spawn(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        let mut reply = vec![0u8; REPLY];
        fill_pattern(0, &mut reply);
        // The client may give up on us (the old behaviour): not a panic here.
        s.write_all(&reply).is_ok()
    });
    let client = Config::new("127.0.0.1", server.port())
        .linger(Some(LINGER))
        .spawn_sized::<256, 4, 4>()
        .unwrap();
    client.control().send(Control::ProducerFinished);
    assert!(
        eventually(SOON, || client.outbox().len() == client.outbox().capacity()),
        "the outbox never filled"
    );
    // Pacing the reader: a slow consumer, for several linger times.
    std::thread::sleep(LINGER * 4);
    let got = drain_outbox(client.outbox());
    assert_eq!(got.len(), REPLY, "the reply was cut");
    assert!(got == pattern_bytes(0, REPLY));
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert!(server.result());
}

// 7. Shutdown is prompt on an idle connection and counts unsent bytes;
// Abort resets.

#[test]
fn test_shutdown_stops_idle_connection_promptly() {
    // The server stays silent for SOON (10 s); the client must be done
    // well inside that.
    let server = silent(SOON);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let t0 = Instant::now();
    client.control().send(Control::Shutdown);
    let report = final_report(&all_signals(client.signal()));
    let took = t0.elapsed();
    assert_eq!(report.reason, Reason::Shutdown);
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    assert_eq!(server.result().ending, Ending::Eof);
}

#[test]
fn test_shutdown_reports_unsent_bytes() {
    let (_release, hold) = mpsc::channel();
    let server = stalled(SOON, hold);
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<1024, 4, 4>()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let mut accepted = fill_until_full(client.inbox(), 0, 256 * 1024 * 1024);
    while let Ok(()) = client.inbox().send_timeout(
        Chunk::from_slice(&[0u8; 1024]).unwrap(),
        Duration::from_millis(200),
    ) {
        accepted += 1024;
    }
    client.control().send(Control::Shutdown);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Shutdown);
    assert!(report.unsent > 0, "a stalled server left nothing unsent?");
    assert_eq!(report.sent + report.unsent, accepted);
}

#[test]
fn test_abort_resets_the_connection() {
    let server = silent(SOON);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    client.control().send(Control::Abort);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Aborted);
    assert_eq!(server.result().ending, Ending::Reset);
}

#[test]
fn test_stronger_control_overrides_producer_finished() {
    // The server never closes, so only the Shutdown can end the linger.
    let (_hold_tx, hold) = mpsc::channel::<()>();
    let server = hold_after_eof(hold);
    let client = Config::new("127.0.0.1", server.port())
        .linger(Some(SOON))
        .spawn()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    client.control().send(Control::ProducerFinished);
    client.control().send(Control::Shutdown);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Shutdown);
}

// 8. Server closes: PeerClosed, queued data still flushed, then
// SocketShutdown{PeerClosed}.

#[test]
fn test_server_close_signals_peer_closed_and_flushes_queued_data() {
    // Half-closes at once, reads nothing until released, then reads all.
    let (release, hold) = mpsc::channel::<()>();
    let server = OneShot::spawn(move |s| {
        s.shutdown(Shutdown::Write).unwrap();
        let _ = hold.recv_timeout(SOON);
        observe(s, SOON)
    });
    let client = Config::new("127.0.0.1", server.port())
        .spawn_sized::<1024, 4, 4>()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let mut accepted = 0u64;
    let mut buf = [0u8; 1024];
    // Queue data until the worker has seen the end of stream.
    let peer_closed = loop {
        match client.signal().try_recv() {
            Ok(Signal::PeerClosed) => break true,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => {}
        }
        fill_pattern(accepted, &mut buf);
        match client
            .inbox()
            .send_timeout(Chunk::from_slice(&buf).unwrap(), Duration::from_millis(50))
        {
            Ok(()) => accepted += 1024,
            Err(ttc::SendTimeoutError::Closed(_)) => {}
            Err(ttc::SendTimeoutError::Timeout(_)) => {}
        }
    };
    assert!(peer_closed);
    // After PeerClosed nothing more is accepted.
    assert!(matches!(
        client.inbox().try_send(Chunk::from_slice(b"x").unwrap()),
        Err(TrySendError::Closed(_))
    ));
    release.send(()).unwrap();
    let rest = all_signals(client.signal());
    let report = final_report(&rest);
    assert_eq!(report.reason, Reason::PeerClosed);
    assert_eq!((report.sent, report.unsent), (accepted, 0));
    let seen = server.result();
    assert_eq!(seen.received.len() as u64, accepted);
    assert!(seen.received == pattern_bytes(0, accepted as usize));
}

// 9. Errors: Error{phase, kind}, then SocketShutdown{Error}; nothing panics.

fn expect_error(signals: &[Signal], phase: Phase, kinds: &[io::ErrorKind]) {
    let errs = errors(signals);
    assert_eq!(errs.len(), 1, "{signals:?}");
    assert_eq!(errs[0].phase, phase, "{signals:?}");
    assert!(kinds.contains(&errs[0].kind), "{signals:?}");
    let report = final_report(signals);
    assert_eq!(report.reason, Reason::Error);
    assert_eq!(report.error.as_ref(), Some(&errs[0]));
}

#[test]
fn test_timeouts_too_large_for_the_clock_mean_no_limit_not_a_panic() {
    // Duration::MAX overflows `Instant + Duration`; every limit taken from
    // the caller must treat that as "no limit". A panic in the worker would
    // end with Reason::Error ("worker panicked") instead of Finished.
    let server = start(Peer::Echo);
    let client = Config::new("127.0.0.1", server.port())
        .connect_timeout(Duration::MAX)
        .write_timeout(Some(Duration::MAX))
        .linger(Some(Duration::MAX))
        .keepalive(Some(
            ttc::Keepalive::idle(Duration::MAX).interval(Duration::MAX),
        ))
        .user_timeout(Some(Duration::MAX))
        .idle_timeout(Some(Duration::MAX))
        .recv_spin(Duration::MAX)
        .spawn()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    client.inbox().send_slice(&[5u8; 3000], SOON).unwrap();
    client.control().send(Control::ProducerFinished);
    // The echo server closes after our half-close: the endless linger ends.
    let got = drain_outbox(client.outbox());
    assert_eq!(got, [5u8; 3000]);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(
        (report.sent, report.received, report.unsent),
        (3000, 3000, 0)
    );
    // Receives with the largest timeout still return at the end.
    assert_eq!(
        client.outbox().recv_timeout(Duration::MAX),
        Err(ttc::RecvTimeoutError::Closed)
    );
    assert_eq!(
        client.signal().recv_timeout(Duration::MAX),
        Err(ttc::RecvTimeoutError::Closed)
    );
}

#[test]
fn test_thread_name_with_nul_is_a_spawn_error_not_a_panic() {
    let err = Config::new("127.0.0.1", 9)
        .thread_name("bad\0name")
        .spawn()
        .unwrap_err();
    assert_eq!(err.phase, Phase::Spawn);
    assert_eq!(err.kind, io::ErrorKind::InvalidInput);
}

#[test]
fn test_unknown_host_signals_resolve_error() {
    let client = Config::new("no-such-host.invalid", 80).spawn().unwrap();
    let signals = all_signals(client.signal());
    expect_error(&signals, Phase::Resolve, &[io::ErrorKind::NotFound]);
}

#[test]
fn test_empty_host_signals_resolve_error() {
    let client = Config::new("  ", 80).spawn().unwrap();
    expect_error(
        &all_signals(client.signal()),
        Phase::Resolve,
        &[io::ErrorKind::InvalidInput],
    );
}

#[test]
fn test_refused_connection_signals_connect_error() {
    let client = Config::new("127.0.0.1", refused_port()).spawn().unwrap();
    expect_error(
        &all_signals(client.signal()),
        Phase::Connect,
        &[io::ErrorKind::ConnectionRefused],
    );
}

#[test]
fn test_connect_timeout_against_full_backlog() {
    // A listener with backlog 0 that never accepts: once its queue is full
    // the kernel drops further SYNs, and connecting hangs.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    sock.listen(0).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let t0 = Instant::now();
    let client = Config::new("127.0.0.1", addr.port())
        .connect_timeout(Duration::from_millis(500))
        .spawn()
        .unwrap();
    let signals = all_signals(client.signal());
    expect_error(&signals, Phase::Connect, &[io::ErrorKind::TimedOut]);
    assert!(t0.elapsed() >= Duration::from_millis(450));
    drop(sock);
}

#[test]
fn test_reset_by_server_signals_read_error() {
    let server = reset_after(5);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    client.inbox().send_slice(b"hello", SOON).unwrap();
    assert_eq!(server.result(), 5);
    let signals = all_signals(client.signal());
    expect_error(&signals, Phase::Read, &[io::ErrorKind::ConnectionReset]);
    assert_eq!(final_report(&signals).sent, 5);
}

#[test]
fn test_write_timeout_when_server_does_not_read() {
    let (release, hold) = mpsc::channel();
    let server = stalled(SOON, hold);
    let client = Config::new("127.0.0.1", server.port())
        .write_timeout(Some(Duration::from_millis(300)))
        .spawn_sized::<1024, 4, 4>()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));
    let mut accepted = 0u64;
    // Push until the inbox closes (the write timeout fired).
    loop {
        match client.inbox().send_timeout(
            Chunk::from_slice(&[1u8; 1024]).unwrap(),
            Duration::from_millis(50),
        ) {
            Ok(()) => accepted += 1024,
            Err(ttc::SendTimeoutError::Timeout(_)) => {}
            Err(ttc::SendTimeoutError::Closed(_)) => break,
        }
    }
    let signals = all_signals(client.signal());
    expect_error(&signals, Phase::Write, &[io::ErrorKind::TimedOut]);
    let report = final_report(&signals);
    assert!(report.unsent > 0);
    assert_eq!(report.sent + report.unsent, accepted);
    // The socket was closed: once the server reads again it gets exactly
    // what was reported sent, then end of stream.
    release.send(()).unwrap();
    let seen = server.result();
    assert_eq!(seen.ending, Ending::Eof);
    assert_eq!(seen.received.len() as u64, report.sent);
}

// 10. Dropping the handle stops the worker, closes the socket, ends the
// thread; exactly one SocketShutdown.

#[test]
fn test_dropping_client_stops_worker_closes_socket_and_ends_thread() {
    let server = silent(SOON);
    let client = Config::new("127.0.0.1", server.port())
        .thread_name("ttc-t-drop")
        .spawn()
        .unwrap();
    let signal = client.signal().clone();
    assert!(matches!(next_signal(&signal), Signal::Connected(_)));
    assert!(thread_id_named("ttc-t-drop").is_some());
    drop(client);
    let report = final_report(&all_signals(&signal));
    assert_eq!(report.reason, Reason::Shutdown);
    assert_eq!(server.result().ending, Ending::Eof);
    assert!(
        eventually(SOON, || thread_id_named("ttc-t-drop").is_none()),
        "worker thread still alive"
    );
}

#[test]
fn test_join_returns_the_same_report_as_the_final_signal() {
    let server = start(Peer::Fortune);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    let signal = client.signal().clone();
    let outbox = client.outbox().clone();
    let joined = client.join();
    assert_eq!(drain_outbox(&outbox), ttc::peers::FORTUNE.as_bytes());
    assert_eq!(final_report(&all_signals(&signal)), joined);
    assert_eq!(joined.reason, Reason::PeerClosed);
    assert_eq!(joined.received, ttc::peers::FORTUNE.len() as u64);
}

// 2 + 3 at once: a bulk upload to an echo server while its replies stream
// back; the worker must keep reading during a long run of writes.

#[test]
fn test_full_duplex_bulk_echo_is_byte_exact() {
    let server = start(Peer::Echo);
    let client = Config::new("127.0.0.1", server.port()).spawn().unwrap();
    let len = 4 * 1024 * 1024;
    let inbox = client.inbox().clone();
    let sender = std::thread::spawn(move || inbox.send_slice(&pattern_bytes(0, len), SOON));
    let mut got = Vec::with_capacity(len);
    let deadline = Instant::now() + 3 * SOON;
    while got.len() < len {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = client.outbox().recv_timeout(left).expect("echo stalled");
        got.extend_from_slice(&chunk);
    }
    sender.join().unwrap().unwrap();
    assert!(got == pattern_bytes(0, len), "echoed bytes differ");
    client.control().send(Control::ProducerFinished);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished);
    assert_eq!(
        (report.sent, report.received, report.unsent),
        (len as u64, len as u64, 0)
    );
}
