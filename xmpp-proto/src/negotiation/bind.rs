//! Resource binding (RFC 6120 §7): the bind IQ and its answer, both sides.

use super::NegotiationError;
use super::error::REQUEST_TYPE;
use crate::jid::{BareJid, FullJid, JidError};
use crate::stanza::{Iq, IqType, StanzaError};
use crate::xml::{Element, ns};

/// A request to bind a resource: the payload of the client's IQ set.
///
/// Client: [`to_iq`](Self::to_iq). Server: [`from_iq`](Self::from_iq),
/// then [`bind_result`] or an error reply.
///
/// ```
/// use xmpp_proto::jid::BareJid;
/// use xmpp_proto::negotiation::{BindRequest, BindResponse, bind_result};
/// use xmpp_proto::stanza::Iq;
///
/// // Client
/// let iq = BindRequest::new(Some("balcony")).to_iq("b1");
/// // Server
/// let request = BindRequest::from_iq(&iq)?;
/// let account = BareJid::new("juliet@example.com")?;
/// let jid = account.with_resource(request.resource.as_deref().unwrap_or("generated"))?;
/// let answer = Iq::from_element(bind_result(&iq, &jid)).unwrap();
/// // Client
/// assert_eq!(BindResponse::from_iq(&answer)?, BindResponse::Bound(jid));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindRequest {
    /// The resourcepart the client asks for; `None` lets the server pick
    /// one (RFC 6120 §7.6). Parsed requests hold it resourceprep'd.
    pub resource: Option<String>,
}

/// The server's answer to a bind request, as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindResponse {
    /// Bound to this full JID (RFC 6120 §7.6.1). It may differ from what
    /// was asked for: the server may change or override the resource.
    Bound(FullJid),
    /// The server refused, with its stanza error if it sent a readable one
    /// (RFC 6120 §7.6.2, §7.7: `bad-request`, `conflict`, `not-allowed`,
    /// `resource-constraint`).
    Refused(Option<StanzaError>),
}

impl BindRequest {
    /// A request for `resource`, or for a server-generated one.
    pub fn new(resource: Option<&str>) -> Self {
        BindRequest {
            resource: resource.map(str::to_owned),
        }
    }

    /// The IQ set to send, with this `id`.
    pub fn to_iq(&self, id: &str) -> Iq {
        let mut bind = Element::builder("bind", ns::BIND);
        if let Some(resource) = &self.resource {
            bind = bind.append(Element::builder("resource", ns::BIND).text(resource));
        }
        Iq::set(id, bind.build())
    }

    /// Reads a client's bind request.
    ///
    /// The resource is prepared with resourceprep; an empty `<resource/>`
    /// counts as none. Errors other than a foreign payload reply with
    /// the stanza error `bad-request` (RFC 6120 §7.7.2.1); see
    /// [`NegotiationError::reply`].
    pub fn from_iq(iq: &Iq) -> Result<Self, NegotiationError> {
        let bind = match iq.payload() {
            Some(p) if p.is("bind", ns::BIND) => p,
            Some(p) => return Err(unexpected(p.name(), p.ns())),
            None => return Err(unexpected("iq", iq.element().ns())),
        };
        if iq.kind() != IqType::Set {
            return Err(NegotiationError::WrongIqType {
                expected: REQUEST_TYPE,
                found: iq.kind().as_str(),
            });
        }
        let resource =
            match bind.child("resource", ns::BIND) {
                None => None,
                Some(r) if r.text().is_empty() => None,
                Some(r) => Some(prepare_resource(&r.text()).map_err(|error| {
                    NegotiationError::InvalidJid {
                        element: "resource",
                        error,
                    }
                })?),
            };
        Ok(BindRequest { resource })
    }
}

/// The server's `result` for a bind request: `jid` is the full JID bound.
pub fn bind_result(request: &Iq, jid: &FullJid) -> Element {
    let bind = Element::builder("bind", ns::BIND)
        .append(Element::builder("jid", ns::BIND).text(jid.as_str()))
        .build();
    request.make_result(Some(bind))
}

impl BindResponse {
    /// Reads the answer to our bind request (the caller has matched the
    /// `id`).
    ///
    /// A result without a valid full JID is an error: the client cannot
    /// go on without knowing its address.
    pub fn from_iq(iq: &Iq) -> Result<Self, NegotiationError> {
        match iq.kind() {
            IqType::Error => Ok(BindResponse::Refused(iq.error())),
            IqType::Result => {
                let jid = iq
                    .element()
                    .child("bind", ns::BIND)
                    .ok_or(NegotiationError::MissingChild {
                        element: "iq",
                        child: "bind",
                    })?
                    .child("jid", ns::BIND)
                    .ok_or(NegotiationError::MissingChild {
                        element: "bind",
                        child: "jid",
                    })?
                    .text();
                FullJid::new(jid.trim())
                    .map(BindResponse::Bound)
                    .map_err(|error| NegotiationError::InvalidJid {
                        element: "jid",
                        error,
                    })
            }
            other => Err(NegotiationError::WrongIqType {
                expected: "result or error",
                found: other.as_str(),
            }),
        }
    }
}

/// Resourceprep (RFC 7622 §3.4) through the JID module: joined to a fixed
/// bare JID, the text after the first `/` is the resourcepart whatever it
/// contains, so this prepares exactly what binding will use.
fn prepare_resource(resource: &str) -> Result<String, JidError> {
    let base = BareJid::new("resource.invalid")?;
    Ok(base.with_resource(resource)?.resourcepart().to_owned())
}

fn unexpected(name: &str, ns: &str) -> NegotiationError {
    NegotiationError::UnexpectedElement {
        expected: "a bind request",
        name: name.to_owned(),
        ns: ns.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::negotiation::ErrorReply;
    use crate::negotiation::test_support::parse;
    use crate::stanza::DefinedCondition;

    fn iq(xml: &str) -> Iq {
        Iq::from_element(parse(xml)).unwrap()
    }

    #[test]
    fn client_request_wire_form() {
        let el = BindRequest::new(Some("balcony")).to_iq("b1").into_element();
        assert_eq!(
            el.to_string(),
            "<iq xmlns='jabber:client' id='b1' type='set'>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>"
        );
        let el = BindRequest::new(None).to_iq("b2").into_element();
        assert_eq!(
            el.to_string(),
            "<iq xmlns='jabber:client' id='b2' type='set'>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
        );
    }

    #[test]
    fn server_reads_requests_and_prepares_the_resource() {
        let r = BindRequest::from_iq(&iq("<iq type='set' id='1'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>Bal cony/x@y</resource></bind></iq>"))
        .unwrap();
        assert_eq!(r.resource.as_deref(), Some("Bal cony/x@y"));
        // Resourceprep normalises compatibility characters (NFKC).
        let r = BindRequest::from_iq(&iq("<iq type='set' id='1'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>\u{fb01}le</resource></bind></iq>"))
        .unwrap();
        assert_eq!(r.resource.as_deref(), Some("file"));
        for empty in [
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>",
            "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource/></bind>",
        ] {
            let r = BindRequest::from_iq(&iq(&format!("<iq type='set' id='1'>{empty}</iq>")));
            assert_eq!(r, Ok(BindRequest { resource: None }));
        }
    }

    #[test]
    fn bad_requests_get_bad_request() {
        // A control character is prohibited by resourceprep.
        let err = BindRequest::from_iq(&iq("<iq type='set' id='1'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>a&#x7f;</resource></bind></iq>"))
        .unwrap_err();
        assert!(matches!(
            err,
            NegotiationError::InvalidJid {
                element: "resource",
                ..
            }
        ));
        assert_eq!(
            err.reply(),
            ErrorReply::Stanza(DefinedCondition::BadRequest)
        );

        let err = BindRequest::from_iq(&iq(
            "<iq type='get' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
        ))
        .unwrap_err();
        assert_eq!(
            err.reply(),
            ErrorReply::Stanza(DefinedCondition::BadRequest)
        );

        let long = "r".repeat(1024);
        let err = BindRequest::from_iq(&iq(&format!(
            "<iq type='set' id='1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
             <resource>{long}</resource></bind></iq>"
        )))
        .unwrap_err();
        assert_eq!(
            err.reply(),
            ErrorReply::Stanza(DefinedCondition::BadRequest)
        );

        let err = BindRequest::from_iq(&iq(
            "<iq type='set' id='1'><query xmlns='jabber:iq:roster'/></iq>",
        ))
        .unwrap_err();
        assert!(matches!(err, NegotiationError::UnexpectedElement { .. }));
    }

    #[test]
    fn client_reads_results_and_refusals() {
        let ok = iq(
            "<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
            <jid>juliet@example.com/balcony</jid></bind></iq>",
        );
        assert_eq!(
            BindResponse::from_iq(&ok),
            Ok(BindResponse::Bound(
                FullJid::new("juliet@example.com/balcony").unwrap()
            ))
        );
        let refused = iq("<iq type='error' id='b1'><error type='cancel'>\
            <conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
        match BindResponse::from_iq(&refused) {
            Ok(BindResponse::Refused(Some(e))) => {
                assert_eq!(e.condition, DefinedCondition::Conflict);
            }
            other => panic!("{other:?}"),
        }
        let unreadable = iq("<iq type='error' id='b1'/>");
        assert_eq!(
            BindResponse::from_iq(&unreadable),
            Ok(BindResponse::Refused(None))
        );
    }

    #[test]
    fn client_rejects_results_without_a_full_jid() {
        for (xml, expected) in [
            ("<iq type='result' id='b1'/>", "bind"),
            (
                "<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
                "jid",
            ),
        ] {
            match BindResponse::from_iq(&iq(xml)) {
                Err(NegotiationError::MissingChild { child, .. }) => assert_eq!(child, expected),
                other => panic!("{other:?}"),
            }
        }
        for bad in ["juliet@example.com", "", "@/x", "a@b/\u{7f}"] {
            let xml = format!(
                "<iq type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
                 <jid>{bad}</jid></bind></iq>"
            );
            let err = BindResponse::from_iq(&iq(&xml)).unwrap_err();
            assert!(
                matches!(err, NegotiationError::InvalidJid { element: "jid", .. }),
                "{bad}: {err}"
            );
            assert_eq!(
                err.reply(),
                ErrorReply::Stream(crate::stream_error::StreamErrorCondition::BadFormat)
            );
        }
        let set =
            iq("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        assert!(matches!(
            BindResponse::from_iq(&set),
            Err(NegotiationError::WrongIqType { found: "set", .. })
        ));
    }

    #[test]
    fn server_result_echoes_id_and_addresses() {
        let request = iq("<iq type='set' id='b9' from='juliet@example.com'>\
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
        let jid = FullJid::new("juliet@example.com/4db06f06").unwrap();
        let result = bind_result(&request, &jid);
        assert_eq!(
            result.to_string(),
            "<iq xmlns='jabber:client' to='juliet@example.com' id='b9' type='result'>\
             <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@example.com/4db06f06</jid></bind></iq>"
        );
    }
}
