//! Client and server together: TLS policy, injection, timers on both
//! sides, and the close handshake from either end.

use std::time::Duration;

use xmpp_proto::client::ClientEvent;
use xmpp_proto::client::{ClientTimeouts, ClientTlsPolicy};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::negotiation::ping_request;
use xmpp_proto::server::ServerEvent;
use xmpp_proto::server::{ServerTimeouts, ServerTlsPolicy};
use xmpp_proto::stanza::{Message, MessageType, Stanza};
use xmpp_proto::stream_error::StreamErrorCondition;
use xmpp_tests::Pair;

fn online_pair() -> Pair {
    let mut pair = Pair::new(
        Pair::client_config("juliet", "secret"),
        Pair::server_config(),
    );
    pair.run();
    assert!(pair.is_online());
    pair
}

#[test]
fn client_without_tls_cannot_get_past_a_server_requiring_it() {
    let client =
        Pair::client_config("juliet", "secret").with_tls(ClientTlsPolicy::InsecureDisabled);
    let mut pair = Pair::new(client, Pair::server_config());
    pair.run();
    assert_eq!(pair.client_closed(), Some(&CloseReason::TlsUnavailable));
    assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
    assert!(
        !pair
            .server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::Authenticated { .. }))
    );
}

#[test]
fn direct_tls_on_both_sides() {
    let client = Pair::client_config("juliet", "secret").with_tls(ClientTlsPolicy::Direct);
    let server = Pair::server_config().with_tls(ServerTlsPolicy::Direct);
    let mut pair = Pair::new(client, server);
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    assert!(!String::from_utf8_lossy(&pair.server_bytes).contains("starttls"));
}

#[test]
fn plaintext_by_agreement_uses_scram_without_binding() {
    let client =
        Pair::client_config("juliet", "secret").with_tls(ClientTlsPolicy::InsecureDisabled);
    let server = Pair::server_config().with_tls(ServerTlsPolicy::Disabled);
    let mut pair = Pair::new(client, server);
    pair.run();
    assert!(pair.is_online());
    let text = String::from_utf8_lossy(&pair.server_bytes);
    assert!(!text.contains("PLAIN") && !text.contains("-PLUS"), "{text}");
}

#[test]
fn injected_plaintext_after_proceed_is_fatal_for_the_server() {
    let mut pair = Pair::new(
        Pair::client_config("juliet", "secret"),
        Pair::server_config(),
    );
    // Run until the server said <proceed/> and waits for the handshake,
    // then let an attacker write to it before TLS is up.
    pair.connected = true;
    let now = pair.now;
    while pair.server.poll_transmit().is_none() {
        // The client's header and <starttls/> travel first.
        let mut moved = false;
        while let Some(xmpp_proto::endpoint::Transmit::Data(d)) = pair.client.poll_transmit() {
            let d = d.to_vec();
            pair.client.consume_transmit(d.len());
            pair.server.handle_input(now, &d).expect("fine so far");
            moved = true;
        }
        assert!(moved);
    }
    let mut text = String::new();
    while let Some(t) = pair.server.poll_transmit() {
        match t {
            xmpp_proto::endpoint::Transmit::Data(d) => {
                text.push_str(&String::from_utf8_lossy(d));
                let n = d.len();
                pair.server.consume_transmit(n);
                // Deliver to the client so it sends <starttls/>.
                let bytes = text.clone().into_bytes();
                let _ = pair.client.handle_input(now, &bytes);
                text.clear();
                while let Some(xmpp_proto::endpoint::Transmit::Data(d)) =
                    pair.client.poll_transmit()
                {
                    let d = d.to_vec();
                    pair.client.consume_transmit(d.len());
                    let _ = pair.server.handle_input(now, &d);
                }
            }
            xmpp_proto::endpoint::Transmit::StartTls => break,
            xmpp_proto::endpoint::Transmit::Shutdown => panic!("too early"),
        }
    }
    let injected = pair
        .server
        .handle_input(now, b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert_eq!(
        injected.map_err(|e| e.reason().clone()),
        Err(CloseReason::StartTlsInjection)
    );
    assert!(
        pair.server
            .handle_tls_established(now, xmpp_tests::fake_tls())
            .is_err()
    );
}

#[test]
fn client_times_out_a_stalled_server() {
    let client = {
        let mut timeouts = ClientTimeouts::default();
        timeouts.negotiation = Duration::from_secs(10);
        Pair::client_config("juliet", "secret").with_timeouts(timeouts)
    };
    let mut pair = Pair::new(client, Pair::server_config());
    pair.auto_bind = false;
    pair.run();
    assert!(!pair.is_online());
    pair.advance(Duration::from_secs(10));
    assert_eq!(pair.client_closed(), Some(&CloseReason::NegotiationTimeout));
    assert_eq!(
        pair.server_closed(),
        Some(&CloseReason::StreamError {
            condition: StreamErrorCondition::ConnectionTimeout,
            text: None,
            see_other_host: None,
        })
    );
}

#[test]
fn server_times_out_a_stalled_client() {
    let server = {
        let mut timeouts = ServerTimeouts::default();
        timeouts.negotiation = Duration::from_secs(10);
        Pair::server_config().with_timeouts(timeouts)
    };
    let mut pair = Pair::new(Pair::client_config("juliet", "secret"), server);
    pair.auto_bind = false;
    pair.run();
    pair.advance(Duration::from_secs(10));
    assert_eq!(pair.server_closed(), Some(&CloseReason::NegotiationTimeout));
    assert!(matches!(
        pair.client_closed(),
        Some(CloseReason::StreamError {
            condition: StreamErrorCondition::ConnectionTimeout,
            ..
        })
    ));
}

#[test]
fn client_initiated_close_handshake() {
    let mut pair = online_pair();
    let now = pair.now;
    pair.client.close(now);
    pair.run();
    assert_eq!(pair.client_closed(), Some(&CloseReason::Normal));
    assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
    assert!(pair.client_bytes.ends_with(b"</stream:stream>"));
    assert!(pair.server_bytes.ends_with(b"</stream:stream>"));
}

/// What the peer sent before it saw our close is still handed over (RFC
/// 6120 §4.4), and nothing, not even an automatic answer, follows our
/// closing tag.
#[test]
fn stanzas_in_flight_during_a_client_close_are_delivered_not_answered() {
    let mut pair = online_pair();
    let now = pair.now;
    let jid = pair.client.jid().expect("bound").to_string();
    pair.client.close(now);
    let message = Message::builder(MessageType::Chat)
        .to(jid.as_str())
        .body("in flight")
        .build();
    pair.server.send(now, message.into_element()).unwrap();
    pair.server
        .send(now, ping_request("p1").into_element())
        .unwrap();
    pair.run();
    let got = pair
        .client_events
        .iter()
        .any(|e| matches!(e, ClientEvent::Message(m) if m.body().as_deref() == Some("in flight")));
    assert!(
        got,
        "the message sent before the server saw our close was lost"
    );
    assert_eq!(pair.client_closed(), Some(&CloseReason::Normal));
    assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
    assert!(pair.client_bytes.ends_with(b"</stream:stream>"));
    let tail = pair.client_bytes.len() - b"</stream:stream>".len();
    assert!(
        !pair.client_bytes[..tail].ends_with(b"</stream:stream>"),
        "the close tag was written twice"
    );
}

#[test]
fn stanzas_in_flight_during_a_server_close_are_processed() {
    let mut pair = online_pair();
    let now = pair.now;
    pair.server.close(now);
    let message = Message::builder(MessageType::Chat)
        .to("romeo@example.net")
        .body("last words")
        .build();
    pair.client.send(now, message).unwrap();
    pair.run();
    let got = pair.server_events.iter().any(|e| {
        matches!(e, ServerEvent::Stanza(Stanza::Message(m)) if m.body().as_deref() == Some("last words"))
    });
    assert!(
        got,
        "the message sent before the client saw the close was lost"
    );
    assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
    assert_eq!(pair.client_closed(), Some(&CloseReason::Normal));
    assert!(pair.server_bytes.ends_with(b"</stream:stream>"));
}

#[test]
fn server_initiated_close_handshake() {
    let mut pair = online_pair();
    let now = pair.now;
    pair.server.close(now);
    pair.run();
    assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
    assert_eq!(pair.client_closed(), Some(&CloseReason::Normal));
}

#[test]
fn close_times_out_when_the_peer_is_gone() {
    let mut pair = online_pair();
    pair.connected = false;
    let now = pair.now;
    pair.server.close(now);
    pair.run();
    pair.advance(Duration::from_secs(5));
    assert_eq!(pair.server_closed(), Some(&CloseReason::CloseTimeout));

    let mut pair = online_pair();
    pair.connected = false;
    let now = pair.now;
    pair.client.close(now);
    pair.run();
    pair.advance(Duration::from_secs(5));
    assert_eq!(pair.client_closed(), Some(&CloseReason::CloseTimeout));
}

#[test]
fn kicked_session_sees_the_condition() {
    let mut pair = online_pair();
    let now = pair.now;
    pair.server
        .close_with_error(now, StreamErrorCondition::Conflict, Some("replaced"));
    pair.run();
    assert_eq!(
        pair.server_closed(),
        Some(&CloseReason::Kicked {
            condition: StreamErrorCondition::Conflict
        })
    );
    assert!(matches!(
        pair.client_closed(),
        Some(CloseReason::StreamError {
            condition: StreamErrorCondition::Conflict,
            ..
        })
    ));
}

#[test]
fn lost_connection_is_reported() {
    let mut pair = online_pair();
    let now = pair.now;
    pair.server.handle_eof(now);
    pair.run();
    assert_eq!(pair.server_closed(), Some(&CloseReason::ConnectionLost));
    // The server, having lost its reader, shuts the connection down
    // without a closing handshake: the client sees a lost connection too,
    // not a normal close.
    assert!(!pair.client.is_online());
    assert_eq!(
        pair.client_closed(),
        Some(&CloseReason::ConnectionLost),
        "{:?}",
        pair.client_events
    );
}
