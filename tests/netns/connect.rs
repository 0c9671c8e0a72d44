//! The connect phase between two test hosts in network namespaces that the
//! test makes (tests/support/netns.rs), where the server has an IPv4 and
//! an IPv6 address: Happy Eyeballs when one family's path is a black hole
//! (nftables drops its SYNs), the connect budget when both are, `Shutdown`
//! and `Abort` during a pending connect, and the way out (`--interface` /
//! `Config::bind_device`, `--source` / `Config::local_addr`).
//!
//! The client is given both server addresses with `Resolver::Static`, in
//! the order a resolver would answer.
//!
//! Needs root, iproute2 and nftables; fails loudly without them. Runs on
//! the host and under QEMU user-mode alike.

use crate::support;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::faults::*;
use support::netns::*;
use support::*;
use ttc::{Chunk, Client, Config, Control, Phase, Reason, ShutdownReport, Signal};

const DELAY: Duration = Duration::from_millis(250);

/// A server on host `a` that takes one connection, reads to the end,
/// replies `bye` and closes; returns the client's address and what it read.
fn reply_server(listener: TcpListener) -> OneShot<(SocketAddr, Vec<u8>)> {
    OneShot::on(listener, |mut s| {
        // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
        let peer = s.peer_addr().unwrap();
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        s.set_read_timeout(Some(SOON)).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = s.write_all(b"bye");
        let _ = s.shutdown(Shutdown::Write);
        (peer, got)
    })
}

/// Starts a client in namespace `b` with `config`.
fn spawn_in_b(pair: &NetPair, config: Config) -> Client {
    NetPair::run_in(&pair.b, move || config.spawn().unwrap())
}

/// Waits for `Connected`; returns the peer and the time since `t0`.
fn connected(client: &Client, t0: Instant) -> (SocketAddr, Duration) {
    match next_signal(client.signal()) {
        Signal::Connected(peer) => (peer, t0.elapsed()),
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// Sends `HELLO`, finishes, and checks the exchange with `reply_server`.
fn finish_exchange(
    client: Client,
    server: &OneShot<(SocketAddr, Vec<u8>)>,
) -> (ShutdownReport, SocketAddr) {
    client
        .inbox()
        .try_send(Chunk::from_slice(b"HELLO").unwrap())
        .unwrap();
    client.control().send(Control::ProducerFinished);
    let got = drain_outbox(client.outbox());
    let signals = all_signals(client.signal());
    let report = client.join();
    let (from, sent) = server.result();
    assert_eq!(sent, b"HELLO");
    assert_eq!(got, b"bye");
    assert_eq!(the_error(&signals), None, "{signals:?}");
    assert_eq!(report.reason, Reason::Finished);
    assert_accounting(&report, 0, 5, 3);
    (report, from)
}

/// One family's path drops every SYN: the client must connect over the
/// other after the attempt delay, not spend its budget on the first.
fn one_family_blackholed(hole_v6: bool) {
    let pair = NetPair::new(if hole_v6 { "he6" } else { "he4" });
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port();
    pair.blackhole_port_family(port, hole_v6);
    let server = reply_server(listener);
    // The resolver's first answer is the black-holed family's.
    let (first, second): (IpAddr, IpAddr) = if hole_v6 {
        (ADDR6_A.into(), ADDR_A.into())
    } else {
        (ADDR_A.into(), ADDR6_A.into())
    };
    let budget = Duration::from_secs(8);
    let t0 = Instant::now();
    // The pre-connect hook sees both sockets, each before its connect.
    let hooked = Arc::new(AtomicU32::new(0));
    let h = hooked.clone();
    let client = spawn_in_b(
        &pair,
        Config::new("dual.test", port)
            .resolver(ttc::Resolver::Static(vec![first, second]))
            .attempt_delay(DELAY)
            .connect_timeout(budget)
            .before_connect(move |fd| {
                // Not connected yet: no peer.
                let peer = socket2::SockRef::from(&fd).peer_addr();
                if peer.is_err_and(|e| e.raw_os_error() == Some(libc::ENOTCONN)) {
                    h.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            }),
    );
    let (peer, took) = connected(&client, t0);
    assert_eq!(
        hooked.load(Ordering::SeqCst),
        2,
        "the hook ran on each attempt"
    );
    assert_eq!(peer, SocketAddr::new(second, port));
    // The second attempt started only once the first had been pending for
    // the attempt delay, and well before the budget ran out.
    assert!(took >= DELAY, "connected after {took:?}");
    assert!(
        took < DELAY + Duration::from_millis(1500),
        "connected after {took:?}"
    );
    let (report, from) = finish_exchange(client, &server);
    assert_eq!(report.attempts, 2, "{report}");
    let want_from: IpAddr = if hole_v6 {
        ADDR_B.into()
    } else {
        ADDR6_B.into()
    };
    assert_eq!(from.ip(), want_from);
    assert!(pair.dropped_packets() > 0, "no SYN was dropped");
}

#[test]
fn test_ipv6_blackholed_connects_over_ipv4_after_the_attempt_delay() {
    one_family_blackholed(true);
}

#[test]
fn test_ipv4_blackholed_connects_over_ipv6_after_the_attempt_delay() {
    one_family_blackholed(false);
}

#[test]
fn test_both_families_blackholed_time_out_within_the_budget() {
    let pair = NetPair::new("he-both");
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port();
    pair.blackhole_port_family(port, true);
    pair.blackhole_port_family(port, false);
    let budget = Duration::from_secs(1);
    let t0 = Instant::now();
    let client = spawn_in_b(
        &pair,
        Config::new("dual.test", port)
            .resolver(ttc::Resolver::Static(vec![ADDR6_A.into(), ADDR_A.into()]))
            .initial_message(b"HI".to_vec())
            .connect_timeout(budget),
    );
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let report = client.join();
    drop(listener);
    assert_connect_timed_out(&signals, &report, took, budget);
    assert_eq!(report.attempts, 2, "{report}");
    assert_accounting(&report, 2, 0, 0);
    assert_eq!(report.unsent, 2);
    // Both SYNs, IPv6 and IPv4, were dropped.
    assert!(pair.dropped_packets() >= 2, "{}", pair.dropped_packets());
}

/// `control` while both attempts are pending (their SYNs dropped): the
/// final signal follows at once, and what was queued is unsent.
fn stop_during_connect(control: Control) -> ShutdownReport {
    let pair = NetPair::new("he-stop");
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port();
    pair.blackhole_port_family(port, true);
    pair.blackhole_port_family(port, false);
    let client = spawn_in_b(
        &pair,
        Config::new("dual.test", port)
            .resolver(ttc::Resolver::Static(vec![ADDR6_A.into(), ADDR_A.into()]))
            .attempt_delay(Duration::from_millis(20))
            .initial_message(b"HI".to_vec())
            .connect_timeout(SOON),
    );
    client
        .inbox()
        .try_send(Chunk::from_slice(&[7; 100]).unwrap())
        .unwrap();
    // Both attempts have sent a SYN (and had it dropped).
    assert!(
        eventually(SOON, || pair.dropped_packets() >= 2),
        "the attempts never started"
    );
    let t0 = Instant::now();
    client.control().send(control);
    let last = loop {
        let sig = next_signal(client.signal());
        if sig.is_final() {
            break sig;
        }
        assert!(
            !matches!(sig, Signal::Connected(_) | Signal::Error(_)),
            "{sig:?}"
        );
    };
    let took = t0.elapsed();
    let report = client.join();
    drop(listener);
    assert!(last.is_final());
    assert!(
        took <= stop_bound(),
        "final signal {took:?} after {control:?}"
    );
    assert_eq!(report.error, None);
    assert_eq!(report.attempts, 2, "{report}");
    assert_accounting(&report, 2, 100, 0);
    assert_eq!(report.unsent, 102);
    report
}

#[test]
fn test_shutdown_during_a_pending_connect_ends_at_once() {
    assert_eq!(
        stop_during_connect(Control::Shutdown).reason,
        Reason::Shutdown
    );
}

#[test]
fn test_abort_during_a_pending_connect_ends_at_once() {
    assert_eq!(stop_during_connect(Control::Abort).reason, Reason::Aborted);
}

// ---------------------------------------------------------------------------
// The way out: interface and source address (library)

/// A client in `b` to host `a`'s IPv4 address with `config`'s way out;
/// returns every signal and the report.
fn connect_with(pair: &NetPair, config: Config) -> (Vec<Signal>, ShutdownReport) {
    let client = spawn_in_b(
        pair,
        config
            .resolver(ttc::Resolver::Static(vec![ADDR_A.into()]))
            .connect_timeout(Duration::from_secs(2)),
    );
    client.control().send(Control::ProducerFinished);
    let _ = drain_outbox(client.outbox());
    let signals = all_signals(client.signal());
    (signals, client.join())
}

#[test]
fn test_bind_device_connects_through_the_veth_and_fails_clearly_without_it() {
    let pair = NetPair::new("dev");
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port();
    let server = reply_server(listener);
    let (signals, report) = connect_with(&pair, Config::new("a.test", port).bind_device(DEV));
    assert!(
        matches!(signals[0], Signal::Connected(p) if p == SocketAddr::new(ADDR_A.into(), port)),
        "{signals:?}"
    );
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(server.result().0.ip(), IpAddr::from(ADDR_B));

    // No such interface: a connect error that names it, and no attempt
    // beyond the first (every one would fail alike).
    let (signals, report) =
        connect_with(&pair, Config::new("a.test", port).bind_device("ttcnosuch0"));
    let err = the_error(&signals).expect("an error");
    assert_eq!(err.phase, Phase::Connect, "{err}");
    assert!(err.message().contains("interface ttcnosuch0"), "{err}");
    assert_eq!(err.os_code, Some(libc::ENODEV), "{err}");
    assert_eq!(err.kind, io::ErrorKind::NotFound, "{err}");
    assert_eq!((report.reason, report.attempts), (Reason::Error, 1));

    // Bound to the loopback interface, host a is out of reach: the
    // binding is really applied.
    let (signals, report) = connect_with(&pair, Config::new("a.test", port).bind_device("lo"));
    assert!(
        !signals.iter().any(|s| matches!(s, Signal::Connected(_))),
        "{signals:?}"
    );
    assert_eq!(the_error(&signals).map(|e| e.phase), Some(Phase::Connect));
    assert_eq!(report.reason, Reason::Error);
}

#[test]
fn test_local_addr_picks_the_source_and_its_family() {
    let pair = NetPair::new("src");
    pair.add_addr_b("10.77.0.3/24");
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port();
    let server = reply_server(listener);
    let source: IpAddr = "10.77.0.3".parse().unwrap();
    let (signals, report) = connect_with(&pair, Config::new("a.test", port).local_addr(source));
    assert!(matches!(signals[0], Signal::Connected(_)), "{signals:?}");
    assert_eq!(report.reason, Reason::Finished, "{report}");
    assert_eq!(server.result().0.ip(), source);

    // An IPv6 source: only the IPv6 address is tried, though the resolver
    // answered IPv4 first.
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port();
    let server = reply_server(listener);
    let t0 = Instant::now();
    let client = spawn_in_b(
        &pair,
        Config::new("dual.test", port)
            .resolver(ttc::Resolver::Static(vec![ADDR_A.into(), ADDR6_A.into()]))
            .local_addr(ADDR6_B.into()),
    );
    let (peer, _) = connected(&client, t0);
    assert_eq!(peer, SocketAddr::new(ADDR6_A.into(), port));
    let (report, from) = finish_exchange(client, &server);
    assert_eq!(report.attempts, 1);
    assert_eq!(from.ip(), IpAddr::from(ADDR6_B));

    // A source address this host does not have.
    let (signals, report) = connect_with(
        &pair,
        Config::new("a.test", port).local_addr("10.9.9.9".parse().unwrap()),
    );
    let err = the_error(&signals).expect("an error");
    assert_eq!(
        (err.phase, err.kind),
        (Phase::Connect, io::ErrorKind::AddrNotAvailable),
        "{err}"
    );
    assert!(err.message().contains("source 10.9.9.9"), "{err}");
    assert_eq!(report.reason, Reason::Error);
}

// ---------------------------------------------------------------------------
// The way out from the command line

/// Runs `ttc ARGS` in namespace `b` with stdin empty; returns its output.
fn ttc_in_b(pair: &NetPair, args: Vec<String>) -> Output {
    NetPair::run_in(&pair.b, move || {
        support::spawn::output(support::cli::ttc_command().args(&args)).expect("start ttc")
    })
}

fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn test_cli_interface_and_source_work_and_bad_ones_fail_clearly() {
    let pair = NetPair::new("cli");
    pair.add_addr_b("10.77.0.3/24");
    let a = ADDR_A.to_string();

    // --interface veth0: connects, exchanges, exits 0.
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = reply_server(listener);
    let o = ttc_in_b(
        &pair,
        vec!["--interface".into(), DEV.into(), a.clone(), port],
    );
    let lines = stderr_lines(&o);
    assert_eq!(o.status.code(), Some(0), "{lines:?}");
    assert_eq!(o.stdout, b"bye");
    assert!(
        lines[0].starts_with(&format!("ttc: connected {a}:")),
        "{lines:?}"
    );
    assert!(
        lines.last().unwrap().ends_with(" unsent=0 attempts=1"),
        "{lines:?}"
    );
    assert_eq!(server.result().0.ip(), IpAddr::from(ADDR_B));

    // --source 10.77.0.3: the server sees that address.
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = reply_server(listener);
    let o = ttc_in_b(
        &pair,
        vec![
            "--source".into(),
            "10.77.0.3".into(),
            a.clone(),
            port.clone(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", stderr_lines(&o));
    assert_eq!(
        server.result().0.ip(),
        "10.77.0.3".parse::<IpAddr>().unwrap()
    );

    // No such interface, and a source address the host does not have:
    // exit 1 with an error line that names them.
    for (flag, value, want) in [
        (
            "--interface",
            "ttcnosuch0",
            &[
                "kind=NotFound host=10.77.0.1 port=",
                ": interface ttcnosuch0: ",
            ][..],
        ),
        ("--source", "10.9.9.9", &[": source 10.9.9.9: "]),
    ] {
        let o = ttc_in_b(
            &pair,
            vec![flag.into(), value.into(), a.clone(), port.clone()],
        );
        let lines = stderr_lines(&o);
        assert_eq!(o.status.code(), Some(1), "{lines:?}");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("ttc: error phase=connect ")
                && want.iter().all(|w| lines[0].contains(w)),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("ttc: socket_shutdown reason=error ")
                && lines[1].contains(" attempts=1"),
            "{lines:?}"
        );
    }

    // A name no interface can have is a usage error: exit 2, one line.
    let o = ttc_in_b(
        &pair,
        vec!["--interface".into(), "a/b".into(), a.clone(), "1".into()],
    );
    let lines = stderr_lines(&o);
    assert_eq!(o.status.code(), Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("invalid interface name 'a/b'"),
        "{lines:?}"
    );
}

#[test]
fn test_cli_sigint_during_a_pending_connect_ends_at_once() {
    let pair = NetPair::new("cli-int");
    let listener = pair.listen_a();
    let port = listener.local_addr().unwrap().port();
    pair.blackhole_port(port);
    let args = [
        "--connect-timeout".to_string(),
        "60".into(),
        ADDR_A.to_string(),
        port.to_string(),
    ];
    let mut child = NetPair::run_in(&pair.b, move || {
        let mut cmd = support::cli::ttc_command();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        support::spawn::spawn(&mut cmd).expect("start ttc")
    });
    assert!(
        eventually(SOON, || pair.dropped_packets() > 0),
        "ttc never started connecting"
    );
    let t0 = Instant::now();
    // SAFETY: kill takes a pid and a signal number, no pointers.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(r, 0, "kill: {}", io::Error::last_os_error());
    assert!(
        eventually(SOON, || matches!(child.try_wait(), Ok(Some(_)))),
        "ttc still running after SIGINT"
    );
    let took = t0.elapsed();
    let o = child.wait_with_output().unwrap();
    let lines = stderr_lines(&o);
    drop(listener);
    // The process ends (QEMU's start-up and teardown included) long before
    // the 60 s connect timeout, with the final line.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(o.status.code(), Some(130), "{lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("ttc: socket_shutdown reason=shutdown sent=0 acked=0 received=0 unsent=0 attempts=1"),
        "{lines:?}"
    );
}
