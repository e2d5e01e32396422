//! STARTTLS (RFC 6120 §5): `<starttls/>`, `<proceed/>`, `<failure/>`.

use super::NegotiationError;
use crate::xml::{Element, ElementRef, ns};

/// One STARTTLS element, in the `urn:ietf:params:xml:ns:xmpp-tls`
/// namespace.
///
/// The client sends [`Request`](Self::Request); the server answers
/// [`Proceed`](Self::Proceed) (the TLS handshake starts right after the
/// element, RFC 6120 §5.4.2.3) or [`Failure`](Self::Failure) (the server
/// closes the stream next, §5.4.2.2).
///
/// ```
/// use xmpp_proto::negotiation::StartTls;
///
/// let el = StartTls::Request.to_element();
/// assert_eq!(el.to_string(), "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
/// assert_eq!(StartTls::from_element(&el)?, StartTls::Request);
/// # Ok::<(), xmpp_proto::negotiation::NegotiationError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StartTls {
    /// `<starttls/>`: the client asks to upgrade.
    Request,
    /// `<proceed/>`: the server agrees.
    Proceed,
    /// `<failure/>`: the server cannot do TLS now.
    Failure,
}

impl StartTls {
    /// Classifies a received element.
    ///
    /// Children and text are ignored: RFC 6120 defines none for these
    /// elements (the `<required/>` inside the feature is not this element).
    pub fn from_element(el: &Element) -> Result<Self, NegotiationError> {
        Self::from_ref(el.as_ref())
    }

    /// Classifies a received element from a view.
    pub fn from_ref(el: ElementRef<'_>) -> Result<Self, NegotiationError> {
        match (el.ns(), el.name()) {
            (ns::TLS, "starttls") => Ok(StartTls::Request),
            (ns::TLS, "proceed") => Ok(StartTls::Proceed),
            (ns::TLS, "failure") => Ok(StartTls::Failure),
            (ns, name) => Err(NegotiationError::UnexpectedElement {
                expected: "a STARTTLS element",
                name: name.to_owned(),
                ns: ns.to_owned(),
            }),
        }
    }

    /// The local name of the element.
    pub fn name(self) -> &'static str {
        match self {
            StartTls::Request => "starttls",
            StartTls::Proceed => "proceed",
            StartTls::Failure => "failure",
        }
    }

    /// The element to send.
    pub fn to_element(self) -> Element {
        Element::builder(self.name(), ns::TLS).build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::negotiation::test_support::parse;

    #[test]
    fn every_element_round_trips() {
        for m in [StartTls::Request, StartTls::Proceed, StartTls::Failure] {
            assert_eq!(StartTls::from_element(&m.to_element()), Ok(m));
        }
    }

    #[test]
    fn wire_forms_with_prefixes_and_children_are_recognised() {
        let el = parse("<tls:proceed xmlns:tls='urn:ietf:params:xml:ns:xmpp-tls'/>");
        assert_eq!(StartTls::from_element(&el), Ok(StartTls::Proceed));
        let el = parse("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'><x/></failure>");
        assert_eq!(StartTls::from_element(&el), Ok(StartTls::Failure));
    }

    #[test]
    fn other_namespaces_and_names_are_refused() {
        // A SASL <failure/> is not a TLS one.
        let el = parse("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        let err = StartTls::from_element(&el).unwrap_err();
        assert!(matches!(err, NegotiationError::UnexpectedElement { .. }));
        let el = parse("<required xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        assert!(StartTls::from_element(&el).is_err());
    }
}
