//! The client side's settings: roots, the client certificate, pins and
//! ALPN, and the verifier that checks the server against them.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{self, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// A TLS setting that could not be used: a file that cannot be read, PEM
/// with nothing usable in it, a key that does not match its certificate,
/// a malformed pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfigError {
    message: String,
}

impl TlsConfigError {
    pub(super) fn new(message: impl Into<String>) -> TlsConfigError {
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
pub(super) enum Roots {
    /// The system's store, read when the first connection needs it.
    System,
    /// Certificates given as PEM.
    Pem(Arc<Vec<CertificateDer<'static>>>),
}

/// A client certificate chain and its private key (mutual TLS).
pub(super) struct ClientAuth {
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
    pub(super) server_name: Option<String>,
    roots: Roots,
    client_auth: Option<Arc<ClientAuth>>,
    pins: Vec<[u8; 32]>,
    alpn: Vec<Vec<u8>>,
    pub(super) insecure: bool,
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
    pub(super) fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
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

pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

pub(super) fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path)
        .map_err(|e| TlsConfigError::new(format!("cannot read {what} '{}': {e}", path.display())))
}

pub(super) fn parse_certs(
    pem: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
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
pub(super) fn parse_pin(pin: &str) -> Result<[u8; 32], TlsConfigError> {
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
pub(super) fn base64_decode(s: &str) -> Option<Vec<u8>> {
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
pub(super) const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Raspberry Pi OS, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // Alpine, OpenWrt
];
#[cfg(target_os = "android")]
pub(super) const SYSTEM_BUNDLES: &[&str] = &[];

/// Directories of PEM files, read when no bundle is found.
#[cfg(not(target_os = "android"))]
pub(super) const SYSTEM_DIRS: &[&str] = &["/etc/ssl/certs"];
/// Android: one PEM file per CA, named by subject hash (Android 14 moved
/// them into the Conscrypt APEX).
#[cfg(target_os = "android")]
pub(super) const SYSTEM_DIRS: &[&str] = &[
    "/apex/com.android.conscrypt/cacerts",
    "/system/etc/security/cacerts",
];

/// Adds the certificates of one PEM file; returns how many.
pub(super) fn add_pem_file(store: &mut RootCertStore, path: &Path) -> usize {
    let Ok(pem) = std::fs::read(path) else {
        return 0;
    };
    // A file with a bad section still gives the certificates before it.
    let certs = CertificateDer::pem_slice_iter(&pem).map_while(Result::ok);
    let (added, _) = store.add_parsable_certificates(certs);
    added
}

pub(super) fn add_pem_dir(store: &mut RootCertStore, dir: &Path) -> usize {
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
pub(super) fn system_roots() -> Result<RootCertStore, String> {
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
pub(super) struct Verifier {
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
pub(super) fn spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; 32], rustls::Error> {
    let ee = webpki::EndEntityCert::try_from(cert)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let spki = ee.subject_public_key_info();
    let d = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{is_tls_failure, reason, rustls_failure, truncated, TlsServerConfig};
    use std::io;

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
