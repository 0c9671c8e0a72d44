//! TLS (the `tls` feature): [`TlsConfig`] for the client side, the
//! worker's TLS transport over the blocking socket, and
//! [`TlsServerConfig`] for the test peers (`ttc serve --tls-cert`).
//!
//! Built on rustls with the ring provider. The worker drives a rustls
//! `ClientConnection` itself: it reads ciphertext from the socket into a
//! buffer of its own, feeds it to rustls, hands the decrypted bytes to the
//! outbox and writes rustls's records back, on the same thread and with
//! the same slices, polls and boxes as a plain connection. See
//! ARCHITECTURE.md, "TLS".
//!
//! ```
//! let tls = ttc::TlsConfig::new()
//!     .server_name("broker.example")
//!     .alpn(["mqtt"])
//!     .pin_sha256("sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
//!     .unwrap();
//! let config = ttc::Config::new("192.0.2.7", 8883).tls(tls);
//! # drop(config);
//! ```

mod config;
mod server;
mod stream;

use std::fmt;
use std::io;

use rustls::CertificateError;

use crate::message::{Failure, Phase};

pub use config::{TlsConfig, TlsConfigError};
pub use server::TlsServerConfig;
pub(crate) use server::TlsServerStream;
pub(crate) use stream::{handshake, TlsStream};

/// A failure of TLS itself, carried inside an `io::Error` so the worker
/// can tell it from a socket error and give it [`Phase::Tls`].
#[derive(Debug)]
pub(super) struct TlsFailure {
    reason: &'static str,
    detail: String,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for TlsFailure {}

pub(super) fn failure(
    kind: io::ErrorKind,
    reason: &'static str,
    detail: impl Into<String>,
) -> io::Error {
    io::Error::new(
        kind,
        TlsFailure {
            reason,
            detail: detail.into(),
        },
    )
}

/// Whether `e` is a failure of TLS (not of the socket under it).
pub(crate) fn is_tls_failure(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<TlsFailure>())
}

/// Whether `e` says the server's certificate (or the client's, by the
/// server) was refused: a failure that trying again cannot mend.
pub(crate) fn is_verification_failure(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsFailure>())
        .is_some_and(|f| {
            matches!(
                f.reason,
                "unknown_issuer"
                    | "expired"
                    | "not_yet_valid"
                    | "name_mismatch"
                    | "pin_mismatch"
                    | "bad_certificate"
            )
        })
}

/// The short reason for a rustls error (see [`Phase::Tls`]).
pub(crate) fn reason(e: &rustls::Error) -> &'static str {
    use rustls::Error as E;
    use CertificateError as C;
    match e {
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "unknown_issuer",
            C::Expired | C::ExpiredContext { .. } => "expired",
            C::NotValidYet | C::NotValidYetContext { .. } => "not_yet_valid",
            C::NotValidForName | C::NotValidForNameContext { .. } => "name_mismatch",
            // Only the pin check returns this.
            C::ApplicationVerificationFailure => "pin_mismatch",
            _ => "bad_certificate",
        },
        E::NoCertificatesPresented => "bad_certificate",
        E::AlertReceived(_) => "alert",
        _ => "protocol",
    }
}

pub(super) fn rustls_failure(e: &rustls::Error) -> io::Error {
    failure(io::ErrorKind::InvalidData, reason(e), e.to_string())
}

pub(super) fn truncated() -> io::Error {
    failure(
        io::ErrorKind::UnexpectedEof,
        "truncated",
        "the server closed the connection without close_notify",
    )
}

pub(super) fn tls_failed(e: io::Error) -> Failure {
    Failure::Failed(Phase::Tls, e)
}

/// For the fuzz target `tls_handshake` (fuzz/fuzz_targets): not part of
/// the API, may change at any time.
#[doc(hidden)]
pub mod fuzzing {
    use std::io::Read;

    use rustls::pki_types::ServerName;
    use rustls::ClientConnection;

    use super::*;

    /// Feeds `server` bytes, `chunk` at a time, to a client connection
    /// made from `tls` for `server_name`, the way the worker does (rustls
    /// reads, processes, the reader is drained, records are written
    /// nowhere), and classifies the failure as the worker would. Returns
    /// the plaintext delivered, or the error message. Must never panic.
    pub fn feed_server_bytes(
        tls: &TlsConfig,
        server_name: &str,
        server: &[u8],
        chunk: usize,
    ) -> Result<usize, String> {
        let config = tls.client_config()?;
        let name = ServerName::try_from(server_name.to_owned()).map_err(|e| e.to_string())?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        let mut delivered = 0;
        let mut buf = [0u8; 4096];
        let mut sink = io::sink();
        for piece in server.chunks(chunk.max(1)) {
            while conn.wants_write() {
                conn.write_tls(&mut sink).map_err(|e| e.to_string())?;
            }
            let mut rest = piece;
            while !rest.is_empty() {
                let n = conn.read_tls(&mut rest).map_err(|e| e.to_string())?;
                if let Err(e) = conn.process_new_packets() {
                    let io = rustls_failure(&e);
                    assert!(is_tls_failure(&io));
                    return Err(io.to_string());
                }
                loop {
                    match conn.reader().read(&mut buf) {
                        Ok(0) => return Ok(delivered),
                        Ok(k) => delivered += k,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e.to_string()),
                    }
                }
                if n == 0 {
                    break;
                }
            }
        }
        let _ = conn.read_tls(&mut io::empty());
        let _ = conn.process_new_packets();
        match conn.reader().read(&mut buf) {
            Ok(k) => Ok(delivered + k),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(truncated().to_string()),
            Err(e) => Err(e.to_string()),
        }
    }
}
