//! TLS (the `tls` feature): ttc's TLS client side by side with
//! `openssl s_client` and socat's `OPENSSL:` address, in one run:
//!
//! ```sh
//! cargo bench --features tls --bench compare -- tls [--quick]
//! ```
//!
//! - upload and download: `bulk` bytes to / from `openssl s_server` on
//!   loopback (a fresh one per run, the same for every client), best of
//!   the repetitions: throughput, and the client's CPU per MiB (ttc: this
//!   process, which is only the client; openssl and socat: the child's own
//!   rusage from `wait4`). The server's CPU is nobody's. ttc runs twice:
//!   with `Config::spawn`'s defaults (1 KiB chunks, 16 each way) and as
//!   `ttc-16k` (`spawn_sized::<16384, 4, 4>`, a chunk per TLS record).
//!   Every byte is counted: ttc's report and outbox, the size of what
//!   s_server received, what s_client and socat wrote out.
//! - handshake: from `spawn` to `Connected` (TCP connect and the full
//!   TLS 1.3 handshake against s_server), median, and the same for plain
//!   TCP to the same server.
//! - allocations per message after the handshake: 64-byte request and its
//!   echo through `ttc serve echo --tls-cert` (another process, so only the
//!   client's allocations are counted), with and without TLS.
//!
//! Prints a table and writes `target/bench/tls-<arch>[-quick].json`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ttc::{Config, Control, Reason, Signal, TlsConfig};

use crate::procfs;
use crate::stats::{mb_per_s, percentile_us};

const STEP: Duration = Duration::from_secs(120);

struct Dir(PathBuf);

impl Dir {
    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// A CA and a server certificate for localhost and 127.0.0.1 (ECDSA P-256).
fn certificates(dir: &Dir) -> Result<(), String> {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-batch",
    ];
    run(Command::new("openssl")
        .args(["req", "-x509"])
        .args(key)
        .args(["-keyout", &dir.file("ca.key"), "-out", &dir.file("ca.pem")])
        .args(["-days", "30", "-subj", "/CN=bench CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"]))?;
    run(Command::new("openssl")
        .arg("req")
        .args(key)
        .args([
            "-keyout",
            &dir.file("server.key"),
            "-out",
            &dir.file("server.csr"),
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]))?;
    run(Command::new("openssl")
        .args(["x509", "-req", "-in", &dir.file("server.csr")])
        .args(["-CA", &dir.file("ca.pem"), "-CAkey", &dir.file("ca.key")])
        .args([
            "-set_serial",
            "2",
            "-days",
            "30",
            "-copy_extensions",
            "copy",
        ])
        .args(["-out", &dir.file("server.pem")]))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == local && f[3] == "0A"
        })
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}

/// `openssl s_server -quiet` on a fresh port: stdin from `input` (it
/// sends that, then closes) or held open (it sends nothing), stdout to
/// `output`.
struct SServer {
    child: Child,
    port: u16,
}

impl SServer {
    fn start(dir: &Dir, input: Option<&Path>, output: &Path) -> Result<SServer, String> {
        let port = free_port();
        let mut cmd = Command::new("openssl");
        cmd.args([
            "s_server",
            "-quiet",
            // With a blocking socket s_server can sit in a read for client
            // data that never comes while it has data to send.
            "-nbio",
            "-accept",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "-cert",
            &dir.file("server.pem"),
            "-key",
            &dir.file("server.key"),
        ])
        .stdout(File::create(output).map_err(|e| e.to_string())?)
        .stderr(Stdio::null());
        match input {
            Some(p) => {
                cmd.arg("-no_ign_eof")
                    .stdin(File::open(p).map_err(|e| e.to_string())?);
            }
            None => {
                cmd.stdin(Stdio::piped());
            }
        }
        let child = cmd.spawn().map_err(|e| format!("openssl s_server: {e}"))?;
        let mut s = SServer { child, port };
        if !wait_until(Duration::from_secs(10), || listening(port)) {
            let _ = s.child.kill();
            return Err("s_server did not listen".into());
        }
        Ok(s)
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a client until `n` bytes are in `out` (what the server received,
/// or what the client wrote out), then ends it: openssl and socat may not
/// flush all they read before they close at their end of input, nor exit
/// at the server's close_notify, so the count is the end. Returns that wall time and the client's CPU (wait4's rusage).
fn until_received(cmd: &mut Command, out: &Path, n: u64) -> Result<(Duration, Duration), String> {
    let t0 = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
    let size = || std::fs::metadata(out).map_or(0, |m| m.len());
    let done = wait_until(STEP, || size() >= n);
    let wall = t0.elapsed();
    let _ = child.kill();
    let (_, cpu, _) = reap(child, t0, Some(wall))?;
    if !done || size() != n {
        return Err(format!("server got {} of {n} bytes", size()));
    }
    Ok((wall, cpu))
}

/// Waits for `child` with wait4: (wall time, CPU, exited 0).
fn reap(
    child: Child,
    t0: Instant,
    wall: Option<Duration>,
) -> Result<(Duration, Duration, bool), String> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 writes only into the two
    // live locals, for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = wall.unwrap_or_else(|| t0.elapsed());
    if rc != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    // Reaped above; dropping only closes our ends of its pipes.
    drop(child);
    Ok((wall, tv(ru.ru_utime) + tv(ru.ru_stime), ok))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    /// `Config::spawn` defaults: 1 KiB chunks, 16 each way.
    Ttc,
    /// `spawn_sized::<16384, 4, 4>`: chunks of one TLS record.
    TtcBig,
    /// `openssl s_client`.
    OpenSsl,
    Socat,
}

impl Client {
    const ALL: [Client; 4] = [Client::Ttc, Client::TtcBig, Client::OpenSsl, Client::Socat];

    fn name(self) -> &'static str {
        match self {
            Client::Ttc => "ttc",
            Client::TtcBig => "ttc-16k",
            Client::OpenSsl => "s_client",
            Client::Socat => "socat",
        }
    }
}

struct Bulk {
    mb_per_s: f64,
    cpu_ms_per_mib: f64,
}

fn s_client(dir: &Dir, port: u16) -> Command {
    let mut c = Command::new("openssl");
    c.args(["s_client", "-quiet", "-verify_return_error"])
        .args([
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .args(["-CAfile", &dir.file("ca.pem")])
        .stderr(Stdio::null());
    c
}

fn socat_addr(dir: &Dir, port: u16) -> String {
    format!(
        "OPENSSL:127.0.0.1:{port},cafile={},commonname=localhost",
        dir.file("ca.pem")
    )
}

fn tls_config(dir: &Dir) -> TlsConfig {
    TlsConfig::new()
        .ca_file(dir.file("ca.pem"))
        .unwrap()
        .server_name("localhost")
}

/// ttc's upload with chunks of `C` bytes, `I` deep inbox: wall time and
/// this process's CPU.
fn ttc_upload<const C: usize, const I: usize, const O: usize>(
    dir: &Dir,
    port: u16,
    data: &[u8],
) -> Result<(Duration, Duration), String> {
    let n = data.len() as u64;
    let t0 = Instant::now();
    let u0 = procfs::usage();
    let c = Config::new("127.0.0.1", port)
        .tls(tls_config(dir))
        .spawn_sized::<C, I, O>()
        .map_err(|e| e.to_string())?;
    for piece in data.chunks(64 << 10) {
        c.inbox()
            .send_slice(piece, STEP)
            .map_err(|e| e.to_string())?;
    }
    c.control().send(Control::ProducerFinished);
    // s_server says close_notify back once it has read everything.
    let r = c.join();
    let (wall, u1) = (t0.elapsed(), procfs::usage());
    if r.reason != Reason::Finished || r.sent != n {
        return Err(format!("ttc upload: {r}"));
    }
    Ok((wall, u1.cpu - u0.cpu))
}

/// ttc's download, the same way.
fn ttc_download<const C: usize, const I: usize, const O: usize>(
    dir: &Dir,
    port: u16,
    n: u64,
) -> Result<(Duration, Duration), String> {
    let t0 = Instant::now();
    let u0 = procfs::usage();
    let c = Config::new("127.0.0.1", port)
        .tls(tls_config(dir))
        .spawn_sized::<C, I, O>()
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 << 10];
    let mut got = 0u64;
    while let Ok(k) = c.outbox().recv_into(&mut buf) {
        got += k as u64;
    }
    let r = c.join();
    let (wall, u1) = (t0.elapsed(), procfs::usage());
    if got != n || r.reason != Reason::PeerClosed {
        return Err(format!("ttc download: {got} of {n} bytes, {r}"));
    }
    Ok((wall, u1.cpu - u0.cpu))
}

fn upload(dir: &Dir, client: Client, data: &[u8]) -> Result<Bulk, String> {
    let n = data.len() as u64;
    let out = PathBuf::from(dir.file("upload.out"));
    let server = SServer::start(dir, None, &out)?;
    let (wall, cpu) = match client {
        Client::Ttc => ttc_upload::<1024, 16, 16>(dir, server.port, data)?,
        Client::TtcBig => ttc_upload::<16384, 4, 4>(dir, server.port, data)?,
        Client::OpenSsl => until_received(
            s_client(dir, server.port)
                .stdin(File::open(dir.file("data")).unwrap())
                .stdout(Stdio::null()),
            &out,
            n,
        )?,
        Client::Socat => until_received(
            Command::new("socat")
                .arg("-u")
                .arg(format!("OPEN:{}", dir.file("data")))
                .arg(socat_addr(dir, server.port))
                .stdin(Stdio::null())
                .stderr(Stdio::null()),
            &out,
            n,
        )?,
    };
    // Everything reached the server (it writes what it receives to `out`).
    let size = || std::fs::metadata(&out).map_or(0, |m| m.len());
    if !wait_until(Duration::from_secs(10), || size() == n) {
        return Err(format!(
            "{}: server got {} of {n} bytes",
            client.name(),
            size()
        ));
    }
    Ok(bulk(n, wall, cpu))
}

fn download(dir: &Dir, client: Client, n: u64) -> Result<Bulk, String> {
    let server = SServer::start(
        dir,
        Some(Path::new(&dir.file("data"))),
        &PathBuf::from(dir.file("download.out")),
    )?;
    let (wall, cpu) = match client {
        Client::Ttc => ttc_download::<1024, 16, 16>(dir, server.port, n)?,
        Client::TtcBig => ttc_download::<16384, 4, 4>(dir, server.port, n)?,
        // Both until what they wrote out is complete: whether they exit
        // at the server's close_notify varies.
        Client::OpenSsl => {
            let out = dir.file("s_client.out");
            let r = until_received(
                s_client(dir, server.port)
                    // Held open: s_client must not close at its end of input.
                    .stdin(Stdio::piped())
                    .stdout(File::create(&out).unwrap()),
                Path::new(&out),
                n,
            );
            let _ = std::fs::remove_file(&out);
            r?
        }
        Client::Socat => {
            let out = dir.file("socat.out");
            let r = until_received(
                Command::new("socat")
                    .arg("-u")
                    .arg(socat_addr(dir, server.port))
                    .arg(format!("CREATE:{out}"))
                    .stdin(Stdio::null())
                    .stderr(Stdio::null()),
                Path::new(&out),
                n,
            );
            let _ = std::fs::remove_file(&out);
            r?
        }
    };
    Ok(bulk(n, wall, cpu))
}

fn bulk(n: u64, wall: Duration, cpu: Duration) -> Bulk {
    Bulk {
        mb_per_s: mb_per_s(n, wall),
        cpu_ms_per_mib: cpu.as_secs_f64() * 1e3 / (n as f64 / (1 << 20) as f64),
    }
}

/// From `spawn` to `Connected`, median microseconds: with a full TLS
/// handshake (a fresh `TlsConfig` each time, so nothing is cached), and
/// for plain TCP to the same server (what TLS adds is the difference).
fn handshakes(dir: &Dir, count: usize) -> Result<(f64, f64), String> {
    let out = PathBuf::from(dir.file("hs.out"));
    let server = SServer::start(dir, None, &out)?;
    let ca = std::fs::read(dir.file("ca.pem")).map_err(|e| e.to_string())?;
    let mut tls = Vec::new();
    let mut plain = Vec::new();
    for i in 0..2 * count {
        let mut config = Config::new("127.0.0.1", server.port);
        if i % 2 == 0 {
            let t = TlsConfig::new()
                .ca_pem(&ca)
                .unwrap()
                .server_name("localhost");
            config = config.tls(t);
        }
        let t0 = Instant::now();
        let c = config.spawn().map_err(|e| e.to_string())?;
        match c.signal().recv_timeout(STEP) {
            Ok(Signal::Connected(_)) => {}
            other => return Err(format!("handshake: {other:?}")),
        }
        let t = t0.elapsed();
        c.control().send(Control::Shutdown);
        c.join();
        if i % 2 == 0 {
            tls.push(t);
        } else {
            plain.push(t);
        }
    }
    Ok((
        percentile_us(&mut tls, 50.0),
        percentile_us(&mut plain, 50.0),
    ))
}

/// Heap allocations per 64-byte request and echo after the handshake,
/// through `ttc serve echo` (TLS or not) in another process.
fn allocations(dir: &Dir, tls: bool, msgs: usize) -> Result<f64, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ttc"));
    cmd.args(["serve", "echo"]);
    if tls {
        cmd.args([
            "--tls-cert",
            &dir.file("server.pem"),
            "--tls-key",
            &dir.file("server.key"),
        ]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut first = String::new();
    let mut out = child.stdout.take().unwrap();
    let mut b = [0u8; 1];
    while out.read(&mut b).map_err(|e| e.to_string())? == 1 && b[0] != b'\n' {
        first.push(b[0] as char);
    }
    let port: u16 = first
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .ok_or(format!("serve said {first:?}"))?;
    let mut config = Config::new("127.0.0.1", port);
    if tls {
        config = config.tls(tls_config(dir));
    }
    let c = config.spawn().map_err(|e| e.to_string())?;
    let req = [0x5au8; 64];
    let mut echo = [0u8; 64];
    let mut trip = |c: &ttc::Client| -> Result<(), String> {
        c.inbox()
            .send_slice(&req, STEP)
            .map_err(|e| e.to_string())?;
        let mut got = 0;
        while got < 64 {
            got += c
                .outbox()
                .recv_into_timeout(&mut echo[got..], STEP)
                .map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    };
    for _ in 0..msgs / 10 + 100 {
        trip(&c)?;
    }
    let (a0, _) = crate::alloc::snapshot();
    for _ in 0..msgs {
        trip(&c)?;
    }
    let (a1, _) = crate::alloc::snapshot();
    c.control().send(Control::Shutdown);
    c.join();
    let _ = child.kill();
    let _ = child.wait();
    drop(out);
    Ok((a1 - a0) as f64 / msgs as f64)
}

/// The TLS section; exits with 1 if anything failed to run or check out.
pub fn main(quick: bool) -> ! {
    let arch = std::env::consts::ARCH;
    let (n, reps, hs, msgs) = if quick {
        (8u64 << 20, 1, 10, 1_000)
    } else {
        (128u64 << 20, 3, 50, 10_000)
    };
    let dir = Dir(std::env::temp_dir().join(format!("ttc-bench-tls-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let result = (|| -> Result<String, String> {
        certificates(&dir)?;
        let mut data = vec![0u8; n as usize];
        ttc::peers::fill_pattern(0, &mut data);
        std::fs::write(dir.file("data"), &data).map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        let mut json = Vec::new();
        for (w, up) in [("upload", true), ("download", false)] {
            let mut best: Vec<Option<Bulk>> = Client::ALL.iter().map(|_| None).collect();
            for rep in 0..reps {
                for (i, &c) in Client::ALL.iter().enumerate() {
                    let b = if up {
                        upload(&dir, c, &data)?
                    } else {
                        download(&dir, c, n)?
                    };
                    eprintln!(
                        "  tls {w:<8} {:<8} #{}: {:.0} MB/s, {:.2} ms/MiB",
                        c.name(),
                        rep + 1,
                        b.mb_per_s,
                        b.cpu_ms_per_mib
                    );
                    let keep = best[i].as_ref().is_none_or(|o| b.mb_per_s > o.mb_per_s);
                    if keep {
                        best[i] = Some(b);
                    }
                }
            }
            let openssl = best[2].as_ref().unwrap().cpu_ms_per_mib;
            for (i, c) in Client::ALL.iter().enumerate() {
                let b = best[i].as_ref().unwrap();
                rows.push(format!(
                    "| {w} | {} | {:.0} | {:.2} | {:.2}x |",
                    c.name(),
                    b.mb_per_s,
                    b.cpu_ms_per_mib,
                    b.cpu_ms_per_mib / openssl
                ));
                json.push(format!(
                    "{{\"workload\": \"{w}\", \"client\": \"{}\", \"mb_per_s\": {:.1}, \"cpu_ms_per_mib\": {:.3}}}",
                    c.name(),
                    b.mb_per_s,
                    b.cpu_ms_per_mib
                ));
            }
            for (i, name) in [(0, "ttc"), (1, "ttc-16k")] {
                let ttc = best[i].as_ref().unwrap().cpu_ms_per_mib;
                rows.push(format!(
                    "| {w} | goal: {name} CPU within 1.2x of s_client | | | {} ({:.2}x) |",
                    if ttc <= 1.2 * openssl {
                        "met"
                    } else {
                        "missed"
                    },
                    ttc / openssl
                ));
            }
        }
        let (full, plain) = handshakes(&dir, hs)?;
        let tls_allocs = allocations(&dir, true, msgs)?;
        let plain_allocs = allocations(&dir, false, msgs)?;
        let mut text = String::new();
        text.push_str(&format!(
            "\nttc bench, tls, {}: {arch}, {} MiB per transfer, best of {reps}\n\n",
            if quick { "quick" } else { "full" },
            n >> 20
        ));
        text.push_str("| workload | client | MB/s | CPU ms/MiB | CPU / s_client |\n|---|---|---:|---:|---:|\n");
        for r in &rows {
            text.push_str(r);
            text.push('\n');
        }
        text.push_str(&format!(
            "\nspawn to Connected (loopback), median of {hs}: TLS 1.3 full handshake (ECDSA P-256) {:.0} us, plain TCP {:.0} us\n",
            full, plain
        ));
        text.push_str(&format!(
            "allocations per 64-byte message and echo after the handshake: TLS {tls_allocs:.2}, plain {plain_allocs:.2}\n"
        ));
        json.push(format!(
            "{{\"connected_tls_us\": {full:.0}, \"connected_plain_us\": {plain:.0}, \"allocs_per_msg_tls\": {tls_allocs:.3}, \"allocs_per_msg_plain\": {plain_allocs:.3}}}"
        ));
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/bench")
            .join(format!(
                "tls-{arch}{}.json",
                if quick { "-quick" } else { "" }
            ));
        let _ = std::fs::create_dir_all(path.parent().unwrap());
        let body = format!("{{\"results\": [\n  {}\n]}}\n", json.join(",\n  "));
        std::fs::write(&path, body).map_err(|e| e.to_string())?;
        text.push_str(&format!("\nJSON: {}\n", path.display()));
        Ok(text)
    })();
    match result {
        Ok(text) => {
            print!("{text}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("compare tls: FAILED: {e}");
            std::process::exit(1);
        }
    }
}
