//! The command line: what `ttc` was asked to do, parsed with `lexopt`.
//!
//! Every mistake is a [`Usage`] error: one line for stderr, exit status 2.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
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
                              (as curl's pinnedpubkey; repeatable)
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
        "      --tls ...               not in this build (it needs the tls feature)\n"
    };
}

/// The proxy lines of `--help`: the options with the `proxy` feature, one
/// line without it.
#[cfg(feature = "proxy")]
macro_rules! proxy_help {
    (options) => {
        "      --proxy URL             connect through this proxy: socks5://, socks5h://
                              (the proxy resolves HOST), socks4://, socks4a://
                              or http:// (CONNECT), with optional USER:PASS@
                              (percent-encoded); port 1080 unless given;
                              '' for none (default: ALL_PROXY)
      --noproxy LIST          hosts not to reach through a proxy, as NO_PROXY
                              (default: NO_PROXY)
"
    };
    (environment) => {
        "  all_proxy, ALL_PROXY   the proxy URL when --proxy is not given (as curl)
  no_proxy, NO_PROXY     hosts reached directly, even with --proxy: a comma
                         list of names (each also matches its subdomains)
                         and IP addresses, or * for all (as curl)
"
    };
}
#[cfg(not(feature = "proxy"))]
macro_rules! proxy_help {
    (options) => {
        "      --proxy, --noproxy      not in this build (it needs the proxy feature)\n"
    };
    (environment) => {
        ""
    };
}

/// The `--no-follow-routes` line of `--help` (only with the `routes`
/// feature: without it nothing follows the routes).
#[cfg(feature = "routes")]
macro_rules! routes_help {
    () => {
        "      --no-follow-routes      with --reconnect: do not reconnect at once when
                              the route to the server goes away or comes back
"
    };
}
#[cfg(not(feature = "routes"))]
macro_rules! routes_help {
    () => {
        ""
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
  ttc [OPTIONS] HOST:PORT            the same (IPv6 in brackets: [::1]:7000)
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
      --progress              bytes and rate (for a file, % and ETA) on stderr
      --no-progress           do not (default: on for --send when stderr is a terminal)
      --json                  signal lines as JSON objects, one per line (log
                              lines are then off unless TTC_LOG/RUST_LOG is set)
      --connect-timeout SECS  budget for resolving and connecting (default 10)
      --dns SERVER[:PORT]     resolve HOST with this DNS server (repeatable; port
                              53 unless given; IPv6 as [ADDR]:PORT) instead of
                              the system's resolver
      --resolve-timeout SECS  limit on resolving HOST alone (default: the
                              connect budget)
  -w SECS                     connect timeout (nc -w; no idle timeout yet)
      --write-timeout SECS    fail when no queued byte is written for this long
                              (default 30; 0 or none: no limit)
      --linger SECS           after our half-close, end when the server has
                              sent nothing for SECS (default 5; 0: no wait;
                              none: wait for its close)
      --no-delay / --delay    TCP_NODELAY on (default) / off
      --keepalive IDLE[,INTERVAL[,COUNT]]
                              TCP keepalive: idle time before the first probe
                              (SECS), time between probes, probes before the
                              connection is given up (default: the system's)
      --user-timeout SECS     end the connection when written data stays
                              unacknowledged this long (TCP_USER_TIMEOUT)
      --idle-timeout SECS     end the connection when the server sends
                              nothing for this long
      --reconnect             when the connection is lost, connect again and
                              send again what the server did not acknowledge
      --backoff INITIAL,MAX   wait before a reconnect: random, up to INITIAL
                              doubled per attempt, at most MAX (default 0.5,30)
      --max-attempts N        give up after N reconnect attempts in a row
",
    routes_help!(),
    "      --attempt-delay SECS    Happy Eyeballs: while an attempt is pending this
                              long, try the next address too (default 250ms;
                              10ms to 2s)
      --interface IFACE       connect through this network interface only
                              (SO_BINDTODEVICE), e.g. wlan0
      --source IP             connect from this local address (only addresses
                              of its family are tried)
",
    proxy_help!(options),
    "  -4 / -6                     IPv4 only / IPv6 only (not both)
  -q, --quiet                 no signal lines but errors and the final line
  -v                          debug log lines (as TTC_LOG=debug)
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
  ttc: error phase=PHASE kind=KIND [host=HOST port=PORT] message=\"TEXT\"
  ttc: disconnected reason=REASON acked=N       (--reconnect: one connection ended)
  ttc: reconnecting attempt=N delay=SECS        (--reconnect: waiting, then attempt N)
  ttc: socket_shutdown reason=REASON sent=N acked=N received=N unsent=N
      attempts=N [connections=N resent=N lost=N] [input_left=N]
",
    tls_serve_help!(signal),
    "REASON: finished, linger, peer_closed, shutdown, aborted or error.
input_left (if the server closed first or the input was not all taken):
bytes of the input never taken; for stdin, unknown unless it had ended.
With --json: one object per line, the name under \"signal\", the same keys
(\"input_left\":null for unknown).
acked: of what was sent, the bytes the server's TCP acknowledged; sent - acked
may not have reached the server. connections, resent, lost: with --reconnect.

End of stdin (or of FILE) flushes, half-closes the connection and prints the
server's reply until it closes (reason=finished), or until it has sent
nothing for --linger (reason=linger: it may have had more to send). To only
read a server, give no input (</dev/null).

The first SIGINT/SIGTERM sends Shutdown: the client stops at once, even when
idle, and still prints the shutdown line with the unsent count. Pending
connection attempts stop at once too. A second SIGINT/SIGTERM exits immediately if it comes 1 s
or more after the first, or is the other signal (timeout(1) sends one request
as two signals). SIGHUP: with --reconnect, reconnect now (the network
changed); without it, ignored.

Differences from nc and socat:
  End of input half-closes (nc -N); nc -q SECS is about --linger SECS, and
  ttc -q is quiet. -w is only the connect timeout. A server closing before
  the input is all taken is exit 1 (socat: 1, nc: 0).

Environment:
  TTC_LOG (or RUST_LOG)  level of the library's log lines on stderr: error,
                         warn (the default), info, debug, trace or off. With
                         --json (client and demo) they are off unless set.
",
    proxy_help!(environment),
    "
Exit status:
  0    all of the input was sent and the server closed (with --reconnect:
       and acknowledged); or the reader of stdout closed it
  1    network error (resolve, connect, reset, timeout); input_left or
       unsent > 0; reason=linger (--linger none waits); a failed input or
       stdout
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
// Parsed once per run: the size of the `Connect` variant costs nothing.
#[allow(clippy::large_enum_variant)]
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
    /// `Some(None)`: no limit (`--linger none`).
    pub linger: Option<Option<Duration>>,
    pub nodelay: Option<bool>,
    pub keepalive: Option<ttc::Keepalive>,
    pub family: IpFamily,
    /// `--dns`, in the order given.
    pub dns: Vec<SocketAddr>,
    pub resolve_timeout: Option<Duration>,
    pub attempt_delay: Option<Duration>,
    pub interface: Option<String>,
    pub source: Option<IpAddr>,
    /// `-q`: only error lines and the final line on stderr.
    pub quiet: bool,
    /// `-v`: the library's debug log lines.
    pub verbose: bool,
    pub user_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// `--reconnect`, with `--backoff` and `--max-attempts` applied.
    pub reconnect: Option<ttc::Backoff>,
    /// `--proxy URL` as given (`Some("")`: no proxy, whatever the
    /// environment says).
    pub proxy_arg: Option<String>,
    /// `--noproxy LIST` as given (else `NO_PROXY` applies).
    pub noproxy: Option<String>,
    /// With `--reconnect`, follow the kernel's routes (unless
    /// `--no-follow-routes`; only with the `routes` feature).
    #[cfg(feature = "routes")]
    pub follow_routes: bool,
    /// The proxy to use, from `--proxy` or the environment, after the
    /// no-proxy list (set by [`with_env_proxy`]).
    #[cfg(feature = "proxy")]
    pub proxy: Option<ttc::Proxy>,
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

/// What `--proxy URL` gives without the `proxy` feature.
#[cfg_attr(feature = "proxy", allow(dead_code))]
pub const NO_PROXY: &str = "this ttc was built without proxies; build with the proxy feature";

/// What a TLS option gives without the `tls` feature.
#[cfg_attr(feature = "tls", allow(dead_code))]
pub const NO_TLS: &str = "this ttc was built without TLS; build with --features tls";

impl Connect {
    /// The library configuration these options ask for.
    pub fn config(&self, initial: Vec<u8>) -> ttc::Config {
        let mut c = ttc::Config::new(self.host.clone(), self.port)
            .family(self.family)
            .initial_message(initial)
            .keepalive(self.keepalive)
            .user_timeout(self.user_timeout)
            .idle_timeout(self.idle_timeout)
            // The command streams to stdout: a receive that spins waiting
            // for the worker buys microseconds of latency nobody sees, and
            // costs as much CPU as the rest of the download path.
            .recv_spin(std::time::Duration::ZERO);
        if let Some(b) = self.reconnect {
            c = c.reconnect(b);
        }
        #[cfg(feature = "routes")]
        {
            c = c.follow_routes(self.follow_routes);
        }
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
        if !self.dns.is_empty() {
            c = c.resolver(ttc::Resolver::Dns(self.dns.clone()));
        }
        if let Some(t) = self.resolve_timeout {
            c = c.resolve_timeout(Some(t));
        }
        if let Some(d) = self.attempt_delay {
            c = c.attempt_delay(d);
        }
        if let Some(name) = &self.interface {
            c = c.bind_device(name.clone());
        }
        if let Some(ip) = self.source {
            c = c.local_addr(ip);
        }
        #[cfg(feature = "proxy")]
        if let Some(p) = &self.proxy {
            c = c.proxy(p.clone());
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
            Long(name) => return Err(unknown_long(name, DEMO_OPTIONS)),
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
            Long(name) => return Err(unknown_long(name, SERVE_OPTIONS)),
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
        dns: Vec::new(),
        resolve_timeout: None,
        attempt_delay: None,
        interface: None,
        source: None,
        quiet: false,
        verbose: false,
        user_timeout: None,
        idle_timeout: None,
        reconnect: None,
        proxy_arg: None,
        noproxy: None,
        #[cfg(feature = "routes")]
        follow_routes: true,
        #[cfg(feature = "proxy")]
        proxy: None,
        #[cfg(feature = "tls")]
        tls: None,
    };
    let (mut v4_only, mut v6_only) = (false, false);
    // The last option that took a free-form value ("--send FILE"): if it
    // swallowed the host, the error about missing positionals says so.
    let mut last_text: Option<&'static str> = None;
    let mut reconnect = false;
    let mut backoff: Option<(Duration, Duration)> = None;
    let mut max_attempts: Option<u32> = None;
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
            Long("initial") => {
                last_text = Some("--initial TEXT");
                set_initial(Initial::Text(p.value()?.into_vec()))?
            }
            Long("initial-file") => {
                last_text = Some("--initial-file FILE");
                set_initial(Initial::File(p.value()?.into()))?
            }
            Long("send") => {
                last_text = Some("--send FILE");
                send = Some(p.value()?.into())
            }
            Long("rate") => rate = Some(p.value()?.parse_with(parse_rate)?),
            Long("progress") => c.progress = Some(true),
            Long("no-progress") => c.progress = Some(false),
            Long("connect-timeout") | Short('w') => {
                c.connect_timeout = Some(p.value()?.parse_with(|s| parse_secs(s, false))?)
            }
            Long("write-timeout") => {
                c.write_timeout = Some(p.value()?.parse_with(parse_optional_secs)?)
            }
            Long("linger") => c.linger = Some(p.value()?.parse_with(parse_linger)?),
            Long("no-delay") => c.nodelay = Some(true),
            Long("delay") => c.nodelay = Some(false),
            Long("keepalive") => c.keepalive = Some(p.value()?.parse_with(parse_keepalive)?),
            Long("user-timeout") => {
                c.user_timeout = Some(p.value()?.parse_with(|s| parse_secs(s, false))?)
            }
            Long("idle-timeout") => {
                c.idle_timeout = Some(p.value()?.parse_with(|s| parse_secs(s, false))?)
            }
            Long("reconnect") => reconnect = true,
            Long("backoff") => backoff = Some(p.value()?.parse_with(parse_backoff)?),
            Long("max-attempts") => {
                max_attempts = Some(p.value()?.parse_with(|s| {
                    s.parse::<u32>().map_err(|_| {
                        format!("invalid attempt count '{s}' (expected a whole number)")
                    })
                })?)
            }
            Long("dns") => c.dns.push(p.value()?.parse_with(parse_dns_server)?),
            Long("resolve-timeout") => {
                c.resolve_timeout = Some(p.value()?.parse_with(|s| parse_secs(s, false))?)
            }
            Long("attempt-delay") => way_out(&mut c, WayOut::AttemptDelay, p.value()?)?,
            Long("interface") => way_out(&mut c, WayOut::Interface, p.value()?)?,
            Long("source") => way_out(&mut c, WayOut::Source, p.value()?)?,
            Long("proxy") => {
                let url = p.value()?.string()?;
                #[cfg(feature = "proxy")]
                if !url.is_empty() {
                    ttc::Proxy::parse(&url).map_err(|e| Usage(format!("--proxy: {e}")))?;
                }
                #[cfg(not(feature = "proxy"))]
                if !url.is_empty() {
                    return usage(NO_PROXY);
                }
                c.proxy_arg = Some(url);
            }
            Long("noproxy") => c.noproxy = Some(p.value()?.string()?),
            #[cfg(feature = "routes")]
            Long("no-follow-routes") => c.follow_routes = false,
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
            Short('4') => v4_only = true,
            Short('6') => v6_only = true,
            Short('q') | Long("quiet") => c.quiet = true,
            Short('v') => c.verbose = true,
            Value(v) if positional.len() < 2 => positional.push(v),
            Long(name) => return Err(unknown_long(name, CONNECT_OPTIONS)),
            _ => return Err(arg.unexpected().into()),
        }
    }
    c.family = match (v4_only, v6_only) {
        (true, true) => return usage("-4 and -6 exclude each other: give one of them"),
        (true, false) => IpFamily::V4,
        (false, true) => IpFamily::V6,
        (false, false) => IpFamily::Any,
    };
    // The value the last free-form option took.
    let last_value = match (last_text, &send, &initial) {
        (Some("--send FILE"), Some(path), _) => Some(path.as_os_str()),
        (Some(_), _, Some(Initial::File(path))) => Some(path.as_os_str()),
        (Some(_), _, Some(Initial::Text(t))) => Some(OsStr::from_bytes(t)),
        _ => None,
    };
    let last = last_text.zip(last_value);
    let hint = |e: Usage, positional: &[OsString]| match swallowed(last, positional) {
        // "missing HOST before port '7000'; --send took '127.0.0.1' ..."
        Some(hint) => {
            let what = e.0.split('(').next().unwrap_or("").trim_end();
            Usage(format!("{what}; {hint}"))
        }
        None => e,
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
    let (host, port) = host_and_port(&positional).map_err(|e| hint(e, &positional))?;
    c.host = host;
    c.port = port;
    c.initial = initial;
    c.reconnect = match (reconnect, backoff, max_attempts) {
        (false, None, None) => None,
        (false, _, _) => return usage("--backoff and --max-attempts need --reconnect"),
        (true, backoff, max_attempts) => {
            let mut b = ttc::Backoff::default().max_attempts(max_attempts);
            if let Some((initial, max)) = backoff {
                b = b.initial(initial).max(max);
            }
            Some(b)
        }
    };
    c.input = match (send, rate) {
        (Some(path), rate) => Input::File { path, rate },
        (None, Some(_)) => return usage("--rate needs --send FILE"),
        (None, None) => Input::Stdin,
    };
    Ok(Command::Connect(c))
}

/// The long options of the client, for "did you mean" hints. (The
/// option parser matches them by name; this list only serves hints, and a
/// test checks it against `--help`.)
pub const CONNECT_OPTIONS: &[&str] = &[
    "help",
    "version",
    "json",
    "initial",
    "initial-file",
    "send",
    "rate",
    "progress",
    "no-progress",
    "connect-timeout",
    "write-timeout",
    "linger",
    "no-delay",
    "delay",
    "keepalive",
    "quiet",
    "dns",
    "resolve-timeout",
    "attempt-delay",
    "interface",
    "source",
    "user-timeout",
    "idle-timeout",
    "reconnect",
    "backoff",
    "max-attempts",
    "proxy",
    "noproxy",
    #[cfg(feature = "routes")]
    "no-follow-routes",
    "tls",
    #[cfg(feature = "tls")]
    "ca",
    #[cfg(feature = "tls")]
    "cert",
    #[cfg(feature = "tls")]
    "key",
    #[cfg(feature = "tls")]
    "pin",
    #[cfg(feature = "tls")]
    "alpn",
    #[cfg(feature = "tls")]
    "servername",
    #[cfg(feature = "tls")]
    "insecure",
];

/// The proxy for a `Connect` command, as curl chooses it: `--proxy`
/// (`''`: none), else `all_proxy` or `ALL_PROXY` from `env`; none when the
/// host is on `--noproxy`'s list, else on `no_proxy`'s or `NO_PROXY`'s.
/// Other commands pass through. A bad URL in the environment is a usage
/// error that names the variable.
#[cfg(feature = "proxy")]
pub fn with_env_proxy(
    command: Command,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, Usage> {
    let Command::Connect(mut c) = command else {
        return Ok(command);
    };
    // Lower case first, as curl reads them; an empty value is no value.
    fn var(
        env: &dyn Fn(&str) -> Option<String>,
        names: [&'static str; 2],
    ) -> Option<(&'static str, String)> {
        names
            .into_iter()
            .find_map(|n| env(n).filter(|v| !v.is_empty()).map(|v| (n, v)))
    }
    let (source, url) = match &c.proxy_arg {
        Some(url) => ("--proxy", url.clone()),
        None => match var(env, ["all_proxy", "ALL_PROXY"]) {
            Some(found) => found,
            None => return Ok(Command::Connect(c)),
        },
    };
    if url.is_empty() {
        return Ok(Command::Connect(c));
    }
    let list = match &c.noproxy {
        Some(l) => Some(l.clone()),
        None => var(env, ["no_proxy", "NO_PROXY"]).map(|(_, v)| v),
    };
    if list.is_some_and(|l| no_proxy_matches(&l, &c.host)) {
        return Ok(Command::Connect(c));
    }
    let proxy = ttc::Proxy::parse(&url).map_err(|e| Usage(format!("{source}: {e}")))?;
    c.proxy = Some(proxy);
    Ok(Command::Connect(c))
}

/// Without the `proxy` feature the environment's proxy is not used; if
/// one is set, a warning says so (connecting directly where the user
/// expects a proxy must not be silent).
#[cfg(not(feature = "proxy"))]
pub fn with_env_proxy(
    command: Command,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, Usage> {
    if let Command::Connect(c) = &command {
        let set = ["all_proxy", "ALL_PROXY"]
            .into_iter()
            .find(|n| env(n).is_some_and(|v| !v.is_empty()));
        if let (Some(name), None) = (set, &c.proxy_arg) {
            crate::output::CONSOLE.line(&format!(
                "ttc: warning: {name} is set, but this ttc was built without proxies (the proxy feature): connecting directly"
            ));
        }
    }
    Ok(command)
}

/// Whether `host` is on a no-proxy list as curl reads one: entries split
/// by commas (and spaces); `*` alone matches every host; an IP address
/// matches itself; a name matches itself and its subdomains (a leading dot
/// is ignored), without regard to case or a trailing dot.
#[cfg_attr(not(feature = "proxy"), allow(dead_code))]
pub fn no_proxy_matches(list: &str, host: &str) -> bool {
    let bare = |h: &str| {
        let h = h.trim();
        let h = h
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(h);
        h.strip_suffix('.').unwrap_or(h).to_ascii_lowercase()
    };
    let host = bare(host);
    let entries = list.split([',', ' ', '\t']).filter(|e| !e.is_empty());
    if list.trim() == "*" {
        return true;
    }
    entries.map(bare).any(|e| {
        let e = e.strip_prefix('.').unwrap_or(&e);
        if e.is_empty() {
            return false;
        }
        if let (Ok(a), Ok(b)) = (e.parse::<IpAddr>(), host.parse::<IpAddr>()) {
            return a == b;
        }
        host == e || host.strip_suffix(e).is_some_and(|rest| rest.ends_with('.'))
    })
}

/// The long options of `ttc serve`.
const SERVE_OPTIONS: &[&str] = &[
    "port",
    "bind",
    "json",
    "help",
    #[cfg(feature = "tls")]
    "tls-cert",
    #[cfg(feature = "tls")]
    "tls-key",
];

/// The long options of `ttc demo`.
const DEMO_OPTIONS: &[&str] = &["json", "help"];

/// `--name` is not an option: say so, and name the option it was probably
/// meant to be when exactly one is close (a unique prefix of it, or at
/// most two edits away).
fn unknown_long(name: &str, known: &[&str]) -> Usage {
    let mut msg = format!("invalid option '--{name}'");
    if let Some(best) = closest(name, known) {
        msg.push_str(&format!("; did you mean `--{best}`?"));
    }
    Usage(msg)
}

fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    // One pass: the unique option `name` is a prefix of (none if it is a
    // prefix of several), else the unique option at the smallest distance
    // (at most 2, and less than its length). (Plain loops, no
    // collections: this is in the armv7 binary, whose size is guarded.)
    let (mut prefixed, mut prefixes) = (None, 0);
    let (mut best, mut best_d, mut ties) = (None, usize::MAX, 0);
    for &k in known {
        if !name.is_empty() && k.starts_with(name) {
            prefixed = Some(k);
            prefixes += 1;
        }
        let d = edit_distance(name, k);
        if d < best_d {
            (best, best_d, ties) = (Some(k), d, 1);
        } else if d == best_d {
            ties += 1;
        }
    }
    match prefixes {
        1 => return prefixed,
        // A prefix of several: ambiguous, whatever else is near.
        0 => {}
        _ => return None,
    }
    // And not a whole short name replaced (`--x` is not `--ca`).
    if best_d <= 2 && ties == 1 && best.is_some_and(|b| best_d < b.len()) {
        best
    } else {
        None
    }
}

/// Levenshtein distance (insertions, deletions, substitutions) by bytes,
/// for option names (ASCII, shorter than 32 bytes; a longer `b` counts as
/// far away).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row = [0usize; 32];
    if b.len() >= row.len() {
        return usize::MAX;
    }
    for (j, r) in row.iter_mut().enumerate().take(b.len() + 1) {
        *r = j;
    }
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The server from the positional arguments: `HOST PORT`, or one of
/// `HOST:PORT` and `[V6]:PORT`.
fn host_and_port(positional: &[OsString]) -> Result<(String, u16), Usage> {
    let text = |a: &OsString, what: &str| {
        a.to_str().map(str::to_owned).ok_or_else(|| {
            Usage(format!(
                "{what} is not valid text: '{}'",
                a.to_string_lossy()
            ))
        })
    };
    let (host, port) = match positional {
        [] => return usage("missing HOST and PORT"),
        [one] => {
            let one = text(one, "address")?;
            let (host, port) = split_host_port(&one)?;
            (host.to_owned(), port.to_owned())
        }
        [host, port] => (text(host, "host name")?, text(port, "port")?),
        _ => unreachable!("at most two positionals are collected"),
    };
    if host.trim().is_empty() {
        return usage("empty host name");
    }
    let port = parse_port(&port, false).or_else(usage)?;
    Ok((host, port))
}

/// `HOST:PORT` or `[V6]:PORT` into its parts (the port still text). A bare
/// IPv6 address has colons of its own: it is refused, with the forms that
/// say where the port is.
pub fn split_host_port(arg: &str) -> Result<(&str, &str), Usage> {
    const FORMS: &str = "give HOST PORT, HOST:PORT or [V6]:PORT";
    const BRACKETS: &str = "an IPv6 address with a port goes in brackets, \
                            [::1]:7000, or give HOST PORT";
    let bad = |why: &str, hint: &str| usage(format!("{why} '{arg}' ({hint})"));
    if let Some(rest) = arg.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((_, "")) => bad("missing PORT after", FORMS),
            Some((v6, p)) => match p.strip_prefix(':') {
                Some(port) => Ok((v6, port)),
                None => bad("invalid address", FORMS),
            },
            None => bad("invalid address", FORMS),
        };
    }
    match arg.split_once(':') {
        None if !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_digit()) => {
            bad("missing HOST before port", FORMS)
        }
        None => bad("missing PORT after", FORMS),
        Some((_, port)) if port.contains(':') => bad("ambiguous address", BRACKETS),
        Some(parts) => Ok(parts),
    }
}

/// If the last free-form option value (`--send FILE`, say) looks like the
/// host that is missing from the positional arguments, the hint that says
/// so.
fn swallowed(last: Option<(&str, &OsStr)>, positional: &[OsString]) -> Option<String> {
    let (option, value) = last?;
    let value = value.to_str()?;
    let (name, meta) = option.split_once(' ')?;
    let port = match positional {
        [] => None,
        [p] => Some(p.to_str()?),
        _ => return None,
    };
    let host_like = |v: &str| {
        !v.is_empty()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b))
    };
    let fits = match port {
        None => split_host_port(value)
            .is_ok_and(|(host, port)| host_like(host) && parse_port(port, false).is_ok()),
        Some(port) => host_like(value) && parse_port(port, false).is_ok(),
    };
    let (space, port) = match port {
        Some(p) => (" ", p),
        None => ("", ""),
    };
    fits.then(|| {
        format!("{name} took '{value}' as its {meta}; did you mean `{name} {meta} {value}{space}{port}`?")
    })
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

/// A DNS server: an IP address with an optional port (default 53);
/// IPv6 with a port as `[ADDR]:PORT`, without one bare or in brackets.
pub fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    let bad = || {
        format!(
            "invalid DNS server '{s}' (expected an IP address and optional port, e.g. 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53)"
        )
    };
    let addr = if let Ok(a) = s.parse::<SocketAddr>() {
        a
    } else {
        let bare = s
            .strip_prefix('[')
            .and_then(|b| b.strip_suffix(']'))
            .unwrap_or(s);
        SocketAddr::new(bare.parse::<IpAddr>().map_err(|_| bad())?, 53)
    };
    if addr.port() == 0 {
        return Err(bad());
    }
    Ok(addr)
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

/// The options of how to connect that [`way_out`] parses.
enum WayOut {
    AttemptDelay,
    Interface,
    Source,
}

/// `--attempt-delay`, `--interface` or `--source` (one function for the
/// three: each option's own parse call costs the binary code).
fn way_out(c: &mut Connect, option: WayOut, v: OsString) -> Result<(), Usage> {
    let v = v.string()?;
    let r = match option {
        WayOut::AttemptDelay => parse_attempt_delay(&v).map(|d| c.attempt_delay = Some(d)),
        WayOut::Interface => parse_interface(&v).map(|i| c.interface = Some(i)),
        WayOut::Source => parse_source(&v).map(|ip| c.source = Some(ip)),
    };
    r.map_err(Usage)
}

/// `--attempt-delay`: seconds within the range the library accepts (it
/// would clamp; the command line says so instead).
fn parse_attempt_delay(s: &str) -> Result<Duration, String> {
    let d = parse_secs(s, true)?;
    if d < ttc::Config::MIN_ATTEMPT_DELAY || d > ttc::Config::MAX_ATTEMPT_DELAY {
        return Err(format!(
            "invalid --attempt-delay '{s}' (expected 10ms to 2s)"
        ));
    }
    Ok(d)
}

/// `--interface`: a name Linux could give an interface (1 to 15 bytes, no
/// '/', ':' or white space, not "." or ".."). Whether it exists is found
/// out when connecting.
fn parse_interface(s: &str) -> Result<String, String> {
    let bad = s.is_empty()
        || s.len() > 15
        || s == "."
        || s == ".."
        || s.bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace());
    if bad {
        return Err(format!(
            "invalid interface name '{s}' (1 to 15 characters, no '/', ':' or spaces)"
        ));
    }
    Ok(s.to_string())
}

/// `--source`: an IP address (brackets allowed around IPv6), not a name.
fn parse_source(s: &str) -> Result<IpAddr, String> {
    parse_bind(s).map_err(|_| {
        format!(
            "invalid source address '{s}' (expected an IP address, e.g. 192.168.1.20 or fd00::2)"
        )
    })
}

/// The linger: seconds (`0`: do not wait after the half-close), or `none`
/// (no limit: wait for the server's close).
pub fn parse_linger(s: &str) -> Result<Option<Duration>, String> {
    if s == "none" {
        return Ok(None);
    }
    parse_secs(s, true).map(Some)
}

/// `IDLE[,INTERVAL[,COUNT]]`: the keepalive idle time and interval in
/// seconds (as [`parse_secs`], more than 0), the probe count at least 1.
pub fn parse_keepalive(s: &str) -> Result<ttc::Keepalive, String> {
    let mut parts = s.split(',');
    let idle = parse_secs(parts.next().unwrap_or(""), false)?;
    let mut ka = ttc::Keepalive::idle(idle);
    if let Some(interval) = parts.next() {
        ka = ka.interval(parse_secs(interval, false)?);
    }
    if let Some(count) = parts.next() {
        match count.parse::<u32>() {
            Ok(n) if n > 0 => ka = ka.count(n),
            _ => {
                return Err(format!(
                    "invalid keepalive probe count '{count}' (expected 1 or more)"
                ))
            }
        }
    }
    if parts.next().is_some() {
        return Err(format!(
            "invalid keepalive '{s}' (expected IDLE[,INTERVAL[,COUNT]], e.g. 60,10,5)"
        ));
    }
    Ok(ka)
}

/// `INITIAL,MAX`: the backoff's first and longest waits in seconds (as
/// [`parse_secs`]; zero allowed), INITIAL at most MAX.
pub fn parse_backoff(s: &str) -> Result<(Duration, Duration), String> {
    let Some((initial, max)) = s.split_once(',') else {
        return Err(format!(
            "invalid backoff '{s}' (expected INITIAL,MAX in seconds, e.g. 0.5,30)"
        ));
    };
    let (initial, max) = (parse_secs(initial, true)?, parse_secs(max, true)?);
    if initial > max {
        return Err(format!(
            "invalid backoff '{s}' (INITIAL must not be more than MAX)"
        ));
    }
    Ok((initial, max))
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

    #[cfg(feature = "proxy")]
    fn proxied(args: &[&str], env: &[(&str, &str)]) -> Result<Option<String>, String> {
        let lookup = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        match with_env_proxy(Command::Connect(connect(args)), &lookup) {
            Ok(Command::Connect(c)) => Ok(c.proxy.map(|p| p.to_string())),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[cfg(feature = "proxy")]
    #[test]
    fn test_proxy_from_the_option_or_the_environment_as_curl_reads_them() {
        let h = ["example.org", "7"];
        let px = |a: &[&'static str]| [a, &h[..]].concat();
        let some = |s: &str| Ok(Some(s.to_string()));
        assert_eq!(proxied(&h, &[]), Ok(None));
        assert_eq!(
            proxied(&px(&["--proxy", "socks5h://u:pw@p:1"]), &[]),
            some("socks5h://u@p:1")
        );
        assert_eq!(
            proxied(&h, &[("ALL_PROXY", "p:3128")]),
            some("http://p:3128")
        );
        // Lower case first; an empty one counts as unset.
        let env = [("all_proxy", "socks5://a"), ("ALL_PROXY", "socks5://b")];
        assert_eq!(proxied(&h, &env), some("socks5://a:1080"));
        let env = [("all_proxy", ""), ("ALL_PROXY", "socks5://b")];
        assert_eq!(proxied(&h, &env), some("socks5://b:1080"));
        // --proxy wins; '' turns the proxy off.
        let env = [("ALL_PROXY", "socks5://b")];
        assert_eq!(
            proxied(&px(&["--proxy", "http://c:1"]), &env),
            some("http://c:1")
        );
        assert_eq!(proxied(&px(&["--proxy", ""]), &env), Ok(None));
        // NO_PROXY applies to both; --noproxy replaces it.
        let env = [
            ("ALL_PROXY", "socks5://b"),
            ("NO_PROXY", "other.org, .example.org"),
        ];
        assert_eq!(proxied(&h, &env), Ok(None));
        assert_eq!(proxied(&px(&["--proxy", "http://c:1"]), &env), Ok(None));
        assert_eq!(
            proxied(&px(&["--noproxy", "x"]), &env),
            some("socks5://b:1080")
        );
        assert_eq!(proxied(&px(&["--noproxy", "*"]), &env[..1]), Ok(None));
        // A bad URL: a usage error naming where it came from, no password.
        let e = proxied(&h, &[("all_proxy", "ftp://u:secret@h")]).unwrap_err();
        assert!(
            e.starts_with("all_proxy: proxy URL: unsupported scheme"),
            "{e}"
        );
        let e = error(&["--proxy", "socks4://u:secret@h", "example.org", "7"]);
        assert!(e.starts_with("--proxy: proxy URL: SOCKS4"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn test_no_proxy_list_matches_as_curl() {
        for (list, host, want) in [
            ("*", "anything", true),
            ("example.org", "example.org", true),
            ("example.org", "www.Example.ORG.", true),
            (".example.org", "example.org", true),
            ("example.org", "badexample.org", false),
            ("a.org,b.org", "x.b.org", true),
            ("a.org b.org", "b.org", true),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.10", false),
            ("::1", "[::1]", true),
            ("[::1]", "0:0::1", true),
            ("*.org", "a.org", false),
            ("", "a.org", false),
        ] {
            assert_eq!(no_proxy_matches(list, host), want, "{list:?} {host:?}");
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
        assert_eq!(c.linger, Some(Some(Duration::from_millis(1500))));
        assert_eq!(c.write_timeout, Some(None));
        assert_eq!(c.nodelay, Some(false));
        assert_eq!(c.input, Input::Stdin);
    }

    #[test]
    fn test_way_out_and_attempt_delay_options() {
        let c = connect(&[
            "--attempt-delay",
            "100ms",
            "--interface",
            "wlan0",
            "--source",
            "[fd77::2]",
            "h",
            "1",
        ]);
        assert_eq!(c.attempt_delay, Some(Duration::from_millis(100)));
        assert_eq!(c.interface.as_deref(), Some("wlan0"));
        assert_eq!(c.source, Some("fd77::2".parse().unwrap()));
        // The ends of the range are accepted.
        for d in ["10ms", "2", "0.01"] {
            assert!(connect(&["--attempt-delay", d, "h", "1"])
                .attempt_delay
                .is_some());
        }
        let c = connect(&["--source", "10.0.0.2", "h", "1"]);
        assert_eq!(c.source, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))));
        assert_eq!(connect(&["h", "1"]).interface, None);
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
            (&["h"], "missing PORT after 'h'"),
            (&["7000"], "missing HOST before port '7000'"),
            (&["h:"], "invalid port ''"),
            (&[":80"], "empty host name"),
            (&["[::1]"], "missing PORT after '[::1]'"),
            (&["[::1]80"], "invalid address '[::1]80'"),
            (&["[::1"], "invalid address '[::1'"),
            (
                &["::1"],
                "ambiguous address '::1' (an IPv6 address with a port goes in brackets",
            ),
            (&["a:b:c"], "ambiguous address 'a:b:c'"),
            (&["-4", "-6", "h", "1"], "-4 and -6 exclude each other"),
            (&["-46", "h", "1"], "-4 and -6 exclude each other"),
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
            (
                &["--attempt-delay", "5ms", "h", "1"],
                "invalid --attempt-delay '5ms' (expected 10ms to 2s)",
            ),
            (
                &["--attempt-delay", "2.5", "h", "1"],
                "invalid --attempt-delay '2.5'",
            ),
            (
                &["--attempt-delay", "soon", "h", "1"],
                "invalid time 'soon'",
            ),
            (&["--interface", "", "h", "1"], "invalid interface name ''"),
            (
                &["--interface", "a-very-long-name0", "h", "1"],
                "invalid interface name 'a-very-long-name0'",
            ),
            (
                &["--interface", "eth0:1", "h", "1"],
                "invalid interface name",
            ),
            (&["--interface", "a/b", "h", "1"], "invalid interface name"),
            (
                &["--source", "example.org", "h", "1"],
                "invalid source address 'example.org'",
            ),
            (
                &["--source", "10.0.0.1:80", "h", "1"],
                "invalid source address",
            ),
        ] {
            let e = error(args);
            assert!(e.contains(want), "{args:?}: {e}");
            assert!(!e.contains('\n'), "{args:?}: {e}");
        }
    }

    #[test]
    fn test_dns_servers_and_resolve_timeout() {
        let c = connect(&[
            "--dns",
            "127.0.0.1",
            "--dns=[::1]:5353",
            "--dns",
            "::1",
            "--dns",
            "192.0.2.1:54",
            "--resolve-timeout",
            "250ms",
            "h",
            "1",
        ]);
        let want: Vec<SocketAddr> = ["127.0.0.1:53", "[::1]:5353", "[::1]:53", "192.0.2.1:54"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(c.dns, want);
        assert_eq!(c.resolve_timeout, Some(Duration::from_millis(250)));
        let config = format!("{:?}", c.config(Vec::new()));
        assert!(config.contains("Dns(["), "{config}");
        assert!(connect(&["h", "1"]).dns.is_empty());
        for (args, want) in [
            (
                &["--dns", "example.org", "h", "1"][..],
                "invalid DNS server 'example.org'",
            ),
            (&["--dns", "127.0.0.1:0", "h", "1"], "invalid DNS server"),
            (&["--dns", "::1:53x", "h", "1"], "invalid DNS server"),
            (&["--dns", "", "h", "1"], "invalid DNS server"),
            (&["--resolve-timeout", "0", "h", "1"], "must be more than 0"),
            (&["--resolve-timeout", "x", "h", "1"], "invalid time 'x'"),
            (&["h", "1", "--dns"], "missing argument for option '--dns'"),
        ] {
            let e = error(args);
            assert!(e.contains(want), "{args:?}: {e}");
            assert!(!e.contains('\n'), "{args:?}: {e}");
        }
    }

    #[test]
    fn test_one_argument_address_forms() {
        let c = connect(&["127.0.0.1:7000"]);
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 7000));
        let c = connect(&["-q", "[::1]:80"]);
        assert_eq!((c.host.as_str(), c.port), ("::1", 80));
        assert!(c.quiet);
        let c = connect(&["example.org:443", "-v", "-w", "2"]);
        assert_eq!((c.host.as_str(), c.port), ("example.org", 443));
        assert!(c.verbose);
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(2)));
        // Two arguments as before, an IPv6 address bare or in brackets.
        assert_eq!(connect(&["::1", "80"]).host, "::1");
        assert_eq!(connect(&["[::1]", "80"]).host, "[::1]");
    }

    #[test]
    fn test_linger_none_and_zero() {
        assert_eq!(connect(&["--linger", "none", "h", "1"]).linger, Some(None));
        assert_eq!(
            connect(&["--linger", "0", "h", "1"]).linger,
            Some(Some(Duration::ZERO))
        );
        assert_eq!(connect(&["h", "1"]).linger, None);
    }

    #[test]
    fn test_a_swallowed_host_gets_a_hint() {
        let e = error(&["--send", "127.0.0.1", "7000"]);
        assert!(
            e.contains(
                "--send took '127.0.0.1' as its FILE; did you mean `--send FILE 127.0.0.1 7000`?"
            ),
            "{e}"
        );
        let e = error(&["--initial-file", "example.org:80"]);
        assert!(
            e.contains("did you mean `--initial-file FILE example.org:80`?"),
            "{e}"
        );
        let e = error(&["--initial", "localhost", "9"]);
        assert!(
            e.contains("did you mean `--initial TEXT localhost 9`?"),
            "{e}"
        );
        // No hint when the value cannot be the host.
        let e = error(&["--send", "/tmp/f", "7000"]);
        assert!(!e.contains("did you mean"), "{e}");
        let e = error(&["--send", "f.bin", "h"]);
        assert!(!e.contains("did you mean"), "{e}");
    }

    #[test]
    fn test_misspelled_options_get_a_suggestion() {
        for (args, want) in [
            (&["--sned", "h", "1"][..], "did you mean `--send`?"),
            (&["--lingr", "1", "h", "1"], "did you mean `--linger`?"),
            (
                &["--connect-timeot", "1", "h", "1"],
                "did you mean `--connect-timeout`?",
            ),
            (&["--prog", "h", "1"], "did you mean `--progress`?"),
            (&["--jsno", "h", "1"], "did you mean `--json`?"),
            (&["serve", "echo", "--prot", "1"], "did you mean `--port`?"),
            (&["demo", "--jso"], "did you mean `--json`?"),
        ] {
            let e = error(args);
            assert!(e.contains(want), "{args:?}: {e}");
            assert!(!e.contains('\n'), "{args:?}: {e}");
        }
        // Nothing close, or more than one as close: no guess.
        for args in [
            &["--frobnicate", "h", "1"][..],
            &["--no", "h", "1"],
            &["--x", "h", "1"],
        ] {
            let e = error(args);
            assert!(e.contains("invalid option"), "{args:?}: {e}");
            assert!(!e.contains("did you mean"), "{args:?}: {e}");
        }
        assert_eq!(edit_distance("send", "sned"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("linger", "linger"), 0);
    }

    #[test]
    fn test_every_long_option_in_help_is_known_to_the_hints() {
        // A long option added to the parser and to --help must be in
        // CONNECT_OPTIONS (or the serve/demo lists) too.
        for word in HELP.split(|c: char| c.is_whitespace() || c == '/' || c == '[' || c == ']') {
            let Some(name) = word.strip_prefix("--") else {
                continue;
            };
            let name = name
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .next()
                .unwrap_or("");
            if name.is_empty() {
                continue;
            }
            assert!(
                CONNECT_OPTIONS.contains(&name)
                    || SERVE_OPTIONS.contains(&name)
                    || DEMO_OPTIONS.contains(&name),
                "--{name} is in --help but not in the option lists"
            );
        }
    }

    #[test]
    fn test_keepalive_and_dead_peer_options() {
        let c = connect(&["--keepalive", "60", "h", "1"]);
        assert_eq!(
            c.keepalive,
            Some(ttc::Keepalive::idle(Duration::from_secs(60)))
        );
        let c = connect(&[
            "--keepalive",
            "30,5,3",
            "--user-timeout",
            "1.5",
            "--idle-timeout",
            "250ms",
            "h",
            "1",
        ]);
        let ka = c.keepalive.unwrap();
        assert_eq!(ka.idle, Duration::from_secs(30));
        assert_eq!(ka.interval, Some(Duration::from_secs(5)));
        assert_eq!(ka.count, Some(3));
        assert_eq!(c.user_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(c.idle_timeout, Some(Duration::from_millis(250)));
        let ka = parse_keepalive("10,2").unwrap();
        assert_eq!(
            (ka.interval, ka.count),
            (Some(Duration::from_secs(2)), None)
        );
        for (bad, want) in [
            ("", "invalid time ''"),
            ("0", "must be more than 0"),
            ("10,0", "must be more than 0"),
            ("10,1,0", "probe count '0'"),
            ("10,1,x", "probe count 'x'"),
            ("10,1,2,3", "IDLE[,INTERVAL[,COUNT]]"),
        ] {
            let e = parse_keepalive(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert!(error(&["--user-timeout", "0", "h", "1"]).contains("must be more than 0"));
        assert!(error(&["--idle-timeout", "x", "h", "1"]).contains("invalid time 'x'"));
    }

    #[test]
    fn test_reconnect_options() {
        assert_eq!(connect(&["h", "1"]).reconnect, None);
        let b = connect(&["--reconnect", "h", "1"]).reconnect.unwrap();
        assert_eq!(b, ttc::Backoff::default());
        let b = connect(&[
            "--reconnect",
            "--backoff",
            "0.1,2",
            "--max-attempts",
            "7",
            "h",
            "1",
        ])
        .reconnect
        .unwrap();
        assert_eq!(b.initial, Duration::from_millis(100));
        assert_eq!(b.max, Duration::from_secs(2));
        assert_eq!(b.max_attempts, Some(7));
        for (args, want) in [
            (&["--backoff", "1,2", "h", "1"][..], "need --reconnect"),
            (&["--max-attempts", "3", "h", "1"], "need --reconnect"),
            (&["--reconnect", "--backoff", "1", "h", "1"], "INITIAL,MAX"),
            (
                &["--reconnect", "--backoff", "3,2", "h", "1"],
                "not be more than MAX",
            ),
            (
                &["--reconnect", "--backoff", "x,2", "h", "1"],
                "invalid time 'x'",
            ),
            (
                &["--reconnect", "--max-attempts", "-1", "h", "1"],
                "attempt count",
            ),
        ] {
            let e = error(args);
            assert!(e.contains(want), "{args:?}: {e}");
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
