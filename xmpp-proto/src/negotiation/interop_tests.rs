//! `<stream:features/>` as Prosody 0.12.3 and ejabberd 23.01 send them
//! (recorded with `scripts/interop/probe.py`),
//! in their order and in others, plus the hostile and unusual cases.

use super::test_support::parse;
use super::*;
use crate::sasl::{ScramHash, ServerOffer, downgrade_hash};
use crate::xml::{Element, Limits, StreamEvent, StreamReader, ns};

const PROSODY_PRE_TLS: &str = "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en' version='1.0' from='localhost' id='efc587c7-f921-4d4a-98f1-4443e67c4118' xmlns='jabber:client'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
const PROSODY_POST_TLS: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
const PROSODY_POST_SASL: &str = "<stream:features><sm xmlns='urn:xmpp:sm:2'><optional/></sm><sm xmlns='urn:xmpp:sm:3'><optional/></sm><ver xmlns='urn:xmpp:features:rosterver'/><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><c ver='j/Y94sSrQ04HC31Dsn52+Z4ESGQ=' xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://prosody.im'/><sub xmlns='urn:xmpp:features:pre-approval'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>";
const EJABBERD_PRE_TLS: &str = "<?xml version='1.0'?><stream:stream id='13884368390159913181' version='1.0' xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='localhost' xmlns='jabber:client'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
const EJABBERD_POST_TLS: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-512-PLUS</mechanism><mechanism>SCRAM-SHA-512</mechanism><mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
const EJABBERD_POST_SASL: &str = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><c ver='gXXcEiTKcJk8SNJ+sJ4RVkEkvo4=' node='http://www.process-one.net/en/ejabberd/' hash='sha-1' xmlns='http://jabber.org/protocol/caps'/><sm xmlns='urn:xmpp:sm:2'/><sm xmlns='urn:xmpp:sm:3'/><ver xmlns='urn:xmpp:features:rosterver'/><csi xmlns='urn:xmpp:csi:0'/></stream:features>";

/// The features element of a recording that starts with the stream header.
fn from_stream(doc: &str) -> Element {
    let mut r = StreamReader::new(Limits::default());
    let mut input = doc.as_bytes();
    assert!(matches!(
        r.read(&mut input),
        Ok(Some(StreamEvent::Header(_)))
    ));
    match r.read(&mut input) {
        Ok(Some(StreamEvent::Element(e))) => e,
        other => panic!("{other:?}"),
    }
}

fn features(el: &Element) -> StreamFeatures {
    StreamFeatures::from_element(el).unwrap()
}

/// The same features element with its children reordered.
fn reordered(el: &Element, order: &[usize]) -> Element {
    let kids: Vec<_> = el.children().collect();
    let mut b = Element::builder("features", ns::STREAM);
    for &i in order {
        b = b.append_ref(kids[i]);
    }
    b.build()
}

/// Orders worth trying: all rotations, their reversals, and a fixed
/// interleaving (all permutations of eight children would be 40320).
fn orders(n: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for r in 0..n {
        let rot: Vec<usize> = (0..n).map(|i| (i + r) % n).collect();
        out.push(rot.iter().rev().copied().collect());
        out.push(rot);
    }
    out.push((0..n).step_by(2).chain((1..n).step_by(2)).collect());
    out
}

/// Order-independent view: `sm` and `other` keep the received order by
/// design, so they are compared as sets.
fn normalized(mut f: StreamFeatures) -> (StreamFeatures, Vec<String>) {
    f.sm.sort();
    let mut other: Vec<String> = f.other.drain(..).map(|e| e.to_string()).collect();
    other.sort();
    (f, other)
}

fn assert_order_independent(el: &Element) {
    let expected = normalized(features(el));
    for order in orders(el.children().count()) {
        let got = normalized(features(&reordered(el, &order)));
        assert_eq!(got, expected, "order {order:?}");
    }
}

#[test]
fn prosody_and_ejabberd_before_tls_require_starttls_and_nothing_else() {
    for doc in [PROSODY_PRE_TLS, EJABBERD_PRE_TLS] {
        let f = features(&from_stream(doc));
        assert_eq!(
            f,
            StreamFeatures {
                starttls: Some(Requirement::Required),
                ..StreamFeatures::default()
            }
        );
        assert!(f.starttls_required());
        assert!(!f.is_empty());
    }
}

#[test]
fn prosody_after_tls_offers_plain_and_scram_sha_1() {
    let f = features(&parse(PROSODY_POST_TLS));
    assert_eq!(f.sasl, Some(ServerOffer::new(["PLAIN", "SCRAM-SHA-1"])));
    assert_eq!(f.starttls, None);
    assert!(!f.bind);
}

#[test]
fn ejabberd_after_tls_offers_its_mechanisms_in_its_order_without_xep_0440() {
    let f = features(&parse(EJABBERD_POST_TLS));
    let offer = f.sasl.unwrap();
    assert_eq!(
        offer.mechanisms,
        [
            "PLAIN",
            "SCRAM-SHA-512-PLUS",
            "SCRAM-SHA-512",
            "SCRAM-SHA-256-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-1",
        ]
    );
    assert_eq!(offer.channel_binding_types, None);
    assert!(offer.offers_plus());
}

#[test]
fn prosody_after_sasl() {
    let f = features(&parse(PROSODY_POST_SASL));
    assert_eq!(
        f,
        StreamFeatures {
            bind: true,
            session: Some(Requirement::Optional),
            sm: vec![SmVersion::V2, SmVersion::V3],
            roster_versioning: true,
            csi: true,
            pre_approval: true,
            caps: Some(Caps {
                node: "http://prosody.im".into(),
                ver: "j/Y94sSrQ04HC31Dsn52+Z4ESGQ=".into(),
                hash: "sha-1".into(),
            }),
            ..StreamFeatures::default()
        }
    );
    assert!(!f.session_required());
    assert_eq!(f.sm_best(), Some(SmVersion::V3));
}

#[test]
fn ejabberd_after_sasl() {
    let f = features(&parse(EJABBERD_POST_SASL));
    assert_eq!(
        f,
        StreamFeatures {
            bind: true,
            session: Some(Requirement::Optional),
            sm: vec![SmVersion::V2, SmVersion::V3],
            roster_versioning: true,
            csi: true,
            pre_approval: false,
            caps: Some(Caps {
                node: "http://www.process-one.net/en/ejabberd/".into(),
                ver: "gXXcEiTKcJk8SNJ+sJ4RVkEkvo4=".into(),
                hash: "sha-1".into(),
            }),
            ..StreamFeatures::default()
        }
    );
}

#[test]
fn every_recording_reads_the_same_in_any_order() {
    for xml in [
        PROSODY_POST_TLS,
        PROSODY_POST_SASL,
        EJABBERD_POST_TLS,
        EJABBERD_POST_SASL,
    ] {
        assert_order_independent(&parse(xml));
    }
    for doc in [PROSODY_PRE_TLS, EJABBERD_PRE_TLS] {
        assert_order_independent(&from_stream(doc));
    }
}

#[test]
fn every_recording_survives_a_build_and_reparse() {
    for xml in [
        PROSODY_POST_TLS,
        PROSODY_POST_SASL,
        EJABBERD_POST_TLS,
        EJABBERD_POST_SASL,
    ] {
        let f = features(&parse(xml));
        let mut wire = Vec::new();
        f.to_element().write_to(&mut wire).unwrap();
        let again = features(&parse(std::str::from_utf8(&wire).unwrap()));
        assert_eq!(again, f, "{xml}");
    }
}

#[test]
fn server_build_is_in_negotiation_order() {
    let f = StreamFeatures {
        starttls: Some(Requirement::Optional),
        sasl: Some(
            ServerOffer::new(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])
                .with_channel_binding_types(["tls-exporter"]),
        ),
        sasl2: None,
        bind: true,
        session: Some(Requirement::Required),
        sm: vec![SmVersion::V2, SmVersion::V3],
        roster_versioning: true,
        csi: true,
        pre_approval: true,
        caps: Some(Caps {
            node: "n".into(),
            ver: "v".into(),
            hash: "sha-1".into(),
        }),
        other: vec![Element::builder("x", "urn:example").build()],
    };
    assert_eq!(
        f.to_element().to_string(),
        "<features xmlns='http://etherx.jabber.org/streams'>\
         <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\
         <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
         <mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>SCRAM-SHA-256</mechanism></mechanisms>\
         <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'><channel-binding type='tls-exporter'/></sasl-channel-binding>\
         <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
         <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>\
         <sm xmlns='urn:xmpp:sm:2'/><sm xmlns='urn:xmpp:sm:3'/>\
         <ver xmlns='urn:xmpp:features:rosterver'/><csi xmlns='urn:xmpp:csi:0'/>\
         <sub xmlns='urn:xmpp:features:pre-approval'/>\
         <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/>\
         <x xmlns='urn:example'/></features>"
    );
    assert_eq!(features(&f.to_element()), f);
    assert!(f.session_required());
    assert!(!f.starttls_required());
}

#[test]
fn xep_0440_types_attach_to_the_offer_wherever_they_come() {
    let cb = "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>\
        <channel-binding type='tls-server-end-point'/><channel-binding type='tls-exporter'/>\
        <channel-binding/><other type='x'/></sasl-channel-binding>";
    let mechs = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms>";
    let expected = ServerOffer::new(["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"])
        .with_channel_binding_types(["tls-server-end-point", "tls-exporter"]);
    for xml in [format!("{cb}{mechs}"), format!("{mechs}{cb}")] {
        let f = features(&parse(&format!("<stream:features>{xml}</stream:features>")));
        let offer = f.sasl.unwrap();
        assert_eq!(offer, expected);
        // The XEP-0474 example of §6.3: what the client hashes is what the
        // server sent.
        assert_eq!(
            downgrade_hash(ScramHash::Sha1, &offer),
            "G6k/rBLDqgOhRRaCuuatSDFkJ08="
        );
        assert!(f.other.is_empty());
    }
    // Without mechanisms the types mean nothing; they are kept as unknown.
    let f = features(&parse(&format!("<stream:features>{cb}</stream:features>")));
    assert_eq!(f.sasl, None);
    assert_eq!(f.other.len(), 1);
}

#[test]
fn unknown_malformed_and_repeated_features_are_kept_aside() {
    let f = features(&parse(
        "<stream:features>\
         <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\
         <starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>\
         <bind xmlns='urn:example:not-bind'/>\
         <c xmlns='http://jabber.org/protocol/caps' node='n'/>\
         <sm xmlns='urn:xmpp:sm:3'/><sm xmlns='urn:xmpp:sm:3'/><sm xmlns='urn:xmpp:sm:4'/>\
         <register xmlns='http://jabber.org/features/iq-register'/>\
         <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>\
         </stream:features>",
    ));
    // The first STARTTLS counts.
    assert_eq!(f.starttls, Some(Requirement::Optional));
    assert!(!f.bind);
    assert_eq!(f.caps, None);
    assert_eq!(f.sm, [SmVersion::V3]);
    // RFC 3921 servers without <optional/> require the session.
    assert!(f.session_required());
    let other: Vec<_> = f.other.iter().map(|e| (e.name(), e.ns())).collect();
    assert_eq!(
        other,
        [
            ("starttls", ns::TLS),
            ("bind", "urn:example:not-bind"),
            ("c", ns::CAPS),
            ("sm", "urn:xmpp:sm:4"),
            ("register", "http://jabber.org/features/iq-register"),
        ]
    );
}

#[test]
fn mechanism_names_are_trimmed_and_foreign_children_ignored() {
    let f = features(&parse(
        "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
         <mechanism> PLAIN\n</mechanism><hostname>x</hostname>\
         <mechanism xmlns='urn:example'>EVIL</mechanism><mechanism/></mechanisms></stream:features>",
    ));
    assert_eq!(f.sasl.unwrap().mechanisms, ["PLAIN", ""]);
}

#[test]
fn empty_features_end_the_negotiation_and_other_elements_are_refused() {
    let f = features(&parse("<stream:features/>"));
    assert!(f.is_empty());
    let err =
        StreamFeatures::from_element(&parse("<features xmlns='jabber:client'/>")).unwrap_err();
    assert_eq!(
        err.reply(),
        ErrorReply::Stream(crate::stream_error::StreamErrorCondition::UnsupportedStanzaType)
    );
}
