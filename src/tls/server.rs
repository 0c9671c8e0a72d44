//! The test peers' side (`ttc serve --tls-cert`): a server configuration
//! and stream.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;

use super::config::{parse_certs, provider, read};
use super::TlsConfigError;

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
