//! Name resolution, on the host and under QEMU: the DNS stub against a real dnsmasq started on a loopback port
//! (A only, AAAA only, both, a CNAME, NXDOMAIN), against fake UDP servers
//! that never answer or answer with hostile replies, and a TCP fallback; a
//! fake netd speaking dnsproxyd's framing on a UNIX socket at a path of
//! the test's own (several addresses, not found, garbage, early close,
//! lying lengths, silence); `Shutdown` and `Abort` during resolution; the
//! static and system resolvers; and the `ttc --dns` and
//! `--resolve-timeout` flags. Only 127.0.0.1 and ::1 are used.

mod support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;
use ttc::{Config, Control, IpFamily, Phase, Reason, Resolver, Signal};

// ---------------------------------------------------------------------------
// Harness

fn v4() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn v6() -> IpAddr {
    "::1".parse().unwrap()
}

/// Echo servers on 127.0.0.1 and ::1 with the same port (they run until
/// the test process ends).
struct DualServer {
    port: u16,
}

fn dual_server() -> DualServer {
    for _ in 0..20 {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if let Ok(b) = TcpListener::bind(("::1", port)) {
            for l in [a, b] {
                ttc::peers::spawn_server(l, Peer::Echo, |_, _| {}).unwrap();
            }
            return DualServer { port };
        }
    }
    panic!("no port free on both 127.0.0.1 and ::1");
}

/// Spawns `config`, expects `Connected` first and returns its peer, then
/// shuts the client down.
fn connects_to(config: Config) -> SocketAddr {
    let client = config.connect_timeout(SOON).spawn().unwrap();
    let first = next_signal(client.signal());
    client.control().send(Control::Shutdown);
    let rest = all_signals(client.signal());
    match first {
        Signal::Connected(peer) => peer,
        other => panic!("expected Connected, got {other:?} then {rest:?}"),
    }
}

/// Spawns `config` with an initial message, expects exactly one error and
/// no connection; returns the error and how long it took to the end.
fn fails(config: Config) -> (ttc::Error, Duration) {
    let t0 = Instant::now();
    let client = config.initial_message(b"hello".to_vec()).spawn().unwrap();
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let report = final_report(&signals);
    assert!(
        !signals.iter().any(|s| matches!(s, Signal::Connected(_))),
        "{signals:?}"
    );
    assert_eq!(report.reason, Reason::Error, "{signals:?}");
    assert_eq!((report.sent, report.unsent), (0, 5), "{signals:?}");
    let errors: Vec<ttc::Error> = signals
        .iter()
        .filter_map(|s| match s {
            Signal::Error(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{signals:?}");
    (errors[0].clone(), took)
}

fn assert_resolve_error(e: &ttc::Error, kind: std::io::ErrorKind) {
    assert_eq!(e.phase, Phase::Resolve, "{e}");
    assert_eq!(e.kind, kind, "{e}");
}

/// Sends `Shutdown` (or `Abort`) once `ready` fires (the resolver has
/// asked), and measures from then to the final signal.
fn stop_during_resolve<T>(config: Config, ready: &Receiver<T>, msg: Control) -> Duration {
    let client = config
        .initial_message(b"queued".to_vec())
        .connect_timeout(Duration::from_secs(30))
        .spawn()
        .unwrap();
    ready
        .recv_timeout(SOON)
        .expect("the resolver never asked the server");
    let t0 = Instant::now();
    client.control().send(msg);
    let signals = all_signals(client.signal());
    let took = t0.elapsed();
    let report = final_report(&signals);
    let want = if msg == Control::Abort {
        Reason::Aborted
    } else {
        Reason::Shutdown
    };
    assert_eq!(report.reason, want, "{signals:?}");
    assert_eq!(signals.len(), 1, "only the final signal: {signals:?}");
    assert_eq!((report.sent, report.unsent), (0, 6));
    took
}

// ---------------------------------------------------------------------------
// dnsmasq

/// dnsmasq on 127.0.0.1:port, killed on drop.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 (a moment ago).
fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Starts dnsmasq with the test names, waiting (bounded) until it answers.
fn dnsmasq() -> Dnsmasq {
    for _ in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("dnsmasq");
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--no-poll",
            "--pid-file=",
            "--log-facility=/dev/null",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--local=/test/",
            "--host-record=v4only.test,127.0.0.1",
            "--host-record=v6only.test,::1",
            "--host-record=both.test,127.0.0.1,::1",
            "--cname=alias.test,both.test",
        ])
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = support::spawn::spawn(&mut cmd).expect(
            "dnsmasq (Debian package dnsmasq-base) must be installed: bash targets/setup.sh",
        );
        let mut d = Dnsmasq {
            child,
            addr: SocketAddr::new(v4(), port),
        };
        let query = ttc::resolve_wire::encode_query(0x5151, "v4only.test", 1).unwrap();
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let deadline = Instant::now() + SOON;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = d.child.try_wait() {
                break; // the port was taken after all: another one
            }
            let _ = probe.send_to(&query, d.addr);
            let mut buf = [0u8; 512];
            if let Ok((n, _)) = probe.recv_from(&mut buf) {
                if n >= 2 && buf[..2] == query[..2] {
                    return d;
                }
            }
        }
        let _ = d.child.kill();
    }
    panic!("dnsmasq did not start");
}

fn via(dns: &Dnsmasq, host: &str, port: u16) -> Config {
    Config::new(host, port).resolver(Resolver::Dns(vec![dns.addr]))
}

#[test]
fn dnsmasq_names_resolve_to_what_it_serves() {
    let dns = dnsmasq();
    let srv = dual_server();
    let p = srv.port;
    assert_eq!(connects_to(via(&dns, "v4only.test", p)).ip(), v4());
    assert_eq!(connects_to(via(&dns, "v6only.test", p)).ip(), v6());
    assert_eq!(connects_to(via(&dns, "V4ONLY.test.", p)).ip(), v4());
    let both = connects_to(via(&dns, "both.test", p));
    assert!(both.ip() == v4() || both.ip() == v6(), "{both}");
    assert_eq!(
        connects_to(via(&dns, "both.test", p).family(IpFamily::V4)).ip(),
        v4()
    );
    assert_eq!(
        connects_to(via(&dns, "both.test", p).family(IpFamily::V6)).ip(),
        v6()
    );
    let alias = connects_to(via(&dns, "alias.test", p));
    assert!(alias.ip().is_loopback() && alias.port() == p, "{alias}");
    // An IP literal is never asked.
    assert_eq!(connects_to(via(&dns, "127.0.0.1", p)).ip(), v4());
}

#[test]
fn dnsmasq_nxdomain_and_missing_family_are_not_found() {
    let dns = dnsmasq();
    let (e, took) = fails(via(&dns, "nx.test", 7));
    assert_resolve_error(&e, std::io::ErrorKind::NotFound);
    assert!(e.message().contains("NXDOMAIN"), "{e}");
    assert!(took < SOON / 2, "{took:?}");
    let (e, _) = fails(via(&dns, "v4only.test", 7).family(IpFamily::V6));
    assert_resolve_error(&e, std::io::ErrorKind::NotFound);
    // REFUSED for a name outside its zone (no upstream).
    let (e, _) = fails(via(&dns, "example.org", 7));
    assert_eq!(e.phase, Phase::Resolve, "{e}");
    assert!(e.message().contains("REFUSED"), "{e}");
}

#[test]
fn second_server_answers_when_the_first_is_silent() {
    let dns = dnsmasq();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let srv = start(Peer::Echo);
    let t0 = Instant::now();
    let config = Config::new("v4only.test", srv.port())
        .resolver(Resolver::Dns(vec![silent.local_addr().unwrap(), dns.addr]));
    assert_eq!(connects_to(config).ip(), v4());
    // One per-try timeout (1 s) on the silent one, then the answer.
    assert!(t0.elapsed() < SOON / 2, "{:?}", t0.elapsed());
}

#[test]
fn unreachable_server_is_an_error_not_a_hang() {
    // Nothing listens on this UDP port: ICMP port unreachable.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = Config::new("x.test", 7)
        .resolver(Resolver::Dns(vec![SocketAddr::new(v4(), port)]))
        .resolve_timeout(Some(SOON));
    let (e, took) = fails(config);
    assert_eq!(e.phase, Phase::Resolve, "{e}");
    assert_eq!(e.kind, std::io::ErrorKind::ConnectionRefused, "{e}");
    assert!(took < SOON / 2, "{took:?}");
}

// ---------------------------------------------------------------------------
// Fake DNS servers

/// A UDP DNS server on 127.0.0.1 that answers each query with what
/// `answer` returns (nothing, or datagrams to send back). Each query
/// received is also sent on `queries`. Stops when dropped.
struct FakeDns {
    addr: SocketAddr,
    queries: Receiver<Vec<u8>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn fake_dns(answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static) -> FakeDns {
    fake_dns_on(UdpSocket::bind("127.0.0.1:0").unwrap(), answer)
}

fn fake_dns_on(
    sock: UdpSocket,
    answer: impl Fn(&[u8]) -> Vec<Vec<u8>> + Send + 'static,
) -> FakeDns {
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, queries) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::spawn(move || {
        let end = Instant::now() + SOON * 3;
        let mut buf = [0u8; 2048];
        while !stopped.load(Ordering::SeqCst) && Instant::now() < end {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                let q = buf[..n].to_vec();
                for r in answer(&q) {
                    let _ = sock.send_to(&r, from);
                }
                let _ = tx.send(q);
            }
        }
    });
    FakeDns {
        addr,
        queries,
        stop,
    }
}

/// The reply to `query` with `flags` and these answer records.
fn reply(query: &[u8], flags: u16, answers: &[Vec<u8>]) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2..4].copy_from_slice(&flags.to_be_bytes());
    r[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
    for a in answers {
        r.extend_from_slice(a);
    }
    r
}

/// An answer record owned by the question's name (pointer to offset 12).
fn rr(rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut v = vec![0xC0, 12];
    v.extend_from_slice(&rtype.to_be_bytes());
    v.extend_from_slice(&[0, 1, 0, 0, 1, 0]);
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
    v
}

fn qtype(query: &[u8]) -> u16 {
    let n = query.len();
    u16::from_be_bytes([query[n - 4], query[n - 3]])
}

/// A correct answer: 127.0.0.1 for A, none for AAAA.
fn good(query: &[u8]) -> Vec<u8> {
    if qtype(query) == 1 {
        reply(query, 0x8180, &[rr(1, &[127, 0, 0, 1])])
    } else {
        reply(query, 0x8180, &[])
    }
}

fn through(fake: &FakeDns, port: u16) -> Config {
    Config::new("fake.test", port)
        .resolver(Resolver::Dns(vec![fake.addr]))
        .resolve_timeout(Some(Duration::from_secs(5)))
}

#[test]
fn silent_dns_server_gives_the_resolve_timeout() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap(); // never read
    let limit = Duration::from_millis(400);
    let config = Config::new("x.test", 7)
        .resolver(Resolver::Dns(vec![silent.local_addr().unwrap()]))
        .resolve_timeout(Some(limit));
    let (e, took) = fails(config);
    assert_resolve_error(&e, std::io::ErrorKind::TimedOut);
    assert!(took >= limit && took < limit + SOON / 4, "{took:?}");
    // The connect budget bounds it too.
    let config = Config::new("x.test", 7)
        .resolver(Resolver::Dns(vec![silent.local_addr().unwrap()]))
        .connect_timeout(limit);
    let (e, took) = fails(config);
    assert_resolve_error(&e, std::io::ErrorKind::TimedOut);
    assert!(took >= limit && took < limit + SOON / 4, "{took:?}");
}

#[test]
fn wrong_id_replies_are_ignored_until_the_timeout() {
    let fake = fake_dns(|q| {
        let mut r = good(q);
        r[0] ^= 0x55;
        vec![r]
    });
    let limit = Duration::from_millis(400);
    let (e, took) = fails(through(&fake, 7).resolve_timeout(Some(limit)));
    assert_resolve_error(&e, std::io::ErrorKind::TimedOut);
    assert!(e.message().contains("did not match"), "{e}");
    assert!(took >= limit && took < limit + SOON / 4, "{took:?}");
    assert!(fake.queries.try_recv().is_ok());
}

#[test]
fn a_stray_reply_before_the_real_one_is_skipped() {
    let fake = fake_dns(|q| {
        let mut stray = good(q);
        stray[1] ^= 1;
        vec![stray, good(q)]
    });
    let srv = start(Peer::Echo);
    assert_eq!(connects_to(through(&fake, srv.port())).ip(), v4());
}

/// Hostile replies with the right id: each is an error for the server,
/// reported as `InvalidData` long before the 5 s time limit.
#[test]
fn hostile_replies_are_resolve_errors_without_a_hang() {
    type Make = fn(&[u8]) -> Vec<u8>;
    let cases: [(&str, Make); 6] = [
        ("truncated packet", |q| {
            let r = reply(q, 0x8180, &[rr(1, &[127, 0, 0, 1])]);
            r[..r.len() - 3].to_vec()
        }),
        ("compression loop", |q| {
            let mut r = reply(q, 0x8180, &[]);
            r[7] = 1;
            let at = r.len() as u8;
            r.extend_from_slice(&[
                1, b'a', 0xC0, at, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1,
            ]);
            r
        }),
        ("pointer to itself", |q| {
            let mut r = reply(q, 0x8180, &[]);
            r[7] = 1;
            let at = r.len() as u8;
            r.extend_from_slice(&[0xC0, at, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
            r
        }),
        ("oversized name", |q| {
            let mut r = reply(q, 0x8180, &[]);
            r[7] = 1;
            for _ in 0..5 {
                r.push(63);
                r.extend_from_slice(&[b'x'; 63]);
            }
            r.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1]);
            r
        }),
        ("a thousand answers", |q| {
            let mut r = reply(q, 0x8180, &[]);
            r[6..8].copy_from_slice(&1000u16.to_be_bytes());
            for _ in 0..30 {
                r.extend_from_slice(&rr(1, &[127, 0, 0, 1]));
            }
            r
        }),
        ("A record of 7 bytes", |q| {
            reply(q, 0x8180, &[rr(1, &[127, 0, 0, 1, 9, 9, 9])])
        }),
    ];
    for (what, make) in cases {
        let fake = fake_dns(move |q| vec![make(q)]);
        let (e, took) = fails(through(&fake, 7));
        assert_resolve_error(&e, std::io::ErrorKind::InvalidData);
        assert!(e.message().contains("bad reply"), "{what}: {e}");
        assert!(took < Duration::from_secs(3), "{what}: {took:?}");
    }
}

#[test]
fn truncated_reply_is_asked_again_over_tcp() {
    // UDP says "truncated"; TCP on the same port has the answer.
    let (tcp, udp) = (0..50)
        .find_map(|_| {
            let tcp = TcpListener::bind("127.0.0.1:0").ok()?;
            let udp = UdpSocket::bind(tcp.local_addr().ok()?).ok()?;
            Some((tcp, udp))
        })
        .expect("no port free for both UDP and TCP");
    let fake = fake_dns_on(udp, |q| vec![reply(q, 0x8380, &[])]);
    let (tx, asked_tcp) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok((mut s, _)) = tcp.accept() else { return };
            s.set_read_timeout(Some(SOON)).unwrap();
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).is_err() {
                return;
            }
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if s.read_exact(&mut q).is_err() {
                return;
            }
            let r = good(&q);
            let mut out = (r.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(&r);
            let _ = s.write_all(&out);
            let _ = tx.send(qtype(&q));
        }
    });
    let srv = start(Peer::Echo);
    assert_eq!(connects_to(through(&fake, srv.port())).ip(), v4());
    assert!(asked_tcp.recv_timeout(SOON).is_ok(), "no TCP query");
}

#[test]
fn shutdown_and_abort_during_a_dns_lookup_end_it_at_once() {
    for msg in [Control::Shutdown, Control::Abort] {
        let fake = fake_dns(|_| Vec::new()); // reads, never answers
        let config = Config::new("x.test", 7).resolver(Resolver::Dns(vec![fake.addr]));
        let took = stop_during_resolve(config, &fake.queries, msg);
        eprintln!("{msg:?} during a DNS lookup: final signal after {took:?}");
        assert!(took < stop_bound(), "{msg:?}: final signal after {took:?}");
    }
}

// ---------------------------------------------------------------------------
// Fake netd (dnsproxyd)

const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

/// A socket path in a fresh directory of this test's own.
fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ttc-dnsproxyd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("dnsproxyd")
}

/// A fake netd at `path`: for each connection, reads the request up to
/// its NUL, sends it on the returned channel, writes `reply`, then keeps
/// the connection open until the client closes (as netd does) unless
/// `close` is set.
fn fake_netd(path: &Path, reply: Vec<u8>, close: bool) -> Receiver<Vec<u8>> {
    let listener = UnixListener::bind(path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..4 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            s.set_read_timeout(Some(SOON)).unwrap();
            let mut req = Vec::new();
            let mut b = [0u8; 1];
            while let Ok(1) = s.read(&mut b) {
                req.push(b[0]);
                if b[0] == 0 || req.len() > 4096 {
                    break;
                }
            }
            let _ = tx.send(req);
            let _ = s.write_all(&reply);
            if !close {
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
            }
        }
    });
    rx
}

fn be(v: i32) -> [u8; 4] {
    v.to_be_bytes()
}

/// One addrinfo as netd's sendaddrinfo writes it (after the BE32 1).
fn addrinfo(ip: IpAddr, canon: &[u8]) -> Vec<u8> {
    let (family, sa) = match ip {
        IpAddr::V4(a) => {
            let mut sa = vec![0u8; 16];
            sa[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            sa[4..8].copy_from_slice(&a.octets());
            (AF_INET, sa)
        }
        IpAddr::V6(a) => {
            let mut sa = vec![0u8; 28];
            sa[..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            sa[8..24].copy_from_slice(&a.octets());
            (AF_INET6, sa)
        }
    };
    let mut r = Vec::new();
    for v in [1, 0, family, 1, 6, sa.len() as i32] {
        r.extend_from_slice(&be(v));
    }
    r.extend_from_slice(&sa);
    r.extend_from_slice(&be(canon.len() as i32));
    r.extend_from_slice(canon);
    r
}

fn netd_success(ips: &[IpAddr]) -> Vec<u8> {
    let mut r = b"222\0".to_vec();
    for (i, &ip) in ips.iter().enumerate() {
        r.extend_from_slice(&addrinfo(ip, if i == 0 { b"phone.test\0" } else { b"" }));
    }
    r.extend_from_slice(&be(0));
    r
}

fn via_netd(path: &Path, port: u16) -> Config {
    Config::new("phone.test", port)
        .resolver(Resolver::Dnsproxyd(path.to_path_buf()))
        .resolve_timeout(Some(Duration::from_secs(5)))
}

#[test]
fn dnsproxyd_several_addresses_and_the_request_bionic_sends() {
    let path = socket_path("several");
    let requests = fake_netd(&path, netd_success(&[v6(), v4(), v4()]), false);
    let srv = dual_server();
    let peer = connects_to(via_netd(&path, srv.port));
    assert!(peer.ip() == v6() || peer.ip() == v4(), "{peer}");
    assert_eq!(peer.port(), srv.port);
    assert_eq!(
        requests.recv_timeout(SOON).unwrap(),
        b"getaddrinfo phone.test ^ 0 0 1 0 0\0"
    );
    // -4: the family in the request, and an IPv4 peer.
    let peer = connects_to(via_netd(&path, srv.port).family(IpFamily::V4));
    assert_eq!(peer.ip(), v4());
    assert_eq!(
        requests.recv_timeout(SOON).unwrap(),
        b"getaddrinfo phone.test ^ 0 2 1 0 0\0"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn dnsproxyd_failures_are_resolve_errors() {
    let mut not_found = b"401\0".to_vec();
    not_found.extend_from_slice(&be(4));
    not_found.extend_from_slice(&7i32.to_ne_bytes()); // EAI_NODATA
    let mut timeout = b"401\0".to_vec();
    timeout.extend_from_slice(&be(4));
    timeout.extend_from_slice(&255i32.to_ne_bytes()); // NETD_RESOLV_TIMEOUT
    let mut early = b"222\0".to_vec();
    early.extend_from_slice(&be(1));
    early.extend_from_slice(&addrinfo(v4(), b"")[..10]);
    let mut lying = b"222\0".to_vec();
    for v in [1, 0, AF_INET, 1, 6, i32::MAX] {
        lying.extend_from_slice(&be(v));
    }
    let mut many = b"222\0".to_vec();
    for _ in 0..1000 {
        many.extend_from_slice(&addrinfo(v4(), b""));
    }
    many.extend_from_slice(&be(0));
    use std::io::ErrorKind::{InvalidData, NotFound, Other, TimedOut};
    let cases: Vec<(&str, Vec<u8>, bool, std::io::ErrorKind)> = vec![
        ("not found", not_found, false, NotFound),
        ("netd timeout", timeout, false, TimedOut),
        ("no addresses", netd_success(&[]), false, NotFound),
        (
            "garbage",
            b"HTTP/1.0 400 Bad Request\r\n\r\n".to_vec(),
            false,
            InvalidData,
        ),
        ("early close", early, true, InvalidData),
        ("close before a word", Vec::new(), true, InvalidData),
        ("lying length", lying, false, InvalidData),
        ("a thousand addresses", many, false, InvalidData),
        (
            "command error",
            b"500 Command not recognized\0".to_vec(),
            false,
            Other,
        ),
    ];
    for (i, (what, reply, close, kind)) in cases.into_iter().enumerate() {
        let path = socket_path(&format!("fail{i}"));
        let requests = fake_netd(&path, reply, close);
        let (e, took) = fails(via_netd(&path, 7));
        assert_resolve_error(&e, kind);
        assert!(took < Duration::from_secs(3), "{what}: {took:?}");
        assert!(requests.recv_timeout(SOON).is_ok(), "{what}: no request");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
    // No netd at that path.
    let path = socket_path("none");
    let (e, _) = fails(via_netd(&path, 7));
    assert_resolve_error(&e, NotFound);
    // A host name netd's command line cannot carry.
    let bad = Config::new("a b", 7).resolver(Resolver::Dnsproxyd(path.clone()));
    let (e, _) = fails(bad);
    assert_resolve_error(&e, std::io::ErrorKind::InvalidInput);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn dnsproxyd_silence_times_out_and_shutdown_stops_it_at_once() {
    let path = socket_path("silent");
    let listener = UnixListener::bind(&path).unwrap();
    let (tx, ready) = mpsc::channel();
    // Dropped at the test's end: the server holds its sockets until then.
    let (_done, end) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..2 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
            let _ = tx.send(());
            held.push(s); // never answers
        }
        let _ = end.recv_timeout(4 * SOON);
    });
    let limit = Duration::from_millis(400);
    let (e, took) = fails(via_netd(&path, 7).resolve_timeout(Some(limit)));
    assert_resolve_error(&e, std::io::ErrorKind::TimedOut);
    assert!(took >= limit && took < limit + SOON / 4, "{took:?}");
    ready.recv_timeout(SOON).unwrap();
    let took = stop_during_resolve(
        via_netd(&path, 7).resolve_timeout(None),
        &ready,
        Control::Shutdown,
    );
    eprintln!("Shutdown during a dnsproxyd lookup: final signal after {took:?}");
    assert!(took < stop_bound(), "final signal after {took:?}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

// ---------------------------------------------------------------------------
// Static and system

#[test]
fn static_addresses_are_used_whatever_the_name() {
    let srv = start(Peer::Echo);
    let config = Config::new("pinned.invalid", srv.port()).resolver(Resolver::Static(vec![v4()]));
    assert_eq!(connects_to(config), SocketAddr::new(v4(), srv.port()));
    let (e, _) = fails(Config::new("x", 7).resolver(Resolver::Static(Vec::new())));
    assert_resolve_error(&e, std::io::ErrorKind::NotFound);
}

#[test]
fn system_resolver_finds_localhost_through_its_helper_thread() {
    let srv = dual_server();
    let peer = connects_to(Config::new("localhost", srv.port).resolver(Resolver::System));
    assert!(peer.ip().is_loopback(), "{peer}");
    let peer = connects_to(Config::new("localhost", srv.port));
    assert!(peer.ip().is_loopback(), "Auto: {peer}");
}

// ---------------------------------------------------------------------------
// The command line

/// Runs `ttc ARGS` with empty stdin through the CLI harness; (exit code,
/// stdout, stderr lines).
fn ttc(args: &[&str]) -> (Option<i32>, String, Vec<String>) {
    let out = support::cli::ttc(args).run(b"");
    (out.code, out.stdout_text(), out.lines)
}

#[test]
fn cli_dns_flag_resolves_through_dnsmasq() {
    let dns = dnsmasq();
    let srv = start(Peer::Fortune);
    let server = dns.addr.to_string();
    let port = srv.port().to_string();
    let (code, out, err) = ttc(&["--dns", &server, "v4only.test", &port]);
    assert_eq!(code, Some(0), "{err:?}");
    assert_eq!(out, ttc::peers::FORTUNE);
    assert!(
        err.iter()
            .any(|l| l == &format!("ttc: connected 127.0.0.1:{port}")),
        "{err:?}"
    );
    let (code, _, err) = ttc(&["--dns", &server, "nx.test", &port]);
    assert_eq!(code, Some(1), "{err:?}");
    assert!(
        err.iter()
            .any(|l| l.starts_with("ttc: error phase=resolve kind=NotFound")),
        "{err:?}"
    );
}

#[test]
fn cli_resolve_timeout_and_bad_values() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = silent.local_addr().unwrap().to_string();
    let t0 = Instant::now();
    let (code, _, err) = ttc(&["--dns", &server, "--resolve-timeout", "0.3", "x.test", "7"]);
    assert_eq!(code, Some(1), "{err:?}");
    assert!(
        err.iter()
            .any(|l| l.starts_with("ttc: error phase=resolve kind=TimedOut")),
        "{err:?}"
    );
    assert!(t0.elapsed() < SOON / 2, "{:?}", t0.elapsed());
    for args in [
        &["--dns", "dns.example", "h", "1"][..],
        &["--dns", "[::1]:0", "h", "1"],
        &["--resolve-timeout", "soon", "h", "1"],
        &["--resolve-timeout", "0", "h", "1"],
    ] {
        let (code, out, err) = ttc(args);
        assert_eq!(code, Some(2), "{args:?}: {err:?}");
        assert!(out.is_empty());
        assert_eq!(err.len(), 1, "{args:?}: {err:?}");
        assert!(err[0].ends_with("see 'ttc --help'"), "{err:?}");
    }
}
