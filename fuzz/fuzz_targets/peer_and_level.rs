//! The small parsers of the library: test-peer names (`echo`, `sink`,
//! `fortune`, `burst`, `burst:N`) and `RUST_LOG`-style levels. Any text
//! parses or is refused, never a panic; `burst:N` round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttc::peers::Peer;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(Peer::Burst(n)) = Peer::parse(s) {
        assert_eq!(Peer::parse(&format!("burst:{n}")), Some(Peer::Burst(n)));
    }
    let _ = ttc::logger::parse_level(s);
});
