//! The host harness the integration tests share: loopback servers (echo,
//! sink, burst, fortune from `ttc::peers`; reset, silent, stalled and
//! half-close here), helpers that wait with bounded deadlines, and a way to
//! start the built `ttc` binary that also works under QEMU user-mode.
//!
//! Only 127.0.0.1 / ::1 and port 0 are used.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use ttc::peers::{fill_pattern, fnv1a, fnv1a_update, pattern, ConnectionReport, Peer};

/// Generous bound for anything that should happen "soon": long enough that
/// QEMU on a busy two-core machine never flakes, short enough that a hang
/// fails the test in seconds.
pub const SOON: Duration = Duration::from_secs(10);

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

/// A one-connection server running `serve` on its own thread; the result
/// comes back through `result()`.
pub struct OneShot<T> {
    pub addr: SocketAddr,
    rx: Receiver<T>,
}

impl<T: Send + 'static> OneShot<T> {
    pub fn spawn(serve: impl FnOnce(TcpStream) -> T + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
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

    /// The server's result, waiting at most `SOON`.
    pub fn result(&self) -> T {
        self.rx
            .recv_timeout(SOON)
            .expect("server did not finish in time")
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

/// Waits for the next signal, at most `SOON`.
pub fn next_signal(signal: &ttc::SignalOutbox) -> ttc::Signal {
    signal.recv_timeout(SOON).expect("no signal in time")
}

/// Collects every signal up to and including the final one, at most
/// `SOON` in all; asserts there is exactly one `SocketShutdown`, last, and
/// nothing after it.
pub fn all_signals(signal: &ttc::SignalOutbox) -> Vec<ttc::Signal> {
    let deadline = Instant::now() + SOON;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match signal.recv_timeout(left) {
            Ok(s) => {
                let last = s.is_final();
                out.push(s);
                if last {
                    break;
                }
            }
            Err(e) => panic!("signals ended without SocketShutdown ({e}): {out:?}"),
        }
    }
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

/// A command that starts the built `ttc` binary. Under QEMU user-mode (the
/// cargo runner sets `QEMU_LD_PREFIX`) the child is a foreign binary too,
/// so it is started through the matching `qemu-*`; on a native host or a
/// real device it runs directly. Never skips.
pub fn ttc_command() -> Command {
    let exe = env!("CARGO_BIN_EXE_ttc");
    let qemu = if std::env::var_os("QEMU_LD_PREFIX").is_some() {
        if cfg!(target_arch = "arm") {
            Some("qemu-arm")
        } else if cfg!(target_arch = "aarch64") {
            Some("qemu-aarch64")
        } else {
            None
        }
    } else {
        None
    };
    match qemu {
        Some(q) => {
            let mut c = Command::new(q);
            c.arg(exe);
            c
        }
        None => Command::new(exe),
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
    // A thread that ends while the directory is read is skipped, not an
    // end to the search.
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
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
