//! Framing: bytes go in through `Inbox::send_slice` in pieces of random
//! sizes (after a random initial message), are split into chunks, written,
//! echoed by a loopback server, read back and delivered in chunks. What
//! comes back must be exactly what went in, in chunks of 1..=C bytes, with
//! the accounting exact and one final `Finished`. Runs in an isolated
//! namespace (isolated.rs).
#![no_main]

mod isolated;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ttc::{Config, Control, Reason, RecvTimeoutError};

const C: usize = 16;
const T: Duration = Duration::from_secs(10);

fuzz_target!(|data: &[u8]| {
    isolated::enter();
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let (initial, payload) = rest.split_at((first as usize).min(rest.len()));

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => s.write_all(&buf[..n]).unwrap(),
                Err(e) => panic!("echo: {e}"),
            }
        }
        s.shutdown(Shutdown::Write).unwrap();
    });
    let client = Config::new("127.0.0.1", port)
        .initial_message(initial.to_vec())
        .linger(Some(T))
        .spawn_sized::<C, 2, 2>()
        .unwrap();
    let outbox = client.outbox().clone();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            match outbox.recv_timeout(T) {
                Ok(chunk) => {
                    assert!(
                        !chunk.is_empty() && chunk.len() <= C,
                        "chunk of {}",
                        chunk.len()
                    );
                    got.extend_from_slice(&chunk);
                }
                Err(RecvTimeoutError::Closed) => return got,
                Err(RecvTimeoutError::Timeout) => panic!("outbox stalled"),
            }
        }
    });
    // Piece sizes come from the payload itself.
    let mut at = 0;
    while at < payload.len() {
        let n = (payload[at] as usize % 40 + 1).min(payload.len() - at);
        client.inbox().send_slice(&payload[at..at + n], T).unwrap();
        at += n;
    }
    client.control().send(Control::ProducerFinished);
    let got = reader.join().unwrap();
    let report = client.join();
    server.join().unwrap();

    let mut want = initial.to_vec();
    want.extend_from_slice(payload);
    assert_eq!(got, want);
    assert_eq!(report.reason, Reason::Finished, "{report}");
    let total = want.len() as u64;
    assert_eq!(
        (report.sent, report.received, report.unsent),
        (total, total, 0)
    );
});
