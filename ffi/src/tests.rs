//! The C API called as C would call it, against the library's test peers
//! on loopback. (The C example and the Python and Java suites test it from
//! those languages.)

use std::ffi::CStr;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::ptr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ttc_rs::peers::{self, ConnectionReport, Peer};

use super::*;

/// Generous: the machine is loaded and the suite also runs under QEMU.
const WAIT: Duration = Duration::from_secs(20);
const WAIT_MS: i64 = 20_000;

fn peer(kind: Peer) -> (SocketAddr, mpsc::Receiver<ConnectionReport>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let (tx, rx) = mpsc::channel();
    let addr = peers::spawn_server(listener, kind, move |_, r| {
        let _ = tx.send(r.unwrap());
    })
    .unwrap();
    (addr, rx)
}

fn spawn_with(addr: SocketAddr, opts: &ttc_options) -> ttc_client {
    let host = format!("{}\0", addr.ip());
    let mut client = 0;
    let st = unsafe {
        ttc_spawn(
            host.as_ptr().cast(),
            addr.port(),
            opts,
            &mut client,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, TTC_OK);
    assert_ne!(client, 0);
    client
}

fn spawn(addr: SocketAddr) -> ttc_client {
    spawn_with(addr, &ttc_options_default())
}

fn signal(client: ttc_client) -> ttc_signal {
    let mut s = std::mem::MaybeUninit::<ttc_signal>::uninit();
    let st = unsafe { ttc_next_signal(client, WAIT_MS, s.as_mut_ptr()) };
    assert_eq!(st, TTC_OK);
    unsafe { s.assume_init() }
}

fn join(client: ttc_client) -> ttc_report {
    let mut r = empty_report();
    assert_eq!(unsafe { ttc_join(client, &mut r) }, TTC_OK);
    r
}

/// Receives until the end of the stream.
fn recv_all(client: ttc_client) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 3000];
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no end of stream in time");
        let mut n = 0;
        let st = unsafe { ttc_recv(client, buf.as_mut_ptr(), buf.len(), WAIT_MS, &mut n) };
        assert_eq!(st, TTC_OK);
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn test_every_status_has_its_own_message() {
    let mut seen = std::collections::HashSet::new();
    for (status, _) in MESSAGES {
        let m = unsafe { CStr::from_ptr(ttc_strerror(status as i32)) };
        assert!(!m.is_empty());
        assert!(seen.insert(m.to_owned()), "{status:?} repeats a message");
    }
    let unknown = unsafe { CStr::from_ptr(ttc_strerror(12345)) };
    assert_eq!(unknown.to_str().unwrap(), "unknown ttc status code");
    let name = |p| {
        unsafe { CStr::from_ptr(ttc_reason_str(p)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(
        name(ttc_reason::TTC_REASON_PEER_CLOSED as i32),
        "peer_closed"
    );
    assert_eq!(name(-7), "other");
    let phase = |p| {
        unsafe { CStr::from_ptr(ttc_phase_str(p)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(phase(ttc_phase::TTC_PHASE_CONNECT as i32), "connect");
    assert_eq!(phase(1000), "other");
    let v = unsafe { CStr::from_ptr(ttc_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn test_reason_and_phase_names_match_the_library() {
    for r in [
        Reason::Finished,
        Reason::PeerClosed,
        Reason::Shutdown,
        Reason::Aborted,
        Reason::Error,
        Reason::Linger,
    ] {
        let name = unsafe { CStr::from_ptr(ttc_reason_str(reason_of(r) as i32)) };
        assert_eq!(name.to_str().unwrap(), r.as_str());
    }
    for p in [
        Phase::Spawn,
        Phase::Resolve,
        Phase::Connect,
        Phase::Read,
        Phase::Write,
        Phase::Shutdown,
        Phase::Proxy,
        Phase::Tls,
    ] {
        let name = unsafe { CStr::from_ptr(ttc_phase_str(phase_of(p) as i32)) };
        assert_eq!(name.to_str().unwrap(), p.as_str());
    }
}

#[test]
fn test_bad_handles_are_errors() {
    let mut buf = [0u8; 8];
    let mut n = 99;
    let mut r = empty_report();
    let mut s = std::mem::MaybeUninit::<ttc_signal>::uninit();
    for h in [0, 0xdead_beef_0000_0001, 0x0000_0001_7fff_ffff, u64::MAX] {
        unsafe {
            assert_eq!(ttc_send(h, buf.as_ptr(), 1, 0, &mut n), TTC_E_HANDLE);
            assert_eq!(n, 0, "nothing taken");
            assert_eq!(ttc_try_send(h, buf.as_ptr(), 1, &mut n), TTC_E_HANDLE);
            assert_eq!(ttc_recv(h, buf.as_mut_ptr(), 8, 0, &mut n), TTC_E_HANDLE);
            assert_eq!(ttc_next_signal(h, 0, s.as_mut_ptr()), TTC_E_HANDLE);
            assert_eq!(ttc_join(h, &mut r), TTC_E_HANDLE);
        }
        assert_eq!(ttc_producer_finished(h), TTC_E_HANDLE);
        assert_eq!(ttc_shutdown(h), TTC_E_HANDLE);
        assert_eq!(ttc_abort(h), TTC_E_HANDLE);
        assert_eq!(ttc_free(h), TTC_E_HANDLE);
    }
}

#[test]
fn test_null_pointers_are_errors() {
    let (addr, _reports) = peer(Peer::Sink);
    let mut client = 0;
    let host = c"127.0.0.1";
    unsafe {
        assert_eq!(
            ttc_spawn(ptr::null(), 1, ptr::null(), &mut client, ptr::null_mut()),
            TTC_E_NULL
        );
        assert_eq!(
            ttc_spawn(
                host.as_ptr(),
                1,
                ptr::null(),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            TTC_E_NULL
        );
    }
    let c = spawn(addr);
    let mut n = 0;
    let mut buf = [0u8; 4];
    unsafe {
        assert_eq!(ttc_send(c, ptr::null(), 4, 0, &mut n), TTC_E_NULL);
        // NULL with length 0 is an empty send.
        assert_eq!(ttc_send(c, ptr::null(), 0, 0, &mut n), TTC_OK);
        assert_eq!(
            ttc_send(c, b"ab".as_ptr(), 2, WAIT_MS, ptr::null_mut()),
            TTC_OK
        );
        assert_eq!(ttc_recv(c, ptr::null_mut(), 4, 0, &mut n), TTC_E_NULL);
        assert_eq!(
            ttc_recv(c, buf.as_mut_ptr(), 4, 0, ptr::null_mut()),
            TTC_E_NULL
        );
        assert_eq!(ttc_recv(c, buf.as_mut_ptr(), 0, 0, &mut n), TTC_E_INVALID);
        assert_eq!(ttc_next_signal(c, 0, ptr::null_mut()), TTC_E_NULL);
        assert_eq!(ttc_join(c, ptr::null_mut()), TTC_E_NULL);
    }
    assert_eq!(ttc_producer_finished(c), TTC_OK);
    let r = join(c);
    assert_eq!(r.reason, ttc_reason::TTC_REASON_FINISHED);
    assert_eq!((r.sent, r.unsent), (2, 0));
    assert_eq!(ttc_free(c), TTC_OK);
}

#[test]
fn test_bad_options_are_refused() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let host = c"127.0.0.1";
    let try_spawn = |o: &ttc_options| {
        let mut client = 0;
        let st = unsafe { ttc_spawn(host.as_ptr(), addr.port(), o, &mut client, ptr::null_mut()) };
        assert_eq!(client, 0, "no handle on failure");
        st
    };
    let mut o = ttc_options_default();
    o.chunk_size = 1000;
    assert_eq!(try_spawn(&o), TTC_E_UNSUPPORTED);
    let mut o = ttc_options_default();
    o.inbox_capacity = 3;
    assert_eq!(try_spawn(&o), TTC_E_UNSUPPORTED);
    let mut o = ttc_options_default();
    o.family = 5;
    assert_eq!(try_spawn(&o), TTC_E_INVALID);
    let mut o = ttc_options_default();
    o.initial_message_len = 3;
    assert_eq!(try_spawn(&o), TTC_E_NULL);
    for url in [c"ftp://h", c"socks5://h:0", c"https://h"] {
        let mut o = ttc_options_default();
        o.proxy = url.as_ptr();
        assert_eq!(try_spawn(&o), TTC_E_INVALID, "{url:?}");
    }
    let bad = [0xffu8, 0xfe, 0];
    let mut client = 0;
    let st = unsafe {
        ttc_spawn(
            bad.as_ptr().cast(),
            1,
            ptr::null(),
            &mut client,
            ptr::null_mut(),
        )
    };
    assert_eq!(st, TTC_E_INVALID);
}

#[test]
fn test_echo_round_trip_with_initial_message_and_report() {
    let (addr, reports) = peer(Peer::Echo);
    let hello = b"HELLO\r\n";
    let mut o = ttc_options_default();
    o.initial_message = hello.as_ptr();
    o.initial_message_len = hello.len();
    o.chunk_size = 4096;
    let c = spawn_with(addr, &o);
    let s = signal(c);
    assert_eq!(s.kind, ttc_signal_kind::TTC_SIGNAL_CONNECTED);
    assert_eq!(field_text(&s.peer), addr.to_string());

    let data: Vec<u8> = (0..200_000u32).map(|i| peers::pattern(i.into())).collect();
    let sender = {
        let data = data.clone();
        std::thread::spawn(move || {
            let mut taken = 0;
            let st = unsafe { ttc_send(c, data.as_ptr(), data.len(), WAIT_MS, &mut taken) };
            assert_eq!(st, TTC_OK);
            assert_eq!(taken, data.len());
            assert_eq!(ttc_producer_finished(c), TTC_OK);
        })
    };
    let got = recv_all(c);
    sender.join().unwrap();
    let mut want = hello.to_vec();
    want.extend_from_slice(&data);
    assert!(
        got == want,
        "echo differs: {} bytes back of {}",
        got.len(),
        want.len()
    );

    let r = join(c);
    assert_eq!(r.reason, ttc_reason::TTC_REASON_FINISHED);
    assert_eq!(r.sent, want.len() as u64);
    assert_eq!(r.received, want.len() as u64);
    assert_eq!(r.unsent, 0);
    assert!(!r.has_error);
    // The second join gives the same report.
    let again = join(c);
    assert_eq!((again.sent, again.received), (r.sent, r.received));
    let server = reports.recv_timeout(WAIT).unwrap();
    assert_eq!(server.received, want.len() as u64);

    // The final signal carries the same report; nothing after it.
    let mut last = signal(c);
    while last.kind != ttc_signal_kind::TTC_SIGNAL_SOCKET_SHUTDOWN {
        assert_ne!(last.kind, ttc_signal_kind::TTC_SIGNAL_ERROR);
        last = signal(c);
    }
    assert_eq!(last.report.sent, r.sent);
    let mut s = std::mem::MaybeUninit::<ttc_signal>::uninit();
    assert_eq!(unsafe { ttc_next_signal(c, 0, s.as_mut_ptr()) }, TTC_CLOSED);
    assert_eq!(ttc_free(c), TTC_OK);
    assert_eq!(ttc_free(c), TTC_E_HANDLE, "freed twice");
}

#[test]
fn test_receive_times_out_then_sink_gets_the_hash() {
    let (addr, reports) = peer(Peer::Sink);
    let c = spawn(addr);
    assert_eq!(signal(c).kind, ttc_signal_kind::TTC_SIGNAL_CONNECTED);
    let mut buf = [0u8; 16];
    let mut n = 7;
    let st = unsafe { ttc_recv(c, buf.as_mut_ptr(), buf.len(), 50, &mut n) };
    assert_eq!(st, TTC_TIMEOUT);
    assert_eq!(n, 0);
    let mut s = std::mem::MaybeUninit::<ttc_signal>::uninit();
    assert_eq!(
        unsafe { ttc_next_signal(c, 0, s.as_mut_ptr()) },
        TTC_TIMEOUT
    );

    let data = vec![0x5au8; 50_000];
    let mut taken = 0;
    let st = unsafe { ttc_send(c, data.as_ptr(), data.len(), WAIT_MS, &mut taken) };
    assert_eq!((st, taken), (TTC_OK, data.len()));
    assert_eq!(ttc_producer_finished(c), TTC_OK);
    assert!(recv_all(c).is_empty());
    let r = join(c);
    assert_eq!(r.reason, ttc_reason::TTC_REASON_FINISHED);
    assert_eq!((r.sent, r.received, r.unsent), (50_000, 0, 0));
    let server = reports.recv_timeout(WAIT).unwrap();
    assert_eq!(server.received, 50_000);
    assert_eq!(server.hash, peers::fnv1a(&data));
    // After the end, sending is refused and says so.
    let st = unsafe { ttc_try_send(c, data.as_ptr(), 10, &mut taken) };
    assert_eq!((st, taken), (TTC_CLOSED, 0));
    assert_eq!(ttc_free(c), TTC_OK);
}

#[test]
fn test_refused_connection_is_an_error_signal_and_report() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = spawn(SocketAddr::from(([127, 0, 0, 1], port)));
    let s = signal(c);
    assert_eq!(s.kind, ttc_signal_kind::TTC_SIGNAL_ERROR);
    assert_eq!(s.error.phase, ttc_phase::TTC_PHASE_CONNECT);
    assert_eq!(s.error.os_code, libc_econnrefused());
    assert_eq!(field_text(&s.error.kind), "ConnectionRefused");
    assert!(!field_text(&s.error.message).is_empty());
    let r = join(c);
    assert_eq!(r.reason, ttc_reason::TTC_REASON_ERROR);
    assert!(r.has_error);
    assert_eq!(r.error.phase, ttc_phase::TTC_PHASE_CONNECT);
    assert_eq!(ttc_free(c), TTC_OK);
}

/// A one-connection HTTP proxy on loopback: reads the CONNECT head,
/// answers 200, connects to `to` and relays both ways; the head it got.
fn connect_proxy(to: SocketAddr) -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let relay = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            c.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let mut s = std::net::TcpStream::connect(to).unwrap();
        c.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        let (mut c2, mut s2) = (c.try_clone().unwrap(), s.try_clone().unwrap());
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut c2, &mut s2);
            let _ = s2.shutdown(std::net::Shutdown::Write);
        });
        let _ = std::io::copy(&mut s, &mut c);
        let _ = c.shutdown(std::net::Shutdown::Write);
        up.join().unwrap();
        head
    });
    (addr, relay)
}

#[test]
fn test_proxy_option_goes_through_the_proxy_and_its_failure_is_the_proxy_phase() {
    let (echo, _reports) = peer(Peer::Echo);
    let (proxy, relay) = connect_proxy(echo);
    let url = std::ffi::CString::new(format!("http://user:pw@{proxy}")).unwrap();
    let mut o = ttc_options_default();
    o.proxy = url.as_ptr();
    let c = spawn_with(echo, &o);
    drop(url);
    let s = signal(c);
    assert_eq!(s.kind, ttc_signal_kind::TTC_SIGNAL_CONNECTED);
    assert_eq!(field_text(&s.peer), proxy.to_string());
    let mut taken = 0;
    let st = unsafe { ttc_send(c, b"via proxy".as_ptr(), 9, WAIT_MS, &mut taken) };
    assert_eq!((st, taken), (TTC_OK, 9));
    assert_eq!(ttc_producer_finished(c), TTC_OK);
    assert_eq!(recv_all(c), b"via proxy");
    assert_eq!(join(c).reason, ttc_reason::TTC_REASON_FINISHED);
    assert_eq!(ttc_free(c), TTC_OK);
    let head = String::from_utf8(relay.join().unwrap()).unwrap();
    assert!(
        head.starts_with(&format!("CONNECT {echo} HTTP/1.1\r\n")),
        "{head}"
    );
    // Basic base64("user:pw").
    assert!(
        head.contains("Proxy-Authorization: Basic dXNlcjpwdw==\r\n"),
        "{head}"
    );

    // A proxy that is not there: the proxy phase, naming it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = std::ffi::CString::new(format!("socks5h://127.0.0.1:{port}")).unwrap();
    let mut o = ttc_options_default();
    o.proxy = url.as_ptr();
    let c = spawn_with(echo, &o);
    let s = signal(c);
    assert_eq!(s.kind, ttc_signal_kind::TTC_SIGNAL_ERROR);
    assert_eq!(s.error.phase, ttc_phase::TTC_PHASE_PROXY);
    let message = field_text(&s.error.message);
    assert!(
        message.starts_with(&format!("proxy 127.0.0.1:{port}: ")),
        "{message}"
    );
    let phase = unsafe { CStr::from_ptr(ttc_phase_str(s.error.phase as i32)) };
    assert_eq!(phase.to_str().unwrap(), "proxy");
    assert_eq!(join(c).reason, ttc_reason::TTC_REASON_ERROR);
    assert_eq!(ttc_free(c), TTC_OK);
}

fn libc_econnrefused() -> i32 {
    std::io::Error::from(std::io::ErrorKind::ConnectionRefused)
        .raw_os_error()
        .unwrap_or(111)
}

#[test]
fn test_try_send_fills_up_and_every_taken_byte_is_accounted() {
    // A server that accepts and never reads: the socket buffers fill,
    // then the inbox.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        // Hold it open until the test is done with it.
        let _ = rx.recv();
        drop(s);
    });
    let mut o = ttc_options_default();
    o.chunk_size = 16384;
    let c = spawn_with(addr, &o);
    assert_eq!(signal(c).kind, ttc_signal_kind::TTC_SIGNAL_CONNECTED);
    let data = vec![1u8; 64 * 1024 * 1024];
    let mut total = 0usize;
    let deadline = Instant::now() + WAIT;
    // Until nothing more is taken for a while: the socket is full too
    // (the server never reads), so what is queued now stays unsent.
    let mut last_progress = Instant::now();
    while last_progress.elapsed() < Duration::from_millis(300) {
        let mut taken = 0;
        let st = unsafe { ttc_try_send(c, data.as_ptr(), data.len(), &mut taken) };
        assert!(taken < data.len(), "64 MiB cannot all fit");
        assert_eq!(st, TTC_FULL);
        total += taken;
        if taken > 0 {
            last_progress = Instant::now();
        } else {
            // Pacing the retries, not waiting for an event.
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(Instant::now() < deadline, "the inbox never filled up");
    }
    // The same with a wait: times out, takes nothing more.
    let mut taken = 9;
    let st = unsafe { ttc_send(c, data.as_ptr(), 10, 30, &mut taken) };
    assert_eq!(st, TTC_TIMEOUT);
    assert!(taken <= 10);
    total += taken;
    assert_eq!(ttc_shutdown(c), TTC_OK);
    let r = join(c);
    let _ = tx.send(());
    assert_eq!(r.reason, ttc_reason::TTC_REASON_SHUTDOWN);
    assert!(r.unsent > 0, "a full inbox was left");
    assert_eq!(
        r.sent + r.unsent,
        total as u64,
        "every taken byte accounted"
    );
    assert_eq!(ttc_free(c), TTC_OK);
}

#[test]
fn test_free_wakes_a_blocked_receiver_and_the_handle_goes_stale() {
    let (addr, _reports) = peer(Peer::Sink);
    let c = spawn(addr);
    assert_eq!(signal(c).kind, ttc_signal_kind::TTC_SIGNAL_CONNECTED);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16];
        let mut n = 7;
        let st = unsafe { ttc_recv(c, buf.as_mut_ptr(), buf.len(), TTC_FOREVER, &mut n) };
        let _ = tx.send((st, n));
    });
    // Not a synchronisation: the receive returns whether or not it was
    // already waiting when the handle is freed.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ttc_free(c), TTC_OK);
    let (st, n) = rx.recv_timeout(WAIT).expect("receiver still blocked");
    // It was either inside the call (end of stream) or came after the free.
    assert!(
        (st, n) == (TTC_OK, 0) || (st, n) == (TTC_E_HANDLE, 0),
        "{st:?} {n}"
    );
    // The slot is reused by the next client; the old handle stays stale.
    let c2 = spawn(addr);
    assert_ne!(c2, c);
    assert_eq!(ttc_shutdown(c), TTC_E_HANDLE);
    assert_eq!(ttc_shutdown(c2), TTC_OK);
    assert_eq!(join(c2).reason, ttc_reason::TTC_REASON_SHUTDOWN);
    assert_eq!(ttc_free(c2), TTC_OK);
}

#[test]
fn test_abort_resets_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0u8; 64];
        let _ = tx.send(s.read(&mut buf).map_err(|e| e.kind()));
    });
    let c = spawn(addr);
    assert_eq!(signal(c).kind, ttc_signal_kind::TTC_SIGNAL_CONNECTED);
    assert_eq!(ttc_abort(c), TTC_OK);
    assert_eq!(join(c).reason, ttc_reason::TTC_REASON_ABORTED);
    let seen = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(seen, Err(std::io::ErrorKind::ConnectionReset));
    assert_eq!(ttc_free(c), TTC_OK);
}

#[test]
fn test_copy_str_cuts_at_a_character_boundary() {
    let mut out = [1 as c_char; 5];
    copy_str(&mut out, "abé");
    assert_eq!(field_text(&out), "abé");
    copy_str(&mut out, "abcé");
    assert_eq!(field_text(&out), "abc", "é does not fit whole");
    assert_eq!(out[4], 0);
}

#[test]
fn test_big_chunks_start_from_a_thread_with_a_small_stack() {
    // A JVM thread has 1 MiB; building 16 KiB-chunk mailboxes on the
    // caller's stack took about 2 MiB in a debug build.
    let (addr, reports) = peer(Peer::Sink);
    let t = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let mut o = ttc_options_default();
            o.chunk_size = 16384;
            let c = spawn_with(addr, &o);
            let data = vec![3u8; 40_000];
            let mut taken = 0;
            let st = unsafe { ttc_send(c, data.as_ptr(), data.len(), WAIT_MS, &mut taken) };
            assert_eq!((st, taken), (TTC_OK, data.len()));
            assert_eq!(ttc_producer_finished(c), TTC_OK);
            let r = join(c);
            assert_eq!(ttc_free(c), TTC_OK);
            (r.reason, r.sent)
        })
        .unwrap();
    let (reason, sent) = t.join().expect("the small thread overflowed or panicked");
    assert_eq!((reason, sent), (ttc_reason::TTC_REASON_FINISHED, 40_000));
    assert_eq!(reports.recv_timeout(WAIT).unwrap().received, 40_000);
}

/// `ttc_spawn` with `opts`, expecting a refusal: its status and error.
fn refused(opts: &ttc_options) -> (ttc_status, ttc_error) {
    let mut client = 0;
    let mut err = no_error();
    let st = unsafe { ttc_spawn(c"127.0.0.1".as_ptr(), 9, opts, &mut client, &mut err) };
    assert_eq!(client, 0);
    (st, err)
}

#[test]
fn test_refused_options_are_error_values_naming_the_field() {
    let mut o = ttc_options_default();
    o.resolver = ttc_resolver::TTC_RESOLVER_DNS as i32;
    o.resolver_addrs = c"192.0.2.53, nonsense".as_ptr();
    let (st, e) = refused(&o);
    assert_eq!(st, TTC_E_INVALID);
    assert!(field_text(&e.message).contains("resolver_addrs"), "{e:?}");
    assert_eq!(field_text(&e.kind), "InvalidInput");

    let mut o = ttc_options_default();
    o.resolver = ttc_resolver::TTC_RESOLVER_STATIC as i32;
    assert_eq!(refused(&o).0, TTC_E_INVALID, "static needs addresses");

    let mut o = ttc_options_default();
    o.resolver = 9;
    assert_eq!(refused(&o).0, TTC_E_INVALID);

    let mut o = ttc_options_default();
    o.chunk_size = 1000;
    let (st, e) = refused(&o);
    assert_eq!(st, TTC_E_UNSUPPORTED);
    assert!(field_text(&e.message).contains("chunk_size 1000"), "{e:?}");

    let mut tls = ttc_tls_options_default();
    tls.client_cert_file = c"/nonexistent/cert.pem".as_ptr();
    let mut o = ttc_options_default();
    o.tls = &tls;
    let (st, e) = refused(&o);
    if cfg!(feature = "tls") {
        assert_eq!(st, TTC_E_INVALID);
        assert_eq!(e.phase, ttc_phase::TTC_PHASE_TLS);
        assert!(
            field_text(&e.message).contains("needs client_key_file"),
            "{e:?}"
        );
    } else {
        assert_eq!(st, TTC_E_UNSUPPORTED);
    }
}

#[test]
fn test_join_timeout_waits_only_as_long_as_asked() {
    let (addr, _reports) = peer(Peer::Sink);
    let c = spawn(addr);
    assert_eq!(signal(c).kind, ttc_signal_kind::TTC_SIGNAL_CONNECTED);
    let mut r = empty_report();
    let start = Instant::now();
    assert_eq!(unsafe { ttc_join_timeout(c, 50, &mut r) }, TTC_TIMEOUT);
    assert!(start.elapsed() < WAIT);
    assert_eq!(unsafe { ttc_join_timeout(c, 0, &mut r) }, TTC_TIMEOUT);
    assert_eq!(
        unsafe { ttc_join_timeout(c, 0, ptr::null_mut()) },
        TTC_E_NULL
    );
    assert_eq!(
        ttc_confirm(c, 10),
        TTC_OK,
        "no effect without confirmed delivery"
    );
    assert_eq!(ttc_shutdown(c), TTC_OK);
    assert_eq!(unsafe { ttc_join_timeout(c, WAIT_MS, &mut r) }, TTC_OK);
    assert_eq!(r.reason, ttc_reason::TTC_REASON_SHUTDOWN);
    assert_eq!((r.connections, r.resent, r.lost), (1, 0, 0));
    assert!(r.attempts >= 1);
    assert_eq!(ttc_free(c), TTC_OK);
    assert_eq!(ttc_confirm(c, 10), TTC_E_HANDLE);
    assert_eq!(unsafe { ttc_join_timeout(c, 0, &mut r) }, TTC_E_HANDLE);
}
