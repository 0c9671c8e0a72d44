//! The `ttc` binary, driven for real against the host harness's loopback
//! servers: the pipe (binary data, half-close reply), the initial message,
//! `--send` with and without `--rate`, the signal lines (text and JSON),
//! SIGINT/SIGTERM, every exit status and every bad-input case, `demo` and
//! `serve`. Under QEMU the binary runs through the same emulator
//! (`support::ttc_command`).
//!
//! Every wait is bounded (`support::SOON`); a child still running when a
//! test ends is killed.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{fnv1a, OneShot, Peer, SOON};

// ---------------------------------------------------------------------------
// Running the binary

/// A running `ttc`: its stderr arrives line by line, its stdout is
/// collected. Killed on drop if it is still running.
struct Ttc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stdout_lines: Option<Receiver<String>>,
}

/// What to do with the child's stdout.
#[derive(Clone, Copy, PartialEq)]
enum Out {
    /// Collect it all, for `Outcome::stdout`.
    Collect,
    /// Read it line by line as it comes (`ttc serve`).
    Lines,
    /// Close our end at once: the child's writes fail with EPIPE.
    Close,
    /// `/dev/full`: the child's writes fail with ENOSPC.
    Full,
}

/// The logging environment of the child.
#[derive(Clone, Copy)]
enum Log<'a> {
    /// `TTC_LOG` set to this level (and `RUST_LOG` unset).
    Level(&'a str),
    /// Neither `TTC_LOG` nor `RUST_LOG` set: ttc's own default.
    Unset,
}

/// How a run ended.
#[derive(Debug)]
struct Outcome {
    code: Option<i32>,
    stdout: Vec<u8>,
    lines: Vec<String>,
}

impl Outcome {
    fn last_line(&self) -> &str {
        self.lines.last().map(String::as_str).unwrap_or("")
    }

    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn has_line(&self, prefix: &str) -> bool {
        self.lines.iter().any(|l| l.starts_with(prefix))
    }
}

fn spawn(args: &[&str]) -> Ttc {
    spawn_with(args, Out::Collect)
}

fn spawn_with(args: &[&str], out: Out) -> Ttc {
    spawn_logging(args, out, Log::Level("off"))
}

fn spawn_logging(args: &[&str], out: Out, log: Log<'_>) -> Ttc {
    let mut cmd = support::ttc_command();
    cmd.args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_LOG");
    match log {
        Log::Level(level) => cmd.env("TTC_LOG", level),
        Log::Unset => cmd.env_remove("TTC_LOG"),
    };
    match out {
        Out::Full => {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("open /dev/full");
            cmd.stdout(full)
        }
        _ => cmd.stdout(Stdio::piped()),
    };
    let mut child = cmd.spawn().expect("start ttc");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    let (mut stdout, mut stdout_lines) = (None, None);
    match (out, child.stdout.take()) {
        (Out::Collect, Some(child_out)) => {
            stdout = Some(std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = { child_out }.read_to_end(&mut v);
                v
            }))
        }
        (Out::Lines, Some(child_out)) => {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for l in BufReader::new(child_out).lines().map_while(Result::ok) {
                    if tx.send(l).is_err() {
                        return;
                    }
                }
            });
            stdout_lines = Some(rx);
        }
        // Close: our end is dropped here. Full: there is no pipe.
        _ => {}
    }
    let stdin = child.stdin.take();
    Ttc {
        child,
        stdin,
        lines,
        seen: Vec::new(),
        stdout,
        stdout_lines,
    }
}

impl Ttc {
    /// Writes `data` to stdin on a thread, then closes stdin.
    fn feed(&mut self, data: Vec<u8>) {
        let mut stdin = self.stdin.take().expect("stdin still open");
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }

    /// Writes `data` to stdin now, keeping it open.
    fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }

    fn close_stdin(&mut self) {
        self.stdin.take();
    }

    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Waits (at most `SOON`) for a stderr line starting with `prefix`.
    fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + SOON;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(e) => panic!("no line {prefix:?} ({e:?}); saw {:?}", self.seen),
            }
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) takes plain integers and touches no memory. The
        // child is ours and not yet reaped, so its pid cannot have been
        // reused by another process.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits (at most `within`) for the process to end and collects what
    /// it printed.
    fn finish_within(mut self, within: Duration) -> Outcome {
        self.close_stdin();
        let deadline = Instant::now() + within;
        // Stderr closes when the process ends.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("ttc did not end within {within:?}; saw {:?}", self.seen)
                }
            }
        }
        let mut status = None;
        let ended = support::eventually(SOON, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(ended, "ttc closed stderr but did not exit");
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap())
            .unwrap_or_default();
        Outcome {
            code: status.unwrap().code(),
            stdout,
            lines: std::mem::take(&mut self.seen),
        }
    }

    fn finish(self) -> Outcome {
        self.finish_within(SOON)
    }
}

impl Drop for Ttc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `ttc args` with `input` on stdin to its end.
fn run(args: &[&str], input: &[u8]) -> Outcome {
    let mut t = spawn(args);
    t.feed(input.to_vec());
    t.finish()
}

/// Asserts a clean end: exit 0, the shutdown line last with `reason`.
fn assert_clean(o: &Outcome, reason: &str) {
    assert_eq!(o.code, Some(0), "{o:?}");
    let want = format!("ttc: socket_shutdown reason={reason} ");
    assert!(o.last_line().starts_with(&want), "{o:?}");
    assert_eq!(
        o.lines
            .iter()
            .filter(|l| l.contains("socket_shutdown"))
            .count(),
        1
    );
}

/// Asserts a usage error: exit 2, one line on stderr that contains `want`,
/// nothing on stdout, no panic.
fn assert_usage_error(args: &[&str], want: &str) {
    let o = run(args, b"");
    assert_eq!(o.code, Some(2), "{args:?}: {o:?}");
    assert_eq!(o.lines.len(), 1, "{args:?}: {o:?}");
    let line = &o.lines[0];
    assert!(
        line.starts_with("ttc: ") && line.contains(want),
        "{args:?}: {line}"
    );
    assert!(!line.contains("panicked"), "{line}");
    assert!(o.stdout.is_empty(), "{args:?}: {o:?}");
}

/// Asserts a network error: exit 1, an error line with `phase` and
/// `kind`, then the shutdown line with reason error.
fn assert_network_error(o: &Outcome, phase: &str, kind: &str) {
    assert_eq!(o.code, Some(1), "{o:?}");
    let err = format!("ttc: error phase={phase} kind={kind} message=\"");
    assert!(o.has_line(&err), "want {err:?} in {o:?}");
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=error "),
        "{o:?}"
    );
}

/// A numeric field `key=N` of a text line.
fn field(line: &str, key: &str) -> u64 {
    let pat = format!(" {key}=");
    let start = line
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + pat.len();
    line[start..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {line}"))
}

fn port_arg(addr: SocketAddr) -> String {
    addr.port().to_string()
}

/// A file in the temp directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str, contents: &[u8]) -> TempFile {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ttc-cli-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every byte value, many times over, in an order that is not periodic.
fn binary_data(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..=255u8).collect();
    v.resize(len, 0);
    support::fill_pattern(0, &mut v[256..]);
    v
}

/// A server that reads until the client half-closes, then replies
/// `received N` and closes: what arrives after the client's half-close.
fn reply_after_eof() -> OneShot<Vec<u8>> {
    OneShot::spawn(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(format!("received {}\n", got.len()).as_bytes())
            .unwrap();
        got
    })
}

/// A listener whose accept queue is full: a new connection's SYN is
/// dropped, so connecting to it hangs until the client's timeout.
fn blackhole() -> (socket2::Socket, Vec<TcpStream>, u16) {
    use socket2::{Domain, Socket, Type};
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => held.push(s),
            Err(_) => return (l, held, addr.port()),
        }
    }
    panic!("the accept queue never filled");
}

/// True while some socket on this machine is connecting (SYN_SENT) to
/// 127.0.0.1:`port`, per /proc/net/tcp.
fn syn_sent_to(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(2) == Some(&remote.as_str()) && f.get(3) == Some(&"02")
    })
}

/// Accepts the one connection ttc makes to `listener`, waiting at most
/// `SOON`.
fn accept_within(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let mut conn = None;
    let accepted = support::eventually(SOON, || match listener.accept() {
        Ok((s, _)) => {
            conn = Some(s);
            true
        }
        Err(_) => false,
    });
    assert!(accepted, "ttc never connected");
    let conn = conn.unwrap();
    conn.set_nonblocking(false).unwrap();
    conn
}

/// Bytes waiting to be read in a pipe (either end) or a socket's receive
/// queue (FIONREAD).
fn unread(fd: RawFd) -> u64 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through the pointer, which points
    // to a live local; `fd` is open for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as u64
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: F_GETFL and F_SETFL take and return plain integers; `fd` is
    // open for the duration of the calls.
    let rc = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK)
    };
    assert_eq!(rc, 0, "fcntl: {}", std::io::Error::last_os_error());
}

/// How long nothing may move before a transfer to a server that does not
/// read counts as stalled (see `fill_until_stalled`).
const QUIET: Duration = Duration::from_millis(400);

/// Feeds ttc's stdin until its backpressure reaches us: the server `conn`
/// never reads, so its receive queue, ttc's socket, inbox and input buffer
/// fill, and then the pipe to ttc's stdin. Stalled means the pipe stays
/// full (a non-blocking write finds no room) and the server's receive
/// queue stays the same for `QUIET`; a ttc that is merely slow takes some
/// bytes within that time. Returns the bytes written; panics after `SOON`.
/// Leaves `stdin` non-blocking.
fn fill_until_stalled(stdin: &mut ChildStdin, conn: &TcpStream) -> u64 {
    set_nonblocking(stdin.as_raw_fd());
    let block = vec![0x5au8; 64 * 1024];
    let mut written = 0u64;
    let deadline = Instant::now() + SOON;
    let mut queued = unread(conn.as_raw_fd());
    let mut moved_at = Instant::now();
    loop {
        let now = Instant::now();
        assert!(
            now < deadline,
            "ttc never stalled ({written} bytes written, {queued} queued at the server)"
        );
        match stdin.write(&block) {
            Ok(n) => {
                written += n as u64;
                moved_at = now;
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("writing ttc's stdin: {e}"),
        }
        let q = unread(conn.as_raw_fd());
        if q != queued {
            queued = q;
            moved_at = now;
        } else if now - moved_at >= QUIET {
            assert!(queued > 0, "the server received nothing");
            return written;
        }
        // Pacing a poll of kernel queues, which have no event to wait on.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads what the server `conn` was sent, to the end (ttc has exited, so
/// its kernel delivers the rest and closes), at most `SOON`.
fn read_rest(mut conn: TcpStream) -> u64 {
    conn.set_read_timeout(Some(SOON)).unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).expect("server read to the end");
    got.len() as u64
}

// ---------------------------------------------------------------------------
// A tiny JSON reader for the flat objects `--json` prints.

#[derive(Debug, PartialEq)]
enum Json {
    Str(String),
    Num(u64),
}

fn parse_json_object(line: &str) -> Vec<(String, Json)> {
    let mut chars = line.chars().peekable();
    let mut out = Vec::new();
    let expect = |c: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        assert_eq!(chars.next(), Some(c), "in {line}");
    };
    fn string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, line: &str) -> String {
        assert_eq!(chars.next(), Some('"'), "in {line}");
        let mut s = String::new();
        loop {
            match chars
                .next()
                .unwrap_or_else(|| panic!("unterminated in {line}"))
            {
                '"' => return s,
                '\\' => match chars.next().unwrap() {
                    '"' => s.push('"'),
                    '\\' => s.push('\\'),
                    '/' => s.push('/'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        let v = u32::from_str_radix(&hex, 16).unwrap();
                        s.push(char::from_u32(v).unwrap());
                    }
                    c => panic!("bad escape \\{c} in {line}"),
                },
                c if (c as u32) < 0x20 => panic!("raw control character in {line}"),
                c => s.push(c),
            }
        }
    }
    expect('{', &mut chars);
    loop {
        let key = string(&mut chars, line);
        expect(':', &mut chars);
        let value = if chars.peek() == Some(&'"') {
            Json::Str(string(&mut chars, line))
        } else {
            let mut digits = String::new();
            while let Some(c) = chars.peek().filter(|c| c.is_ascii_digit()) {
                digits.push(*c);
                chars.next();
            }
            Json::Num(digits.parse().unwrap_or_else(|_| panic!("value in {line}")))
        };
        out.push((key, value));
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => panic!("unexpected {other:?} in {line}"),
        }
    }
    assert_eq!(chars.next(), None, "trailing text in {line}");
    out
}

fn get<'a>(obj: &'a [(String, Json)], key: &str) -> &'a Json {
    &obj.iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {obj:?}"))
        .1
}

fn s(v: &str) -> Json {
    Json::Str(v.into())
}

#[test]
fn test_json_reader_reads_escapes() {
    let o = parse_json_object(r#"{"a":"x\"y\\z\n\u0001","n":42}"#);
    assert_eq!(o[0], ("a".into(), s("x\"y\\z\n\u{1}")));
    assert_eq!(o[1], ("n".into(), Json::Num(42)));
}

// ---------------------------------------------------------------------------
// The pipe

#[test]
fn pipe_roundtrip_is_byte_exact_for_binary_data() {
    let server = support::start(Peer::Echo);
    let data = binary_data(48 * 1024 + 7);
    let o = run(&["127.0.0.1", &port_arg(server.addr)], &data);
    assert_clean(&o, "finished");
    assert!(
        o.stdout == data,
        "echoed bytes differ ({} of {})",
        o.stdout.len(),
        data.len()
    );
    let n = data.len() as u64;
    assert_eq!(field(o.last_line(), "sent"), n);
    assert_eq!(field(o.last_line(), "received"), n);
    assert_eq!(field(o.last_line(), "unsent"), 0);
    assert_eq!(o.lines[0], format!("ttc: connected {}", server.addr));
    let seen = server.next_report();
    assert_eq!((seen.received, seen.hash), (n, fnv1a(&data)));
}

#[test]
fn stdin_eof_half_closes_and_the_reply_is_still_printed() {
    let server = reply_after_eof();
    let o = run(&["127.0.0.1", &port_arg(server.addr)], b"twelve bytes");
    assert_eq!(server.result(), b"twelve bytes");
    assert_eq!(o.stdout_text(), "received 12\n");
    assert_clean(&o, "finished");
    assert!(o.has_line("ttc: peer_closed"), "{o:?}");
    assert_eq!(field(o.last_line(), "received"), 12);
}

#[test]
fn server_close_ends_the_session_even_with_stdin_open() {
    let server = support::half_close(b"bye\n");
    let mut t = spawn(&["127.0.0.1", &port_arg(server.addr)]);
    // Stdin stays open: the server's close alone ends the session.
    let line = t.wait_line("ttc: socket_shutdown");
    assert!(
        line.starts_with("ttc: socket_shutdown reason=peer_closed "),
        "{line}"
    );
    let o = t.finish();
    assert_clean(&o, "peer_closed");
    assert_eq!(o.stdout_text(), "bye\n");
    assert_eq!(server.result().ending, support::Ending::Eof);
}

#[test]
fn initial_text_arrives_before_stdin_data() {
    let server = support::silent(SOON);
    let o = run(
        &["--initial", "HELLO ", "127.0.0.1", &port_arg(server.addr)],
        b"world",
    );
    assert_clean(&o, "finished");
    assert_eq!(server.result().received, b"HELLO world");
    assert_eq!(field(o.last_line(), "sent"), 11);
}

#[test]
fn initial_file_arrives_before_stdin_data() {
    let server = support::silent(SOON);
    let initial = binary_data(300);
    let f = TempFile::new("initial", &initial);
    let o = run(
        &[
            "--initial-file",
            f.path(),
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"after",
    );
    assert_clean(&o, "finished");
    let mut want = initial.clone();
    want.extend_from_slice(b"after");
    assert_eq!(server.result().received, want);
}

#[test]
fn stdout_closed_by_the_reader_stops_cleanly_without_a_panic() {
    let server = support::start(Peer::Burst(4 << 20));
    // Nobody reads stdout: the first write fails with EPIPE.
    let t = spawn_with(&["127.0.0.1", &port_arg(server.addr)], Out::Close);
    let o = t.finish();
    assert!(!o.lines.iter().any(|l| l.contains("panicked")), "{o:?}");
    assert_clean(&o, "shutdown");
}

#[test]
fn stdout_write_failure_exits_1_with_an_output_error() {
    let server = support::start(Peer::Burst(1 << 20));
    // Every write to /dev/full fails with ENOSPC.
    let t = spawn_with(&["127.0.0.1", &port_arg(server.addr)], Out::Full);
    let o = t.finish();
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.has_line("ttc: error phase=output kind=StorageFull message=\""),
        "{o:?}"
    );
    assert!(!o.lines.iter().any(|l| l.contains("panicked")), "{o:?}");
    // The client was stopped, and said so last.
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=shutdown "),
        "{o:?}"
    );
}

// ---------------------------------------------------------------------------
// --send and --rate

#[test]
fn send_file_reaches_the_sink_with_matching_bytes_and_hash() {
    let server = support::start(Peer::Sink);
    let data = binary_data(300 * 1024 + 11);
    let f = TempFile::new("send", &data);
    let o = run(
        &["--send", f.path(), "127.0.0.1", &port_arg(server.addr)],
        b"",
    );
    assert_clean(&o, "finished");
    let seen = server.next_report();
    assert_eq!(seen.received, data.len() as u64);
    assert_eq!(seen.hash, fnv1a(&data));
    assert_eq!(field(o.last_line(), "sent"), data.len() as u64);
}

#[test]
fn send_with_rate_holds_the_average_rate_within_5_percent() {
    const RATE: u64 = 40_000;
    const LEN: usize = 100_000; // 2.5 s at RATE
                                // A sink that times every read. The rate over the run is measured from
                                // the first byte to the last, so the time to start the process and to
                                // connect (long under QEMU) is not counted against the pacing.
    let server = OneShot::spawn(|mut s: TcpStream| {
        let accepted = Instant::now();
        let mut got = Vec::new();
        let mut reads: Vec<(Instant, usize)> = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    reads.push((Instant::now(), got.len()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("sink read: {e}"),
            }
        }
        (got, reads, accepted.elapsed())
    });
    let data = binary_data(LEN);
    let f = TempFile::new("rate", &data);
    let rate = RATE.to_string();
    let o = run(
        &[
            "--send",
            f.path(),
            "--rate",
            &rate,
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"",
    );
    assert_clean(&o, "finished");
    let (got, reads, whole) = server.result();
    assert!(got == data, "sink got {} bytes", got.len());
    let (first, first_len) = reads[0];
    let (last, _) = *reads.last().unwrap();
    let span = last - first;
    assert!(
        span >= Duration::from_secs(2),
        "a run of 2 s or more: {span:?}"
    );
    let measured = (LEN - first_len) as f64 / span.as_secs_f64();
    let error = (measured - RATE as f64).abs() / RATE as f64;
    assert!(
        error <= 0.05,
        "rate {measured:.0} B/s from first to last byte ({span:?}; {whole:?} \
         from accept to end), wanted {RATE} ± 5 %"
    );
}

#[test]
fn send_without_rate_goes_as_fast_as_the_connection_allows() {
    // 4 MiB would take minutes at any pacing; unpaced it is quick even
    // under QEMU.
    let server = support::start(Peer::Sink);
    let data = binary_data(4 << 20);
    let f = TempFile::new("fast", &data);
    let t = Instant::now();
    let o = run(
        &["--send", f.path(), "127.0.0.1", &port_arg(server.addr)],
        b"",
    );
    assert_clean(&o, "finished");
    assert_eq!(server.next_report().received, data.len() as u64);
    assert!(t.elapsed() < SOON);
}

#[test]
fn zero_rate_is_a_usage_error() {
    let f = TempFile::new("zero", b"x");
    assert_usage_error(
        &["--send", f.path(), "--rate", "0", "127.0.0.1", "9"],
        "invalid rate '0'",
    );
}

#[test]
fn missing_send_file_is_a_usage_error() {
    assert_usage_error(
        &["--send", "/nonexistent/ttc-file", "127.0.0.1", "9"],
        "cannot read --send file '/nonexistent/ttc-file'",
    );
}

#[test]
fn missing_initial_file_is_a_usage_error() {
    assert_usage_error(
        &["--initial-file", "/nonexistent/ttc-init", "127.0.0.1", "9"],
        "cannot read --initial-file",
    );
}

#[test]
fn progress_line_shows_bytes_and_ends_before_the_shutdown_line() {
    let server = support::start(Peer::Sink);
    let data = binary_data(20_000);
    let f = TempFile::new("progress", &data);
    let o = run(
        &[
            "--send",
            f.path(),
            "--rate",
            "20000",
            "--progress",
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"",
    );
    // The progress line redraws in place ("\r" + text + erase to end of
    // line); a signal line first erases it, so what a terminal shows of
    // each stderr line is the text after its last erase.
    let raw = o.lines.join("\n");
    assert!(raw.contains("\rttc: sent "), "{raw}");
    assert!(raw.contains(" of 19.5 KiB ("), "{raw}");
    // Some redraw shows a rate and, with it, an ETA:
    // "ttc: sent 9.8 KiB of 19.5 KiB (50%) at 19.5 KiB/s, ETA 0:01".
    let with_eta = raw
        .split('\r')
        .filter_map(|d| d.strip_prefix("ttc: sent "))
        .map(|d| d.split("\x1b[K").next().unwrap())
        .find_map(|d| {
            let (_, rate_eta) = d.split_once(" at ")?;
            let (rate, eta) = rate_eta.split_once("/s, ETA ")?;
            let (min, sec) = eta.split_once(':')?;
            let numeric = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
            let rate_num = rate.split(' ').next()?;
            (numeric(min) && sec.len() == 2 && numeric(sec) && rate_num != "0")
                .then(|| (rate.to_string(), eta.to_string()))
        });
    assert!(with_eta.is_some(), "no rate and ETA in {raw:?}");
    let shown: Vec<String> = o
        .lines
        .iter()
        .map(|l| l.rsplit("\x1b[K").next().unwrap().to_string())
        .collect();
    let o = Outcome { lines: shown, ..o };
    assert_clean(&o, "finished");
    assert_eq!(field(o.last_line(), "sent"), 20_000);
    server.next_report();
}

// ---------------------------------------------------------------------------
// Signal lines

/// `--keepalive` beyond what Linux takes for TCP_KEEPIDLE (32767 s): the
/// library logs a warning ("could not set SO_KEEPALIVE") and goes on.
const KEEPALIVE_WARNED: &str = "40000";

/// Runs `ttc args HOST PORT` against an echo server with `abc` on stdin,
/// and the logging environment `log`.
fn run_logging(args: &[&str], log: Log<'_>) -> Outcome {
    let server = support::start(Peer::Echo);
    let port = port_arg(server.addr);
    let mut all = args.to_vec();
    all.extend(["127.0.0.1", &port]);
    let mut t = spawn_logging(&all, Out::Collect, log);
    t.feed(b"abc".to_vec());
    t.finish()
}

#[test]
fn json_lines_parse_and_the_shutdown_line_is_last() {
    let server = support::start(Peer::Echo);
    // With the logging environment unset (ttc's default) and a warning
    // from the library: --json turns log lines off, so every line is
    // still one JSON object.
    let mut t = spawn_logging(
        &[
            "--json",
            "--keepalive",
            KEEPALIVE_WARNED,
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        Out::Collect,
        Log::Unset,
    );
    t.feed(b"abc".to_vec());
    let o = t.finish();
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(o.stdout, b"abc");
    let objs: Vec<_> = o.lines.iter().map(|l| parse_json_object(l)).collect();
    let names: Vec<&Json> = objs.iter().map(|o| get(o, "signal")).collect();
    assert_eq!(
        names,
        [&s("connected"), &s("peer_closed"), &s("socket_shutdown")]
    );
    assert_eq!(get(&objs[0], "peer"), &s(&server.addr.to_string()));
    let last = objs.last().unwrap();
    assert_eq!(get(last, "reason"), &s("finished"));
    assert_eq!(get(last, "sent"), &Json::Num(3));
    assert_eq!(get(last, "received"), &Json::Num(3));
    assert_eq!(get(last, "unsent"), &Json::Num(0));
}

#[test]
fn log_lines_show_outside_json_mode_or_when_asked_for() {
    // The warning the JSON test relies on is real: plain text mode shows it
    // at the default level...
    let o = run_logging(&["--keepalive", KEEPALIVE_WARNED], Log::Unset);
    assert_clean(&o, "finished");
    assert!(o.has_line("WARN "), "{o:?}");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("could not set SO_KEEPALIVE")),
        "{o:?}"
    );
    // ...and --json shows it when TTC_LOG asks for it.
    let o = run_logging(
        &["--json", "--keepalive", KEEPALIVE_WARNED],
        Log::Level("warn"),
    );
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.lines
            .iter()
            .any(|l| l.contains("could not set SO_KEEPALIVE")),
        "{o:?}"
    );
}

#[test]
fn json_error_line_carries_phase_kind_and_message() {
    let port = support::refused_port().to_string();
    let o = run(&["--json", "127.0.0.1", &port], b"");
    assert_eq!(o.code, Some(1), "{o:?}");
    let objs: Vec<_> = o.lines.iter().map(|l| parse_json_object(l)).collect();
    assert_eq!(objs.len(), 2, "{o:?}");
    assert_eq!(get(&objs[0], "signal"), &s("error"));
    assert_eq!(get(&objs[0], "phase"), &s("connect"));
    assert_eq!(get(&objs[0], "kind"), &s("ConnectionRefused"));
    assert!(matches!(get(&objs[0], "message"), Json::Str(m) if !m.is_empty()));
    assert_eq!(get(&objs[1], "signal"), &s("socket_shutdown"));
    assert_eq!(get(&objs[1], "reason"), &s("error"));
}

// ---------------------------------------------------------------------------
// SIGINT and SIGTERM

fn stop_idle_connection_with(sig: libc::c_int, status: i32) {
    let server = support::start(Peer::Echo);
    let mut t = spawn_with(&["127.0.0.1", &port_arg(server.addr)], Out::Lines);
    t.wait_line("ttc: connected");
    t.write(b"ping\n");
    let echoed = t.stdout_lines.as_ref().unwrap().recv_timeout(SOON);
    assert_eq!(echoed.as_deref(), Ok("ping"));
    // Stdin stays open and the server has nothing more to say: the
    // connection is idle and only the signal can end it.
    let sent_at = Instant::now();
    t.signal(sig);
    // Wait for the end with stdin still open: closing it first would race
    // an end-of-input ProducerFinished against the signal.
    t.wait_line("ttc: socket_shutdown");
    let o = t.finish();
    assert!(sent_at.elapsed() < SOON);
    assert_eq!(o.code, Some(status), "{o:?}");
    assert_eq!(
        o.last_line(),
        "ttc: socket_shutdown reason=shutdown sent=5 received=5 unsent=0 attempts=1"
    );
    assert_eq!(server.next_report().received, 5);
}

#[test]
fn sigint_stops_an_idle_connection_and_prints_the_shutdown_line() {
    stop_idle_connection_with(libc::SIGINT, 130);
}

#[test]
fn sigterm_stops_an_idle_connection_and_prints_the_shutdown_line() {
    stop_idle_connection_with(libc::SIGTERM, 143);
}

#[test]
fn sigint_with_a_backlog_accounts_for_every_byte() {
    // A server that accepts and never reads.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut t = spawn(&["127.0.0.1", &port_arg(addr)]);
    let conn = accept_within(&listener);
    t.wait_line("ttc: connected");
    // Kept open to the end: an end of input would race a ProducerFinished
    // against the signal.
    let mut stdin = t.stdin.take().unwrap();
    let written = fill_until_stalled(&mut stdin, &conn);
    // What ttc read from its stdin: the rest still sits in the pipe.
    let taken = written - unread(stdin.as_raw_fd());
    t.signal(libc::SIGINT);
    t.wait_line("ttc: socket_shutdown");
    let o = t.finish();
    drop(stdin);
    assert_eq!(o.code, Some(130), "{o:?}");
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=shutdown "),
        "{o:?}"
    );
    let (sent, unsent) = (field(last, "sent"), field(last, "unsent"));
    // The backlog (inbox and write buffer) is reported, not lost.
    assert!(unsent > 0, "{last}");
    // Every accepted byte is sent or unsent; ttc's input buffer (16 KiB)
    // may hold bytes it read but could not hand over before the stop.
    assert!(sent + unsent <= taken, "{last}; ttc read {taken}");
    assert!(
        taken - (sent + unsent) <= 16 * 1024,
        "{last}; ttc read {taken}"
    );
    // Everything reported sent reached the server; nothing was invented.
    assert_eq!(read_rest(conn), sent, "{last}");
}

#[test]
fn second_sigint_exits_at_once_while_connecting() {
    let (_listener, _held, port) = blackhole();
    let port = port.to_string();
    // Connecting to a full accept queue hangs for the whole (long) connect
    // timeout; the first SIGINT asks for Shutdown, the second exits.
    let mut t = spawn(&["--connect-timeout", "60", "127.0.0.1", &port]);
    // Wait until it is connecting (so it has set up its signal handling):
    // its SYN_SENT socket shows in the kernel's table.
    let connecting = support::eventually(SOON, || syn_sent_to(port.parse().unwrap()));
    assert!(connecting, "ttc never started connecting");
    let start = Instant::now();
    // Signals sent close together may merge into one, so repeat (a bounded
    // number of times) until the process is gone.
    let mut gone = false;
    for _ in 0..100 {
        t.signal(libc::SIGINT);
        if support::eventually(Duration::from_millis(100), || {
            matches!(t.child.try_wait(), Ok(Some(_)))
        }) {
            gone = true;
            break;
        }
    }
    assert!(gone, "still running after repeated SIGINT");
    let o = t.finish();
    assert!(start.elapsed() < SOON, "took {:?}", start.elapsed());
    assert_eq!(o.code, Some(130), "{o:?}");
}

// ---------------------------------------------------------------------------
// Network errors: exit 1

#[test]
fn refused_port_exits_1_with_a_connect_error() {
    let port = support::refused_port().to_string();
    let o = run(&["127.0.0.1", &port], b"");
    assert_network_error(&o, "connect", "ConnectionRefused");
}

#[test]
fn unknown_host_exits_1_with_a_resolve_error() {
    let o = run(&["no-such-host.invalid", "80"], b"");
    assert_network_error(&o, "resolve", "NotFound");
}

#[test]
fn server_reset_exits_1_with_a_reset_error() {
    let server = support::reset_after(5);
    let mut t = spawn(&["127.0.0.1", &port_arg(server.addr)]);
    // Stdin stays open: the reset, not the end of input, ends the session.
    t.write(b"hello");
    let line = t.wait_line("ttc: error ");
    assert!(line.contains(" kind=ConnectionReset "), "{line}");
    let o = t.finish();
    assert_eq!(server.result(), 5);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=error "),
        "{o:?}"
    );
}

#[test]
fn connect_timeout_exits_1_with_a_timed_out_error() {
    let (_listener, _held, port) = blackhole();
    let o = run(
        &["--connect-timeout", "0.5", "127.0.0.1", &port.to_string()],
        b"",
    );
    assert_network_error(&o, "connect", "TimedOut");
}

#[test]
fn ipv6_only_against_an_ipv4_address_exits_1_with_a_resolve_error() {
    let o = run(&["-6", "127.0.0.1", "9"], b"");
    assert_network_error(&o, "resolve", "NotFound");
}

#[test]
fn write_timeout_exits_1_when_the_server_stops_reading() {
    let (release, hold) = mpsc::channel();
    let server = support::stalled(SOON, hold);
    let mut t = spawn(&[
        "--write-timeout",
        "0.5",
        "127.0.0.1",
        &port_arg(server.addr),
    ]);
    let mut stdin = t.stdin.take().unwrap();
    std::thread::spawn(move || {
        let block = vec![0u8; 64 * 1024];
        for _ in 0..(256 << 20) / block.len() {
            if stdin.write_all(&block).is_err() {
                return;
            }
        }
    });
    let o = t.finish();
    release.send(()).unwrap();
    assert_network_error(&o, "write", "TimedOut");
}

#[test]
fn server_close_with_bytes_left_unwritten_exits_1() {
    // A server that never reads and, once ttc's writes back up, half-closes
    // (shutdown Write): ttc sees the close, but cannot flush what it holds.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Long enough that the half-close (after QUIET) lands before it runs
    // out, even under QEMU; the timeout is counted from ttc's last write.
    let mut t = spawn(&["--write-timeout", "3", "127.0.0.1", &port_arg(addr)]);
    let conn = accept_within(&listener);
    t.wait_line("ttc: connected");
    // Kept open: the server's close, not the end of input, ends the session.
    let mut stdin = t.stdin.take().unwrap();
    let written = fill_until_stalled(&mut stdin, &conn);
    conn.shutdown(Shutdown::Write).unwrap();
    t.wait_line("ttc: peer_closed");
    let o = t.finish();
    drop(stdin);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(
        o.has_line("ttc: error phase=write kind=TimedOut message=\""),
        "{o:?}"
    );
    let last = o.last_line();
    assert!(
        last.starts_with("ttc: socket_shutdown reason=peer_closed "),
        "{o:?}"
    );
    let (sent, unsent) = (field(last, "sent"), field(last, "unsent"));
    assert!(unsent > 0, "{last}");
    assert!(sent + unsent <= written, "{last}; {written} written");
    assert_eq!(read_rest(conn), sent, "{last}");
}

// ---------------------------------------------------------------------------
// Settings passed through to the library

#[test]
fn linger_bounds_the_wait_for_a_server_that_never_closes() {
    // Reads to our half-close, then holds the connection open.
    let (done, hold) = mpsc::channel::<()>();
    let server = OneShot::spawn(move |mut s: TcpStream| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        let _ = hold.recv_timeout(SOON);
        got
    });
    let start = Instant::now();
    let o = run(
        &[
            "--linger",
            "0.3",
            "--delay",
            "--keepalive",
            "30",
            "-4",
            "127.0.0.1",
            &port_arg(server.addr),
        ],
        b"data",
    );
    let took = start.elapsed();
    done.send(()).unwrap();
    assert_clean(&o, "finished");
    assert!(took < SOON / 2, "took {took:?}");
    assert_eq!(server.result(), b"data");
}

// ---------------------------------------------------------------------------
// Usage errors: exit 2

#[test]
fn bad_port_is_a_usage_error() {
    assert_usage_error(&["127.0.0.1", "http"], "invalid port 'http'");
    assert_usage_error(&["127.0.0.1", "0"], "invalid port '0'");
    assert_usage_error(&["127.0.0.1", "65536"], "invalid port '65536'");
}

#[test]
fn unknown_option_is_a_usage_error() {
    assert_usage_error(
        &["--frobnicate", "127.0.0.1", "9"],
        "invalid option '--frobnicate'",
    );
}

#[test]
fn missing_arguments_are_a_usage_error() {
    assert_usage_error(&[], "missing HOST and PORT");
    assert_usage_error(&["127.0.0.1"], "missing HOST and PORT");
}

#[test]
fn bad_option_values_are_usage_errors() {
    assert_usage_error(
        &["--connect-timeout", "soon", "127.0.0.1", "9"],
        "invalid time 'soon'",
    );
    assert_usage_error(&["--rate", "10", "127.0.0.1", "9"], "--rate needs --send");
    assert_usage_error(&["--linger"], "missing argument for option '--linger'");
    assert_usage_error(&["serve", "chat"], "unknown peer 'chat'");
}

#[test]
fn help_and_version_exit_0() {
    let o = run(&["--help"], b"");
    assert_eq!(o.code, Some(0));
    let help = o.stdout_text();
    for want in [
        "Usage:",
        "ttc demo",
        "--rate",
        "Exit status:",
        "socket_shutdown",
        // A flush that fails after the server closed is an error.
        "could not be written",
        // Stopping during a pending connect, and the second signal.
        "connection attempts stop at once",
        "A second SIGINT/SIGTERM exits immediately",
        // --json turns log lines off.
        "TTC_LOG",
    ] {
        assert!(help.contains(want), "--help lacks {want:?}");
    }
    let o = run(&["--version"], b"");
    assert_eq!(o.code, Some(0));
    assert_eq!(
        o.stdout_text(),
        format!("ttc {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// ---------------------------------------------------------------------------
// demo and serve

#[test]
fn demo_prints_the_fortune_and_exits_0() {
    let o = run(&["demo"], b"");
    // Usually "finished"; "peer_closed" if the fortune server's close
    // was seen before our end of input: both are a clean end.
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=finished ")
            || o.last_line()
                .starts_with("ttc: socket_shutdown reason=peer_closed "),
        "{o:?}"
    );
    assert_eq!(o.stdout_text(), ttc::peers::FORTUNE);
    assert!(o.has_line("ttc: connected 127.0.0.1:"), "{o:?}");
    assert!(o.has_line("ttc: peer_closed"), "{o:?}");
    assert_eq!(
        field(o.last_line(), "received"),
        ttc::peers::FORTUNE.len() as u64
    );
}

#[test]
fn demo_json_prints_only_json_signal_lines() {
    // The logging environment unset: ttc's own default for --json.
    let mut t = spawn_logging(&["demo", "--json"], Out::Collect, Log::Unset);
    t.close_stdin();
    let o = t.finish();
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(!o.stdout.is_empty(), "{o:?}");
    assert_eq!(o.stdout_text(), ttc::peers::FORTUNE);
    let objs: Vec<_> = o.lines.iter().map(|l| parse_json_object(l)).collect();
    assert!(!objs.is_empty(), "{o:?}");
    for obj in &objs {
        get(obj, "signal");
    }
    let last = objs.last().unwrap();
    assert_eq!(get(last, "signal"), &s("socket_shutdown"), "{o:?}");
    // The demo finishes at once (no input), so it always ends "finished".
    assert_eq!(get(last, "reason"), &s("finished"), "{o:?}");
    assert_eq!(
        get(last, "received"),
        &Json::Num(ttc::peers::FORTUNE.len() as u64)
    );
    assert_eq!(
        objs.iter()
            .filter(|o| get(o, "signal") == &s("socket_shutdown"))
            .count(),
        1
    );
}

/// A running `ttc serve`, its stdout read line by line.
struct Serving {
    ttc: Ttc,
    lines: Receiver<String>,
    addr: SocketAddr,
}

fn serve(args: &[&str]) -> Serving {
    let mut ttc = spawn_with(args, Out::Lines);
    let lines = ttc.stdout_lines.take().unwrap();
    let first = lines.recv_timeout(SOON).expect("serve printed no address");
    let addr = if first.starts_with('{') {
        let obj = parse_json_object(&first);
        assert_eq!(get(&obj, "event"), &s("listening"));
        match get(&obj, "addr") {
            Json::Str(a) => a.parse().expect(&first),
            other => panic!("addr {other:?}"),
        }
    } else {
        let rest = first.strip_prefix("listening ").expect(&first);
        rest.split(' ').next().unwrap().parse().expect(&first)
    };
    Serving { ttc, lines, addr }
}

impl Serving {
    fn next_line(&self) -> String {
        self.lines.recv_timeout(SOON).expect("no line from serve")
    }

    fn stop(self) -> Outcome {
        self.ttc.signal(libc::SIGTERM);
        self.ttc.finish()
    }
}

#[test]
fn serve_sink_prints_its_address_then_bytes_and_hash_per_connection() {
    let srv = serve(&["serve", "sink", "--port", "0"]);
    assert!(srv.addr.ip().is_loopback(), "binds loopback by default");
    let data = binary_data(10_000);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(&data).unwrap();
    drop(s);
    let line = srv.next_line();
    assert!(line.starts_with("closed 127.0.0.1:"), "{line}");
    assert_eq!(field(&line, "received"), 10_000);
    assert!(
        line.ends_with(&format!(" hash={:016x}", fnv1a(&data))),
        "{line}"
    );
    let o = srv.stop();
    assert_eq!(o.code, Some(0), "{o:?}");
}

#[test]
fn serve_echo_works_with_the_ttc_client() {
    let srv = serve(&["serve", "echo", "--port", "0", "--bind", "127.0.0.1"]);
    let data = binary_data(20_000);
    let o = run(&["127.0.0.1", &port_arg(srv.addr)], &data);
    assert_clean(&o, "finished");
    assert!(o.stdout == data);
    let line = srv.next_line();
    assert_eq!(field(&line, "received"), 20_000);
    assert_eq!(field(&line, "sent"), 20_000);
    srv.stop();
}

#[test]
fn serve_burst_sends_the_pattern_and_closes() {
    let srv = serve(&["serve", "burst:5000", "--json"]);
    let mut conn = TcpStream::connect(srv.addr).unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    conn.shutdown(Shutdown::Both).unwrap();
    let mut want = vec![0u8; 5000];
    support::fill_pattern(0, &mut want);
    assert!(got == want);
    let obj = parse_json_object(&srv.next_line());
    assert_eq!(get(&obj, "event"), &s("closed"));
    assert_eq!(get(&obj, "sent"), &Json::Num(5000));
    srv.stop();
}

#[test]
fn serve_on_a_port_in_use_exits_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = run(&["serve", "echo", "--port", &port], b"");
    assert_eq!(o.code, Some(1), "{o:?}");
    assert_eq!(o.lines.len(), 1, "{o:?}");
    assert!(
        o.lines[0].starts_with("ttc: cannot listen on 127.0.0.1 port "),
        "{o:?}"
    );
}

#[test]
fn serve_fortune_sends_the_fortune_and_reports_the_connection() {
    let srv = serve(&["serve", "fortune"]);
    let mut conn = TcpStream::connect(srv.addr).unwrap();
    conn.set_read_timeout(Some(SOON)).unwrap();
    let mut got = Vec::new();
    // The server half-closes after its piece: read to that end.
    conn.read_to_end(&mut got).unwrap();
    let text = String::from_utf8(got).expect("the fortune is text");
    assert!(!text.trim().is_empty());
    assert_eq!(text, ttc::peers::FORTUNE);
    // It counts what arrives until we close too.
    conn.write_all(b"thanks").unwrap();
    let client = conn.local_addr().unwrap();
    drop(conn);
    let line = srv.next_line();
    assert!(line.starts_with(&format!("closed {client} ")), "{line}");
    assert_eq!(field(&line, "sent"), ttc::peers::FORTUNE.len() as u64);
    assert_eq!(field(&line, "received"), 6);
    assert!(
        line.ends_with(&format!(" hash={:016x}", fnv1a(b"thanks"))),
        "{line}"
    );
    let o = srv.stop();
    assert_eq!(o.code, Some(0), "{o:?}");
}

#[test]
fn serve_bad_port_or_bind_is_a_usage_error() {
    assert_usage_error(
        &["serve", "echo", "--port", "70000"],
        "invalid port '70000'",
    );
    assert_usage_error(&["serve", "echo", "--port", "abc"], "invalid port 'abc'");
    assert_usage_error(&["serve", "echo", "--port", "-1"], "invalid port '-1'");
    // An IP address, not a name to resolve (or an address with a port).
    for bad in ["not-an-address", "127.0.0.1:80", "", "300.1.2.3", "[::1"] {
        assert_usage_error(
            &["serve", "echo", "--bind", bad],
            &format!("invalid bind address '{bad}'"),
        );
    }
}
