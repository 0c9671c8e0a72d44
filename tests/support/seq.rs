//! Numbered chunks for the reconnect tests: each 1 KiB chunk carries its
//! sequence number and a filler made from it, so that the connections a
//! server saw can be put back together (overlaps removed) and checked for
//! gaps, damage and order.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
