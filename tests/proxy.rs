//! Proxies (`Config::proxy`, `ttc --proxy`, `ALL_PROXY`/`NO_PROXY`)
//! against real proxy servers started on loopback ports
//! (tests/support/proxy.rs): danted (SOCKS5), microsocks (SOCKS5 with a
//! password), tinyproxy (HTTP `CONNECT` with `BasicAuth`); and tiny
//! in-test proxies that refuse, stall or reset. Host and QEMU:
//! `cargo test --test proxy [--target ...]`, and the TLS case with
//! `--features tls`.

mod support;

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::cli::{ttc, Log};
use support::faults::SETTLE;
use support::proxy::{danted, microsocks, tinyproxy, PASSWORD, USER};
use support::seq::*;
use support::*;
use ttc::{Backoff, Config, Control, Delivery, Phase, Proxy, Reason, Signal};

fn proxy(url: &str) -> Proxy {
    url.parse().unwrap_or_else(|e| panic!("{url}: {e}"))
}

fn data(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    fill_pattern(0, &mut v);
    v
}

/// Sends `bytes`; once `finish_after` bytes came back, `ProducerFinished`
/// (with `None` the server ends it). The outbox's bytes, every signal, and
/// the final report. (Not `ProducerFinished` at once: tinyproxy and
/// microsocks end the whole tunnel at the client's half-close.)
fn exchange(
    config: Config,
    bytes: &[u8],
    finish_after: Option<usize>,
) -> (Vec<u8>, Vec<Signal>, ttc::ShutdownReport) {
    let client = config.spawn().unwrap();
    let inbox = client.inbox().clone();
    let bytes = bytes.to_vec();
    let feeder = std::thread::spawn(move || inbox.send_slice(&bytes, SOON).unwrap());
    let mut got = Vec::new();
    if let Some(n) = finish_after {
        let deadline = Instant::now() + 3 * SOON;
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match client.outbox().recv_timeout(left) {
                Ok(chunk) => got.extend_from_slice(&chunk),
                Err(_) => break,
            }
        }
        client.control().send(Control::ProducerFinished);
    }
    got.extend(drain_outbox_within(client.outbox(), 3 * SOON));
    feeder.join().unwrap();
    let signals = all_signals(client.signal());
    let report = client.join();
    (got, signals, report)
}

/// The one error of a run that failed.
fn the_error(signals: &[Signal]) -> ttc::Error {
    let errors: Vec<_> = signals
        .iter()
        .filter_map(|s| match s {
            Signal::Error(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{signals:?}");
    errors[0].clone()
}

/// Runs a client that must fail in the connect phase; its error.
fn failed(config: Config) -> (ttc::Error, ttc::ShutdownReport) {
    let client = config.initial_message(b"never".to_vec()).spawn().unwrap();
    let signals = signals_until_final(client.signal(), 2 * SOON);
    let signals: Vec<Signal> = signals.into_iter().map(|(_, s)| s).collect();
    let report = client.join();
    assert_eq!(report.reason, Reason::Error, "{signals:?}");
    assert!(
        !signals.iter().any(|s| matches!(s, Signal::Connected(_))),
        "{signals:?}"
    );
    // Nothing was sent: the initial message waits for the tunnel.
    assert_eq!((report.sent, report.unsent), (0, 5), "{report}");
    (the_error(&signals), report)
}

/// Through `url` to an echo server at `host`: the bytes come back
/// exactly, and `Connected` names the proxy.
fn echo_through(url: &str, host: &str, proxy_port: u16) {
    let server = start(Peer::Echo);
    let bytes = data(100_000);
    let config = Config::new(host, server.port()).proxy(proxy(url));
    let (got, signals, report) = exchange(config, &bytes, Some(bytes.len()));
    assert_eq!(report.reason, Reason::Finished, "{url}: {signals:?}");
    assert!(
        got == bytes,
        "{url}: {} bytes back of {}",
        got.len(),
        bytes.len()
    );
    assert_eq!(report.sent, bytes.len() as u64, "{report}");
    let connected = signals.iter().find_map(|s| match s {
        Signal::Connected(a) => Some(*a),
        _ => None,
    });
    assert_eq!(
        connected,
        Some(SocketAddr::from(([127, 0, 0, 1], proxy_port))),
        "{url}"
    );
    assert_eq!(server.next_report().received, bytes.len() as u64);
}

#[test]
fn test_socks5_through_danted_without_auth_both_resolving_here_and_at_the_proxy() {
    let d = danted();
    echo_through(&d.url("socks5", None), "127.0.0.1", d.port);
    // A name: resolved here (socks5) or by the proxy (socks5h).
    echo_through(&d.url("socks5", None), "localhost", d.port);
    echo_through(&d.url("socks5h", None), "localhost", d.port);
}

#[test]
fn test_socks5_through_microsocks_with_a_password_right_and_wrong() {
    let m = microsocks();
    let right = Some((USER, PASSWORD));
    echo_through(&m.url("socks5", right), "127.0.0.1", m.port);
    echo_through(&m.url("socks5h", right), "localhost", m.port);

    let server = start(Peer::Echo);
    let wrong = m.url("socks5h", Some((USER, "not-the-password")));
    let (e, _) = failed(Config::new("127.0.0.1", server.port()).proxy(proxy(&wrong)));
    assert_eq!(
        (e.phase, e.kind),
        (Phase::Proxy, io::ErrorKind::PermissionDenied)
    );
    assert_eq!(
        e.message(),
        format!("proxy 127.0.0.1:{}: SOCKS5 authentication failed", m.port)
    );
    let none = m.url("socks5h", None);
    let (e, _) = failed(Config::new("127.0.0.1", server.port()).proxy(proxy(&none)));
    assert_eq!(e.phase, Phase::Proxy);
    assert!(
        e.message().contains("wants a user name and password"),
        "{e}"
    );
}

#[test]
fn test_http_connect_through_tinyproxy_with_basic_auth_right_and_wrong() {
    let t = tinyproxy();
    echo_through(&t.url("http", Some((USER, PASSWORD))), "127.0.0.1", t.port);
    echo_through(&t.url("http", Some((USER, PASSWORD))), "localhost", t.port);

    let server = start(Peer::Echo);
    for url in [t.url("http", Some((USER, "wrong"))), t.url("http", None)] {
        let (e, _) = failed(Config::new("127.0.0.1", server.port()).proxy(proxy(&url)));
        assert_eq!(
            (e.phase, e.kind),
            (Phase::Proxy, io::ErrorKind::PermissionDenied),
            "{e}"
        );
        // Debian's tinyproxy 1.11 answers 401 where RFC 9110 says 407.
        let want = format!("proxy 127.0.0.1:{}: HTTP 40", t.port);
        assert!(e.message().starts_with(&want), "{e}");
        assert!(
            ["401 Unauthorized", "407 Proxy Authentication Required"]
                .iter()
                .any(|s| e.message().ends_with(s)),
            "{e}"
        );
    }
    // Nothing reached the server.
    assert!(server.reports.try_recv().is_err());
}

#[test]
fn test_a_socks5_refusal_from_the_proxy_is_its_reason() {
    // danted up, the server's port closed: the proxy's own reply says so.
    let d = danted();
    let closed = refused_port();
    let (e, _) = failed(Config::new("127.0.0.1", closed).proxy(proxy(&d.url("socks5", None))));
    assert_eq!(
        (e.phase, e.kind),
        (Phase::Proxy, io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(
        e.message(),
        format!("proxy 127.0.0.1:{}: SOCKS5: connection refused", d.port)
    );
}

#[test]
fn test_a_proxy_that_refuses_the_connection_is_a_proxy_error_naming_it() {
    let port = refused_port();
    for scheme in ["socks5h", "http"] {
        let url = format!("{scheme}://127.0.0.1:{port}");
        let (e, _) = failed(Config::new("server.invalid", 7).proxy(proxy(&url)));
        assert_eq!(
            (e.phase, e.kind),
            (Phase::Proxy, io::ErrorKind::ConnectionRefused),
            "{e}"
        );
        assert!(
            e.message()
                .starts_with(&format!("proxy 127.0.0.1:{port}: ")),
            "{e}"
        );
    }
}

/// A proxy that accepts and never answers; `accepted` gets a message
/// when it has the connection, which it holds until `hold` passes.
fn stalling_proxy(hold: Duration) -> (u16, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // What the client sent: its greeting, and nothing after it.
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut got = vec![0u8; 64];
        let n = s.read(&mut got).unwrap_or(0);
        got.truncate(n);
        let _ = tx.send(got);
        std::thread::sleep(hold);
    });
    (port, rx)
}

#[test]
fn test_a_proxy_that_stalls_mid_handshake_is_ended_by_the_connect_budget() {
    let (port, greeting) = stalling_proxy(SOON);
    let budget = Duration::from_millis(800);
    let t0 = Instant::now();
    let (e, _) = failed(
        Config::new("server.invalid", 7)
            .connect_timeout(budget)
            .proxy(proxy(&format!("socks5h://127.0.0.1:{port}"))),
    );
    let took = t0.elapsed();
    assert_eq!(
        (e.phase, e.kind),
        (Phase::Proxy, io::ErrorKind::TimedOut),
        "{e}"
    );
    assert!(e.message().contains("handshake timed out"), "{e}");
    assert!(took >= budget, "{took:?}");
    assert!(took < budget + Duration::from_secs(5), "{took:?}");
    // Only the SOCKS5 greeting went out.
    assert_eq!(greeting.recv_timeout(SOON).unwrap(), [5, 1, 0]);
}

#[test]
fn test_shutdown_ends_a_stalled_proxy_handshake_at_once() {
    let (port, greeting) = stalling_proxy(SOON);
    let client = Config::new("server.invalid", 7)
        .connect_timeout(3 * SOON)
        .proxy(proxy(&format!("http://127.0.0.1:{port}")))
        .spawn()
        .unwrap();
    // The CONNECT request is out, and nothing answers it.
    let sent = greeting.recv_timeout(SOON).unwrap();
    assert!(
        sent.starts_with(b"CONNECT server.invalid:7 HTTP/1.1\r\n"),
        "{sent:?}"
    );
    let t0 = Instant::now();
    client.control().send(Control::Shutdown);
    let report = client.join();
    assert_eq!(report.reason, Reason::Shutdown, "{report}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
}

#[test]
fn test_a_proxy_that_resets_mid_handshake_is_a_proxy_error() {
    // Reads the 3-byte SOCKS5 greeting, then resets.
    let proxy_server = reset_after(3);
    let (e, _) = failed(Config::new("server.invalid", 7).proxy(proxy(&format!(
        "socks5h://127.0.0.1:{}",
        proxy_server.port()
    ))));
    assert_eq!(e.phase, Phase::Proxy, "{e}");
    assert!(
        matches!(
            e.kind,
            io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
        ),
        "{e}"
    );
    assert_eq!(proxy_server.result(), 3);
}

#[test]
fn test_reconnect_goes_through_the_proxy_again_across_server_restarts_byte_exact() {
    const INITIAL: &[u8] = b"HELLO\n";
    let d = danted();
    let total: u64 = if under_qemu() { 1600 } else { 3000 };
    let port = refused_port();
    let server = restarting_server(port, 4, total / 5, INITIAL, SETTLE, accept_plain);
    let client = Config::new("127.0.0.1", port)
        .proxy(proxy(&d.url("socks5", None)))
        .initial_message(INITIAL.to_vec())
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
    let confirmer = confirm_receipts(&client);
    assert_eq!(feed_chunks(&client, total, None).join().unwrap(), total);
    let signals = signals.join().unwrap();
    let (streams, _) = server.join().unwrap();
    assert_eq!(confirmer.join().unwrap(), total);
    let report = final_of(&signals);
    assert_eq!(report.reason, Reason::Finished, "{report}");
    let r = reassemble(&streams, INITIAL).unwrap();
    assert_eq!(r.chunks, total);
    assert_eq!(report.connections, 4, "{report}");
    // Every connection went through the proxy.
    let peers: Vec<SocketAddr> = signals
        .iter()
        .filter_map(|(_, s)| match s {
            Signal::Connected(a) => Some(*a),
            _ => None,
        })
        .collect();
    assert_eq!(peers.len(), 4);
    assert!(peers.iter().all(|a| a.port() == d.port), "{peers:?}");
    assert_restart_accounting(&report, &streams, &r, INITIAL, total);
}

#[test]
fn test_cli_uses_all_proxy_and_no_proxy_as_curl_does() {
    let d = danted();
    let server = start(Peer::Echo);
    let port = server.port().to_string();
    let dead = format!("socks5://127.0.0.1:{}", refused_port());
    let input = b"through the proxy\n";

    // ALL_PROXY is used.
    let out = ttc(&["127.0.0.1", &port])
        .env("ALL_PROXY", &d.url("socks5h", None))
        .run(input);
    assert_eq!(out.code, Some(0), "{:?}", out.lines);
    assert_eq!(out.stdout, input);
    assert!(
        out.has_line(&format!("ttc: connected 127.0.0.1:{}", d.port)),
        "{:?}",
        out.lines
    );

    // A dead ALL_PROXY: exit 1, a line naming the proxy.
    let out = ttc(&["127.0.0.1", &port])
        .env("all_proxy", &dead)
        .run(input);
    assert_eq!(out.code, Some(1), "{:?}", out.lines);
    let line = out
        .lines
        .iter()
        .find(|l| l.starts_with("ttc: error phase=proxy"))
        .unwrap_or_else(|| panic!("{:?}", out.lines));
    assert!(line.contains(&dead["socks5://".len()..]), "{line}");

    // NO_PROXY (a suffix list, or the IP) and --proxy '' go direct.
    for (k, v) in [("NO_PROXY", "example.org, 127.0.0.1"), ("no_proxy", "*")] {
        let out = ttc(&["127.0.0.1", &port])
            .env("ALL_PROXY", &dead)
            .env(k, v)
            .run(input);
        assert_eq!(out.code, Some(0), "{k}={v}: {:?}", out.lines);
        assert_eq!(out.stdout, input);
    }
    let out = ttc(&["--proxy", "", "127.0.0.1", &port])
        .env("ALL_PROXY", &dead)
        .run(input);
    assert_eq!(out.code, Some(0), "{:?}", out.lines);
    // --noproxy replaces NO_PROXY: the proxy is used again.
    let out = ttc(&["--noproxy", "example.org", "127.0.0.1", &port])
        .env("ALL_PROXY", &dead)
        .env("NO_PROXY", "127.0.0.1")
        .run(input);
    assert_eq!(out.code, Some(1), "{:?}", out.lines);
    // A bad URL is a usage error.
    let out = ttc(&["--proxy", "gopher://h", "127.0.0.1", &port]).run(b"");
    assert_eq!(out.code, Some(2), "{:?}", out.lines);
}

#[test]
fn test_the_password_never_appears_in_logs_signals_or_debug_output() {
    let m = microsocks();
    let t = tinyproxy();
    let server = start(Peer::Echo);
    let port = server.port().to_string();
    const SECRET: &str = "Wr0ng-Pa55w0rd";
    for url in [
        m.url("socks5h", Some((USER, SECRET))),
        t.url("http", Some((USER, SECRET))),
    ] {
        // The command, with debug log lines, plain and JSON.
        for json in [false, true] {
            let mut args = vec!["--proxy", &url, "-v", "127.0.0.1", &port];
            if json {
                args.insert(0, "--json");
            }
            let out = ttc(&args).log(Log::Level("debug")).run(b"hi\n");
            assert_eq!(out.code, Some(1), "{:?}", out.lines);
            assert!(
                out.lines.iter().any(|l| l.contains("proxy")),
                "{:?}",
                out.lines
            );
            for l in &out.lines {
                assert!(!l.contains(SECRET), "{l}");
            }
        }
        // The library: the config's Debug, every signal, the report.
        let config = Config::new("127.0.0.1", server.port()).proxy(proxy(&url));
        assert!(!format!("{config:?}").contains(SECRET));
        let client = config.spawn().unwrap();
        let signals = all_signals(client.signal());
        let report = client.join();
        assert_eq!(report.reason, Reason::Error);
        let all = format!("{signals:?} {report:?} {report}");
        assert!(all.contains("proxy 127.0.0.1"), "{all}");
        assert!(!all.contains(SECRET), "{all}");
    }
    // A bad URL's error does not show it either.
    let e = Proxy::parse(&format!("socks4://u:{SECRET}@h")).unwrap_err();
    assert!(!e.to_string().contains(SECRET), "{e}");
}

/// TLS end to end through tinyproxy's tunnel to nginx: the certificate
/// is checked against the server's name, the body arrives intact.
#[cfg(feature = "tls")]
#[test]
fn test_tls_through_an_http_connect_tunnel_to_nginx() {
    use support::tls::{Nginx, Pki, TempDir};
    let pki = Pki::new();
    let root = TempDir::new("proxy-www");
    let body = data(300_000);
    std::fs::write(root.file("blob"), &body).unwrap();
    let nginx = Nginx::start(&pki, root.path());
    let t = tinyproxy();
    let tls = ttc::TlsConfig::new().ca_file(pki.path("ca.pem")).unwrap();
    let config = Config::new("localhost", nginx.port)
        .tls(tls)
        .proxy(proxy(&t.url("http", Some((USER, PASSWORD)))));
    let request = b"GET /blob HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let (got, signals, report) = exchange(config, request, None);
    assert!(
        !signals.iter().any(|s| matches!(s, Signal::Error(_))),
        "{signals:?}"
    );
    assert!(report.tls.is_some(), "{report}");
    let head_end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no HTTP head")
        + 4;
    assert!(got.starts_with(b"HTTP/1.1 200"), "{:?}", &got[..20]);
    assert_eq!(fnv1a(&got[head_end..]), fnv1a(&body));
    assert_eq!(got.len() - head_end, body.len());
}

/// Through a SOCKS5 tunnel the certificate is checked against the
/// server's name, never the proxy's address: a certificate for
/// `wrong.example` only is accepted for the server `wrong.example`
/// (pinned to 127.0.0.1 and resolved here), and one for 127.0.0.1 and
/// `localhost` (the proxy's address too) is refused for it.
#[cfg(feature = "tls")]
#[test]
fn test_tls_through_a_socks5_tunnel_checks_the_servers_name_not_the_proxys() {
    use support::tls::Pki;
    let pki = Pki::new();
    let d = danted();
    let peer_with = |cert: &str| {
        let tls = ttc::TlsServerConfig::from_pem_files(
            pki.path(&format!("{cert}.pem")),
            pki.path(&format!("{cert}.key")),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        ttc::peers::spawn_tls_server(listener, Peer::Echo, tls, |_, _| {}).unwrap()
    };
    let config = |port: u16| {
        Config::new("wrong.example", port)
            .resolver(ttc::Resolver::Static(vec![[127, 0, 0, 1].into()]))
            .tls(ttc::TlsConfig::new().ca_file(pki.path("ca.pem")).unwrap())
            .proxy(proxy(&d.url("socks5", None)))
    };
    let bytes = data(20_000);
    let (got, signals, report) =
        exchange(config(peer_with("wrong").port()), &bytes, Some(bytes.len()));
    assert!(got == bytes, "{signals:?}");
    assert!(report.tls.is_some(), "{report}");

    let client = config(peer_with("server").port()).spawn().unwrap();
    let signals = all_signals(client.signal());
    client.join();
    let e = the_error(&signals);
    assert_eq!(e.phase, Phase::Tls, "{e}");
    assert!(e.message().starts_with("name_mismatch"), "{e}");
}
