//! Workload 9, reconnect: what staying connected costs ttc, against ttc
//! without it, in the same run (the other peers have no reconnect; their
//! cells stay empty).
//!
//! - `kept_vs_plain`: upload throughput with `Config::reconnect` on (the
//!   kept window is the write buffer, `SO_SNDBUF` capped to it, the
//!   acknowledgements sampled every 64 KiB or 10 ms and before every
//!   sleep) over the same upload without, best of `bulk_reps` runs each,
//!   alternating. Goal >= 0.9x.
//! - `acked_cpu_ms_per_mib`: the process's CPU per MiB with reconnect
//!   minus without: the cost of the kept window and the acknowledgement
//!   bookkeeping, net of what the window's larger writes save.
//!   `sample_us` is one sample of what the server acknowledged
//!   (`getsockopt(TCP_INFO)` on a loopback connection, the call the worker
//!   makes), and `samples_ms_per_mib` that times the 16 samples per MiB a
//!   busy upload takes (one per 64 KiB written).
//! - `window_rss_kib`: resident memory of a client with reconnect after an
//!   upload (the window's pages touched) minus that of one without.
//! - `back_to_data_ms`: the server goes away (resets the connection, stops
//!   listening) and comes back at a random moment of the client's backoff
//!   wait (a fixed 100 ms here, no jitter); from the moment it listens
//!   again to the first byte on the new connection. `over_delay_ms` is
//!   that minus the wait, at most 1 RTT + 50 ms by the goal: the client
//!   connects when its wait ends, not later.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ttc::{Backoff, Chunk, Config, Control, Jitter, Signal};

use crate::conn::PeerKind;
use crate::procfs;
use crate::servers::{self, BLOCK};
use crate::stats::mb_per_s;
use crate::workloads::{Better, Metric, Outcome, Sizes};

fn m(key: &str, unit: &'static str, better: Better, value: f64) -> Metric {
    Metric {
        key: key.into(),
        unit,
        better,
        value,
    }
}

/// The backoff wait of the come-back trials.
const WAIT: Duration = Duration::from_millis(100);

/// One upload of `total` stamped bytes to a sink; returns MB/s, CPU ms per
/// MiB and the RSS the client added (KiB, measured before it ends).
fn upload(total: u64, reconnect: bool) -> Result<(f64, f64, f64), String> {
    let (addr, done) = servers::sink(false, total, None).map_err(|e| e.to_string())?;
    let rss0 = procfs::rss_kib().unwrap_or(0);
    let u0 = procfs::usage();
    let t0 = Instant::now();
    let mut config = Config::new(addr.ip().to_string(), addr.port()).thread_name("bench-ttc-w");
    if reconnect {
        config = config.reconnect(Backoff::default());
    }
    let client = config.spawn().map_err(|e| e.to_string())?;
    let mut block = servers::template();
    for k in 0..total / BLOCK as u64 {
        servers::stamp(&mut block, k);
        let chunk = Chunk::from_slice(&block).map_err(|e| e.to_string())?;
        client
            .inbox()
            .send(chunk)
            .map_err(|_| "inbox closed".to_string())?;
    }
    let rss1 = procfs::rss_kib().unwrap_or(0);
    client.control().send(Control::ProducerFinished);
    let report = done
        .recv_timeout(Duration::from_secs(120))
        .map_err(|e| format!("sink report: {e}"))?;
    let elapsed = t0.elapsed();
    let u1 = procfs::usage();
    let end = client.join();
    if !report.ok || end.acked != total {
        return Err(format!(
            "sink received {} of {total} bytes; client: {end}",
            report.received
        ));
    }
    let mib = total as f64 / (1 << 20) as f64;
    Ok((
        mb_per_s(total, elapsed),
        (u1.cpu - u0.cpu).as_secs_f64() * 1e3 / mib,
        rss1.saturating_sub(rss0) as f64,
    ))
}

/// One come-back trial: returns the time from the server listening again
/// to the first byte on the new connection.
fn come_back(trial: u64) -> Result<Duration, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let backoff = Backoff::default()
        .initial(WAIT)
        .max(WAIT)
        .factor(1)
        .jitter(Jitter::Off);
    let client = Config::new("127.0.0.1", addr.port())
        .reconnect(backoff)
        .spawn()
        .map_err(|e| e.to_string())?;
    // A chunk every millisecond: data flows whenever there is a connection.
    let inbox = client.inbox().clone();
    let feeder = thread::spawn(move || {
        let chunk = Chunk::from_slice(&[7u8; 64]).unwrap_or_default();
        while inbox.send(chunk.clone()).is_ok() {
            thread::sleep(Duration::from_millis(1));
        }
    });
    let (s, _) = listener.accept().map_err(|e| e.to_string())?;
    drop(listener);
    // Going away: a reset, nobody listening.
    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
    drop(s);
    // Wait for the first wait to start, then come back at a random point
    // of it (spread over the trials).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.signal().recv_timeout(Duration::from_secs(10)) {
            Ok(Signal::Reconnecting { .. }) => break,
            Ok(_) if Instant::now() < deadline => {}
            other => return Err(format!("no reconnect: {other:?}")),
        }
    }
    thread::sleep(WAIT * (trial % 10) as u32 / 10);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
        .map_err(|e| e.to_string())?;
    sock.set_reuse_address(true).map_err(|e| e.to_string())?;
    sock.bind(&addr.into()).map_err(|e| e.to_string())?;
    sock.listen(4).map_err(|e| e.to_string())?;
    let back = Instant::now();
    let listener: TcpListener = sock.into();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut b = [0u8; 64];
            if matches!(s.read(&mut b), Ok(n) if n > 0) {
                let _ = tx.send(Instant::now());
            }
        }
    });
    let data = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|e| format!("no data after coming back: {e}"))?;
    client.control().send(Control::Shutdown);
    let _ = client.join();
    let _ = feeder.join();
    Ok(data.saturating_duration_since(back))
}

/// The time of one `getsockopt(TCP_INFO)` on a connected loopback socket.
#[allow(unsafe_code)]
fn sample_cost() -> Result<Duration, String> {
    use std::os::fd::AsRawFd;
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let c = std::net::TcpStream::connect(l.local_addr().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let _s = l.accept().map_err(|e| e.to_string())?;
    let fd = c.as_raw_fd();
    const N: u32 = 20_000;
    let mut buf = [0u64; 48];
    let t0 = Instant::now();
    for _ in 0..N {
        let mut len = std::mem::size_of_val(&buf) as libc::socklen_t;
        // SAFETY: `buf` is live and `len` says how long it is.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                buf.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
    }
    Ok(t0.elapsed() / N)
}

pub fn reconnect(peer: PeerKind, sz: &Sizes) -> Outcome {
    if peer != PeerKind::Ttc {
        return Ok(Vec::new());
    }
    let total = sz.bulk / BLOCK as u64 * BLOCK as u64;
    let (mut plain, mut kept) = ((0.0f64, f64::MAX, 0.0f64), (0.0f64, f64::MAX, 0.0f64));
    for _ in 0..sz.bulk_reps {
        for on in [false, true] {
            let (mbps, cpu, rss) = upload(total, on)?;
            let best = if on { &mut kept } else { &mut plain };
            best.0 = best.0.max(mbps);
            best.1 = best.1.min(cpu);
            best.2 = best.2.max(rss);
        }
    }
    let mut waits = Vec::with_capacity(sz.reconnects);
    for trial in 0..sz.reconnects as u64 {
        waits.push(come_back(trial)?);
    }
    waits.sort_unstable();
    let sample = sample_cost()?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let worst = waits.last().copied().unwrap_or_default();
    let p50 = waits.get(waits.len() / 2).copied().unwrap_or_default();
    Ok(vec![
        m("plain_mbps", "MB/s", Better::Higher, plain.0),
        m("kept_mbps", "MB/s", Better::Higher, kept.0),
        m("kept_vs_plain", "x", Better::Higher, kept.0 / plain.0),
        m("plain_cpu_ms_per_mib", "ms/MiB", Better::Lower, plain.1),
        m("kept_cpu_ms_per_mib", "ms/MiB", Better::Lower, kept.1),
        m(
            "acked_cpu_ms_per_mib",
            "ms/MiB",
            Better::Lower,
            kept.1 - plain.1,
        ),
        m("sample_us", "us", Better::Lower, sample.as_secs_f64() * 1e6),
        m(
            "samples_ms_per_mib",
            "ms/MiB",
            Better::Lower,
            sample.as_secs_f64() * 1e3 * 16.0,
        ),
        m("window_rss_kib", "KiB", Better::Lower, kept.2 - plain.2),
        m("back_to_data_p50_ms", "ms", Better::Lower, ms(p50)),
        m("back_to_data_max_ms", "ms", Better::Lower, ms(worst)),
        m(
            "over_delay_max_ms",
            "ms",
            Better::Lower,
            ms(worst.saturating_sub(WAIT)),
        ),
    ])
}
