//! The C API of ttc: `ffi/include/ttc.h` is generated from this file by
//! cbindgen (`bash ffi/gen-header.sh`), so the comments here are the
//! header's documentation.
//!
//! Conventions for every function:
//! - The result is a `ttc_status`: `TTC_OK` (0), a non-error outcome
//!   (`TTC_TIMEOUT`, `TTC_FULL`, `TTC_CLOSED`: positive) or an error
//!   (negative). `ttc_strerror` describes any of them.
//! - A client is a `ttc_client` handle. 0 and handles already freed are
//!   refused with `TTC_E_HANDLE`; nothing a caller passes is dereferenced
//!   before it was checked (pointers for NULL, handles in a registry).
//! - No panic crosses the boundary: each call runs under `catch_unwind`
//!   and a panic is `TTC_E_PANIC`. (Built with `panic = "abort"`, as the
//!   workspace's release profile is, a panic aborts the process instead:
//!   it never unwinds into C either way. The library does not panic on
//!   anything a peer or caller can send.)
//! - Timeouts are in milliseconds; a negative timeout (`TTC_FOREVER`)
//!   waits without limit, 0 does not wait.
//! - Thread safety: every function may be called from any thread, on the
//!   same handle from several threads at once, except that a handle must
//!   not be used after `ttc_free` returns for it (such a call gets
//!   `TTC_E_HANDLE`, until 2^32 later clients have reused its slot).
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

use std::ffi::{c_char, CStr};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use ttc_rs::{Config, Control, IpFamily, Phase, Reason, ShutdownReport, Signal};

mod conn;
mod handles;
#[cfg(feature = "jni")]
mod java;
#[cfg(test)]
mod tests;

use conn::{RecvStop, SendStop};

/// A client: an opaque handle, never 0. Made by `ttc_spawn`, ended by
/// `ttc_free`.
pub type ttc_client = u64;

/// A timeout that waits without limit (any negative value does).
pub const TTC_FOREVER: i64 = -1;

/// Size of `ttc_signal.peer`: the longest socket address text plus NUL.
pub const TTC_ADDR_CAPACITY: usize = 64;

/// Size of `ttc_error.kind`: an error kind's name plus NUL.
pub const TTC_KIND_CAPACITY: usize = 32;

/// Size of `ttc_error.message`: the library keeps 96 bytes of a message,
/// plus NUL, with room to spare.
pub const TTC_MESSAGE_CAPACITY: usize = 128;

const _: () = assert!(TTC_MESSAGE_CAPACITY > ttc_rs::ERROR_MESSAGE_CAPACITY);

/// What a call did. Non-negative values are outcomes, negative ones are
/// errors; `ttc_strerror` gives the message of each.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttc_status {
    /// Done.
    TTC_OK = 0,
    /// The wait ended before anything came (receive, signal) or before
    /// all the data was taken (send: see `taken`).
    TTC_TIMEOUT = 1,
    /// `ttc_try_send`: the inbox was full before all the data was taken.
    TTC_FULL = 2,
    /// The box is closed: send after the connection ended or is ending;
    /// `ttc_next_signal` after the final signal was taken.
    TTC_CLOSED = 3,
    /// A pointer that must not be NULL was NULL.
    TTC_E_NULL = -1,
    /// The handle is 0, made up, or already freed.
    TTC_E_HANDLE = -2,
    /// An argument is invalid (a host that is not UTF-8, a zero-sized
    /// receive buffer, an unknown address family).
    TTC_E_INVALID = -3,
    /// This build does not offer the asked chunk size or capacity.
    TTC_E_UNSUPPORTED = -4,
    /// The worker could not be started (no thread or no file descriptor
    /// left); `ttc_spawn`'s `error` says more.
    TTC_E_SPAWN = -5,
    /// The library panicked (a bug): the call did nothing it promised.
    TTC_E_PANIC = -6,
}

use ttc_status::*;

/// What a signal is (`ttc_signal.kind`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttc_signal_kind {
    /// Connected to `peer`.
    TTC_SIGNAL_CONNECTED = 1,
    /// The server closed its side (end of stream).
    TTC_SIGNAL_PEER_CLOSED = 2,
    /// Something failed (`error`); the final signal follows.
    TTC_SIGNAL_ERROR = 3,
    /// The connection is over (`report`); nothing follows.
    TTC_SIGNAL_SOCKET_SHUTDOWN = 4,
    /// A signal newer than this header: skip it.
    TTC_SIGNAL_OTHER = 99,
}

/// What the connection was doing when an error happened.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttc_phase {
    /// No error.
    TTC_PHASE_NONE = 0,
    /// Starting the worker thread.
    TTC_PHASE_SPAWN = 1,
    /// Turning the host name into addresses.
    TTC_PHASE_RESOLVE = 2,
    /// Connecting.
    TTC_PHASE_CONNECT = 3,
    /// Reading from the socket.
    TTC_PHASE_READ = 4,
    /// Writing to the socket.
    TTC_PHASE_WRITE = 5,
    /// Closing the connection.
    TTC_PHASE_SHUTDOWN = 6,
    /// Reaching the server through the proxy (`ttc_options.proxy`): the
    /// message names the proxy and gives its reason.
    TTC_PHASE_PROXY = 7,
    /// A phase newer than this header.
    TTC_PHASE_OTHER = 99,
}

/// Why the connection ended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttc_reason {
    /// Producer finished: everything was written, the server closed.
    TTC_REASON_FINISHED = 0,
    /// The server closed the connection.
    TTC_REASON_PEER_CLOSED = 1,
    /// Shut down (`ttc_shutdown`, or `ttc_free` before the end).
    TTC_REASON_SHUTDOWN = 2,
    /// Aborted (`ttc_abort`): the connection was reset.
    TTC_REASON_ABORTED = 3,
    /// An error ended the connection.
    TTC_REASON_ERROR = 4,
    /// After the half-close the server sent nothing for the linger time
    /// and never closed: what it might still have sent is unknown.
    TTC_REASON_LINGER = 5,
    /// A reason newer than this header.
    TTC_REASON_OTHER = 99,
}

/// An error of the connection.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttc_error {
    /// Where it happened (`TTC_PHASE_NONE`: no error).
    pub phase: ttc_phase,
    /// The OS error number (errno), 0 when the error did not come from
    /// the OS.
    pub os_code: i32,
    /// The error kind's name, as Rust's `std::io::ErrorKind` spells it:
    /// "ConnectionRefused", "TimedOut", ... NUL-terminated.
    pub kind: [c_char; TTC_KIND_CAPACITY],
    /// The system's description, NUL-terminated UTF-8.
    pub message: [c_char; TTC_MESSAGE_CAPACITY],
}

/// The final account of a connection: every byte given to the client
/// (initial message and sends) is in `sent` or in `unsent`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttc_report {
    /// Why it ended.
    pub reason: ttc_reason,
    /// Bytes written to the socket (initial message included).
    pub sent: u64,
    /// Bytes read from the socket, all of them delivered.
    pub received: u64,
    /// Bytes accepted but never written.
    pub unsent: u64,
    /// Of `sent`, the bytes the server's TCP acknowledged (`sent - acked`
    /// may not have reached it).
    pub acked: u64,
    /// Whether `error` is set: when `reason` is `TTC_REASON_ERROR`, and
    /// when the server closed but the final flush failed.
    pub has_error: bool,
    /// The error that ended the connection, if `has_error`.
    pub error: ttc_error,
}

/// A signal: which one, and its data. Only the field for `kind` is
/// meaningful; the others are zeroed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttc_signal {
    /// Which signal.
    pub kind: ttc_signal_kind,
    /// `TTC_SIGNAL_CONNECTED`: the server's address, "192.0.2.1:80" or
    /// "[2001:db8::1]:80", NUL-terminated.
    pub peer: [c_char; TTC_ADDR_CAPACITY],
    /// `TTC_SIGNAL_ERROR`: the error.
    pub error: ttc_error,
    /// `TTC_SIGNAL_SOCKET_SHUTDOWN`: the final report (the same as
    /// `ttc_join` returns).
    pub report: ttc_report,
}

/// How to connect. Start from `ttc_options_default()` and change fields;
/// a field left at its default keeps the library's default.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttc_options {
    /// Bytes written right after connecting, before anything sent
    /// (Kamaelia's initialsendmessage); copied by `ttc_spawn`. NULL or
    /// length 0: none.
    pub initial_message: *const u8,
    /// Length of `initial_message` in bytes.
    pub initial_message_len: usize,
    /// Budget for resolving and connecting (default 10000; negative: no
    /// limit).
    pub connect_timeout_ms: i64,
    /// How long queued data may wait without any of it being written
    /// before the connection fails (default 30000; negative: no limit).
    pub write_timeout_ms: i64,
    /// After producer finished and the half-close, how long to wait for
    /// the server to close (default 5000; negative: no limit).
    pub linger_ms: i64,
    /// TCP keepalive idle time before the first probe (default -1;
    /// 0 or negative: off).
    pub keepalive_ms: i64,
    /// TCP_NODELAY: non-zero on (default 1).
    pub nodelay: i32,
    /// Address family: 0 any (default), 4 IPv4 only, 6 IPv6 only.
    pub family: i32,
    /// Chunk size in bytes: 256, 1024 (default), 4096 or 16384. The
    /// library's sizes are compile-time constants; this build offers
    /// these. Other values: `TTC_E_UNSUPPORTED`.
    pub chunk_size: usize,
    /// Inbox capacity in chunks: 64 (default; the only one offered): a byte
    /// ring of 64 chunks, 64 KiB with the default chunk.
    pub inbox_capacity: usize,
    /// Outbox capacity in chunks: 64 (default; the only one offered).
    pub outbox_capacity: usize,
    /// Worker thread stack size in bytes (0: the library's 128 KiB, plus
    /// 8 chunks for chunks above 1 KiB).
    pub stack_size: usize,
    /// Connect through this proxy: a NUL-terminated URL as curl spells it,
    /// `socks5://`, `socks5h://` (the proxy resolves the host), `socks4://`,
    /// `socks4a://` or `http://` (CONNECT), with optional percent-encoded
    /// `user:password@` (default NULL, or "": no proxy). A URL that does
    /// not parse makes `ttc_spawn` return `TTC_E_INVALID`. Copied by
    /// `ttc_spawn`; the password is never logged or reported.
    pub proxy: *const c_char,
}

/// Runs `f`, turning a panic into `TTC_E_PANIC`.
fn guard(f: impl FnOnce() -> ttc_status) -> ttc_status {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(TTC_E_PANIC)
}

fn timeout(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// Copies `s` into `out` as a NUL-terminated string, cut at a character
/// boundary if it does not fit; the rest of `out` is zeroed.
fn copy_str(out: &mut [c_char], s: &str) {
    out.fill(0);
    let room = out.len().saturating_sub(1);
    let mut n = s.len().min(room);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    for (o, b) in out.iter_mut().zip(&s.as_bytes()[..n]) {
        *o = *b as c_char;
    }
}

/// The text of a NUL-terminated field (up to its end if it has no NUL).
#[cfg_attr(not(any(test, feature = "jni")), allow(dead_code))]
fn field_text(s: &[c_char]) -> String {
    // SAFETY: c_char (i8 or u8, by target) has the size and alignment of u8.
    let bytes = unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), s.len()) };
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn phase_of(p: Phase) -> ttc_phase {
    match p {
        Phase::Spawn => ttc_phase::TTC_PHASE_SPAWN,
        Phase::Resolve => ttc_phase::TTC_PHASE_RESOLVE,
        Phase::Connect => ttc_phase::TTC_PHASE_CONNECT,
        Phase::Read => ttc_phase::TTC_PHASE_READ,
        Phase::Write => ttc_phase::TTC_PHASE_WRITE,
        Phase::Shutdown => ttc_phase::TTC_PHASE_SHUTDOWN,
        Phase::Proxy => ttc_phase::TTC_PHASE_PROXY,
        _ => ttc_phase::TTC_PHASE_OTHER,
    }
}

fn reason_of(r: Reason) -> ttc_reason {
    match r {
        Reason::Finished => ttc_reason::TTC_REASON_FINISHED,
        Reason::PeerClosed => ttc_reason::TTC_REASON_PEER_CLOSED,
        Reason::Shutdown => ttc_reason::TTC_REASON_SHUTDOWN,
        Reason::Aborted => ttc_reason::TTC_REASON_ABORTED,
        Reason::Error => ttc_reason::TTC_REASON_ERROR,
        Reason::Linger => ttc_reason::TTC_REASON_LINGER,
        _ => ttc_reason::TTC_REASON_OTHER,
    }
}

fn no_error() -> ttc_error {
    ttc_error {
        phase: ttc_phase::TTC_PHASE_NONE,
        os_code: 0,
        kind: [0; TTC_KIND_CAPACITY],
        message: [0; TTC_MESSAGE_CAPACITY],
    }
}

fn error_of(e: &ttc_rs::Error) -> ttc_error {
    let mut out = no_error();
    out.phase = phase_of(e.phase);
    out.os_code = e.os_code.unwrap_or(0);
    copy_str(&mut out.kind, &format!("{:?}", e.kind));
    let message = if e.message().is_empty() {
        e.kind.to_string()
    } else {
        e.message().to_owned()
    };
    copy_str(&mut out.message, &message);
    out
}

fn report_of(r: &ShutdownReport) -> ttc_report {
    ttc_report {
        reason: reason_of(r.reason),
        sent: r.sent,
        received: r.received,
        unsent: r.unsent,
        acked: r.acked,
        has_error: r.error.is_some(),
        error: r.error.as_ref().map_or_else(no_error, error_of),
    }
}

fn empty_report() -> ttc_report {
    ttc_report {
        reason: ttc_reason::TTC_REASON_OTHER,
        sent: 0,
        received: 0,
        unsent: 0,
        acked: 0,
        has_error: false,
        error: no_error(),
    }
}

fn signal_of(s: &Signal) -> ttc_signal {
    let mut out = ttc_signal {
        kind: ttc_signal_kind::TTC_SIGNAL_OTHER,
        peer: [0; TTC_ADDR_CAPACITY],
        error: no_error(),
        report: empty_report(),
    };
    match s {
        Signal::Connected(addr) => {
            out.kind = ttc_signal_kind::TTC_SIGNAL_CONNECTED;
            copy_str(&mut out.peer, &addr.to_string());
        }
        Signal::PeerClosed => out.kind = ttc_signal_kind::TTC_SIGNAL_PEER_CLOSED,
        Signal::Error(e) => {
            out.kind = ttc_signal_kind::TTC_SIGNAL_ERROR;
            out.error = error_of(e);
        }
        Signal::SocketShutdown(r) => {
            out.kind = ttc_signal_kind::TTC_SIGNAL_SOCKET_SHUTDOWN;
            out.report = report_of(r);
        }
        _ => {}
    }
    out
}

/// The options with every field at its default.
#[no_mangle]
pub extern "C" fn ttc_options_default() -> ttc_options {
    ttc_options {
        initial_message: std::ptr::null(),
        initial_message_len: 0,
        connect_timeout_ms: Config::DEFAULT_CONNECT_TIMEOUT.as_millis() as i64,
        write_timeout_ms: Config::DEFAULT_WRITE_TIMEOUT.as_millis() as i64,
        linger_ms: Config::DEFAULT_LINGER.as_millis() as i64,
        keepalive_ms: -1,
        nodelay: 1,
        family: 0,
        chunk_size: Config::DEFAULT_CHUNK,
        inbox_capacity: Config::DEFAULT_INBOX,
        outbox_capacity: Config::DEFAULT_OUTBOX,
        stack_size: 0,
        proxy: std::ptr::null(),
    }
}

/// Checks `opts` and makes the library's Config from them; the chunk size
/// to spawn with.
///
/// # Safety
/// `opts.initial_message` must point to `initial_message_len` readable
/// bytes (or be NULL); `opts.proxy` must be NULL or NUL-terminated.
unsafe fn config_of(
    host: &str,
    port: u16,
    opts: &ttc_options,
) -> Result<(Config, usize), ttc_status> {
    let chunk = match opts.chunk_size {
        0 => Config::DEFAULT_CHUNK,
        c if conn::CHUNK_SIZES.contains(&c) => c,
        _ => return Err(TTC_E_UNSUPPORTED),
    };
    for cap in [opts.inbox_capacity, opts.outbox_capacity] {
        if cap != 0 && cap != conn::CAPACITY {
            return Err(TTC_E_UNSUPPORTED);
        }
    }
    let family = match opts.family {
        0 => IpFamily::Any,
        4 => IpFamily::V4,
        6 => IpFamily::V6,
        _ => return Err(TTC_E_INVALID),
    };
    let initial = if opts.initial_message_len == 0 {
        Vec::new()
    } else if opts.initial_message.is_null() {
        return Err(TTC_E_NULL);
    } else {
        // SAFETY: the caller's promise (checked non-null above).
        unsafe { std::slice::from_raw_parts(opts.initial_message, opts.initial_message_len) }
            .to_vec()
    };
    let stack = match opts.stack_size {
        0 if chunk > 1024 => Config::DEFAULT_STACK_SIZE + 8 * chunk,
        0 => Config::DEFAULT_STACK_SIZE,
        s => s,
    };
    let proxy = if opts.proxy.is_null() {
        None
    } else {
        // SAFETY: the caller's promise (checked non-null above).
        match unsafe { CStr::from_ptr(opts.proxy) }.to_str() {
            Ok("") => None,
            Ok(url) => Some(url.parse::<ttc_rs::Proxy>().map_err(|_| TTC_E_INVALID)?),
            Err(_) => return Err(TTC_E_INVALID),
        }
    };
    let mut config = Config::new(host, port)
        .family(family)
        .initial_message(initial)
        .connect_timeout(timeout(opts.connect_timeout_ms).unwrap_or(Duration::MAX))
        .write_timeout(timeout(opts.write_timeout_ms))
        .linger(timeout(opts.linger_ms))
        .keepalive(
            timeout(opts.keepalive_ms)
                .filter(|d| !d.is_zero())
                .map(ttc_rs::Keepalive::idle),
        )
        .nodelay(opts.nodelay != 0)
        .stack_size(stack);
    if let Some(p) = proxy {
        config = config.proxy(p);
    }
    Ok((config, chunk))
}

/// Starts a client for `host` (a DNS name or an IP address, NUL-terminated
/// UTF-8) and `port`, and stores its handle in `*client`. Returns at once:
/// the connection happens on the client's worker thread and is reported
/// by `ttc_next_signal` (`TTC_SIGNAL_CONNECTED`, or an error and the final
/// report).
///
/// `opts` may be NULL for the defaults. `error` may be NULL; when not, it
/// is filled on `TTC_E_SPAWN` (and zeroed otherwise).
///
/// Errors: `TTC_E_NULL` (host or client NULL), `TTC_E_INVALID`,
/// `TTC_E_UNSUPPORTED`, `TTC_E_SPAWN`.
///
/// Thread safety: any thread.
///
/// # Safety
/// `host` must be a NUL-terminated string; `opts`, `client` and `error`
/// must be NULL or valid for reading (opts) and writing (client, error);
/// `opts.initial_message` must point to `initial_message_len` bytes;
/// `opts.proxy` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ttc_spawn(
    host: *const c_char,
    port: u16,
    opts: *const ttc_options,
    client: *mut ttc_client,
    error: *mut ttc_error,
) -> ttc_status {
    guard(|| {
        if !error.is_null() {
            // SAFETY: checked non-null; the caller's promise.
            unsafe { error.write(no_error()) };
        }
        if host.is_null() || client.is_null() {
            return TTC_E_NULL;
        }
        // SAFETY: checked non-null; NUL-terminated by the caller's promise.
        let Ok(host) = unsafe { CStr::from_ptr(host) }.to_str() else {
            return TTC_E_INVALID;
        };
        let defaults = ttc_options_default();
        let opts = if opts.is_null() {
            &defaults
        } else {
            // SAFETY: checked non-null; the caller's promise.
            unsafe { &*opts }
        };
        // SAFETY: passes on the caller's promise about initial_message.
        let (config, chunk) = match unsafe { config_of(host, port, opts) } {
            Ok(v) => v,
            Err(s) => return s,
        };
        let conn = match conn::spawn(config, chunk) {
            Ok(Some(c)) => c,
            Ok(None) => return TTC_E_UNSUPPORTED,
            Err(e) => {
                if !error.is_null() {
                    // SAFETY: checked non-null; the caller's promise.
                    unsafe { error.write(error_of(&e)) };
                }
                return TTC_E_SPAWN;
            }
        };
        let conn: Arc<dyn conn::Conn> = Arc::from(conn);
        let Some(handle) = handles::insert(conn.clone()) else {
            conn.control(Control::Shutdown);
            if !error.is_null() {
                let e = io::Error::other("no client handle left");
                // SAFETY: checked non-null; the caller's promise.
                unsafe { error.write(error_of(&ttc_rs::Error::from_io(Phase::Spawn, &e))) };
            }
            return TTC_E_SPAWN;
        };
        // SAFETY: checked non-null; the caller's promise.
        unsafe { client.write(handle) };
        TTC_OK
    })
}

/// Shared body of the sends.
///
/// # Safety
/// As for `ttc_send`.
unsafe fn send_impl(
    client: ttc_client,
    data: *const u8,
    len: usize,
    wait: Option<Duration>,
    taken: *mut usize,
    full: ttc_status,
) -> ttc_status {
    guard(|| {
        if !taken.is_null() {
            // SAFETY: checked non-null; the caller's promise.
            unsafe { taken.write(0) };
        }
        if data.is_null() && len > 0 {
            return TTC_E_NULL;
        }
        let Some(conn) = handles::get(client) else {
            return TTC_E_HANDLE;
        };
        let bytes = if len == 0 {
            &[][..]
        } else {
            // SAFETY: checked non-null; `len` readable bytes by the
            // caller's promise.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        let (n, stop) = conn.send(bytes, wait);
        if !taken.is_null() {
            // SAFETY: checked non-null; the caller's promise.
            unsafe { taken.write(n) };
        }
        match stop {
            None => TTC_OK,
            Some(SendStop::Full) => full,
            Some(SendStop::Closed) => TTC_CLOSED,
        }
    })
}

/// Queues `data` for the server, waiting up to `timeout_ms` in all for
/// room in the inbox (negative: no limit). `*taken` (if `taken` is not
/// NULL) is how many bytes from the start of `data` were queued: they will
/// be written, or counted as unsent in the final report; the rest was not
/// taken.
///
/// Returns `TTC_OK` (all taken), `TTC_TIMEOUT` (the inbox stayed full),
/// `TTC_CLOSED` (the connection ended or is ending), `TTC_E_NULL` (data
/// NULL with len > 0), `TTC_E_HANDLE`.
///
/// Thread safety: any thread; sends from several threads at once each
/// queue their data in order, but their chunks may interleave.
///
/// # Safety
/// `data` must point to `len` readable bytes (or be NULL when `len` is 0);
/// `taken` must be NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn ttc_send(
    client: ttc_client,
    data: *const u8,
    len: usize,
    timeout_ms: i64,
    taken: *mut usize,
) -> ttc_status {
    // SAFETY: the caller's promises, passed on.
    unsafe { send_impl(client, data, len, timeout(timeout_ms), taken, TTC_TIMEOUT) }
}

/// Queues as much of `data` as the inbox has room for now, never waiting.
/// `*taken` as for `ttc_send`.
///
/// Returns `TTC_OK` (all taken), `TTC_FULL` (the inbox filled up first),
/// `TTC_CLOSED`, `TTC_E_NULL`, `TTC_E_HANDLE`.
///
/// Thread safety: as `ttc_send`.
///
/// # Safety
/// As for `ttc_send`.
#[no_mangle]
pub unsafe extern "C" fn ttc_try_send(
    client: ttc_client,
    data: *const u8,
    len: usize,
    taken: *mut usize,
) -> ttc_status {
    // SAFETY: the caller's promises, passed on.
    unsafe { send_impl(client, data, len, Some(Duration::ZERO), taken, TTC_FULL) }
}

/// Waits up to `timeout_ms` (negative: no limit) for bytes from the
/// server, then copies as many as are queued and fit into `buf` and stores
/// their count in `*received`.
///
/// Returns `TTC_OK` with `*received` > 0 (data), `TTC_OK` with
/// `*received` == 0: the end of the stream (the connection ended and
/// everything was received; see `ttc_join` for why), `TTC_TIMEOUT`
/// (nothing came; `*received` is 0), `TTC_E_NULL`, `TTC_E_INVALID`
/// (`cap` is 0), `TTC_E_HANDLE`.
///
/// Thread safety: any thread; receivers on several threads at once each
/// get a different part of the stream.
///
/// # Safety
/// `buf` must be valid for writing `cap` bytes; `received` must be valid
/// for writing.
#[no_mangle]
pub unsafe extern "C" fn ttc_recv(
    client: ttc_client,
    buf: *mut u8,
    cap: usize,
    timeout_ms: i64,
    received: *mut usize,
) -> ttc_status {
    guard(|| {
        if received.is_null() || buf.is_null() {
            return TTC_E_NULL;
        }
        // SAFETY: checked non-null; the caller's promise.
        unsafe { received.write(0) };
        if cap == 0 {
            return TTC_E_INVALID;
        }
        let Some(conn) = handles::get(client) else {
            return TTC_E_HANDLE;
        };
        // SAFETY: checked non-null; `cap` writable bytes by the caller's
        // promise.
        let out = unsafe { std::slice::from_raw_parts_mut(buf, cap) };
        match conn.recv(out, timeout(timeout_ms)) {
            Ok(n) => {
                // SAFETY: as above.
                unsafe { received.write(n) };
                TTC_OK
            }
            Err(RecvStop::Closed) => TTC_OK,
            Err(RecvStop::Timeout) => TTC_TIMEOUT,
        }
    })
}

fn control_impl(client: ttc_client, msg: Control) -> ttc_status {
    guard(|| match handles::get(client) {
        Some(conn) => {
            conn.control(msg);
            TTC_OK
        }
        None => TTC_E_HANDLE,
    })
}

/// Producer finished: write everything queued, half-close, keep receiving
/// until the server closes (or the linger time ends). Never blocks; has no
/// effect once the connection has ended.
///
/// Returns `TTC_OK` or `TTC_E_HANDLE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_producer_finished(client: ttc_client) -> ttc_status {
    control_impl(client, Control::ProducerFinished)
}

/// Shut down now: close without writing what is still queued (counted as
/// unsent). Never blocks. Returns `TTC_OK` or `TTC_E_HANDLE`. Thread
/// safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_shutdown(client: ttc_client) -> ttc_status {
    control_impl(client, Control::Shutdown)
}

/// Abort: reset the connection (the server sees a reset). Never blocks.
/// Returns `TTC_OK` or `TTC_E_HANDLE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_abort(client: ttc_client) -> ttc_status {
    control_impl(client, Control::Abort)
}

/// Waits up to `timeout_ms` (negative: no limit) for the next signal and
/// stores it in `*signal`. A connection signals, in order: connected (if
/// it connected), peer closed (if the server closed), an error (for each
/// error), and always exactly one socket shutdown, last.
///
/// Returns `TTC_OK`, `TTC_TIMEOUT`, `TTC_CLOSED` (the final signal was
/// already taken), `TTC_E_NULL`, `TTC_E_HANDLE`.
///
/// Thread safety: any thread; with watchers on several threads each
/// signal goes to one of them.
///
/// # Safety
/// `signal` must be valid for writing.
#[no_mangle]
pub unsafe extern "C" fn ttc_next_signal(
    client: ttc_client,
    timeout_ms: i64,
    signal: *mut ttc_signal,
) -> ttc_status {
    guard(|| {
        if signal.is_null() {
            return TTC_E_NULL;
        }
        let Some(conn) = handles::get(client) else {
            return TTC_E_HANDLE;
        };
        match conn.signal(timeout(timeout_ms)) {
            Ok(s) => {
                // SAFETY: checked non-null; the caller's promise.
                unsafe { signal.write(signal_of(&s)) };
                TTC_OK
            }
            Err(RecvStop::Timeout) => TTC_TIMEOUT,
            Err(RecvStop::Closed) => TTC_CLOSED,
        }
    })
}

/// Waits for the client's worker to end and stores the final report in
/// `*report`. It does not stop anything itself: call
/// `ttc_producer_finished`, `ttc_shutdown` or `ttc_abort` first, or wait
/// for the server to close. Calling it again returns the same report. The
/// handle stays valid until `ttc_free`.
///
/// Returns `TTC_OK`, `TTC_E_NULL`, `TTC_E_HANDLE`.
///
/// Thread safety: any thread; concurrent joins all wait and all get the
/// report.
///
/// # Safety
/// `report` must be valid for writing.
#[no_mangle]
pub unsafe extern "C" fn ttc_join(client: ttc_client, report: *mut ttc_report) -> ttc_status {
    guard(|| {
        if report.is_null() {
            return TTC_E_NULL;
        }
        let Some(conn) = handles::get(client) else {
            return TTC_E_HANDLE;
        };
        match conn.join() {
            Some(r) => {
                // SAFETY: checked non-null; the caller's promise.
                unsafe { report.write(report_of(&r)) };
                TTC_OK
            }
            None => TTC_E_PANIC,
        }
    })
}

/// Frees the client: the handle is invalid from then on. If the worker is
/// still running it is told to shut down (what is queued is unsent) and
/// ends on its own; `ttc_free` does not wait for it. Calls blocked on the
/// handle in other threads return (a receive sees the end of the stream).
///
/// Returns `TTC_OK` or `TTC_E_HANDLE` (0, or freed already).
///
/// Thread safety: any thread; once for each handle.
#[no_mangle]
pub extern "C" fn ttc_free(client: ttc_client) -> ttc_status {
    guard(|| match handles::remove(client) {
        Some(conn) => {
            // A no-op when the connection has ended.
            conn.control(Control::Shutdown);
            TTC_OK
        }
        None => TTC_E_HANDLE,
    })
}

/// Each status and its message (`ttc_strerror`).
const MESSAGES: [(ttc_status, &CStr); 10] = [
    (TTC_OK, c"ok"),
    (TTC_TIMEOUT, c"timed out"),
    (TTC_FULL, c"inbox full"),
    (TTC_CLOSED, c"closed: the connection has ended"),
    (TTC_E_NULL, c"a required pointer is NULL"),
    (
        TTC_E_HANDLE,
        c"invalid client handle (0, unknown, or already freed)",
    ),
    (TTC_E_INVALID, c"invalid argument"),
    (
        TTC_E_UNSUPPORTED,
        c"chunk size or capacity not offered by this build",
    ),
    (TTC_E_SPAWN, c"could not start the client's worker thread"),
    (TTC_E_PANIC, c"internal error: the library panicked"),
];

/// The message of a status code (any `int`; unknown codes get a message
/// that says so): a static NUL-terminated string, never NULL.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_strerror(status: i32) -> *const c_char {
    MESSAGES
        .iter()
        .find(|(s, _)| *s as i32 == status)
        .map_or(c"unknown ttc status code", |(_, m)| m)
        .as_ptr()
}

const REASONS: [(ttc_reason, &CStr); 6] = [
    (ttc_reason::TTC_REASON_FINISHED, c"finished"),
    (ttc_reason::TTC_REASON_PEER_CLOSED, c"peer_closed"),
    (ttc_reason::TTC_REASON_SHUTDOWN, c"shutdown"),
    (ttc_reason::TTC_REASON_ABORTED, c"aborted"),
    (ttc_reason::TTC_REASON_ERROR, c"error"),
    (ttc_reason::TTC_REASON_LINGER, c"linger"),
];

/// The name of a `ttc_reason` ("finished", "peer_closed", "shutdown",
/// "aborted", "error", "linger"; "other" for any other value), as the Rust library
/// and the `ttc` command spell it: static, NUL-terminated.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_reason_str(reason: i32) -> *const c_char {
    REASONS
        .iter()
        .find(|(r, _)| *r as i32 == reason)
        .map_or(c"other", |(_, m)| m)
        .as_ptr()
}

const PHASES: [(ttc_phase, &CStr); 8] = [
    (ttc_phase::TTC_PHASE_NONE, c"none"),
    (ttc_phase::TTC_PHASE_SPAWN, c"spawn"),
    (ttc_phase::TTC_PHASE_RESOLVE, c"resolve"),
    (ttc_phase::TTC_PHASE_CONNECT, c"connect"),
    (ttc_phase::TTC_PHASE_READ, c"read"),
    (ttc_phase::TTC_PHASE_WRITE, c"write"),
    (ttc_phase::TTC_PHASE_SHUTDOWN, c"shutdown"),
    (ttc_phase::TTC_PHASE_PROXY, c"proxy"),
];

/// The name of a `ttc_phase` ("none", "spawn", "resolve", "connect",
/// "read", "write", "shutdown", "proxy"; "other" for any other value): static,
/// NUL-terminated.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_phase_str(phase: i32) -> *const c_char {
    PHASES
        .iter()
        .find(|(p, _)| *p as i32 == phase)
        .map_or(c"other", |(_, m)| m)
        .as_ptr()
}

/// The library's version, e.g. "0.2.0": static, NUL-terminated.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Installs the library's logger once (stderr; logcat on Android), at the
/// level from the environment variable `TTC_LOG` (or `RUST_LOG`): error,
/// warn (the default), info, debug, trace or off. Without it the library
/// logs nothing. Later calls do nothing.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_log_init() {
    let _ = catch_unwind(ttc_rs::logger::init);
}
