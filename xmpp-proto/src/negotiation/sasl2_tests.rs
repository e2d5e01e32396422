use super::*;
use crate::negotiation::StreamFeatures;
use crate::stanza::DefinedCondition;

fn parse(xml: &str) -> Element {
    crate::xml::Element::read_from(xml.as_bytes()).expect("test XML parses")
}

#[test]
fn prosody_features_with_every_inline_extension_are_typed() {
    // The shape of what Prosody 0.12 with mod_sasl2, mod_sasl2_bind2,
    // mod_sasl2_sm and mod_sasl2_fast sends after STARTTLS.
    let features = parse(
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
         <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>\
         <authentication xmlns='urn:xmpp:sasl:2'><mechanism>SCRAM-SHA-1</mechanism>\
         <mechanism>PLAIN</mechanism><inline>\
         <bind xmlns='urn:xmpp:bind:0'><inline><feature var='urn:xmpp:carbons:2'/>\
         <feature var='urn:xmpp:sm:3'/></inline></bind><sm xmlns='urn:xmpp:sm:3'/>\
         <fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE</mechanism>\
         <mechanism>HT-SHA-256-EXPR</mechanism></fast></inline></authentication>\
         </stream:features>",
    );
    let features = StreamFeatures::from_element(&features).unwrap();
    let offer = features.sasl2.clone().expect("SASL2 offered");
    assert_eq!(offer.mechanisms, ["SCRAM-SHA-1", "PLAIN"]);
    assert_eq!(
        offer.bind2.as_deref(),
        Some(&["urn:xmpp:carbons:2".to_owned(), "urn:xmpp:sm:3".to_owned()][..])
    );
    assert!(offer.sm);
    assert_eq!(
        offer.fast.as_deref(),
        Some(&["HT-SHA-256-NONE".to_owned(), "HT-SHA-256-EXPR".to_owned()][..])
    );
    assert!(features.other.is_empty());
    // What we build reads back the same.
    let again = StreamFeatures::from_element(&features.to_element()).unwrap();
    assert_eq!(again, features);
}

#[test]
fn a_success_with_every_result_round_trips() {
    let success = Sasl2Success {
        additional_data: Some(b"v=signature".to_vec()),
        authorization_identifier: "juliet@example.com/balcony~x1".into(),
        resumed: Some(Nonza::Failed {
            h: Some(3),
            condition: Some(DefinedCondition::ItemNotFound),
        }),
        bound: Some(Bind2Result::Bound {
            sm: Some(Nonza::Enabled {
                id: Some("sm-1".into()),
                resume: true,
                max: Some(300),
                location: None,
            }),
            carbons: true,
        }),
        token: Some(FastToken {
            token: "secret-token:fast-1".into(),
            expiry: "2026-12-25T00:00:00Z".into(),
        }),
    };
    let el = Sasl2ServerMessage::Success(Box::new(success.clone())).to_element();
    assert_eq!(
        Sasl2ServerMessage::from_element(&el, 1024).unwrap(),
        Sasl2ServerMessage::Success(Box::new(success))
    );
    assert!(!format!("{:?}", el).is_empty());
}

#[test]
fn a_success_must_name_the_authorization_identifier() {
    let el = parse("<success xmlns='urn:xmpp:sasl:2'/>");
    assert_eq!(
        Sasl2ServerMessage::from_element(&el, 1024),
        Err(NegotiationError::MissingChild {
            element: "success",
            child: "authorization-identifier",
        })
    );
}

#[test]
fn failures_read_the_rfc6120_condition_and_sasl2_text() {
    let el = parse(
        "<failure xmlns='urn:xmpp:sasl:2'><credentials-expired \
         xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><text>token expired</text></failure>",
    );
    assert_eq!(
        Sasl2ServerMessage::from_element(&el, 1024).unwrap(),
        Sasl2ServerMessage::Failure {
            condition: FailureCondition::CredentialsExpired,
            text: Some("token expired".into()),
        }
    );
    // Prosody's error path puts an unqualified condition in the SASL2
    // namespace: still a failure, read as not-authorized.
    let el = parse("<failure xmlns='urn:xmpp:sasl:2'><malformed-request/></failure>");
    assert!(matches!(
        Sasl2ServerMessage::from_element(&el, 1024).unwrap(),
        Sasl2ServerMessage::Failure {
            condition: FailureCondition::NotAuthorized,
            ..
        }
    ));
}

#[test]
fn authenticate_with_fast_and_a_token_request_round_trips() {
    let mut auth = Authenticate::new("HT-SHA-256-NONE", Some(b"juliet\0proof".to_vec()));
    auth.user_agent = Some(UserAgent::new("agent-1").with_device("Phone"));
    auth.fast = Some(FastUse {
        count: Some(7),
        invalidate: true,
    });
    auth.request_token = Some("HT-SHA-256-NONE".into());
    auth.resume = Some(Nonza::Resume {
        h: 4,
        previd: "sm-1".into(),
    });
    let msg = Sasl2ClientMessage::Authenticate(Box::new(auth));
    assert_eq!(
        Sasl2ClientMessage::from_element(&msg.to_element(), 1024).unwrap(),
        msg
    );
}

#[test]
fn a_bad_authenticate_gets_the_sasl_failure_rfc6120_gives_auth() {
    let no_mechanism = parse("<authenticate xmlns='urn:xmpp:sasl:2'/>");
    let e = Sasl2ClientMessage::from_element(&no_mechanism, 1024).unwrap_err();
    assert_eq!(
        e.reply(),
        super::super::ErrorReply::SaslFailure(FailureCondition::InvalidMechanism)
    );
    let bad_base64 = parse(
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>\
         <initial-response>!!</initial-response></authenticate>",
    );
    let e = Sasl2ClientMessage::from_element(&bad_base64, 1024).unwrap_err();
    assert_eq!(
        e.reply(),
        super::super::ErrorReply::SaslFailure(FailureCondition::IncorrectEncoding)
    );
    let too_long = format!(
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>\
         <initial-response>{}</initial-response></authenticate>",
        "QUFB".repeat(100)
    );
    assert!(Sasl2ClientMessage::from_element(&parse(&too_long), 64).is_err());
}

#[test]
fn oversized_peer_texts_are_not_kept() {
    let long = "x".repeat(MAX_TEXT + 1);
    let el = parse(&format!(
        "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='PLAIN'>\
         <user-agent id='{long}'/><bind xmlns='urn:xmpp:bind:0'><tag>{long}</tag></bind>\
         </authenticate>"
    ));
    let Sasl2ClientMessage::Authenticate(auth) = Sasl2ClientMessage::from_element(&el, 64).unwrap()
    else {
        panic!()
    };
    assert_eq!(auth.user_agent, None);
    assert_eq!(auth.bind.map(|b| b.tag), Some(None));
}
