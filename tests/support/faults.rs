//! Fault-injection helpers for tests/fault/, tests/prop_*.rs,
//! tests/netns/, tests/stay/ and tests/drop_restart.rs: a producer that
//! feeds the inbox with the pattern and counts exactly what was accepted,
//! a consumer that drains the outbox (optionally slowly) and checks what
//! arrived, and the checks scenarios end with (the accounting invariant,
//! a connect that timed out).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{eventually, fill_pattern, thread_id_named, Ending, SOON};
use ttc::{Chunk, Inbox, Outbox, RecvTimeoutError, SendTimeoutError, ShutdownReport, Signal};

/// How long a receive queue must stay unchanged to count as settled
/// ([`wait_unread_settles`]) when the sender is plain TCP.
pub const SETTLE: Duration = Duration::from_millis(100);

/// What a [`feed`] producer got into the inbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Bytes the inbox accepted (the pattern from offset 0).
    pub accepted: u64,
    /// The inbox said "full" at least once: the producer saw backpressure.
    pub saw_full: bool,
    /// The inbox closed before `total` bytes were accepted.
    pub closed: bool,
}

/// Starts a producer thread that queues `total` bytes of the stream
/// ([`periodic`]) in
/// chunks of `C`, trying without waiting first and then waiting in short
/// slices, until everything is accepted, the inbox closes, or `stop` is set.
/// It never loses count: a chunk handed back is not counted.
pub fn feed<const C: usize, const N: usize>(
    inbox: Inbox<C, N>,
    total: u64,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Fed> {
    feed_counted(inbox, total, stop, Arc::new(AtomicU64::new(0)))
}

/// Like [`feed`], also publishing the accepted count in `progress` as it
/// goes.
pub fn feed_counted<const C: usize, const N: usize>(
    inbox: Inbox<C, N>,
    total: u64,
    stop: Arc<AtomicBool>,
    progress: Arc<AtomicU64>,
) -> JoinHandle<Fed> {
    std::thread::spawn(move || {
        let mut fed = Fed::default();
        let mut buf = [0u8; C];
        while fed.accepted < total && !stop.load(Ordering::Acquire) {
            let n = (total - fed.accepted).min(C as u64) as usize;
            periodic(fed.accepted, &mut buf[..n]);
            let mut chunk = Chunk::<C>::from_slice(&buf[..n]).unwrap();
            loop {
                match inbox.try_send(chunk) {
                    Ok(()) => {
                        fed.accepted += n as u64;
                        progress.store(fed.accepted, Ordering::Release);
                        break;
                    }
                    Err(ttc::TrySendError::Closed(_)) => {
                        fed.closed = true;
                        return fed;
                    }
                    Err(ttc::TrySendError::Full(back)) => {
                        fed.saw_full = true;
                        chunk = back;
                    }
                }
                match inbox.send_timeout(chunk, Duration::from_millis(20)) {
                    Ok(()) => {
                        fed.accepted += n as u64;
                        progress.store(fed.accepted, Ordering::Release);
                        break;
                    }
                    Err(SendTimeoutError::Closed(_)) => {
                        fed.closed = true;
                        return fed;
                    }
                    Err(SendTimeoutError::Timeout(back)) => {
                        if stop.load(Ordering::Acquire) {
                            return fed;
                        }
                        chunk = back;
                    }
                }
            }
        }
        fed
    })
}

/// What a [`drain`] consumer received from the outbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    /// Bytes delivered by the outbox.
    pub delivered: u64,
    /// Every delivered byte matched the stream ([`periodic`]) at its
    /// offset.
    pub is_pattern_prefix: bool,
    /// Largest chunk seen (must be at most the chunk size).
    pub largest_chunk: usize,
}

/// How a [`drain`] consumer reads.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// After this many chunks...
    pub every: u64,
    /// ...pause this long (a slow consumer; zero for full speed).
    pub pause: Duration,
}

impl Pace {
    pub const FULL_SPEED: Pace = Pace {
        every: u64::MAX,
        pause: Duration::ZERO,
    };
}

/// Starts a consumer thread that reads the outbox until it closes (the
/// connection ended), at most `limit`, counting and checking each
/// byte against the pattern. The outbox closing is the end; running out of
/// time is a panic in the consumer (seen when it is joined).
pub fn drain<const C: usize, const N: usize>(
    outbox: Outbox<C, N>,
    pace: Pace,
    limit: Duration,
) -> JoinHandle<Drained> {
    std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        let mut d = Drained {
            is_pattern_prefix: true,
            ..Drained::default()
        };
        let mut chunks = 0u64;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match outbox.recv_timeout(left) {
                Ok(chunk) => {
                    assert!(!chunk.is_empty(), "empty chunk on the outbox");
                    d.largest_chunk = d.largest_chunk.max(chunk.len());
                    if !is_periodic_at(d.delivered, &chunk) {
                        d.is_pattern_prefix = false;
                    }
                    d.delivered += chunk.len() as u64;
                    chunks += 1;
                    if !pace.pause.is_zero() && chunks.is_multiple_of(pace.every) {
                        // Pacing a slow reader, not synchronising.
                        std::thread::sleep(pace.pause);
                    }
                }
                Err(RecvTimeoutError::Closed) => return d,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "outbox did not close in time ({} bytes delivered)",
                        d.delivered
                    )
                }
            }
        }
    })
}

/// The accounting invariant of every scenario: every byte accepted (the
/// initial message plus the inbox) was written or is counted as unsent, and
/// at most what was written is acknowledged; every byte read from the
/// socket was delivered to the outbox.
pub fn assert_accounting(report: &ShutdownReport, initial: u64, accepted: u64, delivered: u64) {
    assert_eq!(
        initial + accepted,
        report.sent + report.unsent,
        "accepted (initial {initial} + inbox {accepted}) != sent + unsent in {report}"
    );
    assert!(
        report.acked <= report.sent,
        "more acknowledged than sent in {report}"
    );
    assert_eq!(
        report.received, delivered,
        "bytes read from the socket != bytes delivered to the outbox in {report}"
    );
}

/// The final report from the signals, which must also be what `join`
/// returned; and the error signal, if any (at most one per phase).
pub fn the_error(signals: &[Signal]) -> Option<ttc::Error> {
    let errors: Vec<&ttc::Error> = signals
        .iter()
        .filter_map(|s| match s {
            Signal::Error(e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(errors.len() <= 1, "more than one error signal: {signals:?}");
    errors.first().map(|e| (*e).clone())
}

/// A connect that ran out of its `budget`: one error signal, in the
/// connect phase, `TimedOut`; the report's reason is `Error`; and it came
/// `took` after the start, no sooner than the budget (less 50 ms of timer
/// slack) and not much later.
pub fn assert_connect_timed_out(
    signals: &[Signal],
    report: &ShutdownReport,
    took: Duration,
    budget: Duration,
) {
    let err = the_error(signals).expect("a connect error");
    assert_eq!(
        (err.phase, err.kind),
        (ttc::Phase::Connect, io::ErrorKind::TimedOut),
        "{err}"
    );
    assert_eq!(report.reason, ttc::Reason::Error, "{report}");
    assert!(
        took >= budget - Duration::from_millis(50),
        "gave up after {took:?}"
    );
    assert!(took < budget + Duration::from_secs(2), "took {took:?}");
}

/// Whether the signals include `PeerClosed`.
pub fn saw_peer_closed(signals: &[Signal]) -> bool {
    signals.contains(&Signal::PeerClosed)
}

/// A server that reads everything, checking it against the stream
/// ([`periodic`]), and counts it in `progress` as it goes. Returns the count
/// and how the connection ended.
pub fn pattern_sink(mut s: &TcpStream, progress: &AtomicU64, limit: Duration) -> SinkResult {
    let deadline = Instant::now() + limit;
    let mut r = SinkResult {
        received: 0,
        is_pattern_prefix: true,
        ending: Ending::TimedOut,
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return r;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => {
                r.ending = Ending::Eof;
                return r;
            }
            Ok(n) => {
                if !is_periodic_at(r.received, &buf[..n]) {
                    r.is_pattern_prefix = false;
                }
                r.received += n as u64;
                progress.store(r.received, Ordering::Release);
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                r.ending = Ending::Reset;
                return r;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("sink read failed: {e}"),
        }
    }
}

/// What [`pattern_sink`] saw.
#[derive(Clone, Debug)]
pub struct SinkResult {
    pub received: u64,
    pub is_pattern_prefix: bool,
    pub ending: Ending,
}

/// Resets `s` (`SO_LINGER` 0, then close): the client sees a reset.
pub fn reset(s: TcpStream) {
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
}

/// Waits until the receive queue of socket `fd` holds data and has not
/// changed for `settle` (the sender stopped: its window closed, or it had
/// no more), at most `SOON`; returns the bytes unread then.
pub fn wait_unread_settles(fd: std::os::fd::RawFd, settle: Duration) -> u64 {
    let mut last = super::cli::unread(fd);
    let mut since = Instant::now();
    eventually(SOON, || {
        let now = super::cli::unread(fd);
        if now != last {
            (last, since) = (now, Instant::now());
        }
        last > 0 && since.elapsed() >= settle
    });
    last
}

/// A server on `listener` that reads `read` bytes, stops reading until
/// its receive queue settles (the client's writes back up meanwhile), then
/// resets with data unread. Its result: (bytes read, bytes still unread in
/// its receive queue at the reset).
pub fn read_then_reset(listener: TcpListener, read: u64) -> super::OneShot<(u64, u64)> {
    super::OneShot::on(listener, move |mut s| {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        while got < read {
            let want = buf.len().min((read - got) as usize);
            match s.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n as u64,
            }
        }
        let unread_at_reset = wait_unread_settles(std::os::fd::AsRawFd::as_raw_fd(&s), SETTLE);
        reset(s);
        (got, unread_at_reset)
    })
}

/// A loopback listener whose accepted sockets get a small receive buffer,
/// so a server that stops reading backs the client up after little data.
pub fn small_buffer_listener(rcvbuf: usize) -> TcpListener {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(rcvbuf).unwrap();
    sock.set_send_buffer_size(rcvbuf).unwrap();
    sock.set_reuse_address(true).unwrap();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.listen(8).unwrap();
    sock.into()
}

/// Peak resident memory (`VmHWM`) and current (`VmRSS`) in KiB.
pub fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Waits until the client is backed up: its inbox is full and the feed's
/// accepted count has not moved for 100 ms (the worker is blocked writing
/// to a server that does not read). At most `SOON`.
pub fn wait_backed_up<const C: usize, const N: usize>(
    inbox: &Inbox<C, N>,
    progress: &AtomicU64,
) -> bool {
    let mut last = (u64::MAX, Instant::now());
    eventually(SOON, || {
        let now = progress.load(Ordering::Acquire);
        // Full: no room for another chunk (the inbox counts bytes, and the
        // worker may have written part of the oldest one; with reconnect
        // each send also takes a 4-byte length).
        let full = inbox.len() + C + 4 > inbox.capacity();
        if now != last.0 || !full {
            last = (now, Instant::now());
            return false;
        }
        now > 0 && last.1.elapsed() >= Duration::from_millis(100)
    })
}

/// Waits until this process's thread named `name` is asleep in the kernel
/// (state `S`, e.g. in `poll`) on several looks in a row: the worker is
/// blocked. At most `SOON`.
pub fn wait_thread_asleep(name: &str) -> bool {
    let mut asleep_looks = 0;
    eventually(SOON, || {
        let state = thread_id_named(name).and_then(|tid| {
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(str::to_owned)
        });
        if state.as_deref() == Some("S") {
            asleep_looks += 1;
        } else {
            asleep_looks = 0;
        }
        asleep_looks >= 5
    })
}

/// Period of the [`periodic`] stream: a prime, so no chunk or buffer size
/// lines up with it, and a lost, repeated or reordered piece shows.
pub const PERIOD: usize = 65_521;

/// One period of the pattern, made once.
fn period_table() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; PERIOD];
        fill_pattern(0, &mut t);
        t
    })
}

/// Fills `buf` with the periodic stream (the pattern repeated every
/// [`PERIOD`] bytes) from `offset`: cheap to make and check with memcpy and
/// memcmp, for floods of many MiB in unoptimised tests under QEMU.
pub fn periodic(offset: u64, buf: &mut [u8]) {
    let t = period_table();
    let mut at = (offset % PERIOD as u64) as usize;
    let mut done = 0;
    while done < buf.len() {
        let n = (PERIOD - at).min(buf.len() - done);
        buf[done..done + n].copy_from_slice(&t[at..at + n]);
        done += n;
        at = 0;
    }
}

/// Whether `chunk` is the periodic stream at `offset`.
pub fn is_periodic_at(offset: u64, chunk: &[u8]) -> bool {
    let t = period_table();
    let mut at = (offset % PERIOD as u64) as usize;
    let mut done = 0;
    while done < chunk.len() {
        let n = (PERIOD - at).min(chunk.len() - done);
        if chunk[done..done + n] != t[at..at + n] {
            return false;
        }
        done += n;
        at = 0;
    }
    true
}

/// Writes `total` bytes of the periodic stream, counting in `progress`.
pub fn periodic_source(mut s: &TcpStream, total: u64, progress: &AtomicU64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(buf.len() as u64) as usize;
        periodic(sent, &mut buf[..n]);
        s.write_all(&buf[..n])?;
        sent += n as u64;
        progress.store(sent, Ordering::Release);
    }
    Ok(sent)
}
