//! The host harness the integration tests share: loopback servers (echo,
//! sink, burst, fortune from `ttc::peers`; reset, silent, stalled and
//! half-close, full backlog here), helpers that wait with bounded
//! deadlines, and a way to start the built `ttc` binary that also works
//! under QEMU user-mode.
//!
//! Each test binary declares `mod support;` (a suite in a directory:
//! `#[path = "../support/mod.rs"] mod support;` in its `main.rs`, and
//! `use crate::support;` in its modules) and uses what it needs:
//!
//! - this file: servers, signals, outbox draining, OS-state polling,
//!   `under_qemu`, the stop bound, and running a test alone;
//! - [`cli`]: starting the built `ttc` binary and checking its output;
//! - [`faults`]: the pattern producer and consumer, the accounting check;
//! - [`netns`]: test hosts in network namespaces (root only);
//! - [`rng`]: the seedable generator of runs that replay from a seed;
//! - [`seq`]: numbered chunks, and putting a server's connections back
//!   together (the reconnect tests).
//! - [`proxy`]: danted, microsocks and tinyproxy on loopback ports.
//! - [`spawn`]: starting a child process with the start bounded (QEMU).
//! - [`tls`]: certificates (openssl CLI), `openssl s_server` and nginx.
//!
//! Only 127.0.0.1 / ::1 and port 0 are used, and the namespaces' own
//! addresses.

// Every test binary compiles all of this but uses a different part of it,
// so what one binary leaves unused is not dead code.
#![allow(dead_code)]

pub mod cli;
pub mod faults;
pub mod netns;
pub mod proxy;
pub mod rng;
pub mod seq;
pub mod spawn;
pub mod tls;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use ttc::peers::{fill_pattern, fnv1a, fnv1a_update, pattern, ConnectionReport, Peer};

/// Generous bound for anything that should happen "soon": long enough that
/// QEMU on a busy two-core machine never flakes, short enough that a hang
/// fails the test in seconds.
pub const SOON: Duration = Duration::from_secs(10);

/// True when the tests run under QEMU user-mode (the cargo runner sets
/// `QEMU_LD_PREFIX`): everything, a child process's start included, is
/// slower, and some socket options read back truncated.
pub fn under_qemu() -> bool {
    std::env::var_os("QEMU_LD_PREFIX").is_some()
}

/// How long after `Shutdown` or `Abort` the final signal may come: 50 ms on
/// the host, generously more under QEMU (emulated user code on a loaded
/// machine).
pub fn stop_bound() -> Duration {
    if under_qemu() {
        Duration::from_millis(500)
    } else {
        Duration::from_millis(50)
    }
}

/// Runs `body` in a process of its own: this test binary started again
/// (through QEMU when under it) with only the test `name` (its path in
/// the binary, e.g. `flood::test_x`) selected. For a test that measures
/// the whole process (memory, threads, descriptors), which other tests
/// running beside it would disturb. The child's output is shown; its
/// failure fails the test; it gets `limit` to finish.
pub fn alone(name: &str, limit: Duration, body: impl FnOnce()) {
    const VAR: &str = "TTC_TEST_ALONE";
    if std::env::var(VAR).as_deref() == Ok(name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("this test binary's path");
    let mut cmd = cli::command_for(exe);
    cmd.args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(VAR, name)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = spawn::spawn(&mut cmd).expect("start the test binary again");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for the test's own process"),
        Err(_) => {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) on a child we started and have not
                // reaped (the waiting thread still waits for it).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            panic!("{name}: its own process did not end within {limit:?}");
        }
    };
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name}: {}", out.status);
    // The child ran exactly this one test (a misspelt name selects none).
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("test result: ok. 1 passed"),
        "{name}: did not run in its own process"
    );
}

/// A loopback server and the reports of the connections it served.
pub struct Server {
    pub addr: SocketAddr,
    pub reports: Receiver<io::Result<ConnectionReport>>,
}

impl Server {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The report of the next connection to end, waiting at most `SOON`.
    pub fn next_report(&self) -> ConnectionReport {
        self.reports
            .recv_timeout(SOON)
            .expect("server saw no connection end in time")
            .expect("server connection failed")
    }
}

/// Starts one of the library's peers on 127.0.0.1, port 0.
pub fn start(peer: Peer) -> Server {
    start_on("127.0.0.1:0", peer)
}

/// Starts one of the library's peers on `bind` (e.g. "[::1]:0").
pub fn start_on(bind: &str, peer: Peer) -> Server {
    let listener = TcpListener::bind(bind).expect("bind loopback");
    let (tx, reports) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let addr = ttc::peers::spawn_server(listener, peer, move |_, r| {
        let _ = tx.lock().unwrap().send(r);
    })
    .expect("start server");
    Server { addr, reports }
}

/// How a connection ended, seen from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Orderly close (FIN).
    Eof,
    /// The client reset the connection.
    Reset,
    /// The server stopped waiting.
    TimedOut,
}

/// What a custom server observed on its one connection.
#[derive(Debug, Clone)]
pub struct Observed {
    pub received: Vec<u8>,
    pub ending: Ending,
}

/// A one-connection server: accepts one connection and runs `serve` on it
/// on its own thread; the result comes back through `result()`.
pub struct OneShot<T> {
    pub addr: SocketAddr,
    rx: Receiver<T>,
}

impl<T: Send + 'static> OneShot<T> {
    /// On a loopback listener, port 0.
    pub fn spawn(serve: impl FnOnce(TcpStream) -> T + Send + 'static) -> Self {
        Self::on(
            TcpListener::bind("127.0.0.1:0").expect("bind loopback"),
            serve,
        )
    }

    /// On a listener the caller prepared (socket options, backlog, another
    /// namespace).
    pub fn on(listener: TcpListener, serve: impl FnOnce(TcpStream) -> T + Send + 'static) -> Self {
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            if let Ok((s, _)) = listener.accept() {
                let _ = tx.send(serve(s));
            }
        });
        OneShot { addr, rx }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The server's result, waiting at most `limit`.
    pub fn result_within(&self, limit: Duration) -> T {
        self.rx
            .recv_timeout(limit)
            .expect("server did not finish in time")
    }

    /// The server's result, waiting at most `SOON`.
    pub fn result(&self) -> T {
        self.result_within(SOON)
    }
}

/// Reads until EOF, reset, or `limit`, keeping everything read.
pub fn observe(mut s: TcpStream, limit: Duration) -> Observed {
    let deadline = Instant::now() + limit;
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Observed {
                received,
                ending: Ending::TimedOut,
            };
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => {
                return Observed {
                    received,
                    ending: Ending::Eof,
                }
            }
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Observed {
                    received,
                    ending: Ending::Reset,
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("server read failed: {e}"),
        }
    }
}

/// Never sends; reads and reports what the client sent and how it ended.
pub fn silent(limit: Duration) -> OneShot<Observed> {
    OneShot::spawn(move |s| observe(s, limit))
}

/// Reads until the client half-closes, then keeps the connection open
/// without closing it until `release` fires (or `SOON` passes). Returns
/// what it read.
pub fn hold_after_eof(release: Receiver<()>) -> OneShot<Vec<u8>> {
    OneShot::spawn(move |mut s| {
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = release.recv_timeout(SOON);
        got
    })
}

/// Reads until the client half-closes, then replies `received N` and
/// closes: what arrives after the client's half-close. Returns what it
/// read.
pub fn reply_after_eof() -> OneShot<Vec<u8>> {
    OneShot::spawn(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(format!("received {}\n", got.len()).as_bytes())
            .unwrap();
        got
    })
}

/// Neither reads nor sends: holds the connection for `hold`, so the
/// client's writes back up. Reports how much it could read afterwards.
pub fn stalled(hold: Duration, release: Receiver<()>) -> OneShot<Observed> {
    OneShot::spawn(move |s| {
        let _ = release.recv_timeout(hold);
        observe(s, Duration::from_secs(2))
    })
}

/// Reads `before` bytes (or until EOF), then resets the connection
/// (`SO_LINGER` 0).
pub fn reset_after(before: usize) -> OneShot<usize> {
    OneShot::spawn(move |mut s| {
        let mut buf = vec![0u8; before];
        let mut got = 0;
        while got < before {
            match s.read(&mut buf[got..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s);
        got
    })
}

/// Sends `reply`, half-closes, then keeps reading until the client closes.
pub fn half_close(reply: &'static [u8]) -> OneShot<Observed> {
    OneShot::spawn(move |mut s| {
        s.write_all(reply).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        observe(s, SOON)
    })
}

/// A port on 127.0.0.1 that refuses connections (bound then closed).
pub fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A loopback listener on `port` (SO_REUSEADDR: a server that comes back
/// on the port it had, or on one `refused_port` gave).
pub fn listen_on(port: u16) -> TcpListener {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_reuse_address(true).unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    sock.bind(&addr.into()).unwrap();
    sock.listen(4).unwrap();
    sock.into()
}

/// A loopback listener with backlog 0 that never accepts, with its queue
/// already full: the kernel drops new SYNs, so a connect to it hangs until
/// the client's timeout. Keep it alive for the test.
pub struct FullBacklog {
    _listener: socket2::Socket,
    _fillers: Vec<TcpStream>,
    pub addr: SocketAddr,
}

impl FullBacklog {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

pub fn full_backlog() -> FullBacklog {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.listen(0).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    // Connect until one attempt hangs: the queue is full from then on.
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    assert!(
        !fillers.is_empty() && fillers.len() < 16,
        "backlog never filled"
    );
    FullBacklog {
        _listener: sock,
        _fillers: fillers,
        addr,
    }
}

/// Waits until a `SYN_SENT` socket to `port` exists in this thread's
/// network namespace (a client is inside a connect attempt), at most
/// `SOON`.
pub fn wait_syn_sent(port: u16) -> bool {
    eventually(SOON, || syn_sent_to(port))
}

fn syn_sent_to(port: u16) -> bool {
    let hex_port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|path| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // rem_address is field 2, st field 3; 02 is SYN_SENT.
                f.len() > 3 && f[2].ends_with(&hex_port) && f[3] == "02"
            })
    })
}

/// Waits for the next signal, at most `SOON`.
pub fn next_signal(signal: &ttc::SignalOutbox) -> ttc::Signal {
    signal.recv_timeout(SOON).expect("no signal in time")
}

/// Collects every signal up to and including the final one, each with the
/// time it was taken, for at most `limit` in all; panics if the outbox
/// closes or the time runs out before the final signal.
pub fn signals_until_final(
    signal: &ttc::SignalOutbox,
    limit: Duration,
) -> Vec<(Instant, ttc::Signal)> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match signal.recv_timeout(left) {
            Ok(s) => {
                let last = s.is_final();
                out.push((Instant::now(), s));
                if last {
                    return out;
                }
            }
            Err(e) => panic!("signals ended without SocketShutdown ({e}): {out:?}"),
        }
    }
}

/// The final report of signals from [`signals_until_final`].
pub fn final_of(signals: &[(Instant, ttc::Signal)]) -> ttc::ShutdownReport {
    match signals.last() {
        Some((_, ttc::Signal::SocketShutdown(r))) => r.clone(),
        other => panic!("last signal is not SocketShutdown: {other:?}"),
    }
}

/// How many of the signals from [`signals_until_final`] `f` picks.
pub fn count_signals(
    signals: &[(Instant, ttc::Signal)],
    f: impl Fn(&ttc::Signal) -> bool,
) -> usize {
    signals.iter().filter(|(_, s)| f(s)).count()
}

/// Collects every signal up to and including the final one, at most
/// `SOON` in all; asserts there is exactly one `SocketShutdown`, last, and
/// nothing after it.
pub fn all_signals(signal: &ttc::SignalOutbox) -> Vec<ttc::Signal> {
    let out: Vec<ttc::Signal> = signals_until_final(signal, SOON)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        signal.recv_timeout(Duration::from_millis(50)),
        Err(ttc::RecvTimeoutError::Closed),
        "nothing may follow SocketShutdown"
    );
    assert_eq!(out.iter().filter(|s| s.is_final()).count(), 1);
    out
}

/// The final report from a list of signals.
pub fn final_report(signals: &[ttc::Signal]) -> ttc::ShutdownReport {
    match signals.last() {
        Some(ttc::Signal::SocketShutdown(r)) => r.clone(),
        other => panic!("last signal is not SocketShutdown: {other:?}"),
    }
}

/// Reads the outbox until it closes (the connection ended), at most `SOON`.
pub fn drain_outbox<const C: usize, const N: usize>(outbox: &ttc::Outbox<C, N>) -> Vec<u8> {
    drain_outbox_within(outbox, SOON)
}

/// Reads the outbox until it closes, at most `limit`.
pub fn drain_outbox_within<const C: usize, const N: usize>(
    outbox: &ttc::Outbox<C, N>,
    limit: Duration,
) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match outbox.recv_timeout(left) {
            Ok(chunk) => {
                assert!(chunk.len() <= C && !chunk.is_empty());
                got.extend_from_slice(&chunk);
            }
            Err(ttc::RecvTimeoutError::Closed) => return got,
            Err(ttc::RecvTimeoutError::Timeout) => {
                panic!("outbox did not close in time ({} bytes so far)", got.len())
            }
        }
    }
}

/// Counts entries of a /proc/self directory (open fds, threads).
pub fn count_proc_entries(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Finds the Linux thread id of this process's thread named `name` (first
/// 15 bytes, as the kernel keeps it).
pub fn thread_id_named(name: &str) -> Option<String> {
    let want = &name.as_bytes()[..name.len().min(15)];
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // Other tests' threads come and go while we look: one that ended
        // after the listing has no comm any more, and is not ours.
        let Ok(comm) = std::fs::read(entry.path().join("comm")) else {
            continue;
        };
        if comm.strip_suffix(b"\n").unwrap_or(&comm) == want {
            return Some(entry.file_name().to_string_lossy().into_owned());
        }
    }
    None
}

/// The Linux thread id of the calling thread (from `/proc/thread-self`,
/// which QEMU user-mode passes through: guest threads are host threads).
pub fn current_thread_id() -> String {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    let tid = link.file_name().expect("PID/task/TID");
    tid.to_string_lossy().into_owned()
}

/// (voluntary context switches, user+system CPU ticks) of thread `tid`.
/// Panics if they cannot be read: a test that compares them must never
/// pass on zeros it did not measure.
pub fn thread_activity(tid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
        .unwrap_or_else(|e| panic!("thread {tid}: status: {e}"));
    let switches = status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("thread {tid}: no voluntary_ctxt_switches"));
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
        .unwrap_or_else(|e| panic!("thread {tid}: stat: {e}"));
    // Fields after the ")" that ends the command name: utime is the 12th,
    // stime the 13th.
    let field =
        |rest: &str, i: usize| -> Option<u64> { rest.split_whitespace().nth(i)?.parse().ok() };
    let ticks = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| Some(field(rest, 11)? + field(rest, 12)?))
        .unwrap_or_else(|| panic!("thread {tid}: unreadable stat {stat:?}"));
    (switches, ticks)
}

/// Polls `cond` until it holds or `limit` passes. For OS state that has no
/// event to wait on (a thread's exit, an fd count); returns whether it held.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        // Pacing a poll of OS state, not synchronising with our own code.
        std::thread::sleep(Duration::from_millis(2));
    }
}
