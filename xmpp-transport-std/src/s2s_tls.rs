//! TLS for server-to-server streams: our certificate both ways (as the
//! server of incoming streams and as the client certificate of our
//! links), peers' servers verified as any TLS client does, and peers'
//! client certificates checked here rather than by the handshake.
//!
//! A peer's certificate is asked for but never makes the handshake fail:
//! one that does not verify (self-signed, another CA, a server
//! certificate without the client-authentication usage, as public CAs
//! now issue them) only names no domain, and the stream falls back to
//! dialback where the policy allows it. Only a certificate that chains
//! to the trust anchors, for server or client authentication, names
//! domains in the endpoint's TLS facts (`TlsInfo::peer_names`).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use xmpp_proto::s2s::S2sPolicy;

use crate::server_tls::{ServerTls, parse_chain, parse_key};
use crate::tls::{ClientTls, TrustAnchors};

/// Our TLS for federation: the certificate and key of our domain, and
/// the authorities whose certificates we take from peers.
///
/// ```no_run
/// use xmpp_transport_std::s2s_tls::S2sTls;
/// use xmpp_transport_std::tls::TrustAnchors;
///
/// let tls = S2sTls::from_pem_files("fullchain.pem", "privkey.pem", &TrustAnchors::webpki_roots())?;
/// let to_peer = tls.client("example.net")?; // for our link to example.net
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct S2sTls {
    server: ServerTls,
    client: Arc<rustls::ClientConfig>,
    /// Our links where dialback is allowed: any server certificate.
    lenient_client: Arc<rustls::ClientConfig>,
    roots: Arc<RootCertStore>,
}

impl S2sTls {
    /// Our chain (leaf first) and key, and the peers' authorities.
    ///
    /// # Errors
    /// If the chain is empty or the key does not suit it.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        anchors: &TrustAnchors,
    ) -> io::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let leaf = chain
            .first()
            .cloned()
            .ok_or_else(|| invalid("no certificate in the chain".into()))?;
        let verifier = Arc::new(AnyPeerCertificate {
            algorithms: provider.signature_verification_algorithms,
        });
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS set-up: {e}")))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(|e| invalid(format!("unusable certificate or key: {e}")))?;
        let client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS set-up: {e}")))?
            .with_root_certificates(anchors.roots())
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(|e| invalid(format!("unusable certificate or key: {e}")))?;
        let lenient_client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS set-up: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyPeerCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_client_auth_cert(chain, key)
            .map_err(|e| invalid(format!("unusable certificate or key: {e}")))?;
        Ok(S2sTls {
            server: ServerTls::from_config(Arc::new(server), leaf).verifying_peers(anchors.roots()),
            client: Arc::new(client),
            lenient_client: Arc::new(lenient_client),
            roots: anchors.roots(),
        })
    }

    /// As [`S2sTls::new`], the chain and key from PEM files.
    ///
    /// # Errors
    /// If a file cannot be read or holds no usable certificate or key.
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
        anchors: &TrustAnchors,
    ) -> io::Result<Self> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        let read = |path: &Path| {
            std::fs::read(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        };
        Self::new(
            parse_chain(&read(chain)?)?,
            parse_key(&read(key)?)?,
            anchors,
        )
    }

    /// The TLS of streams peers open to us.
    pub fn server(&self) -> &ServerTls {
        &self.server
    }

    /// The TLS of our link to `domain`: its certificate verified for
    /// `domain`, ours presented.
    ///
    /// # Errors
    /// If `domain` is not a valid TLS server name.
    pub fn client(&self, domain: &str) -> io::Result<ClientTls> {
        ClientTls::from_config(self.client.clone(), domain)
    }

    /// The TLS of our link to `domain` under `policy`: the peer's
    /// certificate verified for `domain` ([`S2sTls::client`]), or, where
    /// dialback is allowed, any certificate encrypting the stream
    /// ([`S2sTls::client_trusting_dns`]).
    ///
    /// # Errors
    /// If `domain` is not a valid TLS server name.
    pub fn for_link(&self, domain: &str, policy: S2sPolicy) -> io::Result<ClientTls> {
        match policy {
            S2sPolicy::AllowDialback => self.client_trusting_dns(domain),
            _ => self.client(domain),
        }
    }

    /// The TLS of our link to `domain` where dialback is allowed
    /// (`S2sPolicy::AllowDialback`): the stream is encrypted whatever
    /// certificate the peer shows, as the rest of the federated network
    /// does, since dialback proves domains through DNS anyway; the
    /// certificate's names still count only if it verifies.
    ///
    /// # Errors
    /// If `domain` is not a valid TLS server name.
    pub fn client_trusting_dns(&self, domain: &str) -> io::Result<ClientTls> {
        Ok(ClientTls::from_config(self.lenient_client.clone(), domain)?
            .checking_peer_after(self.roots.clone()))
    }
}

impl fmt::Debug for S2sTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S2sTls").finish_non_exhaustive()
    }
}

/// Takes whatever certificate a peer shows (as a client, always; as a
/// server, where dialback is allowed), checking only that the peer holds
/// its key (the handshake signature); whether the certificate vouches
/// for anything is [`verified_names`]'s question.
#[derive(Debug)]
struct AnyPeerCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyPeerCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for AnyPeerCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The DNS names of `chain`'s leaf if it chains to `roots` and is valid
/// now for server or client authentication; none otherwise.
pub(crate) fn verified_names(chain: &[CertificateDer<'_>], roots: &RootCertStore) -> Vec<String> {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Vec::new();
    };
    let Ok(cert) = webpki::EndEntityCert::try_from(leaf) else {
        return Vec::new();
    };
    let algorithms = rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all;
    let now = UnixTime::now();
    let verified = [
        webpki::KeyUsage::server_auth(),
        webpki::KeyUsage::client_auth(),
    ]
    .into_iter()
    .any(|usage| {
        cert.verify_for_usage(
            algorithms,
            &roots.roots,
            intermediates,
            now,
            usage,
            None,
            None,
        )
        .is_ok()
    });
    if !verified {
        return Vec::new();
    }
    cert.valid_dns_names()
        .map(str::to_ascii_lowercase)
        .collect()
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}
