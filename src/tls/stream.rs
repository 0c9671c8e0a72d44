//! The worker's TLS transport: a rustls client connection driven over the
//! blocking socket, and its handshake.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{CipherSuite, ClientConnection, ProtocolVersion};

use crate::message::Failure;
use crate::message::TlsInfo;
use crate::sys;
use crate::wake::Core;

use super::{failure, rustls_failure, tls_failed, truncated, TlsConfig};

/// Size of the ciphertext buffer: one full TLS record (16 KiB of data and
/// its overhead) and some of the next, read with one `read(2)`.
pub(super) const RAW: usize = 18 * 1024;

/// A TLS client connection over the worker's blocking socket.
///
/// Reading: one `read(2)` at most per call into `raw`, fed to rustls as it
/// takes it; decrypted bytes wait in rustls until they are asked for, so
/// [`TlsStream::wants_read`] says when there is something to deliver
/// without waiting for the socket. Writing: plaintext is taken only when
/// every record before it is on the socket, so at most one batch is in
/// rustls's records at a time ([`TlsStream::unflushed`]).
///
/// Acknowledgements: TCP acknowledges ciphertext. Each batch of plaintext
/// taken becomes records that end at a known ciphertext offset once they
/// are all on the socket; [`TlsStream::plain_acked`] maps an acknowledged
/// ciphertext offset back to the plaintext of the batches wholly below it
/// (a FIFO of `(ciphertext end, plaintext end)` per batch). Anything else
/// written between batches (a key update, `close_notify`) only moves the
/// next batch's end later, so the count never overstates.
pub(crate) struct TlsStream {
    conn: ClientConnection,
    sock: TcpStream,
    raw: Box<[u8]>,
    raw_start: usize,
    raw_end: usize,
    /// The socket read returned end of stream.
    sock_eof: bool,
    /// ... and rustls has been told.
    eof_fed: bool,
    /// Plaintext bytes taken whose records are not all written yet.
    unflushed: usize,
    /// TLS bytes written to the socket, all told (the handshake's too:
    /// the same offsets as TCP's acknowledgements).
    written: u64,
    /// Plaintext bytes taken, all told.
    taken: u64,
    /// Batches on the socket and not yet known to be acknowledged:
    /// `(ciphertext end, plaintext end)`, oldest first.
    batches: heapless::Deque<(u64, u64), ACK_BATCHES>,
    /// Plaintext of the batches known to be acknowledged.
    acked: u64,
}

/// Batches whose acknowledgement is tracked one by one: 64 of 16 KiB
/// cover 1 MiB in flight. Beyond that the newest two are merged (the
/// older one then counts as acknowledged only with the newer): a lower
/// bound still.
pub(super) const ACK_BATCHES: usize = 64;

/// As the worker's: the I/O slice ran out (`EAGAIN`) or a signal came.
/// `TimedOut` is the kernel ending the connection (`TCP_USER_TIMEOUT`,
/// keepalive), not a slice.
pub(super) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl TlsStream {
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// What the handshake negotiated.
    pub(crate) fn info(&self) -> TlsInfo {
        let version = match self.conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            Some(v) => v.as_str().unwrap_or("unknown"),
            None => "unknown",
        };
        let cipher = match self.conn.negotiated_cipher_suite().map(|s| s.suite()) {
            // rustls calls the TLS 1.3 suites TLS13_*; IANA, TLS_*.
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256) => "TLS_AES_128_GCM_SHA256",
            Some(CipherSuite::TLS13_AES_256_GCM_SHA384) => "TLS_AES_256_GCM_SHA384",
            Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256) => "TLS_CHACHA20_POLY1305_SHA256",
            Some(s) => s.as_str().unwrap_or("unknown"),
            None => "unknown",
        };
        TlsInfo { version, cipher }
    }

    /// Records are waiting to be written.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Something can be delivered (or an end reported) without waiting for
    /// the socket: decrypted bytes, ciphertext not yet fed, a
    /// `close_notify` or end of stream not yet reported.
    pub(crate) fn wants_read(&self) -> bool {
        self.raw_start < self.raw_end || (self.sock_eof && !self.eof_fed) || !self.conn.wants_read()
    }

    /// Plaintext taken (and counted as sent) whose records are not all on
    /// the socket.
    pub(crate) fn unflushed(&self) -> usize {
        self.unflushed
    }

    /// TLS bytes written so far (progress for the write timeout, and what
    /// TCP's acknowledgements count).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The plaintext bytes whose records lie wholly within the first
    /// `wire_acked` ciphertext bytes written: never more than the server's
    /// TCP acknowledged. Samples only ever raise it.
    pub(crate) fn plain_acked(&mut self, wire_acked: u64) -> u64 {
        while let Some(&(wire_end, plain_end)) = self.batches.front() {
            if wire_end > wire_acked {
                break;
            }
            self.acked = plain_end;
            self.batches.pop_front();
        }
        self.acked
    }

    /// All records of the plaintext taken are on the socket: the batch's
    /// ciphertext end is known.
    fn batch_done(&mut self) {
        self.unflushed = 0;
        let entry = (self.written, self.taken);
        if self.batches.back().is_some_and(|&(_, p)| p == self.taken) {
            return;
        }
        if let Err(entry) = self.batches.push_back(entry) {
            // Full: the newest batch absorbs the one before it.
            self.batches.pop_back();
            let _ = self.batches.push_back(entry);
        }
    }

    fn process(&mut self) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => Ok(()),
            Err(e) => {
                log::debug!("TLS: {e}");
                Err(rustls_failure(&e))
            }
        }
    }

    /// Feeds what `raw` holds (or the end of stream) to rustls; returns
    /// false when there is nothing to feed.
    fn feed(&mut self) -> io::Result<bool> {
        if self.raw_start < self.raw_end {
            let n = self
                .conn
                .read_tls(&mut &self.raw[self.raw_start..self.raw_end])?;
            // rustls takes nothing after the server's close_notify: what
            // follows it is dropped.
            self.raw_start = if n == 0 {
                self.raw_end
            } else {
                self.raw_start + n
            };
            self.process()?;
            return Ok(true);
        }
        if self.sock_eof && !self.eof_fed {
            self.eof_fed = true;
            self.conn.read_tls(&mut io::empty())?;
            self.process()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// One `read(2)` into `raw` (only when it is empty).
    fn read_socket(&mut self) -> io::Result<()> {
        match (&self.sock).read(&mut self.raw) {
            Ok(0) => self.sock_eof = true,
            Ok(n) => {
                self.raw_start = 0;
                self.raw_end = n;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Decrypted bytes into `buf` (not empty): `Ok(0)` after the server's
    /// `close_notify`; `WouldBlock` when a record is not complete yet; a
    /// truncation (end of stream without `close_notify`) is an error.
    /// Reads the socket at most once.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut read_socket = false;
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(truncated()),
                Err(e) => return Err(e),
            }
            if self.feed()? {
                continue;
            }
            if self.sock_eof || read_socket {
                // Fed everything and still nothing: wait for more.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            read_socket = true;
            self.read_socket()?;
        }
    }

    /// One `write(2)` of the waiting records.
    fn flush_once(&mut self) -> io::Result<()> {
        match self.conn.write_tls(&mut &self.sock) {
            Ok(n) => {
                self.written += n as u64;
                if !self.conn.wants_write() && self.unflushed > 0 {
                    self.batch_done();
                }
                Ok(())
            }
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes the records still waiting, then takes plaintext from `buf`
    /// and writes its records. Returns the plaintext bytes taken;
    /// `WouldBlock` when earlier records still do not fit in the socket.
    /// `Ok(0)` for an empty `buf` (only a flush).
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.conn.wants_write() {
            self.flush_once()?;
            if self.conn.wants_write() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.conn.writer().write(buf)?;
        self.took(n)
    }

    /// `n` plaintext bytes became records: one try at writing them.
    fn took(&mut self, n: usize) -> io::Result<usize> {
        if n == 0 {
            return Ok(0);
        }
        self.unflushed = n;
        self.taken += n as u64;
        if let Err(e) = self.flush_once() {
            // The caller keeps these bytes and counts them unsent.
            self.unflushed = 0;
            self.taken -= n as u64;
            return Err(e);
        }
        Ok(n)
    }

    /// `close_notify`, written out (trying for at most `limit`), then the
    /// TCP half-close.
    pub(crate) fn shutdown_write(&mut self, limit: Duration) -> io::Result<()> {
        self.conn.send_close_notify();
        let deadline = Instant::now().checked_add(limit);
        while self.conn.wants_write() {
            self.flush_once()?;
            if self.conn.wants_write() && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "close_notify could not be written: the server is not reading",
                ));
            }
        }
        self.sock.shutdown(Shutdown::Write)
    }

    /// Before the socket closes: a `close_notify` when `notify` (nothing
    /// was lost), and, when `notify` or `flush`, one try at writing what
    /// is queued (that, or the alert rustls queued for an error) if no
    /// accepted byte is in it. Returns the socket.
    pub(crate) fn close(mut self, notify: bool, flush: bool) -> TcpStream {
        if notify {
            self.conn.send_close_notify();
        }
        if (notify || flush) && self.unflushed == 0 && self.conn.wants_write() {
            let _ = self.conn.write_tls(&mut &self.sock);
        }
        self.sock
    }
}

/// The TLS handshake on a connected socket, bounded by `timeout`; the
/// control inbox is looked at throughout (`Shutdown` and `Abort` end it).
/// No byte of application data is written before it completes: the
/// worker takes nothing from the inbox until it returns.
pub(crate) fn handshake(
    tls: &TlsConfig,
    host: &str,
    sock: TcpStream,
    core: &Core,
    timeout: Duration,
) -> Result<TlsStream, Failure> {
    let config = tls.client_config().map_err(|m| {
        let (reason, detail) = m.split_once(": ").unwrap_or(("config", &m));
        let reason = if reason == "no_roots" {
            "no_roots"
        } else {
            "config"
        };
        tls_failed(failure(io::ErrorKind::InvalidInput, reason, detail))
    })?;
    let name = tls.server_name.as_deref().unwrap_or(host).trim();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let name = ServerName::try_from(name.to_owned()).map_err(|_| {
        tls_failed(failure(
            io::ErrorKind::InvalidInput,
            "bad_server_name",
            format!("'{name}' is neither a DNS name nor an IP address"),
        ))
    })?;
    if tls.insecure {
        log::warn!(
            "TLS: NOT verifying the certificate of {name:?} (insecure_skip_verify_for_testing: a test aid)"
        );
    }
    let conn = ClientConnection::new(config, name).map_err(|e| tls_failed(rustls_failure(&e)))?;
    let mut s = TlsStream {
        conn,
        sock,
        raw: vec![0; RAW].into_boxed_slice(),
        raw_start: 0,
        raw_end: 0,
        sock_eof: false,
        eof_fed: false,
        unflushed: 0,
        written: 0,
        taken: 0,
        batches: heapless::Deque::new(),
        acked: 0,
    };
    match drive_handshake(&mut s, core, timeout) {
        Ok(()) => {
            // Our Finished: out now if the socket takes it, else the serve
            // loop writes it first.
            if let Err(e) = s.flush_once() {
                return Err(tls_failed(e));
            }
            let info = s.info();
            log::debug!("TLS: {} {}", info.version, info.cipher);
            if let Some(p) = s.conn.alpn_protocol() {
                log::debug!("TLS: ALPN {}", String::from_utf8_lossy(p));
            }
            Ok(s)
        }
        Err(f) => {
            // The alert rustls queued for the failure, if any: one try.
            if s.conn.wants_write() {
                let _ = s.conn.write_tls(&mut &s.sock);
            }
            Err(f)
        }
    }
}

pub(super) fn drive_handshake(
    s: &mut TlsStream,
    core: &Core,
    timeout: Duration,
) -> Result<(), Failure> {
    let deadline = Instant::now().checked_add(timeout);
    while s.conn.is_handshaking() {
        if let Some(reason) = core.stop_requested() {
            return Err(Failure::Stopped(reason));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(tls_failed(failure(
                io::ErrorKind::TimedOut,
                "timeout",
                format!("the TLS handshake took longer than {timeout:?}"),
            )));
        }
        if s.conn.wants_write() {
            match s.conn.write_tls(&mut &s.sock) {
                Ok(n) => {
                    s.written += n as u64;
                    continue;
                }
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(tls_failed(e)),
            }
        }
        // Fed what we have first: it may complete the handshake.
        match s.feed() {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => return Err(tls_failed(e)),
        }
        if s.sock_eof {
            return Err(tls_failed(failure(
                io::ErrorKind::UnexpectedEof,
                "eof",
                "the server closed the connection during the TLS handshake",
            )));
        }
        // Reading is always wanted until the handshake is done.
        let want_write = s.conn.wants_write();
        let want_read = true;
        let left = deadline.map(|d| d.saturating_duration_since(now));
        let parked = core.park();
        if core.stop_requested().is_some() {
            drop(parked);
            continue;
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&s.sock);
        let ready = parked
            .poll(|wake| sys::poll(fd, want_read, want_write, wake, left))
            .map_err(tls_failed)?;
        if want_read && ready.readable {
            match s.read_socket() {
                Ok(()) => {}
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(tls_failed(e)),
            }
        }
    }
    Ok(())
}
