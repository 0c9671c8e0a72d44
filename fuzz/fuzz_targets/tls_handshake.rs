//! What a hostile TLS server sends: random and mutated bytes (seeds: real
//! TLS 1.3 and 1.2 server flights, an alert, plaintext) fed to the
//! client's handshake in memory, through ttc's own configuration (the
//! certificate verifier with its pin check, the error classification) the
//! way the worker feeds rustls. Never a panic; a failure is one of the
//! documented TLS reasons.
//!
//! Input: byte 0 picks the configuration (low 2 bits: 0 the seed CA, 1
//! insecure with a pin that matches nothing, 2 insecure, 3 the system's
//! roots) and the chunk size (the other bits); the rest is what the
//! server sends.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ttc::TlsConfig;

/// The CA that signed the seeds' server certificate (valid for 100 years;
/// its key is not kept).
const SEED_CA: &[u8] = include_bytes!("tls_seed_ca.pem");

const REASONS: &[&str] = &[
    "unknown_issuer",
    "expired",
    "not_yet_valid",
    "name_mismatch",
    "pin_mismatch",
    "bad_certificate",
    "alert",
    "protocol",
    "truncated",
];

fn configs() -> &'static [TlsConfig; 4] {
    static CONFIGS: OnceLock<[TlsConfig; 4]> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let pin = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        [
            TlsConfig::new().ca_pem(SEED_CA).unwrap(),
            TlsConfig::new()
                .insecure_skip_verify_for_testing(true)
                .pin_sha256(pin)
                .unwrap(),
            TlsConfig::new().insecure_skip_verify_for_testing(true),
            TlsConfig::new(),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, server)) = data.split_first() else {
        return;
    };
    let config = &configs()[usize::from(first & 3)];
    let chunk = (usize::from(first >> 2) + 1) * 37;
    if let Err(e) = ttc::tls_fuzzing::feed_server_bytes(config, "localhost", server, chunk) {
        // A TLS failure names its reason; anything else is an I/O error
        // of the in-memory feed (a full buffer) or no system roots.
        if let Some((reason, _)) = e.split_once(": ") {
            if REASONS.contains(&reason) {
                return;
            }
        }
        assert!(!e.contains("panicked"), "unexpected failure text: {e}");
    }
});
