//! The TLS options (the `tls` feature): `--tls`, `--ca`, `--cert`/`--key`,
//! `--pin`, `--alpn`, `--servername`, `--insecure` made into the library's
//! [`ttc::TlsConfig`], and `serve --tls-cert/--tls-key` into a
//! [`ttc::TlsServerConfig`]. A file that cannot be used or a bad pin is a
//! usage error (exit 2), found before anything connects.

use std::path::Path;

use ttc::{TlsConfig, TlsServerConfig};

use crate::args::{TlsArgs, Usage};

/// What `--insecure` prints, every time.
pub const INSECURE_WARNING: &str = "warning: --insecure: the server's certificate is NOT \
verified; anyone can read and change this connection. A test aid: never use it in production";

/// The client's TLS configuration.
pub fn client_config(t: &TlsArgs) -> Result<TlsConfig, Usage> {
    let mut c = TlsConfig::new();
    if let Some(ca) = &t.ca {
        c = c.ca_file(ca).map_err(|e| Usage(format!("--ca: {e}")))?;
    }
    if let (Some(cert), Some(key)) = (&t.cert, &t.key) {
        c = c
            .client_cert_files(cert, key)
            .map_err(|e| Usage(format!("--cert/--key: {e}")))?;
    }
    for pin in &t.pins {
        c = c
            .pin_sha256(pin)
            .map_err(|e| Usage(format!("--pin: {e}")))?;
    }
    if !t.alpn.is_empty() {
        c = c.alpn(t.alpn.iter().map(|a| a.as_bytes().to_vec()));
    }
    if let Some(name) = &t.servername {
        c = c.server_name(name.clone());
    }
    Ok(c.insecure_skip_verify_for_testing(t.insecure))
}

/// The server's certificate and key for `ttc serve`.
pub fn server_config(cert: &Path, key: &Path) -> Result<TlsServerConfig, Usage> {
    TlsServerConfig::from_pem_files(cert, key)
        .map_err(|e| Usage(format!("--tls-cert/--tls-key: {e}")))
}
