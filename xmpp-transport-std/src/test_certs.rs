//! A throw-away certificate authority for tests, examples and demos
//! (feature `test-certs`). Never use these certificates in production:
//! the CA's key is generated in memory and forgotten, so nothing checks
//! who holds it.

use std::fmt;
use std::io;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use xmpp_proto::random::{OsRandom, RandomSource};

use crate::server_tls::ServerTls;
use crate::tls::TrustAnchors;

/// A freshly generated CA and one server certificate it signed.
///
/// ```
/// use xmpp_transport_std::test_certs::TestPki;
///
/// let pki = TestPki::localhost()?;
/// assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// let anchors = pki.trust_anchors(); // for the client side
/// let server = pki.server_tls();     // for the server side
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct TestPki {
    ca_pem: String,
    anchors: TrustAnchors,
    server: ServerTls,
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl TestPki {
    /// A CA and a server certificate for `localhost` and `127.0.0.1`.
    ///
    /// # Errors
    /// If generating the keys fails (the system random generator).
    pub fn localhost() -> io::Result<Self> {
        Self::generate(&["localhost", "127.0.0.1"])
    }

    /// A CA and a server certificate for the given names (DNS names or IP
    /// addresses; for XMPP, the domains the server serves).
    ///
    /// # Errors
    /// If a name is not usable in a certificate, or key generation fails.
    pub fn generate(names: &[&str]) -> io::Result<Self> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("xmpp-transport-std test CA {}", tag()),
        );
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().map_err(rcgen_error)?;
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(rcgen_error)?;

        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf_params = CertificateParams::new(names.clone()).map_err(rcgen_error)?;
        if let Some(first) = names.first() {
            leaf_params
                .distinguished_name
                .push(DnType::CommonName, first.as_str());
        }
        let leaf_key = KeyPair::generate().map_err(rcgen_error)?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(rcgen_error)?;

        let ca_pem = ca.pem();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
        Ok(TestPki {
            anchors: TrustAnchors::from_pem(ca_pem.as_bytes())?,
            server: ServerTls::new(chain.clone(), key.clone_key())?,
            ca_pem,
            chain,
            key: Arc::new(key),
        })
    }

    /// The CA certificate as PEM, to write into a file for
    /// [`TrustAnchors::from_pem_file`] or another program (`--ca FILE`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Trust anchors holding only this CA, for the client side.
    pub fn trust_anchors(&self) -> TrustAnchors {
        self.anchors.clone()
    }

    /// The certificate chain (leaf first) and its key, to present as a
    /// client certificate (a server proving its domain to a peer server).
    pub fn chain_and_key(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain.clone(), self.key.clone_key())
    }

    /// The server's TLS settings: the certificate signed by this CA.
    pub fn server_tls(&self) -> ServerTls {
        self.server.clone()
    }
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// A random tag, so that two test CAs never share a name (a verifier
/// would take one for the other's issuer).
fn tag() -> String {
    let mut bytes = [0u8; 8];
    // Uniqueness, not secrecy: a failed draw falls back to the time.
    if OsRandom.fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rcgen_error(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("generating a test certificate: {e}"))
}
