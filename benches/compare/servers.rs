//! The servers the workloads talk to, all on 127.0.0.1 port 0.
//!
//! Echo is the library's [`ttc::peers::Peer::Echo`]. For the two bulk
//! transfers the default servers are the bench's own: a sink and a burst
//! that move the same stamped stream without touching every byte, because
//! the library's `Peer::Sink` (FNV-1a over every byte) and `Peer::Burst`
//! (pattern computed per byte) run at about the speed of the loopback
//! socket itself on a small machine, take a core from the client under
//! test and squeeze every ratio towards 1. `--lib-peers` uses the
//! library's servers instead (and checks the sink's FNV-1a hash).
//!
//! The stamped stream: 1 KiB blocks; block `k` starts with `k` as 8
//! little-endian bytes and is otherwise a fixed fill. [`Verifier`] checks
//! every stamp and the last byte of every block, so a lost, repeated,
//! reordered or cut block shows.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::mpsc::{self, Receiver};
use std::sync::OnceLock;
use std::time::Duration;

use ttc::peers::{spawn_server, Peer};

/// Block size of the stamped stream (= message size of the upload).
pub const BLOCK: usize = 1024;

/// Fill byte `i` (8..BLOCK) of every block.
fn fill(i: usize) -> u8 {
    (i as u8) ^ 0x5a
}

/// A block with stamp 0; [`stamp`] sets the stamp.
pub fn template() -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    for (i, v) in b.iter_mut().enumerate().skip(8) {
        *v = fill(i);
    }
    b
}

/// Writes block number `k` into the first 8 bytes.
pub fn stamp(block: &mut [u8], k: u64) {
    block[..8].copy_from_slice(&k.to_le_bytes());
}

/// Checks a stamped stream piece by piece, in O(stamps), not O(bytes).
#[derive(Debug, Default)]
pub struct Verifier {
    /// Bytes seen so far.
    pub offset: u64,
    /// Checked bytes that were wrong.
    pub bad: u64,
}

impl Verifier {
    pub fn feed(&mut self, piece: &[u8]) {
        let start = self.offset;
        let end = start + piece.len() as u64;
        let b = BLOCK as u64;
        let mut p = start;
        while p < end {
            let blk = p / b;
            let i = (p % b) as usize;
            let want = if i < 8 {
                blk.to_le_bytes()[i]
            } else if i < BLOCK - 1 {
                p = blk * b + b - 1;
                continue;
            } else {
                fill(i)
            };
            if piece[(p - start) as usize] != want {
                self.bad += 1;
            }
            p += 1;
        }
        self.offset = end;
    }

    pub fn ok(&self, total: u64) -> bool {
        self.bad == 0 && self.offset == total
    }
}

/// What a sink saw.
#[derive(Debug)]
pub struct SinkReport {
    pub received: u64,
    pub ok: bool,
}

/// Starts a one-connection sink. Its report arrives when the client has
/// closed its sending side.
pub fn sink(
    lib: bool,
    total: u64,
    expect_hash: Option<u64>,
) -> io::Result<(SocketAddr, Receiver<SinkReport>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let (tx, rx) = mpsc::sync_channel(1);
    if lib {
        let tx = std::sync::Mutex::new(tx);
        let addr = spawn_server(listener, Peer::Sink, move |_, r| {
            let report = match r {
                Ok(r) => SinkReport {
                    received: r.received,
                    ok: r.received == total && expect_hash.is_none_or(|h| h == r.hash),
                },
                Err(_) => SinkReport {
                    received: 0,
                    ok: false,
                },
            };
            let _ = tx.lock().map(|t| t.try_send(report));
        })?;
        return Ok((addr, rx));
    }
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("bench-sink".into())
        .spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut buf = vec![0u8; 16 * 1024];
            let mut v = Verifier::default();
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => v.feed(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(SinkReport {
                received: v.offset,
                ok: v.ok(total),
            });
        })?;
    Ok((addr, rx))
}

/// Starts a one-connection burst server: `total` bytes of the stamped
/// stream (or the library's pattern with `lib`), in 16 KiB writes like
/// `Peer::Burst`, then a half-close; it waits up to 5 s for the client to
/// close.
pub fn burst(lib: bool, total: u64) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    if lib {
        return spawn_server(listener, Peer::Burst(total), |_, _| {});
    }
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("bench-burst".into())
        .spawn(move || {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            const BLOCKS: usize = 16;
            let t = template();
            let mut buf = vec![0u8; BLOCKS * BLOCK];
            for b in buf.chunks_mut(BLOCK) {
                b.copy_from_slice(&t);
            }
            let mut sent = 0u64;
            let mut k = 0u64;
            while sent < total {
                for b in buf.chunks_mut(BLOCK) {
                    stamp(b, k);
                    k += 1;
                }
                let n = (total - sent).min(buf.len() as u64) as usize;
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
                sent += n as u64;
            }
            let _ = s.shutdown(Shutdown::Write);
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut sink = [0u8; 1024];
            while let Ok(n) = s.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
        })?;
    Ok(addr)
}

/// Checks the library's burst pattern at the first and last byte of every
/// piece (O(1) per piece).
#[derive(Debug, Default)]
pub struct PatternSampler {
    pub offset: u64,
    pub bad: u64,
}

impl PatternSampler {
    pub fn feed(&mut self, piece: &[u8]) {
        if let (Some(&a), Some(&z)) = (piece.first(), piece.last()) {
            let last = self.offset + piece.len() as u64 - 1;
            if a != ttc::peers::pattern(self.offset) || z != ttc::peers::pattern(last) {
                self.bad += 1;
            }
        }
        self.offset += piece.len() as u64;
    }
}

/// The library's echo server, one per process.
pub fn echo() -> SocketAddr {
    static ECHO: OnceLock<SocketAddr> = OnceLock::new();
    *ECHO.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        spawn_server(listener, Peer::Echo, |_, _| {}).expect("echo server")
    })
}

/// FNV-1a of the stamped upload stream of `total` bytes: what the
/// library's sink must report.
pub fn stamped_hash(total: u64) -> u64 {
    let mut block = template();
    let mut h = ttc::peers::fnv1a(b"");
    let mut left = total;
    let mut k = 0;
    while left > 0 {
        stamp(&mut block, k);
        let n = left.min(BLOCK as u64) as usize;
        h = ttc::peers::fnv1a_update(h, &block[..n]);
        left -= n as u64;
        k += 1;
    }
    h
}
