//! The workloads, each generic over the client under test.

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use crate::conn::{Conn, Opts};
use crate::procfs;
use crate::servers::{self, PatternSampler, Verifier, BLOCK};
use crate::stats::{mb_per_s, percentile_us};

/// Sizes and durations of one run.
#[derive(Clone, Debug)]
pub struct Sizes {
    pub bulk: u64,
    pub bulk_reps: usize,
    pub round_trips: usize,
    pub sparse: Duration,
    pub sparse_every: Duration,
    pub idle: Duration,
    pub alloc_msgs: usize,
    pub scale: Vec<usize>,
    pub scale_rounds: usize,
    pub shutdowns: usize,
    /// Loopback connects timed per peer (connect workload).
    pub connects: usize,
    /// Connects through a black hole, and stops during one (connect).
    pub connect_reps: usize,
    /// Come-back trials of the reconnect workload.
    pub reconnects: usize,
    pub lib_peers: bool,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            bulk: 256 << 20,
            bulk_reps: 3,
            round_trips: 20_000,
            sparse: Duration::from_secs(5),
            sparse_every: Duration::from_millis(20),
            idle: Duration::from_secs(5),
            alloc_msgs: 10_000,
            scale: vec![1, 100, 1000],
            scale_rounds: 4,
            shutdowns: 200,
            connects: 5000,
            connect_reps: 10,
            reconnects: 30,
            lib_peers: false,
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            bulk: 8 << 20,
            bulk_reps: 1,
            round_trips: 2_000,
            sparse: Duration::from_secs(1),
            sparse_every: Duration::from_millis(20),
            idle: Duration::from_secs(1),
            alloc_msgs: 1_000,
            scale: vec![1, 20, 100],
            scale_rounds: 2,
            shutdowns: 20,
            connects: 1000,
            connect_reps: 3,
            reconnects: 10,
            lib_peers: false,
        }
    }

    /// Tiny: every workload once, to check it runs and moves the right
    /// bytes (the test-mode run, smoke.rs), measuring nothing.
    pub fn smoke() -> Sizes {
        Sizes {
            bulk: 256 << 10,
            bulk_reps: 1,
            round_trips: 100,
            sparse: Duration::from_millis(100),
            sparse_every: Duration::from_millis(20),
            idle: Duration::from_millis(100),
            alloc_msgs: 100,
            scale: vec![1, 4],
            scale_rounds: 2,
            shutdowns: 3,
            connects: 20,
            connect_reps: 1,
            reconnects: 2,
            lib_peers: false,
        }
    }
}

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured figure.
#[derive(Clone, Debug)]
pub struct Metric {
    pub key: String,
    pub unit: &'static str,
    pub better: Better,
    pub value: f64,
}

fn m(key: impl Into<String>, unit: &'static str, better: Better, value: f64) -> Metric {
    Metric {
        key: key.into(),
        unit,
        better,
        value,
    }
}

pub type Outcome = Result<Vec<Metric>, String>;

/// How long any single step may take before the run calls it a failure.
const STEP: Duration = Duration::from_secs(120);

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// CPU and context switches of the whole process per MiB moved.
fn per_mib(u0: procfs::Usage, u1: procfs::Usage, bytes: u64) -> [Metric; 2] {
    let mib = bytes as f64 / (1 << 20) as f64;
    [
        m(
            "cpu_ms_per_mib",
            "ms/MiB",
            Better::Lower,
            (u1.cpu - u0.cpu).as_secs_f64() * 1e3 / mib,
        ),
        m(
            "csw_per_mib",
            "csw/MiB",
            Better::Lower,
            (u1.voluntary - u0.voluntary) as f64 / mib,
        ),
    ]
}

/// Workload 1, upload: `bulk` bytes in 1 KiB messages to a sink.
pub fn upload<C: Conn>(sz: &Sizes) -> Outcome {
    let total = sz.bulk / BLOCK as u64 * BLOCK as u64;
    let hash = sz.lib_peers.then(|| servers::stamped_hash(total));
    let (addr, done) = servers::sink(sz.lib_peers, total, hash).map_err(|e| err("sink", e))?;
    let u0 = procfs::usage();
    let t0 = Instant::now();
    let mut c = C::connect(addr, &Opts::default()).map_err(|e| err("connect", e))?;
    let mut block = servers::template();
    for k in 0..total / BLOCK as u64 {
        servers::stamp(&mut block, k);
        c.send(&block).map_err(|e| err("send", e))?;
    }
    c.finish();
    let report = done.recv_timeout(STEP).map_err(|e| err("sink report", e));
    let elapsed = t0.elapsed();
    let u1 = procfs::usage();
    c.shutdown();
    let report = report?;
    if !report.ok {
        return Err(format!(
            "sink received {} of {total} bytes, or a wrong block",
            report.received
        ));
    }
    let mut out = vec![m("mbps", "MB/s", Better::Higher, mb_per_s(total, elapsed))];
    out.extend(per_mib(u0, u1, total));
    Ok(out)
}

/// Workload 2, download: `bulk` bytes from a burst server through the outbox.
pub fn download<C: Conn>(sz: &Sizes) -> Outcome {
    let total = sz.bulk / BLOCK as u64 * BLOCK as u64;
    let addr = servers::burst(sz.lib_peers, total).map_err(|e| err("burst", e))?;
    let mut stamped = Verifier::default();
    let mut sampled = PatternSampler::default();
    let lib = sz.lib_peers;
    let u0 = procfs::usage();
    let t0 = Instant::now();
    let mut c = C::connect(addr, &Opts::default()).map_err(|e| err("connect", e))?;
    loop {
        let n = c.recv(|p| {
            if lib {
                sampled.feed(p)
            } else {
                stamped.feed(p)
            }
        });
        if n == 0 {
            break;
        }
    }
    let elapsed = t0.elapsed();
    let u1 = procfs::usage();
    c.shutdown();
    let (got, bad) = if lib {
        (sampled.offset, sampled.bad)
    } else {
        (stamped.offset, stamped.bad)
    };
    if got != total || bad != 0 {
        return Err(format!("received {got} of {total} bytes, {bad} wrong"));
    }
    let mut out = vec![m("mbps", "MB/s", Better::Higher, mb_per_s(total, elapsed))];
    out.extend(per_mib(u0, u1, total));
    Ok(out)
}

/// Sends `req` and waits for its echo, checking it. Allocates nothing.
fn round_trip<C: Conn>(c: &mut C, req: &[u8], echo: &mut [u8]) -> Result<(), String> {
    c.send(req).map_err(|e| err("send", e))?;
    let mut got = 0;
    while got < req.len() {
        let at = got;
        let n = c.recv(|p| {
            let end = (at + p.len()).min(echo.len());
            echo[at..end].copy_from_slice(&p[..end - at]);
        });
        if n == 0 {
            return Err("connection ended before the echo".into());
        }
        got += n;
    }
    if got != req.len() || echo[..got] != *req {
        return Err("wrong echo".into());
    }
    Ok(())
}

fn request() -> [u8; 64] {
    let mut r = [0u8; 64];
    ttc::peers::fill_pattern(7, &mut r);
    r
}

fn echo_conn<C: Conn>() -> Result<C, String> {
    C::connect(servers::echo(), &Opts::default()).map_err(|e| err("connect", e))
}

/// Workload 3, ping-pong: 64-byte round trips, back to back.
pub fn pingpong<C: Conn>(sz: &Sizes) -> Outcome {
    let mut c = echo_conn::<C>()?;
    let req = request();
    let mut echo = [0u8; 64];
    for _ in 0..sz.round_trips / 10 {
        round_trip(&mut c, &req, &mut echo)?;
    }
    let mut samples = Vec::with_capacity(sz.round_trips);
    for _ in 0..sz.round_trips {
        let t = Instant::now();
        round_trip(&mut c, &req, &mut echo)?;
        samples.push(t.elapsed());
    }
    c.shutdown();
    Ok(vec![
        m(
            "p50_us",
            "us",
            Better::Lower,
            percentile_us(&mut samples, 50.0),
        ),
        m(
            "p99_us",
            "us",
            Better::Lower,
            percentile_us(&mut samples, 99.0),
        ),
    ])
}

/// Workload 4, sparse requests: one 64-byte request every `sparse_every`, from
/// handing it over to the reply arriving.
pub fn sparse<C: Conn>(sz: &Sizes) -> Outcome {
    let mut c = echo_conn::<C>()?;
    let req = request();
    let mut echo = [0u8; 64];
    round_trip(&mut c, &req, &mut echo)?;
    let n = (sz.sparse.as_nanos() / sz.sparse_every.as_nanos()).max(1) as usize;
    let mut samples = Vec::with_capacity(n);
    let mut next = Instant::now() + sz.sparse_every;
    for _ in 0..n {
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let t = Instant::now();
        round_trip(&mut c, &req, &mut echo)?;
        samples.push(t.elapsed());
        next += sz.sparse_every;
    }
    c.shutdown();
    Ok(vec![
        m(
            "p50_us",
            "us",
            Better::Lower,
            percentile_us(&mut samples, 50.0),
        ),
        m(
            "p99_us",
            "us",
            Better::Lower,
            percentile_us(&mut samples, 99.0),
        ),
    ])
}

/// The application thread of the idle workload.
const APP: &str = "bench-app";

/// Workload 5, idle: connected, no traffic. Wake-ups and CPU of every thread
/// involved: the application thread blocked waiting for data, and the
/// client's own threads.
pub fn idle<C: Conn>(sz: &Sizes) -> Outcome {
    let c = echo_conn::<C>()?;
    let stop = c.stopper();
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let app = thread::Builder::new()
        .name(APP.into())
        .spawn(move || {
            let mut c = c;
            let _ = ready_tx.send(());
            while c.recv(|_| {}) > 0 {}
            c.shutdown();
        })
        .map_err(|e| err("app thread", e))?;
    let _ = ready.recv_timeout(STEP);
    // Let every thread reach its sleep.
    thread::sleep(Duration::from_millis(300));
    let mut names = vec![APP];
    names.extend_from_slice(C::threads());
    let tids: Vec<u32> = names
        .iter()
        .flat_map(|n| procfs::threads_named(n))
        .collect();
    let found = names.iter().all(|n| !procfs::threads_named(n).is_empty());
    let snap = |tids: &[u32]| -> Vec<Option<procfs::ThreadStat>> {
        tids.iter().map(|&t| procfs::thread_stat(t)).collect()
    };
    let s0 = snap(&tids);
    let t0 = Instant::now();
    thread::sleep(sz.idle);
    let s1 = snap(&tids);
    let secs = t0.elapsed().as_secs_f64();
    stop();
    let _ = app.join();
    if !found || s0.iter().chain(&s1).any(Option::is_none) {
        return Err(format!("could not read /proc for threads {names:?}"));
    }
    let (mut wakes, mut cpu_ns) = (0u64, 0u64);
    for (a, b) in s0.iter().flatten().zip(s1.iter().flatten()) {
        wakes += b.voluntary - a.voluntary;
        cpu_ns += b.cpu_ns - a.cpu_ns;
    }
    Ok(vec![
        m("wakeups_per_s", "1/s", Better::Lower, wakes as f64 / secs),
        m(
            "cpu_us_per_s",
            "us/s",
            Better::Lower,
            cpu_ns as f64 / 1e3 / secs,
        ),
    ])
}

/// Workload 6, heap allocations per message after connecting (and warming up): a
/// message is a 64-byte request and its echo.
pub fn allocs<C: Conn>(sz: &Sizes) -> Outcome {
    let mut c = echo_conn::<C>()?;
    let req = request();
    let mut echo = [0u8; 64];
    for _ in 0..sz.alloc_msgs / 10 + 100 {
        round_trip(&mut c, &req, &mut echo)?;
    }
    let (a0, b0) = crate::alloc::snapshot();
    for _ in 0..sz.alloc_msgs {
        round_trip(&mut c, &req, &mut echo)?;
    }
    let (a1, b1) = crate::alloc::snapshot();
    c.shutdown();
    let n = sz.alloc_msgs as f64;
    Ok(vec![
        m(
            "allocs_per_msg",
            "allocs",
            Better::Lower,
            (a1 - a0) as f64 / n,
        ),
        m("bytes_per_msg", "B", Better::Lower, (b1 - b0) as f64 / n),
    ])
}

/// Workload 8, shutdown latency on an idle connection: from the request to the
/// client's end (ttc: `Shutdown` on control to the final signal).
pub fn shutdown<C: Conn>(sz: &Sizes) -> Outcome {
    let mut samples = Vec::with_capacity(sz.shutdowns);
    for _ in 0..sz.shutdowns {
        let c = echo_conn::<C>()?;
        // Idle: give the client time to go to sleep.
        thread::sleep(Duration::from_millis(2));
        samples.push(c.shutdown_timed());
    }
    Ok(vec![
        m(
            "p50_us",
            "us",
            Better::Lower,
            percentile_us(&mut samples, 50.0),
        ),
        m(
            "p99_us",
            "us",
            Better::Lower,
            percentile_us(&mut samples, 99.0),
        ),
    ])
}

/// One echo message of the scale workload: 1 KiB unique to (client, round).
pub fn scale_message(client: usize, round: usize, out: &mut [u8]) {
    let seed = ((client as u64) << 32) | ((round as u64) << 16);
    ttc::peers::fill_pattern(seed, out);
}

/// What one scale run (a child process) measured.
#[derive(Debug)]
pub struct ScaleResult {
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub verified_bytes: u64,
}

/// Workload 7, scale, client side (runs in a child process so that its RSS is the
/// clients' alone): `n` clients to the echo server at `addr`, `rounds`
/// rounds of one 1 KiB message each, every byte of every echo checked.
pub fn scale_clients<C: Conn>(
    addr: SocketAddr,
    n: usize,
    rounds: usize,
) -> Result<ScaleResult, String> {
    procfs::raise_nofile(4 * n as u64 + 256);
    let rss_before_kib = procfs::rss_kib().unwrap_or(0);
    let opts = Opts {
        stack: Some(64 * 1024),
    };
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        conns.push(C::connect(addr, &opts).map_err(|e| err(&format!("connect #{i}"), e))?);
    }
    let mut msg = [0u8; BLOCK];
    let mut want = [0u8; BLOCK];
    let mut got = [0u8; BLOCK];
    let mut verified = 0u64;
    let mut rss_after_kib = 0;
    for round in 0..rounds {
        for (i, c) in conns.iter_mut().enumerate() {
            scale_message(i, round, &mut msg);
            c.send(&msg).map_err(|e| err("send", e))?;
        }
        for (i, c) in conns.iter_mut().enumerate() {
            scale_message(i, round, &mut want);
            let mut have = 0;
            while have < BLOCK {
                let at = have;
                let k = c.recv(|p| {
                    let end = (at + p.len()).min(BLOCK);
                    got[at..end].copy_from_slice(&p[..end - at]);
                });
                if k == 0 {
                    return Err(format!("client {i}: connection ended"));
                }
                have += k;
            }
            if have != BLOCK || got != want {
                return Err(format!("client {i} round {round}: wrong echo"));
            }
            verified += BLOCK as u64;
        }
        rss_after_kib = rss_after_kib.max(procfs::rss_kib().unwrap_or(0));
    }
    for c in conns {
        c.shutdown();
    }
    Ok(ScaleResult {
        rss_before_kib,
        rss_after_kib,
        verified_bytes: verified,
    })
}
