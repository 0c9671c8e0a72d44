//! The `ttc` binary staying connected: `acked` on the final line, the
//! dead-peer options, and `--reconnect`. Run for real against loopback
//! servers and, for a link that goes dark, between two test hosts in
//! network namespaces the test makes (tests/support/netns.rs).

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Duration;

use support::cli::*;
use support::{OneShot, Peer, SOON};

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
    let server = OneShot::on(listener, |mut s| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        while got < READ {
            let want = buf.len().min((READ - got) as usize);
            match s.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n as u64,
            }
        }
        // Pacing the peer: ttc's writes back up meanwhile.
        std::thread::sleep(Duration::from_millis(300));
        let unread_at_reset = unread(s.as_raw_fd());
        support::faults::reset(s);
        (got, unread_at_reset)
    });
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
