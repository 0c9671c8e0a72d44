//! What `ttc` prints on stderr: one line per signal, in text or JSON, and
//! the progress line that updates in place.
//!
//! Text lines (stable, documented in `--help` and the README):
//!
//! ```text
//! ttc: connected 127.0.0.1:7000
//! ttc: peer_closed
//! ttc: error phase=connect kind=ConnectionRefused host=127.0.0.1 port=7000 message="cannot connect to 127.0.0.1 port 7000: Connection refused (os error 111)"
//! ttc: socket_shutdown reason=peer_closed sent=12 acked=12 received=34 unsent=0 attempts=1 input_left=4096
//! ```
//!
//! With `--reconnect` also, per connection and per wait:
//!
//! ```text
//! ttc: disconnected reason=error acked=4096
//! ttc: reconnecting attempt=1 delay=0.231
//! ttc: socket_shutdown reason=finished sent=9000 acked=8192 received=0 unsent=0 attempts=2 connections=2 resent=808 lost=0 unconfirmed=0
//! ```
//!
//! JSON lines carry the same fields, with a `"signal"` key naming the line.
//! The final line's text after `socket_shutdown ` is the library's own
//! `Display` of the report (one formatter for both).

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

use ttc::{Error, Phase, ShutdownReport, Signal};

/// Text or JSON lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Appends `s` as a JSON string literal (with the quotes) to `out`.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            // Other control characters (and DEL, which a terminal may act
            // on) as \u escapes.
            c if c < ' ' || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Builds one JSON object, key by key.
pub struct JsonLine(String);

impl JsonLine {
    pub fn new(first_key: &str, first_value: &str) -> JsonLine {
        let mut j = JsonLine(String::from("{"));
        j.push_key(first_key);
        json_string(&mut j.0, first_value);
        j
    }

    fn push_key(&mut self, key: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        json_string(&mut self.0, key);
        self.0.push(':');
    }

    pub fn str(mut self, key: &str, value: &str) -> JsonLine {
        self.push_key(key);
        json_string(&mut self.0, value);
        self
    }

    pub fn num(mut self, key: &str, value: u64) -> JsonLine {
        self.push_key(key);
        let _ = write!(self.0, "{value}");
        self
    }

    pub fn null(mut self, key: &str) -> JsonLine {
        self.push_key(key);
        self.0.push_str("null");
        self
    }

    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// The name of an `io::ErrorKind`, as Rust spells it (`ConnectionRefused`).
pub fn kind_name(kind: io::ErrorKind) -> String {
    format!("{kind:?}")
}

/// An error line's fields for errors that are not the library's (reading
/// stdin or the file, writing stdout).
pub fn error_line(format: Format, phase: &str, kind: io::ErrorKind, message: &str) -> String {
    error_line_to(format, phase, kind, None, message)
}

/// An error line, with the server's host and port when it is about them.
fn error_line_to(
    format: Format,
    phase: &str,
    kind: io::ErrorKind,
    target: Option<&Target<'_>>,
    message: &str,
) -> String {
    match format {
        Format::Text => {
            let mut s = format!("ttc: error phase={phase} kind={}", kind_name(kind));
            if let Some(t) = target {
                s.push_str(" host=");
                push_text_value(&mut s, t.host);
                let _ = write!(s, " port={}", t.port);
            }
            s.push_str(" message=");
            json_string(&mut s, message);
            s
        }
        Format::Json => {
            let j = JsonLine::new("signal", "error")
                .str("phase", phase)
                .str("kind", &kind_name(kind));
            let j = match target {
                Some(t) => j.str("host", t.host).num("port", u64::from(t.port)),
                None => j,
            };
            j.str("message", message).finish()
        }
    }
}

/// A value in a text line: as it is, unless it is empty or has a space, a
/// quote or a control character in it: then quoted with JSON escapes.
fn push_text_value(out: &mut String, v: &str) {
    if v.is_empty() || v.bytes().any(|b| b <= b' ' || b == b'"') {
        json_string(out, v);
    } else {
        out.push_str(v);
    }
}

/// The server the client was asked to reach, as given on the command line:
/// resolve and connect errors name it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
}

/// A report line's text: `name`, the reason, then numeric fields in
/// order (`key=N` in text, `"key":N` in JSON).
pub fn counts_line(format: Format, name: &str, reason: &str, fields: &[(&str, u64)]) -> String {
    match format {
        Format::Text => {
            let mut s = format!("ttc: {name} reason={reason}");
            for (key, value) in fields {
                let _ = write!(s, " {key}={value}");
            }
            s
        }
        Format::Json => {
            let mut j = JsonLine::new("signal", name).str("reason", reason);
            for (key, value) in fields {
                j = j.num(key, *value);
            }
            j.finish()
        }
    }
}

/// `1.5 s` → `1.500` (integer arithmetic: no floating point in the
/// binary).
pub fn secs(d: std::time::Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

fn library_error_line(format: Format, e: &Error, target: Option<&Target<'_>>) -> String {
    // The library's message is the system's description (an error made
    // without one falls back to the kind's); for a resolve or connect
    // error, after the host and port it was about.
    let mut message = String::new();
    let target = match (e.phase, target) {
        (Phase::Resolve, Some(t)) => {
            // The resolvers' messages mostly start with the host already.
            let named = e
                .message()
                .strip_prefix(t.host)
                .is_some_and(|rest| rest.starts_with(':'));
            message.push_str("cannot resolve ");
            if !named {
                let _ = write!(message, "{}: ", t.host);
            }
            Some(t)
        }
        (Phase::Connect, Some(t)) => {
            let _ = write!(message, "cannot connect to {} port {}: ", t.host, t.port);
            Some(t)
        }
        _ => None,
    };
    if e.message().is_empty() {
        let _ = write!(message, "{}", e.kind);
    } else {
        message.push_str(e.message());
    }
    #[cfg(feature = "tls")]
    if e.phase == Phase::Tls && e.message().starts_with("unknown_issuer") {
        message.push_str(UNKNOWN_ISSUER_HINT);
    }
    error_line_to(format, e.phase.as_str(), e.kind, target, &message)
}

/// What an `unknown_issuer` error adds: the way to trust a private CA.
#[cfg(feature = "tls")]
const UNKNOWN_ISSUER_HINT: &str =
    " (to trust the CA that signed it, give its certificate with --ca FILE)";

/// How much of the input the client never took (the final line's
/// `input_left`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputLeft {
    /// This many bytes (of a file of known size; 0 for a stream that ended).
    Bytes(u64),
    /// A stream (stdin, a FIFO) that had not ended: nobody knows.
    Unknown,
}

/// The final line for a client that never started (no report): what the
/// library's report of a connection that did nothing prints.
pub const NO_CLIENT_FINAL: &str = "reason=error sent=0 acked=0 received=0 unsent=0 attempts=0";

/// The final line: the report (or, `None`, a client that never started)
/// and, if given, how much of the input was never taken.
pub fn final_line(format: Format, r: Option<&ShutdownReport>, left: Option<InputLeft>) -> String {
    final_line_with(format, r, left, false)
}

/// True when the report shows the reconnect totals by itself (as the
/// library's `Display` does): more than one connection, or anything sent
/// again or lost.
fn shows_totals(r: &ShutdownReport) -> bool {
    r.connections > 1 || r.resent > 0 || r.lost > 0 || r.unconfirmed > 0
}

/// [`final_line`]; with `reconnect` the totals (`connections`, `resent`,
/// `lost`) are always on it.
pub fn final_line_with(
    format: Format,
    r: Option<&ShutdownReport>,
    left: Option<InputLeft>,
    reconnect: bool,
) -> String {
    match format {
        Format::Text => {
            let mut s = String::from("ttc: socket_shutdown ");
            match r {
                Some(r) => {
                    // The library's formatter; the error was on its own line.
                    let mut r = r.clone();
                    r.error = None;
                    let _ = write!(s, "{r}");
                    if reconnect && !shows_totals(&r) {
                        let _ = write!(
                            s,
                            " connections={} resent={} lost={} unconfirmed={}",
                            r.connections, r.resent, r.lost, r.unconfirmed
                        );
                    }
                }
                None => s.push_str(NO_CLIENT_FINAL),
            }
            match left {
                Some(InputLeft::Bytes(n)) => {
                    let _ = write!(s, " input_left={n}");
                }
                Some(InputLeft::Unknown) => s.push_str(" input_left=unknown"),
                None => {}
            }
            s
        }
        Format::Json => {
            let j = JsonLine::new("signal", "socket_shutdown");
            let j = match r {
                Some(r) => {
                    let j = j
                        .str("reason", r.reason.as_str())
                        .num("sent", r.sent)
                        .num("acked", r.acked)
                        .num("received", r.received)
                        .num("unsent", r.unsent)
                        .num("attempts", u64::from(r.attempts));
                    // As the library's Display: with more than one
                    // connection, or anything sent again or lost.
                    let j = if reconnect || shows_totals(r) {
                        j.num("connections", u64::from(r.connections))
                            .num("resent", r.resent)
                            .num("lost", r.lost)
                            .num("unconfirmed", r.unconfirmed)
                    } else {
                        j
                    };
                    #[cfg(feature = "tls")]
                    let j = match &r.tls {
                        Some(tls) => j.str("tls_version", tls.version).str("cipher", tls.cipher),
                        None => j,
                    };
                    j
                }
                None => j
                    .str("reason", "error")
                    .num("sent", 0)
                    .num("acked", 0)
                    .num("received", 0)
                    .num("unsent", 0)
                    .num("attempts", 0),
            };
            match left {
                Some(InputLeft::Bytes(n)) => j.num("input_left", n),
                Some(InputLeft::Unknown) => j.null("input_left"),
                None => j,
            }
            .finish()
        }
    }
}

/// A warning line (`--insecure`).
#[cfg(feature = "tls")]
pub fn warning_line(format: Format, message: &str) -> String {
    match format {
        Format::Text => format!("ttc: {message}"),
        Format::Json => JsonLine::new("signal", "warning")
            .str("message", message)
            .finish(),
    }
}

/// The line for a signal (the final one without `input_left`).
pub fn signal_line(format: Format, sig: &Signal, target: Option<&Target<'_>>) -> String {
    match (sig, format) {
        (Signal::Connected(peer), Format::Text) => format!("ttc: connected {peer}"),
        (Signal::Connected(peer), Format::Json) => JsonLine::new("signal", "connected")
            .str("peer", &peer.to_string())
            .finish(),
        (Signal::PeerClosed, Format::Text) => String::from("ttc: peer_closed"),
        (Signal::PeerClosed, Format::Json) => JsonLine::new("signal", "peer_closed").finish(),
        (Signal::Error(e), _) => library_error_line(format, e, target),
        (Signal::SocketShutdown(r), _) => final_line(format, Some(r), None),
        (Signal::Disconnected(r), _) => counts_line(
            format,
            "disconnected",
            r.reason.as_str(),
            &[("acked", r.acked)],
        ),
        (Signal::Reconnecting { attempt, delay }, Format::Text) => {
            format!("ttc: reconnecting attempt={attempt} delay={}", secs(*delay))
        }
        (Signal::Reconnecting { attempt, delay }, Format::Json) => {
            JsonLine::new("signal", "reconnecting")
                .num("attempt", u64::from(*attempt))
                .num(
                    "delay_ms",
                    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                )
                .finish()
        }
        // A signal a newer library adds (`Signal` is non-exhaustive).
        (_, Format::Text) => String::from("ttc: other"),
        (_, Format::Json) => JsonLine::new("signal", "other").finish(),
    }
}

/// Stderr, shared by the threads that print: whole lines never interleave,
/// the progress line is cleared before a line is printed over it, and
/// after the final line nothing more is printed.
pub struct Console {
    state: Mutex<ConsoleState>,
}

struct ConsoleState {
    /// A progress line is on screen (no newline after it yet).
    progress_shown: bool,
    /// The final line was printed.
    closed: bool,
}

impl Console {
    pub const fn new() -> Console {
        Console {
            state: Mutex::new(ConsoleState {
                progress_shown: false,
                closed: false,
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut ConsoleState, &mut io::StderrLock<'_>) -> R) -> R {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut st, &mut io::stderr().lock())
    }

    /// Prints one line (a closed stderr is ignored: nothing to tell it to).
    pub fn line(&self, text: &str) {
        self.with(|st, err| Self::write_line(st, err, text));
    }

    /// Prints the last line; nothing is printed after it. Printing and
    /// closing happen under one lock, so a progress redraw cannot slip in
    /// between.
    pub fn final_line(&self, text: &str) {
        self.with(|st, err| {
            Self::write_line(st, err, text);
            st.closed = true;
        });
    }

    fn write_line(st: &mut ConsoleState, err: &mut io::StderrLock<'_>, text: &str) {
        if st.closed {
            return;
        }
        if st.progress_shown {
            let _ = err.write_all(b"\r\x1b[K");
            st.progress_shown = false;
        }
        let _ = writeln!(err, "{text}");
    }

    /// Replaces the progress line.
    pub fn progress(&self, text: &str) {
        self.with(|st, err| {
            if st.closed {
                return;
            }
            let _ = write!(err, "\r{text}\x1b[K");
            let _ = err.flush();
            st.progress_shown = true;
        });
    }
}

/// Every line goes through this one console.
pub static CONSOLE: Console = Console::new();

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use ttc::Reason;

    fn json(s: &str) -> String {
        let mut out = String::new();
        json_string(&mut out, s);
        out
    }

    #[test]
    fn test_json_string_escapes() {
        assert_eq!(json("plain"), r#""plain""#);
        assert_eq!(json(r#"a "q" \ b"#), r#""a \"q\" \\ b""#);
        assert_eq!(json("l1\nl2\r\t"), r#""l1\nl2\r\t""#);
        assert_eq!(
            json("\u{0}\u{1f}\u{7f}\u{8}\u{c}"),
            r#""\u0000\u001f\u007f\b\f""#
        );
        // Non-ASCII stays as UTF-8, which JSON allows.
        assert_eq!(json("é→"), "\"é→\"");
        assert_eq!(json(""), r#""""#);
    }

    #[test]
    fn test_signal_lines_text() {
        let peer: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            signal_line(Format::Text, &Signal::Connected(peer), None),
            "ttc: connected 127.0.0.1:7000"
        );
        assert_eq!(
            signal_line(Format::Text, &Signal::PeerClosed, None),
            "ttc: peer_closed"
        );
        let e = Error::new(Phase::Read, io::ErrorKind::ConnectionReset, "said \"no\"");
        let t = Target {
            host: "example.org",
            port: 7,
        };
        // Only resolve and connect errors are about the target.
        assert_eq!(
            signal_line(Format::Text, &Signal::Error(e), Some(&t)),
            r#"ttc: error phase=read kind=ConnectionReset message="said \"no\"""#
        );
        let r = ttc::Config::new("127.0.0.1", ttc_port_refused())
            .spawn()
            .unwrap()
            .join();
        assert_eq!(r.reason, Reason::Error);
        // The library's Display, without the error (it had its own line).
        let line = signal_line(Format::Text, &Signal::SocketShutdown(r.clone()), None);
        assert_eq!(
            line,
            "ttc: socket_shutdown reason=error sent=0 acked=0 received=0 unsent=0 attempts=1"
        );
        assert!(r
            .to_string()
            .starts_with("reason=error sent=0 acked=0 received=0 unsent=0 attempts=1 error="));
        assert_eq!(
            final_line(Format::Text, None, None),
            format!("ttc: socket_shutdown {NO_CLIENT_FINAL}")
        );
        assert_eq!(
            final_line(Format::Text, Some(&r), Some(InputLeft::Bytes(12))),
            "ttc: socket_shutdown reason=error sent=0 acked=0 received=0 unsent=0 attempts=1 input_left=12"
        );
        assert!(final_line(Format::Text, Some(&r), Some(InputLeft::Unknown))
            .ends_with(" unsent=0 attempts=1 input_left=unknown"));
    }

    #[test]
    fn test_resolve_and_connect_errors_name_the_target() {
        let t = Target {
            host: "no-such.invalid",
            port: 80,
        };
        let e = Error::new(Phase::Resolve, io::ErrorKind::NotFound, "not known");
        assert_eq!(
            signal_line(Format::Text, &Signal::Error(e.clone()), Some(&t)),
            r#"ttc: error phase=resolve kind=NotFound host=no-such.invalid port=80 message="cannot resolve no-such.invalid: not known""#
        );
        assert_eq!(
            signal_line(Format::Json, &Signal::Error(e), Some(&t)),
            r#"{"signal":"error","phase":"resolve","kind":"NotFound","host":"no-such.invalid","port":80,"message":"cannot resolve no-such.invalid: not known"}"#
        );
        // A message that names the host already: the host once.
        let e = Error::new(
            Phase::Resolve,
            io::ErrorKind::NotFound,
            "no-such.invalid: no such name (NXDOMAIN from 127.0.0.1:53)",
        );
        assert_eq!(
            signal_line(Format::Text, &Signal::Error(e), Some(&t)),
            r#"ttc: error phase=resolve kind=NotFound host=no-such.invalid port=80 message="cannot resolve no-such.invalid: no such name (NXDOMAIN from 127.0.0.1:53)""#
        );
        let e = Error::new(Phase::Connect, io::ErrorKind::ConnectionRefused, "refused");
        let odd = Target {
            host: "a b",
            port: 1,
        };
        assert_eq!(
            signal_line(Format::Text, &Signal::Error(e), Some(&odd)),
            r#"ttc: error phase=connect kind=ConnectionRefused host="a b" port=1 message="cannot connect to a b port 1: refused""#
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn test_unknown_issuer_error_names_the_ca_option() {
        let e = Error::new(
            Phase::Tls,
            io::ErrorKind::InvalidData,
            "unknown_issuer: the server's certificate chain is not trusted",
        );
        let line = signal_line(Format::Text, &Signal::Error(e), None);
        assert!(line.contains("--ca FILE"), "{line}");
        let e = Error::new(Phase::Tls, io::ErrorKind::InvalidData, "expired: too old");
        let line = signal_line(Format::Text, &Signal::Error(e), None);
        assert!(!line.contains("--ca"), "{line}");
    }

    #[test]
    fn test_signal_lines_json() {
        let peer: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(
            signal_line(Format::Json, &Signal::Connected(peer), None),
            r#"{"signal":"connected","peer":"[::1]:80"}"#
        );
        assert_eq!(
            signal_line(Format::Json, &Signal::PeerClosed, None),
            r#"{"signal":"peer_closed"}"#
        );
        let e = Error::new(
            Phase::Read,
            io::ErrorKind::ConnectionReset,
            "reset\nby peer",
        );
        assert_eq!(
            signal_line(Format::Json, &Signal::Error(e), None),
            r#"{"signal":"error","phase":"read","kind":"ConnectionReset","message":"reset\nby peer"}"#
        );
        let e = Error::new(Phase::Write, io::ErrorKind::TimedOut, "");
        assert!(signal_line(Format::Json, &Signal::Error(e), None)
            .ends_with(r#""message":"timed out"}"#));
        assert_eq!(
            final_line(Format::Json, None, Some(InputLeft::Unknown)),
            r#"{"signal":"socket_shutdown","reason":"error","sent":0,"acked":0,"received":0,"unsent":0,"attempts":0,"input_left":null}"#
        );
        assert!(final_line(Format::Json, None, Some(InputLeft::Bytes(5)))
            .ends_with(r#""unsent":0,"attempts":0,"input_left":5}"#));
    }

    #[test]
    fn test_reconnect_lines() {
        let r = Signal::Reconnecting {
            attempt: 3,
            delay: std::time::Duration::from_millis(1250),
        };
        assert_eq!(
            signal_line(Format::Text, &r, None),
            "ttc: reconnecting attempt=3 delay=1.250"
        );
        assert_eq!(
            signal_line(Format::Json, &r, None),
            r#"{"signal":"reconnecting","attempt":3,"delay_ms":1250}"#
        );
        assert_eq!(secs(std::time::Duration::from_millis(5)), "0.005");
    }

    /// A loopback port nobody listens on.
    fn ttc_port_refused() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }
}
