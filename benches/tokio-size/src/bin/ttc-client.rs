//! `ttc-client HOST PORT`: the same client on the ttc library (stdin into
//! the inbox, then `ProducerFinished`; the outbox to stdout), without the
//! `ttc` CLI's options, servers and logging.

use std::io::{Read, Write};
use std::time::Duration;

use ttc::{Chunk, Config, Control};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(host), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: ttc-client HOST PORT");
        std::process::exit(2);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("ttc-client: bad port");
        std::process::exit(2);
    };
    let client = match Config::new(host, port).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ttc-client: {e}");
            std::process::exit(1);
        }
    };
    let inbox = client.inbox().clone();
    let control = client.control().clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut input = std::io::stdin().lock();
        while let Ok(n) = input.read(&mut buf) {
            let chunk = match Chunk::from_slice(&buf[..n]) {
                Ok(c) if n > 0 => c,
                _ => break,
            };
            if inbox.send_timeout(chunk, Duration::MAX).is_err() {
                break;
            }
        }
        control.send(Control::ProducerFinished);
    });
    let mut out = std::io::stdout().lock();
    for chunk in client.outbox().iter() {
        if out.write_all(&chunk).and_then(|()| out.flush()).is_err() {
            break;
        }
    }
    let report = client.join();
    if report.error.is_some() {
        eprintln!("ttc-client: {report}");
        std::process::exit(1);
    }
}
