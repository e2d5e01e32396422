//! rustls set-up for XMPP: trust anchors, the handshake, and the
//! channel-binding data SASL needs.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use sha2::Digest;
use xmpp_proto::tls::{TlsInfo, TlsVersion};

/// The exporter label of RFC 9266 §2.
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

/// Which certificate authorities a client trusts.
///
/// The default is the Mozilla root set (`webpki-roots`). Certificates are
/// always checked against the XMPP domain; there is no "accept anything"
/// switch. Tests use a CA they generate and pass with
/// [`TrustAnchors::from_pem_file`].
///
/// ```
/// use xmpp_transport_std::tls::TrustAnchors;
///
/// let anchors = TrustAnchors::webpki_roots();
/// assert!(anchors.len() > 100);
/// ```
#[derive(Clone)]
pub struct TrustAnchors {
    roots: Arc<RootCertStore>,
}

impl TrustAnchors {
    /// The public web PKI roots shipped with `webpki-roots`.
    pub fn webpki_roots() -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        TrustAnchors {
            roots: Arc::new(roots),
        }
    }

    /// Only the CA certificates in a PEM file (for private deployments and
    /// tests).
    pub fn from_pem_file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let pem = fs::read(path)?;
        Self::from_pem(&pem)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }

    /// Only the CA certificates in PEM text.
    pub fn from_pem(pem: &[u8]) -> io::Result<Self> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| invalid(format!("bad PEM certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| invalid(format!("unusable CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(invalid("no CA certificate found in the PEM data".into()));
        }
        Ok(TrustAnchors {
            roots: Arc::new(roots),
        })
    }

    /// How many anchors there are.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The root store, for rustls configurations of this crate's own.
    pub(crate) fn roots(&self) -> Arc<RootCertStore> {
        self.roots.clone()
    }

    /// A rustls client configuration trusting these anchors.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map(|b| {
                    b.with_root_certificates(self.roots.clone())
                        .with_no_client_auth()
                });
        match config {
            Ok(config) => Arc::new(config),
            // The ring provider supports the default versions; this cannot
            // fail, but a panic here would be worse than a plain config.
            Err(_) => Arc::new(
                ClientConfig::builder()
                    .with_root_certificates(self.roots.clone())
                    .with_no_client_auth(),
            ),
        }
    }
}

/// The client side's TLS settings: whom to trust, and the name the
/// server's certificate must carry.
///
/// ```
/// use xmpp_transport_std::tls::{ClientTls, TrustAnchors};
///
/// let tls = ClientTls::new(&TrustAnchors::webpki_roots(), "example.com")?;
/// assert_eq!(tls.domain(), "example.com");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    domain: String,
    /// Set where the configuration takes any server certificate: the
    /// authorities it must chain to for its names to count.
    peer_roots: Option<Arc<RootCertStore>>,
}

impl ClientTls {
    /// Trust `anchors` and check the certificate against `domain`, the
    /// XMPP domain of the account (RFC 6120 §13.7.2.1), not the host the
    /// TCP connection went to.
    ///
    /// # Errors
    /// If `domain` cannot be a TLS server name.
    pub fn new(anchors: &TrustAnchors, domain: &str) -> io::Result<Self> {
        Self::from_config(anchors.client_config(), domain)
    }

    /// A rustls configuration of your own (client certificates for SASL
    /// EXTERNAL, pinned keys, other protocol versions) with the name to
    /// check.
    ///
    /// # Errors
    /// If `domain` cannot be a TLS server name.
    pub fn from_config(config: Arc<ClientConfig>, domain: &str) -> io::Result<Self> {
        Ok(ClientTls {
            config,
            server_name: server_name(domain)?,
            domain: domain.to_owned(),
            peer_roots: None,
        })
    }

    /// The server's certificate is checked after the handshake against
    /// `roots` (for a configuration that takes any).
    pub(crate) fn checking_peer_after(mut self, roots: Arc<RootCertStore>) -> Self {
        self.peer_roots = Some(roots);
        self
    }

    pub(crate) fn peer_roots(&self) -> Option<&RootCertStore> {
        self.peer_roots.as_deref()
    }

    /// The name the server's certificate is checked against.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// A fresh rustls client session checked against [`ClientTls::domain`]
    /// (for transports of your own; `xmpp-transport-mio` uses it).
    ///
    /// # Errors
    /// If rustls refuses the configuration.
    pub fn connect(&self) -> Result<rustls::ClientConnection, rustls::Error> {
        rustls::ClientConnection::new(self.config.clone(), self.server_name.clone())
    }
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// The server name to verify the certificate against: the XMPP domain
/// (RFC 6120 §13.7.2.1), never an SRV target.
pub fn server_name(domain: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(domain.to_owned())
        .map_err(|_| invalid(format!("{domain:?} is not a valid TLS server name")))
}

/// Collects the channel-binding data of an established session.
///
/// `tls-exporter` (RFC 9266) is given on TLS 1.3 only: on TLS 1.2 it is
/// safe only with the extended master secret, which rustls does not report.
/// `tls-server-end-point` (RFC 5929) is the hash of the server's
/// certificate: the peer's for a client, our own for a server.
pub fn tls_info<D>(
    conn: &rustls::ConnectionCommon<D>,
    server_cert: Option<&CertificateDer<'_>>,
) -> TlsInfo {
    tls_info_checking_peer(conn, server_cert, None)
}

/// As [`tls_info`], for a server whose rustls configuration takes any
/// client certificate: the peer's names count only if its chain leads to
/// `peer_roots`.
pub(crate) fn tls_info_checking_peer<D>(
    conn: &rustls::ConnectionCommon<D>,
    server_cert: Option<&CertificateDer<'_>>,
    peer_roots: Option<&RootCertStore>,
) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => TlsVersion::Tls13,
        _ => TlsVersion::Tls12,
    };
    let mut info = TlsInfo::new(version);
    if version == TlsVersion::Tls13 {
        if let Ok(data) = conn.export_keying_material([0u8; 32], EXPORTER_LABEL, None) {
            info = info.with_tls_exporter(data.to_vec());
        }
    }
    let cert = server_cert.or_else(|| conn.peer_certificates().and_then(|c| c.first()));
    if let Some(cert) = cert {
        info = info.with_tls_server_end_point(end_point_hash(cert));
    }
    // rustls hands out the peer's chain only once it verified it (a
    // server's always; a client's where the server's config asks for
    // one): its names are what server-to-server authentication checks.
    // A server that takes any client certificate checks it itself.
    if let (Some(chain), Some(roots)) = (conn.peer_certificates(), peer_roots) {
        info = info.with_peer_names(crate::s2s_tls::verified_names(chain, roots));
    } else if let Some(peer) = conn.peer_certificates().and_then(|c| c.first()) {
        if let Ok(end_entity) = webpki::EndEntityCert::try_from(peer) {
            let names = end_entity
                .valid_dns_names()
                .map(str::to_ascii_lowercase)
                .collect();
            info = info.with_peer_names(names);
        }
    }
    info
}

/// RFC 5929 §4.1: hash the certificate with the hash of its signature
/// algorithm, or SHA-256 where that is MD5, SHA-1 or not a single hash.
fn end_point_hash(cert: &[u8]) -> Vec<u8> {
    match signature_hash(cert) {
        SigHash::Sha384 => sha2::Sha384::digest(cert).to_vec(),
        SigHash::Sha512 => sha2::Sha512::digest(cert).to_vec(),
        SigHash::Sha256OrOther => sha2::Sha256::digest(cert).to_vec(),
    }
}

enum SigHash {
    Sha256OrOther,
    Sha384,
    Sha512,
}

/// Finds the hash of the certificate's `signatureAlgorithm` (the second
/// element of the outer DER sequence) by its object identifier.
fn signature_hash(cert: &[u8]) -> SigHash {
    // OIDs (DER contents) whose last byte tells the hash.
    const RSA_PKCS1: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03];
    const NIST_HASH: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    let Some(alg) = der_children(cert)
        .and_then(|outer| der_children(outer.first()?.1).map(|_| outer))
        .and_then(|outer| outer.get(1).map(|(_, body)| *body))
    else {
        return SigHash::Sha256OrOther;
    };
    for (prefix, sha384, sha512) in [(RSA_PKCS1, 0x0C, 0x0D), (ECDSA, 0x03, 0x04)] {
        if let Some(pos) = find(alg, prefix) {
            match alg.get(pos + prefix.len()) {
                Some(&b) if b == sha384 => return SigHash::Sha384,
                Some(&b) if b == sha512 => return SigHash::Sha512,
                _ => {}
            }
        }
    }
    // RSASSA-PSS names its hash in the parameters.
    match find(alg, NIST_HASH).and_then(|pos| alg.get(pos + NIST_HASH.len())) {
        Some(0x02) => SigHash::Sha384,
        Some(0x03) => SigHash::Sha512,
        _ => SigHash::Sha256OrOther,
    }
}

/// The (tag, contents) of the elements inside a DER SEQUENCE.
fn der_children(data: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let (tag, body, _) = der_element(data)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = body;
    let mut out = Vec::new();
    while !rest.is_empty() && out.len() < 4 {
        let (tag, body, next) = der_element(rest)?;
        out.push((tag, body));
        rest = next;
    }
    Some(out)
}

/// One DER element: (tag, contents, the bytes after it).
fn der_element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let (len_bytes, rest) = rest.split_at_checked(n)?;
        (
            len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            rest,
        )
    };
    let (body, after) = rest.split_at_checked(len)?;
    Some((tag, body, after))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_walk_is_total_on_garbage() {
        for data in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 2, 3, 4, 5],
            &[0x30, 0x02, 0x30],
        ] {
            assert!(matches!(signature_hash(data), SigHash::Sha256OrOther));
        }
    }

    #[test]
    fn end_point_hash_defaults_to_sha256() {
        assert_eq!(end_point_hash(b"not a certificate").len(), 32);
    }
}
