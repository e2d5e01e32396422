use super::*;
use crate::xml::{Element, Limits, StreamEvent, StreamReader, ns};

fn parse(xml: &str) -> Element {
    let doc = format!(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>{xml}"
    );
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

#[test]
fn message_fields_and_unknown_children() {
    let el = parse(
        "<message from='a@b/c' to='d@e' id='1' type='chat' xml:lang='en'>\
         <body xml:lang='de'>Hallo</body><body>Hello</body><subject>s</subject>\
         <thread>t1</thread><active xmlns='http://jabber.org/protocol/chatstates'/>\
         <x xmlns='urn:unknown'><y/></x></message>",
    );
    let Ok(Stanza::Message(m)) = Stanza::from_element(el) else {
        panic!()
    };
    assert_eq!(m.kind(), MessageType::Chat);
    assert_eq!(
        (m.from(), m.to(), m.id(), m.lang()),
        (Some("a@b/c"), Some("d@e"), Some("1"), Some("en"))
    );
    assert_eq!(m.body().as_deref(), Some("Hello"));
    let from = m.from_jid().unwrap().unwrap();
    assert_eq!(from.domainpart(), "b");
    assert_eq!(from.resourcepart(), Some("c"));
    assert!(m.to_jid().unwrap().is_ok());
    let bodies: Vec<_> = m
        .bodies()
        .map(|(l, b)| (l.map(str::to_owned), b.into_owned()))
        .collect();
    assert_eq!(
        bodies,
        [(Some("de".into()), "Hallo".into()), (None, "Hello".into())]
    );
    assert_eq!(m.subject().as_deref(), Some("s"));
    assert_eq!(m.thread().as_deref(), Some("t1"));
    let payloads: Vec<_> = m.payloads().map(|p| p.ns().to_owned()).collect();
    assert_eq!(payloads, [ns::CHATSTATES, "urn:unknown"]);
    assert!(m.error().is_none());
}

#[test]
fn unknown_message_type_is_normal_but_unknown_presence_type_is_refused() {
    let Ok(Stanza::Message(m)) = Stanza::from_element(parse("<message type='bogus'/>")) else {
        panic!()
    };
    assert_eq!(m.kind(), MessageType::Normal);
    let err = Stanza::from_element(parse("<presence type='bogus'/>")).unwrap_err();
    assert_eq!(err.reason, InvalidStanza::BadType("bogus".into()));
}

#[test]
fn presence_fields() {
    let el = parse(
        "<presence><show>dnd</show><status>busy</status><priority>-5</priority>\
         <c xmlns='http://jabber.org/protocol/caps' node='n' ver='v' hash='sha-1'/></presence>",
    );
    let Ok(Stanza::Presence(p)) = Stanza::from_element(el) else {
        panic!()
    };
    assert_eq!(p.kind(), PresenceType::Available);
    assert_eq!(p.show(), Some(Show::Dnd));
    assert_eq!(p.status().as_deref(), Some("busy"));
    assert_eq!(p.priority(), -5);
    assert_eq!(p.payloads().count(), 1);
    let built = Presence::builder(PresenceType::Available)
        .show(Show::Dnd)
        .status("busy")
        .priority(-5)
        .build();
    assert_eq!(built.show(), Some(Show::Dnd));
    assert_eq!(built.priority(), -5);
}

#[test]
fn iq_rules_and_replies() {
    for (xml, reason) in [
        (
            "<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>",
            InvalidStanza::MissingId,
        ),
        (
            "<iq id='1' type='fetch'><a xmlns='x'/></iq>",
            InvalidStanza::BadType("fetch".into()),
        ),
        (
            "<iq id='1'><a xmlns='x'/></iq>",
            InvalidStanza::BadType("".into()),
        ),
        ("<iq id='1' type='get'/>", InvalidStanza::BadPayloadCount(0)),
        (
            "<iq id='1' type='set'><a xmlns='x'/><b xmlns='x'/></iq>",
            InvalidStanza::BadPayloadCount(2),
        ),
        ("<r xmlns='urn:xmpp:sm:3'/>", InvalidStanza::NotAStanza),
    ] {
        assert_eq!(
            Stanza::from_element(parse(xml)).unwrap_err().reason,
            reason,
            "{xml}"
        );
    }
    let el = parse("<iq from='a@b/c' to='b' id='p' type='get'><ping xmlns='urn:xmpp:ping'/></iq>");
    let Ok(Stanza::Iq(iq)) = Stanza::from_element(el) else {
        panic!()
    };
    assert!(iq.kind().is_request());
    assert!(iq.payload().unwrap().is("ping", ns::PING));
    let res = iq.make_result(None);
    assert_eq!(
        res.to_string(),
        "<iq xmlns='jabber:client' from='b' to='a@b/c' id='p' type='result'/>"
    );
    let err =
        iq.make_error(&StanzaError::new(DefinedCondition::ServiceUnavailable).with_text("no"));
    let Ok(Stanza::Iq(err_iq)) = Stanza::from_element(err) else {
        panic!()
    };
    assert_eq!(err_iq.kind(), IqType::Error);
    let e = err_iq.error().unwrap();
    assert_eq!(e.condition, DefinedCondition::ServiceUnavailable);
    assert_eq!(e.kind, ErrorType::Cancel);
    assert_eq!(e.text.as_deref(), Some("no"));
}

#[test]
fn every_stanza_error_condition_round_trips() {
    for &c in DefinedCondition::ALL {
        let mut e = StanzaError::new(c);
        e.by = Some("example.org".into());
        let el = e.to_element(ns::CLIENT);
        assert_eq!(StanzaError::from_ref(el.as_ref()).unwrap(), e);
    }
    assert_eq!(DefinedCondition::ALL.len(), 22);
    let mut e = StanzaError::new(DefinedCondition::Gone);
    e.condition_text = Some("xmpp:new@example.org".into());
    e.application = Some(Element::builder("too-many", "urn:example:app").build());
    e.lang = Some("en".into());
    e.text = Some("moved".into());
    assert_eq!(
        StanzaError::from_ref(e.to_element(ns::SERVER).as_ref()).unwrap(),
        e
    );
}

#[test]
fn builders_produce_typed_stanzas() {
    let m = Message::builder(MessageType::Chat)
        .to("juliet@example.com")
        .id("m1")
        .body("Art thou not Romeo?")
        .payload(Element::builder("request", ns::RECEIPTS))
        .build();
    assert_eq!(
        m.element().to_string(),
        "<message xmlns='jabber:client' to='juliet@example.com' id='m1' type='chat'>\
         <body>Art thou not Romeo?</body><request xmlns='urn:xmpp:receipts'/></message>"
    );
    let again = Message::from_element(m.element().clone()).unwrap();
    assert_eq!(again, m);
    let iq = Iq::get("q1", Element::builder("query", ns::ROSTER)).with_to("example.org");
    assert_eq!(iq.to(), Some("example.org"));
    assert_eq!(iq.id(), Some("q1"));
    assert!(iq.payload().unwrap().is("query", ns::ROSTER));
}

#[test]
fn stanzas_convert_into_elements_and_back() {
    let message = Message::builder(MessageType::Chat)
        .to("romeo@example.net")
        .body("hi")
        .build();
    // `.into()`: the stanza types' own `from()` is the `from` attribute.
    let stanza: Stanza = message.clone().into();
    let element: Element = stanza.into();
    let direct: Element = message.into();
    assert_eq!(element, direct);
    let parsed = Stanza::from_element(element).unwrap();
    assert!(matches!(parsed, Stanza::Message(m) if m.body().as_deref() == Some("hi")));
}
