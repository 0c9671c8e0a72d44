//! This crate, used as documented: chunks into the inbox, chunks out of
//! the outbox, `ProducerFinished` / `Shutdown` on control, and the final
//! `SocketShutdown` on signal.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ttc::{Chunk, Client, Config, Control, Signal};

use crate::conn::{Conn, Opts, READ_BUF};

const THREAD: &str = "bench-ttc-w";

thread_local! {
    // One receive buffer per thread, shared by all ttc clients on it, like
    // the raw peer's read buffer.
    static RECV_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_BUF].into_boxed_slice());
}

pub struct TtcClient {
    client: Client,
}

impl Conn for TtcClient {
    fn connect(addr: SocketAddr, opts: &Opts) -> io::Result<Self> {
        let mut config = Config::new(addr.ip().to_string(), addr.port()).thread_name(THREAD);
        if let Some(s) = opts.stack {
            config = config.stack_size(s);
        }
        let client = config
            .spawn()
            .map_err(|e| io::Error::new(e.kind, e.to_string()))?;
        match client.signal().recv_timeout(Duration::from_secs(30)) {
            Ok(Signal::Connected(_)) => Ok(TtcClient { client }),
            other => Err(io::Error::other(format!("ttc connect: {other:?}"))),
        }
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let chunk = Chunk::from_slice(msg).map_err(|_| io::ErrorKind::InvalidInput)?;
        self.client
            .inbox()
            .send(chunk)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    // Streams the outbox with `recv_into` into an 8 KiB buffer, as the raw
    // peer reads its socket (one lock and one copy per batch, not per
    // 1 KiB chunk).
    fn recv<F: FnMut(&[u8])>(&mut self, mut f: F) -> usize {
        RECV_BUF.with(|b| {
            let mut buf = b.borrow_mut();
            match self.client.outbox().recv_into(&mut buf) {
                Ok(n) => {
                    f(&buf[..n]);
                    n
                }
                Err(_) => 0,
            }
        })
    }

    fn finish(&mut self) {
        self.client.control().send(Control::ProducerFinished);
    }

    fn stopper(&self) -> Box<dyn FnOnce() + Send> {
        let control = self.client.control().clone();
        Box::new(move || control.send(Control::Shutdown))
    }

    fn shutdown(self) {
        let _ = self.shutdown_timed();
    }

    fn shutdown_timed(self) -> Duration {
        let t0 = Instant::now();
        self.client.control().send(Control::Shutdown);
        // The final signal marks the end: socket closed, report written.
        while let Ok(sig) = self.client.signal().recv() {
            if sig.is_final() {
                break;
            }
        }
        let took = t0.elapsed();
        let _ = self.client.join();
        took
    }

    fn threads() -> &'static [&'static str] {
        &[THREAD]
    }
}
