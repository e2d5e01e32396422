//! Logging in end to end: every mechanism and channel binding type, wrong
//! passwords, and what the server tells the application.

use base64::Engine as _;
use sha2::Digest as _;
use xmpp_proto::client::ClientEvent;
use xmpp_proto::endpoint::CloseReason;
use xmpp_proto::endpoint::Endpoint;
use xmpp_proto::endpoint::Transmit;
use xmpp_proto::sasl::{self, ChannelBindingType, FailureCondition, Mechanism, SaslError};
use xmpp_proto::server::ServerEvent;
use xmpp_proto::tls::{TlsInfo, TlsVersion};
use xmpp_tests::Pair;

fn only(mechanism: Mechanism) -> sasl::SaslClientConfig {
    sasl::SaslClientConfig {
        allowed: Some(vec![mechanism]),
        ..sasl::SaslClientConfig::default()
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
    assert!(pair.is_online());
}

/// Every `<tag>text</tag>` (or `<tag attr='text'/>` when `end` is `'`) in
/// `xml`, in order.
fn all_between<'a>(xml: &'a str, start: &str, end: &str) -> Vec<&'a str> {
    xml.split(start)
        .skip(1)
        .map(|rest| &rest[..rest.find(end).expect("end marker")])
        .collect()
}

/// The XEP-0474 `h=` value for what `server_bytes` advertised, computed
/// here from the XEP's definition (not with the library's function).
fn expected_h(server_bytes: &str, digest: fn(&[u8]) -> Vec<u8>) -> String {
    // The classic and the SASL2 feature list the same mechanisms; the
    // hash covers one list.
    let classic = all_between(
        server_bytes,
        "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>",
        "</mechanisms>",
    );
    let block = classic.first().expect("a <mechanisms/> feature");
    let mut mechanisms = all_between(block, "<mechanism>", "</mechanism>");
    let mut types = all_between(server_bytes, "<channel-binding type='", "'");
    mechanisms.sort_unstable();
    types.sort_unstable();
    let mut s = mechanisms.join("\u{1e}");
    if server_bytes.contains("<sasl-channel-binding") {
        s.push('\u{1f}');
        s.push_str(&types.join("\u{1e}"));
    }
    base64::engine::general_purpose::STANDARD.encode(digest(s.as_bytes()))
}

/// The attributes of the server-first-message in `server_bytes`.
fn server_first(server_bytes: &str) -> String {
    // SASL2 (XEP-0388) when both sides have it, else RFC 6120 SASL.
    let challenge = [
        "<challenge xmlns='urn:xmpp:sasl:2'>",
        "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>",
    ]
    .into_iter()
    .find_map(|start| {
        all_between(server_bytes, start, "</challenge>")
            .first()
            .copied()
    });
    let data = base64::engine::general_purpose::STANDARD
        .decode(challenge.expect("a SCRAM challenge"))
        .expect("base64");
    String::from_utf8(data).expect("UTF-8")
}

#[test]
fn server_first_message_carries_the_xep0474_hash_of_the_offer() {
    let sha256: fn(&[u8]) -> Vec<u8> = |d| sha2::Sha256::digest(d).to_vec();
    let sha512: fn(&[u8]) -> Vec<u8> = |d| sha2::Sha512::digest(d).to_vec();
    for (mechanism, digest) in [
        (Mechanism::ScramSha256, sha256),
        (Mechanism::ScramSha256Plus, sha256),
        (Mechanism::ScramSha512Plus, sha512),
    ] {
        for sasl2 in [true, false] {
            let mut client = Pair::client_config("juliet", "secret").with_sasl(only(mechanism));
            if !sasl2 {
                client = client.without_sasl2();
            }
            let mut pair = Pair::new(client, Pair::server_config());
            pair.tls = xmpp_tests::fake_tls();
            pair.run();
            assert!(pair.is_online(), "{mechanism}: {:?}", pair.client_events);
            let text = String::from_utf8_lossy(&pair.server_bytes);
            assert_eq!(
                text.contains("<challenge xmlns='urn:xmpp:sasl:2'>"),
                sasl2,
                "{text}"
            );
            assert!(text.contains("<sasl-channel-binding"), "{text}");
            let first = server_first(&text);
            let h = first
                .split(',')
                .find_map(|a| a.strip_prefix("h="))
                .unwrap_or_else(|| panic!("{mechanism}: no h= in {first}"));
            assert_eq!(h, expected_h(&text, digest), "{mechanism}: {first}");
        }
    }
}

/// Runs `pair` to the end with a man in the middle who rewrites every
/// piece of the server's output with `tamper` before the client reads it.
fn run_through_mitm(pair: &mut Pair, tamper: impl Fn(&str) -> String) {
    let now = pair.now;
    let (mut client_tls, mut server_tls, mut client_shut, mut server_shut) =
        (false, false, false, false);
    loop {
        let mut moved = false;
        while !client_tls && !client_shut {
            match pair.client.poll_transmit() {
                None => break,
                Some(Transmit::Data(d)) => {
                    let d = d.to_vec();
                    pair.client.consume_transmit(d.len());
                    let _ = pair.server.handle_input(now, &d);
                }
                Some(Transmit::StartTls) => client_tls = true,
                Some(Transmit::Shutdown) => {
                    client_shut = true;
                    pair.server.handle_eof(now);
                }
            }
            moved = true;
        }
        while !server_tls && !server_shut {
            match pair.server.poll_transmit() {
                None => break,
                Some(Transmit::Data(d)) => {
                    let d = String::from_utf8(d.to_vec()).expect("UTF-8");
                    pair.server.consume_transmit(d.len());
                    let _ = pair.client.handle_input(now, tamper(&d).as_bytes());
                }
                Some(Transmit::StartTls) => server_tls = true,
                Some(Transmit::Shutdown) => {
                    server_shut = true;
                    pair.client.handle_eof(now);
                }
            }
            moved = true;
        }
        if client_tls && server_tls {
            // The man in the middle relays TLS (he holds the certificate).
            (client_tls, server_tls) = (false, false);
            let _ = pair.server.handle_tls_established(now, pair.tls.clone());
            let _ = pair.client.handle_tls_established(now, pair.tls.clone());
            moved = true;
        }
        while let Some(e) = pair.client.poll_event() {
            pair.client_events.push(e);
            moved = true;
        }
        while let Some(e) = pair.server.poll_event() {
            moved = true;
            if pair.accounts.answer(&mut pair.server, now, &e) {
                continue;
            }
            if let ServerEvent::BindRequest { .. } = &e {
                pair.server.accept_bind(now).expect("bind was asked");
            }
            pair.server_events.push(e);
        }
        if !moved {
            return;
        }
    }
}

#[test]
fn a_tampered_offer_is_detected_through_the_xep0474_hash() {
    // Untouched, the relay is transparent.
    let mut pair = Pair::new(
        Pair::client_config("juliet", "secret"),
        Pair::server_config(),
    );
    run_through_mitm(&mut pair, str::to_owned);
    assert!(pair.is_online(), "{:?}", pair.client_events);

    fn strip_binding_types(s: &str) -> String {
        match s.find("<sasl-channel-binding") {
            Some(start) => {
                let end = s.find("</sasl-channel-binding>").expect("closed") + 23;
                format!("{}{}", &s[..start], &s[end..])
            }
            None => s.to_owned(),
        }
    }
    fn strip_best(s: &str) -> String {
        s.replace("<mechanism>SCRAM-SHA-512-PLUS</mechanism>", "")
    }
    let attacks = [
        // The client then does not bind (-PLUS without XEP-0440).
        (
            "XEP-0440 list stripped",
            strip_binding_types as fn(&str) -> String,
        ),
        // The client still binds, with a weaker hash.
        ("SCRAM-SHA-512-PLUS stripped", strip_best),
    ];
    for (attack, tamper) in attacks {
        let mut pair = Pair::new(
            Pair::client_config("juliet", "secret"),
            Pair::server_config(),
        );
        run_through_mitm(&mut pair, tamper);
        assert!(!pair.client.is_online(), "{attack}");
        assert_eq!(
            pair.client_closed(),
            Some(&CloseReason::Sasl(SaslError::DowngradeDetected)),
            "{attack}: {:?}",
            pair.client_events
        );
        assert!(
            !pair
                .server_events
                .iter()
                .any(|e| matches!(e, ServerEvent::Authenticated { .. })),
            "{attack}: the client gave up before proving anything"
        );
    }
}

#[test]
fn a_missing_xep0474_hash_fails_only_when_required() {
    let server = || {
        let sasl = sasl::SaslServerConfig {
            downgrade_protection: false,
            ..sasl::SaslServerConfig::default()
        };
        Pair::server_config().with_sasl(sasl)
    };
    let mut pair = Pair::new(Pair::client_config("juliet", "secret"), server());
    pair.run();
    assert!(pair.is_online(), "{:?}", pair.client_events);
    assert!(
        !server_first(&String::from_utf8_lossy(&pair.server_bytes)).contains(",h="),
        "the server was told not to send h="
    );

    let client = Pair::client_config("juliet", "secret").with_sasl(sasl::SaslClientConfig {
        require_downgrade_protection: true,
        ..sasl::SaslClientConfig::default()
    });
    let mut pair = Pair::new(client, server());
    pair.run();
    assert_eq!(
        pair.client_closed(),
        Some(&CloseReason::Sasl(SaslError::DowngradeProtectionMissing)),
        "{:?}",
        pair.client_events
    );
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
        assert_eq!(pair.server_closed(), Some(&CloseReason::Normal));
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
