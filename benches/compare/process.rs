//! Whole processes: the `ttc` command beside `socat` and `nc`
//! (netcat-openbsd), the tools people time it against. Each client is a
//! child process moving one file over loopback to or from a socat peer;
//! its wall time and its own CPU (user + sys, from `wait4(2)`, all its
//! threads) are measured, and the peer's are not. Runs alternate between
//! the clients so that a burst of load from elsewhere hits each alike;
//! the median of the runs is reported, with ratios to socat.
//!
//! Host only: under QEMU the child would be the emulator, not the client.
//! Needs `socat` and `nc` (targets/ci.d/bench.apt; the setup installs
//! them).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which way the bytes go, seen from the client.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The client sends the file to a socat sink.
    Up,
    /// A socat source sends the file to the client, which writes it to
    /// /dev/null.
    Down,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Dir::Up => "upload",
            Dir::Down => "download",
        }
    }
}

/// The clients, socat first: it is the baseline.
pub const CLIENTS: [&str; 3] = ["socat", "nc", "ttc"];

/// The median run of one client in one direction.
pub struct Row {
    pub dir: Dir,
    pub client: &'static str,
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
}

impl Row {
    fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// Everything the section measured.
pub struct Section {
    pub bytes: u64,
    pub runs: usize,
    pub rows: Vec<Row>,
}

/// One run's figures.
#[derive(Clone, Copy)]
struct Run {
    wall: Duration,
    user: Duration,
    sys: Duration,
}

/// Moves `bytes` each way `runs` times per client; fails if a tool is
/// missing or any run did not move every byte.
pub fn measure(bytes: u64, runs: usize) -> Result<Section, String> {
    for tool in ["socat", "nc"] {
        if Command::new(tool)
            .arg("-h")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            return Err(format!(
                "`{tool}` not found: install socat and netcat-openbsd (bash targets/setup.sh does)"
            ));
        }
    }
    let input = input_file(bytes).map_err(|e| format!("input file: {e}"))?;
    let mut rows = Vec::new();
    for dir in [Dir::Up, Dir::Down] {
        let mut all: Vec<Vec<Run>> = vec![Vec::new(); CLIENTS.len()];
        for rep in 0..runs {
            // Rotate the order each round.
            for k in 0..CLIENTS.len() {
                let i = (k + rep) % CLIENTS.len();
                let run = once(dir, CLIENTS[i], &input, bytes)
                    .map_err(|e| format!("{} {}: {e}", dir.name(), CLIENTS[i]))?;
                eprintln!(
                    "  process  {:<8} {:<5} #{}: {:.3} s, cpu {:.3} s",
                    dir.name(),
                    CLIENTS[i],
                    rep + 1,
                    run.wall.as_secs_f64(),
                    (run.user + run.sys).as_secs_f64()
                );
                all[i].push(run);
            }
        }
        for (i, mut v) in all.into_iter().enumerate() {
            v.sort_by_key(|r| r.wall);
            let wall = v[v.len() / 2].wall;
            v.sort_by_key(|r| r.user + r.sys);
            let mid = v[v.len() / 2];
            rows.push(Row {
                dir,
                client: CLIENTS[i],
                wall,
                user: mid.user,
                sys: mid.sys,
            });
        }
    }
    Ok(Section { bytes, runs, rows })
}

/// A file of `bytes` pseudo-random bytes under target/bench, made once.
fn input_file(bytes: u64) -> io::Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("process-input-{bytes}"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes) {
        return Ok(path);
    }
    let mut f = io::BufWriter::new(File::create(&path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut left = bytes;
    let mut block = [0u8; 64 * 1024];
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n])?;
        left -= n as u64;
    }
    f.flush()?;
    Ok(path)
}

/// A free loopback port (the kernel's choice, released for the peer).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The socat peer for `dir`, listening on `port` and forking a child per
/// connection (so the readiness probe does not use up the listener). The
/// source opens the file in each child, so every connection gets all of
/// it.
fn peer(dir: Dir, port: u16, input: &Path) -> io::Result<Child> {
    let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
    let mut cmd = Command::new("socat");
    match dir {
        Dir::Up => cmd.args(["-u", &listen, "STDOUT"]),
        Dir::Down => cmd.args(["-U", &listen, &format!("OPEN:{}", input.display())]),
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Bounded wait until it accepts.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "socat peer did not listen within 5 s",
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The client command for `dir`.
fn client(dir: Dir, name: &str, port: u16, input: &Path) -> io::Result<Command> {
    let p = port.to_string();
    let tcp = format!("TCP:127.0.0.1:{port}");
    let mut cmd = Command::new(match name {
        "ttc" => env!("CARGO_BIN_EXE_ttc"),
        other => other,
    });
    cmd.stdout(Stdio::null()).stdin(Stdio::null());
    match (dir, name) {
        (Dir::Up, "socat") => cmd.args(["-u", &format!("FILE:{}", input.display()), &tcp]),
        (Dir::Up, "nc") => cmd.args(["-N", "127.0.0.1", &p]).stdin(File::open(input)?),
        (Dir::Up, _) => cmd
            .args(["--no-progress", "--send"])
            .arg(input)
            .args(["127.0.0.1", &p]),
        (Dir::Down, "socat") => cmd.args(["-u", &tcp, "STDOUT"]),
        (Dir::Down, "nc") => cmd.args(["-d", "127.0.0.1", &p]),
        (Dir::Down, _) => cmd.args(["127.0.0.1", &p]),
    };
    Ok(cmd)
}

/// One client run against a fresh peer.
fn once(dir: Dir, name: &str, input: &Path, bytes: u64) -> Result<Run, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut server = peer(dir, port, input).map_err(|e| e.to_string())?;
    let result = (|| {
        let mut cmd = client(dir, name, port, input).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let mut child = cmd
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut stderr = child.stderr.take().ok_or("no stderr")?;
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let (status, user, sys) = wait4(&child).map_err(|e| e.to_string())?;
        let wall = start.elapsed();
        let err = reader.join().unwrap_or_default();
        if status != 0 {
            return Err(format!("exit status {status}: {}", err.trim()));
        }
        if name == "ttc" {
            // Every byte: the final line says how many moved.
            let key = match dir {
                Dir::Up => "sent",
                Dir::Down => "received",
            };
            let want = format!(" {key}={bytes} ");
            let last = err.lines().last().unwrap_or("");
            if !format!("{last} ").contains(&want) {
                return Err(format!("expected{want}in the final line, got {last:?}"));
            }
        }
        Ok(Run { wall, user, sys })
    })();
    let _ = server.kill();
    let _ = server.wait();
    result
}

/// Waits for `child` with `wait4(2)`: its exit status and its own CPU
/// times (not its children's, not ours).
#[allow(unsafe_code)]
fn wait4(child: &Child) -> io::Result<(i32, Duration, Duration)> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `ru` are valid, writable places; `pid` is
        // our own child, which std has not reaped (we never call its
        // wait).
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if rc == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, tv(ru.ru_utime), tv(ru.ru_stime)))
}

/// The section as a table: per direction and client, wall time, CPU,
/// throughput, and the ratios to socat (throughput: higher is better;
/// CPU: lower is better).
pub fn table(s: &Section) -> String {
    let mib = s.bytes as f64 / (1024.0 * 1024.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "whole processes: {mib:.0} MiB over loopback against a socat peer, median of {} runs",
        s.runs
    );
    let _ = writeln!(
        out,
        "{:<9} {:<6} {:>8} {:>9} {:>8} {:>8} {:>9} {:>13} {:>10}",
        "direction",
        "client",
        "wall s",
        "MiB/s",
        "user s",
        "sys s",
        "CPU s",
        "speed/socat",
        "CPU/socat"
    );
    for dir in [Dir::Up, Dir::Down] {
        let base = s.rows.iter().find(|r| r.dir == dir && r.client == "socat");
        for r in s.rows.iter().filter(|r| r.dir == dir) {
            let speed = mib / r.wall.as_secs_f64().max(1e-9);
            let (speed_ratio, cpu_ratio) = match base {
                Some(b) => (
                    b.wall.as_secs_f64() / r.wall.as_secs_f64().max(1e-9),
                    r.cpu().as_secs_f64() / b.cpu().as_secs_f64().max(1e-9),
                ),
                None => (f64::NAN, f64::NAN),
            };
            let _ = writeln!(
                out,
                "{:<9} {:<6} {:>8.3} {:>9.0} {:>8.3} {:>8.3} {:>9.3} {:>12.2}x {:>9.2}x",
                dir.name(),
                r.client,
                r.wall.as_secs_f64(),
                speed,
                r.user.as_secs_f64(),
                r.sys.as_secs_f64(),
                r.cpu().as_secs_f64(),
                speed_ratio,
                cpu_ratio
            );
        }
    }
    // The goal: at least as fast as the faster of socat and nc, at no
    // more than socat's CPU, both ways (stretch: no more than nc's CPU).
    for dir in [Dir::Up, Dir::Down] {
        let row = |c: &str| s.rows.iter().find(|r| r.dir == dir && r.client == c);
        let (Some(ttc), Some(socat), Some(nc)) = (row("ttc"), row("socat"), row("nc")) else {
            continue;
        };
        let fastest = socat.wall.min(nc.wall).as_secs_f64();
        let speed = fastest / ttc.wall.as_secs_f64().max(1e-9);
        let cpu = ttc.cpu().as_secs_f64() / socat.cpu().as_secs_f64().max(1e-9);
        let cpu_nc = ttc.cpu().as_secs_f64() / nc.cpu().as_secs_f64().max(1e-9);
        let met = |ok: bool| if ok { "met" } else { "missed" };
        let _ = writeln!(
            out,
            "goal {}: speed/fastest(socat, nc) {speed:.2}x >= 1.0x: {}; CPU/socat {cpu:.2}x <= 1.0x: {}; stretch CPU/nc {cpu_nc:.2}x <= 1.0x: {}",
            dir.name(),
            met(speed >= 1.0),
            met(cpu <= 1.0),
            met(cpu_nc <= 1.0)
        );
    }
    out
}

/// The section as JSON (an array of objects), for the results file.
pub fn json(s: &Section) -> String {
    let rows: Vec<String> = s
        .rows
        .iter()
        .map(|r| {
            format!(
                "{{\"direction\":\"{}\",\"client\":\"{}\",\"bytes\":{},\"wall_s\":{:.6},\"user_s\":{:.6},\"sys_s\":{:.6}}}",
                r.dir.name(),
                r.client,
                s.bytes,
                r.wall.as_secs_f64(),
                r.user.as_secs_f64(),
                r.sys.as_secs_f64()
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}
