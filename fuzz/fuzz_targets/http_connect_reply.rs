//! What an HTTP proxy answers to `CONNECT` (src/proxy.rs): whatever the
//! bytes, the handshake reads at most `MAX_HTTP_HEAD` bytes of status
//! line and headers (blank lines before them included), opens the tunnel
//! only on a 2xx status line, leaves what follows the head unread (it is
//! the server's), and otherwise fails with an error of the proxy phase
//! that names the proxy and never shows the password it was given;
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttc::{proxy_fuzzing::handshake, Phase, Proxy, MAX_HTTP_HEAD};

fuzz_target!(|data: &[u8]| {
    let proxy: Proxy = "http://user:SECRET-PW@127.0.0.1:3128"
        .parse()
        .expect("a valid URL");
    match handshake(&proxy, "server.example", 443, None, data) {
        Ok(left) => {
            let head = &data[..data.len() - left];
            assert!(head.len() <= MAX_HTTP_HEAD, "{} bytes of head", head.len());
            assert!(head.ends_with(b"\n\n") || head.ends_with(b"\r\n\r\n"));
            let start = head.iter().position(|&b| b != b'\r' && b != b'\n').unwrap();
            assert!(head[start..].starts_with(b"HTTP/1."));
            assert_eq!(head.get(start + 9), Some(&b'2'));
        }
        Err(e) => {
            assert_eq!(e.phase, Phase::Proxy, "{e}");
            assert!(e.message().starts_with("proxy 127.0.0.1:3128: "), "{e}");
            // The reason phrase is quoted as the proxy sent it: the
            // password may show only if the proxy itself sent it.
            let echoed = data.windows(9).any(|w| w == b"SECRET-PW");
            assert!(echoed || !e.message().contains("SECRET-PW"), "{e}");
        }
    }
});
