//! Staying connected over TLS (the `tls` feature): reconnect with a new
//! handshake per connection and the kept window sent again through the
//! new session, byte-exact across server restarts (numbered chunks,
//! tests/support/seq.rs); `acked` as the plaintext of the records the
//! server's TCP acknowledged (never above it, all of `sent` after a clean
//! close); the linger and the idle timeout on plaintext.
//!
//! The servers are rustls's own, on loopback, with certificates made by
//! the openssl CLI (tests/support/tls.rs). Host and QEMU:
//! `cargo test --features tls --test tls [--target ...]`.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::faults::{wait_unread_settles, SETTLE};
use support::seq::*;
use support::tls::Pki;
use support::*;
use ttc::{Backoff, Config, Control, Delivery, Phase, Reason, ShutdownReport, Signal, TlsConfig};

type Tls = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

fn trusting(pki: &Pki) -> TlsConfig {
    TlsConfig::new().ca_file(pki.path("ca.pem")).unwrap()
}

/// rustls's server with the test certificate for localhost/127.0.0.1.
fn server_config(pki: &Pki) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(pki.path("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    Arc::new(config)
}

/// Accepts one connection and completes the TLS handshake.
fn accept_tls(listener: &TcpListener, config: &Arc<rustls::ServerConfig>) -> Tls {
    let (s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(3 * SOON)).unwrap();
    let conn = rustls::ServerConnection::new(config.clone()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, s);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls
}

/// A TLS connection is a [`restarting_server`]'s round too: its last
/// round ends with the server's `close_notify`.
impl RoundStream for Tls {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn into_tcp(self) -> TcpStream {
        self.sock
    }
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
    }
}

/// What a test's TLS server needs: the certificates, its rustls
/// configuration, and a loopback listener with its port.
fn tls_peer() -> (Pki, Arc<rustls::ServerConfig>, TcpListener, u16) {
    let pki = Pki::new();
    let config = server_config(&pki);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (pki, config, listener, port)
}

/// Reads until the client's close_notify, a reset or the read timeout;
/// returns how many plaintext bytes came.
fn read_to_end(tls: &mut Tls) -> usize {
    let mut got = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got += n,
        }
    }
}

#[test]
fn test_tls_server_restarts_the_kept_window_goes_through_each_new_session_byte_exact() {
    const INITIAL: &[u8] = b"HELLO\n";
    let pki = Pki::new();
    let total: u64 = if under_qemu() { 1200 } else { 3000 };
    let per_round = total / 5;
    let port = refused_port();
    let config = server_config(&pki);
    let server = restarting_server(port, 4, per_round, INITIAL, SETTLE, move |l| {
        accept_tls(l, &config)
    });
    let client = Config::new("127.0.0.1", port)
        .initial_message(INITIAL.to_vec())
        .tls(trusting(&pki))
        .reconnect(
            Backoff::default()
                .initial(Duration::from_millis(20))
                .max(Duration::from_millis(200)),
        )
        .delivery(Delivery::Confirmed)
        .spawn()
        .unwrap();
    let signal = client.signal().clone();
    let signals = std::thread::spawn(move || signals_until_final(&signal, 6 * SOON));
    // The application reads the server's receipts and confirms them.
    let confirmer = confirm_receipts(&client);
    let feeder = feed_chunks(&client, total, None);
    assert_eq!(feeder.join().unwrap(), total);
    let signals = signals.join().unwrap();
    let (streams, unread_at_reset) = server.join().unwrap();
    let confirmed = confirmer.join().unwrap();
    let report = final_of(&signals);

    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(confirmed, total, "not every chunk confirmed");
    assert_eq!(unread_at_reset.len(), 3);
    let r = reassemble(&streams, INITIAL).unwrap();
    assert_eq!(r.chunks, total, "{r:?}");
    // Chunks went out again on a new connection: the server read them
    // before a reset (duplicates in its streams) or had them unread in
    // its receive queue (then only `resent` knows).
    assert!(
        report.resent > 3 * INITIAL.len() as u64,
        "nothing was sent again: {report} {r:?} {unread_at_reset:?}"
    );
    let window_chunks = (Config::DEFAULT_RESEND_WINDOW / SEQ_CHUNK) as u64;
    assert!(r.largest_overlap <= window_chunks, "{r:?}");
    // A new handshake on every connection, each one reported.
    assert_eq!(report.connections, 4, "{report}");
    assert_eq!(
        count_signals(&signals, |s| matches!(s, Signal::Connected(_))),
        4
    );
    let disconnected: Vec<&ShutdownReport> = signals
        .iter()
        .filter_map(|(_, s)| match s {
            Signal::Disconnected(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(disconnected.len(), 4);
    assert!(
        disconnected.iter().all(|d| d.tls.is_some()),
        "{disconnected:?}"
    );
    assert!(report
        .to_string()
        .contains(" tls_version=TLSv1.3 cipher=TLS_"));
    // Plaintext accounting, as without TLS.
    assert_restart_accounting(&report, &streams, &r, INITIAL, total);
}

#[test]
fn test_tls_acked_reaches_sent_after_a_clean_close_and_never_exceeds_it() {
    let (pki, config, listener, port) = tls_peer();
    let len: usize = if under_qemu() { 400_000 } else { 2_000_000 };
    let server = std::thread::spawn(move || {
        let mut tls = accept_tls(&listener, &config);
        let got = read_to_end(&mut tls);
        tls.conn.send_close_notify();
        let _ = tls.flush();
        got
    });
    let client = Config::new("127.0.0.1", port)
        .tls(trusting(&pki))
        .spawn()
        .unwrap();
    let mut payload = vec![0u8; len];
    fill_pattern(0, &mut payload);
    client.inbox().send_slice(&payload, 6 * SOON).unwrap();
    client.control().send(Control::ProducerFinished);
    let report = client.join();
    assert_eq!(server.join().unwrap(), len);
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(report.sent, len as u64, "{report}");
    // Our FIN was acknowledged: every record, so all the plaintext.
    assert_eq!(report.acked, report.sent, "{report}");
    assert!(report.all_acked(), "{report}");
}

#[test]
fn test_tls_acked_stays_below_what_the_server_holds_when_it_stops_reading() {
    let (pki, config, listener, port) = tls_peer();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        // The handshake, then never a read: what arrives stays in the
        // receive queue, all of it acknowledged by TCP, none decrypted.
        let tls = accept_tls(&listener, &config);
        let fd = tls.sock.as_raw_fd();
        // Under QEMU the client's TLS is emulated: slow to fill the queue.
        let settle = Duration::from_millis(if under_qemu() { 1500 } else { 300 });
        let held = wait_unread_settles(fd, settle);
        held_tx.send(held).unwrap();
        // Open (and unread) until the client has ended.
        let _ = done_rx.recv_timeout(3 * SOON);
    });
    let client = Config::new("127.0.0.1", port)
        .tls(trusting(&pki))
        .spawn()
        .unwrap();
    let inbox = client.inbox().clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let feeder = std::thread::spawn(move || {
        let mut payload = vec![0u8; 64 * 1024];
        fill_pattern(0, &mut payload);
        // Keeps the inbox full until the test is done (the server reads
        // nothing, so the sends time out once the socket is full).
        while !stopped.load(std::sync::atomic::Ordering::Acquire) {
            let _ = inbox.send_slice(&payload, Duration::from_millis(100));
        }
    });
    let held = held_rx
        .recv_timeout(4 * SOON)
        .expect("the receive queue never settled");
    client.control().send(Control::Shutdown);
    let report = client.join();
    stop.store(true, std::sync::atomic::Ordering::Release);
    feeder.join().unwrap();
    done_tx.send(()).unwrap();
    server.join().unwrap();
    assert_eq!(report.reason, Reason::Shutdown, "{report}");
    assert!(report.sent > 0, "{report}");
    // What TCP acknowledged is what the server's receive queue holds
    // (ciphertext, `held`: the window is closed, nothing more gets in);
    // the plaintext of the records wholly in it is less.
    assert!(
        report.acked <= held,
        "acked {} > held {held}: {report}",
        report.acked
    );
    assert!(report.acked < report.sent, "{report}");
    assert!(report.acked > 0, "{report}");
}

#[test]
fn test_tls_linger_ends_a_quiet_server_after_close_notify_with_everything_acked() {
    let (pki, config, listener, port) = tls_peer();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let mut tls = accept_tls(&listener, &config);
        let got = read_to_end(&mut tls);
        // Quiet, and open, until the test is done.
        let _ = done_rx.recv_timeout(3 * SOON);
        got
    });
    let linger = Duration::from_millis(300);
    let client = Config::new("127.0.0.1", port)
        .tls(trusting(&pki))
        .linger(Some(linger))
        .keepalive(Some(ttc::Keepalive::idle(Duration::from_secs(5))))
        .spawn()
        .unwrap();
    let payload = vec![7u8; 100_000];
    client.inbox().send_slice(&payload, SOON).unwrap();
    let t0 = Instant::now();
    client.control().send(Control::ProducerFinished);
    let report = client.join();
    let took = t0.elapsed();
    done_tx.send(()).unwrap();
    assert_eq!(server.join().unwrap(), payload.len());
    assert_eq!(report.reason, Reason::Linger, "{report}");
    assert!(took >= linger, "{took:?}");
    assert!(took < linger + SOON, "{took:?}");
    assert_eq!(report.sent, payload.len() as u64, "{report}");
    assert_eq!(report.acked, report.sent, "{report}");
    assert!(report.tls.is_some(), "{report}");
}

#[test]
fn test_tls_idle_timeout_ends_a_silent_session() {
    let (pki, config, listener, port) = tls_peer();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        // The handshake (a session ticket follows it: records that carry
        // no plaintext), then silence.
        let _tls = accept_tls(&listener, &config);
        let _ = done_rx.recv_timeout(3 * SOON);
    });
    let idle = Duration::from_millis(400);
    let t0 = Instant::now();
    let client = Config::new("127.0.0.1", port)
        .tls(trusting(&pki))
        .idle_timeout(Some(idle))
        .spawn()
        .unwrap();
    let report = client.join();
    let took = t0.elapsed();
    done_tx.send(()).unwrap();
    server.join().unwrap();
    assert_eq!(report.reason, Reason::Error, "{report}");
    let e = report.error.as_ref().unwrap();
    assert_eq!(e.phase, Phase::Read, "{report}");
    assert_eq!(e.kind, std::io::ErrorKind::TimedOut, "{report}");
    assert!(took >= idle, "{took:?}");
    assert!(took < idle + SOON, "{took:?}");
}

#[test]
fn test_tls_reconnect_stops_at_a_refused_certificate() {
    let (pki, config, listener, port) = tls_peer();
    // Counts the TLS clients it serves until a plaintext "Q" says stop.
    let server = std::thread::spawn(move || {
        let mut handshakes = 0;
        loop {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(3 * SOON)).unwrap();
            let mut first = [0u8; 1];
            if s.peek(&mut first).unwrap_or(0) == 0 || first[0] == b'Q' {
                return handshakes;
            }
            handshakes += 1;
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            // The client refuses the certificate: its alert ends this.
            while tls.conn.is_handshaking() {
                if tls.conn.complete_io(&mut tls.sock).is_err() {
                    break;
                }
            }
        }
    });
    // Trusts another CA than the one that signed the server's certificate.
    let client = Config::new("127.0.0.1", port)
        .tls(TlsConfig::new().ca_file(pki.path("other_ca.pem")).unwrap())
        .reconnect(
            Backoff::default()
                .initial(Duration::from_millis(10))
                .max(Duration::from_millis(20))
                // Bounds the test if the refusal were retried.
                .max_attempts(Some(5)),
        )
        .spawn()
        .unwrap();
    let report = client.join();
    TcpStream::connect(("127.0.0.1", port))
        .unwrap()
        .write_all(b"Q")
        .unwrap();
    assert_eq!(server.join().unwrap(), 1, "one handshake, no retry");
    assert_eq!(report.reason, Reason::Error, "{report}");
    let error = report.error.as_ref().expect("an error");
    assert_eq!(error.phase, Phase::Tls, "{report}");
    assert!(error.message().contains("unknown_issuer"), "{report}");
    assert_eq!(report.attempts, 1, "{report}");
}
