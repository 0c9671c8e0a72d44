//! The `ttc` binary staying connected: `acked` on the final line, the
//! dead-peer options, and `--reconnect`. Run for real against loopback
//! servers and, for a link that goes dark, between two test hosts in
//! network namespaces the test makes (tests/support/netns.rs).

use crate::support;

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use support::cli::*;
use support::faults::read_then_reset;
use support::{Peer, SOON};

#[test]
fn send_to_a_sink_ends_with_everything_acknowledged() {
    let server = support::start(Peer::Sink);
    let data = binary_data(300_000);
    let file = TempFile::new("acked", &data);
    let o = ttc(&["--send", file.path(), "127.0.0.1", &port_arg(server.addr)]).run(b"");
    assert_clean(&o, "finished");
    let last = o.last_line();
    assert_eq!(field(last, "sent"), 300_000);
    assert_eq!(field(last, "acked"), 300_000, "{last}");
    assert_eq!(server.next_report().received, 300_000);
}

#[test]
fn json_shutdown_line_carries_acked() {
    let server = support::start(Peer::Echo);
    let o = ttc(&["--json", "127.0.0.1", &port_arg(server.addr)]).run(b"abc");
    assert_eq!(o.code, Some(0), "{o:?}");
    let last = json_line(o.last_line());
    assert_eq!(text(&last, "signal"), "socket_shutdown");
    assert_eq!(number(&last, "sent"), 3);
    assert_eq!(number(&last, "acked"), 3);
}

#[test]
fn reset_mid_upload_reports_acked_between_what_the_server_read_and_received() {
    // The server reads 1 MiB of an 8 MiB upload, stops reading for a
    // moment, then resets with data unread. ttc must not call the rest
    // delivered: acked lies between what the server read and what its
    // kernel had received.
    const READ: u64 = 1 << 20;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = read_then_reset(listener, READ);
    let file = TempFile::new("reset", &binary_data(8 << 20));
    let o = ttc(&["--send", file.path(), "127.0.0.1", &port_arg(server.addr)]).run(b"");
    let (read, unread_at_reset) = server.result_within(SOON);
    assert_eq!(read, READ);
    assert_eq!(o.code, Some(1), "{o:?}");
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=error "),
        "{last}"
    );
    let (sent, acked) = (field(last, "sent"), field(last, "acked"));
    assert!(acked <= sent, "{last}");
    assert!(acked >= read, "{last}: the server read {read}");
    assert!(
        acked <= read + unread_at_reset,
        "{last}: the server's kernel had {read} read + {unread_at_reset} unread"
    );
    assert!(
        sent > acked,
        "{last}: everything sent counted as acknowledged"
    );
}

#[test]
fn idle_timeout_ends_a_silent_connection_with_a_read_timeout() {
    let server = support::silent(SOON);
    let mut t = ttc(&[
        "--idle-timeout",
        "300ms",
        "127.0.0.1",
        &port_arg(server.addr),
    ])
    .spawn();
    // Stdin stays open: only the idle timeout can end the session.
    let stdin = t.take_stdin();
    t.wait_line("ttc: socket_shutdown");
    let o = t.finish();
    drop(stdin);
    assert_network_error(&o, "read", "TimedOut");
}

#[test]
fn reconnect_send_survives_a_link_that_goes_dark_and_exits_0() {
    // `--send` of numbered chunks, paced, from namespace b to a recorder in
    // namespace a; the link drops everything for 3 s in the middle. With
    // --user-timeout 1 the connection fails, ttc reconnects once the link
    // is back, every chunk arrives, everything is acknowledged: exit 0.
    // 16 MiB at 4 MiB/s on the host; under QEMU 4 MiB at 1 MiB/s.
    use support::netns::*;
    use support::seq::*;
    let (chunks, rate) = if under_qemu() {
        (4096u64, "1Mi")
    } else {
        (16384, "4Mi")
    };
    let bytes = chunks * SEQ_CHUNK as u64;
    let file = TempFile::new("dark", &seq_stream(chunks));
    let pair = NetPair::new("cdark");
    let recorder = Recorder::on(pair.listen_a());
    let port = recorder.addr.port().to_string();
    let received = || recorder.received();
    let args: Vec<String> = [
        "--send",
        file.path(),
        "--rate",
        rate,
        "--reconnect",
        "--backoff",
        "0.1,0.4",
        "--user-timeout",
        "1",
        "--connect-timeout",
        "1",
        "--no-progress",
        &ADDR_A.to_string(),
        &port,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let mut t = NetPair::run_in(&pair.b, move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ttc(&args).spawn()
    });
    t.wait_line("ttc: connected");
    assert!(
        support::eventually(2 * SOON, || received() >= bytes / 3),
        "the upload did not get going"
    );
    pair.go_dark();
    // Pacing the fault: the link stays dark for 3 s.
    std::thread::sleep(Duration::from_secs(3));
    pair.light();
    let o = t.finish_within(6 * SOON);
    assert_eq!(o.code, Some(0), "{o:?}");
    let disconnected = o
        .lines
        .iter()
        .find(|l| l.starts_with("ttc: disconnected "))
        .expect("no disconnected line");
    assert!(
        disconnected.starts_with("ttc: disconnected reason=error acked="),
        "{disconnected}"
    );
    assert!(o.has_line("ttc: reconnecting attempt=1 delay="), "{o:?}");
    assert!(o.has_line("ttc: error phase="), "{o:?}");
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=finished "),
        "{last}"
    );
    assert_eq!(field(last, "acked"), bytes, "{last}");
    assert_eq!(field(last, "unsent"), 0, "{last}");
    assert_eq!(field(last, "lost"), 0, "{last}");
    assert!(field(last, "connections") >= 2, "{last}");
    assert_eq!(field(last, "sent") - field(last, "resent"), bytes, "{last}");
    assert!(support::eventually(SOON, || received() >= bytes));
    let r = reassemble(&recorder.streams(), b"").unwrap();
    assert_eq!(r.chunks, chunks, "{r:?}");
    assert!(r.largest_overlap <= 256, "{r:?}");
}

#[test]
fn reconnect_json_lines_and_giving_up_exits_1() {
    // Nothing listens: every attempt is refused, --max-attempts 2 gives up.
    let port = support::refused_port().to_string();
    let o = ttc(&[
        "--json",
        "--reconnect",
        "--backoff",
        "0.01,0.05",
        "--max-attempts",
        "2",
        "127.0.0.1",
        &port,
    ])
    .run(b"some input");
    assert_eq!(o.code, Some(1), "{o:?}");
    let objs: Vec<_> = o.lines.iter().map(|l| json_line(l)).collect();
    let names: Vec<&str> = objs.iter().map(|o| text(o, "signal")).collect();
    assert_eq!(
        names,
        [
            "error",
            "reconnecting",
            "error",
            "reconnecting",
            "error",
            "socket_shutdown"
        ]
    );
    assert_eq!(number(&objs[1], "attempt"), 1);
    assert!(number(&objs[3], "delay_ms") <= 50);
    let last = objs.last().unwrap();
    assert_eq!(text(last, "reason"), "error");
    assert_eq!(number(last, "connections"), 0);
    assert_eq!(number(last, "acked"), 0);
    // The input is either taken before the client gives up, and counted as
    // unsent, or the client gave up first and the input was not taken,
    // which the final line says (the attempts take tens of milliseconds,
    // the race is the machine's). Never taken and unaccounted.
    match number(last, "unsent") {
        10 => {}
        0 => assert!(last["input_left"].is_null(), "{o:?}"),
        n => panic!("unsent={n}: {o:?}"),
    }
}

#[test]
fn reconnect_pipe_finishes_on_one_connection_and_exits_0() {
    // The pipe with --reconnect: the server answers the line and closes
    // (after reading everything, so the close is a FIN): one connection,
    // everything acknowledged, its disconnected line, exit 0.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = port_arg(listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        while let Ok((s, _)) = listener.accept() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) > 0 {
                let _ = (&s).write_all(line.to_uppercase().as_bytes());
            }
            // Read what else came, so that the close is a FIN, not a reset.
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
        }
    });
    let o = ttc(&["--reconnect", "--backoff", "0.01,0.05", "127.0.0.1", &port]).run(b"one\n");
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(o.stdout_text(), "ONE\n");
    // Finished, or closed by the server first when its FIN beats ttc's
    // end of input (a slow client): either way everything acknowledged.
    let disconnected: Vec<&String> = o
        .lines
        .iter()
        .filter(|l| l.starts_with("ttc: disconnected "))
        .collect();
    assert_eq!(disconnected.len(), 1, "{o:?}");
    assert!(disconnected[0].ends_with(" acked=4"), "{o:?}");
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=finished "),
        "{last}"
    );
    assert_eq!(field(last, "connections"), 1, "{last}");
}

#[test]
fn sighup_with_reconnect_reconnects_at_once_without_a_gap() {
    let server = support::start(Peer::Echo);
    let port = port_arg(server.addr);
    let mut t = ttc(&["--reconnect", "127.0.0.1", &port])
        .stdout(Out::Lines)
        .spawn();
    t.wait_line("ttc: connected");
    t.write(b"ping\n");
    assert_eq!(t.next_stdout_line().as_deref(), Ok("ping"));
    let sent_at = Instant::now();
    t.signal(libc::SIGHUP);
    let ended = t.wait_line("ttc: disconnected");
    assert!(ended.contains("reason=network_changed"), "{ended}");
    t.wait_line("ttc: connected");
    let took = sent_at.elapsed();
    let bound = Duration::from_secs(if under_qemu() { 3 } else { 1 });
    assert!(took < bound, "connected again after {took:?}");
    t.write(b"pong\n");
    assert_eq!(t.next_stdout_line().as_deref(), Ok("pong"));
    t.close_stdin();
    let o = t.finish();
    assert_eq!(o.code, Some(0), "{o:?}");
    let last = o.last_line();
    assert!(last.contains("reason=finished"), "{last}");
    assert_eq!(field(last, "connections"), 2, "{last}");
    assert_eq!(field(last, "acked"), 10, "{last}");
}

#[test]
fn sighup_without_reconnect_is_ignored_with_a_note() {
    let server = support::start(Peer::Echo);
    let mut t = ttc(&["127.0.0.1", &port_arg(server.addr)])
        .stdout(Out::Lines)
        .spawn();
    t.wait_line("ttc: connected");
    t.signal(libc::SIGHUP);
    t.wait_line("ttc: SIGHUP ignored");
    // The connection goes on.
    t.write(b"ping\n");
    assert_eq!(t.next_stdout_line().as_deref(), Ok("ping"));
    t.close_stdin();
    let o = t.finish();
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(field(o.last_line(), "received"), 5, "{o:?}");
}
