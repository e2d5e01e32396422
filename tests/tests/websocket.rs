//! XMPP over WebSocket (RFC 7395) between our client and our server: the
//! same logins, stanzas and stream management as over TCP, in whole
//! messages framed by `<open/>` and `<close/>`.

use xmpp_proto::client::{ClientConfig, ClientEvent, ClientTlsPolicy};
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::endpoint::Transmit;
use xmpp_proto::server::{ServerConfig, ServerEvent, ServerTlsPolicy};
use xmpp_proto::sm::SmConfig;
use xmpp_proto::stanza::{Message, MessageType};
use xmpp_proto::{Endpoint, Time};
use xmpp_tests::{Network, Pair, TestAccounts};

fn client() -> ClientConfig {
    Pair::client_config("juliet", "secret").with_websocket()
}

fn server() -> ServerConfig {
    Pair::server_config().with_websocket()
}

/// Every message one side sent, split where the transport framed them.
fn messages(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn logs_in_over_wss_with_the_transport_doing_tls() {
    let mut pair = Pair::new(client(), server());
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    let client_sent = messages(&pair.client_bytes);
    let server_sent = messages(&pair.server_bytes);
    assert!(
        client_sent.starts_with("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='juliet@example.com' to='example.com'"),
        "{client_sent}"
    );
    assert!(!client_sent.contains("<stream:stream"), "{client_sent}");
    assert!(!server_sent.contains("<stream:stream"), "{server_sent}");
    assert!(
        !server_sent.contains("starttls"),
        "no STARTTLS over WebSocket"
    );
    assert!(
        server_sent.contains("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"),
        "each message declares what it uses: {server_sent}"
    );
    // SASL2 with channel binding, exactly as over TCP with direct TLS.
    assert!(client_sent.contains("<authenticate xmlns='urn:xmpp:sasl:2'"));
    assert!(
        client_sent.contains("SCRAM-SHA-256-PLUS") || client_sent.contains("SCRAM-SHA-512-PLUS")
    );
}

#[test]
fn classic_login_restarts_with_a_new_open() {
    let mut pair = Pair::new(client().without_sasl2(), server());
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    let client_sent = messages(&pair.client_bytes);
    assert_eq!(client_sent.matches("<open ").count(), 2, "{client_sent}");
    let server_sent = messages(&pair.server_bytes);
    assert_eq!(server_sent.matches("<open ").count(), 2, "{server_sent}");
    assert!(
        client_sent.contains("<iq xmlns='jabber:client'"),
        "{client_sent}"
    );
}

#[test]
fn plain_ws_on_loopback_needs_no_tls() {
    let mut pair = Pair::new(
        client()
            .with_tls(ClientTlsPolicy::InsecureOptional)
            .with_sasl(xmpp_proto::sasl::SaslClientConfig::default()),
        server().with_tls(ServerTlsPolicy::OptionalStartTls),
    );
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    assert!(!messages(&pair.server_bytes).contains("starttls"));
}

#[test]
fn messages_flow_and_every_transmit_is_one_message() {
    let mut pair = Pair::new(client(), server());
    pair.run();
    assert!(pair.is_online());
    let jid = pair.client.jid().expect("bound").clone();
    let msg = Message::builder(MessageType::Chat)
        .to(jid.as_ref())
        .body("over the web")
        .build();
    pair.server.send(pair.now, msg).expect("online");
    // Each transmit is one well-formed document.
    while let Some(t) = pair.server.poll_transmit() {
        let Transmit::Data(d) = t else { break };
        let text = std::str::from_utf8(d).unwrap().to_owned();
        assert!(text.starts_with("<message xmlns='jabber:client'"), "{text}");
        assert!(text.ends_with("</message>"), "{text}");
        let n = d.len();
        pair.server.consume_transmit(n);
        pair.client.handle_input(pair.now, text.as_bytes()).unwrap();
    }
    pair.run();
    assert!(pair.client_events.iter().any(|e| matches!(
        e,
        ClientEvent::Message(m) if m.body().as_deref() == Some("over the web")
    )));
}

fn ws_client(user: &str) -> ClientConfig {
    Pair::client_config(user, "secret")
        .with_websocket()
        .with_resource("web")
        .with_stream_management(SmConfig::default())
}

fn ws_server() -> ServerConfig {
    server().with_stream_management(SmConfig::default().with_max(Some(60)))
}

/// Two browser-like clients through the hub (routed stanzas are written
/// from their shared serialization), then a cut and an inline resumption
/// that delivers what arrived meanwhile.
#[test]
fn routed_stanzas_and_resumption_over_websocket() {
    let mut net = Network::with_defaults();
    let accounts = TestAccounts::with_user("juliet", "secret");
    let mut accounts = accounts;
    accounts.add("romeo", "secret");
    net.accounts = accounts;
    let juliet = net.connect_to(ws_client("juliet"), ws_server());
    let romeo = net.connect_to(ws_client("romeo"), ws_server());
    assert!(net.client(juliet).sm_enabled() && net.client(romeo).sm_enabled());
    let say = |net: &mut Network, from, to: &str, body: &str| {
        let now = net.now;
        let msg = Message::builder(MessageType::Chat)
            .to(to)
            .body(body)
            .build();
        net.client(from).send(now, msg).expect("online");
        net.run();
    };
    say(&mut net, romeo, "juliet@example.com/web", "hello");
    assert_eq!(net.bodies(juliet), ["hello"]);

    net.cut(juliet);
    say(
        &mut net,
        romeo,
        "juliet@example.com/web",
        "while you were away",
    );
    let state = net
        .pair(juliet)
        .client_events
        .iter()
        .find_map(|e| match e {
            ClientEvent::Resumable(s) => Some((**s).clone()),
            _ => None,
        })
        .expect("resumable");
    let back = net.connect_to(ws_client("juliet").with_resumption(state), ws_server());
    assert!(
        net.pair(back)
            .client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Resumed { .. })),
        "{:?}",
        net.pair(back).client_events
    );
    assert_eq!(net.bodies(back), ["while you were away"]);
}

#[test]
fn close_is_answered_with_close() {
    let mut pair = Pair::new(client(), server());
    pair.run();
    let now = pair.now;
    pair.client.close(now);
    pair.run();
    assert_eq!(pair.client_closed(), Some(&CloseReason::Normal));
    assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
    let client_sent = messages(&pair.client_bytes);
    let server_sent = messages(&pair.server_bytes);
    let close = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>";
    assert!(client_sent.ends_with(close), "{client_sent}");
    assert!(server_sent.ends_with(close), "{server_sent}");
}

/// A server endpoint over WebSocket, past its (fake) TLS, fed `messages`.
fn server_fed(messages: &[&str]) -> (xmpp_proto::Server, Vec<String>, Option<CloseReason>) {
    let mut server = xmpp_proto::Server::new(server(), Time::ZERO);
    assert_eq!(server.poll_transmit(), Some(Transmit::StartTls));
    server
        .handle_tls_established(Time::ZERO, xmpp_tests::fake_tls())
        .unwrap();
    let mut out = Vec::new();
    let mut closed = None;
    for m in messages {
        let _ = server.handle_input(Time::ZERO, m.as_bytes());
        while let Some(t) = server.poll_transmit() {
            if let Transmit::Data(d) = t {
                out.push(String::from_utf8_lossy(d).into_owned());
                let n = d.len();
                server.consume_transmit(n);
            }
        }
        while let Some(e) = server.poll_event() {
            if let ServerEvent::Closed { reason } = e {
                closed = Some(reason);
            }
        }
    }
    (server, out, closed)
}

const OPEN: &str =
    "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/>";

#[test]
fn a_message_split_inside_an_element_is_refused() {
    let (_, out, closed) = server_fed(&[OPEN, "<iq xmlns='jabber:client' type='get'><pi"]);
    assert!(
        matches!(closed, Some(CloseReason::ProtocolViolation { .. })),
        "{closed:?}"
    );
    assert!(out.iter().any(|m| m.contains("not-well-formed")), "{out:?}");
    assert_eq!(
        out.last().map(String::as_str),
        Some("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
    );
}

#[test]
fn a_stanza_before_open_and_a_tcp_header_are_refused() {
    let (_, _, closed) = server_fed(&["<presence xmlns='jabber:client'/>"]);
    assert!(matches!(
        closed,
        Some(CloseReason::ProtocolViolation { .. })
    ));
    let (_, _, closed) = server_fed(&[
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>",
    ]);
    assert!(matches!(
        closed,
        Some(CloseReason::ProtocolViolation { .. })
    ));
}

#[test]
fn an_xml_declaration_before_open_is_tolerated() {
    let open = format!("<?xml version='1.0'?>{OPEN}");
    let (_, out, closed) = server_fed(&[&open]);
    assert_eq!(closed, None);
    assert!(
        out[0].starts_with("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'"),
        "{out:?}"
    );
    assert!(
        out[0].contains(" id='"),
        "the server's open carries a stream id"
    );
    assert!(out[1].starts_with("<stream:features"), "{out:?}");
}

#[test]
fn see_other_uri_is_reported_to_the_client() {
    let config = client().with_tls(ClientTlsPolicy::InsecureDisabled);
    let mut client = xmpp_proto::Client::new(config, Time::ZERO);
    while let Some(Transmit::Data(d)) = client.poll_transmit() {
        let n = d.len();
        client.consume_transmit(n);
    }
    let _ = client.handle_input(
        Time::ZERO,
        b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.com' id='x' version='1.0'/>",
    );
    let _ = client.handle_input(
        Time::ZERO,
        b"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='wss://other.example.com/xmpp'/>",
    );
    let mut reason = None;
    while let Some(e) = client.poll_event() {
        if let ClientEvent::Closed { reason: r } = e {
            reason = Some(r);
        }
    }
    assert_eq!(
        reason,
        Some(CloseReason::SeeOtherUri {
            uri: "wss://other.example.com/xmpp".into()
        })
    );
}

#[test]
fn a_server_redirect_reaches_our_client_as_see_other_uri() {
    let mut pair = Pair::new(client(), server());
    pair.run();
    assert!(pair.is_online());
    let now = pair.now;
    pair.server.redirect(now, "wss://other.example.com/xmpp");
    pair.run();
    assert_eq!(
        pair.client_closed(),
        Some(&CloseReason::SeeOtherUri {
            uri: "wss://other.example.com/xmpp".into()
        })
    );
    // The client answered with its close, so the server's ended cleanly.
    assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
}
