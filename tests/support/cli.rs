//! The harness for tests/cli/: starts the built `ttc` binary (through
//! the same `qemu-*` under QEMU user-mode), feeds its stdin, reads its
//! stderr line by line and its stdout whole or by lines, and checks how a
//! run ended. tests/cli/ holds only the cases.
//!
//! ```ignore
//! let o = ttc(&["127.0.0.1", &port]).run(b"input");
//! assert_clean(&o, "finished");
//! let mut t = ttc(&["127.0.0.1", &port]).stdout(Out::Lines).spawn();
//! t.wait_line("ttc: connected");
//! ```
//!
//! Every wait is bounded (`SOON` unless said otherwise); a child still
//! running when its [`Ttc`] is dropped is killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{eventually, fill_pattern, SOON};

// ---------------------------------------------------------------------------
// Starting the binary

/// A command that starts the built `ttc` binary. Under QEMU user-mode (the
/// cargo runner sets `QEMU_LD_PREFIX`) the child is a foreign binary too,
/// so it is started through the matching `qemu-*`; on a native host or a
/// real device it runs directly. Never skips.
pub fn ttc_command() -> Command {
    command_for(env!("CARGO_BIN_EXE_ttc"))
}

/// A command that starts `exe`, a binary built for the target: through the
/// matching `qemu-*` under QEMU user-mode, directly otherwise.
pub fn command_for(exe: impl AsRef<std::ffi::OsStr>) -> Command {
    let qemu = if under_qemu() {
        if cfg!(target_arch = "arm") {
            Some("qemu-arm")
        } else if cfg!(target_arch = "aarch64") {
            Some("qemu-aarch64")
        } else {
            None
        }
    } else {
        None
    };
    match qemu {
        Some(q) => {
            let mut c = Command::new(q);
            c.arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

pub use super::under_qemu;

/// What to do with the child's stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// Collect it all, for `Outcome::stdout`.
    Collect,
    /// Read it line by line as it comes (`ttc serve`).
    Lines,
    /// Close our end at once: the child's writes fail with EPIPE.
    Close,
    /// `/dev/full`: the child's writes fail with ENOSPC.
    Full,
    /// A pipe nobody reads: once it is full the child's writes block.
    Stall,
}

/// The logging environment of the child.
#[derive(Clone, Copy, Debug)]
pub enum Log {
    /// `TTC_LOG` set to this level (and `RUST_LOG` unset).
    Level(&'static str),
    /// Neither `TTC_LOG` nor `RUST_LOG` set: ttc's own default.
    Unset,
}

/// `ttc ARGS`, not started yet: by default its stdout is collected and its
/// logging is off (`TTC_LOG=off`), so stderr holds only the signal lines.
#[derive(Debug)]
pub struct TtcCommand {
    args: Vec<String>,
    out: Out,
    log: Log,
    /// Extra environment variables for the child.
    env: Vec<(String, String)>,
    /// The child's stdin from this file instead of a pipe.
    stdin_file: Option<std::fs::File>,
    /// A command to start ttc through (`timeout -s INT 1`): it gets the
    /// ttc command line (qemu and all) as its arguments.
    wrapper: Vec<String>,
}

/// `ttc ARGS`, to set up further and then `spawn`, `run` or `serve`.
pub fn ttc(args: &[&str]) -> TtcCommand {
    TtcCommand {
        args: args.iter().map(|a| a.to_string()).collect(),
        out: Out::Collect,
        log: Log::Level("off"),
        env: Vec::new(),
        stdin_file: None,
        wrapper: Vec::new(),
    }
}

/// Runs `ttc args` with `input` on stdin to its end.
pub fn run(args: &[&str], input: &[u8]) -> Outcome {
    ttc(args).run(input)
}

impl TtcCommand {
    /// What to do with the child's stdout.
    pub fn stdout(mut self, out: Out) -> Self {
        self.out = out;
        self
    }

    /// The child's logging environment.
    pub fn log(mut self, log: Log) -> Self {
        self.log = log;
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The child's stdin is this file (a directory, a FIFO...), not a pipe.
    pub fn stdin_file(mut self, file: std::fs::File) -> Self {
        self.stdin_file = Some(file);
        self
    }

    /// Starts ttc through `wrapper` (a program and its first arguments,
    /// e.g. `timeout -s INT 1`), which gets the whole ttc command line,
    /// qemu included, after them. Exit status and output are the
    /// wrapper's.
    pub fn wrapped(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|a| a.to_string()).collect();
        self
    }

    /// Starts it, stdin open (unless it comes from a file).
    pub fn spawn(self) -> Ttc {
        let base = ttc_command();
        let mut cmd = match self.wrapper.split_first() {
            Some((program, first_args)) => {
                let mut c = Command::new(program);
                c.args(first_args)
                    .arg(base.get_program())
                    .args(base.get_args());
                c
            }
            None => base,
        };
        let stdin = match self.stdin_file {
            Some(f) => Stdio::from(f),
            None => Stdio::piped(),
        };
        cmd.args(&self.args)
            .stdin(stdin)
            .stderr(Stdio::piped())
            .env_remove("RUST_LOG");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        match self.log {
            Log::Level(level) => cmd.env("TTC_LOG", level),
            Log::Unset => cmd.env_remove("TTC_LOG"),
        };
        match self.out {
            Out::Full => {
                let full = std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .expect("open /dev/full");
                cmd.stdout(full)
            }
            _ => cmd.stdout(Stdio::piped()),
        };
        let mut child = super::spawn::spawn(&mut cmd).expect("start ttc");
        let stderr = child.stderr.take().unwrap();
        let lines = line_reader(stderr);
        let (mut stdout, mut stdout_lines, mut stalled) = (None, None, None);
        match (self.out, child.stdout.take()) {
            (Out::Collect, Some(child_out)) => {
                stdout = Some(std::thread::spawn(move || {
                    let mut v = Vec::new();
                    let _ = { child_out }.read_to_end(&mut v);
                    v
                }))
            }
            (Out::Lines, Some(child_out)) => stdout_lines = Some(line_reader(child_out)),
            (Out::Stall, Some(child_out)) => stalled = Some(child_out),
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
            stalled,
        }
    }

    /// Runs it with `input` on stdin to its end.
    pub fn run(self, input: &[u8]) -> Outcome {
        self.run_within(input, SOON)
    }

    /// Runs it with `input` on stdin to its end, for at most `limit`.
    pub fn run_within(self, input: &[u8], limit: Duration) -> Outcome {
        let mut t = self.spawn();
        t.feed(input.to_vec());
        t.finish_within(limit)
    }

    /// Starts `ttc serve ...` (these are its arguments) and waits for the
    /// address it prints first, in text or JSON.
    pub fn serve(self) -> TtcServe {
        let mut ttc = self.stdout(Out::Lines).spawn();
        let lines = ttc.stdout_lines.take().unwrap();
        let first = lines.recv_timeout(SOON).expect("serve printed no address");
        let addr = if first.starts_with('{') {
            let obj = json_line(&first);
            assert_eq!(text(&obj, "event"), "listening");
            text(&obj, "addr").parse().expect(&first)
        } else {
            let rest = first.strip_prefix("listening ").expect(&first);
            rest.split(' ').next().unwrap().parse().expect(&first)
        };
        TtcServe { ttc, lines, addr }
    }
}

/// Lines read from `from` on a thread, until it ends or fails.
fn line_reader(from: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    rx
}

// ---------------------------------------------------------------------------
// A running binary

/// A running `ttc`: its stderr arrives line by line, its stdout is
/// collected (or read by lines). Killed on drop if it is still running.
pub struct Ttc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stdout_lines: Option<Receiver<String>>,
    /// Our end of the stdout pipe with `Out::Stall`, never read.
    stalled: Option<std::process::ChildStdout>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// Stderr, line by line.
    pub lines: Vec<String>,
}

impl Outcome {
    pub fn last_line(&self) -> &str {
        self.lines.last().map(String::as_str).unwrap_or("")
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn has_line(&self, prefix: &str) -> bool {
        self.lines.iter().any(|l| l.starts_with(prefix))
    }
}

impl Ttc {
    /// Writes `data` to stdin on a thread, then closes stdin.
    pub fn feed(&mut self, data: Vec<u8>) {
        let mut stdin = self.take_stdin();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&data);
        });
    }

    /// Writes `data` to stdin now, keeping it open.
    pub fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }

    /// Takes the child's stdin, to write to it directly.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin still open")
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Whether the process has ended (without waiting).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits (at most `SOON`) for a stderr line starting with `prefix`.
    pub fn wait_line(&mut self, prefix: &str) -> String {
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

    /// The next stdout line (with `Out::Lines`), waiting at most `SOON`.
    pub fn next_stdout_line(&self) -> Result<String, RecvTimeoutError> {
        self.stdout_lines
            .as_ref()
            .expect("stdout is read by lines (Out::Lines)")
            .recv_timeout(SOON)
    }

    /// Bytes waiting in the unread stdout pipe (`Out::Stall`): when it
    /// holds a pipe's capacity, the child's next write to stdout blocks.
    pub fn stdout_backlog(&self) -> usize {
        use std::os::fd::AsRawFd;
        let out = self.stalled.as_ref().expect("stdout stalls (Out::Stall)");
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int into `n`, a valid place for it,
        // about a pipe fd we own.
        let rc = unsafe { libc::ioctl(out.as_raw_fd(), libc::FIONREAD, &mut n) };
        assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
        usize::try_from(n).unwrap_or(0)
    }

    /// Whether the child's main thread sleeps in a write to a full pipe
    /// (its kernel wait channel, /proc/PID/wchan: `pipe_write`,
    /// `anon_pipe_write` or `pipe_wait_writable`, by kernel version). Under
    /// QEMU user-mode the guest's main thread is the emulator's, so the
    /// same holds there.
    pub fn blocked_in_pipe_write(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/wchan", self.pid()))
            .is_ok_and(|w| w.contains("pipe_write") || w.contains("pipe_wait_writable"))
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) takes plain integers and touches no memory. The
        // child is ours and not yet reaped, so its pid cannot have been
        // reused by another process.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits (at most `within`) for the process to end and collects what
    /// it printed.
    pub fn finish_within(mut self, within: Duration) -> Outcome {
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
        let ended = eventually(SOON, || {
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

    pub fn finish(self) -> Outcome {
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

/// A running `ttc serve`, its stdout read line by line.
pub struct TtcServe {
    ttc: Ttc,
    lines: Receiver<String>,
    pub addr: SocketAddr,
}

impl TtcServe {
    /// The next line it prints, waiting at most `SOON`.
    pub fn next_line(&self) -> String {
        self.lines.recv_timeout(SOON).expect("no line from serve")
    }

    /// Stops it with SIGTERM and collects how it ended.
    pub fn stop(self) -> Outcome {
        self.ttc.signal(libc::SIGTERM);
        self.ttc.finish()
    }
}

// ---------------------------------------------------------------------------
// Checking how a run ended

/// Asserts a clean end: exit 0, the shutdown line last with `reason`.
pub fn assert_clean(o: &Outcome, reason: &str) {
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
pub fn assert_usage_error(args: &[&str], want: &str) {
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

/// Asserts a network error: exit 1, an error line with `phase`, `kind`
/// and a message, then the shutdown line with reason error.
pub fn assert_network_error(o: &Outcome, phase: &str, kind: &str) {
    assert_eq!(o.code, Some(1), "{o:?}");
    // (host= and port= may come between kind and message.)
    let err = format!("ttc: error phase={phase} kind={kind} ");
    assert!(
        o.lines
            .iter()
            .any(|l| l.starts_with(&err) && l.contains(" message=\"")),
        "want {err:?} in {o:?}"
    );
    assert!(
        o.last_line()
            .starts_with("ttc: socket_shutdown reason=error "),
        "{o:?}"
    );
}

/// A numeric field `key=N` of a text line.
pub fn field(line: &str, key: &str) -> u64 {
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

/// One JSON line as `--json` prints it: a flat object.
pub type JsonLine = serde_json::Map<String, serde_json::Value>;

/// Parses a `--json` line: exactly one JSON object, nothing after it, each
/// value a string, a non-negative integer or null (all that ttc prints;
/// null only for an unknown `input_left`).
pub fn json_line(line: &str) -> JsonLine {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let serde_json::Value::Object(obj) = value else {
        panic!("not a JSON object: {line}")
    };
    for (key, v) in &obj {
        assert!(
            v.is_string() || v.is_u64() || (v.is_null() && key == "input_left"),
            "{key} is neither a string nor a count in {line}"
        );
    }
    obj
}

/// The string value of `key`; panics if it is missing or not a string.
pub fn text<'a>(obj: &'a JsonLine, key: &str) -> &'a str {
    obj.get(key)
        .unwrap_or_else(|| panic!("no {key} in {obj:?}"))
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {obj:?}"))
}

/// The numeric value of `key`; panics if it is missing or not a count.
pub fn number(obj: &JsonLine, key: &str) -> u64 {
    obj.get(key)
        .unwrap_or_else(|| panic!("no {key} in {obj:?}"))
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a count in {obj:?}"))
}

// ---------------------------------------------------------------------------
// Inputs and servers

pub fn port_arg(addr: SocketAddr) -> String {
    addr.port().to_string()
}

/// A file in the temp directory, removed on drop.
pub struct TempFile(std::path::PathBuf);

impl TempFile {
    pub fn new(tag: &str, contents: &[u8]) -> TempFile {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ttc-cli-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every byte value, many times over, in an order that is not periodic.
pub fn binary_data(len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..=255u8).collect();
    v.resize(len, 0);
    fill_pattern(0, &mut v[256..]);
    v
}

/// Accepts the one connection ttc makes to `listener`, waiting at most
/// `SOON`.
pub fn accept_within(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let mut conn = None;
    let accepted = eventually(SOON, || match listener.accept() {
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
pub fn unread(fd: RawFd) -> u64 {
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
pub const QUIET: Duration = Duration::from_millis(400);

/// Feeds ttc's stdin until its backpressure reaches us: the server `conn`
/// never reads, so its receive queue, ttc's socket, inbox and input buffer
/// fill, and then the pipe to ttc's stdin. Stalled means the pipe stays
/// full (a non-blocking write finds no room) and the server's receive
/// queue stays the same for `QUIET`; a ttc that is merely slow takes some
/// bytes within that time. Returns the bytes written; panics after `SOON`.
/// Leaves `stdin` non-blocking.
pub fn fill_until_stalled(stdin: &mut ChildStdin, conn: &TcpStream) -> u64 {
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
pub fn read_rest(mut conn: TcpStream) -> u64 {
    conn.set_read_timeout(Some(SOON)).unwrap();
    let mut got = Vec::new();
    conn.read_to_end(&mut got).expect("server read to the end");
    got.len() as u64
}
