//! What a SOCKS proxy sends (src/proxy.rs): whatever the bytes, the
//! SOCKS5 (with and without username/password, to a name and to IPv4 and
//! IPv6 addresses), SOCKS4 and SOCKS4a handshakes open the tunnel having
//! read no more than the reply, or fail with an error of the proxy phase
//! that names the proxy and never shows the password; never a panic. The
//! first byte picks the handshake, the rest is the proxy's side.
#![no_main]

use std::io;
use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use ttc::{proxy_fuzzing::handshake, Phase, Proxy};

const CASES: [(&str, Option<&str>); 6] = [
    ("socks5h://127.0.0.1:1080", None),
    ("socks5h://user:SECRET-PW@127.0.0.1:1080", None),
    ("socks5://127.0.0.1:1080", Some("10.1.2.3:443")),
    ("socks5://127.0.0.1:1080", Some("[2001:db8::1]:443")),
    ("socks4://u@127.0.0.1:1080", Some("10.1.2.3:443")),
    ("socks4a://127.0.0.1:1080", None),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, replies)) = data.split_first() else {
        return;
    };
    let (url, addr) = CASES[usize::from(pick) % CASES.len()];
    let proxy: Proxy = url.parse().expect("a valid URL");
    let addr: Option<SocketAddr> = addr.map(|a| a.parse().expect("an address"));
    match handshake(&proxy, "server.example", 443, addr, replies) {
        // A SOCKS reply is at most 4 + 1 + 255 + 2 bytes; after a method
        // choice and an authentication reply, 266.
        Ok(left) => assert!(replies.len() - left <= 266, "{left} of {}", replies.len()),
        Err(e) => {
            assert_eq!(e.phase, Phase::Proxy, "{e}");
            assert!(e.message().starts_with("proxy 127.0.0.1:1080: "), "{e}");
            assert!(!e.message().contains("SECRET"), "{e}");
            assert_ne!(e.kind, io::ErrorKind::Interrupted, "{e}");
        }
    }
});
