//! The real `xmpp_proto::client::Client` driven by the transport, against
//! a scripted server on loopback: direct TLS, the stream header through
//! TLS, a clean close answered in kind.

mod common;

use std::thread;

use common::{Ev, Peer, drive, tcp_pair};
use xmpp_proto::client::{Client, ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::jid::Jid;
use xmpp_transport_std::clock;
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::{ClientTls, Connection};

const SERVER_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='localhost' version='1.0'>";

#[test]
fn client_over_direct_tls_closes_cleanly() {
    let pki = TestPki::localhost().unwrap();
    let (c, s) = tcp_pair();
    let config = ClientConfig::new(Jid::new("alice@localhost").unwrap(), "secret")
        .with_tls(ClientTlsPolicy::Direct);
    let tls = ClientTls::new(&pki.trust_anchors(), config.domain()).unwrap();
    let mut client = Connection::new_client(c, Client::new(config, clock::now()), tls).unwrap();
    let mut server_peer = Peer::new();
    server_peer.start_tls();
    let mut server = Connection::new_server(s, server_peer, pki.server_tls()).unwrap();

    let (events, server_out) = thread::scope(|scope| {
        let server = scope.spawn(move || {
            drive(&mut server, |peer, ev| {
                if matches!(ev, Ev::Tls(_)) {
                    // Open our stream and close it at once.
                    peer.send_bytes(format!("{SERVER_HEADER}</stream:stream>").into_bytes());
                }
            })
        });
        let mut events = Vec::new();
        while let Some(event) = client.next_event().unwrap() {
            events.push(event);
        }
        (events, server.join().unwrap())
    });

    assert_eq!(
        events,
        [ClientEvent::Closed {
            reason: CloseReason::Normal
        }]
    );
    let info = client
        .endpoint()
        .tls()
        .expect("TLS facts reached the client");
    assert_eq!(
        info.tls_exporter(),
        server_out.tls().unwrap().tls_exporter()
    );
    assert!(server_out.error.is_none(), "{:?}", server_out.error);
    assert_eq!(server_out.events.last(), Some(&Ev::Eof));
}
