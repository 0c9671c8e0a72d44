//! One running client behind a handle, whatever its chunk size: the
//! library's sizes are const generics, so each size this build offers is
//! one instantiation behind the [`Conn`] trait.

use std::sync::{Mutex, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use ttc_rs::{
    Client, Config, Control, ControlInbox, Error, Inbox, Outbox, RecvTimeoutError,
    SendSliceFailure, ShutdownReport, Signal, SignalOutbox, TryRecvError,
};

/// Chunk sizes this build offers (bytes); 1024 is the default.
pub(crate) const CHUNK_SIZES: [usize; 4] = [256, 1024, 4096, 16384];
/// The inbox and outbox capacity (chunks) of every size above.
pub(crate) const CAPACITY: usize = ttc_rs::Config::DEFAULT_INBOX;

/// Why a send stopped before the end of the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStop {
    /// The inbox stayed full (until the timeout, or at once for a send
    /// that does not wait).
    Full,
    /// The inbox is closed: the connection ended or is ending.
    Closed,
}

/// Why a receive (of bytes or of a signal) returned nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvStop {
    /// Nothing came before the timeout.
    Timeout,
    /// Everything was received: the stream (or the signals) ended.
    Closed,
}

/// The calls of the C API on one client. Every method can be called from
/// any thread, at the same time as any other.
pub trait Conn: Send + Sync {
    /// Queues as much of `data` as the inbox takes, waiting up to
    /// `timeout` (`None`: no limit) in all; how many bytes were taken.
    fn send(&self, data: &[u8], timeout: Option<Duration>) -> (usize, Option<SendStop>);
    /// Waits up to `timeout` for data and copies what is queued into `buf`
    /// (not empty); `Ok(0)` never happens.
    fn recv(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize, RecvStop>;
    /// Sends a control message.
    fn control(&self, msg: Control);
    /// Waits up to `timeout` for the next signal.
    fn signal(&self, timeout: Option<Duration>) -> Result<Signal, RecvStop>;
    /// Waits for the worker to end; the final report. Later calls return
    /// the same report. `None` only if an earlier join panicked.
    fn join(&self) -> Option<ShutdownReport>;
    /// Waits up to `timeout` (`None`: no limit) for the worker to end;
    /// whether it has.
    fn wait_finished(&self, timeout: Option<Duration>) -> bool;
    /// With confirmed delivery: the server has the first `bytes` bytes.
    fn confirm(&self, bytes: u64);
}

struct Sized<const C: usize> {
    inbox: Inbox<C, CAPACITY>,
    outbox: Outbox<C, CAPACITY>,
    control: ControlInbox,
    signal: SignalOutbox,
    // Held while joining: a second `join` waits for the first, then finds
    // the client gone and the report set.
    client: Mutex<Option<Client<C, CAPACITY, CAPACITY>>>,
    report: OnceLock<ShutdownReport>,
}

impl<const C: usize> Conn for Sized<C> {
    fn send(&self, data: &[u8], timeout: Option<Duration>) -> (usize, Option<SendStop>) {
        match self
            .inbox
            .send_slice(data, timeout.unwrap_or(Duration::MAX))
        {
            Ok(()) => (data.len(), None),
            Err(e) => {
                let why = match e.reason {
                    SendSliceFailure::TimedOut => SendStop::Full,
                    // The enum may grow; anything else ends the sending.
                    _ => SendStop::Closed,
                };
                (e.accepted, Some(why))
            }
        }
    }

    fn recv(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize, RecvStop> {
        let r = match timeout {
            None => self.outbox.recv_into(buf).map_err(|_| RecvStop::Closed),
            Some(t) => self.outbox.recv_into_timeout(buf, t).map_err(|e| match e {
                RecvTimeoutError::Timeout => RecvStop::Timeout,
                RecvTimeoutError::Closed => RecvStop::Closed,
            }),
        };
        match r {
            // An empty buffer is refused before this; 0 would read as the
            // end of the stream.
            Ok(0) => Err(RecvStop::Timeout),
            other => other,
        }
    }

    fn control(&self, msg: Control) {
        self.control.send(msg);
    }

    fn signal(&self, timeout: Option<Duration>) -> Result<Signal, RecvStop> {
        match timeout {
            None => self.signal.recv().map_err(|_| RecvStop::Closed),
            Some(t) if t.is_zero() => self.signal.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvStop::Timeout,
                TryRecvError::Closed => RecvStop::Closed,
            }),
            Some(t) => self.signal.recv_timeout(t).map_err(|e| match e {
                RecvTimeoutError::Timeout => RecvStop::Timeout,
                RecvTimeoutError::Closed => RecvStop::Closed,
            }),
        }
    }

    fn join(&self) -> Option<ShutdownReport> {
        let mut client = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = client.take() {
            let _ = self.report.set(c.join());
        }
        drop(client);
        self.report.get().cloned()
    }

    fn wait_finished(&self, timeout: Option<Duration>) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        // The worker ends moments after its final signal; the library
        // offers no wait on the thread itself, so this looks every few
        // milliseconds (never longer than the time left).
        let mut pause = Duration::from_micros(200);
        loop {
            // Held by a join in progress: not finished yet, look again.
            let finished = match self.client.try_lock() {
                Ok(c) => c.as_ref().is_none_or(|c| c.is_finished()),
                Err(TryLockError::Poisoned(c)) => {
                    c.get_ref().as_ref().is_none_or(|c| c.is_finished())
                }
                Err(TryLockError::WouldBlock) => false,
            };
            if finished {
                return true;
            }
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => pause,
            };
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }

    fn confirm(&self, bytes: u64) {
        self.inbox.confirm(bytes);
    }
}

/// The library builds its mailboxes on the heap, so a client with big
/// chunks starts from any thread, even one with a small stack (a JVM
/// thread has 1 MiB).
fn start<const C: usize>(config: Config) -> Result<Box<dyn Conn>, Error> {
    let client = config.spawn_sized::<C, CAPACITY, CAPACITY>()?;
    Ok(Box::new(Sized {
        inbox: client.inbox().clone(),
        outbox: client.outbox().clone(),
        control: client.control().clone(),
        signal: client.signal().clone(),
        client: Mutex::new(Some(client)),
        report: OnceLock::new(),
    }))
}

/// Starts a client with chunks of `chunk` bytes (one of [`CHUNK_SIZES`]).
/// `Ok(None)` for a size this build does not offer.
pub fn spawn(config: Config, chunk: usize) -> Result<Option<Box<dyn Conn>>, Error> {
    Ok(Some(match chunk {
        256 => start::<256>(config)?,
        1024 => start::<1024>(config)?,
        4096 => start::<4096>(config)?,
        16384 => start::<16384>(config)?,
        _ => return Ok(None),
    }))
}
