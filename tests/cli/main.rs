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

mod stay;
#[path = "../support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::cli::*;
use support::{fnv1a, OneShot, Peer, SOON};

#[test]
fn test_a_child_stuck_before_its_exec_is_found_and_killed() {
    // A fork that never execs stands for a start QEMU left stuck.
    // SAFETY: the child only calls pause(2), which is async-signal-safe,
    // until the SIGKILL ends it; the parent touches no shared state.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        loop {
            // SAFETY: pause takes nothing and returns only on a signal.
            unsafe { libc::pause() };
        }
    }
    assert!(support::spawn::before_exec(pid as u32));
    assert!(support::spawn::kill_stuck_children() >= 1);
    let mut status = 0;
    // SAFETY: waitpid writes one int into `status`, a valid place for it.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL);
}

#[test]
fn test_a_started_child_has_exec_d() {
    let mut cmd = ttc_command();
    cmd.arg("--version").stdout(std::process::Stdio::null());
    let mut child = support::spawn::spawn(&mut cmd).expect("start ttc");
    assert!(!support::spawn::before_exec(child.id()));
    assert!(child.wait().unwrap().success());
}

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
    // What stdin still had to say was never taken, and nobody knows how
    // much: not a clean end.
    assert_eq!(
        line,
        "ttc: socket_shutdown reason=peer_closed sent=0 acked=0 received=4 unsent=0 attempts=1 input_left=unknown"
    );
    let o = t.finish();
    assert_eq!(o.code, Some(1), "{o:?}");
    assert_eq!(o.stdout_text(), "bye\n");
    assert_eq!(server.result().ending, support::Ending::Eof);
}

#[test]
fn server_close_after_all_of_stdin_is_a_clean_end() {
    // Empty stdin ends at once: either our half-close or the server's
    // close comes first, and both are clean, since all input was taken.
    let server = support::half_close(b"bye\n");
    let o = run(&["127.0.0.1", &port_arg(server.addr)], b"");
    assert_eq!(o.code, Some(0), "{o:?}");
    let last = o.last_line();
    if last.starts_with("ttc: socket_shutdown reason=peer_closed ") {
        assert!(last.ends_with(" unsent=0 attempts=1 input_left=0"), "{o:?}");
    } else {
        assert_clean(&o, "finished");
        assert!(!last.contains("input_left"), "{o:?}");
    }
    assert_eq!(o.stdout_text(), "bye\n");
}

#[test]
fn server_half_closing_early_leaves_input_and_exits_1() {
    // Reads 10 bytes of a 4 MiB --send, half-closes, then closes.
    let server = OneShot::spawn(|mut s: TcpStream| {
        let mut ten = [0u8; 10];
        s.read_exact(&mut ten).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        // Pacing: the close comes a little after the half-close.
        std::thread::sleep(Duration::from_millis(200));
        ten
    });
    let data = binary_data(4 << 20);
    let f = TempFile::new("early", &data);
    let o = run(
        &["--send", f.path(), "127.0.0.1", &port_arg(server.addr)],
        b"",
    );
    assert_eq!(server.result(), data[..10]);
    assert_eq!(o.code, Some(1), "{o:?}");
    let last = o.last_line();
    // The server's close, or the reset its close with unread data causes.
    assert!(
        last.starts_with("ttc: socket_shutdown reason=peer_closed ")
            || last.starts_with("ttc: socket_shutdown reason=error "),
        "{o:?}"
    );
    let accepted = field(last, "sent") + field(last, "unsent");
    let left = field(last, "input_left");
    assert!(left > 0, "{last}");
    assert_eq!(left, data.len() as u64 - accepted, "{last}");
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
    // Stdin was still open: how much more it had is unknown.
    assert_eq!(
        o.last_line(),
        "ttc: socket_shutdown reason=shutdown sent=5 acked=5 received=5 unsent=0 attempts=1 input_left=unknown"
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

/// A `ttc` stuck connecting to a full accept queue for the whole (long)
/// connect timeout, with its signal handling set up.
fn stuck_connecting() -> (support::FullBacklog, Ttc) {
    let backlog = support::full_backlog();
    let port = backlog.port().to_string();
    let t = ttc(&["--connect-timeout", "60", "127.0.0.1", &port]).spawn();
    // Wait until it is connecting (so it has set up its signal handling):
    // its SYN_SENT socket shows in the kernel's table.
    let connecting = support::wait_syn_sent(backlog.port());
    assert!(connecting, "ttc never started connecting");
    (backlog, t)
}

#[test]
fn first_sigint_ends_a_pending_connect_at_once_with_the_final_line() {
    // The connect attempt is non-blocking and polled with the wake
    // eventfd, so Shutdown ends it at once, not when the 60 s budget ends.
    let (_backlog, t) = stuck_connecting();
    let start = Instant::now();
    t.signal(libc::SIGINT);
    let o = t.finish();
    let took = start.elapsed();
    assert_eq!(o.code, Some(130), "{o:?}");
    assert!(
        o.last_line().starts_with(
            "ttc: socket_shutdown reason=shutdown sent=0 acked=0 received=0 unsent=0 "
        ),
        "{o:?}"
    );
    let bound = if under_qemu() {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(1)
    };
    assert!(took < bound, "took {took:?}");
}

/// A client whose main thread is stuck writing to a stdout nobody reads:
/// the only case where `Shutdown` cannot end the run (a pending connect
/// stops at once), and so where a second signal matters.
fn stuck_on_stdout() -> (support::Server, Ttc) {
    let server = support::start(Peer::Burst(64 << 20));
    let t = ttc(&["127.0.0.1", &port_arg(server.addr)])
        .stdout(Out::Stall)
        .spawn();
    // The pipe holds its capacity (64 KiB on Linux): ttc's next write
    // blocks.
    let full = support::eventually(SOON, || t.stdout_backlog() >= 64 * 1024);
    assert!(full, "stdout never filled: {} bytes", t.stdout_backlog());
    // Full is not enough: between two writes the main thread could still
    // see the end of the outbox.
    let stuck = support::eventually(SOON, || t.blocked_in_pipe_write());
    assert!(stuck, "ttc's main thread is not blocked writing to stdout");
    (server, t)
}

#[test]
fn second_sigint_a_second_later_exits_while_stuck_on_stdout() {
    // The first SIGINT asks for Shutdown, which a main thread blocked in a
    // write to stdout cannot finish; a second one, a second or more
    // later, exits. Sooner than that it is the same request (as from
    // timeout(1)).
    let (_server, mut t) = stuck_on_stdout();
    let start = Instant::now();
    // Repeat (a bounded number of times) until the process is gone.
    let mut gone_after = None;
    for _ in 0..100 {
        t.signal(libc::SIGINT);
        if support::eventually(Duration::from_millis(100), || t.has_exited()) {
            gone_after = Some(start.elapsed());
            break;
        }
    }
    let took = gone_after.expect("still running after repeated SIGINT");
    let o = t.finish();
    assert!(took >= Duration::from_secs(1), "exited after {took:?}");
    assert!(took < SOON, "took {took:?}");
    assert_eq!(o.code, Some(130), "{o:?}");
}

#[test]
fn sigterm_right_after_sigint_exits_at_once_while_stuck_on_stdout() {
    // A different signal is a second request, however soon it comes.
    let (_server, mut t) = stuck_on_stdout();
    let start = Instant::now();
    t.signal(libc::SIGINT);
    t.signal(libc::SIGTERM);
    assert!(
        support::eventually(SOON, || t.has_exited()),
        "still running after SIGINT then SIGTERM"
    );
    let took = start.elapsed();
    let o = t.finish();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(o.code, Some(143), "{o:?}");
}

/// `timeout -s INT` (coreutils, without --foreground) signals its child
/// and then its whole process group: two SIGINTs microseconds apart,
/// which must count as one request. How long each run lasts: short, but
/// past the start of the binary (slower under QEMU).
fn interrupt_after() -> &'static str {
    if arm_system() {
        // Under qemu-system the dynamic loader's work before main is
        // emulated too: with four runs at once on two emulated CPUs, the
        // armhf glibc build could still be starting at 0.8 s.
        "2"
    } else if under_qemu() {
        "0.8"
    } else {
        "0.3"
    }
}

/// True on an ARM kernel under qemu-system (targets/arm-system.sh).
fn arm_system() -> bool {
    std::env::var_os("TTC_ARM_SYSTEM").is_some()
}

/// Runs `args` under `timeout -s INT` 20 times, 4 at a time (the runs are
/// independent, and each spends most of its time waiting for its signal);
/// each run must end with its final line and exit 130. Returns the final
/// lines.
fn interrupted_by_timeout(args: &[&str]) -> Vec<String> {
    const LANES: usize = 4;
    let mut lines = Vec::new();
    for batch in 0..20 / LANES {
        let started: Vec<Ttc> = (0..LANES)
            .map(|_| {
                ttc(args)
                    .wrapped(&[
                        "timeout",
                        "--preserve-status",
                        "-s",
                        "INT",
                        interrupt_after(),
                    ])
                    .spawn()
            })
            .collect();
        for (lane, mut t) in started.into_iter().enumerate() {
            let run = batch * LANES + lane;
            // Stdin stays open until the end: an end of input would race
            // a ProducerFinished against the signal.
            t.wait_line("ttc: socket_shutdown");
            let o = t.finish();
            assert_eq!(o.code, Some(130), "run {run}: {o:?}");
            assert_eq!(
                o.lines
                    .iter()
                    .filter(|l| l.starts_with("ttc: socket_shutdown "))
                    .count(),
                1,
                "run {run}: {o:?}"
            );
            assert!(
                o.last_line()
                    .starts_with("ttc: socket_shutdown reason=shutdown "),
                "run {run}: {o:?}"
            );
            lines.push(o.last_line().to_owned());
        }
    }
    assert_eq!(lines.len(), 20);
    lines
}

#[test]
fn timeout_sigint_stops_an_idle_client_with_its_final_line_every_time() {
    let server = support::start(Peer::Echo);
    let lines = interrupted_by_timeout(&["127.0.0.1", &port_arg(server.addr)]);
    for line in lines {
        assert!(line.ends_with(" input_left=unknown"), "{line}");
    }
}

#[test]
fn timeout_sigint_stops_a_transfer_with_its_final_line_every_time() {
    // 4 MiB at 2 MB/s (1 MB/s when the signal comes after 2 s): still
    // sending when the signal comes.
    let server = support::start(Peer::Sink);
    let data = binary_data(4 << 20);
    let f = TempFile::new("timeout", &data);
    let port = port_arg(server.addr);
    let rate = if arm_system() { "1M" } else { "2M" };
    let lines = interrupted_by_timeout(&["--send", f.path(), "--rate", rate, "127.0.0.1", &port]);
    for line in lines {
        let accepted = field(&line, "sent") + field(&line, "unsent");
        assert_eq!(
            field(&line, "input_left"),
            data.len() as u64 - accepted,
            "{line}"
        );
        assert!(field(&line, "input_left") > 0, "{line}");
    }
}

// ---------------------------------------------------------------------------
// Network errors: exit 1

#[test]
fn refused_port_exits_1_with_a_connect_error_naming_host_and_port() {
    let port = support::refused_port().to_string();
    let o = run(&["127.0.0.1", &port], b"");
    assert_network_error(&o, "connect", "ConnectionRefused");
    let want = format!(
        "ttc: error phase=connect kind=ConnectionRefused host=127.0.0.1 port={port} \
         message=\"cannot connect to 127.0.0.1 port {port}: "
    );
    assert!(o.lines[0].starts_with(&want), "{o:?}");
}

/// Built without the proxy feature (the default), a proxy in the
/// environment is not used, and the command says so rather than connect
/// directly in silence.
#[cfg(not(feature = "proxy"))]
#[test]
fn all_proxy_without_the_proxy_feature_warns_that_it_connects_directly() {
    let port = support::refused_port().to_string();
    let o = ttc(&["127.0.0.1", &port])
        .env("ALL_PROXY", "socks5://127.0.0.1:1080")
        .run(b"");
    assert_eq!(
        o.lines[0],
        "ttc: warning: ALL_PROXY is set, but this ttc was built without proxies (the proxy feature): connecting directly",
        "{o:?}"
    );
    // It went straight to the server (refused), not to the proxy.
    assert!(
        o.lines[1].starts_with("ttc: error phase=connect kind=ConnectionRefused host=127.0.0.1"),
        "{o:?}"
    );
    // `--proxy ''` says "no proxy": nothing to warn about.
    let o = ttc(&["--proxy", "", "127.0.0.1", &port])
        .env("ALL_PROXY", "socks5://127.0.0.1:1080")
        .run(b"");
    assert!(o.lines[0].starts_with("ttc: error phase=connect"), "{o:?}");
}

/// The resolver's environment for a name that must not resolve:
/// `.invalid` never does (RFC 6761), and with an unreachable or missing
/// name server glibc gives up after one short try instead of retrying.
fn no_such_host(args: &[&str]) -> Outcome {
    let start = Instant::now();
    let o = ttc(args)
        .env("RES_OPTIONS", "timeout:1 attempts:1")
        .run(b"");
    assert!(start.elapsed() < SOON, "took {:?}", start.elapsed());
    o
}

#[test]
fn unknown_host_exits_1_with_a_resolve_error_naming_it() {
    let o = no_such_host(&["no-such-host.invalid", "80"]);
    assert_network_error(&o, "resolve", "NotFound");
    let err = &o.lines[0];
    assert!(
        err.starts_with(
            "ttc: error phase=resolve kind=NotFound host=no-such-host.invalid port=80 \
             message=\"cannot resolve no-such-host.invalid: "
        ),
        "{err}"
    );
    // The same as one argument, and in JSON.
    let o = no_such_host(&["--json", "no-such-host.invalid:8080"]);
    assert_eq!(o.code, Some(1), "{o:?}");
    let err = json_line(&o.lines[0]);
    assert_eq!(text(&err, "phase"), "resolve");
    assert_eq!(text(&err, "host"), "no-such-host.invalid");
    assert_eq!(number(&err, "port"), 8080);
    assert!(
        text(&err, "message").starts_with("cannot resolve no-such-host.invalid: "),
        "{err:?}"
    );
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
    for option in ["--connect-timeout", "-w"] {
        let start = Instant::now();
        let o = run(&[option, "0.5", "127.0.0.1", &port_arg(backlog.addr)], b"");
        assert_network_error(&o, "connect", "TimedOut");
        assert!(
            start.elapsed() < SOON / 2,
            "{option}: took {:?}",
            start.elapsed()
        );
    }
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
fn linger_ends_a_quiet_server_that_never_closes_with_exit_1() {
    // Reads to our half-close, then holds the connection open.
    let (done, hold) = mpsc::channel::<()>();
    let server = support::hold_after_eof(hold);
    let start = Instant::now();
    let o = run(
        &[
            "--linger",
            "0.5",
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
    // The server never closed: what it might still have sent is unknown.
    assert_eq!(o.code, Some(1), "{o:?}");
    // acked is what the kernel reported (at most sent), not fixed here.
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=linger sent=4 acked=")
            && last.ends_with(" received=0 unsent=0 attempts=1"),
        "{o:?}"
    );
    assert!(took >= Duration::from_millis(500), "took {took:?}");
    assert!(took < SOON / 2, "took {took:?}");
    assert_eq!(server.result(), b"data");
}

/// After our half-close, sends one line every `gap`, `lines` times, then
/// closes.
fn talks_after_eof(lines: usize, gap: Duration) -> OneShot<Vec<u8>> {
    OneShot::spawn(move |mut s: TcpStream| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        for i in 0..lines {
            // Pacing the server's reply.
            std::thread::sleep(gap);
            s.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        got
    })
}

#[test]
fn a_reply_streaming_longer_than_the_linger_arrives_whole() {
    // 7 s of reply after our half-close, a line every 0.7 s: the default
    // linger (5 s) restarts with each byte, so nothing is cut.
    let server = talks_after_eof(10, Duration::from_millis(700));
    let o = ttc(&["127.0.0.1", &port_arg(server.addr)]).run_within(b"ask", 2 * SOON);
    let want: String = (0..10).map(|i| format!("line {i}\n")).collect();
    assert_eq!(o.stdout_text(), want);
    assert_clean(&o, "finished");
    assert_eq!(server.result(), b"ask");
}

#[test]
fn linger_none_waits_for_the_close() {
    // Quiet for longer than the linger would allow, then a reply.
    let server = talks_after_eof(1, Duration::from_millis(1500));
    let o = run(
        &["--linger", "none", "127.0.0.1", &port_arg(server.addr)],
        b"",
    );
    assert_eq!(o.stdout_text(), "line 0\n");
    assert_clean(&o, "finished");
    // With a linger shorter than the quiet time, the same server is cut.
    let server = talks_after_eof(1, Duration::from_millis(1500));
    let o = run(
        &["--linger", "0.3", "127.0.0.1", &port_arg(server.addr)],
        b"",
    );
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=linger "),
        "{o:?}"
    );
    assert_eq!(o.stdout_text(), "");
}

// ---------------------------------------------------------------------------
// Inputs that are not a plain pipe

#[test]
fn a_directory_on_stdin_exits_1() {
    let server = support::start(Peer::Echo);
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    let o = ttc(&["127.0.0.1", &port_arg(server.addr)])
        .stdin_file(dir)
        .spawn()
        .finish();
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.has_line("ttc: error phase=input kind=IsADirectory message=\""),
        "{o:?}"
    );
    // Nothing was read, so how much was left is unknown.
    let last = o.last_line();
    assert!(last.starts_with("ttc: socket_shutdown "), "{o:?}");
    assert!(
        last.ends_with(" sent=0 acked=0 received=0 unsent=0 attempts=1 input_left=unknown"),
        "{o:?}"
    );
}

/// A FIFO in a directory of its own, removed on drop.
struct Fifo(std::path::PathBuf);

impl Fifo {
    fn new() -> Fifo {
        let dir = TempFile::new("fifo-dir", b"");
        let dir_path = std::path::PathBuf::from(dir.path());
        drop(dir);
        std::fs::create_dir(&dir_path).unwrap();
        let path = dir_path.join("fifo");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the call's length.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
        Fifo(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// Opens it for writing once a reader has it open, waiting at most
    /// `SOON` (a non-blocking open fails until then).
    fn open_writer(&self) -> std::fs::File {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = None;
        let opened = support::eventually(SOON, || {
            file = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.0)
                .ok();
            file.is_some()
        });
        assert!(opened, "nobody opened the FIFO to read");
        let file = file.unwrap();
        // Blocking again, for plain write_all.
        // SAFETY: F_GETFL/F_SETFL take and return plain integers on an fd
        // that is open for the duration of the calls.
        let rc = unsafe {
            let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK)
        };
        assert_eq!(rc, 0);
        file
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Whether process `pid` is asleep (state S in /proc): `ttc --send FIFO`
/// sleeps only in the FIFO's open, waiting for a writer, before it
/// connects. (Under QEMU user-mode the process is the emulator, asleep in
/// the same open on the guest's behalf.)
fn asleep(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("State:") && l.contains("S (sleeping)"))
    })
}

#[test]
fn sigint_before_the_connection_starts_still_ends_with_the_final_line() {
    // A SIGINT while ttc is still setting up (here: waiting in the open of
    // its --send FIFO; on a slow board, parsing its arguments) waits for
    // the session, which ends at once with its final line and 130; it
    // does not kill the process without a word.
    let server = support::start(Peer::Sink);
    let fifo = Fifo::new();
    let t = ttc(&["--send", fifo.path(), "127.0.0.1", &port_arg(server.addr)]).spawn();
    let pid = t.pid();
    assert!(
        support::eventually(SOON, || asleep(pid)),
        "ttc never waited in the FIFO's open"
    );
    t.signal(libc::SIGINT);
    // Still there: the signal waits. Then the writer lets the open finish.
    let w = fifo.open_writer();
    let o = t.finish();
    drop(w);
    assert_eq!(o.code, Some(130), "{o:?}");
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=shutdown "),
        "{o:?}"
    );
}

#[test]
fn progress_on_a_fifo_shows_bytes_and_rate_without_a_total() {
    let server = support::start(Peer::Sink);
    let fifo = Fifo::new();
    let t = ttc(&[
        "--send",
        fifo.path(),
        "--progress",
        "127.0.0.1",
        &port_arg(server.addr),
    ])
    .spawn();
    let mut w = fifo.open_writer();
    let block = binary_data(20 * 1024);
    for _ in 0..10 {
        w.write_all(&block).unwrap();
        // Pacing the writer, so that the line is redrawn a few times.
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(w);
    let o = t.finish();
    let raw = o.lines.join("\n");
    assert!(raw.contains("\rttc: sent "), "{raw:?}");
    assert!(!raw.contains('%'), "{raw:?}");
    assert!(!raw.contains("of 0 B"), "{raw:?}");
    assert!(!raw.contains("ETA"), "{raw:?}");
    let shown: Vec<String> = o
        .lines
        .iter()
        .map(|l| l.rsplit("\x1b[K").next().unwrap().to_string())
        .collect();
    let o = Outcome { lines: shown, ..o };
    assert_clean(&o, "finished");
    assert_eq!(field(o.last_line(), "sent"), 200 * 1024);
    assert_eq!(server.next_report().received, 200 * 1024);
}

// ---------------------------------------------------------------------------
// Address forms and nc-style options

#[test]
fn one_argument_host_colon_port_connects() {
    let server = support::start(Peer::Echo);
    let o = run(&[&format!("127.0.0.1:{}", server.port())], b"hi");
    assert_clean(&o, "finished");
    assert_eq!(o.stdout, b"hi");
}

#[test]
fn one_argument_bracketed_ipv6_connects() {
    let arg = |port: u16| format!("[::1]:{port}");
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        // No IPv6 loopback in this sandbox: check only that the form
        // parses (a network error, not a usage error).
        let o = run(&[&arg(support::refused_port())], b"");
        assert_eq!(o.code, Some(1), "{o:?}");
        return;
    }
    let server = support::start_on("[::1]:0", Peer::Echo);
    let o = run(&[&arg(server.port())], b"v6");
    assert_clean(&o, "finished");
    assert_eq!(o.stdout, b"v6");
    assert_eq!(o.lines[0], format!("ttc: connected {}", server.addr));
}

#[test]
fn quiet_prints_only_the_final_line_and_verbose_the_debug_lines() {
    let server = support::start(Peer::Echo);
    let port = port_arg(server.addr);
    let o = run(&["-q", "127.0.0.1", &port], b"abc");
    assert_eq!(o.lines.len(), 1, "{o:?}");
    assert_clean(&o, "finished");
    assert_eq!(o.stdout, b"abc");
    // Errors still show.
    let refused = support::refused_port().to_string();
    let o = run(&["--quiet", "127.0.0.1", &refused], b"");
    assert_network_error(&o, "connect", "ConnectionRefused");
    assert_eq!(o.lines.len(), 2, "{o:?}");
    // -v: the library's debug lines, whatever TTC_LOG says.
    let o = run(&["-v", "127.0.0.1", &port], b"abc");
    assert_clean(&o, "finished");
    assert!(
        o.lines
            .iter()
            .any(|l| l.starts_with("DEBUG ttc::worker: state ")),
        "{o:?}"
    );
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
    assert_usage_error(&["127.0.0.1"], "missing PORT after '127.0.0.1'");
    assert_usage_error(&["7000"], "missing HOST before port '7000'");
}

#[test]
fn ambiguous_or_incomplete_addresses_are_usage_errors() {
    assert_usage_error(&["::1"], "ambiguous address '::1'");
    assert_usage_error(
        &["::1"],
        "(an IPv6 address with a port goes in brackets, [::1]:7000, or give HOST PORT)",
    );
    assert_usage_error(&["fe80::1:7000"], "ambiguous address");
    assert_usage_error(&["[::1]"], "missing PORT after '[::1]'");
    assert_usage_error(&["127.0.0.1:http"], "invalid port 'http'");
}

#[test]
fn an_option_that_swallowed_the_host_gets_a_hint() {
    assert_usage_error(
        &["--send", "127.0.0.1", "7000"],
        "--send took '127.0.0.1' as its FILE; did you mean `--send FILE 127.0.0.1 7000`?",
    );
    assert_usage_error(
        &["--initial-file", "localhost:7000"],
        "did you mean `--initial-file FILE localhost:7000`?",
    );
}

#[test]
fn both_address_families_at_once_is_a_usage_error() {
    assert_usage_error(
        &["-4", "-6", "127.0.0.1", "9"],
        "-4 and -6 exclude each other",
    );
    assert_usage_error(&["-46", "127.0.0.1", "9"], "-4 and -6 exclude each other");
}

#[test]
fn a_misspelled_option_gets_a_suggestion() {
    assert_usage_error(
        &["--sned", "f", "127.0.0.1", "9"],
        "invalid option '--sned'; did you mean `--send`?",
    );
    assert_usage_error(
        &["--lnger", "1", "127.0.0.1", "9"],
        "did you mean `--linger`?",
    );
    assert_usage_error(&["serve", "echo", "--bnd", "::1"], "did you mean `--bind`?");
}

#[test]
fn unreadable_input_files_are_worded_alike() {
    let missing = "/nonexistent/ttc-input";
    let dir = std::env::temp_dir();
    let dir = dir.to_str().unwrap();
    for option in ["--send", "--initial-file"] {
        assert_usage_error(
            &[option, missing, "127.0.0.1", "9"],
            &format!("cannot read {option} file '{missing}': No such file or directory"),
        );
        assert_usage_error(
            &[option, dir, "127.0.0.1", "9"],
            &format!("cannot read {option} file '{dir}': it is a directory"),
        );
    }
}

#[test]
fn bad_option_values_are_usage_errors() {
    assert_usage_error(
        &["--connect-timeout", "soon", "127.0.0.1", "9"],
        "invalid time 'soon'",
    );
    assert_usage_error(&["--rate", "10", "127.0.0.1", "9"], "--rate needs --send");
    assert_usage_error(&["--linger"], "missing argument for option '--linger'");
    assert_usage_error(
        &["--linger", "never", "127.0.0.1", "9"],
        "invalid time 'never'",
    );
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
        // Bytes never written, or never taken, are an error.
        "input_left or\n       unsent > 0",
        // Stopping during a pending connect, and the second signal.
        "connection attempts stop at once",
        "A second SIGINT/SIGTERM exits immediately if it comes 1 s",
        // The endings and the keys that tell them apart.
        "input_left",
        "reason=linger",
        "--linger none",
        "HOST:PORT",
        "-w SECS",
        "-q, --quiet",
        "Differences from nc and socat:",
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
    // The demo has no input: the client's end of input and the fortune
    // server's close race, and either may be seen first. Both are clean
    // endings with nothing left unsent.
    let reason = text(last, "reason");
    assert!(reason == "finished" || reason == "peer_closed", "{o:?}");
    assert_eq!(number(last, "unsent"), 0, "{o:?}");
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
