use super::*;
use crate::negotiation::ErrorReply;
use crate::negotiation::test_support::parse;
use crate::stream_error::StreamErrorCondition;

const MAX: usize = DEFAULT_MAX_SASL_DATA;

fn client(xml: &str) -> Result<SaslClientMessage, NegotiationError> {
    SaslClientMessage::from_element(&parse(xml), MAX)
}

fn server(xml: &str) -> Result<SaslServerMessage, NegotiationError> {
    SaslServerMessage::from_element(&parse(xml), MAX)
}

#[test]
fn auth_distinguishes_absent_empty_and_present_initial_responses() {
    let auth = |body: &str| {
        client(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>{body}</auth>"
        ))
    };
    let expect = |initial: Option<&[u8]>| SaslClientMessage::Auth {
        mechanism: "SCRAM-SHA-1".into(),
        initial: initial.map(<[u8]>::to_vec),
    };
    assert_eq!(auth(""), Ok(expect(None)));
    assert_eq!(auth("="), Ok(expect(Some(b""))));
    assert_eq!(
        auth("biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM"),
        Ok(expect(Some(b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")))
    );
    // Pretty-printed by a peer: surrounding whitespace is tolerated.
    assert_eq!(auth("\n  AA==\n"), Ok(expect(Some(&[0]))));
}

#[test]
fn every_message_round_trips() {
    let client_msgs = [
        SaslClientMessage::Auth {
            mechanism: "ANONYMOUS".into(),
            initial: None,
        },
        SaslClientMessage::Auth {
            mechanism: "EXTERNAL".into(),
            initial: Some(Vec::new()),
        },
        SaslClientMessage::Auth {
            mechanism: "PLAIN".into(),
            initial: Some(b"\0u\0p".to_vec()),
        },
        SaslClientMessage::Response(Vec::new()),
        SaslClientMessage::Response(vec![0xff; 100]),
        SaslClientMessage::Abort,
    ];
    for m in client_msgs {
        let el = m.to_element();
        assert_eq!(SaslClientMessage::from_element(&el, MAX), Ok(m), "{el}");
    }
    let server_msgs = [
        SaslServerMessage::Challenge(Vec::new()),
        SaslServerMessage::Challenge(b"r=abc,s=QSXCR+Q6sek8bf92,i=4096".to_vec()),
        SaslServerMessage::Success(None),
        SaslServerMessage::Success(Some(Vec::new())),
        SaslServerMessage::Success(Some(b"v=xyz".to_vec())),
        SaslServerMessage::failure(FailureCondition::TemporaryAuthFailure),
        SaslServerMessage::Failure(SaslFailure {
            lang: Some("en".into()),
            ..SaslFailure::new(FailureCondition::AccountDisabled).with_text("Call 212-555-1212")
        }),
    ];
    for m in server_msgs {
        let el = m.to_element();
        assert_eq!(SaslServerMessage::from_element(&el, MAX), Ok(m), "{el}");
    }
}

#[test]
fn wire_forms_of_empty_data() {
    let s = |m: SaslServerMessage| m.to_element().to_string();
    assert_eq!(
        s(SaslServerMessage::Success(Some(Vec::new()))),
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</success>"
    );
    assert_eq!(
        s(SaslServerMessage::Success(None)),
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    );
    assert_eq!(
        s(SaslServerMessage::Challenge(Vec::new())),
        "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
    );
    let auth = SaslClientMessage::Auth {
        mechanism: "EXTERNAL".into(),
        initial: Some(Vec::new()),
    };
    assert_eq!(
        auth.to_element().to_string(),
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>"
    );
    // A received `=` in a challenge or response is empty data too.
    assert_eq!(
        server("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>=</challenge>"),
        Ok(SaslServerMessage::Challenge(Vec::new()))
    );
}

#[test]
fn bad_base64_is_incorrect_encoding_from_a_client_and_bad_format_from_a_server() {
    for body in ["!!!!", "AA=", "AA", "A===", "AB CD", "QQ=x", "=="] {
        let err = client(&format!(
            "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{body}</response>"
        ))
        .unwrap_err();
        assert_eq!(
            err,
            NegotiationError::InvalidBase64 {
                element: "response"
            },
            "{body}"
        );
        assert_eq!(
            err.reply(),
            ErrorReply::SaslFailure(FailureCondition::IncorrectEncoding)
        );
        let err = server(&format!(
            "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{body}</challenge>"
        ))
        .unwrap_err();
        assert_eq!(
            err.reply(),
            ErrorReply::Stream(StreamErrorCondition::BadFormat)
        );
    }
    // Non-canonical trailing bits ("QR==" decodes like "QQ==") are refused.
    assert!(server("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>QR==</success>").is_err());
}

#[test]
fn the_size_limit_is_exact_and_checked_before_decoding() {
    let el = |n: usize| SaslClientMessage::Response(vec![7; n]).to_element();
    for n in [1, 2, 3, 4, 29, 30, 31] {
        assert!(
            SaslClientMessage::from_element(&el(n), 30).is_ok() == (n <= 30),
            "{n}"
        );
    }
    match SaslClientMessage::from_element(&el(31), 30) {
        Err(
            e @ NegotiationError::DataTooLong {
                len: 31, max: 30, ..
            },
        ) => {
            assert_eq!(
                e.reply(),
                ErrorReply::SaslFailure(FailureCondition::MalformedRequest)
            );
        }
        other => panic!("{other:?}"),
    }
    // A huge payload of garbage is refused for its size, not decoded.
    let garbage = "!".repeat(100_000);
    let err = server(&format!(
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>{garbage}</success>"
    ))
    .unwrap_err();
    assert!(matches!(
        err,
        NegotiationError::DataTooLong {
            element: "success",
            ..
        }
    ));
    assert_eq!(
        err.reply(),
        ErrorReply::Stream(StreamErrorCondition::PolicyViolation)
    );
}

#[test]
fn auth_needs_a_well_formed_mechanism_name() {
    let err = client("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AA==</auth>").unwrap_err();
    assert_eq!(
        err,
        NegotiationError::MissingAttribute {
            element: "auth",
            attribute: "mechanism"
        }
    );
    assert_eq!(
        err.reply(),
        ErrorReply::SaslFailure(FailureCondition::InvalidMechanism)
    );
    for bad in [
        "",
        "plain",
        "SCRAM-SHA-1 ",
        "A234567890123456789012",
        "PLAIN\u{e9}",
    ] {
        let err = client(&format!(
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{bad}'/>"
        ))
        .unwrap_err();
        assert_eq!(err, NegotiationError::InvalidMechanismName(bad.into()));
        assert_eq!(
            err.reply(),
            ErrorReply::SaslFailure(FailureCondition::InvalidMechanism)
        );
    }
    // Unknown but well-formed names are the server's decision.
    assert!(
        client("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='X-OAUTH2'/>").is_ok()
    );
}

#[test]
fn failures_keep_unknown_conditions_as_not_authorized() {
    let f = |xml: &str| match server(xml) {
        Ok(SaslServerMessage::Failure(f)) => f,
        other => panic!("{other:?}"),
    };
    let known = f("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <text xml:lang='en'>Call 212-555-1212</text><account-disabled/></failure>");
    assert_eq!(known.condition, FailureCondition::AccountDisabled);
    assert_eq!(known.unrecognized, None);
    assert_eq!(known.text.as_deref(), Some("Call 212-555-1212"));
    assert_eq!(known.lang.as_deref(), Some("en"));

    let unknown = f("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><bad-protocol/></failure>");
    assert_eq!(unknown.condition, FailureCondition::NotAuthorized);
    assert_eq!(unknown.unrecognized.as_deref(), Some("bad-protocol"));

    let none = f("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    assert_eq!(none.condition, FailureCondition::NotAuthorized);
    assert_eq!(none.unrecognized.as_deref(), Some(""));

    // A condition in another namespace is not a SASL condition.
    let foreign = f("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <aborted xmlns='urn:example'/><temporary-auth-failure/></failure>");
    assert_eq!(foreign.condition, FailureCondition::TemporaryAuthFailure);
}

#[test]
fn elements_of_the_other_direction_or_namespace_are_unexpected() {
    for xml in [
        "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
        "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
        "<message/>",
    ] {
        let err = client(xml).unwrap_err();
        assert!(
            matches!(err, NegotiationError::UnexpectedElement { .. }),
            "{xml}"
        );
        assert_eq!(
            err.reply(),
            ErrorReply::Stream(StreamErrorCondition::UnsupportedStanzaType)
        );
    }
    for xml in [
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>",
        "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    ] {
        assert!(server(xml).is_err(), "{xml}");
    }
}
