//! [`Client`]: the running component, and the four boxes it gives the
//! application: [`Inbox`], [`ControlInbox`], [`Outbox`], [`SignalOutbox`].

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use std::{fmt, io};

use crate::config::Config;
use crate::databox::Boxes;
use crate::databox::{self, AppInbox, AppOutbox, RecvFail, SendFail};
use crate::mailbox::{
    Mailbox, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::message::{
    Chunk, Control, Error, Phase, Reason, ShutdownReport, Signal, DEFAULT_CHUNK, DEFAULT_INBOX,
    DEFAULT_OUTBOX,
};
use crate::wake::{Core, SIGNAL_CAPACITY};
use crate::worker;

/// A deadline that has already passed: a receive that does not wait.
fn past() -> Option<Instant> {
    Some(Instant::now())
}

fn recv_timeout_error(e: RecvFail) -> RecvTimeoutError {
    match e {
        RecvFail::Empty => RecvTimeoutError::Timeout,
        RecvFail::Closed => RecvTimeoutError::Closed,
    }
}

/// A running connection: Kamaelia's `ThreadedTCPClient`. Made by
/// [`Config::spawn`]; one worker thread owns the socket.
///
/// `C` is the chunk size in bytes: the largest send the inbox takes whole
/// and the most one [`Outbox::recv`] returns. The inbox holds `I * C`
/// bytes and the outbox `O * C` (each rounded up to a power of two): byte
/// rings, so small sends fill the inbox by their bytes, not by their
/// count. The defaults are 64 KiB each way.
///
/// Dropping the `Client` without [`join`](Client::join) sends
/// [`Control::Shutdown`]: the worker stops, closes the socket and ends on
/// its own (the drop does not wait for it).
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use ttc::{Chunk, Config, Control, Reason, Signal};
///
/// // A one-shot upper-casing echo server on loopback.
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = listener.local_addr().unwrap().port();
/// std::thread::spawn(move || {
///     let (mut s, _) = listener.accept().unwrap();
///     let mut buf = [0u8; 64];
///     loop {
///         let n = s.read(&mut buf).unwrap();
///         if n == 0 { break }
///         s.write_all(&buf[..n].to_ascii_uppercase()).unwrap();
///     }
/// });
///
/// let client = Config::new("127.0.0.1", port).spawn().unwrap();
/// let t = Duration::from_secs(10);
/// assert!(matches!(client.signal().recv_timeout(t), Ok(Signal::Connected(_))));
///
/// client.inbox().try_send(Chunk::from_slice(b"hello").unwrap()).unwrap();
/// let reply = client.outbox().recv_timeout(t).unwrap();
/// assert_eq!(&reply[..], b"HELLO");
///
/// client.control().send(Control::ProducerFinished);
/// let report = client.join();
/// assert_eq!(report.reason, Reason::Finished);
/// assert_eq!((report.sent, report.received, report.unsent), (5, 5, 0));
/// ```
pub struct Client<const C: usize = 1024, const I: usize = 64, const O: usize = 64> {
    inbox: Inbox<C, I>,
    outbox: Outbox<C, O>,
    control: ControlInbox,
    signal: SignalOutbox,
    thread: Option<JoinHandle<()>>,
}

/// Starting a component: with the client, so the configuration does not
/// import what it configures.
impl Config {
    /// Starts the worker with the default chunk size (1 KiB) and box
    /// capacities (64 chunks, 64 KiB, each way). Returns at once; the connection
    /// happens on the worker and is reported on the signal outbox.
    ///
    /// Fails only if the worker cannot be started (no thread or no file
    /// descriptor left); the error's phase is [`Phase::Spawn`](crate::Phase).
    pub fn spawn(self) -> Result<Client, Error> {
        self.spawn_sized::<DEFAULT_CHUNK, DEFAULT_INBOX, DEFAULT_OUTBOX>()
    }

    /// Starts the worker with chunk size `C` bytes, an inbox of `I` chunks
    /// and an outbox of `O` chunks: byte rings of `I * C` and `O * C`
    /// bytes (rounded up to a power of two; with reconnect the inbox also
    /// has room for each send's 4-byte length), allocated here, their
    /// pages touched only as they are used.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = listener.local_addr().unwrap().port();
    /// let client = ttc::Config::new("127.0.0.1", port)
    ///     .spawn_sized::<256, 4, 8>()
    ///     .unwrap();
    /// assert_eq!(client.inbox().capacity(), 4 * 256);
    /// assert_eq!(client.outbox().capacity(), 8 * 256);
    /// client.control().send(ttc::Control::Shutdown);
    /// assert_eq!(client.join().reason, ttc::Reason::Shutdown);
    /// ```
    pub fn spawn_sized<const C: usize, const I: usize, const O: usize>(
        self,
    ) -> Result<Client<C, I, O>, Error> {
        Client::spawn(self)
    }
}

impl<const C: usize, const I: usize, const O: usize> fmt::Debug for Client<C, I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("chunk", &C)
            .field("inbox", &self.inbox.app)
            .field("outbox", &self.outbox.app)
            .finish()
    }
}

impl<const C: usize, const I: usize, const O: usize> Client<C, I, O> {
    pub(crate) fn spawn(config: Config) -> Result<Self, Error> {
        const {
            assert!(
                C > 0 && I > 0 && O > 0,
                "chunk size and capacities must be non-zero"
            )
        };
        let spawn_err = |e: io::Error| Error::from_io(Phase::Spawn, &e);
        // std would panic on this; a caller's bad name is an error here.
        if config.thread_name.contains('\0') {
            return Err(spawn_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "thread name contains a NUL byte",
            )));
        }
        let core = Arc::new(Core::new(config.recv_spin).map_err(spawn_err)?);
        // With reconnect the inbox keeps where each send starts, for the
        // kept window.
        let framed = config.reconnect.is_some();
        // Room for `I` sends of `C` bytes, with their lengths if kept.
        let send_room = if framed { C + databox::FRAME_HEADER } else { C };
        let (app_in, worker_in, app_out, worker_out) =
            databox::new(I.saturating_mul(send_room), C, framed, O.saturating_mul(C))
                .map_err(spawn_err)?;
        let boxes = Boxes::new(core.clone(), Arc::new(app_in), Arc::new(app_out));
        let inbox = Inbox {
            app: boxes.inbox.clone(),
            core: core.clone(),
        };
        let outbox = Outbox {
            app: boxes.outbox.clone(),
            core: core.clone(),
        };
        let control = ControlInbox { core: core.clone() };
        let signal = SignalOutbox {
            mailbox: boxes.signal.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(config.thread_name.clone())
            .stack_size(config.stack_size)
            .spawn(move || worker::run::<C, I, O>(config, boxes, worker_in, worker_out))
            .map_err(spawn_err)?;
        Ok(Client {
            inbox,
            outbox,
            control,
            signal,
            thread: Some(thread),
        })
    }

    /// The inbox: bytes to send to the server.
    pub fn inbox(&self) -> &Inbox<C, I> {
        &self.inbox
    }

    /// The outbox: bytes the server sent.
    pub fn outbox(&self) -> &Outbox<C, O> {
        &self.outbox
    }

    /// The control inbox: [`Control`] messages.
    pub fn control(&self) -> &ControlInbox {
        &self.control
    }

    /// The signal outbox: [`Signal`] messages.
    pub fn signal(&self) -> &SignalOutbox {
        &self.signal
    }

    /// Waits for the worker to end and returns its final report (the same
    /// as the `SocketShutdown` signal). Send a control message first, or
    /// wait for the server to close: `join` itself does not stop anything.
    pub fn join(mut self) -> ShutdownReport {
        if let Some(t) = self.thread.take() {
            // The worker never panics on what a peer or caller sends; if it
            // did anyway, its guard has still recorded a final report.
            let _ = t.join();
        }
        self.control.core.take_final().unwrap_or_else(|| {
            let mut r = ShutdownReport::new(Reason::Error);
            r.error = Some(Error::new(
                Phase::Shutdown,
                io::ErrorKind::Other,
                "worker ended without a report",
            ));
            r
        })
    }

    /// True once the worker thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }
}

impl<const C: usize, const I: usize, const O: usize> Drop for Client<C, I, O> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.control.send(Control::Shutdown);
        }
    }
}

/// The inbox: chunks queued here are written to the socket, in order.
/// Clone it to send from several threads.
///
/// Data may be queued as soon as the client is spawned: what is queued
/// before [`Signal::Connected`] is kept and written once the connection is
/// up, after the initial message ([`Config::initial_message`]). If the
/// connection never comes up, it is counted as `unsent` in the final
/// report.
///
/// The inbox and the outbox are bounded, so a program that sends a lot to
/// a server that answers (an echo, a request-reply protocol) must read the
/// outbox while it sends: one thread that only sends fills the outbox,
/// the worker stops reading, the server stops writing and then stops
/// reading, and the send times out. Read on one thread, send on another:
///
/// ```
/// use std::io::Read;
/// use std::time::Duration;
/// use ttc::peers::{spawn_server, Peer};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = spawn_server(listener, Peer::Echo, |_, _| {}).unwrap();
/// let client = ttc::Config::new("127.0.0.1", addr.port()).spawn().unwrap();
///
/// // The reader: everything the server sends, to the end of the connection.
/// let mut outbox = client.outbox().clone();
/// let reader = std::thread::spawn(move || {
///     let mut echoed = Vec::new();
///     outbox.read_to_end(&mut echoed).map(|_| echoed)
/// });
/// // The sender: far more than the boxes and socket buffers hold.
/// let data = vec![42u8; 4 << 20];
/// client.inbox().send_slice(&data, Duration::from_secs(30)).unwrap();
/// client.control().send(ttc::Control::ProducerFinished);
///
/// assert!(reader.join().unwrap().unwrap() == data);
/// assert_eq!(client.join().reason, ttc::Reason::Finished);
/// ```
pub struct Inbox<const C: usize = 1024, const N: usize = 64> {
    app: Arc<AppInbox>,
    core: Arc<Core>,
}

impl<const C: usize, const N: usize> Clone for Inbox<C, N> {
    fn clone(&self) -> Self {
        Inbox {
            app: self.app.clone(),
            core: self.core.clone(),
        }
    }
}

impl<const C: usize, const N: usize> fmt::Debug for Inbox<C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.app.fmt(f)
    }
}

/// [`Inbox::read_from`] found the inbox closed (the connection ended or is
/// ending).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadFromError {
    /// Bytes the read took from the input that the inbox did not take (it
    /// closed while the read waited): they are neither sent nor unsent.
    pub dropped: usize,
}

impl fmt::Display for ReadFromError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "inbox closed; {} bytes read from the input were not taken",
            self.dropped
        )
    }
}

impl std::error::Error for ReadFromError {}

/// Why [`Inbox::send_slice`] stopped before the end of the slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendSliceFailure {
    /// The inbox is closed: the connection ended or is ending.
    Closed,
    /// The inbox stayed full until the timeout.
    TimedOut,
}

/// [`Inbox::send_slice`] stopped before the end of the slice. The first
/// `accepted` bytes were queued and will be written (or counted as unsent);
/// the rest were not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendSliceError {
    /// How many bytes from the start of the slice were queued.
    pub accepted: usize,
    /// Why the rest was not taken.
    pub reason: SendSliceFailure,
}

impl fmt::Display for SendSliceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            SendSliceFailure::Closed => "inbox closed",
            SendSliceFailure::TimedOut => "timed out waiting for room in the inbox",
        };
        write!(f, "{why} after {} bytes were accepted", self.accepted)
    }
}

impl std::error::Error for SendSliceError {}

impl<const C: usize, const N: usize> Inbox<C, N> {
    /// Queues `chunk` if there is room for all of it, never waiting. When
    /// the inbox is full or closed, the chunk comes back in the error.
    pub fn try_send(&self, chunk: Chunk<C>) -> Result<(), TrySendError<Chunk<C>>> {
        match self.app.try_send(&self.core, &chunk) {
            Ok(()) => Ok(()),
            Err(SendFail::Full) => Err(TrySendError::Full(chunk)),
            Err(SendFail::Closed) => Err(TrySendError::Closed(chunk)),
        }
    }

    /// Queues `chunk`, waiting up to `timeout` for room for all of it.
    pub fn send_timeout(
        &self,
        chunk: Chunk<C>,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<Chunk<C>>> {
        let deadline = Instant::now().checked_add(timeout);
        match self.app.send_until(&self.core, &chunk, deadline) {
            Ok(()) => Ok(()),
            Err(SendFail::Full) => Err(SendTimeoutError::Timeout(chunk)),
            Err(SendFail::Closed) => Err(SendTimeoutError::Closed(chunk)),
        }
    }

    /// Queues `chunk`, waiting for room as long as it takes; fails (handing
    /// it back) only when the inbox is closed.
    pub fn send(&self, chunk: Chunk<C>) -> Result<(), SendError<Chunk<C>>> {
        match self.app.send_until(&self.core, &chunk, None) {
            Ok(()) => Ok(()),
            Err(_) => Err(SendError(chunk)),
        }
    }

    /// Queues all of `data`, waiting for room as needed: as one byte
    /// stream, or with reconnect as sends of at most `C` bytes each (the
    /// kept window sends again from the first one not wholly delivered).
    /// `timeout` covers the whole slice, not each piece: the call returns
    /// within about `timeout` however long the slice (`Duration::MAX`: as
    /// long as it takes). On failure it says how many bytes were queued,
    /// so the caller knows exactly what was not taken; those are written
    /// or counted as unsent like any others.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # let client = ttc::Config::new("127.0.0.1", 9).spawn().unwrap();
    /// let data = vec![7u8; 10_000];
    /// match client.inbox().send_slice(&data, Duration::from_secs(5)) {
    ///     Ok(()) => {}
    ///     Err(e) => eprintln!("only {} of {} bytes queued: {e}", e.accepted, data.len()),
    /// }
    /// ```
    pub fn send_slice(&self, data: &[u8], timeout: Duration) -> Result<(), SendSliceError> {
        let deadline = Instant::now().checked_add(timeout);
        self.app
            .send_slice_until(&self.core, data, C, deadline)
            .map_err(|(accepted, why)| SendSliceError {
                accepted,
                reason: match why {
                    SendFail::Closed => SendSliceFailure::Closed,
                    SendFail::Full => SendSliceFailure::TimedOut,
                },
            })
    }

    /// Reads from `input` straight into the inbox (no buffer in between:
    /// one `read` into the inbox's free space, at most `max` bytes), after
    /// waiting for room, and queues what it read. Returns `Ok(Ok(n))` with
    /// the bytes read and queued (`0`: the input's end), `Ok(Err(e))` with
    /// the input's error (nothing queued), or `Err` once the inbox is
    /// closed: if the inbox closed while the read waited for input, the
    /// error says how many bytes it returned that were not taken, so none
    /// is lost unseen. With reconnect it reads at most `C` bytes, one send.
    ///
    /// ```no_run
    /// # let client = ttc::Config::new("127.0.0.1", 9).spawn().unwrap();
    /// // Everything from stdin to the server, without a copy in between.
    /// let mut stdin = std::io::stdin();
    /// while let Ok(read) = client.inbox().read_from(&mut stdin, usize::MAX) {
    ///     if read.unwrap() == 0 {
    ///         break;
    ///     }
    /// }
    /// client.control().send(ttc::Control::ProducerFinished);
    /// ```
    pub fn read_from(
        &self,
        input: &mut dyn io::Read,
        max: usize,
    ) -> Result<io::Result<usize>, ReadFromError> {
        self.app
            .read_from(&self.core, input, max, C)
            .map_err(|dropped| ReadFromError { dropped })
    }

    /// With [`Delivery::Confirmed`](crate::Delivery) and reconnect: the
    /// application's own protocol says the server has the first `bytes`
    /// bytes this inbox accepted (counted from the first chunk ever, across
    /// connections; a receipt, MQTT's PUBACK...). The kept window then
    /// lets go of the chunks wholly within them, and after a reconnect the
    /// worker sends again from the first chunk not wholly confirmed. A
    /// count below an earlier one changes nothing; one beyond what was
    /// written counts only what was written. Never blocks.
    ///
    /// Without `Delivery::Confirmed` it has no effect.
    pub fn confirm(&self, bytes: u64) {
        self.core.confirm(bytes);
    }

    /// Capacity in bytes (`N * C` rounded up to a power of two; with
    /// reconnect `N * (C + 4)`, as each send also takes 4 bytes of it for
    /// its length).
    pub fn capacity(&self) -> usize {
        self.app.ring().capacity()
    }

    /// Bytes queued and not yet taken by the worker.
    pub fn len(&self) -> usize {
        self.app.ring().len()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the inbox takes nothing more (after `ProducerFinished`,
    /// `Shutdown`, `Abort`, the server closing, or an error).
    pub fn is_closed(&self) -> bool {
        self.app.ring().is_closed()
    }
}

/// The outbox: the bytes the server sent, in order, as chunks of at most
/// `C` bytes (a chunk is what was queued when it was taken, so its
/// boundaries are not the server's writes). Clone it to receive on another
/// thread. It closes when the
/// connection ends; what is queued can still be received after that.
///
/// `&Outbox` (and `Outbox`) is also an [`io::Read`](std::io::Read) byte
/// stream that ends when the connection has ended and everything was
/// received, so the std adapters work on it, line by line for example:
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let port = listener.local_addr().unwrap().port();
/// std::thread::spawn(move || {
///     let (mut s, _) = listener.accept().unwrap();
///     s.write_all(b"220 ready\r\n250 ok\r\n").unwrap();
/// });
/// let client = ttc::Config::new("127.0.0.1", port).spawn().unwrap();
/// let lines: Vec<String> = BufReader::new(client.outbox())
///     .lines()
///     .map(|l| l.unwrap())
///     .collect();
/// assert_eq!(lines, ["220 ready", "250 ok"]);
/// ```
///
/// To send much while reading, see the pipelining example on [`Inbox`].
pub struct Outbox<const C: usize = 1024, const N: usize = 64> {
    app: Arc<AppOutbox>,
    core: Arc<Core>,
}

impl<const C: usize, const N: usize> Clone for Outbox<C, N> {
    fn clone(&self) -> Self {
        Outbox {
            app: self.app.clone(),
            core: self.core.clone(),
        }
    }
}

impl<const C: usize, const N: usize> fmt::Debug for Outbox<C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.app.fmt(f)
    }
}

impl<const C: usize, const N: usize> Outbox<C, N> {
    fn recv_until(&self, deadline: Option<Instant>) -> Result<Chunk<C>, RecvTimeoutError> {
        self.app
            .recv_chunk::<C>(&self.core, deadline)
            .map_err(recv_timeout_error)
    }

    /// Waits for the next chunk: what is queued, up to `C` bytes. `Err`
    /// once the connection has ended and everything was received.
    pub fn recv(&self) -> Result<Chunk<C>, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Waits up to `timeout` for the next chunk.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Chunk<C>, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Takes the next chunk if there is one, never waiting.
    pub fn try_recv(&self) -> Result<Chunk<C>, TryRecvError> {
        self.app
            .recv_chunk::<C>(&self.core, past())
            .map_err(|e| match e {
                RecvFail::Empty => TryRecvError::Empty,
                RecvFail::Closed => TryRecvError::Closed,
            })
    }

    /// Waits for data, then copies as much of what is queued as fits into
    /// `buf` (one memcpy, two where the ring wraps): the way to stream the
    /// outbox with one copy of each byte. Returns how many bytes were
    /// copied (at least one unless `buf` is empty); `Err` once the
    /// connection has ended and everything was received. `&Outbox` is
    /// also an [`io::Read`](std::io::Read) that does this.
    ///
    /// ```
    /// # use std::io::Write;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = listener.local_addr().unwrap().port();
    /// std::thread::spawn(move || {
    ///     let (mut s, _) = listener.accept().unwrap();
    ///     s.write_all(&[7u8; 5000]).unwrap();
    /// });
    /// let client = ttc::Config::new("127.0.0.1", port).spawn().unwrap();
    /// let mut buf = [0u8; 4096];
    /// let mut total = 0;
    /// while let Ok(n) = client.outbox().recv_into(&mut buf) {
    ///     assert!(buf[..n].iter().all(|&b| b == 7));
    ///     total += n;
    /// }
    /// assert_eq!(total, 5000);
    /// ```
    pub fn recv_into(&self, buf: &mut [u8]) -> Result<usize, RecvError> {
        self.app
            .recv_into(&self.core, buf, None)
            .map_err(|_| RecvError)
    }

    /// [`recv_into`](Self::recv_into), waiting at most `timeout` for data.
    pub fn recv_into_timeout(
        &self,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<usize, RecvTimeoutError> {
        self.app
            .recv_into(&self.core, buf, Instant::now().checked_add(timeout))
            .map_err(recv_timeout_error)
    }

    /// Waits for data, then writes what is queued to `out` straight from
    /// the outbox (no copy in between: one `write` per contiguous part),
    /// and returns how many bytes `out` took. `Ok(Err(e))` is `out`'s
    /// error (nothing was taken); `Err` once the connection has ended and
    /// everything was received. The way to copy the server's bytes to a
    /// file or a pipe:
    ///
    /// ```
    /// # use std::io::Write;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let port = listener.local_addr().unwrap().port();
    /// std::thread::spawn(move || {
    ///     let (mut s, _) = listener.accept().unwrap();
    ///     s.write_all(b"to a file").unwrap();
    /// });
    /// let client = ttc::Config::new("127.0.0.1", port).spawn().unwrap();
    /// let mut file = Vec::new(); // any io::Write
    /// while let Ok(written) = client.outbox().write_to(&mut file) {
    ///     written.unwrap();
    /// }
    /// assert_eq!(file, b"to a file");
    /// ```
    pub fn write_to(&self, out: &mut dyn io::Write) -> Result<io::Result<usize>, RecvError> {
        self.app
            .write_to(&self.core, out, None)
            .map_err(|_| RecvError)
    }

    /// Iterates over the chunks as they arrive, ending when the connection
    /// has ended and everything was received.
    pub fn iter(&self) -> impl Iterator<Item = Chunk<C>> + '_ {
        core::iter::from_fn(move || self.recv().ok())
    }

    /// Capacity in bytes (`N * C` rounded up to a power of two).
    pub fn capacity(&self) -> usize {
        self.app.ring().capacity()
    }

    /// Bytes waiting to be received.
    pub fn len(&self) -> usize {
        self.app.ring().len()
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads the outbox as a byte stream: [`Outbox::recv_into`], with the end
/// of the connection (everything received) as end of file.
///
/// ```no_run
/// # let client = ttc::Config::new("127.0.0.1", 7).spawn().unwrap();
/// // Copy everything the server sends to stdout.
/// std::io::copy(&mut client.outbox(), &mut std::io::stdout()).unwrap();
/// ```
impl<const C: usize, const N: usize> io::Read for &Outbox<C, N> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.recv_into(buf).unwrap_or(0))
    }
}

/// As for `&Outbox`.
impl<const C: usize, const N: usize> io::Read for Outbox<C, N> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

/// The control inbox. Sending never blocks and never fails; a message sent
/// after the connection ended has no effect. Clone it to stop the client
/// from elsewhere (a signal handler thread, say).
#[derive(Clone)]
pub struct ControlInbox {
    core: Arc<Core>,
}

impl fmt::Debug for ControlInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlInbox")
            .field("pending", &self.core.control())
            .finish()
    }
}

impl ControlInbox {
    /// Delivers `msg` to the worker and wakes it.
    pub fn send(&self, msg: Control) {
        self.core.send_control(msg);
    }
}

/// The signal outbox: [`Signal`]s in order, ending with exactly one
/// `SocketShutdown`. Clone it to watch from another thread.
#[derive(Clone)]
pub struct SignalOutbox {
    mailbox: Arc<Mailbox<Signal, SIGNAL_CAPACITY>>,
}

impl fmt::Debug for SignalOutbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.mailbox.fmt(f)
    }
}

impl SignalOutbox {
    /// Waits for the next signal; `Err` after the final one was received.
    pub fn recv(&self) -> Result<Signal, RecvError> {
        self.mailbox.recv()
    }

    /// Waits up to `timeout` for the next signal.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Signal, RecvTimeoutError> {
        self.mailbox.recv_timeout(timeout)
    }

    /// Takes the next signal if there is one.
    pub fn try_recv(&self) -> Result<Signal, TryRecvError> {
        self.mailbox.try_recv()
    }

    /// Iterates over the signals, ending after `SocketShutdown`.
    pub fn iter(&self) -> impl Iterator<Item = Signal> + '_ {
        core::iter::from_fn(move || self.recv().ok())
    }
}
