//! What the server's TCP acknowledged on the current connection: where the
//! count comes from, when to sample it, and the best sample so far.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::transport::Transport;
use crate::sys;

/// During a busy upload, the most bytes written between two samples of
/// what the server acknowledged (when samples are taken while the
/// connection runs: see [`Acks::live`]).
const SAMPLE_BYTES: u64 = 64 * 1024;

/// ... and the longest time between two such samples while writing.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// With reconnect, how often to look again at what the server acknowledged
/// while waiting for it (the kept window is full, or the connection is
/// ending): no event says that an acknowledgement arrived.
pub(super) const ACK_WAIT: Duration = Duration::from_millis(5);

/// Where the count of acknowledged bytes comes from on this connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// `TCP_INFO`'s `tcpi_bytes_acked` (Linux 4.1+, Android): exact at any
    /// time, also after a reset, so one sample at the end is enough.
    TcpInfo,
    /// `sent - SIOCOUTQ`, sampled while the connection runs (QEMU
    /// user-mode, older kernels): the send queue is only the connection's
    /// own in a synchronized state, so the last good sample is kept.
    SendQueue,
    /// Neither: nothing is counted as acknowledged.
    Unknown,
}

/// What the server's TCP acknowledged on the current connection, in data
/// bytes (our SYN and FIN not counted), never more than was written.
#[derive(Clone, Copy, Debug)]
pub(super) struct Acks {
    /// The best sample so far (samples only ever raise it).
    acked: u64,
    source: Source,
    /// Samples are taken while the connection runs (after writes and
    /// before sleeping), not only at its end.
    live: bool,
    /// `sent` and the time at the last sample.
    at_sent: u64,
    at: Instant,
}

impl Acks {
    /// Nothing acknowledged, no source yet (before a connection).
    pub(super) fn none() -> Acks {
        Acks {
            acked: 0,
            source: Source::Unknown,
            live: false,
            at_sent: 0,
            at: Instant::now(),
        }
    }

    /// Finds out how a new connection's acknowledgements can be counted.
    /// `window`: the kept window moves with them while the connection runs
    /// (reconnect with `Delivery::TcpAck`), so samples are taken live.
    pub(super) fn start(transport: &Transport, window: bool) -> Acks {
        let fd = transport.socket().as_raw_fd();
        let source = match sys::tcp_info(fd) {
            Ok(sys::TcpInfo {
                bytes_acked: Some(_),
                ..
            }) => Source::TcpInfo,
            _ if sys::send_queue(fd).is_ok() => Source::SendQueue,
            _ => Source::Unknown,
        };
        let from = match source {
            Source::TcpInfo => "TCP_INFO",
            Source::SendQueue => "the send queue",
            Source::Unknown => "nowhere",
        };
        log::debug!("acknowledged bytes from {from}");
        Acks {
            live: source == Source::SendQueue || window,
            source,
            ..Acks::none()
        }
    }

    /// What is acknowledged now, as of the last sample.
    pub(super) fn acked(&self) -> u64 {
        self.acked
    }

    /// Samples are taken while the connection runs and some of `sent` is
    /// not acknowledged yet: a sample before sleeping keeps the count
    /// good if the connection dies in its sleep.
    pub(super) fn in_flight(&self, sent: u64) -> bool {
        self.live && self.acked < sent
    }

    /// A live sample is due: enough was written, or enough time passed,
    /// since the last.
    pub(super) fn due(&self, sent: u64, now: Instant) -> bool {
        self.live
            && (sent - self.at_sent >= SAMPLE_BYTES
                || now.saturating_duration_since(self.at) >= SAMPLE_EVERY)
    }

    /// Samples what the server has acknowledged of `sent`. A sample that
    /// cannot be trusted (the send queue of a connection that is torn
    /// down) is ignored: the last good one stays. `closed_cleanly`: we sent
    /// our FIN, the server its own, and no error came.
    ///
    /// TCP counts the bytes on the wire; with TLS those are ciphertext,
    /// and [`Transport::plain_acked`] turns them into the plaintext of the
    /// records wholly acknowledged.
    pub(super) fn sample(&mut self, transport: &mut Transport, sent: u64, closed_cleanly: bool) {
        let fd = transport.socket().as_raw_fd();
        let wire = transport.wire_sent(sent);
        self.at_sent = sent;
        self.at = Instant::now();
        match self.source {
            Source::TcpInfo => {
                if let Ok(sys::TcpInfo {
                    bytes_acked: Some(b),
                    ..
                }) = sys::tcp_info(fd)
                {
                    // Sequence space: our SYN counts one (and our FIN one
                    // more, which the clamp to what is on the wire
                    // removes).
                    let plain = transport.plain_acked(b.saturating_sub(1).min(wire));
                    self.raise(plain, sent);
                }
            }
            Source::SendQueue => {
                // The queue first, then the state: a state still
                // synchronized after the read means no reset came before
                // it.
                let Ok(queued) = sys::send_queue(fd) else {
                    return;
                };
                let Ok(info) = sys::tcp_info(fd) else {
                    return;
                };
                if sys::tcp_state_synchronized(info.state) {
                    let plain = transport.plain_acked(wire.saturating_sub(queued));
                    self.raise(plain, sent);
                } else if info.state == sys::TCP_STATE_CLOSE && closed_cleanly {
                    // Closed both ways without an error after our FIN: the
                    // kernel leaves FIN_WAIT or LAST_ACK only once the
                    // server acknowledged our FIN, so all that came before.
                    let plain = transport.plain_acked(wire);
                    self.raise(plain, sent);
                }
            }
            Source::Unknown => {}
        }
    }

    /// Samples only ever raise the count, and never above what was sent.
    fn raise(&mut self, acked: u64, sent: u64) {
        self.acked = self.acked.max(acked.min(sent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    #[test]
    fn samples_only_raise_and_never_pass_sent() {
        let mut a = Acks::none();
        a.raise(100, 50);
        assert_eq!(a.acked(), 50);
        a.raise(10, 200);
        assert_eq!(a.acked(), 50, "an older, smaller sample changes nothing");
        a.raise(150, 200);
        assert_eq!(a.acked(), 150);
    }

    #[test]
    fn a_connection_without_live_samples_is_never_due() {
        let a = Acks::none();
        assert!(!a.due(u64::MAX, Instant::now() + Duration::from_secs(1)));
        assert!(!a.in_flight(1));
    }

    #[test]
    fn live_samples_fall_due_by_bytes_or_time() {
        let mut a = Acks::none();
        a.live = true;
        let now = a.at;
        assert!(!a.due(SAMPLE_BYTES - 1, now));
        assert!(a.due(SAMPLE_BYTES, now));
        assert!(a.due(0, now + SAMPLE_EVERY));
        assert!(a.in_flight(1));
    }

    /// Over loopback, what was written is acknowledged within a bounded
    /// time, whichever source this kernel (or QEMU) offers; never more.
    #[test]
    fn loopback_writes_are_acknowledged() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        (&stream).write_all(&[7u8; 4096]).unwrap();
        let mut t = Transport::Plain(stream);
        let mut a = Acks::start(&t, false);
        // Linux has one or the other (QEMU user-mode: the send queue).
        assert_ne!(a.source, Source::Unknown);
        let deadline = Instant::now() + Duration::from_secs(5);
        while a.acked() < 4096 && Instant::now() < deadline {
            a.sample(&mut t, 4096, false);
            std::thread::yield_now();
        }
        assert_eq!(a.acked(), 4096);
        a.sample(&mut t, 4096, false);
        assert_eq!(a.acked(), 4096, "never more than was sent");
    }
}
