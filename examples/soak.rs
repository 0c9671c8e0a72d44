//! Soak: a long echo transfer on loopback, interrupted by a fault every
//! so often, reconnecting after each one, checking every connection's
//! accounting, and reporting bytes, faults survived and peak memory.
//!
//! ```sh
//! cargo run --release --example soak -- --seconds 30
//! bash targets/soak.sh 600 aarch64-unknown-linux-gnu   # under QEMU
//! ```
//!
//! Each connection streams data both ways (the server echoes) until the
//! fault is injected: the server resets, stalls (the client's write timeout
//! fires), half-closes, or the client aborts, shuts down, or finishes
//! gracefully. Then it checks:
//! - accepted = sent + unsent, and read = delivered;
//! - what came back is an exact prefix of what was sent;
//! - exactly one final `SocketShutdown`, last, with the reason the fault
//!   calls for;
//!
//! and at the end that the process has its starting threads and file
//! descriptors. Any violation prints what broke and exits with status 1.
//! Only 127.0.0.1 is used.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ttc::{Chunk, Config, Control, Phase, Reason, RecvTimeoutError, SendTimeoutError, Signal};

const C: usize = 1024;
/// Bounds every wait on the client.
const SOON: Duration = Duration::from_secs(20);
const WRITE_TIMEOUT: Duration = Duration::from_millis(300);
/// Period of the data stream (a prime: no buffer size lines up with it).
const PERIOD: usize = 65_521;

// What the server is told to do.
const ECHO: u8 = 0;
const RESET: u8 = 1;
const STALL: u8 = 2;
const HALF_CLOSE: u8 = 3;
const RELEASE: u8 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    ServerReset,
    ServerStall,
    ServerHalfClose,
    ClientAbort,
    ClientShutdown,
    Finish,
}

const FAULTS: [Fault; 6] = [
    Fault::ServerReset,
    Fault::ServerStall,
    Fault::ServerHalfClose,
    Fault::ClientAbort,
    Fault::ClientShutdown,
    Fault::Finish,
];

// The tests' seedable generator: one xorshift64* for both.
#[path = "../tests/support/rng.rs"]
mod rng;
use rng::Rng;

fn table() -> &'static [u8] {
    static T: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = vec![0u8; PERIOD];
        ttc::peers::fill_pattern(0, &mut t);
        t
    })
}

fn stream_at(offset: u64, buf: &mut [u8]) {
    let t = table();
    for (k, b) in buf.iter_mut().enumerate() {
        *b = t[((offset + k as u64) % PERIOD as u64) as usize];
    }
}

/// The server side of one connection: echoes until told otherwise.
fn serve(mut s: TcpStream, cmd: Arc<AtomicU8>) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(10)));
    let mut buf = vec![0u8; 16 * 1024];
    let mut half_closed = false;
    loop {
        match cmd.load(Ordering::Acquire) {
            RESET => {
                let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                return;
            }
            STALL => {
                // Neither read nor write until released.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            HALF_CLOSE if !half_closed => {
                let _ = s.shutdown(Shutdown::Write);
                half_closed = true;
            }
            _ => {}
        }
        match s.read(&mut buf) {
            Ok(0) => {
                let _ = s.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if !half_closed && s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

#[derive(Default)]
struct Totals {
    connections: u64,
    sent: u64,
    received: u64,
    unsent: u64,
    faults: [u64; 6],
}

/// One connection: stream, inject `fault` after `after`, check everything.
fn connection(
    port: u16,
    cmds: &mpsc::Sender<Arc<AtomicU8>>,
    fault: Fault,
    after: Duration,
    totals: &mut Totals,
) -> Result<(), String> {
    let cmd = Arc::new(AtomicU8::new(ECHO));
    cmds.send(cmd.clone()).map_err(|e| e.to_string())?;
    let client = Config::new("127.0.0.1", port)
        .write_timeout(Some(WRITE_TIMEOUT))
        .linger(Some(Duration::from_secs(2)))
        .spawn_sized::<C, 16, 16>()
        .map_err(|e| e.to_string())?;
    match client.signal().recv_timeout(SOON) {
        Ok(Signal::Connected(_)) => {}
        other => return Err(format!("no connection: {other:?}")),
    }
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let inbox = client.inbox().clone();
        let stop = stop.clone();
        thread::spawn(move || {
            let mut accepted = 0u64;
            let mut buf = [0u8; C];
            while !stop.load(Ordering::Acquire) {
                stream_at(accepted, &mut buf);
                match inbox
                    .send_timeout(Chunk::from_slice(&buf).unwrap(), Duration::from_millis(20))
                {
                    Ok(()) => accepted += C as u64,
                    Err(SendTimeoutError::Timeout(_)) => {}
                    Err(SendTimeoutError::Closed(_)) => break,
                }
            }
            accepted
        })
    };
    let drainer = {
        let outbox = client.outbox().clone();
        thread::spawn(move || {
            let mut delivered = 0u64;
            let mut exact = true;
            let mut want = [0u8; C];
            loop {
                match outbox.recv_timeout(SOON) {
                    Ok(chunk) => {
                        stream_at(delivered, &mut want[..chunk.len()]);
                        exact &= chunk[..] == want[..chunk.len()];
                        delivered += chunk.len() as u64;
                    }
                    Err(RecvTimeoutError::Closed) => return Ok((delivered, exact)),
                    Err(RecvTimeoutError::Timeout) => return Err("outbox never closed"),
                }
            }
        })
    };
    // Pacing the soak, not synchronising: the transfer runs this long.
    thread::sleep(after);
    match fault {
        Fault::ServerReset => cmd.store(RESET, Ordering::Release),
        Fault::ServerStall => cmd.store(STALL, Ordering::Release),
        Fault::ServerHalfClose => cmd.store(HALF_CLOSE, Ordering::Release),
        Fault::ClientAbort => client.control().send(Control::Abort),
        Fault::ClientShutdown => client.control().send(Control::Shutdown),
        Fault::Finish => {
            stop.store(true, Ordering::Release);
            client.control().send(Control::ProducerFinished);
        }
    }
    let mut signals = Vec::new();
    let deadline = Instant::now() + SOON;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.signal().recv_timeout(left) {
            Ok(s) => {
                let last = s.is_final();
                signals.push(s);
                if last {
                    break;
                }
            }
            Err(e) => return Err(format!("{fault:?}: no final signal ({e}): {signals:?}")),
        }
    }
    if client.signal().recv_timeout(Duration::from_millis(20)) != Err(RecvTimeoutError::Closed) {
        return Err(format!("{fault:?}: a signal after the final one"));
    }
    stop.store(true, Ordering::Release);
    let accepted = feeder.join().map_err(|_| "feeder panicked")?;
    let (delivered, exact) = drainer.join().map_err(|_| "drainer panicked")??;
    let report = client.join();
    cmd.store(RELEASE, Ordering::Release);

    let Some(Signal::SocketShutdown(final_report)) = signals.last() else {
        return Err("no final report".into());
    };
    if *final_report != report {
        return Err(format!(
            "join says {report}, the signal says {final_report}"
        ));
    }
    if accepted != report.sent + report.unsent {
        return Err(format!(
            "{fault:?}: accepted {accepted} != sent + unsent in {report}"
        ));
    }
    if report.received != delivered {
        return Err(format!(
            "{fault:?}: delivered {delivered} != received in {report}"
        ));
    }
    if !exact || delivered > report.sent {
        return Err(format!(
            "{fault:?}: the echo is not a prefix of what was sent ({report})"
        ));
    }
    let error = signals.iter().find_map(|s| match s {
        Signal::Error(e) => Some(e.clone()),
        _ => None,
    });
    let reason_ok = match fault {
        Fault::ServerReset => report.reason == Reason::Error,
        Fault::ServerStall => {
            report.reason == Reason::Error
                && error
                    .as_ref()
                    .is_some_and(|e| e.phase == Phase::Write && e.kind == io::ErrorKind::TimedOut)
        }
        Fault::ServerHalfClose => report.reason == Reason::PeerClosed,
        Fault::ClientAbort => report.reason == Reason::Aborted,
        Fault::ClientShutdown => report.reason == Reason::Shutdown,
        Fault::Finish => {
            report.reason == Reason::Finished && report.unsent == 0 && delivered == report.sent
        }
    };
    if !reason_ok {
        return Err(format!("{fault:?}: unexpected end {report}: {signals:?}"));
    }
    totals.connections += 1;
    totals.sent += report.sent;
    totals.received += report.received;
    totals.unsent += report.unsent;
    totals.faults[FAULTS.iter().position(|f| *f == fault).unwrap()] += 1;
    Ok(())
}

fn proc_count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() -> ExitCode {
    let mut seconds = 30u64;
    let mut fault_ms = 500u64;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().and_then(|v| v.parse().ok());
        match (a.as_str(), v) {
            ("--seconds", Some(v)) => seconds = v,
            ("--fault-every-ms", Some(v)) => fault_ms = v,
            ("--seed", Some(v)) => seed = v | 1,
            _ => {
                eprintln!("usage: soak [--seconds N] [--fault-every-ms M] [--seed S]");
                return ExitCode::from(2);
            }
        }
    }
    println!("soak: {seconds} s, a fault about every {fault_ms} ms, seed {seed}");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    let (cmds, cmd_rx) = mpsc::channel::<Arc<AtomicU8>>();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(s) = conn else { continue };
            let Ok(cmd) = cmd_rx.recv() else { return };
            thread::spawn(move || serve(s, cmd));
        }
    });
    // Let the helper threads exist before the baseline.
    let (threads0, fds0) = (proc_count("/proc/self/task"), proc_count("/proc/self/fd"));

    let mut rng = Rng::new(seed);
    let mut totals = Totals::default();
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut next_note = start + Duration::from_secs(60);
    while Instant::now() < end {
        let fault = FAULTS[rng.below(FAULTS.len() as u64) as usize];
        let after = Duration::from_millis(fault_ms / 2 + rng.below(fault_ms.max(1)));
        if let Err(e) = connection(port, &cmds, fault, after, &mut totals) {
            println!("soak: FAILED after {} connections: {e}", totals.connections);
            return ExitCode::from(1);
        }
        if Instant::now() >= next_note {
            println!(
                "soak: {:>4} s: {} connections, {} MiB sent, {} MiB received, peak RSS {} KiB",
                start.elapsed().as_secs(),
                totals.connections,
                totals.sent >> 20,
                totals.received >> 20,
                vm_hwm_kib()
            );
            next_note += Duration::from_secs(60);
        }
    }
    // Every worker and server thread ends, every socket closes.
    let settle = Instant::now() + SOON;
    while (proc_count("/proc/self/task") > threads0 || proc_count("/proc/self/fd") > fds0)
        && Instant::now() < settle
    {
        thread::sleep(Duration::from_millis(10));
    }
    let (threads1, fds1) = (proc_count("/proc/self/task"), proc_count("/proc/self/fd"));
    let survived: u64 = totals.faults[..5].iter().sum();
    println!(
        "soak: {} s, {} connections, {} faults survived (server reset {}, server stall {}, \
         server half-close {}, client abort {}, client shutdown {}), {} graceful finishes",
        start.elapsed().as_secs(),
        totals.connections,
        survived,
        totals.faults[0],
        totals.faults[1],
        totals.faults[2],
        totals.faults[3],
        totals.faults[4],
        totals.faults[5]
    );
    println!(
        "soak: bytes sent {} ({} MiB), received {} ({} MiB), unsent at faults {}",
        totals.sent,
        totals.sent >> 20,
        totals.received,
        totals.received >> 20,
        totals.unsent
    );
    println!(
        "soak: peak RSS (VmHWM) {} KiB; threads {threads0} -> {threads1}; fds {fds0} -> {fds1}",
        vm_hwm_kib()
    );
    if threads1 > threads0 || fds1 > fds0 {
        println!("soak: FAILED: threads or file descriptors leaked");
        return ExitCode::from(1);
    }
    if totals.connections == 0 {
        println!("soak: FAILED: no connection completed");
        return ExitCode::from(1);
    }
    println!("soak: OK");
    ExitCode::SUCCESS
}
