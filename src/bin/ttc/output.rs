//! What `ttc` prints on stderr: one line per signal, in text or JSON, and
//! the progress line that updates in place.
//!
//! Text lines (stable, documented in `--help` and the README):
//!
//! ```text
//! ttc: connected 127.0.0.1:7000
//! ttc: peer_closed
//! ttc: error phase=connect kind=ConnectionRefused message="Connection refused (os error 111)"
//! ttc: socket_shutdown reason=finished sent=12 received=34 unsent=0
//! ```
//!
//! JSON lines carry the same fields, with a `"signal"` key naming the line.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

use ttc::{Error, ShutdownReport, Signal};

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
    match format {
        Format::Text => {
            let mut s = format!("ttc: error phase={phase} kind={} message=", kind_name(kind));
            json_string(&mut s, message);
            s
        }
        Format::Json => JsonLine::new("signal", "error")
            .str("phase", phase)
            .str("kind", &kind_name(kind))
            .str("message", message)
            .finish(),
    }
}

fn library_error_line(format: Format, e: &Error) -> String {
    // The library's message is the system's description; an error made
    // without one falls back to the kind's description.
    let message = if e.message().is_empty() {
        e.kind.to_string()
    } else {
        e.message().to_owned()
    };
    error_line(format, e.phase.as_str(), e.kind, &message)
}

/// The final line's text from its fields.
pub fn shutdown_line(
    format: Format,
    reason: &str,
    sent: u64,
    received: u64,
    unsent: u64,
) -> String {
    match format {
        Format::Text => format!(
            "ttc: socket_shutdown reason={reason} sent={sent} received={received} unsent={unsent}"
        ),
        Format::Json => shutdown_json(reason, sent, received, unsent).finish(),
    }
}

fn shutdown_json(reason: &str, sent: u64, received: u64, unsent: u64) -> JsonLine {
    JsonLine::new("signal", "socket_shutdown")
        .str("reason", reason)
        .num("sent", sent)
        .num("received", received)
        .num("unsent", unsent)
}

#[cfg(not(feature = "tls"))]
fn report_line(format: Format, r: &ShutdownReport) -> String {
    shutdown_line(format, r.reason.as_str(), r.sent, r.received, r.unsent)
}

/// With TLS, the line also names the protocol version and cipher suite.
#[cfg(feature = "tls")]
fn report_line(format: Format, r: &ShutdownReport) -> String {
    let Some(tls) = &r.tls else {
        return shutdown_line(format, r.reason.as_str(), r.sent, r.received, r.unsent);
    };
    match format {
        Format::Text => format!(
            "{} tls_version={} cipher={}",
            shutdown_line(format, r.reason.as_str(), r.sent, r.received, r.unsent),
            tls.version,
            tls.cipher
        ),
        Format::Json => shutdown_json(r.reason.as_str(), r.sent, r.received, r.unsent)
            .str("tls_version", tls.version)
            .str("cipher", tls.cipher)
            .finish(),
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

/// The line for a signal.
pub fn signal_line(format: Format, sig: &Signal) -> String {
    match (sig, format) {
        (Signal::Connected(peer), Format::Text) => format!("ttc: connected {peer}"),
        (Signal::Connected(peer), Format::Json) => JsonLine::new("signal", "connected")
            .str("peer", &peer.to_string())
            .finish(),
        (Signal::PeerClosed, Format::Text) => String::from("ttc: peer_closed"),
        (Signal::PeerClosed, Format::Json) => JsonLine::new("signal", "peer_closed").finish(),
        (Signal::Error(e), _) => library_error_line(format, e),
        (Signal::SocketShutdown(r), _) => report_line(format, r),
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
    use ttc::{Phase, Reason};

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
            signal_line(Format::Text, &Signal::Connected(peer)),
            "ttc: connected 127.0.0.1:7000"
        );
        assert_eq!(
            signal_line(Format::Text, &Signal::PeerClosed),
            "ttc: peer_closed"
        );
        let e = Error::new(
            Phase::Connect,
            io::ErrorKind::ConnectionRefused,
            "said \"no\"",
        );
        assert_eq!(
            signal_line(Format::Text, &Signal::Error(e)),
            r#"ttc: error phase=connect kind=ConnectionRefused message="said \"no\"""#
        );
        let r = ttc::Config::new("127.0.0.1", ttc_port_refused())
            .spawn()
            .unwrap()
            .join();
        assert_eq!(r.reason, Reason::Error);
        let line = signal_line(Format::Text, &Signal::SocketShutdown(r));
        assert_eq!(
            line,
            "ttc: socket_shutdown reason=error sent=0 received=0 unsent=0"
        );
    }

    #[test]
    fn test_signal_lines_json() {
        let peer: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(
            signal_line(Format::Json, &Signal::Connected(peer)),
            r#"{"signal":"connected","peer":"[::1]:80"}"#
        );
        assert_eq!(
            signal_line(Format::Json, &Signal::PeerClosed),
            r#"{"signal":"peer_closed"}"#
        );
        let e = Error::new(
            Phase::Read,
            io::ErrorKind::ConnectionReset,
            "reset\nby peer",
        );
        assert_eq!(
            signal_line(Format::Json, &Signal::Error(e)),
            r#"{"signal":"error","phase":"read","kind":"ConnectionReset","message":"reset\nby peer"}"#
        );
        let e = Error::new(Phase::Write, io::ErrorKind::TimedOut, "");
        assert!(signal_line(Format::Json, &Signal::Error(e)).ends_with(r#""message":"timed out"}"#));
    }

    /// A loopback port nobody listens on.
    fn ttc_port_refused() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }
}
