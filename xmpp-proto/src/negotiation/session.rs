//! Legacy session establishment (RFC 3921 §3): an IQ set with an empty
//! `<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>`, answered with
//! an empty result. RFC 6121 dropped it; servers still advertise it as
//! `<optional/>`, and old ones require it.

use super::NegotiationError;
use crate::stanza::{Iq, IqType, StanzaError};
use crate::xml::{Element, ns};

/// The session IQ set to send, with this `id`.
///
/// ```
/// use xmpp_proto::negotiation::{is_session_request, session_request, SessionResponse};
/// use xmpp_proto::stanza::Iq;
///
/// let request = session_request("s1");
/// assert!(is_session_request(&request));
/// // The server answers with an empty result.
/// let answer = Iq::from_element(request.make_result(None)).unwrap();
/// assert_eq!(SessionResponse::from_iq(&answer)?, SessionResponse::Established);
/// # Ok::<(), xmpp_proto::negotiation::NegotiationError>(())
/// ```
pub fn session_request(id: &str) -> Iq {
    Iq::set(id, Element::builder("session", ns::SESSION).build())
}

/// Whether a received IQ is a session request (type `set`, payload
/// `<session/>`); the server answers it with `iq.make_result(None)`.
pub fn is_session_request(iq: &Iq) -> bool {
    iq.kind() == IqType::Set && iq.payload().is_some_and(|p| p.is("session", ns::SESSION))
}

/// The server's answer to a session request, as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionResponse {
    /// The session is established (an IQ result; any payload is ignored).
    Established,
    /// The server refused, with its stanza error if readable
    /// (RFC 3921 §3: `internal-server-error`, `forbidden`, `conflict`).
    Refused(Option<StanzaError>),
}

impl SessionResponse {
    /// Reads the answer to our session request (the caller has matched
    /// the `id`).
    pub fn from_iq(iq: &Iq) -> Result<Self, NegotiationError> {
        match iq.kind() {
            IqType::Result => Ok(SessionResponse::Established),
            IqType::Error => Ok(SessionResponse::Refused(iq.error())),
            other => Err(NegotiationError::WrongIqType {
                expected: "result or error",
                found: other.as_str(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::negotiation::test_support::parse;
    use crate::stanza::DefinedCondition;

    fn iq(xml: &str) -> Iq {
        Iq::from_element(parse(xml)).unwrap()
    }

    #[test]
    fn request_wire_form_and_recognition() {
        let r = session_request("s1");
        assert_eq!(
            r.element().to_string(),
            "<iq xmlns='jabber:client' id='s1' type='set'>\
             <session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
        );
        assert!(is_session_request(&iq(
            "<iq type='set' id='x'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
        )));
        assert!(!is_session_request(&iq(
            "<iq type='get' id='x'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
        )));
        assert!(!is_session_request(&iq(
            "<iq type='set' id='x'><session xmlns='urn:example'/></iq>"
        )));
    }

    #[test]
    fn answers() {
        assert_eq!(
            SessionResponse::from_iq(&iq("<iq type='result' id='s1'/>")),
            Ok(SessionResponse::Established)
        );
        match SessionResponse::from_iq(&iq("<iq type='error' id='s1'><error type='wait'>\
            <internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"))
        {
            Ok(SessionResponse::Refused(Some(e))) => {
                assert_eq!(e.condition, DefinedCondition::InternalServerError);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            SessionResponse::from_iq(&iq(
                "<iq type='get' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>"
            )),
            Err(NegotiationError::WrongIqType { found: "get", .. })
        ));
    }
}
