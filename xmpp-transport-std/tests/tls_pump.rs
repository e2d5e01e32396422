//! The TLS pump on its own: a real `Client` and `Server`, each behind a
//! `TlsPump`, wired byte to byte in memory with real rustls sessions (no
//! sockets, no threads).

use std::sync::{Arc, OnceLock};

use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::jid::Jid;
use xmpp_proto::sasl::{
    ChannelBindingType, Iterations, ScramHash, StoredCredentials, stored_credentials,
};
use xmpp_proto::server::ServerEvent;
use xmpp_proto::time::Time;
use xmpp_proto::{Client, ClientConfig, ClientEvent, Server, ServerConfig};
use xmpp_transport_std::test_certs::TestPki;
use xmpp_transport_std::tls_pump::{SocketOutput, TlsPump};
use xmpp_transport_std::{ClientTls, Error};

fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::localhost().expect("test certificates"))
}

fn credentials(hash: ScramHash) -> StoredCredentials {
    stored_credentials(hash, "secret", b"salt-of-alice", Iterations(4096)).expect("valid")
}

/// Both ends in pumps, and everything each one saw.
struct Wired {
    client: TlsPump<Client>,
    server: TlsPump<Server>,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    /// Bytes to put in front of the next delivery to the server, once.
    inject_to_server: Option<Vec<u8>>,
    client_errors: Vec<Error>,
    server_errors: Vec<Error>,
}

impl Wired {
    fn new(client: ClientConfig, server: ServerConfig, tls_domain: &str) -> Self {
        let tls = ClientTls::new(&pki().trust_anchors(), tls_domain).expect("client TLS");
        Wired {
            client: TlsPump::client(Client::new(client, Time::ZERO), Arc::new(tls)),
            server: TlsPump::server(
                Server::new(server, Time::ZERO),
                Arc::new(pki().server_tls()),
            ),
            client_events: Vec::new(),
            server_events: Vec::new(),
            inject_to_server: None,
            client_errors: Vec::new(),
            server_errors: Vec::new(),
        }
    }

    /// Moves bytes both ways and answers the server's questions until
    /// nothing moves.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.client.poll_socket_output() {
                moved = true;
                match out {
                    SocketOutput::Data(data) => {
                        let mut bytes = self.inject_to_server.take().unwrap_or_default();
                        bytes.extend_from_slice(data);
                        let n = data.len();
                        self.client.consume_socket_output(n);
                        if let Err(e) = self.server.handle_socket_data(Time::ZERO, &bytes) {
                            self.server_errors.push(e);
                        }
                    }
                    SocketOutput::ShutdownWrite => self.server.handle_socket_eof(Time::ZERO),
                }
            }
            while let Some(out) = self.server.poll_socket_output() {
                moved = true;
                match out {
                    SocketOutput::Data(data) => {
                        let bytes = data.to_vec();
                        self.server.consume_socket_output(bytes.len());
                        if let Err(e) = self.client.handle_socket_data(Time::ZERO, &bytes) {
                            self.client_errors.push(e);
                        }
                    }
                    SocketOutput::ShutdownWrite => self.client.handle_socket_eof(Time::ZERO),
                }
            }
            while let Some(event) = self.client.poll_event() {
                moved = true;
                self.client_events.push(event);
            }
            while let Some(event) = self.server.poll_event() {
                moved = true;
                self.answer(&event);
                self.server_events.push(event);
            }
            if !moved {
                return;
            }
        }
    }

    fn answer(&mut self, event: &ServerEvent) {
        let server = self.server.endpoint_mut();
        match event {
            ServerEvent::NeedScramCredentials { username, hash } => {
                let creds = (username == "alice").then(|| credentials(*hash));
                server.provide_credentials(Time::ZERO, creds).unwrap();
            }
            ServerEvent::BindRequest { .. } => server.accept_bind(Time::ZERO).unwrap(),
            _ => {}
        }
    }

    fn client_closed(&self) -> Option<&CloseReason> {
        self.client_events.iter().find_map(|e| match e {
            ClientEvent::Closed { reason } => Some(reason),
            _ => None,
        })
    }

    fn server_closed(&self) -> Option<&CloseReason> {
        self.server_events.iter().find_map(|e| match e {
            ServerEvent::Closed { reason } => Some(reason),
            _ => None,
        })
    }
}

fn client_config() -> ClientConfig {
    ClientConfig::new(Jid::new("alice@localhost").unwrap(), "secret")
}

fn server_config() -> ServerConfig {
    ServerConfig::new("localhost").unwrap()
}

#[test]
fn starttls_login_binds_to_the_tls_session_and_closes_with_close_notify() {
    let mut w = Wired::new(client_config(), server_config(), "localhost");
    w.run();
    assert!(w.client.endpoint().is_online(), "{:?}", w.client_events);
    assert!(w.client.is_encrypted() && w.server.is_encrypted());
    // The pump handed both ends the same tls-exporter value: SCRAM bound
    // the login to this TLS session (SCRAM-SHA-256-PLUS by default).
    let bound = w.server_events.iter().find_map(|e| match e {
        ServerEvent::Authenticated {
            channel_binding, ..
        } => Some(*channel_binding),
        _ => None,
    });
    assert_eq!(bound, Some(Some(ChannelBindingType::TlsExporter)));
    assert_eq!(
        w.client.endpoint().tls().and_then(|t| t.tls_exporter()),
        w.server.endpoint().tls().and_then(|t| t.tls_exporter())
    );

    w.client.endpoint_mut().close(Time::ZERO);
    w.run();
    assert_eq!(w.client_closed(), Some(&CloseReason::Normal));
    assert_eq!(w.server_closed(), Some(&CloseReason::Normal));
    assert!(w.client.is_write_shut() && w.server.is_write_shut());
    assert!(w.client.is_done() && w.server.is_done());
    assert!(w.client_errors.is_empty() && w.server_errors.is_empty());
}

#[test]
fn direct_tls_starts_with_the_handshake() {
    let client = client_config().with_tls(xmpp_proto::client::ClientTlsPolicy::Direct);
    let server = server_config().with_tls(xmpp_proto::server::ServerTlsPolicy::Direct);
    let mut w = Wired::new(client, server, "localhost");
    // The first bytes out are a TLS ClientHello, not XML.
    let Some(SocketOutput::Data(first)) = w.client.poll_socket_output() else {
        panic!("nothing to send");
    };
    assert_eq!(first.first(), Some(&0x16), "a TLS handshake record");
    w.run();
    assert!(w.client.endpoint().is_online(), "{:?}", w.client_events);
}

#[test]
fn a_certificate_for_another_name_fails_both_ends() {
    let mut w = Wired::new(client_config(), server_config(), "example.org");
    w.run();
    assert!(matches!(
        w.client_errors.first(),
        Some(Error::Tls(rustls::Error::InvalidCertificate(_)))
    ));
    // The client's alert reached the server, which failed too.
    assert!(matches!(w.server_errors.first(), Some(Error::Tls(_))));
    assert_eq!(w.client_closed(), Some(&CloseReason::ConnectionLost));
    assert_eq!(w.server_closed(), Some(&CloseReason::ConnectionLost));
    assert!(!w.client.endpoint().is_online());
}

#[test]
fn plaintext_riding_with_starttls_is_an_injection() {
    let mut w = Wired::new(client_config(), server_config(), "localhost");
    // Run until the client has asked for STARTTLS, then let an attacker
    // append a stanza to the same segment as the client's <starttls/>.
    let mut steps = 0;
    while !w.server.endpoint().is_online() && steps < 3 {
        steps += 1;
        let Some(SocketOutput::Data(data)) = w.client.poll_socket_output() else {
            break;
        };
        let mut bytes = data.to_vec();
        let n = bytes.len();
        w.client.consume_socket_output(n);
        if bytes.ends_with(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") {
            bytes.extend_from_slice(b"<message to='bob@localhost'>evil</message>");
        }
        w.server.handle_socket_data(Time::ZERO, &bytes).unwrap();
        while let Some(SocketOutput::Data(data)) = w.server.poll_socket_output() {
            let bytes = data.to_vec();
            w.server.consume_socket_output(bytes.len());
            w.client.handle_socket_data(Time::ZERO, &bytes).unwrap();
        }
    }
    while let Some(event) = w.server.poll_event() {
        w.server_events.push(event);
    }
    assert_eq!(w.server_closed(), Some(&CloseReason::StartTlsInjection));
}

#[test]
fn asking_for_tls_without_settings_is_an_endpoint_error() {
    let mut pump = TlsPump::plain(Client::new(client_config(), Time::ZERO));
    // The header, then (fed the server's STARTTLS feature) the request;
    // the proceed makes the client ask for TLS, which a plain pump cannot
    // give.
    while let Some(SocketOutput::Data(d)) = pump.poll_socket_output() {
        let n = d.len();
        pump.consume_socket_output(n);
    }
    pump.handle_socket_data(
        Time::ZERO,
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
          xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='localhost' id='s'>\
          <stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
          </stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    )
    .unwrap();
    while let Some(SocketOutput::Data(d)) = pump.poll_socket_output() {
        let n = d.len();
        pump.consume_socket_output(n);
    }
    assert!(matches!(
        pump.take_endpoint_error(),
        Some(Error::Endpoint(_))
    ));
    assert!(pump.is_done());
    let closed = std::iter::from_fn(|| pump.poll_event()).find_map(|e| match e {
        ClientEvent::Closed { reason } => Some(reason),
        _ => None,
    });
    assert_eq!(closed, Some(CloseReason::ConnectionLost));
}
