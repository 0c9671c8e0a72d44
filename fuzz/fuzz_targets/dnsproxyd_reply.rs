//! Replies of Android's netd on dnsproxyd (src/resolve/dnsproxyd.rs):
//! whatever the bytes, the parser says "incomplete", gives addresses, a
//! failure code, or "malformed", never panics; with the peer closed it is
//! never "incomplete"; a verdict reached before the end stays the same
//! once the peer closes; at most 64 addresses, each once, with the port
//! asked for. Seeds in fuzz/seeds/dnsproxyd_reply (bionic's framing:
//! "222\0", records, a BE32 0; "401\0" with an EAI code).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttc::resolve_wire::{parse_dnsproxyd_reply, ProxyReply};

fuzz_target!(|data: &[u8]| {
    let open = parse_dnsproxyd_reply(data, 80, false);
    let closed = parse_dnsproxyd_reply(data, 80, true);
    assert_ne!(closed, ProxyReply::Incomplete);
    if open != ProxyReply::Incomplete {
        assert_eq!(open, closed);
    }
    if let ProxyReply::Addrs(addrs) = &closed {
        assert!(addrs.len() <= 64, "{} addresses", addrs.len());
        for (i, a) in addrs.iter().enumerate() {
            assert_eq!(a.port(), 80);
            assert!(!addrs[..i].contains(a), "{a} twice");
        }
    }
});
