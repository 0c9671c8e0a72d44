//! Host and port strings, as given to `Config::new`: whatever the text
//! (names, IPv4/IPv6 literals with or without brackets, spaces, NUL bytes,
//! garbage), the client must end with exactly one final signal, an error
//! of the resolve or connect phase, and the initial message counted as
//! unsent; it must never panic or hang. Runs in an isolated namespace
//! (isolated.rs), where nothing listens and nothing leaves the machine.
#![no_main]

mod isolated;

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ttc::{Config, Phase, Reason, Signal};

fuzz_target!(|data: &[u8]| {
    isolated::enter();
    if data.len() < 2 {
        return;
    }
    let port = u16::from_le_bytes([data[0], data[1]]);
    let host = String::from_utf8_lossy(&data[2..]).into_owned();
    let client = Config::new(host.clone(), port)
        .initial_message(b"hi".to_vec())
        .connect_timeout(Duration::from_millis(200))
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut signals = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.signal().recv_timeout(left) {
            Ok(s) => {
                let last = s.is_final();
                signals.push(s);
                if last {
                    break;
                }
            }
            Err(e) => panic!("no final signal for {host:?}:{port} ({e}): {signals:?}"),
        }
    }
    assert!(
        client.signal().try_recv().is_err(),
        "a signal after the final one"
    );
    let report = client.join();
    assert_eq!(report.reason, Reason::Error, "{host:?}:{port}: {signals:?}");
    let errors: Vec<_> = signals
        .iter()
        .filter_map(|s| match s {
            Signal::Error(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{signals:?}");
    assert!(
        matches!(errors[0].phase, Phase::Resolve | Phase::Connect),
        "{}",
        errors[0]
    );
    assert_eq!((report.sent, report.received, report.unsent), (0, 0, 2));
});
