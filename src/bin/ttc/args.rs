//! The command line: what `ttc` was asked to do, parsed with `lexopt`.
//!
//! Every mistake is a [`Usage`] error: one line for stderr, exit status 2.

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

use lexopt::prelude::*;
use ttc::peers::Peer;
use ttc::IpFamily;

/// The TLS lines of `--help`: the options with the `tls` feature, one
/// line without it.
#[cfg(feature = "tls")]
macro_rules! tls_help {
    () => {
        "      --tls                   speak TLS, verifying the server against the system's
                              CA certificates
      --ca FILE               trust the CA certificates in FILE (PEM) instead
      --cert FILE --key FILE  client certificate and key (PEM), for mutual TLS
      --pin sha256//BASE64    also require this SHA-256 of the server's public key
                              (as curl's --pinnedpubkey; repeatable)
      --alpn PROTO            offer this ALPN protocol (repeatable, in order)
      --servername NAME       name to send and verify (default: HOST)
      --insecure              TEST AID: do not verify the server's certificate
                              (prints a warning on every use)
                              Each of these implies --tls.
"
    };
}
#[cfg(not(feature = "tls"))]
macro_rules! tls_help {
    () => {
        "      --tls ...               not in this build (build with --features tls)\n"
    };
}

/// The `serve` TLS lines of `--help` (only with the `tls` feature).
#[cfg(feature = "tls")]
macro_rules! tls_serve_help {
    (usage) => {
        "            [--tls-cert FILE --tls-key FILE]\n"
    };
    (options) => {
        "      --tls-cert FILE --tls-key FILE
                              serve TLS with this certificate chain and key (PEM)
"
    };
    (signal) => {
        "       (with TLS also tls_version=TLSv1.3 cipher=NAME)\n"
    };
}
#[cfg(not(feature = "tls"))]
macro_rules! tls_serve_help {
    ($_:ident) => {
        ""
    };
}

/// `ttc --help`.
pub const HELP: &str = concat!(
    "\
ttc: a threaded TCP client (netcat-style pipe, rate-controlled send) and test peers

Usage:
  ttc [OPTIONS] HOST PORT            stdin to the server, the server's bytes to stdout
  ttc [OPTIONS] --send FILE HOST PORT [--rate BYTES_PER_SEC]
  ttc demo [--json]                  fortune server on loopback + client, no setup
  ttc serve echo|sink|fortune|burst[:N] [--port P] [--bind ADDR] [--json]
",
    tls_serve_help!(usage),
    "
Client options:
      --initial TEXT          send TEXT first, right after connecting
      --initial-file FILE     send the contents of FILE first
      --send FILE             send FILE (instead of stdin), then finish
      --rate BYTES_PER_SEC    pace --send to this average rate (suffixes k, M, Ki, Mi)
      --progress              show bytes, rate and ETA on one line of stderr
      --no-progress           do not (default: on for --send when stderr is a terminal)
      --json                  signal lines as JSON objects, one per line (log
                              lines are then off unless TTC_LOG/RUST_LOG is set)
      --connect-timeout SECS  budget for resolving and connecting (default 10)
      --write-timeout SECS    fail when no queued byte is written for this long
                              (default 30; 0 or none: no limit)
      --linger SECS           after end of input, wait this long for the server
                              to close (default 5)
      --no-delay / --delay    TCP_NODELAY on (default) / off
      --keepalive SECS        TCP keepalive, idle time before the first probe
  -4 / -6                     IPv4 only / IPv6 only
",
    tls_help!(),
    "  -h, --help                  this text
  -V, --version               the version
SECS may be fractional or end in ms (250ms).

Serve options:
      --port P                port to listen on (default 0: any free port)
      --bind ADDR             IP address to listen on (default 127.0.0.1;
                              0.0.0.0 or :: for every interface)
",
    tls_serve_help!(options),
    "
Signal lines (stderr, one per line; socket_shutdown is always last):
  ttc: connected PEER
  ttc: peer_closed
  ttc: error phase=PHASE kind=KIND message=\"TEXT\"
  ttc: socket_shutdown reason=REASON sent=N received=N unsent=N
",
    tls_serve_help!(signal),
    "With --json: {\"signal\":\"connected\",\"peer\":\"...\"}, {\"signal\":\"peer_closed\"},
  {\"signal\":\"error\",\"phase\":..,\"kind\":..,\"message\":..},
  {\"signal\":\"socket_shutdown\",\"reason\":..,\"sent\":N,\"received\":N,\"unsent\":N}

End of stdin (or of FILE) flushes, half-closes the connection and prints the
server's reply until it closes.

The first SIGINT/SIGTERM sends Shutdown: the client stops at once, even when
idle, and still prints the shutdown line with the unsent count. During a
pending connect it takes effect when that connect attempt ends (at most
--connect-timeout). A second SIGINT/SIGTERM exits immediately.

Environment:
  TTC_LOG (or RUST_LOG)  level of the library's log lines on stderr: error,
                         warn (the default), info, debug, trace or off. With
                         --json (client and demo) they are off unless set.

Exit status:
  0    clean end: input finished and the server closed, or the server closed
  1    network error: resolve, connect, reset, timeout, also when the server
       closed but what was queued could not be written (unsent > 0); or
       stdout failed
  2    usage error: bad option, port, address, rate, missing file
  130  stopped by SIGINT (143: SIGTERM)
",
);

/// A command-line mistake: printed as one line, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; see 'ttc --help'", self.0)
    }
}

impl From<lexopt::Error> for Usage {
    fn from(e: lexopt::Error) -> Usage {
        use lexopt::Error as E;
        // Our own wording, and no `{:?}` of the values: quoting them by
        // hand keeps Rust's Debug string escaping out of the binary.
        Usage(match e {
            E::MissingValue { option: Some(o) } => format!("missing argument for option '{o}'"),
            E::MissingValue { option: None } => String::from("missing argument"),
            E::UnexpectedOption(o) => format!("invalid option '{o}'"),
            E::UnexpectedArgument(v) => format!("unexpected argument '{}'", v.to_string_lossy()),
            E::UnexpectedValue { option, value } => format!(
                "option '{option}' takes no value (got '{}')",
                value.to_string_lossy()
            ),
            E::NonUnicodeValue(v) => {
                format!("argument is not valid text: '{}'", v.to_string_lossy())
            }
            // Our own value parsers say what was wrong and with what.
            E::ParsingFailed { error, .. } => error.to_string(),
            E::Custom(error) => error.to_string(),
        })
    }
}

fn usage<T>(msg: impl Into<String>) -> Result<T, Usage> {
    Err(Usage(msg.into()))
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `ttc HOST PORT` (with or without `--send`).
    Connect(Connect),
    /// `ttc demo`.
    Demo { json: bool },
    /// `ttc serve KIND`.
    Serve(Serve),
    /// `ttc --help`.
    Help,
    /// `ttc --version`.
    Version,
}

/// Where the bytes for the server come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input, until end of file.
    Stdin,
    /// A file, optionally paced to `rate` bytes per second.
    File { path: PathBuf, rate: Option<u64> },
}

/// The initial message, before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Initial {
    /// `--initial TEXT`.
    Text(Vec<u8>),
    /// `--initial-file FILE`.
    File(PathBuf),
}

/// `ttc [OPTIONS] HOST PORT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    pub host: String,
    pub port: u16,
    pub input: Input,
    pub initial: Option<Initial>,
    /// `Some` when `--progress` or `--no-progress` was given.
    pub progress: Option<bool>,
    pub json: bool,
    pub connect_timeout: Option<Duration>,
    /// `Some(None)`: no limit.
    pub write_timeout: Option<Option<Duration>>,
    pub linger: Option<Duration>,
    pub nodelay: Option<bool>,
    pub keepalive: Option<Duration>,
    pub family: IpFamily,
    /// `Some` when `--tls` or any TLS option was given.
    #[cfg(feature = "tls")]
    pub tls: Option<Box<TlsArgs>>,
}

/// `--tls` and the options that go with it, as given (the files are read
/// and the pins checked when the session starts).
#[cfg(feature = "tls")]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsArgs {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub pins: Vec<String>,
    pub alpn: Vec<String>,
    pub servername: Option<String>,
    pub insecure: bool,
}

/// What a TLS option gives without the `tls` feature.
#[cfg_attr(feature = "tls", allow(dead_code))]
pub const NO_TLS: &str = "this ttc was built without TLS; build with --features tls";

impl Connect {
    /// The library configuration these options ask for.
    pub fn config(&self, initial: Vec<u8>) -> ttc::Config {
        let mut c = ttc::Config::new(self.host.clone(), self.port)
            .family(self.family)
            .initial_message(initial)
            .keepalive(self.keepalive);
        if let Some(t) = self.connect_timeout {
            c = c.connect_timeout(t);
        }
        if let Some(t) = self.write_timeout {
            c = c.write_timeout(t);
        }
        if let Some(t) = self.linger {
            c = c.linger(t);
        }
        if let Some(on) = self.nodelay {
            c = c.nodelay(on);
        }
        c
    }
}

/// `ttc serve KIND`.
#[derive(Debug, Clone, PartialEq)]
pub struct Serve {
    pub peer: Peer,
    pub bind: IpAddr,
    pub port: u16,
    pub json: bool,
    /// `--tls-cert FILE --tls-key FILE`.
    #[cfg(feature = "tls")]
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Parses the arguments after the program name.
pub fn parse<I>(args: I) -> Result<Command, Usage>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // A subcommand is recognised only as the very first argument, so a
    // host called "demo" is still reachable as `ttc -4 demo 80`.
    let rest = || lexopt::Parser::from_args(args[1..].iter().cloned());
    match args.first().and_then(|a| a.to_str()) {
        Some("demo") => parse_demo(rest()),
        Some("serve") => parse_serve(rest()),
        _ => parse_connect(lexopt::Parser::from_args(args)),
    }
}

fn parse_demo(mut p: lexopt::Parser) -> Result<Command, Usage> {
    let mut json = false;
    while let Some(arg) = p.next()? {
        match arg {
            Long("json") => json = true,
            Short('h') | Long("help") => return Ok(Command::Help),
            _ => return Err(arg.unexpected().into()),
        }
    }
    Ok(Command::Demo { json })
}

fn parse_serve(mut p: lexopt::Parser) -> Result<Command, Usage> {
    let mut peer = None;
    let mut bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port = 0;
    let mut json = false;
    #[cfg(feature = "tls")]
    let (mut tls_cert, mut tls_key): (Option<PathBuf>, Option<PathBuf>) = (None, None);
    while let Some(arg) = p.next()? {
        match arg {
            #[cfg(feature = "tls")]
            Long("tls-cert") => tls_cert = Some(p.value()?.into()),
            #[cfg(feature = "tls")]
            Long("tls-key") => tls_key = Some(p.value()?.into()),
            #[cfg(not(feature = "tls"))]
            Long("tls-cert" | "tls-key") => return usage(NO_TLS),
            Long("port") => port = p.value()?.parse_with(|s| parse_port(s, true))?,
            Long("bind") => bind = p.value()?.parse_with(parse_bind)?,
            Long("json") => json = true,
            Short('h') | Long("help") => return Ok(Command::Help),
            Value(v) if peer.is_none() => {
                let name = v.string()?;
                match Peer::parse(&name) {
                    Some(k) => peer = Some(k),
                    None => {
                        return usage(format!(
                        "unknown peer '{name}' (expected echo, sink, fortune, burst or burst:BYTES)"
                    ))
                    }
                }
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    let Some(peer) = peer else {
        return usage("serve needs a peer: echo, sink, fortune or burst");
    };
    #[cfg(feature = "tls")]
    let tls = match (tls_cert, tls_key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return usage("--tls-cert and --tls-key go together"),
    };
    Ok(Command::Serve(Serve {
        peer,
        bind,
        port,
        json,
        #[cfg(feature = "tls")]
        tls,
    }))
}

fn parse_connect(mut p: lexopt::Parser) -> Result<Command, Usage> {
    let mut positional: Vec<OsString> = Vec::new();
    let mut send: Option<PathBuf> = None;
    let mut rate: Option<u64> = None;
    let mut initial: Option<Initial> = None;
    let mut c = Connect {
        host: String::new(),
        port: 0,
        input: Input::Stdin,
        initial: None,
        progress: None,
        json: false,
        connect_timeout: None,
        write_timeout: None,
        linger: None,
        nodelay: None,
        keepalive: None,
        family: IpFamily::Any,
        #[cfg(feature = "tls")]
        tls: None,
    };
    #[cfg(feature = "tls")]
    let mut tls: Option<TlsArgs> = None;
    let mut set_initial = |i: Initial| {
        if initial.replace(i).is_some() {
            return usage("give --initial or --initial-file once");
        }
        Ok(())
    };
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long("json") => c.json = true,
            Long("initial") => set_initial(Initial::Text(p.value()?.into_vec()))?,
            Long("initial-file") => set_initial(Initial::File(p.value()?.into()))?,
            Long("send") => send = Some(p.value()?.into()),
            Long("rate") => rate = Some(p.value()?.parse_with(parse_rate)?),
            Long("progress") => c.progress = Some(true),
            Long("no-progress") => c.progress = Some(false),
            Long("connect-timeout") => {
                c.connect_timeout = Some(p.value()?.parse_with(|s| parse_secs(s, false))?)
            }
            Long("write-timeout") => {
                c.write_timeout = Some(p.value()?.parse_with(parse_optional_secs)?)
            }
            Long("linger") => c.linger = Some(p.value()?.parse_with(|s| parse_secs(s, true))?),
            Long("no-delay") => c.nodelay = Some(true),
            Long("delay") => c.nodelay = Some(false),
            Long("keepalive") => {
                c.keepalive = Some(p.value()?.parse_with(|s| parse_secs(s, false))?)
            }
            #[cfg(feature = "tls")]
            Long(
                o @ ("tls" | "ca" | "cert" | "key" | "pin" | "alpn" | "servername" | "insecure"),
            ) => {
                let t = tls.get_or_insert_default();
                match o {
                    "ca" => t.ca = Some(p.value()?.into()),
                    "cert" => t.cert = Some(p.value()?.into()),
                    "key" => t.key = Some(p.value()?.into()),
                    "pin" => t.pins.push(p.value()?.string()?),
                    "alpn" => t.alpn.push(p.value()?.string()?),
                    "servername" => t.servername = Some(p.value()?.string()?),
                    "insecure" => t.insecure = true,
                    _ => {}
                }
            }
            #[cfg(not(feature = "tls"))]
            Long("tls" | "ca" | "cert" | "key" | "pin" | "alpn" | "servername" | "insecure") => {
                return usage(NO_TLS)
            }
            Short('4') => c.family = IpFamily::V4,
            Short('6') => c.family = IpFamily::V6,
            Value(v) if positional.len() < 2 => positional.push(v),
            _ => return Err(arg.unexpected().into()),
        }
    }
    let mut positional = positional.into_iter();
    let (Some(host), Some(port)) = (positional.next(), positional.next()) else {
        return usage("missing HOST and PORT");
    };
    c.host = host.into_string().or_else(|h| {
        usage(format!(
            "host name is not valid text: '{}'",
            h.to_string_lossy()
        ))
    })?;
    if c.host.trim().is_empty() {
        return usage("empty host name");
    }
    c.port = match port.to_str() {
        Some(s) => parse_port(s, false).or_else(usage)?,
        None => return usage(format!("invalid port '{}'", port.to_string_lossy())),
    };
    #[cfg(feature = "tls")]
    if let Some(t) = &tls {
        if t.cert.is_some() != t.key.is_some() {
            return usage("--cert and --key go together");
        }
        if t.alpn.iter().any(|a| a.is_empty() || a.len() > 255) {
            return usage("an --alpn protocol is 1 to 255 bytes");
        }
    }
    #[cfg(feature = "tls")]
    {
        c.tls = tls.map(Box::new);
    }
    c.initial = initial;
    c.input = match (send, rate) {
        (Some(path), rate) => Input::File { path, rate },
        (None, Some(_)) => return usage("--rate needs --send FILE"),
        (None, None) => Input::Stdin,
    };
    Ok(Command::Connect(c))
}

/// A port number. Port 0 is only meaningful to listen on.
pub fn parse_port(s: &str, allow_zero: bool) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(0) if !allow_zero => Err("invalid port '0' (expected 1-65535)".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!(
            "invalid port '{s}' (expected {}-65535)",
            u8::from(!allow_zero)
        )),
    }
}

/// An address to listen on: an IP address, not a host name (what a server
/// binds should not depend on a resolver). Brackets are accepted around an
/// IPv6 address, as for the client.
pub fn parse_bind(s: &str) -> Result<IpAddr, String> {
    let bare = s
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse().map_err(|_| {
        format!(
            "invalid bind address '{s}' (expected an IP address, e.g. 127.0.0.1, 0.0.0.0 or ::1)"
        )
    })
}

/// A rate in bytes per second: an integer with an optional suffix `k`
/// (1000), `M` (10^6), `G` (10^9), `Ki` (1024), `Mi` (2^20) or `Gi` (2^30).
/// Zero is refused.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid rate '{s}' (expected bytes per second, e.g. 100000 or 100k)");
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    let factor: u64 = match suffix {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return Err(bad()),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(factor) {
        Some(0) => Err("invalid rate '0' (must be at least 1 byte per second)".into()),
        Some(r) => Ok(r),
        None => Err(bad()),
    }
}

/// Seconds: a decimal number, or a number followed by `s` or `ms`.
/// Parsed with integers (no floating point: it would cost the binary
/// tens of KiB); digits beyond nanoseconds are ignored.
pub fn parse_secs(s: &str, allow_zero: bool) -> Result<Duration, String> {
    let bad = || format!("invalid time '{s}' (expected seconds, e.g. 5, 0.5 or 250ms)");
    let (num, unit_nanos) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000u64)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000_000_000)
    } else {
        (s, 1_000_000_000)
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut frac_nanos = 0;
    let mut place = unit_nanos;
    for b in frac.bytes() {
        place /= 10;
        frac_nanos += u64::from(b - b'0') * place;
    }
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(frac_nanos))
        .ok_or_else(bad)?;
    let d = Duration::from_nanos(nanos);
    if d.is_zero() && !allow_zero {
        return Err(format!("invalid time '{s}' (must be more than 0)"));
    }
    // A year is plenty; it also keeps `Instant + d` from overflowing.
    if d > Duration::from_secs(365 * 24 * 3600) {
        return Err(bad());
    }
    Ok(d)
}

/// Seconds, where `0` or `none` means no limit.
fn parse_optional_secs(s: &str) -> Result<Option<Duration>, String> {
    if s == "none" {
        return Ok(None);
    }
    let d = parse_secs(s, true)?;
    Ok(if d.is_zero() { None } else { Some(d) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(args: &[&str]) -> Connect {
        match parse(args.iter().copied()) {
            Ok(Command::Connect(c)) => c,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn error(args: &[&str]) -> String {
        match parse(args.iter().copied()) {
            Err(e) => e.to_string(),
            other => panic!("{args:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn test_host_port_and_options() {
        let c = connect(&[
            "-4",
            "--initial",
            "HI",
            "--linger=1.5",
            "--write-timeout",
            "none",
            "--delay",
            "example.org",
            "7000",
        ]);
        assert_eq!((c.host.as_str(), c.port), ("example.org", 7000));
        assert_eq!(c.family, IpFamily::V4);
        assert_eq!(c.initial, Some(Initial::Text(b"HI".to_vec())));
        assert_eq!(c.linger, Some(Duration::from_millis(1500)));
        assert_eq!(c.write_timeout, Some(None));
        assert_eq!(c.nodelay, Some(false));
        assert_eq!(c.input, Input::Stdin);
    }

    #[test]
    fn test_send_with_rate() {
        let c = connect(&["--send", "f.bin", "--rate", "100k", "h", "1"]);
        assert_eq!(
            c.input,
            Input::File {
                path: "f.bin".into(),
                rate: Some(100_000)
            }
        );
    }

    #[test]
    fn test_subcommands() {
        assert_eq!(parse(["demo"]).unwrap(), Command::Demo { json: false });
        match parse(["serve", "burst:10", "--port", "0", "--bind", "[::1]"]).unwrap() {
            Command::Serve(s) => {
                assert_eq!(s.peer, Peer::Burst(10));
                assert_eq!(
                    (s.bind, s.port),
                    (IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 0)
                );
            }
            other => panic!("{other:?}"),
        }
        // Not first: an ordinary host name.
        assert_eq!(connect(&["-6", "demo", "80"]).host, "demo");
        assert_eq!(parse(["--version"]).unwrap(), Command::Version);
        assert_eq!(parse(["serve", "--help"]).unwrap(), Command::Help);
    }

    #[test]
    fn test_usage_errors_are_one_line() {
        for (args, want) in [
            (&["h", "0"][..], "invalid port '0'"),
            (&["h", "http"], "invalid port 'http'"),
            (&["h", "70000"], "invalid port '70000'"),
            (&["--bogus", "h", "1"], "invalid option '--bogus'"),
            (&["h"], "missing HOST and PORT"),
            (&[], "missing HOST and PORT"),
            (&["h", "1", "extra"], "unexpected argument"),
            (
                &["--send", "f", "--rate", "0", "h", "1"],
                "invalid rate '0'",
            ),
            (&["--rate", "10", "h", "1"], "--rate needs --send"),
            (&["--initial", "a", "--initial-file", "b", "h", "1"], "once"),
            (&["--connect-timeout", "0", "h", "1"], "must be more than 0"),
            (&["--linger", "soon", "h", "1"], "invalid time 'soon'"),
            (&["serve", "chat"], "unknown peer 'chat'"),
            (&["serve"], "serve needs a peer"),
            (
                &["serve", "echo", "--port", "70000"],
                "invalid port '70000'",
            ),
            (
                &["serve", "echo", "--bind", "example.org"],
                "invalid bind address",
            ),
            (
                &["serve", "echo", "--bind", "127.0.0.1:80"],
                "invalid bind address",
            ),
            (&["demo", "x"], "unexpected argument"),
        ] {
            let e = error(args);
            assert!(e.contains(want), "{args:?}: {e}");
            assert!(!e.contains('\n'), "{args:?}: {e}");
        }
    }

    #[test]
    fn test_tls_options() {
        let args = [
            "--ca",
            "ca.pem",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--pin",
            "sha256//x",
            "--alpn",
            "h2",
            "--alpn",
            "http/1.1",
            "--servername",
            "example.org",
            "--insecure",
            "127.0.0.1",
            "443",
        ];
        #[cfg(feature = "tls")]
        {
            let t = connect(&args).tls.unwrap();
            assert_eq!(t.ca, Some("ca.pem".into()));
            assert_eq!(
                (t.cert, t.key),
                (Some("c.pem".into()), Some("k.pem".into()))
            );
            assert_eq!(t.pins, ["sha256//x"]);
            assert_eq!(t.alpn, ["h2", "http/1.1"]);
            assert_eq!(t.servername.as_deref(), Some("example.org"));
            assert!(t.insecure);
            assert_eq!(connect(&["--tls", "h", "1"]).tls, Some(Box::default()));
            assert!(error(&["--cert", "c", "h", "1"]).contains("go together"));
            assert!(error(&["--alpn", "", "h", "1"]).contains("--alpn"));
            match parse(["serve", "echo", "--tls-cert", "c", "--tls-key", "k"]).unwrap() {
                Command::Serve(s) => assert_eq!(s.tls, Some(("c".into(), "k".into()))),
                other => panic!("{other:?}"),
            }
            assert!(error(&["serve", "echo", "--tls-cert", "c"]).contains("go together"));
            assert_eq!(connect(&["h", "1"]).tls, None);
        }
        #[cfg(not(feature = "tls"))]
        {
            assert!(error(&args).contains(NO_TLS));
            assert!(error(&["--tls", "h", "1"]).contains(NO_TLS));
            assert!(
                error(&["serve", "echo", "--tls-cert", "c", "--tls-key", "k"]).contains(NO_TLS)
            );
        }
    }

    #[test]
    fn test_parse_rate_suffixes() {
        assert_eq!(parse_rate("1"), Ok(1));
        assert_eq!(parse_rate("100k"), Ok(100_000));
        assert_eq!(parse_rate("2Mi"), Ok(2 << 20));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("0k").is_err());
        assert!(parse_rate("-5").is_err());
        assert!(parse_rate("1.5M").is_err());
        assert!(parse_rate("99999999999G").is_err());
        assert!(parse_rate("").is_err());
    }

    #[test]
    fn test_parse_secs_forms() {
        assert_eq!(parse_secs("2", false), Ok(Duration::from_secs(2)));
        assert_eq!(parse_secs("0.25", false), Ok(Duration::from_millis(250)));
        assert_eq!(parse_secs("250ms", false), Ok(Duration::from_millis(250)));
        assert_eq!(parse_secs("3s", false), Ok(Duration::from_secs(3)));
        assert_eq!(parse_secs("0", true), Ok(Duration::ZERO));
        for bad in [
            "",
            "inf",
            "nan",
            "1e3",
            "-1",
            "1e999",
            "ms",
            "1h",
            "99999999999",
        ] {
            assert!(parse_secs(bad, true).is_err(), "{bad}");
        }
        assert_eq!(parse_optional_secs("0"), Ok(None));
        assert_eq!(parse_optional_secs("none"), Ok(None));
    }
}
