//! What the serve steps read from and write to: the socket itself, or TLS
//! over it (the `tls` feature); and the step between connect and serve
//! that makes one (socket options, then the handshake if there is one).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::config::Config;
use crate::databox::WorkerOutbox;
#[cfg(feature = "tls")]
use crate::message::TlsInfo;
use crate::message::{Failure, Phase};
use crate::sys;
use crate::wake::Core;

/// Longest a single blocking read or write may block: how late control can
/// be seen while the worker is inside a write to a server that does not
/// read.
const IO_SLICE: Duration = Duration::from_millis(20);

/// The most plaintext one TLS write takes: one full record (16 KiB of
/// plaintext).
#[cfg(feature = "tls")]
const TLS_BATCH: usize = 16 * 1024;

/// What the serve steps read from and write to: the socket itself, or TLS
/// over it (the `tls` feature). Plain calls go straight to the socket;
/// TLS keeps buffers of its own, which `wants_read` and `wants_write`
/// expose to the poll interest. Socket-level work (options, samples of
/// what was acknowledged, poll) goes through [`Transport::socket`].
pub(super) enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::TlsStream>),
}

/// What one read step put in the outbox ([`Transport::read_burst`]).
pub(super) struct Burst {
    /// Bytes read.
    pub total: usize,
    /// The last read filled what it was given (a plain socket): more is
    /// likely there, and the next read is tried before asking `poll`.
    pub readable: bool,
    /// `Ok(true)`: the server's end of stream; `Err`: the read failed (not
    /// for a transient error, which only ends the step).
    pub end: io::Result<bool>,
}

impl Transport {
    pub(super) fn socket(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.socket(),
        }
    }

    /// Bytes for the outbox; `Ok(0)` is the server's end of stream (with
    /// TLS: its `close_notify`).
    pub(super) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => (&*s).read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read(buf),
        }
    }

    /// Like `read`, without blocking, for a read that follows a full one
    /// without a `poll` first (`WouldBlock`: nothing there). TLS reads
    /// only after `poll`, so this is the plain socket's.
    pub(super) fn read_now(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self {
            Transport::Plain(s) => Some(sys::recv_now(s.as_raw_fd(), buf)),
            #[cfg(feature = "tls")]
            Transport::Tls(_) => None,
        }
    }

    /// Reads into the outbox, straight into its ring, no more than it has
    /// room for: once (after `poll` said the socket is readable, or TLS has
    /// input buffered: `polled`), then again without a `poll` while each
    /// read fills what it was given (plain sockets, never blocking), up to
    /// `max` bytes. A receiving thread that sleeps is woken once a quarter
    /// of the outbox is queued. `readable` is what the last step said.
    pub(super) fn read_burst(
        &mut self,
        outbox: &mut WorkerOutbox,
        polled: bool,
        mut readable: bool,
        max: usize,
    ) -> Burst {
        let mut total = 0usize;
        let mut first = polled;
        let end = loop {
            if outbox.room() == 0 {
                break Ok(false);
            }
            let mut asked = 0;
            let got = outbox.read_with(usize::MAX, |buf| {
                asked = buf.len();
                if first {
                    self.read(buf)
                } else {
                    self.read_now(buf)
                        .unwrap_or(Err(io::ErrorKind::WouldBlock.into()))
                }
            });
            first = false;
            match got {
                Ok(0) => {
                    readable = false;
                    break Ok(true);
                }
                Ok(n) => {
                    total += n;
                    // Only a plain socket is read again without a poll.
                    readable = n == asked && !self.is_tls();
                    if !readable || total >= max {
                        break Ok(false);
                    }
                    outbox.wake_reader(false);
                }
                Err(e) => {
                    readable = false;
                    break if is_transient(&e) { Ok(false) } else { Err(e) };
                }
            }
        };
        Burst {
            total,
            readable,
            end,
        }
    }

    /// Writes from `buf`; returns how many bytes of it were taken.
    pub(super) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => (&*s).write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write(&buf[..buf.len().min(TLS_BATCH)]),
        }
    }

    /// The half-close (with TLS, `close_notify` first, trying to write it
    /// for at most `limit`).
    pub(super) fn shutdown_write(&mut self, limit: Duration) -> io::Result<()> {
        match self {
            Transport::Plain(s) => {
                let _ = limit;
                s.shutdown(Shutdown::Write)
            }
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.shutdown_write(limit),
        }
    }

    /// Input is waiting that needs no socket read to deliver.
    pub(super) fn wants_read(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.wants_read(),
        }
    }

    /// Output is waiting that was taken already (TLS records).
    pub(super) fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.wants_write(),
        }
    }

    /// Bytes taken by the last `write` (and counted as sent) that are not
    /// on the socket yet: at the end they count as unsent.
    pub(super) fn unflushed(&self) -> usize {
        match self {
            Transport::Plain(_) => 0,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.unflushed(),
        }
    }

    /// A count that grows whenever bytes reach the socket without new ones
    /// being taken (TLS records written in pieces): progress for the write
    /// timeout.
    pub(super) fn progress(&self) -> u64 {
        match self {
            Transport::Plain(_) => 0,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.written(),
        }
    }

    /// The most bytes one `write` takes.
    pub(super) fn max_write(&self) -> usize {
        match self {
            Transport::Plain(_) => usize::MAX,
            #[cfg(feature = "tls")]
            Transport::Tls(_) => TLS_BATCH,
        }
    }

    /// The bytes on the wire for `sent` bytes taken: what TCP's
    /// acknowledgements count (with TLS, every TLS byte written).
    pub(super) fn wire_sent(&self, sent: u64) -> u64 {
        match self {
            Transport::Plain(_) => sent,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.written(),
        }
    }

    /// The bytes taken that the first `wire_acked` bytes on the wire
    /// wholly carry (with TLS, the plaintext of the records wholly
    /// acknowledged: a lower bound, never above the truth).
    pub(super) fn plain_acked(&mut self, wire_acked: u64) -> u64 {
        match self {
            Transport::Plain(_) => wire_acked,
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.plain_acked(wire_acked),
        }
    }

    pub(super) fn is_tls(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(_) => true,
        }
    }

    #[cfg(feature = "tls")]
    pub(super) fn tls_info(&self) -> Option<TlsInfo> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(t) => Some(t.info()),
        }
    }

    /// The socket, to close. `clean`: nothing accepted was lost, so a TLS
    /// connection may say `close_notify`. `flush`: what is queued may be
    /// written (an alert for an error), unless it carries accepted bytes.
    pub(super) fn close(self, clean: bool, flush: bool) -> TcpStream {
        match self {
            Transport::Plain(s) => {
                let _ = (clean, flush);
                s
            }
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.close(clean, flush),
        }
    }
}

impl Transport {
    /// The step between connect and serve, once per connection: the socket
    /// options, then the transport the connection speaks, after its
    /// handshake if it has one (a new one on every connection with
    /// reconnect). `send_buffer`: with reconnect, the send buffer that
    /// keeps what is in flight within the kept window.
    pub(super) fn start(
        config: &Config,
        stream: TcpStream,
        core: &Core,
        send_buffer: Option<usize>,
    ) -> Result<Transport, Failure> {
        options(config, &stream, send_buffer);
        #[cfg(feature = "tls")]
        if let Some(tls) = &config.tls {
            let t = crate::tls::handshake(tls, &config.host, stream, core, config.connect_timeout)?;
            return Ok(Transport::Tls(Box::new(t)));
        }
        let _ = core;
        Ok(Transport::Plain(stream))
    }

    /// Closes the socket (see [`Transport::close`] for `clean` and
    /// `flush`); for an abort, with `SO_LINGER` 0 so the server sees a
    /// reset.
    pub(super) fn end(self, clean: bool, flush: bool, abort: bool) {
        let stream = self.close(clean, flush);
        if abort {
            if let Err(e) = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)) {
                log::warn!("could not set SO_LINGER 0 for abort: {e}");
            }
        }
    }
}

/// Socket options. An option the platform (or QEMU user-mode) does not
/// support is a warning, not a failure.
fn options(config: &Config, stream: &TcpStream, send_buffer: Option<usize>) {
    let warn = |what: &str, r: io::Result<()>| {
        if let Err(e) = r {
            log::warn!("could not set {what}: {e}");
        }
    };
    warn("TCP_NODELAY", stream.set_nodelay(config.nodelay));
    warn("SO_SNDTIMEO", stream.set_write_timeout(Some(IO_SLICE)));
    warn("SO_RCVTIMEO", stream.set_read_timeout(Some(IO_SLICE)));
    let sock = socket2::SockRef::from(stream);
    if let Some(k) = config.keepalive {
        let mut ka = socket2::TcpKeepalive::new().with_time(k.idle);
        if let Some(interval) = k.interval {
            ka = ka.with_interval(interval);
        }
        if let Some(count) = k.count {
            ka = ka.with_retries(count);
        }
        warn("SO_KEEPALIVE", sock.set_tcp_keepalive(&ka));
    }
    if let Some(t) = config.user_timeout {
        warn("TCP_USER_TIMEOUT", sock.set_tcp_user_timeout(Some(t)));
    }
    if let Some(size) = send_buffer {
        // The kept window bounds what is in flight; a send buffer that
        // holds less makes the socket, not a timer, say when the server
        // acknowledged more (POLLOUT). Linux doubles the value.
        warn("SO_SNDBUF", sock.set_send_buffer_size(size / 2));
    }
}

/// The phase of an error from the transport: `Tls` for a failure of TLS
/// itself, `default` for the socket's own.
pub(super) fn phase_of(e: &io::Error, default: Phase) -> Phase {
    #[cfg(feature = "tls")]
    if crate::tls::is_tls_failure(e) {
        return Phase::Tls;
    }
    let _ = e;
    default
}

/// Errors that mean "no progress this time", not a failed connection: the
/// I/O slice ran out (`SO_SNDTIMEO`/`SO_RCVTIMEO` end a call with EAGAIN
/// on Linux and Android), or a signal interrupted the call. `TimedOut`
/// (ETIMEDOUT) is not one: it is the kernel ending the connection, after
/// `TCP_USER_TIMEOUT`, unanswered keepalive probes or retransmissions.
pub(super) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}
