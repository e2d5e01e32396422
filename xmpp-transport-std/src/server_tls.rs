//! The receiving entity's TLS settings: its certificate and key.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{RootCertStore, ServerConfig};

/// The server side's TLS settings: a rustls [`ServerConfig`] and the leaf
/// certificate it presents.
///
/// The leaf certificate is kept because `tls-server-end-point` channel
/// binding (RFC 5929) is the hash of the server's own certificate, which a
/// rustls server session does not hand back.
///
/// Load a certificate chain and key from PEM files with
/// [`ServerTls::from_pem_files`]; tests and demos can generate a throw-away
/// CA with the `test-certs` feature (`test_certs::TestPki`).
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    leaf: CertificateDer<'static>,
    /// Set where the configuration takes any client certificate: the
    /// authorities a peer's must chain to for its names to count.
    peer_roots: Option<Arc<RootCertStore>>,
}

impl ServerTls {
    /// The chain (leaf first) and private key in two PEM files, as a
    /// certificate authority or `certbot` hands them out. The key may be
    /// PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    ///
    /// # Errors
    /// If a file cannot be read, holds no certificate or no key, or the
    /// key does not suit the certificate; the message names the file.
    pub fn from_pem_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<Self> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        let with_path = |path: &Path| {
            let shown = path.display().to_string();
            move |e: io::Error| io::Error::new(e.kind(), format!("{shown}: {e}"))
        };
        let chain_pem = fs::read(chain).map_err(with_path(chain))?;
        let key_pem = fs::read(key).map_err(with_path(key))?;
        let certs = parse_chain(&chain_pem).map_err(with_path(chain))?;
        let key = parse_key(&key_pem).map_err(with_path(key))?;
        Self::new(certs, key)
    }

    /// The chain (leaf first) and private key as PEM text.
    ///
    /// # Errors
    /// As [`ServerTls::from_pem_files`].
    pub fn from_pem(chain: &[u8], key: &[u8]) -> io::Result<Self> {
        Self::new(parse_chain(chain)?, parse_key(key)?)
    }

    /// A chain (leaf first) and key already in DER form, served with the
    /// ring provider and rustls' safe default protocol versions (TLS 1.2
    /// and 1.3), no client certificates.
    ///
    /// # Errors
    /// If the chain is empty or the key does not suit the certificate.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> io::Result<Self> {
        let leaf = chain
            .first()
            .cloned()
            .ok_or_else(|| invalid("no certificate in the chain".into()))?;
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| invalid(format!("TLS set-up: {e}")))?
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .map_err(|e| invalid(format!("unusable certificate or key: {e}")))?;
        Ok(ServerTls {
            config: Arc::new(config),
            leaf,
            peer_roots: None,
        })
    }

    /// A rustls configuration of your own (client certificates for SASL
    /// EXTERNAL, several names by SNI) and the leaf certificate it
    /// presents, for `tls-server-end-point`.
    pub fn from_config(config: Arc<ServerConfig>, leaf: CertificateDer<'static>) -> Self {
        ServerTls {
            config,
            leaf,
            peer_roots: None,
        }
    }

    /// Peers' certificates are checked after the handshake against
    /// `roots` (for a configuration that takes any).
    pub(crate) fn verifying_peers(mut self, roots: Arc<RootCertStore>) -> Self {
        self.peer_roots = Some(roots);
        self
    }

    pub(crate) fn peer_roots(&self) -> Option<&RootCertStore> {
        self.peer_roots.as_deref()
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The certificate presented to clients.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.leaf
    }

    /// A fresh rustls server session (for transports of your own;
    /// `xmpp-transport-mio` uses it).
    ///
    /// # Errors
    /// If rustls refuses the configuration.
    pub fn accept(&self) -> Result<rustls::ServerConnection, rustls::Error> {
        rustls::ServerConnection::new(self.config.clone())
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

pub(crate) fn parse_chain(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("bad PEM certificate: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("no certificate found in the PEM data".into()));
    }
    Ok(chain)
}

pub(crate) fn parse_key(pem: &[u8]) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| invalid(format!("no usable private key: {e}")))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
