//! Numbered chunks for the reconnect tests: each 1 KiB chunk carries its
//! sequence number and a filler made from it, so that the connections a
//! server saw can be put back together (overlaps removed) and checked for
//! gaps, damage and order.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ttc::Control;

use super::faults::{reset, wait_unread_settles};
use super::{listen_on, SOON};

/// Bytes in one numbered chunk.
pub const SEQ_CHUNK: usize = 1024;

/// Chunk `n`: its number (8 bytes, big-endian), then a filler made from it.
pub fn seq_chunk(n: u64) -> [u8; SEQ_CHUNK] {
    let mut c = [0u8; SEQ_CHUNK];
    c[..8].copy_from_slice(&n.to_be_bytes());
    for (i, b) in c[8..].iter_mut().enumerate() {
        *b = (n as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    c
}

/// Chunks `0..count` back to back.
pub fn seq_stream(count: u64) -> Vec<u8> {
    (0..count).flat_map(seq_chunk).collect()
}

/// The number of a whole chunk, if it is undamaged.
pub fn seq_of(chunk: &[u8]) -> Option<u64> {
    let n = u64::from_be_bytes(chunk.get(..8)?.try_into().ok()?);
    (chunk == seq_chunk(n)).then_some(n)
}

/// What the server's connections, put back together, hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reassembled {
    /// Chunks `0..chunks` all arrived, in order, with no gap.
    pub chunks: u64,
    /// Chunks that arrived again on a later connection, at its start.
    pub duplicates: u64,
    /// The most chunks any one reconnect sent again.
    pub largest_overlap: u64,
    /// Connections that carried at least one whole chunk.
    pub connections: usize,
}

/// Puts the byte streams of a server's connections (in the order it
/// accepted them) back together. Each must start with `initial` (or hold
/// a part of it, if it died that early), then numbered chunks in order; a
/// trailing part of a chunk is what a connection lost when it died. A
/// connection may start again at an earlier chunk (the overlap is
/// removed), never after a gap.
pub fn reassemble(connections: &[Vec<u8>], initial: &[u8]) -> Result<Reassembled, String> {
    let mut r = Reassembled::default();
    for (i, conn) in connections.iter().enumerate() {
        if conn.len() < initial.len() {
            if !initial.starts_with(conn) {
                return Err(format!(
                    "connection {i} does not start with the initial message"
                ));
            }
            continue;
        }
        if !conn.starts_with(initial) {
            return Err(format!(
                "connection {i} does not start with the initial message"
            ));
        }
        let mut at: Option<u64> = None;
        for chunk in conn[initial.len()..].chunks_exact(SEQ_CHUNK) {
            let n = seq_of(chunk).ok_or(format!("connection {i}: a damaged chunk"))?;
            match at {
                None => {
                    if n > r.chunks {
                        return Err(format!(
                            "connection {i} starts at chunk {n}: chunks {}..{n} are missing",
                            r.chunks
                        ));
                    }
                    let overlap = r.chunks - n;
                    r.duplicates += overlap;
                    r.largest_overlap = r.largest_overlap.max(overlap);
                    r.connections += 1;
                }
                Some(prev) if n != prev + 1 => {
                    return Err(format!("connection {i}: chunk {n} after chunk {prev}"));
                }
                Some(_) => {}
            }
            at = Some(n);
            r.chunks = r.chunks.max(n + 1);
        }
    }
    Ok(r)
}

/// Reads `s` to its end (or a reset) into `into`, so that what arrived is
/// there even if the connection never ends; returns how it ended.
pub fn record(mut s: TcpStream, into: Arc<Mutex<Vec<u8>>>) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Checks the reassembly itself on made-up connections.
pub fn self_check() {
    let c = |range: std::ops::Range<u64>| -> Vec<u8> { range.flat_map(seq_chunk).collect() };
    let mut first = c(0..5);
    first.extend_from_slice(&seq_chunk(5)[..100]);
    let r = reassemble(&[first, c(3..9)], b"").unwrap();
    assert_eq!((r.chunks, r.duplicates, r.largest_overlap), (9, 2, 2));
    assert!(
        reassemble(&[c(0..5), c(6..9)], b"").is_err(),
        "gap not seen"
    );
    let mut damaged = c(0..3);
    damaged[1500] ^= 1;
    assert!(reassemble(&[damaged], b"").is_err(), "damage not seen");
    let mut with_hello = b"HI".to_vec();
    with_hello.extend(c(0..2));
    assert_eq!(
        reassemble(&[with_hello, b"H".to_vec()], b"HI")
            .unwrap()
            .chunks,
        2
    );
}

/// A server that accepts on `listener` until told to stop and records each
/// connection's bytes, in accept order.
pub struct Recorder {
    conns: Arc<Mutex<Vec<Stream>>>,
    stop: Arc<AtomicBool>,
    pub addr: SocketAddr,
}

/// One connection's bytes, as they arrive.
type Stream = Arc<Mutex<Vec<u8>>>;

impl Recorder {
    pub fn on(listener: TcpListener) -> Recorder {
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let conns: Arc<Mutex<Vec<Stream>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (c, st) = (conns.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let into = Arc::new(Mutex::new(Vec::new()));
                        c.lock().unwrap().push(into.clone());
                        std::thread::spawn(move || record(s, into));
                    }
                    // Pacing the accept loop of a non-blocking listener.
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Recorder { conns, stop, addr }
    }

    /// Bytes received so far, all connections.
    pub fn received(&self) -> u64 {
        let conns = self.conns.lock().unwrap();
        conns.iter().map(|c| c.lock().unwrap().len() as u64).sum()
    }

    /// Each connection's bytes so far, in accept order.
    pub fn streams(&self) -> Vec<Vec<u8>> {
        let conns = self.conns.lock().unwrap();
        conns.iter().map(|c| c.lock().unwrap().clone()).collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Feeds chunks `0..total` into the client's inbox on a thread (at most
/// `rate` chunks a second), then `ProducerFinished`; returns how many went
/// in (fewer when a send found the inbox closed or full for `6 * SOON`).
pub fn feed_chunks(client: &ttc::Client, total: u64, rate: Option<u64>) -> JoinHandle<u64> {
    let inbox = client.inbox().clone();
    let control = client.control().clone();
    std::thread::spawn(move || {
        let t0 = Instant::now();
        for n in 0..total {
            if let Some(rate) = rate {
                let due = t0 + Duration::from_nanos(n * 1_000_000_000 / rate);
                let now = Instant::now();
                if due > now {
                    // Pacing the producer, not synchronising.
                    std::thread::sleep(due - now);
                }
            }
            let chunk = ttc::Chunk::from_slice(&seq_chunk(n)).unwrap();
            if inbox.send_timeout(chunk, 6 * SOON).is_err() {
                return n;
            }
        }
        control.send(Control::ProducerFinished);
        total
    })
}

/// The application's side of `Delivery::Confirmed` against a server that
/// answers with receipts (`"ack N\n"`, N chunks in order): reads them
/// from the outbox on a thread and confirms `N * SEQ_CHUNK` bytes each
/// time; returns the last N once the outbox closes.
pub fn confirm_receipts(client: &ttc::Client) -> JoinHandle<u64> {
    let outbox = client.outbox().clone();
    let inbox = client.inbox().clone();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let mut confirmed = 0;
        while let Ok(chunk) = outbox.recv() {
            text.extend_from_slice(&chunk);
            while let Some(end) = text.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = text.drain(..=end).collect();
                let n: u64 = std::str::from_utf8(&line[4..line.len() - 1])
                    .unwrap()
                    .parse()
                    .unwrap();
                confirmed = n;
                inbox.confirm(n * SEQ_CHUNK as u64);
            }
        }
        confirmed
    })
}

/// A connection that a [`restarting_server`] round serves: plain TCP, or
/// TLS over it.
pub trait RoundStream: Read + Write {
    /// The TCP socket under it.
    fn tcp(&self) -> &TcpStream;
    /// The TCP socket, to reset it.
    fn into_tcp(self) -> TcpStream;
    /// Ends the last round's stream in order (TLS: `close_notify`).
    fn finish(&mut self) {}
}

impl RoundStream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
    fn into_tcp(self) -> TcpStream {
        self
    }
}

/// Accepts one plain connection, with a read timeout of `3 * SOON`.
pub fn accept_plain(listener: &TcpListener) -> TcpStream {
    let (s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(3 * SOON)).unwrap();
    s
}

/// A server on one port that stops and starts again: each of `rounds`
/// rounds listens on `port`, takes one connection (`accept`), closes the
/// listener, and processes `per_round` numbered chunks after `initial`
/// with a receipt every 16 ([`receipt_round`]); then it stops reading,
/// waits until its receive queue settles (the client backs up) and resets
/// with data unread, and stays away a moment. The last round reads to the
/// end. Returns each round's bytes and the unread bytes at each reset.
pub fn restarting_server<S: RoundStream + 'static>(
    port: u16,
    rounds: usize,
    per_round: u64,
    initial: &'static [u8],
    settle: Duration,
    accept: impl Fn(&TcpListener) -> S + Send + 'static,
) -> JoinHandle<(Vec<Vec<u8>>, Vec<u64>)> {
    std::thread::spawn(move || {
        let mut streams = Vec::new();
        let mut unread_at_reset = Vec::new();
        let mut processed = 0u64;
        for round in 0..rounds {
            let listener = listen_on(port);
            let mut s = accept(&listener);
            drop(listener);
            let last = round + 1 == rounds;
            let got = receipt_round(&mut s, initial, per_round, last, &mut processed);
            streams.push(got);
            if last {
                s.finish();
                break;
            }
            let fd = std::os::fd::AsRawFd::as_raw_fd(s.tcp());
            unread_at_reset.push(wait_unread_settles(fd, settle));
            reset(s.into_tcp());
            // Away for a moment: connection attempts are refused (a fault
            // of a set length, not a wait for anything).
            std::thread::sleep(Duration::from_millis(150));
        }
        (streams, unread_at_reset)
    })
}

/// One connection of a server that answers with receipts: reads what the
/// client sends (`initial`, then numbered chunks), counts the chunks that
/// come in order in `processed` (a repeated earlier one is a duplicate,
/// ignored) and writes `"ack N\n"` every 16 of them. It stops after
/// `per_round` chunks, or with `last` at the end of the stream (and then
/// writes a final receipt). Returns every byte it read.
pub fn receipt_round(
    s: &mut (impl Read + Write),
    initial: &[u8],
    per_round: u64,
    last: bool,
    processed: &mut u64,
) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut round_chunks = 0u64;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        got.extend_from_slice(&buf[..n]);
        // Whole chunks after the initial message.
        let body = got.get(initial.len()..).unwrap_or(&[]);
        let whole = (body.len() / SEQ_CHUNK) as u64;
        while round_chunks < whole {
            let at = round_chunks as usize * SEQ_CHUNK;
            if seq_of(&body[at..at + SEQ_CHUNK]) == Some(*processed) {
                *processed += 1;
                if processed.is_multiple_of(16) {
                    let _ = s.write_all(format!("ack {processed}\n").as_bytes());
                }
            }
            round_chunks += 1;
            if !last && round_chunks == per_round {
                break;
            }
        }
        if !last && round_chunks >= per_round {
            break;
        }
    }
    if last {
        let _ = s.write_all(format!("ack {processed}\n").as_bytes());
    }
    got
}

/// The accounting after a server that restarted three times with
/// `Delivery::Confirmed`: everything accepted (`initial` and chunks
/// `0..total`) acknowledged once, nothing unsent or lost; every byte a
/// server saw was sent (the rest was lost with a reset connection); resent
/// covers the initial message on each of the three new connections and
/// every chunk that arrived twice, and is all that `sent` has beyond what
/// was accepted.
pub fn assert_restart_accounting(
    report: &ttc::ShutdownReport,
    streams: &[Vec<u8>],
    r: &Reassembled,
    initial: &[u8],
    total: u64,
) {
    let accepted = initial.len() as u64 + total * SEQ_CHUNK as u64;
    assert_eq!(report.acked, accepted, "{report}");
    assert_eq!((report.unsent, report.lost, report.unacked()), (0, 0, 0));
    let seen: u64 = streams.iter().map(|s| s.len() as u64).sum();
    assert!(seen <= report.sent, "{report}");
    let again = 3 * initial.len() as u64 + r.duplicates * SEQ_CHUNK as u64;
    assert!(report.resent >= again, "{report} {r:?}");
    assert_eq!(report.sent - report.resent, accepted, "{report}");
}
