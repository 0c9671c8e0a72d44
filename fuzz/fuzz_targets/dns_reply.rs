//! DNS replies (src/resolve/dns.rs): whatever the bytes, the parser gives
//! a verdict for the query (an answer, NXDOMAIN, truncated, another
//! code, not ours, malformed) and never panics or loops; addresses are of
//! the type asked, each once, at most `MAX_ANSWERS`. The same bytes are
//! read as the reply to an A and to an AAAA query for one name (seeds in
//! fuzz/seeds/dns_reply: dnsmasq's replies for www.example.test, a CNAME
//! to example.test, id 0x1234).
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use ttc::resolve_wire::{
    encode_query, parse_dns_reply, DnsReply, MAX_ANSWERS, QTYPE_A, QTYPE_AAAA,
};

fuzz_target!(|data: &[u8]| {
    for qtype in [QTYPE_A, QTYPE_AAAA] {
        let query = encode_query(0x1234, "www.example.test", qtype).expect("a valid name");
        if let DnsReply::Addrs(addrs) = parse_dns_reply(data, &query) {
            assert!(addrs.len() <= MAX_ANSWERS, "{} addresses", addrs.len());
            for (i, a) in addrs.iter().enumerate() {
                assert_eq!(matches!(a, IpAddr::V6(_)), qtype == QTYPE_AAAA, "{a}");
                assert!(!addrs[..i].contains(a), "{a} twice");
            }
        }
    }
});
