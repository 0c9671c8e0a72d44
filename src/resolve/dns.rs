//! The built-in DNS stub resolver ([`Resolver::Dns`](super::Resolver)):
//! RFC 1035 queries over UDP (TCP when a reply comes back truncated), on
//! the worker thread, every wait polled together with the wake eventfd.
//!
//! The reply parser trusts nothing: the id and the question must match
//! the query (a reply that does not is ignored, as a stray or forged
//! datagram); any reply that claims to answer it but breaks a rule is an
//! error for that server: a header or record cut short, a compression
//! pointer that does not point strictly before the name it is in (which
//! rules out loops), a name longer than 255 bytes, more than
//! [`MAX_ANSWERS`] answers, an address record of the wrong length.
//! Only `A`, `AAAA` and `CNAME` records of class `IN` are read; CNAMEs
//! are followed within the reply, from the name asked for.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::{failed, io_timed_out, recv_some, send_all, timed_out, wait};
use crate::config::IpFamily;
use crate::message::Failure;
use crate::sys;
use crate::wake::Core;

/// Record type `A` (an IPv4 address).
pub const QTYPE_A: u16 = 1;
/// Record type `AAAA` (an IPv6 address).
pub const QTYPE_AAAA: u16 = 28;
const QTYPE_CNAME: u16 = 5;
const CLASS_IN: u16 = 1;
/// Longest name on the wire, length bytes and root included (RFC 1035).
const MAX_NAME: usize = 255;
/// More answers than this in one reply is an error.
pub const MAX_ANSWERS: usize = 64;
/// Per-try timeouts: one round over the servers with each.
const TRIES: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// After one family has answered with addresses, how long the other may
/// still take (RFC 8305's resolution delay).
const RESOLUTION_DELAY: Duration = Duration::from_millis(50);
/// Largest UDP reply read (a server should send at most 512 bytes to a
/// query without EDNS; a longer one is read, not cut).
const UDP_BUF: usize = 4096;

/// A name in wire form (length-prefixed labels, root byte last),
/// uncompressed and lowercased.
#[derive(Clone, Copy)]
struct Name {
    buf: [u8; MAX_NAME],
    len: usize,
}

impl Name {
    fn new() -> Name {
        Name {
            buf: [0; MAX_NAME],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), DnsReply> {
        let end = self.len + bytes.len();
        if end > MAX_NAME {
            return Err(DnsReply::Malformed("name longer than 255 bytes"));
        }
        for (d, s) in self.buf[self.len..end].iter_mut().zip(bytes) {
            *d = s.to_ascii_lowercase();
        }
        self.len = end;
        Ok(())
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.bytes() == other.bytes()
    }
}

/// What a reply says about one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsReply {
    /// The addresses of the type asked for, after CNAMEs within the reply,
    /// each once, in the reply's order. Empty: the name exists but has no
    /// address of that type.
    Addrs(Vec<IpAddr>),
    /// The name does not exist (RCODE 3).
    NxDomain,
    /// The reply was truncated (TC): ask again over TCP.
    Truncated,
    /// Another error code (2 SERVFAIL, 4 NOTIMP, 5 REFUSED, ...).
    Rcode(u8),
    /// Not a reply to this query (another id, not a response, another
    /// question): to be ignored.
    NotOurs,
    /// Claims to answer this query but breaks the format.
    Malformed(&'static str),
}

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Encodes `name` (dots between labels, an optional final dot) in wire
/// form. Labels must be 1 to 63 printable ASCII bytes, the whole at most
/// 255 bytes on the wire.
fn encode_name(name: &str) -> Result<Vec<u8>, &'static str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("empty name");
    }
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        if label.is_empty() {
            return Err("empty label");
        }
        if label.len() > 63 {
            return Err("label longer than 63 bytes");
        }
        if !label.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("not a host name character");
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    if out.len() > MAX_NAME {
        return Err("name longer than 255 bytes");
    }
    Ok(out)
}

/// A standard query (recursion desired, one question of class `IN`) for
/// `name` and `qtype` with this `id`; `Err` says why the name cannot be
/// sent.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, &'static str> {
    let qname = encode_name(name)?;
    let mut q = Vec::with_capacity(12 + qname.len() + 4);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1 AN=NS=AR=0
    q.extend_from_slice(&qname);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(q)
}

/// Reads the (possibly compressed) name at `start`. Returns it and the
/// offset just after it in place. A pointer must point before the start
/// of the run of labels it ends, so every jump goes strictly backwards
/// and no loop is possible; the name's 255-byte limit bounds the rest.
fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize), DnsReply> {
    const SHORT: DnsReply = DnsReply::Malformed("name runs past the end");
    let mut name = Name::new();
    let (mut pos, mut run_start) = (start, start);
    let mut after = None;
    loop {
        let len = *msg.get(pos).ok_or(SHORT)?;
        match len & 0xC0 {
            0x00 if len == 0 => {
                name.push(&[0])?;
                return Ok((name, after.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg.get(pos..=pos + len as usize).ok_or(SHORT)?;
                name.push(label)?;
                pos += 1 + len as usize;
            }
            0xC0 => {
                let lo = *msg.get(pos + 1).ok_or(SHORT)?;
                let target = usize::from(len & 0x3F) << 8 | usize::from(lo);
                if target >= run_start {
                    return Err(DnsReply::Malformed(
                        "compression pointer does not point back",
                    ));
                }
                after.get_or_insert(pos + 2);
                pos = target;
                run_start = target;
            }
            _ => return Err(DnsReply::Malformed("unknown label type")),
        }
    }
}

/// What one answer record holds, if it is one we read.
enum Data {
    Ip(IpAddr),
    Alias(Box<Name>),
}

/// Parses `reply` as the answer to `query` (as made by [`encode_query`]).
/// Never panics, whatever the bytes.
pub fn parse_reply(reply: &[u8], query: &[u8]) -> DnsReply {
    match parse(reply, query) {
        Ok(r) | Err(r) => r,
    }
}

fn parse(reply: &[u8], query: &[u8]) -> Result<DnsReply, DnsReply> {
    use DnsReply::{Malformed, NotOurs};
    let bad_query = Malformed("not a query");
    let id = be16(query, 0).ok_or(bad_query.clone())?;
    let (qname, qend) = read_name(query, 12).map_err(|_| bad_query.clone())?;
    let qtype = be16(query, qend).ok_or(bad_query)?;

    if be16(reply, 0) != Some(id) {
        return Err(NotOurs);
    }
    if reply.len() < 12 {
        return Err(Malformed("shorter than a DNS header"));
    }
    let flags = be16(reply, 2).unwrap_or(0);
    if flags & 0x8000 == 0 {
        return Err(NotOurs); // a query, not a response
    }
    if (flags >> 11) & 0xF != 0 {
        return Err(Malformed("not a standard query's reply"));
    }
    let truncated = flags & 0x0200 != 0;
    let rcode = (flags & 0xF) as u8;
    let qdcount = be16(reply, 4).unwrap_or(0);
    let ancount = usize::from(be16(reply, 6).unwrap_or(0));
    let mut pos = 12;
    match qdcount {
        1 => {
            let (name, end) = read_name(reply, pos)?;
            let (qt, qc) = match (be16(reply, end), be16(reply, end + 2)) {
                (Some(t), Some(c)) => (t, c),
                _ => return Err(Malformed("question cut short")),
            };
            if name != qname || qt != qtype || qc != CLASS_IN {
                return Err(NotOurs);
            }
            pos = end + 4;
        }
        // Servers may leave the question out of an error reply.
        0 if truncated || rcode != 0 => {}
        0 => return Err(Malformed("no question in the reply")),
        _ => return Err(Malformed("more than one question")),
    }
    if truncated {
        return Ok(DnsReply::Truncated);
    }
    match rcode {
        0 => {}
        3 => return Ok(DnsReply::NxDomain),
        r => return Ok(DnsReply::Rcode(r)),
    }
    if ancount > MAX_ANSWERS {
        return Err(Malformed("too many answers"));
    }
    let mut records: Vec<(Name, Data)> = Vec::with_capacity(ancount);
    for _ in 0..ancount {
        let (owner, end) = read_name(reply, pos)?;
        let fixed = reply
            .get(end..end + 10)
            .ok_or(Malformed("record cut short"))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let rd_start = end + 10;
        let rdata = reply
            .get(rd_start..rd_start + rdlen)
            .ok_or(Malformed("record data cut short"))?;
        pos = rd_start + rdlen;
        if class != CLASS_IN {
            continue;
        }
        let data = match rtype {
            QTYPE_A => {
                let b: [u8; 4] = rdata
                    .try_into()
                    .map_err(|_| Malformed("A record not 4 bytes"))?;
                Data::Ip(IpAddr::V4(Ipv4Addr::from(b)))
            }
            QTYPE_AAAA => {
                let b: [u8; 16] = rdata
                    .try_into()
                    .map_err(|_| Malformed("AAAA record not 16 bytes"))?;
                Data::Ip(IpAddr::V6(Ipv6Addr::from(b)))
            }
            QTYPE_CNAME => {
                let (target, t_end) = read_name(reply, rd_start)?;
                if t_end != rd_start + rdlen {
                    return Err(Malformed("CNAME does not fill its record"));
                }
                Data::Alias(Box::new(target))
            }
            _ => continue,
        };
        if matches!(data, Data::Ip(_)) && rtype != qtype {
            continue; // an address of the other type: not asked for
        }
        records.push((owner, data));
    }
    // The names that stand for the one asked: it, then its CNAME chain.
    let mut chain = vec![qname];
    while chain.len() <= records.len() {
        let last = chain[chain.len() - 1];
        let next = records.iter().find_map(|(owner, d)| match d {
            Data::Alias(t) if *owner == last && !chain.contains(t) => Some(**t),
            _ => None,
        });
        match next {
            Some(t) => chain.push(t),
            None => break,
        }
    }
    let mut addrs: Vec<IpAddr> = Vec::new();
    for (owner, d) in &records {
        if let Data::Ip(ip) = d {
            if chain.contains(owner) && !addrs.contains(ip) {
                addrs.push(*ip);
            }
        }
    }
    Ok(DnsReply::Addrs(addrs))
}

/// A query id nobody off the path can guess: from the kernel's random
/// source, or (a kernel without `getrandom`) a xorshift seeded from the
/// clock and the process id.
fn random_id() -> u16 {
    let mut b = [0u8; 2];
    if sys::random_bytes(&mut b) {
        return u16::from_ne_bytes(b);
    }
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        x = t ^ (u64::from(std::process::id()) << 32) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 24) as u16
}

/// One query type's progress over the servers.
struct Question {
    qtype: u16,
    /// Its answer, once a server gave one.
    answer: Option<Vec<IpAddr>>,
}

/// What the lookup has learnt so far.
struct Lookup<'a> {
    host: &'a str,
    questions: Vec<Question>,
    /// The last server's error, for when no server answers.
    last_error: Option<(io::ErrorKind, String)>,
    /// Replies that matched no query.
    ignored: u32,
    /// When the first addresses arrived (the other family's clock).
    first_addrs: Option<Instant>,
}

impl Lookup<'_> {
    fn done(&self) -> bool {
        self.questions.iter().all(|q| q.answer.is_some())
    }

    /// `until`, shortened to the resolution delay once one family has
    /// addresses.
    fn limit(&self, until: Option<Instant>) -> Option<Instant> {
        match self.first_addrs {
            Some(t) => Some(until.map_or(t + RESOLUTION_DELAY, |u| u.min(t + RESOLUTION_DELAY))),
            None => until,
        }
    }

    fn note(&mut self, kind: io::ErrorKind, msg: String) {
        log::debug!("dns: {msg}");
        self.last_error = Some((kind, msg));
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Asks `servers` for `host`'s addresses of `family`, until `until`.
pub(super) fn lookup(
    core: &Core,
    host: &str,
    port: u16,
    family: IpFamily,
    servers: &[SocketAddr],
    until: Option<Instant>,
) -> Result<Vec<SocketAddr>, Failure> {
    if servers.is_empty() {
        return Err(failed(io::ErrorKind::InvalidInput, "no DNS server given"));
    }
    if let Err(why) = encode_name(host) {
        return Err(failed(
            io::ErrorKind::InvalidInput,
            format!("'{host}' cannot be asked over DNS: {why}"),
        ));
    }
    let types: &[u16] = match family {
        IpFamily::V4 => &[QTYPE_A],
        IpFamily::V6 => &[QTYPE_AAAA],
        IpFamily::Any => &[QTYPE_AAAA, QTYPE_A],
    };
    let mut l = Lookup {
        host,
        questions: types
            .iter()
            .map(|&qtype| Question {
                qtype,
                answer: None,
            })
            .collect(),
        last_error: None,
        ignored: 0,
        first_addrs: None,
    };
    'rounds: for per_try in TRIES {
        for server in servers {
            let limit = l.limit(until);
            if l.done() || limit.is_some_and(|t| Instant::now() >= t) {
                break 'rounds;
            }
            let try_until = earliest(limit, Instant::now().checked_add(per_try));
            ask(core, &mut l, *server, try_until, until)?;
        }
    }
    let addrs: Vec<SocketAddr> = l
        .questions
        .iter()
        .filter_map(|q| q.answer.as_ref())
        .flatten()
        .map(|&ip| SocketAddr::new(ip, port))
        .collect();
    if !addrs.is_empty() {
        return Ok(addrs);
    }
    if l.done() {
        return Err(failed(
            io::ErrorKind::NotFound,
            format!("{host}: no address"),
        ));
    }
    match l.last_error {
        Some((kind, msg)) => Err(failed(kind, format!("{host}: {msg}"))),
        None if l.ignored > 0 => Err(timed_out(format!(
            "{host}: no reply from the DNS servers ({} that did not match the query ignored)",
            l.ignored
        ))),
        None => Err(timed_out(format!("{host}: no reply from the DNS servers"))),
    }
}

/// One try at one server: the questions still open, over one UDP socket,
/// until `try_until`. Errors of the server are noted in `l`; only a stop
/// or a name that does not exist end the lookup.
fn ask(
    core: &Core,
    l: &mut Lookup<'_>,
    server: SocketAddr,
    try_until: Option<Instant>,
    until: Option<Instant>,
) -> Result<(), Failure> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = match UdpSocket::bind(local)
        .and_then(|s| s.connect(server).map(|()| s))
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
    {
        Ok(s) => s,
        Err(e) => {
            l.note(e.kind(), format!("cannot ask {server}: {e}"));
            return Ok(());
        }
    };
    // (index into l.questions, the query sent)
    let mut open: Vec<(usize, Vec<u8>)> = Vec::new();
    for (i, q) in l.questions.iter().enumerate() {
        if q.answer.is_some() {
            continue;
        }
        let Ok(query) = encode_query(random_id(), l.host, q.qtype) else {
            continue; // checked by the caller
        };
        if let Err(e) = sock.send(&query) {
            l.note(e.kind(), format!("cannot ask {server}: {e}"));
            return Ok(());
        }
        open.push((i, query));
    }
    let mut buf = vec![0u8; UDP_BUF];
    while !open.is_empty() {
        if wait(core, sock.as_raw_fd(), true, false, l.limit(try_until))?.is_none() {
            return Ok(());
        }
        loop {
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ECONNREFUSED: nothing listens there (ICMP).
                    l.note(e.kind(), format!("{server}: {e}"));
                    return Ok(());
                }
            };
            let reply = &buf[..n];
            let mut matched = false;
            let mut k = 0;
            while k < open.len() {
                let mut answer = parse_reply(reply, &open[k].1);
                if answer == DnsReply::NotOurs {
                    k += 1;
                    continue;
                }
                matched = true;
                let (i, query) = open.swap_remove(k);
                if answer == DnsReply::Truncated {
                    answer = ask_tcp(core, server, &query, earliest(try_until, until), l)?;
                }
                settle(l, i, server, answer)?;
                break;
            }
            if !matched {
                l.ignored += 1;
                log::debug!("dns: ignored a reply from {server} that matches no query");
            }
        }
    }
    Ok(())
}

/// Records what `server` answered for question `i`.
fn settle(
    l: &mut Lookup<'_>,
    i: usize,
    server: SocketAddr,
    answer: DnsReply,
) -> Result<(), Failure> {
    match answer {
        DnsReply::Addrs(ips) => {
            if !ips.is_empty() && l.first_addrs.is_none() {
                l.first_addrs = Some(Instant::now());
            }
            l.questions[i].answer = Some(ips);
        }
        DnsReply::NxDomain => {
            return Err(failed(
                io::ErrorKind::NotFound,
                format!("{}: no such name (NXDOMAIN from {server})", l.host),
            ))
        }
        DnsReply::Rcode(r) => {
            let name = match r {
                1 => "FORMERR",
                2 => "SERVFAIL",
                4 => "NOTIMP",
                5 => "REFUSED",
                _ => "an error",
            };
            l.note(
                io::ErrorKind::Other,
                format!("{server} answered {name} (RCODE {r})"),
            );
        }
        DnsReply::Malformed(why) => l.note(
            io::ErrorKind::InvalidData,
            format!("bad reply from {server}: {why}"),
        ),
        DnsReply::Truncated => l.note(
            io::ErrorKind::InvalidData,
            format!("{server} sent a truncated reply over TCP"),
        ),
        DnsReply::NotOurs => l.note(
            io::ErrorKind::InvalidData,
            format!("{server} answered another question over TCP"),
        ),
    }
    Ok(())
}

/// Asks `query` again over TCP (after a truncated UDP reply), until
/// `until`. A failure of the connection is reported as a malformed
/// answer after noting the error.
fn ask_tcp(
    core: &Core,
    server: SocketAddr,
    query: &[u8],
    until: Option<Instant>,
    l: &mut Lookup<'_>,
) -> Result<DnsReply, Failure> {
    match tcp_exchange(core, server, query, until)? {
        Ok(reply) => Ok(parse_reply(&reply, query)),
        Err(e) => {
            l.note(e.kind(), format!("{server} over TCP: {e}"));
            Ok(DnsReply::Malformed("no reply over TCP"))
        }
    }
}

fn tcp_exchange(
    core: &Core,
    server: SocketAddr,
    query: &[u8],
    until: Option<Instant>,
) -> Result<io::Result<Vec<u8>>, Failure> {
    let sock = match socket2::Socket::new(
        socket2::Domain::for_address(server),
        socket2::Type::STREAM,
        None,
    )
    .and_then(|s| s.set_nonblocking(true).map(|()| s))
    {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    match sock.connect(&server.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            // Writable once connected or failed; the eventfd may wake the
            // wait before that.
            loop {
                match wait(core, sock.as_raw_fd(), false, true, until)? {
                    None => return Ok(Err(io_timed_out())),
                    Some(r) if r.writable => break,
                    Some(_) => {}
                }
            }
            match sock.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => return Ok(Err(e)),
            }
        }
        Err(e) => return Ok(Err(e)),
    }
    let mut out = Vec::with_capacity(2 + query.len());
    out.extend_from_slice(&(query.len() as u16).to_be_bytes());
    out.extend_from_slice(query);
    if let Err(e) = send_all(core, &sock, &out, until)? {
        return Ok(Err(e));
    }
    // The two-byte length, then the message.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 2048];
    loop {
        if got.len() >= 2 {
            let want = 2 + usize::from(u16::from_be_bytes([got[0], got[1]]));
            if got.len() >= want {
                got.truncate(want);
                return Ok(Ok(got.split_off(2)));
            }
        }
        match recv_some(core, &sock, &mut buf, until)? {
            Ok(0) => {
                return Ok(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed before the whole reply",
                )))
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Ok(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to `query` with these answer records (already encoded).
    fn reply(query: &[u8], flags: u16, answers: &[Vec<u8>]) -> Vec<u8> {
        let mut r = query.to_vec();
        r[2..4].copy_from_slice(&flags.to_be_bytes());
        r[6..8].copy_from_slice(&(answers.len() as u16).to_be_bytes());
        for a in answers {
            r.extend_from_slice(a);
        }
        r
    }

    /// An answer record: owner as wire bytes (may be a pointer).
    fn rr(owner: &[u8], rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut v = owner.to_vec();
        v.extend_from_slice(&rtype.to_be_bytes());
        v.extend_from_slice(&CLASS_IN.to_be_bytes());
        v.extend_from_slice(&300u32.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
        v
    }

    const PTR_QNAME: [u8; 2] = [0xC0, 12];

    #[test]
    fn test_encode_query_and_name_limits() {
        let q = encode_query(0xBEEF, "Example.org.", QTYPE_AAAA).unwrap();
        assert_eq!(&q[..4], &[0xBE, 0xEF, 0x01, 0x00]);
        assert_eq!(&q[12..25], b"\x07Example\x03org\x00");
        assert_eq!(&q[25..], &[0, 28, 0, 1]);
        assert!(encode_query(1, "", QTYPE_A).is_err());
        assert!(encode_query(1, "a..b", QTYPE_A).is_err());
        assert!(encode_query(1, "a b", QTYPE_A).is_err());
        assert!(encode_query(1, &"x".repeat(64), QTYPE_A).is_err());
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(encode_query(1, &long, QTYPE_A).is_err(), "257 bytes");
        let fits = [
            "a".repeat(62),
            "a".repeat(63),
            "a".repeat(63),
            "a".repeat(62),
        ]
        .join(".");
        assert!(encode_query(1, &fits, QTYPE_A).is_ok(), "255 bytes");
    }

    #[test]
    fn test_addresses_and_cname_chain_within_the_reply() {
        let q = encode_query(7, "www.test", QTYPE_A).unwrap();
        // www.test CNAME web.test (web.test spelt out), web.test A 192.0.2.1,
        // an unrelated A record, and an AAAA record (not asked for).
        let web = b"\x03web\x04test\x00".to_vec();
        let r = reply(
            &q,
            0x8180,
            &[
                rr(&PTR_QNAME, QTYPE_CNAME, &web),
                rr(&web, QTYPE_A, &[192, 0, 2, 1]),
                rr(b"\x05other\x00", QTYPE_A, &[192, 0, 2, 99]),
                rr(&PTR_QNAME, QTYPE_AAAA, &[0; 16]),
                rr(&PTR_QNAME, QTYPE_A, &[192, 0, 2, 1]),
            ],
        );
        assert_eq!(
            parse_reply(&r, &q),
            DnsReply::Addrs(vec!["192.0.2.1".parse().unwrap()])
        );
    }

    #[test]
    fn test_codes_and_stray_replies() {
        let q = encode_query(7, "x.test", QTYPE_A).unwrap();
        assert_eq!(parse_reply(&reply(&q, 0x8183, &[]), &q), DnsReply::NxDomain);
        assert_eq!(parse_reply(&reply(&q, 0x8182, &[]), &q), DnsReply::Rcode(2));
        assert_eq!(
            parse_reply(&reply(&q, 0x8380, &[]), &q),
            DnsReply::Truncated
        );
        assert_eq!(
            parse_reply(&reply(&q, 0x8180, &[]), &q),
            DnsReply::Addrs(vec![])
        );
        // Wrong id, a query instead of a reply, another question: ignored.
        let mut other = reply(&q, 0x8180, &[]);
        other[1] ^= 1;
        assert_eq!(parse_reply(&other, &q), DnsReply::NotOurs);
        assert_eq!(parse_reply(&q, &q), DnsReply::NotOurs);
        let q2 = encode_query(7, "y.test", QTYPE_A).unwrap();
        assert_eq!(parse_reply(&reply(&q2, 0x8180, &[]), &q), DnsReply::NotOurs);
        let q3 = encode_query(7, "X.TEST", QTYPE_A).unwrap();
        assert_eq!(
            parse_reply(&reply(&q3, 0x8180, &[]), &q),
            DnsReply::Addrs(vec![]),
            "names compare without case"
        );
    }

    #[test]
    fn test_hostile_replies_are_errors() {
        let q = encode_query(7, "x.test", QTYPE_A).unwrap();
        let good = reply(&q, 0x8180, &[rr(&PTR_QNAME, QTYPE_A, &[1, 2, 3, 4])]);
        // Cut anywhere after the id: an error, never a panic.
        for n in 2..good.len() {
            assert!(
                matches!(parse_reply(&good[..n], &q), DnsReply::Malformed(_)),
                "cut at {n}: {:?}",
                parse_reply(&good[..n], &q)
            );
        }
        // A pointer to itself, and one pointing forwards.
        let self_loop = reply(
            &q,
            0x8180,
            &[rr(&[0xC0, q.len() as u8], QTYPE_A, &[1, 2, 3, 4])],
        );
        assert!(matches!(
            parse_reply(&self_loop, &q),
            DnsReply::Malformed(_)
        ));
        // A label then a pointer back to that label: a loop through a label.
        let mut looped = reply(&q, 0x8180, &[]);
        looped[7] = 1;
        let at = looped.len() as u8;
        looped.extend_from_slice(&[1, b'a', 0xC0, at]);
        looped.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
        assert!(matches!(parse_reply(&looped, &q), DnsReply::Malformed(_)));
        // Five labels of 63 bytes: over the 255-byte limit.
        let mut long = reply(&q, 0x8180, &[]);
        long[7] = 1;
        long.extend_from_slice(&[63]);
        long.extend_from_slice(&[b'a'; 63]);
        for _ in 0..4 {
            long.extend_from_slice(&[63]);
            long.extend_from_slice(&[b'b'; 63]);
        }
        long.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4]);
        assert_eq!(
            parse_reply(&long, &q),
            DnsReply::Malformed("name longer than 255 bytes")
        );
        // A thousand answers claimed.
        let mut many = good.clone();
        many[6..8].copy_from_slice(&1000u16.to_be_bytes());
        assert_eq!(
            parse_reply(&many, &q),
            DnsReply::Malformed("too many answers")
        );
        // An A record of 5 bytes.
        let odd = reply(&q, 0x8180, &[rr(&PTR_QNAME, QTYPE_A, &[1, 2, 3, 4, 5])]);
        assert!(matches!(parse_reply(&odd, &q), DnsReply::Malformed(_)));
        // A CNAME loop (a -> b -> a) ends, with no address.
        let a = PTR_QNAME.to_vec();
        let b = b"\x01b\x00".to_vec();
        let cyc = reply(
            &q,
            0x8180,
            &[
                rr(&a, QTYPE_CNAME, &b),
                rr(&b, QTYPE_CNAME, b"\x01x\x04test\x00"),
            ],
        );
        assert_eq!(parse_reply(&cyc, &q), DnsReply::Addrs(vec![]));
    }

    #[test]
    fn test_random_ids_vary() {
        let ids: Vec<u16> = (0..16).map(|_| random_id()).collect();
        assert!(ids.iter().any(|&i| i != ids[0]));
    }
}
