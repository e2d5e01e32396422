//! Logging in end to end: every mechanism and channel binding type, wrong
//! passwords, and what the server tells the application.

use xmpp_proto::client::{CloseReason, Event as ClientEvent};
use xmpp_proto::sasl::{self, ChannelBindingType, FailureCondition, Mechanism};
use xmpp_proto::server::{self, Event as ServerEvent};
use xmpp_proto::tls::{TlsInfo, TlsVersion};
use xmpp_tests::Pair;

fn only(mechanism: Mechanism) -> sasl::ClientConfig {
    sasl::ClientConfig {
        allowed: Some(vec![mechanism]),
        ..sasl::ClientConfig::default()
    }
}

fn login(mechanism: Mechanism, tls: TlsInfo) -> Pair {
    let client = Pair::client_config("juliet", "secret").with_sasl(only(mechanism));
    let mut pair = Pair::new(client, Pair::server_config());
    pair.tls = tls;
    pair.run();
    pair
}

fn authenticated(pair: &Pair) -> (Mechanism, Option<ChannelBindingType>) {
    pair.server_events
        .iter()
        .find_map(|e| match e {
            ServerEvent::Authenticated {
                mechanism,
                channel_binding,
                jid,
            } => {
                assert_eq!(jid.as_str(), "juliet@example.com");
                Some((*mechanism, *channel_binding))
            }
            _ => None,
        })
        .expect("the server reports the authentication")
}

#[test]
fn every_mechanism_logs_in_and_binds() {
    let exporter = TlsInfo::new(TlsVersion::Tls13).with_tls_exporter(vec![1; 32]);
    let cases = [
        (Mechanism::ScramSha1, None),
        (Mechanism::ScramSha256, None),
        (Mechanism::ScramSha512, None),
        (
            Mechanism::ScramSha1Plus,
            Some(ChannelBindingType::TlsExporter),
        ),
        (
            Mechanism::ScramSha256Plus,
            Some(ChannelBindingType::TlsExporter),
        ),
        (
            Mechanism::ScramSha512Plus,
            Some(ChannelBindingType::TlsExporter),
        ),
        (Mechanism::Plain, None),
    ];
    for (mechanism, binding) in cases {
        let pair = login(mechanism, exporter.clone());
        assert!(pair.is_online(), "{mechanism}: {:?}", pair.client_events);
        assert_eq!(authenticated(&pair), (mechanism, binding), "{mechanism}");
        let jid = pair.client.jid().expect("bound");
        assert_eq!(jid.bare_str(), "juliet@example.com");
        assert_eq!(pair.server.jid(), Some(jid));
    }
}

#[test]
fn plus_with_tls_server_end_point() {
    let tls = TlsInfo::new(TlsVersion::Tls12).with_tls_server_end_point(vec![9; 32]);
    let pair = login(Mechanism::ScramSha256Plus, tls);
    assert!(pair.is_online(), "{:?}", pair.client_events);
    assert_eq!(
        authenticated(&pair),
        (
            Mechanism::ScramSha256Plus,
            Some(ChannelBindingType::TlsServerEndPoint)
        )
    );
}

#[test]
fn the_default_client_picks_the_strongest_binding() {
    let pair = Pair::new(
        Pair::client_config("juliet", "secret"),
        Pair::server_config(),
    );
    let mut pair = pair;
    pair.run();
    assert!(pair.is_online());
    assert_eq!(
        authenticated(&pair),
        (
            Mechanism::ScramSha512Plus,
            Some(ChannelBindingType::TlsExporter)
        )
    );
}

#[test]
fn server_offers_plus_only_with_binding_data() {
    let pair = login(Mechanism::ScramSha256, TlsInfo::new(TlsVersion::Tls13));
    assert!(pair.is_online());
    let text = String::from_utf8_lossy(&pair.server_bytes);
    assert!(!text.contains("-PLUS"), "{text}");
    assert!(!text.contains("sasl-channel-binding"), "{text}");

    let pair = login(Mechanism::ScramSha256, xmpp_tests::fake_tls());
    let text = String::from_utf8_lossy(&pair.server_bytes);
    assert!(
        text.contains("<mechanism>SCRAM-SHA-512-PLUS</mechanism>"),
        "{text}"
    );
    assert!(
        text.contains("<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'/><channel-binding type='tls-server-end-point'/></sasl-channel-binding>"),
        "{text}"
    );
    // XEP-0474: the hash of the offer is in the server-first-message.
    assert!(pair.is_online());
}

#[test]
fn wrong_password_fails_for_scram_and_plain() {
    for mechanism in [Mechanism::ScramSha256, Mechanism::Plain] {
        let client = Pair::client_config("juliet", "wrong").with_sasl(only(mechanism));
        let mut pair = Pair::new(client, Pair::server_config());
        pair.run();
        assert!(!pair.client.is_online());
        assert_eq!(
            pair.client_closed(),
            Some(&CloseReason::AuthenticationFailed {
                condition: FailureCondition::NotAuthorized,
                text: None
            }),
            "{mechanism}"
        );
        // The client gave up and closed; the server saw a clean close.
        assert_eq!(pair.server_closed(), Some(&server::CloseReason::Normal));
        assert!(
            !pair
                .server_events
                .iter()
                .any(|e| matches!(e, ServerEvent::Authenticated { .. }))
        );
    }
}

#[test]
fn unknown_user_fails_like_a_wrong_password() {
    let client = Pair::client_config("romeo", "secret").with_sasl(only(Mechanism::ScramSha1));
    let mut pair = Pair::new(client, Pair::server_config());
    pair.run();
    assert!(matches!(
        pair.client_closed(),
        Some(CloseReason::AuthenticationFailed {
            condition: FailureCondition::NotAuthorized,
            ..
        })
    ));
}

#[test]
fn requested_and_generated_resources() {
    let client = Pair::client_config("juliet", "secret").with_resource("balcony");
    let mut pair = Pair::new(client, Pair::server_config());
    pair.run();
    assert_eq!(
        pair.client.jid().map(|j| j.as_str()),
        Some("juliet@example.com/balcony")
    );
    assert!(pair.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::BindRequest {
            requested: true,
            ..
        }
    )));

    let mut pair = Pair::new(
        Pair::client_config("juliet", "secret"),
        Pair::server_config(),
    );
    pair.run();
    let jid = pair.client.jid().expect("bound");
    assert!(!jid.resourcepart().is_empty());
    assert!(pair.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::BindRequest {
            requested: false,
            ..
        }
    )));
    assert!(
        pair.client_events
            .iter()
            .any(|e| matches!(e, ClientEvent::Online { .. }))
    );
}

#[test]
fn refused_bind_reaches_the_client() {
    let client = Pair::client_config("juliet", "secret").with_resource("balcony");
    let mut pair = Pair::new(client, Pair::server_config());
    pair.auto_bind = false;
    pair.run();
    assert!(
        pair.server_events
            .iter()
            .any(|e| matches!(e, ServerEvent::BindRequest { .. }))
    );
    let now = pair.now;
    xmpp_tests::refuse_bind(&mut pair.server, now);
    pair.run();
    assert_eq!(
        pair.client_closed(),
        Some(&CloseReason::BindFailed {
            condition: Some("conflict".into())
        })
    );
}
