//! The component against a scripted server: the handshake, stanzas both
//! ways in the component namespace on the wire and `jabber:client` terms
//! in the API, `from` kept inside the domain, and the ways it fails.

use std::time::Duration;

use super::*;
use crate::endpoint::{Endpoint, Transmit};
use crate::stanza::{Message, MessageType};

const SERVER_HEADER: &[u8] = b"<stream:stream xmlns='jabber:component:accept' \
    xmlns:stream='http://etherx.jabber.org/streams' from='echo.localhost' id='s1'>";

fn plaintext() -> ComponentConfig {
    ComponentConfig::new("echo.localhost", "secret")
        .unwrap()
        .with_tls(ComponentTls::Plaintext)
}

/// Everything the component wrote since the last call.
fn written(component: &mut Component) -> String {
    let mut out = Vec::new();
    while let Some(t) = component.poll_transmit() {
        if let Transmit::Data(d) = t {
            out.extend_from_slice(d);
            let n = d.len();
            component.consume_transmit(n);
        }
    }
    String::from_utf8(out).unwrap()
}

fn events(component: &mut Component) -> Vec<ComponentEvent> {
    std::iter::from_fn(|| component.poll_event()).collect()
}

/// A component through the handshake.
fn online() -> Component {
    let mut component = Component::new(plaintext(), Time::ZERO);
    let header = written(&mut component);
    assert!(
        header.contains("xmlns='jabber:component:accept'"),
        "{header}"
    );
    let stream = header.split("<stream:stream").nth(1).unwrap();
    assert!(!stream.contains("version="), "{header}");
    component.handle_input(Time::ZERO, SERVER_HEADER).unwrap();
    let handshake = written(&mut component);
    assert_eq!(
        handshake,
        format!(
            "<handshake>{}</handshake>",
            handshake_digest("s1", "secret")
        )
    );
    component.handle_input(Time::ZERO, b"<handshake/>").unwrap();
    let got = events(&mut component);
    assert!(
        matches!(&got[..], [ComponentEvent::Online { domain }] if domain == "echo.localhost"),
        "{got:?}"
    );
    component
}

#[test]
fn the_handshake_hashes_the_stream_id_and_the_secret() {
    let component = online();
    assert!(component.is_online());
    assert_eq!(component.domain(), "echo.localhost");
}

#[test]
fn stanzas_go_out_in_the_component_namespace_from_the_domain() {
    let mut component = online();
    let message = Message::builder(MessageType::Chat)
        .to("juliet@localhost/balcony")
        .body("hi")
        .build();
    let id = component.send(Time::ZERO, message).unwrap();
    let wire = written(&mut component);
    assert!(wire.starts_with("<message "), "{wire}");
    assert!(!wire.contains("jabber:client"), "{wire}");
    assert!(wire.contains("from='echo.localhost'"), "{wire}");
    assert!(wire.contains(&format!("id='{}'", id.as_str())), "{wire}");

    // Any address of the domain may be `from`; none outside it.
    let from_user = Message::builder(MessageType::Chat)
        .to("juliet@localhost")
        .from("time@echo.localhost/clock")
        .body("tick")
        .build();
    component.send(Time::ZERO, from_user).unwrap();
    assert!(written(&mut component).contains("from='time@echo.localhost/clock'"));
    let forged = Message::builder(MessageType::Chat)
        .to("juliet@localhost")
        .from("admin@localhost")
        .build();
    assert_eq!(
        component.send(Time::ZERO, forged),
        Err(CommandError::OutsideDomain)
    );
    let unaddressed = Message::builder(MessageType::Chat).body("?").build();
    assert!(matches!(
        component.send(Time::ZERO, unaddressed),
        Err(CommandError::InvalidAddress(_))
    ));
    assert_eq!(written(&mut component), "", "nothing refused was written");
}

#[test]
fn stanzas_come_in_as_client_stanzas() {
    let mut component = online();
    component
        .handle_input(
            Time::ZERO,
            b"<message from='juliet@localhost/b' to='time@echo.localhost' type='chat'>\
              <body>what time is it?</body></message>\
              <iq type='get' id='q1' from='juliet@localhost/b' to='echo.localhost'>\
              <query xmlns='http://jabber.org/protocol/disco#info'/></iq>\
              <iq type='result' id='r1' from='juliet@localhost/b' to='echo.localhost'/>",
        )
        .unwrap();
    let got = events(&mut component);
    let [
        ComponentEvent::Message(m),
        ComponentEvent::IqRequest(request),
        ComponentEvent::IqResponse { id, .. },
    ] = &got[..]
    else {
        panic!("{got:?}")
    };
    assert_eq!(m.body().as_deref(), Some("what time is it?"));
    assert!(m.element().is("message", ns::CLIENT));
    assert_eq!(request.id(), Some("q1"));
    assert_eq!(id.as_str(), "r1");
    // The answer goes back in the component namespace, from the address
    // the request was sent to.
    component
        .send(Time::ZERO, request.make_result(None))
        .unwrap();
    let wire = written(&mut component);
    assert!(wire.starts_with("<iq "), "{wire}");
    assert!(wire.contains("from='echo.localhost'") && wire.contains("to='juliet@localhost/b'"));
}

#[test]
fn a_wrong_secret_ends_with_the_servers_not_authorized() {
    let mut component = Component::new(plaintext(), Time::ZERO);
    written(&mut component);
    component.handle_input(Time::ZERO, SERVER_HEADER).unwrap();
    written(&mut component);
    let _ = component.handle_input(
        Time::ZERO,
        b"<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
          </stream:error></stream:stream>",
    );
    let got = events(&mut component);
    assert!(
        matches!(
            got.last(),
            Some(ComponentEvent::Closed {
                reason: CloseReason::StreamError {
                    condition: StreamErrorCondition::NotAuthorized,
                    ..
                }
            })
        ),
        "{got:?}"
    );
    assert_eq!(
        component.send(
            Time::ZERO,
            Message::builder(MessageType::Chat).to("a@b").build()
        ),
        Err(CommandError::Closed)
    );
}

#[test]
fn a_header_without_an_id_or_a_stanza_before_the_handshake_fail() {
    let mut component = Component::new(plaintext(), Time::ZERO);
    written(&mut component);
    let _ = component.handle_input(
        Time::ZERO,
        b"<stream:stream xmlns='jabber:component:accept' \
          xmlns:stream='http://etherx.jabber.org/streams' from='echo.localhost'>",
    );
    assert!(component.close_reason().is_some());
    assert!(written(&mut component).contains("<invalid-xml"));

    let mut component = Component::new(plaintext(), Time::ZERO);
    written(&mut component);
    component.handle_input(Time::ZERO, SERVER_HEADER).unwrap();
    written(&mut component);
    let _ = component.handle_input(Time::ZERO, b"<message to='echo.localhost'/>");
    assert!(matches!(
        component.close_reason(),
        Some(CloseReason::ProtocolViolation {
            condition: StreamErrorCondition::UnsupportedStanzaType,
            ..
        })
    ));
}

#[test]
fn a_client_stream_is_not_a_component_stream() {
    let mut component = Component::new(plaintext(), Time::ZERO);
    written(&mut component);
    let _ = component.handle_input(
        Time::ZERO,
        b"<stream:stream xmlns='jabber:client' \
          xmlns:stream='http://etherx.jabber.org/streams' id='x'>",
    );
    assert!(matches!(
        component.close_reason(),
        Some(CloseReason::ProtocolViolation {
            condition: StreamErrorCondition::InvalidNamespace,
            ..
        })
    ));
}

#[test]
fn negotiation_times_out_and_keepalives_follow_quiet_periods() {
    let mut component = Component::new(plaintext(), Time::ZERO);
    written(&mut component);
    let deadline = component.poll_timeout().unwrap();
    assert_eq!(deadline, Time::ZERO + Duration::from_secs(30));
    component.handle_timeout(deadline);
    assert_eq!(
        component.close_reason(),
        Some(&CloseReason::NegotiationTimeout)
    );

    let mut component = online();
    let keepalive = component.poll_timeout().unwrap();
    assert_eq!(keepalive, Time::ZERO + Duration::from_secs(90));
    component.handle_timeout(keepalive);
    assert_eq!(written(&mut component), " ");
}

#[test]
fn direct_tls_comes_before_the_header() {
    let config = ComponentConfig::new("echo.localhost", "secret").unwrap();
    let mut component = Component::new(config, Time::ZERO);
    assert!(matches!(
        component.poll_transmit(),
        Some(Transmit::StartTls)
    ));
    // Plaintext from the peer now is an injection.
    assert!(component.handle_input(Time::ZERO, b"<x/>").is_err());
}

#[test]
fn a_domain_with_a_localpart_or_resource_is_refused() {
    assert!(ComponentConfig::new("bot@echo.localhost", "s").is_err());
    assert!(ComponentConfig::new("echo.localhost/r", "s").is_err());
    assert!(ComponentConfig::new("ECHO.localhost", "s").is_ok());
}

#[test]
fn close_is_answered_by_the_servers_close() {
    let mut component = online();
    component.close(Time::ZERO);
    assert_eq!(written(&mut component), "</stream:stream>");
    component
        .handle_input(Time::ZERO, b"</stream:stream>")
        .unwrap();
    assert!(matches!(
        events(&mut component).last(),
        Some(ComponentEvent::Closed {
            reason: CloseReason::Normal
        })
    ));
}
