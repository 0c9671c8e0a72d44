//! Proxy URLs (`Proxy::parse`, as `Config::proxy`, `--proxy` and
//! `ALL_PROXY` take them): whatever the text, a proxy with a host and a
//! nonzero port, or an error; never a panic. What it shows (`Display`,
//! `Debug`, the error) never holds the password, and a URL without
//! credentials reads back from its `Display` as the same proxy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ttc::Proxy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A marker password: found in the output only if it leaked.
    let with_secret = text.replacen("PW", "Zq9SECRETx", 1);
    for url in [text, with_secret.as_str()] {
        match Proxy::parse(url) {
            Ok(p) => {
                assert!(!p.host().is_empty() && p.port() != 0, "{url:?}");
                let shown = format!("{p} {p:?}");
                let elsewhere = p.host().contains("Zq9SECRETx")
                    || p.user().is_some_and(|u| u.contains("Zq9SECRETx"));
                if url.contains(":Zq9SECRETx@") && !elsewhere {
                    assert!(!shown.contains("Zq9SECRETx"), "{url:?}: {shown}");
                }
                if p.user().is_none() {
                    assert_eq!(Proxy::parse(&p.to_string()).as_ref(), Ok(&p), "{url:?}");
                }
            }
            Err(e) => {
                if url.contains(":Zq9SECRETx@") {
                    assert!(!e.to_string().contains("Zq9SECRETx"), "{url:?}: {e}");
                }
            }
        }
    }
});
