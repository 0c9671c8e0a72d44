//! The clients under test behind one small interface, so every workload
//! runs the same code against each of them.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What a workload needs from a client: hand it messages, take what it
/// received, finish, stop.
pub trait Conn: Send + Sized + 'static {
    /// Connects and returns once the connection is up.
    fn connect(addr: SocketAddr, opts: &Opts) -> io::Result<Self>;
    /// Hands one message (at most 1 KiB) to the client, waiting for room.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;
    /// Waits for the next bytes received and shows them to `f`. Returns
    /// how many; 0 at the end of the stream.
    fn recv<F: FnMut(&[u8])>(&mut self, f: F) -> usize;
    /// Nothing more to send: write what is queued, then half-close.
    fn finish(&mut self);
    /// A handle that makes a blocked `recv` return 0 from another thread.
    fn stopper(&self) -> Box<dyn FnOnce() + Send>;
    /// Stops at once and returns when the client has fully ended (its
    /// threads gone or its final signal delivered, its socket closed).
    fn shutdown(self);
    /// Like `shutdown`, returning the time from the request to the end
    /// (for ttc: to the final signal).
    fn shutdown_timed(self) -> Duration {
        let t0 = Instant::now();
        self.shutdown();
        t0.elapsed()
    }
    /// Names of the threads the client runs itself (not the caller's).
    fn threads() -> &'static [&'static str];
}

/// Connection options a workload may set.
#[derive(Clone, Copy, Debug, Default)]
pub struct Opts {
    /// Stack size for threads the client starts (None: its default).
    pub stack: Option<usize>,
}

/// The peers, in table order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerKind {
    /// The benchmark thread on a `std::net::TcpStream`.
    Raw,
    /// A reader and a writer thread with `sync_channel`s of `Vec<u8>`.
    Diy,
    /// A current-thread tokio runtime with bounded tokio mpsc channels.
    Tokio,
    /// This crate.
    Ttc,
}

impl PeerKind {
    pub const ALL: [PeerKind; 4] = [PeerKind::Raw, PeerKind::Diy, PeerKind::Tokio, PeerKind::Ttc];

    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Raw => "raw",
            PeerKind::Diy => "diy",
            PeerKind::Tokio => "tokio",
            PeerKind::Ttc => "ttc",
        }
    }

    pub fn parse(s: &str) -> Option<PeerKind> {
        PeerKind::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// Runs `$body` with `$C` bound to the client type of `$kind`.
macro_rules! with_conn {
    ($kind:expr, $C:ident => $body:expr) => {
        match $kind {
            $crate::conn::PeerKind::Raw => {
                type $C = $crate::conn::Raw;
                $body
            }
            $crate::conn::PeerKind::Diy => {
                type $C = $crate::diy::Diy;
                $body
            }
            $crate::conn::PeerKind::Tokio => {
                type $C = $crate::tokio_client::TokioClient;
                $body
            }
            $crate::conn::PeerKind::Ttc => {
                type $C = $crate::ttc_client::TtcClient;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// Read size of every client: the ttc worker's batch buffer (8 KiB).
pub const READ_BUF: usize = 8 * 1024;

thread_local! {
    // One read buffer per thread, shared by all raw connections on it, so
    // a thousand raw sockets cost no buffer each.
    static RAW_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_BUF].into_boxed_slice());
}

/// The limit: the calling thread does the socket calls itself.
pub struct Raw {
    stream: TcpStream,
}

impl Conn for Raw {
    fn connect(addr: SocketAddr, _: &Opts) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Raw { stream })
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.stream.write_all(msg)
    }

    fn recv<F: FnMut(&[u8])>(&mut self, mut f: F) -> usize {
        RAW_BUF.with(|b| {
            let mut buf = b.borrow_mut();
            loop {
                match self.stream.read(&mut buf) {
                    Ok(n) => {
                        f(&buf[..n]);
                        return n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return 0,
                }
            }
        })
    }

    fn finish(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    fn stopper(&self) -> Box<dyn FnOnce() + Send> {
        let s = self.stream.try_clone().expect("dup socket");
        Box::new(move || {
            let _ = s.shutdown(Shutdown::Both);
        })
    }

    fn shutdown(self) {
        drop(self.stream);
    }

    fn threads() -> &'static [&'static str] {
        &[]
    }
}
