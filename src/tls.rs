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

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{self, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, CipherSuite, ClientConfig, ClientConnection, DigitallySignedStruct,
    ProtocolVersion, RootCertStore, SignatureScheme,
};

use crate::message::Failure;
use crate::message::{Phase, TlsInfo};
use crate::sys;
use crate::wake::Core;

/// A TLS setting that could not be used: a file that cannot be read, PEM
/// with nothing usable in it, a key that does not match its certificate,
/// a malformed pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfigError {
    message: String,
}

impl TlsConfigError {
    fn new(message: impl Into<String>) -> TlsConfigError {
        TlsConfigError {
            message: message.into(),
        }
    }
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsConfigError {}

/// Where the certificates that may sign a server's certificate come from.
#[derive(Clone, Debug)]
enum Roots {
    /// The system's store, read when the first connection needs it.
    System,
    /// Certificates given as PEM.
    Pem(Arc<Vec<CertificateDer<'static>>>),
}

/// A client certificate chain and its private key (mutual TLS).
struct ClientAuth {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

/// TLS for a client connection: give it to [`Config::tls`](crate::Config::tls).
///
/// By default the server's certificate is checked against the system's
/// root certificates (`/etc/ssl/certs` on Linux, or `SSL_CERT_FILE` /
/// `SSL_CERT_DIR` when set; `/system/etc/security/cacerts` on Android)
/// for the host name the connection was made to, TLS 1.2 and 1.3 are
/// offered, no client certificate is sent and no ALPN protocol is asked
/// for. Clones share the rustls configuration built from them (and its
/// session cache), so a reconnect resumes the session when it can.
///
/// Every setter that reads something checks it at once, so a bad file or
/// pin is an error here, not a failed connection later.
#[derive(Clone)]
pub struct TlsConfig {
    server_name: Option<String>,
    roots: Roots,
    client_auth: Option<Arc<ClientAuth>>,
    pins: Vec<[u8; 32]>,
    alpn: Vec<Vec<u8>>,
    insecure: bool,
    /// The rustls configuration, built once by the first connection.
    built: Arc<OnceLock<Result<Arc<ClientConfig>, String>>>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No key material, only what was asked for.
        f.debug_struct("TlsConfig")
            .field("server_name", &self.server_name)
            .field(
                "roots",
                &match &self.roots {
                    Roots::System => String::from("system"),
                    Roots::Pem(c) => format!("{} certificates", c.len()),
                },
            )
            .field("client_auth", &self.client_auth.is_some())
            .field("pins", &self.pins.len())
            .field("alpn", &self.alpn.len())
            .field("insecure", &self.insecure)
            .finish()
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsConfig {
    /// Verify the server against the system's roots, for the host name
    /// the connection is made to.
    pub fn new() -> TlsConfig {
        TlsConfig {
            server_name: None,
            roots: Roots::System,
            client_auth: None,
            pins: Vec::new(),
            alpn: Vec::new(),
            insecure: false,
            built: Arc::default(),
        }
    }

    /// A fresh cache: any setter changes what would be built.
    fn changed(mut self) -> TlsConfig {
        self.built = Arc::default();
        self
    }

    /// The name to send (SNI) and to check the certificate against, when
    /// it is not the host the connection is made to (for example when
    /// connecting to an IP address). A DNS name or an IP address.
    pub fn server_name(mut self, name: impl Into<String>) -> TlsConfig {
        self.server_name = Some(name.into());
        self.changed()
    }

    /// Trust only the CA certificates in this PEM text instead of the
    /// system's.
    pub fn ca_pem(mut self, pem: &[u8]) -> Result<TlsConfig, TlsConfigError> {
        let certs = parse_certs(pem, "CA certificates")?;
        // Each must be usable as a trust anchor.
        let mut store = RootCertStore::empty();
        for c in &certs {
            store
                .add(c.clone())
                .map_err(|e| TlsConfigError::new(format!("unusable CA certificate: {e}")))?;
        }
        self.roots = Roots::Pem(Arc::new(certs));
        Ok(self.changed())
    }

    /// Trust only the CA certificates in this PEM file instead of the
    /// system's.
    pub fn ca_file(self, path: impl AsRef<Path>) -> Result<TlsConfig, TlsConfigError> {
        let pem = read(path.as_ref(), "CA file")?;
        self.ca_pem(&pem)
            .map_err(|e| TlsConfigError::new(format!("{}: {e}", path.as_ref().display())))
    }

    /// A client certificate (chain, leaf first) and its private key, both
    /// PEM (the key PKCS#8, PKCS#1 or SEC1), for servers that ask for one
    /// (mutual TLS). Fails if the key is not one ring can sign with or does
    /// not belong to the certificate.
    pub fn client_cert_pem(mut self, cert: &[u8], key: &[u8]) -> Result<TlsConfig, TlsConfigError> {
        let chain = parse_certs(cert, "client certificate")?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| TlsConfigError::new(format!("no private key in the key PEM: {e}")))?;
        let provider = provider();
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| TlsConfigError::new(format!("unusable private key: {e}")))?;
        rustls::sign::CertifiedKey::new(chain.clone(), signing)
            .keys_match()
            .map_err(|e| {
                TlsConfigError::new(format!("the key does not match the certificate: {e}"))
            })?;
        self.client_auth = Some(Arc::new(ClientAuth { chain, key }));
        Ok(self.changed())
    }

    /// [`client_cert_pem`](Self::client_cert_pem) from two files.
    pub fn client_cert_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsConfig, TlsConfigError> {
        let c = read(cert.as_ref(), "certificate file")?;
        let k = read(key.as_ref(), "key file")?;
        self.client_cert_pem(&c, &k)
    }

    /// Also require the server's public key to match a pin: the SHA-256
    /// of its DER SubjectPublicKeyInfo, base64, as curl's
    /// `--pinnedpubkey` takes it: `sha256//BASE64` (one slash is accepted
    /// too), several separated by `;`. The certificate is still verified
    /// as usual; the pin is checked after that. Any pin may match.
    pub fn pin_sha256(mut self, pins: &str) -> Result<TlsConfig, TlsConfigError> {
        for pin in pins.split(';').map(str::trim) {
            self.pins.push(parse_pin(pin)?);
        }
        Ok(self.changed())
    }

    /// The ALPN protocols to offer, in order of preference (for example
    /// `["h2", "http/1.1"]` or `["mqtt"]`). Replaces any given before.
    pub fn alpn<I, P>(mut self, protocols: I) -> TlsConfig
    where
        I: IntoIterator<Item = P>,
        P: Into<Vec<u8>>,
    {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self.changed()
    }

    /// **A test aid. Never use it in production.** With `true`, the
    /// server's certificate is not verified at all: any certificate for
    /// any name from anyone is accepted (a pin, if given, is still
    /// checked; so are the handshake's signatures). Every connection made
    /// with it logs a warning. It is what the CLI's `--insecure` uses.
    pub fn insecure_skip_verify_for_testing(mut self, on: bool) -> TlsConfig {
        self.insecure = on;
        self.changed()
    }

    /// Whether [`insecure_skip_verify_for_testing`](Self::insecure_skip_verify_for_testing)
    /// is on.
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// The rustls configuration, built on first use and then shared.
    fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        self.built.get_or_init(|| self.build()).clone()
    }

    fn build(&self) -> Result<Arc<ClientConfig>, String> {
        let provider = provider();
        let algorithms = provider.signature_verification_algorithms;
        let inner = if self.insecure {
            None
        } else {
            let store = match &self.roots {
                Roots::System => system_roots()?,
                Roots::Pem(certs) => {
                    let mut store = RootCertStore::empty();
                    store.add_parsable_certificates(certs.iter().cloned());
                    store
                }
            };
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(|e| format!("config: {e}"))?;
            Some(v)
        };
        let verifier = Arc::new(Verifier {
            inner,
            pins: self.pins.clone(),
            algorithms,
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("config: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut config = match &self.client_auth {
            Some(auth) => builder
                .with_client_auth_cert(auth.chain.clone(), auth.key.clone_key())
                .map_err(|e| format!("config: {e}"))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path)
        .map_err(|e| TlsConfigError::new(format!("cannot read {what} '{}': {e}", path.display())))
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::new(format!("bad PEM in the {what}: {e}")))?;
    if certs.is_empty() {
        return Err(TlsConfigError::new(format!(
            "no certificate (BEGIN CERTIFICATE) in the {what}"
        )));
    }
    Ok(certs)
}

/// One pin, `sha256//BASE64` or `sha256/BASE64`.
fn parse_pin(pin: &str) -> Result<[u8; 32], TlsConfigError> {
    let bad = |why: &str| {
        TlsConfigError::new(format!(
            "invalid pin '{pin}': {why} (expected sha256//BASE64 of the server's public key)"
        ))
    };
    let b64 = pin
        .strip_prefix("sha256//")
        .or_else(|| pin.strip_prefix("sha256/"))
        .ok_or_else(|| bad("no sha256// prefix"))?;
    let bytes = base64_decode(b64).ok_or_else(|| bad("not base64"))?;
    bytes
        .try_into()
        .map_err(|_| bad("not 32 bytes (a SHA-256)"))
}

/// Standard base64 (RFC 4648 section 4) with optional `=` padding; `None`
/// for anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A single leftover character (6 bits) is never valid base64, and the
    // bits left over must be zero.
    if bits >= 6 || acc != 0 {
        return None;
    }
    Some(out)
}

/// The system's CA bundle files, first found wins.
#[cfg(not(target_os = "android"))]
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Raspberry Pi OS, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // Alpine, OpenWrt
];
#[cfg(target_os = "android")]
const SYSTEM_BUNDLES: &[&str] = &[];

/// Directories of PEM files, read when no bundle is found.
#[cfg(not(target_os = "android"))]
const SYSTEM_DIRS: &[&str] = &["/etc/ssl/certs"];
/// Android: one PEM file per CA, named by subject hash (Android 14 moved
/// them into the Conscrypt APEX).
#[cfg(target_os = "android")]
const SYSTEM_DIRS: &[&str] = &[
    "/apex/com.android.conscrypt/cacerts",
    "/system/etc/security/cacerts",
];

/// Adds the certificates of one PEM file; returns how many.
fn add_pem_file(store: &mut RootCertStore, path: &Path) -> usize {
    let Ok(pem) = std::fs::read(path) else {
        return 0;
    };
    // A file with a bad section still gives the certificates before it.
    let certs = CertificateDer::pem_slice_iter(&pem).map_while(Result::ok);
    let (added, _) = store.add_parsable_certificates(certs);
    added
}

fn add_pem_dir(store: &mut RootCertStore, dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut added = 0;
    for e in entries.flatten() {
        let path = e.path();
        if path.is_file() {
            added += add_pem_file(store, &path);
        }
    }
    added
}

/// The system's roots: `SSL_CERT_FILE` and `SSL_CERT_DIR` when set (as
/// OpenSSL reads them), else the first bundle found, else the directories.
fn system_roots() -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    if let Some(f) = std::env::var_os("SSL_CERT_FILE") {
        add_pem_file(&mut store, Path::new(&f));
    }
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        for d in std::env::split_paths(&dirs) {
            add_pem_dir(&mut store, &d);
        }
    }
    if store.is_empty() {
        for f in SYSTEM_BUNDLES {
            if add_pem_file(&mut store, Path::new(f)) > 0 {
                break;
            }
        }
    }
    if store.is_empty() {
        for d in SYSTEM_DIRS {
            add_pem_dir(&mut store, Path::new(d));
        }
    }
    if store.is_empty() {
        return Err(String::from(
            "no_roots: no CA certificate in the system store (give the roots with a CA file)",
        ));
    }
    log::debug!("TLS: {} system root certificates", store.len());
    Ok(store)
}

/// The server certificate check: webpki's (unless insecure), then the
/// pins.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    pins: Vec<[u8; 32]>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(v) = &self.inner {
            v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        if !self.pins.is_empty() && !self.pins.contains(&spki_sha256(end_entity)?) {
            log::debug!("TLS: the server's public key matches no pin");
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// SHA-256 of a certificate's DER SubjectPublicKeyInfo: what a pin is.
fn spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; 32], rustls::Error> {
    let ee = webpki::EndEntityCert::try_from(cert)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let spki = ee.subject_public_key_info();
    let d = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Ok(out)
}

// ---------------------------------------------------------------------------
// Errors

/// A failure of TLS itself, carried inside an `io::Error` so the worker
/// can tell it from a socket error and give it [`Phase::Tls`].
#[derive(Debug)]
struct TlsFailure {
    reason: &'static str,
    detail: String,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for TlsFailure {}

fn failure(kind: io::ErrorKind, reason: &'static str, detail: impl Into<String>) -> io::Error {
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

fn rustls_failure(e: &rustls::Error) -> io::Error {
    failure(io::ErrorKind::InvalidData, reason(e), e.to_string())
}

fn truncated() -> io::Error {
    failure(
        io::ErrorKind::UnexpectedEof,
        "truncated",
        "the server closed the connection without close_notify",
    )
}

fn tls_failed(e: io::Error) -> Failure {
    Failure::Failed(Phase::Tls, e)
}

// ---------------------------------------------------------------------------
// The transport

/// Size of the ciphertext buffer: one full TLS record (16 KiB of data and
/// its overhead) and some of the next, read with one `read(2)`.
const RAW: usize = 18 * 1024;

/// A TLS client connection over the worker's blocking socket.
///
/// Reading: one `read(2)` at most per call into `raw`, fed to rustls as it
/// takes it; decrypted bytes wait in rustls until they are asked for, so
/// [`TlsStream::wants_read`] says when there is something to deliver
/// without waiting for the socket. Writing: plaintext is taken only when
/// every record before it is on the socket, so at most one batch is in
/// rustls's records at a time ([`TlsStream::unflushed`]).
///
/// Acknowledgements: TCP acknowledges ciphertext. Each batch of plaintext
/// taken becomes records that end at a known ciphertext offset once they
/// are all on the socket; [`TlsStream::plain_acked`] maps an acknowledged
/// ciphertext offset back to the plaintext of the batches wholly below it
/// (a FIFO of `(ciphertext end, plaintext end)` per batch). Anything else
/// written between batches (a key update, `close_notify`) only moves the
/// next batch's end later, so the count never overstates.
pub(crate) struct TlsStream {
    conn: ClientConnection,
    sock: TcpStream,
    raw: Box<[u8]>,
    raw_start: usize,
    raw_end: usize,
    /// The socket read returned end of stream.
    sock_eof: bool,
    /// ... and rustls has been told.
    eof_fed: bool,
    /// Plaintext bytes taken whose records are not all written yet.
    unflushed: usize,
    /// TLS bytes written to the socket, all told (the handshake's too:
    /// the same offsets as TCP's acknowledgements).
    written: u64,
    /// Plaintext bytes taken, all told.
    taken: u64,
    /// Batches on the socket and not yet known to be acknowledged:
    /// `(ciphertext end, plaintext end)`, oldest first.
    batches: heapless::Deque<(u64, u64), ACK_BATCHES>,
    /// Plaintext of the batches known to be acknowledged.
    acked: u64,
}

/// Batches whose acknowledgement is tracked one by one: 64 of 16 KiB
/// cover 1 MiB in flight. Beyond that the newest two are merged (the
/// older one then counts as acknowledged only with the newer): a lower
/// bound still.
const ACK_BATCHES: usize = 64;

/// As the worker's: the I/O slice ran out (`EAGAIN`) or a signal came.
/// `TimedOut` is the kernel ending the connection (`TCP_USER_TIMEOUT`,
/// keepalive), not a slice.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

impl TlsStream {
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// What the handshake negotiated.
    pub(crate) fn info(&self) -> TlsInfo {
        let version = match self.conn.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            Some(v) => v.as_str().unwrap_or("unknown"),
            None => "unknown",
        };
        let cipher = match self.conn.negotiated_cipher_suite().map(|s| s.suite()) {
            // rustls calls the TLS 1.3 suites TLS13_*; IANA, TLS_*.
            Some(CipherSuite::TLS13_AES_128_GCM_SHA256) => "TLS_AES_128_GCM_SHA256",
            Some(CipherSuite::TLS13_AES_256_GCM_SHA384) => "TLS_AES_256_GCM_SHA384",
            Some(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256) => "TLS_CHACHA20_POLY1305_SHA256",
            Some(s) => s.as_str().unwrap_or("unknown"),
            None => "unknown",
        };
        TlsInfo { version, cipher }
    }

    /// Records are waiting to be written.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Something can be delivered (or an end reported) without waiting for
    /// the socket: decrypted bytes, ciphertext not yet fed, a
    /// `close_notify` or end of stream not yet reported.
    pub(crate) fn wants_read(&self) -> bool {
        self.raw_start < self.raw_end || (self.sock_eof && !self.eof_fed) || !self.conn.wants_read()
    }

    /// Plaintext taken (and counted as sent) whose records are not all on
    /// the socket.
    pub(crate) fn unflushed(&self) -> usize {
        self.unflushed
    }

    /// TLS bytes written so far (progress for the write timeout, and what
    /// TCP's acknowledgements count).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The plaintext bytes whose records lie wholly within the first
    /// `wire_acked` ciphertext bytes written: never more than the server's
    /// TCP acknowledged. Samples only ever raise it.
    pub(crate) fn plain_acked(&mut self, wire_acked: u64) -> u64 {
        while let Some(&(wire_end, plain_end)) = self.batches.front() {
            if wire_end > wire_acked {
                break;
            }
            self.acked = plain_end;
            self.batches.pop_front();
        }
        self.acked
    }

    /// All records of the plaintext taken are on the socket: the batch's
    /// ciphertext end is known.
    fn batch_done(&mut self) {
        self.unflushed = 0;
        let entry = (self.written, self.taken);
        if self.batches.back().is_some_and(|&(_, p)| p == self.taken) {
            return;
        }
        if let Err(entry) = self.batches.push_back(entry) {
            // Full: the newest batch absorbs the one before it.
            self.batches.pop_back();
            let _ = self.batches.push_back(entry);
        }
    }

    fn process(&mut self) -> io::Result<()> {
        match self.conn.process_new_packets() {
            Ok(_) => Ok(()),
            Err(e) => {
                log::debug!("TLS: {e}");
                Err(rustls_failure(&e))
            }
        }
    }

    /// Feeds what `raw` holds (or the end of stream) to rustls; returns
    /// false when there is nothing to feed.
    fn feed(&mut self) -> io::Result<bool> {
        if self.raw_start < self.raw_end {
            let n = self
                .conn
                .read_tls(&mut &self.raw[self.raw_start..self.raw_end])?;
            // rustls takes nothing after the server's close_notify: what
            // follows it is dropped.
            self.raw_start = if n == 0 {
                self.raw_end
            } else {
                self.raw_start + n
            };
            self.process()?;
            return Ok(true);
        }
        if self.sock_eof && !self.eof_fed {
            self.eof_fed = true;
            self.conn.read_tls(&mut io::empty())?;
            self.process()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// One `read(2)` into `raw` (only when it is empty).
    fn read_socket(&mut self) -> io::Result<()> {
        match (&self.sock).read(&mut self.raw) {
            Ok(0) => self.sock_eof = true,
            Ok(n) => {
                self.raw_start = 0;
                self.raw_end = n;
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Decrypted bytes into `buf` (not empty): `Ok(0)` after the server's
    /// `close_notify`; `WouldBlock` when a record is not complete yet; a
    /// truncation (end of stream without `close_notify`) is an error.
    /// Reads the socket at most once.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut read_socket = false;
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(truncated()),
                Err(e) => return Err(e),
            }
            if self.feed()? {
                continue;
            }
            if self.sock_eof || read_socket {
                // Fed everything and still nothing: wait for more.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            read_socket = true;
            self.read_socket()?;
        }
    }

    /// One `write(2)` of the waiting records.
    fn flush_once(&mut self) -> io::Result<()> {
        match self.conn.write_tls(&mut &self.sock) {
            Ok(n) => {
                self.written += n as u64;
                if !self.conn.wants_write() && self.unflushed > 0 {
                    self.batch_done();
                }
                Ok(())
            }
            Err(e) if is_transient(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Writes the records still waiting, then takes plaintext from `buf`
    /// and writes its records. Returns the plaintext bytes taken;
    /// `WouldBlock` when earlier records still do not fit in the socket.
    /// `Ok(0)` for an empty `buf` (only a flush).
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.conn.wants_write() {
            self.flush_once()?;
            if self.conn.wants_write() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.conn.writer().write(buf)?;
        self.took(n)
    }

    /// `n` plaintext bytes became records: one try at writing them.
    fn took(&mut self, n: usize) -> io::Result<usize> {
        if n == 0 {
            return Ok(0);
        }
        self.unflushed = n;
        self.taken += n as u64;
        if let Err(e) = self.flush_once() {
            // The caller keeps these bytes and counts them unsent.
            self.unflushed = 0;
            self.taken -= n as u64;
            return Err(e);
        }
        Ok(n)
    }

    /// `close_notify`, written out (trying for at most `limit`), then the
    /// TCP half-close.
    pub(crate) fn shutdown_write(&mut self, limit: Duration) -> io::Result<()> {
        self.conn.send_close_notify();
        let deadline = Instant::now().checked_add(limit);
        while self.conn.wants_write() {
            self.flush_once()?;
            if self.conn.wants_write() && deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "close_notify could not be written: the server is not reading",
                ));
            }
        }
        self.sock.shutdown(Shutdown::Write)
    }

    /// Before the socket closes: a `close_notify` when `notify` (nothing
    /// was lost), and, when `notify` or `flush`, one try at writing what
    /// is queued (that, or the alert rustls queued for an error) if no
    /// accepted byte is in it. Returns the socket.
    pub(crate) fn close(mut self, notify: bool, flush: bool) -> TcpStream {
        if notify {
            self.conn.send_close_notify();
        }
        if (notify || flush) && self.unflushed == 0 && self.conn.wants_write() {
            let _ = self.conn.write_tls(&mut &self.sock);
        }
        self.sock
    }
}

/// The TLS handshake on a connected socket, bounded by `timeout`; the
/// control inbox is looked at throughout (`Shutdown` and `Abort` end it).
/// No byte of application data is written before it completes: the
/// worker takes nothing from the inbox until it returns.
pub(crate) fn handshake(
    tls: &TlsConfig,
    host: &str,
    sock: TcpStream,
    core: &Core,
    timeout: Duration,
) -> Result<TlsStream, Failure> {
    let config = tls.client_config().map_err(|m| {
        let (reason, detail) = m.split_once(": ").unwrap_or(("config", &m));
        let reason = if reason == "no_roots" {
            "no_roots"
        } else {
            "config"
        };
        tls_failed(failure(io::ErrorKind::InvalidInput, reason, detail))
    })?;
    let name = tls.server_name.as_deref().unwrap_or(host).trim();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let name = ServerName::try_from(name.to_owned()).map_err(|_| {
        tls_failed(failure(
            io::ErrorKind::InvalidInput,
            "bad_server_name",
            format!("'{name}' is neither a DNS name nor an IP address"),
        ))
    })?;
    if tls.insecure {
        log::warn!(
            "TLS: NOT verifying the certificate of {name:?} (insecure_skip_verify_for_testing: a test aid)"
        );
    }
    let conn = ClientConnection::new(config, name).map_err(|e| tls_failed(rustls_failure(&e)))?;
    let mut s = TlsStream {
        conn,
        sock,
        raw: vec![0; RAW].into_boxed_slice(),
        raw_start: 0,
        raw_end: 0,
        sock_eof: false,
        eof_fed: false,
        unflushed: 0,
        written: 0,
        taken: 0,
        batches: heapless::Deque::new(),
        acked: 0,
    };
    match drive_handshake(&mut s, core, timeout) {
        Ok(()) => {
            // Our Finished: out now if the socket takes it, else the serve
            // loop writes it first.
            if let Err(e) = s.flush_once() {
                return Err(tls_failed(e));
            }
            let info = s.info();
            log::debug!("TLS: {} {}", info.version, info.cipher);
            if let Some(p) = s.conn.alpn_protocol() {
                log::debug!("TLS: ALPN {}", String::from_utf8_lossy(p));
            }
            Ok(s)
        }
        Err(f) => {
            // The alert rustls queued for the failure, if any: one try.
            if s.conn.wants_write() {
                let _ = s.conn.write_tls(&mut &s.sock);
            }
            Err(f)
        }
    }
}

fn drive_handshake(s: &mut TlsStream, core: &Core, timeout: Duration) -> Result<(), Failure> {
    let deadline = Instant::now().checked_add(timeout);
    while s.conn.is_handshaking() {
        if let Some(reason) = core.stop_requested() {
            return Err(Failure::Stopped(reason));
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(tls_failed(failure(
                io::ErrorKind::TimedOut,
                "timeout",
                format!("the TLS handshake took longer than {timeout:?}"),
            )));
        }
        if s.conn.wants_write() {
            match s.conn.write_tls(&mut &s.sock) {
                Ok(n) => {
                    s.written += n as u64;
                    continue;
                }
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(tls_failed(e)),
            }
        }
        // Fed what we have first: it may complete the handshake.
        match s.feed() {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => return Err(tls_failed(e)),
        }
        if s.sock_eof {
            return Err(tls_failed(failure(
                io::ErrorKind::UnexpectedEof,
                "eof",
                "the server closed the connection during the TLS handshake",
            )));
        }
        // Reading is always wanted until the handshake is done.
        let want_write = s.conn.wants_write();
        let want_read = true;
        let left = deadline.map(|d| d.saturating_duration_since(now));
        let parked = core.park();
        if core.stop_requested().is_some() {
            drop(parked);
            continue;
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&s.sock);
        let ready = parked
            .poll(|wake| sys::poll(fd, want_read, want_write, wake, left))
            .map_err(tls_failed)?;
        if want_read && ready.readable {
            match s.read_socket() {
                Ok(()) => {}
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(tls_failed(e)),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The test peers' side

/// A server certificate and key for the test peers
/// ([`spawn_tls_server`](crate::peers::spawn_tls_server), `ttc serve
/// --tls-cert FILE --tls-key FILE`): TLS 1.2 and 1.3, no client
/// certificate asked for.
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsServerConfig")
    }
}

impl TlsServerConfig {
    /// From a PEM certificate chain (leaf first) and its PEM private key.
    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<TlsServerConfig, TlsConfigError> {
        let chain = parse_certs(cert, "server certificate")?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| TlsConfigError::new(format!("no private key in the key PEM: {e}")))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsConfigError::new(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsConfigError::new(format!("unusable certificate or key: {e}")))?;
        Ok(TlsServerConfig {
            config: Arc::new(config),
        })
    }

    /// [`from_pem`](Self::from_pem) from two files.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<TlsServerConfig, TlsConfigError> {
        let c = read(cert.as_ref(), "certificate file")?;
        let k = read(key.as_ref(), "key file")?;
        TlsServerConfig::from_pem(&c, &k)
    }

    /// A server connection on an accepted socket; the handshake happens on
    /// its first read or write.
    pub(crate) fn accept(&self, sock: TcpStream) -> io::Result<TlsServerStream> {
        let conn = rustls::ServerConnection::new(self.config.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(TlsServerStream(rustls::StreamOwned::new(conn, sock)))
    }
}

/// A blocking TLS server stream for the test peers.
pub(crate) struct TlsServerStream(rustls::StreamOwned<rustls::ServerConnection, TcpStream>);

impl TlsServerStream {
    pub(crate) fn socket(&self) -> &TcpStream {
        &self.0.sock
    }

    /// `close_notify`, written out, then the TCP half-close.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.conn.send_close_notify();
        while self.0.conn.wants_write() {
            self.0.conn.write_tls(&mut self.0.sock)?;
        }
        self.0.sock.shutdown(Shutdown::Write)
    }
}

impl Read for TlsServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_tls_base64_decodes_and_refuses_garbage() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob");
        for bad in ["Z", "Zm9vY", "Zh==", "Zm9v!", "Zm 9v", "Zm-v"] {
            assert_eq!(base64_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn test_tls_pin_forms() {
        // SHA-256 of nothing, a well-known value.
        let p = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        let want = parse_pin(&format!("sha256//{p}")).unwrap();
        assert_eq!(want[0], 0xe3);
        assert_eq!(parse_pin(&format!("sha256/{p}")).unwrap(), want);
        for bad in [
            p.to_string(),
            format!("sha1//{p}"),
            "sha256//AAAA".to_string(),
            "sha256//not base64".to_string(),
        ] {
            let e = parse_pin(&bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid pin"), "{e}");
        }
        let two = TlsConfig::new()
            .pin_sha256(&format!("sha256//{p}; sha256//{p}"))
            .unwrap();
        assert_eq!(two.pins.len(), 2);
        assert!(TlsConfig::new().pin_sha256("").is_err());
    }

    #[test]
    fn test_tls_reasons() {
        use rustls::Error as E;
        use CertificateError as C;
        for (e, want) in [
            (E::InvalidCertificate(C::UnknownIssuer), "unknown_issuer"),
            (E::InvalidCertificate(C::Expired), "expired"),
            (E::InvalidCertificate(C::NotValidForName), "name_mismatch"),
            (
                E::InvalidCertificate(C::ApplicationVerificationFailure),
                "pin_mismatch",
            ),
            (E::InvalidCertificate(C::BadSignature), "bad_certificate"),
            (
                E::AlertReceived(rustls::AlertDescription::HandshakeFailure),
                "alert",
            ),
            (E::DecryptError, "protocol"),
        ] {
            assert_eq!(reason(&e), want, "{e:?}");
            let io = rustls_failure(&e);
            assert!(is_tls_failure(&io));
            assert_eq!(io.kind(), io::ErrorKind::InvalidData);
            assert!(io.to_string().starts_with(&format!("{want}: ")), "{io}");
        }
        assert!(!is_tls_failure(&io::Error::from(
            io::ErrorKind::ConnectionReset
        )));
        assert_eq!(truncated().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn test_tls_bad_pem_is_a_config_error() {
        let e = TlsConfig::new().ca_pem(b"not pem").unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        let e = TlsConfig::new()
            .ca_file("/nonexistent/ca.pem")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read CA file"), "{e}");
        let e = TlsConfig::new()
            .client_cert_pem(b"", b"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("client certificate"), "{e}");
        assert!(TlsServerConfig::from_pem(b"", b"").is_err());
    }
}

/// For the fuzz target `tls_handshake` (fuzz/fuzz_targets): not part of
/// the API, may change at any time.
#[doc(hidden)]
pub mod fuzzing {
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
