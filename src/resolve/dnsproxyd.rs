//! Android's netd resolver protocol on `/dev/socket/dnsproxyd`, spoken as
//! bionic's `getaddrinfo` speaks it, for builds that do not have bionic
//! (the static musl build run from an Android shell).
//!
//! Followed, from the public Android sources:
//! - bionic `libc/dns/net/getaddrinfo.c`, `android_getaddrinfo_proxy`: the
//!   request and how the reply is read;
//! - netd / DnsResolver `DnsProxyListener.cpp`: `GetAddrInfoCmd::runCommand`
//!   (eight arguments; `^` for a null host or service) and
//!   `GetAddrInfoHandler::run`, `sendaddrinfo`, `sendBE32`, `sendLenAndData`
//!   (the reply);
//! - libsysutils `SocketClient.cpp`, `sendCode` and `sendBinaryMsg` (the
//!   result code as three ASCII digits and a NUL), and netd's
//!   `ResponseCode.h` (222 `DnsProxyQueryResult`, 401
//!   `DnsProxyOperationFailed`);
//! - `NetdClient.cpp`, `dns_open_proxy`: a plain `SOCK_STREAM` connection
//!   to the socket, nothing sent before the request.
//!
//! Request: `getaddrinfo HOST ^ FLAGS FAMILY SOCKTYPE PROTOCOL NETID` and
//! a NUL byte (a `FrameworkListener` command without a sequence number).
//! We send flags 0, the family asked for (0 `AF_UNSPEC`, 2 `AF_INET`, 10
//! `AF_INET6`), socktype 1 (`SOCK_STREAM`), protocol 0 and netid 0
//! (`NETID_UNSET`: the default network), which is what bionic sends for
//! std's `getaddrinfo` hints.
//!
//! Reply on success: `"222\0"`, then for each address a big-endian 32-bit
//! 1 followed by `ai_flags`, `ai_family`, `ai_socktype`, `ai_protocol`
//! (big-endian 32-bit each), the `sockaddr` as a big-endian 32-bit length
//! and its bytes (the C struct as netd has it in memory: the family in the
//! machine's byte order, port and address in network order), and the
//! canonical name as a big-endian 32-bit length (its NUL included; 0 for
//! none) and its bytes; a big-endian 32-bit 0 ends the list. On failure:
//! `"401\0"`, a big-endian 32-bit length and that many bytes, an `int` in
//! bionic's `EAI_*` numbering. Another code comes as text from
//! `SocketClient::sendMsg` (`"500 ..."`, `"501 ..."`).
//!
//! Bounds, where bionic trusts netd: an address length over 128 bytes
//! (`sockaddr_storage`), a canonical name over 1025 bytes (`NI_MAXHOST`),
//! more than 64 addresses, a reply over 64 KiB, a record marker other
//! than 0 or 1, or an address whose family disagrees with its record are
//! errors, and the whole exchange is bounded by the resolve time limit.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::Path;
use std::time::Instant;

use super::{failed, recv_some, send_all, timed_out};
use crate::config::IpFamily;
use crate::message::Failure;
use crate::wake::Core;

/// `ResponseCode::DnsProxyQueryResult`.
const QUERY_RESULT: u16 = 222;
/// `ResponseCode::DnsProxyOperationFailed`.
const OPERATION_FAILED: u16 = 401;
/// Linux's `AF_INET`, `AF_INET6`, `SOCK_STREAM` (the same on every
/// Android architecture).
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
const SOCK_STREAM: i32 = 1;
/// `sizeof(struct sockaddr_storage)`.
const MAX_ADDR_LEN: usize = 128;
/// `NI_MAXHOST`.
const MAX_CANON_LEN: usize = 1025;
/// More addresses than this in one reply is an error.
const MAX_ADDRS: usize = 64;
/// Longest reply read.
const MAX_REPLY: usize = 64 * 1024;
/// Bionic's `EAI_NODATA`, `EAI_NONAME`, and netd's `NETD_RESOLV_TIMEOUT`.
const EAI_NODATA: i32 = 7;
const EAI_NONAME: i32 = 8;
const NETD_RESOLV_TIMEOUT: i32 = 255;

/// What a reply (so far) says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyReply {
    /// More bytes are needed.
    Incomplete,
    /// The addresses, with the port given to the parser, in netd's order.
    Addrs(Vec<SocketAddr>),
    /// netd answered with another code: 401 with bionic's `EAI_*` error
    /// (`None` if it sent no readable one), or any other code.
    Failed {
        /// The three-digit response code.
        code: u16,
        /// The `getaddrinfo` error, for code 401.
        eai: Option<i32>,
    },
    /// The bytes break the protocol.
    Malformed(&'static str),
}

/// The request for `host` (`^` stands for no service), NUL-terminated.
/// `Err` says why `host` cannot be sent: bionic refuses the same
/// characters (space, tab, CR, LF, `^`, quotes; and we the backslash,
/// which netd's command parser would read as an escape, and control
/// bytes).
pub fn request(host: &str, family: IpFamily) -> Result<Vec<u8>, &'static str> {
    if host.is_empty() {
        return Err("empty name");
    }
    if host.len() > 255 {
        return Err("name longer than 255 bytes");
    }
    if host
        .bytes()
        .any(|b| b.is_ascii_control() || b" ^'\"\\".contains(&b))
    {
        return Err("a character netd's command line cannot carry");
    }
    let af = match family {
        IpFamily::Any => 0,
        IpFamily::V4 => AF_INET,
        IpFamily::V6 => AF_INET6,
    };
    let mut r = format!("getaddrinfo {host} ^ 0 {af} {SOCK_STREAM} 0 0").into_bytes();
    r.push(0);
    Ok(r)
}

/// Reads big-endian 32-bit fields and byte runs off the reply; running
/// out is `Incomplete` until the peer has closed (`eof`).
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    eof: bool,
}

impl<'a> Cursor<'a> {
    fn short(&self) -> ProxyReply {
        if self.eof {
            ProxyReply::Malformed("closed before the end of the reply")
        } else {
            ProxyReply::Incomplete
        }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProxyReply> {
        let b = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or_else(|| self.short())?;
        self.pos += n;
        Ok(b)
    }

    fn be32(&mut self) -> Result<i32, ProxyReply> {
        let b = self.bytes(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length field, which must be within `0..=max`.
    fn len(&mut self, max: usize, what: &'static str) -> Result<usize, ProxyReply> {
        let n = self.be32()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(ProxyReply::Malformed(what))
    }
}

/// Parses `reply` (all bytes read so far; `eof`: the peer has closed),
/// giving each address `port`. Never panics, whatever the bytes.
pub fn parse_reply(reply: &[u8], port: u16, eof: bool) -> ProxyReply {
    let mut c = Cursor {
        buf: reply,
        pos: 0,
        eof,
    };
    match parse(&mut c, port) {
        Ok(r) | Err(r) => r,
    }
}

fn parse(c: &mut Cursor<'_>, port: u16) -> Result<ProxyReply, ProxyReply> {
    use ProxyReply::Malformed;
    let head = c.bytes(4)?;
    let code = match head {
        [a, b, d, 0 | b' '] if [a, b, d].iter().all(|x| x.is_ascii_digit()) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(d - b'0')
        }
        _ => return Err(Malformed("not a netd response code")),
    };
    if code == OPERATION_FAILED && head[3] == 0 {
        // sendBinaryMsg: the length, then an int in the machine's order.
        // Cut short at the end, or of another length: a failure all the
        // same, without the error number.
        let eai = match c.len(64, "error length out of range") {
            Ok(n) => match c.bytes(n) {
                Ok(b) if n == 4 => Some(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                Ok(_) => None,
                Err(ProxyReply::Incomplete) => return Err(ProxyReply::Incomplete),
                Err(_) => None,
            },
            Err(ProxyReply::Incomplete) => return Err(ProxyReply::Incomplete),
            Err(_) => None,
        };
        return Ok(ProxyReply::Failed { code, eai });
    }
    if code != QUERY_RESULT || head[3] != 0 {
        return Ok(ProxyReply::Failed { code, eai: None });
    }
    let mut addrs: Vec<SocketAddr> = Vec::new();
    let mut records = 0;
    loop {
        match c.be32()? {
            0 => return Ok(ProxyReply::Addrs(addrs)),
            1 => {}
            _ => return Err(Malformed("bad record marker")),
        }
        records += 1;
        if records > MAX_ADDRS {
            return Err(Malformed("too many addresses"));
        }
        let _flags = c.be32()?;
        let family = c.be32()?;
        let _socktype = c.be32()?;
        let _protocol = c.be32()?;
        let addr_len = c.len(MAX_ADDR_LEN, "address length out of range")?;
        let sa = c.bytes(addr_len)?;
        let name_len = c.len(MAX_CANON_LEN, "canonical name length out of range")?;
        let name = c.bytes(name_len)?;
        if name.last().is_some_and(|&b| b != 0) {
            return Err(Malformed("canonical name not NUL-terminated"));
        }
        let sa_family = |sa: &[u8]| i32::from(u16::from_ne_bytes([sa[0], sa[1]]));
        let addr = match family {
            AF_INET if sa.len() >= 8 => {
                if sa_family(sa) != AF_INET {
                    return Err(Malformed("address family disagrees with the record"));
                }
                let ip = Ipv4Addr::new(sa[4], sa[5], sa[6], sa[7]);
                SocketAddr::V4(SocketAddrV4::new(ip, port))
            }
            AF_INET6 if sa.len() >= 24 => {
                if sa_family(sa) != AF_INET6 {
                    return Err(Malformed("address family disagrees with the record"));
                }
                let mut b = [0u8; 16];
                b.copy_from_slice(&sa[8..24]);
                let scope = match sa.get(24..28) {
                    Some(s) => u32::from_ne_bytes([s[0], s[1], s[2], s[3]]),
                    None => 0,
                };
                SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(b), port, 0, scope))
            }
            AF_INET | AF_INET6 => return Err(Malformed("address too short for its family")),
            _ => continue, // not an IP address: not ours to use
        };
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
}

/// Asks netd at `path` for `host`'s addresses, until `until`.
pub(super) fn lookup(
    core: &Core,
    host: &str,
    port: u16,
    family: IpFamily,
    path: &Path,
    until: Option<Instant>,
) -> Result<Vec<SocketAddr>, Failure> {
    let req = request(host, family).map_err(|why| {
        failed(
            io::ErrorKind::InvalidInput,
            format!("'{host}' cannot be asked of netd: {why}"),
        )
    })?;
    let where_ = path.display();
    let stream = connect(path).map_err(|e| {
        failed(
            e.kind(),
            format!("{host}: cannot reach netd at {where_}: {e}"),
        )
    })?;
    let io_failed = |e: io::Error| {
        if e.kind() == io::ErrorKind::TimedOut {
            timed_out(format!("{host}: netd at {where_} did not answer in time"))
        } else {
            failed(e.kind(), format!("{host}: netd at {where_}: {e}"))
        }
    };
    send_all(core, &stream, &req, until)?.map_err(io_failed)?;
    let mut got: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 4096];
    let answer = loop {
        match recv_some(core, &stream, &mut buf, until)?.map_err(io_failed)? {
            0 => break parse_reply(&got, port, true),
            n => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > MAX_REPLY {
                    break ProxyReply::Malformed("reply longer than 64 KiB");
                }
                match parse_reply(&got, port, false) {
                    ProxyReply::Incomplete => {}
                    done => break done,
                }
            }
        }
    };
    match answer {
        ProxyReply::Addrs(addrs) => Ok(addrs),
        ProxyReply::Failed {
            code: OPERATION_FAILED,
            eai,
        } => {
            let (kind, what) = match eai {
                Some(NETD_RESOLV_TIMEOUT) => (io::ErrorKind::TimedOut, "timed out".to_owned()),
                Some(EAI_NODATA | EAI_NONAME) => (io::ErrorKind::NotFound, "not found".to_owned()),
                Some(e) => (io::ErrorKind::NotFound, format!("failed (EAI error {e})")),
                None => (io::ErrorKind::NotFound, "failed".to_owned()),
            };
            Err(failed(kind, format!("{host}: {what} (netd at {where_})")))
        }
        ProxyReply::Failed { code, .. } => Err(failed(
            io::ErrorKind::Other,
            format!("{host}: netd at {where_} answered code {code}"),
        )),
        ProxyReply::Malformed(why) => Err(failed(
            io::ErrorKind::InvalidData,
            format!("{host}: bad reply from netd at {where_}: {why}"),
        )),
        ProxyReply::Incomplete => unreachable!("parse_reply with eof is never Incomplete"),
    }
}

/// A non-blocking stream connection to `path` (a UNIX socket connect
/// completes or fails at once; a full backlog is `WouldBlock`).
fn connect(path: &Path) -> io::Result<socket2::Socket> {
    let sock = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    sock.connect(&socket2::SockAddr::unix(path)?)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(v: i32) -> [u8; 4] {
        v.to_be_bytes()
    }

    /// One record as netd's sendaddrinfo writes it.
    fn record(family: i32, sa: &[u8], canon: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        for v in [1, 0, family, SOCK_STREAM, 6, sa.len() as i32] {
            r.extend_from_slice(&be(v));
        }
        r.extend_from_slice(sa);
        r.extend_from_slice(&be(canon.len() as i32));
        r.extend_from_slice(canon);
        r
    }

    fn sin(ip: [u8; 4]) -> Vec<u8> {
        let mut sa = vec![0u8; 16];
        sa[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
        sa[4..8].copy_from_slice(&ip);
        sa
    }

    fn sin6(ip: Ipv6Addr, scope: u32) -> Vec<u8> {
        let mut sa = vec![0u8; 28];
        sa[..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
        sa[8..24].copy_from_slice(&ip.octets());
        sa[24..28].copy_from_slice(&scope.to_ne_bytes());
        sa
    }

    fn success(records: &[Vec<u8>]) -> Vec<u8> {
        let mut r = b"222\0".to_vec();
        for rec in records {
            r.extend_from_slice(rec);
        }
        r.extend_from_slice(&be(0));
        r
    }

    #[test]
    fn test_request_is_what_bionic_sends() {
        assert_eq!(
            request("example.org", IpFamily::Any).unwrap(),
            b"getaddrinfo example.org ^ 0 0 1 0 0\0"
        );
        assert_eq!(
            request("a.b", IpFamily::V6).unwrap(),
            b"getaddrinfo a.b ^ 0 10 1 0 0\0"
        );
        for bad in ["", "a b", "a^b", "a\"b", "a'b", "a\\b", "a\nb", "a\0b"] {
            assert!(request(bad, IpFamily::Any).is_err(), "{bad:?}");
        }
        assert!(request(&"a".repeat(256), IpFamily::Any).is_err());
    }

    #[test]
    fn test_addresses_in_order_with_the_port() {
        let r = success(&[
            record(AF_INET6, &sin6(Ipv6Addr::LOCALHOST, 0), b"h.test\0"),
            record(AF_INET, &sin([127, 0, 0, 1]), b""),
            record(AF_INET, &sin([127, 0, 0, 1]), b""),
            record(1, b"/x", b""), // AF_UNIX: skipped
        ]);
        assert_eq!(
            parse_reply(&r, 80, false),
            ProxyReply::Addrs(vec![
                "[::1]:80".parse().unwrap(),
                "127.0.0.1:80".parse().unwrap()
            ])
        );
        // Byte by byte: incomplete until the last byte, and the same then.
        for n in 0..r.len() {
            assert_eq!(
                parse_reply(&r[..n], 80, false),
                ProxyReply::Incomplete,
                "{n}"
            );
            assert!(
                matches!(parse_reply(&r[..n], 80, true), ProxyReply::Malformed(_)),
                "{n}"
            );
        }
    }

    #[test]
    fn test_failures() {
        let mut nodata = b"401\0".to_vec();
        nodata.extend_from_slice(&be(4));
        nodata.extend_from_slice(&EAI_NODATA.to_ne_bytes());
        assert_eq!(
            parse_reply(&nodata, 1, false),
            ProxyReply::Failed {
                code: 401,
                eai: Some(EAI_NODATA)
            }
        );
        assert_eq!(parse_reply(b"401\0", 1, false), ProxyReply::Incomplete);
        assert_eq!(
            parse_reply(b"401\0", 1, true),
            ProxyReply::Failed {
                code: 401,
                eai: None
            }
        );
        assert_eq!(
            parse_reply(b"500 Command not recognized\0", 1, false),
            ProxyReply::Failed {
                code: 500,
                eai: None
            }
        );
        assert!(matches!(
            parse_reply(b"HTTP/1.1", 1, false),
            ProxyReply::Malformed(_)
        ));
    }

    #[test]
    fn test_lying_peers_are_errors() {
        let mut long_addr = success(&[]);
        long_addr.truncate(4);
        for v in [1, 0, AF_INET, 1, 0, 100_000] {
            long_addr.extend_from_slice(&be(v));
        }
        assert_eq!(
            parse_reply(&long_addr, 1, false),
            ProxyReply::Malformed("address length out of range")
        );
        let mut neg = b"222\0".to_vec();
        for v in [1, 0, AF_INET, 1, 0, -1] {
            neg.extend_from_slice(&be(v));
        }
        assert!(matches!(
            parse_reply(&neg, 1, false),
            ProxyReply::Malformed(_)
        ));
        let canon = success(&[record(AF_INET, &sin([1, 2, 3, 4]), b"no-nul")]);
        assert!(matches!(
            parse_reply(&canon, 1, false),
            ProxyReply::Malformed(_)
        ));
        let short = success(&[record(AF_INET6, &sin([1, 2, 3, 4]), b"")]);
        assert!(matches!(
            parse_reply(&short, 1, false),
            ProxyReply::Malformed(_)
        ));
        let mixed = success(&[record(AF_INET, &sin6(Ipv6Addr::LOCALHOST, 0), b"")]);
        assert!(matches!(
            parse_reply(&mixed, 1, false),
            ProxyReply::Malformed(_)
        ));
        let recs: Vec<Vec<u8>> = (0..1000)
            .map(|_| record(AF_INET, &sin([1, 2, 3, 4]), b""))
            .collect();
        assert_eq!(
            parse_reply(&success(&recs), 1, false),
            ProxyReply::Malformed("too many addresses")
        );
        let mut marker = b"222\0".to_vec();
        marker.extend_from_slice(&be(7));
        assert!(matches!(
            parse_reply(&marker, 1, false),
            ProxyReply::Malformed(_)
        ));
    }
}
