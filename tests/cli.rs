//! The `ttc` binary, driven for real against the host harness's loopback
//! servers: the pipe (binary data, half-close reply), the initial message,
//! `--send` with and without `--rate`, the signal lines (text and JSON),
//! SIGINT/SIGTERM, every exit status and every bad-input case, `demo` and
//! `serve`. Under QEMU the binary runs through the same emulator. The
//! harness (starting the binary, reading its output, the checks) is
//! tests/support/cli.rs; this file holds the cases.
//!
//! Every wait is bounded (`support::SOON`); a child still running when a
//! test ends is killed.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::cli::*;
use support::{fnv1a, OneShot, Peer, SOON};

#[test]
fn test_json_reader_reads_escapes() {
    let o = json_line(r#"{"a":"x\"y\\z\n\u0001","n":42}"#);
    assert_eq!(text(&o, "a"), "x\"y\\z\n\u{1}");
    assert_eq!(number(&o, "n"), 42);
}

// ---------------------------------------------------------------------------
// The pipe

#[test]
fn pipe_roundtrip_is_byte_exact_for_binary_data() {
    let server = support::start(Peer::Echo);
    let data = binary_data(48 * 1024 + 7);
    let o = run(&["127.0.0.1", &port_arg(server.addr)], &data);
    assert_clean(&o, "finished");
    assert!(
        o.stdout == data,
        "echoed bytes differ ({} of {})",
        o.stdout.len(),
        data.len()
    );
    let n = data.len() as u64;
    assert_eq!(field(o.last_line(), "sent"), n);
    assert_eq!(field(o.last_line(), "received"), n);
    assert_eq!(field(o.last_line(), "unsent"), 0);
    assert_eq!(o.lines[0], format!("ttc: connected {}", server.addr));
    let seen = server.next_report();
    assert_eq!((seen.received, seen.hash), (n, fnv1a(&data)));
}

#[test]
fn stdin_eof_half_closes_and_the_reply_is_still_printed() {
    let server = support::reply_after_eof();
    let o = run(&["127.0.0.1", &port_arg(server.addr)], b"twelve bytes");
    assert_eq!(server.result(), b"twelve bytes");
    assert_eq!(o.stdout_text(), "received 12\n");
    assert_clean(&o, "finished");
    assert!(o.has_line("ttc: peer_closed"), "{o:?}");
    assert_eq!(field(o.last_line(), "received"), 12);
}

#[test]
fn server_close_ends_the_session_even_with_stdin_open() {
    let server = support::half_close(b"bye\n");
    let mut t = ttc(&["127.0.0.1", &port_arg(server.addr)]).spawn();
    // Stdin stays open: the server's close alone ends the session.
    let line = t.wait_line("ttc: socket_shutdown");
    assert!(
        line.starts_with("ttc: socket_shutdown reason=peer_closed "),
        "{line}"
    );
    let o = t.finish();
    assert_clean(&o, "peer_closed");
    assert_eq!(o.stdout_text(), "bye\n");
    assert_eq!(server.result().ending, support::Ending::Eof);
}

#[test]
fn initial_text_arrives_before_stdin_data() {
    let server = support::silent(SOON);
    let o = run(
        &["--initial", "HELLO ", "127.0.0.1", &port_arg(server.addr)],
        b"world",
    );
    assert_clean(&o, "finished");
    assert_eq!(server.result().received, b"HELLO world");
    assert_eq!(field(o.last_line(), "sent"), 11);
}

#[test]
fn initial_file_arrives_before_stdin_data() {
    let server = support::silent(SOON);
    let initial = binary_data(300);
    let f = TempFile::new("initial", &initial);
    let o = run(
        &[
            "--initial-file",
            f.path(),
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"after",
    );
    assert_clean(&o, "finished");
    let mut want = initial.clone();
    want.extend_from_slice(b"after");
    assert_eq!(server.result().received, want);
}

#[test]
fn stdout_closed_by_the_reader_stops_cleanly_without_a_panic() {
    let server = support::start(Peer::Burst(4 << 20));
    // Nobody reads stdout: the first write fails with EPIPE.
    let t = ttc(&["127.0.0.1", &port_arg(server.addr)])
        .stdout(Out::Close)
        .spawn();
    let o = t.finish();
    assert!(!o.lines.iter().any(|l| l.contains("panicked")), "{o:?}");
    assert_clean(&o, "shutdown");
}

#[test]
fn stdout_write_failure_exits_1_with_an_output_error() {
    let server = support::start(Peer::Burst(1 << 20));
    // Every write to /dev/full fails with ENOSPC.
    let t = ttc(&["127.0.0.1", &port_arg(server.addr)])
        .stdout(Out::Full)
        .spawn();
    let o = t.finish();
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.has_line("ttc: error phase=output kind=StorageFull message=\""),
        "{o:?}"
    );
    assert!(!o.lines.iter().any(|l| l.contains("panicked")), "{o:?}");
    // The client was stopped, and said so last.
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=shutdown "),
        "{o:?}"
    );
}

// ---------------------------------------------------------------------------
// --send and --rate

#[test]
fn send_file_reaches_the_sink_with_matching_bytes_and_hash() {
    let server = support::start(Peer::Sink);
    let data = binary_data(300 * 1024 + 11);
    let f = TempFile::new("send", &data);
    let o = run(
        &["--send", f.path(), "127.0.0.1", &port_arg(server.addr)],
        b"",
    );
    assert_clean(&o, "finished");
    let seen = server.next_report();
    assert_eq!(seen.received, data.len() as u64);
    assert_eq!(seen.hash, fnv1a(&data));
    assert_eq!(field(o.last_line(), "sent"), data.len() as u64);
}

#[test]
fn send_with_rate_holds_the_average_rate_within_5_percent() {
    const RATE: u64 = 40_000;
    const LEN: usize = 100_000; // 2.5 s at RATE
                                // A sink that times every read. The rate over the run is measured from
                                // the first byte to the last, so the time to start the process and to
                                // connect (long under QEMU) is not counted against the pacing.
    let server = OneShot::spawn(|mut s: TcpStream| {
        let accepted = Instant::now();
        let mut got = Vec::new();
        let mut reads: Vec<(Instant, usize)> = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    reads.push((Instant::now(), got.len()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("sink read: {e}"),
            }
        }
        (got, reads, accepted.elapsed())
    });
    let data = binary_data(LEN);
    let f = TempFile::new("rate", &data);
    let rate = RATE.to_string();
    let o = run(
        &[
            "--send",
            f.path(),
            "--rate",
            &rate,
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"",
    );
    assert_clean(&o, "finished");
    let (got, reads, whole) = server.result();
    assert!(got == data, "sink got {} bytes", got.len());
    let (first, first_len) = reads[0];
    let (last, _) = *reads.last().unwrap();
    let span = last - first;
    assert!(
        span >= Duration::from_secs(2),
        "a run of 2 s or more: {span:?}"
    );
    let measured = (LEN - first_len) as f64 / span.as_secs_f64();
    let error = (measured - RATE as f64).abs() / RATE as f64;
    assert!(
        error <= 0.05,
        "rate {measured:.0} B/s from first to last byte ({span:?}; {whole:?} \
         from accept to end), wanted {RATE} ± 5 %"
    );
}

#[test]
fn send_without_rate_goes_as_fast_as_the_connection_allows() {
    // 4 MiB would take minutes at any pacing; unpaced it is quick even
    // under QEMU.
    let server = support::start(Peer::Sink);
    let data = binary_data(4 << 20);
    let f = TempFile::new("fast", &data);
    let t = Instant::now();
    let o = run(
        &["--send", f.path(), "127.0.0.1", &port_arg(server.addr)],
        b"",
    );
    assert_clean(&o, "finished");
    assert_eq!(server.next_report().received, data.len() as u64);
    assert!(t.elapsed() < SOON);
}

#[test]
fn zero_rate_is_a_usage_error() {
    let f = TempFile::new("zero", b"x");
    assert_usage_error(
        &["--send", f.path(), "--rate", "0", "127.0.0.1", "9"],
        "invalid rate '0'",
    );
}

#[test]
fn missing_send_file_is_a_usage_error() {
    assert_usage_error(
        &["--send", "/nonexistent/ttc-file", "127.0.0.1", "9"],
        "cannot read --send file '/nonexistent/ttc-file'",
    );
}

#[test]
fn missing_initial_file_is_a_usage_error() {
    assert_usage_error(
        &["--initial-file", "/nonexistent/ttc-init", "127.0.0.1", "9"],
        "cannot read --initial-file",
    );
}

#[test]
fn progress_line_shows_bytes_and_ends_before_the_shutdown_line() {
    let server = support::start(Peer::Sink);
    let data = binary_data(20_000);
    let f = TempFile::new("progress", &data);
    let o = run(
        &[
            "--send",
            f.path(),
            "--rate",
            "20000",
            "--progress",
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"",
    );
    // The progress line redraws in place ("\r" + text + erase to end of
    // line); a signal line first erases it, so what a terminal shows of
    // each stderr line is the text after its last erase.
    let raw = o.lines.join("\n");
    assert!(raw.contains("\rttc: sent "), "{raw}");
    assert!(raw.contains(" of 19.5 KiB ("), "{raw}");
    // Some redraw shows a rate and, with it, an ETA:
    // "ttc: sent 9.8 KiB of 19.5 KiB (50%) at 19.5 KiB/s, ETA 0:01".
    let with_eta = raw
        .split('\r')
        .filter_map(|d| d.strip_prefix("ttc: sent "))
        .map(|d| d.split("\x1b[K").next().unwrap())
        .find_map(|d| {
            let (_, rate_eta) = d.split_once(" at ")?;
            let (rate, eta) = rate_eta.split_once("/s, ETA ")?;
            let (min, sec) = eta.split_once(':')?;
            let numeric = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            let rate_num = rate.split(' ').next()?;
            (numeric(min) && sec.len() == 2 && numeric(sec) && rate_num != "0")
                .then(|| (rate.to_string(), eta.to_string()))
        });
    assert!(with_eta.is_some(), "no rate and ETA in {raw:?}");
    let shown: Vec<String> = o
        .lines
        .iter()
        .map(|l| l.rsplit("\x1b[K").next().unwrap().to_string())
        .collect();
    let o = Outcome { lines: shown, ..o };
    assert_clean(&o, "finished");
    assert_eq!(field(o.last_line(), "sent"), 20_000);
    server.next_report();
}

// ---------------------------------------------------------------------------
// Signal lines

/// `--keepalive` beyond what Linux takes for TCP_KEEPIDLE (32767 s): the
/// library logs a warning ("could not set SO_KEEPALIVE") and goes on.
const KEEPALIVE_WARNED: &str = "40000";

/// Runs `ttc args HOST PORT` against an echo server with `abc` on stdin,
/// and the logging environment `log`.
fn run_logging(args: &[&str], log: Log) -> Outcome {
    let server = support::start(Peer::Echo);
    let port = port_arg(server.addr);
    let mut all = args.to_vec();
    all.extend(["127.0.0.1", &port]);
    let mut t = ttc(&all).log(log).spawn();
    t.feed(b"abc".to_vec());
    t.finish()
}

#[test]
fn json_lines_parse_and_the_shutdown_line_is_last() {
    let server = support::start(Peer::Echo);
    // With the logging environment unset (ttc's default) and a warning
    // from the library: --json turns log lines off, so every line is
    // still one JSON object.
    let mut t = ttc(&[
        "--json",
        "--keepalive",
        KEEPALIVE_WARNED,
        "127.0.0.1",
        &port_arg(server.addr),
    ])
    .log(Log::Unset)
    .spawn();
    t.feed(b"abc".to_vec());
    let o = t.finish();
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(o.stdout, b"abc");
    let objs: Vec<_> = o.lines.iter().map(|l| json_line(l)).collect();
    let names: Vec<&str> = objs.iter().map(|o| text(o, "signal")).collect();
    assert_eq!(names, ["connected", "peer_closed", "socket_shutdown"]);
    assert_eq!(text(&objs[0], "peer"), server.addr.to_string());
    let last = objs.last().unwrap();
    assert_eq!(text(last, "reason"), "finished");
    assert_eq!(number(last, "sent"), 3);
    assert_eq!(number(last, "received"), 3);
    assert_eq!(number(last, "unsent"), 0);
}

#[test]
fn log_lines_show_outside_json_mode_or_when_asked_for() {
    // The warning the JSON test relies on is real: plain text mode shows it
    // at the default level...
    let o = run_logging(&["--keepalive", KEEPALIVE_WARNED], Log::Unset);
    assert_clean(&o, "finished");
    assert!(o.has_line("WARN "), "{o:?}");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("could not set SO_KEEPALIVE")),
        "{o:?}"
    );
    // ...and --json shows it when TTC_LOG asks for it.
    let o = run_logging(
        &["--json", "--keepalive", KEEPALIVE_WARNED],
        Log::Level("warn"),
    );
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("could not set SO_KEEPALIVE")),
        "{o:?}"
    );
}

#[test]
fn json_error_line_carries_phase_kind_and_message() {
    let port = support::refused_port().to_string();
    let o = run(&["--json", "127.0.0.1", &port], b"");
    assert_eq!(o.code, Some(1), "{o:?}");
    let objs: Vec<_> = o.lines.iter().map(|l| json_line(l)).collect();
    assert_eq!(objs.len(), 2, "{o:?}");
    assert_eq!(text(&objs[0], "signal"), "error");
    assert_eq!(text(&objs[0], "phase"), "connect");
    assert_eq!(text(&objs[0], "kind"), "ConnectionRefused");
    assert!(!text(&objs[0], "message").is_empty());
    assert_eq!(text(&objs[1], "signal"), "socket_shutdown");
    assert_eq!(text(&objs[1], "reason"), "error");
}

// ---------------------------------------------------------------------------
// SIGINT and SIGTERM

fn stop_idle_connection_with(sig: libc::c_int, status: i32) {
    let server = support::start(Peer::Echo);
    let mut t = ttc(&["127.0.0.1", &port_arg(server.addr)])
        .stdout(Out::Lines)
        .spawn();
    t.wait_line("ttc: connected");
    t.write(b"ping\n");
    let echoed = t.next_stdout_line();
    assert_eq!(echoed.as_deref(), Ok("ping"));
    // Stdin stays open and the server has nothing more to say: the
    // connection is idle and only the signal can end it.
    let sent_at = Instant::now();
    t.signal(sig);
    // Wait for the end with stdin still open: closing it first would race
    // an end-of-input ProducerFinished against the signal.
    t.wait_line("ttc: socket_shutdown");
    let o = t.finish();
    assert!(sent_at.elapsed() < SOON);
    assert_eq!(o.code, Some(status), "{o:?}");
    assert_eq!(
        o.last_line(),
        "ttc: socket_shutdown reason=shutdown sent=5 received=5 unsent=0 acked=5"
    );
    assert_eq!(server.next_report().received, 5);
}

#[test]
fn sigint_stops_an_idle_connection_and_prints_the_shutdown_line() {
    stop_idle_connection_with(libc::SIGINT, 130);
}

#[test]
fn sigterm_stops_an_idle_connection_and_prints_the_shutdown_line() {
    stop_idle_connection_with(libc::SIGTERM, 143);
}

#[test]
fn sigint_with_a_backlog_accounts_for_every_byte() {
    // A server that accepts and never reads.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut t = ttc(&["127.0.0.1", &port_arg(addr)]).spawn();
    let conn = accept_within(&listener);
    t.wait_line("ttc: connected");
    // Kept open to the end: an end of input would race a ProducerFinished
    // against the signal.
    let mut stdin = t.take_stdin();
    let written = fill_until_stalled(&mut stdin, &conn);
    // What ttc read from its stdin: the rest still sits in the pipe.
    let taken = written - unread(stdin.as_raw_fd());
    t.signal(libc::SIGINT);
    t.wait_line("ttc: socket_shutdown");
    let o = t.finish();
    drop(stdin);
    assert_eq!(o.code, Some(130), "{o:?}");
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=shutdown "),
        "{o:?}"
    );
    let (sent, unsent) = (field(last, "sent"), field(last, "unsent"));
    // The backlog (inbox and write buffer) is reported, not lost.
    assert!(unsent > 0, "{last}");
    // Every accepted byte is sent or unsent; ttc's input buffer (16 KiB)
    // may hold bytes it read but could not hand over before the stop.
    assert!(sent + unsent <= taken, "{last}; ttc read {taken}");
    assert!(
        taken - (sent + unsent) <= 16 * 1024,
        "{last}; ttc read {taken}"
    );
    // Everything reported sent reached the server; nothing was invented.
    assert_eq!(read_rest(conn), sent, "{last}");
}

#[test]
fn second_sigint_exits_at_once_while_connecting() {
    let backlog = support::full_backlog();
    let port = backlog.port().to_string();
    // Connecting to a full accept queue hangs for the whole (long) connect
    // timeout; the first SIGINT asks for Shutdown, the second exits.
    let mut t = ttc(&["--connect-timeout", "60", "127.0.0.1", &port]).spawn();
    // Wait until it is connecting (so it has set up its signal handling):
    // its SYN_SENT socket shows in the kernel's table.
    let connecting = support::wait_syn_sent(backlog.port());
    assert!(connecting, "ttc never started connecting");
    let start = Instant::now();
    // Signals sent close together may merge into one, so repeat (a bounded
    // number of times) until the process is gone.
    let mut gone = false;
    for _ in 0..100 {
        t.signal(libc::SIGINT);
        if support::eventually(Duration::from_millis(100), || t.has_exited()) {
            gone = true;
            break;
        }
    }
    assert!(gone, "still running after repeated SIGINT");
    let o = t.finish();
    assert!(start.elapsed() < SOON, "took {:?}", start.elapsed());
    assert_eq!(o.code, Some(130), "{o:?}");
}

// ---------------------------------------------------------------------------
// Network errors: exit 1

#[test]
fn refused_port_exits_1_with_a_connect_error() {
    let port = support::refused_port().to_string();
    let o = run(&["127.0.0.1", &port], b"");
    assert_network_error(&o, "connect", "ConnectionRefused");
}

#[test]
fn unknown_host_exits_1_with_a_resolve_error() {
    let o = run(&["no-such-host.invalid", "80"], b"");
    assert_network_error(&o, "resolve", "NotFound");
}

#[test]
fn server_reset_exits_1_with_a_reset_error() {
    let server = support::reset_after(5);
    let mut t = ttc(&["127.0.0.1", &port_arg(server.addr)]).spawn();
    // Stdin stays open: the reset, not the end of input, ends the session.
    t.write(b"hello");
    let line = t.wait_line("ttc: error ");
    assert!(line.contains(" kind=ConnectionReset "), "{line}");
    let o = t.finish();
    assert_eq!(server.result(), 5);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=error "),
        "{o:?}"
    );
}

#[test]
fn connect_timeout_exits_1_with_a_timed_out_error() {
    let backlog = support::full_backlog();
    let o = run(
        &[
            "--connect-timeout",
            "0.5",
            "127.0.0.1",
            &port_arg(backlog.addr),
        ],
        b"",
    );
    assert_network_error(&o, "connect", "TimedOut");
}

#[test]
fn ipv6_only_against_an_ipv4_address_exits_1_with_a_resolve_error() {
    let o = run(&["-6", "127.0.0.1", "9"], b"");
    assert_network_error(&o, "resolve", "NotFound");
}

#[test]
fn write_timeout_exits_1_when_the_server_stops_reading() {
    let (release, hold) = mpsc::channel();
    let server = support::stalled(SOON, hold);
    let mut t = ttc(&[
        "--write-timeout",
        "0.5",
        "127.0.0.1",
        &port_arg(server.addr),
    ])
    .spawn();
    let mut stdin = t.take_stdin();
    std::thread::spawn(move || {
        let block = vec![0u8; 64 * 1024];
        for _ in 0..(256 << 20) / block.len() {
            if stdin.write_all(&block).is_err() {
                return;
            }
        }
    });
    let o = t.finish();
    release.send(()).unwrap();
    assert_network_error(&o, "write", "TimedOut");
}

#[test]
fn server_close_with_bytes_left_unwritten_exits_1() {
    // A server that never reads and, once ttc's writes back up, half-closes
    // (shutdown Write): ttc sees the close, but cannot flush what it holds.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Long enough that the half-close (after QUIET) lands before it runs
    // out, even under QEMU; the timeout is counted from ttc's last write.
    let mut t = ttc(&["--write-timeout", "3", "127.0.0.1", &port_arg(addr)]).spawn();
    let conn = accept_within(&listener);
    t.wait_line("ttc: connected");
    // Kept open: the server's close, not the end of input, ends the session.
    let mut stdin = t.take_stdin();
    let written = fill_until_stalled(&mut stdin, &conn);
    conn.shutdown(Shutdown::Write).unwrap();
    t.wait_line("ttc: peer_closed");
    let o = t.finish();
    drop(stdin);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.has_line("ttc: error phase=write kind=TimedOut message=\""),
        "{o:?}"
    );
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=peer_closed "),
        "{o:?}"
    );
    let (sent, unsent) = (field(last, "sent"), field(last, "unsent"));
    assert!(unsent > 0, "{last}");
    assert!(sent + unsent <= written, "{last}; {written} written");
    assert_eq!(read_rest(conn), sent, "{last}");
}

// ---------------------------------------------------------------------------
// Settings passed through to the library

#[test]
fn linger_bounds_the_wait_for_a_server_that_never_closes() {
    // Reads to our half-close, then holds the connection open.
    let (done, hold) = mpsc::channel::<()>();
    let server = support::hold_after_eof(hold);
    let start = Instant::now();
    let o = run(
        &[
            "--linger",
            "0.3",
            "--delay",
            "--keepalive",
            "30",
            "-4",
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"data",
    );
    let took = start.elapsed();
    done.send(()).unwrap();
    assert_clean(&o, "finished");
    assert!(took < SOON / 2, "took {took:?}");
    assert_eq!(server.result(), b"data");
}

// ---------------------------------------------------------------------------
// Usage errors: exit 2

#[test]
fn bad_port_is_a_usage_error() {
    assert_usage_error(&["127.0.0.1", "http"], "invalid port 'http'");
    assert_usage_error(&["127.0.0.1", "0"], "invalid port '0'");
    assert_usage_error(&["127.0.0.1", "65536"], "invalid port '65536'");
}

#[test]
fn unknown_option_is_a_usage_error() {
    assert_usage_error(
        &["--frobnicate", "127.0.0.1", "9"],
        "invalid option '--frobnicate'",
    );
}

#[test]
fn missing_arguments_are_a_usage_error() {
    assert_usage_error(&[], "missing HOST and PORT");
    assert_usage_error(&["127.0.0.1"], "missing HOST and PORT");
}

#[test]
fn bad_option_values_are_usage_errors() {
    assert_usage_error(
        &["--connect-timeout", "soon", "127.0.0.1", "9"],
        "invalid time 'soon'",
    );
    assert_usage_error(&["--rate", "10", "127.0.0.1", "9"], "--rate needs --send");
    assert_usage_error(&["--linger"], "missing argument for option '--linger'");
    assert_usage_error(&["serve", "chat"], "unknown peer 'chat'");
}

#[test]
fn help_and_version_exit_0() {
    let o = run(&["--help"], b"");
    assert_eq!(o.code, Some(0));
    let help = o.stdout_text();
    for want in [
        "Usage:",
        "ttc demo",
        "--rate",
        "Exit status:",
        "socket_shutdown",
        // A flush that fails after the server closed is an error.
        "could not be written",
        // Stopping during a pending connect, and the second signal.
        "takes effect when that connect attempt ends",
        "A second SIGINT/SIGTERM exits immediately",
        // --json turns log lines off.
        "TTC_LOG",
    ] {
        assert!(help.contains(want), "--help lacks {want:?}");
    }
    let o = run(&["--version"], b"");
    assert_eq!(o.code, Some(0));
    assert_eq!(
        o.stdout_text(),
        format!("ttc {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// ---------------------------------------------------------------------------
// demo and serve

#[test]
fn demo_prints_the_fortune_and_exits_0() {
    let o = run(&["demo"], b"");
    // Usually "finished"; "peer_closed" if the fortune server's close
    // was seen before our end of input: both are a clean end.
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=finished ")
            || o.last_line()
                .starts_with("ttc: socket_shutdown reason=peer_closed "),
        "{o:?}"
    );
    assert_eq!(o.stdout_text(), ttc::peers::FORTUNE);
    assert!(o.has_line("ttc: connected 127.0.0.1:"), "{o:?}");
    assert!(o.has_line("ttc: peer_closed"), "{o:?}");
    assert_eq!(
        field(o.last_line(), "received"),
        ttc::peers::FORTUNE.len() as u64
    );
}

#[test]
fn demo_json_prints_only_json_signal_lines() {
    // The logging environment unset: ttc's own default for --json.
    let mut t = ttc(&["demo", "--json"]).log(Log::Unset).spawn();
    t.close_stdin();
    let o = t.finish();
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(!o.stdout.is_empty(), "{o:?}");
    assert_eq!(o.stdout_text(), ttc::peers::FORTUNE);
    let objs: Vec<_> = o.lines.iter().map(|l| json_line(l)).collect();
    assert!(!objs.is_empty(), "{o:?}");
    for obj in &objs {
        text(obj, "signal");
    }
    let last = objs.last().unwrap();
    assert_eq!(text(last, "signal"), "socket_shutdown", "{o:?}");
    // The demo finishes at once (no input), so it always ends "finished".
    assert_eq!(text(last, "reason"), "finished", "{o:?}");
    assert_eq!(number(last, "received"), ttc::peers::FORTUNE.len() as u64);
    assert_eq!(
        objs.iter()
            .filter(|o| text(o, "signal") == "socket_shutdown")
            .count(),
        1
    );
}

#[test]
fn serve_sink_prints_its_address_then_bytes_and_hash_per_connection() {
    let srv = ttc(&["serve", "sink", "--port", "0"]).serve();
    assert!(srv.addr.ip().is_loopback(), "binds loopback by default");
    let data = binary_data(10_000);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(&data).unwrap();
    drop(s);
    let line = srv.next_line();
    assert!(line.starts_with("closed 127.0.0.1:"), "{line}");
    assert_eq!(field(&line, "received"), 10_000);
    assert!(
        line.ends_with(&format!(" hash={:016x}", fnv1a(&data))),
        "{line}"
    );
    let o = srv.stop();
    assert_eq!(o.code, Some(0), "{o:?}");
}

#[test]
fn serve_echo_works_with_the_ttc_client() {
    let srv = ttc(&["serve", "echo", "--port", "0", "--bind", "127.0.0.1"]).serve();
    let data = binary_data(20_000);
    let o = run(&["127.0.0.1", &port_arg(srv.addr)], &data);
    assert_clean(&o, "finished");
    assert!(o.stdout == data);
    let line = srv.next_line();
    assert_eq!(field(&line, "received"), 20_000);
    assert_eq!(field(&line, "sent"), 20_000);
    srv.stop();
}

#[test]
fn serve_burst_sends_the_pattern_and_closes() {
    let srv = ttc(&["serve", "burst:5000", "--json"]).serve();
    let mut conn = TcpStream::connect(srv.addr).unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    conn.shutdown(Shutdown::Both).unwrap();
    let mut want = vec![0u8; 5000];
    support::fill_pattern(0, &mut want);
    assert!(got == want);
    let obj = json_line(&srv.next_line());
    assert_eq!(text(&obj, "event"), "closed");
    assert_eq!(number(&obj, "sent"), 5000);
    srv.stop();
}

#[test]
fn serve_on_a_port_in_use_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = run(&["serve", "echo", "--port", &port], b"");
    assert_eq!(o.code, Some(1), "{o:?}");
    assert_eq!(o.lines.len(), 1, "{o:?}");
    assert!(
        o.lines[0].starts_with("ttc: cannot listen on 127.0.0.1 port "),
        "{o:?}"
    );
}

#[test]
fn serve_fortune_sends_the_fortune_and_reports_the_connection() {
    let srv = ttc(&["serve", "fortune"]).serve();
    let mut conn = TcpStream::connect(srv.addr).unwrap();
    conn.set_read_timeout(Some(SOON)).unwrap();
    let mut got = Vec::new();
    // The server half-closes after its piece: read to that end.
    conn.read_to_end(&mut got).unwrap();
    let text = String::from_utf8(got).expect("the fortune is text");
    assert!(!text.trim().is_empty());
    assert_eq!(text, ttc::peers::FORTUNE);
    // It counts what arrives until we close too.
    conn.write_all(b"thanks").unwrap();
    let client = conn.local_addr().unwrap();
    drop(conn);
    let line = srv.next_line();
    assert!(line.starts_with(&format!("closed {client} ")), "{line}");
    assert_eq!(field(&line, "sent"), ttc::peers::FORTUNE.len() as u64);
    assert_eq!(field(&line, "received"), 6);
    assert!(
        line.ends_with(&format!(" hash={:016x}", fnv1a(b"thanks"))),
        "{line}"
    );
    let o = srv.stop();
    assert_eq!(o.code, Some(0), "{o:?}");
}

#[test]
fn serve_bad_port_or_bind_is_a_usage_error() {
    assert_usage_error(
        &["serve", "echo", "--port", "70000"],
        "invalid port '70000'",
    );
    assert_usage_error(&["serve", "echo", "--port", "abc"], "invalid port 'abc'");
    assert_usage_error(&["serve", "echo", "--port", "-1"], "invalid port '-1'");
    // An IP address, not a name to resolve (or an address with a port).
    for bad in ["not-an-address", "127.0.0.1:80", "", "300.1.2.3", "[::1"] {
        assert_usage_error(
            &["serve", "echo", "--bind", bad],
            &format!("invalid bind address '{bad}'"),
        );
    }
}
