//! The handshake that opens a tunnel through a [`Proxy`](super::Proxy):
//! SOCKS5, SOCKS4/4a or HTTP `CONNECT`, written against [`Exchange`] so
//! the same code runs over the socket and over bytes in memory.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Instant;

use super::{base64_into, Endpoint, Proxy, ProxyKind, MAX_HTTP_HEAD};
use crate::message::Failure;
use crate::sys;
use crate::wake::Core;

impl Proxy {
    /// Opens the tunnel to `target` on `stream`, connected to the proxy:
    /// the handshake in non-blocking mode, each wait a poll beside the
    /// wake eventfd, within `deadline`; `stream` is blocking again after.
    /// Errors name the proxy.
    pub(crate) fn handshake(
        &self,
        stream: &TcpStream,
        target: Target<'_>,
        core: &Core,
        deadline: Option<Instant>,
    ) -> Result<(), Failure> {
        let mut wire = Socket {
            stream,
            core,
            deadline,
        };
        let r = stream
            .set_nonblocking(true)
            .map_err(Stop::Io)
            .and_then(|()| self.tunnel(&mut wire, target))
            .and_then(|()| stream.set_nonblocking(false).map_err(Stop::Io));
        match r {
            Ok(()) => {
                log::debug!("proxy {}: tunnel open", self.endpoint());
                Ok(())
            }
            Err(Stop::Stopped(reason)) => Err(Failure::Stopped(reason)),
            Err(Stop::Io(e)) => Err(Failure::Error(self.error(&e))),
        }
    }

    /// The handshake of this proxy's protocol, over any [`Exchange`].
    fn tunnel<E: Exchange>(&self, wire: &mut E, target: Target<'_>) -> Result<(), Stop> {
        match self.kind {
            ProxyKind::Socks5 | ProxyKind::Socks5h => self.socks5(wire, target),
            ProxyKind::Socks4 | ProxyKind::Socks4a => self.socks4(wire, target),
            ProxyKind::Http => self.http_connect(wire, target),
        }
    }

    fn socks5<E: Exchange>(&self, wire: &mut E, target: Target<'_>) -> Result<(), Stop> {
        // Methods offered: none, and username/password when we have them.
        let greeting: &[u8] = if self.auth.is_some() {
            &[5, 2, 0, 2]
        } else {
            &[5, 1, 0]
        };
        wire.send(greeting)?;
        let mut reply = [0; 2];
        wire.recv_exact(&mut reply)?;
        match socks5_method(reply, self.auth.is_some())? {
            0 => {}
            _ => {
                // RFC 1929: VER 1, ULEN, UNAME, PLEN, PASSWD.
                let a = self.auth.as_ref().ok_or_else(|| bad("SOCKS5 method"))?;
                let mut msg = Vec::with_capacity(3 + a.user.len() + a.password.len());
                msg.push(1);
                msg.push(a.user.len() as u8);
                msg.extend_from_slice(&a.user);
                msg.push(a.password.len() as u8);
                msg.extend_from_slice(&a.password);
                let sent = wire.send(&msg);
                // Not kept in memory longer than needed.
                msg.fill(0);
                sent?;
                wire.recv_exact(&mut reply)?;
                if reply[1] != 0 {
                    return Err(refused(
                        io::ErrorKind::PermissionDenied,
                        "SOCKS5 authentication failed",
                    ));
                }
            }
        }
        let mut req = Vec::with_capacity(262);
        req.extend_from_slice(&[5, 1, 0]);
        match target {
            Target::Addr(SocketAddr::V4(a)) => {
                req.push(1);
                req.extend_from_slice(&a.ip().octets());
            }
            Target::Addr(SocketAddr::V6(a)) => {
                req.push(4);
                req.extend_from_slice(&a.ip().octets());
            }
            Target::Name(name, _) => match name.parse::<IpAddr>() {
                Ok(IpAddr::V4(ip)) => {
                    req.push(1);
                    req.extend_from_slice(&ip.octets());
                }
                Ok(IpAddr::V6(ip)) => {
                    req.push(4);
                    req.extend_from_slice(&ip.octets());
                }
                Err(_) => {
                    if name.is_empty() || name.len() > 255 {
                        return Err(refused(
                            io::ErrorKind::InvalidInput,
                            "SOCKS5 takes a host name of 1 to 255 bytes",
                        ));
                    }
                    req.push(3);
                    req.push(name.len() as u8);
                    req.extend_from_slice(name.as_bytes());
                }
            },
        }
        req.extend_from_slice(&target.port().to_be_bytes());
        wire.send(&req)?;
        // VER REP RSV ATYP, the first byte of the address, then the rest.
        let mut head = [0; 5];
        wire.recv_exact(&mut head[..2])?;
        socks5_status([head[0], head[1]])?;
        wire.recv_exact(&mut head[2..])?;
        let rest = socks5_reply_len(head)? - head.len();
        let mut tail = [0; 255 + 2];
        wire.recv_exact(&mut tail[..rest])
    }

    fn socks4<E: Exchange>(&self, wire: &mut E, target: Target<'_>) -> Result<(), Stop> {
        let mut req = Vec::with_capacity(300);
        req.extend_from_slice(&[4, 1]);
        req.extend_from_slice(&target.port().to_be_bytes());
        // SOCKS4a: the address 0.0.0.x (x nonzero) says a name follows.
        let (ip, name) = match target {
            Target::Addr(SocketAddr::V4(a)) => (*a.ip(), None),
            Target::Name(name, _) => match name.parse::<IpAddr>() {
                Ok(IpAddr::V4(ip)) => (ip, None),
                Ok(IpAddr::V6(_)) => return Err(no_v6()),
                Err(_) => ([0, 0, 0, 1].into(), Some(name)),
            },
            Target::Addr(SocketAddr::V6(_)) => return Err(no_v6()),
        };
        req.extend_from_slice(&ip.octets());
        if let Some(a) = &self.auth {
            req.extend_from_slice(&a.user);
        }
        req.push(0);
        if let Some(name) = name {
            if name.contains('\0') {
                return Err(bad("host name"));
            }
            req.extend_from_slice(name.as_bytes());
            req.push(0);
        }
        wire.send(&req)?;
        let mut reply = [0; 8];
        wire.recv_exact(&mut reply)?;
        socks4_status(reply)
    }

    fn http_connect<E: Exchange>(&self, wire: &mut E, target: Target<'_>) -> Result<(), Stop> {
        let authority = match target {
            Target::Addr(a) => a.to_string(),
            // A name goes into the request line: no spaces or line breaks
            // that would make it another request or header.
            Target::Name(name, _)
                if name.is_empty() || name.contains(|c: char| c.is_control() || c == ' ') =>
            {
                return Err(refused(
                    io::ErrorKind::InvalidInput,
                    "host name not fit for an HTTP request",
                ))
            }
            Target::Name(name, port) => Endpoint(name, port).to_string(),
        };
        let mut req = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(a) = &self.auth {
            let mut plain = a.user.clone();
            plain.push(b':');
            plain.extend_from_slice(&a.password);
            req.push_str("Proxy-Authorization: Basic ");
            base64_into(&plain, &mut req);
            plain.fill(0);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let sent = wire.send(req.as_bytes());
        // The request holds the credentials: cleared before it is freed.
        let mut bytes = req.into_bytes();
        bytes.fill(0);
        sent?;
        // One byte at a time: the head's end is found without reading
        // anything that belongs to the server.
        let mut head = HttpHead::new();
        let mut byte = [0; 1];
        loop {
            wire.recv_exact(&mut byte)?;
            if let Some(status) = head.push(byte[0])? {
                return http_status(status);
            }
        }
    }
}

fn no_v6() -> Stop {
    refused(
        io::ErrorKind::Unsupported,
        "SOCKS4 cannot reach an IPv6 address",
    )
}

/// Where the tunnel goes: an address (the name resolved here) or the name
/// itself (resolved by the proxy), with the port.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target<'a> {
    Addr(SocketAddr),
    Name(&'a str, u16),
}

impl Target<'_> {
    fn port(&self) -> u16 {
        match self {
            Target::Addr(a) => a.port(),
            Target::Name(_, p) => *p,
        }
    }
}

/// Why the handshake did not finish.
#[derive(Debug)]
pub(crate) enum Stop {
    /// `Shutdown` or `Abort` arrived.
    Stopped(crate::Reason),
    /// The proxy refused, misbehaved, went away, or time ran out.
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

fn refused(kind: io::ErrorKind, what: &str) -> Stop {
    Stop::Io(io::Error::new(kind, what))
}

#[inline(never)]
fn bad(what: &str) -> Stop {
    Stop::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed reply ({what})"),
    ))
}

/// The two directions of a handshake: the socket, or bytes in memory.
pub(crate) trait Exchange {
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]) -> Result<(), Stop>;
    /// Fills `buf` exactly; an end of stream first is an error.
    fn recv_exact(&mut self, buf: &mut [u8]) -> Result<(), Stop>;
}

/// The socket connected to the proxy, non-blocking; every wait is a poll
/// beside the wake eventfd within the connect budget.
struct Socket<'a> {
    stream: &'a TcpStream,
    core: &'a Core,
    deadline: Option<Instant>,
}

impl Socket<'_> {
    /// Waits until the socket is readable (or writable), the budget is
    /// spent, or `Shutdown`/`Abort` arrives, parked like the connect race.
    fn wait(&self, write: bool) -> Result<(), Stop> {
        if let Some(reason) = self.core.stop_requested() {
            return Err(Stop::Stopped(reason));
        }
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            return Err(refused(io::ErrorKind::TimedOut, "handshake timed out"));
        }
        let parked = self.core.park();
        if let Some(reason) = self.core.stop_requested() {
            drop(parked);
            return Err(Stop::Stopped(reason));
        }
        let fd = self.stream.as_raw_fd();
        let timeout = self.deadline.map(|d| d.saturating_duration_since(now));
        parked.poll(|wake| sys::poll(fd, !write, write, wake, timeout))?;
        Ok(())
    }
}

impl Exchange for Socket<'_> {
    fn send(&mut self, mut bytes: &[u8]) -> Result<(), Stop> {
        while !bytes.is_empty() {
            match self.stream.write(bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(true)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        Ok(())
    }

    fn recv_exact(&mut self, mut buf: &mut [u8]) -> Result<(), Stop> {
        while !buf.is_empty() {
            match self.stream.read(buf) {
                Ok(0) => return Err(closed()),
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(false)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::Io(e)),
            }
        }
        Ok(())
    }
}

fn closed() -> Stop {
    refused(
        io::ErrorKind::UnexpectedEof,
        "the proxy closed during the handshake",
    )
}

/// The method a SOCKS5 proxy chose: 0 (none) or 2 (username/password,
/// only when `have_auth`).
fn socks5_method(reply: [u8; 2], have_auth: bool) -> Result<u8, Stop> {
    match reply {
        [5, 0] => Ok(0),
        [5, 2] if have_auth => Ok(2),
        [5, 0xff] if have_auth => Err(refused(
            io::ErrorKind::PermissionDenied,
            "SOCKS5: no acceptable authentication method",
        )),
        [5, _] => Err(refused(
            io::ErrorKind::PermissionDenied,
            "SOCKS5: the proxy wants a user name and password",
        )),
        _ => Err(bad("not SOCKS5")),
    }
}

/// SOCKS5 reply codes (RFC 1928 section 6) as errors.
fn socks5_status(head: [u8; 2]) -> Result<(), Stop> {
    use io::ErrorKind as K;
    let (kind, what) = match head {
        [5, 0] => return Ok(()),
        [5, 1] => (K::Other, "SOCKS5: general failure"),
        [5, 2] => (K::PermissionDenied, "SOCKS5: not allowed by the ruleset"),
        [5, 3] => (K::NetworkUnreachable, "SOCKS5: network unreachable"),
        [5, 4] => (K::HostUnreachable, "SOCKS5: host unreachable"),
        [5, 5] => (K::ConnectionRefused, "SOCKS5: connection refused"),
        [5, 6] => (K::TimedOut, "SOCKS5: TTL expired"),
        [5, 7] => (K::Unsupported, "SOCKS5: command not supported"),
        [5, 8] => (K::Unsupported, "SOCKS5: address type not supported"),
        [5, _] => (K::Other, "SOCKS5: unknown failure"),
        _ => return Err(bad("not SOCKS5")),
    };
    Err(refused(kind, what))
}

/// A SOCKS5 reply's length from its first five bytes (VER REP RSV ATYP
/// and the address's first byte).
fn socks5_reply_len(head: [u8; 5]) -> Result<usize, Stop> {
    match head[3] {
        1 => Ok(4 + 4 + 2),
        4 => Ok(4 + 16 + 2),
        3 => Ok(4 + 1 + usize::from(head[4]) + 2),
        _ => Err(bad("SOCKS5 address type")),
    }
}

/// SOCKS4 reply codes as errors.
fn socks4_status(reply: [u8; 8]) -> Result<(), Stop> {
    use io::ErrorKind as K;
    let (kind, what) = match reply[..2] {
        [0 | 4, 90] => return Ok(()),
        [0 | 4, 91] => (K::ConnectionRefused, "SOCKS4: request rejected or failed"),
        [0 | 4, 92] => (
            K::PermissionDenied,
            "SOCKS4: the proxy cannot reach our identd",
        ),
        [0 | 4, 93] => (K::PermissionDenied, "SOCKS4: identd reports another user"),
        _ => return Err(bad("not SOCKS4")),
    };
    Err(refused(kind, what))
}

/// An HTTP reply head read byte by byte, bounded by [`MAX_HTTP_HEAD`]
/// (blank lines before it included).
struct HttpHead {
    buf: Vec<u8>,
    seen: usize,
}

impl HttpHead {
    /// An empty head.
    fn new() -> HttpHead {
        HttpHead {
            buf: Vec::new(),
            seen: 0,
        }
    }

    /// Takes the next byte: `Some(status line)` once the head is complete
    /// (an empty line after the status line and headers; bare LF line ends
    /// are taken too), an error when it grows past [`MAX_HTTP_HEAD`].
    fn push(&mut self, byte: u8) -> Result<Option<&[u8]>, Stop> {
        if self.seen >= MAX_HTTP_HEAD {
            return Err(refused(
                io::ErrorKind::InvalidData,
                "HTTP reply head over 8 KiB",
            ));
        }
        self.seen += 1;
        // Blank lines before the status line are skipped (RFC 9112
        // section 2.2).
        if self.buf.is_empty() && (byte == b'\r' || byte == b'\n') {
            return Ok(None);
        }
        self.buf.push(byte);
        let b = &self.buf[..];
        if b.ends_with(b"\r\n\r\n") || b.ends_with(b"\n\n") {
            let line = b.split(|&c| c == b'\n').next().unwrap_or(b);
            return Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)));
        }
        Ok(None)
    }
}

/// The outcome of an HTTP status line: 2xx opens the tunnel; anything
/// else is an error carrying the code and the proxy's reason phrase.
fn http_status(line: &[u8]) -> Result<(), Stop> {
    use io::ErrorKind as K;
    let mut parts = line.splitn(3, |&c| c == b' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if version.len() != 8
        || !version.starts_with(b"HTTP/1.")
        || code.len() != 3
        || !code.iter().all(u8::is_ascii_digit)
    {
        return Err(bad("HTTP status line"));
    }
    let n = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if (200..300).contains(&n) {
        return Ok(());
    }
    let kind = match n {
        // 401: tinyproxy's answer to missing or wrong credentials.
        401 | 403 | 407 => K::PermissionDenied,
        502 | 503 => K::ConnectionRefused,
        504 => K::TimedOut,
        _ => K::Other,
    };
    // The reason phrase as the proxy sent it, printable ASCII, cut short.
    let mut phrase: String = parts
        .next()
        .unwrap_or_default()
        .iter()
        .take(48)
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' {
                c as char
            } else {
                '?'
            }
        })
        .collect();
    if phrase.trim().is_empty() {
        phrase = match n {
            403 => "forbidden",
            407 => "proxy authentication required",
            502 => "bad gateway",
            503 => "service unavailable",
            504 => "gateway timeout",
            _ => "(no reason given)",
        }
        .into();
    }
    Err(Stop::Io(io::Error::new(kind, format!("HTTP {n} {phrase}"))))
}

/// Bytes in memory as the proxy's side: what the handshake sends is
/// counted, what it reads comes from `replies`.
struct Memory<'a> {
    replies: &'a [u8],
    sent: usize,
}

impl Exchange for Memory<'_> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.sent += bytes.len();
        Ok(())
    }

    fn recv_exact(&mut self, buf: &mut [u8]) -> Result<(), Stop> {
        if self.replies.len() < buf.len() {
            return Err(closed());
        }
        let (now, rest) = self.replies.split_at(buf.len());
        buf.copy_from_slice(now);
        self.replies = rest;
        Ok(())
    }
}

/// The handshakes over bytes in memory, for the fuzz targets and tests.
/// Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Runs `proxy`'s handshake to `host:port` (a name, or with `addr` an
    /// address) against `replies` as the proxy's bytes: `Ok(bytes of
    /// `replies` left unread)` when the tunnel opened, else the error as
    /// the library reports it.
    pub fn handshake(
        proxy: &Proxy,
        host: &str,
        port: u16,
        addr: Option<SocketAddr>,
        replies: &[u8],
    ) -> Result<usize, crate::Error> {
        let mut m = Memory { replies, sent: 0 };
        let target = match addr {
            Some(a) => Target::Addr(a),
            None => Target::Name(host, port),
        };
        match proxy.tunnel(&mut m, target) {
            Ok(()) => Ok(m.replies.len()),
            Err(Stop::Io(e)) => Err(proxy.error(&e)),
            // Memory never stops.
            Err(Stop::Stopped(r)) => Err(proxy.error(&io::Error::other(r.as_str()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Phase;

    fn p(s: &str) -> Proxy {
        Proxy::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn run(url: &str, replies: &[u8]) -> Result<usize, crate::Error> {
        fuzzing::handshake(&p(url), "server.example", 443, None, replies)
    }

    #[test]
    fn test_socks5_reply_codes_become_errors_with_the_reason() {
        let ok = [5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 80];
        assert_eq!(run("socks5h://h", &ok).unwrap(), 0);
        let mut named = vec![5, 0, 5, 0, 0, 3, 3];
        named.extend_from_slice(b"abc\x00\x50after");
        assert_eq!(run("socks5h://h", &named).unwrap(), 5);
        for (code, kind, text) in [
            (1, io::ErrorKind::Other, "general failure"),
            (2, io::ErrorKind::PermissionDenied, "not allowed"),
            (3, io::ErrorKind::NetworkUnreachable, "network unreachable"),
            (4, io::ErrorKind::HostUnreachable, "host unreachable"),
            (5, io::ErrorKind::ConnectionRefused, "connection refused"),
            (6, io::ErrorKind::TimedOut, "TTL expired"),
            (7, io::ErrorKind::Unsupported, "command not supported"),
            (8, io::ErrorKind::Unsupported, "address type not supported"),
        ] {
            let e = run("socks5h://h:7", &[5, 0, 5, code]).unwrap_err();
            assert_eq!((e.phase, e.kind), (Phase::Proxy, kind), "{e}");
            assert!(e.message().starts_with("proxy h:7: SOCKS5: "), "{e}");
            assert!(e.message().contains(text), "{e}");
        }
        let e = run("socks5h://u:p@h", &[5, 2, 1, 1]).unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::PermissionDenied);
        assert!(e.message().contains("authentication failed"), "{e}");
        let e = run("socks5h://h", &[5, 0xff]).unwrap_err();
        assert!(e.message().contains("user name and password"), "{e}");
        let e = run("socks5h://h", &[4, 0]).unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::InvalidData);
        let e = run("socks5h://h", &[5, 0, 5, 0, 0, 9, 0]).unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::InvalidData);
        let e = run("socks5h://h", &[5]).unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn test_socks4_reply_codes_become_errors() {
        assert_eq!(
            run("socks4a://h", &[0, 90, 0, 0, 0, 0, 0, 0, 1]).unwrap(),
            1
        );
        let e = run("socks4a://h", &[0, 91, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::ConnectionRefused);
        let v6 = Some("[::1]:1".parse().unwrap());
        let e = fuzzing::handshake(&p("socks4://h"), "", 1, v6, &[]).unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::Unsupported);
    }

    #[test]
    fn test_http_connect_status_lines_and_bounded_head() {
        let ok = b"HTTP/1.1 200 Connection established\r\nX: y\r\n\r\nserver first";
        assert_eq!(run("http://h", ok).unwrap(), 12);
        assert_eq!(run("http://h", b"HTTP/1.0 200\n\n").unwrap(), 0);
        let e = run(
            "http://h:3128",
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.phase, e.kind),
            (Phase::Proxy, io::ErrorKind::PermissionDenied)
        );
        assert_eq!(
            e.message(),
            "proxy h:3128: HTTP 407 Proxy Authentication Required"
        );
        let e = run("http://h", b"HTTP/1.1 502 \r\n\r\n").unwrap_err();
        assert!(e.message().ends_with("HTTP 502 bad gateway"), "{e}");
        let e = run("http://h", b"HTTP/1.1 403\x01\r\n\r\n").unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::InvalidData);
        let e = run("http://h", b"SSH-2.0-x\r\n\r\n").unwrap_err();
        assert_eq!(e.kind, io::ErrorKind::InvalidData);
        // No request smuggled through the host name.
        let ok = b"HTTP/1.1 200 OK\r\n\r\n";
        for host in ["a\r\nX-Evil: 1", "a b", ""] {
            let e = fuzzing::handshake(&p("http://h"), host, 1, None, ok).unwrap_err();
            assert_eq!(e.kind, io::ErrorKind::InvalidInput, "{host:?}");
        }
        let mut long = b"HTTP/1.1 200 OK\r\n".to_vec();
        long.resize(MAX_HTTP_HEAD + 10, b'a');
        let e = run("http://h", &long).unwrap_err();
        assert!(e.message().contains("over 8 KiB"), "{e}");
        // Blank lines first count too.
        let e = run("http://h", &[b'\n'; MAX_HTTP_HEAD + 1]).unwrap_err();
        assert!(e.message().contains("over 8 KiB"), "{e}");
        assert_eq!(run("http://h", b"\r\nHTTP/1.1 200 OK\r\n\r\n").unwrap(), 0);
    }
}
