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

use ttc_rs::{Config, Control, Phase, Reason, ShutdownReport, Signal};

mod config;
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

/// Size of `ttc_report.tls_version` and `ttc_report.tls_cipher`.
pub const TTC_TLS_NAME_CAPACITY: usize = 64;

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
    /// With reconnect: one connection ended (`report`: that connection's
    /// own report; see `ttc_report`).
    TTC_SIGNAL_DISCONNECTED = 5,
    /// With reconnect: waiting `delay_ms` before connect attempt
    /// `attempt` (1 for the first since the connection was lost).
    TTC_SIGNAL_RECONNECTING = 6,
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
    /// TLS (`ttc_options.tls`): the handshake, the server's certificate,
    /// or a record or alert after it. The message starts with a short
    /// reason and a colon: "unknown_issuer", "expired", "not_yet_valid",
    /// "name_mismatch", "pin_mismatch", "bad_certificate", "alert",
    /// "protocol", "truncated", "eof", "timeout", "bad_server_name",
    /// "no_roots" or "config".
    TTC_PHASE_TLS = 8,
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
    /// Of `sent`, bytes written again after a reconnect: the initial
    /// message on each new connection, and bytes not delivered on an
    /// earlier one (0 without reconnect). With reconnect, bytes accepted
    /// = `acked` + (`sent` - `resent` - `acked`) + `unsent`.
    pub resent: u64,
    /// Bytes written and neither delivered nor kept for sending again:
    /// always 0 (there so that such a loss could never be silent).
    pub lost: u64,
    /// Connections made (0 if none; at most 1 without reconnect).
    pub connections: u32,
    /// Connection attempts started (one per address tried, over every
    /// connection with reconnect).
    pub attempts: u32,
    /// The TLS version ("TLSv1.2", "TLSv1.3") when the connection
    /// completed a TLS handshake, else "": NUL-terminated.
    pub tls_version: [c_char; TTC_TLS_NAME_CAPACITY],
    /// The TLS cipher suite's IANA name when the connection completed a
    /// TLS handshake, else "": NUL-terminated.
    pub tls_cipher: [c_char; TTC_TLS_NAME_CAPACITY],
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
    /// `ttc_join` returns); `TTC_SIGNAL_DISCONNECTED`: the report of the
    /// connection that ended.
    pub report: ttc_report,
    /// `TTC_SIGNAL_RECONNECTING`: attempts since the connection was lost,
    /// this one included.
    pub attempt: u32,
    /// `TTC_SIGNAL_RECONNECTING`: the wait before the attempt, in
    /// milliseconds.
    pub delay_ms: u64,
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
    /// Reconnect when the connection is lost: non-zero on (default 0).
    /// The boxes live across connections; what was written and not
    /// delivered (`delivery`) is sent again on the next connection, after
    /// the initial message. Signals: `TTC_SIGNAL_CONNECTED` for each
    /// connection, `TTC_SIGNAL_DISCONNECTED` when one ends,
    /// `TTC_SIGNAL_RECONNECTING` before each wait, one final
    /// `TTC_SIGNAL_SOCKET_SHUTDOWN` with the totals. `ttc_shutdown`,
    /// `ttc_abort`, a finished transfer, a refused TLS certificate or
    /// running out of attempts end it.
    pub reconnect: i32,
    /// The longest wait before the first reconnect attempt (default 500).
    pub backoff_initial_ms: i64,
    /// The longest wait ever (default 30000).
    pub backoff_max_ms: i64,
    /// How much the longest wait grows with each attempt (default 2).
    pub backoff_factor: u32,
    /// Non-zero: a random wait between zero and the longest ("full
    /// jitter", the default 1); 0: always the longest.
    pub backoff_jitter: i32,
    /// Give up after this many reconnect attempts in a row without a
    /// connection (default -1: never; 0 or negative: never).
    pub max_attempts: i64,
    /// Give up when the next attempt would start this long after the
    /// connection was lost (default -1: never).
    pub max_elapsed_ms: i64,
    /// With reconnect, the most bytes kept for sending again (0: the
    /// library's 256 KiB).
    pub resend_window: usize,
    /// With reconnect, what counts as delivered: a `ttc_delivery`
    /// (default `TTC_DELIVERY_TCP_ACK`). With `TTC_DELIVERY_CONFIRMED`
    /// the application says what the server has with `ttc_confirm`.
    pub delivery: i32,
    /// `TCP_USER_TIMEOUT`: data written and unacknowledged this long ends
    /// the connection with a TimedOut error (default -1: the kernel's
    /// limits).
    pub user_timeout_ms: i64,
    /// No byte from the server for this long fails the connection with
    /// an error of phase read, kind TimedOut (default -1: no limit).
    pub idle_timeout_ms: i64,
    /// With `keepalive_ms`: the time between probes (default -1: the
    /// system's).
    pub keepalive_interval_ms: i64,
    /// With `keepalive_ms`: unanswered probes that end the connection
    /// (default 0: the system's).
    pub keepalive_count: u32,
    /// A limit on resolving the host name alone (default -1: only the
    /// connect budget).
    pub resolve_timeout_ms: i64,
    /// Happy Eyeballs' connection attempt delay (default 250; clamped to
    /// 10..2000).
    pub attempt_delay_ms: i64,
    /// How host names are resolved: a `ttc_resolver` (default
    /// `TTC_RESOLVER_AUTO`).
    pub resolver: i32,
    /// For `TTC_RESOLVER_DNS`: the DNS servers, comma-separated
    /// ("192.0.2.53,[2001:db8::53]:5353"; port 53 unless given). For
    /// `TTC_RESOLVER_STATIC`: the addresses to use whatever the host
    /// name ("192.0.2.7,2001:db8::7"). For `TTC_RESOLVER_DNSPROXYD`: the
    /// socket's path (NULL: Android's /dev/socket/dnsproxyd).
    /// NUL-terminated; copied by `ttc_spawn`.
    pub resolver_addrs: *const c_char,
    /// Connect through this network interface only (`SO_BINDTODEVICE`,
    /// e.g. "wlan0"); NULL or "": any. Copied by `ttc_spawn`.
    pub bind_device: *const c_char,
    /// Connect from this source address ("192.0.2.10"); NULL or "": the
    /// system's choice. Copied by `ttc_spawn`.
    pub local_addr: *const c_char,
    /// Speak TLS: NULL for none (default). Start from
    /// `ttc_tls_options_default()`. Read by `ttc_spawn` (the files it names
    /// too); nothing is kept. A build without the `tls` feature returns
    /// `TTC_E_UNSUPPORTED` (`ttc_features()` says what this build has).
    pub tls: *const ttc_tls_options,
}

/// What counts as delivered with reconnect (`ttc_options.delivery`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttc_delivery {
    /// Bytes the server's TCP acknowledged (default).
    TTC_DELIVERY_TCP_ACK = 0,
    /// Bytes the application confirmed with `ttc_confirm`, after the
    /// server's own protocol said it has them.
    TTC_DELIVERY_CONFIRMED = 1,
}

/// How host names are resolved (`ttc_options.resolver`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttc_resolver {
    /// The system resolver, or Android's netd from a static build on a
    /// phone (default).
    TTC_RESOLVER_AUTO = 0,
    /// The C library's getaddrinfo.
    TTC_RESOLVER_SYSTEM = 1,
    /// The built-in DNS client, asking the servers in `resolver_addrs`.
    TTC_RESOLVER_DNS = 2,
    /// The addresses in `resolver_addrs`, whatever the host name.
    TTC_RESOLVER_STATIC = 3,
    /// Android's netd over the socket at `resolver_addrs`.
    TTC_RESOLVER_DNSPROXYD = 4,
}

/// TLS settings (`ttc_options.tls`). Start from
/// `ttc_tls_options_default()`: the server is verified against the
/// system's roots for the host name connected to. Strings are
/// NUL-terminated; NULL or "" leaves a setting unset.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttc_tls_options {
    /// Trust these CAs (a PEM file) instead of the system's roots.
    pub ca_file: *const c_char,
    /// Trust these CAs (PEM text) instead of the system's roots.
    pub ca_pem: *const c_char,
    /// A client certificate chain (PEM file), with `client_key_file`.
    pub client_cert_file: *const c_char,
    /// The client certificate's private key (PEM file).
    pub client_key_file: *const c_char,
    /// A client certificate chain (PEM text), with `client_key_pem`.
    pub client_cert_pem: *const c_char,
    /// The client certificate's private key (PEM text).
    pub client_key_pem: *const c_char,
    /// Accept only a server whose public key has one of these SHA-256
    /// pins: "sha256//BASE64", several separated by ';', as curl's
    /// --pinnedpubkey spells them.
    pub pin_sha256: *const c_char,
    /// ALPN protocols to offer, comma-separated ("h2,http/1.1").
    pub alpn: *const c_char,
    /// The name to send (SNI) and check the certificate against, when it
    /// is not the host connected to.
    pub server_name: *const c_char,
    /// Non-zero: do not verify the server at all. For tests only.
    pub insecure_skip_verify: i32,
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
        Phase::Tls => ttc_phase::TTC_PHASE_TLS,
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
    #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
    let mut out = ttc_report {
        reason: reason_of(r.reason),
        sent: r.sent,
        received: r.received,
        unsent: r.unsent,
        acked: r.acked,
        has_error: r.error.is_some(),
        error: r.error.as_ref().map_or_else(no_error, error_of),
        resent: r.resent,
        lost: r.lost,
        connections: r.connections,
        attempts: r.attempts,
        tls_version: [0; TTC_TLS_NAME_CAPACITY],
        tls_cipher: [0; TTC_TLS_NAME_CAPACITY],
    };
    #[cfg(feature = "tls")]
    if let Some(tls) = &r.tls {
        copy_str(&mut out.tls_version, tls.version);
        copy_str(&mut out.tls_cipher, tls.cipher);
    }
    out
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
        resent: 0,
        lost: 0,
        connections: 0,
        attempts: 0,
        tls_version: [0; TTC_TLS_NAME_CAPACITY],
        tls_cipher: [0; TTC_TLS_NAME_CAPACITY],
    }
}

fn signal_of(s: &Signal) -> ttc_signal {
    let mut out = ttc_signal {
        kind: ttc_signal_kind::TTC_SIGNAL_OTHER,
        peer: [0; TTC_ADDR_CAPACITY],
        error: no_error(),
        report: empty_report(),
        attempt: 0,
        delay_ms: 0,
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
        Signal::Disconnected(r) => {
            out.kind = ttc_signal_kind::TTC_SIGNAL_DISCONNECTED;
            out.report = report_of(r);
        }
        Signal::Reconnecting { attempt, delay } => {
            out.kind = ttc_signal_kind::TTC_SIGNAL_RECONNECTING;
            out.attempt = *attempt;
            out.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
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
        reconnect: 0,
        backoff_initial_ms: ttc_rs::Backoff::default().initial.as_millis() as i64,
        backoff_max_ms: ttc_rs::Backoff::default().max.as_millis() as i64,
        backoff_factor: ttc_rs::Backoff::default().factor,
        backoff_jitter: 1,
        max_attempts: -1,
        max_elapsed_ms: -1,
        resend_window: 0,
        delivery: ttc_delivery::TTC_DELIVERY_TCP_ACK as i32,
        user_timeout_ms: -1,
        idle_timeout_ms: -1,
        keepalive_interval_ms: -1,
        keepalive_count: 0,
        resolve_timeout_ms: -1,
        attempt_delay_ms: Config::DEFAULT_ATTEMPT_DELAY.as_millis() as i64,
        resolver: ttc_resolver::TTC_RESOLVER_AUTO as i32,
        resolver_addrs: std::ptr::null(),
        bind_device: std::ptr::null(),
        local_addr: std::ptr::null(),
        tls: std::ptr::null(),
    }
}

/// The TLS options with every field at its default (all NULL, 0): verify
/// the server against the system's roots.
#[no_mangle]
pub extern "C" fn ttc_tls_options_default() -> ttc_tls_options {
    ttc_tls_options {
        ca_file: std::ptr::null(),
        ca_pem: std::ptr::null(),
        client_cert_file: std::ptr::null(),
        client_key_file: std::ptr::null(),
        client_cert_pem: std::ptr::null(),
        client_key_pem: std::ptr::null(),
        pin_sha256: std::ptr::null(),
        alpn: std::ptr::null(),
        server_name: std::ptr::null(),
        insecure_skip_verify: 0,
    }
}

/// Starts a client for `host` (a DNS name or an IP address, NUL-terminated
/// UTF-8) and `port`, and stores its handle in `*client`. Returns at once:
/// the connection happens on the client's worker thread and is reported
/// by `ttc_next_signal` (`TTC_SIGNAL_CONNECTED`, or an error and the final
/// report).
///
/// `opts` may be NULL for the defaults. `error` may be NULL; when not, it
/// is filled on `TTC_E_SPAWN`, and on `TTC_E_INVALID` or
/// `TTC_E_UNSUPPORTED` for an option that was refused (the message names
/// the field and says why: "tls.ca_file: ...", "resolver_addrs: ...";
/// phase `TTC_PHASE_TLS` or `TTC_PHASE_PROXY` for those options), and
/// zeroed otherwise.
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
/// every string field of `opts` (and of `*opts.tls`) must be NULL or
/// NUL-terminated; `opts.tls` must be NULL or valid for reading.
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
        // SAFETY: passes on the caller's promises about the options.
        let (config, chunk) = match unsafe { config::config_of(host, port, opts) } {
            Ok(v) => v,
            Err((status, e)) => {
                if !error.is_null() {
                    // SAFETY: checked non-null; the caller's promise.
                    unsafe { error.write(*e) };
                }
                return status;
            }
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

/// As `ttc_join`, but waits at most `timeout_ms` (negative: no limit; 0:
/// only looks) for the worker to end. Returns `TTC_OK` (`*report` set),
/// `TTC_TIMEOUT` (still running; `*report` untouched), `TTC_E_NULL`,
/// `TTC_E_HANDLE`.
///
/// Thread safety: any thread.
///
/// # Safety
/// `report` must be valid for writing.
#[no_mangle]
pub unsafe extern "C" fn ttc_join_timeout(
    client: ttc_client,
    timeout_ms: i64,
    report: *mut ttc_report,
) -> ttc_status {
    guard(|| {
        if report.is_null() {
            return TTC_E_NULL;
        }
        let Some(conn) = handles::get(client) else {
            return TTC_E_HANDLE;
        };
        if !conn.wait_finished(timeout(timeout_ms)) {
            return TTC_TIMEOUT;
        }
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

/// With reconnect and `TTC_DELIVERY_CONFIRMED`: the server has the first
/// `bytes` bytes that `ttc_send` and `ttc_try_send` queued (counted from
/// the first byte ever queued, across connections; the initial message
/// is not counted), as the server's own protocol said (a receipt, MQTT's
/// PUBACK...). Those are not sent again after a reconnect; a connection
/// starts again from the first send not wholly confirmed. A count below
/// an earlier one changes nothing. Without confirmed delivery it has no
/// effect. Never blocks.
///
/// Returns `TTC_OK` or `TTC_E_HANDLE`. Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_confirm(client: ttc_client, bytes: u64) -> ttc_status {
    guard(|| match handles::get(client) {
        Some(conn) => {
            conn.confirm(bytes);
            TTC_OK
        }
        None => TTC_E_HANDLE,
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

const PHASES: [(ttc_phase, &CStr); 9] = [
    (ttc_phase::TTC_PHASE_NONE, c"none"),
    (ttc_phase::TTC_PHASE_SPAWN, c"spawn"),
    (ttc_phase::TTC_PHASE_RESOLVE, c"resolve"),
    (ttc_phase::TTC_PHASE_CONNECT, c"connect"),
    (ttc_phase::TTC_PHASE_READ, c"read"),
    (ttc_phase::TTC_PHASE_WRITE, c"write"),
    (ttc_phase::TTC_PHASE_SHUTDOWN, c"shutdown"),
    (ttc_phase::TTC_PHASE_PROXY, c"proxy"),
    (ttc_phase::TTC_PHASE_TLS, c"tls"),
];

/// The name of a `ttc_phase` ("none", "spawn", "resolve", "connect",
/// "read", "write", "shutdown", "proxy", "tls"; "other" for any other value): static,
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

/// The optional features of this build, space-separated: "proxy", and
/// "tls" when built with the `tls` feature (the default): static,
/// NUL-terminated.
///
/// Thread safety: any thread.
#[no_mangle]
pub extern "C" fn ttc_features() -> *const c_char {
    if cfg!(feature = "tls") {
        c"proxy tls".as_ptr()
    } else {
        c"proxy".as_ptr()
    }
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
