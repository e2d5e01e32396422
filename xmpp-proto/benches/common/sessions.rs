//! In-memory sessions for the benchmarks: a client and a server wired
//! together, online, with nothing else around.

#![allow(dead_code)] // each benchmark uses part of it

use xmpp_proto::client::ClientTlsPolicy;
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::jid::Jid;
use xmpp_proto::sasl::{Mechanism, SaslClientConfig, SaslServerConfig};
use xmpp_proto::server::{ServerEvent, ServerTlsPolicy};
use xmpp_proto::time::Time;
use xmpp_proto::{Client, ClientConfig, Server, ServerConfig};

/// The domain every benchmark session belongs to.
pub(crate) const DOMAIN: &str = "example.org";

/// A client and a server wired in memory, plaintext, PLAIN: just enough
/// negotiation to get both online.
pub(crate) fn online_pair(user: &str, resource: &str) -> (Client, Server) {
    let jid = Jid::new(&format!("{user}@{DOMAIN}")).unwrap();
    let sasl = SaslClientConfig {
        allowed: Some(vec![Mechanism::Plain]),
        allow_plain_without_tls: true,
        ..SaslClientConfig::default()
    };
    let client_config = ClientConfig::new(jid, "pw")
        .with_tls(ClientTlsPolicy::InsecureDisabled)
        .with_sasl(sasl)
        .with_resource(resource)
        .with_auto_receipts(true);
    let server_sasl = SaslServerConfig {
        mechanisms: vec![Mechanism::Plain],
        allow_plain_without_tls: true,
        ..SaslServerConfig::default()
    };
    let server_config = ServerConfig::new(DOMAIN)
        .unwrap()
        .with_tls(ServerTlsPolicy::Disabled)
        .with_sasl(server_sasl);
    let mut client = Client::new(client_config, Time::ZERO);
    let mut server = Server::new(server_config, Time::ZERO);
    for _ in 0..50 {
        pipe(&mut client, &mut server);
        pipe(&mut server, &mut client);
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::Authenticate { .. } => server.accept_auth(Time::ZERO).unwrap(),
                ServerEvent::BindRequest { .. } => server.accept_bind(Time::ZERO).unwrap(),
                _ => {}
            }
        }
        while client.poll_event().is_some() {}
        if client.is_online() && server.is_online() {
            drain(&mut client);
            return (client, server);
        }
    }
    panic!("no login");
}

/// Moves `from`'s output into `to`.
pub(crate) fn pipe(from: &mut impl Endpoint, to: &mut impl Endpoint) {
    while let Some(Transmit::Data(d)) = from.poll_transmit() {
        let d = d.to_vec();
        from.consume_transmit(d.len());
        to.handle_input(Time::ZERO, &d).unwrap();
    }
}

/// Consumes an endpoint's output without looking at it; returns the
/// bytes.
pub(crate) fn drain(e: &mut impl Endpoint) -> usize {
    let mut n = 0;
    while let Some(Transmit::Data(d)) = e.poll_transmit() {
        let len = d.len();
        n += len;
        e.consume_transmit(len);
    }
    n
}
