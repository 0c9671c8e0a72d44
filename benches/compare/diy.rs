//! What people write by hand: a reader thread and a writer thread around a
//! blocking socket, talking to the application through
//! `std::sync::mpsc::sync_channel`s of `Vec<u8>` (16 deep, like ttc's
//! boxes).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

use crate::conn::{Conn, Opts, READ_BUF};

const DEPTH: usize = 16;

pub struct Diy {
    tx: Option<SyncSender<Vec<u8>>>,
    rx: Option<Receiver<Vec<u8>>>,
    sock: TcpStream,
    reader: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
}

fn builder(name: &str, opts: &Opts) -> thread::Builder {
    let b = thread::Builder::new().name(name.into());
    match opts.stack {
        Some(s) => b.stack_size(s),
        None => b,
    }
}

impl Conn for Diy {
    fn connect(addr: SocketAddr, opts: &Opts) -> io::Result<Self> {
        let sock = TcpStream::connect(addr)?;
        sock.set_nodelay(true)?;
        let (in_tx, in_rx) = sync_channel::<Vec<u8>>(DEPTH);
        let (out_tx, out_rx) = sync_channel::<Vec<u8>>(DEPTH);
        let mut rd = sock.try_clone()?;
        let reader = builder("bench-diy-r", opts).spawn(move || {
            let mut buf = [0u8; READ_BUF];
            loop {
                match rd.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if out_tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        })?;
        let mut wr = sock.try_clone()?;
        let writer = builder("bench-diy-w", opts).spawn(move || {
            for msg in in_rx {
                if wr.write_all(&msg).is_err() {
                    return;
                }
            }
            let _ = wr.shutdown(Shutdown::Write);
        })?;
        Ok(Diy {
            tx: Some(in_tx),
            rx: Some(out_rx),
            sock,
            reader: Some(reader),
            writer: Some(writer),
        })
    }

    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let tx = self.tx.as_ref().ok_or(io::ErrorKind::BrokenPipe)?;
        tx.send(msg.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn recv<F: FnMut(&[u8])>(&mut self, mut f: F) -> usize {
        match self.rx.as_ref().map(|rx| rx.recv()) {
            Some(Ok(v)) => {
                f(&v);
                v.len()
            }
            _ => 0,
        }
    }

    fn finish(&mut self) {
        self.tx = None;
    }

    fn stopper(&self) -> Box<dyn FnOnce() + Send> {
        let s = self.sock.try_clone().expect("dup socket");
        Box::new(move || {
            let _ = s.shutdown(Shutdown::Both);
        })
    }

    fn shutdown(mut self) {
        self.tx = None;
        let _ = self.sock.shutdown(Shutdown::Both);
        self.rx = None;
        for t in [self.reader.take(), self.writer.take()]
            .into_iter()
            .flatten()
        {
            let _ = t.join();
        }
    }

    fn threads() -> &'static [&'static str] {
        &["bench-diy-r", "bench-diy-w"]
    }
}
