//! Fuzzing the negotiation parsers: every element of an arbitrary stream
//! goes through every parser of [`crate::negotiation`].
//!
//! Besides "no panic": whatever a parser accepts, building it again and
//! parsing the result gives the same value (parse → build → parse is a
//! fixed point), so what a server builds is what a client reads.

use crate::negotiation::*;
use crate::roster::RosterQuery;
use crate::stanza::Iq;
use crate::xml::{Element, Limits, StreamEvent, StreamReader};

const HEADER: &[u8] = b"<stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/// A small SASL data limit, so the limit path is reached often.
const MAX_DATA: usize = 64;

/// Runs one fuzz case: `data` is the stream content after the header.
pub fn negotiation(data: &[u8]) {
    let input = [HEADER, data].concat();
    let limits = Limits {
        max_element_bytes: 8192,
        ..Limits::default()
    };
    let mut reader = StreamReader::new(limits);
    let mut rest = &input[..];
    while let Ok(Some(event)) = reader.read(&mut rest) {
        if let StreamEvent::Element(el) = event {
            every_parser(el);
        }
    }
}

fn every_parser(el: Element) {
    if let Ok(f) = StreamFeatures::from_element(&el) {
        assert_eq!(StreamFeatures::from_element(&f.to_element()), Ok(f));
    }
    if let Ok(m) = StartTls::from_element(&el) {
        assert_eq!(StartTls::from_element(&m.to_element()), Ok(m));
    }
    if let Ok(m) = SaslClientMessage::from_element(&el, MAX_DATA) {
        assert_eq!(
            SaslClientMessage::from_element(&m.to_element(), MAX_DATA),
            Ok(m)
        );
    }
    if let Ok(m) = SaslServerMessage::from_element(&el, MAX_DATA) {
        let again = SaslServerMessage::from_element(&m.to_element(), MAX_DATA);
        assert_eq!(again.map(forget_unrecognized), Ok(forget_unrecognized(m)));
    }
    if let Ok(m) = Sasl2ClientMessage::from_element(&el, MAX_DATA) {
        assert_eq!(
            Sasl2ClientMessage::from_element(&m.to_element(), MAX_DATA),
            Ok(m)
        );
    }
    if let Ok(m) = Sasl2ServerMessage::from_element(&el, MAX_DATA) {
        assert_eq!(
            Sasl2ServerMessage::from_element(&m.to_element(), MAX_DATA),
            Ok(m)
        );
    }
    if let Ok(q) = RosterQuery::from_element(el.as_ref()) {
        assert_eq!(RosterQuery::from_element(q.to_element().as_ref()), Ok(q));
    }
    let Ok(iq) = Iq::from_element(el) else {
        return;
    };
    let _ = is_ping(&iq);
    let _ = is_session_request(&iq);
    let _ = SessionResponse::from_iq(&iq);
    if let Ok(request) = BindRequest::from_iq(&iq) {
        assert_eq!(BindRequest::from_iq(&request.to_iq("x")), Ok(request));
    }
    if let Ok(BindResponse::Bound(jid)) = BindResponse::from_iq(&iq) {
        let result = bind_result(&iq, &jid);
        let result = Iq::from_element(result).expect("a bind result is an IQ");
        assert_eq!(BindResponse::from_iq(&result), Ok(BindResponse::Bound(jid)));
    }
}

/// The name of an unknown failure condition is not sent again: rebuilding
/// writes the substituted `not-authorized`.
fn forget_unrecognized(m: SaslServerMessage) -> SaslServerMessage {
    match m {
        SaslServerMessage::Failure(f) => SaslServerMessage::Failure(SaslFailure {
            unrecognized: None,
            ..f
        }),
        other => other,
    }
}
