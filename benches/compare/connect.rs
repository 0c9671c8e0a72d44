//! Workload 9, connect: how long the connect phase takes.
//!
//! - `loopback_p50_us`: time to connected on a clean loopback, ttc
//!   (`spawn` to `Connected`, the worker thread's start included) against
//!   a plain `TcpStream::connect` on the calling thread (raw) and a plain
//!   `TcpStream::connect` on a new thread that reports back over a channel
//!   (diy: what ttc's worker did before Happy Eyeballs, minus the boxes).
//! - `phase_p50_us`: the connect phase alone, on the calling thread (ttc,
//!   through its benchmark hook `ConnectPhase`: literal address, one
//!   non-blocking attempt polled with the eventfd, `SO_ERROR`, back to
//!   blocking) against a plain `TcpStream::connect` (raw), and
//!   `phase_over_plain` (ttc): the same two alternated sample by sample in
//!   one stretch, their medians' ratio. The goal: at most 1.1x.
//!   `timeout_p50_us` (raw) is `TcpStream::connect_timeout`, the call
//!   ttc's connect phase made before Happy Eyeballs; `phase_over_timeout`
//!   (ttc) compares the phase with it, alternated like the above: the
//!   change against the previous connect phase.
//! - `blackholed_*_ms` (ttc): time to connected when the resolver's first
//!   answer is an IPv6 address whose SYNs are dropped and the second an
//!   IPv4 one that works, at the default attempt delay (250 ms).
//! - `stop_pending_*_us` (ttc): `Shutdown` to the final signal while both
//!   attempts are pending (all SYNs dropped).
//!
//! The last two run between two network namespaces made here
//! (tests/support/netns.rs), which needs root; without it they are left
//! out, with a note.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ttc::{Config, Control, Signal};

use crate::conn::PeerKind;
use crate::stats::percentile_us;
use crate::workloads::{Better, Metric, Outcome, Sizes};

// The test hosts of the suites; the bench uses only part of them.
use crate::spawn;
#[allow(dead_code)]
#[path = "../../tests/support/netns.rs"]
mod netns;

use netns::{NetPair, ADDR6_A, ADDR_A};

fn metric(key: &str, unit: &'static str, value: f64) -> Metric {
    Metric {
        key: key.into(),
        unit,
        better: Better::Lower,
        value,
    }
}

pub fn connect(kind: PeerKind, sz: &Sizes) -> Outcome {
    match kind {
        PeerKind::Raw => {
            let mut out = loopback(sz, "loopback_p50_us", |addr| {
                let t0 = Instant::now();
                let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
                let took = t0.elapsed();
                drop(s);
                Ok(took)
            })?;
            // The same, as the connect phase's own row.
            out.push(metric("phase_p50_us", "us", out[0].value));
            out.extend(loopback(sz, "timeout_p50_us", |addr| {
                let t0 = Instant::now();
                let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                    .map_err(|e| format!("connect_timeout: {e}"))?;
                let took = t0.elapsed();
                drop(s);
                Ok(took)
            })?);
            Ok(out)
        }
        PeerKind::Diy => loopback(sz, "loopback_p50_us", |addr| {
            let t0 = Instant::now();
            let (tx, rx) = mpsc::channel();
            let t = std::thread::spawn(move || {
                let s = TcpStream::connect(addr);
                let _ = tx.send(s.is_ok());
                s
            });
            let ok = rx.recv().unwrap_or(false);
            let took = t0.elapsed();
            let _ = t.join();
            if !ok {
                return Err("thread connect failed".into());
            }
            Ok(took)
        }),
        PeerKind::Tokio => Ok(Vec::new()),
        PeerKind::Ttc => {
            let mut out = loopback(sz, "loopback_p50_us", |addr| {
                let t0 = Instant::now();
                let client = Config::new(addr.ip().to_string(), addr.port())
                    .spawn()
                    .map_err(|e| e.to_string())?;
                let took = match client.signal().recv_timeout(Duration::from_secs(30)) {
                    Ok(Signal::Connected(_)) => t0.elapsed(),
                    other => return Err(format!("ttc connect: {other:?}")),
                };
                client.control().send(Control::Shutdown);
                let _ = client.join();
                Ok(took)
            })?;
            out.extend(phase_against_plain(sz)?);
            // SAFETY: geteuid has no arguments and cannot fail.
            if unsafe { libc::geteuid() } != 0 {
                eprintln!("  connect: not root: the namespace parts (blackholed, stop_pending) are left out");
                return Ok(out);
            }
            out.extend(blackholed(sz)?);
            out.extend(stop_pending(sz)?);
            Ok(out)
        }
    }
}

/// `sz.connects` connections to a loopback listener that accepts and
/// closes; the median of `one`'s times.
fn loopback(
    sz: &Sizes,
    key: &str,
    one: impl Fn(SocketAddr) -> Result<Duration, String>,
) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let mut samples = Vec::with_capacity(sz.connects);
    for _ in 0..sz.connects {
        samples.push(one(addr)?);
    }
    Ok(vec![metric(key, "us", percentile_us(&mut samples, 50.0))])
}

/// The connect phase and a plain `TcpStream::connect`, alternately, to the
/// same listener: `phase_p50_us`, and the ratio of the two medians taken
/// in the same stretch of time (`phase_over_plain`; the machine's load
/// moves both alike).
fn phase_against_plain(sz: &Sizes) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let phase = ttc::ConnectPhase::new().map_err(|e| e.to_string())?;
    let config = Config::new(addr.ip().to_string(), addr.port());
    let mut ours = Vec::with_capacity(sz.connects);
    let mut plain = Vec::with_capacity(sz.connects);
    let mut timeout = Vec::with_capacity(sz.connects);
    for _ in 0..sz.connects {
        let t0 = Instant::now();
        let (r, _) = phase.connect(&config);
        ours.push(t0.elapsed());
        drop(r.map_err(|e| e.to_string())?);
        let t0 = Instant::now();
        let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        plain.push(t0.elapsed());
        drop(s);
        let t0 = Instant::now();
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .map_err(|e| format!("connect_timeout: {e}"))?;
        timeout.push(t0.elapsed());
        drop(s);
    }
    let ours = percentile_us(&mut ours, 50.0);
    let plain = percentile_us(&mut plain, 50.0);
    let timeout = percentile_us(&mut timeout, 50.0);
    Ok(vec![
        metric("phase_p50_us", "us", ours),
        metric("phase_over_plain", "x", ours / plain),
        metric("phase_over_timeout", "x", ours / timeout),
    ])
}

/// Starts a client in namespace `b` to both of host `a`'s addresses,
/// IPv6 first.
fn dual_client(pair: &NetPair, port: u16) -> Result<ttc::Client, String> {
    let addrs: Vec<IpAddr> = vec![ADDR6_A.into(), ADDR_A.into()];
    NetPair::run_in(&pair.b, move || {
        Config::new("dual.test", port)
            .resolver(ttc::Resolver::Static(addrs))
            .connect_timeout(Duration::from_secs(30))
            .spawn()
            .map_err(|e| e.to_string())
    })
}

fn blackholed(sz: &Sizes) -> Outcome {
    let pair = NetPair::new("bench-he");
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    pair.blackhole_port_family(port, true);
    std::thread::spawn(move || {
        for s in listener.incoming() {
            drop(s);
        }
    });
    let mut samples = Vec::with_capacity(sz.connect_reps);
    for _ in 0..sz.connect_reps {
        let t0 = Instant::now();
        let client = dual_client(&pair, port)?;
        match client.signal().recv_timeout(Duration::from_secs(30)) {
            Ok(Signal::Connected(peer)) if peer.is_ipv4() => samples.push(t0.elapsed()),
            other => return Err(format!("blackholed: {other:?}")),
        }
        client.control().send(Control::Shutdown);
        let report = client.join();
        if report.attempts != 2 {
            return Err(format!("blackholed: {} attempts", report.attempts));
        }
    }
    let p50 = percentile_us(&mut samples, 50.0) / 1e3;
    let max = percentile_us(&mut samples, 100.0) / 1e3;
    Ok(vec![
        metric("blackholed_p50_ms", "ms", p50),
        metric("blackholed_max_ms", "ms", max),
    ])
}

fn stop_pending(sz: &Sizes) -> Outcome {
    let pair = NetPair::new("bench-stop");
    let listener = pair.listen_a_dual();
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    pair.blackhole_port_family(port, true);
    pair.blackhole_port_family(port, false);
    let mut samples = Vec::with_capacity(sz.connect_reps);
    for _ in 0..sz.connect_reps {
        let before = pair.dropped_packets();
        let client = dual_client(&pair, port)?;
        // Wait (bounded) until both attempts have had a SYN dropped.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pair.dropped_packets() < before + 2 {
            if Instant::now() > deadline {
                return Err("stop_pending: the attempts never started".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let t0 = Instant::now();
        client.control().send(Control::Shutdown);
        loop {
            match client.signal().recv_timeout(Duration::from_secs(30)) {
                Ok(s) if s.is_final() => break,
                Ok(Signal::Connected(_)) => return Err("stop_pending: connected".into()),
                Ok(_) => {}
                Err(e) => return Err(format!("stop_pending: {e}")),
            }
        }
        samples.push(t0.elapsed());
        let _ = client.join();
    }
    drop(listener);
    Ok(vec![
        metric(
            "stop_pending_p50_us",
            "us",
            percentile_us(&mut samples, 50.0),
        ),
        metric(
            "stop_pending_max_us",
            "us",
            percentile_us(&mut samples, 100.0),
        ),
    ])
}
