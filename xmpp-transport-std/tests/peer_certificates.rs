//! The names of a peer's verified certificate reach the endpoint's TLS
//! facts: a server that asks for client certificates (as a server taking
//! server-to-server streams does) learns the domains a peer's certificate
//! names, and a client those of the server's.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use xmpp_proto::client::{Client, ClientConfig, ClientTlsPolicy};
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::jid::Jid;
use xmpp_proto::server::{Server, ServerConfig, ServerTlsPolicy};
use xmpp_proto::time::Time;
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::tls_pump::{SocketOutput, TlsPump};
use xmpp_transport_std::{ClientTls, ServerTls};

fn roots(pki: &TestPki) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca_pem().as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(roots)
}

/// Moves `from`'s socket output into `to`.
fn pipe<A: Endpoint, B: Endpoint>(from: &mut TlsPump<A>, to: &mut TlsPump<B>) -> bool {
    let mut moved = false;
    while let Some(SocketOutput::Data(d)) = from.poll_socket_output() {
        let d = d.to_vec();
        from.consume_socket_output(d.len());
        to.handle_socket_data(Time::ZERO, &d).unwrap();
        moved = true;
    }
    moved
}

#[test]
fn a_client_certificate_names_the_peer_domain() {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // The receiving server: localhost's certificate, client certificates
    // asked for, verified against the peer's CA, but not required.
    let ours = TestPki::localhost().unwrap();
    let peer = TestPki::generate(&["a.example", "*.b.example"]).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(&peer), provider.clone())
            .allow_unauthenticated()
            .build()
            .unwrap();
    let (chain, key) = ours.chain_and_key();
    let leaf = chain[0].clone();
    let server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let server_tls = ServerTls::from_config(Arc::new(server_config), leaf);
    // The initiating side presents a.example's certificate.
    let (chain, key) = peer.chain_and_key();
    let client_config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&ours))
        .with_client_auth_cert(chain, key)
        .unwrap();
    let client_tls = ClientTls::from_config(Arc::new(client_config), "localhost").unwrap();

    let config = ClientConfig::new(Jid::new("alice@localhost").unwrap(), "pw")
        .with_tls(ClientTlsPolicy::Direct);
    let mut client = TlsPump::client(Client::new(config, Time::ZERO), Arc::new(client_tls));
    let config = ServerConfig::new("localhost")
        .unwrap()
        .with_tls(ServerTlsPolicy::Direct);
    let mut server = TlsPump::server(Server::new(config, Time::ZERO), Arc::new(server_tls));
    for _ in 0..10 {
        let a = pipe(&mut client, &mut server);
        let b = pipe(&mut server, &mut client);
        if !a && !b {
            break;
        }
    }
    let at_server = server.endpoint().tls().expect("TLS is up at the server");
    assert!(
        at_server.peer_certified_for("a.example"),
        "{:?}",
        at_server.peer_names()
    );
    assert!(at_server.peer_certified_for("chat.b.example"));
    assert!(!at_server.peer_certified_for("localhost"));
    let at_client = client.endpoint().tls().expect("TLS is up at the client");
    assert!(at_client.peer_certified_for("localhost"));
    assert!(!at_client.peer_certified_for("a.example"));
}
