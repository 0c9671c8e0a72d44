//! The usual async alternative: connections as tasks on one current-thread
//! tokio runtime (its own thread, `bench-tokio`, shared by every
//! connection, as a tokio program would), talking to the application
//! through bounded `tokio::sync::mpsc` channels of `Vec<u8>` (16 deep, like
//! ttc's boxes). The application side uses `blocking_send` and
//! `blocking_recv`.

use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc as std_mpsc, Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Notify};

use crate::conn::{Conn, Opts, READ_BUF};

const DEPTH: usize = 16;
const THREAD: &str = "bench-tokio";

/// The runtime, started on first use and kept for the process.
fn runtime() -> &'static Handle {
    static RT: OnceLock<Handle> = OnceLock::new();
    RT.get_or_init(|| {
        let (tx, rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name(THREAD.into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()
                    .expect("tokio runtime");
                let _ = tx.send(rt.handle().clone());
                rt.block_on(std::future::pending::<()>());
            })
            .expect("tokio thread");
        rx.recv().expect("tokio runtime handle")
    })
}

pub struct TokioClient {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    rx: mpsc::Receiver<Vec<u8>>,
    stop: Arc<Notify>,
    done: std_mpsc::Receiver<()>,
}

impl Conn for TokioClient {
    fn connect(addr: SocketAddr, _: &Opts) -> io::Result<Self> {
        let (in_tx, mut in_rx) = mpsc::channel::<Vec<u8>>(DEPTH);
        let (out_tx, out_rx) = mpsc::channel::<Vec<u8>>(DEPTH);
        let stop = Arc::new(Notify::new());
        let (ready_tx, ready_rx) = std_mpsc::channel();
        let (done_tx, done) = std_mpsc::channel();
        let task_stop = stop.clone();
        runtime().spawn(async move {
            let stream = match TcpStream::connect(addr).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = stream.set_nodelay(true);
            let _ = ready_tx.send(Ok(()));
            let (mut rd, mut wr) = stream.into_split();
            let writer = tokio::spawn(async move {
                while let Some(msg) = in_rx.recv().await {
                    if wr.write_all(&msg).await.is_err() {
                        return;
                    }
                }
                let _ = wr.shutdown().await;
            });
            let reader = tokio::spawn(async move {
                let mut buf = vec![0u8; READ_BUF];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if out_tx.send(buf[..n].to_vec()).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            task_stop.notified().await;
            writer.abort();
            reader.abort();
            // Both halves are dropped (the socket closed) once these end.
            let _ = writer.await;
            let _ = reader.await;
            let _ = done_tx.send(());
        });
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => Ok(TokioClient {
                tx: Some(in_tx),
                rx: out_rx,
                stop,
                done,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "tokio connect")),
        }
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let tx = self.tx.as_ref().ok_or(io::ErrorKind::BrokenPipe)?;
        tx.blocking_send(msg.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn recv<F: FnMut(&[u8])>(&mut self, mut f: F) -> usize {
        match self.rx.blocking_recv() {
            Some(v) => {
                f(&v);
                v.len()
            }
            None => 0,
        }
    }

    fn finish(&mut self) {
        self.tx = None;
    }

    fn stopper(&self) -> Box<dyn FnOnce() + Send> {
        let stop = self.stop.clone();
        Box::new(move || stop.notify_one())
    }

    fn shutdown(mut self) {
        self.tx = None;
        self.stop.notify_one();
        let _ = self.done.recv_timeout(Duration::from_secs(30));
    }

    fn threads() -> &'static [&'static str] {
        &[THREAD]
    }
}
