//! Proxies: the URL (as curl spells it) parsed once into a [`Proxy`], and
//! the handshake that opens a tunnel through it to the server, one more
//! step of the connect phase.
//!
//! The connect phase (src/connect.rs) connects to the proxy instead of the
//! server, racing the proxy's addresses, then calls [`Proxy::handshake`]
//! on the connected socket: SOCKS5 (RFC 1928, with RFC 1929
//! username/password), SOCKS4/4a, or HTTP `CONNECT` (RFC 9110 section
//! 9.3.6). The handshake is written against [`Exchange`], so the same
//! code runs over the socket (non-blocking, polled beside the wake
//! eventfd, within the connect budget) and over bytes in memory (the fuzz
//! targets). It reads no byte past the proxy's reply: whatever follows is
//! the server's and stays in the socket for the data path.

use std::fmt;
use std::io;
use std::net::Ipv6Addr;
use std::str::FromStr;

use crate::message::Phase;

mod handshake;

#[doc(hidden)]
pub use handshake::fuzzing;
pub(crate) use handshake::Target;

/// Port of a proxy URL without one (curl's default for every scheme).
pub const DEFAULT_PROXY_PORT: u16 = 1080;

/// Most bytes of an HTTP proxy's reply head (status line and headers)
/// read; a longer head is an error.
pub const MAX_HTTP_HEAD: usize = 8 * 1024;

/// The proxy protocols, by URL scheme.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyKind {
    /// `socks5://`: SOCKS5, the server's name resolved here.
    Socks5,
    /// `socks5h://`: SOCKS5, the server's name resolved by the proxy.
    Socks5h,
    /// `socks4://`: SOCKS4, the server's name resolved here (IPv4 only).
    Socks4,
    /// `socks4a://`: SOCKS4a, the server's name resolved by the proxy.
    Socks4a,
    /// `http://` (or no scheme): an HTTP proxy, tunnelling with `CONNECT`.
    Http,
}

impl ProxyKind {
    /// The URL scheme: `socks5`, `socks5h`, `socks4`, `socks4a`, `http`.
    pub fn scheme(self) -> &'static str {
        match self {
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
            ProxyKind::Socks4 => "socks4",
            ProxyKind::Socks4a => "socks4a",
            ProxyKind::Http => "http",
        }
    }

    /// Whether the server's name is resolved here (and its address sent).
    pub fn resolves_locally(self) -> bool {
        matches!(self, ProxyKind::Socks5 | ProxyKind::Socks4)
    }
}

/// A proxy to connect through: its protocol, address and optional
/// credentials, parsed from a URL as curl spells it (see
/// [`Proxy::parse`]). Its `Debug` and `Display` never show the password.
///
/// ```
/// let p: ttc::Proxy = "socks5h://me:s%40cret@proxy.example:1080".parse().unwrap();
/// assert_eq!(p.kind(), ttc::ProxyKind::Socks5h);
/// assert_eq!((p.host(), p.port()), ("proxy.example", 1080));
/// assert_eq!(p.to_string(), "socks5h://me@proxy.example:1080");
/// assert!(!format!("{p:?}").contains("cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    auth: Option<Credentials>,
}

/// A user name and password, decoded. The password is never formatted.
#[derive(Clone, PartialEq, Eq)]
struct Credentials {
    user: Vec<u8>,
    password: Vec<u8>,
}

/// Why a proxy URL was refused. Its message never contains the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyUrlError {
    message: String,
}

impl ProxyUrlError {
    fn new(message: impl Into<String>) -> ProxyUrlError {
        ProxyUrlError {
            message: message.into(),
        }
    }
}

impl fmt::Display for ProxyUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proxy URL: {}", self.message)
    }
}

impl std::error::Error for ProxyUrlError {}

impl Proxy {
    /// Parses a proxy URL: `SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/]`.
    ///
    /// - `SCHEME` is `socks5` (the server's name resolved here), `socks5h`
    ///   (resolved by the proxy), `socks4`, `socks4a` or `http` (`CONNECT`),
    ///   in any case; without `SCHEME://` it is `http`, as in curl.
    /// - `USER` and `PASSWORD` are percent-decoded (`%40` for `@`, `%3A`
    ///   for `:`). SOCKS5 takes up to 255 bytes of each; SOCKS4 takes a
    ///   user id and no password.
    /// - `HOST` is a name, an IPv4 address or an IPv6 address in brackets.
    /// - `PORT` defaults to 1080 ([`DEFAULT_PROXY_PORT`]), as in curl.
    ///
    /// `https://` proxies (TLS to the proxy) are refused.
    pub fn parse(url: &str) -> Result<Proxy, ProxyUrlError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(ProxyUrlError::new("empty"));
        }
        if url.chars().any(|c| c.is_control() || c == ' ') {
            return Err(ProxyUrlError::new("spaces or control characters"));
        }
        let (kind, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (kind_of(scheme)?, rest),
            None => (ProxyKind::Http, url),
        };
        // The credentials end at the last '@': a password may hold '@'
        // and '/' unencoded, as curl takes them.
        let (userinfo, hostpart) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let hostport = match hostpart.split_once('/') {
            Some((hp, "")) => hp,
            Some(_) => return Err(ProxyUrlError::new("a path is not allowed")),
            None => hostpart,
        };
        let (host, port) = split_host_port(hostport)?;
        let auth = match userinfo {
            None => None,
            Some(u) => {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                Some(Credentials {
                    user: percent_decode(user)
                        .ok_or_else(|| ProxyUrlError::new("bad %-escape in the user name"))?,
                    password: percent_decode(password)
                        .ok_or_else(|| ProxyUrlError::new("bad %-escape in the password"))?,
                })
            }
        };
        if let Some(a) = &auth {
            match kind {
                ProxyKind::Socks5 | ProxyKind::Socks5h
                    if a.user.is_empty() || a.user.len() > 255 || a.password.len() > 255 =>
                {
                    return Err(ProxyUrlError::new(
                        "SOCKS5 takes a user name of 1 to 255 bytes and a password of at most 255",
                    ));
                }
                ProxyKind::Socks4 | ProxyKind::Socks4a
                    if !a.password.is_empty() || a.user.contains(&0) =>
                {
                    return Err(ProxyUrlError::new(
                        "SOCKS4 takes a user id without NUL and no password",
                    ));
                }
                _ => {}
            }
        }
        Ok(Proxy {
            kind,
            host: host.to_owned(),
            port,
            auth,
        })
    }

    /// The protocol.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy's host, as given (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name, if the URL had credentials (lossily decoded).
    pub fn user(&self) -> Option<String> {
        self.auth
            .as_ref()
            .map(|a| String::from_utf8_lossy(&a.user).into_owned())
    }

    /// `HOST:PORT`, with brackets around an IPv6 address: how errors name
    /// the proxy.
    pub(crate) fn endpoint(&self) -> Endpoint<'_> {
        Endpoint(&self.host, self.port)
    }

    /// An error of the proxy phase, naming the proxy.
    #[inline(never)]
    pub(crate) fn error(&self, e: &io::Error) -> crate::Error {
        crate::Error::from_io_in(Phase::Proxy, e, format_args!("proxy {}", self.endpoint()))
    }
}
impl FromStr for Proxy {
    type Err = ProxyUrlError;
    fn from_str(s: &str) -> Result<Proxy, ProxyUrlError> {
        Proxy::parse(s)
    }
}

/// `scheme://[user@]host:port`, without the password.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.kind.scheme())?;
        if let Some(user) = self.user() {
            write!(f, "{user}@")?;
        }
        write!(f, "{}", self.endpoint())
    }
}

/// Like `Display`: the password is never shown.
impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy(\"{self}\"")?;
        if self.auth.is_some() {
            f.write_str(", password hidden")?;
        }
        f.write_str(")")
    }
}

/// `host:port`, `[v6]:port`.
pub(crate) struct Endpoint<'a>(&'a str, u16);

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains(':') {
            write!(f, "[{}]:{}", self.0, self.1)
        } else {
            write!(f, "{}:{}", self.0, self.1)
        }
    }
}

fn kind_of(scheme: &str) -> Result<ProxyKind, ProxyUrlError> {
    Ok(match scheme.to_ascii_lowercase().as_str() {
        "socks5" => ProxyKind::Socks5,
        "socks5h" => ProxyKind::Socks5h,
        "socks4" => ProxyKind::Socks4,
        "socks4a" => ProxyKind::Socks4a,
        "http" => ProxyKind::Http,
        "https" => {
            return Err(ProxyUrlError::new(
                "https:// proxies (TLS to the proxy) are not supported",
            ))
        }
        // The scheme is echoed only when it cannot be part of credentials.
        s if !s.is_empty()
            && s.len() <= 16
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            return Err(ProxyUrlError::new(format!(
                "unsupported scheme '{s}' (socks5, socks5h, socks4, socks4a or http)"
            )))
        }
        _ => return Err(ProxyUrlError::new("not a proxy URL")),
    })
}

fn split_host_port(hostport: &str) -> Result<(&str, u16), ProxyUrlError> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| ProxyUrlError::new("no ']' after an IPv6 address"))?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(ProxyUrlError::new("not an IPv6 address in brackets"));
        }
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(ProxyUrlError::new("junk after ']'")),
            },
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            Some(_) => return Err(ProxyUrlError::new("an IPv6 address needs brackets")),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(ProxyUrlError::new("no host"));
    }
    let port = match port {
        None | Some("") => DEFAULT_PROXY_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(ProxyUrlError::new(
                    "the port is not a number from 1 to 65535",
                ))
            }
        },
    };
    Ok((host, port))
}

/// `%XX` escapes decoded; `None` for a bad escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(
                u8::from_str_radix(hex, 16)
                    .ok()
                    .filter(|_| !hex.starts_with('+'))?,
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Standard base64 with padding (HTTP Basic credentials).
fn base64_into(bytes: &[u8], out: &mut String) {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for c in bytes.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= c.len() {
                ABC[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Proxy {
        Proxy::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn err(s: &str) -> String {
        Proxy::parse(s).expect_err(s).to_string()
    }

    #[test]
    fn test_parse_takes_urls_as_curl_spells_them() {
        let x = p("socks5h://proxy.example:9050");
        assert_eq!(x.kind(), ProxyKind::Socks5h);
        assert_eq!(
            (x.host(), x.port(), x.user()),
            ("proxy.example", 9050, None)
        );
        let x = p("SOCKS5://10.0.0.1");
        assert_eq!((x.kind(), x.port()), (ProxyKind::Socks5, 1080));
        let x = p("proxy.example:3128");
        assert_eq!((x.kind(), x.port()), (ProxyKind::Http, 3128));
        let x = p("http://[::1]:8080/");
        assert_eq!((x.host(), x.port()), ("::1", 8080));
        assert_eq!(x.to_string(), "http://[::1]:8080");
        let x = p("socks4a://me@h");
        assert_eq!(x.user().as_deref(), Some("me"));
        let x = p("http://us%3Aer:p@ss/w%40rd@h:1");
        assert_eq!(x.user().as_deref(), Some("us:er"));
        assert_eq!(x.auth.as_ref().unwrap().password, b"p@ss/w@rd");
        assert_eq!(x.host(), "h");
    }

    #[test]
    fn test_parse_refuses_bad_urls_without_showing_the_password() {
        for (url, want) in [
            ("", "empty"),
            ("ftp://h", "unsupported scheme 'ftp'"),
            ("https://h", "not supported"),
            ("socks5://h:0", "port"),
            ("socks5://h:99999", "port"),
            ("socks5://h:+1", "port"),
            ("socks5://:1", "no host"),
            ("http://::1:8080", "brackets"),
            ("http://[::1", "']'"),
            ("http://[nope]:1", "IPv6"),
            ("http://h/path", "path"),
            ("http://a:%zzsecret@h", "%-escape"),
            ("socks4://u:secret@h", "SOCKS4"),
            ("socks5://:secret@h", "SOCKS5"),
            ("http://a b@h", "spaces"),
        ] {
            let e = err(url);
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("secret"), "{url}: {e}");
        }
        let e = err("u:secret@h://x");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn test_debug_and_display_hide_the_password() {
        let x = p("socks5://alice:hunter2@h:1");
        for s in [format!("{x}"), format!("{x:?}"), format!("{x:#?}")] {
            assert!(!s.contains("hunter2"), "{s}");
            assert!(s.contains("alice"), "{s}");
        }
    }

    #[test]
    fn test_base64_matches_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            let mut s = String::new();
            base64_into(plain.as_bytes(), &mut s);
            assert_eq!(s, coded);
        }
    }
}
