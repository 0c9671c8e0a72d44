//! TLS (the `tls` feature) against real servers on loopback: the
//! library's own TLS peers (`ttc::peers::spawn_tls_server`, the same as
//! `ttc serve --tls-cert`), `openssl s_server` and nginx, with
//! certificates made by the openssl CLI for each test
//! (tests/support/tls.rs). Runs on the host and under QEMU:
//! `cargo test --features tls --test tls [--target ...]`.

mod stay;
#[path = "../support/mod.rs"]
mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::cli::{self, field, port_arg, ttc, Outcome, TempFile};
use support::tls::{Nginx, Pki, SServer, TempDir};
use support::*;
use ttc::peers::{self, Peer};
use ttc::{Config, Control, Phase, Reason, Signal, TlsConfig, TlsServerConfig};

/// Long enough for 16 MiB each way under QEMU on a loaded machine.
const BULK: Duration = Duration::from_secs(120);

/// The client side: trust the test CA.
fn trusting(pki: &Pki) -> TlsConfig {
    TlsConfig::new().ca_file(pki.path("ca.pem")).unwrap()
}

/// One of the library's peers over TLS with certificate `cert`.
fn tls_peer(pki: &Pki, cert: &str, peer: Peer) -> Server {
    let tls = TlsServerConfig::from_pem_files(
        pki.path(&format!("{cert}.pem")),
        pki.path(&format!("{cert}.key")),
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (tx, reports) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let addr = peers::spawn_tls_server(listener, peer, tls, move |_, r| {
        let _ = tx.lock().unwrap().send(r);
    })
    .unwrap();
    Server { addr, reports }
}

fn data(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill_pattern(0, &mut v);
    v
}

/// Sends `bytes` then `ProducerFinished`, collects the outbox and the
/// signals.
fn exchange(config: Config, bytes: &[u8]) -> (Vec<u8>, Vec<Signal>, ttc::ShutdownReport) {
    let client = config.spawn().unwrap();
    let inbox = client.inbox().clone();
    let control = client.control().clone();
    let bytes = bytes.to_vec();
    let feeder = std::thread::spawn(move || {
        inbox.send_slice(&bytes, BULK).unwrap();
        control.send(Control::ProducerFinished);
    });
    let got = drain_outbox_within(client.outbox(), BULK);
    feeder.join().unwrap();
    let signals = all_signals(client.signal());
    let report = client.join();
    (got, signals, report)
}

fn error_of(signals: &[Signal]) -> Option<ttc::Error> {
    signals.iter().find_map(|s| match s {
        Signal::Error(e) => Some(e.clone()),
        _ => None,
    })
}

// ---------------------------------------------------------------------------
// The library against its own TLS peers

#[test]
fn test_tls_echo_is_byte_exact_and_counts_plaintext() {
    let pki = Pki::new();
    let server = tls_peer(&pki, "server", Peer::Echo);
    let payload = data(300_000);
    let config = Config::new("127.0.0.1", server.port())
        .initial_message(b"HELLO".to_vec())
        .tls(trusting(&pki));
    let (got, signals, report) = exchange(config, &payload);
    let mut want = b"HELLO".to_vec();
    want.extend_from_slice(&payload);
    assert!(
        got == want,
        "echo differs ({} of {} bytes)",
        got.len(),
        want.len()
    );
    assert!(matches!(signals[0], Signal::Connected(_)), "{signals:?}");
    assert_eq!(report.reason, Reason::Finished, "{signals:?}");
    assert_eq!(report.error, None);
    // Plaintext, not TLS bytes.
    assert_eq!(report.sent, want.len() as u64);
    assert_eq!(report.received, want.len() as u64);
    assert_eq!(report.unsent, 0);
    let info = report.tls.expect("no TLS info in the report");
    assert_eq!(info.version, "TLSv1.3");
    assert!(info.cipher.starts_with("TLS_"), "{info:?}");
    let seen = server.next_report();
    assert_eq!(seen.received, want.len() as u64);
    assert_eq!(seen.hash, fnv1a(&want));
}

#[test]
fn test_tls_download_ends_with_close_notify_as_peer_closed() {
    let pki = Pki::new();
    let len = 4 << 20;
    let server = tls_peer(&pki, "server", Peer::Burst(len));
    let client = Config::new("127.0.0.1", server.port())
        .tls(trusting(&pki))
        .spawn()
        .unwrap();
    let got = drain_outbox_within(client.outbox(), BULK);
    let signals = all_signals(client.signal());
    let report = client.join();
    assert_eq!(got.len() as u64, len);
    assert_eq!(got, data(len as usize));
    assert!(signals.contains(&Signal::PeerClosed), "{signals:?}");
    assert_eq!(report.reason, Reason::PeerClosed, "{signals:?}");
    assert_eq!(report.error, None);
    assert_eq!(report.received, len);
    // Our close_notify in reply reached the peer: it saw a clean end.
    assert_eq!(server.next_report().sent, len);
}

#[test]
fn test_tls_upload_to_sink_is_byte_exact() {
    let pki = Pki::new();
    let server = tls_peer(&pki, "server", Peer::Sink);
    let payload = data(4 << 20);
    let config = Config::new("127.0.0.1", server.port()).tls(trusting(&pki));
    let (got, signals, report) = exchange(config, &payload);
    assert!(got.is_empty());
    assert_eq!(report.reason, Reason::Finished, "{signals:?}");
    assert_eq!((report.sent, report.unsent), (payload.len() as u64, 0));
    let seen = server.next_report();
    assert_eq!(seen.received, payload.len() as u64);
    assert_eq!(seen.hash, fnv1a(&payload));
}

#[test]
fn test_tls_server_name_can_differ_from_the_host() {
    let pki = Pki::new();
    let server = tls_peer(&pki, "wrong", Peer::Echo);
    let config =
        Config::new("127.0.0.1", server.port()).tls(trusting(&pki).server_name("wrong.example"));
    let (got, signals, report) = exchange(config, b"abc");
    assert_eq!(got, b"abc", "{signals:?}");
    assert_eq!(report.reason, Reason::Finished);
}

#[test]
fn test_tls_pin_of_the_right_key_passes() {
    let pki = Pki::new();
    let server = tls_peer(&pki, "server", Peer::Echo);
    let pin = pki.pin("server.pem");
    let tls = trusting(&pki).pin_sha256(&pin).unwrap();
    let (got, signals, report) =
        exchange(Config::new("127.0.0.1", server.port()).tls(tls), b"pinned");
    assert_eq!(got, b"pinned", "{signals:?}");
    assert_eq!(report.reason, Reason::Finished);
}

#[test]
fn test_tls_shutdown_during_a_stalled_handshake_stops_at_once() {
    // A server that accepts and never answers the ClientHello.
    let (release, released) = mpsc::channel::<()>();
    let server = OneShot::spawn(move |s| {
        let _ = released.recv_timeout(SOON);
        drop(s);
    });
    let client = Config::new("127.0.0.1", server.port())
        .tls(TlsConfig::new())
        .spawn()
        .unwrap();
    assert!(wait_syn_sent_or_connected(server.port()));
    let start = Instant::now();
    client.control().send(Control::Shutdown);
    let report = client.join();
    assert!(start.elapsed() < SOON / 2, "took {:?}", start.elapsed());
    assert_eq!(report.reason, Reason::Shutdown);
    assert_eq!(report.tls, None);
    let _ = release.send(());
}

/// Waits until the client's TCP connection to `port` is established (the
/// handshake is what it is stuck in then).
fn wait_syn_sent_or_connected(port: u16) -> bool {
    let hex_port = format!(":{port:04X}");
    eventually(SOON, || {
        std::fs::read_to_string("/proc/net/tcp")
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // A client socket to the port, ESTABLISHED (01).
                f.len() > 3 && f[2].ends_with(&hex_port) && f[3] == "01"
            })
    })
}

#[test]
fn test_tls_truncation_without_close_notify_is_an_error() {
    // A relay to a TLS burst server that cuts the stream after 200 KB:
    // TCP FIN to the client, no close_notify.
    let pki = Pki::new();
    let upstream = tls_peer(&pki, "server", Peer::Burst(4 << 20));
    let up = upstream.addr;
    let relay = OneShot::spawn(move |client: TcpStream| {
        let server = TcpStream::connect(up).unwrap();
        let (mut c2s_from, mut c2s_to) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let _ = io::copy(&mut c2s_from, &mut c2s_to);
        });
        let mut from = server;
        let mut to = client;
        let mut buf = [0u8; 4096];
        let mut moved = 0;
        while moved < 200_000 {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    to.write_all(&buf[..n]).unwrap();
                    moved += n;
                }
            }
        }
        to.shutdown(Shutdown::Write).unwrap();
        moved
    });
    let client = Config::new("127.0.0.1", relay.port())
        .tls(trusting(&pki).server_name("localhost"))
        .spawn()
        .unwrap();
    let got = drain_outbox_within(client.outbox(), BULK);
    let signals = all_signals(client.signal());
    let report = client.join();
    assert!(relay.result() >= 200_000);
    assert_eq!(report.reason, Reason::Error, "{signals:?}");
    let e = report.error.expect("no error");
    assert_eq!(e.phase, Phase::Tls, "{e}");
    assert_eq!(e.kind, io::ErrorKind::UnexpectedEof, "{e}");
    assert!(e.message().starts_with("truncated: "), "{e}");
    // What came before the cut was delivered, and is a prefix.
    assert_eq!(report.received, got.len() as u64);
    assert!(!got.is_empty() && got == data(got.len()));
}

// ---------------------------------------------------------------------------
// openssl s_server

/// Reads exactly `n` bytes from the outbox, at most `limit`.
fn read_exactly<const C: usize, const N: usize>(
    outbox: &ttc::Outbox<C, N>,
    n: usize,
    limit: Duration,
) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match outbox.recv_timeout(left) {
            Ok(c) => got.extend_from_slice(&c),
            Err(e) => panic!("outbox: {e:?} after {} of {n} bytes", got.len()),
        }
    }
    got
}

/// A small exchange both ways with an s_server started with `extra`;
/// returns the final report.
fn s_server_exchange(pki: &Pki, extra: &[&str], tls: TlsConfig) -> ttc::ShutdownReport {
    let mut server = SServer::start(pki, "server", extra);
    server.send(b"pong from s_server".to_vec());
    let client = Config::new("127.0.0.1", server.port)
        .tls(tls)
        .spawn()
        .unwrap();
    client.inbox().send_slice(b"ping from ttc", SOON).unwrap();
    let got = read_exactly(client.outbox(), 18, SOON);
    assert_eq!(got, b"pong from s_server");
    assert!(server.wait_received(13, SOON));
    client.control().send(Control::ProducerFinished);
    let signals = all_signals(client.signal());
    let report = client.join();
    assert_eq!(server.received(), b"ping from ttc");
    assert_eq!(report.reason, Reason::Finished, "{signals:?}");
    assert_eq!((report.sent, report.received), (13, 18));
    report
}

#[test]
fn test_tls_s_server_16_mib_each_way_byte_exact() {
    let pki = Pki::new();
    let n = 16 << 20;
    let up = data(n);
    let mut down = data(n + 7);
    down.drain(..7);
    let mut server = SServer::start(&pki, "server", &[]);
    server.send(down.clone());
    let client = Config::new("127.0.0.1", server.port)
        .tls(trusting(&pki))
        .spawn()
        .unwrap();
    let inbox = client.inbox().clone();
    let upload = up.clone();
    let feeder = std::thread::spawn(move || inbox.send_slice(&upload, BULK).unwrap());
    let got = read_exactly(client.outbox(), n, BULK);
    feeder.join().unwrap();
    assert!(
        server.wait_received(n, BULK),
        "s_server got {}",
        server.received_len()
    );
    // Both directions are complete: now the graceful end.
    client.control().send(Control::ProducerFinished);
    let signals = all_signals(client.signal());
    let report = client.join();
    assert!(got == down, "download differs");
    assert!(server.received() == up, "upload differs");
    assert_eq!(report.reason, Reason::Finished, "{signals:?}");
    assert_eq!(
        (report.sent, report.received, report.unsent),
        (n as u64, n as u64, 0)
    );
}

#[test]
fn test_tls_s_server_tls12_only() {
    let pki = Pki::new();
    let r = s_server_exchange(&pki, &["-tls1_2"], trusting(&pki));
    let info = r.tls.unwrap();
    assert_eq!(info.version, "TLSv1.2");
    assert!(info.cipher.starts_with("TLS_ECDHE_ECDSA_WITH_"), "{info:?}");
}

#[test]
fn test_tls_s_server_tls13_only() {
    let pki = Pki::new();
    let r = s_server_exchange(&pki, &["-tls1_3"], trusting(&pki));
    assert_eq!(r.tls.unwrap().version, "TLSv1.3");
}

#[test]
fn test_tls_s_server_mutual_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let ca = pki.path("ca.pem");
    let tls = trusting(&pki)
        .client_cert_files(pki.path("client.pem"), pki.path("client.key"))
        .unwrap();
    s_server_exchange(&pki, &["-Verify", "1", "-CAfile", &ca], tls);
}

#[test]
fn test_tls_s_server_mutual_tls_without_a_client_certificate_fails() {
    let pki = Pki::new();
    let ca = pki.path("ca.pem");
    let server = SServer::start(&pki, "server", &["-Verify", "1", "-CAfile", &ca]);
    let client = Config::new("127.0.0.1", server.port)
        .tls(trusting(&pki))
        .spawn()
        .unwrap();
    let _ = client.inbox().send_slice(b"unauthenticated", SOON);
    let signals = all_signals(client.signal());
    let report = client.join();
    assert_eq!(report.reason, Reason::Error, "{signals:?}");
    let e = error_of(&signals).expect("no error signal");
    assert_eq!(e.phase, Phase::Tls, "{e}");
    // TLS 1.3: the server's certificate_required alert, after our Finished.
    assert!(e.message().starts_with("alert: "), "{e}");
    assert!(server.received().is_empty());
    assert_eq!(report.sent + report.unsent, 15);
}

// ---------------------------------------------------------------------------
// The command line: `ttc --tls` against `ttc serve --tls-cert` and nginx

fn tls_args<'a>(pki: &'a Pki, extra: &[&'a str]) -> Vec<String> {
    let mut v = vec!["--tls".to_string(), "--ca".into(), pki.path("ca.pem")];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_ttc(args: &[String], input: &[u8]) -> Outcome {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    ttc(&a).run(input)
}

#[test]
fn test_tls_cli_echo_through_ttc_serve() {
    let pki = Pki::new();
    let serve = ttc(&[
        "serve",
        "echo",
        "--tls-cert",
        &pki.path("server.pem"),
        "--tls-key",
        &pki.path("server.key"),
    ])
    .serve();
    let input = cli::binary_data(200_000);
    let mut args = tls_args(&pki, &["--servername", "localhost"]);
    args.extend(["127.0.0.1".into(), port_arg(serve.addr)]);
    let o = run_ttc(&args, &input);
    cli::assert_clean(&o, "finished");
    assert!(o.stdout == input, "echo differs");
    let last = o.last_line();
    assert!(last.contains(" tls_version=TLSv1.3 cipher=TLS_"), "{last}");
    assert_eq!(field(last, "sent"), input.len() as u64);
    let closed = serve.next_line();
    assert!(closed.starts_with("closed "), "{closed}");
    assert_eq!(field(&closed, "received"), input.len() as u64);
    serve.stop();
}

#[test]
fn test_tls_cli_json_line_names_version_and_cipher() {
    let pki = Pki::new();
    let server = tls_peer(&pki, "server", Peer::Fortune);
    let mut args = tls_args(&pki, &["--json"]);
    args.extend(["127.0.0.1".into(), server.port().to_string()]);
    let o = run_ttc(&args, b"");
    assert_eq!(o.code, Some(0), "{o:?}");
    let obj = cli::json_line(o.last_line());
    assert_eq!(cli::text(&obj, "tls_version"), "TLSv1.3");
    assert!(cli::text(&obj, "cipher").starts_with("TLS_"));
    assert_eq!(o.stdout, peers::FORTUNE.as_bytes());
}

#[test]
fn test_tls_cli_nginx_get_of_1_mib_file() {
    let pki = Pki::new();
    let root = TempDir::new("www");
    let body = cli::binary_data(1 << 20);
    std::fs::write(root.path().join("f.bin"), &body).unwrap();
    let nginx = Nginx::start(&pki, root.path());
    let mut args = tls_args(&pki, &["--servername", "localhost", "--initial"]);
    args.push("GET /f.bin HTTP/1.0\r\nHost: localhost\r\n\r\n".into());
    args.extend(["127.0.0.1".into(), nginx.port.to_string()]);
    // Stdin stays open until nginx has answered and closed: a
    // close_notify from us ends the whole TLS session for an OpenSSL
    // server (TLS 1.2 has no half-close), response or not.
    let mut t = ttc(&args.iter().map(String::as_str).collect::<Vec<_>>()).spawn();
    let stdin = t.take_stdin();
    let o = t.finish();
    drop(stdin);
    // nginx closed first with our stdin still open: the command says that
    // its input may not all have been taken (exit 1, input_left=unknown).
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=peer_closed ")
            && last.ends_with(" input_left=unknown"),
        "{:?}",
        o.lines
    );
    assert_eq!(o.code, Some(1), "{:?}", o.lines);
    let split = o
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8_lossy(&o.stdout[..split]);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Length: 1048576"), "{head}");
    let got = &o.stdout[split + 4..];
    assert_eq!(got.len(), body.len());
    assert_eq!(fnv1a(got), fnv1a(&body), "body hash differs");
    assert!(
        o.last_line().contains(" tls_version=TLSv1."),
        "{:?}",
        o.lines
    );
}

#[test]
fn test_tls_cli_bad_files_and_pins_are_usage_errors() {
    let pki = Pki::new();
    let not_pem = TempFile::new("not-pem", b"hello");
    for (args, want) in [
        (
            vec!["--ca", "/nonexistent/ca.pem"],
            "--ca: cannot read CA file",
        ),
        (vec!["--ca", not_pem.path()], "--ca: "),
        (vec!["--pin", "sha256//short"], "--pin: invalid pin"),
        (vec!["--pin", "md5//AAAA"], "--pin: invalid pin"),
        (
            vec![
                "--cert",
                pki.path("client.pem").leak(),
                "--key",
                pki.path("server.key").leak(),
            ],
            "--cert/--key: the key does not match",
        ),
        (
            vec!["--cert", "/nonexistent", "--key", "/nonexistent"],
            "--cert/--key: cannot read",
        ),
    ] {
        let mut a = vec!["--tls"];
        a.extend(args);
        a.extend(["127.0.0.1", "9"]);
        cli::assert_usage_error(&a, want);
    }
    cli::assert_usage_error(
        &[
            "serve",
            "echo",
            "--tls-cert",
            "/nonexistent",
            "--tls-key",
            "/nonexistent",
        ],
        "--tls-cert/--tls-key: cannot read",
    );
}

#[test]
fn test_tls_cli_insecure_warns_and_connects_to_an_untrusted_server() {
    let pki = Pki::new();
    let server = tls_peer(&pki, "untrusted", Peer::Echo);
    let o = ttc(&["--insecure", "127.0.0.1", &server.port().to_string()]).run(b"hi");
    cli::assert_clean(&o, "finished");
    assert_eq!(o.stdout, b"hi");
    assert!(o.has_line("ttc: warning: --insecure: "), "{:?}", o.lines);
}

// ---------------------------------------------------------------------------
// Bad certificates: each fails with its reason, exit 1, and the server
// receives no application data.

fn assert_refused(cert: &str, extra: &[&str], reason: &str) {
    let pki = Pki::new();
    let server = tls_peer(&pki, cert, Peer::Sink);
    let pin;
    let mut extra: Vec<&str> = extra.to_vec();
    if reason == "pin_mismatch" {
        pin = pki.pin("wrong.pem");
        extra.extend(["--pin", &pin]);
    }
    let mut args = tls_args(&pki, &extra);
    args.extend(["127.0.0.1".into(), server.port().to_string()]);
    let secret = b"application data that must never reach the server";
    let o = run_ttc(&args, secret);
    cli::assert_network_error(&o, "tls", "InvalidData");
    let err = o.lines.iter().find(|l| l.contains(" phase=tls ")).unwrap();
    assert!(err.contains(&format!("message=\"{reason}: ")), "{err}");
    assert_eq!(field(o.last_line(), "sent"), 0, "{o:?}");
    // The command takes its input only once connected (after the
    // handshake) or ended: none of it was sent, and all of it is either
    // unsent or never taken.
    let last = o.last_line();
    let unsent = field(last, "unsent");
    assert!(
        unsent == secret.len() as u64 || (unsent == 0 && last.ends_with(" input_left=unknown")),
        "{o:?}"
    );
    // The server's handshake failed: it never had a byte of plaintext.
    match server
        .reports
        .recv_timeout(SOON)
        .expect("server saw no connection")
    {
        Err(_) => {}
        Ok(r) => panic!("server completed a connection: {r:?}"),
    }
}

#[test]
fn test_tls_cli_refuses_unknown_issuer() {
    assert_refused("untrusted", &[], "unknown_issuer");
}

#[test]
fn test_tls_cli_refuses_expired() {
    assert_refused("expired", &[], "expired");
}

#[test]
fn test_tls_cli_refuses_wrong_name() {
    assert_refused("wrong", &[], "name_mismatch");
}

#[test]
fn test_tls_cli_refuses_pin_mismatch() {
    assert_refused("server", &[], "pin_mismatch");
}

// ---------------------------------------------------------------------------
// No byte from the inbox ever goes out in plaintext

#[test]
fn test_tls_data_queued_before_the_handshake_never_goes_out_in_plaintext() {
    const SECRET: &[u8] = b"TOP-SECRET-queued-before-the-handshake";
    // A plain TCP server: reads the first record, checks it is a TLS
    // handshake record (a ClientHello), answers garbage, then reads
    // everything else the client sends until it closes.
    let server = OneShot::spawn(|mut s: TcpStream| {
        s.set_read_timeout(Some(SOON)).unwrap();
        let mut head = [0u8; 5];
        s.read_exact(&mut head).unwrap();
        let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        s.write_all(b"HTTP/1.0 400 not TLS\r\n\r\n").unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        (head, body, rest)
    });
    let client = Config::new("127.0.0.1", server.port())
        .initial_message(SECRET.to_vec())
        .tls(TlsConfig::new().server_name("localhost"))
        .spawn()
        .unwrap();
    // Queued at once: the worker is still connecting or in the handshake.
    client.inbox().send_slice(SECRET, SOON).unwrap();
    client.control().send(Control::ProducerFinished);
    let signals = all_signals(client.signal());
    let report = client.join();
    let (head, body, rest) = server.result();
    assert_eq!(&head[..2], &[0x16, 0x03], "not a TLS handshake record");
    assert_eq!(body[0], 1, "not a ClientHello");
    let mut all = head.to_vec();
    all.extend(body);
    all.extend(rest);
    assert!(
        !all.windows(SECRET.len()).any(|w| w == SECRET),
        "plaintext went out"
    );
    assert_eq!(report.reason, Reason::Error, "{signals:?}");
    assert_eq!(report.error.unwrap().phase, Phase::Tls);
    assert_eq!((report.sent, report.unsent), (0, 2 * SECRET.len() as u64));
}
